//! Vector clocks with wall-clock stamps, rule-for-rule the original's.
//!
//! Each actor maps to `{count, insert, time}`: a counter, when the actor was
//! first seen and when it last changed (µs since the Unix epoch). Entries are
//! kept in the order a JavaScript object would list them, so the JSON text
//! is byte-identical to the original's.

mod time;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use time::now_micros;

use crate::{js_order, Error};

/// Largest integer a JavaScript number holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One actor's state in a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockEntry {
    pub count: u64,
    /// When the actor entered the clock (µs since the epoch).
    pub insert: u64,
    /// When the actor last changed (µs since the epoch).
    pub time: u64,
}

/// When and how far [`VectorClock::trim`] cuts (all times in µs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrimOptions {
    /// Trim only clocks with more entries than this.
    pub lower_bound: usize,
    /// Trim only when the oldest entry is older than this.
    pub young_bound: u64,
    /// Remove oldest entries while more than this many remain…
    pub upper_bound: usize,
    /// …or while the oldest is older than this.
    pub old_bound: u64,
}

impl Default for TrimOptions {
    /// The reference defaults: 10 entries, 20 s, 50 entries, 1 day.
    fn default() -> Self {
        TrimOptions {
            lower_bound: 10,
            young_bound: 20_000_000,
            upper_bound: 50,
            old_bound: 86_400_000_000,
        }
    }
}

/// A vector clock: actor id -> [`ClockEntry`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VectorClock {
    entries: IndexMap<String, ClockEntry>,
}

impl VectorClock {
    /// An empty clock.
    pub fn new() -> Self {
        VectorClock::default()
    }

    /// A clock holding one actor at `count`, stamped now.
    pub fn with_actor(id: &str, count: u64) -> Self {
        let now = now_micros();
        let mut c = VectorClock::new();
        c.put(
            id,
            ClockEntry {
                count,
                insert: now,
                time: now,
            },
        );
        c
    }

    /// Adds `id` with count 0, stamped now; an existing actor is left alone.
    pub fn insert(&mut self, id: &str) -> &mut Self {
        if !self.entries.contains_key(id) {
            let now = now_micros();
            self.put(
                id,
                ClockEntry {
                    count: 0,
                    insert: now,
                    time: now,
                },
            );
        }
        self
    }

    /// Sets `id`'s count and time (`None`: now). A new actor's insert time is
    /// now.
    pub fn update(&mut self, id: &str, count: u64, time: Option<u64>) -> &mut Self {
        let now = now_micros();
        let time = time.unwrap_or(now);
        match self.entries.get_mut(id) {
            Some(e) => {
                e.count = count;
                e.time = time;
            }
            None => self.put(
                id,
                ClockEntry {
                    count,
                    insert: now,
                    time,
                },
            ),
        }
        self
    }

    /// Removes `id`.
    pub fn remove(&mut self, id: &str) -> &mut Self {
        self.entries.shift_remove(id);
        self
    }

    /// Adds one to `id`'s count (inserting it at 0 first) and stamps it now.
    pub fn increment(&mut self, id: &str) -> &mut Self {
        let now = now_micros();
        match self.entries.get_mut(id) {
            Some(e) => {
                e.count += 1;
                e.time = now;
            }
            None => self.put(
                id,
                ClockEntry {
                    count: 1,
                    insert: now,
                    time: now,
                },
            ),
        }
        self
    }

    /// `n` increments of `id` made one after another, the first stamped
    /// `first` and the last `last` (µs since the epoch): what [`increment`]
    /// `n` times would have left, for a caller that counts increments and
    /// applies them later (the Node door, which keeps the clock's hot path
    /// in JavaScript). An actor's time never goes back, and no later
    /// [`now_micros`] reads earlier than `last`.
    ///
    /// [`increment`]: Self::increment
    pub fn increment_many(&mut self, id: &str, n: u64, first: u64, last: u64) -> &mut Self {
        if n == 0 {
            return self;
        }
        time::observe(last);
        match self.entries.get_mut(id) {
            Some(e) => {
                e.count = e.count.saturating_add(n);
                e.time = e.time.max(last);
            }
            None => self.put(
                id,
                ClockEntry {
                    count: n,
                    insert: first,
                    time: last.max(first),
                },
            ),
        }
        self
    }

    pub fn get(&self, id: &str) -> Option<&ClockEntry> {
        self.entries.get(id)
    }

    pub fn count(&self, id: &str) -> Option<u64> {
        self.get(id).map(|e| e.count)
    }

    pub fn insert_time(&self, id: &str) -> Option<u64> {
        self.get(id).map(|e| e.insert)
    }

    pub fn timestamp(&self, id: &str) -> Option<u64> {
        self.get(id).map(|e| e.time)
    }

