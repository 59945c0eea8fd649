//! A request's work on the application's side: its handler future, run
//! in a slot reused across requests, and what the driver keeps of it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use gruvi_body::BoxError;
use pin_project::pin_project;
use tokio::sync::oneshot;

use super::Handler;
use crate::panic_message;
use crate::proto::RequestId;
use crate::upgrade::Upgraded;

/// One request's work on the application's side.
pub(super) struct Exchange<H: Handler> {
    pub(super) id: RequestId,
    /// Its handler, then its response; empty once the response started.
    pub(super) slot: HandlerSlot<H>,
    /// Where the transport goes if this exchange switches protocols.
    pub(super) upgrade: Option<oneshot::Sender<Upgraded>>,
    /// Its `request` span (disabled unless a subscriber wants it).
    pub(super) span: tracing::Span,
    /// When its head was parsed (the turn's clock).
    pub(super) arrived: Instant,
}

/// Where a handler future runs, and where its response waits for the
/// earlier ones: pinned on the heap, emptied in place once the response is
/// taken, and kept for a later request — a connection allocates as many
/// slots as it runs handlers at once, not one per request.
#[pin_project(project = SlotProj, project_replace = SlotOwn)]
pub(super) enum Slot<F: Future> {
    Empty,
    Running(#[pin] F),
    Done(F::Output),
}

/// Polls a handler's future. A panic in it is its request's failure (the
/// library answers `500`), not the connection's.
fn poll_handler<F, R>(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<Result<R, BoxError>>
where
    F: Future<Output = Result<R, BoxError>>,
{
    catch_unwind(AssertUnwindSafe(|| future.poll(cx))).unwrap_or_else(|panic| {
        let error = format!("the application panicked: {}", panic_message(&*panic));
        Poll::Ready(Err(error.into()))
    })
}

impl<F, R> Slot<F>
where
    F: Future<Output = Result<R, BoxError>>,
{
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Slot::Empty)
    }

    /// Polls a running handler; its response stays in the slot.
    pub(super) fn poll_keep(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        let SlotProj::Running(future) = self.as_mut().project() else {
            return false;
        };
        let Poll::Ready(response) = poll_handler(future, cx) else {
            return false;
        };
        self.set(Slot::Done(response));
        true
    }

    /// The response, taken out (polling the handler if it still runs); the
    /// slot is empty afterwards.
    pub(super) fn poll_take(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if let SlotProj::Running(future) = self.as_mut().project() {
            // Returned as polled, not unwrapped and wrapped again: each
            // would copy the response.
            let polled = poll_handler(future, cx);
            if polled.is_ready() {
                self.set(Slot::Empty);
            }
            return polled;
        }
        match self.project_replace(Slot::Empty) {
            SlotOwn::Done(response) => Poll::Ready(response),
            SlotOwn::Running(_) | SlotOwn::Empty => Poll::Pending,
        }
    }
}

pub(super) type HandlerSlot<H> = Pin<Box<Slot<<H as Handler>::Future>>>;

/// Empty slots a connection keeps at most.
pub(super) const MAX_SPARE_SLOTS: usize = 16;
