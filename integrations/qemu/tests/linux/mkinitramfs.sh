#!/bin/bash
# Prepare the Linux boot test's guest (issue 14, point 4): Debian's own
# kernel and a busybox initramfs of ours, cached outside the clone.
#
#   mkinitramfs.sh        prepare or reuse; the last line of stdout is the
#                         directory holding vmlinuz, initramfs.cpio and
#                         info.txt (what went in: package versions, the
#                         kernel release, the modules)
#
# Steps: the kernel package that Debian's linux-image-amd64 metapackage
# depends on and busybox-static are fetched with `apt-get download` (not
# installed) and unpacked with `dpkg-deb -x`; the virtio modules the test
# needs, with the modules they depend on (read from each module's
# .modinfo section), are copied in dependency order; ipistorm.c and
# irfault.c are built static; init, dhcp-script, busybox and its applet
# links make up the rest; busybox's own cpio writes the archive (newc,
# owner root).  The kernel's built-in initramfs provides /dev/console.
#
# The result is keyed by the sha256 of the two package versions, this
# script, init, dhcp-script, ipistorm.c, irfault.c and the compiler's
# version, so a later run reuses it without network.
#
# Environment:
#   INTC_LINUX_CACHE  cache directory (default $INTC_QEMU_CACHE/linux,
#                     INTC_QEMU_CACHE defaulting to /var/cache/libintc-qemu):
#                       debs/     the downloaded .deb files
#                       <key>/    vmlinuz, initramfs.cpio, info.txt
#                     the 3 newest keys are kept
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../../.." && pwd)
# shellcheck disable=SC1091  # scripts/deps.sh: package lists and helpers
. "$repo/scripts/deps.sh"

cache=${INTC_LINUX_CACHE:-${INTC_QEMU_CACHE:-/var/cache/libintc-qemu}/linux}
# The modules the guest loads; their dependencies are added.  Debian
# builds virtio, virtio-pci and the drivers as modules (CONFIG_VIRTIO=m,
# CONFIG_VIRTIO_PCI=m, CONFIG_VIRTIO_BLK=m, CONFIG_VIRTIO_NET=m,
# CONFIG_HW_RANDOM_VIRTIO=m; its rng core is built in).
modules=(virtio_pci virtio_blk virtio_net virtio_rng)
keep=3

