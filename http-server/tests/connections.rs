//! Connections and the server's lifetime over real sockets: a slowloris
//! client is cut off by the header-read timeout (408) while others are
//! served; stalled heads, idle keep-alive connections and stalled bodies
//! time out; 1,000 connections open at once are all answered; a graceful
//! `close` answers every request in flight (with `Connection: close`), closes
//! idle connections, refuses new ones and leaves no connection open; the
//! close timeout drops what is stuck; the connection limit holds; and a Unix
//! socket listener serves and removes its file.

mod support;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gruvi_body::{Incoming, Outgoing};
use gruvi_server::{HttpServer, RequestContext};
use support::{Client, LIMIT, counted_echo, echo, echoed_target, get, path, post, tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Notify, Semaphore, oneshot};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// How a trickling client's attempt ended.
#[derive(Debug)]
enum Trickle {
    /// The server answered (these bytes), then closed.
    Answered(Bytes),
    /// The server closed without a byte.
    Closed,
    /// The connection was reset (a write or read failed).
    Reset(std::io::ErrorKind),
    /// The whole head went through: the server never cut it off.
    HeadCompleted,
}

/// Writes `head` one byte every 100 ms until the server reacts.
async fn trickle(addr: std::net::SocketAddr, head: &[u8], started: oneshot::Sender<()>) -> Trickle {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut started = Some(started);
    let mut got = Vec::new();
    for (i, byte) in head.iter().enumerate() {
        if let Err(e) = stream.write_all(&[*byte]).await {
            return Trickle::Reset(e.kind());
        }
        if i == 0 {
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
        }
        match timeout(Duration::from_millis(100), stream.read_buf(&mut got)).await {
            Err(_) => continue,
            Ok(Ok(0)) => return Trickle::Closed,
            Ok(Ok(_)) => {
                return match stream.read_to_end(&mut got).await {
                    Ok(_) => Trickle::Answered(Bytes::from(got)),
                    Err(e) => Trickle::Reset(e.kind()),
                };
            }
            Ok(Err(e)) => return Trickle::Reset(e.kind()),
        }
    }
    Trickle::HeadCompleted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off_while_others_are_served() {
    let mut server = HttpServer::new(tower::service_fn(path))
        .header_read_timeout(Some(Duration::from_millis(300)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    // 600 bytes at 10 a second would take a minute: far beyond LIMIT.
    let head = format!(
        "GET /slow HTTP/1.1\r\nHost: test\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(560)
    );
    let (started_tx, started) = oneshot::channel();
    let slow = tokio::spawn(async move { trickle(addr, head.as_bytes(), started_tx).await });

    // A normal client, once the slow one is trickling.
    timeout(LIMIT, started).await.unwrap().unwrap();
    let mut client = Client::connect(addr).await;
    for i in 0..3 {
        let response = client.exchange(get(&format!("/normal/{i}"))).await;
        assert_eq!(response.text(), format!("/normal/{i}"));
    }

    let outcome = timeout(LIMIT, slow)
        .await
        .expect("the slow client was never cut off")
        .unwrap();
    eprintln!("slowloris outcome: {outcome:?}");
    match outcome {
        Trickle::Answered(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
                "{text}"
            );
            assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
        }
        Trickle::Closed => {}
        Trickle::Reset(kind) => eprintln!("the slow client was reset ({kind:?})"),
        Trickle::HeadCompleted => panic!("the slow head was never cut off"),
    }
    // The normal connection is still good.
    let response = client.exchange(get("/after")).await;
    assert_eq!(response.text(), "/after");
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn stalled_head_is_answered_408() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service).header_read_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client.send("GET / HTTP/1.1\r\nHo").await;
    let response = client.response().await;
    assert_eq!(response.status, 408);
    assert!(response.closes());
    client.expect_eof().await;
    assert_eq!(calls.get(), 0);
    drop(client);
    server.close().await;
}

/// The header-read timeout runs from a head's first byte, for every head
/// on a keep-alive connection.
#[tokio::test]
async fn stalled_second_head_is_answered_408() {
    let mut server = HttpServer::new(tower::service_fn(path))
        .header_read_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    assert_eq!(client.exchange(get("/first")).await.text(), "/first");
    client.send("GET /second HTTP/1.1\r\n").await;
    let response = client.response().await;
    assert_eq!(response.status, 408);
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let mut server =
        HttpServer::new(tower::service_fn(path)).idle_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    // Idle from the start.
    let mut silent = Client::connect(addr).await;
    // Idle after a request.
    let mut used = Client::connect(addr).await;
    assert_eq!(used.exchange(get("/once")).await.text(), "/once");
    silent.expect_eof().await;
    used.expect_eof().await;
    drop((silent, used));
    server.close().await;
}

/// A body that stops arriving fails its reader after the body timeout, and
/// the library answers `408` itself (no byte of the application's response
/// was written), then closes.
#[tokio::test]
async fn stalled_body_times_out() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service).timeout(Duration::from_millis(300));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send("POST /stalled HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc")
        .await;
    let response = client.response_to("POST").await;
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.text(), "408 Request Timeout\n");
    assert!(response.closes());
    client.expect_eof().await;
    assert_eq!(calls.get(), 1);
    drop(client);
    server.close().await;
}

