#!/bin/bash
# The Linux boot test (issue 14, point 4; ctest qemu_linux, label qemu):
# Debian's own kernel with a busybox initramfs of ours (mkinitramfs.sh),
# 4 CPUs under TCG, x2APIC and TSC-deadline asked for, VT-d interrupt
# remapping, a virtio-net and a virtio-blk device.  The guest's /init
# (init) does network and disk I/O, runs an IPI-heavy workload
# (ipistorm.c) and makes edu send an MSI the IOMMU must fault
# (irfault.c), printing what it saw on the serial console; this script
# reads the serial log and evaluates the checks, one table per run:
#
#   plain   one boot, run to the guest's poweroff
#   savevm  one boot, saved over the monitor half-way through the
#           workload (stop, savevm, quit), then a fresh QEMU with the same
#           options and -loadvm finishes it; the checks read both logs
#   record  one boot with libintc's recorder on (x-libintc-record=FILE,
#           the QEMU under test only), then `intc-sim --replay FILE`
#           (-R) must reproduce it: the same event stream and the same
#           final snapshot as the boot wrote (FILE.events, FILE.image)
#
# for the QEMU under test (libintc's) and for Debian's stock QEMU, whose
# tables are for comparison only: its TCG offers neither x2APIC nor
# TSC-deadline, so those checks fail there by design.
#
#   run.sh [-q QEMU|none] [-M MACHINE] [-s STOCK|none] [-S MACHINE]
#          [-c CPU] [-n NCPU] [-i IOMMU|none] [-a 'ARGS'] [-A ACCEL]
#          [-r RUNS] [-R INTC_SIM] [-w SECONDS] [-t SECONDS] [-o DIR]
#
#   -q  the QEMU under test (default: INTC_QEMU_BINARY, else what
#       integrations/qemu/build.sh --print reports; none built: exit 77;
#       "none": run only the stock QEMU)
#   -M  its machine (default q35,x-libintc=on)
#   -s  the stock QEMU for the comparison (default
#       /usr/bin/qemu-system-x86_64; "none" skips it)
#   -S  the stock machine (default q35)
#   -c  CPU model, both QEMUs (default max,+x2apic,+tsc-deadline)
#   -n  CPUs (default 4)
#   -i  the IOMMU device (default intel-iommu,intremap=on,eim=on:
#       Linux enables x2APIC only with interrupt remapping in EIM mode;
#       "none" for no IOMMU).  The stock QEMU gets the same device with
#       eim=on replaced by x-buggy-eim=on: under TCG it refuses eim=on
#       ("eim=on requires accel=kvm,kernel-irqchip=split"; the libintc
#       QEMU accepts it, patch 0011), and x-buggy-eim=on is its switch
#       that lets EIM through anyway
#   -a  extra QEMU arguments, both QEMUs (word-split)
#   -A  accelerator (default tcg)
#   -r  the runs, comma-separated (default plain,savevm; also record)
#   -R  the intc-sim binary the record run replays with
#   -w  the workload's duration in guest seconds (default 4)
#   -t  timeout of each QEMU process in seconds (default 240)
#   -o  work directory: per run a directory with the serial logs, QEMU's
#       output, the monitor log, results.txt (default: a new directory
#       under ${TMPDIR:-/tmp})
#
# Every QEMU: -nodefaults -display none -no-reboot -M MACHINE -accel ACCEL
# -smp NCPU -cpu CPU -m 256 -device IOMMU -kernel -initrd -append
# 'console=ttyS0 panic=-1 lb.secs=SECONDS', a virtio-net-pci on
# "-netdev user,restrict=on,tftp=DIR" (slirp: DHCP and TFTP are answered
# inside QEMU, restrict=on keeps the guest from reaching anything else), a
# virtio-blk-pci on a new qcow2 image (qcow2, so savevm can store the VM
# in it), a virtio-rng-pci with vectors=0 (PCI INTx: a level-triggered
# IO-APIC line), QEMU's edu device (00:04.0: its MSI, forged by the
# guest's irfault, is the remapping fault the ir_fault check looks for), a
# monitor on a pipe chardev (DIR/mon.in, DIR/mon.out), the
# serial console in a file, and -L /usr/share/seabios -L /usr/share/qemu
# (Debian's firmware; integrations/qemu's build installs none).
#
# Environment: INTC_QEMU_LOCK=FILE holds flock FILE around the guest's
# preparation and each QEMU process; INTC_QEMU_BINARY as for -q;
# INTC_LINUX_CACHE, INTC_QEMU_CACHE: mkinitramfs.sh's cache.
#
# Exit status: 0 if every check of the QEMU under test passed in every
# run, 1 if one failed, 77 (skip) if there is no QEMU under test, 2 if
# the harness could not run.  The stock QEMU's results never change the status.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qemu=${INTC_QEMU_BINARY:-}
machine=q35,x-libintc=on
stock=/usr/bin/qemu-system-x86_64
stock_machine=q35
cpu=max,+x2apic,+tsc-deadline
ncpu=4
iommu=intel-iommu,intremap=on,eim=on
extra=
accel=tcg
runs=plain,savevm
intc_sim=
secs=4
tmo=240
work=
mem=256
snap=lb-mid

