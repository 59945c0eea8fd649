//! Handing a connection over after `101 Switching Protocols` or a 2xx to
//! CONNECT: the raw transport, with the bytes already read from it.
//!
//! A request that asks to upgrade (or a CONNECT) carries an [`OnUpgrade`]
//! in its extensions on the server side; a response to such a request
//! carries one on the client side. Awaiting it yields the [`Upgraded`]
//! connection once the switching response has been written (server) or read
//! (client), or an error when the exchange ended without a switch.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

/// A transport the connection can hand over: any tokio byte stream.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A connection that left HTTP: reads return the bytes read before the
/// switch first, then the transport's.
pub struct Upgraded {
    io: Box<dyn Io>,
    leftover: Bytes,
}

impl Upgraded {
    pub(crate) fn new(io: Box<dyn Io>, leftover: Bytes) -> Self {
        Upgraded { io, leftover }
    }

    /// The transport and the bytes already read from it (the first bytes of
    /// the new protocol).
    pub fn into_parts(self) -> (Box<dyn Io>, Bytes) {
        (self.io, self.leftover)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("leftover", &self.leftover.len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.leftover.is_empty() {
            let n = self.leftover.len().min(buf.remaining());
            buf.put_slice(&self.leftover[..n]);
            self.leftover.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The exchange ended without handing the connection over, or the
/// connection was already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpgradeError {
    taken: bool,
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.taken {
            f.write_str("the upgraded connection was already taken")
        } else {
            f.write_str("the connection was not upgraded")
        }
    }
}

impl std::error::Error for UpgradeError {}

/// A future of the [`Upgraded`] connection; see the [module docs](self).
/// Clones share one connection: the first to await it gets it.
pub struct OnUpgrade {
    shared: Arc<Mutex<Option<oneshot::Receiver<Upgraded>>>>,
    own: Option<oneshot::Receiver<Upgraded>>,
}

impl OnUpgrade {
    pub(crate) fn pair() -> (oneshot::Sender<Upgraded>, OnUpgrade) {
        let (tx, rx) = oneshot::channel();
        let on = OnUpgrade {
            shared: Arc::new(Mutex::new(Some(rx))),
            own: None,
        };
        (tx, on)
    }

    /// Takes the [`OnUpgrade`] out of a request's or response's extensions.
    pub fn take(extensions: &mut http::Extensions) -> Option<OnUpgrade> {
        extensions.remove::<OnUpgrade>()
    }
}

impl Clone for OnUpgrade {
    fn clone(&self) -> Self {
        OnUpgrade {
            shared: Arc::clone(&self.shared),
            own: None,
        }
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.own.is_none() {
            let taken = self
                .shared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            match taken {
                Some(rx) => self.own = Some(rx),
                None => return Poll::Ready(Err(UpgradeError { taken: true })),
            }
        }
        let Some(rx) = self.own.as_mut() else {
            return Poll::Ready(Err(UpgradeError { taken: true }));
        };
        let outcome = ready!(Pin::new(rx).poll(cx));
        self.own = None;
        // Later polls report the connection as taken.
        Poll::Ready(outcome.map_err(|_| UpgradeError { taken: false }))
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}
