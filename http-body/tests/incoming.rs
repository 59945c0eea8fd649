//! `Incoming`: the reader API, `http_body::Body`, `Stream`, and the bounded
//! channel's backpressure and failure rules.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use futures::executor::block_on;
use futures::future::poll_fn;
use gruvi_body::{BodyErrorKind, Incoming, ReaderGone, Trailers};
use http_body::Body;

fn trailers(pairs: &[(&'static str, &'static str)]) -> Trailers {
    let mut t = Trailers::new();
    for (n, v) in pairs {
        t.push_received(
            Bytes::from_static(n.as_bytes()),
            Bytes::from_static(v.as_bytes()),
        );
    }
    t
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn empty_and_full_bodies_need_no_channel() {
    let mut body = Incoming::empty();
    assert!(body.is_end() && body.is_end_stream());
    assert_eq!(body.size_hint().exact(), Some(0));
    assert_eq!(block_on(body.read_to_end()).unwrap(), Bytes::new());
    assert_eq!(body.trailers().map(Trailers::len), Some(0));

    let data = Bytes::from_static(b"the whole body");
    let mut body = Incoming::full(data.clone());
    assert_eq!(body.size_hint().exact(), Some(14));
    assert!(body.trailers().is_none(), "trailers come after the end");
    let read = block_on(body.read_to_end()).unwrap();
    assert_eq!(read.as_ptr(), data.as_ptr(), "zero-copy");
    assert!(body.trailers().is_some());
}

#[test]
fn reader_api_over_chunks() {
    let (mut tx, mut body) = Incoming::channel(1024, None);
    tx.send_data(Bytes::from_static(b"hello wor")).unwrap();
    tx.send_data(Bytes::from_static(b"ld\nsecond line\nthird"))
        .unwrap();
    tx.send_data(Bytes::from_static(b" and last")).unwrap();
    tx.finish(trailers(&[("X-Sum", "42")]));
    block_on(async {
        assert_eq!(body.readline(None, b'\n').await.unwrap(), "hello world\n");
        assert_eq!(body.readline(None, b'\n').await.unwrap(), "second line\n");
        assert!(body.trailers().is_none());
        assert_eq!(body.read1(3).await.unwrap(), "thi");
        assert_eq!(body.readline(Some(4), b' ').await.unwrap(), "rd ");
        assert_eq!(body.read(100).await.unwrap(), "and last");
        assert_eq!(body.read(1).await.unwrap(), "");
        assert_eq!(body.read1(1).await.unwrap(), "");
        assert_eq!(body.readline(None, b'\n').await.unwrap(), "");
    });
    assert_eq!(body.trailers().unwrap().get("x-sum").unwrap(), "42");
}

#[test]
fn readline_limit_and_readlines_hint() {
    let mut body = Incoming::full(&b"aaaa\nbb\ncc\ndd"[..]);
    block_on(async {
        assert_eq!(body.readline(Some(2), b'\n').await.unwrap(), "aa");
        assert_eq!(body.readline(Some(10), b'\n').await.unwrap(), "aa\n");
        assert_eq!(body.readlines(Some(4)).await.unwrap(), ["bb\n", "cc\n"]);
        assert_eq!(body.readlines(None).await.unwrap(), ["dd"]);
        assert!(body.readlines(None).await.unwrap().is_empty());
    });
}

/// Trailers that were all dropped as forbidden still report their names.
#[test]
fn only_forbidden_trailers_are_still_reported() {
    let (tx, mut body) = Incoming::channel(1024, None);
    tx.finish(trailers(&[("Content-Length", "5"), ("Set-Cookie", "a=b")]));
    assert_eq!(block_on(body.read_to_end()).unwrap(), "");
    let received = body.trailers().expect("ended");
    assert!(received.is_empty());
    assert_eq!(received.discarded(), ["Content-Length", "Set-Cookie"]);
}

#[test]
fn read_is_zero_copy_within_a_chunk() {
    let chunk = Bytes::from_static(b"0123456789");
    let (mut tx, mut body) = Incoming::channel(1024, Some(10));
    tx.send_data(chunk.clone()).unwrap();
    tx.finish(Trailers::new());
    let first = block_on(body.read(4)).unwrap();
    let rest = block_on(body.read(6)).unwrap();
    assert_eq!(
        (first.as_ptr(), rest.as_ptr()),
        (chunk.as_ptr(), chunk[4..].as_ptr())
    );
}

#[test]
fn body_frames_data_then_trailers() {
    let (mut tx, mut body) = Incoming::channel(1024, Some(5));
    assert_eq!(body.size_hint().exact(), Some(5));
    tx.send_data(Bytes::from_static(b"he")).unwrap();
    tx.send_data(Bytes::from_static(b"llo")).unwrap();
    tx.finish(trailers(&[("X-Checksum", "abc")]));
    let mut frames = Vec::new();
    block_on(async {
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frames.push(frame.unwrap());
        }
    });
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[0].data_ref().unwrap(), "he");
    assert_eq!(frames[1].data_ref().unwrap(), "llo");
    assert_eq!(frames[2].trailers_ref().unwrap()["x-checksum"], "abc");
    assert!(body.is_end_stream());
}

