"use strict";

// require("notp"): a drop-in for notp 2.0.1, on a native engine.

const os = require("node:os");
const Node = require("./lib/node");
const CHash = require("./lib/chash");
const VectorClock = require("./lib/vclock");
const consts = require("./lib/consts");
const microtime = require("./lib/microtime");
const NetKernel = require("./lib/kernel");
const GenServer = require("./lib/gen_server");
const GossipRing = require("./lib/gossip_ring");
const ClusterNode = require("./lib/cluster");

/** A standalone consistent hash ring. */
function createCHash(rfactor = 3, pfactor = 2) {
  return new CHash(rfactor, pfactor);
}

/** A standalone vector clock, holding `id` at `count` when both are given. */
function createVClock(id, count) {
  return new VectorClock(id, count);
}

/**
 * A network kernel for node `id`, listening on `host:port` once started.
 * Port 0 picks a free port (read `kernel.port()` after `_ready`); an
 * absent host or port falls back to `opts.networkHost` / `opts.networkPort`.
 * `opts`: `cookie`, `retry`, `maxRetries`, `maxLen` (frames queued per
 * peer while it is unreachable), the engine's limits `maxQueueBytes`,
 * `maxFrame`, `maxStreamBytes`, `maxInbound`, `maxPending`, `mailbox`,
 * `streamTimeout` (absent: the engine's defaults), `tls` (null only); see
 * `KernelStartOpts` in index.d.ts. `kernel.start(opts)` takes the same
 * options and wins over these.
 */
function createKernel(id, host = os.hostname(), port = 7022, opts = {}) {
  opts = opts !== null && typeof opts === "object" && !Array.isArray(opts) ? opts : {};
  const h = host || opts.networkHost || consts.networkHost;
  const p = port === undefined || port === null ? opts.networkPort ?? consts.networkPort : port;
  return new NetKernel(id, h, p, opts);
}

/** A GenServer on the kernel of `cluster` (anything with a `kernel()` method). */
function createGenServer(cluster, opts) {
  if (cluster === null || typeof cluster !== "object" || typeof cluster.kernel !== "function") {
    throw new TypeError("cluster must have a kernel() method");
  }
  const o = opts !== null && typeof opts === "object" && !Array.isArray(opts) ? { ...opts } : {};
  return new GenServer(cluster.kernel(), o);
}

/**
 * A gossip ring on `kernel`: cluster membership spread by gossip. `opts`
 * (defaults: `consts.gossipOpts`): `rfactor`, `pfactor`, `interval` (ms
 * between gossip rounds), `flushInterval` and `flushPath` (where the ring
 * is saved; null: nowhere), `vclockOpts` (clock trimming). Start it with
 * `gossip.start(ringID)`.
 */
function createGossip(kernel, opts) {
  return new GossipRing(kernel, opts);
}

/**
 * A cluster node `id` listening on `host:port` (port 0 picks a free one):
 * a kernel, a gossip ring and a command server. `opts`: `kernelOpts` (as
 * for `createKernel`) and `gossipOpts` (as for `createGossip`). Start it
 * with `node.start(cookie, ringID, cb)`.
 */
function createCluster(id, host = os.hostname(), port = 7022, opts = {}) {
  opts = opts !== null && typeof opts === "object" && !Array.isArray(opts) ? opts : {};
  const kernel = createKernel(id, host, port, opts.kernelOpts);
  const gossip = createGossip(kernel, opts.gossipOpts);
  const comms = new ClusterNode.CommandServer(gossip, kernel);
  return new ClusterNode(kernel, gossip, comms);
}

module.exports = {
  // Values: ring, clock, node identity.
  CHash,
  Node,
  VectorClock,
  createCHash,
  createVClock,

  // Network: the kernel and GenServers on it.
  NetKernel,
  GenServer,
  createKernel,
  createGenServer,

  // Gossip and cluster: a node's kernel, gossip ring and command server.
  ClusterNode,
  GossipRing,
  createCluster,
  createGossip,

  // Storage/locks (DTable, MTable, DLMServer, DSMServer, Lock, Semaphore,
  // createDTable, createMTable, createDLM, createDSM) are added here as they
  // land.

  consts,
  // Native µs clock (replaces node-microtime): microtime(), microtime.now().
  microtime,
};
