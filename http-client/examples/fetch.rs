//! `fetch`: a small curl — a contract that tests and tools rely on.
//!
//! ```text
//! fetch [--json] [-X METHOD] [-H 'Name: value']... [-d DATA] [--chunked]
//!       [--trailer 'Name: value']... [--http1.0] [--timeout SECS]
//!       [--max-body BYTES] [--location] [--compressed] URL [URL...]
//! ```
//!
//! The URLs may be on several origins; the URLs of one origin are pipelined
//! on one connection: every request to it is written before its first
//! response is read. A server that closes with requests unanswered (an
//! HTTP/1.0 server answers one per connection) gets them again on a new
//! connection, when the method allows it (GET, HEAD, OPTIONS, TRACE, PUT,
//! DELETE). Responses print in the order of the URLs given.
//! Without `--json` each response prints like `curl -i`; with `--json`, one
//! line per response: `{"version": "HTTP/1.1", "status": 200, "reason":
//! "OK", "headers": [[n, v], ...], "body": B, "trailers": [[n, v], ...]}`,
//! values and body as ISO-8859-1 strings (byte n is code point n).
//! `--location` follows redirects (up to 50, like `curl -L`: a 301, 302 or
//! 303 to a POST becomes a GET) and prints the final response;
//! `--compressed` asks for gzip, deflate or brotli and prints the body
//! decoded. On an error it prints `error: <message>` to stderr and exits 1,
//! after the responses completed before it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use gruvi_client::{Client, HttpClient, Incoming, Outgoing, RequestBody};
use gruvi_conn::ReceivedHead;
use serde_json::{Value, json};

/// Fetch URLs over HTTP/1.x, pipelined per origin.
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
    /// Follow redirects (like curl -L).
    #[arg(short = 'L', long)]
    location: bool,
    /// Ask for a compressed response and decode it (like curl --compressed).
    #[arg(long)]
    compressed: bool,
    /// The URLs.
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

fn text_pairs(fields: &[(Bytes, Bytes)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| (gruvi_wire::latin1_text(n), gruvi_wire::latin1_text(v)))
        .collect()
}

/// A response read whole, as it prints.
struct Printed {
    version: &'static str,
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    trailers: Vec<(String, String)>,
}

impl Printed {
    async fn read(response: http::Response<Incoming>, args: &Args) -> Result<Printed, Error> {
        let (parts, mut body) = response.into_parts();
        let received = parts.extensions.get::<ReceivedHead>();
        let reason = received
            .and_then(ReceivedHead::reason)
            .map_or_else(String::new, |r| gruvi_wire::latin1_text(&r));
        let headers = text_pairs(&received.map(ReceivedHead::fields).unwrap_or_default());
        let mut data = body.read_to_end_max(args.max_body).await?;
        let trailers = body
            .trailers()
            .map(|t| text_pairs(t.fields()))
            .unwrap_or_default();
        if args.compressed {
            let coding = parts
                .headers
                .get(http::header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap_or_default().trim().to_ascii_lowercase());
            data = decode(coding.as_deref(), data, args.max_body)?;
        }
        Ok(Printed {
            version: if parts.version == http::Version::HTTP_10 {
                "HTTP/1.0"
            } else {
                "HTTP/1.1"
            },
            status: parts.status.as_u16(),
            reason,
            headers,
            body: data,
            trailers,
        })
    }

