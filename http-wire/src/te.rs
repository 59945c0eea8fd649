//! The `TE` request field (RFC 9110 §10.1.4) and the `Trailer` field
//! (RFC 9110 §6.6.2).
//!
//! This module owns reading those two lists: which transfer codings (and
//! whether trailer fields) a client accepts in a response, and which fields
//! a sender announces it will put in the trailer section. It does not decide
//! what to send: that is the caller's (gruvi's own connection layer needs
//! only [`is_te_trailers`](crate::is_te_trailers), for the `TE: trailers` a
//! client may send).
//!
//! ```
//! use gruvi_wire::{parse_te, parse_trailer, te_accepts_trailers};
//!
//! let te = parse_te(b"trailers, deflate;q=0.5, gzip;q=2");
//! let names: Vec<(&str, u16)> = te.iter().map(|c| (c.name(), c.q())).collect();
//! assert_eq!(names, [("trailers", 1000), ("deflate", 500)]); // q=2 is invalid: dropped
//! assert!(te_accepts_trailers(b"trailers"));
//! assert_eq!(parse_trailer(b"Expires, X-Checksum"), [&b"Expires"[..], b"X-Checksum"]);
//! ```

use crate::content_type::{RawValue, parameters, token_len};
use crate::list::split_list;
use crate::scan::is_token;

/// One element of a TE field: a transfer coding, or the `trailers` keyword,
/// with its weight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TeCoding {
    name: String,
    q: u16,
}

impl TeCoding {
    /// The coding's name in lower case (codings are case-insensitive,
    /// RFC 9112 §7), e.g. `"gzip"` or `"trailers"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The weight in thousandths, 0 to 1000 (RFC 9110 §12.4.2); 1000 when
    /// none was given. 0 means "not acceptable".
    pub fn q(&self) -> u16 {
        self.q
    }

    /// Returns `true` if this is the `trailers` keyword.
    pub fn is_trailers(&self) -> bool {
        self.name == "trailers"
    }
}

/// Parses a TE field value (RFC 9110 §10.1.4):
/// `#t-codings`, `t-codings = "trailers" / ( transfer-coding [ weight ] )`.
///
/// Elements are returned in received order. An element that is malformed is
/// dropped and the others are kept: a name that is not a token, a parameter
/// that is not `token = ( token / quoted-string )` (whitespace around `=` is
/// accepted, RFC 9110 §10.1.4 BWS), or a `q` that is not a valid qvalue or
/// appears twice. Parameters other than `q` are skipped. `trailers` is read
/// like any coding, so `trailers;q=0` is listed with weight 0.
pub fn parse_te(value: &[u8]) -> Vec<TeCoding> {
    split_list(value).filter_map(parse_t_coding).collect()
}

/// Returns `true` if a TE field value lists `trailers` with a non-zero weight:
/// the client will not discard trailer fields (RFC 9110 §10.1.4).
pub fn te_accepts_trailers(value: &[u8]) -> bool {
    split_list(value)
        .filter_map(parse_t_coding)
        .any(|c| c.is_trailers() && c.q > 0)
}

