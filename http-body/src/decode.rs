//! Body decoders: Content-Length, chunked (RFC 9112 §7.1) and until-close.
//!
//! A [`Decoder`] is fed from the connection's read buffer and hands out
//! [`Frame`]s: data as zero-copy slices split off the buffer, then the end,
//! with the trailers of a chunked body. It consumes exactly its body — chunk
//! syntax, data and trailer section — and never a byte of what follows, so a
//! pipelined message behind it stays in the buffer untouched.
//!
//! The chunked decoder is a byte-level state machine: a size line, a CRLF or
//! a trailer section may arrive split anywhere, and each byte is looked at
//! once (the trailer section is parsed by `gruvi-wire`'s [`TrailerParser`],
//! which is linear too). Chunk lines are strict in both directions (CRLF
//! only); the trailer section follows the field-line rules of the heads of
//! its direction, so a response's trailers are unfolded and may end lines in
//! a bare LF, as response heads may ([`Decoder::chunked_response`]).

use bytes::{Buf, Bytes, BytesMut};
use gruvi_wire::{Limits, Status, TrailerParser, is_tchar};

use crate::error::{BodyError, BodyErrorKind};
use crate::trailers::Trailers;

/// What a decoder hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Body bytes, split off the read buffer without copying.
    Data(Bytes),
    /// The body is complete; the trailers of a chunked body (else empty).
    End(Trailers),
}

/// Limits for chunked bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Most bytes of chunk extensions on one chunk line (they carry nothing
    /// we use; the cap keeps a peer from making us parse an endless line of
    /// them, and a long body of short ones is still fine). Default 16 KiB.
    pub max_extension_bytes: usize,
    /// The trailer section: `max_head_bytes` bounds its bytes (default
    /// 16 KiB), `max_fields` its fields (default 32);
    /// `allow_bare_lf_in_requests` lets the lines of a request's trailers end
    /// in a bare LF (a response's always may).
    pub trailers: Limits,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits {
            max_extension_bytes: 16 * 1024,
            trailers: Limits {
                max_head_bytes: 16 * 1024,
                max_fields: 32,
                ..Limits::default()
            },
        }
    }
}

/// Decodes one body from a read buffer: data frames split off the buffer,
/// then the end (with a chunked body's trailers); never a byte past the end.
#[derive(Debug)]
pub struct Decoder {
    kind: Kind,
    /// Body bytes handed out so far.
    received: u64,
    /// The most body bytes accepted, if limited.
    limit: Option<u64>,
}

#[derive(Debug)]
enum Kind {
    Length { remaining: u64, declared: u64 },
    Chunked(Box<Chunked>),
    UntilClose,
    Done,
}

impl Decoder {
    /// A body of exactly `length` bytes (Content-Length; 0 for no body).
    pub fn length(length: u64) -> Self {
        Decoder {
            kind: Kind::Length {
                remaining: length,
                declared: length,
            },
            received: 0,
            limit: None,
        }
    }

    /// A chunked request body. Its trailer section follows the field-line
    /// rules of request heads: obs-fold is an error (RFC 9112 §5.2 ¶2), and
    /// so is a bare LF unless `limits.trailers.allow_bare_lf_in_requests`.
    pub fn chunked(limits: ChunkedLimits) -> Self {
        Self::chunked_with(limits, TrailerParser::new(limits.trailers))
    }

    /// A chunked response body. Its trailer section follows the field-line
    /// rules of response heads: each obs-fold is replaced with SP before the
    /// value is handed out (RFC 9112 §5.2 ¶3), and a bare LF ends a line
    /// (RFC 9112 §2.2 ¶3). Chunk lines still need CRLF.
    pub fn chunked_response(limits: ChunkedLimits) -> Self {
        Self::chunked_with(limits, TrailerParser::for_responses(limits.trailers))
    }

    fn chunked_with(limits: ChunkedLimits, trailers: TrailerParser) -> Self {
        Decoder {
            kind: Kind::Chunked(Box::new(Chunked::new(limits, trailers))),
            received: 0,
            limit: None,
        }
    }

