//! Cluster membership by gossip (PROTOCOL §5), as a pure state machine: every
//! operation and every received message returns the [`Action`]s it wants
//! performed (connect, send, announce…), and a driver performs them. No
//! sockets, no timers, so every rule is unit-tested by feeding messages.
//!
//! The reference resolves concurrent rings by whole-ring last-write-wins,
//! which loses concurrent joins: one node meeting seven at once ends with
//! rings of two, forever, and so does a chain of meets. This state machine
//! sends the same messages but reconciles differently:
//!
//! * **Concurrent rings are united, minus what was removed** (an
//!   observed-remove set): every ring version one of our nodes makes gets
//!   an actor of its own, and each node remembers which members the
//!   versions it has seen held ([`seen`]). A node of ours missing from a
//!   concurrent ring whose clock holds a version with that node was removed
//!   there; otherwise it is only not known there yet, and is kept. A node of
//!   theirs missing from ours is taken unless this node removed it (or
//!   learned of its removal: a tombstone, kept `tombstone_polls`) and the
//!   sender has not seen that removal. Descendant rings are taken as they
//!   are (their sender saw ours). So membership converges like a set CRDT
//!   and a removal concurrent with other changes stays removed.
//! * **Anti-entropy**: a node that ends up with a ring different from the
//!   one a member sent it answers that member with its ring (one update,
//!   round 0), so both sides of an exchange learn the union (push-pull).
//! * A node finishes the meets it starts: it re-sends the `join` (always
//!   merged by the receiver) every other poll until the met node is in its
//!   ring and has sent back a ring containing it, within `meet_retries`
//!   polls.
//! * A node that hears gossip from a stranger — a sender missing from its
//!   ring that still counts itself a member — inserts it again, unless it
//!   knows the stranger was removed: then it sends the stranger its ring,
//!   which lacks it, and a node that receives a ring without itself (which
//!   members never send) knows it was removed and starts over alone, ready
//!   to be met again. The original leaves such a node gossiping a stale ring
//!   forever.
//!
//! Only messages the original accepts are ever sent; mixed with original
//! nodes (which keep last-write-wins) the cluster still converges, more
//! slowly.

mod message;
mod random;
mod rules;
mod seen;
mod state;

use std::collections::HashMap;

pub use message::{Kind, RingMessage, MAX_ROUND};
pub use random::Rng;
use rules::missing_from;
pub use rules::{holders, remote_wins, rounds, rounds_for};
use seen::Seen;
pub use state::Replacement;

use crate::error::check;
use crate::{CHash, Error, Node, OptionsError, TrimOptions, VectorClock};

/// Gossip settings; the reference defaults. [`validate`](Self::validate)
/// says which values cannot work; cluster nodes refuse them at start.
#[derive(Debug, Clone)]
pub struct GossipOptions {
    /// Virtual nodes per member inserted without a weight (3). At least 1.
    pub rfactor: u32,
    /// Successors added to a key's owner by lookups (2); 0 finds the owner
    /// alone.
    pub pfactor: u32,
    /// Poll period in ms (1000). At least 1.
    pub interval: u64,
    /// Flush period in ms (1000). At least 1.
    pub flush_interval: u64,
    /// Where to persist the ring; `None` (the default) keeps it in memory.
    pub flush_path: Option<std::path::PathBuf>,
    pub trim: TrimOptions,
    /// Polls during which an unfinished meet is retried (30); 0 sends a
    /// meet once.
    pub meet_retries: u32,
    /// Polls a removal is remembered for, so that a concurrent ring still
    /// holding the node does not bring it back (600); 0 forgets at once.
    pub tombstone_polls: u32,
    /// Events each subscriber of the ring's driver may have waiting
    /// (1024, at least 1): past that, membership changes collapse and other
    /// events are dropped (see `cluster::events`).
    pub event_backlog: usize,
}

