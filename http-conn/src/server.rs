//! The tokio driver of a server connection: runs [`proto::Server`] over a
//! transport and an application [`Handler`].
//!
//! Each turn of [`ServerConnection`]'s poll does the same small things, in
//! order: read the socket when the state machine wants more, act on its
//! events (a new request starts its handler at once, so pipelined requests
//! are processed together; body bytes go to the request's [`Incoming`](gruvi_body::Incoming)),
//! move the oldest handler's response into the write buffer (then the
//! next, while they are ready), poll the handlers behind it, and write
//! everything buffered in one vectored write. Turns are bounded: after a
//! fixed number the task yields.
//!
//! Nothing here decides protocol — framing, order, keep-alive, `100
//! Continue`, timeouts and the library's own answers are
//! [`proto::Server`]'s. The driver owns the IO, the application's futures
//! and waking; it learns what was decided from the state machine's events
//! and getters, and keeps no copy of its queues.
//!
//! Per request, the driver allocates nothing of its own: handler futures
//! run in slots reused across requests, which also hold a finished
//! response until the ones before it are written.
//!
//! Backpressure: a request body whose reader lags stops the socket reads
//! (its channel is bounded); a peer that reads slowly stops the response
//! bodies being polled, the handlers behind the oldest being run, and new
//! requests being parsed once [`ServerConfig::write_buffer`] bytes wait.
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
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use gruvi_body::{BodyError, BoxError};
use gruvi_wire::latin1_text;
use http::{HeaderMap, StatusCode};
use http_body::Body;
use pin_project::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::oneshot;

use crate::body::{Feed, Pumped, Readiness, Sink, incoming, pump};
use crate::convert::Converter;
use crate::io::{Timer, Transport, deadline_after, earliest, now};
pub use crate::proto::PeerError;
use crate::proto::{self, BodySize, LocalError, RequestId, ServerConfig, ServerEvent};
use crate::upgrade::{OnUpgrade, Upgraded};

mod exchange;
mod handler;

use exchange::{Exchange, HandlerSlot, MAX_SPARE_SLOTS, Slot};
pub use handler::{Answered, ConnectionError, Handler};

/// Turns of the poll loop before the task yields to others.
const MAX_TURNS: usize = 16;

/// Settings of a server connection: the state machine's, and the driver's
/// own (buffers and IO timing).
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// The state machine's settings: limits, pipeline depth, timeouts,
    /// the write buffer.
    pub proto: ServerConfig,
    /// Most bytes of a request body queued for a slow reader. Default
    /// 64 KiB.
    pub body_buffer: usize,
    /// A write that makes no progress for this long fails the connection.
    /// Default 30 s.
    pub write_timeout: Option<Duration>,
    /// After deciding to close, how long unread request bytes are read and
    /// thrown away so the close does not reset the last response. Default
    /// 1 s.
    pub linger: Duration,
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
            write_timeout: Some(Duration::from_secs(30)),
            linger: Duration::from_secs(1),
            received_head: true,
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
    /// The application's work for the requests not answered yet, oldest
    /// first.
    exchanges: VecDeque<Exchange<H>>,
    /// Emptied handler slots, kept for the next requests.
    spare_slots: Vec<HandlerSlot<H>>,
    /// Makes `http` requests of the parsed heads, with what earlier ones
    /// left (their field names, a response's emptied header map).
    converter: Converter,
    /// The request body being received, and whether its reader has yet to
    /// ask for it (`100 Continue`).
    receiving: Option<(Feed<RequestId>, bool)>,
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
            converter: Converter::new(options.received_head),
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
        }
    }

    /// Graceful shutdown: no new request is read; those already read are
    /// answered, the last with `Connection: close`; an idle connection
    /// closes at once. Keep polling the connection until it completes.
    pub fn graceful_shutdown(self: Pin<&mut Self>) {
        self.project().proto.shutdown();
    }

    /// Returns `true` while the connection holds no request (see
    /// [`proto::Server::is_idle`]): closing it now loses nothing.
    pub fn is_idle(&self) -> bool {
        self.proto.is_idle() && self.exchanges.is_empty()
    }
}

