//! The read side of the server role: request heads, their bodies, and
//! what is refused before the application sees it.

use std::time::Instant;

use bytes::Bytes;
use gruvi_body::{BodyError, Decoder};
use gruvi_wire::{
    BodyFraming, RequestHead, Status, Version, WireError, expects_continue, is_upgrade_request,
    request_framing, wants_keep_alive,
};

use super::{
    Answer, BodyNotice, Continue, Exchange, Method, PeerError, Reading, Request, RequestId,
    Responding, Server, ServerEvent,
};
use crate::proto::received::{BodyStep, ReceivedBody};

impl Server {
    /// The next event, or `None` until more input arrives (or while the
    /// pipeline is full, or the peer does not read its responses).
    pub fn poll_event(&mut self, now: Instant) -> Option<ServerEvent<'_>> {
        if let Some(notice) = self.body_notice.take() {
            return Some(match notice {
                BodyNotice::Failed(id, error) => ServerEvent::BodyFailed { id, error },
                BodyNotice::Abandoned(id) => ServerEvent::BodyAbandoned { id },
            });
        }
        if let Some(error) = self.rejected.take() {
            return Some(ServerEvent::Rejected(error));
        }
        loop {
            match &mut self.reading {
                Reading::Done => return None,
                Reading::Head => {
                    if !self.may_parse_head() {
                        return None;
                    }
                    // RFC 9112 §2.2 ¶6: empty lines before a request line
                    // are ignored; a stray CRLF after a body leaves the
                    // connection idle, not reading a head.
                    let blank = self.read_buf.len() <= 4
                        && self.read_buf.iter().all(|&b| b == b'\r' || b == b'\n');
                    if blank {
                        if self.peer_eof {
                            // No request is coming (RFC 9112 §9.6).
                            self.reading = Reading::Done;
                        } else if self.in_flight.is_empty() && self.timers.opened.is_none() {
                            self.timers.idle_since.get_or_insert(now);
                        }
                        return None;
                    }
                    self.timers.idle_since = None;
                    self.timers.head_started.get_or_insert(now);
                    return self.parse_head(now);
                }
                Reading::Body(body) => {
                    let id = body.id;
                    let max_drain = self.config.max_drain_bytes;
                    // A reader that is behind gets nothing more until it
                    // catches up (backpressure); a drained body goes on.
                    match body.step(&mut self.read_buf, self.peer_eof, now, max_drain) {
                        BodyStep::Wait => return None,
                        BodyStep::Data(data) => return Some(ServerEvent::Data { id, data }),
                        BodyStep::Overdrained => {
                            // Too much to throw away: close instead (nor can
                            // what follows be handed over).
                            self.switching = false;
                            self.end_after(id);
                            self.stop_reading();
                            return None;
                        }
                        BodyStep::End { trailers, drained } => {
                            self.body_ended(id);
                            if !drained {
                                return Some(ServerEvent::End { id, trailers });
                            }
                        }
                        BodyStep::Failed { error, delivered } => {
                            self.stop_reading();
                            self.body_failed(id, error.clone(), now);
                            if delivered {
                                return Some(ServerEvent::BodyFailed { id, error });
                            }
                            return None;
                        }
                    }
                }
            }
        }
    }

    pub(super) fn parse_head(&mut self, now: Instant) -> Option<ServerEvent<'_>> {
        let consumed = match self.parser.parse(&self.read_buf) {
            Ok(Status::Partial) => {
                if self.peer_eof {
                    // The client hung up mid-head: nothing to answer.
                    self.reading = Reading::Done;
                }
                return None;
            }
            Ok(Status::Complete(_, consumed)) => consumed,
            Err(error) => return Some(self.reject(PeerError::Head(error), now)),
        };
        let bytes = self.read_buf.split_to(consumed).freeze();
        self.timers.head_started = None;
        self.timers.opened = None;
        // Everything decided from the head is taken first, so that the head
        // is borrowed again only to lend it in the event.
        let decided = match self
            .parser
            .completed()
            .map(|head| HeadSays::of(head, &bytes))?
        {
            Ok(decided) => decided,
            Err(error) => return Some(self.reject(PeerError::Head(error), now)),
        };
        let HeadSays {
            framing,
            keep_alive,
            expects_continue,
            upgrade,
            method,
            version,
        } = decided;
        if let (BodyFraming::Length(declared), Some(limit)) =
            (framing.body, self.config.max_body_bytes)
        {
            if declared > limit {
                // Refused before any of it is read, and without asking for
                // it (no `100 Continue`).
                return Some(self.reject(PeerError::ContentTooLarge { declared, limit }, now));
            }
        }
        let id = self.next_id;
        self.next_id = id.next();
        let (body, complete_body, decoder) = self.body_of(framing.body);
        let body_to_read = decoder.is_some();
        self.in_flight.push_back(Exchange {
            id,
            version,
            method,
            upgrade,
            continue_: if expects_continue && body_to_read {
                Continue::Expected
            } else {
                Continue::NotExpected
            },
            body_done: !body_to_read,
            answer: Answer::Application,
            arrived: now,
        });
        self.reading = match decoder {
            Some(decoder) => {
                self.timers.body_started = Some(now);
                Reading::Body(ReceivedBody::new(id, decoder))
            }
            None => Reading::Head,
        };
        // After a request that closes, upgrades or connects, nothing more is
        // parsed: later bytes belong to no request we will answer.
        if !keep_alive || upgrade || method == Method::Connect || framing.must_close {
            self.end_after(id);
        }
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
            connect: method == Method::Connect,
        }))
    }

    /// How the body after a head is taken: none; whole, when it is
    /// length-framed and already here (handed over with the head: nothing
    /// to decode, no `100 Continue` to send for it); or by a decoder.
    pub(super) fn body_of(
        &mut self,
        framing: BodyFraming,
    ) -> (BodyFraming, Option<Bytes>, Option<Decoder>) {
        match framing {
            BodyFraming::Length(0) | BodyFraming::Empty => (BodyFraming::Empty, None, None),
            BodyFraming::Length(n) if n <= self.read_buf.len() as u64 => {
                // `n` fits: it is at most the buffer's length.
                let whole = self.read_buf.split_to(n as usize).freeze();
                (framing, Some(whole), None)
            }
            BodyFraming::Length(n) => (framing, None, Some(Decoder::length(n))),
            BodyFraming::Chunked => {
                let decoder = Decoder::chunked(self.config.chunked);
                let decoder = match self.config.max_body_bytes {
                    Some(limit) => decoder.limit(limit),
                    None => decoder,
                };
                (framing, None, Some(decoder))
            }
            // Request framing never yields these.
            BodyFraming::UntilClose | BodyFraming::Tunnel => (BodyFraming::Empty, None, None),
        }
    }

    /// A request that will never reach the application: the library
    /// answers it (after the responses owed before it) and closes.
    pub(super) fn reject(&mut self, error: PeerError, now: Instant) -> ServerEvent<'static> {
        self.reading = Reading::Done;
        // The rest of the refused message may still be coming.
        self.input_cut = true;
        self.timers.head_started = None;
        self.timers.opened = None;
        let id = self.next_id;
        self.next_id = id.next();
        self.in_flight.push_back(Exchange {
            id,
            version: Version::Http11,
            method: Method::Other,
            upgrade: false,
            continue_: Continue::NotExpected,
            body_done: true,
            answer: Answer::Application,
            arrived: now,
        });
        self.answer_for_application(id, error.status(), now);
        ServerEvent::Rejected(error)
    }

    /// The body of request `id` ended: the next head may be read, unless
    /// the connection ends after this request.
    pub(super) fn body_ended(&mut self, id: RequestId) {
        self.timers.body_started = None;
        self.reading = if self.last.is_some_and(|last| last <= id) {
            Reading::Done
        } else {
            Reading::Head
        };
        if let Some(exchange) = self.exchange_mut(id) {
            exchange.body_done = true;
        }
    }

    /// The body of request `id` failed: nothing more is read. The library
    /// answers the request if its response has not started; else the
    /// connection closes after that response.
    pub(super) fn body_failed(&mut self, id: RequestId, error: BodyError, now: Instant) {
        self.timers.body_started = None;
        if self.switching {
            // What follows a broken body cannot be handed over.
            self.switching = false;
            self.end_now();
            return;
        }
        let started =
            matches!(self.responding, Responding::Body { id: current, .. } if current == id);
        let awaited = self
            .exchange_mut(id)
            .is_some_and(|e| e.answer == Answer::Application);
        if awaited && !started {
            self.answer_for_application(id, error.status(), now);
        } else {
            self.end_after(id);
        }
    }
}

/// What a request head says that the connection acts on (the wire's rules,
/// RFC 9112 §6.3, §9.3; RFC 9110 §7.8, §10.1.1).
struct HeadSays {
    framing: gruvi_wire::Framing,
    keep_alive: bool,
    expects_continue: bool,
    upgrade: bool,
    method: Method,
    version: Version,
}

impl HeadSays {
    fn of(head: &RequestHead, bytes: &[u8]) -> Result<HeadSays, WireError> {
        let method = match head.method().of(bytes) {
            b"HEAD" => Method::Head,
            b"CONNECT" => Method::Connect,
            _ => Method::Other,
        };
        Ok(HeadSays {
            framing: request_framing(head, bytes)?,
            keep_alive: wants_keep_alive(head.version(), head.fields(), bytes),
            expects_continue: expects_continue(head, bytes),
            upgrade: is_upgrade_request(head, bytes),
            method,
            version: head.version(),
        })
    }
}
