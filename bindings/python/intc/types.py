"""Plain values of the binding: configuration, events, outcomes, flags.

Register offsets and bits follow include/intc/*.h, which cite the Intel
SDM vol. 3A ch. 11 sections they come from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Sequence

NO_CPU = 0xFFFFFFFF
UINT64_MAX = 0xFFFFFFFFFFFFFFFF

# IA32_APIC_BASE (MSR 0x1B) bits and the architectural MSRs (lapic.h).
MSR_APIC_BASE = 0x1B
MSR_TSC_DEADLINE = 0x6E0
MSR_X2APIC_FIRST = 0x800
APIC_BASE_BSP = 1 << 8
APIC_BASE_EXTD = 1 << 10
APIC_BASE_EN = 1 << 11
APIC_BASE_DEFAULT = 0xFEE00000


def ack_spurious(vector: int) -> int:
    """INTC_ACK_SPURIOUS(v): what Lapic.ack() returns for a spurious
    acknowledge (SDM 11.9), 0x100 | v."""
    return 0x100 | (vector & 0xFF)


def is_spurious(ack: int | None) -> bool:
    """Whether a Lapic.ack() result is a spurious acknowledge (no EOI)."""
    return ack is not None and ack > 0xFF


class Reg(enum.IntEnum):
    """xAPIC register offsets (SDM Table 11-1); the x2APIC MSR is
    0x800 + (offset >> 4)."""

    ID = 0x020
    VERSION = 0x030
    TPR = 0x080
    APR = 0x090
    PPR = 0x0A0
    EOI = 0x0B0
    RRD = 0x0C0
    LDR = 0x0D0
    DFR = 0x0E0
    SVR = 0x0F0
    ISR0 = 0x100
    TMR0 = 0x180
    IRR0 = 0x200
    ESR = 0x280
    LVT_CMCI = 0x2F0
    ICR_LO = 0x300
    ICR_HI = 0x310
    LVT_TIMER = 0x320
    LVT_THERMAL = 0x330
    LVT_PERF = 0x340
    LVT_LINT0 = 0x350
    LVT_LINT1 = 0x360
    LVT_ERROR = 0x370
    TIMER_ICR = 0x380
    TIMER_CCR = 0x390
    TIMER_DCR = 0x3E0
    SELF_IPI = 0x3F0


class Lvt(enum.IntEnum):
    """LVT indices (lapic.h enum intc_lvt)."""

    CMCI = 0
    TIMER = 1
    THERMAL = 2
    PERF = 3
    LINT0 = 4
    LINT1 = 5
    ERROR = 6


class Pending(enum.IntFlag):
    """What a CPU should take next (Lapic.pending, Lapic.take)."""

    NONE = 0
    INTR = 0x01
    NMI = 0x02
    SMI = 0x04
    INIT = 0x08
    SIPI = 0x10
    EXTINT = 0x20


class DeliveryStatus(enum.IntEnum):
    """What became of an interrupt message (common.h intc_delivery)."""

    ACCEPTED = 1
    NO_TARGET = 2
    DROPPED = 3
    BLOCKED = 4
    POSTED = 5
    PENDING = 6
    DISABLED = 7


class IommuKind(enum.IntEnum):
    """iommu.h enum intc_iommu_kind."""

    NONE = 0
    VTD = 1
    AMDVI = 2


# IOAPIC wiring flags (ioapic.h INTC_PIN_*).
PIN_ACTIVE_LOW = 0x1
PIN_LEVEL = 0x2


@dataclass(frozen=True)
class Event:
    """One architectural event (common.h INTC_EVENT_MAP says, per type,
    what each field carries).  ``type`` is the library's name ("irr_set");
    ``cpu`` and ``vector`` are None where they do not apply."""

    type: str
    cpu: int | None
    vector: int | None
    unit: int
    pin: int
    data: int
    data2: int


@dataclass(frozen=True)
class Delivery:
    """The outcome of one interrupt message (common.h intc_delivery)."""

    status: DeliveryStatus
    reason: int
    n_cpus: int
    irte: int | None


@dataclass(frozen=True)
class Irq:
    """The result of remapping one interrupt request (iommu.h intc_irq)."""

    fault: int
    blocked: bool
    posted: bool
    remapped: bool
    index: int
    dest: int
    vector: int
    dm: int
    logical: bool
    level: bool
    rh: bool
    x2apic: bool


@dataclass(frozen=True)
class IoapicConfig:
    """One IOAPIC of a machine (ioapic.h intc_ioapic_config).

    ``wiring``: one PIN_* flag set per pin, or None for every pin an
    active-high edge source (ISA)."""

    id: int = 0
    version: int = 0x20
    pins: int = 24
    gsi_base: int = 0
    source_id: int = 0
    wiring: Sequence[int] | None = None


@dataclass(frozen=True)
class IommuConfig:
    """The machine's IOMMU (iommu.h intc_iommu_config); None fields take
    the library's defaults."""

    kind: IommuKind
    x2apic: bool | None = None
    posted: bool | None = None
    fault_regs: int | None = None
    cache_entries: int | None = None
