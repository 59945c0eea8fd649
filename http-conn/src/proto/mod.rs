//! The sans-IO state machine of one HTTP/1.x connection, in both roles.
//!
//! Everything that decides how messages follow each other on a connection
//! lives here, and nothing else does: no sockets, no tasks, no clock (every
//! call that depends on time takes `now`). A driver does the same small
//! things with either role: it reads the socket into `read_buf()` while
//! `wants_read()`, takes events from `poll_event(now)`, writes what
//! `write_buf()` holds, and sleeps until `poll_timeout()`, then calls
//! `handle_timeout(now)`. It keeps no copy of the machine's queues or
//! flags: what it must act on comes as an event or a getter.
//!
//! # One connection's life
//!
//! ```text
//!   open ──(a request or response that closes; an error; shutdown; a timer)──▶ last exchange
//!    │                                                                            │ its response written
//!    │ 101 / 2xx to CONNECT written                                               ▼
//!    ▼                                                                          closing ──flushed──▶ closed
//!  switching ──the request's own body read (or drained)──▶ switched (handed over)
//! ```
//!
//! One place writes each step: [`Server`]'s `end_after` (the response to
//! this request is the last) and `end_now` (close once flushed); the
//! client's `closing` flag, set by the request or response that ends it.
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
//!     │ the last exchange, an error, peer EOF               (the oldest request only;
//!     ▼                                                     a library answer when due)
//!  ┌──────┐
//!  │ Done │   nothing more is parsed; the connection closes once the
//!  └──────┘   responses owed are written
//! ```
//!
//! - Requests are parsed ahead up to [`ServerConfig::pipeline_depth`]
//!   unanswered ones — none while the peer leaves more than
//!   [`ServerConfig::write_buffer`] bytes unread; a request's body must end
//!   (read, or drained up to [`ServerConfig::max_drain_bytes`]) before the
//!   next head is parsed, so the bytes of one message never become part of
//!   another.
//! - Responses go out strictly in request order: only the oldest unanswered
//!   request can be answered.
//! - The library answers, itself and in order, every request the
//!   application will not: a malformed head (its status), a head too slow
//!   (408), a declared body over [`ServerConfig::max_body_bytes`] (413, no
//!   `100 Continue`), a body that turns out malformed, too large or too
//!   slow when no byte of its response was written (400, 413, 408), a
//!   response the application did not start in time (503) — each with
//!   `Connection: close` — and, keeping the connection, a `500` for an
//!   application that failed ([`Server::application_failed`]). The
//!   requests from the first of these on are the application's no more
//!   ([`Server::cancelled_from`]): a driver drops their handlers.
//! - The connection ends after a request that asks for it (`Connection:
//!   close`, HTTP/1.0 without `keep-alive`, an upgrade or CONNECT not
//!   switched), a response the application marks `Connection: close`, a
//!   response without a known length on HTTP/1.0, a skipped `100 Continue`
//!   whose body never came, a body that cannot be drained, an error — the
//!   decision for an exchange is RFC 9112 §9.3, `exchange_keeps_alive`.
//! - A `101` to a request that asked to upgrade, or a 2xx to CONNECT, hands
//!   the connection over ([`Server::is_upgraded`]) once the request's own
//!   body is read, with the bytes read after it.
//! - `100 Continue` is sent the first time the application wants the body
//!   of a request that expects it, once that request's turn has come, and
//!   skipped if the final response starts first, if there is no body, or if
//!   the body came whole with the head (RFC 9110 §10.1.1 lets a server omit
//!   it in both cases). Such a body is handed over with the head
//!   ([`Request::complete_body`]); any other comes in `Data` events, then
//!   `End`.
//! - Timers, in one table: a head within
//!   [`ServerConfig::header_read_timeout`] of its first byte (and a new
//!   connection's first request within it of the connection's start), an
//!   idle keep-alive connection for [`ServerConfig::idle_timeout`], a body's
//!   bytes within [`ServerConfig::body_read_timeout`] of each other (and
//!   the whole body within [`ServerConfig::body_deadline`]), a response
//!   started within [`ServerConfig::response_timeout`].
//!
//! # The client role
//!
//! ```text
//!  requests (written in call order)                  responses (read in the same order)
//!
//!  PreparedRequest ──send_prepared──▶ head written ┐        ┌──────┐ head ┌──────┐ end ┌──────┐
//!   (checked, in the caller's task)   body held for │───────▶│ Head │─────▶│ Body │────▶│ next │
//!                                     100, or sent  ┘        └──────┘      └──────┘     └──────┘
//!                                                        1xx: counted, skipped; 101 / 2xx to
//!                                                        CONNECT: handed over
//! ```
//!
//! - A request is decided once, before it reaches the connection
//!   ([`PreparedRequest`]): its target form, `Host` (the target URI's
//!   authority), framing fields, Content-Length agreement, `Expect`, the
//!   HTTP/1.0 rules, and whether it is the connection's last.
//! - Requests are written whole, one after the other, as soon as they are
//!   made (pipelining: no waiting for earlier responses). A FIFO of the
//!   requests in flight frames each response by its request's method and
//!   its status (RFC 9112 §6.3, the same `response_content` rule a server
//!   sends by).
//! - A body with `Expect: 100-continue` is held
//!   ([`Client::request_body`]) until `100 Continue`, its timer
//!   ([`ClientConfig::expect_continue_timeout`]), or a final response —
//!   then it is never sent, and the connection not reused.
//! - A body that is empty, or length-framed and already received with its
//!   head, comes whole with the head ([`Response::complete_body`]); any
//!   other comes in `Data` events, then `End`. A body the caller dropped is
//!   drained up to [`ClientConfig::max_drain_bytes`], then the connection
//!   closes.
//! - Timers: a response head within [`ClientConfig::response_timeout`] of
//!   its request being written whole (or of its turn), body bytes within
//!   [`ClientConfig::body_read_timeout`] of each other; at most
//!   [`ClientConfig::max_interim_responses`] 1xx per request.
//! - A response with no request waiting is an error; after a response that
//!   closes the connection, or any error, every request still waiting fails
//!   with a clear error — never another request's response.
//! - What a pool needs is cheap to ask: [`Client::can_send`],
//!   [`Client::is_closing`], [`Client::in_flight`], [`Client::idle_since`]
//!   (the driver mirrors them where a pool's handles read them).
//!
//! # Errors
//!
//! The same split in both roles: [`LocalError`] — the caller asked for
//! something that cannot be sent, nothing was written, the connection goes
//! on — and the peer's fault, [`PeerError`] (a request; answered with its
//! status) or [`ResponseError`] (a response; the connection ends).

mod client;
mod error;
mod received;
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

impl BodySize {
    /// The size of `body`, as its size hint says: empty once it says it has
    /// ended, exact when its hint is.
    pub fn of(body: &impl http_body::Body) -> BodySize {
        if body.is_end_stream() {
            return BodySize::Empty;
        }
        match body.size_hint().exact() {
            Some(n) => BodySize::Exact(n),
            None => BodySize::Unknown,
        }
    }
}
