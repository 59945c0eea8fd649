//! The encoders: exact framing bytes, every misuse refused with an error that
//! changes nothing, payload never copied, and whatever they write read back
//! by the decoders (input fed whole and one byte at a time).

mod support;

use std::io::IoSlice;

use bytes::{Buf, Bytes};
use gruvi_body::{BodyErrorKind, ChunkedLimits, Decoder, EncodedBuf, Encoder};
use gruvi_wire::EncodeError;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use support::{Decoded, feed, text};

/// Sends `buf` the way a socket would take it: vectored writes of at most
/// `max_write` bytes each, advancing by what was "written".
fn send(mut buf: EncodedBuf, max_write: usize, wire: &mut Vec<u8>) {
    let max_write = max_write.max(1);
    while buf.has_remaining() {
        let mut slots = [IoSlice::new(&[]); 4];
        let filled = buf.chunks_vectored(&mut slots);
        assert!(filled > 0, "bytes remain, so some slice is filled");
        let mut written = 0;
        for slot in &slots[..filled] {
            assert!(!slot.is_empty(), "no empty slices");
            let take = slot.len().min(max_write - written);
            wire.extend_from_slice(&slot[..take]);
            written += take;
            if written == max_write {
                break;
            }
        }
        buf.advance(written);
    }
}

fn bytes(buf: EncodedBuf) -> Vec<u8> {
    let mut wire = Vec::new();
    send(buf, usize::MAX, &mut wire);
    wire
}

