//! Request smuggling and malformed requests over a real socket: every
//! vector is answered by the library with its status (400, 414, 431, 501,
//! 505) and `Connection: close`, then EOF — and the request hidden behind
//! it never reaches the application (its calls are counted). A body that
//! turns out malformed after its head was accepted fails the reader and
//! closes the connection the same way. Variants that are valid (OWS, equal
//! duplicate Content-Length) frame their body exactly.

mod support;

use std::convert::Infallible;

use gruvi_body::{Incoming, Outgoing};
use gruvi_server::HttpServer;
use support::{Calls, Client, counted_echo, echoed_target, get, tcp};
use tokio::io::AsyncWriteExt;

/// A request hiding behind a malformed one: if it is ever processed, the
/// stream was desynchronised.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";

/// Sends `request` followed by [`SMUGGLED`] and checks the library's answer:
/// `status`, `Connection: close`, EOF, and no call of the application.
async fn assert_rejected(request: &[u8], status: u16) {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let mut bytes = request.to_vec();
    bytes.extend_from_slice(SMUGGLED.as_bytes());
    client.send(&bytes).await;

    let response = client.response().await;
    assert_eq!(response.status, status, "{response:?}");
    assert!(response.closes(), "no Connection: close: {response:?}");
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(response.text().starts_with(&status.to_string()));
    client.expect_eof().await;
    assert_eq!(calls.get(), 0, "the application saw a rejected request");
    drop(client);

    server.close().await;
    assert_eq!(server.stats().requests, 0);
}

macro_rules! rejected {
    ($($name:ident: $status:expr, $request:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            assert_rejected($request, $status).await;
        }
    )*};
}

rejected! {
    content_length_with_transfer_encoding: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    transfer_encoding_before_content_length: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
    chunked_twice_in_one_line: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n";
    chunked_on_two_lines: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    last_coding_not_chunked: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n";
    chunked_then_gzip: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n";
    unknown_coding_under_chunked: 501,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n";
    xchunked: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n";
    chunked_with_suffix: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked-x\r\n\r\n0\r\n\r\n";
    quoted_chunked: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n";
    chunked_with_parameter: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked;a=b\r\n\r\n0\r\n\r\n";
    vertical_tab_before_chunked: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n";
    empty_transfer_encoding: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: \r\nContent-Length: 0\r\n\r\n";
    transfer_encoding_in_http10: 400,
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n";
    transfer_encoding_space_before_colon: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n";
    differing_content_lengths: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    differing_content_lengths_in_a_list: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5, 6\r\n\r\nhello!";
    content_length_plus_sign: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: +5\r\n\r\nhello";
    content_length_minus_sign: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: -5\r\n\r\nhello";
    content_length_space_inside: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 5 5\r\n\r\nhello";
    content_length_hex: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 0x5\r\n\r\nhello";
    content_length_empty: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: \r\n\r\nhello";
    content_length_overflow: 400,
        b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 18446744073709551621\r\n\r\nhello";
    bare_cr_in_a_field_value: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\rb\r\n\r\n";
    bare_cr_ending_a_line: 400,
        b"GET / HTTP/1.1\r\nHost: test\rX-A: b\r\n\r\n";
    bare_lf_ending_a_line: 400,
        b"GET / HTTP/1.1\r\nHost: test\nX-A: b\r\n\r\n";
    nul_in_a_field_value: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\0b\r\n\r\n";
    nul_in_a_field_name: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-\0A: b\r\n\r\n";
    whitespace_before_colon: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A : b\r\n\r\n";
    obs_fold_in_a_request: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nX-A: a\r\n b\r\n\r\n";
    fold_before_any_field: 400,
        b"GET / HTTP/1.1\r\n X-A: a\r\nHost: test\r\n\r\n";
    two_spaces_in_the_request_line: 400,
        b"GET  / HTTP/1.1\r\nHost: test\r\n\r\n";
    two_spaces_before_the_version: 400,
        b"GET /  HTTP/1.1\r\nHost: test\r\n\r\n";
    http11_without_host: 400,
        b"GET / HTTP/1.1\r\nX-A: b\r\n\r\n";
    two_host_fields: 400,
        b"GET / HTTP/1.1\r\nHost: test\r\nHost: other\r\n\r\n";
    http2_version: 505,
        b"GET / HTTP/2.0\r\nHost: test\r\n\r\n";
    lower_case_version: 400,
        b"GET / http/1.1\r\nHost: test\r\n\r\n";
}

