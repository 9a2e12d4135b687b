//! `notp_cluster_t`: a cluster node (the original's `ClusterNode`): a
//! kernel, its gossip ring and its command server, started and stopped
//! together. The handle wraps the engine's [`ClusterNode`], which locks
//! internally, so any thread may use it at once; it also lends its kernel
//! as a `notp_kernel_t`, so servers and calls work on it as on any kernel.
//!
//! Ring events reach C through one task per cluster that reads the gossip
//! ring's broadcast and runs the registered callbacks on an engine thread.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::task::JoinHandle;

use super::args::{self, give, give_string};
use super::kernel::{stopped, CKernelOptions, KernelHandle};
use super::node_list::NodeList;
use super::runtime::{refuse_engine_thread, runtime};
use super::status::{answer, guard, quietly, Failure, Status};
use super::user_data::UserData;
use super::vclock::CTrimOptions;
use engine::cluster::{ClusterError, ClusterNode, ClusterOptions, GossipEvent, GossipRing};
use engine::gossip::GossipOptions;
use engine::net::KernelOptions;
use engine::{CHash, Node, TrimOptions, VectorClock};

/// Runs on an engine thread when the membership of the node's ring changes
/// (the original's `process(oldRing, newRing)` event): nodes joined, left
/// or changed weight, by a local call or by gossip. Both rings are lent for
/// the duration of the call only (notp_chash_clone() keeps one).
pub type RingChangeCallback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, old_ring: *const CHash, new_ring: *const CHash),
>;

/// Runs on an engine thread when the node leaves its ring (the original's
/// `leave(ring)` event): `ring` is the ring it told the others, without
/// itself, lent for the duration of the call only.
pub type RingLeaveCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, ring: *const CHash)>;

type ChangeFn = unsafe extern "C" fn(*mut c_void, *const CHash, *const CHash);
type LeaveFn = unsafe extern "C" fn(*mut c_void, *const CHash);

/// The registered callbacks, each with its user data.
#[derive(Debug, Clone, Copy, Default)]
struct Callbacks {
    change: Option<(ChangeFn, UserData)>,
    leave: Option<(LeaveFn, UserData)>,
}

/// What the delivery task shares with the handle.
#[derive(Debug, Default)]
struct Listener {
    /// Held only to read or replace an entry, never while a callback runs,
    /// so a callback may replace its own registration.
    callbacks: Mutex<Callbacks>,
    /// Held while a callback runs: whoever replaces a registration takes it
    /// afterwards, which waits for a run of the old callback in progress.
    running: Mutex<()>,
    /// Set by notp_cluster_stop(): no registration is accepted after it.
    stopped: AtomicBool,
}

thread_local! {
    /// The listener whose callback this thread is running, if any.
    static NOTIFYING: Cell<*const Listener> = const { Cell::new(std::ptr::null()) };
}

/// Restores [`NOTIFYING`] when a callback returns.
struct Notifying(*const Listener);

