"""Python bindings of libintc, the x86 interrupt fabric emulator.

>>> import intc
>>> with intc.Machine(cpus=2) as m:
...     m.lapics[1].svr = 0x1FF            # software-enable CPU 1's APIC
...     m.lapics[0].icr = 1 << 56 | 0x40   # fixed IPI, vector 0x40, to ID 1
...     sorted(m.lapics[1].irr)
[64]

The objects (Machine, Lapic, Ioapic, Msix, Msi, Iommu, Recorder, Replay)
are in ``intc.machine``, the plain values in ``intc.types`` and the
exceptions in ``intc.errors``, the Perfetto/SVG writer ``Timeline`` in
``intc.timeline``; all are re-exported here.  ``intc.uc`` (imported on
its own) drives libintc-uc: Unicorn x86-64 CPUs around a libintc
machine, with device models written in Python.  The C headers
(include/intc/*.h, integrations/unicorn/include/intc/uc.h) are the
reference for every call's behaviour.
"""

from ._ffi import (BINDING_VERSION, LibraryNotFound, LibraryVersionError,
                   compatible)
from .errors import (ERRORS, Busy, Corrupt, Diverged, DmaError,
                     GeneralProtection, IntcError, InvalidArgument,
                     NoSpace, NotDecoded, OutOfMemory, OutOfRange,
                     RecordingIOError, Unsupported, UnsupportedVersion)
from .machine import (AmdViIommu, Ioapic, Iommu, Lapic, Machine, Msi, Msix,
                      Recorder, Replay, VtdIommu, event_name)
from .types import (PIN_ACTIVE_LOW, PIN_LEVEL, Delivery, DeliveryStatus,
                    Event, IoapicConfig, IommuConfig, IommuKind, Irq, Lvt,
                    Pending, Reg, ack_spurious, is_spurious)
from .timeline import Timeline

__version__ = "%d.%d.0" % BINDING_VERSION


def library_version() -> str:
    """The version string of the libintc actually loaded ("0.2.0")."""
    from ._ffi import ffi, library
    return ffi.string(library().intc_version_string()).decode()


__all__ = [
    "BINDING_VERSION", "LibraryNotFound", "LibraryVersionError", "compatible",
    "ERRORS", "Busy", "Corrupt", "Diverged", "DmaError", "GeneralProtection",
    "IntcError", "InvalidArgument", "NoSpace", "NotDecoded", "OutOfMemory",
    "OutOfRange", "RecordingIOError", "Unsupported", "UnsupportedVersion",
    "AmdViIommu", "Ioapic", "Iommu", "Lapic", "Machine", "Msi", "Msix",
    "Recorder", "Replay", "VtdIommu", "event_name",
    "PIN_ACTIVE_LOW", "PIN_LEVEL", "Delivery", "DeliveryStatus", "Event",
    "IoapicConfig", "IommuConfig", "IommuKind", "Irq", "Lvt", "Pending",
    "Reg", "ack_spurious", "is_spurious", "library_version",
    "Timeline",
]
