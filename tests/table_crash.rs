//! `kill -9` at random instants: a child process (this test binary, re-run
//! with an environment variable) writes to a DTable as fast as it can, with
//! folds every few dozen writes, and reports each write an fsync covered;
//! the parent kills it at a random instant (seeded, a bounded number of
//! times per durability mode), reloads the directory, and checks that the
//! load succeeds, that nothing was damaged but a torn last line, and that
//! each writer's keys hold exactly the state after some prefix of its
//! writes that includes every acknowledged one (so no acknowledged write is
//! lost and no write is applied twice, even across a crash mid-fold).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notp::table::{DTable, DTableOptions, Durability, Key, MTable, ObjectRef, Op, Value};
use serde_json::json;

const CHILD: &str = "NOTP_TABLE_CRASH_CHILD";
const KILLS_PER_MODE: u64 = 20;

/// The `j`-th write of writer `t`: every kind of op, sets of primitives and
/// of objects (which a replay applied twice would duplicate).
fn op(t: usize, j: u64) -> Op {
    let k = |name: &str| Key::from(format!("t{t}:{name}"));
    let round = j / 6;
    match j % 6 {
        0 => Op::Set(k("c"), Value::from(j)),
        1 => Op::Sset(k("s"), Key::from(round % 16)),
        2 => Op::Hset(
            k("h"),
            Key::from(format!("f{}", round % 1500)),
            Value::from(j),
        ),
        3 if round.is_multiple_of(4) => Op::Del(k(&format!("k{}", round % 5))),
        3 => Op::Set(k(&format!("k{}", round % 5)), Value::Json(json!({"j": j}))),
        4 if round % 300 == 299 => Op::Del(k("o")),
        4 => Op::Sset(
            k("o"),
            Key::Object(ObjectRef::new(Value::Json(json!({"j": j})))),
        ),
        _ => Op::Sdel(k("s"), Key::from((round + 7) % 16)),
    }
}

fn options(dir: &Path, durability: Durability, compress: bool) -> DTableOptions {
    let mut o = DTableOptions::new(dir, "crash");
    o.write_threshold = 40;
    o.fsync_interval = 20;
    o.durability = durability;
    o.compress = compress;
    o
}

