"use strict";

// Every command of the brief's CLI, run once with `ncl` (the package's bin,
// bin/ncl.js) against a live cluster node started through require("notp"):
// the printed JSON has the brief's shape, the exit status says whether the
// node answered ok. Also `help <command>` for each.

const { describe, test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");
const { repoRoot } = require("./support");
const { within } = require("./kernel_helpers");
const { WAIT_MS, startCluster, stopAll, until } = require("./cluster_helpers");

const launcher = path.join(repoRoot, "bindings", "node", "bin", "ncl.js");

const COMMANDS = [
  "join", "leave", "meet", "insert", "minsert", "update", "remove", "mremove",
  "inspect", "nodes", "has", "get", "weight", "weights", "ping",
];

/** Runs `ncl <args>` and resolves with its exit status and output. */
function ncl(args) {
  return within(
    new Promise((resolve, reject) => {
      execFile(process.execPath, [launcher, ...args], { encoding: "utf8" }, (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: err ? err.code : 0, stdout, stderr });
      });
    }),
    WAIT_MS,
    `ncl ${args.join(" ")}`
  );
}

const nodeJSON = (n) => ({ id: n.id(), host: n.host(), port: n.port() });
const notDefined = (id) => ({ ok: false, error: { message: `'${id}' is not defined in this ring.`, _error: true } });

