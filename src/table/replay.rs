//! Reading a table file into a table, line by line, without ever failing on
//! its content: the original dies on a blank line, a torn line or a line
//! without `args` (an uncaught exception in its line handler); here such
//! lines are skipped, counted in a [`FileReport`] and logged, and a torn
//! last line is reported so the log can be cut back to its last complete
//! line before anything is appended.

use std::io::Read;

use super::codec::{decode_log_line, decode_snapshot_line, Codec, LineError};
use super::files::FileKind;
use super::mtable::MTable;

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

/// Applies every line of `input` (a file of kind `kind`) to `table`.
pub fn replay(
    input: impl Read,
    kind: FileKind,
    name: &str,
    codec: &dyn Codec,
    table: &mut MTable,
) -> FileReport {
    let mut report = FileReport {
        file: name.to_owned(),
        ..FileReport::default()
    };
    let mut input = input;
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut consumed: u64 = 0;
    let mut line_no: u64 = 0;
    loop {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = match read_some(&mut input, &mut buf[start..]) {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(start);
                report.read_error = Some(e.to_string());
                tracing::warn!(file = name, error = %e, "table file read cut short; lines after this point are not applied");
                break;
            }
        };
        buf.truncate(start + n);
        if n == 0 {
            break;
        }
        let mut pos = 0;
        while let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) {
            line_no += 1;
            apply_line(
                &buf[pos..pos + nl],
                kind,
                codec,
                table,
                &mut report,
                line_no,
            );
            pos += nl + 1;
        }
        consumed += pos as u64;
        buf.drain(..pos);
    }
    report.valid_len = consumed;
    if !buf.is_empty() {
        line_no += 1;
        let parsed = match kind {
            FileKind::Log | FileKind::PrevLog => decode_log_line(codec, &buf),
            FileKind::Snapshot | FileKind::NewSnapshot => decode_snapshot_line(codec, &buf),
        };
        match parsed {
            Err(LineError::NotJson(e)) => {
                report.torn_tail = buf.len() as u64;
                tracing::warn!(file = name, line = line_no, bytes = buf.len(), error = %e, "torn last line skipped");
            }
            _ => {
                // A whole line that only lacks its "\n" (the original reads
                // it too).
                report.unterminated = true;
                report.valid_len += buf.len() as u64;
                apply_line(&buf, kind, codec, table, &mut report, line_no);
            }
        }
    }
    report
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn apply_line(
    line: &[u8],
    kind: FileKind,
    codec: &dyn Codec,
    table: &mut MTable,
    report: &mut FileReport,
    line_no: u64,
) {
    if line.iter().all(u8::is_ascii_whitespace) {
        report.blank += 1;
        tracing::debug!(file = %report.file, line = line_no, "blank line skipped");
        return;
    }
    let op = match kind {
        FileKind::Log | FileKind::PrevLog => decode_log_line(codec, line),
        FileKind::Snapshot | FileKind::NewSnapshot => decode_snapshot_line(codec, line),
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
