//! The pooled `Client` over real loopback sockets: origins served by our
//! own server (and fake ones speaking raw bytes where a fault must be
//! exact), pooling, limits, reconnects, the retry rule, pipelining, and
//! the tower layers it is meant to run under.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use gruvi_client::{Client, Incoming, Outgoing};
use gruvi_server::HttpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::timeout;
use tower::{Service, ServiceExt};

const LIMIT: Duration = Duration::from_secs(10);

/// An origin that answers each request with `{name} {path}`, counting
/// its connections; `/slow` waits 200 ms, `/close` closes after it,
/// `/redirect?to=URL` answers 302 to URL, `/gzip` answers gzipped.
async fn origin(name: &'static str) -> (HttpServer<impl Clone>, String) {
    let service = tower::service_fn(move |request: http::Request<Incoming>| async move {
        let path = request.uri().path().to_owned();
        let mut response = http::Response::new(Outgoing::full(format!("{name} {path}")));
        match path.as_str() {
            "/slow" => tokio::time::sleep(Duration::from_millis(200)).await,
            "/close" => {
                response
                    .headers_mut()
                    .insert("connection", "close".parse().unwrap());
            }
            "/redirect" => {
                let to = request
                    .uri()
                    .query()
                    .unwrap_or("")
                    .trim_start_matches("to=");
                *response.status_mut() = http::StatusCode::FOUND;
                response
                    .headers_mut()
                    .insert("location", to.parse().unwrap());
            }
            "/gzip" => {
                let mut gzip = flate2::write::GzEncoder::new(Vec::new(), Default::default());
                gzip.write_all(format!("{name} unzipped").as_bytes())
                    .unwrap();
                *response.body_mut() = Outgoing::full(gzip.finish().unwrap());
                response
                    .headers_mut()
                    .insert("content-encoding", "gzip".parse().unwrap());
            }
            _ => {}
        }
        Ok::<_, Infallible>(response)
    });
    let mut server = HttpServer::new(service);
    let address = server.listen("127.0.0.1:0").await.unwrap();
    (server, format!("http://{address}"))
}

/// `GET {url}/0` .. `{url}/{n - 1}`, each from a task of its own, all at
/// once; their bodies in that order (each wait bounded).
async fn get_concurrently(client: &Client, url: &str, n: usize) -> Vec<String> {
    let calls: Vec<_> = (0..n)
        .map(|n| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(
                async move { text(client.get(&format!("{url}/{n}")).await.unwrap()).await },
            )
        })
        .collect();
    let mut got = Vec::new();
    for call in calls {
        got.push(timeout(LIMIT, call).await.unwrap().unwrap());
    }
    got
}

async fn text(response: http::Response<Incoming>) -> String {
    let bytes = response.into_body().read_to_end().await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Two origins, each request to its own: nothing goes to the wrong one.
#[tokio::test]
async fn requests_go_to_their_own_origin_over_pooled_connections() {
    let (mut a, a_url) = origin("a").await;
    let (mut b, b_url) = origin("b").await;
    let client = Client::new();
    for round in 0..3 {
        let got = text(client.get(&format!("{a_url}/x{round}")).await.unwrap()).await;
        assert_eq!(got, format!("a /x{round}"));
        let got = text(client.get(&format!("{b_url}/y{round}")).await.unwrap()).await;
        assert_eq!(got, format!("b /y{round}"));
    }
    // One connection each, reused.
    assert_eq!(a.stats().connections_accepted, 1);
    assert_eq!(b.stats().connections_accepted, 1);
    let stats = client.stats();
    assert_eq!((stats.opened, stats.reused, stats.open), (2, 4, 2));
    a.close().await;
    b.close().await;
}

/// A request that cannot be sent (a hop-by-hop field of the caller's)
/// fails before a connection is opened for it; the next one is served.
#[tokio::test]
async fn a_request_that_cannot_be_sent_opens_no_connection() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::new();
    let request = http::Request::get(format!("{a_url}/x"))
        .header("keep-alive", "timeout=5")
        .body(Outgoing::empty())
        .unwrap();
    let error = client.request(request).await.unwrap_err();
    assert!(error.to_string().contains("keep-alive"), "{error}");
    assert_eq!(client.stats().opened, 0);
    assert_eq!(a.stats().connections_accepted, 0);
    let got = text(client.get(&format!("{a_url}/y")).await.unwrap()).await;
    assert_eq!(got, "a /y");
    a.close().await;
}

/// A server that closes after each response: the next request opens a
/// new connection (no "connection is closed" left in the pool).
#[tokio::test]
async fn a_connection_the_server_closed_is_replaced() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::new();
    for _ in 0..3 {
        let got = text(client.get(&format!("{a_url}/close")).await.unwrap()).await;
        assert_eq!(got, "a /close");
    }
    assert_eq!(a.stats().connections_accepted, 3);
    a.close().await;
}

