//! The `ncl` binary against a node started in-process: every command of the
//! brief one-shot, the interactive session, help, failures (wrong cookie,
//! unreachable node), and the frames compared with the original CLI's
//! captured ones (wire.json, "cli").

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notp::cluster::{ClusterNode, ClusterOptions};
use notp::wire::{self, js_json, FrameType, Signer};
use notp::Node;
use serde_json::{json, Value};

/// Longest any `ncl` run may take before the test fails (it is killed).
const LIMIT: Duration = Duration::from_secs(30);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Runs `ncl args…` with `stdin`, waiting at most [`LIMIT`].
fn ncl_with_input(args: &[&str], stdin: &str) -> Run {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ncl"))
        .args(args)
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ncl starts");
    let mut input = child.stdin.take().expect("stdin");
    let input_text = stdin.to_owned();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(input_text.as_bytes());
    });
    let (mut out, mut err) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut o, mut e) = (String::new(), String::new());
        let _ = out.read_to_string(&mut o);
        let _ = err.read_to_string(&mut e);
        let _ = tx.send((o, e));
    });
    let Ok((stdout, stderr)) = rx.recv_timeout(LIMIT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("ncl {args:?} did not finish within {LIMIT:?}");
    };
    let status = child.wait().expect("ncl exits");
    let _ = writer.join();
    Run {
        code: status.code(),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    }
}

fn ncl(args: &[&str]) -> Run {
    ncl_with_input(args, "")
}

/// The pretty JSON ncl prints for `v` (as `JSON.stringify(v, null, 2)`:
/// serde_json's pretty printer agrees for these values).
fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

struct TestNode {
    rt: tokio::runtime::Runtime,
    node: ClusterNode,
    port: String,
}

impl TestNode {
    fn start(cookie: &str) -> TestNode {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let node = rt
            .block_on(ClusterNode::start(
                Node::new("foo", "127.0.0.1", 0),
                cookie,
                "ring",
                ClusterOptions::default(),
            ))
            .unwrap();
        let port = node.kernel().node().port().to_string();
        TestNode { rt, node, port }
    }

    /// `ncl -I foo -H 127.0.0.1 -p <port> -a cookie <command…>`.
    fn run(&self, command: &str) -> Run {
        let mut args = vec![
            "-I",
            "foo",
            "-H",
            "127.0.0.1",
            "-p",
            &self.port,
            "-a",
            "cookie",
        ];
        args.extend(command.split_whitespace());
        ncl(&args)
    }

    /// Runs `command`, expecting `answer` printed and the exit code.
    fn expect(&self, command: &str, answer: Value, code: i32) {
        let run = self.run(command);
        assert_eq!(run.code, Some(code), "{command}: {run:?}");
        assert_eq!(run.stdout, pretty(&answer), "{command}: {run:?}");
        assert_eq!(run.stderr, "", "{command}");
    }

    fn ok(&self, command: &str) {
        self.expect(command, json!({"ok": true}), 0);
    }

    fn me(&self) -> Value {
        json!({"id": "foo", "host": "127.0.0.1", "port": self.node.kernel().node().port()})
    }

    fn ring(&self) -> notp::CHash {
        self.node.gossip().ring()
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _guard = self.rt.enter();
        self.node.stop();
    }
}

fn undefined(id: &str) -> Value {
    json!({"ok": false, "error": {"message": format!("'{id}' is not defined in this ring."), "_error": true}})
}

