//! The engine threads of the addon: one tokio runtime for the whole process
//! (every kernel, on the main thread and in workers), started on first use
//! and never shut down. Its threads are not tied to the Node event loop, so
//! they never keep the process alive; what does is the thread-safe function
//! of a started kernel (see [`crate::session`]).

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

/// Engine threads when `NOTP_NODE_THREADS` does not say otherwise. One
/// thread does all of the engine's socket work for a process whose
/// JavaScript runs on one thread anyway; a second mostly adds hand-overs
/// between threads (measured: higher latency and lower call throughput).
const DEFAULT_WORKERS: usize = 1;

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

fn workers() -> usize {
    std::env::var("NOTP_NODE_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| (1..=64).contains(n))
        .unwrap_or(DEFAULT_WORKERS)
}

/// The process's runtime, or why it could not start (kept, so every later
/// call reports the same cause).
pub(crate) fn runtime() -> Result<&'static Runtime, String> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(workers())
                .thread_name("notp-node-engine")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the engine threads: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}
