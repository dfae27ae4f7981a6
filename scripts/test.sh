#!/bin/bash
# Set up a Debian 12 machine, then build and test libintc three times:
#  1. build/werror:   default compiler, warnings are errors, RelWithDebInfo
#                     (optimisation enables gcc's flow-based warnings);
#  2. build/sanitize: ASan + UBSan, clang if present (a second compiler's
#                     warnings), else gcc; warnings are errors there too;
#  3. build/fuzz:     clang, -DINTC_FUZZ=ON: the libFuzzer targets replay
#                     their seed corpora and regression inputs and fuzz
#                     briefly (ctest label "fuzz", fuzz/CMakeLists.txt).
#                     INTC_SKIP_FUZZ=1 skips it.
# Before them, integrations/qemu/build.sh builds Debian's QEMU 7.2 with
# libintc inside (or finds it cached outside the clone, keyed by its
# inputs), which the ctest label "qemu" boots; INTC_SKIP_QEMU=1 skips the
# build, and those tests then skip.
# Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh

intc_need_packages "${INTC_BUILD_PACKAGES[@]}" libcmocka-dev \
    "${INTC_UNICORN_PACKAGES[@]}" "${INTC_PYTHON_PACKAGES[@]}" \
    "${INTC_TEST_PACKAGES[@]}"
if [ "${INTC_SKIP_FUZZ:-0}" != 1 ]; then
    intc_need_packages "${INTC_FUZZ_PACKAGES[@]}"
fi

jobs=$(intc_jobs)

if [ "${INTC_SKIP_QEMU:-0}" != 1 ]; then
    echo "=== integrations/qemu: build (or reuse) QEMU with libintc"
    integrations/qemu/build.sh
    # What the qemu tests run besides it (qemu-img, Debian's stock QEMU
    # for the comparison, the Linux test's workload compiler): installed
    # here, not from inside a test running beside others.
    intc_need_packages "${INTC_LINUX_PACKAGES[@]}"
fi

build_and_test()
{
    local dir=$1
    shift
    echo "=== $dir: configure $*"
    cmake -S . -B "$dir" -G Ninja -DINTC_WERROR=ON -DINTC_BUILD_TESTS=ON \
        -DINTC_BUILD_EXAMPLES=ON "$@"
    echo "=== $dir: build"
    cmake --build "$dir" --parallel "$jobs"
    echo "=== $dir: test"
    ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" \
        "${ctest_args[@]}"
}

ctest_args=()

build_and_test build/werror -DCMAKE_BUILD_TYPE=RelWithDebInfo

san_cc=${INTC_SANITIZE_CC:-}
if [ -z "$san_cc" ]; then
    if command -v clang >/dev/null; then san_cc=clang; else san_cc=gcc; fi
fi
# The QEMU tests boot the same QEMU binary in both builds: once is enough.
ctest_args=(-LE '^qemu$')
build_and_test build/sanitize -DCMAKE_BUILD_TYPE=Debug -DINTC_SANITIZE=ON \
    -DCMAKE_C_COMPILER="$san_cc"

if [ "${INTC_SKIP_FUZZ:-0}" != 1 ]; then
    echo "=== build/fuzz: configure"
    cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DINTC_FUZZ=ON -DINTC_WERROR=ON \
        -DINTC_BUILD_TESTS=OFF -DINTC_BUILD_EXAMPLES=OFF
    echo "=== build/fuzz: build"
    cmake --build build/fuzz --parallel "$jobs"
    echo "=== build/fuzz: test (label fuzz)"
    ctest --test-dir build/fuzz -L fuzz --output-on-failure --parallel "$jobs"
fi

echo "=== all tests passed"
