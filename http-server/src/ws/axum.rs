//! axum's WebSocket API on this server (feature `axum`): the names and
//! methods of `axum::extract::ws` that handlers use — `WebSocketUpgrade`
//! (with its buffer, size and subprotocol settings and
//! `on_failed_upgrade`), `WebSocket`, `Message`, `CloseFrame`,
//! `close_code` — so that a handler written for axum moves here by changing
//! its `use` line. `Utf8Bytes` is tungstenite's (axum wraps the same).
//!
//! axum's own extractor looks for hyper's upgrade hand-off, which only
//! hyper can provide, and answers `426` on any other server; this one takes
//! the hand-off gruvi puts in each upgrade request.
//!
//! ```
//! use axum::{Router, response::Response, routing::get};
//! use gruvi_server::ws::axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         if let Message::Text(_) | Message::Binary(_) = message {
//!             if socket.send(message).await.is_err() {
//!                 return;
//!             }
//!         }
//!     }
//! }
//!
//! let app: Router = Router::new().route("/ws", get(handler));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::Error;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Sink, SinkExt, Stream, StreamExt};
use gruvi_conn::upgrade::Upgraded;
use http::HeaderValue;
use http::request::Parts;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self as ts, protocol::WebSocketConfig};

pub use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::Rejection;

/// The WebSocket handshake of a request, as an axum extractor: rejected
/// (`400`, `426`) when the request is not a valid one.
pub struct WebSocketUpgrade {
    inner: super::WebSocketUpgrade,
    config: WebSocketConfig,
    on_failed: Option<Box<dyn FnOnce(Error) + Send>>,
}

impl std::fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Rejection> {
        Ok(WebSocketUpgrade {
            inner: super::WebSocketUpgrade::from_parts(parts)?,
            config: WebSocketConfig::default(),
            on_failed: None,
        })
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        Rejection::into_response(self).map(axum::body::Body::new)
    }
}

impl WebSocketUpgrade {
    /// Bytes read from the connection at a time.
    pub fn read_buffer_size(mut self, size: usize) -> Self {
        self.config = self.config.read_buffer_size(size);
        self
    }

    /// Bytes buffered before a write goes out.
    pub fn write_buffer_size(mut self, size: usize) -> Self {
        self.config = self.config.write_buffer_size(size);
        self
    }

    /// Most bytes buffered for writing; sending past it fails.
    pub fn max_write_buffer_size(mut self, max: usize) -> Self {
        self.config = self.config.max_write_buffer_size(max);
        self
    }

    /// Largest message received (default 64 MiB).
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.config = self.config.max_message_size(Some(max));
        self
    }

    /// Largest frame received (default 16 MiB).
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.config = self.config.max_frame_size(Some(max));
        self
    }

    /// Accept frames the client did not mask (RFC 6455 says it must).
    pub fn accept_unmasked_frames(mut self, accept: bool) -> Self {
        self.config = self.config.accept_unmasked_frames(accept);
        self
    }

    /// The subprotocols this endpoint speaks, best first: the first the
    /// client offered is chosen.
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.inner = self.inner.protocols(protocols);
        self
    }

    /// The subprotocols the client offered, in its order.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &HeaderValue> {
        self.inner.offered_protocols()
    }

    /// Chooses the subprotocol to answer with.
    pub fn set_selected_protocol(&mut self, protocol: HeaderValue) {
        self.inner.set_protocol(protocol);
    }

    /// The subprotocol chosen, if any.
    pub fn selected_protocol(&self) -> Option<&HeaderValue> {
        self.inner.protocol()
    }

    /// Called, instead of the `on_upgrade` callback, when the connection
    /// closes before the switch (by default the failure is logged at
    /// DEBUG).
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(Error) + Send + 'static,
    {
        self.on_failed = Some(Box::new(callback));
        self
    }

    /// The `101` response, and `callback` run with the socket, on a task of
    /// its own, once the response is written.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let protocol = self.inner.protocol().cloned();
        let on_failed = self.on_failed;
        let (response, socket) = self.inner.config(self.config).into_response();
        tokio::spawn(async move {
            match socket.await {
                Ok(socket) => callback(WebSocket { socket, protocol }).await,
                Err(error) => match on_failed {
                    Some(on_failed) => on_failed(Error::new(error)),
                    None => tracing::debug!(%error, "WebSocket not opened"),
                },
            }
        });
        response.map(axum::body::Body::new)
    }
}

/// An open WebSocket: messages in with [`recv`](Self::recv) (or as a
/// `Stream`), out with [`send`](Self::send) (or as a `Sink`). Pings are
/// answered on their own; a close is answered and ends the stream.
#[derive(Debug)]
pub struct WebSocket {
    socket: WebSocketStream<Upgraded>,
    protocol: Option<HeaderValue>,
}

