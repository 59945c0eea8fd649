//! The caller's side of a client connection: [`SendRequest`] checks and
//! queues requests, [`ResponseFuture`] waits for each one's response, and
//! [`RequestError`] says why one got none.

use http::HeaderMap;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gruvi_body::{Incoming, Outgoing};
use gruvi_wire::Version;
use tokio::sync::{mpsc, oneshot};

use crate::proto::{BodySize, LocalError, PreparedRequest, RequestFields, ResponseError};

/// Why a request got no response.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RequestError {
    /// The request cannot be sent as given: the caller's mistake. Nothing
    /// of it was written.
    Local(LocalError),
    /// The server broke the protocol, or did not answer in time.
    Response(ResponseError),
    /// The transport failed.
    Io(Arc<io::Error>),
    /// A write made no progress within the write timeout.
    WriteTimedOut,
    /// The request's body failed while being sent; the connection closed.
    Body(Arc<dyn std::error::Error + Send + Sync>),
    /// The connection closed before the request was sent.
    Closed,
}

impl RequestError {
    /// Returns `true` if the caller's request was at fault (invalid field,
    /// body size unknown on HTTP/1.0, Content-Length disagreeing with the
    /// body, or its body failed).
    pub fn is_misuse(&self) -> bool {
        matches!(self, RequestError::Local(_) | RequestError::Body(_))
    }

    /// Returns `true` if the server sent something that breaks HTTP.
    pub fn is_protocol(&self) -> bool {
        matches!(self, RequestError::Response(e) if !is_timeout(e))
    }

    /// Returns `true` for a timeout: a stalled write, or a response (head
    /// or body) that did not come in time.
    pub fn is_timeout(&self) -> bool {
        match self {
            RequestError::WriteTimedOut => true,
            RequestError::Response(e) => is_timeout(e),
            _ => false,
        }
    }

    /// Returns `true` for a transport failure, or a connection that closed
    /// before the request could be sent.
    pub fn is_io(&self) -> bool {
        matches!(self, RequestError::Io(_) | RequestError::Closed)
    }

    /// Returns `true` if the request got no answer because its connection
    /// closed or failed before the response began — a server closing an
    /// idle connection, or one that answers a single request per connection
    /// while more were pipelined. Such a request may be sent again on
    /// another connection if it is idempotent and its body can be replayed
    /// (RFC 9112 §9.3.2, RFC 9110 §9.2.2).
    pub fn is_unanswered(&self) -> bool {
        matches!(
            self,
            RequestError::Closed
                | RequestError::Local(LocalError::Closed)
                | RequestError::Response(ResponseError::ClosedBeforeResponse)
                | RequestError::Io(_)
        )
    }
}

fn is_timeout(error: &ResponseError) -> bool {
    match error {
        ResponseError::TimedOut => true,
        ResponseError::Body(e) => e.is_timeout(),
        _ => false,
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Local(e) => fmt::Display::fmt(e, f),
            RequestError::Response(e) => fmt::Display::fmt(e, f),
            RequestError::Io(e) => write!(f, "connection failed: {e}"),
            RequestError::WriteTimedOut => f.write_str("timed out writing the request"),
            RequestError::Body(e) => write!(f, "request body failed: {e}"),
            RequestError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::Local(e) => Some(e),
            RequestError::Response(e) => Some(e),
            RequestError::Io(e) => Some(&**e),
            RequestError::Body(e) => Some(&**e),
            _ => None,
        }
    }
}

pub(super) type Reply = Result<http::Response<Incoming>, RequestError>;

/// A request extension: the fields to send exactly as given — this order,
/// this case, duplicates kept — instead of the request's `HeaderMap` (which
/// lower-cases names). For callers that promise their peers the fields they
/// wrote; every field is still checked before anything is sent.
#[derive(Clone, Debug, Default)]
pub struct FieldsAsGiven(pub Vec<(Bytes, Bytes)>);

