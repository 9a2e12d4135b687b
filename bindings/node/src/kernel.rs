//! The kernel door: a [`notp::net::Kernel`] per JavaScript `NetKernel`,
//! behind a handle.
//!
//! Starting binds on the shared runtime and answers at once; the bound port
//! arrives with the `Ready` event. Everything the engine reports (messages
//! for local targets, call results, connections, dropped messages) comes
//! back through the session's event queue ([`crate::outbox`]). Calls,
//! casts and replies, the per-request paths, are raw N-API functions; a
//! call is a future polled on the JavaScript thread (no task per call),
//! and frames sent from this thread are written to the socket directly
//! when nothing is queued ahead of them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use napi::bindgen_prelude::{Env, Function};
use napi::sys::{self, napi_callback_info, napi_env, napi_value, Status, TypedarrayType};
use napi::JsValue;
use napi_derive::napi;
use notp::net::embed::Embedded;
use notp::net::{error_value, Kernel, KernelOptions, Payload};
use notp::Node;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use crate::outbox::{Event, Session};
use crate::raw;
use crate::registry::{busy, with_entry, Registry};
use crate::ring::NodeFields;
use crate::runtime::runtime;
use crate::{invalid_arg, to_bound};

#[derive(Default)]
pub(crate) struct KernelEntry {
    /// The current start, if any.
    session: Option<Arc<Session>>,
}

thread_local! {
    static KERNELS: Registry<KernelEntry> = const { Registry::new() };
}

/// Answers of the request functions (`kernelCall`, `kernelConnect`, …).
mod answer {
    /// Sent; the outcome arrives as an event.
    pub const PENDING: u32 = 0;
    /// No connection to that node (or, for `kernelConnect`, one exists).
    pub const UNKNOWN_NODE: u32 = 1;
    /// The kernel does not run (not started, still binding, or stopped).
    pub const NOT_RUNNING: u32 = 2;
    /// Refused; the error arrives as the call's event.
    pub const FAILED: u32 = 3;
}

/// Owns one kernel slot; stopping and collecting it end any running start.
#[napi]
pub struct NativeKernel {
    handle: u32,
}

#[napi]
impl NativeKernel {
    #[napi(constructor, catch_unwind)]
    pub fn new() -> napi::Result<Self> {
        let handle = KERNELS
            .try_with(|r| r.add(KernelEntry::default()))
            .map_err(|_| busy())??;
        Ok(NativeKernel { handle })
    }

    /// The handle the `kernel*` functions take.
    #[napi(getter, catch_unwind)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Drop for NativeKernel {
    fn drop(&mut self) {
        if let Ok(Some(session)) = with_entry!(KERNELS, self.handle, |e| e.session.take()) {
            session.close();
        }
        // Fails only while the thread is being torn down.
        let _ = KERNELS.try_with(|r| r.remove(self.handle));
    }
}

fn session(h: u32) -> napi::Result<Option<Arc<Session>>> {
    with_entry!(KERNELS, h, |e| e.session.clone())
}

/// The session and its engine kernel, when it runs.
fn running(h: u32) -> napi::Result<Option<(Arc<Session>, Kernel)>> {
    Ok(session(h)?.and_then(|s| {
        let kernel = s.kernel()?.clone();
        Some((s, kernel))
    }))
}

/// A node addressed by id (calls, casts and replies only look at the id).
fn by_id(id: String) -> Node {
    Node::new(id, String::new(), 0)
}

fn make_node(id: String, host: String, port: u32) -> napi::Result<Node> {
    let port = u16::try_from(port).map_err(|_| invalid_arg("port", "must be from 0 to 65535"))?;
    Ok(Node::new(id, host, port))
}

/// A timeout in ms; negative, NaN, infinite or absurd means "wait forever".
fn timeout_of(ms: f64) -> Option<Duration> {
    if ms >= 0.0 && ms.is_finite() {
        Duration::try_from_secs_f64(ms / 1000.0).ok()
    } else {
        None
    }
}

