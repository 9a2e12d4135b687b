#!/usr/bin/env node
// Flattens the captured vectors (../shared/vectors/chash.json and
// sha256.json) into tab-separated lines that test_values.c reads, since C has
// no JSON parser. One record per line: a tag, then its fields.
//
//   node test/c/flatten-vectors.js OUT_FILE
//
// The vectors directory is $NOTP_VECTORS, or ../shared/vectors relative to
// the repository root.
"use strict";

const fs = require("fs");
const path = require("path");

const repoRoot = path.resolve(__dirname, "..", "..");
const vectorsDir = process.env.NOTP_VECTORS || path.resolve(repoRoot, "..", "shared", "vectors");
const outFile = process.argv[2];
if (!outFile) {
  console.error("usage: flatten-vectors.js OUT_FILE");
  process.exit(2);
}

if (!fs.existsSync(path.join(vectorsDir, "chash.json"))) {
  console.error(`flatten-vectors: no vectors in ${vectorsDir} (set NOTP_VECTORS)`);
  process.exit(1);
}

const read = (name) => JSON.parse(fs.readFileSync(path.join(vectorsDir, name), "utf8"));
const lines = [];

// Tabs and newlines separate fields and records; no vector needs them, so
// meeting one is a reason to stop rather than to invent an escape.
function emit(...fields) {
  for (const f of fields.map(String)) {
    if (/[\t\n\r]/.test(f)) throw new Error(`field holds a tab or newline: ${JSON.stringify(f)}`);
  }
  lines.push(fields.join("\t"));
}

function flattenSha256(vectors) {
  for (const [input, { base64 }] of Object.entries(vectors.inputs)) {
    emit("sha", input, base64);
    // Inputs named `id_n` are virtual node names.
    const vnode = /^(.+)_(\d+)$/.exec(input);
    if (vnode) emit("vnode_key", vnode[1], vnode[2], base64);
  }
}

// Range answers are stored under names like rangeNext2 or next_default; the
// C side passes 0 for "default".
function emitRanges(tag, subject, answers, stem) {
  for (const [name, ids] of Object.entries(answers)) {
    const m = new RegExp(`^${stem}(\\d+|_default)$`).exec(name);
    if (m) emit(tag, subject, m[1] === "_default" ? 0 : m[1], ...ids);
  }
}

function flattenRing(label, ring) {
  emit("ring", label);
  emit("rfactor", ring.rfactor);
  emit("pfactor", ring.pfactor);
  emit("json", JSON.stringify(ring.toJSON_true));
  emit("size", ring.size);
  emit("number_nodes", ring.numberNodes);
  emit("weights", JSON.stringify(ring.weights));
  emit("nodes", ...ring.nodes_order);
  for (const [id, vnodes] of Object.entries(ring.virtual_nodes)) {
    for (const { hash } of vnodes) emit("vnode_of", hash, id);
  }
  for (const k of ring.keys) {
    emit("find", k.key, k.find);
    emitRanges("range_next", k.key, k, "rangeNext");
    emitRanges("range_prev", k.key, k, "rangePrev");
  }
  for (const [id, answers] of Object.entries(ring.per_node)) {
    emitRanges("next", id, answers, "next");
    emitRanges("prev", id, answers, "prev");
    emit("get", id, answers.get === null ? "null" : JSON.stringify(answers.get));
    emit("defined", id, answers.isDefined);
  }
}

flattenSha256(read("sha256.json"));
for (const [label, ring] of Object.entries(read("chash.json").rings)) flattenRing(label, ring);

fs.mkdirSync(path.dirname(path.resolve(outFile)), { recursive: true });
fs.writeFileSync(outFile, lines.join("\n") + "\n");
console.log(`flatten-vectors: ${lines.length} records from ${vectorsDir} -> ${outFile}`);
