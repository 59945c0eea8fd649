//! The tokio driver of a client connection: runs [`proto::Client`] over a
//! transport, fed by [`SendRequest`] handles.
//!
//! [`handshake`] splits a connection in two: [`SendRequest`], cheap to
//! clone, checks and queues requests and returns a [`ResponseFuture`] for
//! each; the [`ClientConnection`] future (spawn it) does the IO. Requests
//! go out in the order they were queued, each as soon as the one before it
//! is written — without waiting for responses (pipelining) — and responses
//! come back in that order, each to its own future.
//!
//! Nothing here decides protocol: how a request is written, `100 Continue`,
//! framing, keep-alive and the timers are [`proto`]'s; the driver moves
//! bytes, bodies and replies.
//!
//! Backpressure: a response body whose reader lags stops the socket reads;
//! a server that reads slowly stops the request bodies being polled once
//! [`ClientConfig::write_buffer`](proto::ClientConfig::write_buffer) bytes
//! wait.
//!
//! When the connection fails, the request the failure is about gets the
//! error (a response body being read is cut with it), every request behind
//! it gets "connection closed before response", and requests queued later
//! get [`RequestError::Closed`] — never another request's response.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gruvi_body::{BodyError, Incoming, Outgoing};
use gruvi_wire::BodyFraming;
use http::HeaderMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use crate::body::{Feed, Pumped, Readiness, Sink, incoming, pump};
use crate::convert::Converter;
use crate::io::{Timer, Transport, deadline_after, earliest, now};
use crate::proto::{
    self, ClientConfig, ClientEvent, ExchangeId, LocalError, RequestBodyState, ResponseError,
};
use crate::upgrade::{OnUpgrade, Upgraded};

mod handle;

use handle::{Envelope, InFlight, Reply, Signals};
pub use handle::{FieldsAsGiven, RequestError, ResponseFuture, SendRequest, ThroughProxy};

/// Turns of the poll loop before the task yields to others.
const MAX_TURNS: usize = 16;

/// Settings of a client connection: the state machine's, and the driver's
/// own (buffers and IO timing).
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The state machine's settings: limits on responses, timeouts, the
    /// write buffer.
    pub proto: ClientConfig,
    /// Most bytes of a response body queued for a slow reader. Default
    /// 64 KiB.
    pub body_buffer: usize,
    /// A write that makes no progress for this long fails the connection.
    /// Default 30 s.
    pub write_timeout: Option<Duration>,
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
            write_timeout: Some(Duration::from_secs(30)),
            received_head: true,
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
    let now = now();
    let signals = Arc::new(Signals {
        closing: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        idle_since: AtomicU64::new(0),
        epoch: now,
        room: std::sync::OnceLock::new(),
    });
    let connection = ClientConnection {
        transport: Transport::new(io, options.write_timeout),
        proto: proto::Client::new(options.proto, now),
        converter: Converter::new(options.received_head),
        options,
        queue: incoming,
        signals: Arc::clone(&signals),
        waiting: VecDeque::new(),
        sending: None,
        receiving: None,
        upgrade_to: None,
        timer: Timer::default(),
        closed: false,
        shutdown_until: None,
        error: None,
    };
    (SendRequest { queue, signals }, connection)
}

/// One client connection, as a future that completes when the connection
/// is closed: every [`SendRequest`] dropped and nothing in flight, the
/// server closed it, it failed, or it was handed over after an upgrade.
pub struct ClientConnection<T> {
    transport: Transport<T>,
    proto: proto::Client,
    /// Makes `http` responses of the parsed heads, with the field names of
    /// the ones before.
    converter: Converter,
    options: ClientOptions,
    queue: mpsc::UnboundedReceiver<Envelope>,
    signals: Arc<Signals>,
    /// Requests written (or being written) without a response head yet.
    waiting: VecDeque<Waiting>,
    /// The request body being written, and its trailers once they came.
    sending: Option<(ExchangeId, Outgoing, Option<HeaderMap>)>,
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
    counted: InFlight,
}

/// The response body being received.
struct Receiving {
    id: ExchangeId,
    /// `None` when the caller dropped the response (its body is read and
    /// thrown away).
    feed: Option<Feed<ExchangeId>>,
    _counted: InFlight,
}

