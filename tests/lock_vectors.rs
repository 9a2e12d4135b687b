//! The original's DLM/DSM traffic between two nodes (`storage/locks.json`)
//! replayed through our lock and semaphore state machines: every job a
//! server received (over the wire, or in-process from its own node's
//! client) goes into ours in the captured order, on a virtual clock; every
//! captured reply must be ours, every table log line ours (timestamps
//! aside), and the state at the end, after a stop and after a fresh load of
//! the captured logs must be the original's.

mod common;

use std::collections::HashMap;

use notp::lock::{DlmServer, DsmServer, Effects, LockView, Reply, SemaphoreView, Timer, TimerId};
use notp::table::codec::encode_log_line;
use notp::table::files::FileKind;
use notp::table::{MTable, Op, TypedJson};
use notp::wire::js_json;
use serde_json::{json, Value as Json};

#[derive(Default)]
struct Node {
    dlm: DlmServer,
    dsm: DsmServer,
    dlm_log: Vec<Op>,
    dsm_log: Vec<Op>,
    /// Deadline (virtual ms), timer, whether it is the semaphore server's.
    timers: Vec<(f64, TimerId, bool)>,
}

impl Node {
    fn apply(&mut self, fx: &Effects, sem: bool, now: f64) {
        if sem {
            self.dsm_log.extend(fx.table.iter().cloned());
        } else {
            self.dlm_log.extend(fx.table.iter().cloned());
        }
        for t in &fx.timers {
            match t {
                Timer::Start { id, after } => {
                    self.timers
                        .push((now + after.as_secs_f64() * 1000.0, *id, sem))
                }
                Timer::Cancel(id) => self.timers.retain(|(_, t, s)| !(t == id && *s == sem)),
            }
        }
    }

    fn fire_due(&mut self, now: f64) {
        self.timers.sort_by(|a, b| a.0.total_cmp(&b.0));
        while self.timers.first().is_some_and(|t| t.0 <= now) {
            let (_, id, sem) = self.timers.remove(0);
            let fx = if sem {
                self.dsm.on_timer(id)
            } else {
                self.dlm.on_timer(id)
            };
            assert!(fx.reply.is_none());
            self.apply(&fx, sem, now);
        }
    }
}

fn frame_data(frame: &Json) -> Json {
    let text = frame["text"].as_str().unwrap().trim_end_matches('\u{c}');
    let v: Json = serde_json::from_str(text).unwrap();
    v["data"].clone()
}

/// Log lines with the grant times (`start`, `Date.now()`) blanked out.
fn lines(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .map(|op| {
            let mut line = String::new();
            encode_log_line(&TypedJson, op, &mut line);
            blank_start(line.trim_end())
        })
        .collect()
}

