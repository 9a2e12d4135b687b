#!/usr/bin/env node
// The network through require("notp"), two processes on loopback: this
// process calls a GenServer in a child process (spawned from this file)
// that echoes. One line per figure: round-trip latency p50/p99 over
// BENCH_CALLS sequential calls (default 10 000) with "hello" and with a
// 4 KiB string, calls/s with 64 in flight, casts/s. First, the floor:
// the same round trip over Node's own sockets (net, TCP_NODELAY), with no
// notp in between. Last, the same figures for a GenServer calling a
// GenServer on its own kernel (local messages never leave JavaScript),
// beside what the original measured on this machine (issue 10).
"use strict";

const { spawn } = require("node:child_process");
const net = require("node:net");
const notp = require("..");

const CALLS = Number(process.env.BENCH_CALLS) || 10_000;
const IN_FLIGHT = 64;
const THROUGHPUT_CALLS = Number(process.env.BENCH_THROUGHPUT_CALLS) || 100_000;
const CASTS = Number(process.env.BENCH_CASTS) || 200_000;
const LOCAL_CALLS = Number(process.env.BENCH_LOCAL_CALLS) || 200_000;
const LOCAL_CASTS = Number(process.env.BENCH_LOCAL_CASTS) || 2_000_000;
const COOKIE = "cookie";

// The original (notp 2.0.1) on this machine, local GenServer to GenServer,
// as measured in issue 10.
const ORIGINAL_LOCAL = { p50: "1.5 µs", sequential: "412,000", inFlight: "719,000", casts: "5,800,000" };
const HOST = "127.0.0.1";

/** The GenServer "echo" both measurements call: it answers `echo` with its data and counts `cast`s. */
function echoServer(kernel) {
  const server = new notp.GenServer(kernel);
  const counted = { casts: 0 };
  server.start("echo");
  server.on("echo", (data, from) => server.reply(from, data));
  server.on("cast", () => {
    counted.casts++;
  });
  return { server, counted };
}

function serve() {
  const kernel = notp.createKernel("bench_server", HOST, 0);
  const { server, counted } = echoServer(kernel);
  server.on("casts", (data, from) => server.reply(from, counted.casts));
  server.on("connect", (node, from) => {
    kernel.connect(notp.Node.from(node), () => server.reply(from, "ok"));
  });
  // The floor: a plain TCP echo.
  const raw = net.createServer((sock) => {
    sock.setNoDelay(true);
    sock.on("data", (chunk) => sock.write(chunk));
  });
  raw.listen(0, HOST);
  kernel.once("_ready", () => process.stdout.write(`${kernel.port()} ${raw.address().port}\n`));
  kernel.start({ cookie: COOKIE });
  // The parent closing our stdin is the signal to go.
  process.stdin.resume();
  process.stdin.on("end", () => {
    kernel.stop();
    raw.close();
    process.exit(0);
  });
}

/** Round trips of `data` over a plain socket to the child's echo server. */
function rawLatency(port, data, n) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, HOST);
    sock.setNoDelay(true);
    const samples = new Float64Array(n);
    let i = -1000;
    let t = 0n;
    let got = 0;
    const send = () => {
      got = 0;
      t = process.hrtime.bigint();
      sock.write(data);
    };
    sock.on("error", reject);
    sock.on("connect", send);
    sock.on("data", (chunk) => {
      got += chunk.length;
      if (got < data.length) return;
      if (i >= 0) samples[i] = Number(process.hrtime.bigint() - t) / 1000;
      if (++i < n) return send();
      sock.destroy();
      resolve(samples.sort());
    });
  });
}

function fmt(n) {
  return Math.round(n).toLocaleString("en-US");
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

/**
 * `n` calls one after another (`once()` answers a promise of one): the
 * sorted round trips in µs, and calls/s over the whole run.
 */
async function sequential(n, once) {
  const samples = new Float64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await once();
    samples[i] = Number(process.hrtime.bigint() - t) / 1000;
  }
  const rate = (n * 1e9) / Number(process.hrtime.bigint() - start);
  return { samples: samples.sort(), rate };
}

/** Calls/s of `n` calls with IN_FLIGHT in flight; `callOnce(cb)` makes one. */
async function inFlight(n, callOnce) {
  let sent = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const next = () => {
      if (sent >= n) return;
      sent++;
      callOnce((err) => {
        if (err) return reject(err);
        if (++done === n) return resolve();
        next();
      });
    };
    for (let i = 0; i < IN_FLIGHT; i++) next();
  });
  return (n * 1e9) / Number(process.hrtime.bigint() - start);
}