impl GossipOptions {
    /// The first option (in field order) whose value cannot work: a zero
    /// `rfactor` (a member without a virtual node owns nothing, and joining
    /// fails), a zero `interval` or `flush_interval` (a timer firing
    /// without pause).
    pub fn validate(&self) -> Result<(), OptionsError> {
        check(self.rfactor > 0, "rfactor", "must be at least 1")?;
        check(self.interval > 0, "interval", "must be at least 1 ms")?;
        check(
            self.flush_interval > 0,
            "flush_interval",
            "must be at least 1 ms",
        )
    }
}

impl Default for GossipOptions {
    fn default() -> Self {
        GossipOptions {
            rfactor: 3,
            pfactor: 2,
            interval: 1000,
            flush_interval: 1000,
            flush_path: None,
            trim: TrimOptions::default(),
            meet_retries: 30,
            tombstone_polls: 600,
            event_backlog: 1024,
        }
    }
}

/// What the state machine asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open (or keep) the connection to a node.
    Connect(Node),
    /// Close the connection to a node.
    Disconnect { node: Node, force: bool },
    /// Cast `message` to the gossip server (named after the ring) on `to`.
    Send { to: Node, message: RingMessage },
    /// Membership changed (the original's `process(oldRing, newRing)`).
    Changed { old: CHash, new: CHash },
    /// A received ring conflicted with ours (`conflict(ring, clock)`).
    Conflict { ring: CHash, clock: VectorClock },
    /// This node left; `ring` is what it told the others (`leave`).
    Left { ring: CHash },
    /// This node is out of any ring (`close`).
    Closed,
}

#[derive(Debug, Clone)]
struct Meeting {
    node: Node,
    polls_left: u32,
    /// The met node has sent us a ring that contains us.
    heard: bool,
    /// The actor of this meet's joins, reused by retries while our ring is
    /// `ring` (so retrying does not grow every clock in the cluster).
    actor: String,
    ring: CHash,
}

/// What this node knows of a removed node.
#[derive(Debug, Clone)]
struct Tombstone {
    /// Polls before the record is forgotten.
    polls_left: u32,
    /// The actor of the first ring version without the node: a sender whose
    /// clock holds it saw the removal (and a node it still has was added
    /// again since).
    removal: String,
}

/// One node's view of its ring.
#[derive(Debug, Clone)]
pub struct Gossip {
    me: Node,
    ring_id: Option<String>,
    ring: CHash,
    clock: VectorClock,
    actor: Option<String>,
    opts: GossipOptions,
    /// Nodes we were asked to meet, until the meet has taken.
    meetings: HashMap<String, Meeting>,
    /// Nodes known to be removed.
    tombstones: HashMap<String, Tombstone>,
    /// The members of the ring versions seen, by actor.
    seen: Seen,

    rng: Rng,
}

impl Gossip {
    /// A node alone in a ring of itself, in no ring yet.
    pub fn new(me: Node, opts: GossipOptions, rng: Rng) -> Gossip {
        let mut ring = CHash::new(opts.rfactor, opts.pfactor);
        // A default weight of 0 is refused by the ring; such a node simply
        // starts out of its own ring.
        let _ = ring.insert(me.clone(), None);
        Gossip {
            me,
            ring_id: None,
            ring,
            clock: VectorClock::new(),
            actor: None,
            opts,
            meetings: HashMap::new(),
            tombstones: HashMap::new(),
            seen: Seen::default(),
            rng,
        }
    }

    pub fn node(&self) -> &Node {
        &self.me
    }

    pub fn ring(&self) -> &CHash {
        &self.ring
    }

    pub fn clock(&self) -> &VectorClock {
        &self.clock
    }

    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    pub fn ring_id(&self) -> Option<&str> {
        self.ring_id.as_deref()
    }

    pub fn options(&self) -> &GossipOptions {
        &self.opts
    }

