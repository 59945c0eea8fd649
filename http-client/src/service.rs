//! [`HttpService`]: one connection as a `tower::Service`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use gruvi_body::{BoxError, Incoming, Outgoing};
use gruvi_conn::client::ResponseFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower_service::Service;

use crate::connect::{Connection, Connector, Target, open};
use crate::error::HttpError;

/// A `tower::Service<http::Request<B>>` over one connection, answering
/// with `http::Response<Incoming>`.
///
/// `poll_ready` admits one request at a time — the next once the previous
/// response's head has arrived — unless a pipeline depth is set with
/// [`pipeline_depth`](Self::pipeline_depth): then up to that many requests
/// are on the wire at once, written in call order. When the connection
/// fails, every call waiting gets the error. Clones share the connection
/// and its admission limit.
#[derive(Debug)]
pub struct HttpService {
    connection: Arc<Connection>,
    admit: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
}

impl Clone for HttpService {
    fn clone(&self) -> Self {
        HttpService {
            connection: Arc::clone(&self.connection),
            admit: self.admit.clone(),
            permit: None,
        }
    }
}

impl HttpService {
    /// Connects to `target` as `connector` says (timeout, settings, TLS).
    pub async fn connect<T>(target: T, connector: &Connector) -> Result<HttpService, HttpError>
    where
        T: TryInto<Target>,
        HttpError: From<T::Error>,
    {
        let connection = open(&target.try_into()?, connector).await?;
        Ok(HttpService {
            connection: Arc::new(connection),
            admit: PollSemaphore::new(Arc::new(Semaphore::new(1))),
            permit: None,
        })
    }

    /// Lets up to `depth` requests be outstanding at once (pipelining);
    /// replaces the admission limit shared with existing clones.
    pub fn pipeline_depth(mut self, depth: usize) -> Self {
        self.admit = PollSemaphore::new(Arc::new(Semaphore::new(depth.max(1))));
        self.permit = None;
        self
    }

    /// Returns `true` once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.connection.send.is_closed()
    }
}

impl<B> Service<http::Request<B>> for HttpService
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Incoming>;
    type Error = HttpError;
    type Future = HttpServiceFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), HttpError>> {
        if self.permit.is_none() {
            let permit = ready!(self.admit.poll_acquire(cx));
            self.permit = permit;
        }
        if self.connection.send.is_closed() {
            return Poll::Ready(Err(gruvi_conn::client::RequestError::Closed.into()));
        }
        Poll::Ready(Ok(()))
    }

    /// Sends `request`, unless its URI names another origin than the
    /// connection's (or a `Host` that disagrees with it): that request fails
    /// before anything is written, rather than reach the wrong server.
    fn call(&mut self, request: http::Request<B>) -> HttpServiceFuture {
        let permit = self.permit.take();
        if let Some(origin) = &self.connection.origin {
            let host = || {
                let headers = request.headers();
                (!headers.is_empty())
                    .then(|| headers.get(http::header::HOST))
                    .flatten()
                    .map(|h| h.as_bytes())
            };
            if let Err(error) = origin.admits(request.uri(), host) {
                return HttpServiceFuture {
                    state: Sent::Refused(Some(error)),
                };
            }
        }
        let request = request.map(Outgoing::from_body);
        HttpServiceFuture {
            state: Sent::Queued {
                response: self.connection.send.send(request),
                _permit: permit,
            },
        }
    }
}

/// The response to one [`HttpService`] call.
#[derive(Debug)]
pub struct HttpServiceFuture {
    state: Sent,
}

#[derive(Debug)]
enum Sent {
    Queued {
        response: ResponseFuture,
        /// Released with the response head: the next request is admitted.
        _permit: Option<OwnedSemaphorePermit>,
    },
    /// Refused before it was sent.
    Refused(Option<HttpError>),
}

impl Future for HttpServiceFuture {
    type Output = Result<http::Response<Incoming>, HttpError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            Sent::Queued { response, .. } => Pin::new(response).poll(cx).map_err(HttpError::from),
            Sent::Refused(error) => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| HttpError::misuse("polled after completion")))),
        }
    }
}
