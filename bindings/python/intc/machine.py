"""Machine, Lapic, Ioapic, Msix, Msi, Iommu, Recorder and Replay.

Each object wraps the C object of the same name; its methods are the C
calls (include/intc/*.h is the reference for what each one does) and
its properties read and write the device's registers through the
library's register accessors, so every side effect is the library's.

Host callbacks are Python callables given to ``Machine`` (or ``Replay``).
An exception raised inside one never crosses into C: the callback returns
the library's documented default instead (nothing for notifications, the
last returned time for ``now_ns``, a failed access for ``dma_read`` /
``dma_write``), the library completes the operation with that value, and
the first such exception is re-raised, with a note naming the callback,
from the outermost binding call that caused it.  The machine stays
consistent (``Machine.check()``): from its point of view the host merely
answered.
"""

from __future__ import annotations

import collections.abc
import functools
from typing import IO, Any, Callable, Iterator, Sequence

from . import _ffi
from ._closable import Closable
from .errors import Busy, IntcError, error_for
from .types import (APIC_BASE_EN, APIC_BASE_EXTD, MSR_APIC_BASE,
                    MSR_TSC_DEADLINE, MSR_X2APIC_FIRST, NO_CPU, UINT64_MAX,
                    Delivery, DeliveryStatus, Event, IoapicConfig,
                    IommuConfig, IommuKind, Irq, Lvt, Pending, Reg)

ffi = _ffi.ffi

KickFn = Callable[[int], None]
NowFn = Callable[[int | None], int]
TimerArmFn = Callable[[int, int | None], None]
DmaReadFn = Callable[[int, int], bytes | None]
DmaWriteFn = Callable[[int, bytes], bool | None]
EventFn = Callable[[Event], None]
EoiFn = Callable[[int], None]
ApicBaseFn = Callable[[int, int], None]


def _lib() -> Any:
    return _ffi.library()


@functools.lru_cache(maxsize=None)
def event_name(type_: int) -> str:
    """The library's name of event type ``type_`` ("irr_set")."""
    return ffi.string(_lib().intc_event_name(type_)).decode()


def _event(ev: Any) -> Event:
    return Event(type=event_name(ev.type),
                 cpu=None if ev.cpu == NO_CPU else int(ev.cpu),
                 vector=None if ev.vector < 0 else int(ev.vector),
                 unit=int(ev.unit), pin=int(ev.pin), data=int(ev.data),
                 data2=int(ev.data2))


def _delivery(d: Any) -> Delivery:
    return Delivery(status=DeliveryStatus(d.status), reason=int(d.reason),
                    n_cpus=int(d.n_cpus),
                    irte=None if d.irte == 0xFFFFFFFF else int(d.irte))


def _error(rc: int, what: str) -> IntcError:
    lib = _lib()
    text = ffi.string(lib.intc_strerror(rc)).decode()
    return error_for(rc, "%s: %s" % (what, text))


class _Host:
    """The Python side of one intc_host_ops table: the callables, the
    handle passed as ``host``, and the exception a callback raised."""

    def __init__(self, callbacks: dict[str, Callable[..., Any] | None]):
        self.callbacks = callbacks
        self.handle = ffi.new_handle(self)
        self.error: BaseException | None = None
        self.depth = 0
        self.last_now: dict[int, int] = {}
        # CPUs in x2APIC mode, from apic_base_changed (always installed),
        # so a register access needs no recorded RDMSR to pick MMIO or
        # MSR.  Every CPU starts in xAPIC mode (machine.h).
        self.x2apic: set[int] = set()
        self.tracks_mode = True

    def fail(self, exc: BaseException, where: str) -> None:
        """Keep the first exception raised in a callback."""
        if self.error is None:
            if hasattr(exc, "add_note"):
                exc.add_note("raised in the %s callback" % where)
            self.error = exc

    def ops(self) -> Any:
        """A filled intc_host_ops (only the callbacks given are set)."""
        ops = ffi.new("intc_host_ops *")
        ops.version = _ffi.HOST_OPS_VERSION
        for name, tramp in _TRAMPOLINES.items():
            if self.callbacks.get(name) is not None or \
                    name == "apic_base_changed":
                setattr(ops, name, tramp)
        return ops

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Call into C; re-raise a callback's exception at the outermost
        call."""
        self.depth += 1
        try:
            rc = fn(*args)
        finally:
            self.depth -= 1
        if self.depth == 0 and self.error is not None:
            exc, self.error = self.error, None
            raise exc
        return rc


def _host(ptr: Any) -> _Host:
    return ffi.from_handle(ptr)


@ffi.callback("void(void *, uint32_t)")
def _kick(host: Any, cpu: int) -> None:
    h = _host(host)
    try:
        h.callbacks["kick"](cpu)
    except BaseException as exc:  # noqa: B902 - reported, never into C
        h.fail(exc, "kick")


@ffi.callback("uint64_t(void *, uint32_t)")
def _now_ns(host: Any, cpu: int) -> int:
    h = _host(host)
    # On failure answer the last time given (per CPU it must never go
    # backwards, common.h now_ns).
    try:
        now = int(h.callbacks["now_ns"](None if cpu == NO_CPU else cpu))
        if not 0 <= now <= UINT64_MAX:
            raise ValueError("now_ns returned %d, not a uint64" % now)
        if now < h.last_now.get(cpu, 0):
            raise ValueError("now_ns went backwards for cpu %d: %d after %d"
                             % (cpu, now, h.last_now[cpu]))
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "now_ns")
        return h.last_now.get(cpu, 0)
    h.last_now[cpu] = now
    return now


@ffi.callback("void(void *, uint32_t, uint64_t)")
def _timer_arm(host: Any, cpu: int, deadline: int) -> None:
    h = _host(host)
    try:
        h.callbacks["timer_arm"](cpu, None if deadline == UINT64_MAX
                                 else deadline)
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "timer_arm")


@ffi.callback("int(void *, uint64_t, void *, size_t)")
def _dma_read(host: Any, addr: int, buf: Any, length: int) -> int:
    h = _host(host)
    try:
        data = h.callbacks["dma_read"](addr, length)
        if data is None:
            return -1
        if len(data) != length:
            raise ValueError("dma_read(%#x, %d) returned %d bytes"
                             % (addr, length, len(data)))
        ffi.memmove(buf, data, length)
        return 0
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "dma_read")
        return -1


@ffi.callback("int(void *, uint64_t, const void *, size_t)")
def _dma_write(host: Any, addr: int, buf: Any, length: int) -> int:
    h = _host(host)
    try:
        ok = h.callbacks["dma_write"](addr, ffi.buffer(buf, length)[:])
        return -1 if ok is False else 0
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "dma_write")
        return -1


@ffi.callback("void(void *, const intc_event *)")
def _event_cb(host: Any, ev: Any) -> None:
    h = _host(host)
    try:
        h.callbacks["event"](_event(ev))
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "event")


@ffi.callback("void(void *, uint32_t)")
def _eoi(host: Any, gsi: int) -> None:
    h = _host(host)
    try:
        h.callbacks["eoi"](gsi)
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "eoi")


@ffi.callback("void(void *, uint32_t, uint64_t)")
def _ioapic_timer_arm(host: Any, ioapic: int, deadline: int) -> None:
    h = _host(host)
    try:
        h.callbacks["ioapic_timer_arm"](ioapic, None if deadline == UINT64_MAX
                                        else deadline)
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "ioapic_timer_arm")


@ffi.callback("void(void *, uint32_t, uint64_t)")
def _apic_base_changed(host: Any, cpu: int, apic_base: int) -> None:
    h = _host(host)
    if apic_base & APIC_BASE_EN and apic_base & APIC_BASE_EXTD:
        h.x2apic.add(cpu)
    else:
        h.x2apic.discard(cpu)
    try:
        user = h.callbacks["apic_base_changed"]
        if user is not None:
            user(cpu, apic_base)
    except BaseException as exc:  # noqa: B902
        h.fail(exc, "apic_base_changed")


_TRAMPOLINES = {
    "kick": _kick, "now_ns": _now_ns, "timer_arm": _timer_arm,
    "dma_read": _dma_read, "dma_write": _dma_write, "event": _event_cb,
    "eoi": _eoi, "ioapic_timer_arm": _ioapic_timer_arm,
    "apic_base_changed": _apic_base_changed,
}


class _Register:
    """A register property: reads and writes go through the owner's
    ``read(off)`` / ``write(off, value)``."""

    def __init__(self, off: int, doc: str, writable: bool = True):
        self.off = off
        self.writable = writable
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.read(self.off)

    def __set__(self, obj: Any, value: int) -> None:
        if not self.writable:
            raise AttributeError("%s is read-only" % self.name)
        obj.write(self.off, value)


class _Part:
    """A part of a Machine (a Local APIC, an IOAPIC, an MSI or MSI-X
    function, the IOMMU): its C handle, usable while the machine is open
    (and, for what can be freed, until it is), and calls that raise the
    library's errors, named by ``_where``."""

    _freed = "freed"

    def __init__(self, machine: Machine, ptr: Any):
        self._machine = machine
        self._ptr = ptr

    def _where(self, what: str) -> str:
        return what

    def _p(self) -> Any:
        self._machine._ptr_or_raise()
        if self._ptr is None:
            raise ValueError(self._freed)
        return self._ptr

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> int:
        rc = self._machine._host.call(fn, self._p(), *args)
        if rc < 0:
            raise _error(rc, self._where(what))
        return rc


