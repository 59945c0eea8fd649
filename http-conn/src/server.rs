//! The tokio driver of a server connection: runs [`proto::Server`] over a
//! transport and an application [`Handler`].
//!
//! Each turn of [`ServerConnection`]'s poll does the same small things, in
//! order: read the socket when the state machine wants more, hand
//! read-side events to the application (new requests start their handler
//! at once, so pipelined requests are processed together; body bytes go to
//! the request's [`Incoming`]), poll the oldest handler and move its
//! response into the write buffer (then the next, while they are ready),
//! poll the handlers behind it, and write everything buffered in one
//! vectored write. Turns are bounded: after a fixed number the task yields.
//!
//! Per request, the driver allocates nothing of its own: handler futures
//! run in slots reused across requests, which also hold a finished
//! response until the ones before it are written.
//!
//! Backpressure: a request body whose reader lags stops the socket reads
//! (its channel is bounded); a peer that reads slowly stops the response
//! bodies being polled once [`ServerOptions::write_buffer`] bytes wait.
//!
//! Nothing here decides protocol: framing, order, keep-alive, `100
//! Continue` and timeouts are [`proto::Server`]'s.
//!
//! Observability: each request runs in a `request` span (DEBUG) with its
//! method and target, then its status and `duration_us` (from its head to
//! its last byte written) once answered, closed by a DEBUG event; handler
//! futures are polled inside it, so the application's own events nest
//! there. What the peer did wrong is told to the handler once per error
//! ([`Handler::peer_error`]) — never with body data.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Buf, Bytes};
use gruvi_body::{BodyError, BoxError, Incoming, Sender};
use gruvi_wire::{WireError, latin1_text};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Body;
use pin_project::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::convert;
use crate::io::{Timer, Transport, deadline_after, earliest, now};
use crate::proto::{
    self, BodyFraming, Expired, RequestId, ResponseBody, ServerConfig, ServerEvent,
};
use crate::upgrade::{OnUpgrade, Upgraded};

/// Turns of the poll loop before the task yields to others.
const MAX_TURNS: usize = 16;

/// The application behind a server connection: called once per request,
/// in arrival order, possibly before earlier responses are finished
/// (pipelining). Implemented for every `FnMut(Request<Incoming>) -> Future`.
///
/// It cannot fail: turning an application's errors (and panics) into
/// responses is the server's policy, not the connection's.
pub trait Handler {
    /// The response body.
    type Body: Body;
    /// The response, when ready.
    type Future: Future<Output = http::Response<Self::Body>>;

    /// Starts handling `request`.
    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future;

    /// The connection refused something its peer sent; it answers (or
    /// closes) on its own. Called once per error, before the answer is
    /// written: the place to count and log it. Does nothing by default.
    fn peer_error(&mut self, error: &PeerError) {
        let _ = error;
    }
}

/// Something a peer sent that the connection refused. Each ends the
/// connection, after the responses owed before it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PeerError {
    /// A malformed request head, answered with its status (400, 414, 431,
    /// 501, 505).
    Head(WireError),
    /// A request the `http` types cannot carry (a method or target they
    /// refuse), answered 400.
    Unrepresentable,
    /// A request head that did not arrive within the header-read timeout,
    /// answered 408.
    HeadTimedOut,
    /// A request body that was malformed, cut short or stopped arriving.
    Body(BodyError),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Head(e) => write!(f, "malformed request: {e}"),
            PeerError::Unrepresentable => {
                f.write_str("malformed request: a method or target the http types refuse")
            }
            PeerError::HeadTimedOut => f.write_str("request head not received in time"),
            PeerError::Body(e) => write!(f, "request body failed: {e}"),
        }
    }
}

impl std::error::Error for PeerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PeerError::Head(e) => Some(e),
            PeerError::Body(e) => Some(e),
            PeerError::Unrepresentable | PeerError::HeadTimedOut => None,
        }
    }
}

impl<F, Fut, B> Handler for F
where
    F: FnMut(http::Request<Incoming>) -> Fut,
    Fut: Future<Output = http::Response<B>>,
    B: Body,
{
    type Body = B;
    type Future = Fut;

    fn call(&mut self, request: http::Request<Incoming>) -> Fut {
        self(request)
    }
}

