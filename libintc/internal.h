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

/* Delivery modes a message or an IOAPIC entry may not carry (SDM
   11.11.2, 82093AA 3.2.4): 011b and 110b, as a bit set over enum intc_dm. */
#define INTC_DM_RESERVED_SET (1u << INTC_DM_RESERVED3 | 1u << INTC_DM_SIPI)

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

#include "lapic_priv.h"
#include "ioapic_priv.h"
#include "iommu_priv.h"
#include "record_priv.h"

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
    int32_t *x2dense;   /* ID -> CPU (-1: none) when IDs are dense, else
                           NULL (bus.c intc__bus_init) */
    uint32_t x2dense_n;
    intc_idmap x2ldr;
    uint32_t *targets;  /* scratch: matched CPU indices, n_cpus entries */
    uint32_t stamp;     /* de-duplication generation for logical matches */
    /* Address bits an interrupt message must have as in 0xFEE00000:
       31:20, the remappable-format bit 4, and without msi_ext_dest bits
       11:5 (bus.c decode). */
    uint64_t msi_addr_mask;
    uint32_t n_x2;      /* APICs in x2APIC mode (lets physical delivery
                           skip the lookup that cannot match) */
    uint32_t lp_last;   /* lowest-priority round-robin position */

    /* --- callback plumbing --- */
    unsigned depth;     /* nesting of public calls */
    unsigned in_cb;     /* inside an event/timer_arm/now_ns callback */
    /* A recording or a replay in progress (record.c), else NULL: the one
       test every recorded call makes when recording is off. */
    struct intc__rec *rec;
    /* m->rec != NULL, except while a recorded call's cold twin runs the
       call itself: the one test of the hot calls (intc__rec_set). */
    bool rec_calls;
    /* Deferred callbacks other than kicks run (eoi, apic_base_changed),
       free-running; with kick_head (one per kick run) they number the
       deferred callbacks, by which the recorder names the callback a
       nested call came from (intc__deferred_count). */
    uint32_t n_deferred;
    /* Ring of APICs whose CPU is owed a kick at the end of the outermost
       call; free-running head and tail, each APIC queued at most once
       (kick_queued), so n_cpus slots suffice. */
    intc_lapic **kickq;
    uint32_t kick_mask;  /* ring size - 1: a power of two >= n_cpus */
    uint32_t kick_head;
    uint32_t kick_tail;
    uint32_t n_owed;     /* queued kicks + base changes + resamples */
    /* APICs whose IA32_APIC_BASE may differ from what the host was told
       (apic_base_changed), a ring like kickq */
    intc_lapic **baseq;
    uint32_t base_head;
    uint32_t base_tail;
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
    /* The IOMMU while its interrupt remapping is enabled, else NULL: the
       remap stage of the pipeline (iommu.c keeps it current). */
    intc_iommu *remap;

    /* --- snapshots (snapshot.c) --- */
    /* What the last failed intc_machine_load() refused, "" after a
       success (intc_machine_errmsg). */
    char snap_errmsg[128];

    /* --- recording (record.c) --- */
    intc_err rec_err;   /* why the last recording stopped on its own */
};

/* ---- allocation (creation paths only) ---- */
void *intc__alloc(intc_machine *m, size_t size);
void intc__free(intc_machine *m, void *p, size_t size);

/* ---- callback plumbing ---- */

/* Enter a public call that may change state.  Returns false (and the call
   must return INTC_ERR_BUSY) when called from a restricted callback. */
static inline bool intc__enter(intc_machine *m)
{
    if (m->in_cb)
        return false;
    m->depth++;
    return true;
}

void intc__flush_kicks(intc_machine *m);

/* Something is owed to the host: a kick, a resample or a base change. */
static inline bool intc__owed(const intc_machine *m)
{
    return m->n_owed != 0;
}

/* Leave a public call; the outermost one delivers what is owed.  While
   intc__flush_kicks() runs, depth stays 1, so calls the host makes from
   kick() or eoi() do not flush in turn: the running loop picks their
   kicks up. */
static inline void intc__leave(intc_machine *m)
{
    if (--m->depth || !m->n_owed)
        return;
    if (m->n_owed == 1 && m->kick_tail != m->kick_head) {
        /* The usual single kick, without intc__flush_kicks()'s loop;
           whatever the host's kick() owes in turn goes to the loop. */
        intc_lapic *l = m->kickq[m->kick_head++ & m->kick_mask];
        m->n_owed = 0;
        l->kick_queued = false;
        m->depth = 1;
        m->ops.kick(m->host, l->index);
        m->depth = 0;
        if (!intc__owed(m))
            return;
    }
    intc__flush_kicks(m);
}