/// How a kernel starts; the JavaScript layer fills in the defaults.
#[napi(object)]
pub struct StartOptions {
    pub id: String,
    pub host: String,
    pub port: u32,
    /// Empty or absent: no cookie, every message accepted.
    pub cookie: Option<String>,
    /// ms between reconnection attempts.
    pub retry: f64,
    /// Failed attempts in a row before giving up a peer; Infinity: never.
    pub max_retries: f64,
    /// Frames queued per peer while its connection is down.
    pub max_len: Option<f64>,
    /// ms a streamed body may take to arrive completely.
    pub stream_timeout: Option<f64>,
}

/// Starts listening (asynchronously: `Ready` or `StartFailed` follows) and
/// makes `dispatch(text, buffers)` the receiver of this kernel's events.
/// A previous start of the same kernel is stopped first.
#[napi(catch_unwind)]
pub fn kernel_start(
    env: Env,
    h: u32,
    opts: StartOptions,
    dispatch: Function<'_>,
) -> napi::Result<()> {
    let rt = runtime().map_err(napi::Error::from_reason)?;
    let node = make_node(opts.id, opts.host, opts.port)?;
    let mut options = KernelOptions {
        retry: Duration::from_millis(to_bound("retry", opts.retry)?),
        max_retries: (opts.max_retries >= 0.0 && opts.max_retries.is_finite())
            .then(|| opts.max_retries.min(f64::from(u32::MAX)) as u32),
        ..KernelOptions::default()
    };
    if let Some(max_len) = opts.max_len {
        options.max_queue = usize::try_from(to_bound("maxLen", max_len)?).unwrap_or(usize::MAX);
    }
    // Values that cannot work are the engine's to refuse (`StartFailed`).
    if let Some(t) = opts.stream_timeout {
        options.stream_timeout = Duration::from_millis(to_bound("streamTimeout", t)?);
    }
    let options = options.with_cookie(opts.cookie.unwrap_or_default());
    let session = Arc::new(Session::default());
    // SAFETY: `env` is the environment of this call and `dispatch` one of
    // its arguments.
    unsafe { session.attach(env.raw(), dispatch.raw()) }.map_err(napi::Error::from_reason)?;
    let previous = with_entry!(KERNELS, h, |e| e.session.replace(session.clone()));
    match previous {
        Ok(Some(old)) => old.close(),
        Ok(None) => {}
        Err(e) => {
            session.close();
            return Err(e);
        }
    }
    rt.spawn(async move {
        match Kernel::start(node, options).await {
            Ok(kernel) => {
                let mut skips = kernel.subscribe_skips();
                let reporter = session.clone();
                let task = tokio::spawn(async move {
                    loop {
                        match skips.recv().await {
                            Ok(skip) => reporter.push(Event::Skip(skip)),
                            Err(RecvError::Lagged(_)) => continue,
                            Err(RecvError::Closed) => break,
                        }
                    }
                });
                session.add_task(task.abort_handle());
                // Accepted connections are read from the JavaScript thread
                // too (see `uv`).
                let weak = Arc::downgrade(&session);
                kernel.on_inbound(Some(Arc::new(move |reader| {
                    if let Some(session) = weak.upgrade() {
                        session.push(Event::Inbound(reader));
                    }
                })));
                if let Err(kernel) = session.set_kernel(kernel) {
                    kernel.stop();
                }
            }
            Err(e) => session.push(Event::StartFailed(e.to_string())),
        }
    });
    Ok(())
}

/// Stops the kernel: closes every connection, fails waiting calls, and
/// releases everything that kept the event loop alive.
#[napi(catch_unwind)]
pub fn kernel_stop(h: u32) -> napi::Result<()> {
    if let Some(session) = with_entry!(KERNELS, h, |e| e.session.take())? {
        session.close();
    }
    Ok(())
}

