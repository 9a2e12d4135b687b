//! One start of one kernel (or one attached gossip ring) as the JavaScript
//! thread sees it: a queue of events, the N-API thread-safe function that
//! empties it, and the tables of what JavaScript refers to by handle while
//! it runs (reply addresses, streamed bodies, calls in flight, watched
//! connections).
//!
//! Engine threads push events; pushing into an empty queue schedules one
//! call of the function, and every event pushed before that call runs rides
//! along ([`crate::delivery`] empties the queue), so a busy kernel delivers
//! many messages per wake-up of the event loop.
//!
//! Lifetime: the function is referenced while the kernel runs (a started
//! kernel keeps Node alive, like a listening server) and released by
//! [`Session::close`]. Node finalizes it after that, or when the environment
//! is torn down (process exit, worker termination); either way
//! [`Session::finalized`] stops the engine kernel and marks the session
//! closed, and nothing calls the function afterwards: every call happens
//! under the session lock and checks that the function is still there.

use std::cell::Cell;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use napi::sys::{self, napi_env, Status};
use notp::net::Kernel;
use tokio::task::AbortHandle;

use crate::event::Event;
use crate::executor::{CallFuture, CallResult, CallSlots, PollRequests};
use crate::slots::{OutStreams, ReplySlots};

/// The thread-safe function of a session.
pub(crate) struct Tsfn(pub(crate) sys::napi_threadsafe_function);

// SAFETY: a thread-safe function exists to be called from any thread; N-API
// synchronises the calls. We only touch it under the session lock, and
// never after releasing it or after its finalizer ran (it is taken out of
// the state at both points).
unsafe impl Send for Tsfn {}

/// A reference to a JavaScript value.
pub(crate) struct JsRef(pub(crate) sys::napi_ref);

// SAFETY: only created, read and deleted on the JavaScript thread; the
// session merely stores it.
unsafe impl Send for JsRef {}

/// A connection the JavaScript thread watches for a session
/// ([`crate::uv`]). The session only keeps it, to let go of it when asked
/// and when the session ends; what watching means is the watcher's.
pub(crate) trait Watched: Send {
    /// Watches again after the engine let go of the connection.
    ///
    /// # Safety
    /// JavaScript thread of the session; the watch not closed.
    unsafe fn rearm(&self);

    /// Stops watching.
    ///
    /// # Safety
    /// As for [`rearm`](Self::rearm).
    unsafe fn close(&self);
}

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

#[derive(Default)]
pub(crate) struct Session {
    state: Mutex<State>,
    kernel: OnceLock<Kernel>,
    replies: Mutex<ReplySlots>,
    calls: Mutex<CallSlots>,
    /// The dispatcher, for deliveries made on the JavaScript thread
    /// without the thread-safe function (JavaScript thread only).
    dispatch: Mutex<Option<JsRef>>,
    /// Connections watched from the JavaScript thread, by key.
    watched: Mutex<Vec<(u64, Box<dyn Watched>)>>,
    next_watch: AtomicU64,
    /// Streamed bodies being sent, by handle.
    streams: Mutex<OutStreams>,
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

pub(crate) fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data consistent even if a panic
    // cut it short, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PollRequests for Session {
    fn request_poll(&self, slot: usize) {
        self.push(Event::PollCall(slot));
    }
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

    /// Starts call `id` (see [`crate::executor`]); its outcome arrives as a
    /// `Reply` event. JavaScript thread only, inside the runtime's context
    /// (timeouts register with its timer).
    pub(crate) fn start_call(self: &Arc<Self>, id: u32, call: CallFuture) {
        let owner: Weak<Session> = Arc::downgrade(self);
        let done = lock(&self.calls).start(id, call, owner);
        if let Some(result) = done {
            self.push(Event::Reply { id, result });
        }
    }

    /// Polls the call in `slot`; its id and outcome once it completed.
    pub(crate) fn poll_call(&self, slot: usize) -> Option<(u32, CallResult)> {
        lock(&self.calls).poll(slot)
    }

    /// Takes the thread-safe function made for this session and the
    /// reference to its dispatcher, and lists the session among those that
    /// may own a running kernel.
    pub(crate) fn install(self: &Arc<Self>, tsfn: Tsfn, env: napi_env, dispatch: Option<JsRef>) {
        {
            let mut state = lock(&self.state);
            state.tsfn = Some(tsfn);
            state.env = env as usize;
        }
        *lock(&self.dispatch) = dispatch;
        let mut sessions = lock(&SESSIONS);
        sessions.retain(|s| s.strong_count() > 0);
        sessions.push(Arc::downgrade(self));
    }

    /// The reference to the dispatcher (JavaScript thread only, valid
    /// until [`close`](Self::close) on the same thread).
    pub(crate) fn dispatch_ref(&self) -> Option<sys::napi_ref> {
        lock(&self.dispatch).as_ref().map(|r| r.0)
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

    /// Whether events wait for delivery.
    pub(crate) fn has_events(&self) -> bool {
        !lock(&self.state).events.is_empty()
    }

    /// The events waiting, for delivery; the next push schedules a call again.
    pub(crate) fn take_events(&self) -> Vec<Event> {
        let mut state = lock(&self.state);
        state.scheduled = false;
        mem::take(&mut state.events)
    }

    /// Ends the session from JavaScript (`stop()`, or the owner object being
    /// collected): stops the engine kernel, drops undelivered events and
    /// releases the function, so nothing native holds the event loop.
    /// JavaScript thread only.
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
        self.close_watches();
        self.shut_down(tasks);
    }

    /// Node finalized the function: after `close`, or because the
    /// environment is being torn down with the kernel still running.
    pub(crate) fn finalized(&self) {
        let tasks = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.tsfn = None;
            state.events.clear();
            mem::take(&mut state.tasks)
        };
        // The environment is going away: the reference goes with it.
        lock(&self.dispatch).take();
        self.close_watches();
        self.shut_down(tasks);
    }

    /// Stops watching this session's connections (JavaScript thread only).
    fn close_watches(&self) {
        let watched = mem::take(&mut *lock(&self.watched));
        for (_, watch) in watched {
            // SAFETY: watches are made and closed on the JavaScript thread,
            // where the session's owner calls this; a listed watch is live.
            unsafe { watch.close() };
        }
    }

    pub(crate) fn next_watch_key(&self) -> u64 {
        self.next_watch.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn add_watch(&self, key: u64, watch: Box<dyn Watched>) {
        lock(&self.watched).push((key, watch));
    }

    /// Forgets the watch `key`, giving it back.
    pub(crate) fn remove_watch(&self, key: u64) -> Option<Box<dyn Watched>> {
        let mut watched = lock(&self.watched);
        let at = watched.iter().position(|(k, _)| *k == key)?;
        Some(watched.swap_remove(at).1)
    }

    /// Rearms the watch `key`, if still listed.
    ///
    /// # Safety
    /// JavaScript thread of the session.
    pub(crate) unsafe fn rearm_watch(&self, key: u64) {
        if let Some((_, watch)) = lock(&self.watched).iter().find(|(k, _)| *k == key) {
            // SAFETY: caller's contract; a listed watch is live.
            unsafe { watch.rearm() };
        }
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
}
