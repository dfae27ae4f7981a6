"""Lapic: registers through the library's accessors, IPIs, INTA/EOI,
x2APIC, timer, INIT/SIPI, local interrupts (SDM vol. 3A ch. 11)."""

from __future__ import annotations

import pytest

import intc
from intc import Pending, Reg

from conftest import Clock


def test_reset_state() -> None:
    with intc.Machine(cpus=2) as m:
        assert len(m.lapics) == m.cpu_count == 2
        l0, l1 = m.lapics
        # 11.4.7.1: SVR 0xFF, LVTs masked, xAPIC mode, EN set, BSP on CPU 0.
        assert l0.svr == 0xFF
        assert l0.lvt_timer == l0.lvt_lint0 == l0.lvt_error == 0x10000
        assert l0.apic_base == 0xFEE00000 | intc.types.APIC_BASE_EN \
            | intc.types.APIC_BASE_BSP
        assert not l1.apic_base & intc.types.APIC_BASE_BSP
        # 11.4.8: version 0x14, max LVT entry 6 (CMCI present).
        assert l0.version == 0x00060014
        assert l1.id == 1 << 24                       # xAPIC ID in 31:24
        assert l1.cpu == 1 and l1.initial_id == 1
        assert l0.irr == l0.isr == l0.tmr == frozenset()
        assert l0.pending == Pending.NONE
        assert l0.timer_deadline is None


def test_config_keywords_reach_the_library() -> None:
    with intc.Machine(cpus=3, apic_ids=[4, 8, 12], bsp=1, lvt_cmci=False,
                      lapic_version=0x15, directed_eoi=True,
                      ioapics=[intc.IoapicConfig(id=2)]) as m:
        assert [l.initial_id for l in m.lapics] == [4, 8, 12]
        assert m.lapics[1].apic_base & intc.types.APIC_BASE_BSP
        # LVR: bit 24 directed EOI, max LVT 5 without CMCI.
        assert m.lapics[0].version == 1 << 24 | 5 << 16 | 0x15
    with pytest.raises(intc.InvalidArgument):
        intc.Machine(cpus=0)
    with pytest.raises(intc.InvalidArgument):
        intc.Machine(cpus=2, bsp=2)


def test_tpr_ppr_and_cr8(machine2: intc.Machine) -> None:
    l0 = machine2.lapics[0]
    l0.tpr = 0x35
    assert l0.tpr == 0x35 and l0.ppr == 0x35     # 11.8.3.1, ISR empty
    l0.cr8 = 2                                   # CR8 = TPR[7:4]
    assert l0.tpr == 0x20 and l0.cr8 == 2


def test_ipi_ack_eoi(machine2: intc.Machine,
                     events: list[intc.Event]) -> None:
    l0, l1 = machine2.lapics
    l0.icr = 1 << 56 | 0x40                      # fixed, physical, ID 1
    assert l1.irr == {0x40} and l1.pending == Pending.INTR
    assert l0.icr & 1 << 12 == 0                 # delivery status idle
    assert l1.ack_peek() == 0x40
    assert l1.ack() == 0x40
    assert l1.irr == frozenset() and l1.isr == {0x40}
    assert l1.ppr == 0x40                        # PPR = ISRV class
    l1.eoi()
    assert l1.isr == frozenset() and l1.ack() is None
    kinds = [e.type for e in events]
    assert kinds == ["irr_set", "ipi", "ack", "eoi"]
    ipi = events[1]
    assert ipi.cpu == 0 and ipi.vector == 0x40 and ipi.data2 == 1


def test_spurious_acknowledge(machine2: intc.Machine) -> None:
    # 11.9: TPR raised to the vector's class after INTR was signalled;
    # INTA then gets the spurious vector and nothing goes in service.
    l0, l1 = machine2.lapics
    l0.self_ipi(0x40)
    l0.tpr = 0x40
    assert l0.pending == Pending.NONE
    result = l0.ack()
    assert result == intc.ack_spurious(0xFF) and intc.is_spurious(result)
    assert l0.isr == frozenset() and l0.irr == {0x40}