class Lapic(_Part):
    """The Local APIC of one CPU (lapic.h; SDM vol. 3A ch. 11).

    Register properties (``tpr``, ``ppr``, ``svr``, ``icr``, ``irr``...)
    use the APIC's current mode: MMIO in xAPIC mode, the x2APIC MSRs in
    x2APIC mode, so a register that mode lacks raises GeneralProtection
    (x2APIC: DFR, ICR high...).  ``irr``, ``isr`` and ``tmr`` are the
    256-bit registers as sets of vectors."""

    def _where(self, what: str) -> str:
        return "%s (cpu %d)" % (what, self.cpu)

    def __repr__(self) -> str:
        return "<intc.Lapic cpu=%d id=%#x>" % (self.cpu, self.initial_id)

    # --- raw accessors ---

    def mmio_read(self, off: int, size: int = 4) -> int:
        """Read ``size`` bytes at ``off`` in the xAPIC page."""
        val = ffi.new("uint64_t *")
        self._call("mmio_read", _lib().intc_lapic_mmio_read, off, size, val)
        return int(val[0])

    def mmio_write(self, off: int, value: int, size: int = 4) -> None:
        """Write ``size`` bytes at ``off`` in the xAPIC page."""
        self._call("mmio_write", _lib().intc_lapic_mmio_write, off, size,
                   value)

    def msr_read(self, msr: int) -> int:
        """RDMSR of an APIC MSR (GeneralProtection: raise #GP(0))."""
        val = ffi.new("uint64_t *")
        self._call("msr_read", _lib().intc_lapic_msr_read, msr, val)
        return int(val[0])

    def msr_write(self, msr: int, value: int) -> None:
        """WRMSR of an APIC MSR (GeneralProtection: raise #GP(0))."""
        self._call("msr_write", _lib().intc_lapic_msr_write, msr, value)

    @property
    def x2apic_mode(self) -> bool:
        """IA32_APIC_BASE.EN and EXTD set (SDM 11.12.1)."""
        if self._machine._host.tracks_mode:
            self._machine._ptr_or_raise()
            return self.cpu in self._machine._host.x2apic
        base = self.apic_base
        return bool(base & APIC_BASE_EN and base & APIC_BASE_EXTD)

    def read(self, off: int) -> int:
        """Register ``off`` (a Reg) in the current mode."""
        if self.x2apic_mode:
            return self.msr_read(MSR_X2APIC_FIRST + (off >> 4))
        return self.mmio_read(off)

    def write(self, off: int, value: int) -> None:
        """Write register ``off`` (a Reg) in the current mode."""
        if self.x2apic_mode:
            self.msr_write(MSR_X2APIC_FIRST + (off >> 4), value)
        else:
            self.mmio_write(off, value)

    # --- registers ---

    id = _Register(Reg.ID, "APIC ID register (xAPIC: ID in bits 31:24).")
    version = _Register(Reg.VERSION, "Version register (LVR).", False)
    tpr = _Register(Reg.TPR, "Task-priority register.")
    apr = _Register(Reg.APR, "Arbitration-priority register.", False)
    ppr = _Register(Reg.PPR, "Processor-priority register.", False)
    ldr = _Register(Reg.LDR, "Logical destination register.")
    dfr = _Register(Reg.DFR, "Destination format register (xAPIC only).")
    svr = _Register(Reg.SVR, "Spurious-interrupt vector register.")
    esr = _Register(Reg.ESR, "Error status register (write to latch).")
    lvt_cmci = _Register(Reg.LVT_CMCI, "LVT CMCI register.")
    lvt_timer = _Register(Reg.LVT_TIMER, "LVT Timer register.")
    lvt_thermal = _Register(Reg.LVT_THERMAL, "LVT Thermal Sensor register.")
    lvt_perf = _Register(Reg.LVT_PERF, "LVT Performance Counter register.")
    lvt_lint0 = _Register(Reg.LVT_LINT0, "LVT LINT0 register.")
    lvt_lint1 = _Register(Reg.LVT_LINT1, "LVT LINT1 register.")
    lvt_error = _Register(Reg.LVT_ERROR, "LVT Error register.")
    timer_icr = _Register(Reg.TIMER_ICR, "Timer initial-count register.")
    timer_ccr = _Register(Reg.TIMER_CCR, "Timer current-count register.",
                          False)
    timer_dcr = _Register(Reg.TIMER_DCR, "Timer divide-configuration "
                          "register.")

    def _bitmap(self, base: int) -> frozenset[int]:
        vectors = []
        for i in range(8):
            word = self.read(base + 0x10 * i)
            vectors.extend(32 * i + b for b in range(32) if word >> b & 1)
        return frozenset(vectors)

    @property
    def irr(self) -> frozenset[int]:
        """Interrupt request register: the vectors set."""
        return self._bitmap(Reg.IRR0)

    @property
    def isr(self) -> frozenset[int]:
        """In-service register: the vectors set."""
        return self._bitmap(Reg.ISR0)

    @property
    def tmr(self) -> frozenset[int]:
        """Trigger-mode register: the vectors set (level-triggered)."""
        return self._bitmap(Reg.TMR0)

    @property
    def icr(self) -> int:
        """Interrupt command register, 64 bits.  Writing it sends the IPI
        (xAPIC: ICR high, then ICR low, whose write sends)."""
        if self.x2apic_mode:
            return self.msr_read(MSR_X2APIC_FIRST + (Reg.ICR_LO >> 4))
        return self.mmio_read(Reg.ICR_HI) << 32 | self.mmio_read(Reg.ICR_LO)

    @icr.setter
    def icr(self, value: int) -> None:
        if self.x2apic_mode:
            self.msr_write(MSR_X2APIC_FIRST + (Reg.ICR_LO >> 4), value)
        else:
            self.mmio_write(Reg.ICR_HI, value >> 32)
            self.mmio_write(Reg.ICR_LO, value & 0xFFFFFFFF)

    @property
    def apic_base(self) -> int:
        """IA32_APIC_BASE (MSR 0x1B)."""
        return self.msr_read(MSR_APIC_BASE)

    @apic_base.setter
    def apic_base(self, value: int) -> None:
        self.msr_write(MSR_APIC_BASE, value)

    @property
    def tsc_deadline(self) -> int:
        """IA32_TSC_DEADLINE (MSR 0x6E0)."""
        return self.msr_read(MSR_TSC_DEADLINE)

    @tsc_deadline.setter
    def tsc_deadline(self, value: int) -> None:
        self.msr_write(MSR_TSC_DEADLINE, value)

    @property
    def cr8(self) -> int:
        """CR8 (TPR[7:4]), through the CR8 path (intc_lapic_set_tpr)."""
        return _lib().intc_lapic_get_tpr(self._p()) >> 4

    @cr8.setter
    def cr8(self, value: int) -> None:
        self._call("set_tpr", _lib().intc_lapic_set_tpr, (value & 0xF) << 4)

    # --- operations ---

    def eoi(self) -> None:
        """Write the EOI register (SDM 11.8.5)."""
        self.write(Reg.EOI, 0)

    def self_ipi(self, vector: int) -> None:
        """A fixed IPI to this CPU: the SELF IPI MSR in x2APIC mode, the
        ICR's self shorthand in xAPIC mode."""
        if self.x2apic_mode:
            self.msr_write(MSR_X2APIC_FIRST + (Reg.SELF_IPI >> 4), vector)
        else:
            self.mmio_write(Reg.ICR_LO, 0x40000 | (vector & 0xFF))

    @property
    def pending(self) -> Pending:
        """What the CPU should take next (intc_lapic_pending)."""
        return Pending(_lib().intc_lapic_pending(self._p()))

    def ack(self) -> int | None:
        """INTA cycle (SDM 11.8.4): the vector put in service (0..255),
        ``ack_spurious(v)`` (0x100 | v, SDM 11.9: deliver v, no EOI), or
        None when nothing is deliverable."""
        rc = self._machine._host.call(_lib().intc_lapic_ack, self._p())
        if rc == -1:
            return None
        if rc < -1:
            raise _error(rc, "ack (cpu %d)" % self.cpu)
        return int(rc)

    def ack_peek(self) -> int | None:
        """What ack() would return now, changing nothing."""
        rc = _lib().intc_lapic_ack_peek(self._p())
        return None if rc < 0 else int(rc)

    def take(self, what: Pending) -> bool:
        """Consume one pending signal (NMI, SMI, INIT, SIPI or EXTINT);
        whether it was pending."""
        return bool(self._call("take", _lib().intc_lapic_take, int(what),
                               ffi.NULL))

    def take_sipi(self) -> int | None:
        """Consume a pending SIPI: its vector, or None if none."""
        vec = ffi.new("uint8_t *")
        if self._call("take", _lib().intc_lapic_take, int(Pending.SIPI),
                      vec):
            return int(vec[0])
        return None

    def set_lint(self, pin: int, level: bool) -> None:
        """Electrical level of LINT0 (pin 0) or LINT1 (pin 1)."""
        self._call("set_lint", _lib().intc_lapic_set_lint, pin, level)

    def raise_lvt(self, lvt: Lvt) -> None:
        """A CMCI, thermal or performance-monitoring interrupt fired."""
        self._call("raise_lvt", _lib().intc_lapic_raise_lvt, int(lvt))

    def timer_expired(self, now_ns: int) -> None:
        """The host timer armed through timer_arm fired at ``now_ns``."""
        self._call("timer_expired", _lib().intc_lapic_timer_expired, now_ns)

    @property
    def timer_deadline(self) -> int | None:
        """The armed deadline in ns, None if none."""
        d = _lib().intc_lapic_timer_deadline(self._p())
        return None if d == UINT64_MAX else int(d)

    def set_tsc_offset(self, offset: int) -> None:
        """The offset of this CPU's TSC (intc_lapic_set_tsc_offset)."""
        self._call("set_tsc_offset", _lib().intc_lapic_set_tsc_offset,
                   offset & UINT64_MAX)

    def reset(self, init_only: bool = False) -> None:
        """RESET (SDM 11.4.7.1) or, with init_only, INIT (11.4.7.3)."""
        self._call("reset", _lib().intc_lapic_reset, init_only)

    @property
    def waiting_for_sipi(self) -> bool:
        """In the wait-for-SIPI state."""
        return bool(_lib().intc_lapic_waiting_for_sipi(self._p()))

    @property
    def cpu(self) -> int:
        """This APIC's CPU index."""
        return int(_lib().intc_lapic_cpu(self._p()))

    @property
    def initial_id(self) -> int:
        """The initial (x2APIC) APIC ID."""
        return int(_lib().intc_lapic_initial_id(self._p()))

    def post(self, vector: int, level: bool = False) -> bool:
        """Post vector (posted interrupts); True if the first post since
        the last fold (wake the CPU)."""
        return bool(_lib().intc_lapic_post(self._p(), vector, level))

    def sync_pir(self, pir: int | None = None) -> None:
        """Fold posted vectors into IRR, ORing in the 256-bit ``pir``."""
        arg = ffi.NULL
        if pir is not None:
            arg = ffi.new("uint64_t[4]",
                          [(pir >> (64 * i)) & UINT64_MAX for i in range(4)])
        self._call("sync_pir", _lib().intc_lapic_sync_pir, arg)


