//! How long a message body is: RFC 9112 §6.3, in one function.
//!
//! [`framing`] walks the numbered steps of §6.3 for either role; the two
//! wrappers [`request_framing`] and [`response_framing`] only say which role.
//! Decisions that make request smuggling possible are errors here, never
//! guesses: see the step comments.

use crate::error::{ErrorKind, WireError};
use crate::head::{Fields, Known, RequestHead, ResponseHead, Version};
use crate::list::{split_list, trim_ows};
use crate::scan::{is_token, parse_decimal};

/// How the body of a message is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body at all.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// The chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
    /// The connection becomes a tunnel (2xx to CONNECT): not HTTP any more.
    Tunnel,
}

/// A framing decision: the body, and whether the connection must close after
/// this message whatever the `Connection` field says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Framing {
    /// How the body is delimited.
    pub body: BodyFraming,
    /// The connection cannot carry another message after this one.
    pub must_close: bool,
}

impl Framing {
    const fn keep(body: BodyFraming) -> Framing {
        Framing {
            body,
            must_close: false,
        }
    }

    const fn close(body: BodyFraming) -> Framing {
        Framing {
            body,
            must_close: true,
        }
    }
}

/// Which message is being framed.
#[derive(Clone, Copy, Debug)]
pub enum Message<'a> {
    /// A request.
    Request {
        /// The request's version.
        version: Version,
    },
    /// A response to a request with `request_method`.
    Response {
        /// The method of the request this response answers.
        request_method: &'a [u8],
        /// The response's status code.
        status: u16,
        /// The response's version.
        version: Version,
    },
}

/// What a response may carry, decided by its request's method and its
/// status — one rule for a response received ([`framing`]) and a response
/// sent (the connection's send framing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseContent {
    /// A body, delimited as its fields (or the close) say.
    Body,
    /// Nothing after the head (RFC 9112 §6.3 ¶1): a response to HEAD
    /// (RFC 9110 §9.3.2), a 1xx (§15.2), 204 (§15.3.5) or 304 (§15.4.5).
    /// A Content-Length it carries describes the representation, not
    /// this message.
    None,
    /// Nothing after the head, and the connection becomes a tunnel: a 2xx
    /// to CONNECT (RFC 9112 §6.3 ¶2, RFC 9110 §9.3.6).
    Tunnel,
}

/// What a response with `status` to a request with `request_method` may
/// carry (see [`ResponseContent`]).
pub fn response_content(request_method: &[u8], status: u16) -> ResponseContent {
    if request_method == b"HEAD" || (100..200).contains(&status) || matches!(status, 204 | 304) {
        ResponseContent::None
    } else if request_method == b"CONNECT" && (200..300).contains(&status) {
        ResponseContent::Tunnel
    } else {
        ResponseContent::Body
    }
}

/// How a sender delimits a body of `size` bytes (`None`: not known in
/// advance) in a message of `version` — RFC 9112 §6 from the sending side:
/// Content-Length when the size is known (§6.2), else chunked on HTTP/1.1
/// (§7), else — HTTP/1.0, which has no chunked coding — the close, which
/// nothing can follow (§6.3 ¶8).
pub fn send_framing(version: Version, size: Option<u64>) -> Framing {
    match (size, version) {
        (Some(n), _) => Framing::keep(BodyFraming::Length(n)),
        (None, Version::Http11) => Framing::keep(BodyFraming::Chunked),
        (None, Version::Http10) => Framing::close(BodyFraming::UntilClose),
    }
}

/// The framing of a request (RFC 9112 §6.3).
pub fn request_framing(head: &RequestHead, buf: &[u8]) -> Result<Framing, WireError> {
    framing(
        Message::Request {
            version: head.version(),
        },
        head.fields(),
        buf,
    )
}

/// The framing of a response to a request with `request_method`.
pub fn response_framing(
    request_method: &[u8],
    head: &ResponseHead,
    buf: &[u8],
) -> Result<Framing, WireError> {
    let message = Message::Response {
        request_method,
        status: head.status(),
        version: head.version(),
    };
    framing(message, head.fields(), buf)
}

