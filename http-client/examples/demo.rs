//! `demo`: starts a gruvi server on 127.0.0.1:0 and drives the client
//! against it, printing a transcript — pipelined GETs, a POST with a text
//! body, a chunked upload with trailers echoed back, an HTTP/1.0 request,
//! and HEAD.
//!
//! ```text
//! cargo run -p gruvi-client --example demo
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use gruvi_client::{HttpClient, HttpResponse, RequestBody};
use gruvi_server::{HttpServer, ReceivedHead};
use http::header::{CONTENT_TYPE, HeaderValue};

type Error = Box<dyn std::error::Error>;

/// The server side: describes each request in a few lines of text.
async fn describe(
    request: http::Request<gruvi_client::Incoming>,
) -> Result<http::Response<gruvi_client::Outgoing>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let data = body.read_to_end().await.unwrap_or_default();
    let mut text = format!("{} {} {:?}\n", parts.method, parts.uri, parts.version);
    if let Some(head) = parts.extensions.get::<ReceivedHead>() {
        for (name, value) in head.fields() {
            text.push_str(&format!(
                "  field   {}: {}\n",
                String::from_utf8_lossy(&name),
                String::from_utf8_lossy(&value)
            ));
        }
    }
    text.push_str(&format!("  body    {:?}\n", String::from_utf8_lossy(&data)));
    for (name, value) in body
        .trailers()
        .map(|t| t.fields().to_vec())
        .unwrap_or_default()
    {
        text.push_str(&format!(
            "  trailer {}: {}\n",
            String::from_utf8_lossy(&name),
            String::from_utf8_lossy(&value)
        ));
    }
    let mut response = http::Response::new(gruvi_client::Outgoing::full(Bytes::from(text)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

async fn show(title: &str, mut response: HttpResponse) -> Result<(), Error> {
    let body = response.read_to_end().await?;
    let (major, minor) = response.version();
    println!("── {title}");
    println!(
        "<< HTTP/{major}.{minor} {} {}",
        response.status(),
        response.reason()
    );
    for (name, value) in response.headers() {
        println!("<< {name}: {value}");
    }
    for line in String::from_utf8_lossy(&body).lines() {
        println!("   | {line}");
    }
    println!();
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut server = HttpServer::new(tower::service_fn(describe));
    let address = server.listen("127.0.0.1:0").await?;
    println!("server listening on http://{address}\n");

    let mut client = HttpClient::new().timeout(std::time::Duration::from_secs(5));
    client.connect(address.to_string().as_str()).await?;

    // Pipelining: three requests on the wire before any response is read.
    for path in ["/one", "/two", "/three"] {
        client.request("GET", path, &[], RequestBody::Empty).await?;
    }
    for path in ["/one", "/two", "/three"] {
        show(
            &format!("pipelined GET {path}"),
            client.getresponse().await?,
        )
        .await?;
    }

    // A text body, encoded by its Content-Type's charset.
    let headers = [("Content-Type", "text/plain; charset=utf-8")];
    client
        .request("POST", "/text", &headers, "héllo wörld")
        .await?;
    show("POST with a text body", client.getresponse().await?).await?;

    // A body written by hand: chunked, with trailers.
    let mut upload = client.request("PUT", "/upload", &[], None::<Bytes>).await?;
    upload.write("first chunk, ").await?;
    upload.write("second chunk").await?;
    upload.end_request(&[("Checksum", "demo-123")]).await?;
    show("chunked upload with trailers", client.getresponse().await?).await?;

    client
        .request("HEAD", "/head", &[], RequestBody::Empty)
        .await?;
    show("HEAD (no body)", client.getresponse().await?).await?;

    // HTTP/1.0: one request per connection.
    let mut old = HttpClient::new().http10();
    old.connect(address.to_string().as_str()).await?;
    old.request("GET", "/old", &[], RequestBody::Empty).await?;
    show("HTTP/1.0 GET", old.getresponse().await?).await?;

    server.close().await;
    println!("server closed: {:?}", server.stats());
    Ok(())
}