class Ioapic(_Part):
    """One I/O APIC (ioapic.h; 82093AA datasheet)."""

    def __init__(self, machine: Machine, ptr: Any, index: int):
        super().__init__(machine, ptr)
        self.index = index

    def _where(self, what: str) -> str:
        return "%s (ioapic %d)" % (what, self.index)

    def __repr__(self) -> str:
        return "<intc.Ioapic %d gsi %d..%d>" % (
            self.index, self.gsi_base, self.gsi_base + self.pin_count - 1)

    def mmio_read(self, off: int, size: int = 4) -> int:
        """Read the IOAPIC window (IOREGSEL 0x00, IOWIN 0x10, EOI 0x40)."""
        val = ffi.new("uint64_t *")
        self._call("mmio_read", _lib().intc_ioapic_mmio_read, off, size, val)
        return int(val[0])

    def mmio_write(self, off: int, value: int, size: int = 4) -> None:
        """Write the IOAPIC window."""
        self._call("mmio_write", _lib().intc_ioapic_mmio_write, off, size,
                   value)

    def read(self, index: int) -> int:
        """Indirect register ``index`` (IOREGSEL, then IOWIN)."""
        self.mmio_write(0x00, index)
        return self.mmio_read(0x10)

    def write(self, index: int, value: int) -> None:
        """Write indirect register ``index``."""
        self.mmio_write(0x00, index)
        self.mmio_write(0x10, value & 0xFFFFFFFF)

    id = _Register(0x00, "IOAPIC ID register (ID in bits 27:24).")
    version = _Register(0x01, "IOAPIC version register.", False)
    arb = _Register(0x02, "IOAPIC arbitration register.", False)

    def rte(self, pin: int) -> int:
        """The 64-bit redirection entry of ``pin`` as the guest reads it."""
        val = ffi.new("uint64_t *")
        self._call("rte", _lib().intc_ioapic_rte, pin, val)
        return int(val[0])

    def set_rte(self, pin: int, value: int) -> None:
        """Write a redirection entry through IOWIN: high dword, then low
        (whose write may unmask it)."""
        if not 0 <= pin < self.pin_count:
            raise _error(-5, "set_rte pin %d" % pin)
        self.write(0x11 + 2 * pin, value >> 32)
        self.write(0x10 + 2 * pin, value & 0xFFFFFFFF)

    def eoi(self, vector: int) -> None:
        """Directed EOI: write the EOI register (version 0x20 only)."""
        self.mmio_write(0x40, vector)

    def set_irq(self, pin: int, asserted: bool, source: int = 0) -> None:
        """A device (source ``source`` of the pin) asserts or de-asserts
        its line."""
        self._call("set_irq", _lib().intc_ioapic_set_irq_source, pin, source,
                   asserted)

    def line(self, pin: int) -> bool:
        """Whether the pin's input is asserted."""
        return bool(_lib().intc_ioapic_line(self._p(), pin))

    def timer_expired(self, now_ns: int) -> None:
        """The storm-throttle timer (ioapic_timer_arm) fired."""
        self._call("timer_expired", _lib().intc_ioapic_timer_expired, now_ns)

    @property
    def pin_count(self) -> int:
        """Number of input pins."""
        return int(_lib().intc_ioapic_pin_count(self._p()))

    @property
    def gsi_base(self) -> int:
        """First GSI."""
        return int(_lib().intc_ioapic_gsi_base(self._p()))


