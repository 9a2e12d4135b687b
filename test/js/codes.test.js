"use strict";

// The numbers the JavaScript and Rust halves of the Node door agree on.
// The kernel's are exported by the addon (bindings/node/src/codes.rs) and
// read by lib/codes.js: these tests check that every name the JavaScript
// reads exists there.

const { test } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const native = require("../../bindings/node/lib/native");
const codes = require("../../bindings/node/lib/codes");
const { repoRoot } = require("./support");

const door = path.join(repoRoot, "bindings", "node");

test("the addon exports each group of codes once, distinct and frozen", () => {
  assert.deepEqual(Object.keys(codes).sort(), ["answer", "gossipEvent", "kernelEvent", "sinkState"]);
  assert.deepEqual(JSON.parse(JSON.stringify(codes)), native.codes());
  assert.ok(Object.isFrozen(codes));
  for (const [group, values] of Object.entries(codes)) {
    assert.ok(Object.isFrozen(values), group);
    const numbers = Object.values(values);
    assert.ok(numbers.length > 0, group);
    assert.equal(new Set(numbers).size, numbers.length, `${group} codes are distinct`);
    for (const n of numbers) assert.ok(Number.isInteger(n) && n >= 0, `${group}: ${n}`);
  }
});

test("every code the JavaScript side reads by name is one the addon exports", () => {
  const lib = path.join(door, "lib");
  let used = 0;
  for (const file of fs.readdirSync(lib).filter((f) => f.endsWith(".js"))) {
    const text = fs.readFileSync(path.join(lib, file), "utf8");
    for (const m of text.matchAll(/const \{([^}]*)\} = (kernelEvent|answer|sinkState|gossipEvent);/g)) {
      for (const name of m[1].split(",").map((n) => n.trim()).filter(Boolean)) {
        assert.ok(Object.hasOwn(codes[m[2]], name), `${file} reads ${m[2]}.${name}, which the addon does not export`);
        used++;
      }
    }
  }
  // The kernel's dispatcher, request answers and connection states.
  assert.ok(used >= Object.keys(codes.kernelEvent).length + 3, `only ${used} codes read`);
});
