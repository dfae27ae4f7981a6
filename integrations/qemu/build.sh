#!/bin/bash
# Build Debian 12's QEMU 7.2 (qemu-system-x86_64 only) with libintc inside,
# or reuse the build cached for exactly these inputs (issue 14).
#
#   integrations/qemu/build.sh            build or reuse; the last line of
#                                         stdout is the binary's path
#   integrations/qemu/build.sh --print    print that path if this tree's
#                                         build is cached, else exit 3;
#                                         never builds nor installs
#   integrations/qemu/build.sh --tree DIR write the source tree to DIR for
#                                         making patches: a git repository
#                                         whose first commit is Debian's
#                                         patched tree, then one commit per
#                                         patches/*.patch (no glue copied)
#
# Steps of a build: the Debian packages (scripts/deps.sh), a deb-src entry
# for the release, `apt-get source --download-only qemu` into the cache,
# the orig tarball with Debian's debian/patches/series applied, then ours
# (patches/*.patch, in name order, no fuzz), the glue copied in (glue/*.c
# into hw/i386/, glue/*.h into include/hw/i386/), libintc built static and
# position-independent into a private prefix that pkg-config is pointed
# at, QEMU configured for x86_64-softmmu without default features (slirp
# on, no docs, no -Werror) and `ninja qemu-system-x86_64`.
#
# The result is keyed by the sha256 of: our patches, the glue, libintc's
# sources (CMakeLists.txt, cmake/, include/, libintc/), this script and the
# Debian .dsc.  Nothing is written inside the clone.
#
# Environment:
#   INTC_QEMU_CACHE    cache directory (default /var/cache/libintc-qemu):
#                        src/            Debian source package files
#                        work/qemu/      the last build's tree, build/ in it
#                        work/prefix/    libintc as installed for QEMU
#                        builds/<key>/   qemu-system-x86_64 and info.txt
#                        logs/<key>.log  the full output of a build
#   INTC_QEMU_CLEAN=1  configure and compile QEMU from scratch; otherwise
#                      the last build's tree is updated file by file
#                      (rsync --checksum) so ninja recompiles only what the
#                      new inputs changed.  The keyed result is the same.
#   INTC_QEMU_REFRESH=1  ask apt for the newest qemu source even when one
#                      is cached (default: the cached one, so a cache hit
#                      needs no network)
#   INTC_QEMU_JOBS     parallel compile jobs (default: nproc)
#   INTC_QEMU_KEEP     how many keyed builds to keep (default 4)
#   INTC_QEMU_VERBOSE=1  show the build output, not only the log
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck disable=SC1091  # scripts/deps.sh: package lists and helpers
. "$repo/scripts/deps.sh"

cache=${INTC_QEMU_CACHE:-/var/cache/libintc-qemu}
jobs=${INTC_QEMU_JOBS:-$(intc_jobs)}
keep=${INTC_QEMU_KEEP:-4}
# Debian's python3 and meson, not a pyenv/venv python3 earlier in PATH.
qemu_path=/usr/bin:/bin:$PATH
# QEMU.md's options plus fdt: x86_64-softmmu requires libfdt (microvm
# selects FDT) and --without-default-features turns its lookup off, while
# the dfsg tarball has no dtc/ to build it from.  Part of the configure
# stamp, so a change here reconfigures (and, being in this file, re-keys).
qemu_configure=(--target-list=x86_64-softmmu --without-default-features
    --disable-docs --disable-werror --disable-install-blobs --enable-slirp
    --enable-fdt=system)