fn parse_t_coding(element: &[u8]) -> Option<TeCoding> {
    let (name, rest) = element.split_at(token_len(element));
    if name.is_empty() {
        return None;
    }
    let mut q = None;
    for param in parameters(rest, true) {
        let (param_name, param_value) = param.ok()?;
        // RFC 9110 §12.4.2: the weight is the parameter "q" (case-insensitive).
        if param_name.eq_ignore_ascii_case(b"q") {
            let RawValue::Token(digits) = param_value else {
                return None;
            };
            if q.replace(parse_qvalue(digits)?).is_some() {
                return None;
            }
        }
    }
    let name = name
        .iter()
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect();
    Some(TeCoding {
        name,
        q: q.unwrap_or(1000),
    })
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`
/// (RFC 9110 §12.4.2), in thousandths.
fn parse_qvalue(s: &[u8]) -> Option<u16> {
    let (&first, rest) = s.split_first()?;
    let decimals = match rest {
        [] => &[][..],
        [b'.', decimals @ ..] if decimals.len() <= 3 => decimals,
        _ => return None,
    };
    if !decimals.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut thousandths = 0u16;
    for place in 0..3 {
        let digit = decimals.get(place).map_or(0, |&d| u16::from(d - b'0'));
        thousandths = thousandths * 10 + digit;
    }
    match first {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Parses a Trailer field value (RFC 9110 §6.6.2): `#field-name`. Returns the
/// names as received, in order; elements that are not a token are dropped.
pub fn parse_trailer(value: &[u8]) -> Vec<&[u8]> {
    split_list(value).filter(|name| is_token(name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn te(value: &str) -> Vec<(String, u16)> {
        parse_te(value.as_bytes())
            .into_iter()
            .map(|c| (c.name().to_string(), c.q()))
            .collect()
    }

    fn pairs(list: &[(&str, u16)]) -> Vec<(String, u16)> {
        list.iter().map(|&(n, q)| (n.to_string(), q)).collect()
    }

    #[test]
    fn codings_and_weights() {
        assert_eq!(
            te("trailers, deflate;q=0.5, gzip;q=0.25, x;q=1.0, y;q=0, z;q=0.001"),
            pairs(&[
                ("trailers", 1000),
                ("deflate", 500),
                ("gzip", 250),
                ("x", 1000),
                ("y", 0),
                ("z", 1),
            ])
        );
        assert_eq!(te(""), pairs(&[]));
        assert_eq!(te(" , ,"), pairs(&[]));
    }

    #[test]
    fn names_are_lowercased() {
        assert_eq!(
            te("GZip, TRAILERS"),
            pairs(&[("gzip", 1000), ("trailers", 1000)])
        );
        assert!(parse_te(b"Trailers")[0].is_trailers());
    }

    #[test]
    fn qvalue_grammar() {
        for (q, expected) in [
            ("0", 0),
            ("0.", 0),
            ("0.0", 0),
            ("0.5", 500),
            ("0.05", 50),
            ("0.999", 999),
            ("1", 1000),
            ("1.", 1000),
            ("1.000", 1000),
        ] {
            assert_eq!(parse_qvalue(q.as_bytes()), Some(expected), "{q}");
        }
        for bad in [
            "", "2", "1.5", "1.001", "0.1234", "abc", ".5", "01", "0.5x", "-0", "+1", "1.0000",
            "0,5", "0.-1",
        ] {
            assert_eq!(parse_qvalue(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn elements_with_invalid_weights_are_dropped() {
        assert_eq!(
            te("a;q=2, b;q=0.1234, c;q=abc, d;q=1.5, e;q=, f;q=\"0.5\", g;q=0.5;q=0.5, h"),
            pairs(&[("h", 1000)])
        );
    }

    #[test]
    fn other_parameters_are_skipped() {
        assert_eq!(
            te("ext;foo=bar;q=0.3, x;a=\"q=1, y\";Q=0.2, z ; q = 0.7"),
            pairs(&[("ext", 300), ("x", 200), ("z", 700)])
        );
    }

    #[test]
    fn malformed_elements_are_dropped() {
        assert_eq!(
            te("gzip;, (x), a b, c;d, g=1, ;q=1, \u{e9}, ok, e;f=\"open, h"),
            pairs(&[("gzip", 1000), ("ok", 1000)])
        );
        assert_eq!(parse_te(b"gz\xffip, ok\x00").len(), 0);
    }

    #[test]
    fn accepts_trailers() {
        assert!(te_accepts_trailers(b"trailers"));
        assert!(te_accepts_trailers(b"deflate, TRAILERS"));
        assert!(te_accepts_trailers(b"gzip;q=0.5, trailers;q=0.1"));
        assert!(!te_accepts_trailers(b""));
        assert!(!te_accepts_trailers(b"trailer"));
        assert!(!te_accepts_trailers(b"trailers-x, xtrailers"));
        assert!(!te_accepts_trailers(b"trailers;q=0"));
        assert!(!te_accepts_trailers(b"trailers;q=5"));
        assert!(!te_accepts_trailers(b"\"trailers\""));
    }

    #[test]
    fn trailer_names() {
        assert_eq!(parse_trailer(b"Expires"), [&b"Expires"[..]]);
        assert_eq!(
            parse_trailer(b" X-A ,, x-b,\tServer-Timing "),
            [&b"X-A"[..], b"x-b", b"Server-Timing"]
        );
        assert_eq!(parse_trailer(b""), Vec::<&[u8]>::new());
        // Not tokens: dropped, the rest kept.
        assert_eq!(
            parse_trailer(b"a b, \"c\", d:e, (x), ok, f\xff, g;h"),
            [&b"ok"[..]]
        );
    }

    proptest! {
        #[test]
        fn never_panics(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            let te = parse_te(&value);
            prop_assert!(te.iter().all(|c| c.q() <= 1000 && !c.name().is_empty()));
            let _ = te_accepts_trailers(&value);
            prop_assert!(parse_trailer(&value).iter().all(|n| is_token(n)));
        }

        #[test]
        fn every_valid_qvalue_round_trips(thousandths in 0u16..=1000, places in 0usize..=3) {
            let text = if thousandths == 1000 {
                format!("1.{}", "0".repeat(places))
            } else {
                // Only values that `places` decimals can express exactly.
                let scale = 10u16.pow(3 - places as u32);
                let t = thousandths / scale * scale;
                let digits = format!("{t:03}");
                format!("0.{}", &digits[..places])
            };
            let expected = if thousandths == 1000 { 1000 } else {
                let scale = 10u16.pow(3 - places as u32);
                thousandths / scale * scale
            };
            let value = format!("gzip;q={text}");
            prop_assert_eq!(te(&value), pairs(&[("gzip", expected)]));
        }

        #[test]
        fn one_bad_element_does_not_spoil_the_rest(
            good in proptest::collection::vec("[a-z]{1,6}", 0..4),
            bad in proptest::collection::vec(any::<u8>(), 0..10),
        ) {
            let mut value = good.join(",").into_bytes();
            value.extend_from_slice(b",");
            value.extend_from_slice(&bad);
            let names: Vec<String> = parse_te(&value).into_iter().map(|c| c.name().to_string()).collect();
            prop_assert!(names.len() >= good.len());
            prop_assert_eq!(&names[..good.len()], &good[..]);
        }
    }
}
