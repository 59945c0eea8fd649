//! The client connection driver over `tokio::io::duplex`, against a peer
//! that speaks raw bytes: pipelining, bodies both ways, `100 Continue`,
//! upgrades, backpressure, and what every caller gets when the connection
//! fails. Time is paused: timeouts pass instantly and deterministically.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use gruvi_body::{Incoming, Outgoing};
use gruvi_conn::ReceivedHead;
use gruvi_conn::client::{ClientOptions, RequestError, SendRequest, handshake};
use gruvi_conn::proto::ResponseError;
use gruvi_conn::upgrade::OnUpgrade;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// A client connection on one end of a pipe; the other end is the test's.
fn connect() -> (
    SendRequest,
    JoinHandle<Result<(), RequestError>>,
    DuplexStream,
) {
    connect_with(ClientOptions::default(), 64 * 1024)
}

fn connect_with(
    options: ClientOptions,
    pipe: usize,
) -> (
    SendRequest,
    JoinHandle<Result<(), RequestError>>,
    DuplexStream,
) {
    let (ours, theirs) = tokio::io::duplex(pipe);
    let (send, connection) = handshake(ours, options);
    (send, tokio::spawn(connection), theirs)
}

fn get(uri: &str) -> http::Request<Outgoing> {
    http::Request::get(uri).body(Outgoing::empty()).unwrap()
}

