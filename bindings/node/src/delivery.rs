//! Handing a session's queued events to its JavaScript dispatcher.
//!
//! Two ways in: the session's thread-safe function (scheduled by the first
//! event pushed into an empty queue, from any thread), and [`deliver_now`],
//! called on the JavaScript thread right after it read a watched connection
//! itself ([`crate::uv`]), which saves the wake-up through the function.
//! Either way, events that ask something of the JavaScript thread (poll a
//! call, watch a connection) are done first, the rest is encoded as one
//! batch ([`crate::batch`]) and the dispatcher is called once with it.
//!
//! The thread-safe function is created here ([`Session::attach`]) because
//! its callbacks are this module's; the session only keeps and releases it.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;

use bytes::Bytes;
use napi::sys::{self, napi_env, napi_value, Status};

use crate::batch::Batch;
use crate::event::Event;
use crate::raw::check;
use crate::session::{JsRef, Session, Tsfn};
use crate::uv;

impl Session {
    /// Creates the thread-safe function that calls `dispatch(text, buffers)`
    /// with each batch. JavaScript thread only.
    ///
    /// # Safety
    /// `env` must be the live environment of the current call and
    /// `dispatch` a function value of its scope.
    pub(crate) unsafe fn attach(
        self: &Arc<Self>,
        env: napi_env,
        dispatch: napi_value,
    ) -> Result<(), String> {
        let mut name = ptr::null_mut();
        // SAFETY: caller's contract; the name is NUL-terminated (-1 asks
        // N-API to measure it).
        check(
            unsafe { sys::napi_create_string_utf8(env, c"notp.kernel".as_ptr(), -1, &mut name) },
            "naming the event function",
        )?;
        let context = Arc::into_raw(self.clone()).cast_mut().cast::<c_void>();
        let mut tsfn = ptr::null_mut();
        // SAFETY: caller's contract for `env` and `dispatch`. `context` is a
        // strong reference that the finalizer (called exactly once by
        // N-API) takes back; `call_js` only borrows it before that.
        let status = unsafe {
            sys::napi_create_threadsafe_function(
                env,
                dispatch,
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize),
                context,
                Some(call_js),
                &mut tsfn,
            )
        };
        if let Err(e) = check(status, "creating the event function") {
            // SAFETY: N-API did not take the reference; give it back.
            drop(unsafe { Arc::from_raw(context.cast::<Session>().cast_const()) });
            return Err(e);
        }
        let mut reference = ptr::null_mut();
        // SAFETY: caller's contract; `reference` is a valid out-pointer.
        let referenced = unsafe { sys::napi_create_reference(env, dispatch, 1, &mut reference) }
            == Status::napi_ok;
        self.install(Tsfn(tsfn), env, referenced.then_some(JsRef(reference)));
        Ok(())
    }
}

unsafe extern "C" fn finalize(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the reference made by `attach`, and N-API calls the
    // finalizer once.
    let session = unsafe { Arc::from_raw(data.cast::<Session>().cast_const()) };
    if catch_unwind(AssertUnwindSafe(|| session.finalized())).is_err() {
        eprintln!("notp: panic while finalizing a kernel's event function");
    }
}

unsafe extern "C" fn call_js(
    env: napi_env,
    js_cb: napi_value,
    context: *mut c_void,
    _: *mut c_void,
) {
    // A null environment means the function is being torn down.
    if env.is_null() || js_cb.is_null() || context.is_null() {
        return;
    }
    let context = context.cast::<Session>().cast_const();
    // SAFETY: `context` is the session reference owned by the function,
    // alive until its finalizer runs, which cannot happen during this call;
    // this takes one more reference for the duration of the call.
    let session = unsafe {
        Arc::increment_strong_count(context);
        Arc::from_raw(context)
    };
    // SAFETY: `env` and `js_cb` are those of this call.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe {
        deliver(env, js_cb, &session, false)
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("notp: could not deliver kernel events: {e}"),
        Err(_) => eprintln!("notp: panic while delivering kernel events"),
    }
}

