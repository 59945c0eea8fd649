//! The body of the connection fuzz targets, shared by `cargo test`
//! (`tests/proto_fuzz.rs`, random inputs through proptest) and cargo-fuzz
//! (`http-conn/fuzz`).
//!
//! `fuzz_server` drives `proto::Server` with arbitrary bytes arriving in
//! arbitrary pieces, and an application that answers, drops bodies and lets
//! time pass as the input says. Whatever happens, nothing panics, and every
//! byte the server writes is a well-formed response, framed so that the
//! responses follow one another exactly: the property that keeps one
//! message's bytes out of another's.
//!
//! `fuzz_client` drives `proto::Client` with arbitrary response bytes to
//! the requests the input picks; `written_statuses` (used by the
//! conformance runner too) reads back what a server wrote.

// Each user (a test, a fuzz target) uses some of these.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use gruvi_body::{ChunkedLimits, Decoder, Frame};
use gruvi_conn::proto::{
    BodySize, Client, ClientConfig, ClientEvent, ExchangeId, Server, ServerConfig, ServerEvent,
};
use gruvi_wire::{BodyFraming, Limits, ResponseParser, Status, Version, response_framing};
use http::HeaderMap;

/// Statuses the fuzzed application answers with.
const STATUSES: [u16; 6] = [200, 204, 304, 404, 500, 201];

pub(crate) fn fuzz_server(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    // Small limits, picked by the input, so that fuzzed inputs reach them.
    let head = [64, 200, 512, 4096][usize::from(knobs >> 4) & 3];
    let config = ServerConfig {
        limits: Limits {
            max_head_bytes: head,
            max_request_line_bytes: head / 4,
            max_fields: 16,
            allow_bare_lf_in_requests: knobs & 8 != 0,
        },
        pipeline_depth: 1 + usize::from(knobs & 3),
        max_drain_bytes: if knobs & 4 != 0 { 16 } else { 4096 },
        max_body_bytes: if knobs & 0x40 != 0 { Some(24) } else { None },
        chunked: ChunkedLimits {
            max_extension_bytes: if knobs & 0x80 != 0 { 8 } else { 1024 },
            ..ChunkedLimits::default()
        },
        ..ServerConfig::default()
    };
    let mut now = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut server = Server::new(config, now, wall);
    let mut written = Vec::new();
    let mut app = FuzzApp::default();
    // Input the server did not want yet (it reads only when it says so, as
    // a driver does).
    let mut backlog = BytesMut::new();

    let mut at = 0;
    while at < input.len() && !server.is_done() {
        let control = input[at];
        at += 1;
        let take = (usize::from(control >> 4) + 1).min(input.len() - at);
        backlog.extend_from_slice(&input[at..at + take]);
        at += take;
        if server.wants_read() {
            server.read_buf().extend_from_slice(&backlog.split());
        }
        app.collect_events(&mut server, now);
        if control & 1 != 0 {
            app.answer_oldest(&mut server, control, now);
        }
        if control & 2 != 0 {
            if let Some((id, _)) = app.owed.front() {
                server.body_dropped(*id);
            }
        }
        if control & 4 != 0 {
            if let Some((id, _)) = app.owed.back() {
                server.body_wanted(*id);
            }
        }
        if control & 8 != 0 {
            now += Duration::from_secs(31);
            server.handle_timeout(now);
        }
        drain(&mut server, &mut written);
    }
    // The rest of the input, as fast as the server takes it, with every
    // request answered.
    for round in 0..=255u8 {
        if server.is_done() {
            break;
        }
        if server.wants_read() && !backlog.is_empty() {
            server.read_buf().extend_from_slice(&backlog.split());
        }
        app.collect_events(&mut server, now);
        if app.owed.is_empty() {
            if backlog.is_empty() || server.wants_read() {
                break;
            }
            // Liveness: a server that owes the application nothing, has
            // nothing to write and is not done must want to read — else the
            // connection stalls (the head-limit bug did: a head filling the
            // limit exactly was answered by nobody).
            drain(&mut server, &mut written);
            panic!(
                "stalled: {} bytes unread, nothing owed, not done: {server:?}",
                backlog.len()
            );
        }
        app.answer_oldest(&mut server, round, now);
        drain(&mut server, &mut written);
    }
    server.received_eof();
    for round in 0..64u8 {
        app.collect_events(&mut server, now);
        if app.owed.is_empty() {
            break;
        }
        app.answer_oldest(&mut server, round, now);
    }
    drain(&mut server, &mut written);
    let mut methods = app.answered_methods;
    methods.extend(app.library_method);
    check_responses(&written, &methods);
}

/// The fuzzed application: requests seen and not answered (id, method),
/// the method of every response it started, in order, and the method of
/// a request the library answered in its place.
#[derive(Default)]
struct FuzzApp {
    owed: VecDeque<(gruvi_conn::proto::RequestId, Bytes)>,
    answered_methods: Vec<Bytes>,
    library_method: Option<Bytes>,
}

