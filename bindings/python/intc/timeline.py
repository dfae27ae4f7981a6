"""Perfetto traces and SVG timelines of a Machine's interrupt traffic.

``Timeline`` is the C library libintc-timeline (its header:
tools/timeline/include/intc/timeline.h; docs/traces.md says what the
files show) through cffi in ABI mode.  It
sees a machine's events through the machine's ``event`` callback and
reads IRR, ISR and PPR when the host calls ``sample()``:

>>> import intc
>>> from intc.timeline import Timeline
>>> tl = Timeline(cpus=2)
>>> m = intc.Machine(cpus=2, event=tl.on_event)
>>> tl.attach(m)
>>> m.lapics[1].svr = 0x1FF
>>> tl.now_ns = 100                 # the host's clock, or Timeline(clock=)
>>> m.lapics[0].icr = 1 << 56 | 0x40
>>> tl.sample()
>>> m.lapics[1].ack()
64
>>> m.lapics[1].eoi()
>>> tl.sample()
>>> tl.dropped
0
>>> m.close()

then ``tl.save_perfetto("run.json")`` and ``tl.save_svg("run.svg")``.
To keep a callback of your own, chain it: ``event=tl.chain(my_event)``.

Where the library comes from, first match wins: intc/_config.py's
``TIMELINE_LIBRARY`` (written by CMake beside ``LIBRARY``), the system
loader by SONAME (``libintc-timeline.so.0.2``), the directory of the
libintc that was loaded, ``pkg-config --variable=libdir libintc``.
libintc itself is loaded first (``intc._ffi.library()``), so the two
agree.
"""

from __future__ import annotations

import functools
import importlib
import os
from pathlib import Path
from typing import Any, Callable

import cffi

from . import _ffi
from ._closable import Closable
from .errors import Busy
from .machine import Machine
from .types import NO_CPU, Event

SONAME = "libintc-timeline.so.%d.%d" % _ffi.BINDING_VERSION
DEFAULT_MAX_ITEMS = 1 << 19

CDEF = """
typedef struct intc_timeline intc_timeline;
intc_timeline *intc_timeline_new(uint32_t n_cpus, uint32_t max_items);
void intc_timeline_free(intc_timeline *t);
bool intc_timeline_set_title(intc_timeline *t, const char *title);
void intc_timeline_event(intc_timeline *t, uint64_t now_ns,
                         const intc_event *ev);
void intc_timeline_sample(intc_timeline *t, uint64_t now_ns,
                          intc_machine *m);
void intc_timeline_cpu_regs(intc_timeline *t, uint64_t now_ns,
                            uint32_t cpu, uint8_t irr, uint8_t isr,
                            uint8_t ppr);
uint64_t intc_timeline_dropped(const intc_timeline *t);
bool intc_timeline_save_perfetto(const intc_timeline *t, const char *path);
bool intc_timeline_save_svg(const intc_timeline *t, const char *path);
"""

ffi = cffi.FFI()
ffi.include(_ffi.ffi)
ffi.cdef(CDEF)

ClockFn = Callable[[], int]


def _recorded_path() -> str | None:
    try:
        config = importlib.import_module(__package__ + "._config")
    except ImportError:
        return None
    path = getattr(config, "TIMELINE_LIBRARY", None)
    return str(path) if path else None


def candidates() -> list[str]:
    """The places tried, in order (see the module documentation)."""
    found: list[str | None] = [_recorded_path(), SONAME]
    for lib in _ffi.candidates():
        if os.path.isabs(lib):
            found.append(str(Path(lib).parent / SONAME))
    return [c for c in dict.fromkeys(found) if c]


@functools.lru_cache(maxsize=None)
def library() -> Any:
    """libintc-timeline, opened once (after libintc)."""
    _ffi.library()
    tried = []
    for path in candidates():
        try:
            return ffi.dlopen(path)
        except OSError as exc:
            tried.append("%s: %s" % (path, exc))
    raise _ffi.LibraryNotFound(
        "libintc-timeline shared library not found; tried:\n  "
        + "\n  ".join(tried))


@functools.lru_cache(maxsize=None)
def _event_types() -> dict[str, int]:
    """The library's event names to their numbers."""
    lib, names = _ffi.library(), {}
    for n in range(256):
        name = ffi.string(lib.intc_event_name(n)).decode()
        if name == "unknown":
            break
        names[name] = n
    return names


