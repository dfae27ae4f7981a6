#!/bin/bash
# The QEMU integration's boot test (ctest qemu_boot, label qemu):
#   run.sh KERNEL [QEMU]
# KERNEL: hello.elf (hello.s).  QEMU: the qemu-system-x86_64 of
# integrations/qemu/build.sh; when not given, INTC_QEMU_BINARY, else what
# `build.sh --print` reports for this tree.  Without a built QEMU the test
# is skipped (exit 77).
#
# Checks:
#   - -M q35 (and x-libintc=off): the kernel boots under stock QEMU, prints
#     its lines (the LAPIC version register reads 0x00050014) and exits
#     with status 33 through isa-debug-exit;
#   - -M q35,x-libintc=on (libintc's Local APICs, IOAPIC and MSI
#     delivery): the same kernel boots on 1 and 4 CPUs (SeaBIOS brings the
#     APs up with INIT-SIPI through libintc) and reads the LAPIC version
#     0x00050014 from libintc, also with an intel-iommu or an amd-iommu
#     doing interrupt remapping (the intel-iommu with eim=on, which
#     stock QEMU refuses under TCG, also checked); maxcpus != cpus, an amd-iommu or an
#     intel-iommu given as JSON (libintc's IOMMU kind, and whether the
#     glue takes libintc's events, are chosen from -device before the
#     devices exist), -icount, -rtc
#     driftfix=slew and x-libintc-record without x-libintc=on are
#     refused with their own errors; -M pc has no x-libintc;
#   - without a kernel, SeaBIOS finds its 4 CPUs again after each of two
#     monitor system_resets (stock and libintc);
#   - savevm of a libintc machine succeeds and a fresh QEMU started with
#     -loadvm of it runs on, its monitor's info lapic showing libintc's
#     BSP (the Linux boot test, tests/linux, checks that a guest resumed
#     from it continues); migration to a file and -incoming from it, the
#     same; a stock machine refuses that stream (no libintc section).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel=${1:?usage: run.sh KERNEL [QEMU]}
qemu=${2:-${INTC_QEMU_BINARY:-}}
if [ -z "$qemu" ]; then
    if ! qemu=$("$here/../build.sh" --print); then
        echo "SKIP: no QEMU built for this tree (integrations/qemu/build.sh)"
        exit 77
    fi
fi
[ -x "$qemu" ] || { echo "SKIP: $qemu is not an executable"; exit 77; }
echo "qemu: $qemu"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# Firmware from Debian's seabios and qemu-system-data: the dfsg source
# installs none (build.sh installs both packages).
# shellcheck disable=SC2054  # the commas are QEMU's
base=(-L /usr/share/seabios -L /usr/share/qemu -nodefaults -display none
    -no-reboot -m 128 -device isa-debug-exit,iobase=0xf4,iosize=4)

# qemu_run NAME ARGS...: QEMU's status in $rc, serial output in
# $tmp/NAME.serial, stdout and stderr in $tmp/NAME.out.
qemu_run()
{
    local name=$1
    shift
    rc=0
    : >"$tmp/$name.serial"
    timeout 120 "$qemu" "${base[@]}" -serial "file:$tmp/$name.serial" "$@" \
        >"$tmp/$name.out" 2>&1 </dev/null || rc=$?
}

fail()
{
    echo "FAIL: $*"
    fails=$((fails + 1))
}

show()
{
    local name=$1
    echo "  exit status $rc; output:"
    sed 's/^/    | /' "$tmp/$name.out"
    echo "  serial:"
    sed 's/^/    | /' "$tmp/$name.serial"
}

# boots NAME MACHINE [ARGS...]: the kernel runs to its end on this machine.
boots()
{
    local name=$1 machine=$2
    qemu_run "$name" -M "$machine" -accel tcg "${@:3}" -kernel "$kernel"
    if [ "$rc" -ne 33 ] ||
        ! grep -qx 'hello from the libintc-qemu test kernel' \
            "$tmp/$name.serial" ||
        ! grep -qx 'lapic version 00050014' "$tmp/$name.serial"; then
        fail "$name: -M $machine: wanted exit status 33 and both lines"
        show "$name"
    else
        echo "ok: $name: -M $machine boots the kernel (status 33)"
    fi
}

