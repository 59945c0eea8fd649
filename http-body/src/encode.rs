//! Body encoders: the send side of the body framing codecs — a body of a
//! declared Content-Length, a chunked body with its last chunk and trailer
//! section (RFC 9112 §7.1), and a body delimited by closing the connection
//! (HTTP/1.0 responses of unknown length, RFC 9112 §6.3 rule 8).
//!
//! An [`Encoder`] checks the framing rules and turns each write into an
//! [`EncodedBuf`]: the caller's [`Bytes`] untouched, with at most a chunk-size
//! line (formatted into an inline array) in front and a static CRLF behind.
//! Payload bytes are never copied; an `EncodedBuf` is a [`Buf`] whose
//! [`chunks_vectored`](Buf::chunks_vectored) hands the pieces to a vectored
//! write as they are.
//!
//! This module does not choose the framing (that is `gruvi-wire`'s
//! [`framing`](gruvi_wire::framing) decision and the connection's), write
//! heads, or do IO. A misuse — too many or too few bytes, trailers where
//! none can go, writing after the end — is an error that changes nothing:
//! the encoder is as it was before the call, and nothing is emitted.

use std::fmt;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use gruvi_wire::{HeadText, HeadWriter, is_hop_by_hop};
use http::HeaderMap;

use crate::error::{BodyError, BodyErrorKind};
use crate::trailers::is_forbidden_trailer;

/// Encodes one outgoing body. Every write goes through
/// [`encode`](Self::encode), and the body ends with [`finish`](Self::finish)
/// (or [`finish_with_fields`](Self::finish_with_fields)); each returns the
/// bytes to send as an [`EncodedBuf`].
///
/// ```
/// use bytes::{BufMut, Bytes};
/// use gruvi_body::Encoder;
///
/// let mut encoder = Encoder::chunked();
/// let mut wire = Vec::new();
/// wire.put(encoder.encode(Bytes::from_static(b"hello"))?);
/// // Nothing: an empty chunk would end the body.
/// assert!(encoder.encode(Bytes::new())?.is_empty());
/// wire.put(encoder.finish_with_fields(&[("X-Checksum", "5d41")])?);
/// assert_eq!(wire, b"5\r\nhello\r\n0\r\nX-Checksum: 5d41\r\n\r\n");
/// assert!(encoder.is_finished());
/// # Ok::<(), gruvi_body::BodyError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Encoder {
    kind: Kind,
    /// Body bytes accepted so far (chunk syntax not counted).
    written: u64,
    finished: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Length { declared: u64 },
    Chunked,
    UntilClose,
}

impl Encoder {
    /// A body of exactly `length` bytes, announced by Content-Length (0 for
    /// an empty body).
    pub fn length(length: u64) -> Self {
        Encoder::new(Kind::Length { declared: length })
    }

    /// A chunked body (`Transfer-Encoding: chunked`, HTTP/1.1 only), the one
    /// framing that can carry trailers.
    pub fn chunked() -> Self {
        Encoder::new(Kind::Chunked)
    }

    /// A body that ends when the connection closes: for HTTP/1.0 responses
    /// whose length is not known up front (RFC 9112 §6.3 rule 8). The
    /// connection must be closed after it; a request can never be framed
    /// this way.
    pub fn until_close() -> Self {
        Encoder::new(Kind::UntilClose)
    }

    fn new(kind: Kind) -> Self {
        Encoder {
            kind,
            written: 0,
            finished: false,
        }
    }

    /// Encodes one write of body bytes, which end up in the returned buffer
    /// without being copied.
    ///
    /// An empty `data` emits nothing, whatever the framing (for chunked, an
    /// empty chunk would be the last chunk and end the body).
    ///
    /// # Errors
    ///
    /// [`LengthExceeded`](BodyErrorKind::LengthExceeded) when the write would
    /// take a Content-Length body past its declared length (nothing of it is
    /// emitted); [`AlreadyFinished`](BodyErrorKind::AlreadyFinished) after
    /// the body was finished.
    pub fn encode(&mut self, data: Bytes) -> Result<EncodedBuf, BodyError> {
        if self.finished {
            return Err(BodyError::new(BodyErrorKind::AlreadyFinished));
        }
        let len = data.len() as u64;
        let written = self.written.saturating_add(len);
        match self.kind {
            // RFC 9112 §6.2: the recipient reads exactly Content-Length bytes;
            // anything more would be taken for the next message.
            Kind::Length { declared } if written > declared => {
                Err(BodyError::new(BodyErrorKind::LengthExceeded {
                    declared,
                    attempted: written,
                }))
            }
            Kind::Length { .. } | Kind::UntilClose => {
                self.written = written;
                Ok(EncodedBuf::data(data))
            }
            // RFC 9112 §7.1: a chunk of size 0 is the last-chunk.
            Kind::Chunked if data.is_empty() => Ok(EncodedBuf::empty()),
            Kind::Chunked => {
                self.written = written;
                Ok(EncodedBuf::chunk(data))
            }
        }
    }

