//! Feeding helpers shared by the decoder tests and the fuzz target: every
//! input is decoded whole, one byte at a time and in two pieces split at
//! every offset, and all of them must agree.
#![allow(dead_code, unreachable_pub)]

use bytes::BytesMut;
use gruvi_body::{BodyErrorKind, ChunkedLimits, Decoder, Frame, Trailers};

pub fn text(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

fn summarize(trailers: &Trailers) -> (Vec<(String, String)>, Vec<String>) {
    (
        trailers
            .fields()
            .iter()
            .map(|(n, v)| (text(n), text(v)))
            .collect(),
        trailers.discarded().iter().map(|n| text(n)).collect(),
    )
}

/// What decoding came to: the body, its trailers, and what was left unread.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    pub data: Vec<u8>,
    pub trailers: Vec<(String, String)>,
    pub discarded: Vec<String>,
    pub left: Vec<u8>,
}

pub type Outcome = Result<Option<Decoded>, BodyErrorKind>;

/// Feeds `pieces` one after the other; at the end, `eof` says whether the
/// input closed (then `decode_eof` runs). `None` means the body is not done.
pub fn feed(mut decoder: Decoder, pieces: &[&[u8]], eof: bool) -> Outcome {
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut end = None;
    for (k, piece) in pieces.iter().enumerate() {
        buf.extend_from_slice(piece);
        let last = k + 1 == pieces.len();
        loop {
            let frame = if last && eof {
                decoder.decode_eof(&mut buf)
            } else {
                decoder.decode(&mut buf)
            };
            match frame.map_err(|e| e.kind().clone())? {
                Some(Frame::Data(chunk)) => {
                    assert!(!chunk.is_empty(), "empty data frames are never handed out");
                    data.extend_from_slice(&chunk);
                }
                Some(Frame::End(trailers)) => {
                    assert!(end.is_none(), "End is handed out once");
                    end = Some(trailers);
                }
                None => break,
            }
        }
        if end.is_some() {
            // Whatever is fed after the end stays in the buffer.
            for rest in &pieces[k + 1..] {
                buf.extend_from_slice(rest);
            }
            break;
        }
    }
    assert_eq!(end.is_some(), decoder.is_done());
    Ok(end.map(|trailers| {
        let (trailers, discarded) = summarize(&trailers);
        Decoded {
            data,
            trailers,
            discarded,
            left: buf.to_vec(),
        }
    }))
}

/// Every way of feeding `input` to a fresh decoder agrees; returns the answer.
pub fn every_way(make: impl Fn() -> Decoder, input: &[u8], eof: bool) -> Outcome {
    let whole = feed(make(), &[input], eof);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let bytes = if bytes.is_empty() {
        vec![&b""[..]]
    } else {
        bytes
    };
    assert_eq!(
        feed(make(), &bytes, eof),
        whole,
        "byte by byte vs whole: {:?}",
        text(input)
    );
    for split in 0..input.len() {
        let (a, b) = input.split_at(split);
        assert_eq!(
            feed(make(), &[a, b], eof),
            whole,
            "split at {split}: {:?}",
            text(input)
        );
    }
    whole
}

/// The body of the `chunked` fuzz target: the first byte picks small or
/// default limits; the rest is decoded every way, without and with an end of
/// input after it.
pub fn fuzz_chunked(data: &[u8]) {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let limits = if knobs & 1 == 0 {
        ChunkedLimits::default()
    } else {
        let mut small = ChunkedLimits {
            max_extension_bytes: usize::from(knobs >> 1),
            ..ChunkedLimits::default()
        };
        small.trailers.max_head_bytes = 32 + usize::from(knobs);
        small.trailers.max_fields = 2;
        small
    };
    // A small body limit too, now and then: reached by fuzzed sizes.
    let make = || match knobs & 0x80 {
        0 => Decoder::chunked(limits),
        _ => Decoder::chunked(limits).limit(u64::from(knobs & 0x3f)),
    };
    if let Ok(Some(decoded)) = every_way(make, input, false) {
        assert!(decoded.left.len() <= input.len());
    }
    let _ = every_way(make, input, true);
}
