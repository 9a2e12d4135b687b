"use strict";

// The engine decides, the Node door translates: ring events under a flood
// (the engine's backlog policy: changes collapse, the last ring is never
// lost), find(key, size) and update's default weight as the engine answers
// them, and one start sequence. Nodes on 127.0.0.1, port 0; waits are on
// events, with timeouts.

const { describe, test } = require("node:test");
const assert = require("node:assert/strict");
const notp = require("../..");
const { within } = require("./kernel_helpers");
const { WAIT_MS, startCluster, stopAll, until } = require("./cluster_helpers");

const { Node } = notp;

const ids = (ring) => ring.nodes().map((n) => n.id()).sort();

describe("ring events under a flood of changes", () => {
  test("a busy JavaScript thread gets every change collapsed, ending at the final ring", async (t) => {
    const node = await startCluster("flood_a", { gossipOpts: { eventBacklog: 4 } });
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    const before = gossip.ring();
    const changes = [];
    gossip.on("process", (oldRing, newRing) => changes.push([oldRing, newRing]));
    // Sends are wanted too: they are what a full backlog drops first, and
    // they stand between the changes.
    gossip.on("send", () => {});
    // One synchronous burst: the engine queues while this thread is busy.
    for (let i = 0; i < 300; i++) {
      const ghost = new Node(`flood_${i}`, "127.0.0.1", 1);
      gossip.insert(ghost);
      if (i % 3 === 0) gossip.remove(ghost);
    }
    const final = gossip.ring();
    assert.equal(final.nodes().length, 1 + 200);
    await until(
      () => changes.length > 0 && changes[changes.length - 1][1].equals(final),
      [node],
      "a process event ending at the final ring"
    );
    assert.ok(changes.length <= 4, `${changes.length} process events for 400 changes`);
    assert.ok(changes[0][0].equals(before), "the first starts at the ring before the flood");
    for (let i = 1; i < changes.length; i++) {
      assert.ok(changes[i][0].equals(changes[i - 1][1]), "each starts where the one before ended");
    }
  });

  test("a listener that keeps up sees each change", async (t) => {
    const node = await startCluster("keepup_a");
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    const seen = [];
    gossip.on("process", (oldRing, newRing) => seen.push(ids(newRing)));
    for (let i = 0; i < 3; i++) {
      const next = new Promise((resolve) => gossip.once("process", resolve));
      gossip.insert(new Node(`keepup_${i}`, "127.0.0.1", 1));
      await within(next, WAIT_MS, `change ${i}`);
    }
    assert.deepEqual(seen, [
      ["keepup_0", "keepup_a"],
      ["keepup_0", "keepup_1", "keepup_a"],
      ["keepup_0", "keepup_1", "keepup_2", "keepup_a"],
    ]);
  });
});

describe("lookups and defaults come from the engine", () => {
  test("find(key, size): `size` nodes, the owner first, then its successors; without a size, pfactor + 1", async (t) => {
    const node = await startCluster("find_a");
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    gossip.minsert([1, 2, 3, 4].map((i) => new Node(`find_${i}`, "127.0.0.1", i)));
    const ring = gossip.ring();
    const owner = ring.find("user:1");
    const idsOf = (nodes) => nodes.map((n) => n.id());
    // The original's find: [owner].concat(ring.next(owner, size - 1)).
    assert.deepEqual(idsOf(gossip.find("user:1")), idsOf([owner].concat(ring.next(owner))));
    assert.equal(gossip.find("user:1").length, 3, "pfactor (2) + 1, as range");
    assert.equal(gossip.range("user:1").length, 3);
    assert.deepEqual(idsOf(gossip.find("user:1", 1)), [owner.id()]);
    assert.deepEqual(gossip.find("user:1", 0), []);
    assert.deepEqual(idsOf(gossip.find("user:1", 3)), idsOf([owner].concat(ring.next(owner, 2))));
    assert.deepEqual(idsOf(gossip.find("user:1", 4)), idsOf([owner].concat(ring.next(owner, 3))));
    assert.equal(gossip.find("user:1", 99).length, 5, "every node once");
    for (const size of [0, 1, 2, 3, 5, 9, undefined]) {
      const found = gossip.find("user:1", size);
      const range = gossip.range("user:1", size);
      assert.equal(found.length, range.length, `size ${size}: as many as range`);
      assert.equal(found[0]?.id(), range[0]?.id(), `size ${size}: the same owner first`);
    }
    assert.deepEqual(idsOf(gossip.find(Buffer.from("user:1"), 1)), idsOf(gossip.find("user:1", 1)));
    assert.deepEqual(idsOf(gossip.range(Buffer.from("user:1"), 2)), idsOf(ring.rangeNext("user:1", 2)));
    assert.throws(() => gossip.find("user:1", -1), { name: "RangeError", message: /size/ });
    assert.throws(() => notp.createCluster("find_b").gossip().find("user:1"), /not started/);
  });

  test("update without a weight gives the ring's rfactor", async (t) => {
    const node = await startCluster("upd_a", { gossipOpts: { rfactor: 4 } });
    t.after(() => stopAll([node]));
    const gossip = node.gossip();
    const x = new Node("upd_x", "127.0.0.1", 1);
    gossip.insert(x, 2);
    assert.equal(gossip.ring().weights().get("upd_x"), 2);
    gossip.update(x);
    assert.equal(gossip.ring().weights().get("upd_x"), 4);
  });

  test("a hand-assembled ring starts like a cluster node: a saved ring of another id is refused", async (t) => {
    const fs = require("node:fs");
    const os = require("node:os");
    const path = require("node:path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "notp-attach-"));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const flushPath = path.join(dir, "ring.json");
    const a = await startCluster("hand_saved", { gossipOpts: { flushPath, flushInterval: 60000 } });
    a.gossip().insert(new Node("hand_x", "127.0.0.1", 1));
    a.gossip().flush();
    a.kernel().stop();
    await stopAll([a]);

    const kernel = notp.createKernel("hand_saved", "127.0.0.1", 0, { retry: 100 });
    const gossip = notp.createGossip(kernel, { interval: 50, flushPath });
    const failed = new Promise((resolve) => gossip.once("error", resolve));
    gossip.start("other");
    const ready = new Promise((resolve) => kernel.once("_ready", resolve));
    kernel.start({ cookie: "cookie" });
    await within(ready, WAIT_MS, "kernel ready");
    t.after(() => kernel.stop());
    const err = await within(failed, WAIT_MS, "start refused");
    assert.equal(err.message, "Loaded ring ID 'ring' does not match 'other'");
    // The same ring resumes, with the saved members.
    assert.equal(gossip.start("ring"), gossip);
    assert.deepEqual(ids(gossip.ring()), ["hand_saved", "hand_x"]);
    assert.ok(kernel.isConnected(new Node("hand_x", "127.0.0.1", 1)), "saved members are connected");
    const stopped = new Promise((resolve) => gossip.once("stop", resolve));
    gossip.stop();
    await within(stopped, WAIT_MS, "stop");
  });
});
