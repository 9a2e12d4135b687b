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
/// Lines handed from the parsing thread to the applying one at a time.
const BATCH: usize = 2048;

/// One line, parsed.
enum Parsed {
    Blank,
    Line(Result<Op, LineError>),
}

/// What the parsing thread found besides lines.
#[derive(Default)]
struct Tail {
    valid_len: u64,
    torn: Option<(u64, String)>,
    unterminated: bool,
    read_error: Option<String>,
}

/// Applies every line of `input` (a file of kind `kind`) to `table`. The
/// lines are read and parsed on a second thread while this one applies
/// them, so a load takes about the longer of the two, not their sum.
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
    let tail = std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Parsed>>(8);
        let parser = scope.spawn(move || parse_lines(input, kind, codec, tx));
        let mut line_no = 0u64;
        for batch in rx {
            for parsed in batch {
                line_no += 1;
                apply(parsed, table, &mut report, line_no);
            }
        }
        parser.join().unwrap_or_else(|_| Tail {
            read_error: Some("the parsing thread panicked".into()),
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

fn parse_lines(
    mut input: impl Read,
    kind: FileKind,
    codec: &dyn Codec,
    tx: std::sync::mpsc::SyncSender<Vec<Parsed>>,
) -> Tail {
    let mut tail = Tail::default();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut batch = Vec::with_capacity(BATCH);
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
            batch.push(parse(kind, codec, &buf[pos..pos + nl]));
            if batch.len() == BATCH
                && tx
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_err()
            {
                return tail;
            }
            pos += nl + 1;
        }
        tail.valid_len += pos as u64;
        buf.drain(..pos);
    }
    if !buf.is_empty() {
        match parse(kind, codec, &buf) {
            Parsed::Line(Err(LineError::NotJson(e))) => tail.torn = Some((buf.len() as u64, e)),
            parsed => {
                // A whole line that only lacks its "\n" (the original reads
                // it too).
                tail.unterminated = true;
                tail.valid_len += buf.len() as u64;
                batch.push(parsed);
            }
        }
    }
    let _ = tx.send(batch);
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
