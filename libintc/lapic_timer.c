/*
 * libintc — the Local APIC timer (11.5.4): one-shot, periodic and
 * TSC-deadline.
 *
 * The counter is never ticked.  It is computed from the host's clock:
 * counting started at timer_start (ns) from timer_count0 and decrements
 * once per (1 << timer_shift) cycles of the apic_timer_hz clock.  The k-th
 * expiry (k = 0, 1, ...) of a periodic timer is when count0 + k * initial
 * count ticks have passed; computing it from the start instead of adding
 * periods keeps the phase exact over any run length.
 */
#include "internal.h"
#include "snap_priv.h"

#define NS_PER_S 1000000000ull

static inline unsigned timer_mode(const intc_lapic *l)
{
    return intc__lvt_timer_mode(l->lvt[INTC_LVT_TIMER]);
}

/* 11.5.4, Figure 11-10: DCR bits 3,1,0: 000 /2 ... 110 /128, 111 /1. */
static unsigned dcr_shift(uint32_t dcr)
{
    unsigned v = (dcr & 3) | ((dcr >> 1) & 4);
    return v == 7 ? 0 : v + 1;
}

static void arm(intc_lapic *l, uint64_t deadline)
{
    if (deadline == l->deadline)
        return;
    l->deadline = deadline;
    intc__timer_arm(l->m, l->index, deadline);
}

