//! Parsed heads: every part is a [`Span`] of the input buffer (zero-copy), and
//! fields keep their received order, original case and duplicates.
//!
//! A head does not borrow its buffer, so the caller can keep reading into it;
//! the accessors take the buffer back. Once the head is complete, freeze the
//! buffer into [`Bytes`] and use [`Span::slice`] for zero-copy slices.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;

/// A byte range of the buffer a head was parsed from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    start: u32,
    end: u32,
}

impl Span {
    pub(crate) const fn new(start: usize, end: usize) -> Span {
        // Heads are bounded by `Limits::max_head_bytes`, at most u32::MAX.
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The range, in bytes from the start of the buffer.
    pub const fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// Length in bytes.
    pub const fn len(self) -> usize {
        (self.end - self.start) as usize
    }

    /// Returns `true` if the span is empty.
    pub const fn is_empty(self) -> bool {
        self.start == self.end
    }

    /// The bytes of this span in `buf`, the buffer the head was parsed from.
    ///
    /// # Panics
    /// If `buf` is shorter than the span (it is not that buffer).
    pub fn of(self, buf: &[u8]) -> &[u8] {
        &buf[self.range()]
    }

    /// The bytes of this span as a zero-copy slice of the frozen buffer.
    ///
    /// # Panics
    /// If `buf` is shorter than the span (it is not that buffer).
    pub fn slice(self, buf: &Bytes) -> Bytes {
        buf.slice(self.range())
    }
}

/// The protocol version of a message. HTTP/1.x with a minor version above 1
/// is treated as HTTP/1.1 (RFC 9110 §6.2: a recipient may assume it
/// implements the highest minor version it knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1 (and any later 1.x)
    Http11,
}

impl Version {
    /// The version as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// The version to speak for an `http` crate version: HTTP/1.0 as
    /// itself, any other as HTTP/1.1 (the newest this library speaks).
    pub fn from_http(version: http::Version) -> Version {
        if version == http::Version::HTTP_10 {
            Version::Http10
        } else {
            Version::Http11
        }
    }

    /// `(major, minor)`: `(1, 1)` for HTTP/1.1.
    pub const fn as_tuple(self) -> (u8, u8) {
        match self {
            Version::Http10 => (1, 0),
            Version::Http11 => (1, 1),
        }
    }
}

impl From<Version> for http::Version {
    fn from(version: Version) -> http::Version {
        match version {
            Version::Http10 => http::Version::HTTP_10,
            Version::Http11 => http::Version::HTTP_11,
        }
    }
}

/// One field line: name and value as received. The value is trimmed of
/// surrounding whitespace; a response value folded over several lines
/// (obs-fold) is reported by [`Field::is_folded`] and unfolded by
/// [`Field::value`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    name: Span,
    value: Span,
    folded: bool,
}

impl Field {
    pub(crate) const fn new(name: Span, value: Span, folded: bool) -> Field {
        Field {
            name,
            value,
            folded,
        }
    }

    /// The name's span, in received case.
    pub const fn name_span(&self) -> Span {
        self.name
    }

    /// The value's span. For a folded value it covers the raw folded text.
    pub const fn value_span(&self) -> Span {
        self.value
    }

    /// Returns `true` if the value was folded over several lines (responses
    /// only; a request with obs-fold is rejected).
    pub const fn is_folded(&self) -> bool {
        self.folded
    }

    /// The name, in received case.
    pub fn name<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.name.of(buf)
    }

    /// The value. Borrowed unless it was folded: RFC 9112 §5.2 has each
    /// obs-fold replaced by one SP.
    pub fn value<'b>(&self, buf: &'b [u8]) -> Cow<'b, [u8]> {
        let raw = self.value.of(buf);
        if self.folded {
            Cow::Owned(unfold(raw))
        } else {
            Cow::Borrowed(raw)
        }
    }

    /// The value as a zero-copy slice of the frozen buffer (a copy only when
    /// the value was folded).
    pub fn value_bytes(&self, buf: &Bytes) -> Bytes {
        if self.folded {
            Bytes::from(unfold(self.value.of(buf)))
        } else {
            self.value.slice(buf)
        }
    }
}

