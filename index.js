"use strict";

// require("notp"): a drop-in for notp 2.0.1, on a native engine.

const Node = require("./lib/node");
const CHash = require("./lib/chash");
const VectorClock = require("./lib/vclock");
const consts = require("./lib/consts");
const microtime = require("./lib/microtime");

/** A standalone consistent hash ring. */
function createCHash(rfactor = 3, pfactor = 2) {
  return new CHash(rfactor, pfactor);
}

/** A standalone vector clock, holding `id` at `count` when both are given. */
function createVClock(id, count) {
  return new VectorClock(id, count);
}

module.exports = {
  // Values: ring, clock, node identity.
  CHash,
  Node,
  VectorClock,
  createCHash,
  createVClock,

  // Network, GenServers, gossip, cluster (ClusterNode, GenServer, GossipRing,
  // NetKernel, createCluster, createKernel, createGossip, createGenServer)
  // and storage/locks (DTable, MTable, DLMServer, DSMServer, Lock, Semaphore,
  // createDTable, createMTable, createDLM, createDSM) are added here as they
  // land.

  consts,
  // Native µs clock (replaces node-microtime): microtime(), microtime.now().
  microtime,
};
