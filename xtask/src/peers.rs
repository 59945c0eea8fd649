//! `cargo xtask hyper-hello`: the peer our `hello` example is measured
//! against — a hyper 1.x HTTP/1 server answering every request with `200
//! text/plain` `Hello, World!`, on the same tokio runtime flavour and thread
//! count, with `pipeline_flush(true)` (hyper's best setting for pipelined
//! load) and its header-read timeout armed (30 s, on `TokioTimer`), as ours
//! runs with its default timeouts.

use std::convert::Infallible;
use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::flag;

pub(crate) fn hyper_hello(args: &[String]) -> Result<(), String> {
    let addr = flag(args, "--addr").unwrap_or("127.0.0.1:0").to_owned();
    let threads: usize = flag(args, "--threads")
        .unwrap_or("1")
        .parse()
        .map_err(|_| "--threads takes a number".to_owned())?;
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("binding {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{local}");
        let _ = std::io::stdout().flush();
        loop {
            let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    let mut response =
                        hyper::Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
                    response.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/plain"),
                    );
                    Ok::<_, Infallible>(response)
                });
                // Its header-read timer armed, as ours is by default: a
                // pending timer has every `epoll_wait` arm a kernel timer.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(30))
                    .pipeline_flush(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
