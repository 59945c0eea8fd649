//! The server role of the connection state machine; see the [module docs of
//! `proto`](super) for the states and rules.

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use gruvi_body::{BodyError, ChunkedLimits, Decoder, Encoder, Frame, Trailers};
use gruvi_wire::{
    BodyFraming as WireBody, DateCache, EncodeError, HeadWriter, Limits, RequestHead,
    RequestParser, Status, Version, WireError, check_application_field, expects_continue,
    is_upgrade_request, list_contains, parse_content_length, request_framing, wants_keep_alive,
};
use http::HeaderMap;

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
    /// Time allowed for a request head, from its first byte. Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// Time an idle keep-alive connection is kept open. Default 75 s.
    pub idle_timeout: Option<Duration>,
    /// Time allowed between bytes of a request body while the connection
    /// waits for them (not while the application is slow to read). Default
    /// 30 s.
    pub body_read_timeout: Option<Duration>,
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
            header_read_timeout: Some(Duration::from_secs(30)),
            idle_timeout: Some(Duration::from_secs(75)),
            body_read_timeout: Some(Duration::from_secs(30)),
            server_header: Some(concat!("gruvi/", env!("CARGO_PKG_VERSION")).to_owned()),
        }
    }
}

/// Identifies a request on its connection; ids grow in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// How a request's body is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked, length unknown.
    Chunked,
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
    /// How its body is framed; the body follows as `Data` and `End` events
    /// unless it came whole with the head.
    pub body: BodyFraming,
    /// The whole body, when it is length-framed and arrived with the head:
    /// no `Data` event follows for it, only `End` (as for a request
    /// without a body). `None`: the body, if any, comes in `Data` events.
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

/// What happened on the read side.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// A request head arrived.
    Request(Request<'a>),
    /// Body bytes of request `id`.
    Data {
        /// The request.
        id: RequestId,
        /// The bytes, split off the read buffer.
        data: Bytes,
    },
    /// The body of request `id` ended (for a request without a body, right
    /// after its `Request` event).
    End {
        /// The request.
        id: RequestId,
        /// Its trailers (empty if none).
        trailers: Trailers,
    },
    /// The body of request `id` is malformed or was cut short; nothing more
    /// is read from this connection.
    BodyFailed {
        /// The request.
        id: RequestId,
        /// What went wrong.
        error: BodyError,
    },
    /// A request could not be parsed: the library answers it with the
    /// error's status and `Connection: close` after the responses owed
    /// before it. The application never sees it.
    Rejected(WireError),
}

/// Which timeout [`Server::handle_timeout`] applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expired {
    /// A request head did not arrive in time: the peer is answered `408`
    /// (the slowloris defence).
    Head,
    /// A request body stopped arriving: a `BodyFailed` event follows.
    Body,
    /// The connection was idle too long: it closes quietly.
    Idle,
}

/// What a response's body will be, as the application declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseBody {
    /// No bytes.
    Empty,
    /// Exactly this many bytes (becomes Content-Length).
    Exact(u64),
    /// Unknown length: chunked on HTTP/1.1, until close on HTTP/1.0.
    Unknown,
}

/// A response the connection cannot send as asked: misuse by the caller or
/// an invalid response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtoError {
    /// Only the oldest unanswered request can be answered, once.
    NotCurrent(RequestId),
    /// Data or the end of a response that was not started.
    NotStarted(RequestId),
    /// A field or status that cannot be sent.
    Encode(EncodeError),
    /// The body does not fit its framing (length, trailers).
    Body(BodyError),
    /// The response's Content-Length disagrees with the body's exact size.
    ContentLengthMismatch {
        /// The Content-Length the application set.
        declared: u64,
        /// The body's exact size.
        body: u64,
    },
    /// An interim (1xx) status where a final one is needed, or `101`
    /// without an upgrade request.
    InvalidStatus(u16),
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtoError::NotCurrent(id) => write!(
                f,
                "request {id:?} is not the oldest unanswered one: responses go in request order"
            ),
            ProtoError::NotStarted(id) => write!(f, "the response to {id:?} was not started"),
            ProtoError::Encode(e) => write!(f, "invalid response: {e}"),
            ProtoError::Body(e) => write!(f, "invalid response body: {e}"),
            ProtoError::ContentLengthMismatch { declared, body } => write!(
                f,
                "Content-Length {declared} disagrees with the body's size of {body} bytes"
            ),
            ProtoError::InvalidStatus(s) => write!(f, "status {s} cannot be used here"),
        }
    }
}

