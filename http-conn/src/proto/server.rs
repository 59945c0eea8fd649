//! The server role of the connection state machine: the read side (heads,
//! bodies, the pipeline), the connection's lifecycle and its timers. The
//! write side — responses, `100 Continue`, the library's own answers — is
//! in [`respond`]. See the [module docs of `proto`](super) for the rules.

mod read;
mod respond;
mod timers;

use timers::Timers;

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use gruvi_body::{BodyError, ChunkedLimits, Trailers};
use gruvi_wire::{
    BodyFraming, DATE_VALUE_LEN, DateCache, Limits, RequestHead, RequestParser, Version,
};

use super::error::PeerError;
use super::received::ReceivedBody;
use crate::write_buf::WriteBuf;

/// Settings of a server connection.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Limits on request heads (bytes, request line, fields).
    pub limits: Limits,
    /// Limits on chunked request bodies (extensions, trailers).
    pub chunked: ChunkedLimits,
    /// Most requests parsed and not yet answered. Default 16.
    pub pipeline_depth: usize,
    /// Most bytes of a request body the application did not read that are
    /// read and thrown away to keep the connection; beyond that it closes.
    /// Default 256 KiB.
    pub max_drain_bytes: u64,
    /// Most bytes of a request body. A declared Content-Length over it is
    /// answered `413 Content Too Large` before any of the body is read (and
    /// without `100 Continue`); a chunked body that grows past it fails
    /// (its reader gets the error) and is answered `413` if no byte of its
    /// response was written yet. Default 8 MiB; `None`: no limit.
    pub max_body_bytes: Option<u64>,
    /// Response bytes buffered for a peer that reads slowly; past it no
    /// further request is parsed (and a driver stops producing responses)
    /// until the peer reads. Default 256 KiB.
    pub write_buffer: usize,
    /// Time allowed for a request head, from its first byte — and for the
    /// first request of a connection, from the connection's start (a new
    /// connection that sends nothing is closed quietly then, or after the
    /// idle timeout if that is shorter). Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// Time an idle keep-alive connection is kept open. Default 75 s.
    pub idle_timeout: Option<Duration>,
    /// Time allowed between bytes of a request body while the connection
    /// waits for them (not while the application is slow to read). Default
    /// 30 s.
    pub body_read_timeout: Option<Duration>,
    /// Time allowed for a whole request body, from its head: a body
    /// trickled slowly enough to pass the `body_read_timeout` still ends
    /// by then. Default `None` (off).
    pub body_deadline: Option<Duration>,
    /// Most time the application may take to start a response, from its
    /// request's head. Past it the library answers `503 Service
    /// Unavailable` and closes. Default `None`: the application is trusted
    /// to answer.
    pub response_timeout: Option<Duration>,
    /// The `Server` field added to responses that do not set one.
    pub server_header: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            chunked: ChunkedLimits::default(),
            pipeline_depth: 16,
            max_drain_bytes: 256 * 1024,
            max_body_bytes: Some(8 * 1024 * 1024),
            write_buffer: 256 * 1024,
            header_read_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(75)),
            body_read_timeout: Some(Duration::from_secs(30)),
            body_deadline: None,
            response_timeout: None,
            server_header: Some(concat!("gruvi/", env!("CARGO_PKG_VERSION")).to_owned()),
        }
    }
}

/// Identifies a request on its connection; ids grow in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    fn next(self) -> RequestId {
        RequestId(self.0 + 1)
    }
}

/// A parsed request head and what the connection decided about it. The
/// head is lent by the parser (no copy): turn it into what the application
/// needs before the next [`Server::poll_event`].
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// Its id on this connection.
    pub id: RequestId,
    /// The head; its spans index into [`bytes`](Self::bytes).
    pub head: &'a RequestHead,
    /// The head's bytes, frozen off the read buffer (zero-copy).
    pub bytes: Bytes,
    /// How its body is framed: [`BodyFraming::Empty`], a length or chunked.
    pub body: BodyFraming,
    /// The whole body, when it is length-framed and arrived with the head.
    /// With it, and for a request without a body, the request is complete:
    /// no `Data` or `End` event follows. `None` with a body: it comes in
    /// `Data` events, then `End`.
    pub complete_body: Option<Bytes>,
    /// The client wants the connection kept after this exchange.
    pub keep_alive: bool,
    /// The client waits for `100 Continue` before sending the body.
    pub expects_continue: bool,
    /// The client asks to switch protocols (`Upgrade`).
    pub upgrade: bool,
    /// A CONNECT: a 2xx answer makes the connection a tunnel.
    pub connect: bool,
}