/// RFC 9112 §6.3, step by step, for `message` whose fields are `fields` (their
/// spans index into `buf`).
pub fn framing(message: Message<'_>, fields: &Fields, buf: &[u8]) -> Result<Framing, WireError> {
    let (version, is_request) = match message {
        Message::Request { version } => (version, true),
        Message::Response {
            request_method,
            status,
            version,
        } => match response_content(request_method, status) {
            // ¶1: a response to HEAD, and any 1xx, 204 or 304, ends with its head.
            ResponseContent::None => return Ok(Framing::keep(BodyFraming::Empty)),
            // ¶2: a 2xx to CONNECT turns the connection into a tunnel.
            ResponseContent::Tunnel => return Ok(Framing::close(BodyFraming::Tunnel)),
            ResponseContent::Body => (version, false),
        },
    };

    let has_te = fields.has(Known::TRANSFER_ENCODING);
    let has_cl = fields.has(Known::CONTENT_LENGTH);

    if has_te {
        let first_te = first_offset(fields, buf, Known::TRANSFER_ENCODING);
        // RFC 9112 §6.1 ¶16: Transfer-Encoding in HTTP/1.0 means faulty framing.
        if version == Version::Http10 {
            if is_request {
                return Err(WireError::new(
                    ErrorKind::TransferEncodingInHttp10,
                    first_te,
                ));
            }
            return Ok(Framing::close(BodyFraming::UntilClose));
        }
        // ¶3: with both, TE overrides CL, but the pair is a smuggling vector:
        // a server rejects the request; a client reads by TE and closes.
        if has_cl && is_request {
            let at = first_offset(fields, buf, Known::CONTENT_LENGTH);
            return Err(WireError::new(
                ErrorKind::ContentLengthWithTransferEncoding,
                at,
            ));
        }
        let codings = transfer_codings(fields, buf)?;
        return Ok(match (codings, is_request) {
            // ¶4: chunked is the final coding → chunked.
            (Codings::ChunkedOnly, _) => Framing {
                body: BodyFraming::Chunked,
                must_close: has_cl,
            },
            // Other codings under chunked: we frame by chunked but cannot undo
            // them, so a server answers 501 (RFC 9112 §6.1 ¶14).
            (Codings::ChunkedLast, true) => {
                return Err(WireError::new(
                    ErrorKind::UnsupportedTransferCoding,
                    first_te,
                ));
            }
            (Codings::ChunkedLast, false) => Framing {
                body: BodyFraming::Chunked,
                must_close: has_cl,
            },
            // ¶4: chunked is not final: a request is unframeable (400); a
            // response is read until the server closes.
            (Codings::NotChunkedLast, true) => {
                return Err(WireError::new(ErrorKind::InvalidTransferEncoding, first_te));
            }
            (Codings::NotChunkedLast, false) => Framing::close(BodyFraming::UntilClose),
        });
    }

    if has_cl {
        // ¶5 and ¶6: a valid Content-Length (or a list of equal ones) is the length.
        return Ok(Framing::keep(BodyFraming::Length(content_length(
            fields, buf,
        )?)));
    }

    // ¶7: a request with neither has no body; ¶8: a response is read until close.
    Ok(if is_request {
        Framing::keep(BodyFraming::Empty)
    } else {
        Framing::close(BodyFraming::UntilClose)
    })
}

/// What the Transfer-Encoding list amounts to.
enum Codings {
    /// Exactly `chunked`.
    ChunkedOnly,
    /// Other codings, then `chunked` last.
    ChunkedLast,
    /// The last coding is not `chunked`.
    NotChunkedLast,
}