/// Whether the kernel listens (started, bound and not stopped).
#[napi(catch_unwind)]
pub fn kernel_running(h: u32) -> napi::Result<bool> {
    Ok(running(h)?.is_some_and(|(s, _)| !s.is_closed()))
}

/// Opens the outbound connection to a node. `PENDING`: a `Connected`
/// event follows once it is up; `UNKNOWN_NODE`: it already existed;
/// `NOT_RUNNING`: nothing was done.
#[napi(catch_unwind)]
pub fn kernel_connect(h: u32, id: String, host: String, port: u32) -> napi::Result<u32> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(answer::NOT_RUNNING);
    };
    let node = make_node(id, host, port)?;
    if kernel.is_connected(&node) {
        return Ok(answer::UNKNOWN_NODE);
    }
    let Some(sink) = kernel.connect(&node) else {
        return Ok(answer::NOT_RUNNING);
    };
    let rt = runtime().map_err(napi::Error::from_reason)?;
    rt.spawn(async move {
        sink.wait_connected().await;
        if sink.state() == notp::net::SinkState::Active {
            session.push(Event::Connected(sink.node().id().to_owned()));
        }
    });
    Ok(answer::PENDING)
}

#[napi(catch_unwind)]
pub fn kernel_disconnect(h: u32, id: String, force: bool) -> napi::Result<()> {
    if let Some((_, kernel)) = running(h)? {
        kernel.disconnect(&by_id(id), force);
    }
    Ok(())
}

/// Whether an outbound connection to that node exists.
#[napi(catch_unwind)]
pub fn kernel_is_connected(h: u32, id: String) -> napi::Result<bool> {
    Ok(running(h)?.is_some_and(|(_, k)| k.connection(&by_id(id)).is_some()))
}

/// Every outbound connection's node.
#[napi(catch_unwind)]
pub fn kernel_sinks(h: u32) -> napi::Result<Vec<NodeFields>> {
    Ok(running(h)?
        .map(|(_, k)| {
            k.sinks()
                .iter()
                .map(|s| NodeFields::from(s.node()))
                .collect()
        })
        .unwrap_or_default())
}

/// The state of one outbound connection.
#[napi(object)]
pub struct SinkInfo {
    /// 0 connecting, 1 connected, 2 closed.
    pub state: u32,
    /// Frames waiting to be written.
    pub queued: f64,
    pub max_len: f64,
}

#[napi(catch_unwind)]
pub fn kernel_sink_info(h: u32, id: String) -> napi::Result<Option<SinkInfo>> {
    let Some((_, kernel)) = running(h)? else {
        return Ok(None);
    };
    Ok(kernel.connection(&by_id(id)).map(|sink| SinkInfo {
        state: sink.state() as u32,
        queued: sink.queued() as f64,
        max_len: sink.max_queue() as f64,
    }))
}

/// Routes messages for `name` on this node to the JavaScript side. A name
/// already taken on this node is an error.
#[napi(catch_unwind)]
pub fn kernel_register(h: u32, name: String) -> napi::Result<bool> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(false);
    };
    // Each message is queued for JavaScript by whichever thread reads it;
    // on the JavaScript thread itself (see `uv`) it is delivered at once.
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    let weak = Arc::downgrade(&session);
    kernel
        .serve_sync(&name, move |message| {
            if let Some(session) = weak.upgrade() {
                session.push(Event::Message(message));
            }
        })
        .map_err(|e| napi::Error::from_reason(e.to_string()))?;
    Ok(true)
}

#[napi(catch_unwind)]
pub fn kernel_unregister(h: u32, name: String) -> napi::Result<()> {
    if let Some((_, kernel)) = running(h)? {
        kernel.unregister(&name);
    }
    Ok(())
}

