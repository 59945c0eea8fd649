//! Where each connection's service comes from: one service cloned per
//! connection, or a factory called once per connection with the
//! connection's [`RequestContext`] (tower's `MakeService` shape — what
//! axum's `into_make_service_with_connect_info` gives).

use std::future::{Future, ready};

use gruvi_body::{BoxError, Incoming};
use http::Request;
use tower::ServiceExt;
use tower_service::Service;

use crate::context::RequestContext;

/// What an [`HttpServer`](crate::HttpServer) makes each connection's
/// service from. Implemented for every `Service` that is `Clone` (each
/// connection gets a clone) and for [`MakeService`] (a factory called per
/// connection); there is no need to implement it elsewhere.
pub trait ServiceSource: Clone + Send + 'static {
    /// The service one connection's requests go to.
    type Service;

    /// The service for the connection `context` describes; an error
    /// closes that connection (and is logged).
    fn service_for(
        &mut self,
        context: &RequestContext,
    ) -> impl Future<Output = Result<Self::Service, BoxError>> + Send + 'static;
}

impl<S> ServiceSource for S
where
    S: Service<Request<Incoming>> + Clone + Send + 'static,
{
    type Service = S;

    fn service_for(
        &mut self,
        _: &RequestContext,
    ) -> impl Future<Output = Result<S, BoxError>> + Send + 'static {
        ready(Ok(self.clone()))
    }
}

/// A factory of per-connection services, called once per connection with
/// its [`RequestContext`] (peer and local address, server name, TLS):
/// [`HttpServer::from_make_service`](crate::HttpServer::from_make_service)
/// takes one.
///
/// axum's `Router::into_make_service_with_connect_info::<SocketAddr>()` is
/// such a factory: with this crate's `axum` feature, its handlers get
/// `ConnectInfo<SocketAddr>` (or `ConnectInfo<RequestContext>`, which also
/// covers Unix sockets).
#[derive(Clone, Debug)]
pub struct MakeService<M>(pub(crate) M);

impl<M> ServiceSource for MakeService<M>
where
    M: Service<RequestContext> + Clone + Send + 'static,
    M::Future: Send + 'static,
    M::Error: Into<BoxError>,
{
    type Service = M::Response;

    fn service_for(
        &mut self,
        context: &RequestContext,
    ) -> impl Future<Output = Result<M::Response, BoxError>> + Send + 'static {
        let making = self.0.clone().oneshot(context.clone());
        async move { making.await.map_err(Into::into) }
    }
}

/// What axum asks of a connection's target to fill `ConnectInfo`.
#[cfg(feature = "axum")]
mod axum_connect_info {
    use std::net::{Ipv4Addr, SocketAddr};

    use axum::extract::connect_info::Connected;

    use crate::context::{Address, RequestContext};

    /// The peer's TCP address; `0.0.0.0:0` for a peer on a Unix socket
    /// (ask for `ConnectInfo<RequestContext>` to tell them apart).
    impl Connected<RequestContext> for SocketAddr {
        fn connect_info(context: RequestContext) -> SocketAddr {
            match context.remote_addr() {
                Address::Tcp(peer) => *peer,
                Address::Unix(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            }
        }
    }

    /// Everything the server knows of the connection.
    impl Connected<RequestContext> for RequestContext {
        fn connect_info(context: RequestContext) -> RequestContext {
            context
        }
    }
}
