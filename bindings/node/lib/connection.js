"use strict";

const { EventEmitter } = require("node:events");
const native = require("./native");
const Node = require("./node");
const args = require("./args");
const { sinkState } = require("./codes");

const { CONNECTING, CLOSED } = sinkState;

/**
 * What `Connection.queue()` answers: the frames waiting on the engine's
 * connection. The original answered its own Queue of messages; here the
 * frames are signed bytes in the engine, so only their number can be read
 * (`size()`; the view also reads as that number).
 */
class QueueView {
  constructor(conn) {
    this._conn = conn;
  }

  size() {
    const info = this._conn._info();
    return info === null ? 0 : info.queued;
  }

  valueOf() {
    return this.size();
  }

  toJSON() {
    return this.size();
  }
}

/**
 * An outbound connection of a NetKernel (what `kernel.sinks()` and
 * `kernel.connection(node)` answer), with the original's methods. The
 * connection itself lives in the engine (reconnection, the bounded queue
 * of signed frames); every method reads or acts on it. Emits `connect`
 * the first time it comes up, `send` for each frame `send` wrote, and
 * `idle` when the last stream marked with `initiateStream` ends.
 */
class Connection extends EventEmitter {
  constructor(kernel, node) {
    super();
    this._kernel = kernel;
    this._node = node;
    // Streams in flight on this connection (the original's idle() rule).
    this._streams = new Map();
  }

  _info() {
    return native.kernelSinkInfo(this._kernel._h, this._node.id());
  }

  /** Opens the connection (the kernel's `connect`); nothing if it is open. */
  start() {
    this._kernel.connect(this._node);
    return this;
  }

  /**
   * Closes the connection: once what is queued is written, or at once with
   * `force` (the kernel's `disconnect`).
   */
  stop(force = false) {
    this._streams = new Map();
    this._kernel.disconnect(this._node, force === true);
    return this;
  }

  /** There is no node-ipc: answers what the kernel's `ipc()` answers. */
  ipc() {
    return this._kernel.ipc();
  }

  /** The node this connection sends to. */
  node() {
    return this._node;
  }

  /** The frames waiting to be written (`queue().size()`). */
  queue() {
    return new QueueView(this);
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

  /** Nothing waiting to be written and no stream marked in flight. */
  idle() {
    if (this._streams.size > 0) return false;
    const info = this._info();
    return info === null || info.queued === 0;
  }

  /** At most this many frames wait while the peer is unreachable. */
  maxLen() {
    const info = this._info();
    return info === null ? this._kernel._opts.maxLen : info.maxLen;
  }

  /**
   * Writes one frame: `event` is its type (`"message"` or `"ping"`) and
   * `data` the envelope (`{id, tag, from, stream, data}`), signed with the
   * kernel's cookie (a `checkSum` given is replaced). Queued while the
   * connection is down, as the original queued it. Answers an Error (not
   * thrown) when the connection is stopped, as the original did.
   */
  send(event, data) {
    if (event !== "message" && event !== "ping") {
      throw new TypeError('event must be "message" or "ping"');
    }
    if (data === null || typeof data !== "object") throw new TypeError("data must be an envelope object");
    const { checkSum, ...envelope } = data; // eslint-disable-line no-unused-vars
    const sent = this._kernel._isRunning() &&
      native.kernelSinkSend(this._kernel._h, this._node.id(), event === "ping", JSON.stringify(envelope));
    if (!sent) return new Error("Cannot write to inactive connection.");
    this.emit("send", event, data);
    const stream = envelope.stream;
    if (stream !== null && typeof stream === "object" && typeof stream.stream === "string") {
      if (stream.done) this._streamDone(stream.stream);
      else this._streams.set(stream.stream, true);
    }
    return this;
  }

  /** Marks stream `{stream: id}` in flight: not idle until it is sent done. */
  initiateStream(stream) {
    if (stream !== null && typeof stream === "object" && stream.stream !== undefined) {
      this._streams.set(stream.stream, true);
    }
    return this;
  }

  _streamDone(id) {
    if (this._streams.delete(id) && this._streams.size === 0) this.emit("idle");
  }

  /**
   * `kernel`'s outbound connections as the engine has them (id →
   * Connection), one object per connection for as long as it exists.
   */
  static ofKernel(kernel) {
    const out = new Map();
    if (!kernel._isRunning()) return out;
    const conns = kernel._conns;
    for (const f of native.kernelSinks(kernel._h)) {
      let conn = conns.get(f.id);
      if (conn === undefined) {
        conn = new Connection(kernel, new Node(f.id, f.host, f.port));
        conns.set(f.id, conn);
      }
      out.set(f.id, conn);
    }
    if (conns.size !== out.size) {
      for (const id of conns.keys()) if (!out.has(id)) conns.delete(id);
    }
    return out;
  }

  /**
   * Makes `kernel`'s outbound connections those of `sinks` (id →
   * Connection or Node): opens the missing ones, closes the others.
   */
  static reconcile(kernel, sinks) {
    const wanted = new Map();
    for (const value of sinks.values()) {
      const node = value instanceof Connection ? value.node() : value;
      const id = args.nodeId(node, "each sink");
      wanted.set(id, node);
      if (value instanceof Connection && value._kernel === kernel) kernel._conns.set(id, value);
    }
    if (kernel._isRunning()) {
      for (const f of native.kernelSinks(kernel._h)) {
        if (!wanted.has(f.id)) kernel.disconnect(new Node(f.id, f.host, f.port));
      }
    }
    for (const node of wanted.values()) {
      if (!kernel.isConnected(node)) kernel.connect(node);
    }
  }
}

module.exports = Connection;