impl<T, H: Handler> fmt::Debug for ServerConnection<T, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConnection")
            .field("proto", &self.proto)
            .field("exchanges", &self.exchanges.len())
            .field(
                "receiving",
                &self.receiving.as_ref().map(|(feed, _)| feed.id),
            )
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
        // One clock reading serves every turn of this poll, as a poll is
        // short (a fired timer takes a new one). A handler that blocks in
        // its poll for long makes what follows in this poll look earlier
        // by that much (a response's duration, the next timers' start).
        let mut now = now();
        for _ in 0..MAX_TURNS {
            match *this.state {
                State::Open => {}
                State::Closed => return Poll::Ready(this.error.take().map_or(Ok(()), Err)),
                _ => {
                    if close(&mut this, cx).is_pending() {
                        return Poll::Pending;
                    }
                    continue;
                }
            }
            // Read first: a wake-up is most often for new bytes, and what
            // they bring is then handled, answered and written in this
            // same turn.
            let mut progress = false;
            if this.proto.wants_read() {
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
            progress |= send_responses(&mut this, cx, now);
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
            let Some(deadline) = earliest(this.proto.poll_timeout(), write_deadline) else {
                return Poll::Pending;
            };
            if this.timer.poll_at(cx, deadline).is_pending() {
                return Poll::Pending;
            }
            if write_deadline.is_some_and(|d| d <= deadline) {
                return Poll::Ready(Err(ConnectionError::WriteTimedOut));
            }
            // What expired is reported by the next turn's events.
            this.proto.handle_timeout(deadline);
            now = crate::io::now();
        }
        // Bounded work per poll: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Takes a closing connection a step on: our end of stream sent (for TLS,
/// `close_notify`), then — when the peer may still be sending — unread
/// bytes thrown away a while, so the close does not reset the last
/// response. Ready once a step is done (`Closed` when all are).
fn close<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>) -> Poll<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    match *this.state {
        State::ShuttingDown { until } => match this.transport.poll_shutdown(cx) {
            // Lingering only when the peer may still be sending (else the
            // close frees the connection at once).
            Poll::Ready(Ok(())) if this.proto.peer_may_be_sending() => {
                let budget = LINGER_BYTES;
                *this.state = State::Lingering { budget, until };
            }
            Poll::Ready(_) => *this.state = State::Closed,
            // A peer that reads nothing holds it up to the deadline, not
            // forever.
            Poll::Pending => {
                ready!(this.timer.poll_at(cx, until));
                *this.state = State::Closed;
            }
        },
        State::Lingering { mut budget, until } => {
            let drained = this.transport.poll_linger(cx, &mut budget).is_ready();
            *this.state = State::Lingering { budget, until };
            if !drained {
                ready!(this.timer.poll_at(cx, until));
            }
            *this.state = State::Closed;
        }
        State::Open | State::Closed => {}
    }
    Poll::Ready(())
}

/// Acts on the state machine's events; `true` if anything happened.
fn deliver_events<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>, now: Instant) -> bool
where
    H: Handler,
{
    let mut progress = false;
    if let Some((feed, awaiting_read)) = this.receiving.as_mut() {
        // `100 Continue` waits for the reader's first read; a reader
        // dropped unread never asks for the body.
        if *awaiting_read {
            if let Poll::Ready(wanted) = feed.poll_wanted(cx) {
                *awaiting_read = false;
                if wanted {
                    this.proto.body_wanted(feed.id);
                }
                progress = true;
            }
        }
        match feed.poll_ready(cx) {
            // Resumed: the socket is read again (next turn).
            Readiness::Ready => progress |= this.proto.set_body_paused(false, now),
            Readiness::Full => {
                this.proto.set_body_paused(true, now);
            }
            Readiness::Gone => {
                // Nobody will read the rest: drained to keep the connection
                // (the state machine bounds how much).
                this.proto.body_dropped(feed.id);
                *this.receiving = None;
                progress = true;
            }
        }
    }
    while let Some(event) = this.proto.poll_event(now) {
        progress = true;
        match event {
            ServerEvent::Request(request) => {
                let id = request.id;
                // The head is lent by the state machine for this event only:
                // the request is built and handed over in place (no moves).
                let app = Application {
                    handler: &mut *this.handler,
                    exchanges: &mut *this.exchanges,
                    spare_slots: &mut *this.spare_slots,
                    converter: &mut *this.converter,
                    receiving: &mut *this.receiving,
                    body_buffer: this.options.body_buffer,
                };
                if !app.start(request, now) {
                    // Answered 400 and closed by the state machine, as any
                    // malformed request: nothing after it is parsed.
                    this.proto.refuse_unrepresentable(id, now);
                }
            }
            ServerEvent::Data { id, data } => {
                if let Some((feed, _)) = this.receiving.as_mut().filter(|(f, _)| f.id == id) {
                    if !feed.data(data) {
                        this.proto.body_dropped(id);
                        *this.receiving = None;
                    }
                }
            }
            ServerEvent::End { id, trailers } => {
                if let Some((feed, _)) = this.receiving.take_if(|(f, _)| f.id == id) {
                    feed.finish(trailers);
                }
            }
            ServerEvent::BodyFailed { id, error } => {
                this.handler.peer_error(&PeerError::Body(error.clone()));
                if let Some((feed, _)) = this.receiving.take_if(|(f, _)| f.id == id) {
                    feed.abort(error);
                }
            }
            ServerEvent::BodyAbandoned { id } => {
                if let Some((feed, _)) = this.receiving.take_if(|(f, _)| f.id == id) {
                    feed.abort(BodyError::aborted());
                }
            }
            ServerEvent::Rejected(error) => this.handler.peer_error(&error),
        }
    }
    progress
}

