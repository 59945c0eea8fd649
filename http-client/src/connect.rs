//! Where a client connects, and opening the connection: the transport,
//! then the `gruvi-conn` driver on a task of its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use gruvi_conn::client::{ClientOptions, SendRequest, handshake};
use gruvi_wire::parse_url;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::task::JoinHandle;

use crate::error::HttpError;

/// Where to connect: `"host:port"`, `"http://host[:port]"`, a
/// [`SocketAddr`], or a Unix socket path ([`Target::unix`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A host name or IP literal and a port.
    Host {
        /// The host (an IPv6 literal without brackets).
        host: String,
        /// The port.
        port: u16,
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
            if url.is_tls() {
                return Err(HttpError::misuse(
                    "https URLs need TLS, which this build does not include",
                ));
            }
            let (host, port) = url.addr()?;
            return Ok(Target::Host { host, port });
        }
        let (host, port) = gruvi_wire::parse_authority_form(text)?;
        Ok(Target::Host { host, port })
    }

    /// The value for `Host` (RFC 9110 §7.2): host, in brackets when an IPv6
    /// literal, and the port unless it is 80.
    pub(crate) fn authority(&self) -> String {
        let (host, port) = match self {
            Target::Host { host, port } => (host.clone(), *port),
            Target::Addr(addr) => (addr.ip().to_string(), addr.port()),
            Target::Unix(_) => return "localhost".to_owned(),
        };
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host
        };
        if port == 80 {
            host
        } else {
            format!("{host}:{port}")
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

/// An open connection: its request queue and the task driving it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) send: SendRequest,
    pub(crate) task: JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Opens a transport to `target` within `timeout`, and starts its driver.
pub(crate) async fn open(
    target: &Target,
    timeout: Option<Duration>,
    options: ClientOptions,
) -> Result<Connection, HttpError> {
    let connecting = async {
        match target {
            Target::Host { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                tcp(stream, options)
            }
            Target::Addr(addr) => {
                let stream = TcpStream::connect(addr)
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                tcp(stream, options)
            }
            Target::Unix(path) => {
                let stream = UnixStream::connect(path)
                    .await
                    .map_err(|e| HttpError::io("connecting", e))?;
                Ok(start(stream, options))
            }
        }
    };
    match timeout {
        Some(limit) => tokio::time::timeout(limit, connecting)
            .await
            .map_err(|_| HttpError::timeout("the connection"))?,
        None => connecting.await,
    }
}

fn tcp(stream: TcpStream, options: ClientOptions) -> Result<Connection, HttpError> {
    // Requests leave whole (batched): Nagle's delay would only add latency.
    stream
        .set_nodelay(true)
        .map_err(|e| HttpError::io("configuring the socket", e))?;
    Ok(start(stream, options))
}

fn start<T>(io: T, options: ClientOptions) -> Connection
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, driver) = handshake(io, options);
    let task = tokio::spawn(async move {
        // Each caller gets the connection's failure through its own
        // response; nothing is left to report here.
        let _ = driver.await;
    });
    Connection { send, task }
}
