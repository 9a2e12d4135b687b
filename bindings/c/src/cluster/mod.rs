//! `notp_cluster_t`: a cluster node (the original's `ClusterNode`): a
//! kernel, its gossip ring and its command server, started and stopped
//! together. The handle wraps the engine's [`ClusterNode`], which locks
//! internally, so any thread may use it at once; it also lends its kernel
//! as a `notp_kernel_t`, so servers and calls work on it as on any kernel.
//!
//! Every decision is the engine's: how a node starts (restore, check the
//! ring id, resume or join, command server), what "stopped" means, what a
//! lookup answers, which weight an update defaults to, and what happens to
//! ring events a slow callback falls behind on. This door reads C's
//! arguments, calls the engine and writes the answer:
//!
//! * [`lifecycle`]: options, start, stop, free, and what the handle lends;
//! * [`ring`]: reading the ring (ids, copies, lookups);
//! * [`gossip`]: changing it (meet, insert, leave, ...; flush, load);
//! * [`events`]: the callbacks the ring's events run.

// The header lists functions in this order.
pub mod events;
pub mod gossip;
pub mod lifecycle;
mod options;
pub mod ring;

pub use events::{
    CEventCounts, RingChangeCallback, RingCloseCallback, RingConflictCallback, RingLeaveCallback,
    RingSendCallback,
};
pub use options::CClusterOptions;

use super::kernel::KernelHandle;
use super::node_list::NodeList;
use super::ownership::{self, give};
use super::runtime::runtime;
use super::status::{Failure, Status};
use engine::cluster::{ClusterError, ClusterNode, GossipRing};
use engine::Node;

/// A started cluster node.
#[derive(Debug)]
pub struct ClusterHandle {
    node: ClusterNode,
    /// The node's kernel as C sees kernels; lent by notp_cluster_kernel().
    kernel: KernelHandle,
    events: events::Events,
}

impl ClusterHandle {
    /// Runs a change of the gossip ring inside the engine's runtime (joining
    /// starts a task there); a stopped node refuses it.
    fn act(&self, f: impl FnOnce(&GossipRing) -> Result<(), ClusterError>) -> Result<(), Failure> {
        let _context = runtime()?.enter();
        Ok(f(self.node.gossip())?)
    }
}

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Net(e) => e.into(),
            ClusterError::State(e) => e.into(),
            wrong @ ClusterError::WrongRing { .. } => Failure::invalid(wrong.to_string()),
            ClusterError::Options(e) => Failure::invalid(e.to_string()),
            stopped @ ClusterError::Stopped => {
                Failure::new(Status::NOTP_ERR_STOPPED, stopped.to_string())
            }
        }
    }
}

/// Borrows a cluster handle.
///
/// # Safety
/// As [`ownership::borrow`].
unsafe fn cluster<'a>(ptr: *const ClusterHandle) -> Result<&'a ClusterHandle, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ownership::borrow(ptr, "cluster") }
}

/// Copies of the nodes of a C array of `count` node pointers.
///
/// # Safety
/// `nodes` is NULL or points to `count` readable pointers, each NULL or a
/// live node.
unsafe fn node_array(nodes: *const *const Node, count: usize) -> Result<Vec<Node>, Failure> {
    if nodes.is_null() {
        return Err(Failure::null("nodes"));
    }
    // SAFETY: not NULL, and `count` pointers long by this function's
    // contract.
    let pointers = unsafe { std::slice::from_raw_parts(nodes, count) };
    pointers
        .iter()
        .enumerate()
        // SAFETY: each pointer is NULL or a live node by this function's
        // contract.
        .map(|(i, &node)| unsafe { ownership::borrow(node, &format!("nodes[{i}]")) }.cloned())
        .collect()
}

/// C's weight 0 as "no weight" (the engine's default, the rfactor).
fn weight(weight: u32) -> Option<u32> {
    (weight > 0).then_some(weight)
}

fn list(nodes: Vec<Node>) -> *mut NodeList {
    give(NodeList::from_borrowed(nodes.iter().collect()))
}
