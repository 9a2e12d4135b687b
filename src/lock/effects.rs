//! What a lock or semaphore server's state machine asks its driver to do
//! after a job or a timer: one reply, table writes in order, timers.

use std::time::Duration;

use serde_json::{json, Value as Json};

use super::job::ErrorReply;
use crate::table::Op;

/// A timer of a server: a lease that ends unless released first.
pub type TimerId = u64;

#[derive(Debug, Clone, PartialEq)]
pub enum Timer {
    /// Call the server's `on_timer(id, now)` after `after`.
    Start { id: TimerId, after: Duration },
    /// The timer is no longer needed (firing it anyway does nothing).
    Cancel(TimerId),
}

/// A server's answer to a job.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `{"ok": bool}`, with the grant's fencing token when fencing is on,
    /// and `data` for a semaphore read.
    Ok {
        ok: bool,
        token: Option<u64>,
        data: Option<Json>,
    },
    /// An error reply (the wire's `stream.error`).
    Error(ErrorReply),
}

impl Reply {
    pub(crate) fn ok(ok: bool) -> Reply {
        Reply::Ok {
            ok,
            token: None,
            data: None,
        }
    }

    /// The reply value for `Ok`, the error object for `Error`.
    pub fn to_json(&self) -> Json {
        match self {
            Reply::Ok { ok, token, data } => {
                let mut v = json!({ "ok": ok });
                if let Some(d) = data {
                    v["data"] = d.clone();
                }
                if let Some(t) = token {
                    v["token"] = json!(t);
                }
                v
            }
            Reply::Error(e) => e.to_json(),
        }
    }
}

/// Everything one step of a server produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// The answer to the job; `None` for a timer. A driver sends it only
    /// when the request had a reply tag (the original answers no cast).
    pub reply: Option<Reply>,
    /// Writes for the server's table, in order.
    pub table: Vec<Op>,
    pub timers: Vec<Timer>,
}

impl Effects {
    pub(crate) fn reply(reply: Reply) -> Effects {
        Effects {
            reply: Some(reply),
            ..Effects::default()
        }
    }
}

/// Milliseconds (possibly fractional, as a job may give them) as a timer
/// delay.
pub(crate) fn delay(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
}
