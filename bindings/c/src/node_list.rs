//! `notp_node_list_t`: the nodes a ring query answers (`range_next`, `next`,
//! `nodes`, ...). The list owns copies, so it outlives changes to the ring.

use super::ownership;
use super::status::{answer, Failure, Status};
use engine::Node;

/// An ordered list of nodes returned by a ring query.
#[derive(Debug, Clone, Default)]
pub struct NodeList(Vec<Node>);

impl NodeList {
    pub(crate) fn from_borrowed(nodes: Vec<&Node>) -> Self {
        NodeList(nodes.into_iter().cloned().collect())
    }
}

/// Number of nodes in the list.
#[no_mangle]
pub unsafe extern "C" fn notp_node_list_len(list: *const NodeList, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(list, "list")?.0.len())) }
}

/// Lends the node at `index` (from 0), valid until the list is freed.
/// NOTP_ERR_INVALID_ARGUMENT when `index` is past the end.
#[no_mangle]
pub unsafe extern "C" fn notp_node_list_get(
    list: *const NodeList,
    index: usize,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let nodes = &ownership::borrow(list, "list")?.0;
            nodes.get(index).map(ownership::lend).ok_or_else(|| {
                Failure::invalid(format!(
                    "index {index} is past the end of a list of {}",
                    nodes.len()
                ))
            })
        })
    }
}

/// Releases a list and the nodes it lent. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_node_list_free(list: *mut NodeList) {
    // SAFETY: the caller passes NULL or a list this library handed over.
    unsafe { ownership::free(list) }
}
