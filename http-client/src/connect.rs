//! Where a client connects, and opening the connection: the transport
//! (directly or through an HTTP proxy), then the `gruvi-conn` driver on a
//! task of its own.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gruvi_body::Outgoing;
use gruvi_conn::client::{ClientOptions, RequestError, SendRequest, handshake};
use gruvi_conn::upgrade::{Io, OnUpgrade};
use gruvi_wire::parse_url;
use http::HeaderValue;
use http::header::{HOST, PROXY_AUTHORIZATION};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::client::within;
use crate::error::HttpError;

/// Where to connect: `"host:port"`, `"http://host[:port]"`,
/// `"https://host[:port]"` (feature `tls`), a [`SocketAddr`], or a Unix
/// socket path ([`Target::unix`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A host name or IP literal and a port.
    Host {
        /// The host (an IPv6 literal without brackets).
        host: String,
        /// The port.
        port: u16,
        /// Over TLS, the host naming the server (SNI, certificate check).
        tls: bool,
    },
    /// An address.
    Addr(SocketAddr),
    /// A Unix domain socket.
    Unix(PathBuf),
}

impl Target {
    /// A Unix domain socket at `path`.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Target::Unix(path.into())
    }

    /// Parses `"host:port"`, `"[v6]:port"` or a URL (`http://host[:port]`;
    /// its path is ignored).
    pub fn parse(text: &str) -> Result<Target, HttpError> {
        if text.contains("://") {
            let url = parse_url(text, "http")?;
            let (host, port) = url.addr()?;
            return Ok(Target::Host {
                host,
                port,
                tls: url.is_tls(),
            });
        }
        let (host, port) = gruvi_wire::parse_authority_form(text)?;
        Ok(Target::Host {
            host,
            port,
            tls: false,
        })
    }

    /// The origin as a URL prefix, `scheme://authority` (RFC 9110 §4.2):
    /// the host, in brackets when an IPv6 literal, and the port unless it is
    /// the scheme's default; `http://localhost` for a Unix socket. A path
    /// requested on the connection becomes a URL on it, whose authority is
    /// the request's `Host`.
    pub(crate) fn base_url(&self) -> String {
        let (host, port, tls) = match self {
            Target::Host { host, port, tls } => (host.clone(), *port, *tls),
            Target::Addr(addr) => (addr.ip().to_string(), addr.port(), false),
            Target::Unix(_) => return "http://localhost".to_owned(),
        };
        let scheme = if tls { "https" } else { "http" };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        if port == if tls { 443 } else { 80 } {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        }
    }
}

impl Target {
    /// The origin this target serves: `None` for a Unix socket, which has
    /// no origin of its own (any request may go there).
    pub(crate) fn origin(&self) -> Option<Origin> {
        match self {
            Target::Host { host, port, tls } => Some(Origin::new(*tls, host, *port)),
            Target::Addr(addr) => Some(Origin::new(false, &addr.ip().to_string(), addr.port())),
            Target::Unix(_) => None,
        }
    }
}

/// An origin (RFC 9110 §4.3.1, RFC 6454): scheme, host and port, the port
/// defaulted by the scheme. Two names for one address are two origins.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    tls: bool,
    /// Lower case; an IPv6 literal without its brackets.
    host: String,
    port: u16,
}

impl Origin {
    pub(crate) fn new(tls: bool, host: &str, port: u16) -> Self {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Origin {
            tls,
            host: host.to_ascii_lowercase(),
            port,
        }
    }

    /// The origin a request's URI names, if it names one (absolute-form);
    /// `None` for an origin-form URI (`/path`). A scheme other than http
    /// and https cannot be sent over HTTP/1.x: an error.
    pub(crate) fn of_uri(uri: &http::Uri) -> Result<Option<Origin>, HttpError> {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Ok(None);
        };
        let tls = if scheme.eq_ignore_ascii_case("http") {
            false
        } else if scheme.eq_ignore_ascii_case("https") {
            true
        } else {
            return Err(HttpError::misuse(format!(
                "{uri}: only http and https URLs can be fetched"
            )));
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Some(Origin::new(tls, host, port)))
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// Lower case; an IPv6 literal without its brackets.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// `host:port`, as a `CONNECT` names it (RFC 9112 §3.2.3), the host in
    /// brackets when an IPv6 literal.
    fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Where to connect for this origin.
    pub(crate) fn target(&self) -> Target {
        Target::Host {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls,
        }
    }

