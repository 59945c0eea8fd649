//! Content-Type (RFC 9110 §8.3) and the parameter syntax it shares with
//! other fields (RFC 9110 §5.6.6 parameters, §5.6.4 quoted strings).
//!
//! This module owns reading a media type and its parameters, and the
//! crate-internal parameter tokenizer that [`crate::te`] reuses for transfer
//! codings. It does not decide which charset a body is encoded with; that is
//! the body layer's job, given [`ContentType::charset`].
//!
//! ```
//! use gruvi_wire::parse_content_type;
//!
//! let ct = parse_content_type(br#"Text/HTML; Charset="utf-8"; q=x"#).unwrap();
//! assert_eq!(ct.media_type(), "Text/HTML");
//! assert!(ct.is("text/html"));
//! assert_eq!(ct.charset(), Some("utf-8"));
//! ```
//!
//! Parameter values are decoded as ISO-8859-1 (each byte is the code point
//! of the same number, RFC 9110 §5.5), so no byte is lost or replaced.

use crate::encode::latin1_text;
use crate::list::trim_ows;
use crate::scan::is_tchar;

/// A parsed Content-Type value: `type "/" subtype *( OWS ";" OWS parameter )`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContentType {
    /// `type/subtype` as received.
    media_type: String,
    /// Index of the `/` in `media_type`.
    slash: usize,
    /// Parameters in received order: name as received, value unescaped.
    params: Vec<(String, String)>,
}

impl ContentType {
    /// `type/subtype` as received, e.g. `"text/html"`.
    pub fn media_type(&self) -> &str {
        &self.media_type
    }

    /// The type before the `/`, as received, e.g. `"text"`.
    pub fn main_type(&self) -> &str {
        self.media_type.get(..self.slash).unwrap_or_default()
    }

    /// The subtype after the `/`, as received, e.g. `"html"`.
    pub fn subtype(&self) -> &str {
        self.media_type.get(self.slash + 1..).unwrap_or_default()
    }

    /// `type/subtype` in lower case: types and subtypes are case-insensitive
    /// (RFC 9110 §8.3.1).
    pub fn essence(&self) -> String {
        self.media_type.to_ascii_lowercase()
    }

    /// Returns `true` if the media type is `media_type` (`"type/subtype"`),
    /// ignoring ASCII case (RFC 9110 §8.3.1). Parameters are not compared.
    pub fn is(&self, media_type: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
    }

    /// The parameters in received order: the name as received, the value
    /// with quoting removed and decoded as ISO-8859-1.
    pub fn params(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The value of the first parameter called `name`; parameter names are
    /// case-insensitive (RFC 9110 §5.6.6).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `charset` parameter (RFC 9110 §8.3.2), as received (charset names
    /// are case-insensitive; compare accordingly).
    pub fn charset(&self) -> Option<&str> {
        self.param("charset")
    }
}

/// Parses a Content-Type field value (RFC 9110 §8.3).
///
/// Returns `None` when `type "/" subtype` is not two tokens. Parameters are
/// read up to the first malformed one (no `=`, a name or value that is not a
/// token, an unterminated or ill-formed quoted string, whitespace around
/// `=`); those before it are kept, the rest is ignored, as a recipient that
/// cannot make sense of the tail should do rather than discard the media
/// type. Empty parameters (`;;`) are skipped (RFC 9110 §5.6.6 allows them).
pub fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let value = trim_ows(value);
    // RFC 9110 §8.3.1: media-type = type "/" subtype parameters
    let type_len = token_len(value);
    let after_type = value.get(type_len..)?;
    let [b'/', after_slash @ ..] = after_type else {
        return None;
    };
    let subtype_len = token_len(after_slash);
    if type_len == 0 || subtype_len == 0 {
        return None;
    }
    let rest = after_slash.get(subtype_len..)?;
    // The subtype ends at the end, at OWS, or at ";"; anything else means it
    // was not a token.
    if !matches!(rest.first(), None | Some(b' ' | b'\t' | b';')) {
        return None;
    }
    let media_type = latin1_text(value.get(..type_len + 1 + subtype_len)?);
    let params = parameters(rest, false)
        .map_while(Result::ok)
        .map(|(name, value)| (latin1_text(name), value.unescape()))
        .collect();
    Some(ContentType {
        media_type,
        slash: type_len,
        params,
    })
}

