/*
 * libintc — the Local APIC (Intel SDM vol. 3A ch. 11), xAPIC and x2APIC.
 *
 * Section numbers are those of the SDM vol. 3A chapter 11 ("Advanced
 * Programmable Interrupt Controller"); older editions number it 10.
 *
 * Priorities are kept O(1): the highest IRR and ISR vectors are cached
 * (irrv, isrv) and PPR is recomputed from them only when TPR or ISR
 * changes.  IRR/ISR/TMR are 4 x 64-bit bitmaps; a rescan is 4 words.
 */
#include "internal.h"
#include "snap_priv.h"

#include <stdio.h>

/* ---- register map (Table 11-1; x2APIC Table 11-6) ---- */

/* Per 16-byte slot (offset >> 4): present in xAPIC; readable/writable
   as an x2APIC MSR (0x800 + slot). */
#define RX 1u /* xAPIC register (read and write rules per register) */
#define R2 2u /* RDMSR allowed in x2APIC mode */
#define W2 4u /* WRMSR allowed in x2APIC mode */

static const uint8_t reg_flags[64] = {
    [0x02] = RX | R2,      /* ID: RW xAPIC, RO x2APIC */
    [0x03] = RX | R2,      /* version */
    [0x08] = RX | R2 | W2, /* TPR */
    [0x09] = RX,           /* APR: no x2APIC MSR */
    [0x0a] = RX | R2,      /* PPR */
    [0x0b] = RX | W2,      /* EOI: write-only */
    [0x0c] = RX,           /* RRD: no x2APIC MSR */
    [0x0d] = RX | R2,      /* LDR: RW xAPIC, RO x2APIC */
    [0x0e] = RX,           /* DFR: no x2APIC MSR */
    [0x0f] = RX | R2 | W2, /* SVR */
    [0x10] = RX | R2, [0x11] = RX | R2, [0x12] = RX | R2, [0x13] = RX | R2,
    [0x14] = RX | R2, [0x15] = RX | R2, [0x16] = RX | R2, [0x17] = RX | R2,
    [0x18] = RX | R2, [0x19] = RX | R2, [0x1a] = RX | R2, [0x1b] = RX | R2,
    [0x1c] = RX | R2, [0x1d] = RX | R2, [0x1e] = RX | R2, [0x1f] = RX | R2,
    [0x20] = RX | R2, [0x21] = RX | R2, [0x22] = RX | R2, [0x23] = RX | R2,
    [0x24] = RX | R2, [0x25] = RX | R2, [0x26] = RX | R2, [0x27] = RX | R2,
    [0x28] = RX | R2 | W2, /* ESR */
    [0x2f] = RX | R2 | W2, /* LVT CMCI (if configured) */
    [0x30] = RX | R2 | W2, /* ICR (64-bit MSR in x2APIC) */
    [0x31] = RX,           /* ICR high: no x2APIC MSR */
    [0x32] = RX | R2 | W2, [0x33] = RX | R2 | W2, [0x34] = RX | R2 | W2,
    [0x35] = RX | R2 | W2, [0x36] = RX | R2 | W2, [0x37] = RX | R2 | W2,
    [0x38] = RX | R2 | W2, /* timer initial count */
    [0x39] = RX | R2,      /* timer current count */
    [0x3e] = RX | R2 | W2, /* divide configuration */
    [0x3f] = W2,           /* SELF IPI: x2APIC only, write-only */
};

enum {
    S_ID = 0x02, S_VER = 0x03, S_TPR = 0x08, S_APR = 0x09, S_PPR = 0x0a,
    S_EOI = 0x0b, S_RRD = 0x0c, S_LDR = 0x0d, S_DFR = 0x0e, S_SVR = 0x0f,
    S_ISR = 0x10, S_TMR = 0x18, S_IRR = 0x20, S_ESR = 0x28, S_CMCI = 0x2f,
    S_ICR = 0x30, S_ICR2 = 0x31, S_LVT_TIMER = 0x32, S_LVT_ERROR = 0x37,
    S_TMICT = 0x38, S_TMCCT = 0x39, S_TDCR = 0x3e, S_SELF_IPI = 0x3f
};

/* ICR fields (11.6.1, Figure 11-12; x2APIC Figure 11-28). */
#define ICR_VECTOR 0xffu
#define ICR_DM_SHIFT 8
#define ICR_LOGICAL (1u << 11)
#define ICR_DS (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SH_SHIFT 18
/* Bits an xAPIC ICR low stores (delivery status reads 0: delivery is
   instantaneous here). */
#define ICR_LO_STORED 0x000ccfffu
/* x2APIC: reserved bits 13, 17:16, 31:20 fault (11.12.1.3).  Bit 12
   (delivery status) does not exist in x2APIC; Intel parts ignore a 1
   there (KVM's finding), so it is accepted and dropped. */
#define ICR_X2_ALLOWED 0xffffffff000cdfffull

enum { SH_NONE = 0, SH_SELF = 1, SH_ALL = 2, SH_OTHERS = 3 };

/* LVT bits that are stored, per LVT (Figure 11-8). */
static uint32_t lvt_writable(const intc_lapic *l, unsigned idx)
{
    switch (idx) {
    case INTC_LVT_TIMER:
        return LVT_VECTOR | LVT_MASKED | (1u << 17) |
               (l->m->cfg.tsc_deadline ? 1u << 18 : 0);
    case INTC_LVT_LINT0:
    case INTC_LVT_LINT1:
        return LVT_VECTOR | LVT_DM_MASK | LVT_POLARITY | LVT_LEVEL |
               LVT_MASKED;
    case INTC_LVT_ERROR:
        return LVT_VECTOR | LVT_MASKED;
    default: /* CMCI, thermal, performance counters */
        return LVT_VECTOR | LVT_DM_MASK | LVT_MASKED;
    }
}

/* Bits an x2APIC WRMSR may set without #GP: stored bits plus the
   read-only status bits (which are ignored, not reserved). */
static uint32_t lvt_x2_allowed(const intc_lapic *l, unsigned idx)
{
    uint32_t ro = LVT_DS;
    if (idx == INTC_LVT_LINT0 || idx == INTC_LVT_LINT1)
        ro |= LVT_REMOTE_IRR;
    return lvt_writable(l, idx) | ro;
}

static uint32_t svr_writable(const intc_lapic *l)
{
    /* SVR[9] (focus checking) stays writable even where focus is not
       modelled: Linux sets it unconditionally. SVR[12] exists only with
       directed EOI (11.8.5). */
    return SVR_VECTOR | SVR_ENABLE | SVR_FOCUS_DISABLE |
           (l->m->cfg.directed_eoi ? SVR_EOI_SUPPRESS : 0);
}

static inline bool slot_is_lvt(unsigned slot, unsigned *idx)
{
    if (slot == S_CMCI) {
        *idx = INTC_LVT_CMCI;
        return true;
    }
    if (slot >= S_LVT_TIMER && slot <= S_LVT_ERROR) {
        *idx = INTC_LVT_TIMER + (slot - S_LVT_TIMER);
        return true;
    }
    return false;
}

static bool slot_present(const intc_lapic *l, unsigned slot, uint8_t flag)
{
    if (slot >= 64 || !(reg_flags[slot] & flag))
        return false;
    if (slot == S_CMCI && !l->m->cfg.lvt_cmci)
        return false;
    return true;
}

/* ---- priorities ---- */

static inline int16_t highest(const uint64_t b[4])
{
    for (int w = 3; w >= 0; w--)
        if (b[w])
            return (int16_t)(w * 64 + intc__fls64(b[w]));
    return -1;
}

/* Highest set bit in words w..0 of b (the caller knows the words above
   are clear), -1 if none. */
static inline int16_t highest_upto(const uint64_t b[4], unsigned w)
{
    for (int i = (int)w; i >= 0; i--)
        if (b[i])
            return (int16_t)(i * 64 + intc__fls64(b[i]));
    return -1;
}

static inline bool test_bit(const uint64_t b[4], unsigned v)
{
    return (b[v >> 6] >> (v & 63)) & 1;
}

/* PPR (11.8.3.1): TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4. */
static inline void update_ppr(intc_lapic *l)
{
    uint8_t isrc = l->isrv >= 0 ? (uint8_t)(l->isrv & 0xf0) : 0;
    l->ppr = (l->tpr & 0xf0) >= isrc ? l->tpr : isrc;
}

