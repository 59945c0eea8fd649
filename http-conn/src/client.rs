//! The tokio driver of a client connection: runs [`proto::Client`] over a
//! transport, fed by [`SendRequest`] handles.
//!
//! [`handshake`] splits a connection in two: [`SendRequest`], cheap to
//! clone, queues requests and returns a [`ResponseFuture`] for each; the
//! [`ClientConnection`] future (spawn it) does the IO. Requests go out in
//! the order they were queued, each as soon as the one before it is
//! written — without waiting for responses (pipelining) — and responses
//! come back in that order, each to its own future. A request with `Expect:
//! 100-continue` holds its body back until `100 Continue`, a final
//! response (then the body is not sent and the connection is not reused),
//! or [`ClientOptions::expect_continue_timeout`].
//!
//! Backpressure: a response body whose reader lags stops the socket reads;
//! a server that reads slowly stops the request bodies being polled once
//! [`ClientOptions::write_buffer`] bytes wait.
//!
//! When the connection fails, the request the failure is about gets the
//! error (a response body being read is cut with it), every request behind
//! it gets "connection closed before response", and requests queued later
//! get [`RequestError::Closed`] — never another request's response.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use gruvi_body::{BodyError, Incoming, Outgoing, Sender};
use gruvi_wire::{BodyFraming as WireBody, Version, is_continue_expectation};
use http::{HeaderMap, HeaderValue};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use crate::convert;
use crate::io::{Timer, Transport, deadline_after, earliest, now};
use crate::proto::{self, ClientConfig, ClientError, ClientEvent, ExchangeId, RequestBody};
use crate::upgrade::{OnUpgrade, Upgraded};

/// Turns of the poll loop before the task yields to others.
const MAX_TURNS: usize = 16;

/// Settings of a client connection's driver.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The state machine's settings: limits on responses.
    pub proto: ClientConfig,
    /// Most bytes of a response body queued for a slow reader. Default
    /// 64 KiB.
    pub body_buffer: usize,
    /// Request bytes buffered for a slow server before request bodies stop
    /// being polled. Default 256 KiB.
    pub write_buffer: usize,
    /// A write that makes no progress for this long fails the connection.
    /// Default 30 s.
    pub write_timeout: Option<Duration>,
    /// How long a body held back for `100 Continue` waits before it is sent
    /// anyway (RFC 9110 §10.1.1). Default 1 s.
    pub expect_continue_timeout: Duration,
    /// Put a [`ReceivedHead`](crate::ReceivedHead) (the fields in received
    /// case and order, the reason phrase) in every response's extensions.
    /// Default `true`; turning it off saves an allocation and a map insert
    /// per response for callers that read only the `http` types.
    pub received_head: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            proto: ClientConfig::default(),
            body_buffer: gruvi_body::DEFAULT_BODY_BUFFER,
            write_buffer: 256 * 1024,
            write_timeout: Some(Duration::from_secs(30)),
            expect_continue_timeout: Duration::from_secs(1),
            received_head: true,
        }
    }
}

/// Why a request got no response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RequestError {
    /// The request could not be sent as given (a caller's mistake), or the
    /// server broke the protocol; [`proto::ClientError`] says which.
    Protocol(ClientError),
    /// The transport failed.
    Io(Arc<io::Error>),
    /// A write made no progress within the write timeout.
    WriteTimedOut,
    /// The request's body failed while being sent; the connection closed.
    Body(Arc<dyn std::error::Error + Send + Sync>),
    /// The response head has no equivalent in the `http` crate's types.
    UnrepresentableResponse,
    /// The connection closed before the request was sent.
    Closed,
}

impl RequestError {
    /// Returns `true` if the caller's request was at fault (invalid field,
    /// body size unknown on HTTP/1.0, Content-Length disagreeing with the
    /// body, or its body failed).
    pub fn is_misuse(&self) -> bool {
        match self {
            RequestError::Protocol(e) => matches!(
                e,
                ClientError::Encode(_)
                    | ClientError::UnknownSizeOnHttp10
                    | ClientError::ContentLength { .. }
                    | ClientError::BodyInProgress
            ),
            RequestError::Body(_) => true,
            _ => false,
        }
    }