/// Hands `session`'s queued events to its dispatcher now, from the
/// JavaScript thread outside any JavaScript call (a libuv callback): in a
/// handle scope of its own, through `napi_make_callback` so that promise
/// jobs and `process.nextTick` callbacks run afterwards as after any I/O.
///
/// # Safety
/// JavaScript thread of `env`, outside JavaScript; `env` live.
pub(crate) unsafe fn deliver_now(env: napi_env, session: &Arc<Session>) -> Result<(), String> {
    if !session.has_events() {
        return Ok(());
    }
    let mut scope = ptr::null_mut();
    // SAFETY: caller's contract; `scope` is a valid out-pointer.
    check(
        unsafe { sys::napi_open_handle_scope(env, &mut scope) },
        "opening a handle scope",
    )?;
    let mut dispatch = ptr::null_mut();
    let found = session.dispatch_ref().is_some_and(|r| {
        // SAFETY: caller's contract; the reference is alive while kept.
        let status = unsafe { sys::napi_get_reference_value(env, r, &mut dispatch) };
        status == Status::napi_ok
    });
    let outcome = if found && !dispatch.is_null() {
        // SAFETY: caller's contract; `dispatch` is a value of this scope.
        unsafe { deliver(env, dispatch, session, true) }
    } else {
        Ok(())
    };
    // SAFETY: the scope opened above.
    unsafe { sys::napi_close_handle_scope(env, scope) };
    outcome
}

/// The async context deliveries made outside JavaScript run in (one per
/// JavaScript thread, kept for its life).
///
/// # Safety
/// JavaScript thread of `env`, `env` live.
unsafe fn async_context(env: napi_env) -> Option<sys::napi_async_context> {
    thread_local! {
        static CONTEXT: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    }
    let (for_env, context) = CONTEXT.get();
    if for_env == env as usize && context != 0 {
        return Some(context as sys::napi_async_context);
    }
    let mut name = ptr::null_mut();
    let mut resource = ptr::null_mut();
    let mut context = ptr::null_mut();
    // SAFETY: caller's contract; the name is NUL-terminated and the
    // out-pointers valid.
    unsafe {
        if sys::napi_create_string_utf8(env, c"notp.kernel".as_ptr(), -1, &mut name)
            != Status::napi_ok
            || sys::napi_create_object(env, &mut resource) != Status::napi_ok
            || sys::napi_async_init(env, resource, name, &mut context) != Status::napi_ok
        {
            return None;
        }
    }
    CONTEXT.set((env as usize, context as usize));
    Some(context)
}

/// Does what the queued events ask of the JavaScript thread and encodes the
/// rest.
///
/// # Safety
/// JavaScript thread of `env`, `env` live.
unsafe fn batch_of(env: napi_env, session: &Arc<Session>, events: Vec<Event>) -> Batch {
    let mut batch = Batch::default();
    // Calls register their timeouts with the runtime's timer.
    let _context = crate::runtime::runtime().ok().map(|rt| rt.enter());
    for event in events {
        let event = match event {
            Event::PollCall(slot) => match session.poll_call(slot) {
                Some((id, result)) => Event::Reply { id, result },
                None => continue,
            },
            Event::Inbound(reader) => {
                if !session.is_closed() {
                    // SAFETY: caller's contract.
                    unsafe { uv::watch(env, session, reader, deliver_now) };
                }
                continue;
            }
            Event::InboundClosed(key) => {
                if let Some(watch) = session.remove_watch(key) {
                    // SAFETY: a listed watch is live; JavaScript thread.
                    unsafe { watch.close() };
                }
                continue;
            }
            Event::Rearm(key) => {
                // SAFETY: caller's contract.
                unsafe { session.rearm_watch(key) };
                continue;
            }
            other => other,
        };
        batch.event(event, &mut session.replies());
    }
    batch
}

