//! The file side of a durable table: loading a directory (with the rules of
//! [`super::files`]), tidying it after a crash, writing a snapshot, and the
//! fold's file steps. Blocking `std::fs` calls, run by the table's own
//! threads.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use flate2::{Compression, GzBuilder};

use super::codec::{encode_snapshot_line, snapshot_order, Codec};
use super::error::TableError;
use super::files::{plan, FileKind, Finish, Paths, Present};
use super::mtable::{MTable, Snapshot};
use super::replay::{replay, FileReport};

/// What loading a directory found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// One report per file read, in reading order.
    pub files: Vec<FileReport>,
    /// Files present but not read (a partial snapshot next to `PREV.LOG`,
    /// or an old snapshot next to a newer complete one).
    pub ignored: Vec<String>,
    /// A fold interrupted by a crash was completed (or its snapshot
    /// promoted) before the table took writes.
    pub completed_fold: bool,
    /// Bytes of a torn last log line cut off before appending.
    pub truncated_log_bytes: u64,
}

impl LoadReport {
    /// Lines (and torn tails) not applied, over all files.
    pub fn skipped(&self) -> u64 {
        self.files.iter().map(FileReport::skipped).sum()
    }

    pub fn applied(&self) -> u64 {
        self.files.iter().map(|f| f.applied).sum()
    }
}

/// A loaded directory, ready to append to.
pub(crate) struct Loaded {
    pub table: MTable,
    pub report: LoadReport,
    pub log: File,
}

fn exists(path: &Path) -> Result<bool, TableError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(TableError::io("stat", path, e)),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), TableError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TableError::io("fsync directory", dir, e))
}

/// A snapshot file's reader: gzip is recognised by its magic bytes, so a
/// snapshot is read whatever the `compress` option says (the original dies
/// on a gzip snapshot read without `compress`).
fn snapshot_reader(path: &Path) -> Result<Box<dyn Read + Send>, TableError> {
    let mut file = File::open(path).map_err(|e| TableError::io("open", path, e))?;
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(TableError::io("read", path, e)),
        }
    }
    let head = std::io::Cursor::new(magic[..got].to_vec());
    let stream = head.chain(file);
    if got == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(MultiGzDecoder::new(stream)))
    } else {
        Ok(Box::new(stream))
    }
}

/// Reads the table in `paths`, tidies the directory and opens the log for
/// appending.
pub(crate) fn load(paths: &Paths, codec: &dyn Codec, compress: bool) -> Result<Loaded, TableError> {
    std::fs::create_dir_all(paths.dir())
        .map_err(|e| TableError::io("create directory", paths.dir(), e))?;
    let present = Present {
        snapshot: exists(&paths.of(FileKind::Snapshot))?,
        new_snapshot: exists(&paths.of(FileKind::NewSnapshot))?,
        prev_log: exists(&paths.of(FileKind::PrevLog))?,
        log: exists(&paths.of(FileKind::Log))?,
    };
    let plan = plan(present);
    let mut report = LoadReport {
        ignored: plan
            .ignore
            .iter()
            .map(|k| k.file_name(&paths.name))
            .collect(),
        ..LoadReport::default()
    };
    for name in &report.ignored {
        tracing::warn!(file = %name, "table file left over by an interrupted fold ignored");
    }
    let mut table = MTable::new();
    let mut after_prev: Option<Snapshot> = None;
    let mut log_report: Option<FileReport> = None;
    for kind in &plan.read {
        let path = paths.of(*kind);
        let name = kind.file_name(&paths.name);
        let input: Box<dyn Read + Send> = if kind.is_snapshot() {
            snapshot_reader(&path)?
        } else {
            Box::new(File::open(&path).map_err(|e| TableError::io("open", &path, e))?)
        };
        let file_report = replay(input, *kind, &name, codec, &mut table);
        if *kind == FileKind::PrevLog {
            after_prev = Some(table.snapshot());
        }
        if *kind == FileKind::Log {
            log_report = Some(file_report.clone());
        }
        report.files.push(file_report);
    }
    match plan.finish {
        Finish::Nothing => {}
        Finish::CompleteFold => {
            let snapshot = after_prev.unwrap_or_default();
            finish_fold(paths, &snapshot, codec, compress)?;
            report.completed_fold = true;
            tracing::info!(table = %paths.name, "fold interrupted by a crash completed");
        }
        Finish::Promote => {
            promote(paths)?;
            report.completed_fold = true;
            tracing::info!(table = %paths.name, "snapshot of an interrupted fold promoted");
        }
    }
    let log_path = paths.of(FileKind::Log);
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| TableError::io("open", &log_path, e))?;
    if let Some(r) = log_report {
        if r.torn_tail > 0 {
            // The next line must not be glued to the torn one.
            log.set_len(r.valid_len)
                .and_then(|()| log.sync_data())
                .map_err(|e| TableError::io("truncate", &log_path, e))?;
            report.truncated_log_bytes = r.torn_tail;
        } else if r.unterminated {
            log.write_all(b"\n")
                .and_then(|()| log.sync_data())
                .map_err(|e| TableError::io("write", &log_path, e))?;
        }
    }
    if !present.log {
        sync_dir(paths.dir())?;
    }
    Ok(Loaded { table, report, log })
}

