#!/bin/bash
# The benchmark, one command: bench/run.sh [case]
#
# Builds intc-bench (build/bench, RelWithDebInfo = -O2, no sanitizers),
# runs it once natively (wall time, printed as the ratio libintc /
# reference of that same run, never asserted) and once under callgrind
# (instruction counts: each case's dump total / iterations, less the
# loop and collection-toggle overhead measured by the calib cases, / the
# targets of a broadcast), then prints the table and the object sizes.
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

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" "$@" >"$out/wall.txt"
valgrind --tool=callgrind --instr-atstart=yes --dump-instr=no \
    --callgrind-out-file="$out/cg.out" "$bin" "$@" >/dev/null \
    2>"$out/valgrind.log" || {
    cat "$out/valgrind.log" >&2
    exit 1
}
"$bin" --sizes >"$out/sizes.txt"

echo "libintc $(git describe --always --dirty 2>/dev/null || echo '?'), $(date -u +%Y-%m-%d)," \
    "$(${CC:-cc} --version | head -1), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo

# Each dump: "desc: Trigger: Client Request: bench|side|case|n|div|toggled|target"
# then "summary: <Ir>" (or "totals:").
i=1
while [ -f "$out/cg.out.$i" ]; do
    f=$out/cg.out.$i
    i=$((i + 1))
    awk '/^desc: Trigger: Client Request: bench\|/ {
             sub(/^desc: Trigger: Client Request: /, ""); label = $0 }
         /^(summary|totals):/ && label != "" { print label "|" $2; exit }' "$f"
done | awk -F'|' -v wall="$out/wall.txt" -v sizes="$out/sizes.txt" '
function fmt(x) { return sprintf(x >= 100 ? "%.0f" : "%.1f", x) }
BEGIN {
    while ((getline line < wall) > 0) {
        split(line, w, "|")
        if (w[1] == "wall") ns[w[2] "|" w[3]] = w[4]
    }
    while ((getline line < sizes) > 0) {
        split(line, s, "|")
        size[s[2]] = s[3]
    }
}
{
    side = $2; name = $3; n = $4; div[name] = $5; tog[name] = $6
    target[name] = $7
    raw[side "|" name] = $8 / n
    if (side == "lib" && !(name in seen)) { seen[name] = 1; order[++k] = name }
}
END {
    loop = raw["lib|calib-loop"]; toggle = raw["lib|calib-toggle"]
    printf "%-22s %14s %14s %9s %12s %5s %10s\n", "case", "libintc/op",
        "reference/op", "ratio", "target", "met?", "wall ratio"
    for (i = 1; i <= k; i++) {
        name = order[i]
        if (name ~ /^calib/) continue
        over = tog[name] ? toggle : loop
        lib = (raw["lib|" name] - over) / div[name]
        ref = ("ref|" name) in raw ? (raw["ref|" name] - over) / div[name] : -1
        val[name] = lib
        t = "-"; met = ""
        if (target[name] > 0) {
            t = "<= " target[name] (div[name] > 1 ? "/tgt" : "")
            met = lib <= target[name] ? "yes" : "NO"
        }
        if (name == "cluster-x2apic-4096" && ("cluster-x2apic-16" in val)) {
            t = "<= 1.1 x N=16"
            met = lib <= 1.1 * val["cluster-x2apic-16"] ? "yes" : "NO"
        }
        wr = "-"
        if (("lib|" name) in ns && ns["ref|" name] > 0)
            wr = sprintf("%.2f", ns["lib|" name] / ns["ref|" name])
        label = name
        if (div[name] > 1) label = name "/tgt"
        rs = "-"; ratio = "-"
        if (ref >= 0) rs = fmt(ref)
        if (ref > 0) ratio = sprintf("%.2f", lib / ref)
        printf "%-22s %14s %14s %9s %12s %5s %10s\n", label, fmt(lib), rs,
            ratio, t, met, wr
    }
    hot = size["intc_lapic hot part (irr..pir_on)"]
    printf "%-22s %14s %14s %9s %12s %5s %10s\n", "lapic-hot-bytes", hot,
        "-", "-", "<= 256", hot <= 256 ? "yes" : "NO", "-"
    print ""
    print "instructions per operation (callgrind Ir; /tgt: per target CPU);"
    print "ratio = libintc / reference; wall ratio = native ns libintc / reference"
    print ""
    print "bytes per object:"
    close(sizes)
    while ((getline line < sizes) > 0) {
        split(line, s, "|")
        printf "  %-45s %s\n", s[2], s[3]
    }
}'
