"use strict";

// Shared by the suites: where the captured vectors live and the nodes the
// vectors were built with.

const fs = require("node:fs");
const path = require("node:path");

const repoRoot = path.resolve(__dirname, "..", "..");

/** NOTP_VECTORS, or ../shared/vectors next to the repository. */
function vectorsDir() {
  return process.env.NOTP_VECTORS
    ? path.resolve(process.env.NOTP_VECTORS)
    : path.resolve(repoRoot, "..", "shared", "vectors");
}

function loadVectors(file) {
  return JSON.parse(fs.readFileSync(path.join(vectorsDir(), file), "utf8"));
}

module.exports = { repoRoot, vectorsDir, loadVectors };
