"use strict";

// NetKernel: the public class over the native kernel. The pieces it is
// built from live beside it: local.js (messages between this kernel's own
// targets, never leaving JavaScript), kernel_options.js (what start
// accepts and passes on), kernel_events.js (reading the engine's event
// batches), out_stream.js (sending a Readable), connection.js (outbound
// connections), codes.js (numbers shared with the addon).

const { EventEmitter } = require("node:events");
const native = require("./native");
const Node = require("./node");
const Connection = require("./connection");
const args = require("./args");
const { answer } = require("./codes");
const { constructorOptions, startOptions } = require("./kernel_options");
const { dispatchBatch } = require("./kernel_events");
const { pipeOut } = require("./out_stream");
const { LocalRoutes } = require("./local");
const { isStream, encode, collect } = require("./payload");

// Answers of the native request functions (FAILED: kernelStreamCall was
// refused, the error arrives as the call's event).
const { PENDING, UNKNOWN_NODE, FAILED } = answer;

// Life of a kernel.
const STOPPED = 0;
const STARTING = 1;
const RUNNING = 2;

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

/** A timeout in ms for the engine; -1 waits forever (the default). */
function timeoutMs(timeout) {
  return typeof timeout === "number" && timeout >= 0 && Number.isFinite(timeout) ? timeout : -1;
}

function eventName(event) {
  if (typeof event !== "string") throw new TypeError("event must be a string");
  return event;
}

function noop() {}

function isObject(value) {
  return value !== null && typeof value === "object";
}

