/*
 * intc-demo: a four-CPU machine driven by a toy host.
 *
 * The host here is what an emulator would be, reduced to the bones: a
 * virtual clock advanced by hand, one timer deadline per CPU, and a loop
 * that lets every CPU take its pending interrupts (INTA, handler, EOI).
 * Every architectural event libintc reports is printed, one per line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <intc/intc.h>

#define N_CPUS 4u

/* ICR fields (Intel SDM vol. 3A, 11.6.1). */
#define ICR_DM_NMI (4u << 8)
#define ICR_ASSERT (1u << 14) /* 1 for all but INIT de-assert */
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_DEST(apic_id) ((uint32_t)(apic_id) << 24) /* in ICR high */

#define SVR_ENABLE 0x100u
#define SPURIOUS_VECTOR 0xffu
#define LVT_PERIODIC (1u << 17)
#define DCR_DIVIDE_BY_1 0xbu

#define IPI_VECTOR 0x40
#define BROADCAST_VECTOR 0x41
#define TIMER_VECTOR 0x30
#define TIMER_PERIOD 1000u /* APIC timer ticks = ns at the default 1 GHz */

typedef struct demo_host {
    uint64_t now;              /* virtual time, ns */
    uint64_t deadline[N_CPUS]; /* armed timers; UINT64_MAX = none */
    unsigned kicks[N_CPUS];
    unsigned handled[N_CPUS]; /* vectors taken through INTA */
    unsigned nmis[N_CPUS];
    unsigned events[INTC_EV_COUNT_];
} demo_host;

static uint64_t host_now_ns(void *host)
{
    return ((demo_host *)host)->now;
}

static void host_timer_arm(void *host, uint32_t cpu, uint64_t deadline_ns)
{
    demo_host *h = host;

    if (cpu < N_CPUS)
        h->deadline[cpu] = deadline_ns;
}

/* A real host would wake the CPU's thread; the demo polls every CPU after
   each step, so it only counts. */
static void host_kick(void *host, uint32_t cpu)
{
    demo_host *h = host;

    if (cpu < N_CPUS)
        h->kicks[cpu]++;
}

static void host_event(void *host, const intc_event *ev)
{
    demo_host *h = host;

    if ((unsigned)ev->type < INTC_EV_COUNT_)
        h->events[ev->type]++;
    printf("  [%6" PRIu64 " ns] %-14s", h->now, intc_event_name(ev->type));
    if (ev->cpu != INTC_NO_CPU)
        printf(" cpu=%" PRIu32, ev->cpu);
    if (ev->vector >= 0)
        printf(" vector=0x%02" PRIx32, (uint32_t)ev->vector);
    if (ev->unit || ev->pin)
        printf(" unit=%" PRIu32 " pin=0x%" PRIx32, ev->unit, ev->pin);
    printf(" data=0x%" PRIx64 " data2=0x%" PRIx64 "\n", ev->data, ev->data2);
}

/* Host misuse is an error code: the demo treats any as fatal. */
static void check(intc_err err, const char *what)
{
    if (err != INTC_OK) {
        fprintf(stderr, "intc-demo: %s: %s (%s)\n", what, intc_err_name(err),
                intc_strerror(err));
        exit(1);
    }
}

/* A 32-bit store to the xAPIC page of cpu, as the guest would do it. */
static void wr(intc_machine *m, uint32_t cpu, uint32_t off, uint32_t val)
{
    check(intc_lapic_mmio_write(intc_machine_lapic(m, cpu), off, 4, val),
          "mmio write");
}

/* Let every CPU take what is pending: NMIs, then vectors by priority, each
   acknowledged (INTA) and ended with an EOI write, as a guest handler
   would. */
static void run_cpus(intc_machine *m, demo_host *h)
{
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++) {
        intc_lapic *l = intc_machine_lapic(m, cpu);

        if (intc_lapic_take(l, INTC_PEND_NMI, NULL) == 1) {
            printf("  cpu%" PRIu32 ": NMI handler runs\n", cpu);
            h->nmis[cpu]++;
        }
        /* At most one INTA per vector; libintc itself never loops. */
        for (int n = 0; n < 256 && (intc_lapic_pending(l) & INTC_PEND_INTR);
             n++) {
            int v = intc_lapic_ack(l);

            if (v < 0 || v == SPURIOUS_VECTOR)
                break; /* no EOI for a spurious interrupt (11.9) */
            printf("  cpu%" PRIu32 ": handler for vector 0x%02x, EOI\n", cpu,
                   (unsigned)v);
            h->handled[cpu]++;
            wr(m, cpu, INTC_LAPIC_EOI, 0);
        }
    }
}

