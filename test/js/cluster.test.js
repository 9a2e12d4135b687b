"use strict";

// ClusterNode and GossipRing through require("notp"): nodes on 127.0.0.1
// with port 0 and a 50 ms gossip interval, the brief's walkthrough, ring
// changes and their events, persistence, argument errors, and process
// lifetime. Waits are on events, with timeouts.

const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const notp = require("../..");
const { once, within, until: pollUntil } = require("./kernel_helpers");
const { WAIT_MS, clusterOpts, startCluster, stopAll, until, runChild } = require("./cluster_helpers");

const { Node, ClusterNode, GossipRing, GenServer, NetKernel, CHash, VectorClock } = notp;

const ids = (ring) => ring.nodes().map((n) => n.id()).sort();

/** Two started nodes that met: both rings hold both. */
async function metPair(t, a = "foo", b = "bar") {
  const na = await startCluster(a);
  const nb = await startCluster(b);
  t.after(() => stopAll([na, nb]));
  na.gossip().meet(nb.kernel().self());
  await until(
    () => na.gossip().ring().isDefined(nb.kernel().self()) && nb.gossip().ring().isDefined(na.kernel().self()),
    [na, nb],
    "the rings of two nodes that met to hold both"
  );
  return [na, nb];
}

describe("createCluster / createGossip", () => {
  test("createCluster builds a kernel, a gossip ring and a command server with the defaults", () => {
    const node = notp.createCluster("foo");
    assert.ok(node instanceof ClusterNode);
    assert.ok(node.kernel() instanceof NetKernel);
    assert.equal(node.kernel().host(), os.hostname());
    assert.equal(node.kernel().port(), 7022);
    assert.ok(node.gossip() instanceof GossipRing);
    assert.ok(node.gossip() instanceof GenServer);
    assert.equal(node.gossip().kernel(), node.kernel());
    assert.ok(node.commandServer() instanceof GenServer);
    assert.equal(node.commandServer().id(), "command");
    assert.equal(node.commandServer().gossip(), node.gossip());
    // Before start: a ring of this node alone, an empty clock, no ring.
    const ring = node.gossip().ring();
    assert.ok(ring instanceof CHash);
    assert.equal(ring.rfactor(), 3);
    assert.equal(ring.pfactor(), 2);
    assert.deepEqual(ids(ring), ["foo"]);
    assert.ok(ring.nodes()[0].equals(node.kernel().self()));
    assert.ok(node.gossip().vclock() instanceof VectorClock);
    assert.equal(node.gossip().vclock().size(), 0);
    assert.equal(node.gossip().ringID(), null);
    assert.equal(node.gossip().actor(), null);
    assert.equal(node.gossip().idle(), true);
  });

  test("options: kernelOpts and gossipOpts over consts.gossipOpts", () => {
    const node = notp.createCluster("foo", "127.0.0.1", 0, {
      kernelOpts: { retry: 100 },
      gossipOpts: { rfactor: 4, pfactor: 1, vclockOpts: { upperBound: 5 } },
    });
    assert.equal(node.kernel().host(), "127.0.0.1");
    assert.equal(node.gossip().ring().rfactor(), 4);
    assert.equal(node.gossip().ring().pfactor(), 1);
    assert.equal(node.gossip().ring().weights().get("foo"), 4);
    assert.equal(notp.consts.gossipOpts.rfactor, 3, "the defaults are not changed");

    const kernel = notp.createKernel("hand", "127.0.0.1", 0);
    const gossip = notp.createGossip(kernel);
    assert.ok(gossip instanceof GossipRing);
    assert.equal(gossip.kernel(), kernel);
    assert.equal(gossip.ring().rfactor(), notp.consts.gossipOpts.rfactor);
    assert.equal(gossip.ring().pfactor(), notp.consts.gossipOpts.pfactor);
  });

  test("argument errors name the argument", () => {
    assert.throws(() => notp.createGossip(null), { name: "TypeError", message: /kernel/ });
    const kernel = notp.createKernel("args", "127.0.0.1", 0);
    assert.throws(() => notp.createGossip(kernel, { interval: -1 }), { name: "TypeError", message: /interval/ });
    assert.throws(() => notp.createGossip(kernel, { flushPath: 5 }), { name: "TypeError", message: /flushPath/ });
    assert.throws(() => notp.createGossip(kernel, { rfactor: "3" }), { name: "TypeError", message: /rfactor/ });
    assert.throws(() => notp.createGossip(kernel, { vclockOpts: { oldBound: "x" } }), {
      name: "TypeError",
      message: /oldBound/,
    });
    const node = notp.createCluster("args", "127.0.0.1", 0);
    assert.throws(() => node.start("cookie", 5), { name: "TypeError", message: /ringID/ });
    assert.throws(() => node.start(5, "ring"), { name: "TypeError", message: /cookie/ });
    assert.throws(() => node.start("cookie", "ring", "cb"), { name: "TypeError", message: /cb/ });
    const gossip = node.gossip();
    assert.throws(() => gossip.start(""), { name: "TypeError", message: /ringID/ });
    assert.throws(() => gossip.join(7), { name: "TypeError", message: /ringID/ });
    assert.throws(() => gossip.insert("bar"), { name: "TypeError", message: /node/ });
    assert.throws(() => gossip.meet({}), { name: "TypeError", message: /node/ });
    assert.throws(() => gossip.minsert("bar"), { name: "TypeError", message: /nodes/ });
    assert.throws(() => gossip.minsert([new Node("x", "h", 1), 5]), { name: "TypeError", message: /nodes\[1\]/ });
    assert.throws(() => gossip.insert(new Node("x", "h", 1), 0), { name: "RangeError", message: /weight/ });
    assert.throws(() => gossip.insert(new Node("x", "h", 70000)), { name: "TypeError", message: /port/ });
    assert.throws(() => gossip.range("k", -1), { name: "RangeError", message: /size/ });
    // Changes need a started ring.
    assert.throws(() => gossip.insert(new Node("x", "h", 1)), /not started/);
    assert.ok(gossip.join("ring") instanceof Error);
  });

  test("a port already taken fails the start through the callback", async (t) => {
    const a = await startCluster("taken_a");
    t.after(() => stopAll([a]));
    const b = notp.createCluster("taken_b", "127.0.0.1", a.kernel().port());
    const err = await within(new Promise((resolve) => b.start("cookie", "ring", resolve)), WAIT_MS, "start");
    assert.ok(err instanceof Error);
    assert.match(err.message, /cannot listen/);
    // And without a callback, as an `error` event.
    const c = notp.createCluster("taken_c", "127.0.0.1", a.kernel().port());
    const failed = once(c, "error");
    c.start("cookie", "ring");
    assert.match((await failed)[0].message, /cannot listen/);
  });
});

