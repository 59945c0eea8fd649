//! [`HttpError`]: every way a client call can fail, sorted by whose fault
//! it is.

use std::fmt;
use std::io;
use std::sync::Arc;

use gruvi_body::{BodyError, CharsetError};
use gruvi_conn::client::RequestError;
use gruvi_wire::{EncodeError, UrlError};

/// Why a client call failed. The predicates sort it: the server broke the
/// protocol ([`is_protocol`](Self::is_protocol)), the caller misused the API
/// or gave an invalid request ([`is_misuse`](Self::is_misuse)), a timeout
/// ([`is_timeout`](Self::is_timeout)), or the transport failed
/// ([`is_io`](Self::is_io)).
#[derive(Clone, Debug)]
pub struct HttpError {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    Request(RequestError),
    Body(BodyError),
    Timeout(&'static str),
    Misuse(String),
    Io(&'static str, Arc<io::Error>),
}

impl HttpError {
    pub(crate) fn misuse(message: impl Into<String>) -> Self {
        HttpError {
            kind: Kind::Misuse(message.into()),
        }
    }

    pub(crate) fn timeout(waiting_for: &'static str) -> Self {
        HttpError {
            kind: Kind::Timeout(waiting_for),
        }
    }

    pub(crate) fn io(doing: &'static str, error: io::Error) -> Self {
        HttpError {
            kind: Kind::Io(doing, Arc::new(error)),
        }
    }

    /// Returns `true` if the server sent something that breaks HTTP: a
    /// malformed head or body, a response nobody asked for, a connection
    /// closed before the response.
    pub fn is_protocol(&self) -> bool {
        match &self.kind {
            Kind::Request(e) => e.is_protocol(),
            Kind::Body(e) => e.is_protocol() || e.is_incomplete(),
            _ => false,
        }
    }

    /// Returns `true` if the caller is at fault: an invalid URL or field, a
    /// hop-by-hop field, text its charset cannot encode, a body of unknown
    /// size on HTTP/1.0, trailers without chunked encoding, `getresponse`
    /// with a body unread or nothing outstanding.
    pub fn is_misuse(&self) -> bool {
        match &self.kind {
            Kind::Misuse(_) => true,
            Kind::Request(e) => e.is_misuse(),
            Kind::Body(e) => e.is_misuse(),
            _ => false,
        }
    }

    /// Returns `true` for a timeout (connect, write, or a wait for the
    /// response).
    pub fn is_timeout(&self) -> bool {
        match &self.kind {
            Kind::Timeout(_) => true,
            Kind::Request(e) => e.is_timeout(),
            Kind::Body(e) => e.is_timeout(),
            _ => false,
        }
    }

    /// Returns `true` if the request got no answer because its connection
    /// closed or failed before the response began (a server closing an
    /// idle connection, or answering one request per connection while
    /// more were pipelined): an idempotent request without a body may be
    /// sent again on a new connection (RFC 9112 §9.3.2). The pooled
    /// [`Client`](crate::Client) does so once by itself.
    pub fn is_unanswered(&self) -> bool {
        matches!(&self.kind, Kind::Request(e) if e.is_unanswered())
    }

    /// Returns `true` if the transport failed or is closed.
    pub fn is_io(&self) -> bool {
        match &self.kind {
            Kind::Io(..) => true,
            Kind::Request(e) => e.is_io(),
            _ => false,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Request(e) => fmt::Display::fmt(e, f),
            Kind::Body(e) => fmt::Display::fmt(e, f),
            Kind::Timeout(what) => write!(f, "timed out waiting for {what}"),
            Kind::Misuse(message) => f.write_str(message),
            Kind::Io(doing, e) => write!(f, "{doing} failed: {e}"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Request(e) => Some(e),
            Kind::Body(e) => Some(e),
            Kind::Io(_, e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<RequestError> for HttpError {
    fn from(error: RequestError) -> Self {
        HttpError {
            kind: Kind::Request(error),
        }
    }
}

impl From<BodyError> for HttpError {
    fn from(error: BodyError) -> Self {
        HttpError {
            kind: Kind::Body(error),
        }
    }
}

/// For conversions that cannot fail (a `Target` given as itself).
impl From<std::convert::Infallible> for HttpError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<UrlError> for HttpError {
    fn from(error: UrlError) -> Self {
        HttpError::misuse(format!("invalid URL: {error}"))
    }
}

impl From<EncodeError> for HttpError {
    fn from(error: EncodeError) -> Self {
        HttpError::misuse(format!("invalid request: {error}"))
    }
}

impl From<CharsetError> for HttpError {
    fn from(error: CharsetError) -> Self {
        HttpError::misuse(format!("cannot encode the text body: {error}"))
    }
}
