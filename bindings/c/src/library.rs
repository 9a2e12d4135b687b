//! The library itself: version, last error, and releasing strings.

use std::ffi::{c_char, CString};

use super::status::{drop_quietly, last_error};

/// The library version as "major.minor.patch" (a static string; do not free).
#[no_mangle]
pub extern "C" fn notp_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The message left by the last failed call on this thread, or "" after a
/// successful one. Valid until the next libnotp call on this thread; do not
/// free.
#[no_mangle]
pub extern "C" fn notp_last_error() -> *const c_char {
    last_error::get()
}

/// Releases a string returned through a `char **out` parameter. NULL is
/// ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_string_free(text: *mut c_char) {
    if !text.is_null() {
        // SAFETY: the caller passes a string this library made with
        // `CString::into_raw` and has not freed yet.
        drop_quietly(unsafe { CString::from_raw(text) });
    }
}
