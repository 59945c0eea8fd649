//! Incremental, strict parsing of request and response heads.
//!
//! Feed the parser the same growing buffer until it reports
//! [`Status::Complete`]; do not remove bytes from the front of the buffer
//! before that (spans are offsets from its start). The parser is resumable:
//! lines already parsed are never parsed again, and a line that is still
//! arriving is searched for its end only past where the last call stopped, so
//! a head that arrives one byte at a time costs linear work in total.
//!
//! What this module owns: the request-line and status-line grammar (RFC 9112
//! §3, §4), field-line syntax (RFC 9112 §5, RFC 9110 §5), line endings
//! (RFC 9112 §2.2), the Host rules (RFC 9112 §3.2) and the size limits. What
//! a body looks like is decided afterwards by [`crate::framing`].

use crate::error::{ErrorKind, WireError};
use crate::head::{Field, Fields, Known, RequestHead, ResponseHead, Span, TargetForm, Version};
use crate::scan::{
    is_tchar, skip_plain_uri_bytes, skip_target_bytes, skip_text_bytes, skip_token_bytes,
};
use crate::uri::is_valid_authority;

/// Size limits and leniency switches. Exceeding a limit is an error that maps
/// to 414 (request line) or 431 (head bytes, field count).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes a head may take, from the first byte (empty lines before a
    /// request line included) to the end of the empty line that ends it.
    /// Default 64 KiB; values above `u32::MAX` are treated as `u32::MAX`.
    pub max_head_bytes: usize,
    /// Most bytes of a request line, without its CRLF. Default 8 KiB; values
    /// above `u32::MAX` are treated as `u32::MAX`.
    pub max_request_line_bytes: usize,
    /// Most field lines in a head. Default 100; at most 65,535.
    pub max_fields: usize,
    /// Accept a bare LF as a line end in requests and their trailer
    /// sections (RFC 9112 §2.2 allows a recipient to). Default `false`: bare
    /// LF is rejected. Responses, trailers of responses included, always
    /// accept it.
    pub allow_bare_lf_in_requests: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 64 * 1024,
            max_request_line_bytes: 8 * 1024,
            max_fields: 100,
            allow_bare_lf_in_requests: false,
        }
    }
}

/// The outcome of feeding a parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The whole head was parsed: the head, and how many bytes of the buffer
    /// it took (the body or the next message starts there).
    Complete(T, usize),
    /// More bytes are needed.
    Partial,
}

impl<T> Status<T> {
    /// The head and the bytes it took, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Status::Complete(head, consumed) => Some((head, consumed)),
            Status::Partial => None,
        }
    }

    /// Returns `true` if more bytes are needed.
    pub fn is_partial(&self) -> bool {
        matches!(self, Status::Partial)
    }
}

impl<T: Clone> Status<&T> {
    /// An owned copy of the head, for callers that keep it past the next
    /// parse.
    pub fn cloned(self) -> Status<T> {
        match self {
            Status::Complete(head, consumed) => Status::Complete(head.clone(), consumed),
            Status::Partial => Status::Partial,
        }
    }
}

/// Parses one request head from `buf` (a one-shot [`RequestParser`] that
/// hands over the head it filled).
pub fn parse_request(buf: &[u8], limits: &Limits) -> Result<Status<RequestHead>, WireError> {
    let mut parser = Parser::<RequestHead>::new(*limits);
    let consumed = match parser.parse(buf)? {
        Status::Complete(_, consumed) => consumed,
        Status::Partial => return Ok(Status::Partial),
    };
    Ok(Status::Complete(parser.head, consumed))
}

/// Parses one response head from `buf` (a one-shot [`ResponseParser`]).
pub fn parse_response(buf: &[u8], limits: &Limits) -> Result<Status<ResponseHead>, WireError> {
    let mut parser = Parser::<ResponseHead>::new(*limits);
    let consumed = match parser.parse(buf)? {
        Status::Complete(_, consumed) => consumed,
        Status::Partial => return Ok(Status::Partial),
    };
    Ok(Status::Complete(parser.head, consumed))
}

