//! The server state machine, driven by hand with simulated time: every rule
//! of the message cycle, checked on the exact bytes it writes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes};
use gruvi_conn::proto::{
    BodySize, Expired, LocalError, RequestId, Server, ServerConfig, ServerEvent,
};
use gruvi_wire::BodyFraming;
use http::HeaderMap;
use proptest::prelude::*;

/// Sun, 06 Nov 1994 08:49:37 GMT
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(784_111_777)
}

const DATE: &str = "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n";
const SERVER: &str = concat!("Server: gruvi/", env!("CARGO_PKG_VERSION"), "\r\n");

/// A readable summary of an event.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Ev {
    Request {
        id: u64,
        method: String,
        target: String,
        body: BodyFraming,
        keep_alive: bool,
    },
    Data(u64, Vec<u8>),
    End(u64, Vec<(String, String)>),
    BodyFailed(u64),
    BodyAbandoned(u64),
    Rejected(u16),
}

fn id_of(id: RequestId) -> u64 {
    // RequestIds are opaque; their Debug form is `RequestId(n)`.
    format!("{id:?}")
        .trim_start_matches("RequestId(")
        .trim_end_matches(')')
        .parse()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn summarize(event: ServerEvent<'_>) -> Ev {
    match event {
        ServerEvent::Request(r) => Ev::Request {
            id: id_of(r.id),
            method: text(r.head.method().of(&r.bytes)),
            target: text(r.head.target().of(&r.bytes)),
            body: r.body,
            keep_alive: r.keep_alive,
        },
        ServerEvent::Data { id, data } => Ev::Data(id_of(id), data.to_vec()),
        ServerEvent::End { id, trailers } => Ev::End(
            id_of(id),
            trailers
                .fields()
                .iter()
                .map(|(n, v)| (text(n), text(v)))
                .collect(),
        ),
        ServerEvent::BodyFailed { id, .. } => Ev::BodyFailed(id_of(id)),
        ServerEvent::BodyAbandoned { id } => Ev::BodyAbandoned(id_of(id)),
        ServerEvent::Rejected(e) => Ev::Rejected(e.status()),
    }
}

struct Harness {
    server: Server,
    now: Instant,
    ids: Vec<RequestId>,
}

impl Harness {
    fn new() -> Self {
        Harness::with(ServerConfig::default())
    }

    fn with(config: ServerConfig) -> Self {
        let now = Instant::now();
        Harness {
            server: Server::new(config, now, wall()),
            now,
            ids: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Vec<Ev> {
        self.server.read_buf().extend_from_slice(bytes);
        self.events()
    }

    fn events(&mut self) -> Vec<Ev> {
        let mut out = Vec::new();
        while let Some(event) = self.server.poll_event(self.now) {
            // A body that came whole with its head is, to these tests, the
            // data that follows the head, then its end; a request without
            // a body ends at once.
            let mut whole = None;
            if let ServerEvent::Request(r) = &event {
                self.ids.push(r.id);
                if r.complete_body.is_some() || r.body == BodyFraming::Empty {
                    let data = r.complete_body.as_ref().map(|b| b.to_vec());
                    whole = Some((id_of(r.id), data));
                }
            }
            out.push(summarize(event));
            if let Some((id, data)) = whole {
                if let Some(data) = data {
                    out.push(Ev::Data(id, data));
                }
                out.push(Ev::End(id, vec![]));
            }
        }
        out
    }

    fn id(&self, n: usize) -> RequestId {
        self.ids[n]
    }

    fn respond(
        &mut self,
        n: usize,
        status: u16,
        headers: &[(&'static str, &'static str)],
        body: &[u8],
    ) {
        let id = self.id(n);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(*k, v.parse().unwrap());
        }
        self.server
            .start_response(
                id,
                status,
                &map,
                BodySize::Exact(body.len() as u64),
                self.now,
            )
            .unwrap();
        if !body.is_empty() {
            self.server
                .send_data(id, Bytes::copy_from_slice(body))
                .unwrap();
        }
        self.server.finish_response(id, None, self.now).unwrap();
    }

    fn written(&mut self) -> String {
        let buf = self.server.write_buf();
        let mut out = Vec::new();
        while buf.has_remaining() {
            let chunk = buf.chunk();
            out.extend_from_slice(chunk);
            let n = chunk.len();
            buf.advance(n);
        }
        text(&out)
    }
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n")
}

fn req(id: u64, method: &str, target: &str, body: BodyFraming) -> Ev {
    Ev::Request {
        id,
        method: method.into(),
        target: target.into(),
        body,
        keep_alive: true,
    }
}

#[test]
fn a_get_and_its_response() {
    let mut h = Harness::new();
    assert_eq!(
        h.feed(get("/hello").as_bytes()),
        [
            req(0, "GET", "/hello", BodyFraming::Empty),
            Ev::End(0, vec![])
        ]
    );
    h.respond(0, 200, &[("content-type", "text/plain")], b"hi");
    assert_eq!(
        h.written(),
        format!(
            "HTTP/1.1 200 OK\r\n{DATE}{SERVER}content-type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        )
    );
    assert!(!h.server.is_done(), "kept alive");
}

#[test]
fn pipelined_requests_are_parsed_ahead_and_answered_in_order() {
    let mut h = Harness::new();
    let events = h.feed(format!("{}{}{}", get("/1"), get("/2"), get("/3")).as_bytes());
    assert_eq!(events.len(), 6, "three requests parsed ahead: {events:?}");
    let (second, third) = (h.id(1), h.id(2));
    let error = h
        .server
        .start_response(second, 200, &HeaderMap::new(), BodySize::Empty, h.now);
    assert_eq!(error, Err(LocalError::NotCurrent(second)));
    h.respond(0, 200, &[], b"1");
    h.respond(1, 200, &[], b"2");
    assert!(
        h.server
            .start_response(third, 200, &HeaderMap::new(), BodySize::Empty, h.now)
            .is_ok()
    );
    let out = h.written();
    let (first_at, second_at) = (
        out.find("\r\n\r\n1").unwrap(),
        out.find("\r\n\r\n2").unwrap(),
    );
    assert!(first_at < second_at, "responses in request order: {out:?}");
}

#[test]
fn parsing_ahead_stops_at_the_pipeline_depth() {
    let mut h = Harness::with(ServerConfig {
        pipeline_depth: 2,
        ..ServerConfig::default()
    });
    let burst: String = (0..5).map(|i| get(&format!("/{i}"))).collect();
    assert_eq!(
        h.feed(burst.as_bytes()).len(),
        4,
        "two requests (each with its End)"
    );
    assert!(!h.server.wants_read());
    h.respond(0, 204, &[], b"");
    assert_eq!(h.events().len(), 2, "one answered: one more parsed");
}

#[test]
fn connection_close_mid_pipeline_ends_the_connection_after_its_response() {
    let mut h = Harness::new();
    let input = format!(
        "{}GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n{}",
        get("/1"),
        get("/3")
    );
    let events = h.feed(input.as_bytes());
    let targets: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Ev::Request { target, .. } => Some(target.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        targets,
        ["/1", "/2"],
        "nothing after the closing request is parsed"
    );
    h.respond(0, 200, &[], b"a");
    h.respond(1, 200, &[], b"b");
    let out = h.written();
    assert!(
        out.ends_with("Connection: close\r\nContent-Length: 1\r\n\r\nb")
            || out.contains("Content-Length: 1\r\nConnection: close\r\n\r\nb"),
        "{out:?}"
    );
    assert!(h.server.is_done());
}

#[test]
fn http10_closes_unless_asked_to_keep_alive() {
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.0\r\n\r\n");
    h.respond(0, 200, &[], b"x");
    assert_eq!(
        h.written(),
        format!("HTTP/1.0 200 OK\r\n{DATE}{SERVER}Content-Length: 1\r\n\r\nx")
    );
    assert!(h.server.is_done());

    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    h.respond(0, 200, &[], b"x");
    assert_eq!(
        h.written(),
        format!(
            "HTTP/1.0 200 OK\r\n{DATE}{SERVER}Content-Length: 1\r\nConnection: keep-alive\r\n\r\nx"
        )
    );
    assert!(!h.server.is_done());
}

#[test]
fn bodies_of_unknown_length() {
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let id = h.id(0);
    h.server
        .start_response(id, 200, &HeaderMap::new(), BodySize::Unknown, h.now)
        .unwrap();
    h.server
        .send_data(id, Bytes::from_static(b"hello"))
        .unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "1".parse().unwrap());
    h.server
        .finish_response(id, Some(&trailers), h.now)
        .unwrap();
    assert_eq!(
        h.written(),
        format!(
            "HTTP/1.1 200 OK\r\n{DATE}{SERVER}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n"
        )
    );

    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.0\r\n\r\n");
    let id = h.id(0);
    h.server
        .start_response(id, 200, &HeaderMap::new(), BodySize::Unknown, h.now)
        .unwrap();
    h.server
        .send_data(id, Bytes::from_static(b"until close"))
        .unwrap();
    h.server.finish_response(id, None, h.now).unwrap();
    assert_eq!(
        h.written(),
        format!("HTTP/1.0 200 OK\r\n{DATE}{SERVER}\r\nuntil close")
    );
    assert!(h.server.is_done());
}

#[test]
fn heads_and_bodiless_statuses_send_no_body() {
    let mut h = Harness::new();
    h.feed(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    h.respond(0, 200, &[], b"the body a GET would get");
    assert_eq!(
        h.written(),
        format!("HTTP/1.1 200 OK\r\n{DATE}{SERVER}Content-Length: 24\r\n\r\n")
    );

    for status in [204, 304] {
        let mut h = Harness::new();
        h.feed(get("/").as_bytes());
        h.respond(0, status, &[], b"");
        let reason = if status == 204 {
            "No Content"
        } else {
            "Not Modified"
        };
        assert_eq!(
            h.written(),
            format!("HTTP/1.1 {status} {reason}\r\n{DATE}{SERVER}\r\n")
        );
    }
}

#[test]
fn request_bodies_arrive_as_data_then_end() {
    let mut h = Harness::new();
    let mut events = h.feed(b"POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello");
    events.extend(h.feed(b" worl"));
    events.extend(h.feed(b"dGET"));
    assert_eq!(
        events,
        [
            req(0, "POST", "/u", BodyFraming::Length(11)),
            Ev::Data(0, b"hello".to_vec()),
            Ev::Data(0, b" worl".to_vec()),
            Ev::Data(0, b"d".to_vec()),
            Ev::End(0, vec![]),
        ]
    );

    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
    assert_eq!(
        events,
        [
            req(0, "POST", "/", BodyFraming::Chunked),
            Ev::Data(0, b"abc".to_vec()),
            Ev::End(0, vec![("X-T".into(), "1".into())]),
        ]
    );
}

#[test]
fn an_unread_body_is_drained_before_the_next_request() {
    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123");
    assert_eq!(events[1], Ev::Data(0, b"0123".to_vec()));
    h.server.body_dropped(h.id(0));
    h.respond(0, 200, &[], b"");
    // The rest of the body, then the next request: the body's bytes are
    // thrown away, never taken for a request.
    let events = h.feed(format!("456789{}", get("/next")).as_bytes());
    assert_eq!(
        events,
        [
            req(1, "GET", "/next", BodyFraming::Empty),
            Ev::End(1, vec![])
        ]
    );
    // A body that is all there ends, and the next request is parsed ahead
    // in the same go.
    let mut h = Harness::new();
    let events = h.feed(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc{}",
            get("/after")
        )
        .as_bytes(),
    );
    assert_eq!(
        &events[1..],
        [
            Ev::Data(0, b"abc".to_vec()),
            Ev::End(0, vec![]),
            req(1, "GET", "/after", BodyFraming::Empty),
            Ev::End(1, vec![])
        ]
    );
}

#[test]
fn a_body_too_large_to_drain_closes_the_connection() {
    let mut h = Harness::with(ServerConfig {
        max_drain_bytes: 4,
        ..ServerConfig::default()
    });
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
    h.respond(0, 200, &[], b"");
    h.feed(&[b'x'; 50]);
    let _ = h.written();
    assert!(h.server.is_done());
}

#[test]
fn malformed_requests_are_answered_by_the_library_after_earlier_responses() {
    let mut h = Harness::new();
    let events = h.feed(format!("{}GET / HTTP/1.1\r\nHost : x\r\n\r\n", get("/ok")).as_bytes());
    assert_eq!(events.last(), Some(&Ev::Rejected(400)));
    assert_eq!(
        h.written(),
        "",
        "the 400 waits for the response owed before it"
    );
    h.respond(0, 200, &[], b"ok");
    let out = h.written();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out:?}");
    let rejection = format!(
        "HTTP/1.1 400 Bad Request\r\n{DATE}{SERVER}Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 16\r\nConnection: close\r\n\r\n400 Bad Request\n"
    );
    assert!(out.ends_with(&rejection), "{out:?}");
    assert!(h.server.is_done());

    for (input, status) in [
        (&b"GET / HTTP/2.0\r\n\r\n"[..], 505),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ] {
        let mut h = Harness::new();
        assert_eq!(h.feed(input), [Ev::Rejected(status)]);
        assert!(h.written().contains("Connection: close"));
        assert!(h.server.is_done());
    }
}

#[test]
fn expect_100_continue() {
    let expecting =
        b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n";
    let mut h = Harness::new();
    h.feed(expecting);
    assert_eq!(h.written(), "", "not before the application wants the body");
    h.server.body_wanted(h.id(0));
    assert_eq!(h.written(), "HTTP/1.1 100 Continue\r\n\r\n");
    h.server.body_wanted(h.id(0));
    assert_eq!(h.written(), "", "only once");

    // A final response first: no 100, and since the client may never send
    // the body, the connection closes after the response.
    let mut h = Harness::new();
    h.feed(expecting);
    h.respond(0, 417, &[], b"");
    assert!(!h.written().contains("100 Continue"));
    assert!(h.server.is_done());
}

#[test]
fn application_fields_are_checked() {
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let mut headers = HeaderMap::new();
    headers.insert("transfer-encoding", "chunked".parse().unwrap());
    let error = h
        .server
        .start_response(h.id(0), 200, &headers, BodySize::Empty, h.now);
    assert!(matches!(error, Err(LocalError::Encode(_))), "{error:?}");
    assert_eq!(h.written(), "", "nothing of a refused head is written");

    let mut headers = HeaderMap::new();
    headers.insert("content-length", "5".parse().unwrap());
    let error = h
        .server
        .start_response(h.id(0), 200, &headers, BodySize::Exact(3), h.now);
    assert_eq!(
        error,
        Err(LocalError::ContentLengthMismatch {
            declared: "5".to_owned(),
            body: Some(3)
        })
    );

    // Connection: close from the application is honoured.
    h.respond(
        0,
        200,
        &[
            ("connection", "close"),
            ("date", "today"),
            ("server", "mine"),
        ],
        b"",
    );
    assert_eq!(
        h.written(),
        "HTTP/1.1 200 OK\r\ndate: today\r\nserver: mine\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert!(h.server.is_done());
}

#[test]
fn body_errors_stop_reading() {
    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_eq!(
        events,
        [req(0, "POST", "/", BodyFraming::Chunked), Ev::BodyFailed(0)]
    );
    // No byte of its response was written: the library answers 400 itself
    // (the application's reader got the error) and closes.
    let written = h.written();
    assert!(
        written.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{written}"
    );
    assert!(written.contains("Connection: close"));
    assert!(h.server.is_done());
    assert_eq!(h.server.cancelled_from(), Some(h.id(0)));
}

/// A body that fails once its response has started cannot be answered
/// again: the response goes on, and the connection closes after it.
#[test]
fn a_body_failing_after_its_response_started_closes_after_it() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    let id = h.id(0);
    h.server
        .start_response(id, 200, &HeaderMap::new(), BodySize::Unknown, h.now)
        .unwrap();
    assert_eq!(h.feed(b"zz\r\n"), [Ev::BodyFailed(0)]);
    assert_eq!(h.server.cancelled_from(), None);
    h.server.finish_response(id, None, h.now).unwrap();
    let written = h.written();
    assert!(written.starts_with("HTTP/1.1 200 OK\r\n"), "{written}");
    assert!(h.server.is_done());
}

/// Regression: a pipelined request whose body turned out malformed after
/// the first had been answered was closed without an answer; it gets its
/// 400 like a first request does.
#[test]
fn a_malformed_body_behind_an_answered_request_gets_400() {
    let mut h = Harness::new();
    h.feed(get("/1").as_bytes());
    h.respond(0, 200, &[], b"one");
    h.written();
    let events = h.feed(
        b"POST /2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nhi\r\n0\r\n\r\n",
    );
    assert_eq!(
        events,
        [
            req(1, "POST", "/2", BodyFraming::Chunked),
            Ev::BodyFailed(1)
        ]
    );
    let written = h.written();
    assert!(
        written.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{written}"
    );
    assert!(h.server.is_done());
}

#[test]
fn idle_and_header_timeouts() {
    // A new connection is not idle keep-alive: its first request must
    // start within the header-read timeout, else it closes quietly.
    let mut h = Harness::new();
    h.events();
    let deadline = h.server.poll_timeout().expect("first-request timer");
    assert_eq!(deadline, h.now + Duration::from_secs(30));
    assert_eq!(h.server.handle_timeout(deadline), Some(Expired::Idle));
    assert!(h.server.is_done());
    assert_eq!(h.written(), "", "a silent new connection closes quietly");

    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    h.respond(0, 200, &[], b"");
    h.written();
    h.events();
    let deadline = h.server.poll_timeout().expect("idle timer");
    assert_eq!(deadline, h.now + Duration::from_secs(75));
    assert_eq!(
        h.server.handle_timeout(deadline - Duration::from_millis(1)),
        None
    );
    assert!(!h.server.is_done());
    assert_eq!(h.server.handle_timeout(deadline), Some(Expired::Idle));
    assert!(h.server.is_done());
    assert_eq!(h.written(), "", "an idle connection closes quietly");

    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHost:");
    let deadline = h.server.poll_timeout().expect("header timer");
    assert_eq!(deadline, h.now + Duration::from_secs(30));
    assert_eq!(h.server.handle_timeout(deadline), Some(Expired::Head));
    assert!(h.written().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(h.server.is_done());
}

#[test]
fn peer_hanging_up_mid_head_ends_quietly() {
    let mut h = Harness::new();
    h.feed(b"GET / HT");
    h.server.received_eof();
    assert!(h.events().is_empty());
    assert!(h.server.is_done());
    assert_eq!(h.written(), "");
}

fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "/[a-z]{0,8}".prop_map(|t| get(&t).into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|body| {
            let mut m = format!(
                "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            m.extend_from_slice(&body);
            m
        }),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..10), 0..4).prop_map(
            |chunks| {
                let mut m =
                    b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for c in chunks {
                    m.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    m.extend_from_slice(&c);
                    m.extend_from_slice(b"\r\n");
                }
                m.extend_from_slice(b"0\r\nX-End: 1\r\n\r\n");
                m
            }
        ),
    ]
}

