//! A deterministic two-node harness without sockets: two nodes' cores wired
//! through in-memory byte queues (framed and signed exactly as on the
//! wire), time advanced by the test. Each node performs the core's effects
//! the way the kernel does (answers, pongs and refusals written back as
//! frames), so calls, replies, refusals, streams and pings are exercised
//! end to end through the same rules the kernel runs.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::inbound::Context;
use super::writer::Data;
use super::{
    Body, Call, Dropped, Effect, Handle, Inbound, Origin, PendingCalls, Registration, Tables,
    Targets, Writer,
};
use crate::net::error::{error_value, CallError};
use crate::net::payload::Payload;
use crate::wire::{stream, FrameDecoder, FrameType};
use crate::Node;

const COOKIE: &str = "cookie";

/// A server of the harness.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Server {
    /// Answers calls with what they carry.
    Echo,
    /// Takes everything, answers nothing.
    Silent,
    /// Takes GenServer requests split from the text; answers their data.
    Requests,
}

impl Handle for Server {
    fn is_closed(&self) -> bool {
        false
    }
    fn takes_requests(&self) -> bool {
        *self == Server::Requests
    }
}

/// A call's id in the harness, standing for its waiting caller.
pub(super) type CallId = u32;

/// A node's calls and servers: `echo` ([`Server::Echo`]), `silent` and
/// `req` ([`Server::Requests`]).
#[derive(Debug)]
pub(super) struct SimTables {
    pub(super) calls: RefCell<PendingCalls<CallId>>,
    servers: RefCell<Targets<Server>>,
}

impl SimTables {
    pub(super) fn new() -> SimTables {
        let servers = [
            ("echo", Server::Echo),
            ("silent", Server::Silent),
            ("req", Server::Requests),
        ];
        let mut targets = Targets::default();
        for (name, server) in servers {
            targets.register(name, server).unwrap();
        }
        SimTables {
            calls: RefCell::new(PendingCalls::new(16)),
            servers: RefCell::new(targets),
        }
    }
}

impl Tables for SimTables {
    type Waiter = CallId;
    type Handle = Server;

    fn take_call(&self, tag: &str) -> Option<Call<CallId>> {
        self.calls.borrow_mut().take(tag)
    }
    fn restore_call(&self, tag: String, call: Call<CallId>) {
        self.calls.borrow_mut().restore(tag, call);
    }
    fn server(&self, name: &str) -> Option<Registration<Server>> {
        self.servers.borrow().lookup(name)
    }
}

/// Every way back is the sender's node here (no CLI sockets).
type Way = ();

/// One node: its core state, the bytes it has written to the other node,
/// and what happened to it.
struct Endpoint {
    node: Node,
    writer: Writer,
    tables: SimTables,
    inbound: Inbound<Way>,
    decoder: FrameDecoder,
    /// Bytes written to the other node, not yet read by it.
    out: Vec<u8>,
    delivered: Vec<(String, Body, Option<String>)>,
    replies: Vec<(CallId, Result<Payload, CallError>)>,
    dropped: Vec<Dropped>,
    next_call: CallId,
}

impl Endpoint {
    fn new(id: &str, port: u16, max_stream_bytes: usize) -> Endpoint {
        let node = Node::new(id, "127.0.0.1", port);
        Endpoint {
            writer: Writer::new(&node, Some(COOKIE)),
            node,
            tables: SimTables::new(),
            inbound: Inbound::new(max_stream_bytes, TIMEOUT),
            decoder: FrameDecoder::new(1 << 20),
            out: Vec::new(),
            delivered: Vec::new(),
            replies: Vec::new(),
            dropped: Vec::new(),
            next_call: 0,
        }
    }

    /// Opens a call to `to`: its id and the tag its reply will carry.
    fn open(&mut self, to: &str, now: Instant) -> (CallId, String) {
        let id = self.next_call;
        self.next_call += 1;
        let tag = self.tables.calls.borrow_mut().open(to, id, now).unwrap();
        (id, tag)
    }

    /// Reads the frames in `bytes` (written by the other node).
    fn read(&mut self, bytes: &[u8], now: Instant) {
        self.decoder.extend(bytes);
        while let Some(frame) = self.decoder.next_frame().unwrap() {
            let cx = Context {
                tables: &self.tables,
                node_id: self.node.id(),
                signer: self.writer.signer(),
            };
            let effect = self.inbound.receive(&cx, &frame, |_| (), now);
            self.perform(effect);
        }
    }

