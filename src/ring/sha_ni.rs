//! SHA-256 of a short key on the x86 SHA extensions, for ring lookups.
//!
//! The `sha2` crate already picks the SHA extensions at run time, but it
//! takes its block from memory: a key copied byte by byte into a stack
//! block and read back 16 bytes at a time cannot be forwarded from the
//! pending stores, and that stall alone cost a sixth of a lookup. Here the
//! padded block is assembled in registers (eight 64-bit words loaded
//! straight from the key) and handed to the rounds without touching
//! memory; the state starts from constants and the digest comes out of
//! registers.
//!
//! Only keys of up to 55 bytes (one block) are handled, and only on CPUs
//! with SHA, SSSE3 and SSE4.1; [`digest`] answers `None` otherwise and the
//! caller takes the portable path. The one `unsafe` block is the call into
//! the `#[target_feature]` function, made only after the features were
//! detected; everything else is safe code.

use std::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_extract_epi64, _mm_set_epi32, _mm_set_epi64x,
    _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi32,
    _mm_shuffle_epi8, _mm_unpackhi_epi64, _mm_unpacklo_epi64,
};

/// Longest key that pads into one block (a 0x80 byte and the 8-byte bit
/// length must follow it within 64 bytes).
pub(crate) const ONE_BLOCK: usize = 55;

/// SHA-256 of `data` when it fits one block and the CPU has the SHA
/// extensions; `None` sends the caller to the portable path.
#[inline]
pub(crate) fn digest(data: &[u8]) -> Option<[u8; 32]> {
    // `is_x86_feature_detected!` runs CPUID once per process and answers
    // from a cached bit set afterwards.
    if data.len() > ONE_BLOCK
        || !(is_x86_feature_detected!("sha")
            && is_x86_feature_detected!("ssse3")
            && is_x86_feature_detected!("sse4.1"))
    {
        return None;
    }
    // SAFETY: `compress_one_block` needs SHA, SSE2, SSSE3 and SSE4.1; SSE2
    // is part of x86_64 and the other three were detected just above. It
    // reads only `data` (through bounds-checked slices) and returns by
    // value.
    Some(unsafe { compress_one_block(data) })
}

/// Word `k` (0..8) of the one padded block of a key of up to 55 bytes:
/// the key, a 0x80 byte, zeros, and the key's length in bits, big-endian.
/// Words are little-endian (byte `i` of the block is byte `i % 8` of word
/// `i / 8`). Each word is computed on its own, with `k` a constant once
/// inlined, so the block never goes through memory. Whole words are loaded
/// from the key directly; a partial one is loaded overlapping its
/// predecessor and shifted, never reading past the key.
#[inline(always)]
fn padded_word(data: &[u8], k: usize) -> u64 {
    let len = data.len();
    let start = 8 * k;
    let mut word = if start + 8 <= len {
        le64(&data[start..start + 8])
    } else if start < len {
        let rest = len - start;
        if len >= 8 {
            // The last eight bytes of the key end with the `rest` wanted.
            le64(&data[len - 8..]) >> (8 * (8 - rest))
        } else if rest >= 4 {
            // Two 4-byte loads that overlap agree on the shared bytes, so
            // OR-ing them places every byte once.
            le32(&data[..4]) | (le32(&data[rest - 4..]) << (8 * (rest - 4)))
        } else {
            let byte = |i: usize| u64::from(data[i]) << (8 * i);
            byte(0) | byte(rest / 2) | byte(rest - 1)
        }
    } else {
        0
    };
    if start <= len && len < start + 8 {
        word |= 0x80 << (8 * (len - start));
    }
    if k == 7 {
        word |= (len as u64 * 8).swap_bytes();
    }
    word
}

fn le64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

fn le32(bytes: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(bytes.try_into().unwrap_or_default()))
}

/// SHA-256's round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/// SHA-256's initial state (FIPS 180-4, 5.3.3), as `A..H`.
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// Lanes listed high to low, as `_mm_set_epi32` takes them.
#[target_feature(enable = "sse2")]
fn lanes(w: [u32; 4]) -> __m128i {
    _mm_set_epi32(w[0] as i32, w[1] as i32, w[2] as i32, w[3] as i32)
}

