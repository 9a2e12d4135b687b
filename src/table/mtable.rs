//! The in-memory table: a JavaScript `Map` (insertion order, SameValueZero
//! keys) with the original MTable's commands and their quirks that programs
//! see: set and hash commands treat a falsy value as a missing key (and
//! replace or delete it), removing the last member of a set or hash deletes
//! the key, deleting a missing key is still a write.
//!
//! The entries live in chunks of [`CHUNK`] slots behind `Arc`s, the values
//! behind `Arc`s too, so a durable table takes a snapshot of the whole
//! table by copying one pointer per chunk, and writes it while writes go
//! on: a write after the snapshot copies the chunk it touches (a thousand
//! pointers) and the value it changes, once.

use std::collections::HashMap;
use std::sync::Arc;

use super::error::TableError;
use super::key::Key;
use super::value::{MapValue, SetValue, Value};

/// A write command, as the log records it.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Set(Key, Value),
    Sset(Key, Key),
    Hset(Key, Key, Value),
    Del(Key),
    Sdel(Key, Key),
    Hdel(Key, Key),
    Clear,
}

impl Op {
    /// The command's name in the log and in errors.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Set(..) => "set",
            Op::Sset(..) => "sset",
            Op::Hset(..) => "hset",
            Op::Del(..) => "del",
            Op::Sdel(..) => "sdel",
            Op::Hdel(..) => "hdel",
            Op::Clear => "clear",
        }
    }
}

/// One table entry's slot; `None` once deleted (compacted away later, so a
/// delete keeps the order of the rest without shifting it).
type Slot = Option<(Key, Arc<Value>)>;

/// Slots per chunk.
pub const CHUNK: usize = 1024;

type Chunk = Vec<Slot>;

/// An in-memory table (the original's `MTable`).
#[derive(Clone, Debug, Default)]
pub struct MTable {
    /// Key → slot number (chunk × CHUNK + offset).
    index: HashMap<Key, usize>,
    chunks: Vec<Arc<Chunk>>,
    /// Slots in use, deleted ones included.
    slots: usize,
}

/// The table's entries as of one instant, sharing chunks and values with
/// the table.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    chunks: Vec<Arc<Chunk>>,
    len: usize,
}

impl Snapshot {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .flatten()
            .map(|(k, v)| (k, &**v))
    }
}

fn invalid(command: &'static str, key: &Key, found: &Value) -> TableError {
    TableError::InvalidType {
        command,
        key: key.js_string(),
        found: found.type_of(),
    }
}

