/*
 * Local APIC timer (Intel SDM vol. 3A 11.5.4, 11.5.4.1): divide
 * configuration, one-shot, periodic and TSC-deadline modes, mode changes,
 * stale host timers, catch-up on register access, reset, x2APIC access and
 * determinism.
 *
 * Time is virtual: the harness clock h->now stands still until a test moves
 * it, the library reports each deadline through timer_arm (recorded in
 * h->deadline[cpu], UINT64_MAX = disarmed) and the test plays the host
 * timer by calling intc_lapic_timer_expired(l, h->now).
 *
 * Expected times are computed here from the architecture, not from the
 * library: the counter decrements once per `div` cycles of the timer clock
 * (apic_timer_hz), so after e ns it has decremented
 * floor(e * hz / 1e9 / div) times, and a count of N reaches 0 at the first
 * whole ns >= N * div * 1e9 / hz (the deadline is that ns, rounded up).
 */
#include "harness.h"
#include "lapic_util.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull

/* LVT Timer fields (11.5.1, Figure 11-8). */
#define LVT_MASK (1u << 16)
#define TM_ONESHOT (0u << 17)
#define TM_PERIODIC (1u << 17)
#define TM_TSC (2u << 17)
#define TM_RESERVED (3u << 17)

#define VEC 0x40u
#define VEC2 0x51u

/* x2APIC MSRs of the timer registers (11.12.1.2, Table 11-6). */
#define MSR_LVT_TIMER 0x832u
#define MSR_TMICT 0x838u
#define MSR_TMCCT 0x839u
#define MSR_TDCR 0x83eu

/* 11.5.4, Figure 11-10: DCR bits 3,1,0 and the divide value. */
static const struct {
    uint32_t dcr;
    unsigned div;
} dcr_tab[8] = {
    {0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16},
    {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1},
};

__extension__ typedef unsigned __int128 u128;

/* ns, rounded up, for the counter to decrement `ticks` times. */
static uint64_t ticks_ns(uint64_t ticks, unsigned div, uint64_t hz)
{
    u128 p = (u128)ticks * div * NS_PER_S;
    return (uint64_t)((p + hz - 1) / hz);
}

/* Decrements in `ns` elapsed ns. */
static uint64_t ns_ticks(uint64_t ns, unsigned div, uint64_t hz)
{
    return (uint64_t)((u128)ns * hz / NS_PER_S / div);
}

/* ---- fixtures ---- */

/* One CPU, software-enabled, with the given timer and TSC clocks (0 keeps
   the default 1 GHz). */
static intc_machine *mk(th_host *h, uint64_t timer_hz, uint64_t tsc_hz,
                        intc_lapic **lp)
{
    intc_machine_config cfg;
    intc_machine *m;

    intc_machine_config_init(&cfg);
    if (timer_hz)
        cfg.apic_timer_hz = timer_hz;
    if (tsc_hz)
        cfg.tsc_hz = tsc_hz;
    m = th_machine(h, &cfg);
    *lp = intc_machine_lapic(m, 0);
    sw_enable(*lp);
    return m;
}

/* intc_machine_check must pass; then free the machine. */
static void finish(intc_machine *m)
{
    char msg[256] = "";

    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
    intc_machine_free(m);
}

/* The host timer fires: now = the armed deadline, call expired. */
static void host_fire(th_host *h, intc_lapic *l)
{
    assert_true(h->deadline[0] != UINT64_MAX);
    h->now = h->deadline[0];
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
}

static size_t n_timer(const th_host *h)
{
    return th_count_events(h, INTC_EV_TIMER);
}

/* n_timer() is n; traced hosts only. */
#define assert_n_timer(h, n)                                                 \
    do {                                                                     \
        TH_IF_TRACED(h) assert_int_equal(n_timer(h), (n));                   \
    } while (0)

/* The last TIMER event must be for vector v (-1: masked), mode, missed
   (traced hosts; a no-op untraced). */
static void expect_last_timer(const th_host *h, int32_t v, unsigned mode,
                              uint64_t missed)
{
    const intc_event *e = th_last_event(h, INTC_EV_TIMER);

    if (!th_traced(h))
        return;
    assert_non_null(e);
    assert_int_equal(e->cpu, 0);
    assert_int_equal(e->vector, v);
    assert_int_equal(e->data, mode);
    assert_int_equal(e->data2, missed);
}

/* INTA then EOI of vector v (it must be the one delivered). */
static void ack_eoi(intc_lapic *l, uint8_t v)
{
    assert_int_equal(intc_lapic_ack(l), v);
    lw(l, INTC_LAPIC_EOI, 0);
}

static uint64_t tsc_dl(intc_lapic *l)
{
    uint64_t v = 0xdeadbeef;
    assert_int_equal(intc_lapic_msr_read(l, INTC_MSR_TSC_DEADLINE, &v),
                     INTC_OK);
    return v;
}

static void set_tsc_dl(intc_lapic *l, uint64_t v)
{
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, v),
                     INTC_OK);
}

/* ==== Divide configuration register (11.5.4, Figure 11-10) ==== */

/* SDM 11.5.4, Figure 11-10: DCR bits 3,1,0 select divide by 2, 4, 8, 16,
   32, 64, 128, 1; at 1 GHz a count of N expires N * div ns after the
   initial-count write, and the counter reads 1 one ns before. */
static void test_dcr_all_divides_1ghz(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t start = 1000000ull * (i + 1);
        size_t nt = n_timer(h);

        h->now = start;
        lw(l, INTC_LAPIC_TIMER_DCR, dcr_tab[i].dcr);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), dcr_tab[i].dcr);
        lw(l, INTC_LAPIC_TIMER_ICR, 1000);
        assert_int_equal(h->deadline[0], start + 1000ull * dcr_tab[i].div);
        assert_int_equal(intc_lapic_timer_deadline(l), h->deadline[0]);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1000);
        h->now = h->deadline[0] - 1;
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1);
        assert_n_timer(h, nt);
        host_fire(h, l);
        assert_n_timer(h, nt + 1);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
        ack_eoi(l, VEC);
    }
    finish(m);
}

/* SDM 11.5.4: with a timer clock that is not a whole number of ns per
   cycle, the deadline is the first ns at which the count has reached 0
   (rounded up, never early, never a whole ns late). */
