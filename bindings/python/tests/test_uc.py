"""intc.uc: libintc-uc's Unicorn CPUs from Python, device models written in
Python, exceptions raised in callbacks, and firmware (tests/fw/*.s, built
by CMake) booting two CPUs.  Skipped when libintc-uc is not built."""

from __future__ import annotations

from typing import Callable

import pytest

import intc
from intc.uc import (DEFAULT_ENTRY, EXIT_PASS, CpuState, DeliveryKind,
                     StopInfo, UcEvent, UcMachine)

pytestmark = pytest.mark.usefixtures("uc")

Firmware = Callable[[str], bytes]


class Boom(Exception):
    """Raised by the tests' callbacks."""


def exit_with(code: int) -> bytes:
    """Code that exits with ``code`` (mov eax, code; out 0xF4, eax; then
    hlt forever)."""
    return (b"\xB8" + code.to_bytes(4, "little") + b"\xE7\xF4"
            + b"\xF4\xEB\xFD")


def puts(text: bytes) -> bytes:
    """Code that writes ``text`` to the console port (mov al, c; out
    0xE9, al per byte)."""
    return b"".join(b"\xB0" + bytes([c]) + b"\xE6\xE9" for c in text)


SPIN = b"\xEB\xFE"                       # 1: jmp 1b


def deliveries(events: list[UcEvent], vector: int,
               cpu: int | None = None) -> list[UcEvent]:
    """The "deliver" events of ``vector`` (on ``cpu``, if given)."""
    return [e for e in events if e.type == "deliver" and e.vector == vector
            and (cpu is None or e.cpu == cpu)]


# --- the object API ---

def test_machine_objects() -> None:
    with UcMachine(cpus=2) as m:
        assert repr(m) == "<intc.uc.UcMachine cpus=2>"
        assert m.cpu_count == 2 and len(m.lapics) == 2
        # The library's default IOAPIC: ID n_cpus, 24 pins.
        assert len(m.ioapics) == 1 and m.ioapics[0].pin_count == 24
        assert m.ioapics[0].id >> 24 == 2
        assert isinstance(m.intc, intc.Machine)
        bsp, ap = m.cpu_info(0), m.cpu_info(1)
        assert bsp.state == CpuState.RUNNING and bsp.rip == DEFAULT_ENTRY
        assert ap.state == CpuState.WAIT_SIPI and ap.deadline_ns is None
        assert m.trap_info(0).blocks_scanned == 0
        with pytest.raises(intc.OutOfRange):
            m.cpu_info(2)
        m.load(0x2000, b"hello")
        assert m.read(0x2000, 5) == b"hello" and m.read(0x2005, 0) == b""
        with pytest.raises(intc.OutOfRange):
            m.read(16 << 20, 1)                  # past the default 16 MiB
        with pytest.raises(intc.OutOfRange):
            m.load((16 << 20) - 2, b"abc")
        lapic = m.lapics[1]
    # Closed: everything taken from it refuses.
    assert repr(m) == "<intc.uc.UcMachine closed>"
    with pytest.raises(ValueError):
        m.read(0, 1)
    with pytest.raises(ValueError):
        _ = lapic.svr
    m.close()                                    # twice: fine


def test_config_errors() -> None:
    with pytest.raises(intc.InvalidArgument):
        UcMachine(cpus=0)
    with pytest.raises(intc.InvalidArgument):
        UcMachine(ram_size=0x12345)              # not a multiple of 4 KiB
    with pytest.raises(intc.InvalidArgument):
        UcMachine(insn_ns=0)


def test_libintc_config() -> None:
    wiring = [0] * 16 + [intc.PIN_LEVEL | intc.PIN_ACTIVE_LOW] * 8
    with UcMachine(cpus=2, apic_ids=[0, 4], storm_threshold=50,
                   ram_size=1 << 20, insn_ns=2, quantum_ns=500,
                   ioapics=[intc.IoapicConfig(id=9, wiring=wiring)]) as m:
        assert m.lapics[1].initial_id == 4
        assert m.ioapics[0].id >> 24 == 9
        with pytest.raises(intc.OutOfRange):
            m.load(1 << 20, b"x")
    with UcMachine(cpus=3, x2apic=True) as m:   # ioapics None: the default
        assert m.ioapics[0].id >> 24 == 3


