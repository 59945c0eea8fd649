//! URI pieces of RFC 3986 as HTTP uses them (RFC 9110 §4): authorities for
//! Host and CONNECT targets.

use std::net::Ipv6Addr;

/// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2–3.2.3): the value
/// of Host, and with `port_required` the authority-form of CONNECT (RFC 9112
/// §3.2.3), which also needs a non-empty host. No userinfo is allowed. A port,
/// when present, is at most 65535.
pub(crate) fn is_valid_authority(s: &[u8], port_required: bool) -> bool {
    let (host, port) = match split_host_port(s) {
        Some(parts) => parts,
        None => return false,
    };
    let host_ok = if let [b'[', literal @ .., b']'] = host {
        is_ip_literal(literal)
    } else {
        host.iter().all(|&b| is_reg_name_byte(b)) && is_pct_encoding_valid(host)
    };
    let port_ok = match port {
        None => !port_required,
        Some(digits) if port_required && digits.is_empty() => false,
        // RFC 3986 allows an empty port after ':'.
        Some(digits) => digits.len() <= 5 && digits.iter().all(u8::is_ascii_digit) && {
            digits.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65535
        },
    };
    host_ok && port_ok && !(port_required && host.is_empty())
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
        let Some(dot) = rest.iter().position(|&b| b == b'.') else { return false };
        let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !tail.is_empty()
            && tail.iter().all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':');
    }
    std::str::from_utf8(s).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`, byte by byte
/// (IPv4 addresses are reg-names by syntax).
fn is_reg_name_byte(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b == b'%'
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=')
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_values() {
        for ok in [
            "example.com", "example.com:80", "127.0.0.1:8080", "[::1]", "[::1]:443", "",
            "a.b-c_d~e", "xn--bcher-kva.example", "%41.com", "host:", "[v1.fe80::a+b]",
        ] {
            assert!(is_valid_authority(ok.as_bytes(), false), "{ok:?} should be valid");
        }
        for bad in [
            "user@example.com", "exa mple.com", "example.com:80:80", "example.com:99999",
            "example.com:8a", "[::1", "[::1]x", "[zz::1]", "%4", "%zz.com", "a/b", "[v1.]",
        ] {
            assert!(!is_valid_authority(bad.as_bytes(), false), "{bad:?} should be invalid");
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
}
