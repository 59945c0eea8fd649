//! `fetch`: a small curl — a contract that tests and tools rely on.
//!
//! ```text
//! fetch [--json] [-X METHOD] [-H 'Name: value']... [-d DATA] [--chunked]
//!       [--trailer 'Name: value']... [--http1.0] [--timeout SECS]
//!       [--max-body BYTES] URL [URL...]
//! ```
//!
//! Several URLs (one origin) are pipelined on one connection: every
//! request is written before the first response is read. Without `--json`
//! each response prints like `curl -i`; with `--json`, one line per
//! response: `{"version": "HTTP/1.1", "status": 200, "reason": "OK",
//! "headers": [[n, v], ...], "body": B, "trailers": [[n, v], ...]}`, values
//! and body as ISO-8859-1 strings (byte n is code point n). On an error it
//! prints `error: <message>` to stderr and exits 1, after the responses
//! completed before it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use gruvi_client::{HttpClient, HttpError, HttpResponse, RequestBody};
use serde_json::{Value, json};

/// Fetch URLs over one pipelined HTTP/1.x connection.
#[derive(Debug, Parser)]
#[command(name = "fetch")]
struct Args {
    /// Print each response as one JSON line.
    #[arg(long)]
    json: bool,
    /// The request method.
    #[arg(short = 'X', long = "request", default_value = "GET")]
    method: String,
    /// A request field, "Name: value" (repeatable).
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The request body.
    #[arg(short = 'd', long = "data")]
    data: Option<String>,
    /// Send the body chunked (with --trailer fields after it).
    #[arg(long)]
    chunked: bool,
    /// A trailer field, "Name: value" (repeatable; needs --chunked).
    #[arg(long = "trailer")]
    trailers: Vec<String>,
    /// Speak HTTP/1.0.
    #[arg(long = "http1.0")]
    http10: bool,
    /// Timeout for each network operation, in seconds (default: 30 s to
    /// connect, 60 s for a response head, 60 s between body bytes).
    #[arg(long)]
    timeout: Option<f64>,
    /// Most bytes of a response body read; a larger one is an error.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    max_body: u64,
    /// The URLs, all on one origin.
    #[arg(required = true)]
    urls: Vec<String>,
}

type Error = Box<dyn std::error::Error>;

fn field(text: &str) -> Result<(String, String), Error> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?} is not a field: expected \"Name: value\""))?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

fn latin1(bytes: &[u8]) -> Value {
    Value::String(gruvi_wire::latin1_text(bytes))
}

fn pairs(fields: &[(String, String)]) -> Value {
    Value::Array(fields.iter().map(|(n, v)| json!([n, v])).collect())
}

async fn print_response(mut response: HttpResponse, json: bool) -> Result<(), HttpError> {
    let body = response.read_to_end().await?;
    let (major, minor) = response.version();
    let mut out = std::io::stdout().lock();
    if json {
        let line = json!({
            "version": format!("HTTP/{major}.{minor}"),
            "status": response.status(),
            "reason": response.reason(),
            "headers": pairs(response.headers()),
            "body": latin1(&body),
            "trailers": pairs(&response.trailers().unwrap_or_default()),
        });
        let _ = writeln!(out, "{line}");
    } else {
        let mut text = format!(
            "HTTP/{major}.{minor} {} {}\r\n",
            response.status(),
            response.reason()
        );
        for (name, value) in response.headers() {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
        let _ = out.write_all(&bytes);
        let _ = out.write_all(&body);
        for (name, value) in response.trailers().unwrap_or_default() {
            let _ = write!(out, "{name}: {value}\r\n");
        }
    }
    let _ = out.flush();
    Ok(())
}

async fn run(args: Args) -> Result<(), Error> {
    let mut client = HttpClient::new().max_body(Some(args.max_body));
    if let Some(secs) = args.timeout {
        client = client.timeout(Duration::from_secs_f64(secs.max(0.0)));
    }
    if args.http10 {
        client = client.http10();
    }
    let headers = args
        .headers
        .iter()
        .map(|h| field(h))
        .collect::<Result<Vec<_>, _>>()?;
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    let trailers = args
        .trailers
        .iter()
        .map(|t| field(t))
        .collect::<Result<Vec<_>, _>>()?;
    let trailers: Vec<(&str, &str)> = trailers.iter().map(|(n, v)| (&n[..], &v[..])).collect();

    let first = gruvi_wire::parse_url(&args.urls[0], "http")?;
    client.connect(args.urls[0].as_str()).await?;
    for url in &args.urls {
        let parsed = gruvi_wire::parse_url(url, "http")?;
        if parsed.addr()? != first.addr()? || parsed.scheme() != first.scheme() {
            return Err(format!(
                "{url} is not on the origin of {first}: one connection, one origin"
            )
            .into());
        }
        let body = match (&args.data, args.chunked) {
            (_, true) => RequestBody::Manual,
            (Some(data), false) => RequestBody::Bytes(data.clone().into()),
            (None, false) => RequestBody::Empty,
        };
        let mut request = client.request(&args.method, url, &headers, body).await?;
        if args.chunked {
            if let Some(data) = &args.data {
                request.write(data.clone()).await?;
            }
            request.end_request(&trailers).await?;
        }
    }
    for _ in &args.urls {
        let response = client.getresponse().await?;
        print_response(response, args.json).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