/* Move the virtual clock to t, fire the timers that are due, run CPUs. */
static void advance(intc_machine *m, demo_host *h, uint64_t t)
{
    h->now = t;
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++)
        if (h->deadline[cpu] <= t)
            check(intc_lapic_timer_expired(intc_machine_lapic(m, cpu), t),
                  "timer_expired");
    run_cpus(m, h);
}

int main(void)
{
    demo_host h = {0};
    intc_host_ops ops = {
        .version = INTC_HOST_OPS_VERSION,
        .kick = host_kick,
        .now_ns = host_now_ns,
        .timer_arm = host_timer_arm,
        .event = host_event,
    };
    intc_machine_config cfg;
    intc_err err = INTC_OK;

    for (unsigned i = 0; i < N_CPUS; i++)
        h.deadline[i] = UINT64_MAX;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = N_CPUS;
    intc_machine *m = intc_machine_new(&cfg, &ops, &h, &err);
    check(err, "intc_machine_new");
    if (!m)
        return 1;
    printf("libintc %s: %u CPUs\n", intc_version_string(), N_CPUS);

    printf("\n== software-enable every APIC (SVR = 0x1FF)\n");
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++)
        wr(m, cpu, INTC_LAPIC_SVR, SVR_ENABLE | SPURIOUS_VECTOR);

    printf("\n== fixed IPI, vector 0x%02x, CPU 0 -> APIC ID 2\n", IPI_VECTOR);
    wr(m, 0, INTC_LAPIC_ICR_HI, ICR_DEST(2));
    wr(m, 0, INTC_LAPIC_ICR_LO, ICR_ASSERT | IPI_VECTOR);
    run_cpus(m, &h);

    printf("\n== broadcast IPI excluding self, vector 0x%02x, from CPU 0\n",
           BROADCAST_VECTOR);
    wr(m, 0, INTC_LAPIC_ICR_LO,
       ICR_ALL_BUT_SELF | ICR_ASSERT | BROADCAST_VECTOR);
    run_cpus(m, &h);

    printf("\n== NMI IPI, CPU 0 -> APIC ID 3\n");
    wr(m, 0, INTC_LAPIC_ICR_HI, ICR_DEST(3));
    wr(m, 0, INTC_LAPIC_ICR_LO, ICR_ASSERT | ICR_DM_NMI);
    run_cpus(m, &h);

    printf("\n== periodic timer on CPU 1: vector 0x%02x, %u ns period\n",
           TIMER_VECTOR, TIMER_PERIOD);
    wr(m, 1, INTC_LAPIC_TIMER_DCR, DCR_DIVIDE_BY_1);
    wr(m, 1, INTC_LAPIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
    wr(m, 1, INTC_LAPIC_TIMER_ICR, TIMER_PERIOD);
    printf("  host: timer for CPU 1 armed at %" PRIu64 " ns\n", h.deadline[1]);
    for (uint64_t t = 250; t <= 3000; t += 250)
        advance(m, &h, t);

    printf("\n== the host is late: jump to 6600 ns (missed periods "
           "coalesce)\n");
    advance(m, &h, 6600);
    printf("  host: next deadline for CPU 1 at %" PRIu64 " ns\n",
           h.deadline[1]);

    printf("\n== stop the timer (initial count 0), run to 10000 ns\n");
    wr(m, 1, INTC_LAPIC_TIMER_ICR, 0);
    advance(m, &h, 10000);

    printf("\n== summary\n");
    for (unsigned t = 0; t < INTC_EV_COUNT_; t++)
        if (h.events[t])
            printf("  %-14s %u\n", intc_event_name((intc_event_type)t),
                   h.events[t]);
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++)
        printf("  cpu%" PRIu32 ": %u vectors handled, %u NMIs, %u kicks\n", cpu,
               h.handled[cpu], h.nmis[cpu], h.kicks[cpu]);

    intc_machine_free(m);
    return 0;
}
