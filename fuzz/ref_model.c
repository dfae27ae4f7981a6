/*
 * A second opinion (oracle O11): a reference model of the interrupt
 * fabric, written for obviousness rather than speed, and independent of
 * libintc's code.  It keeps its own state (IRR/ISR/TMR as one byte per
 * vector, scanned in full; no cached highest vectors, no routing maps),
 * is fed the operations fuzz_machine applies (machine_ops.c mo_exec), and
 * after every step its guest-visible results are compared with the
 * machine's, read through the public API only (xAPIC MMIO or x2APIC MSR
 * register reads, intc_lapic_pending, intc_lapic_get_tpr, the INTA
 * results, intc_ioapic_rte, intc_msix_pending).  Included by oracles.c.
 *
 * What it models, and the sources it follows:
 *  - Local APIC acceptance of fixed and lowest-priority messages:
 *    IRR, and TMR set for a level message and cleared for an edge one
 *    (SDM vol. 3A 11.8.4); a software-disabled APIC accepts none
 *    (11.4.7.2); vectors 0-15 are illegal (11.5.3).
 *  - Destinations (11.6.2): physical by xAPIC ID (guest-written) or
 *    x2APIC ID, logical flat and cluster models (LDR/DFR as the guest
 *    wrote them, 11.6.2.2), x2APIC logical (LDR derived from the ID,
 *    11.12.10.2), broadcast 0xFF / 0xFFFFFFFF, the ICR shorthands
 *    (Table 11-3: self and all-including-self only for Fixed).  Mixed
 *    xAPIC/x2APIC systems follow the library's documented rule (bus.c
 *    header: a destination is compared, zero-extended, with each APIC in
 *    its own mode), checked here by a scan of every APIC.
 *  - Lowest priority (11.6.2.4): the lowest APR among the software-
 *    enabled APICs of the destination (APR from TPR, IRRV and ISRV by the
 *    SDM's formula), ties broken as libintc documents (bus.c: round robin
 *    by CPU index starting after the previous winner), by a scan; with
 *    focus-processor checking configured, an APIC that holds the vector
 *    in IRR or ISR (and has SVR[9] clear) takes it.
 *  - PPR (11.8.3.1), INTR pending and INTA (11.8.4: highest IRR vector
 *    whose class is above PPR[7:4], else the spurious vector 11.9),
 *    wait-for-SIPI holding INTR (11.4.7.3).
 *  - EOI (11.8.5): clears the highest ISR bit; if its TMR bit is set the
 *    EOI is broadcast to every IOAPIC unless SVR[12] suppresses it
 *    (directed EOI: then the IOAPIC EOI register, version 0x20).
 *  - IOAPIC (82093AA 3.2.4): edge entries send on the line's inactive-to-
 *    active transition (lost when masked); level entries send while the
 *    line is active, unmasked and Remote IRR is clear; Remote IRR is set
 *    when an APIC accepted the message, cleared by an EOI of the entry's
 *    vector (every entry with that vector), after which a still-active
 *    line is delivered again; switching an entry to edge clears Remote
 *    IRR; a level message nobody accepted stays pending (Delivery Status)
 *    and is retried on any EOI; SMI/NMI/INIT/ExtINT entries are edge;
 *    the 82093AA (version 0x11) uses only bits 59:56 of a physical
 *    destination.  The storm throttle (libintc's own: a re-delivery
 *    count per line, reset when the line falls) is followed too.
 *  - MSI decode (11.11): the 0xFEExxxxx window, destination bits 19:12
 *    (plus 11:5 as bits 14:8 with the extended destination), RH turning
 *    Fixed into Lowest Priority, DM, level/assert (a level de-assert is
 *    dropped), reserved data bits and delivery modes dropped; the
 *    remappable format with no IOMMU remapping is dropped.  MSI-X table,
 *    per-vector and function mask, pending bits sent on unmask (PCIe
 *    7.7.2).
 *  - IA32_APIC_BASE mode changes (11.4.3, 11.12.5): a global disable
 *    returns the APIC to its power-up state (libintc's documented
 *    choice, lapic.h); x2APIC mode derives the LDR.  INIT taken resets
 *    the registers but the ID and mode (11.4.7.3).
 *
 * Gaps: where the model does not follow an operation it marks the CPUs
 * (or everything) "unsure" for that step, and after the step copies
 * their state from the machine's public state instead of comparing it:
 *  - local interrupt sources: the LVTs (timer, LINT0/1, error, thermal,
 *    perf, CMCI) and everything that writes them or the timer
 *    registers, the TSC-deadline MSR, a timer expiry, an ESR error (an
 *    illegal vector sent or received, an illegal register, which may
 *    raise the LVT Error interrupt), raw MMIO accesses that are not an
 *    aligned 32-bit register write, register reads other than plain
 *    ones: the CPU concerned;
 *  - an EOI of a level vector on a CPU whose LINT pins or LVTs were ever
 *    touched (the LINT Remote IRR and its local re-delivery, 11.5.1):
 *    that CPU;
 *  - latched signals (NMI, SMI, INIT, SIPI, ExtINT) are not modelled;
 *    the model follows the machine's take() results (INIT taken resets,
 *    SIPI taken leaves wait-for-SIPI);
 *  - the IOMMU: once the guest wrote an IOMMU register or guest memory,
 *    interrupt remapping may be on, so every message is unsure (the
 *    model does not decode IRTEs, posted descriptors or fault events):
 *    everything;
 *  - a timer expiry at the start of a step with an operation, and the
 *    IOAPIC throttle timer: everything;
 *  - a lowest-priority arbitration over an unsure CPU, a tie while the
 *    round-robin position is unknown (it becomes unknown after such an
 *    arbitration and known again at the next one with a single lowest
 *    APR), or two focus processors (the winner then depends on the
 *    bus's walk order): everything;
 *  - more INTA/EOI/take actions in one `run` step than the log holds:
 *    everything;
 *  - with the storm throttle configured, a pin resynchronised while its
 *    line is asserted (its re-delivery count and throttle are not
 *    public): everything, whenever that pin would be delivered or
 *    delivered again, until its line falls;
 *  - whether an IA32_APIC_BASE or x2APIC MSR write takes effect or
 *    faults (#GP, 11.12.5 and 11.12.1.3) is taken from the write's
 *    result (fuzz_lapic checks those rules); so is whether an xAPIC
 *    access was decoded.
 * Snapshots need no resynchronisation: the model is part of the oracle
 * shadow that the host saves and restores with each named snapshot.
 */