    /// Returns `true` if the server sent something that breaks HTTP.
    pub fn is_protocol(&self) -> bool {
        match self {
            RequestError::Protocol(_) => !self.is_misuse(),
            RequestError::UnrepresentableResponse => true,
            _ => false,
        }
    }

    /// Returns `true` for a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, RequestError::WriteTimedOut)
    }

    /// Returns `true` for a transport failure, or a connection that closed
    /// before the request could be sent.
    pub fn is_io(&self) -> bool {
        matches!(self, RequestError::Io(_) | RequestError::Closed)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Protocol(e) => fmt::Display::fmt(e, f),
            RequestError::Io(e) => write!(f, "connection failed: {e}"),
            RequestError::WriteTimedOut => f.write_str("timed out writing the request"),
            RequestError::Body(e) => write!(f, "request body failed: {e}"),
            RequestError::UnrepresentableResponse => {
                f.write_str("malformed response: not representable as an http::Response")
            }
            RequestError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::Protocol(e) => Some(e),
            RequestError::Io(e) => Some(&**e),
            RequestError::Body(e) => Some(&**e),
            _ => None,
        }
    }
}

type Reply = Result<http::Response<Incoming>, RequestError>;

/// A request extension: the fields to send exactly as given — this order,
/// this case, duplicates kept — instead of the request's `HeaderMap` (which
/// lower-cases names). For callers that promise their peers the fields they
/// wrote, like the seed's `request(method, url, headers)`; every field is
/// still checked before anything is sent.
#[derive(Clone, Debug, Default)]
pub struct FieldsAsGiven(pub Vec<(Bytes, Bytes)>);

/// A request queued for the connection.
struct Envelope {
    request: http::Request<Outgoing>,
    reply: oneshot::Sender<Reply>,
}

/// Queues requests on one connection; clones share it.
#[derive(Clone)]
pub struct SendRequest {
    queue: mpsc::UnboundedSender<Envelope>,
}

impl SendRequest {
    /// Queues `request`: it is written once the requests queued before it
    /// are, without waiting for their responses. The future resolves to the
    /// response head (its body streams through [`Incoming`]).
    ///
    /// The request's URI gives the target: its path and query (`/` when
    /// empty), or its authority for CONNECT; `Host` is added from its
    /// authority when the request has none. The body's size hint decides
    /// the framing: exact → Content-Length, unknown → chunked (an error on
    /// HTTP/1.0).
    pub fn send(&self, request: http::Request<Outgoing>) -> ResponseFuture {
        let (reply, rx) = oneshot::channel();
        // A closed connection drops the envelope: the future reports it.
        let _ = self.queue.send(Envelope { request, reply });
        ResponseFuture { rx }
    }

    /// Returns `true` once the connection is closed: no request sent now
    /// can be answered.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

impl fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The response to one queued request.
#[derive(Debug)]
pub struct ResponseFuture {
    rx: oneshot::Receiver<Reply>,
}

impl Future for ResponseFuture {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        match ready!(Pin::new(&mut self.rx).poll(cx)) {
            Ok(reply) => Poll::Ready(reply),
            Err(_) => Poll::Ready(Err(RequestError::Closed)),
        }
    }
}

/// Splits a transport into a request queue and the connection future that
/// serves it; spawn the future.
pub fn handshake<T>(io: T, options: ClientOptions) -> (SendRequest, ClientConnection<T>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (queue, incoming) = mpsc::unbounded_channel();
    let connection = ClientConnection {
        transport: Transport::new(io, options.write_timeout),
        proto: proto::Client::new(options.proto),
        options,
        queue: incoming,
        waiting: VecDeque::new(),
        sending: None,
        receiving: None,
        upgrade_to: None,
        timer: Timer::default(),
        closed: false,
        shutdown_until: None,
        error: None,
    };
    (SendRequest { queue }, connection)
}

