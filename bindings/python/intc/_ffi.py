"""The C declarations of libintc and the loading of the shared library.

cffi in ABI mode: nothing is compiled; ``CDEF`` restates the public
declarations of ``include/intc/*.h`` that the binding uses, and
``library()`` opens ``libintc.so`` once per process.

Where the library comes from, first match wins:

1. ``intc/_config.py``'s ``LIBRARY``: the absolute path written next to the
   package when it was installed by ``cmake --install`` or staged into a
   build tree (the source tree has no such file);
2. the system loader, by SONAME (``libintc.so.0.2``), i.e. ``ld.so.cache``
   and the default directories (run ``ldconfig`` after installing into
   ``/usr/local``);
3. ``pkg-config --variable=libdir libintc``: an installed ``libintc.pc``.

libintc-uc (the Unicorn glue, ``include/intc/uc.h``; ``UC_CDEF`` and
``uc_library()``, used by ``intc.uc``) is found the same way: ``_config``'s
``UC_LIBRARY``, its SONAME (``libintc-uc.so.0.2``), then
``pkg-config --variable=libdir libintc-uc``.  It is opened after libintc,
whose SONAME it needs and then finds already loaded.

A library whose version the binding was not written for is refused with
``LibraryVersionError`` (``BINDING_VERSION`` and the rule of
``INTC_VERSION_COMPATIBLE`` in ``common.h``).
"""

from __future__ import annotations

import functools
import importlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cffi

# The library version the binding was written for (common.h
# INTC_VERSION_MAJOR/MINOR); the patch level never matters.
BINDING_VERSION = (0, 2)
# The struct versions the binding fills in (common.h, machine.h).
HOST_OPS_VERSION = 2
MACHINE_CONFIG_VERSION = 1
# The SONAME of that ABI (CMakeLists.txt: libintc.so.0.MINOR for 0.x).
SONAME = "libintc.so.%d.%d" % BINDING_VERSION
# libintc-uc is versioned with libintc (uc.h).
UC_SONAME = "libintc-uc.so.%d.%d" % BINDING_VERSION
UC_CONFIG_VERSION = 1

