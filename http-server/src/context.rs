//! The per-request context: what the server knows of the connection a
//! request came on (addresses, server name, TLS), as a request extension.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a connection's end is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// A TCP endpoint.
    Tcp(SocketAddr),
    /// A Unix domain socket (the path is empty for an unnamed peer).
    Unix(PathBuf),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// About the connection a request came on; in every request's extensions
/// (`request.extensions().get::<RequestContext>()`) unless
/// [`HttpServer::request_context`](crate::HttpServer::request_context) is
/// off, beside
/// [`ReceivedHead`](gruvi_conn::ReceivedHead), which holds the request's
/// fields in received order and case.
#[derive(Clone, Debug)]
pub struct RequestContext {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    remote: Address,
    local: Address,
    server_name: Arc<str>,
    tls: bool,
}

impl RequestContext {
    pub(crate) fn new(remote: Address, local: Address, server_name: Arc<str>, tls: bool) -> Self {
        RequestContext {
            inner: Arc::new(Inner {
                remote,
                local,
                server_name,
                tls,
            }),
        }
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> &Address {
        &self.inner.remote
    }

    /// The address the connection was accepted on.
    pub fn local_addr(&self) -> &Address {
        &self.inner.local
    }

    /// The server's name: as configured, else the host the server listens
    /// on.
    pub fn server_name(&self) -> &str {
        &self.inner.server_name
    }

    /// Returns `true` if the connection is over TLS.
    pub fn is_tls(&self) -> bool {
        self.inner.tls
    }
}