/// One client connection, as a future that completes when the connection
/// is closed: every [`SendRequest`] dropped and nothing in flight, the
/// server closed it, it failed, or it was handed over after an upgrade.
pub struct ClientConnection<T> {
    transport: Transport<T>,
    proto: proto::Client,
    options: ClientOptions,
    queue: mpsc::UnboundedReceiver<Envelope>,
    /// Requests written (or being written) without a response head yet.
    waiting: VecDeque<Waiting>,
    /// The request body being written.
    sending: Option<Sending>,
    /// The response body being received.
    receiving: Option<Receiving>,
    /// Where the transport goes after a switching response.
    upgrade_to: Option<(oneshot::Sender<Upgraded>, Bytes)>,
    timer: Timer,
    closed: bool,
    /// When a close that cannot be sent is given up.
    shutdown_until: Option<Instant>,
    /// Why the connection failed, for requests queued after.
    error: Option<RequestError>,
}

struct Waiting {
    id: ExchangeId,
    reply: Option<oneshot::Sender<Reply>>,
}

struct Sending {
    id: ExchangeId,
    body: Outgoing,
    trailers: Option<HeaderMap>,
    /// Held back for `100 Continue` until this instant.
    held_until: Option<Instant>,
}

struct Receiving {
    id: ExchangeId,
    /// `None` when the caller dropped the response: its body is read and
    /// thrown away to keep the connection in step.
    sender: Option<Sender>,
    paused: bool,
}

