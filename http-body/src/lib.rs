//! HTTP/1.x message bodies: the codecs that frame them on the wire and the
//! types that carry them.
//!
//! - [`Decoder`] (receive side): Content-Length, chunked (strict RFC 9112
//!   §7.1, with extensions and trailers) and until-close bodies, fed from a
//!   [`bytes::BytesMut`] read buffer, yielding zero-copy [`Frame`]s. A decoder
//!   never takes a byte past the end of its body: the next pipelined message
//!   stays in the buffer.
//! - [`Encoder`] (send side): Content-Length, chunked (with trailers) and
//!   until-close framing; payload bytes are never copied ([`EncodedBuf`] is
//!   a `Buf` ready for vectored writes).
//! - [`Incoming`] (receive side): the body as the application reads it — an
//!   `http_body::Body`, a `Stream`, and the seed's reader API — fed by the
//!   connection through a [`Sender`] with bounded buffering (backpressure).
//! - [`Outgoing`] (send side): a body from bytes, text, a stream, any
//!   `http_body::Body`, or written by hand with a [`BodyWriter`].
//! - [`Trailers`]: received trailer fields, kept apart from the head.
//! - [`encode_text`]: text bodies encoded by the `charset` of their
//!   Content-Type, true ISO-8859-1 when none is given.
//!
//! The codecs are sans-IO: no tokio, no sockets, no clock.

#![deny(missing_docs)]

mod decode;
mod encode;
mod error;
mod incoming;
mod outgoing;
mod text;
mod trailers;

pub use decode::{ChunkedLimits, Decoder, Frame};
pub use encode::{EncodedBuf, Encoder};
pub use error::{BodyError, BodyErrorKind};
pub use incoming::{DEFAULT_BODY_BUFFER, Incoming, ReaderGone, Sender};
pub use outgoing::{BodyWriter, BoxError, Outgoing};
pub use text::{CharsetError, encode_text, encode_with_charset};
pub use trailers::{FORBIDDEN_TRAILERS, Trailers, is_forbidden_trailer};
