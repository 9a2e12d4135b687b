//! The consistent hash ring (`CHash`), placement-identical to notp 2.0.1.
//!
//! Every node owns `weight` virtual nodes whose positions are
//! `base64(sha256(id + "_" + n))`, ordered as strings. A key belongs to the
//! first virtual node strictly after `base64(sha256(key))`, wrapping around.
//!
//! The ring is a sorted array with a bucket index over it: one SHA-256
//! block, one read of the index and a compare or two per lookup, no
//! allocation, no cache.
//! Its table sits behind an `Arc`, so clones (snapshots, iterators) are cheap
//! and a mutation copies only while a snapshot is alive.

mod hash;
mod index;
mod iter;
// The engine's one `unsafe` block: calling the SHA-extension routine after
// the CPU was found to have them (see the module).
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sha_ni;

use std::cmp::Ordering;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{json, Value};

use hash::Position;
pub use hash::{hash_key, vnode_key, HASH_LEN};
use index::PrefixIndex;
pub use iter::RingIter;

use crate::{js_order, Error, Node};

/// Index of a distinct node value inside a ring. Stable until the ring is
/// next mutated; front doors use it to hand out one object per node.
pub type Slot = u32;

#[derive(Debug, Clone)]
struct VNode {
    prefix: u64,
    key: Box<str>,
    slot: Slot,
}

#[derive(Debug, Clone, Default)]
struct Table {
    /// Virtual nodes in ascending key order.
    vnodes: Vec<VNode>,
    /// The distinct node values the virtual nodes point at.
    slots: Vec<Node>,
    /// For each slot, the index of its id in `CHash::weights`: range queries
    /// compare these integers instead of id strings.
    ident: Vec<u32>,
    /// The virtual nodes' prefixes and where lookups start among them.
    prefixes: PrefixIndex,
    /// Each virtual node's slot, contiguous: the last read of a lookup
    /// touches 4 bytes instead of a whole virtual node.
    owners: Vec<Slot>,
}

/// A consistent hash ring with replication factor `rfactor` (virtual nodes
/// per inserted node by default) and persistence factor `pfactor` (how many
/// neighbours `next`/`prev` return by default).
#[derive(Debug, Clone)]
pub struct CHash {
    rfactor: u32,
    pfactor: u32,
    table: Arc<Table>,
    /// Node id -> weight, in the order the original's `Map` would hold them.
    weights: IndexMap<String, u32>,
}

impl Default for CHash {
    fn default() -> Self {
        CHash::new(3, 2)
    }
}

impl PartialEq for CHash {
    /// Same virtual nodes pointing at equal nodes (the original's `equals`;
    /// `rfactor`/`pfactor` are not compared).
    fn eq(&self, other: &Self) -> bool {
        self.size() == other.size()
            && self.table.vnodes.iter().all(|v| {
                other
                    .position_of(&v.key)
                    .is_ok_and(|i| other.node_at(i) == self.slot(v.slot))
            })
    }
}

#[inline]
fn cmp_vnode(v: &VNode, prefix: u64, key: &[u8]) -> Ordering {
    v.prefix
        .cmp(&prefix)
        .then_with(|| v.key.as_bytes().cmp(key))
}

impl CHash {
    pub fn new(rfactor: u32, pfactor: u32) -> Self {
        CHash {
            rfactor,
            pfactor,
            table: Arc::default(),
            weights: IndexMap::new(),
        }
    }

    pub fn rfactor(&self) -> u32 {
        self.rfactor
    }

    pub fn pfactor(&self) -> u32 {
        self.pfactor
    }

    pub fn set_rfactor(&mut self, r: u32) -> &mut Self {
        self.rfactor = r;
        self
    }

    pub fn set_pfactor(&mut self, p: u32) -> &mut Self {
        self.pfactor = p;
        self
    }

    /// Number of virtual nodes.
    pub fn size(&self) -> usize {
        self.table.vnodes.len()
    }

    /// Number of distinct nodes.
    pub fn number_nodes(&self) -> usize {
        self.weights.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.vnodes.is_empty()
    }

    /// Node id -> weight (number of virtual nodes), in the original's order:
    /// insertion order, with updated nodes moved to the end.
    pub fn weights(&self) -> &IndexMap<String, u32> {
        &self.weights
    }

    pub fn weight(&self, id: &str) -> Option<u32> {
        self.weights.get(id).copied()
    }

    /// Whether a node with this id is in the ring.
    pub fn is_defined(&self, id: &str) -> bool {
        self.weights.contains_key(id)
    }