#[tokio::test]
async fn request_line_too_long_is_414() {
    // The default limit is 8 KiB.
    let request = format!("GET /{} HTTP/1.1\r\nHost: test\r\n\r\n", "a".repeat(9000));
    assert_rejected(request.as_bytes(), 414).await;
}

#[tokio::test]
async fn too_many_fields_is_431() {
    // The default limit is 100 field lines.
    let mut request = String::from("GET / HTTP/1.1\r\nHost: test\r\n");
    for i in 0..101 {
        request.push_str(&format!("X-F{i}: {i}\r\n"));
    }
    request.push_str("\r\n");
    assert_rejected(request.as_bytes(), 431).await;
}

#[tokio::test]
async fn head_too_large_is_431() {
    // The default limit is 64 KiB; 70 fields of 1 KiB stay under the
    // field-count limit.
    let mut request = String::from("GET / HTTP/1.1\r\nHost: test\r\n");
    for i in 0..70 {
        request.push_str(&format!("X-F{i}: {}\r\n", "v".repeat(1024)));
    }
    request.push_str("\r\n");
    assert_rejected(request.as_bytes(), 431).await;
}

/// A chunked body that turns out malformed once its head was accepted:
/// no byte of its response was written, so the library answers `400`
/// itself (whatever the application does with it) and closes, and the
/// request behind it is never processed.
async fn assert_body_rejected(chunked_body: &[u8]) {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let mut bytes =
        b"POST /outer HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    bytes.extend_from_slice(chunked_body);
    bytes.extend_from_slice(SMUGGLED.as_bytes());
    client.send(&bytes).await;

    let response = client.response().await;
    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(response.text(), "400 Bad Request\n");
    assert!(response.closes(), "no Connection: close: {response:?}");
    client.expect_eof().await;
    assert_eq!(calls.get(), 1, "only the outer request may be processed");
    drop(client);

    server.close().await;
}

macro_rules! body_rejected {
    ($($name:ident: $body:expr;)*) => {$(
        #[tokio::test]
        async fn $name() {
            assert_body_rejected($body).await;
        }
    )*};
}

body_rejected! {
    chunk_size_overflowing_64_bits: b"10000000000000005\r\nhello\r\n0\r\n\r\n";
    chunk_size_with_0x_prefix: b"0x5\r\nhello\r\n0\r\n\r\n";
    negative_chunk_size: b"-5\r\nhello\r\n0\r\n\r\n";
    chunk_size_with_plus_sign: b"+5\r\nhello\r\n0\r\n\r\n";
    empty_chunk_size: b"\r\nhello\r\n0\r\n\r\n";
    chunk_longer_than_its_size: b"5\r\nhello!\r\n0\r\n\r\n";
    chunk_size_ended_by_bare_lf: b"5\nhello\r\n0\r\n\r\n";
    folded_trailer: b"5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n";
}

