//! [`Incoming`]: a received body, as the application reads it.
//!
//! One type serves three ways of reading: it is an [`http_body::Body`] (data
//! frames, then one trailers frame — what tower and axum expect), a
//! [`Stream`] of data chunks, and a file-like reader API ([`read`],
//! [`read1`], [`readline`], [`readlines`], [`read_to_end`], then
//! [`trailers`]).
//!
//! The connection feeds a body through its [`Sender`] half. The channel
//! between them is bounded in bytes: while the reader lags, the queued bytes
//! reach the limit and [`Sender::poll_ready`] stays pending — the
//! connection's signal to stop reading the socket — so memory per body stays
//! bounded however large the body is. When the reader is dropped,
//! `poll_ready` says so, and the connection can drain or close.
//!
//! A body with nothing to wait for (none at all, or already complete) needs
//! no channel: [`Incoming::empty`] and [`Incoming::full`] allocate nothing.
//!
//! [`read`]: Incoming::read
//! [`read1`]: Incoming::read1
//! [`readline`]: Incoming::readline
//! [`readlines`]: Incoming::readlines
//! [`read_to_end`]: Incoming::read_to_end
//! [`trailers`]: Incoming::trailers

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;

use crate::error::{BodyError, BodyErrorKind};
use crate::trailers::Trailers;

/// The default bound on bytes queued between a connection and a slow reader.
pub const DEFAULT_BODY_BUFFER: usize = 64 * 1024;

/// A received body: an `http_body::Body`, a `Stream` of data chunks, and
/// a file-like reader API, fed through a bounded channel by a [`Sender`].
pub struct Incoming {
    source: Source,
    /// Bytes taken from the source but not handed out yet.
    leftover: Option<Bytes>,
    /// Set once the end was reached.
    trailers: End,
    /// `poll_frame` handed out the trailers frame (or there was none).
    trailers_sent: bool,
    /// `Body` / `Stream` polling reported the failure once.
    error_reported: bool,
    /// The exact body size, when known.
    length: Option<u64>,
    /// Body bytes taken from the source so far.
    taken: u64,
}

/// Whether the end was reached, and with which trailers: boxed, as few
/// bodies have any and a request moves its body a few times on its way to
/// the application.
#[derive(Debug)]
enum End {
    NotYet,
    NoTrailers,
    Trailers(Box<Trailers>),
}

impl End {
    fn of(trailers: Trailers) -> End {
        // Names dropped as forbidden are reported too: kept with them.
        if trailers.is_empty() && trailers.discarded().is_empty() {
            End::NoTrailers
        } else {
            End::Trailers(Box::new(trailers))
        }
    }
}

/// What [`Incoming::trailers`] lends when there were none.
static NO_TRAILERS: Trailers = Trailers::EMPTY;

enum Source {
    /// Nothing more to come.
    Done,
    /// One chunk, then the end.
    Full(Bytes),
    /// Fed by a connection.
    Channel(Arc<Channel>),
    /// The body failed; every later read reports the same error.
    Failed(BodyError),
}