/// 1,000 clients connect, then all send one request at once and read its
/// answer, each holding its connection until every one is answered: the
/// server has them all open together.
///
/// The listener's backlog is tokio's (128): connects beyond it complete
/// their handshake (SYN cookies) only once their request is sent, so the
/// clients do not wait for the server to accept before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_connections_at_once() {
    const N: usize = 1000;
    let mut server = HttpServer::new(tower::service_fn(path));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let connected = Arc::new(Barrier::new(N + 1));
    let answered = Arc::new(Barrier::new(N + 1));
    let release = Arc::new(Semaphore::new(0));
    let mut clients = JoinSet::new();
    for i in 0..N {
        let (connected, answered) = (Arc::clone(&connected), Arc::clone(&answered));
        let release = Arc::clone(&release);
        clients.spawn(async move {
            let mut client = Client::connect(addr).await;
            connected.wait().await;
            let response = client.exchange(post(&format!("/{i}"), "x")).await;
            assert_eq!(response.status, 200);
            assert_eq!(response.text(), format!("/{i}"));
            answered.wait().await;
            release.acquire().await.unwrap().forget();
            drop(client);
        });
    }
    timeout(LIMIT, connected.wait())
        .await
        .expect("not every client connected");
    timeout(LIMIT, answered.wait())
        .await
        .expect("not every client was answered");
    // Every connection is still open: they were all served together.
    let stats = server.stats();
    assert_eq!(stats.connections_open, N as u64);
    assert_eq!(stats.requests, N as u64);
    release.add_permits(N);
    while let Some(done) = timeout(LIMIT, clients.join_next()).await.unwrap() {
        done.unwrap();
    }
    server.close().await;
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, N as u64);
    assert_eq!(stats.connections_open, 0);
    assert_eq!(stats.connections_failed, 0);
}

