"use strict";

// Packaging: the tarball `npm pack` makes installs offline into an empty
// project with no compiler step, and require("notp") works from there.

const test = require("node:test");
const assert = require("node:assert/strict");
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { repoRoot, loadVectors } = require("./support");

const npmEnv = {
  ...process.env,
  npm_config_update_notifier: "false",
  npm_config_fund: "false",
  npm_config_audit: "false",
  npm_config_loglevel: "error",
};

function npm(args, cwd) {
  return execFileSync("npm", args, { cwd, env: npmEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

test("npm pack, then npm install --offline into an empty project", { timeout: 180_000 }, (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "notp-pack-"));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const packDir = path.join(tmp, "pack");
  fs.mkdirSync(packDir);
  const [packed] = JSON.parse(npm(["pack", "--json", "--pack-destination", packDir], repoRoot));
  const files = packed.files.map((f) => f.path);
  const addon = "npm/linux-x64-gnu/notp.linux-x64-gnu.node";
  assert.ok(files.includes(addon), `the tarball carries ${addon}`);
  for (const f of [
    "bindings/node/index.js",
    "bindings/node/index.d.ts",
    "bindings/node/lib/chash.js",
    "bindings/node/lib/native.js",
    "package.json",
  ]) {
    assert.ok(files.includes(f), f);
  }
  for (const f of files) {
    assert.ok(!/^(src|bindings\/c|bindings\/node\/src|target|test|tests|benches|scripts)\//.test(f), `${f} is not shipped`);
    assert.ok(f !== "bindings/node/build-addon.js", `${f} is not shipped`);
    assert.ok(!/(^|\/)(binding\.gyp|Cargo\.toml|build\.rs)$/.test(f), `${f} is not shipped`);
  }

  // Nothing may compile at install time, and nothing is fetched.
  const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  for (const hook of ["preinstall", "install", "postinstall", "prepare"]) {
    assert.equal(manifest.scripts?.[hook], undefined, `no ${hook} script`);
  }
  for (const deps of ["dependencies", "optionalDependencies", "peerDependencies", "bundleDependencies"]) {
    assert.equal(manifest[deps], undefined, `no ${deps}`);
  }
  assert.notEqual(manifest.gypfile, true);

  // An empty project (its own package.json keeps npm from adopting a
  // project further up the tree).
  const app = path.join(tmp, "app");
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, "package.json"), '{"name":"notp-pack-check","private":true}\n');
  npm(["install", "--offline", "--no-audit", "--no-fund", path.join(packDir, packed.filename)], app);
  const installed = path.join(app, "node_modules", "notp");
  assert.ok(fs.existsSync(path.join(installed, addon)));

  // The vector's placement, computed in the installed copy.
  const vector = loadVectors("chash.json").rings.default_weights;
  const script = `
    const notp = require("notp");
    const assert = require("node:assert/strict");
    const ring = notp.createCHash(3, 2)
      .insert(new notp.Node("foo", "localhost", 7022))
      .insert(new notp.Node("bar", "localhost", 7023))
      .insert(new notp.Node("baz", "127.0.0.1", 7024));
    const expected = ${JSON.stringify(vector.keys.map((k) => [k.key, k.find]))};
    for (const [key, owner] of expected) assert.equal(ring.find(key).id(), owner, key);
    assert.equal(JSON.stringify(ring.toJSON(true)), ${JSON.stringify(JSON.stringify(vector.toJSON_true))});
    process.stdout.write(require.resolve("notp"));
  `;
  const resolved = execFileSync(process.execPath, ["-e", script], { cwd: app, encoding: "utf8" });
  assert.equal(fs.realpathSync(resolved), fs.realpathSync(path.join(installed, "bindings", "node", "index.js")));

  // The CLI is the package's bin: the native ncl shipped next to the addon,
  // started through bin/ncl.js, runnable from the project's .bin.
  for (const f of ["bindings/node/bin/ncl.js", "npm/linux-x64-gnu/ncl"]) assert.ok(files.includes(f), `the tarball carries ${f}`);
  const bin = path.join(app, "node_modules", ".bin", "ncl");
  assert.ok(fs.existsSync(bin), "npm linked node_modules/.bin/ncl");
  const help = execFileSync(bin, ["--help"], { cwd: app, encoding: "utf8" });
  assert.match(help, /Usage: ncl/);
  const inspectHelp = execFileSync(bin, ["help", "inspect"], { cwd: app, encoding: "utf8" });
  assert.match(inspectHelp, /^Usage: inspect/);
});
