"use strict";

const native = require("./native");
const Node = require("./node");

/**
 * A cursor over a ring's virtual nodes in key order (the original's tree
 * iterator). It reads a snapshot: changes to the ring after it was created
 * do not move it or change what it reads.
 */
class RingIterator {
  /**
   * @param cursor the native cursor (owner) over the snapshot
   * @param nodes the ring's slot -> Node cache for that same snapshot (the
   *   ring replaces, never clears, its cache when it changes)
   */
  constructor(cursor, nodes) {
    this._cursor = cursor;
    this._h = cursor.handle;
    this._nodes = nodes;
  }

  /** Whether the cursor is on a virtual node. */
  get valid() {
    return native.cursorValid(this._h);
  }

  /** The virtual node's key (undefined when not valid). */
  get key() {
    const key = native.cursorKey(this._h);
    return key === null ? undefined : key;
  }

  /** The Node behind the virtual node (undefined when not valid). */
  get value() {
    const slot = native.cursorSlot(this._h);
    if (slot < 0) return undefined;
    let node = this._nodes[slot];
    if (node === undefined) {
      const f = native.cursorValue(this._h);
      node = this._nodes[slot] = new Node(f.id, f.host, f.port);
    }
    return node;
  }

  /** Position in the ring; the ring's size when not valid. */
  get index() {
    return native.cursorIndex(this._h);
  }

  get hasNext() {
    return native.cursorHasNext(this._h);
  }

  get hasPrev() {
    return native.cursorHasPrev(this._h);
  }

  /** Moves to the next virtual node; past the last one it is not valid. */
  next() {
    native.cursorNext(this._h);
  }

  /** Moves to the previous virtual node; before the first it is not valid. */
  prev() {
    native.cursorPrev(this._h);
  }

  /** An independent cursor at the same position. */
  clone() {
    return new RingIterator(native.cursorCopy(this._h), this._nodes);
  }
}

module.exports = RingIterator;
