#!/bin/bash
# Measure the fuzz targets for docs/fuzzing.md: executions per second per
# target (libFuzzer's own statistics over a fixed-length run), the line
# coverage of libintc/ reached by the corpora, and the line and branch
# coverage of the unit tests (both modes, traced and untraced) and the
# corpora together (llvm-cov).
#
#   ./scripts/fuzz-report.sh [SECONDS] [CORPUS_ROOT]
#
# SECONDS (default 60) is the length of each target's speed run; 0 skips
# the speed runs (coverage only).
# CORPUS_ROOT (default fuzz/corpus) holds one directory per target, named
# like the target (fuzz_lapic/ ...); point it at a grown corpus (e.g. the
# directories of a long run) to measure what that run reached.
# Prints a Markdown table on stdout; build output goes to build/fuzz-report
# (and build/fuzz-report-tests for the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

secs=${1:-60}
corpora=${2:-fuzz/corpus}
intc_need_packages "${INTC_BUILD_PACKAGES[@]}" clang libclang-rt-14-dev llvm

jobs=$(intc_jobs)
bdir=build/fuzz-report
# One build serves both measurements: ASan/UBSan as in CI (exec/s are
# those of the real fuzzing configuration) plus coverage mapping.
cmake -S . -B "$bdir" -G Ninja -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINTC_FUZZ=ON -DINTC_BUILD_TESTS=OFF \
    -DINTC_BUILD_EXAMPLES=OFF -DINTC_BUILD_TOOLS=OFF \
    -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
    >"$bdir.log" 2>&1 || { cat "$bdir.log"; exit 1; }
cmake --build "$bdir" --parallel "$jobs" >>"$bdir.log" 2>&1 ||
    { tail -50 "$bdir.log"; exit 1; }

prof=$bdir/profiles
rm -rf "$prof" && mkdir -p "$prof"
objects=()
printf '| target | exec/s | corpus files | lines of libintc/ covered by its corpus |\n'
printf '| --- | ---: | ---: | ---: |\n'
for bin in "$bdir"/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    t=$(basename "$bin")
    opts=()
    if [ -f "fuzz/$t.options" ]; then
        while IFS='=' read -r k v; do
            k=${k// /}; v=${v// /}
            [ -n "$k" ] && [ -n "$v" ] || continue
            case $k in \[*) continue ;; dict) v=fuzz/$v ;; esac
            opts+=("-$k=$v")
        done <"fuzz/$t.options"
    fi
    corpus=$corpora/$t
    [ -d "$corpus" ] || corpus=fuzz/corpus/$t
    n=$(find "$corpus" -type f | wc -l)
    # Coverage: replay the corpus (-runs=0).
    LLVM_PROFILE_FILE="$prof/$t.profraw" "$bin" "${opts[@]}" -runs=0 \
        "$corpus" >/dev/null 2>&1 || true
    # Speed: a fresh run from the corpus into a scratch copy.
    eps=-
    if [ "$secs" != 0 ]; then
        work=$bdir/work/$t
        rm -rf "$work" && mkdir -p "$work" && cp -r "$corpus"/. "$work"/
        eps=$(LLVM_PROFILE_FILE=/dev/null "$bin" "${opts[@]}" -seed=1 \
            -max_total_time="$secs" -print_final_stats=1 "$work" 2>&1 |
            sed -n 's/^stat::average_exec_per_sec: *//p' | tail -1)
    fi
    llvm-profdata merge -sparse "$prof/$t.profraw" -o "$prof/$t.profdata"
    cov=$(llvm-cov report "$bin" -instr-profile="$prof/$t.profdata" \
        "$(pwd)/libintc" 2>/dev/null | awk '/^TOTAL/ {print $(NF-3)}')
    objects+=(-object "$bin")
    printf '| %s | %s | %s | %s |\n' "$t" "${eps:-?}" "$n" "${cov:-?}"
done

# All corpora together.
llvm-profdata merge -sparse "$prof"/fuzz_*.profraw -o "$prof/all.profdata"
first=${objects[1]}
printf '\nAll targets together:\n\n```\n'
llvm-cov report "$first" "${objects[@]:2}" -instr-profile="$prof/all.profdata" \
    "$(pwd)/libintc"
printf '```\n'

# The unit tests (every cmocka binary, traced and untraced, through ctest)
# with the same coverage instrumentation, then tests and corpora together:
# the figure the coverage target is about.
intc_need_packages libcmocka-dev
tdir=build/fuzz-report-tests
cmake -S . -B "$tdir" -G Ninja -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINTC_BUILD_TESTS=ON \
    -DINTC_BUILD_EXAMPLES=OFF -DINTC_BUILD_TOOLS=OFF \
    -DCMAKE_C_FLAGS="-fprofile-instr-generate -fcoverage-mapping" \
    >"$tdir.log" 2>&1 || { cat "$tdir.log"; exit 1; }
cmake --build "$tdir" --parallel "$jobs" >>"$tdir.log" 2>&1 ||
    { tail -50 "$tdir.log"; exit 1; }
LLVM_PROFILE_FILE="$(pwd)/$prof/test-%p.profraw" ctest --test-dir "$tdir" \
    -L unit --parallel "$jobs" >>"$tdir.log" 2>&1 ||
    { tail -50 "$tdir.log"; exit 1; }
tests=()
for bin in "$tdir"/tests/test_*; do
    [ -x "$bin" ] && [ -f "$bin" ] && tests+=(-object "$bin")
done
llvm-profdata merge -sparse "$prof"/test-*.profraw -o "$prof/tests.profdata"
llvm-profdata merge -sparse "$prof"/*.profraw -o "$prof/everything.profdata"
printf '\nUnit tests alone:\n\n```\n'
llvm-cov report "${tests[@]:1}" -instr-profile="$prof/tests.profdata" \
    "$(pwd)/libintc"
printf '```\n\nUnit tests and all corpora together:\n\n```\n'
llvm-cov report "$first" "${objects[@]:2}" "${tests[@]}" \
    -instr-profile="$prof/everything.profdata" "$(pwd)/libintc"
printf '```\n'
