#!/bin/bash -eu
# Build the fuzz targets the OSS-Fuzz way (libFuzzer, AFL++, ClusterFuzz,
# ClusterFuzzLite), from the environment those set:
#
#   CC=clang CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/build.sh
#
#   CC=afl-clang-fast LIB_FUZZING_ENGINE=/usr/lib/afl/libAFLDriver.a \
#   OUT=/tmp/out-afl fuzz/build.sh        (AFL++; fuzz/afl.sh runs them)
#
# Inputs (environment, OSS-Fuzz names): CC, CXX (the linker, as OSS-Fuzz
# links with $CXX; default $CC), CFLAGS, LIB_FUZZING_ENGINE (a flag such
# as -fsanitize=fuzzer, or a driver library such as libAFLDriver.a), OUT;
# WORK (optional: scratch space, default $TMPDIR).  scripts/check-
# clusterfuzz.sh builds with exactly what ClusterFuzz sets (libFuzzer with
# ASan and with UBSan, AFL++) and runs every seed through every binary.
#
# The checkout: $INTC_SRC if set, else this script's parent directory if
# it is a libintc checkout (fuzz/build.sh), else the current directory if
# it is one (OSS-Fuzz and ClusterFuzzLite copy build.sh to $SRC/build.sh
# and run it from WORKDIR, the checkout), else $SRC/libintc.
#
# Outputs in $OUT: one binary per fuzz/fuzz_*.c, and per target its
# .options, .dict and <target>_seed_corpus.zip.  The binaries need no
# shared library beyond the C/C++ runtimes (libyaml is linked statically
# when libyaml.a exists), so they run on ClusterFuzz's runner image.
#
# Recipe (the same as fuzz/CMakeLists.txt): every fuzz/fuzz_<name>.c is
# linked with the library and the test kit (testkit/) and, when present,
# fuzz/<name>_ops.c (e.g. the whole-machine target fuzz_machine.c +
# machine_ops.c).  fuzz_scenario also compiles
# tools/intc-sim/{scenario,run,step,save,trace}.c and the timeline writer
# run.c uses (tools/timeline/{timeline,perfetto,svg}.c) with the tight
# SIM_MAX_* bounds and needs libyaml (pkg-config yaml-0.1); it is skipped
# with a message when libyaml is missing.  fuzz_uc_firmware also links
# libintc-uc and Unicorn (below).

is_checkout() { [ -f "$1/include/intc/intc.h" ] && [ -d "$1/fuzz" ]; }
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${INTC_SRC:-}" ]; then
    SRC_DIR=$INTC_SRC
elif is_checkout "$here"; then
    SRC_DIR=$here
elif is_checkout "$PWD"; then
    SRC_DIR=$PWD
elif [ -n "${SRC:-}" ] && is_checkout "$SRC/libintc"; then
    SRC_DIR=$SRC/libintc
else
    echo "build.sh: no libintc checkout found (set INTC_SRC)" >&2
    exit 1
fi
: "${CC:=clang}"
# Default: what the CMake fuzz build uses (INTC_FUZZ=ON).
: "${CFLAGS:=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:?set OUT to the output directory}"

