//! The client state machine, driven by hand: requests written exactly,
//! responses framed by the FIFO of requests in flight, failures reaching
//! every request still waiting.

use bytes::{Buf, Bytes};
use std::time::{Duration, Instant};

use gruvi_conn::proto::{
    BodySize, Client, ClientConfig, ClientEvent, ExchangeId, LocalError, ResponseError,
};
use gruvi_wire::Version;
use http::HeaderMap;
use proptest::prelude::*;

#[derive(Debug, PartialEq, Eq, Clone)]
enum Ev {
    Interim(u64, u16),
    Response(u64, u16),
    Data(u64, Vec<u8>),
    End(u64, Vec<(String, String)>),
    Upgraded(u64, Vec<u8>),
    Failed(Vec<u64>, ResponseError),
}

fn n(id: ExchangeId) -> u64 {
    format!("{id:?}")
        .trim_start_matches("ExchangeId(")
        .trim_end_matches(')')
        .parse()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn events(client: &mut Client) -> Vec<Ev> {
    let mut out = Vec::new();
    while let Some(event) = client.poll_event(Instant::now()) {
        let event = match event {
            ClientEvent::Interim { id, status } => Ev::Interim(n(id), status),
            // A body that came whole with its head is, to these tests, its
            // data and its end.
            ClientEvent::Response(r) => {
                out.push(Ev::Response(n(r.id), r.head.status()));
                let Some(whole) = r.complete_body else {
                    continue;
                };
                if !whole.is_empty() {
                    out.push(Ev::Data(n(r.id), whole.to_vec()));
                }
                Ev::End(n(r.id), Vec::new())
            }
            ClientEvent::Data { id, data } => Ev::Data(n(id), data.to_vec()),
            ClientEvent::End { id, trailers } => Ev::End(
                n(id),
                trailers
                    .fields()
                    .iter()
                    .map(|(a, b)| (text(a), text(b)))
                    .collect(),
            ),
            ClientEvent::Upgraded { response, leftover } => {
                Ev::Upgraded(n(response.id), leftover.to_vec())
            }
            ClientEvent::Failed { waiting, error } => {
                Ev::Failed(waiting.into_iter().map(n).collect(), error)
            }
        };
        out.push(event);
    }
    out
}

fn feed(client: &mut Client, bytes: &[u8]) -> Vec<Ev> {
    client.read_buf().extend_from_slice(bytes);
    events(client)
}

fn written(client: &mut Client) -> String {
    let buf = client.write_buf();
    let mut out = Vec::new();
    while buf.has_remaining() {
        let chunk = buf.chunk().to_vec();
        buf.advance(chunk.len());
        out.extend(chunk);
    }
    text(&out)
}

const NO_FIELDS: &[(&str, &str)] = &[];

/// Asserts that `client` takes no further request: it is closing.
fn assert_takes_no_more(client: &mut Client) {
    let refused = client.send_request(
        "GET",
        "/",
        Version::Http11,
        NO_FIELDS,
        BodySize::Empty,
        Instant::now(),
    );
    assert_eq!(refused, Err(LocalError::Closed));
}

fn send(client: &mut Client, method: &str, target: &str) -> ExchangeId {
    client
        .send_request(
            method,
            target,
            Version::Http11,
            &[("Host", "x")],
            BodySize::Empty,
            Instant::now(),
        )
        .unwrap()
}

#[test]
fn pipelined_requests_are_written_at_once_and_answered_in_order() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/a");
    send(&mut c, "HEAD", "/b");
    send(&mut c, "GET", "/c");
    assert_eq!(
        written(&mut c),
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    assert_eq!(c.in_flight(), 3);
    let responses = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\naa\
                     HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n\
                     HTTP/1.1 204 No Content\r\n\r\n";
    assert_eq!(
        feed(&mut c, responses.as_bytes()),
        [
            Ev::Response(0, 200),
            Ev::Data(0, b"aa".to_vec()),
            Ev::End(0, vec![]),
            // HEAD: Content-Length 5, and no body follows.
            Ev::Response(1, 200),
            Ev::End(1, vec![]),
            Ev::Response(2, 204),
            Ev::End(2, vec![]),
        ]
    );
    assert!(c.can_send(), "all kept alive");
}

#[test]
fn interim_responses_are_reported_and_skipped() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    let input = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n";
    assert_eq!(
        feed(&mut c, input.as_bytes()),
        [
            Ev::Interim(0, 100),
            Ev::Interim(0, 103),
            Ev::Response(0, 304),
            Ev::End(0, vec![])
        ]
    );
}

