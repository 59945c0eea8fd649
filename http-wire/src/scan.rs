//! Byte classes of RFC 9110 / 9112 and the hot scanning loops.
//!
//! This module owns every "which bytes may appear here" decision of the crate
//! and the fast loops that apply them: SSE2 on x86_64 (part of the baseline,
//! so always present), AVX2 when the CPU has it (detected once at run time),
//! and a word-at-a-time (SWAR) fallback everywhere else. Every fast path
//! returns exactly what the portable byte loop would; the tests check that on
//! random inputs.

/// `tchar` of RFC 9110 §5.6.2: the bytes of a token (method, field name,
/// chunk-extension name, ...).
pub const fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// A byte of a request-target (RFC 9112 §3.2, from RFC 3986): visible ASCII.
pub(crate) const fn is_target_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7f
}

/// Returns `true` if `s` is a non-empty token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Index of the first byte at or after `from` that is not a `tchar`, or
/// `buf.len()`. Letters, digits and `-` (nearly every field name) are
/// skipped 16 at a time; the rarer `tchar` punctuation byte by byte.
#[inline]
pub(crate) fn skip_token_bytes(buf: &[u8], from: usize) -> usize {
    let mut i = from;
    loop {
        i = simd::skip_name_like(buf, i);
        match buf.get(i) {
            // Nearly always the colon after a field name: not a tchar, and
            // testing it first keeps the table lookup off the common path.
            Some(b':') | None => return i,
            Some(&b) if is_tchar(b) => i += 1,
            Some(_) => return i,
        }
    }
}

/// Index of the first byte at or after `from` that is not a request-target
/// byte (see [`is_target_byte`]), or `buf.len()`.
#[inline]
pub(crate) fn skip_target_bytes(buf: &[u8], from: usize) -> usize {
    simd::skip_target(buf, from)
}

/// Bytes of a request-target that its checks must look at (RFC 9112 §3.2,
/// RFC 3986 §2.1): `%` (which starts a pct-encoded octet) and those a
/// target may not carry raw (`#`, `"`, `<`, `>`, `` ` ``).
pub(crate) const fn is_uri_special(b: u8) -> bool {
    matches!(b, b'%' | b'#' | b'"' | b'<' | b'>' | b'`')
}

/// Index of the first byte at or after `from` that [`is_uri_special`], or
/// `buf.len()`; 16 bytes at a time. Meant for a target, whose bytes are
/// already known to be visible ASCII.
#[inline]
pub(crate) fn skip_plain_uri_bytes(buf: &[u8], from: usize) -> usize {
    simd::skip_plain_uri(buf, from)
}

/// Index of the first byte at or after `from` that is a control byte (below
/// 0x20, or DEL), or `buf.len()`. Field values and reason phrases stop at the
/// first such byte; the caller decides whether it is HTAB (allowed), CR, LF or
/// an error.
#[inline]
pub(crate) fn skip_text_bytes(buf: &[u8], from: usize) -> usize {
    simd::skip_text(buf, from)
}

/// `1*DIGIT` as a u64; `None` when empty, not all digits, or too large.
pub(crate) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Word-at-a-time helpers shared by the fallback and the SIMD tails.
mod swar {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

    /// Non-zero if some byte of `x` is below `n` (n <= 128).
    #[inline]
    const fn has_less(x: u64, n: u8) -> u64 {
        x.wrapping_sub(ONES.wrapping_mul(n as u64)) & !x & HIGHS
    }

    /// Non-zero if some byte of `x` is above `n` (n <= 127).
    #[inline]
    const fn has_more(x: u64, n: u8) -> u64 {
        (x.wrapping_add(ONES.wrapping_mul(127 - n as u64)) | x) & HIGHS
    }

    /// Non-zero if some byte of `x` equals `b`.
    #[inline]
    const fn has_byte(x: u64, b: u8) -> u64 {
        let y = x ^ ONES.wrapping_mul(b as u64);
        y.wrapping_sub(ONES) & !y & HIGHS
    }

    #[inline]
    fn load(chunk: &[u8]) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&chunk[..8]);
        u64::from_ne_bytes(word)
    }

    /// Portable [`super::skip_target_bytes`]: skips whole words that hold only
    /// target bytes, then finishes byte by byte.
    pub(super) fn skip_target(buf: &[u8], mut i: usize) -> usize {
        while i + 8 <= buf.len() {
            let x = load(&buf[i..]);
            if has_less(x, 0x21) | has_more(x, 0x7e) != 0 {
                break;
            }
            i += 8;
        }
        while i < buf.len() && super::is_target_byte(buf[i]) {
            i += 1;
        }
        i
    }

    /// Portable [`super::skip_text_bytes`].
    pub(super) fn skip_text(buf: &[u8], mut i: usize) -> usize {
        while i + 8 <= buf.len() {
            let x = load(&buf[i..]);
            if has_less(x, 0x20) | has_byte(x, 0x7f) != 0 {
                break;
            }
            i += 8;
        }
        while i < buf.len() && buf[i] >= 0x20 && buf[i] != 0x7f {
            i += 1;
        }
        i
    }
}