    /// Inserts `node` with `weight` virtual nodes (`None`: the ring's
    /// `rfactor`). A node whose id is already present is left as it is.
    pub fn insert(&mut self, node: Node, weight: Option<u32>) -> Result<&mut Self, Error> {
        let weight = self.check_weight(weight)?;
        if self.weights.contains_key(node.id()) {
            return Ok(self);
        }
        self.weights.insert(node.id().to_owned(), weight);
        self.add_vnodes(&node, weight);
        self.reindex();
        Ok(self)
    }

    /// Removes every virtual node of the node with `node`'s id.
    pub fn remove(&mut self, node: &Node) -> &mut Self {
        self.remove_id(node.id())
    }

    /// Removes every virtual node of the node with this id.
    pub fn remove_id(&mut self, id: &str) -> &mut Self {
        if self.weights.shift_remove(id).is_none() {
            return self;
        }
        let table = Arc::make_mut(&mut self.table);
        let slots = &table.slots;
        table.vnodes.retain(|v| slots[v.slot as usize].id() != id);
        self.compact();
        self
    }

    /// Re-inserts `node` with a new weight (it moves to the end of `weights`).
    pub fn update(&mut self, node: Node, weight: u32) -> Result<&mut Self, Error> {
        let weight = self.check_weight(Some(weight))?;
        self.remove_id(node.id());
        self.weights.insert(node.id().to_owned(), weight);
        self.add_vnodes(&node, weight);
        self.reindex();
        Ok(self)
    }

    /// The node stored under this id (the value of its first virtual node).
    pub fn get(&self, id: &str) -> Option<&Node> {
        let key = vnode_key(id, 1);
        self.position_of(&key).ok().map(|i| self.node_at(i))
    }

    /// The node owning `key`: the first virtual node strictly after the key's
    /// hash, wrapping to the first. `None` on an empty ring.
    #[inline]
    pub fn find(&self, key: impl AsRef<[u8]>) -> Option<&Node> {
        self.find_slot(key).map(|s| self.slot(s))
    }

    /// Up to `range` distinct nodes starting with the owner of `key` and
    /// continuing clockwise (default `pfactor + 1`, at most all nodes).
    pub fn range_next(&self, key: impl AsRef<[u8]>, range: Option<usize>) -> Vec<&Node> {
        let mut out = Vec::new();
        self.range_next_slots(key, range, &mut out);
        out.into_iter().map(|s| self.slot(s)).collect()
    }

    /// Up to `range` distinct nodes starting with the last virtual node
    /// strictly before `key`'s hash and continuing counter-clockwise.
    pub fn range_prev(&self, key: impl AsRef<[u8]>, range: Option<usize>) -> Vec<&Node> {
        let mut out = Vec::new();
        self.range_prev_slots(key, range, &mut out);
        out.into_iter().map(|s| self.slot(s)).collect()
    }

    /// The `range` (default `pfactor`) distinct nodes after `node`'s first
    /// virtual node, excluding `node` itself. Empty when `node` is not in
    /// the ring or is alone.
    pub fn next(&self, node: &Node, range: Option<usize>) -> Vec<&Node> {
        let mut out = Vec::new();
        self.neighbour_slots(node.id(), range, true, &mut out);
        out.into_iter().map(|s| self.slot(s)).collect()
    }

    /// Like [`next`](Self::next), counter-clockwise.
    pub fn prev(&self, node: &Node, range: Option<usize>) -> Vec<&Node> {
        let mut out = Vec::new();
        self.neighbour_slots(node.id(), range, false, &mut out);
        out.into_iter().map(|s| self.slot(s)).collect()
    }

    /// Adds every virtual node of `other` that this ring lacks (set union).
    pub fn merge(&mut self, other: &CHash) -> &mut Self {
        let mut changed = false;
        for v in &other.table.vnodes {
            if let Err(at) = self.position_of(&v.key) {
                let node = other.slot(v.slot);
                let slot = self.slot_for(node);
                Arc::make_mut(&mut self.table).vnodes.insert(
                    at,
                    VNode {
                        prefix: v.prefix,
                        key: v.key.clone(),
                        slot,
                    },
                );
                *self.weights.entry(node.id().to_owned()).or_insert(0) += 1;
                changed = true;
            }
        }
        if changed {
            self.reindex();
        }
        self
    }

