//! The kernel door: a [`notp::net::Kernel`] per JavaScript `NetKernel`,
//! behind a handle.
//!
//! Starting binds the port before it returns (stopping frees it before it
//! returns); the bound port still reaches JavaScript with the `Ready`
//! event, after `start` returned, as the original's `_ready` did. Everything the engine reports (messages
//! for local targets, call results, connections, dropped messages) comes
//! back through the session's event queue ([`crate::session`]).
//!
//! This module holds the handles and a kernel's life (start, stop, the
//! targets it serves); the rest is split by what JavaScript does with a
//! running kernel: [`peers`] (outbound connections), [`requests`] (calls,
//! casts, replies and pings: the per-request paths, raw N-API functions)
//! and [`streams`] (bodies sent in chunks). [`options`] turns the start
//! options into the engine's.

mod options;
mod peers;
pub(crate) mod requests;
mod streams;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{Env, Function};
use napi::JsValue;
use napi_derive::napi;
use notp::net::embed::Embedded;
use notp::net::{Kernel, NetError};
use notp::Node;
use tokio::net::TcpSocket;
use tokio::sync::broadcast::error::RecvError;

use crate::event::Event;
use crate::registry::{busy, with_entry, Registry};
use crate::runtime::runtime;
use crate::session::Session;

pub use options::StartOptions;

#[derive(Default)]
pub(crate) struct KernelEntry {
    /// The current start, if any.
    session: Option<Arc<Session>>,
}

thread_local! {
    static KERNELS: Registry<KernelEntry> = const { Registry::new() };
}

/// Owns one kernel slot; stopping and collecting it end any running start.
#[napi]
pub struct NativeKernel {
    handle: u32,
}

#[napi]
impl NativeKernel {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> napi::Result<Self> {
        let handle = KERNELS
            .try_with(|r| r.add(KernelEntry::default()))
            .map_err(|_| busy())??;
        Ok(NativeKernel { handle })
    }

    /// The handle the `kernel*` functions take.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for NativeKernel {
    fn drop(&mut self) {
        if let Ok(Some(session)) = with_entry!(KERNELS, self.handle, |e| e.session.take()) {
            session.close();
        }
        // Fails only while the thread is being torn down.
        let _ = KERNELS.try_with(|r| r.remove(self.handle));
    }
}

/// The current start of kernel `h`, if any.
fn session(h: u32) -> napi::Result<Option<Arc<Session>>> {
    with_entry!(KERNELS, h, |e| e.session.clone())
}

/// The session and its engine kernel, when it runs.
fn running(h: u32) -> napi::Result<Option<(Arc<Session>, Kernel)>> {
    Ok(session(h)?.and_then(|s| {
        let kernel = s.kernel()?.clone();
        Some((s, kernel))
    }))
}

/// A node addressed by id (calls, casts and replies only look at the id).
fn by_id(id: String) -> Node {
    Node::new(id, String::new(), 0)
}

/// A timeout in ms; negative, NaN, infinite or absurd means "wait forever".
fn timeout_of(ms: f64) -> Option<Duration> {
    if ms >= 0.0 && ms.is_finite() {
        Duration::try_from_secs_f64(ms / 1000.0).ok()
    } else {
        None
    }
}

/// Starts listening and makes `dispatch(text, buffers)` the receiver of
/// this kernel's events. The port is bound before this returns (so a
/// `stop` that follows at once frees it again before it returns); the
/// outcome still reaches JavaScript as an event, `Ready` or `StartFailed`,
/// as the original's `_ready` came after `start` returned. A previous start
/// of the same kernel is stopped first.
#[napi(catch_unwind)]
pub fn kernel_start(
    env: Env,
    h: u32,
    opts: StartOptions,
    dispatch: Function<'_>,
) -> napi::Result<()> {
    let rt = runtime().map_err(napi::Error::from_reason)?;
    let (node, options) = opts.into_engine()?;
    let session = Arc::new(Session::default());
    // SAFETY: `env` is the environment of this call and `dispatch` one of
    // its arguments.
    unsafe { session.attach(env.raw(), dispatch.raw()) }.map_err(napi::Error::from_reason)?;
    let previous = with_entry!(KERNELS, h, |e| e.session.replace(session.clone()));
    match previous {
        Ok(Some(old)) => old.close(),
        Ok(None) => {}
        Err(e) => {
            session.close();
            return Err(e);
        }
    }
    let _context = rt.enter();
    let started = listen(&node).and_then(|listener| Kernel::start_on(listener, node, options));
    match started {
        Ok(kernel) => attach_kernel(&session, kernel),
        Err(e) => session.push(Event::StartFailed(e.to_string())),
    }
    Ok(())
}