usage()
{
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

while getopts "q:M:s:S:c:n:i:a:A:r:R:w:t:o:h" opt; do
    case $opt in
    q) qemu=$OPTARG ;;
    M) machine=$OPTARG ;;
    s) stock=$OPTARG ;;
    S) stock_machine=$OPTARG ;;
    c) cpu=$OPTARG ;;
    n) ncpu=$OPTARG ;;
    i) iommu=$OPTARG ;;
    a) extra=$OPTARG ;;
    A) accel=$OPTARG ;;
    r) runs=$OPTARG ;;
    R) intc_sim=$OPTARG ;;
    w) secs=$OPTARG ;;
    t) tmo=$OPTARG ;;
    o) work=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { usage >&2; exit 2; }

lock=()
[ -n "${INTC_QEMU_LOCK:-}" ] && lock=(flock "$INTC_QEMU_LOCK")

# --- the QEMUs --------------------------------------------------------

if [ -z "$qemu" ]; then
    if ! qemu=$("$here/../../build.sh" --print 2>/dev/null); then
        echo "SKIP: no libintc QEMU built for this tree" \
            "(integrations/qemu/build.sh)"
        exit 77
    fi
fi
if [ "$qemu" != none ] && ! [ -x "$qemu" ]; then
    echo "SKIP: $qemu is not an executable"
    exit 77
fi
IFS=, read -r -a kinds <<<"$runs"
for k in "${kinds[@]}"; do
    case $k in
    plain | savevm) ;;
    record)
        [ -x "$intc_sim" ] || {
            echo "run.sh: the record run needs -R INTC_SIM" >&2
            exit 2
        } ;;
    *) echo "run.sh: no run '$k'" >&2; exit 2 ;;
    esac
done

# --- the guest: kernel and initramfs, cached --------------------------

# mkinitramfs.sh also installs what the runs need (INTC_LINUX_PACKAGES in
# scripts/deps.sh: qemu-img, the stock QEMU...).
if ! guest=$("${lock[@]}" "$here/mkinitramfs.sh" | tail -n 1) ||
    ! [ -s "$guest/vmlinuz" ]; then
    echo "run.sh: preparing the guest failed (mkinitramfs.sh)" >&2
    exit 2
fi
if [ "$stock" != none ] && ! [ -x "$stock" ]; then
    echo "# no stock QEMU at $stock: no comparison"
    stock=none
fi
[ "$qemu" != none ] || [ "$stock" != none ] ||
    { echo "run.sh: neither a QEMU under test nor a stock one" >&2; exit 2; }
work=${work:-$(mktemp -d "${TMPDIR:-/tmp}/intc-linux.XXXXXX")}
mkdir -p "$work"
echo "# guest: $guest"
sed 's/^/#   /' "$guest/info.txt"
echo "# work directory: $work"

# --- one QEMU process ---------------------------------------------------

# setup_run DIR: a fresh run directory: a random payload for the TFTP
# server (the guest fetches it, writes it to its disk, reads it back),
# its sha256 in $payload_sum, a new qcow2 disk, the monitor's FIFOs.
setup_run()
{
    local d=$1
    rm -rf "$d"
    mkdir -p "$d/tftp"
    head -c 524288 /dev/urandom >"$d/tftp/payload"
    payload_sum=$(sha256sum <"$d/tftp/payload" | cut -d' ' -f1)
    qemu-img create -q -f qcow2 "$d/disk.qcow2" 64M
    mkfifo "$d/mon.in" "$d/mon.out"
}

