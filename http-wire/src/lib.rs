//! Sans-IO HTTP/1.0 and HTTP/1.1 heads: strict, incremental, zero-copy.
//!
//! This crate owns everything about a message head and nothing about IO: it
//! parses request and response heads out of a byte buffer, decides how the
//! body that follows is framed, reads the connection semantics, and writes
//! heads into a buffer. It never allocates while parsing a head of up to
//! [`INLINE_FIELDS`] fields, never copies the bytes it parses, and never panics
//! on any input.
//!
//! ```
//! use gruvi_wire::{parse_request, Limits, Status, Version};
//!
//! let buf = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
//! let Status::Complete(head, consumed) = parse_request(buf, &Limits::default())? else {
//!     unreachable!("the head is all there");
//! };
//! assert_eq!(consumed, buf.len());
//! assert_eq!(head.method().of(buf), b"GET");
//! assert_eq!(head.target().of(buf), b"/index.html");
//! assert_eq!(head.version(), Version::Http11);
//! let names: Vec<&[u8]> = head.fields().iter().map(|f| f.name(buf)).collect();
//! assert_eq!(names, [&b"Host"[..], b"Accept"]);
//! # Ok::<(), gruvi_wire::WireError>(())
//! ```
//!
//! Layers above (`gruvi-body`, `gruvi-conn`) take the head, freeze the buffer
//! into [`bytes::Bytes`] and slice fields out of it without copying.

#![deny(missing_docs)]

mod connection;
mod date;
mod encode;
mod error;
mod framing;
mod head;
mod list;
mod parse;
mod scan;
mod uri;

pub use connection::{expects_continue, is_upgrade_request, wants_keep_alive, ConnectionOptions};
pub use date::{DateCache, DATE_VALUE_LEN};
pub use encode::{
    check_application_field, is_hop_by_hop, EncodeError, HeadText, HeadWriter, HOP_BY_HOP_FIELDS,
};
pub use error::{ErrorKind, WireError};
pub use framing::{framing, request_framing, response_framing, BodyFraming, Framing, Message};
pub use head::{
    Field, Fields, INLINE_FIELDS, RequestHead, ResponseHead, Span, TargetForm, Version,
};
pub use list::{list_contains, split_list, trim_ows, ListElements};
pub use parse::{
    parse_request, parse_response, Limits, RequestParser, ResponseParser, Status,
};
