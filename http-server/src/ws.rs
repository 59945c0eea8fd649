//! WebSockets (RFC 6455) on the server's upgrade hand-off, with
//! tokio-tungstenite for the framing (feature `ws`).
//!
//! A handler takes the handshake from its request with
//! [`WebSocketUpgrade::from_request`] — which checks it, and turns a bad
//! one into a [`Rejection`] to answer with — and returns the `101
//! Switching Protocols` that
//! [`on_upgrade`](WebSocketUpgrade::on_upgrade) makes; once that response
//! is written, the callback runs on its own task with the connection as a
//! [`WebSocketStream`] (a `futures` `Stream` + `Sink` of [`Message`]s).
//!
//! ```
//! use futures::{SinkExt, StreamExt};
//! use gruvi_server::{Incoming, Outgoing};
//! use gruvi_server::ws::WebSocketUpgrade;
//!
//! async fn echo(mut request: http::Request<Incoming>) -> http::Response<Outgoing> {
//!     let upgrade = match WebSocketUpgrade::from_request(&mut request) {
//!         Ok(upgrade) => upgrade,
//!         Err(rejection) => return rejection.into_response(),
//!     };
//!     upgrade.on_upgrade(|mut socket| async move {
//!         while let Some(Ok(message)) = socket.next().await {
//!             if message.is_text() || message.is_binary() {
//!                 if socket.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     })
//! }
//! ```
//!
//! With the `axum` feature, [`ws::axum`](self::axum) has the same as an
//! axum extractor, with axum's own API.
//!
//! An upgraded connection leaves the server: it no longer counts toward
//! [`HttpServer::max_connections`](crate::HttpServer::max_connections), and
//! [`HttpServer::close`](crate::HttpServer::close) does not wait for it or
//! end it (as with hyper and `axum::serve`). Its task runs until the
//! callback returns; end long-lived sockets from a shutdown signal of the
//! application's own.

use std::fmt;
use std::future::Future;