fn blank_start(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(i) = rest.find("\"start\":") {
        out.push_str(&rest[..i + 8]);
        rest = rest[i + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push('0');
    }
    out.push_str(rest);
    out
}

fn captured_log(vectors: &Json, node: &str, file: &str) -> Vec<String> {
    let files = vectors["server_tables"]["files"][node].as_array().unwrap();
    let text = files
        .iter()
        .find(|f| f["name"] == file)
        .map(|f| f["text"].as_str().unwrap())
        .unwrap_or("");
    text.lines().map(blank_start).collect()
}

fn lock_views(locks: &[LockView]) -> Json {
    Json::Array(
        locks
            .iter()
            .map(|l| match l {
                LockView::Read { id, holders } => {
                    json!({"id": id, "type": "read", "holders": holders})
                }
                LockView::Write { id, .. } => json!({"id": id, "type": "write"}),
            })
            .collect(),
    )
}

fn sem_views(sems: &[SemaphoreView]) -> Json {
    // n as JavaScript writes it (2, not 2.0).
    let n = |x: f64| -> Json { serde_json::from_str(&js_json::to_string(&json!(x))).unwrap() };
    Json::Array(
        sems.iter()
            .map(|s| json!({"id": s.id, "n": n(s.n), "holders": s.holders}))
            .collect(),
    )
}

/// The job of a frame that also reached the sender's own server: DLM
/// client requests go to every node of the range, the sender's included;
/// the hand-made `probe` calls went to node_b only.
fn also_local(phase: &str, server: &str, job: &Json) -> bool {
    server == "locker" && phase != "dlm_malformed_job_no_reply" && job["holder"] != "solo"
}

/// Where the capture waited 600 ms for leases to end: before the job of
/// the holder that takes the lock next, or before the second read.
fn waits_before(phase: &str, job: &Json, reads_seen: usize) -> bool {
    matches!(
        (phase, job["holder"].as_str()),
        ("dlm_wlock_expiry", Some("w_next")) | ("dlm_rlock_expiry", Some("w3"))
    ) || (phase == "dsm_post_expiry"
        && job.get("holder").is_none()
        && job.get("n").is_none()
        && reads_seen == 1)
}

#[test]
fn the_originals_lock_traffic_gets_the_same_answers_and_table_writes() {
    let v = common::load("storage/locks.json");
    let mut nodes: HashMap<String, Node> = HashMap::new();
    nodes.insert("node_a".into(), Node::default());
    nodes.insert("node_b".into(), Node::default());
    let mut now = 1_796_691_008_000.0_f64;
    // Reply tag → what our server answered, and the job.
    let mut pending: HashMap<String, (Reply, String, Json)> = HashMap::new();
    let mut reads_seen: HashMap<String, usize> = HashMap::new();
    let mut replies_checked = 0;
    for frame in v["frames"].as_array().unwrap() {
        let phase = frame["phase"].as_str().unwrap();
        let summary = &frame["summary"];
        let data = frame_data(frame);
        now += 1.0;
        let kind = summary["kind"].as_str().unwrap();
        if kind != "reply" {
            let job = &summary["job"];
            let reads = reads_seen.entry(phase.to_owned()).or_default();
            if waits_before(phase, job, *reads) {
                now += 600.0;
            }
            if summary["event"] == "read" {
                *reads += 1;
            }
        }
        for n in nodes.values_mut() {
            n.fire_due(now);
        }
        let to = frame["to"].as_str().unwrap().to_owned();
        let writer = frame["writer"].as_str().unwrap().to_owned();
        match kind {
            "call" | "cast" => {
                let server = summary["server"].as_str().unwrap();
                let event = summary["event"].as_str().unwrap();
                let job = &summary["job"];
                assert_eq!(&data["data"]["data"], job);
                let sem = server == "sem";
                let deliver = |node: &mut Node| {
                    let fx = if sem {
                        node.dsm.handle(event, job, now as u64)
                    } else {
                        node.dlm.handle(event, job, now as u64)
                    };
                    node.apply(&fx, sem, now);
                    fx
                };
                let fx = deliver(nodes.get_mut(&to).unwrap());
                if also_local(phase, server, job) {
                    deliver(nodes.get_mut(&writer).unwrap());
                }
                if kind == "call" {
                    let tag = data["tag"].as_str().unwrap().to_owned();
                    pending.insert(
                        tag,
                        (
                            fx.reply.expect("a job is answered"),
                            phase.to_owned(),
                            json!({"event": event, "job": job}),
                        ),
                    );
                } else {
                    assert!(data["tag"].is_null());
                }
            }
            "reply" => {
                let tag = data["id"].as_str().unwrap();
                let (ours, _, job) = pending.remove(tag).expect("a reply to a call we saw");
                match (&ours, data["stream"].get("error")) {
                    (Reply::Error(e), Some(err)) => {
                        assert_eq!(e.message, err["message"].as_str().unwrap(), "{phase} {job}")
                    }
                    (Reply::Ok { .. }, None) => {
                        assert_eq!(ours.to_json(), data["data"], "{phase} {job}")
                    }
                    _ => panic!("{phase} {job}: we answered {ours:?}, the original {data}"),
                }
                replies_checked += 1;
            }
            other => panic!("frame kind {other}"),
        }
    }
    let reply_frames = v["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["summary"]["kind"] == "reply")
        .count();
    assert_eq!(replies_checked, reply_frames);

    // The calls the original never answered: malformed jobs. Ours answer
    // with the original's own parse errors.
    let mut unanswered: Vec<(String, Json, Json)> = pending
        .into_values()
        .map(|(reply, phase, job)| match reply {
            Reply::Error(e) => (phase, job, e.to_json()),
            other => panic!("{phase} {job}: unanswered by the original, answered {other:?} here"),
        })
        .collect();
    unanswered.sort_by_key(|(p, j, _)| (p.clone(), j.to_string()));
    assert_eq!(
        unanswered
            .iter()
            .map(|(_, _, e)| e.clone())
            .collect::<Vec<_>>(),
        vec![
            json!({"message": "Malformed job; unrecognized command 'frob'", "_error": true}),
            json!({"message": "Malformed job for command 'rlock'.", "_error": true, "fails": {"timeout": "Must be a positive JSON number."}}),
            json!({"message": "Malformed job for command 'create'.", "_error": true, "fails": {"n": "Must be a positive JSON number."}}),
        ]
    );

    // Table writes, in order, on each node.
    for (node, dlm, dsm) in [
        ("node_a", "locker_LATEST.LOG", "sem_LATEST.LOG"),
        ("node_b", "locker_LATEST.LOG", "sem_LATEST.LOG"),
    ] {
        let n = &nodes[node];
        assert_eq!(
            lines(&n.dlm_log),
            captured_log(&v, node, dlm),
            "{node} {dlm}"
        );
        assert_eq!(
            lines(&n.dsm_log),
            captured_log(&v, node, dsm),
            "{node} {dsm}"
        );
        let mem = &v["server_tables"]["in_memory"][node];
        assert_eq!(lock_views(&n.dlm.locks()), mem["dlm_locks"], "{node}");
        assert_eq!(
            sem_views(&n.dsm.semaphores()),
            mem["dsm_semaphores"],
            "{node}"
        );
    }

    // A stop clears the table, and the clear is logged.
    let stop = nodes.get_mut("node_b").unwrap().dlm.stop();
    let stop_sem = nodes.get_mut("node_b").unwrap().dsm.stop();
    for (fx, file) in [(stop, "locker_LATEST.LOG"), (stop_sem, "sem_LATEST.LOG")] {
        assert_eq!(
            json!(lines(&fx.table)),
            v["server_tables"]["last_log_line_after_server_stop"]["node_b"][file]
        );
    }
}

#[test]
fn fresh_servers_load_the_originals_tables() {
    let v = common::load("storage/locks.json");
    for node in ["node_a", "node_b"] {
        let load = |file: &str| {
            let raw: String = v["server_tables"]["files"][node]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == file)
                .map(|f| f["text"].as_str().unwrap().to_owned())
                .unwrap_or_default();
            let mut table = MTable::new();
            let report = notp::table::replay::replay(
                raw.as_bytes(),
                FileKind::Log,
                file,
                &TypedJson,
                &mut table,
            );
            assert_eq!(report.skipped(), 0);
            table
        };
        // Loaded well within the leases (60 s) of the locks left held.
        let now = 1_796_691_020_000;
        let mut dlm = DlmServer::default();
        let timers = dlm.load(&load("locker_LATEST.LOG"), now);
        let mut dsm = DsmServer::default();
        dsm.load(&load("sem_LATEST.LOG"), now);
        let want = &v["server_tables"]["load_into_fresh_servers"]["result"][node];
        assert_eq!(lock_views(&dlm.locks()), want["dlm_locks"], "{node}");
        assert_eq!(
            sem_views(&dsm.semaphores()),
            want["dsm_semaphores"],
            "{node}"
        );
        // Leases re-armed for what is left: 60 s from their start.
        for t in timers {
            let Timer::Start { after, .. } = t else {
                panic!()
            };
            assert!(
                after.as_millis() > 50_000 && after.as_millis() <= 60_000,
                "{after:?}"
            );
        }
    }
}
