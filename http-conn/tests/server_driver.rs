//! The server connection driver over `tokio::io::duplex`, against a peer
//! that speaks raw bytes: keep-alive, pipelining in order and written in one
//! batch, request bodies (read, ignored, held back), `100 Continue`,
//! timeouts, upgrades, graceful shutdown, and what a malformed request, an
//! invalid response or a failing response body does to the connection.
//! Time is paused: timeouts pass instantly and deterministically.
//!
//! The peer parses every response with `gruvi-wire` and `gruvi-body`, so
//! pipelined responses are split exactly where their framing says: a stray
//! body byte shows up as a broken next response.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gruvi_body::{BoxError, ChunkedLimits, Decoder, Frame, Incoming, Outgoing, Trailers};
use gruvi_conn::server::{ConnectionError, Handler, ServerConnection, ServerOptions};
use gruvi_conn::upgrade::{OnUpgrade, Upgraded};
use gruvi_wire::{BodyFraming, Limits, Status, Version, parse_response, response_framing};
use http::{HeaderMap, Request, Response};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};

/// Room in each direction of the pipe, unless a test needs less.
const PIPE: usize = 64 * 1024;

/// How long the peer waits for bytes the server owes it, unless a test
/// waits on purpose for a server timeout.
const PATIENCE: Duration = Duration::from_secs(5);

/// A running server connection.
type Served = JoinHandle<Result<(), ConnectionError>>;

/// Serves `io` with `handler` in a task of its own.
fn spawn_server<T, H>(io: T, handler: H, options: ServerOptions) -> Served
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler + Send + 'static,
    H::Future: Send + 'static,
    H::Body: Send + 'static,
    <H::Body as Body>::Error: Into<BoxError>,
{
    tokio::spawn(ServerConnection::new(io, handler, options))
}

/// A server connection with default options on one end of a pipe; the
/// other end is the test's.
fn serve<H>(handler: H) -> (Served, Peer<DuplexStream>)
where
    H: Handler + Send + 'static,
    H::Future: Send + 'static,
    H::Body: Send + 'static,
    <H::Body as Body>::Error: Into<BoxError>,
{
    let (server, client) = tokio::io::duplex(PIPE);
    (
        spawn_server(server, handler, ServerOptions::default()),
        Peer::new(client),
    )
}

/// Waits for the connection to end and returns how it ended.
async fn finished(served: Served) -> Result<(), ConnectionError> {
    timeout(PATIENCE, served)
        .await
        .expect("the connection ended in time")
        .expect("the connection task did not panic")
}

/// A response with a known body.
fn text(status: u16, body: &'static str) -> Response<Outgoing> {
    Response::builder()
        .status(status)
        .body(Outgoing::full(body))
        .unwrap()
}

/// The request lines the application was called with, in call order.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Calls {
    fn record(&self, request: &Request<Incoming>) {
        let line = format!("{} {}", request.method(), request.uri());
        self.0.lock().unwrap().push(line);
    }

    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// One response as the peer parsed it.
#[derive(Debug)]
struct Parsed {
    /// The head's bytes, status line to empty line.
    head: Bytes,
    version: Version,
    status: u16,
    /// Fields in received order, names in received case.
    fields: Vec<(String, String)>,
    body: Vec<u8>,
    trailers: Trailers,
}

impl Parsed {
    /// The first value of field `name` (any case).
    fn header(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap()
    }
}

/// The test's end of the connection: reads with a buffer of its own, so
/// the bytes of a later pipelined response wait for the next read.
struct Peer<R> {
    io: R,
    buf: BytesMut,
    /// How long one read may wait.
    patience: Duration,
}

impl<R: AsyncRead + Unpin> Peer<R> {
    fn new(io: R) -> Self {
        Peer {
            io,
            buf: BytesMut::new(),
            patience: PATIENCE,
        }
    }

    /// Reads once more into the buffer; 0 at the server's end of stream.
    async fn fill(&mut self) -> usize {
        let read = self.io.read_buf(&mut self.buf);
        timeout(self.patience, read)
            .await
            .expect("the server wrote in time")
            .expect("the pipe does not fail")
    }

    /// Reads one response head, and the framing of the body that follows
    /// for a request with `method`.
    async fn head(&mut self, method: &str) -> (Parsed, BodyFraming) {
        let consumed = loop {
            match parse_response(&self.buf, &Limits::default()).expect("a valid response head") {
                Status::Complete(_, consumed) => break consumed,
                Status::Partial => {
                    let got = String::from_utf8_lossy(&self.buf).into_owned();
                    assert!(self.fill().await > 0, "EOF before a response; got {got:?}");
                }
            }
        };
        let bytes = self.buf.split_to(consumed).freeze();
        let Ok(Status::Complete(head, _)) = parse_response(&bytes, &Limits::default()) else {
            unreachable!("parsed just above")
        };
        let framing = response_framing(method.as_bytes(), &head, &bytes)
            .expect("a response the client can frame");
        let latin1 = |b: &[u8]| b.iter().map(|&c| char::from(c)).collect::<String>();
        let fields = head
            .fields()
            .iter()
            .map(|f| (latin1(f.name(&bytes)), latin1(&f.value(&bytes))))
            .collect();
        let parsed = Parsed {
            version: head.version(),
            status: head.status(),
            head: bytes,
            fields,
            body: Vec::new(),
            trailers: Trailers::new(),
        };
        (parsed, framing.body)
    }