def test_run_exit_and_limits() -> None:
    events: list[UcEvent] = []
    with UcMachine(event=events.append) as m:
        m.load(DEFAULT_ENTRY, SPIN)
        stop = m.run(max_insns=1000)
        assert stop.reason == "insn_limit" and stop.resumable
        assert 1000 <= stop.insns < 1100 and stop.cpu in (0, None)
        stop = m.run(max_ns=stop.time_ns + 5000)
        assert stop.reason == "time_limit" and m.last_stop == stop
        assert m.cpu_info(0).time_ns <= stop.time_ns + 5000
        # New code; the CPU is still spinning at the entry.
        m.load(DEFAULT_ENTRY, exit_with(0x1234))
        stop = m.run()
        assert stop == StopInfo(reason="exit", cpu=0, code=0x1234,
                                rip=stop.rip, time_ns=stop.time_ns,
                                insns=stop.insns)
        assert not stop.passed and not stop.resumable
        assert events[-1].type == "stop" and events[-1].data2 == 0x1234
        with pytest.raises(intc.InvalidArgument, match="cannot resume"):
            m.run()


def test_console_and_halt() -> None:
    out = bytearray()
    cpus: set[int] = set()

    def console(cpu: int, byte: int) -> None:
        cpus.add(cpu)
        out.append(byte)

    with UcMachine(console=console) as m:
        m.load(DEFAULT_ENTRY, puts(b"hi\n") + b"\xF4\xEB\xFD")
        stop = m.run()
        assert stop.reason == "all_halted" and stop.resumable
        assert out == b"hi\n" and cpus == {0}
        assert m.cpu_info(0).state == CpuState.HALTED


def gate64(handler: int) -> bytes:
    """A 64-bit interrupt gate to ``handler`` through selector 0x08 (SDM
    6.14.1, figure 6-8)."""
    low = (handler & 0xFFFF | 0x08 << 16 | 0x8E << 40
           | (handler >> 16 & 0xFFFF) << 48)
    return low.to_bytes(8, "little") + (handler >> 32).to_bytes(8, "little")


def idle_firmware(m: UcMachine, vectors: list[int], handler: bytes) -> None:
    """Load code that sets up a GDT, an IDT whose ``vectors`` go to
    ``handler`` (at 0x11000) and a stack, then waits in sti; hlt."""
    m.load(0x3000, bytes(8) + (0x00AF9A000000FFFF).to_bytes(8, "little"))
    for v in vectors:
        m.load(0x1000 + 16 * v, gate64(0x11000))
    m.load(0x4000, (15).to_bytes(2, "little") + (0x3000).to_bytes(8, "little")
           + (0xFFF).to_bytes(2, "little") + (0x1000).to_bytes(8, "little"))
    m.load(DEFAULT_ENTRY,
           b"\xBC\x00\x80\x00\x00"              # mov esp, 0x8000
           b"\x0F\x01\x14\x25\x00\x40\x00\x00"  # lgdt [0x4000]
           b"\x0F\x01\x1C\x25\x0A\x40\x00\x00"  # lidt [0x400a]
           b"\x48\x8D\x05\x05\x00\x00\x00"      # lea rax, [rip + 5]
           b"\x6A\x08\x50\x48\xCB"              # push 8; push rax; retfq
           b"\xFB\xF4\xEB\xFC")                  # 1: sti; hlt; jmp 1b
    m.load(0x11000, handler)


