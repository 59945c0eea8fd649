//! An HTTP/1.0 and HTTP/1.1 server for any tower `Service`.
//!
//! [`HttpServer`] is the seed's `HttpServer(application, server_name,
//! timeout)` with the WSGI application replaced by a
//! `tower::Service<http::Request<Incoming>>`: an axum `Router`, a stack of
//! tower-http layers or a plain `service_fn` runs unmodified. It listens on
//! TCP and Unix sockets, and with the `tls` feature on TLS (rustls), keeps connections alive, processes pipelined
//! requests together and answers them in order, and closes gracefully.
//!
//! What the application gets and gives:
//! - each request carries a [`RequestContext`] (addresses, server name, TLS)
//!   and a [`ReceivedHead`](gruvi_conn::ReceivedHead) (fields in received
//!   order and case) in its extensions, unless the server is told it needs
//!   neither ([`HttpServer::request_context`],
//!   [`HttpServer::received_head`]); its body is an
//!   [`Incoming`](gruvi_body::Incoming);
//! - the response goes out in the request's version, with `Date` and
//!   `Server` added unless set, Content-Length when the body's size is
//!   exact, chunked (trailers included) on HTTP/1.1 otherwise, until close
//!   on HTTP/1.0; HEAD, 1xx, 204 and 304 without a body;
//! - a response with a hop-by-hop field, a service error or a panic becomes
//!   a `500` for that request only (logged through `tracing`);
//! - malformed requests never reach the application: the library answers
//!   them (400, 408, 413, 414, 431, 501, 505) and closes the connection.
//!
//! The protocol itself lives in `gruvi-conn`; this crate owns listeners,
//! connection tasks and their limits, and the service adapter.

#![deny(missing_docs)]

mod connections;
mod context;
mod error;
mod listener;
mod server;
mod service;
mod signal;
mod source;
#[cfg(feature = "ws")]
pub mod ws;

pub use context::{Address, RequestContext};
pub use error::HttpError;
pub use listener::{IntoListener, Listener};
pub use server::{HttpServer, Stats};
pub use source::{MakeService, ServiceSource};

/// What a request's and a response's body are: the request's as received,
/// and a response body of any kind the application builds.
pub use gruvi_body::{BoxError, Incoming, Outgoing};
pub use gruvi_conn::ReceivedHead;
/// Every setting of a connection, for [`HttpServer::options`].
pub use gruvi_conn::proto::ServerConfig;
pub use gruvi_conn::server::ServerOptions;
/// Limits on request heads, for [`HttpServer::limits`].
pub use gruvi_wire::Limits;

/// The TLS library `listen_tls` takes its configuration from.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;

/// Taking a connection over after `101 Switching Protocols` (WebSockets
/// and other protocols) or a `2xx` to CONNECT: a request that asks to
/// upgrade carries an [`OnUpgrade`](upgrade::OnUpgrade) in its extensions,
/// which yields the [`Upgraded`](upgrade::Upgraded) transport once the
/// application's switching response is written. The `ws` feature builds
/// WebSockets on it ([`ws`]).
pub mod upgrade {
    pub use gruvi_conn::upgrade::{Io, OnUpgrade, UpgradeError, Upgraded};
}
