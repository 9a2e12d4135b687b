//! The types every part of the kernel's drivers shares: a message for a
//! local server, who sent it and how it is answered. Kept apart so that
//! the parts (kernel API, connection readers, inline servers, streams)
//! depend on them rather than on each other.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::core::{Body, Origin};
use super::payload::Payload;
use crate::wire::Sender;

/// How to answer a message.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// Over this node's own outbound connection to the sender.
    Peer,
    /// The sender is this node.
    Local,
    /// On the socket the message arrived on (CLI clients, which have no
    /// listener).
    Socket(mpsc::Sender<Bytes>),
}

/// Who sent a message and how to reply to it (the original's `from`).
#[derive(Debug, Clone)]
pub struct From {
    pub node: Sender,
    /// The reply tag; `None` for casts.
    pub tag: Option<String>,
    pub(crate) route: Route,
}

impl From {
    /// Whether the sender arrived on an accepted socket rather than as a
    /// peer node (i.e. it is a CLI client or another non-member).
    pub fn is_socket(&self) -> bool {
        matches!(self.route, Route::Socket(_))
    }
}

impl std::convert::From<Origin<Route>> for From {
    fn from(o: Origin<Route>) -> From {
        From {
            node: o.node,
            tag: o.tag,
            route: o.way,
        }
    }
}

/// A message for a local server.
#[derive(Debug, Clone)]
pub struct Message {
    /// The server name it was addressed to.
    pub target: String,
    pub data: Payload,
    pub from: From,
}

/// A message for a synchronous server (see `inline`).
pub(crate) struct Delivery {
    pub(crate) target: String,
    pub(crate) from: From,
    pub(crate) body: Body,
}

impl std::convert::From<Message> for Delivery {
    fn from(msg: Message) -> Delivery {
        Delivery {
            target: msg.target,
            from: msg.from,
            body: Body::Payload(msg.data),
        }
    }
}
