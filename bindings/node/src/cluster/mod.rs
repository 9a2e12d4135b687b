//! The gossip door: an engine [`ClusterNode`] (a gossip ring and, for a
//! cluster node, the command server) per JavaScript `GossipRing`, attached
//! to the engine kernel of an already started JavaScript `NetKernel` by the
//! engine's one start sequence ([`ClusterNode::attach_ring`]).
//!
//! The ring's events wait in the engine's subscription, with its one
//! backlog policy (`notp::cluster::events`: changes collapse, nothing
//! blocks gossip, the last ring is never lost), until JavaScript takes
//! them: a task announces waiting events through a session of their own
//! ([`crate::session`]) with one `PENDING` wake-up, and JavaScript answers
//! by taking every waiting event at once ([`NativeGossip::take_events`]),
//! encoded as JSON text (rings and clocks as JSON text). A busy JavaScript
//! thread thus never makes this door hold more than the engine's backlog.
//! The session is referenced while the ring is attached and closed when
//! JavaScript detaches it (after `stop`, or when its kernel stops), so a
//! stopped node leaves nothing that keeps Node alive.
//!
//! Reads (`ring`, `vclock`, …) copy the engine's state under its lock: a
//! fresh snapshot per call, never a round trip through a task. Setters
//! hand the engine a replacement, taken in one step
//! ([`GossipRing::replace`]).
//!
//! The command server is served by the engine under the name JavaScript's
//! `CommandServer.start(name)` gives, on this ring; its methods run
//! commands through the engine's dispatcher ([`NativeGossip::run_command`]).
//! The protocol's rules for the statics live in [`rules`].

mod rules;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use napi::bindgen_prelude::{Env, Function, Uint8ArraySlice};
use napi::JsValue;
use napi_derive::napi;
use notp::cluster::{
    command, Attach, ClusterError, ClusterNode, GossipEvent, GossipEvents, GossipRing, Replacement,
    Restore, SavedState,
};
use notp::gossip::GossipOptions;
use notp::wire::js_json;
use notp::{CHash, Node, TrimOptions, VectorClock};
use tokio::sync::Notify;

use crate::convert::{invalid_arg, to_bound};
use crate::event::Event;
use crate::ring::NodeFields;
use crate::runtime::runtime;
use crate::session::{running_kernel, Session};

use crate::codes::gossip_event as kind;

/// Gossip options as the JavaScript layer passes them (defaults filled in
/// there, from `consts.gossipOpts`).
#[napi(object)]
pub struct GossipSettings {
    pub rfactor: u32,
    pub pfactor: u32,
    /// ms between gossip polls.
    pub interval: f64,
    /// ms between flushes to `flush_path`.
    pub flush_interval: f64,
    /// Absent: the ring is kept in memory only.
    pub flush_path: Option<String>,
    pub lower_bound: f64,
    pub young_bound: f64,
    pub upper_bound: f64,
    pub old_bound: f64,
    /// Polls an unfinished meet is retried for (engine default if absent).
    pub meet_retries: Option<u32>,
    /// Polls a removal is remembered for (engine default if absent).
    pub tombstone_polls: Option<u32>,
    /// Events waiting for JavaScript before changes collapse and other
    /// events are dropped (engine default if absent).
    pub event_backlog: Option<u32>,
}

impl GossipSettings {
    fn to_options(&self) -> napi::Result<GossipOptions> {
        let size = |name, v| to_bound(name, v).map(|n| usize::try_from(n).unwrap_or(usize::MAX));
        let defaults = GossipOptions::default();
        Ok(GossipOptions {
            rfactor: self.rfactor,
            pfactor: self.pfactor,
            interval: to_bound("interval", self.interval)?,
            flush_interval: to_bound("flushInterval", self.flush_interval)?,
            flush_path: self.flush_path.as_ref().map(PathBuf::from),
            trim: TrimOptions {
                lower_bound: size("lowerBound", self.lower_bound)?,
                young_bound: to_bound("youngBound", self.young_bound)?,
                upper_bound: size("upperBound", self.upper_bound)?,
                old_bound: to_bound("oldBound", self.old_bound)?,
            },
            meet_retries: self.meet_retries.unwrap_or(defaults.meet_retries),
            tombstone_polls: self.tombstone_polls.unwrap_or(defaults.tombstone_polls),
            event_backlog: self
                .event_backlog
                .map_or(defaults.event_backlog, |n| n as usize),
        })
    }
}

