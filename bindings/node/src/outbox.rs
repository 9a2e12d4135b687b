//! Engine events on their way to JavaScript.
//!
//! Each started kernel has a [`Session`]: a queue of events filled by the
//! engine threads and one N-API thread-safe function that empties it on the
//! JavaScript thread. Pushing into an empty queue schedules one call; every
//! event pushed before that call runs rides along, so a busy kernel
//! delivers many messages per wake-up of the event loop. A batch crosses as
//! one JSON text (parsed once by `JSON.parse` on the JavaScript side) plus
//! an array of Buffers for the byte payloads it refers to by index.
//!
//! Lifetime: the function is referenced while the kernel runs (a started
//! kernel keeps Node alive, like a listening server) and released by
//! `stop()`. Node finalizes it after that, or when the environment is torn
//! down (process exit, worker termination); either way the finalizer stops
//! the engine kernel and marks the session closed, and nothing calls the
//! function afterwards: every call happens under the session lock and
//! checks that the function is still there first.

use std::cell::Cell;
use std::ffi::{c_char, c_void};
use std::fmt::Write as _;
use std::future::Future;
use std::mem;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use napi::sys::{self, napi_env, napi_value, Status};
use notp::net::embed::InboundReader;
use notp::net::{CallError, From, Kernel, Message, OutStream, Payload, Skip};
use notp::wire::js_json;
use serde_json::Value;
use tokio::task::AbortHandle;

use crate::raw::check;
use crate::uv::{self, PollPtr};

/// Something the engine tells the JavaScript side.
pub(crate) enum Event {
    /// The kernel listens; the port it bound.
    Ready(u16),
    StartFailed(String),
    /// A message for a local target.
    Message(Message),
    /// A call (or ping) ended.
    Reply {
        id: u32,
        result: Result<Payload, CallError>,
    },
    /// A call polled on the JavaScript thread can make progress.
    PollCall(usize),
    /// The outbound connection to this node id came up.
    Connected(String),
    Skip(Skip),
    /// Fields already encoded for the dispatcher of another session kind
    /// (the gossip ring's, [`crate::cluster`]): `kind,field,…`.
    Encoded(String),
    /// A connection was accepted: watch it from the JavaScript thread too
    /// ([`crate::uv`]).
    Inbound(InboundReader),
    /// The connection of that poll ended.
    InboundClosed(u64),
    /// The engine let go of that poll's connection: watch it again.
    Rearm(u64),
}

/// Event kinds as the JavaScript dispatcher reads them (`lib/kernel.js`).
mod kind {
    pub const MESSAGE_JSON: u8 = 0;
    pub const MESSAGE_BYTES: u8 = 1;
    pub const REPLY_JSON: u8 = 2;
    pub const REPLY_BYTES: u8 = 3;
    pub const REPLY_ERROR: u8 = 4;
    pub const READY: u8 = 5;
    pub const START_FAILED: u8 = 6;
    pub const CONNECTED: u8 = 7;
    pub const SKIP: u8 = 8;
}

struct Tsfn(sys::napi_threadsafe_function);

// SAFETY: a thread-safe function exists to be called from any thread; N-API
// synchronises the calls. We only touch it under the session lock, and
// never after releasing it or after its finalizer ran (it is taken out of
// the state at both points).
unsafe impl Send for Tsfn {}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    /// A call of the thread-safe function is on its way.
    scheduled: bool,
    tsfn: Option<Tsfn>,
    /// The environment of the JavaScript thread (as an address).
    env: usize,
    closed: bool,
    /// Engine tasks of this session that do not end by themselves.
    tasks: Vec<AbortHandle>,
}

/// Reply addresses of received calls, until answered. JavaScript gets a
/// handle; a bounded ring keeps the most recent [`REPLY_SLOTS`] so a server
/// that never answers cannot grow it. An evicted address falls back to the
/// original's way of replying (a cast to the tag).
#[derive(Default)]
pub(crate) struct ReplySlots {
    slots: Vec<Option<(u32, From)>>,
    next: u32,
}

