//! The two roles of the state machine against each other, in memory, on
//! simulated time: `proto::Client` sends random requests (methods, bodies
//! by length or chunked with trailers, `Expect: 100-continue`, `Connection:
//! close`, HTTP/1.0), the bytes cross in random pieces both ways, a server
//! application answers each request as its spec says (statuses with and
//! without bodies, chunked with trailers, `Connection: close`), and time
//! jumps to whichever timer is due when nothing else can move.
//!
//! Whatever the input: every request the client sent is answered by its
//! own response, in order, or fails because the connection ends — never by
//! another's; the server sees each request body exactly as sent; and both
//! sides agree on whether the connection carries on.

use std::collections::VecDeque;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use gruvi_conn::proto::{
    BodySize, Client, ClientConfig, ClientEvent, ExchangeId, RequestBodyState, RequestId, Server,
    ServerConfig, ServerEvent,
};
use gruvi_wire::{BodyFraming, Version};
use http::HeaderMap;
use proptest::prelude::*;

/// A request the client sends, and how the server's application answers it.
#[derive(Clone, Debug)]
struct Exchange {
    method: &'static str,
    /// Body pieces; `None`: no body.
    body: Option<Vec<Vec<u8>>>,
    /// Send the body chunked (with a trailer), else with its length.
    chunked: bool,
    expect_continue: bool,
    close: bool,
    http10: bool,
    status: u16,
    response_body: Vec<u8>,
    response_chunked: bool,
    response_close: bool,
}

impl Exchange {
    fn request_body(&self) -> Vec<u8> {
        self.body.iter().flatten().flatten().copied().collect()
    }

    /// What the client must receive as the response body.
    fn expected_body(&self) -> Vec<u8> {
        if self.method == "HEAD" || matches!(self.status, 204 | 304) {
            Vec::new()
        } else {
            self.response_body.clone()
        }
    }
}

