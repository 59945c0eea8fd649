//! `hello`: answers every request with `200 text/plain` `Hello, World!` —
//! the classic benchmark application.
//!
//! ```text
//! cargo run --release -p gruvi-server --example hello -- --addr 127.0.0.1:8080 --threads 2
//! ```

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
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
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
        let mut server = HttpServer::new(hello)
            .request_context(args.extensions)
            .received_head(args.extensions);
        let address = server.listen(&args.addr).await?;
        println!("listening on http://{address}");
        std::io::stdout().flush()?;
        tokio::signal::ctrl_c().await?;
        server.close().await;
        Ok(())
    })
}
