"use strict";

const native = require("./native");
const GenServer = require("./gen_server");
const CHash = require("./chash");
const VectorClock = require("./vclock");
const Node = require("./node");
const consts = require("./consts");
const args = require("./args");

const debug = require("node:util").debuglog("notp");

// Event kinds in a native batch, read from the addon
// (bindings/node/src/codes.rs). PENDING is a wake-up, the only kind
// `_onEvents` receives; STOP: the engine ring stopped, nothing follows.
const { gossipEvent } = require("./codes");
const { PROCESS, CONFLICT, LEAVE, SEND, CLOSE, STOP } = gossipEvent;

// Life of a gossip ring.
const IDLE = 0; // not attached to a kernel (before start, after stop)
const WAITING = 1; // start() called; attaches when its kernel is ready
const RUNNING = 2;
const STOPPING = 3; // left; waiting for `close`

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `consts.gossipOpts` with `opts` on top (vclockOpts merged key by key). */
function gossipOptions(opts) {
  const o = isPlainObject(opts) ? opts : {};
  const defaults = consts.gossipOpts;
  const vclockOpts = { ...defaults.vclockOpts, ...(isPlainObject(o.vclockOpts) ? o.vclockOpts : {}) };
  return { ...defaults, ...o, vclockOpts };
}

function number(value, name) {
  if (typeof value !== "number" || !(value >= 0)) {
    throw new TypeError(`${name} must be a non-negative number`);
  }
  return value;
}

/** The settings the native side takes, checked. */
function settingsOf(opts) {
  const v = opts.vclockOpts;
  const flushPath = opts.flushPath;
  if (flushPath !== null && flushPath !== undefined && typeof flushPath !== "string") {
    throw new TypeError("flushPath must be a string or null");
  }
  const optionalCount = (value, name) =>
    value === undefined ? undefined : args.factor(value, name);
  return {
    rfactor: args.factor(opts.rfactor, "rfactor"),
    pfactor: args.factor(opts.pfactor, "pfactor"),
    interval: number(opts.interval, "interval"),
    flushInterval: number(opts.flushInterval, "flushInterval"),
    flushPath: flushPath ? flushPath : undefined,
    lowerBound: number(v.lowerBound, "vclockOpts.lowerBound"),
    youngBound: number(v.youngBound, "vclockOpts.youngBound"),
    upperBound: number(v.upperBound, "vclockOpts.upperBound"),
    oldBound: number(v.oldBound, "vclockOpts.oldBound"),
    meetRetries: optionalCount(opts.meetRetries, "meetRetries"),
    tombstonePolls: optionalCount(opts.tombstonePolls, "tombstonePolls"),
    eventBacklog: optionalCount(opts.eventBacklog, "eventBacklog"),
  };
}

/** A CHash holding the ring in JSON `text` (the engine parses it). */
function ringFrom(text) {
  const ring = new CHash();
  native.ringFromJson(ring._h, text);
  ring._changed();
  return ring;
}

/** A VectorClock holding the clock in JSON `text`. */
function clockFrom(text) {
  const clock = new VectorClock();
  native.clockFromJson(clock._h, text);
  return clock;
}

function nodeFields(node, name = "node") {
  return { id: args.nodeId(node, name), host: args.nodeHost(node, name), port: args.nodePort(node, name) };
}

function nodeList(nodes) {
  if (!Array.isArray(nodes)) throw new TypeError("nodes must be an array of Nodes");
  return nodes.map((n, i) => nodeFields(n, `nodes[${i}]`));
}

/** An optional weight; the original also took `(node, force)`. */
function weightOf(weight) {
  if (weight === undefined || weight === null || typeof weight === "boolean") return undefined;
  return args.positive(weight, "weight");
}

function toNodes(list) {
  return list.map((f) => new Node(f.id, f.host, f.port));
}

