//! The open connections of a server: counted, kept in accept order, and
//! each told when to finish — on shutdown, or when the server is at its
//! connection limit and this connection holds no request (it is shed to
//! make room, oldest first, as nginx sheds idle keep-alive connections).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;
use gruvi_body::BoxError;
use gruvi_conn::server::{ConnectionError, Handler, ServerConnection};
use http_body::Body;
use pin_project::pin_project;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::server::Counters;
use crate::signal::{Signal, Watch};

/// Connections scanned at most, oldest first, for one to shed.
const SHED_SCAN: usize = 1024;

/// The open connections of one server, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    open: Mutex<BTreeMap<u64, Arc<Tracked>>>,
    next: AtomicU64,
}

/// What the server knows of one connection, and how it reaches it.
#[derive(Debug, Default)]
pub(crate) struct Tracked {
    /// The connection holds no request (updated on each of its wake-ups).
    idle: AtomicBool,
    /// The server wants it closed (shed).
    shed: AtomicBool,
    waker: AtomicWaker,
}

impl Registry {
    /// Counts a new connection in; it is counted out when the returned
    /// value is dropped — however its task ends, panics included.
    pub(crate) fn open(self: &Arc<Self>, counters: &Arc<Counters>) -> OpenConnection {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let tracked = Arc::new(Tracked {
            idle: AtomicBool::new(true),
            ..Tracked::default()
        });
        self.lock().insert(key, Arc::clone(&tracked));
        counters.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection {
            registry: Arc::clone(self),
            counters: Arc::clone(counters),
            key,
            tracked,
        }
    }

    /// Asks the oldest connection that holds no request to close; `false`
    /// if none of those scanned does.
    pub(crate) fn shed_oldest_idle(&self) -> bool {
        let open = self.lock();
        let victim = open
            .values()
            .take(SHED_SCAN)
            .find(|t| t.idle.load(Ordering::Acquire) && !t.shed.load(Ordering::Acquire));
        match victim {
            Some(tracked) => {
                tracked.shed.store(true, Ordering::Release);
                tracked.waker.wake();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Tracked>>> {
        // The map stays consistent whatever panicked while it was held.
        self.open
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One open connection, counted until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    registry: Arc<Registry>,
    counters: Arc<Counters>,
    key: u64,
    tracked: Arc<Tracked>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.key);
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl OpenConnection {
    /// Completes once the server asks this connection to close to make
    /// room (it holds no request): for a connection still being prepared
    /// (TLS handshake, its service being made), which is not served yet.
    pub(crate) fn shed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            self.tracked.waker.register(cx.waker());
            if self.tracked.shed.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

/// Runs one connection to its end: on shutdown, or when shed, it finishes
/// what it has (an idle one closes at once); on abort it is dropped.
pub(crate) fn serve<'a, T, H>(
    connection: Pin<&'a mut ServerConnection<T, H>>,
    shutdown: Watch,
    abort: &'a Signal,
    open: &'a OpenConnection,
) -> Serve<'a, T, H>
where
    H: Handler,
{
    Serve {
        connection,
        shutdown,
        abort: None,
        abort_signal: abort,
        tracked: &open.tracked,
        registered: None,
    }
}

/// The future of [`serve`].
#[pin_project]
pub(crate) struct Serve<'a, T, H: Handler> {
    connection: Pin<&'a mut ServerConnection<T, H>>,
    #[pin]
    shutdown: Watch,
    /// Watched once the connection finishes (after shutdown or shed): abort
    /// always comes after shutdown, so until then one signal is watched.
    #[pin]
    abort: Option<Watch>,
    abort_signal: &'a Signal,
    tracked: &'a Tracked,
    /// The waker the tracked connection was last told (a shed wakes it):
    /// told again only when the task's waker changes.
    registered: Option<std::task::Waker>,
}

impl<T, H> Future for Serve<'_, T, H>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
    <H::Body as Body>::Error: Into<BoxError>,
{
    type Output = Result<(), ConnectionError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // The signals first: a response finished in the same wake-up must
        // already know it is the last (and say `Connection: close`).
        if this.abort.is_none() {
            if !this
                .registered
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                this.tracked.waker.register(cx.waker());
                *this.registered = Some(cx.waker().clone());
            }
            let shed = this.tracked.shed.load(Ordering::Acquire);
            if shed || this.shutdown.as_mut().poll(cx).is_ready() {
                this.connection.as_mut().graceful_shutdown();
                this.abort.set(Some(this.abort_signal.watch()));
            }
        }
        if let Some(abort) = this.abort.as_mut().as_pin_mut() {
            if abort.poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
        }
        let polled = this.connection.as_mut().poll(cx);
        let idle = this.connection.is_idle();
        if this.tracked.idle.load(Ordering::Relaxed) != idle {
            this.tracked.idle.store(idle, Ordering::Release);
        }
        polled
    }
}
