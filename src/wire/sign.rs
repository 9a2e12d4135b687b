//! Cookie signatures: `checkSum = hex(HMAC-SHA256(cookie, S))` where `S` is
//! the envelope's JavaScript JSON text without `checkSum` (PROTOCOL §3).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Length of a checksum: 32 bytes in lowercase hex.
pub const CHECKSUM_LEN: usize = 64;

/// Signs and verifies with one cookie. The keyed HMAC state is computed once
/// and cloned per message, so signing costs only the message's own blocks.
#[derive(Clone)]
pub struct Signer {
    keyed: HmacSha256,
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
        let keyed = match HmacSha256::new_from_slice(cookie) {
            Ok(m) => m,
            // HMAC accepts keys of every length; this arm is unreachable.
            Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
        };
        Signer { keyed }
    }

    /// The lowercase-hex HMAC of `text`.
    pub fn sign(&self, text: &[u8]) -> [u8; CHECKSUM_LEN] {
        self.sign_parts(&[text])
    }

    /// The HMAC of the concatenation of `parts`, without concatenating.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> [u8; CHECKSUM_LEN] {
        let mut mac = self.keyed.clone();
        for p in parts {
            mac.update(p);
        }
        hex(&mac.finalize().into_bytes())
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
    fn verify_rejects_tampering_and_bad_lengths() {
        let s = Signer::new(b"cookie");
        let sum = s.sign(b"{}");
        assert!(s.verify(b"{}", &sum));
        assert!(!s.verify(b"{ }", &sum));
        assert!(!s.verify(b"{}", &sum[..63]));
        assert!(!Signer::new(b"other").verify(b"{}", &sum));
    }
}
