//! [`Client`]: a client for any `http` or `https` URL, its connections
//! pooled per origin.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gruvi_body::{BoxError, Incoming, Outgoing};
use gruvi_conn::client::{ResponseFuture, SendRequest, ThroughProxy};
use gruvi_conn::proto::PreparedRequest;
use http::HeaderMap;
use http::header::PROXY_AUTHORIZATION;
use tokio::sync::Notify;
use tower_service::Service;
use tracing::Instrument;

use crate::client::within;
use crate::connect::{Connector, Origin, open, open_through};
use crate::error::HttpError;
use crate::proxy::Proxy;

/// A client for any `http` or `https` URL: a `tower::Service` whose
/// connections are pooled per origin (scheme, host, port).
///
/// - A request goes over an idle connection to its origin when there is
///   one, else over a new one (the host's addresses tried in order), up to
///   [`max_per_origin`](ClientBuilder::max_per_origin) connections; beyond
///   that, callers wait their turn (first come, first served) up to
///   [`wait_timeout`](ClientBuilder::wait_timeout).
/// - Connections are kept while the server keeps them alive, closed when
///   idle past [`idle_timeout`](ClientBuilder::idle_timeout) (90 s by
///   default) or beyond [`max_idle_per_origin`](ClientBuilder::max_idle_per_origin),
///   and forgotten once the server closes them.
/// - A request that finds its pooled connection closed before any byte of
///   its response came is sent again once on a new connection — only when
///   it is idempotent (RFC 9110 §9.2.2) and has no body to replay.
/// - With [`pipeline`](ClientBuilder::pipeline), idempotent requests
///   without a body share a busy connection up to that depth (HTTP/1.1
///   pipelining); other requests wait for a connection of their own.
/// - HTTPS uses the [`Connector`]'s TLS configuration, or the Mozilla root
///   certificates of `webpki-roots` (the ecosystem's standard bundle,
///   independent of the machine's trust store) when it has none.
///
/// The body type `B` is fixed by the client's type (by default
/// [`Outgoing`]), so `client.ready().await` and tower stacks need no
/// annotation; [`for_body`](Self::for_body) shares the pool with another
/// body type.
///
/// ```no_run
/// # async fn run() -> Result<(), gruvi_client::HttpError> {
/// let client = gruvi_client::Client::new();
/// let response = client.get("http://127.0.0.1:8080/a").await?;
/// let body = response.into_body().read_to_end().await?;
/// # let _ = body; Ok(()) }
/// ```
pub struct Client<B = Outgoing> {
    shared: Arc<Shared>,
    _body: PhantomData<fn(B)>,
}

impl<B> Clone for Client<B> {
    fn clone(&self) -> Self {
        Client {
            shared: Arc::clone(&self.shared),
            _body: PhantomData,
        }
    }
}

impl<B> fmt::Debug for Client<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Settings of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    connector: Connector,
    max_idle_per_origin: usize,
    max_per_origin: usize,
    idle_timeout: Option<Duration>,
    wait_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    pipeline: Option<usize>,
    proxy: Option<Proxy>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            connector: Connector::default(),
            max_idle_per_origin: 32,
            max_per_origin: 64,
            idle_timeout: Some(Duration::from_secs(90)),
            wait_timeout: Some(Duration::from_secs(30)),
            request_timeout: None,
            pipeline: None,
            proxy: None,
        }
    }
}

impl ClientBuilder {
    /// How connections are opened: connect timeout (30 s), the
    /// connection's settings and timeouts, TLS.
    pub fn connector(mut self, connector: Connector) -> Self {
        self.connector = connector;
        self
    }

    /// Most idle connections kept per origin. Default 32.
    pub fn max_idle_per_origin(mut self, max: usize) -> Self {
        self.max_idle_per_origin = max;
        self
    }

    /// Most connections open per origin; callers beyond wait. Default 64.
    pub fn max_per_origin(mut self, max: usize) -> Self {
        self.max_per_origin = max.max(1);
        self
    }

    /// How long an idle connection is kept. Default 90 s.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// How long a caller waits for a connection when its origin has its
    /// most. Default 30 s.
    pub fn wait_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Time allowed for a whole request, from the call to the response
    /// head (waiting for a connection, connecting and retrying included).
    /// Default `None`: the connection's own timeouts bound each step.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Pipelines idempotent requests without a body on busy connections,
    /// up to `depth` in flight on one, filling the busiest connection with
    /// room first (requests queued together leave in one write). Default
    /// off.
    pub fn pipeline(mut self, depth: Option<usize>) -> Self {
        self.pipeline = depth.filter(|&d| d > 1);
        self
    }

