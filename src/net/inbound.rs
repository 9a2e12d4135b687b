//! Accepted connections: frames in, verified, streamed bodies put back
//! together (within bounds), and routed. Only CLI answers are ever written
//! back on these sockets.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit};

use super::kernel::{stopped, Backlog, Kernel, Received, Route, Unparsable};
use super::sink::Cork;
use super::{error_value, Payload};
use crate::wire::{self, buffer, js_json, FrameDecoder, FrameType, Incoming, Sender};

/// A streamed body being received.
struct Partial {
    target: String,
    tag: Option<String>,
    from: Sender,
    body: Vec<u8>,
    started: Instant,
}

/// Per-connection state.
struct Conn {
    kernel: Kernel,
    peer: SocketAddr,
    /// Writes back on this socket (answers to CLI clients).
    back: mpsc::Sender<Bytes>,
    partials: HashMap<String, Partial>,
    partial_bytes: usize,
}

/// What one pump of a connection left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Everything the socket held was read and handled.
    Idle,
    /// The budget ran out with more to read: pump again.
    More,
    /// The kernel's task is reading this connection right now; pump
    /// again when more arrives.
    Busy,
    /// A message waits for room in its server's mailbox: nothing is read
    /// until the kernel's task has delivered it (see [`InboundReader::pump`]).
    Blocked,
    /// The connection ended (or the kernel stopped).
    Closed,
}

/// Bytes one pump reads at most, so that a peer that never stops sending
/// holds no thread for long.
const PUMP_BUDGET: usize = 256 * 1024;

/// How long the task lets a thread that pumps the connection read what
/// arrived before reading it itself (that thread is busy or gone).
const FOREIGN_GRACE: std::time::Duration = std::time::Duration::from_millis(1);

/// The reading side of an accepted connection, shared by the connection's
/// task and any other thread that pumps it ([`InboundReader`]).
struct Shared {
    rd: OwnedReadHalf,
    /// The same socket for other threads: their reads go straight to the
    /// socket, whatever readiness the kernel's reactor has seen so far.
    /// Reads from them land in [`ReadState::scratch`] first.
    foreign: Option<std::net::TcpStream>,
    /// Another thread pumps this connection: the task leaves reading to it
    /// for [`FOREIGN_GRACE`] after each wake-up.
    foreign_active: AtomicBool,
    state: Mutex<ReadState>,
    /// Wakes the task: a pump from another thread left a backlog, began a
    /// stream (which the task's sweep must watch) or saw the end.
    wake: Notify,
    on_close: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Told when the task has finished a turn (see [`InboundReader::pump`]).
    waiters: Mutex<Vec<Box<dyn FnOnce() + Send>>>,
}

