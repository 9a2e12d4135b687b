//! What the engine tells the JavaScript side of one session.
//!
//! Engine threads (and the JavaScript thread itself) queue these in a
//! [`crate::session::Session`]; [`crate::delivery`] hands them over in
//! batches. Some never reach JavaScript: they ask the JavaScript thread to
//! do something first (poll a call, watch a connection).

use notp::net::embed::InboundReader;
use notp::net::{CallError, Message, Payload, Skip};

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
    /// A call polled on the JavaScript thread can make progress
    /// ([`crate::executor`]).
    PollCall(usize),
    /// The outbound connection to this node id came up.
    Connected(String),
    Skip(Skip),
    /// Fields already encoded for the dispatcher of another session kind
    /// (the gossip ring's, `crate::cluster`): `kind,field,…`.
    Encoded(String),
    /// A connection was accepted: watch it from the JavaScript thread too
    /// ([`crate::uv`]).
    Inbound(InboundReader),
    /// The connection of that watch ended.
    InboundClosed(u64),
    /// The engine let go of that watch's connection: watch it again.
    Rearm(u64),
}
