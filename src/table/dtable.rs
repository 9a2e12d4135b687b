//! The durable table (the original's `DTable`): an [`MTable`] whose writes
//! are appended to a log, folded now and then into a snapshot, in the
//! original's files and formats.
//!
//! A write applies to the table and encodes its log line into a buffer,
//! under one short lock; nothing waits for the disk. A dedicated I/O thread
//! (plain `std::fs`: it gives group commit for free — while one fsync runs,
//! every write made meanwhile piles up in the buffer and the next write +
//! fsync covers them all; `tokio::fs` would hop to a blocking pool per call
//! and gain nothing) drains the buffer to the log, fsyncs it on the
//! [`Durability`] policy and rotates the log when a fold starts. The
//! snapshot of a fold is the table as of the op that started it, taken as
//! a shared copy (reference counts, no value copied), and written by a
//! thread of its own while writes go on.
//!
//! Every write returns its log sequence number ([`Lsn`]); [`DTable::durable`]
//! (a future), [`DTable::wait_durable`] (blocking) and
//! [`DTable::on_durable`] (a callback) resolve once an fsync covers it.

use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::codec::{encode_log_line, Codec, TypedJson};
use super::disk::{self, LoadReport};
use super::error::TableError;
use super::files::Paths;
use super::io_thread;
use super::key::Key;
use super::mtable::{MTable, Op, Snapshot};
use super::policy::{Durability, FoldPolicy};
use super::value::Value;

/// A durable table's options (the original's, plus [`Durability`]).
#[derive(Clone, Debug)]
pub struct DTableOptions {
    /// The directory of the files (required: the original's "Missing 'path'
    /// option in options object." otherwise).
    pub path: Option<PathBuf>,
    /// The files' name prefix (DLM/DSM servers use their server name).
    pub name: String,
    /// Writes between folds (100).
    pub write_threshold: u64,
    /// Idle milliseconds before a fold (180 000).
    pub auto_save: u64,
    /// Milliseconds between fsyncs of the log in [`Durability::Interval`]
    /// mode (1000).
    pub fsync_interval: u64,
    /// Gzip the snapshot (false).
    pub compress: bool,
    pub durability: Durability,
    /// How keys and values are written (the original's `encodeFn` and
    /// `decodeFn`; [`TypedJson`] by default).
    pub codec: Arc<dyn Codec>,
}

impl Default for DTableOptions {
    fn default() -> Self {
        DTableOptions {
            path: None,
            name: String::new(),
            write_threshold: 100,
            auto_save: 180_000,
            fsync_interval: 1000,
            compress: false,
            durability: Durability::Interval,
            codec: Arc::new(TypedJson),
        }
    }
}

impl DTableOptions {
    pub fn new(path: impl Into<PathBuf>, name: impl Into<String>) -> DTableOptions {
        DTableOptions {
            path: Some(path.into()),
            name: name.into(),
            ..DTableOptions::default()
        }
    }
}

/// A write's place in the log: durable once the durable mark reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

/// Counters of a durable table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DTableStats {
    pub writes: u64,
    pub fsyncs: u64,
    pub folds: u64,
    pub failed_folds: u64,
    pub log_bytes: u64,
}

type Callback = Box<dyn FnOnce(Result<(), TableError>) + Send>;

pub(crate) enum Waiter {
    Waker(Waker),
    Callback(Callback),
}

/// Bytes per chunk of the log buffer.
const LOG_CHUNK: usize = 64 * 1024;

/// Log lines waiting for the I/O thread, in chunks: an append never moves
/// what is already buffered (a single growing buffer would copy megabytes
/// under the table's lock when the disk falls behind).
#[derive(Debug, Default)]
pub(crate) struct LogBuf {
    chunks: Vec<String>,
    len: usize,
    /// Emptied chunks for reuse.
    pool: Vec<String>,
}

impl LogBuf {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk the next line goes to (a fresh one when the last is full).
    pub fn tail(&mut self) -> &mut String {
        if self.chunks.last().is_none_or(|c| c.len() >= LOG_CHUNK) {
            let fresh = self
                .pool
                .pop()
                .unwrap_or_else(|| String::with_capacity(LOG_CHUNK + 1024));
            self.chunks.push(fresh);
        }
        let last = self.chunks.len() - 1;
        &mut self.chunks[last]
    }

    /// Counts `bytes` appended through [`LogBuf::tail`].
    pub fn grew(&mut self, bytes: usize) {
        self.len += bytes;
    }

    /// Everything buffered, in order.
    pub fn take(&mut self) -> Vec<String> {
        self.len = 0;
        std::mem::take(&mut self.chunks)
    }

    /// Chunks back from the I/O thread, for reuse; what is not kept is
    /// returned, to be freed outside the table's lock.
    pub fn recycle(&mut self, mut chunks: Vec<String>) -> Vec<String> {
        while self.pool.len() < 32 {
            let Some(mut c) = chunks.pop() else { break };
            if c.capacity() <= 4 * LOG_CHUNK {
                c.clear();
                self.pool.push(c);
            }
        }
        chunks
    }
}