impl Drop for Notifying {
    fn drop(&mut self) {
        NOTIFYING.with(|n| n.set(self.0));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The locks guard plain values (or nothing) that a panic cannot leave
    // half set.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Listener {
    /// Runs the callback an event calls for, if one is registered; never
    /// lets a panic out of the delivery task.
    fn deliver(&self, event: &GossipEvent) {
        if !matches!(
            event,
            GossipEvent::Process { .. } | GossipEvent::Leave { .. }
        ) {
            return;
        }
        quietly(|| {
            let _running = lock(&self.running);
            // Read after `running` is taken: a registration replaced before
            // this point is never run again.
            let callbacks = *lock(&self.callbacks);
            let _inside = Notifying(NOTIFYING.with(|n| n.replace(self)));
            match event {
                GossipEvent::Process { old, new } => {
                    if let Some((callback, user_data)) = callbacks.change {
                        // SAFETY: the callback and its user data are the
                        // caller's, given together to
                        // notp_cluster_on_ring_change(), which documents that
                        // it runs on an engine thread with rings lent for
                        // the call.
                        unsafe { callback(user_data.0, old, new) };
                    }
                }
                GossipEvent::Leave { ring } => {
                    if let Some((callback, user_data)) = callbacks.leave {
                        // SAFETY: as above, given to notp_cluster_on_leave().
                        unsafe { callback(user_data.0, ring) };
                    }
                }
                _ => {}
            }
        });
    }

    /// Changes the registrations, then waits for a callback of this cluster
    /// that is running on another thread, so the old ones are done once
    /// this returns. Inside one of this cluster's callbacks it does not
    /// wait (that run is the caller's own and finishes after it). A new
    /// registration (`adds`) is refused once the node is stopped.
    fn change(&self, adds: bool, edit: impl FnOnce(&mut Callbacks)) -> Result<(), Failure> {
        {
            let mut callbacks = lock(&self.callbacks);
            // Read under the lock `close` sets it under, so nothing is
            // registered after a stop.
            if adds && self.stopped.load(Ordering::Acquire) {
                return Err(stopped());
            }
            edit(&mut callbacks);
        }
        let inside_own_callback = NOTIFYING.with(|n| std::ptr::eq(n.get(), self));
        if !inside_own_callback {
            drop(lock(&self.running));
        }
        Ok(())
    }

    /// Unregisters every callback for good.
    fn close(&self) {
        {
            let mut callbacks = lock(&self.callbacks);
            self.stopped.store(true, Ordering::Release);
            *callbacks = Callbacks::default();
        }
        let _ = self.change(false, |_| {});
    }
}

/// Feeds the gossip ring's events to the listener, in order, until the
/// handle is freed (which aborts this task).
///
/// The engine's event channel is bounded and also carries every gossip
/// message sent, so a slow callback can fall behind by more than it holds.
/// The changes missed then are reported as one, from the last ring reported
/// to the ring as it is now, so the callbacks' view of the ring stays
/// current; leaves still queued are reported, leaves overwritten are lost.
async fn listen(
    mut events: broadcast::Receiver<GossipEvent>,
    gossip: GossipRing,
    listener: Arc<Listener>,
) {
    // Read after subscribing: no change falls between the two.
    let mut reported = gossip.ring();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!("ring callbacks fell behind: {missed} events skipped");
                // What is still queued is older than the ring now.
                loop {
                    match events.try_recv() {
                        Ok(leave @ GossipEvent::Leave { .. }) => listener.deliver(&leave),
                        Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                let now = gossip.ring();
                if now == reported {
                    continue;
                }
                GossipEvent::Process {
                    old: std::mem::replace(&mut reported, now.clone()),
                    new: now,
                }
            }
            Err(RecvError::Closed) => break,
        };
        listener.deliver(&event);
        match event {
            GossipEvent::Process { new, .. } => reported = new,
            // Alone again: the ring the node starts over with.
            GossipEvent::Leave { .. } => reported = gossip.ring(),
            _ => {}
        }
    }
}

/// A started cluster node.
#[derive(Debug)]
pub struct ClusterHandle {
    node: ClusterNode,
    /// The node's kernel as C sees kernels; lent by notp_cluster_kernel().
    kernel: KernelHandle,
    listener: Arc<Listener>,
    task: JoinHandle<()>,
}

impl ClusterHandle {
    /// The gossip ring, for a call that changes it: refused once the
    /// kernel is stopped.
    fn running(&self) -> Result<&GossipRing, Failure> {
        if self.node.kernel().is_stopped() {
            return Err(stopped());
        }
        Ok(self.node.gossip())
    }

    /// Runs a change of the gossip ring inside the engine's runtime (joining
    /// starts a task there).
    fn act<T>(&self, f: impl FnOnce(&GossipRing) -> Result<T, Failure>) -> Result<T, Failure> {
        let gossip = self.running()?;
        let _context = runtime()?.enter();
        f(gossip)
    }
}

