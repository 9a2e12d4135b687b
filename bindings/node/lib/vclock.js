"use strict";

const native = require("./native");
const consts = require("./consts");
const args = require("./args");

const CLOCK_SHAPE = "{actor: {count, insert, time}}";

/**
 * Vector clock: actor id -> {count, insert, time}, times in µs since the
 * epoch from the native clock. The clock lives in the engine.
 */
class VectorClock {
  constructor(node, count) {
    // The owner keeps the native clock alive as long as this object; the
    // handle addresses it in the native functions.
    this._owner =
      typeof node === "string" && typeof count === "number"
        ? new native.NativeClock(node, args.counter(count, "count"))
        : new native.NativeClock();
    this._h = this._owner.handle;
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
    native.clockIncrement(this._h, args.actor(node));
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