    /// Reads exactly one whole response to a request with `method`.
    async fn response(&mut self, method: &str) -> Parsed {
        let (mut parsed, framing) = self.head(method).await;
        let mut decoder = match framing {
            BodyFraming::Empty | BodyFraming::Tunnel => return parsed,
            BodyFraming::Length(n) => Decoder::length(n),
            BodyFraming::Chunked => Decoder::chunked(ChunkedLimits::default()),
            BodyFraming::UntilClose => Decoder::until_close(),
        };
        let mut eof = false;
        loop {
            match decoder.decode_input(&mut self.buf, eof) {
                Ok(Some(Frame::Data(data))) => parsed.body.extend_from_slice(&data),
                Ok(Some(Frame::End(trailers))) => {
                    parsed.trailers = trailers;
                    return parsed;
                }
                Ok(None) => {
                    assert!(!eof, "the decoder made no progress at EOF");
                    eof = self.fill().await == 0;
                }
                Err(e) => panic!("a broken response body: {e}; head {:?}", parsed.head),
            }
        }
    }

    /// Reads `n` bytes of whatever protocol the connection speaks now.
    async fn read_exact(&mut self, n: usize) -> Bytes {
        while self.buf.len() < n {
            assert!(self.fill().await > 0, "EOF after {:?}", self.buf);
        }
        self.buf.split_to(n).freeze()
    }

    /// Everything until the server's end of stream.
    async fn read_to_eof(&mut self) -> Vec<u8> {
        while self.fill().await > 0 {}
        self.buf.split().to_vec()
    }

    /// Returns `true` if nothing arrives within `wait`.
    async fn is_silent_for(&mut self, wait: Duration) -> bool {
        let read = self.io.read_buf(&mut self.buf);
        timeout(wait, read).await.is_err()
    }
}

impl<R: AsyncWrite + Unpin> Peer<R> {
    async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.io.write_all(bytes.as_ref()).await.unwrap();
    }
}

/// A transport that counts the writes that moved bytes (scalar or
/// vectored), to see how responses are batched.
struct CountingIo<T> {
    inner: T,
    writes: Arc<AtomicUsize>,
}