/// Events with data frames joined per request: how the bytes were split
/// may change the data frames, never what they carry.
fn normalize(events: Vec<Ev>) -> Vec<Ev> {
    let mut out: Vec<Ev> = Vec::new();
    for event in events {
        match (out.last_mut(), event) {
            (Some(Ev::Data(a, data)), Ev::Data(b, more)) if *a == b => data.extend(more),
            (_, event) => out.push(event),
        }
    }
    out
}

proptest! {
    /// Any sequence of valid requests, split anywhere, gives the same events.
    #[test]
    fn any_split_gives_the_same_events(
        messages in proptest::collection::vec(message(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let input: Vec<u8> = messages.concat();
        let mut whole = Harness::new();
        let expected = normalize(whole.feed(&input));
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        at.sort_unstable();
        let mut split = Harness::new();
        let mut events = Vec::new();
        let mut start = 0;
        for cut in at.into_iter().chain([input.len()]) {
            events.extend(split.feed(&input[start..cut]));
            start = cut;
        }
        prop_assert_eq!(normalize(events), expected.clone());
        let requests = expected.iter().filter(|e| matches!(e, Ev::Request { .. })).count();
        prop_assert_eq!(requests, messages.len());
    }
}

#[test]
fn content_length_from_the_application_is_strict_and_written_once() {
    let cases: [(&[&str], Result<&str, ()>); 4] = [
        (&["5"], Ok("Content-Length: 5\r\n")),
        (&["5", "5"], Ok("Content-Length: 5\r\n")),
        (&["+5"], Err(())),
        (&["5", "6"], Err(())),
    ];
    for (values, expected) in cases {
        let mut h = Harness::new();
        h.feed(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("content-length", v.parse().unwrap());
        }
        let result = h
            .server
            .start_response(h.id(0), 200, &headers, BodySize::Unknown, h.now);
        match expected {
            Ok(line) => {
                result.unwrap();
                h.server.finish_response(h.id(0), None, h.now).unwrap();
                let out = h.written();
                assert_eq!(
                    out.matches("Content-Length").count() + out.matches("content-length").count(),
                    1,
                    "{out:?}"
                );
                assert!(out.contains(line), "{out:?}");
            }
            Err(()) => assert!(result.is_err(), "{values:?}"),
        }
    }
}

#[test]
fn connect_ends_parsing_and_a_2xx_hands_the_connection_over() {
    let mut h = Harness::new();
    let events = h.feed(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n\x16\x03\x01GET /admin HTTP/1.1\r\n\r\n");
    assert_eq!(
        events.len(),
        2,
        "only the CONNECT: the rest is tunnel data: {events:?}"
    );
    h.server
        .start_response(h.id(0), 200, &HeaderMap::new(), BodySize::Empty, h.now)
        .unwrap();
    h.server.finish_response(h.id(0), None, h.now).unwrap();
    // RFC 9110 §9.3.6: no Content-Length or Transfer-Encoding on a 2xx to CONNECT.
    assert_eq!(
        h.written(),
        format!("HTTP/1.1 200 OK\r\n{DATE}{SERVER}\r\n")
    );
    assert!(h.server.is_upgraded() && !h.server.is_done());
    assert_eq!(
        &h.server.take_leftover()[..],
        b"\x16\x03\x01GET /admin HTTP/1.1\r\n\r\n"
    );

    // A refused CONNECT is an ordinary response, and the connection closes.
    let mut h = Harness::new();
    h.feed(b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n");
    h.respond(0, 403, &[], b"no");
    assert!(h.written().contains("Connection: close"));
    assert!(h.server.is_done() && !h.server.is_upgraded());
}

#[test]
fn switching_protocols_hands_the_connection_over() {
    let mut h = Harness::new();
    h.feed(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00",
    );
    let mut headers = HeaderMap::new();
    headers.insert("connection", "upgrade".parse().unwrap());
    headers.insert("upgrade", "websocket".parse().unwrap());
    h.server
        .start_response(h.id(0), 101, &headers, BodySize::Empty, h.now)
        .unwrap();
    h.server.finish_response(h.id(0), None, h.now).unwrap();
    assert_eq!(
        h.written(),
        format!(
            "HTTP/1.1 101 Switching Protocols\r\n{DATE}{SERVER}connection: upgrade\r\nupgrade: websocket\r\n\r\n"
        )
    );
    assert!(h.server.is_upgraded());
    assert_eq!(&h.server.take_leftover()[..], b"\x81\x00");

    // 101 to a request that did not ask is refused.
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let error = h
        .server
        .start_response(h.id(0), 101, &HeaderMap::new(), BodySize::Empty, h.now);
    assert_eq!(error, Err(LocalError::InvalidStatus(101)));
}

#[test]
fn a_full_pipeline_still_reads_the_body_being_received() {
    let mut h = Harness::with(ServerConfig {
        pipeline_depth: 1,
        ..ServerConfig::default()
    });
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
    assert!(
        h.server.wants_read(),
        "the admitted request's body must still be read"
    );
    assert_eq!(
        h.feed(b"abc"),
        [Ev::Data(0, b"abc".to_vec()), Ev::End(0, vec![])]
    );
    assert!(!h.server.wants_read(), "now the pipeline is full");
}

#[test]
fn a_body_that_stops_arriving_times_out() {
    let mut h = Harness::new();
    let events = h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(events.last(), Some(&Ev::Data(0, b"abc".to_vec())));
    let deadline = h
        .server
        .poll_timeout()
        .expect("body timer while waiting on the peer");
    assert_eq!(deadline, h.now + Duration::from_secs(30));
    assert_eq!(
        h.server.handle_timeout(deadline - Duration::from_millis(1)),
        None
    );
    assert!(h.events().is_empty());
    assert_eq!(h.server.handle_timeout(deadline), Some(Expired::Body));
    assert_eq!(h.events(), [Ev::BodyFailed(0)]);
    // No byte of its response was written: the library answers 408.
    let written = h.written();
    assert!(
        written.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{written}"
    );
    assert!(written.contains("Connection: close"));
    assert!(h.server.is_done());
}

#[test]
fn an_aborted_response_closes_the_connection() {
    let mut h = Harness::new();
    h.feed(format!("{}{}", get("/1"), get("/2")).as_bytes());
    let id = h.id(0);
    h.server
        .start_response(id, 200, &HeaderMap::new(), BodySize::Exact(10), h.now)
        .unwrap();
    h.server.send_data(id, Bytes::from_static(b"abc")).unwrap();
    h.server.abort_response(id);
    let out = h.written();
    assert!(out.ends_with("Content-Length: 10\r\n\r\nabc"), "{out:?}");
    assert!(
        h.server.is_done(),
        "the peer sees a short body and the close"
    );
    assert!(
        h.server
            .start_response(h.id(1), 200, &HeaderMap::new(), BodySize::Empty, h.now)
            .is_err()
    );
}

#[test]
fn a_stray_crlf_after_a_body_leaves_the_connection_idle() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\r\n");
    h.respond(0, 200, &[], b"");
    h.written();
    assert!(h.events().is_empty());
    assert_eq!(
        h.server.poll_timeout(),
        Some(h.now + Duration::from_secs(75)),
        "the idle timer, not the header-read one"
    );
    assert_eq!(
        h.feed(get("/next").as_bytes()),
        [
            req(1, "GET", "/next", BodyFraming::Empty),
            Ev::End(1, vec![])
        ],
        "the empty line is skipped before the next request line"
    );
}

#[test]
fn a_body_the_application_reads_slowly_does_not_time_out() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    assert!(h.server.poll_timeout().is_some());
    h.server.set_body_paused(true, h.now);
    assert_eq!(
        h.server.poll_timeout(),
        None,
        "the wait is the application's"
    );
    h.now += Duration::from_secs(100);
    h.server.set_body_paused(false, h.now);
    assert_eq!(
        h.server.poll_timeout(),
        Some(h.now + Duration::from_secs(30)),
        "the peer gets the whole timeout again"
    );
}

/// A body the application dropped has no reader to wait for: a driver
/// that still says "paused" (its reader's last word) does not stop it
/// being drained, nor the next request being read.
#[test]
fn a_dropped_body_is_never_held_back() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    h.server.set_body_paused(true, h.now);
    assert!(!h.server.wants_read(), "held back for its reader");
    h.server.body_dropped(h.id(0));
    assert!(h.server.wants_read(), "drained");
    assert!(!h.server.set_body_paused(true, h.now));
    assert!(h.server.wants_read(), "and never held back again");
    h.respond(0, 200, &[], b"");
    let events = h.feed(format!("defghij{}", get("/next")).as_bytes());
    assert_eq!(
        events,
        [
            req(1, "GET", "/next", BodyFraming::Empty),
            Ev::End(1, vec![])
        ]
    );
}

#[test]
fn graceful_shutdown_of_an_idle_connection_closes_it_at_once() {
    let mut h = Harness::new();
    h.events();
    h.server.shutdown();
    assert!(h.server.is_done());
    assert_eq!(h.written(), "");
}

#[test]
fn graceful_shutdown_answers_every_request_already_parsed() {
    let mut h = Harness::new();
    h.feed(format!("{}{}", get("/1"), get("/2")).as_bytes());
    h.server.shutdown();
    assert!(
        h.feed(get("/3").as_bytes()).is_empty(),
        "nothing new is parsed"
    );
    h.respond(0, 200, &[], b"one");
    assert!(!h.server.is_done());
    h.respond(1, 200, &[], b"two");
    let out = h.written();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    assert_eq!(
        out.matches("Connection: close").count(),
        1,
        "only the last response closes: {out:?}"
    );
    assert!(out.ends_with("Connection: close\r\n\r\ntwo"), "{out:?}");
    assert!(h.server.is_done());
}

#[test]
fn graceful_shutdown_reads_the_body_being_received_to_its_end() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab");
    h.server.shutdown();
    assert_eq!(
        h.feed(format!("cd{}", get("/later")).as_bytes()),
        [Ev::Data(0, b"cd".to_vec()), Ev::End(0, vec![])],
        "the body ends; the request after it is not parsed"
    );
    h.respond(0, 200, &[], b"");
    assert!(h.written().contains("Connection: close"));
    assert!(h.server.is_done());
}

