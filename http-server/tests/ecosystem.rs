//! The server in the ecosystem, over loopback: per-connection services
//! (axum's `ConnectInfo` through `into_make_service_with_connect_info`),
//! listeners the caller binds (socket2 options, `SO_REUSEPORT` shared by
//! two servers, a `Listener` of its own), WebSockets through the `ws` and
//! `axum` features (echo of text, binary, 1 MiB, ping, close; bad
//! handshakes answered 400 / 426), and `serve` until a shutdown signal.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use futures::{SinkExt, StreamExt};
use gruvi_server::ws::WebSocketUpgrade;
use gruvi_server::{Address, HttpServer, Incoming, Listener, Outgoing, RequestContext};
use support::{Client, LIMIT, get as get_request, tcp};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

fn hello(
    name: &'static str,
) -> impl tower::Service<
    http::Request<Incoming>,
    Response = http::Response<Outgoing>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |_: http::Request<Incoming>| async move {
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(name)))
    })
}

#[tokio::test]
async fn axum_connect_info_through_a_make_service() {
    let app = axum::Router::new().route(
        "/ip",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
    );
    let mut server =
        HttpServer::from_make_service(app.into_make_service_with_connect_info::<SocketAddr>());
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    // `ConnectInfo<RequestContext>` needs the router made for that type.
    let app = axum::Router::new().route(
        "/context",
        get(
            |ConnectInfo(context): ConnectInfo<RequestContext>| async move {
                format!("{} on {}", context.remote_addr(), context.local_addr())
            },
        ),
    );
    let mut by_context =
        HttpServer::from_make_service(app.into_make_service_with_connect_info::<RequestContext>());
    let context_addr = tcp(&by_context.listen("127.0.0.1:0").await.unwrap());

    for _ in 0..2 {
        let mut client = Client::connect(addr).await;
        let ours = client.stream.local_addr().unwrap();
        let response = client.exchange(get_request("/ip")).await;
        assert_eq!(response.status, 200);
        assert_eq!(
            response.text(),
            ours.to_string(),
            "each connection its own peer"
        );
    }
    let mut client = Client::connect(context_addr).await;
    let ours = client.stream.local_addr().unwrap();
    let response = client.exchange(get_request("/context")).await;
    assert_eq!(response.text(), format!("{ours} on {context_addr}"));
    server.close().await;
    by_context.close().await;
}

#[tokio::test]
async fn a_make_service_that_fails_closes_only_its_connection() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let make = tower::service_fn(move |_: RequestContext| {
        let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n == 0 {
                Err("no service for the first connection")
            } else {
                Ok(hello("made"))
            }
        }
    });
    let mut server = HttpServer::from_make_service(make);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    // Closed before a byte is read: the peer sees the end of the stream.
    Client::connect(addr).await.expect_eof().await;
    let response = Client::connect(addr).await.exchange(get_request("/")).await;
    assert_eq!(response.text(), "made");
    assert_eq!(server.stats().connections_failed, 1);
    server.close().await;
}

/// A listener bound with socket2, as a program sets options of its own.
fn bound_with_options(addr: SocketAddr, reuse_port: bool) -> std::net::TcpListener {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .unwrap();
    socket.set_reuse_address(true).unwrap();
    if reuse_port {
        socket.set_reuse_port(true).unwrap();
    }
    socket.bind(&addr.into()).unwrap();
    socket.listen(64).unwrap();
    socket.into()
}

#[tokio::test]
async fn a_listener_bound_by_the_caller_is_served() {
    let listener = bound_with_options("127.0.0.1:0".parse().unwrap(), false);
    let bound = listener.local_addr().unwrap();
    let mut server = HttpServer::new(hello("own listener"));
    let address = server.listen_on(listener).unwrap();
    assert_eq!(address, Address::Tcp(bound));
    assert_eq!(server.addresses(), [Address::Tcp(bound)]);
    let response = Client::connect(bound)
        .await
        .exchange(get_request("/"))
        .await;
    assert_eq!(response.text(), "own listener");

    // A tokio listener, too.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    server.listen_on(listener).unwrap();
    let response = Client::connect(addr).await.exchange(get_request("/")).await;
    assert_eq!(response.text(), "own listener");
    server.close().await;
}

#[tokio::test]
async fn two_servers_share_a_port_with_reuse_port() {
    let first_listener = bound_with_options("127.0.0.1:0".parse().unwrap(), true);
    let port = first_listener.local_addr().unwrap();
    let second_listener = bound_with_options(port, true);
    let mut first = HttpServer::new(hello("first"));
    let mut second = HttpServer::new(hello("second"));
    first.listen_on(first_listener).unwrap();
    second.listen_on(second_listener).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    // The kernel spreads connections by their addresses: both answer well
    // within a few dozen connections.
    for _ in 0..200 {
        let response = Client::connect(port).await.exchange(get_request("/")).await;
        seen.insert(response.text().to_owned());
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["first", "second"]);
    first.close().await;
    second.close().await;
}

