#!/bin/sh
# Teeth of the reference-model oracle (O11, fuzz/ref_model.c): plant each
# bug of fuzz/mutants/*.patch in a copy of the library, build fuzz_machine
# against it with the reference model as its only oracle (-DMO_O11_ONLY),
# fuzz it from the seed corpus for at most MAX_TIME seconds, and say
# whether the model caught it: the fuzzer stopped on an oracle abort
# whose input passes on the unmutated library (built the same way), so
# the catch is the bug's and not a false alarm of the model.
#
#   fuzz/mutants.sh [PATCH...]        (default: every fuzz/mutants/*.patch)
#
# Environment: MAX_TIME (default 300), SEED (default 1), CC (clang),
# CORPUS (default fuzz/corpus/fuzz_machine: the seeds fuzzing starts from),
# WORK (default: a new directory under /tmp, kept for the artifacts),
# LOCK (default /tmp/intc-build.lock: builds take it with flock; the
# fuzzer runs outside it), MAX_OTHER_FUZZERS (default 1: wait until at
# most that many other fuzz/fuzz_ processes run before starting one).
# Prints one line per mutant and a table; exits 0 only if every mutant
# was caught.  Not part of ctest (it takes up to 7 x 5 minutes).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MAX_TIME=${MAX_TIME:-300}
CORPUS=${CORPUS:-$ROOT/fuzz/corpus/fuzz_machine}
SEED=${SEED:-1}
CC=${CC:-clang}
LOCK=${LOCK:-/tmp/intc-build.lock}
MAX_OTHER_FUZZERS=${MAX_OTHER_FUZZERS:-1}
WORK=${WORK:-$(mktemp -d /tmp/intc-mutants.XXXXXX)}
mkdir -p "$WORK"

if [ $# -eq 0 ]; then
    set -- "$ROOT"/fuzz/mutants/*.patch
fi

locked() {
    if command -v flock >/dev/null 2>&1; then
        flock "$LOCK" "$@"
    else
        "$@"
    fi
}

wait_for_cores() {
    while [ "$(pgrep -f 'fuzz/fuzz_' | wc -l)" -gt "$MAX_OTHER_FUZZERS" ]; do
        sleep 10
    done
}

# copy DIR [PATCH]: the sources (no build trees, no .git) in DIR/src,
# the patch applied, fuzz_machine built in DIR/build with O11 alone.
copy_build() {
    rm -rf "$1"
    mkdir -p "$1/src" "$1/art" "$1/corpus"
    (cd "$ROOT" && tar cf - --exclude=./build --exclude=./.git .) |
        (cd "$1/src" && tar xf -)
    if [ -n "${2:-}" ] && ! (cd "$1/src" && patch -s -p1 < "$2"); then
        echo "patch does not apply" > "$1/build.log"
        return 1
    fi
    locked sh -c "cmake -S '$1/src' -B '$1/build' -G Ninja \
            -DCMAKE_C_COMPILER='$CC' -DINTC_FUZZ=ON \
            -DCMAKE_C_FLAGS=-DMO_O11_ONLY=1 -DINTC_BUILD_TESTS=OFF \
            -DINTC_BUILD_EXAMPLES=OFF > '$1/build.log' 2>&1 &&
            ninja -C '$1/build' fuzz_machine >> '$1/build.log' 2>&1"
}

if ! copy_build "$WORK/clean"; then
    echo "the unmutated build failed (see $WORK/clean/build.log)"
    exit 1
fi
clean="$WORK/clean/build/fuzz/fuzz_machine"

all=0
summary="$WORK/summary.txt"
: > "$summary"
for patch in "$@"; do
    name=$(basename "$patch" .patch)
    dir="$WORK/$name"
    if ! copy_build "$dir" "$patch"; then
        echo "$name: $(head -1 "$dir/build.log") (see $dir/build.log)"
        printf '%s\tbuild failed\t-\t-\n' "$name" >> "$summary"
        all=1
        continue
    fi
    wait_for_cores
    start=$(date +%s)
    (cd "$dir/src" &&
        ASAN_OPTIONS=detect_leaks=0 "$dir/build/fuzz/fuzz_machine" \
            -max_len=2048 -dict=fuzz/fuzz_machine.dict -timeout=25 \
            -seed="$SEED" -max_total_time="$MAX_TIME" -print_final_stats=1 \
            -artifact_prefix="$dir/art/" "$dir/corpus" \
            "$CORPUS" > "$dir/fuzz.log" 2>&1)
    secs=$(( $(date +%s) - start ))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$dir/fuzz.log" |
            tail -1 | awk '{print $2}')
    if [ -z "$execs" ]; then
        execs=$(grep -o '^#[0-9]*' "$dir/fuzz.log" | tail -1 | tr -d '#')
    fi
    crash=$(ls "$dir"/art/crash-* 2>/dev/null | head -1)
    why=$(grep -m1 'fuzz_machine oracle:' "$dir/fuzz.log" |
          sed 's/^fuzz_machine oracle: //')
    if [ -n "$crash" ] && [ -n "$why" ] &&
        ! ASAN_OPTIONS=detect_leaks=0 "$clean" -runs=0 "$crash" \
            > "$dir/clean-replay.log" 2>&1; then
        echo "$name: FALSE ALARM: the input also fails without the bug: $why"
        printf '%s\tfalse alarm\t%s\t%s\t%s\n' "$name" "$secs" \
            "${execs:-?}" "$why" >> "$summary"
        all=1
    elif [ -n "$crash" ] && [ -n "$why" ]; then
        echo "$name: caught after ${secs} s, ${execs:-?} executions: $why"
        echo "    reproducer: $crash"
        printf '%s\tcaught\t%s\t%s\t%s\n' "$name" "$secs" "${execs:-?}" \
            "$why" >> "$summary"
    else
        echo "$name: not caught (${secs} s, ${execs:-?} executions)"
        printf '%s\tnot caught\t%s\t%s\n' "$name" "$secs" "${execs:-?}" \
            >> "$summary"
        all=1
    fi
done
echo
echo "| mutant | result | seconds | executions |"
echo "| --- | --- | ---: | ---: |"
awk -F '\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$summary"
echo "(work directory: $WORK)"
exit $all
