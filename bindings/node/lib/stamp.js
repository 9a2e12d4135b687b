"use strict";

// Clock stamps read without crossing into the native code, for the vector
// clock's hot path (VectorClock.increment stamps every increment): the
// monotonic clock, anchored to the native wall clock (`microtime()`). The
// anchor only moves forward, re-read by `anchor()` whenever stamps are
// handed to the engine, so stamps never go backwards and a wall clock
// stepped forward is caught up with; the engine, told of every stamp it
// stores, never reads an earlier time afterwards.

const { performance } = require("node:perf_hooks");
const native = require("./native");

let base = 0;

/** Re-reads the native wall clock. */
function anchor() {
  const b = native.microtime() - performance.now() * 1000;
  if (b > base) base = b;
}
anchor();

/** µs since the Unix epoch. */
function stamp() {
  return Math.floor(base + performance.now() * 1000);
}

module.exports = { stamp, anchor };
