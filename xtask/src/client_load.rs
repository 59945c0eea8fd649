//! `cargo xtask client-load`: our HTTP client or hyper's loading a hello
//! server, for the bench's client rows.
//!
//! Where `cargo xtask load` writes pre-serialised bytes and needs no client
//! at all, this task measures one: each connection sends `GET /` through
//! `gruvi_client::HttpService` (up to `--depth` calls outstanding, which
//! pipelines them) or hyper's `client::conn::http1` (one at a time: it
//! cannot pipeline), reads every response body to its end and checks its
//! length against Content-Length, so both clients do the same work.
//!
//! With `--client gruvi-pool` or `hyper-pool` the clients are the pooled
//! ones, `gruvi_client::Client` and hyper-util's legacy `Client`:
//! `--connections` callers share one client, each a task of its own (as
//! concurrent callers in an application are) sending `GET /` and reading
//! the response in turn, and the pool decides how many connections they
//! use; `--pipeline N` lets ours pipeline up to N deep on a connection.
//!
//! One current-thread runtime, as the servers have. Prints the load
//! generator's JSON ([`Outcome`]; latency is per request, sent to body
//! read) plus `cpu_s`, this process's CPU time, and `user_cpu_s`, the
//! user-space part of it, from which the bench tells client CPU per
//! request.
//!
//! Also owns what the large-body and memory measures share with it: the
//! runtime ([`current_thread`]) and reading a body to its end ([`drain`],
//! [`read_response`]).

use std::fmt::Display;
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use futures::TryFutureExt;
use futures::stream::{FuturesOrdered, StreamExt};
use gruvi_client::{Connector, HttpService};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tower::{Service, ServiceExt};

use crate::load::Outcome;
use crate::process::cpu_time;
use crate::{flag, number_flag};

/// Whose client sends the requests.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// One connection per caller.
    Connection(Connection),
    /// `gruvi_client::Client`, pipelining this deep when `Some`.
    GruviPool(Option<usize>),
    /// hyper-util's legacy `Client`.
    HyperPool,
}

/// Whose client drives one connection.
#[derive(Debug, Clone, Copy)]
enum Connection {
    Gruvi,
    Hyper,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let addr = flag(args, "--addr").ok_or("--addr HOST:PORT is required")?;
    let number = |name: &str, default: u64| number_flag(args, name, default);
    let client = match flag(args, "--client").unwrap_or("gruvi") {
        "gruvi" => Client::Connection(Connection::Gruvi),
        "hyper" => Client::Connection(Connection::Hyper),
        "gruvi-pool" => {
            let pipeline = number("--pipeline", 1)? as usize;
            Client::GruviPool((pipeline > 1).then_some(pipeline))
        }
        "hyper-pool" => Client::HyperPool,
        other => {
            return Err(format!(
                "--client takes gruvi, hyper, gruvi-pool or hyper-pool, not {other:?}"
            ));
        }
    };
    let connections = number("--connections", 1)? as usize;
    let depth = number("--depth", 1)?.max(1) as usize;
    let seconds = number("--seconds", 5)?;
    if !matches!(client, Client::Connection(Connection::Gruvi)) && depth > 1 {
        return Err("only --client gruvi takes --depth: hyper's HTTP/1 client cannot pipeline, and the pooled clients' callers send one request at a time".to_owned());
    }
    let outcome = current_thread()?.block_on(generate(
        client,
        addr,
        connections,
        depth,
        Duration::from_secs(seconds),
    ))?;
    let mut json = outcome.to_json();
    let cpu = cpu_time(std::process::id());
    json["cpu_s"] = cpu.total().into();
    json["user_cpu_s"] = cpu.user.into();
    println!("{json}");
    Ok(())
}

/// The runtime every measuring process uses: one thread, like the servers.
pub(crate) fn current_thread() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

/// Loads `addr` from `connections` connections, `depth` requests deep, for
/// `duration`.
async fn generate(
    client: Client,
    addr: &str,
    connections: usize,
    depth: usize,
    duration: Duration,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let deadline = start + duration;
    let url = format!("http://{addr}/");
    let runs: Vec<Vec<Duration>> = match client {
        Client::Connection(client) => {
            let runs = (0..connections).map(|_| one_connection(client, addr, depth, deadline));
            futures::future::try_join_all(runs).await?
        }
        Client::GruviPool(pipeline) => {
            // Like hyper's, it reads only the `http` types: no `ReceivedHead`.
            let mut connector = Connector::default();
            connector.options.received_head = false;
            let pool = gruvi_client::Client::builder()
                .connector(connector)
                .pipeline(pipeline)
                .build()
                .for_body::<Empty<Bytes>>();
            let send = move |request| {
                let pool = pool.clone();
                async move { pool.request(request).await.map_err(|e| e.to_string()) }
            };
            share(connections, deadline, &url, send).await?
        }
        Client::HyperPool => {
            let pool = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build_http::<Empty<Bytes>>();
            let send = move |request| pool.request(request).map_err(|e| e.to_string());
            share(connections, deadline, &url, send).await?
        }
    };
    let mut latencies = Vec::new();
    for mut run in runs {
        latencies.append(&mut run);
    }
    let requests = latencies.len() as u64;
    Ok(Outcome::new(
        requests,
        start.elapsed().as_secs_f64(),
        latencies,
    ))
}