#[test]
fn a_body_without_trailers_ends_without_a_trailers_frame() {
    let (mut tx, mut body) = Incoming::channel(1024, None);
    tx.send_data(Bytes::from_static(b"x")).unwrap();
    tx.finish(Trailers::new());
    let frames: Vec<_> = block_on(async {
        let mut frames = Vec::new();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            frames.push(frame.unwrap());
        }
        frames
    });
    assert_eq!(frames.len(), 1);
    assert!(frames[0].is_data());
}

#[test]
fn stream_yields_the_data_chunks() {
    use futures::StreamExt;
    let (mut tx, body) = Incoming::channel(1024, None);
    tx.send_data(Bytes::from_static(b"a")).unwrap();
    tx.send_data(Bytes::from_static(b"b")).unwrap();
    tx.finish(Trailers::new());
    let chunks: Vec<Bytes> = block_on(body.map(Result::unwrap).collect());
    assert_eq!(chunks, ["a", "b"]);
}

#[test]
fn a_slow_reader_holds_the_producer_back() {
    let waker_count = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&waker_count));
    let mut cx = Context::from_waker(&waker);
    let (mut tx, mut body) = Incoming::channel(8, None);

    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    tx.send_data(Bytes::from_static(b"12345678")).unwrap();
    assert_eq!(
        tx.poll_ready(&mut cx),
        Poll::Pending,
        "8 bytes queued: at the limit"
    );
    assert_eq!(waker_count.0.load(Ordering::SeqCst), 0);

    assert_eq!(block_on(body.read1(3)).unwrap(), "123");
    assert_eq!(
        waker_count.0.load(Ordering::SeqCst),
        1,
        "taking data wakes the producer"
    );
    assert_eq!(tx.queued_bytes(), 0, "the reader holds the rest itself");
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
}

#[test]
fn memory_stays_bounded_with_a_producer_thread() {
    const LIMIT: usize = 8 * 1024;
    const CHUNK: usize = 1024;
    const TOTAL: usize = 1024 * 1024;
    let (mut tx, mut body) = Incoming::channel(LIMIT, Some(TOTAL as u64));
    let producer = std::thread::spawn(move || {
        let mut peak = 0;
        block_on(async {
            for i in 0..TOTAL / CHUNK {
                poll_fn(|cx| tx.poll_ready(cx)).await.unwrap();
                tx.send_data(Bytes::from(vec![(i % 256) as u8; CHUNK]))
                    .unwrap();
                peak = peak.max(tx.queued_bytes());
            }
        });
        tx.finish(Trailers::new());
        peak
    });
    let mut received = 0;
    block_on(async {
        loop {
            let chunk = body.read1(700).await.unwrap();
            if chunk.is_empty() {
                break;
            }
            received += chunk.len();
        }
    });
    let peak = producer.join().unwrap();
    assert_eq!(received, TOTAL);
    assert!(peak < LIMIT + CHUNK, "queued bytes peaked at {peak}");
}

#[test]
fn a_dropped_reader_is_reported_to_the_producer() {
    let waker = Waker::from(Arc::new(CountingWaker::default()));
    let mut cx = Context::from_waker(&waker);
    let (mut tx, body) = Incoming::channel(4, None);
    tx.send_data(Bytes::from_static(b"queued")).unwrap();
    drop(body);
    assert!(tx.is_reader_gone());
    assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Err(ReaderGone)));
    assert_eq!(tx.send_data(Bytes::from_static(b"more")), Err(ReaderGone));
    assert_eq!(tx.queued_bytes(), 0, "queued data is released");
}

