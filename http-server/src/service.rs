//! A tower `Service` as the connection's [`Handler`]: each request gets the
//! [`RequestContext`] (unless the server was told not to), the service is
//! driven ready and called for it, and whatever goes wrong in the
//! application — an error, a panic — is handed to the connection as an
//! error, which answers `500` for that request only and logs it.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes};
use futures::FutureExt;
use futures::future::CatchUnwind;
use gruvi_body::{BoxError, Incoming};
use gruvi_conn::server::{Handler, PeerError};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;
use tower::ServiceExt;
use tower::util::Oneshot;
use tower_service::Service;

use crate::context::RequestContext;
use crate::server::Counters;

/// Serves one connection's requests with clones of the service.
#[derive(Debug)]
pub(crate) struct ServiceHandler<S> {
    service: S,
    /// The connection's context: in each request when `insert_context`,
    /// and in the log lines of protocol errors.
    context: RequestContext,
    insert_context: bool,
    counters: Arc<Counters>,
}

impl<S> ServiceHandler<S> {
    pub(crate) fn new(
        service: S,
        context: RequestContext,
        insert_context: bool,
        counters: Arc<Counters>,
    ) -> Self {
        ServiceHandler {
            service,
            context,
            insert_context,
            counters,
        }
    }
}

impl<S, B> Handler for ServiceHandler<S>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone,
    S::Error: Into<BoxError>,
    B: Body,
    B::Error: Into<BoxError>,
{
    type Body = ResponseBody<B>;
    type Future = HandleFuture<S>;

    fn call(&mut self, mut request: Request<Incoming>) -> HandleFuture<S> {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if self.insert_context {
            request.extensions_mut().insert(self.context.clone());
        }
        // A service ready now (most are: routers, `service_fn`s) is called
        // at once. One that is not gets a clone driven ready on its own
        // (tower's `oneshot`), so pipelined requests never wait on one
        // another's readiness; the waker asked for here is nobody's, as the
        // clone registers its own.
        // A panic in `poll_ready` or `call` is the request's, like one in
        // its future: it is raised again inside the `catch_unwind` below.
        let service = &mut self.service;
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut ready_now = Context::from_waker(Waker::noop());
            match service.poll_ready(&mut ready_now) {
                Poll::Ready(Ok(())) => Call::Called(service.call(request)),
                Poll::Ready(Err(error)) => Call::Failed(Some(error.into())),
                Poll::Pending => Call::Waiting(Box::pin(service.clone().oneshot(request))),
            }
        }))
        .unwrap_or_else(|panic| Call::Panicked(Some(panic)));
        HandleFuture {
            inner: AssertUnwindSafe(call).catch_unwind(),
        }
    }

    fn peer_error(&mut self, error: &PeerError) {
        self.counters
            .protocol_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(peer = %self.context.remote_addr(), reason = %error, "protocol error");
    }
}

/// The response of the application, or a `500` in its place.
#[pin_project]
pub(crate) struct HandleFuture<S: Service<Request<Incoming>>> {
    #[pin]
    inner: CatchUnwind<AssertUnwindSafe<Call<S>>>,
}

/// The service's answer to one request.
#[pin_project(project = CallProj)]
pub(crate) enum Call<S: Service<Request<Incoming>>> {
    /// The service was ready and is computing the response.
    Called(#[pin] S::Future),
    /// A clone waits to be ready, then is called (boxed: it holds the
    /// request, and this path is the rare one).
    Waiting(Pin<Box<Oneshot<S, Request<Incoming>>>>),
    /// The service failed when asked whether it was ready.
    Failed(Option<BoxError>),
    /// Asking or calling the service panicked.
    Panicked(Option<Box<dyn Any + Send>>),
}

impl<S> Future for Call<S>
where
    S: Service<Request<Incoming>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            CallProj::Called(future) => future.poll(cx).map_err(Into::into),
            CallProj::Waiting(oneshot) => oneshot.as_mut().poll(cx).map_err(Into::into),
            // Polled again after its error: still an error, of nobody's
            // making (the connection never does this).
            CallProj::Failed(error) => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
            CallProj::Panicked(panic) => match panic.take() {
                Some(panic) => std::panic::resume_unwind(panic),
                None => Poll::Pending,
            },
        }
    }
}

impl<S, B> Future for HandleFuture<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    /// The application's response, or why there is none (the connection
    /// answers `500` for it and logs the reason).
    type Output = Result<Response<ResponseBody<B>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().inner.poll(cx)) {
            Ok(Ok(response)) => Ok(response.map(|body| ResponseBody { body })),
            Ok(Err(error)) => Err(error),
            Err(panic) => {
                Err(format!("the application panicked: {}", panic_message(&*panic)).into())
            }
        })
    }
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}

/// The application's body, with a panic while polling it turned into a
/// body error (the response is cut short and the connection closes).
#[pin_project]
#[derive(Debug)]
pub(crate) struct ResponseBody<B> {
    #[pin]
    body: B,
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let body = self.project().body;
        // A panic mid-body cannot become a 500 (the head is out): it fails
        // this response — the peer sees it cut short — and the connection
        // closes; nothing else is lost.
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| body.poll_frame(cx)));
        let frame = match polled {
            Ok(polled) => ready!(polled),
            Err(panic) => {
                let message = panic_message(&*panic).to_owned();
                tracing::error!(panic = message, "a response body panicked");
                return Poll::Ready(Some(Err(
                    format!("the response body panicked: {message}").into()
                )));
            }
        };
        match frame {
            None => Poll::Ready(None),
            Some(Err(error)) => Poll::Ready(Some(Err(error.into()))),
            // Zero-copy for `Bytes` data (what nearly every body has).
            Some(Ok(frame)) => Poll::Ready(Some(Ok(
                frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
            ))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
