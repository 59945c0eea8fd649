//! [`HttpClient`]: `request()` then `getresponse()` over one connection,
//! pipelined.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gruvi_body::{BodyWriter, Outgoing};
use gruvi_conn::client::{RequestError, ResponseFuture};
use gruvi_conn::proto::{BodySize, PreparedRequest, RequestFields};
use gruvi_wire::{BodyFraming, HeadText, Limits, Version};

use crate::connect::{Connection, Connector, Target, open};
use crate::error::HttpError;
use crate::response::HttpResponse;

/// What `User-Agent` says unless the caller sets one.
const USER_AGENT: &str = concat!("gruvi/", env!("CARGO_PKG_VERSION"));

/// The most bytes a response body read whole collects, by default.
const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;

/// Bytes of a hand-written body waiting to be sent before `write` waits.
const WRITE_BUFFER: usize = 64 * 1024;

/// A request body, as [`HttpClient::request`] takes it.
#[derive(Debug)]
#[non_exhaustive]
pub enum RequestBody {
    /// No body.
    Empty,
    /// Bytes, sent with Content-Length.
    Bytes(Bytes),
    /// Text, encoded by the `charset` of the request's Content-Type
    /// (ISO-8859-1 when none is given; text it cannot encode is an error),
    /// sent with Content-Length.
    Text(String),
    /// A body of any kind — a reader, a stream, an `http_body::Body` — sent
    /// chunked unless its size is exact (see [`Outgoing`]).
    Outgoing(Outgoing),
    /// Written by hand through [`HttpRequest::write`] and
    /// [`HttpRequest::end_request`]: chunked, or
    /// with the caller's Content-Length when it gives one.
    Manual,
}

impl From<&str> for RequestBody {
    fn from(text: &str) -> Self {
        RequestBody::Text(text.to_owned())
    }
}

impl From<String> for RequestBody {
    fn from(text: String) -> Self {
        RequestBody::Text(text)
    }
}

impl From<&[u8]> for RequestBody {
    fn from(data: &[u8]) -> Self {
        RequestBody::Bytes(Bytes::copy_from_slice(data))
    }
}

impl From<Vec<u8>> for RequestBody {
    fn from(data: Vec<u8>) -> Self {
        RequestBody::Bytes(Bytes::from(data))
    }
}

impl From<Bytes> for RequestBody {
    fn from(data: Bytes) -> Self {
        RequestBody::Bytes(data)
    }
}

impl From<Outgoing> for RequestBody {
    fn from(body: Outgoing) -> Self {
        RequestBody::Outgoing(body)
    }
}

impl<T: Into<RequestBody>> From<Option<T>> for RequestBody {
    /// `None`: a body written by hand ([`RequestBody::Manual`]).
    fn from(body: Option<T>) -> Self {
        body.map_or(RequestBody::Manual, Into::into)
    }
}

/// An HTTP client on one connection, with a timeout for each network
/// operation.
///
/// Requests are written as soon as they are made; several can be made
/// before the first response is read (pipelining), and
/// [`getresponse`](Self::getresponse) returns the responses in request
/// order, exactly once per request. Read each response's body before
/// asking for the next response.
///
/// ```no_run
/// # async fn run() -> Result<(), gruvi_client::HttpError> {
/// use gruvi_client::{HttpClient, RequestBody};
///
/// let mut client = HttpClient::new().timeout(std::time::Duration::from_secs(10));
/// client.connect("127.0.0.1:8080").await?;
/// client.request("GET", "/a", &[], RequestBody::Empty).await?;
/// client.request("GET", "/b", &[], RequestBody::Empty).await?;
/// let mut first = client.getresponse().await?;
/// let body = first.read_to_end().await?;
/// let mut second = client.getresponse().await?;
/// # let _ = (body, second.read_to_end().await?);
/// # Ok(()) }
/// ```
pub struct HttpClient {
    timeout: Option<Duration>,
    max_body: Option<u64>,
    version: http::Version,
    connector: Connector,
    connection: Option<Connected>,
    /// Responses owed, oldest first.
    owed: VecDeque<ResponseFuture>,
    /// Set while the last response returned still has body to read.
    unread: Option<Arc<AtomicBool>>,
}

