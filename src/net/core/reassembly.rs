//! Streamed bodies being put back together, per connection (PROTOCOL §1):
//! every chunk is a frame of its own carrying the stream's id, the last one
//! says `done`. What one connection holds is bounded in bytes, and a stream
//! not finished in time is dropped; a caller waiting on a dropped stream is
//! answered with an error rather than left to its timeout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Answer, Dropped, Origin};
use crate::net::error::error_value;
use crate::net::payload::Payload;
use crate::wire::{buffer, js_json};

/// A streamed body being received.
#[derive(Debug)]
struct Partial<R> {
    target: String,
    from: Origin<R>,
    body: Vec<u8>,
    started: Instant,
}

/// What a chunk did.
#[derive(Debug, PartialEq)]
pub(crate) enum Chunk<R> {
    /// The stream goes on.
    Waiting,
    /// The stream ended: its whole body (or the error it ended with).
    Done {
        target: String,
        from: Origin<R>,
        result: Result<Payload, Value>,
    },
    /// The chunk would pass the connection's byte limit: the stream is
    /// dropped, and its caller, if any, is owed `answer`.
    TooLarge {
        dropped: Dropped,
        answer: Option<Answer<R>>,
    },
}

/// One frame of a streamed body.
#[derive(Debug)]
pub(crate) struct Piece<'a, R> {
    /// The stream's id.
    pub(crate) id: String,
    pub(crate) target: String,
    pub(crate) from: Origin<R>,
    /// What the frame adds to the body (see [`chunk_bytes`]).
    pub(crate) bytes: &'a [u8],
    /// The stream's last frame.
    pub(crate) done: bool,
    /// The error the stream ends with instead of its body.
    pub(crate) error: Option<Value>,
}

/// The streamed bodies partly received, per target, over every connection
/// of a kernel: what a server's `idle()` asks about. The rules here only
/// count into it; they never read it.
#[derive(Debug, Default)]
pub(crate) struct StreamGauge(Mutex<HashMap<String, usize>>);

impl StreamGauge {
    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        // One map operation per critical section.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self, target: &str) {
        *self.counts().entry(target.to_owned()).or_default() += 1;
    }

    fn close(&self, target: &str) {
        let mut counts = self.counts();
        if let Some(n) = counts.get_mut(target) {
            *n -= 1;
            if *n == 0 {
                counts.remove(target);
            }
        }
    }

    /// Streams to `target` partly received now.
    pub(crate) fn count(&self, target: &str) -> usize {
        self.counts().get(target).copied().unwrap_or(0)
    }
}

/// The streams of one connection. `R` is the way back to a sender (see
/// [`Origin`]).
#[derive(Debug)]
pub(crate) struct Reassembly<R> {
    partials: HashMap<String, Partial<R>>,
    /// Bytes held by all of `partials`.
    bytes: usize,
    limit: usize,
    timeout: Duration,
    gauge: Option<Arc<StreamGauge>>,
}

impl<R> Reassembly<R> {
    /// Streams of at most `limit` bytes in all, each finished within
    /// `timeout`.
    pub(crate) fn new(limit: usize, timeout: Duration) -> Self {
        Reassembly {
            partials: HashMap::new(),
            bytes: 0,
            limit,
            timeout,
            gauge: None,
        }
    }

    /// Counts the streams begun and ended into `gauge` too.
    pub(crate) fn counting(mut self, gauge: Arc<StreamGauge>) -> Self {
        self.gauge = Some(gauge);
        self
    }

    /// Adds a frame of a stream; the first one of a stream starts it at
    /// `now`.
    pub(crate) fn add(&mut self, piece: Piece<'_, R>, now: Instant) -> Chunk<R> {
        let Piece {
            id,
            target,
            from,
            bytes,
            done,
            error,
        } = piece;
        if self.bytes + bytes.len() > self.limit {
            let dropped = Dropped::new(
                "STREAM_TOO_LARGE",
                format!("stream {id} for {target} exceeds {} bytes", self.limit),
            );
            let answer = self
                .remove(&id)
                .and_then(|p| owed(p.from, "Stream exceeds the receiver's limit."));
            return Chunk::TooLarge { dropped, answer };
        }
        let (target, from, body) = match self.partials.get_mut(&id) {
            Some(p) => {
                p.body.extend_from_slice(bytes);
                self.bytes += bytes.len();
                if !done {
                    return Chunk::Waiting;
                }
                match self.remove(&id) {
                    Some(p) => (p.target, p.from, p.body),
                    None => return Chunk::Waiting,
                }
            }
            // A stream of one chunk.
            None if done => (target, from, bytes.to_vec()),
            None => {
                if let Some(gauge) = &self.gauge {
                    gauge.open(&target);
                }
                let started = Partial {
                    target,
                    from,
                    body: bytes.to_vec(),
                    started: now,
                };
                self.bytes += bytes.len();
                self.partials.insert(id, started);
                return Chunk::Waiting;
            }
        };
        Chunk::Done {
            target,
            from,
            result: match error {
                Some(error) => Err(error),
                None => Ok(Payload::Bytes(body.into())),
            },
        }
    }