/// At most N connections per origin: callers beyond wait their turn and
/// are served in order; one that waits too long fails as a timeout.
#[tokio::test]
async fn callers_beyond_the_limit_wait_their_turn() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::builder().max_per_origin(1).build();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for n in 0..3 {
        let (client, url, order) = (client.clone(), a_url.clone(), Arc::clone(&order));
        calls.push(tokio::spawn(async move {
            let response = client.get(&format!("{url}/slow")).await.unwrap();
            text(response).await;
            order.lock().unwrap().push(n);
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for call in calls {
        timeout(LIMIT, call).await.unwrap().unwrap();
    }
    assert_eq!(
        *order.lock().unwrap(),
        [0, 1, 2],
        "first come, first served"
    );
    assert_eq!(a.stats().connections_accepted, 1);

    let impatient = Client::builder()
        .max_per_origin(1)
        .wait_timeout(Some(Duration::from_millis(50)))
        .build();
    let slow = {
        let (client, url) = (impatient.clone(), a_url.clone());
        tokio::spawn(async move { client.get(&format!("{url}/slow")).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let error = impatient.get(&format!("{a_url}/x")).await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    slow.await.unwrap().unwrap();
    a.close().await;
}

/// An idle connection past the idle timeout is closed; the next request
/// opens a new one.
#[tokio::test]
async fn idle_connections_are_evicted() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::builder()
        .idle_timeout(Some(Duration::from_millis(100)))
        .build();
    text(client.get(&format!("{a_url}/1")).await.unwrap()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.stats().open, 0, "evicted");
    text(client.get(&format!("{a_url}/2")).await.unwrap()).await;
    assert_eq!(a.stats().connections_accepted, 2);
    a.close().await;
}

/// A server that answers one request on a connection, then closes it when
/// the next arrives: the retry rule in action.
async fn answers_once_per_connection() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // The first request (and its body, if any), answered.
                while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                    let Ok(n) = stream.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
                // The next request: read, then closed unanswered.
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    (url, accepted)
}

/// RFC 9110 §9.2.2: a GET that finds its pooled connection closed before
/// any byte of its response is sent again on a new one; a POST is not.
#[tokio::test]
async fn an_idempotent_request_is_retried_once_and_a_post_never() {
    let (url, accepted) = answers_once_per_connection().await;
    let client = Client::new();
    assert_eq!(
        text(client.get(&format!("{url}/1")).await.unwrap()).await,
        "ok"
    );
    // On the pooled connection, which the server closes unanswered.
    assert_eq!(
        text(client.get(&format!("{url}/2")).await.unwrap()).await,
        "ok"
    );
    assert_eq!(client.stats().retried, 1);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let (url, _) = answers_once_per_connection().await;
    let client = Client::new();
    assert_eq!(
        text(client.post(&format!("{url}/1"), "a").await.unwrap()).await,
        "ok"
    );
    let error = client.post(&format!("{url}/2"), "b").await.unwrap_err();
    assert!(error.is_protocol() || error.is_io(), "{error}");
    assert_eq!(client.stats().retried, 0, "a POST is never sent twice");
}

/// A server that closes every connection at once: each request fails with
/// an error (a POST is not sent again, a GET once), the pool does not loop.
#[tokio::test]
async fn connections_closed_at_once_fail_the_request() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    let client = Client::new();
    for _ in 0..20 {
        let error = timeout(LIMIT, client.post(&format!("{url}/p"), "b"))
            .await
            .unwrap()
            .unwrap_err();
        assert!(error.is_protocol() || error.is_io(), "{error}");
    }
    let posts = client.stats().opened;
    assert_eq!(posts, 20, "one connection per POST");
    let error = timeout(LIMIT, client.get(&format!("{url}/g")))
        .await
        .unwrap()
        .unwrap_err();
    assert!(error.is_protocol() || error.is_io(), "{error}");
    assert!(client.stats().opened - posts <= 2, "{:?}", client.stats());
    server.abort();
}

/// With pipelining on, concurrent idempotent requests share one
/// connection (it is off by default: each gets its own).
#[tokio::test]
async fn pipelining_shares_a_connection_when_asked_for() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::builder().pipeline(Some(8)).build();
    let got = get_concurrently(&client, &a_url, 5).await;
    for (n, got) in got.into_iter().enumerate() {
        assert_eq!(got, format!("a /{n}"));
    }
    assert_eq!(a.stats().connections_accepted, 1);
    a.close().await;
}

/// Pipelining fills the busiest connection with room before an idle one:
/// requests that go together leave together.
#[tokio::test]
async fn pipelining_fills_the_busiest_connection_first() {
    let (mut a, a_url) = origin("a").await;
    let client = Client::builder().pipeline(Some(4)).build();
    // Two POSTs at once (never pipelined) leave two idle connections.
    let to_post = format!("{a_url}/p");
    let post = || client.post(&to_post, "x");
    let (one, two) = tokio::join!(post(), post());
    text(one.unwrap()).await;
    text(two.unwrap()).await;
    assert_eq!((client.stats().open, client.stats().idle), (2, 2));
    let slow = format!("{a_url}/slow");
    let (first, second, during) = tokio::join!(client.get(&slow), client.get(&slow), async {
        // Both GETs are queued in their first poll, before this one.
        tokio::task::yield_now().await;
        client.stats()
    });
    assert_eq!(text(first.unwrap()).await, "a /slow");
    assert_eq!(text(second.unwrap()).await, "a /slow");
    assert_eq!(during.idle, 1, "both on one connection: {during:?}");
    a.close().await;
}

/// A `tower::Service` whose body type is fixed: `ready()` needs no
/// annotation, and the client runs under tower's layers.
#[tokio::test]
async fn the_client_composes_with_tower() {
    let (mut a, a_url) = origin("a").await;
    let mut client = Client::new();
    let response = client
        .ready()
        .await
        .unwrap()
        .call(
            http::Request::get(format!("{a_url}/ready"))
                .body(Outgoing::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(text(response).await, "a /ready");

    let mut stack = tower::ServiceBuilder::new()
        .buffer(8)
        .concurrency_limit(2)
        .timeout(LIMIT)
        .service(Client::new());
    let request = http::Request::get(format!("{a_url}/stacked"))
        .body(Outgoing::empty())
        .unwrap();
    let response = stack.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(text(response).await, "a /stacked");
    a.close().await;
}

/// tower-http's FollowRedirect across origins lands on the right one,
/// and its Decompression undoes gzip.
#[tokio::test]
async fn redirects_across_origins_and_gzip_through_tower_http() {
    let (mut a, a_url) = origin("a").await;
    let (mut b, b_url) = origin("b").await;
    let client = Client::new().for_body::<http_body_util::Empty<Bytes>>();
    let mut follow = tower_http::follow_redirect::FollowRedirect::new(client.clone());
    let request = http::Request::get(format!("{a_url}/redirect?to={b_url}/landed"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = follow.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(text(response).await, "b /landed");

    let mut unzip = tower_http::decompression::Decompression::new(client);
    let request = http::Request::get(format!("{b_url}/gzip"))
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = unzip.ready().await.unwrap().call(request).await.unwrap();
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "b unzipped");
    a.close().await;
    b.close().await;
}

/// A URL that is not absolute http(s) is the caller's mistake.
#[tokio::test]
async fn a_relative_url_is_refused() {
    let client = Client::new();
    let error = client.get("/relative").await.unwrap_err();
    assert!(error.is_misuse(), "{error}");
    let error = client.get("ftp://127.0.0.1/x").await.unwrap_err();
    assert!(error.is_misuse(), "{error}");
}

/// Log lines a test's subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A span per request (method, URL) and per connection (where to): what
/// happens to a connection is logged in its span, what happens to a
/// request in its own.
#[tokio::test]
async fn requests_and_connections_have_spans() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let (_server, url) = origin("a").await;
    let client = Client::new();
    let response = timeout(LIMIT, client.get(&format!("{url}/close")))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(text(response).await, "a /close");
    // The server closes after it: the connection's end is logged.
    timeout(LIMIT, async {
        while !String::from_utf8_lossy(&captured.0.lock().unwrap()).contains("connection closed") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection's end is logged");
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let request = format!("request{{method=GET uri={url}/close}}");
    assert!(
        log.contains(&format!("{request}: gruvi_client::pool: connection opened")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "connection{{to={url}}}: gruvi_conn::client: connection closed"
        )),
        "{log}"
    );
}

/// A server like an HTTP/1.0 one: each connection answers one request,
/// `Connection: close`, and closes with whatever else was pipelined unread.
async fn one_request_per_connection() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let path = String::from_utf8_lossy(&seen)
                    .split(' ')
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let response = format!(
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{path}",
                    path.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, accepted)
}

/// RFC 9112 §9.3.2: requests pipelined on a connection the server closes
/// after its first answer are sent again — each on a connection of its
/// own — and every caller gets its own response.
#[tokio::test]
async fn requests_pipelined_to_a_server_that_closes_mid_pipeline_are_all_answered() {
    let (url, accepted) = one_request_per_connection().await;
    let client = Client::builder().pipeline(Some(8)).build();
    let got = get_concurrently(&client, &url, 6).await;
    for (n, got) in got.into_iter().enumerate() {
        assert_eq!(got, format!("/{n}"));
    }
    assert!(
        accepted.load(Ordering::SeqCst) >= 6,
        "one answer per connection"
    );
}

/// A keep-alive connection the server closes after its own idle timeout
/// is not used again: the next request is answered (over a new connection,
/// or sent again once if it raced the close).
#[tokio::test]
async fn a_connection_the_server_closed_when_idle_is_not_reused() {
    let service = tower::service_fn(|request: http::Request<Incoming>| async move {
        Ok::<_, Infallible>(http::Response::new(Outgoing::full(
            request.uri().path().to_owned(),
        )))
    });
    let mut server = HttpServer::new(service).idle_timeout(Some(Duration::from_millis(100)));
    let url = format!("http://{}", server.listen("127.0.0.1:0").await.unwrap());
    let client = Client::new();
    assert_eq!(
        text(client.get(&format!("{url}/1")).await.unwrap()).await,
        "/1"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        text(client.get(&format!("{url}/2")).await.unwrap()).await,
        "/2"
    );
    assert_eq!(server.stats().connections_accepted, 2);
    server.close().await;
}
