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
mod server;
mod service;
mod signal;

pub use context::{Address, RequestContext};
pub use error::HttpError;
pub use gruvi_conn::ReceivedHead;
pub use server::{HttpServer, Stats};
/// The TLS library `listen_tls` takes its configuration from.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