fn err(result: Result<EncodedBuf, gruvi_body::BodyError>) -> gruvi_body::BodyError {
    result.expect_err("an error")
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn length_body_of_exactly_its_length() {
    let mut encoder = Encoder::length(5);
    assert_eq!(encoder.declared_length(), Some(5));
    assert!(!encoder.is_chunked() && !encoder.is_until_close());
    assert_eq!(bytes(encoder.encode(b("he")).unwrap()), b"he");
    assert_eq!(bytes(encoder.encode(b("llo")).unwrap()), b"llo");
    assert_eq!(encoder.written(), 5);
    assert!(!encoder.is_finished());
    assert!(encoder.finish(None).unwrap().is_empty());
    assert!(encoder.is_finished());

    let mut empty = Encoder::length(0);
    assert!(empty.finish(None).unwrap().is_empty());
}

#[test]
fn length_body_written_past_its_length_names_both_numbers_and_emits_nothing() {
    let mut encoder = Encoder::length(5);
    encoder.encode(b("hel")).unwrap();
    let error = err(encoder.encode(b("lo!")));
    assert_eq!(
        error.kind(),
        &BodyErrorKind::LengthExceeded {
            declared: 5,
            attempted: 6
        }
    );
    let message = error.to_string();
    assert!(message.contains('5') && message.contains('6'), "{message}");
    assert!(error.is_misuse() && !error.is_protocol());
    // The refused write changed nothing: the body can still be completed.
    assert_eq!(encoder.written(), 3);
    assert_eq!(bytes(encoder.encode(b("lo")).unwrap()), b"lo");
    assert!(encoder.finish(None).unwrap().is_empty());
}

#[test]
fn length_body_ended_short_names_both_numbers() {
    let mut encoder = Encoder::length(10);
    encoder.encode(b("hello")).unwrap();
    let error = err(encoder.finish(None));
    assert_eq!(
        error.kind(),
        &BodyErrorKind::LengthShort {
            declared: 10,
            written: 5
        }
    );
    let message = error.to_string();
    assert!(message.contains("10") && message.contains('5'), "{message}");
    assert!(error.is_misuse());
    assert!(!encoder.is_finished());
    encoder.encode(b("world")).unwrap();
    assert!(encoder.finish(None).unwrap().is_empty());
}

#[test]
fn chunks_are_size_line_data_crlf() {
    let mut encoder = Encoder::chunked();
    assert!(encoder.is_chunked() && encoder.declared_length().is_none());
    assert_eq!(
        bytes(encoder.encode(b("hello")).unwrap()),
        b"5\r\nhello\r\n"
    );

    let big = Bytes::from(vec![b'x'; 4096]);
    let wire = bytes(encoder.encode(big.clone()).unwrap());
    assert_eq!(&wire[..6], b"1000\r\n");
    assert_eq!(&wire[6..4102], &big[..]);
    assert_eq!(&wire[4102..], b"\r\n");
    assert_eq!(wire.len(), 4104);

    let odd = Bytes::from(vec![b'y'; 26]);
    assert_eq!(&bytes(encoder.encode(odd).unwrap())[..4], b"1a\r\n");
    assert_eq!(encoder.written(), 5 + 4096 + 26);
    assert_eq!(bytes(encoder.finish(None).unwrap()), b"0\r\n\r\n");
}

#[test]
fn an_empty_write_emits_nothing() {
    for mut encoder in [
        Encoder::chunked(),
        Encoder::length(3),
        Encoder::until_close(),
    ] {
        let buf = encoder.encode(Bytes::new()).unwrap();
        assert!(buf.is_empty() && !buf.has_remaining(), "{encoder:?}");
        assert_eq!(buf.len(), 0);
        assert_eq!(buf.chunk(), b"");
        assert_eq!(buf.chunks_vectored(&mut [IoSlice::new(&[]); 3]), 0);
        assert!(!encoder.is_finished());
    }
    // ...and an empty chunked body is just the last chunk.
    let mut encoder = Encoder::chunked();
    encoder.encode(Bytes::new()).unwrap();
    assert_eq!(bytes(encoder.finish(None).unwrap()), b"0\r\n\r\n");
}

#[test]
fn until_close_body_passes_data_through() {
    let mut encoder = Encoder::until_close();
    assert!(encoder.is_until_close() && !encoder.is_chunked());
    assert_eq!(encoder.declared_length(), None);
    assert_eq!(
        bytes(encoder.encode(b("any amount")).unwrap()),
        b"any amount"
    );
    assert!(encoder.finish(Some(&HeaderMap::new())).unwrap().is_empty());
}

#[test]
fn trailers_from_pairs_follow_the_last_chunk_in_order() {
    let mut encoder = Encoder::chunked();
    encoder.encode(b("data")).unwrap();
    let wire = bytes(
        encoder
            .finish_with_fields(&[
                ("X-Checksum", "abc"),
                ("X-Latin", "caf\u{e9}"),
                ("X-Checksum", "def"),
            ])
            .unwrap(),
    );
    assert_eq!(
        wire,
        b"0\r\nX-Checksum: abc\r\nX-Latin: caf\xe9\r\nX-Checksum: def\r\n\r\n"
    );
    assert!(encoder.is_finished());

    let mut encoder = Encoder::chunked();
    let fields: [(&[u8], &[u8]); 1] = [(b"X-Raw", b"\xff bytes")];
    assert_eq!(
        bytes(encoder.finish_with_fields(&fields).unwrap()),
        b"0\r\nX-Raw: \xff bytes\r\n\r\n"
    );
}

#[test]
fn trailers_from_a_header_map() {
    let mut map = HeaderMap::new();
    map.append("x-a", HeaderValue::from_static("1"));
    map.append("x-a", HeaderValue::from_static("2"));
    let mut encoder = Encoder::chunked();
    assert_eq!(
        bytes(encoder.finish(Some(&map)).unwrap()),
        b"0\r\nx-a: 1\r\nx-a: 2\r\n\r\n"
    );

    let mut encoder = Encoder::chunked();
    assert_eq!(
        bytes(encoder.finish(Some(&HeaderMap::new())).unwrap()),
        b"0\r\n\r\n"
    );
}

#[test]
fn forbidden_trailers_are_refused_by_name() {
    for name in [
        "Content-Length",
        "transfer-encoding",
        "HOST",
        "Trailer",
        "Connection",
        "Set-Cookie",
        "Content-Type",
        // Hop-by-hop, in RFC 2616's spelling.
        "Trailers",
    ] {
        let mut encoder = Encoder::chunked();
        let error = err(encoder.finish_with_fields(&[("X-Fine", "1"), (name, "5")]));
        assert_eq!(
            error.kind(),
            &BodyErrorKind::ForbiddenTrailer(name.to_owned()),
            "{name}"
        );
        assert!(error.to_string().contains(name), "{error}");
        assert!(error.is_misuse());
        assert!(!encoder.is_finished());
    }
    let mut map = HeaderMap::new();
    map.insert(http::header::HOST, HeaderValue::from_static("example.com"));
    let error = err(Encoder::chunked().finish(Some(&map)));
    assert_eq!(
        error.kind(),
        &BodyErrorKind::ForbiddenTrailer("host".into())
    );
}

#[test]
fn invalid_trailers_are_refused_like_header_fields() {
    let invalid = |name: &str, value: &str| {
        let mut encoder = Encoder::chunked();
        let error = err(encoder.finish_with_fields(&[(name, value)]));
        assert!(!encoder.is_finished());
        // The refusal changed nothing: the body can still end cleanly.
        assert_eq!(bytes(encoder.finish(None).unwrap()), b"0\r\n\r\n");
        match error.kind() {
            BodyErrorKind::InvalidTrailer(e) => e.clone(),
            other => panic!("{name:?}: {value:?}: {other:?}"),
        }
    };
    for value in [
        "a\rb",
        "a\r\nInjected: 1",
        "a\nb",
        "nul\0",
        " padded",
        "tab\t",
    ] {
        assert_eq!(
            invalid("X-V", value),
            EncodeError::InvalidFieldValue { name: "X-V".into() },
            "{value:?}"
        );
    }
    for name in ["", "X Y", "X:", "Caf\u{e9}"] {
        assert!(
            matches!(invalid(name, "v"), EncodeError::InvalidFieldName(_)),
            "{name:?}"
        );
    }
    assert_eq!(
        invalid("X-Snow", "snow \u{2603}"),
        EncodeError::NotIso88591 {
            name: "X-Snow".into(),
            character: '\u{2603}'
        }
    );
    assert!(matches!(
        invalid("X-\u{2603}", "v"),
        EncodeError::NotIso88591 {
            character: '\u{2603}',
            ..
        }
    ));

    let mut map = HeaderMap::new();
    map.insert(
        HeaderName::from_static("x-pad"),
        HeaderValue::from_static("trailing "),
    );
    let error = err(Encoder::chunked().finish(Some(&map)));
    assert!(
        matches!(
            error.kind(),
            BodyErrorKind::InvalidTrailer(EncodeError::InvalidFieldValue { .. })
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("invalid trailer"), "{error}");
}

#[test]
fn trailers_without_chunked_are_an_error_never_dropped() {
    let mut map = HeaderMap::new();
    map.insert("x-checksum", HeaderValue::from_static("abc"));
    let makers: [fn() -> Encoder; 2] = [|| Encoder::length(0), Encoder::until_close];
    for make in makers {
        let mut encoder = make();
        let error = err(encoder.finish(Some(&map)));
        assert_eq!(error.kind(), &BodyErrorKind::TrailersNotAllowed);
        assert!(error.is_misuse());
        assert!(error.to_string().contains("chunked"), "{error}");
        let error = err(encoder.finish_with_fields(&[("X-Checksum", "abc")]));
        assert_eq!(error.kind(), &BodyErrorKind::TrailersNotAllowed);
        assert!(!encoder.is_finished());
        // No trailers at all is fine.
        let none: &[(&str, &str)] = &[];
        assert!(encoder.finish_with_fields(none).unwrap().is_empty());
        assert!(encoder.is_finished());
    }
}

#[test]
fn nothing_goes_after_finish() {
    let makers: [fn() -> Encoder; 3] = [
        || Encoder::length(0),
        Encoder::chunked,
        Encoder::until_close,
    ];
    for make in makers {
        let mut encoder = make();
        encoder.finish(None).unwrap();
        for data in [b("more"), Bytes::new()] {
            let error = err(encoder.encode(data));
            assert_eq!(error.kind(), &BodyErrorKind::AlreadyFinished);
            assert!(error.is_misuse());
        }
        assert_eq!(
            err(encoder.finish(None)).kind(),
            &BodyErrorKind::AlreadyFinished
        );
        assert_eq!(
            err(encoder.finish_with_fields(&[("X-A", "1")])).kind(),
            &BodyErrorKind::AlreadyFinished
        );
    }
}

#[test]
fn vectored_writes_send_the_callers_bytes_without_copying() {
    let data = Bytes::from(vec![b'z'; 300]);
    let mut buf = Encoder::chunked().encode(data.clone()).unwrap();
    let mut slots = [IoSlice::new(&[]); 4];
    assert_eq!(buf.chunks_vectored(&mut slots), 3);
    assert_eq!(&*slots[0], b"12c\r\n");
    assert_eq!(
        slots[1].as_ptr(),
        data.as_ptr(),
        "the caller's Bytes itself"
    );
    assert_eq!(slots[1].len(), 300);
    assert_eq!(&*slots[2], b"\r\n");
    // Fewer slots than pieces: filled in order.
    let mut one = [IoSlice::new(&[])];
    assert_eq!(buf.chunks_vectored(&mut one), 1);
    assert_eq!(&*one[0], b"12c\r\n");
    // Part of the data sent: the rest is still the caller's memory.
    buf.advance(5 + 100);
    let mut slots = [IoSlice::new(&[]); 4];
    assert_eq!(buf.chunks_vectored(&mut slots), 2);
    assert_eq!(slots[0].as_ptr(), data[100..].as_ptr());
    assert_eq!(buf.chunk().as_ptr(), data[100..].as_ptr());
    assert_eq!(buf.remaining(), 202);

    let mut buf = Encoder::length(300).encode(data.clone()).unwrap();
    let mut slots = [IoSlice::new(&[]); 4];
    assert_eq!(buf.chunks_vectored(&mut slots), 1);
    assert_eq!(slots[0].as_ptr(), data.as_ptr());
    // A consumer that takes Bytes gets a slice of the caller's buffer.
    let taken = buf.copy_to_bytes(300);
    assert_eq!(taken.as_ptr(), data.as_ptr());
    assert!(buf.is_empty());
}

// ---------------------------------------------------------------------------
// Round trips through the decoders.

/// Header-name characters (tchar), behind an `x-` that keeps clear of the
/// forbidden names.
fn trailer_name() -> impl Strategy<Value = String> {
    "x-[A-Za-z0-9!#$%&'*+.^_`|~-]{0,12}"
}

/// A field value: visible ASCII, obs-text, and SP / HTAB inside only.
fn trailer_value() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        8 => 0x21u8..=0x7e,
        1 => 0x80u8..=0xff,
        1 => Just(b' '),
        1 => Just(b'\t'),
    ];
    proptest::collection::vec(byte, 0..24).prop_map(|mut value| {
        while matches!(value.last(), Some(b' ' | b'\t')) {
            value.pop();
        }
        while matches!(value.first(), Some(b' ' | b'\t')) {
            value.remove(0);
        }
        value
    })
}

