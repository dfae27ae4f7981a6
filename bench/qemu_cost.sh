#!/bin/bash
# The guest's IPI and MSI round trips in QEMU, in host instructions
# (issue 14, point 5; docs/performance.md, "QEMU: the guest's round
# trips"):
#
#   bench/qemu_cost.sh [-q QEMU] [-r REF] [-n 'N1 N2'] [-R REPS] [-p]
#                      [-k KERNEL] [-o DIR] [CASE...]
#
#   -q  the libintc QEMU (default: integrations/qemu/build.sh --print,
#       the cached build of this tree).  It is run twice: "stock" with
#       -M q35 (x-libintc off: QEMU's own APIC, IOAPIC and MSI path) and
#       "libintc" with -M q35,x-libintc=on, so both columns are the same
#       compile.
#   -r  a reference QEMU run with -M q35 only, e.g. Debian's
#       /usr/bin/qemu-system-x86_64 (default: none)
#   -n  the two loop counts (default '1000 20000')
#   -R  runs of each (column, case, count) (default 2): the spread
#   -p  also print, per column and case, where the loop's instructions
#       go (the larger count's loop dump, per round trip): by component
#       and the 10 functions with the most instructions of their own
#   -k  a built guest kernel (default: build one with mkkernel.sh)
#   -o  work directory for the callgrind files and logs (default: new)
#   CASE  bench_ipi, bench_ipi_x2apic, bench_msi, bench_msi_x2apic,
#       bench_msi_ir (the MSI through VT-d interrupt remapping: QEMU
#       gets -device intel-iommu,intremap=on,x-buggy-eim=on, the kernel
#       iommu=vtd), bench_msi_ir_amd (the MSI through AMD-Vi interrupt
#       remapping, 32-bit IRTEs, no XT: QEMU gets -device
#       amd-iommu,intremap=on, the kernel iommu=amdvi)
#       (default all; the x2APIC ones run on the libintc column only:
#       stock TCG has no x2APIC)
#
# Each run boots the guest test kernel (integrations/qemu/tests/guest)
# with test=CASE n=N under
#
#   valgrind --tool=callgrind --dump-before=test_ioport_write QEMU
#       -L /usr/share/seabios -L /usr/share/qemu -M MACHINE -smp 2 -cpu max
#       -accel tcg,thread=single -m 256 -nographic -no-reboot -nic none
#       -kernel K -append 'test=CASE ncpu=2 n=N'
#       -device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev
#       -device edu
#
# (the remapped cases with their IOMMU after -nic none) and takes two
# counts of host instructions (callgrind's Ir, every thread,
# JIT-compiled guest code included): the whole run, and the
# loop alone (the kernel marks its start and end by writes to
# pc-testdev's port 0xe0, which reach QEMU's test_ioport_write; a binary
# without symbols, like Debian's, gives the whole run only).  The cost
# of one round trip is (count(N2) - count(N1)) / (N2 - N1): boot,
# set-up and shutdown cancel.  Instruction counts, not time: one
# vCPU thread (thread=single) and waits by HLT keep them independent of
# the host's speed and load; what remains are QEMU's host-clock timers
# firing during the run, which the spread of the -R runs shows.
#
# Set INTC_QEMU_LOCK=FILE to hold flock FILE around each run and around
# the kernel build.  Needs valgrind and python3.  Exit status 0 when
# every run completed (the guest printed PASS), 1 otherwise; nothing is
# compared with a target.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
guest=$here/integrations/qemu/tests/guest
die() { echo "qemu_cost.sh: $*" >&2; exit 2; }

qemu=
ref=
counts='1000 20000'
reps=2
profile=0
kernel=
work=
while getopts "q:r:n:R:pk:o:h" opt; do
    case $opt in
    q) qemu=$OPTARG ;;
    r) ref=$OPTARG ;;
    n) counts=$OPTARG ;;
    R) reps=$OPTARG ;;
    p) profile=1 ;;
    k) kernel=$OPTARG ;;
    o) work=$OPTARG ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