    /// Nodes this node is still meeting.
    pub fn meeting(&self) -> Vec<&Node> {
        self.meetings.values().map(|m| &m.node).collect()
    }

    /// Joins ring `ring_id`; an error if already in one.
    pub fn join(&mut self, ring_id: &str) -> Result<(), Error> {
        if let Some(current) = &self.ring_id {
            return Err(Error::invalid(
                "ring",
                format!("Node already belongs to ring '{current}'"),
            ));
        }
        self.ring_id = Some(ring_id.to_owned());
        Ok(())
    }

    /// Meets `node`: sends it a `join` with our ring, and keeps doing so on
    /// every poll until the meet has taken.
    pub fn meet(&mut self, node: &Node) -> Vec<Action> {
        if self.ring.is_defined(node.id()) || node.id() == self.me.id() || self.ring_id.is_none() {
            return vec![];
        }
        self.readd(node.id());
        let actor = self.rng.uuid_v4();
        self.seen.note(&actor, &self.ring);
        let join = self.join_message(node, actor.clone());
        self.meetings.insert(
            node.id().to_owned(),
            Meeting {
                node: node.clone(),
                polls_left: self.opts.meet_retries,
                heard: false,
                actor,
                ring: self.ring.clone(),
            },
        );
        vec![Action::Connect(node.clone()), join]
    }

    /// Inserts `node` (weight `None`: the ring's rfactor) and spreads the news.
    pub fn insert(&mut self, node: &Node, weight: Option<u32>) -> Result<Vec<Action>, Error> {
        self.minsert(std::slice::from_ref(node), weight)
    }

    /// Inserts several nodes as one change.
    pub fn minsert(&mut self, nodes: &[Node], weight: Option<u32>) -> Result<Vec<Action>, Error> {
        if nodes.iter().all(|n| self.ring.is_defined(n.id())) {
            return Ok(vec![]);
        }
        let old = self.ring.clone();
        let mut ring = self.ring.clone();
        for n in nodes {
            ring.insert(n.clone(), weight)?;
        }
        self.ring = ring;
        for n in nodes {
            self.readd(n.id());
        }
        let fresh = missing_from(&self.ring, &old);
        let mut actions: Vec<Action> = nodes.iter().map(|n| Action::Connect(n.clone())).collect();
        actions.extend(self.local_change(old));
        // The random rounds may miss some of the new members: those learn
        // the ring from us directly rather than at a later poll.
        for n in fresh.into_iter().filter(|n| n.id() != self.me.id()) {
            let told = actions
                .iter()
                .any(|a| matches!(a, Action::Send { to, .. } if to.id() == n.id()));
            if !told {
                actions.extend(self.send_to(n, 0));
            }
        }
        Ok(actions)
    }

    /// Changes `node`'s weight (inserting it if absent); `None` is the
    /// ring's rfactor, as for an insert.
    pub fn update(&mut self, node: &Node, weight: Option<u32>) -> Result<Vec<Action>, Error> {
        let old = self.ring.clone();
        let mut ring = self.ring.clone();
        ring.update(node.clone(), weight.unwrap_or(self.ring.rfactor()))?;
        self.ring = ring;
        self.readd(node.id());
        let mut actions = vec![Action::Connect(node.clone())];
        actions.extend(self.local_change(old));
        Ok(actions)
    }

    /// Removes `node` and spreads the news.
    pub fn remove(&mut self, node: &Node) -> Vec<Action> {
        self.mremove(std::slice::from_ref(node))
    }

    /// Removes several nodes as one change.
    pub fn mremove(&mut self, nodes: &[Node]) -> Vec<Action> {
        if !nodes.iter().any(|n| self.ring.is_defined(n.id())) {
            return vec![];
        }
        let old = self.ring.clone();
        for n in nodes {
            self.ring.remove(n);
            self.meetings.remove(n.id());
        }
        let mut actions: Vec<Action> = nodes
            .iter()
            .filter(|n| n.id() != self.me.id())
            .map(|n| Action::Disconnect {
                node: n.clone(),
                force: false,
            })
            .collect();
        actions.extend(self.local_change(old));
        for n in nodes {
            self.bury(n.id());
        }
        actions
    }

