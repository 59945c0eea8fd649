//! The outgoing bytes of one connection, batched for few syscalls and no
//! payload copies.
//!
//! A [`WriteBuf`] owns everything a connection has produced but not yet
//! written: response (or request) heads, body framing, and body payloads, in
//! the exact order they were produced. Heads and small pieces are copied into
//! one growable buffer, the *tail*, so the heads of a pipelined burst sit
//! side by side and leave in one write; a payload large enough that copying
//! it would cost more than another `iovec` is queued as the caller's
//! [`Bytes`], untouched. The whole is a [`Buf`]: a driver hands
//! [`chunks_vectored`](Buf::chunks_vectored) to a vectored write and
//! [`advance`](Buf::advance)s by what the socket took, partial writes
//! included.
//!
//! Nothing here delays bytes: a lone response is as ready to write as a
//! burst. Deciding *when* to write, and doing the IO, belong to the driver;
//! what the bytes say belongs to `gruvi-wire` and `gruvi-body`.
//!
//! How the buffer keeps its allocation is documented on [`WriteBuf`].

use std::collections::VecDeque;
use std::fmt;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};
use gruvi_body::EncodedBuf;

/// The outgoing bytes of one connection: small pieces copied into one
/// buffer, large payloads queued without copying, in the order they were
/// produced.
///
/// ```
/// use bytes::{Buf, Bytes};
/// use gruvi_conn::WriteBuf;
///
/// let mut out = WriteBuf::new();
/// out.head_buf().extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n");
/// out.push(Bytes::from(vec![b'x'; 4096])); // queued as is
/// out.put_slice(b"HTTP/1.1 204 No Content\r\n\r\n"); // copied
/// assert_eq!(out.pieces(), 3);
///
/// // A socket that took 9 bytes:
/// out.advance(9);
/// assert!(out.chunk().starts_with(b"200 OK"));
/// ```
///
/// # Memory
///
/// Copied bytes live in one buffer, the tail, that is never given away: a
/// large payload queued between copied bytes only marks where the tail's
/// bytes stop and resume, so the tail stays one allocation owned by this
/// buffer. Once everything written into it has been sent, the next head
/// starts again at the beginning of that same allocation. A keep-alive
/// connection allocates while its tail grows to the size of its largest
/// burst (heads and small pieces only; large payloads are not counted), then
/// no more, whether it sends one response at a time or pipelined bursts.
/// The queue of payloads keeps its capacity the same way.
#[derive(Default)]
pub struct WriteBuf {
    /// What comes before the tail's unmarked bytes, oldest first.
    queue: VecDeque<Piece>,
    /// Bytes of the queued payloads, so `remaining` is O(1).
    payload_len: usize,
    /// Bytes of the tail that `Piece::Copied` entries account for; the
    /// tail's bytes past them come after everything queued.
    marked: usize,
    /// Where heads and small pieces are copied, in order.
    tail: BytesMut,
}

/// One slice of a write.
enum Piece {
    /// The next this many bytes of the tail (never zero when queued).
    Copied(usize),
    /// A payload, queued as the caller gave it (never empty when queued).
    Payload(Bytes),
}

impl WriteBuf {
    /// Payloads shorter than this many bytes are copied into the tail;
    /// longer ones are queued without copying. Below this size a copy is
    /// cheaper than another `iovec` (and than keeping the payload's own
    /// allocation alive until it is written).
    pub const COPY_LIMIT: usize = 1024;

    /// An empty buffer; allocates nothing until something is written.
    pub fn new() -> Self {
        WriteBuf::default()
    }

