//! The sans-IO state machine of one HTTP/1.x connection.
//!
//! Everything that decides how messages follow each other on a connection
//! lives here, and nothing else does: no sockets, no tasks, no clock (every
//! call that depends on time takes `now`). A driver feeds bytes in, takes
//! events and bytes out, and sleeps until [`Server::poll_timeout`].
//!
//! # The client role
//!
//! Requests are written whole, one after the other, as soon as they are made
//! (pipelining: no waiting for earlier responses). A FIFO of the requests in
//! flight frames each response by its request's method (RFC 9112 §6.3: HEAD,
//! CONNECT) and status (1xx, 204, 304). Interim 1xx responses are reported
//! and skipped; `101` to an upgrade request (or a 2xx to CONNECT) hands the
//! connection and the bytes read after the head to the caller. A body that
//! is empty, or length-framed and already received with its head, comes
//! whole with the head ([`Response::complete_body`]); any other comes in
//! `Data` events, then `End`. A response
//! with no request waiting is an error; after a response that closes the
//! connection, or any error, every request still waiting fails with a clear
//! error — never another request's response.
//!
//! # The server role
//!
//! ```text
//!  read side (requests, in arrival order)        write side (responses, same order)
//!
//!  ┌──────┐ head parsed  ┌──────┐ body ended       ┌──────────┐ start_response ┌──────┐
//!  │ Head │─────────────▶│ Body │────────┐         │ Awaiting │───────────────▶│ Body │
//!  └──────┘              └──────┘        │         └──────────┘                └──────┘
//!     ▲  └─(no body)─────────────────────┤              ▲     finish_response     │
//!     └──────────────────────────────────┘              └─────────────────────────┘
//!     │ close decided, error, or peer EOF                  (the oldest request only)
//!     ▼
//!  ┌──────┐
//!  │ Done │   nothing more is parsed; the connection closes once the
//!  └──────┘   responses owed are written
//! ```
//!
//! Rules (RFC 9112 §9.3 and the issue that asked for them):
//! - Requests are parsed ahead up to [`ServerConfig::pipeline_depth`] unanswered
//!   ones; a request's body must end (read, or drained up to
//!   [`ServerConfig::max_drain_bytes`]) before the next head is parsed, so the
//!   bytes of one message never become part of another.
//! - Responses go out strictly in request order: only the oldest unanswered
//!   request can be answered.
//! - The connection closes after a request that asks for it (`Connection:
//!   close`, or HTTP/1.0 without `keep-alive`) — later pipelined bytes are not
//!   parsed — after a response the application marks `Connection: close`,
//!   after a response without a known length on HTTP/1.0, after an error, and
//!   when an unread body cannot be drained.
//! - A `101` to a request that asked to upgrade, or a 2xx to CONNECT,
//!   hands the connection over ([`Server::is_upgraded`]) with the bytes
//!   already read; a request that closes, upgrades or connects is the last
//!   one parsed.
//! - `100 Continue` is sent the first time the application wants the body of
//!   a request that expects it (never to HTTP/1.0), and skipped if the final
//!   response starts first, if there is no body, or if the body came whole
//!   with the head (RFC 9110 §10.1.1 lets a server omit it in both cases).
//!   Such a body is handed over with the head ([`Request::complete_body`]);
//!   any other comes in `Data` events, then `End`.
//! - A malformed request is answered by the library (its status and
//!   `Connection: close`) once the responses owed before it are written.
//! - Timeouts: a head must arrive within [`ServerConfig::header_read_timeout`]
//!   of its first byte (slowloris; answered 408), and an idle keep-alive
//!   connection closes after [`ServerConfig::idle_timeout`].

mod client;
mod error;
mod request;
mod server;

use gruvi_body::ChunkedLimits;
use gruvi_wire::Limits;

/// Most bytes the read buffer may hold before the connection stops reading,
/// in either role. A head, or a chunked body's trailer section, must fit
/// whole — and each parser refuses one that fills its limit without ending,
/// so a reader stopped here always gets an answer. Body data is handed out
/// as it arrives, so while a body is read the bound only keeps a generous
/// read ahead.
fn read_bound(limits: &Limits, chunked: &ChunkedLimits, in_body: bool) -> usize {
    if in_body {
        (64 * 1024)
            .max(limits.max_head_bytes)
            .max(chunked.trailers.max_head_bytes)
    } else {
        limits.max_head_bytes
    }
}

pub use client::{
    Client, ClientConfig, ClientEvent, ClientExpired, ExchangeId, RequestBodyState, Response,
};
pub use error::{LocalError, PeerError, ResponseError};
pub use request::{FieldsIter, PreparedRequest, RequestFields};
pub use server::{Expired, Request, RequestId, Server, ServerConfig, ServerEvent};

/// What a message's body will be, as the caller sending it declares it:
/// the connection frames it from this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodySize {
    /// No bytes.
    Empty,
    /// Exactly this many bytes (Content-Length).
    Exact(u64),
    /// Unknown: chunked on HTTP/1.1; for a response on HTTP/1.0, until the
    /// close.
    Unknown,
}