static void test_dcr_all_divides_odd_frequencies(void **state)
{
    static const uint64_t hzs[] = {3000000000ull, 25000000ull, 33333333ull,
                                   2500000000ull};
    th_host *h = *state;

    for (unsigned f = 0; f < sizeof(hzs) / sizeof(hzs[0]); f++) {
        uint64_t hz = hzs[f];
        intc_lapic *l;
        intc_machine *m = mk(h, hz, 0, &l);

        lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
        for (unsigned i = 0; i < 8; i++) {
            const uint32_t count = 1001;
            unsigned div = dcr_tab[i].div;
            uint64_t start = 7 + 100000000ull * i, d;
            size_t nt = n_timer(h);

            h->now = start;
            lw(l, INTC_LAPIC_TIMER_DCR, dcr_tab[i].dcr);
            lw(l, INTC_LAPIC_TIMER_ICR, count);
            d = start + ticks_ns(count, div, hz);
            assert_int_equal(h->deadline[0], d);
            /* One ns early: not yet 0, no interrupt. */
            h->now = d - 1;
            assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR),
                             count - ns_ticks(d - 1 - start, div, hz));
            assert_true(lr(l, INTC_LAPIC_TIMER_CCR) >= 1);
            assert_n_timer(h, nt);
            /* Stale call one ns early changes nothing. */
            assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
            assert_n_timer(h, nt);
            host_fire(h, l);
            assert_n_timer(h, nt + 1);
            assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
            ack_eoi(l, VEC);
        }
        finish(m);
    }
}

/* Hand-computed spot checks of the rounding: 3 GHz, count 1001: divide 1
   is 333.67 ns -> 334, divide 2 is 667.33 ns -> 668; 25 MHz (40 ns per
   cycle) divide 2 is exactly 80080 ns. */
static void test_dcr_rounding_spot_values(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 3000000000ull, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    h->now = 100;
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 1001);
    assert_int_equal(h->deadline[0], 100 + 334);
    lw(l, INTC_LAPIC_TIMER_ICR, 0);
    lw(l, INTC_LAPIC_TIMER_DCR, 0x0);
    lw(l, INTC_LAPIC_TIMER_ICR, 1001);
    assert_int_equal(h->deadline[0], 100 + 668);
    finish(m);

    m = mk(h, 25000000ull, 0, &l);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    h->now = 100;
    lw(l, INTC_LAPIC_TIMER_ICR, 1001); /* DCR 0 after reset: divide by 2 */
    assert_int_equal(h->deadline[0], 100 + 80080);
    finish(m);
}

/* SDM 11.5.4, Figure 11-10: DCR bit 2 is reserved; divide by 16 with bit
   2 also written is still divide by 16. */
static void test_dcr_bit2_reserved(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0x7);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), 0x3);
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    assert_int_equal(h->deadline[0], 160);
    finish(m);
}

/* ==== One-shot mode (11.5.4) ==== */

/* SDM 11.5.4: the initial count is copied to the current count, which
   counts down; at 0 the timer interrupt is generated and in one-shot mode
   the count stays 0 until reprogrammed. */
static void test_oneshot_counts_down_and_fires_once(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    h->now = 500;
    lw(l, INTC_LAPIC_TIMER_ICR, 1000); /* divide by 2: 2000 ns */
    assert_int_equal(h->deadline[0], 2500);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1000);
    h->now = 501; /* half a tick */
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1000);
    h->now = 502;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 999);
    h->now = 1500;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 500);
    h->now = 2499;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1);
    assert_n_timer(h, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);

    host_fire(h, l);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 0, 0);
    th_assert_event(h, INTC_EV_IRR_SET, 0, VEC);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    /* The initial count keeps its value. */
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 1000);
    ack_eoi(l, VEC);

    /* No second interrupt, however long we wait. */
    h->now = 1000000000ull;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_n_timer(h, 1);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);
    finish(m);
}

/* SDM 11.5.4: a write to the initial-count register restarts the count
   from the new value; the old expiry does not happen. */
static void test_oneshot_icr_write_restarts(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_int_equal(h->deadline[0], 1000);
    h->now = 600;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 400);
    lw(l, INTC_LAPIC_TIMER_ICR, 500);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 500);
    assert_int_equal(h->deadline[0], 1100);
    /* The old deadline passes without an interrupt. */
    h->now = 1000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 100);
    host_fire(h, l);
    assert_int_equal(h->now, 1100);
    assert_n_timer(h, 1);
    finish(m);
}

/* SDM 11.5.4: "A write of 0 to the initial-count register effectively
   stops the local APIC timer". */
static void test_oneshot_icr_zero_stops(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_int_equal(h->deadline[0], 2000);
    h->now = 300;
    lw(l, INTC_LAPIC_TIMER_ICR, 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    h->now = 5000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_n_timer(h, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);
    finish(m);
}

/* SDM 11.5.1: the mask bit inhibits the interrupt, not the count: a
   masked one-shot timer still reaches 0 (reported with vector -1) and
   unmasking it later delivers nothing (LVT timer is edge, no latch). */
static void test_oneshot_masked_expires_without_interrupt(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | LVT_MASK);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(h->deadline[0], 100);
    h->now = 50;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);
    host_fire(h, l);
    assert_n_timer(h, 1);
    expect_last_timer(h, -1, 0, 0);
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);

    h->now = 200;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_n_timer(h, 1);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* ==== Periodic mode (11.5.4) ==== */

/* SDM 11.5.4: in periodic mode the current count is reloaded from the
   initial count at 0 and counting repeats: one interrupt per period, at
   start + k * period exactly, even when the host's timer runs late. */
static void test_periodic_every_period_phase_kept(void **state)
{
    static const uint64_t late[] = {0, 37, 99, 1, 0, 50};
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    h->now = 1000;
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(h->deadline[0], 1100);
    for (unsigned k = 0; k < sizeof(late) / sizeof(late[0]); k++) {
        assert_int_equal(h->deadline[0], 1000 + 100 * (k + 1));
        h->now = h->deadline[0] + late[k];
        assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
        assert_n_timer(h, k + 1);
        expect_last_timer(h, VEC, 1, 0);
        assert_int_equal(h->deadline[0], 1000 + 100 * (k + 2));
        assert_true(h->deadline[0] > h->now);
        ack_eoi(l, VEC);
    }
    th_assert_event_count(h, INTC_EV_IRR_SET, 6);
    finish(m);
}

/* SDM 11.5.4 periodic; header (intc_lapic_timer_expired): periods missed
   while the host was late coalesce into one interrupt (counted in the
   event's data2), the phase is kept and the next deadline is after now. */
