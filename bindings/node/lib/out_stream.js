"use strict";

// Sending a Readable as a streamed body: its chunks go out as the engine
// stream's frames as they are read, with backpressure from the connection
// (the engine queues what the socket cannot take yet; the source is paused
// while much is queued). Shared by streamed calls, casts and replies.

const native = require("./native");
const { readChunks } = require("./payload");

// A streamed body's source pauses above STREAM_HIGH bytes waiting on its
// connection and resumes at STREAM_LOW, checked every STREAM_POLL_MS.
const STREAM_HIGH = 8 * 1024 * 1024;
const STREAM_LOW = 1024 * 1024;
const STREAM_POLL_MS = 2;

/**
 * Sends what `stream` yields as chunks of engine stream `s` of `kernel`,
 * then ends it (as failed if the source fails or is destroyed first).
 * Nothing is sent once the kernel stops running. `conn`, the Connection
 * it goes out on if one was handed out, counts it in flight meanwhile.
 */
function pipeOut(kernel, s, stream, conn) {
  const h = kernel._h;
  let ended = false;
  if (conn !== undefined) conn.initiateStream({ stream: s });
  let waiting = null;
  const drained = () => {
    waiting = null;
    if (ended || !kernel._isRunning()) return;
    const queued = native.kernelStreamQueued(h, s);
    if (queued > STREAM_LOW) waiting = setTimeout(drained, STREAM_POLL_MS);
    else if (typeof stream.resume === "function") stream.resume();
  };
  const onChunk = (buf) => {
    if (!kernel._isRunning()) return;
    const queued = native.kernelStreamWrite(h, s, buf);
    if (queued > STREAM_HIGH && waiting === null && typeof stream.pause === "function") {
      stream.pause();
      waiting = setTimeout(drained, STREAM_POLL_MS);
    }
  };
  // Failed or destroyed before its end: the receiver is told rather than
  // left waiting.
  readChunks(stream, onChunk, (err) => {
    ended = true;
    if (waiting !== null) clearTimeout(waiting);
    if (kernel._isRunning()) native.kernelStreamEnd(h, s, err ? err.message || String(err) : null);
    if (conn !== undefined) conn._streamDone(s);
  });
}

module.exports = { pipeOut };
