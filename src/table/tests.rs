use std::collections::HashMap;

use serde_json::json;

use super::codec::{
    decode_log_line, encode_log_line, encode_snapshot_line, snapshot_order, LineError,
};
use super::files::{plan, FileKind, Finish, FoldStep, Present};
use super::policy::{sync_due, FoldPolicy};
use super::replay::replay;
use super::*;

fn k(s: &str) -> Key {
    Key::from(s)
}

#[test]
fn keys_follow_same_value_zero() {
    assert_eq!(Key::Number(f64::NAN), Key::Number(f64::NAN));
    assert_eq!(Key::Number(-0.0), Key::Number(0.0));
    assert_ne!(Key::from(42), Key::from("42"));
    let a = ObjectRef::new(Value::Json(json!({"id": 1})));
    assert_eq!(Key::Object(a.clone()), Key::Object(a));
    assert_ne!(
        Key::from_json(json!({"id": 1})),
        Key::from_json(json!({"id": 1}))
    );
    let mut t = MTable::new();
    t.set(Key::Number(-0.0), "zero");
    assert_eq!(t.get(&Key::Number(0.0)), Some(&Value::from("zero")));
}

#[test]
fn keys_become_property_names_like_javascript() {
    assert_eq!(Key::from(42).js_string(), "42");
    assert_eq!(Key::from(1.5).js_string(), "1.5");
    assert_eq!(Key::Number(f64::NAN).js_string(), "NaN");
    assert_eq!(Key::Number(f64::NEG_INFINITY).js_string(), "-Infinity");
    assert_eq!(Key::Number(1e21).js_string(), "1e+21");
    assert_eq!(Key::Null.js_string(), "null");
    assert_eq!(Key::Undefined.js_string(), "undefined");
    assert_eq!(Key::from(true).js_string(), "true");
    assert_eq!(
        Key::from_json(json!({"a": 1})).js_string(),
        "[object Object]"
    );
    assert_eq!(
        Key::from_json(json!([1, null, [2, "x"], {}])).js_string(),
        "1,,2,x,[object Object]"
    );
    assert_eq!(
        Key::from_value(Value::Set(SetValue::default())).js_string(),
        "[object Set]"
    );
}

#[test]
fn wrong_kinds_and_falsy_values() {
    let mut t = MTable::new();
    t.set("s", "text");
    let e = t.sset(k("s"), k("x")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid command 'sset' against key 's' of type 'string'"
    );
    assert_eq!(e.code(), Some("INVALID_TYPE"));
    assert!(t.hget(&k("s"), &k("f")).is_err());
    for falsy in [json!(0), json!(""), json!(false), json!(null)] {
        t.set("f", falsy.clone());
        t.hset(k("f"), k("a"), Value::from(1)).unwrap();
        assert!(t.get(&k("f")).unwrap().as_map().is_some(), "{falsy}");
        t.set("f", falsy);
        t.sdel(&k("f"), &k("x")).unwrap();
        assert!(t.get(&k("f")).is_none());
    }
    // The last member out takes the key with it.
    t.sset(k("set"), k("m")).unwrap();
    t.sdel(&k("set"), &k("m")).unwrap();
    assert!(t.get(&k("set")).is_none());
}

#[test]
fn deletes_keep_insertion_order_and_compact() {
    let mut t = MTable::new();
    for i in 0..1000 {
        t.set(format!("k{i}"), i);
    }
    for i in (0..1000).filter(|i| i % 3 != 0) {
        assert!(t.del(&Key::from(format!("k{i}"))));
    }
    t.set("k1", "again");
    let keys: Vec<String> = t.keys().map(Key::js_string).collect();
    assert_eq!(keys.len(), 335);
    assert_eq!(keys[..3], ["k0", "k3", "k6"]);
    assert_eq!(keys.last().unwrap(), "k1");
    assert_eq!(t.get(&k("k999")), Some(&Value::from(999)));
}

