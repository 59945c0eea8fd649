//! The request-head rules of RFC 9112 / 9110, one case per rule, each parsed
//! whole, byte by byte and split at every offset.

mod support;

use gruvi_wire::{
    ErrorKind, Limits, RequestHead, RequestParser, TargetForm, Version, parse_request,
};
use support::{request_every_way, response_every_way};

/// A parsed request reduced to what the tests compare.
#[derive(Debug, PartialEq)]
struct Summary {
    method: String,
    target: String,
    version: Version,
    fields: Vec<(String, String)>,
    consumed: usize,
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn summarize(buf: &[u8], head: &RequestHead, consumed: usize) -> Summary {
    Summary {
        method: latin1(head.method().of(buf)),
        target: latin1(head.target().of(buf)),
        version: head.version(),
        fields: head
            .fields()
            .iter()
            .map(|f| (latin1(f.name(buf)), latin1(&f.value(buf))))
            .collect(),
        consumed,
    }
}

fn parse_with(input: impl AsRef<[u8]>, limits: &Limits) -> Result<Option<Summary>, ErrorKind> {
    let buf = input.as_ref();
    match request_every_way(buf, limits) {
        Ok(Some((head, consumed))) => Ok(Some(summarize(buf, &head, consumed))),
        Ok(None) => Ok(None),
        Err(e) => Err(e.kind()),
    }
}

fn parse(input: impl AsRef<[u8]>) -> Result<Option<Summary>, ErrorKind> {
    parse_with(input, &Limits::default())
}

fn accepted(input: impl AsRef<[u8]>) -> Summary {
    let input = input.as_ref();
    match parse(input) {
        Ok(Some(summary)) => summary,
        other => panic!("{:?} should be accepted, got {other:?}", latin1(input)),
    }
}

fn rejected(input: impl AsRef<[u8]>) -> ErrorKind {
    let input = input.as_ref();
    match parse(input) {
        Err(kind) => kind,
        other => panic!("{:?} should be rejected, got {other:?}", latin1(input)),
    }
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn simple_get() {
    let input = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    assert_eq!(
        accepted(input),
        Summary {
            method: "GET".into(),
            target: "/index.html?q=1".into(),
            version: Version::Http11,
            fields: fields(&[("Host", "example.com")]),
            consumed: input.len(),
        }
    );
}

#[test]
fn fields_keep_order_case_and_duplicates() {
    let s = accepted(
        "GET / HTTP/1.1\r\nHost: a\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\nCOOKIE: c=1\r\nCookie: d=2\r\n\r\n",
    );
    assert_eq!(
        s.fields,
        fields(&[
            ("Host", "a"),
            ("X-B", "1"),
            ("x-a", "2"),
            ("X-B", "3"),
            ("COOKIE", "c=1"),
            ("Cookie", "d=2")
        ])
    );
}

#[test]
fn values_are_trimmed_and_may_hold_tabs_spaces_and_obs_text() {
    let s = accepted(
        b"GET / HTTP/1.1\r\nHost: a\r\nX:  \t a \t b\xff\x80 \t \r\nEmpty:\r\nSpaces:   \r\n\r\n",
    );
    assert_eq!(
        s.fields[1],
        ("X".to_string(), "a \t b\u{ff}\u{80}".to_string())
    );
    assert_eq!(s.fields[2], ("Empty".to_string(), String::new()));
    assert_eq!(s.fields[3], ("Spaces".to_string(), String::new()));
}

#[test]
fn only_the_head_is_consumed() {
    let head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    let s = accepted(format!("{head}helloGET / HTTP/1.1\r\n"));
    assert_eq!(s.consumed, head.len());
}

#[test]
fn leading_empty_lines_are_ignored() {
    // RFC 9112 §2.2 ¶6
    let s = accepted("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(s.method, "GET");
    assert_eq!(s.consumed, 4 + 27);
}

#[test]
fn versions() {
    assert_eq!(accepted("GET / HTTP/1.0\r\n\r\n").version, Version::Http10);
    assert_eq!(
        accepted("GET / HTTP/1.1\r\nHost: a\r\n\r\n").version,
        Version::Http11
    );
    // RFC 9110 §6.2: a higher 1.x minor is handled as 1.1.
    assert_eq!(
        accepted("GET / HTTP/1.9\r\nHost: a\r\n\r\n").version,
        Version::Http11
    );
    for v in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0", "HTTP/9.9"] {
        assert_eq!(
            rejected(format!("GET / {v}\r\n\r\n")),
            ErrorKind::UnsupportedVersion,
            "{v}"
        );
    }
    for v in [
        "http/1.1",
        "HTTP/1.10",
        "HTTP/11",
        "HTTP/1.x",
        "HTTP 1.1",
        "HTTP/1.1 ",
        "HTTPS/1.1",
        "HTTP/1",
    ] {
        assert_eq!(
            rejected(format!("GET / {v}\r\nHost: a\r\n\r\n")),
            ErrorKind::InvalidVersion,
            "{v}"
        );
    }
    assert_eq!(ErrorKind::UnsupportedVersion.status(), 505);
}

#[test]
fn request_line_needs_single_spaces() {
    assert_eq!(
        rejected("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTarget
    );
    assert_eq!(
        rejected("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidVersion
    );
    assert_eq!(
        rejected(" GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidMethod
    );
    assert_eq!(
        rejected("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidMethod
    );
    assert_eq!(
        rejected("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTarget
    );
    // HTTP/0.9 style request lines are not HTTP/1.x.
    assert_eq!(rejected("GET /\r\n\r\n"), ErrorKind::InvalidRequestLine);
}

#[test]
fn methods_are_tokens() {
    assert_eq!(
        accepted("M-SEARCH / HTTP/1.1\r\nHost: a\r\n\r\n").method,
        "M-SEARCH".to_string()
    );
    // RFC 9110 §9.1: methods are case-sensitive tokens, kept as sent.
    assert_eq!(
        accepted("get / HTTP/1.1\r\nHost: a\r\n\r\n").method,
        "get".to_string()
    );
    assert_eq!(
        rejected("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidMethod
    );
    assert_eq!(
        rejected("GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidMethod
    );
    assert_eq!(
        rejected("G\0T / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidMethod
    );
}

#[test]
fn target_bytes_are_visible_ascii() {
    for bad in ["/a\x7fb", "/caf\u{e9}", "/a\0b", "/a\x01"] {
        assert_eq!(
            rejected(format!("GET {bad} HTTP/1.1\r\nHost: a\r\n\r\n")),
            ErrorKind::InvalidTarget,
            "{bad:?}"
        );
    }
}

#[test]
fn target_forms() {
    let form = |input: &str| {
        let buf = input.as_bytes();
        let (head, _) = request_every_way(buf, &Limits::default()).unwrap().unwrap();
        head.target_form()
    };
    assert_eq!(
        form("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
        TargetForm::Origin
    );
    assert_eq!(
        form("GET http://a/x HTTP/1.1\r\nHost: a\r\n\r\n"),
        TargetForm::Absolute
    );
    assert_eq!(
        form("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
        TargetForm::Authority
    );
    assert_eq!(
        form("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"),
        TargetForm::Authority
    );
    assert_eq!(
        form("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"),
        TargetForm::Asterisk
    );

    // RFC 9112 §3.2.4: asterisk only for OPTIONS; §3.2.3: authority only for CONNECT.
    assert_eq!(
        rejected("GET * HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
    assert_eq!(
        rejected("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
    assert_eq!(
        rejected("GET a.example:443 HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
    assert_eq!(
        rejected("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
    assert_eq!(
        rejected("CONNECT http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTarget
    );
    assert_eq!(
        rejected("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTarget
    );
    assert_eq!(
        rejected("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTarget
    );
    assert_eq!(
        rejected("GET x HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
    assert_eq!(
        rejected("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::InvalidTargetForm
    );
}

#[test]
fn host_rules() {
    // RFC 9112 §3.2: exactly one valid Host in HTTP/1.1.
    assert_eq!(rejected("GET / HTTP/1.1\r\n\r\n"), ErrorKind::MissingHost);
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
        ErrorKind::DuplicateHost
    );
    assert_eq!(
        rejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
        ErrorKind::DuplicateHost
    );
    for bad in ["a b", "a@b", "a:b", "[::1", "a/b", "a:99999", "a:1:2"] {
        assert_eq!(
            rejected(format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n")),
            ErrorKind::InvalidHost,
            "{bad}"
        );
    }
    for good in [
        "",
        "a",
        "a:80",
        "127.0.0.1:8080",
        "[::1]:80",
        "xn--n3h.example",
    ] {
        accepted(format!("GET / HTTP/1.1\r\nHost: {good}\r\n\r\n"));
    }
    // HTTP/1.0 may omit it.
    accepted("GET / HTTP/1.0\r\n\r\n");
}

#[test]
fn line_endings() {
    // RFC 9112 §2.2: bare CR is never a line end.
    assert_eq!(
        rejected("GET / HTTP/1.1\rHost: a\r\n\r\n"),
        ErrorKind::BareCr
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"),
        ErrorKind::BareCr
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n"),
        ErrorKind::BareCr
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n"),
        ErrorKind::BareCr
    );
    assert_eq!(
        rejected("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::BareCr
    );
    // Bare LF is refused in requests by default...
    assert_eq!(
        rejected("GET / HTTP/1.1\nHost: a\r\n\r\n"),
        ErrorKind::BareLf
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\n\r\n"),
        ErrorKind::BareLf
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\n\n"),
        ErrorKind::BareLf
    );
    assert_eq!(
        rejected("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
        ErrorKind::BareLf
    );
    // ...and accepted when configured.
    let lenient = Limits {
        allow_bare_lf_in_requests: true,
        ..Limits::default()
    };
    let s = parse_with(b"\nGET / HTTP/1.1\nHost: a\nX: b\r\n\n", &lenient)
        .unwrap()
        .unwrap();
    assert_eq!(s.fields, fields(&[("Host", "a"), ("X", "b")]));
    assert_eq!(s.consumed, 1 + 15 + 8 + 6 + 1);
}

#[test]
fn field_syntax() {
    // RFC 9112 §5.1 ¶2: no whitespace between name and colon.
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
        ErrorKind::WhitespaceBeforeColon
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
        ErrorKind::WhitespaceBeforeColon
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n"),
        ErrorKind::InvalidFieldName
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"),
        ErrorKind::WhitespaceBeforeColon
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"),
        ErrorKind::MissingColon
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n"),
        ErrorKind::InvalidFieldName
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX\0: 1\r\n\r\n"),
        ErrorKind::InvalidFieldName
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"),
        ErrorKind::InvalidFieldValue
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n"),
        ErrorKind::InvalidFieldValue
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bb\r\n\r\n"),
        ErrorKind::InvalidFieldValue
    );
    // RFC 9112 §5.2: obs-fold is refused in requests.
    assert_eq!(
        rejected("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n"),
        ErrorKind::ObsFold
    );
    assert_eq!(
        rejected("GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
        ErrorKind::ObsFold
    );
    assert_eq!(ErrorKind::ObsFold.status(), 400);
}

#[test]
fn limits_map_to_414_and_431() {
    let small = Limits {
        max_head_bytes: 64,
        max_request_line_bytes: 20,
        max_fields: 2,
        ..Limits::default()
    };
    let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20));
    let e = parse_with(&long_line, &small).unwrap_err();
    assert_eq!((e, e.status()), (ErrorKind::RequestLineTooLong, 414));
    // Exactly at the limit is fine: "GET /aaaaaa HTTP/1.1" is 20 bytes.
    parse_with("GET /aaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", &small)
        .unwrap()
        .unwrap();
    // A line that never ends is refused once it passes the limit.
    assert_eq!(
        parse_with(format!("GET /{}", "a".repeat(30)), &small),
        Err(ErrorKind::RequestLineTooLong)
    );

    let big_head = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "b".repeat(40));
    let e = parse_with(&big_head, &small).unwrap_err();
    assert_eq!((e, e.status()), (ErrorKind::HeadTooLarge, 431));
    // A head that ends exactly at the limit is fine.
    let exact = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "b".repeat(64 - 32)
    );
    assert_eq!(exact.len(), 64);
    parse_with(&exact, &small).unwrap().unwrap();

    let many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
    let e = parse_with(many, &small).unwrap_err();
    assert_eq!((e, e.status()), (ErrorKind::TooManyFields, 431));
}

#[test]
fn an_incomplete_head_is_partial() {
    for input in [
        "",
        "G",
        "GET / HTTP/1.1",
        "GET / HTTP/1.1\r\nHost: a\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n\r",
    ] {
        assert_eq!(parse(input), Ok(None), "{input:?}");
    }
}

#[test]
fn error_offsets_point_at_the_problem() {
    let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n";
    let e = request_every_way(buf, &Limits::default()).unwrap_err();
    assert_eq!(e.offset(), 29);
    assert_eq!(e.to_string(), "invalid byte in field value at byte 29");
}

#[test]
fn the_parser_is_reusable_after_a_complete_head() {
    let mut parser = RequestParser::new(Limits::default());
    let first = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n";
    let second = b"GET /2 HTTP/1.0\r\n\r\n";
    let (_, n) = parser.parse(first).unwrap().complete().unwrap();
    assert_eq!(n, first.len());
    let (head, n) = parser.parse(second).unwrap().complete().unwrap();
    assert_eq!((head.target().of(second), n), (&b"/2"[..], second.len()));
}

#[test]
fn field_values_slice_the_frozen_buffer_without_copying() {
    let mut read_buffer =
        bytes::BytesMut::from(&b"PUT /x HTTP/1.1\r\nHost: a\r\nX-Data: payload\r\n\r\nbody"[..]);
    let mut parser = RequestParser::new(Limits::default());
    let (head, consumed) = parser.parse(&read_buffer).unwrap().complete().unwrap();
    let head = head.clone();
    let frozen = read_buffer.split_to(consumed).freeze();
    let value = head.fields().as_slice()[1].value_bytes(&frozen);
    let target = head.target().slice(&frozen);
    assert_eq!((&value[..], &target[..]), (&b"payload"[..], &b"/x"[..]));
    let range = frozen.as_ptr_range();
    assert!(
        range.contains(&value.as_ptr()) && range.contains(&target.as_ptr()),
        "slices must share the buffer"
    );
    assert_eq!(
        &read_buffer[..],
        b"body",
        "the body stays in the read buffer"
    );
}

/// Found by the `parse_request` fuzz target: with a leading empty line, the
/// request-line limit was judged from the buffer start on whole input but
/// from after the empty line when fed byte by byte.
#[test]
fn regression_line_limit_is_judged_from_where_parsing_stopped() {
    let limits = Limits {
        max_request_line_bytes: 18,
        allow_bare_lf_in_requests: true,
        ..Limits::default()
    };
    let input = b"\n\0\xff\xff\xff\xff\0\0\0\xff\xff\xff\xff\xff\xff\0\0\0\0A\0";
    // Every way of feeding it agrees (checked inside); the line has not
    // ended and is within its limit, so the parser waits.
    assert_eq!(request_every_way(input, &limits), Ok(None));
    let mut longer = input.to_vec();
    longer.extend_from_slice(b"xx");
    let error = request_every_way(&longer, &limits).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidMethod);
}

/// Found by the `parse_request` fuzz target: when a request line crosses its
/// limit and the head crosses its own, the limit crossed first is reported
/// however the input is fed.
#[test]
fn regression_the_limit_crossed_first_is_reported() {
    let limits = Limits {
        max_head_bytes: 99,
        max_request_line_bytes: 24,
        ..Limits::default()
    };
    // The request line is all method: the part past its limit is the
    // method (501).
    let mut input = vec![b'z'; 115];
    input.extend_from_slice(b"\n\x05\x04");
    let error = request_every_way(&input, &limits).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MethodTooLong);
    // The same with a short method: the target is past the limit (414).
    let mut input = b"GET /".to_vec();
    input.extend_from_slice(&[b'z'; 110]);
    input.extend_from_slice(b"\n\x05\x04");
    let error = request_every_way(&input, &limits).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RequestLineTooLong);
}

#[test]
fn an_overlong_request_line_names_its_part() {
    let limits = Limits {
        max_request_line_bytes: 32,
        ..Limits::default()
    };
    let status = |input: &[u8]| request_every_way(input, &limits).unwrap_err().status();
    // RFC 9112 §3: a method longer than any implemented: 501.
    let long_method = [&[b'A'; 40][..], b" / HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
    assert_eq!(status(&long_method), 501);
    // A target too long: 414.
    let long_target = [&b"GET /"[..], &[b'a'; 40], b" HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
    assert_eq!(status(&long_target), 414);
    // A method within the limit and a target that takes the line past it.
    let both = [&[b'A'; 20][..], b" /", &[b'a'; 20], b" HTTP/1.1\r\n\r\n"].concat();
    assert_eq!(status(&both), 414);
    // The whole head first (a smaller head limit): 431.
    let head_first = Limits {
        max_head_bytes: 24,
        ..limits
    };
    let error = request_every_way(&long_method, &head_first).unwrap_err();
    assert_eq!(error.status(), 431);
}

#[test]
fn target_characters_follow_one_policy() {
    // RFC 3986 §3.3, §3.4: refused raw in path and query, both forms.
    for c in ['"', '<', '>', '`'] {
        for target in [
            format!("/a{c}b"),
            format!("/a?x{c}y"),
            format!("http://h/a{c}b"),
            format!("http://h/a?x{c}y"),
        ] {
            let input = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(rejected(&input), ErrorKind::InvalidTarget, "{target}");
        }
    }
    // Tolerated (browsers send them raw), in path and query alike.
    for c in ['\\', '^', '{', '}', '|', '[', ']'] {
        for target in [format!("/a{c}b?x{c}y"), format!("http://h/a{c}b?x{c}y")] {
            let input = format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            let (head, _) = request_every_way(input.as_bytes(), &Limits::default())
                .unwrap()
                .unwrap();
            assert_eq!(head.target().of(input.as_bytes()), target.as_bytes());
        }
    }
}

#[test]
fn the_largest_limits_parse_normally() {
    // Regression: a request-line limit of usize::MAX overflowed.
    let limits = Limits {
        max_head_bytes: usize::MAX,
        max_request_line_bytes: usize::MAX,
        max_fields: usize::MAX,
        allow_bare_lf_in_requests: true,
    };
    for input in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], b"GET / HT"] {
        let outcome = parse_request(input, &limits);
        assert!(outcome.is_ok(), "{outcome:?}");
    }
    let mut parser = RequestParser::new(limits);
    assert!(parser.parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").is_ok());
}

/// A head with no end that fills the buffer to exactly the limit is refused
/// then, not one byte later: a connection stops reading at the limit, and
/// must get its answer from what it has. Every split gives the same answer.
#[test]
fn regression_a_head_filling_the_limit_exactly_is_refused() {
    let limits = Limits {
        max_head_bytes: 64,
        ..Limits::default()
    };
    let unended = |len: usize| {
        let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
        input.resize(len, b'x');
        input
    };
    assert_eq!(request_every_way(&unended(63), &limits), Ok(None));
    for len in [64, 65, 100] {
        let error = request_every_way(&unended(len), &limits).unwrap_err();
        assert_eq!(
            (error.kind(), error.offset()),
            (ErrorKind::HeadTooLarge, 64)
        );
    }
    // A head that ends exactly at the limit is still fine.
    let mut exact = unended(60);
    exact.extend_from_slice(b"\r\n\r\n");
    assert!(request_every_way(&exact, &limits).unwrap().is_some());
    // The same for responses (the client's side of the stall).
    let mut response = b"HTTP/1.1 200 OK\r\nX-Long: ".to_vec();
    response.resize(64, b'x');
    let error = response_every_way(&response, &limits).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::HeadTooLarge);
    assert_eq!(response_every_way(&response[..63], &limits), Ok(None));
}
