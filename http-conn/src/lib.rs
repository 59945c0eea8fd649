//! One HTTP/1.x connection, in either role.
//!
//! - [`proto`]: the sans-IO state machine of a connection — every rule of
//!   the message cycle in one place, time passed in, no IO. It decides
//!   framing, keep-alive, pipelining order, `100 Continue`, timeouts, the
//!   library's own answers and when to close, in both roles.
//! - [`server`]: the tokio driver of a server connection — reads, feeds
//!   `proto`, runs the application's [`Handler`](server::Handler) for each
//!   request, writes the responses in batches.
//! - [`client`]: the tokio driver of a client connection — a cloneable
//!   [`SendRequest`](client::SendRequest) queue in front, requests pipelined
//!   in call order, responses matched back to their callers.
//! - [`upgrade`]: the transport handed over after `101` or CONNECT.
//! - [`WriteBuf`]: the outgoing bytes of a connection, batched: heads and
//!   small pieces copied into one buffer, large payloads queued without
//!   copying, ready for one vectored write.
//! - [`ReceivedHead`]: a message's head as received (field case and order),
//!   in the extensions of the `http` requests and responses handed out.
//!
//! The drivers own only IO, tasks, the application's futures and waking;
//! they never read a header or choose a status (a `tidy` test keeps it so).
//!
//! Use this crate to run HTTP/1.x over a transport of your own (any tokio
//! byte stream) without a server's listeners or a client's pool — those are
//! `gruvi-server` and `gruvi-client`, above it — or, with [`proto`] alone,
//! to drive connections from an event loop of your own.
//!
//! ```
//! use gruvi_body::{Incoming, Outgoing};
//! use gruvi_conn::client::{ClientOptions, handshake};
//! use gruvi_conn::server::{ServerConnection, ServerOptions};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Both roles over an in-memory pipe.
//! let (client_io, server_io) = tokio::io::duplex(64 * 1024);
//! let hello = |request: http::Request<Incoming>| async move {
//!     let text = format!("hello from {}", request.uri().path());
//!     http::Response::new(Outgoing::full(text))
//! };
//! tokio::spawn(ServerConnection::new(server_io, hello, ServerOptions::default()));
//!
//! let (sender, connection) = handshake(client_io, ClientOptions::default());
//! tokio::spawn(connection);
//! // Two requests pipelined: both are written before either answer.
//! let first = sender.send(http::Request::get("http://x/a").body(Outgoing::empty())?);
//! let second = sender.send(http::Request::get("http://x/b").body(Outgoing::empty())?);
//! for (response, expected) in [(first.await?, "hello from /a"), (second.await?, "hello from /b")] {
//!     let body = response.into_body().read_to_end().await?;
//!     assert_eq!(body, expected);
//! }
//! # Ok(()) }
//! ```
//!
//! # Where each rule lives
//!
//! | rule | where |
//! |---|---|
//! | head and field syntax, target characters, head limits | `gruvi-wire`, `parse.rs`: `Parser::parse` |
//! | how a received body is framed (RFC 9112 §6.3) | `gruvi-wire`, `framing.rs`: `framing` |
//! | whether a response may carry a body (method + status), both directions | `gruvi-wire`, `framing.rs`: `response_content` |
//! | how a sent body is framed (length, chunked, until close) | responses: `gruvi-wire`, `framing.rs`: `send_framing`; requests: `proto/request.rs`: `PreparedRequest::write` |
//! | one message's keep-alive, one exchange's (RFC 9112 §9.3) | `gruvi-wire`, `connection.rs`: `wants_keep_alive`, `exchange_keeps_alive` |
//! | which fields an application may send | `gruvi-wire`, `encode.rs`: `check_field`, `check_application_field` |
//! | chunk syntax, trailer rules, a body's size limit | `gruvi-body`, `decode.rs` / `encode.rs`: `Decoder`, `Encoder` |
//! | how much may be buffered before reading stops | `proto/mod.rs`: `read_bound` |
//! | parse-ahead, pipeline depth, body before the next head | `proto/server/read.rs`: `Server::poll_event`, `parse_head` |
//! | a received body, both roles: held back for a slow reader, drained (within a bound) once dropped, its read timer's clock | `proto/received.rs`: `ReceivedBody` |
//! | requests refused before the application (413 included) | `proto/server/read.rs`: `reject`, `body_failed` |
//! | a response's framing fields, `Date`, `Server`, `Connection` | `proto/server/respond.rs`: `Server::decide`, `write_head` |
//! | the library's own answers | `proto/server/respond.rs`: `write_library_answer` |
//! | `100 Continue`, server | `proto/server.rs`: `body_wanted`; `respond.rs`: `write_continue_if_due` |
//! | when a server connection ends | `proto/server.rs`: `end_after`, `end_now` |
//! | server timers (head, first request, idle, body, response) | `proto/server/timers.rs`: `next_timer`, `handle_timeout` |
//! | a request to send: target (absolute-form to a proxy), `Host`, framing, `Expect`, HTTP/1.0, proxy credentials | `proto/request.rs`: `PreparedRequest` |
//! | a response framed by its request, 1xx, upgrades | `proto/client.rs`: `Client::parse_head`, `interim` |
//! | `100 Continue`, client (holding the body) | `proto/client.rs`: `request_body`, `interim` |
//! | client timers (continue, response head, body) | `proto/client/timers.rs` |
//! | a panic in the application (a handler's future, a body): its message's failure only | `server/exchange.rs`: `poll_handler`; `body.rs`: `pump` |

#![deny(missing_docs)]

mod body;
pub mod client;
mod convert;
mod io;
pub mod proto;
pub mod server;
pub mod upgrade;
mod write_buf;

pub use convert::ReceivedHead;
pub use write_buf::WriteBuf;

/// The message a panic was raised with (`panic!` gives a `&str` or a
/// `String`).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(not a string)"
    }
}
