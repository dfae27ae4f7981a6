/*
 * intc-demo: a four-CPU machine driven by a toy host.
 *
 * The host here is what an emulator would be, reduced to the bones (the
 * test kit's, testkit/kit.h): a virtual clock advanced by hand, one timer
 * deadline per CPU, and a loop
 * that lets every CPU take its pending interrupts (INTA, handler, EOI).
 * Every architectural event libintc reports is printed, one per line.
 *
 * Two devices show an interrupt travelling the whole way: a PCI INTx line
 * (level, active low) into IOAPIC pin 16, and an MSI-X function.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <intc/intc.h>

#include "kit.h"

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
#define NIC_PIN 16u         /* IOAPIC pin of the INTx device */
#define NIC_VECTOR 0x50
#define MSIX_VECTOR 0x60

/* IOAPIC redirection entry and MSI fields (82093AA 3.2.4; SDM 11.11). */
#define RTE_LEVEL (1u << 15)
#define RTE_ACTIVE_LOW (1u << 13)
#define RTE_MASKED (1u << 16)
#define MSI_ADDR(apic_id) (0xfee00000u | (uint32_t)(apic_id) << 12)

/* The host is libintc's test kit (testkit/kit.h): it keeps the clock,
   the timer deadline of every CPU, the kicks (a real host would wake the
   CPU's thread; the demo polls every CPU after each step, so they are
   only counted) and the events per type.  The demo adds, through the
   kit's event hook, a line per event, and its own devices and CPUs. */
typedef struct demo {
    kit_host *h;
    unsigned handled[N_CPUS]; /* vectors taken through INTA */
    unsigned nmis[N_CPUS];
    /* The INTx device: its interrupt cause, and whether its driver clears
       it before the EOI (right) or after (wrong). */
    intc_ioapic *ioapic;
    bool nic_cause;
    bool driver_clears_first;
} demo;

static void print_event(void *ctx, const intc_event *ev)
{
    demo *d = ctx;

    printf("  [%6" PRIu64 " ns] %-14s", d->h->now, intc_event_name(ev->type));
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
static void run_cpus(intc_machine *m, demo *h)
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

            if (v < 0 || v > 255)
                break; /* nothing, or spurious: no EOI for it (11.9) */
            printf("  cpu%" PRIu32 ": handler for vector 0x%02x, EOI\n", cpu,
                   (unsigned)v);
            h->handled[cpu]++;
            if (v == NIC_VECTOR && h->nic_cause && h->driver_clears_first) {
                printf("  cpu%" PRIu32 ": driver clears the device cause\n",
                       cpu);
                h->nic_cause = false;
                check(intc_ioapic_set_irq(h->ioapic, NIC_PIN, false),
                      "set_irq");
            }
            wr(m, cpu, INTC_LAPIC_EOI, 0);
            if (v == NIC_VECTOR && h->nic_cause && !h->driver_clears_first) {
                printf("  cpu%" PRIu32 ": driver clears the cause after EOI "
                       "(too late: the line was still up)\n", cpu);
                h->nic_cause = false;
                check(intc_ioapic_set_irq(h->ioapic, NIC_PIN, false),
                      "set_irq");
            }
        }
    }
}

/* Move the virtual clock to t, fire the timers that are due, run CPUs. */
static void advance(intc_machine *m, demo *h, uint64_t t)
{
    h->h->now = t;
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++)
        if (h->h->deadline[cpu] <= t)
            check(intc_lapic_timer_expired(intc_machine_lapic(m, cpu), t),
                  "timer_expired");
    run_cpus(m, h);
}