/* Highest vector of IRR once the posted vectors are folded in (what the
   next call on the APIC's thread will see). */
static int16_t highest_irr_with_pir(const intc_lapic *l)
{
    int16_t v = l->irrv;
    /* A software-disabled APIC will reject them when folded (11.4.7.2). */
    if (l->sw_enabled &&
        atomic_load_explicit(&l->pir_on, memory_order_acquire)) {
        uint64_t w[4];
        uint32_t err = l->lvt[INTC_LVT_ERROR];
        for (int i = 0; i < 4; i++)
            w[i] = atomic_load_explicit(&((intc_lapic *)l)->pir[i],
                                        memory_order_relaxed);
        /* Vectors 0-15 are never delivered: folding one logs "received
           illegal vector" (11.5.3), which raises the error interrupt if
           it is armed and unmasked; that vector then counts. */
        if ((w[0] & 0xffffu) && l->esr_armed && !(err & LVT_MASKED) &&
            (err & LVT_VECTOR) > (uint32_t)(v > 0 ? v : 0) &&
            (err & LVT_VECTOR) >= 16)
            v = (int16_t)(err & LVT_VECTOR);
        w[0] &= ~0xffffull;
        int16_t p = highest(w);
        if (p > v)
            v = p;
    }
    return v;
}

static inline bool intr_deliverable(const intc_lapic *l, int16_t v)
{
    return v >= 0 && (v & 0xf0) > (l->ppr & 0xf0);
}

static void maybe_kick(intc_lapic *l)
{
    if (!l->wait_sipi && intr_deliverable(l, l->irrv))
        intc__kick(l->m, l);
}

uint8_t intc__lapic_apr(const intc_lapic *l)
{
    /* APR (11.6.2.4, Figure 11-15, P6/Pentium):
       IF TPR[7:4] >= IRRV[7:4] AND TPR[7:4] > ISRV[7:4] THEN APR = TPR
       ELSE APR[7:4] = max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]), APR[3:0]=0.
       (The AND is the SDM's own text.)  IRRV/ISRV are 0 when empty. */
    unsigned tpr = l->tpr >> 4;
    unsigned irr = l->irrv >= 0 ? (unsigned)l->irrv >> 4 : 0;
    unsigned isr = l->isrv >= 0 ? (unsigned)l->isrv >> 4 : 0;
    unsigned hi;
    if (tpr >= irr && tpr > isr)
        return l->tpr;
    hi = tpr & isr;
    if (irr > hi)
        hi = irr;
    return (uint8_t)(hi << 4);
}

bool intc__lapic_is_focus(const intc_lapic *l, uint8_t vector)
{
    return !(l->svr & SVR_FOCUS_DISABLE) &&
           (test_bit(l->irr, vector) || test_bit(l->isr, vector));
}

/* ---- acceptance (the inline part is in internal.h) ---- */

static void raise_signal(intc_lapic *l, unsigned sig, intc_event_type ev,
                         int32_t vector)
{
    l->sig |= (uint8_t)sig;
    INTC_EMIT(l->m, ev, l->index, vector, 0, 0, 0);
    intc__kick(l->m, l);
}

void intc__lapic_refuse(intc_lapic *l, uint8_t v, unsigned dm)
{
    /* 11.4.7.2: a software-disabled APIC accepts no fixed interrupts
       (IRR contents already there are held). */
    if (!l->sw_enabled)
        INTC_EMIT(l->m, INTC_EV_REJECTED, l->index, v, 0, dm, 0);
    else /* 11.5.3 / 11.5.2: an illegal vector (0-15) */
        intc__lapic_error(l, INTC_ESR_RECV_ILLEGAL_VECTOR);
}

bool intc__lapic_accept_other(intc_lapic *l, intc_msg msg)
{
    switch (msg.dm) {
    case INTC_DM_SMI:
        raise_signal(l, INTC_PEND_SMI, INTC_EV_SMI, -1);
        break;
    case INTC_DM_NMI:
        raise_signal(l, INTC_PEND_NMI, INTC_EV_NMI, -1);
        break;
    case INTC_DM_INIT:
        /* 11.4.7.4: INIT level de-assert only resynchronises arbitration
           IDs (Pentium/P6); it never resets anything. */
        if (msg.level && !msg.assert)
            break;
        raise_signal(l, INTC_PEND_INIT, INTC_EV_INIT, -1);
        break;
    case INTC_DM_SIPI:
        /* A SIPI is only recognised in wait-for-SIPI (11.4.7.3); an INIT
           already latched but not yet taken counts, since taking it will
           enter that state (an AP only).  A second SIPI while one is
           pending is ignored. */
        if (!(l->wait_sipi ||
              ((l->sig & INTC_PEND_INIT) &&
               !(l->apic_base & INTC_APIC_BASE_BSP))) ||
            (l->sig & INTC_PEND_SIPI)) {
            INTC_EMIT(l->m, INTC_EV_REJECTED, l->index, msg.vector, 0,
                      msg.dm, 0);
            return false;
        }
        l->sipi_vector = msg.vector;
        raise_signal(l, INTC_PEND_SIPI, INTC_EV_SIPI, msg.vector);
        break;
    case INTC_DM_EXTINT:
        raise_signal(l, INTC_PEND_EXTINT, INTC_EV_EXTINT, -1);
        break;
    default: /* 011b reserved */
        INTC_EMIT(l->m, INTC_EV_REJECTED, l->index, msg.vector, 0, msg.dm,
                  0);
        return false;
    }
    return true;
}

/* ---- errors (11.5.3) ---- */

/*
 * Errors accumulate in esr_pending; a write to ESR latches them into the
 * readable ESR and re-arms the error interrupt.  The error interrupt
 * (LVT Error) is signalled by the first error after a re-arm ("this write
 * also rearms the APIC error interrupt triggering mechanism"), so a guest
 * whose error handler itself errs cannot loop.
 */
void intc__lapic_error(intc_lapic *l, uint32_t bits)
{
    l->esr_pending |= bits;
    INTC_EMIT(l->m, INTC_EV_ESR_ERROR, l->index, -1, 0, bits, l->esr_pending);
    /* The arm is used up only by an error interrupt actually raised: a
       masked LVT Error leaves it armed, so unmasking and erring again
       interrupts. */
    if (l->esr_armed && !(l->lvt[INTC_LVT_ERROR] & LVT_MASKED)) {
        l->esr_armed = false;
        intc__lapic_lvt_fire(l, INTC_LVT_ERROR);
    }
}

/* ---- LVT ---- */

static inline bool lvt_has_dm(unsigned idx)
{
    return idx != INTC_LVT_TIMER && idx != INTC_LVT_ERROR;
}

/* Deliver an (edge) local interrupt from LVT idx if unmasked: the cases
   intc__lapic_lvt_fire() (internal.h) does not take inline. */
void intc__lapic_lvt_fire_other(intc_lapic *l, unsigned idx)
{
    uint32_t e = l->lvt[idx];
    unsigned dm = lvt_has_dm(idx) ? (e & LVT_DM_MASK) >> LVT_DM_SHIFT
                                  : INTC_DM_FIXED;
    uint8_t v = (uint8_t)(e & LVT_VECTOR);

    if (e & LVT_MASKED)
        return;
    switch (dm) {
    case INTC_DM_FIXED:
        intc__lapic_accept_fixed(l, v, false, dm);
        break;
    case INTC_DM_SMI:
        raise_signal(l, INTC_PEND_SMI, INTC_EV_SMI, -1);
        break;
    case INTC_DM_NMI:
        raise_signal(l, INTC_PEND_NMI, INTC_EV_NMI, -1);
        break;
    case INTC_DM_INIT:
        /* 11.5.1: INIT is not supported for CMCI, thermal, perf. */
        if (idx == INTC_LVT_LINT0 || idx == INTC_LVT_LINT1) {
            raise_signal(l, INTC_PEND_INIT, INTC_EV_INIT, -1);
            break;
        }
        /* fall through */
    default:
        /* Reserved modes, ExtINT outside LINT0/1: nothing is sent. */
        INTC_EMIT(l->m, INTC_EV_REJECTED, l->index, v, idx, dm, 0);
        break;
    }
    /* Intel parts mask LVT PMI when they deliver a performance-monitoring
       interrupt (Linux re-unmasks it in its PMI handler; KVM models the
       same). */
    if (idx == INTC_LVT_PERF)
        l->lvt[idx] |= LVT_MASKED;
}

