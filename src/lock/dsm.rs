//! The semaphore server (`DSMServer`) as a state machine: named semaphores
//! of `n` slots, each holder's slot leased for `timeout` ms. Answers,
//! error texts and table writes are the original's (locks.json):
//!
//! * `create {id, n}`: ok; an existing id with another `n` is the error
//!   `Semaphore '<id>' already exist with n equal to <n>.`; table
//!   `set("SEMAPHORES::<id>", n)`.
//! * `read {id}`: `{ok:true, data:{n, active}}`.
//! * `destroy {id}`: ok, missing or not; table `del("SEMAPHORES::<id>")`
//!   only — the holders entry stays, so a reload brings the semaphore back
//!   with `n = 0` (kept: the files are the original's).
//! * `post {id, holder, timeout}`: ok for a holder already in; `{ok:false}`
//!   when full; else ok and `hset("SEMAPHORE_HOLDERS::<id>", holder,
//!   {start, timeout})`.
//! * `close {id, holder}`: ok and `hdel(…)` for a holder, `{ok:false}`
//!   otherwise.
//! * `read`, `post`, `close` of a missing id: `Semaphore '<id>' does not
//!   exist.`
//!
//! One fix: the original refuses a post only when the holders number
//! exactly `n`, so a semaphore with more holders than slots (`n` = 0 after
//! the reload above, or a fractional `n`) takes every post; here a post is
//! refused when the holders number `n` or more.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{json, Map, Number, Value as Json};

use super::effects::{delay, Effects, Reply, Timer, TimerId};
use super::job::{parse, ErrorReply, Fields, Positive, Server};
use crate::table::{Key, MTable, Op, Value};

pub const SEMAPHORE_PREFIX: &str = "SEMAPHORES::";
pub const HOLDERS_PREFIX: &str = "SEMAPHORE_HOLDERS::";

/// Semaphore server settings beyond the original's.
#[derive(Debug, Clone)]
pub struct DsmOptions {
    /// Semaphores this server holds at most; a `create` beyond is refused
    /// with an error reply.
    pub max_semaphores: usize,
}

impl Default for DsmOptions {
    fn default() -> Self {
        DsmOptions {
            max_semaphores: 1 << 20,
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    timer: TimerId,
}

#[derive(Debug, Clone)]
struct Semaphore {
    n: Positive,
    holders: IndexMap<String, Slot>,
}

/// A semaphore as a driver or test sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SemaphoreView {
    pub id: String,
    pub n: f64,
    pub holders: Vec<String>,
}

/// The semaphore server's state.
#[derive(Debug, Clone, Default)]
pub struct DsmServer {
    opts: DsmOptions,
    sems: IndexMap<String, Semaphore>,
    timers: HashMap<TimerId, (String, String)>,
    next_timer: TimerId,
}

fn missing(id: &str) -> Effects {
    Effects::reply(Reply::Error(ErrorReply::new(format!(
        "Semaphore '{id}' does not exist."
    ))))
}

/// `util.format("%i", n)`: `parseInt` of the number's text.
fn format_int(n: &Positive) -> String {
    let mut text = String::new();
    crate::wire::js_json::write_f64(&mut text, n.value);
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    text[..end].to_owned()
}

impl DsmServer {
    pub fn new(opts: DsmOptions) -> DsmServer {
        DsmServer {
            opts,
            ..DsmServer::default()
        }
    }

    pub fn semaphores(&self) -> Vec<SemaphoreView> {
        self.sems
            .iter()
            .map(|(id, s)| SemaphoreView {
                id: id.clone(),
                n: s.n.value,
                holders: s.holders.keys().cloned().collect(),
            })
            .collect()
    }

    /// Handles a job received at `now_ms` (milliseconds since the epoch).
    pub fn handle(&mut self, event: &str, job: &Json, now_ms: u64) -> Effects {
        let f = match parse(Server::Dsm, event, job) {
            Ok(f) => f,
            Err(e) => {
                tracing::debug!(event, error = %e.message, "malformed semaphore job answered with an error");
                return Effects::reply(Reply::Error(e));
            }
        };
        match event {
            "create" => self.create(f),
            "read" => self.read(&f.id),
            "destroy" => self.destroy(&f.id),
            "post" => self.post(f, now_ms),
            _ => self.close(&f),
        }
    }

    fn create(&mut self, f: Fields) -> Effects {
        let Some(n) = f.number else {
            return missing(&f.id);
        };
        if let Some(s) = self.sems.get(&f.id) {
            if s.n.value != n.value {
                let text = format!(
                    "Semaphore '{}' already exist with n equal to {}.",
                    f.id,
                    format_int(&s.n)
                );
                return Effects::reply(Reply::Error(ErrorReply::new(text)));
            }
            return Effects::reply(Reply::ok(true));
        }
        if self.sems.len() >= self.opts.max_semaphores {
            let text = format!(
                "Too many semaphores on this server (max_semaphores {}).",
                self.opts.max_semaphores
            );
            return Effects::reply(Reply::Error(ErrorReply::new(text)));
        }
        let entry = Value::Json(Json::Number(n.json.clone()));
        self.sems.insert(
            f.id.clone(),
            Semaphore {
                n,
                holders: IndexMap::new(),
            },
        );
        Effects {
            reply: Some(Reply::ok(true)),
            table: vec![Op::Set(
                Key::from(format!("{SEMAPHORE_PREFIX}{}", f.id)),
                entry,
            )],
            timers: Vec::new(),
        }
    }

    fn read(&self, id: &str) -> Effects {
        let Some(s) = self.sems.get(id) else {
            return missing(id);
        };
        Effects::reply(Reply::Ok {
            ok: true,
            token: None,
            data: Some(json!({"n": Json::Number(s.n.json.clone()), "active": s.holders.len()})),
        })
    }

