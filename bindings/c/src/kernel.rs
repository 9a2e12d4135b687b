//! `notp_kernel_t`: a started network kernel (listener, outbound
//! connections, routing). The handle wraps the engine's [`Kernel`], which
//! locks internally, so any thread may use it at once.

use std::ffi::c_char;
use std::time::Duration;

use serde_json::{Map, Value};

use super::args::{self, give_string};
use super::ownership::{self, give};
use super::runtime::{refuse_engine_thread, runtime};
use super::status::{answer, guard, Failure, Status};
use engine::net::{Kernel, KernelOptions, NetError, SinkState};
use engine::Node;

/// A started kernel: one node of the cluster.
#[derive(Debug)]
pub struct KernelHandle {
    pub(crate) kernel: Kernel,
    /// Lent by a cluster node (notp_cluster_kernel()), which owns it: the
    /// header hands it out `const`, and notp_kernel_free() refuses it
    /// should a cast get it there anyway.
    pub(crate) lent: bool,
}

/// How a kernel connects, signs and bounds itself. Start from
/// notp_kernel_options_default(), or from all zeros: every numeric field
/// set to 0 takes its default. Other values pass to the engine as they are;
/// one that cannot work (see each field) makes the start fail with
/// NOTP_ERR_INVALID_ARGUMENT, the message naming the option.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CKernelOptions {
    /// Shared secret signing every message (NUL-terminated UTF-8); NULL or
    /// "" signs nothing and accepts everything. Copied by
    /// notp_kernel_start(), so it need not outlive that call.
    pub cookie: *const c_char,
    /// Wait between reconnection attempts, in milliseconds (default 5000).
    pub retry_ms: u32,
    /// Give a peer up after this many failed connection attempts in a row;
    /// 0 never gives up (the default, as the original).
    pub max_retries: u32,
    /// Frames queued per peer while its connection is down (default 1024);
    /// when full, the oldest is dropped.
    pub max_queue: usize,
    /// Bytes a connected peer's writer may fall behind by (default 64 MiB).
    pub max_queue_bytes: usize,
    /// Largest frame accepted (default 16 MiB); a larger one closes the
    /// connection it came on. At least 256.
    pub max_frame: usize,
    /// Bytes of partly received streamed bodies held per connection
    /// (default 64 MiB).
    pub max_stream_bytes: usize,
    /// Accepted connections open at once (default 1024); at most
    /// SIZE_MAX / 8.
    pub max_inbound: usize,
    /// Calls awaiting replies at once (default 65536); more fail at once.
    pub max_pending: usize,
    /// Messages waiting in one server's mailbox (default 65536); at most
    /// SIZE_MAX / 8.
    pub mailbox: usize,
    /// A streamed body not finished within this many milliseconds is
    /// dropped (default 30000).
    pub stream_timeout_ms: u32,
}

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl From<&KernelOptions> for CKernelOptions {
    fn from(o: &KernelOptions) -> Self {
        CKernelOptions {
            cookie: std::ptr::null(),
            retry_ms: millis(o.retry),
            max_retries: o.max_retries.unwrap_or(0),
            max_queue: o.max_queue,
            max_queue_bytes: o.max_queue_bytes,
            max_frame: o.max_frame,
            max_stream_bytes: o.max_stream_bytes,
            max_inbound: o.max_inbound,
            max_pending: o.max_pending,
            mailbox: o.mailbox,
            stream_timeout_ms: millis(o.stream_timeout),
        }
    }
}

/// The engine's options from C's, zeros meaning the defaults; NULL is all
/// defaults.
///
/// # Safety
/// `opts` is NULL or points to a readable `CKernelOptions` whose `cookie` is
/// NULL or a NUL-terminated string.
unsafe fn kernel_options(opts: *const CKernelOptions) -> Result<KernelOptions, Failure> {
    // SAFETY: forwarded from this function's contract.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(KernelOptions::default());
    };
    let opts = limits(o);
    if o.cookie.is_null() {
        return Ok(opts);
    }
    // SAFETY: not NULL, and NUL-terminated by this function's contract.
    let cookie = unsafe { args::text(o.cookie, "opts->cookie") }?;
    Ok(opts.with_cookie(cookie))
}