/// Binds `node`'s host and port as the engine's own start does (address
/// reuse, a backlog of 1024, each address the host resolves to in turn).
fn listen(node: &Node) -> Result<std::net::TcpListener, NetError> {
    let addr = format!("{}:{}", node.host(), node.port());
    let bind = |a: SocketAddr| {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }?;
        socket.set_reuseaddr(true)?;
        socket.bind(a)?;
        socket.listen(1024)?.into_std()
    };
    let mut last = None;
    let addrs = (node.host(), node.port())
        .to_socket_addrs()
        .map_err(|source| NetError::Bind {
            addr: addr.clone(),
            source,
        })?;
    for a in addrs {
        match bind(a) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(NetError::Bind {
        addr,
        source: last.unwrap_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the host resolves to no address",
            )
        }),
    })
}

/// Hooks a started engine kernel to its session: skipped messages and
/// accepted connections reach JavaScript, and `Ready` is announced.
fn attach_kernel(session: &Arc<Session>, kernel: Kernel) {
    let mut skips = kernel.subscribe_skips();
    let reporter = session.clone();
    let task = tokio::spawn(async move {
        loop {
            match skips.recv().await {
                Ok(skip) => reporter.push(Event::Skip(skip)),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    });
    session.add_task(task.abort_handle());
    // Accepted connections are read from the JavaScript thread too (see
    // `uv`).
    let weak = Arc::downgrade(session);
    kernel.on_inbound(Some(Arc::new(move |reader| {
        if let Some(session) = weak.upgrade() {
            session.push(Event::Inbound(reader));
        }
    })));
    if let Err(kernel) = session.set_kernel(kernel) {
        kernel.stop();
    }
}

/// Stops the kernel: closes every connection, fails waiting calls, and
/// releases everything that kept the event loop alive.
#[napi(catch_unwind)]
pub fn kernel_stop(h: u32) -> napi::Result<()> {
    if let Some(session) = with_entry!(KERNELS, h, |e| e.session.take())? {
        session.close();
    }
    Ok(())
}

/// Whether the kernel listens (started, bound and not stopped).
#[napi(catch_unwind)]
pub fn kernel_running(h: u32) -> napi::Result<bool> {
    Ok(running(h)?.is_some_and(|(s, _)| !s.is_closed()))
}

/// Routes messages for `name` on this node to the JavaScript side. A name
/// already taken on this node is an error.
#[napi(catch_unwind)]
pub fn kernel_register(h: u32, name: String) -> napi::Result<bool> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(false);
    };
    // Each message is queued for JavaScript by whichever thread reads it;
    // on the JavaScript thread itself (see `uv`) it is delivered at once.
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    let weak = Arc::downgrade(&session);
    kernel
        .serve_sync(&name, move |message| {
            if let Some(session) = weak.upgrade() {
                session.push(Event::Message(message));
            }
        })
        .map_err(|e| napi::Error::from_reason(e.to_string()))?;
    Ok(true)
}

#[napi(catch_unwind)]
pub fn kernel_unregister(h: u32, name: String) -> napi::Result<()> {
    if let Some((_, kernel)) = running(h)? {
        kernel.unregister(&name);
    }
    Ok(())
}

/// Messages dropped so far, by reason.
#[napi(catch_unwind)]
pub fn kernel_skipped(h: u32) -> napi::Result<std::collections::HashMap<String, f64>> {
    Ok(running(h)?
        .map(|(_, k)| {
            k.skipped()
                .into_iter()
                .map(|(code, n)| (code.to_owned(), n as f64))
                .collect()
        })
        .unwrap_or_default())
}

/// The options the running kernel was started with, as the engine holds
/// them (sizes in bytes or counts, times in ms; `maxRetries` absent: never
/// gives up), or null when it does not run.
#[napi(catch_unwind)]
pub fn kernel_options(h: u32) -> napi::Result<Option<options::EngineOptions>> {
    Ok(running(h)?.map(|(_, k)| options::EngineOptions::from(k.options())))
}
