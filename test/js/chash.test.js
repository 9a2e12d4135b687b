"use strict";

// CHash behaviour a user relies on beyond the captured vectors: mutators,
// the per-slot Node cache, iterators and their snapshots, set operations,
// JSON round trips and argument errors.

const test = require("node:test");
const assert = require("node:assert/strict");
const notp = require("../..");

const { createCHash, CHash, Node } = notp;

const foo = () => new Node("foo", "localhost", 7022);
const bar = () => new Node("bar", "localhost", 7023);
const baz = () => new Node("baz", "127.0.0.1", 7024);
const ring3 = () => createCHash(3, 2).insert(foo()).insert(bar()).insert(baz());
const ids = (nodes) => nodes.map((n) => n.id());

test("createCHash defaults to rfactor 3, pfactor 2; mutators return this", () => {
  const ring = createCHash();
  assert.ok(ring instanceof CHash);
  assert.equal(ring.rfactor(), 3);
  assert.equal(ring.pfactor(), 2);
  assert.equal(ring.insert(foo()), ring);
  assert.equal(ring.update(foo(), 4), ring);
  assert.equal(ring.remove(foo()), ring);
  assert.equal(ring.merge(createCHash()), ring);
  assert.equal(ring.intersect(createCHash()), ring);
  assert.equal(ring.fromJSON(createCHash().toJSON()), ring);
  assert.equal(new CHash(5, 1, "ignored", {}).rfactor(), 5);
});

test("an empty ring answers nothing", () => {
  const ring = createCHash();
  assert.equal(ring.size(), 0);
  assert.equal(ring.numberNodes(), 0);
  assert.equal(ring.find("k"), undefined);
  assert.deepEqual(ring.rangeNext("k"), []);
  assert.deepEqual(ring.rangePrev("k", 3), []);
  assert.deepEqual(ring.next(foo()), []);
  assert.deepEqual(ring.prev(foo()), []);
  assert.deepEqual(ring.nodes(), []);
  assert.deepEqual([...ring.weights()], []);
  assert.equal(ring.get(foo()), undefined);
  assert.deepEqual(ring.toJSON(), { rfactor: 3, pfactor: 2, tree: [] });
});

test("insert ignores a known id; update re-weights and moves it last", () => {
  const ring = ring3();
  ring.insert(new Node("foo", "elsewhere", 1), 7);
  assert.equal(ring.size(), 9);
  assert.equal(ring.get(foo()).host(), "localhost");
  ring.update(foo(), 5);
  assert.equal(ring.size(), 11);
  assert.deepEqual([...ring.weights()], [["bar", 3], ["baz", 3], ["foo", 5]]);
  ring.remove(new Node("foo"));
  assert.equal(ring.isDefined(foo()), false);
  assert.deepEqual(ids(ring.nodes()), ["bar", "baz"]);
  ring.remove(new Node("nobody"));
  assert.equal(ring.size(), 6);
});

test("lookups hand out one Node object per node until the ring changes", () => {
  const ring = ring3();
  const a = ring.find("key0");
  assert.ok(a instanceof Node);
  assert.equal(ring.find("key0"), a);
  assert.equal(ring.rangeNext("key0", 1)[0], a);
  assert.equal(ring.get(a), a);
  assert.ok(ring.nodes().includes(a));
  ring.insert(new Node("qux", "localhost", 7025));
  const b = ring.get(a);
  assert.notEqual(b, a);
  assert.ok(b.equals(a));
});

test("weights() is a fresh Map each call", () => {
  const ring = ring3();
  ring.weights().set("foo", 99);
  assert.equal(ring.weights().get("foo"), 3);
});