class Msix(_Part):
    """A function's MSI-X table and PBA (msi.h; PCIe 7.7.2)."""

    _freed = "MSI-X device is freed"

    def __init__(self, machine: Machine, ptr: Any, nvec: int):
        super().__init__(machine, ptr)
        self.nvec = nvec

    def _where(self, what: str) -> str:
        return "msix " + what

    def table_read(self, off: int, size: int = 4) -> int:
        """Read the table at ``off`` (16 bytes an entry)."""
        val = ffi.new("uint64_t *")
        self._call("table_read", _lib().intc_msix_table_read, off, size, val)
        return int(val[0])

    def table_write(self, off: int, value: int, size: int = 4) -> None:
        """Write the table at ``off``."""
        self._call("table_write", _lib().intc_msix_table_write, off, size,
                   value)

    def pba_read(self, off: int = 0, size: int = 8) -> int:
        """Read the pending-bit array."""
        val = ffi.new("uint64_t *")
        self._call("pba_read", _lib().intc_msix_pba_read, off, size, val)
        return int(val[0])

    def set_entry(self, vector: int, address: int, data: int,
                  masked: bool = False) -> None:
        """Program entry ``vector``: address, data, then vector control."""
        off = 16 * vector
        self.table_write(off, address & 0xFFFFFFFF)
        self.table_write(off + 4, address >> 32)
        self.table_write(off + 8, data)
        self.table_write(off + 12, 1 if masked else 0)

    def entry(self, vector: int) -> tuple[int, int, int]:
        """Entry ``vector`` as (address, data, vector control)."""
        off = 16 * vector
        return (self.table_read(off, 8), self.table_read(off + 8),
                self.table_read(off + 12))

    def set_control(self, enable: bool, function_mask: bool = False) -> None:
        """Message Control: MSI-X Enable and Function Mask."""
        self._call("set_control", _lib().intc_msix_set_control, enable,
                   function_mask)

    def notify(self, vector: int) -> Delivery:
        """The function raises ``vector``; what became of it."""
        out = ffi.new("intc_delivery *")
        self._call("notify", _lib().intc_msix_notify, vector, out)
        return _delivery(out)

    def pending(self, vector: int) -> bool:
        """Whether ``vector``'s pending bit is set."""
        return bool(_lib().intc_msix_pending(self._p(), vector))

    def reset(self) -> None:
        """Function-level reset."""
        self._call("reset", _lib().intc_msix_reset)

    def close(self) -> None:
        """Free the device (intc_msix_free)."""
        if self._ptr is not None and self._machine._ptr is not None:
            if self._machine._host.depth:
                raise Busy("msix close from inside a callback")
            _lib().intc_msix_free(self._ptr)
        self._ptr = None


