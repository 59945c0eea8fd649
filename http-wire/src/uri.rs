//! URI pieces of RFC 3986 as HTTP uses them (RFC 9110 §4): authorities for
//! Host and CONNECT targets, request-targets, and the URLs a client is asked
//! to fetch.
//!
//! This module owns the syntax of those strings: splitting them into their
//! components and checking each against RFC 3986. It does not resolve
//! relative references, normalise paths or decode percent-encoding; a path
//! is passed on exactly as given.
//!
//! ```
//! use gruvi_wire::parse_url;
//!
//! let url = parse_url("HTTPS://[::1]:8443/a/b?x=1#top", "http")?;
//! assert_eq!(url.scheme(), "https");
//! assert!(url.is_tls());
//! assert_eq!(url.host(), "::1");
//! assert_eq!(url.authority(), "[::1]:8443");
//! assert_eq!(url.target(), "/a/b?x=1");
//! assert_eq!(url.addr()?, ("::1".to_string(), 8443));
//!
//! // No "://": the default scheme applies, so this is not scheme "localhost".
//! let url = parse_url("localhost:8080", "http")?;
//! assert_eq!((url.scheme(), url.host(), url.port()), ("http", "localhost", Some(8080)));
//! assert_eq!(url.target(), "/");
//! # Ok::<(), gruvi_wire::UrlError>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv6Addr;

use crate::scan::{parse_decimal, skip_target_bytes};

/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2–3.2.3): the value
/// of Host, and with `port_required` the authority-form of CONNECT (RFC 9112
/// §3.2.3), which also needs a non-empty host. No userinfo is allowed. A port,
/// when present, is at most 65535.
pub(crate) fn is_valid_authority(s: &[u8], port_required: bool) -> bool {
    let (host_ok, host_len, port) = if s.first() == Some(&b'[') {
        let Some((host, port)) = split_host_port(s) else {
            return false;
        };
        let ok = matches!(host, [b'[', literal @ .., b']'] if is_ip_literal(literal));
        (ok, host.len(), port)
    } else {
        // Every request's Host takes this path: one pass over the reg-name.
        let end = reg_name_end(s);
        match s.get(end) {
            None => (true, end, None),
            Some(b':') => (true, end, Some(&s[end + 1..])),
            Some(_) => (false, end, None),
        }
    };
    let port_ok = match port {
        None => !port_required,
        // RFC 3986 §3.2.3 allows an empty port after ':'; CONNECT needs one.
        Some([]) => !port_required,
        Some(digits) => parse_port(digits).is_some(),
    };
    host_ok && port_ok && !(port_required && host_len == 0)
}

/// Splits `host[:port]`; the host of an IP literal keeps its brackets.
/// `None` when text follows the closing bracket that is not `:port`.
fn split_host_port(s: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']')?;
        let (host, rest) = s.split_at(close + 1);
        return match rest {
            [] => Some((host, None)),
            [b':', port @ ..] => Some((host, Some(port))),
            _ => None,
        };
    }
    match s.iter().position(|&b| b == b':') {
        Some(colon) => Some((&s[..colon], Some(&s[colon + 1..]))),
        None => Some((s, None)),
    }
}

