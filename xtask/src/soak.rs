//! `cargo xtask soak`: the `echo` example (release build, its own process)
//! under sustained abuse, checked response by response.
//!
//! 1. Load: `--connections` (1,000) connections send random pipelines for
//!    `--seconds` (60): GET, HEAD and POST with sized or chunked bodies
//!    (trailers sometimes), 1 to 16 deep, written in random pieces, now and
//!    then ending with `Connection: close`. Every response is framed and
//!    checked against its own request (status, target, body), so a byte of
//!    one exchange showing up in another is an error. The server's resident
//!    memory is sampled each second: after the warm-up it must stay flat.
//! 2. Slowloris: `--tricklers` (500) connections send a head one byte per
//!    second while a normal client keeps asking; each trickler must be
//!    answered `408` and closed once the server's header-read timeout
//!    (`--header-timeout`, 5 s) has passed, and the normal client must get
//!    every answer, fast.
//! 3. Silent flood: `--silent` (5,000) connections that send nothing arrive
//!    as fast as they can, against a server limited to `--max-connections`
//!    (2,000): the server must make room by closing the oldest silent ones,
//!    and the normal client must get every answer throughout.
//!
//! Prints a report and fails on any error. The server is stopped by its
//! handle.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use gruvi_body::{ChunkedLimits, Decoder, Frame};
use gruvi_wire::{BodyFraming, Limits, Status, parse_response, response_framing};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::process::{Server, resident_kib, target_dir};
use crate::{cargo, number_flag, run_command};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let number = |name: &str, default: u64| number_flag(args, name, default);
    let seconds = number("--seconds", 60)?;
    let connections = number("--connections", 1000)? as usize;
    let tricklers = number("--tricklers", 500)? as usize;
    let header_timeout = number("--header-timeout", 5)?;
    let silent = number("--silent", 5000)? as usize;
    let max_connections = number("--max-connections", 2000)?;

    run_command(cargo().args([
        "build",
        "--release",
        "-p",
        "gruvi-server",
        "--example",
        "echo",
    ]))?;
    let echo = target_dir().join("release/examples/echo");
    let timeout_arg = header_timeout.to_string();
    let max_arg = max_connections.to_string();
    let server = Server::start(
        &echo,
        &[
            "--addr",
            "127.0.0.1:0",
            "--header-read-timeout",
            &timeout_arg,
            "--max-connections",
            &max_arg,
        ],
        None,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();

    eprintln!("soak: {connections} connections, random pipelines, {seconds} s");
    let load = local.block_on(
        &runtime,
        load(&server, connections, Duration::from_secs(seconds)),
    );
    eprintln!("{load}");
    eprintln!("soak: {tricklers} tricklers against a {header_timeout} s header-read timeout");
    let slow = local.block_on(
        &runtime,
        slowloris(&server.addr, tricklers, Duration::from_secs(header_timeout)),
    );
    eprintln!("{slow}");
    eprintln!("soak: {silent} silent connections against a limit of {max_connections}");
    let flood = local.block_on(&runtime, silent_flood(&server.addr, silent));
    eprintln!("{flood}");

    let mut failures = Vec::new();
    if load.errors > 0 {
        failures.push(format!(
            "{} load errors, first: {}",
            load.errors, load.first_error
        ));
    }
    // Flat: within a quarter (plus allocator slack) of the first sample
    // after the warm-up.
    if load.rss_end_kib > load.rss_warm_kib + load.rss_warm_kib / 4 + 4096 {
        failures.push(format!(
            "resident memory grew from {} to {} KiB",
            load.rss_warm_kib, load.rss_end_kib
        ));
    }
    if slow.answered_408 + slow.closed_quietly != tricklers as u64 {
        failures.push(format!(
            "{} of {tricklers} tricklers were not cut off",
            tricklers as u64 - slow.answered_408 - slow.closed_quietly
        ));
    }
    if slow.cut_late > 0 {
        failures.push(format!("{} tricklers were cut off late", slow.cut_late));
    }
    if slow.normal.errors > 0 {
        failures.push(format!("{} normal requests failed", slow.normal.errors));
    }
    if flood.normal.errors > 0 || flood.normal.requests == 0 {
        failures.push(format!(
            "{} of {} normal requests failed during the silent flood",
            flood.normal.errors, flood.normal.requests
        ));
    }
    drop(server);
    if failures.is_empty() {
        println!("soak: passed\n{load}\n{slow}\n{flood}");
        Ok(())
    } else {
        Err(format!("soak failed:\n  {}", failures.join("\n  ")))
    }
}