/// The same body error with an application that answers without reading
/// the body: the error is met before its response starts, so the library
/// answers `400` — still nothing smuggled.
#[tokio::test]
async fn malformed_unread_body_closes_without_processing_what_follows() {
    let calls = Calls::default();
    let counter = calls.clone();
    let service = tower::service_fn(move |_request: http::Request<Incoming>| {
        counter.add();
        async { Ok::<_, Infallible>(http::Response::new(Outgoing::full("ignored"))) }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let mut bytes = b"POST /outer HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n".to_vec();
    bytes.extend_from_slice(SMUGGLED.as_bytes());
    client.send(&bytes).await;

    let response = client.response().await;
    assert_eq!(response.status, 400, "{response:?}");
    client.expect_eof().await;
    assert_eq!(calls.get(), 1);
    drop(client);
    server.close().await;
}

/// Whoever holds the body when it turns out malformed — here a task the
/// application spawned — gets the protocol error from its read, while the
/// client gets the library's `400`.
#[tokio::test]
async fn the_reader_of_a_malformed_body_gets_the_protocol_error() {
    let (seen_tx, seen) = tokio::sync::mpsc::unbounded_channel();
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let seen = seen_tx.clone();
        async move {
            let mut body = request.into_body();
            tokio::spawn(async move {
                let error = body.read_to_end().await.err().map(|e| e.to_string());
                let _ = seen.send(error);
            });
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(http::Response::new(Outgoing::empty()))
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send("POST /a HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    client.send("zz\r\n").await;
    assert_eq!(client.response().await.status, 400);
    client.expect_eof().await;
    let mut seen = seen;
    let error = tokio::time::timeout(std::time::Duration::from_secs(10), seen.recv())
        .await
        .unwrap()
        .flatten();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("chunk size")),
        "{error:?}"
    );
    drop(client);
    server.close().await;
}

/// Valid variants close to the vectors above are accepted, and frame their
/// body exactly: the next pipelined request is answered, not swallowed or
/// split.
#[tokio::test]
async fn valid_variants_frame_their_body_exactly() {
    let cases: [&[u8]; 6] = [
        // Content-Length duplicated with one value (RFC 9112 §6.3 ¶5).
        b"POST /a HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        b"POST /b HTTP/1.1\r\nHost: test\r\nContent-Length: 5, 5\r\n\r\nhello",
        // OWS around the value is not part of it.
        b"POST /c HTTP/1.1\r\nHost: test\r\nTransfer-Encoding:  chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // Coding names are case-insensitive.
        b"POST /d HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // Chunk extensions (with BWS) and leading zeros in a size.
        b"POST /e HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n005 ;x=\"y\"\r\nhello\r\n0\r\n\r\n",
        // Empty lines before a request line are ignored.
        b"\r\nPOST /f HTTP/1.1\r\nHost: test\r\nContent-Length: 005\r\n\r\nhello",
    ];
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let mut bytes = Vec::new();
    for case in cases {
        bytes.extend_from_slice(case);
    }
    bytes.extend_from_slice(get("/last").as_bytes());
    client.send(&bytes).await;

    for target in ["/a", "/b", "/c", "/d", "/e", "/f"] {
        let response = client.response().await;
        assert_eq!(response.status, 200, "{target}: {response:?}");
        let json = response.json();
        assert_eq!(json["target"], target);
        assert_eq!(json["body"], "hello", "{target}");
    }
    let last = client.response().await;
    assert_eq!(echoed_target(&last), "/last");
    assert_eq!(calls.get(), 7);
    drop(client);
    server.close().await;
}

/// HTTP/1.x with a minor version above 1 is served as HTTP/1.1.
#[tokio::test]
async fn higher_minor_version_is_answered_as_http11() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let response = client
        .exchange("GET /v HTTP/1.2\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(response.status_line(), "HTTP/1.1 200 OK");
    assert_eq!(response.json()["version"], "HTTP/1.1");
    drop(client);
    server.close().await;
}

/// A target the wire accepts but `http::Uri` refuses (a scheme longer
/// than its 64 bytes) never reaches the application: the library answers
/// 400 and closes.
#[tokio::test]
async fn target_the_http_crate_refuses_is_400() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let request = format!(
        "POST {}://h/x HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
        "s".repeat(70)
    );
    client.send(request).await;
    let response = client.response().await;
    assert_eq!(response.status, 400);
    assert!(response.closes());
    client.expect_eof().await;
    assert_eq!(calls.get(), 0);
    drop(client);
    server.close().await;
}

/// Regression: a request behind one the `http` types cannot carry was once
/// parsed and handed to the application in the same turn, and its response
/// thrown away when the connection closed — a non-idempotent request
/// executed without its client ever getting an answer.
#[tokio::test]
async fn request_behind_a_refused_target_never_reaches_the_application() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let request = format!(
        "GET {}://h/x HTTP/1.1\r\nHost: test\r\n\r\nPOST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi",
        "s".repeat(70)
    );
    client.send(request).await;
    let response = client.response().await;
    assert_eq!(response.status, 400);
    assert!(response.closes());
    client.expect_eof().await;
    drop(client);
    server.close().await;
    assert_eq!(calls.get(), 0, "POST /x was processed but never answered");
}

/// One rule for the characters of a request-target, in the path and the
/// query alike, whoever refuses them (README, Security): `"`, `<`, `>` and
/// a backtick are 400 anywhere; `\ ^ { | } [ ]` reach the application.
#[tokio::test]
async fn target_characters_follow_one_policy_over_a_socket() {
    for c in ['"', '<', '>', '`'] {
        for target in [format!("/a{c}b"), format!("/a?x{c}y")] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n");
            assert_rejected(request.as_bytes(), 400).await;
        }
    }
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    for c in ['\\', '^', '{', '}', '|', '[', ']'] {
        for target in [
            format!("/a{c}b"),
            format!("/a?x{c}y"),
            format!("http://test/a{c}b?x{c}y"),
        ] {
            let response = client.exchange(get(&target)).await;
            assert_eq!(response.status, 200, "{target}: {response:?}");
            assert_eq!(echoed_target(&response), target);
        }
    }
    assert_eq!(calls.get(), 21);
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn method_too_long_is_501() {
    // The default request-line limit is 8 KiB; RFC 9112 §3: 501, not 414.
    let request = format!("{} / HTTP/1.1\r\nHost: test\r\n\r\n", "A".repeat(20_000));
    assert_rejected(request.as_bytes(), 501).await;
}

