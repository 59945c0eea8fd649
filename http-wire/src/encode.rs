//! Writing heads: the request line or status line, then field lines, each
//! checked so that nothing invalid or ambiguous reaches the wire.
//!
//! Header text is ISO-8859-1 (RFC 9110 §5.5: field values are octets):
//! a `&str` is written one byte per code point, and a code point above U+00FF
//! is an error, never mangled. Application code may not set hop-by-hop fields
//! ([`check_application_field`]); the connection layer writes those itself
//! with [`HeadWriter::field`].

use std::borrow::Cow;
use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::head::Version;
use crate::list::{split_list, trim_ows};
use crate::scan::{is_target_byte, is_token, skip_text_bytes};

/// Why a head could not be written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The method is not a token.
    InvalidMethod(String),
    /// The request-target is empty or has a byte outside visible ASCII.
    InvalidTarget(String),
    /// The status code is outside 100..=999.
    InvalidStatus(u16),
    /// A field name is not a token.
    InvalidFieldName(String),
    /// A field value has CR, LF, NUL, another control byte or DEL, or starts
    /// or ends with whitespace (RFC 9110 §5.5).
    InvalidFieldValue {
        /// The field's name (or "reason phrase").
        name: String,
    },
    /// Text with a code point ISO-8859-1 cannot express.
    NotIso88591 {
        /// What the text was for: a field name, or "method", "target", ...
        name: String,
        /// The first character that does not fit.
        character: char,
    },
    /// A hop-by-hop field set by application code (RFC 9110 §7.6.1).
    HopByHop(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::InvalidMethod(m) => write!(f, "invalid method {m:?}: not a token"),
            EncodeError::InvalidTarget(t) => write!(f, "invalid request-target {t:?}"),
            EncodeError::InvalidStatus(s) => write!(f, "invalid status code {s}: not 100..=999"),
            EncodeError::InvalidFieldName(n) => write!(f, "invalid field name {n:?}: not a token"),
            EncodeError::InvalidFieldValue { name } => write!(
                f,
                "invalid value for {name:?}: control character or surrounding whitespace"
            ),
            EncodeError::NotIso88591 { name, character } => write!(
                f,
                "{name:?} contains {character:?} (U+{:04X}), which ISO-8859-1 cannot encode",
                u32::from(*character)
            ),
            EncodeError::HopByHop(n) => write!(
                f,
                "{n:?} is a hop-by-hop field: only the HTTP implementation may set it"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Text that can go into a head: bytes as they are, or a string encoded as
/// ISO-8859-1.
pub trait HeadText {
    /// The bytes to write; `Err(c)` with the first character ISO-8859-1
    /// cannot express.
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char>;
}

impl HeadText for str {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        if self.is_ascii() {
            return Ok(Cow::Borrowed(self.as_bytes()));
        }
        self.chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| c))
            .collect::<Result<Vec<u8>, char>>()
            .map(Cow::Owned)
    }
}

impl HeadText for String {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        self.as_str().head_bytes()
    }
}

impl HeadText for [u8] {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self))
    }
}

impl<const N: usize> HeadText for [u8; N] {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self))
    }
}

impl HeadText for Vec<u8> {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self))
    }
}

impl HeadText for bytes::Bytes {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self))
    }
}

impl HeadText for http::HeaderName {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self.as_str().as_bytes()))
    }
}

impl HeadText for http::HeaderValue {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self.as_bytes()))
    }
}

impl HeadText for http::Method {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        Ok(Cow::Borrowed(self.as_str().as_bytes()))
    }
}

impl<T: HeadText + ?Sized> HeadText for &T {
    fn head_bytes(&self) -> Result<Cow<'_, [u8]>, char> {
        (**self).head_bytes()
    }
}

/// The hop-by-hop fields of RFC 9110 §7.6.1 and RFC 2616 §13.5.1 (which
/// spells `Trailers`): only the HTTP implementation may set them.
pub const HOP_BY_HOP_FIELDS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// Returns `true` if `name` is a hop-by-hop field (ASCII case-insensitive).
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP_FIELDS
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h.as_bytes()))
}