read -r n1 n2 <<<"$counts"
[ -n "${n2:-}" ] && [ "$n2" -gt "$n1" ] ||
    die "-n needs two counts, the second larger"
cases=("$@")
[ ${#cases[@]} -gt 0 ] ||
    cases=(bench_ipi bench_ipi_x2apic bench_msi bench_msi_x2apic
        bench_msi_ir bench_msi_ir_amd)

command -v valgrind >/dev/null || die "no valgrind"
if [ -z "$qemu" ]; then
    qemu=$("$here/integrations/qemu/build.sh" --print) ||
        die "no QEMU built for this tree (build.sh)"
fi
[ -x "$qemu" ] || die "no QEMU at $qemu"
[ -z "$ref" ] || [ -x "$ref" ] || die "no QEMU at $ref"
lock=()
[ -n "${INTC_QEMU_LOCK:-}" ] && lock=(flock "$INTC_QEMU_LOCK")
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/intc-qcost.XXXXXX")}
mkdir -p "$work"
if [ -z "$kernel" ]; then
    "${lock[@]}" "$guest/mkkernel.sh" "$work" >/dev/null
    kernel=$work/guest-kernel.bin
fi

# The columns: name, binary, machine.
cols=(stock libintc)
declare -A col_qemu=([stock]=$qemu [libintc]=$qemu)
declare -A col_machine=([stock]=q35 [libintc]=q35,x-libintc=on)
if [ -n "$ref" ]; then
    cols=(ref "${cols[@]}")
    col_qemu[ref]=$ref
    col_machine[ref]=q35
fi

echo "\$ bench/qemu_cost.sh -n '$n1 $n2' -R $reps${*:+ $*}"
rev=$(git -C "$here" describe --always --dirty 2>/dev/null || echo '?')
echo "libintc $rev," \
    "$(date -u '+%Y-%m-%d %H:%M UTC'), $(valgrind --version)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
for c in "${cols[@]}"; do
    q=${col_qemu[$c]}
    printf '%-8s %s -M %s\n%-8s %s, sha1 %s\n' "$c" "$q" "${col_machine[$c]}" \
        '' "$("$q" --version | head -1 | sed 's/^QEMU emulator version/QEMU/')"\
        "$(sha1sum "$q" | cut -c1-12)"
done
echo

# One callgrind run; prints "TOTAL LOOP" (LOOP "-" when the markers did
# not split the run), or fails with the guest's log.
measure() {
    local col=$1 case=$2 n=$3 rep=$4
    local out=$work/$col.$case.$n.$rep
    rm -f "$out".cg*
    local rc=0 ir=() append="test=$case ncpu=2 n=$n"
    # The remapped cases: a VT-d or AMD-Vi unit doing interrupt
    # remapping, ahead of the PCI devices; the kernel is told to expect
    # it (the unit missing is then a FAIL, not a SKIP).
    case $case in
    bench_msi_ir)
        ir=(-device intel-iommu,intremap=on,x-buggy-eim=on)
        append="$append iommu=vtd" ;;
    bench_msi_ir_amd)
        ir=(-device amd-iommu,intremap=on)
        append="$append iommu=amdvi" ;;
    esac
    "${lock[@]}" timeout -k 5 900 valgrind --tool=callgrind \
        --compress-strings=no --compress-pos=no \
        --callgrind-out-file="$out.cg" --dump-before=test_ioport_write \
        "${col_qemu[$col]}" -L /usr/share/seabios -L /usr/share/qemu \
        -M "${col_machine[$col]}" -smp 2 -cpu max \
        -accel tcg,thread=single -m 256 -nographic -no-reboot -nic none \
        "${ir[@]}" -kernel "$kernel" -append "$append" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev \
        -device edu </dev/null >"$out.log" 2>&1 || rc=$?
    # isa-debug-exit: 0x600d -> status 27 (PASS or SKIP).
    if [ $rc -ne 27 ] ||
        ! tr -d '\r' <"$out.log" | grep -q "^PASS $case\$"; then
        echo "qemu_cost.sh: $col $case n=$n: no PASS (status $rc):" >&2
        tr -d '\r' <"$out.log" | grep -E '^(FAIL|SKIP|BENCH)|rror' >&2 || true
        return 1
    fi
    local total loop=-
    total=$(sed -n 's/^==[0-9]*== Collected : //p' "$out.log")
    # Parts: $out.cg.1 up to the first marker (boot), $out.cg.2 the loop
    # (between the markers), $out.cg the rest (at exit).
    [ -f "$out.cg.2" ] && loop=$(sed -n 's/^summary: //p' "$out.cg.2")
    echo "$total $loop"
}