/// Pads `data` (at most 55 bytes) into one block, compresses it from the
/// initial state and answers the digest. `sha256rnds2` keeps the state as
/// two vectors, `ABEF` and `CDGH` (first-named word in the highest lane),
/// and does two rounds per call with the two low lanes of
/// message-plus-constant words.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn compress_one_block(data: &[u8]) -> [u8; 32] {
    debug_assert!(data.len() <= ONE_BLOCK);
    // Reverses the bytes of each 32-bit lane: the message words are
    // big-endian.
    let to_big_endian = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
    // Message words W[4i..4i+4] from block words k and k + 1, the
    // lowest-numbered in the lowest lane. (A macro, not a closure: a
    // closure does not inherit the target features and is not inlined.)
    macro_rules! load {
        ($k:expr) => {{
            let (lo, hi) = (padded_word(data, $k), padded_word(data, $k + 1));
            _mm_shuffle_epi8(_mm_set_epi64x(hi as i64, lo as i64), to_big_endian)
        }};
    }
    let mut w0 = load!(0);
    let mut w1 = load!(2);
    let mut w2 = load!(4);
    let mut w3 = load!(6);

    let abef_start = lanes([IV[0], IV[1], IV[4], IV[5]]);
    let cdgh_start = lanes([IV[2], IV[3], IV[6], IV[7]]);
    let (mut abef, mut cdgh) = (abef_start, cdgh_start);

    // Four rounds with words W[4i..4i+4].
    macro_rules! rounds {
        ($i:expr, $w:expr) => {{
            let k = lanes([K[4 * $i + 3], K[4 * $i + 2], K[4 * $i + 1], K[4 * $i]]);
            let wk = _mm_add_epi32($w, k);
            cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
            abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
        }};
    }
    // W[t..t+4] from W[t-16..], W[t-12..], W[t-8..] and W[t-4..] (the
    // oldest is overwritten), then its four rounds.
    macro_rules! schedule_and_rounds {
        ($i:expr, $w16:ident, $w12:ident, $w8:ident, $w4:ident) => {{
            let sigma0 = _mm_sha256msg1_epu32($w16, $w12);
            let w7 = _mm_alignr_epi8($w4, $w8, 4);
            $w16 = _mm_sha256msg2_epu32(_mm_add_epi32(sigma0, w7), $w4);
            rounds!($i, $w16);
        }};
    }
    rounds!(0, w0);
    rounds!(1, w1);
    rounds!(2, w2);
    rounds!(3, w3);
    schedule_and_rounds!(4, w0, w1, w2, w3);
    schedule_and_rounds!(5, w1, w2, w3, w0);
    schedule_and_rounds!(6, w2, w3, w0, w1);
    schedule_and_rounds!(7, w3, w0, w1, w2);
    schedule_and_rounds!(8, w0, w1, w2, w3);
    schedule_and_rounds!(9, w1, w2, w3, w0);
    schedule_and_rounds!(10, w2, w3, w0, w1);
    schedule_and_rounds!(11, w3, w0, w1, w2);
    schedule_and_rounds!(12, w0, w1, w2, w3);
    schedule_and_rounds!(13, w1, w2, w3, w0);
    schedule_and_rounds!(14, w2, w3, w0, w1);
    schedule_and_rounds!(15, w3, w0, w1, w2);

    let abef = _mm_add_epi32(abef, abef_start);
    let cdgh = _mm_add_epi32(cdgh, cdgh_start);
    // Lanes high to low: ABEF + CDGH -> BADC (unpackhi: A B | C D, lows
    // first) and FEHG; the byte shuffle then writes each word big-endian,
    // first word first.
    let abcd = _mm_shuffle_epi32(_mm_unpackhi_epi64(cdgh, abef), 0x1b);
    let efgh = _mm_shuffle_epi32(_mm_unpacklo_epi64(cdgh, abef), 0x1b);
    let abcd = _mm_shuffle_epi8(abcd, to_big_endian);
    let efgh = _mm_shuffle_epi8(efgh, to_big_endian);
    let mut out = [0u8; 32];
    for (chunk, v) in out.chunks_exact_mut(8).zip([
        _mm_extract_epi64(abcd, 0),
        _mm_extract_epi64(abcd, 1),
        _mm_extract_epi64(efgh, 0),
        _mm_extract_epi64(efgh, 1),
    ]) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// splitmix64: reproducible pseudo-random test inputs.
    fn bytes(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    }

    #[test]
    fn the_padded_block_is_sha256_padding() {
        for len in 0..=ONE_BLOCK {
            let data = bytes(len as u64, len);
            let mut want = [0u8; 64];
            want[..len].copy_from_slice(&data);
            want[len] = 0x80;
            want[56..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
            let got: Vec<u8> = (0..8)
                .flat_map(|k| padded_word(&data, k).to_le_bytes())
                .collect();
            assert_eq!(got, want, "length {len}");
        }
    }

    /// Against the `sha2` crate, 200 random keys of every length from 0 to
    /// 200: one-block keys hash alike, longer ones are refused (the ring's
    /// hash then takes the portable path; `hash::tests` checks both).
    #[test]
    fn digests_equal_the_sha2_crates() {
        if !is_x86_feature_detected!("sha") {
            eprintln!("no SHA extensions on this CPU: only the refusals are checked");
        }
        for len in 0..=200 {
            for seed in 0..200 {
                let data = bytes((len as u64) << 32 | seed, len);
                let want: [u8; 32] = Sha256::digest(&data).into();
                let got = digest(&data);
                if len > ONE_BLOCK {
                    assert_eq!(got, None, "length {len}");
                } else if let Some(got) = got {
                    assert_eq!(got, want, "length {len}, seed {seed}");
                }
            }
        }
    }
}
