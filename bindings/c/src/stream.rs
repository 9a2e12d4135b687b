//! Bodies sent in chunks (the original's streams): a streamed call or cast
//! hands out a stream to write chunks to and then end.

use std::ffi::{c_char, c_void};

use super::args;
use super::call::{self, Completion, ReplyCallback};
use super::kernel::{stopped, KernelHandle};
use super::ownership;
use super::runtime::runtime;
use super::status::{answer, guard, Failure, Status};
use super::user_data::UserData;
use engine::net::{CallError, OutStream};
use engine::Node;

/// A streamed body being sent. Chunks go out as they are written; the
/// receiver gets the whole body once the stream is ended.
#[derive(Debug)]
pub struct StreamHandle {
    body: Option<OutStream>,
}

/// # Safety
/// `stream` follows the header's pointer contract.
unsafe fn open<'a>(stream: *mut StreamHandle) -> Result<&'a mut OutStream, Failure> {
    // SAFETY: forwarded from this function's contract.
    let handle = unsafe { ownership::borrow_mut(stream, "stream") }?;
    handle
        .body
        .as_mut()
        .ok_or_else(|| Failure::invalid("the stream was already ended"))
}

/// # Safety
/// `stream` follows the header's pointer contract.
unsafe fn finish(stream: *mut StreamHandle) -> Result<OutStream, Failure> {
    // SAFETY: forwarded from this function's contract.
    let handle = unsafe { ownership::borrow_mut(stream, "stream") }?;
    handle
        .body
        .take()
        .ok_or_else(|| Failure::invalid("the stream was already ended"))
}

/// Starts a call to server `server` of `node` whose body (for a GenServer,
/// the JSON text of `{"event":...,"data":...}`) follows in chunks through
/// `*stream`: notp_stream_write(), then notp_stream_end(). `callback` runs
/// once on an engine thread with the reply, as for notp_kernel_call();
/// free the stream with notp_stream_free() (before or after the reply).
/// NOTP_ERR_UNKNOWN_NODE (and nothing sent) without a connection to `node`.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_call_stream(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    timeout_ms: u32,
    callback: ReplyCallback,
    user_data: *mut c_void,
    stream: *mut *mut StreamHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let slot = args::out(stream, "stream")?;
            let to = call::target(kernel, node, server)?;
            let callback = callback.ok_or_else(|| Failure::null("callback"))?;
            if to.kernel.is_stopped() {
                return Err(stopped());
            }
            let rt = runtime()?;
            let _context = rt.enter();
            let (body, reply) =
                to.kernel
                    .call_stream(to.node, to.server, call::timeout(timeout_ms))?;
            let completion = Completion::new(callback, UserData(user_data));
            rt.spawn(async move { completion.finish(reply.await) });
            slot.write(ownership::give(StreamHandle { body: Some(body) }));
            Ok(())
        })
    }
}

/// Starts a cast to server `server` of `node` whose body follows in chunks
/// through `*stream`. NOTP_ERR_UNKNOWN_NODE (and nothing sent) without a
/// connection to `node`.
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_cast_stream(
    kernel: *const KernelHandle,
    node: *const Node,
    server: *const c_char,
    stream: *mut *mut StreamHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let slot = args::out(stream, "stream")?;
            let to = call::target(kernel, node, server)?;
            if to.kernel.is_stopped() {
                return Err(stopped());
            }
            let _context = runtime()?.enter();
            let body = to
                .kernel
                .cast_stream(to.node, to.server)
                .ok_or_else(|| Failure::from(CallError::UnknownNode(to.node.id().to_owned())))?;
            slot.write(ownership::give(StreamHandle { body: Some(body) }));
            Ok(())
        })
    }
}

/// Sends `len` bytes as the stream's next chunk (`len` 0 sends nothing).
#[no_mangle]
pub unsafe extern "C" fn notp_stream_write(
    stream: *mut StreamHandle,
    data: *const u8,
    len: usize,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let chunk = args::bytes(data, len, "data")?;
            let body = open(stream)?;
            let _context = runtime()?.enter();
            body.write(chunk);
            Ok(())
        })
    }
}

/// The bytes waiting to be written on the stream's connection: a producer
/// should wait while this is high (a connection more than 64 MiB behind
/// drops its oldest frames, which fails the stream).
#[no_mangle]
pub unsafe extern "C" fn notp_stream_queued(stream: *mut StreamHandle, out: *mut usize) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(open(stream)?.queued_bytes())) }
}

/// Ends the stream: the receiver now has the whole body.
#[no_mangle]
pub unsafe extern "C" fn notp_stream_end(stream: *mut StreamHandle) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let body = finish(stream)?;
            let _context = runtime()?.enter();
            body.end();
            Ok(())
        })
    }
}

/// Ends the stream as failed with `message`: the receiver drops the body
/// and answers a waiting caller with that error.
#[no_mangle]
pub unsafe extern "C" fn notp_stream_fail(
    stream: *mut StreamHandle,
    message: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let message = args::text(message, "message")?;
            let body = finish(stream)?;
            let _context = runtime()?.enter();
            body.fail(message);
            Ok(())
        })
    }
}

/// Releases a stream. One not ended fails ("Stream aborted."). NULL is
/// ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_stream_free(stream: *mut StreamHandle) {
    let _context = runtime().ok().map(|rt| rt.enter());
    // SAFETY: the caller passes NULL or a stream this library handed over.
    unsafe { ownership::free(stream) }
}
