//! The caller's `void *user_data`, carried to the engine threads that run
//! its callbacks.

use std::ffi::c_void;

/// An opaque pointer handed back, untouched, to the callback it came with.
/// libnotp never reads or frees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: libnotp only stores the pointer and passes it back to the caller's
// own callback, on an engine thread. The header makes the caller answerable
// for that: what it points to must stay valid until the callback's last run
// and be usable from another thread than the one that registered it.
unsafe impl Send for UserData {}