static void set_remote_irr(intc_lapic *l, unsigned idx, bool on)
{
    uint32_t old = l->lvt[idx];
    if (on)
        l->lvt[idx] |= LVT_REMOTE_IRR;
    else
        l->lvt[idx] &= ~LVT_REMOTE_IRR;
    if (old != l->lvt[idx])
        INTC_EMIT(l->m, INTC_EV_LVT_REMOTE_IRR, l->index,
                  (int32_t)(old & LVT_VECTOR), idx, on, 0);
}

/*
 * Evaluate LINT pin after its level or its LVT entry changed.  was is
 * the previous electrical level (equal to the current one when only the
 * LVT changed: then only level semantics can deliver).  11.5.1: NMI, SMI
 * and INIT are edge-sensitive, ExtINT level-sensitive, Fixed follows the
 * trigger bit except on LINT1, which has no level mode (treated as edge).
 */
static void lint_eval(intc_lapic *l, unsigned pin, bool was)
{
    unsigned idx = INTC_LVT_LINT0 + pin;
    uint32_t e = l->lvt[idx];
    bool active_low = e & LVT_POLARITY;
    bool asserted = l->lint_level[pin] != active_low;
    bool rising = asserted && (was == active_low);
    unsigned dm = (e & LVT_DM_MASK) >> LVT_DM_SHIFT;

    if (e & LVT_MASKED)
        return;
    switch (dm) {
    case INTC_DM_FIXED:
        if ((e & LVT_LEVEL) && pin == 0) {
            uint8_t v = (uint8_t)(e & LVT_VECTOR);
            if (!asserted || (e & LVT_REMOTE_IRR))
                break;
            if (!l->sw_enabled || v < 16) {
                intc__lapic_accept_fixed(l, v, true, dm); /* rejects and reports */
                break;
            }
            set_remote_irr(l, idx, true);
            intc__lapic_set_irr(l, v, true);
        } else if (rising) {
            intc__lapic_lvt_fire(l, idx);
        }
        break;
    case INTC_DM_EXTINT:
        /* A level: intc_lapic_pending() looks at the pin itself. */
        if (asserted)
            intc__kick(l->m, l);
        break;
    default:
        if (rising)
            intc__lapic_lvt_fire(l, idx);
        break;
    }
}

static void write_lvt(intc_lapic *l, unsigned idx, uint32_t val)
{
    uint32_t old = l->lvt[idx];
    uint32_t nv = val & lvt_writable(l, idx);

    if (idx == INTC_LVT_TIMER)
        intc__timer_catch_up(l); /* what is due goes out with the old LVT */
    if (idx == INTC_LVT_LINT0 || idx == INTC_LVT_LINT1) {
        nv |= old & LVT_REMOTE_IRR;
        /* Remote IRR has no meaning for edge entries (11.5.1). */
        if (!(nv & LVT_LEVEL))
            nv &= ~LVT_REMOTE_IRR;
    }
    /* 11.4.7.2: while software-disabled the mask bits stay set. */
    if (!l->sw_enabled)
        nv |= LVT_MASKED;
    l->lvt[idx] = nv;
    if ((old & LVT_REMOTE_IRR) && !(nv & LVT_REMOTE_IRR))
        INTC_EMIT(l->m, INTC_EV_LVT_REMOTE_IRR, l->index,
                  (int32_t)(old & LVT_VECTOR), idx, 0, 0);
    if (idx == INTC_LVT_TIMER)
        intc__timer_write_lvt(l, old, nv);
    else if (idx == INTC_LVT_LINT0 || idx == INTC_LVT_LINT1) {
        unsigned pin = idx - INTC_LVT_LINT0;
        lint_eval(l, pin, l->lint_level[pin] ^ 0);
    }
}

/* ---- EOI ---- */

/* The EOI of a level-triggered vector v. */
static INTC_COLD void eoi_level(intc_lapic *l, uint8_t v)
{
    /* Local level sources: LINT Remote IRR (11.5.1), then look at the
       line as it is now. */
    for (unsigned pin = 0; pin < 2; pin++) {
        unsigned idx = INTC_LVT_LINT0 + pin;
        if ((l->lvt[idx] & LVT_REMOTE_IRR) &&
            (l->lvt[idx] & LVT_VECTOR) == v) {
            set_remote_irr(l, idx, false);
            lint_eval(l, pin, l->lint_level[pin]);
        }
    }
    /* 11.8.5: with SVR[12] set the EOI is not broadcast; software sends
       a directed EOI to the IOAPIC's EOI register instead. */
    if (!(l->svr & SVR_EOI_SUPPRESS))
        intc__bus_eoi(l->m, l->index, v);
}

static void do_eoi(intc_lapic *l)
{
    int16_t v = l->isrv;
    bool level;

    if (INTC_UNLIKELY(v < 0)) {
        INTC_EMIT(l->m, INTC_EV_EOI, l->index, -1, 0, 0, 0);
        return;
    }
    /* v is the highest ISR bit, so the next one is in its word or
       below. */
    l->isr[v >> 6] &= ~(1ull << (v & 63));
    l->isrv = highest_upto(l->isr, (unsigned)v >> 6);
    update_ppr(l);
    level = test_bit(l->tmr, (unsigned)v);
    INTC_EMIT(l->m, INTC_EV_EOI, l->index, v, 0, level, 0);
    if (INTC_UNLIKELY(level))
        eoi_level(l, (uint8_t)v);
    maybe_kick(l);
}

/* ---- IPIs (11.6) ---- */

static void send_ipi(intc_lapic *l, uint64_t icr, bool x2)
{
    intc_machine *m = l->m;
    uint8_t v = (uint8_t)(icr & ICR_VECTOR);
    unsigned dm = (unsigned)(icr >> ICR_DM_SHIFT) & 7;
    unsigned sh = (unsigned)(icr >> ICR_SH_SHIFT) & 3;
    bool assert = icr & ICR_ASSERT;
    bool trig_level = icr & ICR_LEVEL;
    uint32_t n = 0;
    intc_msg msg;

    /* 11.5.3: a lowest-priority IPI on a part that cannot send one sets
       only the redirectable-IPI bit and is not processed. */
    if (dm == INTC_DM_LOWEST && !m->cfg.lowest_priority_ipi) {
        intc__lapic_error(l, INTC_ESR_REDIRECTABLE_IPI);
        return;
    }
    /* 11.5.3 bit 5: an illegal vector in a fixed/lowest-priority IPI.
       The SDM does not say whether it still goes out; like Xen and
       bhyve, libintc does not send it. */
    if ((dm == INTC_DM_FIXED || dm == INTC_DM_LOWEST) && v < 16) {
        intc__lapic_error(l, INTC_ESR_SEND_ILLEGAL_VECTOR);
        return;
    }

    /* Delivery mode 011b is reserved in the ICR: nothing is sent. */
    if (dm == INTC_DM_RESERVED3) {
        INTC_EMIT(m, INTC_EV_REJECTED, l->index, v, 0, dm, sh);
        INTC_EMIT(m, INTC_EV_IPI, l->index, v, 0, icr, 0);
        return;
    }

    msg.dest = x2 ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56);
    msg.src_cpu = l->index;
    msg.vector = v;
    msg.dm = (uint8_t)dm;
    msg.logical = icr & ICR_LOGICAL;
    msg.x2apic_format = x2;
    /* Pentium 4 and later issue every IPI edge-triggered (Table 11-3
       footnote 2); only INIT level de-assert keeps trigger=level,
       level=0, and it changes nothing at the receivers. */
    msg.level = dm == INTC_DM_INIT && trig_level && !assert;
    msg.assert = !msg.level;

    switch (sh) {
    case SH_NONE:
        n = intc__deliver(m, &msg, INTC_NO_CPU);
        if (n == 0) {
            INTC_EMIT(m, INTC_EV_NO_TARGET, l->index, v, 0, msg.dest, dm);
            /* P6/Pentium: nobody accepted the message on the APIC bus. */
            if (m->cfg.apic_bus_errors)
                intc__lapic_error(l, INTC_ESR_SEND_ACCEPT);
        }
        break;
    case SH_SELF:
        /* Table 11-3: only Fixed is valid with the self shorthand. */
        if (dm == INTC_DM_FIXED)
            n = intc__lapic_accept(l, &msg);
        break;
    case SH_ALL:
        /* Table 11-3: only Fixed is valid with all-including-self (and
           the INIT de-assert, which changes nothing). */
        if (dm == INTC_DM_FIXED)
            n = intc__bus_broadcast(m, &msg, INTC_NO_CPU);
        break;
    case SH_OTHERS:
        n = intc__bus_broadcast(m, &msg, l->index);
        break;
    }
    if (n == 0 && sh != SH_NONE && !(msg.level && !msg.assert))
        INTC_EMIT(m, INTC_EV_REJECTED, l->index, v, 0, dm, sh);
    INTC_EMIT(m, INTC_EV_IPI, l->index, v, 0, icr, n);
}

