//! Reading what C hands over and handing values back. Every raw pointer
//! goes through one of these, so NULL checks, UTF-8 checks and their
//! messages are written once.
//!
//! The lifetimes these functions answer are unbounded: they are as long as
//! the caller keeps its side of the header's contract, which is exactly what
//! each function's `# Safety` says.

use std::borrow::Cow;
use std::ffi::{c_char, CStr, CString};
use std::mem::MaybeUninit;

use serde_json::Value;

use super::ownership::{self, Castable};
use super::status::{Failure, Status};

/// Reads a plain C struct passed by pointer (options), as opposed to a
/// handle.
///
/// # Safety
/// `ptr` is NULL or points to a readable `T`.
pub(crate) unsafe fn plain<T: Copy>(ptr: *const T, name: &str) -> Result<T, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ptr.as_ref() }
        .copied()
        .ok_or_else(|| Failure::null(name))
}

/// Reads a NUL-terminated UTF-8 string.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, and NUL-terminated by this function's contract.
    let raw = unsafe { CStr::from_ptr(ptr) };
    raw.to_str().map_err(|e| {
        Failure::new(
            Status::NOTP_ERR_UTF8,
            format!("`{name}` is not valid UTF-8: {e}"),
        )
    })
}

/// Reads JSON text into a value.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn json(ptr: *const c_char, name: &str) -> Result<Value, Failure> {
    // SAFETY: forwarded from this function's contract.
    let text = unsafe { self::text(ptr, name) }?;
    serde_json::from_str(text).map_err(|e| {
        Failure::new(
            Status::NOTP_ERR_JSON,
            format!("`{name}` is not JSON text: {e}"),
        )
    })
}

/// Reads `len` bytes.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, and `len` bytes long by this function's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An out-parameter, possibly uninitialised, to be filled with `write`.
///
/// # Safety
/// `ptr` is NULL or points to writable, suitably aligned room for a `T`.
pub(crate) unsafe fn out<'a, T>(
    ptr: *mut T,
    name: &str,
) -> Result<&'a mut MaybeUninit<T>, Failure> {
    // SAFETY: forwarded from this function's contract; `MaybeUninit` makes
    // no claim about the current content.
    unsafe { ptr.cast::<MaybeUninit<T>>().as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Copies text into a NUL-terminated string for C to own; released by
/// `notp_string_free`.
pub(crate) fn give_string(text: impl Into<Vec<u8>>) -> Result<*mut c_char, Failure> {
    CString::new(text)
        .map(CString::into_raw)
        .map_err(|_| Failure::invalid("the text holds a NUL byte, which a C string cannot carry"))
}

/// Text from the engine (or the network) as a C string. C cannot see past
/// a NUL byte, so any is spelled out as `\\0` rather than cutting the text.
pub(crate) fn c_string_lossy(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

/// A signed C `range` as the engine's optional range: zero or negative
/// means "the default".
pub(crate) fn range(range: i64) -> Option<usize> {
    (range > 0).then(|| usize::try_from(range).unwrap_or(usize::MAX))
}

/// The second operand of a call that changes the first (`merge`,
/// `intersect`). Rust may not hold `&mut` and `&` to one object at once, so
/// when C passes the same handle twice the operand is a copy.
///
/// # Safety
/// As [`ownership::borrow`] for `other`; `this` is only compared, never
/// read.
pub(crate) unsafe fn operand<'a, T: Castable + Clone>(
    this: *const T,
    other: *const T,
) -> Result<Cow<'a, T>, Failure> {
    // SAFETY: forwarded from this function's contract.
    let value = unsafe { ownership::borrow(other, "other") }?;
    Ok(if std::ptr::eq(this, other) {
        Cow::Owned(value.clone())
    } else {
        Cow::Borrowed(value)
    })
}
