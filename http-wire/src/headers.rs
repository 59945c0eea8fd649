//! Helpers over plain lists of `(name, value)` pairs: [`get_header`] (with
//! a default) and [`remove_headers`].
//!
//! This module owns lookups and removals by field name on lists the caller
//! owns (application headers before they are serialised, trailers after they
//! were received). Names compare ignoring ASCII case (RFC 9110 §5.1), order
//! and duplicates are kept (RFC 9110 §5.3: order matters for fields that may
//! repeat). It does not validate names or values; serialising does that.
//!
//! The helpers are generic over anything that is bytes, so `&[(String,
//! String)]`, `&[(&str, &str)]`, `&[(Vec<u8>, Vec<u8>)]` and `&[(Bytes,
//! Bytes)]` all work:
//!
//! ```
//! use gruvi_wire::{get_header, remove_headers};
//!
//! let mut headers = vec![
//!     ("Content-Type".to_string(), "text/plain".to_string()),
//!     ("X-Trace".to_string(), "1".to_string()),
//!     ("x-trace".to_string(), "2".to_string()),
//! ];
//! assert_eq!(get_header(&headers, "x-TRACE", None).map(String::as_str), Some("1"));
//! remove_headers(&mut headers, &["X-Trace"]);
//! assert_eq!(headers.len(), 1);
//! ```

