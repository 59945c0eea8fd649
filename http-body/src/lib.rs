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
//!   `http_body::Body`, a `Stream`, and a file-like reader API — fed by the
//!   connection through a [`Sender`] with bounded buffering (backpressure).
//! - [`Outgoing`] (send side): a body from bytes, text, a stream, any
//!   `http_body::Body`, or written by hand with a [`BodyWriter`].
//! - [`Trailers`]: received trailer fields, kept apart from the head.
//! - [`encode_text`]: text bodies encoded by the `charset` of their
//!   Content-Type, true ISO-8859-1 when none is given.
//!
//! The codecs are sans-IO: no tokio, no sockets, no clock.
//!
//! Use this crate to frame bodies over a transport of your own, or to
//! build and read bodies for the layers above; `gruvi-wire` below it only
//! says *how* a body is framed, and `gruvi-conn` above it runs whole
//! connections.
//!
//! ```
//! use bytes::{Buf, Bytes, BytesMut};
//! use gruvi_body::{ChunkedLimits, Decoder, Encoder, Frame};
//!
//! // Encode a chunked body with a trailer...
//! let mut encoder = Encoder::chunked();
//! let mut wire = BytesMut::new();
//! for data in ["Hello, ", "World!"] {
//!     let encoded = encoder.encode(Bytes::from(data))?;
//!     wire.extend_from_slice(&encoded.clone().copy_to_bytes(encoded.remaining()));
//! }
//! let mut trailers = http::HeaderMap::new();
//! trailers.insert("x-checksum", "42".parse().unwrap());
//! let end = encoder.finish(Some(&trailers))?;
//! wire.extend_from_slice(&end.clone().copy_to_bytes(end.remaining()));
//! // ...with the next message right behind it.
//! wire.extend_from_slice(b"GET /next HTTP/1.1\r\n");
//!
//! // Decode it back: data without copying, then the trailers, and not a
//! // byte past the body.
//! let mut decoder = Decoder::chunked(ChunkedLimits::default());
//! let mut body = Vec::new();
//! loop {
//!     match decoder.decode(&mut wire)? {
//!         Some(Frame::Data(data)) => body.extend_from_slice(&data),
//!         Some(Frame::End(trailers)) => {
//!             assert_eq!(trailers.get("X-Checksum").map(|v| &v[..]), Some(&b"42"[..]));
//!             break;
//!         }
//!         None => unreachable!("the whole body is in the buffer"),
//!     }
//! }
//! assert_eq!(body, b"Hello, World!");
//! assert_eq!(&wire[..], b"GET /next HTTP/1.1\r\n");
//! # Ok::<(), gruvi_body::BodyError>(())
//! ```

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
