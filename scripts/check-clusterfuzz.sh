#!/bin/bash
# Check that fuzz/build.sh builds, unchanged, with the environment
# ClusterFuzz (OSS-Fuzz, ClusterFuzzLite) sets, and that what it writes to
# $OUT is what ClusterFuzz expects:
#
#   ./scripts/check-clusterfuzz.sh [CONFIG...]
#
# CONFIG (default: libfuzzer-asan libfuzzer-ubsan, plus afl-asan when
# afl-clang-fast is installed):
#   libfuzzer-asan   CC=clang CXX=clang++, OSS-Fuzz's CFLAGS for ASan,
#                    LIB_FUZZING_ENGINE=-fsanitize=fuzzer
#   libfuzzer-ubsan  the same with OSS-Fuzz's UBSan flag list
#   afl-asan         CC=afl-clang-fast CXX=afl-clang-fast++, ASan, and
#                    LIB_FUZZING_ENGINE=<absolute path>/libFuzzingEngine.a
#                    (a copy of AFL++'s libAFLDriver.a, as OSS-Fuzz does)
#   coverage         OSS-Fuzz's source-coverage build (-fprofile-instr-
#                    generate -fcoverage-mapping, -fsanitize=fuzzer)
#
# Per configuration, as OSS-Fuzz runs it: build.sh is copied to $SRC/
# build.sh and run with `bash -eux` from the checkout, in an environment
# holding only PATH, HOME and the OSS-Fuzz variables (CC, CXX, CFLAGS,
# CXXFLAGS, LIB_FUZZING_ENGINE, SANITIZER, FUZZING_ENGINE, FUZZING_LANGUAGE,
# ARCHITECTURE, SRC, WORK, OUT).  Then for every fuzz/fuzz_*.c target
# (fuzz_scenario only when libyaml is installed, fuzz_uc_firmware only
# when Unicorn's static library and binutils are), it checks that:
#   - $OUT/<t>, <t>.options, <t>.dict and <t>_seed_corpus.zip exist, the
#     .options' dict names a file in $OUT, the zip unpacks;
#   - the binary needs no shared library beyond the C/C++ runtimes
#     (ClusterFuzz runs $OUT on its own runner image);
#   - every seed runs once through the binary, with ClusterFuzz's
#     ASAN_OPTIONS/UBSAN_OPTIONS: libFuzzer builds with -runs=0 over the
#     unpacked seed directory plus the .options flags; AFL++ builds with the
#     seed files as arguments (the driver runs each once), and afl-showmap
#     must see coverage from one seed.
# Differences from the real images, on purpose: CXXFLAGS lacks
# -stdlib=libc++ (Debian's clang has no libc++ installed; build.sh links C
# only), and the compiler is Debian's clang 14.
# INTC_CF_CC: the clang to use (default clang; clang++ is derived from it).
# INTC_CF_KEEP=DIR: build in DIR and keep it (default: a temporary
# directory, removed if every check passed).  Exit status: 0 when every check passes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

