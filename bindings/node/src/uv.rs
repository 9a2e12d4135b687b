//! Reading accepted connections on the JavaScript thread.
//!
//! A message that arrives for a JavaScript server (or a reply to a
//! JavaScript call) would otherwise cross two threads: the engine thread
//! reads it, then wakes the JavaScript thread through the session's
//! thread-safe function. Here the JavaScript thread's own event loop
//! (libuv) also watches each accepted socket: when one becomes readable,
//! this thread reads and handles what arrived ([`InboundReader::pump`])
//! and hands the resulting events to JavaScript at once, without the
//! second wake-up. The engine's task keeps reading the same socket; a lock
//! in the engine lets one of the two handle each read, in order, and
//! whatever the engine reads still reaches JavaScript the usual way.
//!
//! The libuv handles belong to the JavaScript thread: they are made,
//! restarted and closed only there (on `Inbound`, `Rearm` and
//! `InboundClosed` events, and when the session ends). They never keep
//! the event loop alive. `NOTP_NODE_POLL=0` turns all of this off.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr;
use std::sync::{Arc, OnceLock, Weak};

use napi::sys::{self, napi_env, uv_loop_s, Status};
use notp::net::embed::{InboundReader, Pumped};

use crate::event::Event;
use crate::session::{Direct, Session, Watched};

/// Hands a session's queued events to JavaScript from outside JavaScript
/// (`crate::delivery::deliver_now`, passed in by the caller of [`watch`]
/// because delivering is what starts watching in the first place).
pub(crate) type DeliverNow = unsafe fn(napi_env, &Arc<Session>) -> Result<(), String>;

type PollCb = unsafe extern "C" fn(handle: *mut c_void, status: c_int, events: c_int);
type CloseCb = unsafe extern "C" fn(handle: *mut c_void);

// libuv, as the Node.js binary exports it to addons.
extern "C" {
    fn uv_handle_size(kind: c_int) -> usize;
    fn uv_handle_type_name(kind: c_int) -> *const c_char;
    fn uv_poll_init(event_loop: *mut uv_loop_s, handle: *mut c_void, fd: c_int) -> c_int;
    fn uv_poll_start(handle: *mut c_void, events: c_int, cb: PollCb) -> c_int;
    fn uv_poll_stop(handle: *mut c_void) -> c_int;
    fn uv_close(handle: *mut c_void, cb: CloseCb);
    fn uv_unref(handle: *mut c_void);
}

/// `UV_POLL` in libuv's `uv_handle_type`.
const UV_POLL: c_int = 8;
/// `UV_READABLE` in libuv's `uv_poll_event`.
const UV_READABLE: c_int = 1;

/// The size of a `uv_poll_t`, once checked against libuv's own name for
/// the handle type; `None` turns polling off.
fn poll_size() -> Option<usize> {
    static SIZE: OnceLock<Option<usize>> = OnceLock::new();
    *SIZE.get_or_init(|| {
        if std::env::var("NOTP_NODE_POLL").is_ok_and(|v| v.trim() == "0") {
            return None;
        }
        // SAFETY: both functions only read libuv's static tables.
        let (name, size) = unsafe { (uv_handle_type_name(UV_POLL), uv_handle_size(UV_POLL)) };
        if name.is_null() {
            return None;
        }
        // SAFETY: libuv answers a static NUL-terminated name.
        let name = unsafe { CStr::from_ptr(name) };
        (name.to_bytes() == b"poll" && size > 0).then_some(size)
    })
}

/// One watched connection. Owned by its libuv handle from `watch` until
/// the handle's close callback.
pub(crate) struct Poll {
    /// The `uv_poll_t` (8-byte aligned; its first field, `data`, points
    /// back here).
    handle: Box<[u64]>,
    reader: InboundReader,
    session: Weak<Session>,
    env: napi_env,
    key: u64,
    deliver: DeliverNow,
    closing: bool,
}

impl Poll {
    fn handle(&mut self) -> *mut c_void {
        self.handle.as_mut_ptr().cast()
    }
}

/// A poll's address, kept by its session to rearm or close it (JavaScript
/// thread only).
struct PollPtr(*mut Poll);

// SAFETY: the pointer is only dereferenced on the JavaScript thread that
// made it (every function here runs there); sessions merely store it.
unsafe impl Send for PollPtr {}

impl Watched for PollPtr {
    unsafe fn rearm(&self) {
        // SAFETY: the trait's contract: JavaScript thread, poll live.
        unsafe { rearm(self.0) }
    }

    unsafe fn close(&self) {
        // SAFETY: as above.
        unsafe { close(self.0) }
    }
}