say() { echo "linux/mkinitramfs.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

as_root()
{
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# candidate PKG: the version apt would install, or nothing.
candidate()
{
    apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p' |
        grep -v '(none)' || true
}

# resolve: sets kpkg, kver (the kernel package linux-image-amd64 points
# to, and its version) and bver (busybox-static's version); updates the
# package lists once if apt knows none of them.
resolve()
{
    local tries=0
    while :; do
        kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
            sed -n 's/^ *Depends: \(linux-image-[^ ]*-amd64\)$/\1/p' |
            head -n 1)
        kver=""
        [ -n "$kpkg" ] && kver=$(candidate "$kpkg")
        bver=$(candidate busybox-static)
        if [ -n "$kver" ] && [ -n "$bver" ]; then
            return 0
        fi
        [ $tries -eq 0 ] || die "apt knows no linux-image-amd64 or" \
            "busybox-static (kernel '${kpkg:-?}' '${kver:-?}'," \
            "busybox '${bver:-?}')"
        tries=1
        say "apt-get update (no linux-image-amd64 or busybox-static known)"
        as_root apt-get update >&2
    done
}

# deb PKG VERSION: the .deb's path in the cache, downloaded if absent.
deb()
{
    local pkg=$1 ver=$2 f
    # apt-get download names the file PKG_VERSION_ARCH.deb, the epoch's
    # colon escaped as %3a.
    f=$cache/debs/${pkg}_${ver//:/%3a}_amd64.deb
    if ! [ -s "$f" ]; then
        mkdir -p "$cache/debs"
        say "apt-get download $pkg=$ver"
        # Lists older than the archive give 404s: update once and retry.
        if ! (cd "$cache/debs" && apt-get download "$pkg=$ver" >&2); then
            as_root apt-get update >&2
            (cd "$cache/debs" && apt-get download "$pkg=$ver" >&2) ||
                die "apt-get download $pkg=$ver failed"
        fi
        [ -s "$f" ] || die "apt-get download left no $f"
    fi
    echo "$f"
}

compute_key()
{
    {
        echo "kernel $kpkg $kver"
        echo "busybox $bver"
        (cd "$here" && sha256sum mkinitramfs.sh init dhcp-script \
            ipistorm.c irfault.c)
        gcc --version | head -n 1
    } | sha256sum | cut -c1-20
}

# modinfo_depends KO: the modules KO depends on, one a line.
modinfo_depends()
{
    objcopy -O binary --only-section=.modinfo "$1" /dev/stdout |
        tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' '\n' | sed '/^$/d'
}

# add_module NAME: NAME's dependencies, then NAME, onto $order (once).
add_module()
{
    local name=$1 ko dep
    case " $order " in *" $name "*) return 0 ;; esac
    # Module names use '_' where some file names have '-' (virtio-rng.ko).
    ko=$(find "$kdir/lib/modules/$krel" \( -name "$name.ko" -o \
        -name "${name//_/-}.ko" \) | head -n 1)
    [ -n "$ko" ] || die "module $name not in $kpkg (built in? compressed?)"
    for dep in $(modinfo_depends "$ko"); do
        add_module "$dep"
    done
    order="$order $name"
    cp "$ko" "$root/lib/modules/$name.ko"
}

prune()
{
    local d n=0
    # shellcheck disable=SC2045  # newest first; the names are hex keys
    for d in $(ls -1t "$cache"); do
        [[ $d =~ ^[0-9a-f]{20}$ ]] || continue
        n=$((n + 1))
        [ "$n" -le "$keep" ] || rm -rf "${cache:?}/$d"
    done
}

build()
{
    local out=$1 tmp kdeb bdeb applet
    tmp=$out.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp/x"
    kdir=$tmp/x/kernel
    root=$tmp/x/root
    kdeb=$(deb "$kpkg" "$kver")
    bdeb=$(deb busybox-static "$bver")
    say "unpacking $(basename "$kdeb")"
    dpkg-deb -x "$kdeb" "$kdir"
    dpkg-deb -x "$bdeb" "$tmp/x/busybox"
    krel=$(ls "$kdir/lib/modules")
    [ "$(echo "$krel" | wc -l)" -eq 1 ] || die "not one release: $krel"
    cp "$kdir/boot/vmlinuz-$krel" "$tmp/vmlinuz"

    mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib/modules}
    cp "$tmp/x/busybox/bin/busybox" "$root/bin/"
    for applet in $("$root/bin/busybox" --list); do
        [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
    done
    install -m 755 "$here/init" "$root/init"
    install -m 755 "$here/dhcp-script" "$root/bin/dhcp-script"
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -pthread \
        -o "$root/bin/ipistorm" "$here/ipistorm.c"
    gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static \
        -o "$root/bin/irfault" "$here/irfault.c"

    order=""
    for m in "${modules[@]}"; do
        add_module "$m"
    done
    echo "$order" | tr ' ' '\n' | sed '/^$/d' >"$root/lib/modules/load-order"

    # Names without "./"; busybox cpio reports its block count on stderr.
    (cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort |
        "$root/bin/busybox" cpio -o -H newc -R 0:0 \
        >"$tmp/initramfs.cpio" 2>"$tmp/cpio.log") ||
        die "cpio failed: $(cat "$tmp/cpio.log")"
    rm -f "$tmp/cpio.log"
    {
        echo "key: $key"
        echo "kernel package: $kpkg $kver"
        echo "kernel release: $krel"
        echo "busybox-static: $bver"
        echo "modules:$order"
        echo "compiler: $(gcc --version | head -n 1)"
        echo "built: $(date -u +%FT%TZ)"
    } >"$tmp/info.txt"
    rm -rf "$tmp/x"
    rm -rf "$out"
    mv "$tmp" "$out"
}

intc_need_packages "${INTC_LINUX_PACKAGES[@]}" >&2
resolve
key=$(compute_key)
out=$cache/$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -s "$out/vmlinuz" ] && [ -s "$out/initramfs.cpio" ] &&
    [ -s "$out/info.txt" ]; then
    touch "$out"
else
    say "preparing $key ($kpkg $kver, busybox-static $bver)"
    build "$out"
    prune
fi
echo "$out"