    /// Ends the body, with the trailers of an [`http_body`] trailers frame
    /// (`None` or an empty map for none). Field names and values are checked
    /// as for [`finish_with_fields`](Self::finish_with_fields).
    ///
    /// For a chunked body, the returned buffer holds the last chunk and the
    /// trailer section; for the others it is empty.
    ///
    /// # Errors
    ///
    /// As for [`finish_with_fields`](Self::finish_with_fields).
    pub fn finish(&mut self, trailers: Option<&HeaderMap>) -> Result<EncodedBuf, BodyError> {
        match trailers {
            Some(map) if !map.is_empty() => self.finish_fields(map.len(), map.iter()),
            _ => self.finish_fields(0, std::iter::empty::<(&str, &str)>()),
        }
    }

    /// Ends the body with trailer fields given as `(name, value)` pairs, in
    /// the order given, duplicates kept: `&str` / `String` (written as
    /// ISO-8859-1), bytes, or `http` types — anything [`HeadText`]. An empty
    /// slice is no trailers (or call [`finish(None)`](Self::finish)).
    ///
    /// # Errors
    ///
    /// Nothing is emitted and the encoder is unchanged on any of these:
    /// - [`LengthShort`](BodyErrorKind::LengthShort): a Content-Length body
    ///   ended with fewer bytes than declared;
    /// - [`TrailersNotAllowed`](BodyErrorKind::TrailersNotAllowed): trailers
    ///   given for a Content-Length or until-close body — only chunked can
    ///   carry them, and they are never dropped silently;
    /// - [`ForbiddenTrailer`](BodyErrorKind::ForbiddenTrailer): a field of
    ///   [`FORBIDDEN_TRAILERS`](crate::FORBIDDEN_TRAILERS) or a hop-by-hop
    ///   field (RFC 9110 §6.5.1, §7.6.1);
    /// - [`InvalidTrailer`](BodyErrorKind::InvalidTrailer): a name that is
    ///   not a token, a value with a control character or surrounding
    ///   whitespace, or text ISO-8859-1 cannot express — the checks of a
    ///   header field;
    /// - [`AlreadyFinished`](BodyErrorKind::AlreadyFinished).
    pub fn finish_with_fields<N: HeadText, V: HeadText>(
        &mut self,
        fields: &[(N, V)],
    ) -> Result<EncodedBuf, BodyError> {
        self.finish_fields(fields.len(), fields.iter().map(|(n, v)| (n, v)))
    }

    fn finish_fields<N, V>(
        &mut self,
        count: usize,
        fields: impl Iterator<Item = (N, V)>,
    ) -> Result<EncodedBuf, BodyError>
    where
        N: HeadText,
        V: HeadText,
    {
        if self.finished {
            return Err(BodyError::new(BodyErrorKind::AlreadyFinished));
        }
        let buf = match self.kind {
            Kind::Length { declared } if self.written < declared => {
                return Err(BodyError::new(BodyErrorKind::LengthShort {
                    declared,
                    written: self.written,
                }));
            }
            // Only the chunked coding has a place for trailers (RFC 9112
            // §7.1.2); with any other framing they would be lost.
            Kind::Length { .. } | Kind::UntilClose if count > 0 => {
                return Err(BodyError::new(BodyErrorKind::TrailersNotAllowed));
            }
            Kind::Length { .. } | Kind::UntilClose => EncodedBuf::empty(),
            Kind::Chunked if count == 0 => EncodedBuf::last_chunk(None),
            Kind::Chunked => EncodedBuf::last_chunk(Some(trailer_section(fields)?)),
        };
        self.finished = true;
        Ok(buf)
    }

    /// Returns `true` once the body was finished.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Returns `true` for a chunked body.
    pub fn is_chunked(&self) -> bool {
        self.kind == Kind::Chunked
    }

    /// Returns `true` for a body that ends by closing the connection: the
    /// connection cannot be reused after it.
    pub fn is_until_close(&self) -> bool {
        self.kind == Kind::UntilClose
    }

