//! An HTTP/1.0 and HTTP/1.1 client with pipelining.
//!
//! Two ways in, over the same connection machinery (`gruvi-conn`):
//! - [`HttpClient`]: the seed's API — `connect`, `request(method, url,
//!   headers, body)` (sends at once; several before reading any response
//!   is pipelining), `getresponse()` in request order, bodies read through
//!   [`HttpResponse`]'s `read` / `read1` / `readline` / `readlines` /
//!   `read_to_end`, bodies written by hand through [`HttpRequest`]'s
//!   `write` / `end_request(trailers)`;
//! - [`HttpService`]: a `tower::Service<http::Request<B>>` for middleware
//!   stacks, pipelining concurrent calls when asked to.
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
mod response;
mod service;

pub use client::{HttpClient, HttpRequest, RequestBody};
pub use connect::{Connector, Target};
pub use error::HttpError;
pub use gruvi_body::{Incoming, Outgoing};
pub use gruvi_conn::client::ClientOptions;
pub use pool::{Client, ClientBuilder, PoolStats};
pub use response::HttpResponse;
pub use service::{HttpService, HttpServiceFuture};
/// The TLS library `Connector::tls` takes its configuration from.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
