//! `cargo xtask bulk-server` and `bulk-client`: large bodies through our
//! server and client, and the same bytes over plain TCP (the ceiling
//! loopback allows), for the bench's large-body rows.
//!
//! - `bulk-server --kind gruvi`: `gruvi_server::HttpServer` over a
//!   `service_fn` answering `GET /bytes/N` with N bytes (Content-Length,
//!   streamed as 64 KiB slices of one static chunk, so no time goes into
//!   making data) and `POST /sink` by reading the body to its end and
//!   answering its byte count.
//! - `bulk-server --kind tcp`: no HTTP. A 9-byte request — `D` (download)
//!   or `U` (upload), then N as a big-endian u64 — and the server writes N
//!   bytes, or reads N bytes and answers their count as 8 bytes. Reads and
//!   writes ask for 1 MiB per system call: our stack gathers its 64 KiB
//!   chunks into calls of up to 256 KiB, so a 64 KiB copy is no ceiling.
//! - `bulk-client --kind gruvi|tcp --addr A --bytes N --direction
//!   download|upload`: moves N bytes once over one connection, through
//!   `gruvi_client::HttpService` or a plain socket, counting every byte;
//!   prints JSON: bytes, seconds, MB/s (10^6 bytes per second).
//!
//! Everything runs on a current-thread runtime. Servers print `listening
//! on http://ADDR` (what `process::Server` reads) and run until killed.

use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use gruvi_client::{Connector, HttpService, Incoming, Outgoing};
use gruvi_server::HttpServer;
use http::Method;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Empty};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::client_load::{current_thread, drain, read_response};
use crate::{flag, number_flag};

const CHUNK_SIZE: usize = 64 * 1024;

/// Bytes per system call of the plain TCP copy.
const TCP_BUFFER: usize = 1024 * 1024;

/// The bytes every body is made of, shared rather than generated.
static CHUNK: [u8; CHUNK_SIZE] = [b'x'; CHUNK_SIZE];

/// `remaining` bytes as slices of [`CHUNK`], with an exact size hint (so
/// it is sent with Content-Length).
#[derive(Debug)]
struct Repeated {
    remaining: u64,
}

impl http_body::Body for Repeated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK_SIZE as u64);
        self.remaining -= n;
        let data = Bytes::from_static(&CHUNK[..n as usize]);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Whose stack carries the bytes.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Gruvi,
    Tcp,
}

fn kind(args: &[String]) -> Result<Kind, String> {
    match flag(args, "--kind").unwrap_or("gruvi") {
        "gruvi" => Ok(Kind::Gruvi),
        "tcp" => Ok(Kind::Tcp),
        other => Err(format!("--kind takes gruvi or tcp, not {other:?}")),
    }
}

pub(crate) fn server(args: &[String]) -> Result<(), String> {
    let kind = kind(args)?;
    let addr = flag(args, "--addr").unwrap_or("127.0.0.1:0").to_owned();
    current_thread()?.block_on(async move {
        match kind {
            Kind::Gruvi => {
                // Uploads of any size: the sink reads them in pieces (the
                // default 8 MiB limit is for applications that buffer).
                let mut server = HttpServer::new(tower::service_fn(answer)).max_request_body(None);
                let local = server
                    .listen(&addr)
                    .await
                    .map_err(|e| format!("binding {addr}: {e}"))?;
                announce(&local);
                std::future::pending().await
            }
            Kind::Tcp => {
                let listener = TcpListener::bind(&addr)
                    .await
                    .map_err(|e| format!("binding {addr}: {e}"))?;
                announce(&listener.local_addr().map_err(|e| e.to_string())?);
                loop {
                    let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
                    tokio::spawn(serve_tcp(stream));
                }
            }
        }
    })
}

fn announce(addr: &impl std::fmt::Display) {
    println!("listening on http://{addr}");
    let _ = std::io::stdout().flush();
}

/// The HTTP server's application: `GET /bytes/N` and `POST /sink`.
async fn answer(request: http::Request<Incoming>) -> Result<http::Response<Outgoing>, String> {
    let path = request.uri().path();
    if request.method() == Method::POST && path == "/sink" {
        let bytes = drain(request.into_body()).await?;
        return Ok(http::Response::new(Outgoing::full(bytes.to_string())));
    }
    let length = path.strip_prefix("/bytes/").and_then(|n| n.parse().ok());
    Ok(match length {
        Some(remaining) if request.method() == Method::GET => {
            http::Response::new(Outgoing::from_body(Repeated { remaining }))
        }
        _ => {
            let mut response = http::Response::new(Outgoing::empty());
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            response
        }
    })
}

