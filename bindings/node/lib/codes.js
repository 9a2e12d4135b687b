"use strict";

// The numbers the JavaScript and Rust halves of the door agree on (event
// kinds of a native batch, answers of the request functions, states of a
// connection), read once from the addon (bindings/node/src/codes.rs), so
// there is no copy here that could drift from the Rust side.

const native = require("./native");

function freeze(groups) {
  for (const name of Object.keys(groups)) Object.freeze(groups[name]);
  return Object.freeze(groups);
}

module.exports = freeze(native.codes());
