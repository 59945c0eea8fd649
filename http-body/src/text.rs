//! Text bodies: turning a `&str` into body bytes with the charset its
//! Content-Type names.
//!
//! This module owns the charset rules for outgoing text: which labels name
//! which encoding, the ISO-8859-1 default, and the error when the text holds a
//! character the charset cannot express. It does not parse Content-Type (that
//! is [`gruvi_wire::parse_content_type`]) and does not frame or send the body.
//! Encoding is a pure function: an unencodable text is reported before a byte
//! of the message is written.
//!
//! ```
//! use gruvi_body::{CharsetError, encode_text};
//!
//! // No charset: ISO-8859-1.
//! let body = encode_text("café", Some(b"text/plain")).unwrap();
//! assert_eq!(&body[..], b"caf\xe9");
//!
//! // ISO-8859-1 has no euro sign: an error, never a silent substitute.
//! let err = encode_text("5 €", None).unwrap_err();
//! assert!(matches!(err, CharsetError::Unencodable { character: '€', index: 2, .. }));
//!
//! let body = encode_text("5 €", Some(b"text/plain; charset=utf-8")).unwrap();
//! assert_eq!(&body[..], "5 €".as_bytes());
//! ```
//!
//! The charsets understood are listed on [`encode_with_charset`], where
//! users of the crate see them (this module is private).
//!
//! # ISO-8859-1 is not windows-1252
//!
//! The WHATWG label table maps `iso-8859-1`, `latin1`, `us-ascii` and their
//! aliases to windows-1252, because browsers decode them that way. For
//! *encoding* that would be wrong twice: windows-1252 writes `€` as `0x80`
//! where ISO-8859-1 has no euro sign, and it cannot write U+0080..=U+009F,
//! which ISO-8859-1 can. So those labels never reach `encoding_rs` here;
//! only `windows-1252`, `cp1252` and `x-cp1252` mean windows-1252.

use std::fmt;

use bytes::Bytes;
use encoding_rs::{EncoderResult, Encoding};

/// A text body that could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CharsetError {
    /// The text holds a character the charset cannot express.
    Unencodable {
        /// The charset's canonical name (`"ISO-8859-1"`, `"US-ASCII"`,
        /// `"Shift_JIS"`, …), not the label as given.
        charset: String,
        /// The first character that cannot be encoded.
        character: char,
        /// Where `character` starts in the text, as a **byte** offset (the
        /// index `str` slicing uses, so `&text[index..]` starts with it).
        index: usize,
    },
    /// The `charset` names no encoding this crate can encode to; holds the
    /// label as given.
    UnknownCharset(String),
}

impl fmt::Display for CharsetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CharsetError::Unencodable {
                charset,
                character,
                index,
            } => write!(
                f,
                "text cannot be encoded as {charset}: {character:?} (U+{:04X}) at byte {index}",
                u32::from(*character)
            ),
            CharsetError::UnknownCharset(label) => {
                write!(f, "unknown charset {label:?}: no encoder for it")
            }
        }
    }
}

impl std::error::Error for CharsetError {}

/// The canonical name of true ISO-8859-1, as errors report it.
const ISO_8859_1: &str = "ISO-8859-1";
/// The canonical name of US-ASCII, as errors report it.
const US_ASCII: &str = "US-ASCII";

/// Labels of US-ASCII (IANA character-sets registry, plus the WHATWG label
/// `ansi_x3.4-1968`); matched ignoring ASCII case.
const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "us",
    "ansi_x3.4-1968",
    "ansi_x3.4-1986",
    "iso-ir-6",
    "iso_646.irv:1991",
    "iso646-us",
    "ibm367",
    "cp367",
    "csascii",
];

/// Labels of ISO-8859-1 (IANA character-sets registry, plus the spellings
/// WHATWG lists); matched ignoring ASCII case.
const LATIN1_LABELS: &[&str] = &[
    "iso-8859-1",
    "iso_8859-1",
    "iso_8859-1:1987",
    "iso8859-1",
    "iso88591",
    "latin1",
    "l1",
    "iso-ir-100",
    "ibm819",
    "cp819",
    "csisolatin1",
];

/// The encodings this module implements itself rather than through
/// `encoding_rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Builtin {
    Ascii,
    Latin1,
    /// Big-endian, with a byte order mark.
    Utf16,
    Utf16Le,
    Utf16Be,
}

