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
        let listener = TcpListener::bind((node.host(), node.port()))
            .await
            .map_err(|source| bind_error(&node, source))?;
        Kernel::listen(listener, node, opts)
    }

    /// [`start`](Self::start) on a socket already bound (and listening) to
    /// `node`'s host and port, synchronously: for a caller that must know
    /// the port is taken, or free again after [`stop`](Self::stop), at
    /// once. Must be called within a tokio runtime.
    pub fn start_on(
        listener: std::net::TcpListener,
        node: Node,
        opts: KernelOptions,
    ) -> Result<Kernel, NetError> {
        opts.validate()?;
        let listener = listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|source| bind_error(&node, source))?;
        Kernel::listen(listener, node, opts)
    }

    fn listen(listener: TcpListener, node: Node, opts: KernelOptions) -> Result<Kernel, NetError> {
        let port = listener
            .local_addr()
            .map_err(|source| bind_error(&node, source))?
            .port();
        let mut node = node;
        node.set_port(port);
        let kernel = Kernel {
            inner: Arc::new(Inner::new(node, opts, listener)),
        };
        tokio::spawn(accept_loop(kernel.clone()));
        tracing::info!(node = %kernel.inner.node, "kernel listening");
        Ok(kernel)
    }
}

fn bind_error(node: &Node, source: std::io::Error) -> NetError {
    NetError::Bind {
        addr: format!("{}:{}", node.host(), node.port()),
        source,
    }
}

/// The next connection on the kernel's listener; `None` once `stop` took
/// the listener away.
fn poll_accept(
    listener: &std::sync::Mutex<Option<TcpListener>>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<Option<std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>>> {
    // The lock is held for one poll; a poisoned one still holds the socket.
    match listener.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some(l) => l.poll_accept(cx).map(Some),
        None => std::task::Poll::Ready(None),
    }
}

/// A failed accept (out of file descriptors, say) is retried after this.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

async fn accept_loop(kernel: Kernel) {
    let max_inbound = kernel.inner.opts.max_inbound;
    let slots = Arc::new(Semaphore::new(max_inbound));
    let mut shutdown = kernel.inner.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = std::future::poll_fn(|cx| poll_accept(&kernel.inner.listener, cx)) => {
                let (stream, peer) = match accepted {
                    None => break,
                    Some(Ok(a)) => a,
                    Some(Err(e)) => {
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