describe("ncl against a Node-door cluster node", () => {
  let foo;
  let bar;
  let self;

  before(async () => {
    assert.ok(fs.existsSync(launcher), `${launcher} exists`);
    foo = await startCluster("foo");
    bar = await startCluster("bar");
    self = foo.kernel().self();
  });
  after(() => stopAll([foo, bar]));

  /** One command to foo: the JSON it printed, with its exit status checked. */
  async function run(words, ok = true) {
    const r = await ncl(["-H", "127.0.0.1", "-p", String(self.port()), "-a", "cookie", "-I", "foo", ...words]);
    assert.equal(r.code, ok ? 0 : 1, `exit status of ${words.join(" ")}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  test("--help, and help <command> for every command", async () => {
    const r = await ncl(["--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Usage: ncl/);
    for (const name of COMMANDS) assert.match(r.stdout, new RegExp(`\\b${name}\\b`), name);
    for (const name of [...COMMANDS, "help"]) {
      const h = await ncl(["help", name]);
      assert.equal(h.code, 0, `help ${name}: ${h.stderr}`);
      assert.match(h.stdout, new RegExp(`^Usage: ${name}\\b`), `help ${name}`);
    }
    const unknown = await ncl(["help", "nope"]);
    assert.notEqual(unknown.code, 0);
  });

  test("inspect, nodes, ping, get, has, weight, weights", async () => {
    const inspect = await run(["inspect"]);
    assert.deepEqual(Object.keys(inspect), ["ok", "data"]);
    assert.equal(inspect.ok, true);
    assert.deepEqual(inspect.data, foo.gossip().ring().toJSON(true));
    assert.deepEqual(Object.keys(inspect.data), ["rfactor", "pfactor", "tree"]);
    assert.equal(inspect.data.rfactor, 3);
    assert.equal(inspect.data.pfactor, 2);
    assert.deepEqual(
      inspect.data.tree.map((e) => e.key),
      [
        "avmox6bKHfmLdzmObwjwIrh2WC6XM471ods56FWbDo0=",
        "kL2YfHLEuxHGaEz4nOxWYyPSiFlGBsFMzoYDXXxuXK0=",
        "kzMt7C+SJZbxNQmrL3vhpfJ+a0RgPiGlRhrxwS57RWI=",
      ]
    );
    for (const e of inspect.data.tree) assert.deepEqual(e.value, nodeJSON(self));

    assert.deepEqual(await run(["nodes"]), { ok: true, data: [nodeJSON(self)] });
    assert.deepEqual(await run(["ping"]), { ok: true, data: "pong" });
    assert.deepEqual(await run(["get", "foo"]), { ok: true, data: nodeJSON(self) });
    assert.deepEqual(await run(["get", "bar"], false), notDefined("bar"));
    assert.deepEqual(await run(["has", "foo"]), { ok: true, data: true });
    assert.deepEqual(await run(["has", "bar"]), { ok: true, data: false });
    assert.deepEqual(await run(["weight", "foo"]), { ok: true, data: 3 });
    assert.deepEqual(await run(["weight", "bar"], false), notDefined("bar"));
    assert.deepEqual(await run(["weights"]), { ok: true, data: { foo: 3 } });
  });

  test("join while in a ring is refused", async () => {
    assert.deepEqual(await run(["join", "ring"], false), {
      ok: false,
      error: { message: "Node already belongs to ring 'ring'", _error: true },
    });
  });

  test("meet, then the met node is in the ring", async () => {
    const b = bar.kernel().self();
    assert.deepEqual(await run(["meet", "bar", "127.0.0.1", String(b.port())]), { ok: true });
    await until(() => foo.gossip().ring().isDefined(b), [foo], "bar in foo's ring");
    assert.deepEqual(await run(["get", "bar"]), { ok: true, data: nodeJSON(b) });
    assert.deepEqual(await run(["has", "bar"]), { ok: true, data: true });
  });

  test("insert and insert --force", async () => {
    assert.deepEqual(await run(["insert", "baz", "127.0.0.1", "7024"]), { ok: true });
    assert.deepEqual(await run(["get", "baz"]), { ok: true, data: { id: "baz", host: "127.0.0.1", port: 7024 } });
    assert.deepEqual(await run(["insert", "--force", "qux", "127.0.0.1", "7025"]), { ok: true });
    assert.deepEqual(await run(["get", "qux"]), { ok: true, data: { id: "qux", host: "127.0.0.1", port: 7025 } });
    assert.ok(foo.gossip().ring().isDefined({ id: () => "qux", host: () => "127.0.0.1", port: () => 7025 }));
  });

  test("minsert and minsert --force", async () => {
    assert.deepEqual(await run(["minsert", "m1", "127.0.0.1", "7031", "m2", "127.0.0.1", "7032"]), { ok: true });
    assert.deepEqual(await run(["get", "m1"]), { ok: true, data: { id: "m1", host: "127.0.0.1", port: 7031 } });
    assert.deepEqual(await run(["get", "m2"]), { ok: true, data: { id: "m2", host: "127.0.0.1", port: 7032 } });
    assert.deepEqual(
      await run(["minsert", "--force", "m3", "127.0.0.1", "7033", "m4", "127.0.0.1", "7034"]),
      { ok: true }
    );
    assert.deepEqual(await run(["has", "m3"]), { ok: true, data: true });
    assert.deepEqual(await run(["has", "m4"]), { ok: true, data: true });
  });

  test("update and update --force", async () => {
    const port = String(self.port());
    assert.deepEqual(await run(["update", "foo", "127.0.0.1", port, "4"]), { ok: true });
    assert.deepEqual(await run(["weight", "foo"]), { ok: true, data: 4 });
    assert.deepEqual(await run(["update", "--force", "foo", "127.0.0.1", port, "5"]), { ok: true });
    assert.deepEqual(await run(["weight", "foo"]), { ok: true, data: 5 });
    assert.equal(foo.gossip().ring().weights().get("foo"), 5);
    assert.deepEqual(await run(["get", "foo"]), { ok: true, data: nodeJSON(self) });
  });

  test("remove and remove --force", async () => {
    assert.deepEqual(await run(["remove", "baz", "127.0.0.1", "7024"]), { ok: true });
    assert.deepEqual(await run(["has", "baz"]), { ok: true, data: false });
    assert.deepEqual(await run(["remove", "--force", "qux", "127.0.0.1", "7025"]), { ok: true });
    assert.deepEqual(await run(["has", "qux"]), { ok: true, data: false });
  });

  test("mremove and mremove --force", async () => {
    assert.deepEqual(await run(["mremove", "m1", "127.0.0.1", "7031", "m2", "127.0.0.1", "7032"]), { ok: true });
    assert.deepEqual(await run(["has", "m1"]), { ok: true, data: false });
    assert.deepEqual(await run(["has", "m2"]), { ok: true, data: false });
    assert.deepEqual(
      await run(["mremove", "--force", "m3", "127.0.0.1", "7033", "m4", "127.0.0.1", "7034"]),
      { ok: true }
    );
    assert.deepEqual(await run(["has", "m3"]), { ok: true, data: false });
    assert.deepEqual(await run(["has", "m4"]), { ok: true, data: false });
    assert.deepEqual(await run(["weights"]), { ok: true, data: { bar: 3, foo: 5 } });
  });

  test("leave, leave --force, then join again", async () => {
    assert.deepEqual(await run(["leave"]), { ok: true });
    // immediately following this command...
    assert.deepEqual(await run(["has", "bar"]), { ok: true, data: false });
    assert.deepEqual(await run(["nodes"]), { ok: true, data: [nodeJSON(self)] });
    assert.equal(foo.gossip().ringID(), null);
    assert.deepEqual(await run(["leave", "--force"]), { ok: true });
    assert.deepEqual(await run(["join", "ring"]), { ok: true });
    assert.equal(foo.gossip().ringID(), "ring");
  });

  test("a wrong cookie gets no answer (exit 3), a closed port is unreachable (exit 2)", async () => {
    const wrong = await ncl(["-H", "127.0.0.1", "-p", String(self.port()), "-a", "wrong", "-t", "300", "ping"]);
    assert.equal(wrong.code, 3, wrong.stderr);
    const server = require("node:net").createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = server.address().port;
    await new Promise((resolve) => server.close(resolve));
    const down = await ncl(["-H", "127.0.0.1", "-p", String(port), "-a", "cookie", "-t", "1000", "ping"]);
    assert.equal(down.code, 2, down.stderr);
  });
});
