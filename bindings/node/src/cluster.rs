//! The gossip door: a [`notp::cluster::GossipRing`] (and, for a cluster
//! node, the command server) per JavaScript `GossipRing`, built on the
//! engine kernel of an already started JavaScript `NetKernel`.
//!
//! The ring's events travel to JavaScript through a session of their own
//! ([`crate::outbox`]): a forwarding task encodes each [`GossipEvent`] on
//! an engine thread (rings and clocks as JSON text) and queues it; the
//! session's thread-safe function delivers the batches on the JavaScript
//! thread. The session is referenced while the ring is attached and closed
//! when JavaScript detaches it (after `stop`, or when its kernel stops), so
//! a stopped node leaves nothing that keeps Node alive.
//!
//! Reads (`ring`, `vclock`, …) copy the engine's state under its lock: a
//! fresh snapshot per call, never a round trip through a task.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{Env, Function};
use napi::JsValue;
use napi_derive::napi;
use notp::cluster::{command, GossipEvent, GossipRing};
use notp::gossip::{Gossip, GossipOptions, Rng};
use notp::net::Kernel;
use notp::wire::js_json;
use notp::{Node, TrimOptions};
use tokio::sync::broadcast::error::RecvError;

use crate::outbox::{running_kernel, Event, Session};
use crate::ring::NodeFields;
use crate::runtime::runtime;
use crate::{invalid_arg, to_bound};

/// Event kinds as `lib/gossip_ring.js` reads them.
mod kind {
    pub const PROCESS: u8 = 0;
    pub const CONFLICT: u8 = 1;
    pub const LEAVE: u8 = 2;
    pub const SEND: u8 = 3;
    pub const CLOSE: u8 = 4;
}

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
pub struct SavedState {
    pub ring_id: Option<String>,
    pub actor: Option<String>,
    pub chash: String,
    pub vclock: String,
}

struct Attached {
    /// Dropped once the ring has been left, so its timers end.
    gossip: Option<GossipRing>,
    kernel: Kernel,
    session: Arc<Session>,
    /// Whether JavaScript listens for `send` (forwarding every gossip
    /// message's ring costs a copy per poll).
    wants_send: Arc<AtomicBool>,
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

/// An engine refusal as the original words it (the reason alone).
fn refusal(e: notp::Error) -> napi::Error {
    match e {
        notp::Error::InvalidArgument { reason, .. } => napi::Error::from_reason(reason),
        other => crate::engine_error(other),
    }
}

fn net_error(e: notp::net::NetError) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

fn not_started() -> napi::Error {
    napi::Error::from_reason("the gossip ring is not started")
}

/// The original's message for a flush file that is not a saved ring.
fn invalid_blob(path: &Path) -> napi::Error {
    napi::Error::from_reason(format!(
        "File at path '{}' contains invalid JSON blob.",
        path.display()
    ))
}

/// Encodes one event for the dispatcher; `None` for events nobody wants.
fn encode(event: GossipEvent, wants_send: &AtomicBool) -> Option<String> {
    let mut out = String::new();
    let mut text = |s: &str| {
        out.push(',');
        js_json::write_str(&mut out, s);
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
            if !wants_send.load(Ordering::Relaxed) {
                return None;
            }
            text(&clock.to_json());
            text(&ring.to_json());
            kind::SEND
        }
        GossipEvent::Close => kind::CLOSE,
    };
    let mut fields = String::with_capacity(out.len() + 2);
    let _ = write!(fields, "{k}");
    fields.push_str(&out);
    Some(fields)
}

impl NativeGossip {
    fn gossip(&self) -> napi::Result<&GossipRing> {
        self.attached
            .as_ref()
            .ok_or_else(not_started)?
            .gossip
            .as_ref()
            .ok_or_else(not_started)
    }

