//! The two kinds of error of a connection, the same in both roles: what the
//! caller did wrong ([`LocalError`]: the call is refused, the connection
//! goes on) and what the peer did wrong ([`PeerError`]: the connection
//! ends, a server answering with the error's status first).

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
