"use strict";

// NetKernel through require("notp"): two kernels in this process on
// 127.0.0.1 (port 0, cookie "cookie"), raw kernel events, calls with
// callbacks and streams, errors, dropped frames, and process lifetime.

const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { PassThrough, Readable } = require("node:stream");
const notp = require("../..");
const { loadVectors, repoRoot } = require("./support");
const { once, within, callback, failure, startKernel, connect, pair } = require("./kernel_helpers");

const { Node, NetKernel } = notp;

describe("NetKernel: state", () => {
  test("createKernel and the getters/setters", () => {
    const k = notp.createKernel("foo", "127.0.0.1", 7999);
    assert.ok(k instanceof NetKernel);
    assert.equal(k.id(), "foo");
    assert.equal(k.host(), "127.0.0.1");
    assert.equal(k.port(), 7999);
    assert.ok(k.self().equals(new Node("foo", "127.0.0.1", 7999)));
    assert.equal(k.cookie(), null);
    assert.equal(k.cookie("c"), "c");
    assert.equal(k.cookie(5), "c");
    assert.ok(k.sinks() instanceof Map);
    assert.equal(k.sinks().size, 0);
    assert.ok(k.sources() instanceof Map);
    k.port(8000);
    assert.equal(k.self().port(), 8000);
    k.id("bar");
    assert.equal(k.self().id(), "bar");
    k.self(new Node("baz", "localhost", 1));
    assert.deepEqual([k.id(), k.host(), k.port()], ["baz", "localhost", 1]);
    assert.equal(k.isConnected(k.self()), true);
    assert.equal(k.connection(k.self()), null);
  });

  test("defaults: host from os.hostname(), port 7022", () => {
    const k = notp.createKernel("foo");
    assert.equal(k.host(), require("node:os").hostname());
    assert.equal(k.port(), 7022);
  });

  test("tls other than null is refused", () => {
    const k = notp.createKernel("tls", "127.0.0.1", 0);
    assert.throws(() => k.start({ tls: { key: "k" } }), /TLS is not supported yet/);
    const k2 = notp.createKernel("tls2", "127.0.0.1", 0, { tls: {} });
    assert.throws(() => k2.start(), /TLS is not supported yet/);
  });

  test("start binds asynchronously; port() is the bound port at _ready; stop emits _stop", async () => {
    const k = notp.createKernel("solo", "127.0.0.1", 0);
    const ready = once(k, "_ready");
    assert.equal(k.start({ tls: null }), k);
    await ready;
    assert.ok(k.port() > 0 && k.port() < 65536);
    assert.equal(k.self().port(), k.port());
    const stopped = once(k, "_stop");
    k.stop();
    await stopped;
  });

  test("a port already taken is emitted as an error", async () => {
    const a = await startKernel("taken_a");
    const b = notp.createKernel("taken_b", "127.0.0.1", a.port());
    const failed = once(b, "error");
    b.start();
    const [err] = await failed;
    assert.match(err.message, /cannot listen/);
    a.stop();
  });

  test("a zero or nonsense option is refused with a clear error", async () => {
    for (const [opts, name] of [
      [{ streamTimeout: 0 }, "stream_timeout"],
      [{ maxLen: 0 }, "max_queue"],
      [{ retry: 0 }, "retry"],
    ]) {
      const k = notp.createKernel("bad_opts", "127.0.0.1", 0, opts);
      const failed = once(k, "error");
      k.start();
      const [err] = await failed;
      assert.match(err.message, new RegExp(`invalid option \`${name}\`: must be at least 1`));
    }
    // A ring's options are checked as the native ring is built.
    const kernel = notp.createKernel("bad_gossip", "127.0.0.1", 0);
    assert.throws(() => notp.createGossip(kernel, { interval: 0 }), /invalid option `interval`/);
  });
});

