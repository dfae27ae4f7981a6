"""Ioapic, MSI, Msix, Msi and Iommu objects."""

from __future__ import annotations

import pytest

import intc
from intc import DeliveryStatus, Pending

# Redirection entry of pin 16 in machine2: vector 0x50, fixed, physical,
# active low (bit 13), level (bit 15), destination APIC ID 1 (63:56).
RTE16 = 1 << 56 | 1 << 15 | 1 << 13 | 0x50


class Memory:
    """Guest-physical memory for the IOMMU's tables."""

    def __init__(self) -> None:
        self.bytes: dict[int, int] = {}
        self.fail = False

    def write(self, addr: int, data: bytes) -> bool:
        for i, b in enumerate(data):
            self.bytes[addr + i] = b
        return True

    def read(self, addr: int, n: int) -> bytes | None:
        if self.fail:
            return None
        return bytes(self.bytes.get(addr + i, 0) for i in range(n))

    def put64(self, addr: int, value: int) -> None:
        self.write(addr, value.to_bytes(8, "little"))


def test_ioapic_registers(machine2: intc.Machine) -> None:
    io = machine2.ioapic(0)
    assert machine2.ioapics == (io,) and io.index == 0
    assert io.pin_count == 24 and io.gsi_base == 0
    assert io.id == 8 << 24                        # ID in bits 27:24
    assert io.version == 23 << 16 | 0x20           # max entry 23, 0x20
    assert io.rte(16) == 1 << 16                   # masked after reset
    io.set_rte(16, RTE16)
    assert io.rte(16) == RTE16
    with pytest.raises(intc.OutOfRange):
        machine2.ioapic(1)
    with pytest.raises(intc.OutOfRange):
        machine2.set_gsi(99, True)


def test_level_interrupt_remote_irr_and_resample(
        machine2: intc.Machine, events: list[intc.Event]) -> None:
    # 82093AA 3.2.4 / SDM 11.8.5: a level entry sets Remote IRR when it
    # sends; the EOI broadcast clears it; a line still asserted is sent
    # again.
    io, l1 = machine2.ioapic(0), machine2.lapics[1]
    io.set_rte(16, RTE16)
    io.set_irq(16, True)
    assert io.line(16) and io.rte(16) & 1 << 14     # Remote IRR
    assert l1.irr == {0x50} and l1.tmr == {0x50}
    assert l1.ack() == 0x50
    io.set_irq(16, False)
    l1.eoi()
    assert not io.rte(16) & 1 << 14 and l1.irr == frozenset()
    io.set_irq(16, True)
    assert l1.ack() == 0x50
    l1.eoi()                                        # EOI before clearing
    assert l1.irr == {0x50}                         # sent again
    sends = [e for e in events if e.type == "ioapic_send"]
    assert [e.data2 for e in sends] == [0, 0, 1]    # the last: re-delivery


def test_edge_gsi_and_directed_eoi(machine2: intc.Machine) -> None:
    io, l0 = machine2.ioapic(0), machine2.lapics[0]
    io.set_rte(1, 0x31)                             # edge, to APIC ID 0
    machine2.set_gsi(1, True)
    assert l0.irr == {0x31} and not io.rte(1) & 1 << 14
    io.eoi(0x31)                                    # version 0x20 register


def test_msi_send(machine2: intc.Machine) -> None:
    d = machine2.msi_send(0xFEE01000, 0x41)          # to APIC ID 1
    assert d == intc.Delivery(DeliveryStatus.ACCEPTED, 0, 1, None)
    assert machine2.lapics[1].irr == {0x41}
    with pytest.raises(intc.NotDecoded):             # plain memory write
        machine2.msi_send(0x1000, 0x41)
    d = machine2.msi_send(0xFEE00000, 0x10041)       # data bits 31:16
    assert d.status == DeliveryStatus.DROPPED and d.reason == 2
    d = machine2.msi_send(0xFEE05000, 0x41)          # nobody has ID 5
    assert d.status == DeliveryStatus.NO_TARGET