impl FuzzApp {
    fn collect_events(&mut self, server: &mut Server, now: Instant) {
        while let Some(event) = server.poll_event(now) {
            match event {
                ServerEvent::Request(request) => {
                    let method = request.head.method().slice(&request.bytes);
                    self.owed.push_back((request.id, method));
                }
                // The library answers a request whose body failed, unless
                // its response started.
                ServerEvent::BodyFailed { id, .. } => {
                    if let Some(at) = self.owed.iter().position(|(owed, _)| *owed == id) {
                        let (_, method) = self.owed.remove(at).expect("found");
                        self.library_method = Some(method);
                    }
                }
                _ => {}
            }
        }
    }

    fn answer_oldest(&mut self, server: &mut Server, control: u8, now: Instant) {
        answer_oldest(
            server,
            &mut self.owed,
            &mut self.answered_methods,
            control,
            now,
        );
    }
}

fn answer_oldest(
    server: &mut Server,
    owed: &mut VecDeque<(gruvi_conn::proto::RequestId, Bytes)>,
    answered_methods: &mut Vec<Bytes>,
    control: u8,
    now: Instant,
) {
    let Some((id, method)) = owed.pop_front() else {
        return;
    };
    let status = STATUSES[usize::from(control >> 2) % STATUSES.len()];
    let body = Bytes::from(vec![b'x'; usize::from(control & 7)]);
    let mut headers = HeaderMap::new();
    if control & 0x40 != 0 {
        headers.insert("connection", "close".parse().unwrap());
    }
    let size = if control & 0x80 != 0 {
        BodySize::Unknown
    } else {
        BodySize::Exact(body.len() as u64)
    };
    // A request the connection no longer answers (it decided to close)
    // refuses the response: that is fine, nothing is written for it.
    if server
        .start_response(id, status, &headers, size, now)
        .is_ok()
    {
        answered_methods.push(method);
        server.send_data(id, body).unwrap();
        server.finish_response(id, None, now).unwrap();
    }
}

/// Moves everything the server has to write into `written`.
pub(crate) fn drain(server: &mut Server, written: &mut Vec<u8>) {
    let buf = server.write_buf();
    while buf.has_remaining() {
        let chunk = buf.chunk();
        written.extend_from_slice(chunk);
        let n = chunk.len();
        buf.advance(n);
    }
}

/// Everything written parses as responses, one after the other, each
/// framed exactly: 1xx interim heads, then one final response per request
/// answered, then at most one answer of the library's own (a rejection or
/// a timeout).
fn check_responses(written: &[u8], answered_methods: &[Bytes]) {
    let statuses = written_statuses(written, answered_methods);
    let finals = statuses.iter().filter(|s| **s >= 200).count();
    assert!(
        finals >= answered_methods.len(),
        "a started response never reached the wire"
    );
    assert!(
        finals <= answered_methods.len() + 1,
        "more than one answer of the library's own"
    );
}

/// The statuses of the responses in `written` (1xx included), each framed
/// by the method of the request it answers, in order (answers beyond
/// `methods`, the library's own, take `GET`). Panics on anything that is
/// not a well-formed, exactly framed response.
pub(crate) fn written_statuses(written: &[u8], methods: &[Bytes]) -> Vec<u16> {
    let mut rest = BytesMut::from(written);
    let mut methods = methods.iter();
    let mut statuses = Vec::new();
    while !rest.is_empty() {
        let mut parser = ResponseParser::new(Limits::default());
        let (status, consumed) = match parser.parse(&rest) {
            Ok(Status::Complete(head, consumed)) => (head.status(), consumed),
            other => panic!(
                "unparsable response {other:?} in {:?}",
                String::from_utf8_lossy(written)
            ),
        };
        statuses.push(status);
        let head_bytes = rest.split_to(consumed).freeze();
        if (100..200).contains(&status) {
            continue;
        }
        let method = methods
            .next()
            .cloned()
            .unwrap_or(Bytes::from_static(b"GET"));
        let head = parser.completed().expect("just parsed");
        let framing = response_framing(&method, head, &head_bytes).expect("valid framing");
        let mut decoder = match framing.body {
            BodyFraming::Empty | BodyFraming::Tunnel => Decoder::length(0),
            BodyFraming::Length(n) => Decoder::length(n),
            BodyFraming::Chunked => Decoder::chunked(ChunkedLimits::default()),
            BodyFraming::UntilClose => Decoder::until_close(),
        };
        loop {
            match decoder.decode_input(&mut rest, true) {
                Ok(Some(Frame::Data(_))) => {}
                Ok(Some(Frame::End(_))) => break,
                other => panic!(
                    "badly framed body {other:?} in {:?}",
                    String::from_utf8_lossy(written)
                ),
            }
        }
    }
    statuses
}

/// Requests the fuzzed client sends: (method, target, version, upgrade).
const SENDS: [(&str, &str, Version, bool); 6] = [
    ("GET", "/", Version::Http11, false),
    ("HEAD", "/h", Version::Http11, false),
    ("GET", "/u", Version::Http11, true),
    ("CONNECT", "example.com:443", Version::Http11, false),
    ("GET", "/old", Version::Http10, false),
    ("POST", "/p", Version::Http11, false),
];

