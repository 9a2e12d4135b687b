"use strict";

// The kernel's options through require("notp"): every one reaches the
// engine (read back from the running kernel), from createKernel, from
// start and from a cluster's kernelOpts; each limit is seen doing its job
// (a frame too large, too many calls, connections or queued bytes, a
// stream too large or too slow, a full mailbox, a peer given up); wrong
// types are refused naming the option. Kernels on 127.0.0.1, port 0.

const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { PassThrough } = require("node:stream");
const notp = require("../..");
const native = require("../../bindings/node/lib/native");
const { once, within, until, failure, startKernel, connect } = require("./kernel_helpers");

const { consts } = notp;

/** Stops kernels (and closes servers) when test `t` ends, passed or not. */
function cleanup(t, ...things) {
  t.after(() => {
    for (const thing of things) {
      if (typeof thing.closeAll === "function") thing.closeAll();
      else thing.stop();
    }
  });
  return things;
}

/** The options the engine runs `kernel` with. */
function engineOptions(kernel) {
  return native.kernelOptions(kernel._h);
}

/** Resolves with the first `_skip` of `kernel` whose type is `type`. */
function skipOf(kernel, type) {
  return within(
    new Promise((resolve) => {
      const onSkip = (err) => {
        if (err.type !== type) return;
        kernel.removeListener("_skip", onSkip);
        resolve(err);
      };
      kernel.on("_skip", onSkip);
    }),
    5000,
    `a ${type} skip`
  );
}

