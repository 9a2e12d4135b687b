"use strict";

const { EventEmitter } = require("node:events");
const { PassThrough } = require("node:stream");
const native = require("./native");
const Node = require("./node");
const Connection = require("./connection");
const consts = require("./consts");
const args = require("./args");
const { isStream, encode, collect, chunkBuffer } = require("./payload");

// Answers of the native request functions.
const PENDING = 0;
const UNKNOWN_NODE = 1;
// kernelStreamCall: refused, the error arrives as the call's event.
const FAILED = 3;
// A streamed body's source pauses above STREAM_HIGH bytes waiting on its
// connection and resumes at STREAM_LOW, checked every STREAM_POLL_MS.
const STREAM_HIGH = 8 * 1024 * 1024;
const STREAM_LOW = 1024 * 1024;
const STREAM_POLL_MS = 2;

// Event kinds in a native batch (bindings/node/src/outbox.rs).
const MESSAGE_JSON = 0;
const MESSAGE_BYTES = 1;
const REPLY_JSON = 2;
const REPLY_BYTES = 3;
const REPLY_ERROR = 4;
const READY = 5;
const START_FAILED = 6;
const CONNECTED = 7;
const SKIP = 8;

// Life of a kernel.
const STOPPED = 0;
const STARTING = 1;
const RUNNING = 2;

// Every message is complete when it reaches JavaScript (the engine puts
// streamed bodies back together), so they all share one stream descriptor.
const DONE = Object.freeze({ done: true });

const STOPPED_MESSAGE = "the kernel is stopped";
const NOT_STARTED_MESSAGE = "the kernel is not started";

/** Names that are local targets (GenServer names), not kernel events. */
function isTarget(name) {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.charCodeAt(0) !== 95 /* _ */ &&
    name !== "newListener" &&
    name !== "removeListener" &&
    name !== "error"
  );
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A timeout in ms for the engine; -1 waits forever (the default). */
function timeoutMs(timeout) {
  return typeof timeout === "number" && timeout >= 0 && Number.isFinite(timeout) ? timeout : -1;
}

function eventName(event) {
  if (typeof event !== "string") throw new TypeError("event must be a string");
  return event;
}

function callError(message, props) {
  const err = new Error(message);
  if (props !== null && typeof props === "object") {
    for (const key of Object.keys(props)) {
      if (key !== "message" && key !== "stack") err[key] = props[key];
    }
  }
  return err;
}

function noop() {}

/**
 * The network kernel of a node: it listens on `host:port`, keeps one
 * outbound connection per peer, and routes calls, casts and replies. The
 * transport is the native engine; this class translates.
 *
 * Messages for a local target `id` are emitted as `kernel.emit(id, data,
 * stream, from)`: `data` is a Buffer when the payload is bytes (a Buffer
 * sent by the peer, or a streamed body, which the engine reassembles),
 * otherwise the JSON value; `stream` is always `{done: true}`; `from` is
 * `{tag, node}` (`tag` null for casts). Adding the first listener for a
 * name registers it as a target with the engine; removing the last one
 * releases it. Event names starting with `_` are the kernel's own
 * (`_ready`, `_stop`, `_skip`).
 *
 * `start()` binds asynchronously: `_ready` fires once the kernel listens,
 * and from then on `port()` is the bound port (port 0 picks a free one).
 * Requests made between `start()` and `_ready` are queued and sent then.
 */
class NetKernel extends EventEmitter {
  constructor(id, host, port, opts) {
    super();
    // The original's constructor took a node-ipc instance first.
    if (typeof id !== "string" && typeof host === "string") {
      [id, host, port, opts] = [host, port, opts, undefined];
    }
    this._id = id;
    this._host = host;
    this._port = port;
    this._self = new Node(id, host, port);
    const defaults = consts.kernelOpts;
    opts = isPlainObject(opts) ? opts : {};
    this._opts = {
      retry: opts.retry ?? defaults.retry,
      maxRetries: opts.maxRetries ?? defaults.maxRetries,
      maxLen: opts.maxLen ?? consts.connDefaults.maxLen,
      tls: opts.tls ?? null,
      streamTimeout: opts.streamTimeout,
    };
    this._cookie = null;
    this._owner = new native.NativeKernel();
    this._h = this._owner.handle;
    this._state = STOPPED;
    // Requests made while the kernel binds, run once it listens.
    this._deferred = [];
    // Callbacks of calls and pings awaiting their outcome, by id.
    this._calls = new Map();
    this._nextCall = 0;
    this._conns = new Map();
    this._srcs = new Map();
    this._dispatch = this._onEvents.bind(this);
    this._hookNew = this._onNewListener.bind(this);
    this._hookRemove = this._onRemoveListener.bind(this);
    this._installHooks();
  }