static void test_periodic_late_host_coalesces(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(h->deadline[0], 100);

    /* Due: 100, 200, 300, 400 -> one interrupt, 3 missed. */
    h->now = 450;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 1, 3);
    th_assert_event_count(h, INTC_EV_IRR_SET, 1);
    assert_int_equal(h->deadline[0], 500);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);

    /* Exactly on a boundary: due 500, 600, 700, 800 -> 3 missed, next
       900 (strictly after now). */
    h->now = 800;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 2);
    expect_last_timer(h, VEC, 1, 3);
    assert_int_equal(h->deadline[0], 900);

    /* On time again: nothing missed. */
    host_fire(h, l);
    assert_n_timer(h, 3);
    expect_last_timer(h, VEC, 1, 0);
    assert_int_equal(h->deadline[0], 1000);
    finish(m);
}

/* SDM 11.5.4: periodic mode reloads the current count from the initial
   count, so reads in the second period count down from it again. */
static void test_periodic_ccr_reloads(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_ICR, 100); /* divide by 2: period 200 ns */
    h->now = 150;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 25);
    host_fire(h, l);
    assert_int_equal(h->now, 200);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 100);
    h->now = 250;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 75);
    h->now = 399;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 100);
    assert_n_timer(h, 1);
    finish(m);
}

/* SDM 11.5.4: writing the initial count in periodic mode restarts the
   count, so the phase restarts at the write. */
static void test_periodic_icr_write_restarts_phase(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    host_fire(h, l);
    ack_eoi(l, VEC);
    host_fire(h, l);
    ack_eoi(l, VEC);
    assert_int_equal(h->deadline[0], 300);
    h->now = 250;
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 100);
    assert_int_equal(h->deadline[0], 350);
    h->now = 300;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 2);
    host_fire(h, l);
    assert_n_timer(h, 3);
    expect_last_timer(h, VEC, 1, 0);
    assert_int_equal(h->deadline[0], 450);
    finish(m);
}

/* SDM 11.5.4 periodic, extreme: initial count 1, divide by 1, 1 GHz: a
   1 ns period.  Each expiry delivers one interrupt; a host that is very
   late gets one interrupt with the rest counted, and no loop. */
static void test_periodic_count1_div1_1ghz(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    h->now = 10;
    lw(l, INTC_LAPIC_TIMER_ICR, 1);
    assert_int_equal(h->deadline[0], 11);
    for (unsigned i = 0; i < 1000; i++) {
        host_fire(h, l);
        assert_n_timer(h, i + 1);
        expect_last_timer(h, VEC, 1, 0);
        assert_int_equal(h->deadline[0], h->now + 1);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1);
    }
    assert_int_equal(h->now, 1010);
    /* Expiries 1011 .. 1000000000 are due: one interrupt, the rest
       missed. */
    h->now = 1000000000ull;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1001);
    expect_last_timer(h, VEC, 1, 1000000000ull - 1011);
    assert_int_equal(h->deadline[0], 1000000001ull);
    /* A second call at the same time is early: nothing. */
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1001);
    finish(m);
}

/* SDM 11.5.4 periodic, extreme: count 1, divide 1 at 3 GHz is a period
   of 1/3 ns, below the host clock's resolution.  Every call delivers at
   most one interrupt (3 expiries per ns: 2 counted as missed) and the
   next deadline is always after now. */
static void test_periodic_sub_ns_period_3ghz(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 3000000000ull, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    h->now = 100;
    lw(l, INTC_LAPIC_TIMER_ICR, 1);
    assert_int_equal(h->deadline[0], 101); /* 100 + 1/3, rounded up */
    /* At 101: expiries at 100+1/3, 100+2/3, 101 -> 1 delivered, 2 missed. */
    for (unsigned i = 0; i < 300; i++) {
        host_fire(h, l);
        assert_n_timer(h, i + 1);
        expect_last_timer(h, VEC, 1, 2);
        assert_int_equal(h->deadline[0], h->now + 1);
        assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
        assert_n_timer(h, i + 1);
    }
    /* Very late: 3 * 10^9 expiries due, one interrupt. */
    h->now += 1000000000ull;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 301);
    expect_last_timer(h, VEC, 1, 3000000000ull - 1);
    assert_true(h->deadline[0] > h->now);
    assert_int_equal(h->deadline[0], h->now + 1);
    finish(m);
}

/* SDM 11.5.4 periodic, extreme: count 0xFFFFFFFF, divide by 128 at a
   1 kHz timer clock: a period of 2^32-1 * 128 ms (~17 years); the
   deadlines are exact and never overflow, also when k * period no longer
   fits the clock. */
static void test_periodic_huge_period_slow_clock(void **state)
{
    const uint64_t period = 0xffffffffull * 128ull * 1000000ull;
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 1000, 0, &l);
    uint64_t prev;

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xa);
    h->now = 5;
    lw(l, INTC_LAPIC_TIMER_ICR, 0xffffffffu);
    assert_int_equal(h->deadline[0], 5 + period);
    h->now = 5 + 1000ull * 128ull * 1000000ull;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0xffffffffu - 1000);
    /* UINT64_MAX / period = 33 whole periods fit the clock. */
    for (uint64_t k = 1; k <= 32; k++) {
        assert_int_equal(h->deadline[0], 5 + k * period);
        host_fire(h, l);
        assert_n_timer(h, k);
        expect_last_timer(h, VEC, 1, 0);
        assert_int_equal(h->deadline[0], 5 + (k + 1) * period);
        ack_eoi(l, VEC);
    }
    host_fire(h, l); /* the 33rd expiry */
    assert_int_equal(h->now, 5 + 33 * period);
    assert_n_timer(h, 33);
    /* The 34th is past the end of the clock: armed as late as it can be,
       not wrapped around. */
    prev = h->now;
    assert_true(h->deadline[0] > prev);
    assert_true(h->deadline[0] >= UINT64_MAX - 1);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR),
                     0xffffffffu);
    finish(m);
}

/* SDM 11.5.4: near the end of the host clock (h->now close to
   UINT64_MAX) expiries that fit are exact, and an expiry beyond it is
   never delivered early: no wrap-around, no interrupt before the count
   reaches 0. */