/// An incremental request-head parser.
///
/// Feed it the same growing buffer until it reports [`Status::Complete`];
/// do not remove bytes from the front of the buffer before that (spans are
/// offsets from its start). Lines already parsed are never parsed again, and
/// a line still arriving is searched for its end only past where the last
/// call stopped, so a head that arrives one byte at a time costs linear work.
/// An error is reported once the line holding it is complete (or a limit is
/// crossed), so every way of splitting the input gives the same answer.
///
/// The parser owns the head it fills: `Complete` lends it out, and the next
/// call clears it for the following message without freeing its storage, so
/// a connection parses request after request without moving or allocating
/// heads. Clone the head to keep it.
#[derive(Clone, Debug)]
pub struct RequestParser(Parser<RequestHead>);

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> Self {
        RequestParser(Parser::new(limits))
    }

    /// Parses what `buf` holds so far. After `Complete`, the next call starts
    /// a new head, in a buffer that starts with it. After an error the parser
    /// must not be fed again until [`reset`](Self::reset).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<&RequestHead>, WireError> {
        self.0.parse(buf)
    }

    /// Forgets any partial head.
    pub fn reset(&mut self) {
        self.0.clear();
    }

    /// The head the last call completed, until the next call.
    pub fn completed(&self) -> Option<&RequestHead> {
        self.0.complete.then_some(&self.0.head)
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }
}

/// An incremental response-head parser; it works as [`RequestParser`] does.
#[derive(Clone, Debug)]
pub struct ResponseParser(Parser<ResponseHead>);

impl ResponseParser {
    /// A parser with the given limits.
    pub fn new(limits: Limits) -> Self {
        ResponseParser(Parser::new(limits))
    }

    /// Parses what `buf` holds so far; see [`RequestParser::parse`].
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<&ResponseHead>, WireError> {
        self.0.parse(buf)
    }

    /// The head the last call completed, until the next call.
    pub fn completed(&self) -> Option<&ResponseHead> {
        self.0.complete.then_some(&self.0.head)
    }

    /// Forgets any partial head.
    pub fn reset(&mut self) {
        self.0.clear();
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }
}

/// An incremental parser of a trailer section (RFC 9112 §7.1.2): field lines
/// and the empty line that ends them, with no start line. The chunked decoder
/// of `gruvi-body` uses it, so trailers follow exactly the field-line rules
/// of the heads of the same direction:
///
/// - [`new`](Self::new), for a request's trailers: obs-fold is refused, and
///   a bare LF is refused unless [`Limits::allow_bare_lf_in_requests`] is
///   set (as in request heads);
/// - [`for_responses`](Self::for_responses), for a response's trailers:
///   obs-fold is unfolded and a bare LF ends a line (as in response heads).
///
/// `max_head_bytes` and `max_fields` bound the section. See
/// [`RequestParser`] for the protocol.
#[derive(Clone, Debug)]
pub struct TrailerParser(TrailerRules);

/// The two rule sets, as two head kinds so that each keeps its constants.
#[derive(Clone, Debug)]
enum TrailerRules {
    Request(Parser<Fields>),
    Response(Parser<ResponseTrailers>),
}

impl TrailerParser {
    /// A parser of a request's trailer section, with the given limits.
    pub fn new(limits: Limits) -> Self {
        TrailerParser(TrailerRules::Request(Parser::new(limits)))
    }

    /// A parser of a response's trailer section, with the given limits.
    ///
    /// RFC 9112 §5.2 ¶3: a user agent must replace each obs-fold received in
    /// a response with SP before interpreting the value; a folded field is
    /// reported by [`Field::is_folded`] and read back unfolded by
    /// [`Field::value`] and [`Field::value_bytes`]. A bare LF ends a line
    /// (RFC 9112 §2.2 ¶3), whatever [`Limits::allow_bare_lf_in_requests`]
    /// says.
    pub fn for_responses(limits: Limits) -> Self {
        TrailerParser(TrailerRules::Response(Parser::new(limits)))
    }

    /// Parses what `buf` holds so far (the buffer starts at the first
    /// trailer line, or at the empty line when there are none).
    pub fn parse(&mut self, buf: &[u8]) -> Result<Status<&Fields>, WireError> {
        match &mut self.0 {
            TrailerRules::Request(parser) => parser.parse(buf),
            TrailerRules::Response(parser) => Ok(match parser.parse(buf)? {
                Status::Complete(section, consumed) => Status::Complete(&section.0, consumed),
                Status::Partial => Status::Partial,
            }),
        }
    }

    /// Forgets any partial section.
    pub fn reset(&mut self) {
        match &mut self.0 {
            TrailerRules::Request(parser) => parser.clear(),
            TrailerRules::Response(parser) => parser.clear(),
        }
    }
}

/// What differs between request and response heads: the start line, checks
/// on particular fields, and the final checks. Implemented by the head types,
/// which the parser fills in place.
trait HeadKind: Clone {
    /// Heads start with a request or status line; a trailer section does not.
    const HAS_START_LINE: bool = true;
    /// Requests ignore empty lines before the request line (RFC 9112 §2.2 ¶6).
    const SKIPS_LEADING_EMPTY_LINES: bool;
    /// Responses unfold obs-fold; requests reject it (RFC 9112 §5.2).
    const UNFOLDS: bool;

