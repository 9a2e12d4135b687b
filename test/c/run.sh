#!/usr/bin/env bash
# Builds libnotp, checks the header against a fresh generation (and, in CI,
# against the committed one),
# then builds and runs the C test programs the ways a C user would link
# them: as C11 and as C++17 against libnotp.so, statically against
# libnotp.a, and under valgrind. test_values covers the values (ring,
# clocks), test_kernel the network kernel and servers, test_cluster the
# gossiping cluster nodes; the C examples (examples/c/demo.c, and
# idle_node.c, which prints what one idle cluster node costs) are built and
# run last but one.
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

step "cargo build --release -p notp-c"
# build.rs rewrites include/libnotp.h when its sources changed; a header
# that the build changes was stale.
before=$out/libnotp.h.before
cp include/libnotp.h "$before" 2>/dev/null || : >"$before"
cargo build --release -p notp-c

step "header drift"
if ! diff -u "$before" include/libnotp.h; then
  echo "include/libnotp.h was stale: the build regenerated it (commit the new one)"
  exit 1
fi
echo "include/libnotp.h matches a fresh generation"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
  ! git diff --quiet HEAD -- include/libnotp.h 2>/dev/null; then
  # Expected while the C door is being changed; in CI (CI set) the
  # committed header must be the fresh one.
  echo "include/libnotp.h differs from the committed one: commit it with its sources"
  if [[ -n ${CI:-} ]]; then exit 1; fi
fi

step "flatten vectors"
node test/c/flatten-vectors.js "$out/vectors.tsv"

step "compile (C11, C++17, static)"
warnings=(-Wall -Wextra -Werror -g -I include)
for t in test_values test_kernel test_cluster; do
  gcc -std=c11 "${warnings[@]}" -pthread "test/c/$t.c" -o "$out/${t}_c" -L "$lib" -lnotp
  g++ -std=c++17 "${warnings[@]}" -pthread -x c++ "test/c/$t.c" -x none -o "$out/${t}_cpp" \
    -L "$lib" -lnotp
  gcc -std=c11 "${warnings[@]}" -pthread "test/c/$t.c" -o "$out/${t}_static" \
    "$lib/libnotp.a" -lpthread -ldl -lm
done
gcc -std=c11 "${warnings[@]}" examples/c/demo.c -o "$out/demo" -L "$lib" -lnotp
gcc -std=c11 "${warnings[@]}" examples/c/idle_node.c -o "$out/idle_node" -L "$lib" -lnotp

# tokio's engine threads live until the process ends, so their memory shows
# as "possibly lost" or "still reachable"; only definite and indirect leaks
# count.
memcheck=(valgrind -q --error-exitcode=1 --leak-check=full
  --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect)
vectors=$out/vectors.tsv

step "run: under valgrind"
if command -v valgrind >/dev/null 2>&1; then
  LD_LIBRARY_PATH=$lib "${memcheck[@]}" "$out/test_values_c" "$vectors"
  LD_LIBRARY_PATH=$lib "${memcheck[@]}" "$out/test_kernel_c"
  # Three gossiping nodes in one process under valgrind: a slower period.
  NOTP_TEST_SLOW=4 LD_LIBRARY_PATH=$lib "${memcheck[@]}" "$out/test_cluster_c"
else
  echo "valgrind is not installed; skipping the memory check"
fi
step "run: static"
"$out/test_values_static" "$vectors"
"$out/test_kernel_static"
"$out/test_cluster_static"
step "run: C++, shared"
LD_LIBRARY_PATH=$lib "$out/test_values_cpp" "$vectors"
LD_LIBRARY_PATH=$lib "$out/test_kernel_cpp"
LD_LIBRARY_PATH=$lib "$out/test_cluster_cpp"
step "run: the C examples"
LD_LIBRARY_PATH=$lib "$out/demo"
# Two gossip periods of an idle node, then its memory (VmRSS etc.).
LD_LIBRARY_PATH=$lib "$out/idle_node" 2
# The plain C runs go last, so the output ends with their summary lines.
step "run: C, shared"
LD_LIBRARY_PATH=$lib "$out/test_values_c" "$vectors"
LD_LIBRARY_PATH=$lib "$out/test_kernel_c"
LD_LIBRARY_PATH=$lib "$out/test_cluster_c"