/**
 * The gossip ring of a node: cluster membership as a consistent hash ring,
 * versioned by a vector clock and spread by gossip (PROTOCOL §5). The ring
 * runs in the engine, as the GenServer named after the ring id, on the
 * engine side of this ring's NetKernel; this class translates.
 *
 * Reads are snapshots of the live state: `ring()` answers a fresh CHash on
 * every call, so reading it again after gossip shows the change (mutating
 * the copy does not change the cluster; use `insert`, `remove`, …).
 *
 * Events, on the JavaScript thread: `process(oldRing, newRing)` when
 * membership changes, `conflict(ring, clock)` for a concurrent ring,
 * `leave(ring)` (the ring sent to the others, without this node), `send(clock,
 * "ring", ringJSON)` for every gossip message sent, `close` once out of the
 * ring, and `stop`. They wait in the engine until this thread takes them;
 * should it fall behind by more than `eventBacklog` (1024) events, nothing
 * blocks and no membership change is lost: changes not yet taken collapse
 * into one `process` from the ring last reported to the ring now, and
 * `send`, then `conflict`, then `leave`/`close` events are dropped, oldest
 * first.
 */
class GossipRing extends GenServer {
  constructor(kernel, opts) {
    if (kernel === null || typeof kernel !== "object" || typeof kernel.self !== "function") {
      throw new TypeError("kernel must be a NetKernel");
    }
    super(kernel, {});
    const o = gossipOptions(opts);
    this._opts = o;
    this._native = new native.NativeGossip(settingsOf(o));
    this._state = IDLE;
    // What the reads answer while the ring is not attached: a ring of this
    // node alone until a load or a stop says otherwise.
    this._saved = {
      ring: () => new CHash(o.rfactor, o.pfactor).insert(this._kernel.self()),
      vclock: () => new VectorClock(),
      actor: null,
      ringID: null,
    };
    this._dispatch = this._onEvents.bind(this);
    this._onKernelStop = this._kernelStopped.bind(this);
    this._onKernelReady = null;
    // The engine encodes `send` events only while someone listens.
    this._hookNew = (name) => {
      if (name === "send") this._native.setSendEvents(true);
    };
    this._hookRemove = (name) => {
      if (name === "send" && this.listenerCount("send") === 0) this._native.setSendEvents(false);
    };
    this._installHooks();
  }

  /**
   * Starts gossiping in ring `ringID`: at once when the kernel listens,
   * else as soon as it does. With a `flushPath`, the state saved there is
   * restored first; a saved ring with another id is an error (thrown, or
   * emitted as `error` when the start waited for the kernel).
   */
  start(ringID) {
    if (typeof ringID !== "string" || ringID.length === 0) {
      throw new TypeError("ringID must be a non-empty string");
    }
    if (this._state !== IDLE) throw new Error("the gossip ring is already started");
    if (native.kernelRunning(this._kernel._h)) {
      this._attach(ringID);
      return this;
    }
    this._state = WAITING;
    this._onKernelReady = () => {
      this._onKernelReady = null;
      if (this._state !== WAITING) return;
      this._state = IDLE;
      try {
        this._attach(ringID);
      } catch (err) {
        this.emit("error", err);
      }
    };
    this._kernel.once("_ready", this._onKernelReady);
    return this;
  }

  /**
   * Leaves the ring, saves the state that leaves behind (with a
   * `flushPath`) and stops gossiping; emits `stop` once out of the ring
   * (after `leave` and `close`). The engine never waits on partial
   * streams, so `force` changes nothing.
   */
  stop(force = false) {
    return this._stop(force, false);
  }

  /** Not supported by the engine's ring: emits `pause` and keeps gossiping. */
  pause() {
    this.emit("pause");
    return this;
  }

  /** Emits `resume` (see `pause`). */
  resume() {
    this.emit("resume");
    return this;
  }

  /** Whether no stream is partially received (always: the engine reassembles them). */
  idle() {
    return true;
  }

  /** A fresh CHash with the ring as it is now. */
  ring() {
    if (this._attached()) return ringFrom(this._native.ring());
    return this._saved.ring();
  }

  /** A fresh VectorClock with the ring's clock as it is now. */
  vclock() {
    if (this._attached()) return clockFrom(this._native.vclock());
    return this._saved.vclock();
  }

  /** The actor of the latest change, or null. */
  actor() {
    if (this._attached()) return this._native.actor() ?? null;
    return this._saved.actor;
  }

  /** The id of the ring this node belongs to, or null. */
  ringID() {
    if (this._attached()) return this._native.ringId() ?? null;
    return this._saved.ringID;
  }