/// Requests in flight when `close` begins are all answered, whole, with
/// `Connection: close`; idle connections and a half-sent head are closed;
/// `close` returns with no connection open, and new connections are
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_close_loses_no_request_in_flight() {
    const N: usize = 5;
    const BODY: usize = 256 * 1024;
    let started = Arc::new(Semaphore::new(0));
    let release = Arc::new(Semaphore::new(0));
    let (on_start, gate) = (Arc::clone(&started), Arc::clone(&release));
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let (on_start, gate) = (Arc::clone(&on_start), Arc::clone(&gate));
        async move {
            let path = request.uri().path().to_owned();
            if path.starts_with("/work") {
                on_start.add_permits(1);
                gate.acquire().await.unwrap().forget();
                sleep(Duration::from_millis(200)).await;
            }
            let mut body = path.into_bytes();
            body.resize(BODY, b'.');
            Ok::<_, Infallible>(http::Response::new(Outgoing::full(body)))
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());

    let mut busy = Vec::new();
    for i in 0..N {
        let mut client = Client::connect(addr).await;
        client.send(get(&format!("/work/{i}"))).await;
        busy.push(client);
    }
    let mut idle = Client::connect(addr).await;
    assert_eq!(idle.exchange(get("/quick")).await.body.len(), BODY);
    let mut half = Client::connect(addr).await;
    half.send("GET /half HTTP/1.1\r\nHo").await;
    // Every busy handler is running.
    timeout(LIMIT, started.acquire_many(N as u32))
        .await
        .unwrap()
        .unwrap()
        .forget();
    // And every client was accepted: a connection still in the listen
    // backlog when `close` drops the listener is reset by the kernel,
    // which is what stopping accepting means, not a request lost.
    timeout(LIMIT, async {
        while server.stats().connections_accepted < N as u64 + 2 {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("every client accepted");

    let mut closing = Box::pin(server.close());
    assert!(
        futures::poll!(&mut closing).is_pending(),
        "close returned with requests in flight"
    );
    // `close` has begun; the handlers go on.
    release.add_permits(N);
    let clients = async {
        for (i, client) in busy.iter_mut().enumerate() {
            let response = client.response().await;
            assert_eq!(response.status, 200);
            assert!(response.closes(), "{:?}", response.headers);
            assert_eq!(response.body.len(), BODY);
            assert!(response.body.starts_with(format!("/work/{i}.").as_bytes()));
            client.expect_eof().await;
        }
        idle.expect_eof().await;
        half.expect_eof().await;
        drop((busy, idle, half));
    };
    timeout(LIMIT, futures::future::join(closing, clients))
        .await
        .expect("close did not return");

    let stats = server.stats();
    assert_eq!(stats.connections_open, 0);
    assert_eq!(stats.requests, N as u64 + 1);
    let refused = TcpStream::connect(addr).await;
    assert!(
        matches!(&refused, Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{refused:?}"
    );
}

/// A request that never finishes holds `close` only for the close timeout;
/// then its connection is dropped.
#[tokio::test]
async fn close_timeout_drops_stuck_connections() {
    let started = Arc::new(Semaphore::new(0));
    let on_start = Arc::clone(&started);
    let service = tower::service_fn(move |_request: http::Request<Incoming>| {
        let on_start = Arc::clone(&on_start);
        async move {
            on_start.add_permits(1);
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(http::Response::new(Outgoing::empty()))
        }
    });
    let mut server = HttpServer::new(service).close_timeout(Duration::from_millis(300));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client.send(get("/stuck")).await;
    timeout(LIMIT, started.acquire())
        .await
        .unwrap()
        .unwrap()
        .forget();
    timeout(LIMIT, server.close())
        .await
        .expect("close waited past its timeout");
    assert_eq!(server.stats().connections_open, 0);
    // Dropped without an answer.
    client.expect_eof().await;
}

/// At the limit, a new connection makes room by closing the oldest open
/// one that holds no request (here an idle keep-alive one), and is served
/// at once — it does not wait in the backlog.
#[tokio::test]
async fn at_the_limit_the_oldest_idle_connection_makes_room() {
    let mut server = HttpServer::new(tower::service_fn(path)).max_connections(2);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut oldest = Client::connect(addr).await;
    assert_eq!(oldest.exchange(get("/oldest")).await.text(), "/oldest");
    let mut busy = Client::connect(addr).await;
    busy.send("GET /busy HTTP/1.1\r\nHost: test\r\nX-Half")
        .await;
    sleep(Duration::from_millis(50)).await;
    let mut newcomer = Client::connect(addr).await;
    assert_eq!(newcomer.exchange(get("/new")).await.text(), "/new");
    oldest.expect_eof().await;
    // The one with a request under way was kept.
    busy.send(": 1\r\n\r\n").await;
    assert_eq!(busy.response().await.text(), "/busy");
    assert_eq!(server.stats().connections_shed, 1);
    drop((oldest, busy, newcomer));
    server.close().await;
}

/// At the limit with every open connection holding a request, a new
/// connection is answered `503` and closed at once; the busy ones finish.
#[tokio::test]
async fn at_the_limit_with_every_connection_busy_a_new_one_gets_503() {
    let release = Arc::new(Notify::new());
    let wait = Arc::clone(&release);
    let service = tower::service_fn(move |_request: http::Request<Incoming>| {
        let wait = Arc::clone(&wait);
        async move {
            wait.notified().await;
            Ok::<_, Infallible>(http::Response::new(Outgoing::full("done")))
        }
    });
    let mut server = HttpServer::new(service).max_connections(1);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut busy = Client::connect(addr).await;
    busy.send(get("/slow")).await;
    sleep(Duration::from_millis(50)).await;
    let mut refused = Client::connect(addr).await;
    let response = refused.response().await;
    assert_eq!(response.status, 503);
    assert!(response.closes());
    refused.expect_eof().await;
    assert_eq!(server.stats().connections_refused, 1);
    release.notify_one();
    assert_eq!(busy.response().await.text(), "done");
    drop((busy, refused));
    server.close().await;
}

/// Silent connections cannot lock a normal client out: each arrival at the
/// limit sheds the oldest silent one, and the client is served throughout.
#[tokio::test]
async fn silent_connections_do_not_lock_out_a_normal_client() {
    const MAX: usize = 20;
    let mut server = HttpServer::new(tower::service_fn(path)).max_connections(MAX);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut silent = Vec::new();
    for round in 0..5 {
        for _ in 0..MAX {
            silent.push(Client::connect(addr).await);
        }
        let mut client = Client::connect(addr).await;
        let target = format!("/round-{round}");
        assert_eq!(client.exchange(get(&target)).await.text(), target);
    }
    let stats = server.stats();
    assert!(stats.connections_open <= MAX as u64 + 1, "{stats:?}");
    assert!(stats.connections_shed >= 4 * MAX as u64, "{stats:?}");
    assert_eq!(stats.connections_refused, 0);
    drop(silent);
    server.close().await;
}

/// A new connection that sends nothing is not an idle keep-alive one: it
/// is closed after the header-read timeout, quietly.
#[tokio::test]
async fn a_new_connection_that_sends_nothing_closes_after_the_header_read_timeout() {
    let mut server = HttpServer::new(tower::service_fn(path))
        .header_read_timeout(Some(Duration::from_millis(200)));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut silent = Client::connect(addr).await;
    let started = std::time::Instant::now();
    assert_eq!(silent.read_to_eof().await, "");
    assert!(started.elapsed() >= Duration::from_millis(150));
    drop(silent);
    server.close().await;
}

#[tokio::test]
async fn unix_socket_listener_serves_and_removes_its_file() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let socket = std::env::temp_dir().join(format!(
        "gruvi-server-test-{}-{nanos}.sock",
        std::process::id()
    ));
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        let context = request.extensions().get::<RequestContext>().unwrap();
        let text = format!(
            "{} {} local={}",
            request.uri().path(),
            context.server_name(),
            context.local_addr()
        );
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(text)))
    });
    let mut server = HttpServer::new(service);
    let address = server.listen_unix(&socket).await.unwrap();
    assert_eq!(address, gruvi_server::Address::Unix(socket.clone()));
    assert!(socket.exists());

    let stream = timeout(LIMIT, tokio::net::UnixStream::connect(&socket))
        .await
        .unwrap()
        .unwrap();
    let mut client = Client::new(stream);
    let response = client.exchange(get("/over-unix")).await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.text(),
        format!("/over-unix localhost local=unix:{}", socket.display())
    );
    drop(client);
    server.close().await;
    assert!(!socket.exists(), "the socket file was left behind");
}