def test_interrupts_from_python_between_runs() -> None:
    """The libintc machine inside (m.intc) and the device calls, used from
    Python between runs: an MSI and an IOAPIC line wake the halted CPU,
    which takes them through its IDT."""
    events: list[UcEvent] = []
    with UcMachine(event=events.append) as m:
        idle_firmware(m, [0x41, 0x62],
                      b"\xB8\xB0\x00\xE0\xFE"              # mov eax, EOI reg
                      b"\xC7\x00\x00\x00\x00\x00"          # mov [rax], 0
                      b"\x48\xCF")                          # iretq
        assert m.run().reason == "all_halted"
        assert m.cpu_info(0).state == CpuState.HALTED
        bsp = m.lapics[0]
        bsp.svr = 0x1FF
        events.clear()
        m.msi_send(0xFEE00000, 0x41)                   # to APIC ID 0
        assert bsp.irr == {0x41}
        assert {e.intc.type for e in events if e.intc} == {"msi", "irr_set"}
        m.ioapics[0].set_rte(2, 0x62)                  # edge, APIC ID 0
        m.set_gsi(2, True)
        m.set_gsi(2, False)
        assert bsp.irr == {0x41, 0x62}
        assert m.run().reason == "all_halted"
        # Both delivered, the higher priority class first (SDM 11.8.3),
        # the second after the first one's EOI.
        got = [e.vector for e in events if e.type == "deliver"]
        assert got == [0x62, 0x41]
        assert all(e.kind == DeliveryKind.EXTERNAL
                   for e in events if e.type == "deliver")
        assert bsp.isr == frozenset() and bsp.irr == frozenset()
        m.intc.check()


# --- device models written in Python ---

class PyDev:
    """tests/fw/pydev.s's device: ID, a scratch register, an INTx line
    raised on request (level, until STATUS is cleared), an MSI and a DMA
    doorbell."""

    ID = 0x50594445
    GSI = 16
    SID = 0x0100                                   # 01:00.0

    def __init__(self, machine: UcMachine):
        self.machine = machine
        self.scratch = 0
        self.status = 0
        self.log: list[tuple[str, int, int, int]] = []

    def read(self, cpu: int, offset: int, size: int) -> int:
        self.log.append(("r", cpu, offset, size))
        return {0x00: self.ID, 0x04: self.scratch,
                0x0C: self.status}.get(offset, 0)

    def write(self, cpu: int, offset: int, size: int, value: int) -> None:
        self.log.append(("w", cpu, offset, value))
        m = self.machine
        if offset == 0x04:
            self.scratch = value
        elif offset == 0x08:                       # RAISE
            self.status = 1
            m.set_gsi(self.GSI, True)
        elif offset == 0x10:                       # CLEAR
            self.status = 0
            m.set_gsi(self.GSI, False)
        elif offset == 0x14:                       # MSI to APIC ID 0
            m.dma_write(0xFEE00000, value.to_bytes(4, "little"), self.SID)
        elif offset == 0x18:                       # DMA
            m.dma_write(value, b"pydevdma", self.SID)


def pydev_machine(events: list[UcEvent],
                  console: bytearray) -> tuple[UcMachine, PyDev]:
    wiring = [0] * 16 + [intc.PIN_LEVEL | intc.PIN_ACTIVE_LOW] * 8
    m = UcMachine(cpus=1, event=events.append,
                  console=lambda cpu, b: console.append(b),
                  ioapics=[intc.IoapicConfig(id=1, wiring=wiring)])
    dev = PyDev(m)
    m.map_mmio(0xFEB00000, 0x1000, dev)
    return m, dev


def test_python_device(uc_firmware: Firmware) -> None:
    events: list[UcEvent] = []
    console = bytearray()
    m, dev = pydev_machine(events, console)
    with m:
        m.load(DEFAULT_ENTRY, uc_firmware("pydev"))
        stop = m.run(max_insns=1_000_000)
        assert stop.passed, stop
        assert console.decode().endswith("pydev: pass\n")
        assert dev.log[:3] == [("r", 0, 0x00, 4), ("w", 0, 0x04, 0x12345678),
                               ("r", 0, 0x04, 4)]
        # The INTx line: delivered once through the IDT, the handler read
        # STATUS and cleared it before its EOI (no second delivery, no
        # storm); Remote IRR set and cleared by the EOI.
        [intx] = deliveries(events, 0x60, cpu=0)
        assert intx.kind == DeliveryKind.EXTERNAL
        assert ("r", 0, 0x0C, 4) in dev.log and dev.status == 0
        types = [e.intc.type for e in events if e.intc is not None]
        assert "ioapic_send" in types and "remote_irr" in types
        assert "storm" not in types
        assert not m.ioapics[0].rte(16) & 1 << 14  # Remote IRR clear
        # The MSI (a DMA write into the interrupt range, requester 01:00.0).
        [msi] = deliveries(events, 0x61, cpu=0)
        assert msi.time_ns > intx.time_ns
        # The DMA: the firmware checked it; the bytes are in RAM.
        dma = [v for op, _, off, v in dev.log if op == "w" and off == 0x18]
        assert m.read(dma[0], 8) == b"pydevdma"
        m.intc.check()