/// Writes `snapshot` to `path` (gzip if `compress`) and fsyncs it.
pub(crate) fn write_snapshot(
    path: &Path,
    snapshot: &Snapshot,
    codec: &dyn Codec,
    compress: bool,
) -> Result<(), TableError> {
    let io = |e| TableError::io("write snapshot", path, e);
    let file = File::create(path).map_err(io)?;
    let out = BufWriter::with_capacity(1 << 16, file);
    let file = if compress {
        // Node's zlib.createGzip header: no name, mtime 0, OS unix.
        let mut gz = GzBuilder::new()
            .operating_system(3)
            .write(out, Compression::default());
        write_lines(&mut gz, snapshot, codec).map_err(io)?;
        gz.finish()
            .map_err(io)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?
    } else {
        let mut out = out;
        write_lines(&mut out, snapshot, codec).map_err(io)?;
        out.into_inner().map_err(|e| io(e.into_error()))?
    };
    file.sync_data().map_err(io)
}

fn write_lines(
    out: &mut impl Write,
    snapshot: &Snapshot,
    codec: &dyn Codec,
) -> std::io::Result<()> {
    let mut line = String::with_capacity(256);
    for (name, value) in snapshot_order(snapshot) {
        line.clear();
        encode_snapshot_line(codec, &name, value, &mut line);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Fold step 1: the log so far becomes `PREV.LOG`; a new empty log is
/// returned. The old log must be fsynced by the caller first.
pub(crate) fn rotate_log(paths: &Paths) -> Result<File, TableError> {
    let log = paths.of(FileKind::Log);
    let prev = paths.of(FileKind::PrevLog);
    std::fs::rename(&log, &prev).map_err(|e| TableError::io("rename", &log, e))?;
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| TableError::io("create", &log, e))?;
    sync_dir(paths.dir())?;
    Ok(file)
}

/// Fold steps 2 to 4, given the table as of the end of `PREV.LOG`.
pub(crate) fn finish_fold(
    paths: &Paths,
    snapshot: &Snapshot,
    codec: &dyn Codec,
    compress: bool,
) -> Result<(), TableError> {
    write_snapshot(&paths.of(FileKind::NewSnapshot), snapshot, codec, compress)?;
    let prev = paths.of(FileKind::PrevLog);
    match std::fs::remove_file(&prev) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(TableError::io("remove", &prev, e)),
    }
    sync_dir(paths.dir())?;
    promote(paths)
}

/// Fold step 4.
fn promote(paths: &Paths) -> Result<(), TableError> {
    let new = paths.of(FileKind::NewSnapshot);
    std::fs::rename(&new, paths.of(FileKind::Snapshot))
        .map_err(|e| TableError::io("rename", &new, e))?;
    sync_dir(paths.dir())
}
