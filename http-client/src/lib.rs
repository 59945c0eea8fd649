//! An HTTP/1.0 and HTTP/1.1 client with pipelining.
//!
//! Three ways in, over the same connection machinery (`gruvi-conn`):
//! - [`Client`]: any `http` or `https` URL, connections pooled per origin
//!   (reused, opened on demand, limited, evicted when idle), idempotent
//!   requests retried once on a connection found closed, opt-in
//!   pipelining; a `tower::Service` with a fixed body type, for tower-http
//!   layers (redirects, decompression) and tower's (retry, timeout,
//!   buffer, concurrency limits);
//! - [`HttpClient`]: a socket-like API — `connect`, `request(method, url,
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
//! Use this crate to call HTTP services; `gruvi-conn` below it runs one
//! connection over a transport you bring, without pooling, DNS, TLS or
//! proxies.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use gruvi_server::{HttpServer, Incoming, Outgoing};
//! # let service = tower::service_fn(|_: http::Request<Incoming>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(Outgoing::full("Hello, World!")))
//! # });
//! # let mut server = HttpServer::new(service);
//! # let address = server.listen("127.0.0.1:0").await?;
//! # let url = format!("http://{address}/");
//! // `url` is a local server answering "Hello, World!".
//! let client = gruvi_client::Client::new();
//! let response = client.get(&url).await?;
//! assert_eq!(response.status(), 200);
//! let body = response.into_body().read_to_end().await?;
//! assert_eq!(body, "Hello, World!");
//! # server.close().await;
//! # Ok(()) }
//! ```
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
pub use connect::{Connecting, Connector, Target, Transport};
pub use error::HttpError;
pub use gruvi_body::{Incoming, Outgoing};
pub use gruvi_conn::client::ClientOptions;
/// What a [`Transport`] opens: any tokio byte stream.
pub use gruvi_conn::upgrade::Io;
pub use pool::{Client, ClientBuilder, PoolStats};
pub use proxy::Proxy;
pub use response::HttpResponse;
pub use service::{HttpService, HttpServiceFuture};
/// The TLS library `Connector::tls` takes its configuration from.
#[cfg(feature = "tls")]
pub use tokio_rustls::rustls;
