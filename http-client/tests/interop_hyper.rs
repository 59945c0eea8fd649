//! Interop with hyper's HTTP/1 server (nobody here wrote it): pipelined
//! requests, and chunked responses with trailers, which hyper sends only to
//! a client that says `TE: trailers`, and only the fields its `Trailer`
//! field declares.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use gruvi_client::{HttpClient, RequestBody};
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const LIMIT: Duration = Duration::from_secs(10);

type Frames =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

async fn chunks_and_trailers(
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Frames>, Infallible> {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", "0xCAFE".parse().unwrap());
    let path = request.uri().path().to_owned();
    let frames = vec![
        Ok(Frame::data(Bytes::from(format!("{path}:")))),
        Ok(Frame::data(Bytes::from_static(b"one,"))),
        Ok(Frame::data(Bytes::from_static(b"two"))),
        Ok(Frame::trailers(trailers)),
    ];
    // hyper sends only the trailer fields its response declares.
    let mut response = hyper::Response::new(StreamBody::new(futures::stream::iter(frames)));
    response
        .headers_mut()
        .insert("trailer", "x-checksum".parse().unwrap());
    Ok(response)
}

#[tokio::test]
async fn hyper_sends_chunked_responses_with_trailers_to_our_pipelined_requests() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        hyper::server::conn::http1::Builder::new()
            .serve_connection(
                TokioIo::new(stream),
                hyper::service::service_fn(chunks_and_trailers),
            )
            .await
    });

    let mut client = HttpClient::new().timeout(LIMIT);
    client.connect(address).await.unwrap();
    let accept_trailers = [("TE", "trailers")];
    for path in ["/a", "/b", "/c"] {
        client
            .request("GET", path, &accept_trailers, RequestBody::Empty)
            .await
            .unwrap();
    }
    for path in ["/a", "/b", "/c"] {
        let mut response = client.getresponse().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.get_header("transfer-encoding", None),
            Some("chunked")
        );
        let body = response.read_to_end().await.unwrap();
        assert_eq!(body, format!("{path}:one,two"));
        assert_eq!(
            response.get_trailer("X-Checksum", None).as_deref(),
            Some("0xCAFE"),
            "{path}"
        );
    }
    client.close();
    let served = tokio::time::timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(served.is_ok(), "{served:?}");
}