impl Builtin {
    fn for_label(label: &str) -> Option<Builtin> {
        let is = |labels: &[&str]| labels.iter().any(|l| l.eq_ignore_ascii_case(label));
        if is(ASCII_LABELS) {
            Some(Builtin::Ascii)
        } else if is(LATIN1_LABELS) {
            Some(Builtin::Latin1)
        } else if is(&["utf-16", "csutf16"]) {
            Some(Builtin::Utf16)
        } else if is(&["utf-16le", "csutf16le"]) {
            Some(Builtin::Utf16Le)
        } else if is(&["utf-16be", "csutf16be"]) {
            Some(Builtin::Utf16Be)
        } else {
            None
        }
    }
}

/// Encodes a text body with the `charset` of its Content-Type.
///
/// `content_type` is the raw Content-Type field value, if the message has
/// one. Without one, without a `charset` parameter, or when the value does
/// not parse as a media type, the text is encoded as ISO-8859-1. See
/// [`encode_with_charset`] for the charsets understood.
///
/// ```
/// use gruvi_body::encode_text;
///
/// let body = encode_text("naïve", Some(b"text/plain")).unwrap();
/// assert_eq!(&body[..], b"na\xefve");
/// let body = encode_text("naïve", Some(b"text/plain; charset=UTF-16LE")).unwrap();
/// assert_eq!(body.len(), 10);
/// assert!(encode_text("naïve", Some(b"text/plain; charset=ascii")).is_err());
/// ```
///
/// # Errors
///
/// [`CharsetError::Unencodable`] naming the first character the charset
/// cannot express; [`CharsetError::UnknownCharset`] for a `charset` that
/// names no encoding this crate can write.
pub fn encode_text(text: &str, content_type: Option<&[u8]>) -> Result<Bytes, CharsetError> {
    let content_type = content_type.and_then(gruvi_wire::parse_content_type);
    match content_type.as_ref().and_then(|ct| ct.charset()) {
        Some(charset) => encode_with_charset(text, charset),
        None => encode_latin1(text),
    }
}

/// Encodes `text` in the charset named by `charset` (a label such as
/// `"utf-8"` or `"ISO-8859-1"`).
///
/// # Charsets
///
/// Labels are matched ignoring ASCII case and surrounding whitespace.
///
/// - **ISO-8859-1** (`iso-8859-1`, `latin1`, `l1`, `iso_8859-1`, `iso8859-1`,
///   `cp819`, … the IANA aliases): the identity on U+0000..=U+00FF; anything
///   above is an error. This is also the charset when the Content-Type has no
///   `charset` parameter, or there is no Content-Type, or it does not parse
///   (as gruvi.http does; RFC 2616 §3.7.1 made it the default for `text/*`).
/// - **US-ASCII** (`us-ascii`, `ascii`, `ansi_x3.4-1968`, `iso646-us`, …):
///   any character above U+007F is an error.
/// - **UTF-8**: every text encodes; the bytes are the `&str`'s own.
/// - **UTF-16**: `utf-16le` and `utf-16be` without a byte order mark;
///   `utf-16` is big-endian *with* a BOM (`FE FF`), as RFC 2781 §3.3 asks of
///   unlabelled UTF-16, so any reader — including a WHATWG one, which sniffs
///   the BOM — gets the byte order right. Every text encodes.
/// - **Everything else** goes through [`encoding_rs::Encoding::for_label`]
///   (the WHATWG Encoding Standard's labels: Shift_JIS, EUC-JP, ISO-2022-JP,
///   GBK, gb18030, Big5, EUC-KR, windows-125x, ISO-8859-x, KOI8, …). A
///   character the encoding cannot map is an error: `encoding_rs` would
///   otherwise write an HTML numeric character reference (`&#8364;`) in its
///   place, which is not what a body's reader expects.
///
/// A label that names no encoding, or one that can only be decoded (the
/// WHATWG "replacement" labels such as `iso-2022-kr`, and the UCS-2 aliases
/// `unicode`, `ucs-2`, … that WHATWG maps to UTF-16LE), is
/// [`CharsetError::UnknownCharset`].
///
/// ISO-8859-1 is *not* windows-1252 here, although the WHATWG label table
/// maps `iso-8859-1`, `latin1` and `us-ascii` to it: only `windows-1252`,
/// `cp1252` and `x-cp1252` select windows-1252 (which writes `€` as `0x80`).
///
/// # Errors
///
/// As [`encode_text`].
pub fn encode_with_charset(text: &str, charset: &str) -> Result<Bytes, CharsetError> {
    // The same whitespace `Encoding::for_label` trims: trimming here too
    // keeps " latin1" from slipping past the ISO-8859-1 labels to
    // windows-1252.
    let label = charset.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\x0C' | '\r'));
    match Builtin::for_label(label) {
        Some(Builtin::Ascii) => encode_ascii(text),
        Some(Builtin::Latin1) => encode_latin1(text),
        Some(Builtin::Utf16) => Ok(encode_utf16(text, true, u16::to_be_bytes)),
        Some(Builtin::Utf16Le) => Ok(encode_utf16(text, false, u16::to_le_bytes)),
        Some(Builtin::Utf16Be) => Ok(encode_utf16(text, false, u16::to_be_bytes)),
        None => match Encoding::for_label(label.as_bytes()) {
            Some(encoding) if encoding == encoding_rs::UTF_8 => {
                Ok(Bytes::copy_from_slice(text.as_bytes()))
            }
            // UTF-16 and "replacement" encode as UTF-8 in encoding_rs
            // (`output_encoding`): writing UTF-8 under their label would be a
            // lie, so they are not encodable here.
            Some(encoding) if encoding.output_encoding() == encoding => {
                encode_legacy(text, encoding)
            }
            _ => Err(CharsetError::UnknownCharset(charset.to_owned())),
        },
    }
}

