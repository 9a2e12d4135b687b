//! Reading a table file into a table, line by line, without ever failing on
//! its content: the original dies on a blank line, a torn line or a line
//! without `args` (an uncaught exception in its line handler); here such
//! lines are skipped, counted in a [`FileReport`] and logged, and a torn
//! last line is reported so the log can be cut back to its last complete
//! line before anything is appended.

use std::io::Read;

use super::codec::{decode_log_line, decode_snapshot_line, Codec, LineError};
use super::files::FileKind;
use super::mtable::{MTable, Op};

/// What one file's lines came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// The file's name.
    pub file: String,
    pub applied: u64,
    /// Empty lines (the original dies on them).
    pub blank: u64,
    /// Lines that are not JSON, or JSON of the wrong shape (logged).
    pub malformed: u64,
    /// Log lines with an op the table does not know, or none (the original
    /// skips them too).
    pub unknown_op: u64,
    /// Log lines whose op fails on this table, e.g. `sset` on a string (the
    /// original skips them too).
    pub failed: u64,
    /// Bytes after the last `\n` that are not a whole line (a write cut
    /// short by a crash); not applied.
    pub torn_tail: u64,
    /// The last line is whole but has no `\n` (applied; one is added before
    /// the next write).
    pub unterminated: bool,
    /// Bytes of complete content (everything but a torn tail).
    pub valid_len: u64,
    /// The file could not be read to its end (an I/O error, or a gzip
    /// stream cut short): the lines before that point were applied.
    pub read_error: Option<String>,
}

impl FileReport {
    /// Lines or bytes that were not applied.
    pub fn skipped(&self) -> u64 {
        self.blank + self.malformed + self.unknown_op + self.failed + u64::from(self.torn_tail > 0)
    }
}

const CHUNK: usize = 1 << 20;
/// Lines parsed (and applied) as one unit.
const BATCH: usize = 2048;

/// One line, parsed.
enum Parsed {
    Blank,
    Line(Result<Op, LineError>),
}

/// Lines as read: their bytes, and where each ends.
struct RawBatch {
    seq: u64,
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// What the reading thread found besides lines.
#[derive(Default)]
struct Tail {
    valid_len: u64,
    torn: Option<(u64, String)>,
    unterminated: bool,
    read_error: Option<String>,
}

/// Applies every line of `input` (a file of kind `kind`) to `table`. A
/// thread reads and cuts the lines, parser threads (one per core, at most
/// four) parse batches of them, and this thread applies the batches in
/// order: a load takes about as long as its parsing spread over the cores.
pub fn replay(
    input: impl Read + Send,
    kind: FileKind,
    name: &str,
    codec: &dyn Codec,
    table: &mut MTable,
) -> FileReport {
    let mut report = FileReport {
        file: name.to_owned(),
        ..FileReport::default()
    };
    let parsers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<RawBatch>(2 * parsers);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, Vec<Parsed>)>();
    let tail = std::thread::scope(|scope| {
        for _ in 0..parsers {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || loop {
                let next = work_rx.lock().map(|rx| rx.recv());
                let Ok(Ok(raw)) = next else { break };
                let mut start = 0;
                let parsed = raw
                    .ends
                    .iter()
                    .map(|&end| {
                        let line = parse(kind, codec, &raw.bytes[start..end]);
                        start = end;
                        line
                    })
                    .collect();
                if done_tx.send((raw.seq, parsed)).is_err() {
                    break;
                }
            });
        }
        let reader = scope.spawn(move || read_lines(input, kind, codec, work_tx, done_tx));
        // Batches come back in any order; apply them in the file's.
        let mut waiting: std::collections::BTreeMap<u64, Vec<Parsed>> = Default::default();
        let mut next_seq = 0u64;
        let mut line_no = 0u64;
        for (seq, batch) in done_rx {
            waiting.insert(seq, batch);
            while let Some(batch) = waiting.remove(&next_seq) {
                next_seq += 1;
                for parsed in batch {
                    line_no += 1;
                    apply(parsed, table, &mut report, line_no);
                }
            }
        }
        reader.join().unwrap_or_else(|_| Tail {
            read_error: Some("the reading thread panicked".into()),
            ..Tail::default()
        })
    });
    report.valid_len = tail.valid_len;
    report.unterminated = tail.unterminated;
    if let Some(e) = tail.read_error {
        tracing::warn!(file = name, error = %e, "table file read cut short; lines after this point are not applied");
        report.read_error = Some(e);
    }
    if let Some((bytes, e)) = tail.torn {
        report.torn_tail = bytes;
        tracing::warn!(file = name, bytes, error = %e, "torn last line skipped");
    }
    report
}

