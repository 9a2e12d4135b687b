//! The network kernel: a listener, one outbound connection per peer, and
//! routing of every received message to a local server or to the call
//! waiting for it (PROTOCOL §1–2).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Semaphore};

use super::fast_hash::FastMap;
use super::inbound::{self, InboundReader};
use super::inline::{self, Body, Delivery, Handler, InlineCore};
use super::out_stream::OutStream;
use super::sink::{Sink, SinkState};
use super::skip::SkipLog;
use super::tag::{TagGenerator, MIN_TAG_LEN};
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
    sinks: Mutex<FastMap<String, Arc<Sink>>>,
    targets: RwLock<FastMap<String, Registration>>,
    /// Identifies registrations, so that a stale one is never mistaken for
    /// its name's current one.
    registrations: AtomicU64,
    pending: Mutex<FastMap<String, Pending>>,
    tags: Mutex<TagGenerator>,
    pub(crate) skips: SkipLog,
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) runtime: tokio::runtime::Handle,
    inbound_hook: Mutex<Option<InboundHook>>,
    /// The listening socket. `stop` takes it out (closing it) itself, so
    /// the port is free again once `stop` returns, not once the accept
    /// loop notices.
    listener: Mutex<Option<TcpListener>>,
}

/// Told of every accepted connection (see [`Kernel::on_inbound`]).
pub type InboundHook = Arc<dyn Fn(InboundReader) + Send + Sync>;

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
            .map_err(|source| NetError::Bind { addr, source })?;
        Kernel::listen(listener, node, opts)
    }

    /// [`start`](Self::start) on a socket already bound (and listening) to
    /// `node`'s host and port, synchronously: for a caller that must know
    /// the port is taken, or free again after [`stop`](Self::stop), at
    /// once. Must be called within a tokio runtime.
    pub fn start_on(
        listener: std::net::TcpListener,
        node: Node,
        opts: KernelOptions,
    ) -> Result<Kernel, NetError> {
        let addr = format!("{}:{}", node.host(), node.port());
        let listener = listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
            .map_err(|source| NetError::Bind { addr, source })?;
        Kernel::listen(listener, node, opts)
    }

    fn listen(listener: TcpListener, node: Node, opts: KernelOptions) -> Result<Kernel, NetError> {
        let port = listener
            .local_addr()
            .map_err(|source| NetError::Bind {
                addr: format!("{}:{}", node.host(), node.port()),
                source,
            })?
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
            registrations: AtomicU64::new(0),
            pending: Mutex::default(),
            tags: Mutex::default(),
            skips: SkipLog::default(),
            shutdown: watch::channel(false).0,
            runtime: tokio::runtime::Handle::current(),
            inbound_hook: Mutex::new(None),
            listener: Mutex::new(Some(listener)),
            opts,
        });
        let kernel = Kernel { inner };
        tokio::spawn(accept_loop(kernel.clone()));
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

    /// Stops listening, closes every connection, fails every call still
    /// waiting and unregisters every server. Outbound connections first
    /// write what they still hold, for at most half a second.
    pub fn stop(&self) {
        // Set before the pending calls are drained (see `await_reply`).
        if self.inner.shutdown.send_replace(true) {
            return;
        }
        drop(lock(&self.inner.listener).take());
        // What the connections still hold (a node's last words, such as a
        // gossip leave sent just before) is written first, for a moment.
        let sinks: Vec<Arc<Sink>> = lock(&self.inner.sinks).drain().map(|(_, s)| s).collect();
        for sink in &sinks {
            sink.close(false);
        }
        let lingering: Vec<Arc<Sink>> = sinks
            .into_iter()
            .filter(|s| s.state() != SinkState::Closed)
            .collect();
        if !lingering.is_empty() {
            self.inner.runtime.spawn(async move {
                tokio::time::sleep(STOP_LINGER).await;
                for sink in lingering {
                    sink.close(true);
                }
            });
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
        self.register_mailbox(name).map(|(_, rx)| rx)
    }

    /// [`register`](Self::register), with the registration's id.
    pub(crate) fn register_mailbox(
        &self,
        name: &str,
    ) -> Result<(u64, mpsc::Receiver<Message>), NetError> {
        if self.is_stopped() {
            return Err(NetError::Stopped);
        }
        let mut targets = self
            .inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if targets.get(name).is_some_and(|r| !r.target.is_closed()) {
            return Err(NetError::NameTaken(name.to_owned()));
        }
        let (tx, rx) = mpsc::channel(self.inner.opts.mailbox.max(1));
        let id = self.inner.registrations.fetch_add(1, Ordering::Relaxed);
        targets.insert(
            name.to_owned(),
            Registration {
                id,
                target: Target::Mailbox(tx),
            },
        );
        Ok((id, rx))
    }

    /// Turns registration `id` of `name` (a mailbox, `mailbox` its
    /// receiving end) into a synchronous server that runs `handler` on the
    /// task delivering each message (see `inline`). Returns the server's
    /// task, which handles what the mailbox already holds first, and
    /// whatever cannot run at once later.
    pub(crate) fn serve_inline(
        &self,
        name: &str,
        id: u64,
        mailbox: mpsc::Receiver<Message>,
        handler: Handler,
    ) -> tokio::task::JoinHandle<()> {
        self.install_inline(name, id, mailbox, handler, true)
    }

    fn install_inline(
        &self,
        name: &str,
        id: u64,
        mailbox: mpsc::Receiver<Message>,
        handler: Handler,
        split: bool,
    ) -> tokio::task::JoinHandle<()> {
        let core = InlineCore::new(name, handler);
        let (tx, queue) = mpsc::channel(self.inner.opts.mailbox.max(1));
        {
            let mut targets = self
                .inner
                .targets
                .write()
                .unwrap_or_else(|e| e.into_inner());
            // Replaced only if still this server's: the mailbox's sender
            // goes, so the mailbox ends once delivered messages are in.
            if let Some(r) = targets.get_mut(name).filter(|r| r.id == id) {
                r.target = Target::Inline(Arc::new(InlineTarget {
                    tx,
                    core: core.clone(),
                    split,
                }));
            }
        }
        tokio::spawn(inline::drain(core, mailbox, queue))
    }

    /// Registers a server whose `handler` runs on whichever thread
    /// delivers each message (a connection's reader, or a thread pumping
    /// it through an [`InboundReader`]), without a mailbox in between. The
    /// handler must be quick and must not block: it holds up that
    /// connection. Messages from this node itself, and those arriving while
    /// the handler is busy elsewhere, wait in a bounded queue handled in
    /// order by a task of the kernel. Ends when unregistered.
    pub fn serve_sync(
        &self,
        name: &str,
        mut handler: impl FnMut(Message) + Send + 'static,
    ) -> Result<(), NetError> {
        let (id, mailbox) = self.register_mailbox(name)?;
        let handler: Handler = Box::new(move |d: Delivery| {
            let data = match d.body {
                Body::Payload(p) => p,
                // Not produced for these servers (see `InlineTarget::split`).
                Body::Request { event, data } => Payload::Json(serde_json::json!({
                    "event": event,
                    "data": data.into_json(),
                })),
            };
            handler(Message {
                target: d.target,
                data,
                from: d.from,
            });
        });
        self.install_inline(name, id, mailbox, handler, false);
        Ok(())
    }

    /// Tells `hook` of every connection accepted from now on, with a reader
    /// that another thread may pump ([`InboundReader`]); `None` stops.
    pub fn on_inbound(&self, hook: Option<InboundHook>) {
        *lock(&self.inner.inbound_hook) = hook;
    }

    pub(crate) fn inbound_hook(&self) -> Option<InboundHook> {
        lock(&self.inner.inbound_hook).clone()
    }

    /// Removes a local server name.
    pub fn unregister(&self, name: &str) {
        self.inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// Removes registration `id` of `name`, if it is still the current one.
    fn unregister_id(&self, name: &str, id: u64) {
        let mut targets = self
            .inner
            .targets
            .write()
            .unwrap_or_else(|e| e.into_inner());
        if targets.get(name).is_some_and(|r| r.id == id) {
            targets.remove(name);
        }
    }

    /// Whether a server of that name is registered here.
    pub fn is_registered(&self, name: &str) -> bool {
        self.inner
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .is_some_and(|r| !r.target.is_closed())
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
            self.send(
                &sink,
                FrameType::Message,
                Some(target),
                None,
                stream::SINGLE,
                Data::Payload(data),
            );
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
                self.send(
                    &sink,
                    FrameType::Message,
                    Some(target),
                    Some(&tag),
                    stream::SINGLE,
                    Data::Payload(data),
                );
            }
        }
        let result = wait(rx, timeout).await;
        drop(guard);
        result
    }

    /// Starts a streamed cast to server `target` on `node` (this node
    /// included); `None` without a connection to `node`.
    pub fn cast_stream(&self, node: &Node, target: &str) -> Option<OutStream> {
        let sink = self.peer_sink(node).ok()?;
        Some(OutStream::new(self.clone(), sink, target, None))
    }

    /// Starts a streamed call to server `target` on `node`: the body goes
    /// through the [`OutStream`], the reply (after the body's end) comes
    /// from the future, which owns what it needs.
    pub fn call_stream(
        &self,
        node: &Node,
        target: &str,
        timeout: Option<Duration>,
    ) -> Result<
        (
            OutStream,
            impl std::future::Future<Output = Result<Payload, CallError>> + Send + 'static,
        ),
        CallError,
    > {
        let sink = self
            .peer_sink(node)
            .map_err(|()| CallError::UnknownNode(node.id().to_owned()))?;
        let (tag, rx) = self.await_reply(node.id())?;
        let body = OutStream::new(self.clone(), sink, target, Some(tag.clone()));
        let kernel = self.clone();
        let reply = async move {
            let guard = PendingGuard {
                kernel: &kernel,
                tag: &tag,
            };
            let result = wait(rx, timeout).await;
            drop(guard);
            result
        };
        Ok((body, reply))
    }

    /// Starts a streamed answer to a call received from a peer or from this
    /// node (not on a CLI socket, which takes single answers).
    pub fn reply_stream(&self, from: &From) -> Result<OutStream, NetError> {
        let tag = from.tag.as_deref().ok_or(NetError::NoTag)?;
        let sink = match &from.route {
            Route::Local => None,
            Route::Peer => Some(
                lock(&self.inner.sinks)
                    .get(&from.node.id)
                    .cloned()
                    .ok_or_else(|| NetError::UnknownNode(from.node.id.clone()))?,
            ),
            Route::Socket(_) => return Err(NetError::UnknownNode(from.node.id.clone())),
        };
        Ok(OutStream::new(self.clone(), sink, tag, None))
    }

    /// The connection to `node`: `None` for this node itself.
    fn peer_sink(&self, node: &Node) -> Result<Option<Arc<Sink>>, ()> {
        if node.id() == self.id() {
            return Ok(None);
        }
        self.connection(node).map(Some).ok_or(())
    }

    /// Sends one frame of a streamed body.
    pub(crate) fn send_part(
        &self,
        sink: &Arc<Sink>,
        target: &str,
        tag: Option<&str>,
        stream: &str,
        data: Option<&Payload>,
    ) {
        let data = match data {
            Some(p) => Data::Payload(p),
            None => Data::Text("null"),
        };
        self.send(sink, FrameType::Message, Some(target), tag, stream, data);
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
        self.send(
            &sink,
            FrameType::Ping,
            None,
            Some(&tag),
            stream::SINGLE,
            Data::None,
        );
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

    /// Appends a complete signed frame from this node to `out`.
    fn encode(
        &self,
        frame_type: FrameType,
        id: Option<&str>,
        tag: Option<&str>,
        stream: &str,
        data: Data,
        out: &mut Vec<u8>,
    ) {
        let msg = Outgoing {
            frame_type,
            id,
            tag,
            from: &self.inner.from_json,
            stream,
            data: match data {
                Data::Text(text) => Some(text),
                Data::None | Data::Payload(_) => None,
            },
        };
        let signer = self.inner.signer.as_ref();
        match data {
            Data::Payload(p) => wire::encode_with(
                &msg,
                Some(&|out: &mut Vec<u8>| p.write_wire(out)),
                signer,
                out,
            ),
            Data::None | Data::Text(_) => wire::encode(&msg, signer, out),
        }
    }

    /// A complete signed frame from this node.
    fn frame(
        &self,
        frame_type: FrameType,
        id: Option<&str>,
        tag: Option<&str>,
        stream: &str,
        data: Data,
    ) -> Bytes {
        let mut out = Vec::new();
        self.encode(frame_type, id, tag, stream, data, &mut out);
        out.into()
    }

    /// Queues a frame on `sink`, built in this thread's scratch buffer (no
    /// allocation per frame).
    fn send(
        &self,
        sink: &Arc<Sink>,
        frame_type: FrameType,
        id: Option<&str>,
        tag: Option<&str>,
        stream: &str,
        data: Data,
    ) -> bool {
        thread_local! {
            static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                self.encode(frame_type, id, tag, stream, data, &mut buf);
                let sent = sink.send_corked(&buf);
                if buf.capacity() > SCRATCH_KEEP {
                    *buf = Vec::new();
                }
                sent
            }
            // Not re-entered in practice; a fresh buffer if it ever is.
            Err(_) => sink.send(self.frame(frame_type, id, tag, stream, data)),
        })
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
                    tag.to_owned(),
                    None,
                    Sender::from(&self.inner.node),
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
                match result {
                    Ok(data) => self.send(
                        &sink,
                        FrameType::Message,
                        Some(tag),
                        None,
                        stream::SINGLE,
                        Data::Payload(data),
                    ),
                    Err(error) => self.send(
                        &sink,
                        FrameType::Message,
                        Some(tag),
                        None,
                        &stream::error(None, error),
                        Data::Text("null"),
                    ),
                };
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
                Data::Payload(data),
            ),
            Err(error) => self.frame(
                FrameType::Message,
                Some(tag),
                None,
                &stream::error(None, error),
                Data::Text("null"),
            ),
        }
    }

    pub(crate) fn deliver_local(
        &self,
        target: &str,
        tag: Option<&str>,
        result: Result<Payload, Value>,
    ) {
        let me = Sender::from(&self.inner.node);
        // Local messages never wait: a full mailbox refuses them.
        let _ = self.dispatch(
            target.to_owned(),
            tag.map(str::to_owned),
            me,
            result,
            Route::Local,
            None,
        );
    }

    /// Routes a received message (or a local one) to the call awaiting it or
    /// to a local server. A message from the network for a server whose
    /// mailbox is full comes back as a [`Backlog`]: the connection waits for
    /// room (pushing back on the sender through TCP) instead of losing it.
    #[must_use]
    pub(crate) fn dispatch(
        &self,
        target: String,
        tag: Option<String>,
        sender: Sender,
        result: Result<Payload, Value>,
        route: Route,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<Backlog> {
        if let Some(p) = self.take_pending(&target) {
            self.complete(p, &target, sender, result, peer);
            return None;
        }
        let from = From {
            node: sender,
            tag,
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
                // A caller whose request failed on the way learns it now
                // rather than at its timeout.
                if from.tag.is_some() {
                    if let Err(e) = self.reply_error(&from, &error) {
                        tracing::debug!("could not answer {target}: {e}");
                    }
                }
                return None;
            }
        };
        match self.registration(&target) {
            Some(Registration {
                id,
                target: Target::Inline(inline),
            }) => {
                let body = Body::Payload(data);
                self.to_inline(&inline, id, Delivery { target, from, body }, peer)
            }
            Some(Registration {
                id,
                target: Target::Mailbox(tx),
            }) => self.to_mailbox(tx, id, Message { target, data, from }, peer),
            None => self.refuse(target, from, "UNKNOWN_TARGET", "does not exist", peer),
        }
    }

    /// [`dispatch`](Self::dispatch) for a single message received with its
    /// payload as JSON text. A request for a synchronous GenServer is read
    /// straight from the text. A payload that does not parse and was not
    /// checked (see `wire::Incoming::data_checked`) is [`Unparsable`]:
    /// nothing happened, and the frame is to be decoded again, checked.
    pub(crate) fn deliver(
        &self,
        target: String,
        tag: Option<String>,
        sender: Sender,
        data: Received,
        route: Route,
        peer: Option<std::net::SocketAddr>,
    ) -> Result<Option<Backlog>, Unparsable> {
        let parse = || -> Result<Payload, serde_json::Error> {
            data.text
                .map_or(Ok(Value::Null), serde_json::from_str)
                .map(Payload::from_wire)
        };
        let malformed = |e: serde_json::Error| {
            if !data.checked {
                return Err(Unparsable);
            }
            self.inner
                .skips
                .record("MALFORMED_JSON", e.to_string(), peer);
            Ok(None)
        };
        if let Some(p) = self.take_pending(&target) {
            return match parse() {
                Ok(payload) => {
                    self.complete(p, &target, sender, Ok(payload), peer);
                    Ok(None)
                }
                // Not an answer: the call keeps waiting.
                Err(e) => {
                    lock(&self.inner.pending).insert(target, p);
                    malformed(e)
                }
            };
        }
        let from = From {
            node: sender,
            tag,
            route,
        };
        Ok(match self.registration(&target) {
            Some(Registration {
                id,
                target: Target::Inline(inline),
            }) => {
                let split = if inline.split {
                    data.text.and_then(wire::body::split)
                } else {
                    None
                };
                let body = match split {
                    Some((event, data)) => Body::Request {
                        event,
                        data: Payload::from_wire(data),
                    },
                    None => match parse() {
                        Ok(payload) => Body::Payload(payload),
                        Err(e) => return malformed(e),
                    },
                };
                self.to_inline(&inline, id, Delivery { target, from, body }, peer)
            }
            registration => {
                let data = match parse() {
                    Ok(payload) => payload,
                    Err(e) => return malformed(e),
                };
                match registration {
                    Some(Registration {
                        id,
                        target: Target::Mailbox(tx),
                    }) => self.to_mailbox(tx, id, Message { target, data, from }, peer),
                    _ => self.refuse(target, from, "UNKNOWN_TARGET", "does not exist", peer),
                }
            }
        })
    }

    fn take_pending(&self, tag: &str) -> Option<Pending> {
        if tag.len() < MIN_TAG_LEN {
            return None;
        }
        lock(&self.inner.pending).remove(tag)
    }

    /// Ends call `tag` with `result`, if it came from the node called.
    fn complete(
        &self,
        p: Pending,
        tag: &str,
        sender: Sender,
        result: Result<Payload, Value>,
        peer: Option<std::net::SocketAddr>,
    ) {
        let outcome = if sender.id != p.node_id {
            self.inner.skips.record(
                "INVALID_REPLY",
                format!(
                    "reply for {tag} came from {} instead of {}",
                    sender.id, p.node_id
                ),
                peer,
            );
            Err(CallError::InvalidReply {
                expected: p.node_id,
                actual: sender.id,
            })
        } else {
            result.map_err(CallError::Remote)
        };
        let _ = p.tx.send(outcome);
    }

    fn registration(&self, name: &str) -> Option<Registration> {
        self.inner
            .targets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Runs a message for a synchronous server at once when it can, else
    /// queues it for the server's task.
    fn to_inline(
        &self,
        inline: &Arc<InlineTarget>,
        id: u64,
        msg: Delivery,
        peer: Option<std::net::SocketAddr>,
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
            return self.refuse(
                msg.target,
                msg.from,
                "UNKNOWN_TARGET",
                "does not exist",
                peer,
            );
        }
        core.enqueue();
        match inline.tx.try_send(msg) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(msg)) if !local => Some(Backlog::Inline {
                tx: inline.tx.clone(),
                msg,
                core: core.clone(),
            }),
            Err(mpsc::error::TrySendError::Full(m)) => {
                core.unqueue();
                self.refuse(m.target, m.from, "MAILBOX_FULL", "is overloaded", peer)
            }
            Err(mpsc::error::TrySendError::Closed(m)) => {
                core.unqueue();
                self.unregister_id(&m.target, id);
                self.refuse(m.target, m.from, "UNKNOWN_TARGET", "does not exist", peer)
            }
        }
    }

    fn to_mailbox(
        &self,
        tx: mpsc::Sender<Message>,
        id: u64,
        msg: Message,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<Backlog> {
        let local = matches!(msg.from.route, Route::Local);
        match tx.try_send(msg) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(msg)) if !local => {
                Some(Backlog::Mailbox { tx, msg })
            }
            Err(mpsc::error::TrySendError::Full(m)) => {
                self.refuse(m.target, m.from, "MAILBOX_FULL", "is overloaded", peer)
            }
            Err(mpsc::error::TrySendError::Closed(m)) => {
                self.unregister_id(&m.target, id);
                self.refuse(m.target, m.from, "UNKNOWN_TARGET", "does not exist", peer)
            }
        }
    }

    /// Drops a message no server takes, answering its caller if any.
    fn refuse(
        &self,
        target: String,
        from: From,
        code: &'static str,
        why: &str,
        peer: Option<std::net::SocketAddr>,
    ) -> Option<Backlog> {
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
    pub(crate) fn pong(&self, tag: Option<&str>, sender_id: &str) {
        let (Some(tag), Some(sink)) = (tag, lock(&self.inner.sinks).get(sender_id).cloned()) else {
            return;
        };
        self.send(
            &sink,
            FrameType::Message,
            Some(tag),
            None,
            stream::SINGLE,
            Data::Text("\"pong\""),
        );
    }
}