#include "ref_model.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Register offsets and bits, as the SDM names them. */
#define RM_SVR_ENABLE 0x100u
#define RM_SVR_FOCUS_OFF 0x200u
#define RM_SVR_EOI_SUPPRESS 0x1000u
#define RM_DM_FIXED 0u
#define RM_DM_LOWEST 1u
#define RM_DM_INIT 5u

typedef struct rm_msg {
    uint32_t dest;
    uint8_t vector, dm;
    bool logical, level, assert, x2fmt;
} rm_msg;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void rm_fail(rm_step *S, const char *fmt, ...)
{
    va_list ap;
    if (S->failed)
        return;
    S->failed = true;
    va_start(ap, fmt);
    vsnprintf(S->msg, sizeof S->msg, fmt, ap);
    va_end(ap);
}

static void rm_unsure(rm_step *S, unsigned cpu)
{
    S->unsure_cpus |= 1u << cpu;
}

static int rm_highest(const uint8_t b[256])
{
    for (int v = 255; v >= 0; v--)
        if (b[v])
            return v;
    return -1;
}

/* 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4. */
static uint8_t rm_ppr(const rm_cpu *c)
{
    int isrv = rm_highest(c->isr);
    unsigned isr_class = isrv >= 0 ? (unsigned)isrv & 0xf0u : 0;
    return (c->tpr & 0xf0u) >= isr_class ? c->tpr : (uint8_t)isr_class;
}

/* 11.6.2.4, Figure 11-15: if TPR[7:4] >= IRRV[7:4] and TPR[7:4] >
   ISRV[7:4] then APR = TPR, else APR[7:4] = max(TPR[7:4] & ISRV[7:4],
   IRRV[7:4]) and APR[3:0] = 0 (empty IRR/ISR count as 0). */
static uint8_t rm_apr(const rm_cpu *c)
{
    int irrv = rm_highest(c->irr), isrv = rm_highest(c->isr);
    unsigned irr_class = irrv < 0 ? 0 : (unsigned)irrv / 16;
    unsigned isr_class = isrv < 0 ? 0 : (unsigned)isrv / 16;
    unsigned tpr_class = c->tpr / 16u, and_class = tpr_class & isr_class;

    if (tpr_class >= irr_class && tpr_class > isr_class)
        return c->tpr;
    return (uint8_t)(16u * (and_class > irr_class ? and_class : irr_class));
}

static bool rm_intr(const rm_cpu *c)
{
    int v = rm_highest(c->irr);
    if (c->mode == RM_DISABLED || c->wait_sipi || v < 0)
        return false;
    return ((unsigned)v & 0xf0u) > (rm_ppr(c) & 0xf0u);
}

static uint32_t rm_x2_ldr(uint32_t id)
{
    /* 11.12.10.2 */
    return ((id >> 4) & 0xffffu) << 16 | 1u << (id & 0xf);
}

/* Power-up values of the registers (11.4.7.1), mode and IDs kept. */
static void rm_reset_regs(rm_cpu *c)
{
    memset(c->irr, 0, sizeof c->irr);
    memset(c->isr, 0, sizeof c->isr);
    memset(c->tmr, 0, sizeof c->tmr);
    c->tpr = 0;
    c->svr = 0xff;
    c->ldr = c->mode == RM_X2APIC ? rm_x2_ldr(c->initial_id) : 0;
    c->dfr = 0xffffffffu;
    c->icr_dest = 0;
    c->wait_sipi = false;
    c->lint_used = false;
}

/* ---- destinations and acceptance ---- */

static bool rm_is_broadcast(const rm_msg *m)
{
    return m->x2fmt ? m->dest == 0xffffffffu : m->dest == 0xffu;
}

static bool rm_matches(const rm_cpu *c, const rm_msg *m)
{
    if (c->mode == RM_DISABLED)
        return false;
    if (!m->logical) {
        if (c->mode == RM_XAPIC)
            return m->dest <= 0xff && c->xapic_id == m->dest;
        return c->initial_id == m->dest;
    }
    if (c->mode == RM_XAPIC) {
        unsigned model = c->dfr >> 28, ldr8 = c->ldr >> 24;
        if (m->dest > 0xff)
            return false;
        if (model == 0xf) /* flat */
            return (ldr8 & m->dest) != 0;
        if (model == 0) /* cluster */
            return (ldr8 >> 4) == (m->dest >> 4) &&
                   (ldr8 & m->dest & 0xfu) != 0;
        return false; /* reserved model */
    }
    return ((c->initial_id >> 4) & 0xffffu) == (m->dest >> 16) &&
           ((m->dest >> (c->initial_id & 0xf)) & 1u);
}

static unsigned rm_accept(rm_model *M, rm_step *S, unsigned i,
                          const rm_msg *m)
{
    rm_cpu *c = &M->cpu[i];
    switch (m->dm) {
    case RM_DM_FIXED:
    case RM_DM_LOWEST:
        if (!(c->svr & RM_SVR_ENABLE))
            return 0;
        if (m->vector < 16) {
            rm_unsure(S, i); /* ESR[6], maybe the LVT Error interrupt */
            return 0;
        }
        c->irr[m->vector] = 1;
        c->tmr[m->vector] = m->level;
        return 1;
    case 3:
        return 0;
    default: /* SMI, NMI, INIT, SIPI, ExtINT: signals, not modelled */
        return 1;
    }
}