    /// The buffer to write a head into, e.g. with
    /// `gruvi_wire::HeadWriter::response(out.head_buf(), …)`.
    ///
    /// It is the tail: whatever is appended goes after everything already in
    /// this `WriteBuf`, and the heads of a pipelined burst end up contiguous.
    /// Append only (truncating back to what one appended, as `HeadWriter`
    /// does on error, is fine): the bytes already in it are earlier, unsent
    /// writes. Removing or reordering them garbles the output but does not
    /// panic.
    pub fn head_buf(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Appends a copy of `bytes` (framing, a small body, …).
    pub fn put_slice(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
    }

    /// Appends a payload: copied if shorter than
    /// [`COPY_LIMIT`](Self::COPY_LIMIT), otherwise queued as is, without
    /// copying.
    pub fn push(&mut self, bytes: Bytes) {
        if bytes.len() < Self::COPY_LIMIT {
            self.tail.extend_from_slice(&bytes);
        } else {
            self.queue_payload(bytes);
        }
    }

    /// Appends an encoded body piece: its framing copied, its data by the
    /// rule of [`push`](Self::push) (queued by reference when large). The
    /// same bytes as [`push_buf`](Self::push_buf) gives, without walking
    /// the pieces through `Buf`: every response body goes through here.
    pub fn push_encoded(&mut self, encoded: &EncodedBuf) {
        let (before, data, after) = encoded.parts();
        // Most pieces are empty (a length-framed body has no framing).
        if !before.is_empty() {
            self.tail.extend_from_slice(before);
        }
        if data.len() >= Self::COPY_LIMIT {
            self.queue_payload(data.clone());
        } else if !data.is_empty() {
            self.tail.extend_from_slice(data);
        }
        if !after.is_empty() {
            self.tail.extend_from_slice(after);
        }
    }

    /// Appends all of `buf`, piece by piece, each by the rule of
    /// [`push`](Self::push). Meant for a `gruvi_body::EncodedBuf` (a
    /// chunk-size line, the caller's `Bytes`, a CRLF): its pieces are taken
    /// with [`copy_to_bytes`](Buf::copy_to_bytes), which for a
    /// `Bytes`-backed piece slices instead of copying.
    pub fn push_buf(&mut self, mut buf: impl Buf) {
        while buf.has_remaining() {
            let len = buf.chunk().len();
            if len == 0 {
                // A `Buf` that breaks its contract (bytes remaining, none
                // readable) would otherwise loop forever.
                break;
            }
            if len < Self::COPY_LIMIT {
                self.tail.extend_from_slice(buf.chunk());
                buf.advance(len);
            } else {
                self.queue_payload(buf.copy_to_bytes(len));
            }
        }
    }

    /// Queues `bytes` after everything so far: the tail's unmarked bytes are
    /// marked first, so they are written before it.
    fn queue_payload(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        let unmarked = self.tail.len().saturating_sub(self.marked);
        if unmarked > 0 {
            self.queue.push_back(Piece::Copied(unmarked));
            self.marked += unmarked;
        }
        self.payload_len += bytes.len();
        self.queue.push_back(Piece::Payload(bytes));
    }

    /// Bytes left to write (the same as [`Buf::remaining`]).
    pub fn len(&self) -> usize {
        self.payload_len + self.tail.len()
    }

    /// Returns `true` if there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many slices a write of everything needs: one per queued payload
    /// and one per run of copied bytes between them.
    pub fn pieces(&self) -> usize {
        self.slices().count()
    }

    /// Drops everything unsent (for a connection that is closing). The
    /// tail's allocation is kept for reuse.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.payload_len = 0;
        self.marked = 0;
        self.tail.clear();
        self.reclaim_tail();
    }

    /// The non-empty slices of a write of everything, in order.
    ///
    /// Runs of the tail are clamped to its length, so a tail shortened
    /// through [`head_buf`](Self::head_buf) yields fewer bytes, never a
    /// panic; the slices always add up to [`len`](Self::len).
    fn slices(&self) -> impl Iterator<Item = &[u8]> {
        let tail = &self.tail[..];
        let run = move |from: usize, len: usize| {
            let start = from.min(tail.len());
            let end = from.saturating_add(len).min(tail.len());
            tail.get(start..end).unwrap_or_default()
        };
        let mut pos = 0;
        let queued = self.queue.iter().map(move |piece| match piece {
            Piece::Payload(bytes) => &bytes[..],
            Piece::Copied(len) => {
                let slice = run(pos, *len);
                pos += len;
                slice
            }
        });
        queued
            .chain([run(self.marked, usize::MAX)])
            .filter(|slice| !slice.is_empty())
    }

    /// Moves an empty tail back to the start of its allocation, so its
    /// whole capacity serves the next writes. Never allocates.
    fn reclaim_tail(&mut self) {
        if self.tail.is_empty() {
            // Asking for one byte more than the tail has succeeds exactly
            // when consumed space lies before it; it then takes back the
            // whole allocation.
            let _reclaimed = self
                .tail
                .try_reclaim(self.tail.capacity().saturating_add(1));
        }
    }
}

impl Buf for WriteBuf {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.slices().next().unwrap_or_default()
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (slot, slice) in dst.iter_mut().zip(self.slices()) {
            *slot = IoSlice::new(slice);
            filled += 1;
        }
        filled
    }

    /// Consumes `cnt` bytes, across pieces; a count past the end empties
    /// the buffer rather than panicking.
    fn advance(&mut self, mut cnt: usize) {
        while cnt > 0 {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            match front {
                Piece::Payload(bytes) => {
                    let n = cnt.min(bytes.len());
                    bytes.advance(n);
                    self.payload_len -= n;
                    cnt -= n;
                    if bytes.is_empty() {
                        self.queue.pop_front();
                    }
                }
                Piece::Copied(len) => {
                    // What is left of this run if the tail was shortened.
                    let visible = (*len).min(self.tail.len());
                    let n = cnt.min(visible);
                    self.tail.advance(n);
                    cnt -= n;
                    if n == visible {
                        self.marked -= *len;
                        self.queue.pop_front();
                    } else {
                        *len -= n;
                        self.marked -= n;
                    }
                }
            }
        }
        let unmarked = self.tail.len().saturating_sub(self.marked);
        self.tail.advance(cnt.min(unmarked));
        self.reclaim_tail();
    }
}