/// Reads from the peer's end until `needle` has arrived; returns all read.
async fn read_until(peer: &mut DuplexStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = timeout(Duration::from_secs(5), peer.read(&mut buf))
            .await
            .expect("the client wrote in time")
            .unwrap();
        assert!(
            n > 0,
            "EOF before {needle:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(seen).unwrap()
}

async fn body_text(response: http::Response<Incoming>) -> String {
    let bytes = response.into_body().read_to_end().await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_request_and_its_response() {
    let (send, conn, mut peer) = connect();
    let pending = send.send(get("http://example.com:8080/a?b=c"));
    let head = read_until(&mut peer, "\r\n\r\n").await;
    assert_eq!(
        head, "GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
        "the target from the URI, Host from its authority"
    );
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Case: Kept\r\n\r\nhello")
        .await
        .unwrap();
    let response = pending.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-case"], "Kept");
    let received = response.extensions().get::<ReceivedHead>().unwrap();
    assert_eq!(received.reason().unwrap(), "OK");
    assert_eq!(
        received.fields(),
        [
            (Bytes::from("Content-Length"), Bytes::from("5")),
            (Bytes::from("X-Case"), Bytes::from("Kept")),
        ]
    );
    assert_eq!(body_text(response).await, "hello");

    drop(send);
    timeout(Duration::from_secs(5), conn)
        .await
        .expect("the connection ends once every handle is gone")
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}

#[tokio::test(start_paused = true)]
async fn requests_are_pipelined_and_answered_in_order() {
    let (send, conn, mut peer) = connect();
    let first = send.send(get("/1"));
    let second = send.send(
        http::Request::head("/2")
            .header("host", "x")
            .body(Outgoing::empty())
            .unwrap(),
    );
    let third = send.send(
        http::Request::post("/3")
            .header("host", "x")
            .body(Outgoing::full("data"))
            .unwrap(),
    );
    let written = read_until(&mut peer, "data").await;
    assert_eq!(
        written,
        "GET /1 HTTP/1.1\r\n\r\n\
         HEAD /2 HTTP/1.1\r\nhost: x\r\n\r\n\
         POST /3 HTTP/1.1\r\nhost: x\r\nContent-Length: 4\r\n\r\ndata",
        "all three went out before any response"
    );
    // HEAD's Content-Length describes a body that is not sent; 304 has none.
    peer.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none\
          HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n\
          HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nthree\r\n0\r\n\r\n",
    )
    .await
    .unwrap();
    let first = first.await.unwrap();
    assert_eq!(body_text(first).await, "one");
    let second = second.await.unwrap();
    assert_eq!(second.headers()["content-length"], "1000");
    assert_eq!(body_text(second).await, "");
    let third = third.await.unwrap();
    assert_eq!(third.status(), 201);
    assert_eq!(body_text(third).await, "three");
    drop(send);
    conn.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_body_written_by_hand_goes_chunked_with_trailers() {
    let (send, _conn, mut peer) = connect();
    let (mut writer, body) = Outgoing::channel(1024);
    let pending = send.send(
        http::Request::put("/up")
            .header("host", "x")
            .body(body)
            .unwrap(),
    );
    writer.write("abc").await.unwrap();
    writer.write(Bytes::from_static(b"defgh")).await.unwrap();
    writer.end(&[("Checksum", "42")]).unwrap();
    // Trailers travel as an `http::HeaderMap`: names in lower case.
    let written = read_until(&mut peer, "checksum: 42\r\n\r\n").await;
    assert_eq!(
        written,
        "PUT /up HTTP/1.1\r\nhost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         3\r\nabc\r\n5\r\ndefgh\r\n0\r\nchecksum: 42\r\n\r\n"
    );
    peer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 204);
}

#[tokio::test(start_paused = true)]
async fn a_body_of_unknown_size_on_http10_is_refused_before_anything_is_sent() {
    let (send, _conn, mut peer) = connect();
    let (_writer, body) = Outgoing::channel(1024);
    let mut request = http::Request::post("/").body(body).unwrap();
    *request.version_mut() = http::Version::HTTP_10;
    let error = send.send(request).await.unwrap_err();
    assert!(error.is_misuse(), "{error}");
    assert_eq!(error.to_string(), "body size unknown for HTTP/1.0");
    // The connection is untouched and still usable.
    let pending = send.send(get("/ok"));
    assert_eq!(
        read_until(&mut peer, "\r\n\r\n").await,
        "GET /ok HTTP/1.1\r\n\r\n"
    );
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_response_that_closes_fails_the_requests_pipelined_behind_it() {
    let (send, conn, mut peer) = connect();
    let first = send.send(get("/1"));
    let second = send.send(get("/2"));
    read_until(&mut peer, "GET /2").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        .await
        .unwrap();
    assert_eq!(body_text(first.await.unwrap()).await, "ok");
    let error = second.await.unwrap_err();
    assert!(
        matches!(
            error,
            RequestError::Response(ResponseError::ClosedBeforeResponse)
        ),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "connection closed before response");
    timeout(Duration::from_secs(5), conn)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(send.is_closed());
    assert!(matches!(
        send.send(get("/3")).await,
        Err(RequestError::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_malformed_response_fails_its_request_and_every_later_one() {
    let (send, conn, mut peer) = connect();
    let first = send.send(get("/1"));
    let second = send.send(get("/2"));
    read_until(&mut peer, "GET /2").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
        .await
        .unwrap();
    let error = first.await.unwrap_err();
    assert!(error.is_protocol(), "{error:?}");
    let error = second.await.unwrap_err();
    assert!(
        matches!(
            error,
            RequestError::Response(ResponseError::ClosedBeforeResponse)
        ),
        "later requests are never answered, never given a response: {error:?}"
    );
    assert!(
        timeout(Duration::from_secs(5), conn)
            .await
            .unwrap()
            .unwrap()
            .is_err()
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_closes_mid_body_cuts_the_body_with_an_error() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(get("/"));
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let response = pending.await.unwrap();
    drop(peer);
    let error = response.into_body().read_to_end().await.unwrap_err();
    assert!(error.is_incomplete(), "{error}");
}

#[tokio::test(start_paused = true)]
async fn expect_continue_holds_the_body_until_100() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(
        http::Request::post("/")
            .header("expect", "100-continue")
            .body(Outgoing::full("payload"))
            .unwrap(),
    );
    let head = read_until(&mut peer, "\r\n\r\n").await;
    assert!(head.ends_with("Content-Length: 7\r\n\r\n"), "{head:?}");
    let mut buf = [0u8; 64];
    assert!(
        timeout(Duration::from_millis(500), peer.read(&mut buf))
            .await
            .is_err(),
        "no body before 100 Continue"
    );
    peer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_until(&mut peer, "payload").await, "payload");
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn expect_continue_sends_the_body_after_a_timeout_without_100() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(
        http::Request::post("/")
            .header("expect", "100-continue")
            .body(Outgoing::full("payload"))
            .unwrap(),
    );
    read_until(&mut peer, "\r\n\r\n").await;
    // Paused time: the one-second wait passes as soon as all are idle.
    assert_eq!(read_until(&mut peer, "payload").await, "payload");
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_final_response_instead_of_100_means_the_body_is_not_sent() {
    let (send, conn, mut peer) = connect();
    let pending = send.send(
        http::Request::post("/")
            .header("expect", "100-continue")
            .body(Outgoing::full("payload"))
            .unwrap(),
    );
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 413);
    // The server may still wait for the body: the connection is not reused.
    timeout(Duration::from_secs(5), conn)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"", "the body was never sent");
}

#[tokio::test(start_paused = true)]
async fn a_switching_response_hands_over_the_connection_with_the_bytes_after_it() {
    let (send, conn, mut peer) = connect();
    let pending = send.send(
        http::Request::get("/chat")
            .header("host", "x")
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(Outgoing::empty())
            .unwrap(),
    );
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nfirst",
    )
    .await
    .unwrap();
    let mut response = pending.await.unwrap();
    assert_eq!(response.status(), 101);
    let on_upgrade = OnUpgrade::take(response.extensions_mut()).expect("an upgrade was asked");
    let mut upgraded = timeout(Duration::from_secs(5), on_upgrade)
        .await
        .unwrap()
        .unwrap();
    conn.await.unwrap().unwrap();
    let mut buf = [0u8; 5];
    upgraded.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"first", "bytes read with the head are handed over");
    upgraded.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    peer.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    peer.write_all(b"pong").await.unwrap();
    upgraded.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

#[tokio::test(start_paused = true)]
async fn a_slow_body_reader_stops_the_socket_reads() {
    let (send, _conn, mut peer) = connect_with(ClientOptions::default(), 16 * 1024);
    let pending = send.send(get("/big"));
    read_until(&mut peer, "\r\n\r\n").await;
    const SIZE: usize = 4 * 1024 * 1024;
    let server = tokio::spawn(async move {
        peer.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        peer.write_all(&vec![b'x'; SIZE]).await.unwrap();
        peer
    });
    let response = pending.await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        !server.is_finished(),
        "with nobody reading, the server's writes are held back"
    );
    let mut body = response.into_body();
    let mut total = 0;
    while let Some(chunk) = body.next().await {
        total += chunk.unwrap().len();
    }
    assert_eq!(total, SIZE);
    timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_body_is_read_past_and_the_next_response_is_intact() {
    let (send, _conn, mut peer) = connect();
    let first = send.send(get("/1"));
    let second = send.send(get("/2"));
    read_until(&mut peer, "GET /2").await;
    let big = "y".repeat(200 * 1024);
    let server = tokio::spawn(async move {
        peer.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}\
                 HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond",
                big.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        peer
    });
    drop(first.await.unwrap());
    assert_eq!(body_text(second.await.unwrap()).await, "second");
    server.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_request_dropped_before_it_is_sent_is_not_sent() {
    let (send, _conn, mut peer) = connect();
    drop(send.send(get("/gone")));
    let pending = send.send(get("/kept"));
    assert_eq!(
        read_until(&mut peer, "\r\n\r\n").await,
        "GET /kept HTTP/1.1\r\n\r\n"
    );
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_write_times_out() {
    let options = ClientOptions {
        write_timeout: Some(Duration::from_secs(5)),
        ..ClientOptions::default()
    };
    let (send, conn, _peer) = connect_with(options, 1024);
    let pending = send.send(
        http::Request::post("/")
            .body(Outgoing::full(vec![0u8; 1 << 20]))
            .unwrap(),
    );
    let error = timeout(Duration::from_secs(60), pending)
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(conn.await.unwrap().unwrap_err().is_timeout());
}

#[tokio::test(start_paused = true)]
async fn an_unsolicited_response_closes_the_connection() {
    let (send, conn, mut peer) = connect();
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let error = timeout(Duration::from_secs(5), conn)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            error,
            RequestError::Response(ResponseError::UnsolicitedResponse)
        ),
        "{error:?}"
    );
    assert!(send.send(get("/")).await.is_err());
}

#[tokio::test(start_paused = true)]
async fn fields_as_given_keep_their_order_and_case() {
    use gruvi_conn::client::FieldsAsGiven;
    let (send, _conn, mut peer) = connect();
    let mut request = get("http://h:1/p");
    request
        .headers_mut()
        .insert("x-ignored", "1".parse().unwrap());
    request.extensions_mut().insert(FieldsAsGiven(vec![
        (Bytes::from("X-B"), Bytes::from("2")),
        (Bytes::from("x-a"), Bytes::from("1")),
        (Bytes::from("X-B"), Bytes::from("3")),
    ]));
    let pending = send.send(request);
    assert_eq!(
        read_until(&mut peer, "\r\n\r\n").await,
        "GET /p HTTP/1.1\r\nHost: h:1\r\nX-B: 2\r\nx-a: 1\r\nX-B: 3\r\n\r\n"
    );
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(pending.await.unwrap().status(), 200);

    let mut request = get("/");
    request.extensions_mut().insert(FieldsAsGiven(vec![(
        Bytes::from("Transfer-Encoding"),
        Bytes::from("chunked"),
    )]));
    let error = send.send(request).await.unwrap_err();
    assert!(
        error.is_misuse(),
        "hop-by-hop fields are still refused: {error}"
    );
}

#[tokio::test(start_paused = true)]
async fn host_leaves_out_userinfo_and_a_declared_length_frames_a_stream() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(get("http://user:secret@h:8/p"));
    assert_eq!(
        read_until(&mut peer, "\r\n\r\n").await,
        "GET /p HTTP/1.1\r\nHost: h:8\r\n\r\n",
        "RFC 9112 §3.2: no credentials in Host"
    );
    peer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    pending.await.unwrap();

    // A body of unknown size with the caller's Content-Length goes out as
    // exactly that many bytes (as a proxy forwards one).
    let (mut writer, body) = Outgoing::channel(1024);
    let mut request = http::Request::put("/up").body(body).unwrap();
    request
        .headers_mut()
        .insert("content-length", "5".parse().unwrap());
    let pending = send.send(request);
    writer.write("hello").await.unwrap();
    writer.end::<&str, &str>(&[]).unwrap();
    let sent = read_until(&mut peer, "hello").await;
    assert!(sent.ends_with("\r\n\r\nhello"), "{sent:?}");
    assert!(!sent.contains("chunked"), "{sent:?}");
    assert_eq!(sent.matches("content-length").count(), 0, "{sent:?}");
    assert_eq!(sent.matches("Content-Length: 5").count(), 1, "{sent:?}");
    peer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    pending.await.unwrap();
}

/// Without `received_head`, a response carries no `ReceivedHead`; its
/// fields are in the `http` types as ever.
#[tokio::test(start_paused = true)]
async fn without_received_head_responses_carry_only_the_http_types() {
    let options = ClientOptions {
        received_head: false,
        ..ClientOptions::default()
    };
    let (send, conn, mut peer) = connect_with(options, 64 * 1024);
    let pending = send.send(get("/"));
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nX-Case: Kept\r\nContent-Length: 1\r\n\r\na")
        .await
        .unwrap();
    let response = pending.await.unwrap();
    assert_eq!(response.headers()["x-case"], "Kept");
    assert!(response.extensions().get::<ReceivedHead>().is_none());
    assert_eq!(body_text(response).await, "a");
    drop(send);
    conn.await.unwrap().unwrap();
}

/// Regression: with no timeout set, a server that never answers kept a
/// request waiting forever. By default the response head must come within
/// 60 s of the request being written; then the request fails as a timeout.
#[tokio::test(start_paused = true)]
async fn a_response_that_never_comes_fails_after_the_default_response_timeout() {
    let (send, conn, mut peer) = connect();
    let started = tokio::time::Instant::now();
    let pending = send.send(get("http://x/never"));
    read_until(&mut peer, "\r\n\r\n").await;
    let error = timeout(Duration::from_secs(120), pending)
        .await
        .expect("not forever")
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(error.to_string(), "timed out waiting for the response");
    assert_eq!(started.elapsed().as_secs(), 60);
    assert!(conn.await.unwrap().is_err(), "the connection failed");
}

/// Regression: a Content-Length body that stopped on an open connection
/// kept its reader waiting forever. By default 60 s without a byte fails
/// the body (as a timeout), and the connection.
#[tokio::test(start_paused = true)]
async fn a_response_body_that_stops_fails_after_the_default_body_timeout() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(get("http://x/stalls"));
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let response = pending.await.unwrap();
    let started = tokio::time::Instant::now();
    let error = timeout(Duration::from_secs(120), response.into_body().read_to_end())
        .await
        .expect("not forever")
        .unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(started.elapsed().as_secs(), 60);
}

