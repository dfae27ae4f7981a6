#!/bin/bash
# Fuzz one target with AFL++ past one process: one main (-M) and N
# secondary (-S) afl-fuzz instances sharing one sync folder, for a bounded
# time, then a summary.
#
#   fuzz/afl.sh TARGET [N [SECONDS]]    e.g. fuzz/afl.sh fuzz_lapic 3 3600
#   fuzz/afl.sh build                   build (or refresh) the binaries only
#
# TARGET   a fuzz target (fuzz_lapic, fuzz_machine, ... : fuzz/fuzz_*.c)
# N        secondary instances (default 1): N+1 afl-fuzz processes; give
#          each a core of its own (nproc)
# SECONDS  how long each instance fuzzes (afl-fuzz -V; default 600)
#
# Needs AFL++ (Debian: apt-get install afl++).  The binaries are built by
# fuzz/build.sh with CC=afl-clang-fast and AFL++'s libFuzzer-compatible
# driver (libAFLDriver.a) as LIB_FUZZING_ENGINE, ASan+UBSan as in the
# CMake fuzz build, into $INTC_AFL_DIR/out; they are rebuilt when missing
# or older than a source file (*.c, *.h in libintc/, include/, fuzz/,
# tools/intc-sim/; fuzz/build.sh).
#
# Each instance gets the target's dictionary (-x fuzz/<t>.dict), max_len
# from fuzz/<t>.options (-G) and the seeds build.sh packs for ClusterFuzz
# (fuzz/corpus/<t>/, plus the scenario files for fuzz_scenario) together
# with fuzz/regressions/<t>/.  Secondaries use different power schedules
# (explore, coe, lin, quad, exploit, rare, in turn) so they do not all
# walk the same way; they share finds through the sync folder.
#
# Layout under $INTC_AFL_DIR (default build/afl):
#   out/              the AFL++ binaries, .dict, .options, seed zips
#   sync/<t>/         the sync folder: main/, sec1/ ... each with queue/,
#                     crashes/, hangs/, fuzzer_stats
#   logs/<t>/         each instance's output
#   seeds/<t>/        the initial inputs
# An existing sync folder is resumed (AFL_AUTORESUME); INTC_AFL_FRESH=1
# starts from the seeds again.  INTC_AFL_TIMEOUT sets afl-fuzz -t (default:
# AFL++'s own calibration).
#
# Environment set here for unattended machines (CI runners, containers):
#   AFL_SKIP_CPUFREQ=1  do not refuse to start when the CPU frequency
#       governor is not "performance" (it cannot be changed in a VM)
#   AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1  do not refuse to start when
#       core dumps go to a helper (core_pattern is "|..."; crashes are still
#       detected from the exit status)
#   AFL_NO_UI=1  plain status lines instead of the curses screen
#   AFL_NO_AFFINITY=1  do not pin instances to cores (shared machines)
#   AFL_AUTORESUME=1  resume an existing sync folder instead of refusing
#   ASAN_OPTIONS / UBSAN_OPTIONS  abort on the first report, no
#       symbolization (afl-fuzz requires abort_on_error=1:symbolize=0);
#       leak checking off (the libFuzzer runs check leaks)
# Exit status: 0 when no instance saved a crash, 1 when one did (the
# summary lists them), 2 on usage or setup errors.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

