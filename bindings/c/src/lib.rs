//! The C door: `extern "C"` functions over the engine's values, kernels,
//! servers and cluster nodes, built as `libnotp.so` / `libnotp.a` and
//! declared in `include/libnotp.h` (generated from this crate by its
//! `build.rs`). The engine itself (the `notp` crate, named `engine` here)
//! has no C in it.
//!
//! The header's preamble (in `cbindgen.toml`) states the contract every
//! function here relies on: pointers are NULL or valid, handles are used by
//! one thread at a time, borrowed nodes die with their owner's next change.
//! NULL and bad UTF-8 are checked; a dangling pointer cannot be.
//!
//! Each function is a thin translation: read the arguments through `args`,
//! call the engine, write the answer, all inside `status::guard`, which
//! turns errors and panics into a `notp_status_t` and a message.

// The safety contract is the same for every function and is stated once, in
// the header preamble, rather than in a `# Safety` section on each.
#![allow(clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod args;
mod ownership;
mod status;
mod user_data;

// The header lists functions in the order of these modules.
pub mod library;

pub mod node;

pub mod chash;

pub mod node_list;

pub mod ring_iter;

pub mod vclock;

pub mod runtime;

pub mod kernel;

pub mod server;

pub mod call;

pub mod stream;

pub mod cluster;

pub use call::ReplyCallback;
pub use cluster::{
    CClusterOptions, CEventCounts, ClusterHandle, RingChangeCallback, RingCloseCallback,
    RingConflictCallback, RingLeaveCallback, RingSendCallback,
};
pub use kernel::{CKernelOptions, KernelHandle};
pub use node_list::NodeList;
pub use server::{MessageCallback, ReplyHandle, Request, ServerHandle};
pub use status::Status;
pub use stream::StreamHandle;
pub use vclock::{CClockEntry, CTrimOptions};
