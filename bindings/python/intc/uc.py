"""libintc-uc from Python: Unicorn x86-64 CPUs around a libintc machine.

``UcMachine`` wraps an ``intc_uc`` (integrations/unicorn/include/intc/
uc.h, the reference for every call's behaviour): N Unicorn engines
sharing one guest RAM, a libintc machine (``UcMachine.intc``, the same
``intc.Machine`` API: ``lapics``, ``ioapics``, ``iommu``, ``msix()``...)
and a deterministic scheduler that delivers interrupts through the guest's
IDT.  Firmware is loaded as ``bytes`` and run until a stop
(``StopInfo``); the event stream arrives as ``UcEvent`` objects, libintc's
own events inside them as ``intc.Event``.

Device models are Python objects mapped into guest physical memory with
``UcMachine.map_mmio()``: the guest's loads and stores become calls of
their ``read(cpu, offset, size)`` and ``write(cpu, offset, size, value)``;
from there a model raises its IOAPIC input (``UcMachine.set_gsi``), sends
MSIs (``msi_send``) and writes guest memory (``dma_write``).

>>> import intc.uc
>>> firmware = bytes([0xB8, 0x0D, 0x60, 0, 0,    # mov eax, 0x600D
...                   0xE7, 0xF4,                # out 0xF4, eax: exit
...                   0xF4, 0xEB, 0xFD])         # 1: hlt; jmp 1b
>>> with intc.uc.UcMachine() as m:               # doctest: +SKIP
...     m.load(intc.uc.DEFAULT_ENTRY, firmware)
...     m.run(max_insns=100).passed
True

Exceptions raised inside a callback (event, console, a device's read or
write) never cross into C: the callback gives the library a default
(nothing for notifications, all ones of the access size for a device
read, as an idle bus reads), asks the machine to stop at the next block
boundary (a resumable ``"requested"`` stop) and the first such exception
is re-raised, with a note naming the callback, from the ``run()`` (or
other binding call) that caused it.  ``last_stop`` then says where the
run stopped; ``run()`` again resumes it.  So Ctrl-C during a run with a
Python callback stops it cleanly too.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from . import _ffi
from ._closable import Closable
from .errors import Busy, InvalidArgument
from .machine import (Ioapic, Machine, Msix, _config, _error, _event,
                      _Host, _Lapics)
from .types import (NO_CPU, UINT64_MAX, Event, IoapicConfig, IommuConfig,
                    IommuKind)

ffi = _ffi.ffi

# uc.h's constants.
MAX_CPUS = 64
IOAPIC_BASE = 0xFEC00000
IOAPIC_STRIDE = 0x1000
IOMMU_BASE = 0xFED90000
PORT_CONSOLE = 0xE9
PORT_EXIT = 0xF4
EXIT_PASS = 0x600D
DEFAULT_ENTRY = 0x10000

# The stops intc_uc_run() may resume from (uc.h INTC_UC_STOP_MAP).
RESUMABLE = frozenset({"all_halted", "insn_limit", "time_limit",
                       "requested"})

UcEventFn = Callable[["UcEvent"], None]
ConsoleFn = Callable[[int, int], None]
MmioReadFn = Callable[[int, int, int], int]
MmioWriteFn = Callable[[int, int, int, int], None]


def _uc() -> Any:
    return _ffi.uc_library()


def available() -> bool:
    """Whether libintc-uc can be loaded (it is built only where Unicorn,
    libunicorn-dev, was found)."""
    try:
        _uc()
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def stop_name(reason: int) -> str:
    """The library's name of stop reason ``reason`` ("exit")."""
    return ffi.string(_uc().intc_uc_stop_name(reason)).decode()


@functools.lru_cache(maxsize=None)
def event_name(type_: int) -> str:
    """The library's name of machine event type ``type_`` ("deliver")."""
    return ffi.string(_uc().intc_uc_event_name(type_)).decode()


class CpuState(enum.IntEnum):
    """uc.h enum intc_uc_cpu_state."""

    RUNNING = 0
    HALTED = 1
    WAIT_SIPI = 2