    /// The declared Content-Length, for a body that has one.
    pub fn declared_length(&self) -> Option<u64> {
        match self.kind {
            Kind::Length { declared } => Some(declared),
            Kind::Chunked | Kind::UntilClose => None,
        }
    }

    /// Body bytes encoded so far (chunk syntax and trailers not counted).
    pub fn written(&self) -> u64 {
        self.written
    }
}

/// The trailer section after the last chunk (RFC 9112 §7.1.2): the field
/// lines, each checked as a header field, and the empty line.
fn trailer_section<N: HeadText, V: HeadText>(
    fields: impl Iterator<Item = (N, V)>,
) -> Result<Bytes, BodyError> {
    let mut section = BytesMut::with_capacity(128);
    let mut writer = HeadWriter::trailer_section(&mut section);
    for (name, value) in fields {
        // A name ISO-8859-1 cannot express is left to the writer's check.
        if let Ok(bytes) = name.head_bytes() {
            // RFC 9110 §6.5.1: fields about framing, routing, authentication,
            // ... must not be trailers; hop-by-hop fields belong to the
            // connection, not to the application.
            if is_forbidden_trailer(&bytes) || is_hop_by_hop(&bytes) {
                let name = gruvi_wire::latin1_text(&bytes);
                return Err(BodyError::new(BodyErrorKind::ForbiddenTrailer(name)));
            }
        }
        writer
            .field(&name, &value)
            .map_err(|e| BodyError::new(BodyErrorKind::InvalidTrailer(e)))?;
    }
    writer.finish();
    Ok(section.freeze())
}

/// Room for a chunk-size line: 16 hex digits (a u64) and CRLF.
const HEAD_CAP: usize = 18;
const CRLF: &[u8] = b"\r\n";
const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// The bytes of one [`Encoder`] step, ready to send: a [`Buf`] of up to three
/// pieces — a chunk-size line (held inline, no allocation), the caller's
/// data or the trailer section (a [`Bytes`], never copied), and a static CRLF.
///
/// [`chunks_vectored`](Buf::chunks_vectored) fills one [`IoSlice`] per
/// non-empty piece, and [`copy_to_bytes`](Buf::copy_to_bytes) of bytes that
/// lie within the data piece slices it instead of copying.
///
/// Advancing past the end empties the buffer rather than panicking.
#[derive(Clone)]
pub struct EncodedBuf {
    /// The chunk-size line, right-aligned: `head[head_pos..]` is unsent.
    head: [u8; HEAD_CAP],
    head_pos: usize,
    data: Bytes,
    /// The unsent part of the closing CRLF (or nothing).
    tail: &'static [u8],
}

impl EncodedBuf {
    fn empty() -> Self {
        EncodedBuf {
            head: [0; HEAD_CAP],
            head_pos: HEAD_CAP,
            data: Bytes::new(),
            tail: &[],
        }
    }

    fn data(data: Bytes) -> Self {
        EncodedBuf {
            data,
            ..EncodedBuf::empty()
        }
    }

    /// `chunk = chunk-size CRLF chunk-data CRLF` (RFC 9112 §7.1), without
    /// extensions; the size in lowercase hex, no leading zeros.
    fn chunk(data: Bytes) -> Self {
        let mut head = [0; HEAD_CAP];
        head[HEAD_CAP - 2..].copy_from_slice(CRLF);
        let mut pos = HEAD_CAP - 2;
        let mut size = data.len() as u64;
        loop {
            pos -= 1;
            head[pos] = HEX_DIGITS[(size & 0xf) as usize];
            size >>= 4;
            if size == 0 {
                break;
            }
        }
        EncodedBuf {
            head,
            head_pos: pos,
            data,
            tail: CRLF,
        }
    }

    /// `last-chunk trailer-section CRLF` (RFC 9112 §7.1): `0` CRLF, then the
    /// section (which ends with its empty line), or just the empty line.
    fn last_chunk(section: Option<Bytes>) -> Self {
        let mut head = [0; HEAD_CAP];
        head[HEAD_CAP - 3..].copy_from_slice(b"0\r\n");
        let (data, tail) = match section {
            Some(section) => (section, &[][..]),
            None => (Bytes::new(), CRLF),
        };
        EncodedBuf {
            head,
            head_pos: HEAD_CAP - 3,
            data,
            tail,
        }
    }

