//! `Outgoing`: every source gives its frames and the size hint that decides
//! Content-Length vs chunked; hand-written bodies check trailers at `end`.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use futures::executor::block_on;
use futures::future::poll_fn;
use gruvi_body::{BodyErrorKind, BodyWriter, Outgoing};
use http_body::Body;

/// Polls `body` to its end: the data joined, and the trailers frame if any.
fn drain(mut body: Outgoing) -> Result<(Vec<u8>, Option<http::HeaderMap>), String> {
    block_on(async {
        let mut data = Vec::new();
        let mut trailers = None;
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            let frame = frame.map_err(|e| e.to_string())?;
            match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        Ok((data, trailers))
    })
}

#[test]
fn known_sizes_are_exact() {
    assert_eq!(Outgoing::empty().size_hint().exact(), Some(0));
    assert!(Outgoing::empty().is_end_stream());
    let body = Outgoing::full(&b"hello"[..]);
    assert_eq!(body.size_hint().exact(), Some(5));
    assert_eq!(drain(body).unwrap(), (b"hello".to_vec(), None));
    assert_eq!(Outgoing::from(Vec::new()).size_hint().exact(), Some(0));
}

#[test]
fn text_is_encoded_by_its_charset() {
    let body = Outgoing::text("café", None).unwrap();
    assert_eq!(body.size_hint().exact(), Some(4));
    assert_eq!(drain(body).unwrap().0, b"caf\xe9");
    let body = Outgoing::text("café", Some(b"text/plain; charset=utf-8")).unwrap();
    assert_eq!(drain(body).unwrap().0, "café".as_bytes());
    let error = Outgoing::text("snow \u{2603}", Some(b"text/plain")).unwrap_err();
    assert!(error.to_string().contains("ISO-8859-1"), "{error}");
}

#[test]
fn streams_have_unknown_size_and_skip_empty_chunks() {
    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![Ok(b"ab"), Ok(b""), Ok(b"cd")];
    let body = Outgoing::from_stream(futures::stream::iter(chunks));
    assert_eq!(body.size_hint().exact(), None);
    assert_eq!(drain(body).unwrap().0, b"abcd");

    let failing: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"x")),
        Err(std::io::Error::other("disk on fire")),
    ];
    let error = drain(Outgoing::from_stream(futures::stream::iter(failing))).unwrap_err();
    assert_eq!(error, "disk on fire");
}

#[test]
fn any_body_passes_its_data_and_trailers_through() {
    let mut trailers = http::HeaderMap::new();
    trailers.insert("x-checksum", http::HeaderValue::from_static("abc"));
    let (mut tx, inner) = gruvi_body::Incoming::channel(1024, Some(3));
    tx.send_data(Bytes::from_static(b"abc")).unwrap();
    let mut t = gruvi_body::Trailers::new();
    t.push_received(
        Bytes::from_static(b"X-Checksum"),
        Bytes::from_static(b"abc"),
    );
    tx.finish(t);
    let body = Outgoing::from_body(inner);
    assert_eq!(body.size_hint().exact(), Some(3));
    assert_eq!(drain(body).unwrap(), (b"abc".to_vec(), Some(trailers)));
}

#[test]
fn any_body_already_ended_or_outgoing_is_taken_as_it_is() {
    // Ended: no frame can follow, so nothing is kept of it.
    let body = Outgoing::from_body(gruvi_body::Incoming::empty());
    assert!(format!("{body:?}").contains("empty"), "{body:?}");
    assert!(body.is_end_stream());
    assert_eq!(body.size_hint().exact(), Some(0));
    // Not ended yet (it has trailers to give): adapted.
    let (tx, inner) = gruvi_body::Incoming::channel(1024, None);
    let body = Outgoing::from_body(inner);
    assert!(format!("{body:?}").contains("body"), "{body:?}");
    drop(tx);
    // An `Outgoing` is not wrapped again: a hand-written one stays so.
    let (mut writer, inner) = Outgoing::channel(1024);
    let body = Outgoing::from_body(inner);
    assert!(format!("{body:?}").contains("written by hand"), "{body:?}");
    block_on(writer.write(&b"abc"[..])).unwrap();
    writer.end(&[("X-Digest", "sha-256=abc")]).unwrap();
    let (data, trailers) = drain(body).unwrap();
    assert_eq!(data, b"abc");
    assert_eq!(trailers.unwrap()["x-digest"], "sha-256=abc");
}