impl From<ClusterError> for Failure {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Net(e) => e.into(),
            ClusterError::State(e) => e.into(),
            wrong @ ClusterError::WrongRing { .. } => Failure::invalid(wrong.to_string()),
            ClusterError::Options(e) => Failure::invalid(e.to_string()),
        }
    }
}

/// How a cluster node connects, gossips and persists. Start from
/// notp_cluster_options_default(), or from all zeros: every numeric field
/// set to 0 takes its default. Other values pass to the engine as they are;
/// one that cannot work makes the start fail with
/// NOTP_ERR_INVALID_ARGUMENT, the message naming the option.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CClusterOptions {
    /// The kernel's options, as for notp_kernel_start(), except that
    /// `kernel.cookie` must be NULL: the cookie is notp_cluster_start()'s
    /// own argument.
    pub kernel: CKernelOptions,
    /// Virtual nodes per node inserted without a weight (default 3).
    pub rfactor: u32,
    /// Neighbours notp_cluster_find() adds to a key's owner (default 2).
    pub pfactor: u32,
    /// Gossip period in milliseconds: every period the node sends its ring
    /// to two members and retries unfinished meets (default 1000).
    pub interval_ms: u32,
    /// Period of writes to `flush_path`, in milliseconds (default 1000).
    pub flush_interval_ms: u32,
    /// File the node's ring and clock are saved to (NUL-terminated UTF-8),
    /// and loaded from at start; NULL keeps them in memory only (the
    /// default). Copied by notp_cluster_start().
    pub flush_path: *const c_char,
    /// How the ring's clock is trimmed on every period; each field 0 takes
    /// its default (see notp_trim_options_default()).
    pub trim: CTrimOptions,
    /// Periods during which an unanswered meet is retried (default 30).
    pub meet_retries: u32,
    /// Periods a removed node is remembered, so that gossip still holding
    /// it does not bring it back (default 600).
    pub tombstone_polls: u32,
}

fn millis(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

impl From<&ClusterOptions> for CClusterOptions {
    fn from(o: &ClusterOptions) -> Self {
        let g = &o.gossip;
        CClusterOptions {
            kernel: (&o.kernel).into(),
            rfactor: g.rfactor,
            pfactor: g.pfactor,
            interval_ms: millis(g.interval),
            flush_interval_ms: millis(g.flush_interval),
            flush_path: std::ptr::null(),
            trim: g.trim.into(),
            meet_retries: g.meet_retries,
            tombstone_polls: g.tombstone_polls,
        }
    }
}

/// The kernel's options from C's, zeros meaning the defaults (as
/// notp_kernel_start() reads them).
fn kernel_options(o: &CKernelOptions) -> Result<KernelOptions, Failure> {
    if !o.cookie.is_null() {
        return Err(Failure::invalid(
            "`opts->kernel.cookie` must be NULL: a cluster node's cookie is the `cookie` argument",
        ));
    }
    Ok(super::kernel::limits(o))
}

/// Trim options, each zero field taking its default.
fn trim_options(t: &CTrimOptions) -> TrimOptions {
    let d = CTrimOptions::from(TrimOptions::default());
    let or = |value: u64, default: u64| if value == 0 { default } else { value };
    CTrimOptions {
        lower_bound: or(t.lower_bound, d.lower_bound),
        young_bound: or(t.young_bound, d.young_bound),
        upper_bound: or(t.upper_bound, d.upper_bound),
        old_bound: or(t.old_bound, d.old_bound),
    }
    .into()
}

/// The engine's options from C's, zeros meaning the defaults; NULL is all
/// defaults.
///
/// # Safety
/// `opts` is NULL or points to a readable `CClusterOptions` whose strings
/// are NULL or NUL-terminated.
// `..d` covers gossip options added later, which C cannot set yet.
#[allow(clippy::needless_update)]
unsafe fn cluster_options(opts: *const CClusterOptions) -> Result<ClusterOptions, Failure> {
    // SAFETY: forwarded from this function's contract.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(ClusterOptions::default());
    };
    let d = GossipOptions::default();
    let or = |value: u32, default: u32| if value == 0 { default } else { value };
    let ms = |value: u32, default: u64| if value == 0 { default } else { value.into() };
    let flush_path = if o.flush_path.is_null() {
        None
    } else {
        // SAFETY: not NULL, and NUL-terminated by this function's contract.
        Some(PathBuf::from(unsafe {
            args::text(o.flush_path, "opts->flush_path")
        }?))
    };
    Ok(ClusterOptions {
        kernel: kernel_options(&o.kernel)?,
        gossip: GossipOptions {
            rfactor: or(o.rfactor, d.rfactor),
            pfactor: or(o.pfactor, d.pfactor),
            interval: ms(o.interval_ms, d.interval),
            flush_interval: ms(o.flush_interval_ms, d.flush_interval),
            flush_path,
            trim: trim_options(&o.trim),
            meet_retries: or(o.meet_retries, d.meet_retries),
            tombstone_polls: or(o.tombstone_polls, d.tombstone_polls),
            ..d
        },
    })
}

