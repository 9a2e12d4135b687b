//! Status codes, the per-thread last error message, and [`guard`]: the one
//! place where a C call's outcome becomes a status.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{self, AssertUnwindSafe};

use super::args;
use engine::net::{CallError, NetError};
use engine::Error;

/// What a libnotp call reports. NOTP_OK is 0; every other value comes with
/// a message from notp_last_error().
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
// The variants carry their C names so Rust and C code grep alike.
#[allow(non_camel_case_types)]
pub enum Status {
    /// Success.
    NOTP_OK = 0,
    /// A pointer argument was NULL.
    NOTP_ERR_NULL_ARGUMENT = 1,
    /// An argument was out of range (a zero weight, an index past the end...).
    NOTP_ERR_INVALID_ARGUMENT = 2,
    /// A string argument was not valid UTF-8.
    NOTP_ERR_UTF8 = 3,
    /// Malformed JSON text, or JSON that is not a valid node, ring or clock.
    NOTP_ERR_JSON = 4,
    /// The node, actor or position asked for is not there.
    NOTP_ERR_NOT_FOUND = 5,
    /// libnotp panicked; the handles involved should only be freed.
    NOTP_ERR_PANIC = 6,
    /// A call got no reply, or a connection was not made, in time.
    NOTP_ERR_TIMEOUT = 7,
    /// The node called has no connection from this kernel (connect first).
    NOTP_ERR_UNKNOWN_NODE = 8,
    /// The remote side answered a call with an error (unknown server, a
    /// full mailbox, or a server's own error reply).
    NOTP_ERR_REMOTE = 9,
    /// The network refused: a port that cannot be bound, a peer given up
    /// on, a reply from the wrong node, too many calls awaiting replies.
    NOTP_ERR_NETWORK = 10,
    /// A server of that name is already registered on this kernel.
    NOTP_ERR_NAME_TAKEN = 11,
    /// The request is a cast (it carries no reply tag), so it cannot be
    /// answered.
    NOTP_ERR_NO_TAG = 12,
    /// The kernel is stopped.
    NOTP_ERR_STOPPED = 13,
    /// A blocking call was made on an engine thread (inside a callback),
    /// where it could deadlock the engine.
    NOTP_ERR_WRONG_THREAD = 14,
}

/// A failed call: the status to return and the message to leave behind.
#[derive(Debug)]
pub(crate) struct Failure {
    status: Status,
    message: String,
}

