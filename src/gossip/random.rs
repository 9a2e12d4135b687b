//! Randomness for gossip: peer selection and actor ids. A small seeded
//! generator keeps the state machine deterministic under test.

/// SplitMix64: tiny, fast, statistically fine for choosing peers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    /// Seeded from the operating system.
    pub fn from_os() -> Rng {
        let mut b = [0u8; 8];
        // On failure (not expected on supported platforms) the time still
        // separates one node's choices from another's.
        if getrandom::fill(&mut b).is_err() {
            let t = crate::now_micros();
            b = t.to_le_bytes();
        }
        Rng(u64::from_le_bytes(b))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniformly chosen index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Up to `k` distinct items of `items`, in random order.
    pub fn sample<T: Clone>(&mut self, items: &[T], k: usize) -> Vec<T> {
        let mut pool: Vec<&T> = items.iter().collect();
        let mut out = Vec::with_capacity(k.min(pool.len()));
        while out.len() < k && !pool.is_empty() {
            let i = self.below(pool.len());
            out.push(pool.swap_remove(i).clone());
        }
        out
    }

    /// A version 4 UUID in its usual text form (the original's actor ids).
    pub fn uuid_v4(&mut self) -> String {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        b[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_v4_shape() {
        let mut r = Rng::seeded(7);
        let u = r.uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(u, r.uuid_v4());
    }

    #[test]
    fn samples_are_distinct_and_bounded() {
        let mut r = Rng::seeded(1);
        let items = [1, 2, 3, 4, 5];
        let s = r.sample(&items, 2);
        assert_eq!(s.len(), 2);
        assert_ne!(s[0], s[1]);
        assert_eq!(r.sample(&items[..1], 2), vec![1]);
        assert!(r.sample::<i32>(&[], 2).is_empty());
    }
}
