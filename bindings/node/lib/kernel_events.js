"use strict";

// Reads the batches of engine events a NetKernel's native session hands
// over (bindings/node/src/batch.rs documents the format): one JSON text,
// `[kind, fields…, kind, fields…]`, and the Buffers it refers to by index.
// Each event becomes a call of one of the kernel's handlers; this module
// knows the format, the kernel knows what the events mean.

const { kernelEvent } = require("./codes");

const {
  MESSAGE_JSON,
  MESSAGE_BYTES,
  REPLY_JSON,
  REPLY_BYTES,
  REPLY_ERROR,
  READY,
  START_FAILED,
  CONNECTED,
  SKIP,
} = kernelEvent;

const KNOWN = new Set(Object.values(kernelEvent));

/** An Error with the message and properties a failed call was answered with. */
function callError(message, props) {
  const err = new Error(message);
  if (props !== null && typeof props === "object") {
    for (const key of Object.keys(props)) {
      if (key !== "message" && key !== "stack") err[key] = props[key];
    }
  }
  return err;
}

/** A dropped message as the `_skip` event reports it. */
function skipError(type, detail, peer) {
  const err = new Error(detail);
  err.type = type;
  if (peer !== null) err.peer = peer;
  return err;
}

/**
 * Hands every event of a batch to `kernel`'s handlers: `_receive(target,
 * data, tag, host, port, id, handle)`, `_settle(callId, err, data)`,
 * `_ready(port)`, `_startFailed(message)`, `_connected(id)` and
 * `_skipped(err)`. Stops early once `kernel._isStopped()`.
 */
function dispatchBatch(kernel, text, buffers) {
  const ev = JSON.parse(text);
  const n = ev.length;
  let i = 0;
  while (i < n) {
    const kind = ev[i];
    try {
      switch (kind) {
        case MESSAGE_JSON:
        case MESSAGE_BYTES: {
          const data = kind === MESSAGE_JSON ? ev[i + 7] : buffers[ev[i + 7]];
          const at = i;
          i += 8;
          kernel._receive(ev[at + 1], data, ev[at + 2], ev[at + 3], ev[at + 4], ev[at + 5], ev[at + 6]);
          break;
        }
        case REPLY_JSON:
        case REPLY_BYTES: {
          const data = kind === REPLY_JSON ? ev[i + 2] : buffers[ev[i + 2]];
          const callId = ev[i + 1];
          i += 3;
          kernel._settle(callId, null, data);
          break;
        }
        case REPLY_ERROR: {
          const callId = ev[i + 1];
          const err = callError(ev[i + 2], ev[i + 3]);
          i += 4;
          kernel._settle(callId, err);
          break;
        }
        case READY:
          i += 2;
          kernel._ready(ev[i - 1]);
          break;
        case START_FAILED:
          i += 2;
          kernel._startFailed(ev[i - 1]);
          break;
        case CONNECTED:
          i += 2;
          kernel._connected(ev[i - 1]);
          break;
        case SKIP: {
          const err = skipError(ev[i + 1], ev[i + 2], ev[i + 3]);
          i += 4;
          kernel._skipped(err);
          break;
        }
        default:
          throw new Error(`notp: unknown kernel event ${kind}`);
      }
    } catch (err) {
      // A throwing listener is an uncaught exception, as for any event
      // callback; the rest of the batch is still delivered, unless the
      // batch itself cannot be read any further.
      process.nextTick(() => {
        throw err;
      });
      if (!KNOWN.has(kind)) return;
    }
    if (kernel._isStopped()) return;
  }
}

module.exports = { dispatchBatch };
