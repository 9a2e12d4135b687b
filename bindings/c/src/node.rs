//! `notp_node_t`: a cluster member (id, host, port). The handle is the
//! engine's [`Node`] itself, so rings can lend theirs without copying.

use std::ffi::c_char;

use super::args::{self, give_string};
use super::ownership::{self, give};
use super::status::{answer, Status};
use engine::Node;

/// Creates a node. Release it with notp_node_free().
#[no_mangle]
pub unsafe extern "C" fn notp_node_new(
    id: *const c_char,
    host: *const c_char,
    port: u16,
    out: *mut *mut Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (id, host) = (args::text(id, "id")?, args::text(host, "host")?);
            Ok(give(Node::new(id, host, port)))
        })
    }
}

/// Parses a node from its JSON text `{"id":...,"host":...,"port":...}`.
/// NOTP_ERR_JSON when the text is not JSON or not a node.
#[no_mangle]
pub unsafe extern "C" fn notp_node_from_json(json: *const c_char, out: *mut *mut Node) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(give(Node::from_json(args::text(json, "json")?)?))
        })
    }
}

/// The node's JSON text, `{"id":...,"host":...,"port":...}` in that order.
/// Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_node_to_json(node: *const Node, out: *mut *mut c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            give_string(ownership::borrow(node, "node")?.to_json())
        })
    }
}

/// A copy of the node that you own (for instance of one borrowed from a
/// ring). Release it with notp_node_free().
#[no_mangle]
pub unsafe extern "C" fn notp_node_clone(node: *const Node, out: *mut *mut Node) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(give(ownership::borrow(node, "node")?.clone()))) }
}

/// Releases a node you own (never one borrowed from a ring, list or
/// iterator). NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_node_free(node: *mut Node) {
    // SAFETY: the caller passes NULL or a node this library handed over.
    unsafe { ownership::free(node) }
}

/// A copy of the node's id. Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_node_id(node: *const Node, out: *mut *mut c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || give_string(ownership::borrow(node, "node")?.id())) }
}

/// A copy of the node's host. Release it with notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_node_host(node: *const Node, out: *mut *mut c_char) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || give_string(ownership::borrow(node, "node")?.host())) }
}

/// The node's port.
#[no_mangle]
pub unsafe extern "C" fn notp_node_port(node: *const Node, out: *mut u16) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::borrow(node, "node")?.port())) }
}

/// Whether two nodes have the same id, host and port.
#[no_mangle]
pub unsafe extern "C" fn notp_node_equals(
    a: *const Node,
    b: *const Node,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::borrow(a, "a")? == ownership::borrow(b, "b")?)
        })
    }
}
