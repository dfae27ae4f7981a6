#!/bin/bash
# The benchmark, one command: bench/run.sh [CASE]
#
# Builds intc-bench (build/bench: RelWithDebInfo = -O2, no sanitizers) and
# runs it: intc-bench re-runs itself under callgrind and prints every case
# with its targets, met / not met, and "targets met: X of Y".  Then the
# bytes per object.  Instruction counts only, no wall clock.  Exit status
# 0 whether the targets are met or not (never a CI pass/fail); non-zero
# only when the build or the measurement itself fails.
# INTC_BENCH_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

intc_need_packages "${INTC_BUILD_PACKAGES[@]}" valgrind

dir=${INTC_BENCH_DIR:-build/bench}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINTC_SANITIZE=OFF -DINTC_FUZZ=OFF -DINTC_BUILD_BENCH=ON \
    -DINTC_BUILD_TOOLS=OFF >/dev/null
cmake --build "$dir" --target intc-bench >/dev/null
bin=$dir/bench/intc-bench

echo "\$ ./bench/run.sh${*:+ $*}"
echo "libintc $(git describe --always --dirty 2>/dev/null || echo '?')," \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), $(${CC:-cc} --version | head -1)," \
    "$(valgrind --version)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo
"$bin" "$@"
echo
echo "bytes per object (intc-bench --sizes):"
"$bin" --sizes | awk -F'|' '{ printf "  %-45s %s\n", $2, $3 }'
