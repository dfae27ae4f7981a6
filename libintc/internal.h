/*
 * libintc — private definitions shared by every model: the machine, the
 * interrupt message that travels between models, callback plumbing.
 */
#ifndef INTC_INTERNAL_H
#define INTC_INTERNAL_H

#include "intc/intc.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "lapic_priv.h"
#include "ioapic_priv.h"
#include "iommu_priv.h"

/* Delivery modes of an interrupt message (ICR, LVT, IOAPIC RTE, MSI). */
enum intc_dm {
    INTC_DM_FIXED = 0,
    INTC_DM_LOWEST = 1,
    INTC_DM_SMI = 2,
    INTC_DM_RESERVED3 = 3,
    INTC_DM_NMI = 4,
    INTC_DM_INIT = 5,
    INTC_DM_SIPI = 6,
    INTC_DM_EXTINT = 7
};

/*
 * An interrupt message as it crosses the system bus: from an IPI, an MSI,
 * an IOAPIC entry, or the IOMMU.  dest is interpreted in the format the
 * sender used: 8 bits (xAPIC format, 0xFF broadcast) or 32 bits (x2APIC
 * format, 0xFFFFFFFF broadcast).
 */
typedef struct intc_msg {
    uint32_t dest;
    uint32_t src_cpu;    /* sending CPU, or INTC_NO_CPU */
    uint8_t vector;
    uint8_t dm;          /* enum intc_dm */
    bool logical;        /* destination mode */
    bool level;          /* trigger mode: level */
    bool assert;         /* level: asserted (INIT de-assert has 0) */
    bool x2apic_format;  /* dest is a 32-bit x2APIC destination */
} intc_msg;

/* Open-addressing map from a 32-bit key to a CPU index, built once. */
typedef struct intc_idmap {
    uint32_t *keys;
    int32_t *vals; /* -1: empty slot */
    uint32_t mask;
} intc_idmap;

struct intc_machine {
    intc_host_ops ops;
    void *host;
    intc_machine_config cfg; /* copy; cfg.apic_ids is NULL */
    uint32_t n_cpus;
    intc_lapic *cpus;

    /* --- routing (bus.c) --- */
    /* Physical xAPIC-mode destinations: chain heads by 8-bit xAPIC ID. */
    int32_t phys8_head[256];
    /* xAPIC logical: flat model by LDR bit, cluster model by cluster and
       bit.  Chains through intc_lapic.rt.lnext/lprev[bit]. */
    int32_t flat_head[8];
    int32_t cluster_head[16][4];
    /* x2APIC IDs (fixed at creation) -> CPU, and x2APIC LDR -> first CPU
       with that derived LDR (chained through rt.x2l_next). */
    intc_idmap x2id;
    intc_idmap x2ldr;
    uint32_t *targets;  /* scratch: matched CPU indices, n_cpus entries */
    uint32_t stamp;     /* de-duplication generation for logical matches */
    uint32_t lp_last;   /* lowest-priority round-robin position */

    /* --- callback plumbing --- */
    unsigned depth;     /* nesting of public calls */
    unsigned in_cb;     /* inside an event/timer_arm/now_ns callback */
    bool flushing;
    uint32_t *kickq;    /* ring of CPUs to kick at the end of the
                           outermost call */
    uint32_t kick_mask;  /* ring size - 1: a power of two >= n_cpus */
    uint32_t kick_head;
    uint32_t n_kick;
    /* resample notifications owed: (ioapic << 16 | pin), a ring */
    uint32_t *resampleq;
    uint32_t resample_head;
    uint32_t n_resample;
    uint32_t total_pins;

    /* --- devices --- */
    intc_ioapic *ioapics;
    uint32_t n_ioapics;
    intc_msix *msix;       /* list of MSI-X functions */
    struct intc_msi *msi;  /* list of MSI capabilities */
    uint32_t next_unit;    /* event unit numbers of devices */
    intc_iommu *iommu;     /* NULL if none */
    /* interrupt remapping, when an IOMMU is configured and enabled */
    intc_err (*iommu_remap)(intc_machine *m, uint64_t addr, uint32_t data,
                            uint16_t sid, uint32_t *n);

    /* --- snapshots (snapshot.c) --- */
    /* What the last failed intc_machine_load() refused, "" after a
       success (intc_machine_errmsg). */
    char snap_errmsg[128];
};

/* ---- allocation (creation paths only) ---- */
void *intc_alloc(intc_machine *m, size_t size);
void intc_free(intc_machine *m, void *p, size_t size);

/* ---- callback plumbing ---- */

/* Enter a public call that may change state.  Returns false (and the call
   must return INTC_ERR_BUSY) when called from a restricted callback. */
static inline bool intc_enter(intc_machine *m)
{
    if (m->in_cb)
        return false;
    m->depth++;
    return true;
}

void intc_flush_kicks(intc_machine *m);

static inline void intc_leave(intc_machine *m)
{
    if (--m->depth == 0 && (m->n_kick | m->n_resample) && !m->flushing)
        intc_flush_kicks(m);
}

#if defined(__GNUC__)
#define INTC_COLD __attribute__((cold, noinline))
#define INTC_LIKELY(x) __builtin_expect(!!(x), 1)
#define INTC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define INTC_COLD
#define INTC_LIKELY(x) (x)
#define INTC_UNLIKELY(x) (x)
#endif

