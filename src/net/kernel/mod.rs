//! The kernel's API and the shared state its drivers own: the outbound
//! connections, the servers, the calls awaiting replies and the drop log of
//! one node. The rules live in [`core`](super::core); this is where they
//! meet locks, channels and tasks.
//!
//! * `servers`: registering names, mailboxes and inline servers.
//! * `calls`: casts, calls, pings and answers.
//! * `dispatch`: performing what the core decides (delivering, waking
//!   callers, refusing).
//! * `frames`: building frames in a reused scratch buffer and queueing them.
//!
//! Starting (binding, accepting) is `super::listener`'s; reading accepted
//! connections `super::reader`'s.

mod calls;
mod dispatch;
mod frames;
mod servers;

pub(crate) use calls::{wait, PendingGuard};
pub(crate) use dispatch::Backlog;
pub(crate) use servers::Target;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot, watch};

use super::core::{Call, PendingCalls, Registration, StreamGauge, Tables, Targets, Writer};
use super::error::CallError;
use super::fast_hash::FastMap;
use super::foreign::InboundHook;
use super::options::KernelOptions;
use super::payload::Payload;
use super::sink::{Sink, SinkState};
use super::skip::Skip;
use super::skip::SkipLog;
use crate::Node;

/// How a caller waiting on a reply is woken.
pub(crate) type Waiter = oneshot::Sender<Result<Payload, CallError>>;

pub(crate) struct Inner {
    pub(crate) node: Node,
    /// This node's identity and cookie, writing every frame it sends.
    pub(crate) writer: Writer,
    pub(crate) opts: KernelOptions,
    sinks: Mutex<FastMap<String, Arc<Sink>>>,
    targets: RwLock<Targets<Target>>,
    pending: Mutex<PendingCalls<Waiter>>,
    pub(crate) skips: SkipLog,
    /// Streams partly received, per target, over every accepted connection.
    pub(crate) streams: Arc<StreamGauge>,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) inbound_hook: Mutex<Option<InboundHook>>,
    /// The listening socket. `stop` takes it out (closing it) itself, so
    /// the port is free again once `stop` returns, not once the accept
    /// loop notices.
    pub(crate) listener: Mutex<Option<tokio::net::TcpListener>>,
}

impl Inner {
    /// The state of a kernel for `node` (with its port bound) on the
    /// current runtime.
    pub(crate) fn new(node: Node, opts: KernelOptions, listener: tokio::net::TcpListener) -> Inner {
        Inner {
            writer: Writer::new(&node, opts.cookie.as_deref()),
            node,
            sinks: Mutex::default(),
            targets: RwLock::default(),
            pending: Mutex::new(PendingCalls::new(opts.max_pending)),
            skips: SkipLog::default(),
            streams: Arc::default(),
            shutdown: watch::channel(false).0,
            runtime: tokio::runtime::Handle::current(),
            inbound_hook: Mutex::new(None),
            listener: Mutex::new(Some(listener)),
            opts,
        }
    }

    fn targets(&self) -> RwLockReadGuard<'_, Targets<Target>> {
        // Every critical section is one map operation.
        self.targets.read().unwrap_or_else(|e| e.into_inner())
    }

    fn targets_mut(&self) -> RwLockWriteGuard<'_, Targets<Target>> {
        self.targets.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Routing reads the calls and servers under their own locks, each taken
/// only for as long as one lookup.
impl Tables for Inner {
    type Waiter = Waiter;
    type Handle = Target;

    fn take_call(&self, tag: &str) -> Option<Call<Waiter>> {
        lock(&self.pending).take(tag)
    }

    fn restore_call(&self, tag: String, call: Call<Waiter>) {
        lock(&self.pending).restore(tag, call);
    }

    fn server(&self, name: &str) -> Option<Registration<Target>> {
        self.targets().lookup(name)
    }
}

/// A started network kernel. Cheap to clone; every clone is the same node.
#[derive(Clone)]
pub struct Kernel {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("node", &self.inner.node)
            .finish()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections here are map operations that cannot be left half
    // done by a panic, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a stopped kernel's connections may go on writing what they
/// still held before they are closed regardless.
const STOP_LINGER: Duration = Duration::from_millis(500);

impl Kernel {
    /// This node.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    pub fn id(&self) -> &str {
        self.inner.node.id()
    }