static void test_timer_near_clock_end(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    h->now = UINT64_MAX - 1000;
    lw(l, INTC_LAPIC_TIMER_ICR, 300);
    assert_int_equal(h->deadline[0], UINT64_MAX - 700);
    host_fire(h, l);
    assert_int_equal(h->deadline[0], UINT64_MAX - 400);
    host_fire(h, l);
    assert_int_equal(h->deadline[0], UINT64_MAX - 100);
    host_fire(h, l);
    assert_n_timer(h, 3);
    /* The 4th would be at UINT64_MAX + 200. */
    assert_true(h->deadline[0] > h->now);
    h->now = UINT64_MAX - 1;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 300 - 99);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 3);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 300 - 99);
    ack_eoi(l, VEC);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    finish(m);

    /* One-shot that fits: exact. */
    m = mk(h, 0, 0, &l);
    th_clear_events(h);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    h->now = UINT64_MAX - 1000;
    lw(l, INTC_LAPIC_TIMER_ICR, 500);
    assert_int_equal(h->deadline[0], UINT64_MAX - 500);
    host_fire(h, l);
    assert_n_timer(h, 1);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    /* One-shot past the end (UINT64_MAX + 1600): counts, never fires
       early. */
    h->now = UINT64_MAX - 400;
    lw(l, INTC_LAPIC_TIMER_ICR, 2000);
    assert_true(h->deadline[0] > h->now);
    h->now = UINT64_MAX - 1;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 2000 - 399);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 2000 - 399);
    finish(m);

    /* TSC-deadline beyond the clock: the TSC reaches UINT64_MAX only
       after the last representable ns, so it never fires. */
    m = mk(h, 0, 0, &l);
    th_clear_events(h);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    h->now = 1000;
    set_tsc_dl(l, UINT64_MAX);
    assert_true(h->deadline[0] > h->now);
    assert_true(h->deadline[0] >= UINT64_MAX - 1);
    h->now = UINT64_MAX - 1;
    assert_int_equal(tsc_dl(l), UINT64_MAX);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    assert_int_equal(tsc_dl(l), UINT64_MAX);
    finish(m);
}

/* ==== DCR change while counting ==== */

/* Header/design: a DCR write keeps the current count, which goes on at
   the new rate (SDM 11.5.4 leaves this undefined; KVM behaves so). */
static void test_dcr_change_keeps_count_oneshot(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000); /* divide by 2 */
    h->now = 600;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 700);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 700);
    assert_int_equal(h->deadline[0], 600 + 700);
    h->now = 1000;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 300);
    /* Slower again: divide by 128. */
    lw(l, INTC_LAPIC_TIMER_DCR, 0xa);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 300);
    assert_int_equal(h->deadline[0], 1000 + 300 * 128);
    h->now = 1000 + 128;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 299);
    assert_n_timer(h, 0);
    host_fire(h, l);
    assert_int_equal(h->now, 1000 + 300 * 128);
    assert_n_timer(h, 1);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* Same in periodic mode: the remaining count finishes at the new rate,
   and the following periods are initial count * new divide. */
static void test_dcr_change_keeps_count_periodic(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    host_fire(h, l);
    ack_eoi(l, VEC);
    h->now = 150;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);
    lw(l, INTC_LAPIC_TIMER_DCR, 0x1); /* divide by 4 */
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);
    assert_int_equal(h->deadline[0], 150 + 50 * 4);
    host_fire(h, l);
    expect_last_timer(h, VEC, 1, 0);
    assert_int_equal(h->deadline[0], 350 + 400);
    h->now = 350 + 8;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 98);
    assert_n_timer(h, 2);
    finish(m);
}

/* ==== LVT Timer mode changes (11.5.4.1) ==== */

/* One-shot <-> periodic keeps the count (SDM 11.5.4: changing between
   one-shot and periodic "does not start the timer", and 11.5.4.1 disarms
   only on transitions to or from TSC-deadline; KVM apic_update_lvtt,
   kvm-unit-tests test_apic_change_mode, Xen d8ce0309c1).  A running
   one-shot count switched to periodic keeps counting, then reloads from
   TMICT. */
static void test_mode_change_oneshot_to_periodic_keeps_counting(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000); /* divide by 2: 2000 ns */
    assert_int_equal(h->deadline[0], 2000);
    h->now = 100;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    assert_int_equal(h->deadline[0], 2000);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 1000);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 950);
    host_fire(h, l);
    assert_int_equal(h->now, 2000);
    expect_last_timer(h, VEC, 1, 0);
    /* Reloaded from the initial count: the next period is TMICT long. */
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 1000);
    assert_int_equal(h->deadline[0], 4000);
    ack_eoi(l, VEC);
    host_fire(h, l);
    assert_n_timer(h, 2);
    assert_int_equal(h->deadline[0], 6000);

    /* A one-shot count that already reached 0 stays stopped: the mode
       change does not start the timer (11.5.4). */
    ack_eoi(l, VEC);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    host_fire(h, l); /* the current period ends at 6000 */
    assert_n_timer(h, 3);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    ack_eoi(l, VEC);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 1000);
    h->now = 100000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 3);
    finish(m);
}

/* Periodic -> one-shot (same sources): the current period finishes with
   one more interrupt, then the timer stops with CCR 0. */
static void test_mode_change_periodic_to_oneshot_finishes_period(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    host_fire(h, l);
    ack_eoi(l, VEC);
    h->now = 150;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    assert_int_equal(h->deadline[0], 200);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 100);
    host_fire(h, l);
    assert_int_equal(h->now, 200);
    assert_n_timer(h, 2);
    expect_last_timer(h, VEC, 0, 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    ack_eoi(l, VEC);
    h->now = 1000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 2);
    /* A new count works in the new mode. */
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    assert_int_equal(h->deadline[0], 1010);
    finish(m);
}

/* SDM 11.5.4.1: "transitioning between TSC-deadline mode and other timer
   modes also disarms the timer".  One-shot or periodic -> TSC-deadline
   disarms, and TMICT reads 0 (KVM apic_update_lvtt clears it); expiry of
   the old count raises nothing. */
static void test_mode_change_to_tsc_deadline_disarms_clears(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);
    static const uint32_t from[2] = {TM_ONESHOT, TM_PERIODIC};

    for (unsigned i = 0; i < 2; i++) {
        lw(l, INTC_LAPIC_LVT_TIMER, VEC | from[i]);
        lw(l, INTC_LAPIC_TIMER_ICR, 1000);
        assert_int_equal(h->deadline[0], h->now + 2000);
        h->now += 10;
        lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
        assert_int_equal(h->deadline[0], UINT64_MAX);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
        assert_int_equal(tsc_dl(l), 0);
        h->now += 100000;
        assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
        assert_n_timer(h, 0);
        /* Back to the count modes: still stopped, TMICT still 0. */
        lw(l, INTC_LAPIC_LVT_TIMER, VEC | from[i]);
        assert_int_equal(h->deadline[0], UINT64_MAX);
        assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    }
    finish(m);
}

/* SDM 11.5.4.1: TSC-deadline (armed) -> one-shot disarms, and the
   deadline is gone: IA32_TSC_DEADLINE reads 0 on return to TSC-deadline
   mode, nothing fires at the old deadline. */