fn exchange() -> impl Strategy<Value = Exchange> {
    (
        prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE"]),
        prop::option::of(prop::collection::vec(
            prop::collection::vec(any::<u8>(), 1..12),
            1..4,
        )),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::sample::select(vec![200u16, 201, 204, 304, 404, 500]),
        prop::collection::vec(any::<u8>(), 0..20),
        any::<bool>(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(
                method,
                body,
                chunked,
                expect_continue,
                close,
                http10,
                status,
                response_body,
                response_chunked,
                response_close,
            )| Exchange {
                method,
                body,
                // HTTP/1.0 has no chunked coding.
                chunked: chunked && !http10,
                expect_continue,
                close,
                http10,
                status,
                response_body,
                response_chunked,
                response_close,
            },
        )
}

/// How the bytes and the clock move: piece sizes and time steps, cycled.
#[derive(Clone, Debug)]
struct Weather {
    pieces: Vec<usize>,
    steps_ms: Vec<u64>,
}

fn weather() -> impl Strategy<Value = Weather> {
    (
        prop::collection::vec(1usize..64, 1..8),
        prop::collection::vec(0u64..400, 1..6),
    )
        .prop_map(|(pieces, steps_ms)| Weather { pieces, steps_ms })
}

/// What the client saw for each request.
#[derive(Debug, Default, Clone, PartialEq)]
struct Seen {
    status: Option<u16>,
    body: Vec<u8>,
    ended: bool,
    failed: bool,
}

struct Pair {
    client: Client,
    server: Server,
    now: Instant,
    exchanges: Vec<Exchange>,
    /// Client side: ids of the requests sent, in order, and what came back.
    sent: Vec<ExchangeId>,
    seen: Vec<Seen>,
    /// The body the client is sending: its request, and pieces left.
    sending: Option<(usize, VecDeque<Vec<u8>>)>,
    /// Server side: requests seen (index into `exchanges`), their bodies,
    /// and which are answered.
    requests: Vec<(RequestId, Vec<u8>, bool)>,
    answered: usize,
    /// Bytes in flight each way, and where the piece sizes are.
    to_server: VecDeque<u8>,
    to_client: VecDeque<u8>,
    weather: Weather,
    turn: usize,
}

impl Pair {
    fn new(exchanges: Vec<Exchange>, weather: Weather) -> Pair {
        let now = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        Pair {
            client: Client::new(ClientConfig::default(), now),
            server: Server::new(ServerConfig::default(), now, wall),
            now,
            exchanges,
            sent: Vec::new(),
            seen: Vec::new(),
            sending: None,
            requests: Vec::new(),
            answered: 0,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            weather,
            turn: 0,
        }
    }

    fn piece(&mut self) -> usize {
        self.turn += 1;
        self.weather.pieces[self.turn % self.weather.pieces.len()]
    }

    /// The client writes what it can: request heads while it may send, the
    /// body it is sending while the state machine wants it.
    fn client_sends(&mut self) -> bool {
        let mut moved = false;
        loop {
            if let Some((index, pieces)) = self.sending.as_mut() {
                let id = self.sent[*index];
                match self.client.request_body() {
                    RequestBodyState::Wanted(wanted) if wanted == id => {}
                    RequestBodyState::Held(_) => break,
                    _ => {
                        self.sending = None;
                        continue;
                    }
                }
                match pieces.pop_front() {
                    Some(piece) => {
                        self.client.send_data(id, Bytes::from(piece)).unwrap();
                    }
                    None => {
                        let mut trailers = HeaderMap::new();
                        let chunked = self.exchanges[*index].chunked;
                        if chunked {
                            trailers.insert("x-sum", "1".parse().unwrap());
                        }
                        let trailers = chunked.then_some(&trailers);
                        self.client.finish_request(id, trailers, self.now).unwrap();
                        self.sending = None;
                    }
                }
                moved = true;
                continue;
            }
            let index = self.sent.len();
            if index == self.exchanges.len() || !self.client.can_send() {
                break;
            }
            let exchange = self.exchanges[index].clone();
            let body = exchange.request_body();
            let mut fields = vec![("Host", "pair")];
            if exchange.close {
                fields.push(("Connection", "close"));
            }
            if exchange.expect_continue {
                fields.push(("Expect", "100-continue"));
            }
            let size = match (&exchange.body, exchange.chunked) {
                (None, _) => BodySize::Empty,
                (Some(_), true) => BodySize::Unknown,
                (Some(_), false) => BodySize::Exact(body.len() as u64),
            };
            let version = if exchange.http10 {
                Version::Http10
            } else {
                Version::Http11
            };
            let id = self
                .client
                .send_request(exchange.method, "/", version, &fields, size, self.now)
                .unwrap();
            self.sent.push(id);
            self.seen.push(Seen::default());
            if let Some(pieces) = exchange.body.clone() {
                self.sending = Some((index, pieces.into()));
            }
            moved = true;
        }
        moved | drain(self.client.write_buf(), &mut self.to_server)
    }

    /// A piece of what the client wrote reaches the server, if it reads.
    fn deliver_to_server(&mut self) -> bool {
        if self.to_server.is_empty() || !self.server.wants_read() {
            return false;
        }
        let n = self.piece().min(self.to_server.len());
        let piece: Vec<u8> = self.to_server.drain(..n).collect();
        self.server.read_buf().extend_from_slice(&piece);
        true
    }

    /// The server's application: takes every event, reads every body, and
    /// answers each request once its body has ended.
    fn server_works(&mut self) -> bool {
        let mut moved = false;
        let mut wanted = Vec::new();
        while let Some(event) = self.server.poll_event(self.now) {
            moved = true;
            match event {
                ServerEvent::Request(request) => {
                    let complete =
                        request.complete_body.is_some() || request.body == BodyFraming::Empty;
                    let body = request
                        .complete_body
                        .map(|b| b.to_vec())
                        .unwrap_or_default();
                    wanted.push(request.id);
                    self.requests.push((request.id, body, complete));
                }
                ServerEvent::Data { id, data } => {
                    let request = self.requests.iter_mut().find(|r| r.0 == id).unwrap();
                    request.1.extend_from_slice(&data);
                }
                ServerEvent::End { id, .. } => {
                    self.requests.iter_mut().find(|r| r.0 == id).unwrap().2 = true;
                }
                // A response that closed the connection cut the body of a
                // request pipelined behind it: that one goes unanswered.
                ServerEvent::BodyAbandoned { .. } => {}
                other => panic!("no error in a well-formed exchange: {other:?}"),
            }
        }
        for id in wanted {
            self.server.body_wanted(id);
        }
        while let Some((id, _, ended)) = self.requests.get(self.answered).cloned() {
            if !ended {
                break;
            }
            let exchange = &self.exchanges[self.answered];
            let mut headers = HeaderMap::new();
            if exchange.response_close {
                headers.insert("connection", "close".parse().unwrap());
            }
            let size = if exchange.response_chunked {
                BodySize::Unknown
            } else {
                BodySize::Exact(exchange.response_body.len() as u64)
            };
            // A request the connection no longer answers refuses it.
            if let Ok(has_body) =
                self.server
                    .start_response(id, exchange.status, &headers, size, self.now)
            {
                if has_body {
                    let body = Bytes::from(exchange.response_body.clone());
                    self.server.send_data(id, body).unwrap();
                }
                self.server.finish_response(id, None, self.now).unwrap();
            }
            self.answered += 1;
            moved = true;
        }
        moved | drain(self.server.write_buf(), &mut self.to_client)
    }

    /// A piece of what the server wrote reaches the client; once the server
    /// is done and everything arrived, its close.
    fn deliver_to_client(&mut self) -> bool {
        if self.to_client.is_empty() {
            if self.server.is_done() && self.client.wants_read() {
                self.client.received_eof();
                return true;
            }
            return false;
        }
        if !self.client.wants_read() {
            return false;
        }
        let n = self.piece().min(self.to_client.len());
        let piece: Vec<u8> = self.to_client.drain(..n).collect();
        self.client.read_buf().extend_from_slice(&piece);
        true
    }

    fn client_reads(&mut self) -> bool {
        let mut moved = false;
        while let Some(event) = self.client.poll_event(self.now) {
            moved = true;
            let index = |id: ExchangeId, sent: &[ExchangeId]| {
                sent.iter().position(|&s| s == id).expect("a request sent")
            };
            match event {
                ClientEvent::Interim { .. } => {}
                ClientEvent::Response(response) => {
                    let n = index(response.id, &self.sent);
                    assert!(
                        self.seen[..n].iter().all(|s| s.ended || s.failed),
                        "answered out of order"
                    );
                    self.seen[n].status = Some(response.head.status());
                    if let Some(whole) = response.complete_body {
                        self.seen[n].body = whole.to_vec();
                        self.seen[n].ended = true;
                    }
                }
                ClientEvent::Data { id, data } => {
                    let n = index(id, &self.sent);
                    self.seen[n].body.extend_from_slice(&data);
                }
                ClientEvent::End { id, .. } => {
                    let n = index(id, &self.sent);
                    self.seen[n].ended = true;
                }
                ClientEvent::Upgraded { .. } => panic!("nothing asked to upgrade"),
                ClientEvent::Failed { waiting, error } => {
                    for id in waiting {
                        let n = index(id, &self.sent);
                        self.seen[n].failed = true;
                    }
                    // A server that closes may leave pipelined requests
                    // unanswered; it never breaks the protocol here.
                    assert_eq!(
                        error,
                        gruvi_conn::proto::ResponseError::ClosedBeforeResponse
                    );
                }
            }
        }
        moved
    }

    /// Nothing can move: time jumps (a step of the weather, or to the next
    /// timer due on either side).
    fn let_time_pass(&mut self) -> bool {
        let next = match (self.client.poll_timeout(), self.server.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(next) = next else {
            return false;
        };
        let step = self.weather.steps_ms[self.turn % self.weather.steps_ms.len()];
        self.turn += 1;
        self.now = (self.now + Duration::from_millis(step)).max(next);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        true
    }

    fn run(&mut self) {
        for _ in 0..100_000 {
            let mut moved = self.client_sends();
            moved |= self.deliver_to_server();
            moved |= self.server_works();
            moved |= self.deliver_to_client();
            moved |= self.client_reads();
            if moved {
                continue;
            }
            let settled = self.sent.len() == self.exchanges.len() || !self.client.can_send();
            let all_seen = self.seen.iter().all(|s| s.ended || s.failed);
            if settled && all_seen && self.sending.is_none() {
                return;
            }
            if !self.let_time_pass() {
                return;
            }
        }
        panic!("the pair did not settle");
    }
}

/// Moves what a side wrote onto the wire toward the other; `true` if any.
fn drain(buf: &mut gruvi_conn::WriteBuf, wire: &mut VecDeque<u8>) -> bool {
    let moved = buf.has_remaining();
    while buf.has_remaining() {
        let chunk = buf.chunk();
        wire.extend(chunk);
        let n = chunk.len();
        buf.advance(n);
    }
    moved
}

fn check(exchanges: Vec<Exchange>, weather: Weather) {
    let mut pair = Pair::new(exchanges.clone(), weather);
    pair.run();
    // Every request sent was answered by its own response (or failed
    // because the connection ended before it).
    for (n, seen) in pair.seen.iter().enumerate() {
        let exchange = &exchanges[n];
        if seen.failed {
            continue;
        }
        assert!(seen.ended, "request {n} got no whole response: {seen:?}");
        assert_eq!(seen.status, Some(exchange.status), "request {n}");
        assert_eq!(seen.body, exchange.expected_body(), "request {n}'s body");
    }
    // The server saw each request body exactly as sent, in order.
    for (n, (_, body, ended)) in pair.requests.iter().enumerate() {
        if *ended {
            assert_eq!(
                *body,
                exchanges[n].request_body(),
                "request {n} as received"
            );
        }
    }
    // A failure only ever follows a response that closed the connection.
    if let Some(first_failed) = pair.seen.iter().position(|s| s.failed) {
        assert!(
            first_failed > 0,
            "the first request failed on an open connection"
        );
        let closer = &exchanges[first_failed - 1];
        assert!(
            closer.close || closer.response_close || closer.http10 || closer.expect_continue,
            "request {first_failed} failed behind one that did not close"
        );
    }
    // Both sides agree on keep-alive: the client sends more exactly when
    // the server reads more.
    if pair.client.can_send() {
        assert!(
            !pair.server.is_done(),
            "the client reuses a closed connection"
        );
    }
    if !pair.server.is_done() && pair.to_client.is_empty() {
        assert!(
            pair.client.can_send() || pair.sent.len() < exchanges.len(),
            "the server keeps a connection the client gave up"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn client_and_server_agree(
        exchanges in prop::collection::vec(exchange(), 1..8),
        weather in weather(),
    ) {
        check(exchanges, weather);
    }
}

/// A plain pipeline, by hand: the harness itself works.
#[test]
fn a_pipeline_of_three_is_answered_in_order() {
    let plain = |method, status, body: &[u8]| Exchange {
        method,
        body: None,
        chunked: false,
        expect_continue: false,
        close: false,
        http10: false,
        status,
        response_body: body.to_vec(),
        response_chunked: false,
        response_close: false,
    };
    let mut post = plain("POST", 201, b"made");
    post.body = Some(vec![b"hello ".to_vec(), b"world".to_vec()]);
    post.chunked = true;
    post.expect_continue = true;
    let exchanges = vec![
        plain("GET", 200, b"one"),
        post,
        plain("HEAD", 200, b"three"),
    ];
    let weather = Weather {
        pieces: vec![3, 7],
        steps_ms: vec![10],
    };
    let mut pair = Pair::new(exchanges.clone(), weather.clone());
    pair.run();
    assert!(
        pair.seen.iter().all(|s| s.ended && !s.failed),
        "{:?}",
        pair.seen
    );
    assert_eq!(pair.seen[1].body, b"made");
    assert_eq!(pair.requests[1].1, b"hello world");
    check(exchanges, weather);
}
