//! [`Outgoing`]: a body to send, from whatever the application has.
//!
//! | source | constructor | size hint |
//! |---|---|---|
//! | nothing | [`Outgoing::empty`] | exact 0 |
//! | bytes (`Bytes`, `Vec<u8>`, `&'static [u8]`, ...) | [`Outgoing::full`] | exact |
//! | text, encoded by the Content-Type charset | [`Outgoing::text`] | exact |
//! | a `Stream` of chunks | [`Outgoing::from_stream`] | unknown |
//! | a tokio `AsyncRead`, such as a file (`tokio` feature) | `Outgoing::from_reader` | unknown |
//! | any `http_body::Body`, trailers included | [`Outgoing::from_body`] | the body's |
//! | written by hand, then ended with trailers | [`Outgoing::channel`] | unknown |
//!
//! An exact size hint becomes Content-Length; an unknown one means chunked
//! encoding on HTTP/1.1 (and, for a response on HTTP/1.0, a close-delimited
//! body) — the connection layer decides, from [`http_body::Body::size_hint`].

use std::any::Any;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use gruvi_wire::{HeadText, check_field};
use pin_project::pin_project;

use crate::error::{BodyError, BodyErrorKind};
use crate::incoming::{Incoming, Sender};
use crate::text::{CharsetError, encode_text};
use crate::trailers::{Trailers, is_forbidden_trailer};

/// The error type of a body source that can fail (a stream, a body).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

type BoxStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>;
type BoxBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send>>;

/// A body to send: empty, bytes, text, a stream, any `http_body::Body`, or
/// written by hand; its size hint decides Content-Length or chunked.
pub struct Outgoing {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Bytes),
    Stream(BoxStream),
    Body(BoxBody),
    /// Boxed, as the rare kind: every response moves its body a few times
    /// on its way to the connection, and the other kinds are small.
    Channel(Box<Incoming>),
}

impl Outgoing {
    /// No body.
    pub fn empty() -> Self {
        Outgoing { kind: Kind::Empty }
    }

    /// A body of known bytes (sent with Content-Length).
    pub fn full(data: impl Into<Bytes>) -> Self {
        let data = data.into();
        let kind = if data.is_empty() {
            Kind::Empty
        } else {
            Kind::Full(data)
        };
        Outgoing { kind }
    }

    /// Text, encoded by the `charset` of `content_type` (the Content-Type
    /// field value, if any): ISO-8859-1 when none is given. Text the charset
    /// cannot express is an error here, before anything is sent.
    pub fn text(text: &str, content_type: Option<&[u8]>) -> Result<Self, CharsetError> {
        encode_text(text, content_type).map(Outgoing::full)
    }

    /// A stream of chunks (sent chunked: its size is unknown).
    pub fn from_stream<S, D, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<D, E>> + Send + 'static,
        D: Into<Bytes>,
        E: Into<BoxError>,
    {
        Outgoing {
            kind: Kind::Stream(Box::pin(MapStream { inner: stream })),
        }
    }

    /// A reader (a file, a pipe, ...), read in chunks of up to 64 KiB and
    /// sent chunked: its size is unknown. A reader error fails the body.
    #[cfg(feature = "tokio")]
    pub fn from_reader<R>(reader: R) -> Self
    where
        R: tokio::io::AsyncRead + Send + 'static,
    {
        const READ_CHUNK: usize = 64 * 1024;
        Outgoing::from_stream(tokio_util::io::ReaderStream::with_capacity(
            reader, READ_CHUNK,
        ))
    }

    /// Any `http_body::Body`: its data, then its trailers frame. A body
    /// already at its end (`is_end_stream`, which promises no frame
    /// follows, like `http_body_util::Empty`) and an `Outgoing` itself are
    /// taken as they are, without boxing.
    pub fn from_body<B>(body: B) -> Self
    where
        B: http_body::Body + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if body.is_end_stream() {
            return Outgoing::empty();
        }
        // (The `Option` only lets the body be moved out of the `Any`; it is
        // `Some` in both places it is read.)
        let mut body = Some(body);
        if let Some(outgoing) = (&mut body as &mut dyn Any).downcast_mut::<Option<Outgoing>>() {
            return outgoing.take().unwrap_or_else(Outgoing::empty);
        }
        body.map_or_else(Outgoing::empty, |body| Outgoing {
            kind: Kind::Body(Box::pin(MapBody { inner: body })),
        })
    }

    /// A body written by hand through the returned [`BodyWriter`] (`write`,
    /// then `finish` with trailers if any), with at most `buffer_limit`
    /// bytes waiting to be sent.
    pub fn channel(buffer_limit: usize) -> (BodyWriter, Outgoing) {
        Outgoing::channel_of(buffer_limit, None)
    }

    /// Like [`channel`](Self::channel), for a body whose size is known up
    /// front: exactly `length` bytes (sent with Content-Length, so without
    /// trailers).
    pub fn channel_with_length(buffer_limit: usize, length: u64) -> (BodyWriter, Outgoing) {
        Outgoing::channel_of(buffer_limit, Some(length))
    }

    fn channel_of(buffer_limit: usize, length: Option<u64>) -> (BodyWriter, Outgoing) {
        let (sender, body) = Incoming::channel(buffer_limit, length);
        (
            BodyWriter {
                sender: Some(sender),
                sized: length.is_some(),
            },
            Outgoing {
                kind: Kind::Channel(Box::new(body)),
            },
        )
    }
}

impl Default for Outgoing {
    fn default() -> Self {
        Outgoing::empty()
    }
}

