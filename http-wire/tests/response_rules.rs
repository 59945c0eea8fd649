//! The response-head rules of RFC 9112 / 9110, each parsed whole, byte by
//! byte and split at every offset.

mod support;

use gruvi_wire::{ErrorKind, Limits, Version};
use support::response_every_way;

#[derive(Debug, PartialEq)]
struct Summary {
    version: Version,
    status: u16,
    reason: String,
    fields: Vec<(String, String)>,
    folded: Vec<bool>,
    consumed: usize,
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn parse(input: impl AsRef<[u8]>) -> Result<Option<Summary>, ErrorKind> {
    let buf = input.as_ref();
    match response_every_way(buf, &Limits::default()) {
        Ok(Some((head, consumed))) => Ok(Some(Summary {
            version: head.version(),
            status: head.status(),
            reason: latin1(head.reason().of(buf)),
            fields: head
                .fields()
                .iter()
                .map(|f| (latin1(f.name(buf)), latin1(&f.value(buf))))
                .collect(),
            folded: head.fields().iter().map(|f| f.is_folded()).collect(),
            consumed,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(e.kind()),
    }
}

fn accepted(input: impl AsRef<[u8]>) -> Summary {
    let input = input.as_ref();
    parse(input)
        .unwrap_or_else(|e| panic!("{:?}: {e:?}", latin1(input)))
        .expect("complete")
}

fn rejected(input: impl AsRef<[u8]>) -> ErrorKind {
    let input = input.as_ref();
    parse(input).expect_err(&latin1(input))
}

#[test]
fn status_lines() {
    let s = accepted("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(
        (s.version, s.status, s.reason.as_str()),
        (Version::Http11, 200, "OK")
    );
    let s = accepted("HTTP/1.0 404 Not \tFound\r\n\r\n");
    assert_eq!(
        (s.version, s.reason.as_str()),
        (Version::Http10, "Not \tFound")
    );
    assert_eq!(
        accepted(b"HTTP/1.1 200 caf\xe9\r\n\r\n").reason,
        "caf\u{e9}"
    );
    assert_eq!(accepted("HTTP/1.1 204 \r\n\r\n").reason, "");
    // Leniency: no SP and no reason at all.
    assert_eq!(accepted("HTTP/1.1 204\r\n\r\n").status, 204);
    assert_eq!(accepted("HTTP/1.1 999 Custom\r\n\r\n").status, 999);
    assert_eq!(accepted("HTTP/1.2 200 OK\r\n\r\n").version, Version::Http11);

    for bad in [
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 abc OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1\t200 OK\r\n\r\n",
    ] {
        assert_eq!(rejected(bad), ErrorKind::InvalidStatusLine, "{bad:?}");
    }
    assert_eq!(
        rejected("HTTP/2.0 200 OK\r\n\r\n"),
        ErrorKind::UnsupportedVersion
    );
    assert_eq!(
        rejected("HTTX/1.1 200 OK\r\n\r\n"),
        ErrorKind::InvalidVersion
    );
    assert_eq!(
        rejected("HTTP/1.1 200 O\0K\r\n\r\n"),
        ErrorKind::InvalidFieldValue
    );
    // Responses do not skip leading empty lines.
    assert_eq!(
        rejected("\r\nHTTP/1.1 200 OK\r\n\r\n"),
        ErrorKind::InvalidVersion
    );
}

#[test]
fn bare_lf_is_accepted_in_responses() {
    let s = accepted("HTTP/1.1 200 OK\nA: 1\nB: 2\r\n\n");
    assert_eq!(
        s.fields,
        vec![("A".into(), "1".into()), ("B".into(), "2".into())]
    );
    assert_eq!(s.consumed, 16 + 5 + 6 + 1);
    // A bare CR still is not a line end.
    assert_eq!(rejected("HTTP/1.1 200 OK\rA: 1\r\n\r\n"), ErrorKind::BareCr);
    assert_eq!(
        rejected("HTTP/1.1 200 OK\r\nA: 1\r\r\n\r\n"),
        ErrorKind::BareCr
    );
}

#[test]
fn obs_fold_is_unfolded_to_one_space() {
    // RFC 9112 §5.2: each obs-fold becomes SP.
    let s = accepted("HTTP/1.1 200 OK\r\nX: a  \r\n  b\r\n\tc\r\nY: d\r\n\r\n");
    assert_eq!(
        s.fields,
        vec![("X".into(), "a b c".into()), ("Y".into(), "d".into())]
    );
    assert_eq!(s.folded, [true, false]);
    // A fold onto an empty value, and an empty continuation line.
    let s = accepted("HTTP/1.1 200 OK\r\nX:\r\n b\r\nY: c\r\n \r\n\r\n");
    assert_eq!(
        s.fields,
        vec![("X".into(), "b".into()), ("Y".into(), "c".into())]
    );
    // A fold with no field before it is an error.
    assert_eq!(
        rejected("HTTP/1.1 200 OK\r\n b\r\n\r\n"),
        ErrorKind::ObsFold
    );
}

#[test]
fn field_rules_match_requests() {
    assert_eq!(
        rejected("HTTP/1.1 200 OK\r\nX : 1\r\n\r\n"),
        ErrorKind::WhitespaceBeforeColon
    );
    assert_eq!(
        rejected("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n"),
        ErrorKind::InvalidFieldValue
    );
    assert_eq!(
        rejected("HTTP/1.1 200 OK\r\n: 1\r\n\r\n"),
        ErrorKind::InvalidFieldName
    );
}

#[test]
fn consumed_stops_at_the_end_of_the_head() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    assert_eq!(
        accepted(format!("{head}hiHTTP/1.1 200 OK\r\n")).consumed,
        head.len()
    );
}

#[test]
fn head_size_limit() {
    let limits = Limits {
        max_head_bytes: 40,
        ..Limits::default()
    };
    let input = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(30));
    let error = response_every_way(input.as_bytes(), &limits).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::HeadTooLarge);
}