  /**
   * Starts listening. `opts`: `cookie` (signs and checks every message;
   * none: accept all), `retry` (ms between reconnection attempts),
   * `maxRetries`, `tls` (only null: TLS is not supported yet). Binding
   * completes asynchronously with `_ready`; a bind failure is emitted as
   * `error`.
   */
  start(opts) {
    opts = isPlainObject(opts) ? opts : {};
    if ((opts.tls !== undefined && opts.tls !== null) || this._opts.tls !== null) {
      throw new Error("TLS is not supported yet: start the kernel with tls: null");
    }
    const cookie = opts.cookie || null;
    if (cookie !== null && typeof cookie !== "string") throw new TypeError("cookie must be a string");
    if (typeof this._id !== "string") throw new TypeError("id must be a string");
    if (typeof this._host !== "string") throw new TypeError("host must be a string");
    if (!Number.isInteger(this._port) || this._port < 0 || this._port > 65535) {
      throw new TypeError("port must be an integer from 0 to 65535");
    }
    const retry = opts.retry || this._opts.retry;
    const maxRetries = opts.maxRetries || this._opts.maxRetries;
    if (typeof retry !== "number" || !(retry >= 0)) throw new TypeError("retry must be a non-negative number");
    if (typeof maxRetries !== "number" || !(maxRetries >= 0)) {
      throw new TypeError("maxRetries must be a non-negative number");
    }
    const streamTimeout = this._opts.streamTimeout;
    native.kernelStart(
      this._h,
      {
        id: this._id,
        host: this._host,
        port: this._port,
        cookie: cookie ?? undefined,
        retry,
        maxRetries,
        maxLen: this._opts.maxLen,
        streamTimeout: typeof streamTimeout === "number" ? streamTimeout : undefined,
      },
      this._dispatch
    );
    this._cookie = cookie;
    this._state = STARTING;
    return this;
  }

  /**
   * Stops listening, closes every connection and fails calls still
   * waiting ("the kernel is stopped"). Nothing native holds the event loop
   * afterwards. Emits `_stop`.
   */
  stop() {
    native.kernelStop(this._h);
    this._state = STOPPED;
    this._srcs = new Map();
    this._conns = new Map();
    this._failAll(STOPPED_MESSAGE);
    this.emit("_stop");
    return this;
  }

  /** Getter/setter (a new id applies at the next start). */
  id(id) {
    if (typeof id === "string") {
      this._id = id;
      this._self.id(id);
    }
    return this._id;
  }

  /** Getter/setter (a new host applies at the next start). */
  host(host) {
    if (typeof host === "string") {
      this._host = host;
      this._self.host(host);
    }
    return this._host;
  }

  /** Getter/setter; after `_ready`, the port actually bound. */
  port(port) {
    if (typeof port === "number") {
      this._port = port;
      this._self.port(port);
    }
    return this._port;
  }

  /** This node; a Node given sets id, host and port at once. */
  self(node) {
    if (node !== null && typeof node === "object") {
      this._self = node;
      this._id = node.id();
      this._port = node.port();
      this._host = node.host();
    }
    return this._self;
  }

  /** Getter/setter for the cookie (a new cookie applies at the next start). */
  cookie(cookie) {
    if (typeof cookie === "string") this._cookie = cookie;
    return this._cookie;
  }

  /**
   * Nodes this kernel received messages from since it started (id →
   * Node). The engine does not expose its accepted sockets, so this is
   * approximate: senders seen, not sockets open.
   */
  sources(sources) {
    if (sources instanceof Map) this._srcs = sources;
    return this._srcs;
  }