/// What a client connection made of its input, one line per event, data
/// joined per exchange (so that any cut of the input must give the same).
fn client_transcript(sends: &[u8], pieces: &[&[u8]], eof: bool, head: usize) -> Vec<String> {
    let mut client = Client::new(
        ClientConfig {
            limits: Limits {
                max_head_bytes: head,
                max_fields: 16,
                ..Limits::default()
            },
            ..ClientConfig::default()
        },
        Instant::now(),
    );
    let mut ids = Vec::new();
    for &pick in sends {
        let (method, target, version, upgrade) = SENDS[usize::from(pick) % SENDS.len()];
        let mut fields = vec![("Host", "x")];
        if upgrade {
            fields.extend([("Upgrade", "websocket"), ("Connection", "upgrade")]);
        }
        match client.send_request(
            method,
            target,
            version,
            &fields,
            BodySize::Empty,
            Instant::now(),
        ) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
    }
    client.write_buf().clear();
    let mut transcript: Vec<String> = Vec::new();
    let mut state: Vec<u8> = vec![0; ids.len()]; // 0 waiting, 1 head, 2 ended
    let mut failed = false;
    let mut pump = |client: &mut Client, transcript: &mut Vec<String>| {
        while let Some(event) = client.poll_event(Instant::now()) {
            assert!(!failed, "an event after the connection failed: {event:?}");
            let index = |id: ExchangeId| {
                ids.iter()
                    .position(|&i| i == id)
                    .expect("an event for a request never sent")
            };
            match event {
                ClientEvent::Interim { id, status } => {
                    assert_eq!(state[index(id)], 0, "1xx after the final head");
                    assert!((100..200).contains(&status) && status != 101);
                    transcript.push(format!("{} interim {status}", index(id)));
                }
                ClientEvent::Response(response) => {
                    let n = index(response.id);
                    assert!(state[..n].iter().all(|&s| s == 2), "answered out of order");
                    assert_eq!(state[n], 0, "two final heads");
                    state[n] = 1;
                    transcript.push(format!("{n} response {}", response.head.status()));
                    // A body that came whole with its head: its data, then
                    // its end, as if they had come as events.
                    if let Some(whole) = response.complete_body {
                        if !whole.is_empty() {
                            transcript
                                .push(format!("{n} data {}", gruvi_wire::latin1_text(&whole)));
                        }
                        state[n] = 2;
                        transcript.push(format!("{n} end 0"));
                    }
                }
                ClientEvent::Data { id, data } => {
                    let n = index(id);
                    assert_eq!(state[n], 1, "data outside a response");
                    assert!(!data.is_empty(), "empty data event");
                    let text = gruvi_wire::latin1_text(&data);
                    match transcript.last_mut() {
                        Some(last) if last.starts_with(&format!("{n} data ")) => {
                            last.push_str(&text);
                        }
                        _ => transcript.push(format!("{n} data {text}")),
                    }
                }
                ClientEvent::End { id, trailers } => {
                    let n = index(id);
                    assert_eq!(state[n], 1, "end outside a response");
                    state[n] = 2;
                    transcript.push(format!("{n} end {}", trailers.len()));
                }
                ClientEvent::Upgraded { response, leftover } => {
                    let n = index(response.id);
                    assert_eq!(state[n], 0);
                    state[n] = 2;
                    failed = true; // nothing may follow a hand-over either
                    transcript.push(format!("{n} upgraded {}", response.head.status()));
                    let _ = leftover;
                }
                ClientEvent::Failed { waiting, error } => {
                    for id in &waiting {
                        assert_ne!(state[index(*id)], 2, "a finished exchange failed");
                    }
                    failed = true;
                    transcript.push(format!("failed {waiting:?} {error}"));
                }
            }
        }
    };
    for piece in pieces {
        client.read_buf().extend_from_slice(piece);
        pump(&mut client, &mut transcript);
    }
    if eof {
        client.received_eof();
        pump(&mut client, &mut transcript);
    }
    transcript
}

/// Drives `proto::Client` with requests picked by the input and arbitrary
/// response bytes: no panic, events only for requests sent, in order, one
/// final head each, nothing after a failure — and the same transcript
/// whether the bytes come whole or in the pieces the input says.
pub(crate) fn fuzz_client(data: &[u8]) {
    let Some((&knobs, rest)) = data.split_first() else {
        return;
    };
    let sends_len = usize::from(knobs & 7).min(rest.len());
    let (sends, input) = rest.split_at(sends_len);
    let eof = knobs & 8 != 0;
    let mut pieces = Vec::new();
    let mut at = 0;
    let mut size = usize::from(knobs >> 4) + 1;
    while at < input.len() {
        let take = size.min(input.len() - at);
        pieces.push(&input[at..at + take]);
        at += take;
        size = size % 13 + 1;
    }
    // A small head limit, now and then, so that fuzzed heads reach it.
    let head = if knobs & 0x10 != 0 { 64 } else { 4096 };
    let cut = client_transcript(sends, &pieces, eof, head);
    let whole = client_transcript(sends, &[input], eof, head);
    assert_eq!(cut, whole, "the cut input gave another outcome");
}
