//! The decoders, each input fed whole, one byte at a time and in two pieces
//! split at every offset: all must agree on the data, the trailers, the bytes
//! left in the buffer (the next pipelined message), or the error.

mod support;

use BodyErrorKind::{ChunkExtensionTooLong, TooLarge};
use bytes::{Bytes, BytesMut};
use gruvi_body::{BodyErrorKind, ChunkedLimits, Decoder, Frame};
use support::{Decoded, every_way, feed, text};

fn chunked() -> Decoder {
    Decoder::chunked(ChunkedLimits::default())
}

fn chunked_ok(input: &[u8]) -> Decoded {
    every_way(chunked, input, false)
        .unwrap()
        .unwrap_or_else(|| panic!("incomplete: {:?}", text(input)))
}

fn chunked_err(input: &[u8]) -> BodyErrorKind {
    every_way(chunked, input, false).unwrap_err()
}

#[test]
fn length_body_stops_at_its_end() {
    let d = every_way(|| Decoder::length(5), b"helloGET / HTTP/1.1\r\n", false)
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.data.as_slice(), d.left.as_slice()),
        (&b"hello"[..], &b"GET / HTTP/1.1\r\n"[..])
    );
    let d = every_way(|| Decoder::length(0), b"next", false)
        .unwrap()
        .unwrap();
    assert_eq!((d.data.len(), d.left.as_slice()), (0, &b"next"[..]));
}

#[test]
fn length_body_cut_short_is_incomplete() {
    assert_eq!(every_way(|| Decoder::length(10), b"hello", false), Ok(None));
    assert_eq!(
        every_way(|| Decoder::length(10), b"hello", true),
        Err(BodyErrorKind::Incomplete {
            expected: Some(10),
            received: 5
        })
    );
    let error = Decoder::length(10)
        .decode_eof(&mut BytesMut::from(&b"hey"[..]))
        .unwrap();
    assert_eq!(error, Some(Frame::Data(Bytes::from_static(b"hey"))));
}

#[test]
fn until_close_body_ends_at_end_of_input() {
    assert_eq!(
        every_way(Decoder::until_close, b"all of it", false),
        Ok(None)
    );
    let d = every_way(Decoder::until_close, b"all of it", true)
        .unwrap()
        .unwrap();
    assert_eq!((d.data.as_slice(), d.left.len()), (&b"all of it"[..], 0));
    let d = every_way(Decoder::until_close, b"", true).unwrap().unwrap();
    assert!(d.data.is_empty());
}

