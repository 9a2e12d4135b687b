//! Cluster nodes on loopback: the brief's walkthrough, every formation
//! converging, the command server, persistence and a captured join.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use notp::cluster::{
    Attach, ClusterError, ClusterNode, ClusterOptions, GossipEvent, GossipEvents, GossipRing,
    Restore, SavedState,
};
use notp::gossip::GossipOptions;
use notp::net::{Kernel, KernelOptions};
use notp::Node;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

fn opts(interval_ms: u64) -> ClusterOptions {
    ClusterOptions {
        kernel: KernelOptions {
            retry: Duration::from_millis(50),
            ..KernelOptions::default()
        },
        gossip: GossipOptions {
            interval: interval_ms,
            ..GossipOptions::default()
        },
    }
}

async fn start(id: &str, o: ClusterOptions) -> ClusterNode {
    ClusterNode::start(Node::new(id, "127.0.0.1", 0), "cookie", "ring", o)
        .await
        .unwrap()
}

/// Wakes on any gossip event of any of `nodes`.
fn events(nodes: &[ClusterNode]) -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    for n in nodes {
        let sub = n.gossip().subscribe();
        let tx = tx.clone();
        tokio::spawn(async move {
            while sub.recv().await.is_some() {
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Waits (on events, up to `secs`) until `done` holds.
async fn until(
    rx: &mut mpsc::UnboundedReceiver<()>,
    secs: u64,
    mut done: impl FnMut() -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if done() {
            return true;
        }
        if tokio::time::timeout_at(deadline, rx.recv()).await.is_err() {
            return done();
        }
    }
}

fn ids(n: &ClusterNode) -> Vec<String> {
    let mut v: Vec<String> = n
        .gossip()
        .ring()
        .nodes()
        .iter()
        .map(|n| n.id().to_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_brief_walkthrough() {
    let foo = start("foo", opts(100)).await;
    let bar = start("bar", opts(100)).await;
    let mut rx = events(&[foo.clone(), bar.clone()]);
    let bar_node = bar.kernel().node().clone();

    // meet: eventually both rings hold both nodes.
    foo.gossip().meet(&bar_node).unwrap();
    assert!(
        until(&mut rx, 10, || ids(&foo) == ["bar", "foo"]
            && ids(&bar) == ["bar", "foo"])
        .await
    );

    // remove, then insert again.
    foo.gossip().remove(&bar_node).unwrap();
    assert!(!foo.gossip().ring().is_defined("bar"));
    // bar keeps gossiping to foo, and foo tells it it was removed.
    assert!(
        until(&mut rx, 10, || ids(&bar) == ["bar"]).await,
        "bar learns it was removed"
    );
    foo.gossip().insert(&bar_node, None).unwrap();
    assert!(foo.gossip().ring().is_defined("bar"));
    assert!(until(&mut rx, 10, || ids(&bar) == ["bar", "foo"]).await);

    // leave: a leave event, a ring of one, no ring id; join again.
    let leave = foo.gossip().subscribe();
    foo.gossip().leave().unwrap();
    let mut left = false;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), leave.recv()).await {
        if matches!(e, GossipEvent::Leave { .. }) {
            left = true;
        }
        if matches!(e, GossipEvent::Close) {
            break;
        }
    }
    assert!(left);
    assert_eq!(ids(&foo), ["foo"]);
    assert_eq!(foo.gossip().ring_id(), None);
    assert!(
        until(&mut rx, 10, || ids(&bar) == ["bar"]).await,
        "bar learns foo left"
    );
    foo.gossip().join("another_ring_id").unwrap();
    assert!(foo.gossip().join("x").is_err());
    foo.stop();
    bar.stop();
}

async fn converges(n: usize, formation: &str) {
    let mut nodes = vec![];
    for i in 0..n {
        nodes.push(start(&format!("n{i}"), opts(100)).await);
    }
    let mut rx = events(&nodes);
    let node = |i: usize| nodes[i].kernel().node().clone();
    match formation {
        "star" => (1..n).for_each(|j| nodes[0].gossip().meet(&node(j)).unwrap()),
        "chain" => (0..n - 1).for_each(|i| nodes[i].gossip().meet(&node(i + 1)).unwrap()),
        "random" => {
            let mut seed = 0x2545_f491_4f6c_dd1du64 ^ n as u64;
            for (i, x) in nodes.iter().enumerate().skip(1) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let j = (seed % i as u64) as usize;
                x.gossip().meet(&node(j)).unwrap();
            }
        }
        _ => {
            let all: Vec<Node> = (1..n).map(node).collect();
            nodes[0].gossip().minsert(&all, None).unwrap();
        }
    }
    let ok = until(&mut rx, 30, || {
        nodes.iter().all(|x| x.gossip().ring().number_nodes() == n)
    })
    .await;
    let sizes: Vec<usize> = nodes
        .iter()
        .map(|x| x.gossip().ring().number_nodes())
        .collect();
    assert!(ok, "{formation} of {n}: ring sizes {sizes:?}");
    let first = ids(&nodes[0]);
    assert!(nodes.iter().all(|x| ids(x) == first));
    for x in &nodes {
        x.kernel().stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_nodes_converge_however_they_meet() {
    for formation in ["star", "chain", "random", "minsert"] {
        converges(8, formation).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_node_removed_from_a_cluster_stays_out() {
    let nodes: Vec<ClusterNode> = start_all(5).await;
    let mut rx = events(&nodes);
    let node = |i: usize| nodes[i].kernel().node().clone();
    let all: Vec<Node> = (1..5).map(node).collect();
    nodes[0].gossip().minsert(&all, None).unwrap();
    assert!(until(&mut rx, 20, || nodes.iter().all(|x| ids(x).len() == 5)).await);
    // n4 is alive and keeps gossiping its ring, which still holds it.
    nodes[0].gossip().remove(&node(4)).unwrap();
    let out = ["n0", "n1", "n2", "n3"];
    assert!(
        until(&mut rx, 20, || nodes[..4].iter().all(|x| ids(x) == out)
            && ids(&nodes[4]) == ["n4"])
        .await,
        "rings: {:?}",
        nodes.iter().map(ids).collect::<Vec<_>>()
    );
    // More rounds of gossip from everyone: nothing brings it back.
    for x in &nodes {
        x.gossip().poll().unwrap();
    }
    let back = until(&mut rx, 1, || nodes[..4].iter().any(|x| ids(x) != out)).await;
    assert!(
        !back,
        "rings: {:?}",
        nodes.iter().map(ids).collect::<Vec<_>>()
    );
    for x in &nodes {
        x.kernel().stop();
    }
}

async fn start_all(n: usize) -> Vec<ClusterNode> {
    let mut nodes = vec![];
    for i in 0..n {
        nodes.push(start(&format!("n{i}"), opts(100)).await);
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_nodes_converge_however_they_meet() {
    for formation in ["star", "chain", "random", "minsert"] {
        converges(16, formation).await;
    }
}

/// One command the way the original CLI sends it, and the answer.
async fn command(port: u16, cookie: &str, event: &str, data: Value) -> Value {
    let body = json!({ "event": event, "data": data }).to_string();
    let buffer = notp::wire::buffer::to_json(body.as_bytes());
    let signed = format!(
        r#"{{"id":"command","tag":"t-1","from":{{"id":"cli_1"}},"stream":{{"stream":"s-1","done":true}},"data":{buffer}}}"#
    );
    let mut frame = vec![];
    let signer = notp::wire::Signer::new(cookie.as_bytes());
    notp::wire::frame_around(
        notp::wire::FrameType::Message,
        &signed,
        Some(&signer),
        &mut frame,
    );
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&frame).await.unwrap();
    let mut buf = vec![];
    while !buf.contains(&0x0c) {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "connection closed without an answer");
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = std::str::from_utf8(&buf[..buf.len() - 1]).unwrap();
    let inner = &text["{\"type\":\"message\",\"data\":".len()..text.len() - 1];
    assert!(
        notp::wire::verify_signed(inner, &signer),
        "answer is signed"
    );
    let mut v: Value = serde_json::from_str(inner).unwrap();
    let obj = v.as_object_mut().unwrap();
    obj.shift_remove("checkSum");
    assert_eq!(obj.shift_remove("tag"), Some(json!("t-1")));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cli_command_answers_like_the_brief() {
    let foo = start("foo", opts(100)).await;
    let port = foo.kernel().node().port();
    let me = json!({"id": "foo", "host": "127.0.0.1", "port": port});
    assert_eq!(
        command(port, "cookie", "ping", Value::Null).await,
        json!({"ok": true, "data": "pong"})
    );
    assert_eq!(
        command(port, "cookie", "nodes", Value::Null).await,
        json!({"ok": true, "data": [me]})
    );
    assert_eq!(
        command(port, "cookie", "has", json!({"id": "foo"})).await,
        json!({"ok": true, "data": true})
    );
    assert_eq!(
        command(port, "cookie", "has", json!({"id": "bar"})).await,
        json!({"ok": true, "data": false})
    );
    assert_eq!(
        command(port, "cookie", "get", json!({"id": "foo"})).await,
        json!({"ok": true, "data": me})
    );
    let missing = json!({"ok": false, "error": {"message": "'bar' is not defined in this ring.", "_error": true}});
    assert_eq!(
        command(port, "cookie", "get", json!({"id": "bar"})).await,
        missing
    );
    assert_eq!(
        command(port, "cookie", "weight", json!({"id": "foo"})).await,
        json!({"ok": true, "data": 3})
    );
    assert_eq!(
        command(port, "cookie", "weight", json!({"id": "bar"})).await,
        missing
    );
    assert_eq!(
        command(port, "cookie", "weights", Value::Null).await,
        json!({"ok": true, "data": {"foo": 3}})
    );
    let inspect = command(port, "cookie", "inspect", Value::Null).await;
    assert_eq!(inspect["data"], foo.gossip().ring().to_value());
    assert_eq!(
        command(port, "cookie", "join", json!({"id": "ring"})).await,
        json!({"ok": false, "error": {"message": "Node already belongs to ring 'ring'", "_error": true}})
    );
    let bar = json!({"id": "bar", "host": "127.0.0.1", "port": 1});
    let baz = json!({"id": "baz", "host": "127.0.0.1", "port": 2});
    for (cmd, args) in [
        (
            "insert",
            json!({"force": false, "weight": null, "node": bar}),
        ),
        ("update", json!({"force": true, "weight": 4, "node": bar})),
        (
            "minsert",
            json!({"force": false, "weight": null, "nodes": [baz, me]}),
        ),
        ("mremove", json!({"force": false, "nodes": [baz, me]})),
        ("remove", json!({"force": false, "node": bar})),
        ("meet", json!({"node": bar})),
    ] {
        assert_eq!(
            command(port, "cookie", cmd, args).await,
            json!({"ok": true}),
            "{cmd}"
        );
    }
    assert_eq!(
        command(port, "cookie", "weights", Value::Null).await,
        json!({"ok": true, "data": {"foo": 3}})
    );
    let unknown = command(port, "cookie", "frobnicate", Value::Null).await;
    assert_eq!(unknown["ok"], json!(false));
    assert_eq!(
        command(port, "cookie", "leave", json!({"force": false})).await,
        json!({"ok": true})
    );
    assert_eq!(
        command(port, "cookie", "join", json!({"id": "ring"})).await,
        json!({"ok": true})
    );
    foo.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_clis_ping_frame_is_answered() {
    let foo = start("foo", opts(100)).await;
    let v = common::load("wire.json");
    let cli = v["cli"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["label"] == "cli_ping")
        .unwrap();
    let frame = STANDARD
        .decode(
            cli["connections"][0]["cli_to_node"]["bytes_base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", foo.kernel().node().port()))
        .await
        .unwrap();
    s.write_all(&frame).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let got: Value = serde_json::from_slice(&buf[..n - 1]).unwrap();
    let want = &cli["connections"][0]["node_to_cli"]["parsed"][0];
    assert_eq!(got, *want, "byte-for-byte the original's answer");
    foo.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_gossip_frames_have_the_captured_structure() {
    // A raw listener stands in for the met node and records the join.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let a = start("node_a", opts(100)).await;
    a.gossip()
        .insert(&Node::new("node_c", "127.0.0.1", 1), None)
        .unwrap();
    a.gossip()
        .meet(&Node::new("node_b", "127.0.0.1", port))
        .unwrap();
    let (mut sock, _) = listener.accept().await.unwrap();
    let frame = common::read_frames(&mut sock, 1).await.remove(0);
    assert!(common::original_accepts(
        &frame,
        &notp::wire::Signer::new(b"cookie")
    ));
    let ours: Value = serde_json::from_slice(&frame).unwrap();
    let v = common::load("wire.json");
    let captured = v["writes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["phase"] == "gossip_meet_join")
        .unwrap();
    let bytes = STANDARD
        .decode(captured["bytes_base64"].as_str().unwrap())
        .unwrap();
    let theirs: Value =
        serde_json::from_slice(bytes.strip_suffix(&[0x0c]).unwrap_or(&bytes)).unwrap();
    // The envelope, key for key and type for type, down to the message.
    let top = |v: &Value| {
        let mut env = v["data"].clone();
        env["data"]["data"] = json!(null);
        common::shape(&env)
    };
    assert_eq!(top(&ours), top(&theirs));
    // The ring message: {type, actor, data, vclock, round}, with a ring and
    // a clock shaped as the original's.
    let msg = |v: &Value| v["data"]["data"]["data"].clone();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    let (m_ours, m_theirs) = (msg(&ours), msg(&theirs));
    assert_eq!(keys(&m_ours), keys(&m_theirs));
    assert_eq!(m_ours["type"], "join");
    assert_eq!(keys(&m_ours["data"]), keys(&m_theirs["data"]));
    let vnode = |v: &Value| common::shape(&v["data"]["tree"][0]);
    assert_eq!(vnode(&m_ours), vnode(&m_theirs));
    // (The captured join's clock is empty: entries as the original's.)
    for entry in m_ours["vclock"].as_object().unwrap().values() {
        assert_eq!(
            common::shape(entry),
            json!({"count": "number", "insert": "number", "time": "number"})
        );
    }
    assert_eq!(m_ours["round"], 0);
    a.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_join_is_merged() {
    let node_b = start("node_b", opts(100)).await;
    let v = common::load("wire.json");
    let w = v["writes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["phase"] == "gossip_meet_join")
        .unwrap();
    let frame = STANDARD
        .decode(w["bytes_base64"].as_str().unwrap())
        .unwrap();
    let mut rx = events(std::slice::from_ref(&node_b));
    let mut s = TcpStream::connect(("127.0.0.1", node_b.kernel().node().port()))
        .await
        .unwrap();
    s.write_all(&frame).await.unwrap();
    assert!(until(&mut rx, 5, || node_b.gossip().ring().is_defined("node_a")).await);
    node_b.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart_and_corruption_is_an_error() {
    let dir = std::env::temp_dir().join(format!("notp-flush-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ring.json");
    let mut o = opts(100);
    o.gossip.flush_path = Some(path.clone());
    let foo = start("foo", o.clone()).await;
    foo.gossip()
        .insert(&Node::new("bar", "127.0.0.1", 1), None)
        .unwrap();
    foo.gossip().flush().unwrap();
    let saved = foo.gossip().ring();
    foo.kernel().stop();

    let again = start("foo", o.clone()).await;
    assert_eq!(again.gossip().ring(), saved);
    assert_eq!(again.gossip().ring_id().as_deref(), Some("ring"));
    again.kernel().stop();

    let wrong = ClusterNode::start(
        Node::new("foo", "127.0.0.1", 0),
        "cookie",
        "other",
        o.clone(),
    )
    .await;
    assert_eq!(
        wrong.unwrap_err().to_string(),
        "Loaded ring ID 'ring' does not match 'other'"
    );

    std::fs::write(&path, "{not json").unwrap();
    let err = ClusterNode::start(Node::new("foo", "127.0.0.1", 0), "cookie", "ring", o)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid JSON blob"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every event left, up to the end of the subscription.
async fn rest(events: &GossipEvents) -> Vec<GossipEvent> {
    let mut out = vec![];
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), events.recv()).await {
        out.push(e);
    }
    out
}

async fn kernel(id: &str) -> Kernel {
    Kernel::start(Node::new(id, "127.0.0.1", 0), opts(100).kernel)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_attaches_to_a_running_kernel_and_detaches_from_it() {
    let k = kernel("att").await;
    let node = ClusterNode::attach(&k, "ring", opts(100).gossip).unwrap();
    assert!(k.is_registered("ring") && k.is_registered("command"));
    assert_eq!(node.gossip().ring_id().as_deref(), Some("ring"));
    let events = node.gossip().subscribe();
    events.want_sends(false);
    node.gossip()
        .insert(&Node::new("x", "127.0.0.1", 1), None)
        .unwrap();

    node.detach();
    assert!(
        node.is_stopped() && !k.is_stopped(),
        "the kernel keeps running"
    );
    assert!(!k.is_registered("ring") && !k.is_registered("command"));
    // The events queued before the stop, then the end.
    let seen = rest(&events).await;
    assert!(
        matches!(seen.first(), Some(GossipEvent::Process { .. })),
        "{seen:?}"
    );
    assert!(matches!(seen.last(), Some(GossipEvent::Close)), "{seen:?}");
    assert!(events.is_over());
    // One notion of stopped: every change is refused the same way.
    let x = Node::new("y", "127.0.0.1", 2);
    assert!(matches!(node.gossip().meet(&x), Err(ClusterError::Stopped)));
    assert!(matches!(
        node.gossip().insert(&x, None),
        Err(ClusterError::Stopped)
    ));
    assert!(matches!(
        node.gossip().join("again"),
        Err(ClusterError::Stopped)
    ));
    assert!(matches!(node.gossip().leave(), Err(ClusterError::Stopped)));
    assert_eq!(
        node.gossip().subscribe().recv().await,
        None,
        "ended at once"
    );
    // The name is free again for a new ring on the same kernel.
    let again = ClusterNode::attach(&k, "ring", opts(100).gossip).unwrap();
    again.stop();
    assert!(k.is_stopped());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_kernel_stops_its_ring() {
    let node = start("under", opts(50)).await;
    let events = node.gossip().subscribe();
    node.kernel().stop();
    assert!(node.is_stopped());
    assert!(matches!(node.gossip().poll(), Err(ClusterError::Stopped)));
    assert_eq!(rest(&events).await, [], "the subscription ends");
    assert_eq!(
        node.gossip().ring_id().as_deref(),
        Some("ring"),
        "still readable"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attach_undoes_everything_it_did() {
    let k = kernel("undo").await;
    // The command server's own name as the ring: the ring is served, then
    // the command server cannot start.
    let err = ClusterNode::attach(&k, "command", opts(100).gossip).unwrap_err();
    assert!(
        matches!(err, ClusterError::Net(notp::net::NetError::NameTaken(_))),
        "{err}"
    );
    assert!(
        !k.is_registered("command"),
        "the ring's server was unregistered"
    );
    assert!(!k.is_stopped(), "a kernel it did not start keeps running");
    // Without a command server the same ring attaches.
    let gossip = GossipRing::new(&k, opts(100).gossip);
    let how = Attach {
        command_server: false,
        ..Attach::default()
    };
    let node = ClusterNode::attach_ring(gossip, "command", how).unwrap();
    node.stop();

    // A start whose attach fails stops the kernel it started.
    let err = ClusterNode::start(Node::new("cmd", "127.0.0.1", 0), "", "command", opts(100))
        .await
        .unwrap_err();
    assert!(matches!(err, ClusterError::Net(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_read_before_the_start_is_not_read_again() {
    let dir = std::env::temp_dir().join(format!("notp-restore-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ring.json");
    let mut o = opts(100);
    o.gossip.flush_path = Some(path.clone());
    let first = start("rs", o.clone()).await;
    first
        .gossip()
        .insert(&Node::new("member", "127.0.0.1", 1), Some(2))
        .unwrap();
    first.gossip().flush().unwrap();
    let saved_ring = first.gossip().ring();
    first.kernel().stop();

    let k = kernel("rs").await;
    let saved = SavedState::read(&o.gossip, k.node()).unwrap().unwrap();
    // Corrupt now: an attach that read the file again would fail.
    std::fs::write(&path, "{not json").unwrap();
    let gossip = GossipRing::new(&k, o.gossip.clone());
    let how = Attach {
        restore: Restore::Read(Some(saved.clone())),
        ..Attach::default()
    };
    let wrong = ClusterNode::attach_ring(gossip, "other", how.clone()).unwrap_err();
    assert!(matches!(wrong, ClusterError::WrongRing { .. }), "{wrong}");
    let node =
        ClusterNode::attach_ring(GossipRing::new(&k, o.gossip.clone()), "ring", how).unwrap();
    assert_eq!(node.gossip().ring(), saved_ring);
    assert!(
        k.is_connected(&Node::new("member", "127.0.0.1", 1)),
        "members are connected"
    );
    k.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_gets_every_change_collapsed_and_the_final_ring() {
    let mut o = opts(100);
    o.gossip.event_backlog = 4;
    let node = start("slow", o).await;
    let before = node.gossip().ring();
    let events = node.gossip().subscribe();
    let members: Vec<Node> = (0..60)
        .map(|i| Node::new(format!("m{i}"), "127.0.0.1", 1000 + i))
        .collect();
    for (i, n) in members.iter().enumerate() {
        node.gossip().insert(n, None).unwrap();
        if i % 3 == 0 {
            node.gossip().remove(n).unwrap();
        }
    }
    let now = node.gossip().ring();
    let changes: Vec<_> = std::iter::from_fn(|| events.try_recv())
        .filter_map(|e| match e {
            GossipEvent::Process { old, new } => Some((old, new)),
            _ => None,
        })
        .collect();
    // Gossip messages (sends) went first; the changes collapsed into a
    // chain from the ring before to the ring now.
    assert!(
        !changes.is_empty() && changes.len() <= 4,
        "{}",
        changes.len()
    );
    assert_eq!(changes[0].0, before);
    assert_eq!(changes[changes.len() - 1].1, now);
    assert!(changes.windows(2).all(|w| w[0].1 == w[1].0));
    let counts = events.counts();
    assert!(
        counts.coalesced >= 60 && counts.dropped_sends > 0,
        "{counts:?}"
    );
    // find honours its size (nodes in all, the owner first), on the live
    // ring, and counts as range does.
    let owner = now.find("user:1").unwrap().clone();
    assert!(node.gossip().find("user:1", Some(0)).is_empty());
    assert_eq!(
        node.gossip().find("user:1", Some(1)),
        std::slice::from_ref(&owner)
    );
    let five = node.gossip().find(b"user:1", Some(5));
    assert_eq!(five.len(), 5);
    assert_eq!(five[0], owner);
    assert_eq!(
        five[1..],
        now.next(&owner, Some(4))
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()[..]
    );
    assert_eq!(
        node.gossip().find("user:1", None).len(),
        3,
        "pfactor + 1, as range"
    );
    assert_eq!(node.gossip().range("user:1", None).len(), 3);
    node.stop();
}

#[tokio::test]
async fn a_zero_or_nonsense_option_is_refused_at_start() {
    let mut bad = opts(100);
    bad.gossip.interval = 0;
    let refused = ClusterNode::start(Node::new("bad", "127.0.0.1", 0), "cookie", "ring", bad).await;
    let Err(ClusterError::Options(e)) = refused else {
        panic!("a zero gossip interval started anyway");
    };
    assert_eq!(e.option, "interval");
    let mut bad = opts(100);
    bad.kernel.max_pending = 0;
    let refused = ClusterNode::start(Node::new("bad", "127.0.0.1", 0), "cookie", "ring", bad).await;
    assert!(
        matches!(&refused, Err(ClusterError::Options(e)) if e.option == "max_pending"),
        "{refused:?}"
    );
}