def test_device_read_callables() -> None:
    seen: list[tuple[int, int, int]] = []
    with UcMachine() as m:
        m.map_mmio(0x10000000, 0x1000,
                   read=lambda cpu, off, size: (seen.append(
                       (cpu, off, size)), EXIT_PASS)[1])
        # mov ebx, 0x10000000; mov eax, [rbx + 8]; out 0xF4, eax
        m.load(DEFAULT_ENTRY, b"\xBB\x00\x00\x00\x10\x8B\x43\x08\xE7\xF4"
               b"\xF4\xEB\xFD")
        assert m.run().passed
        assert seen == [(0, 8, 4)]


def test_map_mmio_errors() -> None:
    with UcMachine() as m:
        dev = PyDev(m)
        with pytest.raises(intc.InvalidArgument):
            m.map_mmio(0x1000, 0x1000, dev)       # RAM
        with pytest.raises(intc.InvalidArgument):
            m.map_mmio(0xFEB00800, 0x1000, dev)   # not 4 KiB aligned
        with pytest.raises(intc.InvalidArgument):
            m.map_mmio(0xFEC00000, 0x1000, dev)   # the IOAPIC
        with pytest.raises(TypeError):
            m.map_mmio(0xFEB00000, 0x1000)
        with pytest.raises(TypeError):
            m.map_mmio(0xFEB00000, 0x1000, dev, read=dev.read)
        for i in range(16):
            m.map_mmio(0x20000000 + 0x1000 * i, 0x1000, dev)
        with pytest.raises(intc.NoSpace):
            m.map_mmio(0x30000000, 0x1000, dev)
    with UcMachine() as m, pytest.raises(intc.Unsupported):
        m.map_iommu()                             # no IOMMU configured


def test_msix_table_mapped() -> None:
    """An MSI-X table of the libintc machine mapped into guest MMIO: the
    guest programs entry 1 and unmasks it; the device model (Python)
    raises it with Msix.notify, the CPU takes it through its IDT and reads
    the entry back through the window."""
    events: list[UcEvent] = []
    with UcMachine(event=events.append) as m:
        msix = m.intc.msix(4, source_id=0x0100)
        m.map_msix(0xFEB00000, 0x1000, msix, pba_off=0x800)
        with pytest.raises(ValueError):
            with intc.Machine() as other:
                m.map_msix(0xFEB01000, 0x1000, other.msix(1), 0x800)
        # The handler reads entry 1's data through the window and exits
        # with it: mov eax, [0xFEB00018]; out 0xF4, eax.
        handler = (b"\xA1\x18\x00\xB0\xFE\x00\x00\x00\x00\xE7\xF4"
                   b"\xF4\xEB\xFD")
        idle_firmware(m, [0x45], handler)
        assert m.run().reason == "all_halted"
        m.lapics[0].svr = 0x1FF
        # Program entry 1 (address, data, vector control: unmasked) as a
        # driver would; the guest sees the same table.
        msix.table_write(0x10, 0xFEE00000)
        msix.table_write(0x18, 0x45)
        msix.table_write(0x1C, 0)
        msix.set_control(enable=True)
        msix.notify(1)
        stop = m.run()
        assert stop.reason == "exit" and stop.code == 0x45
        [d] = deliveries(events, 0x45, cpu=0)
        assert d.kind == DeliveryKind.EXTERNAL


