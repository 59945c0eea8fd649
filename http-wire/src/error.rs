//! The one error type of head parsing and framing: what went wrong, where,
//! and which status a server answers it with.

use std::fmt;

/// What was wrong with a head. Each kind maps to the status a server should
/// answer with ([`ErrorKind::status`]); kinds that only a response can have
/// map to 502, what a gateway would answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The method is empty or not a token (RFC 9110 §9.1).
    InvalidMethod,
    /// The request-target has a byte outside visible ASCII, or is empty.
    InvalidTarget,
    /// The request-target's form does not fit the method (RFC 9112 §3.2):
    /// `*` is for OPTIONS, authority-form for CONNECT and CONNECT only.
    InvalidTargetForm,
    /// The request line is not `method SP target SP version` (RFC 9112 §3).
    InvalidRequestLine,
    /// The version is not `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3).
    InvalidVersion,
    /// A well-formed version whose major is not 1 (answered with 505).
    UnsupportedVersion,
    /// The status line is not `version SP 3DIGIT [SP reason]` (RFC 9112 §4).
    InvalidStatusLine,
    /// A field name is empty or not a token (RFC 9110 §5.1).
    InvalidFieldName,
    /// Whitespace between a field name and the colon (RFC 9112 §5.1 ¶2).
    WhitespaceBeforeColon,
    /// A field line without a colon.
    MissingColon,
    /// A field value or reason phrase holds a forbidden byte: NUL, a control
    /// byte other than HTAB, or DEL (RFC 9110 §5.5).
    InvalidFieldValue,
    /// A line folded with obs-fold in a request (RFC 9112 §5.2), or a fold
    /// with no field before it.
    ObsFold,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// A line ended by LF alone where CRLF is required (RFC 9112 §2.2).
    BareLf,
    /// An HTTP/1.1 request without a Host field (RFC 9112 §3.2).
    MissingHost,
    /// More than one Host field line (RFC 9112 §3.2).
    DuplicateHost,
    /// A Host value that is not `uri-host [":" port]` (RFC 9110 §7.2).
    InvalidHost,
    /// The method alone runs past the request-line limit: longer than any
    /// method a server implements (RFC 9112 §3: 501).
    MethodTooLong,
    /// The request line is longer than the configured limit because of its
    /// request-target (RFC 9112 §3: 414).
    RequestLineTooLong,
    /// The head is larger than the configured limit (431).
    HeadTooLarge,
    /// The head has more field lines than the configured limit (431).
    TooManyFields,
    /// A Content-Length that is not a decimal number below 2^64, or a list
    /// that holds one (RFC 9112 §6.3 ¶5).
    InvalidContentLength,
    /// Content-Length values that differ (RFC 9112 §6.3 ¶5).
    ConflictingContentLength,
    /// A request with both Content-Length and Transfer-Encoding (RFC 9112
    /// §6.3 ¶3: a smuggling vector; we reject rather than guess).
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1 ¶16).
    TransferEncodingInHttp10,
    /// A Transfer-Encoding whose final coding is not chunked, that applies
    /// chunked twice, or is not a list of codings (RFC 9112 §6.3 ¶4, §7.1).
    InvalidTransferEncoding,
    /// A transfer coding we do not implement (RFC 9112 §6.1 ¶14: 501).
    UnsupportedTransferCoding,
}

impl ErrorKind {
    /// The status code a server answers this error with.
    pub const fn status(self) -> u16 {
        use ErrorKind::*;
        match self {
            UnsupportedVersion => 505,
            RequestLineTooLong => 414,
            HeadTooLarge | TooManyFields => 431,
            UnsupportedTransferCoding | MethodTooLong => 501,
            InvalidStatusLine => 502,
            _ => 400,
        }
    }

    const fn describe(self) -> &'static str {
        use ErrorKind::*;
        match self {
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid request-target",
            InvalidTargetForm => "request-target form not allowed for this method",
            InvalidRequestLine => "malformed request line",
            InvalidVersion => "malformed HTTP version",
            UnsupportedVersion => "unsupported HTTP version",
            InvalidStatusLine => "malformed status line",
            InvalidFieldName => "invalid field name",
            WhitespaceBeforeColon => "whitespace between field name and colon",
            MissingColon => "field line without a colon",
            InvalidFieldValue => "invalid byte in field value",
            ObsFold => "obsolete line folding",
            BareCr => "CR not followed by LF",
            BareLf => "line ended by LF without CR",
            MissingHost => "HTTP/1.1 request without Host",
            DuplicateHost => "more than one Host field",
            InvalidHost => "invalid Host value",
            MethodTooLong => "method too long",
            RequestLineTooLong => "request line too long",
            HeadTooLarge => "head too large",
            TooManyFields => "too many fields",
            InvalidContentLength => "invalid Content-Length",
            ConflictingContentLength => "conflicting Content-Length values",
            ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
            TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            InvalidTransferEncoding => "invalid Transfer-Encoding",
            UnsupportedTransferCoding => "unsupported transfer coding",
        }
    }
}

/// A head that cannot be accepted: the [`ErrorKind`] and the byte offset (from
/// the start of the buffer) where the problem was found. Framing errors point
/// at the start of the offending field line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WireError {
    kind: ErrorKind,
    offset: u32,
}

impl WireError {
    pub(crate) const fn new(kind: ErrorKind, offset: usize) -> Self {
        // Heads are bounded by `Limits::max_head_bytes`, itself at most u32::MAX.
        let offset = if offset > u32::MAX as usize {
            u32::MAX
        } else {
            offset as u32
        };
        WireError { kind, offset }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Where, in bytes from the start of the buffer.
    pub const fn offset(&self) -> usize {
        self.offset as usize
    }

    /// The status code a server answers with (400, 414, 431, 501, 505; 502
    /// for errors only a response can have).
    pub const fn status(&self) -> u16 {
        self.kind.status()
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.describe(), self.offset)
    }
}

impl std::error::Error for WireError {}
