//! The error type of the body codecs: what went wrong, and whose fault it was
//! (the peer's bytes, or the caller's use of an encoder).

use std::fmt;

use gruvi_wire::{EncodeError, WireError};

/// What went wrong with a body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyErrorKind {
    /// The input ended before the body did.
    Incomplete {
        /// Body bytes the framing promised, when known (Content-Length).
        expected: Option<u64>,
        /// Body bytes received.
        received: u64,
    },
    /// A chunk-size that is not `1*HEXDIG` (RFC 9112 §7.1).
    InvalidChunkSize,
    /// A chunk-size above `u64::MAX`: never truncated.
    ChunkSizeOverflow,
    /// A chunk extension that does not follow RFC 9112 §7.1.1.
    InvalidChunkExtension,
    /// Chunk extensions longer than the configured limit.
    ChunkExtensionTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A line of the chunked coding not ended by CRLF: bare LF, bare CR, or
    /// data where the CRLF after a chunk should be.
    MissingCrlf,
    /// The trailer section is malformed or too large (the wire error says how).
    InvalidTrailers(WireError),
    /// More bytes written than the declared Content-Length.
    LengthExceeded {
        /// The declared Content-Length.
        declared: u64,
        /// What the write would have brought the body to.
        attempted: u64,
    },
    /// The body ended with fewer bytes than the declared Content-Length.
    LengthShort {
        /// The declared Content-Length.
        declared: u64,
        /// Bytes written.
        written: u64,
    },
    /// Trailers asked for where they cannot be sent (HTTP/1.0, or a body
    /// with a known Content-Length): sent only with chunked encoding.
    TrailersNotAllowed,
    /// A trailer field whose name or value is invalid.
    InvalidTrailer(EncodeError),
    /// A field that must not be sent as a trailer (RFC 9110 §6.5.1; see
    /// [`crate::FORBIDDEN_TRAILERS`]).
    ForbiddenTrailer(String),
    /// Data written after the body was finished.
    AlreadyFinished,
    /// The connection ended (failed or closed) before the body was complete.
    Aborted,
    /// The peer sent no body bytes for longer than the connection allows.
    TimedOut,
    /// The body is larger than a limit set for it: the connection's maximum
    /// body size, or what a reader accepts ([`crate::Incoming::read_to_end_max`]).
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
}

/// A body that could not be decoded or encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyError {
    kind: BodyErrorKind,
}

impl BodyError {
    pub(crate) fn new(kind: BodyErrorKind) -> Self {
        BodyError { kind }
    }

    /// The error a connection layer reports when the connection ended
    /// before the body was complete.
    pub fn aborted() -> Self {
        BodyError::new(BodyErrorKind::Aborted)
    }

    /// The error a connection layer reports when the peer stopped sending
    /// the body.
    pub fn timed_out() -> Self {
        BodyError::new(BodyErrorKind::TimedOut)
    }

    /// Returns `true` if the peer stopped sending the body for too long.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, BodyErrorKind::TimedOut)
    }

    /// What went wrong.
    pub fn kind(&self) -> &BodyErrorKind {
        &self.kind
    }

    /// The peer sent bytes that are not a valid body (including ending it
    /// early): a server answers 400 and closes; a client fails the response.
    pub fn is_protocol(&self) -> bool {
        use BodyErrorKind::*;
        matches!(
            self.kind,
            Incomplete { .. }
                | InvalidChunkSize
                | ChunkSizeOverflow
                | InvalidChunkExtension
                | ChunkExtensionTooLong { .. }
                | MissingCrlf
                | InvalidTrailers(_)
                | Aborted
                | TimedOut
                | TooLarge { .. }
        )
    }

    /// The input ended before the body did.
    pub fn is_incomplete(&self) -> bool {
        matches!(self.kind, BodyErrorKind::Incomplete { .. })
    }

    /// The caller misused an encoder (wrong length, trailers where none can
    /// go, writing after the end).
    pub fn is_misuse(&self) -> bool {
        !self.is_protocol()
    }

    /// The status a server answers a protocol error with: 408 for a body
    /// that stopped arriving, 413 for one over its limit, 431 for a trailer
    /// section over its limits, else 400.
    pub fn status(&self) -> u16 {
        match &self.kind {
            BodyErrorKind::TimedOut => 408,
            BodyErrorKind::TooLarge { .. } => 413,
            BodyErrorKind::InvalidTrailers(wire) if wire.status() == 431 => 431,
            _ => 400,
        }
    }

    /// A body larger than `limit` bytes.
    pub fn too_large(limit: u64) -> Self {
        BodyError::new(BodyErrorKind::TooLarge { limit })
    }

    /// Returns `true` for a body over a size limit.
    pub fn is_too_large(&self) -> bool {
        matches!(self.kind, BodyErrorKind::TooLarge { .. })
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use BodyErrorKind::*;
        match &self.kind {
            Incomplete {
                expected: Some(expected),
                received,
            } => write!(
                f,
                "incomplete body: the input ended after {received} of {expected} bytes"
            ),
            Incomplete {
                expected: None,
                received,
            } => write!(
                f,
                "incomplete body: the input ended inside the chunked body after {received} bytes"
            ),
            InvalidChunkSize => f.write_str("invalid chunk size: hex digits expected"),
            ChunkSizeOverflow => f.write_str("chunk size does not fit in 64 bits"),
            InvalidChunkExtension => f.write_str("malformed chunk extension"),
            ChunkExtensionTooLong { limit } => {
                write!(f, "chunk extensions longer than the limit of {limit} bytes")
            }
            MissingCrlf => f.write_str("chunked body: CRLF expected"),
            InvalidTrailers(wire) => write!(f, "invalid trailer section: {wire}"),
            LengthExceeded {
                declared,
                attempted,
            } => write!(
                f,
                "body longer than its Content-Length: {attempted} bytes written, {declared} declared"
            ),
            LengthShort { declared, written } => write!(
                f,
                "body shorter than its Content-Length: {written} bytes written, {declared} declared"
            ),
            TrailersNotAllowed => f.write_str(
                "trailers need chunked encoding: not with HTTP/1.0 or a known Content-Length",
            ),
            InvalidTrailer(encode) => write!(f, "invalid trailer: {encode}"),
            ForbiddenTrailer(name) => write!(
                f,
                "{name:?} must not be sent as a trailer (it affects framing, routing or handling)"
            ),
            AlreadyFinished => f.write_str("the body was already finished"),
            Aborted => f.write_str("the connection ended before the body was complete"),
            TimedOut => f.write_str("timed out waiting for the rest of the body"),
            TooLarge { limit } => write!(f, "body larger than the limit of {limit} bytes"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BodyErrorKind::InvalidTrailers(wire) => Some(wire),
            BodyErrorKind::InvalidTrailer(encode) => Some(encode),
            _ => None,
        }
    }
}