  /** The outbound connections (id → Connection), read from the engine. */
  sinks() {
    const out = new Map();
    if (this._state !== RUNNING) return out;
    for (const f of native.kernelSinks(this._h)) {
      let conn = this._conns.get(f.id);
      if (conn === undefined) {
        conn = new Connection(this, new Node(f.id, f.host, f.port));
        this._conns.set(f.id, conn);
      }
      out.set(f.id, conn);
    }
    if (this._conns.size !== out.size) {
      for (const id of this._conns.keys()) if (!out.has(id)) this._conns.delete(id);
    }
    return out;
  }

  /**
   * Opens the outbound connection to `node` (kept and reconnected until
   * `disconnect`). `cb()` runs once it is up, or at once when `node` is
   * this node or a connection exists already.
   */
  connect(node, cb) {
    const id = args.nodeId(node);
    const done = typeof cb === "function" ? cb : null;
    if (id === this._id) {
      if (done) return done();
      return this;
    }
    const host = args.nodeHost(node);
    const port = args.nodePort(node);
    if (this._state !== RUNNING) {
      // The original connects before the server listens; here the engine
      // exists only once bound, so the connection opens then.
      this._deferred.push(() => this.connect(node, cb));
      return this;
    }
    const answer = native.kernelConnect(this._h, id, host, port);
    if (answer === UNKNOWN_NODE) {
      if (done) return done();
      return this;
    }
    if (answer === PENDING) {
      let conn = this._conns.get(id);
      if (conn === undefined) {
        conn = new Connection(this, new Node(id, host, port));
        this._conns.set(id, conn);
      }
      if (done) conn.once("connect", done);
    }
    return this;
  }

  /** Closes the connection to `node`: after what is queued, or at once with `force`. */
  disconnect(node, force = false) {
    const id = args.nodeId(node);
    if (id === this._id) return this;
    if (this._state === RUNNING) native.kernelDisconnect(this._h, id, force === true);
    this._conns.delete(id);
    return this;
  }

  /** Whether a connection to `node` exists (always true for this node). */
  isConnected(node) {
    const id = args.nodeId(node);
    if (id === this._id) return true;
    return this._state === RUNNING && native.kernelIsConnected(this._h, id);
  }

  /** The Connection to `node`, or null (also for this node). */
  connection(node) {
    const id = args.nodeId(node);
    if (id === this._id || this._state !== RUNNING) return null;
    if (!native.kernelIsConnected(this._h, id)) return null;
    let conn = this._conns.get(id);
    if (conn === undefined) {
      conn = new Connection(this, node);
      this._conns.set(id, conn);
    }
    return conn;
  }

  /**
   * Pings `node` over the kernel: `cb(null, "pong")`, or `cb(err)` ("Unknown
   * node <id>", "Timeout."). A node with no connection back to this one
   * never answers (the original's behaviour), so give a timeout.
   */
  ping(node, cb, timeout = Infinity) {
    const id = args.nodeId(node);
    const done = typeof cb === "function" ? cb : noop;
    if (id === this._id) {
      process.nextTick(done, null, "pong");
      return this;
    }
    if (this._state !== RUNNING) {
      this._notRunning(() => this.ping(node, cb, timeout), done);
      return this;
    }
    const callId = this._track(done);
    const answer = native.kernelPing(this._h, id, timeoutMs(timeout), callId);
    if (answer !== PENDING) this._refused(callId, answer, id);
    return this;
  }

  /**
   * Calls `event` (a local target) on `node` and waits for the reply.
   * With `cb`: `cb(err, data)`. Without: answers a Readable (object mode)
   * that yields the reply and ends, or emits the error. `timeout` in ms
   * (default: wait forever) fails the call with "Timeout.". `data` may be
   * any JSON value, a Buffer, or a Readable (sent chunk by chunk as it
   * is read, with the original's stream frames).
   */
  call(node, event, data, cb, timeout = Infinity) {
    if (typeof cb === "function") {
      this._request(node, event, data, timeout, cb);
      return undefined;
    }
    const rstream = new PassThrough({ objectMode: true });
    this._request(node, event, data, timeout, (err, out) => {
      if (err) {
        rstream.destroy(err);
        return;
      }
      if (out !== null && out !== undefined) rstream.write(out);
      rstream.end();
    });
    return rstream;
  }