impl<T> fmt::Debug for ClientConnection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConnection")
            .field("proto", &self.proto)
            .field("waiting", &self.waiting.len())
            .field("sending", &self.sending.as_ref().map(|(id, ..)| *id))
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
        // One clock reading serves every turn of this poll, as a poll is
        // short (a fired timer takes a new one).
        let mut now = now();
        // The queue and the socket, once they answered `Pending`, hold this
        // task's waker until they have more: asking them again in a later
        // turn of this poll would only register it again.
        let mut queue_waits = false;
        let mut read_waits = false;
        for _ in 0..MAX_TURNS {
            let mut progress = !queue_waits && this.take_requests(cx, now, &mut queue_waits);
            progress |= this.send_body(cx, now);
            progress |= this.deliver_events(cx, now);

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
            if this.proto.wants_read() && !read_waits {
                match this.transport.poll_read(cx, this.proto.read_buf()) {
                    Poll::Ready(Ok(0)) => {
                        this.proto.received_eof();
                        progress = true;
                    }
                    Poll::Ready(Ok(_)) => progress = true,
                    Poll::Ready(Err(e)) => return this.fail(RequestError::Io(Arc::new(e))),
                    Poll::Pending => read_waits = true,
                }
            }
            if progress {
                continue;
            }
            this.signals
                .closing
                .store(this.proto.is_closing(), Ordering::Relaxed);
            this.signals.set_idle(this.proto.idle_since());
            let write_deadline = this.transport.write_deadline();
            let Some(deadline) = earliest(this.proto.poll_timeout(), write_deadline) else {
                return Poll::Pending;
            };
            if this.timer.poll_at(cx, deadline).is_pending() {
                return Poll::Pending;
            }
            if write_deadline.is_some_and(|d| d <= deadline) {
                return this.fail(RequestError::WriteTimedOut);
            }
            // What expired is reported by the next turn's events.
            this.proto.handle_timeout(deadline);
            now = crate::io::now();
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<T> ClientConnection<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Writes queued requests' heads while the connection can take them;
    /// `waits` is set when the queue has no more for now.
    fn take_requests(&mut self, cx: &mut Context<'_>, now: Instant, waits: &mut bool) -> bool {
        let mut progress = false;
        while self.proto.can_send() && self.proto.can_buffer_more() {
            let Poll::Ready(Some(envelope)) = self.queue.poll_recv(cx) else {
                *waits = true;
                break;
            };
            progress = true;
            let Envelope {
                request,
                body,
                reply,
                spare,
                counted,
            } = envelope;
            if let Some(map) = spare {
                self.converter.recycle(map);
            }
            if reply.is_closed() {
                // Nobody waits for it any more: not sent.
                continue;
            }
            match self.proto.send_prepared(&request, now) {
                Ok(id) => {
                    self.waiting.push_back(Waiting {
                        id,
                        reply: Some(reply),
                        counted,
                    });
                    if request.body_framing() != BodyFraming::Empty {
                        self.sending = Some((id, body, None));
                    }
                }
                Err(error) => {
                    let _ = reply.send(Err(RequestError::Local(error)));
                }
            }
        }
        progress
    }

    /// Moves the request body being sent into the write buffer, when the
    /// state machine wants it (not while held for `100 Continue`); drops it
    /// when the state machine no longer does.
    fn send_body(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some((id, body, trailers)) = self.sending.as_mut() else {
            return false;
        };
        let id = *id;
        match self.proto.request_body() {
            RequestBodyState::Wanted(wanted) if wanted == id => {}
            RequestBodyState::Held(held) if held == id => return false,
            // Abandoned: a final response came while it was held back, or
            // the connection failed.
            _ => {
                self.sending = None;
                return true;
            }
        }
        let mut sink = RequestSink {
            proto: &mut self.proto,
            id,
            now,
        };
        match pump(Pin::new(body), trailers, cx, &mut sink) {
            Pumped::Finished => {
                self.sending = None;
                true
            }
            Pumped::Blocked(moved) => moved,
            Pumped::Failed(error) => {
                self.body_failed(id, RequestError::Body(Arc::from(error)));
                true
            }
        }
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
        let never_answered = RequestError::Response(ResponseError::ClosedBeforeResponse);
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
    fn deliver_events(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progress = false;
        if let Some(Receiving {
            feed: Some(feed), ..
        }) = self.receiving.as_mut()
        {
            match feed.poll_ready(cx) {
                // Resumed: the socket is read again (next turn).
                Readiness::Ready => progress |= self.proto.set_body_paused(false, now),
                Readiness::Full => {
                    self.proto.set_body_paused(true, now);
                }
                // The caller dropped the body: the rest is read and thrown
                // away (the connection stays in step), within bounds.
                Readiness::Gone => {
                    if let Some(receiving) = self.receiving.as_mut() {
                        receiving.feed = None;
                        self.proto.body_dropped(receiving.id);
                    }
                    progress = true;
                }
            }
        }
        while let Some(event) = self.proto.poll_event(now) {
            progress = true;
            match event {
                // A `100 Continue` releases a held body: the state machine's.
                ClientEvent::Interim { .. } => {}
                ClientEvent::Response(response) => {
                    let arrived =
                        Arrived::new(response, &mut self.converter, self.options.body_buffer);
                    self.deliver_response(arrived);
                }
                ClientEvent::Data { id, data } => {
                    if let Some(receiving) = self.receiving.as_mut().filter(|r| r.id == id) {
                        if receiving.feed.as_mut().is_some_and(|f| !f.data(data)) {
                            receiving.feed = None;
                            self.proto.body_dropped(id);
                        }
                    }
                }
                ClientEvent::End { id, trailers } => {
                    // Its exchange is over: the count goes down as it drops.
                    if let Some(receiving) = self.receiving.take_if(|r| r.id == id) {
                        if let Some(feed) = receiving.feed {
                            feed.finish(trailers);
                        }
                    }
                }
                ClientEvent::Upgraded { response, leftover } => {
                    let id = response.id;
                    // The body of a switching response is the new protocol.
                    let converted =
                        self.converter
                            .response(response.head, &response.bytes, Incoming::empty());
                    self.hand_over_response(id, converted.ok(), leftover);
                    return true;
                }
                ClientEvent::Failed { waiting, error } => self.connection_failed(waiting, error),
            }
        }
        progress
    }

    /// A final response head: to its caller, with its body (whole, or fed
    /// as it comes).
    fn deliver_response(&mut self, arrived: Arrived) {
        let Arrived {
            id,
            response,
            sender,
        } = arrived;
        let complete = sender.is_none();
        let Some(Waiting { reply, counted, .. }) = self.pop_waiting(id) else {
            // Not reached: the state machine reports responses only to
            // requests sent, and their waits are removed before a response
            // only once the connection has failed (`break_off`,
            // `connection_failed`), after which none comes. Were it reached,
            // the body would be thrown away.
            self.proto.body_dropped(id);
            return;
        };
        let feed = match (reply, response) {
            (Some(reply), Some(response)) => reply
                .send(Ok(response))
                .ok()
                .and(sender)
                .map(|sender| Feed::new(id, sender)),
            (Some(reply), None) => {
                let error = ResponseError::Unrepresentable;
                let _ = reply.send(Err(RequestError::Response(error)));
                None
            }
            (None, _) => None,
        };
        // A complete response ends its exchange here (`counted` drops).
        if !complete {
            // Nobody reads it: thrown away, within bounds.
            if feed.is_none() {
                self.proto.body_dropped(id);
            }
            self.receiving = Some(Receiving {
                id,
                feed,
                _counted: counted,
            });
        }
    }

    /// A switching response: to its caller with the connection's
    /// hand-over; nothing else will be answered here.
    fn hand_over_response(
        &mut self,
        id: ExchangeId,
        response: Option<http::Response<Incoming>>,
        leftover: Bytes,
    ) {
        // The state machine hands over only a request that asked for it
        // (Upgrade, or CONNECT).
        if let Some(reply) = self.pop_waiting(id).and_then(|w| w.reply) {
            match response {
                Some(mut response) => {
                    let (tx, on_upgrade) = OnUpgrade::pair();
                    response.extensions_mut().insert(on_upgrade);
                    self.upgrade_to = Some((tx, leftover));
                    let _ = reply.send(Ok(response));
                }
                None => {
                    let error = ResponseError::Unrepresentable;
                    let _ = reply.send(Err(RequestError::Response(error)));
                }
            }
        }
        self.sending = None;
        self.break_off(RequestError::Response(ResponseError::ClosedBeforeResponse));
    }

    /// The connection failed: the oldest request waiting is the one the
    /// failure is about; those behind it were simply never answered.
    fn connection_failed(&mut self, waiting: Vec<ExchangeId>, error: ResponseError) {
        let error = RequestError::Response(error);
        let never_answered = RequestError::Response(ResponseError::ClosedBeforeResponse);
        for (n, id) in waiting.into_iter().enumerate() {
            let own = if n == 0 { &error } else { &never_answered };
            let reply = self.pop_waiting(id).and_then(|w| w.reply);
            if let Some(reply) = reply {
                let _ = reply.send(Err(own.clone()));
            }
            if let Some(receiving) = self.receiving.take_if(|r| r.id == id) {
                if let Some(feed) = receiving.feed {
                    feed.abort(body_error(own));
                }
            }
        }
        self.sending = None;
        self.break_off(never_answered);
        // A server closing with requests unanswered is within its rights;
        // anything else is the connection's failure.
        if !matches!(
            error,
            RequestError::Response(ResponseError::ClosedBeforeResponse)
        ) {
            self.error.get_or_insert(error);
        }
    }

    fn pop_waiting(&mut self, id: ExchangeId) -> Option<Waiting> {
        let at = self.waiting.iter().position(|w| w.id == id)?;
        self.waiting.remove(at)
    }

    /// Nothing more happens on this connection: whoever still waits gets
    /// `error`, a body being received is cut, and nothing more is queued.
    fn break_off(&mut self, error: RequestError) {
        self.signals.closing.store(true, Ordering::Relaxed);
        self.signals.announce_change();
        for waiting in self.waiting.drain(..) {
            if let Some(reply) = waiting.reply {
                let _ = reply.send(Err(error.clone()));
            }
        }
        if let Some(feed) = self.receiving.take().and_then(|r| r.feed) {
            feed.abort(body_error(&error));
        }
        self.queue.close();
    }

    fn fail(&mut self, error: RequestError) -> Poll<Result<(), RequestError>> {
        tracing::debug!(%error, "connection failed");
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
        tracing::debug!("connection closed");
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

/// A response head taken off the state machine (which lends it only until
/// the next event), as its caller gets it.
struct Arrived {
    id: ExchangeId,
    /// `None` when the `http` types cannot carry it.
    response: Option<http::Response<Incoming>>,
    /// Where its body is fed, when it comes after the head.
    sender: Option<gruvi_body::Sender>,
}

impl Arrived {
    fn new(
        response: proto::Response<'_>,
        converter: &mut Converter,
        body_buffer: usize,
    ) -> Arrived {
        let (sender, body) = incoming(response.complete_body, response.body, body_buffer);
        let converted = converter.response(response.head, &response.bytes, body);
        Arrived {
            id: response.id,
            response: converted.ok(),
            sender,
        }
    }
}

/// The request being sent, as a destination for its body.
struct RequestSink<'a> {
    proto: &'a mut proto::Client,
    id: ExchangeId,
    now: Instant,
}

impl Sink for RequestSink<'_> {
    fn has_room(&self) -> bool {
        self.proto.can_buffer_more()
    }

    fn data(&mut self, data: Bytes) -> Result<(), LocalError> {
        self.proto.send_data(self.id, data)
    }

    fn finish(&mut self, trailers: Option<&HeaderMap>) -> Result<(), LocalError> {
        self.proto.finish_request(self.id, trailers, self.now)
    }
}

/// The error a response body's reader sees when the connection fails.
fn body_error(error: &RequestError) -> BodyError {
    match error {
        RequestError::Response(ResponseError::Body(e)) => e.clone(),
        _ => BodyError::aborted(),
    }
}
