# Sourced by the scripts in this directory: install the Debian packages a
# step needs, and only those that are missing, so a set-up machine runs
# without root or network.

# intc_need_packages PKG...: apt-get install the PKGs not yet installed.
intc_need_packages()
{
    local missing=() pkg sudo=()

    if ! command -v dpkg-query >/dev/null; then
        echo "not a Debian system: install by hand: $*" >&2
        return 0
    fi
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" \
            != installed ]; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -ne 0 ]; then
        sudo=(sudo)
    fi
    echo "installing: ${missing[*]}"
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
}

# Packages every build needs (libyaml-dev: the intc-sim tool, built by
# default; -DINTC_BUILD_TOOLS=OFF does without); tests add libcmocka-dev.
# shellcheck disable=SC2034  # used by the sourcing scripts
INTC_BUILD_PACKAGES=(build-essential binutils cmake ninja-build pkg-config
    libyaml-dev)

# The tests beyond the build: the timeline checker
# (tests/sim/check_timeline.py) runs on Debian's python3, standard
# library only, and renders the SVG timelines with rsvg-convert.
# shellcheck disable=SC2034
INTC_TEST_PACKAGES=(python3 librsvg2-bin)

# libintc-uc (integrations/unicorn, -DINTC_BUILD_UNICORN=AUTO builds it
# when found): Unicorn 2 and the assembler/linker of its example firmware
# (binutils, above).
# shellcheck disable=SC2034
INTC_UNICORN_PACKAGES=(libunicorn-dev)

# The Python package intc (bindings/python; -DINTC_BUILD_PYTHON=AUTO
# builds it when /usr/bin/python3 has cffi) and its tests: cffi, pytest;
# python3-venv and python3-setuptools for the offline pip install that
# the python.install test (and README.md "Python") does.  intc.uc and its
# tests (python.uc) use libintc-uc and binutils, listed above.
# shellcheck disable=SC2034
INTC_PYTHON_PACKAGES=(python3 python3-cffi python3-pytest python3-venv
    python3-setuptools)

# The fuzz build (scripts/test.sh, -DINTC_FUZZ=ON): clang with the
# libFuzzer and sanitizer runtimes, llvm-symbolizer for readable reports;
# zip/unzip for the seed corpus zips of fuzz/build.sh, which the ctest
# fuzz/clusterfuzz/* checks.  (AFL++, fuzz/afl.sh, stays optional.)
# shellcheck disable=SC2034
INTC_FUZZ_PACKAGES=(clang libclang-rt-14-dev llvm zip unzip)

# QEMU 7.2 with libintc (integrations/qemu/build.sh): QEMU's build
# dependencies for x86_64-softmmu without default features plus slirp and
# libfdt (required by the target: microvm);
# dpkg-dev (dpkg --compare-versions, for apt-get source), patch, rsync (the
# incremental work tree); seabios (bios-256k.bin) and qemu-system-data
# (multiboot_dma.bin, linuxboot_dma.bin, kvmvapic.bin) for running it,
# since the dfsg source installs no firmware.
# shellcheck disable=SC2034
INTC_QEMU_PACKAGES=(meson python3 libglib2.0-dev libpixman-1-dev zlib1g-dev
    libslirp-dev libfdt-dev dpkg-dev xz-utils patch rsync seabios
    qemu-system-data)

# The Linux boot test (integrations/qemu/tests/linux): gcc and the static
# libc for its workload, objcopy (binutils) to read the kernel modules'
# dependencies, qemu-img (qemu-utils) for its qcow2 disk, Debian's stock
# qemu-system-x86 for the comparison table.  The kernel and busybox-static
# are downloaded with apt-get download, not installed.
# shellcheck disable=SC2034
INTC_LINUX_PACKAGES=(gcc libc6-dev binutils qemu-utils qemu-system-x86)

intc_jobs()
{
    nproc 2>/dev/null || echo 2
}
