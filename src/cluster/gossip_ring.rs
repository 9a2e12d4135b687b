//! The gossip driver: runs the [`Gossip`] state machine as the GenServer
//! named after the ring, performs its actions on the kernel, polls, flushes
//! to disk, and tells subscribers what happened ([`super::events`]).
//!
//! A ring is running until [`GossipRing::stop`] or until its kernel stops;
//! then it is stopped for good: changes are refused with
//! [`ClusterError::Stopped`], its timers end, and every subscription ends
//! after the events queued before. Reads keep answering the last state.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::events::{GossipEvent, GossipEvents, Subscribers};
use super::saved::SavedState;
use super::ClusterError;
use crate::gen_server::{self, GenServer};
use crate::gossip::{Action, Gossip, GossipOptions, RingMessage, Rng};
use crate::net::{Kernel, NetError};
use crate::{CHash, Error, Node, VectorClock};

struct Shared {
    kernel: Kernel,
    state: Mutex<Gossip>,
    subscribers: Subscribers,
    /// Set once, under the state lock, when the ring stops.
    stopped: AtomicBool,
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

/// The nodes that hold `key` in `ring`: its owner, then the owner's `size`
/// successors (`None`: the ring's pfactor), as the original's `find(key,
/// size)`.
pub fn holders<'a>(ring: &'a CHash, key: &[u8], size: Option<usize>) -> Vec<&'a Node> {
    let Some(owner) = ring.find(key) else {
        return vec![];
    };
    let mut out = vec![owner];
    out.extend(ring.next(owner, size));
    out
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
                        if ring.act(|g| g.poll(crate::now_micros())).is_err() { break; }
                    }
                    _ = flush.tick() => {
                        let Some(shared) = weak.upgrade() else { break };
                        let ring = GossipRing { shared };
                        if ring.is_stopped() { break; }
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

    /// The nodes holding `key` ([`holders`]): its owner and the owner's
    /// `size` successors (`None`: pfactor).
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
    /// file, then renamed), if one is set and the node has an actor.
    pub fn flush(&self) -> std::io::Result<()> {
        let _order = self
            .shared
            .flushing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
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

    /// Leaves the ring (as the original's stop does), saves the state that
    /// leaves behind (a clean stop is not a crash: a restart starts over
    /// rather than resuming a ring that was told this node left), and stops
    /// for good. The kernel keeps running. Stopping twice is harmless.
    pub fn stop(&self) {
        if self.is_stopped() {
            return;
        }
        // Refused only if the kernel stopped meanwhile: nothing to tell.
        let _ = self.leave();
        if let Err(e) = self.flush() {
            tracing::warn!("cannot flush the ring: {e}");
        }
        self.halt();
    }

    // ---- internals ----------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_is_the_owner_and_size_successors() {
        let mut ring = CHash::new(3, 2);
        for i in 0..5 {
            ring.insert(Node::new(format!("n{i}"), "h", i + 1), None)
                .unwrap();
        }
        let owner = ring.find("user:1").unwrap().clone();
        let ids = |nodes: Vec<&Node>| -> Vec<String> {
            nodes.iter().map(|n| n.id().to_owned()).collect()
        };
        let by_default = holders(&ring, b"user:1", None);
        assert_eq!(by_default.len(), 3, "owner + pfactor");
        assert_eq!(by_default[0], &owner);
        assert_eq!(ids(by_default[1..].to_vec()), ids(ring.next(&owner, None)));
        assert_eq!(ids(holders(&ring, b"user:1", Some(0))), [owner.id()]);
        let four = holders(&ring, b"user:1", Some(4));
        assert_eq!(four.len(), 5, "owner + 4");
        assert_eq!(ids(four[1..].to_vec()), ids(ring.next(&owner, Some(4))));
        assert_eq!(
            holders(&ring, b"user:1", Some(99)).len(),
            5,
            "at most every node"
        );
        assert!(holders(&CHash::new(3, 2), b"user:1", None).is_empty());
    }
}