#[test]
fn hand_written_bodies_end_with_checked_trailers() {
    let (mut writer, body) = Outgoing::channel(1024);
    assert_eq!(body.size_hint().exact(), None, "sent chunked");
    block_on(async {
        writer.write(&b"part one, "[..]).await.unwrap();
        writer.write(Bytes::new()).await.unwrap();
        writer.write(&b"part two"[..]).await.unwrap();
    });
    writer.end(&[("X-Digest", "sha-256=abc")]).unwrap();
    assert!(writer.is_ended());
    let (data, trailers) = drain(body).unwrap();
    assert_eq!(data, b"part one, part two");
    assert_eq!(trailers.unwrap()["x-digest"], "sha-256=abc");
}

#[test]
fn bad_trailers_are_refused_at_end() {
    /// A trailer, and a test of the error it must give.
    type Case = (&'static str, &'static str, fn(&BodyErrorKind) -> bool);
    let cases: [Case; 4] = [
        (
            "Content-Length",
            "5",
            |k| matches!(k, BodyErrorKind::ForbiddenTrailer(n) if n == "Content-Length"),
        ),
        ("X-Bad", "a\r\nInjected: 1", |k| {
            matches!(k, BodyErrorKind::InvalidTrailer(_))
        }),
        ("Bad Name", "v", |k| {
            matches!(k, BodyErrorKind::InvalidTrailer(_))
        }),
        ("X-Snow", "\u{2603}", |k| {
            matches!(k, BodyErrorKind::InvalidTrailer(_))
        }),
    ];
    for (name, value, expected) in cases {
        let (mut writer, _body) = Outgoing::channel(1024);
        let error = writer.end(&[(name, value)]).unwrap_err();
        assert!(expected(error.kind()), "{name}: {error}");
        assert!(!writer.is_ended(), "a refused end leaves the body open");
    }
}

#[test]
fn writing_after_the_end_is_an_error() {
    let (mut writer, _body) = Outgoing::channel(1024);
    writer.end::<&str, &str>(&[]).unwrap();
    let error = block_on(writer.write(&b"late"[..])).unwrap_err();
    assert_eq!(error.kind(), &BodyErrorKind::AlreadyFinished);
    assert_eq!(
        writer.end::<&str, &str>(&[]).unwrap_err().kind(),
        &BodyErrorKind::AlreadyFinished
    );
}

#[test]
fn a_dropped_writer_aborts_the_body() {
    let (mut writer, body): (BodyWriter, Outgoing) = Outgoing::channel(1024);
    block_on(writer.write(&b"half"[..])).unwrap();
    drop(writer);
    let error = drain(body).unwrap_err();
    assert_eq!(error, "the connection ended before the body was complete");
}

#[test]
fn a_writer_waits_while_the_connection_lags() {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let (mut writer, mut body) = Outgoing::channel(4);
    block_on(writer.write(&b"1234"[..])).unwrap();
    let mut second = Box::pin(writer.write(&b"5678"[..]));
    assert!(
        second.as_mut().poll(&mut cx).is_pending(),
        "4 bytes wait: at the limit"
    );
    let first = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
    assert!(block_on(first).unwrap().unwrap().is_data());
    assert_eq!(second.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
}

#[cfg(feature = "tokio")]
#[test]
fn readers_are_read_in_chunks_and_sent_chunked() {
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let body = Outgoing::from_reader(std::io::Cursor::new(content.clone()));
    assert_eq!(body.size_hint().exact(), None);
    assert_eq!(drain(body).unwrap().0, content);
}

#[cfg(feature = "tokio")]
#[test]
fn a_failing_reader_fails_the_body() {
    struct Broken;
    impl tokio::io::AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("read failed")))
        }
    }
    assert_eq!(
        drain(Outgoing::from_reader(Broken)).unwrap_err(),
        "read failed"
    );
}

#[test]
fn a_hand_written_body_of_declared_size_has_no_trailers() {
    let (mut writer, body) = Outgoing::channel_with_length(1024, 3);
    assert_eq!(
        body.size_hint().exact(),
        Some(3),
        "sent with Content-Length"
    );
    let error = writer.end(&[("X-Late", "1")]).unwrap_err();
    assert!(
        matches!(error.kind(), BodyErrorKind::TrailersNotAllowed),
        "{error}"
    );
    assert!(!writer.is_ended(), "a refused end leaves the body open");
    block_on(writer.write(&b"abc"[..])).unwrap();
    writer.end::<&str, &str>(&[]).unwrap();
    let (data, _) = drain(body).unwrap();
    assert_eq!(data, b"abc");
}
