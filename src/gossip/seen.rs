//! Which ring versions this node has seen, by the actor that named them.
//!
//! Our nodes give every ring version they make an actor of its own (a fresh
//! one for each change, or the sender's when they take its ring as it is),
//! so an actor in a vector clock says "a ring with these members is in this
//! clock's past". That is what tells a node missing from a concurrent ring
//! apart: removed by someone who had seen it, or not heard of there yet.
//!
//! Bounded: the newest [`MAX_VERSIONS`] versions are kept, and node ids are
//! interned into bit sets; when the interner is full the memory is dropped
//! (answers then fall back to "not seen", i.e. add-wins).

use std::collections::{HashMap, VecDeque};

use crate::{CHash, VectorClock};

/// Ring versions remembered (vector clocks are trimmed to 50 actors).
const MAX_VERSIONS: usize = 256;
/// Distinct node ids remembered.
const MAX_IDS: usize = 4096;

#[derive(Debug, Clone, Default)]
pub(crate) struct Seen {
    ids: HashMap<String, usize>,
    versions: HashMap<String, Vec<u64>>,
    order: VecDeque<String>,
}

impl Seen {
    /// Remembers that `actor` names a ring with `ring`'s members. Seen twice
    /// with different members (only an original node does that), only the
    /// members of both count.
    pub fn note(&mut self, actor: &str, ring: &CHash) {
        let mut bits = vec![];
        for n in ring.nodes() {
            let Some(i) = self.intern(n.id()) else {
                return;
            };
            if bits.len() <= i / 64 {
                bits.resize(i / 64 + 1, 0u64);
            }
            bits[i / 64] |= 1 << (i % 64);
        }
        if let Some(old) = self.versions.get_mut(actor) {
            old.truncate(bits.len());
            for (o, b) in old.iter_mut().zip(&bits) {
                *o &= b;
            }
            return;
        }
        if self.order.len() >= MAX_VERSIONS {
            if let Some(oldest) = self.order.pop_front() {
                self.versions.remove(&oldest);
            }
        }
        self.order.push_back(actor.to_owned());
        self.versions.insert(actor.to_owned(), bits);
    }

    /// Whether a ring holding node `id` is in `clock`'s past.
    pub fn saw(&self, clock: &VectorClock, id: &str) -> bool {
        let Some(&i) = self.ids.get(id) else {
            return false;
        };
        clock.nodes().any(|actor| {
            self.versions
                .get(actor)
                .and_then(|bits| bits.get(i / 64))
                .is_some_and(|word| word & (1 << (i % 64)) != 0)
        })
    }

    /// Forgets every version holding node `id` (it was added again: only
    /// versions from now on count).
    pub fn forget(&mut self, id: &str) {
        if let Some(&i) = self.ids.get(id) {
            for bits in self.versions.values_mut() {
                if let Some(word) = bits.get_mut(i / 64) {
                    *word &= !(1 << (i % 64));
                }
            }
        }
    }

    fn intern(&mut self, id: &str) -> Option<usize> {
        if let Some(&i) = self.ids.get(id) {
            return Some(i);
        }
        if self.ids.len() >= MAX_IDS {
            tracing::debug!("too many node ids seen: forgetting ring versions");
            *self = Seen::default();
            return None;
        }
        let i = self.ids.len();
        self.ids.insert(id.to_owned(), i);
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    fn ring(ids: &[&str]) -> CHash {
        let mut r = CHash::new(3, 2);
        for (i, id) in ids.iter().enumerate() {
            r.insert(Node::new(*id, "h", 1 + i as u16), None).unwrap();
        }
        r
    }

    #[test]
    fn a_clock_saw_the_members_of_the_versions_it_holds() {
        let mut seen = Seen::default();
        seen.note("a", &ring(&["x", "y"]));
        seen.note("b", &ring(&["z"]));
        let clock = VectorClock::with_actor("a", 1);
        assert!(seen.saw(&clock, "x") && seen.saw(&clock, "y"));
        assert!(!seen.saw(&clock, "z"), "b is not in the clock");
        assert!(!seen.saw(&clock, "w"), "never seen");
        seen.forget("x");
        assert!(!seen.saw(&clock, "x") && seen.saw(&clock, "y"));
        // The same actor with other members: only the common ones count.
        seen.note("a", &ring(&["y", "q"]));
        assert!(seen.saw(&clock, "y") && !seen.saw(&clock, "q"));
    }

    #[test]
    fn memory_is_bounded() {
        let mut seen = Seen::default();
        for i in 0..MAX_VERSIONS + 10 {
            seen.note(&format!("actor{i}"), &ring(&["x"]));
        }
        assert_eq!(seen.versions.len(), MAX_VERSIONS);
        assert!(!seen.saw(&VectorClock::with_actor("actor0", 1), "x"));
        let newest = format!("actor{}", MAX_VERSIONS + 9);
        assert!(seen.saw(&VectorClock::with_actor(&newest, 1), "x"));
    }
}