# Per round trip from the two counts' figures.
per() {
    awk -v a="$1" -v b="$2" -v d=$((n2 - n1)) 'BEGIN {
        if (a == "-" || b == "-") print "-"; else printf "%.0f", (b - a) / d }'
}

# libintc over stock for $1's field $2 (1 whole run, 2 loop only): the
# ratio of the means over the runs; "-" when a figure is missing.
ratio() {
    local s='' l='' rep
    for rep in $(seq 1 "$reps"); do
        s+=" $(cut -d' ' -f"$2" <<<"${res[$1.stock.$rep]:-- -}")"
        l+=" $(cut -d' ' -f"$2" <<<"${res[$1.libintc.$rep]:-- -}")"
    done
    awk -v s="$s" -v l="$l" 'BEGIN {
        ns = split(s, a); nl = split(l, b); x = y = 0
        for (i = 1; i <= ns; i++) { if (a[i] == "-") { print "-"; exit }
                                    x += a[i] }
        for (i = 1; i <= nl; i++) { if (b[i] == "-") { print "-"; exit }
                                    y += b[i] }
        printf "%.2f", (y / nl) / (x / ns) }'
}

declare -A res
failed=0
echo "callgrind Ir of each run: the whole run, the loop between the markers"
printf '%-16s %-7s %3s %12s %11s %12s %11s\n' case column run \
    "n=$n1" "loop" "n=$n2" "loop"
for case in "${cases[@]}"; do
    for col in "${cols[@]}"; do
        [[ $case == *x2apic && $col != libintc ]] && continue
        for rep in $(seq 1 "$reps"); do
            r1=$(measure "$col" "$case" "$n1" "$rep") || { failed=1; continue; }
            r2=$(measure "$col" "$case" "$n2" "$rep") || { failed=1; continue; }
            read -r t1 l1 <<<"$r1"
            read -r t2 l2 <<<"$r2"
            res[$case.$col.$rep]="$(per "$t1" "$t2") $(per "$l1" "$l2")"
            printf '%-16s %-7s %3s %12s %11s %12s %11s\n' \
                "$case" "$col" "$rep" "$t1" "$l1" "$t2" "$l2"
        done
    done
done

echo
echo "host instructions per round trip: (Ir(n=$n2) - Ir(n=$n1)) / $((n2 - n1));"
echo "whole run and loop only; one figure per run, then the libintc/stock ratio"
printf '%-18s %-8s %-24s %-24s\n' case column "whole run" "loop only"
for case in "${cases[@]}"; do
    for col in "${cols[@]}"; do
        [ -n "${res[$case.$col.1]:-}" ] || continue
        w='' l=''
        for rep in $(seq 1 "$reps"); do
            read -r a b <<<"${res[$case.$col.$rep]:-- -}"
            w+="${w:+ }$a" l+="${l:+ }$b"
        done
        printf '%-18s %-8s %-24s %-24s\n' "$case" "$col" "$w" "$l"
    done
    if [ -n "${res[$case.stock.1]:-}" ] &&
        [ -n "${res[$case.libintc.1]:-}" ]; then
        printf '%-18s %-8s %-24s %-24s\n' "$case" "ratio" \
            "$(ratio "$case" 1)" "$(ratio "$case" 2)"
    fi
done

[ "$profile" = 1 ] || exit $failed