    /// A head with no start line and no fields yet.
    fn empty() -> Self;

    fn fields_mut(&mut self) -> &mut Fields;

    fn bare_lf_allowed(limits: &Limits) -> bool;

    /// The most bytes a start line may have (without its line end), if
    /// limited. Default: no limit (and no start line).
    fn max_line_bytes(limits: &Limits) -> Option<usize> {
        let _ = limits;
        None
    }

    /// The error for a start line beginning at `pos` that has not ended
    /// within its limit. Default: the request line is too long.
    fn overlong_start_line(buf: &[u8], pos: usize, limits: &Limits) -> WireError {
        let _ = (buf, limits);
        WireError::new(ErrorKind::RequestLineTooLong, pos)
    }

    /// Parses the start line beginning at `pos` into `self`; `Ok(None)` if it
    /// is not all there yet, else the offset just past its line end. The
    /// default is for kinds without one (never called for them).
    fn parse_start_line(
        &mut self,
        buf: &[u8],
        pos: usize,
        bare_lf: bool,
    ) -> Result<Option<usize>, WireError> {
        let _ = (buf, bare_lf);
        Ok(Some(pos))
    }

    /// Checks a recognised field as it is parsed; `valid_host` is the
    /// parser's memory of the last Host found valid. Default: no check.
    fn check_field(
        known: Known,
        value: &[u8],
        line: usize,
        valid_host: &mut ValidHost,
    ) -> Result<(), WireError> {
        let _ = (known, value, line, valid_host);
        Ok(())
    }

