//! Outbound connections ("sinks"): one per peer, carrying every message this
//! node sends to it. Frames are serialised and signed when queued, so what
//! is flushed later is exactly what was signed (the original signs at
//! enqueue but serialises at flush, and loses messages to that).
//!
//! Queued frames lie back to back in one buffer, written with one call.
//! Who writes them:
//!
//! * A frame sent from outside the engine's tasks (the main thread of a
//!   `block_on`, the Node.js and C doors' threads) while the connection is
//!   up and nothing is queued or being written is written at once by the
//!   sending thread (a non-blocking write; whatever the socket does not take
//!   goes to the queue). That spares a cross-thread wake-up of the writer
//!   task per message, a large part of a round trip. Bursts (frames less
//!   than `BURST_GAP` apart) are queued instead, for the writer task.
//! * A connection's reader corks its thread while it handles what one read
//!   brought ([`Cork`]): the answers its handlers queue are written at the
//!   end of the batch, one call per connection, by the reader itself.
//! * Otherwise the writer task, woken by the first frame queued. Right
//!   after a write it lets the other tasks ready on its thread run first, so
//!   that what they queue (callers woken by one read's answers) goes out
//!   together.
//!
//! Order is kept: a frame is written directly only when the queue is empty
//! and the writer task holds no frames.

mod direct;

pub use direct::Cork;
use direct::Direct;

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::Node;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SinkState {
    Connecting = 0,
    Active = 1,
    /// Stopped, or gave up after `max_retries`.
    Closed = 2,
}

#[derive(Debug, Default)]
struct Queue {
    /// The rest of a frame the socket took only part of: written before
    /// anything else and never dropped.
    partial: Option<Bytes>,
    /// Queued frames, back to back: the writer takes them all at once and
    /// writes them with one call.
    buf: BytesMut,
    /// The length of each frame in `buf`, oldest first.
    lens: VecDeque<usize>,
    /// Frames dropped because the queue was full.
    dropped: u64,
    /// Flush what is queued, then close.
    closing: bool,
    /// Close now, dropping what is queued.
    forced: bool,
    /// The connected socket, for direct writes.
    socket: Option<Arc<TcpStream>>,
    /// The writer task is writing frames it took from the queue.
    writing: bool,
    /// When a thread outside the engine last found the queue empty.
    last_direct: Option<Instant>,
}

/// Frames sent closer together than this are a burst, better written
/// together (see the module's documentation). Far below any network round
/// trip, so a caller waiting on each answer is never held back.
const BURST_GAP: Duration = Duration::from_micros(10);

/// Past this, the writer does not keep the queue's buffer for reuse.
const KEEP_BUFFER: usize = 1024 * 1024;

/// What queueing a frame did.
pub(crate) enum Enqueued {
    Closed,
    /// Written at once.
    Written,
    /// Queued where nothing was: someone must write it.
    First,
    /// Queued behind frames someone is to write.
    More,
}

/// The sending side of a connection to one peer.
#[derive(Debug)]
pub struct Sink {
    node: Node,
    queue: Mutex<Queue>,
    wake: Notify,
    state: AtomicU8,
    connected: Notify,
    max_queue: usize,
    max_bytes: usize,
}

