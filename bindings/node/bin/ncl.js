#!/usr/bin/env node
"use strict";

// `ncl`, the command-line tool of notp, as the npm package's bin: runs the
// native binary shipped next to the addon (npm/<triple>/ncl) with the same
// arguments, standard streams and exit status.

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { platformTriple } = require("../lib/platform");

function fail(message) {
  process.stderr.write(`ncl: ${message}\n`);
  process.exit(70); // EX_SOFTWARE
}

let triple;
try {
  triple = platformTriple();
} catch (err) {
  fail(err.message);
}
const binary = path.join(__dirname, "..", "..", "..", "npm", triple, "ncl");
if (!fs.existsSync(binary)) {
  fail(`the native binary ${binary} is missing; build it with \`npm run build\` (needs cargo)`);
}

function run() {
  return spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
}

let result = run();
if (result.error && result.error.code === "EACCES") {
  // An unpacker that dropped the executable bit.
  try {
    fs.chmodSync(binary, 0o755);
    result = run();
  } catch {
    // Reported below.
  }
}
if (result.error) fail(`cannot run ${binary}: ${result.error.message}`);
if (result.signal) {
  // Die the way the binary did (Ctrl-C in a session, say).
  process.kill(process.pid, result.signal);
}
process.exit(result.status ?? 1);