/* Queue a kick of cpu for the end of the outermost call. */
static inline void intc_kick(intc_machine *m, uint32_t cpu)
{
    intc_lapic *l = &m->cpus[cpu];
    if (!m->ops.kick || l->kick_queued)
        return;
    /* Each CPU is queued at most once, so n_cpus slots suffice. */
    l->kick_queued = true;
    m->kickq[(m->kick_head + m->n_kick) & m->kick_mask] = cpu;
    m->n_kick++;
}

/*
 * The untraced, edge-triggered case of accepting fixed vector v (>= 16)
 * into a software-enabled APIC (lapic.c set_irr): IRR, IRRV, TMR.
 * Returns whether the APIC should be kicked (the vector is deliverable).
 */
static inline bool intc_lapic_irr_edge_quiet(intc_lapic *l, uint8_t v)
{
    unsigned w = v >> 6;
    uint64_t b = 1ull << (v & 63);
    l->irr[w] |= b;
    if (v > l->irrv)
        l->irrv = v;
    /* TMR follows the trigger mode of the last accepted (11.8.4). */
    l->tmr[w] &= ~b;
    return !l->wait_sipi && (v & 0xf0) > (l->ppr & 0xf0);
}

void intc_emit(intc_machine *m, intc_event_type type, uint32_t cpu,
               int32_t vector, uint32_t pin, uint64_t data, uint64_t data2);
void intc_emit_unit(intc_machine *m, intc_event_type type, uint32_t cpu,
                    int32_t vector, uint32_t unit, uint32_t pin,
                    uint64_t data, uint64_t data2);
void intc_queue_resample(intc_machine *m, uint32_t ioapic, uint32_t pin);
void intc_ioapic_timer_arm(intc_machine *m, uint32_t ioapic,
                           uint64_t deadline);

static inline bool intc_tracing(const intc_machine *m)
{
    return m->ops.event != NULL;
}

#define INTC_EMIT(m, ...)                                                   \
    do {                                                                    \
        if (intc_tracing(m))                                                \
            intc_emit((m), __VA_ARGS__);                                    \
    } while (0)

uint64_t intc_now(intc_machine *m);
void intc_timer_arm(intc_machine *m, uint32_t cpu, uint64_t deadline);

/* For the *_check() functions: describe the broken invariant in msg (if
   given) and return false. */
#define INTC_FAIL(...)                                                      \
    do {                                                                    \
        if (msg && len)                                                     \
            snprintf(msg, len, __VA_ARGS__);                                \
        return false;                                                       \
    } while (0)

/* ---- 64-bit helpers ---- */

/* a * b / c rounded down (up if round_up), saturating at UINT64_MAX.
   c must be non-zero. */
uint64_t intc_muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up);

static inline int intc_fls64(uint64_t x) /* index of highest set bit */
{
#if defined(__GNUC__)
    return 63 - __builtin_clzll(x);
#else
    int r = 0;
    while (x >>= 1)
        r++;
    return r;
#endif
}

static inline int intc_popcount32(uint32_t x)
{
#if defined(__GNUC__)
    return __builtin_popcount(x);
#else
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
#endif
}

static inline int intc_ctz32(uint32_t x)
{
#if defined(__GNUC__)
    return __builtin_ctz(x);
#else
    int n = 0;
    while (!(x & 1u)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* ---- bus.c ---- */
intc_err intc_bus_init(intc_machine *m);
void intc_bus_fini(intc_machine *m);
/* Re-file a CPU in the routing maps after its mode, ID, LDR or DFR
   changed.  O(1) (O(LDR bits) for xAPIC logical). */
void intc_bus_update(intc_machine *m, intc_lapic *l);
/* Re-file every CPU in canonical order (ascending index in each chain). */
void intc_bus_rebuild(intc_machine *m);
/* Deliver a message to every APIC its destination matches (or to the one
   lowest-priority winner); except_cpu is skipped (INTC_NO_CPU: none).
   Returns the number of APICs that accepted it (a software-disabled APIC
   refuses fixed messages, any APIC an illegal vector). */
uint32_t intc_bus_deliver(intc_machine *m, const intc_msg *msg,
                          uint32_t except_cpu);
/* Deliver to all hardware-enabled APICs (broadcast / shorthands). */
uint32_t intc_bus_broadcast(intc_machine *m, const intc_msg *msg,
                            uint32_t except_cpu);
/* EOI broadcast for a level-triggered vector (to the IOAPICs). */
void intc_bus_eoi(intc_machine *m, uint32_t cpu, uint8_t vector);
/* ---- msi.c ---- */
/* Route an interrupt message (through remapping if enabled); *n is the
   number of APICs reached. */
intc_err intc_msi_route(intc_machine *m, uint64_t addr, uint32_t data,
                        uint16_t sid, uint32_t *n);
/* Decode and deliver a compatibility-format message. */
intc_err intc_msi_deliver_compat(intc_machine *m, uint64_t addr,
                                 uint32_t data, uint16_t sid, uint32_t *n);
void intc_msix_free_all(intc_machine *m);
void intc_msix_reset_all(intc_machine *m);
void intc_msi_free_all(intc_machine *m);
void intc_msi_reset_all(intc_machine *m);

/* Validate the routing maps against the registers (intc_machine_check). */
bool intc_bus_check(const intc_machine *m, char *msg, size_t len);

#endif /* INTC_INTERNAL_H */