/// Reads every Transfer-Encoding field line as one list (RFC 9110 §5.3).
fn transfer_codings(fields: &Fields, buf: &[u8]) -> Result<Codings, WireError> {
    let mut count = 0usize;
    let mut chunked_seen = false;
    let mut last_is_chunked = false;
    for field in fields.known_lines(buf, Known::TRANSFER_ENCODING) {
        let at = field.name_span().range().start;
        let value = field.value(buf);
        let mut in_this_line = 0usize;
        for element in split_list(&value) {
            // transfer-coding = token *( OWS ";" OWS transfer-parameter )
            let (name, params) = match element.iter().position(|&b| b == b';') {
                Some(semi) => (trim_ows(&element[..semi]), Some(&element[semi..])),
                None => (element, None),
            };
            if !is_token(name) {
                return Err(WireError::new(ErrorKind::InvalidTransferEncoding, at));
            }
            let is_chunked = name.eq_ignore_ascii_case(b"chunked");
            // RFC 9112 §7.1: chunked takes no parameters and is applied once.
            if is_chunked && (chunked_seen || params.is_some()) {
                return Err(WireError::new(ErrorKind::InvalidTransferEncoding, at));
            }
            chunked_seen |= is_chunked;
            last_is_chunked = is_chunked;
            in_this_line += 1;
        }
        count += in_this_line;
        if in_this_line == 0 {
            // An empty Transfer-Encoding line names no coding at all.
            return Err(WireError::new(ErrorKind::InvalidTransferEncoding, at));
        }
    }
    Ok(match (last_is_chunked, count) {
        (true, 1) => Codings::ChunkedOnly,
        (true, _) => Codings::ChunkedLast,
        (false, _) => Codings::NotChunkedLast,
    })
}

/// RFC 9112 §6.3 ¶5: every Content-Length line is `1*DIGIT` or a list of
/// them, and all the values are the same.
fn content_length(fields: &Fields, buf: &[u8]) -> Result<u64, WireError> {
    let mut length: Option<u64> = None;
    for field in fields.known_lines(buf, Known::CONTENT_LENGTH) {
        let at = field.name_span().range().start;
        // Content-Length values never fold into anything valid; the raw span
        // of a folded one holds a CRLF and fails the digit check.
        for element in field.value_span().of(buf).split(|&b| b == b',') {
            let value = parse_decimal(trim_ows(element))
                .ok_or(WireError::new(ErrorKind::InvalidContentLength, at))?;
            match length {
                Some(seen) if seen != value => {
                    return Err(WireError::new(ErrorKind::ConflictingContentLength, at));
                }
                _ => length = Some(value),
            }
        }
    }
    length.ok_or(WireError::new(ErrorKind::InvalidContentLength, 0))
}

/// A Content-Length value that a sender is about to write: exactly
/// `1*DIGIT` below 2^64 (RFC 9110 §8.6), no sign, no list, no whitespace
/// inside. `None` otherwise.
pub fn parse_content_length(value: &[u8]) -> Option<u64> {
    parse_decimal(trim_ows(value))
}

