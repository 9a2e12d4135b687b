//! When a durable table folds and fsyncs, as pure rules with time passed in.
//!
//! * Every write counts one; the write that reaches `write_threshold`
//!   resets the count and starts a fold, unless one is running (then the
//!   count resets and no fold starts) — the original's rule, kept because
//!   the files after a given run of writes depend on it.
//! * A table left without writes for `auto_save` folds. Unlike the
//!   original, which rewrites the same snapshot every `autoSave` ms forever,
//!   an idle fold only happens when something was written since the last
//!   fold (the files would be the same).
//! * The log is fsynced every `fsync_interval` when something was written
//!   since the last fsync (the original's policy), or — durable mode — as
//!   soon as a write is waiting (group commit: one fsync covers every write
//!   made while the previous one ran).

/// How writes become durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The original's policy: a write is applied and logged at once, and
    /// the log is fsynced every `fsync_interval` ms. A crash of the machine
    /// loses at most the last interval; [`crate::table::DTable::durable`]
    /// tells when a given write is covered.
    #[default]
    Interval,
    /// A write is acknowledged ([`crate::table::DTable::durable`]) only
    /// after the fsync that covers it; fsyncs run back to back while writes
    /// wait, each covering all the writes made before it started.
    Durable,
}

/// The fold counters of one table.
#[derive(Debug, Clone)]
pub struct FoldPolicy {
    write_threshold: u64,
    auto_save_ms: u64,
    writes: u64,
    /// Writes seen by the last idle check, and when their count last moved.
    seen_writes: u64,
    total_writes: u64,
    active_since_ms: u64,
    /// A write happened since the last fold started.
    dirty: bool,
}

impl FoldPolicy {
    pub fn new(write_threshold: u64, auto_save_ms: u64, now_ms: u64) -> FoldPolicy {
        FoldPolicy {
            write_threshold: write_threshold.max(1),
            auto_save_ms,
            writes: 0,
            seen_writes: 0,
            total_writes: 0,
            active_since_ms: now_ms,
            dirty: false,
        }
    }

    /// Counts a write; whether it starts a fold (`folding`: one is running).
    pub fn on_write(&mut self, folding: bool) -> bool {
        self.total_writes += 1;
        self.dirty = true;
        self.writes += 1;
        if self.writes < self.write_threshold {
            return false;
        }
        self.writes = 0;
        if folding {
            return false;
        }
        self.dirty = false;
        true
    }

    /// The idle check, run periodically; whether an idle fold starts now.
    pub fn on_tick(&mut self, now_ms: u64, folding: bool) -> bool {
        if self.total_writes != self.seen_writes {
            self.seen_writes = self.total_writes;
            self.active_since_ms = now_ms;
            return false;
        }
        if folding || !self.dirty || now_ms.saturating_sub(self.active_since_ms) < self.auto_save_ms
        {
            return false;
        }
        self.dirty = false;
        self.writes = 0;
        self.active_since_ms = now_ms;
        true
    }

    /// How often [`FoldPolicy::on_tick`] should run (the original counts
    /// idle seconds).
    pub fn tick_ms(&self) -> u64 {
        self.auto_save_ms.clamp(1, 1000)
    }
}

/// Whether the log should be fsynced now: at once in durable mode, every
/// `interval_ms` otherwise, and at once when someone asked (`requested`).
pub fn sync_due(
    mode: Durability,
    unsynced: bool,
    requested: bool,
    since_sync_ms: u64,
    interval_ms: u64,
) -> bool {
    unsynced
        && (requested
            || match mode {
                Durability::Durable => true,
                Durability::Interval => since_sync_ms >= interval_ms,
            })
}