impl<T> CountingIo<T> {
    fn count(&self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count(&written);
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A response body made of given frames, then its end; an exact size
/// hint only when given one.
struct Frames {
    frames: VecDeque<Result<http_body::Frame<Bytes>, BoxError>>,
    exact: Option<u64>,
}

impl Frames {
    fn new(exact: Option<u64>) -> Self {
        Frames {
            frames: VecDeque::new(),
            exact,
        }
    }

    fn data(mut self, data: &'static str) -> Self {
        self.frames
            .push_back(Ok(http_body::Frame::data(Bytes::from(data))));
        self
    }

    fn trailer(mut self, name: &'static str, value: &'static str) -> Self {
        let mut trailers = HeaderMap::new();
        trailers.insert(name, value.parse().unwrap());
        self.frames
            .push_back(Ok(http_body::Frame::trailers(trailers)));
        self
    }

    fn error(mut self, message: &'static str) -> Self {
        self.frames.push_back(Err(message.into()));
        self
    }
}

impl Body for Frames {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        Poll::Ready(self.frames.pop_front())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.exact {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::new(),
        }
    }
}

/// Echoes what an upgraded connection receives until its end of stream.
async fn echo(mut io: Upgraded) {
    let mut buf = [0u8; 1024];
    loop {
        let n = io.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        io.write_all(&buf[..n]).await.unwrap();
    }
    io.shutdown().await.unwrap();
}

/// A handler that takes over every upgraded connection with [`echo`],
/// answering with `response()`; the echo tasks are kept so that the test
/// can wait for them.
fn echo_upgrades(
    response: fn() -> Response<Outgoing>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
) -> impl Handler<Body = Outgoing, Future: Send + 'static> + Send + 'static {
    move |mut request: Request<Incoming>| {
        let on_upgrade = OnUpgrade::take(request.extensions_mut()).expect("an upgrade request");
        tasks.lock().unwrap().push(tokio::spawn(async move {
            echo(on_upgrade.await.expect("the connection was handed over")).await;
        }));
        async move { response() }
    }
}

/// Rule: a keep-alive connection answers request after request, each
/// response with `Date`, `Server` and its `Content-Length`.
#[tokio::test(start_paused = true)]
async fn keep_alive_answers_one_request_after_another_with_date_server_and_length() {
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve(move |request: Request<Incoming>| {
        calls.record(&request);
        async move { text(200, "hello") }
    });

    for path in ["/one", "/two"] {
        peer.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"))
            .await;
        let response = peer.response("GET").await;
        assert_eq!(response.version, Version::Http11);
        assert_eq!(response.status, 200);
        assert!(response.header("date").is_some(), "{response:?}");
        assert_eq!(response.header("server"), Some("gruvi/0.1.0"));
        assert_eq!(response.header("content-length"), Some("5"));
        assert_eq!(response.header("connection"), None, "kept alive");
        assert_eq!(response.text(), "hello");
    }
    assert_eq!(seen.seen(), ["GET /one", "GET /two"]);

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: pipelined requests are handled together, but their responses go
/// out in request order, the slowest first if it came first.
#[tokio::test(start_paused = true)]
async fn pipelined_responses_keep_request_order_when_the_first_handler_is_slowest() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        let path = request.uri().path().to_owned();
        if path == "/slow" {
            sleep(Duration::from_secs(1)).await;
        }
        Response::new(Outgoing::full(path))
    });

    peer.send(
        "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /fast HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /faster HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    for path in ["/slow", "/fast", "/faster"] {
        assert_eq!(peer.response("GET").await.text(), path);
    }

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: the responses to a pipelined burst that are ready together leave
/// in one write.
#[tokio::test(start_paused = true)]
async fn responses_ready_together_leave_in_one_write() {
    let (server, client) = tokio::io::duplex(PIPE);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = CountingIo {
        inner: server,
        writes: Arc::clone(&writes),
    };
    let handler = |request: Request<Incoming>| async move {
        Response::new(Outgoing::full(request.uri().path().to_owned()))
    };
    let served = spawn_server(io, handler, ServerOptions::default());
    let mut peer = Peer::new(client);

    peer.send(
        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /2 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    for path in ["/1", "/2", "/3"] {
        assert_eq!(peer.response("GET").await.text(), path);
    }
    assert_eq!(writes.load(Ordering::SeqCst), 1, "one write for three");

    drop(peer);
    finished(served).await.unwrap();
}

/// Echoes a request's body, and the value of its `X-Checksum` trailer.
async fn echo_body(mut request: Request<Incoming>) -> Response<Outgoing> {
    let body = request.body_mut().read_to_end().await.unwrap();
    let trailers = request.body().trailers().expect("read to the end");
    let checksum = trailers.get("x-checksum").cloned().unwrap_or_default();
    Response::builder()
        .header("x-trailer", checksum.as_ref())
        .body(Outgoing::full(body))
        .unwrap()
}

/// Rule: a Content-Length request body reaches the handler whole.
#[tokio::test(start_paused = true)]
async fn a_content_length_body_is_read_by_the_handler() {
    let (served, mut peer) = serve(echo_body);
    peer.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        .await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello world");
    assert_eq!(response.header("x-trailer"), Some(""));

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a chunked request body reaches the handler whole, its trailers
/// after it.
#[tokio::test(start_paused = true)]
async fn a_chunked_body_and_its_trailers_are_read_by_the_handler() {
    let (served, mut peer) = serve(echo_body);
    peer.send(
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n",
    )
    .await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello world");
    assert_eq!(response.header("x-trailer"), Some("abc"));

    // The connection is still in step: the next request is answered.
    peer.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        .await;
    assert_eq!(peer.response("POST").await.text(), "ok");

    drop(peer);
    finished(served).await.unwrap();
}

const EXPECTING: &str = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\
                         Expect: 100-continue\r\n\r\n";

/// Rule: `100 Continue` is written when the handler starts reading the
/// body, before the client sends it; the final response follows.
#[tokio::test(start_paused = true)]
async fn expect_continue_gets_100_once_the_handler_reads_the_body() {
    let (served, mut peer) = serve(echo_body);
    peer.send(EXPECTING).await;
    let interim = peer.response("POST").await;
    assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");

    peer.send("hello").await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a handler that answers without reading the body gets no `100
/// Continue` sent, and the connection closes after the response (the
/// client may never send the body) — whether it holds the body while
/// answering or dropped it first.
#[tokio::test(start_paused = true)]
async fn expect_continue_answered_without_reading_sends_no_100_and_closes() {
    let holding = |request: Request<Incoming>| async move {
        let _unread = request;
        sleep(Duration::from_secs(1)).await;
        text(417, "no thanks")
    };
    let dropping = |request: Request<Incoming>| {
        drop(request);
        async move {
            sleep(Duration::from_secs(1)).await;
            text(417, "no thanks")
        }
    };
    let (served_holding, peer_holding) = serve(holding);
    let (served_dropping, peer_dropping) = serve(dropping);

    let cases = [
        ("holding", served_holding, peer_holding),
        ("dropping", served_dropping, peer_dropping),
    ];
    for (case, served, mut peer) in cases {
        peer.send(EXPECTING).await;
        let response = peer.response("POST").await;
        assert_eq!(response.status, 417, "{case}: no 100 first");
        assert_eq!(response.text(), "no thanks");
        assert_eq!(peer.read_to_eof().await, b"", "closed after the response");
        finished(served).await.unwrap();
    }
}

/// Rule: a response that skips `100 Continue` and will close the
/// connection says so (RFC 9110 §10.1.1: the server SHOULD indicate whether
/// it intends to close or go on reading the content).
#[tokio::test(start_paused = true)]
async fn expect_continue_skipped_says_connection_close() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        let _unread = request;
        text(417, "no thanks")
    });
    peer.send(EXPECTING).await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 417);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(peer.read_to_eof().await, b"");
    finished(served).await.unwrap();
}

