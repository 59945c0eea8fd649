//! The pooled client through HTTP proxies, over loopback: `http` requests
//! forwarded in absolute-form, `https` ones through a `CONNECT` tunnel, a
//! refused tunnel, and hosts reached directly.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gruvi_client::{Client, Connector, Incoming, Outgoing, Proxy};
use gruvi_server::HttpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

mod support;

const LIMIT: Duration = Duration::from_secs(10);

/// A proxy speaking raw bytes, keeping every head it reads. An ordinary
/// request is answered with its own request line; a `CONNECT` is refused
/// with 407 when `tunnel_to` is `None`, else tunnelled to `tunnel_to`.
struct FakeProxy {
    address: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl FakeProxy {
    async fn start(tunnel_to: Option<SocketAddr>) -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&heads);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, Arc::clone(&kept), tunnel_to));
            }
        });
        FakeProxy {
            address,
            heads,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    heads: Arc<Mutex<Vec<String>>>,
    tunnel_to: Option<SocketAddr>,
) {
    let mut buffer = Vec::new();
    loop {
        let mut byte = [0; 1];
        while !buffer.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            buffer.push(byte[0]);
        }
        let head = String::from_utf8(std::mem::take(&mut buffer)).unwrap();
        heads.lock().unwrap().push(head.clone());
        let line = head.lines().next().unwrap_or_default().to_owned();
        if !line.starts_with("CONNECT ") {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{line}",
                line.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            continue;
        }
        let Some(to) = tunnel_to else {
            let refusal = "HTTP/1.1 407 Proxy Authentication Required\r\ncontent-length: 0\r\n\r\n";
            stream.write_all(refusal.as_bytes()).await.unwrap();
            continue;
        };
        let mut origin = TcpStream::connect(to).await.unwrap();
        stream
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .unwrap();
        let _ = tokio::io::copy_bidirectional(&mut stream, &mut origin).await;
        return;
    }
}

async fn text(response: http::Response<Incoming>) -> String {
    let bytes = response.into_body().read_to_end().await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// An `http` URL goes to the proxy with its whole URL as the target and the
/// proxy's credentials, on one pooled connection: the origin's name is
/// never resolved (`.invalid` names nothing).
#[tokio::test]
async fn http_requests_are_forwarded_in_absolute_form() {
    let proxy = FakeProxy::start(None).await;
    let settings = Proxy::all(&proxy.url())
        .unwrap()
        .authorization("Basic dXNlcjpzZWNyZXQ=".parse().unwrap());
    let client = Client::builder().proxy(settings).build();
    for path in ["/one?x=1", "/two"] {
        let url = format!("http://origin.invalid:8080{path}");
        let response = timeout(LIMIT, client.get(&url)).await.unwrap().unwrap();
        assert_eq!(text(response).await, format!("GET {url} HTTP/1.1"));
    }
    assert_eq!(client.stats().opened, 1, "one connection to the proxy");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 2);
    for head in heads {
        let head = head.to_ascii_lowercase();
        assert!(head.contains("\r\nhost: origin.invalid:8080\r\n"), "{head}");
        assert!(
            head.contains("\r\nproxy-authorization: basic dxnlcjpzzwnyzxq=\r\n"),
            "{head}"
        );
    }
}

/// An origin over TLS, for the name `localhost`, that answers each request
/// with its method and target.
async fn tls_origin() -> (HttpServer<impl Clone>, SocketAddr) {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let said = format!("{} {}", request.method(), request.uri());
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(said)))
    });
    let mut server = HttpServer::new(service);
    let address = server
        .listen_tls("127.0.0.1:0", support::server_config())
        .await
        .unwrap();
    let gruvi_server::Address::Tcp(address) = address else {
        unreachable!("a TCP listener has a TCP address")
    };
    (server, address)
}

fn test_roots() -> Connector {
    Connector {
        tls: Some(support::trusting_the_test_root()),
        ..Connector::default()
    }
}

/// An `https` URL goes through a tunnel: the proxy sees only the `CONNECT`
/// (with the credentials), the origin the request in origin-form, and the
/// certificate is checked against the origin's name.
#[tokio::test]
async fn https_requests_go_through_a_connect_tunnel() {
    let (_origin, address) = tls_origin().await;
    let proxy = FakeProxy::start(Some(address)).await;
    let settings = Proxy::all(&proxy.url())
        .unwrap()
        .authorization("Bearer t0ken".parse().unwrap());
    let client = Client::builder()
        .connector(test_roots())
        .proxy(settings)
        .build();
    let url = format!("https://localhost:{}/secret?q=1", address.port());
    for _ in 0..2 {
        let response = timeout(LIMIT, client.get(&url)).await.unwrap().unwrap();
        assert_eq!(text(response).await, "GET /secret?q=1");
    }
    assert_eq!(client.stats().opened, 1, "the tunnel is pooled");
    let heads = proxy.heads();
    let authority = format!("localhost:{}", address.port());
    assert_eq!(
        heads,
        [format!(
            "CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\nproxy-authorization: Bearer t0ken\r\n\r\n"
        )]
    );
}

/// A proxy that refuses the tunnel fails the request with its answer.
#[tokio::test]
async fn a_refused_tunnel_fails_the_request() {
    let proxy = FakeProxy::start(None).await;
    let client = Client::builder()
        .proxy(Proxy::all(&proxy.url()).unwrap())
        .build();
    let error = timeout(LIMIT, client.get("https://origin.invalid/"))
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.is_io(), "{error}");
    assert!(error.to_string().contains("407"), "{error}");
}

/// A host `no_proxy` lists is reached directly: the proxy sees nothing of
/// it, and everything of any other host.
#[tokio::test]
async fn hosts_listed_as_no_proxy_are_reached_directly() {
    let proxy = FakeProxy::start(None).await;
    let (_origin, address) = tls_origin().await;
    let settings = Proxy::all(&proxy.url())
        .unwrap()
        .no_proxy("example.test, localhost");
    let client = Client::builder()
        .connector(test_roots())
        .proxy(settings)
        .build();
    let url = format!("https://localhost:{}/direct", address.port());
    let response = timeout(LIMIT, client.get(&url)).await.unwrap().unwrap();
    assert_eq!(text(response).await, "GET /direct");
    assert!(proxy.heads().is_empty(), "{:?}", proxy.heads());
    let elsewhere = "http://elsewhere.invalid/";
    let response = timeout(LIMIT, client.get(elsewhere))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text(response).await, format!("GET {elsewhere} HTTP/1.1"));
    assert_eq!(proxy.heads().len(), 1);
}
