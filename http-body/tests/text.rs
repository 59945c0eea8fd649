//! Text bodies encoded with the charset of their Content-Type.

use gruvi_body::{CharsetError, encode_text, encode_with_charset};
use proptest::prelude::*;

fn unencodable(charset: &str, character: char, index: usize) -> CharsetError {
    CharsetError::Unencodable {
        charset: charset.to_owned(),
        character,
        index,
    }
}

fn encode(text: &str, content_type: &str) -> Result<Vec<u8>, CharsetError> {
    encode_text(text, Some(content_type.as_bytes())).map(|b| b.to_vec())
}

#[test]
fn no_content_type_means_iso_8859_1() {
    assert_eq!(&encode_text("café", None).unwrap()[..], b"caf\xe9");
    assert_eq!(&encode_text("", None).unwrap()[..], b"");
    assert_eq!(
        &encode_text("plain ascii", None).unwrap()[..],
        b"plain ascii"
    );
}

#[test]
fn content_type_without_charset_means_iso_8859_1() {
    assert_eq!(encode("café", "text/plain").unwrap(), b"caf\xe9");
    assert_eq!(encode("ÿ", "text/html; q=1").unwrap(), b"\xff");
    // A value that is not a media type has no charset either.
    assert_eq!(encode("café", "not a media type").unwrap(), b"caf\xe9");
}

#[test]
fn the_default_is_true_iso_8859_1_not_windows_1252() {
    // windows-1252 would write the euro sign as 0x80.
    let err = encode_text("€", None).unwrap_err();
    assert_eq!(err, unencodable("ISO-8859-1", '€', 0));
    let message = err.to_string();
    assert!(message.contains("ISO-8859-1"), "{message}");
    assert!(message.contains('€'), "{message}");
    assert!(message.contains("U+20AC"), "{message}");
    assert_eq!(encode("€", "text/plain").unwrap_err(), err);
    // And the C1 controls windows-1252 redefines are ISO-8859-1's own.
    assert_eq!(&encode_text("\u{80}\u{9f}", None).unwrap()[..], b"\x80\x9f");
}

