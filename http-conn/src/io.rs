//! The socket side both drivers share: reads into the connection's one read
//! buffer (grown while the peer keeps it full, shrunk back when it does
//! not), vectored writes of the batched output with a stall timeout, a
//! bounded lingering close, and the one timer of a connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;

use crate::write_buf::WriteBuf;

/// Smallest read; also the size every connection starts with.
const MIN_READ: usize = 8 * 1024;
/// Largest read, reached while each read fills the space offered.
const MAX_READ: usize = 128 * 1024;

/// The clock the drivers run on: tokio's, so that tests with paused time
/// move it, in the `std` type the sans-IO code takes.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The transport of one connection and what the drivers track about it.
#[derive(Debug)]
pub(crate) struct Transport<T> {
    /// `None` once handed over (upgrade).
    io: Option<T>,
    read_size: usize,
    /// When a write last could not proceed, while it still cannot.
    write_stalled_since: Option<Instant>,
    write_timeout: Option<Duration>,
    /// Bytes written but not flushed.
    needs_flush: bool,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport<T> {
    pub(crate) fn new(io: T, write_timeout: Option<Duration>) -> Self {
        Transport {
            io: Some(io),
            read_size: MIN_READ,
            write_stalled_since: None,
            write_timeout,
            needs_flush: false,
        }
    }

    /// Takes the transport (for an upgrade); later IO fails.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.io.take()
    }

    fn io(&mut self) -> io::Result<&mut T> {
        self.io
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection handed over"))
    }

    /// Reads once into `buf`; `Ok(0)` is the peer's end of stream.
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
    ) -> Poll<io::Result<usize>> {
        // Room is made only when little is left: the bytes before it may be
        // lent out (a head's fields, a body chunk), and then a reservation
        // cannot reuse the buffer but allocates a new one — per message,
        // if every read asked for a full `read_size`.
        if buf.capacity() - buf.len() < self.read_size / 2 {
            buf.reserve(self.read_size);
        }
        let offered = buf.capacity() - buf.len();
        let io = self.io()?;
        let n = ready!(tokio_util::io::poll_read_buf(Pin::new(io), cx, buf))?;
        // Adaptive: a read that filled what was offered asks for more next
        // time; a small one lets the size fall back.
        if n >= offered {
            self.read_size = (self.read_size * 2).min(MAX_READ);
        } else if n < self.read_size / 4 {
            self.read_size = (self.read_size / 2).max(MIN_READ);
        }
        Poll::Ready(Ok(n))
    }

    /// Writes everything buffered, vectored, then flushes. `Ok(true)` if
    /// any byte left; `Pending` only when the transport refuses more (then
    /// the stall timer runs).
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut WriteBuf,
        now: Instant,
    ) -> Poll<io::Result<bool>> {
        let mut wrote = false;
        while out.has_remaining() {
            let io = self.io()?;
            // One contiguous slice (a lone response, most often) goes out
            // with a plain write: the kernel's `writev` path costs more than
            // `send` for a single buffer.
            let polled = if out.chunk().len() == out.remaining() {
                Pin::new(io).poll_write(cx, out.chunk()).map_ok(|n| {
                    out.advance(n);
                    n
                })
            } else {
                tokio_util::io::poll_write_buf(Pin::new(io), cx, out)
            };
            match polled {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Poll::Ready(Ok(_)) => {
                    wrote = true;
                    self.needs_flush = true;
                    self.write_stalled_since = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.write_stalled_since.get_or_insert(now);
                    return if wrote {
                        Poll::Ready(Ok(true))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
        if self.needs_flush {
            let io = self.io()?;
            match Pin::new(io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    self.write_stalled_since = None;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.write_stalled_since.get_or_insert(now);
                }
            }
        }
        Poll::Ready(Ok(wrote))
    }

    /// When a stalled write fails, if one is stalled.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        self.write_stalled_since?.checked_add(self.write_timeout?)
    }

    /// Sends our end of stream.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.io.as_mut() {
            Some(io) => Pin::new(io).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Reads and throws away what the peer still sends, until it closes or
    /// `budget` bytes are gone: closing with unread bytes would make the
    /// kernel answer with a reset that can destroy the response still in
    /// flight (RFC 9112 §9.6 ¶9).
    pub(crate) fn poll_linger(&mut self, cx: &mut Context<'_>, budget: &mut usize) -> Poll<()> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(());
        };
        let mut scratch = [0u8; 4096];
        while *budget > 0 {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match Pin::new(&mut *io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    *budget = budget.saturating_sub(buf.filled().len());
                }
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(())
    }
}

/// One connection's timer, armed for the earliest of its deadlines.
#[derive(Debug, Default)]
pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    /// The waker of the last poll that left the armed timer pending: the
    /// one the timer wakes when it fires.
    registered: Option<Waker>,
}

