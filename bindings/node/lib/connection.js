"use strict";

const { EventEmitter } = require("node:events");
const native = require("./native");
const { sinkState } = require("./codes");

const { CONNECTING, CLOSED } = sinkState;

/**
 * An outbound connection of a NetKernel (what `kernel.sinks()` and
 * `kernel.connection(node)` answer). The connection itself lives in the
 * engine (reconnection, the bounded queue of signed frames); every method
 * reads its current state. Emits `connect` the first time it comes up.
 */
class Connection extends EventEmitter {
  constructor(kernel, node) {
    super();
    this._kernel = kernel;
    this._node = node;
  }

  _info() {
    return native.kernelSinkInfo(this._kernel._h, this._node.id());
  }

  /** The node this connection sends to. */
  node() {
    return this._node;
  }

  /** Not stopped (connected, or trying to). */
  active() {
    const info = this._info();
    return info !== null && info.state !== CLOSED;
  }

  /** Waiting for the socket to come (back) up. */
  connecting() {
    const info = this._info();
    return info !== null && info.state === CONNECTING;
  }

  /** Nothing waiting to be written. */
  idle() {
    const info = this._info();
    return info === null || info.queued === 0;
  }

  /** How many frames wait to be written. */
  queue() {
    const info = this._info();
    return info === null ? 0 : info.queued;
  }

  /** At most this many frames wait while the peer is unreachable. */
  maxLen() {
    const info = this._info();
    return info === null ? this._kernel._opts.maxLen : info.maxLen;
  }
}

module.exports = Connection;