#if defined(__GNUC__)
#define INTC_COLD __attribute__((cold, noinline))
#define INTC_INLINE static inline __attribute__((always_inline))
#define INTC_LIKELY(x) __builtin_expect(!!(x), 1)
#define INTC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define INTC_COLD
#define INTC_INLINE static inline
#define INTC_LIKELY(x) (x)
#define INTC_UNLIKELY(x) (x)
#endif

/* Queue a kick of l's CPU for the end of the outermost call. */
INTC_INLINE void intc__kick(intc_machine *m, intc_lapic *l)
{
    if (l->kick_queued || !m->ops.kick)
        return;
    l->kick_queued = true;
    m->kickq[m->kick_tail++ & m->kick_mask] = l;
    m->n_owed++;
}

/* Whether IA32_APIC_BASE differs from what the host was last told in
   what apic_base_changed() reports: the base address, EN, EXTD (not the
   BSP flag alone). */
static inline bool intc__base_differs(const intc_lapic *l)
{
    return ((l->apic_base ^ l->base_reported) & ~INTC_APIC_BASE_BSP) != 0;
}

/* IA32_APIC_BASE of l may have changed: queue apic_base_changed() for the
   end of the outermost call (called only if it then still differs). */
static inline void intc__base_changed(intc_machine *m, intc_lapic *l)
{
    if (!m->ops.apic_base_changed || l->base_queued || !intc__base_differs(l))
        return;
    l->base_queued = true;
    m->baseq[m->base_tail++ & m->kick_mask] = l;
    m->n_owed++;
}

void intc__emit(intc_machine *m, intc_event_type type, uint32_t cpu,
               int32_t vector, uint32_t pin, uint64_t data, uint64_t data2);
void intc__emit_unit(intc_machine *m, intc_event_type type, uint32_t cpu,
                    int32_t vector, uint32_t unit, uint32_t pin,
                    uint64_t data, uint64_t data2);
void intc__queue_resample(intc_machine *m, uint32_t ioapic, uint32_t pin);
void intc__ioapic_timer_arm(intc_machine *m, uint32_t ioapic,
                           uint64_t deadline);

static inline bool intc__tracing(const intc_machine *m)
{
    return m->ops.event != NULL;
}

/* ---- recording (record.c, record_priv.h) ----
 *
 * Every public call that takes the machine (intc__enter) reports itself
 * with INTC_REC just before intc__leave(), i.e. once the operation is
 * complete and before the deferred callbacks run; the host's inputs
 * (clock, guest memory, posted vectors) are reported where they are
 * read.
 *
 * Off, that must cost one predictable test per call and nothing else.
 * A test at the end of a call costs more (the arguments the record needs
 * stay live across the body, in saved registers), so the hot calls test
 * m->rec_calls first thing, arguments still in their registers, and
 * branch (a tail call) to a cold twin, the call's *_rec function:
 *
 *     twin(args): intc__rec_twin_enter(m) (enter, and hold the deferred
 *                 callbacks); the public call itself, which does not
 *                 divert again; intc__rec_twin_leave(m); INTC_REC(...);
 *                 intc__leave(m) (the deferred callbacks, after the record)
 *
 * so the call runs the same code recorded or not.  m->rec cannot become
 * non-NULL during a call (intc_machine_record() is refused from
 * callbacks); it may become NULL (a failed write()), which INTC_REC tests
 * again. */
INTC_COLD void intc__rec_call(intc_machine *m, unsigned op, uint32_t obj,
                              uint64_t a0, uint64_t a1, uint64_t a2,
                              int32_t ret, uint64_t out);

/* Attach (or, NULL, detach) the recorder or replayer. */
static inline void intc__rec_set(intc_machine *m, struct intc__rec *rec)
{
    m->rec = rec;
    m->rec_calls = rec != NULL;
}

/* A cold twin's entry: false (INTC_ERR_BUSY) from a restricted callback.
   The depth it takes keeps the public call it makes from running the
   deferred callbacks, and rec_calls, cleared, from diverting again. */
static inline bool intc__rec_twin_enter(intc_machine *m)
{
    if (!intc__enter(m))
        return false;
    m->rec_calls = false;
    return true;
}