/// What the load phase measured.
struct LoadOutcome {
    requests: u64,
    seconds: f64,
    errors: u64,
    first_error: String,
    rss_warm_kib: u64,
    rss_end_kib: u64,
    rss_max_kib: u64,
}

impl std::fmt::Display for LoadOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "load: {} requests in {:.1} s ({:.0}/s), {} errors; server RSS {} KiB after warm-up, \
             {} KiB at the end, {} KiB at most",
            self.requests,
            self.seconds,
            self.requests as f64 / self.seconds,
            self.errors,
            self.rss_warm_kib,
            self.rss_end_kib,
            self.rss_max_kib
        )
    }
}

/// Counts shared by the connection tasks (all on one thread).
#[derive(Default)]
struct Tally {
    requests: Cell<u64>,
    errors: Cell<u64>,
    first_error: RefCell<String>,
}

impl Tally {
    fn error(&self, what: String) {
        if self.errors.replace(self.errors.get() + 1) == 0 {
            *self.first_error.borrow_mut() = what;
        }
    }
}

async fn load(server: &Server, connections: usize, duration: Duration) -> LoadOutcome {
    let addr = server.addr.clone();
    let tally = Rc::new(Tally::default());
    let started = Instant::now();
    let until = started + duration;
    let mut tasks = Vec::new();
    for n in 0..connections {
        let (addr, tally) = (addr.clone(), Rc::clone(&tally));
        tasks.push(tokio::task::spawn_local(async move {
            let mut rng = fastrand::Rng::with_seed(n as u64);
            while Instant::now() < until {
                if let Err(error) = one_connection(&addr, n, &mut rng, until, &tally).await {
                    tally.error(format!("connection {n}: {error}"));
                }
            }
        }));
    }
    // Memory: the first sample after a tenth of the run (at most 10 s) is
    // the reference.
    let warm_up = (duration / 10).min(Duration::from_secs(10));
    let pid = server.child.id();
    let (mut warm, mut last, mut max) = (0, 0, 0);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = resident_kib(pid).unwrap_or(0);
        if warm == 0 && started.elapsed() >= warm_up {
            warm = rss;
        }
        last = rss;
        max = max.max(rss);
    }
    for task in tasks {
        let _ = task.await;
    }
    LoadOutcome {
        requests: tally.requests.get(),
        seconds: started.elapsed().as_secs_f64(),
        errors: tally.errors.get(),
        first_error: tally.first_error.borrow().clone(),
        rss_warm_kib: warm,
        rss_end_kib: last,
        rss_max_kib: max,
    }
}

/// One request of a pipeline and what its answer must say.
struct Sent {
    method: &'static str,
    target: String,
    body: Vec<u8>,
    trailers: bool,
}

fn random_request(rng: &mut fastrand::Rng, target: String, close: bool) -> (Vec<u8>, Sent) {
    let method = ["GET", "HEAD", "POST", "POST"][rng.usize(..4)];
    let mut wire = format!(
        "{method} {target} HTTP/1.1\r\nHost: soak\r\nX-Seq: {}\r\n",
        rng.u32(..)
    );
    if close {
        wire.push_str("Connection: close\r\n");
    }
    let mut sent = Sent {
        method,
        target,
        body: Vec::new(),
        trailers: false,
    };
    if method != "POST" {
        wire.push_str("\r\n");
        return (wire.into_bytes(), sent);
    }
    sent.body = (0..rng.usize(..2048))
        .map(|_| rng.alphanumeric() as u8)
        .collect();
    let mut wire = wire.into_bytes();
    if rng.bool() {
        wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", sent.body.len()).as_bytes());
        wire.extend_from_slice(&sent.body);
    } else {
        wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
        let mut rest = &sent.body[..];
        while !rest.is_empty() {
            let size = rng.usize(1..=rest.len().min(700));
            wire.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            wire.extend_from_slice(&rest[..size]);
            wire.extend_from_slice(b"\r\n");
            rest = &rest[size..];
        }
        sent.trailers = rng.bool();
        if sent.trailers {
            wire.extend_from_slice(b"0\r\nX-Checksum: ok\r\n\r\n");
        } else {
            wire.extend_from_slice(b"0\r\n\r\n");
        }
    }
    (wire, sent)
}