/// Replaces each `OWS CRLF 1*(SP / HTAB)` (or with a bare LF) by one SP.
fn unfold(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' || raw[i] == b'\n' {
            while matches!(out.last(), Some(b' ' | b'\t')) {
                out.pop();
            }
            while i < raw.len() && matches!(raw[i], b'\r' | b'\n' | b' ' | b'\t') {
                i += 1;
            }
            out.push(b' ');
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// How many fields a parser holds without allocating while it parses: room
/// for them is reserved once, when the parser is created, and reused for
/// every head it parses.
pub const INLINE_FIELDS: usize = 32;

/// The field lines of a head, in received order, duplicates kept.
#[derive(Clone, Debug)]
pub struct Fields {
    list: Vec<Field>,
    /// The recognised fields present.
    known: Known,
    /// The recognised fields present more than once.
    repeated: Known,
    /// Index of the first line of each recognised field (by bit number).
    first: [u16; Known::COUNT],
}

impl Fields {
    /// Called once per field line from the parser's line loop: inlined so a
    /// field is written straight into the list.
    #[inline(always)]
    pub(crate) fn push(&mut self, field: Field, known: Known) {
        if known != Known::NONE {
            if self.known.contains(known) {
                self.repeated = self.repeated.with(known);
            } else {
                // Field counts are bounded by `Limits::max_fields`; a list
                // longer than u16 can index keeps the last index that fits,
                // and `known_lines` then scans from there.
                self.first[known.bit()] = u16::try_from(self.list.len()).unwrap_or(u16::MAX);
                self.known = self.known.with(known);
            }
        }
        self.list.push(field);
    }

    /// Empties the list, keeping its storage for the next head.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.known = Known::NONE;
        self.repeated = Known::NONE;
    }

    /// The lines of a recognised field, in order, without scanning the lines
    /// before its first one, and stopping after it when it is not repeated.
    pub(crate) fn known_lines<'h>(
        &'h self,
        buf: &'h [u8],
        known: Known,
    ) -> impl Iterator<Item = &'h Field> + use<'h> {
        let (start, count) = if !self.known.contains(known) {
            (self.list.len(), 0)
        } else if self.repeated.contains(known) {
            (usize::from(self.first[known.bit()]), usize::MAX)
        } else {
            (usize::from(self.first[known.bit()]), 1)
        };
        let start = start.min(self.list.len());
        // The first line is the field by construction; later ones are checked.
        self.list[start..]
            .iter()
            .enumerate()
            .filter(move |(k, f)| *k == 0 || Known::of_name(f.name(buf)) == known)
            .map(|(_, f)| f)
            .take(count)
    }

    pub(crate) fn last_mut(&mut self) -> Option<&mut Field> {
        self.list.last_mut()
    }

    /// The fields in received order.
    pub fn as_slice(&self) -> &[Field] {
        &self.list
    }

    /// Number of field lines.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Returns `true` if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Iterates over the fields in received order.
    pub fn iter(&self) -> std::slice::Iter<'_, Field> {
        self.list.iter()
    }

    /// The fields whose name equals `name`, ignoring ASCII case.
    pub fn named<'h, 'n>(
        &'h self,
        buf: &'h [u8],
        name: &'n [u8],
    ) -> impl Iterator<Item = &'h Field> + use<'h, 'n> {
        self.list
            .iter()
            .filter(move |f| f.name(buf).eq_ignore_ascii_case(name))
    }

    /// Returns `true` if a field recognised while parsing is present; lets
    /// framing skip scanning for fields that are not there.
    pub(crate) fn has(&self, known: Known) -> bool {
        self.known.contains(known)
    }
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            list: Vec::with_capacity(INLINE_FIELDS),
            known: Known::NONE,
            repeated: Known::NONE,
            first: [0; Known::COUNT],
        }
    }
}

/// Two field lists are equal when their lines are: the rest is derived.
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.list == other.list
    }
}

impl Eq for Fields {}

impl<'a> IntoIterator for &'a Fields {
    type Item = &'a Field;
    type IntoIter = std::slice::Iter<'a, Field>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Returns `true` if the token `name` is `lower` (lower-case letters and
/// `-`, of the same length, at least four bytes) ignoring ASCII case,
/// comparing words that cover it: eight bytes at a time and the last eight,
/// or under eight bytes, the first four and the last four (the last word
/// may overlap the one before). Setting bit 0x20 lower-cases a letter and
/// turns no other token byte into a letter or `-` (only CR would become
/// `-`, and a token has none; RFC 9110 §5.6.2), so the masked bytes are
/// equal exactly when the names are.
fn token_eq_lowercase(name: &[u8], lower: &[u8]) -> bool {
    debug_assert_eq!(name.len(), lower.len());
    debug_assert!(name.len() >= 4);
    debug_assert!(name.iter().all(|&b| crate::scan::is_tchar(b)));
    let len = name.len();
    if len < 8 {
        let half =
            |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("four bytes"));
        return [0, len - 4]
            .into_iter()
            .all(|at| half(name, at) | 0x2020_2020 == half(lower, at));
    }
    let word =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let mut at = 0;
    while at + 8 < len {
        if word(name, at) | 0x2020_2020_2020_2020 != word(lower, at) {
            return false;
        }
        at += 8;
    }
    word(name, len - 8) | 0x2020_2020_2020_2020 == word(lower, len - 8)
}

/// Bits for the fields that change how a message is framed or the connection
/// is handled, set while parsing so later decisions need no rescan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Known(u8);