#[test]
fn read_only_commands_print_the_nodes_state() {
    let n = TestNode::start("cookie");
    let run = n.run("ping");
    assert_eq!(run.stdout, "{\n  \"ok\": true,\n  \"data\": \"pong\"\n}\n");
    assert_eq!(run.code, Some(0));

    n.expect("nodes", json!({"ok": true, "data": [n.me()]}), 0);
    n.expect(
        "inspect",
        json!({"ok": true, "data": n.ring().to_value()}),
        0,
    );
    let inspect = n.run("inspect").stdout;
    assert!(inspect.contains("\"key\": \"avmox6bKHfmLdzmObwjwIrh2WC6XM471ods56FWbDo0=\""));
    assert!(inspect.starts_with("{\n  \"ok\": true,\n  \"data\": {\n    \"rfactor\": 3,\n    \"pfactor\": 2,\n    \"tree\": [\n      {\n"));

    n.expect("has foo", json!({"ok": true, "data": true}), 0);
    n.expect("has bar", json!({"ok": true, "data": false}), 0);
    n.expect("get foo", json!({"ok": true, "data": n.me()}), 0);
    n.expect("get bar", undefined("bar"), 1);
    assert_eq!(
        n.run("get bar").stdout,
        "{\n  \"ok\": false,\n  \"error\": {\n    \"message\": \"'bar' is not defined in this ring.\",\n    \"_error\": true\n  }\n}\n"
    );
    n.expect("weight foo", json!({"ok": true, "data": 3}), 0);
    n.expect("weight bar", undefined("bar"), 1);
    n.expect("weights", json!({"ok": true, "data": {"foo": 3}}), 0);
}

#[test]
fn ring_changing_commands_change_the_ring() {
    let n = TestNode::start("cookie");
    n.expect(
        "join ring",
        json!({"ok": false, "error": {"message": "Node already belongs to ring 'ring'", "_error": true}}),
        1,
    );

    n.ok("insert bar 127.0.0.1 7023");
    let bar = json!({"id": "bar", "host": "127.0.0.1", "port": 7023});
    n.expect("get bar", json!({"ok": true, "data": bar}), 0);
    n.expect("weight bar", json!({"ok": true, "data": 3}), 0);
    n.ok("insert --force --weight 5 baz 127.0.0.1 7024");
    assert_eq!(n.ring().weight("baz"), Some(5));
    n.ok("insert qux 127.0.0.1 7025 2");
    assert_eq!(n.ring().weight("qux"), Some(2));
    n.expect(
        "weights",
        json!({"ok": true, "data": {"foo": 3, "bar": 3, "baz": 5, "qux": 2}}),
        0,
    );
    n.expect("nodes", json!({"ok": true, "data": n.ring().nodes()}), 0);

    n.ok("update bar 127.0.0.1 7023 4");
    assert_eq!(n.ring().weight("bar"), Some(4));
    n.ok(&format!("update --force foo 127.0.0.1 {} 4", n.port));
    assert_eq!(n.ring().weight("foo"), Some(4));
    n.ok("remove bar 127.0.0.1 7023");
    n.expect("has bar", json!({"ok": true, "data": false}), 0);
    n.ok("remove --force qux 127.0.0.1 7025");
    assert!(!n.ring().is_defined("qux"));

    n.ok("minsert a 127.0.0.1 7031 b 127.0.0.1 7032");
    assert!(n.ring().is_defined("a") && n.ring().is_defined("b"));
    n.ok("minsert --force -w 2 c 127.0.0.1 7033");
    assert_eq!(n.ring().weight("c"), Some(2));
    n.ok("mremove a 127.0.0.1 7031 b 127.0.0.1 7032");
    assert!(!n.ring().is_defined("a") && !n.ring().is_defined("b"));
    n.ok("mremove --force c 127.0.0.1 7033");
    assert!(!n.ring().is_defined("c"));

    // The met node is not inserted until it answers (it never will here).
    n.ok("meet m 127.0.0.1 7040");
    n.expect("has m", json!({"ok": true, "data": false}), 0);

    n.ok("leave");
    assert_eq!(n.node.gossip().ring_id(), None);
    n.ok("join ring");
    assert_eq!(n.node.gossip().ring_id().as_deref(), Some("ring"));
    n.ok("leave --force");
    assert_eq!(n.node.gossip().ring_id(), None);
    n.expect("nodes", json!({"ok": true, "data": [n.me()]}), 0);
}

