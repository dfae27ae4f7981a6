#!/bin/bash
# Symbol-table checks (registered in ctest as "symbols" and
# "symbols_static").
#
# usage: check_symbols.sh SHARED_LIB STATIC_LIB check-data|skip-data \
#                         HEADER_DIR [shared|static]
#
# The API is the set of functions declared with INTC_API in HEADER_DIR/*.h
# (comments stripped, then every "INTC_API ... name(" taken).
#
# shared (default):
# (a) The shared library exports exactly the API: every INTC_API function
#     and nothing else (everything else is hidden, STYLE rule 10), so no
#     internal name can become ABI and no declared function is missing.
# (b) The static library defines no mutable global or static data (STYLE
#     rule 1: all state hangs off intc_machine, tables are static const).
#     This is what nm's D/d/B/b/C types mean, but nm also calls 'd' the
#     .data.rel.ro section, where the compiler puts `static const` tables
#     of pointers in position-independent code (Debian's gcc builds PIE by
#     default); that section is read-only after relocation.  objdump names
#     the section, so it is used to tell the two apart.
# static:
# (c) Every global symbol the static library defines is an API function or
#     an internal one named intc__* (STYLE: internal functions are static
#     or intc__, as libuv's uv__), so a program linking libintc.a cannot
#     collide with, or call, an internal function through the intc_
#     prefix.  Offenders are listed with the archive member defining them.
set -euo pipefail

if [ $# -ne 4 ] && [ $# -ne 5 ]; then
    echo "usage: $0 SHARED_LIB STATIC_LIB check-data|skip-data HEADER_DIR" \
        "[shared|static]" >&2
    exit 2
fi
shared=$1 static=$2 mode=$3 headers=$4 which=${5:-shared}
status=0

# The API: INTC_API function declarations of the public headers
# (comments and preprocessor lines, with their continuations, removed).
api=$(cat "$headers"/*.h |
    perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
        s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}mg; s{\s+}{ }g' |
    grep -o 'INTC_API [^;(#]*(' |
    sed -E 's/.*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*) *\($/\1/' |
    sort -u)
if [ -z "$api" ] || ! grep -qx 'intc_version' <<<"$api"; then
    echo "FAIL: no INTC_API declarations found in $headers" >&2
    exit 1
fi
echo "API: $(grep -c . <<<"$api") INTC_API functions in $headers"

if [ "$which" = static ]; then
    # (c) Global symbols defined by the archive's members.  nm -A prefixes
    # "archive:member:"; sanitizer/coverage instrumentation markers are
    # not ours.
    offenders=$(nm -A -g --defined-only "$static" |
        awk 'NF >= 3 { n = split($1, p, ":"); print p[n - 1], $NF }' |
        grep -Ev ' (__odr_asan|__asan|__sancov|__ubsan|__llvm)' |
        while read -r member sym; do
            if ! grep -qx "$sym" <<<"$api" && [[ $sym != intc__* ]]; then
                printf '%s (%s)\n' "$sym" "$member"
            fi
        done | sort)
    if [ -n "$offenders" ]; then
        echo "FAIL: $static defines $(grep -c . <<<"$offenders") global" \
            "symbols that are neither INTC_API functions nor intc__*" \
            "(make them static or rename them intc__*):" >&2
        sed 's/^/  /' <<<"$offenders" >&2
        exit 1
    fi
    echo "static library: every global symbol is API or intc__*"
    exit 0
fi

# (a) Exported symbols: exactly the API.  Linker-defined markers that some
# toolchains put in the dynamic table are not ours and are allowed.
exported=$(nm -D --defined-only "$shared" | awk 'NF >= 3 { print $3 }' |
    sed 's/@.*//' |
    grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' | sort -u || true)
extra=$(comm -13 <(printf '%s\n' "$api") <(printf '%s\n' "$exported"))
missing=$(comm -23 <(printf '%s\n' "$api") <(printf '%s\n' "$exported"))
if [ -n "$extra" ]; then
    echo "FAIL: $shared exports symbols not declared INTC_API in $headers:" >&2
    sed 's/^/  /' <<<"$extra" >&2
    status=1
fi
if [ -n "$missing" ]; then
    echo "FAIL: INTC_API functions not exported by $shared:" >&2
    sed 's/^/  /' <<<"$missing" >&2
    status=1
fi
echo "exported: $(grep -c . <<<"$exported") symbols, the API exactly:" \
    "$([ -z "$extra$missing" ] && echo yes || echo no)"

# (b) Mutable data objects in the static library's members.
if [ "$mode" = check-data ]; then
    mutable=$(objdump -t "$static" | awk '
        / file format / { member = $1; sub(/:$/, "", member); next }
        /^[0-9a-f]+ / {
            # "<addr> <7 flag chars> <section>\t<size> <name>"
            flags = substr($0, length($1) + 2, 7)
            rest = substr($0, length($1) + 10)
            tab = index(rest, "\t")
            if (tab == 0 || flags !~ /O/)
                next
            sect = substr(rest, 1, tab - 1)
            n = split(substr(rest, tab + 1), f, " ")
            name = f[n]
            if (sect ~ /^\.data\.rel\.ro(\.|$)/)
                next
            if (sect == "*COM*" || sect ~ /^\.s?(data|bss|tdata|tbss)(\.|$)/)
                printf "%s: %s (%s)\n", member, name, sect
        }')
    if [ -n "$mutable" ]; then
        echo "FAIL: $static defines mutable global/static data:" >&2
        sed 's/^/  /' <<<"$mutable" >&2
        status=1
    fi
    echo "mutable data objects: $(printf '%s' "$mutable" | grep -c . || true)"
else
    echo "mutable-data check skipped (sanitized build)"
fi

exit $status