impl std::error::Error for ProtoError {}

/// One server connection's state. See the [module docs](super).
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    read_buf: BytesMut,
    parser: RequestParser,
    reading: Reading,
    /// Requests parsed and not yet answered, oldest first.
    in_flight: VecDeque<InFlight>,
    next_id: u64,
    responding: Responding,
    write: WriteBuf,
    date: DateCache,
    /// A rejected request's status and when it was rejected, answered once
    /// nothing is owed before it.
    pending_rejection: Option<(u16, SystemTime)>,
    /// Close once the write buffer is flushed.
    close_after_flush: bool,
    /// Something went wrong on the read side (a failed body, a body too
    /// large to drain): every response still owed says `Connection: close`.
    closing: bool,
    /// The peer closed its sending side.
    peer_eof: bool,
    /// When the connection became idle (nothing buffered, nothing owed).
    idle_since: Option<Instant>,
    /// When the first byte of the head being read arrived.
    head_started: Option<Instant>,
    /// A bodiless request whose `End` event is due.
    end_due: Option<RequestId>,
    /// A 101, or a 2xx to CONNECT, was sent: the connection is no longer
    /// HTTP and belongs to the application.
    upgraded: bool,
    /// When body bytes last arrived (or the body started).
    body_progress: Option<Instant>,
    /// A body that timed out, reported by the next `poll_event`.
    body_timed_out: Option<RequestId>,
    /// The application is the slow one: the body-read timer is off.
    body_paused: bool,
    /// An instant and the calendar time then, for the `Date` of our own
    /// answers.
    anchor: (Instant, SystemTime),
    /// [`ServerConfig::server_header`] as written (ISO-8859-1, checked).
    server_field: Option<Bytes>,
}

#[derive(Debug)]
enum Reading {
    /// Waiting for a request head.
    Head,
    /// Reading request `id`'s body; `drain` counts bytes thrown away when
    /// the application no longer wants it.
    Body {
        id: RequestId,
        decoder: Decoder,
        drain: Option<u64>,
        close_after: bool,
    },
    /// No more requests are read.
    Done,
}

