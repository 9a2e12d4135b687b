//! The gossip driver: runs the [`Gossip`] state machine as the GenServer
//! named after the ring, performs its actions on the kernel, polls, flushes
//! to disk, and tells subscribers what happened ([`super::events`]).
//!
//! A ring is running until [`GossipRing::stop`] or until its kernel stops;
//! then it is stopped for good: changes are refused with
//! [`ClusterError::Stopped`], its timers end, and every subscription ends
//! after the events queued before. Reads keep answering the last state.
//!
//! A running ring may be paused ([`GossipRing::pause`]): its timers skip
//! their turns and the ring messages that arrive are dropped, as the
//! original's paused GenServer missed them, until [`GossipRing::unpause`].
//! Changes asked for meanwhile are still made and sent.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::events::{GossipEvent, GossipEvents, Subscribers};
use super::saved::SavedState;
use super::ClusterError;
use crate::gen_server::{self, GenServer};
use crate::gossip::{holders, Action, Gossip, GossipOptions, Replacement, RingMessage, Rng};
use crate::net::{Kernel, NetError};
use crate::{CHash, Error, Node, VectorClock};

struct Shared {
    kernel: Kernel,
    state: Mutex<Gossip>,
    subscribers: Subscribers,
    /// Set once, under the state lock, when the ring stops.
    stopped: AtomicBool,
    /// Set when a stop begins: the timers neither poll nor flush any more,
    /// so the state saved is the one from before leaving.
    stopping: AtomicBool,
    /// Timers skip their turns and received ring messages are dropped.
    paused: AtomicBool,
    /// Held from a flush's snapshot to its rename, so flushes land in order.
    flushing: Mutex<()>,
}

/// A node's gossip ring, driven over its kernel. Cheap to clone.
#[derive(Clone)]
pub struct GossipRing {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GossipRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GossipRing")
            .field("node", self.shared.kernel.node())
            .finish()
    }
}

impl GossipRing {
    /// A gossip ring for `kernel`'s node, alone and in no ring yet; starts
    /// its poll and flush timers on the current tokio runtime. Join a ring
    /// with [`super::ClusterNode::attach_ring`] (or [`GossipRing::join`]).
    pub fn new(kernel: &Kernel, opts: GossipOptions) -> GossipRing {
        let poll = Duration::from_millis(opts.interval.max(1));
        let flush = Duration::from_millis(opts.flush_interval.max(1));
        let ring = GossipRing {
            shared: Arc::new(Shared {
                kernel: kernel.clone(),
                state: Mutex::new(Gossip::new(kernel.node().clone(), opts, Rng::from_os())),
                subscribers: Subscribers::default(),
                stopped: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                paused: AtomicBool::new(false),
                flushing: Mutex::new(()),
            }),
        };
        let weak = Arc::downgrade(&ring.shared);
        tokio::spawn(async move {
            // First ticks one period from now, not at once.
            let now = tokio::time::Instant::now();
            let mut poll = tokio::time::interval_at(now + poll, poll);
            let mut flush = tokio::time::interval_at(now + flush, flush);
            loop {
                tokio::select! {
                    _ = poll.tick() => {
                        let Some(shared) = weak.upgrade() else { break };
                        let ring = GossipRing { shared };
                        if ring.timers_wait() { continue; }
                        if ring.act(|g| g.poll(crate::now_micros())).is_err() { break; }
                    }
                    _ = flush.tick() => {
                        let Some(shared) = weak.upgrade() else { break };
                        let ring = GossipRing { shared };
                        if ring.is_stopped() { break; }
                        if ring.timers_wait() { continue; }
                        if let Err(e) = ring.flush() {
                            tracing::warn!("cannot flush the ring: {e}");
                        }
                    }
                }
            }
        });
        ring
    }

    pub fn kernel(&self) -> &Kernel {
        &self.shared.kernel
    }

    /// A copy of the options the ring runs with.
    pub fn options(&self) -> GossipOptions {
        self.lock().options().clone()
    }

    /// A snapshot of the ring as it is now.
    pub fn ring(&self) -> CHash {
        self.lock().ring().clone()
    }

    pub fn vclock(&self) -> VectorClock {
        self.lock().clock().clone()
    }

    pub fn actor(&self) -> Option<String> {
        self.lock().actor().map(str::to_owned)
    }

    pub fn ring_id(&self) -> Option<String> {
        self.lock().ring_id().map(str::to_owned)
    }

