//! The ring's events as C callbacks: one task per cluster node reads the
//! node's event subscription (the engine's, with its one backlog policy:
//! `engine::cluster::events`) and runs the registered callbacks on an
//! engine thread, in order. What this door adds is only C's side of a
//! callback's life: registering, replacing, and knowing that an old
//! callback has finished before its user data may go.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::super::status::{answer, guard, quietly, Failure, Status};
use super::super::user_data::UserData;
use super::ClusterHandle;
use engine::cluster::{ClusterError, EventCounts, GossipEvent, GossipEvents, GossipRing};
use engine::{CHash, VectorClock};

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

/// Runs on an engine thread when a ring received from another node was
/// concurrent with this node's (the original's `conflict(ring, clock)`
/// event): the received ring and clock, lent for the duration of the call
/// only. The two rings are reconciled; a ring-change callback follows if
/// the membership changed.
pub type RingConflictCallback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, ring: *const CHash, clock: *const VectorClock),
>;

/// Runs on an engine thread for every gossip message the node sends (the
/// original's `send(clock, "ring", ring)` event): the clock and ring sent,
/// lent for the duration of the call only. Every period sends some.
pub type RingSendCallback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, clock: *const VectorClock, ring: *const CHash),
>;

/// Runs on an engine thread once the node is out of any ring (the
/// original's `close` event), after the leave callback.
pub type RingCloseCallback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

type ChangeFn = unsafe extern "C" fn(*mut c_void, *const CHash, *const CHash);
type LeaveFn = unsafe extern "C" fn(*mut c_void, *const CHash);
type ConflictFn = unsafe extern "C" fn(*mut c_void, *const CHash, *const VectorClock);
type SendFn = unsafe extern "C" fn(*mut c_void, *const VectorClock, *const CHash);
type CloseFn = unsafe extern "C" fn(*mut c_void);

/// How many of a node's ring events its callbacks did not get one by one
/// (notp_cluster_event_counts()): they fell behind by more than
/// `opts->event_backlog` events.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct CEventCounts {
    /// Ring changes merged into the one before them.
    pub coalesced: u64,
    /// Send events dropped.
    pub dropped_sends: u64,
    /// Conflict events dropped.
    pub dropped_conflicts: u64,
    /// Leave events dropped.
    pub dropped_leaves: u64,
    /// Close events dropped.
    pub dropped_closes: u64,
}

impl From<EventCounts> for CEventCounts {
    fn from(c: EventCounts) -> Self {
        CEventCounts {
            coalesced: c.coalesced,
            dropped_sends: c.dropped_sends,
            dropped_conflicts: c.dropped_conflicts,
            dropped_leaves: c.dropped_leaves,
            dropped_closes: c.dropped_closes,
        }
    }
}

/// The registered callbacks, each with its user data.
#[derive(Debug, Clone, Copy, Default)]
struct Callbacks {
    change: Option<(ChangeFn, UserData)>,
    leave: Option<(LeaveFn, UserData)>,
    conflict: Option<(ConflictFn, UserData)>,
    send: Option<(SendFn, UserData)>,
    close: Option<(CloseFn, UserData)>,
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
    closed: AtomicBool,
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
    /// Runs the callback `event` calls for, if one is registered; never
    /// lets a panic out of the delivery task.
    fn deliver(&self, event: &GossipEvent) {
        quietly(|| {
            let _running = lock(&self.running);
            // Read after `running` is taken: a registration replaced before
            // this point is never run again.
            let callbacks = *lock(&self.callbacks);
            let _inside = Notifying(NOTIFYING.with(|n| n.replace(self)));
            // SAFETY (every call below): the callback and its user data are
            // the caller's, given together to the notp_cluster_on_*()
            // function of its kind, which documents that it runs on an
            // engine thread with what it receives lent for the call.
            match (event, callbacks) {
                (
                    GossipEvent::Process { old, new },
                    Callbacks {
                        change: Some((f, data)),
                        ..
                    },
                ) => {
                    // SAFETY: see above.
                    unsafe { f(data.0, old, new) }
                }
                (
                    GossipEvent::Leave { ring },
                    Callbacks {
                        leave: Some((f, data)),
                        ..
                    },
                ) => {
                    // SAFETY: see above.
                    unsafe { f(data.0, ring) }
                }
                (
                    GossipEvent::Conflict { ring, clock },
                    Callbacks {
                        conflict: Some((f, data)),
                        ..
                    },
                ) => {
                    // SAFETY: see above.
                    unsafe { f(data.0, ring, clock) }
                }
                (
                    GossipEvent::Send { clock, ring },
                    Callbacks {
                        send: Some((f, data)),
                        ..
                    },
                ) => {
                    // SAFETY: see above.
                    unsafe { f(data.0, clock, ring) }
                }
                (
                    GossipEvent::Close,
                    Callbacks {
                        close: Some((f, data)),
                        ..
                    },
                ) => {
                    // SAFETY: see above.
                    unsafe { f(data.0) }
                }
                _ => {}
            }
        });
    }