class Msi(_Part):
    """An MSI capability (msi.h; PCI 3.0 6.8.1)."""

    _freed = "MSI capability is freed"

    def _where(self, what: str) -> str:
        return "msi " + what

    @property
    def size(self) -> int:
        """Size of the capability in bytes."""
        return int(_lib().intc_msi_config_size(self._p()))

    def config_read(self, off: int, size: int = 4) -> int:
        """Configuration-space read at ``off`` in the capability."""
        val = ffi.new("uint32_t *")
        self._call("config_read", _lib().intc_msi_config_read, off, size,
                   val)
        return int(val[0])

    def config_write(self, off: int, value: int, size: int = 4) -> None:
        """Configuration-space write at ``off`` in the capability."""
        self._call("config_write", _lib().intc_msi_config_write, off, size,
                   value)

    def notify(self, vector: int = 0) -> Delivery:
        """The function raises ``vector``; what became of it."""
        out = ffi.new("intc_delivery *")
        self._call("notify", _lib().intc_msi_notify, vector, out)
        return _delivery(out)

    def reset(self) -> None:
        """Back to the reset state."""
        self._call("reset", _lib().intc_msi_reset)

    def close(self) -> None:
        """Free the capability (intc_msi_free)."""
        if self._ptr is not None and self._machine._ptr is not None:
            if self._machine._host.depth:
                raise Busy("msi close from inside a callback")
            _lib().intc_msi_free(self._ptr)
        self._ptr = None


class Iommu(_Part):
    """The machine's IOMMU: register front-end and remapping engine
    (iommu.h).  ``VtdIommu`` and ``AmdViIommu`` add the registers by
    name."""

    kind = IommuKind.NONE

    def _where(self, what: str) -> str:
        return "iommu " + what

    def mmio_read(self, off: int, size: int = 4) -> int:
        """Read the unit's MMIO registers."""
        val = ffi.new("uint64_t *")
        self._call("mmio_read", _lib().intc_iommu_mmio_read, off, size, val)
        return int(val[0])

    def mmio_write(self, off: int, value: int, size: int = 4) -> None:
        """Write the unit's MMIO registers."""
        self._call("mmio_write", _lib().intc_iommu_mmio_write, off, size,
                   value)

    def read(self, off: int) -> int:
        """Register at ``off`` at its width (``_WIDTHS``)."""
        return self.mmio_read(off, self._WIDTHS.get(off, 4))

    def write(self, off: int, value: int) -> None:
        """Write register at ``off`` at its width."""
        self.mmio_write(off, value, self._WIDTHS.get(off, 4))

    _WIDTHS: dict[int, int] = {}

    def remap(self, sid: int, address: int, data: int) -> Irq:
        """Remap (address, data) from requester ``sid`` (not delivered:
        pass the result to Machine.deliver)."""
        out = ffi.new("intc_irq *")
        self._call("remap", _lib().intc_iommu_remap, sid, address, data, out)
        return Irq(fault=int(out.fault), blocked=bool(out.blocked),
                   posted=bool(out.posted), remapped=bool(out.remapped),
                   index=int(out.index), dest=int(out.dest),
                   vector=int(out.vector), dm=int(out.dm),
                   logical=bool(out.logical), level=bool(out.level),
                   rh=bool(out.rh), x2apic=bool(out.x2apic))

    def set_table(self, irta: int, enabled: bool, cfi: bool = False) -> None:
        """Engine state for hosts with their own registers."""
        self._call("set_table", _lib().intc_iommu_set_table, irta, enabled,
                   cfi)

    def invalidate(self, index: int = 0xFFFFFFFF, index_mask: int = 0) -> None:
        """Invalidate cached interrupt entries (default: all)."""
        self._call("invalidate", _lib().intc_iommu_invalidate, index,
                   index_mask)


class VtdIommu(Iommu):
    """Intel VT-d remapping unit (VT-d spec ch. 5, registers 11.4)."""

    kind = IommuKind.VTD
    _WIDTHS = {0x008: 8, 0x010: 8, 0x020: 8, 0x028: 8, 0x080: 8, 0x088: 8,
               0x090: 8, 0x0B8: 8}
    ver = _Register(0x000, "Version register.", False)
    cap = _Register(0x008, "Capability register.", False)
    ecap = _Register(0x010, "Extended capability register.", False)
    gcmd = _Register(0x018, "Global command register (write-only).")
    gsts = _Register(0x01C, "Global status register.", False)
    rtaddr = _Register(0x020, "Root table address register.")
    fsts = _Register(0x034, "Fault status register.")
    fectl = _Register(0x038, "Fault event control register.")
    fedata = _Register(0x03C, "Fault event data register.")
    feaddr = _Register(0x040, "Fault event address register.")
    iqh = _Register(0x080, "Invalidation queue head.", False)
    iqt = _Register(0x088, "Invalidation queue tail.")
    iqa = _Register(0x090, "Invalidation queue address.")
    ics = _Register(0x09C, "Invalidation completion status.")
    irta = _Register(0x0B8, "Interrupt remapping table address.")


