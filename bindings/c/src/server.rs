//! Servers: `notp_server_t` (a name registered on a kernel, whose messages
//! run a C callback on an engine thread), `notp_request_t` (one message,
//! lent to the callback) and `notp_reply_t` (an answer owed, to be sent
//! later from any thread).

use std::cell::{Cell, OnceCell};
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::args::{self, c_string_lossy};
use super::kernel::{kernel, KernelHandle};
use super::ownership::{self, give};
use super::runtime::runtime;
use super::status::{answer, guard, quietly, Failure, Status};
use super::user_data::UserData;
use engine::gen_server::GenServer;
use engine::net::{error_value, From, Kernel, Message, NetError, Payload};

/// Runs on an engine thread for each message a server receives. `request`
/// is lent for the duration of the call only.
pub type MessageCallback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, request: *const Request)>;

/// The callback and its user data, taken away (under the lock) when the
/// server is freed, so no run can start after that.
type Registration = (unsafe extern "C" fn(*mut c_void, *const Request), UserData);

/// What a server's task shares with its handle.
#[derive(Debug)]
struct Listener {
    registration: Mutex<Option<Registration>>,
    /// Set when the server is freed from inside its own callback, where the
    /// lock is held and cannot be taken again.
    stopped: AtomicBool,
}

thread_local! {
    /// The listener whose callback this thread is running, if any.
    static SERVING: Cell<*const Listener> = const { Cell::new(std::ptr::null()) };
}

impl Listener {
    fn lock(&self) -> MutexGuard<'_, Option<Registration>> {
        // The lock guards a plain value that a panic cannot leave half set.
        self.registration.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs the callback on one message; never lets a panic out of the
    /// server's task.
    fn deliver(&self, kernel: &Kernel, server: &str, message: Received) {
        quietly(|| {
            let registration = self.lock();
            let Some((callback, user_data)) = *registration else {
                return;
            };
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            let request = Request::new(kernel.clone(), server, message);
            let previous = SERVING.with(|s| s.replace(self));
            // SAFETY: the callback and its user data are the caller's, given
            // together to notp_kernel_register(), which documents that it runs
            // on an engine thread with a request valid for the call.
            unsafe { callback(user_data.0, ownership::lend(&request)) };
            SERVING.with(|s| s.set(previous));
        });
    }
}

/// A message as a server receives it: `event` only for GenServer bodies.
struct Received {
    event: Option<String>,
    data: Payload,
    from: From,
}

/// Where a server's messages come from.
enum Mailbox {
    /// `{event, data}` bodies; others are dropped (counted as
    /// `MALFORMED_BODY`).
    GenServer(GenServer),
    /// Every message as it arrived.
    Raw(mpsc::Receiver<Message>),
}

impl Mailbox {
    async fn next(&mut self) -> Option<Received> {
        match self {
            Mailbox::GenServer(server) => server.recv().await.map(|r| Received {
                event: Some(r.event),
                data: r.data,
                from: r.from,
            }),
            Mailbox::Raw(rx) => rx.recv().await.map(|m| Received {
                event: None,
                data: m.data,
                from: m.from,
            }),
        }
    }
}

async fn serve(kernel: Kernel, name: String, mut mailbox: Mailbox, listener: Arc<Listener>) {
    while let Some(message) = mailbox.next().await {
        listener.deliver(&kernel, &name, message);
    }
}

/// A server registered on a kernel.
#[derive(Debug)]
pub struct ServerHandle {
    kernel: Kernel,
    name: String,
    listener: Arc<Listener>,
    task: JoinHandle<()>,
}

/// One received message, lent to a server's callback.
#[derive(Debug)]
pub struct Request {
    kernel: Kernel,
    server: CString,
    event: Option<CString>,
    data: Payload,
    data_json: OnceCell<CString>,
    sender: CString,
    from: From,
    /// Replied to or deferred.
    answered: Cell<bool>,
}

impl Request {
    fn new(kernel: Kernel, server: &str, message: Received) -> Self {
        Request {
            server: c_string_lossy(server),
            event: message.event.as_deref().map(c_string_lossy),
            sender: c_string_lossy(&message.from.node.id),
            data: message.data,
            data_json: OnceCell::new(),
            from: message.from,
            answered: Cell::new(false),
            kernel,
        }
    }