/* ---- register access ---- */

static uint32_t read_reg(intc_lapic *l, unsigned slot)
{
    const intc_machine_config *cfg = &l->m->cfg;
    unsigned idx;

    if (slot_is_lvt(slot, &idx))
        return l->lvt[idx];
    if (slot >= S_ISR && slot < S_ISR + 8)
        return (uint32_t)(l->isr[(slot - S_ISR) >> 1] >>
                          (32 * ((slot - S_ISR) & 1)));
    if (slot >= S_TMR && slot < S_TMR + 8)
        return (uint32_t)(l->tmr[(slot - S_TMR) >> 1] >>
                          (32 * ((slot - S_TMR) & 1)));
    if (slot >= S_IRR && slot < S_IRR + 8)
        return (uint32_t)(l->irr[(slot - S_IRR) >> 1] >>
                          (32 * ((slot - S_IRR) & 1)));
    switch (slot) {
    case S_ID:
        return l->mode == INTC_MODE_X2APIC ? l->initial_id
                                           : (uint32_t)l->xapic_id << 24;
    case S_VER:
        /* 11.4.8: version, max LVT entry, EOI-broadcast suppression. */
        return cfg->lapic_version | (cfg->lvt_cmci ? 6u : 5u) << 16 |
               (cfg->directed_eoi ? 1u << 24 : 0);
    case S_TPR:
        return l->tpr;
    case S_APR:
        return intc__lapic_apr(l);
    case S_PPR:
        return l->ppr;
    case S_LDR:
        return l->ldr;
    case S_DFR:
        return l->dfr;
    case S_SVR:
        return l->svr;
    case S_ESR:
        return l->esr;
    case S_ICR:
        return (uint32_t)l->icr;
    case S_ICR2:
        return (uint32_t)(l->icr >> 32);
    case S_TMICT:
        return l->timer_icr;
    case S_TMCCT:
        return intc__timer_read_ccr(l);
    case S_TDCR:
        return l->timer_dcr;
    default: /* EOI, RRD (write-only / unsupported): read 0 */
        return 0;
    }
}

static void write_svr(intc_lapic *l, uint32_t val)
{
    bool was = l->sw_enabled;
    l->svr = val & svr_writable(l);
    l->sw_enabled = l->svr & SVR_ENABLE;
    if (was && !l->sw_enabled) {
        /* 11.4.7.2: software disable sets every LVT mask bit. */
        for (unsigned i = 0; i < INTC_LVT_COUNT; i++)
            l->lvt[i] |= LVT_MASKED;
    }
}

static void write_tpr(intc_lapic *l, uint8_t tpr)
{
    l->tpr = tpr;
    update_ppr(l);
    maybe_kick(l);
}

static void self_ipi(intc_lapic *l, uint8_t v)
{
    /* 11.12.11: SELF IPI = fixed, edge, self shorthand.  An illegal
       vector is both sent and received here (11.5.3 bits 5 and 6). */
    if (v < 16) {
        intc__lapic_error(l, INTC_ESR_SEND_ILLEGAL_VECTOR |
                                INTC_ESR_RECV_ILLEGAL_VECTOR);
        return;
    }
    /* data2 counts the APICs that accepted it: 0 when software-disabled */
    bool ok = intc__lapic_accept_fixed(l, v, false, INTC_DM_FIXED);
    INTC_EMIT(l->m, INTC_EV_IPI, l->index, v, 0,
              (uint64_t)v | (uint64_t)SH_SELF << ICR_SH_SHIFT, ok);
}

/* The architectural write of a (present, writable) register.  For x2APIC
   the caller has already refused reserved bits with #GP. */
static void write_reg(intc_lapic *l, unsigned slot, uint64_t val, bool x2)
{
    uint32_t v32 = (uint32_t)val;
    unsigned idx;

    if (slot_is_lvt(slot, &idx)) {
        write_lvt(l, idx, v32);
        return;
    }
    switch (slot) {
    case S_ID:
        if (!x2) {
            /* 11.4.6: software may change the xAPIC ID (model specific;
               every peer allows it). */
            l->xapic_id = (uint8_t)(v32 >> 24);
            intc__bus_update(l->m, l);
        }
        break;
    case S_TPR:
        write_tpr(l, (uint8_t)v32);
        break;
    case S_EOI:
        do_eoi(l);
        break;
    case S_LDR:
        if (!x2) {
            l->ldr = v32 & 0xff000000u;
            intc__bus_update(l->m, l);
        }
        break;
    case S_DFR:
        if (!x2) {
            l->dfr = v32 | 0x0fffffffu; /* bits 27:0 read as 1s */
            intc__bus_update(l->m, l);
        }
        break;
    case S_SVR:
        write_svr(l, v32);
        break;
    case S_ESR:
        /* Write-to-latch (11.5.3). */
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        l->esr_armed = true;
        break;
    case S_ICR:
        if (x2) {
            l->icr = val & ICR_X2_ALLOWED & ~(uint64_t)ICR_DS;
            send_ipi(l, l->icr, true);
        } else {
            l->icr = (l->icr & 0xffffffff00000000ull) | (v32 & ICR_LO_STORED);
            send_ipi(l, l->icr, false);
        }
        break;
    case S_ICR2:
        l->icr = (l->icr & 0xffffffffull) |
                 (uint64_t)(v32 & 0xff000000u) << 32;
        break;
    case S_TMICT:
        intc__timer_write_icr(l, v32);
        break;
    case S_TDCR:
        intc__timer_write_dcr(l, v32 & 0xbu);
        break;
    case S_SELF_IPI:
        self_ipi(l, (uint8_t)v32);
        break;
    default: /* read-only registers: writes ignored in xAPIC mode */
        break;
    }
}

/* Reserved-bit mask (bits that may be 1) of an x2APIC WRMSR. */
static uint64_t x2_allowed(const intc_lapic *l, unsigned slot)
{
    unsigned idx;
    if (slot_is_lvt(slot, &idx))
        return lvt_x2_allowed(l, idx);
    switch (slot) {
    case S_TPR:
        return 0xff;
    case S_SVR:
        return svr_writable(l);
    case S_EOI: /* 11.12.1.2: only 0 may be written */
    case S_ESR:
        return 0;
    case S_ICR:
        return ICR_X2_ALLOWED;
    case S_TMICT:
        return 0xffffffffu;
    case S_TDCR:
        return 0xb;
    case S_SELF_IPI:
        return 0xff;
    default:
        return 0;
    }
}

/* ---- posted interrupts ---- */

/* Fold posted vectors into IRR.  Only the bits taken from pir have their
   trigger read (and cleared) from pir_level, so a post racing this fold
   keeps its trigger mode. */
static INTC_COLD void fold_pir_slow(intc_lapic *l)
{
    uint64_t bits[4], lv[4], any = 0;
    atomic_store_explicit(&l->pir_on, 0, memory_order_seq_cst);
    for (unsigned w = 0; w < 4; w++) {
        bits[w] = atomic_exchange(&l->pir[w], 0);
        lv[w] = bits[w] ? atomic_fetch_and(&l->pir_level[w], ~bits[w]) &
                              bits[w]
                        : 0;
        any |= bits[w];
    }
    /* What was taken is a host input of the running call (record.h);
       a replay posts it again before the call, so this fold finds it. */
    if (any && l->m->rec)
        intc__rec_fold(l->m, l->index, bits, lv);
    for (unsigned w = 0; w < 4; w++) {
        while (bits[w]) {
            unsigned b = (unsigned)intc__fls64(bits[w]);
            bits[w] &= ~(1ull << b);
            intc__lapic_accept_fixed(l, (uint8_t)(w * 64 + b),
                                     (lv[w] >> b) & 1, INTC_DM_FIXED);
        }
    }
}