# qemu_args MACHINE DIR: the options of every QEMU of a run, in $qargs.
# The same for the saving and the restoring QEMU (-loadvm wants them so);
# only the serial log file differs.
qemu_args()
{
    local m=$1 d=$2 dev
    qargs=(-L /usr/share/seabios -L /usr/share/qemu -nodefaults
        -display none -no-reboot -M "$m" -accel "$accel" -smp "$ncpu"
        -cpu "$cpu" -m "$mem")
    dev=$iommu
    # Stock QEMU refuses eim=on under TCG: its x-buggy-eim=on instead.
    [ "$bin_role" != stock ] ||
        dev=$(sed -E 's/(^|,)eim=on(,|$)/\1x-buggy-eim=on\2/' <<<"$dev")
    [ "$dev" = none ] || qargs+=(-device "$dev")
    # shellcheck disable=SC2054  # the commas are QEMU's
    qargs+=(-kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio"
        -append "console=ttyS0 panic=-1 lb.secs=$secs"
        -netdev "user,id=lbnet,restrict=on,tftp=$d/tftp"
        -device virtio-net-pci,netdev=lbnet,romfile=
        -drive "file=$d/disk.qcow2,if=none,id=lbdisk,format=qcow2"
        -device virtio-blk-pci,drive=lbdisk
        -device virtio-rng-pci,vectors=0 -device edu
        -chardev "pipe,id=lbmon,path=$d/mon"
        -mon chardev=lbmon,mode=readline)
    # shellcheck disable=SC2206  # -a is word-split on purpose
    qargs+=($extra)
}

# start_qemu BIN DIR N [ARGS...]: QEMU in the background ($qpid), serial
# console to DIR/serial-N.log, its own output to DIR/qemu-N.out, its run
# time in ms to DIR/time-N.  Its monitor output is copied to
# DIR/monitor-N.log ($cpid).
start_qemu()
{
    local bin=$1 d=$2 n=$3
    shift 3
    : >"$d/serial-$n.log"
    # QEMU's own time, without the wait for the lock, into DIR/time-N.
    # shellcheck disable=SC2016  # expanded by that bash
    "${lock[@]}" bash -c 't0=$(date +%s%N); rc=0; "${@:2}" || rc=$?
        echo $((($(date +%s%N) - t0) / 1000000)) >"$1"; exit $rc' \
        timed "$d/time-$n" timeout -k 10 "$tmo" "$bin" "${qargs[@]}" \
        -serial "file:$d/serial-$n.log" "$@" \
        </dev/null >"$d/qemu-$n.out" 2>&1 &
    qpid=$!
    # Opened read-write: neither side blocks waiting for the other.
    cat <>"$d/mon.out" >"$d/monitor-$n.log" &
    cpid=$!
}

# watch_lockup DIR N: if the guest's console (serial-N.log) reports a
# lockup or an RCU stall, the monitor writes every CPU's registers and
# Local APIC state (info lapic: libintc's under x-libintc) into
# monitor-N.log and QEMU quits, so a hang fails within seconds of the
# guest's report, with the state to look at; DIR/lockup-N marks it.
# Returns 0 if it did.
watch_lockup()
{
    local d=$1 n=$2 i cmds="info registers -a"
    [ ! -e "$d/lockup-$n" ] || return 0
    grep -qsE 'soft lockup|rcu_.*stall|self-detected stall|hung_task' \
        "$d/serial-$n.log" || return 1
    for ((i = 0; i < ncpu; i++)); do
        cmds+=$'\n'"info lapic $i"
    done
    # Opened read-write: a FIFO whose reader is gone never blocks so.
    printf '%s\nquit\n' "$cmds" 1<>"$d/mon.in"
    : >"$d/lockup-$n"
}

# wait_qemu DIR [N]: wait for QEMU's end, watching its console N
# (default 1) for a lockup; its exit status in $qrc.
wait_qemu()
{
    local d=$1 n=${2:-1}
    while kill -0 "$qpid" 2>/dev/null; do
        watch_lockup "$d" "$n" || true
        sleep 0.3
    done
    qrc=0
    wait "$qpid" || qrc=$?
    # Let cat copy what QEMU left in the pipe, then end it.
    sleep 0.3
    kill "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
}

# --- the runs -----------------------------------------------------------

# run_plain BIN MACHINE DIR
run_plain()
{
    local bin=$1 m=$2 d=$3
    setup_run "$d"
    qemu_args "$m" "$d"
    start_qemu "$bin" "$d" 1
    wait_qemu "$d"
    rc_last=$qrc
    tr -d '\r' <"$d/serial-1.log" >"$d/serial.txt"
}

# run_record BIN MACHINE DIR: a plain run with the recorder on, then the
# replay (its output in DIR/replay.out, its status in $rc_replay).
run_record()
{
    local d=$3 t0
    run_plain "$1" "$2,x-libintc-record=$d/boot.intcrec" "$d"
    t0=$(date +%s%N)
    rc_replay=0
    "$intc_sim" --replay "$d/boot.intcrec" --trace=none \
        --events="$d/replay.events" --final-image="$d/replay.image" \
        >"$d/replay.out" 2>&1 || rc_replay=$?
    replay_ms=$((($(date +%s%N) - t0) / 1000000))
}