/// Checks a field that application code wants to send: hop-by-hop fields are
/// refused, except what the application legitimately needs — `Connection:
/// close` to ask for a close, and with `upgrade` (a 101 response or an
/// upgrade request) `Upgrade` and `Connection: upgrade`.
pub fn check_application_field(
    name: &[u8],
    value: &[u8],
    upgrade: bool,
) -> Result<(), EncodeError> {
    if !is_hop_by_hop(name) {
        return Ok(());
    }
    let allowed = if name.eq_ignore_ascii_case(b"connection") {
        split_list(value).all(|token| {
            token.eq_ignore_ascii_case(b"close")
                || (upgrade && token.eq_ignore_ascii_case(b"upgrade"))
        })
    } else {
        upgrade && name.eq_ignore_ascii_case(b"upgrade")
    };
    if allowed {
        Ok(())
    } else {
        Err(EncodeError::HopByHop(latin1_text(name)))
    }
}

/// Returns `true` for `TE: trailers`: the one TE field a client's caller
/// may send, to say it accepts trailers (RFC 9110 §10.1.4; whoever writes
/// it must also list `TE` in `Connection`).
pub fn is_te_trailers(name: &[u8], value: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"te")
        && split_list(value).all(|token| token.eq_ignore_ascii_case(b"trailers"))
}

/// A field line's name and value bytes, checked by [`check_field`].
pub type CheckedField<'t> = (Cow<'t, [u8]>, Cow<'t, [u8]>);

/// Checks a field line's syntax and returns its bytes: the name a token, the
/// value a valid field value (RFC 9110 §5.1, §5.5), `&str` text encoded as
/// ISO-8859-1. What [`HeadWriter::field`] writes is exactly what this
/// accepts; it also serves fields written later (trailers).
pub fn check_field<'t>(
    name: &'t (impl HeadText + ?Sized),
    value: &'t (impl HeadText + ?Sized),
) -> Result<CheckedField<'t>, EncodeError> {
    let name = text(name, || "field name".to_owned())?;
    if !is_token(&name) {
        return Err(EncodeError::InvalidFieldName(latin1_text(&name)));
    }
    let value = text(value, || latin1_text(&name))?;
    if !is_field_value(&value) {
        return Err(EncodeError::InvalidFieldValue {
            name: latin1_text(&name),
        });
    }
    Ok((name, value))
}

/// Writes one head into a buffer. A writer dropped before
/// [`finish`](Self::finish) — after an error, say — removes what it wrote, so
/// a half-written head never reaches the wire.
///
/// ```
/// use bytes::BytesMut;
/// use gruvi_wire::{HeadWriter, Version};
///
/// let mut buf = BytesMut::new();
/// let mut head = HeadWriter::response(&mut buf, Version::Http11, 200, None)?;
/// head.field("Content-Length", "5")?;
/// head.finish();
/// assert_eq!(&buf[..], b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
/// # Ok::<(), gruvi_wire::EncodeError>(())
/// ```
#[derive(Debug)]
#[must_use = "a head writer removes what it wrote unless `finish` is called"]
pub struct HeadWriter<'a> {
    dst: &'a mut BytesMut,
    start: usize,
    finished: bool,
}

impl<'a> HeadWriter<'a> {
    /// Starts a request head: `method SP target SP version CRLF`.
    pub fn request(
        dst: &'a mut BytesMut,
        method: &(impl HeadText + ?Sized),
        target: &(impl HeadText + ?Sized),
        version: Version,
    ) -> Result<Self, EncodeError> {
        let method = text(method, || "method".to_owned())?;
        if !is_token(&method) {
            return Err(EncodeError::InvalidMethod(latin1_text(&method)));
        }
        let target = text(target, || "request-target".to_owned())?;
        if target.is_empty() || !target.iter().all(|&b| is_target_byte(b)) {
            return Err(EncodeError::InvalidTarget(latin1_text(&target)));
        }
        let start = dst.len();
        dst.reserve(method.len() + target.len() + 12);
        dst.put_slice(&method);
        dst.put_u8(b' ');
        dst.put_slice(&target);
        dst.put_u8(b' ');
        dst.put_slice(version.as_str().as_bytes());
        dst.put_slice(b"\r\n");
        Ok(HeadWriter {
            dst,
            start,
            finished: false,
        })
    }

