//! Performing what the core decided: waking callers, handing messages to
//! servers (running inline ones at once when they can), answering pings,
//! refusing with error replies, and counting drops.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

use super::servers::InlineTarget;
use super::{Kernel, Target, Waiter};
use crate::net::core::{self, route, Answer, Arrival, Content, Dropped, Effect, Origin};
use crate::net::error::NetError;
use crate::net::inline::InlineCore;
use crate::net::message::{Delivery, From, Message, Route};
use crate::net::payload::Payload;
use crate::wire::Sender;

/// What the core asks of this kernel.
pub(crate) type KernelEffect = Effect<Waiter, Target, Route>;

impl Kernel {
    /// Routes a message this node sends itself. Local messages never wait
    /// for room: a full mailbox refuses them.
    pub(crate) fn deliver_local(
        &self,
        target: &str,
        tag: Option<&str>,
        result: Result<Payload, Value>,
    ) {
        let from = Origin {
            node: Sender::from(&self.inner.node),
            tag: tag.map(str::to_owned),
            way: Route::Local,
        };
        let msg = Arrival {
            target: target.to_owned(),
            from,
            content: Content::Read(result),
        };
        // Content already read always routes.
        if let Ok(effect) = route(&*self.inner, self.id(), msg) {
            let _ = self.perform(effect, None);
        }
    }

    /// Performs `effect` for a message that arrived from `peer` (`None`:
    /// from this node). A message from the network for a server whose
    /// mailbox is full comes back as a [`Backlog`]: the connection waits
    /// for room (pushing back on the sender through TCP) instead of losing
    /// it.
    #[must_use]
    pub(crate) fn perform(
        &self,
        effect: KernelEffect,
        peer: Option<SocketAddr>,
    ) -> Option<Backlog> {
        match effect {
            Effect::Nothing => None,
            Effect::Pong { to, tag } => {
                if let Some(sink) = self.sink_of(&to) {
                    self.send(&sink, |w, out| w.pong(&tag, out));
                }
                None
            }
            Effect::Reply {
                waiter,
                outcome,
                dropped,
            } => {
                if let Some(dropped) = dropped {
                    self.count(dropped, peer);
                }
                let _ = waiter.send(outcome);
                None
            }
            Effect::Deliver {
                server,
                target,
                from,
                body,
            } => {
                let from = From::from(from);
                match server.handle {
                    Target::Inline(inline) => {
                        self.to_inline(&inline, server.id, Delivery { target, from, body }, peer)
                    }
                    Target::Mailbox(tx) => {
                        let data = body.into_payload();
                        self.to_mailbox(tx, server.id, Message { target, data, from }, peer)
                    }
                }
            }
            Effect::Refuse { dropped, answer } => {
                self.refuse(dropped, answer, peer);
                None
            }
            Effect::Drop(dropped) => {
                self.count(dropped, peer);
                None
            }
        }
    }

    /// Counts a dropped message, answering its caller when one is owed.
    pub(crate) fn refuse(
        &self,
        dropped: Dropped,
        answer: Option<Answer<Route>>,
        peer: Option<SocketAddr>,
    ) {
        self.count(dropped, peer);
        if let Some((to, error)) = answer {
            if let Err(e) = self.answer(&From::from(to), Err(&error)) {
                tracing::debug!("could not answer a refused message: {e}");
            }
        }
    }

    fn count(&self, dropped: Dropped, peer: Option<SocketAddr>) {
        self.inner.skips.record(dropped.code, dropped.detail, peer);
    }

    /// Sends the answer to a call: over our connection to a peer, on the
    /// socket it came on (the CLI), or straight to the call awaiting it
    /// here.
    pub(crate) fn answer(
        &self,
        from: &From,
        result: Result<&Payload, &Value>,
    ) -> Result<(), NetError> {
        let tag = from.tag.as_deref().ok_or(NetError::NoTag)?;
        match &from.route {
            Route::Local => {
                let result = result.cloned().map_err(Clone::clone);
                self.deliver_local(tag, None, result);
            }
            Route::Peer => {
                let sink = self
                    .sink_of(&from.node.id)
                    .ok_or_else(|| NetError::UnknownNode(from.node.id.clone()))?;
                self.send(&sink, |w, out| w.reply(tag, result, out));
            }
            Route::Socket(tx) => {
                // A full or closed CLI socket just loses the answer.
                let _ = tx.try_send(self.frame(|w, out| w.reply(tag, result, out)));
            }
        }
        Ok(())
    }

