//! The write side of the server role: responses in request order, their
//! framing and keep-alive decision, `100 Continue`, and the library's own
//! answers (rejections, timeouts, an application that failed) — the one
//! writer of every byte a server connection sends.

use std::time::Instant;

use bytes::Bytes;
use gruvi_body::Encoder;
use gruvi_wire::{
    BodyFraming, DateCache, EncodeError, HeadWriter, ResponseContent, Version,
    check_application_field, exchange_keeps_alive, list_contains, parse_content_length,
    response_content, send_framing,
};
use http::HeaderMap;

use super::{Answer, BodyNotice, Continue, Reading, RequestId, Responding, Server, ServerConfig};
use crate::proto::{BodySize, LocalError};

impl Server {
    /// Starts the response to request `id`, which must be the oldest
    /// unanswered one: writes its head with the framing `size` calls for,
    /// `Date` and `Server` unless set, and the `Connection` field the
    /// keep-alive decision needs. `now` places `Date` on the calendar.
    ///
    /// Returns `true` if the response carries body bytes; `false` for one
    /// that cannot (to HEAD or CONNECT, 1xx, 204, 304), whose data is
    /// ignored: the driver can go straight to
    /// [`finish_response`](Self::finish_response).
    ///
    /// A response that cannot be sent as given (a hop-by-hop field, a
    /// Content-Length that disagrees with the body, an interim status) is
    /// refused with nothing written: send another, or let the library
    /// answer ([`application_failed`](Self::application_failed)).
    pub fn start_response(
        &mut self,
        id: RequestId,
        status: u16,
        headers: &HeaderMap,
        size: BodySize,
        now: Instant,
    ) -> Result<bool, LocalError> {
        self.check_current(id)?;
        self.write_head(id, status, Some(headers), size, now)
    }

    fn check_current(&self, id: RequestId) -> Result<(), LocalError> {
        match self.in_flight.front() {
            Some(front)
                if front.id == id
                    && front.answer == Answer::Application
                    && matches!(self.responding, Responding::Idle) =>
            {
                Ok(())
            }
            _ => Err(LocalError::NotCurrent(id)),
        }
    }

    /// Writes the head of the response to the oldest request, `id`: the
    /// application's (`fields`) or the library's (`None`).
    fn write_head(
        &mut self,
        id: RequestId,
        status: u16,
        fields: Option<&HeaderMap>,
        size: BodySize,
        now: Instant,
    ) -> Result<bool, LocalError> {
        let decided = self.decide(id, status, fields, size)?;
        let date = self.date_at(now);
        let mut head = HeadWriter::response(self.write.head_buf(), decided.version, status, None)
            .map_err(LocalError::Encode)?;
        if !decided.app.date {
            head.trusted_field(b"Date", &date);
        }
        if let (false, Some(server)) = (decided.app.server, &self.server_field) {
            head.trusted_field(b"Server", server);
        }
        match fields {
            Some(fields) => {
                for (name, value) in fields {
                    // Framing and connection fields are the connection's to
                    // write (decided here), except what a 101 needs.
                    let ours = name == http::header::CONTENT_LENGTH
                        || (name == http::header::CONNECTION && status != 101);
                    if !ours {
                        head.http_field(name, value);
                    }
                }
            }
            None => {
                head.trusted_field(b"Content-Type", b"text/plain; charset=utf-8");
            }
        }
        decided.write_framing_fields(&mut head, status);
        head.finish();

        // After this head the bytes both ways belong to the new protocol.
        self.switching = decided.hands_over;
        if decided.closes {
            self.end_after(id);
        }
        let head_only = decided.content != ResponseContent::Body;
        let encoder = match decided.framing.body {
            _ if head_only => Encoder::length(0),
            BodyFraming::Length(n) => Encoder::length(n),
            BodyFraming::Chunked => Encoder::chunked(),
            _ => Encoder::until_close(),
        };
        if let Some(front) = self.in_flight.front_mut() {
            if front.continue_.awaited() {
                front.continue_ = Continue::Skipped;
            }
        }
        self.timers.idle_since = None;
        self.responding = Responding::Body {
            id,
            encoder,
            head_only,
        };
        Ok(!head_only)
    }

