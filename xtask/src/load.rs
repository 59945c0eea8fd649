//! `cargo xtask load`: a small HTTP/1.1 load generator over raw TCP.
//!
//! Each connection writes `depth` pre-serialised requests at once (the
//! one-line `GET /`, or the request in `--request FILE`, for example
//! `xtask/requests/browser.http`) and waits for
//! their `depth` responses before writing the next batch (depth 1: one
//! request at a time). Responses of a hello server all have one length,
//! learnt from the first response, so counting bytes counts responses
//! without parsing each one. Prints one JSON object: requests, seconds,
//! requests per second, and the batch latency's p50 / p99 in microseconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{flag, number_flag};

/// What one run measured.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

impl Outcome {
    /// `requests` answered in `seconds`, with the `latencies` measured.
    pub(crate) fn new(requests: u64, seconds: f64, mut latencies: Vec<Duration>) -> Outcome {
        latencies.sort_unstable();
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |d: &Duration| d.as_secs_f64() * 1e6)
        };
        Outcome {
            requests,
            seconds,
            p50_us: at(0.50),
            p99_us: at(0.99),
        }
    }

    pub(crate) fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    /// What the generators print, and the bench reads.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "seconds": self.seconds,
            "rps": self.rps(),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
        })
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let addr = flag(args, "--addr").ok_or("--addr HOST:PORT is required")?;
    let number = |name: &str, default: u64| number_flag(args, name, default);
    let connections = number("--connections", 64)? as usize;
    let depth = number("--depth", 1)? as usize;
    let seconds = number("--seconds", 5)?;
    let request = match flag(args, "--request") {
        Some(path) => request_from_file(path)?,
        None => format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(),
    };
    let outcome = generate(
        addr,
        &request,
        connections,
        depth,
        Duration::from_secs(seconds),
    )?;
    println!("{}", outcome.to_json());
    Ok(())
}

/// The request in the file at `path`: a head without a body, one field per
/// line; line ends become CRLF whatever the file has (an editor or git may
/// have changed them).
fn request_from_file(path: &str) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut request = String::with_capacity(text.len() + 32);
    for line in text.trim_end().lines() {
        request.push_str(line.trim_end_matches('\r'));
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    if !request.starts_with(|c: char| c.is_ascii_uppercase()) || request.len() < 20 {
        return Err(format!("{path} does not hold a request head"));
    }
    Ok(request.into_bytes())
}

/// Loads `addr` with `request` (a head without a body) from `connections`
/// connections, `depth` requests deep, for `duration`, on one thread.
pub(crate) fn generate(
    addr: &str,
    request: &[u8],
    connections: usize,
    depth: usize,
    duration: Duration,
) -> Result<Outcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let batch: Arc<[u8]> = request.repeat(depth.max(1)).into();
    let single: Arc<[u8]> = request.into();
    runtime.block_on(async move {
        let start = Instant::now();
        let deadline = start + duration;
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (single, batch) = (Arc::clone(&single), Arc::clone(&batch));
            let addr = addr.to_owned();
            tasks.push(tokio::spawn(async move {
                one_connection(&addr, &single, &batch, depth, deadline).await
            }));
        }
        let mut requests = 0;
        let mut latencies = Vec::new();
        for task in tasks {
            let (count, mut lat) = task.await.map_err(|e| e.to_string())??;
            requests += count;
            latencies.append(&mut lat);
        }
        Ok(Outcome::new(
            requests,
            start.elapsed().as_secs_f64(),
            latencies,
        ))
    })
}

/// One connection: learns the response length, then sends batches until
/// the deadline. Returns the responses counted and each batch's latency.
async fn one_connection(
    addr: &str,
    single: &[u8],
    batch: &[u8],
    depth: usize,
    deadline: Instant,
) -> Result<(u64, Vec<Duration>), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256 * 1024];

    // The first response tells the length of all of them.
    stream.write_all(single).await.map_err(|e| e.to_string())?;
    let mut first = Vec::new();
    let length = loop {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the server closed the connection".to_owned());
        }
        first.extend_from_slice(&buf[..n]);
        if let Some(length) = response_length(&first) {
            if first.len() >= length {
                break length;
            }
        }
    };

    let mut count = 0u64;
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let started = Instant::now();
        stream.write_all(batch).await.map_err(|e| e.to_string())?;
        let mut owed = length * depth;
        while owed > 0 {
            let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the server closed the connection".to_owned());
            }
            owed = owed
                .checked_sub(n)
                .ok_or("more bytes than the responses asked for")?;
        }
        latencies.push(started.elapsed());
        count += depth as u64;
    }
    Ok((count, latencies))
}

/// The length of the response at the start of `bytes` (head + Content-
/// Length), once its head is complete.
pub(crate) fn response_length(bytes: &[u8]) -> Option<usize> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))?
        .trim()
        .parse::<usize>()
        .ok()?;
    Some(head_end + length)
}