class AmdViIommu(Iommu):
    """AMD-Vi IOMMU (AMD IOMMU spec 2.2.5; 64-bit registers)."""

    kind = IommuKind.AMDVI
    _WIDTHS = {off: 8 for off in (0x0000, 0x0008, 0x0010, 0x0018, 0x0020,
                                  0x0028, 0x0030, 0x2000, 0x2008, 0x2010,
                                  0x2018, 0x2020)}
    devtab = _Register(0x0000, "Device table base address register.")
    cmdbuf = _Register(0x0008, "Command buffer base address register.")
    evtlog = _Register(0x0010, "Event log base address register.")
    control = _Register(0x0018, "IOMMU control register.")
    efr = _Register(0x0030, "Extended feature register.", False)
    cmd_head = _Register(0x2000, "Command buffer head pointer.")
    cmd_tail = _Register(0x2008, "Command buffer tail pointer.")
    evt_head = _Register(0x2010, "Event log head pointer.")
    evt_tail = _Register(0x2018, "Event log tail pointer.")
    status = _Register(0x2020, "IOMMU status register.")


class _Lapics(collections.abc.Sequence):  # type: ignore[type-arg]
    """machine.lapics: the Local APICs by CPU index."""

    def __init__(self, machine: Machine):
        self._machine = machine

    def __len__(self) -> int:
        return self._machine.cpu_count

    def __getitem__(self, index: int) -> Lapic:  # type: ignore[override]
        if index < 0:
            index += len(self)
        return self._machine.lapic(index)


def _config(cfg: Any, kw: dict[str, Any], keep: list[Any]) -> None:
    """Fill intc_machine_config from Machine's keyword arguments."""
    simple = {"cpus": "n_cpus", "bsp": "bsp", "x2apic": "x2apic",
              "tsc_deadline": "tsc_deadline", "directed_eoi": "directed_eoi",
              "lvt_cmci": "lvt_cmci",
              "lowest_priority_ipi": "lowest_priority_ipi",
              "focus_processor": "focus_processor",
              "apic_bus_errors": "apic_bus_errors",
              "lapic_version": "lapic_version",
              "phys_addr_bits": "phys_addr_bits",
              "apic_timer_hz": "apic_timer_hz", "tsc_hz": "tsc_hz",
              "msi_ext_dest": "msi_ext_dest",
              "storm_threshold": "storm_threshold",
              "storm_throttle_ns": "storm_throttle_ns"}
    for key, field in simple.items():
        if kw.get(key) is not None:
            setattr(cfg, field, kw[key])
    ids = kw.get("apic_ids")
    if ids is not None:
        arr = ffi.new("uint32_t[]", list(ids))
        keep.append(arr)
        cfg.apic_ids = arr
    ioapics: Sequence[IoapicConfig] = kw.get("ioapics") or ()
    if ioapics:
        arr = ffi.new("intc_ioapic_config[]", len(ioapics))
        keep.append(arr)
        for c, io in zip(arr, ioapics):
            c.id, c.version, c.n_pins = io.id, io.version, io.pins
            c.gsi_base, c.source_id = io.gsi_base, io.source_id
            if io.wiring is not None:
                wiring = ffi.new("uint8_t[]", list(io.wiring))
                keep.append(wiring)
                c.pin_wiring = wiring
        cfg.ioapics, cfg.n_ioapics = arr, len(ioapics)
    iommu: IommuConfig | None = kw.get("iommu")
    if iommu is not None:
        cfg.iommu.kind = int(iommu.kind)
        for key, field in (("x2apic", "x2apic"), ("posted", "posted"),
                           ("fault_regs", "n_fault_regs"),
                           ("cache_entries", "cache_entries")):
            if getattr(iommu, key) is not None:
                setattr(cfg.iommu, field, getattr(iommu, key))


