//! The client role of the connection state machine; see the [module docs of
//! `proto`](super).

use std::collections::VecDeque;
use std::fmt;

use bytes::{Bytes, BytesMut};
use gruvi_body::{BodyError, ChunkedLimits, Decoder, Encoder, Frame, Trailers};
use gruvi_wire::{
    BodyFraming as WireBody, EncodeError, HeadText, HeadWriter, Limits, ResponseHead,
    ResponseParser, Status, Version, WireError, check_application_field, response_framing,
    wants_keep_alive,
};
use http::HeaderMap;

use crate::write_buf::WriteBuf;

/// Settings of a client connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientConfig {
    /// Limits on response heads.
    pub limits: Limits,
    /// Limits on chunked response bodies.
    pub chunked: ChunkedLimits,
}

/// Identifies a request on its connection; ids grow in sending order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExchangeId(u64);

/// What a request's body will be, as the caller declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    Empty,
    /// Exactly this many bytes (Content-Length).
    Exact(u64),
    /// Unknown length: chunked (HTTP/1.1 only).
    Unknown,
}

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
    pub body: WireBody,
    /// The whole body, when it is empty or length-framed and arrived with
    /// the head: the response is then complete, and no `Data` or `End`
    /// event follows for it. `None`: the body comes in `Data` events, then
    /// `End`.
    pub complete_body: Option<Bytes>,
}

/// What happened on the read side.
#[derive(Debug)]
pub enum ClientEvent<'a> {
    /// An interim (1xx) response to request `id`, other than 101: 100
    /// Continue tells the caller to send a held-back body.
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
        error: ClientError,
    },
}

/// Why a client connection failed or refused a call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// A malformed response head.
    Head(WireError),
    /// A malformed or truncated response body.
    Body(BodyError),
    /// A response arrived with no request waiting for it.
    UnsolicitedResponse,
    /// The server closed the connection before responding.
    ClosedBeforeResponse,
    /// A request that cannot be sent: invalid or hop-by-hop field, bad
    /// method or target.
    Encode(EncodeError),
    /// A body of unknown size on HTTP/1.0, which has no chunked encoding.
    UnknownSizeOnHttp10,
    /// The previous request's body is not finished (requests go out whole,
    /// one after the other), or no body is being sent.
    BodyInProgress,
    /// The connection is closed or closing: no more requests.
    Closed,
    /// A caller's Content-Length that is not a plain decimal, that has
    /// differing values, or that does not match the body being sent (it
    /// would desynchronise the server).
    ContentLength {
        /// The value the caller gave, as text.
        declared: String,
    },
    /// `101 Switching Protocols` to a request that did not ask to upgrade:
    /// what follows is not HTTP.
    UnexpectedSwitch,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Head(e) => write!(f, "malformed response: {e}"),
            ClientError::Body(e) => write!(f, "malformed response body: {e}"),
            ClientError::UnsolicitedResponse => {
                f.write_str("response received with no request outstanding")
            }
            ClientError::ClosedBeforeResponse => f.write_str("connection closed before response"),
            ClientError::Encode(e) => write!(f, "invalid request: {e}"),
            ClientError::UnknownSizeOnHttp10 => f.write_str("body size unknown for HTTP/1.0"),
            ClientError::BodyInProgress => f.write_str("a request body is being sent (or none is)"),
            ClientError::Closed => f.write_str("the connection is closed"),
            ClientError::ContentLength { declared } => write!(
                f,
                "Content-Length {declared:?} does not match the request body (or is not a number)"
            ),
            ClientError::UnexpectedSwitch => {
                f.write_str("101 Switching Protocols to a request that did not ask to upgrade")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// One client connection's state.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    read_buf: BytesMut,
    parser: ResponseParser,
    reading: Reading,
    /// Requests sent (or being sent) and not yet fully answered, oldest first.
    in_flight: VecDeque<InFlight>,
    next_id: u64,
    sending: Sending,
    write: WriteBuf,
    peer_eof: bool,
    /// No more requests: the server said close, or a response cannot be
    /// framed for reuse, or the connection failed.
    closing: bool,
    /// A failure for the requests still waiting, reported after the `End`
    /// of the response that closed the connection.
    pending_failure: Option<ClientError>,
}

#[derive(Debug)]
enum Reading {
    Head,
    Body {
        id: ExchangeId,
        decoder: Decoder,
        close_after: bool,
    },
    Done,
}

