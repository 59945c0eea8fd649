//! [`HttpResponse`]: a response head as received, and its body's reader.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gruvi_body::Incoming;
use gruvi_conn::ReceivedHead;
use gruvi_wire::latin1_text;

use crate::client::within;
use crate::error::HttpError;

/// A response returned by [`HttpClient::getresponse`](crate::HttpClient::getresponse):
/// the head is read; the body is read through `read` and friends, each
/// wait bounded by the client's timeout.
pub struct HttpResponse {
    head: http::response::Parts,
    body: Incoming,
    reason: String,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    /// The most bytes `read_to_end` collects.
    max_body: Option<u64>,
    /// Shared with the client: set while body bytes remain to be read.
    unread: Arc<AtomicBool>,
    /// A read that timed out may have taken bytes it never returned (the
    /// reads are not cancel-safe): every later read fails the same way.
    broken: Option<HttpError>,
}

fn lookup<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl HttpResponse {
    pub(crate) fn new(
        response: http::Response<Incoming>,
        timeout: Option<Duration>,
        max_body: Option<u64>,
    ) -> Self {
        let (head, body) = response.into_parts();
        let received = head.extensions.get::<ReceivedHead>();
        let reason = received
            .and_then(ReceivedHead::reason)
            .map_or_else(String::new, |r| latin1_text(&r));
        let headers = received
            .map(ReceivedHead::fields)
            .unwrap_or_default()
            .iter()
            .map(|(n, v)| (latin1_text(n), latin1_text(v)))
            .collect();
        let unread = Arc::new(AtomicBool::new(!body.is_end()));
        HttpResponse {
            head,
            body,
            reason,
            headers,
            timeout,
            max_body,
            unread,
            broken: None,
        }
    }

    pub(crate) fn unread_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.unread)
    }

    /// The version as (major, minor): `(1, 1)` or `(1, 0)`.
    pub fn version(&self) -> (u8, u8) {
        if self.head.version == http::Version::HTTP_10 {
            (1, 0)
        } else {
            (1, 1)
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status.as_u16()
    }

    /// The reason phrase as received (possibly empty).
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The fields in received order and case, duplicates kept; values as
    /// ISO-8859-1 text, folded values unfolded.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first field named `name` (any case), or `default`.
    pub fn get_header<'a>(&'a self, name: &str, default: Option<&'a str>) -> Option<&'a str> {
        lookup(&self.headers, name).or(default)
    }

    /// The trailers, once the body has been read to its end (empty when the
    /// server sent none); `None` before.
    pub fn trailers(&self) -> Option<Vec<(String, String)>> {
        let trailers = self.body.trailers()?;
        Some(
            trailers
                .fields()
                .iter()
                .map(|(n, v)| (latin1_text(n), latin1_text(v)))
                .collect(),
        )
    }

    /// The first trailer named `name` (any case), or `default`; `None`
    /// before the body has been read.
    pub fn get_trailer(&self, name: &str, default: Option<&str>) -> Option<String> {
        let trailers = self.trailers()?;
        lookup(&trailers, name)
            .map(str::to_owned)
            .or_else(|| default.map(str::to_owned))
    }

    /// The body's reader itself. Reading through it, the caller takes over
    /// the rule that a body is read before the next `getresponse`: the
    /// client no longer checks it for this response.
    pub fn body(&mut self) -> &mut Incoming {
        self.unread.store(false, Ordering::Release);
        &mut self.body
    }

    /// Reads `n` bytes, or fewer at the end (empty once it is reached).
    pub async fn read(&mut self, n: usize) -> Result<Bytes, HttpError> {
        self.usable()?;
        let read = within(self.timeout, "the response body", self.body.read(n)).await;
        self.settle(read)
    }

    /// Reads up to `n` bytes, whatever is there first.
    pub async fn read1(&mut self, n: usize) -> Result<Bytes, HttpError> {
        self.usable()?;
        let read = within(self.timeout, "the response body", self.body.read1(n)).await;
        self.settle(read)
    }

    /// Reads a line, up to and including `\n`, or at most `limit` bytes.
    pub async fn readline(&mut self, limit: Option<usize>) -> Result<Bytes, HttpError> {
        self.usable()?;
        let read = within(
            self.timeout,
            "the response body",
            self.body.readline(limit, b'\n'),
        )
        .await;
        self.settle(read)
    }

    /// Reads lines until the end, or until they hold `hint` bytes or more
    /// (the timeout applies to each line). Like
    /// [`read_to_end`](Self::read_to_end), it holds at most the client's
    /// [`max_body`](crate::HttpClient::max_body): lines past it fail with an
    /// error that names the limit, and no line is read beyond it.
    pub async fn readlines(&mut self, hint: Option<usize>) -> Result<Vec<Bytes>, HttpError> {
        self.usable()?;
        let max = self
            .max_body
            .map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let mut lines = Vec::new();
        let mut total = 0usize;
        while hint.is_none_or(|hint| total < hint) {
            // One byte past what is left tells a body over the limit.
            let room = (max - total).saturating_add(1);
            let read = self.body.readline(Some(room), b'\n');
            let line = within(self.timeout, "the response body", read).await;
            let line = self.settle(line)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            if total > max {
                let limit = self.max_body.unwrap_or(u64::MAX);
                return self.settle(Ok(Err(gruvi_body::BodyError::too_large(limit))));
            }
            lines.push(line);
        }
        Ok(lines)
    }

    /// Reads the rest of the body (the timeout applies to the whole read),
    /// at most the client's [`max_body`](crate::HttpClient::max_body): a
    /// larger body fails with an error that names the limit.
    pub async fn read_to_end(&mut self) -> Result<Bytes, HttpError> {
        self.usable()?;
        let limit = self.max_body.unwrap_or(u64::MAX);
        let read = within(
            self.timeout,
            "the response body",
            self.body.read_to_end_max(limit),
        )
        .await;
        self.settle(read)
    }

    fn usable(&self) -> Result<(), HttpError> {
        self.broken.clone().map_or(Ok(()), Err)
    }

    fn settle<T>(
        &mut self,
        read: Result<Result<T, gruvi_body::BodyError>, HttpError>,
    ) -> Result<T, HttpError> {
        let outcome = read.and_then(|r| r.map_err(HttpError::from));
        if let Err(error) = &outcome {
            if error.is_timeout() {
                self.broken = Some(error.clone());
            }
        }
        // A failed body is over too: the next response can be asked for
        // (it will report the connection's failure).
        if outcome.is_err() || self.body.is_end() {
            self.unread.store(false, Ordering::Release);
        }
        outcome
    }

    /// The response as an `http::Response` (fields lower-cased; the
    /// received ones stay in its [`ReceivedHead`] extension).
    pub fn into_http(mut self) -> http::Response<Incoming> {
        let body = std::mem::take(&mut self.body);
        let (blank, ()) = http::Response::new(()).into_parts();
        let head = std::mem::replace(&mut self.head, blank);
        http::Response::from_parts(head, body)
    }
}

/// A response dropped unread is read past by the connection: the next one
/// can be asked for.
impl Drop for HttpResponse {
    fn drop(&mut self) {
        self.unread.store(false, Ordering::Release);
    }
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status())
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}
