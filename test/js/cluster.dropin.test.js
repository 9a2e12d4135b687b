"use strict";

// The original's GossipRing and CommandServer surfaces through
// require("notp") (issue 10): the four-argument constructor, the setters
// before start and on a running ring, sendRing / selectRandom /
// selectRandomFrom / LWW / maxMsgRound / decodeJob, idle() with a stream in
// flight, pause() / resume(), ringID() right after start, and the command
// server's methods, name and decodeJob. Nodes on 127.0.0.1 with port 0;
// waits are on events (or on engine state, re-checked) with timeouts.

const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { PassThrough } = require("node:stream");
const notp = require("../..");
const { once, within, until: poll, startKernel, connect } = require("./kernel_helpers");
const { WAIT_MS, clusterOpts, startCluster, stopAll, until } = require("./cluster_helpers");

const { Node, CHash, VectorClock, GossipRing } = notp;

const ids = (ring) => ring.nodes().map((n) => n.id()).sort();
const json = (value) => value.toJSON(true);

/** A clock of `{actor: insertTime}`. */
function clockOf(inserts) {
  const entries = {};
  for (const [actor, t] of Object.entries(inserts)) entries[actor] = { count: 1, insert: t, time: t };
  return new VectorClock().fromJSON(entries);
}

function tmpFile(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "notp-dropin-"));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, "ring.json");
}

/** A started kernel with a started gossip ring built by `make(kernel)`. */
async function startRing(t, id, make, ringID = "ring") {
  const kernel = await startKernel(id);
  const gossip = make(kernel);
  gossip.start(ringID);
  t.after(async () => {
    const stopped = once(gossip, "stop");
    gossip.stop();
    await stopped;
    kernel.stop();
  });
  return { kernel, gossip };
}

/** Resolves after `n` `send` events of `gossip` (its gossip rounds, as a clock). */
function sends(gossip, n) {
  return within(
    new Promise((resolve) => {
      let seen = 0;
      const on = () => {
        if (++seen < n) return;
        gossip.removeListener("send", on);
        resolve();
      };
      gossip.on("send", on);
    }),
    WAIT_MS,
    `${n} gossip sends`
  );
}

describe("new GossipRing(kernel, chash, vclock, opts)", () => {
  test("the ring, clock and options given are the ones used", async (t) => {
    const flushPath = tmpFile(t);
    const x = new Node("ctor_x", "127.0.0.1", 1);
    let chash;
    let vclock;
    const { kernel, gossip } = await startRing(t, "ctor_a", (k) => {
      chash = new CHash(4, 1).insert(k.self()).insert(x);
      vclock = new VectorClock("seed", 2);
      const g = new GossipRing(k, chash, vclock, { interval: 60000, flushPath });
      // Before start: the state given.
      assert.deepEqual(json(g.ring()), json(chash));
      assert.deepEqual(json(g.vclock()), json(vclock));
      return g;
    });
    assert.ok(gossip instanceof notp.GenServer);
    assert.deepEqual(json(gossip.ring()), json(chash), "the engine runs the ring given");
    assert.equal(gossip.vclock().getCount("seed"), 2);
    assert.equal(gossip.ringID(), "ring");
    assert.ok(kernel.isConnected(x), "its members are connected to");
    // The ring's factors: rfactor 4 without a weight, pfactor 1 for lookups.
    gossip.insert(new Node("ctor_y", "127.0.0.1", 2));
    assert.equal(gossip.ring().weights().get("ctor_y"), 4);
    assert.equal(gossip.find("user:1").length, 2);
    assert.equal(gossip.vclock().getCount("seed"), 2, "the clock given goes on");
    // The options given: the flush path.
    gossip.flush();
    assert.equal(JSON.parse(fs.readFileSync(flushPath, "utf8")).ring, "ring");
  });

  test("a state saved at flushPath wins over the constructor's; (kernel, opts) is a ring of this node alone", async (t) => {
    const flushPath = tmpFile(t);
    const first = await startRing(t, "ctor_b", (k) => notp.createGossip(k, { flushPath, interval: 60000 }));
    first.gossip.insert(new Node("ctor_z", "127.0.0.1", 3));
    first.gossip.flush();
    const saved = json(first.gossip.ring());
    const again = await startRing(t, "ctor_b", (k) => {
      const alone = new CHash(3, 2).insert(k.self());
      return new GossipRing(k, alone, new VectorClock(), { flushPath, interval: 60000 });
    });
    assert.deepEqual(json(again.gossip.ring()), saved);

    const kernel = notp.createKernel("ctor_c", "127.0.0.1", 0);
    const plain = new GossipRing(kernel, { rfactor: 2 });
    assert.deepEqual(ids(plain.ring()), ["ctor_c"]);
    assert.equal(plain.ring().weights().get("ctor_c"), 2);
    assert.throws(() => new GossipRing(kernel, {}, new VectorClock(), {}), { name: "TypeError", message: /chash/ });
  });
});