const REPLY_SLOTS: usize = 1 << 16;

impl ReplySlots {
    fn store(&mut self, from: From) -> u32 {
        let handle = self.next;
        // Handles stay below 2^31 so they travel as plain integers.
        self.next = (self.next + 1) & 0x7fff_ffff;
        let index = handle as usize % REPLY_SLOTS;
        if index < self.slots.len() {
            self.slots[index] = Some((handle, from));
        } else {
            self.slots.push(Some((handle, from)));
        }
        handle
    }

    pub(crate) fn peek(&self, handle: u32) -> Option<&From> {
        match self.slots.get(handle as usize % REPLY_SLOTS)? {
            Some((h, from)) if *h == handle => Some(from),
            _ => None,
        }
    }

    pub(crate) fn take(&mut self, handle: u32) -> Option<From> {
        let slot = self.slots.get_mut(handle as usize % REPLY_SLOTS)?;
        match slot {
            Some((h, _)) if *h == handle => slot.take().map(|(_, from)| from),
            _ => None,
        }
    }
}

/// Every session that may own a running kernel, so that the gossip door
/// can find the engine kernel behind a JavaScript `NetKernel` from its
/// address alone (kernel handles are private to [`crate::kernel`]).
static SESSIONS: Mutex<Vec<Weak<Session>>> = Mutex::new(Vec::new());

/// The running engine kernel listening as node `id` on `host:port`.
pub(crate) fn running_kernel(id: &str, host: &str, port: u16) -> Option<Kernel> {
    let sessions: Vec<Arc<Session>> = {
        let mut list = lock(&SESSIONS);
        list.retain(|s| s.strong_count() > 0);
        list.iter().filter_map(Weak::upgrade).collect()
    };
    sessions.iter().find_map(|s| {
        let kernel = s.kernel()?;
        let node = kernel.node();
        (!s.is_closed()
            && !kernel.is_stopped()
            && node.id() == id
            && node.host() == host
            && node.port() == port)
            .then(|| kernel.clone())
    })
}

/// The outcome of a call.
pub(crate) type CallFuture = Pin<Box<dyn Future<Output = Result<Payload, CallError>> + Send>>;

/// Calls in flight, polled on the JavaScript thread. A call's first poll
/// writes its frame from the calling thread (no hand-over to an engine
/// thread); its waker, run by the engine when the reply or the timeout
/// comes, queues a [`Event::PollCall`], and the batch that carries it to
/// JavaScript polls the call to completion. No task per call.
#[derive(Default)]
struct CallSlots {
    slots: Vec<Option<(u32, CallFuture, Waker)>>,
    free: Vec<usize>,
}

/// Wakes a call by asking the JavaScript thread to poll it.
struct CallWaker {
    session: Weak<Session>,
    slot: usize,
}

impl Wake for CallWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(session) = self.session.upgrade() {
            session.push(Event::PollCall(self.slot));
        }
    }
}

/// One start of one kernel: its engine kernel (once bound), its events and
/// the function that delivers them.
#[derive(Default)]
pub(crate) struct Session {
    state: Mutex<State>,
    kernel: OnceLock<Kernel>,
    replies: Mutex<ReplySlots>,
    calls: Mutex<CallSlots>,
    /// The dispatcher, for deliveries made on the JavaScript thread
    /// without the thread-safe function (JavaScript thread only).
    dispatch: Mutex<Option<JsRef>>,
    /// Connections watched from the JavaScript thread ([`crate::uv`]).
    polls: Mutex<Vec<(u64, PollPtr)>>,
    next_poll: AtomicU64,
    /// Streamed bodies being sent, by handle.
    streams: Mutex<OutStreams>,
}

/// Streamed bodies JavaScript is sending (see `kernelStream*`).
#[derive(Default)]
pub(crate) struct OutStreams {
    open: std::collections::HashMap<u32, OutStream>,
    next: u32,
}