    /// Whether the ring has stopped (by [`GossipRing::stop`], or because
    /// its kernel stopped): changes are then refused with
    /// [`ClusterError::Stopped`].
    pub fn is_stopped(&self) -> bool {
        if self.shared.stopped.load(Ordering::Acquire) {
            return true;
        }
        if self.shared.kernel.is_stopped() {
            self.halt();
            return true;
        }
        false
    }

    /// Every later event, in order, with the backlog policy of
    /// [`super::events`]. Once the ring stops the subscription ends (at
    /// once for a ring already stopped).
    pub fn subscribe(&self) -> GossipEvents {
        let capacity = self.lock().options().event_backlog;
        // A ring whose kernel stopped unnoticed ends its subscriptions now.
        self.is_stopped();
        self.shared.subscribers.add(capacity)
    }

    /// Joins ring `ring_id` and starts serving it (the GenServer named after
    /// the ring). An error if already in a ring, or if a server of that name
    /// is registered.
    pub fn join(&self, ring_id: &str) -> Result<(), ClusterError> {
        let mut g = self.running()?;
        if g.ring_id().is_none() {
            self.serve(ring_id)?;
        }
        Ok(g.join(ring_id)?)
    }

    /// Serves the ring this node already belongs to (after a restore).
    pub fn resume(&self) -> Result<(), ClusterError> {
        let g = self.running()?;
        if let Some(id) = g.ring_id() {
            self.serve(id)?;
        }
        Ok(())
    }

    pub fn meet(&self, node: &Node) -> Result<(), ClusterError> {
        self.act(|g| g.meet(node))
    }

    /// Inserts `node` with `weight` virtual nodes (`None`: the rfactor).
    pub fn insert(&self, node: &Node, weight: Option<u32>) -> Result<(), ClusterError> {
        self.try_act(|g| g.insert(node, weight))
    }

    pub fn minsert(&self, nodes: &[Node], weight: Option<u32>) -> Result<(), ClusterError> {
        self.try_act(|g| g.minsert(nodes, weight))
    }

    /// Gives `node` `weight` virtual nodes (`None`: the rfactor),
    /// inserting it when absent.
    pub fn update(&self, node: &Node, weight: Option<u32>) -> Result<(), ClusterError> {
        self.try_act(|g| g.update(node, weight))
    }

    pub fn remove(&self, node: &Node) -> Result<(), ClusterError> {
        self.act(|g| g.remove(node))
    }

    pub fn mremove(&self, nodes: &[Node]) -> Result<(), ClusterError> {
        self.act(|g| g.mremove(nodes))
    }

    /// Leaves the ring (telling two members) and stops serving it; the
    /// node goes on alone, in no ring, and may join another.
    pub fn leave(&self) -> Result<(), ClusterError> {
        self.act(Gossip::leave)
    }

    /// Sends the ring to two members now (what every poll does).
    pub fn poll(&self) -> Result<(), ClusterError> {
        self.act(|g| g.poll(crate::now_micros()))
    }

    /// The nodes holding `key` ([`holders`]): `size` distinct nodes, its
    /// owner first, then the owner's successors (`None`: pfactor + 1).
    pub fn find(&self, key: impl AsRef<[u8]>, size: Option<usize>) -> Vec<Node> {
        holders(self.lock().ring(), key.as_ref(), size)
            .into_iter()
            .cloned()
            .collect()
    }