/// Pings a node; the outcome arrives as a reply to `id` (data `"pong"`).
#[napi(catch_unwind)]
pub fn kernel_ping(h: u32, node_id: String, timeout: f64, id: u32) -> napi::Result<u32> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(answer::NOT_RUNNING);
    };
    let node = by_id(node_id);
    if kernel.connection(&node).is_none() {
        return Ok(answer::UNKNOWN_NODE);
    }
    let timeout = timeout_of(timeout);
    let rt = runtime().map_err(napi::Error::from_reason)?;
    rt.spawn(async move {
        let result = kernel
            .ping(&node, timeout)
            .await
            .map(|()| Payload::Json(Value::String("pong".into())));
        session.push(Event::Reply { id, result });
    });
    Ok(answer::PENDING)
}

/// Answers a call with an error (`{"message":…,"_error":true}`). Without
/// a reply address (never stored, or evicted) nothing can carry an error,
/// and false is answered.
#[napi(catch_unwind)]
pub fn kernel_reply_error(h: u32, handle: i64, message: String) -> napi::Result<bool> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(false);
    };
    let Some(from) = u32::try_from(handle)
        .ok()
        .and_then(|h| session.replies().take(h))
    else {
        return Ok(false);
    };
    Ok(kernel
        .reply_error(&from, &error_value(&message, &[]))
        .is_ok())
}

/// `kernelStreamCall(h, nodeId, target, timeoutMs, id)`: starts a call
/// whose body follows in chunks (`kernelStreamWrite`, then
/// `kernelStreamEnd`); the reply arrives as an event for `id`. Answers the
/// stream's handle, or `-UNKNOWN_NODE` / `-NOT_RUNNING` (nothing sent).
#[napi(catch_unwind)]
pub fn kernel_stream_call(
    h: u32,
    node_id: String,
    target: String,
    timeout: f64,
    id: u32,
) -> napi::Result<i64> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(-i64::from(answer::NOT_RUNNING));
    };
    let node = by_id(node_id);
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    match kernel.call_stream(&node, &target, timeout_of(timeout)) {
        Ok((body, reply)) => {
            session.start_call(id, Box::pin(reply));
            Ok(i64::from(session.streams().add(body)))
        }
        Err(notp::net::CallError::UnknownNode(_)) => Ok(-i64::from(answer::UNKNOWN_NODE)),
        Err(e) => {
            session.push(Event::Reply { id, result: Err(e) });
            Ok(-i64::from(answer::FAILED))
        }
    }
}

/// `kernelStreamCast(h, nodeId, target)`: a cast whose body follows in
/// chunks. Answers the stream's handle, or -1 when there is no connection
/// (nothing is sent, as for a cast).
#[napi(catch_unwind)]
pub fn kernel_stream_cast(h: u32, node_id: String, target: String) -> napi::Result<i64> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(-1);
    };
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    Ok(kernel
        .cast_stream(&by_id(node_id), &target)
        .map_or(-1, |body| i64::from(session.streams().add(body))))
}

/// `kernelStreamReply(h, from)`: an answer whose body follows in chunks,
/// through the stored reply address `from`. -1 when it cannot be streamed
/// (no address, or a CLI client); the caller then answers whole.
#[napi(catch_unwind)]
pub fn kernel_stream_reply(h: u32, handle: i64) -> napi::Result<i64> {
    let Some((session, kernel)) = running(h)? else {
        return Ok(-1);
    };
    let from = {
        let mut replies = session.replies();
        let Some(handle) = u32::try_from(handle)
            .ok()
            .filter(|h| replies.peek(*h).is_some_and(|f| !f.is_socket()))
        else {
            return Ok(-1);
        };
        replies.take(handle)
    };
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    // Without a connection back the answer is lost, as the original's is.
    Ok(from
        .and_then(|from| kernel.reply_stream(&from).ok())
        .map_or(-2, |body| i64::from(session.streams().add(body))))
}

