#!/usr/bin/env bash
# Every test of every door: Rust (unit, vectors, doctests), lints, the C ABI
# (header drift, C and C++ programs, valgrind), and the Node.js package
# (node:test suites, pack-and-install). Run from anywhere; needs only cargo,
# gcc/g++ and node/npm.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test (engine, vectors, doctests)"
cargo test --workspace

step "C ABI: header drift, C/C++ programs, valgrind"
bash test/c/run.sh

step "Node.js door: node:test suites and pack-and-install"
node bindings/node/build-addon.js
node --test test/js/

step "all tests passed"