#[test]
fn an_until_close_response_ends_the_pipeline() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/1");
    send(&mut c, "GET", "/2");
    written(&mut c);
    let mut evs = feed(&mut c, b"HTTP/1.1 200 OK\r\n\r\nall of it");
    c.received_eof();
    evs.extend(events(&mut c));
    assert_eq!(
        evs,
        [
            Ev::Response(0, 200),
            Ev::Data(0, b"all of it".to_vec()),
            Ev::End(0, vec![]),
            Ev::Failed(vec![1], ResponseError::ClosedBeforeResponse),
        ]
    );
    assert!(!c.can_send() && c.is_done());
}

#[test]
fn a_response_with_both_framings_is_read_chunked_and_closes() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    let input = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    assert_eq!(
        feed(&mut c, input.as_bytes()),
        [
            Ev::Response(0, 200),
            Ev::Data(0, b"ok".to_vec()),
            Ev::End(0, vec![])
        ]
    );
    assert!(!c.can_send(), "not reused");
}

#[test]
fn failures_reach_every_waiting_request() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    assert_eq!(
        feed(&mut c, b"HTTP/1.1 200 OK\r\n\r\n"),
        [Ev::Failed(vec![], ResponseError::UnsolicitedResponse)]
    );

    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/1");
    send(&mut c, "GET", "/2");
    let evs = feed(&mut c, b"HTTP/1.1 2x0 OK\r\n\r\n");
    assert!(
        matches!(&evs[..], [Ev::Failed(ids, ResponseError::Head(_))] if ids == &[0, 1]),
        "{evs:?}"
    );
    assert!(!c.can_send());

    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/1");
    let mut evs = feed(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    c.received_eof();
    evs.extend(events(&mut c));
    assert!(
        matches!(evs.last(), Some(Ev::Failed(ids, ResponseError::Body(e))) if ids == &[0] && e.is_incomplete()),
        "{evs:?}"
    );

    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/1");
    c.received_eof();
    assert_eq!(
        events(&mut c),
        [Ev::Failed(vec![0], ResponseError::ClosedBeforeResponse)]
    );
}

#[test]
fn upgrades_hand_over_the_leftover_bytes() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    c.send_request(
        "GET",
        "/ws",
        Version::Http11,
        &[
            ("Host", "x"),
            ("Connection", "upgrade"),
            ("Upgrade", "websocket"),
        ],
        BodySize::Empty,
        Instant::now(),
    )
    .unwrap();
    let evs = feed(
        &mut c,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello",
    );
    assert_eq!(evs, [Ev::Upgraded(0, b"\x81\x05hello".to_vec())]);

    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "CONNECT", "example.com:443");
    assert_eq!(
        feed(
            &mut c,
            b"HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03"
        ),
        [Ev::Upgraded(0, b"\x16\x03".to_vec())]
    );

    // A 101 nobody asked for: the server left HTTP, so nothing after it
    // may be read as this request's response.
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    assert_eq!(
        feed(
            &mut c,
            b"HTTP/1.1 101 X\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"
        ),
        [Ev::Failed(vec![0], ResponseError::UnexpectedSwitch)]
    );
    assert!(!c.can_send());

    // Nothing can be pipelined behind a CONNECT.
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "CONNECT", "example.com:443");
    assert_takes_no_more(&mut c);
}