/// `callers` callers sharing a pooled client (`send`), each a task sending
/// `GET url` and reading its response in turn until `deadline`; returns
/// each caller's latencies.
async fn share<S, F, B>(
    callers: usize,
    deadline: Instant,
    url: &str,
    send: S,
) -> Result<Vec<Vec<Duration>>, String>
where
    S: Fn(http::Request<Empty<Bytes>>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<http::Response<B>, String>> + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Display,
{
    let runs = (0..callers).map(|_| {
        let (send, url) = (send.clone(), url.to_owned());
        let caller = tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let request = http::Request::get(url.as_str()).body(Empty::new());
                let response = send(request.map_err(|e| e.to_string())?).await?;
                read_response(response).await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, String>(latencies)
        });
        async move { caller.await.map_err(|e| e.to_string())? }
    });
    futures::future::try_join_all(runs).await
}

/// One connection of `client`, sending until `deadline`; returns each
/// request's latency.
async fn one_connection(
    client: Connection,
    addr: &str,
    depth: usize,
    deadline: Instant,
) -> Result<Vec<Duration>, String> {
    let request = || {
        http::Request::get("/")
            .header(http::header::HOST, addr)
            .body(Empty::<Bytes>::new())
            .expect("a GET with a Host field is a valid request")
    };
    match client {
        Connection::Gruvi => {
            // Like hyper's, it reads only the `http` types: no `ReceivedHead`.
            let mut connector = Connector::default();
            connector.options.received_head = false;
            let mut service = HttpService::connect(addr, &connector)
                .await
                .map_err(|e| format!("connecting to {addr}: {e}"))?
                .pipeline_depth(depth);
            send_until(deadline, depth, async || {
                ServiceExt::<http::Request<Empty<Bytes>>>::ready(&mut service)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(service.call(request()).map_err(|e| e.to_string()))
            })
            .await
        }
        Connection::Hyper => {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|e| format!("connecting to {addr}: {e}"))?;
            // As our client does: requests leave whole, Nagle only delays.
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            send_until(deadline, 1, async || {
                sender.ready().await.map_err(|e| e.to_string())?;
                Ok(sender.send_request(request()).map_err(|e| e.to_string()))
            })
            .await
        }
    }
}

/// Sends requests with `send` (which waits until the connection takes one,
/// then sends it) until `deadline`, with up to `depth` outstanding, and
/// reads every response. Returns each request's latency.
async fn send_until<F, B>(
    deadline: Instant,
    depth: usize,
    mut send: impl AsyncFnMut() -> Result<F, String>,
) -> Result<Vec<Duration>, String>
where
    F: Future<Output = Result<http::Response<B>, String>>,
    B: http_body::Body,
    B::Error: Display,
{
    let mut outstanding = FuturesOrdered::new();
    let mut latencies = Vec::new();
    loop {
        while outstanding.len() < depth && Instant::now() < deadline {
            let response = send().await?;
            let sent = Instant::now();
            outstanding.push_back(async move {
                read_response(response.await?).await?;
                Ok::<_, String>(sent.elapsed())
            });
        }
        match outstanding.next().await {
            Some(latency) => latencies.push(latency?),
            None => return Ok(latencies),
        }
    }
}

/// Reads a successful response's body to its end and checks its length
/// against Content-Length; returns the length.
pub(crate) async fn read_response<B>(response: http::Response<B>) -> Result<u64, String>
where
    B: http_body::Body,
    B::Error: Display,
{
    let status = response.status();
    let expected: u64 = response
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .ok_or_else(|| format!("a {status} response without a Content-Length"))?;
    if !status.is_success() {
        return Err(format!("the server answered {status}"));
    }
    let got = drain(response.into_body()).await?;
    if got != expected {
        return Err(format!("Content-Length {expected}, but {got} body bytes"));
    }
    Ok(got)
}

/// Reads `body` to its end; returns how many data bytes it held.
pub(crate) async fn drain<B>(body: B) -> Result<u64, String>
where
    B: http_body::Body,
    B::Error: Display,
{
    let mut body = pin!(body);
    let mut bytes = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame
            .map_err(|e| format!("reading a body: {e}"))?
            .into_data()
        {
            bytes += data.remaining() as u64;
        }
    }
    Ok(bytes)
}
