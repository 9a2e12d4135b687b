//! The lock server (`DLMServer`) as a state machine: read locks (any number
//! of holders) and write locks (one holder) on string ids, each holder's
//! lease ending `timeout` ms after its grant unless released. The answers,
//! table writes and lease rules are the original's (locks.json), so it
//! serves a cluster together with original servers:
//!
//! * `rlock`: refused on a write lock; a holder that already reads is
//!   answered ok without a new lease or table write; else granted,
//!   `hset(id, holder, {start, timeout})`.
//! * `wlock`: refused on any lock (even the holder's own); else granted,
//!   `set(id, {holder, start, timeout})`.
//! * `runlock`/`wunlock`: ok and `hdel`/`del` when the holder held it,
//!   `{ok:false}` otherwise. A lease that ends writes the same.
//!
//! Opt-in ([`DlmOptions::fencing`]): each grant carries a fencing token,
//! `{"ok":true,"token":N}` (original clients read `ok` only), also kept in
//! the table entry. Tokens of one server only grow — also across restarts:
//! a token is above every token in the table and at least
//! `now_ms × 1024`, so a server restarted on an empty table still goes on
//! above what it handed out, unless its clock went back.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Map, Number, Value as Json};

use super::effects::{delay, Effects, Reply, Timer, TimerId};
use super::job::{parse, ErrorReply, Fields, Positive, Server};
use crate::table::{Key, MTable, Op, Value};

/// Lock server settings beyond the original's.
#[derive(Debug, Clone)]
pub struct DlmOptions {
    /// Answer each grant with a fencing token (off: the original's replies).
    pub fencing: bool,
    /// Locks this server holds at most; a grant beyond is refused with an
    /// error reply (peers cannot grow the table without bound).
    pub max_locks: usize,
}

impl Default for DlmOptions {
    fn default() -> Self {
        DlmOptions {
            fencing: false,
            max_locks: 1 << 20,
        }
    }
}

#[derive(Debug, Clone)]
struct Grant {
    start: u64,
    timeout: Positive,
    timer: TimerId,
    token: Option<u64>,
}

#[derive(Debug, Clone)]
enum Lock {
    Read(IndexMap<String, Grant>),
    /// `holder` is `None` for a table entry without one (it expires).
    Write {
        holder: Option<String>,
        grant: Grant,
    },
}

/// A lock as a driver or test sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockView {
    Read { id: String, holders: Vec<String> },
    Write { id: String, holder: Option<String> },
}

/// The lock server's state.
#[derive(Debug, Clone, Default)]
pub struct DlmServer {
    opts: DlmOptions,
    locks: IndexMap<String, Lock>,
    /// Live timers: lock id and holder (`None`: a write lock's).
    timers: HashMap<TimerId, (String, Option<String>)>,
    next_timer: TimerId,
    last_token: u64,
}

/// The smallest token handed out at `now_ms`.
fn token_floor(now_ms: u64) -> u64 {
    now_ms.saturating_mul(1024)
}

impl DlmServer {
    pub fn new(opts: DlmOptions) -> DlmServer {
        DlmServer {
            opts,
            ..DlmServer::default()
        }
    }

    /// The locks held, in the order they were taken.
    pub fn locks(&self) -> Vec<LockView> {
        self.locks
            .iter()
            .map(|(id, l)| match l {
                Lock::Read(h) => LockView::Read {
                    id: id.clone(),
                    holders: h.keys().cloned().collect(),
                },
                Lock::Write { holder, .. } => LockView::Write {
                    id: id.clone(),
                    holder: holder.clone(),
                },
            })
            .collect()
    }

