//! The numbers both halves of the door agree on: the kinds of event in a
//! batch ([`crate::batch`]), the answers of the request functions, the
//! states of an outbound connection, and the kinds of a gossip ring's
//! events.
//!
//! They are defined here once and handed to JavaScript by [`codes`], which
//! `lib/codes.js` reads when it loads, so the JavaScript side holds no copy
//! that could drift from these.

use std::collections::HashMap;

use napi_derive::napi;

/// Declares a group of named codes and the list of them by name.
macro_rules! code_group {
    ($(#[$meta:meta])* mod $group:ident { $($(#[$doc:meta])* $name:ident = $value:expr,)* }) => {
        $(#[$meta])*
        pub(crate) mod $group {
            $($(#[$doc])* pub(crate) const $name: u32 = $value;)*
            /// Every code of the group with its name, as JavaScript reads it.
            pub(crate) const ALL: &[(&str, u32)] = &[$((stringify!($name), $name)),*];
        }
    };
}

code_group! {
    /// What an event of a kernel's batch is; the fields that follow each
    /// kind are documented at [`crate::batch::Batch::event`].
    mod kernel_event {
        MESSAGE_JSON = 0,
        MESSAGE_BYTES = 1,
        REPLY_JSON = 2,
        REPLY_BYTES = 3,
        REPLY_ERROR = 4,
        READY = 5,
        START_FAILED = 6,
        CONNECTED = 7,
        SKIP = 8,
    }
}

code_group! {
    /// Answers of the request functions (`kernelCall`, `kernelConnect`, …).
    mod answer {
        /// Sent; the outcome arrives as an event.
        PENDING = 0,
        /// No connection to that node (or, for `kernelConnect`, one exists).
        UNKNOWN_NODE = 1,
        /// The kernel does not run (not started, still binding, or stopped).
        NOT_RUNNING = 2,
        /// Refused; the error arrives as the call's event.
        FAILED = 3,
    }
}

code_group! {
    /// The state of an outbound connection (`kernelSinkInfo`), as the
    /// engine numbers it.
    mod sink_state {
        CONNECTING = notp::net::SinkState::Connecting as u32,
        ACTIVE = notp::net::SinkState::Active as u32,
        CLOSED = notp::net::SinkState::Closed as u32,
    }
}

code_group! {
    /// What an event of a gossip ring is (see `crate::cluster`).
    mod gossip_event {
        PROCESS = 0,
        CONFLICT = 1,
        LEAVE = 2,
        SEND = 3,
        CLOSE = 4,
        /// Events wait: take them (`takeEvents`).
        PENDING = 5,
        /// The ring stopped; nothing follows.
        STOP = 6,
    }
}

/// Every group by its JavaScript name.
const GROUPS: &[(&str, &[(&str, u32)])] = &[
    ("kernelEvent", kernel_event::ALL),
    ("answer", answer::ALL),
    ("sinkState", sink_state::ALL),
    ("gossipEvent", gossip_event::ALL),
];

/// `{kernelEvent: {MESSAGE_JSON: 0, …}, answer: {…}, sinkState: {…}}`.
#[napi(catch_unwind)]
pub fn codes() -> HashMap<&'static str, HashMap<&'static str, u32>> {
    GROUPS
        .iter()
        .map(|(group, codes)| (*group, codes.iter().copied().collect()))
        .collect()
}