    /// Sends the answer, once; a cast has none to send.
    fn answer(&self, reply: &Result<Payload, Value>) -> Result<(), Failure> {
        if self.from.tag.is_none() {
            return Err(NetError::NoTag.into());
        }
        if self.answered.get() {
            return Err(already_answered());
        }
        send(&self.kernel, &self.from, reply)?;
        self.answered.set(true);
        Ok(())
    }
}

/// An answer owed to a call, to be sent from any thread.
#[derive(Debug)]
pub struct ReplyHandle {
    kernel: Kernel,
    from: From,
    sent: bool,
}

impl ReplyHandle {
    fn send(&mut self, reply: &Result<Payload, Value>) -> Result<(), Failure> {
        if self.sent {
            return Err(already_answered());
        }
        send(&self.kernel, &self.from, reply)?;
        self.sent = true;
        Ok(())
    }
}

fn already_answered() -> Failure {
    Failure::invalid("this call was already answered (or deferred)")
}

fn send(kernel: &Kernel, from: &From, reply: &Result<Payload, Value>) -> Result<(), Failure> {
    match reply {
        Ok(data) => kernel.reply(from, data)?,
        Err(error) => kernel.reply_error(from, error)?,
    }
    Ok(())
}

/// The answer a `reply_json` / `reply_bytes` / `reply_error` call gives.
///
/// # Safety
/// The pointers follow the header's contract.
unsafe fn json_reply(json: *const c_char) -> Result<Result<Payload, Value>, Failure> {
    // SAFETY: forwarded from this function's contract.
    Ok(Ok(Payload::Json(unsafe { args::json(json, "json") }?)))
}

/// # Safety
/// As [`json_reply`].
unsafe fn bytes_reply(data: *const u8, len: usize) -> Result<Result<Payload, Value>, Failure> {
    // SAFETY: forwarded from this function's contract.
    let bytes = unsafe { args::bytes(data, len, "data") }?;
    Ok(Ok(Payload::Bytes(bytes.to_vec().into())))
}

/// # Safety
/// As [`json_reply`].
unsafe fn error_reply(message: *const c_char) -> Result<Result<Payload, Value>, Failure> {
    // SAFETY: forwarded from this function's contract.
    let message = unsafe { args::text(message, "message") }?;
    Ok(Err(error_value(message, &[])))
}

/// Borrows a request.
///
/// # Safety
/// As [`ownership::borrow`].
unsafe fn request<'a>(ptr: *const Request) -> Result<&'a Request, Failure> {
    // SAFETY: forwarded from this function's contract.
    unsafe { ownership::borrow(ptr, "request") }
}

// ---- registering ------------------------------------------------------------

/// # Safety
/// The pointers follow the header's contract.
unsafe fn register(
    kernel: *const KernelHandle,
    name: *const c_char,
    callback: MessageCallback,
    user_data: *mut c_void,
    out: *mut *mut ServerHandle,
    raw: bool,
) -> Status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        answer(out, || {
            let (kernel, name) = (self::kernel(kernel)?, args::text(name, "name")?);
            let callback = callback.ok_or_else(|| Failure::null("callback"))?;
            let runtime = runtime()?;
            let mailbox = if raw {
                Mailbox::Raw(kernel.register(name)?)
            } else {
                Mailbox::GenServer(GenServer::start(kernel, name)?)
            };
            let listener = Arc::new(Listener {
                registration: Mutex::new(Some((callback, UserData(user_data)))),
                stopped: AtomicBool::new(false),
            });
            let task = runtime.spawn(serve(
                kernel.clone(),
                name.to_owned(),
                mailbox,
                listener.clone(),
            ));
            Ok(give(ServerHandle {
                kernel: kernel.clone(),
                name: name.to_owned(),
                listener,
                task,
            }))
        })
    }
}