/// Where a started kernel listens (its `self()` after `_ready`).
#[napi(object)]
pub struct KernelAddress {
    pub id: String,
    pub host: String,
    pub port: u32,
}

/// State read from a flush file (`{ring, actor, chash, vclock}`), rings and
/// clocks as JSON text.
#[napi(object)]
pub struct SavedRing {
    pub ring_id: Option<String>,
    pub actor: Option<String>,
    pub chash: String,
    pub vclock: String,
}

/// A state for a starting ring (see [`NativeGossip::start`]), rings and
/// clocks as JSON text.
#[napi(object)]
pub struct SeedState {
    pub chash: String,
    pub vclock: String,
    pub actor: Option<String>,
    pub ring_id: Option<String>,
    /// A state saved at the flush path wins over this one (this one is
    /// only the ring's initial state, from its constructor).
    pub saved_first: bool,
}

impl SeedState {
    fn to_saved(&self) -> napi::Result<SavedState> {
        Ok(SavedState {
            ring_id: self.ring_id.clone(),
            actor: self.actor.clone(),
            ring: CHash::from_json(&self.chash).map_err(crate::convert::engine_error)?,
            clock: VectorClock::from_json(&self.vclock).map_err(crate::convert::engine_error)?,
        })
    }
}

/// Parts of the state to replace on a running ring (the setters); absent
/// parts stay.
#[napi(object)]
pub struct StateParts {
    pub chash: Option<String>,
    pub vclock: Option<String>,
    pub actor: Option<String>,
    /// Replace the ring id with `ring_id` (absent: leave the ring id unset).
    pub set_ring_id: bool,
    pub ring_id: Option<String>,
}

struct Attached {
    node: ClusterNode,
    events: Arc<GossipEvents>,
    session: Arc<Session>,
    /// Signalled when JavaScript took the events a wake-up announced.
    taken: Arc<Notify>,
    /// The end of the events (`STOP`) went to JavaScript.
    stop_told: bool,
    /// Names the command server is served under on this ring.
    commands: Vec<String>,
}

/// Owns one gossip ring: attached to a kernel between `start` and
/// `detach`; dropping it detaches.
#[napi]
pub struct NativeGossip {
    opts: GossipOptions,
    attached: Option<Attached>,
}

fn make_node(id: String, host: String, port: u32) -> napi::Result<Node> {
    let port = u16::try_from(port).map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
    Ok(Node::new(id, host, port))
}

fn make_nodes(nodes: Vec<NodeFields>) -> napi::Result<Vec<Node>> {
    nodes
        .into_iter()
        .map(|n| make_node(n.id, n.host, n.port))
        .collect()
}

fn fields(nodes: Vec<Node>) -> Vec<NodeFields> {
    nodes.iter().map(NodeFields::from).collect()
}

/// An engine refusal as the original words it (an argument error's reason
/// alone).
fn refusal(e: ClusterError) -> napi::Error {
    match e {
        ClusterError::State(notp::Error::InvalidArgument { reason, .. }) => {
            napi::Error::from_reason(reason)
        }
        ClusterError::State(other) => crate::convert::engine_error(other),
        other => napi::Error::from_reason(other.to_string()),
    }
}

fn not_started() -> napi::Error {
    napi::Error::from_reason("the gossip ring is not started")
}