impl Incoming {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Incoming::with_source(Source::Done, Some(0))
    }

    /// A complete body held in memory.
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let length = Some(data.len() as u64);
        let source = if data.is_empty() {
            Source::Done
        } else {
            Source::Full(data)
        };
        Incoming::with_source(source, length)
    }

    /// A body fed through the returned [`Sender`]. At most `buffer_limit`
    /// bytes wait between the two (one chunk is always accepted, however
    /// large). `length` is the exact size when known (Content-Length) and
    /// becomes the body's size hint.
    pub fn channel(buffer_limit: usize, length: Option<u64>) -> (Sender, Incoming) {
        let channel = Arc::new(Channel {
            state: Mutex::new(ChannelState::default()),
            buffer_limit,
        });
        let sender = Sender {
            channel: Arc::clone(&channel),
            finished: false,
        };
        (
            sender,
            Incoming::with_source(Source::Channel(channel), length),
        )
    }

    fn with_source(source: Source, length: Option<u64>) -> Self {
        let done = matches!(source, Source::Done);
        Incoming {
            source,
            leftover: None,
            trailers: if done { End::NoTrailers } else { End::NotYet },
            trailers_sent: done,
            error_reported: false,
            length,
            taken: 0,
        }
    }

    /// The trailers, once the whole body has been read (empty when the peer
    /// sent none); `None` before the end.
    pub fn trailers(&self) -> Option<&Trailers> {
        match &self.trailers {
            End::NotYet => None,
            End::NoTrailers => Some(&NO_TRAILERS),
            End::Trailers(trailers) => Some(trailers),
        }
    }

    /// Returns `true` once every byte has been handed out.
    pub fn is_end(&self) -> bool {
        self.leftover.is_none() && matches!(self.source, Source::Done)
    }

    /// Reads up to `max` bytes, waiting for at least one; an empty result
    /// means the body has ended. Zero-copy: a slice of one received chunk.
    pub async fn read1(&mut self, max: usize) -> Result<Bytes, BodyError> {
        if max == 0 {
            return Ok(Bytes::new());
        }
        match self.next_chunk().await? {
            None => Ok(Bytes::new()),
            Some(mut chunk) => {
                if chunk.len() > max {
                    self.leftover = Some(chunk.split_off(max));
                }
                Ok(chunk)
            }
        }
    }

    /// Reads `n` bytes, or fewer if the body ends first (empty at the end).
    /// Zero-copy when they come from one received chunk.
    pub async fn read(&mut self, n: usize) -> Result<Bytes, BodyError> {
        let mut out = Collected::default();
        while out.len() < n {
            match self.read1(n - out.len()).await? {
                chunk if chunk.is_empty() => break,
                chunk => out.push(chunk),
            }
        }
        Ok(out.into_bytes())
    }

    /// Reads the rest of the body. Zero-copy when it arrives as one chunk.
    ///
    /// This holds the whole body in memory, however large the peer makes
    /// it: prefer [`read_to_end_max`](Self::read_to_end_max) for bodies from
    /// peers you do not trust, or read it in pieces (`read1`, the
    /// `http_body::Body` frames), which backpressure bounds.
    pub async fn read_to_end(&mut self) -> Result<Bytes, BodyError> {
        self.read_to_end_max(u64::MAX).await
    }

    /// Reads the rest of the body, at most `limit` bytes: a body that would
    /// hold more fails with [`BodyError::too_large`] as soon as that is
    /// known — at once when its declared length is over `limit` — without
    /// reading the rest.
    pub async fn read_to_end_max(&mut self, limit: u64) -> Result<Bytes, BodyError> {
        if http_body::Body::size_hint(self).lower() > limit {
            return Err(BodyError::too_large(limit));
        }
        let mut out = Collected::default();
        while let Some(chunk) = self.next_chunk().await? {
            if (out.len() + chunk.len()) as u64 > limit {
                return Err(BodyError::too_large(limit));
            }
            out.push(chunk);
        }
        Ok(out.into_bytes())
    }

    /// Reads one line: up to and including `delim` (b'\n' for text), or
    /// `limit` bytes, or the rest of the body, whichever comes first. An
    /// empty result means the body has ended.
    pub async fn readline(&mut self, limit: Option<usize>, delim: u8) -> Result<Bytes, BodyError> {
        let limit = limit.unwrap_or(usize::MAX);
        let mut out = Collected::default();
        while out.len() < limit {
            let Some(mut chunk) = self.next_chunk().await? else {
                break;
            };
            let room = limit - out.len();
            let take = match memchr::memchr(delim, &chunk[..chunk.len().min(room)]) {
                Some(at) => at + 1,
                None => chunk.len().min(room),
            };
            if take < chunk.len() {
                self.leftover = Some(chunk.split_off(take));
            }
            let ends_line = chunk.last() == Some(&delim);
            out.push(chunk);
            if ends_line {
                break;
            }
        }
        Ok(out.into_bytes())
    }

    /// Reads lines until the body ends, or until the lines read hold `hint`
    /// bytes or more.
    pub async fn readlines(&mut self, hint: Option<usize>) -> Result<Vec<Bytes>, BodyError> {
        let hint = hint.unwrap_or(usize::MAX);
        let mut lines = Vec::new();
        let mut total = 0usize;
        while total < hint {
            let line = self.readline(None, b'\n').await?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.push(line);
        }
        Ok(lines)
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// The next data chunk: `Ok(None)` at the end (trailers then set).
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, BodyError>> {
        if let Some(chunk) = self.leftover.take() {
            return Poll::Ready(Ok(Some(chunk)));
        }
        let outcome = match &mut self.source {
            Source::Done => return Poll::Ready(Ok(None)),
            Source::Failed(error) => return Poll::Ready(Err(error.clone())),
            Source::Full(_) => {
                let Source::Full(data) = std::mem::replace(&mut self.source, Source::Done) else {
                    unreachable!("matched Full just above")
                };
                self.trailers = End::NoTrailers;
                Ok(Some(data))
            }
            Source::Channel(channel) => match channel.poll_take(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Taken::Data(data)) => Ok(Some(data)),
                Poll::Ready(Taken::End(trailers)) => {
                    self.source = Source::Done;
                    self.trailers_sent = trailers.is_empty();
                    self.trailers = End::of(trailers);
                    Ok(None)
                }
                Poll::Ready(Taken::Failed(error)) => {
                    self.source = Source::Failed(error.clone());
                    Err(error)
                }
            },
        };
        if let Ok(Some(data)) = &outcome {
            self.taken += data.len() as u64;
        }
        Poll::Ready(outcome)
    }
}

