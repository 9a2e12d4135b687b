"use strict";

// Shared by the kernel and GenServer suites: kernels on 127.0.0.1 with
// port 0 and cookie "cookie", and waits that fail after a timeout instead
// of sleeping.

const events = require("node:events");
const notp = require("../..");

const WAIT_MS = 5000;

/** Resolves with the event's arguments, or rejects after `ms`. */
function once(emitter, name, ms = WAIT_MS) {
  return events.once(emitter, name, { signal: AbortSignal.timeout(ms) });
}

/** Rejects when `promise` has not settled within `ms`. */
function within(promise, ms = WAIT_MS, what = "operation") {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** `fn(cb)` as a promise of the callback's result (rejects on an error). */
function callback(fn, ms = WAIT_MS, what = "callback") {
  return within(
    new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data)))),
    ms,
    what
  );
}

/** `fn(cb)` as a promise of the callback's error (rejects when it succeeds). */
function failure(fn, ms = WAIT_MS, what = "callback") {
  return within(
    new Promise((resolve, reject) =>
      fn((err, data) => (err ? resolve(err) : reject(new Error(`expected an error, got ${data}`))))
    ),
    ms,
    what
  );
}

/**
 * Resolves once `check()` holds, re-checked every few ms (for engine state
 * that changes without an event); rejects after `ms`.
 */
function until(check, what = "condition", ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const test = () => {
      if (check()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`${what} did not hold within ${ms} ms`));
      setTimeout(test, 5);
    };
    test();
  });
}

/** A started kernel `id`; `opts` go to `start`, `kernelOpts` to `createKernel`. */
async function startKernel(id, opts = {}, kernelOpts = {}) {
  const kernel = notp.createKernel(id, "127.0.0.1", 0, { retry: 100, ...kernelOpts });
  const ready = once(kernel, "_ready");
  kernel.start({ cookie: "cookie", ...opts });
  await ready;
  return kernel;
}

function connect(kernel, node) {
  return within(new Promise((resolve) => kernel.connect(node, resolve)), WAIT_MS, "connect");
}

/** Two started kernels connected both ways. */
async function pair(a = "node_a", b = "node_b") {
  const ka = await startKernel(a);
  const kb = await startKernel(b);
  await connect(ka, kb.self());
  await connect(kb, ka.self());
  return [ka, kb];
}

module.exports = { WAIT_MS, once, within, until, callback, failure, startKernel, connect, pair };
