"""pytest configuration of the binding's tests.

ctest runs them with PYTHONPATH pointing at the package staged in the
build tree (its intc/_config.py names the built libintc.so) and passes
``--intc-sim`` (the built tool), ``--repo`` (the source tree) and, when
libintc-uc is built, ``--uc-firmware`` (the directory of the assembled
tests/fw/*.s images).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import intc
import intc.uc


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--intc-sim", default=None,
                     help="path of the intc-sim tool (scenario tests)")
    parser.addoption("--repo", default=str(Path(__file__).resolve()
                                          .parents[3]),
                     help="the libintc source tree")
    parser.addoption("--uc-firmware", default=None,
                     help="directory of the assembled tests/fw images")


@pytest.fixture
def repo(request: pytest.FixtureRequest) -> Path:
    """The libintc source tree."""
    return Path(request.config.getoption("--repo"))


@pytest.fixture
def intc_sim(request: pytest.FixtureRequest) -> str:
    """The intc-sim executable (skips when not given)."""
    sim = request.config.getoption("--intc-sim")
    if not sim:
        pytest.skip("--intc-sim not given")
    return str(sim)


@pytest.fixture
def uc() -> None:
    """Skips unless libintc-uc (built where Unicorn is) can be loaded."""
    if not intc.uc.available():
        pytest.skip("libintc-uc not built (libunicorn-dev missing)")


@pytest.fixture
def uc_firmware(request: pytest.FixtureRequest,
                uc: None) -> Callable[[str], bytes]:
    """firmware(name): the image assembled from tests/fw/<name>.s (skips
    when --uc-firmware is not given)."""
    where = request.config.getoption("--uc-firmware")
    if not where:
        pytest.skip("--uc-firmware not given")

    def firmware(name: str) -> bytes:
        return (Path(where) / (name + ".bin")).read_bytes()
    return firmware


class Clock:
    """A host clock the tests move by hand, with the timers it was asked
    to arm."""

    def __init__(self) -> None:
        self.now = 0
        self.armed: dict[int, int | None] = {}

    def now_ns(self, cpu: int | None) -> int:
        return self.now

    def timer_arm(self, cpu: int, deadline: int | None) -> None:
        self.armed[cpu] = deadline


@pytest.fixture
def clock() -> Clock:
    """A fresh host clock."""
    return Clock()


@pytest.fixture
def events() -> list[intc.Event]:
    """A list to pass as event=events.append."""
    return []


@pytest.fixture
def machine2(events: list[intc.Event]) -> Iterator[intc.Machine]:
    """Two CPUs, both APICs software-enabled (SVR[8], SDM 11.4.7.2), one
    ICH-style IOAPIC whose pins 16-23 are PCI INTx (level, active low)."""
    wiring = [0] * 16 + [intc.PIN_LEVEL | intc.PIN_ACTIVE_LOW] * 8
    with intc.Machine(cpus=2, ioapics=[intc.IoapicConfig(
            id=8, wiring=wiring)], event=events.append) as m:
        for lapic in m.lapics:
            lapic.svr = 0x1FF
        events.clear()
        yield m