test("range defaults, clamping, zero and Infinity", () => {
  const ring = ring3();
  assert.equal(ring.rangeNext("k").length, 3); // pfactor + 1
  assert.equal(ring.rangeNext("k", 10).length, 3); // clamped to the nodes
  assert.equal(ring.rangeNext("k", Infinity).length, 3);
  assert.deepEqual(ring.rangeNext("k", 0), []);
  assert.equal(ring.next(foo()).length, 2); // pfactor
  assert.equal(ring.next(foo(), Infinity).length, 2); // everyone else
  ring.pfactor(1);
  assert.equal(ring.pfactor(), 1);
  assert.equal(ring.next(foo()).length, 1);
  assert.equal(ring.rangeNext("k").length, 2);
  ring.rfactor(2);
  ring.insert(new Node("qux", "localhost", 1));
  assert.equal(ring.weights().get("qux"), 2);
  assert.equal(ring.rfactor("not a number"), 2);
});

test("rings of many nodes answer ranges of any width", () => {
  const ring = createCHash(3, 2);
  for (let i = 0; i < 200; i++) ring.insert(new Node(`n${i}`, "h", 1000 + i));
  const all = ring.rangeNext("key", 200);
  assert.equal(all.length, 200);
  assert.equal(new Set(ids(all)).size, 200);
  assert.equal(ring.prev(new Node("n7"), 150).length, 150);
  assert.equal(ring.rangePrev(Buffer.from("key"), 50).length, 50);
});

test("node-like objects are accepted", () => {
  const like = { id: () => "like", host: () => "h", port: () => 9 };
  const ring = createCHash().insert(like);
  assert.equal(ring.find("x").id(), "like");
  assert.ok(ring.find("x") instanceof Node);
});

test("keys may be strings or bytes", () => {
  const ring = ring3();
  const k = "unicode ✓ key";
  assert.equal(ring.find(Buffer.from(k)), ring.find(k));
  assert.equal(ring.find(new Uint8Array(Buffer.from(k))), ring.find(k));
  assert.deepEqual(ring.rangeNext(Buffer.from(k), 2), ring.rangeNext(k, 2));
  const long = "x".repeat(10_000);
  assert.equal(ring.find(Buffer.from(long)), ring.find(long));
  // Around the size where string keys stop fitting the native stack buffer,
  // with characters of every UTF-8 width and a lone surrogate.
  for (const ch of ["a", "é", "✓", "😀", "\ud800"]) {
    for (let len = 230; len < 275; len++) {
      const key = "k".repeat(len) + ch + "z";
      assert.deepEqual(ids(ring.rangeNext(key, 3)), ids(ring.rangeNext(Buffer.from(key), 3)), `${len} ${ch}`);
      assert.equal(ring.find(key), ring.find(Buffer.from(key)), `${len} ${ch}`);
    }
  }
  assert.ok(ring.find("") instanceof Node);
});

test("iterators walk the ring in key order", () => {
  const ring = ring3();
  const tree = ring.toJSON().tree;
  let it = ring.begin();
  assert.equal(it.index, 0);
  assert.equal(it.hasPrev, false);
  for (let i = 0; i < tree.length; i++) {
    assert.equal(it.valid, true);
    assert.equal(it.index, i);
    assert.equal(it.key, tree[i].key);
    assert.deepEqual(it.value.toJSON(), tree[i].value);
    assert.equal(it.hasNext, i < tree.length - 1);
    it.next();
  }
  assert.equal(it.valid, false);
  assert.equal(it.key, undefined);
  assert.equal(it.value, undefined);
  assert.equal(it.index, tree.length);
  it.next(); // stays off the ring
  assert.equal(it.valid, false);

  it = ring.end();
  assert.equal(it.key, tree[tree.length - 1].key);
  assert.equal(it.hasNext, false);
  it = ring.iterator(tree[4].key);
  assert.equal(it.index, 4);
  it.prev();
  assert.equal(it.key, tree[3].key);
  const copy = it.clone();
  it.next();
  assert.equal(copy.key, tree[3].key);
  assert.equal(ring.iterator("no such key").valid, false);

  const empty = createCHash();
  assert.equal(empty.begin().valid, false);
  assert.equal(empty.end().valid, false);
  assert.equal(empty.begin().index, 0);
});