/// What happened on the connection that a driver must act on.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// A request head arrived: hand it to the application.
    Request(Request<'a>),
    /// Body bytes of request `id`.
    Data {
        /// The request.
        id: RequestId,
        /// The bytes, split off the read buffer.
        data: Bytes,
    },
    /// The body of request `id` ended.
    End {
        /// The request.
        id: RequestId,
        /// Its trailers (empty if none).
        trailers: Trailers,
    },
    /// The body of request `id` is malformed, cut short, too large or
    /// stopped arriving: its reader gets `error`; the library answers the
    /// request itself (with the error's status) if its response has not
    /// started, and the connection closes.
    BodyFailed {
        /// The request.
        id: RequestId,
        /// What went wrong.
        error: BodyError,
    },
    /// The connection no longer delivers the body of request `id` — its
    /// response was written (the rest is drained) or will never be: a
    /// reader still holding it is told it was cut.
    BodyAbandoned {
        /// The request.
        id: RequestId,
    },
    /// A request the application never sees (malformed, too slow, too
    /// large): the library answers it with the error's status and
    /// `Connection: close` after the responses owed before it.
    Rejected(PeerError),
}

/// Which timer [`Server::handle_timeout`] applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// A request head did not arrive in time: the peer is answered `408`
    /// (the slowloris defence).
    Head,
    /// A request body stopped arriving, or took longer than its deadline: a
    /// `BodyFailed` event follows.
    Body,
    /// The connection was idle too long (or sent nothing since it opened):
    /// it closes quietly.
    Idle,
    /// The application did not start a response in time: the library
    /// answers `503` and closes.
    Response,
}

/// One server connection's state. See the [module docs](super).
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    read_buf: BytesMut,
    parser: RequestParser,
    reading: Reading,
    /// Requests parsed (or rejected) and not yet answered, oldest first.
    in_flight: VecDeque<Exchange>,
    next_id: RequestId,
    responding: Responding,
    write: WriteBuf,
    /// The last `Date` value written, and when its second ends: until
    /// then it is written again without placing `now` on the calendar.
    date: Option<(Instant, [u8; DATE_VALUE_LEN])>,
    /// The response to this request is the connection's last: nothing
    /// after it is read or answered. Written only by `end_after`.
    last: Option<RequestId>,
    /// Close as soon as what is written is flushed. Written only by
    /// `end_after` and `end_now`.
    closing: bool,
    /// Requests from this one on will not be answered by the application
    /// (the library answers one, or the connection closes before them).
    cancelled_from: Option<RequestId>,
    /// A switching response (101, or 2xx to CONNECT) was written: the
    /// connection is no longer HTTP and belongs to the application.
    switching: bool,
    /// The peer closed its sending side.
    peer_eof: bool,
    /// Reading stopped inside a message (a body cut short, a head
    /// refused): the peer may still be sending it.
    input_cut: bool,
    /// A notice for the driver about the body being read, before any
    /// further read-side event.
    body_notice: Option<BodyNotice>,
    /// A rejection to report once.
    rejected: Option<PeerError>,
    timers: Timers,
    /// An instant and the calendar time then: every `Date` is placed on
    /// the calendar from this pair (no clock is read here).
    anchor: (Instant, SystemTime),
    /// [`ServerConfig::server_header`] as written (ISO-8859-1, checked).
    server_field: Option<Bytes>,
}

#[derive(Debug)]
enum Reading {
    /// Waiting for a request head.
    Head,
    /// Reading a request's body.
    Body(ReceivedBody<RequestId>),
    /// No more requests are read.
    Done,
}

#[derive(Debug)]
enum BodyNotice {
    Failed(RequestId, BodyError),
    Abandoned(RequestId),
}

/// A request parsed (or rejected) and not answered yet.
#[derive(Debug)]
struct Exchange {
    id: RequestId,
    version: Version,
    method: Method,
    upgrade: bool,
    continue_: Continue,
    /// Its body has ended (or it has none).
    body_done: bool,
    /// Who answers it.
    answer: Answer,
    /// When its head arrived (the response timer starts there).
    arrived: Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Head,
    Connect,
    Other,
}