    /// Starts a response head: `version SP status SP reason CRLF`; without a
    /// reason, the status code's canonical one (empty for unknown codes).
    pub fn response(
        dst: &'a mut BytesMut,
        version: Version,
        status: u16,
        reason: Option<&str>,
    ) -> Result<Self, EncodeError> {
        if !(100..=999).contains(&status) {
            return Err(EncodeError::InvalidStatus(status));
        }
        let start = dst.len();
        // The status line of nearly every response, in one copy, before any
        // reason is looked up.
        if version == Version::Http11 && status == 200 && matches!(reason, None | Some("OK")) {
            dst.put_slice(b"HTTP/1.1 200 OK\r\n");
        } else {
            let reason: Cow<'_, [u8]> = match reason {
                Some(reason) => {
                    let bytes = text(reason, || "reason phrase".to_owned())?;
                    if !is_field_value(&bytes) {
                        return Err(EncodeError::InvalidFieldValue {
                            name: "reason phrase".into(),
                        });
                    }
                    bytes
                }
                None => Cow::Borrowed(
                    http::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("")
                        .as_bytes(),
                ),
            };
            dst.reserve(reason.len() + 15);
            dst.put_slice(version.as_str().as_bytes());
            dst.put_slice(&[
                b' ',
                b'0' + (status / 100) as u8,
                b'0' + (status / 10 % 10) as u8,
            ]);
            dst.put_slice(&[b'0' + (status % 10) as u8, b' ']);
            dst.put_slice(&reason);
            dst.put_slice(b"\r\n");
        }
        Ok(HeadWriter {
            dst,
            start,
            finished: false,
        })
    }

    /// Starts a trailer section (RFC 9112 §7.1.2): field lines, then the
    /// empty line that [`finish`](Self::finish) writes; no start line. The
    /// fields get the same checks as a head's.
    pub fn trailer_section(dst: &'a mut BytesMut) -> Self {
        let start = dst.len();
        HeadWriter {
            dst,
            start,
            finished: false,
        }
    }

    /// Writes a field line after checking its syntax. Hop-by-hop fields are
    /// allowed: this is the connection layer's own entry point.
    pub fn field(
        &mut self,
        name: &(impl HeadText + ?Sized),
        value: &(impl HeadText + ?Sized),
    ) -> Result<&mut Self, EncodeError> {
        let (name, value) = check_field(name, value)?;
        self.put_field(&name, &value);
        Ok(self)
    }

    /// Writes a field line whose name and value are already known to be valid
    /// (constants of the connection layer, numbers it formatted).
    ///
    /// Hidden: it checks only in debug builds, so a caller could write CR
    /// or LF into a head; `gruvi-conn` needs it public for the constant
    /// fields of every response it writes. Use [`field`](Self::field).
    #[doc(hidden)]
    pub fn trusted_field(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        debug_assert!(is_token(name) && is_field_value(value));
        self.put_field(name, value);
        self
    }

    /// Writes a field from the `http` crate's types without checking its
    /// bytes again: a `HeaderName` is a token by construction, and a
    /// `HeaderValue` holds no CR, LF, NUL or other control but HTAB. Only
    /// the whitespace a `HeaderValue` may carry at its ends is trimmed
    /// (RFC 9110 §5.5: it is not part of the value).
    pub fn http_field(&mut self, name: &http::HeaderName, value: &http::HeaderValue) -> &mut Self {
        self.put_field(name.as_str().as_bytes(), trim_ows(value.as_bytes()));
        self
    }

    /// Writes `Content-Length: n`, the number formatted on the stack: the
    /// framing field of nearly every message costs no allocation.
    pub fn content_length(&mut self, n: u64) -> &mut Self {
        let mut digits = [0u8; 20]; // u64::MAX has 20 digits
        let mut start = digits.len();
        let mut rest = n;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.put_field(b"Content-Length", &digits[start..]);
        self
    }

    /// `name: value CRLF`, in one reservation, the separators stored
    /// directly (every response writes a few of these).
    fn put_field(&mut self, name: &[u8], value: &[u8]) {
        // Saturating: a length past memory makes `reserve` panic, never a
        // wrapped one that would leave too little room for the copies.
        let len = name.len().saturating_add(value.len()).saturating_add(4);
        self.dst.reserve(len);
        let at = self.dst.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: `reserve` made room for `len` bytes after the buffer's
        // length, and the four copies fill exactly those `len` bytes (the
        // sources are other memory: `&mut self.dst` excludes any borrow of
        // it), so `set_len` covers only initialised bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(name.as_ptr(), at, name.len());
            let at = at.add(name.len());
            at.cast::<[u8; 2]>().write_unaligned(*b": ");
            let at = at.add(2);
            std::ptr::copy_nonoverlapping(value.as_ptr(), at, value.len());
            at.add(value.len())
                .cast::<[u8; 2]>()
                .write_unaligned(*b"\r\n");
            self.dst.set_len(self.dst.len() + len);
        }
    }

    /// Ends the head with the empty line and keeps it in the buffer.
    pub fn finish(mut self) {
        self.dst.put_slice(b"\r\n");
        self.finished = true;
    }
}