    /// `size` distinct nodes from `key`'s position on (`rangeNext`;
    /// `None`: pfactor + 1).
    pub fn range(&self, key: impl AsRef<[u8]>, size: Option<usize>) -> Vec<Node> {
        self.lock()
            .ring()
            .range_next(key, size)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Writes `{ring, actor, chash, vclock}` to the flush path (a temporary
    /// file, then renamed), if one is set and the node has an actor. Once
    /// a stop has begun, the state it saved stays (nothing is written).
    pub fn flush(&self) -> std::io::Result<()> {
        self.write_state(false)
    }

    /// Restores the state saved at the flush path and connects to its
    /// members (as the original's `load`). A missing file is not an error;
    /// an unreadable or corrupt one is.
    pub fn load(&self) -> Result<(), ClusterError> {
        if self.is_stopped() {
            return Err(ClusterError::Stopped);
        }
        let saved = SavedState::read(&self.options(), self.shared.kernel.node())?;
        match saved {
            Some(saved) => self.restore(&saved),
            None => Ok(()),
        }
    }

    /// Takes `saved` as this node's state and connects to its members.
    pub fn restore(&self, saved: &SavedState) -> Result<(), ClusterError> {
        let value = saved.to_value();
        let me = self.shared.kernel.node().id().to_owned();
        self.try_act(|g| {
            g.load_persisted(&value)?;
            Ok(g.ring()
                .nodes()
                .into_iter()
                .filter(|n| n.id() != me)
                .cloned()
                .map(Action::Connect)
                .collect())
        })
    }

    /// Sends the ring now as an update with `n` rounds left (the original's
    /// `sendRing(n)`): to two random members, `round = n - 1`; nothing for
    /// `n = 0`, alone, or in no ring.
    pub fn send_ring(&self, n: u32) -> Result<(), ClusterError> {
        self.act(|g| g.send_ring(n))
    }

    /// Up to `n` random members other than this node (the original's
    /// `selectRandom(n)`).
    pub fn select_random(&self, n: usize) -> Vec<Node> {
        self.lock().select_random(n)
    }

    /// Replaces parts of the state at once (the original's setters; see
    /// [`Gossip::replace`]): no new version, nothing sent, no event; the
    /// connections follow the new ring, and the next poll sends it. A new
    /// ring id moves the ring's GenServer to that name (refused, with
    /// nothing changed, when the name is taken); `Some(None)` stops serving
    /// the ring without telling anyone, as if it had never joined. One
    /// step under the state lock: no message or poll sees half of it.
    pub fn replace(&self, with: Replacement) -> Result<(), ClusterError> {
        let mut g = self.running()?;
        let old_id = g.ring_id().map(str::to_owned);
        let moved = with
            .ring_id
            .as_ref()
            .filter(|new| new.as_deref() != old_id.as_deref());
        if let Some(Some(new_id)) = moved {
            self.serve(new_id)?;
        }
        let unserve = moved.and(old_id.clone());
        let actions = g.replace(with);
        let ring_id = g.ring_id().map(str::to_owned);
        self.perform(ring_id.as_deref(), actions);
        if let Some(old) = unserve {
            self.shared.kernel.unregister(&old);
        }
        drop(g);
        Ok(())
    }

    /// Stops gossiping until [`GossipRing::unpause`]: no poll, no flush, and
    /// ring messages that arrive are dropped (the original's `pause`).
    /// Changes asked for meanwhile are still made and sent.
    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Release);
    }

