//! Calls and casts to servers on other nodes (or on this one): the
//! asynchronous form answers through a C callback on an engine thread, the
//! `_wait` form blocks the calling thread.

use std::ffi::{c_char, c_void, CStr};
use std::time::Duration;

use super::args::{self, c_string_lossy, give_string};
use super::kernel::{kernel, stopped, KernelHandle};
use super::ownership;
use super::runtime::{refuse_engine_thread, runtime};
use super::status::{guard, Failure, Status};
use super::user_data::UserData;
use engine::gen_server;
use engine::net::{CallError, Kernel, Payload};
use engine::wire::js_json;
use engine::Node;

/// Runs once on an engine thread when a call ends. On NOTP_OK `reply_json`
/// is the answer as JSON text and `error_message` is NULL; otherwise
/// `error_message` says why, and `reply_json` is NULL except for
/// NOTP_ERR_REMOTE, where it is the remote error object
/// (`{"message":...,"_error":true,...}`). Both strings are lent for the
/// duration of the call only.
pub type ReplyCallback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        status: Status,
        reply_json: *const c_char,
        error_message: *const c_char,
    ),
>;

/// A call's callback, run exactly once: with the outcome, or, should the
/// call be abandoned without one (a panic in the engine), with
/// NOTP_ERR_PANIC when it is dropped.
pub(crate) struct Completion {
    callback: unsafe extern "C" fn(*mut c_void, Status, *const c_char, *const c_char),
    user_data: UserData,
    done: bool,
}

impl Completion {
    pub(crate) fn new(
        callback: unsafe extern "C" fn(*mut c_void, Status, *const c_char, *const c_char),
        user_data: UserData,
    ) -> Completion {
        Completion {
            callback,
            user_data,
            done: false,
        }
    }

    pub(crate) fn finish(mut self, outcome: Result<Payload, CallError>) {
        let (status, reply, message) = match outcome {
            Ok(payload) => (
                Status::NOTP_OK,
                Some(c_string_lossy(&payload.to_wire())),
                None,
            ),
            Err(e) => {
                let reply = match &e {
                    CallError::Remote(error) => Some(c_string_lossy(&js_json::to_string(error))),
                    _ => None,
                };
                let failure = Failure::from(e);
                (
                    failure.status(),
                    reply,
                    Some(c_string_lossy(failure.message())),
                )
            }
        };
        self.run(status, reply.as_deref(), message.as_deref());
    }

    fn run(&mut self, status: Status, reply: Option<&CStr>, message: Option<&CStr>) {
        self.done = true;
        let text = |s: Option<&CStr>| s.map_or(std::ptr::null(), CStr::as_ptr);
        // SAFETY: the callback and its user data are the caller's, given
        // together to notp_kernel_call(), which documents that it runs once
        // on an engine thread with strings valid for the call.
        unsafe { (self.callback)(self.user_data.0, status, text(reply), text(message)) };
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if !self.done {
            let message = c"the call was abandoned: libnotp panicked";
            self.run(Status::NOTP_ERR_PANIC, None, Some(message));
        }
    }
}

/// The arguments every call and cast reads.
pub(crate) struct Target<'a> {
    pub(crate) kernel: &'a Kernel,
    pub(crate) node: &'a Node,
    pub(crate) server: &'a str,
}

/// # Safety
/// The pointers follow the header's contract.
pub(crate) unsafe fn target<'a>(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
) -> Result<Target<'a>, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        Ok(Target {
            kernel: self::kernel(kernel)?,
            node: ownership::borrow(node, "node")?,
            server: args::text(server, "server")?,
        })
    }
}

/// A GenServer body `{"event":..., "data":...}`.
///
/// # Safety
/// The pointers follow the header's contract.
unsafe fn body(event: *const c_char, data_json: *const c_char) -> Result<Payload, Failure> {
    // SAFETY: forwarded from this function's contract.
    let (event, data) = unsafe {
        (
            args::text(event, "event")?,
            args::json(data_json, "data_json")?,
        )
    };
    Ok(gen_server::body(event, data))
}

/// A raw body.
///
/// # Safety
/// The pointers follow the header's contract.
unsafe fn raw_body(data_json: *const c_char) -> Result<Payload, Failure> {
    // SAFETY: forwarded from this function's contract.
    Ok(Payload::Json(unsafe {
        args::json(data_json, "data_json")
    }?))
}

pub(crate) fn timeout(timeout_ms: u32) -> Option<Duration> {
    (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into()))
}

/// The engine's call, except that a stopped kernel says so (the engine
/// reports its peers as unknown by then, their connections being gone).
async fn call(
    kernel: &Kernel,
    node: &Node,
    server: &str,
    payload: &Payload,
    timeout_ms: u32,
) -> Result<Payload, CallError> {
    if kernel.is_stopped() {
        return Err(CallError::Stopped);
    }
    kernel
        .call(node, server, payload, timeout(timeout_ms))
        .await
}