#[test]
fn graceful_shutdown_during_a_response_closes_after_it() {
    let mut h = Harness::new();
    h.feed(get("/").as_bytes());
    let id = h.id(0);
    h.server
        .start_response(id, 200, &HeaderMap::new(), BodySize::Exact(2), h.now)
        .unwrap();
    h.server.shutdown();
    h.server.send_data(id, Bytes::from_static(b"hi")).unwrap();
    h.server.finish_response(id, None, h.now).unwrap();
    assert!(h.written().ends_with("\r\n\r\nhi"));
    assert!(h.server.is_done());
}

#[test]
fn no_body_timer_runs_while_100_continue_is_owed() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    assert_eq!(h.server.poll_timeout(), None, "the client waits for us");
    h.now += Duration::from_secs(100);
    h.server.body_wanted(h.id(0));
    assert_eq!(h.written(), "HTTP/1.1 100 Continue\r\n\r\n");
    h.events();
    assert_eq!(
        h.server.poll_timeout(),
        Some(h.now + Duration::from_secs(30)),
        "the client's time starts with the 100"
    );
}

#[test]
fn a_response_that_skips_100_continue_says_it_closes() {
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    h.respond(0, 417, &[], b"");
    let out = h.written();
    assert!(out.contains("Connection: close\r\n"), "{out:?}");
    assert!(h.server.is_done());

    // A body that already arrived whole needs no 100: the connection goes on.
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
    h.respond(0, 200, &[], b"");
    assert!(!h.written().contains("Connection: close"));
    assert!(!h.server.is_done());
}

