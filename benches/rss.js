#!/usr/bin/env node
// Memory of an idle cluster node through require("notp"): resident set
// size (RSS) of a fresh child process (spawned from this file) that starts
// one cluster node on loopback and lets it gossip for a few intervals,
// next to a bare `node` and a `require("notp")` alone. One line per
// figure. The original notp 2.0.1 measured 58 MB for an idle started node
// and 15 MB for `require` (PROTOCOL §9). BENCH_POLLS sets the polls waited
// for (default 5); RSS_LIMIT_MB makes the script fail above that figure.
"use strict";

const { execFileSync } = require("node:child_process");
const path = require("node:path");

const ORIGINAL_MB = 58;
const POLLS = Number(process.env.BENCH_POLLS) || 5;

/** RSS in bytes, from /proc where there is one (what `ps` and `top` show). */
function rss() {
  try {
    const status = require("node:fs").readFileSync("/proc/self/status", "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (m) return Number(m[1]) * 1024;
  } catch {
    // Not Linux: Node's own figure.
  }
  return process.memoryUsage().rss;
}

function child(mode) {
  const lib = path.resolve(__dirname, "..");
  if (mode === "bare") {
    // Let startup settle the way the other modes do.
    setTimeout(() => process.stdout.write(String(rss())), 100);
    return;
  }
  const notp = require(lib);
  if (mode === "require") {
    setTimeout(() => process.stdout.write(String(rss())), 100);
    return;
  }
  const node = notp.createCluster("rss", "127.0.0.1", 0, { gossipOpts: { interval: 20 } });
  node.start("cookie", "ring", (err) => {
    if (err) throw err;
    const gossip = node.gossip();
    // Some changes and polls, as an idle node in a ring goes through.
    gossip.insert(new notp.Node("peer", "127.0.0.1", 1));
    gossip.remove(new notp.Node("peer", "127.0.0.1", 1));
    let polls = 0;
    const timer = setInterval(() => {
      gossip.poll();
      gossip.ring();
      if (++polls < POLLS) return;
      clearInterval(timer);
      const bytes = rss();
      node.once("stop", () => process.stdout.write(String(bytes)));
      node.stop();
    }, 20);
  });
}

function measure(mode) {
  const out = execFileSync(process.execPath, [__filename, "--child", mode], { encoding: "utf8", timeout: 30000 });
  return Number(out) / (1024 * 1024);
}

if (process.argv[2] === "--child") {
  child(process.argv[3]);
} else {
  const fmt = (mb) => `${mb.toFixed(1)} MB`;
  const bare = measure("bare");
  const required = measure("require");
  const idle = measure("node");
  const line = (label, text) => console.log(`rss: ${label.padEnd(36)} ${text}`);
  line("bare node", fmt(bare));
  line('require("notp")', `${fmt(required)} (+${fmt(required - bare)})`);
  line(`one idle cluster node (${POLLS} polls)`, `${fmt(idle)} (original: ${ORIGINAL_MB} MB)`);
  const limit = Number(process.env.RSS_LIMIT_MB);
  if (limit > 0 && idle > limit) {
    console.error(`rss: ${fmt(idle)} is above RSS_LIMIT_MB=${limit}`);
    process.exit(1);
  }
}
