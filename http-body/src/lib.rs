//! HTTP/1.x message bodies: the codecs that frame them on the wire and the
//! types that carry them.
//!
//! - [`Decoder`] (receive side): Content-Length, chunked (strict RFC 9112
//!   §7.1, with extensions and trailers) and until-close bodies, fed from a
//!   [`bytes::BytesMut`] read buffer, yielding zero-copy [`Frame`]s. A decoder
//!   never takes a byte past the end of its body: the next pipelined message
//!   stays in the buffer.
//! - [`Incoming`] (receive side): the body as the application reads it — an
//!   `http_body::Body`, a `Stream`, and the seed's reader API — fed by the
//!   connection through a [`Sender`] with bounded buffering (backpressure).
//! - [`Trailers`]: received trailer fields, kept apart from the head.
//! - [`encode_text`]: text bodies encoded by the `charset` of their
//!   Content-Type, true ISO-8859-1 when none is given.
//!
//! The codecs are sans-IO: no tokio, no sockets, no clock.

#![deny(missing_docs)]

mod decode;
mod error;
mod incoming;
mod text;
mod trailers;

pub use decode::{ChunkedLimits, Decoder, Frame};
pub use error::{BodyError, BodyErrorKind};
pub use incoming::{DEFAULT_BODY_BUFFER, Incoming, ReaderGone, Sender};
pub use text::{CharsetError, encode_text, encode_with_charset};
pub use trailers::{FORBIDDEN_TRAILERS, Trailers, is_forbidden_trailer};