#[test]
fn request_bodies_and_their_framing() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    let id = c
        .send_request(
            "POST",
            "/u",
            Version::Http11,
            &[("Host", "x")],
            BodySize::Unknown,
            Instant::now(),
        )
        .unwrap();
    assert_eq!(
        c.send_request(
            "GET",
            "/",
            Version::Http11,
            NO_FIELDS,
            BodySize::Empty,
            Instant::now()
        ),
        Err(LocalError::BodyInProgress)
    );
    c.send_data(id, Bytes::from_static(b"hello")).unwrap();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-sum", "5".parse().unwrap());
    c.finish_request(id, Some(&trailers), Instant::now())
        .unwrap();
    let id2 = c
        .send_request(
            "PUT",
            "/v",
            Version::Http11,
            &[("Host", "x")],
            BodySize::Exact(2),
            Instant::now(),
        )
        .unwrap();
    c.send_data(id2, Bytes::from_static(b"ok")).unwrap();
    c.finish_request(id2, None, Instant::now()).unwrap();
    c.send_request(
        "POST",
        "/empty",
        Version::Http11,
        &[("Host", "x")],
        BodySize::Empty,
        Instant::now(),
    )
    .unwrap();
    assert_eq!(
        written(&mut c),
        "POST /u HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 5\r\n\r\n\
         PUT /v HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\
         POST /empty HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn invalid_requests_are_refused_before_anything_is_written() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    let cases: &[(&str, &str)] = &[
        ("Transfer-Encoding", "chunked"),
        ("Keep-Alive", "5"),
        ("X", "a\r\nb"),
        ("X", "\u{2603}"),
    ];
    for (name, value) in cases {
        let r = c.send_request(
            "GET",
            "/",
            Version::Http11,
            &[(*name, *value)],
            BodySize::Empty,
            Instant::now(),
        );
        assert!(matches!(r, Err(LocalError::Encode(_))), "{name}: {r:?}");
    }
    let r = c.send_request(
        "POST",
        "/",
        Version::Http10,
        NO_FIELDS,
        BodySize::Unknown,
        Instant::now(),
    );
    assert_eq!(r, Err(LocalError::UnknownSizeOnHttp10));
    assert_eq!(r.unwrap_err().to_string(), "body size unknown for HTTP/1.0");
    assert!(matches!(
        c.send_request(
            "G T",
            "/",
            Version::Http11,
            NO_FIELDS,
            BodySize::Empty,
            Instant::now()
        ),
        Err(LocalError::Encode(_))
    ));
    assert_eq!(written(&mut c), "");
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn a_request_asking_to_close_is_the_last() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    c.send_request(
        "GET",
        "/",
        Version::Http11,
        &[("Host", "x"), ("Connection", "close")],
        BodySize::Empty,
        Instant::now(),
    )
    .unwrap();
    assert!(!c.can_send());
    assert_takes_no_more(&mut c);
}

#[test]
fn an_abandoned_body_stops_reuse() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    let id = c
        .send_request(
            "PUT",
            "/",
            Version::Http11,
            &[("Host", "x"), ("Expect", "100-continue")],
            BodySize::Exact(100),
            Instant::now(),
        )
        .unwrap();
    assert_eq!(
        feed(
            &mut c,
            b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n"
        ),
        [Ev::Response(0, 413), Ev::End(0, vec![])]
    );
    c.abandon_body(id);
    assert!(!c.can_send());
}

fn response() -> impl Strategy<Value = (Vec<u8>, Ev, Vec<u8>)> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..30).prop_map(|body| {
            let mut m =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
            m.extend_from_slice(&body);
            (m, Ev::Response(0, 200), body)
        }),
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..8), 0..4).prop_map(
            |chunks| {
                let mut m = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for c in &chunks {
                    m.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    m.extend_from_slice(c);
                    m.extend_from_slice(b"\r\n");
                }
                m.extend_from_slice(b"0\r\n\r\n");
                (m, Ev::Response(0, 201), chunks.concat())
            }
        ),
        Just((
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            Ev::Response(0, 204),
            vec![]
        )),
    ]
}

