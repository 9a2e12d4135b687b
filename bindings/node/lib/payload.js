"use strict";

// What a message carries, as the native kernel takes it: JSON text, or
// bytes (a Buffer or any Uint8Array, sent as a Buffer). Readable streams
// are streamed by the kernel (out_stream.js `pipeOut`); `collect` gathers
// one where a single Buffer is needed (multicall, before the kernel runs).

const { Stream } = require("node:stream");

/** A Readable (or anything stream-like the original accepted). */
function isStream(data) {
  return (
    data instanceof Stream ||
    (data !== null &&
      typeof data === "object" &&
      typeof data.pipe === "function" &&
      typeof data.on === "function")
  );
}

/**
 * The wire form of `data`: the Uint8Array itself, or JSON text
 * (`undefined` and functions travel as `null`). Throws a TypeError naming
 * `data` when it cannot be serialised (cycles, BigInt).
 */
function encode(data) {
  if (data instanceof Uint8Array) return data;
  let text;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new TypeError(`data cannot be sent: ${err.message}`);
  }
  return text === undefined ? "null" : text;
}

function chunkBuffer(chunk) {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(JSON.stringify(chunk) ?? "null");
}

/**
 * Reads `stream` chunk by chunk: `onChunk(buf)` for each chunk (as a
 * Buffer), then `onEnd(err)` once: null at its end; the error when it
 * fails or a chunk cannot be read; "Stream aborted." when it is destroyed
 * before its end (so nobody is left waiting for it).
 */
function readChunks(stream, onChunk, onEnd) {
  let ended = false;
  const finish = (err) => {
    if (ended) return;
    ended = true;
    stream.removeListener("data", onData);
    onEnd(err);
  };
  const onData = (chunk) => {
    let buf;
    try {
      buf = chunkBuffer(chunk);
    } catch (err) {
      finish(err);
      return;
    }
    onChunk(buf);
  };
  stream.on("data", onData);
  stream.once("end", () => finish(null));
  stream.once("error", (err) => {
    if (typeof stream.resume === "function") stream.resume();
    finish(err instanceof Error ? err : new Error(String(err)));
  });
  stream.once("close", () => finish(new Error("Stream aborted.")));
}

/** Reads a stream to its end: cb(null, Buffer) or cb(err), once. */
function collect(stream, cb) {
  const chunks = [];
  readChunks(
    stream,
    (buf) => chunks.push(buf),
    (err) => (err ? cb(err) : cb(null, Buffer.concat(chunks)))
  );
}

/**
 * Turns `{"type":"Buffer","data":[…]}` objects back into Buffers at any
 * depth, in place; answers the (possibly replaced) value.
 */
function reviveBuffers(value) {
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v !== null && typeof v === "object") value[i] = reviveBuffers(v);
    }
    return value;
  }
  if (value.type === "Buffer" && Array.isArray(value.data)) return Buffer.from(value.data);
  for (const key of Object.keys(value)) {
    const v = value[key];
    if (v !== null && typeof v === "object") value[key] = reviveBuffers(v);
  }
  return value;
}

module.exports = { isStream, encode, collect, readChunks, chunkBuffer, reviveBuffers };