impl Method {
    fn as_bytes(self) -> &'static [u8] {
        match self {
            Method::Head => b"HEAD",
            Method::Connect => b"CONNECT",
            Method::Other => b"GET",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// The application's response is awaited.
    Application,
    /// The library answers with this status (and closes).
    Library(u16),
}

/// `100 Continue` for one request (RFC 9110 §10.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Continue {
    /// The request does not expect 100 (or it is HTTP/1.0, or its body is
    /// already here).
    NotExpected,
    /// Expected, not asked for yet.
    Expected,
    /// The application wants the body: send 100 when this request is the
    /// oldest and its response has not started.
    Wanted,
    /// Sent: the client sends the body.
    Sent,
    /// Skipped because the final response started first: the client may
    /// never send the body.
    Skipped,
}

impl Continue {
    fn awaited(self) -> bool {
        matches!(self, Continue::Expected | Continue::Wanted)
    }
}

#[derive(Debug)]
enum Responding {
    Idle,
    Body {
        id: RequestId,
        encoder: gruvi_body::Encoder,
        /// A response that carries no body (HEAD, 1xx, 204, 304, tunnel):
        /// data for it is dropped.
        head_only: bool,
    },
}

/// The `Server` value, checked and encoded once; one that cannot be
/// written would fail every response: left out instead.
fn server_field(config: &ServerConfig) -> Option<Bytes> {
    config.server_header.as_deref().and_then(|server| {
        let (_, value) = gruvi_wire::check_field("Server", server).ok()?;
        Some(Bytes::copy_from_slice(&value))
    })
}

impl Server {
    /// A new connection opened at `now`; with `wall` (the calendar time at
    /// `now`) it anchors the `Date` of every response (later instants are
    /// placed on the calendar from this pair: no clock is read here).
    pub fn new(mut config: ServerConfig, now: Instant, wall: SystemTime) -> Self {
        let server_field = server_field(&config);
        // One bare-LF policy for a request's head and its trailers.
        config.chunked.trailers.allow_bare_lf_in_requests = config.limits.allow_bare_lf_in_requests;
        Server {
            read_buf: BytesMut::with_capacity(8 * 1024),
            parser: RequestParser::new(config.limits),
            reading: Reading::Head,
            in_flight: VecDeque::new(),
            next_id: RequestId(0),
            responding: Responding::Idle,
            write: WriteBuf::new(),
            date: None,
            last: None,
            closing: false,
            cancelled_from: None,
            switching: false,
            peer_eof: false,
            input_cut: false,
            body_notice: None,
            rejected: None,
            timers: Timers {
                opened: Some(now),
                ..Timers::default()
            },
            anchor: (now, wall),
            server_field,
            config,
        }
    }

    /// The read buffer: the driver reads the socket into it, then calls
    /// [`poll_event`](Self::poll_event).
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Returns `true` if the driver should read the socket: more input is
    /// needed and the buffered input is within bounds. A full pipeline, a
    /// peer that does not read its responses, or an application slow to
    /// read a body stop reading.
    pub fn wants_read(&self) -> bool {
        let in_body = match self.reading {
            Reading::Head if !self.may_parse_head() => return false,
            Reading::Head => false,
            Reading::Body(ref body) if body.is_paused() => return false,
            Reading::Body(_) => true,
            Reading::Done => return false,
        };
        let bound = super::read_bound(&self.config.limits, &self.config.chunked, in_body);
        !self.peer_eof && self.read_buf.len() < bound
    }

    /// A next head may be parsed: the pipeline has room and the peer reads
    /// its responses (RFC 9112 §9.3.2 lets a server process pipelined
    /// requests; it need not buffer unboundedly for a peer that does not
    /// read).
    fn may_parse_head(&self) -> bool {
        self.in_flight.len() < self.config.pipeline_depth && self.can_buffer_more()
    }

    /// Returns `true` while the bytes waiting to be written are below
    /// [`ServerConfig::write_buffer`]: a driver moves response bodies into
    /// the write buffer (and runs handlers ahead) only then.
    pub fn can_buffer_more(&self) -> bool {
        self.write.remaining() < self.config.write_buffer
    }

    /// Returns `true` while the connection holds no request: nothing in
    /// flight, nothing being written, no byte of a next head received — a
    /// new connection that sent nothing, or an idle keep-alive one. Closing
    /// it loses nothing (a server short of connections closes these first).
    pub fn is_idle(&self) -> bool {
        self.in_flight.is_empty()
            && matches!(self.reading, Reading::Head)
            && matches!(self.responding, Responding::Idle)
            && self.write.is_empty()
            && self.read_buf.iter().all(|&b| b == b'\r' || b == b'\n')
    }