impl Known {
    pub(crate) const NONE: Known = Known(0);
    pub(crate) const HOST: Known = Known(1);
    pub(crate) const CONTENT_LENGTH: Known = Known(1 << 1);
    pub(crate) const TRANSFER_ENCODING: Known = Known(1 << 2);
    pub(crate) const CONNECTION: Known = Known(1 << 3);
    pub(crate) const UPGRADE: Known = Known(1 << 4);
    pub(crate) const EXPECT: Known = Known(1 << 5);
    /// How many fields are recognised.
    pub(crate) const COUNT: usize = 6;

    /// The bit number of a single recognised field.
    fn bit(self) -> usize {
        self.0.trailing_zeros() as usize
    }

    /// Classifies a field name (a token, as every parsed name is); names
    /// are compared ignoring ASCII case.
    #[inline(always)]
    pub(crate) fn of_name(name: &[u8]) -> Known {
        /// The recognised names by length (no two share one), lower case.
        static BY_LENGTH: [(Known, &[u8]); 18] = {
            let mut table: [(Known, &[u8]); 18] = [(Known::NONE, b""); 18];
            table[4] = (Known::HOST, b"host");
            table[6] = (Known::EXPECT, b"expect");
            table[7] = (Known::UPGRADE, b"upgrade");
            table[10] = (Known::CONNECTION, b"connection");
            table[14] = (Known::CONTENT_LENGTH, b"content-length");
            table[17] = (Known::TRANSFER_ENCODING, b"transfer-encoding");
            table
        };
        let Some(&(known, expected)) = BY_LENGTH.get(name.len()) else {
            return Known::NONE;
        };
        // The first byte rejects most names of a matching length (Date vs
        // host, Server vs expect) before the full comparison; an empty name
        // finds no entry.
        if known != Known::NONE
            && name[0] | 0x20 == expected[0]
            && token_eq_lowercase(name, expected)
        {
            known
        } else {
            Known::NONE
        }
    }

    const fn with(self, other: Known) -> Known {
        Known(self.0 | other.0)
    }

    const fn contains(self, other: Known) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The form of a request-target (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query`, the usual form.
    Origin,
    /// `scheme://authority/path?query`, sent to proxies (and accepted by servers).
    Absolute,
    /// `host:port`, for CONNECT only.
    Authority,
    /// `*`, for a server-wide OPTIONS only.
    Asterisk,
}

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    pub(crate) method: Span,
    pub(crate) target: Span,
    pub(crate) target_form: TargetForm,
    pub(crate) version: Version,
    pub(crate) fields: Fields,
}

impl RequestHead {
    /// The method's span (case-sensitive, RFC 9110 §9.1).
    pub const fn method(&self) -> Span {
        self.method
    }

    /// The request-target's span.
    pub const fn target(&self) -> Span {
        self.target
    }

    /// The form of the request-target.
    pub const fn target_form(&self) -> TargetForm {
        self.target_form
    }

    /// The version.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The fields, in received order.
    pub const fn fields(&self) -> &Fields {
        &self.fields
    }
}

/// A parsed response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: Span,
    pub(crate) fields: Fields,
}

impl ResponseHead {
    /// The version.
    pub const fn version(&self) -> Version {
        self.version
    }

    /// The status code, 100 to 999.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase's span (may be empty).
    pub const fn reason(&self) -> Span {
        self.reason
    }

    /// The fields, in received order.
    pub const fn fields(&self) -> &Fields {
        &self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfold_replaces_each_fold_with_one_space() {
        assert_eq!(unfold(b"a \r\n  b\r\n\tc"), b"a b c");
        assert_eq!(unfold(b"a\n b"), b"a b");
    }

    #[test]
    fn masked_comparison_agrees_with_case_folding_for_every_token_byte() {
        let names: [&[u8]; 6] = [
            b"host",
            b"expect",
            b"upgrade",
            b"connection",
            b"content-length",
            b"transfer-encoding",
        ];
        let tchars: Vec<u8> = (0..=255u8).filter(|&b| crate::scan::is_tchar(b)).collect();
        for lower in names {
            for at in 0..lower.len() {
                for &b in &tchars {
                    let mut name = lower.to_vec();
                    name[at] = b;
                    assert_eq!(
                        token_eq_lowercase(&name, lower),
                        name.eq_ignore_ascii_case(lower),
                        "{:?} vs {:?}",
                        String::from_utf8_lossy(&name),
                        String::from_utf8_lossy(lower)
                    );
                }
            }
            assert!(token_eq_lowercase(&lower.to_ascii_uppercase(), lower));
        }
    }

    #[test]
    fn known_names_ignore_case() {
        assert_eq!(Known::of_name(b"HoSt"), Known::HOST);
        assert_eq!(Known::of_name(b"Content-Length"), Known::CONTENT_LENGTH);
        assert_eq!(Known::of_name(b"Transfer-Encodinx"), Known::NONE);
        assert_eq!(Known::of_name(b"x"), Known::NONE);
    }
}