# refused NAME MESSAGE ARGS...: QEMU exits with status 1 and MESSAGE in
# its output, the kernel never having run.
refused()
{
    local name=$1 message=$2
    shift 2
    qemu_run "$name" "$@" -kernel "$kernel"
    if [ "$rc" -ne 1 ] || ! grep -qF -- "$message" "$tmp/$name.out" ||
        [ -s "$tmp/$name.serial" ]; then
        fail "$name: $*: wanted status 1, no guest output and: $message"
        show "$name"
    else
        echo "ok: $name: $* is refused: $(head -n 1 "$tmp/$name.out")"
    fi
}

boots stock q35
boots stock-off q35,x-libintc=off

boots libintc q35,x-libintc=on
boots libintc-smp4 q35,x-libintc=on -smp 4
boots libintc-vtd q35,x-libintc=on -smp 4 \
    -device intel-iommu,intremap=on,eim=on
boots libintc-amdvi q35,x-libintc=on -smp 4 -device amd-iommu,intremap=on
refused hotplug 'does not support CPU hotplug: -smp maxcpus (4) must equal cpus (2)' \
    -M q35,x-libintc=on -accel tcg -smp 2,maxcpus=4
refused amdvi-json 'the amd-iommu was not found among the -device options' \
    -M q35,x-libintc=on -accel tcg -device '{"driver":"amd-iommu"}'
refused vtd-json 'the intel-iommu was not found among the -device options' \
    -M q35,x-libintc=on -accel tcg -device '{"driver":"intel-iommu"}'
refused pc "x-libintc' not found" -M pc,x-libintc=on -accel tcg
refused stock-eim 'eim=on requires accel=kvm,kernel-irqchip=split' \
    -M q35 -accel tcg -device intel-iommu,intremap=on,eim=on
refused icount 'does not support -icount' \
    -M q35,x-libintc=on -accel tcg -icount shift=0
refused rtc-slew 'does not support -rtc driftfix=slew' \
    -M q35,x-libintc=on -accel tcg -rtc driftfix=slew
refused record-off 'x-libintc-record needs x-libintc=on' \
    -M q35,x-libintc-record=/dev/null -accel tcg

# resets NAME ARGS...: without a kernel, SeaBIOS (its log on the debug
# console) finds the 4 CPUs at power-on and again after each of two
# system_reset commands of the monitor; then quit.
resets()
{
    local name=$1 log=$tmp/$1.debugcon n i
    shift
    : >"$log"
    mkfifo "$tmp/$name.mon"
    timeout 120 "$qemu" -L /usr/share/seabios \
        -L /usr/share/qemu -nodefaults -display none -smp 4 "$@" \
        -chardev "file,id=dbg,path=$log" \
        -device isa-debugcon,iobase=0x402,chardev=dbg \
        -monitor stdio <"$tmp/$name.mon" >"$tmp/$name.out" 2>&1 &
    exec 8>"$tmp/$name.mon"
    for n in 1 2 3; do
        for i in $(seq 600); do
            [ "$(grep -c 'Found 4 cpu(s)' "$log")" -ge "$n" ] && break
            sleep 0.1
        done
        [ "$n" -lt 3 ] && echo system_reset >&8
    done
    echo quit >&8
    exec 8>&-
    rc=0
    wait $! || rc=$?
    n=$(grep -c 'Found 4 cpu(s)' "$log")
    if [ "$rc" -ne 0 ] || [ "$n" -ne 3 ]; then
        fail "$name: $*: wanted status 0 and SeaBIOS finding 4 CPUs 3 times, got status $rc, $n times"
        sed 's/^/    | /' "$tmp/$name.out"
    else
        echo "ok: $name: $*: SeaBIOS finds 4 CPUs at power-on and after 2 resets"
    fi
}
resets libintc-reset -M q35,x-libintc=on -accel tcg

