#!/bin/bash
# Where intc-uc-bench's host time goes: bench/uc_profile.sh [CASE...]
#
# For each case of intc-uc-bench (default: uc-tight timer-busy timer-halt
# ipi-xapic ipi-x2apic) runs it once alone under `perf record` (user
# space, cpu-clock samples) and prints the share of the samples in
#   guest code   code Unicorn translated from the guest (anonymous JIT
#                memory: perf's [unknown] / [JIT] objects)
#   Unicorn      libunicorn (translation, helpers, MMIO dispatch, hooks'
#                callers, uc_emu_start/stop)
#   libintc-uc   the glue: functions of libintc-uc.a
#   libintc      functions of libintc.a
#   libc         libc and the dynamic loader (malloc/free...)
#   bench        intc-uc-bench's own code
# then the five functions with the most samples.  Kernel time is not
# sampled (perf_event_paranoid 2 allows user space only).  Needs perf,
# nm, python3 and a built build dir: INTC_UC_BENCH_DIR (default
# build/werror, configured as in docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${INTC_UC_BENCH_DIR:-build/werror}
bin=$dir/bench/intc-uc-bench
lib_uc=$(find "$dir" -name 'libintc-uc.a' | head -1)
lib_intc=$(find "$dir" -name 'libintc.a' | head -1)
[ -x "$bin" ] && [ -n "$lib_uc" ] && [ -n "$lib_intc" ] ||
    { echo "build $dir first (target intc-uc-bench)" >&2; exit 1; }
[ $# -gt 0 ] || set -- uc-tight timer-busy timer-halt ipi-xapic ipi-x2apic

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
nm --defined-only "$lib_uc" | awk 'NF == 3 { print $3 }' >"$out/uc.syms"
nm --defined-only "$lib_intc" | awk 'NF == 3 { print $3 }' >"$out/intc.syms"
for c in "$@"; do
    perf record -q -e cpu-clock:u -F 4999 -o "$out/$c.data" -- \
        "$bin" --case "$c" --reps 1 >/dev/null 2>"$out/log" ||
        { cat "$out/log" >&2; exit 1; }
    perf report -i "$out/$c.data" --stdio --no-children -F overhead,dso,sym \
        --sort dso,sym 2>/dev/null >"$out/$c.txt"
done
exec python3 - "$out" "$@" <<'PY'
import re, sys
out, cases = sys.argv[1], sys.argv[2:]
uc = set(open(out + '/uc.syms').read().split())
intc = set(open(out + '/intc.syms').read().split())
line = re.compile(r'^\s*([\d.]+)%\s+(.*?)\s+\[.\]\s+(.*?)\s*$')
def group(dso, sym):
    if dso.startswith('libunicorn'):
        return 'Unicorn'
    if dso.startswith('[JIT]') or dso == '[unknown]' or \
            dso.startswith('perf-'):
        return 'guest code'
    if dso.startswith('libc') or dso.startswith('ld-linux'):
        return 'libc'
    if dso == 'intc-uc-bench':
        if sym in uc:
            return 'libintc-uc'
        if sym in intc:
            return 'libintc'
        return 'bench'
    return 'other'
cols = ['guest code', 'Unicorn', 'libintc-uc', 'libintc', 'libc', 'bench',
        'other']
print('%-11s' % 'case' + ''.join('%12s' % c for c in cols))
tops = {}
for c in cases:
    share = dict.fromkeys(cols, 0.0)
    fns = []
    for l in open('%s/%s.txt' % (out, c)):
        m = line.match(l)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        g = group(dso, sym)
        share[g] += pct
        fns.append((pct, sym, g))
    print('%-11s' % c + ''.join('%11.1f%%' % share[k] for k in cols))
    tops[c] = sorted(fns, reverse=True)[:5]
for c in cases:
    print('\n%s: top functions' % c)
    for pct, sym, g in tops[c]:
        print('  %5.1f%%  %-40s %s' % (pct, sym[:40], g))
PY
