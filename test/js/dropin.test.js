"use strict";

// Public behaviours of the original that programs written for it rely on
// (issue 10): the NetKernel's surface (every method, ipc(), sinks as a
// getter/setter, Connection objects with the original's methods, a port
// freed by stop at once), and values (fromJSON's leniency, iterator(node),
// consts as a plain object read when objects are made, increments seen by
// every other clock operation).

const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const notp = require("../..");
const native = require("../../bindings/node/lib/native");
const { once, until, callback, startKernel, connect } = require("./kernel_helpers");
const { loadVectors } = require("./support");

const { NetKernel, Node, consts } = notp;

describe("NetKernel: the original's surface", () => {
  test("NetKernel.prototype has every method the original exposed", () => {
    // The original's public methods (spec/API.md's NetKernel section, and
    // ipc, the node-ipc getter/setter of its constructor's first argument).
    const methods = [
      "start", "stop", "ipc", "id", "host", "port", "self", "cookie", "sinks", "sources",
      "connect", "disconnect", "isConnected", "connection", "ping", "call", "callSingleton",
      "multicall", "multicallSingleton", "cast", "abcast", "reply",
    ];
    for (const name of methods) {
      assert.equal(typeof NetKernel.prototype[name], "function", `NetKernel.prototype.${name}`);
    }
  });

  test("ipc() answers an object saying there is no node-ipc", () => {
    const k = notp.createKernel("ipc_node", "127.0.0.1", 0, { retry: 250 });
    const ipc = k.ipc();
    assert.equal(ipc.native, true);
    assert.match(ipc.description, /no node-ipc/);
    assert.equal(ipc.config.id, "ipc_node");
    assert.equal(ipc.config.retry, 250);
    // The original's setter form is accepted.
    assert.equal(k.ipc({}).native, true);
  });

  test("stop() right after start() frees the port before it returns: a new kernel binds it at once", async () => {
    const probe = net.createServer();
    await new Promise((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = probe.address().port;
    await new Promise((resolve) => probe.close(resolve));
    for (let i = 0; i < 40; i++) {
      const first = notp.createKernel(`first_${i}`, "127.0.0.1", port);
      const errors = [];
      first.on("error", (err) => errors.push(err));
      first.start();
      first.stop();
      const second = notp.createKernel(`second_${i}`, "127.0.0.1", port);
      const outcome = await new Promise((resolve) => {
        second.once("_ready", () => resolve("ready"));
        second.once("error", (err) => resolve(err));
        second.start();
      });
      assert.equal(outcome, "ready", `round ${i}`);
      assert.equal(second.port(), port);
      second.stop();
      assert.deepEqual(errors, []);
    }
  });

  test("sinks(map) sets the outbound connections, sinks() gets them", async (t) => {
    const [a, b, c] = [await startKernel("sinks_a"), await startKernel("sinks_b"), await startKernel("sinks_c")];
    t.after(() => [a, b, c].forEach((k) => k.stop()));
    await connect(a, b.self());
    assert.deepEqual([...a.sinks().keys()], ["sinks_b"]);
    // Setting: c is opened, b is closed.
    a.sinks(new Map([["sinks_c", c.self()]]));
    await until(() => a.isConnected(c.self()) && !a.isConnected(b.self()), "the new set of connections");
    const sinks = a.sinks();
    assert.deepEqual([...sinks.keys()], ["sinks_c"]);
    assert.ok(sinks.get("sinks_c").node().equals(c.self()));
    // A Connection handed out is accepted as a value too.
    a.sinks(new Map([["sinks_c", sinks.get("sinks_c")]]));
    assert.equal(a.sinks().get("sinks_c"), sinks.get("sinks_c"));
  });

  test("a Connection has the original's methods, acting on the engine's connection", async (t) => {
    const [a, b] = [await startKernel("conn_a"), await startKernel("conn_b")];
    t.after(() => [a, b].forEach((k) => k.stop()));
    await connect(a, b.self());
    const conn = a.connection(b.self());
    for (const name of ["start", "stop", "send", "initiateStream", "node", "queue", "active", "connecting", "idle", "ipc", "maxLen"]) {
      assert.equal(typeof conn[name], "function", `Connection.${name}`);
    }
    assert.equal(conn.queue().size(), 0);
    assert.equal(conn.ipc().native, true);

    // send writes one envelope on the connection, signed with the cookie.
    const got = once(b, "raw_target");
    const sent = [];
    conn.on("send", (event) => sent.push(event));
    const envelope = { id: "raw_target", tag: null, from: a.self().toJSON(), stream: { done: true }, data: { via: "send" } };
    assert.equal(conn.send("message", envelope), conn);
    const [data, stream, from] = await got;
    assert.deepEqual(data, { via: "send" });
    assert.deepEqual(stream, { done: true });
    assert.equal(from.node.id(), "conn_a");
    assert.deepEqual(sent, ["message"]);
    assert.equal(b.skipped().INVALID_CHECKSUM, undefined);

    // initiateStream marks a stream in flight until it is sent done.
    assert.equal(conn.idle(), true);
    conn.initiateStream({ stream: "s1", done: false });
    assert.equal(conn.idle(), false);
    const idle = once(conn, "idle");
    conn.send("message", { ...envelope, stream: { done: true, stream: "s1" }, data: null });
    await idle;
    assert.equal(conn.idle(), true);

    // stop closes it; start opens it again.
    conn.stop(true);
    assert.equal(a.isConnected(b.self()), false);
    assert.ok(conn.send("message", envelope) instanceof Error, "sending on a stopped connection answers an Error");
    conn.start();
    await until(() => a.connection(b.self()) !== null && a.connection(b.self()).active(), "the connection again");
  });
});

describe("values", () => {
  test("VectorClock.fromJSON accepts clocks the original accepted: a missing insert or time", () => {
    const c = notp.createVClock();
    c.fromJSON({ foo: { count: 1, time: 0 } });
    assert.equal(c.getCount("foo"), 1);
    assert.equal(c.getTimestamp("foo"), 0);
    c.fromJSON({ bar: { count: 2, insert: 7 } });
    assert.deepEqual(c.get("bar"), { count: 2, insert: 7, time: 7 });
    assert.deepEqual(c.nodes(), ["bar"]);
  });

  test("CHash.iterator(node) starts at the node, as the original documented", () => {
    const ring = notp.createCHash(3, 2);
    const foo = new Node("foo", "localhost", 7022);
    ring.insert(foo).insert(new Node("bar", "localhost", 7023));
    const it = ring.iterator(foo);
    assert.equal(it.valid, true);
    assert.ok(it.value.equals(foo));
    // The node's first virtual node, foo_1 (what next/prev look from).
    assert.equal(it.key, loadVectors("sha256.json").inputs.foo_1.base64);
    it.next();
    assert.equal(it.valid, it.index < ring.size());
    assert.equal(ring.iterator(new Node("ghost", "localhost", 1)).valid, false);
    // A key still works.
    assert.ok(ring.iterator(loadVectors("sha256.json").inputs.foo_3.base64).value.equals(foo));
  });

  test("consts is a plain object a program can extend and tweak", () => {
    assert.equal(Object.isFrozen(consts), false);
    consts.myAppOpts = { answer: 42 };
    assert.equal(require("../..").consts.myAppOpts.answer, 42);
    delete consts.myAppOpts;
    const saved = consts.vclockOpts.lowerBound;
    consts.vclockOpts.lowerBound = 1;
    assert.equal(notp.consts.vclockOpts.lowerBound, 1);
    consts.vclockOpts.lowerBound = saved;
  });

  test("a default changed in consts before an object is made is that object's default", async (t) => {
    const retry = consts.kernelOpts.retry;
    const maxLen = consts.connDefaults.maxLen;
    t.after(() => {
      consts.kernelOpts.retry = retry;
      consts.connDefaults.maxLen = maxLen;
    });
    consts.kernelOpts.retry = 1234;
    consts.connDefaults.maxLen = 17;
    const k = await startKernel("consts_node", {}, { retry: undefined });
    t.after(() => k.stop());
    const engine = native.kernelOptions(k._h);
    assert.equal(engine.retry, 1234);
    assert.equal(engine.maxLen, 17);
    consts.kernelOpts.retry = retry;
    consts.connDefaults.maxLen = maxLen;
    const later = notp.createKernel("consts_later", "127.0.0.1", 0);
    assert.equal(later.ipc().config.retry, retry, "read when made, not before");

    // The clock's trimming defaults are read when trim runs.
    const lower = consts.vclockOpts.lowerBound;
    const young = consts.vclockOpts.youngBound;
    t.after(() => {
      consts.vclockOpts.lowerBound = lower;
      consts.vclockOpts.youngBound = young;
    });
    const clock = notp.createVClock();
    for (let i = 0; i < 5; i++) clock.update(`a${i}`, 1, 1000 + i);
    clock.trim(2_000_000_000_000_000);
    assert.equal(clock.size(), 5, "5 entries are below the reference lowerBound");
    consts.vclockOpts.lowerBound = 2;
    consts.vclockOpts.youngBound = 0;
    clock.trim(2_000_000_000_000_000);
    assert.equal(clock.size(), 0, "past oldBound with lowerBound 2: all go");
  });

  test("increments are seen by every other operation on the clock or with it", () => {
    const a = notp.createVClock();
    for (let i = 0; i < 3; i++) a.increment("x");
    assert.equal(a.getCount("x"), 3);
    a.increment("y");
    const b = notp.createVClock();
    b.increment("x");
    assert.equal(b.descends(a), false, "b sees a's increments through a itself");
    b.merge(a);
    assert.equal(b.getCount("x"), 3);
    assert.ok(b.equals(a) === false || b.getCount("y") === 1);
    const json = a.toJSON();
    assert.deepEqual(Object.keys(json), ["x", "y"]);
    assert.ok(json.x.time >= json.x.insert && json.y.insert >= json.x.insert);
    // Stamps never go backwards, also across a native stamp in between.
    let last = 0;
    for (let i = 0; i < 200; i++) {
      a.increment("z");
      const t = a.getTimestamp("z");
      assert.ok(t >= last, `${t} >= ${last}`);
      last = t;
      a.update("w", i);
      assert.ok(a.getTimestamp("w") >= t);
    }
    assert.ok(Math.abs(last - notp.microtime()) < 5_000_000);
    // Many distinct actors between reads are all applied.
    const many = notp.createVClock();
    for (let i = 0; i < 3000; i++) many.increment(`actor${i}`);
    assert.equal(many.size(), 3000);
  });

  test("a kernel's own reply stream is collected for a local call", async () => {
    const k = await startKernel("local_reply_stream");
    k.on("streamed_reply", (data, stream, from) => {
      const out = new (require("node:stream").PassThrough)();
      k.reply(from, out);
      out.write("wor");
      out.end("ld");
    });
    assert.equal((await callback((cb) => k.call(k.self(), "streamed_reply", null, cb))).toString(), "world");
    k.stop();
  });
});
