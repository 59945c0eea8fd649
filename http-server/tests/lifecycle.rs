//! The message cycle over a real socket: HTTP/1.0 answered in HTTP/1.0 and
//! closed unless it asks for keep-alive; `Expect: 100-continue` answered
//! when (and only when) the application reads the body; trailers received
//! and sent; HEAD, 204 and 304 without body bytes; application errors,
//! panics and hop-by-hop fields turned into a `500` for that request only;
//! and the request context (addresses, server name, fields as received).

mod support;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gruvi_body::{BoxError, Incoming, Outgoing};
use gruvi_server::{HttpServer, ReceivedHead, RequestContext};
use gruvi_wire::BodyFraming;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body::Frame;
use serde_json::json;
use support::{Client, LIMIT, counted_echo, echo, echoed_target, get, post, tcp};
use tokio::sync::{Notify, mpsc};
use tokio::time::timeout;

#[tokio::test]
async fn http10_without_keep_alive_is_answered_in_http10_then_closed() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(b"GET /old HTTP/1.0\r\n\r\nGET /never HTTP/1.0\r\n\r\n")
        .await;
    let response = client.response().await;
    assert_eq!(response.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(response.json()["version"], "HTTP/1.0");
    assert!(response.header("content-length").is_some());
    assert_eq!(response.header("connection"), None);
    client.expect_eof().await;
    assert_eq!(calls.get(), 1);
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn http10_keep_alive_is_kept() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let first = client
        .exchange("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    assert_eq!(first.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(first.header("connection"), Some("keep-alive"));
    let second = client
        .exchange("POST /2 HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc")
        .await;
    assert_eq!(second.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(second.json()["body"], "abc");
    assert_eq!(second.header("connection"), Some("keep-alive"));
    // The last one does not ask: answered, then closed.
    let third = client.exchange("GET /3 HTTP/1.0\r\n\r\n").await;
    assert_eq!(echoed_target(&third), "/3");
    client.expect_eof().await;
    assert_eq!(calls.get(), 3);
    drop(client);
    server.close().await;
}

/// A body given as frames, of unknown size.
struct Frames(VecDeque<Frame<Bytes>>);

impl Frames {
    fn new(data: &[&'static str], trailers: Option<HeaderMap>) -> Self {
        let mut frames: VecDeque<_> = data
            .iter()
            .map(|d| Frame::data(Bytes::from_static(d.as_bytes())))
            .collect();
        frames.extend(trailers.map(Frame::trailers));
        Frames(frames)
    }
}

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(Ok))
    }
}