  /** `call` with a callback (the original's single-message variant). */
  callSingleton(node, event, data, cb, timeout = Infinity) {
    this._request(node, event, data, timeout, typeof cb === "function" ? cb : noop);
  }

  /**
   * Calls every node of `nodes`. With `cb`: `cb(null, replies)` in the
   * order of `nodes`, or `cb(err)` with the first error. Without: an
   * array of reply streams.
   */
  multicall(nodes, event, data, cb, timeout = Infinity) {
    if (!Array.isArray(nodes)) throw new TypeError("nodes must be an array of Nodes");
    if (typeof cb !== "function") {
      return nodes.map((node) => this.call(node, event, data, null, timeout));
    }
    if (isStream(data)) {
      collect(data, (err, buf) => (err ? cb(err) : this.multicall(nodes, event, buf, cb, timeout)));
      return undefined;
    }
    const body = encode(data);
    const results = new Array(nodes.length);
    let left = nodes.length;
    let failed = false;
    if (left === 0) {
      process.nextTick(cb, null, results);
      return undefined;
    }
    nodes.forEach((node, i) => {
      this._request(node, event, body, timeout, (err, out) => {
        if (failed) return;
        if (err) {
          failed = true;
          cb(err);
          return;
        }
        results[i] = out;
        if (--left === 0) cb(null, results);
      }, true);
    });
    return undefined;
  }

  /** `multicall` with a callback. */
  multicallSingleton(nodes, event, data, cb, timeout = Infinity) {
    return this.multicall(nodes, event, data, typeof cb === "function" ? cb : noop, timeout);
  }

  /**
   * Answers a call. `from` is what the request's listener received; one
   * without a tag (a cast) cannot be answered and throws, as in the
   * original. `data` as for `call`.
   */
  reply(from, data) {
    if (from === null || typeof from !== "object" || typeof from.tag !== "string") {
      throw new Error("Cannot reply to message with no callback tag.");
    }
    const id = args.nodeId(from.node, "from.node");
    if (isStream(data)) {
      const s = this._state === RUNNING ? native.kernelStreamReply(this._h, handleOf(from)) : -1;
      if (s >= 0) {
        this._pipeOut(s, data);
        return this;
      }
      // Not streamable (a CLI client, or no stored address): whole.
      collect(data, (err, buf) => {
        if (this._state !== RUNNING) return;
        if (err) {
          if (!native.kernelReplyError(this._h, handleOf(from), err.message || String(err))) {
            // No stored address to carry an error: the caller times out.
            debug(`reply stream to ${from.tag} failed: ${err.message}`);
          }
        } else {
          native.kernelReply(this._h, handleOf(from), id, from.tag, buf);
        }
      });
      return this;
    }
    const body = encode(data);
    if (this._state === RUNNING) native.kernelReply(this._h, handleOf(from), id, from.tag, body);
    return this;
  }

  /**
   * Sends `data` to target `event` on `node` without waiting. A node
   * without a connection is skipped silently (as in the original). A
   * Readable is sent chunk by chunk as it is read, so casts made meanwhile
   * may arrive before its end.
   */
  cast(node, event, data) {
    const id = args.nodeId(node);
    const target = eventName(event);
    if (isStream(data)) {
      if (this._state === RUNNING) {
        // No connection: skipped, as any cast.
        const s = native.kernelStreamCast(this._h, id, target);
        if (s >= 0) this._pipeOut(s, data);
        return this;
      }
      collect(data, (err, buf) => {
        if (!err) this.cast(node, target, buf);
      });
      return this;
    }
    this._castBody(id, target, encode(data));
    return this;
  }

  /** `cast` to every node of `nodes`. */
  abcast(nodes, event, data) {
    if (!Array.isArray(nodes)) throw new TypeError("nodes must be an array of Nodes");
    const target = eventName(event);
    if (isStream(data)) {
      collect(data, (err, buf) => {
        if (!err) this.abcast(nodes, target, buf);
      });
      return this;
    }
    const body = encode(data);
    for (const node of nodes) this._castBody(args.nodeId(node), target, body);
    return this;
  }

  /** Messages dropped so far, by reason (`INVALID_CHECKSUM`, …). */
  skipped() {
    return this._state === RUNNING ? native.kernelSkipped(this._h) : {};
  }

  removeAllListeners(...names) {
    super.removeAllListeners(...names);
    this._installHooks();
    return this;
  }