mkdir -p "$OUT"
if [ -n "${WORK:-}" ]; then mkdir -p "$WORK"; fi
work=$(mktemp -d "${WORK:-${TMPDIR:-/tmp}}/intc-fuzz-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# shellcheck disable=SC2206  # word splitting of the flag strings is meant
cflags=(-std=c11 -g -O1 ${CFLAGS})
inc=(-I"$SRC_DIR/include" -I"$SRC_DIR/fuzz" -I"$SRC_DIR/testkit")

echo "libintc: compiling with $CC ${CFLAGS}"
objs=()
for f in "$SRC_DIR"/libintc/*.c; do
    o="$work/lib_$(basename "$f" .c).o"
    "$CC" "${cflags[@]}" "${inc[@]}" -I"$SRC_DIR/libintc" -DINTC_BUILDING \
        -c "$f" -o "$o"
    objs+=("$o")
done
# The test kit (testkit/: the fake host, the operation set and its
# executor) goes into the same archive: every target's host is the kit;
# fuzz_machine and fuzz_scenario also run the executor.
for f in "$SRC_DIR"/testkit/{kit,op,exec,op_yaml,rec_conv}.c; do
    o="$work/kit_$(basename "$f" .c).o"
    "$CC" "${cflags[@]}" "${inc[@]}" -I"$SRC_DIR/testkit" -c "$f" -o "$o"
    objs+=("$o")
done
ar rcs "$work/libintc.a" "${objs[@]}"

# The libFuzzer flags the CMake build passes at link time: targets written
# against libFuzzer need its link flag unless LIB_FUZZING_ENGINE is a
# driver library (AFL's libAFLDriver.a, OSS-Fuzz's engines).
# shellcheck disable=SC2206
engine=(${LIB_FUZZING_ENGINE})

yaml_cflags=""
yaml_libs=""
have_yaml=0
if pkg-config --exists yaml-0.1 2>/dev/null; then
    yaml_cflags=$(pkg-config --cflags yaml-0.1)
    yaml_libs=$(pkg-config --libs yaml-0.1)
    # Statically when possible: ClusterFuzz runs $OUT on another image.
    yaml_a="$(pkg-config --variable=libdir yaml-0.1)/libyaml.a"
    if [ -f "$yaml_a" ]; then
        yaml_libs=$yaml_a
    fi
    have_yaml=1
fi

# fuzz_uc_firmware runs driver firmware on libintc-uc (integrations/
# unicorn): it needs Unicorn's static library (ClusterFuzz runs $OUT on
# another image; Unicorn itself is not instrumented) and binutils to
# assemble the firmware (fuzz/uc_fw/); it is skipped with a message
# otherwise.  scripts/check-clusterfuzz.sh applies the same test.
have_uc=0
uc_a=""
if pkg-config --exists unicorn 2>/dev/null; then
    uc_a="$(pkg-config --variable=libdir unicorn)/libunicorn.a"
    if [ -f "$uc_a" ] && command -v as >/dev/null &&
        command -v ld >/dev/null && command -v objcopy >/dev/null; then
        have_uc=1
    fi
fi

# The firmware images of fuzz_uc_firmware as C arrays in $1 (what
# fuzz/uc_fw/uc_fw.cmake and embed.cmake do for the CMake build): each
# driver, in enum ucf_driver order, buggy then fixed (--defsym FIXED=1).
uc_fw_images()
{
    local out=$1 d v o i=0 k
    local -a def
    {
        echo "/* Generated by fuzz/build.sh: do not edit. */"
        echo '#include "uc_firmware.h"'
    } >"$out"
    for d in eoi_level lost_wakeup shared_counter missing_eoi; do
        for v in bug fixed; do
            o="$work/ucfw_${d}_$v"
            def=()
            [ "$v" = fixed ] && def=(--defsym FIXED=1)
            as --64 "${def[@]}" -I "$SRC_DIR/examples/unicorn/fw" \
                -I "$SRC_DIR/fuzz/uc_fw" -o "$o.o" "$SRC_DIR/fuzz/uc_fw/$d.s"
            ld -m elf_x86_64 -nostdlib -static -N --build-id=none \
                --no-warn-rwx-segments -Ttext=0x10000 -e _start \
                -o "$o.elf" "$o.o"
            objcopy -O binary "$o.elf" "$o.bin"
            {
                echo "static const unsigned char img$i[] = {"
                od -An -v -tx1 "$o.bin" |
                    sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
                echo "};"
            } >>"$out"
            i=$((i + 1))
        done
    done
    echo "const ucf_image ucf_images[UCF_N_DRIVERS][2] = {" >>"$out"
    for ((k = 0; k < i; k += 2)); do
        echo "    {{img$k, sizeof img$k}, {img$((k + 1)), sizeof img$((k + 1))}}," >>"$out"
    done
    echo "};" >>"$out"
}

# libintc-uc's sources: the INTC_UC_SOURCES list of its CMakeLists.txt,
# compiled with the targets' flags into objects listed in uc_objs.
uc_objs=()
uc_compile()
{
    local f o
    for f in $(sed -n '/set(INTC_UC_SOURCES/,/)/p' \
        "$SRC_DIR/integrations/unicorn/CMakeLists.txt" |
        grep -o 'src/[A-Za-z0-9_]*\.c'); do
        o="$work/uc_$(basename "$f" .c).o"
        # shellcheck disable=SC2046
        "$CC" "${cflags[@]}" "${inc[@]}" -DINTC_BUILDING \
            -I"$SRC_DIR/integrations/unicorn/include" \
            -I"$SRC_DIR/integrations/unicorn/src" \
            $(pkg-config --cflags unicorn) \
            -c "$SRC_DIR/integrations/unicorn/$f" -o "$o"
        uc_objs+=("$o")
    done
}

# (SIM_MAX_DEPTH and SIM_MAX_FILE_BYTES keep the tool's values.)
sim_defs=(-DSIM_MAX_NODE_VISITS=20000u -DSIM_MAX_MEMORY_BYTES=0x100000u
    -DSIM_MAX_FIRES_PER_ADVANCE=200u -DSIM_MAX_FIRES_TOTAL=2000u
    -DSIM_MAX_WINDOW_EVENTS=2000u -DSIM_MAX_STEP_TRACE=200u)