/// The application's side of a connection, lent to start a request.
struct Application<'a, H: Handler> {
    handler: &'a mut H,
    exchanges: &'a mut VecDeque<Exchange<H>>,
    spare_slots: &'a mut Vec<HandlerSlot<H>>,
    converter: &'a mut Converter,
    receiving: &'a mut Option<(Feed<RequestId>, bool)>,
    body_buffer: usize,
}

impl<H: Handler> Application<'_, H> {
    /// A new request: its body goes to its [`Incoming`](gruvi_body::Incoming),
    /// and its handler is created (it runs when polled: [`send_responses`],
    /// [`poll_handlers`]). `false` if the `http` types cannot carry it.
    fn start(self, request: proto::Request<'_>, now: Instant) -> bool {
        let id = request.id;
        let (sender, body) = incoming(request.complete_body, request.body, self.body_buffer);
        let span = tracing::debug_span!(
            "request",
            method = %latin1_text(request.head.method().of(&request.bytes)),
            target = %latin1_text(request.head.target().of(&request.bytes)),
            status = tracing::field::Empty,
            duration_us = tracing::field::Empty,
        );
        let mut converted = http::Request::new(body);
        if self
            .converter
            .fill_request(request.head, &request.bytes, &mut converted)
            .is_err()
        {
            return false;
        }
        if let Some(sender) = sender {
            *self.receiving = Some((Feed::new(id, sender), request.expects_continue));
        }
        let upgrade = (request.upgrade || request.connect).then(|| {
            let (tx, on_upgrade) = OnUpgrade::pair();
            converted.extensions_mut().insert(on_upgrade);
            tx
        });
        let mut slot = self
            .spare_slots
            .pop()
            .unwrap_or_else(|| Box::pin(Slot::Empty));
        // Entered with a guard, not `in_scope`: a closure would move the
        // request (and the future back) once more.
        let entered = span.enter();
        slot.set(Slot::Running(self.handler.call(converted)));
        drop(entered);
        self.exchanges.push_back(Exchange {
            id,
            slot,
            upgrade,
            span,
            arrived: now,
        });
        true
    }
}

/// Drops the work of the requests the state machine will not have the
/// application answer.
fn drop_cancelled<T, H: Handler>(this: &mut Conn<'_, T, H>) {
    if let Some(from) = this.proto.cancelled_from() {
        while this.exchanges.back().is_some_and(|e| e.id >= from) {
            this.exchanges.pop_back();
        }
    }
}

/// Polls the running handlers behind the oldest (pipelined requests are
/// processed together; [`send_responses`] polls the oldest) — unless the
/// peer is not reading what is already written; `true` if one finished.
fn poll_handlers<T, H: Handler>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>) -> bool {
    if !this.proto.can_buffer_more() {
        return false;
    }
    let mut progress = false;
    for exchange in this.exchanges.iter_mut().skip(1) {
        let _entered = exchange.span.enter();
        progress |= exchange.slot.as_mut().poll_keep(cx);
    }
    progress
}