/// Offset of the first line of a recognised field, for error reports.
fn first_offset(fields: &Fields, buf: &[u8], known: Known) -> usize {
    fields
        .known_lines(buf, known)
        .next()
        .map_or(0, |f| f.name_span().range().start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, Status, parse_request, parse_response};

    fn request(fields: &str, version: &str) -> Result<Framing, ErrorKind> {
        let text = format!("POST / {version}\r\nHost: x\r\n{fields}\r\n");
        let Status::Complete(head, _) = parse_request(text.as_bytes(), &Limits::default()).unwrap()
        else {
            panic!("head is complete: {text:?}")
        };
        request_framing(&head, text.as_bytes()).map_err(|e| e.kind())
    }

    fn response(method: &str, status: u16, fields: &str) -> Result<Framing, ErrorKind> {
        let text = format!("HTTP/1.1 {status} X\r\n{fields}\r\n");
        let Status::Complete(head, _) =
            parse_response(text.as_bytes(), &Limits::default()).unwrap()
        else {
            panic!("head is complete: {text:?}")
        };
        response_framing(method.as_bytes(), &head, text.as_bytes()).map_err(|e| e.kind())
    }

    use BodyFraming::*;
    use ErrorKind::*;

    const KEEP: bool = false;
    const CLOSE: bool = true;

    fn ok(body: BodyFraming, must_close: bool) -> Result<Framing, ErrorKind> {
        Ok(Framing { body, must_close })
    }

    #[test]
    fn request_table() {
        let cases: &[(&str, &str, Result<Framing, ErrorKind>)] = &[
            ("", "HTTP/1.1", ok(Empty, KEEP)),
            ("Content-Length: 0\r\n", "HTTP/1.1", ok(Length(0), KEEP)),
            ("Content-Length: 42\r\n", "HTTP/1.1", ok(Length(42), KEEP)),
            ("Content-Length: 42\r\n", "HTTP/1.0", ok(Length(42), KEEP)),
            ("Content-Length: 007\r\n", "HTTP/1.1", ok(Length(7), KEEP)),
            (
                "Content-Length: 18446744073709551615\r\n",
                "HTTP/1.1",
                ok(Length(u64::MAX), KEEP),
            ),
            ("Content-Length: 5, 5\r\n", "HTTP/1.1", ok(Length(5), KEEP)),
            (
                "Content-Length: 5\r\nContent-Length: 5\r\n",
                "HTTP/1.1",
                ok(Length(5), KEEP),
            ),
            (
                "Content-Length: 5, 6\r\n",
                "HTTP/1.1",
                Err(ConflictingContentLength),
            ),
            (
                "Content-Length: 5\r\nContent-Length: 6\r\n",
                "HTTP/1.1",
                Err(ConflictingContentLength),
            ),
            (
                "Content-Length: 18446744073709551616\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: +5\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: -5\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: 0x5\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: 5 5\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: \r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: 5,\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: 5,,5\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Content-Length: 1e3\r\n",
                "HTTP/1.1",
                Err(InvalidContentLength),
            ),
            (
                "Transfer-Encoding: chunked\r\n",
                "HTTP/1.1",
                ok(Chunked, KEEP),
            ),
            (
                "Transfer-Encoding: Chunked\r\n",
                "HTTP/1.1",
                ok(Chunked, KEEP),
            ),
            (
                "Transfer-Encoding: chunked\r\n",
                "HTTP/1.0",
                Err(TransferEncodingInHttp10),
            ),
            (
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                "HTTP/1.1",
                Err(ContentLengthWithTransferEncoding),
            ),
            (
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "HTTP/1.1",
                Err(ContentLengthWithTransferEncoding),
            ),
            (
                "Transfer-Encoding: gzip, chunked\r\n",
                "HTTP/1.1",
                Err(UnsupportedTransferCoding),
            ),
            (
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                "HTTP/1.1",
                Err(UnsupportedTransferCoding),
            ),
            (
                "Transfer-Encoding: chunked, gzip\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: gzip\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: identity\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked, chunked\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked;x=1\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: \r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: ,\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: \"chunked\"\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: \r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: xchunked\r\n",
                "HTTP/1.1",
                Err(InvalidTransferEncoding),
            ),
            (
                "Transfer-Encoding: chunked , \r\n",
                "HTTP/1.1",
                ok(Chunked, KEEP),
            ),
        ];
        for (fields, version, expected) in cases {
            assert_eq!(
                &request(fields, version),
                expected,
                "{version} with {fields:?}"
            );
        }
    }

    #[test]
    fn what_a_response_may_carry() {
        use ResponseContent as C;
        let cases: &[(&[u8], u16, C)] = &[
            (b"GET", 200, C::Body),
            (b"HEAD", 200, C::None),
            (b"HEAD", 404, C::None),
            (b"GET", 100, C::None),
            (b"GET", 101, C::None),
            (b"GET", 204, C::None),
            (b"GET", 304, C::None),
            (b"POST", 205, C::Body),
            (b"CONNECT", 200, C::Tunnel),
            (b"CONNECT", 299, C::Tunnel),
            (b"CONNECT", 407, C::Body),
            (b"CONNECT", 204, C::None),
        ];
        for &(method, status, expected) in cases {
            assert_eq!(response_content(method, status), expected, "{status}");
        }
    }

    #[test]
    fn how_a_sender_delimits_a_body() {
        assert_eq!(
            send_framing(Version::Http11, Some(5)),
            ok(Length(5), KEEP).unwrap()
        );
        assert_eq!(
            send_framing(Version::Http10, Some(0)),
            ok(Length(0), KEEP).unwrap()
        );
        assert_eq!(
            send_framing(Version::Http11, None),
            ok(Chunked, KEEP).unwrap()
        );
        assert_eq!(
            send_framing(Version::Http10, None),
            ok(UntilClose, CLOSE).unwrap()
        );
    }

    #[test]
    fn response_table() {
        let cases: &[(&str, u16, &str, Result<Framing, ErrorKind>)] = &[
            ("GET", 200, "Content-Length: 5\r\n", ok(Length(5), KEEP)),
            ("HEAD", 200, "Content-Length: 5\r\n", ok(Empty, KEEP)),
            (
                "HEAD",
                200,
                "Transfer-Encoding: chunked\r\n",
                ok(Empty, KEEP),
            ),
            ("GET", 100, "", ok(Empty, KEEP)),
            ("GET", 101, "", ok(Empty, KEEP)),
            ("GET", 103, "", ok(Empty, KEEP)),
            ("GET", 204, "Content-Length: 5\r\n", ok(Empty, KEEP)),
            ("GET", 304, "Content-Length: 5\r\n", ok(Empty, KEEP)),
            ("CONNECT", 200, "", ok(Tunnel, CLOSE)),
            ("CONNECT", 407, "Content-Length: 3\r\n", ok(Length(3), KEEP)),
            (
                "GET",
                200,
                "Transfer-Encoding: chunked\r\n",
                ok(Chunked, KEEP),
            ),
            (
                "GET",
                200,
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                ok(Chunked, CLOSE),
            ),
            (
                "GET",
                200,
                "Transfer-Encoding: gzip, chunked\r\n",
                ok(Chunked, KEEP),
            ),
            (
                "GET",
                200,
                "Transfer-Encoding: gzip\r\n",
                ok(UntilClose, CLOSE),
            ),
            (
                "GET",
                200,
                "Transfer-Encoding: chunked, chunked\r\n",
                Err(InvalidTransferEncoding),
            ),
            ("GET", 200, "", ok(UntilClose, CLOSE)),
            (
                "GET",
                200,
                "Content-Length: abc\r\n",
                Err(InvalidContentLength),
            ),
            (
                "GET",
                200,
                "Content-Length: 1, 2\r\n",
                Err(ConflictingContentLength),
            ),
            ("GET", 404, "Content-Length: 0\r\n", ok(Length(0), KEEP)),
        ];
        for (method, status, fields, expected) in cases {
            assert_eq!(
                &response(method, *status, fields),
                expected,
                "{method} {status} {fields:?}"
            );
        }
    }

    #[test]
    fn http10_response_with_transfer_encoding_is_read_until_close() {
        let text = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let (head, _) = parse_response(text, &Limits::default())
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(
            response_framing(b"GET", &head, text),
            ok(UntilClose, CLOSE).map_err(|_: ErrorKind| unreachable!())
        );
    }

    #[test]
    fn content_length_values_to_send() {
        assert_eq!(parse_content_length(b"42"), Some(42));
        assert_eq!(parse_content_length(b" 7 "), Some(7));
        for bad in [
            &b"+5"[..],
            b"-5",
            b"0x5",
            b"5, 5",
            b"",
            b"5 5",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_content_length(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn framing_errors_point_at_the_field_line() {
        let text = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n";
        let (head, _) = parse_request(text, &Limits::default())
            .unwrap()
            .complete()
            .unwrap();
        let error = request_framing(&head, text).unwrap_err();
        assert_eq!(error.offset(), 26);
        assert_eq!(error.status(), 400);
    }
}
