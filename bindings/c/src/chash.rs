//! `notp_chash_t`: the consistent hash ring. The handle is the engine's
//! [`CHash`]; nodes it answers with are lent from inside it.

use std::ffi::c_char;

use serde_json::{Map, Value};

use super::args::{self, give_string};
use super::node_list::NodeList;
use super::ownership::{self, give};
use super::status::{answer, guard, Failure, Status};
use engine::ring::{hash_key, vnode_key};
use engine::{CHash, Node};

// ---- life cycle -------------------------------------------------------------

/// Creates an empty ring: `rfactor` virtual nodes per inserted node by
/// default, `pfactor` neighbours for next/prev by default (the original's
/// defaults are 3 and 2). Release it with notp_chash_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_new(
    rfactor: u32,
    pfactor: u32,
    out: *mut *mut CHash,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(CHash::new(rfactor, pfactor)))) }
}

/// Parses a ring from its JSON text `{"rfactor","pfactor","tree":[...]}`.
/// NOTP_ERR_JSON when the text is not JSON or not a well-formed ring.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_from_json(json: *const c_char, out: *mut *mut CHash) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(CHash::from_json(args::text(json, "json")?)?))
        })
    }
}

/// The ring's JSON text, byte-identical to the original's
/// `JSON.stringify(ring.toJSON(true))`. Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_to_json(ring: *const CHash, out: *mut *mut c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(ownership::borrow(ring, "ring")?.to_json())
        })
    }
}

/// An independent copy of the ring. Release it with notp_chash_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_clone(ring: *const CHash, out: *mut *mut CHash) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(ownership::borrow(ring, "ring")?.clone()))) }
}

/// Releases a ring; nodes it lent die with it. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_free(ring: *mut CHash) {
    // SAFETY: the caller passes NULL or a ring this library handed over.
    unsafe { ownership::free(ring) }
}

// ---- factors and counts -----------------------------------------------------

/// The default number of virtual nodes per inserted node.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_rfactor(ring: *const CHash, out: *mut u32) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(ring, "ring")?.rfactor())) }
}

/// Sets the default number of virtual nodes for later inserts.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_set_rfactor(ring: *mut CHash, rfactor: u32) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            ownership::borrow_mut(ring, "ring")?.set_rfactor(rfactor);
            Ok(())
        })
    }
}

/// The default number of neighbours notp_chash_next()/prev() return.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_pfactor(ring: *const CHash, out: *mut u32) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(ring, "ring")?.pfactor())) }
}

/// Sets the default number of neighbours.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_set_pfactor(ring: *mut CHash, pfactor: u32) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            ownership::borrow_mut(ring, "ring")?.set_pfactor(pfactor);
            Ok(())
        })
    }
}

/// Number of virtual nodes.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_size(ring: *const CHash, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(ring, "ring")?.size())) }
}

/// Number of distinct nodes.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_number_nodes(ring: *const CHash, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(ring, "ring")?.number_nodes())) }
}

/// Node id -> weight as JSON text `{"id":weight,...}`, in the original's
/// order (insertion order; an updated node moves to the end). Release it
/// with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_weights(ring: *const CHash, out: *mut *mut c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let weights: Map<String, Value> = ownership::borrow(ring, "ring")?
                .weights()
                .iter()
                .map(|(id, &weight)| (id.clone(), weight.into()))
                .collect();
            give_string(Value::Object(weights).to_string())
        })
    }
}

/// The weight (number of virtual nodes) of the node with this id.
/// NOTP_ERR_NOT_FOUND when the ring has no such node.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_weight(
    ring: *const CHash,
    id: *const c_char,
    out: *mut u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let id = args::text(id, "id")?;
            ownership::borrow(ring, "ring")?
                .weight(id)
                .ok_or_else(|| absent(id))
        })
    }
}

/// Whether a node with this id is in the ring.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_is_defined(
    ring: *const CHash,
    id: *const c_char,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::borrow(ring, "ring")?.is_defined(args::text(id, "id")?))
        })
    }
}

// ---- membership -------------------------------------------------------------

/// Inserts a copy of `node` with `weight` virtual nodes (0: the ring's
/// rfactor). A node whose id is already present is left as it is.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_insert(
    ring: *mut CHash,
    node: *const Node,
    weight: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            // `node` may be lent by this very ring: copy it before the ring
            // is borrowed for change.
            let node = ownership::borrow(node, "node")?.clone();
            let weight = (weight > 0).then_some(weight);
            ownership::borrow_mut(ring, "ring")?.insert(node, weight)?;
            Ok(())
        })
    }
}

/// Re-inserts a copy of `node` with a new weight (must be positive); it
/// moves to the end of notp_chash_weights().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_update(
    ring: *mut CHash,
    node: *const Node,
    weight: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            // `node` may be lent by this very ring: copy it first.
            let node = ownership::borrow(node, "node")?.clone();
            ownership::borrow_mut(ring, "ring")?.update(node, weight)?;
            Ok(())
        })
    }
}

/// Removes every virtual node of the node with `node`'s id (absent: no
/// change).
#[no_mangle]
pub unsafe extern "C" fn notp_chash_remove(ring: *mut CHash, node: *const Node) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            // `node` may be lent by this very ring: copy its id first.
            let id = ownership::borrow(node, "node")?.id().to_owned();
            ownership::borrow_mut(ring, "ring")?.remove_id(&id);
            Ok(())
        })
    }
}