# check_replay DIR: the replay ran the whole recording (intc-sim exit 0:
# every recorded result matched) and gave the boot's own event stream and
# final snapshot, byte for byte.
check_replay()
{
    local d=$1 n
    n=$(wc -l <"$d/boot.intcrec.events" 2>/dev/null || echo 0)
    if [ "$rc_replay" -eq 0 ] &&
        cmp -s "$d/boot.intcrec.events" "$d/replay.events" &&
        cmp -s "$d/boot.intcrec.image" "$d/replay.image"; then
        result replay PASS "recording $(du -k "$d/boot.intcrec" |
            cut -f1) KiB, $n events, final image" \
            "$(stat -c %s "$d/replay.image") bytes: all identical in the" \
            "replay (${replay_ms} ms)"
    else
        result replay FAIL "intc-sim --replay exit $rc_replay; events" \
            "$(cmp -s "$d/boot.intcrec.events" "$d/replay.events" &&
                echo same || echo differ), image $(cmp -s \
                "$d/boot.intcrec.image" "$d/replay.image" && echo same ||
                echo differs): $(tail -n 1 "$d/replay.out" | cut -c1-120)"
    fi
}

# run_savevm BIN MACHINE DIR: boot, save half-way through the workload,
# quit, restore into a fresh QEMU that runs to the end.
run_savevm()
{
    local bin=$1 m=$2 d=$3 mon
    setup_run "$d"
    qemu_args "$m" "$d"
    save_note=""
    start_qemu "$bin" "$d" 1
    exec {mon}<>"$d/mon.in"
    # The guest's workload prints "halfway" when half its time passed.
    while kill -0 "$qpid" 2>/dev/null; do
        if grep -qs '^ipistorm: halfway' "$d/serial-1.log"; then
            # The monitor runs these in order; savevm holds the next
            # line back until the snapshot is written.
            printf 'stop\nsavevm %s\ninfo snapshots\nquit\n' "$snap" >&"$mon"
            save_note="saved"
            break
        fi
        watch_lockup "$d" 1 && break
        sleep 0.2
    done
    wait_qemu "$d"
    exec {mon}>&-
    rc_save=$qrc
    snapshots=$(qemu-img snapshot -l "$d/disk.qcow2" 2>&1 || true)
    echo "$snapshots" >"$d/snapshots.txt"
    rc_last=$rc_save
    if [ -n "$save_note" ] && [ "$rc_save" -eq 0 ] &&
        grep -qw "$snap" "$d/snapshots.txt"; then
        start_qemu "$bin" "$d" 2 -loadvm "$snap"
        wait_qemu "$d" 2
        rc_last=$qrc
    fi
    tr -d '\r' <"$d/serial-1.log" >"$d/serial.txt"
    if [ -f "$d/serial-2.log" ]; then
        tr -d '\r' <"$d/serial-2.log" >>"$d/serial.txt"
    fi
}

# --- reading the serial log ---------------------------------------------

# section NAME: the lines between the markers of the dump NAME.
section()
{
    sed -n "/^==LB-BEGIN $1==\$/,/^==LB-END $1==\$/p" "$txt" | sed '1d;$d'
}

# fact KEY: the rest of the last "LB: KEY ..." line.
fact()
{
    sed -n "s/^LB: $1 //p" "$txt" | tail -n 1
}

# row LABEL: the per-CPU counts of /proc/interrupts' row LABEL ("LOC",
# "25") on stdin, space-separated.
row()
{
    awk -v l="$1:" -v n="$ncpu" '$1 == l {
        s = ""; for (i = 2; i <= n + 1; i++) s = s " " $i; print s; exit }'
}

# irqs_by_chip REGEX: "irq chip name" of the rows whose chip column (the
# one after the counts) matches REGEX, from stdin.
irqs_by_chip()
{
    awk -v re="$1" -v n="$ncpu" '$1 ~ /^[0-9]+:$/ && $(n + 2) ~ re {
        sub(":", "", $1); print $1, $(n + 2), $NF }'
}

# total IRQ DUMP: the sum of IRQ's counts over the CPUs in dump DUMP.
total()
{
    section "$2" | row "$1" | awk '{ for (i = 1; i <= NF; i++) s += $i }
        END { print s + 0 }'
}

# --- the checks -----------------------------------------------------------

# result NAME PASS|FAIL|INFO DETAIL...: one row of the table.
result()
{
    local detail="${*:3}"
    printf '%-12s | %-4s | %s\n' "$1" "$2" "$detail"
    printf '%s\t%s\t%s\n' "$1" "$2" "$detail" >>"$results"
    if [ "$2" = FAIL ]; then failed=1; fi
}

