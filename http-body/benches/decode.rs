//! Decoding a 1 MiB body, beside a plain copy of the same bytes (the
//! baseline) in one group: as one Content-Length body, as 4 KiB chunks and as
//! 16-byte chunks. Run with `cargo bench -p gruvi-body`.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use gruvi_body::{ChunkedLimits, Decoder, Frame};

const BODY: usize = 1024 * 1024;

fn chunked_input(payload: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload.len() / chunk * 12 + 8);
    for piece in payload.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Decodes everything in `buf`, returning the body bytes seen.
fn drain(mut decoder: Decoder, mut buf: BytesMut) -> usize {
    let mut total = 0;
    while let Some(frame) = decoder.decode(&mut buf).unwrap() {
        match frame {
            Frame::Data(data) => total += black_box(data).len(),
            Frame::End(_) => break,
        }
    }
    total
}

fn decode(c: &mut Criterion) {
    let payload: Vec<u8> = (0..BODY).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("decode_1mib");
    group.throughput(Throughput::Bytes(BODY as u64));

    group.bench_function("plain_copy", |b| {
        b.iter_batched_ref(
            || vec![0u8; BODY],
            |target| {
                target.copy_from_slice(black_box(&payload));
                black_box(target.len())
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("length", |b| {
        b.iter_batched(
            || BytesMut::from(&payload[..]),
            |buf| drain(Decoder::length(BODY as u64), buf),
            BatchSize::LargeInput,
        )
    });
    for (name, chunk) in [("chunked_4kib", 4096), ("chunked_16b", 16)] {
        let input = chunked_input(&payload, chunk);
        group.bench_function(name, |b| {
            b.iter_batched(
                || BytesMut::from(&input[..]),
                |buf| {
                    let total = drain(Decoder::chunked(ChunkedLimits::default()), buf);
                    assert_eq!(total, BODY);
                    total
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
