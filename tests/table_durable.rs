//! What a DTable promises its callers about durability and lifecycle:
//! durable mode acknowledges a write (future, blocking wait, callback) only
//! once an fsync covers it, one fsync covers many waiting writers, the
//! default mode's fsync comes within the interval, `sync` and `stop` flush,
//! and a stopped table refuses writes.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use notp::table::{DTable, DTableOptions, Durability, Key, TableError};

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("notp-table-durable-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn durable(dir: &std::path::Path) -> DTableOptions {
    let mut o = DTableOptions::new(dir, "d");
    o.durability = Durability::Durable;
    o
}

#[test]
fn durable_writes_are_acknowledged_after_their_fsync() {
    let dir = tempdir("ack");
    let t = Arc::new(DTable::open(durable(&dir)).unwrap());
    let lsn = t.set("a", 1).unwrap();
    t.wait_durable(lsn).unwrap();
    assert!(t.durable_lsn() >= lsn);
    assert!(t.stats().fsyncs >= 1);
    // The line is in the file once acknowledged.
    let text = std::fs::read_to_string(dir.join("d_LATEST.LOG")).unwrap();
    assert!(text.contains(r#""data":"a""#), "{text}");

    // Callback form.
    let (tx, rx) = mpsc::channel();
    let lsn = t.sset("s", "m").unwrap();
    let t2 = t.clone();
    t.on_durable(lsn, move |r| {
        tx.send((r.is_ok(), t2.durable_lsn() >= lsn)).unwrap();
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        (true, true)
    );

    // Future form, many writers at once: fewer fsyncs than writes.
    let before = t.stats();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..32)
            .map(|w| {
                let t = t.clone();
                tokio::spawn(async move {
                    for i in 0..20 {
                        let lsn = t.set(format!("w{w}"), i).unwrap();
                        t.durable(lsn).await.unwrap();
                        assert!(t.durable_lsn() >= lsn);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let after = t.stats();
    let writes = after.writes - before.writes;
    let fsyncs = after.fsyncs - before.fsyncs;
    assert_eq!(writes, 640);
    assert!(
        fsyncs < writes,
        "group commit: {fsyncs} fsyncs for {writes} writes"
    );
}

#[test]
fn interval_mode_fsyncs_within_the_interval_and_sync_forces_one() {
    let dir = tempdir("interval");
    let mut o = DTableOptions::new(&dir, "i");
    o.fsync_interval = 50;
    let t = DTable::open(o.clone()).unwrap();
    let lsn = t.set("a", 1).unwrap();
    // Acknowledged (applied) at once, durable within about the interval.
    assert_eq!(t.get(&Key::from("a")).as_deref(), Some(&1.into()));
    t.wait_durable(lsn).unwrap();
    let mut slow = o.clone();
    slow.name = "slow".into();
    slow.fsync_interval = 3_600_000;
    let s = DTable::open(slow).unwrap();
    let lsn = s.set("b", 2).unwrap();
    assert!(s.durable_lsn() < lsn);
    s.sync().unwrap();
    assert!(s.durable_lsn() >= lsn);
}

#[test]
fn a_stopped_table_is_flushed_and_refuses_writes() {
    let dir = tempdir("stop");
    let mut o = DTableOptions::new(&dir, "st");
    o.fsync_interval = 3_600_000;
    let t = DTable::open(o.clone()).unwrap();
    for i in 0..1000 {
        t.set(format!("k{i}"), i).unwrap();
    }
    let last = t.hset("h", "f", 1).unwrap();
    t.stop().unwrap();
    assert!(t.durable_lsn() >= last);
    assert!(matches!(t.set("late", 1), Err(TableError::Closed(None))));
    assert!(t.wait_durable(notp::table::Lsn(last.0 + 1)).is_err());
    drop(t);
    let again = DTable::open(o).unwrap();
    assert_eq!(again.len(), 1001);
    assert_eq!(again.load_report().skipped(), 0);
}

#[test]
fn options_are_checked() {
    let err = DTable::open(DTableOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "Missing 'path' option in options object.");
    let dir = tempdir("opts");
    let mut o = DTableOptions::new(&dir, "x");
    o.write_threshold = 0;
    assert!(matches!(
        DTable::open(o),
        Err(TableError::InvalidOption {
            name: "writeThreshold",
            ..
        })
    ));
    assert!(matches!(
        DTable::open(DTableOptions::new(&dir, "")),
        Err(TableError::InvalidOption { name: "name", .. })
    ));
}

#[test]
fn writes_go_on_while_a_big_table_folds() {
    let dir = tempdir("fold");
    let mut o = DTableOptions::new(&dir, "f");
    o.write_threshold = 50_000;
    let t = DTable::open(o.clone()).unwrap();
    for i in 0..50_000 {
        t.set(format!("key:{i}"), i).unwrap();
    }
    // The fold started by the last write runs on its own thread: writes
    // meanwhile are applied and logged, and land after it in the new log.
    for i in 0..100 {
        t.set(format!("after:{i}"), i).unwrap();
    }
    assert!(t.wait_idle(Duration::from_secs(30)));
    assert_eq!(t.stats().folds, 1);
    t.stop().unwrap();
    drop(t);
    let log = std::fs::read_to_string(dir.join("f_LATEST.LOG")).unwrap();
    assert_eq!(log.lines().count(), 100);
    let again = DTable::open(o).unwrap();
    assert_eq!(again.len(), 50_100);
}