    /// Keeps only the virtual nodes present in both rings, taking `other`'s
    /// node values (set intersection).
    pub fn intersect(&mut self, other: &CHash) -> &mut Self {
        let mut kept = CHash::new(self.rfactor, self.pfactor);
        let table = Arc::make_mut(&mut kept.table);
        for v in &other.table.vnodes {
            if self.position_of(&v.key).is_ok() {
                let node = other.slot(v.slot);
                let slot = match table.slots.iter().position(|n| n == node) {
                    Some(s) => s as Slot,
                    None => {
                        table.slots.push(node.clone());
                        (table.slots.len() - 1) as Slot
                    }
                };
                table.vnodes.push(VNode {
                    prefix: v.prefix,
                    key: v.key.clone(),
                    slot,
                });
                *kept.weights.entry(node.id().to_owned()).or_insert(0) += 1;
            }
        }
        self.table = kept.table;
        self.weights = kept.weights;
        self.reindex();
        self
    }

    /// The distinct nodes, in the original's order: first seen walking the
    /// ring, listed the way a JavaScript object orders its keys (ids that
    /// are array indices first, numerically). For an id seen with different
    /// values, the last one seen wins.
    pub fn nodes(&self) -> Vec<&Node> {
        let mut ids: IndexMap<&str, Slot> = IndexMap::new();
        for v in &self.table.vnodes {
            let id = self.slot(v.slot).id();
            match ids.get_mut(id) {
                Some(s) => *s = v.slot,
                None => {
                    match js_order::insert_position(ids.keys().copied(), id) {
                        Some(at) => ids.shift_insert(at, id, v.slot),
                        None => ids.insert(id, v.slot),
                    };
                }
            }
        }
        ids.values().map(|&s| self.slot(s)).collect()
    }