    fn print(&self, json: bool) {
        let mut out = std::io::stdout().lock();
        if json {
            let line = json!({
                "version": self.version,
                "status": self.status,
                "reason": self.reason,
                "headers": pairs(&self.headers),
                "body": latin1(&self.body),
                "trailers": pairs(&self.trailers),
            });
            let _ = writeln!(out, "{line}");
        } else {
            let mut text = format!("{} {} {}\r\n", self.version, self.status, self.reason);
            for (name, value) in &self.headers {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("\r\n");
            let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
            let _ = out.write_all(&bytes);
            let _ = out.write_all(&self.body);
            for (name, value) in &self.trailers {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        let _ = out.flush();
    }
}

/// Undoes a content coding (RFC 9110 §8.4.1), at most `max` bytes.
fn decode(coding: Option<&str>, data: Bytes, max: u64) -> Result<Bytes, Error> {
    let mut out = Vec::new();
    let reader: Box<dyn Read + '_> = match coding {
        None | Some("identity") => return Ok(data),
        Some("gzip" | "x-gzip") => Box::new(flate2::read::GzDecoder::new(&data[..])),
        // RFC 9110 §8.4.1.2: "deflate" is the zlib format.
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(&data[..])),
        Some("br") => Box::new(brotli_decompressor::Decompressor::new(&data[..], 4096)),
        Some(other) => return Err(format!("unknown content coding {other:?}").into()),
    };
    reader.take(max.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(format!("decoded body larger than the limit of {max} bytes").into());
    }
    Ok(Bytes::from(out))
}

/// Follows redirects from `response` (like curl -L), with the pool.
async fn follow(
    mut response: http::Response<Incoming>,
    mut url: http::Uri,
    mut method: http::Method,
    pool: &Client,
    headers: &[(String, String)],
) -> Result<http::Response<Incoming>, Error> {
    for _ in 0..50 {
        let status = response.status();
        let location = response.headers().get(http::header::LOCATION).cloned();
        let Some(location) = location.filter(|_| status.is_redirection()) else {
            return Ok(response);
        };
        // Read past the redirect's own body.
        let _ = response.into_body().read_to_end_max(1 << 20).await;
        let next = location.to_str()?;
        url = resolve(&url, next)?;
        // RFC 9110 §15.4: what curl does — 301, 302 and 303 turn a POST
        // into a GET; 307 and 308 keep it (without a body to send again,
        // here, as curl without --post301 does for its data).
        if matches!(status.as_u16(), 301..=303) && method != http::Method::HEAD {
            method = http::Method::GET;
        }
        let mut request = http::Request::builder()
            .method(method.clone())
            .uri(url.clone());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        response = pool.request(request.body(Outgoing::empty())?).await?;
    }
    Err("more than 50 redirects".into())
}

/// A `Location` value against the URL it came from (RFC 3986 §5, the
/// forms servers send: absolute, absolute path, or a path's sibling).
fn resolve(base: &http::Uri, location: &str) -> Result<http::Uri, Error> {
    if location.contains("://") {
        return Ok(location.parse()?);
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map_or("", |a| a.as_str());
    let path = if location.starts_with('/') {
        location.to_owned()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{dir}/{location}")
    };
    Ok(format!("{scheme}://{authority}{path}").parse()?)
}

/// The origin of a URL, as a key: scheme, host, port.
fn origin_key(url: &str) -> Result<(String, String, u16), Error> {
    let parsed = gruvi_wire::parse_url(url, "http")?;
    let (host, port) = parsed.addr()?;
    Ok((parsed.scheme().to_owned(), host.to_ascii_lowercase(), port))
}

async fn run(args: Args) -> Result<(), Error> {
    let client_for_an_origin = || {
        let mut client = HttpClient::new().max_body(Some(args.max_body));
        if let Some(secs) = args.timeout {
            client = client.timeout(Duration::from_secs_f64(secs.max(0.0)));
        }
        if args.http10 {
            client = client.http10();
        }
        client
    };
    let mut fields = args
        .headers
        .iter()
        .map(|h| field(h))
        .collect::<Result<Vec<_>, _>>()?;
    if args.compressed {
        fields.push(("Accept-Encoding".to_owned(), "gzip, deflate, br".to_owned()));
    }
    let headers: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    let trailers = args
        .trailers
        .iter()
        .map(|t| field(t))
        .collect::<Result<Vec<_>, _>>()?;
    let trailers: Vec<(&str, &str)> = trailers.iter().map(|(n, v)| (&n[..], &v[..])).collect();

    // One connection per origin, every request to it sent before any
    // response is read (pipelining), in the order of the URLs.
    let mut origins: HashMap<(String, String, u16), Origin> = HashMap::new();
    let mut sent = Vec::new();
    for url in &args.urls {
        let key = origin_key(url)?;
        if !origins.contains_key(&key) {
            let mut client = client_for_an_origin();
            client.connect(url.as_str()).await?;
            origins.insert(
                key.clone(),
                Origin {
                    client,
                    connection: 0,
                },
            );
        }
        let origin = origins.get_mut(&key).expect("connected above");
        send(&mut origin.client, url, &args, &headers, &trailers).await?;
        sent.push((key, 0));
    }
    // RFC 9112 §9.3.2: a server may close with pipelined requests
    // unanswered (HTTP/1.0 servers answer one per connection); those that
    // may be sent again (RFC 9110 §9.2.2) are, on a new connection.
    let replayable = matches!(
        args.method.as_str(),
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    );
    let pool = Client::new();
    for (url, (key, sent_on)) in args.urls.iter().zip(sent) {
        let origin = origins.get_mut(&key).expect("connected above");
        let mut retried = false;
        // Sent on a connection since replaced: sent again on this one.
        let mut outcome = if sent_on == origin.connection {
            Ok(())
        } else {
            send(&mut origin.client, url, &args, &headers, &trailers).await
        };
        let response = loop {
            let answered = match outcome {
                Ok(()) => origin.client.getresponse().await,
                Err(error) => Err(error),
            };
            match answered {
                Ok(response) => break response,
                Err(error) if error.is_unanswered() && replayable && !retried => {
                    retried = true;
                    origin.client.connect(url.as_str()).await?;
                    origin.connection += 1;
                    outcome = send(&mut origin.client, url, &args, &headers, &trailers).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        let mut response = response.into_http();
        if args.location {
            let method = http::Method::from_bytes(args.method.as_bytes())?;
            response = follow(response, url.parse()?, method, &pool, &fields).await?;
        }
        Printed::read(response, &args).await?.print(args.json);
    }
    Ok(())
}

/// One origin's connection, and which it is (counted from 0).
struct Origin {
    client: HttpClient,
    connection: u64,
}

/// Sends the request for `url` on `client`, its body as the flags say.
async fn send(
    client: &mut HttpClient,
    url: &str,
    args: &Args,
    headers: &[(&str, &str)],
    trailers: &[(&str, &str)],
) -> Result<(), gruvi_client::HttpError> {
    let body = match (&args.data, args.chunked) {
        (_, true) => RequestBody::Manual,
        (Some(data), false) => RequestBody::Bytes(data.clone().into()),
        (None, false) => RequestBody::Empty,
    };
    let mut request = client.request(&args.method, url, headers, body).await?;
    if args.chunked {
        if let Some(data) = &args.data {
            request.write(data.clone()).await?;
        }
        request.end_request(trailers).await?;
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
