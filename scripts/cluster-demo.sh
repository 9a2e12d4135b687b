#!/usr/bin/env bash
# A live three-node cluster on loopback: foo, bar and baz start as separate
# processes, bar meets foo and baz meets bar, and the rings converge. Then
# ncl (the CLI) pokes foo the way the brief shows. Run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${NOTP_DEMO_PORT:-7022}
FOO=$BASE BAR=$((BASE + 1)) BAZ=$((BASE + 2))
cargo build --release --quiet --example node --bin ncl
logs=$(mktemp -d)
pids=()
cleanup() { kill -INT "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT

start() { # id port [peer…]
  ./target/release/examples/node "$@" >"$logs/$1.log" 2>&1 &
  pids+=($!)
}
start foo "$FOO"
start bar "$BAR" "foo:$FOO"
start baz "$BAZ" "bar:$BAR"

echo "== three nodes: foo :$FOO, bar :$BAR (meets foo), baz :$BAZ (meets bar)"
for i in $(seq 1 100); do
  if grep -q '"baz"' "$logs/foo.log" && grep -q '"foo"' "$logs/baz.log" && grep -q '"baz"' "$logs/bar.log"; then break; fi
  sleep 0.1
done
for n in foo bar baz; do tail -n 1 "$logs/$n.log"; done

ncl() { ./target/release/ncl -H 127.0.0.1 -p "$FOO" -a cookie "$@"; }
echo
echo "== ncl -H 127.0.0.1 -p $FOO -a cookie nodes"
ncl nodes
echo "== ncl ... weights"
ncl weights
echo "== ncl ... get baz"
ncl get baz
echo
echo "Try it yourself while the nodes run: ./target/release/ncl -H 127.0.0.1 -p $FOO -a cookie"
echo "(interactive; type help). Press Enter to stop the cluster."
if [ -t 0 ]; then read -r _; fi