class Timeline(Closable):
    """A trace of one machine of ``cpus`` CPUs (each gets its track).

    ``clock()`` gives the host's virtual time in ns for each event and
    sample; without one, the ``now_ns`` attribute (0 at first, set by the
    host) is the time.  ``max_items`` bounds the stored records (0: the
    library's default, 2**19); beyond it whole events are left out and
    counted (``dropped``).  ``title`` names the trace in both files."""

    def __init__(self, cpus: int, *, clock: ClockFn | None = None,
                 max_items: int = 0, title: str | None = None):
        self._lib = library()
        ptr = self._lib.intc_timeline_new(cpus, max_items)
        if ptr == ffi.NULL:
            raise ValueError("intc_timeline_new(%d): no CPUs or no memory"
                             % cpus)
        self._ptr: Any = ptr
        self._ev = ffi.new("intc_event *")
        self._types = _event_types()
        self.clock = clock
        self.now_ns = 0
        self.machine: Machine | None = None
        if title is not None and \
                not self._lib.intc_timeline_set_title(ptr, title.encode()):
            raise MemoryError("intc_timeline_set_title")

    def _p(self) -> Any:
        if self._ptr is None:
            raise ValueError("timeline is closed")
        return self._ptr

    def _now(self) -> int:
        return int(self.clock()) if self.clock is not None else self.now_ns

    def attach(self, machine: Machine) -> None:
        """The machine ``sample()`` reads when given none.  Its events
        reach the timeline only through its ``event`` callback
        (``Machine(event=tl.on_event)`` or ``tl.chain(fn)``)."""
        self.machine = machine

    def on_event(self, ev: Event) -> None:
        """A Machine ``event`` callback: record ``ev`` at the clock's
        time."""
        c = self._ev
        c.type = self._types[ev.type]
        c.cpu = NO_CPU if ev.cpu is None else ev.cpu
        c.vector = -1 if ev.vector is None else ev.vector
        c.unit, c.pin, c.data, c.data2 = ev.unit, ev.pin, ev.data, ev.data2
        self._lib.intc_timeline_event(self._p(), self._now(), c)

    def chain(self, fn: Callable[[Event], None] | None) -> \
            Callable[[Event], None]:
        """An ``event`` callback that records the event, then calls
        ``fn`` (if any) with it."""
        def event(ev: Event) -> None:
            self.on_event(ev)
            if fn is not None:
                fn(ev)
        return event

    def sample(self, machine: Machine | None = None,
               now_ns: int | None = None) -> None:
        """Record every CPU's IRR, ISR and PPR (those that changed) at
        ``now_ns`` (default: the clock's time).  After calls into the
        machine, not from inside its callbacks (Busy)."""
        m = machine if machine is not None else self.machine
        if m is None:
            raise ValueError("no machine: attach() one or pass it")
        if m._host.depth:
            raise Busy("Timeline.sample from inside a callback")
        t = self._now() if now_ns is None else now_ns
        self._lib.intc_timeline_sample(self._p(), t, m._ptr_or_raise())

    def cpu_regs(self, cpu: int, irr: int, isr: int, ppr: int,
                 now_ns: int | None = None) -> None:
        """Record CPU ``cpu``'s registers as the host knows them: ``irr``
        and ``isr`` the highest set vector (0 when empty), ``ppr``."""
        t = self._now() if now_ns is None else now_ns
        self._lib.intc_timeline_cpu_regs(self._p(), t, cpu, irr, isr, ppr)

    @property
    def dropped(self) -> int:
        """Events left out because the trace was full."""
        return int(self._lib.intc_timeline_dropped(self._p()))

    def _save(self, fn: Any, path: str | os.PathLike[str]) -> None:
        name = os.fspath(path)
        if not fn(self._p(), os.fsencode(name)):
            err = ffi.errno or 5
            raise OSError(err, os.strerror(err), name)

    def save_perfetto(self, path: str | os.PathLike[str]) -> None:
        """Write the Chrome/Perfetto trace-event JSON file (OSError on
        failure)."""
        self._save(self._lib.intc_timeline_save_perfetto, path)

    def save_svg(self, path: str | os.PathLike[str]) -> None:
        """Write the SVG timeline (OSError on failure)."""
        self._save(self._lib.intc_timeline_save_svg, path)

    def close(self) -> None:
        """Free the trace (the files already written stay)."""
        if self._ptr is not None:
            self._lib.intc_timeline_free(self._ptr)
            self._ptr = None



__all__ = ["Timeline", "SONAME", "DEFAULT_MAX_ITEMS", "candidates",
           "library"]