#[derive(Debug)]
struct InFlight {
    id: RequestId,
    version: Version,
    is_head: bool,
    is_connect: bool,
    keep_alive: bool,
    upgrade: bool,
    continue_: Continue,
    body_done: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Continue {
    /// The request does not expect 100 (or it is HTTP/1.0).
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

#[derive(Debug)]
enum Responding {
    Idle,
    Body {
        id: RequestId,
        encoder: Encoder,
        head_only: bool,
        close_after: bool,
    },
}

impl Server {
    /// A new connection; `now` starts its idle timer, and with `wall` (the
    /// calendar time at `now`) anchors the `Date` of the answers the
    /// connection writes itself (later instants are placed on the calendar
    /// from this pair: no clock is read here).
    pub fn new(mut config: ServerConfig, now: Instant, wall: SystemTime) -> Self {
        // The `Server` value, checked and encoded once; one that cannot be
        // written would fail every response: left out instead.
        let server_field = config.server_header.as_deref().and_then(|server| {
            let (_, value) = gruvi_wire::check_field("Server", server).ok()?;
            Some(Bytes::copy_from_slice(&value))
        });
        // One bare-LF policy for a request's head and its trailers.
        config.chunked.trailers.allow_bare_lf_in_requests = config.limits.allow_bare_lf_in_requests;
        let parser = RequestParser::new(config.limits);
        Server {
            read_buf: BytesMut::with_capacity(8 * 1024),
            parser,
            reading: Reading::Head,
            in_flight: VecDeque::new(),
            next_id: 0,
            responding: Responding::Idle,
            write: WriteBuf::new(),
            date: DateCache::new(),
            pending_rejection: None,
            close_after_flush: false,
            closing: false,
            peer_eof: false,
            idle_since: Some(now),
            head_started: None,
            end_due: None,
            upgraded: false,
            body_progress: None,
            body_timed_out: None,
            body_paused: false,
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
    /// needed and the buffered input is within bounds (a slow body reader or
    /// a full pipeline stops reading).
    pub fn wants_read(&self) -> bool {
        let bound = match self.reading {
            // A full pipeline stops parsing ahead, not the body being read.
            Reading::Head if self.in_flight.len() >= self.config.pipeline_depth => return false,
            Reading::Head => super::read_bound(&self.config.limits, &self.config.chunked, false),
            Reading::Body { .. } => {
                super::read_bound(&self.config.limits, &self.config.chunked, true)
            }
            Reading::Done => return false,
        };
        !self.peer_eof && self.read_buf.len() < bound
    }

    /// Requests parsed and not yet answered (none once the connection
    /// decided to close after a response).
    pub fn unanswered(&self) -> usize {
        self.in_flight.len()
    }

    /// Returns `true` once a switching response (`101`, or a 2xx to
    /// CONNECT) was written, even while the request's body still arrives;
    /// [`is_upgraded`](Self::is_upgraded) says when the hand-over can
    /// happen.
    pub fn is_switching(&self) -> bool {
        self.upgraded
    }

    /// Returns `true` once a `101 Switching Protocols`, or a 2xx to CONNECT,
    /// was written and the request's body (if any) has ended: when the write
    /// buffer is empty, the connection belongs to the application, with the
    /// [`take_leftover`](Self::take_leftover) bytes already read from it.
    pub fn is_upgraded(&self) -> bool {
        // Not while the request's own body is still arriving: its bytes are
        // HTTP, read (or drained) first, never handed over as the new
        // protocol's.
        self.upgraded && !matches!(self.reading, Reading::Body { .. })
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

    /// The bytes to send; the driver writes them (vectored) and advances.
    pub fn write_buf(&mut self) -> &mut WriteBuf {
        &mut self.write
    }

    /// Returns `true` when the connection should be closed: nothing more
    /// will be read, nothing is owed, and everything was written.
    pub fn is_done(&self) -> bool {
        if self.upgraded {
            return false;
        }
        let written = self.write.is_empty() && matches!(self.responding, Responding::Idle);
        let nothing_owed = self.in_flight.is_empty() && self.pending_rejection.is_none();
        let reads_over =
            matches!(self.reading, Reading::Done) || (self.peer_eof && self.read_buf.is_empty());
        written && (self.close_after_flush || (reads_over && nothing_owed))
    }

    /// The next read-side event, or `None` until more input arrives (or
    /// while the pipeline is full).
    pub fn poll_event(&mut self, now: Instant) -> Option<ServerEvent<'_>> {
        if let Some(id) = self.end_due.take() {
            return Some(ServerEvent::End {
                id,
                trailers: Trailers::new(),
            });
        }
        if let Some(id) = self.body_timed_out.take() {
            let error = BodyError::timed_out();
            return Some(ServerEvent::BodyFailed { id, error });
        }
        loop {
            match &mut self.reading {
                Reading::Done => return None,
                Reading::Head => {
                    if self.in_flight.len() >= self.config.pipeline_depth {
                        return None;
                    }
                    if self.read_buf.is_empty() {
                        if self.peer_eof {
                            self.reading = Reading::Done;
                        } else {
                            self.mark_idle(now);
                        }
                        return None;
                    }
                    // RFC 9112 §2.2 ¶6: empty lines before a request line
                    // are ignored; a stray CRLF after a body leaves the
                    // connection idle, not reading a head.
                    if self.read_buf.len() <= 4
                        && self.read_buf.iter().all(|&b| b == b'\r' || b == b'\n')
                    {
                        // Nothing but empty lines before the peer's end:
                        // no request is coming (RFC 9112 §9.6).
                        if self.peer_eof {
                            self.reading = Reading::Done;
                        } else {
                            self.mark_idle(now);
                        }
                        return None;
                    }
                    self.idle_since = None;
                    self.head_started.get_or_insert(now);
                    return self.parse_head(now);
                }
                Reading::Body {
                    id,
                    decoder,
                    drain,
                    close_after,
                } => {
                    let id = *id;
                    let frame = decoder.decode_input(&mut self.read_buf, self.peer_eof);
                    if matches!(frame, Ok(Some(Frame::Data(_)))) || self.body_progress.is_none() {
                        self.body_progress = Some(now);
                    }
                    match frame {
                        Ok(None) => return None,
                        Ok(Some(Frame::Data(data))) => match drain {
                            None => return Some(ServerEvent::Data { id, data }),
                            Some(drained) => {
                                *drained += data.len() as u64;
                                if *drained > self.config.max_drain_bytes {
                                    // Too much to throw away: close instead.
                                    self.reading = Reading::Done;
                                    self.closing = true;
                                    self.close_after_flush = self.in_flight.is_empty();
                                    return None;
                                }
                            }
                        },
                        Ok(Some(Frame::End(trailers))) => {
                            let draining = drain.is_some();
                            self.body_progress = None;
                            self.reading = if *close_after {
                                Reading::Done
                            } else {
                                Reading::Head
                            };
                            if let Some(request) = self.in_flight.iter_mut().find(|r| r.id == id) {
                                request.body_done = true;
                            }
                            if !draining {
                                return Some(ServerEvent::End { id, trailers });
                            }
                        }
                        Err(error) => {
                            self.reading = Reading::Done;
                            self.closing = true;
                            return Some(ServerEvent::BodyFailed { id, error });
                        }
                    }
                }
            }
        }
    }

    fn parse_head(&mut self, now: Instant) -> Option<ServerEvent<'_>> {
        let consumed = match self.parser.parse(&self.read_buf) {
            Ok(Status::Partial) => {
                if self.peer_eof {
                    // The client hung up mid-head: nothing to answer.
                    self.reading = Reading::Done;
                }
                return None;
            }
            Ok(Status::Complete(_, consumed)) => consumed,
            Err(error) => return Some(self.reject(error, now)),
        };
        let bytes = self.read_buf.split_to(consumed).freeze();
        self.head_started = None;
        // Everything decided from the head is taken first, so that the head
        // is borrowed again only to lend it in the event.
        let decided = {
            let head = self.parser.completed()?;
            request_framing(head, &bytes).map(|framing| {
                (
                    framing,
                    wants_keep_alive(head.version(), head.fields(), &bytes),
                    expects_continue(head, &bytes),
                    is_upgrade_request(head, &bytes),
                    head.method().of(&bytes) == b"HEAD",
                    head.method().of(&bytes) == b"CONNECT",
                    head.version(),
                )
            })
        };
        let (framing, keep_alive, expects_continue, upgrade, is_head, is_connect, version) =
            match decided {
                Ok(decided) => decided,
                Err(error) => return Some(self.reject(error, now)),
            };

        let id = RequestId(self.next_id);
        self.next_id += 1;
        let mut complete_body = None;
        let (body, decoder) = match framing.body {
            WireBody::Length(0) | WireBody::Empty => (BodyFraming::None, None),
            // Already here whole: handed over with the head, nothing to
            // decode (and no `100 Continue` to send for it).
            WireBody::Length(n) if n <= self.read_buf.len() as u64 => {
                // `n` fits: it is at most the buffer's length.
                complete_body = Some(self.read_buf.split_to(n as usize).freeze());
                (BodyFraming::Length(n), None)
            }
            WireBody::Length(n) => (BodyFraming::Length(n), Some(Decoder::length(n))),
            WireBody::Chunked => (
                BodyFraming::Chunked,
                Some(Decoder::chunked(self.config.chunked)),
            ),
            // Request framing never yields these; treat them as no body.
            WireBody::UntilClose | WireBody::Tunnel => (BodyFraming::None, None),
        };
        // After a request that closes or upgrades, nothing more is parsed:
        // later bytes belong to no request we will answer.
        let last = !keep_alive || upgrade || is_connect || framing.must_close;
        let body_to_read = decoder.is_some();
        if !body_to_read {
            self.end_due = Some(id);
        }
        self.reading = match decoder {
            Some(decoder) => Reading::Body {
                id,
                decoder,
                drain: None,
                close_after: last,
            },
            None if last => Reading::Done,
            None => Reading::Head,
        };
        self.in_flight.push_back(InFlight {
            id,
            version,
            is_head,
            is_connect,
            keep_alive,
            upgrade,
            continue_: if expects_continue && body_to_read {
                Continue::Expected
            } else {
                Continue::NotExpected
            },
            body_done: !body_to_read,
        });
        let head = self.parser.completed()?;
        Some(ServerEvent::Request(Request {
            id,
            head,
            bytes,
            body,
            complete_body,
            keep_alive,
            expects_continue,
            upgrade,
            connect: is_connect,
        }))
    }

    fn reject(&mut self, error: WireError, now: Instant) -> ServerEvent<'static> {
        self.reading = Reading::Done;
        self.head_started = None;
        self.pending_rejection = Some((error.status(), self.wall_at(now)));
        self.write_rejection_if_due();
        ServerEvent::Rejected(error)
    }

    /// The calendar time at `now`, from the anchor.
    fn wall_at(&self, now: Instant) -> SystemTime {
        let (instant, wall) = self.anchor;
        wall + now.saturating_duration_since(instant)
    }

    fn mark_idle(&mut self, now: Instant) {
        if self.in_flight.is_empty() && self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.reading {
            Reading::Head => {
                if let (Some(started), Some(limit)) =
                    (self.head_started, self.config.header_read_timeout)
                {
                    return Some(started + limit);
                }
                match (self.idle_since, self.config.idle_timeout) {
                    (Some(since), Some(limit)) if self.in_flight.is_empty() => Some(since + limit),
                    _ => None,
                }
            }
            // Waiting on the peer for body bytes (a full buffer means the
            // application is the slow one: no timer then). A client waiting
            // for `100 Continue` is not late either: it is waiting for us.
            Reading::Body { id, .. }
                if self.read_buf.is_empty() && !self.peer_eof && !self.body_paused =>
            {
                let awaits_continue = self.in_flight.iter().any(|r| {
                    r.id == id && matches!(r.continue_, Continue::Expected | Continue::Wanted)
                });
                if awaits_continue {
                    return None;
                }
                Some(self.body_progress? + self.config.body_read_timeout?)
            }
            Reading::Body { .. } | Reading::Done => None,
        }
    }

    /// Applies the timeouts due at `now`: a head that took too long is
    /// answered `408` and the connection closes; an idle connection closes;
    /// a body that stopped arriving fails (a `BodyFailed` event) and the
    /// connection closes after the responses owed. Returns which one
    /// expired, if any did.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<Expired> {
        let deadline = self.poll_timeout()?;
        if now < deadline {
            return None;
        }
        let expired = if let Reading::Body { id, .. } = self.reading {
            self.body_timed_out = Some(id);
            self.closing = true;
            Expired::Body
        } else if self.head_started.take().is_some() {
            self.pending_rejection = Some((408, self.wall_at(now)));
            self.write_rejection_if_due();
            Expired::Head
        } else {
            self.close_after_flush = true;
            Expired::Idle
        };
        self.reading = Reading::Done;
        Some(expired)
    }

    /// The driver stopped (`true`) or resumed (`false`) handing body bytes
    /// to the application because it reads slowly. While paused, the
    /// body-read timeout does not run: the wait is the application's, not
    /// the peer's; on resuming, the peer gets the whole timeout again.
    pub fn set_body_paused(&mut self, paused: bool, now: Instant) {
        if self.body_paused && !paused && self.body_progress.is_some() {
            self.body_progress = Some(now);
        }
        self.body_paused = paused;
    }

    /// Graceful shutdown: no new request is parsed; the requests already
    /// parsed are answered (a body being read is read to its end), the last
    /// response says `Connection: close`, and then the connection closes.
    /// An idle connection is done at once; a partly received head is
    /// dropped unanswered.
    pub fn shutdown(&mut self) {
        match &mut self.reading {
            Reading::Head => {
                self.reading = Reading::Done;
                self.head_started = None;
            }
            Reading::Body { close_after, .. } => *close_after = true,
            Reading::Done => {}
        }
        // The last request parsed is the last answered: its response
        // closes, unless it already started, in which case the connection
        // closes after it.
        let last = self.in_flight.back().map(|r| r.id);
        match &mut self.responding {
            Responding::Body {
                id, close_after, ..
            } if Some(*id) == last => *close_after = true,
            _ => {
                if let Some(request) = self.in_flight.back_mut() {
                    request.keep_alive = false;
                }
            }
        }
    }

    /// The application could not finish the response to `id` (its body
    /// failed), or could not start it: what was written is all the peer
    /// gets — a short or unterminated body, which it detects, or nothing —
    /// and the connection closes.
    pub fn abort_response(&mut self, id: RequestId) {
        let started =
            matches!(&self.responding, Responding::Body { id: current, .. } if *current == id);
        // Or it could not even start: nothing was written for it.
        let current = self.in_flight.front().is_some_and(|r| r.id == id)
            && matches!(self.responding, Responding::Idle);
        if started || current {
            self.responding = Responding::Idle;
            self.reading = Reading::Done;
            self.closing = true;
            self.close_after_flush = true;
            self.in_flight.clear();
            self.pending_rejection = None;
        }
    }

    /// The application wants the body of request `id` (it started reading
    /// it): a request that expects `100 Continue` gets it now, or once its
    /// turn to be answered comes, unless its final response starts first.
    pub fn body_wanted(&mut self, id: RequestId) {
        if let Some(request) = self.in_flight.iter_mut().find(|r| r.id == id) {
            if request.continue_ == Continue::Expected {
                request.continue_ = Continue::Wanted;
            }
        }
        self.write_continue_if_due();
    }

    /// The application dropped the body of request `id` unread: what is left
    /// of it is read and thrown away (up to [`ServerConfig::max_drain_bytes`])
    /// so the connection can carry the next request.
    pub fn body_dropped(&mut self, id: RequestId) {
        if let Reading::Body {
            id: reading, drain, ..
        } = &mut self.reading
        {
            if *reading == id && drain.is_none() {
                *drain = Some(0);
            }
        }
    }

    fn write_continue_if_due(&mut self) {
        if !matches!(self.responding, Responding::Idle) {
            return;
        }
        if let Some(front) = self.in_flight.front_mut() {
            if front.continue_ == Continue::Wanted {
                front.continue_ = Continue::Sent;
                self.write.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                // The client's time to send the body starts now (the next
                // `poll_event` starts the clock).
                self.body_progress = None;
            }
        }
    }

    /// Starts the response to request `id`, which must be the oldest
    /// unanswered one: writes its head with the framing `body` calls for,
    /// `Date` and `Server` unless set, and the `Connection` field the
    /// keep-alive decision needs. `wall` is the time for `Date`.
    ///
    /// Returns `true` if the response carries body bytes; `false` for one
    /// that cannot (to HEAD or CONNECT, 1xx, 204, 304), whose data is
    /// ignored: the driver can go straight to
    /// [`finish_response`](Self::finish_response).
    pub fn start_response(
        &mut self,
        id: RequestId,
        status: u16,
        headers: &HeaderMap,
        body: ResponseBody,
        wall: SystemTime,
    ) -> Result<bool, ProtoError> {
        let Some(request) = self.in_flight.front() else {
            return Err(ProtoError::NotCurrent(id));
        };
        if request.id != id || !matches!(self.responding, Responding::Idle) {
            return Err(ProtoError::NotCurrent(id));
        }
        let switching = status == 101;
        if (100..200).contains(&status) && !(switching && request.upgrade) {
            return Err(ProtoError::InvalidStatus(status));
        }
        // RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection into a
        // tunnel; like a 101, it has no body and no framing fields.
        let tunnel = request.is_connect && (200..300).contains(&status);
        let hands_over = switching || tunnel;
        let version = request.version;
        // Nothing was parsed after a request that closes, upgrades or
        // connects: unless the connection is handed over, it closes. Nor
        // can a body whose `100 Continue` this response skips be relied on
        // to come: the connection closes, and says so (RFC 9110 §10.1.1).
        let skips_continue = matches!(request.continue_, Continue::Expected | Continue::Wanted)
            && !request.body_done;
        let mut close_after =
            (!request.keep_alive || request.upgrade || request.is_connect || skips_continue)
                && !hands_over;
        let mut app_length = None;
        let (mut has_date, mut has_server) = (false, false);
        for (name, value) in headers {
            check_application_field(name.as_str().as_bytes(), value.as_bytes(), switching)
                .map_err(ProtoError::Encode)?;
            match name.as_str() {
                "connection" => {
                    close_after |= !hands_over && list_contains(value.as_bytes(), b"close")
                }
                "date" => has_date = true,
                "server" => has_server = true,
                // Strict, and one value however many lines carry it: we write
                // the framing field ourselves, once.
                "content-length" => {
                    let declared = parse_content_length(value.as_bytes()).ok_or_else(|| {
                        ProtoError::Encode(EncodeError::InvalidFieldValue {
                            name: "content-length".to_owned(),
                        })
                    })?;
                    if app_length.is_some_and(|seen| seen != declared) {
                        return Err(ProtoError::ContentLengthMismatch {
                            declared,
                            body: app_length.unwrap_or(declared),
                        });
                    }
                    app_length = Some(declared);
                }
                _ => {}
            }
        }

        // RFC 9112 §6.3 from the sender's side: what may carry a body.
        let no_body_status = (100..200).contains(&status) || status == 204 || status == 304;
        let head_only = request.is_head || no_body_status || tunnel;
        let length = match (body, app_length) {
            (ResponseBody::Exact(n), Some(declared)) if n != declared && !head_only => {
                return Err(ProtoError::ContentLengthMismatch { declared, body: n });
            }
            (ResponseBody::Empty, Some(declared)) if declared != 0 && !head_only => {
                return Err(ProtoError::ContentLengthMismatch { declared, body: 0 });
            }
            (_, Some(declared)) => Some(declared),
            (ResponseBody::Exact(n), None) => Some(n),
            (ResponseBody::Empty, None) => Some(0),
            (ResponseBody::Unknown, None) => None,
        };
        let chunked = length.is_none() && !head_only && version == Version::Http11;
        if length.is_none() && !head_only && version == Version::Http10 {
            // RFC 9112 §6.3 ¶8: an HTTP/1.0 body of unknown length ends at close.
            close_after = true;
        }
        if self.closing || self.close_after_flush {
            close_after = true;
        }

        let date = *self.date.value(wall);
        let mut head = HeadWriter::response(self.write.head_buf(), version, status, None)
            .map_err(ProtoError::Encode)?;
        if !has_date {
            head.trusted_field(b"Date", &date);
        }
        if let (false, Some(server)) = (has_server, &self.server_field) {
            head.trusted_field(b"Server", server);
        }
        for (name, value) in headers {
            // Framing and connection fields are the connection's to write
            // (decided above), except what a 101 needs.
            let ours = name == http::header::CONTENT_LENGTH
                || (name == http::header::CONNECTION && !switching);
            if !ours {
                head.http_field(name, value);
            }
        }
        // 1xx, 204 and 304 carry no framing fields of ours (a 304's
        // Content-Length describes the resource: only the application's),
        // nor does a tunnel.
        if no_body_status && status == 304 {
            if let Some(n) = app_length {
                head.content_length(n);
            }
        } else if !no_body_status && !tunnel {
            match length {
                Some(n) => {
                    head.content_length(n);
                }
                _ if chunked => {
                    head.trusted_field(b"Transfer-Encoding", b"chunked");
                }
                _ => {}
            }
        }
        if !hands_over {
            if close_after && version == Version::Http11 {
                head.trusted_field(b"Connection", b"close");
            } else if !close_after && version == Version::Http10 {
                head.trusted_field(b"Connection", b"keep-alive");
            }
        }
        head.finish();
        // After this head the bytes both ways belong to the new protocol.
        self.upgraded = hands_over;

        let encoder = match (head_only, length) {
            (true, _) => Encoder::length(0),
            (false, Some(n)) => Encoder::length(n),
            (false, None) if chunked => Encoder::chunked(),
            (false, None) => Encoder::until_close(),
        };
        if let Some(front) = self.in_flight.front_mut() {
            if matches!(front.continue_, Continue::Expected | Continue::Wanted) {
                front.continue_ = Continue::Skipped;
            }
        }
        self.responding = Responding::Body {
            id,
            encoder,
            head_only,
            close_after,
        };
        Ok(!head_only)
    }

    /// Sends body bytes of the response to `id` (dropped silently for a
    /// response that has no body: HEAD, 1xx, 204, 304).
    pub fn send_data(&mut self, id: RequestId, data: Bytes) -> Result<(), ProtoError> {
        match &mut self.responding {
            Responding::Body {
                id: current,
                encoder,
                head_only,
                ..
            } if *current == id => {
                if *head_only {
                    return Ok(());
                }
                let encoded = encoder.encode(data).map_err(ProtoError::Body)?;
                self.write.push_buf(encoded);
                Ok(())
            }
            _ => Err(ProtoError::NotStarted(id)),
        }
    }

    /// Ends the response to `id`, with trailers if its framing allows them
    /// (chunked). The request is answered: the next one's turn comes.
    pub fn finish_response(
        &mut self,
        id: RequestId,
        trailers: Option<&HeaderMap>,
    ) -> Result<(), ProtoError> {
        let Responding::Body {
            id: current,
            encoder,
            head_only,
            close_after,
        } = &mut self.responding
        else {
            return Err(ProtoError::NotStarted(id));
        };
        if *current != id {
            return Err(ProtoError::NotStarted(id));
        }
        let trailers = if *head_only { None } else { trailers };
        let end = encoder.finish(trailers).map_err(ProtoError::Body)?;
        let close_after = *close_after;
        self.write.push_buf(end);
        self.responding = Responding::Idle;
        let answered = self.in_flight.pop_front();

        if close_after {
            self.reading = Reading::Done;
            self.close_after_flush = true;
            self.in_flight.clear();
            return Ok(());
        }
        if let Some(answered) = answered {
            if !answered.body_done {
                // The application answered without reading the whole body.
                // A client never sent 100 may never send the body: close
                // (RFC 9110 §10.1.1). Otherwise drain the rest to keep the
                // connection.
                if answered.continue_ == Continue::Skipped {
                    self.reading = Reading::Done;
                    self.close_after_flush = true;
                } else {
                    self.body_dropped(answered.id);
                }
            }
        }
        self.write_continue_if_due();
        self.write_rejection_if_due();
        Ok(())
    }

    /// Writes the answer to a rejected request once nothing is owed before it.
    fn write_rejection_if_due(&mut self) {
        if !self.in_flight.is_empty() || !matches!(self.responding, Responding::Idle) {
            return;
        }
        let Some((status, wall)) = self.pending_rejection.take() else {
            return;
        };
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let body = format!("{status} {reason}\n");
        let mut head =
            match HeadWriter::response(self.write.head_buf(), Version::Http11, status, None) {
                Ok(head) => head,
                Err(_) => return,
            };
        // RFC 9110 §6.6.1: an origin server with a clock sends Date.
        head.trusted_field(b"Date", self.date.value(wall));
        if let Some(server) = &self.server_field {
            head.trusted_field(b"Server", server);
        }
        head.trusted_field(b"Content-Type", b"text/plain; charset=utf-8");
        head.content_length(body.len() as u64);
        head.trusted_field(b"Connection", b"close");
        head.finish();
        self.write.put_slice(body.as_bytes());
        self.close_after_flush = true;
    }
}
