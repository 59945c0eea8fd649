//! Where connections come from: the [`Listener`] trait a server accepts
//! from, its implementations for tokio's TCP and Unix listeners, and
//! [`IntoListener`], which also takes std's (bound with whatever options
//! the caller set: `SO_REUSEPORT`, socket activation, a backlog).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

use crate::context::Address;

/// A source of connections for [`HttpServer::listen_on`](crate::HttpServer::listen_on).
///
/// Implemented for tokio's `TcpListener` and `UnixListener`; implement it
/// for anything else that yields byte streams (an in-memory transport, a
/// listener behind a proxy protocol, a set of pre-accepted sockets).
///
/// ```
/// use std::io;
/// use gruvi_server::{Address, Listener};
///
/// /// Connections handed over by another part of the program.
/// struct Handed(tokio::sync::mpsc::Receiver<(tokio::io::DuplexStream, Address)>);
///
/// impl Listener for Handed {
///     type Io = tokio::io::DuplexStream;
///
///     async fn accept(&mut self) -> io::Result<Option<(Self::Io, Address)>> {
///         // `None` once every sender is gone: the server stops accepting here.
///         Ok(self.0.recv().await)
///     }
///
///     fn local_addr(&self) -> io::Result<Address> {
///         Ok(Address::Unix("in-memory".into()))
///     }
/// }
/// ```
pub trait Listener: Send + 'static {
    /// An accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection: its transport and the peer's address;
    /// `None` once the listener has ended (the server stops accepting from
    /// it). An error is logged and accepting resumes after a short pause
    /// (running out of descriptors and the like).
    fn accept(&mut self) -> impl Future<Output = io::Result<Option<(Self::Io, Address)>>> + Send;

    /// The address connections arrive at, as requests' [`RequestContext`](crate::RequestContext)
    /// tells it.
    fn local_addr(&self) -> io::Result<Address>;

    /// Refuses a connection accepted at the server's connection limit, when
    /// no idle one could be closed to make room; `answer` is what to tell
    /// it (a `503`, for a plain-text connection). By default it is closed
    /// without a word; tokio's listeners first try to write `answer`
    /// without waiting.
    fn refuse(io: Self::Io, answer: &[u8]) {
        let _ = answer;
        drop(io);
    }
}

impl Listener for TcpListener {
    type Io = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<Option<(Self::Io, Address)>> {
        let (stream, peer) = TcpListener::accept(self).await?;
        // Responses leave whole (batched); Nagle's delay would only add
        // latency. A peer already gone fails here: its connection fails
        // later on its own, without holding up the accept loop.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, %peer, "cannot disable Nagle's algorithm");
        }
        Ok(Some((stream, Address::Tcp(peer))))
    }

    fn local_addr(&self) -> io::Result<Address> {
        TcpListener::local_addr(self).map(Address::Tcp)
    }

    fn refuse(io: Self::Io, answer: &[u8]) {
        let _ = io.try_write(answer);
    }
}

impl Listener for UnixListener {
    type Io = tokio::net::UnixStream;

    async fn accept(&mut self) -> io::Result<Option<(Self::Io, Address)>> {
        let (stream, peer) = UnixListener::accept(self).await?;
        let peer = peer
            .as_pathname()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(Some((stream, Address::Unix(peer))))
    }

    fn local_addr(&self) -> io::Result<Address> {
        let local = UnixListener::local_addr(self)?;
        Ok(Address::Unix(
            local
                .as_pathname()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
        ))
    }

    fn refuse(io: Self::Io, answer: &[u8]) {
        let _ = io.try_write(answer);
    }
}

/// What [`HttpServer::listen_on`](crate::HttpServer::listen_on) takes: any
/// [`Listener`], or a listener of std's, which is made non-blocking and
/// registered with the tokio runtime of the caller.
pub trait IntoListener {
    /// The listener accepted from.
    type Listener: Listener;

    /// Converts; fails when a std listener cannot be registered (its
    /// descriptor is not a listening socket).
    ///
    /// # Panics
    ///
    /// A std listener is registered with the current tokio runtime: this
    /// panics outside one (as `HttpServer::listen_on`, which also spawns
    /// its accept loop there).
    fn into_listener(self) -> io::Result<Self::Listener>;
}

impl<L: Listener> IntoListener for L {
    type Listener = L;

    fn into_listener(self) -> io::Result<L> {
        Ok(self)
    }
}

impl IntoListener for std::net::TcpListener {
    type Listener = TcpListener;

    fn into_listener(self) -> io::Result<TcpListener> {
        self.set_nonblocking(true)?;
        TcpListener::from_std(self)
    }
}

impl IntoListener for std::os::unix::net::UnixListener {
    type Listener = UnixListener;

    fn into_listener(self) -> io::Result<UnixListener> {
        self.set_nonblocking(true)?;
        UnixListener::from_std(self)
    }
}

/// A Unix listener the server bound itself: its socket file is removed
/// when the listener goes (a listener given to the server is the caller's
/// to clean up).
pub(crate) struct BoundUnix {
    pub(crate) listener: UnixListener,
    pub(crate) path: PathBuf,
}

impl Listener for BoundUnix {
    type Io = tokio::net::UnixStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<Option<(Self::Io, Address)>>> + Send {
        Listener::accept(&mut self.listener)
    }

    fn local_addr(&self) -> io::Result<Address> {
        Ok(Address::Unix(self.path.clone()))
    }

    fn refuse(io: Self::Io, answer: &[u8]) {
        <UnixListener as Listener>::refuse(io, answer);
    }
}

impl Drop for BoundUnix {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
