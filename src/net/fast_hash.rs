//! A fast hasher for the kernel's own maps (pending calls by tag, servers
//! by name, connections by node id). Their keys are chosen by this node
//! (random tags, registered names, members), never inserted at a peer's
//! will, so the flooding that SipHash's random keys defend against cannot
//! be staged through them; a peer's lookups only probe what is there.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The multiply-rotate word hash used by rustc (`FxHasher`).
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_differ_anywhere_hash_apart() {
        let mut m: FastMap<String, usize> = FastMap::default();
        let prefix = "ab".repeat(24);
        for i in 0..10_000 {
            m.insert(format!("{prefix}{i:x}"), i);
        }
        for i in 0..10_000 {
            assert_eq!(m.get(&format!("{prefix}{i:x}")), Some(&i));
        }
        assert_eq!(m.get("nope"), None);
    }
}