class DeliveryKind(enum.IntEnum):
    """What a "deliver" event delivered (uc.h enum intc_uc_kind)."""

    EXTERNAL = 0   # from the Local APIC (INTR)
    NMI = 1
    EXCEPTION = 2  # raised by an instruction or a delivery
    SOFTWARE = 3   # INT n, INT3, INTO


class UnsupportedReason(enum.IntEnum):
    """The code of an "unsupported" stop (uc.h enum intc_uc_unsupported)."""

    MODE = 1
    BSP_INIT = 2
    APIC_BASE = 3
    NOT_HLT = 4
    GATE = 5


@dataclass(frozen=True)
class UcEvent:
    """One event of the machine (uc.h intc_uc_event).

    ``type`` is the library's name: "intc" (a libintc event, in
    ``intc``), "deliver" (``vector`` through the IDT: ``rip`` the return
    RIP, ``data`` the DeliveryKind, ``data2`` the error code), "halt",
    "init", "start" (``vector`` the SIPI vector, ``rip`` the start) or
    "stop" (``data`` the reason, ``data2`` the code).  ``cpu`` and
    ``vector`` are None where they do not apply; ``time_ns`` and
    ``insns`` are the CPU's clock and retired count (all CPUs' when
    ``cpu`` is None)."""

    type: str
    cpu: int | None
    time_ns: int
    insns: int
    vector: int | None
    rip: int
    data: int
    data2: int
    intc: Event | None = None

    @property
    def kind(self) -> DeliveryKind | None:
        """For a "deliver" event, what was delivered."""
        return DeliveryKind(self.data) if self.type == "deliver" else None


@dataclass(frozen=True)
class StopInfo:
    """Why ``UcMachine.run()`` returned (uc.h intc_uc_stop_info).

    ``reason`` is the library's name ("exit", "all_halted", "insn_limit",
    "time_limit", "requested", "triple_fault", "unmapped",
    "unsupported", "emu_error"); ``code`` its code (for "exit" the value
    the guest wrote to port 0xF4); ``cpu`` the CPU concerned (None if
    none), ``rip`` its RIP, ``time_ns`` its clock (else the latest),
    ``insns`` the instructions retired by all CPUs so far."""

    reason: str
    cpu: int | None
    code: int
    rip: int
    time_ns: int
    insns: int

    @property
    def passed(self) -> bool:
        """The guest exited with EXIT_PASS (the test firmware's success)."""
        return self.reason == "exit" and self.code == EXIT_PASS

    @property
    def resumable(self) -> bool:
        """Whether ``run()`` may continue from this stop."""
        return self.reason in RESUMABLE


@dataclass(frozen=True)
class CpuInfo:
    """One CPU's scheduler state (uc.h intc_uc_cpu_info)."""

    state: CpuState
    rip: int
    time_ns: int
    insns: int
    delivered: int
    deadline_ns: int | None


@dataclass(frozen=True)
class TrapInfo:
    """One CPU's trap module counters (uc.h intc_uc_trap_info)."""

    blocks_scanned: int
    restarts: int
    hooks_live: int
    emulated: int
    native: int
    faults: int
    cpuid: int
    native_msr_hooks: bool
    native_tsc_hooks: bool
    hidden_state: bool


class MmioDevice(Protocol):
    """A device model ``UcMachine.map_mmio()`` maps: ``offset`` is from
    the window's start, ``size`` 1, 2 or 4 (Unicorn splits wider accesses
    into 4-byte pieces, low first), ``cpu`` the accessing CPU's index."""

    def read(self, cpu: int, offset: int, size: int) -> int:
        """The value the guest's load reads (0 <= value < 2**(8*size))."""

    def write(self, cpu: int, offset: int, size: int, value: int) -> None:
        """The guest's store of ``value``."""


def _stop(info: Any) -> StopInfo:
    return StopInfo(reason=stop_name(info.reason),
                    cpu=None if info.cpu == NO_CPU else int(info.cpu),
                    code=int(info.code), rip=int(info.rip),
                    time_ns=int(info.time_ns), insns=int(info.insns))


