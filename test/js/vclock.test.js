"use strict";

// VectorClock semantics: the original's rules for increment, merge,
// descends, equals and trim, its JSON form (key order included), and
// argument errors.

const test = require("node:test");
const assert = require("node:assert/strict");
const notp = require("../..");

const { createVClock, VectorClock, microtime, consts } = notp;

const S = 1_000_000; // µs per second
const DAY = 86_400 * S;

/** A clock whose actors have the given counts and times (µs). */
function clockOf(entries) {
  const c = createVClock();
  for (const [id, count, time] of entries) c.update(id, count, time);
  return c;
}

test("construction: only an id string with a count number seeds an actor", () => {
  assert.equal(createVClock().size(), 0);
  assert.ok(new VectorClock() instanceof VectorClock);
  assert.equal(createVClock("a").size(), 0);
  assert.equal(createVClock(1, 1).size(), 0);
  const before = microtime();
  const c = createVClock("a", 4);
  const after = microtime();
  assert.equal(c.size(), 1);
  assert.deepEqual(c.nodes(), ["a"]);
  const e = c.get("a");
  assert.equal(e.count, 4);
  assert.equal(e.insert, e.time);
  assert.ok(e.time >= before && e.time <= after);
  assert.throws(() => createVClock("a", -1), { name: "RangeError", message: /count/ });
});

test("insert, increment, update, remove, has, getters", () => {
  const c = createVClock();
  assert.equal(c.insert("a"), c);
  assert.equal(c.getCount("a"), 0);
  const inserted = c.getInsert("a");
  assert.equal(c.insert("a").getCount("a"), 0);
  assert.equal(c.increment("a"), c);
  assert.equal(c.getCount("a"), 1);
  assert.equal(c.getInsert("a"), inserted);
  assert.ok(c.getTimestamp("a") >= inserted);
  c.increment("b");
  assert.equal(c.getCount("b"), 1);
  assert.equal(c.getInsert("b"), c.getTimestamp("b"));
  assert.equal(c.update("a", 10, 1234), c);
  assert.deepEqual(c.get("a"), { count: 10, insert: inserted, time: 1234 });
  const now = microtime();
  c.update("c", 3);
  assert.ok(c.getTimestamp("c") >= now);
  assert.ok(c.getInsert("c") >= now);
  assert.equal(c.has("c"), true);
  assert.equal(c.remove("c"), c);
  assert.equal(c.has("c"), false);
  assert.equal(c.size(), 2);
  for (const getter of ["get", "getCount", "getInsert", "getTimestamp"]) {
    assert.equal(c[getter]("zzz"), undefined, getter);
  }
  // get answers a copy
  c.get("a").count = 99;
  assert.equal(c.getCount("a"), 10);
});

test("increment stamps the native clock", () => {
  const c = createVClock();
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    c.increment("a");
    const t = c.getTimestamp("a");
    assert.ok(t >= last);
    last = t;
  }
  assert.equal(c.getCount("a"), 1000);
  assert.ok(Math.abs(last - microtime()) < 5 * S);
});

test("merge: larger count wins, equal counts keep the later time", () => {
  const a = clockOf([
    ["x", 2, 100],
    ["y", 1, 500],
    ["z", 4, 100],
    ["w", 1, 300],
  ]);
  const b = clockOf([
    ["x", 3, 50], // larger count wins even with an older time
    ["y", 1, 600], // equal counts: later time wins
    ["z", 1, 900], // smaller count loses
    ["w", 1, 300], // tie keeps the local entry
    ["v", 7, 10], // missing actors are added
  ]);
  const wInsert = a.getInsert("w");
  const yInsert = b.getInsert("y");
  assert.equal(a.merge(b), a);
  assert.equal(a.getCount("x"), 3);
  assert.equal(a.getTimestamp("x"), 50);
  assert.equal(a.getTimestamp("y"), 600);
  assert.equal(a.getInsert("y"), yInsert); // the whole entry is taken
  assert.equal(a.getCount("z"), 4);
  assert.equal(a.getInsert("w"), wInsert);
  assert.equal(a.getCount("v"), 7);
  assert.equal(a.size(), 5);
  // b is untouched
  assert.equal(b.getCount("z"), 1);
  // into an empty clock: a copy; with an empty clock or itself: no change
  const empty = createVClock().merge(b);
  assert.ok(empty.equals(b));
  const json = JSON.stringify(a.toJSON());
  a.merge(createVClock()).merge(a);
  assert.equal(JSON.stringify(a.toJSON()), json);
});

