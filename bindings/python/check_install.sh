#!/bin/bash
# ctest python.install: the package, installed two ways, imports and loads
# libintc without LD_LIBRARY_PATH.
#   check_install.sh PYTHON BUILD_DIR SCRATCH SITEDIR SOURCE_DIR
# 1. cmake --install BUILD_DIR --prefix SCRATCH/prefix: the package lands
#    in SCRATCH/prefix/SITEDIR and its _config.py names
#    SCRATCH/prefix/lib*/libintc.so.*; PYTHONPATH only stands in for the
#    scratch prefix not being one the interpreter reads (/usr/local is).
# 2. pip install of a copy of SOURCE_DIR into a venv, offline
#    (--no-index --no-build-isolation, setuptools and cffi from the
#    system: README.md "Python"); that package finds the library through
#    pkg-config (PKG_CONFIG_PATH names the scratch prefix's .pc; an
#    install into /usr/local needs none).
# Each also checks intc.uc (libintc-uc, found the same ways) when that
# library was built and installed.
set -euo pipefail
python=$1 build=$2 scratch=$3 sitedir=$4 src=$5

rm -rf "$scratch"
mkdir -p "$scratch"
prefix=$scratch/prefix
cmake --install "$build" --prefix "$prefix" >"$scratch/install.log"

unset LD_LIBRARY_PATH PYTHONHOME
export PYTHONDONTWRITEBYTECODE=1
PYTHONPATH="$prefix/$sitedir" "$python" - "$prefix" <<'PY'
import sys
from pathlib import Path

import intc
from intc import _ffi

prefix = Path(sys.argv[1])
pkg = Path(intc.__file__).parent
assert pkg.is_relative_to(prefix), pkg
assert (pkg / "py.typed").exists()
first = Path(_ffi.candidates()[0])
assert first.is_relative_to(prefix) and first.exists(), first
with intc.Machine(cpus=2) as m:
    m.lapics[1].svr = 0x1FF
    m.lapics[0].icr = 1 << 56 | 0x40
    assert m.lapics[1].irr == {0x40}
from intc import timeline
tl_first = Path(timeline.candidates()[0])
assert tl_first.is_relative_to(prefix) and tl_first.exists(), tl_first
with intc.Timeline(cpus=1) as tl:
    assert tl.dropped == 0
print("cmake --install: ok:", pkg, "->", first)

# libintc-uc, when built: the same way, from the prefix.
from intc import uc
if _ffi._recorded_path("UC_LIBRARY"):
    first = Path(_ffi.uc_candidates()[0])
    assert first.is_relative_to(prefix) and first.exists(), first
    with uc.UcMachine() as m:
        m.load(uc.DEFAULT_ENTRY, b"\xB8\x0D\x60\0\0\xE7\xF4\xF4\xEB\xFD")
        assert m.run(max_insns=100).passed
    print("cmake --install: intc.uc ok ->", first)
PY

cp -r "$src" "$scratch/src"
rm -rf "$scratch/src/intc/_config.py" "$scratch/src/tests"
"$python" -m venv --system-site-packages "$scratch/venv"
"$scratch/venv/bin/pip" install --quiet --no-index --no-build-isolation \
    "$scratch/src" >"$scratch/pip.log" 2>&1 || {
    cat "$scratch/pip.log"
    exit 1
}
libdir=$(dirname "$(find "$prefix" -name 'libintc.pc' | head -1)")
cd "$scratch"
PKG_CONFIG_PATH=$libdir "$scratch/venv/bin/python" - "$scratch" <<'PY'
import sys
from pathlib import Path

import intc
from intc import _ffi

pkg = Path(intc.__file__).parent
assert "venv" in pkg.parts, pkg
assert not (pkg / "_config.py").exists()
assert (pkg / "py.typed").exists()
with intc.Machine() as m:
    assert m.lapics[0].svr == 0xFF
with intc.Timeline(cpus=1) as tl:
    assert tl.dropped == 0
print("pip install: ok:", pkg, "->", _ffi.candidates())

from intc import uc
if list(Path(sys.argv[1], "prefix").rglob("libintc-uc.pc")):
    with uc.UcMachine() as m:
        m.load(uc.DEFAULT_ENTRY, b"\xB8\x0D\x60\0\0\xE7\xF4\xF4\xEB\xFD")
        assert m.run(max_insns=100).passed
    print("pip install: intc.uc ok ->", _ffi.uc_candidates())
PY