/// Borrows a cluster handle.
///
/// # Safety
/// As [`args::handle`].
unsafe fn cluster<'a>(ptr: *const ClusterHandle) -> Result<&'a ClusterHandle, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { args::handle(ptr, "cluster") }
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
        .map(|(i, &node)| unsafe { args::handle(node, &format!("nodes[{i}]")) }.cloned())
        .collect()
}

/// A weight of 0 as the ring's rfactor.
fn weight(weight: u32) -> Option<u32> {
    (weight > 0).then_some(weight)
}

/// `owner` and its `pfactor` successors, for a key that is not UTF-8 (the
/// engine's [`GossipRing::find`] takes text); the same rule.
fn find_in(ring: &CHash, key: &[u8]) -> Vec<Node> {
    let Some(owner) = ring.find(key) else {
        return vec![];
    };
    let mut nodes = vec![owner.clone()];
    nodes.extend(ring.next(owner, None).into_iter().cloned());
    nodes
}

fn list(nodes: Vec<Node>) -> *mut NodeList {
    give(NodeList::from_borrowed(nodes.iter().collect()))
}

fn absent(what: &str) -> Failure {
    Failure::not_found(format!("the node has no {what}: it is in no ring"))
}

// ---- life cycle -------------------------------------------------------------

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
/// `opts->flush_path`, state saved there is loaded first; a saved ring of
/// another id is NOTP_ERR_INVALID_ARGUMENT. `opts` may be NULL for the
/// defaults. Blocks until the port is bound; not allowed inside callbacks
/// (NOTP_ERR_WRONG_THREAD). NOTP_ERR_NETWORK when the address cannot be
/// bound; NOTP_ERR_NAME_TAKEN when `ring_id` is "command" (the CLI's
/// server); NOTP_ERR_INVALID_ARGUMENT when an option cannot work. Release the node with notp_cluster_free().
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
            let listener = Arc::new(Listener::default());
            let task = runtime.spawn(listen(
                node.gossip().subscribe(),
                node.gossip().clone(),
                listener.clone(),
            ));
            Ok(give(ClusterHandle {
                kernel: KernelHandle {
                    kernel: node.kernel().clone(),
                },
                node,
                listener,
                task,
            }))
        })
    }
}

/// Stops the node as the original's stop does: unregisters the ring
/// callbacks, leaves the ring (telling two members, so the others drop this
/// node), saves the state to the flush path if one is set, and stops the
/// kernel (as notp_kernel_stop()). Once it returns no ring callback of this
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
            let cluster = self::cluster(cluster)?;
            cluster.listener.close();
            let _context = runtime()?.enter();
            cluster.node.stop();
            Ok(())
        })
    }
}

