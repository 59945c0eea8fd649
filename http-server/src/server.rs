//! [`HttpServer`]: listeners, one task per connection, connection limits,
//! and a graceful close.

use std::fmt;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use gruvi_body::{BoxError, Incoming};
use gruvi_conn::proto;
use gruvi_conn::server::{ServerConnection, ServerOptions};
use gruvi_wire::Limits;
use http::{Request, Response};
use http_body::Body;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, ToSocketAddrs, UnixListener};
use tokio_util::task::TaskTracker;
use tower_service::Service;
use tracing::Instrument;

use crate::connections::{Registry, serve};
use crate::context::{Address, RequestContext};
use crate::error::HttpError;
use crate::listener::{BoundUnix, IntoListener, Listener};
use crate::service::ServiceHandler;
use crate::signal::Signal;
use crate::source::{MakeService, ServiceSource};

/// A server hosting a tower `Service` — an axum `Router`, a stack of
/// tower-http layers, a `service_fn` — on any number of listeners, with a
/// server name and timeouts of its own.
///
/// ```no_run
/// # async fn run() -> Result<(), gruvi_server::HttpError> {
/// use std::convert::Infallible;
/// use gruvi_body::{Incoming, Outgoing};
///
/// let hello = tower::service_fn(|_request: http::Request<Incoming>| async {
///     Ok::<_, Infallible>(http::Response::new(Outgoing::full("Hello, World!")))
/// });
/// let mut server = gruvi_server::HttpServer::new(hello);
/// let address = server.listen("127.0.0.1:0").await?;
/// println!("listening on {address}");
/// server.close().await;
/// # Ok(()) }
/// ```
pub struct HttpServer<S> {
    service: S,
    options: ServerOptions,
    server_name: Option<Arc<str>>,
    /// Whether requests carry the [`RequestContext`].
    request_context: bool,
    max_connections: usize,
    close_timeout: Duration,
    listening: Vec<Address>,
    /// Stops the accept loops and asks connections to finish.
    shutdown: Signal,
    /// Drops the connections still open when the close deadline passes.
    abort: Signal,
    tasks: TaskTracker,
    connections: Arc<Registry>,
    counters: Arc<Counters>,
}

/// Counts kept by a server, read through [`HttpServer::stats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) shed: AtomicU64,
    pub(crate) refused: AtomicU64,
}

/// A snapshot of a server's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted since the server started.
    pub connections_accepted: u64,
    /// Connections open now (each has one task).
    pub connections_open: u64,
    /// Requests handed to the application.
    pub requests: u64,
    /// Connections that ended with an error (transport failure, write
    /// timeout, a failed response body), or were never served (a failed
    /// TLS handshake, a service that could not be made).
    pub connections_failed: u64,
    /// Requests refused for the peer's fault: malformed heads (answered
    /// 4xx/5xx), heads too slow (408), bodies malformed, cut short or
    /// stalled. Each is also logged once, at DEBUG, with the peer's address.
    pub protocol_errors: u64,
    /// Connections holding no request closed to make room for a new one at
    /// the connection limit (the oldest first).
    pub connections_shed: u64,
    /// Connections refused at the connection limit because every open one
    /// held a request: answered `503` and closed at once (TLS ones closed).
    pub connections_refused: u64,
}