def test_x2apic_mode(events: list[intc.Event]) -> None:
    changed: list[tuple[int, int]] = []
    with intc.Machine(cpus=2, apic_ids=[0, 0x123], event=events.append,
                      apic_base_changed=lambda c, b: changed.append((c, b))
                      ) as m:
        l1 = m.lapics[1]
        base = 0xFEE00000 | intc.types.APIC_BASE_EN
        # 11.12.1.2: the x2APIC MSRs #GP in xAPIC mode.
        with pytest.raises(intc.GeneralProtection) as exc:
            l1.msr_write(0x808, 0)
        assert exc.value.code == -3 and exc.value.name == "GP"
        l1.apic_base = base | intc.types.APIC_BASE_EXTD
        assert changed == [(1, base | intc.types.APIC_BASE_EXTD)]
        assert l1.x2apic_mode
        # 11.12.5.1: the x2APIC ID is the 32-bit initial ID; 11.12.10.2:
        # LDR = cluster (ID[19:4]) << 16 | 1 << ID[3:0].
        assert l1.id == 0x123
        assert l1.ldr == 0x12 << 16 | 1 << 3
        with pytest.raises(intc.NotDecoded):          # no MMIO page
            l1.mmio_read(Reg.TPR)
        with pytest.raises(intc.GeneralProtection):   # no DFR in x2APIC
            _ = l1.dfr
        # 11.12.5: x2APIC -> xAPIC directly is an illegal transition.
        with pytest.raises(intc.GeneralProtection):
            l1.apic_base = base
        l1.svr = 0x1FF
        l1.self_ipi(0x55)                             # SELF IPI MSR
        assert l1.irr == {0x55}


def test_one_shot_timer(clock: Clock) -> None:
    with intc.Machine(now_ns=clock.now_ns, timer_arm=clock.timer_arm) as m:
        l0 = m.lapics[0]
        l0.svr = 0x1FF
        l0.timer_dcr = 0xB                            # divide by 1
        l0.lvt_timer = 0x30                           # one-shot, vector 0x30
        clock.now = 500
        l0.timer_icr = 1000                           # 1000 ticks at 1 GHz
        assert clock.armed[0] == 1500 == l0.timer_deadline
        clock.now = 1000
        assert l0.timer_ccr == 500
        l0.timer_expired(1500)
        assert l0.irr == {0x30} and l0.timer_ccr == 0
        assert l0.timer_deadline is None and clock.armed[0] is None


def test_init_sipi(machine2: intc.Machine) -> None:
    l0, l1 = machine2.lapics
    l0.icr = 1 << 56 | 0x4500                         # INIT, assert
    assert l1.pending & Pending.INIT
    assert l1.take(Pending.INIT)
    assert l1.waiting_for_sipi                        # an AP: 11.4.7.3
    l0.icr = 1 << 56 | 0x4608                         # SIPI, vector 0x08
    assert l1.pending == Pending.SIPI
    assert l1.take_sipi() == 0x08
    assert not l1.waiting_for_sipi and l1.take_sipi() is None


def test_local_interrupts(machine2: intc.Machine) -> None:
    l0 = machine2.lapics[0]
    l0.lvt_lint1 = 0x400                              # NMI, unmasked
    l0.set_lint(1, True)
    assert l0.pending == Pending.NMI and l0.take(Pending.NMI)
    l0.lvt_perf = 0x50
    l0.raise_lvt(intc.Lvt.PERF)
    assert l0.irr == {0x50}
    assert l0.lvt_perf == 0x10050                     # PMI sets the mask
    with pytest.raises(intc.InvalidArgument):
        l0.raise_lvt(intc.Lvt.TIMER)
    with pytest.raises(intc.InvalidArgument):
        l0.mmio_write(Reg.TPR, 0, size=3)


def test_posted_vectors_and_reset(machine2: intc.Machine) -> None:
    l0 = machine2.lapics[0]
    assert l0.post(0x60) and not l0.post(0x61)
    assert l0.ack_peek() == 0x61                      # posted, not folded
    l0.sync_pir(1 << 0x70)
    assert l0.irr == {0x60, 0x61, 0x70}
    l0.reset()
    assert l0.irr == frozenset() and l0.svr == 0xFF