  /** Joins ring `ringID`; answers an Error (not thrown) when already in a ring. */
  join(ringID) {
    if (typeof ringID !== "string" || ringID.length === 0) {
      throw new TypeError("ringID must be a non-empty string");
    }
    if (!this._attached()) {
      if (this._saved.ringID !== null) return new Error(`Node already belongs to ring '${this._saved.ringID}'`);
      return new Error("the gossip ring is not started");
    }
    try {
      this._native.join(ringID);
    } catch (err) {
      return new Error(err.message);
    }
    this._id = ringID;
    return this;
  }

  /**
   * Meets `node`: asks it to merge rings with this one. The met node
   * shows up in `ring()` once it answered (a few gossip intervals).
   */
  meet(node) {
    const n = nodeFields(node);
    this._running().meet(n.id, n.host, n.port);
    return this;
  }

  /** Inserts `node` (weight: the ring's rfactor by default) and spreads the news. */
  insert(node, weight, force) { // eslint-disable-line no-unused-vars
    const n = nodeFields(node);
    const w = weightOf(weight);
    this._running().insert(n.id, n.host, n.port, w);
    return this;
  }

  /** Inserts several nodes as one change. */
  minsert(nodes, weight, force) { // eslint-disable-line no-unused-vars
    const list = nodeList(nodes);
    const w = weightOf(weight);
    this._running().minsert(list, w);
    return this;
  }

  /** Changes `node`'s weight (the ring's rfactor by default), inserting it when absent. */
  update(node, weight, force) { // eslint-disable-line no-unused-vars
    const n = nodeFields(node);
    const w = weightOf(weight);
    this._running().update(n.id, n.host, n.port, w);
    return this;
  }

  /** Removes `node` and spreads the news. */
  remove(node, force) { // eslint-disable-line no-unused-vars
    const n = nodeFields(node);
    this._running().remove(n.id, n.host, n.port);
    return this;
  }

  /** Removes several nodes as one change. */
  mremove(nodes, force) { // eslint-disable-line no-unused-vars
    const list = nodeList(nodes);
    this._running().mremove(list);
    return this;
  }

  /**
   * Leaves the ring: tells two members, then goes on alone, in no ring
   * (`join` another). Emits `leave(ring)` and `close`.
   */
  leave(force) { // eslint-disable-line no-unused-vars
    if (this._attached()) this._native.leave();
    return this;
  }

  /** The nodes holding `key`: its owner and the owner's `size` successors (default: pfactor). */
  find(key, size) {
    const r = args.range(size, "size");
    if (typeof key === "string") return toNodes(this._running().find(key, r));
    return toNodes(this._running().findBytes(args.keyBytes(key), r));
  }

  /** `size` distinct nodes from `key`'s position on (default: the ring's pfactor + 1). */
  range(key, size) {
    const r = args.range(size, "size");
    if (typeof key === "string") return toNodes(this._running().range(key, r));
    return toNodes(this._running().rangeBytes(args.keyBytes(key), r));
  }

  /** Sends the ring to two members now (what every interval does). */
  poll() {
    if (this._attached()) this._native.poll();
    return this;
  }

  /**
   * Writes the state to `flushPath` now (nothing without one, or before
   * `start`); throws when the file cannot be written. Emits `flushing`.
   */
  flush() {
    this.emit("flushing");
    if (this._attached()) this._native.flush();
    return this;
  }