static inline void intc__rec_twin_leave(intc_machine *m)
{
    m->rec_calls = m->rec != NULL;
}

/* Deferred callbacks run so far (free-running): kicks plus the others. */
static inline uint32_t intc__deferred_count(const intc_machine *m)
{
    return m->kick_head + m->n_deferred;
}

#define INTC_REC(m, ...)                                                    \
    do {                                                                    \
        if (INTC_UNLIKELY((m)->rec != NULL))                                \
            intc__rec_call((m), __VA_ARGS__);                               \
    } while (0)

/* The body of a recorded twin: run call (the public function itself)
   inside the recording frame, record it (INTC_REC's arguments after m)
   before the deferred callbacks, then leave.  ret receives the result. */
#define INTC_REC_TWIN(m, ret, call, ...)                                     \
    do {                                                                    \
        if (!intc__rec_twin_enter(m))                                       \
            return INTC_ERR_BUSY;                                           \
        (ret) = (call);                                                     \
        intc__rec_twin_leave(m);                                            \
        INTC_REC((m), __VA_ARGS__);                                         \
        intc__leave(m);                                                     \
    } while (0)

#define INTC_EMIT(m, ...)                                                   \
    do {                                                                    \
        if (intc__tracing(m))                                                \
            intc__emit((m), __VA_ARGS__);                                    \
    } while (0)

/* The host clock (now_ns) read for cpu (INTC_NO_CPU: not for a CPU). */
uint64_t intc__now(intc_machine *m, uint32_t cpu);
void intc__timer_arm(intc_machine *m, uint32_t cpu, uint64_t deadline);

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
uint64_t intc__muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up);

static inline int intc__fls64(uint64_t x) /* index of highest set bit */
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

static inline int intc__popcount32(uint32_t x)
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

static inline int intc__ctz32(uint32_t x)
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

/* ---- the message pipeline (bus.c) ----
 *
 * Every interrupt message, whatever its source, takes one path:
 *
 *   wire (address/data)  --intc__route-->  [remap stage: iommu.c]
 *        |                                    | delivered / blocked / posted
 *        v                                    v
 *   intc__msg_decode (the only decoder)    intc_msg
 *        \_______________ intc_msg ___________/
 *                           |
 *                intc__send / intc__bus_deliver: destinations (bus.c)
 *                           |
 *                intc__lapic_accept: the only writer of IRR/TMR
 *
 * Sources that are not on the wire build their intc_msg directly: an ICR
 * (lapic.c), an IOAPIC entry when no IOMMU remaps (ioapic.c), a posted-
 * interrupt notification (vtd.c).  Events are raised inside this one path
 * behind intc__tracing(); no code runs only when tracing is off.
 */

/* Decode a compatibility-format interrupt message (SDM 11.11): fill msg
   and return 0, or return why it is dropped (enum intc_msi_drop). */
unsigned intc__msg_decode(const intc_machine *m, uint64_t addr,
                          uint32_t data, intc_msg *msg);
/* A device's write of data to addr from requester sid: the interrupt
   window check, the remap stage when enabled, decode, delivery.  Fills
   *res; INTC_ERR_NOT_DECODED for an address outside 0xFEExxxxx. */
intc_err intc__route(intc_machine *m, uint64_t addr, uint32_t data,
                     uint16_t sid, intc_delivery *res);
/* intc__send(): bus_priv.h. */
/* Report a message dropped for reason why (enum intc_msi_drop). */
void intc__dropped(intc_machine *m, uint64_t addr, uint32_t data,
                   uint16_t sid, unsigned why, intc_delivery *res);

intc_err intc__bus_init(intc_machine *m);
void intc__bus_fini(intc_machine *m);
/* Re-file a CPU in the routing maps after its mode, ID, LDR or DFR
   changed.  O(1) (O(LDR bits) for xAPIC logical). */
void intc__bus_update(intc_machine *m, intc_lapic *l);
/* Re-file every CPU in canonical order (ascending index in each chain). */
void intc__bus_rebuild(intc_machine *m);
/* Deliver a message to every APIC its destination matches (or to the one
   lowest-priority winner); except_cpu is skipped (INTC_NO_CPU: none).
   Returns the number of APICs that accepted it (a software-disabled APIC
   refuses fixed messages, any APIC an illegal vector). */
uint32_t intc__bus_deliver(intc_machine *m, const intc_msg *msg,
                          uint32_t except_cpu);
