//! The network kernel: a listener, one outbound connection per peer, and
//! routing of every received message to a local server or to the call
//! waiting for it (PROTOCOL §1–2).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};

use super::inbound;
use super::sink::Sink;
use super::skip::SkipLog;
use super::tag::TagGenerator;
use super::{error_value, CallError, KernelOptions, NetError, Payload, Skip};
use crate::wire::{self, stream, FrameType, Outgoing, Sender, Signer};
use crate::Node;

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

/// A message for a local server.
#[derive(Debug, Clone)]
pub struct Message {
    /// The server name it was addressed to.
    pub target: String,
    pub data: Payload,
    pub from: From,
}

struct Pending {
    node_id: String,
    tx: oneshot::Sender<Result<Payload, CallError>>,
}

pub(crate) struct Inner {
    pub(crate) node: Node,
    from_json: String,
    pub(crate) signer: Option<Signer>,
    pub(crate) opts: KernelOptions,
    sinks: Mutex<HashMap<String, Arc<Sink>>>,
    targets: RwLock<HashMap<String, mpsc::Sender<Message>>>,
    pending: Mutex<HashMap<String, Pending>>,
    tags: Mutex<TagGenerator>,
    pub(crate) skips: SkipLog,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) runtime: tokio::runtime::Handle,
}

/// A started network kernel. Cheap to clone; every clone is the same node.
#[derive(Clone)]
pub struct Kernel {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("node", &self.inner.node)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Critical sections here are map operations that cannot be left half
    // done by a panic, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Kernel {
    /// Listens on `node`'s host and port (port 0 picks a free port, and the
    /// kernel's node takes the port actually bound) and starts routing.
    /// Must be called within a tokio runtime.
    pub async fn start(node: Node, opts: KernelOptions) -> Result<Kernel, NetError> {
        let addr = format!("{}:{}", node.host(), node.port());
        let listener = TcpListener::bind((node.host(), node.port()))
            .await
            .map_err(|source| NetError::Bind {
                addr: addr.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| NetError::Bind { addr, source })?
            .port();
        let mut node = node;
        node.set_port(port);
        let signer = opts
            .cookie
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| Signer::new(c.as_bytes()));
        let inner = Arc::new(Inner {
            from_json: Sender::from(&node).to_json(),
            node,
            signer,
            sinks: Mutex::default(),
            targets: RwLock::default(),
            pending: Mutex::default(),
            tags: Mutex::default(),
            skips: SkipLog::default(),
            shutdown: watch::channel(false).0,
            runtime: tokio::runtime::Handle::current(),
            opts,
        });
        let kernel = Kernel { inner };
        tokio::spawn(accept_loop(kernel.clone(), listener));
        tracing::info!(node = %kernel.inner.node, "kernel listening");
        Ok(kernel)
    }

    /// This node.
    pub fn node(&self) -> &Node {
        &self.inner.node
    }

    pub fn id(&self) -> &str {
        self.inner.node.id()
    }

    pub fn options(&self) -> &KernelOptions {
        &self.inner.opts
    }

    /// Whether the kernel has been stopped.
    pub fn is_stopped(&self) -> bool {
        *self.inner.shutdown.borrow()
    }

    /// Stops listening, closes every connection (outbound ones at once),
    /// fails every call still waiting and unregisters every server.
    pub fn stop(&self) {
        // Set before the pending calls are drained (see `await_reply`).
        if self.inner.shutdown.send_replace(true) {
            return;
        }
        for (_, sink) in lock(&self.inner.sinks).drain() {
            sink.close(true);
        }
        for (_, p) in lock(&self.inner.pending).drain() {
            let _ = p.tx.send(Err(CallError::Stopped));
        }
        self.inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        tracing::info!(node = %self.inner.node, "kernel stopped");
    }

    // ---- connections ------------------------------------------------------

