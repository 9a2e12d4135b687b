//! Starting, stopping and freeing a cluster node, and what its handle
//! lends (its kernel, its node).

use std::ffi::c_char;

use super::super::args;
use super::super::kernel::KernelHandle;
use super::super::ownership::{self, give};
use super::super::runtime::{refuse_engine_thread, runtime};
use super::super::status::{answer, guard, quietly, Status};
use super::options::{cluster_options, CClusterOptions};
use super::{events, ClusterHandle};
use engine::cluster::{ClusterNode, ClusterOptions};
use engine::Node;

/// The default options: the kernel's defaults (see
/// notp_kernel_options_default()), 3 virtual nodes per node, 2 neighbours,
/// gossip every 1000 ms, no flush path, and the limits documented on each
/// field.
#[no_mangle]
pub extern "C" fn notp_cluster_options_default() -> CClusterOptions {
    (&ClusterOptions::default()).into()
}

/// Starts a cluster node `id` listening on `host`:`port` (port 0 picks a
/// free port; notp_cluster_port() tells which), signing its messages with
/// `cookie` (NULL or "": none), member of ring `ring_id`: alone in it until
/// it meets others (notp_cluster_meet()) or they meet it. With
/// `opts->flush_path`, state saved there is loaded first (and its members
/// connected to); a saved ring of another id is NOTP_ERR_INVALID_ARGUMENT.
/// `opts` may be NULL for the defaults. Blocks until the port is bound; not
/// allowed inside callbacks (NOTP_ERR_WRONG_THREAD). NOTP_ERR_NETWORK when
/// the address cannot be bound; NOTP_ERR_NAME_TAKEN when `ring_id` is
/// "command" (the CLI's server); NOTP_ERR_INVALID_ARGUMENT when an option
/// cannot work. A failed start leaves nothing running.
/// Release the node with notp_cluster_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_start(
    id: *const c_char,
    host: *const c_char,
    port: u16,
    cookie: *const c_char,
    ring_id: *const c_char,
    opts: *const CClusterOptions,
    out: *mut *mut ClusterHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (id, host) = (args::text(id, "id")?, args::text(host, "host")?);
            let cookie = if cookie.is_null() {
                ""
            } else {
                args::text(cookie, "cookie")?
            };
            let ring_id = args::text(ring_id, "ring_id")?;
            let opts = cluster_options(opts)?;
            refuse_engine_thread("notp_cluster_start")?;
            let runtime = runtime()?;
            let node = runtime.block_on(ClusterNode::start(
                Node::new(id, host, port),
                cookie,
                ring_id,
                opts,
            ))?;
            // No callback can be registered before this returns, so none
            // misses an event by subscribing now.
            let events = events::Events::start(runtime, node.gossip());
            Ok(give(ClusterHandle {
                kernel: KernelHandle {
                    kernel: node.kernel().clone(),
                    lent: true,
                },
                node,
                events,
            }))
        })
    }
}

/// Stops the node as the original's stop does: unregisters the ring
/// callbacks, saves the ring it has and its ring id to the flush path if
/// one is set (so a restart resumes them), leaves the ring (telling two
/// members, so the others drop this node), and stops the kernel (as
/// notp_kernel_stop()). Once it returns no ring callback of this
/// node runs any more (not even for this leave) and its user data may be
/// released; called inside one of them, that run finishes and no other
/// starts. Later changes (meet, insert, ...) fail with NOTP_ERR_STOPPED;
/// the ring can still be read. Does not block on the network; stopping
/// twice is harmless.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_stop(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let cluster = super::cluster(cluster)?;
            cluster.events.close();
            let _context = runtime()?.enter();
            cluster.node.stop();
            Ok(())
        })
    }
}

/// Whether the node is stopped: by notp_cluster_stop(), or because its
/// kernel was stopped (notp_kernel_stop() on the lent kernel). A stopped
/// node refuses changes with NOTP_ERR_STOPPED and runs no callback.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_is_stopped(
    cluster: *const ClusterHandle,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(super::cluster(cluster)?.node.is_stopped())) }
}

/// Stops the node if it runs (see notp_cluster_stop()) and releases the
/// handle; the kernel it lent dies with it, while servers registered on
/// that kernel stay valid until freed themselves. Must be the handle's
/// last use. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_free(cluster: *mut ClusterHandle) {
    // SAFETY: the caller passes NULL or a cluster this library handed over
    // and has not freed yet.
    let Some(cluster) = (unsafe { ownership::take(cluster) }) else {
        return;
    };
    quietly(|| {
        cluster.events.close();
        if !cluster.node.is_stopped() {
            if let Ok(runtime) = runtime() {
                let _context = runtime.enter();
                cluster.node.stop();
            }
        }
    });
    super::super::status::drop_quietly(cluster);
}

/// Lends the node's kernel, valid until notp_cluster_free(): register
/// servers on it (notp_kernel_register()) and make calls with it as with
/// any kernel. It belongs to the cluster node: never pass it to
/// notp_kernel_free() (which ignores it); prefer notp_cluster_stop() to
/// notp_kernel_stop(), which stops the node's gossip too but without
/// leaving its ring.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_kernel(
    cluster: *const ClusterHandle,
    out: *mut *const KernelHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::lend(&super::cluster(cluster)?.kernel))
        })
    }
}

/// Lends the node itself (with the port actually bound), valid until
/// notp_cluster_free(): what other nodes pass to notp_cluster_meet().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_node(
    cluster: *const ClusterHandle,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(ownership::lend(
                super::cluster(cluster)?.node.kernel().node(),
            ))
        })
    }
}

/// The port the node listens on.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_port(cluster: *const ClusterHandle, out: *mut u16) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(super::cluster(cluster)?.node.kernel().node().port())
        })
    }
}
