//! The table's four files, and which of them a load trusts — the rule that
//! makes a crash at any instant of a fold harmless.
//!
//! A fold here runs in this order (each step durable before the next):
//!
//! 1. `LATEST.LOG` is renamed `PREV.LOG` (its ops are all in the snapshot
//!    being made) and a new, empty `LATEST.LOG` is created;
//! 2. the snapshot — the table as of the last op in `PREV.LOG` — is written
//!    to `DATA_PREV.SNAP` and fsynced;
//! 3. `PREV.LOG` is removed;
//! 4. `DATA_PREV.SNAP` is renamed `DATA.SNAP`.
//!
//! So the files present say how far a fold got, and [`plan`] reads exactly
//! the files that hold the table, each op once:
//!
//! * `PREV.LOG` present: the new snapshot may be partial, so `DATA.SNAP`
//!   (the previous snapshot, which `PREV.LOG` continues), `PREV.LOG`, then
//!   `LATEST.LOG`; `DATA_PREV.SNAP` is ignored. This also reads the
//!   original's directories exactly: its `DATA_PREV.SNAP` next to a
//!   `PREV.LOG` is a snapshot not yet renamed, so `DATA.SNAP` is still the
//!   old one. (The original reads the new snapshot too, and replays
//!   `PREV.LOG` over it: a key `42` comes back twice, as `"42"` and `42`.)
//! * else `DATA_PREV.SNAP` present: it is complete (it was fsynced before
//!   `PREV.LOG` went away), so it and `LATEST.LOG`; the older `DATA.SNAP`
//!   is ignored.
//! * else `DATA.SNAP` and `LATEST.LOG`.
//!
//! After such a load the directory is tidied before any write ([`Finish`]),
//! so a fold always starts from `DATA.SNAP` + `LATEST.LOG`.

use std::path::{Path, PathBuf};

/// One of a table's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// `<name>_DATA.SNAP`: the snapshot.
    Snapshot,
    /// `<name>_DATA_PREV.SNAP`: a snapshot being written.
    NewSnapshot,
    /// `<name>_PREV.LOG`: the log being folded.
    PrevLog,
    /// `<name>_LATEST.LOG`: the log.
    Log,
}

impl FileKind {
    pub const ALL: [FileKind; 4] = [
        FileKind::Snapshot,
        FileKind::NewSnapshot,
        FileKind::PrevLog,
        FileKind::Log,
    ];

    pub fn suffix(self) -> &'static str {
        match self {
            FileKind::Snapshot => "_DATA.SNAP",
            FileKind::NewSnapshot => "_DATA_PREV.SNAP",
            FileKind::PrevLog => "_PREV.LOG",
            FileKind::Log => "_LATEST.LOG",
        }
    }

    pub fn is_snapshot(self) -> bool {
        matches!(self, FileKind::Snapshot | FileKind::NewSnapshot)
    }

    /// `<name><suffix>`.
    pub fn file_name(self, table: &str) -> String {
        format!("{table}{}", self.suffix())
    }
}

/// Where a table's files live.
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub name: String,
}

impl Paths {
    pub fn new(dir: impl Into<PathBuf>, name: impl Into<String>) -> Paths {
        Paths {
            dir: dir.into(),
            name: name.into(),
        }
    }

    pub fn of(&self, kind: FileKind) -> PathBuf {
        self.dir.join(kind.file_name(&self.name))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Which files exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present {
    pub snapshot: bool,
    pub new_snapshot: bool,
    pub prev_log: bool,
    pub log: bool,
}

impl Present {
    pub fn has(&self, kind: FileKind) -> bool {
        match kind {
            FileKind::Snapshot => self.snapshot,
            FileKind::NewSnapshot => self.new_snapshot,
            FileKind::PrevLog => self.prev_log,
            FileKind::Log => self.log,
        }
    }
}

/// How to tidy the directory after a load, before the first write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Nothing,
    /// A fold stopped after step 1 or 2: write the table as of the end of
    /// `PREV.LOG` to `DATA_PREV.SNAP`, then steps 3 and 4.
    CompleteFold,
    /// A fold stopped after step 3: step 4.
    Promote,
}

/// What a load reads, in order, and what it leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    pub read: Vec<FileKind>,
    pub ignore: Vec<FileKind>,
    pub finish: Finish,
}

/// The files a load reads for the files `present`.
pub fn plan(present: Present) -> LoadPlan {
    let mut read = Vec::new();
    let mut ignore = Vec::new();
    let finish = if present.prev_log {
        read.extend([FileKind::Snapshot, FileKind::PrevLog]);
        ignore.push(FileKind::NewSnapshot);
        Finish::CompleteFold
    } else if present.new_snapshot {
        read.push(FileKind::NewSnapshot);
        ignore.push(FileKind::Snapshot);
        Finish::Promote
    } else {
        read.push(FileKind::Snapshot);
        Finish::Nothing
    };
    read.push(FileKind::Log);
    read.retain(|k| present.has(*k));
    ignore.retain(|k| present.has(*k));
    LoadPlan {
        read,
        ignore,
        finish,
    }
}

/// The steps of a fold, in order (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldStep {
    RotateLog,
    WriteSnapshot,
    RemovePrevLog,
    PromoteSnapshot,
}

impl FoldStep {
    pub const ORDER: [FoldStep; 4] = [
        FoldStep::RotateLog,
        FoldStep::WriteSnapshot,
        FoldStep::RemovePrevLog,
        FoldStep::PromoteSnapshot,
    ];
}