/// Encodes one event for `lib/gossip_ring.js`: `kind,field,…`.
fn encode(event: GossipEvent, out: &mut String) {
    let mut fields = String::new();
    let mut text = |s: &str| {
        fields.push(',');
        js_json::write_str(&mut fields, s);
    };
    let k = match event {
        GossipEvent::Process { old, new } => {
            text(&old.to_json());
            text(&new.to_json());
            kind::PROCESS
        }
        GossipEvent::Conflict { ring, clock } => {
            text(&ring.to_json());
            text(&clock.to_json());
            kind::CONFLICT
        }
        GossipEvent::Leave { ring } => {
            text(&ring.to_json());
            kind::LEAVE
        }
        GossipEvent::Send { clock, ring } => {
            text(&clock.to_json());
            text(&ring.to_json());
            kind::SEND
        }
        GossipEvent::Close => kind::CLOSE,
    };
    if out.len() > 1 {
        out.push(',');
    }
    let _ = write!(out, "{k}");
    out.push_str(&fields);
}

impl NativeGossip {
    fn attached(&self) -> napi::Result<&Attached> {
        self.attached.as_ref().ok_or_else(not_started)
    }

    fn gossip(&self) -> napi::Result<&GossipRing> {
        Ok(self.attached()?.node.gossip())
    }

    /// A lookup of `key` with a JavaScript size (negative: the default).
    fn lookup(
        &self,
        key: &[u8],
        size: f64,
        query: fn(&GossipRing, &[u8], Option<usize>) -> Vec<Node>,
    ) -> napi::Result<Vec<NodeFields>> {
        let size = crate::ring::range_of(size);
        Ok(fields(query(self.gossip()?, key, size)))
    }

    /// Runs a change of the ring inside the engine runtime (the ring may
    /// spawn tasks, e.g. when joining starts serving the ring).
    fn change(&self, f: impl FnOnce(&GossipRing) -> Result<(), ClusterError>) -> napi::Result<()> {
        let gossip = self.gossip()?;
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let _context = rt.enter();
        f(gossip).map_err(refusal)
    }
}

