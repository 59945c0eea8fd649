//! Pipelining over a real socket: requests written in one burst — GETs and
//! POSTs with Content-Length and chunked bodies — are answered in request
//! order, also when an earlier handler is slower than later ones (which do
//! run meanwhile); `Connection: close` or a malformed request mid-pipeline
//! ends the connection after exactly the responses owed, and the requests
//! behind it never reach the application; 10,000 keep-alive requests on one
//! connection are all answered.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gruvi_body::Incoming;
use gruvi_server::HttpServer;
use support::{Client, counted_echo, echo, echoed_target, get, path, post, tcp};
use tokio::sync::Notify;

#[tokio::test]
async fn mixed_pipeline_is_answered_in_order() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let burst = [
        get("/1"),
        post("/2", "content-length body"),
        get("/3"),
        "POST /4 HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         7\r\nchunked\r\n6\r\n body!\r\n0\r\nX-Sum: 42\r\n\r\n"
            .to_owned(),
        "HEAD /5 HTTP/1.1\r\nHost: test\r\n\r\n".to_owned(),
        post("/6", ""),
        get("/7"),
    ]
    .concat();
    client.send(burst).await;

    let expected = [
        ("/1", "GET", ""),
        ("/2", "POST", "content-length body"),
        ("/3", "GET", ""),
        ("/4", "POST", "chunked body!"),
        ("/5", "HEAD", ""),
        ("/6", "POST", ""),
        ("/7", "GET", ""),
    ];
    for (target, method, body) in expected {
        let response = client.response_to(method).await;
        assert_eq!(response.status, 200, "{target}: {response:?}");
        if method == "HEAD" {
            assert!(response.body.is_empty());
            assert!(response.header("content-length").is_some());
            continue;
        }
        let json = response.json();
        assert_eq!(json["target"], target);
        assert_eq!(json["method"], method);
        assert_eq!(json["body"], body);
        if target == "/4" {
            assert_eq!(json["trailers"], serde_json::json!([["X-Sum", "42"]]));
        }
    }
    assert_eq!(calls.get(), 7);
    drop(client);
    server.close().await;
}

/// More requests in one burst than the pipeline depth (16): all answered,
/// in order.
#[tokio::test]
async fn pipeline_deeper_than_the_queue_is_answered_in_order() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service).pipeline_depth(4);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    let burst: String = (0..50)
        .map(|i| {
            if i % 3 == 0 {
                post(&format!("/{i}"), &format!("body {i}"))
            } else {
                get(&format!("/{i}"))
            }
        })
        .collect();
    client.send(burst).await;
    for i in 0..50 {
        let response = client.response().await;
        assert_eq!(echoed_target(&response), format!("/{i}"));
    }
    assert_eq!(calls.get(), 50);
    drop(client);
    server.close().await;
}

/// `/slow...` sleeps before answering: later requests finish first, yet the
/// responses leave in request order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_handler_keeps_the_order() {
    let finished = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&finished);
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let log = Arc::clone(&log);
        async move {
            let path = request.uri().path().to_owned();
            if path.starts_with("/slow") {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let response = echo(request).await;
            log.lock().unwrap().push(path);
            response
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                get("/slow"),
                post("/fast-post", "abc"),
                "POST /fast-chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
                    .to_owned(),
                get("/fast-get"),
            ]
            .concat(),
        )
        .await;
    for target in ["/slow", "/fast-post", "/fast-chunked", "/fast-get"] {
        let response = client.response().await;
        assert_eq!(echoed_target(&response), target);
    }
    drop(client);
    server.close().await;
    assert_eq!(finished.lock().unwrap().len(), 4);
}

/// Deterministic version: the first handler cannot finish before the last
/// one has started, so the server must run pipelined handlers together
/// (a server that ran them one by one would hang here and time out), and
/// must still answer in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_response_waits_for_nothing_but_order() {
    let last_started = Arc::new(Notify::new());
    let gate = Arc::clone(&last_started);
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        let gate = Arc::clone(&gate);
        async move {
            match request.uri().path() {
                "/first" => gate.notified().await,
                "/last" => gate.notify_one(),
                _ => {}
            }
            echo(request).await
        }
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send([get("/first"), post("/middle", "m"), get("/last")].concat())
        .await;
    for target in ["/first", "/middle", "/last"] {
        assert_eq!(echoed_target(&client.response().await), target);
    }
    drop(client);
    server.close().await;
}

/// `Connection: close` on the second of four pipelined requests: two
/// responses, the second saying close, then EOF; the last two never reach
/// the application.
#[tokio::test]
async fn connection_close_mid_pipeline_ends_after_its_response() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let service = tower::service_fn(move |request: http::Request<Incoming>| {
        log.lock().unwrap().push(request.uri().path().to_owned());
        echo(request)
    });
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                get("/1"),
                "POST /2 HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"
                    .to_owned(),
                get("/3"),
                post("/4", "never"),
            ]
            .concat(),
        )
        .await;

    let first = client.response().await;
    assert_eq!(echoed_target(&first), "/1");
    assert!(!first.closes());
    let second = client.response().await;
    assert_eq!(echoed_target(&second), "/2");
    assert_eq!(second.json()["body"], "hi");
    assert!(second.closes(), "{second:?}");
    client.expect_eof().await;
    drop(client);
    server.close().await;
    assert_eq!(*seen.lock().unwrap(), ["/1", "/2"]);
}

/// A malformed request behind valid ones: the valid ones are answered
/// first, then the library's 400 with close; what follows is not parsed.
#[tokio::test]
async fn malformed_request_mid_pipeline_is_answered_in_turn() {
    let (service, calls) = counted_echo();
    let mut server = HttpServer::new(service);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    client
        .send(
            [
                get("/1"),
                post("/2", "two"),
                "GET /3 HTTP/1.1\r\nHost: test\r\nX-Bad : yes\r\n\r\n".to_owned(),
                get("/4"),
            ]
            .concat(),
        )
        .await;
    assert_eq!(echoed_target(&client.response().await), "/1");
    assert_eq!(echoed_target(&client.response().await), "/2");
    let rejected = client.response().await;
    assert_eq!(rejected.status, 400);
    assert!(rejected.closes());
    client.expect_eof().await;
    assert_eq!(calls.get(), 2);
    drop(client);
    server.close().await;
}

/// 10,000 requests, one at a time, on one keep-alive connection.
#[tokio::test]
async fn ten_thousand_sequential_requests_on_one_connection() {
    let mut server = HttpServer::new(tower::service_fn(path));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    for i in 0..10_000 {
        let response = client.exchange(get(&format!("/{i}"))).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), format!("/{i}"));
    }
    drop(client);
    server.close().await;
    let stats = server.stats();
    assert_eq!(stats.requests, 10_000);
    assert_eq!(stats.connections_accepted, 1);
}

/// 10,000 requests on one connection, pipelined in batches of 100.
#[tokio::test]
async fn ten_thousand_pipelined_requests_on_one_connection() {
    let mut server = HttpServer::new(tower::service_fn(path));
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    for batch in 0..100 {
        let burst: String = (0..100)
            .map(|i| get(&format!("/{}", batch * 100 + i)))
            .collect();
        client.send(burst).await;
        for i in 0..100 {
            let response = client.response().await;
            assert_eq!(response.text(), format!("/{}", batch * 100 + i));
        }
    }
    drop(client);
    server.close().await;
    assert_eq!(server.stats().requests, 10_000);
}