/// HTTP/1.0 keep-alive is only possible with a known length: a body of
/// unknown size runs until close.
#[tokio::test]
async fn http10_keep_alive_with_unknown_length_runs_until_close() {
    let service = tower::service_fn(|_request: http::Request<Incoming>| async {
        Ok::<_, Infallible>(http::Response::new(Frames::new(&["one ", "two"], None)))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let response = client
        .exchange("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    assert_eq!(response.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(response.framing, BodyFraming::UntilClose);
    assert_eq!(response.header("connection"), None);
    assert_eq!(response.text(), "one two");
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn expect_100_continue_is_sent_once_the_body_is_read() {
    let (called_tx, mut called) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = Arc::clone(&release);
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let called_tx = called_tx.clone();
        let gate = Arc::clone(&gate);
        async move {
            if request.uri().path() == "/upload" {
                called_tx.send(()).unwrap();
                gate.notified().await;
            }
            echo(request).await
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            "POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .await;
    timeout(LIMIT, called.recv()).await.unwrap().unwrap();
    // The handler runs but has not asked for the body: nothing is sent.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut probe = [0u8; 1];
    let early = client.stream.try_read(&mut probe);
    assert!(
        matches!(&early, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "bytes before the body was read: {early:?}"
    );

    release.notify_one();
    let interim = client.response_to("POST").await;
    assert_eq!(interim.status_line(), "HTTP/1.1 100 Continue");
    assert!(interim.body.is_empty());
    client.send("hello").await;
    let response = client.response_to("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["body"], "hello");
    assert!(!response.closes());
    // The connection is kept.
    assert_eq!(echoed_target(&client.exchange(get("/next")).await), "/next");
    drop(client);
    server.close().await;
}

/// A final response without reading the body skips `100 Continue`; the
/// client may never send the body, so the connection closes.
#[tokio::test]
async fn expect_100_continue_skipped_when_the_body_is_not_read() {
    let service = tower::service_fn(|_request: http::Request<Incoming>| async {
        let mut response = http::Response::new(Outgoing::full("too large"));
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send("PUT /big HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
        .await;
    let response = client.response_to("PUT").await;
    assert_eq!(response.status, 413);
    assert!(response.closes(), "{response:?}");
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

/// HTTP/1.0 has no `100 Continue`: the body is expected at once.
#[tokio::test]
async fn expect_100_continue_is_never_sent_to_http10() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send("POST / HTTP/1.0\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok")
        .await;
    let response = client.response_to("POST").await;
    assert_eq!(response.status_line(), "HTTP/1.0 200 OK");
    assert_eq!(response.json()["body"], "ok");
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn received_trailers_reach_the_application() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let response = client
        .exchange(
            "POST /t HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n\
             4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc123\r\nX-Other: two words\r\n\r\n",
        )
        .await;
    let json = response.json();
    assert_eq!(json["body"], "wikipedia");
    assert_eq!(
        json["trailers"],
        json!([["X-Checksum", "abc123"], ["X-Other", "two words"]])
    );
    // Trailers are not mixed into the headers.
    assert!(
        !json["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f[0] == "X-Checksum")
    );
    drop(client);
    server.close().await;
}

fn checksum_trailers() -> HeaderMap {
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("1234"));
    trailers.append("x-note", HeaderValue::from_static("a"));
    trailers.append("x-note", HeaderValue::from_static("b"));
    trailers
}

/// A body of unknown size ending in trailers goes chunked, with the trailer
/// section on the wire.
#[tokio::test]
async fn trailers_are_sent_with_a_chunked_body() {
    let service = tower::service_fn(|_request: http::Request<Incoming>| async {
        Ok::<_, Infallible>(http::Response::new(Frames::new(
            &["hello ", "world"],
            Some(checksum_trailers()),
        )))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                get("/1"),
                "GET /2 HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n".to_owned(),
            ]
            .concat(),
        )
        .await;
    let first = client.response().await;
    assert_eq!(first.framing, BodyFraming::Chunked);
    assert_eq!(first.header("transfer-encoding"), Some("chunked"));
    assert_eq!(first.header("content-length"), None);
    assert_eq!(first.text(), "hello world");
    let trailers: Vec<(&str, &[u8])> = first
        .trailers
        .iter()
        .map(|(n, v)| (n.as_str(), &v[..]))
        .collect();
    assert_eq!(
        trailers,
        [
            ("x-checksum", &b"1234"[..]),
            ("x-note", b"a"),
            ("x-note", b"b")
        ]
    );
    // The second response on the wire, raw: its trailer section is there.
    let raw = client.read_to_eof().await;
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: 1234\r\nx-note: a\r\nx-note: b\r\n\r\n"),
        "{text}"
    );
    drop(client);
    server.close().await;
}

/// Trailers written by hand through `Outgoing::channel` / `BodyWriter::end`.
#[tokio::test]
async fn trailers_are_sent_from_a_body_writer() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let (mut writer, body) = Outgoing::channel(1024);
        let path = request.uri().path().to_owned();
        tokio::spawn(async move {
            writer.write(path).await.unwrap();
            writer.write(" done").await.unwrap();
            writer.end(&[("X-Count", "2")]).unwrap();
        });
        Ok::<_, Infallible>(http::Response::new(body))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    for path in ["/a", "/b"] {
        let response = client.exchange(get(path)).await;
        assert_eq!(response.framing, BodyFraming::Chunked);
        assert_eq!(response.text(), format!("{path} done"));
        assert_eq!(response.trailers.len(), 1);
        assert!(response.trailers[0].0.eq_ignore_ascii_case("x-count"));
        assert_eq!(response.trailers[0].1, "2");
    }
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn head_204_and_304_carry_no_body() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let mut response = http::Response::new(Outgoing::full("hello"));
        match request.uri().path() {
            "/204" => {
                *response.status_mut() = StatusCode::NO_CONTENT;
                *response.body_mut() = Outgoing::empty();
            }
            "/204-with-body" => *response.status_mut() = StatusCode::NO_CONTENT,
            "/304" => {
                *response.status_mut() = StatusCode::NOT_MODIFIED;
                *response.body_mut() = Outgoing::empty();
                let headers = response.headers_mut();
                headers.insert("etag", HeaderValue::from_static("\"v1\""));
                headers.insert("content-length", HeaderValue::from_static("5"));
            }
            _ => {}
        }
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    // One burst: a body byte sent where none belongs would break the
    // framing of the next response.
    client
        .send(
            [
                "HEAD / HTTP/1.1\r\nHost: test\r\n\r\n".to_owned(),
                get("/204"),
                get("/204-with-body"),
                get("/304"),
                "HEAD /304 HTTP/1.1\r\nHost: test\r\n\r\n".to_owned(),
                get("/"),
            ]
            .concat(),
        )
        .await;
    let head = client.response_to("HEAD").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5"));
    assert!(head.body.is_empty());
    for _ in 0..2 {
        let no_content = client.response().await;
        assert_eq!(no_content.status, 204);
        assert_eq!(no_content.header("content-length"), None);
        assert_eq!(no_content.header("transfer-encoding"), None);
    }
    let not_modified = client.response().await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("content-length"), Some("5"));
    assert_eq!(not_modified.header("etag"), Some("\"v1\""));
    let head_304 = client.response_to("HEAD").await;
    assert_eq!(head_304.status, 304);
    let last = client.response().await;
    assert_eq!(last.text(), "hello");
    drop(client);
    server.close().await;
}

/// Each misbehaviour of the application costs one `500`; the connection
/// goes on serving the next request normally.
#[tokio::test]
async fn application_failures_become_500_for_that_request_only() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let mut response = http::Response::new(Outgoing::full("fine"));
        let headers = response.headers_mut();
        match request.uri().path() {
            "/error" => return Err::<_, BoxError>("the application failed".into()),
            "/panic" => panic!("the application panicked (expected by this test)"),
            "/transfer-encoding" => {
                headers.insert("transfer-encoding", HeaderValue::from_static("chunked"));
            }
            "/keep-alive" => {
                headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
            }
            "/connection-keep-alive" => {
                headers.insert("connection", HeaderValue::from_static("keep-alive"));
            }
            "/upgrade" => {
                headers.insert("upgrade", HeaderValue::from_static("websocket"));
            }
            "/trailer" => {
                headers.insert("trailer", HeaderValue::from_static("x-sum"));
            }
            _ => {}
        }
        Ok(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let failing = [
        "/error",
        "/panic",
        "/transfer-encoding",
        "/keep-alive",
        "/connection-keep-alive",
        "/upgrade",
        "/trailer",
    ];
    // One at a time, then all pipelined.
    for path in failing {
        let failed = client.exchange(get(path)).await;
        assert_eq!(failed.status, 500, "{path}: {failed:?}");
        assert!(!failed.closes(), "{path}");
        assert_eq!(failed.text(), "500 Internal Server Error\n");
        let ok = client.exchange(get("/ok")).await;
        assert_eq!(ok.status, 200, "after {path}");
        assert_eq!(ok.text(), "fine");
    }
    let burst: String = failing
        .iter()
        .flat_map(|path| [get(path), get("/ok")])
        .collect();
    client.send(burst).await;
    for path in failing {
        assert_eq!(client.response().await.status, 500, "{path}");
        assert_eq!(client.response().await.status, 200, "after {path}");
    }
    drop(client);
    server.close().await;
    assert_eq!(server.stats().connections_failed, 0);
}

/// `Connection: close` is the one hop-by-hop field an application may set:
/// honoured, the rest of the pipeline dropped.
#[tokio::test]
async fn application_may_ask_to_close() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let mut response = http::Response::new(Outgoing::full("bye"));
        if request.uri().path() == "/close" {
            response
                .headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
        }
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send([get("/a"), get("/close"), get("/c")].concat())
        .await;
    assert!(!client.response().await.closes());
    let closing = client.response().await;
    assert_eq!(closing.status, 200);
    assert!(closing.closes());
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

async fn describe(
    request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    let context = request.extensions().get::<RequestContext>().unwrap();
    let fields = request.extensions().get::<ReceivedHead>().unwrap().fields();
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| {
            (
                n.iter().map(|&b| char::from(b)).collect(),
                v.iter().map(|&b| char::from(b)).collect(),
            )
        })
        .collect();
    let description = json!({
        "remote": context.remote_addr().to_string(),
        "local": context.local_addr().to_string(),
        "server_name": context.server_name(),
        "tls": context.is_tls(),
        "fields": fields,
    });
    Ok(http::Response::new(Outgoing::full(description.to_string())))
}

#[tokio::test]
async fn request_context_and_received_fields() {
    for name in [None, Some("example")] {
        let mut server = HttpServer::new(tower::service_fn(describe));
        if let Some(name) = name {
            server = server.server_name(name);
        }
        let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
        let mut client = Client::connect(addr).await;
        let response = client
            .exchange(
                b"GET / HTTP/1.1\r\nhOsT: test\r\nX-Dup: 1\r\nx-CASE: Mixed Value\r\nX-Dup: 2\r\nX-Latin: caf\xe9\r\nx-dup: 3\r\n\r\n",
            )
            .await;
        let json = response.json();
        assert_eq!(
            json["remote"],
            client.stream.local_addr().unwrap().to_string()
        );
        assert_eq!(json["local"], addr.to_string());
        assert_eq!(json["server_name"], name.unwrap_or("127.0.0.1"));
        assert_eq!(json["tls"], false);
        assert_eq!(
            json["fields"],
            json!([
                ["hOsT", "test"],
                ["X-Dup", "1"],
                ["x-CASE", "Mixed Value"],
                ["X-Dup", "2"],
                ["X-Latin", "caf\u{e9}"],
                ["x-dup", "3"]
            ])
        );
        drop(client);
        server.close().await;
    }
}

/// Both extensions can be turned off; the request is otherwise the same.
#[tokio::test]
async fn request_context_and_received_head_can_be_left_out() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let description = json!({
            "context": request.extensions().get::<RequestContext>().is_some(),
            "received_head": request.extensions().get::<ReceivedHead>().is_some(),
            "x_one": request.headers().get("x-one").map(|v| v.to_str().unwrap().to_owned()),
        });
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(description.to_string())))
    });
    for (context, received_head) in [(false, false), (true, false), (false, true)] {
        let mut server = HttpServer::new(service)
            .request_context(context)
            .received_head(received_head);
        let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
        let mut client = Client::connect(addr).await;
        let response = client
            .exchange(b"GET / HTTP/1.1\r\nHost: test\r\nX-One: 1\r\n\r\n")
            .await;
        assert_eq!(
            response.json(),
            json!({"context": context, "received_head": received_head, "x_one": "1"})
        );
        drop(client);
        server.close().await;
    }
}

/// A POST body far larger than the body buffer: backpressure, not loss.
#[tokio::test]
async fn body_larger_than_the_body_buffer_arrives_whole() {
    let (service, _calls) = counted_echo();
    let mut server = HttpServer::new(service).body_buffer(1024);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let body: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    client.send(post("/big", &body)).await;
    let response = client.response_to("POST").await;
    assert_eq!(response.json()["body"].as_str().unwrap().len(), body.len());
    assert_eq!(response.json()["body"], body);
    drop(client);
    server.close().await;
}

/// Responses the connection cannot send as given — a Content-Length that
/// disagrees with the body, an interim status as the final one, `101`
/// without an upgrade request — become a `500`; the connection goes on.
#[tokio::test]
async fn invalid_responses_become_500() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let mut response = http::Response::new(Outgoing::full("hello"));
        match request.uri().path() {
            "/length-mismatch" => {
                response
                    .headers_mut()
                    .insert("content-length", HeaderValue::from_static("3"));
            }
            "/length-match" => {
                response
                    .headers_mut()
                    .insert("content-length", HeaderValue::from_static("5"));
            }
            "/103" => *response.status_mut() = StatusCode::from_u16(103).unwrap(),
            "/101" => *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS,
            _ => {}
        }
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    for (path, status) in [
        ("/length-mismatch", 500),
        ("/length-match", 200),
        ("/103", 500),
        ("/101", 500),
        ("/ok", 200),
    ] {
        let response = client.exchange(get(path)).await;
        assert_eq!(response.status, status, "{path}: {response:?}");
        assert!(!response.closes(), "{path}");
    }
    drop(client);
    server.close().await;
}

