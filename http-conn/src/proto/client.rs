//! The client role of the connection state machine: requests written in
//! order (pipelined), responses framed by the FIFO of requests in flight,
//! `100 Continue` for held-back bodies, the connection's timers, and the
//! signals a pool reads. See the [module docs of `proto`](super).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use gruvi_body::{ChunkedLimits, Decoder, Encoder, Trailers};
use gruvi_wire::{
    BodyFraming, HeadText, Limits, ResponseHead, ResponseParser, Status, Version,
    exchange_keeps_alive, response_framing, wants_keep_alive,
};
use http::HeaderMap;

use super::received::{BodyStep, ReceivedBody};
use super::request::{PreparedRequest, RequestMethod};
use super::{BodySize, LocalError, ResponseError};
use crate::write_buf::WriteBuf;

mod timers;

pub use timers::ClientExpired;
use timers::Timers;

/// Settings of a client connection.
#[derive(Clone, Copy, Debug)]
pub struct ClientConfig {
    /// Limits on response heads.
    pub limits: Limits,
    /// Limits on chunked response bodies.
    pub chunked: ChunkedLimits,
    /// Request bytes buffered for a server that reads slowly; past it a
    /// driver stops moving request bodies in. Default 256 KiB.
    pub write_buffer: usize,
    /// How long a body held back for `100 Continue` waits before it is sent
    /// anyway (RFC 9110 §10.1.1). Default 1 s.
    pub expect_continue_timeout: Duration,
    /// Time allowed for a response head, from the moment its request is
    /// written whole (or, pipelined, the response before it ended). Past
    /// it every request waiting fails and the connection closes. Default
    /// 60 s; `None`: wait as long as the server takes.
    pub response_timeout: Option<Duration>,
    /// Time allowed between bytes of a response body while the connection
    /// waits for them (not while the reader is slow). Default 60 s.
    pub body_read_timeout: Option<Duration>,
    /// Most interim (1xx) responses accepted before a final one (RFC 9110
    /// §15.2 sets no bound; an endless stream of them would keep a request
    /// waiting forever). Default 16.
    pub max_interim_responses: usize,
    /// Most bytes of a response body the caller dropped that are read and
    /// thrown away to keep the connection; beyond that it closes (what was
    /// pipelined behind fails). Default 256 KiB.
    pub max_drain_bytes: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: Limits::default(),
            chunked: ChunkedLimits::default(),
            write_buffer: 256 * 1024,
            expect_continue_timeout: Duration::from_secs(1),
            response_timeout: Some(Duration::from_secs(60)),
            body_read_timeout: Some(Duration::from_secs(60)),
            max_interim_responses: 16,
            max_drain_bytes: 256 * 1024,
        }
    }
}

/// Identifies a request on its connection; ids grow in sending order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(u64);

/// A response head and what the connection decided about it. The head is
/// lent by the parser: use it before the next [`Client::poll_event`].
#[derive(Clone, Debug)]
pub struct Response<'a> {
    /// The request it answers.
    pub id: ExchangeId,
    /// The head; its spans index into [`bytes`](Self::bytes).
    pub head: &'a ResponseHead,
    /// The head's bytes, frozen off the read buffer.
    pub bytes: Bytes,
    /// How the body is framed.
    pub body: BodyFraming,
    /// The whole body, when it is empty or length-framed and arrived with
    /// the head: the response is then complete, and no `Data` or `End`
    /// event follows for it. `None`: the body comes in `Data` events, then
    /// `End`.
    pub complete_body: Option<Bytes>,
}

/// What happened on the read side.
#[derive(Debug)]
pub enum ClientEvent<'a> {
    /// An interim (1xx) response to request `id`, other than 101 (a `100
    /// Continue` also releases a held-back body).
    Interim {
        /// The request.
        id: ExchangeId,
        /// The interim status (100, 102, 103, ...).
        status: u16,
    },
    /// The final response head to request `id`.
    Response(Response<'a>),
    /// Body bytes of the response to `id`.
    Data {
        /// The request.
        id: ExchangeId,
        /// The bytes, split off the read buffer.
        data: Bytes,
    },
    /// The response to `id` ended.
    End {
        /// The request.
        id: ExchangeId,
        /// Its trailers (empty if none).
        trailers: Trailers,
    },
    /// `101 Switching Protocols` (or a 2xx to CONNECT): the connection now
    /// belongs to the caller, with the bytes already read after the head.
    Upgraded {
        /// The switching response (its body framing is `Tunnel`).
        response: Response<'a>,
        /// Bytes received after the response head.
        leftover: Bytes,
    },
    /// The connection failed: every request still waiting (oldest first)
    /// gets `error`; nothing more happens on this connection.
    Failed {
        /// The requests that got no (complete) response.
        waiting: Vec<ExchangeId>,
        /// Why.
        error: ResponseError,
    },
}