#[test]
fn bad_arguments_send_nothing() {
    // Nothing listens on port 1: a usage error must come before connecting.
    for command in [
        "meet bar localhost",
        "meet bar localhost port",
        "insert bar localhost 7023 0",
        "minsert bar localhost",
        "get",
        "frobnicate",
        "help frobnicate",
    ] {
        let mut args = vec!["-H", "127.0.0.1", "-p", "1"];
        args.extend(command.split_whitespace());
        let run = ncl(&args);
        assert_eq!(run.code, Some(64), "{command}: {run:?}");
        assert_eq!(run.stdout, "", "{command}");
        assert!(!run.stderr.contains("cannot reach"), "{command}: {run:?}");
    }
    let run = ncl(&["-p", "1", "meet", "bar", "localhost", "x"]);
    assert!(run.stderr.contains("<port> must be a number"), "{run:?}");
    assert!(
        run.stderr.contains("usage: meet <id> <host> <port>"),
        "{run:?}"
    );
    let run = ncl(&["-p", "notaport", "ping"]);
    assert_eq!(run.code, Some(64), "{run:?}");
}

#[test]
fn help_lists_and_describes_commands() {
    let run = ncl(&["help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for name in [
        "join", "leave", "meet", "insert", "minsert", "update", "remove", "mremove", "inspect",
        "nodes", "has", "get", "weight", "weights", "ping", "help",
    ] {
        assert!(
            run.stdout.lines().any(|l| l.trim_start().starts_with(name)),
            "{name} listed"
        );
    }
    let run = ncl(&["help", "insert"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.starts_with("Usage: insert [--force]"), "{run:?}");
    assert!(run.stdout.contains("-f, --force"));
    assert!(run.stdout.contains("-w, --weight <n>"));
    let run = ncl(&["--help"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("--instance") && run.stdout.contains("--timeout"));
}

#[test]
fn a_wrong_cookie_gets_no_answer_and_says_so() {
    let n = TestNode::start("cookie");
    for key in ["wrong", ""] {
        let run = ncl(&[
            "-I",
            "foo",
            "-H",
            "127.0.0.1",
            "-p",
            &n.port,
            "-a",
            key,
            "-t",
            "300",
            "ping",
        ]);
        assert_eq!(run.code, Some(3), "{run:?}");
        assert_eq!(run.stdout, "");
        assert!(
            run.stderr.contains("did not answer within 300 ms"),
            "{run:?}"
        );
        assert!(run.stderr.contains("cookie"), "{run:?}");
        assert!(run.elapsed < Duration::from_secs(10), "{run:?}");
    }
}

#[test]
fn an_unreachable_node_is_reported() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port().to_string()
    };
    let run = ncl(&[
        "-I",
        "foo",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "2000",
        "ping",
    ]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_eq!(
        run.stderr,
        format!("ncl: cannot reach foo at 127.0.0.1:{port}: connection refused\n")
    );
}

#[test]
fn a_node_without_cookie_is_driven_with_the_default_key() {
    let n = TestNode::start("");
    let run = ncl(&["-H", "127.0.0.1", "-p", &n.port, "ping"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "{\n  \"ok\": true,\n  \"data\": \"pong\"\n}\n");
    // With a key, an unsigned answer is not trusted.
    let run = ncl(&[
        "-H",
        "127.0.0.1",
        "-p",
        &n.port,
        "-a",
        "k",
        "-t",
        "300",
        "ping",
    ]);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("not with a valid signature"), "{run:?}");
}

#[test]
fn the_interactive_session_runs_commands_until_quit() {
    let n = TestNode::start("cookie");
    let input = "ping\n\nget bar\nbogus\nhas 'foo'\nhelp\nhelp get\nquit\nping\n";
    let run = ncl_with_input(
        &[
            "-I",
            "foo",
            "-H",
            "127.0.0.1",
            "-p",
            &n.port,
            "-a",
            "cookie",
        ],
        input,
    );
    assert_eq!(run.code, Some(0), "{run:?}");
    let expected = [
        pretty(&json!({"ok": true, "data": "pong"})),
        pretty(&undefined("bar")),
        pretty(&json!({"ok": true, "data": true})),
    ];
    let mut at = 0;
    for part in &expected {
        let found = run.stdout[at..].find(part.as_str());
        assert!(found.is_some(), "{part} after {at}: {run:?}");
        at += found.unwrap_or(0) + part.len();
    }
    assert!(run.stdout.contains("quit, exit"), "{run:?}");
    assert!(run.stdout.contains("Usage: get <id>"), "{run:?}");
    // Nothing runs after quit.
    assert_eq!(run.stdout.matches("\"pong\"").count(), 1, "{run:?}");
    assert!(
        run.stderr.contains("Connected to foo at 127.0.0.1:"),
        "{run:?}"
    );
    assert!(run.stderr.contains("unknown command 'bogus'"), "{run:?}");

    // End of input ends the session too, and an unreachable node does not.
    let run = ncl_with_input(&["-H", "127.0.0.1", "-p", "1", "-t", "500"], "ping\nhelp\n");
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("connection refused"), "{run:?}");
    assert!(run.stdout.contains("Commands:"), "{run:?}");
}

/// The captured original CLI exchange with this label.
fn capture(label: &str) -> Value {
    let wire = common::load("wire.json");
    let cli = wire["cli"].as_array().expect("cli section");
    cli.iter()
        .find(|c| c["label"] == label)
        .unwrap_or_else(|| panic!("no capture {label}"))
        .clone()
}

/// Reads one frame (delimiter removed) from `s`.
fn read_frame(s: &mut TcpStream) -> String {
    let mut buf = vec![];
    let mut byte = [0u8; 1];
    loop {
        let n = s.read(&mut byte).expect("frame");
        assert_eq!(n, 1, "connection closed before a frame");
        if byte[0] == 0x0c {
            return String::from_utf8(buf).expect("utf-8 frame");
        }
        buf.push(byte[0]);
    }
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && s.chars()
            .all(|c| c == '-' || matches!(c, '0'..='9' | 'a'..='f'))
        && parts[2].starts_with('4')
        && matches!(&parts[3][..1], "8" | "9" | "a" | "b")
}

/// Plays the node for one `ncl … <command>` run: checks the request
/// against the captured one and answers with the captured answer (retagged
/// and re-signed), so ncl must print exactly what the original printed.
fn replay(label: &str, key: &str, answer_key: Option<&str>) -> Run {
    let cap = capture(label);
    let conn = &cap["connections"][0];
    let captured: Value = conn["cli_to_node"]["parsed"][0].clone();
    let captured_text = conn["cli_to_node"]["text"].as_str().unwrap();
    let command = cap["command"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let (tx, rx) = mpsc::channel();
    let answer = conn["node_to_cli"]["parsed"].get(0).cloned();
    let answer_key = answer_key.map(str::to_owned);
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let frame = read_frame(&mut s);
        let _ = tx.send(frame.clone());
        let sent: Value = serde_json::from_str(&frame).unwrap();
        if let (Some(answer), Some(key)) = (answer, answer_key) {
            let mut body = answer["data"].as_object().unwrap().clone();
            body.shift_remove("checkSum");
            body.insert("tag".into(), sent["data"]["tag"].clone());
            let mut out = vec![];
            let signer = Signer::new(key.as_bytes());
            let text = js_json::to_string(&Value::Object(body));
            wire::frame_around(FrameType::Message, &text, Some(&signer), &mut out);
            s.write_all(&out).unwrap();
        }
        // Hold the connection until ncl is done with it.
        let _ = s.read(&mut [0u8; 1]);
    });
    let run = ncl(&[
        "-I",
        "foo",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-a",
        key,
        "-t",
        "1500",
        &command,
    ]);
    let _ = server.join();
    let frame = rx
        .recv_timeout(Duration::from_secs(1))
        .expect("ncl sent a frame");

    // Same shape and key order at every level as the original's frame.
    let ours: Value = serde_json::from_str(&frame).unwrap();
    fn shape(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Array(m.iter().map(|(k, v)| json!([k, shape(v)])).collect()),
            Value::Array(a) => json!(["array", a.first().map(shape)]),
            Value::String(_) => json!("string"),
            Value::Number(_) => json!("number"),
            Value::Bool(_) => json!("bool"),
            Value::Null => json!(null),
        }
    }
    assert_eq!(shape(&ours), shape(&captured), "{frame}");
    let d = &ours["data"];
    assert!(is_uuid_v4(d["tag"].as_str().unwrap()), "{frame}");
    assert!(
        is_uuid_v4(d["stream"]["stream"].as_str().unwrap()),
        "{frame}"
    );
    let from = d["from"]["id"].as_str().unwrap();
    assert!(
        from.starts_with("foo_") && from[4..].parse::<u32>().is_ok(),
        "{from}"
    );
    assert_eq!(
        wire::buffer::from_value(&d["data"]),
        wire::buffer::from_value(&captured["data"]["data"]),
        "same command body"
    );
    assert!(wire::verify_signed(
        &frame["{\"type\":\"message\",\"data\":".len()..frame.len() - 1],
        &Signer::new(key.as_bytes())
    ));

    // With the captured ids put in, the frame is byte for byte the
    // original's, checksum included.
    let cd = &captured["data"];
    let mut body = d.as_object().unwrap().clone();
    body.shift_remove("checkSum");
    body.insert("tag".into(), cd["tag"].clone());
    body.insert("from".into(), cd["from"].clone());
    body.insert("stream".into(), cd["stream"].clone());
    let mut rebuilt = vec![];
    wire::frame_around(
        FrameType::Message,
        &js_json::to_string(&Value::Object(body)),
        Some(&Signer::new(key.as_bytes())),
        &mut rebuilt,
    );
    assert_eq!(String::from_utf8(rebuilt).unwrap(), captured_text);
    run
}