/// `Date` and `Server` are added unless the application set them, never
/// twice.
#[tokio::test]
async fn date_and_server_are_added_unless_set() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let mut response = http::Response::new(Outgoing::full("x"));
        if request.uri().path() == "/own" {
            let headers = response.headers_mut();
            headers.insert("server", HeaderValue::from_static("mine/1"));
            headers.insert(
                "date",
                HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
            );
        }
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let ours = client.exchange(get("/")).await;
    assert!(ours.header("server").unwrap().starts_with("gruvi/"));
    assert!(httpdate_like(ours.header("date").unwrap()));
    let theirs = client.exchange(get("/own")).await;
    assert_eq!(theirs.header("server"), Some("mine/1"));
    assert_eq!(theirs.header("date"), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    drop(client);
    server.close().await;
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`: IMF-fixdate's shape.
fn httpdate_like(value: &str) -> bool {
    value.len() == 29 && value.ends_with(" GMT") && value.as_bytes()[3] == b','
}

/// A response body that fails mid-way is cut short — never completed — and
/// the connection closes (and is counted as failed).
#[tokio::test]
async fn failing_response_body_is_cut_short() {
    let service = tower::service_fn(|_request: http::Request<Incoming>| async {
        let stream = futures::stream::iter([
            Ok::<_, BoxError>(Bytes::from_static(b"partial")),
            Err("the body failed".into()),
        ]);
        Ok::<_, Infallible>(http::Response::new(Outgoing::from_stream(stream)))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client.send([get("/1"), get("/2")].concat()).await;
    let raw = client.read_to_eof().await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("\r\nTransfer-Encoding: chunked\r\n"),
        "{text}"
    );
    // The data that was sent, and no last chunk: the client can tell.
    assert!(text.ends_with("\r\n\r\n7\r\npartial\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    drop(client);
    server.close().await;
    assert_eq!(server.stats().connections_failed, 1);
}

/// `100 Continue` for a pipelined request waits for the responses owed
/// before it: nothing is interleaved.
#[tokio::test]
async fn expect_100_continue_waits_its_turn() {
    let release = Arc::new(Notify::new());
    let gate = Arc::clone(&release);
    let (called_tx, mut called) = mpsc::unbounded_channel();
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let gate = Arc::clone(&gate);
        let called_tx = called_tx.clone();
        async move {
            called_tx.send(request.uri().path().to_owned()).unwrap();
            if request.uri().path() == "/first" {
                gate.notified().await;
            }
            echo(request).await
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                get("/first"),
                "PUT /second HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
                    .to_owned(),
            ]
            .concat(),
        )
        .await;
    // Both handlers run; the second is already waiting for its body.
    for expected in ["/first", "/second"] {
        let path = timeout(LIMIT, called.recv()).await.unwrap().unwrap();
        assert_eq!(path, expected);
    }
    release.notify_one();
    let first = client.response().await;
    assert_eq!(echoed_target(&first), "/first");
    let interim = client.response_to("PUT").await;
    assert_eq!(interim.status, 100);
    client.send("body").await;
    let second = client.response_to("PUT").await;
    assert_eq!(second.json()["body"], "body");
    drop(client);
    server.close().await;
}

/// A body the application does not read is drained: the next request on
/// the connection is answered.
#[tokio::test]
async fn unread_body_is_drained_to_keep_the_connection() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(
            request.uri().path().to_owned(),
        )))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let big = "b".repeat(100_000);
    let chunked = format!(
        "POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    client
        .send([post("/length", &big), chunked, get("/after")].concat())
        .await;
    for path in ["/length", "/chunked", "/after"] {
        let response = client.response().await;
        assert_eq!(response.text(), path);
        assert!(!response.closes());
    }
    drop(client);
    server.close().await;
}

/// A service ready at two `poll_ready`s of three (waking its caller when
/// not), failing readiness while `fail` is set: the counter is shared by
/// its clones, so requests take both ways in — called at once, or through
/// a clone driven ready.
#[derive(Clone)]
struct Moody {
    polls: Arc<std::sync::atomic::AtomicUsize>,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

impl tower::Service<http::Request<Incoming>> for Moody {
    type Response = http::Response<Outgoing>;
    type Error = BoxError;
    type Future = std::future::Ready<Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.fail.load(SeqCst) {
            return Poll::Ready(Err("not ready, not ever".into()));
        }
        if self.polls.fetch_add(1, SeqCst) % 3 == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Incoming>) -> Self::Future {
        let path = request.uri().path().to_owned();
        std::future::ready(Ok(http::Response::new(Outgoing::full(path))))
    }
}

/// A service not ready at once still answers every request, in order (a
/// clone of it is driven ready); one that fails readiness costs that
/// request a `500`, and the connection goes on.
#[tokio::test]
async fn services_not_ready_at_once_or_failing_readiness() {
    use std::sync::atomic::Ordering::SeqCst;
    let service = Moody {
        polls: Arc::default(),
        fail: Arc::default(),
    };
    let (polls, fail) = (Arc::clone(&service.polls), Arc::clone(&service.fail));
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let paths: Vec<String> = (0..9).map(|i| format!("/{i}")).collect();
    client
        .send(paths.iter().map(|p| get(p)).collect::<String>())
        .await;
    for path in &paths {
        let response = client.response().await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), path);
    }
    assert!(polls.load(SeqCst) > 9, "some calls waited for readiness");

    fail.store(true, SeqCst);
    let failed = client.exchange(get("/failing")).await;
    assert_eq!(failed.status, 500);
    assert!(!failed.closes());
    fail.store(false, SeqCst);
    let ok = client.exchange(get("/again")).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), "/again");
    drop(client);
    server.close().await;
    assert_eq!(server.stats().connections_failed, 0);
}

/// A service that panics in `call` itself, before any future exists,
/// costs that request a `500` like a panicking future; the connection goes
/// on.
#[tokio::test]
async fn a_panic_in_call_itself_becomes_500() {
    let service = tower::service_fn(|request: http::Request<Incoming>| {
        assert_ne!(
            request.uri().path(),
            "/panic",
            "the service panicked in call (expected by this test)"
        );
        std::future::ready(Ok::<_, Infallible>(http::Response::new(Outgoing::full(
            "fine",
        ))))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client.send([get("/panic"), get("/ok")].concat()).await;
    let failed = client.response().await;
    assert_eq!(failed.status, 500);
    assert!(!failed.closes());
    let ok = client.response().await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), "fine");
    drop(client);
    server.close().await;
    assert_eq!(server.stats().connections_failed, 0);
}
