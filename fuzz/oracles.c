/*
 * Oracles of the whole-machine fuzz target.  The state checks read the
 * models' private state (read-only; going through the guest's register
 * reads would fold posted interrupts and change the run).
 *
 * Per step (mo_oracle_post):
 *  O1 consistency: intc_machine_check() == INTC_OK, and every call
 *     returned a code the API defines for it (never BUSY, NOMEM, CORRUPT;
 *     snapshot/restore of the machine's own image always succeed; time
 *     advance terminates: no timer re-arms at or before the current time).
 *  O2 message accounting, from the step's event stream (from the step's
 *     own action on, after the timers already due fired): every IOAPIC
 *     message (ioapic_send) ends in exactly one outcome event before the
 *     next one starts: msi (delivered, data2 >> 32 = APICs reached),
 *     ir_remapped (likewise), msi_dropped, ir_fault or ir_posted.  For
 *     msi/ir_remapped, the acceptance events in the message's window
 *     (irr_set, coalesced, nmi, smi, init, sipi, extint) number exactly
 *     "reached", give or take one LVT Error interrupt per esr_error in the
 *     window (an illegal vector is refused with ESR[6], whose LVT Error
 *     interrupt is accepted inside the same window); "reached" 0 comes
 *     with no_target.  Likewise an ipi event (data2 = APICs reached) and
 *     the acceptances since the step's start or the previous outcome
 *     (exempt: INIT level de-assert, which reaches APICs and does nothing).
 *     ir_fault and msi_dropped windows accept nothing
 *     (nothing delivered from a blocked remapping).  An ir_posted's
 *     notification interrupt follows it and is not counted.
 *  O3 masked sources: no ioapic_send of an entry whose mask bit is set;
 *     an MSI-X notify of a masked vector (function or entry) sets the
 *     pending bit (msix_pending) and sends nothing; of a disabled
 *     function does nothing at all; of an enabled unmasked one sends
 *     exactly one message (an outcome event as in O2).  An msi step
 *     inside 0xFEExxxxx has an outcome event; outside, msi_dropped and
 *     INTC_ERR_NOT_DECODED.
 *  O4 edge conservation: an irq step that takes an edge entry's pin from
 *     inactive to active (input XOR wiring polarity XOR programmed
 *     polarity) produces exactly one ioapic_send of that pin if the entry
 *     is unmasked, exactly one ioapic_masked if masked; any other irq
 *     step sends nothing from an edge entry of that pin.
 *  O5 level conservation: after every step, a level entry (fixed or
 *     lowest priority, trigger level) whose line is active, unmasked and
 *     without Remote IRR must have its message pending (Delivery Status:
 *     nobody accepted it, or the storm throttle holds it): an active level
 *     line is never silently idle.
 *  O6 Remote IRR coupling: an entry with Remote IRR set must be explained
 *     by a level vector held by a CPU that accepted it: the shadow records,
 *     at each remote_irr-set event, the vector and CPUs of the level
 *     acceptances (irr_set/coalesced with data=1) of the message that set
 *     it; then some recorded CPU must have that vector in IRR or ISR with
 *     its TMR bit set.  Exempt (the entry is legitimately decoupled, for
 *     good, until its Remote IRR clears):
 *       - the entry's vector or trigger mode was changed while Remote IRR
 *         was set (the EOI then carries a vector the entry no longer has),
 *         including a remapped delivery whose IRTE vector differs;
 *       - a recorded CPU EOIed the vector with broadcast suppressed
 *         (SVR[12], directed EOI: an eoi with data=1 and no
 *         eoi_broadcast);
 *       - a recorded CPU accepted the same vector edge-triggered (TMR
 *         cleared, 11.8.4: its EOI will not broadcast);
 *       - a recorded CPU lost its state (INIT taken, APIC globally
 *         disabled);
 *       - the message was posted (VT-d/AMD-Vi) or accepted as NMI/SMI/...
 *         with no vector (no level acceptance to record).
 *     Also: remote_irr events and the entry's bit must agree.
 *  O11 reference model: an independent model of the fabric (ref_model.c)
 *     is fed every step; afterwards each CPU's APIC mode, TPR, IRR, ISR,
 *     TMR, PPR and INTR-pending, every INTA result (an ack step and each one
 *     inside a run step, in order), every IOAPIC entry as the guest reads
 *     it (Remote IRR and Delivery Status included) and every MSI-X
 *     pending bit must be what the model says, read through the public
 *     API.  What the model does not follow it resynchronises from the
 *     machine's public state for that step (the gaps: ref_model.c).
 *
 * Per input (mo_check_input):
 *  O7 determinism: two machines running the same steps produce the same
 *     trace (hash of every event's fields and every kick, in order).
 *  O8 snapshot round trip: after step K (input byte 2) machine A saves
 *     (a second machine B, fed the same first K steps, must have the same
 *     trace so far: O7 up to K); a fresh
 *     machine C loads A's image (plus the host's clock, memory and named
 *     snapshots), must re-arm the same host timers, must save the same
 *     image again, and running the remaining steps must give the same
 *     trace as A's remainder.
 *  O9 xAPIC vs x2APIC (differential inputs): the same steps (physical
 *     destinations only, IDs < 255, no ID/LDR/DFR/ICR-register/MSR
 *     accesses, values without reserved bits; self IPIs as the ICR
 *     self shorthand in xAPIC and the SELF IPI MSR in x2APIC) run on a
 *     machine left in xAPIC mode and on one switched to x2APIC first must
 *     give the same deliveries: per step the same multiset of (irr_set,
 *     coalesced, nmi, smi, init, sipi, extint) x (cpu, vector) and the
 *     same INTA results.  x2APIC writes must not #GP.
 *  O10 traced vs untraced: a twin machine of the same configuration but
 *     without an event callback (the only difference; tracing must not
 *     change which code runs) runs the same steps
 *     in lock step with a traced machine of its own (not A: the per-step
 *     saves reorder routing chains, see check_twin), also for
 *     differential inputs (xAPIC run); after every step it must have
 *     returned the same results, kicked the same CPUs in the same order,
 *     left the host the same clock, timer deadlines and guest memory, and
 *     saved a byte-identical intc_machine_save image.  Nothing else is
 *     checked on the twin (the other oracles need events).
 */