impl fmt::Debug for WriteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteBuf")
            .field("len", &self.len())
            .field("pieces", &self.pieces())
            .field("tail_len", &self.tail.len())
            .field("tail_capacity", &self.tail.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(buf: &mut WriteBuf) -> Vec<u8> {
        let mut out = Vec::new();
        while buf.has_remaining() {
            let chunk = buf.chunk().to_vec();
            assert!(!chunk.is_empty(), "bytes remain but chunk is empty");
            out.extend_from_slice(&chunk);
            buf.advance(chunk.len());
        }
        out
    }

    /// The bookkeeping agrees with the queue.
    fn check_counts(buf: &WriteBuf) {
        let (mut payloads, mut copied) = (0, 0);
        for piece in &buf.queue {
            match piece {
                Piece::Payload(bytes) => {
                    assert!(!bytes.is_empty());
                    payloads += bytes.len();
                }
                Piece::Copied(len) => {
                    assert!(*len > 0);
                    copied += len;
                }
            }
        }
        assert_eq!(buf.payload_len, payloads);
        assert_eq!(buf.marked, copied);
        assert!(buf.marked <= buf.tail.len());
    }

    #[test]
    fn nothing_empty_is_queued() {
        let mut buf = WriteBuf::new();
        buf.push(Bytes::new());
        buf.push_buf(Bytes::new());
        buf.put_slice(b"");
        assert!(buf.queue.is_empty());
        assert_eq!(buf.pieces(), 0);
        assert_eq!(buf.chunk(), b"");

        // Nothing copied before it: no run is marked.
        buf.push(Bytes::from(vec![1; WriteBuf::COPY_LIMIT]));
        assert_eq!(buf.queue.len(), 1);
        check_counts(&buf);
    }

    #[test]
    fn counts_follow_partial_advances() {
        let mut buf = WriteBuf::new();
        buf.put_slice(b"head");
        buf.push(Bytes::from(vec![7; 2000]));
        buf.put_slice(b"more");
        buf.push(Bytes::from(vec![8; 1500]));
        buf.put_slice(b"end");
        let mut expected = buf.len();
        for step in [1, 2, 1, 999, 1001, 2, 1, 1, 1400, 100, 1, 2] {
            buf.advance(step);
            expected -= step;
            check_counts(&buf);
            assert_eq!(buf.len(), expected);
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn advance_past_the_end_empties() {
        let mut buf = WriteBuf::new();
        buf.put_slice(b"abc");
        buf.push(Bytes::from(vec![0; 5000]));
        buf.put_slice(b"def");
        buf.advance(usize::MAX);
        assert!(buf.is_empty());
        assert!(buf.queue.is_empty());
        check_counts(&buf);
        assert_eq!(buf.pieces(), 0);
        buf.advance(1);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_contract_breaking_buf_does_not_hang() {
        /// Claims bytes it never shows.
        struct Liar;
        impl Buf for Liar {
            fn remaining(&self) -> usize {
                1
            }
            fn chunk(&self) -> &[u8] {
                &[]
            }
            fn advance(&mut self, _: usize) {}
        }
        let mut buf = WriteBuf::new();
        buf.push_buf(Liar);
        assert!(buf.is_empty());
    }

    #[test]
    fn a_shortened_tail_garbles_but_neither_panics_nor_hangs() {
        for keep in 0..=12 {
            let mut buf = WriteBuf::new();
            buf.put_slice(b"abcdef");
            buf.push(Bytes::from(vec![b'x'; 2000]));
            buf.put_slice(b"ghi");
            buf.push(Bytes::from(vec![b'y'; 3000]));
            buf.put_slice(b"jkl");
            buf.head_buf().truncate(keep);
            let len = buf.len();
            assert_eq!(len, 5000 + keep.min(12));
            let total: usize = buf.slices().map(<[u8]>::len).sum();
            assert_eq!(total, len);
            assert_eq!(drain(&mut buf).len(), len);
            assert!(buf.queue.is_empty());
            assert_eq!(buf.marked, 0);
        }
    }

    #[test]
    fn clear_keeps_the_tail_allocation() {
        let mut buf = WriteBuf::new();
        buf.put_slice(&[b'a'; 300]);
        buf.push(Bytes::from(vec![b'b'; 3000]));
        buf.put_slice(b"after");
        buf.advance(10);
        let (start, capacity) = (buf.tail.as_ptr(), buf.tail.capacity());
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.pieces(), 0);
        check_counts(&buf);
        // Back at the start of the same allocation, the 10 sent bytes
        // included.
        assert_eq!(buf.tail.as_ptr(), start.wrapping_sub(10));
        assert_eq!(buf.tail.capacity(), capacity + 10);
        buf.put_slice(b"again");
        assert_eq!(drain(&mut buf), b"again");
    }

    #[test]
    fn debug_shows_sizes_not_bytes() {
        let mut buf = WriteBuf::new();
        buf.put_slice(b"secret");
        let debug = format!("{buf:?}");
        assert!(debug.contains("len: 6"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