/// Every option but the cookie from C's, zeros meaning the defaults (shared
/// with notp_cluster_start(), whose cookie is an argument of its own).
pub(crate) fn limits(o: &CKernelOptions) -> KernelOptions {
    let defaults = KernelOptions::default();
    let or = |value: usize, default: usize| if value == 0 { default } else { value };
    let ms = |value: u32, default: Duration| {
        if value == 0 {
            default
        } else {
            Duration::from_millis(value.into())
        }
    };
    KernelOptions {
        cookie: None,
        retry: ms(o.retry_ms, defaults.retry),
        max_retries: (o.max_retries != 0).then_some(o.max_retries),
        max_queue: or(o.max_queue, defaults.max_queue),
        max_queue_bytes: or(o.max_queue_bytes, defaults.max_queue_bytes),
        max_frame: or(o.max_frame, defaults.max_frame),
        max_stream_bytes: or(o.max_stream_bytes, defaults.max_stream_bytes),
        max_inbound: or(o.max_inbound, defaults.max_inbound),
        max_pending: or(o.max_pending, defaults.max_pending),
        mailbox: or(o.mailbox, defaults.mailbox),
        stream_timeout: ms(o.stream_timeout_ms, defaults.stream_timeout),
    }
}

/// Borrows the kernel a handle wraps.
///
/// # Safety
/// As [`ownership::borrow`].
pub(crate) unsafe fn kernel<'a>(ptr: *const KernelHandle) -> Result<&'a Kernel, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ownership::borrow(ptr, "kernel") }.map(|h| &h.kernel)
}

pub(crate) fn stopped() -> Failure {
    NetError::Stopped.into()
}

// ---- life cycle -------------------------------------------------------------

/// The default options: no cookie, 5000 ms between reconnection attempts,
/// never giving a peer up, and the limits documented on each field.
#[no_mangle]
pub extern "C" fn notp_kernel_options_default() -> CKernelOptions {
    (&KernelOptions::default()).into()
}

/// Starts a kernel for node `id` listening on `host`:`port` (port 0 picks a
/// free port; notp_kernel_port() tells which). `opts` may be NULL for the
/// defaults. Blocks until the port is bound; not allowed inside callbacks
/// (NOTP_ERR_WRONG_THREAD). NOTP_ERR_NETWORK when the address cannot be
/// bound; NOTP_ERR_INVALID_ARGUMENT when an option cannot work. Release the
/// kernel with notp_kernel_free().
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_start(
    id: *const c_char,
    host: *const c_char,
    port: u16,
    opts: *const CKernelOptions,
    out: *mut *mut KernelHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let (id, host) = (args::text(id, "id")?, args::text(host, "host")?);
            let opts = kernel_options(opts)?;
            refuse_engine_thread("notp_kernel_start")?;
            let started = runtime()?.block_on(Kernel::start(Node::new(id, host, port), opts));
            Ok(give(KernelHandle {
                kernel: started?,
                lent: false,
            }))
        })
    }
}

/// Stops the kernel: stops listening, closes every connection, fails every
/// call still waiting (their callbacks get NOTP_ERR_STOPPED) and
/// unregisters every server (their handles still need notp_server_free()).
/// Does not block; stopping twice is harmless.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_stop(kernel: *const KernelHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            self::kernel(kernel)?.stop();
            Ok(())
        })
    }
}

/// Stops the kernel if it runs, and releases the handle. Servers and
/// deferred replies made from it stay valid until freed themselves. NULL is
/// ignored, and so is a kernel lent by notp_cluster_kernel() (its cluster
/// node owns it).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_free(kernel: *mut KernelHandle) {
    // SAFETY: the caller passes NULL, a kernel this library handed over, or
    // (against the header's const) one a cluster node lends.
    if let Some(handle) = unsafe { kernel.as_ref() } {
        if handle.lent {
            tracing::warn!("notp_kernel_free() ignored a kernel lent by a cluster node");
            return;
        }
        super::status::quietly(|| handle.kernel.stop());
    }
    // SAFETY: as above.
    unsafe { ownership::free(kernel) }
}