#[derive(Debug)]
struct InFlight {
    id: ExchangeId,
    method: Method,
    upgrade: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Head,
    Connect,
    Other,
}

#[derive(Debug)]
enum Sending {
    Idle,
    Body { id: ExchangeId, encoder: Encoder },
}

impl Client {
    /// A new connection.
    pub fn new(config: ClientConfig) -> Self {
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
            config,
        }
    }

    /// The read buffer: the driver reads the socket into it.
    pub fn read_buf(&mut self) -> &mut BytesMut {
        &mut self.read_buf
    }

    /// Returns `true` if the driver should read the socket: the server has
    /// not closed, and what is buffered is within bounds (a head or trailer
    /// section being parsed never needs more than its limit).
    pub fn wants_read(&self) -> bool {
        let in_body = matches!(self.reading, Reading::Body { .. });
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

    /// Returns `true` if another request can be sent on this connection.
    pub fn can_send(&self) -> bool {
        !self.closing && !self.peer_eof && matches!(self.sending, Sending::Idle)
    }

    /// Requests sent and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Writes a request head (pipelined behind any requests still waiting
    /// for responses). The framing fields come from `body`: Content-Length
    /// for an exact size, `Transfer-Encoding: chunked` for an unknown one
    /// (an error on HTTP/1.0). `fields` are the caller's: hop-by-hop ones
    /// are refused, except `Connection: close`, `TE: trailers` (to which
    /// the connection adds `Connection: TE`) and, with `Upgrade`, what an
    /// upgrade needs.
    pub fn send_request<N, V>(
        &mut self,
        method: &str,
        target: &str,
        version: Version,
        fields: &[(N, V)],
        body: RequestBody,
    ) -> Result<ExchangeId, ClientError>
    where
        N: HeadText,
        V: HeadText,
    {
        if !self.can_send() {
            return Err(if matches!(self.sending, Sending::Body { .. }) {
                ClientError::BodyInProgress
            } else {
                ClientError::Closed
            });
        }
        if body == RequestBody::Unknown && version == Version::Http10 {
            return Err(ClientError::UnknownSizeOnHttp10);
        }
        let mut upgrade = false;
        let mut close = false;
        let mut checked = Vec::with_capacity(fields.len());
        for (name, value) in fields {
            let (name, value) =
                gruvi_wire::check_field(name, value).map_err(ClientError::Encode)?;
            if name.eq_ignore_ascii_case(b"upgrade") {
                upgrade = true;
            }
            checked.push((name, value));
        }
        let mut declared: Option<u64> = None;
        let mut asks_trailers = false;
        for (name, value) in &checked {
            // RFC 9110 §10.1.4: a client may say it accepts trailers with
            // `TE: trailers` (the only TE value it can mean over HTTP/1.1
            // without transfer codings of its own); `Connection: TE` is ours.
            if gruvi_wire::is_te_trailers(name, value) {
                asks_trailers = true;
                continue;
            }
            check_application_field(name, value, upgrade).map_err(ClientError::Encode)?;
            if name.eq_ignore_ascii_case(b"connection") {
                close |= gruvi_wire::list_contains(value, b"close");
            }
            if name.eq_ignore_ascii_case(b"content-length") {
                // The framing field is ours to write; the caller's must agree.
                let refused = || ClientError::ContentLength {
                    declared: gruvi_wire::latin1_text(value),
                };
                let n = gruvi_wire::parse_content_length(value).ok_or_else(refused)?;
                let agrees = declared.is_none_or(|d| d == n)
                    && match body {
                        RequestBody::Empty => n == 0,
                        RequestBody::Exact(len) => n == len,
                        RequestBody::Unknown => false,
                    };
                if !agrees {
                    return Err(refused());
                }
                declared = Some(n);
            }
        }
        let mut head = HeadWriter::request(self.write.head_buf(), method, target, version)
            .map_err(ClientError::Encode)?;
        for (name, value) in &checked {
            if !name.eq_ignore_ascii_case(b"content-length") {
                head.trusted_field(name, value);
            }
        }
        if asks_trailers {
            head.trusted_field(b"Connection", b"TE");
        }
        let encoder = match body {
            RequestBody::Empty if method_may_have_body(method) => {
                // RFC 9110 §8.6: a request that usually has content says 0.
                head.trusted_field(b"Content-Length", b"0");
                None
            }
            RequestBody::Empty => None,
            RequestBody::Exact(n) => {
                head.content_length(n);
                Some(Encoder::length(n))
            }
            RequestBody::Unknown => {
                head.trusted_field(b"Transfer-Encoding", b"chunked");
                Some(Encoder::chunked())
            }
        };
        head.finish();

        let id = ExchangeId(self.next_id);
        self.next_id += 1;
        let method = match method {
            "HEAD" => Method::Head,
            "CONNECT" => Method::Connect,
            _ => Method::Other,
        };
        self.in_flight.push_back(InFlight {
            id,
            method,
            upgrade,
        });
        if let Some(encoder) = encoder {
            self.sending = Sending::Body { id, encoder };
        }
        // A request that closes, upgrades or connects is the last one: what
        // follows it on the wire is not ours to frame.
        self.closing |= close || upgrade || method == Method::Connect || version == Version::Http10;
        Ok(id)
    }

    /// Sends body bytes of request `id`.
    pub fn send_data(&mut self, id: ExchangeId, data: Bytes) -> Result<(), ClientError> {
        match &mut self.sending {
            Sending::Body {
                id: current,
                encoder,
            } if *current == id => {
                let encoded = encoder.encode(data).map_err(ClientError::Body)?;
                self.write.push_buf(encoded);
                Ok(())
            }
            _ => Err(ClientError::BodyInProgress),
        }
    }

    /// Ends the body of request `id`, with trailers if it is chunked.
    pub fn finish_request(
        &mut self,
        id: ExchangeId,
        trailers: Option<&HeaderMap>,
    ) -> Result<(), ClientError> {
        match &mut self.sending {
            Sending::Body {
                id: current,
                encoder,
            } if *current == id => {
                let end = encoder.finish(trailers).map_err(ClientError::Body)?;
                self.write.push_buf(end);
                self.sending = Sending::Idle;
                Ok(())
            }
            _ => Err(ClientError::BodyInProgress),
        }
    }

    /// The body of request `id` will not be sent (a final response came
    /// before `100 Continue`): the server may still be waiting for it, so
    /// the connection is not reused.
    pub fn abandon_body(&mut self, id: ExchangeId) {
        if matches!(&self.sending, Sending::Body { id: current, .. } if *current == id) {
            self.sending = Sending::Idle;
            self.closing = true;
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
    pub fn poll_event(&mut self) -> Option<ClientEvent<'_>> {
        if let Some(error) = self.pending_failure.take() {
            return Some(self.fail(error));
        }
        match &mut self.reading {
            Reading::Done => None,
            Reading::Body {
                id,
                decoder,
                close_after,
            } => {
                let id = *id;
                let frame = decoder.decode_input(&mut self.read_buf, self.peer_eof);
                match frame {
                    Ok(None) => None,
                    Ok(Some(Frame::Data(data))) => Some(ClientEvent::Data { id, data }),
                    Ok(Some(Frame::End(trailers))) => {
                        let close_after = *close_after;
                        self.response_ended(close_after);
                        Some(ClientEvent::End { id, trailers })
                    }
                    Err(error) => Some(self.fail(ClientError::Body(error))),
                }
            }
            Reading::Head => {
                if self.read_buf.is_empty() {
                    if self.peer_eof {
                        return self.fail_if_waiting(ClientError::ClosedBeforeResponse);
                    }
                    return None;
                }
                if self.in_flight.is_empty() {
                    return Some(self.fail(ClientError::UnsolicitedResponse));
                }
                self.parse_head()
            }
        }
    }

    fn parse_head(&mut self) -> Option<ClientEvent<'_>> {
        let consumed = match self.parser.parse(&self.read_buf) {
            Ok(Status::Partial) if self.peer_eof => {
                return Some(self.fail(ClientError::ClosedBeforeResponse));
            }
            Ok(Status::Partial) => return None,
            Ok(Status::Complete(_, consumed)) => consumed,
            Err(error) => return Some(self.fail(ClientError::Head(error))),
        };
        let bytes = self.read_buf.split_to(consumed).freeze();
        let front = self.in_flight.front()?;
        let (id, method, upgrade) = (front.id, front.method, front.upgrade);
        let decided = {
            let head = self.parser.completed()?;
            let method_bytes: &[u8] = match method {
                Method::Head => b"HEAD",
                Method::Connect => b"CONNECT",
                Method::Other => b"GET",
            };
            response_framing(method_bytes, head, &bytes).map(|framing| {
                (
                    framing,
                    head.status(),
                    wants_keep_alive(head.version(), head.fields(), &bytes),
                )
            })
        };
        let (framing, status, keep_alive) = match decided {
            Ok(decided) => decided,
            Err(error) => return Some(self.fail(ClientError::Head(error))),
        };

        // 1xx: interim; only 101 to an upgrade request changes anything.
        if (100..200).contains(&status) {
            if status == 101 {
                if upgrade {
                    return self.hand_over(id, bytes);
                }
                return Some(self.fail(ClientError::UnexpectedSwitch));
            }
            return Some(ClientEvent::Interim { id, status });
        }
        if framing.body == WireBody::Tunnel {
            return self.hand_over(id, bytes);
        }
        let close_after = framing.must_close || !keep_alive;
        // A body that is already here whole goes out with its head, and the
        // response is complete: no channel, no `Data`, no `End`.
        let complete_body = match framing.body {
            WireBody::Empty => Some(Bytes::new()),
            WireBody::Length(n) if n <= self.read_buf.len() as u64 => {
                // `n` fits: it is at most the buffer's length.
                Some(self.read_buf.split_to(n as usize).freeze())
            }
            _ => None,
        };
        if complete_body.is_some() {
            self.response_ended(close_after);
        } else {
            let decoder = match framing.body {
                WireBody::Empty | WireBody::Tunnel => Decoder::length(0),
                WireBody::Length(n) => Decoder::length(n),
                // RFC 9112 §5.2 ¶3: the trailers of a response follow the
                // response field rules (obs-fold unfolded, bare LF accepted).
                WireBody::Chunked => Decoder::chunked_response(self.config.chunked),
                WireBody::UntilClose => Decoder::until_close(),
            };
            self.reading = Reading::Body {
                id,
                decoder,
                close_after,
            };
            if close_after {
                self.closing = true;
            }
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

    /// The oldest response is complete: read the next head, or stop
    /// reading if the connection closes after it.
    fn response_ended(&mut self, close_after: bool) {
        self.in_flight.pop_front();
        if close_after {
            self.closing = true;
            self.reading = Reading::Done;
            // Requests pipelined behind this one will never be answered on
            // this connection.
            if !self.in_flight.is_empty() {
                self.pending_failure = Some(ClientError::ClosedBeforeResponse);
            }
        } else {
            self.reading = Reading::Head;
            if self.in_flight.is_empty() && !self.read_buf.is_empty() {
                // Bytes no request asked for: fail now, before a new
                // request could take them as its response.
                self.closing = true;
                self.pending_failure = Some(ClientError::UnsolicitedResponse);
            }
        }
    }

    /// The connection leaves HTTP: everything after the head is the caller's.
    fn hand_over(&mut self, id: ExchangeId, bytes: Bytes) -> Option<ClientEvent<'_>> {
        self.reading = Reading::Done;
        self.closing = true;
        self.in_flight.pop_front();
        if !self.in_flight.is_empty() {
            // Nothing can be pipelined behind an upgrade or CONNECT (see
            // `send_request`); should anything be, it fails, never hangs.
            self.pending_failure = Some(ClientError::ClosedBeforeResponse);
        }
        let leftover = self.read_buf.split().freeze();
        let head = self.parser.completed()?;
        Some(ClientEvent::Upgraded {
            response: Response {
                id,
                head,
                bytes,
                body: WireBody::Tunnel,
                complete_body: None,
            },
            leftover,
        })
    }

    fn fail_if_waiting(&mut self, error: ClientError) -> Option<ClientEvent<'static>> {
        self.reading = Reading::Done;
        self.closing = true;
        if self.in_flight.is_empty() {
            return None;
        }
        Some(self.fail(error))
    }

    fn fail(&mut self, error: ClientError) -> ClientEvent<'static> {
        self.reading = Reading::Done;
        self.closing = true;
        let waiting = self.in_flight.drain(..).map(|r| r.id).collect();
        ClientEvent::Failed { waiting, error }
    }
}

/// Methods whose requests usually carry content (RFC 9110 §9.3).
fn method_may_have_body(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH")
}
