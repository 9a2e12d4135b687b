//! Ring positions: `base64(SHA-256(text))`, compared as strings.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

use super::index::rank_of_digest;

/// Length of a ring position: 32 bytes of SHA-256 in padded base64.
pub const HASH_LEN: usize = 44;

/// SHA-256's initial state.
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// SHA-256 of `data`: on the SHA extensions when the key fits one block
/// and the CPU has them (see `sha_ni`), else through the `sha2` crate.
#[inline]
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    #[cfg(target_arch = "x86_64")]
    if let Some(digest) = super::sha_ni::digest(data) {
        return digest;
    }
    portable_sha256(data)
}

/// SHA-256 through the `sha2` crate. Keys that fit one block (up to 55
/// bytes: most ring keys) are padded by hand and compressed once, skipping
/// the streaming hasher's buffering.
#[inline]
fn portable_sha256(data: &[u8]) -> [u8; 32] {
    if data.len() > 55 {
        return Sha256::digest(data).into();
    }
    let mut block = [0u8; 64];
    block[..data.len()].copy_from_slice(data);
    block[data.len()] = 0x80;
    block[56..].copy_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    let mut state = IV;
    sha2::compress256(&mut state, &[block.into()]);
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// The ring position of `data`: `base64(sha256(data))`, on the stack.
#[inline]
pub fn hash_key(data: &[u8]) -> [u8; HASH_LEN] {
    let digest = sha256(data);
    let mut out = [0u8; HASH_LEN];
    // 32 bytes always encode to exactly 44 base64 characters.
    let written = STANDARD.encode_slice(digest, &mut out).unwrap_or(0);
    debug_assert_eq!(written, HASH_LEN);
    out
}

/// The ring position of the `n`-th (1-based) virtual node of node `id`:
/// `base64(sha256(id + "_" + n))`.
pub fn vnode_key(id: &str, n: u32) -> String {
    let name = format!("{id}_{n}");
    let key = hash_key(name.as_bytes());
    // base64 output is ASCII.
    String::from_utf8_lossy(&key).into_owned()
}

/// A looked-up key's ring position, encoded lazily: the first eight base64
/// characters (from six digest bytes) settle almost every comparison of a
/// binary search, so the full 44-character text is made only on a tie.
pub(crate) struct Position {
    digest: [u8; 32],
    pub(crate) prefix: u64,
    /// Picks the bucket of the ring's index (see [`rank_of_digest`]).
    pub(crate) rank: u32,
    full: Option<[u8; HASH_LEN]>,
}

impl Position {
    #[inline]
    pub(crate) fn of(data: &[u8]) -> Position {
        let digest = sha256(data);
        Position {
            prefix: prefix_of_digest(&digest),
            rank: rank_of_digest(&digest),
            digest,
            full: None,
        }
    }

    /// The whole position text.
    #[inline]
    pub(crate) fn text(&mut self) -> &[u8; HASH_LEN] {
        let digest = &self.digest;
        self.full.get_or_insert_with(|| {
            let mut out = [0u8; HASH_LEN];
            let _ = STANDARD.encode_slice(digest, &mut out);
            out
        })
    }
}

/// The first eight base64 characters of a digest (its first six bytes,
/// which encode to exactly eight characters), as a big-endian integer: what
/// [`prefix`] gives for the digest's full text, without encoding the rest.
#[inline]
fn prefix_of_digest(digest: &[u8; 32]) -> u64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bits = u64::from_be_bytes([
        0, 0, digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
    ]);
    (0..8).fold(0u64, |acc, i| {
        let sextet = (bits >> (42 - 6 * i)) & 0x3f;
        (acc << 8) | u64::from(ALPHABET[sextet as usize])
    })
}

/// The first eight bytes of a key, big-endian, zero-padded: comparing these
/// first settles almost every comparison in a binary search with one
/// integer compare.
#[inline]
pub(crate) fn prefix(key: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = key.len().min(8);
    p[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_keys_of_foo() {
        assert_eq!(
            vnode_key("foo", 1),
            "kzMt7C+SJZbxNQmrL3vhpfJ+a0RgPiGlRhrxwS57RWI="
        );
        assert_eq!(
            vnode_key("foo", 2),
            "kL2YfHLEuxHGaEz4nOxWYyPSiFlGBsFMzoYDXXxuXK0="
        );
        assert_eq!(
            vnode_key("foo", 3),
            "avmox6bKHfmLdzmObwjwIrh2WC6XM471ods56FWbDo0="
        );
    }

    /// Both paths, whichever this CPU takes for `sha256`, one block and
    /// more, against the streaming hasher: 50 pseudo-random keys of every
    /// length from 0 to 200.
    #[test]
    fn both_paths_are_sha256() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        };
        for len in 0..=200 {
            for _ in 0..50 {
                let data: Vec<u8> = (0..len).map(|_| next()).collect();
                let want: [u8; 32] = Sha256::digest(&data).into();
                assert_eq!(sha256(&data), want, "length {len}, key {data:?}");
                assert_eq!(portable_sha256(&data), want, "length {len}, key {data:?}");
            }
        }
    }

    #[test]
    fn lazy_positions_equal_the_eager_ones() {
        for k in ["", "foo_1", "héllo", "key17"] {
            let mut p = Position::of(k.as_bytes());
            let eager = hash_key(k.as_bytes());
            assert_eq!(p.prefix, prefix(&eager));
            assert_eq!(p.text(), &eager);
        }
    }

    #[test]
    fn prefix_orders_like_the_bytes() {
        assert!(prefix(b"Ab") < prefix(b"Ac"));
        assert!(prefix(b"A") < prefix(b"A+"));
        assert_eq!(prefix(b"abcdefghij"), prefix(b"abcdefghzz"));
    }
}