    /// Leaves the ring: tells two members the ring without us, then starts
    /// over alone with a fresh clock and no ring id.
    pub fn leave(&mut self) -> Vec<Action> {
        self.meetings.clear();
        self.tombstones.clear();
        if self.ring_id.is_none() {
            return vec![];
        }
        if self.ring.number_nodes() <= 1 {
            self.ring_id = None;
            return vec![
                Action::Left {
                    ring: self.ring.clone(),
                },
                Action::Closed,
            ];
        }
        let mut send_ring = self.ring.clone();
        send_ring.remove(&self.me);
        let leave_actor = self.rng.uuid_v4();
        let mut send_clock = self.clock.clone();
        send_clock.increment(&leave_actor);
        self.seen.note(&leave_actor, &send_ring);
        let mut actions: Vec<Action> = self
            .others()
            .into_iter()
            .map(|to| Action::Send {
                to,
                message: RingMessage {
                    kind: Kind::Leave,
                    actor: leave_actor.clone(),
                    ring: send_ring.clone(),
                    clock: send_clock.clone(),
                    round: rounds(&send_ring).saturating_sub(1),
                },
            })
            .collect();
        actions.push(Action::Left {
            ring: send_ring.clone(),
        });
        let actor = self.rng.uuid_v4();
        self.clock = VectorClock::with_actor(&actor, 1);
        self.ring = CHash::new(self.ring.rfactor(), self.ring.pfactor());
        let _ = self.ring.insert(self.me.clone(), None);
        self.seen.note(&actor, &self.ring);
        self.actor = Some(actor);
        self.ring_id = None;
        actions.extend(send_ring.nodes().into_iter().map(|n| Action::Disconnect {
            node: n.clone(),
            force: false,
        }));
        actions.push(Action::Closed);
        actions
    }

    /// The periodic tick: retries unfinished meets, trims the clock and
    /// sends the ring to two members (round 0).
    pub fn poll(&mut self, now_micros: u64) -> Vec<Action> {
        let mut actions = vec![];
        if self.ring_id.is_none() {
            return actions;
        }
        let mut done = vec![];
        let mut retry = vec![];
        for (id, m) in &mut self.meetings {
            if m.heard && self.ring.is_defined(id) {
                done.push(id.clone());
            } else if m.polls_left == 0 {
                tracing::warn!(node = %m.node, "giving up meeting a node that never answered");
                done.push(id.clone());
            } else {
                m.polls_left -= 1;
                // Every other poll: give the answer time to arrive.
                if m.polls_left % 2 == 0 {
                    retry.push(m.node.id().to_owned());
                }
            }
        }
        for id in done {
            self.meetings.remove(&id);
        }
        for id in retry {
            let Some(m) = self.meetings.get_mut(&id) else {
                continue;
            };
            if m.ring != self.ring {
                // An actor names one ring version: a grown ring needs a new one.
                m.actor = self.rng.uuid_v4();
                m.ring = self.ring.clone();
                self.seen.note(&m.actor, &m.ring);
            }
            let (node, actor) = (m.node.clone(), m.actor.clone());
            actions.push(Action::Connect(node.clone()));
            actions.push(self.join_message(&node, actor));
        }
        self.tombstones.retain(|_, t| {
            t.polls_left = t.polls_left.saturating_sub(1);
            t.polls_left > 0
        });
        if self.actor.is_some() {
            self.clock.trim(now_micros, &self.opts.trim);
            actions.extend(self.send_ring(1));
        }
        actions
    }

