#!/usr/bin/env bash
# The main job: the same ring and clocks through each door — Rust, C and
# Node.js — and a GenServer call between two kernels on loopback; then a live
# three-node cluster that converges and is poked with ncl. Builds what it
# needs; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet -p notp -p notp-node --examples
cargo build --release --quiet -p notp-c
./target/release/examples/demo
echo

if [ -f examples/c/demo.c ]; then
  mkdir -p build
  gcc -std=c11 -Wall -Wextra -Werror -pthread -Iinclude examples/c/demo.c \
    -Ltarget/release -lnotp -Wl,-rpath,"$PWD/target/release" -o build/demo-c
  ./build/demo-c
  echo
fi

node bindings/node/build-addon.js >/dev/null
node examples/demo.js

echo
bash scripts/cluster-demo.sh