    /// Drops the streams not finished by `now`: each is counted, and a
    /// caller waiting on one is owed an error answer.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<(Dropped, Option<Answer<R>>)> {
        let timeout = self.timeout;
        let expired: Vec<String> = self
            .partials
            .iter()
            .filter(|(_, p)| now.saturating_duration_since(p.started) > timeout)
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::new();
        for id in expired {
            if let Some(p) = self.remove(&id) {
                let dropped = Dropped::new(
                    "STREAM_TIMEOUT",
                    format!("stream {id} for {} did not finish in {timeout:?}", p.target),
                );
                out.push((dropped, owed(p.from, "Stream timed out.")));
            }
        }
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.partials.is_empty()
    }

    /// Drops every stream (the connection ended): how many there were.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.partials.len();
        if let Some(gauge) = &self.gauge {
            for p in self.partials.values() {
                gauge.close(&p.target);
            }
        }
        self.partials.clear();
        self.bytes = 0;
        n
    }

    fn remove(&mut self, id: &str) -> Option<Partial<R>> {
        let p = self.partials.remove(id)?;
        self.bytes -= p.body.len();
        if let Some(gauge) = &self.gauge {
            gauge.close(&p.target);
        }
        Some(p)
    }
}

/// The error answer a dropped stream's caller is owed (none for a cast).
fn owed<R>(from: Origin<R>, message: &str) -> Option<Answer<R>> {
    from.tag
        .is_some()
        .then(|| (from, error_value(message, &[])))
}

/// A chunk's payload as JSON text could not be read.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// Not checked to be one JSON value: the frame is to be decoded again,
    /// checked (see `wire::Incoming::data_checked`).
    Unchecked,
    /// Not JSON.
    Malformed(Dropped),
}