test("iterators read a snapshot: later changes do not move them", () => {
  const ring = ring3();
  const before = ring.toJSON().tree;
  const it = ring.begin();
  const first = it.value;
  ring.remove(bar()).remove(baz()).insert(new Node("late", "h", 1), 10);
  const walked = [];
  for (; it.valid; it.next()) walked.push({ key: it.key, value: it.value.toJSON() });
  assert.deepEqual(walked, before);
  assert.equal(ring.size(), 13);
  assert.ok(first.equals(foo()) || first.equals(bar()) || first.equals(baz()));
});

test("merge is a union, intersect an intersection; equals compares vnodes", () => {
  const a = createCHash().insert(foo()).insert(bar());
  const b = createCHash().insert(bar()).insert(baz());
  const union = createCHash().fromJSON(a.toJSON()).merge(b);
  assert.deepEqual(ids(union.nodes()).sort(), ["bar", "baz", "foo"]);
  assert.ok(union.equals(ring3()));
  assert.ok(!union.equals(a));
  const common = createCHash().fromJSON(a.toJSON()).intersect(b);
  assert.deepEqual(ids(common.nodes()), ["bar"]);
  assert.deepEqual([...common.weights()], [["bar", 3]]);
  assert.ok(a.merge(a).equals(a));
  assert.ok(a.intersect(a).equals(createCHash().insert(foo()).insert(bar())));
  assert.ok(a.equals(a));
  // equals ignores the factors
  assert.ok(createCHash(1, 1).fromJSON(a.toJSON()).rfactor(9) && a.equals(createCHash(9, 9).merge(a)));
  // a node value that differs breaks equality
  const moved = createCHash().insert(new Node("foo", "localhost", 1)).insert(bar());
  assert.ok(!moved.equals(a));
});

test("toJSON/fromJSON round trip; fromJSON takes factors from the JSON", () => {
  const ring = ring3().update(bar(), 5);
  const json = ring.toJSON();
  const copy = createCHash(1, 1).fromJSON(json);
  assert.equal(copy.rfactor(), 3);
  assert.equal(copy.pfactor(), 2);
  assert.equal(JSON.stringify(copy.toJSON(true)), JSON.stringify(json));
  assert.ok(copy.equals(ring));
  // toJSON hands out fresh objects
  json.tree.length = 0;
  assert.equal(ring.toJSON().tree.length, 11);
  // a ring with Node values (or a ring itself) serialises the same way
  assert.ok(createCHash().fromJSON(ring).equals(ring));
});

test("fromJSON rejects malformed rings, naming the problem", () => {
  const ring = ring3();
  const cases = [
    [null, /malformed ring: expected an object/],
    [undefined, /malformed ring: expected an object/],
    ["text", /malformed ring: expected an object/],
    [{ rfactor: 3, pfactor: 2 }, /malformed ring: `tree` must be an array/],
    [{ rfactor: -1, pfactor: 2, tree: [] }, /malformed ring: `rfactor`/],
    [{ rfactor: 3, pfactor: 2, tree: [{ key: "k" }] }, /tree\[0\]\.value is missing/],
    [
      { rfactor: 3, pfactor: 2, tree: [{ key: "k", value: { id: "a", host: "h", port: 70000 } }] },
      /tree\[0\]\.value.*`port`/,
    ],
    [
      { rfactor: 3, pfactor: 2, tree: [{ key: "k", value: { id: 5, host: "h", port: 1 } }] },
      /tree\[0\]\.value.*`id`/,
    ],
    [{ rfactor: 3, pfactor: 2, tree: [{ key: 1, value: foo() }] }, /tree\[0\]\.key/],
    [{ rfactor: 1n, pfactor: 2, tree: [] }, /malformed ring: .*BigInt/],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => ring.fromJSON(json), (err) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, message);
      return true;
    });
  }
  const cyclic = { rfactor: 3, pfactor: 2, tree: [] };
  cyclic.self = cyclic;
  assert.throws(() => ring.fromJSON(cyclic), /malformed ring: .*circular/i);
  // a refused fromJSON leaves the ring as it was
  assert.ok(ring.equals(ring3()));
});