/// Skips bytes that are not [`is_uri_special`], one at a time.
fn skip_plain_uri_bytes_slowly(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && !is_uri_special(buf[i]) {
        i += 1;
    }
    i
}

/// Skips letters, digits and `-`, one at a time.
fn skip_name_like_bytes(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && (buf[i].is_ascii_alphanumeric() || buf[i] == b'-') {
        i += 1;
    }
    i
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod simd {
    pub(super) use super::skip_name_like_bytes as skip_name_like;
    pub(super) use super::skip_plain_uri_bytes_slowly as skip_plain_uri;
    pub(super) use super::swar::{skip_target, skip_text};
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd {
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, Ordering};

    const UNKNOWN: u8 = 0;
    const SSE2: u8 = 1;
    const AVX2: u8 = 2;
    static LEVEL: AtomicU8 = AtomicU8::new(UNKNOWN);

    #[inline]
    fn level() -> u8 {
        match LEVEL.load(Ordering::Relaxed) {
            UNKNOWN => {
                let level = if std::is_x86_feature_detected!("avx2") {
                    AVX2
                } else {
                    SSE2
                };
                LEVEL.store(level, Ordering::Relaxed);
                level
            }
            known => known,
        }
    }

    /// Which bytes a scan stops at.
    #[derive(Clone, Copy)]
    enum Stop {
        /// Anything outside 0x21..=0x7E.
        NonTarget,
        /// Anything below 0x20, or DEL.
        Control,
        /// Anything but ASCII letters, digits and `-` (only in SSE2 blocks).
        NonNameLike,
        /// A byte that [`super::is_uri_special`] (only in SSE2 blocks).
        UriSpecial,
    }

    #[inline]
    pub(super) fn skip_target(buf: &[u8], from: usize) -> usize {
        skip(buf, from, Stop::NonTarget)
    }

    /// Skips letters, digits and `-`, 16 bytes at a time.
    #[inline(always)]
    pub(super) fn skip_name_like(buf: &[u8], from: usize) -> usize {
        sse2_then_tail(buf, from, Stop::NonNameLike)
    }

    #[inline]
    pub(super) fn skip_text(buf: &[u8], from: usize) -> usize {
        skip(buf, from, Stop::Control)
    }

    /// Skips bytes that are not [`super::is_uri_special`], 16 at a time.
    #[inline]
    pub(super) fn skip_plain_uri(buf: &[u8], from: usize) -> usize {
        sse2_then_tail(buf, from, Stop::UriSpecial)
    }

    /// Scans the first 48 bytes inline with SSE2 (most values and targets
    /// end there), then runs the widest loop the CPU has, then narrower ones
    /// on the tail. Each loop either finds a stop byte (the scan is over) or
    /// runs out of whole vectors (and the next, narrower one goes on).
    #[inline(always)]
    fn skip(buf: &[u8], from: usize, stop: Stop) -> usize {
        /// Bytes scanned inline before a long run is handed to AVX2.
        const INLINE_BLOCKS: usize = 3;
        let mut i = from;
        for _ in 0..INLINE_BLOCKS {
            if buf.len() - i < 16 {
                return tail(buf, i, stop);
            }
            if let Some(found) = sse2_block(buf, i, stop) {
                return found;
            }
            i += 16;
        }
        if buf.len() - i >= 32 && level() == AVX2 {
            // SAFETY: AVX2 support was detected at run time just above.
            match unsafe { skip_avx2(buf, i, stop) } {
                Ok(found) => return found,
                Err(reached) => i = reached,
            }
        }
        sse2_then_tail(buf, i, stop)
    }

    /// From `i`, 16 bytes at a time while whole blocks remain, then the
    /// tail: the index of the first stop byte, or `buf.len()`.
    #[inline(always)]
    fn sse2_then_tail(buf: &[u8], mut i: usize, stop: Stop) -> usize {
        while buf.len() - i >= 16 {
            if let Some(found) = sse2_block(buf, i, stop) {
                return found;
            }
            i += 16;
        }
        tail(buf, i, stop)
    }

    /// Fewer than 16 bytes left: the last 16 of `buf` at once, or when
    /// `buf` is shorter, word at a time, then byte by byte.
    #[inline(always)]
    fn tail(buf: &[u8], i: usize, stop: Stop) -> usize {
        if buf.len() >= 16 {
            return last_block(buf, i, stop);
        }
        match stop {
            Stop::NonTarget => super::swar::skip_target(buf, i),
            Stop::Control => super::swar::skip_text(buf, i),
            Stop::NonNameLike => super::skip_name_like_bytes(buf, i),
            Stop::UriSpecial => super::skip_plain_uri_bytes_slowly(buf, i),
        }
    }

    /// The 16 bytes at `buf[i..]`: the index of the first stop byte, if any.
    /// SSE2 is part of the x86_64 baseline, so this inlines anywhere.
    #[inline(always)]
    fn sse2_block(buf: &[u8], i: usize, stop: Stop) -> Option<usize> {
        // Stated as the callers' loop conditions are (`buf.len() - i >= 16`
        // with `i <= buf.len()`), so that the compiler can see it proven.
        assert!(i <= buf.len() && buf.len() - i >= 16);
        let mask = passing(buf, i, stop);
        (mask != 0xffff).then(|| i + (!mask).trailing_zeros() as usize)
    }

    /// Fewer than 16 bytes left from `i`, in a `buf` of 16 or more: its last
    /// 16 bytes tested at once, those before `i` ignored. The index of the
    /// first stop byte from `i`, or `buf.len()`.
    #[inline(always)]
    fn last_block(buf: &[u8], i: usize, stop: Stop) -> usize {
        assert!(buf.len() >= 16 && i <= buf.len() && buf.len() - i < 16);
        let at = buf.len() - 16;
        // Bit k is the byte at `i + k`; the shift (1 to 16) drops those
        // before `i`.
        let stops = (!passing(buf, at, stop) & 0xffff) >> (i - at);
        if stops == 0 {
            buf.len()
        } else {
            i + stops.trailing_zeros() as usize
        }
    }

    /// One bit per byte of `buf[at..at + 16]` (the lowest for the first):
    /// set where the byte does not stop the scan.
    #[inline(always)]
    fn passing(buf: &[u8], at: usize, stop: Stop) -> u32 {
        assert!(at <= buf.len() && buf.len() - at >= 16);
        // SAFETY: this module is compiled only with SSE2 enabled (cfg above),
        // so the SSE2 intrinsics are available; the assertion keeps the 16
        // bytes read in bounds, and the unaligned load needs no alignment.
        unsafe {
            let x = _mm_loadu_si128(buf.as_ptr().add(at).cast());
            let del = _mm_set1_epi8(0x7f);
            // Signed compares: bytes >= 0x80 are negative.
            let ok = match stop {
                // 0x21..=0x7E: greater than 0x20 (signed) and not DEL.
                Stop::NonTarget => _mm_andnot_si128(
                    _mm_cmpeq_epi8(x, del),
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(0x20)),
                ),
                // Not (0x00..=0x1F or DEL): max_epu8(x, 0x20) == x means x >= 0x20.
                Stop::Control => {
                    let ge_space = _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8(0x20)), x);
                    _mm_andnot_si128(_mm_cmpeq_epi8(x, del), ge_space)
                }
                // Letters: x | 0x20 in 'a'..='z'; digits: '0'..='9'; and '-'.
                // Bytes >= 0x80 are negative and fail every range.
                Stop::NonNameLike => {
                    let lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
                    let letter = _mm_and_si128(
                        _mm_cmpgt_epi8(lower, _mm_set1_epi8(0x60)),
                        _mm_cmplt_epi8(lower, _mm_set1_epi8(0x7b)),
                    );
                    let digit = _mm_and_si128(
                        _mm_cmpgt_epi8(x, _mm_set1_epi8(0x2f)),
                        _mm_cmplt_epi8(x, _mm_set1_epi8(0x3a)),
                    );
                    let dash = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x2d));
                    _mm_or_si128(_mm_or_si128(letter, digit), dash)
                }
                Stop::UriSpecial => {
                    let is = |b: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(b as i8));
                    let special = _mm_or_si128(
                        _mm_or_si128(is(b'%'), is(b'#')),
                        _mm_or_si128(
                            _mm_or_si128(is(b'"'), is(b'<')),
                            _mm_or_si128(is(b'>'), is(b'`')),
                        ),
                    );
                    // All ones where a byte is not special.
                    _mm_xor_si128(special, _mm_set1_epi8(-1))
                }
            };
            _mm_movemask_epi8(ok) as u32
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn skip_avx2(buf: &[u8], mut i: usize, stop: Stop) -> Result<usize, usize> {
        let del = _mm256_set1_epi8(0x7f);
        while i + 32 <= buf.len() {
            // SAFETY: `i + 32 <= buf.len()`, so the 32 bytes read are in bounds;
            // the unaligned load has no alignment requirement.
            let x = unsafe { _mm256_loadu_si256(buf.as_ptr().add(i).cast()) };
            let ok = match stop {
                Stop::NonNameLike | Stop::UriSpecial => {
                    unreachable!("names and URI text are scanned with SSE2 only")
                }
                Stop::NonTarget => _mm256_andnot_si256(
                    _mm256_cmpeq_epi8(x, del),
                    _mm256_cmpgt_epi8(x, _mm256_set1_epi8(0x20)),
                ),
                Stop::Control => {
                    let ge_space = _mm256_cmpeq_epi8(_mm256_max_epu8(x, _mm256_set1_epi8(0x20)), x);
                    _mm256_andnot_si256(_mm256_cmpeq_epi8(x, del), ge_space)
                }
            };
            let mask = _mm256_movemask_epi8(ok) as u32;
            if mask != u32::MAX {
                return Ok(i + (!mask).trailing_zeros() as usize);
            }
            i += 32;
        }
        Err(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn slow_skip(buf: &[u8], from: usize, keep: fn(u8) -> bool) -> usize {
        (from..buf.len())
            .find(|&i| !keep(buf[i]))
            .unwrap_or(buf.len())
    }

    fn is_text(b: u8) -> bool {
        b >= 0x20 && b != 0x7f
    }

    #[test]
    fn tchar_matches_rfc_9110() {
        let specials = b"!#$%&'*+-.^_`|~";
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || specials.contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#04x}");
        }
    }

    #[test]
    fn every_stop_byte_is_found_at_every_position() {
        for len in 0..80 {
            for pos in 0..len {
                for stop in [0x00, 0x09, 0x0d, 0x0a, 0x1f, 0x7f] {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = stop;
                    assert_eq!(skip_text_bytes(&buf, 0), pos, "len {len} pos {pos}");
                    assert_eq!(skip_target_bytes(&buf, 0), pos, "len {len} pos {pos}");
                }
                for stop in [b':', b' ', b'(', b'@', 0x7f, 0x80, 0xff] {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = stop;
                    assert_eq!(
                        skip_token_bytes(&buf, 0),
                        pos,
                        "len {len} pos {pos} {stop:#x}"
                    );
                }
                for token_byte in [b'_', b'!', b'~', b'Z', b'0', b'9', b'-'] {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = token_byte;
                    assert_eq!(skip_token_bytes(&buf, 0), len);
                }
                for stop in [b' ', 0x80, 0xff] {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = stop;
                    assert_eq!(skip_target_bytes(&buf, 0), pos);
                    assert_eq!(skip_text_bytes(&buf, 0), len);
                }
                for stop in *b"%#\"<>`" {
                    let mut buf = vec![b'/'; len];
                    buf[pos] = stop;
                    assert_eq!(skip_plain_uri_bytes(&buf, 0), pos, "len {len} pos {pos}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn fast_scans_equal_byte_loops(buf in proptest::collection::vec(any::<u8>(), 0..200), from in 0usize..200) {
            let from = from.min(buf.len());
            prop_assert_eq!(skip_text_bytes(&buf, from), slow_skip(&buf, from, is_text));
            prop_assert_eq!(skip_target_bytes(&buf, from), slow_skip(&buf, from, is_target_byte));
            prop_assert_eq!(swar::skip_text(&buf, from), slow_skip(&buf, from, is_text));
            prop_assert_eq!(swar::skip_target(&buf, from), slow_skip(&buf, from, is_target_byte));
            prop_assert_eq!(skip_token_bytes(&buf, from), slow_skip(&buf, from, is_tchar));
            prop_assert_eq!(skip_plain_uri_bytes(&buf, from), slow_skip(&buf, from, |b| !is_uri_special(b)));
        }

        #[test]
        fn mostly_valid_scans_equal_byte_loops(
            buf in proptest::collection::vec(prop_oneof![8 => 0x21u8..0x7f, 1 => any::<u8>()], 0..300),
        ) {
            prop_assert_eq!(skip_text_bytes(&buf, 0), slow_skip(&buf, 0, is_text));
            prop_assert_eq!(skip_target_bytes(&buf, 0), slow_skip(&buf, 0, is_target_byte));
            prop_assert_eq!(skip_token_bytes(&buf, 0), slow_skip(&buf, 0, is_tchar));
        }
    }
}
