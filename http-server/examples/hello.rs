//! `hello`: answers every request with `200 text/plain` `Hello, World!` —
//! the classic benchmark application.
//!
//! ```text
//! cargo run --release -p gruvi-server --example hello -- --addr 127.0.0.1:8080 --threads 2
//! cargo run --release -p gruvi-server --example hello -- --threads 2 --reuse-port
//! ```
//!
//! `--threads N` runs one multi-threaded runtime with N workers sharing
//! one listener; with `--reuse-port`, N single-threaded runtimes each
//! accept on a listener of their own, all bound to one port with
//! `SO_REUSEPORT` (the kernel spreads connections among them).

use std::convert::Infallible;
use std::io::Write;

use bytes::Bytes;
use clap::Parser;
use gruvi_body::{Incoming, Outgoing};
use gruvi_server::HttpServer;
use http::header::{CONTENT_TYPE, HeaderValue};

/// A "Hello, World!" HTTP/1.1 server.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Worker threads (1 runs everything on the main thread).
    #[arg(long, default_value_t = default_threads())]
    threads: usize,
    /// Give each request the `RequestContext` and `ReceivedHead` extensions,
    /// as a server does by default (to measure what they cost).
    #[arg(long)]
    extensions: bool,
    /// One single-threaded runtime per thread, each with its own listener
    /// on the same port (`SO_REUSEPORT`), instead of one shared runtime.
    #[arg(long)]
    reuse_port: bool,
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    if args.reuse_port {
        return per_core(&args);
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(async {
        let mut server = server(args.extensions);
        let address = server.listen(&args.addr).await?;
        // Ctrl-C is caught from here on, before anyone is told where to
        // connect.
        let mut interrupt = interrupt()?;
        println!("listening on http://{address}");
        std::io::stdout().flush()?;
        server.serve(interrupt.recv()).await;
        Ok(())
    })
}

/// The hello service on a server; `extensions` as the flag says.
fn server(
    extensions: bool,
) -> HttpServer<
    impl tower::Service<
        http::Request<Incoming>,
        Response = http::Response<Outgoing>,
        Error = Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static,
> {
    let hello = tower::service_fn(|_request: http::Request<Incoming>| async {
        let mut response =
            http::Response::new(Outgoing::full(Bytes::from_static(b"Hello, World!")));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        Ok::<_, Infallible>(response)
    });
    // It reads nothing about the request, so by default it asks for
    // neither the connection's context nor the received head (hyper's
    // hello gets neither either).
    HttpServer::new(hello)
        .request_context(extensions)
        .received_head(extensions)
}

/// `--reuse-port`: a single-threaded runtime per thread, each serving its
/// own `SO_REUSEPORT` listener on one port, until Ctrl-C.
fn per_core(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let threads = args.threads.max(1);
    let addr: std::net::SocketAddr = args.addr.parse()?;
    let first = reuse_port_listener(addr)?;
    // Port 0: the others share the port the first one got.
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..threads {
        listeners.push(reuse_port_listener(addr)?);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // Each worker says once whether it is serving.
    let (started, starts) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let mut workers = Vec::new();
    for listener in listeners {
        let mut server = server(args.extensions);
        let mut stopped = stopped.clone();
        let started = started.clone();
        workers.push(std::thread::spawn(move || {
            let serving = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .and_then(|runtime| {
                    // The accept loop is spawned on this runtime, and runs
                    // once `serve` drives it.
                    runtime
                        .block_on(async { server.listen_on(listener) })
                        .map(|_| runtime)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                });
            match serving {
                Ok(runtime) => {
                    let _ = started.send(Ok(()));
                    runtime.block_on(server.serve(stopped.wait_for(|stop| *stop)));
                }
                Err(error) => {
                    let _ = started.send(Err(error));
                }
            }
        }));
    }
    for _ in &workers {
        starts.recv()??;
    }
    let main = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut interrupt = main.block_on(async { interrupt() })?;
    println!("listening on http://{addr}");
    std::io::stdout().flush()?;
    main.block_on(interrupt.recv());
    let _ = stop.send(true);
    for worker in workers {
        worker.join().map_err(|_| "a worker thread panicked")?;
    }
    Ok(())
}

/// SIGINT (Ctrl-C), caught from now on.
fn interrupt() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
}

/// A TCP listener on `addr` that other sockets may bind too
/// (`SO_REUSEPORT`).
fn reuse_port_listener(addr: std::net::SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
