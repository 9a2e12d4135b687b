//! The kernel's rules, sans-IO: what becomes of every frame a connection
//! brings and of every message this node sends itself, as pure functions of
//! (state, input, now). Like the gossip state machine (and quinn-proto's
//! `Connection`), nothing here touches a socket, a timer, a thread or the
//! clock; the drivers (the listener, the connection readers, the kernel's
//! API, `super::kernel`) feed it and perform the [`Effect`] it returns.
//!
//! The state is a set of plain types, each owned by its driver under the
//! lock the driver already takes, so the core adds no locking or allocation
//! per message:
//!
//! * [`PendingCalls`]: the calls awaiting replies (under one mutex), with
//!   the reply tags they wait on and the wrong-sender check.
//! * [`Targets`]: the local servers by name (under a read-write lock).
//! * [`Inbound`]: one connection's streams being put back together, with
//!   their byte limit and their expiry (owned by its reader).
//! * [`Writer`]: this node's identity and cookie, and the exact frames it
//!   writes.
//!
//! [`route`] decides where a message goes (a call's reply, a server, or a
//! refusal with an error reply); [`Inbound::receive`] takes one frame from
//! its bytes to that decision. Routing reads the calls and servers through
//! [`Tables`], so a driver takes each lock only when the rule needs it
//! (names too short to be reply tags never touch the calls' lock).
//!
//! The rules are unit-tested in each module and, end to end, by a
//! deterministic two-node harness without sockets (`sim`), as gossip has its
//! simulator.

mod inbound;
mod pending;
mod reassembly;
mod route;
mod targets;
mod writer;

#[cfg(test)]
mod sim;

pub(crate) use inbound::{Context, Inbound};
pub(crate) use pending::{Call, PendingCalls};
pub(crate) use reassembly::StreamGauge;
pub(crate) use route::{refusal, route, Arrival, Content, Tables};
pub(crate) use targets::{Handle, Registration, Targets};
pub(crate) use writer::Writer;

use serde_json::Value;

use super::error::CallError;
use super::payload::Payload;
use crate::wire::Sender;

/// A message this node drops, and why: counted and reported by the driver
/// (as a [`Skip`](super::Skip), with the connection it came on).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Dropped {
    /// A stable name (`UNKNOWN_TARGET`, `INVALID_REPLY`, …).
    pub(crate) code: &'static str,
    pub(crate) detail: String,
}

impl Dropped {
    pub(crate) fn new(code: &'static str, detail: impl Into<String>) -> Dropped {
        Dropped {
            code,
            detail: detail.into(),
        }
    }
}

/// Who sent a message and how it is answered: the sender, its reply tag
/// (`None` for casts) and `way`, the driver's own notion of the way back
/// (its connection to the sender, the socket the message came on, or this
/// node itself), carried along untouched.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Origin<R> {
    pub(crate) node: Sender,
    pub(crate) tag: Option<String>,
    pub(crate) way: R,
}

/// The error answer owed to the sender of a refused message: where it goes
/// (its `tag` is set) and the error object.
pub(crate) type Answer<R> = (Origin<R>, Value);

/// What a message for a local server carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// The payload as received.
    Payload(Payload),
    /// A GenServer request, read straight from the received text (for
    /// servers that take requests, see [`Handle::takes_requests`]).
    Request { event: String, data: Payload },
}

impl Body {
    /// The payload the body was read from (a request is its
    /// `{event, data}` object again).
    pub(crate) fn into_payload(self) -> Payload {
        match self {
            Body::Payload(p) => p,
            Body::Request { event, data } => Payload::Json(serde_json::json!({
                "event": event,
                "data": data.into_json(),
            })),
        }
    }
}

/// What the driver is to do with one input. `W` is how a call's caller is
/// woken, `H` a server's handle, `R` the way back to a sender.
#[derive(Debug)]
pub(crate) enum Effect<W, H, R> {
    /// Nothing (a chunk of a stream still arriving, a ping without a tag).
    Nothing,
    /// Answer a ping from node `to` with `"pong"` under `tag`, over this
    /// node's own connection to it.
    Pong { to: String, tag: String },
    /// The reply to a call of ours: wake its caller with `outcome`, and
    /// count `dropped` if it is set (a reply from the wrong node).
    Reply {
        waiter: W,
        outcome: Result<Payload, CallError>,
        dropped: Option<Dropped>,
    },
    /// Hand a message to a local server.
    Deliver {
        server: Registration<H>,
        target: String,
        from: Origin<R>,
        body: Body,
    },
    /// Drop the message and count it; when its sender waits for an answer,
    /// send it `answer` as an error reply (`from.tag` is then set).
    Refuse {
        dropped: Dropped,
        answer: Option<Answer<R>>,
    },
    /// Drop the message and count it; nobody is owed an answer.
    Drop(Dropped),
}

/// Whether `sender` is a member node: members carry a full address and are
/// answered over this node's own connection to them; anything else (the
/// CLI) is answered on the socket its message came on.
pub(crate) fn is_member(sender: &Sender) -> bool {
    sender.host.is_some() && sender.port.is_some()
}

/// Whether `name` can be one of this node's reply tags: shorter names are
/// server names, routed without looking at the calls awaiting replies.
pub(crate) fn is_reply_tag(name: &str) -> bool {
    name.len() >= super::tag::MIN_TAG_LEN
}