cc=${INTC_CF_CC:-clang}
cc_name=${cc##*/}
cxx=${cc%"$cc_name"}${cc_name/clang/clang++}

configs=("$@")
if [ ${#configs[@]} -eq 0 ]; then
    configs=(libfuzzer-asan libfuzzer-ubsan)
    if command -v afl-clang-fast >/dev/null; then
        configs+=(afl-asan)
    else
        echo "afl-asan: skipped (afl-clang-fast not installed)"
    fi
fi

failures=0
if [ -n "${INTC_CF_KEEP:-}" ]; then
    tmp=$INTC_CF_KEEP
    rm -rf "$tmp"
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/intc-cf-check.XXXXXX")
    # Removed when every check passed, kept (with the logs) otherwise.
    trap '[ "$failures" -eq 0 ] && rm -rf "$tmp"' EXIT
fi
tmp=$(cd "$tmp" && pwd)

# OSS-Fuzz's flags (infra/base-images/base-clang, base-builder/compile).
common="-O1 -fno-omit-frame-pointer -gline-tables-only"
common+=" -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
san_address="-fsanitize=address -fsanitize-address-use-after-scope"
ub_list="array-bounds,bool,builtin,enum,float-divide-by-zero,function"
ub_list+=",integer-divide-by-zero,null,object-size,return"
ub_list+=",returns-nonnull-attribute,shift,signed-integer-overflow"
ub_list+=",unreachable,vla-bound,vptr"
san_undefined="-fsanitize=$ub_list,unsigned-integer-overflow"
san_undefined+=" -fno-sanitize-recover=$ub_list"
san_coverage="-fprofile-instr-generate -fcoverage-mapping -pthread"
san_coverage+=" -Wl,--no-as-needed -Wl,-ldl -Wl,-lm"
san_coverage+=" -Wno-unused-command-line-argument"

# ClusterFuzz's run-time options (its environment for libFuzzer jobs).
asan_options="alloc_dealloc_mismatch=0:allocator_may_return_null=1"
asan_options+=":allocator_release_to_os_interval_ms=500"
asan_options+=":check_malloc_usable_size=0:detect_container_overflow=1"
asan_options+=":detect_odr_violation=0:detect_leaks=1"
asan_options+=":detect_stack_use_after_return=1:fast_unwind_on_fatal=0"
asan_options+=":handle_abort=1:handle_segv=1:handle_sigill=1"
asan_options+=":max_uar_stack_size_log=16:print_scariness=1"
asan_options+=":quarantine_size_mb=10:strict_memcmp=1:symbolize=1"
asan_options+=":use_sigaltstack=1:dedup_token_length=3"
ubsan_options="print_stacktrace=1:print_summary=1:silence_unsigned_overflow=1"
ubsan_options+=":symbolize=1:dedup_token_length=3:halt_on_error=1"
fuzzer_args=(-rss_limit_mb=2560 -timeout=25)

# Targets build.sh must produce.
expected=()
for f in fuzz/fuzz_*.c; do
    t=$(basename "$f" .c)
    if [ "$t" = fuzz_scenario ] && ! pkg-config --exists yaml-0.1; then
        continue
    fi
    # fuzz_uc_firmware: as fuzz/build.sh decides (static Unicorn, binutils)
    if [ "$t" = fuzz_uc_firmware ] && ! { pkg-config --exists unicorn &&
        [ -f "$(pkg-config --variable=libdir unicorn)/libunicorn.a" ] &&
        command -v as >/dev/null && command -v ld >/dev/null &&
        command -v objcopy >/dev/null; }; then
        continue
    fi
    expected+=("$t")
done

allowed_libs='^(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so'
allowed_libs+='|^ld-linux'

fail()
{
    echo "FAIL $*" >&2
    failures=$((failures + 1))
}

unzip_to()
{
    mkdir -p "$2"
    if command -v unzip >/dev/null; then
        unzip -q -o "$1" -d "$2"
    else
        python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$1" "$2"
    fi
}

# libFuzzer flags from a .options file ([libfuzzer] key = value lines),
# the dictionary resolved in $OUT, as ClusterFuzz does.
options_args()
{
    local file=$1 out=$2 k v
    [ -f "$file" ] || return 0
    sed -n 's/^ *\([a-z_]*\) *= *\([^ ]*\) *$/\1 \2/p' "$file" |
        while read -r k v; do
            if [ "$k" = dict ]; then
                v=$out/$v
            fi
            echo "-$k=$v"
        done
}

check_config()
{
    local cfg=$1 t
    local src=$tmp/$cfg/src work=$tmp/$cfg/work out=$tmp/$cfg/out
    local engine_kind=libfuzzer
    local env_cc=$cc env_cxx=$cxx sanitizer cflags engine
    mkdir -p "$src" "$work" "$out"
    cp fuzz/build.sh "$src/build.sh"

    case $cfg in
    libfuzzer-asan)
        sanitizer=address
        cflags="$common $san_address -fsanitize=fuzzer-no-link"
        engine=-fsanitize=fuzzer ;;
    libfuzzer-ubsan)
        sanitizer=undefined
        cflags="$common $san_undefined -fsanitize=fuzzer-no-link"
        engine=-fsanitize=fuzzer ;;
    coverage)
        sanitizer=coverage
        cflags="$common $san_coverage"
        engine=-fsanitize=fuzzer ;;
    afl-asan)
        engine_kind=afl
        sanitizer=address
        env_cc=afl-clang-fast
        env_cxx=afl-clang-fast++
        cflags="$common $san_address -fsanitize=fuzzer-no-link"
        local driver
        driver=$(dpkg -L afl++ 2>/dev/null | grep '/libAFLDriver\.a$' |
            head -n 1 || true)
        [ -n "$driver" ] || driver=/usr/lib/afl/libAFLDriver.a
        if ! command -v afl-clang-fast >/dev/null || [ ! -f "$driver" ]; then
            fail "$cfg: afl-clang-fast or libAFLDriver.a not installed"
            return
        fi
        mkdir -p "$tmp/$cfg/lib"
        cp "$driver" "$tmp/$cfg/lib/libFuzzingEngine.a"
        engine=$tmp/$cfg/lib/libFuzzingEngine.a ;;
    *)
        fail "$cfg: unknown configuration"
        return ;;
    esac

    echo "=== $cfg: CC=$env_cc CXX=$env_cxx LIB_FUZZING_ENGINE=$engine"
    echo "    CFLAGS=$cflags"
    local start=$SECONDS
    if ! env -i PATH="$PATH" HOME="${HOME:-/root}" \
        CC="$env_cc" CXX="$env_cxx" CFLAGS="$cflags" CXXFLAGS="$cflags" \
        LIB_FUZZING_ENGINE="$engine" SANITIZER="$sanitizer" \
        FUZZING_ENGINE="$engine_kind" FUZZING_LANGUAGE=c \
        ARCHITECTURE=x86_64 SRC="$src" WORK="$work" OUT="$out" \
        AFL_QUIET=1 \
        bash -eux "$src/build.sh" >"$tmp/$cfg/build.log" 2>&1; then
        tail -n 30 "$tmp/$cfg/build.log" >&2
        fail "$cfg: build.sh failed (log: $tmp/$cfg/build.log)"
        return
    fi
    echo "    build.sh: $((SECONDS - start)) s"

    for t in "${expected[@]}"; do
        local bin=$out/$t seeds=$tmp/$cfg/seeds/$t n lib dict
        local ok=1
        for f in "$bin" "$out/$t.options" "$out/$t.dict" \
            "$out/${t}_seed_corpus.zip"; do
            if [ ! -s "$f" ]; then
                fail "$cfg $t: missing $(basename "$f")"
                ok=0
            fi
        done
        [ $ok = 1 ] || continue
        [ -x "$bin" ] || { fail "$cfg $t: not executable"; continue; }
        dict=$(sed -n 's/^ *dict *= *\([^ ]*\) *$/\1/p' "$out/$t.options")
        if [ -n "$dict" ] && [ ! -s "$out/$dict" ]; then
            fail "$cfg $t: .options names dict $dict, not in \$OUT"
        fi
        while read -r lib; do
            if ! [[ $lib =~ $allowed_libs ]]; then
                fail "$cfg $t: needs shared library $lib"
            fi
        done < <(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
        unzip_to "$out/${t}_seed_corpus.zip" "$seeds"
        n=$(find "$seeds" -type f | wc -l)
        [ "$n" -gt 0 ] || { fail "$cfg $t: empty seed corpus"; continue; }

        local log=$tmp/$cfg/run-$t.log rc=0
        local -a opts
        mapfile -t opts < <(options_args "$out/$t.options" "$out")
        if [ "$engine_kind" = afl ]; then
            local -a files
            mapfile -t files < <(find "$seeds" -type f | sort)
            (cd "$tmp/$cfg" && ASAN_OPTIONS=$asan_options \
                UBSAN_OPTIONS=$ubsan_options timeout 300 "$bin" \
                "${files[@]}") >"$log" 2>&1 || rc=$?
            if [ $rc = 0 ]; then
                local map=$tmp/$cfg/map-$t tuples
                AFL_QUIET=1 afl-showmap -q -o "$map" -- "$bin" \
                    <"${files[0]}" >/dev/null 2>&1 || true
                tuples=$(wc -l <"$map" 2>/dev/null || echo 0)
                if [ "$tuples" -eq 0 ]; then
                    fail "$cfg $t: afl-showmap saw no coverage"
                fi
                echo "    $t: ok ($n seeds; afl-showmap: $tuples edges)"
            fi
        else
            (cd "$tmp/$cfg" && ASAN_OPTIONS=$asan_options \
                UBSAN_OPTIONS=$ubsan_options \
                LLVM_PROFILE_FILE="$tmp/$cfg/$t.%p.profraw" timeout 300 \
                "$bin" "${fuzzer_args[@]}" "${opts[@]}" -runs=0 "$seeds") \
                >"$log" 2>&1 || rc=$?
            if [ $rc = 0 ] && ! grep -q '^Done [0-9]* runs' "$log"; then
                rc=no-done
            fi
            [ $rc = 0 ] && echo "    $t: ok ($n seeds; ${opts[*]//$out/\$OUT})"
        fi
        if [ $rc != 0 ]; then
            tail -n 30 "$log" >&2
            fail "$cfg $t: seed run failed ($rc; log: $log)"
        fi
    done
}

for cfg in "${configs[@]}"; do
    check_config "$cfg"
done

if [ $failures -ne 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
fi
echo "all checks passed: ${configs[*]} (${#expected[@]} targets each)"