    /// Everything decided about a response before its head is written: is
    /// it valid, what may it carry, how is it framed, does it close.
    fn decide(
        &self,
        id: RequestId,
        status: u16,
        fields: Option<&HeaderMap>,
        size: BodySize,
    ) -> Result<Decided, LocalError> {
        let Some(request) = self.in_flight.front() else {
            return Err(LocalError::NotCurrent(id));
        };
        let switching = status == 101;
        if (100..200).contains(&status) && !(switching && request.upgrade) {
            return Err(LocalError::InvalidStatus(status));
        }
        let content = response_content(request.method.as_bytes(), status);
        // RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection into a
        // tunnel; like a 101, it has no body and no framing fields.
        let hands_over = switching || content == ResponseContent::Tunnel;
        let body_sent = content == ResponseContent::Body;
        let app = match fields {
            // RFC 9110 §15.5.22: a 426 MUST say what to upgrade to.
            Some(fields) => AppFields::check(fields, switching || status == 426)?,
            None => AppFields::default(),
        };
        // A Content-Length must agree with the body sent; on a response
        // without one it describes the representation (HEAD, 304).
        let size = match (size, app.content_length) {
            (BodySize::Exact(n), Some(declared)) if n != declared && body_sent => {
                return Err(mismatch(declared, n));
            }
            (BodySize::Empty, Some(declared)) if declared != 0 && body_sent => {
                return Err(mismatch(declared, 0));
            }
            (_, Some(declared)) => Some(declared),
            (BodySize::Exact(n), None) => Some(n),
            (BodySize::Empty, None) => Some(0),
            (BodySize::Unknown, None) => None,
        };
        let framing = send_framing(request.version, size);
        // A body whose `100 Continue` this response skips may never come
        // (RFC 9110 §10.1.1): the connection cannot be reused.
        let skips_continue = request.continue_.awaited() && !request.body_done;
        // RFC 9112 §9.3: the request's say (nothing after a request that
        // closes, upgrades or connects is read: `last`), the response's
        // (its `Connection: close`, a skipped `100 Continue`) and the
        // framing's (a body delimited by the close).
        let keeps_alive = exchange_keeps_alive(
            self.last != Some(id),
            !app.close && !skips_continue,
            framing.must_close && body_sent,
        );
        Ok(Decided {
            version: request.version,
            is_head: request.method.as_bytes() == b"HEAD",
            content,
            hands_over,
            closes: !hands_over && !keeps_alive,
            size,
            framing,
            app,
        })
    }

    /// Sends body bytes of the response to `id` (dropped silently for a
    /// response that has no body: HEAD, 1xx, 204, 304).
    pub fn send_data(&mut self, id: RequestId, data: Bytes) -> Result<(), LocalError> {
        match &mut self.responding {
            Responding::Body {
                id: current,
                encoder,
                head_only,
            } if *current == id => {
                if *head_only {
                    return Ok(());
                }
                let encoded = encoder.encode(data).map_err(LocalError::Body)?;
                self.write.push_encoded(&encoded);
                Ok(())
            }
            _ => Err(LocalError::NotStarted(id)),
        }
    }

    /// Ends the response to `id`, with trailers if its framing allows them
    /// (chunked). The request is answered: the next one's turn comes (and
    /// a library answer or `100 Continue` due then is written, `Date` from
    /// `now`). An error (a body short of its length, invalid trailers)
    /// leaves the response unfinished: abort it.
    pub fn finish_response(
        &mut self,
        id: RequestId,
        trailers: Option<&HeaderMap>,
        now: Instant,
    ) -> Result<(), LocalError> {
        let Responding::Body {
            id: current,
            encoder,
            head_only,
        } = &mut self.responding
        else {
            return Err(LocalError::NotStarted(id));
        };
        if *current != id {
            return Err(LocalError::NotStarted(id));
        }
        let trailers = if *head_only { None } else { trailers };
        let end = encoder.finish(trailers).map_err(LocalError::Body)?;
        self.write.push_encoded(&end);
        self.responding = Responding::Idle;
        self.answered(id, now);
        Ok(())
    }

    /// The application could not finish the response to `id` (its body
    /// failed), or could not start it: what was written is all the peer
    /// gets — a short or unterminated body, which it detects, or nothing —
    /// and the connection closes.
    pub fn abort_response(&mut self, id: RequestId) {
        let started =
            matches!(self.responding, Responding::Body { id: current, .. } if current == id);
        let current = self.in_flight.front().is_some_and(|r| r.id == id)
            && matches!(self.responding, Responding::Idle);
        if started || current {
            self.responding = Responding::Idle;
            self.end_now();
        }
    }

