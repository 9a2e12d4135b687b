//! The reader of an accepted connection: frames in, handed one by one to
//! the connection's core ([`Inbound`]), what it decides performed by the
//! kernel. Only CLI answers are ever written back on these sockets.
//!
//! The connection's task reads as the socket becomes readable and sweeps
//! the streams it holds for expiry; a thread of the embedder's own may pump
//! it too (see `embed`), whoever comes first handling what arrived, in
//! order, under the connection's state lock.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Notify, OwnedSemaphorePermit};

use super::core::{self, Context, Inbound};
use super::foreign::{Callback, ForeignRead, InboundReader, Pumped};
use super::kernel::{stopped, Backlog, Kernel};
use super::message::Route;
use super::sink::Cork;
use crate::wire::{FrameDecoder, Sender};

/// Per-connection state.
struct Conn {
    kernel: Kernel,
    peer: SocketAddr,
    /// Writes back on this socket (answers to CLI clients).
    back: mpsc::Sender<Bytes>,
    /// The connection's rules: its streams, what each frame becomes.
    inbound: Inbound<Route>,
}

/// Bytes one pump reads at most, so that a peer that never stops sending
/// holds no thread for long.
const PUMP_BUDGET: usize = 256 * 1024;

/// How long the task lets a thread that pumps the connection read what
/// arrived before reading it itself (that thread is busy or gone).
const FOREIGN_GRACE: Duration = Duration::from_millis(1);

/// The longest pause between two sweeps of a connection's streams for
/// expiry (shorter when the stream timeout is).
const SWEEP: Duration = Duration::from_secs(1);

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
    on_close: Mutex<Option<Callback>>,
    /// Told when the task has finished a turn (see [`InboundReader::pump`]).
    waiters: Mutex<Vec<Callback>>,
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
        // One reading of the clock per batch: the start of any stream in it.
        let now = Instant::now();
        loop {
            match self.decoder.next_frame_slice() {
                Ok(Some(frame)) => {
                    if let Some(backlog) = self.conn.frame(frame, now) {
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

/// What the embedder's thread does with the connection (see
/// [`InboundReader`]).
impl ForeignRead for Shared {
    fn peer(&self) -> SocketAddr {
        lock(&self.state).conn.peer
    }

    #[cfg(unix)]
    fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match &self.foreign {
            Some(socket) => socket.as_raw_fd(),
            None => self.rd.as_ref().as_raw_fd(),
        }
    }

    fn pump(&self, when_free: &mut dyn FnMut() -> Option<Callback>) -> Pumped {
        self.foreign_active.store(true, Ordering::Release);
        let mut st = match self.state.try_lock() {
            Ok(st) => st,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Pumped::Busy,
        };
        let streams = st.conn.inbound.has_streams();
        let outcome = self.pump(&mut st, true);
        let started_stream = !streams && st.conn.inbound.has_streams();
        let backlog = st.backlog.is_some();
        if outcome == Pumped::Blocked {
            // Registered under the state lock: the task clears `blocked`
            // under it too, and runs the waiters afterwards.
            if let Some(f) = when_free() {
                lock(&self.waiters).push(f);
            }
        }
        drop(st);
        if started_stream || backlog || outcome == Pumped::Closed {
            self.wake.notify_one();
        }
        outcome
    }

    fn detach(&self) {
        self.foreign_active.store(false, Ordering::Release);
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        lock(&self.state).closed
    }

    fn on_close(&self, f: Callback) {
        let mut slot = lock(&self.on_close);
        if lock(&self.state).closed {
            drop(slot);
            f();
        } else {
            *slot = Some(f);
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
    let gauge = kernel.inner.streams.clone();
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
                inbound: Inbound::new(opts.max_stream_bytes, opts.stream_timeout).counting(gauge),
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
        hook(InboundReader::new(shared.clone()));
    }
    let mut sweep = tokio::time::interval(opts.stream_timeout.min(SWEEP));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    'conn: loop {
        let streams = lock(&shared.state).conn.inbound.has_streams();
        // Stopping and the stream sweep (needed only while streams are
        // partly received) come first, so that a peer that never stops
        // sending delays neither.
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = sweep.tick(), if streams => {
                lock(&shared.state).conn.expire(Instant::now());
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
        let streams = st.conn.inbound.close();
        if streams > 0 {
            tracing::debug!(%peer, streams, "connection closed mid-stream; dropping partial bodies");
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

    /// Handles one frame received at `now`.
    fn frame(&mut self, frame: &[u8], now: Instant) -> Option<Backlog> {
        let inner = &*self.kernel.inner;
        let cx = Context {
            tables: inner,
            node_id: inner.node.id(),
            signer: inner.writer.signer(),
        };
        let back = &self.back;
        let way = |sender: &Sender| {
            if core::is_member(sender) {
                Route::Peer
            } else {
                Route::Socket(back.clone())
            }
        };
        let effect = self.inbound.receive(&cx, frame, way, now);
        self.kernel.perform(effect, Some(self.peer))
    }

    /// Drops streams that have not finished by `now`, answering the ones a
    /// caller waits on.
    fn expire(&mut self, now: Instant) {
        for (dropped, answer) in self.inbound.expire(now) {
            self.kernel.refuse(dropped, answer, Some(self.peer));
        }
    }
}