use gruvi_body::Outgoing;
use gruvi_conn::upgrade::{OnUpgrade, UpgradeError, Upgraded};
use http::header::{
    CONNECTION, HeaderMap, HeaderName, HeaderValue, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{Method, Request, Response, StatusCode, Version};
pub use tokio_tungstenite::WebSocketStream;
pub use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
pub use tokio_tungstenite::tungstenite::{self, Message};

#[cfg(feature = "axum")]
pub mod axum;

/// A request's WebSocket handshake, checked (RFC 6455 §4.2.1): a GET on
/// HTTP/1.1 asking to upgrade to `websocket`, version 13, with a key of 16
/// bytes. Turned into the `101` response by [`on_upgrade`](Self::on_upgrade)
/// or [`into_response`](Self::into_response).
pub struct WebSocketUpgrade {
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
    /// The subprotocols the client offered, in its order.
    offered: Vec<HeaderValue>,
    protocol: Option<HeaderValue>,
    config: Option<WebSocketConfig>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// Checks `request`'s handshake and takes its upgrade hand-off from the
    /// extensions; a bad handshake is a [`Rejection`] to answer with (and
    /// leaves the request as it was).
    pub fn from_request<B>(request: &mut Request<B>) -> Result<WebSocketUpgrade, Rejection> {
        let (accept, offered) = checked(request.method(), request.version(), request.headers())?;
        let on_upgrade =
            OnUpgrade::take(request.extensions_mut()).ok_or(Rejection::NOT_UPGRADABLE)?;
        Ok(WebSocketUpgrade::new(accept, offered, on_upgrade))
    }

    /// [`from_request`](Self::from_request) for a request already split
    /// into its parts.
    pub fn from_parts(parts: &mut http::request::Parts) -> Result<WebSocketUpgrade, Rejection> {
        let (accept, offered) = checked(&parts.method, parts.version, &parts.headers)?;
        let on_upgrade = OnUpgrade::take(&mut parts.extensions).ok_or(Rejection::NOT_UPGRADABLE)?;
        Ok(WebSocketUpgrade::new(accept, offered, on_upgrade))
    }

    fn new(accept: HeaderValue, offered: Vec<HeaderValue>, on_upgrade: OnUpgrade) -> Self {
        WebSocketUpgrade {
            accept,
            on_upgrade,
            offered,
            protocol: None,
            config: None,
        }
    }

    /// The subprotocols this endpoint speaks, best first: the first the
    /// client offered (`Sec-WebSocket-Protocol`) is chosen and answered;
    /// none when they have none in common.
    pub fn protocols<I>(mut self, supported: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.protocol = supported.into_iter().find_map(|ours| {
            self.offered
                .iter()
                .find(|offered| offered.as_bytes() == ours.as_ref().as_bytes())
                .cloned()
        });
        self
    }

    /// The subprotocol chosen by [`protocols`](Self::protocols) or
    /// [`set_protocol`](Self::set_protocol).
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &HeaderValue> {
        self.offered.iter()
    }

    /// Chooses the subprotocol to answer with (RFC 6455 §4.2.2 has it be
    /// one the client offered).
    pub fn set_protocol(&mut self, protocol: HeaderValue) {
        self.protocol = Some(protocol);
    }

    /// Limits and buffer sizes of the socket (message and frame sizes:
    /// tungstenite's defaults are 64 MiB and 16 MiB).
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The `101` response to return, and the callback that gets the socket
    /// on a task of its own once the response is written. A connection
    /// that closes before that runs nothing.
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response<Outgoing>
    where
        F: FnOnce(WebSocketStream<Upgraded>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (response, socket) = self.into_response();
        tokio::spawn(async move {
            match socket.await {
                Ok(socket) => callback(socket).await,
                Err(error) => tracing::debug!(%error, "WebSocket not opened"),
            }
        });
        response
    }

    /// The `101` response, and the socket it opens (ready once the
    /// response is written; an error if the connection closed first).
    pub fn into_response(
        self,
    ) -> (
        Response<Outgoing>,
        impl Future<Output = Result<WebSocketStream<Upgraded>, UpgradeError>> + Send + 'static,
    ) {
        let mut response = Response::new(Outgoing::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(SEC_WEBSOCKET_ACCEPT, self.accept);
        if let Some(protocol) = self.protocol {
            headers.insert(SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        let (on_upgrade, config) = (self.on_upgrade, self.config);
        let socket = async move {
            let upgraded = on_upgrade.await?;
            Ok(WebSocketStream::from_raw_socket(
                upgraded,
                tungstenite::protocol::Role::Server,
                config,
            )
            .await)
        };
        (response, socket)
    }
}

/// A handshake's accept value and offered subprotocols, once it checks out.
fn checked(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Result<(HeaderValue, Vec<HeaderValue>), Rejection> {
    check(method, version, headers)?;
    Ok((accept_key(headers)?, offered_protocols(headers)))
}

/// RFC 6455 §4.2.1 items 1–4 and 6: what the request must be.
fn check(method: &Method, version: Version, headers: &HeaderMap) -> Result<(), Rejection> {
    if method != Method::GET {
        return Err(Rejection::bad("a WebSocket handshake is a GET request"));
    }
    if version < Version::HTTP_11 {
        return Err(Rejection::bad("a WebSocket handshake needs HTTP/1.1"));
    }
    if !has_token(headers, &UPGRADE, "websocket") || !has_token(headers, &CONNECTION, "upgrade") {
        return Err(Rejection::UPGRADE_REQUIRED);
    }
    // §4.4: a version we do not speak is answered with the one we do.
    if headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(Rejection::VERSION);
    }
    Ok(())
}

/// §4.2.1 item 5, §4.2.2 item 5.4: the key is 16 bytes in base64 (24
/// characters, two of padding); the accept value is derived from it.
fn accept_key(headers: &HeaderMap) -> Result<HeaderValue, Rejection> {
    let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(Rejection::bad("the handshake needs one Sec-WebSocket-Key"));
    };
    if !is_base64_of_16_bytes(key.as_bytes()) {
        return Err(Rejection::bad(
            "Sec-WebSocket-Key is not 16 bytes in base64",
        ));
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    HeaderValue::try_from(accept).map_err(|_| Rejection::bad("Sec-WebSocket-Key"))
}

/// 16 bytes in base64: 21 characters of the alphabet, a 22nd that carries
/// only two bits (its low four are zero: `A`, `Q`, `g` or `w`), then `==`.
fn is_base64_of_16_bytes(key: &[u8]) -> bool {
    let is_alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    matches!(key, [data @ .., last, b'=', b'='] if data.len() == 21
        && data.iter().all(is_alphabet)
        && matches!(last, b'A' | b'Q' | b'g' | b'w'))
}

/// Whether a comma-separated field holds `token` (ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

fn offered_protocols(headers: &HeaderMap) -> Vec<HeaderValue> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .filter_map(|item| HeaderValue::from_bytes(item.trim_ascii()).ok())
        .filter(|item| !item.is_empty())
        .collect()
}

/// Why a request is not a WebSocket handshake, and the answer it gets:
/// `400` for a malformed handshake, `426 Upgrade Required` (with what to
/// upgrade to) for a request that does not ask for WebSocket version 13.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    status: StatusCode,
    reason: &'static str,
}

impl Rejection {
    const UPGRADE_REQUIRED: Rejection = Rejection {
        status: StatusCode::UPGRADE_REQUIRED,
        reason: "this endpoint speaks WebSocket: send Upgrade: websocket and Connection: upgrade",
    };
    const VERSION: Rejection = Rejection {
        status: StatusCode::UPGRADE_REQUIRED,
        reason: "this endpoint speaks WebSocket version 13 (Sec-WebSocket-Version: 13)",
    };
    const NOT_UPGRADABLE: Rejection = Rejection {
        status: StatusCode::BAD_REQUEST,
        reason: "this request cannot be upgraded (no upgrade hand-off in its extensions)",
    };

    fn bad(reason: &'static str) -> Rejection {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            reason,
        }
    }

    /// The status it is answered with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Why, in words (also the answer's body).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The answer: its status, the reason as text, and for `426` what to
    /// upgrade to (RFC 9110 §15.5.22, RFC 6455 §4.4).
    pub fn into_response(self) -> Response<Outgoing> {
        let mut response = Response::new(Outgoing::full(format!("{}\n", self.reason)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status == StatusCode::UPGRADE_REQUIRED {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_16_bytes_only() {
        assert!(is_base64_of_16_bytes(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            &b"dGhlIHNhbXBsZSBub25jZQ="[..],
            b"dGhlIHNhbXBsZSBub25jZR==",
            b"dGhlIHNhbXBsZSBub25jZQ===",
            b"dGhlIHNhbXBsZSBub25j*Q==",
            b"",
        ] {
            assert!(!is_base64_of_16_bytes(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_rfc_example_accept_key() {
        // RFC 6455 §1.3.
        let mut headers = HeaderMap::new();
        headers.insert(
            SEC_WEBSOCKET_KEY,
            HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        assert_eq!(
            accept_key(&headers).unwrap(),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
