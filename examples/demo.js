// The Node.js door in one screen: require("notp") as a drop-in for notp 2.0.1.
// Run with `npm start` (which builds the addon first) or `node examples/demo.js`.
"use strict";

const notp = require("..");

console.log("== Node.js: consistent hash ring (rfactor 3, pfactor 2)");
const ring = notp.createCHash(3, 2);
ring.insert(new notp.Node("foo", "localhost", 7022))
  .insert(new notp.Node("bar", "localhost", 7023))
  .insert(new notp.Node("baz", "localhost", 7024));
console.log(`   ${ring.numberNodes()} nodes, ${ring.size()} virtual nodes`);
for (const key of ["user:1", "user:2", "order:42", "héllo wörld"]) {
  const replicas = ring.rangeNext(key).map((n) => n.id());
  console.log(`   ${key.padEnd(12)} -> ${ring.find(key).id().padEnd(4)} replicas ${JSON.stringify(replicas)}`);
}

console.log("== Node.js: vector clocks (µs timestamps from the native clock)");
const a = notp.createVClock().increment("actor-a").increment("actor-a");
const b = notp.createVClock("actor-b", 1);
console.log(`   a descends b? ${a.descends(b)}   b descends a? ${b.descends(a)}`);
a.merge(b);
console.log(`   after a.merge(b): a descends b? ${a.descends(b)}   ${a.size()} actors`);
console.log(`   microtime(): ${notp.microtime()}`);