/// Starts a call whose outcome goes to `callback`.
fn call_async(
    to: Target<'_>,
    payload: Payload,
    timeout_ms: u32,
    callback: ReplyCallback,
    user_data: *mut c_void,
) -> Result<(), Failure> {
    let callback = callback.ok_or_else(|| Failure::null("callback"))?;
    let user_data = UserData(user_data);
    let (kernel, node, server) = (to.kernel.clone(), to.node.clone(), to.server.to_owned());
    runtime()?.spawn(async move {
        let completion = Completion::new(callback, user_data);
        let outcome = call(&kernel, &node, &server, &payload, timeout_ms).await;
        completion.finish(outcome);
    });
    Ok(())
}

/// Makes a call and blocks until it ends.
fn call_blocking(
    to: Target<'_>,
    payload: Payload,
    timeout_ms: u32,
    function: &str,
) -> Result<*mut c_char, Failure> {
    refuse_engine_thread(function)?;
    let reply = runtime()?.block_on(call(to.kernel, to.node, to.server, &payload, timeout_ms))?;
    give_string(reply.to_wire())
}

fn cast(to: Target<'_>, payload: Payload) -> Result<(), Failure> {
    if to.kernel.is_stopped() {
        return Err(stopped());
    }
    to.kernel.cast(to.node, to.server, &payload);
    Ok(())
}

/// The answer slot of a `_wait` call, checked before anything is sent.
///
/// # Safety
/// As [`args::out`].
unsafe fn reply_slot<'a>(
    out: *mut *mut c_char,
) -> Result<&'a mut std::mem::MaybeUninit<*mut c_char>, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { args::out(out, "reply_json") }
}

// ---- GenServer calls --------------------------------------------------------

/// Calls `event` on GenServer `server` of `node` with data `data_json` (JSON
/// text) and returns at once; `callback(user_data, ...)` runs exactly once
/// on an engine thread when the call ends: answered, failed, timed out after
/// `timeout_ms` milliseconds (0: no limit), or failed by notp_kernel_stop().
/// `user_data` may be NULL; it must stay valid until the callback has run.
/// Any status but NOTP_OK means the call was not made and the callback will
/// not run. The node must be connected (NOTP_ERR_UNKNOWN_NODE, through the
/// callback), unless it is the kernel's own.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_call(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    event: *const c_char,
    data_json: *const c_char,
    timeout_ms: u32,
    callback: ReplyCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let to = target(kernel, node, server)?;
            call_async(to, body(event, data_json)?, timeout_ms, callback, user_data)
        })
    }
}

/// notp_kernel_call(), blocking until the call ends; the answer's JSON text
/// goes to `*reply_json` (release it with notp_string_free()). Fails with
/// the statuses the callback would get (the message in notp_last_error()).
/// Not allowed inside callbacks (NOTP_ERR_WRONG_THREAD).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_call_wait(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    event: *const c_char,
    data_json: *const c_char,
    timeout_ms: u32,
    reply_json: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let slot = reply_slot(reply_json)?;
            let to = target(kernel, node, server)?;
            let reply = call_blocking(
                to,
                body(event, data_json)?,
                timeout_ms,
                "notp_kernel_call_wait",
            )?;
            slot.write(reply);
            Ok(())
        })
    }
}

/// Sends `event` with data `data_json` to GenServer `server` of `node`
/// without waiting for anything. As in the original, a cast to a node with
/// no connection is dropped silently. NOTP_ERR_STOPPED on a stopped kernel.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_cast(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    event: *const c_char,
    data_json: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| cast(target(kernel, node, server)?, body(event, data_json)?)) }
}

// ---- raw calls --------------------------------------------------------------

/// notp_kernel_call() with `data_json` as the whole body instead of
/// `{"event","data"}` (for raw servers; JSON of the form
/// `{"type":"Buffer","data":[...]}` arrives as bytes).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_call_raw(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    data_json: *const c_char,
    timeout_ms: u32,
    callback: ReplyCallback,
    user_data: *mut c_void,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let to = target(kernel, node, server)?;
            call_async(to, raw_body(data_json)?, timeout_ms, callback, user_data)
        })
    }
}

/// notp_kernel_call_wait() with `data_json` as the whole body.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_call_raw_wait(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    data_json: *const c_char,
    timeout_ms: u32,
    reply_json: *mut *mut c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let slot = reply_slot(reply_json)?;
            let to = target(kernel, node, server)?;
            let reply = call_blocking(
                to,
                raw_body(data_json)?,
                timeout_ms,
                "notp_kernel_call_raw_wait",
            )?;
            slot.write(reply);
            Ok(())
        })
    }
}

/// notp_kernel_cast() with `data_json` as the whole body.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_cast_raw(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    data_json: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| cast(target(kernel, node, server)?, raw_body(data_json)?)) }
}
