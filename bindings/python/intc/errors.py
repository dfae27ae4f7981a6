"""libintc's error codes as exceptions.

Every negative ``intc_err`` a call returns is raised as the subclass of
``IntcError`` named after the code (common.h ``INTC_ERRNO_MAP``):
``INTC_ERR_GP`` is ``GeneralProtection`` (raise #GP(0) in the guest),
``INTC_ERR_NOT_DECODED`` is ``NotDecoded`` (not the device's access), and
so on.  ``ERRORS`` maps each code to its class.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping


class IntcError(Exception):
    """A libintc call failed; ``code`` is the intc_err, ``name`` its name
    without the ``INTC_ERR_`` prefix."""

    code: int = 0
    name: str = "OK"

    def __init__(self, message: str | None = None, code: int | None = None):
        if code is not None:
            self.code = code
        super().__init__(message if message is not None else self.name)


class InvalidArgument(IntcError):
    """INTC_ERR_INVAL: invalid argument (host misuse)."""

    code, name = -1, "INVAL"


class OutOfMemory(IntcError, MemoryError):
    """INTC_ERR_NOMEM: the allocator failed."""

    code, name = -2, "NOMEM"


class GeneralProtection(IntcError):
    """INTC_ERR_GP: the guest's access raises #GP(0)."""

    code, name = -3, "GP"


class NotDecoded(IntcError):
    """INTC_ERR_NOT_DECODED: not the device's access (treat as memory)."""

    code, name = -4, "NOT_DECODED"


class OutOfRange(IntcError, IndexError):
    """INTC_ERR_RANGE: index out of range."""

    code, name = -5, "RANGE"


class Busy(IntcError):
    """INTC_ERR_BUSY: not allowed from inside this host callback."""

    code, name = -6, "BUSY"


class UnsupportedVersion(IntcError):
    """INTC_ERR_VERSION: structure, image or recording version not
    supported."""

    code, name = -7, "VERSION"


class Corrupt(IntcError):
    """INTC_ERR_CORRUPT: image or recording truncated, corrupt or
    inconsistent (or a broken internal invariant, Machine.check)."""

    code, name = -8, "CORRUPT"


class NoSpace(IntcError):
    """INTC_ERR_NOSPC: buffer too small."""

    code, name = -9, "NOSPC"


class Unsupported(IntcError):
    """INTC_ERR_UNSUPPORTED: not supported by this machine's
    configuration."""

    code, name = -10, "UNSUPPORTED"


class DmaError(IntcError):
    """INTC_ERR_DMA: a host memory access failed."""

    code, name = -11, "DMA"


class RecordingIOError(IntcError):
    """INTC_ERR_IO: the recording's write callback failed (recording
    stopped)."""

    code, name = -12, "IO"


class Diverged(IntcError):
    """INTC_ERR_DIVERGED: the replay diverged from the recording."""

    code, name = -13, "DIVERGED"


ERRORS: Mapping[int, type[IntcError]] = MappingProxyType({
    cls.code: cls for cls in (
        InvalidArgument, OutOfMemory, GeneralProtection, NotDecoded,
        OutOfRange, Busy, UnsupportedVersion, Corrupt, NoSpace, Unsupported,
        DmaError, RecordingIOError, Diverged)
})


def error_for(code: int, message: str | None = None) -> IntcError:
    """The exception for intc_err ``code`` (an IntcError with that code if
    the binding does not know it)."""
    cls = ERRORS.get(code)
    if cls is None:
        return IntcError(message or "unknown intc_err %d" % code, code)
    return cls(message)
