//! `notp_cluster_options_t`: how a cluster node connects, gossips and
//! persists, and its reading into the engine's options (zeros meaning the
//! defaults, as for the kernel's).

use std::ffi::c_char;
use std::path::PathBuf;

use super::super::args;
use super::super::kernel::CKernelOptions;
use super::super::status::Failure;
use super::super::vclock::CTrimOptions;
use engine::cluster::ClusterOptions;
use engine::gossip::GossipOptions;
use engine::net::KernelOptions;
use engine::TrimOptions;

/// How a cluster node connects, gossips and persists. Start from
/// notp_cluster_options_default(), or from all zeros: every numeric field
/// set to 0 takes its default. Other values pass to the engine as they are;
/// one that cannot work makes the start fail with
/// NOTP_ERR_INVALID_ARGUMENT, the message naming the option.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CClusterOptions {
    /// The kernel's options, as for notp_kernel_start(), except that
    /// `kernel.cookie` must be NULL: the cookie is notp_cluster_start()'s
    /// own argument.
    pub kernel: CKernelOptions,
    /// Virtual nodes per node inserted without a weight (default 3).
    pub rfactor: u32,
    /// Neighbours notp_cluster_find() and notp_cluster_range() add to a
    /// key's owner when no size is given (default 2).
    pub pfactor: u32,
    /// Gossip period in milliseconds: every period the node sends its ring
    /// to two members and retries unfinished meets (default 1000).
    pub interval_ms: u32,
    /// Period of writes to `flush_path`, in milliseconds (default 1000).
    pub flush_interval_ms: u32,
    /// File the node's ring and clock are saved to (NUL-terminated UTF-8),
    /// and loaded from at start; NULL keeps them in memory only (the
    /// default). Copied by notp_cluster_start().
    pub flush_path: *const c_char,
    /// How the ring's clock is trimmed on every period; each field 0 takes
    /// its default (see notp_trim_options_default()).
    pub trim: CTrimOptions,
    /// Periods during which an unanswered meet is retried (default 30).
    pub meet_retries: u32,
    /// Periods a removed node is remembered, so that gossip still holding
    /// it does not bring it back (default 600).
    pub tombstone_polls: u32,
    /// Ring events waiting for this node's callbacks (default 1024): past
    /// that, ring changes collapse into one and other events are dropped
    /// (see notp_cluster_on_ring_change()).
    pub event_backlog: usize,
}

fn millis(ms: u64) -> u32 {
    u32::try_from(ms).unwrap_or(u32::MAX)
}

impl From<&ClusterOptions> for CClusterOptions {
    fn from(o: &ClusterOptions) -> Self {
        let g = &o.gossip;
        CClusterOptions {
            kernel: (&o.kernel).into(),
            rfactor: g.rfactor,
            pfactor: g.pfactor,
            interval_ms: millis(g.interval),
            flush_interval_ms: millis(g.flush_interval),
            flush_path: std::ptr::null(),
            trim: g.trim.into(),
            meet_retries: g.meet_retries,
            tombstone_polls: g.tombstone_polls,
            event_backlog: g.event_backlog,
        }
    }
}

/// The kernel's options from C's, zeros meaning the defaults (as
/// notp_kernel_start() reads them).
fn kernel_options(o: &CKernelOptions) -> Result<KernelOptions, Failure> {
    if !o.cookie.is_null() {
        return Err(Failure::invalid(
            "`opts->kernel.cookie` must be NULL: a cluster node's cookie is the `cookie` argument",
        ));
    }
    Ok(super::super::kernel::limits(o))
}

/// Trim options, each zero field taking its default.
fn trim_options(t: &CTrimOptions) -> TrimOptions {
    let d = CTrimOptions::from(TrimOptions::default());
    let or = |value: u64, default: u64| if value == 0 { default } else { value };
    CTrimOptions {
        lower_bound: or(t.lower_bound, d.lower_bound),
        young_bound: or(t.young_bound, d.young_bound),
        upper_bound: or(t.upper_bound, d.upper_bound),
        old_bound: or(t.old_bound, d.old_bound),
    }
    .into()
}

/// The engine's options from C's, zeros meaning the defaults; NULL is all
/// defaults.
///
/// # Safety
/// `opts` is NULL or points to a readable `CClusterOptions` whose strings
/// are NULL or NUL-terminated.
// `..d` covers gossip options added later, which C cannot set yet.
#[allow(clippy::needless_update)]
pub(super) unsafe fn cluster_options(
    opts: *const CClusterOptions,
) -> Result<ClusterOptions, Failure> {
    // SAFETY: forwarded from this function's contract.
    let Some(o) = (unsafe { opts.as_ref() }) else {
        return Ok(ClusterOptions::default());
    };
    let d = GossipOptions::default();
    let or = |value: u32, default: u32| if value == 0 { default } else { value };
    let ms = |value: u32, default: u64| if value == 0 { default } else { value.into() };
    let flush_path = if o.flush_path.is_null() {
        None
    } else {
        // SAFETY: not NULL, and NUL-terminated by this function's contract.
        Some(PathBuf::from(unsafe {
            args::text(o.flush_path, "opts->flush_path")
        }?))
    };
    Ok(ClusterOptions {
        kernel: kernel_options(&o.kernel)?,
        gossip: GossipOptions {
            rfactor: or(o.rfactor, d.rfactor),
            pfactor: or(o.pfactor, d.pfactor),
            interval: ms(o.interval_ms, d.interval),
            flush_interval: ms(o.flush_interval_ms, d.flush_interval),
            flush_path,
            trim: trim_options(&o.trim),
            meet_retries: or(o.meet_retries, d.meet_retries),
            tombstone_polls: or(o.tombstone_polls, d.tombstone_polls),
            event_backlog: if o.event_backlog == 0 {
                d.event_backlog
            } else {
                o.event_backlog
            },
            ..d
        },
    })
}
