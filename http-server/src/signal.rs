//! The server's stop signals (graceful close, then abort): raised once by
//! the server, watched by the accept loops and by every connection task.
//!
//! A connection's task is woken for every read and every write, and on each
//! wake-up it must know whether the server is stopping. A
//! `CancellationToken` answers with two mutex locks per poll; a [`Watch`]
//! answers with one atomic load, and registers with the signal again only
//! when it is polled from a different task (a different waker) than last
//! time.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

use pin_project::pin_project;
use tokio::sync::{Notify, futures::OwnedNotified};

/// Raised once; every [`Watch`] taken from it then completes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Signal(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    raised: AtomicBool,
    /// Shared on its own: each watch's `OwnedNotified` holds it.
    notify: Arc<Notify>,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Signal::default()
    }

    /// Raises the signal: watches complete, now and from now on.
    pub(crate) fn raise(&self) {
        // Set before the wake-ups, so a woken watch sees it.
        self.0.raised.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    /// A future that completes once the signal is raised.
    pub(crate) fn watch(&self) -> Watch {
        Watch {
            // Created before the flag is read by `poll`: a raise between the
            // two still completes it (`notify_waiters` reaches every
            // `Notified` created before it).
            notified: Arc::clone(&self.0.notify).notified_owned(),
            shared: Arc::clone(&self.0),
            registered: None,
        }
    }
}

/// Completes once its [`Signal`] is raised.
#[pin_project]
#[derive(Debug)]
pub(crate) struct Watch {
    shared: Arc<Shared>,
    #[pin]
    notified: OwnedNotified,
    /// The waker the `Notified` was last polled with: the one a raise wakes.
    registered: Option<Waker>,
}

impl Future for Watch {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        if this.shared.raised.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if this
            .registered
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            // Registered with this very task: a raise will wake it.
            return Poll::Pending;
        }
        let polled = this.notified.poll(cx);
        if polled.is_pending() {
            *this.registered = Some(cx.waker().clone());
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (Arc::clone(&counter), Waker::from(counter))
    }

    #[test]
    fn a_raise_wakes_the_task_that_last_polled_and_completes_the_watch() {
        let signal = Signal::new();
        let mut watch = Box::pin(signal.watch());
        let (first, first_waker) = waker();
        let (second, second_waker) = waker();
        let mut cx = Context::from_waker(&first_waker);
        assert!(watch.as_mut().poll(&mut cx).is_pending());
        assert!(watch.as_mut().poll(&mut cx).is_pending());
        // Polled from another task: that one is woken, not the first.
        let mut cx = Context::from_waker(&second_waker);
        assert!(watch.as_mut().poll(&mut cx).is_pending());
        signal.raise();
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert!(watch.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_watch_taken_or_first_polled_after_the_raise_is_complete() {
        let signal = Signal::new();
        let early = signal.watch();
        signal.raise();
        let late = signal.watch();
        let (_, waker) = waker();
        let mut cx = Context::from_waker(&waker);
        assert!(Box::pin(early).as_mut().poll(&mut cx).is_ready());
        assert!(Box::pin(late).as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn clones_share_the_signal() {
        let signal = Signal::new();
        let mut watch = Box::pin(signal.clone().watch());
        let (counter, waker) = waker();
        let mut cx = Context::from_waker(&waker);
        assert!(watch.as_mut().poll(&mut cx).is_pending());
        signal.raise();
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(watch.as_mut().poll(&mut cx).is_ready());
    }
}