/// Regression: an endless stream of `100 Continue` kept a request waiting
/// (and a core busy). Past 16 interim responses to one request, it fails.
#[tokio::test(start_paused = true)]
async fn endless_interim_responses_fail_the_request() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(get("http://x/interim"));
    read_until(&mut peer, "\r\n\r\n").await;
    let interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n".repeat(17);
    peer.write_all(&interim).await.unwrap();
    let error = timeout(Duration::from_secs(5), pending)
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.is_protocol(), "{error:?}");
    assert!(
        error.to_string().contains("more than 16 interim"),
        "{error}"
    );
}

/// Up to the bound, interim responses are skipped as before.
#[tokio::test(start_paused = true)]
async fn interim_responses_up_to_the_bound_are_skipped() {
    let (send, _conn, mut peer) = connect();
    let pending = send.send(get("http://x/interim"));
    read_until(&mut peer, "\r\n\r\n").await;
    let mut input = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(16);
    input.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    peer.write_all(&input).await.unwrap();
    assert_eq!(pending.await.unwrap().status(), 204);
}

/// What a pool reads off a connection's handle: whether it takes requests,
/// how many are in flight, since when it is idle.
#[tokio::test(start_paused = true)]
async fn the_handle_tells_a_pool_what_the_connection_can_take() {
    let (send, _conn, mut peer) = connect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(send.is_ready());
    assert_eq!(send.in_flight(), 0);
    assert!(send.idle_since().is_some());
    let first = send.send(get("http://x/1"));
    let second = send.send(get("http://x/2"));
    assert_eq!(send.in_flight(), 2);
    read_until(&mut peer, "GET /2").await;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(send.idle_since(), None, "busy");
    peer.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .await
        .unwrap();
    first.await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(send.in_flight(), 1);
    // The server says it closes after this one.
    peer.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    second.await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(send.in_flight(), 0);
    assert!(!send.is_ready(), "closing after what was in flight");
}