impl OutStreams {
    /// Keeps `stream`; its handle (below 2^31).
    pub(crate) fn add(&mut self, stream: OutStream) -> u32 {
        let handle = self.next;
        self.next = (self.next + 1) & 0x7fff_ffff;
        self.open.insert(handle, stream);
        handle
    }

    pub(crate) fn get(&mut self, handle: u32) -> Option<&mut OutStream> {
        self.open.get_mut(&handle)
    }

    pub(crate) fn take(&mut self, handle: u32) -> Option<OutStream> {
        self.open.remove(&handle)
    }
}

/// A reference to a JavaScript value.
struct JsRef(sys::napi_ref);

// SAFETY: only created, read and deleted on the JavaScript thread; the
// session merely stores it.
unsafe impl Send for JsRef {}

thread_local! {
    /// The session whose connection this thread is pumping: its events are
    /// delivered right after the pump, not through the thread-safe function.
    static DIRECT: Cell<*const Session> = const { Cell::new(ptr::null()) };
}

/// Marks this thread as delivering `session`'s events itself while alive.
pub(crate) struct Direct {
    previous: *const Session,
}

impl Direct {
    pub(crate) fn begin(session: &Arc<Session>) -> Direct {
        Direct {
            previous: DIRECT.replace(Arc::as_ptr(session)),
        }
    }
}

impl Drop for Direct {
    fn drop(&mut self) {
        DIRECT.set(self.previous);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent even if a panic
    // cut it short, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Session {
    /// The engine kernel, once it listens (and until the session ends).
    pub(crate) fn kernel(&self) -> Option<&Kernel> {
        self.kernel.get()
    }

    pub(crate) fn replies(&self) -> MutexGuard<'_, ReplySlots> {
        lock(&self.replies)
    }

