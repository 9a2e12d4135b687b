//! Cookie signatures: `checkSum = hex(HMAC-SHA256(cookie, S))` where `S` is
//! the envelope's JavaScript JSON text without `checkSum` (PROTOCOL §3).

use sha2::digest::consts::U64;
use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// Length of a checksum: 32 bytes in lowercase hex.
pub const CHECKSUM_LEN: usize = 64;

/// SHA-256's block, and its initial state.
const BLOCK: usize = 64;
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

/// Signs and verifies with one cookie: HMAC-SHA256 (RFC 2104) over the
/// SHA-256 compression function. The states after the key's inner and
/// outer pads are computed once, so a message costs only its own blocks
/// and one more for the outer hash, with no other copying.
#[derive(Clone)]
pub struct Signer {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(<cookie>)") // never print the cookie
    }
}

impl Signer {
    /// A signer for `cookie`. Any byte string is a valid HMAC key, including
    /// the empty one (the original CLI's default key is `""`).
    pub fn new(cookie: &[u8]) -> Signer {
        let mut key = [0u8; BLOCK];
        if cookie.len() > BLOCK {
            key[..32].copy_from_slice(&Sha256::digest(cookie));
        } else {
            key[..cookie.len()].copy_from_slice(cookie);
        }
        let keyed = |pad: u8| {
            let mut block = [0u8; BLOCK];
            for (b, k) in block.iter_mut().zip(key) {
                *b = k ^ pad;
            }
            let mut state = IV;
            compress(&mut state, &block);
            state
        };
        Signer {
            inner: keyed(0x36),
            outer: keyed(0x5c),
        }
    }

    /// The lowercase-hex HMAC of `text`.
    pub fn sign(&self, text: &[u8]) -> [u8; CHECKSUM_LEN] {
        self.sign_parts(&[text])
    }

    /// The HMAC of the concatenation of `parts`, without concatenating.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> [u8; CHECKSUM_LEN] {
        let mut state = self.inner;
        let mut buf = [0u8; BLOCK];
        let mut filled = 0;
        // The key's block is already in.
        let mut total = BLOCK as u64;
        for part in parts {
            total += part.len() as u64;
            let mut rest = *part;
            if filled > 0 {
                let take = rest.len().min(BLOCK - filled);
                buf[filled..filled + take].copy_from_slice(&rest[..take]);
                filled += take;
                rest = &rest[take..];
                if filled < BLOCK {
                    continue;
                }
                compress(&mut state, &buf);
            }
            let whole = rest.len() - rest.len() % BLOCK;
            compress_all(&mut state, &rest[..whole]);
            let tail = &rest[whole..];
            buf[..tail.len()].copy_from_slice(tail);
            filled = tail.len();
        }
        let inner = finish(state, &mut buf, filled, total);
        // The outer hash: its key block, then the inner hash.
        let mut block = [0u8; BLOCK];
        block[..32].copy_from_slice(&inner);
        hex(&finish(self.outer, &mut block, 32, (BLOCK + 32) as u64))
    }

    /// Whether `checksum` (hex, as received) is the HMAC of `text`, compared
    /// in constant time.
    pub fn verify(&self, text: &[u8], checksum: &[u8]) -> bool {
        self.verify_parts(&[text], checksum)
    }

    /// [`verify`](Self::verify) over the concatenation of `parts`.
    pub fn verify_parts(&self, parts: &[&[u8]], checksum: &[u8]) -> bool {
        checksum.len() == CHECKSUM_LEN && constant_time_eq(&self.sign_parts(parts), checksum)
    }
}

/// One SHA-256 compression of a 64-byte block.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    sha2::compress256(
        state,
        std::slice::from_ref(GenericArray::<u8, U64>::from_slice(block)),
    );
}

/// Compresses whole blocks, several per call (each call of the
/// compression function has a cost of its own).
fn compress_all(state: &mut [u32; 8], bytes: &[u8]) {
    const BATCH: usize = 16;
    if bytes.len() <= 2 * BLOCK {
        for block in bytes.chunks_exact(BLOCK) {
            compress(state, block);
        }
        return;
    }
    let mut batch = [GenericArray::<u8, U64>::default(); BATCH];
    for group in bytes.chunks(BATCH * BLOCK) {
        let mut n = 0;
        for (b, c) in batch.iter_mut().zip(group.chunks_exact(BLOCK)) {
            b.copy_from_slice(c);
            n += 1;
        }
        sha2::compress256(state, &batch[..n]);
    }
}

/// Pads the last `filled` bytes in `buf` of a message of `total` bytes and
/// returns the digest.
fn finish(mut state: [u32; 8], buf: &mut [u8; BLOCK], filled: usize, total: u64) -> [u8; 32] {
    buf[filled] = 0x80;
    buf[filled + 1..].fill(0);
    if filled + 1 > BLOCK - 8 {
        compress(&mut state, buf);
        buf.fill(0);
    }
    buf[BLOCK - 8..].copy_from_slice(&(total * 8).to_be_bytes());
    compress(&mut state, buf);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> [u8; CHECKSUM_LEN] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; CHECKSUM_LEN];
    for (i, b) in bytes.iter().take(CHECKSUM_LEN / 2).enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 0xf) as usize];
    }
    out
}

/// Equal-length comparison whose time does not depend on where the inputs
/// differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        // RFC 4231 test case 2.
        let s = Signer::new(b"Jefe");
        assert_eq!(
            &s.sign(b"what do ya want for nothing?"),
            b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn equals_the_hmac_crate_for_every_length_and_split() {
        use hmac::{Hmac, Mac};
        for key_len in [0, 1, 6, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
            let signer = Signer::new(&key);
            let msg: Vec<u8> = (0..300u32).map(|i| (i * 31 + 11) as u8).collect();
            for len in 0..msg.len() {
                let text = &msg[..len];
                let mut mac = match Hmac::<Sha256>::new_from_slice(&key) {
                    Ok(m) => m,
                    Err(_) => unreachable!(),
                };
                mac.update(text);
                let want = hex(&mac.finalize().into_bytes());
                assert_eq!(signer.sign(text), want, "key {key_len} len {len}");
                for cut in [0, 1, len / 3, len.saturating_sub(1), len] {
                    let cut = cut.min(len);
                    let (a, b) = text.split_at(cut);
                    let (b, c) = b.split_at(b.len() / 2);
                    assert_eq!(signer.sign_parts(&[a, b, c]), want, "{key_len} {len} {cut}");
                }
            }
        }
    }

    #[test]
    fn verify_rejects_tampering_and_bad_lengths() {
        let s = Signer::new(b"cookie");
        let sum = s.sign(b"{}");
        assert!(s.verify(b"{}", &sum));
        assert!(!s.verify(b"{ }", &sum));
        assert!(!s.verify(b"{}", &sum[..63]));
        assert!(!Signer::new(b"other").verify(b"{}", &sum));
    }
}
