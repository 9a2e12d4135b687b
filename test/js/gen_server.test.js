"use strict";

// GenServer through require("notp"): calls, casts and replies between two
// kernels in this process and on one node, subclasses, decoding hooks, and
// the cases the original crashed on.

const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const notp = require("../..");
const { once, within, callback, failure, startKernel, pair } = require("./kernel_helpers");

const { GenServer, Node } = notp;

/** A server that answers every `echo` call with its data. */
function echoServer(kernel, name) {
  const server = new GenServer(kernel);
  server.start(name);
  server.on("echo", (data, from) => server.reply(from, data));
  return server;
}

class PingServer extends GenServer {
  constructor(kernel) {
    super(kernel);
    this.pings = 0;
  }

  start(name) {
    super.start(name);
    const handler = (data, from) => {
      this.pings++;
      this.reply(from, "pong");
    };
    this.on("ping", handler);
    this.once("stop", () => this.removeListener("ping", handler));
    return this;
  }

  ping(node, cb) {
    this.call({ node, id: this._id }, "ping", null, cb, 5000);
  }
}

describe("GenServer: state", () => {
  test("constructor, id, kernel, idle, streams", () => {
    const kernel = notp.createKernel("gs_state", "127.0.0.1", 0);
    const server = new GenServer(kernel);
    assert.ok(server instanceof require("node:events").EventEmitter);
    assert.equal(typeof server.id(), "string");
    assert.notEqual(server.id()[0], "_");
    assert.equal(server.kernel(), kernel);
    assert.equal(server._streamTimeout, 30000);
    assert.equal(new GenServer(kernel, { streamTimeout: 5000 })._streamTimeout, 5000);
    assert.equal(server.idle(), true);
    assert.ok(server.streams() instanceof Map);
    assert.equal(server.id("named"), "named");
    const viaCluster = notp.createGenServer({ kernel: () => kernel }, { streamTimeout: 10 });
    assert.equal(viaCluster.kernel(), kernel);
    assert.equal(viaCluster._streamTimeout, 10);
    assert.throws(() => notp.createGenServer({}), /kernel\(\)/);
  });

  test("start, pause, resume, stop: listeners and events", () => {
    const kernel = notp.createKernel("gs_life", "127.0.0.1", 0);
    const server = new GenServer(kernel);
    const seen = [];
    for (const e of ["pause", "resume", "stop"]) server.on(e, () => seen.push(e));
    server.start("life");
    assert.equal(server.id(), "life");
    assert.equal(kernel.listenerCount("life"), 1);
    server.pause();
    assert.equal(kernel.listenerCount("life"), 0);
    server.resume();
    assert.equal(kernel.listenerCount("life"), 1);
    server.stop();
    assert.equal(kernel.listenerCount("life"), 0);
    assert.notEqual(server.id(), "life");
    assert.deepEqual(seen, ["pause", "resume", "pause", "stop"]);
  });

  test("a name taken on this node throws", async () => {
    const kernel = await startKernel("gs_taken");
    const first = new GenServer(kernel).start("dup");
    assert.throws(() => new GenServer(kernel).start("dup"), /already has listener at id 'dup'/);
    first.stop();
    new GenServer(kernel).start("dup").stop();
    kernel.stop();
  });

  test("decodeJob and decodeSingleton", () => {
    const server = new GenServer(notp.createKernel("gs_decode", "127.0.0.1", 0));
    const job = Buffer.from(JSON.stringify({ event: "foo", data: { b: Buffer.from("bar") }, extra: 1 }));
    const out = server.decodeJob(job);
    assert.equal(out.event, "foo");
    assert.ok(Buffer.isBuffer(out.data.b));
    assert.equal(out.data.b.toString(), "bar");
    assert.ok(server.decodeJob(Buffer.from("not json")) instanceof Error);
    assert.equal(server.decodeSingleton("foo"), "foo");
    const single = server.decodeSingleton({ event: "foo", data: [{ deep: Buffer.from("x").toJSON() }] });
    assert.ok(Buffer.isBuffer(single.data[0].deep));
  });
});