def _uc_event(ev: Any) -> UcEvent:
    name = event_name(ev.type)
    return UcEvent(type=name, cpu=None if ev.cpu == NO_CPU else int(ev.cpu),
                   time_ns=int(ev.time_ns), insns=int(ev.insns),
                   vector=None if ev.vector < 0 else int(ev.vector),
                   rip=int(ev.rip), data=int(ev.data), data2=int(ev.data2),
                   intc=_event(ev.intc) if name == "intc" else None)


class _Window:
    """One mapped MMIO window: its callables and the handle C keeps."""

    def __init__(self, owner: UcMachine, gpa: int, size: int,
                 read: MmioReadFn | None, write: MmioWriteFn | None):
        self.owner = owner
        self.gpa, self.size = gpa, size
        self.read, self.write = read, write
        self.handle = ffi.new_handle(self)
        self.ops = ffi.new("intc_uc_mmio_ops *")
        if read is not None:
            self.ops.read = _mmio_read
        if write is not None:
            self.ops.write = _mmio_write


@ffi.callback("uint64_t(void *, uint32_t, uint64_t, unsigned)")
def _mmio_read(opaque: Any, cpu: int, off: int, size: int) -> int:
    w: _Window = ffi.from_handle(opaque)
    ones = (1 << 8 * size) - 1
    try:
        assert w.read is not None
        value = int(w.read(cpu, off, size))
        if not 0 <= value <= ones:
            raise ValueError("device read at %#x (size %d) returned %#x"
                             % (w.gpa + off, size, value))
        return value
    except BaseException as exc:  # noqa: B902 - reported, never into C
        w.owner._failed(exc, "MMIO read at %#x" % (w.gpa + off))
        return ones


@ffi.callback("void(void *, uint32_t, uint64_t, unsigned, uint64_t)")
def _mmio_write(opaque: Any, cpu: int, off: int, size: int,
                value: int) -> None:
    w: _Window = ffi.from_handle(opaque)
    try:
        assert w.write is not None
        w.write(cpu, off, size, value)
    except BaseException as exc:  # noqa: B902
        w.owner._failed(exc, "MMIO write at %#x" % (w.gpa + off))


@ffi.callback("void(void *, const intc_uc_event *)")
def _event_cb(user: Any, ev: Any) -> None:
    m: UcMachine = ffi.from_handle(user)
    try:
        assert m._event_fn is not None
        m._event_fn(_uc_event(ev))
    except BaseException as exc:  # noqa: B902
        m._failed(exc, "event")


@ffi.callback("void(void *, uint32_t, uint8_t)")
def _console_cb(user: Any, cpu: int, byte: int) -> None:
    m: UcMachine = ffi.from_handle(user)
    try:
        assert m._console_fn is not None
        m._console_fn(cpu, byte)
    except BaseException as exc:  # noqa: B902
        m._failed(exc, "console")


# intc.Machine's configuration keywords (machine.py _config).
_INTC_KEYS = ("apic_ids", "bsp", "x2apic", "tsc_deadline", "directed_eoi",
              "lvt_cmci", "lowest_priority_ipi", "focus_processor",
              "apic_bus_errors", "lapic_version", "phys_addr_bits",
              "apic_timer_hz", "tsc_hz", "ioapics", "msi_ext_dest",
              "storm_threshold", "storm_throttle_ns", "iommu")


def default_ioapic(cpus: int = 1) -> IoapicConfig:
    """The IOAPIC a UcMachine has unless told otherwise (uc.c): 24 pins,
    version 0x20, ID ``cpus`` (0 from 16 CPUs on), GSI 0, requester id
    f0:1f.0, every pin an active-high edge input."""
    return IoapicConfig(id=cpus if cpus < 16 else 0, version=0x20, pins=24,
                        gsi_base=0, source_id=0xF0F8)


