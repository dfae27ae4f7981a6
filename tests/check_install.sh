#!/bin/bash
# Install/consumer check (registered in ctest as "install_consumer").
#
# Installs the build tree into a scratch prefix, then builds the consumer
# project two ways a user would: CMake's find_package(intc) and a plain
# compiler call with `pkg-config --cflags --libs libintc`.  Both programs
# run and must print the library version.
#
# With UC=ON (libintc-uc built, integrations/unicorn) the same two ways
# for libintc-uc: find_package(intc) with intc::intc_uc, and
# `pkg-config --cflags --libs libintc-uc`.
#
# usage: check_install.sh BUILD_DIR CONSUMER_SRC WORK_DIR LIBDIR CC
#                         GENERATOR VERSION "SANITIZER_FLAGS" [UC]
set -euo pipefail

if [ $# -ne 8 ] && [ $# -ne 9 ]; then
    echo "usage: $0 BUILD_DIR CONSUMER_SRC WORK_DIR LIBDIR CC GENERATOR" \
        "VERSION SANITIZER_FLAGS [UC]" >&2
    exit 2
fi
build=$1 src=$2 work=$3 libdir=$4 cc=$5 generator=$6 version=$7 san=$8
uc=${9:-OFF}
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

for f in include/intc/intc.h "$libdir/libintc.so" "$libdir/libintc.a" \
    "$libdir/pkgconfig/libintc.pc" "$libdir/cmake/intc/intcConfig.cmake"; do
    if [ ! -e "$prefix/$f" ]; then
        echo "FAIL: $f not installed" >&2
        exit 1
    fi
done

# The SONAME follows the ABI (CMakeLists.txt, common.h): libintc.so.0.MINOR
# for 0.x, libintc.so.MAJOR from 1.0; the link of that name is installed.
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ "$major" = 0 ]; then
    want_soname=libintc.so.0.$minor
else
    want_soname=libintc.so.$major
fi
soname=$(objdump -p "$prefix/$libdir/libintc.so" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "$want_soname" ]; then
    echo "FAIL: SONAME is '$soname', want '$want_soname' for $version" >&2
    exit 1
fi
if [ ! -e "$prefix/$libdir/$want_soname" ]; then
    echo "FAIL: $libdir/$want_soname not installed" >&2
    exit 1
fi
echo "SONAME $soname"

# The consumer links the shared library, which is instrumented in a
# sanitized build: the consumer must then carry the same runtime.
export LD_LIBRARY_PATH="$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== find_package(intc)"
cmake -S "$src" -B "$work/cmake-build" -G "$generator" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
    >"$work/configure.log"
cmake --build "$work/cmake-build"
out=$("$work/cmake-build/consumer")
echo "$out"
[ "$out" = "libintc $version" ]

echo "== pkg-config libintc"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
[ "$(pkg-config --modversion libintc)" = "$version" ]
# shellcheck disable=SC2046,SC2086  # word splitting of the flags is wanted
"$cc" -std=c11 $san -o "$work/consumer-pc" "$src/main.c" \
    $(pkg-config --cflags --libs libintc)
out=$("$work/consumer-pc")
echo "$out"
[ "$out" = "libintc $version" ]

if [ "$uc" = ON ]; then
    for f in include/intc/uc.h "$libdir/libintc-uc.so" \
        "$libdir/libintc-uc.a" "$libdir/pkgconfig/libintc-uc.pc"; do
        if [ ! -e "$prefix/$f" ]; then
            echo "FAIL: $f not installed" >&2
            exit 1
        fi
    done
    uc_soname=$(objdump -p "$prefix/$libdir/libintc-uc.so" |
        awk '$1 == "SONAME" { print $2 }')
    if [ "$uc_soname" != "libintc-uc${want_soname#libintc}" ]; then
        echo "FAIL: libintc-uc SONAME is '$uc_soname'" >&2
        exit 1
    fi
    echo "SONAME $uc_soname"
    want_uc="libintc-uc $version exit 0x600d"

    echo "== find_package(intc): intc::intc_uc"
    out=$("$work/cmake-build/consumer_uc")
    echo "$out"
    [ "$out" = "$want_uc" ]

    echo "== pkg-config libintc-uc"
    [ "$(pkg-config --modversion libintc-uc)" = "$version" ]
    # shellcheck disable=SC2046,SC2086
    "$cc" -std=c11 $san -o "$work/consumer-uc-pc" "$src/main_uc.c" \
        $(pkg-config --cflags --libs libintc-uc)
    out=$("$work/consumer-uc-pc")
    echo "$out"
    [ "$out" = "$want_uc" ]
fi
echo "install/consumer check passed"
