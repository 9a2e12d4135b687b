"use strict";

// What the gossip door translates, both ways: gossip options into the
// engine's settings, rings and clocks to and from the JSON text the engine
// takes, Nodes and counts checked. Only checks and conversions: the rules
// live in the engine.

const native = require("./native");
const CHash = require("./chash");
const VectorClock = require("./vclock");
const Node = require("./node");
const consts = require("./consts");
const args = require("./args");

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

function isRing(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.toJSON === "function" &&
    typeof value.rfactor === "function" &&
    typeof value.numberNodes === "function"
  );
}

function isClock(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.toJSON === "function" &&
    typeof value.getInsert === "function"
  );
}

/** The JSON text of a CHash (what the engine takes). */
function ringText(ring, name = "chash") {
  if (!isRing(ring)) throw new TypeError(`${name} must be a CHash`);
  return JSON.stringify(ring.toJSON(true));
}

/** The JSON text of a VectorClock. */
function clockText(clock, name = "vclock") {
  if (!isClock(clock)) throw new TypeError(`${name} must be a VectorClock`);
  return JSON.stringify(clock.toJSON(true));
}

/** An optional count: undefined → `fallback`; Infinity and huge counts are capped. */
function count(value, name, fallback) {
  if (value === undefined) return fallback;
  const n = args.range(value, name);
  return n === -1 ? fallback : n;
}

module.exports = {
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
};
