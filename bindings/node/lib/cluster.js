"use strict";

const { EventEmitter } = require("node:events");
const GenServer = require("./gen_server");

/**
 * The command server every cluster node runs for the CLI (`ncl`): the
 * GenServer named "command", answering only clients that are not members
 * (PROTOCOL §6). It runs in the engine; this object describes it.
 */
class CommandServer extends GenServer {
  constructor(gossip, kernel) {
    super(kernel, {});
    this._id = "command";
    this._gossip = gossip;
  }

  /** Getter/setter. */
  gossip(gossip) {
    if (gossip !== undefined) this._gossip = gossip;
    return this._gossip;
  }

  /** Started with its cluster node (see `ClusterNode.start`). */
  start() {
    return this;
  }

  /** Stopped with its cluster node. Emits `stop`. */
  stop() {
    this.emit("stop");
    return this;
  }

  /** Not supported by the engine's server: emits `pause` only. */
  pause() {
    this.emit("pause");
    return this;
  }

  resume() {
    this.emit("resume");
    return this;
  }
}

/**
 * A node of a cluster: its network kernel, its gossip ring and its command
 * server, started and stopped together. Build one with
 * `createCluster(id, host, port, {kernelOpts, gossipOpts})`.
 *
 * Events: `ready` once listening and in the ring, `stop` once stopped,
 * `error` when a start fails and no callback was given.
 */
class ClusterNode extends EventEmitter {
  constructor(kernel, gossip, comms) {
    super();
    this._kernel = kernel;
    this._gossip = gossip;
    this._comms = comms || new CommandServer(gossip, kernel);
    // The kernel listeners of a start in progress.
    this._starting = null;
  }

  /** Getter/setter: the NetKernel (start your own GenServers on it). */
  kernel(kernel) {
    if (kernel !== undefined) this._kernel = kernel;
    return this._kernel;
  }

  /** Getter/setter: the GossipRing. */
  gossip(gossip) {
    if (gossip !== undefined) this._gossip = gossip;
    return this._gossip;
  }

  /** Getter/setter: the command server. */
  commandServer(comms) {
    if (comms !== undefined) this._comms = comms;
    return this._comms;
  }

  /**
   * Loads the ring saved at the gossip ring's `flushPath` (its members are
   * connected to once the node runs): `cb()` when done (also when there is
   * nothing to load), `cb(err)` for a file that is not a saved ring. A
   * later `start` with another ring id fails.
   */
  load(cb) {
    const done = typeof cb === "function" ? cb : (err) => err && this.emit("error", err);
    this._gossip.load(done);
    return this;
  }

  /**
   * Starts the kernel (signing with `cookie`) and, once it listens, the
   * gossip ring in ring `ringID` (restored from `flushPath` when a saved
   * ring is there) and the command server. Emits `ready`; `cb()` then, or
   * `cb(err)` when the start fails (without `cb`, `error` is emitted).
   * `kernelOpts` are passed to `kernel.start` (`retry`, `maxRetries`, `tls`).
   */
  start(cookie, ringID, cb, kernelOpts) {
    if (cookie !== undefined && cookie !== null && typeof cookie !== "string") {
      throw new TypeError("cookie must be a string");
    }
    if (typeof ringID !== "string" || ringID.length === 0) {
      throw new TypeError("ringID must be a non-empty string");
    }
    if (cb !== undefined && cb !== null && typeof cb !== "function") {
      throw new TypeError("cb must be a function");
    }
    if (kernelOpts !== undefined && kernelOpts !== null && typeof kernelOpts !== "object") {
      throw new TypeError("kernelOpts must be an object");
    }
    if (this._starting !== null) throw new Error("the cluster node is already starting");
    const done = typeof cb === "function" ? cb : null;
    const fail = (err) => {
      if (done) done(err);
      else this.emit("error", err);
    };
    const kernel = this._kernel;
    const onReady = () => {
      this._endStart();
      try {
        // The engine's start sequence: restore, check the ring id, resume
        // or join, command server.
        this._gossip._attach(ringID, true);
      } catch (err) {
        kernel.stop();
        fail(err);
        return;
      }
      this.emit("ready");
      if (done) done();
    };
    const onError = (err) => {
      this._endStart();
      fail(err);
    };
    this._starting = { onReady, onError };
    kernel.once("_ready", onReady);
    kernel.once("error", onError);
    try {
      kernel.start({ ...(kernelOpts || {}), cookie: cookie || undefined });
    } catch (err) {
      this._endStart();
      throw err;
    }
    return this;
  }

  /**
   * Leaves the ring, saves the state that leaves behind (with a
   * `flushPath`: a restart starts over in a ring of its own; only a node
   * that went away without stopping resumes its ring), then stops the
   * kernel, closing every connection. Emits `stop` once done. Nothing
   * native keeps Node alive afterwards.
   */
  stop(force = false) {
    this._endStart();
    const gossip = this._gossip;
    gossip.once("stop", () => {
      this._kernel.stop();
      this._comms.stop();
      this.emit("stop");
    });
    gossip._stop(force, true);
    return this;
  }

  /** Forgets a start in progress (its listeners on the kernel). */
  _endStart() {
    const pending = this._starting;
    if (pending === null) return;
    this._starting = null;
    this._kernel.removeListener("_ready", pending.onReady);
    this._kernel.removeListener("error", pending.onError);
  }
}

ClusterNode.CommandServer = CommandServer;

module.exports = ClusterNode;
