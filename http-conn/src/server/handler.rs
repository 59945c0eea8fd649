//! What runs behind a server connection ([`Handler`]) and how the
//! connection can end badly ([`ConnectionError`]).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use gruvi_body::{BoxError, Incoming};
use http_body::Body;
use pin_project::pin_project;

use crate::proto::PeerError;

/// The application behind a server connection: called once per request,
/// in arrival order, possibly before earlier responses are finished
/// (pipelining). Implemented for every `FnMut(Request<Incoming>) -> Future`
/// whose future gives a response.
///
/// A panic while the connection polls the future is that request's
/// failure, as an error is: the library answers `500` and the connection
/// goes on. A panic while it polls the response body cuts that response
/// short and closes the connection. (A panic in [`call`](Self::call)
/// itself is the caller's to catch: the connection does not wrap it.)
pub trait Handler {
    /// The response body.
    type Body: Body;
    /// The response when ready; an error if the application could not
    /// produce one (the library then answers `500`).
    type Future: Future<Output = Result<http::Response<Self::Body>, BoxError>>;

    /// Starts handling `request`.
    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future;

    /// The connection refused something its peer sent; it answers (or
    /// closes) on its own. Called once per error, before the answer is
    /// written: the place to count and log it. Does nothing by default.
    fn peer_error(&mut self, error: &PeerError) {
        let _ = error;
    }
}

impl<F, Fut, B> Handler for F
where
    F: FnMut(http::Request<Incoming>) -> Fut,
    Fut: Future<Output = http::Response<B>>,
    B: Body,
{
    type Body = B;
    type Future = Answered<Fut>;

    fn call(&mut self, request: http::Request<Incoming>) -> Answered<Fut> {
        Answered(self(request))
    }
}

/// The future of a handler function: its response, which cannot fail.
#[pin_project]
#[derive(Debug)]
pub struct Answered<F>(#[pin] F);

impl<F: Future<Output = http::Response<B>>, B> Future for Answered<F> {
    type Output = Result<http::Response<B>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().0.poll(cx).map(Ok)
    }
}

/// Why a server connection ended badly. Peer protocol errors are not among
/// them: those are answered (400, 408, 431, ...) and end the connection
/// normally.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The transport failed.
    Io(io::Error),
    /// A write made no progress within the write timeout.
    WriteTimedOut,
    /// A response body failed mid-way; the peer got a short (or
    /// unterminated) body and the connection was closed.
    ResponseBody(BoxError),
}

impl ConnectionError {
    /// Returns `true` for a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ConnectionError::WriteTimedOut)
    }

    /// Returns `true` for a transport failure.
    pub fn is_io(&self) -> bool {
        matches!(self, ConnectionError::Io(_))
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Io(e) => write!(f, "connection failed: {e}"),
            ConnectionError::WriteTimedOut => f.write_str("timed out writing to the peer"),
            ConnectionError::ResponseBody(e) => write!(f, "response body failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectionError::Io(e) => Some(e),
            ConnectionError::ResponseBody(e) => Some(&**e),
            ConnectionError::WriteTimedOut => None,
        }
    }
}