impl<S> fmt::Debug for HttpServer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpServer")
            .field("listening", &self.listening)
            .field("server_name", &self.server_name)
            .field("max_connections", &self.max_connections)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S> HttpServer<S> {
    /// A server for `service`, not listening yet.
    pub fn new(service: S) -> Self {
        HttpServer {
            service,
            options: ServerOptions::default(),
            server_name: None,
            request_context: true,
            max_connections: 10_000,
            close_timeout: Duration::from_secs(30),
            listening: Vec::new(),
            shutdown: Signal::new(),
            abort: Signal::new(),
            tasks: TaskTracker::new(),
            connections: Arc::default(),
            counters: Arc::default(),
        }
    }

    /// The name given to the application in [`RequestContext`]; by
    /// default the host part of the address passed to `listen`.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(Arc::from(name.into()));
        self
    }

    /// How long a network operation may stall — a
    /// write to the peer, or the wait for the next bytes of a request body.
    /// Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.write_timeout = Some(timeout);
        self.options.proto.body_read_timeout = Some(timeout);
        self
    }

    /// Time allowed for a request head from its first byte (slowloris
    /// defence; answered `408`). Default 30 s; `None` disables it.
    pub fn header_read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.proto.header_read_timeout = timeout;
        self
    }

    /// Time an idle keep-alive connection is kept. Default 75 s.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.proto.idle_timeout = timeout;
        self
    }

    /// Most time the application may take to start a response; past it
    /// the request is cancelled and answered `503` (and the connection
    /// closes). Default `None`: no limit (tower-http's `TimeoutLayer` is the
    /// alternative that lets the application choose the answer).
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.options.proto.response_timeout = timeout;
        self
    }

    /// Most bytes of a request body. A declared Content-Length over it is
    /// answered `413 Content Too Large` before the body is read (without
    /// `100 Continue`); a chunked body that grows past it fails, and is
    /// answered `413` unless its response had started. Default 8 MiB —
    /// what a buffering application can afford per request, where
    /// nginx's 1 MiB turns away ordinary uploads; `None` for no limit (a
    /// streaming upload service). Bodies read in pieces are bounded in
    /// memory by backpressure whatever this is.
    pub fn max_request_body(mut self, max: Option<u64>) -> Self {
        self.options.proto.max_body_bytes = max;
        self
    }

    /// Limits on request heads: bytes, request line, field count.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.proto.limits = limits;
        self
    }

    /// Most requests of one connection parsed ahead and processed at once.
    /// Default 16.
    pub fn pipeline_depth(mut self, depth: usize) -> Self {
        self.options.proto.pipeline_depth = depth.max(1);
        self
    }

    /// Most bytes of a request body buffered for a slow application.
    /// Default 64 KiB.
    pub fn body_buffer(mut self, bytes: usize) -> Self {
        self.options.body_buffer = bytes.max(1);
        self
    }

    /// Most connections open at once. A connection that arrives at the
    /// limit makes room by closing the oldest open one that holds no
    /// request (a new one that sent nothing, or an idle keep-alive one);
    /// when every one holds a request, it is answered `503` and closed —
    /// never left waiting in the listen backlog. Default 10,000.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long [`close`](Self::close) lets requests in flight finish
    /// before dropping their connections. Default 30 s.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Whether each request carries the [`RequestContext`] (addresses,
    /// server name, TLS) in its extensions. Default `true`; an application
    /// that never asks saves the extension map the `http` crate allocates
    /// for a request's first extension (about a tenth of the server's
    /// work per small request) when neither this nor
    /// [`received_head`](Self::received_head) is on.
    pub fn request_context(mut self, insert: bool) -> Self {
        self.request_context = insert;
        self
    }

    /// Whether each request carries a [`ReceivedHead`](crate::ReceivedHead)
    /// (its fields in received case and order) in its extensions. Default
    /// `true`; an application that reads only the `http` types saves an
    /// allocation and a map insert per request without it.
    pub fn received_head(mut self, keep: bool) -> Self {
        self.options.received_head = keep;
        self
    }

    /// Every connection setting at once (see [`ServerOptions`]).
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// The addresses listened on.
    pub fn addresses(&self) -> &[Address] {
        &self.listening
    }

    /// The server's counters now.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            connections_accepted: c.accepted.load(Ordering::Relaxed),
            connections_open: c.open.load(Ordering::Relaxed),
            requests: c.requests.load(Ordering::Relaxed),
            connections_failed: c.failed.load(Ordering::Relaxed),
            protocol_errors: c.protocol_errors.load(Ordering::Relaxed),
            connections_shed: c.shed.load(Ordering::Relaxed),
            connections_refused: c.refused.load(Ordering::Relaxed),
        }
    }

    /// Graceful close: stop accepting, let the requests already received
    /// be answered (each connection's last response says `Connection:
    /// close`), close idle connections at once; connections still open
    /// after the close timeout are dropped. Returns when every connection
    /// task has ended; the server can then `listen` again. Connections
    /// handed over after `101 Switching Protocols` (WebSockets) have left
    /// the server: they are the application's to end.
    pub async fn close(&mut self) {
        self.shutdown.raise();
        self.tasks.close();
        if tokio::time::timeout(self.close_timeout, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.counters.open.load(Ordering::Relaxed),
                "close timeout passed; dropping the connections still open"
            );
            self.abort.raise();
            self.tasks.wait().await;
        }
        self.listening.clear();
        // Closed for good; a later `listen` starts afresh.
        self.shutdown = Signal::new();
        self.abort = Signal::new();
        self.tasks = TaskTracker::new();
    }
}

