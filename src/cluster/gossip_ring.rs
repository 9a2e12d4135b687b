//! The gossip driver: runs the [`Gossip`] state machine as the GenServer
//! named after the ring, performs its actions on the kernel, polls, flushes
//! to disk, and tells subscribers what happened.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;

use crate::gen_server::{self, GenServer};
use crate::gossip::{Action, Gossip, GossipOptions, RingMessage, Rng};
use crate::net::{Kernel, NetError};
use crate::{CHash, Error, Node, VectorClock};

/// What a gossip ring reports (the original's events).
#[derive(Debug, Clone)]
pub enum GossipEvent {
    /// Membership changed: `process(oldRing, newRing)`.
    Process { old: CHash, new: CHash },
    /// A received ring conflicted with ours: `conflict(ring, clock)`.
    Conflict { ring: CHash, clock: VectorClock },
    /// This node left its ring: `leave(ring)`.
    Leave { ring: CHash },
    /// A ring message went out: `send(clock, "ring", ring)`.
    Send { clock: VectorClock, ring: CHash },
    /// Out of any ring: `close`.
    Close,
}

struct Shared {
    kernel: Kernel,
    state: Mutex<Gossip>,
    events: broadcast::Sender<GossipEvent>,
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
    /// its poll and flush timers on the current tokio runtime.
    pub fn new(kernel: &Kernel, opts: GossipOptions) -> GossipRing {
        let poll = Duration::from_millis(opts.interval.max(1));
        let flush = Duration::from_millis(opts.flush_interval.max(1));
        let ring = GossipRing {
            shared: Arc::new(Shared {
                kernel: kernel.clone(),
                state: Mutex::new(Gossip::new(kernel.node().clone(), opts, Rng::from_os())),
                events: broadcast::channel(1024).0,
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
                        if shared.kernel.is_stopped() { break; }
                        (GossipRing { shared }).act(|g| g.poll(crate::now_micros()));
                    }
                    _ = flush.tick() => {
                        let Some(shared) = weak.upgrade() else { break };
                        if shared.kernel.is_stopped() { break; }
                        if let Err(e) = (GossipRing { shared }).flush() {
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

    /// Every later event, as it happens.
    pub fn subscribe(&self) -> broadcast::Receiver<GossipEvent> {
        self.shared.events.subscribe()
    }

    /// Joins ring `ring_id` and starts serving it (the GenServer named after
    /// the ring). An error if already in a ring.
    pub fn join(&self, ring_id: &str) -> Result<(), Error> {
        self.lock().join(ring_id)?;
        self.serve(ring_id)
            .map_err(|e| Error::invalid("ring", e.to_string()))
    }

    /// Serves the ring this node already belongs to (after a load).
    pub fn resume(&self) -> Result<(), NetError> {
        match self.ring_id() {
            Some(id) => self.serve(&id),
            None => Ok(()),
        }
    }

    pub fn meet(&self, node: &Node) {
        self.act(|g| g.meet(node));
    }

    pub fn insert(&self, node: &Node, weight: Option<u32>) -> Result<(), Error> {
        self.try_act(|g| g.insert(node, weight))
    }

    pub fn minsert(&self, nodes: &[Node], weight: Option<u32>) -> Result<(), Error> {
        self.try_act(|g| g.minsert(nodes, weight))
    }

    pub fn update(&self, node: &Node, weight: u32) -> Result<(), Error> {
        self.try_act(|g| g.update(node, weight))
    }

    pub fn remove(&self, node: &Node) {
        self.act(|g| g.remove(node));
    }

    pub fn mremove(&self, nodes: &[Node]) {
        self.act(|g| g.mremove(nodes));
    }

    /// Leaves the ring (telling two members) and stops serving it.
    pub fn leave(&self) {
        self.act(Gossip::leave);
    }

    /// Sends the ring to two members now (what every poll does).
    pub fn poll(&self) {
        self.act(|g| g.poll(crate::now_micros()));
    }

    /// The nodes owning `key`: its owner and the owner's `pfactor`
    /// successors (the original's `find`).
    pub fn find(&self, key: &str) -> Vec<Node> {
        let state = self.lock();
        let ring = state.ring();
        let Some(owner) = ring.find(key) else {
            return vec![];
        };
        let mut out = vec![owner.clone()];
        out.extend(ring.next(owner, None).into_iter().cloned());
        out
    }

    /// `size` distinct nodes from `key`'s position on (`rangeNext`).
    pub fn range(&self, key: &str, size: Option<usize>) -> Vec<Node> {
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
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".{}.{seq}.tmp", std::process::id()));
        std::fs::write(&tmp, state.to_string())?;
        std::fs::rename(&tmp, &path)
    }

    /// Restores state from the flush path. A missing file is not an error;
    /// an unreadable or corrupt one is.
    pub fn load(&self) -> Result<(), Error> {
        let Some(path) = self.lock().options().flush_path.clone() else {
            return Ok(());
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(Error::invalid(
                    "flushPath",
                    format!("cannot read {}: {e}", path.display()),
                ))
            }
        };
        let v: Value = serde_json::from_str(&text).map_err(|_| invalid_blob(&path))?;
        self.lock()
            .load_persisted(&v)
            .map_err(|_| invalid_blob(&path))
    }

    /// Stops serving the ring: leaves it, then stops listening.
    pub fn stop(&self) {
        self.leave();
    }

    // ---- internals ----------------------------------------------------------

    fn lock(&self) -> MutexGuard<'_, Gossip> {
        // State changes happen inside the state machine, whose methods do
        // not leave it half updated when they return early.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers the ring's GenServer and feeds its messages to the state
    /// machine until the ring is left.
    fn serve(&self, ring_id: &str) -> Result<(), NetError> {
        let kernel = &self.shared.kernel;
        if kernel.is_registered(ring_id) {
            return Ok(());
        }
        let mut server = GenServer::start(kernel, ring_id)?;
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            while let Some(req) = server.recv().await {
                let Some(shared) = weak.upgrade() else { break };
                let ring = GossipRing { shared };
                if req.event != "ring" {
                    continue;
                }
                match RingMessage::from_value(&req.data.into_json()) {
                    Ok(msg) => ring.act(|g| g.receive(&req.from.node.id, msg)),
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
    /// taken on different threads (a poll, a message) reach the kernel in
    /// the order they were taken: a connect never overtakes the disconnect
    /// that preceded it. Performing never waits and never calls back into
    /// the state.
    fn act(&self, step: impl FnOnce(&mut Gossip) -> Vec<Action>) {
        let mut g = self.lock();
        let ring_id = g.ring_id().map(str::to_owned);
        let actions = step(&mut g);
        self.perform(ring_id.as_deref(), actions);
        drop(g);
    }

    fn try_act(
        &self,
        step: impl FnOnce(&mut Gossip) -> Result<Vec<Action>, Error>,
    ) -> Result<(), Error> {
        let mut failure = None;
        self.act(|g| {
            step(g).unwrap_or_else(|e| {
                failure = Some(e);
                vec![]
            })
        });
        failure.map_or(Ok(()), Err)
    }

    fn perform(&self, ring_id: Option<&str>, actions: Vec<Action>) {
        let kernel = &self.shared.kernel;
        for action in actions {
            match action {
                Action::Connect(node) => {
                    kernel.connect(&node);
                }
                Action::Disconnect { node, force } => kernel.disconnect(&node, force),
                Action::Send { to, message } => {
                    let Some(target) = ring_id else { continue };
                    self.emit(GossipEvent::Send {
                        clock: message.clock.clone(),
                        ring: message.ring.clone(),
                    });
                    // A member's connection may have been closed by an
                    // earlier change: open it again rather than drop this.
                    kernel.connect(&to);
                    gen_server::cast(kernel, &to, target, "ring", message.to_value());
                }
                Action::Changed { old, new } => self.emit(GossipEvent::Process { old, new }),
                Action::Conflict { ring, clock } => {
                    self.emit(GossipEvent::Conflict { ring, clock })
                }
                Action::Left { ring } => self.emit(GossipEvent::Leave { ring }),
                Action::Closed => {
                    if let Some(id) = ring_id {
                        kernel.unregister(id);
                    }
                    self.emit(GossipEvent::Close);
                }
            }
        }
    }

    fn emit(&self, event: GossipEvent) {
        let _ = self.shared.events.send(event);
    }
}

fn invalid_blob(path: &Path) -> Error {
    Error::invalid(
        "flushPath",
        format!(
            "File at path '{}' contains invalid JSON blob.",
            path.display()
        ),
    )
}