#[test]
fn the_frames_are_the_original_clis() {
    for label in ["cli_ping", "cli_nodes"] {
        let run = replay(label, "cookie", Some("cookie"));
        assert_eq!(run.code, Some(0), "{label}: {run:?}");
        assert_eq!(
            run.stdout,
            capture(label)["stdout"].as_str().unwrap(),
            "{label}"
        );
    }
    // The wrong-cookie capture: the node says nothing; the original hung,
    // ncl gives up after its timeout.
    let run = replay("cli_ping_wrong_cookie", "wrong", None);
    assert_eq!(run.code, Some(3), "{run:?}");
    assert!(run.stderr.contains("did not answer"), "{run:?}");
    // An answer signed with another cookie is not printed.
    let run = replay("cli_ping", "cookie", Some("other"));
    assert_eq!(run.code, Some(3), "{run:?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("not with a valid signature"), "{run:?}");
}

#[test]
fn the_session_reconnects_when_the_node_dropped_its_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        // First connection: take the command, then hang up without answering.
        let (mut first, _) = listener.accept().unwrap();
        let _ = read_frame(&mut first);
        drop(first);
        // Second connection: answer it.
        let (mut second, _) = listener.accept().unwrap();
        let frame = read_frame(&mut second);
        let sent: Value = serde_json::from_str(&frame).unwrap();
        let answer = json!({"ok": true, "data": "pong", "tag": sent["data"]["tag"]});
        let mut out = vec![];
        wire::frame_around(
            FrameType::Message,
            &js_json::to_string(&answer),
            Some(&Signer::new(b"cookie")),
            &mut out,
        );
        second.write_all(&out).unwrap();
        let _ = second.read(&mut [0u8; 1]);
    });
    let run = ncl_with_input(
        &["-H", "127.0.0.1", "-p", &port, "-a", "cookie", "-t", "2000"],
        "ping\nquit\n",
    );
    let _ = server.join();
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stdout,
        pretty(&json!({"ok": true, "data": "pong"})),
        "{run:?}"
    );
}