# --- exceptions raised inside callbacks ---

class FailingDev(PyDev):
    """PyDev whose first read of ``fail_at`` raises."""

    def __init__(self, machine: UcMachine, fail_at: int):
        super().__init__(machine)
        self.fail_at = fail_at
        self.failed = False

    def read(self, cpu: int, offset: int, size: int) -> int:
        if offset == self.fail_at and not self.failed:
            self.failed = True
            raise Boom("device read %#x" % offset)
        return super().read(cpu, offset, size)


def test_exception_in_device_read(uc_firmware: Firmware) -> None:
    with UcMachine(cpus=1) as m:
        dev = FailingDev(m, fail_at=0x00)
        m.map_mmio(0xFEB00000, 0x1000, dev)
        m.load(DEFAULT_ENTRY, uc_firmware("pydev"))
        with pytest.raises(Boom) as exc:
            m.run(max_insns=1_000_000)
        assert "raised in the MMIO read at 0xfeb00000 callback" in \
            exc.value.__notes__
        # The run stopped there, resumably; the guest read all ones (an
        # idle bus) and its own check fails: exit 0xbad1.
        assert m.last_stop is not None
        assert m.last_stop.reason == "requested"
        stop = m.run(max_insns=1_000_000)
        assert stop.reason == "exit" and stop.code == 0xBAD1
        m.intc.check()


def test_exception_in_device_write_then_resume(
        uc_firmware: Firmware) -> None:
    # The scratch write raises: the store is dropped, so the read-back
    # check fails (0xbad2), exactly as a device that ignored it.
    with UcMachine(cpus=1) as m:
        dev = PyDev(m)

        def write(cpu: int, offset: int, size: int, value: int) -> None:
            if offset == 0x04:
                raise Boom("scratch")
            dev.write(cpu, offset, size, value)

        m.map_mmio(0xFEB00000, 0x1000, read=dev.read, write=write)
        m.load(DEFAULT_ENTRY, uc_firmware("pydev"))
        with pytest.raises(Boom, match="scratch"):
            m.run()
        assert m.run().code == 0xBAD2


def test_exception_in_event_callback(uc_firmware: Firmware) -> None:
    events: list[UcEvent] = []
    fail = [True]

    def event(ev: UcEvent) -> None:
        if ev.type == "deliver" and fail[0]:
            fail[0] = False
            raise Boom("event %s %#x" % (ev.type, ev.vector or 0))
        events.append(ev)

    console = bytearray()
    wiring = [0] * 16 + [intc.PIN_LEVEL | intc.PIN_ACTIVE_LOW] * 8
    with UcMachine(event=event, console=lambda c, b: console.append(b),
                   ioapics=[intc.IoapicConfig(id=1, wiring=wiring)]) as m:
        m.map_mmio(0xFEB00000, 0x1000, PyDev(m))
        m.load(DEFAULT_ENTRY, uc_firmware("pydev"))
        with pytest.raises(Boom, match="event deliver 0x60") as exc:
            m.run()
        assert "raised in the event callback" in exc.value.__notes__
        # The delivery happened all the same (the event is a trace); the
        # run resumes and passes.
        assert m.last_stop is not None and m.last_stop.resumable
        assert m.run().passed
        assert console.decode().endswith("pydev: pass\n")
        assert len(deliveries(events, 0x61)) == 1
        m.intc.check()


def test_exception_in_event_between_runs() -> None:
    # A libintc call from Python between runs makes an event whose
    # callback raises: re-raised from that call, the IPI delivered all
    # the same, and the next run is not stopped by it.
    def event(ev: UcEvent) -> None:
        if ev.intc is not None and ev.intc.type == "irr_set":
            raise Boom("irr_set")

    with UcMachine(event=event) as m:
        m.load(DEFAULT_ENTRY, SPIN)
        bsp = m.lapics[0]
        bsp.svr = 0x1FF
        with pytest.raises(Boom) as exc:
            bsp.self_ipi(0x40)
        assert "raised in the event callback" in exc.value.__notes__
        assert bsp.irr == {0x40}
        assert m.run(max_insns=1000).reason == "insn_limit"
        m.intc.check()