class UcMachine(Closable):
    """A machine of Unicorn x86-64 CPUs with libintc's interrupt fabric
    (uc.h intc_uc).

    Keywords (None keeps the library's default, intc_uc_config_init):
    ``cpus`` (1..64, default 1), ``ram_size`` (bytes, a multiple of
    4 KiB, 64 KiB..0xFEC00000; 16 MiB), ``entry`` (the BSP's start,
    0x10000), ``insn_ns`` (virtual ns per instruction, 1), ``quantum_ns``
    (longest slice, 10000), ``sipi_64`` (APs start in 64-bit mode at the
    SIPI page instead of real mode, False).

    The libintc machine inside takes ``intc.Machine``'s configuration
    keywords (``apic_ids``, ``bsp``, ``x2apic``, ``tsc_deadline``,
    ``apic_timer_hz``, ``ioapics``, ``iommu``, ``storm_threshold``...);
    when ``ioapics`` is None it has ``default_ioapic(cpus)``, the IOAPIC
    at 0xFEC00000 the library gives it by default (``ioapics=[]``: none).
    IOAPIC i is at IOAPIC_BASE + 0x1000 * i.

    Callbacks, each optional: ``event(UcEvent)`` sees every event
    (libintc's included, as UcEvent.intc), ``console(cpu, byte)`` every
    byte the guest writes to port 0xE9.  They run inside ``run()`` (and
    inside calls on ``intc`` that make events); from them the machine's
    queries, ``set_gsi``, ``msi_send``, ``dma_write``, ``request_stop``
    and ``intc``'s API may be called, not ``run``, ``load`` or the
    ``map_*`` calls (Busy).  Exceptions raised in them: see the module
    documentation.

    A context manager: ``with UcMachine(cpus=2) as m: ...`` frees it at
    the end; ``close()`` does the same."""

    def __init__(self, *, cpus: int | None = None,
                 ram_size: int | None = None, entry: int | None = None,
                 insn_ns: int | None = None, quantum_ns: int | None = None,
                 sipi_64: bool | None = None,
                 event: UcEventFn | None = None,
                 console: ConsoleFn | None = None,
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
                 iommu: IommuConfig | None = None):
        uc, lib = _uc(), _ffi.library()
        kw = dict(locals())
        self._ptr: Any = None
        self._host = _Host({})
        # libintc's host ops are libintc-uc's: no apic_base_changed here,
        # register accessors read IA32_APIC_BASE for the mode.
        self._host.tracks_mode = False
        self._event_fn = event
        self._console_fn = console
        self._handle = ffi.new_handle(self)
        self._windows: list[_Window] = []
        self._mapped: list[Any] = []
        self.last_stop: StopInfo | None = None

        cfg = ffi.new("intc_uc_config *")
        uc.intc_uc_config_init(cfg)
        for key in ("ram_size", "entry", "insn_ns", "quantum_ns",
                    "sipi_64"):
            if kw[key] is not None:
                setattr(cfg, key, kw[key])
        if cpus is not None:
            cfg.n_cpus = cpus
        keep: list[Any] = []
        if any(kw[key] is not None for key in _INTC_KEYS):
            mc = ffi.new("intc_machine_config *")
            lib.intc_machine_config_init(mc)
            if ioapics is None:
                kw["ioapics"] = [default_ioapic(cfg.n_cpus)]
            _config(mc, kw, keep)
            keep.append(mc)
            cfg.intc = mc
        if event is not None:
            cfg.event = _event_cb
        if console is not None:
            cfg.console = _console_cb
        cfg.user = self._handle
        err = ffi.new("intc_err *")
        ptr = self._host.call(uc.intc_uc_new, cfg, err)
        if ptr == ffi.NULL:
            raise _error(err[0], "intc_uc_new")
        self._ptr = ptr
        kind = iommu.kind if iommu is not None else IommuKind.NONE
        self._intc = Machine._view(uc.intc_uc_intc(ptr), self._host, self,
                                   kind)

    # --- plumbing ---

    def _p(self) -> Any:
        if self._ptr is None:
            raise ValueError("UcMachine is closed")
        return self._ptr

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> int:
        rc = self._host.call(fn, self._p(), *args)
        if rc < 0:
            raise _error(rc, what)
        return rc

    def _failed(self, exc: BaseException, where: str) -> None:
        """A callback raised: keep the exception, stop the run."""
        self._host.fail(exc, where)
        if self._ptr is not None:
            _uc().intc_uc_request_stop(self._ptr)

    def close(self) -> None:
        """Free the machine, its engines and RAM.  Objects taken from
        ``intc`` raise ValueError from then on."""
        if self._ptr is None:
            return
        if self._host.depth:
            raise Busy("UcMachine.close from inside a callback")
        _uc().intc_uc_free(self._ptr)
        self._ptr = None
        self._intc._ptr = None


    def __repr__(self) -> str:
        if self._ptr is None:
            return "<intc.uc.UcMachine closed>"
        return "<intc.uc.UcMachine cpus=%d>" % self.cpu_count

    # --- the machine ---

    @property
    def intc(self) -> Machine:
        """The libintc machine inside (its host callbacks are the
        library's; its events come to ``event`` as "intc" UcEvents)."""
        self._p()
        return self._intc

    @property
    def lapics(self) -> _Lapics:
        """The Local APICs by CPU index (``intc.lapics``)."""
        return self.intc.lapics

    @property
    def ioapics(self) -> tuple[Ioapic, ...]:
        """The IOAPICs (``intc.ioapics``); IOAPIC i is at IOAPIC_BASE +
        IOAPIC_STRIDE * i."""
        return self.intc.ioapics

    @property
    def cpu_count(self) -> int:
        """Number of CPUs."""
        return int(_uc().intc_uc_cpu_count(self._p()))

    def load(self, gpa: int, data: bytes) -> None:
        """Copy ``data`` into guest RAM at ``gpa`` (OutOfRange unless the
        whole range is RAM) and forget every CPU's translated code.
        Between runs only (Busy from a callback)."""
        self._call("load at %#x" % gpa, _uc().intc_uc_load, gpa,
                   ffi.from_buffer(data), len(data))

    def read(self, gpa: int, n: int) -> bytes:
        """``n`` bytes of guest RAM at ``gpa`` (OutOfRange outside RAM)."""
        buf = ffi.new("uint8_t[]", n)
        self._call("read at %#x" % gpa, _uc().intc_uc_read, gpa, buf, n)
        return ffi.buffer(buf, n)[:]

    def run(self, max_insns: int | None = None,
            max_ns: int | None = None) -> StopInfo:
        """Run until a stop; why it stopped.

        ``max_insns`` bounds the instructions all CPUs retire in this
        call (checked at block boundaries); ``max_ns`` is a virtual-time
        horizon, an absolute clock value.  After a stop that is not
        resumable (StopInfo.resumable: "exit", a fault...) the machine
        cannot run again: InvalidArgument.  ``last_stop`` keeps the
        result, also when a callback's exception is re-raised from
        here."""
        ptr = self._p()
        info = ffi.new("intc_uc_stop_info *")
        rc = 0
        try:
            rc = self._host.call(_uc().intc_uc_run, ptr, max_insns or 0,
                                 max_ns or 0, info)
        finally:
            if rc != -6:  # INTC_ERR_BUSY: nothing ran, info untouched
                self.last_stop = _stop(info)
        if rc == -1 and self.last_stop is not None:
            raise InvalidArgument(
                "run: the machine stopped (%s, code %#x) and cannot resume"
                % (self.last_stop.reason, self.last_stop.code))
        if rc < 0:
            raise _error(rc, "run")
        assert self.last_stop is not None
        return self.last_stop

    def request_stop(self) -> None:
        """From a callback inside ``run()``: stop at the next block
        boundary (a "requested" stop).  Outside a run: nothing."""
        _uc().intc_uc_request_stop(self._p())

    def cpu_info(self, cpu: int) -> CpuInfo:
        """CPU ``cpu``'s state, clock and counters."""
        out = ffi.new("intc_uc_cpu_info *")
        self._call("cpu_info %d" % cpu, _uc().intc_uc_cpu_info_get, cpu,
                   out)
        return CpuInfo(state=CpuState(out.state), rip=int(out.rip),
                       time_ns=int(out.time_ns), insns=int(out.insns),
                       delivered=int(out.delivered),
                       deadline_ns=None if out.deadline_ns == UINT64_MAX
                       else int(out.deadline_ns))

    def trap_info(self, cpu: int) -> TrapInfo:
        """CPU ``cpu``'s trap module counters (uc.h, "Instructions
        Unicorn 2.0.1 cannot hook")."""
        out = ffi.new("intc_uc_trap_info *")
        self._call("trap_info %d" % cpu, _uc().intc_uc_trap_info_get, cpu,
                   out)
        return TrapInfo(**{name: getattr(out, name)
                           for name in TrapInfo.__dataclass_fields__})

    # --- devices ---

    def map_mmio(self, gpa: int, size: int,
                 device: MmioDevice | None = None, *,
                 read: MmioReadFn | None = None,
                 write: MmioWriteFn | None = None) -> None:
        """Map a device window of ``size`` bytes at ``gpa`` (4 KiB
        aligned, a multiple of 4 KiB, outside RAM, the IOAPICs and the
        APIC page; at most 16 windows: NoSpace).  Accesses call
        ``device.read(cpu, offset, size) -> int`` and ``device.write(cpu,
        offset, size, value)`` (or the ``read`` / ``write`` callables;
        without a read, loads read 0; without a write, stores are
        dropped).  Between runs only."""
        if device is not None:
            if read is not None or write is not None:
                raise TypeError("map_mmio: a device or read/write, not both")
            read = getattr(device, "read", None)
            write = getattr(device, "write", None)
        if read is None and write is None:
            raise TypeError("map_mmio: no device, read or write given")
        w = _Window(self, gpa, size, read, write)
        self._call("map_mmio at %#x" % gpa, _uc().intc_uc_map_mmio, gpa,
                   size, w.ops, w.handle)
        self._windows.append(w)

    def map_msix(self, gpa: int, size: int, msix: Msix,
                 pba_off: int) -> None:
        """Map an MSI-X table (``intc.msix(nvec, source_id)``) at ``gpa``
        with its PBA at ``pba_off`` in the same window (map_mmio's rules).
        The table must stay open while the machine lives."""
        if msix._machine is not self._intc:
            raise ValueError("map_msix: the table is not this machine's")
        self._call("map_msix at %#x" % gpa, _uc().intc_uc_map_msix, gpa,
                   size, msix._p(), pba_off)
        self._mapped.append(msix)

    def map_iommu(self, gpa: int = IOMMU_BASE) -> None:
        """Map the IOMMU's registers at ``gpa`` (Unsupported without an
        ``iommu`` in the configuration)."""
        self._call("map_iommu at %#x" % gpa, _uc().intc_uc_map_iommu, gpa)

    def set_gsi(self, gsi: int, asserted: bool = True) -> None:
        """Drive GSI ``gsi`` (an IOAPIC input, logically: True = the
        device requests service)."""
        self._call("set_gsi %d" % gsi, _uc().intc_uc_set_gsi, gsi, asserted)

    def msi_send(self, address: int, data: int, source_id: int = 0) -> None:
        """Send an interrupt message from requester ``source_id``
        (through the IOMMU when remapping is on)."""
        self._call("msi_send", _uc().intc_uc_msi_send, address, data,
                   source_id)

    def dma_write(self, gpa: int, data: bytes, source_id: int = 0) -> None:
        """A device's memory write: guest RAM, or in 0xFEExxxxx an MSI
        (exactly one aligned dword)."""
        self._call("dma_write at %#x" % gpa, _uc().intc_uc_dma_write,
                   source_id, gpa, ffi.from_buffer(data), len(data))


__all__ = [
    "MAX_CPUS", "IOAPIC_BASE", "IOAPIC_STRIDE", "IOMMU_BASE",
    "PORT_CONSOLE", "PORT_EXIT", "EXIT_PASS", "DEFAULT_ENTRY", "RESUMABLE",
    "available", "stop_name", "event_name", "default_ioapic",
    "CpuState", "DeliveryKind", "UnsupportedReason", "UcEvent", "StopInfo",
    "CpuInfo", "TrapInfo", "MmioDevice", "UcMachine",
]