describe("setters", () => {
  test("before start they set the state the start begins with", async (t) => {
    const x = new Node("set_x", "127.0.0.1", 1);
    let ring;
    let clock;
    const { kernel, gossip } = await startRing(
      t,
      "set_a",
      (k) => {
        const g = notp.createGossip(k, { interval: 60000 });
        ring = new CHash(3, 2).insert(k.self()).insert(x, 5);
        clock = new VectorClock("set_actor", 3);
        assert.equal(g.ring(ring), ring);
        assert.equal(g.vclock(clock), clock);
        assert.equal(g.actor("set_actor"), "set_actor");
        assert.equal(g.ringID("set_ring"), "set_ring");
        assert.deepEqual(json(g.ring()), json(ring));
        assert.deepEqual(json(g.vclock()), json(clock));
        assert.equal(g.actor(), "set_actor");
        assert.equal(g.ringID(), "set_ring");
        return g;
      },
      "set_ring"
    );
    assert.deepEqual(json(gossip.ring()), json(ring));
    assert.deepEqual(json(gossip.vclock()), json(clock));
    assert.equal(gossip.actor(), "set_actor");
    assert.equal(gossip.ringID(), "set_ring");
    assert.ok(kernel.isConnected(x));
    // Another ring id than the one set is refused, as a loaded one is.
    const other = notp.createGossip(kernel);
    other.ringID("one");
    assert.throws(() => other.start("two"), /Loaded ring ID 'one' does not match 'two'/);
    assert.throws(() => other.ringID(""), TypeError);
    assert.throws(() => other.actor(5), TypeError);
    assert.throws(() => other.ring({}), TypeError);
  });

  test("on a running ring they take effect at once: no new version, no event; the next round sends the ring", async (t) => {
    const node = await startCluster("run_a", { gossipOpts: { interval: 30 } });
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    let processed = 0;
    gossip.on("process", () => processed++);
    assert.equal(gossip.actor("run_actor"), "run_actor");
    assert.equal(gossip.actor(), "run_actor");
    const before = json(gossip.vclock());
    const x = new Node("run_x", "127.0.0.1", 1);
    const ring = new CHash(3, 2).insert(node.kernel().self()).insert(x, 2);
    const sent = within(new Promise((resolve) => gossip.once("send", (c, e, msg) => resolve(msg))), WAIT_MS, "a gossip round");
    assert.equal(gossip.ring(ring), ring);
    assert.deepEqual(json(gossip.ring()), json(ring));
    assert.deepEqual(json(gossip.vclock()), before, "no new version");
    assert.ok(node.kernel().isConnected(x), "the connections follow the ring");
    assert.deepEqual(await sent, json(ring));
    // Events arrive in order: a `process` for the change would have come first.
    assert.equal(processed, 0);

    const clock = new VectorClock("run_other", 7);
    assert.equal(gossip.vclock(clock), clock);
    assert.deepEqual(json(gossip.vclock()), json(clock));
  });

  test("ringID(id) on a running ring moves it to that ring; null leaves it without telling anyone", async (t) => {
    const a = await startCluster("rid_a");
    const b = await startCluster("rid_b");
    t.after(() => stopAll([a, b]));
    a.gossip().insert(b.kernel().self());
    await until(() => b.gossip().ring().isDefined(a.kernel().self()), [b], "b to learn of a");
    assert.equal(a.gossip().ringID("moved"), "moved");
    b.gossip().ringID("moved");
    assert.equal(a.gossip().ringID(), "moved");
    const z = new Node("rid_z", "127.0.0.1", 1);
    a.gossip().insert(z);
    await until(() => b.gossip().ring().isDefined(z), [b], "b to hear of z in ring 'moved'");
    assert.equal(a.gossip().ringID(null), null);
    assert.equal(a.gossip().ringID(), null);
    assert.equal(a.gossip().join("again"), a.gossip());
    assert.equal(a.gossip().ringID(), "again");
  });
});