/** A TCP server that accepts and never reads; resolves with it once listening. */
async function deafServer() {
  const sockets = new Set();
  const server = net.createServer({ pauseOnConnect: true }, (sock) => {
    sockets.add(sock);
    sock.on("error", () => {});
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  server.closeAll = () => {
    for (const sock of sockets) sock.destroy();
    server.close();
  };
  return server;
}

describe("NetKernel options: reaching the engine", () => {
  test("absent options are the original's defaults and the engine's", async (t) => {
    const k = await startKernel("opts_defaults", {}, { retry: undefined });
    cleanup(t, k);
    const o = engineOptions(k);
    assert.equal(o.retry, consts.kernelOpts.retry);
    assert.equal(o.maxRetries, undefined); // Infinity: never given up
    assert.equal(o.maxLen, consts.connDefaults.maxLen);
    assert.deepEqual(
      {
        maxQueueBytes: o.maxQueueBytes,
        maxFrame: o.maxFrame,
        maxStreamBytes: o.maxStreamBytes,
        maxInbound: o.maxInbound,
        maxPending: o.maxPending,
        mailbox: o.mailbox,
        streamTimeout: o.streamTimeout,
      },
      {
        maxQueueBytes: 64 * 1024 * 1024,
        maxFrame: 16 * 1024 * 1024,
        maxStreamBytes: 64 * 1024 * 1024,
        maxInbound: 1024,
        maxPending: 65536,
        mailbox: 65536,
        streamTimeout: 30000,
      }
    );
  });

  test("every option given to createKernel reaches the engine; start's win", async (t) => {
    const given = {
      retry: 250,
      maxRetries: 7,
      maxLen: 11,
      maxQueueBytes: 123456,
      maxFrame: 65536,
      maxStreamBytes: 234567,
      maxInbound: 13,
      maxPending: 17,
      mailbox: 19,
      streamTimeout: 4321,
    };
    const k = notp.createKernel("opts_all", "127.0.0.1", 0, given);
    cleanup(t, k);
    k.start({ cookie: "cookie" });
    await once(k, "_ready");
    assert.deepEqual({ ...engineOptions(k) }, given);
    k.stop();

    const overrides = { maxLen: 3, maxFrame: 4096, mailbox: 5, streamTimeout: 600, maxRetries: 2 };
    k.start({ cookie: "cookie", ...overrides });
    await once(k, "_ready");
    assert.deepEqual({ ...engineOptions(k) }, { ...given, ...overrides });
  });

  test("a cluster's kernelOpts, at createCluster and at start, reach its kernel", async (t) => {
    const node = notp.createCluster("opts_cluster", "127.0.0.1", 0, {
      kernelOpts: { retry: 100, maxFrame: 8192, maxInbound: 21 },
      gossipOpts: { interval: 50 },
    });
    t.after(() => node.stop());
    await within(
      new Promise((resolve, reject) =>
        node.start("cookie", "ring", (err) => (err ? reject(err) : resolve()), { maxPending: 23, maxInbound: 22 })
      ),
      10000,
      "starting the cluster node"
    );
    const o = engineOptions(node.kernel());
    assert.equal(o.maxFrame, 8192);
    assert.equal(o.maxPending, 23);
    assert.equal(o.maxInbound, 22);
  });

  test("a cookie given to createKernel signs the kernel's messages", async (t) => {
    const a = await startKernel("opts_cookie_a", {}, {});
    const signed = notp.createKernel("opts_cookie_b", "127.0.0.1", 0, { cookie: "cookie", retry: 100 });
    const unsigned = notp.createKernel("opts_cookie_c", "127.0.0.1", 0, { retry: 100 });
    cleanup(t, a, signed, unsigned);
    signed.start();
    await once(signed, "_ready");
    unsigned.start();
    await once(unsigned, "_ready");
    a.on("hello", (data, stream, from) => a.reply(from, `hi ${data}`));
    await connect(signed, a.self());
    await connect(unsigned, a.self());
    await connect(a, signed.self());
    await connect(a, unsigned.self());
    const reply = await new Promise((resolve, reject) =>
      signed.call(a.self(), "hello", "b", (err, data) => (err ? reject(err) : resolve(data)), 5000)
    );
    assert.equal(reply, "hi b");
    // Unsigned frames are dropped by a kernel with a cookie.
    const dropped = skipOf(a, "INVALID_CHECKSUM");
    unsigned.cast(a.self(), "hello", "c");
    await dropped;
  });

  test("a non-number is a TypeError naming the option; a negative one is refused naming it", () => {
    for (const name of ["maxLen", "maxQueueBytes", "maxFrame", "maxStreamBytes", "maxInbound", "maxPending", "mailbox", "streamTimeout"]) {
      const k = notp.createKernel(`opts_type_${name}`, "127.0.0.1", 0, { [name]: "12" });
      assert.throws(() => k.start(), (err) => err instanceof TypeError && err.message.includes(name), name);
      const k2 = notp.createKernel(`opts_neg_${name}`, "127.0.0.1", 0);
      assert.throws(() => k2.start({ [name]: -1 }), (err) => err.message.includes(name), name);
      assert.equal(native.kernelRunning(k2._h), false);
    }
    const k = notp.createKernel("opts_type_retry", "127.0.0.1", 0);
    assert.throws(() => k.start({ retry: "soon" }), TypeError);
    assert.throws(() => k.start({ maxRetries: "many" }), TypeError);
    assert.throws(() => k.start({ cookie: 5 }), /cookie must be a string/);
  });
});

describe("NetKernel options: each limit at work", () => {
  test("maxFrame: a larger frame closes its connection, reported as FRAME_TOO_LARGE", async (t) => {
    const [a, small] = cleanup(t, await startKernel("frame_a"), await startKernel("frame_small", {}, { maxFrame: 2048 }));
    await connect(a, small.self());
    const got = [];
    small.on("sized", (data) => got.push(data.length));
    const fits = new Promise((resolve) => small.once("sized", resolve));
    a.cast(small.self(), "sized", "x".repeat(100));
    await within(fits, 5000, "the small cast");
    const skipped = skipOf(small, "FRAME_TOO_LARGE");
    a.cast(small.self(), "sized", "x".repeat(4096));
    const err = await skipped;
    assert.match(err.message, /clos/);
    assert.equal(small.skipped().FRAME_TOO_LARGE, 1);
    assert.deepEqual(got, [100]);
  });

  test("maxPending: calls beyond it fail at once", async (t) => {
    const [b, caller] = cleanup(t, await startKernel("pending_b"), await startKernel("pending_caller", { maxPending: 2 }));
    await connect(caller, b.self());
    b.on("never", () => {});
    const waiting = [1, 2].map(() => failure((cb) => caller.call(b.self(), "never", null, cb)));
    const refused = await failure((cb) => caller.call(b.self(), "never", null, cb), 1000, "the third call");
    assert.match(refused.message, /too many calls awaiting replies \(2\)/);
    caller.stop();
    for (const err of await Promise.all(waiting)) assert.match(err.message, /stopped/);
  });

  test("mailbox: this node's own messages to its JavaScript listeners never wait in it, none dropped", async (t) => {
    const N = 3000;
    const [k] = cleanup(t, await startKernel("mailbox_1", { mailbox: 1 }));
    assert.equal(engineOptions(k).mailbox, 1);
    let received = 0;
    k.on("box", () => received++);
    for (let i = 0; i < N; i++) k.cast(k.self(), "box", i);
    // Delivered in JavaScript, before cast returned.
    assert.equal(received, N);
    assert.equal(k.skipped().MAILBOX_FULL, undefined);
  });

  test("maxInbound: connections beyond it are closed at once, reported as TOO_MANY_CONNECTIONS", async (t) => {
    const [k] = cleanup(t, await startKernel("inbound_limit", { maxInbound: 1 }));
    const first = net.connect(k.port(), "127.0.0.1");
    t.after(() => first.destroy());
    first.on("error", () => {});
    await once(first, "connect");
    const skipped = skipOf(k, "TOO_MANY_CONNECTIONS");
    const second = net.connect(k.port(), "127.0.0.1");
    second.on("error", () => {});
    const closed = once(second, "close");
    await skipped;
    await closed;
  });

  test("maxStreamBytes: a streamed body past it is dropped, reported as STREAM_TOO_LARGE", async (t) => {
    const [a, small] = cleanup(
      t,
      await startKernel("streambytes_a"),
      await startKernel("streambytes_small", {}, { maxStreamBytes: 64 * 1024 })
    );
    await connect(a, small.self());
    const skipped = skipOf(small, "STREAM_TOO_LARGE");
    small.on("body", () => {});
    const body = new PassThrough();
    a.cast(small.self(), "body", body);
    for (let i = 0; i < 4; i++) body.write(Buffer.alloc(32 * 1024, i));
    body.end();
    const err = await skipped;
    assert.match(err.message, /exceeds 65536 bytes/);
    // The connection keeps working.
    const next = new Promise((resolve) => small.once("after", resolve));
    a.cast(small.self(), "after", "still here");
    assert.equal(await within(next, 5000, "the next cast"), "still here");
  });

  test("streamTimeout: a streamed body not finished in time is dropped, reported as STREAM_TIMEOUT", async (t) => {
    const [a, quick] = cleanup(t, await startKernel("streamtime_a"), await startKernel("streamtime_quick", { streamTimeout: 100 }));
    await connect(a, quick.self());
    quick.on("slow", () => {});
    const skipped = skipOf(quick, "STREAM_TIMEOUT");
    const body = new PassThrough();
    a.cast(quick.self(), "slow", body);
    body.write(Buffer.from("first chunk"));
    const err = await skipped;
    assert.match(err.message, /did not finish in 100ms/);
    a.stop();
    body.destroy();
  });

  test(
    "a body dropped for its size is not delivered later in part",
    { todo: "engine: src/net/inbound.rs forgets a dropped stream, so its later chunks start a new body" },
    async (t) => {
      const [a, small] = cleanup(
        t,
        await startKernel("dropped_a"),
        await startKernel("dropped_small", {}, { maxStreamBytes: 64 * 1024 })
      );
      await connect(a, small.self());
      const got = [];
      small.on("body", (data) => got.push(data.length));
      const body = new PassThrough();
      a.cast(small.self(), "body", body);
      const sent = once(body, "end");
      for (let i = 0; i < 4; i++) body.write(Buffer.alloc(32 * 1024, i));
      body.end();
      await sent;
      // Frames of one connection are handled in order: once this arrives,
      // anything of the body would have too.
      const marker = new Promise((resolve) => small.once("marker", resolve));
      a.cast(small.self(), "marker", null);
      await within(marker, 5000, "the marker");
      assert.deepEqual(got, []);
    }
  );

  test("maxQueueBytes: a peer that reads nothing holds at most that many bytes queued", async (t) => {
    const [deaf, k] = cleanup(t, await deafServer(), await startKernel("queuebytes", { maxQueueBytes: 256 * 1024 }));
    const peer = new notp.Node("deaf", "127.0.0.1", deaf.address().port);
    await connect(k, peer);
    const text = "x".repeat(200 * 1024);
    // Far more than the socket buffers take (a 4 MiB send buffer at most
    // and the window of a receiver that never reads).
    for (let i = 0; i < 128; i++) k.cast(peer, "t", text);
    const queued = k.connection(peer).queue().size();
    assert.ok(queued <= 1, `at most one frame of about 200 KiB waits, not ${queued}`);
  });

  test("retry and maxRetries: a peer that never answers is given up after that many attempts", async (t) => {
    const gone = await deafServer();
    const port = gone.address().port;
    gone.close();
    const [k] = cleanup(t, await startKernel("retries", { retry: 20, maxRetries: 3 }));
    const peer = new notp.Node("gone", "127.0.0.1", port);
    k.connect(peer);
    const conn = k.sinks().get("gone");
    assert.ok(conn !== undefined && conn.active());
    await until(() => !conn.active(), "the peer given up");
    assert.equal(engineOptions(k).retry, 20);
  });
});
