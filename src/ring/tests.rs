use super::*;
use serde_json::json;

fn n(id: &str, port: u16) -> Node {
    Node::new(id, "localhost", port)
}

fn three() -> CHash {
    let mut r = CHash::new(3, 2);
    r.insert(n("foo", 7022), None).unwrap();
    r.insert(n("bar", 7023), None).unwrap();
    r.insert(Node::new("baz", "127.0.0.1", 7024), None).unwrap();
    r
}

#[test]
fn insert_is_idempotent_and_counts_weights() {
    let mut r = three();
    assert_eq!(r.size(), 9);
    assert_eq!(r.number_nodes(), 3);
    r.insert(n("foo", 9999), Some(7)).unwrap();
    assert_eq!(r.size(), 9, "a present id is left alone");
    assert_eq!(r.weight("foo"), Some(3));
    assert_eq!(r.get("foo").unwrap().port(), 7022);
}

#[test]
fn zero_weight_is_refused() {
    let mut r = CHash::new(3, 2);
    assert!(matches!(
        r.insert(n("a", 1), Some(0)),
        Err(Error::InvalidArgument { name: "weight", .. })
    ));
    let mut r0 = CHash::new(0, 2);
    assert!(r0.insert(n("a", 1), None).is_err());
    assert!(r0.is_empty() && r0.number_nodes() == 0);
}

#[test]
fn update_moves_the_node_to_the_end_of_weights() {
    let mut r = three();
    r.update(n("foo", 7022), 5).unwrap();
    let order: Vec<_> = r.weights().keys().cloned().collect();
    assert_eq!(order, ["bar", "baz", "foo"]);
    assert_eq!(r.size(), 11);
}

#[test]
fn remove_takes_every_virtual_node() {
    let mut r = three();
    r.remove(&n("bar", 0));
    assert_eq!(r.size(), 6);
    assert!(!r.is_defined("bar"));
    assert!(r.iter().all(|(_, node)| node.id() != "bar"));
    assert_eq!(r.slot_count(), 2, "unused slots are dropped");
}

#[test]
fn lookups_on_an_empty_ring_answer_nothing() {
    let r = CHash::new(3, 2);
    assert!(r.find("k").is_none());
    assert!(r.range_next("k", None).is_empty());
    assert!(r.range_prev("k", Some(3)).is_empty());
    assert!(r.next(&n("a", 1), None).is_empty());
    assert!(!r.begin().valid());
    assert!(!r.end().valid());
}

#[test]
fn range_zero_is_empty_rather_than_a_hang() {
    let r = three();
    assert!(r.range_next("k", Some(0)).is_empty());
    assert!(r.next(&n("foo", 7022), Some(0)).is_empty());
    assert_eq!(
        r.range_next("k", Some(100)).len(),
        3,
        "clamped to the node count"
    );
}

#[test]
fn json_round_trip_and_malformed_input() {
    let r = three();
    let back = CHash::from_json(&r.to_json()).unwrap();
    assert_eq!(back, r);
    assert_eq!(back.to_json(), r.to_json());
    for bad in [
        "[]",
        r#"{"rfactor":3,"pfactor":2}"#,
        r#"{"rfactor":-1,"pfactor":2,"tree":[]}"#,
        r#"{"rfactor":3,"pfactor":2,"tree":[{"key":"","value":{"id":"a","host":"h","port":1}}]}"#,
        r#"{"rfactor":3,"pfactor":2,"tree":[{"key":"k","value":{"id":"a","host":"h"}}]}"#,
        r#"{"rfactor":3,"pfactor":2,"tree":[{"key":"k","value":{"id":"a","host":"h","port":1}},{"key":"k","value":{"id":"b","host":"h","port":1}}]}"#,
    ] {
        assert!(
            matches!(CHash::from_json(bad), Err(Error::MalformedRing(_))),
            "{bad} should be refused"
        );
    }
    assert!(matches!(CHash::from_json("{nope"), Err(Error::Json(_))));
}

#[test]
fn iterators_walk_a_snapshot_in_key_order() {
    let mut r = three();
    let mut it = r.begin();
    let mut keys = vec![];
    while it.valid() {
        keys.push(it.key().unwrap().to_owned());
        it.move_next();
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys.len(), 9);

    let mut back = r.end();
    r.remove(&n("foo", 0)); // the cursor keeps its snapshot
    let mut count = 0;
    while back.valid() {
        count += 1;
        back.move_prev();
    }
    assert_eq!(count, 9);
    assert!(r.iterator(&keys[4]).valid() || r.size() == 6);
    assert!(!r.iterator("no such key").valid());
}

#[test]
fn merge_and_intersect_are_set_operations() {
    let mut a = CHash::new(3, 2);
    a.insert(n("foo", 1), None).unwrap();
    let mut b = CHash::new(3, 2);
    b.insert(n("bar", 2), Some(5)).unwrap();
    b.insert(n("foo", 1), None).unwrap();
    a.merge(&b);
    assert_eq!(a.size(), 8);
    assert_eq!(a.weight("bar"), Some(5));
    let mut only_foo = CHash::new(3, 2);
    only_foo.insert(n("foo", 1), None).unwrap();
    a.intersect(&only_foo);
    assert_eq!(a.size(), 3);
    assert_eq!(a.number_nodes(), 1);
    assert_eq!(a, only_foo);
}

#[test]
fn nodes_list_index_like_ids_first() {
    let mut r = CHash::new(1, 2);
    for id in ["zed", "10", "alpha", "2"] {
        r.insert(n(id, 1), None).unwrap();
    }
    let ids: Vec<_> = r.nodes().iter().map(|n| n.id().to_owned()).collect();
    assert_eq!(&ids[..2], ["2", "10"]);
}

#[test]
fn keys_sharing_a_prefix_with_the_lookup_are_ordered_by_their_full_text() {
    let h = String::from_utf8(hash_key(b"k").to_vec()).unwrap();
    let with = |c: char| format!("{}{c}{}", &h[..10], &h[11..]);
    let (below, above) = (with('+'), with('z'));
    assert!(below < h && h < above && below[..8] == h[..8]);
    let node = |id: &str| json!({"id": id, "host": "h", "port": 1});
    let ring = CHash::from_value(&json!({"rfactor": 1, "pfactor": 1, "tree": [
        {"key": below, "value": node("below")},
        {"key": h, "value": node("exact")},
        {"key": above, "value": node("above")},
    ]}))
    .unwrap();
    assert_eq!(ring.find("k").unwrap().id(), "above", "strictly greater");
    assert_eq!(
        ring.range_prev("k", Some(1))[0].id(),
        "below",
        "strictly less"
    );
}
