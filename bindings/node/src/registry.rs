//! Engine values owned by JavaScript objects, addressed by small integer
//! handles.
//!
//! napi-rs class methods pay for borrow tracking and type-tag checks on
//! every call (about half a microsecond here), more than a ring lookup
//! costs. So each value lives in a per-thread registry; a tiny owner class
//! ties its lifetime to a JavaScript object (dropping the owner frees the
//! entry), and the operations are plain functions taking the handle.
//!
//! The registry is per thread because a JavaScript object never leaves the
//! thread (main or worker) that created it. Functions never call back into
//! JavaScript while they hold an entry, so borrows cannot overlap; a
//! conflict would still be reported as an error, never a panic.

use std::cell::RefCell;
use std::rc::Rc;
use std::thread::LocalKey;

use napi::{Error, Status};

pub(crate) type Entry<T> = Rc<RefCell<T>>;

pub(crate) struct Registry<T> {
    entries: RefCell<Vec<Option<Entry<T>>>>,
    free: RefCell<Vec<u32>>,
}

impl<T> Registry<T> {
    pub(crate) const fn new() -> Self {
        Registry {
            entries: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
        }
    }

    /// Stores `value` and answers its handle.
    pub(crate) fn add(&self, value: T) -> napi::Result<u32> {
        let mut entries = self.entries.try_borrow_mut().map_err(|_| busy())?;
        let mut free = self.free.try_borrow_mut().map_err(|_| busy())?;
        let entry = Some(Rc::new(RefCell::new(value)));
        match free.pop() {
            Some(h) => {
                if let Some(slot) = entries.get_mut(h as usize) {
                    *slot = entry;
                }
                Ok(h)
            }
            None => {
                let h = u32::try_from(entries.len())
                    .map_err(|_| Error::new(Status::GenericFailure, "too many live objects"))?;
                entries.push(entry);
                Ok(h)
            }
        }
    }

    /// Frees the entry (an operation still holding it finishes first).
    pub(crate) fn remove(&self, handle: u32) {
        let (Ok(mut entries), Ok(mut free)) =
            (self.entries.try_borrow_mut(), self.free.try_borrow_mut())
        else {
            // Unreachable (see the module notes); leaking beats panicking.
            return;
        };
        if let Some(slot) = entries.get_mut(handle as usize) {
            if slot.take().is_some() {
                free.push(handle);
            }
        }
    }

    pub(crate) fn get(&self, handle: u32) -> napi::Result<Entry<T>> {
        let entries = self.entries.try_borrow().map_err(|_| busy())?;
        entries
            .get(handle as usize)
            .and_then(Option::clone)
            .ok_or_else(|| Error::new(Status::InvalidArg, "stale or unknown native handle"))
    }
}

pub(crate) fn busy() -> Error {
    Error::new(
        Status::GenericFailure,
        "native object is busy (reentrant call)",
    )
}

/// Runs `f` on the value behind `handle` in a registry.
pub(crate) fn access<T: 'static, R>(
    registry: &'static LocalKey<Registry<T>>,
    handle: u32,
    f: impl FnOnce(&mut T) -> R,
) -> napi::Result<R> {
    let entry = registry.try_with(|r| r.get(handle)).map_err(|_| busy())??;
    let mut guard = entry.try_borrow_mut().map_err(|_| busy())?;
    Ok(f(&mut guard))
}

/// `with_entry!(REGISTRY, handle, |value| body)`: [`access`] with closure
/// syntax that reads like a `with` block.
macro_rules! with_entry {
    ($registry:ident, $handle:expr, |$v:ident| $body:expr) => {
        $crate::registry::access(&$registry, $handle, |$v| $body)
    };
}

pub(crate) use with_entry;
