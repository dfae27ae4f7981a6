"""The binding and the library agree on versions and error codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import intc
from intc import _ffi


def test_library_version_is_the_bindings() -> None:
    major, minor, _ = (int(x) for x in intc.library_version().split("."))
    assert (major, minor) == intc.BINDING_VERSION
    assert _ffi.compatible(_ffi.library().intc_version())


@pytest.mark.parametrize("lib_hex, ok", [
    (0x000200, True), (0x000209, True),      # patch level never matters
    (0x000100, False), (0x000300, False),    # 0.x: minor must match
    (0x010200, False),                       # another major
])
def test_compatibility_rule(lib_hex: int, ok: bool) -> None:
    # INTC_VERSION_COMPATIBLE (common.h) for a binding written for 0.2.
    assert _ffi.compatible(lib_hex) is ok


def test_from_1_0_newer_minors_serve() -> None:
    assert _ffi.compatible(0x010300, (1, 2))
    assert not _ffi.compatible(0x010100, (1, 2))
    assert not _ffi.compatible(0x020200, (1, 2))


def test_wrong_version_refused() -> None:
    with pytest.raises(intc.LibraryVersionError, match="written for 0.2"):
        _ffi.check_version(0x000300)


def test_missing_library_is_oserror() -> None:
    with pytest.raises(OSError):
        _ffi.open_library("/nonexistent/libintc.so.0.2")


def _header_codes(repo: Path) -> dict[str, int]:
    text = (repo / "include/intc/common.h").read_text()
    return {m[0]: int(m[1]) for m in
            re.findall(r"X\((\w+), (-?\d+), \"", text)}


def test_one_exception_class_per_code(repo: Path) -> None:
    codes = _header_codes(repo)
    assert codes.pop("OK") == 0
    assert {cls.name: code for code, cls in intc.ERRORS.items()} == codes
    lib = _ffi.library()
    for code, cls in intc.ERRORS.items():
        assert issubclass(cls, intc.IntcError)
        assert _ffi.ffi.string(lib.intc_err_name(code)).decode() == cls.name
        exc = intc.errors.error_for(code, "x")
        assert type(exc) is cls and exc.code == code


def test_unknown_code_is_base_class() -> None:
    exc = intc.errors.error_for(-99)
    assert type(exc) is intc.IntcError and exc.code == -99


def test_pyproject_version_is_the_headers(repo: Path) -> None:
    text = (repo / "bindings/python/pyproject.toml").read_text()
    version = re.search(r'^version = "(\d+)\.(\d+)\.\d+"', text, re.M)
    assert version is not None
    assert (int(version[1]), int(version[2])) == intc.BINDING_VERSION
    header = (repo / "include/intc/common.h").read_text()
    major = re.search(r"INTC_VERSION_MAJOR (\d+)", header)
    minor = re.search(r"INTC_VERSION_MINOR (\d+)", header)
    assert major and minor
    assert (int(major[1]), int(minor[1])) == intc.BINDING_VERSION