    pub(crate) fn streams(&self) -> MutexGuard<'_, OutStreams> {
        lock(&self.streams)
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    /// Starts call `id`: polls it once here (which sends it) and keeps it
    /// until it completes. JavaScript thread only, inside the runtime's
    /// context (timeouts register with its timer).
    pub(crate) fn start_call(self: &Arc<Self>, id: u32, mut call: CallFuture) {
        let mut calls = lock(&self.calls);
        let slot = match calls.free.pop() {
            Some(slot) => slot,
            None => {
                calls.slots.push(None);
                calls.slots.len() - 1
            }
        };
        let waker = Waker::from(Arc::new(CallWaker {
            session: Arc::downgrade(self),
            slot,
        }));
        // A waker firing meanwhile only queues an event, handled on this
        // thread after this function returns.
        match call.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(result) => {
                calls.free.push(slot);
                drop(calls);
                self.push(Event::Reply { id, result });
            }
            Poll::Pending => calls.slots[slot] = Some((id, call, waker)),
        }
    }

    /// Polls the call in `slot`; its id and outcome once it completed.
    fn poll_call(&self, slot: usize) -> Option<(u32, Result<Payload, CallError>)> {
        let mut calls = lock(&self.calls);
        let (id, call, waker) = calls.slots.get_mut(slot)?.as_mut()?;
        let id = *id;
        match call.as_mut().poll(&mut Context::from_waker(waker)) {
            Poll::Pending => None,
            Poll::Ready(result) => {
                calls.slots[slot] = None;
                calls.free.push(slot);
                Some((id, result))
            }
        }
    }

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
        {
            let mut state = lock(&self.state);
            state.tsfn = Some(Tsfn(tsfn));
            state.env = env as usize;
        }
        let mut reference = ptr::null_mut();
        // SAFETY: caller's contract; `reference` is a valid out-pointer.
        if unsafe { sys::napi_create_reference(env, dispatch, 1, &mut reference) }
            == Status::napi_ok
        {
            *lock(&self.dispatch) = Some(JsRef(reference));
        }
        let mut sessions = lock(&SESSIONS);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(Arc::downgrade(self));
        Ok(())
    }

    /// Installs the engine kernel once it listens and announces it. Gives
    /// the kernel back when the session was closed meanwhile (the caller
    /// then stops it).
    pub(crate) fn set_kernel(&self, kernel: Kernel) -> Result<(), Kernel> {
        let mut state = lock(&self.state);
        if state.closed {
            return Err(kernel);
        }
        let port = kernel.node().port();
        self.kernel.set(kernel)?;
        self.push_locked(&mut state, std::iter::once(Event::Ready(port)));
        Ok(())
    }

    /// Keeps `task` to abort it when the session ends (at once if it has).
    pub(crate) fn add_task(&self, task: AbortHandle) {
        let mut state = lock(&self.state);
        if state.closed {
            task.abort();
        } else {
            state.tasks.push(task);
        }
    }

    pub(crate) fn push(&self, event: Event) {
        self.push_all(std::iter::once(event));
    }

    /// Queues events; the first one into an empty queue schedules a call of
    /// the JavaScript dispatcher.
    pub(crate) fn push_all(&self, events: impl IntoIterator<Item = Event>) {
        self.push_locked(&mut lock(&self.state), events);
    }

    fn push_locked(&self, state: &mut State, events: impl IntoIterator<Item = Event>) {
        let Some(tsfn) = &state.tsfn else {
            return;
        };
        let tsfn = tsfn.0;
        state.events.extend(events);
        if state.scheduled || state.events.is_empty() || DIRECT.get() == ptr::from_ref(self) {
            return;
        }
        // SAFETY: the function is alive: it is still in the state, and
        // both release and finalization take it out under this lock.
        let status = unsafe {
            sys::napi_call_threadsafe_function(
                tsfn,
                ptr::null_mut(),
                sys::ThreadsafeFunctionCallMode::nonblocking,
            )
        };
        if status == Status::napi_ok {
            state.scheduled = true;
        } else {
            // Closing (the environment is going away): no call may follow.
            state.tsfn = None;
            state.closed = true;
            state.events.clear();
        }
    }

    /// Ends the session from JavaScript (`stop()`, or the owner object being
    /// collected): stops the engine kernel, drops undelivered events and
    /// releases the function, so nothing native holds the event loop.
    pub(crate) fn close(&self) {
        let tasks = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.events.clear();
            if let Some(tsfn) = state.tsfn.take() {
                // SAFETY: the function is alive (it was still in the state)
                // and this is the only release of its single thread count.
                unsafe {
                    sys::napi_release_threadsafe_function(
                        tsfn.0,
                        sys::ThreadsafeFunctionReleaseMode::release,
                    )
                };
            }
            mem::take(&mut state.tasks)
        };
        if let Some(JsRef(reference)) = lock(&self.dispatch).take() {
            if let Some(env) = self.env() {
                // SAFETY: JavaScript thread (see the callers); the reference
                // was made in `env` and is deleted once, here.
                unsafe { sys::napi_delete_reference(env, reference) };
            }
        }
        self.close_polls();
        self.shut_down(tasks);
    }

    /// Node finalized the function: after `close`, or because the
    /// environment is being torn down with the kernel still running.
    fn finalized(&self) {
        let tasks = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.tsfn = None;
            state.events.clear();
            mem::take(&mut state.tasks)
        };
        // The environment is going away: the reference goes with it.
        lock(&self.dispatch).take();
        self.close_polls();
        self.shut_down(tasks);
    }

    /// Stops watching this session's connections (JavaScript thread only).
    fn close_polls(&self) {
        let polls = mem::take(&mut *lock(&self.polls));
        for (_, poll) in polls {
            // SAFETY: polls are made and closed on the JavaScript thread,
            // where the session's owner calls this; a listed poll is live.
            unsafe { uv::close_ptr(poll) };
        }
    }

    pub(crate) fn next_poll_key(&self) -> u64 {
        self.next_poll.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn add_poll(&self, key: u64, poll: PollPtr) {
        lock(&self.polls).push((key, poll));
    }

    pub(crate) fn remove_poll(&self, key: u64) -> Option<PollPtr> {
        let mut polls = lock(&self.polls);
        let at = polls.iter().position(|(k, _)| *k == key)?;
        Some(polls.swap_remove(at).1)
    }

    fn find_poll(&self, key: u64) -> Option<PollPtr> {
        lock(&self.polls)
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, p)| *p)
    }

    /// The environment this session was attached in.
    fn env(&self) -> Option<napi_env> {
        let env = lock(&self.state).env;
        (env != 0).then_some(env as napi_env)
    }

    fn shut_down(&self, tasks: Vec<AbortHandle>) {
        for task in tasks {
            task.abort();
        }
        if let Some(kernel) = self.kernel.get() {
            kernel.stop();
        }
        // Dropping a call removes what it waits for from the kernel.
        let calls = mem::take(&mut *lock(&self.calls));
        drop(calls);
        let streams = mem::take(&mut *lock(&self.streams));
        drop(streams);
    }

    fn take_events(&self) -> Vec<Event> {
        let mut state = lock(&self.state);
        state.scheduled = false;
        mem::take(&mut state.events)
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
    if lock(&session.state).events.is_empty() {
        return Ok(());
    }
    let mut scope = ptr::null_mut();
    // SAFETY: caller's contract; `scope` is a valid out-pointer.
    check(
        unsafe { sys::napi_open_handle_scope(env, &mut scope) },
        "opening a handle scope",
    )?;
    let mut dispatch = ptr::null_mut();
    let found = match &*lock(&session.dispatch) {
        Some(JsRef(r)) => {
            // SAFETY: caller's contract; the reference is alive while kept.
            let status = unsafe { sys::napi_get_reference_value(env, *r, &mut dispatch) };
            status == Status::napi_ok
        }
        None => false,
    };
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
    let mut batch = Batch::default();
    {
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
                        // SAFETY: this is the JavaScript thread of `env`.
                        unsafe { uv::watch(env, session, reader) };
                    }
                    continue;
                }
                Event::InboundClosed(key) => {
                    if let Some(poll) = session.remove_poll(key) {
                        // SAFETY: a listed poll is live; JavaScript thread.
                        unsafe { uv::close_ptr(poll) };
                    }
                    continue;
                }
                Event::Rearm(key) => {
                    if let Some(poll) = session.find_poll(key) {
                        // SAFETY: as above.
                        unsafe { uv::rearm(poll) };
                    }
                    continue;
                }
                other => other,
            };
            batch.event(event, &mut session.replies());
        }
    }
    if batch.text.len() == 1 {
        return Ok(());
    }
    batch.text.push(']');
    let mut argv = [ptr::null_mut(); 2];
    // SAFETY: caller's contract; the text outlives the call, which copies it.
    check(
        unsafe {
            sys::napi_create_string_utf8(
                env,
                batch.text.as_ptr().cast::<c_char>(),
                batch.text.len() as isize,
                &mut argv[0],
            )
        },
        "creating the event text",
    )?;
    if batch.buffers.is_empty() {
        // SAFETY: caller's contract.
        check(unsafe { sys::napi_get_null(env, &mut argv[1]) }, "null")?;
    } else {
        // SAFETY: caller's contract; every value created belongs to the
        // handle scope N-API opened for this call.
        unsafe {
            check(
                sys::napi_create_array_with_length(env, batch.buffers.len(), &mut argv[1]),
                "creating the buffer list",
            )?;
            for (i, bytes) in batch.buffers.iter().enumerate() {
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
                    sys::napi_set_element(env, argv[1], i as u32, buffer),
                    "filling the buffer list",
                )?;
            }
        }
    }
    let mut recv = ptr::null_mut();
    let mut result = ptr::null_mut();
    // What the listeners send while handling this batch (replies, the next
    // calls) goes out with one write per connection when they are done.
    let _cork = notp::net::embed::Cork::new();
    // SAFETY: caller's contract; `argv` holds two values of this scope.
    unsafe {
        // `napi_make_callback` wants an object as `this`.
        if outside {
            check(sys::napi_get_global(env, &mut recv), "global")?;
        } else {
            check(sys::napi_get_undefined(env, &mut recv), "undefined")?;
        }
        if !outside {
            // An exception thrown by the dispatcher stays pending: Node
            // reports it as uncaught, as for any other event callback.
            sys::napi_call_function(env, recv, js_cb, argv.len(), argv.as_ptr(), &mut result);
            return Ok(());
        }
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

/// The JSON text of a batch (`[kind, fields…, kind, fields…]`) and the
/// byte payloads it refers to.
struct Batch {
    text: String,
    buffers: Vec<Bytes>,
}

impl Default for Batch {
    fn default() -> Self {
        let mut text = String::with_capacity(512);
        text.push('[');
        Batch {
            text,
            buffers: Vec::new(),
        }
    }
}

impl Batch {
    fn start(&mut self, kind: u8) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        let _ = write!(self.text, "{kind}");
    }

    fn str(&mut self, s: &str) {
        self.text.push(',');
        js_json::write_str(&mut self.text, s);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.text.push_str(",null"),
        }
    }

    fn num(&mut self, n: impl std::fmt::Display) {
        let _ = write!(self.text, ",{n}");
    }

    fn json(&mut self, v: &Value) {
        self.text.push(',');
        js_json::write_value(&mut self.text, v);
    }

    /// The payload, or the index of its Buffer.
    fn payload(&mut self, p: Payload) {
        match p {
            Payload::Json(v) => self.json(&v),
            Payload::Bytes(b) => {
                self.num(self.buffers.len());
                self.buffers.push(b);
            }
        }
    }

    fn event(&mut self, event: Event, replies: &mut ReplySlots) {
        match event {
            Event::Message(m) => {
                self.start(if matches!(m.data, Payload::Bytes(_)) {
                    kind::MESSAGE_BYTES
                } else {
                    kind::MESSAGE_JSON
                });
                self.str(&m.target);
                self.opt_str(m.from.tag.as_deref());
                self.opt_str(m.from.node.host.as_deref());
                match m.from.node.port {
                    Some(p) => self.num(p),
                    None => self.text.push_str(",null"),
                }
                self.str(&m.from.node.id);
                if m.from.tag.is_some() {
                    let handle = replies.store(m.from);
                    self.num(handle);
                } else {
                    self.num(-1);
                }
                self.payload(m.data);
            }
            Event::Reply { id, result: Ok(p) } => {
                self.start(if matches!(p, Payload::Bytes(_)) {
                    kind::REPLY_BYTES
                } else {
                    kind::REPLY_JSON
                });
                self.num(id);
                self.payload(p);
            }
            Event::Reply { id, result: Err(e) } => {
                self.start(kind::REPLY_ERROR);
                self.num(id);
                self.str(&e.to_string());
                match e {
                    CallError::Remote(v) => self.json(&v),
                    CallError::InvalidReply { expected, actual } => {
                        let props = serde_json::json!({
                            "type": "INVALID_REPLY",
                            "expected": expected,
                            "actual": actual,
                        });
                        self.json(&props);
                    }
                    _ => self.text.push_str(",null"),
                }
            }
            // Turned into replies (or nothing) before encoding.
            Event::PollCall(_) => {}
            // Handled before encoding.
            Event::Inbound(_) | Event::InboundClosed(_) | Event::Rearm(_) => {}
            Event::Ready(port) => {
                self.start(kind::READY);
                self.num(port);
            }
            Event::StartFailed(message) => {
                self.start(kind::START_FAILED);
                self.str(&message);
            }
            Event::Connected(id) => {
                self.start(kind::CONNECTED);
                self.str(&id);
            }
            Event::Encoded(fields) => {
                if self.text.len() > 1 {
                    self.text.push(',');
                }
                self.text.push_str(&fields);
            }
            Event::Skip(skip) => {
                self.start(kind::SKIP);
                self.str(skip.code);
                self.str(&skip.detail);
                let peer = skip.peer.map(|p| p.to_string());
                self.opt_str(peer.as_deref());
            }
        }
    }
}