/// Dropping a server stops it at once: listeners close and open
/// connections are dropped ([`close`](HttpServer::close) is the graceful
/// way).
impl<S> Drop for HttpServer<S> {
    fn drop(&mut self) {
        self.shutdown.raise();
        self.abort.raise();
    }
}

impl<M> HttpServer<MakeService<M>> {
    /// A server whose connections each get their own service from `make`,
    /// called once per connection with the connection's [`RequestContext`]
    /// (tower's `MakeService` shape). With the `axum` feature, axum's
    /// `into_make_service_with_connect_info::<SocketAddr>()` gives its
    /// handlers `ConnectInfo<SocketAddr>`:
    ///
    /// ```
    /// # #[cfg(feature = "axum")]
    /// # async fn run() -> Result<(), gruvi_server::HttpError> {
    /// use std::net::SocketAddr;
    /// use axum::{Router, extract::ConnectInfo, routing::get};
    ///
    /// let app = Router::new().route(
    ///     "/ip",
    ///     get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    /// );
    /// let mut server = gruvi_server::HttpServer::from_make_service(
    ///     app.into_make_service_with_connect_info::<SocketAddr>(),
    /// );
    /// server.listen("127.0.0.1:0").await?;
    /// # server.close().await;
    /// # Ok(()) }
    /// ```
    pub fn from_make_service(make: M) -> Self {
        HttpServer::new(MakeService(make))
    }
}

impl<S> HttpServer<S> {
    /// Serves until `shutdown` completes — `tokio::signal::ctrl_c()`, a
    /// channel, a timer — then closes gracefully (see
    /// [`close`](Self::close)): requests in flight are answered within the
    /// close timeout.
    pub async fn serve<F: Future>(mut self, shutdown: F) {
        let _ = shutdown.await;
        self.close().await;
    }
}