fn trailers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec((trailer_name(), trailer_value()), 0..6)
}

/// A body and the sizes of the writes that carry it (empty writes included).
fn body_in_writes() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    // Tiny bodies (the empty one included) often, as well as larger ones.
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..4),
        4 => proptest::collection::vec(any::<u8>(), 0..2048),
    ]
    .prop_flat_map(|body| {
        let len = body.len();
        (
            Just(body),
            proptest::collection::vec(0..=len, 0..12).prop_map(|mut cuts| {
                cuts.sort_unstable();
                cuts
            }),
        )
    })
}

/// Encodes `body` cut at `cuts`, sending each step in writes of at most
/// `max_write` bytes; returns the wire bytes without the end.
fn encode_writes(encoder: &mut Encoder, body: &[u8], cuts: &[usize], max_write: usize) -> Vec<u8> {
    let body = Bytes::copy_from_slice(body);
    let mut wire = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([&body.len()]) {
        let data = body.slice(start..cut);
        let buf = encoder.encode(data.clone()).unwrap();
        if !data.is_empty() {
            let mut slots = [IoSlice::new(&[]); 3];
            let filled = buf.chunks_vectored(&mut slots);
            assert!(
                slots[..filled].iter().any(|s| s.as_ptr() == data.as_ptr()),
                "the data goes out uncopied"
            );
        }
        send(buf, max_write, &mut wire);
        start = cut;
    }
    wire
}