/// A request queued for the connection.
pub(super) struct Envelope {
    pub(super) request: PreparedRequest,
    pub(super) body: Outgoing,
    pub(super) reply: oneshot::Sender<Reply>,
    /// The request's header map, its head written: the connection fills
    /// it again with a response's fields instead of allocating a map.
    pub(super) spare: Option<HeaderMap>,
    pub(super) counted: InFlight,
}

/// One request counted in [`Signals::in_flight`] from when it is queued
/// until it is dropped: it goes with the request into the queue, then to
/// the wait for the response, then along while the response's body is
/// read. However the exchange ends (answered, refused, failed, or the
/// connection gone with the request still queued), dropping it is the one
/// place the count goes down and a pool is told.
pub(super) struct InFlight(Arc<Signals>);

impl InFlight {
    fn new(signals: &Arc<Signals>) -> InFlight {
        signals.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(signals))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.announce_change();
    }
}

/// A request extension: the connection is to an HTTP proxy, so the
/// request's target goes in absolute-form (RFC 9112 §3.2.2).
#[derive(Clone, Copy, Debug, Default)]
pub struct ThroughProxy;

/// What the handles of a connection know of it without asking its task:
/// the signals a pool reads, kept up to date by the driver.
#[derive(Debug)]
pub(super) struct Signals {
    /// The connection takes no new request (it closes after what is in
    /// flight, failed, or the server closed its side).
    pub(super) closing: AtomicBool,
    /// Requests queued or in flight and not answered whole.
    pub(super) in_flight: AtomicUsize,
    /// Since when nothing is in flight, as nanoseconds after `epoch`;
    /// `u64::MAX` while something is.
    pub(super) idle_since: AtomicU64,
    pub(super) epoch: Instant,
    /// Told, one waiter at a time, each time an exchange ends or the
    /// connection closes (the moments it may take a request it could not
    /// take before): a pool's callers waiting for room
    /// ([`SendRequest::notify_room`]).
    pub(super) room: OnceLock<Arc<tokio::sync::Notify>>,
}

const BUSY: u64 = u64::MAX;

impl Signals {
    /// An exchange ended or the connection closes: tells the pool, if any.
    pub(super) fn announce_change(&self) {
        if let Some(room) = self.room.get() {
            room.notify_one();
        }
    }

    pub(super) fn set_idle(&self, since: Option<Instant>) {
        let nanos = since.map_or(BUSY, |since| {
            u64::try_from(since.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(BUSY)
        });
        if self.idle_since.load(Ordering::Relaxed) != nanos {
            self.idle_since.store(nanos, Ordering::Relaxed);
        }
    }
}

/// Checks and queues requests on one connection; clones share it. Cheap
/// to ask what a pool needs: whether the connection takes requests, how
/// many are in flight, since when it is idle.
#[derive(Clone)]
pub struct SendRequest {
    pub(super) queue: mpsc::UnboundedSender<Envelope>,
    pub(super) signals: Arc<Signals>,
}

impl SendRequest {
    /// Queues `request`: it is written once the requests queued before it
    /// are, without waiting for their responses. The future resolves to the
    /// response head (its body streams through [`Incoming`]); a request
    /// that cannot be sent resolves to its error at once (see
    /// [`try_send`](Self::try_send)).
    pub fn send(&self, request: http::Request<Outgoing>) -> ResponseFuture {
        self.try_send(request)
            .unwrap_or_else(ResponseFuture::failed)
    }

    /// [`send`](Self::send), with a request that cannot be sent refused
    /// here, before anything is queued.
    ///
    /// The request's URI gives the target: its path and query (`/` when
    /// empty), or its authority for CONNECT; `Host` is the URI's authority
    /// when the request has none. Its fields are the header map's, or
    /// [`FieldsAsGiven`] when the extension is set. The body's size hint
    /// decides the framing: exact → Content-Length, unknown → chunked (an
    /// error on HTTP/1.0) or the caller's Content-Length.
    pub fn try_send(
        &self,
        request: http::Request<Outgoing>,
    ) -> Result<ResponseFuture, RequestError> {
        let (parts, body) = request.into_parts();
        let prepared = SendRequest::prepare(&parts, &body)?;
        Ok(self.queue(prepared, body, Some(parts.headers)))
    }