class Machine(Closable):
    """One emulated system's interrupt fabric (machine.h).

    Configuration keywords are intc_machine_config's members; None (the
    default) keeps the library's default (intc_machine_config_init):
    ``cpus`` (n_cpus, 1), ``apic_ids``, ``bsp``, ``x2apic``,
    ``tsc_deadline``, ``directed_eoi``, ``lvt_cmci``,
    ``lowest_priority_ipi``, ``focus_processor``, ``apic_bus_errors``,
    ``lapic_version``, ``phys_addr_bits``, ``apic_timer_hz``, ``tsc_hz``,
    ``ioapics`` (IoapicConfig list), ``msi_ext_dest``,
    ``storm_threshold``, ``storm_throttle_ns``, ``iommu`` (IommuConfig).

    Host callbacks (common.h intc_host_ops), each optional:
    ``kick(cpu)``, ``now_ns(cpu or None) -> int``,
    ``timer_arm(cpu, deadline or None)``, ``dma_read(addr, n) -> bytes or
    None`` (None: the access failed), ``dma_write(addr, data) -> False on
    failure``, ``event(Event)``, ``eoi(gsi)``,
    ``ioapic_timer_arm(ioapic, deadline or None)``,
    ``apic_base_changed(cpu, apic_base)``.  See the module documentation
    for exceptions raised inside them.

    A context manager: ``with Machine(cpus=2) as m: ...`` frees it at the
    end; ``close()`` does the same."""

    def __init__(self, *, cpus: int | None = None,
                 apic_ids: Sequence[int] | None = None,
                 bsp: int | None = None, x2apic: bool | None = None,
                 tsc_deadline: bool | None = None,
                 directed_eoi: bool | None = None,
                 lvt_cmci: bool | None = None,
                 lowest_priority_ipi: bool | None = None,
                 focus_processor: bool | None = None,
                 apic_bus_errors: bool | None = None,
                 lapic_version: int | None = None,
                 phys_addr_bits: int | None = None,
                 apic_timer_hz: int | None = None,
                 tsc_hz: int | None = None,
                 ioapics: Sequence[IoapicConfig] | None = None,
                 msi_ext_dest: bool | None = None,
                 storm_threshold: int | None = None,
                 storm_throttle_ns: int | None = None,
                 iommu: IommuConfig | None = None,
                 kick: KickFn | None = None, now_ns: NowFn | None = None,
                 timer_arm: TimerArmFn | None = None,
                 dma_read: DmaReadFn | None = None,
                 dma_write: DmaWriteFn | None = None,
                 event: EventFn | None = None, eoi: EoiFn | None = None,
                 ioapic_timer_arm: TimerArmFn | None = None,
                 apic_base_changed: ApicBaseFn | None = None):
        lib = _lib()
        kw = dict(locals())
        cfg = ffi.new("intc_machine_config *")
        lib.intc_machine_config_init(cfg)
        keep: list[Any] = []
        _config(cfg, kw, keep)
        self._host = _Host({name: kw[name] for name in _TRAMPOLINES})
        self._ops = self._host.ops()
        err = ffi.new("intc_err *")
        ptr = lib.intc_machine_new(cfg, self._ops, self._host.handle, err)
        if ptr == ffi.NULL:
            raise _error(err[0], "intc_machine_new")
        self._ptr: Any = ptr
        self._owner: object | None = None
        self._setup(iommu.kind if iommu is not None else IommuKind.NONE)

    @classmethod
    def _view(cls, ptr: Any, host: _Host, owner: object,
              kind: IommuKind = IommuKind.NONE) -> Machine:
        """A Machine over a machine someone else owns (a replayer's, an
        intc.uc.UcMachine's): close() leaves it alone."""
        self = cls.__new__(cls)
        self._host, self._ptr, self._owner = host, ptr, owner
        self._setup(kind)
        return self

    def _setup(self, kind: IommuKind = IommuKind.NONE) -> None:
        lib = _lib()
        ioapics = []
        while True:
            p = lib.intc_machine_ioapic(self._ptr, len(ioapics))
            if p == ffi.NULL:
                break
            ioapics.append(Ioapic(self, p, len(ioapics)))
        self.ioapics: tuple[Ioapic, ...] = tuple(ioapics)
        self.lapics = _Lapics(self)
        ptr = lib.intc_machine_iommu(self._ptr)
        self.iommu: Iommu | None = None
        if ptr != ffi.NULL:
            # The kind comes from the configuration (probing a register
            # would be a recorded call); a replayed machine's is generic.
            cls = {IommuKind.VTD: VtdIommu,
                   IommuKind.AMDVI: AmdViIommu}.get(kind, Iommu)
            self.iommu = cls(self, ptr)

    def _ptr_or_raise(self) -> Any:
        if self._ptr is None:
            raise ValueError("machine is closed")
        return self._ptr

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> int:
        rc = self._host.call(fn, self._ptr_or_raise(), *args)
        if rc < 0:
            raise _error(rc, what)
        return rc

    def close(self) -> None:
        """Free the machine (no callback runs afterwards).  Objects taken
        from it raise ValueError from then on."""
        if self._ptr is None or self._owner is not None:
            return
        if self._host.depth:
            raise Busy("Machine.close from inside a callback")
        _lib().intc_machine_free(self._ptr)
        self._ptr = None


    def __repr__(self) -> str:
        if self._ptr is None:
            return "<intc.Machine closed>"
        return "<intc.Machine cpus=%d ioapics=%d iommu=%s>" % (
            self.cpu_count, len(self.ioapics),
            self.iommu.kind.name if self.iommu else None)

    @property
    def cpu_count(self) -> int:
        """Number of CPUs."""
        return int(_lib().intc_machine_cpu_count(self._ptr_or_raise()))

    def lapic(self, cpu: int) -> Lapic:
        """The Local APIC of CPU ``cpu``."""
        ptr = _lib().intc_machine_lapic(self._ptr_or_raise(), cpu)
        if ptr == ffi.NULL:
            raise _error(-5, "lapic %d" % cpu)
        return Lapic(self, ptr)

    def ioapic(self, index: int = 0) -> Ioapic:
        """The IOAPIC of that index."""
        if not 0 <= index < len(self.ioapics):
            raise _error(-5, "ioapic %d" % index)
        return self.ioapics[index]

    def reset(self) -> None:
        """RESET every model (SDM 11.4.7.1)."""
        self._call("reset", _lib().intc_machine_reset)

    def tsc(self, cpu: int) -> int:
        """The guest TSC of ``cpu`` now (intc_machine_tsc)."""
        return int(self._host.call(_lib().intc_machine_tsc,
                                   self._ptr_or_raise(), cpu))

    def set_gsi(self, gsi: int, asserted: bool) -> None:
        """Drive a GSI across the machine's IOAPICs (source 0)."""
        self._call("set_gsi %d" % gsi, _lib().intc_machine_set_gsi, gsi,
                   asserted)

    def msi_send(self, address: int, data: int,
                 source_id: int = 0) -> Delivery:
        """A device's memory write of ``data`` to ``address``: an
        interrupt message (SDM 11.11).  NotDecoded outside 0xFEExxxxx."""
        out = ffi.new("intc_delivery *")
        self._call("msi_send", _lib().intc_msi_send, address, data,
                   source_id, out)
        return _delivery(out)

    def deliver(self, irq: Irq) -> Delivery:
        """Deliver a remapped interrupt (intc_irq_deliver)."""
        c = ffi.new("intc_irq *")
        for name in Irq.__dataclass_fields__:
            setattr(c, name, getattr(irq, name))
        out = ffi.new("intc_delivery *")
        self._call("irq_deliver", _lib().intc_irq_deliver, c, out)
        return _delivery(out)

    def msix(self, nvec: int, source_id: int = 0) -> Msix:
        """Create an MSI-X table and PBA of ``nvec`` vectors."""
        err = ffi.new("intc_err *")
        ptr = self._host.call(_lib().intc_msix_new, self._ptr_or_raise(),
                              nvec, source_id, err)
        if ptr == ffi.NULL:
            raise _error(err[0], "msix_new")
        return Msix(self, ptr, nvec)

    def msi(self, log2_vectors: int = 0, addr64: bool = True,
            per_vector_mask: bool = False, source_id: int = 0) -> Msi:
        """Create an MSI capability."""
        err = ffi.new("intc_err *")
        ptr = self._host.call(_lib().intc_msi_new, self._ptr_or_raise(),
                              log2_vectors, addr64, per_vector_mask,
                              source_id, err)
        if ptr == ffi.NULL:
            raise _error(err[0], "msi_new")
        return Msi(self, ptr)

    # --- snapshots ---

    def save(self) -> bytes:
        """The machine's snapshot image (intc_machine_save)."""
        used = ffi.new("size_t *")
        lib = _lib()
        rc = self._host.call(lib.intc_machine_save, self._ptr_or_raise(),
                             ffi.NULL, 0, used)
        if rc not in (0, -9):
            raise _error(rc, "save")
        buf = ffi.new("uint8_t[]", used[0])
        self._call("save", lib.intc_machine_save, buf, used[0], used)
        return ffi.buffer(buf, used[0])[:]

    def load(self, image: bytes) -> None:
        """Load a snapshot image; on error (the message says why, from
        intc_machine_errmsg) the machine is unchanged."""
        lib = _lib()
        rc = self._host.call(lib.intc_machine_load, self._ptr_or_raise(),
                             ffi.from_buffer(image), len(image))
        if rc < 0:
            why = ffi.string(lib.intc_machine_errmsg(self._ptr)).decode()
            raise _error(rc, "load: %s" % why if why else "load")

    def check(self) -> None:
        """Check every internal invariant; Corrupt names the first broken
        one (intc_machine_check)."""
        msg = ffi.new("char[]", 256)
        rc = _lib().intc_machine_check(self._ptr_or_raise(), msg, 256)
        if rc < 0:
            raise _error(rc, "check: %s" % ffi.string(msg).decode())

    # --- recording ---

    def record(self, file: IO[bytes] | None = None) -> Recorder:
        """Start recording every input (record.h): into memory
        (``Recorder.data``) or, given a binary file, into it."""
        return Recorder(self, file)

    @property
    def recording(self) -> bool:
        """Whether the machine is being recorded."""
        return _lib().intc_machine_recording(self._ptr_or_raise()) == 1