impl<S, B> HttpServer<S>
where
    S: ServiceSource,
    S::Service: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    <S::Service as Service<Request<Incoming>>>::Future: Send + 'static,
    <S::Service as Service<Request<Incoming>>>::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// Listens on a TCP address (IPv4 or IPv6; port 0 picks a free port)
    /// and serves every connection accepted there. Returns the address
    /// bound.
    pub async fn listen(&mut self, addr: impl ToSocketAddrs) -> Result<Address, HttpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HttpError::io("binding a TCP listener", e))?;
        self.listen_on(listener)
    }

    /// Listens on a Unix domain socket at `path` (which must not exist).
    /// The socket file is removed when the server closes.
    pub async fn listen_unix(&mut self, path: impl AsRef<Path>) -> Result<Address, HttpError> {
        let path = path.as_ref().to_path_buf();
        let listener =
            UnixListener::bind(&path).map_err(|e| HttpError::io("binding a Unix listener", e))?;
        self.listen_on(BoundUnix { listener, path })
    }

    /// Serves the connections of a listener the caller made: a
    /// `std::net::TcpListener` or `tokio::net::TcpListener` bound with its
    /// own options (`SO_REUSEPORT` for a runtime per core, a listener
    /// inherited by socket activation), a Unix listener, or any
    /// [`Listener`]. Returns its address.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the accept loop is spawned on the current
    /// one).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), gruvi_server::HttpError> {
    /// # let service = tower::service_fn(|_: http::Request<gruvi_server::Incoming>| async {
    /// #     Ok::<_, std::convert::Infallible>(http::Response::new(gruvi_server::Outgoing::empty()))
    /// # });
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bound");
    /// let mut server = gruvi_server::HttpServer::new(service);
    /// server.listen_on(listener)?;
    /// # Ok(()) }
    /// ```
    pub fn listen_on(&mut self, listener: impl IntoListener) -> Result<Address, HttpError> {
        self.accept_from(listener, Plain)
    }

    /// Listens on a TCP address with TLS, configured by `config` (see
    /// [`rustls::ServerConfig`](tokio_rustls::rustls::ServerConfig); set its
    /// `alpn_protocols` to `[b"http/1.1"]` to announce HTTP/1.1). Requests
    /// see [`RequestContext::is_tls`] as `true`.
    #[cfg(feature = "tls")]
    pub async fn listen_tls(
        &mut self,
        addr: impl ToSocketAddrs,
        config: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> Result<Address, HttpError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| HttpError::io("binding a TLS listener", e))?;
        self.listen_on_tls(listener, config)
    }

    /// [`listen_on`](Self::listen_on) with TLS: any listener's connections
    /// are served over TLS configured by `config`.
    #[cfg(feature = "tls")]
    pub fn listen_on_tls(
        &mut self,
        listener: impl IntoListener,
        config: Arc<tokio_rustls::rustls::ServerConfig>,
    ) -> Result<Address, HttpError> {
        self.accept_from(listener, tokio_rustls::TlsAcceptor::from(config))
    }

    /// Serves what `listener` accepts, made ready by `handshake`.
    fn accept_from<I, K>(&mut self, listener: I, handshake: K) -> Result<Address, HttpError>
    where
        I: IntoListener,
        K: Handshake<<I::Listener as Listener>::Io>,
    {
        let listener = listener
            .into_listener()
            .map_err(|e| HttpError::io("registering a listener", e))?;
        let local = listener
            .local_addr()
            .map_err(|e| HttpError::io("reading the listener's address", e))?;
        self.spawn_accept_loop(listener, handshake, local.clone());
        Ok(local)
    }

    fn name_for(&self, local: &Address) -> Arc<str> {
        self.server_name.clone().unwrap_or_else(|| match local {
            Address::Tcp(addr) => Arc::from(addr.ip().to_string()),
            Address::Unix(_) => Arc::from("localhost"),
        })
    }

    fn spawn_accept_loop<L, K>(&mut self, mut listener: L, handshake: K, local: Address)
    where
        L: Listener,
        K: Handshake<L::Io>,
    {
        let name = self.name_for(&local);
        self.listening.push(local.clone());
        let max_connections = self.max_connections as u64;
        let registry = Arc::clone(&self.connections);
        let mut source = self.service.clone();
        let options = self.options.clone();
        let insert_context = self.request_context;
        let shutdown = self.shutdown.clone();
        let abort = self.abort.clone();
        let counters = Arc::clone(&self.counters);
        let tasks = self.tasks.clone();
        self.tasks.spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = shutdown.watch() => break,
                };
                let (raw, remote) = match accepted {
                    Ok(Some(accepted)) => accepted,
                    // The listener has ended: the server goes on without it.
                    Ok(None) => break,
                    Err(error) => {
                        // Out of descriptors and the like: pause, do not spin.
                        tracing::warn!(%error, listener = %local, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                counters.accepted.fetch_add(1, Ordering::Relaxed);
                // At the limit: make room by shedding a connection that holds
                // no request, or refuse this one at once (a connection left in
                // the backlog would wait there unanswered).
                if counters.open.load(Ordering::Relaxed) >= max_connections {
                    if registry.shed_oldest_idle() {
                        counters.shed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        counters.refused.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(peer = %remote, "at the connection limit: refused");
                        if !K::SECURE {
                            // The library's answer, from the protocol layer.
                            let answer = proto::Server::refusal(&options.proto, SystemTime::now());
                            L::refuse(raw, &answer);
                        }
                        continue;
                    }
                }
                let open = registry.open(&counters);
                let span = tracing::debug_span!("connection", peer = %remote, local = %local);
                let context =
                    RequestContext::new(remote, local.clone(), Arc::clone(&name), K::SECURE);
                let making = source.service_for(&context);
                let header_timeout = options.proto.header_read_timeout;
                let securing = handshake.handshake(raw, header_timeout);
                let (options, shutdown, abort, counters) = (
                    options.clone(),
                    shutdown.clone(),
                    abort.clone(),
                    Arc::clone(&counters),
                );
                // The handshake (if any) and the making of the service run in
                // the connection's own task: a slow peer never holds up the
                // accept loop.
                tasks.spawn(
                    async move {
                        // Bounded like a head: a service that is never made
                        // must not hold a connection slot forever.
                        let making = async {
                            match header_timeout {
                                Some(limit) => tokio::time::timeout(limit, making)
                                    .await
                                    .unwrap_or_else(|_| Err("making the service timed out".into())),
                                None => making.await,
                            }
                        };
                        let ready = async { Ok::<_, BoxError>((securing.await?, making.await?)) };
                        // Not served yet, it holds no request: shutdown or a
                        // shed ends it at once.
                        // Biased: a connection ready at once (plain, its
                        // service at hand) is served, so that a request it
                        // already sent is answered even when the close began.
                        let ready = tokio::select! {
                            biased;
                            ready = ready => Some(ready),
                            () = shutdown.watch() => None,
                            () = open.shed() => None,
                        };
                        match ready {
                            None => tracing::debug!("closed before it was served"),
                            Some(Ok((io, service))) => {
                                let handler = ServiceHandler::new(
                                    service,
                                    context,
                                    insert_context,
                                    Arc::clone(&counters),
                                );
                                // Pinned here, once: moving it into `serve`
                                // would give the task a second copy's room.
                                let connection = pin!(ServerConnection::new(io, handler, options));
                                if let Err(error) =
                                    serve(connection, shutdown.watch(), &abort, &open).await
                                {
                                    counters.failed.fetch_add(1, Ordering::Relaxed);
                                    tracing::debug!(%error, "connection ended with an error");
                                }
                            }
                            Some(Err(error)) => {
                                counters.failed.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(%error, "connection not served: handshake or service failed");
                            }
                        }
                        drop(open);
                    }
                    .instrument(span),
                );
            }
        });
    }
}

