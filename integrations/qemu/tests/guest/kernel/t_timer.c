/*
 * The Local APIC timer on every CPU (SDM 11.5.4): one-shot (with the
 * divide configuration and a masked run), periodic (reload, stop by a
 * zero initial count) and TSC-deadline (11.5.4.1).  The timer's clock is
 * not architectural: its rate is measured from the current-count
 * register against the TSC (itself calibrated against the PIT at boot),
 * and only ratios and "not early" are asserted, never an upper bound on
 * latency (TCG on a loaded host delivers late).
 */
#include "tests.h"

#define V_ONESHOT 0x90
#define V_PERIODIC 0x91
#define V_TSCDL 0x92

/* Timer counts per 10^6 TSC ticks at divide dcr, from the current count
   (not from interrupt latency, which TCG stretches): a masked one-shot
   from 0xffffffff read twice 5 ms apart. */
static uint64_t count_rate(uint32_t dcr)
{
    apic_write(APIC_TDCR, dcr);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | LVT_TIMER_ONESHOT | V_ONESHOT);
    apic_write(APIC_TMICT, 0xffffffffu);
    uint64_t t0 = rdtsc();
    uint32_t c0 = apic_read(APIC_TMCCT);
    delay_ms(5);
    uint32_t c1 = apic_read(APIC_TMCCT);
    uint64_t t1 = rdtsc();
    apic_write(APIC_TMICT, 0);
    return c0 > c1 ? (uint64_t)(c0 - c1) * 1000000 / (t1 - t0) : 0;
}

/* Counts that last ms at the given rate (at least 16). */
static uint32_t counts_for(uint64_t rate, uint64_t ms)
{
    uint64_t n = ms_to_tsc(ms) * rate / 1000000;
    return n < 16 ? 16 : n > 0xfffffff0u ? 0xfffffff0u : (uint32_t)n;
}

static int oneshot_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    sti();

    /* 11.5.4: TDCR 1011b divides by 1, 0001b by 4 (figure 11-10): the
       current count runs down 4 times slower. */
    uint64_t r1 = count_rate(0xb), r4 = count_rate(0x1);
    CHECK(r1, "the current count does not run down (divide 1)");
    CHECK(r4 * 3 <= r1 && r4 * 16 >= r1 * 3, "count rate %lu at divide 1, %lu at divide 4 (per 10^6 TSC ticks)",
          r1, r4);

    /* One-shot of 10 ms at divide 1. */
    uint32_t n = counts_for(r1, 10);
    c->cnt[V_ONESHOT] = 0;
    apic_write(APIC_TDCR, 0xb);
    apic_write(APIC_LVT_TIMER, LVT_TIMER_ONESHOT | V_ONESHOT);
    uint64_t t0 = rdtsc();
    apic_write(APIC_TMICT, n);
    uint32_t c1 = apic_read(APIC_TMCCT), c2 = apic_read(APIC_TMCCT);
    uint64_t t1 = rdtsc();
    /* 11.5.4: the initial count is copied to the current count, which
       counts down (to 0 only if the host held this vCPU back for most
       of the 10 ms). */
    CHECK((c1 > 0 || (t1 - t0) * 10 >= ms_to_tsc(10) * 8) && c1 <= n, "TMCCT %u right after TMICT = %u", c1, n);
    CHECK(c2 <= c1, "TMCCT went up: %u then %u", c1, c2);
    CHECK(wait_ge(&c->cnt[V_ONESHOT], 1, 4 * WAIT_MS), "one-shot of %u counts (10 ms) never fired (TMCCT %u)", n,
          apic_read(APIC_TMCCT));
    uint64_t ticks = c->isr_tsc - t0;
    /* It fires when the count reaches 0: not before (80%: rate error). */
    CHECK(ticks * 10 >= ms_to_tsc(10) * 8, "one-shot of 10 ms fired after %lu us", ticks * 1000 / tsc_khz);
    /* 11.5.4: "After the timer reaches zero, a timer interrupt is
       generated and the timer remains at its 0 value until
       reprogrammed." */
    CHECK(apic_read(APIC_TMCCT) == 0, "one-shot: TMCCT %u after the interrupt", apic_read(APIC_TMCCT));
    CHECK(apic_read(APIC_TMICT) == n, "TMICT reads %u, %u written", apic_read(APIC_TMICT), n);
    delay_ms(30 + SETTLE_MS);
    CHECK(c->cnt[V_ONESHOT] == 1, "one-shot fired %u times", c->cnt[V_ONESHOT]);

    /* Masked (LVT bit 16): no interrupt, the count still runs down. */
    apic_write(APIC_LVT_TIMER, LVT_MASKED | LVT_TIMER_ONESHOT | V_ONESHOT);
    apic_write(APIC_TMICT, n);
    delay_ms(30 + SETTLE_MS);
    CHECK(c->cnt[V_ONESHOT] == 1, "masked one-shot delivered an interrupt");
    CHECK(apic_read(APIC_TMCCT) == 0, "masked one-shot: TMCCT %u 40 ms after a 10 ms count",
          apic_read(APIC_TMCCT));
    apic_write(APIC_TMICT, 0);
    apic_write(APIC_LVT_TIMER, LVT_MASKED);
    return RES_PASS;
}