#[test]
fn the_error_points_at_the_first_offending_character() {
    let text = "naïve — “quoted”";
    let err = encode_text(text, None).unwrap_err();
    let CharsetError::Unencodable {
        charset,
        character,
        index,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(charset, "ISO-8859-1");
    assert_eq!(*character, '—');
    assert_eq!(*index, "naïve ".len(), "a byte offset");
    assert!(text[*index..].starts_with(*character));
    assert_eq!(
        err.to_string(),
        "text cannot be encoded as ISO-8859-1: '—' (U+2014) at byte 7"
    );
}

#[test]
fn iso_8859_1_labels() {
    for label in [
        "iso-8859-1",
        "ISO-8859-1",
        "latin1",
        "LATIN1",
        "l1",
        "L1",
        "iso_8859-1",
        "ISO8859-1",
        "iso_8859-1:1987",
        "iso-ir-100",
        "cp819",
        "IBM819",
        "csISOLatin1",
        " latin1 ",
    ] {
        assert_eq!(
            encode_with_charset("café", label).unwrap(),
            &b"caf\xe9"[..],
            "{label}"
        );
        assert_eq!(
            encode_with_charset("€", label).unwrap_err(),
            unencodable("ISO-8859-1", '€', 0),
            "{label}"
        );
    }
    assert_eq!(
        encode("café", "text/plain; charset=\"Latin1\"").unwrap(),
        b"caf\xe9"
    );
}

#[test]
fn no_whatwg_windows_1252_alias_reaches_windows_1252() {
    // The WHATWG label table's windows-1252 entry: only the last three mean it.
    for label in [
        "ansi_x3.4-1968",
        "ascii",
        "cp819",
        "csisolatin1",
        "ibm819",
        "iso-8859-1",
        "iso-ir-100",
        "iso8859-1",
        "iso88591",
        "iso_8859-1",
        "iso_8859-1:1987",
        "l1",
        "latin1",
        "us-ascii",
    ] {
        let err = encode_with_charset("€", label).unwrap_err();
        assert!(
            matches!(&err, CharsetError::Unencodable { charset, .. } if charset == "ISO-8859-1" || charset == "US-ASCII"),
            "{label}: {err:?}"
        );
    }
    for label in ["windows-1252", "cp1252", "x-cp1252", "Windows-1252"] {
        assert_eq!(
            encode_with_charset("€", label).unwrap(),
            &b"\x80"[..],
            "{label}"
        );
    }
}

#[test]
fn windows_1252_when_asked_for() {
    assert_eq!(
        encode("5 € “x”", "text/plain; charset=windows-1252").unwrap(),
        b"5 \x80 \x93x\x94"
    );
    // U+0100 is outside windows-1252.
    assert_eq!(
        encode("Ā", "text/plain; charset=windows-1252").unwrap_err(),
        unencodable("windows-1252", 'Ā', 0)
    );
}

#[test]
fn utf_8() {
    let text = "café € 日本 🎉";
    for ct in [
        "text/plain; charset=utf-8",
        "text/plain; charset=UTF-8",
        "text/plain; Charset=\"UTF-8\"",
        "text/plain;charset=utf8",
        "application/json; charset=\"utf-8\"",
    ] {
        assert_eq!(encode(text, ct).unwrap(), text.as_bytes(), "{ct}");
    }
}

#[test]
fn us_ascii() {
    for label in ["us-ascii", "US-ASCII", "ascii", "ANSI_X3.4-1968", "csASCII"] {
        assert_eq!(
            encode_with_charset("plain\ttext\r\n\x7f", label).unwrap(),
            &b"plain\ttext\r\n\x7f"[..],
            "{label}"
        );
        assert_eq!(
            encode_with_charset("café", label).unwrap_err(),
            unencodable("US-ASCII", 'é', 3),
            "{label}"
        );
    }
    let err = encode("\u{80}", "text/plain; charset=us-ascii").unwrap_err();
    assert_eq!(err, unencodable("US-ASCII", '\u{80}', 0));
    assert!(err.to_string().contains("U+0080"), "{err}");
}

#[test]
fn utf_16() {
    let text = "aé€🎉";
    // 'a' 0061, 'é' 00E9, '€' 20AC, '🎉' D83C DF89
    assert_eq!(
        encode(text, "text/plain; charset=utf-16le").unwrap(),
        b"\x61\x00\xe9\x00\xac\x20\x3c\xd8\x89\xdf"
    );
    assert_eq!(
        encode(text, "text/plain; charset=UTF-16BE").unwrap(),
        b"\x00\x61\x00\xe9\x20\xac\xd8\x3c\xdf\x89"
    );
    // Unlabelled byte order: big-endian behind a BOM (RFC 2781 §3.3).
    assert_eq!(
        encode(text, "text/plain; charset=utf-16").unwrap(),
        b"\xfe\xff\x00\x61\x00\xe9\x20\xac\xd8\x3c\xdf\x89"
    );
    assert_eq!(
        encode("", "text/plain; charset=utf-16").unwrap(),
        b"\xfe\xff"
    );
    assert_eq!(encode("", "text/plain; charset=utf-16le").unwrap(), b"");
}

#[test]
fn shift_jis_through_encoding_rs() {
    assert_eq!(
        encode("日本", "text/plain; charset=Shift_JIS").unwrap(),
        b"\x93\xfa\x96\x7b"
    );
    assert_eq!(
        encode("a日本", "text/plain; charset=shift_jis").unwrap(),
        b"a\x93\xfa\x96\x7b"
    );
    // Hangul is not in JIS X 0208.
    let err = encode("日本한", "text/plain; charset=shift_jis").unwrap_err();
    assert_eq!(err, unencodable("Shift_JIS", '한', 6));
}

#[test]
fn iso_8859_2_through_encoding_rs() {
    assert_eq!(
        encode("Łódź ß", "text/plain; charset=iso-8859-2").unwrap(),
        b"\xa3\xf3d\xbc \xdf"
    );
    // No euro sign in ISO-8859-2: an error, never "&#8364;".
    let err = encode("Łó€", "text/plain; charset=ISO-8859-2").unwrap_err();
    assert_eq!(err, unencodable("ISO-8859-2", '€', 4));
    assert_eq!(
        err.to_string(),
        "text cannot be encoded as ISO-8859-2: '€' (U+20AC) at byte 4"
    );
}

#[test]
fn the_offset_counts_from_the_start_of_a_long_text() {
    let prefix = "日本".repeat(10_000);
    let text = format!("{prefix}€");
    let err = encode_with_charset(&text, "euc-jp");
    // EUC-JP has no euro sign.
    assert_eq!(err.unwrap_err(), unencodable("EUC-JP", '€', prefix.len()));
    let ok = encode_with_charset(&prefix, "euc-jp").unwrap();
    assert_eq!(ok.len(), 40_000);
    assert_eq!(&ok[..4], b"\xc6\xfc\xcb\xdc");
}

#[test]
fn stateful_iso_2022_jp() {
    assert_eq!(
        encode_with_charset("a日本b", "iso-2022-jp").unwrap(),
        &b"a\x1b$BF|K\\\x1b(Bb"[..]
    );
    assert_eq!(
        encode_with_charset("a日€", "iso-2022-jp").unwrap_err(),
        unencodable("ISO-2022-JP", '€', 4)
    );
}

#[test]
fn unknown_charsets() {
    for label in ["klingon", "utf-7", "utf-32", "", "x"] {
        assert_eq!(
            encode_with_charset("text", label).unwrap_err(),
            CharsetError::UnknownCharset(label.to_owned()),
            "{label:?}"
        );
    }
    // Labels encoding_rs knows only for decoding.
    for label in ["iso-2022-kr", "hz-gb-2312", "unicode", "ucs-2"] {
        assert_eq!(
            encode_with_charset("text", label).unwrap_err(),
            CharsetError::UnknownCharset(label.to_owned()),
            "{label:?}"
        );
    }
    let err = encode("text", "text/plain; charset=\"klingon\"").unwrap_err();
    assert_eq!(err, CharsetError::UnknownCharset("klingon".to_owned()));
    assert_eq!(
        err.to_string(),
        "unknown charset \"klingon\": no encoder for it"
    );
}

#[test]
fn charset_error_is_a_std_error() {
    fn assert_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    assert_error(&encode_text("€", None).unwrap_err());
}

fn latin1_char() -> impl Strategy<Value = char> {
    (0u8..=0xff).prop_map(char::from)
}

fn latin1_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(latin1_char(), 0..64).prop_map(|c| c.into_iter().collect())
}

proptest! {
    #[test]
    fn iso_8859_1_round_trips(text in latin1_string()) {
        let bytes = encode_text(&text, None).unwrap();
        let back: String = bytes.iter().map(|&b| char::from(b)).collect();
        prop_assert_eq!(bytes.len(), text.chars().count());
        prop_assert_eq!(back, text);
    }

    #[test]
    fn above_u_00ff_is_an_error_naming_the_first(
        prefix in latin1_string(),
        bad in (0x100u32..=0x10_ffff).prop_filter_map("a char", char::from_u32),
        suffix in ".{0,8}",
    ) {
        let text = format!("{prefix}{bad}{suffix}");
        prop_assert_eq!(
            encode_text(&text, Some(b"text/plain")).unwrap_err(),
            unencodable("ISO-8859-1", bad, prefix.len())
        );
    }

    #[test]
    fn never_panics(text in ".{0,16}", label in "[ -~]{0,20}") {
        let _ = encode_with_charset(&text, &label);
    }
}
