//! Engine values JavaScript refers to by small integer handles while a
//! kernel runs: the reply addresses of received calls and the streamed
//! bodies being sent.
//!
//! Handles stay below 2^31 so they travel as plain integers (JavaScript
//! numbers that V8 keeps unboxed), and both tables are bounded or emptied
//! by their owner, so a program that never answers or never ends a stream
//! cannot grow them without limit.

use std::collections::HashMap;

use notp::net::{From, OutStream};

/// Reply addresses of received calls, until answered. JavaScript gets a
/// handle; a bounded ring keeps the most recent [`REPLY_SLOTS`] so a server
/// that never answers cannot grow it. An evicted address falls back to the
/// original's way of replying (a cast to the tag).
#[derive(Default)]
pub(crate) struct ReplySlots {
    slots: Vec<Option<(u32, From)>>,
    next: u32,
}

const REPLY_SLOTS: usize = 1 << 16;

/// The handle after `handle`, wrapping below 2^31.
fn next_handle(handle: u32) -> u32 {
    (handle + 1) & 0x7fff_ffff
}

impl ReplySlots {
    pub(crate) fn store(&mut self, from: From) -> u32 {
        let handle = self.next;
        self.next = next_handle(handle);
        let index = handle as usize % REPLY_SLOTS;
        if index < self.slots.len() {
            self.slots[index] = Some((handle, from));
        } else {
            self.slots.push(Some((handle, from)));
        }
        handle
    }

    pub(crate) fn peek(&self, handle: u32) -> Option<&From> {
        match self.slots.get(handle as usize % REPLY_SLOTS)? {
            Some((h, from)) if *h == handle => Some(from),
            _ => None,
        }
    }

    pub(crate) fn take(&mut self, handle: u32) -> Option<From> {
        let slot = self.slots.get_mut(handle as usize % REPLY_SLOTS)?;
        match slot {
            Some((h, _)) if *h == handle => slot.take().map(|(_, from)| from),
            _ => None,
        }
    }
}

/// Streamed bodies JavaScript is sending (see `kernelStream*`), until it
/// ends them or the session ends.
#[derive(Default)]
pub(crate) struct OutStreams {
    open: HashMap<u32, OutStream>,
    next: u32,
}

impl OutStreams {
    /// Keeps `stream`; its handle.
    pub(crate) fn add(&mut self, stream: OutStream) -> u32 {
        let handle = self.next;
        self.next = next_handle(handle);
        self.open.insert(handle, stream);
        handle
    }

    pub(crate) fn get(&mut self, handle: u32) -> Option<&mut OutStream> {
        self.open.get_mut(&handle)
    }

    pub(crate) fn take(&mut self, handle: u32) -> Option<OutStream> {
        self.open.remove(&handle)
    }
}