/// Settings of a server connection's driver.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The state machine's settings: limits, pipeline depth, timeouts.
    pub proto: ServerConfig,
    /// Most bytes of a request body queued for a slow reader. Default
    /// 64 KiB.
    pub body_buffer: usize,
    /// Response bytes buffered for a slow peer before response bodies stop
    /// being polled. Default 256 KiB.
    pub write_buffer: usize,
    /// A write that makes no progress for this long fails the connection
    /// (the seed's per-operation `timeout`). Default 30 s.
    pub write_timeout: Option<Duration>,
    /// After deciding to close, how long unread request bytes are read and
    /// thrown away so the close does not reset the last response. Default
    /// 1 s.
    pub linger: Duration,
    /// Most time the application may take to start a response, from its
    /// request's head. Past it the handler is dropped (cancelled) and the
    /// library answers `503 Service Unavailable` and closes. Default
    /// `None`: the application is trusted to answer (a client that goes
    /// away is noticed only when its answer is written — half-closed
    /// clients are served).
    pub response_timeout: Option<Duration>,
    /// Put a [`ReceivedHead`](crate::ReceivedHead) (the fields in received
    /// case and order) in every request's extensions. Default `true`;
    /// turning it off saves an allocation and a map insert per request for
    /// applications that read only the `http` types.
    pub received_head: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            proto: ServerConfig::default(),
            body_buffer: gruvi_body::DEFAULT_BODY_BUFFER,
            write_buffer: 256 * 1024,
            write_timeout: Some(Duration::from_secs(30)),
            linger: Duration::from_secs(1),
            response_timeout: None,
            received_head: true,
        }
    }
}

/// Why a server connection ended badly. Peer protocol errors are not among
/// them: those are answered (400, 408, 431, ...) and end the connection
/// normally.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The transport failed.
    Io(io::Error),
    /// A write made no progress within the write timeout.
    WriteTimedOut,
    /// A response body failed mid-way; the peer got a short (or
    /// unterminated) body and the connection was closed.
    ResponseBody(BoxError),
}

impl ConnectionError {
    /// Returns `true` for a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ConnectionError::WriteTimedOut)
    }

    /// Returns `true` for a transport failure.
    pub fn is_io(&self) -> bool {
        matches!(self, ConnectionError::Io(_))
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Io(e) => write!(f, "connection failed: {e}"),
            ConnectionError::WriteTimedOut => f.write_str("timed out writing to the peer"),
            ConnectionError::ResponseBody(e) => write!(f, "response body failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectionError::Io(e) => Some(e),
            ConnectionError::ResponseBody(e) => Some(&**e),
            ConnectionError::WriteTimedOut => None,
        }
    }
}

/// One server connection, as a future that completes when the connection
/// is closed (or handed over after an upgrade). Dropping it closes the
/// connection at once and cancels the handlers still running.
#[pin_project(project = Conn)]
pub struct ServerConnection<T, H: Handler> {
    transport: Transport<T>,
    proto: proto::Server,
    handler: H,
    options: ServerOptions,
    /// Requests handed to the application and not answered, oldest first.
    exchanges: VecDeque<Exchange<H>>,
    /// Emptied handler slots, kept for the next requests.
    spare_slots: Vec<HandlerSlot<H>>,
    /// The request body being received.
    receiving: Option<Receiving>,
    /// The body of the response being sent (the oldest exchange's).
    #[pin]
    sending: Option<H::Body>,
    /// Trailers of that body, once its trailers frame came.
    sending_trailers: Option<HeaderMap>,
    /// Where the transport goes once a switching response is written.
    upgrade_to: Option<oneshot::Sender<Upgraded>>,
    timer: Timer,
    state: State,
    /// The first failure, returned once the connection is closed.
    error: Option<ConnectionError>,
    /// The calendar time for `Date`, read at most once per turn (a burst
    /// of pipelined responses shares it; `Date` has one-second precision).
    wall: Option<SystemTime>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// Sending our end of stream (for TLS: `close_notify`, which must be
    /// written) until `until`.
    ShuttingDown {
        until: Instant,
    },
    /// Our end of stream was sent; unread bytes are thrown away until the
    /// peer closes, `budget` bytes are gone, or `until`.
    Lingering {
        budget: usize,
        until: Instant,
    },
    Closed,
}

/// Unread bytes thrown away at most while lingering.
const LINGER_BYTES: usize = 256 * 1024;

