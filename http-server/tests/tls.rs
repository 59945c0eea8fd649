//! `listen_tls`: HTTP over rustls on loopback, with the test identity in
//! `testdata/tls` (a root, and a leaf for localhost / 127.0.0.1).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use gruvi_body::{Incoming, Outgoing};
use gruvi_server::rustls::pki_types::pem::PemObject;
use gruvi_server::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use gruvi_server::rustls::{ClientConfig, RootCertStore, ServerConfig};
use gruvi_server::{HttpServer, RequestContext};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/tls")
        .join(name)
}

fn server_config() -> Arc<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(testdata("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(testdata("server.key")).unwrap();
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn client_config() -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(testdata("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    Arc::new(
        ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

async fn whoami(request: http::Request<Incoming>) -> Result<http::Response<Outgoing>, Infallible> {
    let tls = request
        .extensions()
        .get::<RequestContext>()
        .is_some_and(RequestContext::is_tls);
    Ok(http::Response::new(Outgoing::full(format!(
        "{} tls={tls}",
        request.uri()
    ))))
}

/// A TLS client on `stream` (for `localhost`, trusting the test identity):
/// writes `request`, reads until the server closes (bounded).
async fn exchange_tls<S>(stream: S, request: &[u8]) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let connector = tokio_rustls::TlsConnector::from(client_config());
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .unwrap();
    tls.write_all(request).await.unwrap();
    let mut all = Vec::new();
    timeout(LIMIT, tls.read_to_end(&mut all))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(all).unwrap()
}

#[tokio::test]
async fn requests_over_tls_are_served_and_know_it() {
    let mut server = HttpServer::new(tower::service_fn(whoami));
    let address = server
        .listen_tls("127.0.0.1:0", server_config())
        .await
        .unwrap();
    let addr = match &address {
        gruvi_server::Address::Tcp(addr) => *addr,
        other => panic!("{other:?}"),
    };
    let tcp = TcpStream::connect(addr).await.unwrap();
    let text = exchange_tls(tcp, b"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await;
    assert!(text.contains("\r\n\r\n/a tls=true"), "{text}");
    assert!(text.ends_with("\r\n\r\n/b tls=true"), "{text}");

    server.close().await;
}

/// A peer that never starts its handshake is dropped after the header-read
/// timeout, like one that never sends its head.
#[tokio::test]
async fn a_stalled_handshake_is_dropped_after_the_header_read_timeout() {
    let mut server = HttpServer::new(tower::service_fn(whoami))
        .header_read_timeout(Some(Duration::from_millis(200)));
    let address = server
        .listen_tls("127.0.0.1:0", server_config())
        .await
        .unwrap();
    let mut silent = TcpStream::connect(address.to_string()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = timeout(LIMIT, silent.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed: {read:?}");
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 1);
    server.close().await;
    assert_eq!(server.stats().connections_open, 0);
}

/// `listen_on_tls`: TLS over a listener of the caller's, here a Unix
/// socket.
#[tokio::test]
async fn tls_over_a_unix_listener_of_the_callers() {
    let path = std::env::temp_dir().join(format!("gruvi-tls-unix-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let mut server = HttpServer::new(tower::service_fn(whoami));
    server.listen_on_tls(listener, server_config()).unwrap();
    let unix = tokio::net::UnixStream::connect(&path).await.unwrap();
    let text = exchange_tls(
        unix,
        b"GET /u HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(text.ends_with("\r\n\r\n/u tls=true"), "{text}");
    server.close().await;
    std::fs::remove_file(&path).unwrap();
}
