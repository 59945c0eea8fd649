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

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use gruvi_body::{ChunkedLimits, Decoder, Frame};
use gruvi_conn::proto::{ResponseBody, Server, ServerConfig, ServerEvent};
use gruvi_wire::{BodyFraming, Limits, ResponseParser, Status, response_framing};
use http::HeaderMap;

/// Statuses the fuzzed application answers with.
const STATUSES: [u16; 6] = [200, 204, 304, 404, 500, 201];

pub(crate) fn fuzz_server(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let config = ServerConfig {
        limits: Limits {
            max_head_bytes: 512,
            max_request_line_bytes: 128,
            max_fields: 16,
            allow_bare_lf_in_requests: knobs & 8 != 0,
        },
        pipeline_depth: 1 + usize::from(knobs & 3),
        max_drain_bytes: if knobs & 4 != 0 { 16 } else { 4096 },
        ..ServerConfig::default()
    };
    let mut now = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let mut server = Server::new(config, now, wall);
    let mut written = Vec::new();
    // Requests seen and not answered (id, method), and the method of every
    // response we started, in order.
    let mut owed = VecDeque::new();
    let mut answered_methods = Vec::new();

    let mut at = 0;
    while at < input.len() && !server.is_done() {
        let control = input[at];
        at += 1;
        let take = (usize::from(control >> 4) + 1).min(input.len() - at);
        server.read_buf().extend_from_slice(&input[at..at + take]);
        at += take;
        collect_events(&mut server, now, &mut owed);
        if control & 1 != 0 {
            answer_oldest(&mut server, &mut owed, &mut answered_methods, control, wall);
        }
        if control & 2 != 0 {
            if let Some((id, _)) = owed.front() {
                server.body_dropped(*id);
            }
        }
        if control & 4 != 0 {
            if let Some((id, _)) = owed.back() {
                server.body_wanted(*id);
            }
        }
        if control & 8 != 0 {
            now += Duration::from_secs(31);
            server.handle_timeout(now);
        }
        drain(&mut server, &mut written);
    }
    server.received_eof();
    for round in 0..64u8 {
        collect_events(&mut server, now, &mut owed);
        if owed.is_empty() {
            break;
        }
        answer_oldest(&mut server, &mut owed, &mut answered_methods, round, wall);
    }
    drain(&mut server, &mut written);
    check_responses(&written, &answered_methods);
}

fn collect_events(
    server: &mut Server,
    now: Instant,
    owed: &mut VecDeque<(gruvi_conn::proto::RequestId, Bytes)>,
) {
    while let Some(event) = server.poll_event(now) {
        if let ServerEvent::Request(request) = event {
            let method = request.head.method().slice(&request.bytes);
            owed.push_back((request.id, method));
        }
    }
}

fn answer_oldest(
    server: &mut Server,
    owed: &mut VecDeque<(gruvi_conn::proto::RequestId, Bytes)>,
    answered_methods: &mut Vec<Bytes>,
    control: u8,
    wall: SystemTime,
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
        ResponseBody::Unknown
    } else {
        ResponseBody::Exact(body.len() as u64)
    };
    // A request the connection no longer answers (it decided to close)
    // refuses the response: that is fine, nothing is written for it.
    if server
        .start_response(id, status, &headers, size, wall)
        .is_ok()
    {
        answered_methods.push(method);
        server.send_data(id, body).unwrap();
        server.finish_response(id, None).unwrap();
    }
}

fn drain(server: &mut Server, written: &mut Vec<u8>) {
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
    let mut rest = BytesMut::from(written);
    let mut methods = answered_methods.iter();
    let mut library_answers = 0;
    while !rest.is_empty() {
        let mut parser = ResponseParser::new(Limits::default());
        let (status, consumed) = match parser.parse(&rest) {
            Ok(Status::Complete(head, consumed)) => (head.status(), consumed),
            other => panic!(
                "unparsable response {other:?} in {:?}",
                String::from_utf8_lossy(written)
            ),
        };
        let head_bytes = rest.split_to(consumed).freeze();
        if (100..200).contains(&status) {
            continue;
        }
        let method = match methods.next() {
            Some(method) => method.clone(),
            None => {
                library_answers += 1;
                Bytes::from_static(b"GET")
            }
        };
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
    assert!(
        methods.next().is_none(),
        "a started response never reached the wire"
    );
    assert!(
        library_answers <= 1,
        "more than one answer of the library's own"
    );
}
