//! Starting a kernel: options checked, the port bound, and the accept loop,
//! which admits at most `max_inbound` connections at once and hands each
//! to its reader (`super::reader`).

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::error::NetError;
use super::kernel::{stopped, Inner, Kernel};
use super::options::KernelOptions;
use super::reader;
use crate::Node;

impl Kernel {
    /// Listens on `node`'s host and port (port 0 picks a free port, and the
    /// kernel's node takes the port actually bound) and starts routing.
    /// Must be called within a tokio runtime. Options that cannot work are
    /// refused first ([`NetError::Options`]).
    pub async fn start(node: Node, opts: KernelOptions) -> Result<Kernel, NetError> {
        opts.validate()?;
        let addr = format!("{}:{}", node.host(), node.port());
        let listener = TcpListener::bind((node.host(), node.port()))
            .await
            .map_err(|source| NetError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| NetError::Bind { addr, source })?
            .port();
        let mut node = node;
        node.set_port(port);
        let kernel = Kernel {
            inner: Arc::new(Inner::new(node, opts)),
        };
        tokio::spawn(accept_loop(kernel.clone(), listener));
        tracing::info!(node = %kernel.inner.node, "kernel listening");
        Ok(kernel)
    }
}

/// A failed accept (out of file descriptors, say) is retried after this.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

async fn accept_loop(kernel: Kernel, listener: TcpListener) {
    let max_inbound = kernel.inner.opts.max_inbound;
    let slots = Arc::new(Semaphore::new(max_inbound));
    let mut shutdown = kernel.inner.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_PAUSE).await;
                        continue;
                    }
                };
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tokio::spawn(reader::serve(kernel.clone(), stream, peer, permit));
                    }
                    Err(_) => kernel.inner.skips.record(
                        "TOO_MANY_CONNECTIONS",
                        format!("refused a connection beyond max_inbound = {max_inbound}"),
                        Some(peer),
                    ),
                }
            }
        }
    }
}