/// A client that sends its requests and then shuts down its sending side
/// still gets every answer, then EOF.
#[tokio::test]
async fn half_closed_client_gets_its_answers() {
    let mut server = HttpServer::new(tower::service_fn(path));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send([get("/1"), get("/2"), get("/3")].concat())
        .await;
    client.stream.shutdown().await.unwrap();
    for i in 1..=3 {
        assert_eq!(client.response().await.text(), format!("/{i}"));
    }
    client.expect_eof().await;
    drop(client);
    server.close().await;
}

/// `close` while requests are pipelined and a body is half received: the
/// requests already received are all answered (the last with `Connection:
/// close`), the body is read to its end first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_close_finishes_pipelines_and_bodies_in_progress() {
    let started = Arc::new(Semaphore::new(0));
    let release = Arc::new(Semaphore::new(0));
    let (on_start, gate) = (Arc::clone(&started), Arc::clone(&release));
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let (on_start, gate) = (Arc::clone(&on_start), Arc::clone(&gate));
        async move {
            on_start.add_permits(1);
            if request.uri().path() == "/held" {
                gate.acquire().await.unwrap().forget();
                // Still running well after `close` began (see the ignored
                // test below for what happens when it is not).
                sleep(Duration::from_millis(200)).await;
            }
            echo(request).await
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    // Three pipelined requests, the first held.
    let mut pipelined = Client::connect(addr).await;
    pipelined
        .send([get("/held"), get("/2"), post("/3", "three")].concat())
        .await;
    // A body half sent.
    let mut uploading = Client::connect(addr).await;
    uploading
        .send("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nhalf ")
        .await;
    timeout(LIMIT, started.acquire_many(4))
        .await
        .unwrap()
        .unwrap()
        .forget();

    let mut closing = Box::pin(server.close());
    assert!(futures::poll!(&mut closing).is_pending());
    release.add_permits(1);
    let clients = async {
        for (target, last) in [("/held", false), ("/2", false), ("/3", true)] {
            let response = pipelined.response().await;
            assert_eq!(echoed_target(&response), target);
            assert_eq!(response.closes(), last, "{target}");
        }
        pipelined.expect_eof().await;
        uploading.send("done!").await;
        let response = uploading.response_to("POST").await;
        assert_eq!(response.json()["body"], "half done!");
        assert!(response.closes());
        uploading.expect_eof().await;
        drop((pipelined, uploading));
    };
    timeout(LIMIT, futures::future::join(closing, clients))
        .await
        .expect("close did not return");
    assert_eq!(server.stats().connections_open, 0);
    assert_eq!(server.stats().requests, 4);
}