    /// Runs `f` on the ring inside the engine runtime (the ring may spawn
    /// tasks, e.g. when joining starts serving the ring).
    fn with_gossip<R>(&self, f: impl FnOnce(&GossipRing) -> R) -> napi::Result<R> {
        let gossip = self.gossip()?;
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let _context = rt.enter();
        Ok(f(gossip))
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

    /// Builds the engine ring on the running kernel at `kernel`, restores
    /// it from the flush path when one is set (a saved ring with another id
    /// is an error), joins (or resumes) ring `ring_id`, starts the command
    /// server when `command` is set, and makes `dispatch(text)` the
    /// receiver of the ring's events.
    #[napi(catch_unwind)]
    pub fn start(
        &mut self,
        env: Env,
        kernel: KernelAddress,
        ring_id: String,
        command: bool,
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
        let _context = rt.enter();
        let gossip = GossipRing::new(&engine, self.opts.clone());
        let mut events = gossip.subscribe();
        gossip.load().map_err(refusal)?;
        match gossip.ring_id() {
            Some(loaded) if loaded != ring_id => {
                return Err(napi::Error::from_reason(format!(
                    "Loaded ring ID '{loaded}' does not match '{ring_id}'"
                )))
            }
            Some(_) => gossip.resume().map_err(net_error)?,
            None => gossip.join(&ring_id).map_err(refusal)?,
        }
        let serving = gossip.ring_id().unwrap_or(ring_id);
        let undo = |e: napi::Error| {
            engine.unregister(&serving);
            e
        };
        if command {
            command::spawn(&engine, &gossip)
                .map_err(net_error)
                .map_err(undo)?;
        }
        let session = Arc::new(Session::default());
        // SAFETY: `env` is the environment of this call and `dispatch` one
        // of its arguments.
        unsafe { session.attach(env.raw(), dispatch.raw()) }
            .map_err(napi::Error::from_reason)
            .map_err(|e| {
                if command {
                    engine.unregister(command::NAME);
                }
                undo(e)
            })?;
        let wants_send = Arc::new(AtomicBool::new(false));
        let forward = (session.clone(), wants_send.clone());
        let task = rt.spawn(async move {
            let (session, wants_send) = forward;
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let Some(fields) = encode(event, &wants_send) {
                            session.push(Event::Encoded(fields));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        eprintln!("notp: {n} gossip events were dropped (JavaScript fell behind)");
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        });
        session.add_task(task.abort_handle());
        self.attached = Some(Attached {
            gossip: Some(gossip),
            kernel: engine,
            session,
            wants_send,
        });
        Ok(())
    }

    /// Whether the ring is attached to a kernel.
    #[napi(getter, catch_unwind)]
    pub fn is_attached(&self) -> bool {
        self.attached.is_some()
    }

    /// Forward `send` events (only while JavaScript listens for them).
    #[napi(catch_unwind)]
    pub fn set_send_events(&self, on: bool) {
        if let Some(a) = &self.attached {
            a.wants_send.store(on, Ordering::Relaxed);
        }
    }

    /// Leaves the ring for good and saves the state that leaves behind
    /// (as the engine's `ClusterNode::stop` does: a clean stop is not a
    /// crash, so a restart starts over rather than resuming a ring that
    /// was told this node left); with `stop_kernel` also stops the engine
    /// kernel at once. Answers whether the node was in a ring (then
    /// `leave` and `close` events follow).
    #[napi(catch_unwind)]
    pub fn stop(&mut self, stop_kernel: bool) -> napi::Result<bool> {
        let Some(attached) = self.attached.as_mut() else {
            return Ok(false);
        };
        let Some(gossip) = attached.gossip.take() else {
            return Ok(false);
        };
        let rt = runtime().map_err(napi::Error::from_reason)?;
        let _context = rt.enter();
        let in_ring = gossip.ring_id().is_some();
        gossip.leave();
        // After the leave, so that this write and any periodic one racing
        // it save the same state. A failure here is one of the periodic
        // flush's too, which the engine only logs; stopping goes on.
        let _ = gossip.flush();
        if stop_kernel {
            attached.kernel.stop();
        }
        Ok(in_ring)
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
        self.with_gossip(|g| g.join(&ring_id))?.map_err(refusal)
    }

    #[napi(catch_unwind)]
    pub fn meet(&self, id: String, host: String, port: u32) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.with_gossip(|g| g.meet(&node))
    }

    #[napi(catch_unwind)]
    pub fn insert(
        &self,
        id: String,
        host: String,
        port: u32,
        weight: Option<u32>,
    ) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.with_gossip(|g| g.insert(&node, weight))?
            .map_err(refusal)
    }

