//! A cluster node's state as the original's setters, `stop`, `pause` and
//! `idle` see it, on loopback: a clean stop saves the ring from before
//! leaving, a replacement takes effect at once, a paused ring neither
//! gossips nor listens, idleness follows the streams in flight, and the
//! command server's dispatcher answers a door's own calls.

use std::time::Duration;

use notp::cluster::{command, ClusterNode, ClusterOptions, GossipEvent, GossipEvents, Replacement};
use notp::gossip::GossipOptions;
use notp::net::KernelOptions;
use notp::{CHash, Node, VectorClock};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

fn opts(interval_ms: u64, flush: Option<&std::path::Path>) -> ClusterOptions {
    ClusterOptions {
        kernel: KernelOptions {
            retry: Duration::from_millis(50),
            ..KernelOptions::default()
        },
        gossip: GossipOptions {
            interval: interval_ms,
            flush_interval: interval_ms,
            flush_path: flush.map(std::path::Path::to_owned),
            ..GossipOptions::default()
        },
    }
}

async fn start(id: &str, o: ClusterOptions) -> ClusterNode {
    ClusterNode::start(Node::new(id, "127.0.0.1", 0), "", "ring", o)
        .await
        .unwrap()
}

/// Starts node `id` on `port` again, once the stopped node's listener has
/// let the port go.
async fn restart(id: &str, port: u16, o: ClusterOptions) -> ClusterNode {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match ClusterNode::start(Node::new(id, "127.0.0.1", port), "", "ring", o.clone()).await {
            Ok(node) => return node,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!("port {port} not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot start {id} on port {port} again: {e}"),
        }
    }
}

/// Waits until `done` holds, re-checking on every event of `events` (and
/// at least every 10 ms, for state no event announces); false after WAIT.
async fn until(events: &GossipEvents, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        let _ = tokio::time::timeout(Duration::from_millis(10), events.recv()).await;
    }
    done()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("notp-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_saves_the_ring_from_before_leaving_and_a_restart_resumes_it() {
    let dir = temp_dir("clean-stop");
    let path = dir.join("ring.json");
    let a = start("a", opts(50, Some(&path))).await;
    let b = start("b", opts(50, None)).await;
    let b_events = b.gossip().subscribe();
    b_events.want_sends(false);
    a.gossip().insert(b.kernel().node(), None).unwrap();
    assert!(until(&b_events, || b.gossip().ring().is_defined("a")).await);
    let before = a.gossip().ring();

    let a_port = a.kernel().node().port();
    a.stop();
    // The others were told: b's ring loses a.
    assert!(until(&b_events, || !b.gossip().ring().is_defined("a")).await);
    // The file holds the ring and ring id from before leaving.
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["ring"], "ring");
    assert_eq!(CHash::from_value(&saved["chash"]).unwrap(), before);

    // On the same port: the saved ring names a by its address.
    let again = restart("a", a_port, opts(50, Some(&path))).await;
    let again_events = again.gossip().subscribe();
    assert_eq!(again.gossip().ring_id().as_deref(), Some("ring"));
    assert_eq!(
        again.gossip().ring(),
        before,
        "the restart resumes the ring"
    );
    // b, told that a left, answers its gossip with a removal notice: a
    // starts over alone, still in ring "ring", ready to be met again.
    assert!(until(&again_events, || again.gossip().ring().number_nodes() == 1).await);
    assert_eq!(again.gossip().ring_id().as_deref(), Some("ring"));
    again.gossip().meet(b.kernel().node()).unwrap();
    assert!(
        until(&b_events, || b.gossip().ring().is_defined("a")).await,
        "met again"
    );

    // The same for a ring stopped on a kernel that keeps running.
    again
        .gossip()
        .insert(&Node::new("x", "127.0.0.1", 1), None)
        .unwrap();
    let with_x = again.gossip().ring();
    again.detach();
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(saved["ring"], "ring");
    assert_eq!(CHash::from_value(&saved["chash"]).unwrap(), with_x);
    again.kernel().stop();
    b.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_takes_effect_at_once_without_a_new_version() {
    let a = start("a", opts(1000, None)).await;
    let gossip = a.gossip();
    gossip
        .insert(&Node::new("y", "127.0.0.1", 2), None)
        .unwrap();
    let events = gossip.subscribe();
    let clock = gossip.vclock();
    let x = Node::new("x", "127.0.0.1", 1);
    let mut ring = CHash::new(3, 2);
    ring.insert(a.kernel().node().clone(), None).unwrap();
    ring.insert(x.clone(), Some(5)).unwrap();

    gossip
        .replace(Replacement {
            ring: Some(ring.clone()),
            ..Replacement::default()
        })
        .unwrap();
    assert_eq!(gossip.ring(), ring);
    assert_eq!(gossip.vclock(), clock, "no new version");
    assert!(events.try_recv().is_none(), "no event, nothing sent");
    assert!(
        a.kernel().is_connected(&x),
        "the connections follow the ring"
    );
    assert!(!a.kernel().is_connected_id("y"));

    let mut mine = VectorClock::new();
    mine.increment("mine");
    gossip
        .replace(Replacement {
            clock: Some(mine.clone()),
            actor: Some("mine".into()),
            ..Replacement::default()
        })
        .unwrap();
    assert_eq!(
        (gossip.vclock(), gossip.actor().as_deref()),
        (mine, Some("mine"))
    );

    // A new ring id moves the ring's server; a taken name changes nothing.
    let rename = |id: Option<&str>| Replacement {
        ring_id: Some(id.map(str::to_owned)),
        ..Replacement::default()
    };
    gossip.replace(rename(Some("other"))).unwrap();
    assert_eq!(gossip.ring_id().as_deref(), Some("other"));
    assert!(a.kernel().is_registered("other") && !a.kernel().is_registered("ring"));
    assert!(gossip.replace(rename(Some("command"))).is_err());
    assert_eq!(gossip.ring_id().as_deref(), Some("other"));
    assert!(a.kernel().is_registered("other"));
    // No ring id: out of any ring, and free to join one.
    gossip.replace(rename(None)).unwrap();
    assert_eq!(gossip.ring_id(), None);
    assert!(!a.kernel().is_registered("other"));
    gossip.join("again").unwrap();
    assert!(a.kernel().is_registered("again"));
    a.stop();
}

