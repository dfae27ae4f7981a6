"""intc.timeline: a Perfetto trace and an SVG timeline of traffic driven
from Python (an IPI, an MSI, a level IOAPIC line), checked like
intc-sim's (tests/sim/check_timeline.py: the trace-event format, every
CPU and pin track, one interrupt slice per ack; the SVG parsed and
rendered by rsvg-convert)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import intc
from intc.timeline import Timeline

RTE16 = 1 << 56 | 1 << 15 | 1 << 13 | 0x50   # level, active low, to ID 1


def checker(repo: Path) -> ModuleType:
    """tests/sim/check_timeline.py as a module (its errors list fresh)."""
    path = repo / "tests" / "sim" / "check_timeline.py"
    spec = importlib.util.spec_from_file_location("check_timeline", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Host:
    """A clock the script moves, and the events in check_timeline's
    form (type, fields)."""

    def __init__(self) -> None:
        self.now = 0
        self.events: list[tuple[str, dict[str, Any]]] = []

    def record(self, ev: intc.Event) -> None:
        self.events.append((ev.type, {"unit": ev.unit, "pin": ev.pin}))


def traffic(m: intc.Machine, tl: Timeline, host: Host) -> None:
    """Every step at its own time, sampled after each call."""
    def at(t: int) -> None:
        host.now = t
        tl.sample()

    l0, l1 = m.lapics
    io = m.ioapic(0)
    for lapic in m.lapics:
        lapic.svr = 0x1FF
    io.set_rte(16, RTE16)
    at(0)
    l0.icr = 1 << 56 | 0x40                  # IPI 0x40 to APIC ID 1
    at(100)
    assert l1.ack() == 0x40
    at(150)
    l1.eoi()
    at(200)
    m.msi_send(0xFEE00000, 0x61, source_id=0x0300)   # MSI 0x61 to ID 0
    at(300)
    assert l0.ack() == 0x61
    at(320)
    l0.eoi()
    at(400)
    io.set_irq(16, True)                     # level line: Remote IRR
    at(500)
    assert l1.ack() == 0x50
    at(550)
    io.set_irq(16, False)
    at(600)
    l1.eoi()                                 # clears Remote IRR
    at(700)


def test_timeline_from_python(tmp_path: Path, repo: Path) -> None:
    host = Host()
    tl = Timeline(cpus=2, clock=lambda: host.now, title="python traffic")
    wiring = [0] * 16 + [intc.PIN_LEVEL | intc.PIN_ACTIVE_LOW] * 8
    with intc.Machine(cpus=2, ioapics=[intc.IoapicConfig(
            id=8, wiring=wiring)], event=tl.chain(host.record),
            now_ns=lambda cpu: host.now) as m:
        tl.attach(m)
        traffic(m, tl, host)
    js, svg = tmp_path / "trace.json", tmp_path / "t.svg"
    tl.save_perfetto(js)
    tl.save_svg(str(svg))
    assert tl.dropped == 0
    tl.close()

    types = {t for t, _ in host.events}
    assert {"ipi", "msi", "ioapic_send", "remote_irr", "ack"} <= types
    check = checker(repo)
    check.check_perfetto(str(js), 2, host.events)
    rsvg = shutil.which("rsvg-convert")
    if rsvg is None:
        pytest.fail("rsvg-convert not found (Debian librsvg2-bin)")
    check.check_svg(str(svg), rsvg, None)
    assert check.errors == []

    doc = json.loads(js.read_text())
    names = {e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"CPU 0", "CPU 1", "IOAPIC 0 pin 16", "source 0x0300"} <= names
    flows = [e for e in doc["traceEvents"] if e["ph"] == "s"]
    assert len(flows) == 3                    # IPI, MSI, IOAPIC send
    counters = {e["name"] for e in doc["traceEvents"] if e["ph"] == "C"}
    assert {"CPU 1 IRR", "CPU 1 ISR", "CPU 0 PPR"} <= counters
    assert doc["otherData"]["title"] == "python traffic"


def test_timeline_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Timeline(cpus=0)
    with Timeline(cpus=1) as tl:
        with pytest.raises(ValueError):
            tl.sample()                       # no machine attached
        with pytest.raises(OSError):
            tl.save_svg(tmp_path / "no" / "such" / "dir.svg")
        seen: list[intc.Event] = []

        def sample_inside(ev: intc.Event) -> None:
            seen.append(ev)
            tl.sample(m)

        with intc.Machine(cpus=1, event=sample_inside) as m:
            m.lapics[0].svr = 0x1FF
            with pytest.raises(intc.Busy):
                m.lapics[0].self_ipi(0x40)
        assert seen
    with pytest.raises(ValueError):
        tl.save_perfetto(tmp_path / "closed.json")
