use std::sync::Arc;

use super::{Slot, Table};
use crate::Node;

/// A cursor over a ring's virtual nodes in key order, like the original's
/// tree iterators (`begin()`, `end()`, `iterator(key)`). It reads a snapshot:
/// later changes to the ring do not move or invalidate it.
#[derive(Debug, Clone)]
pub struct RingIter {
    table: Arc<Table>,
    index: usize,
}

impl RingIter {
    pub(super) fn new(table: Arc<Table>, index: usize) -> Self {
        RingIter { table, index }
    }

    /// Whether the cursor is on a virtual node.
    pub fn valid(&self) -> bool {
        self.index < self.table.vnodes.len()
    }

    /// Position in the ring, when valid.
    pub fn index(&self) -> Option<usize> {
        self.valid().then_some(self.index)
    }

    /// The virtual node's key, when valid.
    pub fn key(&self) -> Option<&str> {
        self.table.vnodes.get(self.index).map(|v| &*v.key)
    }

    /// The node behind the virtual node, when valid.
    pub fn value(&self) -> Option<&Node> {
        self.slot().map(|s| &self.table.slots[s as usize])
    }

    #[doc(hidden)]
    pub fn slot(&self) -> Option<Slot> {
        self.table.vnodes.get(self.index).map(|v| v.slot)
    }

    pub fn has_next(&self) -> bool {
        self.valid() && self.index + 1 < self.table.vnodes.len()
    }

    pub fn has_prev(&self) -> bool {
        self.valid() && self.index > 0
    }

    /// Moves to the next virtual node; past the last, the cursor is invalid.
    pub fn move_next(&mut self) {
        if self.valid() {
            self.index += 1;
        }
    }

    /// Moves to the previous virtual node; before the first, the cursor is
    /// invalid.
    pub fn move_prev(&mut self) {
        if self.valid() {
            self.index = self.index.checked_sub(1).unwrap_or(usize::MAX);
        }
    }
}