/// Sends one chunk of stream `s`; answers the bytes its connection has
/// waiting to be written (-1: no such stream), for the caller to pause
/// its source while that is high.
#[napi(catch_unwind)]
pub fn kernel_stream_write(
    h: u32,
    s: u32,
    chunk: napi::bindgen_prelude::Buffer,
) -> napi::Result<f64> {
    let Some(session) = session(h)? else {
        return Ok(-1.0);
    };
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    let mut streams = session.streams();
    let Some(body) = streams.get(s) else {
        return Ok(-1.0);
    };
    body.write(&chunk);
    Ok(body.queued_bytes() as f64)
}

/// The bytes stream `s`'s connection has waiting (-1: no such stream).
#[napi(catch_unwind)]
pub fn kernel_stream_queued(h: u32, s: u32) -> napi::Result<f64> {
    let Some(session) = session(h)? else {
        return Ok(-1.0);
    };
    let mut streams = session.streams();
    Ok(streams.get(s).map_or(-1.0, |b| b.queued_bytes() as f64))
}

/// Ends stream `s`; with `error`, as failed (the receiver drops the body
/// and answers a waiting caller with that message).
#[napi(catch_unwind)]
pub fn kernel_stream_end(h: u32, s: u32, error: Option<String>) -> napi::Result<()> {
    let Some(session) = session(h)? else {
        return Ok(());
    };
    let _context = runtime().map_err(napi::Error::from_reason)?.enter();
    let body = session.streams().take(s);
    match (body, error) {
        (Some(body), None) => body.end(),
        (Some(body), Some(message)) => body.fail(&message),
        (None, _) => {}
    }
    Ok(())
}

/// Messages dropped so far, by reason.
#[napi(catch_unwind)]
pub fn kernel_skipped(h: u32) -> napi::Result<std::collections::HashMap<String, f64>> {
    Ok(running(h)?
        .map(|(_, k)| {
            k.skipped()
                .into_iter()
                .map(|(code, n)| (code.to_owned(), n as f64))
                .collect()
        })
        .unwrap_or_default())
}

// ---- raw per-request functions ------------------------------------------

/// A string argument as an owned `String`.
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn get_string(env: napi_env, v: napi_value, name: &str) -> Result<String, String> {
    // SAFETY: caller's contract.
    unsafe { raw::with_utf8(env, v, name, |b| String::from_utf8_lossy(b).into_owned()) }
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn get_f64(env: napi_env, v: napi_value, name: &str) -> Result<f64, String> {
    let mut out = 0.0;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_double(env, v, &mut out) };
    raw::check(status, name).map(|_| out)
}

/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn get_i64(env: napi_env, v: napi_value, name: &str) -> Result<i64, String> {
    let mut out = 0;
    // SAFETY: caller's contract; `out` is a valid out-pointer.
    let status = unsafe { sys::napi_get_value_int64(env, v, &mut out) };
    raw::check(status, name).map(|_| out)
}

/// A payload as the JavaScript layer passes it: JSON text (a string), or
/// bytes (a Buffer or another Uint8Array).
///
/// # Safety
/// `env` must be live and `v` a value of the current scope.
unsafe fn get_payload(env: napi_env, v: napi_value) -> Result<Payload, String> {
    let mut kind = 0;
    // SAFETY: caller's contract; `kind` is a valid out-pointer.
    raw::check(unsafe { sys::napi_typeof(env, v, &mut kind) }, "data")?;
    if kind == sys::ValueType::napi_string {
        // SAFETY: caller's contract.
        return unsafe {
            raw::with_utf8(env, v, "data", |text| {
                serde_json::from_slice::<Value>(text)
                    .map(Payload::Json)
                    .map_err(|e| format!("`data` is not JSON text: {e}"))
            })
        }?;
    }
    let mut array_kind = 0;
    let mut length = 0;
    let mut data = std::ptr::null_mut();
    let mut buffer = std::ptr::null_mut();
    let mut offset = 0;
    // SAFETY: caller's contract; all out-pointers are valid.
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            v,
            &mut array_kind,
            &mut length,
            &mut data,
            &mut buffer,
            &mut offset,
        )
    };
    if status != Status::napi_ok
        || !(array_kind == TypedarrayType::uint8_array
            || array_kind == TypedarrayType::uint8_clamped_array)
    {
        return Err("`data` must be JSON text or a Uint8Array".into());
    }
    if length == 0 || data.is_null() {
        return Ok(Payload::Bytes(Bytes::new()));
    }
    // SAFETY: a Uint8Array's data is `length` bytes; this runs on the JS
    // thread, so nothing changes them while they are copied.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) };
    Ok(Payload::Bytes(Bytes::copy_from_slice(bytes)))
}