/// One connection: pipelines until the deadline or a `Connection: close`.
async fn one_connection(
    addr: &str,
    n: usize,
    rng: &mut fastrand::Rng,
    until: Instant,
    tally: &Tally,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut seq = 0u64;
    while Instant::now() < until {
        let depth = rng.usize(1..=16);
        let closing = rng.usize(..20) == 0;
        let mut wire = Vec::new();
        let mut pipeline = Vec::new();
        for i in 0..depth {
            seq += 1;
            let close = closing && i + 1 == depth;
            let (bytes, sent) = random_request(rng, format!("/soak/{n}/{seq}"), close);
            wire.extend_from_slice(&bytes);
            pipeline.push(sent);
        }
        // Written in random pieces: heads and bodies split anywhere.
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let size = rng.usize(1..=rest.len());
            stream
                .write_all(&rest[..size])
                .await
                .map_err(|e| format!("write: {e}"))?;
            rest = &rest[size..];
        }
        for sent in &pipeline {
            let (status, body, trailers) =
                read_response(&mut stream, &mut buf, sent.method).await?;
            check(sent, status, &body, trailers)?;
            tally.requests.set(tally.requests.get() + 1);
        }
        if closing {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut buf))
                .await
                .map_err(|_| "no close after Connection: close".to_owned())?
                .map_err(|e| format!("read: {e}"))?;
            if n != 0 {
                return Err(format!("{n} bytes after the last response"));
            }
            return Ok(());
        }
    }
    Ok(())
}

fn check(sent: &Sent, status: u16, body: &[u8], trailers: bool) -> Result<(), String> {
    if status != 200 {
        return Err(format!("{} {}: status {status}", sent.method, sent.target));
    }
    if sent.method == "HEAD" {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!("HEAD {}: a body", sent.target))
        };
    }
    if trailers {
        return Err(format!(
            "{} {}: trailers in the answer",
            sent.method, sent.target
        ));
    }
    let echoed: Value =
        serde_json::from_slice(body).map_err(|e| format!("{}: not JSON: {e}", sent.target))?;
    let same = echoed["target"] == sent.target.as_str()
        && echoed["method"] == sent.method
        && echoed["body"].as_str().map(str::as_bytes) == Some(&sent.body[..])
        && (echoed["trailers"].as_array().map_or(0, Vec::len) == usize::from(sent.trailers));
    if same {
        Ok(())
    } else {
        Err(format!(
            "{} {}: the answer describes {echoed}",
            sent.method, sent.target
        ))
    }
}

/// Reads one response: status, body, whether it had trailers.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    method: &str,
) -> Result<(u16, Bytes, bool), String> {
    let limits = Limits::default();
    let (status, framing) = loop {
        match parse_response(buf, &limits) {
            Ok(Status::Complete(head, consumed)) => {
                let framing = response_framing(method.as_bytes(), &head, buf)
                    .map_err(|e| format!("unframeable response: {e}"))?;
                let _ = buf.split_to(consumed);
                break (head.status(), framing.body);
            }
            Ok(Status::Partial) => fill(stream, buf).await?,
            Err(e) => return Err(format!("malformed response: {e}")),
        }
    };
    let mut decoder = match framing {
        BodyFraming::Empty => Decoder::length(0),
        BodyFraming::Length(n) => Decoder::length(n),
        BodyFraming::Chunked => Decoder::chunked(ChunkedLimits::default()),
        other => return Err(format!("unexpected framing {other:?}")),
    };
    let mut body = BytesMut::new();
    loop {
        match decoder.decode_input(buf, false) {
            Ok(Some(Frame::Data(data))) => body.extend_from_slice(&data),
            Ok(Some(Frame::End(trailers))) => {
                return Ok((status, body.freeze(), !trailers.is_empty()));
            }
            Ok(None) => fill(stream, buf).await?,
            Err(e) => return Err(format!("bad response body: {e}")),
        }
    }
}

