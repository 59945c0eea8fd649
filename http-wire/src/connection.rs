//! Connection semantics read from a head: the `Connection` options (RFC 9110
//! §7.6.1), the keep-alive decision for one message and for an exchange
//! (RFC 9112 §9.3), upgrade requests (RFC 9110 §7.8) and `Expect:
//! 100-continue` (RFC 9110 §10.1.1).

use crate::head::{Fields, Known, RequestHead, Version};
use crate::list::{list_contains, split_list};

/// The options of every `Connection` field line of a head, combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    /// `close` was listed.
    pub close: bool,
    /// `keep-alive` was listed.
    pub keep_alive: bool,
    /// `upgrade` was listed.
    pub upgrade: bool,
}

impl ConnectionOptions {
    /// Reads the `Connection` fields; tokens compare case-insensitively.
    pub fn of(fields: &Fields, buf: &[u8]) -> ConnectionOptions {
        let mut options = ConnectionOptions::default();
        if !fields.has(Known::CONNECTION) {
            return options;
        }
        for field in fields.known_lines(buf, Known::CONNECTION) {
            for token in split_list(&field.value(buf)) {
                if token.eq_ignore_ascii_case(b"close") {
                    options.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    options.keep_alive = true;
                } else if token.eq_ignore_ascii_case(b"upgrade") {
                    options.upgrade = true;
                }
            }
        }
        options
    }

    /// RFC 9112 §9.3: does the sender of a message of `version` with these
    /// options want the connection kept open after it? `close` always wins;
    /// HTTP/1.1 persists by default, HTTP/1.0 only with `keep-alive`.
    pub fn keep_alive(self, version: Version) -> bool {
        !self.close && (version == Version::Http11 || self.keep_alive)
    }
}

/// RFC 9112 §9.3 for one message: see [`ConnectionOptions::keep_alive`].
pub fn wants_keep_alive(version: Version, fields: &Fields, buf: &[u8]) -> bool {
    ConnectionOptions::of(fields, buf).keep_alive(version)
}

/// RFC 9112 §9.3 for a whole exchange: the connection persists after a
/// response only if the request allowed it, the response allows it, and the
/// response's framing can be followed by another message.
///
/// `request_keeps_alive` and `response_keeps_alive` are each message's own
/// say ([`wants_keep_alive`], or what its sender will write);
/// `response_must_close` is the response's [`crate::Framing::must_close`]
/// (a body delimited by the close, framing a recipient cannot trust).
pub fn exchange_keeps_alive(
    request_keeps_alive: bool,
    response_keeps_alive: bool,
    response_must_close: bool,
) -> bool {
    request_keeps_alive && response_keeps_alive && !response_must_close
}

/// RFC 9110 §7.8: an HTTP/1.1 request that lists `upgrade` in `Connection` and
/// carries an `Upgrade` field asks to switch protocols. HTTP/1.0 cannot.
pub fn is_upgrade_request(head: &RequestHead, buf: &[u8]) -> bool {
    head.version() == Version::Http11
        && head.fields().has(Known::UPGRADE)
        && ConnectionOptions::of(head.fields(), buf).upgrade
}

/// RFC 9110 §10.1.1: an HTTP/1.1 request with `Expect: 100-continue`
/// (case-insensitive) waits for a `100 Continue` before sending its body. A
/// server never sends 100 to HTTP/1.0 (RFC 9110 §15.2.1), so HTTP/1.0 is
/// reported as not expecting it.
pub fn expects_continue(head: &RequestHead, buf: &[u8]) -> bool {
    head.version() == Version::Http11
        && head.fields().has(Known::EXPECT)
        && head
            .fields()
            .known_lines(buf, Known::EXPECT)
            .any(|f| is_continue_expectation(&f.value(buf)))
}

/// Returns `true` if an `Expect` field value asks for `100 Continue`:
/// `Expect = #expectation` (RFC 9110 §10.1.1), so any element of the list,
/// compared case-insensitively, with surrounding whitespace ignored. The
/// one rule for both sides: the server reading a request, the client
/// deciding to hold its body back.
pub fn is_continue_expectation(value: &[u8]) -> bool {
    list_contains(value, b"100-continue")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse_request};

    fn head(text: &str) -> (RequestHead, Vec<u8>) {
        let buf = text.as_bytes().to_vec();
        let (head, _) = parse_request(&buf, &Limits::default())
            .unwrap()
            .complete()
            .unwrap();
        (head, buf)
    }

    #[test]
    fn an_exchange_persists_only_if_both_messages_and_the_framing_allow_it() {
        assert!(exchange_keeps_alive(true, true, false));
        assert!(!exchange_keeps_alive(false, true, false));
        assert!(!exchange_keeps_alive(true, false, false));
        assert!(!exchange_keeps_alive(true, true, true));
    }

    #[test]
    fn keep_alive_decision() {
        let cases = [
            ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n",
                true,
            ),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                false,
            ),
        ];
        for (text, expected) in cases {
            let (head, buf) = head(text);
            assert_eq!(
                wants_keep_alive(head.version(), head.fields(), &buf),
                expected,
                "{text:?}"
            );
        }
    }

    #[test]
    fn upgrade_needs_both_fields_and_http11() {
        let (h, b) =
            head("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert!(is_upgrade_request(&h, &b));
        let (h, b) = head("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
        assert!(!is_upgrade_request(&h, &b));
        let (h, b) = head("GET / HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
        assert!(!is_upgrade_request(&h, &b));
    }

    #[test]
    fn expect_continue() {
        let (h, b) = head("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n");
        assert!(expects_continue(&h, &b));
        let (h, b) = head("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
        assert!(!expects_continue(&h, &b));
        let (h, b) = head("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n");
        assert!(!expects_continue(&h, &b));
    }
}