    /// Gossips again after [`GossipRing::pause`] (the original's `resume`).
    pub fn unpause(&self) {
        self.shared.paused.store(false, Ordering::Release);
    }

    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::Acquire)
    }

    /// Whether no streamed message to the ring's GenServer is partly
    /// received (the original's `idle()`).
    pub fn is_idle(&self) -> bool {
        let id = self.ring_id();
        id.is_none_or(|id| self.shared.kernel.streams_in_flight(&id) == 0)
    }

    /// Saves the state the node has now and stops for good, then leaves
    /// the ring: the flush file keeps the ring and ring id from before
    /// leaving (the original's timers flushed the ring until its stop), so
    /// a restart resumes them. The others are told, as by
    /// [`GossipRing::leave`]. The kernel keeps running. Stopping twice is
    /// harmless.
    pub fn stop(&self) {
        if self.is_stopped() || self.shared.stopping.swap(true, Ordering::AcqRel) {
            return;
        }
        // The timers check `stopping` first: from here on nothing but this
        // write saves the state.
        if let Err(e) = self.write_state(true) {
            tracing::warn!("cannot flush the ring: {e}");
        }
        // Refused only if the kernel stopped meanwhile: nothing to tell.
        let _ = self.leave();
        self.halt();
    }

    // ---- internals ----------------------------------------------------------

    /// The timers' turn is skipped: paused, or a stop has begun.
    fn timers_wait(&self) -> bool {
        self.shared.paused.load(Ordering::Acquire) || self.shared.stopping.load(Ordering::Acquire)
    }

    /// Writes the state to the flush path (see [`GossipRing::flush`]);
    /// only the stop's own write once a stop has begun.
    fn write_state(&self, stop: bool) -> std::io::Result<()> {
        let _order = self
            .shared
            .flushing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Checked under the flush lock: a flush that began before the stop
        // and waited here never overwrites the stop's state.
        if !stop && self.shared.stopping.load(Ordering::Acquire) {
            return Ok(());
        }
        let (path, state) = {
            let g = self.lock();
            match (&g.options().flush_path, g.actor()) {
                (Some(path), Some(_)) => (path.clone(), g.to_persisted()),
                _ => return Ok(()),
            }
        };
        // A name of our own, so two writers never interleave in one file;
        // the rename makes the new state appear whole.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".{}.{seq}.tmp", std::process::id()));
        std::fs::write(&tmp, state.to_string())?;
        std::fs::rename(&tmp, &path)
    }

    fn lock(&self) -> MutexGuard<'_, Gossip> {
        // State changes happen inside the state machine, whose methods do
        // not leave it half updated when they return early.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, locked, for a change; refused once stopped.
    fn running(&self) -> Result<MutexGuard<'_, Gossip>, ClusterError> {
        if self.is_stopped() {
            return Err(ClusterError::Stopped);
        }
        let g = self.lock();
        // Set under this lock: no change follows a stop.
        if self.shared.stopped.load(Ordering::Acquire) {
            return Err(ClusterError::Stopped);
        }
        Ok(g)
    }

    /// Marks the ring stopped and ends its subscriptions (after every event
    /// already queued).
    pub(crate) fn halt(&self) {
        {
            let _g = self.lock();
            if self.shared.stopped.swap(true, Ordering::AcqRel) {
                return;
            }
        }
        self.shared.subscribers.end();
    }

    /// Registers the ring's GenServer and feeds its messages to the state
    /// machine until the ring is left.
    fn serve(&self, ring_id: &str) -> Result<(), NetError> {
        let mut server = GenServer::start(&self.shared.kernel, ring_id)?;
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            while let Some(req) = server.recv().await {
                let Some(shared) = weak.upgrade() else { break };
                let ring = GossipRing { shared };
                if req.event != "ring" {
                    continue;
                }
                if ring.is_paused() {
                    tracing::debug!(from = %req.from.node.id, "paused: a ring message is dropped");
                    continue;
                }
                match RingMessage::from_value(&req.data.into_json()) {
                    Ok(msg) => {
                        if ring.act(|g| g.receive(&req.from.node.id, msg)).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(from = %req.from.node.id, "dropped a ring message: {e}")
                    }
                }
            }
        });
        Ok(())
    }

    /// Runs one step of the state machine and performs what it asks, with
    /// the ring id it had before the step (a leave is sent to the old ring).
    /// The state stays locked until the actions are performed, so steps
    /// taken on different threads (a poll, a message) reach the kernel and
    /// the subscribers in the order they were taken: a connect never
    /// overtakes the disconnect that preceded it. Performing never waits
    /// and never calls back into the state.
    fn act(&self, step: impl FnOnce(&mut Gossip) -> Vec<Action>) -> Result<(), ClusterError> {
        let mut g = self.running()?;
        let ring_id = g.ring_id().map(str::to_owned);
        let actions = step(&mut g);
        self.perform(ring_id.as_deref(), actions);
        drop(g);
        Ok(())
    }

    fn try_act(
        &self,
        step: impl FnOnce(&mut Gossip) -> Result<Vec<Action>, Error>,
    ) -> Result<(), ClusterError> {
        let mut failure = None;
        self.act(|g| {
            step(g).unwrap_or_else(|e| {
                failure = Some(e);
                vec![]
            })
        })?;
        failure.map_or(Ok(()), |e| Err(e.into()))
    }

    fn perform(&self, ring_id: Option<&str>, actions: Vec<Action>) {
        let kernel = &self.shared.kernel;
        let emit = |event: GossipEvent| self.shared.subscribers.emit(&event);
        for action in actions {
            match action {
                Action::Connect(node) => {
                    kernel.connect(&node);
                }
                Action::Disconnect { node, force } => kernel.disconnect(&node, force),
                Action::Send { to, message } => {
                    let Some(target) = ring_id else { continue };
                    emit(GossipEvent::Send {
                        clock: message.clock.clone(),
                        ring: message.ring.clone(),
                    });
                    // A member's connection may have been closed by an
                    // earlier change: open it again rather than drop this.
                    kernel.connect(&to);
                    gen_server::cast(kernel, &to, target, "ring", message.to_value());
                }
                Action::Changed { old, new } => emit(GossipEvent::Process { old, new }),
                Action::Conflict { ring, clock } => emit(GossipEvent::Conflict { ring, clock }),
                Action::Left { ring } => emit(GossipEvent::Leave { ring }),
                Action::Closed => {
                    if let Some(id) = ring_id {
                        kernel.unregister(id);
                    }
                    emit(GossipEvent::Close);
                }
            }
        }
    }
}
