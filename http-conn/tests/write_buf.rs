//! `WriteBuf`: the order of the bytes, which of them are copied, how many
//! slices a write needs, partial writes at every offset, and the reuse of
//! its allocation.

use std::io::IoSlice;

use bytes::{Buf, Bytes};
use gruvi_body::Encoder;
use gruvi_conn::WriteBuf;
use gruvi_wire::{HeadWriter, Version};
use proptest::prelude::*;

const LARGE: usize = WriteBuf::COPY_LIMIT;
const SMALL: usize = WriteBuf::COPY_LIMIT - 1;

/// `len` bytes that differ from those of another `seed`, so a reordering
/// shows.
fn payload(seed: u8, len: usize) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

/// Drains `buf` through `chunk`, one piece at a time.
fn drain(buf: &mut WriteBuf) -> Vec<u8> {
    let mut out = Vec::new();
    while buf.has_remaining() {
        let chunk = buf.chunk();
        assert!(!chunk.is_empty(), "bytes remain but chunk is empty");
        out.extend_from_slice(chunk);
        let n = chunk.len();
        buf.advance(n);
    }
    out
}

/// Where each slice of a vectored write of everything points, and what it
/// holds.
fn iovecs(buf: &WriteBuf, slots: usize) -> Vec<(*const u8, Vec<u8>)> {
    let mut dst = vec![IoSlice::new(&[]); slots];
    let n = buf.chunks_vectored(&mut dst);
    dst[..n].iter().map(|s| (s.as_ptr(), s.to_vec())).collect()
}

/// A response head written as the connection writes it.
fn head(buf: &mut WriteBuf, status: u16, content_length: usize) {
    let mut head = HeadWriter::response(buf.head_buf(), Version::Http11, status, None).unwrap();
    head.field("Content-Length", &content_length.to_string())
        .unwrap();
    head.finish();
}

#[test]
fn order_is_kept_across_small_and_large_writes() {
    let mut buf = WriteBuf::new();
    let mut expected = Vec::new();
    let mut put = |buf: &mut WriteBuf, bytes: Bytes, how: u8| {
        expected.extend_from_slice(&bytes);
        match how {
            0 => buf.put_slice(&bytes),
            1 => buf.push(bytes),
            _ => buf.push_buf(bytes),
        }
    };
    put(&mut buf, Bytes::from_static(b"head one\r\n"), 0);
    put(&mut buf, payload(1, LARGE), 1);
    put(&mut buf, payload(2, 3), 1);
    put(&mut buf, payload(3, 5000), 2);
    put(&mut buf, payload(4, 5000), 1); // large right after large
    put(&mut buf, Bytes::from_static(b"head two\r\n"), 0);
    put(&mut buf, payload(5, SMALL), 2);
    put(&mut buf, payload(6, 70_000), 1);
    assert_eq!(buf.len(), expected.len());
    // head one | 1 | 2 | 3 | 4 | head two + 5 | 6
    assert_eq!(buf.pieces(), 7);
    assert_eq!(drain(&mut buf), expected);
    assert!(buf.is_empty());
    assert_eq!(buf.pieces(), 0);
}

#[test]
fn a_large_payload_is_written_from_its_own_memory() {
    let body = payload(7, 64 * 1024);
    let mut buf = WriteBuf::new();
    head(&mut buf, 200, body.len());
    buf.push(body.clone());
    buf.put_slice(b"HTTP/1.1 204 No Content\r\n\r\n");

    let slices = iovecs(&buf, 8);
    assert_eq!(slices.len(), 3);
    assert_eq!(buf.pieces(), 3);
    assert_eq!(
        slices[0].1,
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()
    );
    assert_eq!(slices[1].0, body.as_ptr(), "the payload was copied");
    assert_eq!(slices[1].1.len(), body.len());
    assert_eq!(slices[2].1, b"HTTP/1.1 204 No Content\r\n\r\n");

    // Fewer slots than pieces: as many as fit, in order.
    let two = iovecs(&buf, 2);
    assert_eq!(two, slices[..2]);
    assert!(iovecs(&buf, 0).is_empty());

    // Part of the payload written: the rest is still the caller's memory.
    let first = slices[0].1.len();
    buf.advance(first + 100);
    let slices = iovecs(&buf, 8);
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[0].0, body[100..].as_ptr());
    assert_eq!(buf.chunk().as_ptr(), body[100..].as_ptr());
}

#[test]
fn payloads_below_the_limit_are_copied_and_at_it_queued() {
    let small = payload(1, SMALL);
    let mut buf = WriteBuf::new();
    buf.push(small.clone());
    assert_eq!(buf.pieces(), 1);
    assert_ne!(iovecs(&buf, 4)[0].0, small.as_ptr());

    let large = payload(2, LARGE);
    buf.push(large.clone());
    let slices = iovecs(&buf, 4);
    assert_eq!(slices.len(), 2);
    assert_eq!(slices[1].0, large.as_ptr());
}

