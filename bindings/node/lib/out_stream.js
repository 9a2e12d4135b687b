"use strict";

// Sending a Readable as a streamed body: its chunks go out as the engine
// stream's frames as they are read, with backpressure from the connection
// (the engine queues what the socket cannot take yet; the source is paused
// while much is queued). Shared by streamed calls, casts and replies.

const native = require("./native");
const { chunkBuffer } = require("./payload");

// A streamed body's source pauses above STREAM_HIGH bytes waiting on its
// connection and resumes at STREAM_LOW, checked every STREAM_POLL_MS.
const STREAM_HIGH = 8 * 1024 * 1024;
const STREAM_LOW = 1024 * 1024;
const STREAM_POLL_MS = 2;

/**
 * Sends what `stream` yields as chunks of engine stream `s` of `kernel`,
 * then ends it (as failed if the source fails or is destroyed first).
 * Nothing is sent once the kernel stops running.
 */
function pipeOut(kernel, s, stream) {
  const h = kernel._h;
  let ended = false;
  let waiting = null;
  const drained = () => {
    waiting = null;
    if (ended || !kernel._isRunning()) return;
    const queued = native.kernelStreamQueued(h, s);
    if (queued > STREAM_LOW) waiting = setTimeout(drained, STREAM_POLL_MS);
    else if (typeof stream.resume === "function") stream.resume();
  };
  const finish = (err) => {
    if (ended) return;
    ended = true;
    if (waiting !== null) clearTimeout(waiting);
    stream.removeListener("data", onData);
    if (kernel._isRunning()) native.kernelStreamEnd(h, s, err ? err.message || String(err) : null);
  };
  const onData = (chunk) => {
    let buf;
    try {
      buf = chunkBuffer(chunk);
    } catch (err) {
      finish(err);
      return;
    }
    if (!kernel._isRunning()) return;
    const queued = native.kernelStreamWrite(h, s, buf);
    if (queued > STREAM_HIGH && waiting === null && typeof stream.pause === "function") {
      stream.pause();
      waiting = setTimeout(drained, STREAM_POLL_MS);
    }
  };
  stream.on("data", onData);
  stream.once("end", () => finish(null));
  stream.once("error", (err) => {
    if (typeof stream.resume === "function") stream.resume();
    finish(err instanceof Error ? err : new Error(String(err)));
  });
  // Destroyed before its end: the receiver is told rather than left waiting.
  stream.once("close", () => finish(new Error("Stream aborted.")));
}

module.exports = { pipeOut };