usage()
{
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
[ $# -ge 1 ] || usage
target=$1
n_sec=${2:-1}
secs=${3:-600}
if ! [[ $n_sec =~ ^[0-9]+$ && $secs =~ ^[1-9][0-9]*$ ]]; then
    usage
fi

for tool in afl-fuzz afl-clang-fast afl-whatsup; do
    if ! command -v "$tool" >/dev/null; then
        echo "afl.sh: $tool not found (Debian: apt-get install afl++)" >&2
        exit 2
    fi
done

dir=${INTC_AFL_DIR:-build/afl}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bins=$dir/out

# --- build (or reuse) ------------------------------------------------------
driver=$(dpkg -L afl++ 2>/dev/null | grep '/libAFLDriver\.a$' | head -n 1 ||
    true)
[ -n "$driver" ] || driver=/usr/lib/afl/libAFLDriver.a
if [ ! -f "$driver" ]; then
    echo "afl.sh: AFL++'s libAFLDriver.a not found" >&2
    exit 2
fi
if [ "$target" != build ] && [ ! -f "fuzz/$target.c" ]; then
    echo "afl.sh: no fuzz target $target (fuzz/$target.c)" >&2
    exit 2
fi
stamp=$bins/.built
stale=1
if [ -f "$stamp" ] && { [ "$target" = build ] || [ -x "$bins/$target" ]; } &&
    [ -z "$(find libintc include fuzz tools/intc-sim -type f \
        \( -name '*.[ch]' -o -path fuzz/build.sh \) -newer "$stamp" \
        -print -quit)" ]; then
    stale=0
fi
if [ $stale = 1 ]; then
    echo "=== building the AFL++ binaries into $bins"
    rm -rf "$bins"
    CC=afl-clang-fast CXX=afl-clang-fast++ LIB_FUZZING_ENGINE=$driver \
        OUT=$bins AFL_QUIET=1 fuzz/build.sh
    touch "$stamp"
else
    echo "=== reusing the AFL++ binaries in $bins"
fi
[ "$target" = build ] && exit 0

bin=$bins/$target
if [ ! -x "$bin" ]; then
    echo "afl.sh: no target $target in $bins" >&2
    ls "$bins" >&2
    exit 2
fi

# --- seeds, dictionary, max_len -----------------------------------------
seeds=$dir/seeds/$target
rm -rf "$seeds"
mkdir -p "$seeds"
if command -v unzip >/dev/null; then
    unzip -q -o "$bins/${target}_seed_corpus.zip" -d "$seeds"
else
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$bins/${target}_seed_corpus.zip" "$seeds"
fi
if [ -d "fuzz/regressions/$target" ]; then
    find "fuzz/regressions/$target" -type f -exec cp {} "$seeds/" \;
fi
args=()
if [ -f "fuzz/$target.dict" ]; then
    args+=(-x "$root/fuzz/$target.dict")
fi
max_len=$(sed -n 's/^ *max_len *= *\([0-9]*\) *$/\1/p' \
    "fuzz/$target.options" 2>/dev/null || true)
if [ -n "$max_len" ]; then
    args+=(-G "$max_len")
fi
if [ -n "${INTC_AFL_TIMEOUT:-}" ]; then
    args+=(-t "$INTC_AFL_TIMEOUT")
fi

# --- run ------------------------------------------------------------------
sync=$dir/sync/$target
logs=$dir/logs/$target
if [ "${INTC_AFL_FRESH:-0}" = 1 ]; then
    rm -rf "$sync"
fi
mkdir -p "$sync" "$logs"

export AFL_SKIP_CPUFREQ=1
export AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1
export AFL_NO_AFFINITY=1
export AFL_AUTORESUME=1
export ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0:allocator_may_return_null=1:detect_odr_violation=0
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0:print_stacktrace=0

if [ $((n_sec + 1)) -gt "$(nproc)" ]; then
    echo "note: $((n_sec + 1)) instances on $(nproc) cores" >&2
fi
schedules=(explore coe lin quad exploit rare)
names=(main)
pids=()
# shellcheck disable=SC2317  # called from the trap
stop()
{
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
}
trap 'stop; exit 130' INT TERM

echo "=== $target: 1 main + $n_sec secondary instances, ${secs} s each," \
    "sync folder $sync"
afl-fuzz -M main -i "$seeds" -o "$sync" "${args[@]}" -V "$secs" \
    -- "$bin" >"$logs/main.log" 2>&1 &
pids+=($!)
for ((i = 1; i <= n_sec; i++)); do
    p=${schedules[$(((i - 1) % ${#schedules[@]}))]}
    names+=("sec$i")
    afl-fuzz -S "sec$i" -p "$p" -i "$seeds" -o "$sync" "${args[@]}" \
        -V "$secs" -- "$bin" >"$logs/sec$i.log" 2>&1 &
    pids+=($!)
done
echo "    pids ${pids[*]}; logs in $logs"

rc=0
for ((i = 0; i < ${#pids[@]}; i++)); do
    if ! wait "${pids[$i]}"; then
        echo "afl-fuzz ${names[$i]} failed; end of $logs/${names[$i]}.log:" >&2
        tail -n 20 "$logs/${names[$i]}.log" >&2
        rc=2
    fi
done
trap - INT TERM

# --- summary ------------------------------------------------------------
echo "=== afl-whatsup -s -d $sync"
# (TERM=dumb: no colour codes, and no tput errors without a terminal.)
TERM=dumb afl-whatsup -s -d "$sync" || true
field()
{
    sed -n "s/^$2 *: *//p" "$1/fuzzer_stats" 2>/dev/null | head -n 1
}
echo "=== per instance"
printf '%-6s %12s %10s %8s %10s %8s %6s %6s\n' instance execs exec/s \
    corpus edges bitmap crashes hangs
for n in "${names[@]}"; do
    d=$sync/$n
    [ -f "$d/fuzzer_stats" ] || { echo "$n: no fuzzer_stats"; continue; }
    printf '%-6s %12s %10s %8s %10s %8s %6s %6s\n' "$n" \
        "$(field "$d" execs_done)" "$(field "$d" execs_per_sec)" \
        "$(field "$d" corpus_count)" "$(field "$d" edges_found)" \
        "$(field "$d" bitmap_cvg)" "$(field "$d" saved_crashes)" \
        "$(field "$d" saved_hangs)"
done
crashes=$(find "$sync"/*/crashes -type f -name 'id:*' 2>/dev/null | wc -l)
hangs=$(find "$sync"/*/hangs -type f -name 'id:*' 2>/dev/null | wc -l)
echo "crashes: $crashes, hangs: $hangs (in $sync/*/crashes/ and $sync/*/hangs/)"
if [ "$crashes" -gt 0 ]; then
    find "$sync"/*/crashes -type f -name 'id:*'
    echo "reproduce: $bin CRASH_FILE   (or the libFuzzer build:" \
        "build/fuzz/fuzz/$target CRASH_FILE)"
    [ $rc = 0 ] && rc=1
fi
exit $rc
