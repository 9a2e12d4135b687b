"use strict";

const { EventEmitter } = require("node:events");
const native = require("./native");
const GenServer = require("./gen_server");
const GossipRing = require("./gossip_ring");
const Node = require("./node");

const { ATTACHED } = GossipRing;

/** The commands the engine's command server runs (PROTOCOL §6). */
const COMMANDS = Object.freeze(native.commandNames());

/**
 * The command server every cluster node runs for the CLI (`ncl`): the
 * GenServer named "command", answering only clients that are not members
 * (PROTOCOL §6). It runs in the engine, on its gossip ring; this object
 * starts, names and stops it.
 *
 * Its command methods (`join`, `meet`, `leave`, `insert`, `minsert`,
 * `update`, `remove`, `mremove`, `inspect`, `nodes`, `has`, `get`,
 * `weight`, `weights`, `ping`), called as `server.nodes(data, from)`, run
 * the command through the engine's dispatcher, exactly as a CLI request,
 * and answer what the CLI would get: `{ok: true}`, `{ok: true, data}` or
 * `{ok: false, error: {message, _error: true}}`; when `from` carries a
 * reply tag the answer is also sent there. `data` is the command's
 * arguments, as `decodeJob` leaves them.
 */
class CommandServer extends GenServer {
  constructor(gossip, kernel) {
    super(kernel, {});
    this._id = "command";
    this._gossip = gossip;
    // The name the engine serves the commands under now, if any.
    this._serving = null;
    // start() was called: serve whenever the gossip ring runs.
    this._wanted = false;
    this._onAttached = () => this._serve();
  }

  /** Getter/setter: the gossip ring the commands act on. */
  gossip(gossip) {
    if (gossip !== undefined && gossip !== this._gossip) {
      this._unserve();
      this._gossip.removeListener(ATTACHED, this._onAttached);
      this._gossip = gossip;
      if (this._wanted) this._whenRunning();
    }
    return this._gossip;
  }

  /**
   * Serves the commands under `name` (default: its id, "command"): at
   * once when its gossip ring runs, else as soon as it does (a cluster
   * node's `start` calls `start("command")`). Throws when the name is
   * taken on the kernel.
   */
  start(name) {
    if (name) this._id = name;
    this._wanted = true;
    this._paused = false;
    if (this._serving !== null && this._serving !== this._id) this._unserve();
    this._whenRunning();
    return this;
  }

  /** Stops serving the commands. Emits `stop`. */
  stop(force = false) { // eslint-disable-line no-unused-vars
    this._wanted = false;
    this._gossip.removeListener(ATTACHED, this._onAttached);
    this._unserve();
    this.emit("stop");
    return this;
  }

  /** Stops answering the CLI until `resume()`. Emits `pause`. */
  pause() {
    this._paused = true;
    this._unserve();
    this.emit("pause");
    return this;
  }

  /** Answers the CLI again. Emits `resume`. */
  resume() {
    this._paused = false;
    if (this._wanted) this._whenRunning();
    this.emit("resume");
    return this;
  }

  /**
   * Parses a whole command body (the JSON text of `{event, data}`) as the
   * original did: an unknown command or missing arguments give an Error
   * (answered, not thrown), with the engine's reason; otherwise `{event,
   * data}` with `data.node` / `data.nodes` as Nodes.
   */
  decodeJob(buf) {
    const out = super.decodeJob(buf);
    if (out instanceof Error) return out;
    return this._checked(out);
  }

  /** `decodeJob` for a body already parsed (`{event, data}`). */
  decodeSingleton(data) {
    return this._checked(super.decodeSingleton(data));
  }

  _checked(out) {
    if (out === null || typeof out !== "object") return new Error("job is not an object");
    let reason;
    try {
      reason = native.commandCheck(String(out.event), JSON.stringify(out.data ?? null));
    } catch (err) {
      return new Error(err.message);
    }
    if (reason !== null) return new Error(reason);
    const data = out.data;
    if (data !== null && typeof data === "object" && !Array.isArray(data)) {
      if (data.node !== undefined) data.node = Node.from(data.node);
      if (Array.isArray(data.nodes)) data.nodes = data.nodes.map((n) => Node.from(n));
    }
    return out;
  }

  /** Runs `command` with `data` in the engine; the CLI's answer. */
  _run(command, data, from) {
    let answer;
    if (!this._gossip._attached()) {
      answer = { ok: false, error: { message: "the gossip ring is not started", _error: true } };
    } else {
      const args = data === undefined ? null : data;
      answer = JSON.parse(this._gossip._native.runCommand(command, JSON.stringify(args)));
    }
    if (from !== null && typeof from === "object" && typeof from.tag === "string") this.reply(from, answer);
    return answer;
  }

  _whenRunning() {
    this._gossip.removeListener(ATTACHED, this._onAttached);
    if (this._gossip._attached()) this._serve();
    else this._gossip.once(ATTACHED, this._onAttached);
  }

  /** Serves the commands under the current id (throws when it is taken). */
  _serve() {
    if (!this._wanted || this._paused || this._serving === this._id) return;
    this._gossip._native.serveCommands(this._id);
    this._serving = this._id;
  }

  _unserve() {
    if (this._serving === null) return;
    const name = this._serving;
    this._serving = null;
    this._gossip._native.stopCommands(name);
  }
}

for (const command of COMMANDS) {
  Object.defineProperty(CommandServer.prototype, command, {
    value: function (data, from) {
      return this._run(command, data, from);
    },
    writable: true,
    configurable: true,
  });
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
    // Served once the gossip ring runs (in `onReady`).
    this._comms.start("command");
    const done = typeof cb === "function" ? cb : null;
    const fail = (err) => {
      if (done) done(err);
      else this.emit("error", err);
    };
    const kernel = this._kernel;
    const gossip = this._gossip;
    const onReady = () => {
      this._endStart();
      try {
        // The engine's start sequence: restore, check the ring id, resume
        // or join; then the command server, told by the ring.
        gossip._attach(gossip._startingID(ringID));
      } catch (err) {
        gossip._abandonStart();
        kernel.stop();
        fail(err);
        return;
      }
      this.emit("ready");
      if (done) done();
    };
    const onError = (err) => {
      this._endStart();
      gossip._abandonStart();
      fail(err);
    };
    this._starting = { onReady, onError };
    kernel.once("_ready", onReady);
    kernel.once("error", onError);
    // `ringID()` answers from now on, as after the original's start.
    gossip._expectStart(ringID);
    try {
      kernel.start({ ...(kernelOpts || {}), cookie: cookie || undefined });
    } catch (err) {
      this._endStart();
      gossip._abandonStart();
      throw err;
    }
    return this;
  }

  /**
   * Stops the command server, then saves the ring (with a `flushPath`:
   * the ring and ring id it has now, so a restart resumes them), leaves it
   * and stops the kernel, closing every connection. Emits `stop` once
   * done. Nothing native keeps Node alive afterwards.
   */
  stop(force = false) {
    this._endStart();
    this._comms.stop(force);
    const gossip = this._gossip;
    gossip.once("stop", () => {
      this._kernel.stop();
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
ClusterNode.COMMANDS = COMMANDS;

module.exports = ClusterNode;
