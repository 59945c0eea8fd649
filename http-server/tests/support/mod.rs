//! Shared helpers of the black-box tests: a raw-bytes client that reads
//! exactly one response at a time (framed by `gruvi-wire` and decoded by
//! `gruvi-body`, so a stray byte between responses is caught), the `echo`
//! service of `examples/echo.rs`, and small services the tests combine.
//!
//! Every wait is bounded by [`LIMIT`]: a test that would hang fails instead.

#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gruvi_body::{ChunkedLimits, Decoder, Frame, Incoming, Outgoing};
use gruvi_server::{Address, ReceivedHead};
use gruvi_wire::{BodyFraming, Limits, Status, parse_response, response_framing};
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The bound on every wait of a test.
pub(crate) const LIMIT: Duration = Duration::from_secs(10);

/// The TCP address of a listener.
pub(crate) fn tcp(address: &Address) -> SocketAddr {
    match address {
        Address::Tcp(addr) => *addr,
        other => panic!("not a TCP address: {other:?}"),
    }
}

/// A raw-bytes HTTP client over any stream.
#[derive(Debug)]
pub(crate) struct Client<S = TcpStream> {
    pub(crate) stream: S,
    /// Bytes read and not yet consumed by a response.
    pub(crate) buf: BytesMut,
    eof: bool,
}

/// One response as it arrived.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    /// The head's bytes, status line to the empty line.
    pub(crate) head: Bytes,
    pub(crate) status: u16,
    /// Fields in received order and case.
    pub(crate) headers: Vec<(String, Bytes)>,
    pub(crate) body: Bytes,
    pub(crate) trailers: Vec<(String, Bytes)>,
    /// How the body was framed.
    pub(crate) framing: BodyFraming,
}

impl Response {
    /// The status line, e.g. `HTTP/1.1 200 OK`.
    pub(crate) fn status_line(&self) -> &str {
        let end = self
            .head
            .iter()
            .position(|&b| b == b'\r')
            .unwrap_or(self.head.len());
        std::str::from_utf8(&self.head[..end]).expect("ASCII status line")
    }

    /// The one value of `name` (case-insensitive); panics on duplicates.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let values: Vec<&Bytes> = self.headers_named(name).collect();
        assert!(values.len() <= 1, "more than one {name}: {self:?}");
        values
            .first()
            .map(|v| std::str::from_utf8(v).expect("ASCII field value"))
    }

    /// Every value of `name`, in order.
    pub(crate) fn headers_named<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = &'a Bytes> + use<'a> {
        let name = name.to_owned();
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v)
    }

    /// Returns `true` if the `Connection` field lists `close`.
    pub(crate) fn closes(&self) -> bool {
        self.headers_named("connection").any(|v| {
            v.split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        })
    }

    pub(crate) fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

impl Client<TcpStream> {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let stream = timeout(LIMIT, TcpStream::connect(addr))
            .await
            .expect("connect timed out")
            .expect("connect failed");
        Client::new(stream)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub(crate) fn new(stream: S) -> Self {
        Client {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            eof: false,
        }
    }

