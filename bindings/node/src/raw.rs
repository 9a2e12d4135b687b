//! Raw N-API entry points for the hot paths (ring lookups, clock updates).
//!
//! napi-rs wraps every generated function in argument-borrow tracking that
//! costs a few hundred nanoseconds per call, more than a ring lookup itself.
//! The handful of functions a program calls per request are therefore
//! registered by hand: they read their arguments with plain N-API calls
//! (string keys land in a stack buffer, no allocation), run the engine, and
//! answer a number or a boolean. Everything else goes through napi-rs.
//!
//! Each body runs under `catch_unwind`; an error or a panic becomes a thrown
//! JavaScript `Error`. The functions are registered in the crate root, which
//! knows every door; this module only has the means to write them.

use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use bytes::Bytes;
use napi::sys::{self, napi_callback_info, napi_env, napi_value, Status, TypedarrayType};
use notp::net::Payload;
use serde_json::Value;

pub(crate) type Outcome = Result<napi_value, String>;

pub(crate) fn check(status: sys::napi_status, what: &str) -> Result<(), String> {
    if status == Status::napi_ok {
        Ok(())
    } else {
        Err(format!("{what} failed (N-API status {status})"))
    }
}

pub(crate) fn reason(e: napi::Error) -> String {
    e.reason.clone()
}

/// Runs a callback body; an error or a panic is thrown as an `Error`.
///
/// # Safety
/// `env` must be the environment of the callback being run.
pub(crate) unsafe fn run(env: napi_env, body: impl FnOnce() -> Outcome) -> napi_value {
    let message = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(message)) => message,
        Err(payload) => napi::bindgen_prelude::panic_to_error(payload)
            .reason
            .clone(),
    };
    let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: `env` is live (caller's contract) and `text` outlives the call.
    unsafe { sys::napi_throw_error(env, ptr::null(), text.as_ptr()) };
    ptr::null_mut()
}

/// The first `N` arguments (missing ones read as `undefined`).
///
/// # Safety
/// `env` and `info` must be those of the callback being run.
pub(crate) unsafe fn args<const N: usize>(
    env: napi_env,
    info: napi_callback_info,
) -> Result<[napi_value; N], String> {
    let mut argc = N;
    let mut argv = [ptr::null_mut(); N];
    // SAFETY: `argv` has room for `argc` values; `this` and `data` are not
    // wanted.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut::<*mut c_void>(),
        )
    };
    check(status, "reading arguments")?;
    Ok(argv)
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_u32(env: napi_env, v: napi_value, name: &str) -> Result<u32, String> {
    let mut out = 0;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_uint32(env, v, &mut out) };
    check(status, name).map(|_| out)
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_bool(env: napi_env, v: napi_value, name: &str) -> Result<bool, String> {
    let mut out = false;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_bool(env, v, &mut out) };
    check(status, name).map(|_| out)
}

/// Room for the UTF-8 of most keys, on the stack.
const STACK_TEXT: usize = 256;

/// Calls `f` with the UTF-8 bytes of a JavaScript string (lone surrogates
/// become U+FFFD, as in Node's own UTF-8 encoding).
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn with_utf8<R>(
    env: napi_env,
    v: napi_value,
    name: &str,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, String> {
    let mut buf = [0u8; STACK_TEXT];
    let mut len = 0;
    // SAFETY: `buf` has room for STACK_TEXT bytes, including the NUL that
    // N-API always writes.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            v,
            buf.as_mut_ptr().cast::<c_char>(),
            STACK_TEXT,
            &mut len,
        )
    };
    check(status, name)?;
    // N-API writes whole characters only (at most 4 bytes each) and keeps
    // one byte for the NUL: with 4 bytes still free, nothing was cut off.
    if len + 4 < STACK_TEXT {
        return Ok(f(&buf[..len]));
    }
    let mut total = 0;
    // SAFETY: a null buffer asks only for the length.
    let status = unsafe { sys::napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut total) };
    check(status, name)?;
    let mut heap = vec![0u8; total + 1];
    // SAFETY: `heap` has room for the whole string and its NUL.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            v,
            heap.as_mut_ptr().cast::<c_char>(),
            heap.len(),
            &mut len,
        )
    };
    check(status, name)?;
    Ok(f(&heap[..len.min(total)]))
}

/// A typed array's kind, length (in elements) and data (null when
/// empty), or `None` when `v` is not a typed array.
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn typed_array(
    env: napi_env,
    v: napi_value,
) -> Option<(sys::napi_typedarray_type, usize, *mut c_void)> {
    let mut kind = 0;
    let mut length = 0;
    let mut data = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let mut offset = 0;
    // SAFETY: caller's contract; all out-pointers are valid.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            v,
            &mut kind,
            &mut length,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    };
    (status == Status::napi_ok).then_some((kind, length, data))
}