#include "oracles.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../libintc/internal.h"
#include "../libintc/msi_priv.h"

#include "ref_model.c"

/* fuzz/mutants.sh builds with -DMO_O11_ONLY=1: one run (in x2APIC mode
   for a differential input) with the reference model (O11) as the only
   oracle, to show what it catches by itself. */
#ifndef MO_O11_ONLY
#define MO_O11_ONLY 0
#endif

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void fail(mo_oracle *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (o->failed)
        return;
    o->failed = true;
    n = snprintf(o->msg, sizeof o->msg, "step %u: ", o->step + 1);
    va_start(ap, fmt);
    vsnprintf(o->msg + n, sizeof o->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

static uint64_t fnv(uint64_t h, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

static bool is_accept(intc_event_type t)
{
    return t == INTC_EV_IRR_SET || t == INTC_EV_COALESCED ||
           t == INTC_EV_NMI || t == INTC_EV_SMI || t == INTC_EV_INIT ||
           t == INTC_EV_SIPI || t == INTC_EV_EXTINT;
}

static bool is_outcome(intc_event_type t)
{
    return t == INTC_EV_MSI || t == INTC_EV_IR_REMAPPED ||
           t == INTC_EV_MSI_DROPPED || t == INTC_EV_IR_FAULT ||
           t == INTC_EV_IR_POSTED;
}

static bool entry_level(uint64_t rte)
{
    unsigned dm = (rte >> 8) & 7;
    return (rte & INTC_RTE_LEVEL) && (dm == 0 || dm == 1);
}

static void decouple_cpu(mo_oracle *o, uint32_t cpu, int vec)
{
    for (unsigned i = 0; i < MO_MAX_IOAPICS; i++)
        for (unsigned p = 0; p < MO_IOAPIC0_PINS; p++) {
            mo_pin_shadow *s = &o->sh.pin[i][p];
            if (s->valid && cpu < 8 && (s->targets & (1u << cpu)) &&
                (vec < 0 || s->vec == vec))
                s->decoupled = true;
        }
}

static void resolve_eoi(mo_oracle *o)
{
    if (o->eoi_pending)
        decouple_cpu(o, o->eoi_cpu, o->eoi_vec);
    o->eoi_pending = false;
}

static void dlog(mo_oracle *o, unsigned kind, uint32_t cpu, int32_t vec)
{
    if (o->n_dlog >= MO_DLOG) {
        o->dlog_overflow = true;
        return;
    }
    o->dlog[o->n_dlog++] = (uint32_t)(o->step & 0xffff) << 16 |
                           (kind & 0x3f) << 10 | (cpu & 3) << 8 |
                           ((uint32_t)vec & 0xff);
}

static void ev_cb(void *ctx, const intc_event *ev)
{
    mo_oracle *o = ctx;
    uint64_t h = o->hash;

    h = fnv(h, (uint64_t)ev->type << 32 | ev->cpu);
    h = fnv(h, (uint64_t)(uint32_t)ev->vector << 32 | ev->unit);
    h = fnv(h, ev->pin);
    h = fnv(h, ev->data);
    h = fnv(h, ev->data2);
    o->hash = h;
    if (o->n_ev < MO_EVBUF)
        o->ev[o->n_ev++] = *ev;
    else
        o->overflow = true;
    if (is_accept(ev->type))
        dlog(o, ev->type, ev->cpu, ev->vector);

    if (ev->type != INTC_EV_EOI_BROADCAST && ev->type != INTC_EV_EOI &&
        ev->type != INTC_EV_LVT_REMOTE_IRR && !is_accept(ev->type) &&
        ev->type != INTC_EV_LINT && ev->type != INTC_EV_REJECTED)
        resolve_eoi(o);

    switch (ev->type) {
    case INTC_EV_IOAPIC_SEND:
        o->cur = (struct mo_send){.active = true, .unit = (uint8_t)ev->unit,
                                  .pin = (uint8_t)ev->pin, .vec = -1};
        break;
    case INTC_EV_NMI:
    case INTC_EV_SMI:
    case INTC_EV_INIT:
    case INTC_EV_SIPI:
    case INTC_EV_EXTINT:
        if (o->cur.active)
            o->cur.accepted = true;
        break;
    case INTC_EV_IRR_SET:
    case INTC_EV_COALESCED:
        if (o->cur.active)
            o->cur.accepted = true;
        if (ev->data == 0) /* edge acceptance clears TMR */
            decouple_cpu(o, ev->cpu, ev->vector);
        else if (o->cur.active && ev->cpu < 8) {
            o->cur.vec = (int16_t)ev->vector;
            o->cur.targets |= (uint8_t)(1u << ev->cpu);
        }
        break;
    case INTC_EV_IR_POSTED:
        if (o->cur.active)
            o->cur.posted = true;
        /* fall through */
    case INTC_EV_MSI:
    case INTC_EV_MSI_DROPPED:
    case INTC_EV_IR_FAULT:
    case INTC_EV_IR_REMAPPED:
        if (o->cur.active) {
            o->last = o->cur;
            o->cur.active = false;
        }
        break;
    case INTC_EV_REMOTE_IRR:
        if (ev->unit < MO_MAX_IOAPICS && ev->pin < MO_IOAPIC0_PINS) {
            mo_pin_shadow *s = &o->sh.pin[ev->unit][ev->pin];
            if (!ev->data) {
                *s = (mo_pin_shadow){0};
                break;
            }
            if (o->last.unit != ev->unit || o->last.pin != ev->pin ||
                o->cur.active) {
                if (o->checks)
                    fail(o, "ioapic %u pin %u: Remote IRR set without a "
                            "message of that pin", ev->unit, ev->pin);
                *s = (mo_pin_shadow){.valid = true, .decoupled = true};
                break;
            }
            if (!o->last.accepted && !o->last.posted && o->checks)
                fail(o, "ioapic %u pin %u: Remote IRR set though no APIC "
                        "accepted the message", ev->unit, ev->pin);
            s->valid = true;
            s->vec = o->last.vec;
            s->targets = o->last.targets;
            s->decoupled = o->last.vec < 0 || o->last.posted;
        }
        break;
    case INTC_EV_EOI:
        resolve_eoi(o); /* a previous EOI whose broadcast never came */
        if (ev->data) {
            o->eoi_pending = true;
            o->eoi_cpu = ev->cpu;
            o->eoi_vec = ev->vector;
        }
        break;
    case INTC_EV_EOI_BROADCAST:
        if (o->eoi_pending && ev->cpu == o->eoi_cpu &&
            ev->vector == o->eoi_vec)
            o->eoi_pending = false;
        break;
    case INTC_EV_INIT_RESET:
        decouple_cpu(o, ev->cpu, -1);
        break;
    case INTC_EV_APIC_BASE:
        if (!(ev->data & INTC_APIC_BASE_EN))
            decouple_cpu(o, ev->cpu, -1);
        break;
    default:
        break;
    }
}

/* The step's own action starts here (after the timers already due). */
static void mark_cb(void *ctx)
{
    mo_oracle *o = ctx;
    o->mark = o->n_ev;
}

static void kick_cb(void *ctx, uint32_t cpu)
{
    mo_oracle *o = ctx;
    o->hash = fnv(o->hash, 0xffffffff00000000ull | cpu);
    if (o->n_kicks < MO_KLOG)
        o->kicks[o->n_kicks] = cpu;
    o->n_kicks++;
}

void mo_oracle_init(mo_oracle *o, bool checks)
{
    memset(o, 0, sizeof *o);
    o->checks = checks;
    o->hash = 0xcbf29ce484222325ull;
}

mo_observer mo_oracle_observer(mo_oracle *o)
{
    return (mo_observer){.event = ev_cb, .kick = kick_cb, .mark = mark_cb,
                         .ctx = o};
}

void mo_oracle_attach(mo_oracle *o, mo_host *h)
{
    o->h = h;
    h->shadow = &o->sh;
    h->shadow_size = sizeof o->sh;
}

static bool pin_active(const struct intc_ioapic_pin *p)
{
    bool asserted = p->sources != 0;
    bool electrical = asserted != !!(p->wiring & INTC_PIN_ACTIVE_LOW);
    return electrical != !!(p->rte & INTC_RTE_ACTIVE_LOW);
}

static struct intc_ioapic_pin *pin_of(mo_oracle *o, unsigned io,
                                      unsigned pin)
{
    return &o->h->m->ioapics[io].pins[pin];
}

void mo_oracle_pre(mo_oracle *o, unsigned index, const mo_step *s)
{
    o->step = index;
    o->n_ev = 0;
    o->n_kicks = 0;
    o->mark = 0;
    o->overflow = false;
    if (!o->checks)
        return;
    if (!o->sh.rm.ready)
        rm_init(&o->sh.rm, o->h); /* O11: from the machine as it starts */
    if (s->kind == KIT_OP_IRQ) {
        struct intc_ioapic_pin *p = pin_of(o, s->unit, s->index);
        o->pre_rte = p->rte;
        o->pre_active = pin_active(p);
    } else if (s->kind == KIT_OP_MSIX_NOTIFY) {
        const intc_msix *x = o->h->msix[s->unit];
        o->pre_enabled = x->enabled;
        o->pre_masked = x->fmask || (x->table[s->index].ctrl & MSIX_CTRL_MASK);
    }
}

static unsigned count_ev(const mo_oracle *o, intc_event_type t, int unit,
                         int pin)
{
    unsigned n = 0;
    for (unsigned i = o->mark; i < o->n_ev; i++)
        if (o->ev[i].type == t && (unit < 0 || o->ev[i].unit == (unsigned)unit) &&
            (pin < 0 || o->ev[i].pin == (unsigned)pin))
            n++;
    return n;
}

static unsigned count_outcomes(const mo_oracle *o)
{
    unsigned n = 0;
    for (unsigned i = o->mark; i < o->n_ev; i++)
        n += is_outcome(o->ev[i].type);
    return n;
}

/* O2 and the masked-entry part of O3 over the step's events. */
static void check_messages(mo_oracle *o)
{
    unsigned start = o->mark, accepts = 0, errors = 0;
    bool open_send = false, skip_notify = false;

    for (unsigned i = o->mark; i < o->n_ev && !o->failed; i++) {
        const intc_event *e = &o->ev[i];
        if (skip_notify) {
            if (is_accept(e->type) || e->type == INTC_EV_REJECTED ||
                e->type == INTC_EV_ESR_ERROR)
                continue;
            skip_notify = false;
            start = i;
            accepts = errors = 0;
        }
        if (e->type == INTC_EV_IOAPIC_SEND) {
            if (open_send)
                fail(o, "ioapic message without an outcome event before "
                        "the next one (ioapic %u pin %u)", e->unit, e->pin);
            if (e->data & INTC_RTE_MASKED)
                fail(o, "ioapic %u pin %u sent while masked (rte 0x%" PRIx64
                        ")", e->unit, e->pin, e->data);
            open_send = true;
            start = i;
            accepts = errors = 0;
            continue;
        }
        if (is_accept(e->type)) {
            accepts++;
            continue;
        }
        if (e->type == INTC_EV_ESR_ERROR) {
            errors++;
            continue;
        }
        if (e->type == INTC_EV_IPI) {
            /* data2 = APICs that accepted it; an INIT level de-assert
               reaches them and changes nothing (no event) */
            bool deassert = ((e->data >> 8) & 7) == 5 &&
                            (e->data & (1u << 15)) && !(e->data & (1u << 14));
            if (!deassert &&
                (accepts < e->data2 || accepts > e->data2 + errors))
                fail(o, "ipi reached %" PRIu64 " APICs but %u acceptances "
                        "were reported", e->data2, accepts);
            start = i + 1;
            accepts = errors = 0;
            continue;
        }
        if (!is_outcome(e->type))
            continue;
        open_send = false;
        if (e->type == INTC_EV_MSI || e->type == INTC_EV_IR_REMAPPED) {
            uint32_t reached = (uint32_t)(e->data2 >> 32);
            if (accepts < reached || accepts > reached + errors)
                fail(o, "%s reached %u APICs but %u acceptances were "
                        "reported (events %u..%u)",
                     intc_event_name(e->type), reached, accepts, start, i);
            if (e->type == INTC_EV_MSI && reached == 0 &&
                (i + 1 >= o->n_ev || o->ev[i + 1].type != INTC_EV_NO_TARGET))
                fail(o, "msi reached no APIC without no_target");
            if (e->type == INTC_EV_MSI && reached == 0)
                i++; /* its no_target */
        } else if (e->type == INTC_EV_IR_FAULT ||
                   e->type == INTC_EV_MSI_DROPPED) {
            if (accepts > errors)
                fail(o, "%s but %u acceptances in its window",
                     intc_event_name(e->type), accepts);
        } else if (e->type == INTC_EV_IR_POSTED && e->data2) {
            skip_notify = true;
        }
        start = i + 1;
        accepts = errors = 0;
    }
    if (open_send && !o->overflow)
        fail(o, "ioapic message without an outcome event");
}

static void check_lapic_hold(mo_oracle *o)
{
    intc_machine *m = o->h->m;
    for (unsigned i = 0; i < m->n_ioapics && !o->failed; i++) {
        const intc_ioapic *io = &m->ioapics[i];
        for (unsigned p = 0; p < io->n_pins && !o->failed; p++) {
            const struct intc_ioapic_pin *pp = &io->pins[p];
            mo_pin_shadow *s = &o->sh.pin[i][p];
            bool remote = pp->rte & INTC_RTE_REMOTE_IRR;

            /* O5 */
            if (entry_level(pp->rte) && pin_active(pp) &&
                !(pp->rte & (INTC_RTE_MASKED | INTC_RTE_REMOTE_IRR)) &&
                !pp->send_pending && !pp->throttle_until)
                fail(o, "ioapic %u pin %u: level line active, unmasked, no "
                        "Remote IRR, and nothing pending (rte 0x%" PRIx64
                        "): the interrupt is lost", i, p, pp->rte);
            /* O6 */
            if (remote != s->valid) {
                fail(o, "ioapic %u pin %u: Remote IRR %d but the events "
                        "say %d", i, p, remote, s->valid);
                break;
            }
            if (!remote || s->decoupled)
                continue;
            if ((pp->rte & 0xff) != (uint64_t)s->vec ||
                !entry_level(pp->rte)) {
                s->decoupled = true;
                continue;
            }
            bool held = false;
            for (unsigned c = 0; c < m->n_cpus && !held; c++) {
                const intc_lapic *l = &m->cpus[c];
                unsigned w = (unsigned)s->vec >> 6;
                uint64_t b = 1ull << (s->vec & 63);
                if (!(s->targets & (1u << c)))
                    continue;
                held = (l->tmr[w] & b) && ((l->irr[w] | l->isr[w]) & b);
            }
            if (!held)
                fail(o, "ioapic %u pin %u: Remote IRR set (vector 0x%02x, "
                        "cpus 0x%x) but no CPU it reached holds a level "
                        "0x%02x in IRR/ISR: no EOI can ever clear it",
                     i, p, s->vec, s->targets, s->vec);
        }
    }
}

/* O11: feed the reference model the step and compare. */
static void check_model(mo_oracle *o, const mo_step *s, const mo_result *r)
{
    mo_shadow *sn;

    if (!rm_step_post(&o->sh.rm, &o->rs, o->h, s, r)) {
        fail(o, "O11 reference model: %s", o->rs.msg);
        return;
    }
    /* The host copied the shadow while it executed the snapshot step,
       before the model caught up with that step's timer expiries (they
       fire at its start): the model at the snapshot is the one now. */
    sn = o->h->snap_shadow[s->unit % MO_SNAP_SLOTS];
    if (s->kind == KIT_OP_SNAPSHOT && r->err == INTC_OK && sn)
        memcpy(&sn->rm, &o->sh.rm, sizeof o->sh.rm);
}

bool mo_oracle_post(mo_oracle *o, const mo_step *s, const mo_result *r)
{
    char msg[512] = "";

    resolve_eoi(o);
    if (!o->checks)
        return true;
    if (MO_O11_ONLY) {
        /* fuzz/mutants.sh: the reference model alone */
        check_model(o, s, r);
        return !o->failed;
    }
    /* O1 */
    if (intc_machine_check(o->h->m, msg, sizeof msg) != INTC_OK)
        fail(o, "intc_machine_check: %s", msg);
    if (r->err == INTC_ERR_BUSY && s->kind == KIT_OP_ADVANCE)
        fail(o, "a timer keeps re-arming at or before the current time");
    else if (r->err == INTC_ERR_BUSY || r->err == INTC_ERR_NOMEM ||
             (r->err == INTC_ERR_CORRUPT && s->kind != KIT_OP_LOAD) ||
             strcmp(intc_err_name(r->err), "UNKNOWN") == 0)
        /* (a raw `load` of fuzzed bytes is refused as CORRUPT, rightly:
           the machine must then be unchanged, which O1 and the model
           check) */
        fail(o, "call returned %s", intc_err_name(r->err));
    if ((s->kind == KIT_OP_SNAPSHOT || s->kind == KIT_OP_RESTORE) && r->err)
        fail(o, "%s of the machine's own image: %s",
             s->kind == KIT_OP_SNAPSHOT ? "save" : "load",
             intc_err_name(r->err));
    if (o->failed || o->overflow) {
        if (!o->failed)
            check_model(o, s, r); /* O11 follows every step */
        return !o->failed;
    }
    /* O2, O3 */
    check_messages(o);
    if (s->kind == KIT_OP_MSIX_NOTIFY && !o->failed) {
        unsigned out = count_outcomes(o);
        unsigned pend = count_ev(o, INTC_EV_MSIX_PENDING, -1, -1);
        if (!o->pre_enabled && o->n_ev > o->mark)
            fail(o, "MSI-X notify of a disabled function did something");
        else if (o->pre_enabled && o->pre_masked && (out || pend != 1))
            fail(o, "MSI-X notify of a masked vector: %u messages, %u "
                    "pending events", out, pend);
        else if (o->pre_enabled && !o->pre_masked && (out < 1 || pend))
            fail(o, "MSI-X notify of an unmasked vector: %u messages, %u "
                    "pending events", out, pend);
    }
    if (s->kind == KIT_OP_MSI && !o->failed) {
        bool ours = (s->addr & ~0xfffffull) == INTC_MSI_ADDR_BASE;
        if (count_outcomes(o) < 1)
            fail(o, "msi without an outcome event");
        else if (!ours && r->err != INTC_ERR_NOT_DECODED)
            fail(o, "msi outside 0xFEExxxxx returned %s",
                 intc_err_name(r->err));
    }
    /* O4 */
    if (s->kind == KIT_OP_IRQ && !o->failed && !entry_level(o->pre_rte)) {
        struct intc_ioapic_pin *p = pin_of(o, s->unit, s->index);
        bool rise = !o->pre_active && pin_active(p);
        unsigned sends = count_ev(o, INTC_EV_IOAPIC_SEND, s->unit,
                                  (int)s->index);
        unsigned lost = count_ev(o, INTC_EV_IOAPIC_MASKED, s->unit,
                                 (int)s->index);
        bool masked = o->pre_rte & INTC_RTE_MASKED;
        if (rise && !masked && (sends != 1 || lost))
            fail(o, "edge on unmasked ioapic %u pin %u: %u messages",
                 s->unit, s->index, sends);
        else if (rise && masked && (sends || lost != 1))
            fail(o, "edge on masked ioapic %u pin %u: %u messages, %u "
                    "ioapic_masked", s->unit, s->index, sends, lost);
        else if (!rise && (sends || lost))
            fail(o, "no edge on ioapic %u pin %u but %u messages",
                 s->unit, s->index, sends);
    }
    /* O5, O6 */
    if (!o->failed)
        check_lapic_hold(o);
    /* O11 */
    if (!o->failed)
        check_model(o, s, r);
    return !o->failed;
}

/* ---- per input ---- */

typedef struct mo_run {
    mo_host h;
    mo_oracle o;
    bool untraced; /* set before run_init: the O10 twin */
    struct mo_run *twin; /* O10: run in lock step and compared, or NULL */
    uint8_t img[2][16384]; /* O10: the two save images of a step */
} mo_run;

/* O10: one machine save into buf (cap bytes), or a new allocation *heap
   when it does not fit; NULL on failure. */
static const uint8_t *twin_save(intc_machine *m, uint8_t *buf, size_t cap,
                                size_t *len, uint8_t **heap)
{
    *heap = NULL;
    if (intc_machine_save(m, buf, cap, len) == INTC_OK)
        return buf;
    *heap = mo_save(m, len);
    return *heap;
}

/* O10: the same clock, timer deadlines and guest memory. */
static bool same_host(const mo_host *a, const mo_host *b)
{
    if (a->k->now != b->k->now)
        return false;
    for (unsigned i = 0; i < a->cfg->n_cpus + a->cfg->n_ioapics; i++)
        if (mo_deadline(a, i) != mo_deadline(b, i))
            return false;
    return memcmp(kit_mem(a->k, MO_MEM_BASE, MO_MEM_SIZE),
                  kit_mem(b->k, MO_MEM_BASE, MO_MEM_SIZE), MO_MEM_SIZE) == 0;
}

/* O10: execute step i on x's untraced twin and compare (false and x's
   oracle message on a divergence). */
static bool twin_step(mo_run *x, const mo_step *s, const mo_result *ra)
{
    mo_run *u = x->twin;
    mo_result rb = {0};
    const uint8_t *ia, *ib;
    uint8_t *ha = NULL, *hb = NULL;
    size_t la = 0, lb = 0;
    bool ok = true;

    mo_oracle_pre(&u->o, x->o.step, s);
    mo_exec(&u->h, s, &rb);
    if (ra->err != rb.err || ra->ack != rb.ack || ra->take != rb.take ||
        ra->sipi != rb.sipi || ra->value != rb.value ||
        ra->skipped != rb.skipped) {
        fail(&x->o, "traced vs untraced: results differ (err %s/%s, ack "
                    "%d/%d, take %d/%d, read %#" PRIx64 "/%#" PRIx64 ")",
             intc_err_name(ra->err), intc_err_name(rb.err), ra->ack, rb.ack,
             ra->take, rb.take, ra->value, rb.value);
        kit_result_free(&rb);
        return false;
    }
    kit_result_free(&rb);
    if (x->o.n_kicks != u->o.n_kicks ||
        memcmp(x->o.kicks, u->o.kicks,
               sizeof(uint32_t) *
                   (x->o.n_kicks < MO_KLOG ? x->o.n_kicks : MO_KLOG))) {
        fail(&x->o, "traced vs untraced: kicks differ (%u vs %u kicks, "
                    "first cpu %d vs %d)", x->o.n_kicks, u->o.n_kicks,
             x->o.n_kicks ? (int)x->o.kicks[0] : -1,
             u->o.n_kicks ? (int)u->o.kicks[0] : -1);
        return false;
    }
    if (!same_host(&x->h, &u->h)) {
        fail(&x->o, "traced vs untraced: host clock, timers or guest "
                    "memory differ");
        return false;
    }
    ia = twin_save(x->h.m, x->img[0], sizeof x->img[0], &la, &ha);
    ib = twin_save(u->h.m, x->img[1], sizeof x->img[1], &lb, &hb);
    if (!ia || !ib || la != lb || memcmp(ia, ib, la)) {
        size_t d = 0;
        while (ia && ib && d < la && d < lb && ia[d] == ib[d])
            d++;
        fail(&x->o, "traced vs untraced: machine images differ (%zu vs "
                    "%zu bytes, first difference at byte %zu)", la, lb, d);
        ok = false;
    }
    free(ha);
    free(hb);
    return ok;
}

static bool run_init(mo_run *x, const mo_config *c, bool checks)
{
    mo_observer obs;
    mo_oracle_init(&x->o, checks);
    obs = mo_oracle_observer(&x->o);
    if (x->untraced) {
        obs.event = NULL;
        obs.untraced = true;
    }
    if (!mo_host_init(&x->h, c, &obs))
        return false;
    mo_oracle_attach(&x->o, &x->h);
    return true;
}

static bool run_step(mo_run *x, const mo_program *p, unsigned i,
                     mo_result *r)
{
    mo_oracle_pre(&x->o, i, &p->steps[i]);
    mo_exec(&x->h, &p->steps[i], r);
    if (!mo_oracle_post(&x->o, &p->steps[i], r))
        return false;
    if (x->twin && !twin_step(x, &p->steps[i], r))
        return false;
    if (x->h.x2 && r->err == INTC_ERR_GP) {
        x->o.step = i;
        fail(&x->o, "differential x2APIC run: the write raised #GP");
        return false;
    }
    if (p->steps[i].kind == KIT_OP_ACK)
        dlog(&x->o, 0x3f, p->steps[i].cpu, r->ack);
    return true;
}

static bool run_steps(mo_run *x, const mo_program *p, unsigned from,
                      unsigned to)
{
    mo_result r = {0};
    bool ok = true;

    for (unsigned i = from; i < to && ok; i++)
        ok = run_step(x, p, i, &r);
    kit_result_free(&r);
    return ok;
}

/* O10: a traced machine T (no per-step checks) and its untraced twin U
   run every step in lock step.  A pair of its own, because
   intc_machine_save is not invisible (it folds posted interrupts and puts
   the routing chains in canonical order, which orders the events of later
   multi-target deliveries): the per-step saves would make A differ from
   B and C, and both machines of this pair save at the same points. */
static int check_twin(const mo_program *p, char *msg, size_t len)
{
    mo_run *t = calloc(1, sizeof *t), *u = calloc(1, sizeof *u);
    int rc = 0;

    if (t && u) {
        u->untraced = true;
        if (run_init(t, &p->cfg, false)) {
            if (run_init(u, &p->cfg, false)) {
                t->twin = u;
                if (!run_steps(t, p, 0, p->n)) {
                    snprintf(msg, len, "%s", t->o.msg);
                    rc = 1;
                }
                mo_host_fini(&u->h);
            }
            mo_host_fini(&t->h);
        }
    }
    free(t);
    free(u);
    return rc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int check_diff(const mo_program *p, char *msg, size_t len)
{
    mo_run *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    int rc = 0;

    if (!a || !b || !run_init(a, &p->cfg, true)) {
        free(a);
        free(b);
        return 0;
    }
    if (!run_init(b, &p->cfg, true)) {
        mo_host_fini(&a->h);
        free(a);
        free(b);
        return 0;
    }

    mo_host_enter_x2apic(&b->h);
    b->o.n_dlog = 0;
    if (!run_steps(a, p, 0, p->n)) {
        snprintf(msg, len, "xAPIC run: %s", a->o.msg);
        rc = 1;
    } else if (!run_steps(b, p, 0, p->n)) {
        snprintf(msg, len, "x2APIC run: %s", b->o.msg);
        rc = 1;
    } else if (!a->o.dlog_overflow && !b->o.dlog_overflow) {
        /* compare per step, order within a step ignored */
        qsort(a->o.dlog, a->o.n_dlog, sizeof a->o.dlog[0], cmp_u32);
        qsort(b->o.dlog, b->o.n_dlog, sizeof b->o.dlog[0], cmp_u32);
        for (unsigned i = 0; i < a->o.n_dlog || i < b->o.n_dlog; i++) {
            uint32_t x = i < a->o.n_dlog ? a->o.dlog[i] : 0xffffffffu;
            uint32_t y = i < b->o.n_dlog ? b->o.dlog[i] : 0xffffffffu;
            if (x == y)
                continue;
            snprintf(msg, len, "xAPIC vs x2APIC: deliveries differ at step "
                               "%u: xAPIC %s cpu %u vector 0x%02x, x2APIC "
                               "%s cpu %u vector 0x%02x",
                     ((x < y ? x : y) >> 16) + 1,
                     x == 0xffffffffu ? "nothing"
                     : ((x >> 10) & 0x3f) == 0x3f
                         ? "ack"
                         : intc_event_name((intc_event_type)((x >> 10) & 0x3f)),
                     (x >> 8) & 3, x & 0xff,
                     y == 0xffffffffu ? "nothing"
                     : ((y >> 10) & 0x3f) == 0x3f
                         ? "ack"
                         : intc_event_name((intc_event_type)((y >> 10) & 0x3f)),
                     (y >> 8) & 3, y & 0xff);
            rc = 1;
            break;
        }
    }
    mo_host_fini(&a->h);
    mo_host_fini(&b->h);
    free(a);
    free(b);
    if (!rc)
        rc = check_twin(p, msg, len);
    return rc;
}

/* One run with O11 alone (MO_O11_ONLY). */
static int check_o11_only(mo_program *p, char *msg, size_t len)
{
    mo_run *a = calloc(1, sizeof *a);
    int rc = 0;

    if (a && run_init(a, &p->cfg, true)) {
        if (p->cfg.diff)
            mo_host_enter_x2apic(&a->h);
        if (!run_steps(a, p, 0, p->n)) {
            snprintf(msg, len, "%s", a->o.msg);
            rc = 1;
        }
        mo_host_fini(&a->h);
    }
    free(a);
    mo_program_free(p);
    free(p);
    return rc;
}

int mo_check_input(const uint8_t *data, size_t size, char *msg, size_t len)
{
    mo_program *p = malloc(sizeof *p);
    mo_run *a = NULL, *b = NULL, *c = NULL;
    uint8_t *img = NULL, *img_c = NULL;
    size_t img_len = 0, len_c = 0;
    uint64_t hash_k = 0, deadlines[MO_MAX_CPUS + MO_MAX_IOAPICS];
    unsigned k;
    int rc = 0;

    if (!p)
        return 0;
    mo_decode(data, size, p);
    if (MO_O11_ONLY)
        return check_o11_only(p, msg, len);
    if (p->cfg.diff) {
        rc = check_diff(p, msg, len);
        mo_program_free(p);
        free(p);
        return rc;
    }
    k = p->cfg.snap_at; /* save after step k (0-based), or never */
    a = calloc(1, sizeof *a);
    b = calloc(1, sizeof *b);
    c = calloc(1, sizeof *c);
    if (!a || !b || !c)
        goto out;
    if (!run_init(a, &p->cfg, true))
        goto out;
    /* A: every step with the per-step oracles; save after step k */
    if (!run_steps(a, p, 0, k == UINT32_MAX ? p->n : k + 1)) {
        snprintf(msg, len, "%s", a->o.msg);
        rc = 1;
        goto out;
    }
    if (k != UINT32_MAX) {
        hash_k = a->o.hash;
        img = mo_save(a->h.m, &img_len);
        for (unsigned i = 0; i < p->cfg.n_cpus + p->cfg.n_ioapics; i++)
            deadlines[i] = mo_deadline(&a->h, i);
        if (!img)
            goto out;
        if (!run_init(c, &p->cfg, false))
            goto out;
        /* C: the fresh machine loads A's image and A's host state */
        c->h.quiet = true;
        if (!mo_host_copy_state(&c->h, &a->h))
            goto out;
        memcpy(&c->o.sh, &a->o.sh, sizeof c->o.sh);
        /* (C's host timers are all disarmed: nothing ran on it) */
        if (intc_machine_load(c->h.m, img, img_len) != INTC_OK) {
            snprintf(msg, len, "step %u: load of a fresh save failed", k + 1);
            rc = 1;
            goto out;
        }
        for (unsigned i = 0; i < p->cfg.n_cpus + p->cfg.n_ioapics; i++)
            if (mo_deadline(&c->h, i) != deadlines[i]) {
                snprintf(msg, len, "step %u: after load, host timer %u "
                                   "armed at %" PRIu64 ", saved machine "
                                   "had %" PRIu64, k + 1, i,
                         mo_deadline(&c->h, i), deadlines[i]);
                rc = 1;
                goto out;
            }
        img_c = mo_save(c->h.m, &len_c);
        if (img_c && (len_c != img_len || memcmp(img_c, img, img_len))) {
            snprintf(msg, len, "step %u: save(load(image)) differs from "
                               "the image", k + 1);
            rc = 1;
            goto out;
        }
        c->h.quiet = false;
        c->o.hash = 0;
        a->o.hash = 0;
        if (!run_steps(a, p, k + 1, p->n)) {
            snprintf(msg, len, "%s", a->o.msg);
            rc = 1;
            goto out;
        }
        run_steps(c, p, k + 1, p->n);
        if (c->o.hash != a->o.hash) {
            snprintf(msg, len, "snapshot after step %u: the restored "
                               "machine's trace of steps %u..%u differs",
                     k + 1, k + 2, p->n);
            rc = 1;
            goto out;
        }
    }
    /* B: determinism of the same steps (up to the save point) */
    if (!run_init(b, &p->cfg, false))
        goto out;
    run_steps(b, p, 0, k == UINT32_MAX ? p->n : k + 1);
    if (k == UINT32_MAX) {
        if (b->o.hash != a->o.hash) {
            snprintf(msg, len, "two runs of the same input differ");
            rc = 1;
        }
        goto out;
    }
    if (b->o.hash != hash_k) {
        snprintf(msg, len, "two runs of steps 1..%u differ", k + 1);
        rc = 1;
    }
out:
    if (a && a->h.m)
        mo_host_fini(&a->h);
    if (b && b->h.m)
        mo_host_fini(&b->h);
    if (c && c->h.m)
        mo_host_fini(&c->h);
    free(a);
    free(b);
    free(c);
    if (!rc)
        rc = check_twin(p, msg, len);
    free(img);
    free(img_c);
    mo_program_free(p);
    free(p);
    return rc;
}