describe("sendRing, selectRandom, selectRandomFrom, LWW, maxMsgRound, decodeJob", () => {
  /** A raw listener standing in for a member: the ring messages it gets. */
  async function fakeMember(t) {
    const messages = [];
    const waiters = [];
    const server = net.createServer((socket) => {
      let buf = "";
      socket.on("data", (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\f")) >= 0) {
          const frame = JSON.parse(buf.slice(0, i));
          buf = buf.slice(i + 1);
          if (frame.type === "message" && frame.data.data && frame.data.data.event === "ring") {
            messages.push(frame.data.data.data);
            while (waiters.length > 0 && waiters[0].n <= messages.length) waiters.shift().resolve();
          }
        }
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => server.close());
    return {
      node: new Node("fake", "127.0.0.1", server.address().port),
      messages,
      received: (n) =>
        within(new Promise((resolve) => (n <= messages.length ? resolve() : waiters.push({ n, resolve }))), WAIT_MS, `${n} ring messages`),
    };
  }

  test("sendRing(n): the ring to two random members with round n - 1; nothing for n = 0", async (t) => {
    const fake = await fakeMember(t);
    const node = await startCluster("send_a", { gossipOpts: { interval: 60000 } });
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    assert.equal(notp.createGossip(node.kernel()).sendRing(3) instanceof GossipRing, true, "before start: nothing");
    gossip.insert(fake.node);
    await fake.received(1);
    assert.equal(fake.messages[0].round, 0, "the insert's own news: rounds(2 nodes) - 1");
    assert.equal(gossip.sendRing(3), gossip);
    gossip.sendRing(0);
    gossip.sendRing();
    await fake.received(3);
    const [, three, dflt] = fake.messages;
    assert.deepEqual([three.type, three.round, dflt.round], ["update", 2, 0], "n = 0 sent nothing");
    assert.deepEqual(three.data, json(gossip.ring()));
    assert.deepEqual(three.vclock, json(gossip.vclock()));
    assert.equal(three.actor, gossip.actor());
    assert.throws(() => gossip.sendRing(-1), RangeError);
  });

  test("selectRandom(n) picks members other than this node; selectRandomFrom(nodes, n) picks from a list", async () => {
    const kernel = notp.createKernel("pick_a", "127.0.0.1", 7999);
    const gossip = notp.createGossip(kernel);
    const others = [1, 2, 3].map((i) => new Node(`pick_${i}`, "127.0.0.1", i));
    const ring = new CHash(3, 2).insert(kernel.self());
    for (const n of others) ring.insert(n);
    gossip.ring(ring);
    assert.equal(gossip.selectRandom().length, 1);
    const seen = new Set();
    for (let i = 0; i < 60; i++) {
      const [one] = gossip.selectRandom();
      assert.notEqual(one.id(), "pick_a");
      seen.add(one.id());
    }
    assert.ok(seen.size > 1, "random");
    const two = gossip.selectRandom(2).map((n) => n.id());
    assert.equal(new Set(two).size, 2);
    assert.deepEqual(gossip.selectRandom(10).map((n) => n.id()).sort(), ["pick_1", "pick_2", "pick_3"]);

    const one = gossip.selectRandomFrom(others);
    assert.equal(one.length, 1);
    assert.ok(others.includes(one[0]), "the list's own items");
    assert.equal(new Set(gossip.selectRandomFrom(others, 2)).size, 2);
    assert.deepEqual(gossip.selectRandomFrom(others, 0), []);
    assert.equal(new Set(gossip.selectRandomFrom(others, 10)).size, 3);
    assert.throws(() => gossip.selectRandomFrom("abc"), TypeError);
  });

  test("GossipRing.maxMsgRound and GossipRing.LWW", () => {
    const ring = new CHash(3, 2);
    const rounds = [GossipRing.maxMsgRound(ring)];
    for (let i = 0; i < 9; i++) {
      ring.insert(new Node(`r${i}`, "h", i + 1));
      rounds.push(GossipRing.maxMsgRound(ring));
    }
    assert.deepEqual(rounds, [0, 1, 1, 2, 2, 3, 3, 3, 3, 4]);

    const mine = new CHash(3, 2);
    const theirs = new CHash(3, 2);
    const local = clockOf({ a: 100, b: 300 });
    assert.equal(GossipRing.LWW(mine, local, theirs, clockOf({ c: 301 })), theirs, "a later insert wins");
    assert.equal(GossipRing.LWW(mine, local, theirs, clockOf({ c: 300 })), mine, "ties keep the first");
    assert.equal(GossipRing.LWW(mine, local, theirs, clockOf({ c: 299 })), mine);
    assert.equal(GossipRing.LWW(mine, local, theirs, new VectorClock()), mine);
    assert.equal(GossipRing.LWW(mine, new VectorClock(), theirs, local), theirs);
    assert.throws(() => GossipRing.LWW(mine, {}, theirs, local), TypeError);
  });

  test("decodeJob answers a CHash and a VectorClock; an Error for what the engine would drop", () => {
    const kernel = notp.createKernel("dec_a", "127.0.0.1", 7999);
    const gossip = notp.createGossip(kernel);
    const ring = new CHash(3, 2).insert(new Node("dec_x", "h", 1));
    const clock = new VectorClock("dec_actor", 2);
    const body = { type: "update", actor: "dec_actor", data: json(ring), vclock: json(clock), round: 1 };
    const out = gossip.decodeJob(Buffer.from(JSON.stringify({ event: "ring", data: body })));
    assert.equal(out.event, "ring");
    assert.ok(out.data.data instanceof CHash);
    assert.ok(out.data.vclock instanceof VectorClock);
    assert.deepEqual(json(out.data.data), json(ring));
    assert.deepEqual(json(out.data.vclock), json(clock));
    assert.deepEqual([out.data.type, out.data.round, out.data.actor], ["update", 1, "dec_actor"]);
    const single = gossip.decodeSingleton({ event: "ring", data: { ...body, type: "join" } });
    assert.equal(single.data.type, "join");
    assert.ok(single.data.data.equals(ring));
    for (const bad of [
      "{not json",
      JSON.stringify({ event: "ring", data: 5 }),
      JSON.stringify({ event: "ring", data: { ...body, data: { tree: 5 } } }),
      JSON.stringify({ event: "ring", data: { ...body, type: "nope" } }),
    ]) {
      const err = gossip.decodeJob(Buffer.from(bad));
      assert.ok(err instanceof Error, bad);
    }
  });
});

describe("idle, pause and resume, ringID", () => {
  test("idle() is false while a message to the ring is partly received", async (t) => {
    const node = await startCluster("idle_a", { gossipOpts: { interval: 60000 } });
    const sender = await startKernel("idle_s");
    t.after(() => {
      sender.stop();
      return stopAll([node]);
    });
    await connect(sender, node.kernel().self());
    assert.equal(node.gossip().idle(), true);
    const body = new PassThrough();
    sender.cast(node.kernel().self(), "ring", body);
    body.write(Buffer.from('{"event":"ring",'));
    await poll(() => !node.gossip().idle(), "a stream in flight to the ring");
    body.end(Buffer.from('"data":null}'));
    await poll(() => node.gossip().idle(), "the stream's end");
  });

  test("pause() stops gossiping until resume()", async (t) => {
    const a = await startCluster("pause_a", { gossipOpts: { interval: 20 } });
    const b = await startCluster("pause_b", { gossipOpts: { interval: 20 } });
    t.after(() => stopAll([a, b]));
    b.gossip().insert(a.kernel().self());
    await until(() => a.gossip().ring().isDefined(b.kernel().self()), [a], "a to learn of b");
    const told = [];
    a.gossip().on("pause", () => told.push("pause"));
    a.gossip().on("resume", () => told.push("resume"));
    let aSent = 0;
    a.gossip().on("send", () => aSent++);
    assert.equal(a.gossip().pause(), a.gossip());
    // Events from before the pause arrive well before three of b's rounds.
    await sends(b.gossip(), 3);
    aSent = 0;
    const x = new Node("pause_x", "127.0.0.1", 1);
    b.gossip().insert(x);
    // b's rounds are the clock: ten of them, each to a (and x).
    await sends(b.gossip(), 10);
    assert.equal(aSent, 0, "no gossip round while paused");
    assert.equal(a.gossip().ring().isDefined(x), false, "ring messages that arrive are dropped");
    assert.equal(a.gossip().resume(), a.gossip());
    await until(() => a.gossip().ring().isDefined(x), [a], "a to take b's ring again");
    await sends(a.gossip(), 1);
    assert.deepEqual(told, ["pause", "resume"]);
  });

  test("ringID() answers as soon as start(ringID) returns", async (t) => {
    const kernel = notp.createKernel("rid_c", "127.0.0.1", 0, { retry: 100 });
    const gossip = notp.createGossip(kernel);
    assert.equal(gossip.start("early"), gossip);
    assert.equal(gossip.ringID(), "early", "before the kernel listens");
    const ready = once(kernel, "_ready");
    kernel.start({ cookie: "cookie" });
    await ready;
    assert.equal(gossip.ringID(), "early");
    assert.equal(gossip.find("k").length, 1, "attached");
    const stopped = once(gossip, "stop");
    gossip.stop();
    await stopped;
    kernel.stop();

    const node = notp.createCluster("rid_d", "127.0.0.1", 0, clusterOpts());
    const started = within(new Promise((resolve, reject) => node.start("cookie", "early2", (e) => (e ? reject(e) : resolve()))), WAIT_MS, "start");
    assert.equal(node.gossip().ringID(), "early2", "a cluster node's too");
    await started;
    assert.equal(node.gossip().ringID(), "early2");
    await stopAll([node]);
  });
});

/** One command sent to server `name` on `port` as the CLI sends it; its answer. */
function cliRequest(port, name, command, data, cookie = "cookie") {
  const body = Buffer.from(JSON.stringify({ event: command, data }));
  const envelope = {
    id: name,
    tag: crypto.randomUUID(),
    from: { id: `cli_${process.pid}` },
    stream: { stream: crypto.randomUUID(), done: true },
    data: { type: "Buffer", data: [...body] },
  };
  const checkSum = crypto.createHmac("sha256", cookie).update(JSON.stringify(envelope)).digest("hex");
  const frame = JSON.stringify({ type: "message", data: { checkSum, ...envelope } }) + "\f";
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write(frame));
      let buf = "";
      socket.on("data", (chunk) => {
        buf += chunk;
        const i = buf.indexOf("\f");
        if (i < 0) return;
        socket.destroy();
        resolve(JSON.parse(buf.slice(0, i)).data);
      });
      socket.on("error", reject);
    }),
    WAIT_MS,
    `${command} to ${name}`
  );
}