/// Connections handed over in memory: the `Listener` trait for a transport
/// of the caller's.
struct InMemory(tokio::sync::mpsc::Receiver<tokio::io::DuplexStream>);

impl Listener for InMemory {
    type Io = tokio::io::DuplexStream;

    async fn accept(&mut self) -> std::io::Result<Option<(Self::Io, Address)>> {
        Ok(self
            .0
            .recv()
            .await
            .map(|io| (io, Address::Unix("peer".into()))))
    }

    fn local_addr(&self) -> std::io::Result<Address> {
        Ok(Address::Unix("in-memory".into()))
    }
}

#[tokio::test]
async fn a_listener_of_the_callers_own() {
    let (connect, accepted) = tokio::sync::mpsc::channel(4);
    let mut server = HttpServer::new(tower::service_fn(
        |request: http::Request<Incoming>| async move {
            let context = request.extensions().get::<RequestContext>().unwrap();
            let text = format!("{} -> {}", context.remote_addr(), context.local_addr());
            Ok::<_, Infallible>(http::Response::new(Outgoing::full(text)))
        },
    ));
    server.listen_on(InMemory(accepted)).unwrap();
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    connect.send(theirs).await.unwrap();
    let response = Client::new(ours).exchange(get_request("/")).await;
    assert_eq!(response.text(), "unix:peer -> unix:in-memory");
    // A listener that ends (`None`) stops being accepted from; the server
    // still closes at once.
    drop(connect);
    timeout(LIMIT, server.close()).await.unwrap();
}

#[tokio::test]
async fn serve_runs_until_the_shutdown_signal_then_closes_gracefully() {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let slow = tower::service_fn(|_: http::Request<Incoming>| async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok::<_, Infallible>(http::Response::new(Outgoing::full("finished")))
    });
    let mut server = HttpServer::new(slow);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let serving = tokio::spawn(server.serve(stopped));
    let mut client = Client::connect(addr).await;
    client.send(get_request("/")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.send(()).unwrap();
    // The request in flight is answered, as the connection's last.
    let response = client.response().await;
    assert_eq!(response.text(), "finished");
    assert!(response.closes());
    timeout(LIMIT, serving).await.unwrap().unwrap();
    // Closed: nothing listens there any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

/// The `ws` feature's own API: an echo endpoint.
async fn echo_endpoint(
    mut request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    let upgrade = match WebSocketUpgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade.protocols(["echo"]),
        Err(rejection) => return Ok(rejection.into_response()),
    };
    Ok(upgrade.on_upgrade(|mut socket| async move {
        while let Some(Ok(message)) = socket.next().await {
            if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
                break;
            }
        }
    }))
}

/// The `axum` feature: axum's handler, with one import changed.
mod axum_handler {
    use axum::response::Response;
    use gruvi_server::ws::axum::{Message, WebSocket, WebSocketUpgrade};

    pub(crate) async fn handler(ws: WebSocketUpgrade) -> Response {
        ws.protocols(["echo"]).on_upgrade(handle_socket)
    }

    async fn handle_socket(mut socket: WebSocket) {
        while let Some(message) = socket.recv().await {
            let Ok(message) = message else { return };
            if let Message::Text(_) | Message::Binary(_) = message {
                if socket.send(message).await.is_err() {
                    return;
                }
            }
        }
    }
}

async fn check_echo(addr: SocketAddr) {
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/ws"
        ))
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        http::HeaderValue::from_static("chat, echo"),
    );
    let (mut socket, response) = timeout(LIMIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["sec-websocket-protocol"], "echo");

    let large = vec![7u8; 1 << 20];
    for message in [
        Message::text("hello"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(large),
    ] {
        socket.send(message.clone()).await.unwrap();
        let echoed = timeout(LIMIT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message);
    }
    socket
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = timeout(LIMIT, socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
    socket.close(None).await.unwrap();
    // The server answers the close, and the stream ends.
    loop {
        match timeout(LIMIT, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(_))) => {}
            None | Some(Err(_)) => break,
            Some(Ok(other)) => panic!("after close: {other:?}"),
        }
    }
}

#[tokio::test]
async fn websocket_echo_with_the_ws_feature() {
    let mut server = HttpServer::new(tower::service_fn(echo_endpoint));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    check_echo(addr).await;
    server.close().await;
}

#[tokio::test]
async fn websocket_echo_with_the_axum_extractor() {
    let app = axum::Router::new().route("/ws", get(axum_handler::handler));
    let mut server = HttpServer::new(app);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    check_echo(addr).await;
    server.close().await;
}