def test_busy_from_callback() -> None:
    # From a callback, load() (and run(), close()) are refused: Busy,
    # re-raised from the run; the machine carries on afterwards.
    with UcMachine() as m:
        def read(cpu: int, off: int, size: int) -> int:
            m.load(0x2000, b"no")
            return 0

        m.map_mmio(0x10000000, 0x1000, read=read)
        m.load(DEFAULT_ENTRY, b"\xBB\x00\x00\x00\x10\x8B\x03"
               + exit_with(EXIT_PASS))
        with pytest.raises(intc.Busy):
            m.run()
        assert m.read(0x2000, 2) == b"\0\0"
        # The stop was requested, but the exit in the same block came
        # first: the run ended as the guest meant.
        assert m.last_stop is not None and m.last_stop.passed


def test_device_read_out_of_range() -> None:
    with UcMachine() as m:
        m.map_mmio(0x10000000, 0x1000, read=lambda cpu, off, size: -1)
        m.load(DEFAULT_ENTRY, b"\xBB\x00\x00\x00\x10\x8B\x03\xE7\xF4"
               b"\xF4\xEB\xFD")
        with pytest.raises(ValueError, match="returned -0x1"):
            m.run()
        # The guest read all ones (and exited with it in the same block).
        stop = m.last_stop
        assert stop is not None and stop.reason == "exit"
        assert stop.code == 0xFFFFFFFF


# --- the example firmware: two CPUs, the timer and an IPI ---

def test_smp_timer_and_ipi(uc_firmware: Firmware) -> None:
    events: list[UcEvent] = []
    console = bytearray()
    with UcMachine(cpus=2, event=events.append,
                   console=lambda cpu, b: console.append(b)) as m:
        m.load(DEFAULT_ENTRY, uc_firmware("smp"))
        stop = m.run(max_insns=10_000_000)
        # The architectural end: the BSP wrote EXIT_PASS to port 0xF4.
        assert stop.reason == "exit" and stop.code == EXIT_PASS
        assert stop.cpu == 0 and stop.passed
        assert console.decode() == ("smp: timer on cpu 1, IPI to cpu 0\n"
                                    "smp: pass\n")
        # The AP was started by INIT-SIPI-SIPI.
        [start] = [e for e in events if e.type == "start"]
        assert start.cpu == 1 and start.rip == start.vector << 12
        # Its LAPIC timer fired 5 times, each delivered through its IDT
        # as an external interrupt, on CPU 1 only.
        ticks = deliveries(events, 0x40)
        assert len(ticks) == 5 and {e.cpu for e in ticks} == {1}
        assert all(e.kind == DeliveryKind.EXTERNAL for e in ticks)
        timers = [e.intc for e in events
                  if e.intc is not None and e.intc.type == "timer"]
        assert len(timers) == 5 and {t.cpu for t in timers} == {1}
        # Then the IPI from CPU 1: sent by its ICR write, delivered once,
        # on CPU 0, after the last tick.
        ipis = [e for e in events if e.intc is not None
                and e.intc.type == "ipi" and e.intc.vector == 0x50]
        assert len(ipis) == 1 and ipis[0].cpu == 1
        [ipi] = deliveries(events, 0x50)
        assert ipi.cpu == 0 and ipi.kind == DeliveryKind.EXTERNAL
        assert ipi.time_ns >= max(t.time_ns for t in ticks)
        assert m.cpu_info(0).delivered == 1
        assert m.cpu_info(1).delivered == 5
        m.intc.check()


def test_smp_deterministic(uc_firmware: Firmware) -> None:
    runs = []
    for _ in range(2):
        events: list[UcEvent] = []
        with UcMachine(cpus=2, event=events.append) as m:
            m.load(DEFAULT_ENTRY, uc_firmware("smp"))
            runs.append((m.run(), events))
    assert runs[0] == runs[1]
