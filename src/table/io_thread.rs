//! The durable table's I/O thread: drains the log buffer to `LATEST.LOG`,
//! fsyncs it by policy, rotates it when a fold starts and hands the fold's
//! snapshot to a thread that writes it. It never holds the table's lock
//! while touching the disk, so writes wait for a disk only when they ask to
//! (durability), never to be applied.

use std::fs::File;
use std::io::Write;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::disk;
use super::dtable::{Rotation, Shared, State, Waiter};
use super::error::TableError;
use super::files::FileKind;
use super::mtable::Snapshot;
use super::policy::sync_due;

pub(crate) fn spawn(shared: Arc<Shared>, log: File) -> Result<JoinHandle<()>, TableError> {
    let name = format!("notp-table-{}", shared.paths.name);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || IoThread::new(shared, log).run())
        .map_err(|e| TableError::Io {
            action: "start I/O thread for",
            path: "table".into(),
            source: Arc::new(e),
        })
}

struct IoThread {
    shared: Arc<Shared>,
    log: File,
    /// Bytes written to `log` since its last fsync.
    unsynced: bool,
    last_sync: Instant,
    next_tick: Instant,
    tick: Duration,
}

/// What one turn of the loop took from the shared state.
struct Batch {
    /// Log lines, in chunks.
    bytes: Vec<String>,
    upto: u64,
    rotation: Option<Rotation>,
    retry: Option<Snapshot>,
    sync_requested: bool,
    stopping: bool,
}

impl IoThread {
    fn new(shared: Arc<Shared>, log: File) -> IoThread {
        let tick = Duration::from_millis(shared.lock().policy.tick_ms());
        IoThread {
            shared,
            log,
            unsynced: false,
            last_sync: Instant::now(),
            next_tick: Instant::now() + tick,
            tick,
        }
    }

    fn run(mut self) {
        loop {
            let batch = self.next_batch();
            let stopping = batch.stopping;
            let result = self.perform(batch);
            let done = self.publish(result, stopping);
            if done {
                break;
            }
        }
    }

    /// Waits for something to do and takes it.
    fn next_batch(&mut self) -> Batch {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let mut tick = false;
        loop {
            let now = Instant::now();
            if now >= self.next_tick {
                self.next_tick = now + self.tick;
                tick = true;
                break;
            }
            let since_sync = now.duration_since(self.last_sync).as_millis() as u64;
            let interval = self.shared.fsync_interval.as_millis() as u64;
            let work = !st.buf.is_empty()
                || st.rotate.is_some()
                || sync_due(
                    self.shared.durability,
                    self.unsynced,
                    st.sync_requested,
                    since_sync,
                    interval,
                );
            // A failed table only waits to be stopped.
            if st.stopping || (work && st.failed.is_none()) {
                break;
            }
            let mut wake = self.next_tick;
            if self.unsynced {
                wake = wake.min(self.last_sync + self.shared.fsync_interval);
            }
            let timeout = wake
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            st = shared
                .work
                .wait_timeout(st, timeout)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        let total = st.buf.len();
        let bytes = st.buf.take();
        let upto = st.next_lsn - 1;
        let mut rotation = st.rotate.take();
        let mut retry = None;
        if tick && st.failed.is_none() {
            let now_ms = self.shared.now_ms();
            let folding = st.folding;
            if st.policy.on_tick(now_ms, folding) {
                st.folding = true;
                rotation = Some(Rotation {
                    split: total,
                    lsn: upto,
                    snapshot: st.table.snapshot(),
                });
            } else {
                retry = st.retry.take();
            }
        }
        Batch {
            bytes,
            upto,
            rotation,
            retry,
            sync_requested: std::mem::take(&mut st.sync_requested),
            stopping: st.stopping,
        }
    }

    /// Writes, rotates and fsyncs as the batch asks; the new durable mark.
    fn perform(&mut self, batch: Batch) -> (Result<Option<u64>, TableError>, Vec<String>) {
        let result = self.write_batch(&batch);
        (result, batch.bytes)
    }

    /// A fold left unfinished at stop is finished by the next load.
    fn write_batch(&mut self, batch: &Batch) -> Result<Option<u64>, TableError> {
        if self.shared.lock().failed.is_some() {
            return Ok(None);
        }
        let mut durable = None;
        let split = batch.rotation.as_ref().map_or(0, |r| r.split);
        let mut written = 0;
        let mut rest: Vec<&str> = Vec::new();
        for chunk in &batch.bytes {
            // The part before a fold's split goes to the old log.
            let head = split.saturating_sub(written).min(chunk.len());
            self.append(&chunk[..head])?;
            rest.push(&chunk[head..]);
            written += chunk.len();
        }
        if let Some(rotation) = &batch.rotation {
            self.fsync()?;
            durable = Some(rotation.lsn);
            self.log = disk::rotate_log(&self.shared.paths)?;
            self.spawn_fold(rotation.snapshot.clone());
        }
        if let Some(snapshot) = &batch.retry {
            self.spawn_fold(snapshot.clone());
        }
        for part in rest {
            self.append(part)?;
        }
        let since = self.last_sync.elapsed().as_millis() as u64;
        let interval = self.shared.fsync_interval.as_millis() as u64;
        let requested = batch.sync_requested || batch.stopping;
        if sync_due(
            self.shared.durability,
            self.unsynced,
            requested,
            since,
            interval,
        ) {
            self.fsync()?;
        }
        if !self.unsynced {
            durable = Some(batch.upto);
        }
        Ok(durable)
    }

    fn append(&mut self, bytes: &str) -> Result<(), TableError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.log
            .write_all(bytes.as_bytes())
            .map_err(|e| TableError::io("write", &self.shared.paths.of(FileKind::Log), e))?;
        self.unsynced = true;
        self.shared.lock().stats.log_bytes += bytes.len() as u64;
        Ok(())
    }