/// Rule: the body-read timeout is the peer's: it does not run while the
/// client rightly waits for a `100 Continue` the handler has not asked for,
/// and starts afresh once the 100 is sent.
#[tokio::test(start_paused = true)]
async fn expect_continue_client_waiting_for_100_is_not_timed_out() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        sleep(Duration::from_secs(40)).await;
        echo_body(request).await
    });
    peer.send(EXPECTING).await;
    peer.patience = Duration::from_secs(60);
    let interim = peer.response("POST").await;
    assert_eq!(interim.head, "HTTP/1.1 100 Continue\r\n\r\n");
    peer.send("hello").await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a request body the handler drops unread is read and thrown away:
/// its bytes never become a request, and the next request is answered.
#[tokio::test(start_paused = true)]
async fn an_ignored_body_is_drained_and_never_parsed_as_a_request() {
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve(move |request: Request<Incoming>| {
        calls.record(&request);
        let path = request.uri().path().to_owned();
        drop(request);
        async move { Response::new(Outgoing::full(path)) }
    });

    // Larger than the body buffer, so most of it is drained, not queued;
    // and it reads like requests.
    let smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3000);
    peer.send(format!(
        "POST /ignores HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{smuggled}\
         GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        smuggled.len()
    ))
    .await;
    assert_eq!(peer.response("POST").await.text(), "/ignores");
    assert_eq!(peer.response("GET").await.text(), "/next");
    assert_eq!(seen.seen(), ["POST /ignores", "GET /next"]);

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a handler that does not read its body yet stops the socket reads
/// (the client's writes block), for longer than the body-read timeout
/// without tripping it; once it reads, every byte arrives.
#[tokio::test(start_paused = true)]
async fn a_slow_body_reader_pushes_back_on_the_client_without_timing_out() {
    const BODY: usize = 4 * 1024 * 1024;
    let (server, client) = tokio::io::duplex(16 * 1024);
    let handler = |mut request: Request<Incoming>| async move {
        // Longer than the 30 s body-read timeout.
        sleep(Duration::from_secs(40)).await;
        let mut received = 0;
        loop {
            let chunk = request.body_mut().read1(64 * 1024).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            received += chunk.len();
        }
        Response::new(Outgoing::full(received.to_string()))
    };
    let served = spawn_server(server, handler, ServerOptions::default());
    let (reader, mut writer) = tokio::io::split(client);
    let mut peer = Peer::new(reader);
    let upload = tokio::spawn(async move {
        let head = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n");
        writer.write_all(head.as_bytes()).await.unwrap();
        writer.write_all(&vec![b'x'; BODY]).await.unwrap();
        writer
    });

    sleep(Duration::from_secs(35)).await;
    assert!(!upload.is_finished(), "the client's writes are held back");
    assert!(!served.is_finished());

    peer.patience = Duration::from_secs(10);
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), BODY.to_string());
    let writer = timeout(PATIENCE, upload).await.unwrap().unwrap();

    drop((peer, writer));
    finished(served).await.unwrap();
}