static void test_mode_change_from_tsc_deadline_clears_deadline(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    h->now = 10;
    set_tsc_dl(l, 5000);
    assert_int_equal(h->deadline[0], 5000);
    h->now = 20;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    h->now = 6000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    /* A one-shot count works after leaving TSC-deadline mode. */
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    assert_int_equal(h->deadline[0], 6020);
    finish(m);
}

/* SDM 11.5.4.1: only a change to or from TSC-deadline disarms; changing
   the vector or the mask keeps the count and the deadline (and the next interrupt uses the
   new vector). */
static void test_lvt_vector_or_mask_change_keeps_timer(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);
    unsigned arms;

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    arms = h->arms[0];
    h->now = 100;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | TM_ONESHOT);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | TM_ONESHOT | LVT_MASK);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | TM_ONESHOT);
    assert_int_equal(h->deadline[0], 1000);
    assert_int_equal(h->arms[0], arms);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 900);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 1000);
    host_fire(h, l);
    expect_last_timer(h, VEC2, 0, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC2), 1);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 0);

    /* Periodic: the phase is kept across a vector change. */
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    h->now = 2000;
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    h->now = 2050;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | TM_PERIODIC);
    assert_int_equal(h->deadline[0], 2100);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 50);
    finish(m);
}

/* SDM 11.5.1, Figure 11-8: timer mode 11b is reserved; the design makes
   it count nothing (no deadline, CCR 0, no interrupt). */
static void test_reserved_mode_counts_nothing(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_RESERVED);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    h->now = 1000000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_n_timer(h, 0);
    /* Leaving the reserved mode: a fresh count works. */
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    assert_int_equal(h->deadline[0], 1000000 + 20);
    finish(m);
}

/* ==== TSC-deadline mode (11.5.4.1) ==== */

/* SDM 11.5.4.1: "In other timer modes (LVT bit 18 = 0), the
   IA32_TSC_DEADLINE MSR reads zero and writes are ignored." */
static void test_tsc_deadline_msr_ignored_outside_mode(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    set_tsc_dl(l, 5000);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    set_tsc_dl(l, 5000);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    /* The ignored write is not remembered for a later switch. */
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    h->now = 6000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    finish(m);
}

/* SDM 11.5.4.1: writing a non-zero value to IA32_TSC_DEADLINE arms the
   timer; an interrupt is generated when the TSC reaches it, then the timer
   disarms and the MSR reads 0. */
static void test_tsc_deadline_arms_and_fires(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    h->now = 1000;
    set_tsc_dl(l, 5000);
    assert_int_equal(tsc_dl(l), 5000);
    assert_int_equal(h->deadline[0], 5000);
    h->now = 4999;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    assert_int_equal(tsc_dl(l), 5000);
    host_fire(h, l);
    assert_int_equal(h->now, 5000);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 2, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    h->now = 100000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1);
    finish(m);
}

/* SDM 11.5.4.1 with tsc_hz = 2.5 GHz: the host deadline is the first ns
   at which the TSC (floor(now * 2.5) + offset) has reached the deadline,
   also when now * 2.5 is not a whole number. */
static void test_tsc_deadline_2_5ghz_exact(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 2500000000ull, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    h->now = 1;                  /* TSC 2 (2.5 rounded down) */
    set_tsc_dl(l, 10);           /* TSC is 10 at exactly 4 ns */
    assert_int_equal(h->deadline[0], 4);
    h->now = 3;                  /* TSC 7 */
    assert_int_equal(tsc_dl(l), 10);
    assert_n_timer(h, 0);
    host_fire(h, l);
    assert_int_equal(h->now, 4);
    assert_n_timer(h, 1);
    assert_int_equal(tsc_dl(l), 0);
    /* A deadline 1 tick ahead at an odd ns. */
    h->now = 7;                  /* TSC 17 */
    set_tsc_dl(l, 18);           /* 18 / 2.5 = 7.2 -> 8 */
    assert_int_equal(h->deadline[0], 8);
    host_fire(h, l);
    assert_n_timer(h, 2);
    h->now = 1000;               /* TSC 2500 */
    set_tsc_dl(l, 5000);
    assert_int_equal(h->deadline[0], 2000);
    set_tsc_dl(l, 5001);         /* 2000.4 ns -> 2001 */
    assert_int_equal(h->deadline[0], 2001);
    h->now = 2000;               /* TSC 5000 < 5001 */
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 2);
    host_fire(h, l);
    assert_n_timer(h, 3);
    finish(m);
}

/* SDM 11.5.4.1: "writing 0 to the IA32_TSC_DEADLINE MSR disarms the
   local-APIC timer". */
