//! Trailer sections (RFC 9112 §7.1.2): field lines with the request rules,
//! then an empty line; no start line. Each case whole, byte by byte and split
//! at every offset.

mod support;

use gruvi_wire::{ErrorKind, Limits};
use support::trailers_every_way;

/// The trailer lines as text, and the bytes the section took.
type Parsed = (Vec<(String, String)>, usize);

fn parse(input: &[u8]) -> Result<Option<Parsed>, ErrorKind> {
    match trailers_every_way(input, &Limits::default()) {
        Ok(Some((fields, consumed))) => Ok(Some((
            fields
                .iter()
                .map(|f| {
                    let text = |b: &[u8]| b.iter().map(|&c| char::from(c)).collect::<String>();
                    (text(f.name(input)), text(&f.value(input)))
                })
                .collect(),
            consumed,
        ))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.kind()),
    }
}

#[test]
fn empty_section() {
    assert_eq!(parse(b"\r\n"), Ok(Some((vec![], 2))));
    assert_eq!(parse(b"\r\nHTTP/1.1 200 OK\r\n"), Ok(Some((vec![], 2))));
}

#[test]
fn fields_in_order_with_case_and_duplicates() {
    let (fields, consumed) = parse(b"Expires: never\r\nX-Sum: 1\r\nx-sum: 2\r\n\r\nnext")
        .unwrap()
        .unwrap();
    assert_eq!(consumed, 38);
    assert_eq!(
        fields,
        [("Expires", "never"), ("X-Sum", "1"), ("x-sum", "2")]
            .map(|(n, v)| (n.to_string(), v.to_string()))
    );
}

#[test]
fn field_rules_apply() {
    assert_eq!(parse(b"NoColon\r\n\r\n"), Err(ErrorKind::MissingColon));
    assert_eq!(parse(b"X: a\r\n b\r\n\r\n"), Err(ErrorKind::ObsFold));
    assert_eq!(parse(b" X: a\r\n\r\n"), Err(ErrorKind::ObsFold));
    assert_eq!(
        parse(b"X : a\r\n\r\n"),
        Err(ErrorKind::WhitespaceBeforeColon)
    );
    assert_eq!(parse(b"X: a\0\r\n\r\n"), Err(ErrorKind::InvalidFieldValue));
    assert_eq!(parse(b"X: a\n\r\n"), Err(ErrorKind::BareLf));
    assert_eq!(parse(b"X: a\r\n\n"), Err(ErrorKind::BareLf));
    assert_eq!(parse(b"X: a\rb\r\n\r\n"), Err(ErrorKind::BareCr));
    assert_eq!(parse(b"X: a\r\n"), Ok(None));
}

#[test]
fn limits_bound_the_section() {
    let limits = Limits {
        max_head_bytes: 16,
        max_fields: 1,
        ..Limits::default()
    };
    let e = trailers_every_way(b"X: aaaaaaaaaaaaaaaaaa\r\n\r\n", &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HeadTooLarge);
    let e = trailers_every_way(b"A: 1\r\nB: 2\r\n\r\n", &limits).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooManyFields);
}