/* 11.6.2.4 (see the header).  t: candidates in CPU order. */
static int rm_lowest(rm_model *M, rm_step *S, const unsigned *t, unsigned n,
                     uint8_t v)
{
    bool stale = S->unsure_all, cand[RM_MAX_CPUS] = {false};
    int focus = -1, winner = -1;
    unsigned n_focus = 0, n_min = 0, min_apr = 256;

    for (unsigned k = 0; k < n; k++) {
        const rm_cpu *c = &M->cpu[t[k]];
        if (!(c->svr & RM_SVR_ENABLE))
            continue;
        if (S->unsure_cpus & (1u << t[k]))
            stale = true;
        if (M->cfg.focus && !(c->svr & RM_SVR_FOCUS_OFF) &&
            (c->irr[v] || c->isr[v])) {
            if (focus < 0)
                focus = (int)t[k];
            n_focus++;
        }
    }
    if (focus >= 0) {
        if (n_focus > 1 || stale)
            S->unsure_all = true;
        return focus; /* the round-robin position does not move */
    }
    for (unsigned k = 0; k < n; k++) {
        const rm_cpu *c = &M->cpu[t[k]];
        unsigned apr;
        if (!(c->svr & RM_SVR_ENABLE))
            continue;
        apr = rm_apr(c);
        if (apr < min_apr) {
            min_apr = apr;
            n_min = 0;
            memset(cand, 0, sizeof cand);
        }
        if (apr == min_apr) {
            cand[t[k]] = true;
            n_min++;
        }
    }
    if (!n_min)
        return -1;
    if (M->lp_last < 0) {
        for (unsigned i = 0; i < M->cfg.n_cpus && winner < 0; i++)
            if (cand[i])
                winner = (int)i;
        if (n_min > 1)
            stale = true;
    } else {
        for (unsigned d = 1; d <= M->cfg.n_cpus && winner < 0; d++) {
            unsigned i = ((unsigned)M->lp_last + d) % M->cfg.n_cpus;
            if (cand[i])
                winner = (int)i;
        }
    }
    if (stale) {
        S->unsure_all = true;
        M->lp_last = -1;
    } else {
        M->lp_last = winner;
    }
    return winner;
}

/* Deliver m to its destination (every enabled APIC when all), except
   CPU except (-1: none); the number of APICs that accepted it. */
static unsigned rm_deliver(rm_model *M, rm_step *S, const rm_msg *m,
                           bool all, int except)
{
    unsigned t[RM_MAX_CPUS], n = 0, accepted = 0;

    for (unsigned i = 0; i < M->cfg.n_cpus; i++) {
        const rm_cpu *c = &M->cpu[i];
        if ((int)i == except)
            continue;
        if ((all || rm_is_broadcast(m)) ? c->mode != RM_DISABLED
                                        : rm_matches(c, m))
            t[n++] = i;
    }
    if (m->dm == RM_DM_LOWEST) {
        int w = rm_lowest(M, S, t, n, m->vector);
        return w >= 0 ? rm_accept(M, S, (unsigned)w, m) : 0;
    }
    for (unsigned k = 0; k < n; k++)
        accepted += rm_accept(M, S, t[k], m);
    return accepted;
}

/* ---- IOAPIC ---- */

static bool rm_level_entry(uint64_t rte)
{
    unsigned dm = (unsigned)(rte >> 8) & 7;
    return (rte & INTC_RTE_LEVEL) && dm <= RM_DM_LOWEST;
}

static bool rm_pin_active(const rm_pin *p)
{
    bool asserted = p->sources != 0;
    bool electrical = asserted != !!(p->wiring & INTC_PIN_ACTIVE_LOW);
    return electrical != !!(p->rte & INTC_RTE_ACTIVE_LOW);
}

static void rm_ioapic_send(rm_model *M, rm_step *S, unsigned io,
                           unsigned pin)
{
    rm_pin *p = &M->pin[io][pin];
    uint64_t rte = p->rte;
    unsigned dm = (unsigned)(rte >> 8) & 7;
    bool level = rm_level_entry(rte), taken = false;

    if (M->remap_possible) {
        S->unsure_all = true;
    } else if (!(rte & INTC_RTE_REMAPPABLE) && dm != 3 && dm != 6) {
        rm_msg m = {.dest = (uint32_t)(rte >> 56),
                    .vector = (uint8_t)rte,
                    .dm = (uint8_t)dm,
                    .logical = rte & INTC_RTE_LOGICAL,
                    .level = level,
                    .assert = true};
        if (M->cfg.version[io] < 0x20 && !m.logical) {
            m.dest &= 0xf;
            if (m.dest == 0xf)
                m.dest = 0xff;
        }
        taken = rm_deliver(M, S, &m, false, -1) > 0;
    }
    if (level) {
        p->send_pending = !taken;
        if (taken)
            p->remote_irr = true;
    }
}

static void rm_eval_level(rm_model *M, rm_step *S, unsigned io,
                          unsigned pin)
{
    rm_pin *p = &M->pin[io][pin];
    if (rm_level_entry(p->rte) && rm_pin_active(p) &&
        !(p->rte & INTC_RTE_MASKED) && !p->remote_irr) {
        if (p->storm_unknown)
            S->unsure_all = true; /* throttled or not: not public */
        if (!p->throttle_until)
            rm_ioapic_send(M, S, io, pin);
    }
}

static void rm_set_irq(rm_model *M, rm_step *S, unsigned io, unsigned pin,
                       unsigned source, bool asserted)
{
    rm_pin *p = &M->pin[io][pin];
    bool was_active = rm_pin_active(p), was_asserted = p->sources != 0;

    if (asserted)
        p->sources |= 1u << source;
    else
        p->sources &= ~(1u << source);
    if (was_asserted && !p->sources) {
        p->send_pending = false;
        p->redeliveries = 0;
        p->throttle_until = 0;
        p->storm_unknown = false;
    }
    if (rm_level_entry(p->rte))
        rm_eval_level(M, S, io, pin);
    else if (rm_pin_active(p) && !was_active &&
             !(p->rte & INTC_RTE_MASKED))
        rm_ioapic_send(M, S, io, pin);
}