    /// Sends requests through HTTP proxies ([`Proxy::from_env`] reads
    /// them from the environment). Default: none, every origin reached
    /// directly.
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// The client.
    pub fn build(self) -> Client {
        let shared = Arc::new(Shared {
            settings: self,
            origins: Mutex::new(HashMap::new()),
            stats: Counters::default(),
        });
        if let Some(every) = shared.settings.idle_timeout {
            tokio::spawn(reap(Arc::downgrade(&shared), every / 2));
        }
        Client {
            shared,
            _body: PhantomData,
        }
    }
}

/// A snapshot of a [`Client`]'s pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections open now.
    pub open: u64,
    /// Of those, idle.
    pub idle: u64,
    /// Callers waiting for a connection now.
    pub waiting: u64,
    /// Connections opened since the client was made.
    pub opened: u64,
    /// Requests sent over a connection that had served before.
    pub reused: u64,
    /// Requests sent again after their pooled connection turned out closed.
    pub retried: u64,
}

struct Shared {
    settings: ClientBuilder,
    origins: Mutex<HashMap<Origin, OriginPool>>,
    stats: Counters,
}

#[derive(Default)]
struct Counters {
    waiting: AtomicU64,
    opened: AtomicU64,
    reused: AtomicU64,
    retried: AtomicU64,
}

/// The connections to one origin.
#[derive(Default)]
struct OriginPool {
    connections: Vec<Pooled>,
    /// Connections being opened (they count toward the most per origin).
    opening: usize,
    /// Woken, one at a time in waiting order, when a connection has room.
    room: Arc<Notify>,
}

struct Pooled {
    send: SendRequest,
    /// Requests it was given.
    served: u64,
}

impl Pooled {
    /// The connection can carry no more: forget it.
    fn is_gone(&self) -> bool {
        self.send.is_closed() || (!self.send.is_ready() && self.send.in_flight() == 0)
    }

    fn is_idle(&self) -> bool {
        self.send.is_ready() && self.send.in_flight() == 0
    }

    /// Idle past the client's idle timeout at `now`.
    fn idle_too_long(&self, settings: &ClientBuilder, now: Instant) -> bool {
        let (Some(limit), Some(since)) = (settings.idle_timeout, self.send.idle_since()) else {
            return false;
        };
        now.saturating_duration_since(since) >= limit
    }
}

impl OriginPool {
    /// Forgets closed connections, closes those idle too long and the
    /// idle ones beyond the most kept.
    fn sweep(&mut self, settings: &ClientBuilder, now: Instant) {
        self.connections.retain(|c| !c.is_gone());
        self.connections.retain(|c| !c.idle_too_long(settings, now));
        let mut idle = 0;
        self.connections.retain(|c| {
            if c.is_idle() {
                idle += 1;
                return idle <= settings.max_idle_per_origin;
            }
            true
        });
    }
}

/// Now, on tokio's clock: the one connections measure their idle time by
/// (and which a test's paused time moves).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sweeps every origin now and then, until the client is dropped.
async fn reap(shared: Weak<Shared>, every: Duration) {
    let every = every.max(Duration::from_millis(100));
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let now = now();
        let mut origins = shared.lock();
        for pool in origins.values_mut() {
            pool.sweep(&shared.settings, now);
        }
        origins.retain(|_, pool| !pool.connections.is_empty() || pool.opening > 0);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Origin, OriginPool>> {
        self.origins
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings (see [`ClientBuilder`]).
    pub fn new() -> Client {
        ClientBuilder::default().build()
    }

    /// Settings to build a client with.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<http::Response<Incoming>, HttpError> {
        self.request(build("GET", url, Outgoing::empty())?).await
    }

    /// `POST url` with `body`.
    pub async fn post(
        &self,
        url: &str,
        body: impl Into<Bytes>,
    ) -> Result<http::Response<Incoming>, HttpError> {
        self.request(build("POST", url, Outgoing::full(body.into()))?)
            .await
    }
}

fn build(method: &str, url: &str, body: Outgoing) -> Result<http::Request<Outgoing>, HttpError> {
    http::Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .map_err(|e| HttpError::misuse(format!("invalid request for {url}: {e}")))
}

impl<B> Client<B> {
    /// The same pool, for requests with bodies of type `C`.
    pub fn for_body<C>(&self) -> Client<C> {
        Client {
            shared: Arc::clone(&self.shared),
            _body: PhantomData,
        }
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        let origins = self.shared.lock();
        let (mut open, mut idle) = (0, 0);
        for pool in origins.values() {
            for connection in &pool.connections {
                open += 1;
                idle += u64::from(connection.is_idle());
            }
        }
        let c = &self.shared.stats;
        PoolStats {
            open,
            idle,
            waiting: c.waiting.load(Ordering::Relaxed),
            opened: c.opened.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
        }
    }
}

