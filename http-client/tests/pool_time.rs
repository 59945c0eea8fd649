//! The pooled `Client`'s timing rules on paused time: connections over an
//! in-memory transport (`Connector::transport`) to a server connection in
//! the same runtime, so that tokio's clock moves only when every task
//! waits, and limits, waiting in turn, the wait timeout and idle eviction
//! are checked to the millisecond without sleeping for real.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gruvi_client::{Client, Connector, Incoming, Outgoing};
use gruvi_conn::server::{ServerConnection, ServerOptions};
use tokio::time::Instant;

/// A transport whose every connection is served in memory: `/slow` takes
/// 200 ms, anything else answers at once with its path. Counts connections.
fn in_memory(opened: Arc<AtomicUsize>) -> Connector {
    Connector {
        transport: Some(Arc::new(move |_host: &str, _port: u16| {
            let opened = Arc::clone(&opened);
            async move {
                opened.fetch_add(1, Ordering::SeqCst);
                let (client, server) = tokio::io::duplex(64 * 1024);
                let handler = |request: http::Request<Incoming>| async move {
                    let path = request.uri().path().to_owned();
                    if path == "/slow" {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    http::Response::new(Outgoing::full(path))
                };
                // A server that keeps idle connections: what closes them
                // here is the client's own idle timeout.
                let mut options = ServerOptions::default();
                options.proto.idle_timeout = None;
                tokio::spawn(ServerConnection::new(server, handler, options));
                Ok(client)
            }
        })),
        ..Connector::default()
    }
}

async fn text(response: http::Response<Incoming>) -> String {
    let bytes = response.into_body().read_to_end().await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// One connection per origin at most: three callers are served one after
/// the other, in arrival order, each 200 ms after the one before.
#[tokio::test(start_paused = true)]
async fn callers_beyond_the_limit_are_served_in_turn() {
    let opened = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .connector(in_memory(Arc::clone(&opened)))
        .max_per_origin(1)
        .build();
    let start = Instant::now();
    let done = Arc::new(Mutex::new(Vec::new()));
    let mut calls = Vec::new();
    for n in 0..3u64 {
        let (client, done) = (client.clone(), Arc::clone(&done));
        calls.push(tokio::spawn(async move {
            let response = client.get("http://origin.test/slow").await.unwrap();
            assert_eq!(text(response).await, "/slow");
            done.lock().unwrap().push((n, start.elapsed()));
        }));
        // Each arrives 1 ms after the one before: the order is theirs.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for call in calls {
        call.await.unwrap();
    }
    let done = done.lock().unwrap().clone();
    let order: Vec<u64> = done.iter().map(|(n, _)| *n).collect();
    assert_eq!(order, [0, 1, 2], "first come, first served");
    // Served back to back on the one connection: 200, 400, 600 ms.
    for (i, (_, at)) in done.iter().enumerate() {
        let expected = Duration::from_millis(200 * (i as u64 + 1));
        assert!(
            *at >= expected && *at < expected + Duration::from_millis(20),
            "{i}: {at:?}"
        );
    }
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    assert_eq!(client.stats().waiting, 0);
}

/// A caller that waits for room longer than the wait timeout fails as a
/// timeout, exactly then; the one holding the connection is not disturbed.
#[tokio::test(start_paused = true)]
async fn waiting_past_the_wait_timeout_fails_as_a_timeout() {
    let client = Client::builder()
        .connector(in_memory(Arc::default()))
        .max_per_origin(1)
        .wait_timeout(Some(Duration::from_millis(50)))
        .build();
    let slow = {
        let client = client.clone();
        tokio::spawn(
            async move { text(client.get("http://origin.test/slow").await.unwrap()).await },
        )
    };
    tokio::time::sleep(Duration::from_millis(1)).await;
    let start = Instant::now();
    let error = client.get("http://origin.test/x").await.unwrap_err();
    assert!(error.is_timeout(), "{error}");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(50) && waited < Duration::from_millis(60),
        "{waited:?}"
    );
    assert_eq!(slow.await.unwrap(), "/slow");
}

/// Idle connections live for the idle timeout (90 s by default), then are
/// closed; the next request opens a new one.
#[tokio::test(start_paused = true)]
async fn idle_connections_are_evicted_after_the_idle_timeout() {
    let opened = Arc::new(AtomicUsize::new(0));
    let client = Client::builder()
        .connector(in_memory(Arc::clone(&opened)))
        .build();
    assert_eq!(
        text(client.get("http://origin.test/1").await.unwrap()).await,
        "/1"
    );
    tokio::time::sleep(Duration::from_secs(89)).await;
    assert_eq!(client.stats().idle, 1, "kept while younger than 90 s");
    assert_eq!(
        text(client.get("http://origin.test/2").await.unwrap()).await,
        "/2"
    );
    assert_eq!(opened.load(Ordering::SeqCst), 1, "reused");
    tokio::time::sleep(Duration::from_secs(95)).await;
    assert_eq!(client.stats().open, 0, "evicted after 90 s idle");
    assert_eq!(
        text(client.get("http://origin.test/3").await.unwrap()).await,
        "/3"
    );
    assert_eq!(opened.load(Ordering::SeqCst), 2);
}