impl WebSocket {
    /// The next message; `None` once the socket is closed.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.next().await
    }

    /// Sends `message` (and flushes it).
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        SinkExt::send(self, message).await
    }

    /// The subprotocol chosen in the handshake, if any.
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match ready!(self.socket.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(error)) => return Poll::Ready(Some(Err(Error::new(error)))),
                Some(Ok(message)) => {
                    if let Some(message) = Message::from_tungstenite(message) {
                        return Poll::Ready(Some(Ok(message)));
                    }
                }
            }
        }
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.socket.poll_ready_unpin(cx).map_err(Error::new)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.socket
            .start_send_unpin(message.into_tungstenite())
            .map_err(Error::new)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.socket.poll_flush_unpin(cx).map_err(Error::new)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.socket.poll_close_unpin(cx).map_err(Error::new)
    }
}

/// A close status code (RFC 6455 §7.4).
pub type CloseCode = u16;

/// Why a WebSocket was closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, as text.
    pub reason: Utf8Bytes,
}

/// The close status codes of RFC 6455 §7.4.1.
pub mod close_code {
    use super::CloseCode;

    /// The purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = 1000;
    /// The endpoint is going away (server shutdown, page left).
    pub const AWAY: CloseCode = 1001;
    /// A protocol error.
    pub const PROTOCOL: CloseCode = 1002;
    /// A kind of data the endpoint cannot accept.
    pub const UNSUPPORTED: CloseCode = 1003;
    /// Data that does not match the message type (text not UTF-8).
    pub const INVALID: CloseCode = 1007;
    /// A message that violates the endpoint's policy.
    pub const POLICY: CloseCode = 1008;
    /// A message too big to process.
    pub const SIZE: CloseCode = 1009;
    /// No status code was given (never sent in a close frame).
    pub const STATUS: CloseCode = 1005;
    /// The connection dropped without a close frame (never sent).
    pub const ABNORMAL: CloseCode = 1006;
    /// The client expected an extension the server did not negotiate.
    pub const EXTENSION: CloseCode = 1010;
    /// An unexpected condition on the server.
    pub const ERROR: CloseCode = 1011;
    /// The server is restarting.
    pub const RESTART: CloseCode = 1012;
    /// The server is overloaded: try again later.
    pub const AGAIN: CloseCode = 1013;
}

/// A WebSocket message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Text (UTF-8).
    Text(Utf8Bytes),
    /// Binary data.
    Binary(Bytes),
    /// A ping (at most 125 bytes); the socket answers received ones itself.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close, with its reason if any; sending one starts the closing
    /// handshake.
    Close(Option<CloseFrame>),
}

impl Message {
    fn into_tungstenite(self) -> ts::Message {
        match self {
            Message::Text(text) => ts::Message::Text(text),
            Message::Binary(data) => ts::Message::Binary(data),
            Message::Ping(data) => ts::Message::Ping(data),
            Message::Pong(data) => ts::Message::Pong(data),
            Message::Close(frame) => {
                ts::Message::Close(frame.map(|frame| ts::protocol::CloseFrame {
                    code: frame.code.into(),
                    reason: frame.reason,
                }))
            }
        }
    }

    /// `None` for a raw frame, which reading never yields.
    fn from_tungstenite(message: ts::Message) -> Option<Message> {
        Some(match message {
            ts::Message::Text(text) => Message::Text(text),
            ts::Message::Binary(data) => Message::Binary(data),
            ts::Message::Ping(data) => Message::Ping(data),
            ts::Message::Pong(data) => Message::Pong(data),
            ts::Message::Close(frame) => Message::Close(frame.map(|frame| CloseFrame {
                code: frame.code.into(),
                reason: frame.reason,
            })),
            ts::Message::Frame(_) => return None,
        })
    }

    /// The payload as bytes (a close's reason for a close).
    pub fn into_data(self) -> Bytes {
        match self {
            Message::Text(text) => text.into(),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => data,
            Message::Close(Some(frame)) => frame.reason.into(),
            Message::Close(None) => Bytes::new(),
        }
    }

    /// The payload as text; an error when it is not UTF-8.
    pub fn into_text(self) -> Result<Utf8Bytes, Error> {
        match self {
            Message::Text(text) => Ok(text),
            Message::Close(Some(frame)) => Ok(frame.reason),
            Message::Close(None) => Ok(Utf8Bytes::default()),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => {
                Utf8Bytes::try_from(data).map_err(Error::new)
            }
        }
    }

    /// The payload as `&str`; an error when it is not UTF-8.
    pub fn to_text(&self) -> Result<&str, Error> {
        match self {
            Message::Text(text) => Ok(text.as_str()),
            Message::Close(Some(frame)) => Ok(frame.reason.as_str()),
            Message::Close(None) => Ok(""),
            Message::Binary(data) | Message::Ping(data) | Message::Pong(data) => {
                std::str::from_utf8(data).map_err(Error::new)
            }
        }
    }

    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Message {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Message {
        Message::Text(text.into())
    }
}

impl<'a> From<&'a str> for Message {
    fn from(text: &'a str) -> Message {
        Message::Text(text.into())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Message {
        Message::Binary(data)
    }
}

impl<'a> From<&'a [u8]> for Message {
    fn from(data: &'a [u8]) -> Message {
        Message::Binary(Bytes::copy_from_slice(data))
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Message {
        Message::Binary(data.into())
    }
}

impl From<Message> for Vec<u8> {
    fn from(message: Message) -> Vec<u8> {
        message.into_data().into()
    }
}