impl MTable {
    pub fn new() -> MTable {
        MTable::default()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn slot(&self, i: usize) -> &Slot {
        &self.chunks[i / CHUNK][i % CHUNK]
    }

    /// A slot for changing (its chunk copied first if a snapshot shares it).
    fn slot_mut(&mut self, i: usize) -> &mut Slot {
        &mut Arc::make_mut(&mut self.chunks[i / CHUNK])[i % CHUNK]
    }

    fn push(&mut self, slot: Slot) {
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Arc::new(Vec::with_capacity(CHUNK)));
        }
        if let Some(last) = self.chunks.last_mut() {
            Arc::make_mut(last).push(slot);
        }
        self.slots += 1;
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.index
            .get(key)
            .and_then(|&i| self.slot(i).as_ref())
            .map(|(_, v)| &**v)
    }

    pub(crate) fn get_shared(&self, key: &Key) -> Option<Arc<Value>> {
        self.index
            .get(key)
            .and_then(|&i| self.slot(i).as_ref())
            .map(|(_, v)| v.clone())
    }

    /// Entries in insertion order (`forEachSync`).
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.chunks
            .iter()
            .flat_map(|c| c.iter())
            .flatten()
            .map(|(k, v)| (k, &**v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.iter().map(|(k, _)| k)
    }

    /// The table as of now: one pointer copied per chunk.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            chunks: self.chunks.clone(),
            len: self.len(),
        }
    }

    pub fn set(&mut self, key: impl Into<Key>, value: impl Into<Value>) {
        self.put(key.into(), value.into());
    }

    fn put(&mut self, key: Key, value: Value) {
        match self.index.get(&key) {
            Some(&i) => {
                if let Some((_, v)) = self.slot_mut(i) {
                    // Overwrite in place unless a snapshot shares the value.
                    match Arc::get_mut(v) {
                        Some(inner) => *inner = value,
                        None => *v = Arc::new(value),
                    }
                }
            }
            None => {
                self.index.insert(key.clone(), self.slots);
                self.push(Some((key, Arc::new(value))));
            }
        }
    }

    /// Removes `key`; whether it was there.
    pub fn del(&mut self, key: &Key) -> bool {
        let Some(i) = self.index.remove(key) else {
            return false;
        };
        *self.slot_mut(i) = None;
        self.compact_if_sparse();
        true
    }

    pub fn clear(&mut self) {
        self.index.clear();
        self.chunks.clear();
        self.slots = 0;
    }

    /// Drops deleted slots once they outnumber live ones, so iteration and
    /// memory stay proportional to the live entries (amortised O(1)).
    fn compact_if_sparse(&mut self) {
        let dead = self.slots - self.index.len();
        if dead < 32 || dead < self.index.len() {
            return;
        }
        let live: Vec<Slot> = self
            .chunks
            .iter()
            .flat_map(|c| c.iter())
            .filter(|s| s.is_some())
            .cloned()
            .collect();
        self.chunks.clear();
        self.slots = 0;
        for slot in live {
            if let Some((k, _)) = &slot {
                if let Some(pos) = self.index.get_mut(k) {
                    *pos = self.slots;
                }
            }
            self.push(slot);
        }
    }

    /// The value under `key` if it is a set, `None` if the key is missing
    /// or holds a falsy value, an error for any other kind.
    fn set_at(&self, command: &'static str, key: &Key) -> Result<Option<&SetValue>, TableError> {
        match self.get(key) {
            Some(Value::Set(s)) => Ok(Some(s)),
            Some(v) if v.is_truthy() => Err(invalid(command, key, v)),
            _ => Ok(None),
        }
    }

    fn map_at(&self, command: &'static str, key: &Key) -> Result<Option<&MapValue>, TableError> {
        match self.get(key) {
            Some(Value::Map(m)) => Ok(Some(m)),
            Some(v) if v.is_truthy() => Err(invalid(command, key, v)),
            _ => Ok(None),
        }
    }

    /// The set or map under `key` for changing in place (copied first if a
    /// snapshot still shares it).
    fn value_mut(&mut self, key: &Key) -> Option<&mut Value> {
        let i = *self.index.get(key)?;
        self.slot_mut(i).as_mut().map(|(_, v)| Arc::make_mut(v))
    }

    pub fn smember(&self, key: &Key, member: &Key) -> Result<bool, TableError> {
        Ok(self
            .set_at("smember", key)?
            .is_some_and(|s| s.contains(member)))
    }

    pub fn sset(&mut self, key: Key, member: Key) -> Result<(), TableError> {
        if self.set_at("sset", &key)?.is_some() {
            if let Some(Value::Set(s)) = self.value_mut(&key) {
                s.insert(member);
            }
        } else {
            let mut s = SetValue::default();
            s.insert(member);
            self.put(key, Value::Set(s));
        }
        Ok(())
    }

    pub fn sdel(&mut self, key: &Key, member: &Key) -> Result<(), TableError> {
        let emptied = match self.set_at("sdel", key)? {
            None => true,
            Some(s) if !s.contains(member) => s.is_empty(),
            Some(_) => match self.value_mut(key) {
                Some(Value::Set(s)) => {
                    s.shift_remove(member);
                    s.is_empty()
                }
                _ => false,
            },
        };
        if emptied {
            self.del(key);
        }
        Ok(())
    }

    /// The value under hash key `field` of `key`. Unlike the original (whose
    /// `hget` on another kind dies with a `TypeError` from a misspelt
    /// constructor), another kind is the usual `INVALID_TYPE` error.
    pub fn hget(&self, key: &Key, field: &Key) -> Result<Option<&Value>, TableError> {
        Ok(self.map_at("hget", key)?.and_then(|m| m.get(field)))
    }

    pub fn hset(&mut self, key: Key, field: Key, value: Value) -> Result<(), TableError> {
        if self.map_at("hset", &key)?.is_some() {
            if let Some(Value::Map(m)) = self.value_mut(&key) {
                m.insert(field, value);
            }
        } else {
            let mut m = MapValue::default();
            m.insert(field, value);
            self.put(key, Value::Map(m));
        }
        Ok(())
    }

    pub fn hdel(&mut self, key: &Key, field: &Key) -> Result<(), TableError> {
        let emptied = match self.map_at("hdel", key)? {
            None => true,
            Some(m) if !m.contains_key(field) => m.is_empty(),
            Some(_) => match self.value_mut(key) {
                Some(Value::Map(m)) => {
                    m.shift_remove(field);
                    m.is_empty()
                }
                _ => false,
            },
        };
        if emptied {
            self.del(key);
        }
        Ok(())
    }

    /// Whether `op` would succeed, without applying it.
    pub fn check(&self, op: &Op) -> Result<(), TableError> {
        match op {
            Op::Sset(k, _) => self.set_at("sset", k).map(drop),
            Op::Sdel(k, _) => self.set_at("sdel", k).map(drop),
            Op::Hset(k, _, _) => self.map_at("hset", k).map(drop),
            Op::Hdel(k, _) => self.map_at("hdel", k).map(drop),
            Op::Set(..) | Op::Del(_) | Op::Clear => Ok(()),
        }
    }

    /// Applies a write command; on error nothing changed.
    pub fn apply(&mut self, op: Op) -> Result<(), TableError> {
        match op {
            Op::Set(k, v) => self.put(k, v),
            Op::Sset(k, m) => self.sset(k, m)?,
            Op::Hset(k, f, v) => self.hset(k, f, v)?,
            Op::Del(k) => {
                self.del(&k);
            }
            Op::Sdel(k, m) => self.sdel(&k, &m)?,
            Op::Hdel(k, f) => self.hdel(&k, &f)?,
            Op::Clear => self.clear(),
        }
        Ok(())
    }
}