# Where the loop's instructions go: the loop dump (part 2) of the n2
# run with the fewest (the least host-timed work: see the -R spread),
# self cost (inlined code charged to the function it is inlined in) per
# round trip.
echo
for case in "${cases[@]}"; do
    for col in "${cols[@]}"; do
        f=
        for g in "$work/$col.$case.$n2".*.cg.2; do
            [ -f "$g" ] || continue
            if [ -z "$f" ] || [ "$(sed -n 's/^summary: //p' "$g")" -lt \
                "$(sed -n 's/^summary: //p' "$f")" ]; then
                f=$g
            fi
        done
        [ -n "$f" ] || continue
        r=${f%.cg.2}
        echo "$case, $col: loop instructions per round trip" \
            "(n=$n2, run ${r##*.})"
        python3 - "$f" "$((n2))" <<'PY'
import os, sys
path, n = sys.argv[1], int(sys.argv[2])
comp, func = {}, {}
ob = fl = fi = fn = ''
skip = False
# QEMU's own source, by directory (the path in the debug information).
QEMU_PARTS = [
    ('/hw/intc/', "QEMU's APIC, IOAPIC (hw/intc)"),
    ('/hw/pci/', 'QEMU PCI, MSI (hw/pci)'),
    ('/hw/misc/', 'QEMU devices (hw/misc: edu, pc-testdev)'),
    ('/accel/tcg/', 'QEMU TCG runtime (accel/tcg, tcg, target/i386)'),
    ('/tcg/', 'QEMU TCG runtime (accel/tcg, tcg, target/i386)'),
    ('/target/i386/', 'QEMU TCG runtime (accel/tcg, tcg, target/i386)'),
    ('/softmmu/', 'QEMU memory dispatch, main loop (softmmu)'),
    ('/qom/', 'QEMU QOM casts (qom)'),
    ('/util/', 'QEMU util (locks, timers, RCU)'),
]
def component(ob, fl):
    base = os.path.basename(ob)
    if ob in ('???', ''):
        return 'TCG-generated code (the guest)'
    if base.startswith('libc.so') or base.startswith('ld-linux'):
        return 'libc'
    if base.startswith('libglib') or base.startswith('libgthread'):
        return 'glib'
    if not base.startswith('qemu-system') and 'qemu' not in base:
        return base
    if os.path.basename(fl).startswith('libintc-qemu'):
        return 'glue (integrations/qemu/glue)'
    if '/libintc/' in fl:
        return 'libintc'
    for part, name in QEMU_PARTS:
        if part in fl:
            return name
    return 'QEMU, other'
for line in open(path):
    line = line.rstrip('\n')
    key = line[:3]
    if key == 'ob=':
        ob = line[3:]
    elif key == 'fl=':
        fl, fi = line[3:], ''
    elif key in ('fi=', 'fe='):
        fi = line[3:]
    elif key == 'fn=':
        fn, fi = line[3:], ''
    elif line.startswith('calls='):
        skip = True
    elif line and (line[0].isdigit() or line[0] in '+-*'):
        if skip:
            skip = False   # the call's inclusive cost: not this function's
            continue
        ir = int(line.split()[-1])
        src = fi or fl
        c = component(ob, src)
        comp[c] = comp.get(c, 0) + ir
        if c.startswith('TCG-generated'):
            name = 'translated blocks (TCG-generated code)'
        else:
            where = fl if fl not in ('', '???') else ob
            name = '%s (%s)' % (fn, os.path.basename(where))
        func[name] = func.get(name, 0) + ir
total = sum(comp.values())
for k, v in sorted(comp.items(), key=lambda kv: -kv[1]):
    if v / n < 0.5:
        continue
    print('  %8.0f  %5.1f%%  %s' % (v / n, 100.0 * v / total, k))
print('  %8.0f          total (loop dump / n)' % (total / n))
print('  top 10 functions:')
for k, v in sorted(func.items(), key=lambda kv: -kv[1])[:10]:
    print('  %8.0f  %5.1f%%  %s' % (v / n, 100.0 * v / total, k))
PY
    done
done
exit $failed