    #[napi(catch_unwind)]
    pub fn minsert(&self, nodes: Vec<NodeFields>, weight: Option<u32>) -> napi::Result<()> {
        let nodes = make_nodes(nodes)?;
        self.with_gossip(|g| g.minsert(&nodes, weight))?
            .map_err(refusal)
    }

    #[napi(catch_unwind)]
    pub fn update(&self, id: String, host: String, port: u32, weight: u32) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.with_gossip(|g| g.update(&node, weight))?
            .map_err(refusal)
    }

    #[napi(catch_unwind)]
    pub fn remove(&self, id: String, host: String, port: u32) -> napi::Result<()> {
        let node = make_node(id, host, port)?;
        self.with_gossip(|g| g.remove(&node))
    }

    #[napi(catch_unwind)]
    pub fn mremove(&self, nodes: Vec<NodeFields>) -> napi::Result<()> {
        let nodes = make_nodes(nodes)?;
        self.with_gossip(|g| g.mremove(&nodes))
    }

    /// Leaves the ring (the node stays attached, alone, and may join again).
    #[napi(catch_unwind)]
    pub fn leave(&self) -> napi::Result<()> {
        self.with_gossip(GossipRing::leave)
    }

    #[napi(catch_unwind)]
    pub fn poll(&self) -> napi::Result<()> {
        self.with_gossip(GossipRing::poll)
    }

    /// The owner of `key` and its `pfactor` successors.
    #[napi(catch_unwind)]
    pub fn find(&self, key: String) -> napi::Result<Vec<NodeFields>> {
        Ok(fields(self.gossip()?.find(&key)))
    }

    /// `size` distinct nodes from `key`'s position on; negative: the
    /// ring's default.
    #[napi(catch_unwind)]
    pub fn range(&self, key: String, size: f64) -> napi::Result<Vec<NodeFields>> {
        let size = crate::ring::range_of(size);
        Ok(fields(self.gossip()?.range(&key, size)))
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

    /// Restores the state saved at the flush path (a missing file is not
    /// an error; a corrupt one is).
    #[napi(catch_unwind)]
    pub fn load(&self) -> napi::Result<()> {
        self.gossip()?.load().map_err(refusal)
    }

    /// Reads the state saved at the flush path without a kernel (a ring
    /// loaded before its node starts), checked by the engine's rules for
    /// node `me`. `null` when there is no flush path or no file.
    #[napi(catch_unwind)]
    pub fn read_saved(&self, me: KernelAddress) -> napi::Result<Option<SavedState>> {
        let Some(path) = self.opts.flush_path.clone() else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(napi::Error::from_reason(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| invalid_blob(&path))?;
        let me = make_node(me.id, me.host, me.port)?;
        let mut state = Gossip::new(me, self.opts.clone(), Rng::seeded(0));
        state
            .load_persisted(&value)
            .map_err(|_| invalid_blob(&path))?;
        Ok(Some(SavedState {
            ring_id: state.ring_id().map(str::to_owned),
            actor: state.actor().map(str::to_owned),
            chash: state.ring().to_json(),
            vclock: state.clock().to_json(),
        }))
    }
}

impl Drop for NativeGossip {
    fn drop(&mut self) {
        self.detach();
    }
}