static inline void fold_pir(intc_lapic *l)
{
    if (INTC_UNLIKELY(atomic_load_explicit(&l->pir_on, memory_order_acquire)))
        fold_pir_slow(l);
}

void intc__lapic_fold_pir(intc_lapic *l)
{
    fold_pir(l);
}

static inline bool lapic_enter(intc_lapic *l)
{
    if (!intc__enter(l->m))
        return false;
    fold_pir(l);
    return true;
}

int intc_lapic_post(intc_lapic *l, uint8_t vector, bool level)
{
    unsigned w = vector >> 6;
    uint64_t b = 1ull << (vector & 63);
    if (!l)
        return 0;
    if (level)
        atomic_fetch_or(&l->pir_level[w], b);
    atomic_fetch_or(&l->pir[w], b);
    return atomic_exchange(&l->pir_on, 1) == 0;
}

intc_err intc_lapic_sync_pir(intc_lapic *l, const uint64_t pir[4])
{
    if (!l)
        return INTC_ERR_INVAL;
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (pir) {
        for (unsigned w = 0; w < 4; w++) {
            uint64_t bits = pir[w];
            while (bits) {
                unsigned b = (unsigned)intc__fls64(bits);
                bits &= ~(1ull << b);
                intc__lapic_accept_fixed(l, (uint8_t)(w * 64 + b), false, INTC_DM_FIXED);
            }
        }
    }
    if (INTC_UNLIKELY(l->m->rec != NULL))
        intc__rec_call_blob(l->m, INTC__OP_LAPIC_SYNC_PIR, l->index,
                            pir != NULL, 0, 0, INTC_OK, 0, pir,
                            pir ? 4 * sizeof(uint64_t) : 0);
    intc__leave(l->m);
    return INTC_OK;
}

/* ---- MMIO ---- */

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err mmio_read_rec(intc_lapic *l, uint32_t off,
                                        unsigned size, uint64_t *val)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_mmio_read(l, off, size, val),
                  INTC__OP_LAPIC_MMIO_READ, l->index, off, size, 0, ret,
                  ret ? 0 : *val);
    return ret;
}

intc_err intc_lapic_mmio_read(intc_lapic *l, uint32_t off, unsigned size,
                              uint64_t *val)
{
    uint64_t out = 0;
    bool illegal = false;

    if (!l || !val || (size != 1 && size != 2 && size != 4 && size != 8) ||
        off >= 4096 || off + size > 4096)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return mmio_read_rec(l, off, size, val);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (l->mode != INTC_MODE_XAPIC) {
        intc__leave(l->m);
        return INTC_ERR_NOT_DECODED;
    }
    /* The architectural access: an aligned 32-bit load of a register. */
    if (size == 4 && !(off & 15) && slot_present(l, off >> 4, RX)) {
        *val = read_reg(l, off >> 4);
        intc__leave(l->m);
        return INTC_OK;
    }
    /* Any other shape: the register view, each slot's register in its
       bytes 0-3. */
    unsigned first = off >> 4, last = (off + size - 1) >> 4;
    for (unsigned slot = first; slot <= last; slot++) {
        uint32_t r;
        if (!slot_present(l, slot, RX)) {
            illegal = true;
            continue;
        }
        r = read_reg(l, slot);
        for (unsigned i = 0; i < size; i++) {
            uint32_t a = off + i;
            if ((a >> 4) == slot && (a & 15) < 4)
                out |= (uint64_t)((r >> (8 * (a & 15))) & 0xff) << (8 * i);
        }
    }
    if (illegal)
        intc__lapic_error(l, INTC_ESR_ILLEGAL_REGISTER);
    *val = out;
    intc__leave(l->m);
    return INTC_OK;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err mmio_write_rec(intc_lapic *l, uint32_t off,
                                         unsigned size, uint64_t val)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_mmio_write(l, off, size, val),
                  INTC__OP_LAPIC_MMIO_WRITE, l->index, off, size, val, ret, 0);
    return ret;
}

intc_err intc_lapic_mmio_write(intc_lapic *l, uint32_t off, unsigned size,
                               uint64_t val)
{
    if (!l || (size != 1 && size != 2 && size != 4 && size != 8) ||
        off >= 4096 || off + size > 4096)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return mmio_write_rec(l, off, size, val);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (l->mode != INTC_MODE_XAPIC) {
        intc__leave(l->m);
        return INTC_ERR_NOT_DECODED;
    }
    if (off == S_EOI << 4 && size == 4) {
        /* EOI, the hot write: present, aligned, any value. */
        do_eoi(l);
        intc__leave(l->m);
        return INTC_OK;
    }
    unsigned slot = off >> 4;
    if (!slot_present(l, slot, RX) ||
        !slot_present(l, (off + size - 1) >> 4, RX)) {
        intc__lapic_error(l, INTC_ESR_ILLEGAL_REGISTER);
    }
    if (size != 4 || (off & 15)) {
        /* 11.4.1: registers are written with aligned 32-bit stores;
           other stores are model specific.  Here: ignored, reported
           (also when they touch a reserved slot, lapic.h). */
        INTC_EMIT(l->m, INTC_EV_BAD_ACCESS, l->index, -1, off, size, val);
    } else if (slot_present(l, slot, RX)) {
        write_reg(l, slot, val & 0xffffffffu, false);
    }
    intc__leave(l->m);
    return INTC_OK;
}

/* ---- IA32_APIC_BASE (11.4.4, 11.12.5) ---- */

static inline uint32_t x2apic_ldr(uint32_t id)
{
    return ((id >> 4) & 0xffffu) << 16 | 1u << (id & 0xf);
}

/* Power-up register state (11.4.7.1), leaving mode, IA32_APIC_BASE and
   the xAPIC ID to the caller. */
static void reset_registers(intc_lapic *l)
{
    memset(l->irr, 0, sizeof(l->irr));
    memset(l->isr, 0, sizeof(l->isr));
    memset(l->tmr, 0, sizeof(l->tmr));
    l->irrv = -1;
    l->isrv = -1;
    l->tpr = 0;
    l->ppr = 0;
    l->sig = 0;
    l->wait_sipi = false;
    l->sipi_vector = 0;
    l->svr = 0xff;
    l->sw_enabled = false;
    l->ldr = l->mode == INTC_MODE_X2APIC ? x2apic_ldr(l->initial_id) : 0;
    l->dfr = 0xffffffffu;
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++)
        l->lvt[i] = LVT_MASKED;
    l->icr = 0;
    l->esr = 0;
    l->esr_pending = 0;
    l->esr_armed = true;
    for (unsigned w = 0; w < 4; w++) {
        atomic_store(&l->pir[w], 0);
        atomic_store(&l->pir_level[w], 0);
    }
    atomic_store(&l->pir_on, 0);
    intc__timer_reset(l);
}

void intc__lapic_do_reset(intc_lapic *l, bool init_only)
{
    if (!init_only) {
        l->apic_base = INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN |
                       (l->index == l->m->cfg.bsp ? INTC_APIC_BASE_BSP : 0);
        l->mode = INTC_MODE_XAPIC;
        l->xapic_id = (uint8_t)l->initial_id;
    }
    /* INIT keeps IA32_APIC_BASE, so x2APIC mode survives it with its ID
       (11.12.5.1); the LDR is re-derived there. */
    reset_registers(l);
    intc__bus_update(l->m, l);
    intc__base_changed(l->m, l);
}

void intc__lapic_init_one(intc_lapic *l, intc_machine *m, uint32_t index,
                         uint32_t id)
{
    memset(l, 0, sizeof(*l));
    l->m = m;
    l->index = index;
    l->initial_id = id;
    l->xapic_id = (uint8_t)id;
    l->deadline = UINT64_MAX;
    l->rt.p8_key = -1;
    l->rt.x2l_next = -1;
    atomic_init(&l->pir_on, 0);
    for (unsigned w = 0; w < 4; w++) {
        atomic_init(&l->pir[w], 0);
        atomic_init(&l->pir_level[w], 0);
    }
}