    /// A body that runs until the connection closes (responses only).
    pub fn until_close() -> Self {
        Decoder {
            kind: Kind::UntilClose,
            received: 0,
            limit: None,
        }
    }

    /// Refuses a body larger than `max` bytes: a declared length over it at
    /// the first call, a chunked body as soon as a chunk-size line would
    /// take it past `max` (before the chunk's data is read), an until-close
    /// body when its data does. The error is [`BodyError::too_large`].
    pub fn limit(mut self, max: u64) -> Self {
        self.limit = Some(max);
        self
    }

    /// Returns `true` once [`Frame::End`] has been handed out.
    pub fn is_done(&self) -> bool {
        matches!(self.kind, Kind::Done)
    }

    /// Body bytes handed out so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Decodes what `buf` holds: `Some(frame)`, or `None` when more input is
    /// needed (and always after the end). Consumed bytes are removed from the
    /// front of `buf`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, BodyError> {
        if let Some(limit) = self.limit {
            let over = match &self.kind {
                Kind::Length { declared, .. } => *declared > limit,
                Kind::Chunked(chunked) => chunked.announced > limit,
                Kind::UntilClose => self.received.saturating_add(buf.len() as u64) > limit,
                Kind::Done => false,
            };
            if over {
                return Err(BodyError::too_large(limit));
            }
        }
        let frame = match &mut self.kind {
            Kind::Done => return Ok(None),
            Kind::Length { remaining: 0, .. } => Frame::End(Trailers::new()),
            Kind::Length { .. } | Kind::UntilClose if buf.is_empty() => return Ok(None),
            Kind::Length { remaining, .. } => {
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= n as u64;
                Frame::Data(buf.split_to(n).freeze())
            }
            Kind::UntilClose => Frame::Data(buf.split().freeze()),
            Kind::Chunked(chunked) => match chunked.decode(buf, self.limit)? {
                Some(frame) => frame,
                None => return Ok(None),
            },
        };
        match &frame {
            Frame::Data(data) => self.received += data.len() as u64,
            Frame::End(_) => self.kind = Kind::Done,
        }
        Ok(Some(frame))
    }

    /// [`decode`](Self::decode), or [`decode_eof`](Self::decode_eof) once
    /// `input_ended` (the peer closed its sending side).
    pub fn decode_input(
        &mut self,
        buf: &mut BytesMut,
        input_ended: bool,
    ) -> Result<Option<Frame>, BodyError> {
        if input_ended {
            self.decode_eof(buf)
        } else {
            self.decode(buf)
        }
    }

    /// Decodes at the end of the input (the peer closed): what is left in
    /// `buf`, then the end of an until-close body; for any other body that is
    /// not complete, an "incomplete body" error.
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, BodyError> {
        if let Some(frame) = self.decode(buf)? {
            return Ok(Some(frame));
        }
        match &self.kind {
            Kind::Done => Ok(None),
            Kind::UntilClose => {
                self.kind = Kind::Done;
                Ok(Some(Frame::End(Trailers::new())))
            }
            Kind::Length { declared, .. } => Err(BodyError::new(BodyErrorKind::Incomplete {
                expected: Some(*declared),
                received: self.received,
            })),
            Kind::Chunked(_) => Err(BodyError::new(BodyErrorKind::Incomplete {
                expected: None,
                received: self.received,
            })),
        }
    }
}

/// Where the chunked decoder is (RFC 9112 §7.1):
///
/// ```text
/// chunked-body = *chunk last-chunk trailer-section CRLF
/// chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
/// chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk-size; `digits` seen so far.
    Size {
        digits: u32,
    },
    /// Whitespace after the size: only `;` may follow (RFC 9112 §7.1.1 BWS).
    SizeSpace,
    /// After `;`: whitespace, then an extension name.
    ExtBeforeName,
    ExtName,
    /// Whitespace after a name: only `=` or `;` may follow (BWS precedes
    /// them and nothing else).
    ExtNameSpace,
    /// After `=`: whitespace, then a token or a quoted string.
    ExtBeforeValue,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// Just after a closing quote: `;`, whitespace or the line end.
    ExtAfterQuoted,
    /// Whitespace after a value: only `;` may follow.
    ExtValueSpace,
    /// CR of the size line seen; LF must follow.
    SizeLf,
    /// Inside chunk-data; the remaining count is `Chunked::remaining`.
    Data,
    /// CRLF after chunk-data.
    DataCr,
    DataLf,
    /// The trailer section after the last chunk.
    Trailers,
}

