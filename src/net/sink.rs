//! Outbound connections ("sinks"): one per peer, carrying every message this
//! node sends to it. Frames are serialised and signed when queued, so what
//! is flushed later is exactly what was signed (the original signs at
//! enqueue but serialises at flush, and loses messages to that).
//!
//! A frame sent from outside the engine's tasks (the Node.js and C doors'
//! threads) while the connection is up and nothing is queued or being
//! written is written at once by the sending thread (a non-blocking write;
//! whatever the socket does not take goes to the queue). That spares a
//! cross-thread wake-up of the writer task per message, a large part of a
//! round trip. Engine threads keep queueing: there the writer task runs
//! next on the same thread and batches frames into fewer writes. Order is
//! kept: the direct path is taken only when the queue is empty and the
//! writer task holds no frames.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
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
    frames: VecDeque<Bytes>,
    /// Bytes held in `frames`.
    bytes: usize,
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
            max_queue: max_queue.max(1),
            max_bytes: max_bytes.max(1),
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
        q.frames.len() + usize::from(q.partial.is_some())
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
    pub fn send(&self, mut frame: Bytes) -> bool {
        {
            let mut q = self.lock();
            if q.closing || self.state() == SinkState::Closed {
                return false;
            }
            if !q.writing
                && q.partial.is_none()
                && q.frames.is_empty()
                && tokio::task::try_id().is_none()
            {
                if let Some(socket) = &q.socket {
                    match socket.try_write(&frame) {
                        Ok(n) if n == frame.len() => return true,
                        Ok(n) => {
                            q.partial = Some(frame.split_off(n));
                            drop(q);
                            self.wake.notify_one();
                            return true;
                        }
                        // Not writable now (or failing, which the writer
                        // task will see too): queue it.
                        Err(_) => {}
                    }
                }
            }
            let active = self.state() == SinkState::Active;
            while !q.frames.is_empty()
                && if active {
                    q.bytes + frame.len() > self.max_bytes
                } else {
                    q.frames.len() >= self.max_queue
                }
            {
                if let Some(old) = q.frames.pop_front() {
                    q.bytes -= old.len();
                }
                q.dropped += 1;
            }
            q.bytes += frame.len();
            q.frames.push_back(frame);
        }
        self.wake.notify_one();
        true
    }

    /// Closes the connection: gracefully (after writing what is queued) or
    /// at once.
    pub fn close(&self, force: bool) {
        {
            let mut q = self.lock();
            q.closing = true;
            if force {
                q.forced = true;
                q.frames.clear();
                q.bytes = 0;
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
        q.forced || (q.closing && q.frames.is_empty() && q.partial.is_none())
    }

    /// Takes everything queued (marking the writer busy when there is
    /// something), or learns that the sink is to close.
    fn take(&self) -> Result<Vec<Bytes>, bool> {
        let mut q = self.lock();
        if q.forced || (q.closing && q.frames.is_empty() && q.partial.is_none()) {
            return Err(q.forced);
        }
        q.bytes = 0;
        let mut frames: Vec<Bytes> = q.partial.take().into_iter().collect();
        frames.extend(q.frames.drain(..));
        q.writing = !frames.is_empty();
        Ok(frames)
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
        q.frames.clear();
        q.partial = None;
        q.bytes = 0;
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
        let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            let notified = self.wake.notified();
            match self.take() {
                Err(_) => return true,
                Ok(frames) if !frames.is_empty() => {
                    batch.clear();
                    for f in &frames {
                        batch.extend_from_slice(f);
                    }
                    let written = write_all(stream, &batch).await;
                    self.lock().writing = false;
                    if let Err(e) = written {
                        tracing::debug!(peer = %self.node, error = %e, "write failed");
                        return false;
                    }
                    if batch.capacity() > 1024 * 1024 {
                        batch = Vec::with_capacity(64 * 1024);
                    }
                    continue;
                }
                Ok(_) => {}
            }
            tokio::select! {
                _ = notified => {}
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