struct ReadState {
    conn: Conn,
    decoder: FrameDecoder,
    /// A message waiting for room in its server's mailbox; nothing further
    /// is read until the task has delivered it.
    backlog: Option<Backlog>,
    blocked: bool,
    closed: bool,
    /// Landing space for reads from other threads (allocated on first use).
    scratch: Vec<u8>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the state whole, even cut short.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ReadState {
    /// Handles every complete frame buffered; what they queue for peers
    /// goes out together at the end (see `Cork`). Stops at a frame that
    /// must wait for room.
    fn handle_frames(&mut self) {
        let _cork = Cork::new();
        loop {
            match self.decoder.next_frame_slice() {
                Ok(Some(frame)) => {
                    if let Some(backlog) = self.conn.frame(frame) {
                        self.backlog = Some(backlog);
                        self.blocked = true;
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    self.conn
                        .skip("FRAME_TOO_LARGE", format!("{e}; closing the connection"));
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

impl Shared {
    /// Runs whatever waits for the task to let go of the connection.
    fn release_waiters(&self) {
        let waiters = std::mem::take(&mut *lock(&self.waiters));
        for f in waiters {
            f();
        }
    }

    /// Handles what is buffered, then reads and handles what the socket
    /// holds, up to [`PUMP_BUDGET`] bytes.
    fn pump(&self, st: &mut ReadState, foreign: bool) -> Pumped {
        let mut read = 0;
        loop {
            if st.closed {
                return Pumped::Closed;
            }
            if st.blocked {
                return Pumped::Blocked;
            }
            st.handle_frames();
            if st.closed {
                return Pumped::Closed;
            }
            if st.blocked {
                return Pumped::Blocked;
            }
            if read >= PUMP_BUDGET {
                return Pumped::More;
            }
            let result = match self.foreign.as_ref().filter(|_| foreign) {
                Some(socket) => {
                    if st.scratch.is_empty() {
                        st.scratch = vec![0; 64 * 1024];
                    }
                    let result = (&mut &*socket).read(&mut st.scratch);
                    if let Ok(n) = result {
                        st.decoder.buffer_mut().extend_from_slice(&st.scratch[..n]);
                    }
                    result
                }
                None => {
                    let buf: &mut BytesMut = st.decoder.buffer_mut();
                    if buf.capacity() - buf.len() < 16 * 1024 {
                        buf.reserve(64 * 1024);
                    }
                    self.rd.try_read_buf(buf)
                }
            };
            match result {
                Ok(0) => st.closed = true,
                Ok(n) => read += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Pumped::Idle,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => st.closed = true,
            }
        }
    }
}

/// An accepted connection that a thread other than the kernel's may read
/// and handle, for instance an event loop that polls [`raw_fd`](Self::raw_fd)
/// for readability and then calls [`pump`](Self::pump): messages for
/// servers that run on that thread are then handled without a hand-over
/// between threads. The kernel's own task keeps reading too; whoever comes
/// first handles what arrived, in order. See [`Kernel::on_inbound`].
#[derive(Clone)]
pub struct InboundReader {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InboundReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundReader")
            .field("peer", &self.peer())
            .finish()
    }
}

impl InboundReader {
    /// The connection's remote address.
    pub fn peer(&self) -> SocketAddr {
        lock(&self.shared.state).conn.peer
    }

    /// The socket, to poll for readability. It stays open while this
    /// reader (or a clone) exists, even after the connection ended.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.shared.foreign {
            Some(socket) => socket.as_raw_fd(),
            None => self.shared.rd.as_ref().as_raw_fd(),
        }
    }

    /// Reads what the socket holds (up to 256 KiB) and handles it on this
    /// thread; never blocks on the network. Call it within the kernel's
    /// runtime context. When the answer is [`Pumped::Blocked`],
    /// `when_free` runs (on the kernel's thread) once the waiting message
    /// is delivered: the moment to pump again. It may also run after
    /// another answer; calls are harmless.
    ///
    /// While a thread pumps a connection, the kernel's task leaves what
    /// arrives to it for a moment before reading it itself; [`detach`]
    /// (Self::detach) ends that.
    pub fn pump(&self, when_free: impl FnOnce() + Send + 'static) -> Pumped {
        let shared = &self.shared;
        shared.foreign_active.store(true, Ordering::Release);
        let mut st = match shared.state.try_lock() {
            Ok(st) => st,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Pumped::Busy,
        };
        let streams = !st.conn.partials.is_empty();
        let outcome = shared.pump(&mut st, true);
        let started_stream = !streams && !st.conn.partials.is_empty();
        let backlog = st.backlog.is_some();
        if outcome == Pumped::Blocked {
            // Registered under the state lock: the task clears `blocked`
            // under it too, and runs the waiters afterwards.
            lock(&shared.waiters).push(Box::new(when_free));
        }
        drop(st);
        if started_stream || backlog || outcome == Pumped::Closed {
            shared.wake.notify_one();
        }
        outcome
    }

    /// This thread pumps the connection no more: the kernel's task reads
    /// everything again without waiting for it.
    pub fn detach(&self) {
        self.shared.foreign_active.store(false, Ordering::Release);
        self.shared.wake.notify_one();
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        lock(&self.shared.state).closed
    }

    /// Runs `f` once the connection's task has ended (at once if it has).
    pub fn on_close(&self, f: impl FnOnce() + Send + 'static) {
        let mut slot = lock(&self.shared.on_close);
        if lock(&self.shared.state).closed {
            drop(slot);
            f();
        } else {
            *slot = Some(Box::new(f));
        }
    }
}

/// The socket as a standard stream sharing the connection (non-blocking,
/// as the kernel made it).
#[cfg(unix)]
fn foreign_handle(stream: &TcpStream) -> Option<std::net::TcpStream> {
    use std::os::fd::AsFd;
    let fd = stream.as_fd().try_clone_to_owned().ok()?;
    Some(std::net::TcpStream::from(fd))
}

#[cfg(not(unix))]
fn foreign_handle(_: &TcpStream) -> Option<std::net::TcpStream> {
    None
}

pub(crate) async fn serve(
    kernel: Kernel,
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let hook = kernel.inbound_hook();
    // A second handle on the socket, only for connections others may pump.
    let foreign = hook.as_ref().and_then(|_| foreign_handle(&stream));
    let (rd, mut wr) = stream.into_split();
    let (back, mut back_rx) = mpsc::channel::<Bytes>(64);
    let writer = tokio::spawn(async move {
        while let Some(frame) = back_rx.recv().await {
            if wr.write_all(&frame).await.is_err() {
                break;
            }
        }
    });
    let opts = kernel.inner.opts.clone();
    let mut shutdown = kernel.inner.shutdown.subscribe();
    let stop = async move { stopped(&mut shutdown).await };
    tokio::pin!(stop);
    let shared = Arc::new(Shared {
        rd,
        foreign,
        foreign_active: AtomicBool::new(false),
        state: Mutex::new(ReadState {
            conn: Conn {
                kernel,
                peer,
                back,
                partials: HashMap::new(),
                partial_bytes: 0,
            },
            decoder: FrameDecoder::new(opts.max_frame),
            backlog: None,
            blocked: false,
            closed: false,
            scratch: Vec::new(),
        }),
        wake: Notify::new(),
        on_close: Mutex::new(None),
        waiters: Mutex::new(Vec::new()),
    });
    if let Some(hook) = hook {
        hook(InboundReader {
            shared: shared.clone(),
        });
    }
    let mut sweep =
        tokio::time::interval(opts.stream_timeout.min(std::time::Duration::from_secs(1)));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'conn: loop {
        let streams = !lock(&shared.state).conn.partials.is_empty();
        // Stopping and the stream sweep (needed only while streams are
        // partly received) come first, so that a peer that never stops
        // sending delays neither.
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = sweep.tick(), if streams => {
                lock(&shared.state).conn.expire(opts.stream_timeout);
                continue;
            }
            () = shared.wake.notified() => {}
            ready = shared.rd.readable() => {
                if ready.is_err() {
                    break;
                }
                if shared.foreign_active.load(Ordering::Acquire) {
                    tokio::select! {
                        biased;
                        _ = &mut stop => break,
                        () = shared.wake.notified() => {}
                        () = tokio::time::sleep(FOREIGN_GRACE) => {}
                    }
                }
            }
        }
        loop {
            let (outcome, backlog) = {
                let mut st = lock(&shared.state);
                let outcome = shared.pump(&mut st, false);
                (outcome, st.backlog.take())
            };
            if let Some(backlog) = backlog {
                tokio::select! {
                    biased;
                    _ = &mut stop => break 'conn,
                    _ = backlog.deliver() => {}
                }
                lock(&shared.state).blocked = false;
                continue;
            }
            match outcome {
                Pumped::Idle | Pumped::Busy | Pumped::Blocked => break,
                Pumped::More => {
                    shared.release_waiters();
                    tokio::task::yield_now().await;
                }
                Pumped::Closed => break 'conn,
            }
        }
        shared.release_waiters();
    }
    {
        let mut st = lock(&shared.state);
        st.closed = true;
        st.backlog = None;
        if !st.conn.partials.is_empty() {
            tracing::debug!(%peer, streams = st.conn.partials.len(), "connection closed mid-stream; dropping partial bodies");
            st.conn.partials.clear();
            st.conn.partial_bytes = 0;
        }
        // The connection's answers channel goes with the task: the writer
        // ends once what is queued is written.
        st.conn.back = mpsc::channel(1).0;
    }
    // Taken after `closed` is set (never both locks at once): a callback
    // set meanwhile either sees `closed` or is found here.
    shared.release_waiters();
    let on_close = lock(&shared.on_close).take();
    if let Some(f) = on_close {
        f();
    }
    drop(shared);
    let _ = writer.await;
}

impl Conn {
    fn skip(&self, code: &'static str, detail: impl Into<String>) {
        self.kernel
            .inner
            .skips
            .record(code, detail, Some(self.peer));
    }

    fn frame(&mut self, frame: &[u8]) -> Option<Backlog> {
        let env = match wire::decode_incoming(frame, self.kernel.inner.signer.as_ref()) {
            Ok(env) => env,
            Err(reason) => {
                self.skip(reason.code(), reason.to_string());
                return None;
            }
        };
        match env.frame_type {
            FrameType::Ping => {
                self.kernel.pong(env.tag.as_deref(), &env.from.id);
                None
            }
            FrameType::Message => match self.message(env) {
                Ok(backlog) => backlog,
                // The fast path's unchecked payload did not parse: decoded
                // again, checked, the frame says what it really is.
                Err(Unparsable) => {
                    match wire::decode_incoming_checked(frame, self.kernel.inner.signer.as_ref()) {
                        Ok(env) => self.message(env).unwrap_or(None),
                        Err(reason) => {
                            self.skip(reason.code(), reason.to_string());
                            None
                        }
                    }
                }
            },
        }
    }

    fn route(&self, sender: &Sender) -> Route {
        // Members carry a full address and are answered over our own
        // connection to them; anything else (the CLI) on this socket.
        if sender.host.is_some() && sender.port.is_some() {
            Route::Peer
        } else {
            Route::Socket(self.back.clone())
        }
    }

    fn message(&mut self, env: Incoming) -> Result<Option<Backlog>, Unparsable> {
        let route = self.route(&env.from);
        let peer = Some(self.peer);
        let Incoming {
            id: Some(target),
            tag,
            from,
            done,
            stream_id,
            error,
            data,
            data_checked,
            ..
        } = env
        else {
            return Ok(None);
        };
        let Some(stream_id) = stream_id else {
            // A single message.
            return match error {
                Some(error) => Ok(self
                    .kernel
                    .dispatch(target, tag, from, Err(error), route, peer)),
                None => {
                    let data = Received {
                        text: data.as_deref(),
                        checked: data_checked,
                    };
                    self.kernel.deliver(target, tag, from, data, route, peer)
                }
            };
        };
        let parsed = data
            .as_deref()
            .map_or(Ok(Value::Null), serde_json::from_str);
        let chunk = match parsed {
            Ok(data) => chunk_bytes(data),
            Err(_) if !data_checked => return Err(Unparsable),
            Err(e) => {
                self.skip("MALFORMED_JSON", e.to_string());
                return Ok(None);
            }
        };
        let limit = self.kernel.inner.opts.max_stream_bytes;
        if self.partial_bytes + chunk.len() > limit {
            self.skip(
                "STREAM_TOO_LARGE",
                format!("stream {stream_id} for {target} exceeds {limit} bytes"),
            );
            if let Some(p) = self.partials.remove(&stream_id) {
                self.partial_bytes -= p.body.len();
                self.refuse(&p, "Stream exceeds the receiver's limit.");
            }
            return Ok(None);
        }
        let partial = self
            .partials
            .entry(stream_id.clone())
            .or_insert_with(|| Partial {
                target,
                tag,
                from,
                body: Vec::new(),
                started: Instant::now(),
            });
        partial.body.extend_from_slice(&chunk);
        self.partial_bytes += chunk.len();
        if !done {
            return Ok(None);
        }
        let Some(p) = self.partials.remove(&stream_id) else {
            return Ok(None);
        };
        self.partial_bytes -= p.body.len();
        let result = match error {
            Some(error) => Err(error),
            None => Ok(Payload::Bytes(p.body.into())),
        };
        Ok(self
            .kernel
            .dispatch(p.target, p.tag, p.from, result, route, peer))
    }

    /// Drops streams that have not finished in time, answering the ones a
    /// caller waits on.
    fn expire(&mut self, timeout: std::time::Duration) {
        let expired: Vec<String> = self
            .partials
            .iter()
            .filter(|(_, p)| p.started.elapsed() > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(p) = self.partials.remove(&id) {
                self.partial_bytes -= p.body.len();
                self.skip(
                    "STREAM_TIMEOUT",
                    format!("stream {id} for {} did not finish in {timeout:?}", p.target),
                );
                self.refuse(&p, "Stream timed out.");
            }
        }
    }

    fn refuse(&self, p: &Partial, message: &str) {
        if p.tag.is_none() {
            return;
        }
        let from = super::From {
            node: p.from.clone(),
            tag: p.tag.clone(),
            route: self.route(&p.from),
        };
        let _ = self.kernel.reply_error(&from, &error_value(message, &[]));
    }
}

/// The bytes a stream chunk contributes: a Buffer's bytes, a string's UTF-8,
/// any other value's JSON text; nothing for `null`.
fn chunk_bytes(data: Value) -> Vec<u8> {
    match data {
        Value::Null => Vec::new(),
        Value::String(s) => s.into_bytes(),
        other => {
            buffer::from_value(&other).unwrap_or_else(|| js_json::to_string(&other).into_bytes())
        }
    }
}