/// Stops the node if it runs (see notp_cluster_stop()) and releases the
/// handle; the kernel it lent dies with it, while servers registered on
/// that kernel stay valid until freed themselves. Must be the handle's
/// last use. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_free(cluster: *mut ClusterHandle) {
    if cluster.is_null() {
        return;
    }
    // SAFETY: not NULL; the caller passes a cluster this library handed
    // over and has not freed yet.
    let cluster = unsafe { Box::from_raw(cluster) };
    quietly(|| {
        cluster.listener.close();
        if !cluster.node.kernel().is_stopped() {
            if let Ok(runtime) = runtime() {
                let _context = runtime.enter();
                cluster.node.stop();
            }
        }
        cluster.task.abort();
    });
    super::status::drop_quietly(cluster);
}

// ---- identity ---------------------------------------------------------------

/// Lends the node's kernel, valid until notp_cluster_free(): register
/// servers on it (notp_kernel_register()) and make calls with it as with
/// any kernel. It belongs to the cluster node: never pass it to
/// notp_kernel_free(); prefer notp_cluster_stop() to notp_kernel_stop(),
/// which stops the network but not the gossip.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_kernel(
    cluster: *const ClusterHandle,
    out: *mut *const KernelHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(&self::cluster(cluster)?.kernel as *const KernelHandle)
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
            Ok(self::cluster(cluster)?.node.kernel().node() as *const Node)
        })
    }
}

/// The port the node listens on.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_port(cluster: *const ClusterHandle, out: *mut u16) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(self::cluster(cluster)?.node.kernel().node().port())
        })
    }
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
            let id = self::cluster(cluster)?.node.gossip().ring_id();
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
            let actor = self::cluster(cluster)?.node.gossip().actor();
            give_string(actor.ok_or_else(|| {
                Failure::not_found("the node has no actor yet: its ring never changed")
            })?)
        })
    }
}

// ---- the ring ---------------------------------------------------------------

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
            Ok(give(self::cluster(cluster)?.node.gossip().ring()))
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
            give_string(self::cluster(cluster)?.node.gossip().ring().to_json())
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
            Ok(give(self::cluster(cluster)?.node.gossip().vclock()))
        })
    }
}

/// The nodes that hold `key` (`key_len` bytes): its owner, then the
/// owner's pfactor successors (the original's `find`). Release the list
/// with notp_node_list_free().
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_find(
    cluster: *const ClusterHandle,
    key: *const u8,
    key_len: usize,
    out: *mut *mut NodeList,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let gossip = self::cluster(cluster)?.node.gossip();
            let key = args::bytes(key, key_len, "key")?;
            let nodes = match std::str::from_utf8(key) {
                Ok(text) => gossip.find(text),
                Err(_) => find_in(&gossip.ring(), key),
            };
            Ok(list(nodes))
        })
    }
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
    unsafe {
        answer(out, || {
            let gossip = self::cluster(cluster)?.node.gossip();
            let key = args::bytes(key, key_len, "key")?;
            let range = args::range(range);
            Ok(match std::str::from_utf8(key) {
                Ok(text) => list(gossip.range(text, range)),
                Err(_) => {
                    let ring = gossip.ring();
                    give(NodeList::from_borrowed(ring.range_next(key, range)))
                }
            })
        })
    }
}

// ---- membership -------------------------------------------------------------