/// The number of `send` events in what waits in `events`.
fn sends(events: &GossipEvents) -> usize {
    std::iter::from_fn(|| events.try_recv())
        .filter(|e| matches!(e, GossipEvent::Send { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_ring_neither_gossips_nor_listens_until_resumed() {
    let a = start("a", opts(20, None)).await;
    let b = start("b", opts(20, None)).await;
    let (a_events, b_events) = (a.gossip().subscribe(), b.gossip().subscribe());
    b.gossip().insert(a.kernel().node(), None).unwrap();
    assert!(until(&a_events, || a.gossip().ring().is_defined("b")).await);

    a.gossip().pause();
    assert!(a.gossip().is_paused());
    sends(&a_events);
    let x = Node::new("x", "127.0.0.1", 1);
    b.gossip().insert(&x, None).unwrap();
    // b's polls are the clock: after ten of them (each to a, its only
    // other reachable member, or x), a has sent nothing and taken nothing.
    let mut b_sent = 0;
    assert!(
        until(&b_events, || {
            b_sent += sends(&b_events);
            b_sent >= 10
        })
        .await
    );
    assert_eq!(sends(&a_events), 0, "no poll while paused");
    assert!(
        !a.gossip().ring().is_defined("x"),
        "ring messages are dropped"
    );
    // Changes asked for meanwhile are still made and sent.
    a.gossip()
        .insert(&Node::new("z", "127.0.0.1", 3), None)
        .unwrap();
    assert!(sends(&a_events) > 0);

    a.gossip().unpause();
    assert!(until(&a_events, || a.gossip().ring().is_defined("x")).await);
    let mut a_sent = 0;
    assert!(
        until(&a_events, || {
            a_sent += sends(&a_events);
            a_sent > 0
        })
        .await
    );
    a.stop();
    b.stop();
}

/// A `"message"` frame of a stream to `target` (no cookie: unsigned).
fn chunk(target: &str, stream: &str, done: bool, data: Value) -> Vec<u8> {
    let frame = json!({
        "type": "message",
        "data": {
            "id": target,
            "tag": null,
            "from": {"id": "peer", "host": "127.0.0.1", "port": 1},
            "stream": {"done": done, "stream": stream},
            "data": data,
        }
    });
    let mut bytes = serde_json::to_vec(&frame).unwrap();
    bytes.push(0x0c);
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_follows_the_streams_in_flight_to_the_ring() {
    let a = start("a", opts(1000, None)).await;
    let events = a.gossip().subscribe();
    assert!(a.gossip().is_idle());
    let mut sock = TcpStream::connect(("127.0.0.1", a.kernel().node().port()))
        .await
        .unwrap();
    let one = "a".repeat(48);
    let two = "b".repeat(48);
    let byte = json!({"type": "Buffer", "data": [123]});
    sock.write_all(&chunk("ring", &one, false, byte.clone()))
        .await
        .unwrap();
    sock.write_all(&chunk("elsewhere", &two, false, byte))
        .await
        .unwrap();
    assert!(until(&events, || !a.gossip().is_idle()).await);
    assert!(until(&events, || a.kernel().streams_in_flight("elsewhere") == 1).await);
    sock.write_all(&chunk("ring", &one, true, Value::Null))
        .await
        .unwrap();
    assert!(
        until(&events, || a.gossip().is_idle()).await,
        "the stream ended"
    );
    assert_eq!(a.kernel().streams_in_flight("elsewhere"), 1);
    drop(sock);
    assert!(
        until(&events, || a.kernel().streams_in_flight("elsewhere") == 0).await,
        "a closed connection's streams are gone"
    );
    a.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_dispatcher_answers_a_doors_own_calls() {
    let a = start("a", opts(1000, None)).await;
    let g = a.gossip();
    let run = |command: &str, args: Value| command::answer(command::execute(g, command, &args));
    assert_eq!(
        run("ping", Value::Null),
        json!({"ok": true, "data": "pong"})
    );
    let bar = json!({"id": "bar", "host": "127.0.0.1", "port": 7023});
    assert_eq!(
        run("insert", json!({"node": bar, "weight": 4})),
        json!({"ok": true})
    );
    assert_eq!(
        run("weight", json!({"id": "bar"})),
        json!({"ok": true, "data": 4})
    );
    assert_eq!(
        run("get", json!({"id": "bar"})),
        json!({"ok": true, "data": bar})
    );
    let missing = run("get", json!({"id": "nope"}));
    assert_eq!(
        missing["error"]["message"],
        "'nope' is not defined in this ring."
    );
    let joined = run("join", json!({"id": "again"}));
    assert_eq!(
        joined["error"]["message"],
        "Node already belongs to ring 'ring'"
    );
    // What `check` refuses, `execute` refuses the same way.
    for (command, args) in [
        ("nope", Value::Null),
        ("get", Value::Null),
        ("meet", json!({})),
    ] {
        let refused = command::check(command, &args).unwrap_err();
        assert_eq!(run(command, args)["error"]["message"], refused.as_str());
    }
    a.stop();
}
