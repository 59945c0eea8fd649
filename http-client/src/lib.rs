//! An HTTP/1.0 and HTTP/1.1 client with pipelining.
//!
//! Three ways in, over the same connection machinery (`gruvi-conn`):
//! - [`Client`]: any `http` or `https` URL, connections pooled per origin
//!   (reused, opened on demand, limited, evicted when idle), idempotent
//!   requests retried once on a connection found closed, opt-in
//!   pipelining; a `tower::Service` with a fixed body type, for tower-http
//!   layers (redirects, decompression) and tower's (retry, timeout,
//!   buffer, concurrency limits);
//! - [`HttpClient`]: the seed's API — `connect`, `request(method, url,
//!   headers, body)` (sends at once; several before reading any response
//!   is pipelining), `getresponse()` in request order, bodies read through
//!   [`HttpResponse`]'s `read` / `read1` / `readline` / `readlines` /
//!   `read_to_end`, bodies written by hand through [`HttpRequest`]'s
//!   `write` / `end_request(trailers)`;
//! - [`HttpService`]: one connection as a `tower::Service<http::Request<B>>`,
//!   pipelining concurrent calls when asked to.
//!
//! `HttpClient` and `HttpService` are bound to the origin they connected
//! to: a request for another is refused before anything is sent.
//!
//! Responses follow RFC 9112: 1xx skipped, HEAD/204/304 without a body,
//! until-close bodies, obs-fold unfolded, Transfer-Encoding over
//! Content-Length with the connection not reused, `Expect: 100-continue`
//! honoured. Fields go out as given (order and case), checked before
//! anything is sent.

#![deny(missing_docs)]

mod client;
mod connect;
mod error;
mod pool;
mod proxy;
mod response;
mod service;

pub use client::{HttpClient, HttpRequest, RequestBody};
pub use connect::{Connector, Target};
pub use error::HttpError;
pub use gruvi_body::{Incoming, Outgoing};
pub use gruvi_conn::client::ClientOptions;
pub use pool::{Client, ClientBuilder, PoolStats};
pub use proxy::Proxy;
pub use response::HttpResponse;
pub use service::{HttpService, HttpServiceFuture};
/// The TLS library `Connector::tls` takes its configuration from.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