impl Failure {
    pub(crate) fn new(status: Status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(name: &str) -> Self {
        Failure::new(
            Status::NOTP_ERR_NULL_ARGUMENT,
            format!("`{name}` must not be NULL"),
        )
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Failure::new(Status::NOTP_ERR_NOT_FOUND, message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Failure::new(Status::NOTP_ERR_INVALID_ARGUMENT, message)
    }

    pub(crate) fn status(&self) -> Status {
        self.status
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    fn panic(payload: Box<dyn Any + Send>) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("unknown cause");
        Failure::new(Status::NOTP_ERR_PANIC, format!("libnotp panicked: {what}"))
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let status = match e {
            Error::InvalidArgument { .. } => Status::NOTP_ERR_INVALID_ARGUMENT,
            Error::Json(_)
            | Error::MalformedRing(_)
            | Error::MalformedClock(_)
            | Error::MalformedNode(_) => Status::NOTP_ERR_JSON,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<NetError> for Failure {
    fn from(e: NetError) -> Self {
        let status = match e {
            NetError::Bind { .. } => Status::NOTP_ERR_NETWORK,
            NetError::NameTaken(_) => Status::NOTP_ERR_NAME_TAKEN,
            NetError::NoTag => Status::NOTP_ERR_NO_TAG,
            NetError::UnknownNode(_) => Status::NOTP_ERR_UNKNOWN_NODE,
            NetError::Stopped => Status::NOTP_ERR_STOPPED,
            NetError::Options(_) => Status::NOTP_ERR_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        let status = match e {
            CallError::UnknownNode(_) => Status::NOTP_ERR_UNKNOWN_NODE,
            CallError::Timeout => Status::NOTP_ERR_TIMEOUT,
            CallError::Remote(_) => Status::NOTP_ERR_REMOTE,
            CallError::InvalidReply { .. } | CallError::TooManyPending(_) => {
                Status::NOTP_ERR_NETWORK
            }
            CallError::Stopped => Status::NOTP_ERR_STOPPED,
        };
        Failure::new(status, e.to_string())
    }
}

/// Runs the body of a C call: clears the thread's last error, catches any
/// panic so it never unwinds into C, and turns the outcome into a status,
/// recording the message of a failure.
pub(crate) fn guard(body: impl FnOnce() -> Result<(), Failure>) -> Status {
    last_error::clear();
    // A panic may leave a handle half-updated; the header tells callers to
    // only free the handles of a call that answered NOTP_ERR_PANIC, which is
    // what makes asserting unwind safety acceptable here.
    let outcome =
        panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| Err(Failure::panic(p)));
    match outcome {
        Ok(()) => Status::NOTP_OK,
        Err(failure) => {
            last_error::set(failure.message);
            failure.status
        }
    }
}

/// [`guard`] for calls that answer through an out-parameter: `out` is
/// checked before `body` runs (so a refused call has no effect), and filled
/// with what `body` answers.
///
/// # Safety
/// `out` is NULL or points to writable room for a `T`.
pub(crate) unsafe fn answer<T>(out: *mut T, body: impl FnOnce() -> Result<T, Failure>) -> Status {
    guard(|| {
        // SAFETY: forwarded from this function's contract.
        let slot = unsafe { args::out(out, "out") }?;
        slot.write(body()?);
        Ok(())
    })
}

/// Drops a value without letting a panic escape; for the `_free` functions,
/// which have no status to report it with.
pub(crate) fn drop_quietly<T>(value: T) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// Runs `f` without letting a panic escape; for work with no status to
/// report to (the `_free` functions, engine-thread callbacks).
pub(crate) fn quietly(f: impl FnOnce()) {
    let _ = panic::catch_unwind(AssertUnwindSafe(f));
}

pub(crate) mod last_error {
    use super::*;

    thread_local! {
        static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    }

    pub(crate) fn clear() {
        LAST_ERROR.with(|slot| slot.borrow_mut().take());
    }

    pub(crate) fn set(message: String) {
        // A message can quote caller text that holds NUL bytes; C cannot
        // see past one, so they are spelled out instead.
        let message = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
        LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(message));
    }

    /// The current message, or "" when the last call succeeded. The pointer
    /// stays valid until the next guarded call on this thread replaces it.
    pub(crate) fn get() -> *const c_char {
        LAST_ERROR.with(|slot| slot.borrow().as_ref().map_or(c"".as_ptr(), |m| m.as_ptr()))
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    fn message() -> String {
        // SAFETY: `get` answers a NUL-terminated string that lives until the
        // next guarded call, and none happens before it is copied.
        unsafe { CStr::from_ptr(last_error::get()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn a_panic_becomes_a_status_with_its_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, Status::NOTP_ERR_PANIC);
        assert_eq!(message(), "libnotp panicked: boom");
    }

    #[test]
    fn success_clears_the_previous_message() {
        let status = guard(|| Err(Failure::invalid("bad\0input")));
        assert_eq!(status, Status::NOTP_ERR_INVALID_ARGUMENT);
        assert_eq!(message(), "bad\\0input");
        assert_eq!(guard(|| Ok(())), Status::NOTP_OK);
        assert_eq!(message(), "");
    }

    #[test]
    fn engine_errors_map_onto_statuses() {
        let json: Failure = Error::MalformedClock("x".into()).into();
        assert_eq!(json.status, Status::NOTP_ERR_JSON);
        let weight: Failure = Error::InvalidArgument {
            name: "weight",
            reason: "zero".into(),
        }
        .into();
        assert_eq!(weight.status, Status::NOTP_ERR_INVALID_ARGUMENT);
    }
}