struct Connected {
    connection: Connection,
    /// The origin's scheme and authority (`http://host:port`): a path
    /// requested becomes a URL on it.
    base: String,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.timeout)
            .field("version", &self.version)
            .field("connected", &self.connection.as_ref().map(|c| &c.base))
            .field("owed", &self.owed.len())
            .finish_non_exhaustive()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    /// A client without a connection, speaking HTTP/1.1, without timeout.
    pub fn new() -> Self {
        HttpClient {
            timeout: None,
            max_body: Some(DEFAULT_MAX_BODY),
            version: http::Version::HTTP_11,
            connector: Connector::default(),
            connection: None,
            owed: VecDeque::new(),
            unread: None,
        }
    }

    /// The longest a network operation may take — connecting, each write,
    /// each wait for a response or for more of its body. Without it the
    /// connection's own defaults apply: 30 s to connect, 30 s for a write
    /// to make progress, 60 s for a response head once its request is
    /// sent, 60 s between bytes of a response body.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self.connector.timeout = Some(timeout);
        self.connector.options.write_timeout = Some(timeout);
        self.connector.options.proto.response_timeout = Some(timeout);
        self.connector.options.proto.body_read_timeout = Some(timeout);
        self
    }

    /// Time allowed for a response head once its request is sent (`None`:
    /// as long as the server takes). Default 60 s.
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connector.options.proto.response_timeout = timeout;
        self
    }

    /// Time allowed between bytes of a response body (`None`: no limit).
    /// Default 60 s.
    pub fn body_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connector.options.proto.body_read_timeout = timeout;
        self
    }

    /// Time allowed to connect (TCP, and the TLS handshake). Default 30 s.
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connector.timeout = timeout;
        self
    }

    /// The most bytes [`HttpResponse::read_to_end`] collects: a larger body
    /// fails with an error naming the limit (`None`: no limit). Default
    /// 64 MiB. Reading in pieces (`read`, `read1`, the body's frames) is
    /// bounded by backpressure whatever this is.
    pub fn max_body(mut self, max: Option<u64>) -> Self {
        self.max_body = max;
        self
    }

    /// Speaks HTTP/1.0 instead of HTTP/1.1 (no chunked bodies, no
    /// pipelining: each request closes its connection).
    pub fn http10(mut self) -> Self {
        self.version = http::Version::HTTP_10;
        self
    }

    /// Limits on response heads.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.connector.options.proto.limits = limits;
        self
    }

    /// The TLS configuration for `https` targets (root certificates and
    /// more); the server is named by the target's host (SNI).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<tokio_rustls::rustls::ClientConfig>) -> Self {
        self.connector.tls = Some(config);
        self
    }

    /// Connects to `target` (`"host:port"`, a URL, a `SocketAddr`, or
    /// [`Target::unix`]), closing any previous connection.
    pub async fn connect<T>(&mut self, target: T) -> Result<(), HttpError>
    where
        T: TryInto<Target>,
        HttpError: From<T::Error>,
    {
        let target = target.try_into()?;
        self.close();
        let connection = open(&target, &self.connector).await?;
        self.connection = Some(Connected {
            connection,
            base: target.base_url(),
        });
        Ok(())
    }

    /// Closes the connection at once; responses not yet returned are lost.
    pub fn close(&mut self) {
        if let Some(connected) = self.connection.take() {
            connected.connection.abort();
        }
        self.owed.clear();
        self.unread = None;
    }

    /// Makes a request: checks it, then sends its head and — unless the
    /// body is [`RequestBody::Manual`] — its body. `url` is a path
    /// (`/a?b`) on the connected origin, or an absolute URL on it (another
    /// origin is refused). `Host` (the URL's authority) and `User-Agent`
    /// are added unless given; every field must be ISO-8859-1 text and none
    /// may be hop-by-hop (except `Connection: close`, `TE: trailers` to
    /// accept trailers, and what an `Upgrade` needs), else nothing is sent.
    pub async fn request(
        &mut self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<RequestBody>,
    ) -> Result<HttpRequest, HttpError> {
        let Some(connected) = &self.connection else {
            return Err(HttpError::misuse("not connected: call connect() first"));
        };
        let uri = request_uri(connected, url, headers)?;
        let method = http::Method::from_bytes(method.as_bytes())
            .map_err(|_| HttpError::misuse(format!("invalid method {method:?}")))?;
        let version = Version::from_http(self.version);

        let (fields, content_type) = fields_as_given(headers)?;
        let prepare = |size: BodySize| {
            let fields = RequestFields::Given(&fields);
            PreparedRequest::from_http(&method, &uri, version, fields, size, false)
                .map_err(|e| HttpError::from(RequestError::Local(e)))
        };

        let mut writer = None;
        let (prepared, body) = match body.into() {
            // Written by hand: chunked, or the caller's Content-Length (the
            // connection decides which).
            RequestBody::Manual => {
                let prepared = prepare(BodySize::Unknown)?;
                let (hand, body) = match prepared.body_framing() {
                    BodyFraming::Length(n) => Outgoing::channel_with_length(WRITE_BUFFER, n),
                    _ => Outgoing::channel(WRITE_BUFFER),
                };
                writer = Some(hand);
                (prepared, body)
            }
            other => {
                let body = match other {
                    RequestBody::Empty | RequestBody::Manual => Outgoing::empty(),
                    RequestBody::Bytes(data) => Outgoing::full(data),
                    RequestBody::Text(text) => Outgoing::text(&text, content_type.as_deref())?,
                    RequestBody::Outgoing(body) => body,
                };
                (prepare(BodySize::of(&body))?, body)
            }
        };
        let chunked = prepared.body_framing() == BodyFraming::Chunked;
        self.owed
            .push_back(connected.connection.send.send_prepared(prepared, body));
        Ok(HttpRequest {
            writer,
            chunked,
            timeout: self.timeout,
        })
    }

    /// Waits for the next response (in request order) within the client's
    /// timeout; see [`getresponse_within`](Self::getresponse_within).
    pub async fn getresponse(&mut self) -> Result<HttpResponse, HttpError> {
        self.getresponse_within(self.timeout).await
    }

    /// Waits for the next response, at most `timeout` (`None`: no limit).
    /// Only its head has been read when this returns. It is an error to call
    /// this with no request outstanding, or while the previous response's
    /// body is not fully read (responses come in order, each read whole
    /// before the next).
    pub async fn getresponse_within(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse, HttpError> {
        if self
            .unread
            .as_ref()
            .is_some_and(|u| u.load(Ordering::Acquire))
        {
            return Err(HttpError::misuse(
                "the previous response's body has not been read",
            ));
        }
        let Some(pending) = self.owed.front_mut() else {
            return Err(HttpError::misuse("no request is waiting for a response"));
        };
        // Taken off the queue only once it came: after a timeout, the next
        // call waits for the same response.
        let response = within(timeout, "the response", pending).await?;
        self.owed.pop_front();
        let response = response?;
        let response = HttpResponse::new(response, self.timeout, self.max_body);
        self.unread = Some(response.unread_flag());
        Ok(response)
    }
}

