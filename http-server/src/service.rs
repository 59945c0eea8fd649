//! A tower `Service` as the connection's [`Handler`]: each request gets the
//! [`RequestContext`] (unless the server was told not to), the service is
//! driven ready and called for it, and whatever goes wrong in the
//! application — an error, a panic — reaches the connection as an error or
//! a panic of the request's future, which it answers with `500` for that
//! request only and logs.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};

use gruvi_body::{BoxError, Incoming};
use gruvi_conn::server::{Handler, PeerError};
use http::{Request, Response};
use http_body::Body;
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
    type Body = B;
    type Future = Call<S>;

    fn call(&mut self, mut request: Request<Incoming>) -> Call<S> {
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
        // its future: it is raised again when the future is polled, where
        // the connection catches it.
        let service = &mut self.service;
        // The closure takes the request by reference and moves it out only
        // to hand it over: captured by value, it would be copied into the
        // closure and again out of it (a few hundred bytes, every request).
        let mut request = std::mem::ManuallyDrop::new(request);
        let mut taken = false;
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let mut ready_now = Context::from_waker(Waker::noop());
            let ready = service.poll_ready(&mut ready_now);
            taken = true;
            // SAFETY: taken once, here; `taken` keeps it from being dropped
            // again below.
            let request = unsafe { std::mem::ManuallyDrop::take(&mut request) };
            match ready {
                Poll::Ready(Ok(())) => Call::Called(service.call(request)),
                Poll::Ready(Err(error)) => Call::Failed(Some(error.into())),
                Poll::Pending => Call::Waiting(Box::pin(service.clone().oneshot(request))),
            }
        }))
        .unwrap_or_else(|panic| Call::Panicked(Some(panic)));
        if !taken {
            // SAFETY: `poll_ready` panicked before the request was taken.
            unsafe { std::mem::ManuallyDrop::drop(&mut request) };
        }
        call
    }

    fn peer_error(&mut self, error: &PeerError) {
        self.counters
            .protocol_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(peer = %self.context.remote_addr(), reason = %error, "protocol error");
    }
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

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};
    use std::net::SocketAddr;

    use gruvi_body::Outgoing;

    use super::*;
    use crate::context::Address;

    /// Rides in a request's extensions: its `Arc` counts the request alive.
    #[derive(Clone)]
    struct Alive {
        _count: Arc<()>,
    }

    /// A service that panics where it is told to.
    #[derive(Clone)]
    struct Panics {
        in_poll_ready: bool,
        in_call: bool,
    }

    impl Service<Request<Incoming>> for Panics {
        type Response = Response<Outgoing>;
        type Error = BoxError;
        type Future = Ready<Result<Response<Outgoing>, BoxError>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            assert!(
                !self.in_poll_ready,
                "poll_ready panicked (expected by this test)"
            );
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<Incoming>) -> Self::Future {
            assert!(!self.in_call, "call panicked (expected by this test)");
            ready(Ok(Response::new(Outgoing::empty())))
        }
    }

    /// However `poll_ready` or `call` ends, the request handed over is
    /// dropped exactly once (it is moved in without a copy the compiler
    /// would otherwise make, which is what this guards).
    #[test]
    fn a_request_is_dropped_once_whether_or_not_the_service_panics() {
        let address = Address::Tcp(SocketAddr::from(([127, 0, 0, 1], 1)));
        for (in_poll_ready, in_call) in [(true, false), (false, true), (false, false)] {
            let context = RequestContext::new(address.clone(), address.clone(), "t".into(), false);
            let service = Panics {
                in_poll_ready,
                in_call,
            };
            let mut handler = ServiceHandler::new(service, context, false, Arc::default());
            let alive = Arc::new(());
            let mut request = Request::new(Incoming::empty());
            request.extensions_mut().insert(Alive {
                _count: Arc::clone(&alive),
            });
            let call = handler.call(request);
            let panicked = matches!(call, Call::Panicked(Some(_)));
            assert_eq!(panicked, in_poll_ready || in_call);
            drop(call);
            assert_eq!(Arc::strong_count(&alive), 1, "{in_poll_ready} {in_call}");
        }
    }
}