/**
 * The network kernel of a node: it listens on `host:port`, keeps one
 * outbound connection per peer, and routes calls, casts and replies. The
 * transport is the native engine; this class translates.
 *
 * Messages for a target `id` are emitted as `kernel.emit(id, data, stream,
 * from)`; `from` is `{tag, node}` (`tag` null for casts). From another
 * node, `data` is a Buffer when the payload is bytes (a Buffer sent by the
 * peer, or a streamed body, which the engine reassembles), otherwise the
 * JSON value, and `stream` is `{done: true}`. From this node to one of its
 * own listeners (see local.js), the listener runs at once with the data
 * object itself, and a Readable arrives chunk by chunk (`{stream, done:
 * false}` per chunk, then `{stream, done: true}`). Adding the first
 * listener for a name registers it as a target with the engine; removing
 * the last one releases it. Event names starting with `_` are the
 * kernel's own (`_ready`, `_stop`, `_skip`).
 *
 * `start()` binds the port before it returns (and `stop()` frees it
 * before it returns); `_ready` follows, as the original's did, and from
 * then on `port()` is the bound port (port 0 picks a free one). Requests
 * to other nodes made between `start()` and `_ready` are queued and sent
 * then.
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
    this._opts = constructorOptions(opts);
    this._cookie = this._opts.cookie || null;
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
    this._local = new LocalRoutes(this);
    this._dispatch = this._onEvents.bind(this);
    this._hookNew = this._onNewListener.bind(this);
    this._hookRemove = this._onRemoveListener.bind(this);
    this._installHooks();
  }

  /**
   * Starts listening. `opts` (over those given to the constructor):
   * `cookie` (signs and checks every message; none: accept all), `retry`
   * (ms between reconnection attempts), `maxRetries`, `maxLen`, the
   * engine's limits (`maxQueueBytes`, `maxFrame`, `maxStreamBytes`,
   * `maxInbound`, `maxPending`, `mailbox`, `streamTimeout`; see index.d.ts)
   * and `tls` (only null: TLS is not supported yet). The port is bound
   * before this returns; `_ready` follows. A bind failure, or options the
   * engine refuses, is emitted as `error` (also after this returns).
   */
  start(opts) {
    if ((isObject(opts) && opts.tls !== undefined && opts.tls !== null) || this._opts.tls !== null) {
      throw new Error("TLS is not supported yet: start the kernel with tls: null");
    }
    if (typeof this._id !== "string") throw new TypeError("id must be a string");
    if (typeof this._host !== "string") throw new TypeError("host must be a string");
    if (!Number.isInteger(this._port) || this._port < 0 || this._port > 65535) {
      throw new TypeError("port must be an integer from 0 to 65535");
    }
    // The cookie set last (by the constructor, the setter or a start)
    // applies unless this start gives one.
    const options = startOptions({ ...this._opts, cookie: this._cookie }, opts);
    native.kernelStart(
      this._h,
      { ...options, id: this._id, host: this._host, port: this._port, cookie: options.cookie ?? undefined },
      this._dispatch
    );
    this._cookie = options.cookie;
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
    this._local.failAll(STOPPED_MESSAGE);
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

  /**
   * There is no node-ipc: the transport is the native engine. Answers an
   * object saying so, with the settings the original's `ipc().config`
   * held; a value given (the original's setter) is ignored.
   */
  ipc(ipc) { // eslint-disable-line no-unused-vars
    return {
      native: true,
      description: "notp runs on a native engine; there is no node-ipc instance",
      config: { id: this._id, retry: this._opts.retry, maxRetries: this._opts.maxRetries, tls: this._opts.tls },
    };
  }

  /**
   * The outbound connections (id → Connection), read from the engine.
   * Given a Map (id → Connection or Node), makes the engine's connections
   * those: opens the missing ones, closes (after what they hold) the
   * others.
   */
  sinks(sinks) {
    if (sinks instanceof Map) Connection.reconcile(this, sinks);
    return Connection.ofKernel(this);
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
    return LocalRoutes.replyStream((done) => this._request(node, event, data, timeout, done));
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
    // Encoded once for every other node; this node's listeners get `data`.
    const target = eventName(event);
    let body;
    const results = new Array(nodes.length);
    let left = nodes.length;
    let failed = false;
    if (left === 0) {
      process.nextTick(cb, null, results);
      return undefined;
    }
    nodes.forEach((node, i) => {
      const done = (err, out) => {
        if (failed) return;
        if (err) {
          failed = true;
          cb(err);
          return;
        }
        results[i] = out;
        if (--left === 0) cb(null, results);
      };
      if (this._isLocal(node, target)) this._request(node, target, data, timeout, done);
      else this._request(node, target, body === undefined ? (body = encode(data)) : body, timeout, done, true);
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
    if (id === this._id && handleOf(from) < 0) {
      // A local call's; one that is over (timed out) is dropped, as the
      // original's reply to a tag nobody listened on any more.
      if (this._local.waits(from.tag)) this._local.settle(from.tag, data);
      return this;
    }
    if (isStream(data)) {
      const s = this._state === RUNNING ? native.kernelStreamReply(this._h, handleOf(from)) : -1;
      if (s >= 0) {
        pipeOut(this, s, data);
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
    if (id === this._id && this._local.serves(target) && isTarget(target)) {
      this._local.cast(target, data);
      return this;
    }
    if (isStream(data)) {
      if (this._state === RUNNING) {
        // No connection: skipped, as any cast.
        const s = native.kernelStreamCast(this._h, id, target);
        if (s >= 0) pipeOut(this, s, data, this._conns.get(id));
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
    let body;
    for (const node of nodes) {
      const id = args.nodeId(node);
      if (id === this._id && this._local.serves(target) && isTarget(target)) this._local.cast(target, data);
      else this._castBody(id, target, body === undefined ? (body = encode(data)) : body);
    }
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

  /** Whether `target` is one of this kernel's JavaScript listeners. */
  _listens(target) {
    return this.listenerCount(target) > 0 && isTarget(target);
  }

  /** Whether a request for `target` on `node` stays in JavaScript. */
  _isLocal(node, target) {
    return args.nodeId(node) === this._id && this._listens(target);
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
    if (!encoded && id === this._id && this._listens(target)) {
      this._local.call(target, data, timeout, cb);
      return;
    }
    if (!encoded && isStream(data)) {
      if (this._state !== RUNNING) {
        collect(data, (err, buf) => (err ? cb(err) : this._request(node, target, buf, timeout, cb)));
        return;
      }
      // Sent chunk by chunk as it is read, as the original streams it.
      const callId = this._track(cb);
      const s = native.kernelStreamCall(this._h, id, target, timeoutMs(timeout), callId);
      if (s >= 0) pipeOut(this, s, data, this._conns.get(id));
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
    this.emit(target, data, { done: true }, { tag, node, _reply: handle });
  }

  _settle(callId, err, data) {
    const cb = this._calls.get(callId);
    if (cb === undefined) return;
    this._calls.delete(callId);
    cb(err, data);
  }

  _connected(id) {
    const conn = this._conns.get(id);
    if (conn !== undefined) conn.emit("connect");
  }

  _skipped(err) {
    this.emit("_skip", err);
  }

  _isRunning() {
    return this._state === RUNNING;
  }

  _isStopped() {
    return this._state === STOPPED;
  }

  /** Receives a batch of engine events (see kernel_events.js). */
  _onEvents(text, buffers) {
    if (this._state !== STOPPED) dispatchBatch(this, text, buffers);
  }
}

/** The reply address handle the native side stored for `from`, or -1. */
function handleOf(from) {
  const h = from._reply;
  return typeof h === "number" && h >= 0 ? h : -1;
}

const debug = require("node:util").debuglog("notp");

module.exports = NetKernel;