async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> Result<(), String> {
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_buf(buf))
        .await
        .map_err(|_| "no response within 10 s".to_owned())?
        .map_err(|e| format!("read: {e}"))?;
    if read == 0 {
        return Err("EOF inside a response".to_owned());
    }
    Ok(())
}

/// What the slowloris phase measured.
#[derive(Default)]
struct SlowOutcome {
    tricklers: usize,
    answered_408: u64,
    closed_quietly: u64,
    cut_late: u64,
    cut_after_max: Duration,
    normal: NormalOutcome,
}

impl std::fmt::Display for SlowOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "slowloris: {} tricklers, {} answered 408, {} closed without an answer, {} late, \
             slowest cut after {:.2} s; {}",
            self.tricklers,
            self.answered_408,
            self.closed_quietly,
            self.cut_late,
            self.cut_after_max.as_secs_f64(),
            self.normal
        )
    }
}

/// How a trickler ended.
enum Cut {
    Answered408(Duration),
    Closed(Duration),
    Never,
}

async fn trickle(addr: String, started: Instant, give_up: Duration) -> Cut {
    let Ok(mut stream) = TcpStream::connect(&addr).await else {
        return Cut::Never;
    };
    let head = b"GET /slow HTTP/1.1\r\nHost: soak\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut answer = Vec::new();
    for &byte in head.iter().cycle() {
        if started.elapsed() > give_up {
            return Cut::Never;
        }
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        // A second between bytes, watching for the server's answer.
        let mut chunk = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                answer.extend_from_slice(&chunk[..n]);
                // Read to the close.
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
                        .await;
                break;
            }
            Err(_) => {}
        }
    }
    let after = started.elapsed();
    if answer.starts_with(b"HTTP/1.1 408 ") {
        Cut::Answered408(after)
    } else {
        Cut::Closed(after)
    }
}

async fn slowloris(addr: &str, tricklers: usize, header_timeout: Duration) -> SlowOutcome {
    let started = Instant::now();
    let give_up = header_timeout * 3 + Duration::from_secs(5);
    let mut tasks = Vec::new();
    for _ in 0..tricklers {
        tasks.push(tokio::task::spawn_local(trickle(
            addr.to_owned(),
            started,
            give_up,
        )));
    }
    // The normal client, for as long as the tricklers are there.
    let mut outcome = SlowOutcome {
        tricklers,
        normal: normal_client(addr, started + header_timeout + Duration::from_secs(2)).await,
        ..SlowOutcome::default()
    };
    // Cut off in time: by the timeout plus the server's one-second timer
    // granularity and the trickler's one-second read slices.
    let late = header_timeout + Duration::from_secs(3);
    for task in tasks {
        let after = match task.await {
            Ok(Cut::Answered408(after)) => {
                outcome.answered_408 += 1;
                after
            }
            Ok(Cut::Closed(after)) => {
                outcome.closed_quietly += 1;
                after
            }
            Ok(Cut::Never) | Err(_) => continue,
        };
        outcome.cut_after_max = outcome.cut_after_max.max(after);
        if after > late {
            outcome.cut_late += 1;
        }
    }
    outcome
}

