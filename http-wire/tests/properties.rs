//! Properties: a serialised head parses back to itself; any input, valid or
//! not, gives one answer however it is split; the parser agrees with httparse
//! on valid heads; feeding a head one byte at a time costs linear work.

mod support;

use bytes::BytesMut;
use gruvi_wire::{HeadWriter, Limits, Version};
use proptest::prelude::*;
use support::{request_every_way, response_every_way};

fn token() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}").unwrap()
}

/// Field values: visible ASCII, SP, HTAB and obs-text, without surrounding
/// whitespace (RFC 9110 §5.5).
fn field_value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![8 => 0x21u8..0x7f, 1 => Just(b' '), 1 => Just(b'\t'), 1 => 0x80u8..=0xff],
        0..40,
    )
    .prop_map(|mut v| {
        while matches!(v.first(), Some(b' ' | b'\t')) {
            v.remove(0);
        }
        while matches!(v.last(), Some(b' ' | b'\t')) {
            v.pop();
        }
        v
    })
}

/// Visible ASCII but `#` (no fragment in a target), `%` (which must start a
/// pct-encoded octet) and the characters refused raw (`"`, `<`, `>`, `` ` ``),
/// or pct-encoded octets.
fn target() -> impl Strategy<Value = String> {
    proptest::string::string_regex("/([!$&-;=?-_a-~]|%[0-9A-Fa-f]{2}){0,60}").unwrap()
}

/// Names that cannot be mistaken for the fields with rules of their own.
fn extension_fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    proptest::collection::vec(
        (token().prop_map(|t| format!("X-{t}")), field_value()),
        0..40,
    )
}

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    version: Version,
    fields: Vec<(String, Vec<u8>)>,
}

fn request() -> impl Strategy<Value = Request> {
    (
        token(),
        target(),
        any::<bool>(),
        extension_fields(),
        "[a-z]{1,10}(:[0-9]{1,4})?",
    )
        .prop_map(|(method, target, http11, mut fields, host)| {
            let version = if http11 {
                Version::Http11
            } else {
                Version::Http10
            };
            let at = fields.len() / 2;
            fields.insert(at, ("Host".to_owned(), host.into_bytes()));
            Request {
                method,
                target,
                version,
                fields,
            }
        })
}