# savevm and -loadvm: the snapshot lives in a qcow2 drive; the libintc
# section must save and load (a failed post_load stops -loadvm with an
# error and status 1).
qemu-img create -q -f qcow2 "$tmp/snap.qcow2" 16M
snap=(-M q35,x-libintc=on -accel tcg -smp 4
    -drive "if=none,id=d0,format=qcow2,file=$tmp/snap.qcow2")
{ sleep 2; printf '%s\n' 'savevm s1' 'info snapshots' quit; } |
    timeout 120 "$qemu" "${base[@]}" "${snap[@]}" -monitor stdio \
        >"$tmp/savevm.out" 2>&1 || true
{ sleep 2; printf '%s\n' 'info status' 'info lapic' quit; } |
    timeout 120 "$qemu" "${base[@]}" "${snap[@]}" -loadvm s1 \
        -monitor stdio >"$tmp/loadvm.out" 2>&1 || true
if grep -q ' s1 ' "$tmp/savevm.out" &&
    grep -q 'VM status: running' "$tmp/loadvm.out" &&
    grep -q 'libintc local APIC of CPU 0: IA32_APIC_BASE 0x0*fee00900 (xAPIC)' \
        "$tmp/loadvm.out" &&
    ! grep -q 'qemu-system-x86_64: ' "$tmp/savevm.out" "$tmp/loadvm.out"; then
    echo "ok: savevm: saved, and a fresh QEMU runs on from -loadvm;" \
        "info lapic shows libintc's BSP"
else
    fail "savevm/loadvm of an x-libintc=on machine"
    sed 's/^/    | /' "$tmp/savevm.out" "$tmp/loadvm.out"
fi
# Migration carries the same section: migrate to a file, then a fresh
# QEMU takes it in with -incoming and runs on.
mig=(-M q35,x-libintc=on -accel tcg -smp 4)
{ sleep 2; printf '%s\n' "migrate \"exec:cat >$tmp/mig.bin\"" \
    'info migrate' quit; } |
    timeout 120 "$qemu" "${base[@]}" "${mig[@]}" -monitor stdio \
        >"$tmp/migrate.out" 2>&1 || true
{ sleep 3; printf '%s\n' 'info status' 'info lapic' quit; } |
    timeout 120 "$qemu" "${base[@]}" "${mig[@]}" \
        -incoming "exec:cat $tmp/mig.bin" -monitor stdio \
        >"$tmp/incoming.out" 2>&1 || true
if grep -q 'Migration status: completed' "$tmp/migrate.out" &&
    grep -q 'VM status: running' "$tmp/incoming.out" &&
    grep -q 'libintc local APIC of CPU 0: IA32_APIC_BASE 0x0*fee00900' \
        "$tmp/incoming.out" &&
    ! grep -q 'qemu-system-x86_64: ' "$tmp/migrate.out" "$tmp/incoming.out"; then
    echo "ok: migrate: the destination runs on with libintc's state"
else
    fail "migration of an x-libintc=on machine"
    sed 's/^/    | /' "$tmp/migrate.out" "$tmp/incoming.out"
fi

# A stock machine refuses the stream: it has no libintc section.
{ sleep 3; printf '%s\n' quit; } |
    timeout 120 "$qemu" "${base[@]}" -M q35 -accel tcg -smp 4 \
        -incoming "exec:cat $tmp/mig.bin" -monitor stdio \
        >"$tmp/stock-incoming.out" 2>&1 || true
if grep -q "Unknown savevm section or instance 'libintc'" \
    "$tmp/stock-incoming.out"; then
    echo "ok: migrate: stock QEMU refuses the libintc section"
else
    fail "migration from x-libintc=on into stock QEMU not refused"
    sed 's/^/    | /' "$tmp/stock-incoming.out"
fi

resets stock-reset -M q35 -accel tcg

if [ "$fails" -ne 0 ]; then
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