fn parse(kind: FileKind, codec: &dyn Codec, line: &[u8]) -> Parsed {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Parsed::Blank;
    }
    Parsed::Line(match kind {
        FileKind::Log | FileKind::PrevLog => decode_log_line(codec, line),
        FileKind::Snapshot | FileKind::NewSnapshot => decode_snapshot_line(codec, line),
    })
}

/// Reads `input`, cuts it into batches of whole lines for the parsers, and
/// judges the last piece (a torn line, or a whole one without its "\n")
/// itself, sending it parsed as the last batch.
fn read_lines(
    mut input: impl Read,
    kind: FileKind,
    codec: &dyn Codec,
    work: std::sync::mpsc::SyncSender<RawBatch>,
    done: std::sync::mpsc::Sender<(u64, Vec<Parsed>)>,
) -> Tail {
    let mut tail = Tail::default();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut seq = 0u64;
    let new_batch = |seq: u64| RawBatch {
        seq,
        bytes: Vec::with_capacity(BATCH * 128),
        ends: Vec::with_capacity(BATCH),
    };
    let mut batch = new_batch(seq);
    loop {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = match read_some(&mut input, &mut buf[start..]) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(start);
                tail.read_error = Some(e.to_string());
                break;
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            break;
        }
        let mut pos = 0;
        while let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) {
            batch.bytes.extend_from_slice(&buf[pos..pos + nl]);
            batch.ends.push(batch.bytes.len());
            pos += nl + 1;
            if batch.ends.len() == BATCH {
                seq += 1;
                if work
                    .send(std::mem::replace(&mut batch, new_batch(seq)))
                    .is_err()
                {
                    return tail;
                }
            }
        }
        tail.valid_len += pos as u64;
        buf.drain(..pos);
    }
    if !batch.ends.is_empty() {
        seq += 1;
        if work.send(batch).is_err() {
            return tail;
        }
    }
    drop(work);
    let mut last = Vec::new();
    if !buf.is_empty() {
        match parse(kind, codec, &buf) {
            Parsed::Line(Err(LineError::NotJson(e))) => tail.torn = Some((buf.len() as u64, e)),
            parsed => {
                // A whole line that only lacks its "\n" (the original reads
                // it too).
                tail.unterminated = true;
                tail.valid_len += buf.len() as u64;
                last.push(parsed);
            }
        }
    }
    let _ = done.send((seq, last));
    tail
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn apply(parsed: Parsed, table: &mut MTable, report: &mut FileReport, line_no: u64) {
    let op = match parsed {
        Parsed::Blank => {
            report.blank += 1;
            tracing::debug!(file = %report.file, line = line_no, "blank line skipped");
            return;
        }
        Parsed::Line(op) => op,
    };
    match op {
        Ok(op) => match table.apply(op) {
            Ok(()) => report.applied += 1,
            Err(e) => {
                report.failed += 1;
                tracing::debug!(file = %report.file, line = line_no, error = %e, "log line skipped: its op fails");
            }
        },
        Err(LineError::UnknownOp(op)) => {
            report.unknown_op += 1;
            tracing::debug!(file = %report.file, line = line_no, op, "log line with an unknown op skipped");
        }
        Err(LineError::NotJson(e) | LineError::Malformed(e)) => {
            report.malformed += 1;
            tracing::warn!(file = %report.file, line = line_no, error = %e, "malformed line skipped");
        }
    }
}