#[tokio::test]
async fn bad_handshakes_are_answered_with_the_reason() {
    let app = axum::Router::new().route(
        "/ws",
        get(axum_handler::handler).post(axum_handler::handler),
    );
    let mut axum_server = HttpServer::new(app);
    let axum_addr = tcp(&axum_server.listen("127.0.0.1:0").await.unwrap());
    let mut own_server = HttpServer::new(tower::service_fn(echo_endpoint));
    let own_addr = tcp(&own_server.listen("127.0.0.1:0").await.unwrap());

    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n";
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let v13 = "Sec-WebSocket-Version: 13\r\n";
    let cases: [(String, u16, &str); 6] = [
        (
            format!("GET /ws HTTP/1.1\r\nHost: x\r\n{key}{v13}\r\n"),
            426,
            "Upgrade: websocket",
        ),
        (
            format!(
                "GET /ws HTTP/1.1\r\nHost: x\r\n{upgrade}{key}Sec-WebSocket-Version: 8\r\n\r\n"
            ),
            426,
            "version 13",
        ),
        (
            format!("GET /ws HTTP/1.1\r\nHost: x\r\n{upgrade}{v13}\r\n"),
            400,
            "Sec-WebSocket-Key",
        ),
        (
            format!(
                "GET /ws HTTP/1.1\r\nHost: x\r\n{upgrade}Sec-WebSocket-Key: c2hvcnQ=\r\n{v13}\r\n"
            ),
            400,
            "16 bytes",
        ),
        (
            format!("POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n{upgrade}{key}{v13}\r\n"),
            400,
            "GET",
        ),
        (
            format!("GET /ws HTTP/1.0\r\nHost: x\r\n{upgrade}{key}{v13}\r\n"),
            400,
            "HTTP/1.1",
        ),
    ];
    for addr in [axum_addr, own_addr] {
        for (request, status, reason) in &cases {
            let response = Client::connect(addr).await.exchange(request).await;
            assert_eq!(response.status, *status, "{request}");
            assert!(
                response.text().contains(reason),
                "{request}: {}",
                response.text()
            );
            if *status == 426 {
                assert_eq!(response.header("sec-websocket-version"), Some("13"));
                assert_eq!(response.header("upgrade"), Some("websocket"));
                // RFC 9110 §7.8: listed in Connection (beside `close` when
                // the request asked to upgrade and is declined).
                let connection = response.header("connection").unwrap_or_default();
                assert!(
                    connection.split(", ").any(|t| t == "upgrade"),
                    "{connection}"
                );
            }
        }
    }
    axum_server.close().await;
    own_server.close().await;
}

#[tokio::test]
async fn a_unix_listener_bound_by_the_caller_is_served_and_left_in_place() {
    let dir = std::env::temp_dir().join(format!("gruvi-own-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let listener = std::os::unix::net::UnixListener::bind(&dir).unwrap();
    let mut server = HttpServer::new(hello("over unix"));
    assert_eq!(
        server.listen_on(listener).unwrap(),
        Address::Unix(dir.clone())
    );
    let stream = tokio::net::UnixStream::connect(&dir).await.unwrap();
    let response = Client::new(stream).exchange(get_request("/")).await;
    assert_eq!(response.text(), "over unix");
    server.close().await;
    // The caller bound it: the caller removes it.
    assert!(dir.exists());
    std::fs::remove_file(&dir).unwrap();
}

/// A make-service that never answers for the first connection.
fn stuck_first() -> impl tower::Service<
    RequestContext,
    Response = impl tower::Service<
        http::Request<Incoming>,
        Response = http::Response<Outgoing>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
               + Send
               + 'static,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    tower::service_fn(move |_: RequestContext| {
        let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        async move {
            if first {
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(hello("made"))
        }
    })
}

#[tokio::test]
async fn a_connection_still_being_prepared_is_shed_at_the_limit() {
    let mut server = HttpServer::from_make_service(stuck_first()).max_connections(1);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let first = Client::connect(addr).await;
    // The first one holds the only slot while its service is being made...
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.stats().connections_open, 1);
    // ...and, holding no request, makes room for the next.
    let response = Client::connect(addr).await.exchange(get_request("/")).await;
    assert_eq!(response.text(), "made");
    assert_eq!(server.stats().connections_shed, 1);
    let mut first = first;
    first.expect_eof().await;
    server.close().await;
}

#[tokio::test]
async fn close_does_not_wait_for_a_connection_still_being_prepared() {
    let mut server = HttpServer::from_make_service(stuck_first());
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let _stuck = Client::connect(addr).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The close timeout is 30 s: a close that waited for the stuck service
    // would hit the bound.
    timeout(Duration::from_secs(5), server.close())
        .await
        .unwrap();
}
