//! The two kinds of error of a connection, split the same way in both
//! roles: what the caller did wrong ([`LocalError`], either role: the call
//! is refused, nothing is written, the connection goes on) and what the
//! peer did wrong — a client's request ([`PeerError`]: the server answers
//! with the error's status, then closes) or a server's response
//! ([`ResponseError`]: every request waiting fails, the connection ends).

use std::fmt;

use gruvi_body::BodyError;
use gruvi_wire::{EncodeError, WireError};

use super::server::RequestId;

/// A call the connection refuses: the caller misused the API, or asked to
/// send something that cannot be sent. Nothing was written for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalError {
    /// Only the oldest unanswered request can be answered, once.
    NotCurrent(RequestId),
    /// Data or the end of a response that was not started.
    NotStarted(RequestId),
    /// A field, status, method or target that cannot be sent.
    Encode(EncodeError),
    /// The body does not fit its framing (length, trailers).
    Body(BodyError),
    /// A Content-Length that disagrees with the body's exact size, or is
    /// not a plain decimal.
    ContentLengthMismatch {
        /// The Content-Length given, as text.
        declared: String,
        /// The body's exact size, when known.
        body: Option<u64>,
    },
    /// An interim (1xx) status where a final one is needed, or `101`
    /// without an upgrade request.
    InvalidStatus(u16),
    /// A body of unknown size on HTTP/1.0, which has no chunked encoding.
    UnknownSizeOnHttp10,
    /// The previous request's body is not finished (requests go out whole,
    /// one after the other), or no body is being sent.
    BodyInProgress,
    /// The connection is closed or closing: no more requests.
    Closed,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::NotCurrent(id) => write!(
                f,
                "request {id:?} is not the oldest unanswered one: responses go in request order"
            ),
            LocalError::NotStarted(id) => write!(f, "the response to {id:?} was not started"),
            LocalError::Encode(e) => write!(f, "cannot be sent: {e}"),
            LocalError::Body(e) => write!(f, "invalid body: {e}"),
            LocalError::ContentLengthMismatch {
                declared,
                body: Some(body),
            } => write!(
                f,
                "Content-Length {declared} disagrees with the body's size of {body} bytes"
            ),
            LocalError::ContentLengthMismatch {
                declared,
                body: None,
            } => write!(f, "Content-Length {declared:?} is not a valid length"),
            LocalError::InvalidStatus(s) => write!(f, "status {s} cannot be used here"),
            LocalError::UnknownSizeOnHttp10 => f.write_str("body size unknown for HTTP/1.0"),
            LocalError::BodyInProgress => f.write_str("a request body is being sent (or none is)"),
            LocalError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for LocalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LocalError::Encode(e) => Some(e),
            LocalError::Body(e) => Some(e),
            _ => None,
        }
    }
}

/// Something the peer sent (or failed to send in time) that breaks the
/// protocol. A server answers it with [`status`](Self::status) when it
/// still can, then closes; the application never sees the request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// A malformed head.
    Head(WireError),
    /// A request head that did not arrive within the header-read timeout.
    HeadTimedOut,
    /// A body that is malformed, cut short, too large or stopped arriving.
    Body(BodyError),
    /// A request whose declared Content-Length is over the connection's
    /// maximum body size: refused before any of it is read.
    ContentTooLarge {
        /// The Content-Length declared.
        declared: u64,
        /// The maximum.
        limit: u64,
    },
    /// A request the `http` types cannot carry (a method or target they
    /// refuse).
    Unrepresentable,
}

impl PeerError {
    /// The status a server answers with: the head's (400, 414, 431, 501,
    /// 505), 408 for a head or body too slow, 413 for a body too large, 400
    /// for anything else.
    pub fn status(&self) -> u16 {
        match self {
            PeerError::Head(e) => e.status(),
            PeerError::HeadTimedOut => 408,
            PeerError::Body(e) => e.status(),
            PeerError::ContentTooLarge { .. } => 413,
            PeerError::Unrepresentable => 400,
        }
    }
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Head(e) => write!(f, "malformed request: {e}"),
            PeerError::HeadTimedOut => f.write_str("request head not received in time"),
            PeerError::Body(e) => write!(f, "request body failed: {e}"),
            PeerError::ContentTooLarge { declared, limit } => write!(
                f,
                "request body too large: Content-Length {declared} is over the limit of {limit} bytes"
            ),
            PeerError::Unrepresentable => {
                f.write_str("malformed request: a method or target the http types refuse")
            }
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Head(e) => Some(e),
            PeerError::Body(e) => Some(e),
            _ => None,
        }
    }
}

/// What a server sent (or failed to send in time) that breaks the protocol,
/// as the client role sees it. The connection ends: the request it is
/// about, and every one behind it, fails.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// A malformed response head.
    Head(WireError),
    /// A malformed, truncated or stalled response body.
    Body(BodyError),
    /// A response arrived with no request waiting for it.
    UnsolicitedResponse,
    /// The server closed the connection before responding.
    ClosedBeforeResponse,
    /// `101 Switching Protocols` to a request that did not ask to upgrade:
    /// what follows is not HTTP.
    UnexpectedSwitch,
    /// More interim (1xx) responses to one request than the connection
    /// accepts.
    TooManyInterim {
        /// The most accepted.
        limit: usize,
    },
    /// The response head did not arrive within the response timeout.
    TimedOut,
    /// A response head the `http` types cannot carry.
    Unrepresentable,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::Head(e) => write!(f, "malformed response: {e}"),
            ResponseError::Body(e) => write!(f, "malformed response body: {e}"),
            ResponseError::UnsolicitedResponse => {
                f.write_str("response received with no request outstanding")
            }
            ResponseError::ClosedBeforeResponse => f.write_str("connection closed before response"),
            ResponseError::UnexpectedSwitch => {
                f.write_str("101 Switching Protocols to a request that did not ask to upgrade")
            }
            ResponseError::TooManyInterim { limit } => write!(
                f,
                "more than {limit} interim (1xx) responses to one request"
            ),
            ResponseError::TimedOut => f.write_str("timed out waiting for the response"),
            ResponseError::Unrepresentable => {
                f.write_str("malformed response: not representable as an http::Response")
            }
        }
    }
}

impl std::error::Error for ResponseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResponseError::Head(e) => Some(e),
            ResponseError::Body(e) => Some(e),
            _ => None,
        }
    }
}