struct Exchange<H: Handler> {
    id: RequestId,
    reply: Reply<H>,
    /// Where the transport goes if this exchange switches protocols.
    upgrade: Option<oneshot::Sender<Upgraded>>,
    /// Its `request` span (disabled unless a subscriber wants it).
    span: tracing::Span,
    /// When its head was parsed (the turn's clock).
    arrived: Instant,
}

/// Where a handler future runs, and where its response waits for the
/// earlier ones: pinned on the heap, emptied in place once the response is
/// taken, and kept for a later request — a connection allocates as many
/// slots as it runs handlers at once, not one per request. The exchange
/// stays small, so queueing and answering it moves a few words.
#[pin_project(project = SlotProj, project_replace = SlotOwn)]
enum Slot<F: Future> {
    Empty,
    Running(#[pin] F),
    Done(F::Output),
}

impl<F: Future> Slot<F> {
    fn is_running(&self) -> bool {
        matches!(self, Slot::Running(_))
    }

    /// Polls a running handler; its response stays in the slot.
    fn poll_keep(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let SlotProj::Running(future) = self.as_mut().project() else {
            return false;
        };
        let Poll::Ready(response) = future.poll(cx) else {
            return false;
        };
        self.set(Slot::Done(response));
        true
    }

    /// The response, taken out (polling the handler if it still runs); the
    /// slot is empty afterwards.
    fn poll_take(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let SlotProj::Running(future) = self.as_mut().project() {
            let response = std::task::ready!(future.poll(cx));
            self.set(Slot::Empty);
            return Poll::Ready(response);
        }
        match self.project_replace(Slot::Empty) {
            SlotOwn::Done(response) => Poll::Ready(response),
            // Only running or done slots are in exchanges.
            SlotOwn::Running(_) | SlotOwn::Empty => Poll::Pending,
        }
    }
}

type HandlerSlot<H> = Pin<Box<Slot<<H as Handler>::Future>>>;

/// Empty slots a connection keeps at most.
const MAX_SPARE_SLOTS: usize = 16;

enum Reply<H: Handler> {
    /// The handler runs, or its response waits in the slot.
    Handling(HandlerSlot<H>),
    /// The library answers instead of the application, and closes.
    Library(StatusCode),
    /// The response is being sent (its body is in `sending`).
    Sending,
}

struct Receiving {
    id: RequestId,
    sender: Sender,
    /// `100 Continue` waits for the reader's first read.
    awaiting_read: bool,
    /// The reader is full: socket reads are paused.
    paused: bool,
}

impl<T, H> ServerConnection<T, H>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    /// Serves `io` with `handler`.
    pub fn new(io: T, handler: H, options: ServerOptions) -> Self {
        ServerConnection {
            transport: Transport::new(io, options.write_timeout),
            proto: proto::Server::new(options.proto.clone(), now(), SystemTime::now()),
            handler,
            options,
            exchanges: VecDeque::new(),
            spare_slots: Vec::new(),
            receiving: None,
            sending: None,
            sending_trailers: None,
            upgrade_to: None,
            timer: Timer::default(),
            state: State::Open,
            error: None,
            wall: None,
        }
    }

    /// Graceful shutdown: no new request is read; those already read are
    /// answered, the last with `Connection: close`; an idle connection
    /// closes at once. Keep polling the connection until it completes.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        self.project().proto.shutdown();
    }
}