    /// Opens (or keeps) the outbound connection to `node`. Connecting to
    /// this node itself does nothing.
    pub fn connect(&self, node: &Node) -> Option<Arc<Sink>> {
        if node.id() == self.id() || self.is_stopped() {
            return None;
        }
        let mut sinks = lock(&self.inner.sinks);
        if let Some(s) = sinks.get(node.id()) {
            return Some(s.clone());
        }
        let opts = &self.inner.opts;
        let sink = Sink::new(node.clone(), opts.max_queue, opts.max_queue_bytes);
        sinks.insert(node.id().to_owned(), sink.clone());
        self.inner
            .runtime
            .spawn(sink.clone().run(opts.retry, opts.max_retries));
        Some(sink)
    }

    /// Closes the outbound connection to `node`: after writing what is queued,
    /// or at once with `force`.
    pub fn disconnect(&self, node: &Node, force: bool) {
        if let Some(sink) = lock(&self.inner.sinks).remove(node.id()) {
            sink.close(force);
        }
    }

    /// Whether an outbound connection to `node` exists (always true for this
    /// node itself).
    pub fn is_connected(&self, node: &Node) -> bool {
        self.is_connected_id(node.id())
    }

    /// The outbound connection to `node`, if any.
    pub fn connection(&self, node: &Node) -> Option<Arc<Sink>> {
        lock(&self.inner.sinks).get(node.id()).cloned()
    }

    /// Every outbound connection.
    pub fn sinks(&self) -> Vec<Arc<Sink>> {
        lock(&self.inner.sinks).values().cloned().collect()
    }

    // ---- servers ----------------------------------------------------------

    /// Registers a local server name and returns its mailbox. One name per
    /// node: a taken name is an error.
    pub fn register(&self, name: &str) -> Result<mpsc::Receiver<Message>, NetError> {
        if self.is_stopped() {
            return Err(NetError::Stopped);
        }
        let mut targets = self
            .inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if targets.get(name).is_some_and(|tx| !tx.is_closed()) {
            return Err(NetError::NameTaken(name.to_owned()));
        }
        let (tx, rx) = mpsc::channel(self.inner.opts.mailbox.max(1));
        targets.insert(name.to_owned(), tx);
        Ok(rx)
    }

    /// Removes a local server name.
    pub fn unregister(&self, name: &str) {
        self.inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// Whether a server of that name is registered here.
    pub fn is_registered(&self, name: &str) -> bool {
        self.inner
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|tx| !tx.is_closed())
    }

    // ---- messaging --------------------------------------------------------