/* Counter ticks since timer_start. */
static uint64_t ticks_since(const intc_lapic *l, uint64_t now)
{
    if (now <= l->timer_start)
        return 0;
    return intc__muldiv(now - l->timer_start, l->m->cfg.apic_timer_hz,
                       NS_PER_S, false) >>
           l->timer_shift;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Host time at which a count of count0 started at start (then k periods
   of icr) runs out, at hz >> shift: the exact time rounded up to the
   next ns, or UINT64_MAX - 1 when that lies beyond the clock (never
   UINT64_MAX: that means "none"). */
static uint64_t expiry_at(uint64_t start, uint64_t count0, uint64_t icr,
                          unsigned shift, uint64_t hz, uint64_t k)
{
    uint64_t ticks = count0, cyc, ns;
    if (k)
        ticks = k > (UINT64_MAX - ticks) / icr ? UINT64_MAX : ticks + k * icr;
    cyc = ticks > (UINT64_MAX >> shift) ? UINT64_MAX : ticks << shift;
    ns = intc__muldiv(cyc, NS_PER_S, hz, true);
    ns = add_sat(start, ns);
    return ns == UINT64_MAX ? UINT64_MAX - 1 : ns;
}

/* Host time of the k-th expiry. */
static uint64_t expiry_ns(const intc_lapic *l, uint64_t k)
{
    return expiry_at(l->timer_start, l->timer_count0, l->timer_icr,
                     l->timer_shift, l->m->cfg.apic_timer_hz, k);
}

static void start(intc_lapic *l, uint32_t count, uint64_t now)
{
    l->timer_start = now;
    l->timer_count0 = count;
    l->timer_periods = 0;
    l->timer_running = true;
    arm(l, expiry_ns(l, 0));
}

static void stop(intc_lapic *l)
{
    l->timer_running = false;
    arm(l, UINT64_MAX);
}

static uint64_t guest_tsc(const intc_lapic *l, uint64_t now)
{
    return intc__muldiv(now, l->m->cfg.tsc_hz, NS_PER_S, false) +
           l->tsc_offset;
}

void intc__timer_reset(intc_lapic *l)
{
    l->timer_icr = 0;
    l->timer_dcr = 0;
    l->timer_shift = (uint8_t)dcr_shift(0);
    l->timer_count0 = 0;
    l->timer_start = 0;
    l->timer_periods = 0;
    l->tsc_deadline = 0;
    stop(l);
}

/* Raise the timer interrupt through LVT Timer (edge, 11.5.1). */
static void fire(intc_lapic *l, uint64_t missed)
{
    uint32_t e = l->lvt[INTC_LVT_TIMER];
    INTC_EMIT(l->m, INTC_EV_TIMER, l->index,
              (e & LVT_MASKED) ? -1 : (int32_t)(e & LVT_VECTOR), 0,
              timer_mode(l), missed);
    intc__lapic_lvt_fire(l, INTC_LVT_TIMER);
}

void intc__timer_expire(intc_lapic *l, uint64_t now)
{
    if (l->deadline == UINT64_MAX)
        return; /* nothing armed: a stale host timer */
    if (now < l->deadline) {
        /* Early or stale: the host's timer is one-shot, arm it again. */
        intc__timer_arm(l->m, l->index, l->deadline);
        return;
    }
    /* A one-shot deadline is the exact expiry rounded up to the next ns
       (expiry_ns), so once it has passed the count has certainly run
       out; only a saturated one (UINT64_MAX - 1: the expiry lies beyond
       the clock) needs the counter itself looked at. */
    bool saturated = l->deadline == UINT64_MAX - 1;
    switch (timer_mode(l)) {
    case INTC_TIMER_TSC_DEADLINE:
        if (guest_tsc(l, now) < l->tsc_deadline) {
            /* Saturated deadline (beyond the clock): not due yet. */
            intc__timer_arm(l->m, l->index, l->deadline);
            return;
        }
        /* 11.5.4.1: on expiry the timer disarms itself and clears
           IA32_TSC_DEADLINE. */
        l->tsc_deadline = 0;
        arm(l, UINT64_MAX);
        fire(l, 0);
        break;
    case INTC_TIMER_PERIODIC: {
        uint64_t t = ticks_since(l, now), k = 0, missed, next;
        if (t >= l->timer_count0 && l->timer_icr)
            k = (t - l->timer_count0) / l->timer_icr;
        if (t < l->timer_count0 || k < l->timer_periods) {
            /* Saturated deadline (the next expiry is beyond the clock):
               nothing is due; never interrupt before the count is 0. */
            intc__timer_arm(l->m, l->index, l->deadline);
            return;
        }
        /* One interrupt however late: missed periods coalesce (the IRR
           bit could hold only one of them anyway). */
        missed = k >= l->timer_periods ? k - l->timer_periods : 0;
        l->timer_periods = k + 1;
        next = expiry_ns(l, l->timer_periods);
        if (next <= now) /* only when saturated: still make progress */
            next = now + 1 == UINT64_MAX ? UINT64_MAX - 1 : now + 1;
        arm(l, next);
        fire(l, missed);
        break;
    }
    default: /* one-shot */
        if (INTC_UNLIKELY(saturated) &&
            ticks_since(l, now) < l->timer_count0) {
            /* Saturated deadline: the count has not reached 0. */
            intc__timer_arm(l->m, l->index, l->deadline);
            return;
        }
        l->timer_running = false;
        arm(l, UINT64_MAX);
        fire(l, 0);
        break;
    }
}

void intc__timer_catch_up(intc_lapic *l)
{
    if (l->deadline != UINT64_MAX) {
        uint64_t now = intc__now(l->m, l->index);
        if (now >= l->deadline)
            intc__timer_expire(l, now);
    }
}

void intc__timer_write_icr(intc_lapic *l, uint32_t val)
{
    unsigned mode;
    intc__timer_catch_up(l);
    mode = timer_mode(l);
    /* 11.5.4.1: ignored in TSC-deadline mode.  The reserved mode 11b
       counts nothing. */
    if (mode == INTC_TIMER_TSC_DEADLINE)
        return;
    l->timer_icr = val;
    if (val == 0 || mode == INTC_TIMER_RESERVED) {
        stop(l); /* 11.5.4: writing 0 stops the timer */
        return;
    }
    start(l, val, intc__now(l->m, l->index));
}

/* The current count at now, counting in mode (one-shot or periodic). */
static uint32_t ccr_mode_at(const intc_lapic *l, unsigned mode, uint64_t now)
{
    uint64_t t;
    if (!l->timer_running)
        return 0;
    t = ticks_since(l, now);
    if (t < l->timer_count0)
        return (uint32_t)(l->timer_count0 - t);
    if (mode != INTC_TIMER_PERIODIC || !l->timer_icr)
        return 0;
    return (uint32_t)(l->timer_icr - (t - l->timer_count0) % l->timer_icr);
}

static uint32_t ccr_at(const intc_lapic *l, uint64_t now)
{
    return ccr_mode_at(l, timer_mode(l), now);
}

/*
 * LVT Timer written (the caller has delivered what was due under the old
 * entry).  The disarm rule of 11.5.4.1 ("transitioning between TSC-deadline
 * mode and other timer modes also disarms the timer") is about
 * TSC-deadline; 11.5.4 says only that changing between one-shot and
 * periodic does not start a stopped timer.  So between one-shot and
 * periodic a running count goes on: one-shot -> periodic keeps counting
 * and then reloads from the initial count; periodic -> one-shot lets the
 * current period finish and stops.  KVM (apic_update_lvtt, checked by
 * kvm-unit-tests test_apic_change_mode) and Xen (d8ce0309c1) behave so.
 * A change to or from TSC-deadline (or the reserved mode 11b, which counts
 * nothing here) disarms and clears the initial count and
 * IA32_TSC_DEADLINE, so reads agree with a disarmed timer (as KVM does).
 */
void intc__timer_write_lvt(intc_lapic *l, uint32_t old, uint32_t val)
{
    unsigned om = intc__lvt_timer_mode(old), nm = intc__lvt_timer_mode(val);

    if (om == nm)
        return;
    if (om >= INTC_TIMER_TSC_DEADLINE || nm >= INTC_TIMER_TSC_DEADLINE) {
        l->timer_icr = 0;
        l->tsc_deadline = 0;
        stop(l);
        return;
    }
    if (om == INTC_TIMER_PERIODIC && l->timer_running) {
        /* Periodic -> one-shot: the current period becomes the one-shot
           count (the same counter value now, reaching 0 at the end of
           the period).  One-shot -> periodic needs nothing: the expiry
           times of count0 + k * initial count already describe it. */
        uint64_t now = intc__now(l->m, l->index);
        uint32_t cur = ccr_mode_at(l, om, now);
        if (cur == 0) {
            stop(l);
            return;
        }
        l->timer_start = now;
        l->timer_count0 = cur;
        l->timer_periods = 0;
        arm(l, expiry_ns(l, 0));
    }
}

void intc__timer_write_dcr(intc_lapic *l, uint32_t val)
{
    intc__timer_catch_up(l);
    l->timer_dcr = val;
    if (l->timer_running) {
        /* The counter keeps its value and goes on at the new rate (as
           KVM rescales the remaining time). */
        uint64_t now = intc__now(l->m, l->index);
        uint32_t cur = ccr_at(l, now);
        l->timer_shift = (uint8_t)dcr_shift(val);
        l->timer_start = now;
        l->timer_count0 = cur;
        l->timer_periods = 0;
        arm(l, expiry_ns(l, 0));
    } else {
        l->timer_shift = (uint8_t)dcr_shift(val);
    }
}

uint32_t intc__timer_read_ccr(intc_lapic *l)
{
    /* Deliver what is due first, so a CCR of 0 means the interrupt has
       been raised. 11.5.4.1: reads 0 in TSC-deadline mode. */
    intc__timer_catch_up(l);
    if (timer_mode(l) >= INTC_TIMER_TSC_DEADLINE)
        return 0;
    return ccr_at(l, intc__now(l->m, l->index));
}

intc_err intc__timer_write_tsc_deadline(intc_lapic *l, uint64_t val)
{
    uint64_t now, tsc;
    /* 11.5.4.1: outside TSC-deadline mode writes are ignored. */
    if (timer_mode(l) != INTC_TIMER_TSC_DEADLINE)
        return INTC_OK;
    intc__timer_catch_up(l);
    l->tsc_deadline = val;
    if (val == 0) {
        arm(l, UINT64_MAX); /* writing 0 disarms */
        return INTC_OK;
    }
    now = intc__now(l->m, l->index);
    tsc = guest_tsc(l, now);
    if (val <= tsc) {
        /* A deadline already passed fires at once. */
        l->tsc_deadline = 0;
        arm(l, UINT64_MAX);
        fire(l, 0);
        return INTC_OK;
    }
    /* The first ns at which the host part of the TSC, floor(ns * tsc_hz
       / 1e9), reaches val - offset.  Computed from that absolute value:
       adding the remaining ticks to now would count now's fraction of a
       tick again and arm up to 1 ns late. */
    uint64_t d = intc__muldiv(add_sat(intc__muldiv(now, l->m->cfg.tsc_hz,
                                                 NS_PER_S, false),
                                     val - tsc),
                             NS_PER_S, l->m->cfg.tsc_hz, true);
    if (d <= now) /* only when saturated */
        d = add_sat(now, 1);
    arm(l, d == UINT64_MAX ? UINT64_MAX - 1 : d);
    return INTC_OK;
}

uint64_t intc__timer_read_tsc_deadline(intc_lapic *l)
{
    if (timer_mode(l) != INTC_TIMER_TSC_DEADLINE)
        return 0;
    intc__timer_catch_up(l);
    return l->tsc_deadline;
}

intc_err intc_lapic_set_tsc_offset(intc_lapic *l, uint64_t offset)
{
    if (!l)
        return INTC_ERR_INVAL;
    if (!intc__enter(l->m))
        return INTC_ERR_BUSY;
    l->tsc_offset = offset;
    /* An armed TSC deadline is re-expressed in host time. */
    if (timer_mode(l) == INTC_TIMER_TSC_DEADLINE && l->tsc_deadline)
        intc__timer_write_tsc_deadline(l, l->tsc_deadline);
    INTC_REC(l->m, INTC__OP_LAPIC_SET_TSC_OFFSET, l->index, offset, 0, 0,
             INTC_OK, 0);
    intc__leave(l->m);
    return INTC_OK;
}

uint64_t intc_machine_tsc(intc_machine *m, uint32_t cpu)
{
    if (!m || cpu >= m->n_cpus)
        return 0;
    /* The same formula the TSC-deadline timer compares against. */
    /* A query: the clock read is the host's own business, not an input
       of a recorded call (record.h). */
    return guest_tsc(&m->cpus[cpu], intc__host_now(m, cpu));
}

/* ---- snapshot section ---- */

/* The timer part of a CPU's section (lapic.c intc__lapic_snap), tmode the
   timer mode of the LVT Timer being walked (the image's in CHECK). */
INTC__SNAP_INLINE void timer_snap(intc__snap *c, const int mode,
                                  intc_lapic *l, unsigned tmode)
{
    INTC__SNAP_VAR(c, mode, ticr, l->timer_icr, 0xffffffffu, "timer_icr",
                   -1);
    INTC__SNAP_VAR(c, mode, tdcr, l->timer_dcr, 0xb, "timer_dcr", -1);
    INTC__SNAP_VAR(c, mode, running, l->timer_running, 1, "timer_running",
                   -1);
    INTC__SNAP_VAR(c, mode, count0, l->timer_count0, 0xffffffffu,
                   "timer_count0", -1);
    INTC__SNAP_VAR(c, mode, start, l->timer_start, UINT64_MAX,
                   "timer_start", -1);
    INTC__SNAP_VAR(c, mode, periods, l->timer_periods, UINT64_MAX,
                   "timer_periods", -1);
    INTC__SNAP_VAR(c, mode, deadline, l->deadline, UINT64_MAX,
                   "timer_deadline", -1);
    INTC__SNAP_VAR(c, mode, tscd, l->tsc_deadline, UINT64_MAX,
                   "tsc_deadline", -1);
    INTC__SNAP(c, mode, l->tsc_offset, UINT64_MAX, "tsc_offset", -1);
    /* Counting happens only in one-shot/periodic mode, from a non-zero
       initial count, with a deadline armed; stopped, nothing is armed
       outside TSC-deadline mode. */
    INTC__SNAP_REQ(c, mode,
                   !running || (tmode <= INTC_TIMER_PERIODIC && ticr &&
                                deadline != UINT64_MAX),
                   "timer_running", -1,
                   "counting in a mode that does not count");
    INTC__SNAP_REQ(c, mode,
                   running || tmode == INTC_TIMER_TSC_DEADLINE ||
                       deadline == UINT64_MAX,
                   "timer_deadline", -1, "armed while stopped");
    /* A counting one-shot timer is armed at the exact end of its count
       (intc__timer_expire relies on it: a passed one-shot deadline means
       the count ran out). */
    if (INTC__SNAP_CHECKING(mode) && running && tmode == INTC_TIMER_ONESHOT)
        INTC__SNAP_REQ(c, mode,
                       !periods &&
                           deadline ==
                               expiry_at(start, count0, ticr,
                                         dcr_shift((uint32_t)tdcr),
                                         l->m->cfg.apic_timer_hz, 0),
                       "timer_deadline", -1,
                       "not where the one-shot count ends");
    /* TSC-deadline mode: initial count writes are ignored and entering
       the mode clears it; the deadline is armed exactly when
       IA32_TSC_DEADLINE is non-zero (11.5.4.1). */
    INTC__SNAP_REQ(c, mode, tmode == INTC_TIMER_TSC_DEADLINE || !tscd,
                   "tsc_deadline", -1, "set outside TSC-deadline mode");
    if (tmode == INTC_TIMER_TSC_DEADLINE)
        INTC__SNAP_REQ(c, mode,
                       !ticr && (tscd == 0) == (deadline == UINT64_MAX),
                       "tsc_deadline", -1,
                       "TSC-deadline timer state inconsistent");
    /* Derived: the divider shift of the restored DCR. */
    if (mode == INTC__SNAP_LOAD)
        l->timer_shift = (uint8_t)dcr_shift(l->timer_dcr);
}

void intc__timer_snap(intc__snap *c, intc_lapic *l, unsigned tmode)
{
    INTC__SNAP_DISPATCH(c, timer_snap, l, tmode);
}