/// The URI of a request on `connected`: an absolute URL on its origin (one
/// for another is refused: it would reach the wrong server), or a path on
/// it. `Host` is its authority.
fn request_uri(
    connected: &Connected,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<http::Uri, HttpError> {
    if !url.contains("://") {
        let path = if url.is_empty() { "/" } else { url };
        let uri = format!("{}{path}", connected.base);
        return http::Uri::try_from(uri)
            .map_err(|_| HttpError::misuse(format!("invalid request target {url:?}")));
    }
    let url = gruvi_wire::parse_url(url, "http")?;
    let uri = format!("{}://{}{}", url.scheme(), url.authority(), url.target());
    let uri =
        http::Uri::try_from(uri).map_err(|_| HttpError::misuse(format!("invalid URL {url}")))?;
    if let Some(origin) = &connected.connection.origin {
        let host = || {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("host"))
                .map(|(_, v)| v.as_bytes())
        };
        origin.admits(&uri, host)?;
    }
    Ok(uri)
}

/// Name and value pairs, in order.
type Fields = Vec<(Bytes, Bytes)>;

/// The fields as given (order, case) as ISO-8859-1 bytes — the connection
/// checks them — with `User-Agent` added unless given; and the
/// Content-Type, whose charset encodes a text body.
fn fields_as_given(headers: &[(&str, &str)]) -> Result<(Fields, Option<Bytes>), HttpError> {
    let mut fields = Vec::with_capacity(headers.len() + 1);
    let mut content_type = None;
    for (name, value) in headers {
        let latin1 = |text: &str| {
            text.head_bytes()
                .map(|bytes| Bytes::from(bytes.into_owned()))
                .map_err(|c| {
                    HttpError::misuse(format!(
                        "invalid request: field {name:?} holds {c:?}, which ISO-8859-1 cannot express"
                    ))
                })
        };
        let (name_bytes, value_bytes) = (latin1(name)?, latin1(value)?);
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value_bytes.clone());
        }
        fields.push((name_bytes, value_bytes));
    }
    if !headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
    {
        fields.push((
            Bytes::from_static(b"User-Agent"),
            Bytes::from_static(USER_AGENT.as_bytes()),
        ));
    }
    Ok((fields, content_type))
}

/// `future`, failing with a timeout error after `limit`.
pub(crate) async fn within<F: Future>(
    limit: Option<Duration>,
    what: &'static str,
    future: F,
) -> Result<F::Output, HttpError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .map_err(|_| HttpError::timeout(what)),
        None => Ok(future.await),
    }
}

/// A request made by [`HttpClient::request`]; with a body written by hand
/// ([`RequestBody::Manual`]), its [`write`](Self::write) and
/// [`end_request`](Self::end_request) send it.
#[derive(Debug)]
pub struct HttpRequest {
    writer: Option<BodyWriter>,
    chunked: bool,
    timeout: Option<Duration>,
}

impl HttpRequest {
    /// Sends body bytes, waiting (within the client's timeout) while the
    /// connection has too many unsent.
    pub async fn write(&mut self, data: impl Into<Bytes>) -> Result<(), HttpError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(HttpError::misuse(
                "this request's body was given to request(): nothing to write",
            ));
        };
        within(self.timeout, "the body to be sent", writer.write(data)).await??;
        Ok(())
    }

    /// Ends the body, with `trailers` — which need chunked encoding: with
    /// a Content-Length or on HTTP/1.0 they are an error.
    pub async fn end_request(&mut self, trailers: &[(&str, &str)]) -> Result<(), HttpError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(HttpError::misuse(
                "this request's body was given to request(): nothing to end",
            ));
        };
        if !trailers.is_empty() && !self.chunked {
            return Err(HttpError::misuse(
                "trailers need chunked encoding (not with Content-Length or HTTP/1.0)",
            ));
        }
        writer.end(trailers)?;
        Ok(())
    }
}