/// BUG (http-conn/src/proto/server.rs, `write_rejection_if_due`): the
/// library's own answers to malformed requests (400, 408, 414, 431, 501,
/// 505) carry no `Date` field, which RFC 9110 §6.6.1 requires of an origin
/// server with a clock in every 4xx (and no `Server` field either, unlike
/// every other response, including the driver's own 400 and 500).
#[tokio::test]
async fn library_rejections_carry_date() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let response = client.exchange("GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(response.status, 400);
    assert!(response.header("date").is_some(), "{response:?}");
    assert!(response.header("server").is_some(), "{response:?}");
    drop(client);
    server.close().await;
}

/// Regression: a head with no end that filled the read buffer to exactly
/// the 64 KiB limit was answered by nobody (the connection stopped reading
/// at the limit, the parser waited for one byte more): no 431, and with the
/// header-read timeout off, never anything. Whether it happened depended on
/// how the bytes were split; now every split gets 431 at once.
#[tokio::test]
async fn head_filling_the_limit_exactly_is_431_however_it_is_split() {
    const LIMIT: usize = 64 * 1024;
    let mut head = b"GET / HTTP/1.1\r\nHost: test\r\nX-Long: ".to_vec();
    head.resize(LIMIT, b'x');
    for first in [29, 1_000, 30_000, LIMIT - 1, LIMIT] {
        let (service, calls) = counted_echo();
        let mut server = HttpServer::new(service).header_read_timeout(None);
        let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
        let mut client = Client::connect(addr).await;
        client.send(&head[..first]).await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        client.send(&head[first..]).await;
        let response = client.response().await;
        assert_eq!(response.status, 431, "first write {first}: {response:?}");
        assert!(response.closes());
        assert_eq!(calls.get(), 0);
        drop(client);
        server.close().await;
    }
}

/// The maximum request body (RFC 9110 §15.5.14): a declared length over it
/// is answered `413` before any body byte is read — and without `100
/// Continue` — and a chunked body that grows past it is answered `413`
/// (its reader gets the error); nothing behind either is processed.
#[tokio::test]
async fn bodies_over_the_maximum_are_413() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service).max_request_body(Some(1000));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());

    let mut client = Client::connect(addr).await;
    client
        .send(format!(
            "PUT /big HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n{SMUGGLED}"
        ))
        .await;
    let response = client.response_to("PUT").await;
    assert_eq!(response.status, 413, "no 100 first: {response:?}");
    assert!(response.closes());
    client.expect_eof().await;

    let mut client = Client::connect(addr).await;
    let mut chunked =
        b"POST /grows HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("190\r\n{}\r\n", "x".repeat(400)).as_bytes());
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    chunked.extend_from_slice(SMUGGLED.as_bytes());
    client.send(&chunked).await;
    let response = client.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    client.expect_eof().await;

    // At the limit: served.
    let mut client = Client::connect(addr).await;
    let body = "y".repeat(1000);
    let response = client
        .exchange(format!(
            "POST /fits HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n{body}"
        ))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        calls.get(),
        2,
        "only /grows (cut) and /fits reached the application"
    );
    drop(client);
    server.close().await;
}

/// The default maximum is 8 MiB: an endless chunked body is cut there
/// rather than held (it once grew to gigabytes in the echo example).
#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_default_maximum() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send("POST /endless HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    let chunk = format!("10000\r\n{}\r\n", "z".repeat(0x10000));
    let mut sent = 0usize;
    // 9 MiB at most; the server answers before that.
    while sent < 9 * 1024 * 1024 {
        if client.stream.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
        sent += 0x10000;
    }
    let response = client.response().await;
    assert_eq!(response.status, 413, "{response:?}");
    drop(client);
    server.close().await;
}

/// Regression: after a first request was answered, a pipelined POST whose
/// chunked body turned out malformed (`0x2`) was closed without an answer,
/// where the same request first on its connection got `400`. Now both get
/// `400`, and nothing behind it is processed.
#[tokio::test]
async fn a_malformed_body_behind_an_answered_request_gets_400() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    assert_eq!(client.exchange(get("/first")).await.status, 200);
    let mut bytes =
        b"POST /second HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nhi\r\n0\r\n\r\n"
            .to_vec();
    bytes.extend_from_slice(SMUGGLED.as_bytes());
    client.send(&bytes).await;
    let response = client.response().await;
    assert_eq!(response.status, 400, "{response:?}");
    assert!(response.closes());
    client.expect_eof().await;
    assert_eq!(calls.get(), 2, "nothing behind it reached the application");
    drop(client);
    server.close().await;
}