/// The buffer list of a batch: null when there are none.
///
/// # Safety
/// `env` must be live, inside a handle scope.
unsafe fn buffer_list(env: napi_env, buffers: &[Bytes]) -> Result<napi_value, String> {
    let mut list = ptr::null_mut();
    if buffers.is_empty() {
        // SAFETY: caller's contract.
        check(unsafe { sys::napi_get_null(env, &mut list) }, "null")?;
        return Ok(list);
    }
    // SAFETY: caller's contract; every value created belongs to the
    // current handle scope.
    unsafe {
        check(
            sys::napi_create_array_with_length(env, buffers.len(), &mut list),
            "creating the buffer list",
        )?;
        for (i, bytes) in buffers.iter().enumerate() {
            let mut buffer = ptr::null_mut();
            let mut data = ptr::null_mut();
            check(
                sys::napi_create_buffer_copy(
                    env,
                    bytes.len(),
                    bytes.as_ptr().cast::<c_void>(),
                    &mut data,
                    &mut buffer,
                ),
                "creating a Buffer",
            )?;
            check(
                sys::napi_set_element(env, list, i as u32, buffer),
                "filling the buffer list",
            )?;
        }
    }
    Ok(list)
}

/// Hands every queued event to the JavaScript dispatcher in one call;
/// `outside`: from outside JavaScript (see [`deliver_now`]).
///
/// # Safety
/// `env` must be live and `js_cb` a function value of its current scope.
unsafe fn deliver(
    env: napi_env,
    js_cb: napi_value,
    session: &Arc<Session>,
    outside: bool,
) -> Result<(), String> {
    let events = session.take_events();
    if events.is_empty() {
        return Ok(());
    }
    // SAFETY: caller's contract.
    let batch = unsafe { batch_of(env, session, events) };
    let Some((text, buffers)) = batch.finish() else {
        return Ok(());
    };
    let mut argv = [ptr::null_mut(); 2];
    // SAFETY: caller's contract; the text outlives the call, which copies it.
    check(
        unsafe {
            sys::napi_create_string_utf8(
                env,
                text.as_ptr().cast::<c_char>(),
                text.len() as isize,
                &mut argv[0],
            )
        },
        "creating the event text",
    )?;
    // SAFETY: caller's contract (N-API opened a scope for this call, or
    // `deliver_now` did).
    argv[1] = unsafe { buffer_list(env, &buffers) }?;
    let mut recv = ptr::null_mut();
    let mut result = ptr::null_mut();
    // What the listeners send while handling this batch (replies, the next
    // calls) goes out with one write per connection when they are done.
    let _cork = notp::net::embed::Cork::new();
    // SAFETY: caller's contract; `argv` holds two values of this scope.
    unsafe {
        if !outside {
            check(sys::napi_get_undefined(env, &mut recv), "undefined")?;
            // An exception thrown by the dispatcher stays pending: Node
            // reports it as uncaught, as for any other event callback.
            sys::napi_call_function(env, recv, js_cb, argv.len(), argv.as_ptr(), &mut result);
            return Ok(());
        }
        // `napi_make_callback` wants an object as `this`.
        check(sys::napi_get_global(env, &mut recv), "global")?;
        let status = match async_context(env) {
            Some(context) => sys::napi_make_callback(
                env,
                context,
                recv,
                js_cb,
                argv.len(),
                argv.as_ptr(),
                &mut result,
            ),
            None => {
                sys::napi_call_function(env, recv, js_cb, argv.len(), argv.as_ptr(), &mut result)
            }
        };
        if status == Status::napi_pending_exception {
            // Outside JavaScript nobody else would see it: report it as
            // uncaught, as Node does for any other event callback.
            let mut error = ptr::null_mut();
            if sys::napi_get_and_clear_last_exception(env, &mut error) == Status::napi_ok {
                sys::napi_fatal_exception(env, error);
            }
        }
    }
    Ok(())
}