impl<T> fmt::Debug for ClientConnection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConnection")
            .field("proto", &self.proto)
            .field("waiting", &self.waiting.len())
            .field("sending", &self.sending.as_ref().map(|s| s.id))
            .field("receiving", &self.receiving.as_ref().map(|r| r.id))
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<T> Future for ClientConnection<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = Result<(), RequestError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.closed {
            return Poll::Ready(this.error.clone().map_or(Ok(()), Err));
        }
        for _ in 0..MAX_TURNS {
            let now = now();
            let mut progress = this.take_requests(cx, now);
            progress |= this.send_body(cx, now);
            progress |= this.deliver_events(cx);

            match this.transport.poll_write(cx, this.proto.write_buf(), now) {
                Poll::Ready(Ok(wrote)) => progress |= wrote,
                Poll::Ready(Err(e)) => return this.fail(RequestError::Io(Arc::new(e))),
                Poll::Pending => {}
            }
            if this.upgrade_to.is_some() && this.proto.write_buf().is_empty() {
                this.hand_over();
                return Poll::Ready(Ok(()));
            }
            let idle = this.waiting.is_empty() && this.sending.is_none();
            let abandoned = this.queue.is_closed() && this.queue.is_empty();
            // After a failed request body, once nobody waits for anything.
            let given_up = this.error.is_some() && this.waiting.iter().all(|w| w.reply.is_none());
            let done = this.proto.is_done() || (idle && abandoned) || given_up;
            if done && this.proto.write_buf().is_empty() && this.receiving.is_none() {
                return this.close(cx, now);
            }

            let paused = this.receiving.as_ref().is_some_and(|r| r.paused);
            if !paused && this.proto.wants_read() {
                match this.transport.poll_read(cx, this.proto.read_buf()) {
                    Poll::Ready(Ok(0)) => {
                        this.proto.received_eof();
                        progress = true;
                    }
                    Poll::Ready(Ok(_)) => progress = true,
                    Poll::Ready(Err(e)) => return this.fail(RequestError::Io(Arc::new(e))),
                    Poll::Pending => {}
                }
            }
            if progress {
                continue;
            }
            let held = this.sending.as_ref().and_then(|s| s.held_until);
            let write_deadline = this.transport.write_deadline();
            let Some(deadline) = earliest(held, write_deadline) else {
                return Poll::Pending;
            };
            if this.timer.poll_at(cx, deadline).is_pending() {
                return Poll::Pending;
            }
            if write_deadline.is_some_and(|d| d <= deadline) {
                return this.fail(RequestError::WriteTimedOut);
            }
            // No `100 Continue` in time: send the body anyway.
            if let Some(sending) = this.sending.as_mut() {
                sending.held_until = None;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> ClientConnection<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Writes queued requests' heads while the connection can take them.
    fn take_requests(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        while self.sending.is_none()
            && self.proto.can_send()
            && self.proto.write_buf().remaining() < self.options.write_buffer
        {
            let Poll::Ready(Some(envelope)) = self.queue.poll_recv(cx) else {
                break;
            };
            progress = true;
            self.start_request(envelope, now);
        }
        progress
    }

    fn start_request(&mut self, envelope: Envelope, now: Instant) {
        let Envelope { request, reply } = envelope;
        if reply.is_closed() {
            return; // Nobody waits for it any more: not sent.
        }
        let (parts, body) = request.into_parts();
        let version = match parts.version {
            http::Version::HTTP_10 => Version::Http10,
            _ => Version::Http11,
        };
        let is_connect = parts.method == http::Method::CONNECT;
        let target = if is_connect {
            parts.uri.authority().map_or("", |a| a.as_str())
        } else {
            parts.uri.path_and_query().map_or("/", |p| p.as_str())
        };
        // The fields as the caller gave them, or the header map's.
        let mut fields: Vec<(&[u8], &[u8])> = match parts.extensions.get::<FieldsAsGiven>() {
            Some(given) => given.0.iter().map(|(n, v)| (&n[..], &v[..])).collect(),
            None => parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
                .collect(),
        };
        // RFC 9112 §3.2: Host is the authority without userinfo.
        let host;
        if !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(b"host")) {
            if let Some(authority) = parts.uri.authority() {
                let value = match authority.port() {
                    Some(port) => format!("{}:{port}", authority.host()),
                    None => authority.host().to_owned(),
                };
                host = HeaderValue::from_str(&value).ok();
                if let Some(host) = &host {
                    fields.insert(0, (b"Host", host.as_bytes()));
                }
            }
        }
        let expects_continue = fields
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(b"expect") && is_continue_expectation(v));
        // A body of unknown size sent with the caller's Content-Length is
        // sent as that many bytes (checked as it goes), as a proxy would.
        let declared = fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(b"content-length"))
            .and_then(|(_, v)| gruvi_wire::parse_content_length(v));
        let size = if body.is_end_stream() {
            RequestBody::Empty
        } else {
            match (body.size_hint().exact(), declared) {
                (Some(n), _) | (None, Some(n)) => RequestBody::Exact(n),
                (None, None) => RequestBody::Unknown,
            }
        };
        let sent = self
            .proto
            .send_request(parts.method.as_str(), target, version, &fields, size);
        let id = match sent {
            Ok(id) => id,
            Err(error) => {
                let _ = reply.send(Err(RequestError::Protocol(error)));
                return;
            }
        };
        self.waiting.push_back(Waiting {
            id,
            reply: Some(reply),
        });
        if size != RequestBody::Empty {
            self.sending = Some(Sending {
                id,
                body,
                trailers: None,
                held_until: expects_continue
                    .then(|| deadline_after(now, self.options.expect_continue_timeout)),
            });
        }
    }

    /// Moves the request body being sent into the write buffer.
    fn send_body(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut moved = false;
        while self.proto.write_buf().remaining() < self.options.write_buffer {
            let Some(sending) = self.sending.as_mut() else {
                break;
            };
            if sending.held_until.is_some_and(|until| until > now) {
                break;
            }
            let id = sending.id;
            match Pin::new(&mut sending.body).poll_frame(cx) {
                Poll::Pending => break,
                Poll::Ready(Some(Ok(frame))) => {
                    moved = true;
                    match frame.into_data() {
                        Ok(mut data) => {
                            let data = data.copy_to_bytes(data.remaining());
                            if let Err(error) = self.proto.send_data(id, data) {
                                self.body_failed(id, RequestError::Protocol(error));
                            }
                        }
                        Err(frame) => {
                            if let Ok(trailers) = frame.into_trailers() {
                                match &mut sending.trailers {
                                    Some(all) => all.extend(trailers),
                                    None => sending.trailers = Some(trailers),
                                }
                            }
                        }
                    }
                }
                Poll::Ready(None) => {
                    moved = true;
                    let trailers = self.sending.take().and_then(|s| s.trailers);
                    if let Err(error) = self.proto.finish_request(id, trailers.as_ref()) {
                        self.body_failed(id, RequestError::Protocol(error));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    moved = true;
                    self.body_failed(id, RequestError::Body(Arc::from(error)));
                }
            }
        }
        moved
    }

    /// The body of request `id` cannot be completed: the server waits for
    /// bytes that will never come, so the connection cannot go on. The
    /// request gets `error`; every other one waiting, "closed before
    /// response".
    fn body_failed(&mut self, id: ExchangeId, error: RequestError) {
        self.sending = None;
        // The connection will not be reused; the responses to requests
        // written whole before this one still come and are delivered.
        self.proto.abandon_body(id);
        let never_answered = RequestError::Protocol(ClientError::ClosedBeforeResponse);
        for waiting in self.waiting.iter_mut().filter(|w| w.id >= id) {
            if let Some(reply) = waiting.reply.take() {
                let own = if waiting.id == id {
                    &error
                } else {
                    &never_answered
                };
                let _ = reply.send(Err(own.clone()));
            }
        }
        self.queue.close();
        self.error = Some(error);
    }

    /// Hands read-side events to the callers.
    fn deliver_events(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        loop {
            if let Some(receiving) = self.receiving.as_mut() {
                if let Some(sender) = receiving.sender.as_mut() {
                    match sender.poll_ready(cx) {
                        Poll::Ready(Ok(())) => receiving.paused = false,
                        // The caller dropped the body: read the rest anyway
                        // (the connection stays in step) and throw it away.
                        Poll::Ready(Err(_gone)) => {
                            receiving.sender = None;
                            receiving.paused = false;
                        }
                        Poll::Pending => {
                            receiving.paused = true;
                            return progress;
                        }
                    }
                }
            }
            let Some(event) = self.proto.poll_event() else {
                return progress;
            };
            progress = true;
            match event {
                ClientEvent::Interim { id, status } => {
                    if status == 100 {
                        if let Some(sending) = self.sending.as_mut().filter(|s| s.id == id) {
                            sending.held_until = None;
                        }
                    }
                }
                ClientEvent::Response(response) => {
                    let id = response.id;
                    let (sender, body) = match (response.complete_body, response.body) {
                        // Complete already: no `Data` or `End` follows.
                        (Some(whole), _) => (None, Incoming::full(whole)),
                        (None, WireBody::Length(n)) => {
                            let (tx, rx) =
                                Incoming::channel(self.options.body_buffer.max(1), Some(n));
                            (Some(tx), rx)
                        }
                        (None, _) => {
                            let (tx, rx) = Incoming::channel(self.options.body_buffer.max(1), None);
                            (Some(tx), rx)
                        }
                    };
                    let complete = sender.is_none();
                    let converted = convert::response(
                        response.head,
                        &response.bytes,
                        body,
                        self.options.received_head,
                    );
                    // A final response while the body is held back: the
                    // server decided without it; it is not sent.
                    if let Some(sending) = self.sending.as_ref().filter(|s| s.id == id) {
                        if sending.held_until.is_some() {
                            self.sending = None;
                            self.proto.abandon_body(id);
                        }
                    }
                    let reply = self.pop_waiting(id).and_then(|w| w.reply);
                    let sender = match (reply, converted) {
                        (Some(reply), Ok(response)) => reply.send(Ok(response)).ok().and(sender),
                        (Some(reply), Err(_)) => {
                            let _ = reply.send(Err(RequestError::UnrepresentableResponse));
                            None
                        }
                        (None, _) => None,
                    };
                    if !complete {
                        self.receiving = Some(Receiving {
                            id,
                            sender,
                            paused: false,
                        });
                    }
                }
                ClientEvent::Data { id, data } => {
                    if let Some(receiving) = self.receiving.as_mut().filter(|r| r.id == id) {
                        if let Some(sender) = receiving.sender.as_mut() {
                            if sender.send_data(data).is_err() {
                                receiving.sender = None;
                            }
                        }
                    }
                }
                ClientEvent::End { id, trailers } => {
                    if let Some(receiving) = self.receiving.take_if(|r| r.id == id) {
                        if let Some(sender) = receiving.sender {
                            sender.finish(trailers);
                        }
                    }
                }
                ClientEvent::Upgraded { response, leftover } => {
                    let id = response.id;
                    let converted = convert::response(
                        response.head,
                        &response.bytes,
                        Incoming::empty(),
                        self.options.received_head,
                    );
                    // The state machine hands over only a request that asked
                    // for it (Upgrade, or CONNECT).
                    if let Some(reply) = self.pop_waiting(id).and_then(|w| w.reply) {
                        match converted {
                            Ok(mut response) => {
                                let (tx, on_upgrade) = OnUpgrade::pair();
                                response.extensions_mut().insert(on_upgrade);
                                self.upgrade_to = Some((tx, leftover));
                                let _ = reply.send(Ok(response));
                            }
                            Err(_) => {
                                let _ = reply.send(Err(RequestError::UnrepresentableResponse));
                            }
                        }
                    }
                    self.sending = None;
                    self.break_off(RequestError::Protocol(ClientError::ClosedBeforeResponse));
                    return true;
                }
                ClientEvent::Failed { waiting, error } => {
                    let error = RequestError::Protocol(error);
                    // The oldest request is the one the failure is about;
                    // those behind it were simply never answered.
                    let never_answered = RequestError::Protocol(ClientError::ClosedBeforeResponse);
                    for (n, id) in waiting.into_iter().enumerate() {
                        let own = if n == 0 { &error } else { &never_answered };
                        let reply = self.pop_waiting(id).and_then(|w| w.reply);
                        if let Some(reply) = reply {
                            let _ = reply.send(Err(own.clone()));
                        }
                        if let Some(receiving) = self.receiving.take_if(|r| r.id == id) {
                            if let Some(sender) = receiving.sender {
                                sender.abort(body_error(own));
                            }
                        }
                    }
                    self.sending = None;
                    self.break_off(never_answered);
                    // A server closing with requests unanswered is within
                    // its rights; anything else is the connection's failure.
                    if !matches!(
                        error,
                        RequestError::Protocol(ClientError::ClosedBeforeResponse)
                    ) {
                        self.error.get_or_insert(error);
                    }
                }
            }
        }
    }

    fn pop_waiting(&mut self, id: ExchangeId) -> Option<Waiting> {
        let at = self.waiting.iter().position(|w| w.id == id)?;
        self.waiting.remove(at)
    }

    /// Nothing more happens on this connection: whoever still waits gets
    /// `error`, a body being received is cut, and nothing more is queued.
    fn break_off(&mut self, error: RequestError) {
        for waiting in self.waiting.drain(..) {
            if let Some(reply) = waiting.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        if let Some(receiving) = self.receiving.take() {
            if let Some(sender) = receiving.sender {
                sender.abort(body_error(&error));
            }
        }
        self.queue.close();
    }

    fn fail(&mut self, error: RequestError) -> Poll<Result<(), RequestError>> {
        self.sending = None;
        self.break_off(error.clone());
        self.closed = true;
        self.error = Some(error.clone());
        Poll::Ready(Err(error))
    }

    fn close(&mut self, cx: &mut Context<'_>, now: Instant) -> Poll<Result<(), RequestError>> {
        if self.transport.poll_shutdown(cx).is_pending() {
            // A peer that reads nothing holds the close (TLS writes
            // `close_notify`) up to the write timeout, not forever.
            let wait = self.options.write_timeout.unwrap_or(Duration::from_secs(1));
            let until = *self
                .shutdown_until
                .get_or_insert_with(|| deadline_after(now, wait));
            if self.timer.poll_at(cx, until).is_pending() {
                return Poll::Pending;
            }
        }
        self.break_off(RequestError::Closed);
        // Requests queued after the close get the reason, if there was one.
        while let Ok(envelope) = self.queue.try_recv() {
            let error = self.error.clone().unwrap_or(RequestError::Closed);
            let _ = envelope.reply.send(Err(error));
        }
        self.closed = true;
        Poll::Ready(self.error.clone().map_or(Ok(()), Err))
    }

    fn hand_over(&mut self) {
        self.closed = true;
        self.break_off(RequestError::Closed);
        if let (Some(io), Some((to, leftover))) = (self.transport.take(), self.upgrade_to.take()) {
            let _ = to.send(Upgraded::new(Box::new(io), leftover));
        }
    }
}

/// The error a response body's reader sees when the connection fails.
fn body_error(error: &RequestError) -> BodyError {
    match error {
        RequestError::Protocol(ClientError::Body(e)) => e.clone(),
        _ => BodyError::aborted(),
    }
}