/// `IP-literal` without its brackets: an IPv6 address or `IPvFuture`.
fn is_ip_literal(s: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = s {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail
                .iter()
                .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(s).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986
/// §3.2.2; IPv4 addresses are reg-names by syntax), in one pass: this runs on
/// every request's Host.
fn is_reg_name(host: &[u8]) -> bool {
    reg_name_end(host) == host.len()
}

/// The length of the longest reg-name at the start of `s`.
fn reg_name_end(s: &[u8]) -> usize {
    static REG_NAME: [bool; 256] = {
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let c = b as u8;
            table[b] = c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'-' | b'.' | b'_' | b'~' // unreserved
                        | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' // sub-delims
                );
            b += 1;
        }
        table
    };
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if REG_NAME[usize::from(b)] {
            i += 1;
        } else if b == b'%' {
            match s.get(i + 1..i + 3) {
                Some([x, y]) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                _ => return i,
            }
        } else {
            return i;
        }
    }
    i
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Every `%` starts `pct-encoded = "%" HEXDIG HEXDIG`.
fn is_pct_encoding_valid(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            match s.get(i + 1..i + 3) {
                Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// Why a URL or request-target was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The string is empty.
    Empty,
    /// A character outside visible ASCII (0x21..=0x7E): a space, a control
    /// character or a non-ASCII character. RFC 3986 §2 allows none of them
    /// anywhere in a URI; percent-encode them (and write hosts in IDNA form).
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its offset in bytes from the start of the string.
        position: usize,
    },
    /// The scheme is not `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
    /// (RFC 3986 §3.1).
    InvalidScheme,
    /// The userinfo holds a character RFC 3986 §3.2.1 does not allow there
    /// (an `@` among them).
    InvalidUserinfo,
    /// The host is empty (RFC 9110 §4.2.1: http and https URIs need one).
    EmptyHost,
    /// The host is neither a reg-name, an IPv4 address nor a bracketed IP
    /// literal (RFC 3986 §3.2.2); an IPv6 address must be in brackets.
    InvalidHost,
    /// The port is not a decimal number from 0 to 65535 (RFC 3986 §3.2.3).
    InvalidPort,
    /// An authority-form request-target without a port (RFC 9112 §3.2.3).
    MissingPort,
    /// No port was given and the scheme has no default port (only http and
    /// https have one, RFC 9110 §4.2).
    NoDefaultPort,
    /// Not an authority-form request-target `host:port` (RFC 9112 §3.2.3):
    /// an origin-form, absolute-form or asterisk-form target.
    NotAuthorityForm,
    /// Not an origin-form request-target `/path[?query]` (RFC 9112 §3.2.1).
    NotOriginForm,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Empty => f.write_str("empty URL"),
            UrlError::InvalidCharacter {
                character,
                position,
            } => write!(
                f,
                "invalid character {character:?} at byte {position} of URL \
                 (only visible ASCII is allowed; percent-encode the rest)"
            ),
            UrlError::InvalidScheme => f.write_str("invalid URL scheme"),
            UrlError::InvalidUserinfo => f.write_str("invalid userinfo in URL"),
            UrlError::EmptyHost => f.write_str("URL has an empty host"),
            UrlError::InvalidHost => {
                f.write_str("invalid host in URL (IPv6 addresses must be in brackets)")
            }
            UrlError::InvalidPort => f.write_str("invalid port in URL (must be 0 to 65535)"),
            UrlError::MissingPort => f.write_str("authority-form target without a port"),
            UrlError::NoDefaultPort => {
                f.write_str("URL has no port and its scheme has no default port")
            }
            UrlError::NotAuthorityForm => f.write_str("request-target is not host:port"),
            UrlError::NotOriginForm => f.write_str("request-target is not /path[?query]"),
        }
    }
}

impl std::error::Error for UrlError {}

/// A parsed absolute URL: `scheme://[userinfo@]host[:port][/path][?query][#fragment]`
/// (RFC 3986 §3, RFC 9110 §4.2).
///
/// Holds one `String` (the URL with its scheme in lower case) and the
/// offsets of each component, so cloning is one allocation and every
/// accessor is a slice. Everything but the scheme is kept as given: no
/// case folding of the host, no percent-decoding, no path normalisation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    text: String,
    scheme_end: usize,
    userinfo: Option<(usize, usize)>,
    /// Host (with brackets for an IP literal) and explicit port.
    authority: (usize, usize),
    /// Host without brackets.
    host: (usize, usize),
    port: Option<u16>,
    path: (usize, usize),
    query: Option<(usize, usize)>,
    fragment: Option<(usize, usize)>,
}

impl Url {
    fn part(&self, (start, end): (usize, usize)) -> &str {
        self.text.get(start..end).unwrap_or_default()
    }

    /// The whole URL, with the scheme in lower case and an empty port
    /// (`host:`) left out.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The scheme in lower case (schemes are case-insensitive, RFC 3986
    /// §3.1), e.g. `"https"`.
    pub fn scheme(&self) -> &str {
        self.part((0, self.scheme_end))
    }

    /// The userinfo before `@`, if any (RFC 3986 §3.2.1), still
    /// percent-encoded.
    pub fn userinfo(&self) -> Option<&str> {
        self.userinfo.map(|range| self.part(range))
    }

    /// The host as given; an IPv6 literal without its brackets (`"::1"`),
    /// ready for name resolution or [`std::net::IpAddr`] parsing.
    pub fn host(&self) -> &str {
        self.part(self.host)
    }

    /// The port, if the URL gives one.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port, or the scheme's default: 80 for http (RFC 9110 §4.2.1),
    /// 443 for https (§4.2.2), `None` for other schemes.
    pub fn port_or_default(&self) -> Option<u16> {
        self.port.or_else(|| default_port(self.scheme()))
    }

    /// The path, possibly empty, as given (e.g. `"/a/b"`).
    pub fn path(&self) -> &str {
        self.part(self.path)
    }

