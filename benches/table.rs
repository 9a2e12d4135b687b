//! Table figures, each printed beside a floor measured in the same run on
//! the same machine and disk: `cargo bench --bench table [section…]`
//! (sections: mtable, dtable, durable, load).
//!
//! * mtable: `set`/`get`/`hset` in memory (floor: a `HashMap` doing the
//!   same inserts/lookups);
//! * dtable: `set` with the default policy (fsync every second, a fold
//!   every 100 writes) (floor: appending the same log bytes to a file);
//! * durable: acknowledged writes/s in durable mode with 64 writers, each
//!   waiting for its write's fsync (floor: a raw `write`+`fdatasync` loop,
//!   times 64 for the best group commit could do);
//! * load: opening a 400k-line log (floor: reading the file and splitting
//!   its lines).

use std::collections::HashMap;
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use notp::table::{DTable, DTableOptions, Durability, Key, MTable, Value};
use serde_json::json;

const KEYS: usize = 100_000;

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn line(name: &str, ours: f64, floor_name: &str, floor: f64) {
    println!(
        "{name:<44} {:>12.0} /s   floor ({floor_name}): {:>12.0} /s   ({:.0}% of floor)",
        ours,
        floor,
        100.0 * ours / floor
    );
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("notp-bench-table-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mtable() {
    let keys: Vec<Key> = (0..KEYS).map(|i| Key::from(format!("key:{i}"))).collect();
    let raw: Vec<Arc<str>> = (0..KEYS).map(|i| Arc::from(format!("key:{i}"))).collect();
    let n = 2_000_000;

    let mut t = MTable::new();
    let start = Instant::now();
    for i in 0..n {
        t.set(keys[i % KEYS].clone(), i as u64);
    }
    let set = start.elapsed();
    let mut m: HashMap<Arc<str>, Arc<serde_json::Value>> = HashMap::new();
    let start = Instant::now();
    for i in 0..n {
        m.insert(raw[i % KEYS].clone(), Arc::new(json!(i as u64)));
    }
    let floor = start.elapsed();
    line(
        "MTable set (100k keys)",
        rate(n, set),
        "HashMap insert",
        rate(n, floor),
    );

    // What a fold costs the write that starts it: the table's shared copy,
    // and the first overwrite of each chunk afterwards.
    let start = Instant::now();
    let snap = t.snapshot();
    let fork = start.elapsed();
    let start = Instant::now();
    for (i, key) in keys.iter().enumerate().step_by(notp::table::CHUNK) {
        t.set(key.clone(), i as u64);
    }
    let first_writes = start.elapsed() / (KEYS / notp::table::CHUNK) as u32;
    drop(snap);
    println!("    snapshot of the 100k-key table: {fork:?}; first write into a shared chunk: {first_writes:?}");

    let start = Instant::now();
    for i in 0..n {
        black_box(t.get(&keys[(i * 7) % KEYS]));
    }
    let get = start.elapsed();
    let start = Instant::now();
    for i in 0..n {
        black_box(m.get(&raw[(i * 7) % KEYS]));
    }
    line(
        "MTable get",
        rate(n, get),
        "HashMap get",
        rate(n, start.elapsed()),
    );

    let fields: Vec<Key> = (0..100).map(|i| Key::from(format!("f{i}"))).collect();
    let mut h = MTable::new();
    let start = Instant::now();
    for i in 0..n {
        h.hset(
            keys[i % 1000].clone(),
            fields[i % 100].clone(),
            Value::from(i as u64),
        )
        .unwrap();
    }
    let hset = start.elapsed();
    let mut hm: HashMap<Arc<str>, HashMap<Arc<str>, u64>> = HashMap::new();
    let fraw: Vec<Arc<str>> = (0..100).map(|i| Arc::from(format!("f{i}"))).collect();
    let start = Instant::now();
    for i in 0..n {
        hm.entry(raw[i % 1000].clone())
            .or_default()
            .insert(fraw[i % 100].clone(), i as u64);
    }
    line(
        "MTable hset (1000 keys x 100 fields)",
        rate(n, hset),
        "nested HashMap insert",
        rate(n, start.elapsed()),
    );
}

fn dtable() {
    let n = 1_000_000;
    let d = dir("dtable");
    let t = DTable::open(DTableOptions::new(&d, "bench")).unwrap();
    let keys: Vec<Key> = (0..KEYS).map(|i| Key::from(format!("key:{i}"))).collect();
    let start = Instant::now();
    let mut longest = Duration::ZERO;
    for i in 0..n {
        let before = if i % 16 == 0 {
            Some(Instant::now())
        } else {
            None
        };
        t.set(keys[i % KEYS].clone(), i as u64).unwrap();
        if let Some(b) = before {
            longest = longest.max(b.elapsed());
        }
    }
    let applied = start.elapsed();
    // A write that starts a fold also takes the table's shared copy: the
    // longest write, beside one fsync of this disk.
    let mut f = std::fs::File::create(d.join("fsync.probe")).unwrap();
    let mut fsync = Duration::MAX;
    for _ in 0..20 {
        f.write_all(b"x\n").unwrap();
        let s = Instant::now();
        f.sync_data().unwrap();
        fsync = fsync.min(s.elapsed());
    }
    t.stop().unwrap();
    let stats = t.stats();
    drop(t);
    // Floor: the same lines appended to a file, in 64 KiB writes, one fsync.
    let text: String = (0..n).map(|i| format!("{{\"op\":\"set\",\"args\":[{{\"type\":\"string\",\"data\":\"key:{}\"}},{{\"type\":\"number\",\"data\":{i}}}]}}\n", i % KEYS)).collect();
    let path = d.join("floor.log");
    let start = Instant::now();
    let mut f = std::fs::File::create(&path).unwrap();
    for chunk in text.as_bytes().chunks(1 << 16) {
        f.write_all(chunk).unwrap();
    }
    f.sync_data().unwrap();
    let floor = start.elapsed();
    line(
        "DTable set, default policy (100k keys)",
        rate(n, applied),
        "append same bytes",
        rate(n, floor),
    );
    println!(
        "    ({} folds, {} fsyncs, {} log bytes while writing)",
        stats.folds, stats.fsyncs, stats.log_bytes
    );
    println!("    longest write once all keys exist (1 in 16 timed; folds of the 100k-key table included): {longest:?}; one fdatasync here: {fsync:?}");
    let _ = std::fs::remove_dir_all(&d);
}

fn durable() {
    let d = dir("durable");
    // Floor: one writer, write + fdatasync per line.
    let path = d.join("floor.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let payload = b"{\"op\":\"set\",\"args\":[{\"type\":\"string\",\"data\":\"key:1\"},{\"type\":\"number\",\"data\":1}]}\n";
    let start = Instant::now();
    let mut syncs = 0;
    while start.elapsed() < Duration::from_secs(2) {
        f.write_all(payload).unwrap();
        f.sync_data().unwrap();
        syncs += 1;
    }
    let fsync_rate = rate(syncs, start.elapsed());

    let mut opts = DTableOptions::new(&d, "durable");
    opts.durability = Durability::Durable;
    let t = Arc::new(DTable::open(opts).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let run = Duration::from_secs(3);
    let acked = rt.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..64)
            .map(|w| {
                let t = t.clone();
                tokio::spawn(async move {
                    let mut acked = 0usize;
                    let mut i = 0u64;
                    while start.elapsed() < run {
                        let lsn = t.set(format!("w{w}:{}", i % 1000), i).unwrap();
                        t.durable(lsn).await.unwrap();
                        acked += 1;
                        i += 1;
                    }
                    acked
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        (total, start.elapsed())
    });
    let stats = t.stats();
    t.stop().unwrap();
    line(
        "DTable durable mode, 64 writers (acked)",
        rate(acked.0, acked.1),
        "write+fdatasync x64",
        fsync_rate * 64.0,
    );
    println!("    (raw write+fdatasync: {fsync_rate:.0} /s; {} fsyncs for {} writes: {:.1} writes per fsync)", stats.fsyncs, stats.writes, stats.writes as f64 / stats.fsyncs.max(1) as f64);
    let _ = std::fs::remove_dir_all(&d);
}

fn load() {
    let d = dir("load");
    let lines = 400_000;
    let mut opts = DTableOptions::new(&d, "load");
    opts.write_threshold = u64::MAX;
    {
        let t = DTable::open(opts.clone()).unwrap();
        for i in 0..lines {
            match i % 4 {
                0 | 1 => t.set(format!("key:{}", i % KEYS), i as u64).unwrap(),
                2 => t
                    .set(
                        format!("obj:{}", i % 1000),
                        json!({"i": i, "name": "some text", "tags": [1, 2, 3]}),
                    )
                    .unwrap(),
                _ => t
                    .hset(
                        format!("hash:{}", i % 1000),
                        format!("f{}", i % 10),
                        i as u64,
                    )
                    .unwrap(),
            };
        }
        t.stop().unwrap();
    }
    let path = d.join("load_LATEST.LOG");
    let bytes = std::fs::metadata(&path).unwrap().len();
    let mut best = Duration::MAX;
    let mut count = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let t = DTable::open(opts.clone()).unwrap();
        best = best.min(start.elapsed());
        count = t.load_report().applied();
        t.stop().unwrap();
    }
    assert_eq!(count, lines as u64);
    let mut floor = Duration::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let data = std::fs::read(&path).unwrap();
        black_box(memchr::memchr_iter(b'\n', &data).count());
        floor = floor.min(start.elapsed());
    }
    println!(
        "{:<44} {:>9.3} s      floor (read + split lines): {:.3} s   ({} lines, {:.1} MB)",
        "DTable load of a 400k-line log",
        best.as_secs_f64(),
        floor.as_secs_f64(),
        lines,
        bytes as f64 / 1e6
    );
    let _ = std::fs::remove_dir_all(&d);
}

fn main() {
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let want = |s: &str| sections.is_empty() || sections.iter().any(|x| x == s);
    if want("mtable") {
        mtable();
    }
    if want("dtable") {
        dtable();
    }
    if want("durable") {
        durable();
    }
    if want("load") {
        load();
    }
}
