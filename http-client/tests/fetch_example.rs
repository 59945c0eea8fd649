//! The `fetch` example's contract, black-box: several URLs pipelined on one
//! connection (every request written before any response is read), `--json`
//! lines, and on an error `error: <message>` on stderr with exit code 1
//! after the responses completed before it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(20);

/// An example built beside this test (`cargo test` builds examples).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    profile_dir.join("examples").join(name)
}

/// A server for one connection: waits until `expect` heads have arrived
/// (proof of pipelining), then writes `reply` and closes.
async fn one_shot(expect: usize, reply: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while seen.windows(4).filter(|w| w == b"\r\n\r\n").count() < expect {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "fetch hung up before sending every request");
            seen.extend_from_slice(&buf[..n]);
        }
        stream.write_all(reply).await.unwrap();
    });
    address
}

#[tokio::test]
async fn urls_are_pipelined_and_printed_as_json_lines() {
    let address = one_shot(
        2,
        b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n\
          HTTP/1.1 200 OK\r\nX-A: caf\xe9\r\nContent-Length: 2\r\n\r\nhi\
          HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n\xff\r\n0\r\nX-T: 1\r\n\r\n",
    )
    .await;
    let output = timeout(
        LIMIT,
        Command::new(example("fetch"))
            .args([
                "--json",
                &format!("http://{address}/a"),
                &format!("http://{address}/b"),
            ])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "1xx is not a response: {stdout}");
    assert_eq!(lines[0]["version"], "HTTP/1.1");
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["reason"], "OK");
    assert_eq!(
        lines[0]["headers"][0],
        serde_json::json!(["X-A", "caf\u{e9}"])
    );
    assert_eq!(lines[0]["body"], "hi");
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["body"], "\u{ff}");
    assert_eq!(lines[1]["trailers"], serde_json::json!([["X-T", "1"]]));
}

#[tokio::test]
async fn an_error_prints_the_responses_before_it_then_fails() {
    let address = one_shot(
        2,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 2000 Nope\r\n\r\n",
    )
    .await;
    let output = timeout(
        LIMIT,
        Command::new(example("fetch"))
            .args([
                "--json",
                &format!("http://{address}/1"),
                &format!("http://{address}/2"),
            ])
            .output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
}

async fn fetch(args: &[String]) -> (Vec<Value>, std::process::Output) {
    let output = timeout(LIMIT, Command::new(example("fetch")).args(args).output())
        .await
        .unwrap()
        .unwrap();
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, output)
}

/// URLs on two origins: each origin's requests are pipelined on its own
/// connection (each server waits for both heads before answering), and
/// the responses print in the order of the URLs.
#[tokio::test]
async fn urls_on_several_origins_print_in_their_order() {
    let a = one_shot(
        2,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na1HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\na2",
    )
    .await;
    let b = one_shot(
        2,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nb1HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nb2",
    )
    .await;
    let urls = [
        format!("http://{a}/1"),
        format!("http://{b}/1"),
        format!("http://{a}/2"),
        format!("http://{b}/2"),
    ];
    let mut args = vec!["--json".to_owned()];
    args.extend(urls);
    let (lines, output) = fetch(&args).await;
    assert!(output.status.success(), "{output:?}");
    let bodies: Vec<&str> = lines.iter().map(|l| l["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["a1", "b1", "a2", "b2"]);
}

/// `--location` follows a redirect to another origin and prints where it
/// landed; `--compressed` asks for and decodes gzip.
#[tokio::test]
async fn location_follows_redirects_across_origins_and_compressed_decodes() {
    let landed = one_shot(1, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nlanded").await;
    let redirect: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nLocation: http://{landed}/there\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let first = one_shot(1, redirect).await;
    let (lines, output) = fetch(&[
        "--json".to_owned(),
        "--location".to_owned(),
        format!("http://{first}/here"),
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["body"], "landed");

    // A gzip body, and the request must have asked for it.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
        }
        let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
        assert!(
            head.contains("accept-encoding: gzip, deflate, br"),
            "{head}"
        );
        use std::io::Write as _;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), Default::default());
        gzip.write_all(b"unzipped").unwrap();
        let body = gzip.finish().unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
    });
    let (lines, output) = fetch(&[
        "--json".to_owned(),
        "--compressed".to_owned(),
        format!("http://{address}/zipped"),
    ])
    .await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines[0]["body"], "unzipped");
    server.await.unwrap();
}