    /// Handles a ring message received from node `sender` (PROTOCOL §5).
    pub fn receive(&mut self, sender: &str, msg: RingMessage) -> Vec<Action> {
        if self.ring_id.is_none() {
            return vec![];
        }
        let mut actions = vec![];
        let old = self.ring.clone();
        let kind = msg.kind;
        if let Some(m) = self.meetings.get_mut(sender) {
            m.heard |= msg.ring.is_defined(self.me.id());
        }
        if kind == Kind::Join {
            // A node asking to join starts afresh, whatever it did before.
            self.readd(sender);
        } else if !msg.ring.is_defined(self.me.id()) {
            // Members only ever send rings that hold us: a ring without us
            // is a removal notice (see `notify_removed`).
            return self.removed();
        }
        let ours_before = self.clock.clone();
        if kind == Kind::Join {
            self.ring = self.reconcile(&msg.ring, &msg.clock, &ours_before, Some(sender));
            self.clock.merge(&msg.clock);
        } else if msg.clock.descends(&self.clock) {
            // A descendant: its sender saw our ring, so it knows better.
            for n in msg.ring.nodes() {
                if self.tombstones.contains_key(n.id()) {
                    // Added again after its removal.
                    self.readd(n.id());
                }
            }
            self.clock = msg.clock.clone();
            self.ring = msg.ring.clone();
        } else if !self.clock.descends(&msg.clock) {
            actions.push(Action::Conflict {
                ring: msg.ring.clone(),
                clock: msg.clock.clone(),
            });
            self.ring = self.reconcile(&msg.ring, &msg.clock, &ours_before, None);
            self.clock.merge(&msg.clock);
        }
        self.clock.increment(&msg.actor);
        self.seen.note(&msg.actor, &msg.ring);
        if self.ring == msg.ring {
            // Both name the same ring version.
            self.actor = Some(msg.actor.clone());
        } else if self.ring != old || self.actor.is_none() {
            // A version of our own: a fresh actor names it (fresh, so that
            // an actor never names two moments, e.g. a ring before an
            // insert and after the matching remove).
            let actor = self.rng.uuid_v4();
            self.clock.increment(&actor);
            self.seen.note(&actor, &self.ring);
            self.actor = Some(actor);
        }
        let (added, removed) = (
            missing_from(&self.ring, &old),
            missing_from(&old, &self.ring),
        );
        let me = self.me.id().to_owned();
        for n in removed.iter().filter(|n| n.id() != me) {
            self.bury(n.id());
            actions.push(Action::Disconnect {
                node: n.clone(),
                force: true,
            });
        }
        if kind == Kind::Leave {
            self.bury(sender);
        }
        actions.extend(
            added
                .iter()
                .filter(|n| n.id() != me)
                .cloned()
                .map(Action::Connect),
        );
        let new_version = self.ring != old && self.ring != msg.ring;
        if old != self.ring {
            actions.push(Action::Changed {
                old,
                new: self.ring.clone(),
            });
        }
        let round = if kind == Kind::Join {
            rounds(&self.ring)
        } else {
            msg.round
        };
        actions.extend(self.send_ring(round));
        if new_version && round == 0 {
            // A ring version of our own (a union) is news: pass it on to one
            // member at once (the sender gets it below) rather than wait for
            // the next poll.
            let others: Vec<Node> = self
                .ring
                .nodes()
                .into_iter()
                .filter(|n| n.id() != me && n.id() != sender)
                .cloned()
                .collect();
            if let Some(to) = self.rng.sample(&others, 1).pop() {
                actions.extend(self.send_to(to, 0));
            }
        }
        // Push-pull: a member whose ring differs from ours learns ours.
        let answered = actions
            .iter()
            .any(|a| matches!(a, Action::Send { to, .. } if to.id() == sender));
        if kind != Kind::Leave && sender != me && !answered && self.ring != msg.ring {
            if let Some(to) = self.ring.get(sender).cloned() {
                actions.extend(self.send_to(to, 0));
            }
        }
        // A removed node that does not know it yet: tell it.
        if kind != Kind::Leave && !self.ring.is_defined(sender) {
            if let Some(stranger) = msg.ring.get(sender).cloned() {
                if self.tombstones.contains_key(sender) {
                    actions.extend(self.notify_removed(&stranger));
                }
            }
        }
        actions
    }

