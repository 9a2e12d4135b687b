#!/usr/bin/env node
// The network through require("notp"), two processes on loopback: this
// process calls a GenServer in a child process (spawned from this file)
// that echoes. One line per figure: round-trip latency p50/p99 over
// BENCH_CALLS sequential calls (default 10 000) with "hello" and with a
// 4 KiB string, calls/s with 64 in flight, casts/s. First, the floor:
// the same round trip over Node's own sockets (net, TCP_NODELAY), with no
// notp in between.
"use strict";

const { spawn } = require("node:child_process");
const net = require("node:net");
const notp = require("..");

const CALLS = Number(process.env.BENCH_CALLS) || 10_000;
const IN_FLIGHT = 64;
const THROUGHPUT_CALLS = Number(process.env.BENCH_THROUGHPUT_CALLS) || 100_000;
const CASTS = Number(process.env.BENCH_CASTS) || 200_000;
const COOKIE = "cookie";
const HOST = "127.0.0.1";

function serve() {
  const kernel = notp.createKernel("bench_server", HOST, 0);
  const server = new notp.GenServer(kernel);
  let casts = 0;
  server.start("echo");
  server.on("echo", (data, from) => server.reply(from, data));
  server.on("cast", () => {
    casts++;
  });
  server.on("casts", (data, from) => server.reply(from, casts));
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
    const samples = new Float64Array(CALLS);
    for (let i = 0; i < CALLS; i++) {
      const t = process.hrtime.bigint();
      await call("echo", data);
      samples[i] = Number(process.hrtime.bigint() - t) / 1000;
    }
    samples.sort();
    console.log(`call round trip ${label}: p50 ${percentile(samples, 50).toFixed(1)} µs`);
    console.log(`call round trip ${label}: p99 ${percentile(samples, 99).toFixed(1)} µs`);
  }

  await latency('"hello"', "hello");
  await latency("4 KiB string", "x".repeat(4096));

  async function throughput(n) {
    let sent = 0;
    let done = 0;
    const start = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      const next = () => {
        if (sent >= n) return;
        sent++;
        client.call(target, "echo", "hello", (err) => {
          if (err) return reject(err);
          if (++done === n) return resolve();
          next();
        }, 10_000);
      };
      for (let i = 0; i < IN_FLIGHT; i++) next();
    });
    return (n * 1e9) / Number(process.hrtime.bigint() - start);
  }
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
}

if (process.argv[2] === "--serve") {
  serve();
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