#[napi]
impl NativeGossip {
    #[napi(constructor, catch_unwind)]
    pub fn new(settings: GossipSettings) -> napi::Result<Self> {
        let opts = settings.to_options()?;
        opts.validate()
            .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e.to_string()))?;
        Ok(NativeGossip {
            opts,
            attached: None,
        })
    }

    /// Attaches the ring to the running kernel at `kernel` with the
    /// engine's start sequence: restores a state (a saved ring with
    /// another id is an error), resumes it or joins ring `ring_id`.
    /// Without `seed`, the state saved at the flush path, if any; with one,
    /// `seed` (JavaScript's loaded or set state), or with
    /// `seed.saved_first` the saved state when there is one, else `seed`.
    /// `dispatch(text)` then receives the wake-ups of the ring's events.
    /// The command server is JavaScript's to start ([`Self::serve_commands`]).
    #[napi(catch_unwind)]
    pub fn start(
        &mut self,
        env: Env,
        kernel: KernelAddress,
        ring_id: String,
        seed: Option<SeedState>,
        dispatch: Function<'_>,
    ) -> napi::Result<()> {
        if self.attached.is_some() {
            return Err(napi::Error::from_reason(
                "the gossip ring is already started",
            ));
        }
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let port = u16::try_from(kernel.port)
            .map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
        let engine = running_kernel(&kernel.id, &kernel.host, port)
            .ok_or_else(|| napi::Error::from_reason("the kernel is not running"))?;
        let restore = match seed {
            None => Restore::FromFlushPath,
            Some(seed) => {
                let saved = if seed.saved_first {
                    SavedState::read(&self.opts, engine.node()).map_err(|e| refusal(e.into()))?
                } else {
                    None
                };
                Restore::Read(Some(match saved {
                    Some(saved) => saved,
                    None => seed.to_saved()?,
                }))
            }
        };
        let _context = rt.enter();
        let gossip = GossipRing::new(&engine, self.opts.clone());
        // Before anything can happen: JavaScript may listen already.
        let events = Arc::new(gossip.subscribe());
        events.want_sends(false);
        let how = Attach {
            command_server: false,
            restore,
        };
        let node = ClusterNode::attach_ring(gossip, &ring_id, how).map_err(refusal)?;
        let session = Arc::new(Session::default());
        // SAFETY: `env` is the environment of this call and `dispatch` one
        // of its arguments.
        if let Err(e) = unsafe { session.attach(env.raw(), dispatch.raw()) } {
            node.detach();
            return Err(napi::Error::from_reason(e));
        }
        let taken = Arc::new(Notify::new());
        let (waiting, wake, took) = (events.clone(), session.clone(), taken.clone());
        let task = rt.spawn(async move {
            loop {
                waiting.ready().await;
                wake.push(Event::Encoded(kind::PENDING.to_string()));
                if waiting.is_over() {
                    break;
                }
                took.notified().await;
            }
        });
        session.add_task(task.abort_handle());
        self.attached = Some(Attached {
            node,
            events,
            session,
            taken,
            stop_told: false,
            commands: Vec::new(),
        });
        Ok(())
    }

    /// Whether the ring is attached to a kernel.
    #[napi(getter, catch_unwind)]
    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }

    /// Every event waiting, as one batch of `kind,field,…` in a JSON
    /// array, `STOP` last once the ring has stopped; `null` when nothing
    /// waits.
    #[napi(catch_unwind)]
    pub fn take_events(&mut self) -> Option<String> {
        let attached = self.attached.as_mut()?;
        let mut out = String::from("[");
        while let Some(event) = attached.events.try_recv() {
            encode(event, &mut out);
        }
        if attached.events.is_over() && !attached.stop_told {
            attached.stop_told = true;
            if out.len() > 1 {
                out.push(',');
            }
            let _ = write!(out, "{}", kind::STOP);
        }
        attached.taken.notify_one();
        (out.len() > 1).then(|| out + "]")
    }

    /// Forward `send` events (only while JavaScript listens for them).
    #[napi(catch_unwind)]
    pub fn set_send_events(&self, on: bool) {
        if let Some(a) = &self.attached {
            a.events.want_sends(on);
        }
    }

    /// Stops the command servers, then the ring as the engine does
    /// ([`ClusterNode::detach`]: saves the ring it has, stops for good,
    /// leaves); with
    /// `stop_kernel` also stops the engine kernel ([`ClusterNode::stop`]).
    /// The ring's last events follow (`leave` and `close` when it was in a
    /// ring), then `STOP`.
    #[napi(catch_unwind)]
    pub fn stop(&mut self, stop_kernel: bool) -> napi::Result<()> {
        self.stop_commands(None)?;
        let node = &self.attached()?.node;
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let _context = rt.enter();
        if stop_kernel {
            node.stop();
        } else {
            node.detach();
        }
        Ok(())
    }

    /// Ends the event session (nothing keeps Node alive for this ring any
    /// more) and lets go of the engine ring.
    #[napi(catch_unwind)]
    pub fn detach(&mut self) {
        if let Some(attached) = self.attached.take() {
            attached.session.close();
        }
    }

    /// The ring as JSON text (a fresh copy of the live ring).
    #[napi(catch_unwind)]
    pub fn ring(&self) -> napi::Result<String> {
        Ok(self.gossip()?.ring().to_json())
    }

    /// The vector clock as JSON text.
    #[napi(catch_unwind)]
    pub fn vclock(&self) -> napi::Result<String> {
        Ok(self.gossip()?.vclock().to_json())
    }

    #[napi(catch_unwind)]
    pub fn actor(&self) -> napi::Result<Option<String>> {
        Ok(self.gossip()?.actor())
    }

    #[napi(catch_unwind)]
    pub fn ring_id(&self) -> napi::Result<Option<String>> {
        Ok(self.gossip()?.ring_id())
    }

    /// Joins ring `ring_id`; an error when already in one.
    #[napi(catch_unwind)]
    pub fn join(&self, ring_id: String) -> napi::Result<()> {
        self.change(|g| g.join(&ring_id))
    }

    #[napi(catch_unwind)]
    pub fn meet(&self, id: String, host: String, port: u32) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.change(|g| g.meet(&node))
    }

    /// Inserts a node; no weight: the ring's rfactor.
    #[napi(catch_unwind)]
    pub fn insert(
        &self,
        id: String,
        host: String,
        port: u32,
        weight: Option<u32>,
    ) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.change(|g| g.insert(&node, weight))
    }

    #[napi(catch_unwind)]
    pub fn minsert(&self, nodes: Vec<NodeFields>, weight: Option<u32>) -> napi::Result<()> {
        let nodes = make_nodes(nodes)?;
        self.change(|g| g.minsert(&nodes, weight))
    }

    /// Changes a node's weight; no weight: the ring's rfactor.
    #[napi(catch_unwind)]
    pub fn update(
        &self,
        id: String,
        host: String,
        port: u32,
        weight: Option<u32>,
    ) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.change(|g| g.update(&node, weight))
    }

    #[napi(catch_unwind)]
    pub fn remove(&self, id: String, host: String, port: u32) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.change(|g| g.remove(&node))
    }

    #[napi(catch_unwind)]
    pub fn mremove(&self, nodes: Vec<NodeFields>) -> napi::Result<()> {
        let nodes = make_nodes(nodes)?;
        self.change(|g| g.mremove(&nodes))
    }

    /// Leaves the ring (the node stays attached, alone, and may join again).
    #[napi(catch_unwind)]
    pub fn leave(&self) -> napi::Result<()> {
        self.change(GossipRing::leave)
    }

    #[napi(catch_unwind)]
    pub fn poll(&self) -> napi::Result<()> {
        self.change(GossipRing::poll)
    }

    /// `size` nodes holding `key`, its owner first (negative: pfactor + 1).
    #[napi(catch_unwind)]
    pub fn find(&self, key: String, size: f64) -> napi::Result<Vec<NodeFields>> {
        self.lookup(key.as_bytes(), size, |g, k, n| g.find(k, n))
    }

    /// `find` for a key given as bytes.
    #[napi(catch_unwind)]
    pub fn find_bytes(&self, key: Uint8ArraySlice, size: f64) -> napi::Result<Vec<NodeFields>> {
        self.lookup(key.as_ref(), size, |g, k, n| g.find(k, n))
    }

    /// `size` distinct nodes from `key`'s position on; negative: the
    /// ring's default.
    #[napi(catch_unwind)]
    pub fn range(&self, key: String, size: f64) -> napi::Result<Vec<NodeFields>> {
        self.lookup(key.as_bytes(), size, |g, k, n| g.range(k, n))
    }

    /// `range` for a key given as bytes.
    #[napi(catch_unwind)]
    pub fn range_bytes(&self, key: Uint8ArraySlice, size: f64) -> napi::Result<Vec<NodeFields>> {
        self.lookup(key.as_ref(), size, |g, k, n| g.range(k, n))
    }

    /// Writes the state to the flush path now (nothing without one).
    #[napi(catch_unwind)]
    pub fn flush(&self) -> napi::Result<()> {
        let path = self.opts.flush_path.clone();
        self.gossip()?.flush().map_err(|e| {
            let path = path.as_deref().unwrap_or(Path::new("")).display();
            napi::Error::from_reason(format!("cannot flush the ring to '{path}': {e}"))
        })
    }

    /// Restores the state saved at the flush path and connects to its
    /// members (a missing file is not an error; a corrupt one is).
    #[napi(catch_unwind)]
    pub fn load(&self) -> napi::Result<()> {
        self.change(GossipRing::load)
    }

    /// Reads the state saved at the flush path without a kernel (a ring
    /// loaded before its node starts), for node `me`; JavaScript hands it
    /// back to `start` as its seed, so the file is read once. `null` when
    /// there is no flush path or no file.
    #[napi(catch_unwind)]
    pub fn read_saved(&self, me: KernelAddress) -> napi::Result<Option<SavedRing>> {
        let me = make_node(me.id, me.host, me.port)?;
        let saved = SavedState::read(&self.opts, &me).map_err(|e| refusal(e.into()))?;
        let answer = saved.as_ref().map(|s| SavedRing {
            ring_id: s.ring_id.clone(),
            actor: s.actor.clone(),
            chash: s.ring.to_json(),
            vclock: s.clock.to_json(),
        });
        Ok(answer)
    }

    /// Replaces parts of the running ring's state at once (the setters;
    /// see [`GossipRing::replace`]).
    #[napi(catch_unwind)]
    pub fn replace(&self, parts: StateParts) -> napi::Result<()> {
        let engine = crate::convert::engine_error;
        let with = Replacement {
            ring: parts
                .chash
                .as_deref()
                .map(CHash::from_json)
                .transpose()
                .map_err(engine)?,
            clock: parts
                .vclock
                .as_deref()
                .map(VectorClock::from_json)
                .transpose()
                .map_err(engine)?,
            actor: parts.actor,
            ring_id: parts.set_ring_id.then_some(parts.ring_id),
        };
        self.change(|g| g.replace(with))
    }

    /// Sends the ring now with `n` rounds left (`sendRing`).
    #[napi(catch_unwind)]
    pub fn send_ring(&self, n: u32) -> napi::Result<()> {
        self.change(|g| g.send_ring(n))
    }

    /// Stops polling, flushing and taking ring messages until `resume`.
    #[napi(catch_unwind)]
    pub fn pause(&self) -> napi::Result<()> {
        self.gossip()?.pause();
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn resume(&self) -> napi::Result<()> {
        self.gossip()?.unpause();
        Ok(())
    }

    /// Whether no stream to the ring's server is partly received.
    #[napi(catch_unwind)]
    pub fn is_idle(&self) -> napi::Result<bool> {
        Ok(self.gossip()?.is_idle())
    }

    /// Serves the command server under `name` on this ring; an error when
    /// the name is taken on the kernel.
    #[napi(catch_unwind)]
    pub fn serve_commands(&mut self, name: String) -> napi::Result<()> {
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let attached = self.attached.as_mut().ok_or_else(not_started)?;
        if attached.commands.contains(&name) {
            return Ok(());
        }
        let _context = rt.enter();
        let node = &attached.node;
        command::spawn_named(node.kernel(), node.gossip(), &name).map_err(|_| {
            napi::Error::from_reason(format!("Kernel already has listener at id '{name}'"))
        })?;
        attached.commands.push(name);
        Ok(())
    }

    /// Stops serving the command server under `name` (every name: `null`).
    #[napi(catch_unwind)]
    pub fn stop_commands(&mut self, name: Option<String>) -> napi::Result<()> {
        let Some(attached) = self.attached.as_mut() else {
            return Ok(());
        };
        let kernel = attached.node.kernel().clone();
        attached.commands.retain(|served| {
            let stop = name.as_deref().is_none_or(|n| n == served);
            if stop {
                kernel.unregister(served);
            }
            !stop
        });
        Ok(())
    }

    /// Runs command `event` with arguments `args` (JSON text) through the
    /// engine's command dispatcher; the answer the CLI would get, as JSON
    /// text.
    #[napi(catch_unwind)]
    pub fn run_command(&self, event: String, args: String) -> napi::Result<String> {
        let gossip = self.gossip()?;
        let args: serde_json::Value = serde_json::from_str(&args)
            .map_err(|e| napi::Error::from_reason(format!("the arguments are not JSON: {e}")))?;
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let _context = rt.enter();
        Ok(command::answer(command::execute(gossip, &event, &args)).to_string())
    }
}

impl Drop for NativeGossip {
    fn drop(&mut self) {
        self.detach();
    }
}
