"use strict";

// The native wall clock in µs since the Unix epoch, never going backwards
// within the process. Shaped like node-microtime for users who imported it
// only for this: microtime(), microtime.now(), nowDouble(), nowStruct().

const native = require("./native");

function microtime() {
  return native.microtime();
}

microtime.now = microtime;

/** Seconds since the epoch, with µs as the fraction. */
microtime.nowDouble = function nowDouble() {
  return native.microtime() / 1e6;
};

/** `[seconds, microseconds]` since the epoch. */
microtime.nowStruct = function nowStruct() {
  const us = native.microtime();
  return [Math.floor(us / 1e6), us % 1e6];
};

module.exports = microtime;