/// Where the body of the request being sent stands (see
/// [`Client::request_body`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBodyState {
    /// No body is being sent: a driver drops any it holds.
    None,
    /// Held back until `100 Continue` (or its timer): wait.
    Held(ExchangeId),
    /// Send it now.
    Wanted(ExchangeId),
}

/// One client connection's state.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    read_buf: BytesMut,
    parser: ResponseParser,
    reading: Reading,
    /// Requests sent (or being sent) and not yet fully answered, oldest first.
    in_flight: VecDeque<Exchange>,
    next_id: u64,
    sending: Sending,
    write: WriteBuf,
    peer_eof: bool,
    /// No more requests: the server said close, a response cannot be
    /// framed for reuse, a request was the last, or the connection failed.
    closing: bool,
    /// A failure for the requests still waiting, reported after the `End`
    /// of the response that closed the connection.
    pending_failure: Option<ResponseError>,
    timers: Timers,
}

#[derive(Debug)]
enum Reading {
    Head,
    Body {
        body: ReceivedBody<ExchangeId>,
        close_after: bool,
    },
    Done,
}

#[derive(Debug)]
struct Exchange {
    id: ExchangeId,
    method: RequestMethod,
    upgrade: bool,
    /// The request asked for the connection to end after it.
    last: bool,
    /// Interim responses received so far.
    interim: usize,
    /// When the request was written whole (`None` while its body is).
    sent: Option<Instant>,
}

#[derive(Debug)]
enum Sending {
    Idle,
    Body {
        id: ExchangeId,
        encoder: Encoder,
        /// Held back for `100 Continue` until this instant.
        held_until: Option<Instant>,
    },
}

impl Client {
    /// A new connection, opened at `now`.
    pub fn new(config: ClientConfig, now: Instant) -> Self {
        Client {
            read_buf: BytesMut::with_capacity(8 * 1024),
            parser: ResponseParser::new(config.limits),
            reading: Reading::Head,
            in_flight: VecDeque::new(),
            next_id: 0,
            sending: Sending::Idle,
            write: WriteBuf::new(),
            peer_eof: false,
            closing: false,
            pending_failure: None,
            timers: Timers {
                idle_since: Some(now),
                ..Timers::default()
            },
            config,
        }
    }

    /// The read buffer: the driver reads the socket into it.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Returns `true` if the driver should read the socket: the server has
    /// not closed, the reader of a body keeps up, and what is buffered is
    /// within bounds (a head or trailer section being parsed never needs
    /// more than its limit).
    pub fn wants_read(&self) -> bool {
        let in_body = match self.reading {
            Reading::Body { ref body, .. } if body.is_paused() => return false,
            Reading::Body { .. } => true,
            Reading::Head | Reading::Done => false,
        };
        let bound = super::read_bound(&self.config.limits, &self.config.chunked, in_body);
        !self.peer_eof && self.read_buf.len() < bound
    }

    /// The server closed its sending side.
    pub fn received_eof(&mut self) {
        self.peer_eof = true;
    }

    /// The bytes to send.
    pub fn write_buf(&mut self) -> &mut WriteBuf {
        &mut self.write
    }

    /// Returns `true` while the bytes waiting to be written are below
    /// [`ClientConfig::write_buffer`]: a driver moves request bodies in only
    /// then.
    pub fn can_buffer_more(&self) -> bool {
        self.write.remaining() < self.config.write_buffer
    }

    /// Returns `true` if another request can be sent on this connection
    /// now (pipelined behind those in flight): it is not closing, the
    /// server has not closed, and no request body is being sent.
    pub fn can_send(&self) -> bool {
        !self.closing && !self.peer_eof && matches!(self.sending, Sending::Idle)
    }

    /// Returns `true` once the connection will carry no new request: it
    /// closes after what is in flight (or has failed, or the server closed
    /// its side).
    pub fn is_closing(&self) -> bool {
        self.closing || self.peer_eof
    }

    /// Requests sent and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Since when nothing is in flight (`None` while something is).
    pub fn idle_since(&self) -> Option<Instant> {
        self.timers.idle_since
    }