impl<B> Client<B>
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    /// Sends `request` (an absolute `http` or `https` URL) over a pooled
    /// connection to its origin; resolves to the response head.
    pub async fn request(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Incoming>, HttpError> {
        // Boxed: the exchange's future is large (the request, its copy
        // for a retry, waiting for room) and would be copied whole each
        // time the caller's future moves; a box moves as a pointer.
        let span =
            tracing::debug_span!("request", method = %request.method(), uri = %request.uri());
        let sending = Box::pin(self.send(request.map(Outgoing::from_body)).instrument(span));
        within(
            self.shared.settings.request_timeout,
            "the response",
            sending,
        )
        .await?
    }
}

impl<B> Client<B> {
    async fn send(
        &self,
        request: http::Request<Outgoing>,
    ) -> Result<http::Response<Incoming>, HttpError> {
        let Some(origin) = Origin::of_uri(request.uri())? else {
            return Err(HttpError::misuse(format!(
                "{}: the client needs an absolute http or https URL",
                request.uri()
            )));
        };
        let (mut parts, body) = request.into_parts();
        let proxy = self.shared.settings.proxy.as_ref();
        // An http request to a proxy names its origin in its target
        // (RFC 9112 §3.2.2) and carries the proxy's credentials; an https
        // one goes through a tunnel, where the proxy sees neither.
        let forwarded = !origin.is_tls() && proxy.and_then(|p| p.for_origin(&origin)).is_some();
        if let (true, Some(value)) = (forwarded, proxy.and_then(Proxy::authorization_value)) {
            parts
                .headers
                .entry(PROXY_AUTHORIZATION)
                .or_insert_with(|| value.clone());
        }
        if forwarded {
            parts.extensions.insert(ThroughProxy);
        }
        // Checked and written once: a retry sends the same head again.
        let prepared = SendRequest::prepare(&parts, &body)?;
        // RFC 9110 §9.2.2: an idempotent request may be sent again — here
        // only one without a body, which needs no replay.
        let replayable = is_idempotent(&parts.method) && http_body::Body::is_end_stream(&body);
        let pipelinable = replayable && self.shared.settings.pipeline.is_some();
        let again = replayable.then(|| prepared.clone());
        // The first try carries the body, and the header map for the
        // connection to fill with a response's fields.
        let mut first = Some(Outbound {
            prepared,
            body,
            headers: Some(parts.headers),
        });
        let mut retried = false;
        loop {
            let outbound = match first.take() {
                Some(outbound) => outbound,
                None => match &again {
                    Some(again) => Outbound {
                        prepared: again.clone(),
                        body: Outgoing::empty(),
                        headers: None,
                    },
                    None => unreachable!("only a replayable request is sent again"),
                },
            };
            // A request sent again goes on a connection of its own: a server
            // that closed with pipelined requests unanswered may answer one
            // request per connection.
            let pipelined = pipelinable && !retried;
            let outcome = self.dispatch(&origin, pipelined, outbound).await?.await;
            match outcome {
                Ok(response) => return Ok(response),
                // The pooled connection turned out closed, before the
                // request was written or before any byte of its response:
                // sent again once, if it may be (its body, if any, went
                // with the first try).
                Err(error) if error.is_unanswered() && again.is_some() && !retried => {
                    tracing::debug!("the pooled connection was closed: sending again");
                    retried = true;
                    self.shared.stats.retried.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Queues `request` on a connection to `origin`: an idle one, a busy
    /// one with room (pipelining), a new one, or — at the most per origin
    /// — the first to have room, in waiting order. The request is queued
    /// under the pool's lock, so no other caller takes the same idle
    /// connection meanwhile.
    async fn dispatch(
        &self,
        origin: &Origin,
        pipelinable: bool,
        request: Outbound,
    ) -> Result<ResponseFuture, HttpError> {
        let settings = &self.shared.settings;
        let started = now();
        loop {
            let room = {
                let mut origins = self.shared.lock();
                let pool = match origins.get_mut(origin) {
                    Some(pool) => pool,
                    None => origins.entry(origin.clone()).or_default(),
                };
                let now = now();
                // Pipelining fills the busiest connection with room first:
                // requests queued together leave in one write, and their
                // responses come back together (spread over connections,
                // each would go alone).
                if let (Some(depth), true) = (settings.pipeline, pipelinable) {
                    let has_room = |c: &&mut Pooled| {
                        c.send.is_ready()
                            && c.send.in_flight() < depth
                            && !c.idle_too_long(settings, now)
                    };
                    let fullest = pool
                        .connections
                        .iter_mut()
                        .filter(has_room)
                        .max_by_key(|c| c.send.in_flight());
                    if let Some(pooled) = fullest {
                        return self.queue(pooled, &pool.room, request);
                    }
                }
                // Else, still without a sweep: an idle connection, not idle
                // for too long.
                let fresh = |c: &&mut Pooled| c.is_idle() && !c.idle_too_long(settings, now);
                if let Some(pooled) = pool.connections.iter_mut().find(fresh) {
                    return self.queue(pooled, &pool.room, request);
                }
                pool.sweep(settings, now);
                // With pipelining, a connection being opened will do.
                let opening_will_do =
                    pipelinable && settings.pipeline.is_some() && pool.opening > 0;
                if !opening_will_do
                    && pool.connections.len() + pool.opening < settings.max_per_origin
                {
                    pool.opening += 1;
                    None
                } else {
                    Some(Arc::clone(&pool.room))
                }
            };
            let Some(room) = room else {
                // Boxed: opening (connect, TLS, tunnel) is a large future
                // and a rare one; kept inline, every request's future would
                // be that large, and moved as often.
                return Box::pin(self.open(origin, request)).await;
            };
            self.shared.stats.waiting.fetch_add(1, Ordering::Relaxed);
            let waited = match settings.wait_timeout {
                Some(limit) => {
                    let left = limit.saturating_sub(now().saturating_duration_since(started));
                    tokio::time::timeout(left, room.notified()).await.is_ok()
                }
                None => {
                    room.notified().await;
                    true
                }
            };
            self.shared.stats.waiting.fetch_sub(1, Ordering::Relaxed);
            if !waited {
                return Err(HttpError::timeout("a connection to the origin"));
            }
        }
    }

    /// Queues `request` on `pooled` (the pool's lock held); with
    /// pipelining, the next caller waiting is told there may be room left.
    fn queue(
        &self,
        pooled: &mut Pooled,
        room: &Notify,
        request: Outbound,
    ) -> Result<ResponseFuture, HttpError> {
        if pooled.served > 0 {
            self.shared.stats.reused.fetch_add(1, Ordering::Relaxed);
        }
        pooled.served += 1;
        let Outbound {
            prepared,
            body,
            headers,
        } = request;
        let response = match headers {
            Some(headers) => pooled.send.send_prepared_with(prepared, body, headers),
            None => pooled.send.send_prepared(prepared, body),
        };
        if let Some(depth) = self.shared.settings.pipeline {
            if pooled.send.is_ready() && pooled.send.in_flight() < depth {
                room.notify_one();
            }
        }
        Ok(response)
    }

    /// Opens a connection to `origin`, directly or through its proxy, adds
    /// it to the pool, and queues `request` on it.
    async fn open(&self, origin: &Origin, request: Outbound) -> Result<ResponseFuture, HttpError> {
        let settings = &self.shared.settings;
        let proxy = settings.proxy.as_ref();
        let opened = match proxy.and_then(|p| p.for_origin(origin)) {
            Some(via) => {
                let authorization = proxy.and_then(Proxy::authorization_value);
                open_through(origin, via, authorization, &settings.connector).await
            }
            None => open(&origin.target(), &settings.connector).await,
        };
        let mut origins = self.shared.lock();
        let pool = origins.entry(origin.clone()).or_default();
        pool.opening -= 1;
        let connection = match opened {
            Ok(connection) => connection,
            Err(error) => {
                tracing::debug!(%error, "connecting failed");
                // Someone waiting may try in its place.
                pool.room.notify_one();
                return Err(error);
            }
        };
        self.shared.stats.opened.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(%origin, "connection opened");
        connection.send.notify_room(Arc::clone(&pool.room));
        pool.connections.push(Pooled {
            send: connection.send,
            served: 0,
        });
        let room = Arc::clone(&pool.room);
        let pooled = pool.connections.last_mut().expect("just pushed");
        self.queue(pooled, &room, request)
    }
}

/// A request on its way to a connection: its head prepared, its body, and
/// (on the first try) its header map, for the connection to reuse.
struct Outbound {
    prepared: PreparedRequest,
    body: Outgoing,
    headers: Option<HeaderMap>,
}

/// RFC 9110 §9.2.2.
fn is_idempotent(method: &http::Method) -> bool {
    matches!(
        *method,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::OPTIONS
            | http::Method::TRACE
    )
}

impl<B> Service<http::Request<B>> for Client<B>
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<Incoming>;
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Incoming>, HttpError>> + Send>>;

    /// Always ready: a request waits for a connection in its call (each
    /// origin has its own limit).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), HttpError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let client = self.clone();
        Box::pin(async move { client.request(request).await })
    }
}