describe("the command server", () => {
  const COMMANDS = [
    "join", "leave", "meet", "insert", "minsert", "update", "remove", "mremove",
    "inspect", "nodes", "has", "get", "weight", "weights", "ping",
  ];

  test("commandServer() has the original's command methods, run by the engine's command server", async (t) => {
    const node = await startCluster("cmd_a");
    t.after(() => stopAll([node]));
    const comms = node.commandServer();
    for (const name of [...COMMANDS, "decodeJob", "start", "stop"]) {
      assert.equal(typeof comms[name], "function", name);
    }
    const gossip = node.gossip();
    const self = node.kernel().self();
    const bar = new Node("cmd_bar", "127.0.0.1", 1);
    assert.deepEqual(comms.ping(), { ok: true, data: "pong" });
    assert.deepEqual(comms.insert({ node: bar, weight: 2 }), { ok: true });
    assert.equal(gossip.ring().weights().get("cmd_bar"), 2);
    assert.deepEqual(comms.has({ id: "cmd_bar" }), { ok: true, data: true });
    assert.deepEqual(comms.get({ id: "cmd_bar" }), { ok: true, data: bar.toJSON() });
    assert.deepEqual(comms.weight({ id: "cmd_bar" }), { ok: true, data: 2 });
    assert.deepEqual(comms.update({ node: bar, weight: 4 }), { ok: true });
    assert.deepEqual(comms.weights(), { ok: true, data: { cmd_a: 3, cmd_bar: 4 } });
    assert.deepEqual(comms.inspect(), { ok: true, data: json(gossip.ring()) });
    assert.deepEqual(comms.nodes().data.map((n) => n.id).sort(), ["cmd_a", "cmd_bar"]);
    const more = [new Node("cmd_1", "127.0.0.1", 2), new Node("cmd_2", "127.0.0.1", 3)];
    assert.deepEqual(comms.minsert({ nodes: [...more, self] }), { ok: true });
    assert.deepEqual(ids(gossip.ring()), ["cmd_1", "cmd_2", "cmd_a", "cmd_bar"]);
    assert.deepEqual(comms.mremove({ nodes: [...more, self] }), { ok: true });
    assert.deepEqual(ids(gossip.ring()), ["cmd_a", "cmd_bar"], "the node itself is ignored");
    assert.deepEqual(comms.remove({ node: bar }), { ok: true });
    assert.deepEqual(comms.has({ id: "cmd_bar" }), { ok: true, data: false });
    assert.deepEqual(comms.get({ id: "cmd_bar" }), {
      ok: false,
      error: { message: "'cmd_bar' is not defined in this ring.", _error: true },
    });
    assert.equal(comms.join({ id: "x" }).error.message, "Node already belongs to ring 'ring'");
    assert.deepEqual(comms.meet({ node: new Node("cmd_m", "127.0.0.1", 4) }), { ok: true });
    assert.deepEqual(comms.leave({ force: false }), { ok: true });
    assert.equal(gossip.ringID(), null);
    assert.deepEqual(comms.join({ id: "ring2" }), { ok: true });
    assert.equal(gossip.ringID(), "ring2");
    assert.equal(comms.get({}).ok, false, "missing arguments are refused");

    // Before its ring runs, a command is refused.
    const idle = notp.createCluster("cmd_b", "127.0.0.1", 0).commandServer();
    assert.equal(idle.ping().ok, false);
  });

  test("the answer also goes to `from` when it carries a reply tag", async (t) => {
    const node = await startCluster("cmd_from");
    t.after(() => stopAll([node]));
    const comms = node.commandServer();
    const relay = notp.createGenServer(node);
    relay.on("ask", (data, from) => comms.ping(data, from));
    relay.start("relay");
    const caller = notp.createGenServer(node);
    const answer = await within(
      new Promise((resolve, reject) => caller.call("relay", "ask", null, (err, out) => (err ? reject(err) : resolve(out)))),
      WAIT_MS,
      "a call answered by the command server"
    );
    assert.deepEqual(answer, { ok: true, data: "pong" });
  });

  test("start(name) serves the commands under that name", async (t) => {
    const node = await startCluster("cmd_name");
    t.after(() => stopAll([node]));
    const port = node.kernel().port();
    const first = await cliRequest(port, "command", "ping", null);
    assert.deepEqual([first.ok, first.data], [true, "pong"]);
    const comms = node.commandServer();
    assert.equal(comms.start("other_name"), comms);
    assert.equal(comms.id(), "other_name");
    const answer = await cliRequest(port, "other_name", "has", { id: "cmd_name" });
    assert.deepEqual([answer.ok, answer.data], [true, true]);
    // A name taken on the kernel is refused.
    notp.createGenServer(node).start("taken");
    assert.throws(() => comms.start("taken"), /Kernel already has listener at id 'taken'/);
    comms.stop();
    comms.start("command");
    const back = await cliRequest(port, "command", "ping", null);
    assert.deepEqual([back.ok, back.data], [true, "pong"]);
  });

  test("decodeJob refuses invalid or unknown commands with an Error, as the original", () => {
    const comms = notp.createCluster("cmd_dec", "127.0.0.1", 7999).commandServer();
    const decode = (value) => comms.decodeJob(Buffer.from(typeof value === "string" ? value : JSON.stringify(value)));
    const unknown = decode({ event: "nope", data: null });
    assert.ok(unknown instanceof Error);
    assert.equal(unknown.message, "Cannot run against unknown command 'nope'");
    for (const bad of [
      { event: "get", data: {} },
      { event: "join", data: null },
      { event: "meet", data: { node: { id: 1 } } },
      { event: "minsert", data: { nodes: "x" } },
      "{not json",
    ]) {
      assert.ok(decode(bad) instanceof Error, JSON.stringify(bad));
    }
    const ok = decode({ event: "minsert", data: { nodes: [{ id: "a", host: "h", port: 1 }], weight: 2 } });
    assert.equal(ok.event, "minsert");
    assert.ok(ok.data.nodes[0] instanceof Node);
    assert.equal(ok.data.nodes[0].id(), "a");
    assert.equal(ok.data.weight, 2);
    assert.deepEqual(decode({ event: "ping", data: null }), { event: "ping", data: null });
    assert.ok(comms.decodeSingleton({ event: "nope", data: null }) instanceof Error);
    assert.ok(comms.decodeSingleton({ event: "meet", data: { node: { id: "m", host: "h", port: 2 } } }).data.node instanceof Node);
  });
});