/// However an exchange ends, it stops being counted in flight: a response
/// body dropped unread and then cut by the server, a request queued on a
/// connection whose task is gone, a request whose caller gave up before it
/// was written.
#[tokio::test(start_paused = true)]
async fn every_way_an_exchange_ends_takes_it_out_of_the_count() {
    let (send, conn, mut peer) = connect();
    let response = send.send(get("http://x/big"));
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
        .await
        .unwrap();
    drop(response.await.unwrap());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(send.in_flight(), 1, "its body is still being drained");
    // The server closes mid-body: the connection fails.
    drop(peer);
    let _ = conn.await;
    assert_eq!(send.in_flight(), 0, "a drained body cut short");

    let (send, conn, _peer) = connect();
    conn.abort();
    let _ = conn.await;
    let queued = send.send(get("http://x/never"));
    assert!(queued.await.is_err());
    assert_eq!(send.in_flight(), 0, "queued on a connection gone");

    let (send, _conn, _peer) = connect();
    drop(send.send(get("http://x/abandoned")));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(send.in_flight(), 0, "given up before it was written");
}

/// A request body that panics fails its request with an error naming the
/// panic (the caller's task does not panic); the connection closes, as
/// after any body that fails mid-way.
#[tokio::test(start_paused = true)]
async fn a_panicking_request_body_fails_the_request_not_the_caller() {
    let (send, conn, mut peer) = connect();
    let mut first = true;
    let body = futures::stream::poll_fn(move |_| {
        if std::mem::replace(&mut first, false) {
            return std::task::Poll::Ready(Some(Ok::<_, std::io::Error>(Bytes::from_static(
                b"part",
            ))));
        }
        panic!("the request body panicked (expected by this test)");
    });
    let request = http::Request::post("http://example.com/up")
        .body(Outgoing::from_stream(body))
        .unwrap();
    let pending = send.send(request);
    read_until(&mut peer, "part").await;
    let error = timeout(Duration::from_secs(5), pending)
        .await
        .expect("the request ended in time")
        .expect_err("the request failed");
    assert!(
        error.to_string().contains("panicked"),
        "the error names the panic: {error}"
    );
    let ended = timeout(Duration::from_secs(5), conn).await.unwrap();
    assert!(ended.is_ok(), "the connection task did not panic");
}

/// The request's header map, its head written, holds the response's
/// fields: a request and its response allocate one map between them.
#[tokio::test(start_paused = true)]
async fn a_response_fills_the_map_its_request_came_with() {
    let (send, _conn, mut peer) = connect();
    let mut request = get("http://example.com/");
    request
        .headers_mut()
        .insert("x-request", http::HeaderValue::from_static("1"));
    let capacity = request.headers().capacity();
    let pending = send.send(request);
    read_until(&mut peer, "\r\n\r\n").await;
    peer.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let response = pending.await.unwrap();
    assert_eq!(response.headers().len(), 1);
    assert!(!response.headers().contains_key("x-request"));
    assert_eq!(response.headers().capacity(), capacity);
}