    /// The query after `?`, if there is a `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.map(|range| self.part(range))
    }

    /// The fragment after `#`, if there is a `#`. It is never sent
    /// (RFC 9110 §4.2.5).
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.map(|range| self.part(range))
    }

    /// Returns `true` if the scheme is https, which is served over TLS
    /// (RFC 9110 §4.2.2).
    pub fn is_tls(&self) -> bool {
        self.scheme() == "https"
    }

    /// The origin-form request-target: path and `?query`, with `/` for an
    /// empty path (RFC 9112 §3.2.1). The fragment is left out. Borrowed
    /// unless the path is empty and there is a query.
    pub fn target(&self) -> Cow<'_, str> {
        let end = self.query.map_or(self.path.1, |(_, end)| end);
        let target = self.part((self.path.0, end));
        if self.path.0 == self.path.1 {
            if target.is_empty() {
                return Cow::Borrowed("/");
            }
            return Cow::Owned(format!("/{target}"));
        }
        Cow::Borrowed(target)
    }

    /// The authority for the Host field (RFC 9110 §7.2): the host, in
    /// brackets when it is an IP literal, and `:port` when the URL gives a
    /// port. No userinfo.
    pub fn authority(&self) -> &str {
        self.part(self.authority)
    }

    /// Host (IPv6 without brackets) and port to connect to, the port
    /// defaulted by scheme as [`Url::port_or_default`] does.
    /// `(host, port)` can be passed to [`std::net::ToSocketAddrs`].
    pub fn addr(&self) -> Result<(String, u16), UrlError> {
        let port = self.port_or_default().ok_or(UrlError::NoDefaultPort)?;
        Ok((self.host().to_string(), port))
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Url {
    type Err = UrlError;

    /// [`parse_url`] with `"http"` as the default scheme.
    fn from_str(s: &str) -> Result<Url, UrlError> {
        parse_url(s, "http")
    }
}

/// The default port of a scheme (RFC 9110 §4.2.1, §4.2.2).
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// Parses a URL to fetch: `scheme://[userinfo@]host[:port][/path][?query][#fragment]`
/// (RFC 3986 §3).
///
/// A URL without `://` before its first `/`, `?` or `#` has no scheme and
/// gets `default_scheme`: `www.example.com/foo` and `localhost:8080` are
/// hosts, not schemes. A URL starting with `//` (a network-path reference,
/// RFC 3986 §4.2) also gets `default_scheme`.
///
/// Checks: every character is visible ASCII (spaces, controls and non-ASCII
/// must be percent-encoded), the scheme is a scheme, the host a reg-name,
/// IPv4 address or bracketed IP literal (IPv6 checked by
/// [`std::net::Ipv6Addr`]), the port a number up to 65535. An empty port
/// (`host:`) counts as none (RFC 3986 §3.2.3). The scheme need not be http
/// or https; [`Url::addr`] says when it has no default port.
pub fn parse_url(url: &str, default_scheme: &str) -> Result<Url, UrlError> {
    if url.is_empty() {
        return Err(UrlError::Empty);
    }
    check_visible_ascii(url)?;
    let (scheme, rest) = split_scheme(url, default_scheme)?;

    // RFC 3986 §3.2: the authority ends at the first "/", "?" or "#".
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // RFC 3986 §3.2.1: userinfo cannot hold "@", so the last one ends it
    // (and an earlier one makes the userinfo invalid).
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    if let Some(userinfo) = userinfo {
        let bytes = userinfo.as_bytes();
        let valid = bytes
            .iter()
            .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'%')
            && is_pct_encoding_valid(bytes);
        if !valid {
            return Err(UrlError::InvalidUserinfo);
        }
    }
    let host_port = parse_host_port(host_port)?;

    // RFC 3986 §3.3–3.5: the path runs to "?" or "#", the query to "#".
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };

    let mut text = String::with_capacity(url.len() + scheme.len() + 3);
    text.push_str(scheme);
    text.make_ascii_lowercase();
    let scheme_end = text.len();
    text.push_str("://");
    let userinfo = userinfo.map(|userinfo| {
        let range = push(&mut text, userinfo);
        text.push('@');
        range
    });
    let authority_start = text.len();
    let host = if host_port.bracketed {
        text.push('[');
        let range = push(&mut text, host_port.host);
        text.push(']');
        range
    } else {
        push(&mut text, host_port.host)
    };
    if let Some(port) = host_port.port {
        text.push(':');
        text.push_str(&port.to_string());
    }
    let authority = (authority_start, text.len());
    let path = push(&mut text, path);
    let query = query.map(|query| {
        text.push('?');
        push(&mut text, query)
    });
    let fragment = fragment.map(|fragment| {
        text.push('#');
        push(&mut text, fragment)
    });
    Ok(Url {
        text,
        scheme_end,
        userinfo,
        authority,
        host,
        port: host_port.port,
        path,
        query,
        fragment,
    })
}

/// Appends `part` and returns where it landed.
fn push(text: &mut String, part: &str) -> (usize, usize) {
    let start = text.len();
    text.push_str(part);
    (start, text.len())
}

/// Splits off `scheme "://"`, or supplies `default_scheme` when the URL has
/// none before its first "/", "?" or "#".
fn split_scheme<'a>(url: &'a str, default_scheme: &'a str) -> Result<(&'a str, &'a str), UrlError> {
    let delimiter = url.find(['/', '?', '#']).unwrap_or(url.len());
    let scheme = url.get(..delimiter).and_then(|head| head.strip_suffix(':'));
    let rest = url
        .get(delimiter..)
        .and_then(|tail| tail.strip_prefix("//"));
    let (scheme, rest) = match (scheme, rest) {
        (Some(scheme), Some(rest)) => (scheme, rest),
        _ => (default_scheme, url.strip_prefix("//").unwrap_or(url)),
    };
    if !is_scheme(scheme) {
        return Err(UrlError::InvalidScheme);
    }
    Ok((scheme, rest))
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// A checked `host [ ":" port ]`.
#[derive(Debug)]
struct HostPort<'a> {
    /// Without brackets.
    host: &'a str,
    bracketed: bool,
    port: Option<u16>,
}