    /// Requests from the returned one on (in id order) will not be answered
    /// by the application: the library answers one itself, or the
    /// connection closes before their turn. A driver drops their handlers.
    pub fn cancelled_from(&self) -> Option<RequestId> {
        self.cancelled_from
    }

    /// Returns `true` once a switching response (`101`, or a 2xx to
    /// CONNECT) was written, even while the request's body still arrives;
    /// [`is_upgraded`](Self::is_upgraded) says when the hand-over can
    /// happen.
    pub fn is_switching(&self) -> bool {
        self.switching
    }

    /// Returns `true` once a switching response was written and the
    /// request's body (if any) has ended: when the write buffer is empty,
    /// the connection belongs to the application, with the
    /// [`take_leftover`](Self::take_leftover) bytes already read from it.
    pub fn is_upgraded(&self) -> bool {
        // Not while the request's own body is still arriving: its bytes are
        // HTTP, read (or drained) first, never handed over as the new
        // protocol's.
        self.switching && !matches!(self.reading, Reading::Body { .. })
    }

    /// The bytes read from the peer and not parsed (after an upgrade: the
    /// first bytes of the new protocol).
    pub fn take_leftover(&mut self) -> Bytes {
        self.read_buf.split().freeze()
    }

    /// The peer closed its sending side.
    pub fn received_eof(&mut self) {
        self.peer_eof = true;
    }

    /// Returns `true` if, closing now, the peer may still be sending bytes
    /// nobody will read (input left unparsed, a body or head cut short):
    /// a driver then reads and drops them for a while after its end of
    /// stream, so that the close does not reset the last response (RFC
    /// 9112 §9.6). A connection closed at a message boundary — idle, or
    /// after a request that asked to close — need not wait.
    pub fn peer_may_be_sending(&self) -> bool {
        !self.peer_eof && (self.input_cut || !self.read_buf.is_empty())
    }

    /// Reads no more; leaving a body unfinished means the peer may still
    /// be sending it.
    fn stop_reading(&mut self) {
        if matches!(self.reading, Reading::Body { .. }) {
            self.input_cut = true;
        }
        self.reading = Reading::Done;
    }

    /// The bytes to send; the driver writes them (vectored) and advances.
    pub fn write_buf(&mut self) -> &mut WriteBuf {
        &mut self.write
    }

    /// Returns `true` when the connection should be closed: nothing more
    /// will be read, nothing is owed, and everything was written.
    pub fn is_done(&self) -> bool {
        if self.switching {
            return false;
        }
        let written = self.write.is_empty() && matches!(self.responding, Responding::Idle);
        let reads_over = matches!(self.reading, Reading::Done)
            || (self.peer_eof && self.read_buf.is_empty() && matches!(self.reading, Reading::Head));
        written && (self.closing || (reads_over && self.in_flight.is_empty()))
    }

    /// The library answers request `id` itself with `status` (its turn
    /// comes after the responses owed before it), and the connection
    /// closes after that answer.
    fn answer_for_application(&mut self, id: RequestId, status: u16, now: Instant) {
        if let Some(exchange) = self.exchange_mut(id) {
            exchange.answer = Answer::Library(status);
        }
        // Its body is nobody's any more, and nothing follows the answer.
        if let Reading::Body(body) = &self.reading {
            if body.id == id {
                if !body.is_drained() {
                    self.body_notice = Some(BodyNotice::Abandoned(id));
                }
                self.stop_reading();
            }
        }
        self.end_after(id);
        self.cancelled_from = Some(self.cancelled_from.map_or(id, |from| from.min(id)));
        self.write_due(now);
    }

    /// The one writer of "the connection ends after request `id`'s
    /// response": nothing after it is parsed, requests after it are
    /// dropped unanswered (their clients learn it from the close), and a
    /// body still arriving for one of them is abandoned.
    fn end_after(&mut self, id: RequestId) {
        if self.last.is_some_and(|last| last <= id) {
            return;
        }
        self.last = Some(id);
        let next = id.next();
        if self.in_flight.back().is_some_and(|e| e.id >= next) {
            self.in_flight.retain(|e| e.id < next);
            self.cancelled_from = Some(self.cancelled_from.map_or(next, |from| from.min(next)));
        }
        match &self.reading {
            Reading::Head => self.reading = Reading::Done,
            Reading::Body(body) if body.id > id => {
                if self.body_notice.is_none() {
                    self.body_notice = Some(BodyNotice::Abandoned(body.id));
                }
                self.stop_reading();
            }
            // Its own body is read to its end (or drained) first.
            Reading::Body(_) | Reading::Done => {}
        }
        self.timers.head_started = None;
        // Nothing owed any more (the response to `id` is out, or `id` was
        // never a request): close once flushed.
        if self.in_flight.is_empty() && matches!(self.responding, Responding::Idle) {
            self.end_now();
        }
    }