    pub fn has(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// Number of actors.
    pub fn size(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Actor ids, in JSON order.
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// `(actor, entry)` pairs, in JSON order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &ClockEntry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The largest `insert` time of any actor (0 for an empty clock): the
    /// gossip protocol's last-writer-wins tie-breaker.
    pub fn max_insert(&self) -> u64 {
        self.entries.values().map(|e| e.insert).max().unwrap_or(0)
    }

    /// Merges `other` into this clock: per actor the larger count wins; on
    /// equal counts the later `time` wins (ties keep this clock's entry).
    pub fn merge(&mut self, other: &VectorClock) -> &mut Self {
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return self;
        }
        for (id, theirs) in &other.entries {
            match self.entries.get_mut(id) {
                Some(mine) => {
                    if mine.count < theirs.count
                        || (mine.count == theirs.count && theirs.time > mine.time)
                    {
                        *mine = *theirs;
                    }
                }
                None => self.put(id, *theirs),
            }
        }
        self
    }

    /// Whether this clock has seen everything `other` has: `other` is empty,
    /// or this clock is non-empty and holds every actor of `other` with a
    /// count at least as large.
    pub fn descends(&self, other: &VectorClock) -> bool {
        if other.is_empty() {
            return true;
        }
        if self.is_empty() {
            return false;
        }
        other.entries.iter().all(|(id, theirs)| {
            self.entries
                .get(id)
                .is_some_and(|mine| mine.count >= theirs.count)
        })
    }

    /// Same actors with the same count, insert and time (order ignored).
    pub fn equals(&self, other: &VectorClock) -> bool {
        self.size() == other.size()
            && self
                .entries
                .iter()
                .all(|(id, mine)| other.entries.get(id) == Some(mine))
    }

    /// Drops old entries, as the original does on every gossip poll: nothing
    /// happens with at most `lower_bound` entries or while the oldest entry
    /// is at most `young_bound` old (relative to `threshold`); otherwise,
    /// oldest first, entries go while more than `upper_bound` remain or the
    /// entry is older than `old_bound`.
    pub fn trim(&mut self, threshold: u64, opts: &TrimOptions) -> &mut Self {
        if self.entries.len() <= opts.lower_bound {
            return self;
        }
        let age = |e: &ClockEntry| threshold as i128 - e.time as i128;
        // Oldest first; equal times keep insertion order (a stable sort, like
        // V8's).
        let mut order: Vec<(u64, usize)> = self
            .entries
            .values()
            .enumerate()
            .map(|(i, e)| (e.time, i))
            .collect();
        order.sort();
        let Some(&(_, oldest)) = order.first() else {
            return self;
        };
        if age(&self.entries[oldest]) <= opts.young_bound as i128 {
            return self;
        }
        let mut remaining = order.len();
        let mut doomed = vec![false; remaining];
        for &(_, i) in &order {
            if remaining > opts.upper_bound || age(&self.entries[i]) > opts.old_bound as i128 {
                doomed[i] = true;
                remaining -= 1;
            } else {
                break;
            }
        }
        let mut i = 0;
        self.entries.retain(|_, _| {
            let keep = !doomed[i];
            i += 1;
            keep
        });
        self
    }

    /// The clock as a JSON object `{actor: {count, insert, time}}`.
    pub fn to_value(&self) -> Value {
        let map: Map<String, Value> = self
            .entries
            .iter()
            .map(|(k, e)| {
                let v = serde_json::json!({"count": e.count, "insert": e.insert, "time": e.time});
                (k.clone(), v)
            })
            .collect();
        Value::Object(map)
    }

    /// The clock as JSON text, byte-identical to the original's.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Reads a clock from its JSON form. Every entry must hold a count, a
    /// non-negative integer (at most 2^53 - 1, what a JavaScript peer can
    /// represent), and at least one of `insert` and `time`, such integers
    /// too: the original accepted an entry without one of them, and the
    /// missing one is read as the other.
    pub fn from_value(v: &Value) -> Result<VectorClock, Error> {
        let obj = v.as_object().ok_or_else(|| {
            Error::MalformedClock("expected an object {actor: {count, insert, time}}".into())
        })?;
        let mut clock = VectorClock::new();
        for (id, entry) in obj {
            let field = |name: &str| -> Result<Option<u64>, Error> {
                let Some(v) = entry.get(name) else {
                    return Ok(None);
                };
                v.as_u64()
                    .filter(|n| *n <= MAX_SAFE_INTEGER)
                    .map(Some)
                    .ok_or_else(|| {
                        Error::MalformedClock(format!(
                            "{id:?}.{name} must be a non-negative integer below 2^53"
                        ))
                    })
            };
            if !entry.is_object() {
                return Err(Error::MalformedClock(format!(
                    "{id:?} must be an object {{count, insert, time}}"
                )));
            }
            let count = field("count")?
                .ok_or_else(|| Error::MalformedClock(format!("{id:?}.count is missing")))?;
            let (insert, time) = match (field("insert")?, field("time")?) {
                (Some(i), Some(t)) => (i, t),
                (Some(i), None) => (i, i),
                (None, Some(t)) => (t, t),
                (None, None) => {
                    return Err(Error::MalformedClock(format!(
                        "{id:?} needs an insert or a time"
                    )))
                }
            };
            let e = ClockEntry {
                count,
                insert,
                time,
            };
            clock.put(id, e);
        }
        Ok(clock)
    }

    /// Parses the JSON text of a clock.
    pub fn from_json(text: &str) -> Result<VectorClock, Error> {
        VectorClock::from_value(&serde_json::from_str::<Value>(text)?)
    }

    /// The original's `VectorClock.validJSON`: is this a plain object?
    pub fn valid_json(v: &Value) -> bool {
        v.is_object()
    }

    /// Adds or replaces an entry, placing a new actor where a JavaScript
    /// object would.
    fn put(&mut self, id: &str, e: ClockEntry) {
        if let Some(slot) = self.entries.get_mut(id) {
            *slot = e;
            return;
        }
        match js_order::insert_position(self.entries.keys().map(String::as_str), id) {
            Some(at) => {
                self.entries.shift_insert(at, id.to_owned(), e);
            }
            None => {
                self.entries.insert(id.to_owned(), e);
            }
        }
    }
}

#[cfg(test)]
mod tests;