  /**
   * Restores the state saved at `flushPath`: `cb()` when done or when
   * there is nothing to load, `cb(err)` for a file that is not a saved
   * ring. Before `start`, the loaded ring is what the reads answer and
   * what `start` resumes.
   */
  load(cb) {
    const done = typeof cb === "function" ? cb : (err) => err && this.emit("error", err);
    let err;
    try {
      if (this._attached()) {
        this._native.load();
        const id = this._native.ringId();
        if (id) this._id = id;
      } else {
        const self = this._kernel.self();
        const saved = this._native.readSaved({ id: self.id(), host: self.host(), port: self.port() });
        if (saved) {
          this._saved = {
            ring: () => ringFrom(saved.chash),
            vclock: () => clockFrom(saved.vclock),
            actor: saved.actor ?? null,
            ringID: saved.ringId ?? null,
          };
        }
      }
    } catch (e) {
      err = e;
    }
    process.nextTick(done, err);
    return this;
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

  _attached() {
    return this._state === RUNNING || this._state === STOPPING;
  }

  _running() {
    if (!this._attached()) throw new Error("the gossip ring is not started");
    return this._native;
  }

  /** Builds the engine ring on the (listening) kernel; throws on failure. */
  _attach(ringID, command = false) {
    const self = this._kernel.self();
    this._native.start(
      { id: self.id(), host: self.host(), port: self.port() },
      ringID,
      command,
      this._dispatch
    );
    this._native.setSendEvents(this.listenerCount("send") > 0);
    this._state = RUNNING;
    this._id = this._native.ringId() ?? ringID;
    this._kernel.on("_stop", this._onKernelStop);
  }

  /** Leaves; `stopKernel` also stops the engine kernel at once (a cluster's stop). */
  _stop(force, stopKernel) {
    if (this._state === WAITING) {
      this._kernel.removeListener("_ready", this._onKernelReady);
      this._onKernelReady = null;
      this._state = IDLE;
    }
    if (this._state !== RUNNING) {
      if (this._state === IDLE) process.nextTick(() => this.emit("stop"));
      return this;
    }
    this._state = STOPPING;
    // `leave` and `close` follow when the node was in a ring, then the
    // engine's end of events: `stop`.
    this._native.stop(stopKernel === true);
    return this;
  }

  /** Keeps the last state for the reads, then lets the engine ring go. */
  _detach() {
    if (!this._attached()) return;
    try {
      const ring = this._native.ring();
      const vclock = this._native.vclock();
      this._saved = {
        ring: () => ringFrom(ring),
        vclock: () => clockFrom(vclock),
        actor: this._native.actor() ?? null,
        ringID: this._native.ringId() ?? null,
      };
    } catch (err) {
      // Already let go by the engine (stopped): keep the previous state.
      debug(`gossip detach: ${err.message}`);
    }
    this._native.detach();
    this._state = IDLE;
    this._kernel.removeListener("_stop", this._onKernelStop);
  }

  /** The kernel stopped under a running ring: nothing can gossip any more. */
  _kernelStopped() {
    if (!this._attached()) return;
    const stopping = this._state === STOPPING;
    this._detach();
    if (stopping) this.emit("stop");
  }

  /** A wake-up from the engine (see bindings/node/src/cluster.rs): take what waits. */
  _onEvents() {
    // Every wake-up is PENDING: one take answers any number of them.
    if (!this._attached()) return;
    const batch = this._native.takeEvents();
    if (batch !== null && batch !== undefined) this._deliver(batch);
  }

  /** Emits a batch of events taken from the engine. */
  _deliver(text) {
    const ev = JSON.parse(text);
    const n = ev.length;
    let i = 0;
    while (i < n) {
      const kind = ev[i];
      try {
        switch (kind) {
          case PROCESS: {
            const [oldText, newText] = [ev[i + 1], ev[i + 2]];
            i += 3;
            if (this.listenerCount("process") > 0) this.emit("process", ringFrom(oldText), ringFrom(newText));
            break;
          }
          case CONFLICT: {
            const [ringText, clockText] = [ev[i + 1], ev[i + 2]];
            i += 3;
            if (this.listenerCount("conflict") > 0) this.emit("conflict", ringFrom(ringText), clockFrom(clockText));
            break;
          }
          case LEAVE: {
            const ringText = ev[i + 1];
            i += 2;
            if (this.listenerCount("leave") > 0) this.emit("leave", ringFrom(ringText));
            break;
          }
          case SEND: {
            const [clockText, ringText] = [ev[i + 1], ev[i + 2]];
            i += 3;
            if (this.listenerCount("send") > 0) this.emit("send", clockFrom(clockText), "ring", JSON.parse(ringText));
            break;
          }
          case CLOSE:
            i += 1;
            this.emit("close");
            break;
          case STOP: {
            i += 1;
            // The engine ring stopped: by `stop`, or because its kernel did.
            const stopping = this._state === STOPPING;
            this._detach();
            if (stopping) this.emit("stop");
            return;
          }
          default:
            throw new Error(`notp: unknown gossip event ${kind}`);
        }
      } catch (err) {
        // A throwing listener is an uncaught exception, as for any event
        // callback; the rest of the batch is still delivered.
        process.nextTick(() => {
          throw err;
        });
        if (typeof kind !== "number" || kind < PROCESS || kind > STOP) return;
      }
      if (!this._attached()) return;
    }
  }
}

GossipRing.options = gossipOptions;

module.exports = GossipRing;
