//! Changing a cluster node's ring: meeting, inserting, updating, removing,
//! leaving and joining, gossiping now, and saving or restoring its state.
//! Each change is made at once and spread by gossip; every one of them
//! answers NOTP_ERR_STOPPED on a stopped node.

use std::ffi::c_char;

use super::super::args;
use super::super::ownership;
use super::super::status::{guard, Failure, Status};
use super::{node_array, weight, ClusterHandle};
use engine::cluster::{ClusterError, GossipRing};
use engine::Node;

/// A change given one node.
///
/// # Safety
/// As the header's pointer contract for `cluster` and `node`.
unsafe fn with_node(
    cluster: *const ClusterHandle,
    node: *const Node,
    change: impl FnOnce(&GossipRing, &Node) -> Result<(), ClusterError>,
) -> Status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        guard(|| {
            let node = ownership::borrow(node, "node")?;
            super::cluster(cluster)?.act(|g| change(g, node))
        })
    }
}

/// A change given an array of `count` nodes.
///
/// # Safety
/// As the header's pointer contract for `cluster` and `nodes`.
unsafe fn with_nodes(
    cluster: *const ClusterHandle,
    nodes: *const *const Node,
    count: usize,
    change: impl FnOnce(&GossipRing, &[Node]) -> Result<(), ClusterError>,
) -> Status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        guard(|| {
            let nodes = node_array(nodes, count)?;
            super::cluster(cluster)?.act(|g| change(g, &nodes))
        })
    }
}

/// Meets `node` (copied): sends it this node's ring and keeps doing so
/// every gossip period until it answers, so the two rings merge (both
/// nodes then run the ring-change callback). Meeting a node already in the
/// ring, or itself, does nothing. Returns at once.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_meet(
    cluster: *const ClusterHandle,
    node: *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { with_node(cluster, node, |g, n| g.meet(n)) }
}

/// Inserts a copy of `node` with `weight` virtual nodes (0: the ring's
/// rfactor) and gossips the change; a node already in the ring is left as
/// it is.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_insert(
    cluster: *const ClusterHandle,
    node: *const Node,
    weight: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { with_node(cluster, node, |g, n| g.insert(n, self::weight(weight))) }
}

/// Inserts copies of `count` nodes (`nodes` is an array of node pointers)
/// with `weight` virtual nodes each (0: the ring's rfactor), as one change.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_minsert(
    cluster: *const ClusterHandle,
    nodes: *const *const Node,
    count: usize,
    weight: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        with_nodes(cluster, nodes, count, |g, ns| {
            g.minsert(ns, self::weight(weight))
        })
    }
}

/// Gives `node` `weight` virtual nodes (0: the ring's rfactor), inserting
/// it if absent, and gossips the change.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_update(
    cluster: *const ClusterHandle,
    node: *const Node,
    weight: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { with_node(cluster, node, |g, n| g.update(n, self::weight(weight))) }
}

/// Removes the node with `node`'s id (absent: no change) and gossips the
/// change; the removed node, told so, starts over alone.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_remove(
    cluster: *const ClusterHandle,
    node: *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { with_node(cluster, node, |g, n| g.remove(n)) }
}

/// Removes `count` nodes (`nodes` is an array of node pointers) as one
/// change.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_mremove(
    cluster: *const ClusterHandle,
    nodes: *const *const Node,
    count: usize,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { with_nodes(cluster, nodes, count, |g, ns| g.mremove(ns)) }
}

/// Leaves the ring: tells two members the ring without this node (so the
/// others drop it), runs the leave callback, then the close callback, and
/// starts over alone in no ring (notp_cluster_ring_id() is then
/// NOTP_ERR_NOT_FOUND) until notp_cluster_join(). The kernel keeps running.
/// Leaving when in no ring does nothing.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_leave(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| super::cluster(cluster)?.act(|g| g.leave())) }
}

/// Joins ring `ring_id` (after a leave), alone until it meets others.
/// NOTP_ERR_INVALID_ARGUMENT when the node already belongs to a ring,
/// NOTP_ERR_NAME_TAKEN when a server of that name runs on its kernel.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_join(
    cluster: *const ClusterHandle,
    ring_id: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let ring_id = args::text(ring_id, "ring_id")?;
            super::cluster(cluster)?.act(|g| g.join(ring_id))
        })
    }
}

/// Gossips now what every period gossips: the ring, to two members.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_poll(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| super::cluster(cluster)?.act(|g| g.poll())) }
}

/// Saves the node's state to `opts->flush_path` now (what every flush
/// period does); nothing without a flush path, or before the ring first
/// changed. NOTP_ERR_INVALID_ARGUMENT when the file cannot be written (the
/// message says why). Also allowed on a stopped node.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_flush(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            super::cluster(cluster)?
                .node
                .gossip()
                .flush()
                .map_err(|e| Failure::invalid(format!("cannot save the ring: {e}")))
        })
    }
}

/// Restores the state saved at `opts->flush_path` (as at start, but
/// without checking the ring id) and connects to its members. Nothing
/// without a flush path or a file there; NOTP_ERR_INVALID_ARGUMENT for a
/// file that is not a saved state.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_load(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| super::cluster(cluster)?.act(|g| g.load())) }
}