/// A fold asked for by a write (or the idle check), for the I/O thread.
pub(crate) struct Rotation {
    /// Where the last op of the fold ends in the buffer.
    pub split: usize,
    pub lsn: u64,
    pub snapshot: Snapshot,
}

pub(crate) struct State {
    pub table: MTable,
    /// Log lines not yet handed to the I/O thread.
    pub buf: LogBuf,
    pub next_lsn: u64,
    pub durable_lsn: u64,
    pub policy: FoldPolicy,
    /// A fold is under way (from its first op until its snapshot is in
    /// place).
    pub folding: bool,
    pub rotate: Option<Rotation>,
    /// The snapshot of a fold whose writing failed, tried again each tick.
    pub retry: Option<Snapshot>,
    pub sync_requested: bool,
    pub waiters: Vec<(u64, Waiter)>,
    pub failed: Option<TableError>,
    pub stopping: bool,
    pub stopped: bool,
    pub stats: DTableStats,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Wakes the I/O thread.
    pub work: Condvar,
    /// Wakes threads blocked on durability or idleness.
    pub progress: Condvar,
    pub paths: Paths,
    pub codec: Arc<dyn Codec>,
    pub compress: bool,
    pub durability: Durability,
    pub fsync_interval: Duration,
    pub epoch: Instant,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent table (every
        // change is applied before the lock is released), so carry on.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// A durable table. Dropping it stops it (flushes and fsyncs the log).
pub struct DTable {
    shared: Arc<Shared>,
    io: Mutex<Option<JoinHandle<()>>>,
    report: LoadReport,
}

impl std::fmt::Debug for DTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DTable")
            .field("paths", &self.shared.paths)
            .finish_non_exhaustive()
    }
}