#[test]
fn a_snapshot_keeps_its_values_while_the_table_changes() {
    let mut t = MTable::new();
    t.sset(k("s"), k("a")).unwrap();
    t.set("x", 1);
    let snap = t.snapshot();
    t.sset(k("s"), k("b")).unwrap();
    t.del(&k("x"));
    let rows: Vec<_> = snap
        .iter()
        .map(|(k, v)| (k.js_string(), v.clone()))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].1.as_set().unwrap().len(), 1);
    assert_eq!(t.get(&k("s")).unwrap().as_set().unwrap().len(), 2);
}

#[test]
fn log_lines_round_trip_and_bad_ones_are_named() {
    let ops = [
        Op::Set(Key::from(42), Value::Json(json!({"b": 1, "2": [null]}))),
        Op::Sset(k("s"), Key::Null),
        Op::Hset(k("h"), Key::Undefined, Value::Undefined),
        Op::Del(k("x")),
        Op::Clear,
    ];
    for op in ops {
        let mut line = String::new();
        encode_log_line(&TypedJson, &op, &mut line);
        assert!(line.ends_with('\n'));
        let back = decode_log_line(&TypedJson, line.trim_end().as_bytes()).unwrap();
        assert_eq!(back, op, "{line}");
    }
    assert!(matches!(
        decode_log_line(&TypedJson, b"{\"op\":\"frob\",\"args\":[]}"),
        Err(LineError::UnknownOp(_))
    ));
    assert!(matches!(
        decode_log_line(&TypedJson, b"{\"op\":\"del\"}"),
        Err(LineError::Malformed(_))
    ));
    assert!(matches!(
        decode_log_line(&TypedJson, b"{\"op\":\"del\",\"args\":[]}"),
        Err(LineError::Malformed(_))
    ));
    assert!(matches!(
        decode_log_line(&TypedJson, b"{\"op\":\"se"),
        Err(LineError::NotJson(_))
    ));
    let bad_set = br#"{"op":"set","args":[{"type":"string","data":"k"},{"type":"Set","data":5}]}"#;
    assert!(matches!(
        decode_log_line(&TypedJson, bad_set),
        Err(LineError::Malformed(_))
    ));
}

#[test]
fn snapshot_lines_come_in_property_order() {
    let mut t = MTable::new();
    for key in [
        Key::from("b"),
        Key::from(10),
        Key::from("2"),
        Key::from("__proto__"),
        Key::from("a"),
    ] {
        t.set(key, 1);
    }
    t.set(Key::from("10"), "string ten replaces number ten");
    let snap = t.snapshot();
    let names: Vec<String> = snapshot_order(&snap).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["2", "10", "b", "a"]);
    let mut line = String::new();
    let order = snapshot_order(&snap);
    encode_snapshot_line(&TypedJson, &order[1].0, order[1].1, &mut line);
    assert_eq!(line, "{\"key\":\"10\",\"value\":{\"type\":\"string\",\"data\":\"string ten replaces number ten\"}}\n");
}

#[test]
fn replay_skips_and_counts_damage() {
    let text = b"{\"op\":\"set\",\"args\":[{\"type\":\"string\",\"data\":\"a\"},{\"type\":\"number\",\"data\":1}]}\n\n  \nnot json\n{\"op\":\"sset\",\"args\":[{\"type\":\"string\",\"data\":\"a\"},{\"type\":\"number\",\"data\":1}]}\n{\"op\":\"frob\",\"args\":[]}\n{\"op\":\"del\",\"args\":[{\"type\":\"string\",\"data\":\"a\"}]}\n{\"op\":\"set\",\"args\":[{\"typ";
    let mut t = MTable::new();
    let r = replay(&text[..], FileKind::Log, "x", &TypedJson, &mut t);
    assert_eq!(
        (r.applied, r.blank, r.malformed, r.failed, r.unknown_op),
        (2, 2, 1, 1, 1)
    );
    let torn = br#"{"op":"set","args":[{"typ"#.len();
    assert_eq!(r.torn_tail as usize, torn);
    assert_eq!(r.valid_len as usize, text.len() - torn);
    assert!(t.is_empty());
}