describe("the brief's walkthrough", () => {
  test("meet, insert, remove, leave, join", async (t) => {
    const node = await startCluster("foo");
    const other = await startCluster("bar");
    t.after(() => stopAll([node, other]));
    const assertHas = (ring, n) => assert.ok(ring.isDefined(n), `${n.id()} in ${ids(ring)}`);

    // meeting another node
    let gossip = node.gossip();
    let kernel = node.kernel();
    let nNode = new Node("bar", "127.0.0.1", other.kernel().port());
    gossip.meet(nNode);
    // wait some time, eventually the node will show up in this node's ring...
    await until(() => gossip.ring().isDefined(nNode), [node], "bar in foo's ring");
    assertHas(gossip.ring(), nNode);
    // ...and both nodes are in both rings.
    await until(() => other.gossip().ring().isDefined(kernel.self()), [other], "foo in bar's ring");
    assert.deepEqual(ids(gossip.ring()), ["bar", "foo"]);
    assert.deepEqual(ids(other.gossip().ring()), ["bar", "foo"]);

    // inserting nodes
    gossip.insert(nNode);
    assertHas(gossip.ring(), nNode);
    // after some time, node "bar" should have "foo" in its ring...
    assertHas(other.gossip().ring(), kernel.self());

    // removing nodes
    gossip.remove(nNode);
    assert.ok(!gossip.ring().isDefined(nNode));
    // after some time, node "bar" should remove "foo" from its ring...
    await until(() => !other.gossip().ring().isDefined(kernel.self()), [other], "foo gone from bar's ring");
    assert.deepEqual(ids(other.gossip().ring()), ["bar"]);

    // leaving a cluster
    gossip.leave();
    await within(
      new Promise((resolve) => {
        gossip.once("leave", () => {
          assert.equal(gossip.ring().nodes().length, 1);
          assert.ok(gossip.ring().nodes()[0].equals(kernel.self()));
          resolve();
        });
      }),
      WAIT_MS,
      "leave"
    );
    assert.equal(gossip.ringID(), null);

    // joining a cluster
    assert.equal(gossip.join("another_ring_id"), gossip);
    assert.equal(gossip.ringID(), "another_ring_id");
    assert.equal(gossip.id(), "another_ring_id");
    // (if any exist) nodes of that ring would now reach this node.
    const again = gossip.join("another_ring_id");
    assert.ok(again instanceof Error);
    assert.equal(again.message, "Node already belongs to ring 'another_ring_id'");
  });
});