/// Parses `host [ ":" port ]` (RFC 3986 §3.2.2–3.2.3); an empty port is
/// none. The host must not be empty.
fn parse_host_port(s: &str) -> Result<HostPort<'_>, UrlError> {
    let (host_bytes, port) = split_host_port(s.as_bytes()).ok_or(UrlError::InvalidHost)?;
    let host = s.get(..host_bytes.len()).ok_or(UrlError::InvalidHost)?;
    let (host, bracketed) = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(literal) if is_ip_literal(literal.as_bytes()) => (literal, true),
        Some(_) => return Err(UrlError::InvalidHost),
        None => {
            // An unbracketed IPv6 address ("::1", "fe80::1:80") cannot be told
            // from host:port; RFC 3986 §3.2.2 requires the brackets.
            if s.bytes().filter(|&b| b == b':').count() > 1 {
                return Err(UrlError::InvalidHost);
            }
            if host.is_empty() {
                return Err(UrlError::EmptyHost);
            }
            let bytes = host.as_bytes();
            if !is_reg_name(bytes) {
                return Err(UrlError::InvalidHost);
            }
            (host, false)
        }
    };
    let port = match port {
        None | Some([]) => None,
        Some(digits) => Some(parse_port(digits).ok_or(UrlError::InvalidPort)?),
    };
    Ok(HostPort {
        host,
        bracketed,
        port,
    })
}

/// `port = *DIGIT` (RFC 3986 §3.2.3), non-empty and at most 65535; leading
/// zeros are fine.
fn parse_port(digits: &[u8]) -> Option<u16> {
    // Up to five digits, the common case (every Host with a port), in one
    // pass without overflow checks: 99,999 fits a u32.
    if let [_, ..] = digits {
        if digits.len() <= 5 {
            let mut port = 0u32;
            for &digit in digits {
                let value = digit.wrapping_sub(b'0');
                if value > 9 {
                    return None;
                }
                port = port * 10 + u32::from(value);
            }
            return u16::try_from(port).ok();
        }
    }
    // Leading zeros (`port = *DIGIT`, RFC 3986 §3.2.3), or nothing.
    u16::try_from(parse_decimal(digits)?).ok()
}

/// Every byte must be visible ASCII (RFC 3986 §2: no space, control or
/// non-ASCII character appears in a URI).
fn check_visible_ascii(s: &str) -> Result<(), UrlError> {
    let position = skip_target_bytes(s.as_bytes(), 0);
    match s.get(position..).and_then(|rest| rest.chars().next()) {
        None => Ok(()),
        Some(character) => Err(UrlError::InvalidCharacter {
            character,
            position,
        }),
    }
}

/// Parses an authority-form request-target `uri-host ":" port`, the target
/// of CONNECT (RFC 9112 §3.2.3): returns the host (an IPv6 literal without
/// its brackets) and the port, which is required.
pub fn parse_authority_form(target: &str) -> Result<(String, u16), UrlError> {
    if target.is_empty() {
        return Err(UrlError::Empty);
    }
    check_visible_ascii(target)?;
    // Origin-form starts with "/", asterisk-form is "*", absolute-form has a
    // scheme and usually a path; none of "/", "?", "#" is in an authority.
    if target == "*" || target.contains(['/', '?', '#']) {
        return Err(UrlError::NotAuthorityForm);
    }
    let host_port = parse_host_port(target)?;
    let port = host_port.port.ok_or(UrlError::MissingPort)?;
    Ok((host_port.host.to_string(), port))
}