    /// Iterates the virtual nodes as `(key, node)` in ascending key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&str, &Node)> + ExactSizeIterator {
        self.table
            .vnodes
            .iter()
            .map(|v| (&*v.key, self.slot(v.slot)))
    }

    /// A cursor on the first virtual node (invalid on an empty ring).
    pub fn begin(&self) -> RingIter {
        RingIter::new(self.table.clone(), 0)
    }

    /// A cursor on the last virtual node (invalid on an empty ring).
    pub fn end(&self) -> RingIter {
        RingIter::new(self.table.clone(), self.size().wrapping_sub(1))
    }

    /// A cursor on the virtual node with exactly this key (invalid if none).
    pub fn iterator(&self, key: &str) -> RingIter {
        let at = self.position_of(key).unwrap_or(usize::MAX);
        RingIter::new(self.table.clone(), at)
    }

    /// A cursor on node `id`'s first virtual node, where the original's
    /// `iterator(node)` starts (and `next`/`prev` look from); invalid when
    /// the node is not in the ring.
    pub fn node_iterator(&self, id: &str) -> RingIter {
        self.iterator(&vnode_key(id, 1))
    }

    /// The ring as JSON: `{"rfactor","pfactor","tree":[{"key","value"}]}`.
    pub fn to_value(&self) -> Value {
        let tree: Vec<Value> = self
            .iter()
            .map(|(key, node)| json!({ "key": key, "value": node }))
            .collect();
        json!({ "rfactor": self.rfactor, "pfactor": self.pfactor, "tree": tree })
    }

    /// The ring as JSON text, byte-identical to the original's
    /// `JSON.stringify(ring.toJSON(true))`.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Reads a ring from its JSON form, checking every field.
    pub fn from_value(v: &Value) -> Result<CHash, Error> {
        let bad = |m: &str| Error::MalformedRing(m.to_owned());
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected an object {rfactor, pfactor, tree}"))?;
        let factor = |name: &str| -> Result<u32, Error> {
            obj.get(name)
                .and_then(Value::as_u64)
                .and_then(|f| u32::try_from(f).ok())
                .ok_or_else(|| {
                    Error::MalformedRing(format!("`{name}` must be a non-negative integer"))
                })
        };
        let mut ring = CHash::new(factor("rfactor")?, factor("pfactor")?);
        let tree = obj
            .get("tree")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("`tree` must be an array"))?;
        let mut vnodes = Vec::with_capacity(tree.len());
        for (i, entry) in tree.iter().enumerate() {
            let key = entry
                .get("key")
                .and_then(Value::as_str)
                .filter(|k| !k.is_empty())
                .ok_or_else(|| {
                    Error::MalformedRing(format!("tree[{i}].key must be a non-empty string"))
                })?;
            let node = entry
                .get("value")
                .ok_or_else(|| Error::MalformedRing(format!("tree[{i}].value is missing")))
                .and_then(|n| {
                    Node::from_value(n)
                        .map_err(|e| Error::MalformedRing(format!("tree[{i}].value: {e}")))
                })?;
            let slot = ring.slot_for(&node);
            vnodes.push(VNode {
                prefix: hash::prefix(key.as_bytes()),
                key: key.into(),
                slot,
            });
        }
        vnodes.sort_by(|a, b| cmp_vnode(a, b.prefix, b.key.as_bytes()));
        if let Some(w) = vnodes.windows(2).find(|w| w[0].key == w[1].key) {
            return Err(Error::MalformedRing(format!(
                "duplicate key {:?}",
                w[0].key
            )));
        }
        Arc::make_mut(&mut ring.table).vnodes = vnodes;
        ring.recount_weights();
        ring.compact();
        Ok(ring)
    }

    /// Parses the JSON text of a ring.
    pub fn from_json(text: &str) -> Result<CHash, Error> {
        CHash::from_value(&serde_json::from_str::<Value>(text)?)
    }

    // ---- slot-level access, for the front doors ----------------------------

    /// The node stored in `slot`. Panics if the slot is out of range; slots
    /// come from this ring's own answers.
    #[doc(hidden)]
    #[inline]
    pub fn slot(&self, slot: Slot) -> &Node {
        &self.table.slots[slot as usize]
    }

    /// Number of slots (distinct node values).
    #[doc(hidden)]
    pub fn slot_count(&self) -> usize {
        self.table.slots.len()
    }

    /// [`find`](Self::find), answering with a slot.
    #[doc(hidden)]
    #[inline]
    pub fn find_slot(&self, key: impl AsRef<[u8]>) -> Option<Slot> {
        let n = self.table.vnodes.len();
        if n == 0 {
            return None;
        }
        let at = self.after(&mut Position::of(key.as_ref()));
        self.table.owners.get(if at == n { 0 } else { at }).copied()
    }

    /// [`range_next`](Self::range_next) into a caller's buffer (cleared
    /// first; no allocation once it has capacity).
    #[doc(hidden)]
    pub fn range_next_slots(
        &self,
        key: impl AsRef<[u8]>,
        range: Option<usize>,
        out: &mut Vec<Slot>,
    ) {
        out.clear();
        let n = self.table.vnodes.len();
        if n == 0 {
            return;
        }
        let range = range
            .unwrap_or(self.pfactor as usize + 1)
            .min(self.weights.len());
        if range == 0 {
            return;
        }
        let at = self.after(&mut Position::of(key.as_ref()));
        let start = if at == n { 0 } else { at };
        self.collect(start, true, None, range, out);
    }

    /// [`range_prev`](Self::range_prev) into a caller's buffer.
    #[doc(hidden)]
    pub fn range_prev_slots(
        &self,
        key: impl AsRef<[u8]>,
        range: Option<usize>,
        out: &mut Vec<Slot>,
    ) {
        out.clear();
        let n = self.table.vnodes.len();
        if n == 0 {
            return;
        }
        let range = range
            .unwrap_or(self.pfactor as usize + 1)
            .min(self.weights.len());
        if range == 0 {
            return;
        }
        let below = self.before(&mut Position::of(key.as_ref()));
        let start = if below == 0 { n - 1 } else { below - 1 };
        self.collect(start, false, None, range, out);
    }

    /// [`next`](Self::next) / [`prev`](Self::prev) into a caller's buffer.
    #[doc(hidden)]
    pub fn neighbour_slots(
        &self,
        id: &str,
        range: Option<usize>,
        clockwise: bool,
        out: &mut Vec<Slot>,
    ) {
        out.clear();
        let Some(ident) = self.weights.get_index_of(id) else {
            return;
        };
        if self.weights.len() <= 1 {
            return;
        }
        let range = range
            .unwrap_or(self.pfactor as usize)
            .min(self.weights.len() - 1);
        if range == 0 {
            return;
        }
        let n = self.table.vnodes.len();
        let mut name = Position::of(format!("{id}_1").as_bytes());
        let start = if clockwise {
            let at = self.after(&mut name);
            if at == n {
                0
            } else {
                at
            }
        } else {
            let below = self.before(&mut name);
            if below == 0 {
                n - 1
            } else {
                below - 1
            }
        };
        self.collect(start, clockwise, Some(ident as u32), range, out);
    }

    // ---- internals ----------------------------------------------------------

    /// Index of the first virtual node whose key is strictly greater.
    #[inline]
    fn after(&self, pos: &mut Position) -> usize {
        let (lo, hi) = self.table.prefixes.run(pos.prefix, pos.rank);
        if lo == hi {
            return lo;
        }
        lo + self.table.vnodes[lo..hi].partition_point(|v| v.key.as_bytes() <= &pos.text()[..])
    }

    /// Index of the first virtual node whose key is not less.
    #[inline]
    fn before(&self, pos: &mut Position) -> usize {
        let (lo, hi) = self.table.prefixes.run(pos.prefix, pos.rank);
        if lo == hi {
            return lo;
        }
        lo + self.table.vnodes[lo..hi].partition_point(|v| v.key.as_bytes() < &pos.text()[..])
    }

    fn position_of(&self, key: &str) -> Result<usize, usize> {
        let p = hash::prefix(key.as_bytes());
        self.table
            .vnodes
            .binary_search_by(|v| cmp_vnode(v, p, key.as_bytes()))
    }

    fn node_at(&self, index: usize) -> &Node {
        self.slot(self.table.vnodes[index].slot)
    }

    /// Walks the ring from `start` (inclusive), collecting distinct node ids
    /// other than `skip` until `range` are found or the ring has been walked
    /// once. A node met again replaces its earlier value in place, as the
    /// original's `Map.set` does.
    fn collect(
        &self,
        start: usize,
        clockwise: bool,
        skip: Option<u32>,
        range: usize,
        out: &mut Vec<Slot>,
    ) {
        let t = &*self.table;
        let n = t.vnodes.len();
        let mut i = start;
        for _ in 0..n {
            let slot = t.owners[i];
            let ident = t.ident[slot as usize];
            if Some(ident) != skip {
                match out.iter_mut().find(|s| t.ident[**s as usize] == ident) {
                    Some(s) => *s = slot,
                    None => out.push(slot),
                }
                if out.len() == range {
                    return;
                }
            }
            i = if clockwise {
                if i + 1 == n {
                    0
                } else {
                    i + 1
                }
            } else if i == 0 {
                n - 1
            } else {
                i - 1
            };
        }
    }

    fn check_weight(&self, weight: Option<u32>) -> Result<u32, Error> {
        match weight.unwrap_or(self.rfactor) {
            0 => Err(Error::invalid("weight", "must be a positive integer")),
            w => Ok(w),
        }
    }

    fn add_vnodes(&mut self, node: &Node, weight: u32) {
        let slot = self.slot_for(node);
        for n in 1..=weight {
            let key = vnode_key(node.id(), n);
            match self.position_of(&key) {
                // A hash collision with another node's virtual node: the
                // first owner keeps the position.
                Ok(_) => {}
                Err(at) => Arc::make_mut(&mut self.table).vnodes.insert(
                    at,
                    VNode {
                        prefix: hash::prefix(key.as_bytes()),
                        key: key.into(),
                        slot,
                    },
                ),
            }
        }
    }

    fn slot_for(&mut self, node: &Node) -> Slot {
        if let Some(s) = self.table.slots.iter().position(|n| n == node) {
            return s as Slot;
        }
        let table = Arc::make_mut(&mut self.table);
        table.slots.push(node.clone());
        (table.slots.len() - 1) as Slot
    }

    /// Weights counted from the virtual nodes, in ring order (the original's
    /// `_calculateWeights`).
    fn recount_weights(&mut self) {
        self.weights.clear();
        for v in &self.table.vnodes {
            let id = self.table.slots[v.slot as usize].id();
            *self.weights.entry(id.to_owned()).or_insert(0) += 1;
        }
    }

    /// Drops slots no virtual node points at, then reindexes.
    fn compact(&mut self) {
        let table = Arc::make_mut(&mut self.table);
        let mut remap = vec![u32::MAX; table.slots.len()];
        let mut slots = Vec::new();
        for v in &mut table.vnodes {
            let old = v.slot as usize;
            if remap[old] == u32::MAX {
                remap[old] = slots.len() as u32;
                slots.push(table.slots[old].clone());
            }
            v.slot = remap[old];
        }
        table.slots = slots;
        self.reindex();
    }

    fn reindex(&mut self) {
        let weights = &self.weights;
        let table = Arc::make_mut(&mut self.table);
        table.prefixes = PrefixIndex::new(table.vnodes.iter().map(|v| v.prefix).collect());
        table.owners = table.vnodes.iter().map(|v| v.slot).collect();
        table.ident = table
            .slots
            .iter()
            .map(|n| weights.get_index_of(n.id()).map_or(u32::MAX, |i| i as u32))
            .collect();
    }
}

#[cfg(test)]
mod tests;
