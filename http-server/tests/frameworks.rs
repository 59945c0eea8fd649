//! Ecosystem services served unmodified over a real socket: an axum 0.8
//! `Router` (plain, path-parameter and body-reading routes, a 404, and the
//! server's `RequestContext` through axum's `Extension` extractor), and a
//! tower-http stack (trace, gzip compression, timeout) whose compressed
//! responses decode to the original and whose timeout answers without
//! spoiling the connection.

mod support;

use std::convert::Infallible;
use std::io::Read;
use std::time::Duration;

use axum::Extension;
use axum::extract::Path;
use axum::routing::{get, post};
use gruvi_body::{Incoming, Outgoing};
use gruvi_server::{HttpServer, RequestContext};
use gruvi_wire::BodyFraming;
use http::{HeaderValue, StatusCode};
use support::{Client, tcp};
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

async fn root() -> &'static str {
    "axum root"
}

async fn user(Path(id): Path<u32>) -> String {
    format!("user {id}")
}

async fn shout(body: String) -> String {
    body.to_uppercase()
}

async fn whoami(Extension(context): Extension<RequestContext>) -> String {
    format!("{} via {}", context.remote_addr(), context.server_name())
}

fn router() -> axum::Router {
    axum::Router::new()
        .route("/", get(root))
        .route("/users/{id}", get(user))
        .route("/shout", post(shout))
        .route("/whoami", get(whoami))
}

#[tokio::test]
async fn axum_router_is_served_unmodified() {
    let mut server = HttpServer::new(router()).server_name("axum-test");
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;
    // One pipelined burst, mixed framings.
    client
        .send(
            "GET / HTTP/1.1\r\nHost: test\r\n\r\n\
             GET /users/42 HTTP/1.1\r\nHost: test\r\n\r\n\
             POST /shout HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello axum!\
             POST /shout HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nchunks\r\n4\r\n too\r\n0\r\n\r\n\
             GET /users/not-a-number HTTP/1.1\r\nHost: test\r\n\r\n\
             GET /missing HTTP/1.1\r\nHost: test\r\n\r\n\
             GET /whoami HTTP/1.1\r\nHost: test\r\n\r\n",
        )
        .await;
    let expected: [(u16, Option<&str>); 7] = [
        (200, Some("axum root")),
        (200, Some("user 42")),
        (200, Some("HELLO AXUM!")),
        (200, Some("CHUNKS TOO")),
        (400, None),
        (404, None),
        (200, None),
    ];
    for (status, body) in expected {
        let response = client.response().await;
        assert_eq!(response.status, status, "{response:?}");
        if let Some(body) = body {
            assert_eq!(response.text(), body);
        }
    }
    // The request context reaches axum handlers as an extension.
    let whoami = client
        .exchange("GET /whoami HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(
        whoami.text(),
        format!("{} via axum-test", client.stream.local_addr().unwrap())
    );
    drop(client);
    server.close().await;
    assert_eq!(server.stats().requests, 8);
}

/// Compressible text, well above tower-http's minimum size.
fn original_text() -> String {
    (0..400)
        .map(|i| format!("line {i}: the quick brown fox jumps over the lazy dog\n"))
        .collect()
}

async fn text_or_slow(
    request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    if request.uri().path() == "/slow" {
        // Far beyond the stack's timeout: the timeout answers first.
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
    let mut response = http::Response::new(Outgoing::full(original_text()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

fn gunzip(data: &[u8]) -> String {
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut decoded)
        .expect("valid gzip");
    decoded
}

#[tokio::test]
async fn tower_http_stack_is_served_unmodified() {
    let stack = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_millis(300),
        ))
        .service(tower::service_fn(text_or_slow));
    let mut server = HttpServer::new(stack);
    let addr = tcp(&server.listen("127.0.0.1:0").await.unwrap());
    let mut client = Client::connect(addr).await;

    let gzipped = client
        .exchange("GET /text HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n")
        .await;
    assert_eq!(gzipped.status, 200);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert!(
        matches!(
            gzipped.framing,
            BodyFraming::Chunked | BodyFraming::Length(_)
        ),
        "{:?}",
        gzipped.framing
    );
    assert!(gzipped.body.len() < original_text().len());
    assert_eq!(gunzip(&gzipped.body), original_text());

    let plain = client
        .exchange("GET /text HTTP/1.1\r\nHost: test\r\n\r\n")
        .await;
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(
        plain.header("content-length"),
        Some(original_text().len().to_string().as_str())
    );
    assert_eq!(plain.text(), original_text());

    // The timeout layer answers; the connection goes on.
    let timed_out = client
        .exchange("GET /slow HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip\r\n\r\n")
        .await;
    assert_eq!(timed_out.status, 503);
    assert!(!timed_out.closes());
    let again = client
        .exchange("GET /text HTTP/1.1\r\nHost: test\r\nAccept-Encoding: gzip, br;q=0.5\r\n\r\n")
        .await;
    assert_eq!(again.header("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&again.body), original_text());

    drop(client);
    server.close().await;
}
