#!/usr/bin/env node
// Builds the native addon (bindings/node) with cargo and copies it to
// npm/<triple>/notp.<triple>.node, where lib/native.js loads it from.
// NOTP_PROFILE=debug builds the debug profile (faster to compile).
"use strict";

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { platformTriple } = require("../lib/platform");

const root = path.resolve(__dirname, "..");

function fail(message) {
  process.stderr.write(`build-addon: ${message}\n`);
  process.exit(1);
}

let triple;
try {
  triple = platformTriple();
} catch (err) {
  fail(err.message);
}

const profile = process.env.NOTP_PROFILE || "release";
if (profile !== "release" && profile !== "debug") {
  fail(`NOTP_PROFILE must be "release" or "debug", not ${JSON.stringify(profile)}`);
}

const args = ["build", "-p", "notp-node"];
if (profile === "release") args.push("--release");
const built = spawnSync("cargo", args, { cwd: root, stdio: "inherit" });
if (built.error) fail(`could not run cargo: ${built.error.message}`);
if (built.status !== 0) fail(`cargo ${args.join(" ")} failed (exit ${built.status})`);

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, "target");
const source = path.join(targetDir, profile, "libnotp_node.so");
if (!fs.existsSync(source)) fail(`cargo finished but ${source} is missing`);

const destDir = path.join(root, "npm", triple);
const dest = path.join(destDir, `notp.${triple}.node`);
fs.mkdirSync(destDir, { recursive: true });
// Copy to a temporary name and rename, so a process loading the addon at
// the same moment never sees a half-written file.
const tmp = `${dest}.${process.pid}.tmp`;
fs.copyFileSync(source, tmp);
if (profile === "release") {
  // The workspace keeps line tables in release builds for profiling; the
  // shipped addon does not need them (symbol names stay for backtraces).
  // Without binutils the addon is shipped as built.
  const stripped = spawnSync("strip", ["--strip-debug", tmp], { stdio: "inherit" });
  if (stripped.error || stripped.status !== 0) {
    process.stderr.write("build-addon: strip unavailable or failed; keeping debug info\n");
  }
}
fs.renameSync(tmp, dest);
process.stdout.write(`build-addon: ${path.relative(root, dest)} (${profile})\n`);