/* Deliver to all hardware-enabled APICs (broadcast / shorthands). */
uint32_t intc__bus_broadcast(intc_machine *m, const intc_msg *msg,
                            uint32_t except_cpu);
/* EOI broadcast for a level-triggered vector (to the IOAPICs). */
void intc__bus_eoi(intc_machine *m, uint32_t cpu, uint8_t vector);
/* ---- msi.c ---- */
void intc__msix_free_all(intc_machine *m);
void intc__msix_reset_all(intc_machine *m);
void intc__msi_free_all(intc_machine *m);
void intc__msi_reset_all(intc_machine *m);

/* Validate the routing maps against the registers (intc_machine_check). */
bool intc__bus_check(const intc_machine *m, char *msg, size_t len);

/* ---- acceptance: the Local APIC's (lapic.c); inline for the bus ----
 * intc__lapic_set_irr is the only writer of IRR and TMR outside INTA,
 * EOI and reset (and snapshot load), for every source: the bus, the
 * LVTs, posted vectors. */

/* Out of line (lapic.c): the refusal of a fixed message (software-
   disabled APIC, illegal vector), and the non-fixed delivery modes. */
void intc__lapic_refuse(intc_lapic *l, uint8_t v, unsigned dm);
bool intc__lapic_accept_other(intc_lapic *l, intc_msg msg);

/* Accept fixed vector v: IRR, IRRV and TMR (11.8.4: TMR follows the
   trigger mode of the interrupt last accepted for the vector; EOI does
   not touch it), then report it.  The host is kicked when the APIC
   gains a deliverable vector it did not have: pending() is a level and
   kick() its rising edge, so a vector arriving while another one is
   already deliverable needs none. */
INTC_INLINE void intc__lapic_set_irr(intc_lapic *l, uint8_t v, bool level)
{
    intc_machine *m = l->m;
    unsigned w = v >> 6;
    uint64_t b = 1ull << (v & 63), old = l->irr[w];
    int16_t prev = l->irrv;
    unsigned ppr = l->ppr & 0xf0u;

    l->irr[w] = old | b;
    l->tmr[w] = (l->tmr[w] & ~b) | (level ? b : 0);
    if (v > prev)
        l->irrv = v;
    INTC_EMIT(m, (old & b) ? INTC_EV_COALESCED : INTC_EV_IRR_SET, l->index,
              v, 0, level, 0);
    if ((v & 0xf0u) > ppr && !(prev >= 0 && (unsigned)(prev & 0xf0) > ppr) &&
        !l->wait_sipi)
        intc__kick(m, l);
}

/* A fixed or lowest-priority interrupt from any source.  Returns whether
   the APIC accepted it. */
INTC_INLINE bool intc__lapic_accept_fixed(intc_lapic *l, uint8_t v,
                                            bool level, unsigned dm)
{
    /* 11.4.7.2: a software-disabled APIC accepts no fixed interrupts;
       11.5.3: vectors 0-15 are illegal and never set in IRR. */
    if (INTC_UNLIKELY(!l->sw_enabled || v < 16)) {
        intc__lapic_refuse(l, v, dm);
        return false;
    }
    intc__lapic_set_irr(l, v, level);
    return true;
}

/* Accept a message that matched this APIC (11.6: by delivery mode). */
INTC_INLINE bool intc__lapic_accept(intc_lapic *l, const intc_msg *msg)
{
    if (INTC_LIKELY(msg->dm <= INTC_DM_LOWEST))
        return intc__lapic_accept_fixed(l, msg->vector, msg->level, msg->dm);
    return intc__lapic_accept_other(l, *msg);
}

#include "bus_priv.h"

/* Raise LVT idx (an edge).  The timer and error LVTs always deliver
   fixed (11.5.1); the other modes, the other LVTs and the perf LVT's
   self-masking are intc__lapic_lvt_fire_other's (lapic.c). */
INTC_INLINE void intc__lapic_lvt_fire(intc_lapic *l, unsigned idx)
{
    uint32_t e = l->lvt[idx];
    if (e & LVT_MASKED)
        return;
    if (idx == INTC_LVT_TIMER || idx == INTC_LVT_ERROR)
        (void)intc__lapic_accept_fixed(l, (uint8_t)(e & LVT_VECTOR), false,
                                       INTC_DM_FIXED);
    else
        intc__lapic_lvt_fire_other(l, idx);
}

#endif /* INTC_INTERNAL_H */