/// Registers a GenServer named `name`: every message whose body is
/// `{"event":..., "data":...}` runs `callback(user_data, request)` on an
/// engine thread, one message at a time, in order; other bodies are dropped
/// (counted as MALFORMED_BODY). `user_data` may be NULL; it must stay valid
/// until notp_server_free() returns. NOTP_ERR_NAME_TAKEN when the kernel has
/// a server of that name, NOTP_ERR_STOPPED on a stopped kernel. Release the
/// server with notp_server_free().
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_register(
    kernel: *const KernelHandle,
    name: *const c_char,
    callback: MessageCallback,
    user_data: *mut c_void,
    out: *mut *mut ServerHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(kernel, name, callback, user_data, out, false) }
}

/// As notp_kernel_register(), but every message reaches the callback as it
/// arrived: notp_request_event() answers NULL and the data is the whole
/// body (what notp_kernel_call_raw() and _cast_raw() send).
#[no_mangle]
pub unsafe extern "C" fn notp_kernel_register_raw(
    kernel: *const KernelHandle,
    name: *const c_char,
    callback: MessageCallback,
    user_data: *mut c_void,
    out: *mut *mut ServerHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { register(kernel, name, callback, user_data, out, true) }
}

/// Unregisters the server and releases the handle. Once it returns, the
/// callback is not running and never runs again, so its user data may be
/// released; messages still queued are dropped (their callers wait for
/// their timeouts). Inside the server's own callback it may be called too:
/// that run finishes and no other starts. Called from another server's
/// callback it waits for this server's running callback, so two servers
/// must not free each other from their callbacks. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_server_free(server: *mut ServerHandle) {
    // SAFETY: the caller passes NULL or a server this library handed over
    // and has not freed yet.
    let Some(server) = (unsafe { ownership::take(server) }) else {
        return;
    };
    quietly(|| {
        server.listener.stopped.store(true, Ordering::Release);
        if !server.task.is_finished() {
            server.kernel.unregister(&server.name);
        }
        server.task.abort();
        let inside_own_callback = SERVING.with(|s| std::ptr::eq(s.get(), &*server.listener));
        if !inside_own_callback {
            // Waits for a run in progress on another thread.
            server.listener.lock().take();
        }
    });
    super::status::drop_quietly(server);
}

// ---- reading a request ------------------------------------------------------

/// Lends the name of the server the message was addressed to.
#[no_mangle]
pub unsafe extern "C" fn notp_request_server(
    request: *const Request,
    out: *mut *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(self::request(request)?.server.as_ptr())) }
}

/// Lends the GenServer event name; NULL for a raw server's message.
#[no_mangle]
pub unsafe extern "C" fn notp_request_event(
    request: *const Request,
    out: *mut *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(self::request(request)?
                .event
                .as_ref()
                .map_or(std::ptr::null(), |e| e.as_ptr()))
        })
    }
}

/// Lends the data as JSON text (a GenServer's `data`, or a raw server's
/// whole body). Bytes read as the JSON of a Node Buffer,
/// `{"type":"Buffer","data":[...]}`; notp_request_data_bytes() gives them
/// as they are.
#[no_mangle]
pub unsafe extern "C" fn notp_request_data_json(
    request: *const Request,
    out: *mut *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let request = self::request(request)?;
            let text = request
                .data_json
                .get_or_init(|| c_string_lossy(&request.data.to_wire()));
            Ok(text.as_ptr())
        })
    }
}

/// Whether the data is bytes (a Node Buffer, or a streamed body) rather
/// than a JSON value.
#[no_mangle]
pub unsafe extern "C" fn notp_request_is_bytes(request: *const Request, out: *mut bool) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            Ok(matches!(self::request(request)?.data, Payload::Bytes(_)))
        })
    }
}

/// Lends the data's bytes and their count. NOTP_ERR_NOT_FOUND when the data
/// is a JSON value (see notp_request_is_bytes()).
#[no_mangle]
pub unsafe extern "C" fn notp_request_data_bytes(
    request: *const Request,
    data: *mut *const u8,
    len: *mut usize,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        guard(|| {
            let request = self::request(request)?;
            let (data, len) = (args::out(data, "data")?, args::out(len, "len")?);
            let Payload::Bytes(bytes) = &request.data else {
                return Err(Failure::not_found("the data is JSON, not bytes"));
            };
            data.write(bytes.as_ptr());
            len.write(bytes.len());
            Ok(())
        })
    }
}