/// The plain TCP server's side of one connection.
async fn serve_tcp(mut stream: TcpStream) -> Result<(), String> {
    let mut request = [0u8; 9];
    stream
        .read_exact(&mut request)
        .await
        .map_err(|e| e.to_string())?;
    let [direction, length @ ..] = request;
    let length = u64::from_be_bytes(length);
    match direction {
        b'D' => write_bytes(&mut stream, length).await,
        b'U' => {
            read_bytes(&mut stream, length).await?;
            stream
                .write_all(&length.to_be_bytes())
                .await
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown direction {other}")),
    }
}

/// Writes `length` bytes from one buffer.
async fn write_bytes(stream: &mut (impl AsyncWrite + Unpin), length: u64) -> Result<(), String> {
    let buf = vec![b'x'; TCP_BUFFER];
    let mut remaining = length;
    while remaining > 0 {
        let n = remaining.min(TCP_BUFFER as u64);
        stream
            .write_all(&buf[..n as usize])
            .await
            .map_err(|e| e.to_string())?;
        remaining -= n;
    }
    Ok(())
}

/// Reads exactly `length` bytes into one buffer.
async fn read_bytes(stream: &mut (impl AsyncRead + Unpin), length: u64) -> Result<(), String> {
    let mut buf = vec![0u8; TCP_BUFFER];
    let mut remaining = length;
    while remaining > 0 {
        let want = remaining.min(TCP_BUFFER as u64) as usize;
        let n = stream
            .read(&mut buf[..want])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err(format!("the peer closed {remaining} bytes early"));
        }
        remaining -= n as u64;
    }
    Ok(())
}

pub(crate) fn client(args: &[String]) -> Result<(), String> {
    let kind = kind(args)?;
    let addr = flag(args, "--addr").ok_or("--addr HOST:PORT is required")?;
    let bytes = number_flag(args, "--bytes", 256 << 20)?;
    let upload = match flag(args, "--direction").unwrap_or("download") {
        "download" => false,
        "upload" => true,
        other => {
            return Err(format!(
                "--direction takes download or upload, not {other:?}"
            ));
        }
    };
    let seconds = current_thread()?.block_on(async {
        match kind {
            Kind::Gruvi => http_transfer(addr, bytes, upload).await,
            Kind::Tcp => tcp_transfer(addr, bytes, upload).await,
        }
    })?;
    println!(
        "{}",
        serde_json::json!({
            "bytes": bytes,
            "seconds": seconds,
            "mb_per_s": bytes as f64 / seconds / 1e6,
        })
    );
    Ok(())
}

/// Moves `bytes` through our client and server; returns the seconds taken.
async fn http_transfer(addr: &str, bytes: u64, upload: bool) -> Result<f64, String> {
    let service = HttpService::connect(addr, &Connector::default())
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let start = Instant::now();
    let request = http::Request::builder().header(http::header::HOST, addr);
    if upload {
        let request = request
            .method(Method::POST)
            .uri("/sink")
            .body(Repeated { remaining: bytes })
            .map_err(|e| e.to_string())?;
        let response = service.oneshot(request).await.map_err(|e| e.to_string())?;
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let received = String::from_utf8_lossy(&answer);
        if received != bytes.to_string() {
            return Err(format!("sent {bytes} bytes, the server counted {received}"));
        }
    } else {
        let request = request
            .uri(format!("/bytes/{bytes}"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = service.oneshot(request).await.map_err(|e| e.to_string())?;
        let received = read_response(response).await?;
        if received != bytes {
            return Err(format!("asked for {bytes} bytes, got {received}"));
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Moves `bytes` over a plain socket; returns the seconds taken.
async fn tcp_transfer(addr: &str, bytes: u64, upload: bool) -> Result<f64, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let start = Instant::now();
    let mut request = [if upload { b'U' } else { b'D' }; 9];
    request[1..].copy_from_slice(&bytes.to_be_bytes());
    stream
        .write_all(&request)
        .await
        .map_err(|e| e.to_string())?;
    if upload {
        write_bytes(&mut stream, bytes).await?;
        let mut count = [0u8; 8];
        stream
            .read_exact(&mut count)
            .await
            .map_err(|e| e.to_string())?;
        let received = u64::from_be_bytes(count);
        if received != bytes {
            return Err(format!("sent {bytes} bytes, the server counted {received}"));
        }
    } else {
        read_bytes(&mut stream, bytes).await?;
    }
    Ok(start.elapsed().as_secs_f64())
}
