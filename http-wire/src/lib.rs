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
mod content_type;
mod date;
mod encode;
mod error;
mod framing;
mod head;
mod headers;
mod list;
mod parse;
mod scan;
mod te;
mod uri;

pub use connection::{
    ConnectionOptions, exchange_keeps_alive, expects_continue, is_continue_expectation,
    is_upgrade_request, wants_keep_alive,
};
pub use content_type::{ContentType, parse_content_type};
pub use date::{DATE_VALUE_LEN, DateCache};
pub use encode::{
    CheckedField, EncodeError, HOP_BY_HOP_FIELDS, HeadText, HeadWriter, check_application_field,
    check_field, is_hop_by_hop, is_te_trailers, latin1_text,
};
pub use error::{ErrorKind, WireError};
pub use framing::{
    BodyFraming, Framing, Message, ResponseContent, framing, parse_content_length, request_framing,
    response_content, response_framing, send_framing,
};
pub use head::{
    Field, Fields, INLINE_FIELDS, RequestHead, ResponseHead, Span, TargetForm, Version,
};
pub use headers::{get_all, get_header, remove_headers};
pub use list::{ListElements, list_contains, split_list, trim_ows};
pub use parse::{
    Limits, RequestParser, ResponseParser, Status, TrailerParser, parse_request, parse_response,
};
pub use scan::is_tchar;
pub use te::{TeCoding, parse_te, parse_trailer, te_accepts_trailers};
pub use uri::{Url, UrlError, parse_authority_form, parse_origin_form, parse_url};