    /// Checks and writes the head of a request with these parts and body,
    /// as [`try_send`](Self::try_send) does, for
    /// [`send_prepared`](Self::send_prepared): a request prepared once can
    /// be sent again on another connection without being written again.
    pub fn prepare(
        parts: &http::request::Parts,
        body: &Outgoing,
    ) -> Result<PreparedRequest, RequestError> {
        let fields = match parts.extensions.get::<FieldsAsGiven>() {
            Some(given) => RequestFields::Given(&given.0),
            None => RequestFields::Map(&parts.headers),
        };
        PreparedRequest::from_http(
            &parts.method,
            &parts.uri,
            Version::from_http(parts.version),
            fields,
            BodySize::of(body),
            parts.extensions.get::<ThroughProxy>().is_some(),
        )
        .map_err(RequestError::Local)
    }

    /// Queues a request already prepared (checked and written) with its
    /// body.
    pub fn send_prepared(&self, request: PreparedRequest, body: Outgoing) -> ResponseFuture {
        self.queue(request, body, None)
    }

    /// [`send_prepared`](Self::send_prepared), handing over the header map
    /// the request was prepared from: the connection fills it with a
    /// response's fields rather than allocate a map (emptied first: none
    /// of the request's fields remain).
    pub fn send_prepared_with(
        &self,
        request: PreparedRequest,
        body: Outgoing,
        headers: HeaderMap,
    ) -> ResponseFuture {
        self.queue(request, body, Some(headers))
    }

    fn queue(
        &self,
        request: PreparedRequest,
        body: Outgoing,
        spare: Option<HeaderMap>,
    ) -> ResponseFuture {
        let (reply, rx) = oneshot::channel();
        // A closed connection drops the envelope: the future reports it.
        let _ = self.queue.send(Envelope {
            request,
            body,
            reply,
            spare,
            counted: InFlight::new(&self.signals),
        });
        ResponseFuture {
            rx: Some(rx),
            error: None,
        }
    }

    /// Returns `true` once the connection is closed: no request sent now
    /// can be answered.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// Returns `true` while the connection takes new requests (it is not
    /// closing after what is in flight, nor closed).
    pub fn is_ready(&self) -> bool {
        !self.signals.closing.load(Ordering::Relaxed) && !self.queue.is_closed()
    }

    /// Requests queued or in flight and not answered whole yet.
    pub fn in_flight(&self) -> usize {
        self.signals.in_flight.load(Ordering::Relaxed)
    }

    /// Calls `room.notify_one()` each time an exchange on the connection
    /// ends (answered, failed, or dropped unsent — then from whichever task
    /// dropped it) or the connection closes: a pool's callers waiting for
    /// room are woken without a task of the pool's per connection. Set
    /// once; later calls are ignored.
    ///
    /// Hidden: made for `gruvi-client`'s pool, and its shape (a tokio
    /// `Notify`) may change before it is offered as API.
    #[doc(hidden)]
    pub fn notify_room(&self, room: Arc<tokio::sync::Notify>) {
        let _ = self.signals.room.set(room);
    }

    /// Since when the connection has had nothing in flight, if it has not.
    pub fn idle_since(&self) -> Option<Instant> {
        match self.signals.idle_since.load(Ordering::Relaxed) {
            BUSY => None,
            nanos => Some(self.signals.epoch + Duration::from_nanos(nanos)),
        }
    }
}

impl fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRequest")
            .field("closed", &self.is_closed())
            .field("ready", &self.is_ready())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// The response to one queued request.
#[derive(Debug)]
pub struct ResponseFuture {
    rx: Option<oneshot::Receiver<Reply>>,
    /// A request refused before it was queued.
    error: Option<RequestError>,
}

impl ResponseFuture {
    fn failed(error: RequestError) -> Self {
        ResponseFuture {
            rx: None,
            error: Some(error),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Err(self.error.take().unwrap_or(RequestError::Closed)));
        };
        match ready!(Pin::new(rx).poll(cx)) {
            Ok(reply) => Poll::Ready(reply),
            Err(_) => Poll::Ready(Err(RequestError::Closed)),
        }
    }
}
