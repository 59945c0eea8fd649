//! The `echo` example's contract, black-box: started as `echo --addr
//! 127.0.0.1:0`, it prints `listening on http://IP:PORT` first, and answers
//! each request with it as JSON — fields in received case and order, values
//! and body as ISO-8859-1 text, trailers apart.

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
    let mut child = Command::new(example("echo"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the echo example is built");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = timeout(LIMIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let address = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {first:?}"));

    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"POST /p?q HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nx-dup: 1\r\nX-Dup: 2\r\n\
              Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              3\r\n\xff\x00a\r\n0\r\nX-Trail: t\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
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
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert!(response.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_examples_explain_themselves() {
    for name in ["echo", "hello"] {
        let output = timeout(LIMIT, Command::new(example(name)).arg("--help").output())
            .await
            .unwrap()
            .unwrap();
        assert!(output.status.success(), "{name} --help");
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(help.contains("--addr"), "{name}: {help}");
    }
}