    /// Checks the complete head. Default: no check.
    fn finish(&self) -> Result<(), WireError> {
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct Parser<H> {
    limits: Limits,
    /// Start of the first line not yet parsed.
    pos: usize,
    /// How far the search for the end of the line at `pos` has got; past
    /// `pos` only after a call that ran out of input mid-line.
    searched: usize,
    start_line_done: bool,
    /// The last call completed `head`; the next one starts afresh.
    complete: bool,
    head: H,
    /// Kept from head to head (a connection's parser sees its client's
    /// Host again on every request).
    valid_host: ValidHost,
}

/// The last Host value a parser found valid, when short enough to keep: a
/// client names the same host on every request of a connection, so most
/// Host values are checked by one comparison instead of a full parse of
/// the authority.
#[derive(Clone, Debug)]
struct ValidHost {
    len: usize,
    bytes: [u8; ValidHost::MAX],
}

impl Default for ValidHost {
    fn default() -> Self {
        // The empty value remembered: it is a valid Host (RFC 9112 §3.2:
        // what a client sends when the target has no authority).
        ValidHost {
            len: 0,
            bytes: [0; ValidHost::MAX],
        }
    }
}

impl ValidHost {
    /// Longest value kept.
    const MAX: usize = 64;

    fn is(&self, value: &[u8]) -> bool {
        self.bytes.get(..self.len) == Some(value)
    }

    /// `value`, just found valid, is the one remembered (if it fits).
    fn remember(&mut self, value: &[u8]) {
        if let Some(place) = self.bytes.get_mut(..value.len()) {
            place.copy_from_slice(value);
            self.len = value.len();
        }
    }
}

impl<H: HeadKind> Parser<H> {
    fn new(limits: Limits) -> Self {
        // Spans are u32 offsets and field indexes u16: clamp the limits so
        // neither can wrap (and offset + limit arithmetic cannot overflow).
        let limits = Limits {
            max_head_bytes: limits.max_head_bytes.min(u32::MAX as usize),
            max_request_line_bytes: limits.max_request_line_bytes.min(u32::MAX as usize),
            max_fields: limits.max_fields.min(usize::from(u16::MAX)),
            ..limits
        };
        Parser {
            limits,
            pos: 0,
            searched: 0,
            start_line_done: !H::HAS_START_LINE,
            complete: false,
            head: H::empty(),
            valid_host: ValidHost::default(),
        }
    }

    /// Forgets the head, keeping the field list's storage.
    fn clear(&mut self) {
        self.pos = 0;
        self.searched = 0;
        self.start_line_done = !H::HAS_START_LINE;
        self.complete = false;
        self.head.fields_mut().clear();
    }

    fn parse(&mut self, whole: &[u8]) -> Result<Status<&H>, WireError> {
        if self.complete {
            self.clear();
        }
        // Never look past the head limit. A buffer that holds the limit's
        // worth without the head having ended is an error now, not after
        // one byte more: a reader that stops reading at the limit (as a
        // connection does) must get its answer from what it has.
        let buf = &whole[..whole.len().min(self.limits.max_head_bytes)];
        let full = buf.len() == self.limits.max_head_bytes;
        // Resuming mid-line: nothing to do until that line has its LF (or a
        // limit is reached). Without a new LF no line can complete, so `pos`
        // is where parsing would stop anyway.
        if !full
            && !self.start_line_over_limit(buf)
            && self.searched > self.pos
            && memchr::memchr(b'\n', &buf[self.searched..]).is_none()
        {
            self.searched = buf.len();
            return Ok(Status::Partial);
        }
        let outcome = self.parse_lines(buf);
        // Limits are judged from where parsing stopped (`pos`, the start of
        // the line it stopped in), which depends only on the input, never on
        // how it was split.
        let at_limit = full || self.start_line_over_limit(buf);
        match outcome {
            Ok(Some(end)) => {
                self.head.finish()?;
                self.complete = true;
                Ok(Status::Complete(&self.head, end))
            }
            // The limit crossed at the earlier byte wins: a request line over
            // its limit within the (truncated) buffer crossed it first.
            Ok(None) if self.start_line_over_limit(buf) => {
                Err(H::overlong_start_line(buf, self.pos, &self.limits))
            }
            Ok(None) if full => Err(WireError::new(ErrorKind::HeadTooLarge, buf.len())),
            Ok(None) => {
                self.searched = buf.len();
                Ok(Status::Partial)
            }
            // An error is reported once its line is complete (or a limit is
            // reached), so that every split of the input gives the same result.
            Err(error) if !at_limit && memchr::memchr(b'\n', &buf[error.offset()..]).is_none() => {
                self.searched = buf.len();
                Ok(Status::Partial)
            }
            Err(error) => Err(error),
        }
    }

    /// Returns `true` if the start line has not ended within its limit.
    fn start_line_over_limit(&self, buf: &[u8]) -> bool {
        !self.start_line_done
            && H::max_line_bytes(&self.limits).is_some_and(|max| buf.len() - self.pos > max + 2)
    }

    /// Parses complete lines; `Some(end)` once the empty line ending the head
    /// has been parsed, `None` if input ran out first.
    fn parse_lines(&mut self, buf: &[u8]) -> Result<Option<usize>, WireError> {
        let bare_lf = H::bare_lf_allowed(&self.limits);
        while !self.start_line_done {
            if H::SKIPS_LEADING_EMPTY_LINES {
                match empty_line(buf, self.pos, bare_lf)? {
                    Line::Empty(next) => {
                        self.pos = next;
                        continue;
                    }
                    Line::Incomplete => return Ok(None),
                    Line::NotEmpty => {}
                }
            }
            // The start line is parsed within its limit (plus CRLF) only, so
            // whether it is too long never depends on how the input was split.
            let window = match H::max_line_bytes(&self.limits) {
                Some(max) => &buf[..buf.len().min(self.pos + max + 2)],
                None => buf,
            };
            let Some(next) = self.head.parse_start_line(window, self.pos, bare_lf)? else {
                return Ok(None);
            };
            if let Some(max) = H::max_line_bytes(&self.limits) {
                if line_length(buf, self.pos, next) > max {
                    return Err(WireError::new(ErrorKind::RequestLineTooLong, self.pos));
                }
            }
            self.pos = next;
            self.start_line_done = true;
        }
        // The position lives in a local while lines are parsed and is stored
        // once: the start of the line that is incomplete when input runs out.
        let mut pos = self.pos;
        let outcome = loop {
            match empty_line(buf, pos, bare_lf) {
                Ok(Line::Empty(end)) => break Ok(Some(end)),
                Ok(Line::Incomplete) => break Ok(None),
                Ok(Line::NotEmpty) => {}
                Err(error) => break Err(error),
            }
            let next = match buf[pos] {
                b' ' | b'\t' => self.parse_fold(buf, pos, bare_lf),
                _ => self.parse_field(buf, pos, bare_lf),
            };
            match next {
                Ok(Some(next)) => pos = next,
                Ok(None) => break Ok(None),
                Err(error) => break Err(error),
            }
        };
        self.pos = pos;
        outcome
    }

    /// A field line (RFC 9112 §5): `field-name ":" OWS field-value OWS CRLF`.
    fn parse_field(
        &mut self,
        buf: &[u8],
        line: usize,
        bare_lf: bool,
    ) -> Result<Option<usize>, WireError> {
        // RFC 9112 §5: the common line, `token ":" *SP text CRLF`, is taken
        // whole when the name's end (a colon) and the value's end (the
        // first control byte, scanned for from the line's start) agree with
        // it. The two scans do not wait for each other, and the next line
        // waits only for the second. Anything else (HTAB, a bare LF, an
        // error, an incomplete line) is parsed step by step below, which
        // gives the same answer for the common line too.
        let name_end = skip_token_bytes(buf, line);
        let end = skip_text_bytes(buf, line);
        if line < name_end
            && name_end < end
            && buf[name_end] == b':'
            && buf.get(end..end + 2) == Some(b"\r\n")
        {
            // No control byte (HTAB included) comes before `end`: the value's
            // bytes are all field-vchar or SP, and its OWS is SP.
            let (mut start, mut value_end) = (name_end + 1, end);
            let mut value = &buf[start..value_end];
            while let [b' ', rest @ ..] = value {
                (value, start) = (rest, start + 1);
            }
            while let [rest @ .., b' '] = value {
                (value, value_end) = (rest, value_end - 1);
            }
            let value = Span::new(start, value_end);
            return self.add_field(buf, line, Span::new(line, name_end), value, end + 2);
        }
        let Some(&after_name) = buf.get(name_end) else {
            return Ok(None);
        };
        if after_name != b':' {
            let kind = match after_name {
                // RFC 9112 §5.1 ¶2: no whitespace between name and colon.
                b' ' | b'\t' if name_end > line => ErrorKind::WhitespaceBeforeColon,
                b'\r' | b'\n' if name_end > line => ErrorKind::MissingColon,
                _ => ErrorKind::InvalidFieldName,
            };
            return Err(WireError::new(kind, name_end));
        }
        if name_end == line {
            return Err(WireError::new(ErrorKind::InvalidFieldName, name_end));
        }
        let name = Span::new(line, name_end);
        let Some((value, next)) = field_value(buf, name_end + 1, bare_lf)? else {
            return Ok(None);
        };
        self.add_field(buf, line, name, value, next)
    }

    /// Adds the field `name: value` of the line at `line` (which ends at
    /// `next`), after the checks on its count and on recognised names.
    #[inline(always)]
    fn add_field(
        &mut self,
        buf: &[u8],
        line: usize,
        name: Span,
        value: Span,
        next: usize,
    ) -> Result<Option<usize>, WireError> {
        let fields = self.head.fields_mut();
        if fields.len() >= self.limits.max_fields {
            return Err(WireError::new(ErrorKind::TooManyFields, line));
        }
        let known = Known::of_name(name.of(buf));
        if known != Known::NONE {
            H::check_field(known, value.of(buf), line, &mut self.valid_host)?;
            if known == Known::HOST && fields.has(Known::HOST) {
                return Err(WireError::new(ErrorKind::DuplicateHost, line));
            }
        }
        fields.push(Field::new(name, value, false), known);
        Ok(Some(next))
    }

    /// A line starting with whitespace: obs-fold (RFC 9112 §5.2).
    fn parse_fold(
        &mut self,
        buf: &[u8],
        line: usize,
        bare_lf: bool,
    ) -> Result<Option<usize>, WireError> {
        if !H::UNFOLDS {
            return Err(WireError::new(ErrorKind::ObsFold, line));
        }
        let Some((more, next)) = field_value(buf, line, bare_lf)? else {
            return Ok(None);
        };
        let Some(field) = self.head.fields_mut().last_mut() else {
            return Err(WireError::new(ErrorKind::ObsFold, line));
        };
        if !more.is_empty() {
            let start = field.value_span().range().start;
            // An empty value so far starts where the continuation does.
            let start = if field.value_span().is_empty() {
                more.range().start
            } else {
                start
            };
            let folded = !field.value_span().is_empty();
            *field = Field::new(
                field.name_span(),
                Span::new(start, more.range().end),
                folded,
            );
        }
        Ok(Some(next))
    }
}

/// What the line at `pos` is, as far as emptiness goes.
enum Line {
    /// An empty line; the offset just past it.
    Empty(usize),
    /// Not enough bytes to tell.
    Incomplete,
    NotEmpty,
}

/// RFC 9112 §2.2: lines end in CRLF; a bare CR is an error; a bare LF is one
/// unless `bare_lf` allows it.
fn empty_line(buf: &[u8], pos: usize, bare_lf: bool) -> Result<Line, WireError> {
    match buf.get(pos) {
        None => Ok(Line::Incomplete),
        Some(b'\r') => match buf.get(pos + 1) {
            None => Ok(Line::Incomplete),
            Some(b'\n') => Ok(Line::Empty(pos + 2)),
            Some(_) => Err(WireError::new(ErrorKind::BareCr, pos)),
        },
        Some(b'\n') if bare_lf => Ok(Line::Empty(pos + 1)),
        Some(b'\n') => Err(WireError::new(ErrorKind::BareLf, pos)),
        Some(_) => Ok(Line::NotEmpty),
    }
}

/// The line end at `i` (which holds CR or LF): `Ok(Some(next))` with the
/// offset past it, `Ok(None)` if the LF after a CR has not arrived.
#[inline(always)]
fn line_end(buf: &[u8], i: usize, bare_lf: bool) -> Result<Option<usize>, WireError> {
    match buf[i] {
        b'\r' => match buf.get(i + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some(i + 2)),
            Some(_) => Err(WireError::new(ErrorKind::BareCr, i)),
        },
        b'\n' if bare_lf => Ok(Some(i + 1)),
        b'\n' => Err(WireError::new(ErrorKind::BareLf, i)),
        _ => unreachable!("line_end is called on CR or LF"),
    }
}

/// Length of the line from `pos` to `next` without its line end.
fn line_length(buf: &[u8], pos: usize, next: usize) -> usize {
    let mut end = next - 1; // the LF
    if end > pos && buf[end - 1] == b'\r' {
        end -= 1;
    }
    end - pos
}

/// Parses `OWS field-value OWS` and the line end, from `from`. Returns the
/// value's span (trimmed) and the offset past the line end.
#[inline(always)]
fn field_value(buf: &[u8], from: usize, bare_lf: bool) -> Result<Option<(Span, usize)>, WireError> {
    let mut i = from;
    while i < buf.len() && (buf[i] == b' ' || buf[i] == b'\t') {
        i += 1;
    }
    let start = i;
    loop {
        i = skip_text_bytes(buf, i);
        let Some(&stop) = buf.get(i) else {
            return Ok(None);
        };
        match stop {
            b'\t' => i += 1,
            b'\r' | b'\n' => {
                let Some(next) = line_end(buf, i, bare_lf)? else {
                    return Ok(None);
                };
                let mut end = i;
                while end > start && (buf[end - 1] == b' ' || buf[end - 1] == b'\t') {
                    end -= 1;
                }
                return Ok(Some((Span::new(start, end), next)));
            }
            _ => return Err(WireError::new(ErrorKind::InvalidFieldValue, i)),
        }
    }
}

/// `HTTP-version = HTTP-name "/" DIGIT "." DIGIT` (RFC 9112 §2.3), exactly
/// eight bytes at `buf[i..]`. `Ok(None)` if fewer than eight bytes are there.
#[inline]
fn parse_version(buf: &[u8], i: usize) -> Result<Option<Version>, WireError> {
    let Some(v) = buf.get(i..i + 8) else {
        // Fail as soon as the bytes there cannot start a version.
        let have = &buf[i.min(buf.len())..];
        let fits = have.iter().zip(b"HTTP/0.0").all(|(&b, &pattern)| {
            if pattern == b'0' {
                b.is_ascii_digit()
            } else {
                b == pattern
            }
        });
        return if fits {
            Ok(None)
        } else {
            Err(WireError::new(ErrorKind::InvalidVersion, i))
        };
    };
    match v {
        b"HTTP/1.1" => Ok(Some(Version::Http11)),
        b"HTTP/1.0" => Ok(Some(Version::Http10)),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            if *major == b'1' {
                // RFC 9110 §6.2: a higher minor version is treated as the
                // highest we implement.
                Ok(Some(Version::Http11))
            } else {
                Err(WireError::new(ErrorKind::UnsupportedVersion, i))
            }
        }
        _ => Err(WireError::new(ErrorKind::InvalidVersion, i)),
    }
}