impl<T, H: Handler> fmt::Debug for ServerConnection<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConnection")
            .field("proto", &self.proto)
            .field("exchanges", &self.exchanges.len())
            .field("receiving", &self.receiving.as_ref().map(|r| r.id))
            .field("sending", &self.sending.is_some())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T, H> Future for ServerConnection<T, H>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    type Output = Result<(), ConnectionError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        for _ in 0..MAX_TURNS {
            match *this.state {
                State::Open => {}
                State::ShuttingDown { until } => {
                    match this.transport.poll_shutdown(cx) {
                        Poll::Ready(Ok(())) => {
                            let budget = LINGER_BYTES;
                            *this.state = State::Lingering { budget, until };
                        }
                        Poll::Ready(Err(_)) => *this.state = State::Closed,
                        // A peer that reads nothing holds it up to the
                        // deadline, not forever.
                        Poll::Pending => {
                            if this.timer.poll_at(cx, until).is_pending() {
                                return Poll::Pending;
                            }
                            *this.state = State::Closed;
                        }
                    }
                    continue;
                }
                State::Lingering { mut budget, until } => {
                    let drained = this.transport.poll_linger(cx, &mut budget).is_ready();
                    *this.state = State::Lingering { budget, until };
                    if !drained && this.timer.poll_at(cx, until).is_pending() {
                        return Poll::Pending;
                    }
                    *this.state = State::Closed;
                    continue;
                }
                State::Closed => return Poll::Ready(this.error.take().map_or(Ok(()), Err)),
            }
            let now = now();
            *this.wall = None;
            // Read first: a wake-up is most often for new bytes, and what
            // they bring is then handled, answered and written in this
            // same turn.
            let mut progress = false;
            let paused = this.receiving.as_ref().is_some_and(|r| r.paused);
            if this.proto.wants_read() && !paused {
                match this.transport.poll_read(cx, this.proto.read_buf()) {
                    Poll::Ready(Ok(0)) => {
                        this.proto.received_eof();
                        progress = true;
                    }
                    Poll::Ready(Ok(_)) => progress = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(ConnectionError::Io(e))),
                    Poll::Pending => {}
                }
            }
            progress |= deliver_events(&mut this, cx, now);
            // The oldest handler first (its response goes straight out),
            // then those behind it, so handlers start in arrival order.
            progress |= send_responses(&mut this, cx);
            progress |= poll_handlers(&mut this, cx);

            match this.transport.poll_write(cx, this.proto.write_buf(), now) {
                Poll::Ready(Ok(wrote)) => progress |= wrote,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ConnectionError::Io(e))),
                Poll::Pending => {}
            }
            let written = this.proto.write_buf().is_empty();
            if written && this.proto.is_upgraded() && this.sending.is_none() {
                hand_over(&mut this);
                return Poll::Ready(this.error.take().map_or(Ok(()), Err));
            }
            if written && this.proto.is_done() {
                let until = deadline_after(now, this.options.linger);
                *this.state = State::ShuttingDown { until };
                continue;
            }
            if progress {
                continue;
            }
            let write_deadline = this.transport.write_deadline();
            let response_deadline = response_deadline(&this);
            let deadline = earliest(this.proto.poll_timeout(), write_deadline);
            let Some(deadline) = earliest(deadline, response_deadline) else {
                return Poll::Pending;
            };
            if this.timer.poll_at(cx, deadline).is_pending() {
                return Poll::Pending;
            }
            if write_deadline.is_some_and(|d| d <= deadline) {
                return Poll::Ready(Err(ConnectionError::WriteTimedOut));
            }
            if response_deadline.is_some_and(|d| d <= deadline) {
                give_up_on_handlers(&mut this, deadline);
                continue;
            }
            if this.proto.handle_timeout(deadline) == Some(Expired::Head) {
                this.handler.peer_error(&PeerError::HeadTimedOut);
            }
        }
        // Bounded work per poll: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Hands read-side events to the application; `true` if anything happened.