/// Lends the id of the node that sent the message.
#[no_mangle]
pub unsafe extern "C" fn notp_request_sender(
    request: *const Request,
    out: *mut *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(self::request(request)?.sender.as_ptr())) }
}

/// Whether the message is a call that awaits an answer (true) or a cast.
#[no_mangle]
pub unsafe extern "C" fn notp_request_has_tag(request: *const Request, out: *mut bool) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { answer(out, || Ok(self::request(request)?.from.tag.is_some())) }
}

// ---- answering --------------------------------------------------------------

/// Answers the call with a JSON value (JSON text). A call is answered once:
/// NOTP_ERR_NO_TAG for a cast, NOTP_ERR_INVALID_ARGUMENT when already
/// answered or deferred, NOTP_ERR_UNKNOWN_NODE when this kernel has no
/// connection back to the caller.
#[no_mangle]
pub unsafe extern "C" fn notp_request_reply_json(
    request: *const Request,
    json: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| self::request(request)?.answer(&json_reply(json)?)) }
}

/// Answers the call with `len` bytes (a Buffer, for a JavaScript caller).
/// As notp_request_reply_json() otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_request_reply_bytes(
    request: *const Request,
    data: *const u8,
    len: usize,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| self::request(request)?.answer(&bytes_reply(data, len)?)) }
}

/// Answers the call with an error: the caller's call fails with
/// NOTP_ERR_REMOTE and `message`. As notp_request_reply_json() otherwise.
#[no_mangle]
pub unsafe extern "C" fn notp_request_reply_error(
    request: *const Request,
    message: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| self::request(request)?.answer(&error_reply(message)?)) }
}

/// Takes over the answer, to send later from any thread with
/// notp_reply_send_json() and friends; the request itself can then no
/// longer be answered. NOTP_ERR_NO_TAG for a cast. Release the reply with
/// notp_reply_free(), sent or not (a call never answered waits for its
/// timeout).
#[no_mangle]
pub unsafe extern "C" fn notp_request_defer(
    request: *const Request,
    out: *mut *mut ReplyHandle,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe {
        answer(out, || {
            let request = self::request(request)?;
            if request.from.tag.is_none() {
                return Err(NetError::NoTag.into());
            }
            if request.answered.replace(true) {
                return Err(already_answered());
            }
            Ok(give(ReplyHandle {
                kernel: request.kernel.clone(),
                from: request.from.clone(),
                sent: false,
            }))
        })
    }
}

/// Sends a deferred answer: a JSON value (JSON text). Once only
/// (NOTP_ERR_INVALID_ARGUMENT after that); NOTP_ERR_UNKNOWN_NODE when the
/// kernel has no connection back to the caller (or was stopped).
#[no_mangle]
pub unsafe extern "C" fn notp_reply_send_json(
    reply: *mut ReplyHandle,
    json: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| ownership::borrow_mut(reply, "reply")?.send(&json_reply(json)?)) }
}

/// Sends a deferred answer: `len` bytes. As notp_reply_send_json().
#[no_mangle]
pub unsafe extern "C" fn notp_reply_send_bytes(
    reply: *mut ReplyHandle,
    data: *const u8,
    len: usize,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| ownership::borrow_mut(reply, "reply")?.send(&bytes_reply(data, len)?)) }
}

/// Sends a deferred error answer (NOTP_ERR_REMOTE and `message` for the
/// caller). As notp_reply_send_json().
#[no_mangle]
pub unsafe extern "C" fn notp_reply_send_error(
    reply: *mut ReplyHandle,
    message: *const c_char,
) -> Status {
    // SAFETY: the arguments follow the header's pointer contract.
    unsafe { guard(|| ownership::borrow_mut(reply, "reply")?.send(&error_reply(message)?)) }
}

/// Releases a deferred reply, sent or not. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn notp_reply_free(reply: *mut ReplyHandle) {
    // SAFETY: the caller passes NULL or a reply this library handed over.
    unsafe { ownership::free(reply) }
}