test("arguments that are not Nodes, keys or counts throw TypeError/RangeError", () => {
  const ring = ring3();
  const notNodes = [undefined, null, "foo", 42, {}, { id: "foo" }, { id: () => 1, host() {}, port() {} }];
  for (const bad of notNodes) {
    for (const call of [
      () => ring.insert(bad),
      () => ring.remove(bad),
      () => ring.update(bad, 3),
      () => ring.get(bad),
      () => ring.next(bad),
      () => ring.prev(bad),
      () => ring.isDefined(bad),
    ]) {
      assert.throws(call, { name: "TypeError", message: "node must be a Node" });
    }
  }
  assert.throws(() => ring.insert(new Node("x", 5, 1)), { name: "TypeError", message: /host/ });
  assert.throws(() => ring.insert(new Node("x", "h", 70000)), { name: "TypeError", message: /port/ });
  assert.throws(() => ring.insert(new Node("x", "h", "7022")), { name: "TypeError", message: /port/ });
  for (const key of [undefined, null, 42, {}, ["k"]]) {
    assert.throws(() => ring.find(key), { name: "TypeError", message: /key/ });
    assert.throws(() => ring.rangeNext(key), { name: "TypeError", message: /key/ });
    assert.throws(() => ring.rangePrev(key), { name: "TypeError", message: /key/ });
  }
  assert.throws(() => ring.iterator(42), { name: "TypeError", message: /key/ });
  assert.throws(() => ring.insert(new Node("x", "h", 1), 0), { name: "RangeError", message: /weight/ });
  assert.throws(() => ring.insert(new Node("x", "h", 1), 1.5), { name: "RangeError", message: /weight/ });
  assert.throws(() => ring.insert(new Node("x", "h", 1), "2"), { name: "TypeError", message: /weight/ });
  assert.throws(() => ring.update(foo()), { name: "TypeError", message: /weight/ });
  assert.throws(() => ring.rangeNext("k", -1), { name: "RangeError", message: /range/ });
  assert.throws(() => ring.rangeNext("k", NaN), { name: "RangeError", message: /range/ });
  assert.throws(() => ring.next(foo(), 0.5), { name: "RangeError", message: /range/ });
  assert.throws(() => ring.prev(foo(), "1"), { name: "TypeError", message: /range/ });
  assert.throws(() => ring.merge({}), { name: "TypeError", message: "chash must be a CHash" });
  assert.throws(() => ring.intersect(null), { name: "TypeError", message: "chash must be a CHash" });
  assert.throws(() => ring.equals(ring.toJSON()), { name: "TypeError", message: "chash must be a CHash" });
  assert.throws(() => createCHash(-1), { name: "RangeError", message: /rfactor/ });
  assert.throws(() => createCHash(3, "2"), { name: "TypeError", message: /pfactor/ });
  assert.throws(() => ring.rfactor(-2), { name: "RangeError", message: /rfactor/ });
  // none of that changed the ring
  assert.ok(ring.equals(ring3()));
});

test("native errors surface as Errors and never take the process down", () => {
  const native = require("../../bindings/node/lib/native");
  assert.throws(() => native.ringFind(0xfffffff, "k"), /stale or unknown native handle/);
  assert.throws(() => native.ringFind("not a handle", "k"), Error);
  assert.throws(() => native.ringRange(createCHash()._h, "k", -1, true, []), /Uint32Array/);
  assert.throws(() => native.clockMerge(0xfffffff, 0), /stale or unknown native handle/);
});
