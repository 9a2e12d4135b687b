#!/usr/bin/env bash
# Builds libnotp, checks the committed header against a fresh generation,
# then builds and runs the C test program the ways a C user would link it:
# as C11 and as C++17 against libnotp.so, statically against libnotp.a, and
# under valgrind.
#
#   test/c/run.sh          (from anywhere; NOTP_VECTORS overrides the
#                           vectors directory, default ../shared/vectors)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD
out=$root/build/test-c
lib=$root/target/release
mkdir -p "$out"

step() { printf '\n== %s\n' "$*"; }

step "cargo build --release -p notp"
cargo build --release -p notp

step "header drift"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "warning: not a git checkout; header drift not checked"
elif ! git ls-files --error-unmatch include/libnotp.h >/dev/null 2>&1; then
  echo "warning: include/libnotp.h is not committed yet; nothing to compare"
else
  # build.rs regenerates include/libnotp.h; it must match what is committed.
  git diff --exit-code -- include/libnotp.h
  echo "include/libnotp.h matches a fresh generation"
fi

step "flatten vectors"
node test/c/flatten-vectors.js "$out/vectors.tsv"

step "compile (C11, C++17, static)"
warnings=(-Wall -Wextra -Werror -g -I include)
gcc -std=c11 "${warnings[@]}" test/c/test_values.c -o "$out/test_values_c" -L "$lib" -lnotp
g++ -std=c++17 "${warnings[@]}" -x c++ test/c/test_values.c -x none -o "$out/test_values_cpp" \
  -L "$lib" -lnotp
gcc -std=c11 "${warnings[@]}" test/c/test_values.c -o "$out/test_values_static" \
  "$lib/libnotp.a" -lpthread -ldl -lm

# The plain C run goes last, so the output ends with its summary line.
step "run: C under valgrind"
if command -v valgrind >/dev/null 2>&1; then
  LD_LIBRARY_PATH=$lib valgrind -q --error-exitcode=1 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$out/test_values_c" "$out/vectors.tsv"
else
  echo "valgrind is not installed; skipping the memory check"
fi
step "run: C, static"
"$out/test_values_static" "$out/vectors.tsv"
step "run: C++, shared"
LD_LIBRARY_PATH=$lib "$out/test_values_cpp" "$out/vectors.tsv"
step "run: C, shared"
LD_LIBRARY_PATH=$lib "$out/test_values_c" "$out/vectors.tsv"