CDEF = """
typedef int intc_err;
unsigned intc_version(void);
const char *intc_version_string(void);
const char *intc_strerror(intc_err err);
const char *intc_err_name(intc_err err);

typedef struct intc_machine intc_machine;
typedef struct intc_lapic intc_lapic;
typedef struct intc_ioapic intc_ioapic;
typedef struct intc_iommu intc_iommu;
typedef struct intc_msix intc_msix;
typedef struct intc_msi intc_msi;
typedef struct intc_replay intc_replay;

typedef struct intc_delivery {
    int status;
    unsigned reason;
    uint32_t n_cpus;
    uint32_t irte;
} intc_delivery;

typedef struct intc_event {
    int type;
    uint32_t cpu;
    int32_t vector;
    uint32_t unit;
    uint32_t pin;
    uint64_t data;
    uint64_t data2;
} intc_event;

const char *intc_event_name(int type);

typedef struct intc_host_ops {
    unsigned version;
    void (*kick)(void *host, uint32_t cpu);
    uint64_t (*now_ns)(void *host, uint32_t cpu);
    void (*timer_arm)(void *host, uint32_t cpu, uint64_t deadline_ns);
    int (*dma_read)(void *host, uint64_t addr, void *buf, size_t len);
    int (*dma_write)(void *host, uint64_t addr, const void *buf, size_t len);
    void (*event)(void *host, const intc_event *ev);
    void *(*alloc)(void *host, void *ptr, size_t old_size, size_t new_size);
    void (*eoi)(void *host, uint32_t gsi);
    void (*ioapic_timer_arm)(void *host, uint32_t ioapic,
                             uint64_t deadline_ns);
    void (*apic_base_changed)(void *host, uint32_t cpu, uint64_t apic_base);
} intc_host_ops;

typedef struct intc_ioapic_config {
    uint8_t id;
    uint8_t version;
    uint16_t n_pins;
    uint32_t gsi_base;
    uint16_t source_id;
    const uint8_t *pin_wiring;
} intc_ioapic_config;

typedef struct intc_iommu_config {
    unsigned kind;
    bool x2apic;
    bool posted;
    uint16_t n_fault_regs;
    uint32_t cache_entries;
} intc_iommu_config;

typedef struct intc_machine_config {
    unsigned version;
    uint32_t n_cpus;
    const uint32_t *apic_ids;
    uint32_t bsp;
    bool x2apic;
    bool tsc_deadline;
    bool directed_eoi;
    bool lvt_cmci;
    bool lowest_priority_ipi;
    bool focus_processor;
    bool apic_bus_errors;
    uint8_t lapic_version;
    uint8_t phys_addr_bits;
    uint64_t apic_timer_hz;
    uint64_t tsc_hz;
    const intc_ioapic_config *ioapics;
    uint32_t n_ioapics;
    bool msi_ext_dest;
    uint32_t storm_threshold;
    uint64_t storm_throttle_ns;
    intc_iommu_config iommu;
} intc_machine_config;

void intc_machine_config_init(intc_machine_config *cfg);
intc_machine *intc_machine_new(const intc_machine_config *cfg,
                               const intc_host_ops *ops, void *host,
                               intc_err *err);
void intc_machine_free(intc_machine *m);
intc_err intc_machine_reset(intc_machine *m);
uint64_t intc_machine_tsc(intc_machine *m, uint32_t cpu);
uint32_t intc_machine_cpu_count(const intc_machine *m);
intc_lapic *intc_machine_lapic(intc_machine *m, uint32_t cpu_index);
intc_ioapic *intc_machine_ioapic(intc_machine *m, uint32_t index);
intc_iommu *intc_machine_iommu(intc_machine *m);
intc_err intc_machine_save(intc_machine *m, void *buf, size_t len,
                           size_t *used);
intc_err intc_machine_load(intc_machine *m, const void *buf, size_t len);
const char *intc_machine_errmsg(const intc_machine *m);
intc_err intc_machine_check(const intc_machine *m, char *msg, size_t len);

intc_err intc_lapic_mmio_read(intc_lapic *l, uint32_t off, unsigned size,
                              uint64_t *val);
intc_err intc_lapic_mmio_write(intc_lapic *l, uint32_t off, unsigned size,
                               uint64_t val);
intc_err intc_lapic_msr_read(intc_lapic *l, uint32_t msr, uint64_t *val);
intc_err intc_lapic_msr_write(intc_lapic *l, uint32_t msr, uint64_t val);
unsigned intc_lapic_pending(const intc_lapic *l);
int intc_lapic_ack(intc_lapic *l);
int intc_lapic_ack_peek(const intc_lapic *l);
int intc_lapic_take(intc_lapic *l, unsigned what, uint8_t *sipi_vector);
intc_err intc_lapic_set_tpr(intc_lapic *l, uint8_t tpr);
uint8_t intc_lapic_get_tpr(const intc_lapic *l);
intc_err intc_lapic_set_lint(intc_lapic *l, unsigned pin, bool level);
intc_err intc_lapic_raise_lvt(intc_lapic *l, unsigned lvt);
intc_err intc_lapic_timer_expired(intc_lapic *l, uint64_t now_ns);
uint64_t intc_lapic_timer_deadline(const intc_lapic *l);
intc_err intc_lapic_set_tsc_offset(intc_lapic *l, uint64_t offset);
intc_err intc_lapic_reset(intc_lapic *l, bool init_only);
bool intc_lapic_waiting_for_sipi(const intc_lapic *l);
uint32_t intc_lapic_cpu(const intc_lapic *l);
uint32_t intc_lapic_initial_id(const intc_lapic *l);
int intc_lapic_post(intc_lapic *l, uint8_t vector, bool level);
intc_err intc_lapic_sync_pir(intc_lapic *l, const uint64_t pir[4]);

intc_err intc_ioapic_mmio_read(intc_ioapic *io, uint32_t off, unsigned size,
                               uint64_t *val);
intc_err intc_ioapic_mmio_write(intc_ioapic *io, uint32_t off, unsigned size,
                                uint64_t val);
intc_err intc_ioapic_set_irq(intc_ioapic *io, uint32_t pin, bool asserted);
intc_err intc_ioapic_set_irq_source(intc_ioapic *io, uint32_t pin,
                                    unsigned source, bool asserted);
intc_err intc_machine_set_gsi(intc_machine *m, uint32_t gsi, bool asserted);
intc_err intc_ioapic_timer_expired(intc_ioapic *io, uint64_t now_ns);
uint32_t intc_ioapic_pin_count(const intc_ioapic *io);
uint32_t intc_ioapic_gsi_base(const intc_ioapic *io);
intc_err intc_ioapic_rte(const intc_ioapic *io, uint32_t pin, uint64_t *rte);
bool intc_ioapic_line(const intc_ioapic *io, uint32_t pin);

intc_err intc_msi_send(intc_machine *m, uint64_t addr, uint32_t data,
                       uint16_t source_id, intc_delivery *out);
intc_msix *intc_msix_new(intc_machine *m, uint16_t nvec, uint16_t source_id,
                         intc_err *err);
void intc_msix_free(intc_msix *x);
intc_err intc_msix_table_read(intc_msix *x, uint32_t off, unsigned size,
                              uint64_t *val);
intc_err intc_msix_table_write(intc_msix *x, uint32_t off, unsigned size,
                               uint64_t val);
intc_err intc_msix_pba_read(intc_msix *x, uint32_t off, unsigned size,
                            uint64_t *val);
intc_err intc_msix_set_control(intc_msix *x, bool enable, bool function_mask);
intc_err intc_msix_notify(intc_msix *x, uint16_t vector, intc_delivery *out);
intc_err intc_msix_reset(intc_msix *x);
bool intc_msix_pending(const intc_msix *x, uint16_t vector);
intc_msi *intc_msi_new(intc_machine *m, unsigned log2_vectors, bool addr64,
                       bool per_vector_mask, uint16_t source_id,
                       intc_err *err);
void intc_msi_free(intc_msi *c);
intc_err intc_msi_config_read(intc_msi *c, uint32_t off, unsigned size,
                              uint32_t *val);
intc_err intc_msi_config_write(intc_msi *c, uint32_t off, unsigned size,
                               uint32_t val);
unsigned intc_msi_config_size(const intc_msi *c);
intc_err intc_msi_notify(intc_msi *c, unsigned vector, intc_delivery *out);
intc_err intc_msi_reset(intc_msi *c);

intc_err intc_iommu_mmio_read(intc_iommu *u, uint32_t off, unsigned size,
                              uint64_t *val);
intc_err intc_iommu_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val);
typedef struct intc_irq {
    unsigned fault;
    bool blocked;
    bool posted;
    bool remapped;
    uint32_t index;
    uint32_t dest;
    uint8_t vector;
    uint8_t dm;
    bool logical;
    bool level;
    bool rh;
    bool x2apic;
} intc_irq;
intc_err intc_iommu_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                          uint32_t data, intc_irq *out);
intc_err intc_irq_deliver(intc_machine *m, const intc_irq *irq,
                          intc_delivery *out);
intc_err intc_iommu_set_table(intc_iommu *u, uint64_t irta, bool enabled,
                              bool cfi);
intc_err intc_iommu_invalidate(intc_iommu *u, uint32_t index,
                               unsigned index_mask);

typedef int (*intc_record_fn)(void *ctx, const void *buf, size_t len);
intc_err intc_machine_record(intc_machine *m, intc_record_fn write,
                             void *ctx);
int intc_machine_recording(const intc_machine *m);
intc_replay *intc_replay_new(const void *buf, size_t len,
                             const intc_host_ops *ops, void *host,
                             intc_err *err);
int intc_replay_step(intc_replay *r);
intc_err intc_replay_run(intc_replay *r);
intc_machine *intc_replay_machine(intc_replay *r);
uint64_t intc_replay_position(const intc_replay *r, size_t *offset);
const char *intc_replay_errmsg(const intc_replay *r);
void intc_replay_free(intc_replay *r);
"""