/// A normal client beside an attack: one request at a time over a
/// keep-alive connection, retried once on a fresh connection when the
/// connection turns out closed (as clients do), until `until`.
async fn normal_client(addr: &str, until: Instant) -> NormalOutcome {
    let mut outcome = NormalOutcome::default();
    let mut latencies = Vec::new();
    let mut conn: Option<(TcpStream, BytesMut)> = None;
    while Instant::now() < until {
        let asked = Instant::now();
        let mut result = Err(String::new());
        for _attempt in 0..2 {
            result = async {
                if conn.is_none() {
                    let stream = TcpStream::connect(addr)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    conn = Some((stream, BytesMut::new()));
                }
                let (stream, buf) = conn.as_mut().expect("connected");
                stream
                    .write_all(b"GET /normal HTTP/1.1\r\nHost: soak\r\n\r\n")
                    .await
                    .map_err(|e| format!("write: {e}"))?;
                let (status, _, _) = read_response(stream, buf, "GET").await?;
                if status == 200 {
                    Ok(())
                } else {
                    Err(format!("status {status}"))
                }
            }
            .await;
            if result.is_ok() {
                break;
            }
            conn = None;
        }
        match result {
            Ok(()) => latencies.push(asked.elapsed()),
            Err(_) => outcome.errors += 1,
        }
        outcome.requests += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort();
    if let Some(max) = latencies.last() {
        outcome.max = *max;
        outcome.p99 = latencies[latencies.len() * 99 / 100];
    }
    outcome
}

/// What the normal client saw.
#[derive(Default)]
struct NormalOutcome {
    requests: u64,
    errors: u64,
    p99: Duration,
    max: Duration,
}

impl std::fmt::Display for NormalOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "normal client: {} requests, {} errors, p99 {:.2} ms, max {:.2} ms",
            self.requests,
            self.errors,
            self.p99.as_secs_f64() * 1000.0,
            self.max.as_secs_f64() * 1000.0
        )
    }
}

/// What the silent flood measured.
#[derive(Default)]
struct FloodOutcome {
    silent: usize,
    connected: u64,
    connect_errors: u64,
    closed_by_server: u64,
    seconds: f64,
    normal: NormalOutcome,
}

impl std::fmt::Display for FloodOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "silent flood: {} of {} connections opened in {:.1} s ({} failed to connect), {} \
             closed by the server to make room; {}",
            self.connected,
            self.silent,
            self.seconds,
            self.connect_errors,
            self.closed_by_server,
            self.normal
        )
    }
}

/// `silent` connections that send nothing arrive as fast as they can while
/// a normal client keeps asking: at the connection limit the server must
/// make room (closing the oldest silent ones), not leave everyone — the
/// normal client included — waiting in its backlog.
async fn silent_flood(addr: &str, silent: usize) -> FloodOutcome {
    let started = Instant::now();
    let flooding = {
        let addr = addr.to_owned();
        tokio::task::spawn_local(async move {
            let mut streams = Vec::with_capacity(silent);
            let mut errors = 0;
            for _ in 0..silent {
                match TcpStream::connect(&addr).await {
                    Ok(stream) => streams.push(stream),
                    Err(_) => errors += 1,
                }
            }
            (streams, errors)
        })
    };
    // The normal client asks throughout, and a second after (in rounds of
    // half a second; p99 and max are the worst round's).
    let done = Rc::new(Cell::new(false));
    let normal = tokio::task::spawn_local({
        let (addr, done) = (addr.to_owned(), Rc::clone(&done));
        async move {
            let mut outcome = NormalOutcome::default();
            while !done.get() {
                let round = normal_client(&addr, Instant::now() + Duration::from_millis(500)).await;
                outcome.requests += round.requests;
                outcome.errors += round.errors;
                outcome.p99 = outcome.p99.max(round.p99);
                outcome.max = outcome.max.max(round.max);
            }
            outcome
        }
    });
    let (streams, connect_errors) = flooding.await.unwrap_or_default();
    let seconds = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.set(true);
    let normal = normal.await.unwrap_or_default();
    let mut closed_by_server = 0;
    for stream in &streams {
        let mut probe = [0u8; 1];
        match stream.try_read(&mut probe) {
            Ok(0) => closed_by_server += 1,
            Err(error) if error.kind() != std::io::ErrorKind::WouldBlock => {
                closed_by_server += 1;
            }
            _ => {}
        }
    }
    FloodOutcome {
        silent,
        connected: streams.len() as u64,
        connect_errors,
        closed_by_server,
        seconds,
        normal,
    }
}