impl Sink {
    pub(crate) fn new(node: Node, max_queue: usize, max_bytes: usize) -> Arc<Sink> {
        Arc::new(Sink {
            node,
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            state: AtomicU8::new(SinkState::Connecting as u8),
            connected: Notify::new(),
            max_queue,
            max_bytes,
        })
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn state(&self) -> SinkState {
        match self.state.load(Ordering::Acquire) {
            1 => SinkState::Active,
            2 => SinkState::Closed,
            _ => SinkState::Connecting,
        }
    }

    /// Frames waiting to be written.
    pub fn queued(&self) -> usize {
        let q = self.lock();
        q.lens.len() + usize::from(q.partial.is_some())
    }

    /// Bytes queued and not yet handed to the socket (what the writer is
    /// writing at the moment not included).
    pub fn queued_bytes(&self) -> usize {
        let q = self.lock();
        q.buf.len() + q.partial.as_ref().map_or(0, Bytes::len)
    }

    pub fn max_queue(&self) -> usize {
        self.max_queue
    }

    /// Frames dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Whether nothing is waiting to be written.
    pub fn idle(&self) -> bool {
        self.queued() == 0
    }

    /// Queues a complete frame. While the peer is unreachable at most
    /// `max_queue` frames wait (the reference's `maxLen`); while connected,
    /// the writer may fall behind by up to `max_bytes`. Past either bound the
    /// oldest frames are dropped (and counted). Returns false when the
    /// connection is closed.
    pub fn send(&self, frame: Bytes) -> bool {
        self.send_slice(&frame)
    }

    /// [`send`](Self::send) for a frame in a borrowed buffer (it is copied
    /// into the queue, after the frames before it).
    pub fn send_slice(&self, frame: &[u8]) -> bool {
        match self.enqueue(frame) {
            Enqueued::Closed => false,
            Enqueued::First => {
                self.wake.notify_one();
                true
            }
            Enqueued::Written | Enqueued::More => true,
        }
    }

    fn enqueue(&self, frame: &[u8]) -> Enqueued {
        let mut q = self.lock();
        if q.closing || self.state() == SinkState::Closed {
            return Enqueued::Closed;
        }
        match self.write_direct(&mut q, frame) {
            Direct::Queue => {}
            Direct::Written => return Enqueued::Written,
            Direct::Partly => {
                drop(q);
                self.wake.notify_one();
                return Enqueued::Written;
            }
        }
        let active = self.state() == SinkState::Active;
        while !q.lens.is_empty()
            && if active {
                q.buf.len() + frame.len() > self.max_bytes
            } else {
                q.lens.len() >= self.max_queue
            }
        {
            if let Some(old) = q.lens.pop_front() {
                q.buf.advance(old);
            }
            q.dropped += 1;
        }
        q.buf.extend_from_slice(frame);
        q.lens.push_back(frame.len());
        // The writer (or a cork) knows of the frames queued before.
        if q.lens.len() > 1 {
            Enqueued::More
        } else {
            Enqueued::First
        }
    }

    /// Closes the connection: gracefully (after writing what is queued) or
    /// at once.
    pub fn close(&self, force: bool) {
        {
            let mut q = self.lock();
            q.closing = true;
            if force {
                q.forced = true;
                q.buf.clear();
                q.lens.clear();
            }
        }
        self.wake.notify_one();
    }

    /// Resolves once the connection is established (or closed for good).
    pub async fn wait_connected(&self) {
        loop {
            let notified = self.connected.notified();
            if self.state() != SinkState::Connecting {
                return;
            }
            notified.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding this lock cannot leave the queue
        // inconsistent (every critical section is a few field updates).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, s: SinkState) {
        self.state.store(s as u8, Ordering::Release);
        if s != SinkState::Connecting {
            self.connected.notify_waiters();
        }
    }

    /// Closed at once, or closed gracefully with nothing left to write.
    fn finished(&self) -> bool {
        let q = self.lock();
        q.forced || (q.closing && q.lens.is_empty() && q.partial.is_none())
    }

    /// Takes everything queued, in writing order (marking the writer busy
    /// when there is something), or learns that the sink is to close.
    fn take(&self) -> Result<[Option<Bytes>; 2], bool> {
        let mut q = self.lock();
        if q.forced || (q.closing && q.lens.is_empty() && q.partial.is_none()) {
            return Err(q.forced);
        }
        let partial = q.partial.take();
        let queued = (!q.lens.is_empty()).then(|| {
            q.lens.clear();
            if q.buf.capacity() > KEEP_BUFFER {
                std::mem::take(&mut q.buf).freeze()
            } else {
                // Once written and dropped, the buffer is reclaimed by the
                // next frame queued.
                q.buf.split().freeze()
            }
        });
        q.writing = partial.is_some() || queued.is_some();
        Ok([partial, queued])
    }

    /// Connects, reconnecting every `retry` until `max_retries` failures in
    /// a row, and writes queued frames in order.
    pub(crate) async fn run(self: Arc<Self>, retry: Duration, max_retries: Option<u32>) {
        let mut failures = 0u32;
        loop {
            if self.finished() {
                break;
            }
            match TcpStream::connect((self.node.host(), self.node.port())).await {
                Ok(stream) => {
                    failures = 0;
                    let _ = stream.set_nodelay(true);
                    self.set_state(SinkState::Active);
                    tracing::debug!(peer = %self.node, "connected");
                    let closed = self.pump(stream).await;
                    if closed {
                        break;
                    }
                    self.set_state(SinkState::Connecting);
                    tracing::debug!(peer = %self.node, "connection lost; reconnecting");
                }
                Err(e) => {
                    failures += 1;
                    tracing::debug!(peer = %self.node, error = %e, failures, "connect failed");
                    if max_retries.is_some_and(|m| failures > m) {
                        tracing::warn!(peer = %self.node, "giving up after {failures} attempts");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(retry) => {}
                _ = self.wake_on_force() => {}
            }
        }
        self.set_state(SinkState::Closed);
        let mut q = self.lock();
        q.buf = BytesMut::new();
        q.lens.clear();
        q.partial = None;
    }

    async fn wake_on_force(&self) {
        loop {
            let notified = self.wake.notified();
            if self.lock().forced {
                return;
            }
            notified.await;
        }
    }

    /// Writes frames as they are queued, until the socket fails (false) or
    /// the sink is closed (true). Peers never write on this connection; its
    /// read side only tells us when the peer goes away.
    async fn pump(&self, stream: TcpStream) -> bool {
        let stream = Arc::new(stream);
        self.lock().socket = Some(stream.clone());
        let closed = self.write_queued(&stream).await;
        {
            let mut q = self.lock();
            q.socket = None;
            q.writing = false;
        }
        // Senders only borrow the socket under the lock, so this is the
        // last reference now.
        if closed {
            if let Ok(mut stream) = Arc::try_unwrap(stream) {
                let _ = stream.shutdown().await;
            }
        }
        closed
    }

    async fn write_queued(&self, stream: &TcpStream) -> bool {
        let mut scratch = [0u8; 512];
        // When the last write ended.
        let mut wrote = Instant::now();
        loop {
            let notified = self.wake.notified();
            match self.take() {
                Err(_) => return true,
                Ok(chunks) if chunks.iter().any(Option::is_some) => {
                    let mut written = Ok(());
                    for chunk in chunks.iter().flatten() {
                        written = write_all(stream, chunk).await;
                        if written.is_err() {
                            break;
                        }
                    }
                    drop(chunks);
                    self.lock().writing = false;
                    wrote = Instant::now();
                    if let Err(e) = written {
                        tracing::debug!(peer = %self.node, error = %e, "write failed");
                        return false;
                    }
                    continue;
                }
                Ok(_) => {}
            }
            tokio::select! {
                // Woken by the first frame queued right after a write (a
                // busy connection, say callers woken one by one by the
                // answers that one read brought): the tasks ready to run on
                // this thread go first, so that what they queue goes out
                // together. After a pause the frame goes at once.
                _ = notified => {
                    if wrote.elapsed() < BURST_GAP {
                        tokio::task::yield_now().await;
                    }
                }
                r = read_some(stream, &mut scratch) => {
                    if matches!(r, Ok(0) | Err(_)) {
                        return false;
                    }
                }
            }
        }
    }
}

/// Writes all of `buf` through a shared socket.
async fn write_all(stream: &TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        stream.writable().await?;
        match stream.try_write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads whatever arrives (0: the peer closed).
async fn read_some(stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        match stream.try_read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            r => return r,
        }
    }
}
