#!/bin/bash
# Where a case's instructions go: bench/profile.sh CASE [VARIANT [TRACED]]
#
# Runs `intc-bench --measure CASE` under callgrind and prints, for the
# dump of VARIANT (0 id=index, 1 sparse-ids, 2 vtd-pt; default 0) and
# TRACED (0 or 1; default 0), the instructions per operation of each
# source function of libintc, inlined ones included (callgrind's line
# costs, each line charged to the C function whose body holds it),
# largest first: the profile behind a count in docs/performance.md.
# The benchmark's own loop and op wrapper (bench.c) are listed too; the
# table subtracts them through its calibration cases.  Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."

case=${1:?usage: bench/profile.sh CASE [VARIANT [TRACED]]}
variant=${2:-0}
traced=${3:-0}
dir=${INTC_BENCH_DIR:-build/bench}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DINTC_SANITIZE=OFF -DINTC_FUZZ=OFF -DINTC_BUILD_BENCH=ON \
    -DINTC_BUILD_TOOLS=OFF >/dev/null
cmake --build "$dir" --target intc-bench >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --compress-strings=no --compress-pos=no \
    --callgrind-out-file="$out/cg" "$dir/bench/intc-bench" --measure "$case" \
    >/dev/null 2>"$out/log" || { cat "$out/log" >&2; exit 1; }

exec python3 - "$out" "$case" "$variant" "$traced" <<'PY'
import glob, os, re, sys
out, case, variant, traced = sys.argv[1:]
# A function definition's first line: a return type, a name, "(".
defn = re.compile(r'^(?:[A-Za-z_][\w ]*[\s*])?([A-Za-z_]\w*)\(')
names = {}
def func_of(path, line):
    if path not in names:
        table, cur = [], None
        try:
            src = open(path).read().split('\n')
        except OSError:
            src = []
        for text in src:
            m = defn.match(text)
            if m and not text.startswith((' ', '\t', '#')):
                cur = m.group(1)
            table.append(cur)
        names[path] = table
    t = names[path]
    name = t[line - 1] if 0 < line <= len(t) and t[line - 1] else '?'
    return '%s (%s)' % (name, os.path.basename(path))
for f in sorted(glob.glob(out + '/cg.*')):
    lines = open(f).read().split('\n')
    label = next((l for l in lines if l.startswith('desc: Trigger')), '')
    parts = label.split('Client Request: ')[-1].split('|')
    if len(parts) < 5 or parts[1:4] != [case, variant, traced]:
        continue
    iters = int(parts[4])
    cost, fl, fi, skip = {}, '?', None, False
    for l in lines:
        if l.startswith('fl='):
            fl, fi = l[3:], None
        elif l.startswith(('fi=', 'fe=')):
            fi = l[3:]
        elif l.startswith('fn='):
            fi = None
        elif l.startswith('calls='):
            skip = True
        elif l[:1].isdigit() or l[:1] in '+-':
            if skip:          # the call's inclusive cost, not this line's
                skip = False
                continue
            fields = l.split()
            if len(fields) < 2:
                continue
            ln, ir = fields[:2]
            key = func_of(fi or fl, int(ln))
            cost[key] = cost.get(key, 0) + int(ir)
    print('%s variant %s traced %s: instructions per op by source function'
          % (case, variant, traced))
    for k, v in sorted(cost.items(), key=lambda kv: -kv[1]):
        if v / iters >= 0.5:
            print('%8.1f  %s' % (v / iters, k))
    print('%8.1f  total' % (sum(cost.values()) / iters))
    sys.exit(0)
sys.exit('no dump for case %s variant %s traced %s' % (case, variant, traced))
PY