/// What makes an accepted connection ready for HTTP: nothing, or a TLS
/// handshake.
trait Handshake<Raw>: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Connections are encrypted.
    const SECURE: bool;

    /// Makes `raw` ready, within `limit`.
    fn handshake(
        &self,
        raw: Raw,
        limit: Option<Duration>,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static;
}

/// Plain connections: ready as accepted.
struct Plain;

impl<Raw: AsyncRead + AsyncWrite + Unpin + Send + 'static> Handshake<Raw> for Plain {
    type Io = Raw;
    const SECURE: bool = false;

    fn handshake(
        &self,
        raw: Raw,
        _: Option<Duration>,
    ) -> impl Future<Output = io::Result<Raw>> + Send + 'static {
        std::future::ready(Ok(raw))
    }
}

/// TLS (rustls) over any transport: the handshake is bounded by the
/// header-read timeout, the same slowloris defence as for a head.
#[cfg(feature = "tls")]
impl<Raw: AsyncRead + AsyncWrite + Unpin + Send + 'static> Handshake<Raw>
    for tokio_rustls::TlsAcceptor
{
    type Io = tokio_rustls::server::TlsStream<Raw>;
    const SECURE: bool = true;

    fn handshake(
        &self,
        raw: Raw,
        limit: Option<Duration>,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static {
        let handshake = self.accept(raw);
        async move {
            match limit {
                Some(limit) => tokio::time::timeout(limit, handshake)
                    .await
                    .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
                None => handshake.await,
            }
        }
    }
}