    /// The application failed to produce a response to `id` (an error, a
    /// panic, a response that cannot be sent): the library answers `500` in
    /// its place; the connection goes on as the request allows.
    pub fn application_failed(&mut self, id: RequestId, now: Instant) {
        if self.check_current(id).is_ok() {
            self.write_library_answer(id, 500, now);
        }
    }

    /// The oldest request is answered: pop it, close if it was the last,
    /// else drain what is left of its body and write what is due next.
    fn answered(&mut self, id: RequestId, now: Instant) {
        let Some(answered) = self.in_flight.pop_front() else {
            return;
        };
        // A connection handed over reads (or drains) the request's body to
        // its end first: its bytes are HTTP, never the new protocol's.
        if self.last == Some(id) && !self.switching {
            self.end_now();
            return;
        }
        if !answered.body_done {
            // Answered without reading the whole body: the rest is thrown
            // away to keep the connection (a reader still holding it is
            // told it was cut).
            if let Reading::Body(body) = &mut self.reading {
                if body.id == id && !body.is_drained() {
                    body.dropped();
                    self.body_notice = Some(BodyNotice::Abandoned(id));
                }
            }
        }
        self.write_due(now);
    }

    /// Writes what is due now that the oldest request's turn came: the
    /// library's answers owed in order, then a wanted `100 Continue`.
    pub(super) fn write_due(&mut self, now: Instant) {
        while matches!(self.responding, Responding::Idle) {
            let Some(front) = self.in_flight.front() else {
                return;
            };
            match front.answer {
                Answer::Library(status) => {
                    let id = front.id;
                    self.write_library_answer(id, status, now);
                }
                Answer::Application => break,
            }
        }
        self.write_continue_if_due();
    }

    pub(super) fn write_continue_if_due(&mut self) {
        if !matches!(self.responding, Responding::Idle) {
            return;
        }
        if let Some(front) = self.in_flight.front_mut() {
            if front.continue_ == Continue::Wanted && front.answer == Answer::Application {
                front.continue_ = Continue::Sent;
                self.write.put_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                // The client's time to send the body starts now (the next
                // `poll_event` starts the clock).
                if let Reading::Body(body) = &mut self.reading {
                    body.restart_clock();
                }
            }
        }
    }

    /// The one writer of the library's own answers: `{status} {reason}` as
    /// plain text, `Date` and `Server`, and `Connection: close` when the
    /// connection ends after it (every rejection; not a `500` standing in
    /// for an application that failed).
    fn write_library_answer(&mut self, id: RequestId, status: u16, now: Instant) {
        let text = AnswerText::of(status);
        match self.write_head(id, status, None, BodySize::Exact(text.len()), now) {
            Ok(has_body) => {
                // (A response to HEAD has its length and not its body.)
                if has_body {
                    for piece in text.pieces() {
                        self.write.put_slice(piece);
                    }
                }
                self.responding = Responding::Idle;
                self.answered(id, now);
            }
            // Our own answers are always valid; should one not be, the
            // connection closes without it rather than wait.
            Err(_) => {
                self.responding = Responding::Idle;
                self.end_now();
            }
        }
    }
}

/// A library answer's body: `{status} {reason}`, then a line end.
struct AnswerText {
    digits: [u8; 3],
    reason: &'static str,
}

impl AnswerText {
    fn of(status: u16) -> AnswerText {
        let reason = http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        let digits = [
            b'0' + (status / 100 % 10) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
        ];
        AnswerText { digits, reason }
    }

    fn pieces(&self) -> [&[u8]; 4] {
        [&self.digits, b" ", self.reason.as_bytes(), b"\n"]
    }

    fn len(&self) -> u64 {
        self.pieces().iter().map(|piece| piece.len() as u64).sum()
    }
}