    /// Writes `bytes` whole.
    pub(crate) async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        timeout(LIMIT, self.stream.write_all(bytes.as_ref()))
            .await
            .expect("write timed out")
            .expect("write failed");
    }

    /// Reads more bytes into the buffer; `false` at EOF.
    async fn fill(&mut self) -> bool {
        if self.eof {
            return false;
        }
        let n = timeout(LIMIT, self.stream.read_buf(&mut self.buf))
            .await
            .expect("read timed out")
            .expect("read failed");
        if n == 0 {
            self.eof = true;
        }
        n > 0
    }

    /// Reads exactly one response (an interim 1xx counts as one) to a
    /// request with `method`.
    pub(crate) async fn response_to(&mut self, method: &str) -> Response {
        match self.try_response_to(method).await {
            Some(response) => response,
            None => panic!("EOF where a response was expected"),
        }
    }

    /// A response to a GET (or any method but HEAD and CONNECT).
    pub(crate) async fn response(&mut self) -> Response {
        self.response_to("GET").await
    }

    /// A response, or `None` at a clean EOF before its first byte.
    pub(crate) async fn try_response_to(&mut self, method: &str) -> Option<Response> {
        let limits = Limits::default();
        let (head, status, headers, framing) = loop {
            if !self.buf.is_empty() {
                match parse_response(&self.buf, &limits) {
                    Ok(Status::Complete(head, consumed)) => {
                        let framing = response_framing(method.as_bytes(), &head, &self.buf)
                            .unwrap_or_else(|e| panic!("unframeable response: {e}"));
                        let headers = head
                            .fields()
                            .iter()
                            .map(|f| {
                                let name = String::from_utf8(f.name(&self.buf).to_vec())
                                    .expect("ASCII field name");
                                (name, Bytes::copy_from_slice(&f.value(&self.buf)))
                            })
                            .collect::<Vec<_>>();
                        let status = head.status();
                        let bytes = self.buf.split_to(consumed).freeze();
                        break (bytes, status, headers, framing.body);
                    }
                    Ok(Status::Partial) => {}
                    Err(e) => panic!("malformed response ({e}): {:?}", self.buf),
                }
            }
            if !self.fill().await {
                assert!(
                    self.buf.is_empty(),
                    "EOF inside a response head: {:?}",
                    self.buf
                );
                return None;
            }
        };
        let mut decoder = match framing {
            BodyFraming::Empty => Decoder::length(0),
            BodyFraming::Length(n) => Decoder::length(n),
            BodyFraming::Chunked => Decoder::chunked(ChunkedLimits::default()),
            BodyFraming::UntilClose => Decoder::until_close(),
            BodyFraming::Tunnel => panic!("unexpected tunnel"),
        };
        let mut body = BytesMut::new();
        let trailers = loop {
            match decoder.decode_input(&mut self.buf, self.eof) {
                Ok(Some(Frame::Data(data))) => body.extend_from_slice(&data),
                Ok(Some(Frame::End(trailers))) => break trailers,
                Ok(None) => {
                    self.fill().await;
                }
                Err(e) => panic!("bad response body ({e}) after {head:?}"),
            }
        };
        let trailers = trailers
            .fields()
            .iter()
            .map(|(n, v)| (String::from_utf8(n.to_vec()).expect("ASCII"), v.clone()))
            .collect();
        Some(Response {
            head,
            status,
            headers,
            body: body.freeze(),
            trailers,
            framing,
        })
    }

    /// Reads everything up to EOF (what is buffered included).
    pub(crate) async fn read_to_eof(&mut self) -> Bytes {
        while self.fill().await {}
        self.buf.split().freeze()
    }

    /// Asserts that the server closes the connection without another byte.
    pub(crate) async fn expect_eof(&mut self) {
        let rest = self.read_to_eof().await;
        assert!(
            rest.is_empty(),
            "bytes after the last response: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// One request, one response.
    pub(crate) async fn exchange(&mut self, request: impl AsRef<[u8]>) -> Response {
        self.send(request).await;
        self.response().await
    }
}

/// A GET request for `target` on HTTP/1.1.
pub(crate) fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// A POST request for `target` with a Content-Length body.
pub(crate) fn post(target: &str, body: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Bytes as ISO-8859-1 text: byte n becomes code point n.
fn latin1(bytes: &[u8]) -> Value {
    Value::String(bytes.iter().map(|&b| char::from(b)).collect())
}

fn pairs<'a>(fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Value {
    Value::Array(
        fields
            .into_iter()
            .map(|(name, value)| json!([latin1(name), latin1(value)]))
            .collect(),
    )
}

/// The service of `examples/echo.rs` with its default `--max-body`: each
/// request as JSON.
pub(crate) async fn echo(
    request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let received = parts.extensions.get::<ReceivedHead>();
    let fields = received.map(ReceivedHead::fields).unwrap_or_default();
    let target = received.and_then(ReceivedHead::target).unwrap_or_default();
    let (status, description) = match body.read_to_end_max(8 * 1024 * 1024).await {
        Ok(data) => {
            let trailers = body
                .trailers()
                .map(|t| t.fields().to_vec())
                .unwrap_or_default();
            let version = if parts.version == http::Version::HTTP_10 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            };
            let description = json!({
                "method": parts.method.as_str(),
                "target": latin1(&target),
                "version": version,
                "headers": pairs(fields.iter().map(|(n, v)| (&n[..], &v[..]))),
                "body": latin1(&data),
                "trailers": pairs(trailers.iter().map(|(n, v)| (&n[..], &v[..]))),
            });
            (http::StatusCode::OK, description)
        }
        Err(error) => (
            http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST),
            json!({ "error": error.to_string() }),
        ),
    };
    let mut response = http::Response::new(Outgoing::full(Bytes::from(description.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

/// Answers each request with its path.
pub(crate) async fn path(
    request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    Ok(http::Response::new(Outgoing::full(
        request.uri().path().to_owned(),
    )))
}

/// Counts the calls of a service.
#[derive(Clone, Debug, Default)]
pub(crate) struct Calls(Arc<AtomicUsize>);

impl Calls {
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn add(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A service as the tests hand it to the server.
pub(crate) type Boxed =
    tower::util::BoxCloneService<http::Request<Incoming>, http::Response<Outgoing>, Infallible>;

/// `echo`, counting its calls.
pub(crate) fn counted_echo() -> (Boxed, Calls) {
    let calls = Calls::default();
    let counter = calls.clone();
    let service = tower::service_fn(move |request| {
        counter.add();
        echo(request)
    });
    (Boxed::new(service), calls)
}

/// The `target` field of an echo response.
pub(crate) fn echoed_target(response: &Response) -> String {
    response.json()["target"]
        .as_str()
        .unwrap_or_else(|| panic!("no target in {:?}", response.body))
        .to_owned()
}