/// BUG (http-server/src/server.rs): after `close`, `listen` binds, returns
/// `Ok` and lists the address in `addresses()`, but the accept loop stops
/// at once (the shutdown token is already cancelled): every connection is
/// refused. It should either serve or return an error.
#[tokio::test]
async fn listen_after_close_serves_or_fails() {
    let mut server = HttpServer::new(tower::service_fn(path));
    server.listen("127.0.0.1:0").await.unwrap();
    server.close().await;
    let Ok(address) = server.listen("127.0.0.1:0").await else {
        return; // An error is a fine answer.
    };
    let mut client = Client::connect(tcp(&address)).await;
    assert_eq!(client.exchange(get("/again")).await.text(), "/again");
    drop(client);
    server.close().await;
}

/// BUG (http-server/src/server.rs, `serve`): the `select!` that waits for
/// the connection or the shutdown signal polls its branches in random
/// order. When a handler finishes in the same wake-up as the shutdown (the
/// handler was released right after `close` began), the connection branch
/// may run first and write the responses owed with keep-alive; the
/// shutdown is noticed only afterwards and the connection closes idle — so
/// the last response does not say `Connection: close`, contrary to
/// `close`'s documentation. `biased;` with the shutdown branch first would
/// settle it. Repeated, since one round loses the race only ~40% of the
/// time.
#[tokio::test]
async fn graceful_close_last_response_says_close_even_when_racing() {
    for round in 0..20 {
        let release = Arc::new(Semaphore::new(0));
        let started = Arc::new(Semaphore::new(0));
        let (on_start, gate) = (Arc::clone(&started), Arc::clone(&release));
        let service = tower::service_fn(move |request: http::Request<Incoming>| {
            let (on_start, gate) = (Arc::clone(&on_start), Arc::clone(&gate));
            async move {
                on_start.add_permits(1);
                if request.uri().path() == "/held" {
                    gate.acquire().await.unwrap().forget();
                }
                path(request).await
            }
        });
        let mut server = HttpServer::new(service);
        let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
        let mut client = Client::connect(addr).await;
        client.send([get("/held"), get("/next")].concat()).await;
        timeout(LIMIT, started.acquire_many(2))
            .await
            .unwrap()
            .unwrap()
            .forget();
        let mut closing = Box::pin(server.close());
        assert!(futures::poll!(&mut closing).is_pending());
        release.add_permits(1);
        let read = async {
            assert!(!client.response().await.closes());
            let last = client.response().await;
            assert!(last.closes(), "round {round}: {last:?}");
            client.expect_eof().await;
            drop(client);
        };
        timeout(LIMIT, futures::future::join(closing, read))
            .await
            .unwrap();
    }
}