    /// Writes a request whose head is given as it goes on the wire — a
    /// shortcut for [`PreparedRequest::new`] then
    /// [`send_prepared`](Self::send_prepared).
    pub fn send_request<N, V>(
        &mut self,
        method: &str,
        target: &str,
        version: Version,
        fields: &[(N, V)],
        body: BodySize,
        now: Instant,
    ) -> Result<ExchangeId, LocalError>
    where
        N: HeadText,
        V: HeadText,
    {
        self.check_can_send()?;
        let request = PreparedRequest::new(method, target, version, fields, body)?;
        self.send_prepared(&request, now)
    }

    fn check_can_send(&self) -> Result<(), LocalError> {
        if self.can_send() {
            Ok(())
        } else if matches!(self.sending, Sending::Body { .. }) {
            Err(LocalError::BodyInProgress)
        } else {
            Err(LocalError::Closed)
        }
    }

    /// Writes a prepared request (pipelined behind any still waiting for
    /// responses); its body, if it has one, follows through
    /// [`send_data`](Self::send_data) and
    /// [`finish_request`](Self::finish_request) — held back, with `Expect:
    /// 100-continue`, until [`request_body`](Self::request_body) says.
    pub fn send_prepared(
        &mut self,
        request: &PreparedRequest,
        now: Instant,
    ) -> Result<ExchangeId, LocalError> {
        self.check_can_send()?;
        self.write.push(request.head.clone());
        let id = ExchangeId(self.next_id);
        self.next_id += 1;
        let encoder = match request.framing {
            BodyFraming::Length(n) => Some(Encoder::length(n)),
            BodyFraming::Chunked => Some(Encoder::chunked()),
            _ => None,
        };
        if self.in_flight.is_empty() {
            self.timers.front_since = Some(now);
        }
        self.timers.idle_since = None;
        self.in_flight.push_back(Exchange {
            id,
            method: request.method,
            upgrade: request.upgrade,
            last: request.last,
            interim: 0,
            sent: encoder.is_none().then_some(now),
        });
        if let Some(encoder) = encoder {
            let held_until = request
                .expects_continue
                .then(|| now + self.config.expect_continue_timeout);
            self.sending = Sending::Body {
                id,
                encoder,
                held_until,
            };
        }
        self.closing |= request.last;
        Ok(id)
    }

    /// Where the body of the request being sent stands: none, held back for
    /// `100 Continue`, or wanted now.
    pub fn request_body(&self) -> RequestBodyState {
        match self.sending {
            Sending::Idle => RequestBodyState::None,
            Sending::Body {
                id,
                held_until: Some(_),
                ..
            } => RequestBodyState::Held(id),
            Sending::Body { id, .. } => RequestBodyState::Wanted(id),
        }
    }

    /// Sends body bytes of request `id`.
    pub fn send_data(&mut self, id: ExchangeId, data: Bytes) -> Result<(), LocalError> {
        match &mut self.sending {
            Sending::Body {
                id: current,
                encoder,
                ..
            } if *current == id => {
                let encoded = encoder.encode(data).map_err(LocalError::Body)?;
                self.write.push_encoded(&encoded);
                Ok(())
            }
            _ => Err(LocalError::BodyInProgress),
        }
    }

    /// Ends the body of request `id`, with trailers if it is chunked; the
    /// request is written whole at `now` (its response timer starts).
    pub fn finish_request(
        &mut self,
        id: ExchangeId,
        trailers: Option<&HeaderMap>,
        now: Instant,
    ) -> Result<(), LocalError> {
        match &mut self.sending {
            Sending::Body {
                id: current,
                encoder,
                ..
            } if *current == id => {
                let end = encoder.finish(trailers).map_err(LocalError::Body)?;
                self.write.push_encoded(&end);
                self.sending = Sending::Idle;
                if let Some(exchange) = self.in_flight.iter_mut().find(|e| e.id == id) {
                    exchange.sent = Some(now);
                }
                Ok(())
            }
            _ => Err(LocalError::BodyInProgress),
        }
    }

    /// The body of request `id` will not be sent whole (it failed): the
    /// server may still be waiting for it, so the connection is not
    /// reused.
    pub fn abandon_body(&mut self, id: ExchangeId) {
        if matches!(&self.sending, Sending::Body { id: current, .. } if *current == id) {
            self.sending = Sending::Idle;
            self.closing = true;
        }
    }

    /// The caller dropped the body of the response to `id` unread: the rest
    /// is read and thrown away (up to [`ClientConfig::max_drain_bytes`]) so
    /// the connection can carry the next response; `Data` events stop, the
    /// `End` still comes.
    pub fn body_dropped(&mut self, id: ExchangeId) {
        if let Reading::Body { body, .. } = &mut self.reading {
            if body.id == id {
                body.dropped();
            }
        }
    }

