//! Every ring case captured from the original, checked through the Rust API.

mod common;

use notp::{CHash, Node};
use serde_json::Value;

fn foo() -> Node {
    Node::new("foo", "localhost", 7022)
}
fn bar() -> Node {
    Node::new("bar", "localhost", 7023)
}
fn baz() -> Node {
    Node::new("baz", "127.0.0.1", 7024)
}

fn default_ring() -> CHash {
    let mut r = CHash::new(3, 2);
    for n in [foo(), bar(), baz()] {
        r.insert(n, None).unwrap();
    }
    r
}

fn bar_weight5() -> CHash {
    let mut r = CHash::new(3, 2);
    r.insert(foo(), None).unwrap();
    r.insert(bar(), Some(5)).unwrap();
    r.insert(baz(), None).unwrap();
    r
}

/// Builds each ring of `chash.json` with the operations its label names.
fn build(label: &str) -> CHash {
    match label {
        "default_weights" => default_ring(),
        "bar_weight5" => bar_weight5(),
        "single_foo" => {
            let mut r = CHash::new(3, 2);
            r.insert(foo(), None).unwrap();
            r
        }
        "default_minus_bar" => {
            let mut r = default_ring();
            r.remove(&bar());
            r
        }
        "fromJSON_bar_weight5" => CHash::from_json(&bar_weight5().to_json()).unwrap(),
        "merge_foo_bar5" => {
            let mut a = CHash::new(3, 2);
            a.insert(foo(), None).unwrap();
            let mut b = CHash::new(3, 2);
            b.insert(bar(), Some(5)).unwrap();
            a.merge(&b);
            a
        }
        other => panic!("no recipe for ring {other}"),
    }
}

fn ids(nodes: Vec<&Node>) -> Vec<String> {
    nodes.into_iter().map(|n| n.id().to_owned()).collect()
}

fn expected_ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn node_by_id(id: &str) -> Node {
    match id {
        "foo" => foo(),
        "bar" => bar(),
        "baz" => baz(),
        other => panic!("unknown node {other}"),
    }
}

#[test]
fn every_ring_matches_the_original() {
    let vectors = common::load("chash.json");
    let rings = vectors["rings"].as_object().unwrap();
    assert!(rings.len() >= 6);
    let mut checks = 0;
    for (label, want) in rings {
        let ring = build(label);
        let ctx = |what: &str| format!("ring {label}: {what}");

        assert_eq!(ring.rfactor() as u64, want["rfactor"].as_u64().unwrap());
        assert_eq!(ring.pfactor() as u64, want["pfactor"].as_u64().unwrap());
        assert_eq!(
            ring.size() as u64,
            want["size"].as_u64().unwrap(),
            "{}",
            ctx("size")
        );
        assert_eq!(
            ring.number_nodes() as u64,
            want["numberNodes"].as_u64().unwrap()
        );
        assert_eq!(
            ring.to_json(),
            want["toJSON_true"].to_string(),
            "{}",
            ctx("toJSON")
        );
        assert_eq!(ring.to_value(), want["toJSON_true"]);

        let weights: Vec<(String, u64)> = ring
            .weights()
            .iter()
            .map(|(k, v)| (k.clone(), *v as u64))
            .collect();
        let want_weights: Vec<(String, u64)> = want["weights"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        assert_eq!(weights, want_weights, "{}", ctx("weights in order"));
        assert_eq!(
            ids(ring.nodes()),
            expected_ids(&want["nodes_order"]),
            "{}",
            ctx("nodes")
        );

        for (id, vnodes) in want["virtual_nodes"].as_object().unwrap() {
            for v in vnodes.as_array().unwrap() {
                let key = v["hash"].as_str().unwrap();
                let it = ring.iterator(key);
                assert!(it.valid(), "{}", ctx(&format!("vnode {key} present")));
                assert_eq!(it.value().unwrap().id(), id);
            }
        }

        for k in want["keys"].as_array().unwrap() {
            let key = k["key"].as_str().unwrap();
            let c = |what: &str| ctx(&format!("key {key:?} {what}"));
            assert_eq!(
                notp::ring::hash_key(key.as_bytes()),
                k["hash"].as_str().unwrap().as_bytes()
            );
            assert_eq!(
                ring.find(key).unwrap().id(),
                k["find"].as_str().unwrap(),
                "{}",
                c("find")
            );
            for (field, range) in [
                ("rangeNext1", Some(1)),
                ("rangeNext2", Some(2)),
                ("rangeNext3", Some(3)),
                ("rangeNext_default", None),
            ] {
                assert_eq!(
                    ids(ring.range_next(key, range)),
                    expected_ids(&k[field]),
                    "{}",
                    c(field)
                );
            }
            for (field, range) in [("rangePrev1", Some(1)), ("rangePrev3", Some(3))] {
                assert_eq!(
                    ids(ring.range_prev(key, range)),
                    expected_ids(&k[field]),
                    "{}",
                    c(field)
                );
            }
            checks += 1;
        }

        for (id, p) in want["per_node"].as_object().unwrap() {
            let node = node_by_id(id);
            let c = |what: &str| ctx(&format!("node {id} {what}"));
            for (field, range) in [
                ("next1", Some(1)),
                ("next2", Some(2)),
                ("next_default", None),
            ] {
                assert_eq!(
                    ids(ring.next(&node, range)),
                    expected_ids(&p[field]),
                    "{}",
                    c(field)
                );
            }
            for (field, range) in [
                ("prev1", Some(1)),
                ("prev2", Some(2)),
                ("prev_default", None),
            ] {
                assert_eq!(
                    ids(ring.prev(&node, range)),
                    expected_ids(&p[field]),
                    "{}",
                    c(field)
                );
            }
            let got = ring.get(id).map(|n| serde_json::to_value(n).unwrap());
            assert_eq!(got.unwrap_or(Value::Null), p["get"], "{}", c("get"));
            assert_eq!(
                ring.is_defined(id),
                p["isDefined"].as_bool().unwrap(),
                "{}",
                c("isDefined")
            );
        }
    }
    assert!(checks >= 100, "only {checks} keys checked");
}

#[test]
fn sha256_vectors_match_virtual_node_keys() {
    let vectors = common::load("sha256.json");
    for (name, want) in vectors["inputs"].as_object().unwrap() {
        let got = notp::ring::hash_key(name.as_bytes());
        assert_eq!(
            std::str::from_utf8(&got).unwrap(),
            want["base64"].as_str().unwrap(),
            "{name}"
        );
        if let Some((id, n)) = name.rsplit_once('_') {
            if let Ok(n) = n.parse() {
                assert_eq!(
                    notp::ring::vnode_key(id, n),
                    want["base64"].as_str().unwrap()
                );
            }
        }
    }
    let mut single = CHash::new(3, 2);
    single.insert(foo(), None).unwrap();
    let order: Vec<&str> = single.iter().map(|(k, _)| k).collect();
    assert_eq!(order, expected_ids(&vectors["ring_order_of_foo"]));
}