#[derive(Debug)]
struct Chunked {
    state: State,
    /// The chunk-size being read, then the data left in the chunk.
    remaining: u64,
    /// The sizes of the chunks read so far, added up.
    announced: u64,
    /// Extension bytes on the current chunk line.
    extension_bytes: usize,
    limits: ChunkedLimits,
    trailers: TrailerParser,
}

impl Chunked {
    /// `trailers` carries the trailer rules of the body's direction.
    fn new(limits: ChunkedLimits, trailers: TrailerParser) -> Self {
        Chunked {
            state: State::Size { digits: 0 },
            remaining: 0,
            announced: 0,
            extension_bytes: 0,
            limits,
            trailers,
        }
    }

    fn decode(
        &mut self,
        buf: &mut BytesMut,
        limit: Option<u64>,
    ) -> Result<Option<Frame>, BodyError> {
        loop {
            match self.state {
                State::Data => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Some(Frame::Data(buf.split_to(n).freeze())));
                }
                State::Trailers => return self.decode_trailers(buf),
                _ => {
                    // Chunk syntax: consumed byte by byte, never handed out.
                    let consumed = self.scan_syntax(buf)?;
                    buf.advance(consumed);
                    if matches!(self.state, State::Data | State::Trailers) {
                        // A size line ended: the chunk is refused before its
                        // data is read if it takes the body past the limit.
                        if let Some(limit) = limit.filter(|&limit| self.announced > limit) {
                            return Err(BodyError::too_large(limit));
                        }
                        continue;
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Runs the syntax states over `buf` until data or the trailer section
    /// starts, or the buffer ends; returns how many bytes were consumed.
    fn scan_syntax(&mut self, buf: &[u8]) -> Result<usize, BodyError> {
        use BodyErrorKind::*;
        let error = |kind| Err(BodyError::new(kind));
        for (i, &b) in buf.iter().enumerate() {
            if is_extension_state(self.state) || self.state == State::SizeSpace {
                self.extension_bytes += 1;
                if self.extension_bytes > self.limits.max_extension_bytes {
                    return error(ChunkExtensionTooLong {
                        limit: self.limits.max_extension_bytes,
                    });
                }
            }
            self.state = match (self.state, b) {
                (State::Size { digits }, _) if b.is_ascii_hexdigit() => {
                    if digits == MAX_SIZE_DIGITS {
                        return error(InvalidChunkSize);
                    }
                    // Never truncated: a size past u64 is an error.
                    let digit = u64::from((b as char).to_digit(16).unwrap_or(0) as u8);
                    self.remaining = match self
                        .remaining
                        .checked_mul(16)
                        .and_then(|n| n.checked_add(digit))
                    {
                        Some(size) => size,
                        None => return error(ChunkSizeOverflow),
                    };
                    State::Size { digits: digits + 1 }
                }
                // An empty size, or a sign, "0x", ...: not 1*HEXDIG.
                (State::Size { digits: 0 }, _) => return error(InvalidChunkSize),
                (State::Size { .. }, b' ' | b'\t') => State::SizeSpace,
                (State::Size { .. }, b'\n') => return error(MissingCrlf),
                (State::Size { .. } | State::ExtToken | State::ExtAfterQuoted, b';') => {
                    State::ExtBeforeName
                }
                (State::SizeSpace, b' ' | b'\t') => State::SizeSpace,
                (State::SizeSpace, b';') => State::ExtBeforeName,
                // Whitespace after the size must lead to an extension.
                (State::SizeSpace, _) => return error(InvalidChunkSize),
                (
                    State::Size { .. } | State::ExtName | State::ExtToken | State::ExtAfterQuoted,
                    b'\r',
                ) => State::SizeLf,
                (State::Size { .. }, _) => return error(InvalidChunkSize),
                (State::ExtBeforeName, b' ' | b'\t') => State::ExtBeforeName,
                (State::ExtBeforeName | State::ExtName, _) if is_tchar(b) => State::ExtName,
                (State::ExtName | State::ExtNameSpace, b' ' | b'\t') => State::ExtNameSpace,
                (State::ExtName | State::ExtNameSpace, b'=') => State::ExtBeforeValue,
                (State::ExtName | State::ExtNameSpace | State::ExtValueSpace, b';') => {
                    State::ExtBeforeName
                }
                (State::ExtBeforeValue, b' ' | b'\t') => State::ExtBeforeValue,
                (State::ExtBeforeValue, b'"') => State::ExtQuoted,
                (State::ExtBeforeValue | State::ExtToken, _) if is_tchar(b) => State::ExtToken,
                (State::ExtToken | State::ExtAfterQuoted | State::ExtValueSpace, b' ' | b'\t') => {
                    State::ExtValueSpace
                }
                // quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
                (State::ExtQuoted, b'"') => State::ExtAfterQuoted,
                (State::ExtQuoted, b'\\') => State::ExtQuotedEscape,
                (State::ExtQuoted, _) if is_qdtext(b) => State::ExtQuoted,
                (State::ExtQuotedEscape, _) if is_quoted_pair_byte(b) => State::ExtQuoted,
                // Listed, not guarded: the match must stay exhaustive.
                (
                    State::ExtBeforeName
                    | State::ExtName
                    | State::ExtNameSpace
                    | State::ExtBeforeValue
                    | State::ExtToken
                    | State::ExtQuoted
                    | State::ExtQuotedEscape
                    | State::ExtAfterQuoted
                    | State::ExtValueSpace,
                    _,
                ) => {
                    return error(if b == b'\n' {
                        MissingCrlf
                    } else {
                        InvalidChunkExtension
                    });
                }
                (State::SizeLf, b'\n') => {
                    // The extension limit is per chunk line.
                    self.extension_bytes = 0;
                    self.announced = self.announced.saturating_add(self.remaining);
                    let next = if self.remaining == 0 {
                        State::Trailers
                    } else {
                        State::Data
                    };
                    self.state = next;
                    return Ok(i + 1);
                }
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => State::Size { digits: 0 },
                (State::SizeLf | State::DataCr | State::DataLf, _) => return error(MissingCrlf),
                (State::Data | State::Trailers, _) => {
                    unreachable!("scan_syntax stops at data and trailers")
                }
            };
        }
        Ok(buf.len())
    }

    fn decode_trailers(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, BodyError> {
        // The section is taken off the buffer only once it is complete; the
        // parser's spans are offsets from its first byte.
        let (fields, consumed) = match self.trailers.parse(buf) {
            Ok(Status::Partial) => return Ok(None),
            Ok(Status::Complete(fields, consumed)) => (fields, consumed),
            Err(wire) => return Err(BodyError::new(BodyErrorKind::InvalidTrailers(wire))),
        };
        let section = buf.split_to(consumed).freeze();
        let mut trailers = Trailers::new();
        for field in fields {
            // `value_bytes` unfolds a folded value (response rules only; the
            // request rules refuse obs-fold): RFC 9112 §5.2 ¶3.
            trailers.push_received(
                field.name_span().slice(&section),
                field.value_bytes(&section),
            );
        }
        Ok(Some(Frame::End(trailers)))
    }
}

/// Chunk-size digits allowed, leading zeros included: a sanity bound on a
/// size line (16 significant digits already fill a u64).
const MAX_SIZE_DIGITS: u32 = 64;

fn is_extension_state(state: State) -> bool {
    matches!(
        state,
        State::ExtBeforeName
            | State::ExtName
            | State::ExtNameSpace
            | State::ExtBeforeValue
            | State::ExtToken
            | State::ExtQuoted
            | State::ExtQuotedEscape
            | State::ExtAfterQuoted
            | State::ExtValueSpace
    )
}

/// `qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text` (RFC 9110 §5.6.4).
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

/// The byte after `\` in a `quoted-pair`: HTAB, SP, VCHAR or obs-text.
fn is_quoted_pair_byte(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff)
}