static intc_err write_apic_base(intc_lapic *l, uint64_t v)
{
    const intc_machine_config *cfg = &l->m->cfg;
    uint64_t rsv = 0x2ffull | ~((1ull << cfg->phys_addr_bits) - 1);
    uint64_t old = l->apic_base;
    unsigned from = l->mode, to;

    if (!cfg->x2apic)
        rsv |= INTC_APIC_BASE_EXTD;
    if (v & rsv)
        return INTC_ERR_GP;
    if (!(v & INTC_APIC_BASE_EN))
        to = (v & INTC_APIC_BASE_EXTD) ? 99u : INTC_MODE_DISABLED;
    else
        to = (v & INTC_APIC_BASE_EXTD) ? INTC_MODE_X2APIC : INTC_MODE_XAPIC;
    /* 11.12.5, Figure 11-27: EN=0/EXTD=1 is invalid; x2APIC -> xAPIC and
       disabled -> x2APIC are illegal transitions. */
    if (to == 99u || (from == INTC_MODE_X2APIC && to == INTC_MODE_XAPIC) ||
        (from == INTC_MODE_DISABLED && to == INTC_MODE_X2APIC))
        return INTC_ERR_GP;

    l->apic_base = v;
    if (to != from) {
        l->mode = (uint8_t)to;
        if (to == INTC_MODE_DISABLED) {
            /* 11.4.3: a global disable may lose all state and return the
               APIC to its power-up state; libintc always does, so the
               re-enabled APIC is in a defined state: the power-up state
               of 11.4.7.1, the xAPIC ID included (the initial APIC ID's
               low 8 bits; a guest-written ID is gone), as KVM does
               (kvm_lapic_set_base -> kvm_apic_set_xapic_id on enable). */
            l->xapic_id = (uint8_t)l->initial_id;
            reset_registers(l);
        } else if (to == INTC_MODE_X2APIC) {
            /* 11.12.5.1: the x2APIC ID is the initial APIC ID, the LDR is
               derived; the rest of the state carries over. */
            l->ldr = x2apic_ldr(l->initial_id);
        }
        intc__bus_update(l->m, l);
    }
    INTC_EMIT(l->m, INTC_EV_APIC_BASE, l->index, -1, 0, v, old);
    intc__base_changed(l->m, l);
    return INTC_OK;
}

/* ---- MSRs ---- */

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err msr_read_rec(intc_lapic *l, uint32_t msr,
                                       uint64_t *val)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_msr_read(l, msr, val),
                  INTC__OP_LAPIC_MSR_READ, l->index, msr, 0, 0, ret,
                  ret ? 0 : *val);
    return ret;
}

intc_err intc_lapic_msr_read(intc_lapic *l, uint32_t msr, uint64_t *val)
{
    intc_err err = INTC_OK;
    if (!l || !val)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return msr_read_rec(l, msr, val);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (msr == INTC_MSR_APIC_BASE) {
        *val = l->apic_base;
    } else if (msr == INTC_MSR_TSC_DEADLINE) {
        if (!l->m->cfg.tsc_deadline)
            err = INTC_ERR_GP;
        else
            *val = intc__timer_read_tsc_deadline(l);
    } else if (msr >= INTC_MSR_X2APIC_FIRST && msr <= INTC_MSR_X2APIC_LAST) {
        unsigned slot = msr - INTC_MSR_X2APIC_FIRST;
        if (l->mode != INTC_MODE_X2APIC || !slot_present(l, slot, R2))
            err = INTC_ERR_GP;
        else if (slot == S_ICR)
            *val = l->icr;
        else
            *val = read_reg(l, slot);
    } else {
        err = INTC_ERR_NOT_DECODED;
    }
    intc__leave(l->m);
    return err;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err msr_write_rec(intc_lapic *l, uint32_t msr,
                                        uint64_t val)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_msr_write(l, msr, val),
                  INTC__OP_LAPIC_MSR_WRITE, l->index, msr, val, 0, ret, 0);
    return ret;
}

intc_err intc_lapic_msr_write(intc_lapic *l, uint32_t msr, uint64_t val)
{
    intc_err err = INTC_OK;
    if (!l)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return msr_write_rec(l, msr, val);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (msr == INTC_MSR_X2APIC_FIRST + S_EOI && val == 0 &&
        l->mode == INTC_MODE_X2APIC) {
        /* EOI, the hot WRMSR (only 0 is accepted, 11.12.1.3). */
        do_eoi(l);
        intc__leave(l->m);
        return INTC_OK;
    }
    if (msr == INTC_MSR_APIC_BASE) {
        err = write_apic_base(l, val);
    } else if (msr == INTC_MSR_TSC_DEADLINE) {
        if (!l->m->cfg.tsc_deadline)
            err = INTC_ERR_GP;
        else
            err = intc__timer_write_tsc_deadline(l, val);
    } else if (msr >= INTC_MSR_X2APIC_FIRST && msr <= INTC_MSR_X2APIC_LAST) {
        unsigned slot = msr - INTC_MSR_X2APIC_FIRST;
        /* 11.12.1.2-3: outside x2APIC mode, absent, read-only registers
           and non-zero reserved bits all #GP. */
        if (l->mode != INTC_MODE_X2APIC || !slot_present(l, slot, W2) ||
            (val & ~x2_allowed(l, slot)))
            err = INTC_ERR_GP;
        else
            write_reg(l, slot, val, true);
    } else {
        err = INTC_ERR_NOT_DECODED;
    }
    intc__leave(l->m);
    return err;
}

/* ---- CPU interface ---- */

unsigned intc_lapic_pending(const intc_lapic *l)
{
    unsigned p;
    if (!l)
        return 0;
    p = l->sig;
    if (l->mode == INTC_MODE_DISABLED) {
        /* Through-local mode: LINT0 is the CPU's INTR (from the 8259). */
        if (l->lint_level[0])
            p |= INTC_PEND_EXTINT;
    } else {
        for (unsigned pin = 0; pin < 2; pin++) {
            uint32_t e = l->lvt[INTC_LVT_LINT0 + pin];
            if (!(e & LVT_MASKED) &&
                ((e & LVT_DM_MASK) >> LVT_DM_SHIFT) == INTC_DM_EXTINT &&
                l->lint_level[pin] != !!(e & LVT_POLARITY))
                p |= INTC_PEND_EXTINT;
        }
        if (intr_deliverable(l, highest_irr_with_pir(l)))
            p |= INTC_PEND_INTR;
    }
    if (l->wait_sipi)
        p &= INTC_PEND_INIT | INTC_PEND_SIPI;
    return p;
}

/* The INTA return codes stay clear of vectors and of the error codes. */
_Static_assert(INTC_ACK_NONE == -1 && INTC_ACK_SPURIOUS(0) > 255 &&
                   INTC_ACK_SPURIOUS(255) < 512,
               "INTA codes overlap vectors");
_Static_assert(INTC_ERR_BUSY < INTC_ACK_NONE, "INTA codes overlap errors");

/* What INTA would do now (lapic.h), v being the highest IRR vector with
   the posted ones. */
static int ack_result(const intc_lapic *l, int16_t v)
{
    if (l->mode == INTC_MODE_DISABLED || l->wait_sipi || v < 0)
        return INTC_ACK_NONE;
    if (!intr_deliverable(l, v))
        return INTC_ACK_SPURIOUS(l->svr & SVR_VECTOR);
    return v;
}

int intc_lapic_ack_peek(const intc_lapic *l)
{
    if (!l)
        return INTC_ACK_NONE;
    /* Posted vectors count as ack would fold them first (a
       software-disabled APIC would reject them: not counted). */
    return ack_result(l, highest_irr_with_pir(l));
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static int ack_rec(intc_lapic *l)
{
    int ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_ack(l),
                  INTC__OP_LAPIC_ACK, l->index, 0, 0, 0, ret, 0);
    return ret;
}