// ---- identity ---------------------------------------------------------------

/// Lends the kernel's own node (with the port actually bound), valid until
/// the kernel is freed.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_node(
    kernel: *const KernelHandle,
    out: *mut *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(ownership::lend(self::kernel(kernel)?.node()))) }
}

/// The port the kernel listens on.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_port(kernel: *const KernelHandle, out: *mut u16) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(self::kernel(kernel)?.node().port())) }
}

// ---- connections ------------------------------------------------------------

/// Opens (or keeps) the outbound connection to `node` and returns at once;
/// the connection is made, and remade when lost, on the engine threads.
/// Calls, casts and replies to a node travel on it, so two nodes that talk
/// both ways connect both ways. Connecting to the kernel's own node does
/// nothing. NOTP_ERR_STOPPED on a stopped kernel.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_connect(
    kernel: *const KernelHandle,
    node: *const Node,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let (kernel, node) = (self::kernel(kernel)?, ownership::borrow(node, "node")?);
            if kernel.connect(node).is_none() && node.id() != kernel.id() {
                return Err(stopped());
            }
            Ok(())
        })
    }
}

/// notp_kernel_connect(), then blocks until the connection is up, for at
/// most `timeout_ms` milliseconds (0: no limit). NOTP_ERR_TIMEOUT when it is
/// not up in time (the kernel keeps trying), NOTP_ERR_NETWORK when
/// `max_retries` ran out. Not allowed inside callbacks
/// (NOTP_ERR_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_connect_wait(
    kernel: *const KernelHandle,
    node: *const Node,
    timeout_ms: u32,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let (kernel, node) = (self::kernel(kernel)?, ownership::borrow(node, "node")?);
            refuse_engine_thread("notp_kernel_connect_wait")?;
            let Some(sink) = kernel.connect(node) else {
                return if node.id() == kernel.id() {
                    Ok(())
                } else {
                    Err(stopped())
                };
            };
            let limit = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()));
            let in_time = runtime()?.block_on(async {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, sink.wait_connected())
                        .await
                        .is_ok(),
                    None => {
                        sink.wait_connected().await;
                        true
                    }
                }
            });
            if !in_time {
                return Err(Failure::new(
                    Status::NOTP_ERR_TIMEOUT,
                    format!("no connection to {node} within {timeout_ms} ms"),
                ));
            }
            if sink.state() == SinkState::Closed {
                return Err(Failure::new(
                    Status::NOTP_ERR_NETWORK,
                    format!("the connection to {node} is closed (given up, or disconnected)"),
                ));
            }
            Ok(())
        })
    }
}

/// Closes the outbound connection to `node`: after writing what is queued,
/// or at once with `force`. A node with no connection is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_disconnect(
    kernel: *const KernelHandle,
    node: *const Node,
    force: bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            self::kernel(kernel)?.disconnect(ownership::borrow(node, "node")?, force);
            Ok(())
        })
    }
}

/// Whether the kernel has an outbound connection to `node`, up or being
/// (re)made (always true for the kernel's own node).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_is_connected(
    kernel: *const KernelHandle,
    node: *const Node,
    out: *mut bool,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(self::kernel(kernel)?.is_connected(ownership::borrow(node, "node")?))
        })
    }
}

/// Messages the kernel dropped so far, counted by reason, as JSON text
/// `{"UNKNOWN_TARGET":1,...}` (`{}` when none). Release it with
/// notp_string_free().
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_skipped_json(
    kernel: *const KernelHandle,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let counts: Map<String, Value> = self::kernel(kernel)?
                .skipped()
                .into_iter()
                .map(|(code, n)| (code.to_owned(), n.into()))
                .collect();
            give_string(Value::Object(counts).to_string())
        })
    }
}