fn deliver_events<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>, now: Instant) -> bool
where
    H: Handler,
{
    let mut progress = false;
    loop {
        if let Some(receiving) = this.receiving.as_mut() {
            if receiving.awaiting_read && receiving.sender.poll_wanted(cx).is_ready() {
                receiving.awaiting_read = false;
                // `poll_wanted` is ready for a dropped reader too, but a
                // body nobody reads must not be asked for: `100 Continue`
                // would make the client send it only to be thrown away.
                // Without it the response closes the connection instead.
                if !receiving.sender.is_reader_gone() {
                    this.proto.body_wanted(receiving.id);
                }
                progress = true;
            }
            match receiving.sender.poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    if receiving.paused {
                        // The socket may be read again (next turn).
                        receiving.paused = false;
                        this.proto.set_body_paused(false, now);
                        progress = true;
                    }
                }
                Poll::Ready(Err(_gone)) => {
                    // Nobody will read the rest: drain it to keep the
                    // connection (the state machine bounds how much).
                    this.proto.body_dropped(receiving.id);
                    stop_receiving(this, now);
                    progress = true;
                }
                Poll::Pending => {
                    if !receiving.paused {
                        receiving.paused = true;
                        this.proto.set_body_paused(true, now);
                    }
                    return progress;
                }
            }
        }
        let Some(event) = this.proto.poll_event(now) else {
            return progress;
        };
        progress = true;
        match event {
            ServerEvent::Request(request) => {
                let id = request.id;
                let (sender, body) = match (request.complete_body, request.body) {
                    (Some(whole), _) => (None, Incoming::full(whole)),
                    (None, BodyFraming::None) => (None, Incoming::empty()),
                    (None, BodyFraming::Length(n)) => {
                        let (tx, rx) = Incoming::channel(this.options.body_buffer.max(1), Some(n));
                        (Some(tx), rx)
                    }
                    (None, BodyFraming::Chunked) => {
                        let (tx, rx) = Incoming::channel(this.options.body_buffer.max(1), None);
                        (Some(tx), rx)
                    }
                };
                let hands_over = request.upgrade || request.connect;
                let awaiting_read = request.expects_continue;
                let span = tracing::debug_span!(
                    "request",
                    method = %latin1_text(request.head.method().of(&request.bytes)),
                    target = %latin1_text(request.head.target().of(&request.bytes)),
                    status = tracing::field::Empty,
                    duration_us = tracing::field::Empty,
                );
                let converted = convert::request(
                    request.head,
                    &request.bytes,
                    body,
                    this.options.received_head,
                );
                if let Some(sender) = sender {
                    *this.receiving = Some(Receiving {
                        id,
                        sender,
                        awaiting_read,
                        paused: false,
                    });
                }
                let exchange = match converted {
                    Ok(mut request) => {
                        let upgrade = hands_over.then(|| {
                            let (tx, on_upgrade) = OnUpgrade::pair();
                            request.extensions_mut().insert(on_upgrade);
                            tx
                        });
                        let mut slot = this
                            .spare_slots
                            .pop()
                            .unwrap_or_else(|| Box::pin(Slot::Empty));
                        slot.set(Slot::Running(span.in_scope(|| this.handler.call(request))));
                        Exchange {
                            id,
                            reply: Reply::Handling(slot),
                            upgrade,
                            span,
                            arrived: now,
                        }
                    }
                    Err(_) => {
                        // Answered 400 and closed like any malformed
                        // request: nothing after it is parsed (the
                        // requests before it are still answered).
                        this.handler.peer_error(&PeerError::Unrepresentable);
                        this.proto.shutdown();
                        Exchange {
                            id,
                            reply: Reply::Library(StatusCode::BAD_REQUEST),
                            upgrade: None,
                            span,
                            arrived: now,
                        }
                    }
                };
                this.exchanges.push_back(exchange);
            }
            ServerEvent::Data { id, data } => {
                if let Some(receiving) = this.receiving.as_mut().filter(|r| r.id == id) {
                    if receiving.sender.send_data(data).is_err() {
                        this.proto.body_dropped(id);
                        stop_receiving(this, now);
                    }
                }
            }
            ServerEvent::End { id, trailers } => {
                if let Some(receiving) = take_receiving(this, id, now) {
                    receiving.sender.finish(trailers);
                }
            }
            ServerEvent::BodyFailed { id, error } => {
                this.handler.peer_error(&PeerError::Body(error.clone()));
                if let Some(receiving) = take_receiving(this, id, now) {
                    receiving.sender.abort(error);
                }
            }
            // The state machine answers malformed requests itself.
            ServerEvent::Rejected(error) => this.handler.peer_error(&PeerError::Head(error)),
        }
    }
}

fn take_receiving<T, H: Handler>(
    this: &mut Conn<'_, T, H>,
    id: RequestId,
    now: Instant,
) -> Option<Receiving> {
    if this.receiving.as_ref().is_some_and(|r| r.id == id) {
        let receiving = this.receiving.take();
        if receiving.as_ref().is_some_and(|r| r.paused) {
            this.proto.set_body_paused(false, now);
        }
        return receiving;
    }
    None
}

/// Stops feeding the body being received; a reader still holding it gets
/// an "aborted" error rather than a silently short body.
fn stop_receiving<T, H: Handler>(this: &mut Conn<'_, T, H>, now: Instant) {
    if let Some(receiving) = this.receiving.take() {
        if receiving.paused {
            this.proto.set_body_paused(false, now);
        }
        receiving.sender.abort(BodyError::aborted());
    }
}

/// When the oldest running handler runs out of time, if it can.
fn response_deadline<T, H: Handler>(this: &Conn<'_, T, H>) -> Option<Instant> {
    let limit = this.options.response_timeout?;
    let oldest = this
        .exchanges
        .iter()
        .find(|e| matches!(&e.reply, Reply::Handling(slot) if slot.is_running()))?;
    Some(deadline_after(oldest.arrived, limit))
}