# check_level_intx: the virtio-rng device (no MSI-X vectors) interrupts
# through PCI INTx, a level-triggered IO-APIC line ("fasteoi": Remote IRR
# and EOI, 82093AA 3.2.4, SDM 11.8.5); reading /dev/hwrng after the
# workload made its row rise and returned every byte asked for.
check_level_intx()
{
    local irq chip name b a rows="" ok=""
    while read -r irq chip name; do
        b=$(total "$irq" interrupts-after)
        a=$(total "$irq" interrupts-final)
        rows="$rows; $chip $irq $name $b -> $a"
        [ "$a" -gt "$b" ] && ok=1
    done < <(section interrupts-final | grep -E '[0-9]+-fasteoi +virtio' |
        irqs_by_chip '^(IR-)?IO-APIC$')
    if [ -n "$ok" ] && [ "$(fact hwrng)" = "4096 bytes" ]; then
        result ioapic_level PASS "virtio-rng INTx:${rows#;}; hwrng" \
            "$(fact hwrng)"
    else
        result ioapic_level FAIL "virtio-rng INTx:${rows#;}${rows:- none};" \
            "hwrng $(fact hwrng)"
    fi
}

# check_counts LABEL: LABEL's count rose on every CPU during the workload.
check_counts()
{
    local l=$1 pre post deltas="" ok=PASS bad=FAIL i
    # RES is shown, not checked: the issue's checks are LOC, CAL, TLB.
    if [ "$l" = RES ]; then bad=INFO; fi
    read -r -a pre <<<"$(section interrupts-before | row "$l")"
    read -r -a post <<<"$(section interrupts-after | row "$l")"
    if [ ${#pre[@]} -ne "$ncpu" ] || [ ${#post[@]} -ne "$ncpu" ]; then
        result "$l" "$bad" "no $l row before and after the workload"
        return
    fi
    for ((i = 0; i < ncpu; i++)); do
        deltas="$deltas +$((post[i] - pre[i]))"
        [ $((post[i] - pre[i])) -gt 0 ] || ok=$bad
    done
    if [ "$l" = RES ]; then ok=INFO; fi
    result "$l" "$ok" "per CPU during the workload:$deltas"
}

# check_msix DRIVER: the MSI-X rows of the device DRIVER drives count
# interrupts and rose after the workload (the disk read back and the
# second TFTP fetch: after the restore, in a savevm run).
# Linux 6.1 names MSI and MSI-X rows alike (PCI-MSI, IR-PCI-MSI with
# remapping); the mode comes from the device's msi_irqs in sysfs.
check_msix()
{
    local drv=$1 line f dev pci chips="" irq mode b=0 a=0 n=0
    line=$(grep -E "^LB: virtio virtio[0-9]+ $drv " "$txt" | tail -n 1 ||
        true)
    if [ -z "$line" ]; then
        result "msix_${drv#virtio_}" FAIL "no $drv device in the guest"
        return
    fi
    # "LB: virtio virtioN DRIVER PCI-ADDRESS IRQ:MODE..."
    read -r -a f <<<"$line"
    dev=${f[2]} pci=${f[4]}
    for irq in "${f[@]:5}"; do
        mode=${irq#*:}
        irq=${irq%%:*}
        [ "$mode" = msix ] || continue
        n=$((n + 1))
        b=$((b + $(total "$irq" interrupts-after)))
        a=$((a + $(total "$irq" interrupts-final)))
        chips="$chips $(section interrupts-final | awk -v i="$irq:" \
            -v n="$ncpu" '$1 == i { print $(n + 2) }')"
    done
    chips=$(echo "$chips" | tr ' ' '\n' | sed '/^$/d' | sort -u | xargs)
    local what="$dev $pci: $n MSI-X vectors, chip ${chips:-?}, $b -> $a"
    if [ "$n" -gt 0 ] && [ "$a" -gt "$b" ] &&
        echo "$chips" | grep -qE '^(IR-)?PCI-MSI'; then
        result "msix_${drv#virtio_}" PASS "$what"
    else
        result "msix_${drv#virtio_}" FAIL "$what"
    fi
}

# check_ir_fault: the guest's irfault made edu send an MSI the IOMMU must
# block, and the kernel's fault handler named edu's source id, the
# interrupt index and the reason.  VT-d: Linux 6.1's dmar_fault prints
# "DRHD: handling fault status reg %x" and dmar_fault_do_one "[INTR-REMAP]
# Request device [%02x:%02x.%d] fault index 0x%llx [fault reason 0x%02x]
# %s" (both "DMAR: ", both in this kernel's image).  AMD-Vi: its event log
# handler prints "Event logged [IO_PAGE_FAULT device=%04x:%02x:%02x.%x
# ...]", or the same after the device's name without "device=" (dev_err),
# with no interrupt index; a fault the unit logs appears so.  n/a (INFO)
# with -i none.
check_ir_fault()
{
    local sent bdf kind index reason dm line="" drhd evrow="" irq chip name
    local said
    if [ "$iommu" = none ]; then
        result ir_fault INFO "n/a: no IOMMU (-i none)"
        return
    fi
    # "irfault: sent edu BDF iommu KIND index 0xN reason R (...)"
    sent=$(grep -E '^irfault: sent edu ' "$txt" | tail -n 1 || true)
    if [ -z "$sent" ]; then
        result ir_fault FAIL "irfault sent nothing: $(grep -E \
            '^irfault: (FAIL|no IOMMU)|^LB: irfault exit' "$txt" |
            tr '\n' ' ' | cut -c1-120)"
        return
    fi
    read -r _ _ _ bdf _ kind _ index _ reason _ <<<"$sent"
    dm=$(section dmesg)
    case $kind in
    vt-d)
        # The source id as Linux prints it: bus:dev.fn, no domain.
        line=$(echo "$dm" | grep -F "DMAR: [INTR-REMAP] Request device \
[${bdf#*:}] fault index $index [fault reason $reason]" | tail -n 1 ||
            true)
        drhd=$(echo "$dm" | grep -oE 'DRHD: handling fault status reg.*' |
            tail -n 1 || true)
        # The fault event's row (chip DMAR-MSI) after the workload.
        while read -r irq chip name; do
            evrow="$evrow; $chip $name $(total "$irq" interrupts-after) ->"
            evrow="$evrow $(total "$irq" interrupts-final)"
        done < <(section interrupts-final | irqs_by_chip '^DMAR-MSI$')
        line=${line:+${drhd:+$drhd; }${line#*DMAR: }$evrow}
        ;;
    amd-vi)
        line=$(echo "$dm" | grep -F "AMD-Vi: Event logged [$reason" |
            grep -E "($bdf: AMD-Vi|device=$bdf )" | tail -n 1 || true)
        line=${line:+${line#*\] }}
        ;;
    esac
    if [ -n "$line" ]; then
        result ir_fault PASS "edu $bdf index $index: $line"
    else
        # Stock QEMU 7.2 drops the request with a line on its stderr
        # ("vtd_irte_get: detected non-present IRTE ...", AMD-Vi: "failed
        # to remap interrupt from devid 0x28") and records no fault:
        # shown when there is one.
        said=$(cat "${txt%/*}"/qemu-*.out 2>/dev/null | tr -d '\r' |
            grep -m1 -iE 'irte|remap' | cut -c1-90 || true)
        result ir_fault FAIL "edu $bdf, $kind index $index reason" \
            "$reason: no such fault message in dmesg ($(echo "$dm" |
                grep -cE 'INTR-REMAP|DRHD: handling|AMD-Vi: Event' ||
                true) IOMMU fault lines)${said:+; QEMU: $said}"
    fi
}

# evaluate KIND DIR: the table of one run.
evaluate()
{
    local kind=$1 d=$2 rel detail
    txt=$d/serial.txt
    results=$d/results.txt
    : >"$results"
    failed=0
    printf '%-12s | %-4s | %s\n' check res detail
    printf '%-12s-|-%-4s-|-%s\n' ------------ ---- ------

    rel=$(fact kernel)
    if [ "$kind" = savevm ]; then
        if [ -z "$save_note" ]; then
            result savevm FAIL "the workload's halfway line never came" \
                "(QEMU exit $rc_save)"
        elif grep -qE '^(ipistorm: (ok|FAIL)|LB: workload exit)' \
            "$d/serial-1.log" 2>/dev/null; then
            result savevm FAIL "saved too late: the workload had ended"
        elif [ "$rc_save" -ne 0 ] || ! grep -qw "$snap" "$d/snapshots.txt"
        then
            result savevm FAIL "QEMU exit $rc_save; no snapshot $snap:" \
                "$(cat "$d/monitor-1.log" "$d/qemu-1.out" | tr -d '\r' |
                    grep -m1 -E '^Error|error' | cut -c1-160)"
        else
            result savevm PASS "stop, savevm $snap, quit at 'ipistorm:" \
                "$(grep -m1 '^ipistorm: halfway' "$d/serial.txt" |
                    cut -d' ' -f2-)' (VM size $(grep -w "$snap" \
                    "$d/snapshots.txt" | awk '{ print $3, $4 }'))"
        fi
    fi
    if grep -q '^LB: done$' "$txt" && [ "$rc_last" -eq 0 ]; then
        if [ "$kind" = savevm ]; then
            detail="a fresh QEMU -loadvm $snap ran it to the end"
        else
            detail="ran init to the end"
        fi
        result boot PASS "Linux ${rel:-?} $detail, QEMU exit 0"
    else
        result boot FAIL "Linux ${rel:-not started}: no 'LB: done';" \
            "QEMU exit $rc_last; last line: $(grep -v '^$' "$txt" |
                tail -n 1 | cut -c1-80)"
        local lk
        for lk in "$d"/lockup-*; do
            [ -e "$lk" ] || continue
            echo "# the guest reported a lockup (serial-${lk##*-}.log);" \
                "the monitor's dump (monitor-${lk##*-}.log):"
            tr -d '\r' <"$d/monitor-${lk##*-}.log" | sed 's/^/#   /'
        done
    fi

    # x2APIC: Linux 6.1's __x2apic_enable prints "x2apic enabled" once
    # it sets IA32_APIC_BASE.EXTD; default_setup_apic_routing then names
    # the x2APIC driver it switched to ("cluster x2apic" or "physical
    # x2apic").  Both strings are in this kernel's image.
    local dm routing irline amd='AMD-Vi: (Interrupt remapping|X2APIC) enabled'
    dm=$(section dmesg)
    routing=$(echo "$dm" |
        grep -oE 'Switched APIC routing (from .* )?to [^.]*' | tail -n 1 ||
        true)
    # The remapping unit's line: VT-d's "Enabled IRQ remapping in x2apic
    # mode"; AMD-Vi's "Interrupt remapping enabled", then "X2APIC
    # enabled" with XT (both kept).
    irline=$(echo "$dm" |
        grep -oE 'Enabled IRQ remapping in [a-z0-9]+ mode|'"$amd" |
        tail -n 2 | paste -sd, - | sed 's/,/, /' || true)
    if echo "$dm" | grep -qE '\] x2apic enabled$' &&
        echo "$routing" | grep -qE 'to (cluster|physical) x2apic$'; then
        result x2apic PASS "x2apic enabled; $routing; ${irline:-no IR}"
    else
        local flag=no
        fact cpuinfo-flags | grep -qw x2apic && flag=yes
        result x2apic FAIL "no 'x2apic enabled' and x2APIC routing in" \
            "dmesg (${routing:-no routing switch}; ${irline:-no IR};" \
            "CPUID x2apic: $flag)"
    fi

    # TSC-deadline: every CPU's clockevent device is lapic-deadline.
    local ces
    ces=$(sed -n 's/^LB: clockevent clockevent[0-9]* //p' "$txt")
    if [ "$(echo "$ces" | grep -cx lapic-deadline)" -eq "$ncpu" ]; then
        result tsc_deadline PASS "clockevent0-$((ncpu - 1)): lapic-deadline;" \
            "$(echo "$dm" | grep -oE 'TSC deadline timer [a-z]+' |
                head -n 1 | grep . || echo 'no TSC deadline line')"
    else
        local flag=no
        fact cpuinfo-flags | grep -qw tsc_deadline_timer && flag=yes
        result tsc_deadline FAIL "clockevents: $(echo "$ces" | xargs |
            tr ' ' ,) (CPUID tsc_deadline_timer: $flag)"
    fi

    # The IO-APIC: its rows count, and rose while init printed after the
    # workload (ttyS0's interrupt-driven output between the dumps
    # interrupts-after and interrupts-final: after the restore, in a
    # savevm run).
    local rose="" any=0 irq chip name b a
    while read -r irq chip name; do
        b=$(total "$irq" interrupts-after)
        a=$(total "$irq" interrupts-final)
        [ "$a" -gt 0 ] && any=1
        [ "$a" -gt "$b" ] && rose="$rose; $chip $irq $name $b -> $a"
    done < <(section interrupts-final | irqs_by_chip '^(IR-)?IO-APIC$')
    if [ "$any" = 1 ] && [ -n "$rose" ]; then
        result ioapic PASS "${rose#; }"
    else
        result ioapic FAIL "no IO-APIC row rose after the workload" \
            "(rows: $(section interrupts-final |
                irqs_by_chip '^(IR-)?IO-APIC$' | awk '{print $3}' | xargs))"
    fi

    check_level_intx

    check_msix virtio_net
    check_msix virtio_blk
    check_ir_fault
    check_counts LOC
    check_counts CAL
    check_counts TLB
    check_counts RES

    # The workload itself.
    if grep -q '^ipistorm: ok$' "$txt" && [ "$(fact 'workload exit')" = 0 ]
    then
        result workload PASS "ipistorm ok; rounds per CPU:$(sed -n \
            's/^ipistorm: cpu [0-9]* rounds \([0-9]*\) .*/ \1/p' "$txt" |
                tr -d '\n')"
    else
        result workload FAIL "$(grep -E '^ipistorm: FAIL|workload exit' \
            "$txt" | tail -n 1 | grep . || echo 'no result of ipistorm')"
    fi

    # Network: a DHCP lease, the payload fetched by TFTP before the
    # workload and again after it (after the restore, in a savevm run).
    local t1 t2 dh
    dh=$(fact dhcp)
    t1=$(fact tftp1 | awk '{ print $2 }')
    t2=$(fact tftp2 | awk '{ print $2 }')
    if [ "${dh%% *}" = ok ] && [ "$t1" = "$payload_sum" ] &&
        [ "$t2" = "$payload_sum" ]; then
        result net PASS "DHCP ${dh#ok }; TFTP payload sha256 matches" \
            "before and after the workload"
    else
        result net FAIL "dhcp: ${dh:-none}; tftp before: ${t1:-none};" \
            "after: ${t2:-none}; want ${payload_sum:0:16}"
    fi

    # Disk: the payload written and synced before the workload, read
    # back with the page cache dropped after it.
    local rb
    rb=$(fact 'disk readback' | awk '{ print $2 }')
    if grep -q '^LB: disk written' "$txt" && [ "$rb" = "$payload_sum" ]
    then
        result disk PASS "$(fact 'disk written'), read back after the" \
            "workload, sha256 matches"
    else
        result disk FAIL "$(grep -E '^LB: (disk|no /dev)' "$txt" |
            tr '\n' ' ' | cut -c1-100) want ${payload_sum:0:16}"
    fi
}