#[test]
fn chunked_bodies() {
    let d = chunked_ok(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT");
    assert_eq!(
        (d.data.as_slice(), d.left.as_slice()),
        (&b"hello world"[..], &b"NEXT"[..])
    );
    // Upper and lower case hex, leading zeros.
    let d = chunked_ok(
        b"A\r\n0123456789\r\na\r\n0123456789\r\n0000000000000000000001\r\nx\r\n000\r\n\r\n",
    );
    assert_eq!(d.data.len(), 21);
    // An empty body.
    assert_eq!(chunked_ok(b"0\r\n\r\n").data, b"");
}

#[test]
fn chunk_extensions_follow_the_grammar() {
    for ok in [
        &b"5;name\r\nhello\r\n0\r\n\r\n"[..],
        b"5;name=value\r\nhello\r\n0\r\n\r\n",
        b"5;a=1;b=2;c\r\nhello\r\n0\r\n\r\n",
        b"5 ;a=1\r\nhello\r\n0\r\n\r\n",
        b"5\t; a = 1 ; b\r\nhello\r\n0\r\n\r\n",
        b"5;a=\"quoted ; \\\" value\"\r\nhello\r\n0;last\r\n\r\n",
        b"5;a=\"x\";b\r\nhello\r\n0\r\n\r\n",
        b"5;a=\"x\" ;b = \"\"\r\nhello\r\n0\r\n\r\n",
    ] {
        assert_eq!(chunked_ok(ok).data, b"hello", "{:?}", text(ok));
    }
}

#[test]
fn chunked_trailers() {
    let d = chunked_ok(
        b"3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nx-more: 1\r\nX-More: 2\r\n\r\nNEXT",
    );
    assert_eq!(
        d.trailers,
        [
            ("X-Checksum", "900150983cd24fb0"),
            ("x-more", "1"),
            ("X-More", "2")
        ]
        .map(|(n, v)| (n.to_string(), v.to_string()))
    );
    assert_eq!(d.left, b"NEXT");
}

#[test]
fn fields_that_must_not_be_trailers_are_dropped_and_reported() {
    let d = chunked_ok(
        b"0\r\nContent-Length: 5\r\nX-Ok: 1\r\nHost: evil\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(d.trailers, [("X-Ok".to_string(), "1".to_string())]);
    assert_eq!(d.discarded, ["Content-Length", "Host", "Transfer-Encoding"]);
}

fn chunked_response() -> Decoder {
    Decoder::chunked_response(ChunkedLimits::default())
}

#[test]
fn response_trailers_follow_the_response_field_rules() {
    // RFC 9112 §5.2 ¶3: obs-fold is replaced with SP; RFC 9112 §2.2 ¶3: a
    // bare LF ends a line, as in response heads.
    let input = b"3\r\nabc\r\n0\r\nX-A: a\r\n b\r\n\t c\r\nX-B: 1\n\nNEXT";
    let d = every_way(chunked_response, input, false).unwrap().unwrap();
    assert_eq!(
        (d.data.as_slice(), d.left.as_slice()),
        (&b"abc"[..], &b"NEXT"[..])
    );
    assert_eq!(
        d.trailers,
        [("X-A", "a b c"), ("X-B", "1")].map(|(n, v)| (n.to_string(), v.to_string()))
    );
    // A folded field that must not be a trailer is still dropped.
    let d = every_way(
        chunked_response,
        b"0\r\nContent-Length: 5\r\n 6\r\nX-Ok: 1\r\n\r\n",
        false,
    )
    .unwrap()
    .unwrap();
    assert_eq!(d.trailers, [("X-Ok".to_string(), "1".to_string())]);
    assert_eq!(d.discarded, ["Content-Length"]);
    // The request decoder refuses the same section.
    assert_eq!(
        chunked_err(input),
        BodyErrorKind::InvalidTrailers(gruvi_wire_error(b"X-A: a\r\n b\r\n\t c\r\nX-B: 1\n\n"))
    );
    assert!(matches!(
        chunked_err(b"0\r\nX-B: 1\n\n"),
        BodyErrorKind::InvalidTrailers(e) if e.kind() == gruvi_wire::ErrorKind::BareLf
    ));
}

#[test]
fn response_chunk_lines_stay_strict() {
    use BodyErrorKind::*;
    for (input, expected) in [
        (&b"5\nhello\r\n0\r\n\r\n"[..], MissingCrlf),
        (b"5\r\nhello\n0\r\n\r\n", MissingCrlf),
        (b"0\n\n", MissingCrlf),
        (b"5;a\nhello\r\n0\r\n\r\n", MissingCrlf),
    ] {
        assert_eq!(
            every_way(chunked_response, input, false),
            Err(expected),
            "{:?}",
            text(input)
        );
    }
    // Bare CR and fold before any field stay errors in the trailers too.
    for input in [&b"0\r\nX: a\rb\r\n\r\n"[..], b"0\r\n X: a\r\n\r\n"] {
        let error = every_way(chunked_response, input, false).unwrap_err();
        assert!(
            matches!(error, InvalidTrailers(_)),
            "{:?}: {error:?}",
            text(input)
        );
    }
}

/// The adversarial corpus of issue 3, each rejected with its error.
#[test]
fn adversarial_chunked_corpus() {
    use BodyErrorKind::*;
    let cases: &[(&[u8], BodyErrorKind)] = &[
        (b"0x5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"+5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"-5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b" 5\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"5 \r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"\r\nhello\r\n0\r\n\r\n", InvalidChunkSize),
        (b"g\r\n", InvalidChunkSize),
        (b"10000000000000000\r\n", ChunkSizeOverflow),
        (b"FFFFFFFFFFFFFFFFF\r\n", ChunkSizeOverflow),
        (b"5\r\nhelloXX0\r\n\r\n", MissingCrlf),
        (b"5\r\nhello\nX", MissingCrlf),
        (b"5\nhello\r\n0\r\n\r\n", MissingCrlf),
        (b"5\rhello\r\n", MissingCrlf),
        (b"2;\nXX\r\n0\r\n\r\n", MissingCrlf),
        (b"5;\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;=1\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=\"open\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a b\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=1 \r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a \r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=\"x\" \r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=\"\x7f\"\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (b"5;a=b=c\r\nhello\r\n0\r\n\r\n", InvalidChunkExtension),
        (
            b"0\r\nNoColon\r\n\r\n",
            InvalidTrailers(gruvi_wire_error(b"NoColon\r\n\r\n")),
        ),
        (
            b"0\r\nX: a\r\n folded\r\n\r\n",
            InvalidTrailers(gruvi_wire_error(b"X: a\r\n folded\r\n\r\n")),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(&chunked_err(input), expected, "{:?}", text(input));
    }
    let mut huge = b"5;x=".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 100 * 1024));
    huge.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    assert_eq!(
        feed(chunked(), &[&huge], false),
        Err(ChunkExtensionTooLong { limit: 16 * 1024 })
    );
}

fn gruvi_wire_error(section: &[u8]) -> gruvi_wire::WireError {
    let limits = ChunkedLimits::default().trailers;
    gruvi_wire::TrailerParser::new(limits)
        .parse(section)
        .unwrap_err()
}

#[test]
fn a_chunked_body_cut_short_is_incomplete() {
    for input in [
        &b"5\r\nhel"[..],
        b"5\r\nhello\r\n",
        b"5",
        b"0\r\n",
        b"0\r\nX: 1\r\n",
    ] {
        assert_eq!(
            every_way(chunked, input, false),
            Ok(None),
            "{:?}",
            text(input)
        );
        let error = every_way(chunked, input, true).unwrap_err();
        assert!(
            matches!(error, BodyErrorKind::Incomplete { expected: None, .. }),
            "{error:?}"
        );
    }
}

#[test]
fn data_frames_share_the_read_buffer() {
    let mut buf = BytesMut::from(&b"5\r\nhello\r\n0\r\n\r\n"[..]);
    let start = buf.as_ptr() as usize;
    let mut decoder = chunked();
    let Some(Frame::Data(data)) = decoder.decode(&mut buf).unwrap() else {
        panic!("data first")
    };
    assert_eq!(
        data.as_ptr() as usize,
        start + 3,
        "the data frame is a slice of the read buffer"
    );
}

#[test]
fn error_messages_are_clear() {
    let mut decoder = Decoder::length(10);
    let error = decoder.decode_eof(&mut BytesMut::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "incomplete body: the input ended after 0 of 10 bytes"
    );
    assert!(error.is_incomplete() && error.is_protocol() && !error.is_misuse());
    assert_eq!(error.status(), 400);
}

/// The chunk-extension cap is per chunk line: a long body of many chunks,
/// each with a short extension, is fine; one line over the cap is not.
#[test]
fn the_extension_limit_is_per_chunk_line() {
    let limits = ChunkedLimits {
        max_extension_bytes: 8,
        ..ChunkedLimits::default()
    };
    let small = || Decoder::chunked(limits);
    let mut many = Vec::new();
    for _ in 0..10_000 {
        many.extend_from_slice(b"1;e\r\nx\r\n");
    }
    many.extend_from_slice(b"0;e\r\n\r\n");
    let decoded = feed(small(), &[&many], false).unwrap().unwrap();
    assert_eq!(decoded.data.len(), 10_000);
    // Exactly at the cap on one line, then one byte over.
    assert!(every_way(small, b"1;abcdefg\r\nx\r\n0\r\n\r\n", false).is_ok());
    assert_eq!(
        every_way(small, b"1;abcdefgh\r\nx\r\n0\r\n\r\n", false),
        Err(ChunkExtensionTooLong { limit: 8 })
    );
}

/// A body limit: a chunk-size line that takes the body past it is refused
/// before the chunk's data is read (`ffffffffffffffff` included); a
/// declared length over it at once; exactly the limit is fine.
#[test]
fn a_body_over_its_limit_is_refused_as_soon_as_it_is_known() {
    let limited = || Decoder::chunked(ChunkedLimits::default()).limit(10);
    assert_eq!(
        every_way(limited, b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", false)
            .unwrap()
            .unwrap()
            .data,
        b"helloworld"
    );
    assert_eq!(
        every_way(limited, b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", false),
        Err(TooLarge { limit: 10 })
    );
    // Refused on the size line alone: no data follows here.
    assert_eq!(
        every_way(limited, b"ffffffffffffffff\r\n", false),
        Err(TooLarge { limit: 10 })
    );
    assert_eq!(
        every_way(|| Decoder::length(11).limit(10), b"", false),
        Err(TooLarge { limit: 10 })
    );
    assert!(every_way(|| Decoder::length(10).limit(10), b"0123456789", false).is_ok());
    assert_eq!(
        every_way(|| Decoder::until_close().limit(10), b"01234567890", true),
        Err(TooLarge { limit: 10 })
    );
}