static void rm_write_rte(rm_model *M, rm_step *S, unsigned io, unsigned pin,
                         bool high, uint32_t val)
{
    rm_pin *p = &M->pin[io][pin];
    if (high)
        p->rte = (p->rte & 0xffffffffull) |
                 ((uint64_t)val << 32 & 0xffff000000000000ull);
    else /* DS (12) and Remote IRR (14) are read-only */
        p->rte = (p->rte & ~0x1afffull) | (val & 0x1afffull);
    if (p->remote_irr && !rm_level_entry(p->rte))
        p->remote_irr = false;
    rm_eval_level(M, S, io, pin);
}

static void rm_ioapic_eoi(rm_model *M, rm_step *S, unsigned io, uint8_t v)
{
    for (unsigned pin = 0; pin < M->cfg.n_pins[io]; pin++) {
        rm_pin *p = &M->pin[io][pin];
        if (p->send_pending) {
            rm_eval_level(M, S, io, pin);
            continue;
        }
        if (!p->remote_irr || (uint8_t)p->rte != v)
            continue;
        p->remote_irr = false;
        if (!rm_level_entry(p->rte) || !rm_pin_active(p) ||
            (p->rte & INTC_RTE_MASKED))
            continue;
        p->redeliveries++;
        if (p->storm_unknown)
            S->unsure_all = true;
        if (M->cfg.throttle_ns &&
            p->redeliveries >= M->cfg.storm_threshold) {
            uint64_t until = S->now + M->cfg.throttle_ns;
            p->throttle_until = until < S->now ? UINT64_MAX - 1 : until;
            continue;
        }
        rm_eval_level(M, S, io, pin);
    }
}

/* ---- Local APIC operations ---- */

static void rm_eoi(rm_model *M, rm_step *S, unsigned i)
{
    rm_cpu *c = &M->cpu[i];
    int v = rm_highest(c->isr);
    if (v < 0)
        return;
    c->isr[v] = 0;
    if (!c->tmr[v])
        return;
    if (c->lint_used)
        rm_unsure(S, i);
    if (!(c->svr & RM_SVR_EOI_SUPPRESS))
        for (unsigned io = 0; io < M->cfg.n_ioapics; io++)
            rm_ioapic_eoi(M, S, io, (uint8_t)v);
}

static int rm_ack(rm_model *M, unsigned i)
{
    rm_cpu *c = &M->cpu[i];
    int v = rm_highest(c->irr);
    if (c->mode == RM_DISABLED || c->wait_sipi || v < 0)
        return -1;
    if (((unsigned)v & 0xf0u) <= (rm_ppr(c) & 0xf0u))
        return 0x100 | (int)(c->svr & 0xff);
    c->irr[v] = 0;
    c->isr[v] = 1;
    return v;
}

static void rm_send_ipi(rm_model *M, rm_step *S, unsigned i, uint64_t icr,
                        bool x2)
{
    rm_cpu *c = &M->cpu[i];
    unsigned dm = (unsigned)(icr >> 8) & 7, sh = (unsigned)(icr >> 18) & 3;
    bool assert = icr & (1u << 14), trig = icr & (1u << 15);
    rm_msg m = {.vector = (uint8_t)icr, .dm = (uint8_t)dm,
                .logical = icr & (1u << 11), .x2fmt = x2};

    if (dm <= RM_DM_LOWEST && m.vector < 16) {
        rm_unsure(S, i); /* ESR[5]; not sent */
        return;
    }
    if (dm == 3)
        return;
    m.dest = x2 ? (uint32_t)(icr >> 32) : c->icr_dest;
    /* Only INIT level de-assert keeps trigger level (Table 11-3 note). */
    m.level = dm == RM_DM_INIT && trig && !assert;
    m.assert = !m.level;
    switch (sh) {
    case 0:
        rm_deliver(M, S, &m, false, -1);
        break;
    case 1:
        if (dm == RM_DM_FIXED)
            rm_accept(M, S, i, &m);
        break;
    case 2:
        if (dm == RM_DM_FIXED)
            rm_deliver(M, S, &m, true, -1);
        break;
    default:
        rm_deliver(M, S, &m, true, (int)i);
        break;
    }
}

/* A register write the machine decoded and performed.  off: the xAPIC
   offset; x2: through the x2APIC MSR (val whole). */
static void rm_write_reg(rm_model *M, rm_step *S, unsigned i, uint32_t off,
                         uint64_t val, bool x2)
{
    rm_cpu *c = &M->cpu[i];
    switch (off) {
    case 0x020:
        if (!x2)
            c->xapic_id = (uint8_t)(val >> 24);
        break;
    case 0x080:
        c->tpr = (uint8_t)val;
        break;
    case 0x0b0:
        rm_eoi(M, S, i);
        break;
    case 0x0d0:
        if (!x2)
            c->ldr = (uint32_t)val & 0xff000000u;
        break;
    case 0x0e0:
        if (!x2)
            c->dfr = (uint32_t)val | 0x0fffffffu;
        break;
    case 0x0f0:
        c->svr = (uint32_t)val & (0xffu | RM_SVR_ENABLE | RM_SVR_FOCUS_OFF |
                                  (M->cfg.directed_eoi ? RM_SVR_EOI_SUPPRESS
                                                       : 0));
        break;
    case 0x280: /* ESR: write to latch, delivers nothing */
        break;
    case 0x300:
        if (x2)
            rm_send_ipi(M, S, i, val, true);
        else
            rm_send_ipi(M, S, i, (uint64_t)c->icr_dest << 56 |
                                     (val & 0xffffffffu), false);
        break;
    case 0x310:
        if (!x2)
            c->icr_dest = (uint8_t)(val >> 24);
        break;
    case 0x3f0:
        if (x2 && (uint8_t)val >= 16) {
            rm_msg m = {.vector = (uint8_t)val, .dm = RM_DM_FIXED,
                        .assert = true};
            rm_accept(M, S, i, &m);
        } else {
            rm_unsure(S, i);
        }
        break;
    default:
        /* read-only registers: ignored */
        if (off == 0x030 || off == 0x090 || off == 0x0a0 || off == 0x390 ||
            (off >= 0x100 && off <= 0x270))
            break;
        /* LVTs, timer, reserved slots: local sources and errors */
        if (off == 0x350 || off == 0x360)
            c->lint_used = true;
        rm_unsure(S, i);
        break;
    }
}