async function main() {
  const child = spawn(process.execPath, [__filename, "--serve"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const [port, rawPort] = await new Promise((resolve, reject) => {
    let text = "";
    child.stdout.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) resolve(text.trim().split(" ").map(Number));
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code})`)));
  });
  const floor = await rawLatency(rawPort, "hello", CALLS);
  console.log(`raw TCP round trip (node:net) "hello": p50 ${percentile(floor, 50).toFixed(1)} µs, p99 ${percentile(floor, 99).toFixed(1)} µs`);
  const kernel = notp.createKernel("bench_client", HOST, 0);
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie: COOKIE });
  });
  const client = new notp.GenServer(kernel);
  const serverNode = new notp.Node("bench_server", HOST, port);
  const target = { id: "echo", node: serverNode };
  const call = (event, data) =>
    new Promise((resolve, reject) =>
      client.call(target, event, data, (err, out) => (err ? reject(err) : resolve(out)), 10_000)
    );
  await new Promise((resolve) => kernel.connect(serverNode, resolve));
  // Replies travel over the server's own connection back to us.
  await call("connect", kernel.self().toJSON());

  async function latency(label, data) {
    for (let i = 0; i < 1000; i++) await call("echo", data);
    const { samples } = await sequential(CALLS, () => call("echo", data));
    console.log(`call round trip ${label}: p50 ${percentile(samples, 50).toFixed(1)} µs`);
    console.log(`call round trip ${label}: p99 ${percentile(samples, 99).toFixed(1)} µs`);
  }

  await latency('"hello"', "hello");
  await latency("4 KiB string", "x".repeat(4096));

  const throughput = (n) => inFlight(n, (cb) => client.call(target, "echo", "hello", cb, 10_000));
  await throughput(10_000);
  console.log(`calls/s with ${IN_FLIGHT} in flight: ${fmt(await throughput(THROUGHPUT_CALLS))}`);

  async function casts(n) {
    const before = await call("casts", null);
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      client.cast(target, "cast", "hello");
      // Let the engine write now and then rather than queue everything.
      if (i % 2000 === 1999) await new Promise(setImmediate);
    }
    // Casts and calls share the connection, in order: once this answers,
    // every cast has been handled.
    const after = await call("casts", null);
    const rate = (n * 1e9) / Number(process.hrtime.bigint() - start);
    if (after - before !== n) throw new Error(`server saw ${after - before} of ${n} casts`);
    return rate;
  }
  await casts(10_000);
  console.log(`casts/s: ${fmt(await casts(CASTS))}`);

  kernel.stop();
  child.stdin.end();
  await local();
}

/** A GenServer calling a GenServer on its own kernel. */
async function local() {
  const kernel = notp.createKernel("bench_local", HOST, 0);
  await new Promise((resolve) => {
    kernel.once("_ready", resolve);
    kernel.start({ cookie: COOKIE });
  });
  const { counted } = echoServer(kernel);
  const client = new notp.GenServer(kernel);
  const call = (data) =>
    new Promise((resolve, reject) => client.call("echo", "echo", data, (err, out) => (err ? reject(err) : resolve(out))));
  const original = (figure) => `(original, measured in issue 10: ${figure})`;

  for (let i = 0; i < 20_000; i++) await call("hello");
  const { samples, rate } = await sequential(LOCAL_CALLS, () => call("hello"));
  console.log(`local call "hello": p50 ${percentile(samples, 50).toFixed(2)} µs ${original(`p50 ${ORIGINAL_LOCAL.p50}`)}`);
  console.log(`local call "hello": p99 ${percentile(samples, 99).toFixed(2)} µs`);
  console.log(`local sequential calls/s: ${fmt(rate)} ${original(ORIGINAL_LOCAL.sequential)}`);

  const localInFlight = (n) => inFlight(n, (cb) => client.call("echo", "echo", "hello", cb));
  await localInFlight(20_000);
  console.log(`local calls/s with ${IN_FLIGHT} in flight: ${fmt(await localInFlight(LOCAL_CALLS))} ${original(ORIGINAL_LOCAL.inFlight)}`);

  const castRate = (n) => {
    const before = counted.casts;
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) client.cast("echo", "cast", "hello");
    const rate = (n * 1e9) / Number(process.hrtime.bigint() - t);
    // Local casts are handled before cast() returns.
    const seen = counted.casts - before;
    if (seen !== n) throw new Error(`server saw ${seen} of ${n} local casts`);
    return rate;
  };
  castRate(100_000);
  console.log(`local casts/s: ${fmt(castRate(LOCAL_CASTS))} ${original(ORIGINAL_LOCAL.casts)}`);
  kernel.stop();
}

if (process.argv[2] === "--serve") {
  serve();
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
