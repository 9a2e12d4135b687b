"use strict";

const crypto = require("node:crypto");
const { EventEmitter } = require("node:events");
const { PassThrough } = require("node:stream");
const { reviveBuffers } = require("./payload");

const debug = require("node:util").debuglog("notp");

let warnedNoTag = false;

/** A fresh server name (the original used shortid); never starts with `_`. */
function generateId() {
  return "s" + crypto.randomBytes(9).toString("base64url");
}

/**
 * A generic server, Erlang style, on a NetKernel: it listens on the kernel
 * for messages addressed to its name, and emits each request body
 * `{event, data}` as `this.emit(event, data, from)`. Extend it
 * (`class PingServer extends GenServer`) and answer calls with
 * `this.reply(from, data)`.
 *
 * A streamed body arrives chunk by chunk (`{stream: <id>, done: false}`,
 * then `done: true`), as the original sent it: the chunks are gathered per
 * stream (the partial ones are `streams()`; `idle()` is true when there
 * are none) and parsed by `decodeJob` once done, or dropped after
 * `streamTimeout` ms (a waiting caller is answered "Timeout."). From
 * another node, the engine has already put the body back together (within
 * the kernel's limits) and hands it over as one Buffer, which goes to
 * `decodeJob` directly. JSON bodies go through `decodeSingleton`. Both are
 * hooks a subclass may override. `{"type":"Buffer","data":[…]}` objects
 * anywhere in a body become Buffers.
 */
class GenServer extends EventEmitter {
  constructor(kernel, opts) {
    super();
    this._id = generateId();
    this._kernel = kernel;
    this._streams = new Map();
    this._streamTimeout = (opts && opts.streamTimeout) || 30000;
    this._paused = false;
  }

  /**
   * Starts routing messages addressed to `name` (default: the generated
   * id) to this server. Throws when the name is taken on this node.
   */
  start(name) {
    if (name) this._id = name;
    if (this._kernel.listenerCount(this._id) > 0) {
      throw new Error("Kernel already has listener at id '" + this._id + "'");
    }
    this._listen();
    return this;
  }

  /** Stops routing messages here and takes a fresh id. Emits `stop`. */
  stop(force = false) { // eslint-disable-line no-unused-vars
    this.pause();
    this.emit("stop");
    for (const partial of this._streams.values()) {
      if (partial !== null && typeof partial === "object") clearTimeout(partial.timeout);
    }
    this._streams.clear();
    this._id = generateId();
    return this;
  }

  /** Stops routing messages here until `resume()`. Emits `pause`. */
  pause() {
    this._paused = true;
    this.emit("pause");
    return this;
  }

  /** Routes messages here again. Emits `resume`. */
  resume() {
    this._listen();
    this._paused = false;
    this.emit("resume");
    return this;
  }

  _listen() {
    const id = this._id;
    const kernel = this._kernel;
    const handler = this._parse.bind(this);
    kernel.on(id, handler);
    this.once("pause", () => kernel.removeListener(id, handler));
  }

  /**
   * Parses a whole streamed (or Buffer) body: the JSON text of `{event,
   * data}`. Answers `{event, data}`, or an Error to drop the message.
   */
  decodeJob(job) {
    let out;
    try {
      out = JSON.parse(job.toString("utf8"));
    } catch (err) {
      return err;
    }
    if (out === null || typeof out !== "object") return new Error("job is not an object");
    return { event: out.event, data: reviveBuffers(out.data) };
  }

  /** Prepares a JSON body `{event, data}` (Buffers revived in `data`). */
  decodeSingleton(data) {
    if (data !== null && typeof data === "object" && !Buffer.isBuffer(data)) {
      const inner = data.data;
      if (inner !== null && typeof inner === "object") data.data = reviveBuffers(inner);
    }
    return data;
  }

  /** Getter/setter. */
  id(id) {
    if (id !== undefined) this._id = id;
    return this._id;
  }

  /** Getter/setter. */
  kernel(kernel) {
    if (kernel) this._kernel = kernel;
    return this._kernel;
  }

  /** Getter/setter for partially received streams (stream id → `{data, timeout}`). */
  streams(streams) {
    if (streams) this._streams = streams;
    return this._streams;
  }

  /** Whether no stream is partially received. */
  idle() {
    return this._streams.size === 0;
  }

