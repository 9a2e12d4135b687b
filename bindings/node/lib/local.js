"use strict";

// Messages between targets of the same kernel, delivered in JavaScript as
// the original delivered them: the listener runs synchronously inside the
// `cast`/`call` that sent the message, with the data object itself (not a
// copy), `from` = `{tag, node: kernel.self()}` and a fresh `stream`
// descriptor per message; a Readable goes out chunk by chunk as it is read
// (`{stream: <id>, done: false}` per chunk, then `done: true` with data
// null, or an `error`). Nothing crosses into the engine, so nothing is
// serialised.
//
// One deliberate choice: a call's callback never runs inside the `call`
// (or `reply`) that produced its answer; it runs on the next tick, as a
// remote call's always does. A program written for the original cannot
// tell the difference except by relying on the callback running before
// `call` returns, which the original did not promise either (its docs make
// local and remote calls one interface), and deferring it keeps a
// server's reply from re-entering the caller mid-handler.

const crypto = require("node:crypto");
const { PassThrough } = require("node:stream");
const { collect, isStream, readChunks } = require("./payload");

// The original's tags: 24 random bytes in hex and a counter in hex. Local
// tags never leave the process; the prefix is renewed when the counter
// runs out of exact integers.
const COUNTER_LIMIT = 2 ** 48;

function randomHex() {
  return crypto.randomBytes(24).toString("hex");
}

/** The wire form of an error, as a failed stream carries it. */
function errorObject(err) {
  const out = { message: err && err.message !== undefined ? String(err.message) : String(err), _error: true };
  if (err !== null && typeof err === "object") {
    for (const key of Object.keys(err)) if (!(key in out)) out[key] = err[key];
  }
  return out;
}

class LocalCall {
  constructor(cb) {
    this.cb = cb;
    this.timer = null;
  }
}

/**
 * The local half of a kernel: which targets are JavaScript listeners, and
 * the calls made to them that wait for a reply (by tag).
 */
class LocalRoutes {
  constructor(kernel) {
    this._kernel = kernel;
    this._calls = new Map();
    this._prefix = randomHex();
    this._counter = 0;
  }

  /** Whether `target` is answered here: a call waiting on that tag, or a listener. */
  serves(target) {
    return this._calls.has(target) || this._kernel.listenerCount(target) > 0;
  }

  /** Whether a local call waits on `tag`. */
  waits(tag) {
    return this._calls.has(tag);
  }

  _tag() {
    if (this._counter >= COUNTER_LIMIT) {
      this._prefix = randomHex();
      this._counter = 0;
    }
    return this._prefix + (this._counter++).toString(16);
  }

  _from(tag) {
    return { tag, node: this._kernel._self };
  }

  /** Delivers a cast: to the call waiting on `target` if any, else to its listeners. */
  cast(target, data) {
    if (this._calls.has(target)) {
      // The original's reply is a cast to the request's tag.
      this.settle(target, data);
      return;
    }
    if (isStream(data)) {
      this._stream(target, null, data);
      return;
    }
    this._kernel.emit(target, data, { done: true }, this._from(null));
  }

  /**
   * Calls `target`: its listener runs now; `cb(err, reply)` runs on a later
   * tick. `timeout` in ms (Infinity: wait forever) fails it with "Timeout.".
   */
  call(target, data, timeout, cb) {
    const tag = this._tag();
    const call = new LocalCall(cb);
    this._calls.set(tag, call);
    if (isStream(data)) this._stream(target, tag, data);
    else this._kernel.emit(target, data, { done: true }, this._from(tag));
    // A listener that replied at once needs no timer.
    if (this._calls.get(tag) === call && typeof timeout === "number" && timeout >= 0 && Number.isFinite(timeout)) {
      call.timer = setTimeout(() => this._finish(tag, new Error("Timeout.")), timeout);
    }
  }

  /** Answers the call waiting on `tag` with `data` (a Readable is read to its end first). */
  settle(tag, data) {
    if (isStream(data)) {
      collect(data, (err, buf) => (err ? this._finish(tag, err) : this._finish(tag, null, buf)));
      return;
    }
    this._finish(tag, null, data);
  }

  _finish(tag, err, data) {
    const call = this._calls.get(tag);
    if (call === undefined) return;
    this._calls.delete(tag);
    if (call.timer !== null) clearTimeout(call.timer);
    if (err) process.nextTick(call.cb, err);
    else process.nextTick(call.cb, null, data);
  }

  /** Fails every call still waiting (the kernel stopped). */
  failAll(message) {
    const calls = this._calls;
    this._calls = new Map();
    for (const call of calls.values()) {
      if (call.timer !== null) clearTimeout(call.timer);
      process.nextTick(call.cb, new Error(message));
    }
  }

  /** Emits what `source` yields as chunks of one stream to `target`'s listeners. */
  _stream(target, tag, source) {
    const id = randomHex();
    const kernel = this._kernel;
    readChunks(
      source,
      (buf) => kernel.emit(target, buf, { stream: id, done: false }, this._from(tag)),
      (err) => {
        const stream = { stream: id, done: true };
        if (err) stream.error = errorObject(err);
        kernel.emit(target, null, stream, this._from(tag));
      }
    );
  }

  /** A Readable (object mode) that yields the reply of a call and ends, or errors. */
  static replyStream(start) {
    const rstream = new PassThrough({ objectMode: true });
    start((err, out) => {
      if (err) {
        rstream.destroy(err);
        return;
      }
      if (out !== null && out !== undefined) rstream.write(out);
      rstream.end();
    });
    return rstream;
  }
}

module.exports = { LocalRoutes };