impl Server {
    /// The library's answer to a connection refused before it sent
    /// anything, when the server is at its connection limit: `503 Service
    /// Unavailable` (RFC 9110 §15.6.4), with `Date` (of `wall`) and `Server`
    /// and `Connection: close`, as every library answer. To be written at
    /// once, then the connection closed.
    pub fn refusal(config: &ServerConfig, wall: std::time::SystemTime) -> Bytes {
        let text = AnswerText::of(503);
        let mut buf = bytes::BytesMut::new();
        let Ok(mut head) = HeadWriter::response(&mut buf, Version::Http11, 503, None) else {
            unreachable!("503 is a valid status")
        };
        head.trusted_field(b"Date", DateCache::new().value(wall));
        if let Some(server) = super::server_field(config) {
            head.trusted_field(b"Server", &server);
        }
        head.trusted_field(b"Content-Type", b"text/plain; charset=utf-8");
        head.content_length(text.len());
        head.trusted_field(b"Connection", b"close");
        head.finish();
        for piece in text.pieces() {
            buf.extend_from_slice(piece);
        }
        buf.freeze()
    }
}

/// What [`Server::decide`] decided about a response.
struct Decided {
    version: Version,
    is_head: bool,
    content: ResponseContent,
    hands_over: bool,
    closes: bool,
    size: Option<u64>,
    framing: gruvi_wire::Framing,
    app: AppFields,
}

impl Decided {
    /// The framing fields (RFC 9112 §6) and the `Connection` field the
    /// decision needs.
    fn write_framing_fields(&self, head: &mut HeadWriter<'_>, status: u16) {
        let no_body_status = (100..200).contains(&status) || matches!(status, 204 | 304);
        if status == 304 {
            // A 304's Content-Length describes the representation: only
            // the application's is sent.
            if let Some(n) = self.app.content_length {
                head.content_length(n);
            }
        } else if self.content == ResponseContent::Body {
            match self.framing.body {
                BodyFraming::Length(n) => {
                    head.content_length(n);
                }
                BodyFraming::Chunked => {
                    head.trusted_field(b"Transfer-Encoding", b"chunked");
                }
                _ => {}
            }
        } else if self.is_head && !no_body_status {
            // A HEAD response's length says what a GET would get.
            if let Some(n) = self.size {
                head.content_length(n);
            }
        }
        if !self.hands_over {
            // RFC 9110 §7.8 ¶10: a sender of Upgrade lists `upgrade` in
            // Connection (only a 426 gets here with one).
            let connection: &[u8] = match (self.closes, self.version, self.app.upgrade) {
                (true, Version::Http11, false) => b"close",
                (true, Version::Http11, true) => b"close, upgrade",
                (false, Version::Http10, false) => b"keep-alive",
                (false, Version::Http10, true) => b"keep-alive, upgrade",
                (_, _, true) => b"upgrade",
                (_, _, false) => b"",
            };
            if !connection.is_empty() {
                head.trusted_field(b"Connection", connection);
            }
        }
    }
}

/// What the application's fields say that the connection acts on.
#[derive(Default)]
struct AppFields {
    close: bool,
    /// An `Upgrade` field (a 101's, or a 426's).
    upgrade: bool,
    date: bool,
    server: bool,
    content_length: Option<u64>,
}

impl AppFields {
    /// Checks every field (no hop-by-hop ones but, with `upgrade`, what a
    /// 101 or a 426 needs; valid values) and reads the ones with rules.
    fn check(fields: &HeaderMap, upgrade: bool) -> Result<AppFields, LocalError> {
        let mut app = AppFields::default();
        for (name, value) in fields {
            check_application_field(name.as_str().as_bytes(), value.as_bytes(), upgrade)
                .map_err(LocalError::Encode)?;
            match name.as_str() {
                "upgrade" => app.upgrade = true,
                "connection" => app.close |= list_contains(value.as_bytes(), b"close"),
                "date" => app.date = true,
                "server" => app.server = true,
                // Strict, and one value however many lines carry it: we
                // write the framing field ourselves, once.
                "content-length" => {
                    let declared = parse_content_length(value.as_bytes()).ok_or_else(|| {
                        LocalError::Encode(EncodeError::InvalidFieldValue {
                            name: "content-length".to_owned(),
                        })
                    })?;
                    if let Some(seen) = app.content_length.filter(|&seen| seen != declared) {
                        return Err(LocalError::ContentLengthMismatch {
                            declared: declared.to_string(),
                            body: Some(seen),
                        });
                    }
                    app.content_length = Some(declared);
                }
                _ => {}
            }
        }
        Ok(app)
    }
}

/// A Content-Length that disagrees with the body sent.
fn mismatch(declared: u64, body: u64) -> LocalError {
    LocalError::ContentLengthMismatch {
        declared: declared.to_string(),
        body: Some(body),
    }
}
