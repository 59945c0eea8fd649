//! The examples' contracts, black-box. Each, started with `--addr
//! 127.0.0.1:0`, prints `listening on http://IP:PORT` first. `echo` answers
//! each request with it as JSON — fields in received case and order, values
//! and body as ISO-8859-1 text, trailers apart. `axum` answers `/ip` with
//! the peer's address and echoes WebSocket messages on `/ws`. `hello
//! --reuse-port` serves from several runtimes on one port. The servers
//! exit cleanly on SIGINT.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// An example built beside this test (`cargo test` builds examples).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

#[tokio::test]
async fn echo_announces_its_address_and_answers_with_json() {
    let (mut child, address) = start("echo", &[]).await;

    let mut stream = TcpStream::connect(&address).await.unwrap();
    let response = exchange(
        &mut stream,
        b"POST /p?q HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nx-dup: 1\r\nX-Dup: 2\r\n\
          Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          3\r\n\xff\x00a\r\n0\r\nX-Trail: t\r\n\r\n",
    )
    .await;
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{head}"
    );
    let description: Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        description,
        json!({
            "method": "POST",
            "target": "/p?q",
            "version": "HTTP/1.1",
            "headers": [
                ["Host", "x"], ["X-Latin", "caf\u{e9}"], ["x-dup", "1"], ["X-Dup", "2"],
                ["Transfer-Encoding", "chunked"], ["Connection", "close"]
            ],
            "body": "\u{ff}\u{0}a",
            "trailers": [["X-Trail", "t"]],
        })
    );

    // A request the library rejects gets the library's answer.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let response = exchange(&mut stream, b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n").await;
    assert!(response.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_examples_explain_themselves() {
    for name in ["echo", "hello", "axum"] {
        let output = timeout(LIMIT, Command::new(example(name)).arg("--help").output())
            .await
            .unwrap()
            .unwrap();
        assert!(output.status.success(), "{name} --help");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("--addr"), "{name}: {help}");
    }
}

/// Starts example `name` with `args` and `--addr 127.0.0.1:0`; returns it
/// and the address it announced.
async fn start(name: &str, args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = Command::new(example(name))
        .args(args)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("the {name} example is built: {e}"));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = timeout(LIMIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let address = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{name}: first line {first:?}"))
        .to_owned();
    (child, address)
}

/// Ctrl-C, as a terminal sends it: the example must exit with success.
async fn interrupt(mut child: tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = timeout(LIMIT, child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status after SIGINT: {status}");
}

/// Writes `request` and reads until the server closes (bounded).
async fn exchange(stream: &mut TcpStream, request: &[u8]) -> Vec<u8> {
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    response
}

async fn get(address: &str, target: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    String::from_utf8(exchange(&mut stream, request.as_bytes()).await).unwrap()
}

#[tokio::test]
async fn axum_example_tells_the_peer_and_echoes_websocket_messages() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let (child, address) = start("axum", &[]).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let ours = stream.local_addr().unwrap();
    let request = b"GET /ip HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let response = String::from_utf8(exchange(&mut stream, request).await).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(
        response.ends_with(&format!("\r\n\r\n{ours}\n")),
        "{response}"
    );

    let (mut socket, _) = timeout(
        LIMIT,
        tokio_tungstenite::connect_async(format!("ws://{address}/ws")),
    )
    .await
    .unwrap()
    .unwrap();
    for message in [Message::text("hi"), Message::binary(vec![1u8, 2, 3])] {
        socket.send(message.clone()).await.unwrap();
        let echoed = timeout(LIMIT, socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(echoed, message);
    }
    socket.close(None).await.unwrap();
    interrupt(child).await;
}

#[tokio::test]
async fn hello_serves_from_a_runtime_per_thread_on_one_port() {
    let (child, address) = start("hello", &["--threads", "2", "--reuse-port"]).await;
    // Two serving threads beside the main one (each with its runtime and
    // listener; the kernel spreading connections between two listeners of
    // one port is tested in ecosystem.rs).
    let tasks = std::fs::read_dir(format!("/proc/{}/task", child.id().unwrap()))
        .unwrap()
        .count();
    assert!(tasks >= 3, "{tasks} threads");
    for _ in 0..4 {
        let response = get(&address, "/").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("Hello, World!"), "{response}");
    }
    interrupt(child).await;
}
