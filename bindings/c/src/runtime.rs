//! The engine threads: one tokio runtime per process, started on first use
//! (or by `notp_runtime_init`) and never shut down, so handles and
//! callbacks never outlive it.
//!
//! Blocking calls (`notp_kernel_start`, `_connect_wait`, `_call_wait`) park
//! the caller's thread on the runtime; on an engine thread that would stall
//! the engine (or panic inside tokio), so they are refused there.

use std::sync::OnceLock;

use tokio::runtime::{Builder, Runtime};

use super::status::{guard, Failure, Status};

/// Engine threads when nobody asks for a number.
const DEFAULT_WORKERS: u32 = 2;

/// The runtime and its worker count, or why it could not start (kept, so
/// every later call reports the same cause rather than retrying).
static RUNTIME: OnceLock<Result<(Runtime, u32), String>> = OnceLock::new();

/// The process's runtime, started with `workers` threads unless it already
/// runs; answers the runtime and the count it actually runs with.
fn start(workers: u32) -> Result<&'static (Runtime, u32), Failure> {
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(workers as usize)
                .thread_name("notp-engine")
                .enable_all()
                .build()
                .map(|rt| (rt, workers))
                .map_err(|e| format!("cannot start the engine threads: {e}"))
        })
        .as_ref()
        .map_err(|e| Failure::new(Status::NOTP_ERR_NETWORK, e.clone()))
}

/// The process's runtime, started with the default worker count on first
/// use.
pub(crate) fn runtime() -> Result<&'static Runtime, Failure> {
    start(DEFAULT_WORKERS).map(|(rt, _)| rt)
}

/// Refuses a blocking call made on an engine thread.
pub(crate) fn refuse_engine_thread(function: &str) -> Result<(), Failure> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Failure::new(
            Status::NOTP_ERR_WRONG_THREAD,
            format!(
                "{function} blocks, so it cannot be called on an engine thread (inside a callback)"
            ),
        ));
    }
    Ok(())
}

/// Starts the engine threads with `workers` worker threads (0: the default,
/// 2). Optional: the first call that needs the engine starts it with the
/// default. Call it before anything else; once the engine runs, asking for
/// the same count again is NOTP_OK and a different one
/// NOTP_ERR_INVALID_ARGUMENT. NOTP_ERR_NETWORK when the threads cannot be
/// started.
#[no_mangle]
pub extern "C" fn notp_runtime_init(workers: u32) -> Status {
    guard(|| {
        let workers = if workers == 0 {
            DEFAULT_WORKERS
        } else {
            workers
        };
        let &(_, running) = start(workers)?;
        if running != workers {
            return Err(Failure::invalid(format!(
                "the engine already runs with {running} worker threads"
            )));
        }
        Ok(())
    })
}