#[test]
fn the_load_plan_reads_each_op_once_for_every_set_of_files() {
    for bits in 0..16u8 {
        let present = Present {
            snapshot: bits & 1 != 0,
            new_snapshot: bits & 2 != 0,
            prev_log: bits & 4 != 0,
            log: bits & 8 != 0,
        };
        let p = plan(present);
        assert!(p.read.iter().all(|k| present.has(*k)));
        assert!(
            !(p.read.contains(&FileKind::Snapshot) && p.read.contains(&FileKind::NewSnapshot)),
            "{present:?}"
        );
        let expect_finish = match (present.prev_log, present.new_snapshot) {
            (true, _) => Finish::CompleteFold,
            (false, true) => Finish::Promote,
            _ => Finish::Nothing,
        };
        assert_eq!(p.finish, expect_finish);
        assert_eq!(p.read.contains(&FileKind::Log), present.log);
    }
}

/// A directory as a map of file → text, folded step by step.
fn lines_of(ops: &[Op]) -> String {
    let mut s = String::new();
    for op in ops {
        encode_log_line(&TypedJson, op, &mut s);
    }
    s
}

fn snapshot_text(t: &MTable) -> String {
    let snap = t.snapshot();
    let mut s = String::new();
    for (name, v) in snapshot_order(&snap) {
        encode_snapshot_line(&TypedJson, &name, v, &mut s);
    }
    s
}

fn load(dir: &HashMap<FileKind, String>) -> MTable {
    let present = Present {
        snapshot: dir.contains_key(&FileKind::Snapshot),
        new_snapshot: dir.contains_key(&FileKind::NewSnapshot),
        prev_log: dir.contains_key(&FileKind::PrevLog),
        log: dir.contains_key(&FileKind::Log),
    };
    let mut t = MTable::new();
    for kind in plan(present).read {
        replay(dir[&kind].as_bytes(), kind, "f", &TypedJson, &mut t);
    }
    t
}

#[test]
fn a_crash_at_any_step_of_a_fold_loads_the_table_it_held() {
    let obj = |i: i32| Key::Object(ObjectRef::new(Value::Json(json!({"i": i}))));
    let before: Vec<Op> = vec![
        Op::Set(Key::from(42), Value::from("n")),
        Op::Sset(k("s"), obj(1)),
        Op::Set(k("gone"), Value::from(1)),
    ];
    let folded: Vec<Op> = vec![
        Op::Sset(k("s"), obj(2)),
        Op::Del(k("gone")),
        Op::Del(Key::from(42)),
        Op::Hset(k("h"), k("f"), Value::from(1)),
    ];
    let after: Vec<Op> = vec![Op::Sset(k("s"), obj(3)), Op::Set(k("late"), Value::from(2))];
    let mut base = MTable::new();
    for op in &before {
        base.apply(op.clone()).unwrap();
    }
    let mut at_fold = base.clone();
    for op in &folded {
        at_fold.apply(op.clone()).unwrap();
    }
    let mut full = at_fold.clone();
    for op in &after {
        full.apply(op.clone()).unwrap();
    }
    let mut dir: HashMap<FileKind, String> = HashMap::new();
    dir.insert(FileKind::Snapshot, snapshot_text(&base));
    dir.insert(FileKind::Log, lines_of(&folded));
    // The directory as a fresh load sees it before the fold (snapshot keys
    // are property names, so compare through a reload of each).
    let reference = |t: &MTable| -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = t
            .iter()
            .map(|(k, v)| {
                let mut s = String::new();
                TypedJson.encode_value(v, &mut s);
                (k.js_string(), s)
            })
            .collect();
        rows.sort();
        rows
    };
    let mut states = Vec::new();
    for step in FoldStep::ORDER {
        match step {
            FoldStep::RotateLog => {
                let log = dir.remove(&FileKind::Log).unwrap();
                dir.insert(FileKind::PrevLog, log);
                dir.insert(FileKind::Log, lines_of(&after));
            }
            FoldStep::WriteSnapshot => {
                let text = snapshot_text(&at_fold);
                // Mid-write: a torn snapshot.
                dir.insert(FileKind::NewSnapshot, text[..text.len() / 2].to_owned());
                states.push(dir.clone());
                dir.insert(FileKind::NewSnapshot, text);
            }
            FoldStep::RemovePrevLog => {
                dir.remove(&FileKind::PrevLog);
            }
            FoldStep::PromoteSnapshot => {
                let new = dir.remove(&FileKind::NewSnapshot).unwrap();
                dir.insert(FileKind::Snapshot, new);
            }
        }
        states.push(dir.clone());
    }
    let mut expected_full = MTable::new();
    replay(
        snapshot_text(&at_fold).as_bytes(),
        FileKind::Snapshot,
        "s",
        &TypedJson,
        &mut expected_full,
    );
    for op in &after {
        expected_full.apply(op.clone()).unwrap();
    }
    for (i, state) in states.iter().enumerate() {
        let loaded = load(state);
        // Before the snapshot is promoted the old snapshot + logs hold the
        // table (number keys as in the log); after, the new snapshot.
        let want = if state.contains_key(&FileKind::PrevLog) {
            let mut t = MTable::new();
            replay(
                snapshot_text(&base).as_bytes(),
                FileKind::Snapshot,
                "s",
                &TypedJson,
                &mut t,
            );
            for op in folded.iter().chain(&after) {
                t.apply(op.clone()).unwrap();
            }
            t
        } else {
            expected_full.clone()
        };
        assert_eq!(reference(&loaded), reference(&want), "crash state {i}");
        assert_eq!(loaded.len(), want.len());
    }
    let _ = full;
}