/// Decodes `wire` whole and one byte at a time, with the next pipelined
/// message behind it (unless the body runs to the end of input); both ways
/// must agree.
fn decode_both_ways(make: impl Fn() -> Decoder, wire: &[u8], eof: bool) -> Decoded {
    let next: &[u8] = if eof { b"" } else { b"GET / HTTP/1.1\r\n" };
    let input = [wire, next].concat();
    let whole = feed(make(), &[&input], eof)
        .unwrap()
        .expect("the body is complete");
    let mut bytes: Vec<&[u8]> = input.chunks(1).collect();
    if bytes.is_empty() {
        // The end of input still has to be fed.
        bytes.push(b"");
    }
    let by_byte = feed(make(), &bytes, eof)
        .unwrap()
        .expect("the body is complete");
    assert_eq!(whole, by_byte, "whole vs byte by byte");
    assert_eq!(whole.left, next, "the next message is left in the buffer");
    whole
}

fn chunked_decoder() -> Decoder {
    Decoder::chunked(ChunkedLimits::default())
}

proptest! {
    #[test]
    fn chunked_round_trip(
        (body, cuts) in body_in_writes(),
        fields in trailers(),
        max_write in 1usize..64,
    ) {
        let mut encoder = Encoder::chunked();
        let mut wire = encode_writes(&mut encoder, &body, &cuts, max_write);
        send(encoder.finish_with_fields(&fields).unwrap(), max_write, &mut wire);
        prop_assert!(encoder.is_finished());
        prop_assert_eq!(encoder.written(), body.len() as u64);

        let decoded = decode_both_ways(chunked_decoder, &wire, false);
        prop_assert_eq!(&decoded.data, &body);
        let expected: Vec<(String, String)> =
            fields.iter().map(|(n, v)| (n.clone(), text(v))).collect();
        prop_assert_eq!(decoded.trailers, expected);
        prop_assert!(decoded.discarded.is_empty());
    }

    #[test]
    fn chunked_round_trip_with_a_header_map(
        (body, cuts) in body_in_writes(),
        fields in trailers(),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in &fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        let mut encoder = Encoder::chunked();
        let mut wire = encode_writes(&mut encoder, &body, &cuts, usize::MAX);
        send(encoder.finish(Some(&map)).unwrap(), usize::MAX, &mut wire);

        let decoded = decode_both_ways(chunked_decoder, &wire, false);
        prop_assert_eq!(&decoded.data, &body);
        // HeaderMap groups a name's values and lowercases names.
        let expected: Vec<(String, String)> = map
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), text(v.as_bytes())))
            .collect();
        prop_assert_eq!(decoded.trailers, expected);
    }

    #[test]
    fn length_round_trip((body, cuts) in body_in_writes(), max_write in 1usize..64) {
        let length = body.len() as u64;
        let mut encoder = Encoder::length(length);
        let wire = encode_writes(&mut encoder, &body, &cuts, max_write);
        prop_assert!(encoder.finish(None).unwrap().is_empty());
        prop_assert_eq!(&wire, &body);

        let decoded = decode_both_ways(|| Decoder::length(length), &wire, false);
        prop_assert_eq!(&decoded.data, &body);
    }

    #[test]
    fn until_close_round_trip((body, cuts) in body_in_writes()) {
        let mut encoder = Encoder::until_close();
        let wire = encode_writes(&mut encoder, &body, &cuts, usize::MAX);
        prop_assert!(encoder.finish(None).unwrap().is_empty());

        let decoded = decode_both_ways(Decoder::until_close, &wire, true);
        prop_assert_eq!(&decoded.data, &body);
    }
}