    // ---- internals ----------------------------------------------------------

    /// Tells a removed node that keeps gossiping to us that it was removed:
    /// our ring, which lacks it, as a one-round update.
    fn notify_removed(&mut self, node: &Node) -> Vec<Action> {
        let Some(actor) = self.actor.clone() else {
            return vec![];
        };
        vec![
            Action::Connect(node.clone()),
            Action::Send {
                to: node.clone(),
                message: RingMessage {
                    kind: Kind::Update,
                    actor,
                    ring: self.ring.clone(),
                    clock: self.clock.clone(),
                    round: 0,
                },
            },
            Action::Disconnect {
                node: node.clone(),
                force: false,
            },
        ]
    }

    /// This node was removed from its ring by another: it starts over alone
    /// (still serving the ring id, so it can be inserted again).
    fn removed(&mut self) -> Vec<Action> {
        tracing::warn!(node = %self.me, "removed from ring {:?} by another node", self.ring_id);
        self.meetings.clear();
        self.tombstones.clear();
        let fresh = CHash::new(self.ring.rfactor(), self.ring.pfactor());
        let old = std::mem::replace(&mut self.ring, fresh);
        let _ = self.ring.insert(self.me.clone(), None);
        let actor = self.rng.uuid_v4();
        self.clock = VectorClock::with_actor(&actor, 1);
        self.seen.note(&actor, &self.ring);
        self.actor = Some(actor);
        let mut actions: Vec<Action> = old
            .nodes()
            .into_iter()
            .filter(|n| n.id() != self.me.id())
            .map(|n| Action::Disconnect {
                node: n.clone(),
                force: false,
            })
            .collect();
        actions.push(Action::Changed {
            old,
            new: self.ring.clone(),
        });
        actions
    }

    /// Remembers that `id` was removed (never this node itself), by the
    /// ring version this node now has.
    fn bury(&mut self, id: &str) {
        const MAX_TOMBSTONES: usize = 4096;
        let Some(removal) = self.actor.clone() else {
            return;
        };
        if id == self.me.id() {
            return;
        }
        if self.tombstones.len() >= MAX_TOMBSTONES && !self.tombstones.contains_key(id) {
            // Forget the record closest to expiry.
            if let Some(oldest) = self
                .tombstones
                .iter()
                .min_by_key(|(_, t)| t.polls_left)
                .map(|(k, _)| k.clone())
            {
                self.tombstones.remove(&oldest);
            }
        }
        let polls_left = self.opts.tombstone_polls.max(1);
        self.tombstones
            .entry(id.to_owned())
            .and_modify(|t| t.polls_left = polls_left)
            .or_insert(Tombstone {
                polls_left,
                removal,
            });
    }

    /// Node `id` is in again (inserted, met, or joining): its removal and
    /// the versions from before it are forgotten.
    fn readd(&mut self, id: &str) {
        if self.tombstones.remove(id).is_some() {
            self.seen.forget(id);
        }
    }