    /// Sends `data` to server `target` on `node` without waiting. Like the
    /// original, a node with no connection is silently skipped.
    pub fn cast(&self, node: &Node, target: &str, data: &Payload) {
        if node.id() == self.id() {
            self.deliver_local(target, None, Ok(data.clone()));
            return;
        }
        if let Some(sink) = self.connection(node) {
            sink.send(self.frame(
                FrameType::Message,
                Some(target),
                None,
                stream::SINGLE,
                Some(&data.to_wire()),
            ));
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
                sink.send(self.frame(
                    FrameType::Message,
                    Some(target),
                    Some(&tag),
                    stream::SINGLE,
                    Some(&data.to_wire()),
                ));
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

    /// Answers a call. A message without a tag (a cast) cannot be answered.
    pub fn reply(&self, from: &From, data: &Payload) -> Result<(), NetError> {
        self.answer(from, Ok(data))
    }

    /// Answers a call with an error object (`{"message":…,"_error":true}`).
    pub fn reply_error(&self, from: &From, error: &Value) -> Result<(), NetError> {
        self.answer(from, Err(error))
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
        sink.send(self.frame(FrameType::Ping, None, Some(&tag), stream::SINGLE, None));
        let result = wait(rx, timeout).await;
        drop(guard);
        result.map(|_| ())
    }

    /// Messages dropped so far, by reason.
    pub fn skipped(&self) -> BTreeMap<&'static str, u64> {
        self.inner.skips.counts()
    }

    /// Every later drop, as it happens.
    pub fn subscribe_skips(&self) -> broadcast::Receiver<Skip> {
        self.inner.skips.subscribe()
    }

    /// Calls awaiting a reply.
    pub fn pending_calls(&self) -> usize {
        lock(&self.inner.pending).len()
    }

    // ---- internals --------------------------------------------------------

    /// A complete signed frame from this node.
    pub(crate) fn frame(
        &self,
        frame_type: FrameType,
        id: Option<&str>,
        tag: Option<&str>,
        stream: &str,
        data: Option<&str>,
    ) -> Bytes {
        let mut out = Vec::new();
        wire::encode(
            &Outgoing {
                frame_type,
                id,
                tag,
                from: &self.inner.from_json,
                stream,
                data,
            },
            self.inner.signer.as_ref(),
            &mut out,
        );
        out.into()
    }

    fn await_reply(
        &self,
        node_id: &str,
    ) -> Result<(String, oneshot::Receiver<Result<Payload, CallError>>), CallError> {
        let tag = lock(&self.inner.tags).next_tag();
        let (tx, rx) = oneshot::channel();
        let mut pending = lock(&self.inner.pending);
        // Checked under the lock `stop` drains the calls with, so a call
        // racing `stop` is either refused here or failed by the drain.
        if self.is_stopped() {
            return Err(CallError::Stopped);
        }
        if pending.len() >= self.inner.opts.max_pending {
            return Err(CallError::TooManyPending(pending.len()));
        }
        pending.insert(
            tag.clone(),
            Pending {
                node_id: node_id.to_owned(),
                tx,
            },
        );
        Ok((tag, rx))
    }

    fn answer(&self, from: &From, result: Result<&Payload, &Value>) -> Result<(), NetError> {
        let tag = from.tag.as_deref().ok_or(NetError::NoTag)?;
        match &from.route {
            Route::Local => {
                let result = result.cloned().map_err(Clone::clone);
                let _ = self.dispatch(
                    tag,
                    None,
                    &Sender::from(&self.inner.node),
                    result,
                    Route::Local,
                    None,
                );
                Ok(())
            }
            Route::Peer => {
                let sink = lock(&self.inner.sinks)
                    .get(&from.node.id)
                    .cloned()
                    .ok_or_else(|| NetError::UnknownNode(from.node.id.clone()))?;
                sink.send(self.reply_frame(tag, result));
                Ok(())
            }
            Route::Socket(tx) => {
                // A full or closed CLI socket just loses the answer.
                let _ = tx.try_send(self.reply_frame(tag, result));
                Ok(())
            }
        }
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
            self.inner.signer.as_ref(),
            &mut frame,
        );
        // A full or closed CLI socket just loses the answer.
        let _ = tx.try_send(frame.into());
        Ok(())
    }

    /// Whether an outbound connection to the node with this id exists.
    pub fn is_connected_id(&self, id: &str) -> bool {
        id == self.id() || lock(&self.inner.sinks).contains_key(id)
    }

    fn reply_frame(&self, tag: &str, result: Result<&Payload, &Value>) -> Bytes {
        match result {
            Ok(data) => self.frame(
                FrameType::Message,
                Some(tag),
                None,
                stream::SINGLE,
                Some(&data.to_wire()),
            ),
            Err(error) => self.frame(
                FrameType::Message,
                Some(tag),
                None,
                &stream::error(None, error),
                Some("null"),
            ),
        }
    }

    fn deliver_local(&self, target: &str, tag: Option<&str>, result: Result<Payload, Value>) {
        let me = Sender::from(&self.inner.node);
        // Local messages never wait: a full mailbox refuses them.
        let _ = self.dispatch(target, tag, &me, result, Route::Local, None);
    }