/// The value of the first field named `name` (ignoring ASCII case,
/// RFC 9110 §5.1), or `default` when there is none.
///
/// Returns the first value, not a combination of all of them: combining
/// with commas (RFC 9110 §5.3) is wrong for Set-Cookie and for values that
/// hold commas themselves. Use [`get_all`] to see every value.
pub fn get_header<'a, N, V>(
    headers: &'a [(N, V)],
    name: impl AsRef<[u8]>,
    default: Option<&'a V>,
) -> Option<&'a V>
where
    N: AsRef<[u8]>,
{
    let name = name.as_ref();
    headers
        .iter()
        .find(|(n, _)| n.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .or(default)
}

/// The values of every field named `name` (ignoring ASCII case), in list
/// order.
pub fn get_all<N, V>(headers: &[(N, V)], name: impl AsRef<[u8]>) -> impl Iterator<Item = &V>
where
    N: AsRef<[u8]>,
{
    headers
        .iter()
        .filter(move |(n, _)| n.as_ref().eq_ignore_ascii_case(name.as_ref()))
        .map(|(_, v)| v)
}

/// Removes, in place, every field whose name equals one of `names` (ignoring
/// ASCII case), keeping the rest in order.
///
/// One pass over the list ([`Vec::retain`]): the cost is the number of
/// fields times the number of names, never quadratic in the fields.
pub fn remove_headers<N, V, S>(headers: &mut Vec<(N, V)>, names: &[S])
where
    N: AsRef<[u8]>,
    S: AsRef<[u8]>,
{
    if names.is_empty() {
        return;
    }
    headers.retain(|(n, _)| {
        let n = n.as_ref();
        !names
            .iter()
            .any(|name| n.eq_ignore_ascii_case(name.as_ref()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    #[test]
    fn get_header_finds_first_match_ignoring_case() {
        let headers = [("Host", "a"), ("X-Dup", "1"), ("x-dup", "2")];
        assert_eq!(get_header(&headers, "host", None), Some(&"a"));
        assert_eq!(get_header(&headers, "X-DUP", None), Some(&"1"));
        assert_eq!(get_header(&headers, b"x-dup", None), Some(&"1"));
    }

    #[test]
    fn get_header_falls_back_to_default() {
        let headers = [("Host", "a")];
        let default = "fallback";
        assert_eq!(get_header(&headers, "Accept", None), None);
        assert_eq!(
            get_header(&headers, "Accept", Some(&default)),
            Some(&"fallback")
        );
        // A present field wins over the default.
        assert_eq!(get_header(&headers, "HOST", Some(&default)), Some(&"a"));
        let empty: [(&str, &str); 0] = [];
        assert_eq!(
            get_header(&empty, "Host", Some(&default)),
            Some(&"fallback")
        );
    }

    #[test]
    fn names_are_not_prefix_matched() {
        let headers = [("Content-Length", "1"), ("Content", "2")];
        assert_eq!(get_header(&headers, "Content", None), Some(&"2"));
        assert_eq!(get_header(&headers, "Content-Len", None), None);
        assert_eq!(get_header(&headers, "", None), None);
    }

    #[test]
    fn works_over_every_owned_and_borrowed_pair_type() {
        let strings = vec![("A".to_string(), "1".to_string())];
        assert_eq!(
            get_header(&strings, "a", None).map(String::as_str),
            Some("1")
        );

        let vecs = vec![(b"A".to_vec(), b"1".to_vec())];
        assert_eq!(
            get_header(&vecs, "a", None).map(Vec::as_slice),
            Some(&b"1"[..])
        );

        let bytes = vec![(Bytes::from_static(b"A"), Bytes::from_static(b"1"))];
        assert_eq!(
            get_header(&bytes, "a", None),
            Some(&Bytes::from_static(b"1"))
        );

        let headers = [(http::header::HOST, "h")];
        assert_eq!(get_header(&headers, "Host", None), Some(&"h"));
    }

    #[test]
    fn get_all_yields_every_value_in_order() {
        let headers = [("Set-Cookie", "a=1"), ("Other", "x"), ("set-cookie", "b=2")];
        let all: Vec<_> = get_all(&headers, "SET-COOKIE").copied().collect();
        assert_eq!(all, ["a=1", "b=2"]);
        assert_eq!(get_all(&headers, "missing").count(), 0);
    }

    #[test]
    fn non_ascii_names_compare_bytewise() {
        // Only ASCII letters fold; other bytes must match exactly.
        let headers = [(&b"X-\xc4"[..], "1")];
        assert_eq!(get_header(&headers, b"x-\xc4", None), Some(&"1"));
        assert_eq!(get_header(&headers, b"x-\xe4", None), None);
    }

    #[test]
    fn remove_headers_removes_all_matches_and_keeps_order() {
        let mut headers = vec![
            ("Connection", "close"),
            ("A", "1"),
            ("TE", "trailers"),
            ("B", "2"),
            ("connection", "x"),
            ("C", "3"),
        ];
        remove_headers(&mut headers, &["CONNECTION", "te"]);
        assert_eq!(headers, [("A", "1"), ("B", "2"), ("C", "3")]);

        remove_headers(&mut headers, &[] as &[&str]);
        assert_eq!(headers.len(), 3);
        remove_headers(&mut headers, &["missing"]);
        assert_eq!(headers.len(), 3);
        remove_headers(&mut headers, &["a", "b", "c"]);
        assert!(headers.is_empty());
    }

    #[test]
    fn remove_headers_accepts_owned_names_and_values() {
        let mut headers: Vec<(String, String)> =
            vec![("X".into(), "1".into()), ("Y".into(), "2".into())];
        let names = vec![String::from("x")];
        remove_headers(&mut headers, &names);
        assert_eq!(headers, [("Y".to_string(), "2".to_string())]);
    }

    #[test]
    fn remove_headers_on_a_huge_list_is_one_pass() {
        // Quadratic removal (Vec::remove per match) would take ~10^10 moves
        // here; retain does it in one pass.
        let mut headers: Vec<(String, String)> = (0..100_000)
            .map(|i| {
                let name = if i % 2 == 0 { "X-Drop" } else { "X-Keep" };
                (name.to_string(), i.to_string())
            })
            .collect();
        remove_headers(&mut headers, &["x-drop"]);
        assert_eq!(headers.len(), 50_000);
        assert!(headers.iter().all(|(n, _)| n == "X-Keep"));
        let values: Vec<usize> = headers.iter().map(|(_, v)| v.parse().unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] < w[1]), "order is kept");
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("A".to_string()),
            Just("b".to_string()),
            "[a-cA-C]{0,3}"
        ]
    }

    proptest! {
        #[test]
        fn get_header_equals_a_linear_search(
            headers in proptest::collection::vec((name(), "[0-9]{1,3}"), 0..20),
            wanted in name(),
        ) {
            // Reference: compare lowercased copies.
            let wanted_lower = wanted.to_ascii_lowercase();
            let expected = headers
                .iter()
                .position(|(n, _)| n.to_ascii_lowercase() == wanted_lower)
                .map(|i| &headers[i].1);
            prop_assert_eq!(get_header(&headers, &wanted, None), expected);
            let all: Vec<&String> = get_all(&headers, &wanted).collect();
            prop_assert_eq!(all.first().copied(), expected);
        }

        #[test]
        fn remove_headers_equals_a_filter(
            headers in proptest::collection::vec((name(), "[0-9]{1,3}"), 0..20),
            names in proptest::collection::vec(name(), 0..3),
        ) {
            let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
            let expected: Vec<(String, String)> = headers
                .iter()
                .filter(|(n, _)| !lower.contains(&n.to_ascii_lowercase()))
                .cloned()
                .collect();
            let mut actual = headers.clone();
            remove_headers(&mut actual, &names);
            prop_assert_eq!(actual, expected);
        }
    }
}