    /// The origin a `Host` value names, for a request in this origin's
    /// scheme (RFC 9110 §7.2: `uri-host [ ":" port ]`).
    fn of_host(&self, value: &[u8]) -> Option<Origin> {
        let value = std::str::from_utf8(value).ok()?;
        let (host, port) = match value.rfind(':') {
            // A colon after the closing bracket of an IP literal, or in a
            // name: a port follows.
            Some(colon) if !value[colon..].contains(']') => {
                (&value[..colon], value[colon + 1..].parse().ok()?)
            }
            _ => (value, if self.tls { 443 } else { 80 }),
        };
        Some(Origin::new(self.tls, host, port))
    }

    /// Whether `uri` (absolute) names this origin; no allocation.
    fn is_named_by(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let tls = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return false;
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        tls == self.tls && port == self.port && host.eq_ignore_ascii_case(&self.host)
    }

    /// Refuses a request that names another origin than this connection's,
    /// in its URI or in a `Host` field that disagrees with its URI: sent
    /// here, it would be answered by the wrong server. A `Host` with an
    /// origin-form URI is the caller's virtual host, sent as given. `host`
    /// is asked for only when the URI names an origin.
    pub(crate) fn admits<'h>(
        &self,
        uri: &http::Uri,
        host: impl Fn() -> Option<&'h [u8]>,
    ) -> Result<(), HttpError> {
        if uri.authority().is_none() {
            return Ok(());
        }
        // The common case, a request for this origin, costs no allocation.
        if self.is_named_by(uri) && host().is_none() {
            return Ok(());
        }
        let Some(named) = Origin::of_uri(uri)? else {
            return Ok(());
        };
        if named != *self {
            return Err(HttpError::misuse(format!(
                "{uri} is on {named}, but this connection is to {self}: \
                 connect to that origin (or use a client that opens one per origin)"
            )));
        }
        if let Some(value) = host() {
            if named.of_host(value).as_ref() != Some(&named) {
                return Err(HttpError::misuse(format!(
                    "Host {:?} disagrees with the request's URL {uri}",
                    String::from_utf8_lossy(value)
                )));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl From<SocketAddr> for Target {
    fn from(addr: SocketAddr) -> Self {
        Target::Addr(addr)
    }
}

impl TryFrom<&str> for Target {
    type Error = HttpError;

    fn try_from(text: &str) -> Result<Self, HttpError> {
        Target::parse(text)
    }
}

/// An open connection: its request queue and the task driving it. Dropped,
/// the task goes on until what is in flight is done (responses still being
/// read stay whole); [`Connection::abort`] ends it at once.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) send: SendRequest,
    pub(crate) task: JoinHandle<Result<(), RequestError>>,
    /// The origin it serves; `None` for a Unix socket.
    pub(crate) origin: Option<Origin>,
}

impl Connection {
    pub(crate) fn abort(&self) {
        self.task.abort();
    }
}

/// Opens the byte streams of a client's connections to hosts, in place of
/// TCP: an in-memory transport for tests, a SOCKS proxy, a resolver or
/// socket options of your own. It is given the host (a name or an IP
/// address) and port of the origin — or of the HTTP proxy, when one is
/// used; TLS for `https` is made on top of what it returns. Unix-socket
/// targets do not use it.
///
/// Implemented for every `Fn(&str, u16) -> Future<Output = io::Result<T>>`
/// whose stream `T` is a tokio byte stream.
pub trait Transport: Send + Sync + 'static {
    /// Opens a stream to `host:port`.
    fn connect(&self, host: &str, port: u16) -> Connecting;
}

/// A stream being opened by a [`Transport`].
pub type Connecting = Pin<Box<dyn Future<Output = io::Result<Box<dyn Io>>> + Send>>;

impl<F, Fut, T> Transport for F
where
    F: Fn(&str, u16) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<T>> + Send + 'static,
    T: Io + 'static,
{
    fn connect(&self, host: &str, port: u16) -> Connecting {
        let connecting = self(host, port);
        Box::pin(async move { Ok(Box::new(connecting.await?) as Box<dyn Io>) })
    }
}

/// How to open connections: timeout, connection settings, TLS, and the
/// transport (TCP unless set).
#[derive(Clone)]
pub struct Connector {
    /// The longest connecting (TCP and TLS handshake) may take. Default
    /// 30 s.
    pub timeout: Option<Duration>,
    /// The connection's settings (limits, write timeout, ...).
    pub options: ClientOptions,
    /// The TLS configuration for `https` targets: root certificates and
    /// more (see [`rustls::ClientConfig`](tokio_rustls::rustls::ClientConfig)).
    #[cfg(feature = "tls")]
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    /// Opens the streams to hosts; `None` (the default) for TCP, every
    /// address the name resolves to tried in order.
    pub transport: Option<Arc<dyn Transport>>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Connector");
        debug
            .field("timeout", &self.timeout)
            .field("options", &self.options);
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls.is_some());
        debug
            .field("transport", &self.transport.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for Connector {
    fn default() -> Self {
        Connector {
            timeout: Some(Duration::from_secs(30)),
            options: ClientOptions::default(),
            #[cfg(feature = "tls")]
            tls: None,
            transport: None,
        }
    }
}

/// Opens a transport to `target` with `connector`, and starts its driver.
pub(crate) async fn open(target: &Target, connector: &Connector) -> Result<Connection, HttpError> {
    let connecting = async {
        let (host, port, tls) = match target {
            Target::Unix(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                return Ok(start(stream, connector.options.clone()));
            }
            Target::Host { host, port, tls } => (Cow::Borrowed(host.as_str()), *port, *tls),
            Target::Addr(addr) => (Cow::Owned(addr.ip().to_string()), addr.port(), false),
        };
        match &connector.transport {
            Some(transport) => {
                let stream = transport
                    .connect(&host, port)
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                ready(stream, &host, tls, connector).await
            }
            None => {
                let stream = TcpStream::connect((&*host, port))
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                nodelay(&stream)?;
                ready(stream, &host, tls, connector).await
            }
        }
    };
    // The connection's span, which its driver's events are in.
    let span = tracing::debug_span!(parent: None, "connection", to = %target.base_url());
    let mut connection = within(
        connector.timeout,
        "the connection",
        connecting.instrument(span),
    )
    .await??;
    connection.origin = target.origin();
    Ok(connection)
}

/// A stream to `host`, made ready for HTTP: through TLS when `tls`, then
/// with its driver started.
async fn ready<T>(
    stream: T,
    host: &str,
    tls: bool,
    connector: &Connector,
) -> Result<Connection, HttpError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if tls {
        return secure(stream, host, connector).await;
    }
    Ok(start(stream, connector.options.clone()))
}

/// Opens a connection to `origin` through the HTTP proxy at `proxy`: for
/// an `http` origin, a connection to the proxy, whose requests go in
/// absolute-form; for `https`, a tunnel the proxy opens on `CONNECT`
/// (RFC 9110 §9.3.6), the TLS handshake made with the origin inside it.
/// `connector`'s timeout bounds reaching the proxy and, again, the tunnel.
pub(crate) async fn open_through(
    origin: &Origin,
    proxy: &Target,
    authorization: Option<&HeaderValue>,
    connector: &Connector,
) -> Result<Connection, HttpError> {
    let mut connection = if origin.is_tls() {
        let to_proxy = open(proxy, connector).await?;
        let tunnelling = tunnel(to_proxy, origin, authorization, connector);
        let span = tracing::debug_span!(
            parent: None,
            "connection",
            to = %origin,
            through = %proxy.base_url()
        );
        within(
            connector.timeout,
            "the connection",
            tunnelling.instrument(span),
        )
        .await??
    } else {
        open(proxy, connector).await?
    };
    connection.origin = Some(origin.clone());
    Ok(connection)
}

/// Asks the proxy at the other end of `to_proxy` for a tunnel to `origin`,
/// and makes the TLS handshake with the origin through it.
async fn tunnel(
    to_proxy: Connection,
    origin: &Origin,
    authorization: Option<&HeaderValue>,
    connector: &Connector,
) -> Result<Connection, HttpError> {
    const DOING: &str = "opening a tunnel through the proxy";
    let authority = origin.authority();
    // RFC 9112 §3.2.3: authority-form; RFC 9110 §7.2: Host all the same.
    let mut request = http::Request::connect(authority.as_str()).header(HOST, authority.as_str());
    if let Some(value) = authorization {
        request = request.header(PROXY_AUTHORIZATION, value.clone());
    }
    let request = request
        .body(Outgoing::empty())
        .map_err(|e| HttpError::misuse(format!("{authority}: {e}")))?;
    let mut response = to_proxy.send.try_send(request)?.await?;
    // RFC 9110 §9.3.6: any 2xx answer opens the tunnel.
    if !response.status().is_success() {
        let refusal = format!("the proxy answered {}", response.status());
        return Err(HttpError::io(DOING, io::Error::other(refusal)));
    }
    let on_upgrade = OnUpgrade::take(response.extensions_mut())
        .ok_or_else(|| HttpError::io(DOING, io::Error::other("no tunnel handed over")))?;
    let tunnel = on_upgrade
        .await
        .map_err(|e| HttpError::io(DOING, io::Error::other(e)))?;
    secure(tunnel, origin.host(), connector).await
}

fn nodelay(stream: &TcpStream) -> Result<(), HttpError> {
    // Requests leave whole (batched): Nagle's delay would only add latency.
    stream
        .set_nodelay(true)
        .map_err(|e| HttpError::io("configuring the socket", e))
}

/// The TLS handshake, naming the server by `host` (SNI and the
/// certificate check).
#[cfg(feature = "tls")]
async fn secure<T>(stream: T, host: &str, connector: &Connector) -> Result<Connection, HttpError>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    use tokio_rustls::rustls::pki_types::ServerName;
    let config = match connector.tls.clone() {
        Some(config) => config,
        None => default_tls()?,
    };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| HttpError::misuse(format!("{host:?} cannot name a TLS server")))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| HttpError::io("the TLS handshake", e))?;
    Ok(start(stream, connector.options.clone()))
}

/// The TLS configuration used when none is given: the Mozilla root
/// certificates of `webpki-roots` (the ecosystem's standard bundle: the
/// same on every machine, whatever its own trust store holds), made once.
#[cfg(feature = "tls")]
fn default_tls() -> Result<Arc<tokio_rustls::rustls::ClientConfig>, HttpError> {
    use std::sync::OnceLock;
    use tokio_rustls::rustls;
    static DEFAULT: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let made = DEFAULT.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    made.clone()
        .map_err(|e| HttpError::misuse(format!("the default TLS configuration: {e}")))
}

#[cfg(not(feature = "tls"))]
async fn secure<T>(_: T, _: &str, _: &Connector) -> Result<Connection, HttpError> {
    Err(HttpError::misuse(
        "https needs TLS: build gruvi-client with the `tls` feature",
    ))
}

fn start<T>(io: T, options: ClientOptions) -> Connection
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, driver) = handshake(io, options);
    // Spawned as it is (an `async` block awaiting it would give the task
    // room for two copies of it), in the connection's span. Each caller
    // gets the connection's failure through its own response: nobody reads
    // the task's outcome.
    let task = tokio::spawn(driver.instrument(tracing::Span::current()));
    Connection {
        send,
        task,
        origin: None,
    }
}