/// The bytes a stream chunk contributes: a Buffer's bytes, a string's UTF-8,
/// any other value's JSON text; nothing for `null` (or no payload).
pub(crate) fn chunk_bytes(text: Option<&str>, checked: bool) -> Result<Vec<u8>, Unreadable> {
    let value = match text.map_or(Ok(Value::Null), serde_json::from_str) {
        Ok(v) => v,
        Err(_) if !checked => return Err(Unreadable::Unchecked),
        Err(e) => {
            return Err(Unreadable::Malformed(Dropped::new(
                "MALFORMED_JSON",
                e.to_string(),
            )))
        }
    };
    Ok(match value {
        Value::Null => Vec::new(),
        Value::String(s) => s.into_bytes(),
        other => {
            buffer::from_value(&other).unwrap_or_else(|| js_json::to_string(&other).into_bytes())
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::wire::Sender;

    fn from(tag: Option<&str>) -> Origin<()> {
        Origin {
            node: Sender {
                id: "a".into(),
                host: Some("h".into()),
                port: Some(1),
            },
            tag: tag.map(str::to_owned),
            way: (),
        }
    }

    const T: Duration = Duration::from_secs(30);

    fn piece<'a>(id: &str, tag: Option<&str>, bytes: &'a [u8], done: bool) -> Piece<'a, ()> {
        Piece {
            id: id.into(),
            target: "srv".into(),
            from: from(tag),
            bytes,
            done,
            error: None,
        }
    }

    #[test]
    fn bytes_are_counted_across_streams_and_freed_when_one_ends() {
        let now = Instant::now();
        let mut r = Reassembly::new(6, T);
        let add = |r: &mut Reassembly<()>, id: &str, bytes: &[u8], done| {
            r.add(piece(id, None, bytes, done), now)
        };
        assert_eq!(add(&mut r, "s1", b"abc", false), Chunk::Waiting);
        assert_eq!(add(&mut r, "s2", b"123", false), Chunk::Waiting);
        // Six bytes held: one more is too many, for either stream.
        assert!(matches!(
            add(&mut r, "s2", b"4", false),
            Chunk::TooLarge { answer: None, .. }
        ));
        assert_eq!(r.partials.len(), 1, "the stream past the limit is dropped");
        let done = add(&mut r, "s1", b"def", true);
        assert_eq!(
            done,
            Chunk::Done {
                target: "srv".into(),
                from: from(None),
                result: Ok(Payload::Bytes("abcdef".into())),
            }
        );
        assert!(r.is_empty());
        assert_eq!(r.bytes, 0);
    }

    #[test]
    fn a_stream_is_late_only_past_its_timeout_and_its_caller_is_owed_an_answer() {
        let start = Instant::now();
        let mut r = Reassembly::new(100, T);
        r.add(piece("s1", Some("t"), b"ab", false), start);
        r.add(piece("s2", None, b"cd", false), start + T);
        assert!(r.expire(start + T).is_empty());
        let late = r.expire(start + T + Duration::from_millis(1));
        assert_eq!(late.len(), 1);
        let (dropped, answer) = &late[0];
        assert_eq!(dropped.code, "STREAM_TIMEOUT");
        let (to, error) = answer.as_ref().unwrap();
        assert_eq!(to.tag.as_deref(), Some("t"));
        assert_eq!(error["message"], "Stream timed out.");
        assert_eq!(r.clear(), 1, "the younger stream is still there");
    }

    #[test]
    fn the_gauge_counts_streams_partly_received_per_target() {
        let now = Instant::now();
        let gauge = Arc::new(StreamGauge::default());
        let mut a = Reassembly::new(100, T).counting(gauge.clone());
        let mut b = Reassembly::new(4, T).counting(gauge.clone());
        a.add(piece("s1", None, b"ab", false), now);
        a.add(piece("s2", None, b"ab", false), now);
        b.add(piece("s3", None, b"ab", false), now);
        a.add(piece("one", None, b"ab", true), now);
        assert_eq!(
            gauge.count("srv"),
            3,
            "a stream of one chunk is never partial"
        );
        a.add(piece("s1", None, b"cd", true), now);
        assert_eq!(gauge.count("srv"), 2, "ended");
        b.add(piece("s3", None, b"too long", false), now);
        assert_eq!(gauge.count("srv"), 1, "dropped past the limit");
        b.add(piece("s4", None, b"ab", false), now);
        assert_eq!(b.expire(now + T + Duration::from_millis(1)).len(), 1);
        assert_eq!(gauge.count("srv"), 1, "expired");
        assert_eq!(a.clear(), 1);
        assert_eq!(gauge.count("srv"), 0, "the connection ended");
        assert!(gauge.counts().is_empty(), "no entry kept for a target at 0");
    }

    #[test]
    fn a_stream_ending_in_an_error_gives_the_error() {
        let now = Instant::now();
        let mut r = Reassembly::new(100, T);
        r.add(piece("s", Some("t"), b"ab", false), now);
        let error = json!({"message": "gave up", "_error": true});
        let end = r.add(
            Piece {
                error: Some(error.clone()),
                ..piece("s", Some("t"), b"", true)
            },
            now,
        );
        assert!(matches!(end, Chunk::Done { result: Err(e), .. } if e == error));
    }

    #[test]
    fn chunks_contribute_buffers_strings_and_json_text() {
        let bytes = |text: &str| chunk_bytes(Some(text), true).ok();
        assert_eq!(
            bytes(r#"{"type":"Buffer","data":[104,105]}"#),
            Some(b"hi".to_vec())
        );
        assert_eq!(bytes(r#""hé""#), Some("hé".as_bytes().to_vec()));
        assert_eq!(bytes(r#"{"a":[1,2]}"#), Some(br#"{"a":[1,2]}"#.to_vec()));
        assert_eq!(chunk_bytes(None, true).ok(), Some(vec![]));
        assert!(matches!(
            chunk_bytes(Some("{"), false),
            Err(Unreadable::Unchecked)
        ));
        assert!(
            matches!(chunk_bytes(Some("{"), true), Err(Unreadable::Malformed(d)) if d.code == "MALFORMED_JSON")
        );
    }
}
