//! `echo`: answers each request with a JSON description of it — a contract
//! that tests and tools rely on.
//!
//! Started as `echo --addr 127.0.0.1:0`, its first stdout line is
//! `listening on http://IP:PORT`. Each request is read whole (body and
//! trailers) and answered `200`, `Content-Type: application/json`, with
//! Content-Length and the body
//!
//! ```text
//! {"method": M, "target": T, "version": "HTTP/1.1" | "HTTP/1.0",
//!  "headers": [[name, value], ...], "body": B, "trailers": [[name, value], ...]}
//! ```
//!
//! Names in received case and order, duplicates kept; values and body as
//! ISO-8859-1 strings (byte n is code point n). Requests the library
//! rejects get the library's error response; a body over `--max-body`
//! bytes (default 8 MiB) is answered `413 Content Too Large`.

use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use gruvi_body::{Incoming, Outgoing};
use gruvi_server::{HttpServer, ReceivedHead};
use http::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

/// An HTTP server that echoes each request as JSON.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Seconds allowed for a request head (the server's default is 30).
    #[arg(long)]
    header_read_timeout: Option<u64>,
    /// Most bytes of a request body read (larger: 413).
    #[arg(long, default_value_t = 8 * 1024 * 1024)]
    max_body: u64,
    /// Most connections open at once (the server's default is 10,000).
    #[arg(long)]
    max_connections: Option<usize>,
}

/// Bytes as ISO-8859-1 text: byte n becomes code point n.
fn latin1(bytes: &[u8]) -> Value {
    Value::String(gruvi_wire::latin1_text(bytes))
}

fn pairs<'a>(fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) -> Value {
    Value::Array(
        fields
            .into_iter()
            .map(|(name, value)| json!([latin1(name), latin1(value)]))
            .collect(),
    )
}

async fn echo(
    request: http::Request<Incoming>,
    max_body: u64,
) -> Result<http::Response<Outgoing>, Infallible> {
    let (parts, mut body) = request.into_parts();
    let received = parts.extensions.get::<ReceivedHead>();
    let fields = received.map(ReceivedHead::fields).unwrap_or_default();
    let target = received.and_then(ReceivedHead::target).unwrap_or_default();
    let (status, description) = match body.read_to_end_max(max_body).await {
        Ok(data) => {
            let trailers = body
                .trailers()
                .map(|t| t.fields().to_vec())
                .unwrap_or_default();
            let version = if parts.version == http::Version::HTTP_10 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            };
            let description = json!({
                "method": parts.method.as_str(),
                "target": latin1(&target),
                "version": version,
                "headers": pairs(fields.iter().map(|(n, v)| (&n[..], &v[..]))),
                "body": latin1(&data),
                "trailers": pairs(trailers.iter().map(|(n, v)| (&n[..], &v[..]))),
            });
            (http::StatusCode::OK, description)
        }
        // The connection reports the body's failure to the peer itself;
        // this answer is for a peer still listening.
        Err(error) => (
            http::StatusCode::from_u16(error.status()).unwrap_or(http::StatusCode::BAD_REQUEST),
            json!({ "error": error.to_string() }),
        ),
    };
    let mut response = http::Response::new(Outgoing::full(Bytes::from(description.to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let max_body = args.max_body;
    let service = tower::service_fn(move |request| echo(request, max_body));
    let mut server = HttpServer::new(service).max_request_body(Some(max_body));
    if let Some(seconds) = args.header_read_timeout {
        server = server.header_read_timeout(Some(Duration::from_secs(seconds)));
    }
    if let Some(max) = args.max_connections {
        server = server.max_connections(max);
    }
    let address = server.listen(&args.addr).await?;
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    tokio::signal::ctrl_c().await?;
    server.close().await;
    Ok(())
}
