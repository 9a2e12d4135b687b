"use strict";

// The module surface: exports, Node, consts and the native µs clock.

const test = require("node:test");
const assert = require("node:assert/strict");
const os = require("node:os");
const notp = require("../..");
const { loadVectors } = require("./support");

const { Node, consts, microtime } = notp;

test("exports exactly the values, factories, consts and microtime", () => {
  assert.deepEqual(Object.keys(notp).sort(), [
    "CHash",
    "ClusterNode",
    "GenServer",
    "GossipRing",
    "NetKernel",
    "Node",
    "VectorClock",
    "consts",
    "createCHash",
    "createCluster",
    "createGenServer",
    "createGossip",
    "createKernel",
    "createVClock",
    "microtime",
  ]);
  for (const name of ["CHash", "Node", "VectorClock", "createCHash", "createVClock", "microtime"]) {
    assert.equal(typeof notp[name], "function", name);
  }
});

test("Node: getter/setters set only given the right type", () => {
  const n = new Node("foo", "localhost", 7022);
  assert.equal(n.id(), "foo");
  assert.equal(n.host(), "localhost");
  assert.equal(n.port(), 7022);
  assert.equal(n.id(5), "foo");
  assert.equal(n.host(5), "localhost");
  assert.equal(n.port("7023"), 7022);
  assert.equal(n.id("bar"), "bar");
  assert.equal(n.host("127.0.0.1"), "127.0.0.1");
  assert.equal(n.port(7023), 7023);
  assert.deepEqual(n.toJSON(), { id: "bar", host: "127.0.0.1", port: 7023 });
  assert.deepEqual(Object.keys(n.toJSON(true)), ["id", "host", "port"]);
  assert.equal(JSON.stringify(n), '{"id":"bar","host":"127.0.0.1","port":7023}');
  assert.notEqual(n.toJSON(), n.toJSON());
});

test("Node: equals and from", () => {
  const a = new Node("foo", "localhost", 7022);
  assert.equal(a.equals(new Node("foo", "localhost", 7022)), true);
  assert.equal(a.equals(new Node("foo", "localhost", 7023)), false);
  assert.equal(a.equals(new Node("foo", "127.0.0.1", 7022)), false);
  assert.equal(a.equals(new Node("bar", "localhost", 7022)), false);
  const b = Node.from({ id: "foo", host: "localhost", port: 7022 });
  assert.ok(b instanceof Node);
  assert.ok(b.equals(a));
  class Sub extends Node {}
  assert.ok(notp.createCHash().insert(new Sub("s", "h", 1)).isDefined(new Node("s")));
});

test("consts: the reference defaults, with the storage defaults the vectors captured", () => {
  const vclock = { lowerBound: 10, youngBound: 20000000, upperBound: 50, oldBound: 86400000000 };
  assert.equal(consts.networkHost, os.hostname());
  assert.equal(consts.networkPort, 7022);
  assert.deepEqual(consts.kernelOpts, {
    networkHost: os.hostname(),
    networkPort: 7022,
    retry: 5000,
    tls: null,
    maxRetries: Infinity,
    silent: true,
  });
  assert.deepEqual(consts.connDefaults, { maxLen: 1024 });
  assert.deepEqual(consts.gossipOpts, {
    rfactor: 3,
    pfactor: 2,
    interval: 1000,
    flushInterval: 1000,
    flushPath: null,
    vclockOpts: vclock,
    connOpts: { maxLen: 1024 },
  });
  assert.deepEqual(consts.vclockOpts, vclock);
  assert.deepEqual(consts.chashOpts, { maxCacheSize: 5000 });
  // Key order included: the original's objects as the vectors hold them.
  const dtable = loadVectors("storage/dtable.json").defaults;
  const locks = loadVectors("storage/locks.json").defaults;
  for (const [name, want] of [
    ["dtableOpts", dtable["consts.dtableOpts"]],
    ["dlmOpts", locks["consts.dlmOpts"]],
    ["dsemOpts", locks["consts.dsemOpts"]],
  ]) {
    assert.deepEqual(consts[name], want, name);
    assert.deepEqual(Object.keys(consts[name]), Object.keys(want), `${name} key order`);
  }
  assert.equal(consts.dlmOpts.rfactor, 3);
});

test("microtime: µs since the epoch, never backwards over 100000 reads", () => {
  const ms = Date.now();
  const us = microtime();
  assert.equal(typeof us, "number");
  assert.ok(Number.isSafeInteger(us));
  assert.ok(Math.abs(us / 1000 - ms) < 1000, `${us} vs ${ms}`);
  let prev = microtime();
  for (let i = 0; i < 100000; i++) {
    const t = microtime();
    if (t < prev) assert.fail(`went backwards: ${prev} then ${t}`);
    prev = t;
  }
  assert.ok(prev > us);
});

test("microtime: node-microtime shapes", () => {
  assert.equal(microtime.now, microtime);
  assert.ok(Math.abs(microtime.now() - microtime()) < 1e6);
  const d = microtime.nowDouble();
  assert.ok(Math.abs(d - Date.now() / 1000) < 1);
  const [sec, usec] = microtime.nowStruct();
  assert.ok(Number.isInteger(sec) && Number.isInteger(usec));
  assert.ok(usec >= 0 && usec < 1e6);
  assert.ok(Math.abs(sec - Date.now() / 1000) < 2);
});
