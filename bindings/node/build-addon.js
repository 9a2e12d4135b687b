#!/usr/bin/env node
// Builds the native addon (bindings/node) with cargo and copies it to
// npm/<triple>/notp.<triple>.node, where lib/native.js loads it from; then
// the `ncl` command-line tool (the package's bin, run by bin/ncl.js) to
// npm/<triple>/ncl. ncl is built as `cargo build -p notp` builds it (the
// engine with its default `cli` feature, as the C tests build it), so the
// two builds share their artifacts.
// NOTP_PROFILE=debug builds the debug profile (faster to compile).
"use strict";

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { platformTriple } = require("./lib/platform");

const root = path.resolve(__dirname, "..", "..");

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

function cargo(args) {
  if (profile === "release") args.push("--release");
  const built = spawnSync("cargo", args, { cwd: root, stdio: "inherit" });
  if (built.error) fail(`could not run cargo: ${built.error.message}`);
  if (built.status !== 0) fail(`cargo ${args.join(" ")} failed (exit ${built.status})`);
}

/**
 * Copies a build product to `dest` under a temporary name and renames it,
 * so a process loading or running it at the same moment never sees a
 * half-written file.
 */
function install(source, dest, mode) {
  if (!fs.existsSync(source)) fail(`cargo finished but ${source} is missing`);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(source, tmp);
  if (profile === "release") {
    // The workspace keeps line tables in release builds for profiling; the
    // shipped files do not need them (symbol names stay for backtraces).
    // Without binutils they are shipped as built.
    const stripped = spawnSync("strip", ["--strip-debug", tmp], { stdio: "inherit" });
    if (stripped.error || stripped.status !== 0) {
      process.stderr.write(`build-addon: strip unavailable or failed; keeping debug info in ${path.basename(dest)}\n`);
    }
  }
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, dest);
  process.stdout.write(`build-addon: ${path.relative(root, dest)} (${profile})\n`);
}

cargo(["build", "-p", "notp-node"]);

const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, "target");
const destDir = path.join(root, "npm", triple);
install(path.join(targetDir, profile, "libnotp_node.so"), path.join(destDir, `notp.${triple}.node`), 0o644);

// A separate cargo run: building it together with the addon would unify
// the engine's features and rebuild the addon's engine with the CLI's.
cargo(["build", "-p", "notp", "--bin", "ncl"]);
install(path.join(targetDir, profile, "ncl"), path.join(destDir, "ncl"), 0o755);
