//! An HTTP/1.0 and HTTP/1.1 server for any tower `Service`: an axum
//! `Router`, a stack of tower-http layers or a plain `service_fn` runs
//! unmodified.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run() -> Result<(), gruvi_server::HttpError> {
//! use std::net::SocketAddr;
//! use axum::{Router, extract::ConnectInfo, routing::get};
//! use gruvi_server::HttpServer;
//!
//! let app = Router::new()
//!     .route("/", get(|| async { "Hello, World!" }))
//!     .route("/ip", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
//!         peer.to_string()
//!     }));
//! let mut server =
//!     HttpServer::from_make_service(app.into_make_service_with_connect_info::<SocketAddr>());
//! server.listen("127.0.0.1:8080").await?;
//! server.serve(tokio::signal::ctrl_c()).await; // graceful close on Ctrl-C
//! # Ok(()) }
//! ```
//!
//! [`HttpServer`] keeps connections alive, processes pipelined requests
//! together and answers them in order, and closes gracefully. It listens on
//! TCP addresses, Unix sockets, and listeners the caller binds itself
//! ([`HttpServer::listen_on`]: `SO_REUSEPORT` for a runtime per core,
//! socket activation, any [`Listener`]), with TLS on any of them (feature
//! `tls`, rustls). Each connection gets a clone of the service, or its own
//! service from a factory ([`HttpServer::from_make_service`]).
//!
//! What the application gets and gives:
//! - each request carries a [`RequestContext`] (addresses, server name, TLS)
//!   and a [`ReceivedHead`] (fields in received order and case) in its
//!   extensions, unless the server is told it needs neither
//!   ([`HttpServer::request_context`], [`HttpServer::received_head`]); its
//!   body is an [`Incoming`];
//! - the response goes out in the request's version, with `Date` and
//!   `Server` added unless set, Content-Length when the body's size is
//!   exact, chunked (trailers included) on HTTP/1.1 otherwise, until close
//!   on HTTP/1.0; HEAD, 1xx, 204 and 304 without a body;
//! - a response with a hop-by-hop field, a service error or a panic becomes
//!   a `500` for that request only (logged through `tracing`); a panic in a
//!   response body, its head already sent, cuts that response short and
//!   closes the connection, and nothing else;
//! - malformed requests never reach the application: the library answers
//!   them (400, 408, 413, 414, 431, 501, 505) and closes the connection;
//! - a request that asks to switch protocols can be taken over
//!   ([`upgrade`]); the `ws` feature builds WebSockets on it (module
//!   `ws`), and the `axum` feature gives axum's WebSocket extractor API
//!   (`ws::axum`) and `ConnectInfo`.
//!
//! Features: `tls` (rustls), `ws` (WebSockets on tokio-tungstenite),
//! `axum` (`ConnectInfo` and the WebSocket extractor; implies `ws`).
//!
//! The protocol itself lives in `gruvi-conn` (one connection, either role)
//! and `gruvi-wire` (parsing and framing); this crate owns listeners,
//! connection tasks and their limits, and the service adapter. What its API
//! needs from them is re-exported here.

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

/// Bodies: a request's as received ([`Incoming`], its [`Trailers`] and
/// [`BodyError`]s), and a response's of any kind the application builds
/// ([`Outgoing`], written by hand through a [`BodyWriter`]).
pub use gruvi_body::{BodyError, BodyWriter, BoxError, Incoming, Outgoing, Trailers};
pub use gruvi_conn::ReceivedHead;
/// The protocol settings of a connection (limits, pipeline depth,
/// timeouts), inside [`ServerOptions`].
pub use gruvi_conn::proto::ServerConfig;
/// Every setting of a connection, for [`HttpServer::options`].
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
/// WebSockets on it (module `ws`).
pub mod upgrade {
    pub use gruvi_conn::upgrade::{Io, OnUpgrade, UpgradeError, Upgraded};
}