int intc_lapic_ack(intc_lapic *l)
{
    int16_t v;
    int ret;
    if (!l)
        return INTC_ACK_NONE;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return ack_rec(l);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    v = l->irrv;
    ret = ack_result(l, v);
    if (ret > 255) {
        /* 11.9: the interrupt went away (TPR raised, or a higher class
           put in service) between INTR and INTA: the spurious vector,
           with ISR untouched. */
        INTC_EMIT(l->m, INTC_EV_SPURIOUS, l->index, ret & 0xff, 0, 0, 0);
    } else if (ret >= 0) {
        l->irr[v >> 6] &= ~(1ull << (v & 63));
        /* v was the highest IRR bit: the next is in its word or below. */
        l->irrv = highest_upto(l->irr, (unsigned)v >> 6);
        l->isr[v >> 6] |= 1ull << (v & 63);
        l->isrv = v; /* its class is above PPR, so above every ISR bit */
        update_ppr(l);
        INTC_EMIT(l->m, INTC_EV_ACK, l->index, v, 0, 0, 0);
    }
    intc__leave(l->m);
    return ret;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static int take_rec(intc_lapic *l, unsigned what,
                              uint8_t *sipi_vector)
{
    int ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_take(l, what, sipi_vector),
                  INTC__OP_LAPIC_TAKE, l->index, what, 0, 0, ret,
                  ret == 1 && what == INTC_PEND_SIPI ? l->sipi_vector : 0);
    return ret;
}

int intc_lapic_take(intc_lapic *l, unsigned what, uint8_t *sipi_vector)
{
    unsigned p;
    if (!l)
        return INTC_ERR_INVAL;
    if (what != INTC_PEND_NMI && what != INTC_PEND_SMI &&
        what != INTC_PEND_INIT && what != INTC_PEND_SIPI &&
        what != INTC_PEND_EXTINT)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return take_rec(l, what, sipi_vector);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    p = intc_lapic_pending(l);
    if (!(p & what)) {
        intc__leave(l->m);
        return 0;
    }
    l->sig &= (uint8_t)~what;
    if (what == INTC_PEND_SIPI) {
        if (sipi_vector)
            *sipi_vector = l->sipi_vector;
        l->wait_sipi = false;
    } else if (what == INTC_PEND_INIT) {
        /* 11.4.7.3: INIT resets the APIC (ID and IA32_APIC_BASE kept);
           an AP then waits for SIPI.  A SIPI that arrived after the INIT
           stays pending. */
        uint8_t keep = l->sig & INTC_PEND_SIPI;
        uint8_t vec = l->sipi_vector;
        bool ap = !(l->apic_base & INTC_APIC_BASE_BSP);
        intc__lapic_do_reset(l, true);
        l->wait_sipi = ap;
        if (ap && keep) {
            l->sig |= keep;
            l->sipi_vector = vec;
        }
        INTC_EMIT(l->m, INTC_EV_INIT_RESET, l->index, -1, 0, ap, 0);
    }
    intc__leave(l->m);
    return 1;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err set_tpr_rec(intc_lapic *l, uint8_t tpr)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_set_tpr(l, tpr),
                  INTC__OP_LAPIC_SET_TPR, l->index, tpr, 0, 0, ret, 0);
    return ret;
}

intc_err intc_lapic_set_tpr(intc_lapic *l, uint8_t tpr)
{
    if (!l)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return set_tpr_rec(l, tpr);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    write_tpr(l, tpr);
    intc__leave(l->m);
    return INTC_OK;
}

uint8_t intc_lapic_get_tpr(const intc_lapic *l)
{
    return l ? l->tpr : 0;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err set_lint_rec(intc_lapic *l, unsigned pin, bool level)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_set_lint(l, pin, level),
                  INTC__OP_LAPIC_SET_LINT, l->index, pin, level, 0, ret, 0);
    return ret;
}

intc_err intc_lapic_set_lint(intc_lapic *l, unsigned pin, bool level)
{
    bool was;
    if (!l || pin > 1)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return set_lint_rec(l, pin, level);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    was = l->lint_level[pin];
    l->lint_level[pin] = level;
    if (was != level)
        INTC_EMIT(l->m, INTC_EV_LINT, l->index, -1, pin, level, 0);
    if (l->mode == INTC_MODE_DISABLED) {
        /* Through-local mode: LINT0 = INTR (a level, seen by pending()),
           LINT1 = NMI on its rising edge. */
        if (pin == 1 && level && !was)
            raise_signal(l, INTC_PEND_NMI, INTC_EV_NMI, -1);
        else if (pin == 0 && level)
            intc__kick(l->m, l);
    } else {
        lint_eval(l, pin, was);
    }
    intc__leave(l->m);
    return INTC_OK;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err raise_lvt_rec(intc_lapic *l, unsigned lvt)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_raise_lvt(l, lvt),
                  INTC__OP_LAPIC_RAISE_LVT, l->index, lvt, 0, 0, ret, 0);
    return ret;
}

intc_err intc_lapic_raise_lvt(intc_lapic *l, unsigned lvt)
{
    if (!l || (lvt != INTC_LVT_THERMAL && lvt != INTC_LVT_PERF &&
               (lvt != INTC_LVT_CMCI || !l->m->cfg.lvt_cmci)))
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return raise_lvt_rec(l, lvt);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    if (l->mode != INTC_MODE_DISABLED)
        intc__lapic_lvt_fire(l, lvt);
    intc__leave(l->m);
    return INTC_OK;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err timer_expired_rec(intc_lapic *l, uint64_t now_ns)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_timer_expired(l, now_ns),
                  INTC__OP_LAPIC_TIMER_EXPIRED, l->index, now_ns, 0, 0, ret,
                  0);
    return ret;
}

intc_err intc_lapic_timer_expired(intc_lapic *l, uint64_t now_ns)
{
    if (!l)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return timer_expired_rec(l, now_ns);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    intc__timer_expire(l, now_ns);
    intc__leave(l->m);
    return INTC_OK;
}

uint64_t intc_lapic_timer_deadline(const intc_lapic *l)
{
    return l ? l->deadline : UINT64_MAX;
}

/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err reset_rec(intc_lapic *l, bool init_only)
{
    intc_err ret;
    INTC_REC_TWIN(l->m, ret, intc_lapic_reset(l, init_only),
                  INTC__OP_LAPIC_RESET, l->index, init_only, 0, 0, ret, 0);
    return ret;
}

intc_err intc_lapic_reset(intc_lapic *l, bool init_only)
{
    if (!l)
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(l->m->rec_calls))
        return reset_rec(l, init_only);
    if (!lapic_enter(l))
        return INTC_ERR_BUSY;
    intc__lapic_do_reset(l, init_only);
    intc__leave(l->m);
    return INTC_OK;
}

bool intc_lapic_waiting_for_sipi(const intc_lapic *l)
{
    return l && l->wait_sipi;
}

uint32_t intc_lapic_cpu(const intc_lapic *l)
{
    return l ? l->index : INTC_NO_CPU;
}

uint32_t intc_lapic_initial_id(const intc_lapic *l)
{
    return l ? l->initial_id : 0;
}

/* ---- consistency (intc_machine_check) ---- */

bool intc__lapic_check(const intc_lapic *l, char *msg, size_t len)
{
    uint8_t ppr;
    uint8_t isrc;
    unsigned want_mode;

    if (l->irrv != highest(l->irr))
        INTC_FAIL("cpu %u: cached IRRV %d != IRR %d", l->index, l->irrv,
             highest(l->irr));
    if (l->isrv != highest(l->isr))
        INTC_FAIL("cpu %u: cached ISRV %d != ISR %d", l->index, l->isrv,
             highest(l->isr));
    if ((l->irr[0] | l->isr[0]) & 0xffffu)
        INTC_FAIL("cpu %u: illegal vector 0-15 in IRR/ISR", l->index);
    isrc = l->isrv >= 0 ? (uint8_t)(l->isrv & 0xf0) : 0;
    ppr = (l->tpr & 0xf0) >= isrc ? l->tpr : isrc;
    if (ppr != l->ppr)
        INTC_FAIL("cpu %u: PPR %#x, TPR %#x and ISRV %d give %#x", l->index,
             l->ppr, l->tpr, l->isrv, ppr);
    if (l->sw_enabled != !!(l->svr & SVR_ENABLE))
        INTC_FAIL("cpu %u: software enable out of step with SVR", l->index);
    if (!(l->apic_base & INTC_APIC_BASE_EN))
        want_mode = INTC_MODE_DISABLED;
    else if (l->apic_base & INTC_APIC_BASE_EXTD)
        want_mode = INTC_MODE_X2APIC;
    else
        want_mode = INTC_MODE_XAPIC;
    if (l->mode != want_mode)
        INTC_FAIL("cpu %u: mode %u but IA32_APIC_BASE %#llx", l->index, l->mode,
             (unsigned long long)l->apic_base);
    if (l->mode == INTC_MODE_X2APIC && l->ldr != x2apic_ldr(l->initial_id))
        INTC_FAIL("cpu %u: x2APIC LDR %#x not derived from ID %#x", l->index,
             l->ldr, l->initial_id);
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++)
        if (!l->sw_enabled && !(l->lvt[i] & LVT_MASKED))
            INTC_FAIL("cpu %u: LVT %u unmasked while software-disabled", l->index,
                 i);
    if (l->timer_running && l->deadline == UINT64_MAX &&
        intc__lvt_timer_mode(l->lvt[INTC_LVT_TIMER]) < INTC_TIMER_TSC_DEADLINE)
        INTC_FAIL("cpu %u: timer counting but no deadline armed", l->index);
    return true;
}

