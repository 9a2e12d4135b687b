"use strict";

const native = require("./native");
const GenServer = require("./gen_server");
const CHash = require("./chash");
const VectorClock = require("./vclock");
const args = require("./args");
const {
  gossipOptions,
  settingsOf,
  ringFrom,
  clockFrom,
  nodeFields,
  nodeList,
  weightOf,
  toNodes,
  isRing,
  ringText,
  clockText,
  count,
} = require("./gossip_values");

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

// What `start` makes of the state held while not attached (`_offline`).
const INITIAL = 0; // the constructor's (or the last run's): a state saved at flushPath wins
const SET = 1; // loaded or set since: used as it is

// Emitted (with no arguments) once the ring is attached to its kernel:
// command servers waiting for their ring start then (see ./cluster.js).
const ATTACHED = Symbol("notp.gossip.attached");

/**
 * The gossip ring of a node: cluster membership as a consistent hash ring,
 * versioned by a vector clock and spread by gossip (PROTOCOL §5). The ring
 * runs in the engine, as the GenServer named after the ring id, on the
 * engine side of this ring's NetKernel; this class translates.
 *
 * `new GossipRing(kernel, chash, vclock, opts)` as in the original (`chash`
 * and `vclock` are the initial state, `opts` the gossip options, missing
 * ones from `consts.gossipOpts`; the ring's rfactor and pfactor are the
 * ring's), or `new GossipRing(kernel, opts)` for a ring of this node alone.
 *
 * Reads are snapshots of the live state: `ring()` answers a fresh CHash on
 * every call, so reading it again after gossip shows the change (mutating
 * the copy does not change the cluster: give it back with `ring(chash)`, or
 * use `insert`, `remove`, …). The setters `ring(chash)`, `vclock(clock)`,
 * `actor(id)` and `ringID(id)` replace that part of the state at once, as
 * the original's do: no new version, nothing sent, no event; the next
 * gossip round sends the ring as it then is. On a running ring the engine
 * takes the replacement in one step, connects to the members a new ring
 * adds and disconnects from those it drops; a new ring id moves the ring's
 * server to that name (`null`: out of any ring, without telling anyone).
 * Before `start`, they set the state the start begins with.
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
  constructor(kernel, chash, vclock, opts) {
    if (kernel === null || typeof kernel !== "object" || typeof kernel.self !== "function") {
      throw new TypeError("kernel must be a NetKernel");
    }
    const given = isRing(chash);
    if (!given && chash !== undefined && chash !== null && vclock !== undefined) {
      throw new TypeError("chash must be a CHash");
    }
    const initialRing = given ? ringText(chash) : null;
    const initialClock = given && vclock !== undefined && vclock !== null ? clockText(vclock) : null;
    super(kernel, {});
    // (kernel, null, null, opts) names its options too.
    const unset = chash === undefined || chash === null;
    const o = gossipOptions(given || (unset && opts !== undefined) ? opts : chash);
    if (given) {
      o.rfactor = chash.rfactor();
      o.pfactor = chash.pfactor();
    }
    this._opts = o;
    this._native = new native.NativeGossip(settingsOf(o));
    this._state = IDLE;
    // The ring id a waiting start joins.
    this._pendingID = null;
    this._paused = false;
    // The state while not attached, rings and clocks as JSON text (a null
    // ring: this node alone; a null clock: empty), and what a start makes
    // of it (INITIAL / SET).
    this._offline = { chash: initialRing, vclock: initialClock, actor: null, ringID: null };
    this._seed = INITIAL;
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
   * else as soon as it does; `ringID()` answers `ringID` from now on. The
   * state it begins with: the one loaded or set since construction (a
   * saved ring with another id is an error), else the state saved at
   * `flushPath` when there is one, else the constructor's. Errors are
   * thrown, or emitted as `error` when the start waited for the kernel.
   */
  start(ringID) {
    if (typeof ringID !== "string" || ringID.length === 0) {
      throw new TypeError("ringID must be a non-empty string");
    }
    if (this._state !== IDLE) throw new Error("the gossip ring is already started");
    this._id = ringID;
    if (native.kernelRunning(this._kernel._h)) {
      this._attach(ringID);
      return this;
    }
    this._state = WAITING;
    this._pendingID = ringID;
    this._onKernelReady = () => {
      this._onKernelReady = null;
      if (this._state !== WAITING) return;
      this._state = IDLE;
      try {
        this._attach(this._pendingID);
      } catch (err) {
        this.emit("error", err);
      }
    };
    this._kernel.once("_ready", this._onKernelReady);
    return this;
  }

  /**
   * Saves the ring (with a `flushPath`: the ring and ring id it has now, so
   * a restart resumes them), leaves it and stops gossiping; emits `stop`
   * once out of the ring (after `leave` and `close`). The engine never
   * waits on partial streams, so `force` changes nothing.
   */
  stop(force = false) {
    return this._stop(force, false);
  }

  /**
   * Stops gossiping until `resume()`: no gossip round, no flush, and ring
   * messages that arrive are dropped, as the original's paused server
   * missed them. Changes asked for meanwhile are still made and sent.
   * Emits `pause`.
   */
  pause() {
    this._paused = true;
    if (this._attached()) this._native.pause();
    this.emit("pause");
    return this;
  }

  /** Gossips again after `pause()`. Emits `resume`. */
  resume() {
    this._paused = false;
    if (this._attached()) this._native.resume();
    this.emit("resume");
    return this;
  }

  /** Whether no message to the ring is partly received (a stream in flight). */
  idle() {
    return super.idle() && (!this._attached() || this._native.isIdle());
  }

  /** Getter: a fresh CHash with the ring as it is now. Setter: see the class. */
  ring(chash) {
    if (chash) {
      this._set({ chash: ringText(chash) });
      return chash;
    }
    if (this._attached()) return ringFrom(this._native.ring());
    return this._offlineRing();
  }

  /** Getter: a fresh VectorClock with the ring's clock. Setter: see the class. */
  vclock(clock) {
    if (clock) {
      this._set({ vclock: clockText(clock) });
      return clock;
    }
    if (this._attached()) return clockFrom(this._native.vclock());
    return this._offline.vclock === null ? new VectorClock() : clockFrom(this._offline.vclock);
  }

  /** Getter: the actor of the latest change, or null. Setter: see the class. */
  actor(actor) {
    if (actor) {
      if (typeof actor !== "string") throw new TypeError("actor must be a string");
      this._set({ actor });
      return actor;
    }
    if (this._attached()) return this._native.actor() ?? null;
    return this._offline.actor;
  }

  /**
   * Getter: the id of the ring this node belongs to, or null (the ring a
   * start joins, as soon as `start` returns). Setter (`null` included):
   * see the class; while a start waits for its kernel, the ring it joins.
   */
  ringID(id) {
    if (id !== undefined) {
      if (id !== null && (typeof id !== "string" || id.length === 0)) {
        throw new TypeError("ringID must be a non-empty string or null");
      }
      if (this._state === WAITING) {
        if (id === null) throw new TypeError("a starting ring needs a ring id");
        this._pendingID = id;
        this._id = id;
      } else {
        this._set({ setRingId: true, ringId: id ?? undefined });
      }
      return id;
    }
    if (this._attached()) return this._native.ringId() ?? null;
    if (this._state === WAITING) return this._pendingID;
    return this._offline.ringID;
  }

  /** Joins ring `ringID`; answers an Error (not thrown) when already in a ring. */
  join(ringID) {
    if (typeof ringID !== "string" || ringID.length === 0) {
      throw new TypeError("ringID must be a non-empty string");
    }
    if (!this._attached()) {
      const current = this.ringID();
      if (current !== null) return new Error(`Node already belongs to ring '${current}'`);
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

  /**
   * The `size` nodes holding `key` (at most every node; default: pfactor +
   * 1, as `range`): its owner, then the owner's successors.
   */
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

  /**
   * Sends the ring now, as an update with `n` rounds left (default 1): to
   * two random members, `round = n - 1`. Nothing for `n = 0`, alone, or in
   * no ring.
   */
  sendRing(n = 1) {
    const rounds = count(n, "n", 1);
    if (this._attached()) this._native.sendRing(Math.min(rounds, 0xffffffff));
    return this;
  }

  /** `n` (default 1) random members of the ring other than this node. */
  selectRandom(n = 1) {
    const me = this._kernel.self().id();
    return this.selectRandomFrom(this.ring().nodes().filter((node) => node.id() !== me), n);
  }

  /** `n` (default 1) distinct random items of `nodes`, at most all of them. */
  selectRandomFrom(nodes, n = 1) {
    if (!Array.isArray(nodes)) throw new TypeError("nodes must be an array");
    const k = Math.min(count(n, "n", 1), nodes.length);
    return native.gossipSample(nodes.length, k).map((i) => nodes[i]);
  }

  /**
   * Parses a whole ring message (the JSON text of `{event, data}`): its
   * `data` becomes `{type, data: CHash, vclock: VectorClock, round,
   * actor}`, read as the engine's ring server reads it. An Error (answered,
   * not thrown) for a body it would drop.
   */
  decodeJob(buf) {
    const out = super.decodeJob(buf);
    if (out instanceof Error) return out;
    return this.decodeSingleton(out);
  }

  /** `decodeJob` for a body already parsed (`{event, data}`). */
  decodeSingleton(out) {
    if (out === null || typeof out !== "object") return new Error("job is not an object");
    let msg;
    try {
      msg = native.gossipDecode(JSON.stringify(out.data === undefined ? null : out.data));
    } catch (err) {
      return new Error(err.message);
    }
    out.data = {
      type: msg.kind,
      data: ringFrom(msg.chash),
      vclock: clockFrom(msg.vclock),
      round: msg.round,
      actor: msg.actor,
    };
    return out;
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
          this._offline = {
            chash: saved.chash,
            vclock: saved.vclock,
            actor: saved.actor ?? null,
            ringID: saved.ringId ?? null,
          };
          this._seed = SET;
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

  /**
   * Builds the engine ring on the (listening) kernel, from the state held
   * while not attached; throws on failure. Tells waiting command servers.
   */
  _attach(ringID) {
    const self = this._kernel.self();
    this._native.start(
      { id: self.id(), host: self.host(), port: self.port() },
      ringID,
      this._seedState(),
      this._dispatch
    );
    this._native.setSendEvents(this.listenerCount("send") > 0);
    this._state = RUNNING;
    this._pendingID = null;
    this._id = this._native.ringId() ?? ringID;
    if (this._paused) this._native.pause();
    this._kernel.on("_stop", this._onKernelStop);
    this.emit(ATTACHED);
  }

  /**
   * A cluster node's start, which attaches the ring itself once its kernel
   * listens: until then `ringID()` answers `ringID`, as after `start`.
   */
  _expectStart(ringID) {
    if (this._state !== IDLE) return;
    this._state = WAITING;
    this._pendingID = ringID;
    this._id = ringID;
  }

  /** The ring id a waiting start joins (`fallback` when none waits). */
  _startingID(fallback) {
    return this._state === WAITING ? this._pendingID : fallback;
  }

  /** Forgets a start still waiting for its kernel. */
  _abandonStart() {
    if (this._state !== WAITING) return;
    if (this._onKernelReady !== null) this._kernel.removeListener("_ready", this._onKernelReady);
    this._onKernelReady = null;
    this._pendingID = null;
    this._state = IDLE;
  }

  /** The state `start` begins with, for the engine (undefined: its own). */
  _seedState() {
    const o = this._offline;
    if (this._seed === INITIAL && o.chash === null && o.vclock === null && o.ringID === null) return undefined;
    return {
      chash: o.chash ?? ringText(this._offlineRing()),
      vclock: o.vclock ?? "{}",
      actor: o.actor ?? undefined,
      ringId: o.ringID ?? undefined,
      savedFirst: this._seed === INITIAL,
    };
  }

  /** The ring held while not attached: this node alone unless set. */
  _offlineRing() {
    if (this._offline.chash !== null) return ringFrom(this._offline.chash);
    return new CHash(this._opts.rfactor, this._opts.pfactor).insert(this._kernel.self());
  }

  /** A setter: the engine replaces the part, or the start will begin with it. */
  _set(parts) {
    if (this._attached()) {
      this._native.replace({ setRingId: false, ...parts });
      return;
    }
    const o = this._offline;
    if (parts.chash !== undefined) o.chash = parts.chash;
    if (parts.vclock !== undefined) o.vclock = parts.vclock;
    if (parts.actor !== undefined) o.actor = parts.actor;
    if (parts.setRingId) o.ringID = parts.ringId ?? null;
    this._seed = SET;
  }

  /** Leaves; `stopKernel` also stops the engine kernel at once (a cluster's stop). */
  _stop(force, stopKernel) {
    this._abandonStart();
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

  /** Keeps the last state for the reads (and a later start), then lets the engine ring go. */
  _detach() {
    if (!this._attached()) return;
    try {
      this._offline = {
        chash: this._native.ring(),
        vclock: this._native.vclock(),
        actor: this._native.actor() ?? null,
        ringID: this._native.ringId() ?? null,
      };
      this._seed = INITIAL;
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

/**
 * Last-write-wins between two rings (the original's conflict rule, the one
 * the engine follows): `state2` when `clock2` holds a later insert time
 * than any of `clock1`'s, else `state1` (ties keep the first).
 */
GossipRing.LWW = function LWW(state1, clock1, state2, clock2) {
  return native.gossipRemoteWins(clockText(clock1, "clock1"), clockText(clock2, "clock2")) ? state2 : state1;
};

/** The rounds a change of `ring` travels: 0 empty, 1 for one node, else ceil(log2(nodes)). */
GossipRing.maxMsgRound = function maxMsgRound(ring) {
  if (!isRing(ring)) throw new TypeError("ring must be a CHash");
  return native.gossipRounds(ring.numberNodes());
};

GossipRing.options = gossipOptions;
GossipRing.ATTACHED = ATTACHED;

module.exports = GossipRing;