    fn fsync(&mut self) -> Result<(), TableError> {
        self.log
            .sync_data()
            .map_err(|e| TableError::io("fsync", &self.shared.paths.of(FileKind::Log), e))?;
        self.unsynced = false;
        self.last_sync = Instant::now();
        self.shared.lock().stats.fsyncs += 1;
        Ok(())
    }

    /// Fold steps 2–4 on a thread of their own; the table stays `folding`
    /// until they succeed (a failure keeps the snapshot for a retry: the
    /// next fold must not start while `PREV.LOG` is still there).
    fn spawn_fold(&self, snapshot: Snapshot) {
        let shared = self.shared.clone();
        let kept = snapshot.clone();
        let run = move || {
            let result =
                disk::finish_fold(&shared.paths, &snapshot, &*shared.codec, shared.compress);
            let mut st = shared.lock();
            match result {
                Ok(()) => {
                    st.folding = false;
                    st.stats.folds += 1;
                }
                Err(e) => {
                    tracing::warn!(table = %shared.paths.name, error = %e, "writing the snapshot failed; retrying later (the log keeps everything meanwhile)");
                    st.stats.failed_folds += 1;
                    st.retry = Some(snapshot);
                }
            }
            drop(st);
            shared.progress.notify_all();
            shared.work.notify_one();
        };
        let spawned = std::thread::Builder::new()
            .name(format!("notp-fold-{}", self.shared.paths.name))
            .spawn(run);
        if let Err(e) = spawned {
            tracing::warn!(table = %self.shared.paths.name, error = %e, "cannot start the fold thread; retrying later");
            let mut st = self.shared.lock();
            st.stats.failed_folds += 1;
            st.retry = Some(kept);
        }
    }

    /// Records the outcome, wakes whoever it concerns; whether the thread
    /// is done (stopping, with nothing left to do).
    fn publish(
        &mut self,
        (result, bytes): (Result<Option<u64>, TableError>, Vec<String>),
        stopping: bool,
    ) -> bool {
        let shared = self.shared.clone();
        let mut st = shared.lock();
        let unused = st.buf.recycle(bytes);
        let mut ready: Vec<(Waiter, Result<(), TableError>)> = Vec::new();
        match result {
            Ok(Some(lsn)) if lsn > st.durable_lsn => {
                st.durable_lsn = lsn;
                take_ready(&mut st, &mut ready, |w| w <= lsn, Ok(()));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(table = %shared.paths.name, error = %e, "table log failed; the table refuses writes from now on");
                if st.failed.is_none() {
                    st.failed = Some(e.clone());
                }
                take_ready(&mut st, &mut ready, |_| true, Err(e));
            }
        }
        let done = stopping && (st.failed.is_some() || finished(&st, self.unsynced));
        if done {
            st.stopped = true;
            let closed = TableError::Closed(None);
            take_ready(&mut st, &mut ready, |_| true, Err(closed));
        }
        drop(st);
        drop(unused);
        shared.progress.notify_all();
        for (waiter, outcome) in ready {
            match waiter {
                Waiter::Waker(w) => w.wake(),
                Waiter::Callback(cb) => cb(outcome),
            }
        }
        if stopping && !done {
            // A fold is still writing its snapshot: wait for it.
            let st = shared.lock();
            if st.folding && st.retry.is_none() {
                let _ = shared.work.wait_timeout(st, Duration::from_millis(50));
            }
        }
        done
    }
}

/// Nothing buffered, unsynced or folding.
fn finished(st: &State, unsynced: bool) -> bool {
    st.buf.is_empty() && st.rotate.is_none() && !unsynced && (!st.folding || st.retry.is_some())
}

fn take_ready(
    st: &mut State,
    ready: &mut Vec<(Waiter, Result<(), TableError>)>,
    due: impl Fn(u64) -> bool,
    outcome: Result<(), TableError>,
) {
    let mut i = 0;
    while i < st.waiters.len() {
        if due(st.waiters[i].0) {
            let (_, w) = st.waiters.swap_remove(i);
            ready.push((w, outcome.clone()));
        } else {
            i += 1;
        }
    }
}
