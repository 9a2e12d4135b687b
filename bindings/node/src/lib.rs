//! The Node.js addon behind `require("notp")`.
//!
//! A thin translation layer: it converts JavaScript arguments and answers;
//! every rule lives in the `notp` crate. The JavaScript classes in `lib/`
//! (what `require("notp")` returns) sit on top of it.
//!
//! * Engine values (rings, cursors, clocks) live in per-thread registries
//!   ([`registry`]); a small owner object per value ties its lifetime to
//!   JavaScript, and the operations are plain functions taking its handle.
//! * Ring lookups answer with *slot numbers* (indices of distinct node
//!   values), so the JavaScript side hands out one cached `Node` object per
//!   slot instead of building objects across the boundary on every call.
//! * The hot paths are registered by hand ([`raw`]) to skip napi-rs's
//!   per-call bookkeeping.
//! * The network ([`kernel`]) runs on one shared tokio runtime
//!   ([`runtime`]); its events reach JavaScript in batches through one
//!   thread-safe function per started kernel ([`outbox`]).
//! * The gossip ring and the command server of a cluster node
//!   ([`cluster`]) run on the engine kernel of a started `NetKernel`; the
//!   ring's events reach JavaScript through a session of their own.
//!
//! Every exported function is marked `catch_unwind` (the raw ones catch
//! unwinds themselves): a panic becomes a JavaScript `Error` instead of
//! aborting the process.

#![deny(clippy::unwrap_used, clippy::expect_used)]
// napi-derive registers the exported functions only outside `cfg(test)`; in
// the test build (checked by `clippy --all-targets`, never run) they look
// unused.
#![cfg_attr(test, allow(dead_code))]

mod clock;
mod cluster;
mod cursor;
mod kernel;
mod outbox;
mod raw;
mod registry;
mod ring;
mod runtime;
mod uv;

use napi::{Error, Status};
use napi_derive::napi;

pub use clock::NativeClock;
pub use cluster::NativeGossip;
pub use cursor::NativeCursor;
pub use kernel::NativeKernel;
pub use ring::NativeRing;

/// Largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// Microseconds since the Unix epoch, never going backwards within the
/// process (node-microtime's `now()`).
#[napi(catch_unwind)]
pub fn microtime() -> f64 {
    notp::now_micros() as f64
}

/// An engine refusal as a JavaScript `Error` whose message names the problem.
pub(crate) fn engine_error(e: notp::Error) -> Error {
    Error::new(Status::GenericFailure, e.to_string())
}

/// An argument the JavaScript layer should have rejected already.
pub(crate) fn invalid_arg(name: &str, reason: &str) -> Error {
    Error::new(Status::InvalidArg, format!("`{name}` {reason}"))
}

/// A JavaScript number that must be a non-negative safe integer.
pub(crate) fn to_u64(name: &str, v: f64) -> napi::Result<u64> {
    if (0.0..=MAX_SAFE_INTEGER).contains(&v) && v.fract() == 0.0 {
        Ok(v as u64)
    } else {
        Err(invalid_arg(
            name,
            "must be a non-negative integer below 2^53",
        ))
    }
}

/// A JavaScript number used as a bound or limit: NaN and negatives are
/// rejected, fractions round down and values past the type's range
/// (including `Infinity`) saturate.
pub(crate) fn to_bound(name: &str, v: f64) -> napi::Result<u64> {
    if v >= 0.0 {
        Ok(v as u64)
    } else {
        Err(invalid_arg(name, "must be a non-negative number"))
    }
}

/// An unsigned engine number as a JavaScript number.
pub(crate) fn to_js(v: u64) -> f64 {
    v as f64
}
