#!/bin/bash
# Boot the guest test kernel once per test under a QEMU and print a table
# name | result | reason.
#
#   run.sh [-q QEMU] [-M MACHINE] [-c CPU] [-n NCPU] [-k KERNEL] [-o DIR]
#          [-t SECONDS] [-a 'EXTRA QEMU ARGS'] [TEST...]
#
#   -q  the QEMU binary (default /usr/bin/qemu-system-x86_64, Debian's;
#       "libintc": what integrations/qemu/build.sh built for this tree)
#   -M  the machine (default q35; libintc's: q35,x-libintc=on)
#   -c  the CPU model (default max,+x2apic,+tsc-deadline).  The features
#       named with + here are passed to the kernel as require=..., so a
#       QEMU that drops them (stock TCG filters both) FAILs those tests
#       instead of skipping them.
#   -n  CPUs (default 4)
#   -k  a built kernel image (default: build one with mkkernel.sh in DIR)
#   -o  work directory: the kernel, one serial log per test, results.txt
#       (default: a new directory under ${TMPDIR:-/tmp})
#   -t  timeout per QEMU run in seconds (default 60)
#   -a  extra QEMU arguments (word-split)
#   -A  the accelerator (default tcg; kvm runs the kernel against the
#       host kernel's APIC emulation, a reference for the tests themselves)
#   -I  the VT-d unit the ir_* tests get (default
#       intel-iommu,intremap=on,x-buggy-eim=on; none: no unit, the ir_*
#       tests then SKIP)
#   TEST  run only these (default: every test the kernel lists)
#
# Every run: -L /usr/share/seabios -L /usr/share/qemu (Debian's firmware:
# integrations/qemu/build.sh's QEMU has none of its own) -M MACHINE
# -smp NCPU -cpu CPU -accel ACCEL -m 256 -nographic -no-reboot -kernel K -append 'test=NAME ncpu=N require=...' with
# isa-debug-exit (iobase 0xf4), pc-testdev, edu and e1000e (without its
# option ROM: no iPXE; -nic none: no
# default NIC).  The ir_* tests (kernel/t_ir.c, VT-d interrupt
# remapping) also get -device IOMMU (-I) before the other devices
# (a PCI device takes its bus-master address space from the IOMMU when
# it is realized) and iommu=vtd on the command line (the unit missing is
# then a FAIL); the amdvi_* tests get -device amd-iommu,intremap=on and
# iommu=amdvi; the other tests run without either.  Exit status: 0 if no
# test FAILed, 1 otherwise, 77 if the only test named SKIPped, 2 if
# nothing could run.
# Set INTC_QEMU_LOCK=FILE to hold flock FILE around each QEMU run.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
qemu=/usr/bin/qemu-system-x86_64
machine=q35
cpu=max,+x2apic,+tsc-deadline
ncpu=4
kernel=
work=
tmo=60
extra=
accel=tcg
iommu=intel-iommu,intremap=on,x-buggy-eim=on
while getopts "q:M:c:n:k:o:t:a:A:I:h" opt; do
    case $opt in
    q) qemu=$OPTARG ;;
    M) machine=$OPTARG ;;
    c) cpu=$OPTARG ;;
    n) ncpu=$OPTARG ;;
    k) kernel=$OPTARG ;;
    o) work=$OPTARG ;;
    t) tmo=$OPTARG ;;
    a) extra=$OPTARG ;;
    A) accel=$OPTARG ;;
    I) iommu=$OPTARG ;;
    *) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

# -q libintc: the QEMU integrations/qemu/build.sh built for this tree
# (ctest's default); skipped (77) when there is none.
if [ "$qemu" = libintc ]; then
    qemu=$("$here/../../build.sh" --print) ||
        { echo "SKIP: no QEMU built for this tree (build.sh)"; exit 77; }