describe("GossipRing: changes and events", () => {
  test("ring() is live: a later read shows gossip that earlier snapshots do not", async (t) => {
    const a = await startCluster("live_a");
    const b = await startCluster("live_b");
    t.after(() => stopAll([a, b]));
    const before = a.gossip().ring();
    const clockBefore = a.gossip().vclock();
    a.gossip().meet(b.kernel().self());
    await until(() => a.gossip().ring().isDefined(b.kernel().self()), [a], "b in a's ring");
    assert.deepEqual(ids(before), ["live_a"], "a snapshot does not change");
    assert.deepEqual(ids(a.gossip().ring()), ["live_a", "live_b"]);
    assert.ok(a.gossip().vclock().size() > clockBefore.size());
    assert.equal(typeof a.gossip().actor(), "string");
    // Changing a snapshot does not change the node's ring.
    a.gossip().ring().insert(new Node("ghost", "127.0.0.1", 1));
    assert.ok(!a.gossip().ring().isDefined(new Node("ghost", "127.0.0.1", 1)));
  });

  test("process(oldRing, newRing) on membership changes, local and gossiped", async (t) => {
    const a = await startCluster("proc_a");
    const b = await startCluster("proc_b");
    t.after(() => stopAll([a, b]));
    const seen = [];
    a.gossip().on("process", (oldRing, newRing) => seen.push([oldRing, newRing]));
    a.gossip().meet(b.kernel().self());
    await until(() => seen.some(([, n]) => n.isDefined(b.kernel().self())), [a], "a process event with b");
    const [oldRing, newRing] = seen.find(([, n]) => n.isDefined(b.kernel().self()));
    assert.ok(oldRing instanceof CHash && newRing instanceof CHash);
    assert.deepEqual(ids(oldRing), ["proc_a"]);
    assert.deepEqual(ids(newRing), ["proc_a", "proc_b"]);

    const x = new Node("proc_x", "127.0.0.1", 1);
    const local = once(a.gossip(), "process");
    a.gossip().insert(x, 5);
    const [o2, n2] = await local;
    assert.ok(!o2.isDefined(x));
    assert.equal(n2.weights().get("proc_x"), 5);
  });

  test("insert, minsert, update, remove and mremove spread to the other members", async (t) => {
    const [a, b] = await metPair(t, "chg_a", "chg_b");
    const c = await startCluster("chg_c");
    t.after(() => stopAll([c]));
    const ga = a.gossip();
    const gb = b.gossip();
    const cNode = c.kernel().self();

    // insert: at once locally, then at b, and c learns the whole ring.
    assert.equal(ga.insert(cNode), ga);
    assert.ok(ga.ring().isDefined(cNode));
    await until(
      () => gb.ring().isDefined(cNode) && ids(c.gossip().ring()).join() === "chg_a,chg_b,chg_c",
      [b, c],
      "c in every ring"
    );

    // update: a weight change, local at once.
    ga.update(cNode, 5);
    assert.equal(ga.ring().weights().get("chg_c"), 5);

    // minsert / mremove of nodes that do not run.
    const x = new Node("chg_x", "127.0.0.1", 1);
    const y = new Node("chg_y", "127.0.0.1", 2);
    ga.minsert([x, y], 2);
    assert.equal(ga.ring().weights().get("chg_x"), 2);
    assert.equal(ga.ring().weights().get("chg_y"), 2);
    await until(() => gb.ring().isDefined(x) && gb.ring().isDefined(y), [b], "x and y at b");
    ga.mremove([x, y]);
    assert.ok(!ga.ring().isDefined(x) && !ga.ring().isDefined(y));
    await until(() => !gb.ring().isDefined(x) && !gb.ring().isDefined(y), [b], "x and y gone at b");

    // remove: c leaves every ring.
    ga.remove(cNode);
    assert.ok(!ga.ring().isDefined(cNode));
    await until(() => !gb.ring().isDefined(cNode), [b], "c gone at b");

    // find / range read the live ring.
    const owners = ga.find("user:1");
    assert.ok(owners.length >= 1 && owners.every((n) => n instanceof Node));
    assert.deepEqual(
      owners.map((n) => n.id()),
      [ga.ring().find("user:1")].concat(ga.ring().next(ga.ring().find("user:1"))).map((n) => n.id())
    );
    assert.deepEqual(
      ga.range("user:1", 2).map((n) => n.id()),
      ga.ring().rangeNext("user:1", 2).map((n) => n.id())
    );
    assert.deepEqual(
      ga.find(Buffer.from("user:1")).map((n) => n.id()),
      owners.map((n) => n.id())
    );
  });

  test("leave(ring) with others: the ring sent without this node, then close; join again", async (t) => {
    const [a, b] = await metPair(t, "lv_a", "lv_b");
    const gb = b.gossip();
    const left = once(gb, "leave");
    const closed = once(gb, "close");
    assert.equal(gb.leave(), gb);
    const [ring] = await left;
    await closed;
    assert.deepEqual(ids(ring), ["lv_a"], "the ring told to the others lacks the leaver");
    assert.deepEqual(ids(gb.ring()), ["lv_b"]);
    assert.equal(gb.ringID(), null);
    // The others drop it.
    await until(() => !a.gossip().ring().isDefined(b.kernel().self()), [a], "b gone from a's ring");
    // And it can join a ring again.
    assert.equal(gb.join("ring"), gb);
    assert.equal(gb.ringID(), "ring");
  });

  test("send(clock, 'ring', ring) for gossip sent, while someone listens", async (t) => {
    const [a] = await metPair(t, "snd_a", "snd_b");
    const [clock, event, ring] = await once(a.gossip(), "send");
    assert.ok(clock instanceof VectorClock);
    assert.equal(event, "ring");
    assert.deepEqual(ring.tree.map((e) => e.value.id).sort(), ["snd_a", "snd_a", "snd_a", "snd_b", "snd_b", "snd_b"]);
    // poll() sends at once.
    const next = once(a.gossip(), "send");
    a.gossip().poll();
    await next;
  });

  test("conflict(ring, clock) for a concurrent ring", async (t) => {
    const a = await startCluster("cf_a");
    t.after(() => stopAll([a]));
    const ga = a.gossip();
    ga.insert(new Node("cf_x", "127.0.0.1", 1));
    // A ring message whose clock neither descends nor is descended by a's.
    const theirs = new CHash(3, 2).insert(a.kernel().self()).insert(new Node("cf_y", "127.0.0.1", 2));
    const now = notp.microtime();
    const clock = { "their-actor": { count: 1, insert: now, time: now } };
    const conflict = once(ga, "conflict");
    await sendSigned(a.kernel(), "cookie", {
      id: "ring",
      tag: null,
      from: { id: "cf_y", host: "127.0.0.1", port: 2 },
      stream: { done: true },
      data: {
        event: "ring",
        data: { type: "update", actor: "their-actor", data: theirs.toJSON(true), vclock: clock, round: 0 },
      },
    });
    const [ring, vclock] = await conflict;
    assert.ok(ring instanceof CHash && vclock instanceof VectorClock);
    assert.deepEqual(ids(ring), ["cf_a", "cf_y"]);
    assert.ok(vclock.has("their-actor"));
  });

  test("a gossip ring assembled by hand starts once its kernel listens", async (t) => {
    const kernel = notp.createKernel("hand_a", "127.0.0.1", 0, { retry: 100 });
    const gossip = notp.createGossip(kernel, { interval: 50 });
    assert.equal(gossip.start("ring"), gossip);
    const ready = once(kernel, "_ready");
    kernel.start({ cookie: "cookie" });
    await ready;
    t.after(() => kernel.stop());
    assert.equal(gossip.ringID(), "ring");
    assert.equal(gossip.id(), "ring");
    assert.ok(gossip.ring().nodes()[0].equals(kernel.self()));
    assert.throws(() => gossip.start("ring"), /already started/);
    // No command server on a hand-assembled ring: a GenServer may take the name.
    const server = new GenServer(kernel);
    server.start("command");
    const stopped = once(gossip, "stop");
    gossip.stop();
    await stopped;
    assert.equal(gossip.ringID(), null);
    assert.deepEqual(ids(gossip.ring()), ["hand_a"]);
  });

  test("stopping the kernel under a running ring detaches it", async () => {
    const a = await startCluster("under_a");
    const gossip = a.gossip();
    a.kernel().stop();
    assert.throws(() => gossip.insert(new Node("x", "h", 1)), /not started/);
    assert.deepEqual(ids(gossip.ring()), ["under_a"], "the last state stays readable");
    assert.equal(gossip.ringID(), "ring");
    const stopped = once(a, "stop");
    a.stop();
    await stopped;
  });

  test("ClusterNode.stop emits stop once out of the ring; a stop before start too", async () => {
    const a = await startCluster("stop_a");
    const order = [];
    a.gossip().once("leave", () => order.push("leave"));
    a.gossip().once("close", () => order.push("close"));
    a.gossip().once("stop", () => order.push("gossip stop"));
    a.kernel().once("_stop", () => order.push("kernel stop"));
    const stopped = once(a, "stop");
    assert.equal(a.stop(), a);
    await stopped;
    assert.deepEqual(order, ["leave", "close", "gossip stop", "kernel stop"]);
    assert.equal(a.gossip().ringID(), null);

    const never = notp.createCluster("stop_never", "127.0.0.1", 0);
    const s2 = once(never, "stop");
    never.stop();
    await s2;
  });
});