#[test]
fn a_large_chunk_is_queued_between_its_copied_framing() {
    let data = payload(3, 8192);
    let mut encoder = Encoder::chunked();
    let mut buf = WriteBuf::new();
    buf.put_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    buf.push_encoded(&encoder.encode(data.clone()).unwrap());
    buf.push_encoded(&encoder.finish(None).unwrap());

    let slices = iovecs(&buf, 8);
    // head + chunk-size line | data | CRLF + last chunk
    assert_eq!(slices.len(), 3);
    assert!(slices[0].1.ends_with(b"\r\n\r\n2000\r\n"));
    assert_eq!(slices[1].0, data.as_ptr(), "the chunk data was copied");
    assert_eq!(slices[2].1, b"\r\n0\r\n\r\n");

    let mut expected = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n".to_vec();
    expected.extend_from_slice(&data);
    expected.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_eq!(drain(&mut buf), expected);
}

#[test]
fn a_small_chunk_is_copied_whole() {
    let mut encoder = Encoder::chunked();
    let mut buf = WriteBuf::new();
    buf.push_buf(encoder.encode(Bytes::from_static(b"hello")).unwrap());
    buf.push_buf(encoder.finish(None).unwrap());
    assert_eq!(buf.pieces(), 1);
    assert_eq!(drain(&mut buf), b"5\r\nhello\r\n0\r\n\r\n");
}

#[test]
fn a_pipelined_burst_of_small_responses_is_one_piece() {
    let mut buf = WriteBuf::new();
    let mut expected = Vec::new();
    for i in 0..16u8 {
        let body = payload(i, 20 + usize::from(i));
        let mut encoder = Encoder::length(body.len() as u64);
        head(&mut buf, 200, body.len());
        buf.push_buf(encoder.encode(body.clone()).unwrap());
        expected.extend_from_slice(
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
        );
        expected.extend_from_slice(&body);
    }
    assert_eq!(buf.pieces(), 1);
    let slices = iovecs(&buf, 8);
    assert_eq!(slices.len(), 1);
    assert_eq!(slices[0].1, expected);
    assert_eq!(buf.chunk(), expected);
}

/// head | large | small copied | large | head: every boundary kind.
fn mixed() -> (WriteBuf, Vec<u8>) {
    let mut buf = WriteBuf::new();
    let mut expected = Vec::new();
    let parts = [
        Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n"),
        payload(1, LARGE + 7),
        payload(2, 5),
        payload(3, 2 * LARGE),
        Bytes::from_static(b"HTTP/1.1 204 No Content\r\n\r\n"),
    ];
    for part in parts {
        expected.extend_from_slice(&part);
        buf.push(part);
    }
    // head | large | small | large | head
    assert_eq!(buf.pieces(), 5);
    (buf, expected)
}

#[test]
fn a_partial_write_at_every_offset_leaves_exactly_the_rest() {
    let (_, expected) = mixed();
    for offset in 0..=expected.len() {
        let (mut buf, _) = mixed();
        buf.advance(offset);
        assert_eq!(buf.len(), expected.len() - offset);
        let rest: Vec<u8> = iovecs(&buf, 8).into_iter().flat_map(|(_, b)| b).collect();
        assert_eq!(rest, expected[offset..], "vectored, after {offset}");
        assert_eq!(
            drain(&mut buf),
            expected[offset..],
            "chunked, after {offset}"
        );
    }
}

#[test]
fn one_byte_at_a_time() {
    let (mut buf, expected) = mixed();
    let mut out = Vec::new();
    while buf.has_remaining() {
        out.push(buf.chunk()[0]);
        buf.advance(1);
    }
    assert_eq!(out, expected);
}

#[test]
fn advancing_past_the_end_empties_without_panicking() {
    let (mut buf, expected) = mixed();
    buf.advance(expected.len() + 1);
    assert!(buf.is_empty());
    assert_eq!(buf.chunk(), b"");
    assert_eq!(iovecs(&buf, 4).len(), 0);
    buf.advance(usize::MAX);
    assert!(buf.is_empty());
}

#[test]
fn clear_drops_everything_unsent() {
    let (mut buf, _) = mixed();
    buf.clear();
    assert!(buf.is_empty());
    assert_eq!(buf.pieces(), 0);
    buf.put_slice(b"next");
    assert_eq!(drain(&mut buf), b"next");
}

