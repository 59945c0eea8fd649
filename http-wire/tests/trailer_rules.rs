//! Trailer sections (RFC 9112 §7.1.2): field lines with the rules of the
//! heads of the same direction, then an empty line; no start line. Each case
//! whole, byte by byte and split at every offset.

mod support;

use bytes::Bytes;
use gruvi_wire::{ErrorKind, Limits, Status, TrailerParser};
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

// ---------------------------------------------------------------------------
// Response rules (`TrailerParser::for_responses`)
// ---------------------------------------------------------------------------

/// What one parser made of one way of feeding the input.
type Fed = Result<Option<Parsed>, ErrorKind>;

/// The fields of a complete section as text, values as [`Field::value`]
/// reads them back (unfolded).
///
/// [`Field::value`]: gruvi_wire::Field::value
fn settle(input: &[u8], status: Result<Status<&gruvi_wire::Fields>, gruvi_wire::WireError>) -> Fed {
    let text = |b: &[u8]| b.iter().map(|&c| char::from(c)).collect::<String>();
    match status {
        Ok(Status::Complete(fields, consumed)) => Ok(Some((
            fields
                .iter()
                .map(|f| (text(f.name(input)), text(&f.value(input))))
                .collect(),
            consumed,
        ))),
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(e.kind()),
    }
}

/// Parses `input` with parsers from `new` whole, one byte at a time and in
/// two pieces split at every offset; panics if any way disagrees (or a
/// section completes before its last byte), and returns the common outcome.
fn every_way_with(new: impl Fn() -> TrailerParser, input: &[u8]) -> Fed {
    let whole = settle(input, new().parse(input));

    let mut parser = new();
    let mut byte_by_byte = Ok(None);
    for end in 0..=input.len() {
        let status = parser.parse(&input[..end]);
        if matches!(status, Ok(Status::Partial)) {
            continue;
        }
        byte_by_byte = settle(input, status);
        if let Ok(Some((_, consumed))) = &byte_by_byte {
            assert_eq!(*consumed, end, "a section must complete with its last byte");
        }
        break;
    }
    assert_eq!(byte_by_byte, whole, "byte by byte vs whole for {input:?}");

    for split in 0..input.len() {
        let mut parser = new();
        let first = parser.parse(&input[..split]);
        let outcome = if matches!(first, Ok(Status::Partial)) {
            settle(input, parser.parse(input))
        } else {
            settle(input, first)
        };
        assert_eq!(outcome, whole, "split at {split} vs whole for {input:?}");
    }
    whole
}

fn response(input: &[u8]) -> Fed {
    every_way_with(|| TrailerParser::for_responses(Limits::default()), input)
}

fn request(input: &[u8], limits: Limits) -> Fed {
    every_way_with(|| TrailerParser::new(limits), input)
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn response_rules_unfold_obs_fold() {
    // RFC 9112 §5.2 ¶3: each obs-fold is replaced with SP.
    let input = b"X-A: a\r\n b\r\n\r\nnext";
    assert_eq!(
        response(input),
        Ok(Some((fields(&[("X-A", "a b")]), input.len() - 4)))
    );
    // Several continuation lines, tabs, whitespace before the fold, and a
    // field after the folded one.
    let input = b"X-Long: one \r\n  two\r\n\tthree\r\nY: 1\r\n\r\n";
    assert_eq!(
        response(input),
        Ok(Some((
            fields(&[("X-Long", "one two three"), ("Y", "1")]),
            input.len()
        )))
    );
    // An empty value continued on the next line is not folded at all.
    let input = b"X:\r\n b\r\n\r\n";
    assert_eq!(
        response(input),
        Ok(Some((fields(&[("X", "b")]), input.len())))
    );
}

#[test]
fn response_rules_hand_out_unfolded_bytes() {
    let section = Bytes::from_static(b"X-A: a\r\n b\r\nX-B: c\r\n\r\n");
    let mut parser = TrailerParser::for_responses(Limits::default());
    let Ok(Status::Complete(parsed, _)) = parser.parse(&section) else {
        panic!("the section is all there");
    };
    let folded: Vec<bool> = parsed.iter().map(|f| f.is_folded()).collect();
    assert_eq!(folded, [true, false]);
    let values: Vec<Bytes> = parsed.iter().map(|f| f.value_bytes(&section)).collect();
    assert_eq!(values, [&b"a b"[..], b"c"]);
}

#[test]
fn response_rules_accept_bare_lf() {
    // RFC 9112 §2.2 ¶3, as in response heads: no setting needed.
    let input = b"X-A: 1\nX-B: 2\r\n\n";
    assert_eq!(
        response(input),
        Ok(Some((fields(&[("X-A", "1"), ("X-B", "2")]), input.len())))
    );
    let input = b"X-A: a\n\tb\n\n";
    assert_eq!(
        response(input),
        Ok(Some((fields(&[("X-A", "a b")]), input.len())))
    );
    assert_eq!(response(b"\n"), Ok(Some((vec![], 1))));
}

#[test]
fn response_rules_keep_the_other_field_rules() {
    assert_eq!(response(b" X: a\r\n\r\n"), Err(ErrorKind::ObsFold));
    assert_eq!(response(b"X: a\rb\r\n\r\n"), Err(ErrorKind::BareCr));
    assert_eq!(
        response(b"X: a\r\n b\0\r\n\r\n"),
        Err(ErrorKind::InvalidFieldValue)
    );
    assert_eq!(response(b"NoColon\r\n\r\n"), Err(ErrorKind::MissingColon));
    assert_eq!(response(b"X: a\r\n b\r\n"), Ok(None));
    let limits = Limits {
        max_fields: 1,
        ..Limits::default()
    };
    assert_eq!(
        every_way_with(
            || TrailerParser::for_responses(limits),
            b"A: 1\r\n 2\r\nB: 3\r\n\r\n"
        ),
        Err(ErrorKind::TooManyFields)
    );
}

#[test]
fn request_rules_still_refuse_fold_and_bare_lf() {
    let strict = Limits::default();
    let lenient = Limits {
        allow_bare_lf_in_requests: true,
        ..Limits::default()
    };
    assert_eq!(
        request(b"X-A: a\r\n b\r\n\r\n", strict),
        Err(ErrorKind::ObsFold)
    );
    assert_eq!(
        request(b"X-A: a\r\n b\r\n\r\n", lenient),
        Err(ErrorKind::ObsFold)
    );
    assert_eq!(
        request(b"X-A: 1\nX-B: 2\r\n\n", strict),
        Err(ErrorKind::BareLf)
    );
    // The one leniency requests have is opt-in.
    let input = b"X-A: 1\nX-B: 2\r\n\n";
    assert_eq!(
        request(input, lenient),
        Ok(Some((fields(&[("X-A", "1"), ("X-B", "2")]), input.len())))
    );
}

#[test]
fn reset_and_reuse_keep_the_rules() {
    let mut parser = TrailerParser::for_responses(Limits::default());
    assert!(parser.parse(b"X: a\r\n b").unwrap().is_partial());
    parser.reset();
    let section = b"Y: c\r\n d\n\n";
    let parsed = settle(section, parser.parse(section));
    assert_eq!(parsed, Ok(Some((fields(&[("Y", "c d")]), section.len()))));
    // After a complete section the next call starts a new one.
    let parsed = settle(section, parser.parse(section));
    assert_eq!(parsed, Ok(Some((fields(&[("Y", "c d")]), section.len()))));
}