static void rm_apic_base(rm_model *M, unsigned i, uint64_t v)
{
    rm_cpu *c = &M->cpu[i];
    unsigned to = !(v & INTC_APIC_BASE_EN)    ? RM_DISABLED
                  : (v & INTC_APIC_BASE_EXTD) ? RM_X2APIC
                                              : RM_XAPIC;
    c->apic_base = v;
    if (to == c->mode)
        return;
    c->mode = (uint8_t)to;
    if (to == RM_DISABLED) {
        c->xapic_id = (uint8_t)c->initial_id;
        rm_reset_regs(c);
    } else if (to == RM_X2APIC) {
        c->ldr = rm_x2_ldr(c->initial_id);
    }
}

static void rm_init_taken(rm_model *M, unsigned i)
{
    rm_cpu *c = &M->cpu[i];
    rm_reset_regs(c);
    c->wait_sipi = !(c->apic_base & INTC_APIC_BASE_BSP);
}

/* ---- MSI ---- */

static void rm_msi(rm_model *M, rm_step *S, uint64_t addr, uint32_t data)
{
    unsigned dm = (data >> 8) & 7;
    rm_msg m;

    if ((addr & ~0xfffffull) != 0xfee00000ull)
        return; /* 11.11.1: an ordinary memory write */
    if (M->remap_possible) {
        S->unsure_all = true;
        return;
    }
    if ((addr & INTC_MSI_ADDR_REMAPPABLE) ||
        (!M->cfg.ext_dest && (addr & 0xfe0u)) || (data >> 16) || dm == 3 ||
        dm == 6 || (data & 0xc000u) == 0x8000u)
        return; /* dropped */
    m.dest = (uint32_t)(addr >> 12 & 0xff) |
             (M->cfg.ext_dest ? (uint32_t)(addr >> 5 & 0x7f) << 8 : 0);
    m.x2fmt = m.dest > 0xff;
    m.vector = (uint8_t)data;
    m.logical = addr & INTC_MSI_ADDR_LOGICAL;
    m.level = (data & INTC_MSI_DATA_LEVEL) && dm <= RM_DM_LOWEST;
    m.assert = true;
    m.dm = (uint8_t)(dm == RM_DM_FIXED && (addr & INTC_MSI_ADDR_RH)
                         ? RM_DM_LOWEST : dm);
    rm_deliver(M, S, &m, false, -1);
}

static void rm_msix_send(rm_model *M, rm_step *S, unsigned x, unsigned v)
{
    rm_msix *d = &M->msix[x];
    rm_msi(M, S, (uint64_t)d->addr_hi[v] << 32 | d->addr_lo[v], d->data[v]);
}

static void rm_msix_flush(rm_model *M, rm_step *S, unsigned x, unsigned from,
                          unsigned to)
{
    rm_msix *d = &M->msix[x];
    if (!d->enabled || d->fmask)
        return;
    for (unsigned v = from; v < to; v++)
        if (d->pending[v] && !d->masked[v]) {
            d->pending[v] = false;
            rm_msix_send(M, S, x, v);
        }
}

/* ---- the machine side: reading public state ---- */

static unsigned rm_machine_mode(intc_lapic *l, uint64_t *base)
{
    uint64_t b = 0;
    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &b);
    if (base)
        *base = b;
    if (!(b & INTC_APIC_BASE_EN))
        return RM_DISABLED;
    return (b & INTC_APIC_BASE_EXTD) ? RM_X2APIC : RM_XAPIC;
}

static uint32_t rm_read(intc_lapic *l, unsigned mode, uint32_t off)
{
    uint64_t v = 0;
    if (mode == RM_X2APIC)
        intc_lapic_msr_read(l, 0x800u + (off >> 4), &v);
    else
        intc_lapic_mmio_read(l, off, 4, &v);
    return (uint32_t)v;
}

static uint32_t rm_word(const uint8_t b[256], unsigned w)
{
    uint32_t x = 0;
    for (unsigned k = 0; k < 32; k++)
        x |= (uint32_t)(b[32 * w + k] != 0) << k;
    return x;
}

static void rm_resync_cpu(rm_model *M, mo_host *h, unsigned i)
{
    rm_cpu *c = &M->cpu[i];
    intc_lapic *l = intc_machine_lapic(h->m, i);
    unsigned mode = rm_machine_mode(l, &c->apic_base);
    static const uint32_t base[3] = {0x200, 0x100, 0x180};

    c->mode = (uint8_t)mode;
    c->initial_id = intc_lapic_initial_id(l);
    if (mode == RM_DISABLED) {
        c->xapic_id = (uint8_t)c->initial_id;
        rm_reset_regs(c);
    } else {
        for (unsigned a = 0; a < 3; a++) {
            uint8_t *b = a == 0 ? c->irr : a == 1 ? c->isr : c->tmr;
            for (unsigned w = 0; w < 8; w++) {
                uint32_t x = rm_read(l, mode, base[a] + 16 * w);
                for (unsigned k = 0; k < 32; k++)
                    b[32 * w + k] = (uint8_t)((x >> k) & 1);
            }
        }
        c->svr = rm_read(l, mode, 0x0f0);
        c->ldr = rm_read(l, mode, 0x0d0);
        if (mode == RM_XAPIC) {
            c->xapic_id = (uint8_t)(rm_read(l, mode, 0x020) >> 24);
            c->dfr = rm_read(l, mode, 0x0e0);
            c->icr_dest = (uint8_t)(rm_read(l, mode, 0x310) >> 24);
        }
    }
    c->tpr = intc_lapic_get_tpr(l);
    c->wait_sipi = intc_lapic_waiting_for_sipi(l);
}

