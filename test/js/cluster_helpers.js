"use strict";

// Shared by the cluster suites: cluster nodes on 127.0.0.1 with port 0,
// cookie "cookie", ring "ring" and a 50 ms gossip interval; waits that
// re-check a condition on every ring change and fail after a timeout.

const path = require("node:path");
const { spawn } = require("node:child_process");
const notp = require("../..");
const { within } = require("./kernel_helpers");

const WAIT_MS = 15000;

/** Options for a test node: fast reconnects and gossip, plus `extra`. */
function clusterOpts(extra = {}) {
  return {
    kernelOpts: { retry: 100, ...(extra.kernelOpts || {}) },
    gossipOpts: { interval: 50, ...(extra.gossipOpts || {}) },
  };
}

/** A started cluster node `id` in ring "ring". */
async function startCluster(id, extra = {}) {
  const node = notp.createCluster(id, "127.0.0.1", 0, clusterOpts(extra));
  await within(
    new Promise((resolve, reject) => node.start("cookie", "ring", (err) => (err ? reject(err) : resolve()))),
    WAIT_MS,
    `starting ${id}`
  );
  return node;
}

/** Stops every node and waits for their `stop`. */
function stopAll(nodes) {
  return within(
    Promise.all(
      nodes.map((n) => {
        const stopped = new Promise((resolve) => n.once("stop", resolve));
        n.stop();
        return stopped;
      })
    ),
    WAIT_MS,
    "stopping nodes"
  );
}

/**
 * Resolves once `check()` holds: checked now and after every `process`
 * event (a ring change) of the nodes' gossip rings; rejects after `ms`.
 */
function until(check, nodes, what, ms = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const gossips = nodes.map((n) => n.gossip());
    let timer;
    const cleanup = () => {
      clearTimeout(timer);
      for (const g of gossips) g.removeListener("process", test);
    };
    function test() {
      let ok;
      try {
        ok = check();
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (ok) {
        cleanup();
        resolve();
      }
    }
    timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: not within ${ms} ms`));
    }, ms);
    for (const g of gossips) g.on("process", test);
    test();
  });
}

/** Runs `script` in a child Node; resolves with its exit and output. */
function runChild(script, ms = WAIT_MS, args = []) {
  return within(
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["-e", script, ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        cwd: path.resolve(__dirname),
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (err += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), ms);
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, out, err });
      });
    }),
    ms + 2000,
    "child process"
  );
}

module.exports = { WAIT_MS, clusterOpts, startCluster, stopAll, until, runChild };