fi
[ -x "$qemu" ] || { echo "run.sh: no QEMU at $qemu" >&2; exit 2; }
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/intc-guest.XXXXXX")}
mkdir -p "$work"
if [ -z "$kernel" ]; then
    "$here/mkkernel.sh" "$work" || { echo "run.sh: kernel build failed" >&2; exit 2; }
    kernel=$work/guest-kernel.bin
fi

req=()
[[ ",$cpu," == *",+x2apic,"* ]] && req+=(x2apic)
[[ ",$cpu," == *",+tsc-deadline,"* ]] && req+=(tscdl)
require=$(IFS=,; echo "${req[*]:-none}")

# One boot of the kernel with test=$1; serial output to $2.
boot() {
    local lock=() unit=() append="test=$1 ncpu=$ncpu require=$require"
    [ -n "${INTC_QEMU_LOCK:-}" ] && lock=(flock "$INTC_QEMU_LOCK")
    if [[ $1 == ir_* ]] && [ "$iommu" != none ]; then
        unit=(-device "$iommu")
        append+=" iommu=vtd"
    elif [[ $1 == amdvi_* ]]; then
        unit=(-device amd-iommu,intremap=on)
        append+=" iommu=amdvi"
    fi
    # shellcheck disable=SC2086
    "${lock[@]}" timeout -k 5 "$tmo" "$qemu" \
        -L /usr/share/seabios -L /usr/share/qemu \
        -M "$machine" -smp "$ncpu" -cpu "$cpu" -accel "$accel" -m 256 \
        -nographic -no-reboot -nic none "${unit[@]}" \
        -kernel "$kernel" -append "$append" \
        -device isa-debug-exit,iobase=0xf4,iosize=4 -device pc-testdev \
        -device edu -device e1000e,romfile= $extra </dev/null >"$2" 2>"$2.stderr"
}

if [ $# -gt 0 ]; then
    tests=("$@")
else
    boot list "$work/list.log"
    mapfile -t tests < <(tr -d '\r' <"$work/list.log" | sed -n 's/^TEST //p')
    [ ${#tests[@]} -gt 0 ] || { echo "run.sh: the kernel listed no tests:" >&2; cat "$work/list.log" "$work/list.log.stderr" >&2; exit 2; }
fi

echo "# QEMU: $qemu ($("$qemu" --version | head -1))"
echo "# -M $machine -smp $ncpu -cpu $cpu -accel $accel; kernel require=$require; ir_* tests: -device $iommu"
printf '%-24s | %-4s | %s\n' test result reason
printf '%-24s-|-%-4s-|-%s\n' "------------------------" "----" "------"
: >"$work/results.txt"
failed=0
start=$SECONDS
for t in "${tests[@]}"; do
    log=$work/$t.log
    boot "$t" "$log"
    rc=$?
    line=$(tr -d '\r' <"$log" | grep -E "^(PASS|FAIL|SKIP) $t( |\$)" | tail -1)
    if [ -n "$line" ]; then
        res=${line%% *}
        reason=${line#"$res $t"}
        reason=${reason# }
    elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        res=FAIL reason="no result within ${tmo}s (QEMU killed)"
    else
        res=FAIL reason="no result line; QEMU exit status $rc: $(tr -d '\r' <"$log" | grep -v '^$' | tail -1)"
    fi
    # isa-debug-exit: status (code << 1) | 1: 0x600d -> 27, 0xbad1 -> 163.
    if [ "$res" = PASS ] && [ $rc -ne 27 ]; then
        res=FAIL reason="PASS printed but QEMU exit status $rc (expected 27)"
    fi
    [ "$res" = FAIL ] && failed=1
    printf '%-24s | %-4s | %s\n' "$t" "$res" "$reason"
    printf '%s\t%s\t%s\n' "$t" "$res" "$reason" >>"$work/results.txt"
done
echo "# ${#tests[@]} tests in $((SECONDS - start)) s; logs in $work"
# A single test that SKIPped: 77 (ctest's SKIP_RETURN_CODE).
[ ${#tests[@]} -eq 1 ] && [ "$res" = SKIP ] && exit 77
exit $failed
