"use strict";

// A kernel's options: what createKernel and kernel.start accept, and what
// reaches the engine (bindings/node/src/kernel/options.rs). The original's
// options keep its names and defaults (`retry`, `maxRetries`: consts.
// kernelOpts; `maxLen`: consts.connDefaults); the engine's other limits are
// named after its fields in camelCase and default to the engine's values
// when absent, so the only copy of those defaults is the engine's. Values
// are only checked for their type here: whether a number makes sense is
// the engine's to say, the same way for every door.

const consts = require("./consts");

/**
 * The engine's limits with no counterpart in the original: absent means
 * the engine's default.
 */
const LIMITS = Object.freeze([
  "maxQueueBytes",
  "maxFrame",
  "maxStreamBytes",
  "maxInbound",
  "maxPending",
  "mailbox",
  "streamTimeout",
]);

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The options of createKernel / new NetKernel, the original's defaults filled in. */
function constructorOptions(opts) {
  opts = isPlainObject(opts) ? opts : {};
  const defaults = consts.kernelOpts;
  const out = {
    cookie: opts.cookie,
    retry: opts.retry ?? defaults.retry,
    maxRetries: opts.maxRetries ?? defaults.maxRetries,
    maxLen: opts.maxLen ?? consts.connDefaults.maxLen,
    tls: opts.tls ?? defaults.tls ?? null,
  };
  for (const name of LIMITS) out[name] = opts[name];
  return out;
}

/** A number option, or undefined when absent (null counts as absent). */
function number(value, name) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number") throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

/**
 * What the engine starts with: `opts` (given to `start`) over `base` (the
 * constructor's). `retry` and `maxRetries` fall back to the constructor's
 * when falsy, as the original's did; every other option when absent.
 */
function startOptions(base, opts) {
  opts = isPlainObject(opts) ? opts : {};
  const cookie = opts.cookie || base.cookie || null;
  if (cookie !== null && typeof cookie !== "string") throw new TypeError("cookie must be a string");
  const retry = opts.retry || base.retry;
  const maxRetries = opts.maxRetries || base.maxRetries;
  if (typeof retry !== "number" || !(retry >= 0)) throw new TypeError("retry must be a non-negative number");
  if (typeof maxRetries !== "number" || !(maxRetries >= 0)) {
    throw new TypeError("maxRetries must be a non-negative number");
  }
  const out = {
    cookie,
    retry,
    maxRetries,
    maxLen: number(opts.maxLen ?? base.maxLen, "maxLen"),
  };
  for (const name of LIMITS) out[name] = number(opts[name] ?? base[name], name);
  return out;
}

module.exports = { constructorOptions, startOptions, LIMITS };
