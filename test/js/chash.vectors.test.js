"use strict";

// Every case of the vectors captured from notp 2.0.1 (chash.json and
// sha256.json), through require("notp").

const test = require("node:test");
const assert = require("node:assert/strict");
const notp = require("../..");
const { loadVectors } = require("./support");

const { createCHash, Node } = notp;
const chash = loadVectors("chash.json");
const sha = loadVectors("sha256.json");

const foo = () => new Node("foo", "localhost", 7022);
const bar = () => new Node("bar", "localhost", 7023);
const baz = () => new Node("baz", "127.0.0.1", 7024);
const byId = { foo, bar, baz };

const defaultRing = () => createCHash(3, 2).insert(foo()).insert(bar()).insert(baz());
const barWeight5 = () => createCHash(3, 2).insert(foo()).insert(bar(), 5).insert(baz());

// The operations each vector's `label` describes.
const builders = {
  default_weights: defaultRing,
  bar_weight5: barWeight5,
  single_foo: () => createCHash(3, 2).insert(foo()),
  default_minus_bar: () => defaultRing().remove(bar()),
  fromJSON_bar_weight5: () => createCHash().fromJSON(barWeight5().toJSON(true)),
  merge_foo_bar5: () => createCHash(3, 2).insert(foo()).merge(createCHash(3, 2).insert(bar(), 5)),
};

const ids = (nodes) => nodes.map((n) => n.id());

test("every ring in chash.json has a builder", () => {
  assert.deepEqual(Object.keys(chash.rings).sort(), Object.keys(builders).sort());
});

for (const [name, v] of Object.entries(chash.rings)) {
  test(`chash vector ${name} (${v.label})`, async (t) => {
    const ring = builders[name]();

    await t.test("toJSON(true) is byte-identical", () => {
      assert.equal(JSON.stringify(ring.toJSON(true)), JSON.stringify(v.toJSON_true));
      assert.equal(JSON.stringify(ring.toJSON()), JSON.stringify(v.toJSON_true));
      assert.equal(JSON.stringify(ring), JSON.stringify(v.toJSON_true));
    });

    await t.test("size, numberNodes, factors, weights, nodes order", () => {
      assert.equal(ring.size(), v.size);
      assert.equal(ring.numberNodes(), v.numberNodes);
      assert.equal(ring.rfactor(), v.rfactor);
      assert.equal(ring.pfactor(), v.pfactor);
      const weights = ring.weights();
      assert.ok(weights instanceof Map);
      assert.deepEqual([...weights.entries()], Object.entries(v.weights));
      const nodes = ring.nodes();
      assert.ok(nodes.every((n) => n instanceof Node));
      assert.deepEqual(ids(nodes), v.nodes_order);
    });

    await t.test("virtual nodes sit at base64(sha256(id_n))", () => {
      for (const [id, vnodes] of Object.entries(v.virtual_nodes)) {
        for (const { hash } of vnodes) {
          const it = ring.iterator(hash);
          if (ring.isDefined(byId[id]())) {
            assert.equal(it.valid, true, `${id} at ${hash}`);
            assert.equal(it.key, hash);
            assert.equal(it.value.id(), id);
          }
        }
      }
    });

    await t.test("find, rangeNext, rangePrev per key", () => {
      for (const k of v.keys) {
        const at = `key ${JSON.stringify(k.key)}`;
        assert.equal(ring.find(k.key).id(), k.find, at);
        assert.deepEqual(ids(ring.rangeNext(k.key, 1)), k.rangeNext1, at);
        assert.deepEqual(ids(ring.rangeNext(k.key, 2)), k.rangeNext2, at);
        assert.deepEqual(ids(ring.rangeNext(k.key, 3)), k.rangeNext3, at);
        assert.deepEqual(ids(ring.rangeNext(k.key)), k.rangeNext_default, at);
        assert.deepEqual(ids(ring.rangePrev(k.key, 1)), k.rangePrev1, at);
        assert.deepEqual(ids(ring.rangePrev(k.key, 3)), k.rangePrev3, at);
        // Buffer keys hash the same bytes.
        assert.equal(ring.find(Buffer.from(k.key)).id(), k.find, at);
      }
    });

    await t.test("next, prev, get, isDefined per node", () => {
      for (const [id, p] of Object.entries(v.per_node)) {
        const node = byId[id]();
        assert.deepEqual(ids(ring.next(node)), p.next_default, `${id} next`);
        assert.deepEqual(ids(ring.next(node, 1)), p.next1, `${id} next 1`);
        assert.deepEqual(ids(ring.next(node, 2)), p.next2, `${id} next 2`);
        assert.deepEqual(ids(ring.prev(node)), p.prev_default, `${id} prev`);
        assert.deepEqual(ids(ring.prev(node, 1)), p.prev1, `${id} prev 1`);
        assert.deepEqual(ids(ring.prev(node, 2)), p.prev2, `${id} prev 2`);
        assert.equal(ring.isDefined(node), p.isDefined, `${id} isDefined`);
        const got = ring.get(node);
        if (p.get === null) {
          assert.equal(got, undefined);
          assert.equal(ring.get(node, "fallback"), "fallback");
        } else {
          assert.ok(got instanceof Node);
          assert.deepEqual(got.toJSON(), p.get);
        }
      }
    });
  });
}

test("sha256.json: virtual node keys, walking the ring begin()..end()", () => {
  const names = Object.keys(sha.inputs).filter((n) => /^[a-z]+_\d+$/.test(n));
  const weights = {};
  for (const name of names) {
    const [id, n] = name.split("_");
    weights[id] = Math.max(weights[id] || 0, Number(n));
  }
  for (const [id, weight] of Object.entries(weights)) {
    const ring = createCHash(3, 2).insert(new Node(id, "localhost", 7022), weight);
    const walked = [];
    for (const it = ring.begin(); it.valid; it.next()) walked.push(it.key);
    const expected = names.filter((n) => n.startsWith(`${id}_`)).map((n) => sha.inputs[n].base64);
    assert.deepEqual([...walked].sort(), [...expected].sort(), id);
    // Ascending string order, and end() walks it backwards.
    assert.deepEqual(walked, [...walked].sort());
    const back = [];
    for (const it = ring.end(); it.valid; it.prev()) back.push(it.key);
    assert.deepEqual(back, [...walked].reverse());
  }

  const fooRing = createCHash(3, 2).insert(new Node("foo", "localhost", 7022));
  const order = [];
  for (const it = fooRing.begin(); it.valid; it.next()) order.push(it.key);
  assert.deepEqual(order, sha.ring_order_of_foo);
  for (const [key, name] of Object.entries(sha.readme_keys_match)) {
    assert.equal(sha.inputs[name].base64, key);
    assert.equal(fooRing.iterator(key).value.id(), "foo");
  }
});

test("sha256.json: lookup keys hash to base64(sha256(key))", () => {
  // find(k) is the first virtual node strictly after hash(k), wrapping; so
  // the vector's hash of each plain input predicts the owner.
  const ring = barWeight5();
  const tree = ring.toJSON().tree;
  for (const [input, { base64 }] of Object.entries(sha.inputs)) {
    const after = tree.find((e) => e.key > base64) || tree[0];
    assert.equal(ring.find(input).id(), after.value.id, JSON.stringify(input));
  }
});