/// Rule: a head that does not arrive whole within 30 s is answered `408`
/// and the connection closes.
#[tokio::test(start_paused = true)]
async fn a_slow_head_gets_408_after_the_header_read_timeout() {
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve(move |request: Request<Incoming>| {
        calls.record(&request);
        async move { text(200, "never") }
    });
    let start = Instant::now();
    peer.send("GET / HTTP/1.1\r\nHost: x\r\nX-Half").await;

    assert!(peer.is_silent_for(Duration::from_secs(29)).await);
    peer.patience = Duration::from_secs(5);
    let response = peer.response("GET").await;
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    assert_eq!(response.status, 408);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(peer.read_to_eof().await, b"");
    assert!(seen.seen().is_empty());

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a keep-alive connection left idle for 75 s is closed without a
/// word.
#[tokio::test(start_paused = true)]
async fn an_idle_connection_closes_after_the_idle_timeout() {
    let (served, mut peer) = serve(|_: Request<Incoming>| async { text(200, "hi") });
    peer.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(peer.response("GET").await.text(), "hi");

    let idle = Instant::now();
    assert!(peer.is_silent_for(Duration::from_secs(74)).await);
    peer.patience = Duration::from_secs(5);
    assert_eq!(peer.read_to_eof().await, b"", "no bytes, just the close");
    assert_eq!(idle.elapsed(), Duration::from_secs(75));

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a peer that stops reading fails the connection with a timeout
/// once a write has made no progress for the write timeout.
#[tokio::test(start_paused = true)]
async fn a_peer_that_never_reads_fails_the_connection_after_the_write_timeout() {
    let (server, client) = tokio::io::duplex(PIPE);
    let options = ServerOptions {
        write_timeout: Some(Duration::from_secs(30)),
        ..ServerOptions::default()
    };
    let handler =
        |_: Request<Incoming>| async { Response::new(Outgoing::full(vec![b'x'; 8 << 20])) };
    let served = spawn_server(server, handler, options);
    let mut peer = Peer::new(client);
    peer.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n").await;

    let start = Instant::now();
    let ended = timeout(Duration::from_secs(60), served)
        .await
        .expect("the write timeout ended the connection")
        .unwrap();
    let error = ended.expect_err("a stalled write is an error");
    assert!(error.is_timeout(), "{error}");
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

/// Rule: `101` hands the connection to the application, with the bytes the
/// client sent after the request in the same write.
#[tokio::test(start_paused = true)]
async fn upgrade_hands_over_the_connection_with_the_bytes_after_the_request() {
    let tasks = Arc::default();
    let switching = || {
        Response::builder()
            .status(101)
            .header("upgrade", "echo")
            .header("connection", "upgrade")
            .body(Outgoing::empty())
            .unwrap()
    };
    let (served, mut peer) = serve(echo_upgrades(switching, Arc::clone(&tasks)));

    peer.send("GET /chat HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nhello")
        .await;
    let switched = peer.response("GET").await;
    assert_eq!(switched.status, 101);
    assert_eq!(switched.header("upgrade"), Some("echo"));
    assert_eq!(switched.header("connection"), Some("upgrade"));
    assert_eq!(switched.header("content-length"), None);
    assert_eq!(peer.read_exact(5).await, "hello", "the leftover, exactly");
    finished(served).await.unwrap();

    for message in ["ping", "GET / HTTP/1.1\r\n\r\n"] {
        peer.send(message).await;
        assert_eq!(peer.read_exact(message.len()).await, message);
    }
    peer.io.shutdown().await.unwrap();
    assert_eq!(peer.read_to_eof().await, b"");
    let echo = tasks.lock().unwrap().pop().expect("the handler took over");
    timeout(PATIENCE, echo).await.unwrap().unwrap();
}

/// Rule: an upgrade request's own body is HTTP: read (or drained, when the
/// handler ignores it) before the hand-over, never given to the new
/// protocol as its first bytes.
#[tokio::test(start_paused = true)]
async fn an_upgrade_request_body_never_leaks_into_the_new_protocol() {
    let tasks = Arc::default();
    let switching = || {
        Response::builder()
            .status(101)
            .header("upgrade", "echo")
            .header("connection", "upgrade")
            .body(Outgoing::empty())
            .unwrap()
    };
    let (served, mut peer) = serve(echo_upgrades(switching, Arc::clone(&tasks)));
    // The 101 goes out while the body is still arriving.
    peer.send(
        "POST /chat HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\
         Content-Length: 5\r\n\r\n123",
    )
    .await;
    assert_eq!(peer.response("POST").await.status, 101);
    peer.send("45hello").await;
    assert_eq!(
        peer.read_exact(5).await,
        "hello",
        "the body is not the new protocol's"
    );
    finished(served).await.unwrap();
    peer.io.shutdown().await.unwrap();
    assert_eq!(peer.read_to_eof().await, b"");
    let echo = tasks.lock().unwrap().pop().expect("the handler took over");
    timeout(PATIENCE, echo).await.unwrap().unwrap();
}

/// Rule: a 2xx to CONNECT makes the connection a tunnel, handed over like
/// an upgrade.
#[tokio::test(start_paused = true)]
async fn connect_with_200_hands_over_the_connection_as_a_tunnel() {
    let tasks = Arc::default();
    let (served, mut peer) = serve(echo_upgrades(
        || Response::new(Outgoing::empty()),
        Arc::clone(&tasks),
    ));

    peer.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nhello")
        .await;
    let established = peer.response("CONNECT").await;
    assert_eq!(established.status, 200);
    assert_eq!(established.header("content-length"), None);
    assert_eq!(established.header("transfer-encoding"), None);
    assert_eq!(peer.read_exact(5).await, "hello");
    finished(served).await.unwrap();

    peer.send("ping").await;
    assert_eq!(peer.read_exact(4).await, "ping");
    peer.io.shutdown().await.unwrap();
    assert_eq!(peer.read_to_eof().await, b"");
    let echo = tasks.lock().unwrap().pop().expect("the handler took over");
    timeout(PATIENCE, echo).await.unwrap().unwrap();
}

/// A server connection that shuts down gracefully once `shutdown` is
/// notified.
fn serve_until_shutdown<H>(handler: H, shutdown: Arc<Notify>) -> (Served, Peer<DuplexStream>)
where
    H: Handler + Send + 'static,
    H::Future: Send + 'static,
    H::Body: Send + 'static,
    <H::Body as Body>::Error: Into<BoxError>,
{
    let (server, client) = tokio::io::duplex(PIPE);
    let served = tokio::spawn(async move {
        let connection = ServerConnection::new(server, handler, ServerOptions::default());
        tokio::pin!(connection);
        tokio::select! {
            // The shutdown first: bytes that arrive with it must not be
            // read as a new request.
            biased;
            () = shutdown.notified() => {}
            ended = connection.as_mut() => return ended,
        }
        connection.as_mut().graceful_shutdown();
        connection.await
    });
    (served, Peer::new(client))
}

/// Rule: a graceful shutdown answers the requests already read, the last
/// with `Connection: close`, reads no new one, then closes.
#[tokio::test(start_paused = true)]
async fn graceful_shutdown_answers_requests_in_flight_then_closes() {
    let shutdown = Arc::new(Notify::new());
    let (started, mut handlers) = mpsc::unbounded_channel();
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve_until_shutdown(
        move |request: Request<Incoming>| {
            calls.record(&request);
            started.send(()).unwrap();
            async move {
                sleep(Duration::from_secs(2)).await;
                Response::new(Outgoing::full(request.uri().path().to_owned()))
            }
        },
        Arc::clone(&shutdown),
    );

    peer.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    for _ in 0..2 {
        timeout(PATIENCE, handlers.recv()).await.unwrap().unwrap();
    }
    shutdown.notify_one();
    peer.send("GET /3 HTTP/1.1\r\nHost: x\r\n\r\n").await;

    let first = peer.response("GET").await;
    assert_eq!((first.text(), first.header("connection")), ("/1", None));
    let second = peer.response("GET").await;
    assert_eq!(
        (second.text(), second.header("connection")),
        ("/2", Some("close"))
    );
    assert_eq!(peer.read_to_eof().await, b"");
    assert_eq!(seen.seen(), ["GET /1", "GET /2"]);

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: an idle connection shut down gracefully closes at once.
#[tokio::test(start_paused = true)]
async fn graceful_shutdown_of_an_idle_connection_closes_at_once() {
    let shutdown = Arc::new(Notify::new());
    let (served, mut peer) = serve_until_shutdown(
        |_: Request<Incoming>| async { text(200, "hi") },
        Arc::clone(&shutdown),
    );
    peer.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(peer.response("GET").await.text(), "hi");

    let start = Instant::now();
    shutdown.notify_one();
    assert_eq!(peer.read_to_eof().await, b"");
    assert_eq!(start.elapsed(), Duration::ZERO);

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a request with both Content-Length and Transfer-Encoding is
/// answered `400` by the library and closes the connection; nothing after
/// it is processed and the application never sees it.
#[tokio::test(start_paused = true)]
async fn content_length_with_transfer_encoding_gets_400_and_closes() {
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve(move |request: Request<Incoming>| {
        calls.record(&request);
        async move { text(200, "never") }
    });

    peer.send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\
         0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 400);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.text(), "400 Bad Request\n");
    assert_eq!(peer.read_to_eof().await, b"", "/next is not answered");
    assert!(seen.seen().is_empty());

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a response with a hop-by-hop field the application may not set is
/// replaced by a `500`, and the connection goes on.
#[tokio::test(start_paused = true)]
async fn a_response_with_a_hop_by_hop_field_is_answered_500_and_the_connection_goes_on() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        let response = Response::builder();
        let response = match request.uri().path() {
            "/te" => response.header("transfer-encoding", "chunked"),
            "/keep-alive" => response.header("keep-alive", "timeout=5"),
            _ => response,
        };
        response.body(Outgoing::full("fine")).unwrap()
    });

    peer.send(
        "GET /te HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /keep-alive HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /fine HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    for _ in ["/te", "/keep-alive"] {
        let response = peer.response("GET").await;
        assert_eq!(response.status, 500);
        assert_eq!(response.header("connection"), None);
        assert_eq!(response.header("transfer-encoding"), None);
        assert_eq!(response.header("keep-alive"), None);
    }
    let fine = peer.response("GET").await;
    assert_eq!((fine.status, fine.text()), (200, "fine"));

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a response body that fails mid-way leaves the peer a body it can
/// tell is cut (unterminated chunked, or short of its Content-Length), the
/// connection closes, and its future reports the failure.
#[tokio::test(start_paused = true)]
async fn a_failing_response_body_cuts_the_body_and_fails_the_connection() {
    let stream = |_: Request<Incoming>| async {
        let chunks: Vec<Result<&'static str, BoxError>> = vec![Ok("partial"), Err("boom".into())];
        Response::new(Outgoing::from_stream(futures::stream::iter(chunks)))
    };
    let sized = |_: Request<Incoming>| async {
        let body = Frames::new(Some(100)).data("partial").error("boom");
        Response::new(Outgoing::from_body(body))
    };
    let (served_stream, peer_stream) = serve(stream);
    let (served_sized, peer_sized) = serve(sized);

    let cases = [
        (served_stream, peer_stream, "7\r\npartial\r\n"),
        (served_sized, peer_sized, "partial"),
    ];
    for (served, mut peer, cut) in cases {
        peer.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let (head, _) = peer.head("GET").await;
        assert_eq!(head.status, 200);
        assert_eq!(peer.read_to_eof().await, cut.as_bytes());
        let error = finished(served).await.expect_err("the body failed");
        assert!(
            matches!(error, ConnectionError::ResponseBody(_)),
            "{error:?}"
        );
    }
}

/// Rule: a response body of unknown size goes out chunked on HTTP/1.1,
/// with its trailers.
#[tokio::test(start_paused = true)]
async fn a_body_of_unknown_size_goes_chunked_with_its_trailers() {
    let (served, mut peer) = serve(|_: Request<Incoming>| async {
        let body = Frames::new(None)
            .data("hello ")
            .data("world")
            .trailer("x-checksum", "abc");
        Response::new(Outgoing::from_body(body))
    });
    peer.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let response = peer.response("GET").await;
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.header("content-length"), None);
    assert_eq!(response.text(), "hello world");
    assert_eq!(
        response.trailers.get("x-checksum").map(|v| v.as_ref()),
        Some(&b"abc"[..])
    );

    peer.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(peer.response("GET").await.text(), "hello world", "kept");

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a body of unknown size to an HTTP/1.0 request is delimited by the
/// close, never chunked; trailers that cannot go with it are an error,
/// not silently dropped.
#[tokio::test(start_paused = true)]
async fn a_body_of_unknown_size_on_http10_runs_until_close() {
    let plain = |_: Request<Incoming>| async {
        Response::new(Outgoing::from_body(
            Frames::new(None).data("hello ").data("world"),
        ))
    };
    let with_trailers = |_: Request<Incoming>| async {
        let body = Frames::new(None)
            .data("hello ")
            .data("world")
            .trailer("x-checksum", "abc");
        Response::new(Outgoing::from_body(body))
    };
    let (served_plain, peer_plain) = serve(plain);
    let (served_trailers, peer_trailers) = serve(with_trailers);

    for (served, mut peer, trailers) in [
        (served_plain, peer_plain, false),
        (served_trailers, peer_trailers, true),
    ] {
        peer.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        let response = peer.response("GET").await;
        assert_eq!(response.version, Version::Http10);
        assert_eq!(response.header("transfer-encoding"), None);
        assert_eq!(response.header("content-length"), None);
        assert_eq!(response.header("connection"), None, "not kept alive");
        assert_eq!(response.text(), "hello world");
        let ended = finished(served).await;
        assert_eq!(ended.is_err(), trailers, "{ended:?}");
    }
}

/// Rule: a response to HEAD keeps its Content-Length and has no body; a
/// `204` has neither, even if the application gave it bytes.
#[tokio::test(start_paused = true)]
async fn head_and_204_responses_carry_no_body() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        match request.uri().path() {
            "/none" => text(204, "ignored"),
            _ => text(200, "hello"),
        }
    });

    peer.send(
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /none HTTP/1.1\r\nHost: x\r\n\r\n\
         GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    // The peer frames each response by its request, so a stray body byte
    // would break the next head.
    let head = peer.response("HEAD").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("5"));
    let none = peer.response("GET").await;
    assert_eq!(none.status, 204);
    assert_eq!(none.header("content-length"), None);
    assert_eq!(none.header("transfer-encoding"), None);
    let get = peer.response("GET").await;
    assert_eq!((get.status, get.text()), (200, "hello"));

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: `Connection: close` on a pipelined request makes its response the
/// last; the requests after it are never handled.
#[tokio::test(start_paused = true)]
async fn connection_close_mid_pipeline_ends_the_connection_after_its_response() {
    let calls = Calls::default();
    let seen = calls.clone();
    let (served, mut peer) = serve(move |request: Request<Incoming>| {
        calls.record(&request);
        async move { text(200, "ok") }
    });

    peer.send(
        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n\
         GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let first = peer.response("GET").await;
    assert_eq!(first.header("connection"), None);
    let second = peer.response("GET").await;
    assert_eq!(second.header("connection"), Some("close"));
    assert_eq!(peer.read_to_eof().await, b"", "no third response");
    assert_eq!(seen.seen(), ["GET /1", "GET /2"]);

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: an HTTP/1.0 request without keep-alive is answered in HTTP/1.0
/// and the connection closes.
#[tokio::test(start_paused = true)]
async fn http10_without_keep_alive_is_answered_in_http10_then_closed() {
    let (served, mut peer) = serve(|_: Request<Incoming>| async { text(200, "old") });
    peer.send("GET / HTTP/1.0\r\n\r\n").await;
    let response = peer.response("GET").await;
    assert!(response.head.starts_with(b"HTTP/1.0 200 "), "{response:?}");
    assert_eq!(response.header("content-length"), Some("3"));
    assert_eq!(response.header("connection"), None, "1.0 closes by default");
    assert_eq!(response.text(), "old");
    assert_eq!(peer.read_to_eof().await, b"");

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: an HTTP/1.0 request that asks for keep-alive gets it when the
/// response length is known.
#[tokio::test(start_paused = true)]
async fn http10_keep_alive_is_kept_when_asked_for() {
    let (served, mut peer) = serve(|_: Request<Incoming>| async { text(200, "old") });
    for _ in 0..2 {
        peer.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await;
        let response = peer.response("GET").await;
        assert_eq!(response.version, Version::Http10);
        assert_eq!(response.header("connection"), Some("keep-alive"));
        assert_eq!(response.text(), "old");
    }

    drop(peer);
    finished(served).await.unwrap();
}

/// Rule: a peer that does not read holds the response's producer back —
/// the connection stops polling the body once its write buffer is full, so
/// memory stays bounded however much the application could produce.
#[tokio::test(start_paused = true)]
async fn a_peer_that_does_not_read_holds_the_producer_back() {
    const CHUNK: usize = 16 * 1024;
    let produced = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&produced);
    let (served, mut peer) = serve(move |_request: Request<Incoming>| {
        let counter = Arc::clone(&counter);
        async move {
            // An endless body: each chunk counted as it is taken.
            let chunks = futures::stream::repeat_with(move || {
                counter.fetch_add(CHUNK, Ordering::SeqCst);
                Ok::<_, io::Error>(Bytes::from(vec![b'x'; CHUNK]))
            });
            Response::new(Outgoing::from_stream(chunks))
        }
    });
    peer.send("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n").await;
    sleep(Duration::from_secs(10)).await;
    let taken = produced.load(Ordering::SeqCst);
    let bound = ServerOptions::default().proto.write_buffer + PIPE + 2 * CHUNK;
    assert!(
        taken <= bound,
        "{taken} bytes produced for a peer that reads nothing (bound {bound})"
    );
    assert!(taken > 0, "the response started");
    drop(peer);
    assert!(
        finished(served).await.is_err(),
        "the peer went away mid-body"
    );
}

/// Rule: a response that closes the connection leaves the requests
/// pipelined behind it unanswered — their handlers are dropped, nothing is
/// reported as an invalid response, and the connection ends cleanly.
#[tokio::test(start_paused = true)]
async fn requests_behind_a_closing_response_are_dropped_quietly() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        let mut response = text(200, "bye");
        if request.uri().path() == "/first" {
            response
                .headers_mut()
                .insert("connection", "close".parse().unwrap());
        }
        response
    });
    peer.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let response = peer.response("GET").await;
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(peer.read_to_eof().await, b"", "nothing for /second");
    finished(served).await.expect("a clean end, not an error");
}