static volatile uint64_t periodic_at[MAX_CPUS][8];

static void h_periodic(struct frame *f, struct cpu *c)
{
    (void)f;
    uint32_t n = c->cnt[V_PERIODIC];
    if (n >= 1 && n <= 8)
        periodic_at[c->index][n - 1] = c->isr_tsc;
    apic_eoi();
}

/* With IF set: until vector v is no longer requested in IRR (it was
   delivered), at most WAIT_MS. */
static void wait_irr_clear(uint8_t v)
{
    uint64_t end = rdtsc() + ms_to_tsc(WAIT_MS);

    while (apic_read(APIC_IRR + v / 32 * 0x10) & (1u << (v % 32)) && rdtsc() < end)
        pause();
}

static int periodic_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    sti();
    uint64_t r1 = count_rate(0xb);
    CHECK(r1, "the current count does not run down (divide 1)");
    uint32_t n = counts_for(r1, 2);

    c->cnt[V_PERIODIC] = 0;
    apic_write(APIC_TDCR, 0xb);
    apic_write(APIC_LVT_TIMER, LVT_TIMER_PERIODIC | V_PERIODIC);
    uint64_t t0 = rdtsc();      /* the count-down starts after this */
    apic_write(APIC_TMICT, n);
    /* 11.5.4: "In periodic mode, the current-count register is
       automatically reloaded from the initial-count register when the
       count reaches 0 and a timer interrupt is generated, and the
       count-down is repeated." */
    CHECK(wait_ge(&c->cnt[V_PERIODIC], 6, 4 * WAIT_MS), "periodic: %u interrupts in 4 s (period 2 ms)",
          c->cnt[V_PERIODIC]);
    uint32_t cur = apic_read(APIC_TMCCT);
    CHECK(cur > 0 && cur <= n, "periodic: TMCCT %u after 6 periods of %u", cur, n);
    /* Each period is n counts, so the k-th interrupt comes no earlier
       than k periods after the write (80%: rate error).  Later is
       TCG's latency, not checked: a late interrupt does not move the
       next one (the count reloads at 0, not at the delivery). */
    for (int k = 1; k <= 6; k++) {
        uint64_t at = periodic_at[c->index][k - 1] - t0;
        CHECK(at * 10 >= ms_to_tsc(2 * k) * 8,
              "periodic: interrupt %d of a %u-count period (2 ms) came %lu us after the start", k, n,
              at * 1000 / tsc_khz);
    }
    CHECK(apic_read(APIC_TMICT) == n, "TMICT reads %u, %u written", apic_read(APIC_TMICT), n);

    /* 11.5.4: "A write of 0 to the initial-count register effectively
       stops the local APIC timer, in both one-shot and periodic mode." */
    apic_write(APIC_TMICT, 0);
    /* An interrupt the timer raised before the stop is still in IRR
       (it is delivered): wait for it, so only later ones count. */
    wait_irr_clear(V_PERIODIC);
    uint32_t stopped = c->cnt[V_PERIODIC];
    delay_ms(10 + SETTLE_MS);
    CHECK(c->cnt[V_PERIODIC] == stopped, "periodic: %u interrupts after TMICT = 0",
          c->cnt[V_PERIODIC] - stopped);
    CHECK(apic_read(APIC_TMCCT) == 0, "TMCCT %u after TMICT = 0", apic_read(APIC_TMCCT));
    apic_write(APIC_LVT_TIMER, LVT_MASKED);
    return RES_PASS;
}

/*
 * Arm a TSC deadline 5 ms ahead and disarm it at once (disarm); true if
 * it then stays silent.  The assertion holds only if the disarm landed
 * before the deadline: a vCPU thread the host preempted for 5 ms may
 * see it fire first, rightly.  Such a try, told by the TSC after the
 * disarm, is repeated (up to 10 times; all of them too slow: false).
 */
static bool disarmed_in_time(struct cpu *c, void (*disarm)(void))
{
    for (int i = 0; i < 10; i++) {
        c->cnt[V_TSCDL] = 0;
        uint64_t dl = rdtsc() + ms_to_tsc(5);
        wrmsr(MSR_TSC_DEADLINE, dl);
        disarm();
        uint64_t t = rdtsc();
        delay_ms(10 + SETTLE_MS);
        if (t < dl)
            return c->cnt[V_TSCDL] == 0;
        apic_write(APIC_LVT_TIMER, LVT_TIMER_TSCDL | V_TSCDL);
        mfence();
    }
    return false;
}

/* "Software can disarm the timer at any time by writing 0." */
static void tscdl_disarm_zero(void)
{
    wrmsr(MSR_TSC_DEADLINE, 0);
}