/* ---- snapshot section ---- */

/* ICR bits that can be stored (ICR_LO_STORED for xAPIC, the x2APIC
   allowed set without delivery status). */
#define SNAP_ICR_MASK 0xffffffff000ccfffull

/* Recompute every cached value from the registers after they were
   restored (KVM set_state style): mode from IA32_APIC_BASE, software
   enable from SVR, highest IRR/ISR vectors, PPR.  The image holds no
   posted request: the image's state replaces any posted before.  Routing
   is the machine's (intc__bus_rebuild after every CPU is loaded). */
static void snap_rebuild(intc_lapic *l)
{
    for (unsigned w = 0; w < 4; w++) {
        atomic_store(&l->pir[w], 0);
        atomic_store(&l->pir_level[w], 0);
    }
    atomic_store(&l->pir_on, 0);
    if (!(l->apic_base & INTC_APIC_BASE_EN))
        l->mode = INTC_MODE_DISABLED;
    else if (l->apic_base & INTC_APIC_BASE_EXTD)
        l->mode = INTC_MODE_X2APIC;
    else
        l->mode = INTC_MODE_XAPIC;
    l->sw_enabled = l->svr & SVR_ENABLE;
    l->irrv = highest(l->irr);
    l->isrv = highest(l->isr);
    update_ppr(l);
}

INTC__SNAP_INLINE void lapic_snap(intc__snap *c, const int mode,
                                  intc_lapic *l, unsigned *timer_mode)
{
    const intc_machine_config *cfg = &l->m->cfg;
    uint64_t base_mask = ((1ull << cfg->phys_addr_bits) - 1) & ~0x2ffull;
    unsigned amode, tmode = 0;

    intc__snap_begin(c, mode, "lapic", (int32_t)l->index);
    if (!cfg->x2apic)
        base_mask &= ~INTC_APIC_BASE_EXTD;
    INTC__SNAP_VAR(c, mode, base, l->apic_base, base_mask, "apic_base", -1);
    /* 11.12.5: EN=0 with EXTD=1 is an invalid state. */
    INTC__SNAP_REQ(c, mode,
                   !(base & INTC_APIC_BASE_EXTD) || (base & INTC_APIC_BASE_EN),
                   "apic_base", -1, "EXTD without EN");
    amode = !(base & INTC_APIC_BASE_EN)     ? INTC_MODE_DISABLED
            : (base & INTC_APIC_BASE_EXTD) ? INTC_MODE_X2APIC
                                           : INTC_MODE_XAPIC;

    INTC__SNAP(c, mode, l->xapic_id, 0xff, "xapic_id", -1);
    INTC__SNAP_VAR(c, mode, ldr, l->ldr, 0xffffffffu, "ldr", -1);
    /* 11.12.10.2: the x2APIC LDR is derived from the x2APIC ID. */
    INTC__SNAP_REQ(c, mode,
                   amode == INTC_MODE_X2APIC
                       ? ldr == x2apic_ldr(l->initial_id)
                       : !(ldr & 0x00ffffffu),
                   "ldr", -1,
                   amode == INTC_MODE_X2APIC ? "x2APIC LDR not derived from "
                                               "the ID"
                                             : "xAPIC LDR reserved bits set");
    INTC__SNAP_VAR(c, mode, dfr, l->dfr, 0xffffffffu, "dfr", -1);
    INTC__SNAP_REQ(c, mode, (dfr & 0x0fffffffu) == 0x0fffffffu, "dfr", -1,
                   "bits 27:0 not all 1");
    INTC__SNAP(c, mode, l->tpr, 0xff, "tpr", -1);
    INTC__SNAP_VAR(c, mode, svr, l->svr, svr_writable(l), "svr", -1);
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++) {
        bool lint = i == INTC_LVT_LINT0 || i == INTC_LVT_LINT1;
        INTC__SNAP_VAR(c, mode, lvt, l->lvt[i],
                       lvt_writable(l, i) | (lint ? LVT_REMOTE_IRR : 0),
                       "lvt", (int32_t)i);
        /* Remote IRR exists only for level entries (11.5.1). */
        INTC__SNAP_REQ(c, mode, !(lvt & LVT_REMOTE_IRR) || (lvt & LVT_LEVEL),
                       "lvt", (int32_t)i, "remote IRR on an edge entry");
        /* 11.4.7.2: software-disabled keeps every mask bit set. */
        INTC__SNAP_REQ(c, mode, (svr & SVR_ENABLE) || (lvt & LVT_MASKED),
                       "lvt", (int32_t)i,
                       "unmasked while software-disabled");
        if (i == INTC_LVT_CMCI && !cfg->lvt_cmci)
            INTC__SNAP_REQ(c, mode, lvt == LVT_MASKED, "lvt", (int32_t)i,
                           "absent LVT CMCI not at reset");
        if (i == INTC_LVT_TIMER)
            tmode = intc__lvt_timer_mode((uint32_t)lvt);
    }
    INTC__SNAP_VAR(c, mode, icr, l->icr, SNAP_ICR_MASK, "icr", -1);
    /* xAPIC ICR high holds only the destination field [63:56]. */
    INTC__SNAP_REQ(c, mode,
                   amode == INTC_MODE_X2APIC ||
                       !(icr & 0x00ffffff00000000ull),
                   "icr", -1, "xAPIC ICR high reserved bits set");
    INTC__SNAP(c, mode, l->esr, 0xff, "esr", -1);
    INTC__SNAP(c, mode, l->esr_pending, 0xff, "esr_pending", -1);
    INTC__SNAP_BOOL(c, mode, l->esr_armed, "esr_armed", -1);
    INTC__SNAP_BOOL(c, mode, l->lint_level[0], "lint_level", 0);
    INTC__SNAP_BOOL(c, mode, l->lint_level[1], "lint_level", 1);
    for (unsigned w = 0; w < 4; w++) {
        /* Vectors 0-15 never enter IRR, ISR or TMR (11.5.2). */
        uint64_t vm = w ? UINT64_MAX : ~0xffffull;
        INTC__SNAP(c, mode, l->irr[w], vm, "irr", (int32_t)w);
        INTC__SNAP(c, mode, l->isr[w], vm, "isr", (int32_t)w);
        INTC__SNAP(c, mode, l->tmr[w], vm, "tmr", (int32_t)w);
    }
    INTC__SNAP(c, mode, l->sig,
               INTC_PEND_NMI | INTC_PEND_SMI | INTC_PEND_INIT |
                   INTC_PEND_SIPI | INTC_PEND_EXTINT,
               "pending_signals", -1);
    INTC__SNAP_BOOL(c, mode, l->wait_sipi, "wait_sipi", -1);
    INTC__SNAP(c, mode, l->sipi_vector, 0xff, "sipi_vector", -1);
    if (mode == INTC__SNAP_LOAD)
        snap_rebuild(l);
    *timer_mode = tmode;
}

/* One CPU's section of the image (snapshot.c orders the sections): its
   registers, then its timer's own fields and rules (lapic_timer.c), which
   depend on the timer mode in the LVT just walked (the image's, in
   CHECK). */
void intc__lapic_snap(intc__snap *c, intc_lapic *l)
{
    unsigned tmode = 0;
    INTC__SNAP_DISPATCH(c, lapic_snap, l, &tmode);
    intc__timer_snap(c, l, tmode);
}