/// The request side: `method SP request-target SP HTTP-version CRLF`.
impl HeadKind for RequestHead {
    const SKIPS_LEADING_EMPTY_LINES: bool = true;
    const UNFOLDS: bool = false;

    fn empty() -> Self {
        RequestHead {
            method: Span::default(),
            target: Span::default(),
            target_form: TargetForm::Origin,
            version: Version::Http11,
            fields: Fields::default(),
        }
    }

    fn fields_mut(&mut self) -> &mut Fields {
        &mut self.fields
    }

    fn bare_lf_allowed(limits: &Limits) -> bool {
        limits.allow_bare_lf_in_requests
    }

    fn max_line_bytes(limits: &Limits) -> Option<usize> {
        Some(limits.max_request_line_bytes)
    }

    /// RFC 9112 §3: the status names the part that is too long — a method
    /// longer than any a server implements is 501, anything else (the
    /// request-target) 414.
    fn overlong_start_line(buf: &[u8], pos: usize, limits: &Limits) -> WireError {
        if skip_token_bytes(buf, pos) - pos > limits.max_request_line_bytes {
            WireError::new(ErrorKind::MethodTooLong, pos)
        } else {
            WireError::new(ErrorKind::RequestLineTooLong, pos)
        }
    }

    fn parse_start_line(
        &mut self,
        buf: &[u8],
        pos: usize,
        bare_lf: bool,
    ) -> Result<Option<usize>, WireError> {
        // RFC 9112 §3: method is a token, then exactly one SP. The commonest
        // is found by one comparison.
        let mut i = pos;
        if buf.get(pos..pos + 4) == Some(b"GET ") {
            i += 3;
        } else {
            while i < buf.len() && is_tchar(buf[i]) {
                i += 1;
            }
        }
        let Some(&after) = buf.get(i) else {
            return Ok(None);
        };
        if after != b' ' || i == pos {
            return Err(WireError::new(ErrorKind::InvalidMethod, i));
        }
        let method = Span::new(pos, i);

        // RFC 9112 §3.2: the target is visible ASCII, then exactly one SP.
        let target_start = i + 1;
        i = skip_target_bytes(buf, target_start);
        let Some(&after) = buf.get(i) else {
            return Ok(None);
        };
        if after != b' ' || i == target_start {
            let kind = match after {
                b'\r' | b'\n' if i > target_start => ErrorKind::InvalidRequestLine,
                _ => ErrorKind::InvalidTarget,
            };
            return Err(WireError::new(kind, i));
        }
        let target = Span::new(target_start, i);

        let Some(version) = parse_version(buf, i + 1)? else {
            return Ok(None);
        };
        i += 9;
        match buf.get(i) {
            None => return Ok(None),
            Some(b'\r' | b'\n') => {}
            Some(_) => return Err(WireError::new(ErrorKind::InvalidVersion, i)),
        }
        let Some(next) = line_end(buf, i, bare_lf)? else {
            return Ok(None);
        };

        self.target_form = target_form(method.of(buf), target.of(buf), target_start)?;
        self.method = method;
        self.target = target;
        self.version = version;
        Ok(Some(next))
    }