/// Moves finished responses, oldest first, into the write buffer until one
/// is still being computed or the buffer is full; `true` if anything moved.
fn send_responses<T, H>(this: &mut Conn<'_, T, H>, cx: &mut Context<'_>, now: Instant) -> bool
where
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    let mut progress = false;
    loop {
        drop_cancelled(this);
        let Some(front) = this.exchanges.front_mut() else {
            return progress;
        };
        let id = front.id;
        if front.slot.is_empty() {
            // Its response is being sent.
            let Some(body) = this.sending.as_mut().as_pin_mut() else {
                answered(this, now);
                continue;
            };
            let mut sink = ResponseSink {
                proto: this.proto,
                id,
                now,
            };
            match pump(body, this.sending_trailers, cx, &mut sink) {
                Pumped::Finished => {
                    this.sending.set(None);
                    answered(this, now);
                    progress = true;
                }
                Pumped::Blocked(moved) => return progress | moved,
                Pumped::Failed(error) => {
                    abort_response(this, id, error, now);
                    progress = true;
                }
            }
            continue;
        }
        // The oldest handler is polled here, so its response goes straight
        // out when it is ready.
        let entered = front.span.enter();
        let polled = front.slot.as_mut().poll_take(cx);
        drop(entered);
        let Poll::Ready(outcome) = polled else {
            return progress;
        };
        progress = true;
        match outcome {
            Ok(response) => start_response(this, id, response, now),
            Err(error) => {
                tracing::error!(parent: &front.span, %error, "the application failed; answering 500");
                front.span.record("status", 500);
                this.proto.application_failed(id, now);
                answered(this, now);
            }
        }
    }
}

fn start_response<T, H>(
    this: &mut Conn<'_, T, H>,
    id: RequestId,
    response: http::Response<H::Body>,
    now: Instant,
) where
    H: Handler,
{
    let (parts, body) = response.into_parts();
    let size = BodySize::of(&body);
    let started = this
        .proto
        .start_response(id, parts.status.as_u16(), &parts.headers, size, now);
    let status = match &started {
        Ok(_) => parts.status,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if let Some(front) = this.exchanges.front().filter(|e| !e.span.is_disabled()) {
        front.span.record("status", status.as_u16());
    }
    // Its fields are written: the map holds the next request's.
    this.converter.recycle(parts.headers);
    match started {
        Ok(true) => {
            this.sending.set(Some(body));
            *this.sending_trailers = None;
        }
        Ok(false) => {
            drop(body);
            if let Err(error) = this.proto.finish_response(id, None, now) {
                abort_response(this, id, error.into(), now);
                return;
            }
            answered(this, now);
        }
        Err(error) => {
            tracing::error!(%error, status = parts.status.as_u16(), "invalid response from the application; answering 500");
            this.proto.application_failed(id, now);
            answered(this, now);
        }
    }
}

/// The oldest response is complete on our side.
fn answered<T, H: Handler>(this: &mut Conn<'_, T, H>, now: Instant) {
    let Some(exchange) = this.exchanges.pop_front() else {
        return;
    };
    if !exchange.span.is_disabled() {
        let duration = now.saturating_duration_since(exchange.arrived);
        let micros = u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        exchange.span.record("duration_us", micros);
        tracing::debug!(parent: &exchange.span, "answered");
    }
    if this.proto.is_switching() {
        *this.upgrade_to = exchange.upgrade;
    }
    if this.spare_slots.len() < MAX_SPARE_SLOTS && exchange.slot.is_empty() {
        this.spare_slots.push(exchange.slot);
    }
}

/// The response to `id` cannot be completed: the peer gets what was
/// written (a short body it detects) and the connection closes.
fn abort_response<T, H: Handler>(
    this: &mut Conn<'_, T, H>,
    id: RequestId,
    error: BoxError,
    now: Instant,
) {
    tracing::debug!(%error, "response body failed; closing the connection");
    this.proto.abort_response(id);
    this.error
        .get_or_insert(ConnectionError::ResponseBody(error));
    this.sending.set(None);
    answered(this, now);
}

/// The response being sent, as a destination for its body.
struct ResponseSink<'a> {
    proto: &'a mut proto::Server,
    id: RequestId,
    now: Instant,
}

impl Sink for ResponseSink<'_> {
    fn has_room(&self) -> bool {
        self.proto.can_buffer_more()
    }

    fn data(&mut self, data: Bytes) -> Result<(), LocalError> {
        self.proto.send_data(self.id, data)
    }

    fn finish(&mut self, trailers: Option<&HeaderMap>) -> Result<(), LocalError> {
        self.proto.finish_response(self.id, trailers, self.now)
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