#[test]
fn a_body_received_with_its_head_comes_whole_with_it_and_asks_for_no_100() {
    let mut server = Server::new(ServerConfig::default(), Instant::now(), wall());
    let now = Instant::now();
    server.read_buf().extend_from_slice(
        b"PUT /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello\
          PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nwor",
    );
    let mut seen = Vec::new();
    let mut wanted = Vec::new();
    while let Some(event) = server.poll_event(now) {
        match event {
            ServerEvent::Request(r) => {
                let whole = r.complete_body.map(|b| b.to_vec());
                let target = text(r.head.target().of(&r.bytes));
                seen.push(format!("{target} {:?} {whole:?}", r.body));
                wanted.push(r.id);
            }
            ServerEvent::Data { data, .. } => seen.push(format!("data {}", text(&data))),
            ServerEvent::End { .. } => seen.push("end".to_owned()),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [
            // Complete with its head: no `End` follows.
            format!("/a Length(5) {:?}", Some(b"hello".to_vec())),
            "/b Length(5) None".to_owned(),
            "data wor".to_owned(),
        ]
    );
    // The first expected a 100, but its body is here: wanting it writes
    // none (nor for the second, which did not ask).
    for id in wanted {
        server.body_wanted(id);
    }
    assert_eq!(server.write_buf().remaining(), 0);
    server.read_buf().extend_from_slice(b"ld");
    let mut rest = Vec::new();
    while let Some(event) = server.poll_event(now) {
        rest.push(summarize(event));
    }
    assert_eq!(rest, [Ev::Data(1, b"ld".to_vec()), Ev::End(1, Vec::new())]);
}

/// Closing at a message boundary needs no lingering; closing with input
/// unread or a message cut short does (the peer may still be sending).
#[test]
fn the_peer_may_be_sending_only_after_a_cut() {
    // Idle: nothing cut.
    let mut h = Harness::new();
    h.server.shutdown();
    assert!(h.server.is_done());
    assert!(!h.server.peer_may_be_sending());
    // A request that asked to close, read whole.
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    h.respond(0, 200, &[], b"");
    h.written();
    assert!(h.server.is_done());
    assert!(!h.server.peer_may_be_sending());
    // A refused head: the rest of it may be on its way.
    let mut h = Harness::new();
    h.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX : y\r\n");
    h.written();
    assert!(h.server.is_done());
    assert!(h.server.peer_may_be_sending());
    // A body answered before it ended, on a connection that closes.
    let mut h = Harness::new();
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 9\r\n\r\nabc");
    h.respond(0, 200, &[], b"");
    h.written();
    assert!(h.server.is_done());
    assert!(h.server.peer_may_be_sending());
    // Unless the peer already closed its side.
    h.server.received_eof();
    assert!(!h.server.peer_may_be_sending());
}

/// A body trickled just fast enough to pass the body-read timeout still
/// ends by the body deadline, when one is set (it is off by default):
/// answered 408 like a stalled one.
#[test]
fn a_trickled_body_meets_the_body_deadline() {
    assert_eq!(ServerConfig::default().body_deadline, None);
    let mut h = Harness::with(ServerConfig {
        body_deadline: Some(Duration::from_secs(10)),
        // (Else the default 8 MiB maximum refuses this length at once.)
        max_body_bytes: None,
        ..ServerConfig::default()
    });
    h.feed(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000\r\n\r\n");
    let start = h.now;
    // A byte every 5 s: within the 30 s body-read timeout each time.
    for _ in 0..2 {
        h.now += Duration::from_secs(5) - Duration::from_millis(1);
        assert_eq!(h.server.handle_timeout(h.now), None);
        h.feed(b"x");
    }
    let deadline = h.server.poll_timeout().unwrap();
    assert_eq!(deadline, start + Duration::from_secs(10));
    assert_eq!(h.server.handle_timeout(deadline), Some(Expired::Body));
    assert_eq!(h.events(), [Ev::BodyFailed(0)]);
    assert!(h.written().starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(h.server.is_done());
}

/// RFC 9110 §6.6.1: `Date` is the time the response was made, to the
/// second — the value is reused only within the second it names.
#[test]
fn the_date_changes_with_the_second_it_names() {
    let start = Instant::now();
    // 400 ms before 08:49:38.
    let anchor = wall() + Duration::from_millis(600);
    let mut h = Harness {
        server: Server::new(ServerConfig::default(), start, anchor),
        now: start,
        ids: Vec::new(),
    };
    let date_of = |written: String| {
        let line = written.lines().find(|l| l.starts_with("Date: ")).unwrap();
        line.trim_start_matches("Date: ").to_owned()
    };
    for (n, (after_ms, expected)) in [
        (0, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (399, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (400, "Sun, 06 Nov 1994 08:49:38 GMT"),
        (1_399, "Sun, 06 Nov 1994 08:49:38 GMT"),
        (3_500, "Sun, 06 Nov 1994 08:49:41 GMT"),
    ]
    .into_iter()
    .enumerate()
    {
        h.now = start + Duration::from_millis(after_ms);
        h.feed(get("/").as_bytes());
        h.respond(n, 200, &[], b"");
        assert_eq!(date_of(h.written()), expected, "{after_ms} ms in");
    }
}

/// RFC 9110 §15.5.22: a 426 MUST carry Upgrade, and §7.8: its sender lists
/// `upgrade` in Connection. Elsewhere (but a 101) Upgrade stays refused.
#[test]
fn a_426_carries_the_applications_upgrade_field() {
    let mut h = Harness::new();
    h.feed(get("/ws").as_bytes());
    h.respond(0, 426, &[("upgrade", "websocket")], b"");
    assert_eq!(
        h.written(),
        format!(
            "HTTP/1.1 426 Upgrade Required\r\n{DATE}{SERVER}upgrade: websocket\r\nContent-Length: 0\r\nConnection: upgrade\r\n\r\n"
        )
    );
    assert!(!h.server.is_done(), "kept alive");

    h.feed(get("/").as_bytes());
    let mut fields = HeaderMap::new();
    fields.insert("upgrade", "websocket".parse().unwrap());
    let refused = h
        .server
        .start_response(h.id(1), 200, &fields, BodySize::Exact(0), h.now);
    assert!(refused.is_err(), "Upgrade on a 200");
}

/// The answer to a connection refused at the server's limit is a library
/// answer like the others: 503, Date, Server, the reason, and a close.
#[test]
fn a_refused_connection_gets_a_library_answer() {
    let answer = Server::refusal(&ServerConfig::default(), wall());
    assert_eq!(
        text(&answer),
        format!(
            "HTTP/1.1 503 Service Unavailable\r\n{DATE}{SERVER}Content-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 24\r\nConnection: close\r\n\r\n503 Service Unavailable\n"
        )
    );
}