    fn check_field(
        known: Known,
        value: &[u8],
        line: usize,
        valid_host: &mut ValidHost,
    ) -> Result<(), WireError> {
        // RFC 9112 §3.2: a Host with an invalid value is answered with 400.
        if known == Known::HOST && !valid_host.is(value) {
            if !is_valid_authority(value, false) {
                return Err(WireError::new(ErrorKind::InvalidHost, line));
            }
            valid_host.remember(value);
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), WireError> {
        // RFC 9112 §3.2: an HTTP/1.1 request must carry Host.
        if self.version == Version::Http11 && !self.fields.has(Known::HOST) {
            return Err(WireError::new(
                ErrorKind::MissingHost,
                self.target.range().end,
            ));
        }
        Ok(())
    }
}

/// RFC 9112 §3.2: which target forms each method may use.
fn target_form(method: &[u8], target: &[u8], at: usize) -> Result<TargetForm, WireError> {
    let is_connect = method == b"CONNECT";
    let form = match target {
        [b'/', ..] => TargetForm::Origin,
        // §3.2.4: asterisk-form is only "*", and only for OPTIONS.
        b"*" if method == b"OPTIONS" => TargetForm::Asterisk,
        // §3.2.3: authority-form is `uri-host ":" port`, only for CONNECT.
        _ if is_connect => {
            if !is_valid_authority(target, true) {
                return Err(WireError::new(ErrorKind::InvalidTarget, at));
            }
            TargetForm::Authority
        }
        // §3.2.2: absolute-form, `scheme "://" ...` for the URIs HTTP serves.
        _ if is_absolute_uri_start(target) => TargetForm::Absolute,
        _ => return Err(WireError::new(ErrorKind::InvalidTargetForm, at)),
    };
    if is_connect && form != TargetForm::Authority {
        return Err(WireError::new(ErrorKind::InvalidTargetForm, at));
    }
    if matches!(form, TargetForm::Origin | TargetForm::Absolute) && !is_valid_uri_text(target) {
        return Err(WireError::new(ErrorKind::InvalidTarget, at));
    }
    if form == TargetForm::Absolute && !has_valid_authority(target) {
        return Err(WireError::new(ErrorKind::InvalidTarget, at));
    }
    Ok(form)
}

/// The characters of a path or query, one policy for both and for both
/// target forms (the README's Security section states it):
///
/// - RFC 9112 §3.2.1-2: no fragment (`#`); each `%` starts a pct-encoded
///   octet, `"%" HEXDIG HEXDIG` (RFC 3986 §2.1);
/// - RFC 3986 §3.3-3.4 allow none of `" < > \ ^ ` { | } [ ]` raw. Of these we
///   refuse `"`, `<`, `>` and `` ` ``, which a URL serialiser (browsers,
///   WHATWG URL) always percent-encodes in a path;
/// - and tolerate `\ ^ { | } [ ]`, which browsers send raw in queries (and
///   some in paths) and which mean nothing to HTTP's routing.
fn is_valid_uri_text(target: &[u8]) -> bool {
    let mut i = 0;
    loop {
        // Only `%` and the refused bytes need a look; the rest is skipped
        // in blocks.
        i = skip_plain_uri_bytes(target, i);
        match target.get(i) {
            None => return true,
            Some(b'%') => {
                let hex = |at: usize| target.get(at).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            }
            Some(_) => return false,
        }
    }
}

/// The authority of an absolute-form target: no userinfo (RFC 9110 §4.2.4:
/// its presence is treated as an error), and a host for `http` and `https`
/// (RFC 9110 §4.2.1 ¶4: an empty host must be rejected).
fn has_valid_authority(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = (&target[..colon], &target[colon + 3..]);
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?'))
        .unwrap_or(rest.len());
    let authority = &rest[..end];
    if authority.contains(&b'@') {
        return false;
    }
    let http = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    !(http && authority.is_empty())
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` followed by `://`
/// (RFC 3986 §3.1).
fn is_absolute_uri_start(target: &[u8]) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let scheme = &target[..colon];
    scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && target[colon..].starts_with(b"://")
}

/// The response side: `HTTP-version SP status-code SP [reason-phrase] CRLF`.
impl HeadKind for ResponseHead {
    const SKIPS_LEADING_EMPTY_LINES: bool = false;
    const UNFOLDS: bool = true;