int main(void)
{
    demo h = {0};
    intc_machine_config cfg;
    intc_err err = INTC_OK;
    /* One ICH-style IOAPIC, 24 pins; pins 16-23 are PCI INTx lines:
       level sources, electrically active low. */
    uint8_t wiring[24] = {0};
    intc_ioapic_config io = {.id = 8, .version = 0x20, .n_pins = 24,
                             .gsi_base = 0, .pin_wiring = wiring};
    for (unsigned p = 16; p < 24; p++)
        wiring[p] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW;

    h.h = kit_host_new(true);
    if (!h.h)
        return 1;
    h.h->max_events = 0; /* printed and counted, not kept */
    h.h->hooks.ctx = &h;
    h.h->hooks.event = print_event;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = N_CPUS;
    cfg.ioapics = &io;
    cfg.n_ioapics = 1;
    intc_machine *m = kit_machine(h.h, &cfg, &err);
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
    printf("  host: timer for CPU 1 armed at %" PRIu64 " ns\n", h.h->deadline[1]);
    for (uint64_t t = 250; t <= 3000; t += 250)
        advance(m, &h, t);

    printf("\n== the host is late: jump to 6600 ns (missed periods "
           "coalesce)\n");
    advance(m, &h, 6600);
    printf("  host: next deadline for CPU 1 at %" PRIu64 " ns\n",
           h.h->deadline[1]);

    printf("\n== stop the timer (initial count 0), run to 10000 ns\n");
    wr(m, 1, INTC_LAPIC_TIMER_ICR, 0);
    advance(m, &h, 10000);

    printf("\n== PCI INTx: IOAPIC pin %u, level, active low -> CPU 2, "
           "vector 0x%02x\n", NIC_PIN, NIC_VECTOR);
    h.ioapic = intc_machine_ioapic(m, 0);
    {
        intc_ioapic *ioa = h.ioapic;
        uint32_t sel = 0x10 + 2 * NIC_PIN;
        check(intc_ioapic_mmio_write(ioa, INTC_IOAPIC_IOREGSEL, 4, sel + 1),
              "ioregsel");
        check(intc_ioapic_mmio_write(ioa, INTC_IOAPIC_IOWIN, 4, 2u << 24),
              "rte high");
        check(intc_ioapic_mmio_write(ioa, INTC_IOAPIC_IOREGSEL, 4, sel),
              "ioregsel");
        check(intc_ioapic_mmio_write(ioa, INTC_IOAPIC_IOWIN, 4,
                                     RTE_LEVEL | RTE_ACTIVE_LOW | NIC_VECTOR),
              "rte low");
    }
    printf("-- a driver that clears the cause, then EOIs: one interrupt\n");
    h.driver_clears_first = true;
    h.nic_cause = true;
    check(intc_ioapic_set_irq(h.ioapic, NIC_PIN, true), "set_irq");
    run_cpus(m, &h);
    printf("-- a driver that EOIs first: the line is still up, so the "
           "IOAPIC sends it again\n");
    h.driver_clears_first = false;
    h.nic_cause = true;
    check(intc_ioapic_set_irq(h.ioapic, NIC_PIN, true), "set_irq");
    run_cpus(m, &h);

    printf("\n== MSI-X function, 4 vectors: entry 0 -> CPU 3, vector 0x%02x\n",
           MSIX_VECTOR);
    {
        intc_msix *x = intc_msix_new(m, 4, 0x0100 /* 01:00.0 */, &err);
        check(err, "intc_msix_new");
        check(intc_msix_table_write(x, 0, 4, MSI_ADDR(3)), "table");
        check(intc_msix_table_write(x, 8, 4, MSIX_VECTOR), "table");
        check(intc_msix_set_control(x, true, false), "control");
        printf("-- raised while its vector is masked: the PBA holds it\n");
        check(intc_msix_notify(x, 0, NULL), "notify");
        printf("-- the driver unmasks the vector: the pending message goes\n");
        check(intc_msix_table_write(x, 12, 4, 0), "unmask");
        run_cpus(m, &h);
        printf("-- raised again, unmasked: straight to the LAPIC\n");
        check(intc_msix_notify(x, 0, NULL), "notify");
        run_cpus(m, &h);
    }

    printf("\n== summary\n");
    for (unsigned t = 0; t < INTC_EV_COUNT_; t++)
        if (h.h->totals[t])
            printf("  %-14s %u\n", intc_event_name((intc_event_type)t),
                   (unsigned)h.h->totals[t]);
    for (uint32_t cpu = 0; cpu < N_CPUS; cpu++)
        printf("  cpu%" PRIu32 ": %u vectors handled, %u NMIs, %u kicks\n", cpu,
               h.handled[cpu], h.nmis[cpu], h.h->kicks[cpu]);

    intc_machine_free(m);
    kit_host_free(h.h);
    return 0;
}
