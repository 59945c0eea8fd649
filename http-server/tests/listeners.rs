//! One server, several listeners: IPv4, IPv6 (when the machine has it) and a
//! Unix socket at once, each serving, all listed by `addresses()`, all
//! closed by one `close()`.

use std::convert::Infallible;
use std::time::Duration;

use gruvi_body::{Incoming, Outgoing};
use gruvi_server::{Address, HttpServer, RequestContext};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

async fn local_address(
    request: http::Request<Incoming>,
) -> Result<http::Response<Outgoing>, Infallible> {
    let context = request.extensions().get::<RequestContext>().unwrap();
    Ok(http::Response::new(Outgoing::full(format!(
        "{} via {}",
        context.server_name(),
        context.local_addr()
    ))))
}

async fn ask<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> String {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut all = String::new();
    timeout(LIMIT, stream.read_to_string(&mut all))
        .await
        .unwrap()
        .unwrap();
    all.split_once("\r\n\r\n").unwrap().1.to_owned()
}

#[tokio::test]
async fn one_server_serves_every_listener_it_has() {
    let mut server = HttpServer::new(tower::service_fn(local_address));
    let v4 = server.listen("127.0.0.1:0").await.unwrap();
    // IPv6 may be missing from a sandbox; when it is, the rest still holds.
    let v6 = server.listen("[::1]:0").await.ok();
    let path = std::env::temp_dir().join(format!("gruvi-listeners-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let unix = server.listen_unix(&path).await.unwrap();

    let mut expected = vec![v4.clone()];
    expected.extend(v6.clone());
    expected.push(unix.clone());
    assert_eq!(server.addresses(), expected);

    let answer = ask(TcpStream::connect(v4.to_string()).await.unwrap()).await;
    assert_eq!(answer, format!("127.0.0.1 via {v4}"));
    if let Some(Address::Tcp(v6)) = &v6 {
        let answer = ask(TcpStream::connect(v6).await.unwrap()).await;
        assert_eq!(
            answer,
            format!("::1 via {v6}"),
            "the name is the listen host"
        );
    }
    let answer = ask(UnixStream::connect(&path).await.unwrap()).await;
    assert_eq!(answer, format!("localhost via {unix}"));

    server.close().await;
    assert!(server.addresses().is_empty());
    assert!(TcpStream::connect(v4.to_string()).await.is_err());
    assert!(!path.exists());
}
