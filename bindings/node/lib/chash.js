"use strict";

const native = require("./native");
const Node = require("./node");
const RingIterator = require("./ring_iterator");
const args = require("./args");

const RING_SHAPE = "{rfactor, pfactor, tree}";

// Where native range queries write their answer (slot numbers). One array
// serves every ring: calls never interleave on a thread, and each answer is
// read out before the next call. It grows to the widest answer seen. The
// native side is handed its ArrayBuffer, which N-API opens more cheaply
// than the typed array.
let out = new Uint32Array(64);
let outBuffer = out.buffer;

/**
 * Consistent hash ring, placement-identical to notp 2.0.1. The ring lives
 * in the engine; lookups come back as slot numbers and are answered with
 * one cached Node object per slot. Every mutation goes through this class
 * and replaces the cache.
 */
class CHash {
  constructor(rfactor = 3, pfactor = 2) {
    // The owner keeps the native ring alive as long as this object; the
    // handle addresses it in the native functions.
    this._owner = new native.NativeRing(
      args.factor(rfactor, "rfactor"),
      args.factor(pfactor, "pfactor")
    );
    this._h = this._owner.handle;
    this._changed();
  }

  insert(node, weight) {
    const id = args.nodeId(node);
    const host = args.nodeHost(node);
    const port = args.nodePort(node);
    const w = weight === undefined ? undefined : args.positive(weight, "weight");
    native.ringInsert(this._h, id, host, port, w);
    this._changed();
    return this;
  }

  remove(node) {
    native.ringRemove(this._h, args.nodeId(node));
    this._changed();
    return this;
  }

  update(node, weight) {
    const id = args.nodeId(node);
    const host = args.nodeHost(node);
    const port = args.nodePort(node);
    native.ringUpdate(this._h, id, host, port, args.positive(weight, "weight"));
    this._changed();
    return this;
  }

  /** The stored Node with `node`'s id, or `def`. */
  get(node, def) {
    const slot = native.ringGet(this._h, args.nodeId(node));
    return slot < 0 ? def : this._node(slot);
  }

  /** The Node owning `key` (undefined on an empty ring). */
  find(key) {
    const slot =
      typeof key === "string" ? native.ringFind(this._h, key) : native.ringFindBytes(this._h, args.keyBytes(key));
    if (slot < 0) return undefined;
    const node = this._nodes[slot];
    return node !== undefined ? node : this._fill(slot);
  }

  next(node, range) {
    const id = args.nodeId(node);
    const r = args.range(range);
    return this._answer(() => native.ringNeighbours(this._h, id, r, true, outBuffer));
  }

  prev(node, range) {
    const id = args.nodeId(node);
    const r = args.range(range);
    return this._answer(() => native.ringNeighbours(this._h, id, r, false, outBuffer));
  }

  rangeNext(key, range) {
    return this._range(key, args.range(range), true);
  }

  rangePrev(key, range) {
    return this._range(key, args.range(range), false);
  }

  /** Adds every virtual node of `chash` this ring lacks. */
  merge(chash) {
    const other = ringOf(chash);
    if (chash !== this) {
      native.ringMerge(this._h, other);
      this._changed();
    }
    return this;
  }

  /** Keeps only the virtual nodes present in both rings. */
  intersect(chash) {
    const other = ringOf(chash);
    if (chash !== this) {
      native.ringIntersect(this._h, other);
      this._changed();
    }
    return this;
  }

  /** Number of virtual nodes. */
  size() {
    return native.ringSize(this._h);
  }

  numberNodes() {
    return native.ringNumberNodes(this._h);
  }

  /** A new Map id -> weight, in the original's order. */
  weights() {
    const { ids, weights } = native.ringWeights(this._h);
    const map = new Map();
    for (let i = 0; i < ids.length; i++) map.set(ids[i], weights[i]);
    return map;
  }

  nodes() {
    const slots = native.ringNodes(this._h);
    const out = new Array(slots.length);
    for (let i = 0; i < slots.length; i++) out[i] = this._node(slots[i]);
    return out;
  }

  isDefined(node) {
    return native.ringIsDefined(this._h, args.nodeId(node));
  }

  rfactor(r) {
    if (typeof r === "number") native.ringSetRfactor(this._h, args.factor(r, "rfactor"));
    return native.ringRfactor(this._h);
  }

  pfactor(p) {
    if (typeof p === "number") native.ringSetPfactor(this._h, args.factor(p, "pfactor"));
    return native.ringPfactor(this._h);
  }

  /** Same virtual nodes pointing at equal nodes (factors not compared). */
  equals(chash) {
    return chash === this || native.ringEquals(this._h, ringOf(chash));
  }

  /** `{rfactor, pfactor, tree: [{key, value: {id, host, port}}]}`, fresh. */
  toJSON(fast) { // eslint-disable-line no-unused-vars
    return JSON.parse(native.ringToJson(this._h));
  }

  /** Replaces this ring with the one in `json`; throws naming the problem. */
  fromJSON(json) {
    native.ringFromJson(this._h, args.jsonText(json, "malformed ring", RING_SHAPE));
    this._changed();
    return this;
  }

  begin() {
    return new RingIterator(native.ringBegin(this._h), this._nodes);
  }

  end() {
    return new RingIterator(native.ringEnd(this._h), this._nodes);
  }

  /**
   * A cursor starting at `node` (the original's documented use): on its
   * first virtual node, not valid when it is not in the ring. Given a
   * key (a string), on the virtual node with exactly that key.
   */
  iterator(node) {
    const cursor = typeof node === "string"
      ? native.ringIterator(this._h, node)
      : native.ringNodeIterator(this._h, args.nodeId(node, "node (or a virtual node's key)"));
    return new RingIterator(cursor, this._nodes);
  }

  // ---- internals -----------------------------------------------------------

  /** After any mutation: slot numbers changed, so start a new cache. */
  _changed() {
    this._nodes = new Array(native.ringSlotCount(this._h));
  }

  _node(slot) {
    const node = this._nodes[slot];
    return node !== undefined ? node : this._fill(slot);
  }

  _fill(slot) {
    const f = native.ringSlot(this._h, slot);
    return (this._nodes[slot] = new Node(f.id, f.host, f.port));
  }

  _range(key, r, clockwise) {
    if (typeof key === "string") {
      const n = native.ringRange(this._h, key, r, clockwise, outBuffer);
      if (n <= out.length) return this._nodesOf(n);
      return this._answer(() => native.ringRange(this._h, key, r, clockwise, outBuffer));
    }
    const bytes = args.keyBytes(key);
    return this._answer(() => native.ringRangeBytes(this._h, bytes, r, clockwise, out));
  }

  /** Runs a native query that writes slots into `out`, growing it if needed. */
  _answer(query) {
    let n = query();
    if (n > out.length) {
      out = new Uint32Array(n);
      outBuffer = out.buffer;
      n = query();
    }
    return this._nodesOf(n);
  }

  _nodesOf(n) {
    const nodes = new Array(n);
    for (let i = 0; i < n; i++) nodes[i] = this._node(out[i]);
    return nodes;
  }
}

function ringOf(chash) {
  if (!(chash instanceof CHash)) throw new TypeError("chash must be a CHash");
  return chash._h;
}

module.exports = CHash;