describe("persistence (flushPath)", () => {
  function tmpFile(t) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "notp-ring-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    return path.join(dir, "ring.json");
  }

  /** A node gone without stopping (no leave): its kernel stops under it. */
  async function vanish(node) {
    node.kernel().stop();
    const stopped = once(node, "stop");
    node.stop();
    await stopped;
  }

  test("flush, a node gone without stopping, start from the file: the same ring, the same ring id", async (t) => {
    const flushPath = tmpFile(t);
    // A long flush interval: only the explicit flush writes.
    const gossipOpts = { flushPath, flushInterval: 60000 };
    const a = await startCluster("disk_a", { gossipOpts });
    a.gossip().minsert([new Node("disk_x", "127.0.0.1", 1), new Node("disk_y", "127.0.0.1", 2)], 4);
    assert.equal(a.gossip().flush(), a.gossip());
    const saved = JSON.parse(fs.readFileSync(flushPath, "utf8"));
    assert.deepEqual(Object.keys(saved).sort(), ["actor", "chash", "ring", "vclock"]);
    assert.equal(saved.ring, "ring");
    const ring = a.gossip().ring().toJSON(true);
    const clock = a.gossip().vclock().toJSON(true);
    assert.deepEqual(saved.chash, ring);
    await vanish(a);

    // load() before start shows the saved ring; start resumes it.
    const b = notp.createCluster("disk_a", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    await within(new Promise((resolve, reject) => b.load((err) => (err ? reject(err) : resolve()))), WAIT_MS, "load");
    assert.deepEqual(b.gossip().ring().toJSON(true), ring);
    assert.equal(b.gossip().ringID(), "ring");
    assert.equal(typeof b.gossip().actor(), "string");
    await within(new Promise((resolve, reject) => b.start("cookie", "ring", (e) => (e ? reject(e) : resolve()))), WAIT_MS, "start");
    assert.deepEqual(b.gossip().ring().toJSON(true), ring);
    assert.deepEqual(b.gossip().vclock().toJSON(true), clock);
    assert.equal(b.gossip().ringID(), "ring");
    // The loaded members are connected to (as the original's load does).
    assert.ok(b.kernel().isConnected(new Node("disk_x", "127.0.0.1", 1)));
    assert.ok(b.kernel().isConnected(new Node("disk_y", "127.0.0.1", 2)));
    await stopAll([b]);
  });

  test("a saved ring with another id is an error; so is a corrupt file", async (t) => {
    const flushPath = tmpFile(t);
    const gossipOpts = { flushPath, flushInterval: 60000 };
    const a = await startCluster("disk_b", { gossipOpts });
    // Nothing is saved before the first change (no actor yet), as in the original.
    a.gossip().flush();
    assert.equal(fs.existsSync(flushPath), false);
    a.gossip().insert(new Node("disk_z", "127.0.0.1", 1));
    a.gossip().flush();
    assert.equal(fs.existsSync(flushPath), true);
    await vanish(a);

    // Found at start (no load first).
    const wrong = notp.createCluster("disk_b", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    const err = await within(new Promise((resolve) => wrong.start("cookie", "other", resolve)), WAIT_MS, "start");
    assert.ok(err instanceof Error);
    assert.equal(err.message, "Loaded ring ID 'ring' does not match 'other'");
    assert.equal(wrong.kernel().isConnected(new Node("x", "h", 1)), false, "the kernel was stopped");
    // Found before start, after a load.
    const loaded = notp.createCluster("disk_b", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    await within(new Promise((resolve) => loaded.load(resolve)), WAIT_MS, "load");
    const err2 = await within(new Promise((resolve) => loaded.start("cookie", "other", resolve)), WAIT_MS, "start");
    assert.match(err2.message, /does not match 'other'/);

    fs.writeFileSync(flushPath, "{not json");
    const corrupt = notp.createCluster("disk_b", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    const loadErr = await within(new Promise((resolve) => corrupt.load(resolve)), WAIT_MS, "load");
    assert.ok(loadErr instanceof Error);
    assert.equal(loadErr.message, `File at path '${flushPath}' contains invalid JSON blob.`);
    const startErr = await within(new Promise((resolve) => corrupt.start("cookie", "ring", resolve)), WAIT_MS, "start");
    assert.equal(startErr.message, `File at path '${flushPath}' contains invalid JSON blob.`);
    // A well-formed JSON file that is not a saved ring.
    fs.writeFileSync(flushPath, JSON.stringify({ ring: "ring", chash: { tree: 5 } }));
    const shape = notp.createCluster("disk_b", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    const shapeErr = await within(new Promise((resolve) => shape.load(resolve)), WAIT_MS, "load");
    assert.match(shapeErr.message, /invalid JSON blob/);
  });

  test("a clean stop keeps the ring it had on disk (with its ring id): a restart resumes it", async (t) => {
    const flushPath = tmpFile(t);
    const gossipOpts = { flushPath, flushInterval: 20 };
    const a = await startCluster("disk_d", { gossipOpts });
    const b = await startCluster("disk_e");
    t.after(() => stopAll([b]));
    a.gossip().insert(b.kernel().self());
    a.gossip().insert(new Node("disk_w", "127.0.0.1", 1));
    await until(() => b.gossip().ring().isDefined(a.kernel().self()), [b], "b to learn of a");
    // The flush timer (20 ms) runs meanwhile: it must not overwrite what
    // the stop saves.
    const onDisk = () => fs.existsSync(flushPath) && fs.readFileSync(flushPath, "utf8").includes("disk_e");
    await pollUntil(onDisk, "the flush timer to save the ring");
    const before = a.gossip().ring().toJSON(true);
    const left = once(a.gossip(), "leave");
    const stopped = once(a, "stop");
    a.stop();
    await stopped;
    await left;
    const saved = JSON.parse(fs.readFileSync(flushPath, "utf8"));
    assert.equal(saved.ring, "ring");
    assert.deepEqual(saved.chash, before, "the ring from before leaving");
    // The others were told it left.
    await until(() => !b.gossip().ring().isDefined(a.kernel().self()), [b], "b to see a leave");

    const again = notp.createCluster("disk_d", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    await within(
      new Promise((resolve, reject) => again.start("cookie", "ring", (e) => (e ? reject(e) : resolve()))),
      WAIT_MS,
      "restart"
    );
    assert.equal(again.gossip().ringID(), "ring");
    assert.deepEqual(ids(again.gossip().ring()), ["disk_d", "disk_e", "disk_w"]);
    await stopAll([again]);
    // Another ring id is refused, as for any saved ring.
    const other = notp.createCluster("disk_d", "127.0.0.1", 0, clusterOpts({ gossipOpts }));
    const err = await within(new Promise((resolve) => other.start("cookie", "other", resolve)), WAIT_MS, "start");
    assert.equal(err.message, "Loaded ring ID 'ring' does not match 'other'");
  });

  test("no file yet is not an error", async (t) => {
    const flushPath = tmpFile(t);
    const a = notp.createCluster("disk_c", "127.0.0.1", 0, clusterOpts({ gossipOpts: { flushPath } }));
    const err = await within(new Promise((resolve) => a.load(resolve)), WAIT_MS, "load");
    assert.equal(err, undefined);
    assert.equal(a.gossip().ringID(), null);
  });
});

describe("process lifetime", () => {
  const lib = JSON.stringify(path.resolve(__dirname, "..", ".."));
  const setup = `
    const notp = require(${lib});
    const opts = { kernelOpts: { retry: 100 }, gossipOpts: { interval: 20 } };
    const a = notp.createCluster("pa", "127.0.0.1", 0, opts);
    const b = notp.createCluster("pb", "127.0.0.1", 0, opts);
    let started = 0;
    for (const n of [a, b]) n.start("cookie", "ring", (err) => { if (err) throw err; if (++started === 2) met(); });
    function met() {
      a.gossip().meet(b.kernel().self());
      b.gossip().on("process", (o, n) => {
        if (n.isDefined(a.kernel().self())) { console.log("met"); next(); }
      });
    }`;

  test("started, met, then stopped cluster nodes let the process exit by itself", async () => {
    const r = await runChild(`${setup}
      function next() {
        let stopped = 0;
        for (const n of [a, b]) n.stop();
        for (const n of [a, b]) n.once("stop", () => { if (++stopped === 2) console.log("stopped"); });
      }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "met\nstopped");
  });

  test("a started cluster node keeps the process alive until stopped", async () => {
    const r = await runChild(`
      const notp = require(${lib});
      const a = notp.createCluster("alive", "127.0.0.1", 0);
      a.start("cookie", "ring", () => {
        setTimeout(() => { console.log("alive"); a.stop(); }, 200).unref();
      });`);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out.trim(), "alive");
  });

  test("process.exit with cluster nodes running and gossiping exits cleanly", async () => {
    const r = await runChild(`${setup}
      function next() {
        a.gossip().insert(new notp.Node("px", "127.0.0.1", 1));
        process.exit(0);
      }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /panic|abort/i);
    assert.equal(r.out.trim(), "met");
  });

  test("an uncaught exception with cluster nodes running ends the process normally", async () => {
    const r = await runChild(`${setup}
      function next() { throw new Error("boom"); }`);
    assert.equal(r.signal, null, r.err);
    assert.equal(r.code, 1);
    assert.match(r.err, /boom/);
    assert.doesNotMatch(r.err, /panic/i);
  });
});

/** Writes one signed message frame to `kernel`'s port (PROTOCOL §1–3). */
function sendSigned(kernel, cookie, envelope) {
  const text = JSON.stringify(envelope);
  const checkSum = crypto.createHmac("sha256", cookie).update(text).digest("hex");
  const frame = JSON.stringify({ type: "message", data: { checkSum, ...envelope } }) + "\f";
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect(kernel.port(), "127.0.0.1", () => socket.end(frame, resolve));
      socket.on("error", reject);
    }),
    WAIT_MS,
    "sending a frame"
  );
}