# --- main -----------------------------------------------------------------

summary=()     # "role kind seconds PASS|FAIL" per run
status=0

# one ROLE BIN MACHINE KIND
one()
{
    local role=$1 bin=$2 m=$3 kind=$4 d t0 qs np
    bin_role=$role
    d=$work/$role-$kind
    t0=$SECONDS
    echo
    echo "## $role $kind: $bin -M $m"
    case $kind in
    plain) run_plain "$bin" "$m" "$d" ;;
    savevm) run_savevm "$bin" "$m" "$d" ;;
    record) run_record "$bin" "$m" "$d" ;;
    esac
    evaluate "$kind" "$d"
    if [ "$kind" = record ]; then
        check_replay "$d"
    fi
    read -r qs np < <(cat "$d"/time-* 2>/dev/null | awk '{ s += $1; n++ }
        END { printf "%.1f %d\n", s / 1000, n }')
    echo "# $role $kind: QEMU ran $qs s ($np process(es)), $((SECONDS -
        t0)) s with the lock waits; logs in $d"
    summary+=("$role $kind $qs $failed $d")
    # The qcow2 (90 MiB with a snapshot) and a recording (tens of MiB)
    # are kept only where a check of the QEMU under test failed, for a
    # look at them.
    if [ "$role" = stock ] || [ "$failed" = 0 ]; then
        rm -f "$d/disk.qcow2" "$d"/boot.intcrec* "$d"/replay.*
    fi
    if [ "$role" = libintc ] && [ "$failed" = 1 ]; then status=1; fi
}