    /// Our ring reconciled with a concurrent `theirs` (clock `their_clock`;
    /// `ours_before` is our clock before merging theirs). For nodes in both,
    /// the weights of the ring with the latest insert win (the reference's
    /// rule). `joining`: the sender of a join, always taken.
    fn reconcile(
        &self,
        theirs: &CHash,
        their_clock: &VectorClock,
        ours_before: &VectorClock,
        joining: Option<&str>,
    ) -> CHash {
        let theirs_newer = remote_wins(ours_before, their_clock);
        let mut ring = if theirs_newer {
            theirs.clone()
        } else {
            self.ring.clone()
        };
        let me = self.me.id();
        // Ours, missing there: removed there if a version with it was seen.
        for n in missing_from(&self.ring, theirs) {
            let keep = n.id() == me || !self.seen.saw(their_clock, n.id());
            if theirs_newer && keep {
                let weight = self.ring.weight(n.id()).filter(|w| *w > 0);
                if ring.insert(n.clone(), weight).is_err() {
                    tracing::debug!(node = %n, "cannot keep a node in the ring");
                }
            } else if !theirs_newer && !keep {
                ring.remove(&n);
            }
        }
        // Theirs, missing here: new to us, unless we removed it and they
        // have not seen the removal.
        for n in missing_from(theirs, &self.ring) {
            let take = Some(n.id()) == joining
                || match self.tombstones.get(n.id()) {
                    Some(t) => their_clock.has(&t.removal),
                    None => !self.seen.saw(ours_before, n.id()),
                };
            if !theirs_newer && take {
                let weight = theirs.weight(n.id()).filter(|w| *w > 0);
                if ring.insert(n.clone(), weight).is_err() {
                    tracing::debug!(node = %n, "cannot take a node into the ring");
                }
            } else if theirs_newer && !take {
                ring.remove(&n);
            }
        }
        ring
    }

    /// A local change: a fresh actor, counted in the clock, sent for
    /// `rounds(ring)` rounds, and announced.
    fn local_change(&mut self, old: CHash) -> Vec<Action> {
        let actor = self.rng.uuid_v4();
        self.clock.increment(&actor);
        self.seen.note(&actor, &self.ring);
        self.actor = Some(actor);
        let mut actions = self.send_ring(rounds(&self.ring));
        if old.nodes() != self.ring.nodes() || old.weights() != self.ring.weights() {
            actions.push(Action::Changed {
                old,
                new: self.ring.clone(),
            });
        }
        actions
    }

    fn join_message(&self, to: &Node, actor: String) -> Action {
        Action::Send {
            to: to.clone(),
            message: RingMessage {
                kind: Kind::Join,
                actor,
                ring: self.ring.clone(),
                clock: self.clock.clone(),
                round: 0,
            },
        }
    }

    /// Up to `n` random members other than this node (the original's
    /// `selectRandom`).
    pub fn select_random(&mut self, n: usize) -> Vec<Node> {
        let me = self.me.id().to_owned();
        let others: Vec<Node> = self
            .ring
            .nodes()
            .into_iter()
            .filter(|n| n.id() != me)
            .cloned()
            .collect();
        self.rng.sample(&others, n)
    }

    /// Two random members other than this node.
    fn others(&mut self) -> Vec<Node> {
        self.select_random(2)
    }

    /// Sends the ring as an update with `n` rounds left (the original's
    /// `sendRing`): to two random members with `round = n - 1`; nothing
    /// when `n` is 0, when alone, in no ring or without an actor. `n` is
    /// capped at [`MAX_ROUND`], the most a receiver forwards.
    pub fn send_ring(&mut self, n: u32) -> Vec<Action> {
        let n = n.min(MAX_ROUND);
        if n == 0 || self.ring.number_nodes() <= 1 {
            return vec![];
        }
        let targets = self.others();
        targets
            .into_iter()
            .flat_map(|to| self.send_to(to, n - 1))
            .collect()
    }

    /// Our ring, as an update with `round` rounds left after this one, to
    /// one member.
    fn send_to(&self, to: Node, round: u32) -> Option<Action> {
        let actor = self.actor.clone()?;
        self.ring_id.as_ref()?;
        Some(Action::Send {
            to,
            message: RingMessage {
                kind: Kind::Update,
                actor,
                ring: self.ring.clone(),
                clock: self.clock.clone(),
                round,
            },
        })
    }
}

#[cfg(test)]
mod tests;
