//! `axum`: an axum `Router` on `HttpServer`, with what axum applications
//! reach for — the peer's address through `ConnectInfo`, a WebSocket echo,
//! and tower-http's compression and tracing around it all.
//!
//! ```text
//! cargo run -p gruvi-server --example axum -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/ip          # your address
//! websocat ws://127.0.0.1:8080/ws         # echoes text and binary messages
//! ```
//!
//! It prints `listening on http://IP:PORT` first, and closes gracefully on
//! Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::routing::get;
use clap::Parser;
use gruvi_server::HttpServer;
use gruvi_server::ws::axum::{Message, WebSocket, WebSocketUpgrade};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// An axum application served by gruvi-server.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
}

/// `GET /ip`: the peer's address, as text.
async fn ip(ConnectInfo(peer): ConnectInfo<SocketAddr>) -> String {
    format!("{peer}\n")
}

/// `GET /ws`: a WebSocket that sends back every text and binary message.
async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo)
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if let Message::Text(_) | Message::Binary(_) = message {
            if socket.send(message).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let app = Router::new()
        .route("/ip", get(ip))
        .route("/ws", get(ws))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http());
    let mut server =
        HttpServer::from_make_service(app.into_make_service_with_connect_info::<SocketAddr>());
    let address = server.listen(&args.addr).await?;
    // Ctrl-C is caught from here on, before anyone is told where to connect.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    println!("listening on http://{address}");
    std::io::stdout().flush()?;
    server.serve(interrupt.recv()).await;
    Ok(())
}