/// Removes every virtual node of the node with this id (absent: no change).
#[no_mangle]
pub unsafe extern "C" fn notp_chash_remove_id(ring: *mut CHash, id: *const c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let id = args::text(id, "id")?;
            ownership::borrow_mut(ring, "ring")?.remove_id(id);
            Ok(())
        })
    }
}

/// Adds every virtual node of `other` that `ring` lacks (set union).
#[no_mangle]
pub unsafe extern "C" fn notp_chash_merge(ring: *mut CHash, other: *const CHash) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let other = args::operand(ring, other)?;
            ownership::borrow_mut(ring, "ring")?.merge(&other);
            Ok(())
        })
    }
}

/// Keeps only the virtual nodes present in both rings, taking `other`'s
/// node values (set intersection).
#[no_mangle]
pub unsafe extern "C" fn notp_chash_intersect(ring: *mut CHash, other: *const CHash) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let other = args::operand(ring, other)?;
            ownership::borrow_mut(ring, "ring")?.intersect(&other);
            Ok(())
        })
    }
}

/// Whether both rings have the same virtual nodes pointing at equal nodes
/// (rfactor and pfactor are not compared).
#[no_mangle]
pub unsafe extern "C" fn notp_chash_equals(
    a: *const CHash,
    b: *const CHash,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::borrow(a, "a")? == ownership::borrow(b, "b")?)
        })
    }
}

// ---- lookups ----------------------------------------------------------------

/// Lends the node stored under this id, valid until the ring next changes.
/// NOTP_ERR_NOT_FOUND when the ring has no such node.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_get(
    ring: *const CHash,
    id: *const c_char,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let id = args::text(id, "id")?;
            ownership::borrow(ring, "ring")?
                .get(id)
                .map(ownership::lend)
                .ok_or_else(|| absent(id))
        })
    }
}

/// Lends the node that owns `key` (`key_len` bytes), valid until the ring
/// next changes. Does not allocate. NOTP_ERR_NOT_FOUND on an empty ring.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_find(
    ring: *const CHash,
    key: *const u8,
    key_len: usize,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, key) = (
                ownership::borrow(ring, "ring")?,
                args::bytes(key, key_len, "key")?,
            );
            ring.find(key)
                .map(ownership::lend)
                .ok_or_else(|| Failure::not_found("the ring is empty"))
        })
    }
}

/// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting with
/// the owner of `key` and going clockwise. Release the list with
/// notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_range_next(
    ring: *const CHash,
    key: *const u8,
    key_len: usize,
    range: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, key) = (
                ownership::borrow(ring, "ring")?,
                args::bytes(key, key_len, "key")?,
            );
            Ok(give(NodeList::from_borrowed(
                ring.range_next(key, args::range(range)),
            )))
        })
    }
}

/// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting with
/// the last virtual node before `key` and going counter-clockwise. Release
/// the list with notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_range_prev(
    ring: *const CHash,
    key: *const u8,
    key_len: usize,
    range: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, key) = (
                ownership::borrow(ring, "ring")?,
                args::bytes(key, key_len, "key")?,
            );
            Ok(give(NodeList::from_borrowed(
                ring.range_prev(key, args::range(range)),
            )))
        })
    }
}

/// The `range` (0 or negative: pfactor) distinct nodes after `node`,
/// clockwise, excluding `node` itself; empty when `node` is not in the ring
/// or is alone. Release the list with notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_next(
    ring: *const CHash,
    node: *const Node,
    range: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, node) = (
                ownership::borrow(ring, "ring")?,
                ownership::borrow(node, "node")?,
            );
            Ok(give(NodeList::from_borrowed(
                ring.next(node, args::range(range)),
            )))
        })
    }
}

/// Like notp_chash_next(), counter-clockwise.
#[no_mangle]
pub unsafe extern "C" fn notp_chash_prev(
    ring: *const CHash,
    node: *const Node,
    range: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (ring, node) = (
                ownership::borrow(ring, "ring")?,
                ownership::borrow(node, "node")?,
            );
            Ok(give(NodeList::from_borrowed(
                ring.prev(node, args::range(range)),
            )))
        })
    }
}

/// The distinct nodes in the original's order (first seen walking the
/// ring; ids that look like array indices first). Release the list with
/// notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_chash_nodes(ring: *const CHash, out: *mut *mut NodeList) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(NodeList::from_borrowed(
                ownership::borrow(ring, "ring")?.nodes(),
            )))
        })
    }
}

// ---- positions --------------------------------------------------------------

/// The ring position of `len` bytes: base64(sha256(data)), 44 characters.
/// Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_hash_key(
    data: *const u8,
    len: usize,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(hash_key(args::bytes(data, len, "data")?))
        })
    }
}

/// The ring position of virtual node `n` (from 1) of node `id`:
/// base64(sha256(id + "_" + n)). Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_vnode_key(
    id: *const c_char,
    n: u32,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || give_string(vnode_key(args::text(id, "id")?, n))) }
}

fn absent(id: &str) -> Failure {
    Failure::not_found(format!("the ring has no node {id:?}"))
}
