use super::*;

fn entry(count: u64, insert: u64, time: u64) -> ClockEntry {
    ClockEntry {
        count,
        insert,
        time,
    }
}

fn clock(entries: &[(&str, u64, u64)]) -> VectorClock {
    let mut c = VectorClock::new();
    for &(id, count, time) in entries {
        c.put(id, entry(count, time, time));
    }
    c
}

#[test]
fn increment_inserts_then_counts() {
    let mut c = VectorClock::new();
    c.increment("a").increment("a");
    assert_eq!(c.count("a"), Some(2));
    assert!(c.insert_time("a").unwrap() <= c.timestamp("a").unwrap());
    c.insert("a");
    assert_eq!(c.count("a"), Some(2), "insert leaves an actor alone");
    c.insert("b");
    assert_eq!(c.count("b"), Some(0));
}

#[test]
fn merge_keeps_larger_counts_then_later_times() {
    let mut a = clock(&[("x", 1, 10), ("y", 5, 10), ("z", 2, 50)]);
    let b = clock(&[("x", 3, 5), ("y", 4, 99), ("z", 2, 60), ("w", 1, 1)]);
    a.merge(&b);
    assert_eq!(a.count("x"), Some(3));
    assert_eq!(a.count("y"), Some(5));
    assert_eq!(a.timestamp("z"), Some(60));
    assert!(a.has("w"));
    let order: Vec<_> = a.nodes().collect();
    assert_eq!(order, ["x", "y", "z", "w"]);

    let mut tie = clock(&[("z", 2, 60)]);
    tie.get_mut_for_test("z").insert = 1;
    tie.merge(&clock(&[("z", 2, 60)]));
    assert_eq!(
        tie.insert_time("z"),
        Some(1),
        "equal times keep the local entry"
    );
}

#[test]
fn descends_follows_the_reference_rules() {
    let empty = VectorClock::new();
    let a = clock(&[("x", 2, 1), ("y", 1, 1)]);
    let b = clock(&[("x", 1, 1)]);
    assert!(a.descends(&b));
    assert!(!b.descends(&a));
    assert!(a.descends(&empty));
    assert!(empty.descends(&empty));
    assert!(!empty.descends(&a));
    assert!(a.descends(&a));
}

#[test]
fn equals_ignores_order() {
    let a = clock(&[("x", 2, 1), ("y", 1, 1)]);
    let b = clock(&[("y", 1, 1), ("x", 2, 1)]);
    assert!(a.equals(&b));
    assert!(!a.equals(&clock(&[("x", 2, 1)])));
}

#[test]
fn json_is_in_javascript_key_order() {
    let c = clock(&[("b", 1, 7), ("7", 1, 7), ("a", 2, 8), ("3", 1, 7)]);
    assert_eq!(
        c.to_json(),
        r#"{"3":{"count":1,"insert":7,"time":7},"7":{"count":1,"insert":7,"time":7},"b":{"count":1,"insert":7,"time":7},"a":{"count":2,"insert":8,"time":8}}"#
    );
    let back = VectorClock::from_json(&c.to_json()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn malformed_clocks_are_refused_with_the_field_named() {
    for (text, needle) in [
        ("[]", "object"),
        (r#"{"a":{"insert":1,"time":1}}"#, "count"),
        (r#"{"a":{"count":1,"insert":"1"}}"#, "insert"),
        (r#"{"a":{"count":-1,"insert":1,"time":1}}"#, "count"),
        (r#"{"a":{"count":1.5,"insert":1,"time":1}}"#, "count"),
        (
            r#"{"a":{"count":1,"insert":1,"time":9007199254740993}}"#,
            "time",
        ),
        (r#"{"a":7}"#, "count"),
    ] {
        let e = VectorClock::from_json(text).unwrap_err();
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
}

#[test]
fn a_missing_insert_or_time_is_the_other_as_the_original_accepted_them() {
    let c = VectorClock::from_json(r#"{"foo":{"count":1,"time":0},"bar":{"count":2,"insert":5}}"#)
        .unwrap();
    assert_eq!(c.get("foo"), Some(&entry(1, 0, 0)));
    assert_eq!(c.get("bar"), Some(&entry(2, 5, 5)));
    // With neither, there is nothing to stamp the entry with.
    let e = VectorClock::from_json(r#"{"baz":{"count":3}}"#).unwrap_err();
    assert!(e.to_string().contains("insert or a time"), "{e}");
}

#[test]
fn increment_many_is_n_increments_at_the_times_given() {
    let mut c = VectorClock::new();
    c.increment_many("a", 3, 100, 200);
    assert_eq!(c.get("a"), Some(&entry(3, 100, 200)));
    // An existing actor keeps its insert time; its time never goes back.
    c.increment_many("a", 2, 150, 150);
    assert_eq!(c.get("a"), Some(&entry(5, 100, 200)));
    c.increment_many("a", 0, 300, 300);
    assert_eq!(c.get("a"), Some(&entry(5, 100, 200)));
    // Later reads of the clock are not earlier than a time applied.
    let ahead = now_micros() + 1_000;
    c.increment_many("b", 1, ahead, ahead);
    assert!(now_micros() >= ahead);
}

#[test]
fn trim_respects_the_four_bounds() {
    let opts = TrimOptions::default();
    let now = 1_000_000_000_000u64;
    let day = 86_400_000_000u64;

    // Few entries: untouched however old.
    let mut few = clock(
        &(0..10)
            .map(|i| (["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"][i], 1, 0))
            .collect::<Vec<_>>(),
    );
    few.trim(now, &opts);
    assert_eq!(few.size(), 10);

    // Many entries, but the oldest is young: untouched.
    let ids: Vec<String> = (0..60).map(|i| format!("actor{i}")).collect();
    let mut young = VectorClock::new();
    for id in &ids {
        young.put(id, entry(1, now - 1_000, now - 1_000));
    }
    young.trim(now, &opts);
    assert_eq!(young.size(), 60);

    // 60 entries, oldest 30 s old: cut down to 50, oldest first.
    let mut many = VectorClock::new();
    for (i, id) in ids.iter().enumerate() {
        many.put(
            id,
            entry(1, now - 30_000_000 + i as u64, now - 30_000_000 + i as u64),
        );
    }
    many.trim(now, &opts);
    assert_eq!(many.size(), 50);
    assert!(!many.has("actor9") && many.has("actor10"));

    // 12 entries, 3 older than a day: those 3 go, the rest stay.
    let mut old = VectorClock::new();
    for (i, id) in ids.iter().take(12).enumerate() {
        let t = if i < 3 {
            now - 2 * day
        } else {
            now - 25_000_000
        };
        old.put(id, entry(1, t, t));
    }
    old.trim(now, &opts);
    assert_eq!(old.size(), 9);
    assert!(!old.has("actor0") && old.has("actor3"));
}

impl VectorClock {
    fn get_mut_for_test(&mut self, id: &str) -> &mut ClockEntry {
        self.entries.get_mut(id).unwrap()
    }
}