#[test]
fn a_dropped_sender_fails_the_body_after_the_queued_data() {
    let (mut tx, mut body) = Incoming::channel(1024, Some(100));
    tx.send_data(Bytes::from_static(b"partial")).unwrap();
    drop(tx);
    block_on(async {
        assert_eq!(body.read1(100).await.unwrap(), "partial");
        let error = body.read1(100).await.unwrap_err();
        assert_eq!(error.kind(), &BodyErrorKind::Aborted);
        assert_eq!(
            error.to_string(),
            "the connection ended before the body was complete"
        );
        // Reading again gives the same error, never a silently short body.
        assert_eq!(
            body.read_to_end().await.unwrap_err().kind(),
            &BodyErrorKind::Aborted
        );
    });
    assert!(body.trailers().is_none());
}

#[test]
fn body_polling_reports_a_failure_once() {
    let (tx, mut body) = Incoming::channel(1024, None);
    drop(tx);
    block_on(async {
        let first = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(matches!(first, Some(Err(_))));
        let second = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(second.is_none());
    });
}

#[test]
fn a_waiting_reader_is_woken_by_data_and_by_the_end() {
    let count = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&count));
    let mut cx = Context::from_waker(&waker);
    let (mut tx, mut body) = Incoming::channel(1024, None);

    let mut read = Box::pin(body.read_to_end());
    assert!(read.as_mut().poll(&mut cx).is_pending(), "nothing sent yet");
    tx.send_data(Bytes::from_static(b"late")).unwrap();
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "data wakes the reader");
    assert!(
        read.as_mut().poll(&mut cx).is_pending(),
        "the body has not ended"
    );
    tx.finish(Trailers::new());
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        2,
        "the end wakes the reader"
    );
    assert_eq!(
        read.as_mut().poll(&mut cx),
        Poll::Ready(Ok(Bytes::from_static(b"late")))
    );
}

#[test]
fn the_producer_learns_when_the_reader_first_asks_for_data() {
    let waker_count = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&waker_count));
    let mut cx = Context::from_waker(&waker);
    let (mut tx, mut body) = Incoming::channel(8, Some(3));

    assert_eq!(tx.poll_wanted(&mut cx), Poll::Pending, "nobody asked yet");
    let mut reader_cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut body).poll_frame(&mut reader_cx).is_pending());
    assert_eq!(
        waker_count.0.load(Ordering::SeqCst),
        1,
        "the first poll wakes the producer"
    );
    assert_eq!(tx.poll_wanted(&mut cx), Poll::Ready(()));
    assert!(Pin::new(&mut body).poll_frame(&mut reader_cx).is_pending());
    assert_eq!(waker_count.0.load(Ordering::SeqCst), 1, "only once");

    let (mut tx, body) = Incoming::channel(8, Some(3));
    drop(body);
    assert_eq!(
        tx.poll_wanted(&mut cx),
        Poll::Ready(()),
        "a gone reader is not waited for"
    );
}

/// `read_to_end_max`: the whole body up to the limit; past it, an error that
/// names the limit — at once for a declared length, else as soon as the
/// bytes received pass it (without waiting for the rest).
#[test]
fn read_to_end_max_stops_at_its_limit() {
    let mut body = Incoming::full(Bytes::from_static(b"0123456789"));
    assert_eq!(block_on(body.read_to_end_max(10)).unwrap(), "0123456789");

    let (_sender, mut declared) = Incoming::channel(1024, Some(11));
    let error = block_on(declared.read_to_end_max(10)).unwrap_err();
    assert_eq!(error.kind(), &BodyErrorKind::TooLarge { limit: 10 });
    assert_eq!(error.status(), 413);
    assert!(error.to_string().contains("limit of 10 bytes"), "{error}");

    // A chunked body that never ends: refused once 11 bytes are in, the
    // sender still open.
    let (mut sender, mut endless) = Incoming::channel(1024, None);
    sender.send_data(Bytes::from_static(b"012345")).unwrap();
    sender.send_data(Bytes::from_static(b"67890")).unwrap();
    let error = block_on(endless.read_to_end_max(10)).unwrap_err();
    assert_eq!(error.kind(), &BodyErrorKind::TooLarge { limit: 10 });
}