/// Starts watching an accepted connection of `session`'s kernel; what a
/// read produces is handed over with `deliver`.
///
/// # Safety
/// JavaScript thread of `env` only, `env` live.
pub(crate) unsafe fn watch(
    env: napi_env,
    session: &Arc<Session>,
    reader: InboundReader,
    deliver: DeliverNow,
) {
    let Some(size) = poll_size() else { return };
    let mut event_loop = ptr::null_mut();
    // SAFETY: caller's contract; `event_loop` is a valid out-pointer.
    if unsafe { sys::napi_get_uv_event_loop(env, &mut event_loop) } != Status::napi_ok
        || event_loop.is_null()
    {
        return;
    }
    let key = session.next_watch_key();
    let fd = reader.raw_fd();
    let poll = Box::into_raw(Box::new(Poll {
        handle: vec![0u64; size.div_ceil(8)].into_boxed_slice(),
        reader: reader.clone(),
        session: Arc::downgrade(session),
        env,
        key,
        deliver,
        closing: false,
    }));
    // SAFETY: `poll` is the live allocation just made; the handle memory is
    // as large as libuv says a poll handle is, zeroed and 8-byte aligned.
    unsafe {
        let handle = (*poll).handle();
        if uv_poll_init(event_loop, handle, fd) != 0 {
            drop(Box::from_raw(poll));
            return;
        }
        // `data` is the first field of every libuv handle.
        *handle.cast::<*mut c_void>() = poll.cast();
        uv_unref(handle);
        if uv_poll_start(handle, UV_READABLE, on_readable) != 0 {
            close(poll);
            return;
        }
    }
    session.add_watch(key, Box::new(PollPtr(poll)));
    let weak = Arc::downgrade(session);
    reader.on_close(move || {
        if let Some(session) = weak.upgrade() {
            session.push(Event::InboundClosed(key));
        }
    });
}

/// Watches the connection again after a pump found it busy.
///
/// # Safety
/// JavaScript thread only; `poll` one of this thread's live polls.
unsafe fn rearm(poll: *mut Poll) {
    // SAFETY: caller's contract.
    unsafe {
        if !(*poll).closing {
            uv_poll_start((*poll).handle(), UV_READABLE, on_readable);
        }
    }
}

/// Stops watching and frees the poll once libuv lets go of it.
///
/// # Safety
/// JavaScript thread only; `poll` one of this thread's polls, not freed.
unsafe fn close(poll: *mut Poll) {
    // SAFETY: caller's contract; closing is idempotent through the flag.
    unsafe {
        if (*poll).closing {
            return;
        }
        (*poll).closing = true;
        (*poll).reader.detach();
        if let Some(session) = (*poll).session.upgrade() {
            // Not closed through the session's list: drop it from there.
            drop(session.remove_watch((*poll).key));
        }
        uv_close((*poll).handle(), on_closed);
    }
}

unsafe extern "C" fn on_closed(handle: *mut c_void) {
    // SAFETY: `data` holds the poll that owns this handle, alive until
    // now; libuv touches the handle no more after this callback.
    unsafe {
        let poll = *handle.cast::<*mut Poll>();
        drop(Box::from_raw(poll));
    }
}

unsafe extern "C" fn on_readable(handle: *mut c_void, status: c_int, _events: c_int) {
    // SAFETY: `data` holds the live poll that owns this handle (freed only
    // in `on_closed`, which follows the last callback).
    let poll = unsafe { *handle.cast::<*mut Poll>() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: as above; this is the JavaScript thread of the poll.
        unsafe { readable(poll, status) }
    }));
    if outcome.is_err() {
        eprintln!("notp: panic while reading a connection");
        // SAFETY: as above.
        unsafe { close(poll) };
    }
}

/// # Safety
/// JavaScript thread of the poll; `poll` live.
unsafe fn readable(poll: *mut Poll, status: c_int) {
    // SAFETY: caller's contract.
    let (closing, session) = unsafe { ((*poll).closing, (*poll).session.upgrade()) };
    if closing {
        return;
    }
    let Some(session) = session.filter(|s| !s.is_closed()).filter(|_| status >= 0) else {
        // SAFETY: caller's contract.
        unsafe { close(poll) };
        return;
    };
    // SAFETY: caller's contract.
    let (env, key, reader, deliver) = unsafe {
        let p = &*poll;
        (p.env, p.key, p.reader.clone(), p.deliver)
    };
    let weak = Arc::downgrade(&session);
    let outcome = {
        let _runtime = crate::runtime::runtime().ok().map(|rt| rt.enter());
        let _direct = Direct::begin(&session);
        reader.pump(move || {
            if let Some(session) = weak.upgrade() {
                session.push(Event::Rearm(key));
            }
        })
    };
    // May run JavaScript, which may stop the kernel and close this poll
    // (its memory stays until `on_closed`, after this callback).
    // SAFETY: caller's contract.
    if let Err(e) = unsafe { deliver(env, &session) } {
        eprintln!("notp: could not deliver kernel events: {e}");
    }
    // SAFETY: caller's contract.
    unsafe {
        if (*poll).closing {
            return;
        }
        match outcome {
            Pumped::Closed => close(poll),
            // Until the waiting message is delivered (a `Rearm` event).
            Pumped::Blocked => {
                uv_poll_stop((*poll).handle());
            }
            // Anything left unread makes the socket readable again.
            Pumped::Idle | Pumped::More | Pumped::Busy => {}
        }
    }
}
