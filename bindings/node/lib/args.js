"use strict";

// Argument checks shared by the classes: each throws a TypeError or
// RangeError whose message names the argument. They only translate; the
// rules of the ring and the clock live in the engine.

const U32_MAX = 0xffffffff;

function isNodeLike(node) {
  return (
    node !== null &&
    typeof node === "object" &&
    typeof node.id === "function" &&
    typeof node.host === "function" &&
    typeof node.port === "function"
  );
}

/** The id of a Node (anything with id()/host()/port() and a string id). */
function nodeId(node, name = "node") {
  if (isNodeLike(node)) {
    const id = node.id();
    if (typeof id === "string") return id;
  }
  throw new TypeError(`${name} must be a Node`);
}

/** The host of a Node that is about to be stored in a ring. */
function nodeHost(node, name = "node") {
  const host = node.host();
  if (typeof host !== "string") throw new TypeError(`${name} must be a Node with a string host`);
  return host;
}

/** The port of a Node that is about to be stored in a ring. */
function nodePort(node, name = "node") {
  const port = node.port();
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`${name} must be a Node with an integer port from 0 to 65535`);
  }
  return port;
}

/** A ring key: a string, or bytes (Buffer, typed array, DataView). */
function keyBytes(key, name = "key") {
  if (key instanceof Uint8Array) return key;
  if (ArrayBuffer.isView(key)) return new Uint8Array(key.buffer, key.byteOffset, key.byteLength);
  throw new TypeError(`${name} must be a string or a Buffer`);
}

function keyString(key, name = "key") {
  if (typeof key !== "string") throw new TypeError(`${name} must be a string`);
  return key;
}

/** A positive integer that fits the engine (weights). */
function positive(value, name) {
  if (typeof value !== "number") throw new TypeError(`${name} must be a positive integer`);
  if (!Number.isInteger(value) || value < 1 || value > U32_MAX) {
    throw new RangeError(`${name} must be a positive integer`);
  }
  return value;
}

/** A non-negative integer that fits the engine (rfactor, pfactor). */
function factor(value, name) {
  if (typeof value !== "number") throw new TypeError(`${name} must be a non-negative integer`);
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
  return value;
}

/**
 * An optional result count: a non-negative integer or Infinity, or
 * undefined for the ring's default (passed to the engine as -1).
 */
function range(value, name = "range") {
  if (value === undefined) return -1;
  if (typeof value !== "number") throw new TypeError(`${name} must be a non-negative integer`);
  if (value === Infinity) return U32_MAX;
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer`);
  }
  return value > U32_MAX ? U32_MAX : value;
}

/** A clock actor id. */
function actor(value, name = "node") {
  if (typeof value !== "string") throw new TypeError(`${name} must be a string`);
  return value;
}

/** A count or a time in µs: a non-negative integer a JS number holds exactly. */
function counter(value, name) {
  if (typeof value !== "number") throw new TypeError(`${name} must be a non-negative integer`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer below 2^53`);
  }
  return value;
}

/** A trim bound: a non-negative number (Infinity allowed), or the default. */
function bound(value, fallback, name) {
  if (value === undefined) return fallback;
  if (typeof value !== "number") throw new TypeError(`${name} must be a non-negative number`);
  if (!(value >= 0)) throw new RangeError(`${name} must be a non-negative number`);
  return value;
}

/** Serialises a user's JSON object, reporting failures as `<what>: …`. */
function jsonText(value, what, shape) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new Error(`${what}: ${err.message}`);
  }
  if (typeof text !== "string") throw new Error(`${what}: expected an object ${shape}`);
  return text;
}

module.exports = {
  nodeId,
  nodeHost,
  nodePort,
  keyBytes,
  keyString,
  positive,
  factor,
  range,
  actor,
  counter,
  bound,
  jsonText,
};