static void test_tsc_deadline_zero_disarms(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    set_tsc_dl(l, 5000);
    assert_int_equal(h->deadline[0], 5000);
    h->now = 100;
    set_tsc_dl(l, 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(tsc_dl(l), 0);
    h->now = 6000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    finish(m);
}

/* SDM 11.5.4.1: a deadline that the TSC has already reached (in the past
   or equal to the TSC now) generates the interrupt at once, during the
   WRMSR, and leaves the timer disarmed. */
static void test_tsc_deadline_past_fires_at_once(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    h->now = 1000;
    set_tsc_dl(l, 1000);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 2, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    ack_eoi(l, VEC);

    set_tsc_dl(l, 1);
    assert_n_timer(h, 2);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* SDM 11.5.4.1: rewriting IA32_TSC_DEADLINE while armed moves the
   deadline (earlier or later); only the last one fires. */
static void test_tsc_deadline_rewrite_moves(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    set_tsc_dl(l, 5000);
    set_tsc_dl(l, 3000);
    assert_int_equal(h->deadline[0], 3000);
    assert_int_equal(tsc_dl(l), 3000);
    set_tsc_dl(l, 8000);
    assert_int_equal(h->deadline[0], 8000);
    h->now = 3000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    h->now = 5000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    assert_int_equal(h->deadline[0], 8000);
    host_fire(h, l);
    assert_n_timer(h, 1);
    finish(m);
}

/* SDM 11.5.4.1: in TSC-deadline mode writes to the initial-count register
   are ignored and the current count reads 0. */
static void test_tsc_deadline_icr_ignored_ccr_zero(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    set_tsc_dl(l, 5000);
    h->now = 10;
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    lw(l, INTC_LAPIC_TIMER_ICR, 0); /* not a disarm either */
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(h->deadline[0], 5000);
    assert_int_equal(tsc_dl(l), 5000);
    host_fire(h, l);
    assert_n_timer(h, 1);
    finish(m);
}

/* Header (intc_lapic_set_tsc_offset): the guest TSC is now * tsc_hz / 1e9
   + offset; IA32_TSC_DEADLINE is in guest TSC, so an offset shifts the
   host deadline, and changing it re-expresses an armed deadline (firing
   at once when the new TSC is already past it). */
static void test_tsc_offset_shifts_deadline(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(intc_lapic_set_tsc_offset(l, 10000), INTC_OK);
    h->now = 100;                /* TSC 10100 */
    set_tsc_dl(l, 15000);
    assert_int_equal(h->deadline[0], 5000);
    assert_int_equal(intc_lapic_set_tsc_offset(l, 12000), INTC_OK);
    assert_int_equal(h->deadline[0], 3000);
    assert_int_equal(tsc_dl(l), 15000);
    assert_int_equal(intc_lapic_set_tsc_offset(l, 9000), INTC_OK);
    assert_int_equal(h->deadline[0], 6000);
    assert_n_timer(h, 0);
    /* TSC jumps past the deadline: fires now. */
    assert_int_equal(intc_lapic_set_tsc_offset(l, 20000), INTC_OK);
    assert_n_timer(h, 1);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    /* A past deadline in guest terms with the offset fires at once. */
    set_tsc_dl(l, 20100);
    assert_n_timer(h, 2);
    finish(m);
}

/* SDM 11.5.4.1 / CPUID.01H:ECX[24]: without TSC-deadline support the MSR
   does not exist (#GP) and LVT Timer bit 18 is reserved (not stored). */
static void test_tsc_deadline_unsupported(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *m;
    intc_lapic *l;
    uint64_t v;

    intc_machine_config_init(&cfg);
    cfg.tsc_deadline = false;
    m = th_machine(h, &cfg);
    l = intc_machine_lapic(m, 0);
    sw_enable(l);
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, 5),
                     INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_read(l, INTC_MSR_TSC_DEADLINE, &v),
                     INTC_ERR_GP);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_TIMER), VEC);
    /* It is a one-shot timer then. */
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    assert_int_equal(h->deadline[0], 20);
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, 5),
                     INTC_ERR_GP);
    assert_int_equal(h->deadline[0], 20);
    host_fire(h, l);
    expect_last_timer(h, VEC, 0, 0);
    /* x2APIC: setting the reserved bit faults. */
    x2_enable(l);
    assert_int_equal(intc_lapic_msr_write(l, MSR_LVT_TIMER, VEC | TM_TSC),
                     INTC_ERR_GP);
    finish(m);
}

/* ==== Stale and early host timers; catch-up ==== */

/* Header (intc_lapic_timer_expired): "A call before the deadline (a stale
   timer) just re-arms it." */
static void test_early_expiry_rearms_same_deadline(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);
    unsigned arms;

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    arms = h->arms[0];
    th_clear_events(h);
    h->now = 500;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    th_assert_no_events(h);
    assert_int_equal(h->arms[0], arms + 1);
    assert_int_equal(h->deadline[0], 1000);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 500);
    /* A now_ns argument behind the host clock is early too. */
    h->now = 999;
    assert_int_equal(intc_lapic_timer_expired(l, 3), INTC_OK);
    th_assert_no_events(h);
    assert_int_equal(h->deadline[0], 1000);
    host_fire(h, l);
    assert_n_timer(h, 1);
    finish(m);
}

/* A host timer that fires when nothing is armed (never armed, or after
   the one-shot expired or was stopped) does nothing at all. */
static void test_expiry_with_nothing_armed_ignored(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);
    unsigned arms;

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    arms = h->n_arms;
    th_clear_events(h);
    h->now = 100;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    th_assert_no_events(h);
    assert_int_equal(h->n_arms, arms);
    lw(l, INTC_LAPIC_TIMER_ICR, 10);
    host_fire(h, l);
    assert_n_timer(h, 1);
    arms = h->n_arms;
    th_clear_events(h);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    h->now += 1000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    th_assert_no_events(h);
    assert_int_equal(h->n_arms, arms);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* Design ("CCR reads catch up (deliver) first"; an LVT write delivers
   what is due with the old entry): when the deadline has passed but the
   host has not called timer_expired yet, a register access sees the
   architectural state, in which the interrupt has already happened. */
static void test_catch_up_on_lvt_write(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    h->now = 150;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 0, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC2), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    /* The host's late call finds nothing more to do. */
    assert_int_equal(intc_lapic_timer_expired(l, 100), INTC_OK);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1);

    /* Masking after the deadline: the due interrupt was unmasked. */
    ack_eoi(l, VEC);
    h->now = 1000;
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    h->now = 1100;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | LVT_MASK);
    assert_n_timer(h, 2);
    expect_last_timer(h, VEC2, 0, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC2), 1);
    finish(m);
}

/* Same catch-up on a CCR read (periodic: the read delivers the due period,
   reads the reloaded count and moves the deadline past now) and on a
   RDMSR of IA32_TSC_DEADLINE. */
static void test_catch_up_on_ccr_and_tsc_deadline_read(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    h->now = 130;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 70);
    assert_n_timer(h, 1);
    expect_last_timer(h, VEC, 1, 0);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(h->deadline[0], 200);
    assert_int_equal(intc_lapic_timer_expired(l, 100), INTC_OK);
    assert_n_timer(h, 1);
    finish(m);

    m = mk(h, 0, 0, &l);
    th_clear_events(h);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    set_tsc_dl(l, 500);
    h->now = 600;
    assert_int_equal(tsc_dl(l), 0);
    assert_n_timer(h, 1);
    assert_int_equal(lbit(l, INTC_LAPIC_IRR0, VEC), 1);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* ==== Reset and global disable ==== */

/* SDM 11.4.7.1 / 11.4.7.3: RESET and INIT put the timer registers at 0
   (and the LVT masked): an armed host timer is cancelled. */
static void test_reset_disarms(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(h->deadline[0], 100);
    assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_DCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_TIMER), LVT_MASK);

    /* INIT: the same. */
    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_true(h->deadline[0] != UINT64_MAX);
    assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);

    /* Machine reset, with a TSC deadline armed. */
    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    set_tsc_dl(l, 5000);
    assert_int_equal(h->deadline[0], 5000);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    h->now = 10000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    finish(m);
}

/* SDM 11.4.3 (and the design: global disable returns the APIC to its
   power-up state): clearing IA32_APIC_BASE.EN stops the timer. */
static void test_global_disable_disarms(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);
    uint64_t base = mr(l, INTC_MSR_APIC_BASE);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_ICR, 100);
    assert_int_equal(h->deadline[0], 200);
    mw(l, INTC_MSR_APIC_BASE, base & ~INTC_APIC_BASE_EN);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    h->now = 1000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 0);
    mw(l, INTC_MSR_APIC_BASE, base);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_ICR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_TIMER), LVT_MASK);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* ==== x2APIC (11.12.1.2: the same registers as MSRs) ==== */

