//! Byte classes of RFC 9110 / 9112 and the hot scanning loops.
//!
//! This module owns every "which bytes may appear here" decision of the crate
//! and the fast loops that apply them: SSE2 on x86_64 (part of the baseline,
//! so always present), AVX2 when the CPU has it (detected once at run time),
//! and a word-at-a-time (SWAR) fallback everywhere else. Every fast path
//! returns exactly what the portable byte loop would; the tests check that on
//! random inputs.

/// `tchar` of RFC 9110 §5.6.2: the bytes of a token (method, field name, ...).
pub(crate) const fn is_tchar(b: u8) -> bool {
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

/// Index of the first byte at or after `from` that is not a request-target
/// byte (see [`is_target_byte`]), or `buf.len()`.
#[inline]
pub(crate) fn skip_target_bytes(buf: &[u8], from: usize) -> usize {
    simd::skip_target(buf, from)
}

/// Index of the first byte at or after `from` that is a control byte (below
/// 0x20, or DEL), or `buf.len()`. Field values and reason phrases stop at the
/// first such byte; the caller decides whether it is HTAB (allowed), CR, LF or
/// an error.
#[inline]
pub(crate) fn skip_text_bytes(buf: &[u8], from: usize) -> usize {
    simd::skip_text(buf, from)
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

#[cfg(not(target_arch = "x86_64"))]
mod simd {
    pub(super) use super::swar::{skip_target, skip_text};
}

#[cfg(target_arch = "x86_64")]
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
    }

    #[inline]
    pub(super) fn skip_target(buf: &[u8], from: usize) -> usize {
        skip(buf, from, Stop::NonTarget)
    }

    #[inline]
    pub(super) fn skip_text(buf: &[u8], from: usize) -> usize {
        skip(buf, from, Stop::Control)
    }

    /// Runs the widest loop the CPU has, then narrower ones on the tail.
    /// Each loop either finds a stop byte (`Ok`, and the scan is over) or
    /// runs out of whole vectors (`Err` with where it got to).
    #[inline]
    fn skip(buf: &[u8], from: usize, stop: Stop) -> usize {
        let mut i = from;
        if buf.len() - i >= 32 && level() == AVX2 {
            // SAFETY: AVX2 support was detected at run time just above.
            match unsafe { skip_avx2(buf, i, stop) } {
                Ok(found) => return found,
                Err(reached) => i = reached,
            }
        }
        if buf.len() - i >= 16 {
            // SAFETY: SSE2 is part of the x86_64 baseline, so always available.
            match unsafe { skip_sse2(buf, i, stop) } {
                Ok(found) => return found,
                Err(reached) => i = reached,
            }
        }
        match stop {
            Stop::NonTarget => super::swar::skip_target(buf, i),
            Stop::Control => super::swar::skip_text(buf, i),
        }
    }

    /// # Safety
    /// The CPU must support SSE2 (always true on x86_64).
    #[target_feature(enable = "sse2")]
    unsafe fn skip_sse2(buf: &[u8], mut i: usize, stop: Stop) -> Result<usize, usize> {
        let del = _mm_set1_epi8(0x7f);
        while i + 16 <= buf.len() {
            // SAFETY: `i + 16 <= buf.len()`, so the 16 bytes read are in bounds;
            // the unaligned load has no alignment requirement.
            let x = unsafe { _mm_loadu_si128(buf.as_ptr().add(i).cast()) };
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
            };
            let mask = _mm_movemask_epi8(ok) as u32;
            if mask != 0xffff {
                return Ok(i + (!mask).trailing_zeros() as usize);
            }
            i += 16;
        }
        Err(i)
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
                for stop in [b' ', 0x80, 0xff] {
                    let mut buf = vec![b'a'; len];
                    buf[pos] = stop;
                    assert_eq!(skip_target_bytes(&buf, 0), pos);
                    assert_eq!(skip_text_bytes(&buf, 0), len);
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
        }

        #[test]
        fn mostly_valid_scans_equal_byte_loops(
            buf in proptest::collection::vec(prop_oneof![8 => 0x21u8..0x7f, 1 => any::<u8>()], 0..300),
        ) {
            prop_assert_eq!(skip_text_bytes(&buf, 0), slow_skip(&buf, 0, is_text));
            prop_assert_eq!(skip_target_bytes(&buf, 0), slow_skip(&buf, 0, is_target_byte));
        }
    }
}