test("descends", () => {
  const a = clockOf([["x", 2, 1], ["y", 1, 1]]);
  const b = clockOf([["x", 1, 1]]);
  assert.equal(a.descends(b), true);
  assert.equal(b.descends(a), false);
  assert.equal(a.descends(createVClock()), true);
  assert.equal(createVClock().descends(createVClock()), true);
  assert.equal(createVClock().descends(b), false);
  assert.equal(a.descends(a), true);
  assert.equal(b.descends(clockOf([["q", 0, 1]])), false); // missing actor
  const concurrent = clockOf([["x", 3, 1], ["z", 1, 1]]);
  assert.equal(a.descends(concurrent), false);
  assert.equal(concurrent.descends(a), false);
});

test("equals compares count, insert and time of every actor, in any order", () => {
  const a = createVClock().fromJSON({
    x: { count: 1, insert: 10, time: 20 },
    y: { count: 2, insert: 10, time: 30 },
  });
  const b = createVClock().fromJSON({
    y: { count: 2, insert: 10, time: 30 },
    x: { count: 1, insert: 10, time: 20 },
  });
  assert.equal(a.equals(b), true);
  assert.equal(a.equals(a), true);
  b.update("x", 1, 21);
  assert.equal(a.equals(b), false);
  const c = createVClock().fromJSON({ x: { count: 1, insert: 11, time: 20 }, y: a.get("y") });
  assert.equal(a.equals(c), false);
  assert.equal(a.equals(createVClock()), false);
});

test("trim: lowerBound, youngBound, upperBound, oldBound", () => {
  const now = 1_700_000_000 * S;
  const actors = (n, ageOf) => Array.from({ length: n }, (_, i) => [`a${i}`, 1, now - ageOf(i)]);

  // At most lowerBound entries: untouched, however old.
  let c = clockOf(actors(10, () => 2 * DAY));
  c.trim(now, {});
  assert.equal(c.size(), 10);

  // Oldest entry not older than youngBound: untouched, however many.
  c = clockOf(actors(80, (i) => 10 * S + i));
  c.trim(now, consts.vclockOpts);
  assert.equal(c.size(), 80);

  // More than upperBound: the oldest go until upperBound remain.
  c = clockOf(actors(80, (i) => 30 * S + i * 1000));
  assert.equal(c.trim(now), c); // opts missing: the defaults
  assert.equal(c.size(), 50);
  assert.deepEqual(c.nodes(), Array.from({ length: 50 }, (_, i) => `a${i}`)); // the youngest stay

  // Older than oldBound: removed even below upperBound.
  c = clockOf(actors(20, (i) => (i < 5 ? 2 * DAY : 30 * S)));
  c.trim(now, { lowerBound: 10 });
  assert.equal(c.size(), 15);
  assert.equal(c.has("a0"), false);
  assert.equal(c.has("a5"), true);

  // Custom bounds.
  c = clockOf(actors(6, (i) => 100 + i));
  c.trim(now, { lowerBound: 2, youngBound: 50, upperBound: 3, oldBound: Infinity });
  assert.deepEqual(c.nodes(), ["a0", "a1", "a2"]);
  c.trim(now, { lowerBound: 0, youngBound: 0, upperBound: 0, oldBound: 0 });
  assert.equal(c.size(), 0);
});

