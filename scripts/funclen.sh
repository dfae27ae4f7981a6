#!/bin/sh
# funclen.sh LIMIT FILE...: list the C functions longer than LIMIT lines
# (signature line to closing brace), one "file:line: N lines: signature"
# each, and exit 1; print nothing and exit 0 if there are none.
# Assumes the house layout (.clang-format): a definition's closing brace,
# and its opening one unless on the signature line, in column 0.
[ $# -ge 2 ] || { echo "usage: $0 LIMIT FILE..." >&2; exit 2; }
lim=$1; shift
awk -v lim="$lim" '
FNR == 1 { infn = 0; cand = 0; prev = "" }
# A signature: "[static] [inline] type name(" at column 0, not a prototype.
!infn && /^[A-Za-z_][A-Za-z0-9_ *]*[ *]?[A-Za-z_][A-Za-z0-9_]*\(/ &&
        !/;[ \t]*$/ {
    start = FNR; name = $0; cand = 1
    if (prev ~ /^[A-Za-z_][A-Za-z0-9_ *]*$/) {  # type on the line before
        start--; name = prev " " $0
    }
    if (/\{[^}]*$/) { infn = 1; cand = 0 }   # brace on the signature line
    else if (/\}/) cand = 0                  # whole function on one line
    prev = $0; next
}
cand && /;[ \t]*$/ { cand = 0 }              # end of a multi-line prototype
cand && /^\{/ { infn = 1; cand = 0 }
infn && /^\}/ {
    n = FNR - start + 1; infn = 0
    if (n > lim) {
        printf "%s:%d: %d lines: %s\n", FILENAME, start, n, name; bad = 1
    }
}
{ prev = $0 }
END { exit bad }
' "$@"
