//! The small rules of the protocol that other code (and every door) asks
//! about directly: how many rounds a change travels, which of two
//! concurrent rings the reference's last-write-wins keeps, and which nodes
//! hold a key. Pure functions, so a door answers its users with the very
//! rules the state machine follows instead of a copy of them.

use crate::{CHash, Node, VectorClock};

/// `ceil(log2(nodes))`, 1 for one node, 0 for none: the rounds a change of
/// a ring with `nodes` members travels (the original's `maxMsgRound`).
pub fn rounds_for(nodes: usize) -> u32 {
    match nodes {
        0 => 0,
        1 => 1,
        n => usize::BITS - (n - 1).leading_zeros(),
    }
}

/// [`rounds_for`] the members of `ring`.
pub fn rounds(ring: &CHash) -> u32 {
    rounds_for(ring.number_nodes())
}

/// Whether the reference's last-write-wins keeps the remote ring over the
/// local one: its clock holds a later `insert` time than any of the local
/// clock's (an empty clock counts as time 0). Ties keep the local ring.
pub fn remote_wins(local: &VectorClock, remote: &VectorClock) -> bool {
    remote.max_insert() > local.max_insert()
}

/// The nodes that hold `key` in `ring` (the original's `find(key, size)`):
/// its owner, then the owner's successors, `size` distinct nodes in all
/// (`None`: pfactor + 1, the same count as `range`), at most every node.
/// Empty for an empty ring or a size of 0.
pub fn holders<'a>(ring: &'a CHash, key: &[u8], size: Option<usize>) -> Vec<&'a Node> {
    let total = size.unwrap_or(ring.pfactor() as usize + 1);
    let Some(owner) = ring.find(key).filter(|_| total > 0) else {
        return vec![];
    };
    let mut out = vec![owner];
    out.extend(ring.next(owner, Some(total - 1)));
    out
}

/// Nodes of `a` not in `b` (compared by id, host and port).
pub(super) fn missing_from(a: &CHash, b: &CHash) -> Vec<Node> {
    let theirs = b.nodes();
    a.nodes()
        .into_iter()
        .filter(|n| !theirs.contains(n))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(n: usize) -> CHash {
        let mut ring = CHash::new(3, 2);
        for i in 0..n {
            ring.insert(Node::new(format!("n{i}"), "h", i as u16 + 1), None)
                .unwrap();
        }
        ring
    }

    #[test]
    fn rounds_follow_the_node_count() {
        let got: Vec<u32> = (0..10).map(rounds_for).collect();
        assert_eq!(got, [0, 1, 1, 2, 2, 3, 3, 3, 3, 4]);
        assert_eq!(rounds(&ring(5)), 3);
    }

    fn clock(inserts: &[(&str, u64)]) -> VectorClock {
        let entries: Vec<String> = inserts
            .iter()
            .map(|(a, t)| format!(r#""{a}":{{"count":1,"insert":{t},"time":{t}}}"#))
            .collect();
        VectorClock::from_json(&format!("{{{}}}", entries.join(","))).unwrap()
    }

    #[test]
    fn the_later_insert_wins_and_ties_keep_the_local_ring() {
        let local = clock(&[("a", 10), ("b", 30)]);
        assert!(remote_wins(&local, &clock(&[("c", 31)])));
        assert!(
            !remote_wins(&local, &clock(&[("c", 30)])),
            "a tie keeps the local ring"
        );
        assert!(!remote_wins(&local, &clock(&[("a", 10), ("c", 29)])));
        assert!(
            !remote_wins(&local, &VectorClock::new()),
            "an empty clock never wins"
        );
        assert!(
            remote_wins(&VectorClock::new(), &local),
            "any insert beats an empty clock"
        );
        assert!(!remote_wins(&VectorClock::new(), &VectorClock::new()));
    }

    #[test]
    fn holders_are_size_nodes_from_the_owner_on() {
        let ring = ring(5);
        let owner = ring.find("user:1").unwrap().clone();
        let ids =
            |nodes: &[&Node]| -> Vec<String> { nodes.iter().map(|n| n.id().to_owned()).collect() };
        let by_default = holders(&ring, b"user:1", None);
        assert_eq!(by_default.len(), 3, "pfactor + 1, as range");
        assert_eq!(by_default[0], &owner);
        assert_eq!(ids(&by_default[1..]), ids(&ring.next(&owner, Some(2))));
        assert_eq!(ids(&holders(&ring, b"user:1", Some(1))), [owner.id()]);
        let four = holders(&ring, b"user:1", Some(4));
        assert_eq!(four.len(), 4, "the owner and 3 successors");
        assert_eq!(ids(&four[1..]), ids(&ring.next(&owner, Some(3))));
        assert_eq!(
            holders(&ring, b"user:1", Some(99)).len(),
            5,
            "at most every node"
        );
        assert!(holders(&ring, b"user:1", Some(0)).is_empty());
        assert!(holders(&CHash::new(3, 2), b"user:1", None).is_empty());
        // The same count as range, from the same owner.
        for size in [None, Some(0), Some(1), Some(2), Some(7)] {
            let range = ring.range_next("user:1", size);
            let found = holders(&ring, b"user:1", size);
            assert_eq!(found.len(), range.len(), "{size:?}");
            assert_eq!(found.first(), range.first(), "{size:?}");
        }
    }
}