/// Drops the handlers that ran out of time; the library answers for them
/// (`503`, and the connection closes after the first).
fn give_up_on_handlers<T, H: Handler>(this: &mut Conn<'_, T, H>, now: Instant) {
    let Some(limit) = this.options.response_timeout else {
        return;
    };
    for exchange in this.exchanges.iter_mut() {
        if matches!(&exchange.reply, Reply::Handling(slot) if slot.is_running())
            && deadline_after(exchange.arrived, limit) <= now
        {
            tracing::warn!(parent: &exchange.span, ?limit, "the application did not answer in time; answering 503");
            exchange.reply = Reply::Library(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
}

/// Polls the running handlers behind the oldest (pipelined requests are
/// processed together; [`send_responses`] polls the oldest); `true` if one
/// finished.
fn poll_handlers<T, H: Handler>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>) -> bool {
    let mut progress = false;
    for exchange in this.exchanges.iter_mut().skip(1) {
        if let Reply::Handling(slot) = &mut exchange.reply {
            progress |= exchange.span.in_scope(|| slot.as_mut().poll_keep(cx));
        }
    }
    progress
}

/// Moves finished responses, oldest first, into the write buffer until one
/// is still being computed or the buffer is full; `true` if anything moved.
fn send_responses<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>) -> bool
where
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    let mut progress = false;
    loop {
        let Some(front) = this.exchanges.front_mut() else {
            return progress;
        };
        let id = front.id;
        match std::mem::replace(&mut front.reply, Reply::Sending) {
            // The oldest handler is polled here, so its response goes
            // straight out when it is ready.
            Reply::Handling(mut slot) => {
                let polled = front.span.in_scope(|| slot.as_mut().poll_take(cx));
                let Poll::Ready(response) = polled else {
                    front.reply = Reply::Handling(slot);
                    return progress;
                };
                if this.spare_slots.len() < MAX_SPARE_SLOTS {
                    this.spare_slots.push(slot);
                }
                progress = true;
                start_response(this, id, response);
            }
            Reply::Library(status) => {
                progress = true;
                respond_plain(this, id, status, true);
            }
            Reply::Sending => match stream_body(this, cx, id) {
                Streamed::Finished => progress = true,
                Streamed::Blocked(moved) => return progress | moved,
            },
        }
    }
}

enum Streamed {
    /// The response is complete (or aborted); the next one can go.
    Finished,
    /// The body has nothing more for now, or the write buffer is full;
    /// `true` if some of it moved.
    Blocked(bool),
}

fn start_response<T, H>(this: &mut Conn<'_, T, H>, id: RequestId, response: http::Response<H::Body>)
where
    H: Handler,
{
    let (parts, body) = response.into_parts();
    let size = if body.is_end_stream() {
        ResponseBody::Empty
    } else {
        match body.size_hint().exact() {
            Some(n) => ResponseBody::Exact(n),
            None => ResponseBody::Unknown,
        }
    };
    let wall = wall(this);
    let started = this
        .proto
        .start_response(id, parts.status.as_u16(), &parts.headers, size, wall);
    if started.is_ok() {
        record_status(this, parts.status);
    }
    match started {
        Ok(true) => {
            this.sending.set(Some(body));
            *this.sending_trailers = None;
        }
        Ok(false) => {
            drop(body);
            finish_response(this, id, None);
        }
        Err(error) => {
            tracing::error!(%error, status = parts.status.as_u16(), "invalid response from the application; answering 500");
            respond_plain(this, id, StatusCode::INTERNAL_SERVER_ERROR, false);
        }
    }
}

/// Moves the body of the response to `id` into the write buffer.
fn stream_body<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>, id: RequestId) -> Streamed
where
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    let mut moved = false;
    while this.proto.write_buf().remaining() < this.options.write_buffer {
        let Some(body) = this.sending.as_mut().as_pin_mut() else {
            // Not streaming (cannot happen once `Sending`): move on.
            finish_response(this, id, None);
            return Streamed::Finished;
        };
        match body.poll_frame(cx) {
            Poll::Pending => return Streamed::Blocked(moved),
            Poll::Ready(Some(Ok(frame))) => {
                moved = true;
                match frame.into_data() {
                    Ok(mut data) => {
                        let data = data.copy_to_bytes(data.remaining());
                        if let Err(error) = this.proto.send_data(id, data) {
                            abort_response(this, id, error.into());
                            return Streamed::Finished;
                        }
                    }
                    Err(frame) => {
                        if let Ok(trailers) = frame.into_trailers() {
                            match this.sending_trailers {
                                Some(all) => all.extend(trailers),
                                None => *this.sending_trailers = Some(trailers),
                            }
                        }
                    }
                }
            }
            Poll::Ready(None) => {
                this.sending.set(None);
                let trailers = this.sending_trailers.take();
                finish_response(this, id, trailers.as_ref());
                return Streamed::Finished;
            }
            Poll::Ready(Some(Err(error))) => {
                abort_response(this, id, error.into());
                return Streamed::Finished;
            }
        }
    }
    Streamed::Blocked(moved)
}