static uint64_t rm_model_rte(const rm_pin *p)
{
    uint64_t v = p->rte;
    if (p->remote_irr)
        v |= INTC_RTE_REMOTE_IRR;
    if (rm_level_entry(p->rte) && rm_pin_active(p) &&
        !(p->rte & INTC_RTE_MASKED) && !p->remote_irr &&
        (p->send_pending || p->throttle_until))
        v |= INTC_RTE_DELIVS;
    return v;
}

/* The MSI-X tables from the machine's public state (PCIe 7.7.2: each
   entry's address, data and Vector Control mask; the pending bits), after
   an operation the model does not follow (the raw table writes, a device
   reset).  Enable and Function Mask have no query: the model keeps them
   (only msix_control and a reset change them). */
static void rm_resync_msix(rm_model *M, mo_host *h)
{
    for (unsigned x = 0; x < M->cfg.n_msix; x++) {
        rm_msix *d = &M->msix[x];
        for (unsigned v = 0; v < RM_MSIX_VECTORS; v++) {
            uint64_t w[4] = {0, 0, 0, 0};
            for (unsigned i = 0; i < 4; i++)
                intc_msix_table_read(h->msix[x], 16 * v + 4 * i, 4, &w[i]);
            d->addr_lo[v] = (uint32_t)w[0];
            d->addr_hi[v] = (uint32_t)w[1];
            d->data[v] = (uint32_t)w[2];
            d->masked[v] = w[3] & 1;
            d->pending[v] = intc_msix_pending(h->msix[x], (uint16_t)v);
        }
    }
}

static void rm_resync_pins(rm_model *M, rm_step *S, mo_host *h)
{
    rm_resync_msix(M, h);
    for (unsigned io = 0; io < M->cfg.n_ioapics; io++)
        for (unsigned pin = 0; pin < M->cfg.n_pins[io]; pin++) {
            rm_pin *p = &M->pin[io][pin];
            uint64_t v = 0;
            intc_ioapic_rte(intc_machine_ioapic(h->m, io), pin, &v);
            if (p->throttle_until && p->throttle_until <= S->now)
                p->throttle_until = 0;
            p->rte = v & ~(INTC_RTE_REMOTE_IRR | INTC_RTE_DELIVS);
            p->remote_irr = v & INTC_RTE_REMOTE_IRR;
            if (p->remote_irr)
                p->send_pending = false;
            else if (v & INTC_RTE_DELIVS)
                p->send_pending = !p->throttle_until;
            /* The storm throttle's re-delivery count and state are not
               public: unknown while the line stays asserted (a line that
               falls resets both). */
            if (M->cfg.throttle_ns && p->sources)
                p->storm_unknown = true;
        }
}

static void rm_init(rm_model *M, mo_host *h)
{
    intc_machine_config mc;
    intc_ioapic_config io[MO_MAX_IOAPICS];
    uint8_t w0[MO_IOAPIC0_PINS], w1[MO_IOAPIC1_PINS];
    rm_step S = {0};

    memset(M, 0, sizeof *M);
    mo_machine_config(h->cfg, &mc, io, w0, w1);
    M->cfg.n_cpus = mc.n_cpus;
    M->cfg.n_ioapics = mc.n_ioapics;
    M->cfg.n_msix = h->cfg->n_msix;
    M->cfg.directed_eoi = mc.directed_eoi;
    M->cfg.focus = mc.focus_processor;
    M->cfg.ext_dest = mc.msi_ext_dest;
    M->cfg.storm_threshold = mc.storm_threshold;
    M->cfg.throttle_ns = mc.storm_throttle_ns;
    for (unsigned i = 0; i < mc.n_ioapics; i++) {
        M->cfg.n_pins[i] = io[i].n_pins;
        M->cfg.version[i] = io[i].version;
        for (unsigned p = 0; p < io[i].n_pins; p++)
            M->pin[i][p].wiring = io[i].pin_wiring[p];
    }
    for (unsigned x = 0; x < M->cfg.n_msix; x++)
        for (unsigned v = 0; v < RM_MSIX_VECTORS; v++)
            M->msix[x].masked[v] = true; /* PCIe 7.7.2: masked at reset */
    M->lp_last = 0;
    for (unsigned i = 0; i < M->cfg.n_cpus; i++)
        rm_resync_cpu(M, h, i);
    rm_resync_pins(M, &S, h);
    M->ready = true;
}

/* ---- one step ---- */

static void rm_check_ack(rm_model *M, rm_step *S, unsigned i, int got)
{
    if (S->unsure_all || (S->unsure_cpus & (1u << i))) {
        /* follow the machine */
        if (got >= 0 && got <= 255) {
            M->cpu[i].irr[got] = 0;
            M->cpu[i].isr[got] = 1;
        }
        return;
    }
    int want = rm_ack(M, i);
    if (want != got)
        rm_fail(S, "cpu %u: INTA returned %d (0x%x), the model expects %d "
                   "(0x%x)", i, got, (unsigned)got, want, (unsigned)want);
}

static void rm_take(rm_model *M, unsigned i, unsigned what)
{
    if (what == INTC_PEND_INIT)
        rm_init_taken(M, i);
    else if (what == INTC_PEND_SIPI)
        M->cpu[i].wait_sipi = false;
}

