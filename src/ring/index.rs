//! Where a looked-up position falls among the virtual nodes, in about two
//! memory reads instead of a bisection's log2(n) dependent ones.
//!
//! Bisecting a 3000-entry array is twelve steps, each waiting on the load
//! before it: on a 1000-node ring that cost a third of a lookup. Virtual
//! node positions are SHA-256 outputs, so they spread evenly over the
//! space of positions; cutting that space into about as many buckets as
//! there are virtual nodes leaves one entry per bucket on average, and a
//! table of where each bucket starts turns the search into one read of the
//! table and a look at a bucket or two.
//!
//! Positions are ordered as base64 *text*, whose characters do not sort in
//! alphabet order ('+' < '/' < digits < upper < lower case), so buckets are
//! cut on each character's rank in ASCII order, not on the digest's bits.
//! The table is built from the prefixes as they are, so it stays exact for
//! rings read from JSON whose keys are not base64 at all.

/// The first three characters of a position pick its bucket: 18 bits of
/// rank, of which a ring uses as many as it has virtual nodes (log2),
/// at most this many.
const MAX_BITS: u32 = 16;
const RANK_BITS: u32 = 18;

/// The base64 alphabet in ASCII order: rank -> character.
const BY_RANK: &[u8; 64] = b"+/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Rank in ASCII order of the base64 character for each 6-bit value.
const SEXTET_RANK: [u8; 64] = {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut ranks = [0u8; 64];
    let mut s = 0;
    while s < 64 {
        let mut r = 0;
        while BY_RANK[r] != alphabet[s] {
            r += 1;
        }
        ranks[s] = r as u8;
        s += 1;
    }
    ranks
};

/// The 18-bit rank of a digest's first three base64 characters (its first
/// 18 bits), ordered as the characters' text is.
#[inline]
pub(crate) fn rank_of_digest(digest: &[u8; 32]) -> u32 {
    let bits = u32::from_be_bytes([0, digest[0], digest[1], digest[2]]) >> 6;
    let rank = |shift: u32| u32::from(SEXTET_RANK[((bits >> shift) & 0x3f) as usize]);
    (rank(12) << 12) | (rank(6) << 6) | rank(0)
}

/// The virtual nodes' prefixes in ring order, and where each bucket of
/// positions starts among them. The bucket table has fewer than two 4-byte
/// entries per virtual node: at most as much memory as the prefixes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PrefixIndex {
    /// The virtual nodes' prefixes, contiguous: a lookup reads 8 bytes per
    /// entry it looks at instead of a whole virtual node.
    prefixes: Vec<u64>,
    /// `starts[b]`: how many prefixes are below the smallest position of
    /// bucket `b`; `starts[buckets]` is the number of prefixes.
    starts: Vec<u32>,
    /// Right shift from an 18-bit rank to a bucket number.
    shift: u32,
}

impl PrefixIndex {
    /// Indexes `prefixes`, which must be in ascending order.
    pub(crate) fn new(prefixes: Vec<u64>) -> PrefixIndex {
        let n = prefixes.len();
        let bits = n.next_power_of_two().trailing_zeros().min(MAX_BITS);
        let shift = RANK_BITS - bits;
        let buckets = 1usize << bits;
        let mut starts = Vec::with_capacity(buckets + 1);
        let mut at = 0;
        for b in 0..buckets {
            let lowest = lowest_position(b << shift);
            while prefixes.get(at).is_some_and(|&x| x < lowest) {
                at += 1;
            }
            starts.push(at as u32);
        }
        starts.push(n as u32);
        PrefixIndex {
            prefixes,
            starts,
            shift,
        }
    }

    /// The run of prefixes equal to `prefix` (almost always empty: then both
    /// bounds are where it would go). `rank` is [`rank_of_digest`] of the
    /// digest `prefix` was taken from.
    #[inline]
    pub(crate) fn run(&self, prefix: u64, rank: u32) -> (usize, usize) {
        let p = &self.prefixes;
        let b = (rank >> self.shift) as usize;
        // Every position of bucket `b` is at least its lowest one and below
        // the next bucket's, so the prefixes below `prefix` end between the
        // two starts. `starts` has a bucket for every rank this shift makes.
        let (from, to) = match (self.starts.get(b), self.starts.get(b + 1)) {
            (Some(&from), Some(&to)) => (from as usize, to as usize),
            _ => (0, p.len()),
        };
        let lo = from + p[from..to].partition_point(|&x| x < prefix);
        let hi = lo + p[lo..].iter().take_while(|&&x| x == prefix).count();
        (lo, hi)
    }
}

/// The smallest prefix whose first three characters have this 18-bit rank:
/// those characters, then zero bytes.
fn lowest_position(rank: usize) -> u64 {
    let char_of = |shift: usize| u64::from(BY_RANK[(rank >> shift) & 0x3f]);
    (char_of(12) << 56) | (char_of(6) << 48) | (char_of(0) << 40)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::hash::{hash_key, prefix};

    fn digest_of(text: &[u8]) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(text).into()
    }

    #[test]
    fn ranks_order_like_the_text() {
        let mut seen: Vec<(u32, [u8; 3])> = (0..4000u32)
            .map(|i| {
                let key = format!("k{i}");
                let text = hash_key(key.as_bytes());
                (
                    rank_of_digest(&digest_of(key.as_bytes())),
                    [text[0], text[1], text[2]],
                )
            })
            .collect();
        seen.sort();
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(seen.iter().any(|(r, _)| *r >= 1 << 17));
    }

    /// The indexed answer equals a plain bisection's, for rings of every
    /// size, for queries equal to a virtual node's prefix (once or twice),
    /// and for prefixes that are not base64 (rings read from JSON).
    #[test]
    fn runs_match_a_bisection() {
        let queries: Vec<[u8; 32]> = (0..2000)
            .map(|i| digest_of(format!("key{i}").as_bytes()))
            .collect();
        let odd = [
            0,
            1,
            u64::MAX,
            prefix(b"++"),
            prefix(b"zzzzzzzz"),
            prefix(b"~"),
        ]
        .into_iter()
        .chain([b"A" as &[u8], b"AB", b"ABC", b"ABC\0\0\0\0\x01"].map(prefix));
        for n in [0usize, 1, 2, 3, 7, 30, 300, 3000, 70_000] {
            let mut prefixes: Vec<u64> = (0..n)
                .map(|i| prefix(&hash_key(format!("node{}_{}", i / 3, i % 3 + 1).as_bytes())))
                .collect();
            if n == 30 {
                prefixes.extend(odd.clone());
            }
            for q in queries.iter().take(n.min(40)) {
                prefixes.push(prefix(&base64_of(q)));
            }
            for q in queries.iter().take(n.min(40) / 2) {
                prefixes.push(prefix(&base64_of(q)));
            }
            prefixes.sort_unstable();
            let index = PrefixIndex::new(prefixes.clone());
            for digest in &queries {
                let q = prefix(&base64_of(digest));
                let lo = prefixes.partition_point(|&x| x < q);
                let hi = prefixes.partition_point(|&x| x <= q);
                assert_eq!(index.run(q, rank_of_digest(digest)), (lo, hi), "n = {n}");
            }
        }
    }

    fn base64_of(digest: &[u8; 32]) -> Vec<u8> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        STANDARD.encode(digest).into_bytes()
    }
}