describe("GenServer: two nodes", () => {
  let a;
  let b;
  let serverA;
  let serverB;
  let client;

  before(async () => {
    [a, b] = await pair("gs_a", "gs_b");
    serverA = echoServer(a, "echo");
    serverB = echoServer(b, "echo");
    client = new GenServer(a);
  });

  after(() => {
    a.stop();
    b.stop();
  });

  const values = {
    string: "hello",
    empty: "",
    number: 42,
    float: 0.1,
    negative: -17.5,
    big: 1e21,
    boolean: false,
    null: null,
    unicode: "héllo \u2028 \"q\" / <tag> \u0001 😀",
    array: [1, "two", [3], { four: 4 }],
    nested: { a: { b: { c: [1, 2, { d: "deep" }] } }, "2": 2, "10": 1, k: null },
  };

  for (const [name, value] of Object.entries(values)) {
    test(`call and reply both ways: ${name}`, async () => {
      const there = await callback((cb) => client.call({ id: "echo", node: b.self() }, "echo", value, cb, 5000));
      assert.deepEqual(there, value);
      const back = new GenServer(b);
      const here = await callback((cb) => back.call({ id: "echo", node: a.self() }, "echo", value, cb, 5000));
      assert.deepEqual(here, value);
    });
  }

  test("Buffers are delivered as Buffers, top level and nested", async () => {
    const seen = once(serverB, "bufs");
    client.cast({ id: "echo", node: b.self() }, "bufs", {
      top: Buffer.from("top"),
      list: [Buffer.from([0, 255])],
      deep: { deeper: { buf: Buffer.from("deep") } },
    });
    const [data, from] = await seen;
    assert.ok(Buffer.isBuffer(data.top));
    assert.equal(data.top.toString(), "top");
    assert.deepEqual([...data.list[0]], [0, 255]);
    assert.equal(data.deep.deeper.buf.toString(), "deep");
    assert.equal(from.tag, null);
    assert.ok(from.node.equals(a.self()));

    const reply = await callback((cb) =>
      client.call({ id: "echo", node: b.self() }, "echo", Buffer.from("hello"), cb, 5000)
    );
    assert.ok(Buffer.isBuffer(reply));
    assert.equal(reply.toString(), "hello");
    serverB.on("rawbuf", (data, from) => serverB.reply(from, Buffer.concat([data, Buffer.from("!")])));
    const raw = await callback((cb) => client.call({ id: "echo", node: b.self() }, "rawbuf", Buffer.from("x"), cb, 5000));
    assert.ok(Buffer.isBuffer(raw));
    assert.equal(raw.toString(), "x!");
  });

  test("cast and abcast", async () => {
    const both = Promise.all([once(serverA, "note"), once(serverB, "note")]);
    client.abcast([a.self(), b.self()], "echo", "note", { n: 1 });
    const [[da, fa], [db, fb]] = await both;
    assert.deepEqual([da, db], [{ n: 1 }, { n: 1 }]);
    assert.ok(fa.node.equals(a.self()) && fb.node.equals(a.self()));
    const one = once(serverB, "note");
    assert.equal(client.cast({ id: "echo", node: b.self() }, "note", 2), client);
    assert.equal((await one)[0], 2);
  });

  test("local calls: a name on this node", async () => {
    assert.equal(await callback((cb) => client.call("echo", "echo", "local", cb, 5000)), "local");
    const got = once(serverA, "local_cast");
    client.cast("echo", "local_cast", [1]);
    assert.deepEqual((await got)[0], [1]);
  });

  test("call without a callback returns a readable stream", async () => {
    const rstream = client.call({ id: "echo", node: b.self() }, "echo", { s: "streamed" });
    const chunks = [];
    rstream.on("data", (c) => chunks.push(c));
    await once(rstream, "end");
    assert.deepEqual(chunks, [{ s: "streamed" }]);
  });

  test("multicall", async () => {
    const out = await callback((cb) => client.multicall([a.self(), b.self()], "echo", "echo", "m", cb, 5000));
    assert.deepEqual(out, ["m", "m"]);
  });

  test("errors: unknown server, unknown node, timeout", async () => {
    let err = await failure((cb) => client.call({ id: "nobody", node: b.self() }, "echo", 1, cb, 5000));
    assert.match(err.message, /'nobody'/);
    assert.match(err.message, /'gs_b'/);
    err = await failure((cb) => client.call({ id: "echo", node: new Node("ghost", "127.0.0.1", 1) }, "echo", 1, cb));
    assert.match(err.message, /Unknown node ghost/);
    serverB.on("slow", () => {});
    err = await failure((cb) => client.call({ id: "echo", node: b.self() }, "slow", 1, cb, 30));
    assert.equal(err.message, "Timeout.");
  });

  test("a cast whose handler calls reply is ignored, and the node keeps working", async () => {
    const warned = once(process, "warning");
    const handled = once(serverB, "cast_reply");
    serverB.on("cast_reply", (data, from) => serverB.reply(from, "nobody is waiting"));
    client.cast({ id: "echo", node: b.self() }, "cast_reply", 1);
    await handled;
    const [warning] = await warned;
    assert.match(warning.message, /no reply tag/);
    assert.equal(await callback((cb) => client.call({ id: "echo", node: b.self() }, "echo", "alive", cb, 5000)), "alive");
  });

  test("a peer sending event 'error' does not crash the node", async () => {
    b.cast(a.self(), "echo", { event: "error", data: "boom" });
    assert.equal(await callback((cb) => client.call("echo", "echo", "fine", cb, 5000)), "fine");
  });

  test("class PingServer extends GenServer", async () => {
    const pa = new PingServer(a).start("ping_server");
    const pb = new PingServer(b).start("ping_server");
    assert.equal(await callback((cb) => pa.ping(b.self(), cb)), "pong");
    assert.equal(await callback((cb) => pb.ping(a.self(), cb)), "pong");
    assert.equal(pa.pings + pb.pings, 2);
    pa.stop();
    pb.stop();
  });

  test("a subclass overriding decodeSingleton changes how bodies are read", async () => {
    class Shouting extends GenServer {
      decodeSingleton(msg) {
        return { event: msg.event, data: String(msg.data).toUpperCase() };
      }
    }
    const s = new Shouting(b).start("shout");
    s.on("say", (data, from) => s.reply(from, data));
    assert.equal(await callback((cb) => client.call({ id: "shout", node: b.self() }, "say", "hi", cb, 5000)), "HI");
    s.stop();
  });

  test("a Buffer body goes through decodeJob (streamed bodies arrive this way)", async () => {
    class Jobs extends GenServer {
      decodeJob(buf) {
        const job = super.decodeJob(buf);
        job.data = { wrapped: job.data };
        return job;
      }
    }
    const s = new Jobs(b).start("jobs");
    s.on("work", (data, from) => s.reply(from, data));
    const idle = once(s, "idle");
    const body = Buffer.from(JSON.stringify({ event: "work", data: [1, Buffer.from("z")] }));
    const out = await callback((cb) => a.call(b.self(), "jobs", body, cb, 5000));
    await idle;
    assert.deepEqual(out, { wrapped: [1, Buffer.from("z").toJSON()] });
    s.stop();
  });

  test("a paused server drops messages; resumed, it answers again", async () => {
    const s = echoServer(b, "pausable");
    s.pause();
    const err = await failure((cb) => client.call({ id: "pausable", node: b.self() }, "echo", 1, cb, 5000));
    assert.match(err.message, /'pausable' does not exist/);
    s.resume();
    assert.equal(await callback((cb) => client.call({ id: "pausable", node: b.self() }, "echo", 1, cb, 5000)), 1);
    s.stop();
  });

  test("many calls in flight complete in order of their callbacks' ids", async () => {
    const n = 500;
    const results = await within(
      Promise.all(
        Array.from(
          { length: n },
          (_, i) =>
            new Promise((resolve, reject) =>
              client.call({ id: "echo", node: b.self() }, "echo", i, (err, d) => (err ? reject(err) : resolve(d)), 5000)
            )
        )
      )
    );
    assert.deepEqual(results, Array.from({ length: n }, (_, i) => i));
  });
});
