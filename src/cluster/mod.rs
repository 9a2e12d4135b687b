//! A cluster node: a kernel, its gossip ring and its command server, started
//! and stopped together (the original's `ClusterNode`).

pub mod command;
mod gossip_ring;

pub use crate::gossip::GossipOptions;
pub use gossip_ring::{GossipEvent, GossipRing};

use crate::net::{Kernel, KernelOptions, NetError};
use crate::{Error, Node, OptionsError};

/// Why a cluster node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    State(#[from] Error),
    #[error("the ring loaded from disk is {loaded:?}, not {wanted:?}")]
    WrongRing { loaded: String, wanted: String },
    #[error(transparent)]
    Options(#[from] OptionsError),
}

/// Options for the kernel and the gossip ring of a node.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub kernel: KernelOptions,
    pub gossip: GossipOptions,
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
/// a.gossip().meet(&Node::new("b", "127.0.0.1", 7023));
/// let mut events = a.gossip().subscribe();
/// while let Ok(e) = events.recv().await {
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
    /// signing with `cookie` (empty: none), in ring `ring_id`. With a flush
    /// path, state saved there is loaded first; a saved ring with another id
    /// is an error. Options that cannot work are refused first
    /// ([`ClusterError::Options`]).
    pub async fn start(
        node: Node,
        cookie: &str,
        ring_id: &str,
        opts: ClusterOptions,
    ) -> Result<ClusterNode, ClusterError> {
        opts.validate()?;
        let kernel = Kernel::start(node, opts.kernel.with_cookie(cookie)).await?;
        let gossip = GossipRing::new(&kernel, opts.gossip);
        let started = (|| {
            gossip.load()?;
            match gossip.ring_id() {
                Some(loaded) if loaded != ring_id => Err(ClusterError::WrongRing {
                    loaded,
                    wanted: ring_id.to_owned(),
                }),
                Some(_) => Ok(gossip.resume()?),
                None => Ok(gossip.join(ring_id)?),
            }
        })()
        .and_then(|()| Ok(command::spawn(&kernel, &gossip)?));
        if let Err(e) = started {
            kernel.stop();
            return Err(e);
        }
        Ok(ClusterNode { kernel, gossip })
    }

    pub fn kernel(&self) -> &Kernel {
        &self.kernel
    }

    pub fn gossip(&self) -> &GossipRing {
        &self.gossip
    }

    /// Leaves the ring (as the original's stop does), then stops the kernel.
    pub fn stop(&self) {
        self.gossip.leave();
        let _ = self.gossip.flush();
        self.kernel.stop();
    }
}