    /// The one writer of "close as soon as what is written is flushed".
    fn end_now(&mut self) {
        self.closing = true;
        if let Reading::Body(body) = &self.reading {
            if !body.is_drained() {
                self.body_notice = Some(BodyNotice::Abandoned(body.id));
            }
        }
        self.stop_reading();
        if let Some(front) = self.in_flight.front() {
            let id = front.id;
            self.cancelled_from = Some(self.cancelled_from.map_or(id, |from| from.min(id)));
        }
        self.in_flight.clear();
    }

    fn exchange_mut(&mut self, id: RequestId) -> Option<&mut Exchange> {
        self.in_flight.iter_mut().find(|e| e.id == id)
    }

    /// The request the connection is answering now (the oldest).
    fn current(&self) -> Option<&Exchange> {
        self.in_flight.front()
    }

    /// The driver stopped (`true`) or resumed (`false`) handing body bytes
    /// to the application because it reads slowly. While paused, no more
    /// is read and the body-read timeout does not run: the wait is the
    /// application's, not the peer's; on resuming, the peer gets the whole
    /// timeout again.
    ///
    /// Returns `true` if this resumed a paused body: the driver reads again.
    /// Nothing happens while no body is read, or to a body the application
    /// dropped (it has no reader to wait for: it is drained).
    pub fn set_body_paused(&mut self, paused: bool, now: Instant) -> bool {
        match &mut self.reading {
            Reading::Body(body) => body.set_paused(paused, now),
            _ => false,
        }
    }

    /// Graceful shutdown: no new request is parsed; the requests already
    /// parsed are answered (a body being read is read to its end), the last
    /// response says `Connection: close`, and then the connection closes.
    /// An idle connection is done at once; a partly received head is
    /// dropped unanswered.
    pub fn shutdown(&mut self) {
        match self.in_flight.back() {
            Some(last) => {
                let id = last.id;
                self.end_after(id);
            }
            None => self.end_now(),
        }
    }

    /// The application wants the body of request `id` (it started reading
    /// it): a request that expects `100 Continue` gets it now, or once its
    /// turn to be answered comes, unless its final response starts first.
    pub fn body_wanted(&mut self, id: RequestId) {
        if let Some(exchange) = self.exchange_mut(id) {
            if exchange.continue_ == Continue::Expected {
                exchange.continue_ = Continue::Wanted;
            }
        }
        self.write_continue_if_due();
    }

    /// The application dropped the body of request `id` unread: what is left
    /// of it is read and thrown away (up to [`ServerConfig::max_drain_bytes`])
    /// so the connection can carry the next request.
    pub fn body_dropped(&mut self, id: RequestId) {
        if let Reading::Body(body) = &mut self.reading {
            if body.id == id {
                body.dropped();
            }
        }
    }

    /// The driver could not turn request `id` into what the application
    /// takes (the `http` types refuse its method or target): the library
    /// answers it `400` and closes, as any malformed request.
    pub fn refuse_unrepresentable(&mut self, id: RequestId, now: Instant) {
        if self.cancelled_from.is_some_and(|from| from <= id) {
            return;
        }
        self.rejected = Some(PeerError::Unrepresentable);
        self.answer_for_application(id, PeerError::Unrepresentable.status(), now);
    }

    /// The `Date` value at `now` (RFC 9110 §6.6.1: the time the response
    /// was made, to the second), placed on the calendar from the anchor
    /// once per second.
    fn date_at(&mut self, now: Instant) -> [u8; DATE_VALUE_LEN] {
        if let Some((until, value)) = self.date {
            if now < until {
                return value;
            }
        }
        let (instant, wall) = self.anchor;
        let wall = wall + now.saturating_duration_since(instant);
        let into_second = wall
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let rest = Duration::from_nanos(u64::from(1_000_000_000 - into_second));
        let value = *DateCache::new().value(wall);
        self.date = Some((now + rest, value));
        value
    }
}
