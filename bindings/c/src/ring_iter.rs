//! `notp_ring_iter_t`: a cursor over a ring's virtual nodes in key order
//! (the original's `begin()`, `end()`, `iterator(key)`). It reads a
//! snapshot, so the ring may change or be freed while it lives.

use std::ffi::c_char;

use super::args::{self, give_string};
use super::ownership::{self, give};
use super::status::{answer, guard, Failure, Status};
use engine::ring::RingIter;
use engine::{CHash, Node};

/// A cursor on the first virtual node (not valid on an empty ring).
/// Release it with notp_ring_iter_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_begin(ring: *const CHash, out: *mut *mut RingIter) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(ownership::borrow(ring, "ring")?.begin()))) }
}

/// A cursor on the last virtual node (not valid on an empty ring).
/// Release it with notp_ring_iter_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_end(ring: *const CHash, out: *mut *mut RingIter) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(ownership::borrow(ring, "ring")?.end()))) }
}

/// A cursor on the virtual node whose position is exactly `key` (not valid
/// if there is none). Release it with notp_ring_iter_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_iterator(
    ring: *const CHash,
    key: *const c_char,
    out: *mut *mut RingIter,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, key) = (ownership::borrow(ring, "ring")?, args::text(key, "key")?);
            Ok(give(ring.iterator(key)))
        })
    }
}

/// Releases a cursor and the node it lent. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_free(iter: *mut RingIter) {
    // SAFETY: the caller passes NULL or a cursor this library handed over.
    unsafe { ownership::free(iter) }
}

/// Whether the cursor is on a virtual node.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_valid(iter: *const RingIter, out: *mut bool) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(iter, "iter")?.valid())) }
}

/// The cursor's position in the ring, from 0. NOTP_ERR_NOT_FOUND when the
/// cursor is not valid.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_index(iter: *const RingIter, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            ownership::borrow(iter, "iter")?
                .index()
                .ok_or_else(off_ring)
        })
    }
}

/// A copy of the virtual node's key (its ring position). Release it with
/// notp_string_free(). NOTP_ERR_NOT_FOUND when the cursor is not valid.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_key(
    iter: *const RingIter,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(
                ownership::borrow(iter, "iter")?
                    .key()
                    .ok_or_else(off_ring)?,
            )
        })
    }
}

/// Lends the node behind the virtual node, valid until the cursor is freed.
/// NOTP_ERR_NOT_FOUND when the cursor is not valid.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_value(
    iter: *const RingIter,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let node = ownership::borrow(iter, "iter")?
                .value()
                .ok_or_else(off_ring)?;
            Ok(ownership::lend(node))
        })
    }
}

/// Whether a valid cursor has a virtual node after it.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_has_next(iter: *const RingIter, out: *mut bool) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(iter, "iter")?.has_next())) }
}

/// Whether a valid cursor has a virtual node before it.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_has_prev(iter: *const RingIter, out: *mut bool) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(iter, "iter")?.has_prev())) }
}

/// Moves to the next virtual node; past the last one the cursor is no
/// longer valid.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_next(iter: *mut RingIter) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            ownership::borrow_mut(iter, "iter")?.move_next();
            Ok(())
        })
    }
}

/// Moves to the previous virtual node; before the first one the cursor is
/// no longer valid.
#[no_mangle]
pub unsafe extern "C" fn notp_ring_iter_prev(iter: *mut RingIter) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            ownership::borrow_mut(iter, "iter")?.move_prev();
            Ok(())
        })
    }
}

fn off_ring() -> Failure {
    Failure::not_found("the cursor is not on a virtual node")
}