    fn head(&self) -> &[u8] {
        self.head.get(self.head_pos..).unwrap_or_default()
    }

    /// What is left to send, in order: the framing before the data (a
    /// chunk-size line), the data, and the framing after it (a CRLF); any
    /// may be empty. For a writer that copies the small pieces and keeps
    /// the data as it is, without walking the pieces through [`Buf`].
    pub fn parts(&self) -> (&[u8], &Bytes, &[u8]) {
        (self.head(), &self.data, self.tail)
    }

    /// Bytes left to send (the same as [`Buf::remaining`]).
    pub fn len(&self) -> usize {
        self.head().len() + self.data.len() + self.tail.len()
    }

    /// Returns `true` if there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Buf for EncodedBuf {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        [self.head(), &self.data[..], self.tail]
            .into_iter()
            .find(|piece| !piece.is_empty())
            .unwrap_or_default()
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let pieces = [self.head(), &self.data[..], self.tail]
            .into_iter()
            .filter(|piece| !piece.is_empty());
        let mut filled = 0;
        for (slot, piece) in dst.iter_mut().zip(pieces) {
            *slot = IoSlice::new(piece);
            filled += 1;
        }
        filled
    }

    fn advance(&mut self, mut cnt: usize) {
        let head = cnt.min(self.head().len());
        self.head_pos += head;
        cnt -= head;
        let data = cnt.min(self.data.len());
        self.data.advance(data);
        cnt -= data;
        let tail = cnt.min(self.tail.len());
        self.tail = self.tail.get(tail..).unwrap_or_default();
    }

    fn copy_to_bytes(&mut self, len: usize) -> Bytes {
        if self.head().is_empty() && len <= self.data.len() {
            return self.data.split_to(len);
        }
        let len = len.min(self.len());
        let mut out = BytesMut::with_capacity(len);
        while out.len() < len {
            let piece = self.chunk();
            let n = piece.len().min(len - out.len());
            out.extend_from_slice(piece.get(..n).unwrap_or_default());
            self.advance(n);
        }
        out.freeze()
    }
}

impl fmt::Debug for EncodedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodedBuf")
            .field("head", &String::from_utf8_lossy(self.head()))
            .field("data_len", &self.data.len())
            .field("tail", &String::from_utf8_lossy(self.tail))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_of(mut buf: EncodedBuf) -> Vec<u8> {
        let mut out = Vec::new();
        while buf.has_remaining() {
            let piece = buf.chunk();
            out.extend_from_slice(piece);
            let n = piece.len();
            buf.advance(n);
        }
        out
    }

    #[test]
    fn chunk_size_lines_are_lowercase_hex_without_leading_zeros() {
        for (len, line) in [
            (1, "1\r\n"),
            (15, "f\r\n"),
            (16, "10\r\n"),
            (255, "ff\r\n"),
            (4096, "1000\r\n"),
            (65535, "ffff\r\n"),
        ] {
            let buf = EncodedBuf::chunk(Bytes::from(vec![b'x'; len]));
            assert_eq!(buf.head(), line.as_bytes(), "{len}");
        }
    }

    #[test]
    fn advancing_crosses_pieces_and_stops_at_the_end() {
        let mut buf = EncodedBuf::chunk(Bytes::from_static(b"abc"));
        assert_eq!(buf.len(), 8);
        buf.advance(2);
        assert_eq!(buf.chunk(), b"\n");
        buf.advance(2);
        assert_eq!(buf.chunk(), b"bc");
        buf.advance(3);
        assert_eq!(buf.chunk(), b"\n");
        buf.advance(100);
        assert!(buf.is_empty());
        assert_eq!(buf.chunk(), b"");
        assert_eq!(bytes_of(EncodedBuf::last_chunk(None)), b"0\r\n\r\n");
    }

    #[test]
    fn copy_to_bytes_slices_the_data_and_copies_only_across_pieces() {
        let data = Bytes::from_static(b"hello");
        let mut buf = EncodedBuf::chunk(data.clone());
        let head = buf.copy_to_bytes(2);
        assert_eq!(&head[..], b"5\r");
        let across = buf.copy_to_bytes(3);
        assert_eq!(&across[..], b"\nhe");
        let inside = buf.copy_to_bytes(3);
        assert_eq!(&inside[..], b"llo");
        assert_eq!(inside.as_ptr(), data[2..].as_ptr(), "sliced, not copied");
        assert_eq!(&buf.copy_to_bytes(10)[..], b"\r\n");
        assert!(buf.is_empty());
    }
}
