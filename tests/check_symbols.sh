#!/bin/bash
# Symbol-table checks (registered in ctest as "symbols").
#
# usage: check_symbols.sh SHARED_LIB STATIC_LIB check-data|skip-data
#
# (a) The shared library exports nothing but the intc_ API: everything else
#     is hidden (STYLE rule 10), so no internal name can become ABI.
# (b) The static library defines no mutable global or static data (STYLE
#     rule 1: all state hangs off intc_machine, tables are static const).
#     This is what nm's D/d/B/b/C types mean, but nm also calls 'd' the
#     .data.rel.ro section, where the compiler puts `static const` tables
#     of pointers in position-independent code (Debian's gcc builds PIE by
#     default); that section is read-only after relocation.  objdump names
#     the section, so it is used to tell the two apart.
set -euo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 SHARED_LIB STATIC_LIB check-data|skip-data" >&2
    exit 2
fi
shared=$1 static=$2 mode=$3
status=0

# (a) Exported symbols.  Linker-defined markers that some toolchains put in
# the dynamic table are not ours and are allowed.
exported=$(nm -D --defined-only "$shared" | awk 'NF >= 3 { print $3 }')
foreign=$(printf '%s\n' "$exported" |
    grep -Ev '^(intc_[A-Za-z0-9_]*|_init|_fini|_edata|_end|__bss_start)(@.*)?$' ||
    true)
if [ -n "$foreign" ]; then
    echo "FAIL: $shared exports symbols outside the intc_ prefix:" >&2
    sed 's/^/  /' <<<"$foreign" >&2
    status=1
fi
if ! printf '%s\n' "$exported" | grep -qx 'intc_version'; then
    echo "FAIL: $shared does not export intc_version" >&2
    status=1
fi
echo "exported: $(printf '%s\n' "$exported" | grep -c '^intc_') intc_ symbols"

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
