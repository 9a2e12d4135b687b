//! The iterator door: [`notp::ring::RingIter`] (a cursor over a snapshot of
//! a ring) behind a handle. Cursors are made here from a ring's handle
//! (`ringBegin`, `ringEnd`, `ringIterator`), so the ring door needs to know
//! nothing of them.

use napi_derive::napi;
use notp::ring::RingIter;

use crate::registry::{with_entry, Registry};
use crate::ring::{slot_or_minus_one, with_ring, NodeFields};

pub(crate) struct CursorState {
    iter: RingIter,
    /// Virtual nodes in the snapshot: what `index` answers when the cursor
    /// is off the ring, as the original's tree iterators do.
    len: usize,
}

thread_local! {
    static CURSORS: Registry<CursorState> = const { Registry::new() };
}

/// Owns one cursor. Made by `ringBegin`, `ringEnd`, `ringIterator` and
/// `cursorCopy`.
#[napi]
pub struct NativeCursor {
    handle: u32,
}

impl NativeCursor {
    pub(crate) fn create(iter: RingIter, len: usize) -> napi::Result<Self> {
        let handle = CURSORS
            .try_with(|r| r.add(CursorState { iter, len }))
            .map_err(|_| crate::registry::busy())??;
        Ok(NativeCursor { handle })
    }
}

#[napi]
impl NativeCursor {
    /// The handle the `cursor*` functions take.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for NativeCursor {
    fn drop(&mut self) {
        let _ = CURSORS.try_with(|r| r.remove(self.handle));
    }
}

#[napi(catch_unwind)]
pub fn cursor_valid(h: u32) -> napi::Result<bool> {
    with_entry!(CURSORS, h, |c| c.iter.valid())
}

#[napi(catch_unwind)]
pub fn cursor_key(h: u32) -> napi::Result<Option<String>> {
    with_entry!(CURSORS, h, |c| c.iter.key().map(str::to_owned))
}

/// The slot of the current node (in the snapshot), or -1.
#[napi(catch_unwind)]
pub fn cursor_slot(h: u32) -> napi::Result<i64> {
    with_entry!(CURSORS, h, |c| slot_or_minus_one(c.iter.slot()))
}

#[napi(catch_unwind)]
pub fn cursor_value(h: u32) -> napi::Result<Option<NodeFields>> {
    with_entry!(CURSORS, h, |c| c.iter.value().map(NodeFields::from))
}

#[napi(catch_unwind)]
pub fn cursor_index(h: u32) -> napi::Result<u32> {
    with_entry!(CURSORS, h, |c| c.iter.index().unwrap_or(c.len) as u32)
}

#[napi(catch_unwind)]
pub fn cursor_has_next(h: u32) -> napi::Result<bool> {
    with_entry!(CURSORS, h, |c| c.iter.has_next())
}

#[napi(catch_unwind)]
pub fn cursor_has_prev(h: u32) -> napi::Result<bool> {
    with_entry!(CURSORS, h, |c| c.iter.has_prev())
}

#[napi(catch_unwind)]
pub fn cursor_next(h: u32) -> napi::Result<()> {
    with_entry!(CURSORS, h, |c| c.iter.move_next())
}

#[napi(catch_unwind)]
pub fn cursor_prev(h: u32) -> napi::Result<()> {
    with_entry!(CURSORS, h, |c| c.iter.move_prev())
}

/// An independent cursor at the same position.
#[napi(catch_unwind)]
pub fn cursor_copy(h: u32) -> napi::Result<NativeCursor> {
    let (iter, len) = with_entry!(CURSORS, h, |c| (c.iter.clone(), c.len))?;
    NativeCursor::create(iter, len)
}

// ---- cursors made from a ring -----------------------------------------------

#[napi(catch_unwind)]
pub fn ring_begin(h: u32) -> napi::Result<NativeCursor> {
    let (iter, len) = with_ring(h, |r| (r.begin(), r.size()))?;
    NativeCursor::create(iter, len)
}

#[napi(catch_unwind)]
pub fn ring_end(h: u32) -> napi::Result<NativeCursor> {
    let (iter, len) = with_ring(h, |r| (r.end(), r.size()))?;
    NativeCursor::create(iter, len)
}

/// A cursor on the virtual node with exactly this key.
#[napi(catch_unwind)]
pub fn ring_iterator(h: u32, key: String) -> napi::Result<NativeCursor> {
    let (iter, len) = with_ring(h, |r| (r.iterator(&key), r.size()))?;
    NativeCursor::create(iter, len)
}

/// A cursor on node `id`'s first virtual node.
#[napi(catch_unwind)]
pub fn ring_node_iterator(h: u32, id: String) -> napi::Result<NativeCursor> {
    let (iter, len) = with_ring(h, |r| (r.node_iterator(&id), r.size()))?;
    NativeCursor::create(iter, len)
}