proptest! {
    /// Any pipeline of valid responses, split anywhere, gives the same
    /// responses with the same bodies, in request order.
    #[test]
    fn any_split_gives_the_same_responses(
        responses in proptest::collection::vec(response(), 1..6),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let input: Vec<u8> = responses.iter().flat_map(|(bytes, _, _)| bytes.clone()).collect();
        let mut c = Client::new(ClientConfig::default(), Instant::now());
        for _ in &responses {
            send(&mut c, "GET", "/");
        }
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        at.sort_unstable();
        let mut all = Vec::new();
        let mut start = 0;
        for cut in at.into_iter().chain([input.len()]) {
            all.extend(feed(&mut c, &input[start..cut]));
            start = cut;
        }
        // Per response: its status and its body, joined.
        let mut got: Vec<(u16, Vec<u8>)> = Vec::new();
        for ev in all {
            match ev {
                Ev::Response(_, status) => got.push((status, Vec::new())),
                Ev::Data(_, data) => got.last_mut().unwrap().1.extend(data),
                Ev::End(..) | Ev::Interim(..) => {}
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        let expected: Vec<(u16, Vec<u8>)> = responses
            .iter()
            .map(|(_, ev, body)| match ev { Ev::Response(_, s) => (*s, body.clone()), _ => unreachable!() })
            .collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(c.in_flight(), 0);
    }
}

#[test]
fn a_callers_content_length_must_match_the_body() {
    let cases: [(&[&str], BodySize, bool); 7] = [
        (&["5"], BodySize::Exact(5), true),
        (&["5", "5"], BodySize::Exact(5), true),
        (&["0"], BodySize::Empty, true),
        (&["5"], BodySize::Empty, false),
        (&["5"], BodySize::Exact(3), false),
        // A body of unknown size is framed by the caller's length.
        (&["5"], BodySize::Unknown, true),
        (&["+5"], BodySize::Exact(5), false),
    ];
    for (values, body, ok) in cases {
        let mut c = Client::new(ClientConfig::default(), Instant::now());
        let fields: Vec<(&str, &str)> = values.iter().map(|v| ("Content-Length", *v)).collect();
        let result = c.send_request("POST", "/", Version::Http11, &fields, body, Instant::now());
        if ok {
            result.unwrap();
            let out = written(&mut c);
            assert_eq!(
                out.matches("Content-Length").count(),
                1,
                "written once: {out:?}"
            );
            assert!(!out.contains("Transfer-Encoding"));
        } else {
            assert!(
                matches!(result, Err(LocalError::ContentLengthMismatch { .. })),
                "{values:?} {body:?}: {result:?}"
            );
            assert_eq!(written(&mut c), "", "nothing sent");
        }
    }
}

#[test]
fn bytes_after_the_last_response_poison_the_connection_at_once() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    let evs = feed(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
    assert_eq!(
        evs,
        [
            Ev::Response(0, 200),
            Ev::End(0, vec![]),
            Ev::Failed(vec![], ResponseError::UnsolicitedResponse)
        ]
    );
    assert!(
        !c.can_send(),
        "a new request must not get those bytes as its response"
    );
}

#[test]
fn te_trailers_is_the_one_te_a_caller_may_send() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    c.send_request(
        "GET",
        "/",
        Version::Http11,
        &[("Host", "x"), ("TE", "trailers")],
        BodySize::Empty,
        Instant::now(),
    )
    .unwrap();
    assert_eq!(
        written(&mut c),
        "GET / HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: TE\r\n\r\n",
        "RFC 9110 §10.1.4: TE is listed in Connection"
    );
    let refused = c.send_request(
        "GET",
        "/",
        Version::Http11,
        &[("TE", "gzip")],
        BodySize::Empty,
        Instant::now(),
    );
    assert!(matches!(refused, Err(LocalError::Encode(_))), "{refused:?}");
    assert_eq!(
        written(&mut c),
        "",
        "nothing of a refused request is written"
    );
}

#[test]
fn proxy_credentials_go_only_to_a_proxy() {
    // RFC 9110 §11.7.2: a request for a proxy (absolute-form, or CONNECT's
    // authority-form) may carry Proxy-Authorization; one for an origin
    // server may not.
    let credentials = [("Proxy-Authorization", "Basic dTpw")];
    for (method, target) in [("GET", "http://o.test/x"), ("CONNECT", "o.test:443")] {
        let mut c = Client::new(ClientConfig::default(), Instant::now());
        let now = Instant::now();
        c.send_request(
            method,
            target,
            Version::Http11,
            &credentials,
            BodySize::Empty,
            now,
        )
        .unwrap();
        let head = written(&mut c);
        assert!(
            head.contains("\r\nProxy-Authorization: Basic dTpw\r\n"),
            "{head}"
        );
    }
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    let refused = c.send_request(
        "GET",
        "/x",
        Version::Http11,
        &credentials,
        BodySize::Empty,
        Instant::now(),
    );
    assert!(matches!(refused, Err(LocalError::Encode(_))), "{refused:?}");
}

/// A response head's status, and its body if it came whole with it.
type Head = (u16, Option<Vec<u8>>);

/// What `poll_event` gave, raw: the heads, and how many `Data` / `End`
/// events came.
fn raw_events(client: &mut Client) -> (Vec<Head>, usize, usize) {
    let (mut heads, mut data, mut ends) = (Vec::new(), 0, 0);
    while let Some(event) = client.poll_event(Instant::now()) {
        match event {
            ClientEvent::Response(r) => {
                heads.push((r.head.status(), r.complete_body.map(|b| b.to_vec())));
            }
            ClientEvent::Data { .. } => data += 1,
            ClientEvent::End { .. } => ends += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (heads, data, ends)
}

#[test]
fn a_body_received_with_its_head_comes_whole_with_it() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    for _ in 0..3 {
        send(&mut c, "GET", "/");
    }
    c.read_buf().extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello\
          HTTP/1.1 204 No Content\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nwor",
    );
    // Whole and empty bodies come with their heads; the third, cut short,
    // comes as data.
    let (heads, data, ends) = raw_events(&mut c);
    assert_eq!(
        heads,
        [
            (200, Some(b"hello".to_vec())),
            (204, Some(Vec::new())),
            (200, None)
        ]
    );
    assert_eq!((data, ends), (1, 0));
    assert_eq!(c.in_flight(), 1);
    c.read_buf().extend_from_slice(b"ld");
    assert_eq!(raw_events(&mut c), (vec![], 1, 1));
    assert_eq!(c.in_flight(), 0);
    // Chunked bodies always come as events, even when all here.
    send(&mut c, "GET", "/");
    c.read_buf().extend_from_slice(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    );
    assert_eq!(raw_events(&mut c), (vec![(200, None)], 1, 1));
    assert!(!c.is_done());
}

#[test]
fn a_complete_body_that_closes_fails_what_was_pipelined_behind_it() {
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    send(&mut c, "GET", "/");
    assert_eq!(
        feed(
            &mut c,
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        ),
        [
            Ev::Response(0, 200),
            Ev::Data(0, b"ok".to_vec()),
            Ev::End(0, vec![]),
            Ev::Failed(vec![1], ResponseError::ClosedBeforeResponse),
        ]
    );
    // And bytes nobody asked for, after a complete response, are refused.
    let mut c = Client::new(ClientConfig::default(), Instant::now());
    send(&mut c, "GET", "/");
    assert_eq!(
        feed(
            &mut c,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n"
        ),
        [
            Ev::Response(0, 200),
            Ev::Data(0, b"ok".to_vec()),
            Ev::End(0, vec![]),
            Ev::Failed(vec![], ResponseError::UnsolicitedResponse),
        ]
    );
}

/// A body the caller reads slowly is held back: nothing more is read for
/// it and its timer stops (the wait is the caller's); on resuming, the
/// server gets the whole timeout again. A dropped body is never held back.
#[test]
fn a_body_the_caller_reads_slowly_is_held_back_without_timing_out() {
    let config = ClientConfig {
        body_read_timeout: Some(Duration::from_secs(30)),
        response_timeout: None,
        ..ClientConfig::default()
    };
    let mut now = Instant::now();
    let mut c = Client::new(config, now);
    let id = send(&mut c, "GET", "/slow");
    let evs = feed(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert_eq!(evs, [Ev::Response(0, 200), Ev::Data(0, b"abc".to_vec())]);
    assert!(c.wants_read());
    assert!(c.poll_timeout().is_some());
    c.set_body_paused(true, now);
    assert!(!c.wants_read(), "held back");
    assert_eq!(c.poll_timeout(), None, "the wait is the caller's");
    now += Duration::from_secs(100);
    assert!(c.set_body_paused(false, now), "resumed");
    assert!(c.wants_read());
    assert_eq!(
        c.poll_timeout(),
        Some(now + Duration::from_secs(30)),
        "the server gets the whole timeout again"
    );
    c.set_body_paused(true, now);
    c.body_dropped(id);
    assert!(c.wants_read(), "a dropped body is read past");
    assert!(!c.set_body_paused(true, now));
    assert!(c.wants_read(), "and never held back again");
    assert_eq!(feed(&mut c, b"defghij"), [Ev::End(0, vec![])]);
}

/// A response body the caller dropped is read past to keep the connection
/// in step — within bounds: past `max_drain_bytes` the connection closes
/// instead, and what was pipelined behind fails.
#[test]
fn a_dropped_body_is_drained_within_bounds() {
    let config = ClientConfig {
        max_drain_bytes: 10,
        ..ClientConfig::default()
    };
    let mut c = Client::new(config, Instant::now());
    let small = send(&mut c, "GET", "/small");
    let big = send(&mut c, "GET", "/big");
    send(&mut c, "GET", "/after");
    let evs = feed(&mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabc");
    assert_eq!(evs, [Ev::Response(0, 200), Ev::Data(0, b"abc".to_vec())]);
    c.body_dropped(small);
    // Drained quietly: no data events, then the end.
    assert_eq!(feed(&mut c, b"defgh"), [Ev::End(0, vec![])]);
    let evs = feed(
        &mut c,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
    );
    assert_eq!(
        evs,
        [Ev::Response(1, 200), Ev::Data(1, b"0123456789".to_vec())]
    );
    c.body_dropped(big);
    let evs = feed(&mut c, b"0123456789x");
    assert_eq!(
        evs,
        [Ev::Failed(vec![1, 2], ResponseError::ClosedBeforeResponse)]
    );
    assert!(!c.can_send());
}