/// `kernelCall(h, nodeId, target, data, timeoutMs, id)`: calls `target` on
/// a node; the reply (or error) arrives as an event for `id`. Answers
/// `PENDING`, `UNKNOWN_NODE` or `NOT_RUNNING` (then nothing was sent).
pub(crate) unsafe extern "C" fn raw_call(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, node, target, data, timeout, id] = raw::args::<6>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let Some((session, kernel)) = running(h).map_err(raw::reason)? else {
                return raw::number(env, f64::from(answer::NOT_RUNNING));
            };
            let node = by_id(get_string(env, node, "node")?);
            if !kernel.is_connected(&node) {
                return raw::number(env, f64::from(answer::UNKNOWN_NODE));
            }
            let target = get_string(env, target, "event")?;
            let data = get_payload(env, data)?;
            let timeout = timeout_of(get_f64(env, timeout, "timeout")?);
            let id = raw::get_u32(env, id, "id")?;
            // The first poll sends the frame from this thread; the rest of
            // the call is polled here too, as its events arrive.
            let _context = runtime()?.enter();
            session.start_call(
                id,
                Box::pin(async move { kernel.call(&node, &target, &data, timeout).await }),
            );
            raw::number(env, f64::from(answer::PENDING))
        })
    }
}

/// `kernelCast(h, nodeId, target, data)`: sends without waiting; a node
/// with no connection is skipped (as in the original).
pub(crate) unsafe extern "C" fn raw_cast(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, node, target, data] = raw::args::<4>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let Some((_, kernel)) = running(h).map_err(raw::reason)? else {
                return raw::undefined();
            };
            let node = by_id(get_string(env, node, "node")?);
            let target = get_string(env, target, "event")?;
            let data = get_payload(env, data)?;
            kernel.cast(&node, &target, &data);
            raw::undefined()
        })
    }
}

/// `kernelReply(h, handle, nodeId, tag, data)`: answers a call, through
/// its stored reply address when `handle` still names one, else as the
/// original does (a cast to the tag on the caller's node).
pub(crate) unsafe extern "C" fn raw_reply(env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: `env` and `info` come from N-API for this call.
    unsafe {
        raw::run(env, || {
            let [h, handle, node, tag, data] = raw::args::<5>(env, info)?;
            let h = raw::get_u32(env, h, "handle")?;
            let Some((session, kernel)) = running(h).map_err(raw::reason)? else {
                return raw::undefined();
            };
            let handle = get_i64(env, handle, "from")?;
            let data = get_payload(env, data)?;
            let from = u32::try_from(handle)
                .ok()
                .and_then(|h| session.replies().take(h));
            match from {
                // Fails only without a connection back to the caller, where
                // the original's cast is silently dropped too.
                Some(from) => {
                    let _ = kernel.reply(&from, &data);
                }
                None => {
                    let node = by_id(get_string(env, node, "from.node")?);
                    let tag = get_string(env, tag, "from.tag")?;
                    kernel.cast(&node, &tag, &data);
                }
            }
            raw::undefined()
        })
    }
}