@ffi.callback("int(void *, const void *, size_t)")
def _record_write(ctx: Any, buf: Any, length: int) -> int:
    rec: Recorder = ffi.from_handle(ctx)
    try:
        rec._write(ffi.buffer(buf, length)[:])
        return 0
    except BaseException as exc:  # noqa: B902
        rec._machine._host.fail(exc, "recording write")
        return -1


class Recorder:
    """A recording in progress (Machine.record).  Stop it with ``stop()``
    or by leaving its ``with`` block; ``data`` is the recording so far
    (in-memory recorders)."""

    def __init__(self, machine: Machine, file: IO[bytes] | None):
        self._machine = machine
        self._file = file
        self._data = bytearray()
        self._handle = ffi.new_handle(self)
        machine._call("record", _lib().intc_machine_record, _record_write,
                      self._handle)
        self._active = True

    def _write(self, chunk: bytes) -> None:
        if self._file is not None:
            self._file.write(chunk)
        else:
            self._data += chunk

    @property
    def data(self) -> bytes:
        """The bytes recorded so far (empty when writing to a file)."""
        return bytes(self._data)

    def stop(self) -> bytes:
        """Stop recording (writes the end record); the recording."""
        if self._active:
            self._active = False
            self._machine._call("record stop", _lib().intc_machine_record,
                                ffi.NULL, ffi.NULL)
        return self.data

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Replay(Closable):
    """A replayer over a recording (record.h): rebuilds the machine and
    re-issues the recorded calls, checking every result.  Callbacks are
    forwarded as for Machine (``event``, ``kick``, ``timer_arm``...); they
    must not call into the replayed machine except for queries."""

    def __init__(self, recording: bytes, *, kick: KickFn | None = None,
                 timer_arm: TimerArmFn | None = None,
                 event: EventFn | None = None, eoi: EoiFn | None = None,
                 ioapic_timer_arm: TimerArmFn | None = None,
                 apic_base_changed: ApicBaseFn | None = None,
                 now_ns: NowFn | None = None,
                 dma_read: DmaReadFn | None = None,
                 dma_write: DmaWriteFn | None = None):
        lib = _lib()
        kw = dict(locals())
        self._host = _Host({name: kw.get(name) for name in _TRAMPOLINES})
        # The replayer calls apic_base_changed only if the recorded host
        # had it: register accessors read IA32_APIC_BASE instead.
        self._host.tracks_mode = False
        self._ops = self._host.ops()
        self._data = bytes(recording)
        self._buf = ffi.from_buffer(self._data)
        err = ffi.new("intc_err *")
        ptr = self._host.call(lib.intc_replay_new, self._buf, len(recording),
                              self._ops, self._host.handle, err)
        if ptr == ffi.NULL:
            raise _error(err[0], "replay_new")
        self._ptr: Any = ptr
        if err[0] < 0:
            why = self.errmsg
            lib.intc_replay_free(ptr)
            self._ptr = None
            raise _error(err[0], "replay: %s" % why)
        self.machine = Machine._view(lib.intc_replay_machine(ptr),
                                     self._host, self)

    def _p(self) -> Any:
        if self._ptr is None:
            raise ValueError("replay is closed")
        return self._ptr

    @property
    def errmsg(self) -> str:
        """Why the last step failed ("" if nothing failed)."""
        return ffi.string(_lib().intc_replay_errmsg(self._p())).decode()

    def step(self) -> bool:
        """Replay the next recorded call; False at the end."""
        rc = self._host.call(_lib().intc_replay_step, self._p())
        if rc < 0:
            raise _error(rc, "replay: %s" % self.errmsg)
        return rc == 1

    def run(self) -> None:
        """Replay to the end of the recording."""
        rc = self._host.call(_lib().intc_replay_run, self._p())
        if rc < 0:
            raise _error(rc, "replay: %s" % self.errmsg)

    def __iter__(self) -> Iterator[int]:
        """Step through the recording, yielding each record index."""
        while self.step():
            yield self.position[0]

    @property
    def position(self) -> tuple[int, int]:
        """(index of the next record, its byte offset)."""
        off = ffi.new("size_t *")
        idx = _lib().intc_replay_position(self._p(), off)
        return int(idx), int(off[0])

    def close(self) -> None:
        """Free the replayer and its machine."""
        if self._ptr is not None:
            if self._host.depth:
                raise Busy("Replay.close from inside a callback")
            self.machine._ptr = None
            _lib().intc_replay_free(self._ptr)
            self._ptr = None