static void rm_apply(rm_model *M, rm_step *S, mo_host *h, const mo_step *s,
                     const mo_result *r)
{
    unsigned i = s->cpu;
    rm_cpu *c = &M->cpu[i];
    bool ok = r->err == INTC_OK && !r->skipped;
    bool x2 = c->mode == RM_X2APIC;

    switch (s->kind) {
    case KIT_OP_WRITE:
        if (!ok)
            break;
        if (s->index != 0x1000u) {
            rm_write_reg(M, S, i, s->index, x2 ? s->value
                                             : s->value & 0xffffffffu, x2);
        } else if (x2) {
            rm_write_reg(M, S, i, 0x300, s->value, true);
        } else {
            rm_write_reg(M, S, i, 0x310, s->value >> 32, false);
            rm_write_reg(M, S, i, 0x300, s->value & 0xffffffffu, false);
        }
        break;
    case KIT_OP_READ: {
        static const uint32_t plain[] = {0x390, 0x0a0, 0x280, 0x100, 0x170,
                                         0x180, 0x200, 0x090, 0x030, 0x080};
        bool known = false;
        for (unsigned k = 0; k < sizeof plain / sizeof plain[0]; k++)
            known |= plain[k] == s->index && !(x2 && s->index == 0x090);
        if (!known)
            rm_unsure(S, i);
        break;
    }
    case KIT_OP_MMIO_WRITE:
        if (c->mode != RM_XAPIC)
            break; /* not decoded */
        if (s->size == 4 && !(s->addr & 15))
            rm_write_reg(M, S, i, (uint32_t)s->addr, s->value & 0xffffffffu,
                         false);
        else
            rm_unsure(S, i);
        break;
    case KIT_OP_WRMSR:
        if (!ok)
            break;
        if (s->index == INTC_MSR_APIC_BASE)
            rm_apic_base(M, i, s->value);
        else if (s->index >= 0x800 && s->index <= 0x8ff)
            rm_write_reg(M, S, i, (s->index - 0x800) << 4, s->value, true);
        else
            rm_unsure(S, i); /* TSC deadline */
        break;
    case KIT_OP_IPI:
        if (!ok)
            break;
        (void)h;
        if ((s->flags & KIT_IPI_SELF_REG) && r->x2) {
            rm_write_reg(M, S, i, 0x3f0, s->value2 & 0xff, true);
        } else if (r->x2) {
            rm_write_reg(M, S, i, 0x300, r->icr, true);
        } else {
            rm_write_reg(M, S, i, 0x310, s->size ? 0 : s->value << 24, false);
            rm_write_reg(M, S, i, 0x300, r->icr & 0xffffffffu, false);
        }
        break;
    case KIT_OP_TPR:
        c->tpr = (uint8_t)s->value;
        break;
    case KIT_OP_LINT:
        c->lint_used = true;
        rm_unsure(S, i);
        break;
    case KIT_OP_ACK:
        rm_check_ack(M, S, i, r->ack);
        break;
    case KIT_OP_EOI:
        if (ok)
            rm_eoi(M, S, i);
        break;
    case KIT_OP_TAKE:
        if (r->take == 1)
            rm_take(M, i, s->index);
        break;
    case KIT_OP_RUN:
        if (r->n_runlog > r->cap_runlog) {
            S->unsure_all = true;
            break;
        }
        for (size_t k = 0; k < r->n_runlog && !S->failed; k++) {
            const kit_runrec *e = &r->runlog[k];
            if (e->kind == KIT_RR_ACK)
                rm_check_ack(M, S, e->cpu, e->val);
            else if (e->kind == KIT_RR_EOI && e->val == INTC_OK)
                rm_eoi(M, S, e->cpu);
            else if (e->kind == KIT_RR_TAKE)
                rm_take(M, e->cpu, (unsigned)e->val);
        }
        break;
    case KIT_OP_RAISE_LVT:
        rm_unsure(S, i);
        break;
    case KIT_OP_ADVANCE:
    case KIT_OP_SNAPSHOT:
    case KIT_OP_RESTORE: /* the model came back with the shadow */
        break;
    case KIT_OP_IOAPIC_RTE:
        if (ok) {
            rm_write_rte(M, S, s->unit, s->index, true,
                         (uint32_t)(s->value >> 32));
            rm_write_rte(M, S, s->unit, s->index, false, (uint32_t)s->value);
        }
        break;
    case KIT_OP_IOAPIC_REG: {
        unsigned sel = s->index & 0xff;
        if (ok && sel >= 0x10 && (sel - 0x10) / 2 < M->cfg.n_pins[s->unit])
            rm_write_rte(M, S, s->unit, (sel - 0x10) / 2, sel & 1,
                         (uint32_t)s->value);
        break;
    }
    case KIT_OP_IOAPIC_EOI:
        if (ok && M->cfg.version[s->unit] >= 0x20)
            rm_ioapic_eoi(M, S, s->unit, (uint8_t)s->value);
        break;
    case KIT_OP_IRQ:
        if (ok)
            rm_set_irq(M, S, s->unit, s->index, s->source, s->value != 0);
        break;
    case KIT_OP_MSI:
        rm_msi(M, S, s->addr, (uint32_t)s->value);
        break;
    case KIT_OP_MSIX_TABLE: {
        rm_msix *d = &M->msix[s->unit];
        unsigned v = s->index;
        if (!ok)
            break;
        if (s->flags & KIT_TF_ADDR) {
            d->addr_lo[v] = (uint32_t)s->addr;
            d->addr_hi[v] = (uint32_t)(s->addr >> 32);
        }
        if (s->flags & KIT_TF_DATA)
            d->data[v] = (uint32_t)s->value;
        if (s->flags & KIT_TF_MASKED) {
            bool was = d->masked[v];
            d->masked[v] = s->value2 != 0;
            if (was && !d->masked[v])
                rm_msix_flush(M, S, s->unit, v, v + 1);
        }
        break;
    }
    case KIT_OP_MSIX_CONTROL:
        if (ok) {
            M->msix[s->unit].enabled = s->value != 0;
            M->msix[s->unit].fmask = s->value2 != 0;
            rm_msix_flush(M, S, s->unit, 0, RM_MSIX_VECTORS);
        }
        break;
    case KIT_OP_MSIX_NOTIFY: {
        rm_msix *d = &M->msix[s->unit];
        unsigned v = s->index;
        if (!ok || !d->enabled)
            break;
        if (d->fmask || d->masked[v])
            d->pending[v] = true;
        else
            rm_msix_send(M, S, s->unit, v);
        break;
    }
    case KIT_OP_IOMMU_WRITE:
    case KIT_OP_MEMORY_WRITE:
        M->remap_possible = true;
        S->unsure_all = true;
        break;
    case KIT_OP_DEVICE_RESET:
        /* PCIe 7.7.2: MSI-X Enable and Function Mask reset to 0 (the
           table and pending bits are read back, rm_resync_msix) */
        if (ok && s->unit < M->cfg.n_msix) {
            M->msix[s->unit].enabled = false;
            M->msix[s->unit].fmask = false;
        }
        M->remap_possible = true;
        S->unsure_all = true;
        break;
    default: /* the raw operations: the model does not follow them */
        M->remap_possible = true;
        S->unsure_all = true;
        break;
    }
}

