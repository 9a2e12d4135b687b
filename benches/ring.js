#!/usr/bin/env node
// Throughput through require("notp"): ring lookups on rings of 10, 100 and
// 1000 nodes (3 virtual nodes each) and vector clock operations with 50
// actors. One line per figure; the clock's lines also show the original
// (notp 2.0.1) as measured on this machine in issue 10, the reference
// every figure here must at least match. BENCH_KEYS sets the number of
// distinct keys (default 1e6), BENCH_PASSES the timed passes per figure
// (default 3).
//
// Each pass is timed in batches of BATCH operations and a figure is the best
// batch: on a shared machine a batch often runs undisturbed where a whole
// pass rarely does, and a batch is long enough to include its share of
// garbage collection. Beside the ring figures, a floor measured in the same
// run: `find` on an empty ring crosses the same native door (arguments, the
// key's text, the handle) without hashing or searching, so a lookup's
// figure minus the floor's time is what the engine costs.
"use strict";

const notp = require("..");

const KEYS = Number(process.env.BENCH_KEYS) || 1_000_000;
const keys = new Array(KEYS);
for (let i = 0; i < KEYS; i++) keys[i] = "key" + i;

const fmt = (n) => Math.round(n).toLocaleString("en-US");
let sink = 0;

// Runs `body(i)` for every i in [0, n) in timed passes after a warm-up,
// answering operations per second of the best batch.
const PASSES = Number(process.env.BENCH_PASSES) || 3;
const BATCH = 100_000;
function measure(n, body) {
  for (let i = 0; i < Math.min(n, 100_000); i++) body(i);
  let best = 0;
  for (let pass = 0; pass < PASSES; pass++) {
    for (let from = 0; from < n; from += BATCH) {
      const to = Math.min(n, from + BATCH);
      const start = process.hrtime.bigint();
      for (let i = from; i < to; i++) body(i);
      const ns = Number(process.hrtime.bigint() - start);
      best = Math.max(best, ((to - from) * 1e9) / ns);
    }
  }
  return best;
}

function ringOf(n) {
  const ring = notp.createCHash(3, 2);
  for (let i = 0; i < n; i++) ring.insert(new notp.Node(`node${i}`, "127.0.0.1", 7000 + (i % 1000)));
  return ring;
}

const empty = notp.createCHash(3, 2);
const door = measure(KEYS, (i) => {
  sink += empty.find(keys[i]) === undefined ? 1 : 0;
});
console.log(`find       empty ring  ${fmt(door).padStart(11)} lookups/s  (floor: the native door alone)`);

for (const n of [10, 100, 1000]) {
  const ring = ringOf(n);
  const width = String(n).padStart(4);
  const find = measure(KEYS, (i) => {
    sink += ring.find(keys[i]).port();
  });
  console.log(`find       ${width} nodes  ${fmt(find).padStart(11)} lookups/s`);
  const range = measure(KEYS, (i) => {
    sink += ring.rangeNext(keys[i], 3).length;
  });
  console.log(`rangeNext3 ${width} nodes  ${fmt(range).padStart(11)} lookups/s`);
}

// The original, as issue 10 measured it beside this door (ring lookups:
// no figure given; the door's were faster).
const ORIGINAL = {
  increment: "9,300,000 ops/s",
  merge: "the door was 3.6x faster",
  descends: "the door was 2x faster",
};
const original = (op) => `  (original, measured in issue 10: ${ORIGINAL[op]})`;

const ACTORS = 50;
const actors = Array.from({ length: ACTORS }, (_, i) => `actor-${i}`);
const OPS = 200_000;

const a = notp.createVClock();
const inc = measure(OPS, (i) => {
  a.increment(actors[i % ACTORS]);
});
console.log(`increment  ${ACTORS} actors  ${fmt(inc).padStart(11)} ops/s${original("increment")}`);

const b = notp.createVClock();
for (const id of actors) b.increment(id).increment(id);
const merge = measure(OPS, () => {
  a.merge(b);
});
console.log(`merge      ${ACTORS} actors  ${fmt(merge).padStart(11)} ops/s${original("merge")}`);

const desc = measure(OPS, () => {
  sink += a.descends(b) ? 1 : 0;
});
console.log(`descends   ${ACTORS} actors  ${fmt(desc).padStart(11)} ops/s${original("descends")}`);

if (sink === -1) console.log(sink);