t0=$SECONDS
say() { echo "qemu/build.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
step() { say "[$((SECONDS - t0))s] $*"; }

as_root()
{
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# run LOG CMD...: CMD's output goes to LOG (and to stderr when verbose);
# on failure, the end of LOG is shown.
run()
{
    local log=$1 rc=0
    shift
    echo "+ $*" >>"$log"
    if [ "${INTC_QEMU_VERBOSE:-0}" = 1 ]; then
        "$@" 2>&1 | tee -a "$log" >&2 || rc=$?
    else
        "$@" >>"$log" 2>&1 || rc=$?
    fi
    if [ "$rc" -ne 0 ]; then
        say "failed (exit $rc): $*"
        say "last lines of $log:"
        tail -n 40 "$log" >&2
        exit "$rc"
    fi
}

# --- Debian source package ------------------------------------------------

# True when apt knows a Sources index for the release's main component.
have_deb_src()
{
    local codename=$1
    # shellcheck disable=SC2016  # apt's format fields, not shell
    apt-get indextargets --no-release-info --format '$(RELEASE) $(COMPONENT)' \
        'Created-By: Sources' 2>/dev/null | grep -qx "$codename main"
}

# Print a deb822 deb-src stanza for CODENAME built from the deb stanza of
# the .sources files given (same URIs and Signed-By), or nothing.
deb_src_stanza()
{
    local codename=$1
    shift
    awk -v rel="$codename" '
        function flush() {
            if (is_deb && has_rel && uri != "" && !done) {
                print "Types: deb-src"
                print "URIs: " uri
                print "Suites: " suites
                print "Components: main"
                if (key != "") print "Signed-By: " key
                done = 1
            }
            is_deb = has_rel = 0; uri = suites = key = ""
        }
        /^[ \t]*$/ { flush(); next }
        /^#/ { next }
        /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") is_deb = 1 }
        /^URIs:/ { uri = $2 }
        /^Signed-By:/ { key = $2 }
        /^Suites:/ {
            for (i = 2; i <= NF; i++) if ($i == rel) has_rel = 1
            suites = $2; for (i = 3; i <= NF; i++) suites = suites " " $i
        }
        END { flush() }' "$@"
}

# The same for one-line sources.list files: "deb [opts] URI rel main...".
deb_src_line()
{
    local codename=$1
    shift
    awk -v rel="$codename" '
        $1 == "deb" {
            i = 2; opts = ""
            if ($2 ~ /^\[/) {
                while (i <= NF && $i !~ /\]$/) { opts = opts $i " "; i++ }
                opts = opts $i " "; i++
            }
            if ($(i + 1) == rel) {
                print "deb-src " opts $i " " rel " main"; exit
            }
        }' "$@"
}

ensure_deb_src()
{
    local codename entry file
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release"
    have_deb_src "$codename" && return 0

    shopt -s nullglob
    local sources=(/etc/apt/sources.list.d/*.sources)
    local lists=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list)
    shopt -u nullglob
    entry=""
    file=/etc/apt/sources.list.d/libintc-deb-src.sources
    if [ ${#sources[@]} -gt 0 ]; then
        entry=$(deb_src_stanza "$codename" "${sources[@]}")
    fi
    if [ -z "$entry" ]; then
        local existing=()
        for f in "${lists[@]}"; do [ -f "$f" ] && existing+=("$f"); done
        if [ ${#existing[@]} -gt 0 ]; then
            entry=$(deb_src_line "$codename" "${existing[@]}")
            file=/etc/apt/sources.list.d/libintc-deb-src.list
        fi
    fi
    [ -n "$entry" ] || die "no 'deb' entry for $codename found in" \
        "/etc/apt/sources.list{,.d}; add a deb-src entry by hand"
    if ! [ -e "$file" ]; then
        step "enabling source packages: $file"
        printf '%s\n' "$entry" | as_root tee "$file" >/dev/null
    fi
    as_root apt-get update >&2
    have_deb_src "$codename" ||
        die "apt still has no Sources index for $codename main ($file)"
}

# The newest qemu_*.dsc in the source cache, or nothing.
newest_dsc()
{
    local f v best="" best_v=""
    for f in "$cache/src"/qemu_*.dsc; do
        [ -e "$f" ] || continue
        v=$(sed -n 's/^Version: //p' "$f")
        if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best_v"; then
            best=$f
            best_v=$v
        fi
    done
    echo "$best"
}

fetch_source()
{
    mkdir -p "$cache/src"
    ensure_deb_src
    step "apt-get source --download-only qemu (into $cache/src)"
    # Lists older than the mirror give 404s: update once and retry.
    if ! (cd "$cache/src" && apt-get source --download-only qemu >&2); then
        as_root apt-get update >&2
        (cd "$cache/src" && apt-get source --download-only qemu >&2) ||
            die "apt-get source qemu failed"
    fi
}

# dsc_files DSC: the file names of its Checksums-Sha256 section.
dsc_files()
{
    awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
         f && NF == 3 { print $3 }' "$1"
}

verify_dsc()
{
    local dsc=$1
    awk '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
         f && NF == 3 { print $1 "  " $3 }' "$dsc" |
        (cd "$(dirname "$dsc")" && sha256sum --quiet -c -) ||
        die "$dsc: files missing or corrupt (INTC_QEMU_REFRESH=1 refetches)"
}

# select_source: sets $dsc, fetching the source package if none is cached.
select_source()
{
    dsc=$(newest_dsc)
    if [ -z "$dsc" ] || [ "${INTC_QEMU_REFRESH:-0}" = 1 ]; then
        fetch_source
        dsc=$(newest_dsc)
        [ -n "$dsc" ] || die "apt-get source left no qemu_*.dsc in $cache/src"
    fi
    verify_dsc "$dsc"
}

# extract_tree DIR LOG: Debian's patched tree into the new directory DIR.
extract_tree()
{
    local dir=$1 log=$2 f orig="" debian="" p opts level
    for f in $(dsc_files "$dsc"); do
        case $f in
            *.orig.tar.*) orig=$cache/src/$f ;;
            *.debian.tar.*) debian=$cache/src/$f ;;
            *) die "$dsc: unexpected file $f (an orig component tarball?)" ;;
        esac
    done
    if [ -z "$orig" ] || [ -z "$debian" ]; then
        die "$dsc: no orig or debian tarball"
    fi
    mkdir -p "$dir"
    run "$log" tar -xf "$orig" -C "$dir" --strip-components=1
    run "$log" tar -xf "$debian" -C "$dir"
    [ -f "$dir/debian/patches/series" ] || die "no debian/patches/series"
    while read -r p opts; do
        case $p in '' | '#'*) continue ;; esac
        level=1
        case ${opts:-} in -p[0-9]*) level=${opts#-p} ;; esac
        run "$log" patch -d "$dir" -p"$level" -s -N --no-backup-if-mismatch \
            -i "$dir/debian/patches/$p"
    done <"$dir/debian/patches/series"
}

our_patches()
{
    local p
    for p in "$here"/patches/*.patch; do
        [ -e "$p" ] && echo "$p"
    done
}

apply_ours()
{
    local dir=$1 log=$2 p
    for p in $(our_patches); do
        run "$log" patch -d "$dir" -p1 -s -N --fuzz=0 --no-backup-if-mismatch \
            -i "$p"
    done
}

copy_glue()
{
    local dir=$1 f
    for f in "$here"/glue/*; do
        case $f in
            *.c) cp "$f" "$dir/hw/i386/" ;;
            *.h) cp "$f" "$dir/include/hw/i386/" ;;
        esac
    done
}

# --- cache key --------------------------------------------------------------

compute_key()
{
    {
        (cd "$repo" && find integrations/qemu/patches integrations/qemu/glue \
            integrations/qemu/build.sh CMakeLists.txt cmake include libintc \
            -type f -print0 2>/dev/null | LC_ALL=C sort -z | xargs -0 sha256sum)
        echo "debian-source $(basename "$dsc") $(sha256sum <"$dsc")"
    } | sha256sum | cut -c1-20
}

# --- libintc and QEMU -------------------------------------------------------

build_libintc()
{
    local log=$1 b=$cache/work/libintc-build p=$cache/work/prefix
    rm -rf "$b" "$p"
    run "$log" cmake -S "$repo" -B "$b" -G Ninja \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
        -DCMAKE_INSTALL_PREFIX="$p" -DCMAKE_INSTALL_LIBDIR=lib \
        -DINTC_BUILD_TESTS=OFF -DINTC_BUILD_EXAMPLES=OFF \
        -DINTC_BUILD_TOOLS=OFF -DINTC_BUILD_BENCH=OFF \
        -DINTC_BUILD_UNICORN=OFF
    run "$log" cmake --build "$b" --parallel "$jobs"
    run "$log" cmake --install "$b"
    # Both libraries are named intc: without the .so, -lintc is the archive.
    rm -f "$p"/lib/libintc.so*
    if ! [ -f "$p/lib/libintc.a" ] || ! [ -f "$p/lib/pkgconfig/libintc.pc" ]
    then
        die "libintc install in $p lacks libintc.a or libintc.pc"
    fi
}

build_qemu()
{
    local log=$1 src=$cache/work/qemu stamp want
    local b=$src/build
    export PKG_CONFIG_PATH=$cache/work/prefix/lib/pkgconfig
    want=$(printf '%s\n' "${qemu_configure[@]}" "$PKG_CONFIG_PATH")
    stamp=$b/libintc-configure.stamp
    if ! [ -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        step "configuring QEMU"
        rm -rf "$b"
        mkdir -p "$b"
        (cd "$b" && run "$log" env PATH="$qemu_path" ../configure \
            "${qemu_configure[@]}")
        echo "$want" >"$stamp"
    fi
    step "ninja qemu-system-x86_64 ($jobs jobs; log: $log)"
    # libintc.a is not a tracked input of the link: relink every time.
    rm -f "$b/qemu-system-x86_64"
    (cd "$b" && run "$log" env PATH="$qemu_path" ninja -j"$jobs" \
        qemu-system-x86_64)
    grep -q 'hw_i386_libintc-qemu\.c\.o' "$b/build.ninja" ||
        die "QEMU was configured without libintc (stub glue built):" \
            "meson did not find libintc.pc in $PKG_CONFIG_PATH; see $log"
}

prune()
{
    local d n=0
    # shellcheck disable=SC2045  # newest first; the names are hex keys
    for d in $(ls -1t "$cache/builds"); do
        n=$((n + 1))
        if [ "$n" -gt "$keep" ]; then
            rm -rf "${cache:?}/builds/$d" "$cache/logs/$d.log"
        fi
    done
}

build()
{
    local key out log tmp stage
    select_source
    key=$(compute_key)
    out=$cache/builds/$key
    if [ -x "$out/qemu-system-x86_64" ]; then
        touch "$out"
        step "reusing the cached build $key (nothing changed)"
        echo "$out/qemu-system-x86_64" >"$cache/last-binary"
        echo "$out/qemu-system-x86_64"
        return 0
    fi

    mkdir -p "$cache/logs" "$cache/work"
    log=$cache/logs/$key.log
    : >"$log"
    step "building $key from $(basename "$dsc") (log: $log)"
    stage=$cache/work/stage
    rm -rf "$stage"
    step "unpacking and applying debian/patches/series"
    extract_tree "$stage" "$log"
    step "applying $(our_patches | wc -l) patch(es) of ours, copying the glue"
    apply_ours "$stage" "$log"
    copy_glue "$stage"

    if [ "${INTC_QEMU_CLEAN:-0}" = 1 ]; then
        rm -rf "$cache/work/qemu"
    fi
    mkdir -p "$cache/work/qemu"
    # Unchanged files keep their mtimes, so ninja rebuilds only the rest.
    run "$log" rsync -rlpc --delete --exclude=/build/ "$stage/" \
        "$cache/work/qemu/"
    rm -rf "$stage"

    step "building libintc (static, PIC)"
    build_libintc "$log"
    build_qemu "$log"

    tmp=$out.tmp
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp "$cache/work/qemu/build/qemu-system-x86_64" "$tmp/"
    {
        echo "key: $key"
        echo "debian source: $(basename "$dsc")"
        echo "libintc: $(sed -n 's/^Version: //p' \
            "$cache/work/prefix/lib/pkgconfig/libintc.pc")"
        echo "repo: $repo ($(git -C "$repo" describe --always --dirty \
            2>/dev/null || echo 'not a git checkout'))"
        echo "patches: $(our_patches | xargs -r -n1 basename | tr '\n' ' ')"
        echo "configure: ${qemu_configure[*]}"
        echo "built: $(date -u +%FT%TZ) in $((SECONDS - t0)) s"
    } >"$tmp/info.txt"
    rm -rf "$out"
    mv "$tmp" "$out"
    echo "$out/qemu-system-x86_64" >"$cache/last-binary"
    prune
    step "done: $out/qemu-system-x86_64"
    echo "$out/qemu-system-x86_64"
}

print_binary()
{
    local key
    dsc=$(newest_dsc)
    [ -n "$dsc" ] || { say "no qemu source in $cache/src: not built"; exit 3; }
    key=$(compute_key)
    if [ -x "$cache/builds/$key/qemu-system-x86_64" ]; then
        echo "$cache/builds/$key/qemu-system-x86_64"
    else
        say "no cached build for this tree (key $key): run $0"
        exit 3
    fi
}

make_tree()
{
    local dir=$1 log p g
    [ -e "$dir" ] && die "$dir exists"
    select_source
    log=$(mktemp)
    extract_tree "$dir" "$log"
    rm -f "$log"
    g=(git -C "$dir" -c user.name=build.sh -c user.email=build.sh@localhost)
    "${g[@]}" init -q
    "${g[@]}" add -A
    "${g[@]}" commit -q -m "$(basename "$dsc" .dsc) with debian/patches/series"
    for p in $(our_patches); do
        patch -d "$dir" -p1 -s -N --fuzz=0 --no-backup-if-mismatch -i "$p"
        "${g[@]}" add -A
        "${g[@]}" commit -q -m "$(basename "$p")"
    done
    say "$dir: $(git -C "$dir" log --oneline | wc -l) commit(s); glue not copied"
}

# --- main -------------------------------------------------------------------

mode=build
case ${1:-} in
    "") ;;
    --print) mode=print ;;
    --tree)
        [ $# -eq 2 ] || die "usage: $0 --tree DIR"
        mode=tree
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $1 (see --help)" ;;
esac

if [ "$mode" = print ]; then
    print_binary
    exit 0
fi

intc_need_packages "${INTC_BUILD_PACKAGES[@]}" "${INTC_QEMU_PACKAGES[@]}" >&2
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
    say "waiting for another build.sh using $cache"
    flock 9
fi
case $mode in
    build) build ;;
    tree) make_tree "$(realpath -m "$2")" ;;
esac