impl Drop for HeadWriter<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.dst.truncate(self.start);
        }
    }
}

/// RFC 9110 §5.5: `field-value = *field-content`, and field-content starts and
/// ends with a visible byte, so no surrounding whitespace.
fn is_field_value(value: &[u8]) -> bool {
    if matches!(value.first(), Some(b' ' | b'\t')) || matches!(value.last(), Some(b' ' | b'\t')) {
        return false;
    }
    let mut i = 0;
    loop {
        i = skip_text_bytes(value, i);
        match value.get(i) {
            None => return true,
            Some(b'\t') => i += 1,
            Some(_) => return false,
        }
    }
}

/// `text` as ISO-8859-1 bytes; `what` names it in the error, built only
/// when there is one (this runs for every field written).
fn text<'t>(
    text: &'t (impl HeadText + ?Sized),
    what: impl FnOnce() -> String,
) -> Result<Cow<'t, [u8]>, EncodeError> {
    text.head_bytes()
        .map_err(|character| EncodeError::NotIso88591 {
            name: what(),
            character,
        })
}

/// ISO-8859-1 bytes as text: byte n is U+00nn (RFC 9110 §5.5 ¶3 on
/// obs-text), so nothing is lost — the inverse of what [`HeadText`] does to
/// `&str`. For error messages, and for callers that show fields as text.
pub fn latin1_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_fields_are_written_without_their_edge_whitespace() {
        let mut buf = BytesMut::new();
        let mut head = HeadWriter::response(&mut buf, Version::Http11, 200, None).unwrap();
        let name = http::HeaderName::from_static("x-tab");
        head.http_field(&name, &http::HeaderValue::from_static(" a\tb \t"));
        let name = http::HeaderName::from_static("x-latin");
        head.http_field(&name, &http::HeaderValue::from_bytes(b"caf\xe9").unwrap());
        head.finish();
        assert_eq!(
            &buf[..],
            b"HTTP/1.1 200 OK\r\nx-tab: a\tb\r\nx-latin: caf\xe9\r\n\r\n"
        );
    }

    #[test]
    fn writes_request_and_response_heads() {
        let mut buf = BytesMut::new();
        let mut head = HeadWriter::request(&mut buf, "GET", "/a?b=c", Version::Http11).unwrap();
        head.field("Host", "example.com")
            .unwrap()
            .field("X-Latin", "caf\u{e9}")
            .unwrap();
        head.finish();
        assert_eq!(
            &buf[..],
            b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Latin: caf\xe9\r\n\r\n"
        );

        let mut buf = BytesMut::new();
        HeadWriter::response(&mut buf, Version::Http10, 404, None)
            .unwrap()
            .finish();
        assert_eq!(&buf[..], b"HTTP/1.0 404 Not Found\r\n\r\n");
        let mut buf = BytesMut::new();
        HeadWriter::response(&mut buf, Version::Http11, 299, Some("Fine"))
            .unwrap()
            .finish();
        assert_eq!(&buf[..], b"HTTP/1.1 299 Fine\r\n\r\n");
        let mut buf = BytesMut::new();
        HeadWriter::response(&mut buf, Version::Http11, 599, None)
            .unwrap()
            .finish();
        assert_eq!(&buf[..], b"HTTP/1.1 599 \r\n\r\n");
    }

    #[test]
    fn text_outside_iso_8859_1_is_an_error_naming_the_character() {
        let mut buf = BytesMut::new();
        let mut head = HeadWriter::request(&mut buf, "GET", "/", Version::Http11).unwrap();
        let error = head.field("X-Name", "snow \u{2603}").unwrap_err();
        assert_eq!(
            error,
            EncodeError::NotIso88591 {
                name: "X-Name".into(),
                character: '\u{2603}'
            }
        );
        assert!(error.to_string().contains("U+2603"), "{error}");
    }

    #[test]
    fn invalid_parts_are_refused() {
        let mut buf = BytesMut::new();
        assert!(matches!(
            HeadWriter::request(&mut buf, "GE T", "/", Version::Http11),
            Err(EncodeError::InvalidMethod(_))
        ));
        assert!(matches!(
            HeadWriter::request(&mut buf, "GET", "/a b", Version::Http11),
            Err(EncodeError::InvalidTarget(_))
        ));
        assert!(matches!(
            HeadWriter::request(&mut buf, "GET", "", Version::Http11),
            Err(EncodeError::InvalidTarget(_))
        ));
        assert!(matches!(
            HeadWriter::response(&mut buf, Version::Http11, 99, None),
            Err(EncodeError::InvalidStatus(99))
        ));
        assert!(matches!(
            HeadWriter::response(&mut buf, Version::Http11, 200, Some("a\r\nb")),
            Err(EncodeError::InvalidFieldValue { .. })
        ));
        assert!(buf.is_empty());
        let mut head = HeadWriter::request(&mut buf, "GET", "/", Version::Http11).unwrap();
        for (name, value) in [
            ("X", "a\r\nInjected: 1"),
            ("X", "a\nb"),
            ("X", "a\0"),
            ("X", " a"),
            ("X", "a\t"),
            ("X", "\x7f"),
        ] {
            assert!(
                matches!(
                    head.field(name, value),
                    Err(EncodeError::InvalidFieldValue { .. })
                ),
                "{value:?}"
            );
        }
        for name in ["", "X Y", "X:", "Caf\u{e9}"] {
            assert!(head.field(name, "v").is_err(), "{name:?}");
        }
        head.field("X", "tab\tinside \u{ff}").unwrap();
    }

    #[test]
    fn a_writer_dropped_unfinished_leaves_the_buffer_as_it_was() {
        let mut buf = BytesMut::from(&b"earlier bytes"[..]);
        {
            let mut head = HeadWriter::request(&mut buf, "GET", "/", Version::Http11).unwrap();
            head.field("A", "1").unwrap();
            assert!(head.field("B", "\r").is_err());
        }
        assert_eq!(&buf[..], b"earlier bytes");
    }

    #[test]
    fn content_length_is_written_in_decimal() {
        // Every digit count, at both ends, after bytes already written.
        let powers = (0..20).map(|e| 10u64.pow(e));
        let edges = powers
            .flat_map(|p| [p - 1, p, p + 1])
            .chain([1234567890, u64::MAX]);
        for n in edges {
            let mut buf = BytesMut::from(&b"X: y\r\n"[..]);
            let mut head = HeadWriter::trailer_section(&mut buf);
            head.content_length(n);
            head.finish();
            assert_eq!(
                &buf[..],
                format!("X: y\r\nContent-Length: {n}\r\n\r\n").as_bytes()
            );
        }
    }

    #[test]
    fn trailer_sections_are_fields_and_an_empty_line() {
        let mut buf = BytesMut::new();
        let mut section = HeadWriter::trailer_section(&mut buf);
        section.field("X-Checksum", "abc").unwrap();
        section.finish();
        assert_eq!(&buf[..], b"X-Checksum: abc\r\n\r\n");
        let mut buf = BytesMut::new();
        HeadWriter::trailer_section(&mut buf).finish();
        assert_eq!(&buf[..], b"\r\n");
    }

    #[test]
    fn hop_by_hop_rules() {
        for name in HOP_BY_HOP_FIELDS {
            assert!(
                check_application_field(name.as_bytes(), b"x", false).is_err(),
                "{name}"
            );
            assert!(
                check_application_field(name.to_uppercase().as_bytes(), b"x", false).is_err(),
                "{name}"
            );
        }
        assert!(check_application_field(b"Connection", b"close", false).is_ok());
        assert!(check_application_field(b"Connection", b"keep-alive", false).is_err());
        assert!(check_application_field(b"Connection", b"upgrade", false).is_err());
        assert!(check_application_field(b"Connection", b"Upgrade", true).is_ok());
        assert!(check_application_field(b"Upgrade", b"websocket", true).is_ok());
        assert!(check_application_field(b"Upgrade", b"websocket", false).is_err());
        assert!(check_application_field(b"Content-Type", b"text/plain", false).is_ok());

        let error = check_application_field(b"Transfer-Encoding", b"chunked", false).unwrap_err();
        assert_eq!(error, EncodeError::HopByHop("Transfer-Encoding".into()));
        assert!(error.to_string().contains("hop-by-hop"));
    }
}