/// A parameter value as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RawValue<'a> {
    /// `token`.
    Token(&'a [u8]),
    /// The bytes between the quotes of a `quoted-string`, quoted-pairs still
    /// escaped.
    Quoted(&'a [u8]),
}

impl RawValue<'_> {
    /// The value with quoted-pairs resolved (RFC 9110 §5.6.4: `\x` stands
    /// for `x`), decoded as ISO-8859-1.
    pub(crate) fn unescape(self) -> String {
        match self {
            RawValue::Token(token) => latin1_text(token),
            RawValue::Quoted(raw) => {
                let mut out = String::with_capacity(raw.len());
                let mut escaped = false;
                for &b in raw {
                    if b == b'\\' && !escaped {
                        escaped = true;
                    } else {
                        out.push(char::from(b));
                        escaped = false;
                    }
                }
                out
            }
        }
    }
}

/// The parameter list is malformed from this point on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Tokenizes `*( OWS ";" OWS [ parameter ] )` (RFC 9110 §5.6.6), where
/// `parameter = token "=" ( token / quoted-string )`. With `bws`, whitespace
/// around `=` is accepted and removed, as the transfer-parameter rule has it
/// (RFC 9110 §10.1.4, BWS of §5.6.3); without it, it is malformed.
///
/// Yields each parameter, skips empty ones, and ends after yielding
/// [`Malformed`] once.
pub(crate) fn parameters(rest: &[u8], bws: bool) -> Parameters<'_> {
    Parameters {
        rest,
        bws,
        done: false,
    }
}

/// Iterator returned by [`parameters`].
#[derive(Clone, Debug)]
pub(crate) struct Parameters<'a> {
    rest: &'a [u8],
    bws: bool,
    done: bool,
}

impl<'a> Iterator for Parameters<'a> {
    type Item = Result<(&'a [u8], RawValue<'a>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl<'a> Parameters<'a> {
    fn step(&mut self) -> Option<Result<(&'a [u8], RawValue<'a>), Malformed>> {
        loop {
            let s = trim_start_ows(self.rest);
            let [b';', s @ ..] = s else {
                return if s.is_empty() {
                    None
                } else {
                    Some(Err(Malformed))
                };
            };
            let s = trim_start_ows(s);
            if s.first() == Some(&b';') {
                // An empty parameter: skip it.
                self.rest = s;
                continue;
            }
            if s.is_empty() {
                return None;
            }
            return Some(self.parameter(s));
        }
    }

    /// `token "=" ( token / quoted-string )`, then OWS and the end or `;`.
    fn parameter(&mut self, s: &'a [u8]) -> Result<(&'a [u8], RawValue<'a>), Malformed> {
        let (name, s) = s.split_at(token_len(s));
        if name.is_empty() {
            return Err(Malformed);
        }
        let s = if self.bws { trim_start_ows(s) } else { s };
        let [b'=', s @ ..] = s else {
            return Err(Malformed);
        };
        let s = if self.bws { trim_start_ows(s) } else { s };
        let (value, rest) = if s.first() == Some(&b'"') {
            let (inner, rest) = split_quoted_string(s).ok_or(Malformed)?;
            (RawValue::Quoted(inner), rest)
        } else {
            let (token, rest) = s.split_at(token_len(s));
            if token.is_empty() {
                return Err(Malformed);
            }
            (RawValue::Token(token), rest)
        };
        // The parameter runs to the next ";": anything else before it means
        // the value was not one token or quoted-string.
        if !matches!(trim_start_ows(rest).first(), None | Some(b';')) {
            return Err(Malformed);
        }
        self.rest = rest;
        Ok((name, value))
    }
}

/// Splits a `quoted-string` (RFC 9110 §5.6.4) off the front of `s`, which
/// starts with `"`: returns the bytes between the quotes (escapes kept) and
/// what follows the closing quote. `None` if it is unterminated or holds a
/// byte that neither `qdtext` nor `quoted-pair` allows.
pub(crate) fn split_quoted_string(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => return Some((s.get(1..i)?, s.get(i + 1..)?)),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            b'\\' => match s.get(i + 1) {
                Some(&c) if is_qdtext_or_quote(c) || c == b'\\' => i += 2,
                _ => return None,
            },
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            _ if is_qdtext_or_quote(b) => i += 1,
            _ => return None,
        }
    }
    None
}

/// HTAB, SP, VCHAR except `\`, obs-text: the bytes a quoted string holds
/// unescaped, plus `"` (which ends it).
fn is_qdtext_or_quote(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f && b != b'\\')
}

/// How many bytes at the front of `s` are `tchar`s (RFC 9110 §5.6.2).
pub(crate) fn token_len(s: &[u8]) -> usize {
    s.iter().position(|&b| !is_tchar(b)).unwrap_or(s.len())
}

