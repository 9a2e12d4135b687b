"use strict";

// The reference defaults (notp 2.0.1), as a plain object: a program may
// read, extend or change it, as the original's could. Every class reads
// its defaults from here when an object is made (never a copy taken at
// load), so a default changed before creating an object is that object's
// default.

const os = require("node:os");

const networkHost = os.hostname();
const networkPort = 7022;

// Vector clock trimming; times in µs.
const vclockOpts = () => ({
  lowerBound: 10, // trim only clocks with more entries than this
  youngBound: 20000000, // ... whose oldest entry is older than this
  upperBound: 50, // then drop oldest entries while more than this remain
  oldBound: 86400000000, // ... or while the oldest is older than this
});

// Table persistence (DTable; vectors/storage/dtable.json).
const dtableOpts = () => ({
  writeThreshold: 100,
  autoSave: 180000,
  fsyncInterval: 1000,
});

module.exports = {
  networkHost,
  networkPort,
  kernelOpts: {
    networkHost,
    networkPort,
    retry: 5000, // ms between reconnection attempts
    tls: null,
    maxRetries: Infinity,
    silent: true,
  },
  connDefaults: {
    maxLen: 1024, // frames queued per peer while its connection is down
  },
  gossipOpts: {
    rfactor: 3,
    pfactor: 2,
    interval: 1000, // ms between gossip polls
    flushInterval: 1000, // ms between flushes of the ring to disk
    flushPath: null, // null: never flush
    vclockOpts: vclockOpts(),
    connOpts: { maxLen: 1024 }, // the gossip ring's connections
  },
  vclockOpts: vclockOpts(),
  chashOpts: {
    maxCacheSize: 5000,
  },
  dtableOpts: dtableOpts(),
  // Lock servers (vectors/storage/locks.json, in the original's key order).
  dlmOpts: {
    rquorum: 0.51,
    wquorum: 0.51,
    rfactor: 3,
    minWaitTimeout: 10,
    maxWaitTimeout: 100,
    disk: false,
    ...dtableOpts(),
  },
  dsemOpts: {
    minWaitTimeout: 10,
    maxWaitTimeout: 100,
    disk: false,
    ...dtableOpts(),
  },
};
