//! Bodies sent in chunks: streamed calls, casts and replies.
//!
//! JavaScript opens a stream (`kernelStreamCall`, `kernelStreamCast`,
//! `kernelStreamReply`) and gets a handle ([`crate::slots::OutStreams`]),
//! writes chunks to it as its source yields them, pausing the source while
//! the connection has much waiting (`kernelStreamQueued`), and ends it.

use napi_derive::napi;

use super::{by_id, running, session, timeout_of};
use crate::codes::answer;
use crate::event::Event;
use crate::runtime::runtime;

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