/* 11.5.4.1: a write to LVT Timer that changes the mode disarms it. */
static void tscdl_disarm_mode(void)
{
    apic_write(APIC_LVT_TIMER, LVT_TIMER_ONESHOT | V_TSCDL);
}

static int tscdl_fn(void *arg)
{
    (void)arg;
    struct cpu *c = this_cpu();
    sti();
    c->cnt[V_TSCDL] = 0;
    wrmsr(MSR_TSC_DEADLINE, 0);
    apic_write(APIC_LVT_TIMER, LVT_TIMER_TSCDL | V_TSCDL);
    /* 11.5.4.1: in xAPIC mode an MFENCE orders the LVT write before the
       WRMSR to the deadline. */
    mfence();
    EXPECT((apic_read(APIC_LVT_TIMER) >> 17 & 3) == 2, "LVT timer %x: mode 10b did not stick",
           apic_read(APIC_LVT_TIMER));

    /* "In TSC-deadline mode, writes to the initial-count register are
       ignored; and current-count register always reads 0." */
    apic_write(APIC_TMICT, 100000);
    EXPECT(apic_read(APIC_TMCCT) == 0, "TMCCT %u in TSC-deadline mode", apic_read(APIC_TMCCT));
    delay_ms(SETTLE_MS);
    EXPECT(c->cnt[V_TSCDL] == 0, "a TMICT write fired the timer in TSC-deadline mode");
    c->cnt[V_TSCDL] = 0;

    /* Armed 2 ms ahead: "An interrupt is generated when the logical
       processor's time-stamp counter equals or exceeds the target
       value ... When the timer generates an interrupt, it disarms
       itself and clears the IA32_TSC_DEADLINE MSR."  The read-back
       must give the deadline while the TSC is below it; a vCPU thread
       the host preempted past it reads 0, which the TSC after the read
       tells apart. */
    uint64_t dl = rdtsc() + ms_to_tsc(2);
    wrmsr(MSR_TSC_DEADLINE, dl);
    uint64_t rd = rdmsr(MSR_TSC_DEADLINE);
    uint64_t t_rd = rdtsc();
    bool fired = wait_ge(&c->cnt[V_TSCDL], 1, WAIT_MS);
    CHECK(fired, "deadline +2 ms never fired (MSR reads %lx, wrote %lx)", rdmsr(MSR_TSC_DEADLINE), dl);
    EXPECT(rd == dl || (rd == 0 && t_rd >= dl),
           "IA32_TSC_DEADLINE read %lx while armed with %lx (TSC %lx after the read)", rd, dl, t_rd);
    EXPECT(c->isr_tsc >= dl, "fired %lu TSC ticks before the deadline", dl - c->isr_tsc);
    EXPECT(rdmsr(MSR_TSC_DEADLINE) == 0, "IA32_TSC_DEADLINE %lx after firing", rdmsr(MSR_TSC_DEADLINE));
    delay_ms(5 + SETTLE_MS);
    EXPECT(c->cnt[V_TSCDL] == 1, "deadline fired %u times", c->cnt[V_TSCDL]);

    /* "Software can disarm the timer at any time by writing 0." */
    EXPECT(disarmed_in_time(c, tscdl_disarm_zero), "fired after being disarmed by writing 0");

    /* A deadline already passed fires at once. */
    c->cnt[V_TSCDL] = 0;
    wrmsr(MSR_TSC_DEADLINE, rdtsc() - ms_to_tsc(1));
    EXPECT(wait_ge(&c->cnt[V_TSCDL], 1, WAIT_MS), "a deadline in the past did not fire");

    /* 11.5.4.1: "A write to the LVT Timer Register that changes the
       timer mode disarms the local APIC timer." */
    EXPECT(disarmed_in_time(c, tscdl_disarm_mode), "the deadline fired after the switch to one-shot mode");
    apic_write(APIC_LVT_TIMER, LVT_MASKED);
    wrmsr(MSR_TSC_DEADLINE, 0);
    return soft_result();
}

static int on_every_cpu(remote_fn fn)
{
    for (unsigned i = 0; i < ncpus; i++)
        TRY(run_on(i, fn, 0, 10 * WAIT_MS));
    return RES_PASS;
}

static int t_timer_oneshot(void) { return on_every_cpu(oneshot_fn); }

static int t_timer_periodic(void)
{
    handlers[V_PERIODIC] = h_periodic;
    return on_every_cpu(periodic_fn);
}

static int t_timer_tsc_deadline(void)
{
    TRY(need_feature(has_tscdl(), require_tscdl, "TSC-deadline (CPUID.01H:ECX[24])"));
    return on_every_cpu(tscdl_fn);
}

const struct test timer_tests[] = {
    {"timer_oneshot", t_timer_oneshot},
    {"timer_periodic", t_timer_periodic},
    {"timer_tsc_deadline", t_timer_tsc_deadline},
    {0, 0},
};