# include/intc/uc.h (libintc-uc).  Its enums are int-sized: declared int.
UC_CDEF = """
unsigned intc_uc_version(void);
typedef struct intc_uc intc_uc;

typedef struct intc_uc_stop_info {
    int reason;
    uint32_t cpu;
    uint64_t code;
    uint64_t rip;
    uint64_t time_ns;
    uint64_t insns;
} intc_uc_stop_info;

typedef struct intc_uc_event {
    int type;
    uint32_t cpu;
    uint64_t time_ns;
    uint64_t insns;
    int32_t vector;
    uint64_t rip;
    uint64_t data;
    uint64_t data2;
    intc_event intc;
} intc_uc_event;

typedef struct intc_uc_config {
    unsigned version;
    const intc_machine_config *intc;
    uint32_t n_cpus;
    uint64_t ram_size;
    uint64_t entry;
    uint32_t insn_ns;
    uint64_t quantum_ns;
    bool sipi_64;
    void (*event)(void *user, const intc_uc_event *ev);
    void (*console)(void *user, uint32_t cpu, uint8_t byte);
    void *user;
} intc_uc_config;

void intc_uc_config_init(intc_uc_config *cfg);
intc_uc *intc_uc_new(const intc_uc_config *cfg, intc_err *err);
void intc_uc_free(intc_uc *m);
intc_err intc_uc_load(intc_uc *m, uint64_t gpa, const void *data,
                      size_t len);
intc_err intc_uc_read(intc_uc *m, uint64_t gpa, void *buf, size_t len);
intc_err intc_uc_run(intc_uc *m, uint64_t max_insns, uint64_t max_ns,
                     intc_uc_stop_info *info);
void intc_uc_request_stop(intc_uc *m);

typedef struct intc_uc_cpu_info {
    int state;
    uint64_t rip;
    uint64_t time_ns;
    uint64_t insns;
    uint64_t delivered;
    uint64_t deadline_ns;
} intc_uc_cpu_info;
intc_err intc_uc_cpu_info_get(intc_uc *m, uint32_t cpu,
                              intc_uc_cpu_info *out);

typedef struct intc_uc_trap_info {
    uint64_t blocks_scanned;
    uint64_t restarts;
    uint64_t hooks_live;
    uint64_t emulated;
    uint64_t native;
    uint64_t faults;
    uint64_t cpuid;
    bool native_msr_hooks;
    bool native_tsc_hooks;
    bool hidden_state;
} intc_uc_trap_info;
intc_err intc_uc_trap_info_get(intc_uc *m, uint32_t cpu,
                               intc_uc_trap_info *out);

intc_machine *intc_uc_intc(intc_uc *m);
uint32_t intc_uc_cpu_count(const intc_uc *m);

typedef struct intc_uc_mmio_ops {
    uint64_t (*read)(void *opaque, uint32_t cpu, uint64_t off,
                     unsigned size);
    void (*write)(void *opaque, uint32_t cpu, uint64_t off, unsigned size,
                  uint64_t val);
} intc_uc_mmio_ops;
intc_err intc_uc_map_mmio(intc_uc *m, uint64_t gpa, uint64_t size,
                          const intc_uc_mmio_ops *ops, void *opaque);
intc_err intc_uc_set_gsi(intc_uc *m, uint32_t gsi, bool asserted);
intc_err intc_uc_msi_send(intc_uc *m, uint64_t addr, uint32_t data,
                          uint16_t source_id);
intc_err intc_uc_map_msix(intc_uc *m, uint64_t gpa, uint64_t size,
                          intc_msix *x, uint64_t pba_off);
intc_err intc_uc_map_iommu(intc_uc *m, uint64_t gpa);
intc_err intc_uc_dma_write(intc_uc *m, uint16_t source_id, uint64_t gpa,
                           const void *buf, size_t len);
const char *intc_uc_stop_name(int reason);
const char *intc_uc_event_name(int type);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)
ffi.cdef(UC_CDEF)


class LibraryNotFound(ImportError):
    """No libintc shared library could be opened."""


class LibraryVersionError(ImportError):
    """The libintc found is not the version this binding was written for."""


def compatible(lib_hex: int, binding: tuple[int, int] = BINDING_VERSION) -> bool:
    """Whether a library of version ``lib_hex`` (INTC_VERSION_HEX) serves
    a binding written for ``binding`` (major, minor).

    The rule of INTC_VERSION_COMPATIBLE (common.h): the same major and,
    for 0.x, the same minor (0.x minors may break the ABI); from 1.0 on,
    a library minor at least the binding's.  The patch level never matters.
    """
    major, minor = (lib_hex >> 16) & 0xFF, (lib_hex >> 8) & 0xFF
    if major != binding[0]:
        return False
    if major == 0:
        return minor == binding[1]
    return minor >= binding[1]


def check_version(lib_hex: int, what: str = "libintc") -> None:
    """Raise LibraryVersionError unless ``compatible(lib_hex)``."""
    if not compatible(lib_hex):
        have = "%d.%d.%d" % ((lib_hex >> 16) & 0xFF, (lib_hex >> 8) & 0xFF,
                             lib_hex & 0xFF)
        raise LibraryVersionError(
            "%s is version %s; this binding was written for %d.%d "
            "(install the matching libintc or binding)"
            % (what, have, BINDING_VERSION[0], BINDING_VERSION[1]))


def _recorded_path(name: str = "LIBRARY") -> str | None:
    """The path ``name`` (LIBRARY, UC_LIBRARY) in intc/_config.py, written
    at install time."""
    try:
        config = importlib.import_module(__package__ + "._config")
    except ImportError:
        return None
    path = getattr(config, name, None)
    return str(path) if path else None


def _pkg_config_path(package: str = "libintc",
                     soname: str = SONAME) -> str | None:
    """``soname`` under ``pkg-config --variable=libdir package``, if
    any."""
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--variable=libdir", package],
                             capture_output=True, text=True, timeout=10,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = out.stdout.strip()
    if out.returncode != 0 or not libdir:
        return None
    candidate = Path(libdir) / soname
    return str(candidate) if candidate.exists() else None


def candidates() -> list[str]:
    """The places tried, in order (see the module documentation)."""
    found = [_recorded_path(), SONAME, _pkg_config_path()]
    return [c for c in found if c]


def open_library(path: str) -> Any:
    """dlopen ``path`` and check its version; the cffi library object."""
    lib = ffi.dlopen(path)
    check_version(lib.intc_version(), "libintc at %s" % path)
    return lib


@functools.lru_cache(maxsize=None)
def library() -> Any:
    """The libintc shared library, opened (and version-checked) once."""
    tried = []
    for path in candidates():
        try:
            return open_library(path)
        except OSError as exc:
            tried.append("%s: %s" % (path, exc))
    raise LibraryNotFound(
        "libintc shared library not found; tried:\n  " + "\n  ".join(tried)
        + "\n(install libintc with cmake --install, then run ldconfig, or "
        "reinstall the binding with cmake --install)")


def uc_candidates() -> list[str]:
    """The places tried for libintc-uc, in order (as ``candidates()``)."""
    found = [_recorded_path("UC_LIBRARY"), UC_SONAME,
             _pkg_config_path("libintc-uc", UC_SONAME)]
    return [c for c in found if c]


@functools.lru_cache(maxsize=None)
def uc_library() -> Any:
    """The libintc-uc shared library, opened (and version-checked) once,
    after libintc (``library()``)."""
    library()
    tried = []
    for path in uc_candidates():
        try:
            lib = ffi.dlopen(path)
        except OSError as exc:
            tried.append("%s: %s" % (path, exc))
            continue
        check_version(lib.intc_uc_version(), "libintc-uc at %s" % path)
        return lib
    raise LibraryNotFound(
        "libintc-uc shared library not found (the Unicorn integration: "
        "built when libunicorn-dev is installed); tried:\n  "
        + "\n  ".join(tried))
