//! Fault injection over real loopback sockets: peers that vanish mid-head,
//! mid-body and mid-pipeline, that reset, that stop reading; transports that
//! move one byte per call; applications that panic or never answer. After
//! each, the server goes on serving other clients, its count of open
//! connections (one task each) returns to zero, and the counters say what
//! happened. Also: what the server logs through `tracing`.

mod support;

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use gruvi_body::{Incoming, Outgoing};
use gruvi_conn::server::{ServerConnection, ServerOptions};
use gruvi_server::{HttpServer, Stats};
use http::{Request, Response};
use support::{Client, LIMIT, echo, get, path, post, tcp};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

/// Waits (bounded) until `done` holds for the server's stats.
async fn until<S>(server: &HttpServer<S>, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
    let waited = timeout(LIMIT, async {
        loop {
            let stats = server.stats();
            if done(&stats) {
                return stats;
            }
            sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("never {what}: {:?}", server.stats()))
}

/// Every connection is gone, and a new client is still served.
async fn still_serving<S>(server: &HttpServer<S>) -> Stats {
    let addr = tcp(&server.addresses()[0]);
    let mut client = Client::connect(addr).await;
    assert_eq!(client.exchange(get("/after")).await.status, 200);
    drop(client);
    until(server, "back to zero connections", |s| {
        s.connections_open == 0
    })
    .await
}

async fn echo_server() -> (HttpServer<impl Clone>, std::net::SocketAddr) {
    let mut server = HttpServer::new(tower::service_fn(echo));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    (server, addr)
}

#[tokio::test]
async fn peer_gone_mid_head() {
    let (mut server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    client.send("GET /cut HTTP/1.1\r\nHost: x\r\nAcc").await;
    drop(client);
    let stats = still_serving(&server).await;
    assert_eq!(stats.requests, 1, "only the later client's request");
    server.close().await;
}

#[tokio::test]
async fn peer_gone_mid_body_fails_the_body_and_is_counted() {
    let (mut server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    client
        .send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten..")
        .await;
    until(&server, "the request arrived", |s| s.requests == 1).await;
    drop(client);
    let stats = until(&server, "counted the cut body", |s| s.protocol_errors == 1).await;
    assert_eq!(stats.requests, 1);
    still_serving(&server).await;
    server.close().await;
}

#[tokio::test]
async fn peer_gone_mid_pipeline() {
    let answered = Arc::new(AtomicU64::new(0));
    let count = Arc::clone(&answered);
    let slow = tower::service_fn(move |request: Request<Incoming>| {
        let count = Arc::clone(&count);
        async move {
            sleep(Duration::from_millis(20)).await;
            count.fetch_add(1, Ordering::Relaxed);
            path(request).await
        }
    });
    let mut server = HttpServer::new(slow);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let pipeline: String = (0..8).map(|i| get(&format!("/{i}"))).collect();
    client.send(pipeline).await;
    until(&server, "the pipeline arrived", |s| s.requests >= 1).await;
    drop(client);
    let stats = still_serving(&server).await;
    assert!(stats.requests <= 9, "{stats:?}");
    assert_eq!(stats.protocol_errors, 0, "a peer leaving is not its error");
    server.close().await;
}

/// A response body with no end, counting what it produced.
fn endless(produced: Arc<AtomicU64>) -> Outgoing {
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let stream = futures::stream::repeat_with(move || {
        produced.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Ok::<_, Infallible>(chunk.clone())
    });
    Outgoing::from_stream(stream)
}

#[tokio::test]
async fn reset_mid_response_fails_only_that_connection() {
    let produced = Arc::new(AtomicU64::new(0));
    let body = Arc::clone(&produced);
    let service = tower::service_fn(move |_: Request<Incoming>| {
        let body = Arc::clone(&body);
        async move { Ok::<_, Infallible>(Response::new(endless(body))) }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut client = Client::new(stream);
    client.send(get("/forever")).await;
    until(&server, "the request arrived", |s| s.requests == 1).await;
    timeout(LIMIT, async {
        while produced.load(Ordering::Relaxed) < 1024 * 1024 {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the body streams");
    // SO_LINGER 0: the close sends a reset instead of a FIN.
    client.stream.set_zero_linger().unwrap();
    drop(client);
    let stats = until(&server, "noticed the reset", |s| s.connections_failed == 1).await;
    assert_eq!(stats.connections_open, 0);
    let mut other = Client::connect(addr).await;
    other.send(get("/other")).await;
    drop(other);
    server.close().await;
}

/// A peer that stops reading: the response body stops being polled once
/// the write buffer and the socket buffers are full, so the server's
/// memory stays flat; meanwhile other clients are served.
#[tokio::test]
async fn slow_reader_stops_the_body_and_memory_stays_flat() {
    let produced = Arc::new(AtomicU64::new(0));
    let body = Arc::clone(&produced);
    let service = tower::service_fn(move |request: Request<Incoming>| {
        let body = Arc::clone(&body);
        async move {
            if request.uri().path() == "/forever" {
                Ok::<_, Infallible>(Response::new(endless(body)))
            } else {
                path(request).await
            }
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut sleeper = Client::connect(addr).await;
    sleeper.send(get("/forever")).await;
    // Production must come to a standstill: two samples 200 ms apart agree.
    let mut last = u64::MAX;
    let stalled_at = timeout(LIMIT, async {
        loop {
            sleep(Duration::from_millis(200)).await;
            let now = produced.load(Ordering::Relaxed);
            if now == last {
                return now;
            }
            last = now;
        }
    })
    .await
    .expect("the body was never stopped");
    // What is held: the 256 KiB write buffer, the kernel's socket buffers
    // (a few MiB on loopback) and one chunk.
    assert!(
        stalled_at < 32 * 1024 * 1024,
        "{stalled_at} bytes produced for a peer that reads nothing"
    );
    let mut other = Client::connect(addr).await;
    assert_eq!(other.exchange(get("/other")).await.text(), "/other");
    sleep(Duration::from_millis(200)).await;
    assert_eq!(
        produced.load(Ordering::Relaxed),
        stalled_at,
        "still stopped"
    );
    drop((sleeper, other));
    until(&server, "back to zero connections", |s| {
        s.connections_open == 0
    })
    .await;
    server.close().await;
}

/// A transport that moves one byte per read and per write.
struct OneByte<T>(T);

impl<T: AsyncRead + Unpin> AsyncRead for OneByte<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut one = [0u8; 1];
        let mut small = ReadBuf::new(&mut one);
        let polled = Pin::new(&mut self.0).poll_read(cx, &mut small);
        if polled.is_ready() {
            buf.put_slice(small.filled());
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for OneByte<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let one = &buf[..buf.len().min(1)];
        Pin::new(&mut self.0).poll_write(cx, one)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Pipelined requests with bodies, chunked and sized, through a transport
/// that reads and writes one byte at a time: every response arrives whole
/// and in order.
#[tokio::test]
async fn one_byte_per_call_transport() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let handler = |request: Request<Incoming>| async move {
            let target = request.uri().path().to_owned();
            let body = request.into_body().read_to_end().await.unwrap();
            let text = format!("{target}:{}", String::from_utf8_lossy(&body));
            Response::new(Outgoing::full(text))
        };
        ServerConnection::new(OneByte(stream), handler, ServerOptions::default()).await
    });
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                post("/a", "first"),
                "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                 3\r\nsec\r\n3\r\nond\r\n0\r\n\r\n"
                    .to_owned(),
                get("/c"),
            ]
            .concat(),
        )
        .await;
    assert_eq!(client.response().await.text(), "/a:first");
    assert_eq!(client.response().await.text(), "/b:second");
    assert_eq!(client.response().await.text(), "/c:");
    client.stream.shutdown().await.unwrap();
    client.expect_eof().await;
    timeout(LIMIT, served).await.unwrap().unwrap().unwrap();
}

#[tokio::test]
async fn panicking_application_leaves_nothing_behind() {
    let service = tower::service_fn(|request: Request<Incoming>| async move {
        if request.uri().path() == "/panic" {
            panic!("the application panicked (expected by this test)");
        }
        path(request).await
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send([get("/1"), get("/panic"), get("/3")].concat())
        .await;
    assert_eq!(client.response().await.text(), "/1");
    assert_eq!(client.response().await.status, 500);
    assert_eq!(client.response().await.text(), "/3");
    drop(client);
    let stats = still_serving(&server).await;
    assert_eq!((stats.connections_failed, stats.protocol_errors), (0, 0));
    server.close().await;
}

/// A body that gives one frame, then ends — or panics.
struct OneFrameThen {
    panics: bool,
    sent: bool,
}

impl http_body::Body for OneFrameThen {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if !std::mem::replace(&mut this.sent, true) {
            let first = Bytes::from_static(b"first part");
            return Poll::Ready(Some(Ok(http_body::Frame::data(first))));
        }
        if this.panics {
            panic!("the body panicked (expected by this test)");
        }
        Poll::Ready(None)
    }
}

/// A response body that panics mid-way: the peer gets the response cut
/// short (no last chunk) and the connection closes; the requests
/// pipelined behind it are not answered, and other clients are served.
#[tokio::test]
async fn a_panicking_response_body_cuts_its_response_short_and_nothing_else() {
    let service = tower::service_fn(|request: Request<Incoming>| async move {
        let panics = request.uri().path() == "/panic";
        Ok::<_, Infallible>(Response::new(OneFrameThen {
            panics,
            sent: false,
        }))
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client.send([get("/panic"), get("/2")].concat()).await;
    let received = timeout(LIMIT, client.read_to_eof()).await.unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(text.ends_with("a\r\nfirst part\r\n"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    drop(client);
    let stats = still_serving(&server).await;
    // The connection ended on its response's failure (not on a panic of
    // its task).
    assert_eq!((stats.connections_failed, stats.protocol_errors), (1, 0));
    server.close().await;
}

/// An application that never answers: with a response timeout the request
/// is cancelled and answered 503, and the connection closes; a client that
/// left before leaves nothing behind either.
#[tokio::test]
async fn never_answering_application_is_cut_off_by_the_response_timeout() {
    let service = tower::service_fn(|request: Request<Incoming>| async move {
        if request.uri().path() == "/never" {
            std::future::pending::<()>().await;
        }
        path(request).await
    });
    let mut server = HttpServer::new(service).response_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());

    let mut waiting = Client::connect(addr).await;
    waiting.send([get("/never"), get("/behind")].concat()).await;
    let mut gone = Client::connect(addr).await;
    gone.send(get("/never")).await;
    until(&server, "all three arrived", |s| s.requests == 3).await;
    drop(gone);

    let answer = waiting.response().await;
    assert_eq!(answer.status, 503);
    assert!(answer.closes(), "the connection closes after it");
    waiting.expect_eof().await;
    drop(waiting);
    let stats = still_serving(&server).await;
    // `/behind` was handled (pipelined requests run together), but its
    // answer is dropped: the connection closed after the 503.
    assert_eq!(stats.requests, 4, "{stats:?}");
    server.close().await;
}

/// Malformed heads, slow heads and broken bodies are counted.
#[tokio::test]
async fn protocol_errors_are_counted() {
    let mut server = HttpServer::new(tower::service_fn(echo))
        .header_read_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut bad = Client::connect(addr).await;
    assert_eq!(bad.exchange("GET / HTTP/1.1\r\n\r\n").await.status, 400);
    let mut slow = Client::connect(addr).await;
    slow.send("GET / HTTP/1.1\r\n").await;
    assert_eq!(slow.response().await.status, 408);
    let mut chunks = Client::connect(addr).await;
    let response = chunks
        .exchange("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        .await;
    assert_eq!(response.status, 400, "the echo's body read failed");
    drop((bad, slow, chunks));
    let stats = until(&server, "counted all three", |s| s.protocol_errors == 3).await;
    assert_eq!(stats.connections_failed, 0);
    still_serving(&server).await;
    server.close().await;
}

/// A `Write` target shared with the test (what a subscriber prints).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Spans per connection (peer) and request (method, target, status,
/// duration); a protocol error is logged once, with the peer's address and
/// the reason, and never with body data.
#[tokio::test]
async fn spans_and_protocol_errors_in_the_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (mut server, addr) = echo_server().await;
    let mut client = Client::connect(addr).await;
    let peer = client.stream.local_addr().unwrap();
    assert_eq!(client.exchange(get("/traced?q=1")).await.status, 200);
    client
        .send("POST /secret HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await;
    client.send("6\r\nSECRET\r\nnot-hex\r\n").await;
    until(&server, "counted the bad chunk", |s| s.protocol_errors == 1).await;
    drop(client);
    until(&server, "back to zero connections", |s| {
        s.connections_open == 0
    })
    .await;
    server.close().await;

    let log = captured.text();
    let request = format!(
        "connection{{peer={peer} local={addr}}}:request{{method=GET target=/traced?q=1 status=200 duration_us="
    );
    assert!(
        log.contains(&request),
        "no request span like {request:?} in:\n{log}"
    );
    assert!(log.contains("answered"), "{log}");
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("protocol error"))
        .collect();
    assert_eq!(errors.len(), 1, "logged once: {log}");
    assert!(errors[0].contains(&format!("peer={peer}")), "{}", errors[0]);
    assert!(
        errors[0].contains("reason=request body failed"),
        "{}",
        errors[0]
    );
    assert!(!log.contains("SECRET"), "body data in the log:\n{log}");
}