  // ---- internals ----------------------------------------------------------

  _installHooks() {
    if (!this.listeners("newListener").includes(this._hookNew)) this.on("newListener", this._hookNew);
    if (!this.listeners("removeListener").includes(this._hookRemove)) {
      this.on("removeListener", this._hookRemove);
    }
  }

  _onNewListener(name) {
    // Runs before the listener is added: throwing keeps it out.
    if (isTarget(name) && this._state === RUNNING && this.listenerCount(name) === 0) {
      native.kernelRegister(this._h, name);
    }
  }

  _onRemoveListener(name) {
    if (isTarget(name) && this._state === RUNNING && this.listenerCount(name) === 0) {
      native.kernelUnregister(this._h, name);
    }
  }

  /**
   * Sends what `stream` yields as chunks of engine stream `s`, then ends
   * it. The source is paused while the connection has more than
   * STREAM_HIGH bytes waiting, until it is down to STREAM_LOW.
   */
  _pipeOut(s, stream) {
    let ended = false;
    let waiting = null;
    const drained = () => {
      waiting = null;
      if (ended || this._state !== RUNNING) return;
      const queued = native.kernelStreamQueued(this._h, s);
      if (queued > STREAM_LOW) waiting = setTimeout(drained, STREAM_POLL_MS);
      else if (typeof stream.resume === "function") stream.resume();
    };
    const finish = (err) => {
      if (ended) return;
      ended = true;
      if (waiting !== null) clearTimeout(waiting);
      stream.removeListener("data", onData);
      if (this._state === RUNNING) native.kernelStreamEnd(this._h, s, err ? err.message || String(err) : null);
    };
    const onData = (chunk) => {
      let buf;
      try {
        buf = chunkBuffer(chunk);
      } catch (err) {
        finish(err);
        return;
      }
      if (this._state !== RUNNING) return;
      const queued = native.kernelStreamWrite(this._h, s, buf);
      if (queued > STREAM_HIGH && waiting === null && typeof stream.pause === "function") {
        stream.pause();
        waiting = setTimeout(drained, STREAM_POLL_MS);
      }
    };
    stream.on("data", onData);
    stream.once("end", () => finish(null));
    stream.once("error", (err) => {
      if (typeof stream.resume === "function") stream.resume();
      finish(err instanceof Error ? err : new Error(String(err)));
    });
    // Destroyed before its end: the receiver is told rather than left waiting.
    stream.once("close", () => finish(new Error("Stream aborted.")));
  }

  _castBody(id, target, body) {
    if (this._state === RUNNING) native.kernelCast(this._h, id, target, body);
    else if (this._state === STARTING) this._deferred.push(() => this._castBody(id, target, body));
  }

  _track(cb) {
    const id = this._nextCall;
    this._nextCall = (id + 1) >>> 0;
    this._calls.set(id, cb);
    return id;
  }

  _refused(callId, answer, nodeId) {
    const cb = this._calls.get(callId);
    this._calls.delete(callId);
    const message = answer === UNKNOWN_NODE ? `Unknown node ${nodeId}` : NOT_STARTED_MESSAGE;
    process.nextTick(cb, new Error(message));
  }

  /** Runs `retry` once the kernel listens, or fails `cb` when it is not starting. */
  _notRunning(retry, cb) {
    if (this._state === STARTING) this._deferred.push(retry);
    else process.nextTick(cb, new Error(NOT_STARTED_MESSAGE));
  }

  _request(node, event, data, timeout, cb, encoded = false) {
    const id = args.nodeId(node);
    const target = eventName(event);
    if (!encoded && isStream(data)) {
      if (this._state !== RUNNING) {
        collect(data, (err, buf) => (err ? cb(err) : this._request(node, target, buf, timeout, cb)));
        return;
      }
      // Sent chunk by chunk as it is read, as the original streams it.
      const callId = this._track(cb);
      const s = native.kernelStreamCall(this._h, id, target, timeoutMs(timeout), callId);
      if (s >= 0) this._pipeOut(s, data);
      else if (-s !== FAILED) this._refused(callId, -s, id);
      return;
    }
    const body = encoded ? data : encode(data);
    if (this._state !== RUNNING) {
      this._notRunning(() => this._request(node, target, body, timeout, cb, true), cb);
      return;
    }
    const callId = this._track(cb);
    const answer = native.kernelCall(this._h, id, target, body, timeoutMs(timeout), callId);
    if (answer !== PENDING) this._refused(callId, answer, id);
  }

