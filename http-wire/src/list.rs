//! The `#rule` list syntax of RFC 9110 §5.6.1, shared by every list-valued
//! field we interpret (Connection, Transfer-Encoding, TE, Trailer, ...).

/// Splits a list field value into its elements: separated by commas outside
/// quoted strings, trimmed of optional whitespace, empty elements dropped
/// (RFC 9110 §5.6.1 ¶4: a recipient accepts and ignores empty elements).
pub fn split_list(value: &[u8]) -> ListElements<'_> {
    ListElements { rest: value }
}

/// Iterator returned by [`split_list`].
#[derive(Clone, Debug)]
pub struct ListElements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ListElements<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = element_end(self.rest);
            let element = trim_ows(&self.rest[..end]);
            self.rest = self.rest.get(end + 1..).unwrap_or(&[]);
            if !element.is_empty() {
                return Some(element);
            }
        }
    }
}

/// Index of the first comma outside a quoted string, or the length.
fn element_end(s: &[u8]) -> usize {
    let mut in_quotes = false;
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if in_quotes => i += 1, // quoted-pair: skip the escaped byte
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => return i,
            _ => {}
        }
        i += 1;
    }
    s.len()
}

/// Trims optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
pub fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Returns `true` if the list value holds `token`, compared case-insensitively
/// (for token lists such as Connection).
pub fn list_contains(value: &[u8], token: &[u8]) -> bool {
    split_list(value).any(|element| element.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(value: &str) -> Vec<&str> {
        split_list(value.as_bytes())
            .map(|e| std::str::from_utf8(e).unwrap())
            .collect()
    }

    #[test]
    fn splits_trims_and_drops_empty_elements() {
        assert_eq!(elements("a, b,c"), ["a", "b", "c"]);
        assert_eq!(elements(" ,, a ,\t,b , "), ["a", "b"]);
        assert_eq!(elements(""), Vec::<&str>::new());
        assert_eq!(elements(",,,"), Vec::<&str>::new());
    }

    #[test]
    fn commas_inside_quoted_strings_do_not_split() {
        assert_eq!(
            elements(r#"a;q="1,2", b;x="\",", c"#),
            [r#"a;q="1,2""#, r#"b;x="\",""#, "c"]
        );
    }

    #[test]
    fn contains_is_case_insensitive() {
        assert!(list_contains(b"Keep-Alive, Upgrade", b"upgrade"));
        assert!(!list_contains(b"keep-alive-ish", b"keep-alive"));
    }
}