fn serialise(r: &Request) -> BytesMut {
    let mut buf = BytesMut::new();
    let mut head =
        HeadWriter::request(&mut buf, r.method.as_str(), r.target.as_str(), r.version).unwrap();
    for (name, value) in &r.fields {
        head.field(name.as_str(), value.as_slice()).unwrap();
    }
    head.finish();
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn serialised_requests_parse_back(r in request(), body in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut buf = serialise(&r);
        let head_len = buf.len();
        buf.extend_from_slice(&body);
        let (head, consumed) = request_every_way(&buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(consumed, head_len);
        prop_assert_eq!(head.method().of(&buf), r.method.as_bytes());
        prop_assert_eq!(head.target().of(&buf), r.target.as_bytes());
        prop_assert_eq!(head.version(), r.version);
        let parsed: Vec<(String, Vec<u8>)> = head
            .fields()
            .iter()
            .map(|f| (String::from_utf8(f.name(&buf).to_vec()).unwrap(), f.value(&buf).into_owned()))
            .collect();
        prop_assert_eq!(parsed, r.fields.clone());
    }

    #[test]
    fn serialised_responses_parse_back(
        status in 100u16..1000,
        reason in proptest::option::of("[ -~]{0,20}".prop_map(|s| s.trim().to_owned())),
        fields in extension_fields(),
    ) {
        let mut buf = BytesMut::new();
        let mut head = HeadWriter::response(&mut buf, Version::Http11, status, reason.as_deref()).unwrap();
        for (name, value) in &fields {
            head.field(name.as_str(), value.as_slice()).unwrap();
        }
        head.finish();
        let (head, consumed) = response_every_way(&buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(consumed, buf.len());
        prop_assert_eq!(head.status(), status);
        if let Some(reason) = &reason {
            prop_assert_eq!(head.reason().of(&buf), reason.as_bytes());
        }
        prop_assert_eq!(head.fields().len(), fields.len());
    }

    /// Field lines with any whitespace around their values, HTAB and obs-text
    /// inside them, and more input after the head: parsed whole and split
    /// every way, every field comes out with its value trimmed.
    #[test]
    fn field_lines_with_any_whitespace_parse_the_same_every_way(
        fields in proptest::collection::vec(
            (token(), "[ \t]{0,3}", field_value(), "[ \t]{0,3}"),
            0..12,
        ),
        after in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut buf = b"GET / HTTP/1.1\r\nHost: example.com\r\n".to_vec();
        for (name, before, value, behind) in &fields {
            buf.extend_from_slice(format!("X-{name}:{before}").as_bytes());
            buf.extend_from_slice(value);
            buf.extend_from_slice(format!("{behind}\r\n").as_bytes());
        }
        buf.extend_from_slice(b"\r\n");
        let head_len = buf.len();
        buf.extend_from_slice(&after);
        let (head, consumed) = request_every_way(&buf, &Limits::default()).unwrap().unwrap();
        prop_assert_eq!(consumed, head_len);
        let values: Vec<Vec<u8>> = head.fields().iter().skip(1).map(|f| f.value(&buf).into_owned()).collect();
        let expected: Vec<Vec<u8>> = fields.iter().map(|(_, _, value, _)| value.clone()).collect();
        prop_assert_eq!(values, expected);
    }

    /// A field line of bytes a field line is made of (and some it may not
    /// hold), after a valid start: parsed whole and split every way, it is
    /// the field or the error that RFC 9112 §5 and RFC 9110 §5.5, applied
    /// byte by byte, say it is.
    #[test]
    fn field_like_lines_parse_as_the_rfc_says(
        line in proptest::collection::vec(
            prop_oneof![
                12 => b'a'..=b'z',
                2 => b'A'..=b'Z',
                2 => b'0'..=b'9',
                2 => Just(b'-'),
                1 => prop::sample::select(&b"!#$%&'*+.^_`|~"[..]),
                3 => Just(b':'),
                3 => Just(b' '),
                1 => Just(b'\t'),
                1 => Just(b'\r'),
                1 => prop_oneof![Just(0u8), Just(0x7f), Just(b'"'), 0x80u8..=0xff],
            ],
            // An empty line would end the head.
            1..48,
        ),
        after in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let expected = field_line(&line);
        if let Some((name, _)) = &expected {
            // Names with rules of their own are other properties' business.
            let known = ["host", "content-length", "transfer-encoding", "connection", "upgrade", "expect"];
            prop_assume!(!known.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(name)));
        }
        let mut buf = b"GET / HTTP/1.1\r\nHost: example.com\r\n".to_vec();
        buf.extend_from_slice(&line);
        buf.extend_from_slice(b"\r\nX-Next: 1\r\n\r\n");
        buf.extend_from_slice(&after);
        match (request_every_way(&buf, &Limits::default()), expected) {
            (Ok(Some((head, _))), Some((name, value))) => {
                prop_assert_eq!(head.fields().len(), 3, "Host, the line's field, X-Next");
                let field = &head.fields().iter().nth(1).expect("the line's field");
                prop_assert_eq!(field.name(&buf), &name[..]);
                prop_assert_eq!(field.value(&buf).into_owned(), value);
            }
            (Err(_), None) => {}
            (got, expected) => prop_assert!(false, "{:?}: got {:?}, the RFC says {:?}", String::from_utf8_lossy(&line), got.map(|h| h.map(|(h, n)| (h.fields().len(), n))), expected),
        }
    }

    /// The fuzz targets' bodies, on random bytes with random limits.
    #[test]
    fn any_bytes_give_one_answer_however_split(input in proptest::collection::vec(any::<u8>(), 0..120)) {
        support::fuzz_request(&input);
        support::fuzz_response(&input);
    }

    /// The fuzz targets' bodies on long runs of head-like bytes, where the
    /// limits are crossed.
    #[test]
    fn head_like_bytes_give_one_answer_however_split(
        knobs in any::<u8>(),
        input in proptest::collection::vec(prop_oneof![40 => b'a'..=b'z', 2 => Just(b' '), 1 => Just(b'\n'), 1 => Just(b'\r'), 1 => Just(b':'), 1 => any::<u8>()], 0..300),
    ) {
        let mut data = vec![knobs];
        data.extend_from_slice(&input);
        support::fuzz_request(&data);
        support::fuzz_response(&data);
    }

    #[test]
    fn mutated_heads_give_one_answer_however_split(
        r in request(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
        lenient in any::<bool>(),
    ) {
        let mut buf = serialise(&r).to_vec();
        for (at, byte, op) in edits {
            let i = at.index(buf.len() + 1);
            match op {
                0 => buf.insert(i, byte),
                1 if i < buf.len() => { buf.remove(i); }
                _ if i < buf.len() => buf[i] = byte,
                _ => {}
            }
        }
        let limits = Limits { allow_bare_lf_in_requests: lenient, ..Limits::default() };
        request_every_way(&buf, &limits).ok();
        response_every_way(&buf, &limits).ok();
    }

    /// Differential: httparse reads every valid head we generate the same way.
    #[test]
    fn httparse_agrees_on_valid_requests(r in request()) {
        let buf = serialise(&r);
        let (ours, consumed) = gruvi_wire::parse_request(&buf, &Limits::default()).unwrap().complete().unwrap();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut theirs = httparse::Request::new(&mut headers);
        let status = theirs.parse(&buf).unwrap();
        prop_assert_eq!(status, httparse::Status::Complete(consumed));
        prop_assert_eq!(theirs.method.unwrap().as_bytes(), ours.method().of(&buf));
        prop_assert_eq!(theirs.path.unwrap().as_bytes(), ours.target().of(&buf));
        prop_assert_eq!(theirs.version.unwrap(), r.version.as_tuple().1);
        let fields: Vec<(&[u8], &[u8])> = ours.fields().iter().map(|f| (f.name(&buf), f.value_span().of(&buf))).collect();
        let theirs: Vec<(&[u8], &[u8])> = theirs.headers.iter().map(|h| (h.name.as_bytes(), h.value)).collect();
        prop_assert_eq!(fields, theirs);
    }

    /// A parser used for one head after another (as a connection's is)
    /// answers each as a fresh one would: what it keeps between heads (the
    /// last valid Host) never changes an answer. Hosts are drawn so that
    /// one often repeats, differs by a byte, or is invalid, or too long to
    /// be kept.
    #[test]
    fn a_reused_parser_answers_each_head_as_a_fresh_one(
        hosts in proptest::collection::vec(
            prop_oneof![
                Just("a.example:80".to_owned()),
                Just("a.example:8x".to_owned()),
                Just("a.example".to_owned()),
                Just(String::new()),
                Just("[::1]:8080".to_owned()),
                Just("a b".to_owned()),
                proptest::string::string_regex("[a-z0-9.:%@\\[\\] -]{0,12}").unwrap(),
                proptest::string::string_regex("[a-z]{60,70}(:[0-9]{1,6})?").unwrap(),
            ],
            1..8,
        )
    ) {
        let mut parser = gruvi_wire::RequestParser::new(Limits::default());
        for host in &hosts {
            let head = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let fresh = gruvi_wire::parse_request(head.as_bytes(), &Limits::default())
                .map(|status| status.complete().map(|(_, n)| n));
            let reused = parser
                .parse(head.as_bytes())
                .map(|status| status.complete().map(|(_, n)| n));
            prop_assert_eq!(format!("{reused:?}"), format!("{fresh:?}"), "Host {:?}", host);
            if reused.is_err() {
                parser.reset();
            }
        }
    }
}

/// Real-world heads both parsers must accept identically.
#[test]
fn httparse_agrees_on_a_corpus() {
    let corpus: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg HTTP/1.1\r\nHost: www.kittyhell.com\r\nUser-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; ja-JP-mac; rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: ja,en-us;q=0.7,en;q=0.3\r\nAccept-Encoding: gzip,deflate\r\nAccept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\nKeep-Alive: 115\r\nConnection: keep-alive\r\nCookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; __utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; __utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader.livedoor.com|utmcct=/reader/|utmcmd=referral\r\n\r\n",
        b"POST /api/v1/items?page=2&sort=desc HTTP/1.1\r\nHost: api.example.com:8443\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 27\r\nAuthorization: Bearer abc.def.ghi\r\nX-Request-Id: 7b0c7a3e-3b1f-4d8e-9c53-2a3f1e0d9b11\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic Zm9vOmJhcg==\r\n\r\n",
        b"GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\nEmpty:\r\n\r\n",
        b"GET / HTTP/1.0\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
    ];
    for &buf in corpus {
        let (ours, consumed) = request_every_way(buf, &Limits::default()).unwrap().unwrap();
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut theirs = httparse::Request::new(&mut headers);
        assert_eq!(
            theirs.parse(buf).unwrap(),
            httparse::Status::Complete(consumed)
        );
        assert_eq!(theirs.method.unwrap().as_bytes(), ours.method().of(buf));
        assert_eq!(theirs.path.unwrap().as_bytes(), ours.target().of(buf));
        let ours: Vec<(&[u8], &[u8])> = ours
            .fields()
            .iter()
            .map(|f| (f.name(buf), f.value_span().of(buf)))
            .collect();
        let theirs: Vec<(&[u8], &[u8])> = theirs
            .headers
            .iter()
            .map(|h| (h.name.as_bytes(), h.value))
            .collect();
        assert_eq!(ours, theirs);
    }
}

/// A 60 KB head fed one byte at a time: linear work finishes at once, a
/// quadratic parser would take minutes (~1.8e9 byte visits). No timing is
/// asserted; the test only has to finish.
#[test]
fn byte_at_a_time_is_linear() {
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    head.extend_from_slice(b"X-Long: ");
    head.extend(std::iter::repeat_n(b'v', 30_000));
    head.extend_from_slice(b"\r\n");
    for i in 0..90 {
        head.extend_from_slice(format!("X-Field-{i}: {}\r\n", "w".repeat(300)).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    assert!(head.len() < 64 * 1024);
    let mut parser = gruvi_wire::RequestParser::new(Limits::default());
    for end in 1..head.len() {
        assert!(parser.parse(&head[..end]).unwrap().is_partial());
    }
    let (parsed, consumed) = parser.parse(&head).unwrap().complete().unwrap();
    assert_eq!((parsed.fields().len(), consumed), (92, head.len()));
}

/// A request's field line (without its CRLF, holding no LF) as RFC 9112 §5
/// and RFC 9110 §5.5 define it, byte by byte: `token ":" OWS value OWS`,
/// the value's bytes HTAB, SP, visible ASCII or obs-text. The name and
/// the trimmed value, or `None` if the line is not one (a line starting
/// with whitespace is an obs-fold, which requests may not use).
fn field_line(line: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.iter().all(|&b| tchar(b)) {
        return None;
    }
    if !value
        .iter()
        .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        return None;
    }
    let ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !ows(b)).unwrap_or(value.len());
    let end = value.iter().rposition(|b| !ows(b)).map_or(start, |i| i + 1);
    Some((name.to_vec(), value[start..end].to_vec()))
}