    /// What the kernel's driver does with an effect, writing to the other
    /// node instead of a socket.
    fn perform(&mut self, effect: Effect<CallId, Server, Way>) {
        match effect {
            Effect::Nothing => {}
            Effect::Pong { tag, .. } => self.writer.pong(&tag, &mut self.out),
            Effect::Reply {
                waiter,
                outcome,
                dropped,
            } => {
                self.dropped.extend(dropped);
                self.replies.push((waiter, outcome));
            }
            Effect::Deliver {
                server,
                target,
                from,
                body,
            } => {
                let answer = match (&server.handle, &body) {
                    (Server::Echo, Body::Payload(p)) => Some(p.clone()),
                    (Server::Requests, Body::Request { data, .. }) => Some(data.clone()),
                    _ => None,
                };
                if let (Some(tag), Some(answer)) = (&from.tag, answer) {
                    self.writer.reply(tag, Ok(&answer), &mut self.out);
                }
                self.delivered.push((target, body, from.tag));
            }
            Effect::Refuse { dropped, answer } => {
                self.dropped.push(dropped);
                if let Some((Origin { tag: Some(tag), .. }, error)) = answer {
                    self.writer.reply(&tag, Err(&error), &mut self.out);
                }
            }
            Effect::Drop(dropped) => self.dropped.push(dropped),
        }
    }

    fn codes(&self) -> Vec<&'static str> {
        self.dropped.iter().map(|d| d.code).collect()
    }
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Nodes `a` and `b`, each connected to the other.
struct Sim {
    a: Endpoint,
    b: Endpoint,
    now: Instant,
}

impl Sim {
    fn new() -> Sim {
        Sim::with_stream_limit(1 << 20)
    }

    /// `b` holds at most `limit` bytes of partly received streams.
    fn with_stream_limit(limit: usize) -> Sim {
        Sim {
            a: Endpoint::new("a", 7001, 1 << 20),
            b: Endpoint::new("b", 7002, limit),
            now: Instant::now(),
        }
    }

    /// Delivers what each node wrote until neither writes any more.
    fn run(&mut self) {
        for _ in 0..16 {
            let (to_b, to_a) = (
                std::mem::take(&mut self.a.out),
                std::mem::take(&mut self.b.out),
            );
            if to_b.is_empty() && to_a.is_empty() {
                return;
            }
            self.b.read(&to_b, self.now);
            self.a.read(&to_a, self.now);
        }
        panic!("the nodes never went quiet");
    }

    /// Moves time on, expiring what did not finish in time.
    fn advance(&mut self, by: Duration) {
        self.now += by;
        for node in [&mut self.a, &mut self.b] {
            for (dropped, answer) in node.inbound.expire(self.now) {
                node.perform(Effect::Refuse { dropped, answer });
            }
        }
        self.run();
    }

    /// `a` calls server `target` of `b` with `data`.
    fn call(&mut self, target: &str, data: Payload) -> CallId {
        let (id, tag) = self.a.open("b", self.now);
        self.a
            .writer
            .message(target, Some(&tag), &data, &mut self.a.out);
        id
    }

    /// `a` sends a chunk of stream `id` for `target` under call `tag`.
    fn chunk(&mut self, target: &str, tag: &str, id: &str, chunk: &str) {
        let data = Payload::Bytes(chunk.as_bytes().to_vec().into());
        let marker = stream::chunk(id);
        let out = &mut self.a.out;
        self.a
            .writer
            .stream_part(target, Some(tag), &marker, Some(&data), out);
    }

    /// `a` ends stream `id` for `target` under call `tag`: whole, or
    /// failed with `error`.
    fn end(&mut self, target: &str, tag: &str, id: &str, error: Option<&str>) {
        let marker = match error {
            None => stream::end(id),
            Some(message) => stream::error(Some(id), &error_value(message, &[])),
        };
        let out = &mut self.a.out;
        self.a
            .writer
            .stream_part(target, Some(tag), &marker, None, out);
    }

