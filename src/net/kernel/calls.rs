//! Sending: casts, calls (with the reply awaited under a tag), pings, and
//! answers to calls received.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use super::{lock, Kernel};
use crate::net::error::{CallError, NetError};
use crate::net::message::{From, Route};
use crate::net::payload::Payload;
use crate::wire::{self, FrameType};
use crate::Node;

impl Kernel {
    /// Sends `data` to server `target` on `node` without waiting. Like the
    /// original, a node with no connection is silently skipped.
    pub fn cast(&self, node: &Node, target: &str, data: &Payload) {
        if node.id() == self.id() {
            self.deliver_local(target, None, Ok(data.clone()));
            return;
        }
        if let Some(sink) = self.connection(node) {
            self.send(&sink, |w, out| w.message(target, None, data, out));
        }
    }

    /// Casts to every node of `nodes`.
    pub fn abcast(&self, nodes: &[Node], target: &str, data: &Payload) {
        for n in nodes {
            self.cast(n, target, data);
        }
    }

    /// Sends `data` to server `target` on `node` and waits for the reply
    /// (`None`: wait forever, as the original's default).
    pub async fn call(
        &self,
        node: &Node,
        target: &str,
        data: &Payload,
        timeout: Option<Duration>,
    ) -> Result<Payload, CallError> {
        let local = node.id() == self.id();
        let sink = if local {
            None
        } else {
            Some(
                self.connection(node)
                    .ok_or_else(|| CallError::UnknownNode(node.id().to_owned()))?,
            )
        };
        let (tag, rx) = self.await_reply(node.id())?;
        let guard = PendingGuard {
            kernel: self,
            tag: &tag,
        };
        match sink {
            None => self.deliver_local(target, Some(&tag), Ok(data.clone())),
            Some(sink) => {
                self.send(&sink, |w, out| w.message(target, Some(&tag), data, out));
            }
        }
        let result = wait(rx, timeout).await;
        drop(guard);
        result
    }

    /// Calls every node of `nodes` concurrently; one result per node, in
    /// order.
    pub async fn multicall(
        &self,
        nodes: &[Node],
        target: &str,
        data: &Payload,
        timeout: Option<Duration>,
    ) -> Vec<Result<Payload, CallError>> {
        let calls: Vec<_> = nodes
            .iter()
            .map(|n| {
                let (kernel, node, target, data) =
                    (self.clone(), n.clone(), target.to_owned(), data.clone());
                tokio::spawn(async move { kernel.call(&node, &target, &data, timeout).await })
            })
            .collect();
        let mut out = Vec::with_capacity(calls.len());
        for call in calls {
            out.push(call.await.unwrap_or(Err(CallError::Stopped)));
        }
        out
    }

    /// Pings `node` over the kernel: resolves when its `"pong"` arrives. A
    /// node that has no connection back to us never answers (the original's
    /// quirk), so this then times out.
    pub async fn ping(&self, node: &Node, timeout: Option<Duration>) -> Result<(), CallError> {
        let sink = self
            .connection(node)
            .ok_or_else(|| CallError::UnknownNode(node.id().to_owned()))?;
        let (tag, rx) = self.await_reply(node.id())?;
        let guard = PendingGuard {
            kernel: self,
            tag: &tag,
        };
        self.send(&sink, |w, out| w.ping(&tag, out));
        let result = wait(rx, timeout).await;
        drop(guard);
        result.map(|_| ())
    }

    /// Answers a call. A message without a tag (a cast) cannot be answered.
    pub fn reply(&self, from: &From, data: &Payload) -> Result<(), NetError> {
        self.answer(from, Ok(data))
    }

    /// Answers a call with an error object (`{"message":…,"_error":true}`).
    pub fn reply_error(&self, from: &From, error: &Value) -> Result<(), NetError> {
        self.answer(from, Err(error))
    }

    /// Writes a signed JSON object (not an envelope) back on the socket a
    /// message arrived on: how the command server answers the CLI, which has
    /// no listener (PROTOCOL §6). Refused for senders that are nodes.
    pub fn answer_on_socket(&self, from: &From, body: &Value) -> Result<(), NetError> {
        let Route::Socket(tx) = &from.route else {
            return Err(NetError::UnknownNode(from.node.id.clone()));
        };
        let mut frame = Vec::new();
        wire::frame_around(
            FrameType::Message,
            &wire::js_json::to_string(body),
            self.inner.writer.signer(),
            &mut frame,
        );
        // A full or closed CLI socket just loses the answer.
        let _ = tx.try_send(frame.into());
        Ok(())
    }

    /// Opens a call to the node with id `node_id`: the tag its reply will
    /// carry, and where the reply arrives.
    pub(crate) fn await_reply(
        &self,
        node_id: &str,
    ) -> Result<(String, oneshot::Receiver<Result<Payload, CallError>>), CallError> {
        let (tx, rx) = oneshot::channel();
        let tag = lock(&self.inner.pending).open(node_id, tx, Instant::now())?;
        Ok((tag, rx))
    }
}

/// Removes a call's pending entry however the call ends (reply, timeout, or
/// the caller dropping the future).
pub(crate) struct PendingGuard<'a> {
    pub(crate) kernel: &'a Kernel,
    pub(crate) tag: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.kernel.inner.pending).cancel(self.tag);
    }
}

/// The reply a call awaits, within `timeout`.
pub(crate) async fn wait(
    rx: oneshot::Receiver<Result<Payload, CallError>>,
    timeout: Option<Duration>,
) -> Result<Payload, CallError> {
    let received = match timeout {
        Some(t) => tokio::time::timeout(t, rx)
            .await
            .map_err(|_| CallError::Timeout)?,
        None => rx.await,
    };
    received.unwrap_or(Err(CallError::Stopped))
}