def test_msix(machine2: intc.Machine, events: list[intc.Event]) -> None:
    x = machine2.msix(4, source_id=0x10)
    x.set_entry(0, 0xFEE00000, 0x42)
    x.set_entry(1, 0xFEE00000, 0x43, masked=True)
    assert x.entry(0) == (0xFEE00000, 0x42, 0)
    assert x.notify(0).status == DeliveryStatus.DISABLED
    x.set_control(enable=True)
    assert x.notify(0).status == DeliveryStatus.ACCEPTED
    assert x.notify(1).status == DeliveryStatus.PENDING
    assert x.pending(1) and x.pba_read() == 0b10
    x.table_write(16 + 12, 0)                        # unmask: sent now
    assert not x.pending(1)
    assert machine2.lapics[0].irr == {0x42, 0x43}
    with pytest.raises(intc.OutOfRange):
        x.notify(4)
    x.reset()
    assert x.entry(0) == (0, 0, 1)
    x.close()
    with pytest.raises(ValueError):
        x.notify(0)


def test_msi_capability(machine2: intc.Machine) -> None:
    c = machine2.msi(log2_vectors=0, addr64=True)
    assert c.size == 14 and c.config_read(0, 1) == 0x05
    c.config_write(4, 0xFEE01000)
    c.config_write(12, 0x46, 2)
    assert c.notify().status == DeliveryStatus.DISABLED
    c.config_write(2, 1, 2)                          # MSI Enable
    assert c.notify().status == DeliveryStatus.ACCEPTED
    assert machine2.lapics[1].irr == {0x46}
    c.close()


def _vtd_machine(mem: Memory, events: list[intc.Event]) -> intc.Machine:
    m = intc.Machine(cpus=2, iommu=intc.IommuConfig(intc.IommuKind.VTD),
                     dma_read=mem.read, dma_write=mem.write,
                     event=events.append)
    for lapic in m.lapics:
        lapic.svr = 0x1FF
    return m


def test_vtd_remapping(events: list[intc.Event]) -> None:
    mem = Memory()
    # IRTE 0 (VT-d 9.10): P, fixed, vector 0x44, xAPIC destination 1 in
    # bits 47:40 (EIME clear), no source-id verification.
    mem.put64(0x10000, 1 | 0x44 << 16 | 1 << 40)
    with _vtd_machine(mem, events) as m:
        u = m.iommu
        assert isinstance(u, intc.VtdIommu) and u.kind == intc.IommuKind.VTD
        assert u.ver == 0x10                         # VT-d 1.0
        u.set_table(0x10000, enabled=True)           # S=0: two entries
        # Remappable format: address bit 4, handle 0 (VT-d 5.1.2.2).
        irq = u.remap(0x10, 0xFEE00010, 0)
        assert irq.remapped and not irq.blocked
        assert (irq.vector, irq.dest, irq.index) == (0x44, 1, 0)
        assert m.deliver(irq).status == DeliveryStatus.ACCEPTED
        assert m.lapics[1].irr == {0x44}
        # Through the machine's one path: IRTE 0 again.
        d = m.msi_send(0xFEE00010, 0, source_id=0x10)
        assert d.status == DeliveryStatus.ACCEPTED and d.irte == 0
        assert any(e.type == "ir_remapped" for e in events)
        # Handle 5 is beyond IRTA.S: fault 0x21 (VT-d 7.1.3).
        d = m.msi_send(0xFEE00010 | 5 << 5, 0, source_id=0x10)
        assert d.status == DeliveryStatus.BLOCKED and d.reason == 0x21
        # Compatibility format while CFI is clear: blocked (0x25).
        d = m.msi_send(0xFEE01000, 0x45, source_id=0x10)
        assert d.status == DeliveryStatus.BLOCKED and d.reason == 0x25
        # The table read fails: fault 0x23.
        mem.fail = True
        u.invalidate()
        d = m.msi_send(0xFEE00010, 0, source_id=0x10)
        assert d.status == DeliveryStatus.BLOCKED and d.reason == 0x23
        assert u.fsts != 0                           # faults recorded
        m.check()


def test_amdvi_registers() -> None:
    try:
        m = intc.Machine(iommu=intc.IommuConfig(intc.IommuKind.AMDVI))
    except intc.Unsupported:
        pytest.skip("AMD-Vi not in this library")
    with m:
        u = m.iommu
        assert isinstance(u, intc.AmdViIommu)
        assert u.control == 0 and u.efr != 0
        u.devtab = 0x20000
        assert u.devtab == 0x20000