/// Splits an origin-form request-target `absolute-path [ "?" query ]`
/// (RFC 9112 §3.2.1) into path and query. A fragment is not part of a
/// request-target, so `#` is an invalid character here.
pub fn parse_origin_form(target: &str) -> Result<(&str, Option<&str>), UrlError> {
    if target.is_empty() {
        return Err(UrlError::Empty);
    }
    check_visible_ascii(target)?;
    if !target.starts_with('/') {
        return Err(UrlError::NotOriginForm);
    }
    if let Some(position) = target.find('#') {
        return Err(UrlError::InvalidCharacter {
            character: '#',
            position,
        });
    }
    Ok(match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_of_any_digit_count() {
        for (digits, port) in [
            ("0", Some(0)),
            ("80", Some(80)),
            ("65535", Some(65535)),
            ("65536", None),
            ("99999", None),
            ("00080", Some(80)),
            ("0000080", Some(80)),
            ("00000065536", None),
            ("8a", None),
            ("-1", None),
            ("", None),
        ] {
            assert_eq!(parse_port(digits.as_bytes()), port, "{digits:?}");
        }
    }

    proptest::proptest! {
        /// The short path agrees with the general one on every input.
        #[test]
        fn a_port_is_its_decimal_value(digits in "[0-9a/:]{0,8}") {
            let general = parse_decimal(digits.as_bytes()).and_then(|n| u16::try_from(n).ok());
            proptest::prop_assert_eq!(parse_port(digits.as_bytes()), general);
        }
    }

    #[test]
    fn host_values() {
        for ok in [
            "example.com",
            "example.com:80",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:443",
            "",
            "a.b-c_d~e",
            "xn--bcher-kva.example",
            "%41.com",
            "host:",
            "[v1.fe80::a+b]",
        ] {
            assert!(
                is_valid_authority(ok.as_bytes(), false),
                "{ok:?} should be valid"
            );
        }
        for bad in [
            "user@example.com",
            "exa mple.com",
            "example.com:80:80",
            "example.com:99999",
            "example.com:8a",
            "[::1",
            "[::1]x",
            "[zz::1]",
            "%4",
            "%zz.com",
            "a/b",
            "[v1.]",
        ] {
            assert!(
                !is_valid_authority(bad.as_bytes(), false),
                "{bad:?} should be invalid"
            );
        }
    }

    #[test]
    fn connect_authority_needs_host_and_port() {
        assert!(is_valid_authority(b"example.com:443", true));
        assert!(is_valid_authority(b"[::1]:443", true));
        assert!(!is_valid_authority(b"example.com", true));
        assert!(!is_valid_authority(b"example.com:", true));
        assert!(!is_valid_authority(b":443", true));
    }

    fn url(s: &str) -> Url {
        parse_url(s, "http").unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn full_url_components() {
        let u = url("http://user:pa%20ss@example.com:8080/a/b;c?x=1&y=2#frag");
        assert_eq!(u.scheme(), "http");
        assert_eq!(u.userinfo(), Some("user:pa%20ss"));
        assert_eq!(u.host(), "example.com");
        assert_eq!(u.port(), Some(8080));
        assert_eq!(u.port_or_default(), Some(8080));
        assert_eq!(u.path(), "/a/b;c");
        assert_eq!(u.query(), Some("x=1&y=2"));
        assert_eq!(u.fragment(), Some("frag"));
        assert_eq!(u.target(), "/a/b;c?x=1&y=2");
        assert_eq!(u.authority(), "example.com:8080");
        assert_eq!(u.addr(), Ok(("example.com".to_string(), 8080)));
        assert!(!u.is_tls());
        assert_eq!(
            u.as_str(),
            "http://user:pa%20ss@example.com:8080/a/b;c?x=1&y=2#frag"
        );
        assert_eq!(u.to_string(), u.as_str());
    }

    #[test]
    fn default_ports_and_tls() {
        let u = url("http://example.com");
        assert_eq!((u.port(), u.port_or_default()), (None, Some(80)));
        assert_eq!(u.authority(), "example.com");
        assert_eq!(u.addr(), Ok(("example.com".to_string(), 80)));

        let u = url("https://example.com/");
        assert!(u.is_tls());
        assert_eq!((u.port(), u.port_or_default()), (None, Some(443)));
        assert_eq!(u.addr(), Ok(("example.com".to_string(), 443)));

        // An explicit default port is kept for Host: it was asked for.
        let u = url("https://example.com:443/");
        assert_eq!(u.authority(), "example.com:443");

        let u = url("ftp://example.com/");
        assert_eq!(u.port_or_default(), None);
        assert_eq!(u.addr(), Err(UrlError::NoDefaultPort));
        assert_eq!(
            url("ftp://example.com:21/").addr(),
            Ok(("example.com".to_string(), 21))
        );
    }

    #[test]
    fn scheme_is_lowercased_and_the_rest_kept() {
        let u = url("HTTP://Example.COM/Path?Q#F");
        assert_eq!(u.scheme(), "http");
        assert_eq!(u.host(), "Example.COM");
        assert_eq!(u.target(), "/Path?Q");
        let u = url("HtTpS://x");
        assert_eq!(u.scheme(), "https");
        assert!(u.is_tls());
        assert_eq!(url("svn+ssh.v2-x://h").scheme(), "svn+ssh.v2-x");
    }

    #[test]
    fn empty_path_targets_slash() {
        assert_eq!(url("http://h").target(), "/");
        assert_eq!(url("http://h").path(), "");
        assert_eq!(url("http://h?q=1").target(), "/?q=1");
        assert_eq!(url("http://h?q=1").path(), "");
        assert_eq!(url("http://h#f").target(), "/");
        assert_eq!(url("http://h/?").target(), "/?");
        assert_eq!(url("http://h/?").query(), Some(""));
        assert_eq!(url("http://h/#").fragment(), Some(""));
        assert_eq!(url("http://h/").query(), None);
    }

    #[test]
    fn query_and_fragment_delimiters() {
        let u = url("http://h/p?a=/b?c#d?e#f");
        assert_eq!(u.path(), "/p");
        assert_eq!(u.query(), Some("a=/b?c"));
        assert_eq!(u.fragment(), Some("d?e#f"));
        let u = url("http://h#frag?not-query");
        assert_eq!((u.query(), u.fragment()), (None, Some("frag?not-query")));
    }

    #[test]
    fn ipv6_literals_with_and_without_port() {
        let u = url("http://[::1]/");
        assert_eq!(u.host(), "::1");
        assert_eq!(u.port(), None);
        assert_eq!(u.authority(), "[::1]");
        assert_eq!(u.addr(), Ok(("::1".to_string(), 80)));

        let u = url("https://[2001:db8::7]:8443/x");
        assert_eq!(u.host(), "2001:db8::7");
        assert_eq!(u.port(), Some(8443));
        assert_eq!(u.authority(), "[2001:db8::7]:8443");
        assert_eq!(u.addr(), Ok(("2001:db8::7".to_string(), 8443)));
        let ip: std::net::IpAddr = u.host().parse().unwrap();
        assert!(ip.is_ipv6());

        let u = url("[::ffff:192.0.2.1]:81");
        assert_eq!(
            (u.scheme(), u.host(), u.port()),
            ("http", "::ffff:192.0.2.1", Some(81))
        );

        assert_eq!(url("http://[v7.a:b]/").host(), "v7.a:b");
    }

    #[test]
    fn bad_ipv6_literals() {
        for bad in [
            "http://[::1/",
            "http://[::1]x/",
            "http://[zz::1]/",
            "http://[]/",
            "http://[1:2]/",
            "http://::1/",
            "http://fe80::1:80/",
            "http://[fe80::1%25eth0]/",
        ] {
            assert_eq!(parse_url(bad, "http"), Err(UrlError::InvalidHost), "{bad}");
        }
        assert_eq!(
            parse_url("http://[::1]:x/", "http"),
            Err(UrlError::InvalidPort)
        );
        assert_eq!(
            parse_url("http://[::1]:80:80/", "http"),
            Err(UrlError::InvalidPort)
        );
    }

    #[test]
    fn ipv4_and_reg_names() {
        let u = url("http://127.0.0.1:8000/");
        assert_eq!((u.host(), u.port()), ("127.0.0.1", Some(8000)));
        assert_eq!(
            url("http://xn--bcher-kva.example/").host(),
            "xn--bcher-kva.example"
        );
        assert_eq!(url("http://%41b.com/").host(), "%41b.com");
        assert_eq!(url("http://a_b~c-d.e/").host(), "a_b~c-d.e");
    }

    #[test]
    fn urls_without_a_scheme_get_the_default() {
        let u = parse_url("www.example.com/foo", "https").unwrap();
        assert_eq!(
            (u.scheme(), u.host(), u.path()),
            ("https", "www.example.com", "/foo")
        );
        assert!(u.is_tls());

        let u = url("localhost:8080");
        assert_eq!(
            (u.scheme(), u.host(), u.port()),
            ("http", "localhost", Some(8080))
        );
        assert_eq!(u.target(), "/");

        let u = url("localhost:8080/x?y");
        assert_eq!(
            (u.host(), u.port(), u.path(), u.query()),
            ("localhost", Some(8080), "/x", Some("y"))
        );

        let u = url("example.com?next=http://other/");
        assert_eq!((u.scheme(), u.host()), ("http", "example.com"));
        assert_eq!(u.query(), Some("next=http://other/"));

        let u = url("example.com/redirect/http://other/");
        assert_eq!(
            (u.host(), u.path()),
            ("example.com", "/redirect/http://other/")
        );

        let u = url("//example.com/x");
        assert_eq!(
            (u.scheme(), u.host(), u.path()),
            ("http", "example.com", "/x")
        );

        let u = url("user@host");
        assert_eq!((u.userinfo(), u.host()), (Some("user"), "host"));

        let u = parse_url("h", "HTTPS").unwrap();
        assert_eq!(u.scheme(), "https");
        assert_eq!(u.as_str(), "https://h");
    }

    #[test]
    fn empty_port_counts_as_none() {
        let u = url("http://h:/x");
        assert_eq!(u.port(), None);
        assert_eq!(u.authority(), "h");
        assert_eq!(u.as_str(), "http://h/x");
    }

    #[test]
    fn ports() {
        assert_eq!(url("http://h:0/").port(), Some(0));
        assert_eq!(url("http://h:65535/").port(), Some(65535));
        assert_eq!(url("http://h:0080/").port(), Some(80));
        assert_eq!(url("http://h:0080/").authority(), "h:80");
        for bad in [
            "http://h:99999/",
            "http://h:65536/",
            "http://h:8a/",
            "http://h:-1/",
            "http://h:+80/",
            "http://h:1e3",
            "localhost:x",
            "http://h:99999999999999999999/",
        ] {
            assert_eq!(parse_url(bad, "http"), Err(UrlError::InvalidPort), "{bad}");
        }
    }

    #[test]
    fn userinfo() {
        assert_eq!(url("http://@h/").userinfo(), Some(""));
        assert_eq!(url("http://a:b:c@h/").userinfo(), Some("a:b:c"));
        assert_eq!(url("http://h/").userinfo(), None);
        // The last "@" ends the userinfo, whose own "@" is then invalid.
        assert_eq!(
            parse_url("http://a@b@h/", "http"),
            Err(UrlError::InvalidUserinfo)
        );
        assert_eq!(
            parse_url("http://a%zz@h/", "http"),
            Err(UrlError::InvalidUserinfo)
        );
        assert_eq!(
            parse_url("http://a[b@h/", "http"),
            Err(UrlError::InvalidUserinfo)
        );
        // An "@" after the authority is path data.
        let u = url("http://h/@x");
        assert_eq!((u.userinfo(), u.host(), u.path()), (None, "h", "/@x"));
    }

    #[test]
    fn bad_characters_are_reported_with_their_position() {
        for (bad, character, position) in [
            ("http://h/a b", ' ', 10),
            ("http://h/a\tb", '\t', 10),
            ("http://h/\u{e9}", '\u{e9}', 9),
            ("http://h/?q=\u{0}", '\u{0}', 12),
            ("http://h/#\u{7f}", '\u{7f}', 10),
            ("http://h\r\n/", '\r', 8),
            (" http://h/", ' ', 0),
            ("http://h/ ", ' ', 9),
            ("http://bücher.de/", 'ü', 8),
        ] {
            assert_eq!(
                parse_url(bad, "http"),
                Err(UrlError::InvalidCharacter {
                    character,
                    position
                }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn other_errors() {
        assert_eq!(parse_url("", "http"), Err(UrlError::Empty));
        assert_eq!(parse_url("http://", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("http:///x", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("http://:80/", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("http://u@/", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("/just/a/path", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("?q", "http"), Err(UrlError::EmptyHost));
        assert_eq!(parse_url("://h/", "http"), Err(UrlError::InvalidScheme));
        assert_eq!(
            parse_url("1http://h/", "http"),
            Err(UrlError::InvalidScheme)
        );
        assert_eq!(
            parse_url("ht_tp://h/", "http"),
            Err(UrlError::InvalidScheme)
        );
        assert_eq!(parse_url("h/", ""), Err(UrlError::InvalidScheme));
        assert_eq!(parse_url("h/", "ht tp"), Err(UrlError::InvalidScheme));
        for bad in [
            "http://a,b^c/",
            "http://a\"b/",
            "http://%4/",
            "http://a|b/",
            "http://[/",
        ] {
            assert_eq!(parse_url(bad, "http"), Err(UrlError::InvalidHost), "{bad}");
        }
    }

    #[test]
    fn errors_display_clearly() {
        let e = parse_url("http://h/a b", "http").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid character ' ' at byte 10 of URL (only visible ASCII is allowed; percent-encode the rest)"
        );
        assert_eq!(
            UrlError::InvalidPort.to_string(),
            "invalid port in URL (must be 0 to 65535)"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(UrlError::EmptyHost);
        assert_eq!(boxed.to_string(), "URL has an empty host");
    }

    #[test]
    fn from_str_defaults_to_http() {
        let u: Url = "example.com:81/x".parse().unwrap();
        assert_eq!((u.scheme(), u.port()), ("http", Some(81)));
        assert_eq!("http://".parse::<Url>(), Err(UrlError::EmptyHost));
    }

    #[test]
    fn clones_are_equal_and_independent() {
        let u = url("http://h/x");
        let v = u.clone();
        drop(u);
        assert_eq!(v.target(), "/x");
    }

    #[test]
    fn authority_form_targets() {
        assert_eq!(
            parse_authority_form("example.com:443"),
            Ok(("example.com".to_string(), 443))
        );
        assert_eq!(
            parse_authority_form("[::1]:8443"),
            Ok(("::1".to_string(), 8443))
        );
        assert_eq!(
            parse_authority_form("10.0.0.1:0"),
            Ok(("10.0.0.1".to_string(), 0))
        );
        for (bad, error) in [
            ("", UrlError::Empty),
            ("example.com", UrlError::MissingPort),
            ("example.com:", UrlError::MissingPort),
            ("[::1]", UrlError::MissingPort),
            (":443", UrlError::EmptyHost),
            ("example.com:99999", UrlError::InvalidPort),
            ("example.com:8a", UrlError::InvalidPort),
            ("user@example.com:443", UrlError::InvalidHost),
            ("::1:443", UrlError::InvalidHost),
            ("[::1:443", UrlError::InvalidHost),
            ("/index.html", UrlError::NotAuthorityForm),
            ("/", UrlError::NotAuthorityForm),
            ("*", UrlError::NotAuthorityForm),
            ("http://example.com:80/", UrlError::NotAuthorityForm),
            ("example.com:443/x", UrlError::NotAuthorityForm),
            ("example.com:443?x", UrlError::NotAuthorityForm),
            (
                "exa mple.com:443",
                UrlError::InvalidCharacter {
                    character: ' ',
                    position: 3,
                },
            ),
        ] {
            assert_eq!(parse_authority_form(bad), Err(error), "{bad:?}");
        }
    }

    #[test]
    fn origin_form_targets() {
        assert_eq!(parse_origin_form("/"), Ok(("/", None)));
        assert_eq!(parse_origin_form("/a/b?x=1?y"), Ok(("/a/b", Some("x=1?y"))));
        assert_eq!(parse_origin_form("/?"), Ok(("/", Some(""))));
        assert_eq!(parse_origin_form("//a"), Ok(("//a", None)));
        assert_eq!(parse_origin_form(""), Err(UrlError::Empty));
        assert_eq!(parse_origin_form("*"), Err(UrlError::NotOriginForm));
        assert_eq!(parse_origin_form("a/b"), Err(UrlError::NotOriginForm));
        assert_eq!(parse_origin_form("http://h/"), Err(UrlError::NotOriginForm));
        assert_eq!(
            parse_origin_form("/a#f"),
            Err(UrlError::InvalidCharacter {
                character: '#',
                position: 2
            })
        );
        assert_eq!(
            parse_origin_form("/a b"),
            Err(UrlError::InvalidCharacter {
                character: ' ',
                position: 2
            })
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn reg_name() -> impl Strategy<Value = String> {
            "[a-zA-Z0-9._~!$&'()*+,;=-]{1,12}"
        }

        fn path_chars() -> impl Strategy<Value = String> {
            // Visible ASCII without "?" and "#".
            "[!-\"$-/0-9:-<=>@-~]{0,12}"
        }

        proptest! {
            #[test]
            fn never_panics(s in any::<String>(), d in "[a-zA-Z]{0,5}") {
                let _ = parse_url(&s, &d);
                let _ = parse_authority_form(&s);
                let _ = parse_origin_form(&s);
            }

            #[test]
            fn never_panics_on_url_like_text(s in "[a-zA-Z0-9:/?#\\[\\]@%.!$&'()*+,;= -]{0,30}") {
                if let Ok(u) = parse_url(&s, "http") {
                    // Every accessor is total, and the serialisation re-parses
                    // to the same URL.
                    let _ = (u.scheme(), u.userinfo(), u.host(), u.path(), u.query(), u.fragment());
                    let _ = (u.target(), u.authority(), u.addr(), u.port_or_default());
                    prop_assert_eq!(parse_url(u.as_str(), "ftp"), Ok(u.clone()));
                }
                let _ = parse_authority_form(&s);
                let _ = parse_origin_form(&s);
            }

            #[test]
            fn components_round_trip(
                scheme in "[a-zA-Z][a-zA-Z0-9+.-]{0,6}",
                userinfo in proptest::option::of("[a-zA-Z0-9:._~-]{0,8}"),
                ipv6 in any::<bool>(),
                name in reg_name(),
                v6 in any::<[u16; 8]>(),
                port in proptest::option::of(any::<u16>()),
                path in proptest::option::of(path_chars()),
                query in proptest::option::of("[!-\"$-~]{0,12}"),
                fragment in proptest::option::of("[!-~]{0,12}"),
            ) {
                let host = if ipv6 {
                    Ipv6Addr::from(v6).to_string()
                } else {
                    name
                };
                let mut s = format!("{scheme}://");
                if let Some(userinfo) = &userinfo {
                    s += &format!("{userinfo}@");
                }
                let authority = match (ipv6, port) {
                    (true, Some(p)) => format!("[{host}]:{p}"),
                    (true, None) => format!("[{host}]"),
                    (false, Some(p)) => format!("{host}:{p}"),
                    (false, None) => host.clone(),
                };
                s += &authority;
                let path = path.map(|p| format!("/{p}")).unwrap_or_default();
                s += &path;
                if let Some(query) = &query {
                    s += &format!("?{query}");
                }
                if let Some(fragment) = &fragment {
                    s += &format!("#{fragment}");
                }
                let u = parse_url(&s, "http").unwrap();
                prop_assert_eq!(u.scheme(), scheme.to_ascii_lowercase());
                prop_assert_eq!(u.userinfo(), userinfo.as_deref());
                prop_assert_eq!(u.host(), host.as_str());
                prop_assert_eq!(u.port(), port);
                prop_assert_eq!(u.authority(), authority.as_str());
                prop_assert_eq!(u.path(), path.as_str());
                prop_assert_eq!(u.query(), query.as_deref());
                prop_assert_eq!(u.fragment(), fragment.as_deref());
                let target = format!(
                    "{}{}",
                    if path.is_empty() { "/" } else { &path },
                    query.as_ref().map(|q| format!("?{q}")).unwrap_or_default()
                );
                prop_assert_eq!(u.target(), target.as_str());
                if let Some(p) = port {
                    prop_assert_eq!(parse_authority_form(&authority), Ok((host.clone(), p)));
                }
            }
        }
    }
}
