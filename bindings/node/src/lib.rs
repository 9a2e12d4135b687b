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
//! * The hot paths are registered by hand ([`raw`], the table below) to skip
//!   napi-rs's per-call bookkeeping.
//! * The network ([`kernel`]) runs on one shared tokio runtime
//!   ([`runtime`]). Its events ([`event`]) queue in a [`session`] per
//!   started kernel and reach JavaScript in batches ([`batch`],
//!   [`delivery`]) through one thread-safe function, or straight from the
//!   JavaScript thread when it read the connection itself ([`uv`]). Calls
//!   are futures polled on the JavaScript thread ([`executor`]).
//! * The gossip ring and the command server of a cluster node
//!   ([`cluster`]) run on the engine kernel of a started `NetKernel`; the
//!   ring's events reach JavaScript through a session of their own.
//! * The numbers both halves agree on (event kinds, answers) are defined
//!   once, in [`codes`], and handed to JavaScript.
//!
//! Every exported function is marked `catch_unwind` (the raw ones catch
//! unwinds themselves): a panic becomes a JavaScript `Error` instead of
//! aborting the process.
//!
//! Modules depend on each other in one direction only: the crate root
//! knows every door (for the table of raw functions); doors use the
//! session layer, which uses the plain tables and formats below it.

#![deny(clippy::unwrap_used, clippy::expect_used)]
// napi-derive registers the exported functions only outside `cfg(test)`; in
// the test build (checked by `clippy --all-targets`, never run) they look
// unused.
#![cfg_attr(test, allow(dead_code))]

mod batch;
mod clock;
mod cluster;
mod codes;
mod convert;
mod cursor;
mod delivery;
mod event;
mod executor;
mod kernel;
mod raw;
mod registry;
mod ring;
mod runtime;
mod session;
mod slots;
mod uv;

use std::ffi::CStr;
use std::ptr;

use napi::bindgen_prelude::{Env, Object};
use napi::sys::{self, napi_callback_info, napi_env, napi_value};
use napi::JsValue;
use napi_derive::napi;

/// Microseconds since the Unix epoch, never going backwards within the
/// process (node-microtime's `now()`).
#[napi(catch_unwind)]
pub fn microtime() -> f64 {
    notp::now_micros() as f64
}

type RawFn = unsafe extern "C" fn(napi_env, napi_callback_info) -> napi_value;

/// The hand-registered functions ([`raw`]), by their JavaScript names.
const RAW_FUNCTIONS: &[(&CStr, RawFn)] = &[
    (c"ringFind", ring::raw_find),
    (c"ringRange", ring::raw_range),
    (c"ringNeighbours", ring::raw_neighbours),
    (c"ringGet", ring::raw_get),
    (c"clockMerge", clock::raw_merge),
    (c"clockDescends", clock::raw_descends),
    (c"kernelCall", kernel::requests::raw_call),
    (c"kernelCast", kernel::requests::raw_cast),
    (c"kernelReply", kernel::requests::raw_reply),
];

#[napi(module_exports)]
pub fn register_raw(exports: Object, env: Env) -> napi::Result<()> {
    for (name, cb) in RAW_FUNCTIONS {
        let mut f = ptr::null_mut();
        // SAFETY: `env` is the live environment of module initialisation,
        // `name` is NUL-terminated (length -1 asks N-API to measure it) and
        // `f` is a valid out-pointer.
        let status = unsafe {
            sys::napi_create_function(
                env.raw(),
                name.as_ptr(),
                -1,
                Some(*cb),
                ptr::null_mut(),
                &mut f,
            )
        };
        raw::check(status, "creating a native function").map_err(napi::Error::from_reason)?;
        // SAFETY: as above; `exports` is the module's exports object and `f`
        // the function just created.
        let status =
            unsafe { sys::napi_set_named_property(env.raw(), exports.raw(), name.as_ptr(), f) };
        raw::check(status, "exporting a native function").map_err(napi::Error::from_reason)?;
    }
    Ok(())
}
