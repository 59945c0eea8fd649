//! The bodies both drivers move, in one place: an outgoing body's frames
//! pumped into the state machine ([`pump`]), and a received body fed to the
//! application's [`Incoming`] ([`incoming`], [`Feed`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use gruvi_body::{BodyError, BoxError, Incoming, Sender, Trailers};
use gruvi_wire::BodyFraming;
use http::HeaderMap;
use http_body::Body;

use crate::panic_message;
use crate::proto::LocalError;

/// Where an outgoing body goes: the message being sent by one role's state
/// machine.
pub(crate) trait Sink {
    /// The write buffer can take more.
    fn has_room(&self) -> bool;
    /// Body bytes.
    fn data(&mut self, data: Bytes) -> Result<(), LocalError>;
    /// The end of the body, with its trailers.
    fn finish(&mut self, trailers: Option<&HeaderMap>) -> Result<(), LocalError>;
}

/// How far [`pump`] got.
pub(crate) enum Pumped {
    /// The body ended and the message was finished.
    Finished,
    /// The body has nothing more for now, or the write buffer is full;
    /// `true` if some of it moved.
    Blocked(bool),
    /// The body failed, or the state machine refused it: the message
    /// cannot be completed.
    Failed(BoxError),
}

/// Moves `body`'s frames into `sink` while it has room: data as it comes,
/// trailers kept (several trailer frames merge) until the end.
pub(crate) fn pump<B>(
    mut body: Pin<&mut B>,
    trailers: &mut Option<HeaderMap>,
    cx: &mut Context<'_>,
    sink: &mut impl Sink,
) -> Pumped
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut moved = false;
    while sink.has_room() {
        // A panic in the body fails its message as an error would: the
        // message is cut short and the connection closes; nothing else is
        // lost.
        let polled = catch_unwind(AssertUnwindSafe(|| body.as_mut().poll_frame(cx)));
        let polled = match polled {
            Ok(polled) => polled,
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!(panic = message, "a body panicked");
                return Pumped::Failed(format!("the body panicked: {message}").into());
            }
        };
        match polled {
            Poll::Pending => return Pumped::Blocked(moved),
            Poll::Ready(Some(Ok(frame))) => {
                moved = true;
                match frame.into_data() {
                    Ok(mut data) => {
                        let data = data.copy_to_bytes(data.remaining());
                        if let Err(error) = sink.data(data) {
                            return Pumped::Failed(error.into());
                        }
                        // A body that says it has ended is not polled again
                        // to hear it (a whole body: one frame, then done).
                        if body.is_end_stream() {
                            return finish(sink, trailers.take());
                        }
                    }
                    Err(frame) => {
                        if let Ok(more) = frame.into_trailers() {
                            match trailers {
                                Some(all) => all.extend(more),
                                None => *trailers = Some(more),
                            }
                        }
                    }
                }
            }
            Poll::Ready(None) => return finish(sink, trailers.take()),
            Poll::Ready(Some(Err(error))) => return Pumped::Failed(error.into()),
        }
    }
    Pumped::Blocked(moved)
}

/// The end of the body: the message finished, with its trailers.
fn finish(sink: &mut impl Sink, trailers: Option<HeaderMap>) -> Pumped {
    match sink.finish(trailers.as_ref()) {
        Ok(()) => Pumped::Finished,
        Err(error) => Pumped::Failed(error.into()),
    }
}

/// The application's side of a received body: whole already (no channel),
/// or a bounded channel the connection feeds (`Some` sender).
pub(crate) fn incoming(
    complete: Option<Bytes>,
    framing: BodyFraming,
    buffer: usize,
) -> (Option<Sender>, Incoming) {
    match (complete, framing) {
        (Some(whole), _) => (None, Incoming::full(whole)),
        (None, BodyFraming::Empty | BodyFraming::Tunnel) => (None, Incoming::empty()),
        (None, BodyFraming::Length(n)) => {
            let (sender, body) = Incoming::channel(buffer.max(1), Some(n));
            (Some(sender), body)
        }
        (None, BodyFraming::Chunked | BodyFraming::UntilClose) => {
            let (sender, body) = Incoming::channel(buffer.max(1), None);
            (Some(sender), body)
        }
    }
}

/// A received body being fed to its reader, for the message `id`.
#[derive(Debug)]
pub(crate) struct Feed<Id> {
    pub(crate) id: Id,
    sender: Sender,
}

/// Whether a [`Feed`] can take more.
pub(crate) enum Readiness {
    /// Room for more bytes.
    Ready,
    /// The reader is behind: feed no more for now.
    Full,
    /// Nobody will read the rest.
    Gone,
}

impl<Id: Copy + Eq> Feed<Id> {
    pub(crate) fn new(id: Id, sender: Sender) -> Self {
        Feed { id, sender }
    }

    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Readiness {
        match self.sender.poll_ready(cx) {
            Poll::Ready(Ok(())) => Readiness::Ready,
            Poll::Ready(Err(_gone)) => Readiness::Gone,
            Poll::Pending => Readiness::Full,
        }
    }

    /// Ready once the reader first asks for bytes (for `100 Continue`);
    /// `false` then if it was dropped instead.
    pub(crate) fn poll_wanted(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        self.sender
            .poll_wanted(cx)
            .map(|()| !self.sender.is_reader_gone())
    }

    /// Hands `data` to the reader; `false` if nobody reads any more.
    pub(crate) fn data(&mut self, data: Bytes) -> bool {
        self.sender.send_data(data).is_ok()
    }

    pub(crate) fn finish(self, trailers: Trailers) {
        self.sender.finish(trailers);
    }

    pub(crate) fn abort(self, error: BodyError) {
        self.sender.abort(error);
    }
}