test("JSON: integer-like actor ids first, then insertion order; byte-identical round trip", () => {
  const c = createVClock();
  for (const id of ["b", "10", "a", "2", "01", "4294967295", "4294967294"]) c.increment(id);
  const json = c.toJSON();
  const order = ["2", "10", "4294967294", "b", "a", "01", "4294967295"];
  assert.deepEqual(Object.keys(json), order);
  assert.deepEqual(c.nodes(), order);
  for (const entry of Object.values(json)) assert.deepEqual(Object.keys(entry), ["count", "insert", "time"]);
  // what JavaScript itself would do with the same object
  const js = {};
  for (const id of ["b", "10", "a", "2", "01", "4294967295", "4294967294"]) js[id] = 1;
  assert.deepEqual(Object.keys(js), order);

  const text = JSON.stringify(c.toJSON(true));
  const back = createVClock().fromJSON(JSON.parse(text));
  assert.equal(JSON.stringify(back.toJSON()), text);
  assert.equal(JSON.stringify(back), text);
  assert.ok(back.equals(c));
  assert.equal(back.size(), c.size());
  // toJSON answers a fresh object
  json.b.count = 1000;
  assert.equal(c.getCount("b"), 1);
});

test("fromJSON rejects malformed clocks, naming the problem; validJSON", () => {
  const c = createVClock("keep", 1);
  const cases = [
    [null, /malformed vector clock: expected an object/],
    [[], /malformed vector clock: expected an object/],
    ["{}", /malformed vector clock: expected an object/],
    [{ a: 1 }, /"a" must be an object/],
    [{ a: { insert: 1, time: 1 } }, /"a"\.count is missing/],
    [{ a: { count: 1 } }, /"a" needs an insert or a time/],
    [{ a: { count: -1, insert: 1, time: 1 } }, /"a"\.count/],
    [{ a: { count: 1, insert: "1", time: 1 } }, /"a"\.insert/],
    [{ a: { count: 1, insert: 1, time: 1.5 } }, /"a"\.time/],
    [{ a: { count: 1, insert: 1, time: 2 ** 60 } }, /"a"\.time/],
  ];
  for (const [json, message] of cases) {
    assert.throws(() => c.fromJSON(json), (err) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, message);
      return true;
    });
  }
  assert.deepEqual(c.nodes(), ["keep"]);
  assert.equal(c.fromJSON({}), c);
  assert.equal(c.size(), 0);

  assert.equal(VectorClock.validJSON({}), true);
  assert.equal(VectorClock.validJSON({ a: 1 }), true);
  assert.equal(VectorClock.validJSON([]), false);
  assert.equal(VectorClock.validJSON(null), false);
  assert.equal(VectorClock.validJSON("x"), false);
  assert.equal(VectorClock.validJSON(undefined), false);
});

test("argument errors name the argument", () => {
  const c = createVClock("a", 1);
  for (const method of ["insert", "increment", "remove", "get", "getCount", "getInsert", "getTimestamp", "has"]) {
    assert.throws(() => c[method](5), { name: "TypeError", message: /node/ }, method);
  }
  assert.throws(() => c.update("a", -1), { name: "RangeError", message: /count/ });
  assert.throws(() => c.update("a", "1"), { name: "TypeError", message: /count/ });
  assert.throws(() => c.update("a", 1, -5), { name: "RangeError", message: /time/ });
  assert.throws(() => c.update("a", 2 ** 53), { name: "RangeError", message: /count/ });
  for (const method of ["merge", "descends", "equals"]) {
    assert.throws(() => c[method]({}), { name: "TypeError", message: "vclock must be a VectorClock" });
    assert.throws(() => c[method](c.toJSON()), { name: "TypeError" });
  }
  assert.throws(() => c.trim("now"), { name: "TypeError", message: /threshold/ });
  assert.throws(() => c.trim(-1), { name: "RangeError", message: /threshold/ });
  assert.throws(() => c.trim(1, { upperBound: -1 }), { name: "RangeError", message: /upperBound/ });
  assert.throws(() => c.trim(1, { oldBound: "1" }), { name: "TypeError", message: /oldBound/ });
  assert.deepEqual(c.nodes(), ["a"]);
});