  _failAll(message) {
    const calls = this._calls;
    const deferred = this._deferred;
    this._calls = new Map();
    this._deferred = [];
    if (calls.size > 0) {
      process.nextTick(() => {
        for (const cb of calls.values()) cb(new Error(message));
      });
    }
    // Deferred requests fail through their own "not started" path.
    for (const retry of deferred) retry();
  }

  _ready(port) {
    if (this._state !== STARTING) return;
    this._state = RUNNING;
    this._port = port;
    this._self.port(port);
    for (const name of this.eventNames()) {
      if (!isTarget(name)) continue;
      try {
        native.kernelRegister(this._h, name);
      } catch (err) {
        process.emitWarning(`notp: cannot route messages for '${name}': ${err.message}`);
      }
    }
    const deferred = this._deferred;
    this._deferred = [];
    for (const retry of deferred) retry();
    this.emit("_ready");
  }

  _startFailed(message) {
    native.kernelStop(this._h);
    this._state = STOPPED;
    this._failAll(message);
    this.emit("error", new Error(message));
  }

  _receive(target, data, tag, host, port, id, handle) {
    const node = new Node(id, host === null ? undefined : host, port === null ? undefined : port);
    if (!this._srcs.has(id)) this._srcs.set(id, node);
    this.emit(target, data, DONE, { tag, node, _reply: handle });
  }

  _settle(callId, err, data) {
    const cb = this._calls.get(callId);
    if (cb === undefined) return;
    this._calls.delete(callId);
    cb(err, data);
  }

  /** Receives a batch of engine events (see bindings/node/src/outbox.rs). */
  _onEvents(text, buffers) {
    if (this._state === STOPPED) return;
    const ev = JSON.parse(text);
    const n = ev.length;
    let i = 0;
    while (i < n) {
      const kind = ev[i];
      try {
        switch (kind) {
          case MESSAGE_JSON:
          case MESSAGE_BYTES: {
            const data = kind === MESSAGE_JSON ? ev[i + 7] : buffers[ev[i + 7]];
            const at = i;
            i += 8;
            this._receive(ev[at + 1], data, ev[at + 2], ev[at + 3], ev[at + 4], ev[at + 5], ev[at + 6]);
            break;
          }
          case REPLY_JSON:
          case REPLY_BYTES: {
            const data = kind === REPLY_JSON ? ev[i + 2] : buffers[ev[i + 2]];
            const callId = ev[i + 1];
            i += 3;
            this._settle(callId, null, data);
            break;
          }
          case REPLY_ERROR: {
            const callId = ev[i + 1];
            const err = callError(ev[i + 2], ev[i + 3]);
            i += 4;
            this._settle(callId, err);
            break;
          }
          case READY:
            i += 2;
            this._ready(ev[i - 1]);
            break;
          case START_FAILED:
            i += 2;
            this._startFailed(ev[i - 1]);
            break;
          case CONNECTED: {
            const conn = this._conns.get(ev[i + 1]);
            i += 2;
            if (conn !== undefined) conn.emit("connect");
            break;
          }
          case SKIP: {
            const err = new Error(ev[i + 2]);
            err.type = ev[i + 1];
            if (ev[i + 3] !== null) err.peer = ev[i + 3];
            i += 4;
            this.emit("_skip", err);
            break;
          }
          default:
            throw new Error(`notp: unknown kernel event ${kind}`);
        }
      } catch (err) {
        // A throwing listener is an uncaught exception, as for any event
        // callback; the rest of the batch is still delivered.
        process.nextTick(() => {
          throw err;
        });
        if (kind > SKIP || kind < 0 || typeof kind !== "number") return;
      }
      if (this._state === STOPPED) return;
    }
  }
}

/** The reply address handle the native side stored for `from`, or -1. */
function handleOf(from) {
  const h = from._reply;
  return typeof h === "number" && h >= 0 ? h : -1;
}

const debug = require("node:util").debuglog("notp");

module.exports = NetKernel;