impl DTable {
    /// Loads the table from its directory (created if missing), finishes a
    /// fold a crash interrupted, and starts taking writes. Damaged lines
    /// never make this fail: they are skipped and reported
    /// ([`DTable::load_report`]).
    pub fn open(opts: DTableOptions) -> Result<DTable, TableError> {
        let dir = opts.path.clone().ok_or(TableError::MissingPath)?;
        if opts.name.is_empty() {
            return Err(TableError::InvalidOption {
                name: "name",
                reason: "the table needs a name (its files are named after it)".into(),
            });
        }
        for (name, v) in [
            ("writeThreshold", opts.write_threshold),
            ("autoSave", opts.auto_save),
            ("fsyncInterval", opts.fsync_interval),
        ] {
            if v == 0 {
                return Err(TableError::InvalidOption {
                    name,
                    reason: "must be a positive number".into(),
                });
            }
        }
        let paths = Paths::new(dir, opts.name.clone());
        let loaded = disk::load(&paths, &*opts.codec, opts.compress)?;
        let epoch = Instant::now();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                table: loaded.table,
                buf: LogBuf::default(),
                next_lsn: 1,
                durable_lsn: 0,
                policy: FoldPolicy::new(opts.write_threshold, opts.auto_save, 0),
                folding: false,
                rotate: None,
                retry: None,
                sync_requested: false,
                waiters: Vec::new(),
                failed: None,
                stopping: false,
                stopped: false,
                stats: DTableStats::default(),
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            paths,
            codec: opts.codec.clone(),
            compress: opts.compress,
            durability: opts.durability,
            fsync_interval: Duration::from_millis(opts.fsync_interval),
            epoch,
        });
        let io = io_thread::spawn(shared.clone(), loaded.log)?;
        Ok(DTable {
            shared,
            io: Mutex::new(Some(io)),
            report: loaded.report,
        })
    }

    /// What the load skipped, ignored or repaired.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    pub fn name(&self) -> &str {
        &self.shared.paths.name
    }

    pub fn get(&self, key: &Key) -> Option<Arc<Value>> {
        self.shared.lock().table.get_shared(key)
    }

    pub fn smember(&self, key: &Key, member: &Key) -> Result<bool, TableError> {
        self.shared.lock().table.smember(key, member)
    }

    pub fn hget(&self, key: &Key, field: &Key) -> Result<Option<Value>, TableError> {
        Ok(self.shared.lock().table.hget(key, field)?.cloned())
    }

    pub fn len(&self) -> usize {
        self.shared.lock().table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the table (for iteration), holding writes off meanwhile.
    pub fn with_table<R>(&self, f: impl FnOnce(&MTable) -> R) -> R {
        f(&self.shared.lock().table)
    }

    pub fn set(&self, key: impl Into<Key>, value: impl Into<Value>) -> Result<Lsn, TableError> {
        self.write(Op::Set(key.into(), value.into()))
    }

    pub fn sset(&self, key: impl Into<Key>, member: impl Into<Key>) -> Result<Lsn, TableError> {
        self.write(Op::Sset(key.into(), member.into()))
    }

    pub fn sdel(&self, key: impl Into<Key>, member: impl Into<Key>) -> Result<Lsn, TableError> {
        self.write(Op::Sdel(key.into(), member.into()))
    }

    pub fn hset(
        &self,
        key: impl Into<Key>,
        field: impl Into<Key>,
        value: impl Into<Value>,
    ) -> Result<Lsn, TableError> {
        self.write(Op::Hset(key.into(), field.into(), value.into()))
    }

    pub fn hdel(&self, key: impl Into<Key>, field: impl Into<Key>) -> Result<Lsn, TableError> {
        self.write(Op::Hdel(key.into(), field.into()))
    }

    pub fn del(&self, key: impl Into<Key>) -> Result<Lsn, TableError> {
        self.write(Op::Del(key.into()))
    }

    pub fn clear(&self) -> Result<Lsn, TableError> {
        self.write(Op::Clear)
    }

    /// Applies and logs a write command. A command the table refuses (a
    /// wrong kind) changes and logs nothing.
    pub fn write(&self, op: Op) -> Result<Lsn, TableError> {
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        if let Some(e) = closed(st) {
            return Err(e);
        }
        let was_empty = st.buf.is_empty();
        let chunk = st.buf.tail();
        let mark = chunk.len();
        encode_log_line(&*self.shared.codec, &op, chunk);
        let added = chunk.len() - mark;
        if let Err(e) = st.table.apply(op) {
            st.buf.tail().truncate(mark);
            return Err(e);
        }
        st.buf.grew(added);
        let lsn = st.next_lsn;
        st.next_lsn += 1;
        st.stats.writes += 1;
        if st.policy.on_write(st.folding) {
            st.folding = true;
            st.rotate = Some(Rotation {
                split: st.buf.len(),
                lsn,
                snapshot: st.table.snapshot(),
            });
        }
        drop(guard);
        if was_empty {
            self.shared.work.notify_one();
        }
        Ok(Lsn(lsn))
    }

    /// The highest [`Lsn`] an fsync covers.
    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.shared.lock().durable_lsn)
    }

    /// Resolves once `lsn` is durable (or the table failed).
    pub fn durable(&self, lsn: Lsn) -> Durable {
        Durable {
            shared: self.shared.clone(),
            lsn: lsn.0,
        }
    }

    /// Blocks until `lsn` is durable.
    pub fn wait_durable(&self, lsn: Lsn) -> Result<(), TableError> {
        let mut st = self.shared.lock();
        loop {
            if st.durable_lsn >= lsn.0 {
                return Ok(());
            }
            if let Some(e) = &st.failed {
                return Err(e.clone());
            }
            if st.stopped {
                return Err(TableError::Closed(None));
            }
            st = self
                .shared
                .progress
                .wait(st)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Calls `callback` once `lsn` is durable (at once if it is), from the
    /// I/O thread.
    pub fn on_durable(
        &self,
        lsn: Lsn,
        callback: impl FnOnce(Result<(), TableError>) + Send + 'static,
    ) {
        let mut st = self.shared.lock();
        let outcome = if st.durable_lsn >= lsn.0 {
            Some(Ok(()))
        } else if let Some(e) = &st.failed {
            Some(Err(e.clone()))
        } else if st.stopped {
            Some(Err(TableError::Closed(None)))
        } else {
            None
        };
        match outcome {
            Some(result) => {
                drop(st);
                callback(result);
            }
            None => st
                .waiters
                .push((lsn.0, Waiter::Callback(Box::new(callback)))),
        }
    }

    /// Writes and fsyncs everything written so far, now.
    pub fn sync(&self) -> Result<(), TableError> {
        let target = {
            let mut st = self.shared.lock();
            st.sync_requested = true;
            Lsn(st.next_lsn - 1)
        };
        self.shared.work.notify_one();
        self.wait_durable(target)
    }

    /// Whether no fold is running and every write reached the log file.
    pub fn is_idle(&self) -> bool {
        idle(&self.shared.lock())
    }

    /// Waits until [`DTable::is_idle`]; false on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while !idle(&st) && st.failed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = self
                .shared
                .progress
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        idle(&st)
    }

    pub fn stats(&self) -> DTableStats {
        self.shared.lock().stats.clone()
    }

    /// Stops taking writes, waits for a running fold, writes and fsyncs the
    /// log. Later writes fail with [`TableError::Closed`].
    pub fn stop(&self) -> Result<(), TableError> {
        self.shared.lock().stopping = true;
        self.shared.work.notify_one();
        let handle = self.io.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        match &self.shared.lock().failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl Drop for DTable {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn idle(st: &State) -> bool {
    !st.folding && st.buf.is_empty() && st.rotate.is_none()
}

fn closed(st: &State) -> Option<TableError> {
    if let Some(e) = &st.failed {
        return Some(TableError::Closed(Some(e.to_string())));
    }
    (st.stopping || st.stopped).then_some(TableError::Closed(None))
}

/// The future of [`DTable::durable`].
pub struct Durable {
    shared: Arc<Shared>,
    lsn: u64,
}

impl std::future::Future for Durable {
    type Output = Result<(), TableError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut st = self.shared.lock();
        if st.durable_lsn >= self.lsn {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.failed {
            return Poll::Ready(Err(e.clone()));
        }
        if st.stopped {
            return Poll::Ready(Err(TableError::Closed(None)));
        }
        st.waiters
            .push((self.lsn, Waiter::Waker(cx.waker().clone())));
        Poll::Pending
    }
}