    /// `a` calls server `target` of `b` with a body streamed in `chunks`.
    fn call_stream(&mut self, target: &str, id: &str, chunks: &[&str], end: bool) -> CallId {
        let (call, tag) = self.a.open("b", self.now);
        for chunk in chunks {
            self.chunk(target, &tag, id, chunk);
        }
        if end {
            self.end(target, &tag, id, None);
        }
        call
    }

    fn reply_of(&self, call: CallId) -> Option<&Result<Payload, CallError>> {
        self.a
            .replies
            .iter()
            .find(|(id, _)| *id == call)
            .map(|(_, r)| r)
    }
}

fn remote_message(r: Option<&Result<Payload, CallError>>) -> String {
    match r {
        Some(Err(CallError::Remote(v))) => v["message"].as_str().unwrap_or_default().to_owned(),
        other => panic!("not a remote error: {other:?}"),
    }
}

#[test]
fn calls_are_answered_and_casts_delivered() {
    let mut sim = Sim::new();
    let call = sim.call("echo", Payload::Json(json!({"x": [1, 2]})));
    sim.a.writer.message(
        "silent",
        None,
        &Payload::Json(json!("cast")),
        &mut sim.a.out,
    );
    let request = sim.call("req", Payload::Json(json!({"event": "e", "data": 5})));
    sim.run();
    assert_eq!(
        sim.reply_of(call),
        Some(&Ok(Payload::Json(json!({"x": [1, 2]}))))
    );
    assert_eq!(sim.reply_of(request), Some(&Ok(Payload::Json(json!(5)))));
    let delivered: Vec<(&str, &Body, bool)> = sim
        .b
        .delivered
        .iter()
        .map(|(t, b, tag)| (t.as_str(), b, tag.is_some()))
        .collect();
    assert_eq!(
        delivered,
        vec![
            (
                "echo",
                &Body::Payload(Payload::Json(json!({"x": [1, 2]}))),
                true
            ),
            (
                "silent",
                &Body::Payload(Payload::Json(json!("cast"))),
                false
            ),
            (
                "req",
                &Body::Request {
                    event: "e".into(),
                    data: Payload::Json(json!(5))
                },
                true
            ),
        ]
    );
    assert!(sim.a.dropped.is_empty() && sim.b.dropped.is_empty());
    assert_eq!(sim.a.tables.calls.borrow().len(), 0);
}

#[test]
fn a_reply_from_another_node_fails_the_call_and_is_counted() {
    let mut sim = Sim::new();
    let (call, tag) = sim.a.open("b", sim.now);
    let mut forged = Vec::new();
    Writer::new(&Node::new("c", "127.0.0.1", 7003), Some(COOKIE)).reply(
        &tag,
        Ok(&Payload::Json(json!("forged"))),
        &mut forged,
    );
    sim.a.read(&forged, sim.now);
    assert_eq!(
        sim.reply_of(call),
        Some(&Err(CallError::InvalidReply {
            expected: "b".into(),
            actual: "c".into()
        }))
    );
    assert_eq!(sim.a.codes(), ["INVALID_REPLY"]);
}

#[test]
fn an_unknown_server_is_refused_with_an_error_reply() {
    let mut sim = Sim::new();
    let call = sim.call("nope", Payload::Json(json!(1)));
    sim.a
        .writer
        .message("nope", None, &Payload::Json(json!(2)), &mut sim.a.out);
    sim.run();
    assert_eq!(
        remote_message(sim.reply_of(call)),
        "Server 'nope' does not exist on node 'b'."
    );
    match sim.reply_of(call) {
        Some(Err(CallError::Remote(v))) => assert_eq!(v["type"], "UNKNOWN_TARGET"),
        other => panic!("{other:?}"),
    }
    // The cast is dropped too, answered by nothing.
    assert_eq!(sim.b.codes(), ["UNKNOWN_TARGET", "UNKNOWN_TARGET"]);
    assert_eq!(sim.a.replies.len(), 1);
}