#[test]
fn folds_start_on_the_threshold_and_when_idle() {
    let mut p = FoldPolicy::new(3, 2000, 0);
    assert!(!p.on_write(false));
    assert!(!p.on_write(false));
    assert!(p.on_write(false));
    // Reached while folding: the count restarts, no fold.
    for _ in 0..2 {
        assert!(!p.on_write(true));
    }
    assert!(!p.on_write(true));
    assert!(!p.on_write(false));
    // Idle: nothing written since the last fold started → no fold.
    let mut q = FoldPolicy::new(100, 2000, 0);
    assert!(!q.on_tick(5000, false));
    q.on_write(false);
    assert!(!q.on_tick(6000, false)); // activity seen now
    assert!(!q.on_tick(7000, false));
    assert!(!q.on_tick(7500, true));
    assert!(q.on_tick(8000, false));
    assert!(!q.on_tick(20000, false));
    assert_eq!(q.tick_ms(), 1000);
}

#[test]
fn fsyncs_follow_the_mode() {
    assert!(!sync_due(Durability::Interval, true, false, 999, 1000));
    assert!(sync_due(Durability::Interval, true, false, 1000, 1000));
    assert!(sync_due(Durability::Interval, true, true, 0, 1000));
    assert!(sync_due(Durability::Durable, true, false, 0, 1000));
    assert!(!sync_due(Durability::Durable, false, true, 5000, 1000));
}

#[test]
fn a_snapshot_of_many_chunks_survives_overwrites_deletes_and_compaction() {
    let mut t = MTable::new();
    for i in 0..5000 {
        t.set(format!("k{i}"), i);
    }
    let snap = t.snapshot();
    for i in 0..5000 {
        if i % 4 == 0 {
            t.set(format!("k{i}"), -1);
        } else {
            t.del(&Key::from(format!("k{i}")));
        }
    }
    t.set("new", 1);
    assert_eq!(snap.len(), 5000);
    let values: Vec<i64> = snap
        .iter()
        .map(|(_, v)| v.as_json().unwrap().as_i64().unwrap())
        .collect();
    assert_eq!(values, (0..5000).collect::<Vec<i64>>());
    assert_eq!(t.len(), 1251);
    assert_eq!(t.get(&k("k4")), Some(&Value::from(-1)));
    assert_eq!(t.keys().last().map(Key::js_string).as_deref(), Some("new"));
}
