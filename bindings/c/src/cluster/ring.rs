//! Reading a cluster node's ring: its id, actor, copies of the ring and
//! its clock, and the lookups (`find`, `range`) as the engine answers them.

use std::ffi::c_char;

use super::super::args::{self, give_string};
use super::super::node_list::NodeList;
use super::super::ownership::give;
use super::super::status::{answer, Failure, Status};
use super::{list, ClusterHandle};
use engine::cluster::GossipRing;
use engine::{CHash, Node, VectorClock};

/// A lookup of `key` (`key_len` bytes) with a C size (0 or negative: the
/// engine's default), answered as a node list.
///
/// # Safety
/// As the header's pointer contract for the arguments.
unsafe fn lookup(
    cluster: *const ClusterHandle,
    key: *const u8,
    key_len: usize,
    size: i64,
    out: *mut *mut NodeList,
    query: fn(&GossipRing, &[u8], Option<usize>) -> Vec<Node>,
) -> Status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        answer(out, || {
            let gossip = super::cluster(cluster)?.node.gossip();
            let key = args::bytes(key, key_len, "key")?;
            Ok(list(query(gossip, key, args::range(size))))
        })
    }
}

fn absent(what: &str) -> Failure {
    Failure::not_found(format!("the node has no {what}: it is in no ring"))
}

/// A copy of the id of the ring the node belongs to. NOTP_ERR_NOT_FOUND
/// after it left (notp_cluster_leave()) and until it joins one. Release it
/// with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_ring_id(
    cluster: *const ClusterHandle,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let id = super::cluster(cluster)?.node.gossip().ring_id();
            give_string(id.ok_or_else(|| absent("ring id"))?)
        })
    }
}

/// A copy of the actor of the node's latest ring change (the vector clock
/// entry it last counted). NOTP_ERR_NOT_FOUND before the first change.
/// Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_actor(
    cluster: *const ClusterHandle,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let actor = super::cluster(cluster)?.node.gossip().actor();
            give_string(actor.ok_or_else(|| {
                Failure::not_found("the node has no actor yet: its ring never changed")
            })?)
        })
    }
}

/// A copy of the node's ring as it is now, independent of later changes.
/// Release it with notp_chash_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_ring(
    cluster: *const ClusterHandle,
    out: *mut *mut CHash,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(super::cluster(cluster)?.node.gossip().ring()))
        })
    }
}

/// The node's ring as JSON text, as notp_chash_to_json() writes it (what
/// the CLI's `inspect` shows). Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_ring_json(
    cluster: *const ClusterHandle,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(super::cluster(cluster)?.node.gossip().ring().to_json())
        })
    }
}

/// A copy of the ring's vector clock. Release it with notp_vclock_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_vclock(
    cluster: *const ClusterHandle,
    out: *mut *mut VectorClock,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(super::cluster(cluster)?.node.gossip().vclock()))
        })
    }
}

/// The `size` nodes that hold `key` (`key_len` bytes), at most every node
/// (0 or negative: pfactor + 1, as notp_cluster_range()): its owner, then
/// the owner's successors, as the original's `find(key, size)`. Release
/// the list with notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_find(
    cluster: *const ClusterHandle,
    key: *const u8,
    key_len: usize,
    size: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { lookup(cluster, key, key_len, size, out, |g, k, n| g.find(k, n)) }
}

/// Up to `range` distinct nodes (0 or negative: pfactor + 1), starting
/// with the owner of `key` (`key_len` bytes) and going clockwise (the
/// original's `range`). Release the list with notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_range(
    cluster: *const ClusterHandle,
    key: *const u8,
    key_len: usize,
    range: i64,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { lookup(cluster, key, key_len, range, out, |g, k, n| g.range(k, n)) }
}