    fn destroy(&mut self, id: &str) -> Effects {
        let Some(s) = self.sems.shift_remove(id) else {
            return Effects::reply(Reply::ok(true));
        };
        let timers = s
            .holders
            .values()
            .map(|slot| {
                self.timers.remove(&slot.timer);
                Timer::Cancel(slot.timer)
            })
            .collect();
        Effects {
            reply: Some(Reply::ok(true)),
            table: vec![Op::Del(Key::from(format!("{SEMAPHORE_PREFIX}{id}")))],
            timers,
        }
    }

    fn post(&mut self, f: Fields, now_ms: u64) -> Effects {
        let Some(s) = self.sems.get_mut(&f.id) else {
            return missing(&f.id);
        };
        if s.holders.contains_key(&f.holder) {
            return Effects::reply(Reply::ok(true));
        }
        if s.holders.len() as f64 >= s.n.value {
            return Effects::reply(Reply::ok(false));
        }
        let timeout = f.number.unwrap_or(Positive {
            value: 0.0,
            json: Number::from(0),
        });
        self.next_timer += 1;
        let timer = self.next_timer;
        s.holders.insert(f.holder.clone(), Slot { timer });
        self.timers.insert(timer, (f.id.clone(), f.holder.clone()));
        let mut entry = Map::new();
        entry.insert("start".into(), Json::from(now_ms));
        entry.insert("timeout".into(), Json::Number(timeout.json.clone()));
        Effects {
            reply: Some(Reply::ok(true)),
            table: vec![Op::Hset(
                Key::from(format!("{HOLDERS_PREFIX}{}", f.id)),
                Key::from(f.holder),
                Value::Json(Json::Object(entry)),
            )],
            timers: vec![Timer::Start {
                id: timer,
                after: delay(timeout.value),
            }],
        }
    }

    fn close(&mut self, f: &Fields) -> Effects {
        let Some(s) = self.sems.get_mut(&f.id) else {
            return missing(&f.id);
        };
        let Some(slot) = s.holders.shift_remove(&f.holder) else {
            return Effects::reply(Reply::ok(false));
        };
        self.timers.remove(&slot.timer);
        Effects {
            reply: Some(Reply::ok(true)),
            table: vec![Op::Hdel(
                Key::from(format!("{HOLDERS_PREFIX}{}", f.id)),
                Key::from(f.holder.as_str()),
            )],
            timers: vec![Timer::Cancel(slot.timer)],
        }
    }

    /// A slot's lease ended.
    pub fn on_timer(&mut self, timer: TimerId) -> Effects {
        let Some((id, holder)) = self.timers.remove(&timer) else {
            return Effects::default();
        };
        let Some(s) = self.sems.get_mut(&id) else {
            return Effects::default();
        };
        if s.holders
            .get(&holder)
            .is_none_or(|slot| slot.timer != timer)
        {
            return Effects::default();
        }
        s.holders.shift_remove(&holder);
        Effects {
            reply: None,
            table: vec![Op::Hdel(
                Key::from(format!("{HOLDERS_PREFIX}{id}")),
                Key::from(holder),
            )],
            timers: Vec::new(),
        }
    }

    /// Rebuilds the semaphores from a loaded table; leases re-armed for
    /// what is left of them. A holders entry without its semaphore brings
    /// the semaphore back with `n = 0`, as in the original.
    pub fn load(&mut self, table: &MTable, now_ms: u64) -> Vec<Timer> {
        let mut timers = Vec::new();
        let zero = || Positive {
            value: 0.0,
            json: Number::from(0),
        };
        for (key, value) in table.iter() {
            let Some(key) = key.as_str() else { continue };
            match value {
                Value::Json(Json::Number(n)) => {
                    let Some(id) = key.strip_prefix(SEMAPHORE_PREFIX) else {
                        continue;
                    };
                    let n = Positive {
                        value: n.as_f64().unwrap_or(0.0),
                        json: n.clone(),
                    };
                    self.sems
                        .entry(id.to_owned())
                        .or_insert_with(|| Semaphore {
                            n: zero(),
                            holders: IndexMap::new(),
                        })
                        .n = n;
                }
                Value::Map(holders) => {
                    let Some(id) = key.strip_prefix(HOLDERS_PREFIX) else {
                        continue;
                    };
                    let sem = self.sems.entry(id.to_owned()).or_insert_with(|| Semaphore {
                        n: zero(),
                        holders: IndexMap::new(),
                    });
                    for (h, v) in holders {
                        let Some(holder) = h.as_str() else { continue };
                        let num =
                            |k: &str| v.as_json().and_then(|e| e.get(k)).and_then(Json::as_f64);
                        let remaining = match (num("start"), num("timeout")) {
                            (Some(start), Some(timeout)) => {
                                (timeout + start - now_ms as f64).max(0.0)
                            }
                            _ => 0.0,
                        };
                        self.next_timer += 1;
                        let timer = self.next_timer;
                        sem.holders.insert(holder.to_owned(), Slot { timer });
                        self.timers
                            .insert(timer, (id.to_owned(), holder.to_owned()));
                        timers.push(Timer::Start {
                            id: timer,
                            after: delay(remaining),
                        });
                    }
                }
                _ => tracing::warn!(key, "semaphore table entry of an unknown shape ignored"),
            }
        }
        timers
    }

    /// Stops the server: leases cancelled, the table cleared (logged).
    pub fn stop(&mut self) -> Effects {
        let timers = self.timers.drain().map(|(t, _)| Timer::Cancel(t)).collect();
        self.sems.clear();
        Effects {
            reply: None,
            table: vec![Op::Clear],
            timers,
        }
    }
}
