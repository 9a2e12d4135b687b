//! A cluster node: a kernel, its gossip ring and its command server, started
//! and stopped together (the original's `ClusterNode`).
//!
//! Every door starts a node the same way, through [`ClusterNode::attach`]
//! (or [`ClusterNode::attach_ring`]): restore the saved state (read once),
//! check its ring id, resume that ring or join the wanted one, start the
//! command server, and undo all of it on a failure. The Rust door's
//! [`ClusterNode::start`], the C door's `notp_cluster_start` and the Node
//! door's `ClusterNode.start` / `GossipRing.start` (on a `NetKernel` of its
//! own) differ only in who started the kernel.
//!
//! "Stopped" is one notion too: [`ClusterNode::is_stopped`], changes
//! refused with [`ClusterError::Stopped`], and every event subscription
//! ending ([`GossipEvents::recv`] answers `None`).

pub mod command;
pub mod events;
mod gossip_ring;
mod saved;

pub use crate::gossip::{holders, GossipOptions, Replacement};
pub use events::{EventCounts, GossipEvent, GossipEvents};
pub use gossip_ring::GossipRing;
pub use saved::SavedState;

use crate::net::{Kernel, KernelOptions, NetError};
use crate::{Error, Node, OptionsError};

/// Why a cluster node could not start, or refused a change.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(NetError),
    #[error(transparent)]
    State(#[from] Error),
    /// The state saved at the flush path belongs to another ring (the
    /// original's wording).
    #[error("Loaded ring ID '{loaded}' does not match '{wanted}'")]
    WrongRing { loaded: String, wanted: String },
    /// The node (its gossip ring, or its kernel) is stopped.
    #[error("the cluster node is stopped")]
    Stopped,
    #[error(transparent)]
    Options(#[from] OptionsError),
}

impl From<NetError> for ClusterError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Stopped => ClusterError::Stopped,
            other => ClusterError::Net(other),
        }
    }
}

/// Options for the kernel and the gossip ring of a node.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub kernel: KernelOptions,
    pub gossip: GossipOptions,
}

/// Where a starting node's state comes from.
#[derive(Debug, Clone, Default)]
// Made once per start, and moved straight into it: boxing the state would
// only cost its users a `Box::new`.
#[allow(clippy::large_enum_variant)]
pub enum Restore {
    /// Read it from the gossip options' flush path, if one is set (the
    /// default).
    #[default]
    FromFlushPath,
    /// The caller already read it ([`SavedState::read`]; `None`: nothing
    /// was saved), so it is not read again.
    Read(Option<SavedState>),
}

/// How a gossip ring attaches to a started kernel
/// ([`ClusterNode::attach_ring`]).
#[derive(Debug, Clone)]
pub struct Attach {
    /// Run the command server the CLI talks to (the default).
    pub command_server: bool,
    pub restore: Restore,
}

impl Default for Attach {
    fn default() -> Self {
        Attach {
            command_server: true,
            restore: Restore::FromFlushPath,
        }
    }
}

impl ClusterOptions {
    /// The first option that cannot work, the kernel's first (see
    /// [`KernelOptions::validate`] and [`GossipOptions::validate`]).
    pub fn validate(&self) -> Result<(), OptionsError> {
        self.kernel.validate()?;
        self.gossip.validate()
    }
}

/// A started node of a cluster.
///
/// ```no_run
/// # async fn demo() -> Result<(), notp::cluster::ClusterError> {
/// use notp::{Cluster, Node};
///
/// let a = Cluster::builder("a", "127.0.0.1", 7022)
///     .interval(500)
///     .start("cookie", "ring")
///     .await?;
/// a.gossip().meet(&Node::new("b", "127.0.0.1", 7023))?;
/// let events = a.gossip().subscribe();
/// while let Some(e) = events.recv().await {
///     if let notp::cluster::GossipEvent::Process { new, .. } = e {
///         println!("ring is now {:?}", new.nodes());
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClusterNode {
    kernel: Kernel,
    gossip: GossipRing,
    command_server: bool,
}

/// The Rust door's name for a cluster node.
pub type Cluster = ClusterNode;

/// Options for a cluster node before it starts ([`ClusterNode::builder`]).
#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    node: Node,
    opts: ClusterOptions,
}

impl ClusterBuilder {
    /// Kernel options (retry, limits…); the cookie is given to `start`.
    pub fn kernel_options(mut self, opts: KernelOptions) -> Self {
        self.opts.kernel = opts;
        self
    }

    /// Gossip options (interval, factors, flush path…).
    pub fn gossip_options(mut self, opts: GossipOptions) -> Self {
        self.opts.gossip = opts;
        self
    }

    /// The gossip interval, in milliseconds (default 1000).
    pub fn interval(mut self, ms: u64) -> Self {
        self.opts.gossip.interval = ms;
        self
    }