ver()
{
    "$1" --version | head -n 1
}
if [ "$qemu" != none ]; then
    echo "# under test: $qemu ($(ver "$qemu")) -M $machine"
fi
if [ "$stock" != none ]; then
    echo "# stock: $stock ($(ver "$stock")) -M $stock_machine"
fi
echo "# both: -smp $ncpu -cpu $cpu -accel $accel -device $iommu" \
    "(stock: eim=on as x-buggy-eim=on)" \
    "${extra:+$extra }; workload $secs s"

for k in "${kinds[@]}"; do
    [ "$qemu" = none ] || one libintc "$qemu" "$machine" "$k"
done
for k in "${kinds[@]}"; do
    # Stock QEMU has no recorder.
    [ "$stock" = none ] || [ "$k" = record ] ||
        one stock "$stock" "$stock_machine" "$k"
done

# Both tables side by side: one column per run.
echo
echo "## summary"
line=$(printf '%-12s' check)
for s in "${summary[@]}"; do
    read -r role kind _ _ _ <<<"$s"
    line="$line | $(printf '%-14s' "$role $kind")"
done
echo "$line"
checks=$(for s in "${summary[@]}"; do
    read -r _ _ _ _ dir <<<"$s"
    cut -f1 "$dir/results.txt"
done | awk '!seen[$0]++')
for c in $checks qemu_s; do
    line=$(printf '%-12s' "$c")
    for s in "${summary[@]}"; do
        read -r _ _ secs_taken _ dir <<<"$s"
        if [ "$c" = qemu_s ]; then
            r=$secs_taken
        else
            r=$(awk -F'\t' -v c="$c" '$1 == c { print $2 }' \
                "$dir/results.txt")
        fi
        line="$line | $(printf '%-14s' "${r:--}")"
    done
    echo "$line"
done
if [ "$qemu" != none ]; then
    if [ "$status" = 0 ]; then
        echo "qemu_linux: PASS: every check of $qemu passed ($runs)"
    else
        echo "qemu_linux: FAIL: a check of $qemu failed (tables above)"
    fi
fi
exit "$status"