    /// Refuses a message a server could not take (`code`, `why`: see
    /// [`core::refusal`]).
    fn refuse_delivery(
        &self,
        target: String,
        from: From,
        code: &'static str,
        why: &str,
        peer: Option<SocketAddr>,
    ) -> Option<Backlog> {
        let origin = Origin {
            node: from.node,
            tag: from.tag,
            way: from.route,
        };
        self.perform(core::refusal(self.id(), target, origin, code, why), peer)
    }

    /// Runs a message for a synchronous server at once when it can, else
    /// queues it for the server's task.
    fn to_inline(
        &self,
        inline: &Arc<InlineTarget>,
        id: u64,
        msg: Delivery,
        peer: Option<SocketAddr>,
    ) -> Option<Backlog> {
        let core = &inline.core;
        let local = matches!(msg.from.route, Route::Local);
        let msg = if local || core.is_dead() {
            msg
        } else {
            // Handled at once: no backlog.
            core.try_run(msg)?
        };
        if core.is_dead() {
            self.unregister_id(&msg.target, id);
            return self.refuse_delivery(msg.target, msg.from, GONE, GONE_WHY, peer);
        }
        core.enqueue();
        match inline.tx.try_send(msg) {
            Ok(()) => None,
            Err(TrySendError::Full(msg)) if !local => Some(Backlog::Inline {
                tx: inline.tx.clone(),
                msg,
                core: core.clone(),
            }),
            Err(TrySendError::Full(m)) => {
                core.unqueue();
                self.refuse_delivery(m.target, m.from, FULL, FULL_WHY, peer)
            }
            Err(TrySendError::Closed(m)) => {
                core.unqueue();
                self.unregister_id(&m.target, id);
                self.refuse_delivery(m.target, m.from, GONE, GONE_WHY, peer)
            }
        }
    }

    fn to_mailbox(
        &self,
        tx: mpsc::Sender<Message>,
        id: u64,
        msg: Message,
        peer: Option<SocketAddr>,
    ) -> Option<Backlog> {
        let local = matches!(msg.from.route, Route::Local);
        match tx.try_send(msg) {
            Ok(()) => None,
            Err(TrySendError::Full(msg)) if !local => Some(Backlog::Mailbox { tx, msg }),
            Err(TrySendError::Full(m)) => {
                self.refuse_delivery(m.target, m.from, FULL, FULL_WHY, peer)
            }
            Err(TrySendError::Closed(m)) => {
                self.unregister_id(&m.target, id);
                self.refuse_delivery(m.target, m.from, GONE, GONE_WHY, peer)
            }
        }
    }
}

/// A server that went away: refused as if it never was.
const GONE: &str = "UNKNOWN_TARGET";
const GONE_WHY: &str = "does not exist";
/// A server with no room for a message from this node itself.
const FULL: &str = "MAILBOX_FULL";
const FULL_WHY: &str = "is overloaded";

/// A message waiting for room in a full mailbox.
pub(crate) enum Backlog {
    Mailbox {
        tx: mpsc::Sender<Message>,
        msg: Message,
    },
    Inline {
        tx: mpsc::Sender<Delivery>,
        msg: Delivery,
        /// The server, which counts the message as queued.
        core: Arc<InlineCore>,
    },
}

impl Backlog {
    /// Waits for room; a server stopped meanwhile loses the message.
    pub(crate) async fn deliver(self) {
        let (target, delivered) = match self {
            Backlog::Mailbox { tx, msg } => (msg.target.clone(), tx.send(msg).await.is_ok()),
            Backlog::Inline { tx, msg, core } => {
                // Uncounted however this ends, unless it is delivered.
                let mut counted = Uncount(Some(core));
                let target = msg.target.clone();
                let delivered = tx.send(msg).await.is_ok();
                if delivered {
                    counted.0 = None;
                }
                (target, delivered)
            }
        };
        if !delivered {
            tracing::debug!(%target, "server stopped while a message waited for it");
        }
    }
}

/// Uncounts a queued message of an inline server when dropped.
struct Uncount(Option<Arc<InlineCore>>);

impl Drop for Uncount {
    fn drop(&mut self) {
        if let Some(core) = self.0.take() {
            core.unqueue();
        }
    }
}