    /// The driver stopped (`true`) or resumed (`false`) handing body bytes
    /// to the caller because it reads slowly: no more is read meanwhile and
    /// the body-read timer does not run. Returns `true` if this resumed a
    /// paused body: the driver reads again. Nothing happens while no body
    /// is read, or to a body the caller dropped (it has no reader to wait
    /// for: it is read and thrown away).
    pub fn set_body_paused(&mut self, paused: bool, now: Instant) -> bool {
        match &mut self.reading {
            Reading::Body { body, .. } => body.set_paused(paused, now),
            _ => false,
        }
    }

    /// Returns `true` when the connection should be closed: it will carry no
    /// more exchanges and everything was written.
    pub fn is_done(&self) -> bool {
        self.write.is_empty()
            && (matches!(self.reading, Reading::Done)
                || (self.closing
                    && self.in_flight.is_empty()
                    && matches!(self.sending, Sending::Idle)))
    }

    /// The next read-side event, or `None` until more input arrives.
    pub fn poll_event(&mut self, now: Instant) -> Option<ClientEvent<'_>> {
        if let Some(error) = self.pending_failure.take() {
            return Some(self.fail(error));
        }
        match &mut self.reading {
            Reading::Done => None,
            Reading::Body { body, close_after } => {
                let id = body.id;
                let max_drain = self.config.max_drain_bytes;
                match body.step(&mut self.read_buf, self.peer_eof, now, max_drain) {
                    BodyStep::Wait => None,
                    BodyStep::Data(data) => Some(ClientEvent::Data { id, data }),
                    // A dropped body's end, too: the exchange is over.
                    BodyStep::End { trailers, .. } => {
                        let close_after = *close_after;
                        self.response_ended(close_after, now);
                        Some(ClientEvent::End { id, trailers })
                    }
                    // Too much to throw away: close instead.
                    BodyStep::Overdrained => Some(self.fail(ResponseError::ClosedBeforeResponse)),
                    BodyStep::Failed { error, .. } => Some(self.fail(ResponseError::Body(error))),
                }
            }
            Reading::Head => {
                if self.read_buf.is_empty() {
                    if self.peer_eof {
                        return self.fail_if_waiting(ResponseError::ClosedBeforeResponse);
                    }
                    return None;
                }
                if self.in_flight.is_empty() {
                    return Some(self.fail(ResponseError::UnsolicitedResponse));
                }
                self.parse_head(now)
            }
        }
    }

    fn parse_head(&mut self, now: Instant) -> Option<ClientEvent<'_>> {
        let consumed = match self.parser.parse(&self.read_buf) {
            Ok(Status::Partial) if self.peer_eof => {
                return Some(self.fail(ResponseError::ClosedBeforeResponse));
            }
            Ok(Status::Partial) => return None,
            Ok(Status::Complete(_, consumed)) => consumed,
            Err(error) => return Some(self.fail(ResponseError::Head(error))),
        };
        let bytes = self.read_buf.split_to(consumed).freeze();
        let front = self.in_flight.front()?;
        let (id, method, upgrade, last) = (front.id, front.method, front.upgrade, front.last);
        let decided = {
            let head = self.parser.completed()?;
            response_framing(method.as_bytes(), head, &bytes).map(|framing| {
                (
                    framing,
                    head.status(),
                    wants_keep_alive(head.version(), head.fields(), &bytes),
                )
            })
        };
        let (framing, status, keep_alive) = match decided {
            Ok(decided) => decided,
            Err(error) => return Some(self.fail(ResponseError::Head(error))),
        };

        // 1xx: interim; only 101 to an upgrade request changes anything.
        if (100..200).contains(&status) {
            if status == 101 {
                if upgrade {
                    return self.hand_over(id, bytes);
                }
                return Some(self.fail(ResponseError::UnexpectedSwitch));
            }
            return Some(self.interim(id, status));
        }
        if framing.body == BodyFraming::Tunnel {
            return self.hand_over(id, bytes);
        }
        // A final response while the body is held back: the server decided
        // without it. It is not sent, and the server may still wait for it:
        // the connection is not reused (RFC 9110 §10.1.1).
        if matches!(&self.sending, Sending::Body { id: sending, held_until: Some(_), .. } if *sending == id)
        {
            self.sending = Sending::Idle;
            self.closing = true;
        }
        // RFC 9112 §9.3: the request's say, the response's, and the framing's.
        let close_after = !exchange_keeps_alive(!last, keep_alive, framing.must_close);
        // A body that is already here whole goes out with its head, and the
        // response is complete: no channel, no `Data`, no `End`.
        let complete_body = match framing.body {
            BodyFraming::Empty => Some(Bytes::new()),
            BodyFraming::Length(n) if n <= self.read_buf.len() as u64 => {
                // `n` fits: it is at most the buffer's length.
                Some(self.read_buf.split_to(n as usize).freeze())
            }
            _ => None,
        };
        if complete_body.is_some() {
            self.response_ended(close_after, now);
        } else {
            self.read_body(id, framing.body, close_after);
        }
        let head = self.parser.completed()?;
        Some(ClientEvent::Response(Response {
            id,
            head,
            bytes,
            body: framing.body,
            complete_body,
        }))
    }

    /// An interim response to `id`: counted against the bound; a `100
    /// Continue` releases the body held for it (RFC 9110 §10.1.1).
    fn interim(&mut self, id: ExchangeId, status: u16) -> ClientEvent<'static> {
        let limit = self.config.max_interim_responses;
        if let Some(front) = self.in_flight.front_mut() {
            front.interim += 1;
            if front.interim > limit {
                return self.fail(ResponseError::TooManyInterim { limit });
            }
        }
        if status == 100 {
            if let Sending::Body {
                id: sending,
                held_until,
                ..
            } = &mut self.sending
            {
                if *sending == id {
                    *held_until = None;
                }
            }
        }
        ClientEvent::Interim { id, status }
    }

    /// The response to `id` has a body to decode, framed so.
    fn read_body(&mut self, id: ExchangeId, framing: BodyFraming, close_after: bool) {
        let decoder = match framing {
            BodyFraming::Empty | BodyFraming::Tunnel => Decoder::length(0),
            BodyFraming::Length(n) => Decoder::length(n),
            // RFC 9112 §5.2 ¶3: the trailers of a response follow the
            // response field rules (obs-fold unfolded, bare LF accepted).
            BodyFraming::Chunked => Decoder::chunked_response(self.config.chunked),
            BodyFraming::UntilClose => Decoder::until_close(),
        };
        self.reading = Reading::Body {
            body: ReceivedBody::new(id, decoder),
            close_after,
        };
        if close_after {
            self.closing = true;
        }
    }

    /// The oldest response is complete: read the next head, or stop
    /// reading if the connection closes after it.
    fn response_ended(&mut self, close_after: bool, now: Instant) {
        self.in_flight.pop_front();
        self.timers.front_since = Some(now);
        if self.in_flight.is_empty() && matches!(self.sending, Sending::Idle) {
            self.timers.idle_since = Some(now);
        }
        if close_after {
            self.closing = true;
            self.reading = Reading::Done;
            // Requests pipelined behind this one will never be answered on
            // this connection.
            if !self.in_flight.is_empty() {
                self.pending_failure = Some(ResponseError::ClosedBeforeResponse);
            }
        } else {
            self.reading = Reading::Head;
            if self.in_flight.is_empty() && !self.read_buf.is_empty() {
                // Bytes no request asked for: fail now, before a new
                // request could take them as its response.
                self.closing = true;
                self.pending_failure = Some(ResponseError::UnsolicitedResponse);
            }
        }
    }

    /// The connection leaves HTTP: everything after the head is the caller's.
    fn hand_over(&mut self, id: ExchangeId, bytes: Bytes) -> Option<ClientEvent<'_>> {
        self.reading = Reading::Done;
        self.closing = true;
        self.sending = Sending::Idle;
        self.in_flight.pop_front();
        if !self.in_flight.is_empty() {
            // Nothing can be pipelined behind an upgrade or CONNECT (it is
            // a request's last); should anything be, it fails, never hangs.
            self.pending_failure = Some(ResponseError::ClosedBeforeResponse);
        }
        let leftover = self.read_buf.split().freeze();
        let head = self.parser.completed()?;
        Some(ClientEvent::Upgraded {
            response: Response {
                id,
                head,
                bytes,
                body: BodyFraming::Tunnel,
                complete_body: None,
            },
            leftover,
        })
    }

    fn fail_if_waiting(&mut self, error: ResponseError) -> Option<ClientEvent<'static>> {
        self.reading = Reading::Done;
        self.closing = true;
        if self.in_flight.is_empty() {
            return None;
        }
        Some(self.fail(error))
    }

    fn fail(&mut self, error: ResponseError) -> ClientEvent<'static> {
        self.reading = Reading::Done;
        self.closing = true;
        self.sending = Sending::Idle;
        let waiting = self.in_flight.drain(..).map(|r| r.id).collect();
        ClientEvent::Failed { waiting, error }
    }
}