/// Meets `node` (copied): sends it this node's ring and keeps doing so
/// every gossip period until it answers, so the two rings merge (both
/// nodes then run the ring-change callback). Meeting a node already in the
/// ring, or itself, does nothing. Returns at once; NOTP_ERR_STOPPED on a
/// stopped node.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_meet(
    cluster: *const ClusterHandle,
    node: *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let node = args::handle(node, "node")?;
            self::cluster(cluster)?.act(|g| {
                g.meet(node);
                Ok(())
            })
        })
    }
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
    unsafe {
        guard(|| {
            let node = args::handle(node, "node")?;
            self::cluster(cluster)?.act(|g| Ok(g.insert(node, self::weight(weight))?))
        })
    }
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
        guard(|| {
            let nodes = node_array(nodes, count)?;
            self::cluster(cluster)?.act(|g| Ok(g.minsert(&nodes, self::weight(weight))?))
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
    unsafe {
        guard(|| {
            let node = args::handle(node, "node")?;
            self::cluster(cluster)?.act(|g| {
                let weight = match weight {
                    0 => g.ring().rfactor(),
                    w => w,
                };
                Ok(g.update(node, weight)?)
            })
        })
    }
}

/// Removes the node with `node`'s id (absent: no change) and gossips the
/// change; the removed node, told so, starts over alone.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_remove(
    cluster: *const ClusterHandle,
    node: *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let node = args::handle(node, "node")?;
            self::cluster(cluster)?.act(|g| {
                g.remove(node);
                Ok(())
            })
        })
    }
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
    unsafe {
        guard(|| {
            let nodes = node_array(nodes, count)?;
            self::cluster(cluster)?.act(|g| {
                g.mremove(&nodes);
                Ok(())
            })
        })
    }
}

/// Leaves the ring: tells two members the ring without this node (so the
/// others drop it), runs the leave callback, and starts over alone in no
/// ring (notp_cluster_ring_id() is then NOTP_ERR_NOT_FOUND) until
/// notp_cluster_join(). The kernel keeps running. Leaving when in no ring
/// does nothing.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_leave(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            self::cluster(cluster)?.act(|g| {
                g.leave();
                Ok(())
            })
        })
    }
}

/// Joins ring `ring_id` (after a leave), alone until it meets others.
/// NOTP_ERR_INVALID_ARGUMENT when the node already belongs to a ring.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_join(
    cluster: *const ClusterHandle,
    ring_id: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let ring_id = args::text(ring_id, "ring_id")?;
            self::cluster(cluster)?.act(|g| Ok(g.join(ring_id)?))
        })
    }
}

/// Gossips now what every period gossips: the ring, to two members.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_poll(cluster: *const ClusterHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            self::cluster(cluster)?.act(|g| {
                g.poll();
                Ok(())
            })
        })
    }
}

// ---- callbacks --------------------------------------------------------------

/// Registers `callback(user_data, old_ring, new_ring)` to run on an engine
/// thread whenever the ring's membership changes, replacing any earlier
/// one; a NULL `callback` unregisters it. Callbacks of one node run one at
/// a time, in the order of the changes. Should they fall far behind (the
/// engine buffers 1024 events, gossip messages included), the changes
/// missed are reported as one, from the last ring reported to the ring as
/// it is then. Once this returns the earlier callback is not running and
/// never runs again, so its user data may be released (called inside that
/// callback, the run in progress finishes). `user_data` may be NULL; it
/// must stay valid until the callback is replaced, unregistered, or the
/// node stopped. NOTP_ERR_STOPPED when registering on a stopped node.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_ring_change(
    cluster: *const ClusterHandle,
    callback: RingChangeCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let cluster = self::cluster(cluster)?;
            let entry = callback.map(|c| (c, UserData(user_data)));
            cluster
                .listener
                .change(entry.is_some(), |c| c.change = entry)
        })
    }
}

/// Registers `callback(user_data, ring)` to run on an engine thread when
/// the node leaves its ring by notp_cluster_leave() (not by
/// notp_cluster_stop(), which unregisters first). As
/// notp_cluster_on_ring_change() otherwise, except that a leave can go
/// unreported when the callbacks fall more than 1024 events behind.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_leave(
    cluster: *const ClusterHandle,
    callback: RingLeaveCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let cluster = self::cluster(cluster)?;
            let entry = callback.map(|c| (c, UserData(user_data)));
            cluster
                .listener
                .change(entry.is_some(), |c| c.leave = entry)
        })
    }
}