/// Writes the same burst again and again, drained by partial writes as a
/// socket would take it; after warm-up the tail must neither move nor grow.
fn assert_tail_reused(mut burst: impl FnMut(&mut WriteBuf)) {
    let mut buf = WriteBuf::new();
    let drain_partially = |buf: &mut WriteBuf| {
        while buf.has_remaining() {
            let n = buf.chunk().len().min(777);
            buf.advance(n);
        }
    };
    for _ in 0..3 {
        burst(&mut buf);
        drain_partially(&mut buf);
    }
    let capacity = buf.head_buf().capacity();
    let start = buf.head_buf().as_ptr();
    assert!(capacity > 0);
    for cycle in 0..50 {
        burst(&mut buf);
        assert_eq!(buf.head_buf().capacity(), capacity, "cycle {cycle}");
        assert_eq!(buf.head_buf().as_ptr(), start, "cycle {cycle}");
        drain_partially(&mut buf);
        assert_eq!(buf.head_buf().capacity(), capacity, "cycle {cycle}");
        assert_eq!(buf.head_buf().as_ptr(), start, "cycle {cycle}");
    }
}

#[test]
fn the_tail_allocation_is_reused_after_small_responses() {
    assert_tail_reused(|buf| {
        for i in 0..16u8 {
            head(buf, 200, 100);
            buf.push(payload(i, 100));
        }
    });
}

#[test]
fn the_tail_allocation_is_reused_around_large_payloads() {
    let large = payload(9, 10 * LARGE);
    assert_tail_reused(|buf| {
        for i in 0..4u8 {
            head(buf, 200, 100);
            buf.push(payload(i, 100));
            head(buf, 200, large.len());
            buf.push(large.clone());
        }
        buf.put_slice(b"trailing bytes after the last payload");
    });
}

#[test]
fn debug_does_not_dump_the_bytes() {
    let mut buf = WriteBuf::new();
    buf.put_slice(b"password=hunter2");
    let debug = format!("{buf:?}");
    assert!(debug.starts_with("WriteBuf"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[derive(Clone, Debug)]
enum Op {
    PutSlice(usize),
    Push(usize),
    PushChunk(usize),
    /// A partial write: up to this many bytes, through `chunk` or through
    /// `chunks_vectored` with this many slots.
    Write {
        max: usize,
        slots: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..64usize).prop_map(Op::PutSlice),
        (0..LARGE).prop_map(Op::Push),
        (LARGE..4 * LARGE).prop_map(Op::Push),
        (0..3 * LARGE).prop_map(Op::PushChunk),
        (1..6000usize, proptest::option::of(1..6usize))
            .prop_map(|(max, slots)| Op::Write { max, slots }),
    ]
}

/// Takes up to `max` bytes off `buf` as one write would, appending them to
/// `out`.
fn write(buf: &mut WriteBuf, out: &mut Vec<u8>, max: usize, slots: Option<usize>) {
    let before = out.len();
    match slots {
        None => {
            let chunk = buf.chunk();
            out.extend_from_slice(&chunk[..chunk.len().min(max)]);
        }
        Some(slots) => {
            for (_, bytes) in iovecs(buf, slots) {
                let n = bytes.len().min(max - (out.len() - before));
                out.extend_from_slice(&bytes[..n]);
            }
        }
    }
    buf.advance(out.len() - before);
}

proptest! {
    #[test]
    fn any_mix_of_writes_and_partial_sends_keeps_the_bytes(
        ops in proptest::collection::vec(op(), 0..40),
    ) {
        let mut buf = WriteBuf::new();
        let mut written = Vec::new();
        let mut sent = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            let seed = i as u8;
            match op {
                Op::PutSlice(len) => {
                    let bytes = payload(seed, len);
                    written.extend_from_slice(&bytes);
                    buf.put_slice(&bytes);
                }
                Op::Push(len) => {
                    let bytes = payload(seed, len);
                    written.extend_from_slice(&bytes);
                    buf.push(bytes.clone());
                    if len >= LARGE {
                        let slices = iovecs(&buf, 256);
                        prop_assert_eq!(slices.last().unwrap().0, bytes.as_ptr());
                    }
                }
                Op::PushChunk(len) => {
                    let bytes = payload(seed, len);
                    let mut encoder = Encoder::chunked();
                    let encoded = encoder.encode(bytes.clone()).unwrap();
                    let wire = encoded.clone().copy_to_bytes(encoded.remaining());
                    written.extend_from_slice(&wire);
                    // Both ways in: the same bytes, the data never copied.
                    if i % 2 == 0 {
                        buf.push_buf(encoded);
                    } else {
                        buf.push_encoded(&encoded);
                    }
                    if len >= LARGE {
                        let slices = iovecs(&buf, 256);
                        let data = &slices[slices.len() - 2];
                        prop_assert_eq!(data.0, bytes.as_ptr());
                    }
                }
                Op::Write { max, slots } => write(&mut buf, &mut sent, max, slots),
            }
            prop_assert_eq!(buf.len(), written.len() - sent.len());
            prop_assert_eq!(iovecs(&buf, 256).len(), buf.pieces());
        }
        while buf.has_remaining() {
            write(&mut buf, &mut sent, 1000, Some(3));
        }
        prop_assert_eq!(sent, written);
        prop_assert_eq!(buf.pieces(), 0);
    }
}