impl http_body::Body for Incoming {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.error_reported {
            return Poll::Ready(None);
        }
        match this.poll_chunk(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(Some(data))) => Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
            Poll::Ready(Ok(None)) if !this.trailers_sent => {
                this.trailers_sent = true;
                let map = this
                    .trailers()
                    .map(Trailers::to_header_map)
                    .unwrap_or_default();
                Poll::Ready(Some(Ok(http_body::Frame::trailers(map))))
            }
            Poll::Ready(Ok(None)) => Poll::Ready(None),
            Poll::Ready(Err(error)) => {
                this.error_reported = true;
                Poll::Ready(Some(Err(error)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_end() && self.trailers_sent
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let pending = self.leftover.as_ref().map_or(0, |b| b.len() as u64);
        match (&self.source, self.length) {
            (Source::Done, _) => http_body::SizeHint::with_exact(pending),
            (Source::Full(data), _) => http_body::SizeHint::with_exact(pending + data.len() as u64),
            (_, Some(length)) => {
                http_body::SizeHint::with_exact(length.saturating_sub(self.taken) + pending)
            }
            _ => {
                let mut hint = http_body::SizeHint::new();
                hint.set_lower(pending);
                hint
            }
        }
    }
}

/// The data chunks; trailers are left for [`Incoming::trailers`].
impl Stream for Incoming {
    type Item = Result<Bytes, BodyError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.error_reported {
            return Poll::Ready(None);
        }
        this.poll_chunk(cx).map(|outcome| match outcome {
            Ok(data) => data.map(Ok),
            Err(error) => {
                this.error_reported = true;
                Some(Err(error))
            }
        })
    }
}

impl Default for Incoming {
    fn default() -> Self {
        Incoming::empty()
    }
}

impl From<Bytes> for Incoming {
    fn from(data: Bytes) -> Self {
        Incoming::full(data)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Source::Channel(channel) = &self.source {
            channel.reader_gone();
        }
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Done => "done",
            Source::Full(_) => "full",
            Source::Channel(_) => "channel",
            Source::Failed(_) => "failed",
        };
        f.debug_struct("Incoming")
            .field("source", &source)
            .field("length", &self.length)
            .field("taken", &self.taken)
            .field("trailers", &self.trailers)
            .finish()
    }
}

/// The connection's half of a body channel.
pub struct Sender {
    channel: Arc<Channel>,
    finished: bool,
}

/// The reader of a body is gone: nothing sent will be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReaderGone;

impl fmt::Display for ReaderGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the body's reader was dropped")
    }
}

impl std::error::Error for ReaderGone {}

