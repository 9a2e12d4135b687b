"use strict";

// Loads the native addon shipped in npm/<triple>/notp.<triple>.node.

const path = require("node:path");
const fs = require("node:fs");
const { platformTriple } = require("./platform");

function load() {
  const triple = platformTriple();
  const file = path.join(__dirname, "..", "..", "..", "npm", triple, `notp.${triple}.node`);
  if (!fs.existsSync(file)) {
    throw new Error(
      `notp: native addon ${file} is missing; build it with \`npm run build\` (needs cargo)`
    );
  }
  return require(file);
}

module.exports = load();