    /// Changes the registrations, then waits for a callback of this cluster
    /// that is running on another thread, so the old ones are done once
    /// this returns. Inside one of this cluster's callbacks it does not
    /// wait (that run is the caller's own and finishes after it). A new
    /// registration (`adds`) is refused once the listener is closed.
    fn change(&self, adds: bool, edit: impl FnOnce(&mut Callbacks)) -> Result<(), Failure> {
        {
            let mut callbacks = lock(&self.callbacks);
            // Read under the lock `close` sets it under, so nothing is
            // registered after a stop.
            if adds && self.closed.load(Ordering::Acquire) {
                return Err(ClusterError::Stopped.into());
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
            self.closed.store(true, Ordering::Release);
            *callbacks = Callbacks::default();
        }
        let _ = self.change(false, |_| {});
    }
}

/// A node's callbacks and the task that runs them.
#[derive(Debug)]
pub(super) struct Events {
    listener: Arc<Listener>,
    subscription: Arc<GossipEvents>,
    task: JoinHandle<()>,
}

impl Events {
    /// Subscribes to `gossip`'s events (sends only while a send callback
    /// is registered) and starts the task that delivers them until the
    /// subscription ends (the node stopped).
    pub(super) fn start(runtime: &Runtime, gossip: &GossipRing) -> Events {
        let subscription = Arc::new(gossip.subscribe());
        subscription.want_sends(false);
        let listener = Arc::new(Listener::default());
        let (events, to) = (subscription.clone(), listener.clone());
        let task = runtime.spawn(async move {
            while let Some(event) = events.recv().await {
                to.deliver(&event);
            }
        });
        Events {
            listener,
            subscription,
            task,
        }
    }

    /// Unregisters every callback for good; a callback running on another
    /// thread has finished when this returns.
    pub(super) fn close(&self) {
        self.listener.close();
    }

    /// Registers (`Some`) or unregisters (`None`) a callback with `edit`.
    fn register(
        &self,
        cluster: &ClusterHandle,
        adds: bool,
        edit: impl FnOnce(&mut Callbacks),
    ) -> Result<(), Failure> {
        if adds && cluster.node.is_stopped() {
            return Err(ClusterError::Stopped.into());
        }
        self.listener.change(adds, edit)
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Registers `entry` in the slot `put` fills, for every notp_cluster_on_*()
/// function.
///
/// # Safety
/// As the header's pointer contract for `cluster`.
unsafe fn register<F>(
    cluster: *const ClusterHandle,
    callback: Option<F>,
    user_data: *mut c_void,
    put: impl FnOnce(&mut Callbacks, Option<(F, UserData)>),
) -> Status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        guard(|| {
            let cluster = super::cluster(cluster)?;
            let entry = callback.map(|c| (c, UserData(user_data)));
            let adds = entry.is_some();
            cluster.events.register(cluster, adds, |c| put(c, entry))
        })
    }
}

/// Registers `callback(user_data, old_ring, new_ring)` to run on an engine
/// thread whenever the ring's membership changes, replacing any earlier
/// one; a NULL `callback` unregisters it. Callbacks of one node run one at
/// a time, in the order of the ring's events. Should they fall behind by
/// more than `opts->event_backlog` events, nothing blocks and no change is
/// lost: changes not yet run merge into one, from the ring last reported
/// to the ring now (so the last change run always ends at the current
/// ring), while send, then conflict, then leave and close events are
/// dropped, oldest first (notp_cluster_event_counts() counts them). Once
/// this returns the earlier callback is not running and never runs again,
/// so its user data may be released (called inside that callback, the run
/// in progress finishes). `user_data` may be NULL; it must stay valid until
/// the callback is replaced, unregistered, or the node stopped.
/// NOTP_ERR_STOPPED when registering on a stopped node.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_ring_change(
    cluster: *const ClusterHandle,
    callback: RingChangeCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(cluster, callback, user_data, |c, e| c.change = e) }
}

/// Registers `callback(user_data, ring)` to run on an engine thread when
/// the node leaves its ring by notp_cluster_leave() (not by
/// notp_cluster_stop(), which unregisters first). As
/// notp_cluster_on_ring_change() otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_leave(
    cluster: *const ClusterHandle,
    callback: RingLeaveCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(cluster, callback, user_data, |c, e| c.leave = e) }
}

/// Registers `callback(user_data, ring, clock)` to run on an engine thread
/// when a concurrent ring arrives (see notp_ring_conflict_cb). As
/// notp_cluster_on_ring_change() otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_conflict(
    cluster: *const ClusterHandle,
    callback: RingConflictCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(cluster, callback, user_data, |c, e| c.conflict = e) }
}

/// Registers `callback(user_data, clock, ring)` to run on an engine thread
/// for every gossip message sent (see notp_ring_send_cb). Send events are
/// only produced while one is registered. As notp_cluster_on_ring_change()
/// otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_send(
    cluster: *const ClusterHandle,
    callback: RingSendCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    let status = unsafe { register(cluster, callback, user_data, |c, e| c.send = e) };
    if status == Status::NOTP_OK {
        // SAFETY: as above; registering found it live.
        if let Some(cluster) = unsafe { cluster.as_ref() } {
            cluster.events.subscription.want_sends(callback.is_some());
        }
    }
    status
}

/// Registers `callback(user_data)` to run on an engine thread once the
/// node is out of any ring, after its leave callback (not after
/// notp_cluster_stop(), which unregisters first). As
/// notp_cluster_on_ring_change() otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_on_close(
    cluster: *const ClusterHandle,
    callback: RingCloseCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(cluster, callback, user_data, |c, e| c.close = e) }
}

/// How many ring events this node's callbacks missed one by one since it
/// started: changes merged, and events of each other kind dropped (see
/// notp_cluster_on_ring_change()).
#[no_mangle]
pub unsafe extern "C" fn notp_cluster_event_counts(
    cluster: *const ClusterHandle,
    out: *mut CEventCounts,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let cluster = super::cluster(cluster)?;
            Ok(cluster.events.subscription.counts().into())
        })
    }
}