    pub fn options(&self) -> &KernelOptions {
        &self.inner.opts
    }

    /// Whether the kernel has been stopped.
    pub fn is_stopped(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Stops listening, closes every connection, fails every call still
    /// waiting and unregisters every server. Outbound connections first
    /// write what they still hold, for at most half a second.
    pub fn stop(&self) {
        if self.inner.shutdown.send_replace(true) {
            return;
        }
        drop(lock(&self.inner.listener).take());
        // What the connections still hold (a node's last words, such as a
        // gossip leave sent just before) is written first, for a moment.
        let sinks: Vec<Arc<Sink>> = lock(&self.inner.sinks).drain().map(|(_, s)| s).collect();
        for sink in &sinks {
            sink.close(false);
        }
        let lingering: Vec<Arc<Sink>> = sinks
            .into_iter()
            .filter(|s| s.state() != SinkState::Closed)
            .collect();
        if !lingering.is_empty() {
            self.inner.runtime.spawn(async move {
                tokio::time::sleep(STOP_LINGER).await;
                for sink in lingering {
                    sink.close(true);
                }
            });
        }
        let waiting = lock(&self.inner.pending).close();
        for waiter in waiting {
            let _ = waiter.send(Err(CallError::Stopped));
        }
        self.inner.targets_mut().close();
        tracing::info!(node = %self.inner.node, "kernel stopped");
    }

    // ---- connections ------------------------------------------------------

    /// Opens (or keeps) the outbound connection to `node`. Connecting to
    /// this node itself does nothing.
    pub fn connect(&self, node: &Node) -> Option<Arc<Sink>> {
        if node.id() == self.id() || self.is_stopped() {
            return None;
        }
        let mut sinks = lock(&self.inner.sinks);
        if let Some(s) = sinks.get(node.id()) {
            return Some(s.clone());
        }
        let opts = &self.inner.opts;
        let sink = Sink::new(node.clone(), opts.max_queue, opts.max_queue_bytes);
        sinks.insert(node.id().to_owned(), sink.clone());
        self.inner
            .runtime
            .spawn(sink.clone().run(opts.retry, opts.max_retries));
        Some(sink)
    }

    /// Closes the outbound connection to `node`: after writing what is queued,
    /// or at once with `force`.
    pub fn disconnect(&self, node: &Node, force: bool) {
        if let Some(sink) = lock(&self.inner.sinks).remove(node.id()) {
            sink.close(force);
        }
    }

    /// Whether an outbound connection to `node` exists (always true for this
    /// node itself).
    pub fn is_connected(&self, node: &Node) -> bool {
        self.is_connected_id(node.id())
    }

    /// Whether an outbound connection to the node with this id exists.
    pub fn is_connected_id(&self, id: &str) -> bool {
        id == self.id() || lock(&self.inner.sinks).contains_key(id)
    }

    /// The outbound connection to `node`, if any.
    pub fn connection(&self, node: &Node) -> Option<Arc<Sink>> {
        self.sink_of(node.id())
    }

    /// The outbound connection to the node with this id, if any.
    pub(crate) fn sink_of(&self, id: &str) -> Option<Arc<Sink>> {
        lock(&self.inner.sinks).get(id).cloned()
    }

    /// Every outbound connection.
    pub fn sinks(&self) -> Vec<Arc<Sink>> {
        lock(&self.inner.sinks).values().cloned().collect()
    }

    // ---- what happened ----------------------------------------------------

    /// Messages dropped so far, by reason.
    pub fn skipped(&self) -> BTreeMap<&'static str, u64> {
        self.inner.skips.counts()
    }

    /// Every later drop, as it happens.
    pub fn subscribe_skips(&self) -> broadcast::Receiver<Skip> {
        self.inner.skips.subscribe()
    }

    /// Streamed messages to the local target `name` partly received now,
    /// over every accepted connection (a server is idle at 0).
    pub fn streams_in_flight(&self, name: &str) -> usize {
        self.inner.streams.count(name)
    }

    /// Calls awaiting a reply.
    pub fn pending_calls(&self) -> usize {
        lock(&self.inner.pending).len()
    }

    /// Whoever is told of accepted connections (see `embed`).
    pub(crate) fn inbound_hook(&self) -> Option<InboundHook> {
        lock(&self.inner.inbound_hook).clone()
    }
}

/// Resolves once the kernel is stopped.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}