built=()
for src in "$SRC_DIR"/fuzz/fuzz_*.c; do
    t=$(basename "$src" .c)
    short=${t#fuzz_}
    extra=()
    extra_flags=()
    extra_objs=()
    libs=()
    [ -f "$SRC_DIR/fuzz/${short}_ops.c" ] &&
        extra+=("$SRC_DIR/fuzz/${short}_ops.c")
    # --- per-target additions (the same list as fuzz/CMakeLists.txt) ---
    if [ "$t" = fuzz_scenario ]; then
        if [ $have_yaml = 0 ]; then
            echo "$t: skipped (libyaml not found)"
            continue
        fi
        extra+=("$SRC_DIR/tools/intc-sim/scenario.c"
            "$SRC_DIR/tools/intc-sim/run.c"
            "$SRC_DIR/tools/intc-sim/step.c"
            "$SRC_DIR/tools/intc-sim/save.c"
            "$SRC_DIR/tools/intc-sim/trace.c"
            "$SRC_DIR/tools/timeline/timeline.c"
            "$SRC_DIR/tools/timeline/perfetto.c"
            "$SRC_DIR/tools/timeline/svg.c")
        # shellcheck disable=SC2206
        extra_flags+=(-I"$SRC_DIR/tools/intc-sim" -I"$SRC_DIR/tools/timeline"
            "${sim_defs[@]}" $yaml_cflags)
        # shellcheck disable=SC2206
        libs+=($yaml_libs)
    fi
    if [ "$t" = fuzz_uc_firmware ]; then
        if [ $have_uc = 0 ]; then
            echo "$t: skipped (needs Unicorn's static libunicorn.a" \
                "(pkg-config unicorn) and binutils)"
            continue
        fi
        uc_fw_images "$work/uc_fw_images.c"
        uc_compile
        extra+=("$work/uc_fw_images.c")
        extra_flags+=(-I"$SRC_DIR/integrations/unicorn/include")
        extra_objs+=("${uc_objs[@]}")
        libs+=("$uc_a" -lm -lpthread)
    fi
    echo "$t: building"
    tobjs=()
    for f in "$src" "${extra[@]}"; do
        o="$work/${t}_$(basename "$f" .c).o"
        "$CC" "${cflags[@]}" "${inc[@]}" "${extra_flags[@]}" -c "$f" -o "$o"
        tobjs+=("$o")
    done
    # C++ linker as OSS-Fuzz does ($CXX), falling back to $CC.
    "${CXX:-$CC}" "${cflags[@]}" "${tobjs[@]}" "${extra_objs[@]}" \
        "$work/libintc.a" \
        "${engine[@]}" "${libs[@]}" -o "$OUT/$t"
    [ -f "$SRC_DIR/fuzz/$t.options" ] && cp "$SRC_DIR/fuzz/$t.options" "$OUT/"
    [ -f "$SRC_DIR/fuzz/$t.dict" ] && cp "$SRC_DIR/fuzz/$t.dict" "$OUT/"
    # Seed corpus: fuzz/corpus/<t>/ (plus the scenario files for
    # fuzz_scenario), flattened into one zip.
    seeds=("$SRC_DIR/fuzz/corpus/$t")
    if [ "$t" = fuzz_scenario ]; then
        seeds+=("$SRC_DIR/tests/sim" "$SRC_DIR/examples"
            "$SRC_DIR/tests/regressions")
    fi
    sdir="$work/seeds_$t"
    mkdir -p "$sdir"
    for d in "${seeds[@]}"; do
        [ -d "$d" ] || continue
        find "$d" -type f ! -name '*.cmake' ! -name '*.c' ! -name '*.md' \
            ! -name 'CMakeLists.txt' -print0 |
            while IFS= read -r -d '' f; do
                rel=${f#"$SRC_DIR"/}
                cp "$f" "$sdir/${rel//\//_}"
            done
    done
    rm -f "$OUT/${t}_seed_corpus.zip"
    if [ -n "$(ls -A "$sdir")" ]; then
        if command -v zip >/dev/null; then
            (cd "$sdir" && zip -q -X "$OUT/${t}_seed_corpus.zip" ./*)
        else
            python3 - "$sdir" "$OUT/${t}_seed_corpus.zip" <<'EOF'
import os, sys, zipfile
d, z = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
    for n in sorted(os.listdir(d)):
        f.write(os.path.join(d, n), n)
EOF
        fi
    fi
    built+=("$t")
done
echo "built ${#built[@]} targets in $OUT: ${built[*]}"