/// Rule: settings that could only fail every response are made safe:
/// an unwritable `Server` value is left out, a zero body buffer holds one
/// chunk.
#[tokio::test(start_paused = true)]
async fn odd_settings_do_not_stall_the_connection() {
    let mut options = ServerOptions::default();
    options.proto.server_header = Some("bad\r\nvalue".to_owned());
    options.body_buffer = 0;
    let (server, client) = tokio::io::duplex(PIPE);
    let served = spawn_server(server, echo_body, options);
    let mut peer = Peer::new(client);
    peer.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        .await;
    let response = peer.response("POST").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");
    assert_eq!(response.header("server"), None);
    finished(served).await.unwrap();
}

/// Rule: a peer that pipelines requests and reads nothing does not make the
/// connection compute their responses ahead: once the bytes waiting to be
/// written pass the write buffer, no further request is parsed or handed
/// to a handler and the handlers behind the oldest are not run — until
/// the peer reads. (Before, each of up to 16 pipelined requests got its
/// complete response built and held.)
#[tokio::test(start_paused = true)]
async fn a_peer_that_pipelines_and_does_not_read_gets_no_responses_computed_ahead() {
    const BODY: usize = 1024 * 1024;
    let built = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&built);
    let (served, mut peer) = serve(move |_request: Request<Incoming>| {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            Response::new(Outgoing::full(vec![b'x'; BODY]))
        }
    });
    let requests = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(30);
    peer.send(requests.as_str()).await;
    sleep(Duration::from_secs(5)).await;
    let held = built.load(Ordering::SeqCst);
    assert!(
        held <= 2,
        "{held} responses of 1 MiB built for a peer that reads nothing"
    );

    // Once the peer reads, every request is answered, in order.
    peer.patience = Duration::from_secs(30);
    for _ in 0..30 {
        let response = peer.response("GET").await;
        assert_eq!(response.body.len(), BODY);
    }
    assert_eq!(built.load(Ordering::SeqCst), 30);
    drop(peer);
    finished(served).await.unwrap();
}

/// A handler whose future panics costs its request a `500`; the requests
/// pipelined around it are answered and the connection ends normally.
#[tokio::test]
async fn a_panicking_handler_future_is_answered_500_and_the_connection_goes_on() {
    let (served, mut peer) = serve(|request: Request<Incoming>| async move {
        if request.uri().path() == "/panic" {
            panic!("the handler panicked (expected by this test)");
        }
        text(200, "fine")
    });
    peer.send(
        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /panic HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(peer.response("GET").await.status, 200);
    assert_eq!(peer.response("GET").await.status, 500);
    assert_eq!(peer.response("GET").await.status, 200);
    drop(peer);
    finished(served).await.unwrap();
}