static void rm_compare_cpu(rm_model *M, rm_step *S, mo_host *h, unsigned i)
{
    const rm_cpu *c = &M->cpu[i];
    intc_lapic *l = intc_machine_lapic(h->m, i);
    unsigned mode = rm_machine_mode(l, NULL);
    static const char *const names[3] = {"IRR", "ISR", "TMR"};
    static const uint32_t base[3] = {0x200, 0x100, 0x180};
    bool intr;

    if (mode != c->mode) {
        rm_fail(S, "cpu %u: APIC mode %u, the model has %u", i, mode,
                c->mode);
        return;
    }
    if (intc_lapic_get_tpr(l) != c->tpr) {
        rm_fail(S, "cpu %u: TPR 0x%02x, the model has 0x%02x", i,
                intc_lapic_get_tpr(l), c->tpr);
        return;
    }
    if (mode != RM_DISABLED) {
        for (unsigned a = 0; a < 3; a++) {
            const uint8_t *b = a == 0 ? c->irr : a == 1 ? c->isr : c->tmr;
            for (unsigned w = 0; w < 8; w++) {
                uint32_t got = rm_read(l, mode, base[a] + 16 * w);
                uint32_t want = rm_word(b, w);
                if (got != want) {
                    unsigned k = (unsigned)__builtin_ctz(got ^ want);
                    rm_fail(S, "cpu %u: %s vector 0x%02x is %u, the model "
                               "has %u (%s[%u] 0x%08x, model 0x%08x)",
                            i, names[a], 32 * w + k, (got >> k) & 1,
                            (want >> k) & 1, names[a], w, got, want);
                    return;
                }
            }
        }
        if (rm_read(l, mode, 0x0a0) != rm_ppr(c)) {
            rm_fail(S, "cpu %u: PPR 0x%02x, the model has 0x%02x (TPR "
                       "0x%02x, highest ISR %d)", i,
                    rm_read(l, mode, 0x0a0), rm_ppr(c), c->tpr,
                    rm_highest(c->isr));
            return;
        }
    }
    intr = intc_lapic_pending(l) & INTC_PEND_INTR;
    if (intr != rm_intr(c))
        rm_fail(S, "cpu %u: INTR pending %d, the model says %d", i, intr,
                rm_intr(c));
}

static void rm_compare_pins(rm_model *M, rm_step *S, mo_host *h)
{
    for (unsigned io = 0; io < M->cfg.n_ioapics && !S->failed; io++)
        for (unsigned pin = 0; pin < M->cfg.n_pins[io]; pin++) {
            uint64_t got = 0, want = rm_model_rte(&M->pin[io][pin]);
            intc_ioapic_rte(intc_machine_ioapic(h->m, io), pin, &got);
            if (got != want) {
                rm_fail(S, "ioapic %u pin %u: entry 0x%016" PRIx64
                           " (Remote IRR %u, DS %u), the model has 0x%016"
                           PRIx64 " (Remote IRR %u, DS %u)", io, pin, got,
                        !!(got & INTC_RTE_REMOTE_IRR),
                        !!(got & INTC_RTE_DELIVS), want,
                        !!(want & INTC_RTE_REMOTE_IRR),
                        !!(want & INTC_RTE_DELIVS));
                return;
            }
        }
    for (unsigned x = 0; x < M->cfg.n_msix && !S->failed; x++)
        for (unsigned v = 0; v < RM_MSIX_VECTORS; v++)
            if (intc_msix_pending(h->msix[x], (uint16_t)v) !=
                M->msix[x].pending[v]) {
                rm_fail(S, "MSI-X dev%u vector %u: pending bit %d, the "
                           "model has %d", x, v,
                        intc_msix_pending(h->msix[x], (uint16_t)v),
                        M->msix[x].pending[v]);
                return;
            }
}

/* O11 after one executed step.  Returns false with S->msg on a
   difference. */
static bool rm_step_post(rm_model *M, rm_step *S, mo_host *h,
                         const mo_step *s, const mo_result *r)
{
    uint32_t cpu_fired = h->fired & ((1u << h->cfg->n_cpus) - 1);

    memset(S, 0, sizeof *S);
    S->now = h->k->now;
    /* Timers that fired in this step: local interrupts (LVT timer), or
       the IOAPIC's throttle expiry; before an operation, everything. */
    S->unsure_cpus = cpu_fired;
    if ((h->fired & ~cpu_fired) || (h->fired && s->kind != KIT_OP_ADVANCE))
        S->unsure_all = true;
    rm_apply(M, S, h, s, r);
    if (S->failed)
        return false;
    for (unsigned i = 0; i < M->cfg.n_cpus && !S->failed; i++) {
        if (S->unsure_all || (S->unsure_cpus & (1u << i)))
            rm_resync_cpu(M, h, i);
        else
            rm_compare_cpu(M, S, h, i);
    }
    if (S->failed)
        return false;
    if (S->unsure_all) {
        rm_resync_pins(M, S, h);
        /* a lowest-priority arbitration may have gone unseen: the
           round-robin position is unknown until the next one the model
           can decide alone */
        M->lp_last = -1;
    } else {
        rm_compare_pins(M, S, h);
    }
    return !S->failed;
}
