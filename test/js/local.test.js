"use strict";

// Messages between targets of the same node (issue 10): delivered in
// JavaScript as the original delivered them — the listener runs inside the
// cast or call that sent the message, with the data object itself, `from`
// = {tag, node: kernel.self()}, a Readable chunk by chunk — while a call's
// callback runs only after `call` returned, and targets that are not
// JavaScript listeners still go through the engine.

const { describe, test, after } = require("node:test");
const assert = require("node:assert/strict");
const { PassThrough } = require("node:stream");
const notp = require("../..");
const { once, callback, failure, startKernel } = require("./kernel_helpers");

describe("local messages", () => {
  let k;
  const started = startKernel("local_node").then((kernel) => (k = kernel));
  after(() => k && k.stop());

  test("a cast runs the listener before cast returns, with the object itself and from = {tag: null, node}", async () => {
    await started;
    const sent = { list: [1, 2] };
    const seen = [];
    k.on("cast_target", (data, stream, from) => seen.push({ data, stream, from }));
    assert.equal(k.cast(k.self(), "cast_target", sent), k);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].data, sent, "the same object, not a copy");
    assert.deepEqual(seen[0].stream, { done: true });
    assert.equal(seen[0].from.tag, null);
    assert.ok(seen[0].from.node.equals(k.self()));
    // What the receiver does to it, the sender sees, as in the original.
    k.on("cast_mutate", (data) => data.list.push(3));
    k.cast(k.self(), "cast_mutate", sent);
    assert.deepEqual(sent.list, [1, 2, 3]);
    k.removeAllListeners("cast_target");
    k.removeAllListeners("cast_mutate");
  });

  test("a call runs the listener inside call; its callback runs after call returned, with the reply object itself", async () => {
    await started;
    const answer = { ok: true };
    let tag;
    k.on("call_target", (data, stream, from) => {
      tag = from.tag;
      assert.ok(from.node.equals(k.self()));
      k.reply(from, answer);
    });
    let returned = false;
    let inside = null;
    const got = new Promise((resolve, reject) =>
      k.call(k.self(), "call_target", "q", (err, out) => {
        inside = !returned;
        return err ? reject(err) : resolve(out);
      })
    );
    returned = true;
    assert.match(tag, /^[0-9a-f]{48}[0-9a-f]+$/, "a tag shaped like the original's");
    assert.equal(await got, answer);
    assert.equal(inside, false, "the callback did not run inside call");
    k.removeAllListeners("call_target");
  });

  test("a reply made later, and the original's reply by casting to the tag", async () => {
    await started;
    k.on("later", (data, stream, from) => setImmediate(() => k.reply(from, data * 2)));
    k.on("tagcast", (data, stream, from) => k.cast(from.node, from.tag, { echoed: data }));
    assert.equal(await callback((cb) => k.call(k.self(), "later", 21, cb)), 42);
    assert.deepEqual(await callback((cb) => k.callSingleton(k.self(), "tagcast", [1], cb)), { echoed: [1] });
    const rstream = k.call(k.self(), "later", 5);
    const [out] = await once(rstream, "data");
    assert.equal(out, 10);
    k.removeAllListeners("later");
    k.removeAllListeners("tagcast");
  });

  test("timeouts, and stop failing the calls still waiting", async () => {
    const c = await startKernel("local_stopping");
    c.on("silent", () => {});
    const timedOut = await failure((cb) => c.call(c.self(), "silent", null, cb, 20));
    assert.equal(timedOut.message, "Timeout.");
    const pending = failure((cb) => c.call(c.self(), "silent", null, cb));
    c.stop();
    assert.match((await pending).message, /stopped/);
  });

  test("messages arrive in the order they were sent, calls and casts alike", async () => {
    await started;
    const order = [];
    k.on("ordered", (data, stream, from) => {
      order.push(data);
      if (from.tag) k.reply(from, data);
    });
    const replies = [];
    for (let i = 0; i < 10; i++) {
      if (i % 3 === 0) k.call(k.self(), "ordered", i, (err, out) => replies.push(out));
      else k.cast(k.self(), "ordered", i);
    }
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await new Promise(setImmediate);
    assert.deepEqual(replies, [0, 3, 6, 9]);
    k.removeAllListeners("ordered");
  });

  test("a Readable reaches a listener chunk by chunk: {stream, done: false} per chunk, then done: true", async () => {
    await started;
    const events = [];
    const finished = new Promise((resolve) =>
      k.on("chunks", (data, stream, from) => {
        events.push({ data: data === null ? null : data.toString(), stream, tag: from.tag });
        if (stream.done) resolve();
      })
    );
    const body = new PassThrough();
    k.cast(k.self(), "chunks", body);
    body.write("one");
    await new Promise(setImmediate);
    body.write("two");
    await new Promise(setImmediate);
    body.end();
    await finished;
    assert.deepEqual(events.map((e) => e.data), ["one", "two", null]);
    assert.deepEqual(events.map((e) => e.stream.done), [false, false, true]);
    const id = events[0].stream.stream;
    assert.match(id, /^[0-9a-f]{48}$/);
    assert.ok(events.every((e) => e.stream.stream === id && e.tag === null));
    k.removeAllListeners("chunks");

    // A failing source ends its stream with an error.
    const failed = new Promise((resolve) => k.on("failing", (data, stream) => stream.done && resolve(stream)));
    const bad = new PassThrough();
    k.cast(k.self(), "failing", bad);
    bad.destroy(new Error("source broke"));
    const end = await failed;
    assert.equal(end.error.message, "source broke");
    assert.equal(end.error._error, true);
    k.removeAllListeners("failing");
  });

  test("a GenServer assembles a streamed request into one job, as in the original", async () => {
    await started;
    const server = new notp.GenServer(k);
    server.start("assembler");
    const idle = [];
    server.on("idle", () => idle.push(server.idle()));
    server.on("join", (data, from) => server.reply(from, data.parts.join("+")));
    const body = new PassThrough();
    const reply = callback((cb) => k.call(k.self(), "assembler", body, cb));
    body.write(JSON.stringify({ event: "join", data: { parts: ["a", "b"] } }).slice(0, 10));
    await new Promise(setImmediate);
    assert.equal(server.idle(), false, "a partial stream is in flight");
    assert.equal(server.streams().size, 1);
    body.end(JSON.stringify({ event: "join", data: { parts: ["a", "b"] } }).slice(10));
    assert.equal(await reply, "a+b");
    assert.deepEqual(idle, [true]);
    server.stop();
  });

  test("a streamed request not finished within streamTimeout is dropped and its caller told", async () => {
    await started;
    const server = new notp.GenServer(k, { streamTimeout: 30 });
    server.start("slow_stream");
    const body = new PassThrough();
    const err = failure((cb) => k.call(k.self(), "slow_stream", body, cb));
    body.write("{\"event\":");
    assert.equal((await err).message, "Timeout.");
    assert.equal(server.idle(), true);
    server.stop();
  });

  test("GenServer to GenServer: the handler gets the data object itself; call and cast by name", async () => {
    await started;
    const server = new notp.GenServer(k);
    const client = new notp.GenServer(k);
    server.start("gs_local");
    let got;
    server.on("keep", (data) => {
      got = data;
    });
    server.on("echo", (data, from) => server.reply(from, data));
    const obj = { n: 1 };
    client.cast("gs_local", "keep", obj);
    assert.equal(got, obj);
    client.cast({ id: "gs_local", node: k.self() }, "keep", 7);
    assert.equal(got, 7);
    assert.equal(await callback((cb) => client.call("gs_local", "echo", obj, cb)), obj);
    const both = await callback((cb) => client.multicall([k.self()], "gs_local", "echo", "m", cb));
    assert.deepEqual(both, ["m"]);
    client.abcast([k.self()], "gs_local", "keep", "ab");
    assert.equal(got, "ab");
    server.stop();
  });

  test("a handler may call into the kernel again (re-entrancy) without disturbing the caller", async () => {
    await started;
    const trace = [];
    k.on("outer", (data, stream, from) => {
      trace.push("outer");
      k.cast(k.self(), "inner", data);
      k.call(k.self(), "inner_call", data, (err, out) => k.reply(from, out + 1));
    });
    k.on("inner", () => trace.push("inner"));
    k.on("inner_call", (data, stream, from) => {
      trace.push("inner_call");
      k.reply(from, data);
    });
    const out = await callback((cb) => k.call(k.self(), "outer", 1, cb));
    assert.equal(out, 2);
    assert.deepEqual(trace, ["outer", "inner", "inner_call"]);
    for (const name of ["outer", "inner", "inner_call"]) k.removeAllListeners(name);
  });

  test("a target that is no JavaScript listener still goes through the engine", async () => {
    await started;
    const err = await failure((cb) => k.call(k.self(), "nobody_here", null, cb, 5000));
    assert.equal(err.type, "UNKNOWN_TARGET");
  });

  test("local messages need no started kernel, as in the original", async () => {
    const c = notp.createKernel("never_started", "127.0.0.1", 0);
    c.on("here", (data, stream, from) => (from.tag ? c.reply(from, data + "!") : undefined));
    assert.equal(await callback((cb) => c.call(c.self(), "here", "hi", cb)), "hi!");
  });
});