fn trim_start_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(value: &str) -> Option<ContentType> {
        parse_content_type(value.as_bytes())
    }

    fn params(ct: &ContentType) -> Vec<(&str, &str)> {
        ct.params().collect()
    }

    #[test]
    fn media_type_alone() {
        let ct = parse("text/html").unwrap();
        assert_eq!(ct.media_type(), "text/html");
        assert_eq!(ct.main_type(), "text");
        assert_eq!(ct.subtype(), "html");
        assert_eq!(ct.params().len(), 0);
        assert_eq!(ct.charset(), None);
    }

    #[test]
    fn media_type_keeps_case_and_compares_without() {
        let ct = parse("Application/JSON").unwrap();
        assert_eq!(ct.media_type(), "Application/JSON");
        assert_eq!(ct.essence(), "application/json");
        assert!(ct.is("application/json"));
        assert!(!ct.is("application/jso"));
        assert!(!ct.is("application/json; charset=utf-8"));
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let ct = parse(" \ttext/plain ; charset=utf-8 \t").unwrap();
        assert_eq!(ct.media_type(), "text/plain");
        assert_eq!(ct.charset(), Some("utf-8"));
    }

    #[test]
    fn token_and_quoted_parameters() {
        // RFC 9110 §8.3.1 examples: all equivalent.
        for value in [
            "text/html;charset=utf-8",
            "text/html;charset=UTF-8",
            "Text/HTML;Charset=\"utf-8\"",
            "text/html; charset=\"utf-8\"",
        ] {
            let ct = parse(value).unwrap();
            assert!(ct.is("text/html"), "{value}");
            assert!(
                ct.charset().unwrap().eq_ignore_ascii_case("utf-8"),
                "{value}"
            );
        }
    }

    #[test]
    fn parameter_names_keep_case_and_look_up_without() {
        let ct = parse("a/b; Foo=1; BAR=\"two words\"; foo=3").unwrap();
        assert_eq!(
            params(&ct),
            [("Foo", "1"), ("BAR", "two words"), ("foo", "3")]
        );
        assert_eq!(ct.param("foo"), Some("1"), "first of duplicates");
        assert_eq!(ct.param("bar"), Some("two words"));
        assert_eq!(ct.param("baz"), None);
    }

    #[test]
    fn quoted_pairs_are_unescaped() {
        let ct = parse(r#"a/b; x="a\"b\\c\d"; y="""#).unwrap();
        assert_eq!(params(&ct), [("x", r#"a"b\cd"#), ("y", "")]);
        let ct = parse(r#"a/b; x="semi;colon, comma""#).unwrap();
        assert_eq!(ct.param("x"), Some("semi;colon, comma"));
    }

    #[test]
    fn values_are_decoded_as_iso_8859_1() {
        let ct = parse_content_type(b"a/b; x=\"caf\xe9\"; y=\"\\\xff\"").unwrap();
        assert_eq!(ct.param("x"), Some("caf\u{e9}"));
        assert_eq!(ct.param("y"), Some("\u{ff}"));
    }

    #[test]
    fn empty_parameters_are_skipped() {
        let ct = parse("a/b;;x=1 ; ; ;y=2;").unwrap();
        assert_eq!(params(&ct), [("x", "1"), ("y", "2")]);
        assert_eq!(params(&parse("a/b;").unwrap()), []);
        assert_eq!(params(&parse("a/b ; ").unwrap()), []);
    }

    #[test]
    fn parsing_stops_at_the_first_malformed_parameter() {
        for (value, kept) in [
            ("a/b; x=1; y; z=3", &[("x", "1")][..]),
            ("a/b; x=1; y=; z=3", &[("x", "1")]),
            ("a/b; x=1; =2; z=3", &[("x", "1")]),
            ("a/b; x=1; y = 2; z=3", &[("x", "1")]),
            ("a/b; x=1; y=\"open; z=3", &[("x", "1")]),
            ("a/b; x=1; y=\"a\"b; z=3", &[("x", "1")]),
            ("a/b; x=1; y=a\"b\"; z=3", &[("x", "1")]),
            ("a/b; x=1; y=a b; z=3", &[("x", "1")]),
            ("a/b; x=1; y=(c); z=3", &[("x", "1")]),
            ("a/b; x=1; y=a, z=3", &[("x", "1")]),
            ("a/b; x=1 z=3", &[]),
            ("a/b; x=1, y=2", &[]),
            ("a/b; x=\"\\", &[]),
            ("a/b; x=\"\\\"", &[]),
            ("a/b junk", &[]),
        ] {
            let ct = parse(value).unwrap_or_else(|| panic!("{value:?} keeps its media type"));
            assert!(ct.is("a/b"), "{value:?}");
            assert_eq!(params(&ct), kept, "{value:?}");
        }
    }

    #[test]
    fn control_bytes_in_quoted_strings_are_malformed() {
        for bad in [
            &b"a/b; x=\"a\x00b\""[..],
            b"a/b; x=\"a\x7fb\"",
            b"a/b; x=\"a\rb\"",
            b"a/b; x=\"\\\n\"",
        ] {
            let ct = parse_content_type(bad).unwrap();
            assert_eq!(ct.params().len(), 0, "{bad:?}");
        }
        let ct = parse_content_type(b"a/b; x=\"tab\there\"").unwrap();
        assert_eq!(ct.param("x"), Some("tab\there"));
    }

    #[test]
    fn malformed_media_types_are_none() {
        for bad in [
            "",
            " ",
            "text",
            "text/",
            "/html",
            "/",
            "text//html",
            "te xt/html",
            "text /html",
            "text/ html",
            "text/html/x",
            "text/ht\"ml",
            "text/html\u{e9}",
            "text/html,a/b",
            "\"text\"/html",
            ";charset=utf-8",
            "text/html(x)",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse_content_type(b"text/html\x00"), None);
        assert_eq!(parse_content_type(b"text\xff/html"), None);
    }

    #[test]
    fn odd_but_valid_tokens() {
        let ct = parse("application/vnd.api+json; profile=a.b-c_d~e!").unwrap();
        assert_eq!(ct.subtype(), "vnd.api+json");
        assert_eq!(ct.param("profile"), Some("a.b-c_d~e!"));
        assert!(parse("*/*").is_some());
    }

    #[test]
    fn transfer_parameter_whitespace_is_only_taken_with_bws() {
        let with: Vec<_> = parameters(b"; q = 0.5 ; x=\"y\"", true).collect();
        assert_eq!(
            with,
            [
                Ok((&b"q"[..], RawValue::Token(b"0.5"))),
                Ok((&b"x"[..], RawValue::Quoted(b"y")))
            ]
        );
        let without: Vec<_> = parameters(b"; q = 0.5", false).collect();
        assert_eq!(without, [Err(Malformed)]);
        // Ends after the first error.
        let after_error: Vec<_> = parameters(b"garbage; x=1", false).collect();
        assert_eq!(after_error, [Err(Malformed)]);
    }

    /// Serialises a parameter value: bare when it is a token, else quoted
    /// with `"` and `\` escaped; ISO-8859-1 encoded.
    fn serialise_value(value: &str) -> Vec<u8> {
        let bytes: Vec<u8> = value.chars().map(|c| c as u8).collect();
        if !bytes.is_empty() && bytes.iter().all(|&b| is_tchar(b)) {
            return bytes;
        }
        let mut out = vec![b'"'];
        for b in bytes {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
        out
    }

    fn token() -> impl Strategy<Value = String> {
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}"
    }

    fn latin1_text() -> impl Strategy<Value = String> {
        // HTAB, SP..~ and U+0080..U+00FF: what a quoted string can carry.
        proptest::collection::vec(
            prop_oneof![
                Just('\t'),
                (0x20u8..0x7f).prop_map(char::from),
                (0x80u8..=0xff).prop_map(char::from)
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect())
    }

    proptest! {
        #[test]
        fn never_panics(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_content_type(&value);
        }

        #[test]
        fn serialised_content_types_round_trip(
            main in token(),
            sub in token(),
            ps in proptest::collection::vec((token(), prop_oneof![token(), latin1_text()]), 0..5),
            ows in "[ \t]{0,2}",
        ) {
            let mut wire = format!("{main}/{sub}").into_bytes();
            for (name, value) in &ps {
                wire.extend_from_slice(ows.as_bytes());
                wire.push(b';');
                wire.extend_from_slice(ows.as_bytes());
                wire.extend_from_slice(name.as_bytes());
                wire.push(b'=');
                wire.extend_from_slice(&serialise_value(value));
            }
            let ct = parse_content_type(&wire).unwrap();
            prop_assert_eq!(ct.main_type(), main.as_str());
            prop_assert_eq!(ct.subtype(), sub.as_str());
            let got: Vec<(String, String)> =
                ct.params().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            prop_assert_eq!(got, ps);
        }

        #[test]
        fn garbage_after_good_parameters_keeps_them(
            ps in proptest::collection::vec((token(), token()), 0..4),
            tail in proptest::collection::vec(any::<u8>(), 0..16),
        ) {
            let mut wire = b"a/b".to_vec();
            for (name, value) in &ps {
                wire.extend_from_slice(format!(";{name}={value}").as_bytes());
            }
            wire.extend_from_slice(b"; ");
            wire.extend_from_slice(&tail);
            let ct = parse_content_type(&wire).unwrap();
            let got: Vec<(String, String)> =
                ct.params().take(ps.len()).map(|(n, v)| (n.to_string(), v.to_string())).collect();
            prop_assert_eq!(got, ps);
        }
    }
}