impl Sender {
    /// Ready when the channel can take more data (fewer than the limit of
    /// bytes are queued); an error when the reader is gone. While this is
    /// pending, the connection should not read the socket for this body.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ReaderGone>> {
        let mut state = self.channel.lock();
        if state.reader_gone {
            return Poll::Ready(Err(ReaderGone));
        }
        if state.queued_bytes < self.channel.buffer_limit {
            return Poll::Ready(Ok(()));
        }
        store_waker(&mut state.producer_waker, cx);
        Poll::Pending
    }

    /// Queues body bytes for the reader (call [`poll_ready`](Self::poll_ready)
    /// first to respect the bound). Empty chunks are skipped.
    pub fn send_data(&mut self, data: Bytes) -> Result<(), ReaderGone> {
        let mut state = self.channel.lock();
        if state.reader_gone {
            return Err(ReaderGone);
        }
        if !data.is_empty() {
            state.queued_bytes += data.len();
            state.queue.push_back(data);
            wake(&mut state.reader_waker);
        }
        Ok(())
    }

    /// Ends the body, with the trailers received (empty if none).
    pub fn finish(mut self, trailers: Trailers) {
        self.end(Ok(trailers));
    }

    /// Ends the body with an error: the reader gets it after the data
    /// already queued.
    pub fn abort(mut self, error: BodyError) {
        self.end(Err(error));
    }

    /// Ready once the reader has asked for data at least once (it polled
    /// the body, or began a read): the connection's cue to send `100
    /// Continue` to a client that waits for it. Ready too if the reader is
    /// gone.
    pub fn poll_wanted(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.channel.lock();
        if state.wanted || state.reader_gone {
            return Poll::Ready(());
        }
        store_waker(&mut state.producer_waker, cx);
        Poll::Pending
    }

    /// Bytes queued and not yet read.
    pub fn queued_bytes(&self) -> usize {
        self.channel.lock().queued_bytes
    }

    /// Returns `true` if the reader was dropped.
    pub fn is_reader_gone(&self) -> bool {
        self.channel.lock().reader_gone
    }

    fn end(&mut self, end: Result<Trailers, BodyError>) {
        self.finished = true;
        let mut state = self.channel.lock();
        state.end = Some(end);
        wake(&mut state.reader_waker);
    }
}

/// A sender dropped before the end means the connection is gone: the reader
/// gets an error, never a silently short body.
impl Drop for Sender {
    fn drop(&mut self) {
        if !self.finished {
            self.end(Err(BodyError::new(BodyErrorKind::Aborted)));
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.channel.lock();
        f.debug_struct("Sender")
            .field("queued_bytes", &state.queued_bytes)
            .field("buffer_limit", &self.channel.buffer_limit)
            .field("reader_gone", &state.reader_gone)
            .finish()
    }
}

struct Channel {
    state: Mutex<ChannelState>,
    buffer_limit: usize,
}

#[derive(Default)]
struct ChannelState {
    queue: VecDeque<Bytes>,
    queued_bytes: usize,
    end: Option<Result<Trailers, BodyError>>,
    reader_waker: Option<Waker>,
    producer_waker: Option<Waker>,
    reader_gone: bool,
    /// The reader asked for data at least once.
    wanted: bool,
}

enum Taken {
    Data(Bytes),
    End(Trailers),
    Failed(BodyError),
}

impl Channel {
    /// A poisoned lock only means another thread panicked mid-update of
    /// plain counters and queues; the state is still usable.
    fn lock(&self) -> MutexGuard<'_, ChannelState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Taken> {
        let mut state = self.lock();
        if !state.wanted {
            state.wanted = true;
            wake(&mut state.producer_waker);
        }
        if let Some(data) = state.queue.pop_front() {
            let was_full = state.queued_bytes >= self.buffer_limit;
            state.queued_bytes -= data.len();
            if was_full && state.queued_bytes < self.buffer_limit {
                wake(&mut state.producer_waker);
            }
            return Poll::Ready(Taken::Data(data));
        }
        match state.end.take() {
            Some(Ok(trailers)) => Poll::Ready(Taken::End(trailers)),
            Some(Err(error)) => Poll::Ready(Taken::Failed(error)),
            None => {
                store_waker(&mut state.reader_waker, cx);
                Poll::Pending
            }
        }
    }

    fn reader_gone(&self) {
        let mut state = self.lock();
        state.reader_gone = true;
        state.queue.clear();
        state.queued_bytes = 0;
        wake(&mut state.producer_waker);
    }
}

fn store_waker(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(waker) = slot.take() {
        waker.wake();
    }
}

/// Chunks gathered for one read: kept as the single chunk when there is
/// only one (zero-copy), joined only when a read spans several.
#[derive(Default)]
struct Collected {
    first: Option<Bytes>,
    joined: Option<BytesMut>,
    len: usize,
}

impl Collected {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(&chunk);
        } else if let Some(first) = self.first.take() {
            let mut joined = BytesMut::with_capacity(first.len() + chunk.len());
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&chunk);
            self.joined = Some(joined);
        } else {
            self.first = Some(chunk);
        }
    }

    fn into_bytes(self) -> Bytes {
        match (self.joined, self.first) {
            (Some(joined), _) => joined.freeze(),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        }
    }
}