    fn empty() -> Self {
        ResponseHead {
            version: Version::Http11,
            status: 0,
            reason: Span::default(),
            fields: Fields::default(),
        }
    }

    fn fields_mut(&mut self) -> &mut Fields {
        &mut self.fields
    }

    fn bare_lf_allowed(_: &Limits) -> bool {
        true
    }

    fn max_line_bytes(_: &Limits) -> Option<usize> {
        // A status line is bounded by the head limit only.
        None
    }

    fn parse_start_line(
        &mut self,
        buf: &[u8],
        pos: usize,
        bare_lf: bool,
    ) -> Result<Option<usize>, WireError> {
        let Some(version) = parse_version(buf, pos)? else {
            return Ok(None);
        };
        let mut i = pos + 8;
        // RFC 9112 §4: SP, then a three-digit status code.
        let Some(code) = buf.get(i..i + 4) else {
            return Ok(None);
        };
        let status = match code {
            [b' ', a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
            }
            _ => return Err(WireError::new(ErrorKind::InvalidStatusLine, i)),
        };
        i += 4;
        let reason_start = i + 1;
        let reason;
        match buf.get(i) {
            None => return Ok(None),
            // Leniency: some servers omit the SP before an empty reason.
            Some(b'\r' | b'\n') => reason = Span::new(i, i),
            Some(b' ') => {
                // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
                i = reason_start;
                loop {
                    i = skip_text_bytes(buf, i);
                    match buf.get(i) {
                        None => return Ok(None),
                        Some(b'\t') => i += 1,
                        Some(b'\r' | b'\n') => break,
                        Some(_) => return Err(WireError::new(ErrorKind::InvalidFieldValue, i)),
                    }
                }
                reason = Span::new(reason_start, i);
            }
            Some(_) => return Err(WireError::new(ErrorKind::InvalidStatusLine, i)),
        }
        let Some(next) = line_end(buf, i, bare_lf)? else {
            return Ok(None);
        };
        self.version = version;
        self.status = status;
        self.reason = reason;
        Ok(Some(next))
    }
}

/// A request's trailer section: field lines only, with the request rules for
/// fields.
impl HeadKind for Fields {
    const HAS_START_LINE: bool = false;
    const SKIPS_LEADING_EMPTY_LINES: bool = false;
    const UNFOLDS: bool = false;

    fn empty() -> Self {
        Fields::default()
    }

    fn fields_mut(&mut self) -> &mut Fields {
        self
    }

    fn bare_lf_allowed(limits: &Limits) -> bool {
        limits.allow_bare_lf_in_requests
    }
}

/// A response's trailer section: the fields a [`TrailerParser::for_responses`]
/// fills.
#[derive(Clone, Debug, Default)]
struct ResponseTrailers(Fields);

/// A response's trailer section: field lines only, with the response rules
/// for fields (RFC 9112 §5.2 ¶3: obs-fold is unfolded; RFC 9112 §2.2 ¶3: a
/// bare LF ends a line, as in response heads).
impl HeadKind for ResponseTrailers {
    const HAS_START_LINE: bool = false;
    const SKIPS_LEADING_EMPTY_LINES: bool = false;
    const UNFOLDS: bool = true;

    fn empty() -> Self {
        ResponseTrailers::default()
    }

    fn fields_mut(&mut self) -> &mut Fields {
        &mut self.0
    }

    fn bare_lf_allowed(_: &Limits) -> bool {
        true
    }
}