#[test]
fn streamed_bodies_are_put_back_together() {
    let mut sim = Sim::new();
    // Two streams interleaved on one connection, the first ending last.
    let (first, tag) = sim.a.open("b", sim.now);
    sim.chunk("echo", &tag, "s1", "ab");
    let second = sim.call_stream("echo", "s2", &["12", "34"], true);
    sim.run();
    assert_eq!(
        sim.reply_of(second),
        Some(&Ok(Payload::Bytes("1234".into())))
    );
    assert_eq!(sim.reply_of(first), None, "still arriving");
    sim.chunk("echo", &tag, "s1", "cd");
    sim.end("echo", &tag, "s1", None);
    sim.run();
    assert_eq!(
        sim.reply_of(first),
        Some(&Ok(Payload::Bytes("abcd".into())))
    );
    // A body that fails on the way reaches no server; its caller is told.
    let (failed, tag) = sim.a.open("b", sim.now);
    sim.chunk("echo", &tag, "s3", "ab");
    sim.end("echo", &tag, "s3", Some("gave up"));
    sim.run();
    assert_eq!(remote_message(sim.reply_of(failed)), "gave up");
    assert_eq!(sim.b.codes(), ["STREAM_ERROR"]);
    assert_eq!(sim.b.delivered.len(), 2);
}

#[test]
fn a_stream_past_the_byte_limit_is_refused_and_its_caller_told() {
    let mut sim = Sim::with_stream_limit(4);
    // (Not ended: frames of a refused stream arriving later would start
    // it afresh; remembering refused ids is for later.)
    let call = sim.call_stream("echo", "s1", &["abc", "def"], false);
    sim.run();
    assert_eq!(
        remote_message(sim.reply_of(call)),
        "Stream exceeds the receiver's limit."
    );
    assert_eq!(sim.b.codes()[0], "STREAM_TOO_LARGE");
    assert!(sim.b.delivered.is_empty());
    // Within the limit, the connection still takes streams.
    let small = sim.call_stream("echo", "s2", &["ab", "cd"], true);
    sim.run();
    assert_eq!(
        sim.reply_of(small),
        Some(&Ok(Payload::Bytes("abcd".into())))
    );
}

#[test]
fn a_stream_not_finished_in_time_expires_and_its_caller_is_told() {
    let mut sim = Sim::new();
    let call = sim.call_stream("echo", "s1", &["ab"], false);
    sim.run();
    sim.advance(TIMEOUT);
    assert_eq!(sim.reply_of(call), None, "not late yet");
    sim.advance(Duration::from_millis(1));
    assert_eq!(remote_message(sim.reply_of(call)), "Stream timed out.");
    assert_eq!(sim.b.codes(), ["STREAM_TIMEOUT"]);
    assert!(sim.b.delivered.is_empty());
}

#[test]
fn a_ping_is_answered_with_pong() {
    let mut sim = Sim::new();
    let (call, tag) = sim.a.open("b", sim.now);
    sim.a.writer.ping(&tag, &mut sim.a.out);
    sim.run();
    assert_eq!(sim.reply_of(call), Some(&Ok(Payload::Json(json!("pong")))));
}

#[test]
fn a_reply_that_is_not_json_leaves_its_call_waiting() {
    let mut sim = Sim::new();
    let call = sim.call("silent", Payload::Json(Value::Null));
    sim.run();
    let tag = sim.b.delivered[0].2.clone().unwrap();
    let mut bad = Vec::new();
    sim.b.writer.encode(
        FrameType::Message,
        Some(&tag),
        None,
        stream::SINGLE,
        Data::Text("nul"),
        &mut bad,
    );
    sim.a.read(&bad, sim.now);
    assert_eq!(sim.reply_of(call), None);
    assert_eq!(sim.a.codes(), ["MALFORMED_JSON"]);
    sim.b
        .writer
        .reply(&tag, Ok(&Payload::Json(json!("late"))), &mut sim.b.out);
    sim.run();
    assert_eq!(sim.reply_of(call), Some(&Ok(Payload::Json(json!("late")))));
}

#[test]
fn a_frame_with_a_wrong_signature_is_dropped() {
    let mut sim = Sim::new();
    let mut unsigned = Vec::new();
    Writer::new(&sim.a.node, Some("other")).message(
        "echo",
        None,
        &Payload::Json(json!(1)),
        &mut unsigned,
    );
    sim.b.read(&unsigned, sim.now);
    assert_eq!(sim.b.codes(), ["INVALID_CHECKSUM"]);
    assert!(sim.b.delivered.is_empty());
}
