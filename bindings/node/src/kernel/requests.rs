//! Calls, casts, replies and pings of a running kernel.
//!
//! Calls, casts and replies are what a program does per request, so they
//! are raw N-API functions ([`crate::raw`]), registered by hand in the
//! crate root. A call is a future polled on the JavaScript thread
//! ([`crate::executor`]): its first poll writes the frame from this thread,
//! straight to the socket when nothing is queued ahead of it.

use napi::sys::{napi_callback_info, napi_env, napi_value};
use napi_derive::napi;
use notp::net::{error_value, Payload};
use serde_json::Value;

use super::{by_id, running, timeout_of};
use crate::codes::answer;
use crate::event::Event;
use crate::raw::{self, get_f64, get_i64, get_payload, get_string};
use crate::runtime::runtime;

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