  /**
   * Answers a call. A message without a tag (a cast) cannot be answered:
   * logged and ignored (the original crashed the node here).
   */
  reply(from, data) {
    if (from === null || typeof from !== "object" || typeof from.tag !== "string") {
      if (!warnedNoTag) {
        warnedNoTag = true;
        process.emitWarning(
          "GenServer.reply ignored: the message carries no reply tag (it was a cast)",
          { code: "NOTP_REPLY_WITHOUT_TAG" }
        );
      }
      debug(`GenServer ${this._id}: reply to a message without a tag ignored`);
      return this;
    }
    this._kernel.reply(from, data);
    return this;
  }

  /**
   * Calls `event` on server `id` (a name on this node, or `{id, node}`).
   * `cb(err, reply)`; without `cb`, answers the reply stream.
   */
  call(id, event, data, cb, timeout = Infinity) {
    const to = this._parseRecipient(id);
    const body = { event, data };
    if (typeof cb !== "function") return this._kernel.call(to.node, to.id, body, null, timeout);
    return this._kernel.callSingleton(to.node, to.id, body, cb, timeout);
  }

  /** Calls server `id` on every node of `nodes`: `cb(err, replies)`. */
  multicall(nodes, id, event, data, cb, timeout = Infinity) {
    return this._kernel.multicallSingleton(nodes, id, { event, data }, cb, timeout);
  }

  /** Sends `event` to server `id` (a name here, or `{id, node}`) without waiting. */
  cast(id, event, data) {
    const to = this._parseRecipient(id);
    this._kernel.cast(to.node, to.id, { event, data });
    return this;
  }

  /** Casts to server `id` on every node of `nodes`. */
  abcast(nodes, id, event, data) {
    this._kernel.abcast(nodes, id, { event, data });
    return this;
  }

  /** Routes one message (or one chunk of a streamed one) from the kernel to the user's event. */
  _parse(data, stream, from) {
    if (this._paused === true) return this;
    const id = stream !== null && typeof stream === "object" ? stream.stream : undefined;
    if (id === undefined) {
      // A single message: a JSON body, or bytes the engine put together.
      if (stream && stream.error !== undefined) return this;
      if (Buffer.isBuffer(data)) {
        this._run(this.decodeJob(data), from);
        if (this.idle()) this.emit("idle");
      } else {
        this._run(this.decodeSingleton(data), from);
      }
      return this;
    }
    let partial = this._streams.get(id);
    if (partial === undefined) {
      partial = { data: [], timeout: this._expire(id, from) };
      this._streams.set(id, partial);
    }
    if (data !== null && data !== undefined) {
      partial.data.push(Buffer.isBuffer(data) ? data : Buffer.from(String(data)));
    }
    if (!stream.done) return this;
    clearTimeout(partial.timeout);
    this._streams.delete(id);
    if (stream.error === undefined) this._run(this.decodeJob(Buffer.concat(partial.data)), from);
    if (this.idle()) this.emit("idle");
    return this;
  }

  /** Emits a decoded job as the user's event (an Error or a junk job is dropped). */
  _run(job, from) {
    if (job === null || typeof job !== "object" || job instanceof Error) return;
    const event = job.event;
    // A peer naming "error" must not crash the node when nobody listens.
    if ((typeof event === "string" || typeof event === "symbol") &&
        (event !== "error" || this.listenerCount("error") > 0)) {
      this.emit(event, job.data, from);
    }
  }

  /** Drops stream `id` if it is not done within `streamTimeout`, answering a waiting caller. */
  _expire(id, from) {
    const timer = setTimeout(() => {
      if (!this._streams.has(id)) return;
      this._streams.delete(id);
      if (from !== null && typeof from === "object" && typeof from.tag === "string") {
        const failed = new PassThrough();
        this._kernel.reply(from, failed);
        failed.destroy(new Error("Timeout."));
      }
      if (this.idle()) this.emit("idle");
    }, this._streamTimeout);
    if (typeof timer.unref === "function") timer.unref();
    return timer;
  }

  _parseRecipient(id) {
    if (typeof id === "string") return { id, node: this._kernel.self() };
    if (id !== null && typeof id === "object") return { id: id.id, node: id.node };
    throw new TypeError("id must be a server name or {id, node}");
  }
}

module.exports = GenServer;