fn unencodable(charset: &str, index: usize, character: char) -> CharsetError {
    CharsetError::Unencodable {
        charset: charset.to_owned(),
        character,
        index,
    }
}

fn encode_ascii(text: &str) -> Result<Bytes, CharsetError> {
    match text.char_indices().find(|(_, c)| !c.is_ascii()) {
        Some((index, c)) => Err(unencodable(US_ASCII, index, c)),
        None => Ok(Bytes::copy_from_slice(text.as_bytes())),
    }
}

/// True ISO-8859-1: byte n is U+00nn.
fn encode_latin1(text: &str) -> Result<Bytes, CharsetError> {
    if text.is_ascii() {
        return Ok(Bytes::copy_from_slice(text.as_bytes()));
    }
    let mut out = Vec::with_capacity(text.len());
    for (index, c) in text.char_indices() {
        match u8::try_from(c) {
            Ok(byte) => out.push(byte),
            Err(_) => return Err(unencodable(ISO_8859_1, index, c)),
        }
    }
    Ok(Bytes::from(out))
}

fn encode_utf16(text: &str, bom: bool, unit_bytes: fn(u16) -> [u8; 2]) -> Bytes {
    let mut out = Vec::with_capacity(text.len().saturating_mul(2).saturating_add(2));
    if bom {
        out.extend_from_slice(&unit_bytes(0xFEFF));
    }
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit_bytes(unit));
    }
    Bytes::from(out)
}

/// Encodes through `encoding_rs`, without its numeric-character-reference
/// replacement: the first unmappable character is the error.
fn encode_legacy(text: &str, encoding: &'static Encoding) -> Result<Bytes, CharsetError> {
    let mut encoder = encoding.new_encoder();
    let capacity = encoder
        .max_buffer_length_from_utf8_without_replacement(text.len())
        .unwrap_or(text.len());
    let mut out = Vec::with_capacity(capacity);
    let mut read = 0;
    loop {
        let rest = text.get(read..).unwrap_or_default();
        let (result, n) = encoder.encode_from_utf8_to_vec_without_replacement(rest, &mut out, true);
        read += n;
        match result {
            EncoderResult::InputEmpty => return Ok(Bytes::from(out)),
            // `read` counts the unmappable character: it starts before.
            EncoderResult::Unmappable(c) => {
                return Err(unencodable(
                    encoding.name(),
                    read.saturating_sub(c.len_utf8()),
                    c,
                ));
            }
            EncoderResult::OutputFull => {
                let rest = text.len().saturating_sub(read);
                let more = encoder
                    .max_buffer_length_from_utf8_without_replacement(rest)
                    .unwrap_or(rest);
                out.reserve(more.max(16));
            }
        }
    }
}