/* SDM 11.12.1.2, Table 11-6: LVT Timer 0x832, initial count 0x838,
   current count 0x839 (read-only: WRMSR #GPs), divide configuration 0x83E
   (bit 2 and bits 31:4 reserved: #GP).  One-shot, periodic, DCR change and
   mode changes behave as in xAPIC mode. */
static void test_x2apic_timer_msrs(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    x2_enable(l);
    mw(l, MSR_LVT_TIMER, VEC | TM_ONESHOT);
    mw(l, MSR_TDCR, 0x0);
    assert_int_equal(intc_lapic_msr_write(l, MSR_TDCR, 0x4), INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_write(l, MSR_TDCR, 0x10), INTC_ERR_GP);
    assert_int_equal(mr(l, MSR_TDCR), 0);
    h->now = 100;
    mw(l, MSR_TMICT, 1000);
    assert_int_equal(h->deadline[0], 2100);
    assert_int_equal(intc_lapic_msr_write(l, MSR_TMCCT, 5), INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_write(l, MSR_TMICT, 1ull << 32),
                     INTC_ERR_GP);
    h->now = 700;
    assert_int_equal(mr(l, MSR_TMCCT), 700);
    assert_int_equal(mr(l, MSR_TMICT), 1000);
    /* DCR change keeps the count. */
    mw(l, MSR_TDCR, 0xb);
    assert_int_equal(mr(l, MSR_TMCCT), 700);
    assert_int_equal(h->deadline[0], 1400);
    host_fire(h, l);
    expect_last_timer(h, VEC, 0, 0);
    assert_int_equal(mr(l, MSR_TMCCT), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(intc_lapic_ack(l), VEC);
    mw(l, X2MSR(INTC_LAPIC_EOI), 0);

    /* Periodic with a late host.  The expired one-shot count stays
       stopped across the mode change; TMICT keeps its value. */
    mw(l, MSR_LVT_TIMER, VEC | TM_PERIODIC);
    assert_int_equal(mr(l, MSR_TMICT), 1000);
    assert_int_equal(mr(l, MSR_TMCCT), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    mw(l, MSR_TMICT, 100);
    assert_int_equal(h->deadline[0], 1500);
    h->now = 1730;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    expect_last_timer(h, VEC, 1, 2);
    assert_int_equal(h->deadline[0], 1800);
    assert_int_equal(mr(l, MSR_TMCCT), 70);
    /* Periodic -> one-shot: the current period finishes, then stops. */
    mw(l, MSR_LVT_TIMER, VEC | TM_ONESHOT);
    assert_int_equal(h->deadline[0], 1800);
    assert_int_equal(mr(l, MSR_TMCCT), 70);
    assert_int_equal(mr(l, MSR_TMICT), 100);
    assert_int_equal(intc_lapic_ack(l), VEC);
    mw(l, X2MSR(INTC_LAPIC_EOI), 0);
    host_fire(h, l);
    expect_last_timer(h, VEC, 0, 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(mr(l, MSR_TMCCT), 0);
    /* Periodic -> TSC-deadline disarms and clears TMICT. */
    mw(l, MSR_LVT_TIMER, VEC | TM_PERIODIC);
    mw(l, MSR_TMICT, 100);
    mw(l, MSR_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    assert_int_equal(mr(l, MSR_TMICT), 0);
    finish(m);
}

/* SDM 11.5.4.1 in x2APIC mode: TSC-deadline through MSR 0x832 bit 18 and
   IA32_TSC_DEADLINE; initial count ignored. */
static void test_x2apic_tsc_deadline(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 0, &l);

    x2_enable(l);
    mw(l, MSR_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(mr(l, MSR_LVT_TIMER), VEC | TM_TSC);
    mw(l, MSR_TMICT, 1000);
    assert_int_equal(mr(l, MSR_TMICT), 0);
    assert_int_equal(mr(l, MSR_TMCCT), 0);
    h->now = 50;
    set_tsc_dl(l, 800);
    assert_int_equal(h->deadline[0], 800);
    host_fire(h, l);
    expect_last_timer(h, VEC, 2, 0);
    assert_int_equal(tsc_dl(l), 0);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* ==== The guest TSC (machine.h intc_machine_tsc) ==== */

/* machine.h: intc_machine_tsc = now_ns(cpu) * tsc_hz / 1e9 + the CPU's
   offset, the value the TSC-deadline timer compares against (SDM
   11.5.4.1: the timer fires when the TSC reaches IA32_TSC_DEADLINE). */
static void test_machine_tsc(void **state)
{
    th_host *h = *state;
    intc_lapic *l;
    intc_machine *m = mk(h, 0, 2500000000ull, &l);
    uint64_t t;

    assert_int_equal(intc_machine_tsc(NULL, 0), 0);
    assert_int_equal(intc_machine_tsc(m, 1), 0); /* one CPU only */
    h->now = 1001; /* 2502.5 cycles: rounded down */
    h->now_cpu = 77;
    assert_int_equal(intc_machine_tsc(m, 0), 2502);
    assert_int_equal(h->now_cpu, 0);
    assert_int_equal(intc_lapic_set_tsc_offset(l, 1000000), INTC_OK);
    assert_int_equal(intc_machine_tsc(m, 0), 1002502);
    /* The offset wraps modulo 2^64 like the TSC. */
    assert_int_equal(intc_lapic_set_tsc_offset(l, UINT64_MAX - 1), INTC_OK);
    assert_int_equal(intc_machine_tsc(m, 0), 2500);
    assert_int_equal(intc_lapic_set_tsc_offset(l, 1000000), INTC_OK);

    /* Consistent with TSC-deadline: a deadline one tick ahead of the
       TSC arms, and fires exactly when intc_machine_tsc reaches it. */
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    t = intc_machine_tsc(m, 0);
    set_tsc_dl(l, t + 10);
    assert_int_not_equal(h->deadline[0], UINT64_MAX);
    h->now = h->deadline[0] - 1;
    assert_true(intc_machine_tsc(m, 0) < t + 10);
    h->now = h->deadline[0];
    assert_true(intc_machine_tsc(m, 0) >= t + 10);
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    assert_n_timer(h, 1);
    /* A deadline equal to the TSC now has passed: fires at once. */
    set_tsc_dl(l, intc_machine_tsc(m, 0));
    assert_n_timer(h, 2);
    assert_int_equal(h->deadline[0], UINT64_MAX);
    finish(m);
}

/* ==== Which clock: common.h now_ns(host, cpu) ==== */

/* common.h now_ns: the clock is read for the CPU whose APIC is accessed
   (timer register writes, TMCCT reads, IA32_TSC_DEADLINE), and only in
   the calls listed there: not by intc_lapic_timer_expired(), which takes
   the time as its argument, nor by an access to a non-timer register. */
static void test_now_ns_reads_for_the_cpu(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);
    intc_lapic *l = intc_machine_lapic(m, 2);

    sw_enable(l);
    h->n_now = 0;
    h->now_cpu = 77;
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT);
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_true(h->n_now >= 1);
    assert_int_equal(h->now_cpu, 2);
    h->now_cpu = 77;
    h->now = 10;
    assert_int_equal(lr(l, INTC_LAPIC_TIMER_CCR), 995);
    assert_int_equal(h->now_cpu, 2);
    h->now_cpu = 77;
    lw(intc_machine_lapic(m, 1), INTC_LAPIC_LVT_TIMER, VEC | TM_TSC);
    assert_int_equal(intc_lapic_msr_write(intc_machine_lapic(m, 1),
                                          INTC_MSR_TSC_DEADLINE, 5000),
                     INTC_OK);
    assert_int_equal(h->now_cpu, 1);
    /* Not read by the expiry call or other registers. */
    h->n_now = 0;
    h->now = 2000;
    assert_int_equal(intc_lapic_timer_expired(l, h->now), INTC_OK);
    lw(l, INTC_LAPIC_TPR, 0x20);
    (void)lr(l, INTC_LAPIC_PPR);
    assert_int_equal(h->n_now, 0);
    finish(m);
}

/* ==== Determinism (DESIGN principle 2) ==== */

static void run_sequence(th_host *h)
{
    intc_lapic *l;
    intc_machine *m = mk(h, 3000000000ull, 2500000000ull, &l);

    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_PERIODIC);
    lw(l, INTC_LAPIC_TIMER_DCR, 0x9);
    h->now = 17;
    lw(l, INTC_LAPIC_TIMER_ICR, 777);
    for (unsigned i = 0; i < 20; i++) {
        h->now = h->deadline[0] + (i * 7919u) % 50000u;
        intc_lapic_timer_expired(l, h->now);
        if (i % 3 == 0)
            ack_eoi(l, VEC);
        if (i == 10)
            lw(l, INTC_LAPIC_TIMER_DCR, 0x2);
    }
    (void)lr(l, INTC_LAPIC_TIMER_CCR);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC2 | TM_TSC);
    set_tsc_dl(l, h->now * 3);
    host_fire(h, l);
    lw(l, INTC_LAPIC_LVT_TIMER, VEC | TM_ONESHOT | LVT_MASK);
    lw(l, INTC_LAPIC_TIMER_ICR, 12345);
    host_fire(h, l);
    finish(m);
}

/* DESIGN principle 2: the same inputs in the same order give the same
   events and the same host timer requests, on two separate machines. */
static void test_determinism_same_trace(void **state)
{
    th_host *h = *state;
    th_host *h2 = th_host_new();

    assert_non_null(h2);
    run_sequence(h);
    run_sequence(h2);
    assert_int_equal(h2->live_bytes, 0);
    assert_int_equal(h->n_arms, h2->n_arms);
    assert_int_equal(h->now, h2->now);
    TH_IF_TRACED(h) {
        assert_true(h->n_events > 20);
        assert_int_equal(h->n_events, h2->n_events);
    }
    for (size_t i = 0; i < h->n_events; i++) {
        const intc_event *a = &h->events[i], *b = &h2->events[i];
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->cpu, b->cpu);
        assert_int_equal(a->vector, b->vector);
        assert_int_equal(a->unit, b->unit);
        assert_int_equal(a->pin, b->pin);
        assert_int_equal(a->data, b->data);
        assert_int_equal(a->data2, b->data2);
    }
    th_host_free(h2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* DCR */
        T(test_dcr_all_divides_1ghz),
        T(test_dcr_all_divides_odd_frequencies),
        T(test_dcr_rounding_spot_values),
        T(test_dcr_bit2_reserved),
        /* one-shot */
        T(test_oneshot_counts_down_and_fires_once),
        T(test_oneshot_icr_write_restarts),
        T(test_oneshot_icr_zero_stops),
        T(test_oneshot_masked_expires_without_interrupt),
        /* periodic */
        T(test_periodic_every_period_phase_kept),
        T(test_periodic_late_host_coalesces),
        T(test_periodic_ccr_reloads),
        T(test_periodic_icr_write_restarts_phase),
        T(test_periodic_count1_div1_1ghz),
        T(test_periodic_sub_ns_period_3ghz),
        T(test_periodic_huge_period_slow_clock),
        T(test_timer_near_clock_end),
        /* DCR change while counting */
        T(test_dcr_change_keeps_count_oneshot),
        T(test_dcr_change_keeps_count_periodic),
        /* mode changes */
        T(test_mode_change_oneshot_to_periodic_keeps_counting),
        T(test_mode_change_periodic_to_oneshot_finishes_period),
        T(test_mode_change_to_tsc_deadline_disarms_clears),
        T(test_mode_change_from_tsc_deadline_clears_deadline),
        T(test_lvt_vector_or_mask_change_keeps_timer),
        T(test_reserved_mode_counts_nothing),
        /* TSC-deadline */
        T(test_tsc_deadline_msr_ignored_outside_mode),
        T(test_tsc_deadline_arms_and_fires),
        T(test_tsc_deadline_2_5ghz_exact),
        T(test_tsc_deadline_zero_disarms),
        T(test_tsc_deadline_past_fires_at_once),
        T(test_tsc_deadline_rewrite_moves),
        T(test_tsc_deadline_icr_ignored_ccr_zero),
        T(test_tsc_offset_shifts_deadline),
        T(test_tsc_deadline_unsupported),
        /* stale timers, catch-up */
        T(test_early_expiry_rearms_same_deadline),
        T(test_expiry_with_nothing_armed_ignored),
        T(test_catch_up_on_lvt_write),
        T(test_catch_up_on_ccr_and_tsc_deadline_read),
        /* reset, global disable */
        T(test_reset_disarms),
        T(test_global_disable_disarms),
        /* x2APIC */
        T(test_x2apic_timer_msrs),
        T(test_x2apic_tsc_deadline),
        /* determinism */
        T(test_machine_tsc),
        T(test_now_ns_reads_for_the_cpu),
        T(test_determinism_same_trace),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