    /// Routes a received message (or a local one) to the call awaiting it or
    /// to a local server. A message from the network for a server whose
    /// mailbox is full comes back as a [`Backlog`]: the connection waits for
    /// room (pushing back on the sender through TCP) instead of losing it.
    #[must_use]
    pub(crate) fn dispatch(
        &self,
        target: &str,
        tag: Option<&str>,
        sender: &Sender,
        result: Result<Payload, Value>,
        route: Route,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<Backlog> {
        let waiting = lock(&self.inner.pending).remove(target);
        if let Some(p) = waiting {
            let outcome = if sender.id != p.node_id {
                self.inner.skips.record(
                    "INVALID_REPLY",
                    format!(
                        "reply for {target} came from {} instead of {}",
                        sender.id, p.node_id
                    ),
                    peer,
                );
                Err(CallError::InvalidReply {
                    expected: p.node_id,
                    actual: sender.id.clone(),
                })
            } else {
                result.map_err(CallError::Remote)
            };
            let _ = p.tx.send(outcome);
            return None;
        }
        let from = From {
            node: sender.clone(),
            tag: tag.map(str::to_owned),
            route,
        };
        let data = match result {
            Ok(data) => data,
            Err(error) => {
                self.inner.skips.record(
                    "STREAM_ERROR",
                    format!("message for {target} carried an error: {error}"),
                    peer,
                );
                return None;
            }
        };
        let mailbox = self
            .inner
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(target)
            .cloned();
        let refused = match mailbox {
            Some(tx) => match tx.try_send(Message {
                target: target.to_owned(),
                data,
                from,
            }) {
                Ok(()) => return None,
                Err(mpsc::error::TrySendError::Full(msg))
                    if !matches!(msg.from.route, Route::Local) =>
                {
                    return Some(Backlog { tx, msg });
                }
                Err(mpsc::error::TrySendError::Full(m)) => {
                    (m.from, "MAILBOX_FULL", "is overloaded")
                }
                Err(mpsc::error::TrySendError::Closed(m)) => {
                    self.unregister(target);
                    (m.from, "UNKNOWN_TARGET", "does not exist")
                }
            },
            None => (from, "UNKNOWN_TARGET", "does not exist"),
        };
        let (from, code, why) = refused;
        let message = format!("Server '{target}' {why} on node '{}'.", self.id());
        self.inner.skips.record(code, message.clone(), peer);
        if from.tag.is_some() {
            let error = error_value(&message, &[("type", Value::String(code.to_owned()))]);
            if let Err(e) = self.reply_error(&from, &error) {
                tracing::debug!("could not answer {target}: {e}");
            }
        }
        None
    }

    /// Answers a received ping over our own connection to its sender.
    pub(crate) fn pong(&self, env: &wire::Envelope) {
        let (Some(tag), Some(sink)) = (
            env.tag.as_deref(),
            lock(&self.inner.sinks).get(&env.from.id).cloned(),
        ) else {
            return;
        };
        sink.send(self.frame(
            FrameType::Message,
            Some(tag),
            None,
            stream::SINGLE,
            Some("\"pong\""),
        ));
    }
}

/// A message waiting for room in a full mailbox.
pub(crate) struct Backlog {
    tx: mpsc::Sender<Message>,
    msg: Message,
}

impl Backlog {
    /// Waits for room; a server stopped meanwhile loses the message.
    pub(crate) async fn deliver(self) {
        let target = self.msg.target.clone();
        if self.tx.send(self.msg).await.is_err() {
            tracing::debug!(%target, "server stopped while a message waited for it");
        }
    }
}

/// Removes a call's pending entry however the call ends (reply, timeout, or
/// the caller dropping the future).
struct PendingGuard<'a> {
    kernel: &'a Kernel,
    tag: &'a str,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.kernel.inner.pending).remove(self.tag);
    }
}

async fn wait(
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

/// Resolves once the kernel is stopped.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}

async fn accept_loop(kernel: Kernel, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(kernel.inner.opts.max_inbound));
    let mut shutdown = kernel.inner.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match slots.clone().try_acquire_owned() {
                    Ok(permit) => {
                        tokio::spawn(inbound::serve(kernel.clone(), stream, peer, permit));
                    }
                    Err(_) => kernel.inner.skips.record(
                        "TOO_MANY_CONNECTIONS",
                        format!("refused a connection beyond max_inbound = {}", kernel.inner.opts.max_inbound),
                        Some(peer),
                    ),
                }
            }
        }
    }
}