describe("NetKernel: two nodes", () => {
  let a;
  let b;

  before(async () => {
    [a, b] = await pair();
  });

  after(() => {
    a.stop();
    b.stop();
  });

  test("connections: sinks, connection, isConnected", () => {
    assert.ok(a.isConnected(b.self()));
    const sinks = a.sinks();
    assert.equal(sinks.size, 1);
    const conn = sinks.get("node_b");
    assert.ok(conn.node().equals(b.self()));
    assert.equal(conn.active(), true);
    assert.equal(conn.connecting(), false);
    assert.equal(conn.idle(), true);
    assert.equal(conn.queue().size(), 0);
    assert.equal(conn.maxLen(), 1024);
    assert.equal(a.connection(b.self()), conn);
    assert.equal(a.connection(new Node("nobody", "127.0.0.1", 1)), null);
    assert.equal(a.isConnected(new Node("nobody", "127.0.0.1", 1)), false);
  });

  test("connect to an existing connection or to itself calls back at once", () => {
    let calls = 0;
    a.connect(b.self(), () => calls++);
    a.connect(a.self(), () => calls++);
    assert.equal(calls, 2);
    assert.equal(a.sinks().size, 1);
  });

  test("connect and disconnect a third node", async () => {
    const c = await startKernel("node_c");
    await connect(a, c.self());
    assert.equal(a.sinks().size, 2);
    assert.ok(a.isConnected(c.self()));
    a.disconnect(c.self());
    assert.equal(a.isConnected(c.self()), false);
    assert.equal(a.sinks().size, 1);
    c.stop();
  });

  test("a Buffer cast arrives as a Buffer, with from = {tag: null, node}", async () => {
    const got = once(b, "raw_evt");
    a.cast(b.self(), "raw_evt", Buffer.from([0, 1, 2, 255]));
    const [data, stream, from] = await got;
    assert.ok(Buffer.isBuffer(data));
    assert.deepEqual([...data], [0, 1, 2, 255]);
    assert.equal(stream.done, true);
    assert.equal(from.tag, null);
    assert.ok(from.node instanceof Node);
    assert.ok(from.node.equals(a.self()));
    assert.ok(b.sources().has("node_a"));
  });

  test("JSON values arrive as themselves", async () => {
    const values = ["hello", 42, 1.5, -0.25, true, null, [1, "two", { three: 3 }], { "é": "😀", n: { m: [] } }];
    const seen = [];
    const done = new Promise((resolve) =>
      b.on("json_evt", function onJson(data) {
        seen.push(data);
        if (seen.length === values.length) {
          b.removeListener("json_evt", onJson);
          resolve();
        }
      })
    );
    for (const v of values) a.cast(b.self(), "json_evt", v);
    await within(done);
    assert.deepEqual(seen, values);
  });

  test("call with a callback; the listener replies with kernel.reply", async () => {
    b.on("upper", (data, stream, from) => {
      assert.equal(typeof from.tag, "string");
      b.reply(from, data.toUpperCase());
    });
    assert.equal(await callback((cb) => a.call(b.self(), "upper", "héllo", cb, 5000)), "HÉLLO");
    b.removeAllListeners("upper");
  });

  test("call without a callback returns a readable stream of the reply", async () => {
    b.on("buf", (data, stream, from) => b.reply(from, Buffer.concat([data, Buffer.from("!")])));
    const rstream = a.call(b.self(), "buf", Buffer.from("hi"));
    const chunks = [];
    rstream.on("data", (c) => chunks.push(c));
    await once(rstream, "end");
    assert.equal(chunks.length, 1);
    assert.ok(Buffer.isBuffer(chunks[0]));
    assert.equal(chunks[0].toString(), "hi!");
    b.removeAllListeners("buf");
  });

  test("a readable stream goes out in chunks as the original streams it", async () => {
    // A raw listener stands in for a node and records our frames.
    const frames = [];
    let buffered = "";
    let gotEnd;
    const ended = new Promise((resolve) => (gotEnd = resolve));
    const server = net.createServer((sock) => {
      sock.setEncoding("utf8");
      sock.on("data", (text) => {
        buffered += text;
        let i;
        while ((i = buffered.indexOf("\f")) >= 0) {
          const frame = JSON.parse(buffered.slice(0, i)).data;
          buffered = buffered.slice(i + 1);
          frames.push(frame);
          if (frame.stream.done) gotEnd();
        }
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const raw = new notp.Node("raw_peer", "127.0.0.1", server.address().port);
      await connect(a, raw);
      const input = new PassThrough();
      const call = failure((cb) => a.call(raw, "srv", input, cb, 300));
      input.write('{"event":"x",');
      await new Promise(setImmediate);
      input.end('"data":1}');
      await within(ended, 5000, "the stream's end");
      assert.equal(frames.length, 3);
      const [first, second, end] = frames;
      assert.equal(first.stream.done, false);
      assert.match(first.stream.stream, /^[0-9a-f]{48}$/);
      assert.deepEqual(second.stream, first.stream);
      assert.deepEqual(end.stream, { done: true, stream: first.stream.stream });
      assert.equal(end.data, null);
      assert.ok(first.tag && second.tag === first.tag && end.tag === first.tag);
      assert.equal(first.id, "srv");
      const text = Buffer.concat([first, second].map((f) => Buffer.from(f.data.data))).toString();
      assert.equal(text, '{"event":"x","data":1}');
      assert.match((await call).message, /Timeout/);
    } finally {
      a.disconnect(new notp.Node("raw_peer"), true);
      server.close();
    }
  });

  test("a streamed body waits for a slow connection instead of losing chunks", async () => {
    // A listener that reads nothing at first: the connection backs up, the
    // source must be paused, and once it reads every chunk arrives.
    let sock = null;
    let gotSock;
    const accepted = new Promise((resolve) => (gotSock = resolve));
    const server = net.createServer((s) => {
      s.pause();
      sock = s;
      gotSock();
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const raw = new notp.Node("slow_peer", "127.0.0.1", server.address().port);
    try {
      await connect(a, raw);
      await within(accepted, 5000, "accept");
      const CHUNKS = 192; // 12 MiB, past the 8 MiB pause mark
      const chunk = Buffer.alloc(64 * 1024, 7);
      let produced = 0;
      const input = new Readable({
        read() {
          if (produced === CHUNKS) this.push(null);
          else {
            produced++;
            this.push(chunk);
          }
        },
      });
      a.cast(raw, "sink", input);
      await within(
        (async () => {
          while (!(input.isPaused() && produced < CHUNKS)) await new Promise((r) => setTimeout(r, 5));
        })(),
        5000,
        "the source's pause"
      );
      // Now read: count frames (one per chunk, then the end).
      let frames = 0;
      let last = "";
      const done = new Promise((resolve) => {
        sock.setEncoding("latin1");
        sock.on("data", (text) => {
          let at = -1;
          while ((at = text.indexOf("\f", at + 1)) >= 0) frames++;
          last = (last + text).slice(-200);
          if (frames === CHUNKS + 1) resolve();
        });
      });
      sock.resume();
      await within(done, 20000, "every chunk");
      assert.equal(produced, CHUNKS);
      assert.match(last, /"stream":\{"done":true,"stream":"[0-9a-f]{48}"\},"data":null\}\}\f$/);
    } finally {
      a.disconnect(new notp.Node("slow_peer"), true);
      if (sock) sock.destroy();
      server.close();
    }
  });

  test("a stream destroyed before its end fails the call at once", async () => {
    b.on("never_whole", () => assert.fail("an unfinished body must not be delivered"));
    const input = new PassThrough();
    const call = failure((cb) => a.call(b.self(), "never_whole", input, cb, 5000), 2000);
    input.write("half a body");
    await new Promise(setImmediate);
    input.destroy();
    assert.match((await call).message, /Stream aborted/);
    b.removeAllListeners("never_whole");
  });

  test("a readable stream as data is sent in chunks and reassembled, and as a reply", async () => {
    b.on("streamed", (data, stream, from) => {
      assert.equal(data.toString(), "part one, part two");
      const out = new PassThrough();
      b.reply(from, out);
      out.write("wor");
      out.end("ld");
    });
    const input = new PassThrough();
    const reply = callback((cb) => a.call(b.self(), "streamed", input, cb, 5000));
    input.write("part one, ");
    input.end("part two");
    assert.equal((await reply).toString(), "world");
    b.removeAllListeners("streamed");
  });

  test("callSingleton and the original's reply by casting to the tag", async () => {
    b.on("tagcast", (data, stream, from) => b.cast(from.node, from.tag, { echoed: data }));
    assert.deepEqual(await callback((cb) => a.callSingleton(b.self(), "tagcast", [1, 2], cb, 5000)), {
      echoed: [1, 2],
    });
    b.removeAllListeners("tagcast");
  });

  test("local calls and casts (target on the same node)", async () => {
    a.on("local", (data, stream, from) => {
      assert.ok(from.node.equals(a.self()));
      if (from.tag !== null) a.reply(from, { got: data });
    });
    assert.deepEqual(await callback((cb) => a.call(a.self(), "local", "x", cb, 5000)), { got: "x" });
    const cast = once(a, "local");
    a.cast(a.self(), "local", Buffer.from("y"));
    const [data] = await cast;
    assert.equal(data.toString(), "y");
    a.removeAllListeners("local");
  });

  test("multicall and abcast", async () => {
    const handler = (k) => (data, stream, from) => {
      if (from.tag) k.reply(from, `${k.id()}:${data}`);
    };
    a.on("multi", handler(a));
    b.on("multi", handler(b));
    const replies = await callback((cb) => a.multicall([a.self(), b.self()], "multi", "q", cb, 5000));
    assert.deepEqual(replies, ["node_a:q", "node_b:q"]);
    const streams = a.multicall([b.self(), a.self()], "multi", "s");
    assert.equal(streams.length, 2);
    const got = await Promise.all(
      streams.map(async (s) => {
        const [v] = await once(s, "data");
        return v;
      })
    );
    assert.deepEqual(got, ["node_b:s", "node_a:s"]);
    const err = await failure((cb) =>
      a.multicallSingleton([b.self(), new Node("ghost", "127.0.0.1", 1)], "multi", "q", cb, 5000)
    );
    assert.equal(err.message, "Unknown node ghost");
    const both = Promise.all([once(a, "bcast"), once(b, "bcast")]);
    a.abcast([a.self(), b.self()], "bcast", { all: true });
    const [[da], [db]] = await both;
    assert.deepEqual([da, db], [{ all: true }, { all: true }]);
    a.removeAllListeners("multi");
    b.removeAllListeners("multi");
  });

  test("ping", async () => {
    assert.equal(await callback((cb) => a.ping(b.self(), cb, 5000)), "pong");
    assert.equal(await callback((cb) => a.ping(a.self(), cb)), "pong");
    const err = await failure((cb) => a.ping(new Node("ghost", "127.0.0.1", 1), cb, 1000));
    assert.equal(err.message, "Unknown node ghost");
  });

  test("errors: unknown node, unknown server, timeout", async () => {
    let err = await failure((cb) => a.call(new Node("ghost", "127.0.0.1", 1), "x", "y", cb));
    assert.equal(err.message, "Unknown node ghost");
    const rstream = a.call(new Node("ghost", "127.0.0.1", 1), "x", "y");
    [err] = await once(rstream, "error");
    assert.equal(err.message, "Unknown node ghost");

    err = await failure((cb) => a.call(b.self(), "no_such_server", "y", cb, 5000));
    assert.match(err.message, /no_such_server/);
    assert.match(err.message, /node_b/);
    assert.equal(err.type, "UNKNOWN_TARGET");

    b.on("silent", () => {});
    err = await failure((cb) => a.call(b.self(), "silent", "y", cb, 50));
    assert.equal(err.message, "Timeout.");
    b.removeAllListeners("silent");
  });

  test("large payloads both ways, interleaved with small ones, arrive whole and in order", async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const text = "é".repeat(512 * 1024);
    const seen = [];
    b.on("big", (data, stream, from) => {
      seen.push(Buffer.isBuffer(data) ? data.length : typeof data === "string" ? data.length : data);
      if (from.tag) b.reply(from, data);
    });
    for (let i = 0; i < 3; i++) a.cast(b.self(), "big", i);
    const back = await callback((cb) => a.call(b.self(), "big", big, cb, 10000), 15000);
    a.cast(b.self(), "big", 3);
    const backText = await callback((cb) => a.call(b.self(), "big", text, cb, 10000), 15000);
    assert.ok(back.equals(big));
    assert.equal(backText, text);
    assert.deepEqual(seen, [0, 1, 2, big.length, 3, text.length]);
    b.removeAllListeners("big");
  });

  test("a cast to an unconnected node is ignored", () => {
    assert.equal(a.cast(new Node("ghost", "127.0.0.1", 1), "x", "y"), a);
  });

  test("reply without a tag throws, as in the original", async () => {
    const got = once(b, "notag");
    a.cast(b.self(), "notag", 1);
    const [, , from] = await got;
    assert.throws(() => b.reply(from, "x"), /no callback tag/);
  });

  test("the first listener registers a target, the last one removing it releases it", async () => {
    const f = () => {};
    b.on("reg", f);
    b.on("reg", f);
    b.removeListener("reg", f);
    b.on("reg", (data, stream, from) => b.reply(from, "still here"));
    assert.equal(await callback((cb) => a.call(b.self(), "reg", null, cb, 5000)), "still here");
    b.removeAllListeners("reg");
    const err = await failure((cb) => a.call(b.self(), "reg", null, cb, 5000));
    assert.equal(err.type, "UNKNOWN_TARGET");
    // removeAllListeners() keeps the kernel's own hooks working.
    const c = await startKernel("node_hooks");
    c.removeAllListeners();
    c.on("again", (data, stream, from) => c.reply(from, "yes"));
    assert.equal(await callback((cb) => c.call(c.self(), "again", null, cb, 5000)), "yes");
    c.stop();
  });

  test("_skip: a frame with a bad checksum is dropped and reported", async () => {
    const wire = loadVectors("wire.json");
    const cast = wire.writes.find((w) => w.phase === "genserver_cast");
    const frame = Buffer.from(cast.bytes_base64, "base64");
    const text = frame.toString("utf8");
    assert.ok(text.includes('"data":"bar"'));
    const tampered = Buffer.from(text.replace('"data":"bar"', '"data":"baz"'), "utf8");
    const skipped = once(b, "_skip");
    const socket = net.connect(b.port(), "127.0.0.1");
    socket.on("error", () => {});
    socket.write(tampered);
    const [err] = await skipped;
    socket.destroy();
    assert.ok(err instanceof Error);
    assert.equal(err.type, "INVALID_CHECKSUM");
    assert.equal(b.skipped().INVALID_CHECKSUM >= 1, true);
    // The node keeps working.
    b.on("after_skip", (data, stream, from) => b.reply(from, "ok"));
    assert.equal(await callback((cb) => a.call(b.self(), "after_skip", null, cb, 5000)), "ok");
    b.removeAllListeners("after_skip");
  });

  test("requests made before _ready are sent once the kernel listens", async () => {
    const c = notp.createKernel("node_early", "127.0.0.1", 0);
    c.on("early", (data, stream, from) => c.reply(from, data + 1));
    c.start({ cookie: "cookie" });
    const reply = callback((cb) => c.call(c.self(), "early", 1, cb, 5000));
    await once(c, "_ready");
    assert.equal(await reply, 2);
    c.stop();
  });

  test("stop fails the calls still waiting", async () => {
    const c = await startKernel("node_stopping");
    c.on("never", () => {});
    const pending = failure((cb) => c.call(c.self(), "never", null, cb));
    await new Promise(setImmediate);
    c.stop();
    assert.match((await pending).message, /stopped/);
  });
});

describe("NetKernel: process lifetime", () => {
  const lib = JSON.stringify(repoRoot);

  function run(script, ms = 10000) {
    return within(
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["-e", script], {
          stdio: ["ignore", "pipe", "pipe"],
          cwd: path.resolve(__dirname),
        });
        let out = "";
        let errText = "";
        child.stdout.on("data", (c) => (out += c));
        child.stderr.on("data", (c) => (errText += c));
        const timer = setTimeout(() => child.kill("SIGKILL"), ms);
        child.on("error", reject);
        child.on("exit", (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, out, err: errText });
        });
      }),
      ms + 2000,
      "child process"
    );
  }

  const setup = `
    const notp = require(${lib});
    const a = notp.createKernel("pa", "127.0.0.1", 0);
    const b = notp.createKernel("pb", "127.0.0.1", 0);
    let ready = 0;
    b.on("echo", (d, s, from) => b.reply(from, d));
    for (const k of [a, b]) { k.once("_ready", go); k.start({cookie: "cookie"}); }
    function go() {
      if (++ready < 2) return;
      a.connect(b.self(), () => b.connect(a.self(), () => {
        a.call(b.self(), "echo", "hi", (err, d) => {
          if (err) throw err;
          console.log("reply " + d);
          next();
        }, 5000);
      }));
    }`;

  test("a script that starts, calls and stops exits by itself", async () => {
    const r = await run(`${setup}
      function next() { a.stop(); b.stop(); }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "reply hi");
  });

  test("a started kernel keeps the process alive until stopped", async () => {
    const r = await run(`${setup}
      function next() {
        a.stop();
        // Only b keeps the loop alive for this unref'd timer.
        setTimeout(() => { console.log("alive"); b.stop(); }, 100).unref();
      }`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "reply hi\nalive");
  });

  test("process.exit with kernels running exits cleanly", async () => {
    const r = await run(`${setup}
      function next() {
        // A call in flight and both kernels running.
        a.call(b.self(), "echo", "x".repeat(10000), () => {});
        process.exit(0);
      }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "reply hi");
  });

  test("a kernel stopped while a peer in another process keeps its connection open exits", async () => {
    // The peer (this process) stays connected after the child stops: the
    // child's end of that connection, watched by its event loop, must not
    // keep it alive.
    const peer = await startKernel("lifetime_peer");
    try {
      const child = spawn(
        process.execPath,
        [
          "-e",
          `const notp = require(${lib});
          const b = notp.createKernel("lifetime_child", "127.0.0.1", 0);
          b.on("echo", (d, s, from) => {
            b.reply(from, d);
            setImmediate(() => b.stop());
          });
          b.once("_ready", () => {
            b.connect(new notp.Node("lifetime_peer", "127.0.0.1", Number(process.argv[1])), () => console.log(b.port()));
          });
          b.start({ cookie: "cookie" });`,
          String(peer.port()),
        ],
        { stdio: ["ignore", "pipe", "pipe"] }
      );
      const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
      const [chunk] = await once(child.stdout, "data");
      const node = new notp.Node("lifetime_child", "127.0.0.1", Number(String(chunk).trim()));
      await connect(peer, node);
      assert.equal(await callback((cb) => peer.call(node, "echo", "hi", cb, 5000)), "hi");
      const outcome = await within(exited, 8000, "the child's exit");
      assert.deepEqual(outcome, { code: 0, signal: null });
    } finally {
      peer.stop();
    }
  });

  test("a worker thread with kernels talking both ways terminates cleanly", async () => {
    const r = await run(`
      const { Worker } = require("node:worker_threads");
      const w = new Worker(${JSON.stringify(`${setup}
        function next() { require("node:worker_threads").parentPort.postMessage("called"); }`)}, { eval: true });
      w.on("message", async () => {
        // Both kernels still run, their connections watched by the
        // worker's event loop.
        console.log("terminated " + (await w.terminate()));
      });
      w.on("error", (err) => { console.error(err); process.exit(2); });`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "reply hi\nterminated 1");
  });

  test("an uncaught exception with a kernel running ends the process normally", async () => {
    const r = await run(`${setup}
      function next() { throw new Error("boom"); }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 1);
    assert.match(r.err, /boom/);
  });
});