    /// Persist the ring to `path` (and load it from there on start).
    pub fn flush_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.opts.gossip.flush_path = Some(path.into());
        self
    }

    /// Starts the node with `cookie` in ring `ring_id` (see
    /// [`ClusterNode::start`]).
    pub async fn start(self, cookie: &str, ring_id: &str) -> Result<ClusterNode, ClusterError> {
        ClusterNode::start(self.node, cookie, ring_id, self.opts).await
    }
}

impl ClusterNode {
    /// A node `id` that will listen on `host:port` (port 0 picks a free
    /// one), with default options.
    pub fn builder(id: impl Into<String>, host: impl Into<String>, port: u16) -> ClusterBuilder {
        ClusterBuilder {
            node: Node::new(id, host, port),
            opts: ClusterOptions::default(),
        }
    }

    /// Starts `node` (listening on its host and port; port 0 picks one),
    /// signing with `cookie` (empty: none), in ring `ring_id`, then attaches
    /// its ring ([`ClusterNode::attach`]); a failed attach stops the kernel
    /// again. Options that cannot work are refused first
    /// ([`ClusterError::Options`]).
    pub async fn start(
        node: Node,
        cookie: &str,
        ring_id: &str,
        opts: ClusterOptions,
    ) -> Result<ClusterNode, ClusterError> {
        opts.validate()?;
        let kernel = Kernel::start(node, opts.kernel.with_cookie(cookie)).await?;
        ClusterNode::attach(&kernel, ring_id, opts.gossip).inspect_err(|_| kernel.stop())
    }

    /// Makes a cluster node of an already started `kernel` in ring
    /// `ring_id`, with the command server; see [`ClusterNode::attach_ring`].
    /// Runs inside a tokio runtime (the ring's timers are tasks).
    pub fn attach(
        kernel: &Kernel,
        ring_id: &str,
        opts: GossipOptions,
    ) -> Result<ClusterNode, ClusterError> {
        opts.validate()?;
        ClusterNode::attach_ring(GossipRing::new(kernel, opts), ring_id, Attach::default())
    }

    /// Makes a cluster node of `gossip` (made with [`GossipRing::new`], so
    /// the caller may subscribe before anything can happen), in ring
    /// `ring_id`: restores the saved state (with a flush path; a saved ring
    /// of another id is [`ClusterError::WrongRing`]) and connects to its
    /// members, resumes the saved ring or joins `ring_id`, and starts the
    /// command server if asked. On a failure everything it did is undone
    /// and the ring is stopped; the kernel is left running.
    pub fn attach_ring(
        gossip: GossipRing,
        ring_id: &str,
        how: Attach,
    ) -> Result<ClusterNode, ClusterError> {
        let kernel = gossip.kernel().clone();
        let mut served = None;
        let attached = (|| {
            let saved = match how.restore {
                Restore::FromFlushPath => SavedState::read(&gossip.options(), kernel.node())?,
                Restore::Read(saved) => saved,
            };
            if let Some(saved) = &saved {
                if let Some(loaded) = saved.ring_id.as_deref().filter(|l| *l != ring_id) {
                    return Err(ClusterError::WrongRing {
                        loaded: loaded.to_owned(),
                        wanted: ring_id.to_owned(),
                    });
                }
                gossip.restore(saved)?;
            }
            match gossip.ring_id() {
                Some(_) => gossip.resume()?,
                None => gossip.join(ring_id)?,
            }
            served = gossip.ring_id();
            if how.command_server {
                command::spawn(&kernel, &gossip)?;
            }
            Ok(())
        })();
        if let Err(e) = attached {
            if let Some(id) = served {
                kernel.unregister(&id);
            }
            gossip.halt();
            return Err(e);
        }
        Ok(ClusterNode {
            kernel,
            gossip,
            command_server: how.command_server,
        })
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn gossip(&self) -> &GossipRing {
        &self.gossip
    }

    /// Whether the node is stopped: by [`ClusterNode::stop`] or
    /// [`ClusterNode::detach`], or because its kernel stopped.
    pub fn is_stopped(&self) -> bool {
        self.gossip.is_stopped()
    }

    /// Stops the ring ([`GossipRing::stop`]: saves the ring it has, stops
    /// for good, leaves) and the command server; the kernel keeps running.
    pub fn detach(&self) {
        self.gossip.stop();
        if self.command_server {
            self.kernel.unregister(command::NAME);
        }
    }

    /// Stops the ring as [`ClusterNode::detach`] does (its flush file keeps
    /// the ring from before leaving, so a restart resumes it), then stops
    /// the kernel.
    pub fn stop(&self) {
        self.detach();
        self.kernel.stop();
    }
}