    /// Handles a job (`event` with its `data`) received at `now_ms`
    /// (milliseconds since the epoch, as the table's `start` has them).
    pub fn handle(&mut self, event: &str, job: &Json, now_ms: u64) -> Effects {
        let fields = match parse(Server::Dlm, event, job) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(event, error = %e.message, "malformed lock job answered with an error");
                return Effects::reply(Reply::Error(e));
            }
        };
        match event {
            "rlock" => self.rlock(fields, now_ms),
            "wlock" => self.wlock(fields, now_ms),
            "runlock" => self.runlock(&fields),
            _ => self.wunlock(&fields),
        }
    }

    fn full(&self, id: &str) -> Option<Effects> {
        (self.locks.len() >= self.opts.max_locks && !self.locks.contains_key(id)).then(|| {
            Effects::reply(Reply::Error(ErrorReply::new(format!(
                "Too many locks on this server (max_locks {}).",
                self.opts.max_locks
            ))))
        })
    }

    fn grant(
        &mut self,
        id: &str,
        holder: Option<&str>,
        timeout: Positive,
        now_ms: u64,
    ) -> (Grant, Timer) {
        self.next_timer += 1;
        let timer = self.next_timer;
        self.timers
            .insert(timer, (id.to_owned(), holder.map(str::to_owned)));
        let token = self.opts.fencing.then(|| {
            self.last_token = (self.last_token + 1).max(token_floor(now_ms));
            self.last_token
        });
        let after = delay(timeout.value);
        let grant = Grant {
            start: now_ms,
            timeout,
            timer,
            token,
        };
        (grant, Timer::Start { id: timer, after })
    }

    fn granted(token: Option<u64>) -> Reply {
        Reply::Ok {
            ok: true,
            token,
            data: None,
        }
    }

    fn rlock(&mut self, f: Fields, now_ms: u64) -> Effects {
        match self.locks.get(&f.id) {
            Some(Lock::Write { .. }) => return Effects::reply(Reply::ok(false)),
            Some(Lock::Read(holders)) => {
                if let Some(g) = holders.get(&f.holder) {
                    return Effects::reply(Self::granted(g.token));
                }
            }
            None => {
                if let Some(e) = self.full(&f.id) {
                    return e;
                }
            }
        }
        let timeout = f.number.clone().unwrap_or_else(|| Positive {
            value: 0.0,
            json: Number::from(0),
        });
        let (grant, timer) = self.grant(&f.id, Some(&f.holder), timeout, now_ms);
        let entry = grant_value(None, &grant);
        let token = grant.token;
        match self
            .locks
            .entry(f.id.clone())
            .or_insert_with(|| Lock::Read(IndexMap::new()))
        {
            Lock::Read(holders) => {
                holders.insert(f.holder.clone(), grant);
            }
            Lock::Write { .. } => unreachable!("checked above"),
        }
        Effects {
            reply: Some(Self::granted(token)),
            table: vec![Op::Hset(Key::from(f.id), Key::from(f.holder), entry)],
            timers: vec![timer],
        }
    }

    fn wlock(&mut self, f: Fields, now_ms: u64) -> Effects {
        if self.locks.contains_key(&f.id) {
            return Effects::reply(Reply::ok(false));
        }
        if let Some(e) = self.full(&f.id) {
            return e;
        }
        let timeout = f.number.clone().unwrap_or_else(|| Positive {
            value: 0.0,
            json: Number::from(0),
        });
        let (grant, timer) = self.grant(&f.id, None, timeout, now_ms);
        let entry = grant_value(Some(&f.holder), &grant);
        let token = grant.token;
        self.locks.insert(
            f.id.clone(),
            Lock::Write {
                holder: Some(f.holder),
                grant,
            },
        );
        Effects {
            reply: Some(Self::granted(token)),
            table: vec![Op::Set(Key::from(f.id), entry)],
            timers: vec![timer],
        }
    }

    fn runlock(&mut self, f: &Fields) -> Effects {
        let Some(Lock::Read(holders)) = self.locks.get_mut(&f.id) else {
            return Effects::reply(Reply::ok(false));
        };
        let Some(grant) = holders.shift_remove(&f.holder) else {
            return Effects::reply(Reply::ok(false));
        };
        if holders.is_empty() {
            self.locks.shift_remove(&f.id);
        }
        self.timers.remove(&grant.timer);
        Effects {
            reply: Some(Reply::ok(true)),
            table: vec![Op::Hdel(
                Key::from(f.id.as_str()),
                Key::from(f.holder.as_str()),
            )],
            timers: vec![Timer::Cancel(grant.timer)],
        }
    }

    fn wunlock(&mut self, f: &Fields) -> Effects {
        match self.locks.get(&f.id) {
            Some(Lock::Write {
                holder: Some(h),
                grant,
            }) if *h == f.holder => {
                let timer = grant.timer;
                self.locks.shift_remove(&f.id);
                self.timers.remove(&timer);
                Effects {
                    reply: Some(Reply::ok(true)),
                    table: vec![Op::Del(Key::from(f.id.as_str()))],
                    timers: vec![Timer::Cancel(timer)],
                }
            }
            _ => Effects::reply(Reply::ok(false)),
        }
    }

    /// A lease ended: the lock or holder it covered is released (if it
    /// still is the one the timer was started for).
    pub fn on_timer(&mut self, timer: TimerId) -> Effects {
        let Some((id, holder)) = self.timers.remove(&timer) else {
            return Effects::default();
        };
        let op = match (self.locks.get_mut(&id), holder) {
            (Some(Lock::Read(holders)), Some(h))
                if holders.get(&h).is_some_and(|g| g.timer == timer) =>
            {
                holders.shift_remove(&h);
                if holders.is_empty() {
                    self.locks.shift_remove(&id);
                }
                Op::Hdel(Key::from(id), Key::from(h))
            }
            (Some(Lock::Write { grant, .. }), None) if grant.timer == timer => {
                self.locks.shift_remove(&id);
                Op::Del(Key::from(id))
            }
            _ => return Effects::default(),
        };
        Effects {
            reply: None,
            table: vec![op],
            timers: Vec::new(),
        }
    }

    /// Rebuilds the locks from a loaded table, each lease re-armed for what
    /// is left of it: `max(0, timeout + start - now)`. Entries that are not
    /// valid grants expire at once (as in the original, whose timer for
    /// them gets `NaN`).
    pub fn load(&mut self, table: &MTable, now_ms: u64) -> Vec<Timer> {
        let mut timers = Vec::new();
        for (key, value) in table.iter() {
            let Some(id) = key.as_str() else {
                tracing::warn!(key = %key, "lock table entry with a non-string key ignored");
                continue;
            };
            match value {
                Value::Map(holders) => {
                    let mut lock = IndexMap::new();
                    for (h, v) in holders {
                        let Some(holder) = h.as_str() else { continue };
                        let (grant, timer) = self.restore(id, Some(holder), v.as_json(), now_ms);
                        lock.insert(holder.to_owned(), grant);
                        timers.push(timer);
                    }
                    if !lock.is_empty() {
                        self.locks.insert(id.to_owned(), Lock::Read(lock));
                    }
                }
                other => {
                    let holder = other
                        .as_json()
                        .and_then(|j| j.get("holder"))
                        .and_then(Json::as_str)
                        .map(str::to_owned);
                    let (grant, timer) = self.restore(id, None, other.as_json(), now_ms);
                    self.locks
                        .insert(id.to_owned(), Lock::Write { holder, grant });
                    timers.push(timer);
                }
            }
        }
        timers
    }

    fn restore(
        &mut self,
        id: &str,
        holder: Option<&str>,
        entry: Option<&Json>,
        now_ms: u64,
    ) -> (Grant, Timer) {
        let num = |k: &str| entry.and_then(|e| e.get(k)).and_then(Json::as_f64);
        let remaining = match (num("start"), num("timeout")) {
            (Some(start), Some(timeout)) => (timeout + start - now_ms as f64).max(0.0),
            _ => 0.0,
        };
        let token = entry.and_then(|e| e.get("token")).and_then(Json::as_u64);
        if let Some(t) = token {
            self.last_token = self.last_token.max(t);
        }
        self.next_timer += 1;
        let timer = self.next_timer;
        self.timers
            .insert(timer, (id.to_owned(), holder.map(str::to_owned)));
        let timeout = entry
            .and_then(|e| e.get("timeout"))
            .and_then(|t| t.as_number().cloned())
            .unwrap_or_else(|| Number::from(0));
        let grant = Grant {
            start: num("start").map(|s| s as u64).unwrap_or(now_ms),
            timeout: Positive {
                value: timeout.as_f64().unwrap_or(0.0),
                json: timeout,
            },
            timer,
            token,
        };
        (
            grant,
            Timer::Start {
                id: timer,
                after: delay(remaining),
            },
        )
    }

    /// Stops the server: every lease cancelled and the table cleared (the
    /// original's `stop()` logs a `clear`, so a cleanly stopped server
    /// reloads empty).
    pub fn stop(&mut self) -> Effects {
        let timers = self.timers.drain().map(|(t, _)| Timer::Cancel(t)).collect();
        self.locks.clear();
        Effects {
            reply: None,
            table: vec![Op::Clear],
            timers,
        }
    }
}

/// The table entry of a grant: `{start, timeout}` for a reader,
/// `{holder, start, timeout}` for a writer, and `token` with fencing.
fn grant_value(holder: Option<&str>, g: &Grant) -> Value {
    let mut m = Map::new();
    if let Some(h) = holder {
        m.insert("holder".into(), Json::String(h.to_owned()));
    }
    m.insert("start".into(), Json::from(g.start));
    m.insert("timeout".into(), Json::Number(g.timeout.json.clone()));
    if let Some(t) = g.token {
        m.insert("token".into(), Json::from(t));
    }
    Value::Json(Json::Object(m))
}
