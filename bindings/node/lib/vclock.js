"use strict";

const native = require("./native");
const consts = require("./consts");
const args = require("./args");
const { stamp, anchor } = require("./stamp");

const CLOCK_SHAPE = "{actor: {count, insert, time}}";

// Increments of this many distinct actors wait at most before they are
// handed to the engine.
const MAX_COUNTED = 1024;

/** Increments of one actor not yet handed to the engine. */
class Counted {
  constructor(now) {
    this.n = 1;
    this.first = now;
    this.last = now;
  }
}

/**
 * Vector clock: actor id -> {count, insert, time}, times in µs since the
 * epoch from the native clock. The clock and its rules live in the engine.
 *
 * `increment` is the one operation a program makes per event, so it does
 * not cross into the engine: it counts in JavaScript (how many, and when
 * the first and the last were stamped), and every other operation, on
 * this clock or with it, first hands what was counted to the engine
 * (`increment_many`, which applies them as that many increments).
 */
class VectorClock {
  constructor(node, count) {
    // The owner keeps the native clock alive as long as this object; the
    // handle addresses it in the native functions.
    this._owner =
      typeof node === "string" && typeof count === "number"
        ? new native.NativeClock(node, args.counter(count, "count"))
        : new native.NativeClock();
    this._handle = this._owner.handle;
    // actor -> Counted, or null when nothing waits.
    this._counted = null;
  }

  /** The native clock's handle, with every increment counted so far applied. */
  get _h() {
    if (this._counted !== null) this._apply();
    return this._handle;
  }

  /** Points this object at another native clock (what was counted goes to the old one first). */
  set _h(handle) {
    if (this._counted !== null) this._apply();
    this._handle = handle;
  }

  _apply() {
    const counted = this._counted;
    this._counted = null;
    const ids = new Array(counted.size);
    const stamps = new Array(counted.size * 3);
    let i = 0;
    for (const [id, c] of counted) {
      ids[i] = id;
      stamps[3 * i] = c.n;
      stamps[3 * i + 1] = c.first;
      stamps[3 * i + 2] = c.last;
      i++;
    }
    native.clockIncrementMany(this._handle, ids, stamps);
    anchor();
  }

  /** Adds `node` at count 0 (an existing actor is left alone). */
  insert(node) {
    native.clockInsert(this._h, args.actor(node));
    return this;
  }

  /** Sets `node`'s count and time (default: now). */
  update(node, count, time) {
    const id = args.actor(node);
    const c = args.counter(count, "count");
    const t = time === undefined ? undefined : args.counter(time, "time");
    native.clockUpdate(this._h, id, c, t);
    return this;
  }

  remove(node) {
    native.clockRemove(this._h, args.actor(node));
    return this;
  }

  /** Adds one to `node`'s count (inserting it first) and stamps it now. */
  increment(node) {
    if (typeof node !== "string") args.actor(node);
    const now = stamp();
    let counted = this._counted;
    if (counted === null) counted = this._counted = new Map();
    const c = counted.get(node);
    if (c !== undefined) {
      c.n++;
      c.last = now;
    } else {
      counted.set(node, new Counted(now));
      if (counted.size >= MAX_COUNTED) this._apply();
    }
    return this;
  }

  /** A fresh `{count, insert, time}`, or undefined. */
  get(node) {
    return orUndefined(native.clockGet(this._h, args.actor(node)));
  }

  getCount(node) {
    return orUndefined(native.clockGetCount(this._h, args.actor(node)));
  }

  getInsert(node) {
    return orUndefined(native.clockGetInsert(this._h, args.actor(node)));
  }

  getTimestamp(node) {
    return orUndefined(native.clockGetTimestamp(this._h, args.actor(node)));
  }

  has(node) {
    return native.clockHas(this._h, args.actor(node));
  }

  /** Per actor the larger count wins; equal counts keep the later time. */
  merge(vclock) {
    const other = clockOf(vclock);
    if (vclock !== this) native.clockMerge(this._h, other);
    return this;
  }

  /** Whether this clock has seen everything `vclock` has. */
  descends(vclock) {
    return native.clockDescends(this._h, clockOf(vclock));
  }

  equals(vclock) {
    return native.clockEquals(this._h, clockOf(vclock));
  }

  /**
   * Drops old entries relative to `threshold` (µs since the epoch). Missing
   * options take `consts.vclockOpts`.
   */
  trim(threshold, opts) {
    const o = opts || {};
    const d = consts.vclockOpts;
    native.clockTrim(
      this._h,
      args.counter(threshold, "threshold"),
      args.bound(o.lowerBound, d.lowerBound, "opts.lowerBound"),
      args.bound(o.youngBound, d.youngBound, "opts.youngBound"),
      args.bound(o.upperBound, d.upperBound, "opts.upperBound"),
      args.bound(o.oldBound, d.oldBound, "opts.oldBound")
    );
    return this;
  }

  /** Actor ids, in the order of the JSON form. */
  nodes() {
    return native.clockNodes(this._h);
  }

  size() {
    return native.clockSize(this._h);
  }

  /** `{actor: {count, insert, time}}` in the original's key order, fresh. */
  toJSON(fast) { // eslint-disable-line no-unused-vars
    return JSON.parse(native.clockToJson(this._h));
  }

  /** Replaces this clock with the one in `json`; throws naming the problem. */
  fromJSON(json) {
    if (!VectorClock.validJSON(json)) {
      throw new Error(`malformed vector clock: expected an object ${CLOCK_SHAPE}`);
    }
    native.clockFromJson(this._h, args.jsonText(json, "malformed vector clock", CLOCK_SHAPE));
    return this;
  }

  /** Whether `data` is a non-array object (the original's check). */
  static validJSON(data) {
    return data !== null && typeof data === "object" && !Array.isArray(data);
  }
}

function orUndefined(v) {
  return v === null ? undefined : v;
}

function clockOf(vclock) {
  if (!(vclock instanceof VectorClock)) throw new TypeError("vclock must be a VectorClock");
  return vclock._h;
}

module.exports = VectorClock;