/// What an outgoing envelope carries as `data`.
#[derive(Clone, Copy)]
enum Data<'a> {
    /// No `data` field (pings).
    None,
    /// JSON text.
    Text(&'a str),
    Payload(&'a Payload),
}

/// A received payload's JSON text (`None`: absent or `null`).
#[derive(Clone, Copy)]
pub(crate) struct Received<'a> {
    pub(crate) text: Option<&'a str>,
    /// Known to be one JSON value (see `wire::Incoming::data_checked`).
    pub(crate) checked: bool,
}

/// A received payload that did not parse and was not checked.
#[derive(Debug)]
pub(crate) struct Unparsable;

/// How long a stopped kernel's connections may go on writing what they
/// still held before they are closed regardless.
const STOP_LINGER: Duration = Duration::from_millis(500);

/// A frame scratch buffer grown past this is not kept.
const SCRATCH_KEEP: usize = 1024 * 1024;

/// A registered server name.
#[derive(Clone)]
struct Registration {
    id: u64,
    target: Target,
}

#[derive(Clone)]
enum Target {
    /// Messages wait in a mailbox that the server reads.
    Mailbox(mpsc::Sender<Message>),
    /// A synchronous handler, run by whoever delivers.
    Inline(Arc<InlineTarget>),
}

struct InlineTarget {
    /// The server's queue, for messages that cannot run at once.
    tx: mpsc::Sender<Delivery>,
    core: Arc<InlineCore>,
    /// The server takes GenServer requests split into event and data
    /// ([`Body::Request`]) rather than whole payloads.
    split: bool,
}

impl Target {
    fn is_closed(&self) -> bool {
        match self {
            Target::Mailbox(tx) => tx.is_closed(),
            Target::Inline(inline) => inline.tx.is_closed() || inline.core.is_dead(),
        }
    }
}

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

/// The next connection on the kernel's listener; `None` once `stop` took
/// the listener away.
fn poll_accept(
    listener: &Mutex<Option<TcpListener>>,
    cx: &mut std::task::Context<'_>,
) -> std::task::Poll<Option<std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>>> {
    match lock(listener).as_ref() {
        Some(l) => l.poll_accept(cx).map(Some),
        None => std::task::Poll::Ready(None),
    }
}

async fn accept_loop(kernel: Kernel) {
    let slots = Arc::new(Semaphore::new(kernel.inner.opts.max_inbound));
    let mut shutdown = kernel.inner.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = stopped(&mut shutdown) => break,
            accepted = std::future::poll_fn(|cx| poll_accept(&kernel.inner.listener, cx)) => {
                let (stream, peer) = match accepted {
                    None => break,
                    Some(Ok(a)) => a,
                    Some(Err(e)) => {
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