fn finish_response<T, H: Handler>(
    this: &mut Conn<'_, T, H>,
    id: RequestId,
    trailers: Option<&HeaderMap>,
) {
    if let Err(error) = this.proto.finish_response(id, trailers) {
        abort_response(this, id, error.into());
        return;
    }
    answered(this, id);
}

/// The response to `id` cannot be completed: the peer gets what was
/// written (a short body it detects) and the connection closes.
fn abort_response<T, H: Handler>(this: &mut Conn<'_, T, H>, id: RequestId, error: BoxError) {
    tracing::debug!(%error, "response body failed; closing the connection");
    this.proto.abort_response(id);
    this.error
        .get_or_insert(ConnectionError::ResponseBody(error));
    this.sending.set(None);
    answered(this, id);
}

/// Puts the status of the response being started on its request's span.
fn record_status<T, H: Handler>(this: &mut Conn<'_, T, H>, status: StatusCode) {
    if let Some(exchange) = this.exchanges.front() {
        exchange.span.record("status", status.as_u16());
    }
}

/// The exchange `id` is over on our side.
fn answered<T, H: Handler>(this: &mut Conn<'_, T, H>, id: RequestId) {
    if let Some(exchange) = this.exchanges.pop_front() {
        if !exchange.span.is_disabled() {
            let duration = now().saturating_duration_since(exchange.arrived);
            let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
            exchange.span.record("duration_us", micros);
            tracing::debug!(parent: &exchange.span, "answered");
        }
        if this.proto.is_switching() {
            *this.upgrade_to = exchange.upgrade;
        }
    }
    // A response that closed the connection leaves the requests behind it
    // unanswerable (their clients learn it from the close): their handlers
    // are dropped, not answered.
    if this.proto.unanswered() < this.exchanges.len() {
        this.exchanges.clear();
    }
    // A body still arriving for an answered request is the state machine's
    // to drain now; its reader (if any) is told it was cut.
    if this.receiving.as_ref().is_some_and(|r| r.id == id) {
        stop_receiving(this, now());
    }
}

/// The calendar time of this turn, read once.
fn wall<T, H: Handler>(this: &mut Conn<'_, T, H>) -> SystemTime {
    *this.wall.get_or_insert_with(SystemTime::now)
}

/// A short plain-text response written by the library.
fn respond_plain<T, H: Handler>(
    this: &mut Conn<'_, T, H>,
    id: RequestId,
    status: StatusCode,
    close: bool,
) {
    let reason = status.canonical_reason().unwrap_or("Error");
    let text = format!("{} {reason}\n", status.as_u16());
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if close {
        headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    }
    let size = ResponseBody::Exact(text.len() as u64);
    let wall = wall(this);
    record_status(this, status);
    let sent = this
        .proto
        .start_response(id, status.as_u16(), &headers, size, wall)
        .and_then(|_| this.proto.send_data(id, Bytes::from(text)));
    match sent {
        Ok(()) => finish_response(this, id, None),
        Err(error) => abort_response(this, id, error.into()),
    }
}

/// The switching response is written: the transport and the bytes read
/// after the request go to the application.
fn hand_over<T, H>(this: &mut Conn<'_, T, H>)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    *this.state = State::Closed;
    let leftover = this.proto.take_leftover();
    if let (Some(io), Some(to)) = (this.transport.take(), this.upgrade_to.take()) {
        // An application that dropped its `OnUpgrade` closes the transport.
        let _ = to.send(Upgraded::new(Box::new(io), leftover));
    }
}