impl From<Bytes> for Outgoing {
    fn from(data: Bytes) -> Self {
        Outgoing::full(data)
    }
}

impl From<Vec<u8>> for Outgoing {
    fn from(data: Vec<u8>) -> Self {
        Outgoing::full(data)
    }
}

impl From<&'static [u8]> for Outgoing {
    fn from(data: &'static [u8]) -> Self {
        Outgoing::full(data)
    }
}

impl http_body::Body for Outgoing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => {
                let Kind::Full(data) = std::mem::replace(&mut this.kind, Kind::Empty) else {
                    unreachable!("matched Full just above")
                };
                Poll::Ready(Some(Ok(http_body::Frame::data(data))))
            }
            Kind::Stream(stream) => stream
                .as_mut()
                .poll_next(cx)
                .map(|item| item.map(|data| data.map(http_body::Frame::data))),
            Kind::Body(body) => body.as_mut().poll_frame(cx),
            Kind::Channel(body) => Pin::new(&mut **body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map_err(BoxError::from))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(_) | Kind::Stream(_) => false,
            Kind::Body(body) => body.is_end_stream(),
            Kind::Channel(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.kind {
            Kind::Empty => http_body::SizeHint::with_exact(0),
            Kind::Full(data) => http_body::SizeHint::with_exact(data.len() as u64),
            Kind::Stream(_) => http_body::SizeHint::new(),
            Kind::Channel(body) => http_body::Body::size_hint(body),
            Kind::Body(body) => body.size_hint(),
        }
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Stream(_) => "stream",
            Kind::Body(_) => "body",
            Kind::Channel(_) => "written by hand",
        };
        f.debug_struct("Outgoing").field("kind", &kind).finish()
    }
}

/// Writes a body by hand: [`write`](Self::write) the data, then
/// [`end`](Self::end) it, optionally with trailers. Dropping the writer
/// before `end` aborts the body (the peer never sees a short body as a
/// complete one).
#[derive(Debug)]
pub struct BodyWriter {
    sender: Option<Sender>,
    /// The body's size was declared: it goes with Content-Length, which
    /// leaves no room for trailers.
    sized: bool,
}

impl BodyWriter {
    /// Queues `data`, waiting while the connection has `buffer_limit` bytes
    /// not yet sent (backpressure from a slow peer). Empty writes are
    /// skipped: they never end the body.
    pub async fn write(&mut self, data: impl Into<Bytes>) -> Result<(), BodyError> {
        let data = data.into();
        let Some(sender) = self.sender.as_mut() else {
            return Err(BodyError::new(BodyErrorKind::AlreadyFinished));
        };
        let aborted = |_| BodyError::new(BodyErrorKind::Aborted);
        poll_fn(|cx| sender.poll_ready(cx)).await.map_err(aborted)?;
        sender.send_data(data).map_err(aborted)
    }

    /// Ends the body. Trailers are checked here, before anything more is
    /// sent: names must be tokens, values valid field values, text
    /// ISO-8859-1, and no field that must not be a trailer (RFC 9110
    /// §6.5.1). They need chunked encoding: a body made with
    /// [`Outgoing::channel_with_length`] refuses them here; for the others
    /// the connection checks when it sends them (HTTP/1.0 has no chunked).
    pub fn end<N, V>(&mut self, trailers: &[(N, V)]) -> Result<(), BodyError>
    where
        N: HeadText,
        V: HeadText,
    {
        if self.sender.is_none() {
            return Err(BodyError::new(BodyErrorKind::AlreadyFinished));
        }
        if self.sized && !trailers.is_empty() {
            return Err(BodyError::new(BodyErrorKind::TrailersNotAllowed));
        }
        let mut checked = Trailers::new();
        for (name, value) in trailers {
            let (name, value) = check_field(name, value)
                .map_err(|e| BodyError::new(BodyErrorKind::InvalidTrailer(e)))?;
            if is_forbidden_trailer(&name) {
                let name = gruvi_wire::latin1_text(&name);
                return Err(BodyError::new(BodyErrorKind::ForbiddenTrailer(name)));
            }
            checked.push_received(
                Bytes::copy_from_slice(&name),
                Bytes::copy_from_slice(&value),
            );
        }
        if let Some(sender) = self.sender.take() {
            sender.finish(checked);
        }
        Ok(())
    }

    /// Returns `true` once [`end`](Self::end) has been called.
    pub fn is_ended(&self) -> bool {
        self.sender.is_none()
    }
}

/// Adapts a stream of `Into<Bytes>` chunks and `Into<BoxError>` errors.
#[pin_project]
struct MapStream<S> {
    #[pin]
    inner: S,
}

impl<S, D, E> Stream for MapStream<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inner = self.project().inner;
        loop {
            match inner.as_mut().poll_next(cx) {
                // Empty chunks carry nothing and must not become empty chunks
                // on the wire.
                Poll::Ready(Some(Ok(data))) => {
                    let data: Bytes = data.into();
                    if !data.is_empty() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(error.into()))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Adapts any body: data becomes `Bytes` (zero-copy when it already is),
/// errors become [`BoxError`].
#[pin_project]
struct MapBody<B> {
    #[pin]
    inner: B,
}

impl<B> http_body::Body for MapBody<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, BoxError>>> {
        self.project().inner.poll_frame(cx).map(|frame| {
            frame.map(|frame| {
                frame
                    .map(|frame| frame.map_data(|mut data| data.copy_to_bytes(data.remaining())))
                    .map_err(Into::into)
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
