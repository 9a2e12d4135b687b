//! A cluster node: a kernel, its gossip ring and its command server, started
//! and stopped together (the original's `ClusterNode`).

pub mod command;
mod gossip_ring;

pub use gossip_ring::{GossipEvent, GossipRing};

use crate::gossip::GossipOptions;
use crate::net::{Kernel, KernelOptions, NetError};
use crate::{Error, Node};

/// Why a cluster node could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    State(#[from] Error),
    #[error("the ring loaded from disk is {loaded:?}, not {wanted:?}")]
    WrongRing { loaded: String, wanted: String },
}

/// Options for the kernel and the gossip ring of a node.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    pub kernel: KernelOptions,
    pub gossip: GossipOptions,
}

/// A started node of a cluster.
#[derive(Debug, Clone)]
pub struct ClusterNode {
    kernel: Kernel,
    gossip: GossipRing,
}

impl ClusterNode {
    /// Starts `node` (listening on its host and port; port 0 picks one),
    /// signing with `cookie` (empty: none), in ring `ring_id`. With a flush
    /// path, state saved there is loaded first; a saved ring with another id
    /// is an error.
    pub async fn start(
        node: Node,
        cookie: &str,
        ring_id: &str,
        opts: ClusterOptions,
    ) -> Result<ClusterNode, ClusterError> {
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