impl Timer {
    /// Ready if `deadline` has passed; otherwise the task is woken then (or
    /// earlier).
    ///
    /// A timer armed for an earlier instant is left alone until it fires:
    /// the idle deadline moves later with every request, and re-arming
    /// the timer each time costs more than one early wake-up, which finds
    /// the deadline not passed and arms it for the right instant. Nor is
    /// an armed timer polled again by the task it already wakes (a
    /// connection asks at the end of nearly every wake-up).
    pub(crate) fn poll_at(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        let deadline = tokio::time::Instant::from_std(deadline);
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() > deadline {
            sleep.as_mut().reset(deadline);
            self.registered = None;
        } else if !sleep.is_elapsed()
            && self
                .registered
                .as_ref()
                .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            return Poll::Pending;
        }
        let polled = match sleep.as_mut().poll(cx) {
            // It fired for an earlier instant: arm it for this one.
            Poll::Ready(()) if sleep.deadline() < deadline => {
                sleep.as_mut().reset(deadline);
                sleep.as_mut().poll(cx)
            }
            polled => polled,
        };
        self.registered = polled.is_pending().then(|| cx.waker().clone());
        polled
    }
}

/// `now + wait`, or far enough away to be never when `wait` is huge.
pub(crate) fn deadline_after(now: Instant, wait: Duration) -> Instant {
    now.checked_add(wait)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The earlier of two optional deadlines.
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
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

    #[tokio::test(start_paused = true)]
    async fn the_timer_wakes_the_task_that_polled_it_last() {
        let mut timer = Timer::default();
        let deadline = now() + Duration::from_secs(5);
        let (first, first_waker) = waker();
        let (second, second_waker) = waker();
        assert!(
            timer
                .poll_at(&mut Context::from_waker(&first_waker), deadline)
                .is_pending()
        );
        // The same task asking again is told without polling the timer.
        assert!(
            timer
                .poll_at(&mut Context::from_waker(&first_waker), deadline)
                .is_pending()
        );
        // Another task (the connection moved): the timer now wakes that one.
        assert!(
            timer
                .poll_at(&mut Context::from_waker(&second_waker), deadline)
                .is_pending()
        );
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert!(
            timer
                .poll_at(&mut Context::from_waker(&second_waker), deadline)
                .is_ready()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_rearms_and_a_later_one_waits_for_the_armed_one() {
        let mut timer = Timer::default();
        let start = now();
        let (counter, waker) = waker();
        let mut cx = Context::from_waker(&waker);
        assert!(
            timer
                .poll_at(&mut cx, start + Duration::from_secs(10))
                .is_pending()
        );
        // Earlier: re-armed, so it fires at 2 s, not 10 s.
        assert!(
            timer
                .poll_at(&mut cx, start + Duration::from_secs(2))
                .is_pending()
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 1);
        assert!(
            timer
                .poll_at(&mut cx, start + Duration::from_secs(2))
                .is_ready()
        );
        // Later than the instant it fired for: armed again for that one.
        assert!(
            timer
                .poll_at(&mut cx, start + Duration::from_secs(4))
                .is_pending()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(
            timer
                .poll_at(&mut cx, start + Duration::from_secs(4))
                .is_ready()
        );
    }
}