/// Calls `f` with the memory of an ArrayBuffer as `u32`s (the JavaScript
/// layer passes the buffer of its Uint32Array). An ArrayBuffer rather than
/// the typed array: N-API answers a typed array's element type by testing
/// each kind in turn and reaches its memory through a reference-counted
/// backing store, which cost a tenth of a `rangeNext`; an ArrayBuffer's
/// byte length and data are two plain reads.
///
/// # Safety
/// `env` must be live and `v` a value of the current scope. The buffer must
/// not be reachable from any other Rust reference during the call.
pub(crate) unsafe fn with_u32_buffer<R>(
    env: napi_env,
    v: napi_value,
    f: impl FnOnce(&mut [u32]) -> R,
) -> Result<R, String> {
    let mut data = ptr::null_mut();
    let mut bytes = 0;
    // SAFETY: caller's contract; both out-pointers are valid.
    let status = unsafe { sys::napi_get_arraybuffer_info(env, v, &mut data, &mut bytes) };
    if status != Status::napi_ok {
        return Err("`out` must be the ArrayBuffer of a Uint32Array".into());
    }
    let length = bytes / 4;
    if length == 0 || data.is_null() {
        return Ok(f(&mut []));
    }
    if data.align_offset(std::mem::align_of::<u32>()) != 0 {
        return Err("`out` must be the ArrayBuffer of a Uint32Array (4-byte aligned)".into());
    }
    // SAFETY: the buffer holds `bytes` bytes at `data`, which is aligned for
    // u32 (checked above), so `length` u32s fit. Native code runs on the JS
    // thread, so no JavaScript touches the memory during the call, and the
    // caller guarantees no other Rust reference to it exists.
    let out = unsafe { std::slice::from_raw_parts_mut(data.cast::<u32>(), length) };
    Ok(f(out))
}

/// # Safety
/// `env` must be live.
pub(crate) unsafe fn number(env: napi_env, v: f64) -> Outcome {
    let mut out = ptr::null_mut();
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_create_double(env, v, &mut out) };
    check(status, "creating a number").map(|_| out)
}

/// # Safety
/// `env` must be live.
pub(crate) unsafe fn boolean(env: napi_env, v: bool) -> Outcome {
    let mut out = ptr::null_mut();
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_boolean(env, v, &mut out) };
    check(status, "creating a boolean").map(|_| out)
}

/// `undefined` (N-API turns a null result into `undefined`).
pub(crate) fn undefined() -> Outcome {
    Ok(ptr::null_mut())
}

/// A string argument as an owned `String`.
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_string(
    env: napi_env,
    v: napi_value,
    name: &str,
) -> Result<String, String> {
    // SAFETY: caller's contract.
    unsafe { with_utf8(env, v, name, |b| String::from_utf8_lossy(b).into_owned()) }
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_f64(env: napi_env, v: napi_value, name: &str) -> Result<f64, String> {
    let mut out = 0.0;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_double(env, v, &mut out) };
    check(status, name).map(|_| out)
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_i64(env: napi_env, v: napi_value, name: &str) -> Result<i64, String> {
    let mut out = 0;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_int64(env, v, &mut out) };
    check(status, name).map(|_| out)
}

/// A payload as the JavaScript layer passes it: JSON text (a string), or
/// bytes (a Buffer or another Uint8Array).
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
pub(crate) unsafe fn get_payload(env: napi_env, v: napi_value) -> Result<Payload, String> {
    let mut kind = 0;
    // SAFETY: caller's contract; `kind` is a valid out-pointer.
    check(unsafe { sys::napi_typeof(env, v, &mut kind) }, "data")?;
    if kind == sys::ValueType::napi_string {
        // SAFETY: caller's contract.
        return unsafe {
            with_utf8(env, v, "data", |text| {
                serde_json::from_slice::<Value>(text)
                    .map(Payload::Json)
                    .map_err(|e| format!("`data` is not JSON text: {e}"))
            })
        }?;
    }
    // SAFETY: caller's contract.
    let Some((TypedarrayType::uint8_array | TypedarrayType::uint8_clamped_array, length, data)) =
        (unsafe { typed_array(env, v) })
    else {
        return Err("`data` must be JSON text or a Uint8Array".into());
    };
    if length == 0 || data.is_null() {
        return Ok(Payload::Bytes(Bytes::new()));
    }
    // SAFETY: a Uint8Array's data is `length` bytes; this runs on the JS
    // thread, so nothing changes them while they are copied.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) };
    Ok(Payload::Bytes(Bytes::copy_from_slice(bytes)))
}