/// The child: `<dir> <durable|interval> <compress 0|1> <start of writer 0>,<start of writer 1>,…`.
#[test]
#[ignore = "run by crash_* tests as a child process"]
fn crash_child_writer() {
    let spec = std::env::var(CHILD).expect("only run as a child");
    let parts: Vec<&str> = spec.split(' ').collect();
    let durability = if parts[1] == "durable" {
        Durability::Durable
    } else {
        Durability::Interval
    };
    let table =
        Arc::new(DTable::open(options(Path::new(parts[0]), durability, parts[2] == "1")).unwrap());
    let starts: Vec<u64> = parts[3].split(',').map(|s| s.parse().unwrap()).collect();
    let out = Arc::new(Mutex::new(std::io::stdout()));
    // (The harness has printed "test crash_child_writer ... " without a
    // newline.)
    say(&out, "\nready".into());
    let writers: Vec<_> = starts
        .into_iter()
        .enumerate()
        .map(|(t, start)| {
            let (table, out) = (table.clone(), out.clone());
            std::thread::spawn(move || {
                let mut pending: std::collections::VecDeque<(u64, u64)> = Default::default();
                for j in start.. {
                    let lsn = table.write(op(t, j)).unwrap();
                    if durability == Durability::Durable {
                        table.wait_durable(lsn).unwrap();
                        say(&out, format!("ack {t} {j}"));
                        continue;
                    }
                    pending.push_back((j, lsn.0));
                    let durable = table.durable_lsn().0;
                    let mut acked = None;
                    while pending.front().is_some_and(|&(_, l)| l <= durable) {
                        acked = pending.pop_front().map(|(j, _)| j);
                    }
                    if let Some(j) = acked {
                        say(&out, format!("ack {t} {j}"));
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
}

fn say(out: &Mutex<std::io::Stdout>, line: String) {
    let out = out.lock().unwrap();
    let mut out = out.lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// A writer's keys, comparable whatever the order and whichever objects.
fn projection<'a>(
    t: usize,
    entries: impl Iterator<Item = (&'a Key, &'a Value)>,
) -> Vec<(String, String)> {
    let prefix = format!("t{t}:");
    let mut rows: Vec<(String, String)> = entries
        .filter(|(k, _)| k.js_string().starts_with(&prefix))
        .map(|(k, v)| (k.js_string(), canonical(v)))
        .collect();
    rows.sort();
    rows
}

fn canonical(v: &Value) -> String {
    let mut text = |k: &Key| {
        let mut s = String::new();
        match k {
            Key::Object(o) => s.push_str(&canonical(o.value())),
            other => s.push_str(&format!("{}:{other}", other.type_of())),
        }
        s
    };
    match v {
        Value::Set(s) => {
            let mut m: Vec<String> = s.iter().map(&mut text).collect();
            m.sort();
            format!("set{m:?}")
        }
        Value::Map(m) => {
            let mut e: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}={}", text(k), canonical(v)))
                .collect();
            e.sort();
            format!("map{e:?}")
        }
        Value::Json(j) => notp::wire::js_json::to_string(j),
        other => format!("{other:?}"),
    }
}

/// One writer as the parent follows it: its model is the state after its
/// writes `0..next`.
struct Writer {
    model: MTable,
    next: u64,
}

impl Writer {
    /// Advances the model to the loaded state, which must come at or after
    /// write `acked`; the number of writes it holds.
    fn catch_up(&mut self, t: usize, loaded: &[(String, String)], acked: Option<u64>) -> u64 {
        // The counter key names the last multiple of 6 applied, so the
        // prefix ends within the 6 writes from there.
        let counter = format!("t{t}:c");
        let from = match loaded.iter().find(|(k, _)| *k == counter) {
            Some((_, v)) => v.parse::<u64>().unwrap() + 1,
            None => 0,
        };
        let acked_end = acked.map(|a| a + 1).unwrap_or(0);
        assert!(from >= self.next.min(from), "writer {t}: went back");
        while self.next < from {
            self.model.apply(op(t, self.next)).unwrap();
            self.next += 1;
        }
        for _ in 0..6 {
            if self.next >= acked_end && projection(t, self.model.iter()) == loaded {
                return self.next;
            }
            self.model.apply(op(t, self.next)).unwrap();
            self.next += 1;
        }
        panic!(
            "writer {t}: the loaded state is no prefix of its writes that holds write {acked:?}"
        );
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn crash_loop(mode: &str, durability: Durability, writers: usize, seed: u64) {
    let dir = tempdir(mode);
    let mut rng = Rng(seed);
    let (mut interrupted_folds, mut torn_tails) = (0, 0);
    let mut state: Vec<Writer> = (0..writers)
        .map(|_| Writer {
            model: MTable::new(),
            next: 0,
        })
        .collect();
    for round in 0..KILLS_PER_MODE {
        let compress = round % 3 == 1;
        let starts: Vec<String> = state.iter().map(|w| w.next.to_string()).collect();
        let spec = format!(
            "{} {mode} {} {}",
            dir.display(),
            u8::from(compress),
            starts.join(",")
        );
        let mut child = KillOnDrop(
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "crash_child_writer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD, spec)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let stdout = child.0.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut acked: Vec<Option<u64>> = vec![None; writers];
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "ready" {
                    let _ = ready_tx.send(());
                }
                let parts: Vec<&str> = line.split(' ').collect();
                if let ["ack", t, j] = parts[..] {
                    let (t, j): (usize, u64) = (t.parse().unwrap(), j.parse().unwrap());
                    acked[t] = acked[t].max(Some(j));
                }
            }
            acked
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("child did not start");
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 200));
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        let acked = reader.join().unwrap();

        let table = DTable::open(options(&dir, durability, compress)).unwrap();
        let report = table.load_report().clone();
        interrupted_folds += u64::from(report.completed_fold);
        torn_tails += u64::from(report.truncated_log_bytes > 0);
        for f in &report.files {
            assert_eq!(
                (f.blank, f.malformed, f.unknown_op, f.failed),
                (0, 0, 0, 0),
                "round {round}: {report:?}"
            );
        }
        let mut total = 0;
        for (t, w) in state.iter_mut().enumerate() {
            let loaded = table.with_table(|tb| projection(t, tb.iter()));
            total += w.catch_up(t, &loaded, acked[t]);
        }
        assert!(
            total > 0 || round > 0,
            "round {round}: the child wrote nothing"
        );
        table.stop().unwrap();
    }
    eprintln!("{mode}: {KILLS_PER_MODE} kills, {interrupted_folds} mid-fold, {torn_tails} with a torn log line");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A child process never outlives a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn crash_at_random_instants_loses_no_write_an_fsync_covered() {
    crash_loop("interval", Durability::Interval, 1, 0x9e37_79b9_7f4a_7c15);
}

#[test]
fn crash_at_random_instants_loses_no_acknowledged_durable_write() {
    crash_loop("durable", Durability::Durable, 4, 0x2545_f491_4f6c_dd1d);
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("notp-table-crash-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
