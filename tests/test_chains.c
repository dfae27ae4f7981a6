/*
 * End-to-end interrupt chains through the public API only: a device's
 * MSI-X vector or level-triggered IOAPIC pin, the Local APIC (IRR, INTA,
 * ISR), the EOI and, for level interrupts, the EOI broadcast back to the
 * IOAPIC (Remote IRR, re-delivery, resample, storm detection).
 *
 * Authorities: Intel SDM vol. 3A 11.8.4-11.8.5 (acceptance, EOI),
 * 11.11 (MSI), 11.12 (x2APIC); 82093AA datasheet 3.2.4 (redirection
 * table, Remote IRR); PCIe 7.7.2 (MSI-X); and the IOAPIC design
 * decisions of the issue-3 brief (re-delivery, resample, storm).
 */
#include "lapic_util.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

#define SID 0x0200u
#define X2_EOI_MSR 0x80bu

static void check(intc_machine *m)
{
    char msg[256] = "";
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

/* Bit v of ISR/TMR/IRR: MMIO in xAPIC mode, MSRs in x2APIC mode. */
static int rbit(intc_lapic *l, uint32_t base, unsigned v)
{
    if (mr(l, INTC_MSR_APIC_BASE) & INTC_APIC_BASE_EXTD)
        return (int)((mr(l, X2MSR(base) + v / 32) >> (v % 32)) & 1);
    return lbit(l, base, v);
}
static int irr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_IRR0, v);
}
static int isr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_ISR0, v);
}
static int tmr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_TMR0, v);
}

static void eoi(intc_lapic *l)
{
    lw(l, INTC_LAPIC_EOI, 0);
}

/* Number of recorded events of type (vector v, or any with -2). */
static size_t count(const th_host *h, intc_event_type type, int32_t v)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == type &&
             (v == TH_ANY_VECTOR || h->events[i].vector == v);
    return n;
}

/* count() is n; traced hosts only. */
#define assert_count(h, type, v, n)                                          \
    do {                                                                     \
        TH_IF_TRACED(h) assert_int_equal(count((h), (type), (v)), (n));      \
    } while (0)

/* Index of the first event of type for vector v at or after from, or
   SIZE_MAX. */
static size_t find_from(const th_host *h, size_t from, intc_event_type type,
                        int32_t v)
{
    for (size_t i = from; i < h->n_events; i++)
        if (h->events[i].type == type &&
            (v == TH_ANY_VECTOR || h->events[i].vector == v))
            return i;
    return SIZE_MAX;
}

/* A machine on h with the kit's eoi() (resample) and ioapic_timer_arm()
   recorded too (a th_host leaves them out). */
static intc_machine *ch_machine(th_host *h, const intc_machine_config *cfg)
{
    th_ioapic_ops(h);
    return th_machine(h, cfg);
}

/* One IOAPIC (version 0x20, 24 pins, GSI 0-23); PIN is a PCI INTx line:
   level, active low. */
#define PIN 10u
#define VEC 0x61u

static void ioapic_cfg(intc_machine_config *cfg, intc_ioapic_config *io,
                       uint8_t wiring[24], uint32_t n_cpus)
{
    memset(wiring, 0, 24);
    wiring[PIN] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW;
    memset(io, 0, sizeof(*io));
    io->id = 8;
    io->version = 0x20;
    io->n_pins = 24;
    io->gsi_base = 0;
    io->source_id = 0x00f8;
    io->pin_wiring = wiring;
    intc_machine_config_init(cfg);
    cfg->n_cpus = n_cpus;
    cfg->ioapics = io;
    cfg->n_ioapics = 1;
}

static void io_write(intc_ioapic *io, uint8_t reg, uint32_t val)
{
    assert_int_equal(intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, reg),
                     INTC_OK);
    assert_int_equal(intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, val),
                     INTC_OK);
}

static uint32_t io_read(intc_ioapic *io, uint8_t reg)
{
    uint64_t v = 0;
    assert_int_equal(intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, reg),
                     INTC_OK);
    assert_int_equal(intc_ioapic_mmio_read(io, INTC_IOAPIC_IOWIN, 4, &v),
                     INTC_OK);
    return (uint32_t)v;
}

/* Program pin as the guest would (high dword first, then the low dword
   that unmasks): fixed, physical to APIC ID dest, level, active low. */
static void program_level_pin(intc_ioapic *io, uint32_t pin, uint8_t vec,
                              uint8_t dest)
{
    uint8_t reg = (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin);
    io_write(io, (uint8_t)(reg + 1), (uint32_t)dest << 24);
    io_write(io, reg,
             (uint32_t)(vec | INTC_RTE_LEVEL | INTC_RTE_ACTIVE_LOW));
}

static bool remote_irr(intc_ioapic *io, uint32_t pin)
{
    uint32_t lo = io_read(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin));
    uint64_t rte = 0;
    assert_int_equal(intc_ioapic_rte(io, pin, &rte), INTC_OK);
    assert_int_equal((uint32_t)rte, lo);
    return lo & INTC_RTE_REMOTE_IRR;
}

/* ================================================================
 * MSI-X -> LAPIC -> INTA -> EOI
 * ================================================================ */

/* PCIe 7.7.2 + SDM 11.11 + 11.8.4/11.8.5: an MSI-X vector becomes a
   fixed edge interrupt in the target's IRR (the CPU is kicked); INTA
   moves it to ISR (PPR rises to its class); the EOI write (MMIO 0xB0)
   clears ISR.  Event order: IRR_SET and MSI before ACK, ACK before EOI;
   no EOI broadcast for an edge interrupt. */
static void test_msix_to_lapic_ack_eoi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l1 = intc_machine_lapic(m, 1);
    intc_err err;
    intc_msix *x = intc_msix_new(m, 4, SID, &err);
    assert_non_null(x);

    sw_enable(l1);
    /* Entry 2: physical destination APIC ID 1, vector 0x55, unmasked. */
    assert_int_equal(intc_msix_table_write(x, 32 + 0, 4, 0xfee01000u),
                     INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 32 + 4, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 32 + 8, 4, 0x55), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 32 + 12, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    th_clear_events(h);
    unsigned kicks = h->kicks[1];

    assert_int_equal(intc_msix_notify(x, 2, NULL), INTC_OK);
    assert_int_equal(irr(l1, 0x55), 1);
    assert_int_equal(isr(l1, 0x55), 0);
    assert_int_equal(tmr(l1, 0x55), 0);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_INTR);
    assert_true(h->kicks[1] > kicks);
    assert_int_equal(intc_lapic_pending(intc_machine_lapic(m, 0)), 0);

    assert_int_equal(intc_lapic_ack(l1), 0x55);
    assert_int_equal(irr(l1, 0x55), 0);
    assert_int_equal(isr(l1, 0x55), 1);
    assert_int_equal(lr(l1, INTC_LAPIC_PPR), 0x50);
    assert_int_equal(intc_lapic_pending(l1), 0);

    eoi(l1);
    assert_int_equal(isr(l1, 0x55), 0);
    assert_int_equal(lr(l1, INTC_LAPIC_PPR), 0);
    assert_int_equal(intc_lapic_pending(l1), 0);

    TH_IF_TRACED(h) {
        size_t i_irr = find_from(h, 0, INTC_EV_IRR_SET, 0x55);
        size_t i_msi = find_from(h, 0, INTC_EV_MSI, 0x55);
        size_t i_ack = find_from(h, 0, INTC_EV_ACK, 0x55);
        size_t i_eoi = find_from(h, 0, INTC_EV_EOI, 0x55);
        if (i_irr == SIZE_MAX || i_msi == SIZE_MAX || i_ack == SIZE_MAX ||
            i_eoi == SIZE_MAX || !(i_irr < i_ack && i_msi < i_ack &&
                                   i_ack < i_eoi)) {
            th_dump_events(h);
            fail_msg("bad event sequence");
        }
        assert_int_equal(h->events[i_irr].cpu, 1);
        assert_int_equal(h->events[i_irr].data, 0); /* edge */
        assert_int_equal(h->events[i_msi].pin, SID);
        assert_int_equal(h->events[i_msi].data2 >> 32, 1);
        assert_int_equal(h->events[i_ack].cpu, 1);
        assert_int_equal(h->events[i_eoi].cpu, 1);
        assert_int_equal(h->events[i_eoi].data, 0);
    }
    assert_count(h, INTC_EV_IRR_SET, TH_ANY_VECTOR, 1);
    assert_count(h, INTC_EV_EOI_BROADCAST, TH_ANY_VECTOR, 0);
    /* Raised again after the EOI: delivered again. */
    assert_int_equal(intc_msix_notify(x, 2, NULL), INTC_OK);
    assert_int_equal(irr(l1, 0x55), 1);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Level pin -> IOAPIC -> LAPIC -> EOI
 * ================================================================ */

/* 82093AA 3.2.4 + SDM 11.8.5: a level interrupt sets IRR and TMR and the
   entry's Remote IRR; the LAPIC's EOI for a TMR vector is broadcast and
   clears Remote IRR; the line still asserted (cause not cleared) is
   delivered again (IOAPIC_SEND data2=1) and the host is asked to
   resample (eoi(gsi)). */
static void test_level_pin_eoi_line_still_up_redelivers(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[24];
    ioapic_cfg(&cfg, &ioc, wiring, 2);
    intc_machine *m = ch_machine(h, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l0 = intc_machine_lapic(m, 0);
    assert_non_null(io);

    sw_enable(l0);
    program_level_pin(io, PIN, VEC, 0);
    assert_count(h, INTC_EV_POLARITY_MISMATCH, TH_ANY_VECTOR, 0);
    assert_false(remote_irr(io, PIN));
    th_clear_events(h);

    assert_int_equal(intc_machine_set_gsi(m, PIN, true), INTC_OK);
    assert_int_equal(irr(l0, VEC), 1);
    assert_int_equal(tmr(l0, VEC), 1);
    assert_true(remote_irr(io, PIN));
    assert_count(h, INTC_EV_IOAPIC_SEND, VEC, 1);
    TH_IF_TRACED(h) {
        assert_int_equal(h->events[find_from(h, 0, INTC_EV_IOAPIC_SEND, VEC)]
                             .data2, 0);
    }

    assert_int_equal(intc_lapic_ack(l0), (int)VEC);
    assert_int_equal(isr(l0, VEC), 1);
    assert_int_equal(irr(l0, VEC), 0);
    /* While in service, nothing more is sent (Remote IRR). */
    assert_count(h, INTC_EV_IOAPIC_SEND, VEC, 1);

    size_t mark = h->n_events;
    eoi(l0); /* the line is still up */
    assert_int_equal(isr(l0, VEC), 0);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 0, (int)VEC);
    assert_int_equal(irr(l0, VEC), 1);
    assert_int_equal(tmr(l0, VEC), 1);
    assert_true(remote_irr(io, PIN));
    assert_int_equal(h->n_eois, 1);
    assert_int_equal(h->last_eoi_gsi, PIN);
    TH_IF_TRACED(h) {
        size_t i_send = find_from(h, mark, INTC_EV_IOAPIC_SEND, VEC);
        assert_true(i_send != SIZE_MAX);
        assert_int_equal(h->events[i_send].data2, 1); /* re-delivery */
        assert_int_equal(h->events[i_send].pin, PIN);
        /* Remote IRR went 1 -> 0 -> 1 around the EOI. */
        size_t i_clr = find_from(h, mark, INTC_EV_REMOTE_IRR, (int)VEC);
        assert_true(i_clr != SIZE_MAX && i_clr < i_send);
        assert_int_equal(h->events[i_clr].data, 0);
    }

    /* The device is finally serviced: de-assert, then EOI: over. */
    assert_int_equal(intc_lapic_ack(l0), (int)VEC);
    assert_int_equal(intc_machine_set_gsi(m, PIN, false), INTC_OK);
    eoi(l0);
    assert_false(remote_irr(io, PIN));
    assert_int_equal(irr(l0, VEC), 0);
    assert_int_equal(isr(l0, VEC), 0);
    assert_int_equal(intc_lapic_pending(l0), 0);
    assert_count(h, INTC_EV_IOAPIC_SEND, VEC, 2);
    assert_count(h, INTC_EV_STORM, TH_ANY_VECTOR, 0);
    check(m);
    intc_machine_free(m);
}

/* ---- driver order ---- */

/* Deliveries (IOAPIC sends) of VEC so far are n; traced hosts only. */
#define assert_deliveries(h, n) assert_count(h, INTC_EV_IOAPIC_SEND, VEC, n)

/* The correct driver: handler clears the device's cause (the line
   drops), then EOIs.  82093AA 3.2.4: with the line inactive at EOI
   nothing is re-sent: exactly one delivery per interrupt. */
static void test_driver_clear_then_eoi_delivers_once(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[24];
    ioapic_cfg(&cfg, &ioc, wiring, 1);
    cfg.storm_threshold = 5;
    intc_machine *m = ch_machine(h, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    program_level_pin(io, PIN, VEC, 0);
    th_clear_events(h);
    for (unsigned k = 1; k <= 20; k++) {
        assert_int_equal(intc_ioapic_set_irq(io, PIN, true), INTC_OK);
        assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
        assert_int_equal(intc_lapic_ack(l), (int)VEC);
        assert_int_equal(intc_ioapic_set_irq(io, PIN, false), INTC_OK);
        eoi(l);
        assert_int_equal(intc_lapic_pending(l), 0);
        assert_false(remote_irr(io, PIN));
        assert_deliveries(h, k);
    }
    assert_count(h, INTC_EV_ACK, (int)VEC, 20);
    assert_count(h, INTC_EV_STORM, TH_ANY_VECTOR, 0);
    check(m);
    intc_machine_free(m);
}

/* The wrong order: EOI first, then clear the cause.  At the EOI the line
   is still asserted, so the interrupt is delivered again (a spurious
   second run of the handler).  The line then drops, which ends any storm
   count (design: "line de-assert resets the count"), so however long
   this driver runs no STORM is reported: 2 deliveries per interrupt. */
static void test_driver_eoi_then_clear_redelivers(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[24];
    ioapic_cfg(&cfg, &ioc, wiring, 1);
    cfg.storm_threshold = 5;
    intc_machine *m = ch_machine(h, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    program_level_pin(io, PIN, VEC, 0);
    th_clear_events(h);
    for (unsigned k = 1; k <= 20; k++) {
        assert_int_equal(intc_ioapic_set_irq(io, PIN, true), INTC_OK);
        assert_int_equal(intc_lapic_ack(l), (int)VEC);
        eoi(l); /* too early */
        assert_int_equal(irr(l, VEC), 1); /* delivered again */
        assert_int_equal(intc_ioapic_set_irq(io, PIN, false), INTC_OK);
        /* The handler runs again for the re-delivery; finds nothing. */
        assert_int_equal(intc_lapic_ack(l), (int)VEC);
        eoi(l);
        assert_int_equal(intc_lapic_pending(l), 0);
        assert_false(remote_irr(io, PIN));
        assert_deliveries(h, 2 * k);
    }
    assert_count(h, INTC_EV_ACK, (int)VEC, 40);
    assert_count(h, INTC_EV_STORM, TH_ANY_VECTOR, 0);
    check(m);
    intc_machine_free(m);
}

/* The EOI-before-clear driver whose re-delivered interrupt is taken at
   once (IF=1 in the handler after its early EOI), so its "clear" never
   runs while the interrupt keeps coming back: every EOI re-delivers with
   the line never dropping.  Design: at storm_threshold (5) re-deliveries
   exactly one STORM event (unit, pin, vector, count); without a throttle
   delivery continues.  The line dropping ends it and resets the count:
   a later burst of 4 re-deliveries reports nothing. */
static void test_driver_eoi_before_clear_storm(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[24];
    ioapic_cfg(&cfg, &ioc, wiring, 1);
    cfg.storm_threshold = 5;
    intc_machine *m = ch_machine(h, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    program_level_pin(io, PIN, VEC, 0);
    th_clear_events(h);
    assert_int_equal(intc_ioapic_set_irq(io, PIN, true), INTC_OK);
    unsigned taken = 0;
    /* The handler: ack, EOI, and (re-entered before it can clear) again. */
    while (taken < 20 && (intc_lapic_pending(l) & INTC_PEND_INTR)) {
        assert_int_equal(intc_lapic_ack(l), (int)VEC);
        taken++;
        eoi(l);
    }
    assert_int_equal(taken, 20);
    assert_deliveries(h, 21); /* 1 + 20 re-deliveries */
    assert_count(h, INTC_EV_STORM, TH_ANY_VECTOR, 1);
    TH_IF_TRACED(h) {
        size_t i_storm = find_from(h, 0, INTC_EV_STORM, (int)VEC);
        assert_true(i_storm != SIZE_MAX);
        const intc_event *st = &h->events[i_storm];
        assert_int_equal(st->pin, PIN);
        assert_int_equal(st->unit, 0);
        assert_int_equal(st->data, 5);
        /* Reported when the 5th re-delivery happened. */
        size_t before = 0;
        for (size_t i = 0; i < i_storm; i++)
            before += h->events[i].type == INTC_EV_IOAPIC_SEND &&
                      h->events[i].data2 == 1;
        assert_true(before == 4 || before == 5);
    }
    assert_int_equal(h->n_io_arms, 0); /* no throttle configured */

    /* Finally cleared: the pending re-delivery runs once more. */
    assert_int_equal(intc_ioapic_set_irq(io, PIN, false), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), (int)VEC);
    eoi(l);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_false(remote_irr(io, PIN));
    assert_deliveries(h, 21);

    /* A new interrupt with 4 early EOIs: below the threshold again. */
    assert_int_equal(intc_ioapic_set_irq(io, PIN, true), INTC_OK);
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(intc_lapic_ack(l), (int)VEC);
        eoi(l);
    }
    assert_int_equal(intc_ioapic_set_irq(io, PIN, false), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), (int)VEC);
    eoi(l);
    assert_deliveries(h, 21 + 5);
    assert_count(h, INTC_EV_STORM, TH_ANY_VECTOR, 1);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * x2APIC: extended-destination MSI, EOI by MSR
 * ================================================================ */

/* SDM 11.12 (x2APIC: IDs above 255, EOI is WRMSR 0x80B of 0) + 11.11.1
   with the extended destination (msi.h: address bits 11:5 = destination
   14:8): an MSI to x2APIC ID 0x345 reaches that CPU in x2APIC mode; an
   8-bit destination of its low byte does not; INTA and the MSR EOI
   complete it; a level message's EOI is broadcast. */
static void test_x2apic_ext_dest_msi_msr_eoi(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x345};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);
    const uint64_t addr = 0xfee00000u | 0x45u << 12 | 0x3u << 5;

    sw_enable(l0);
    x2_enable(l1);
    assert_int_equal(mr(l1, X2MSR(INTC_LAPIC_ID)), 0x345);

    /* The 8-bit destination 0x45 names no APIC. */
    assert_int_equal(intc_msi_send(m, 0xfee45000u, 0x70, SID, NULL), INTC_OK);
    assert_int_equal(irr(l1, 0x70), 0);
    assert_int_equal(intc_lapic_pending(l0), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, TH_ANY_CPU, TH_ANY_VECTOR);

    th_clear_events(h);
    unsigned kicks = h->kicks[1];
    assert_int_equal(intc_msi_send(m, addr, 0x70, SID, NULL), INTC_OK);
    assert_int_equal(irr(l1, 0x70), 1);
    assert_int_equal(tmr(l1, 0x70), 0);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_INTR);
    assert_int_equal(intc_lapic_pending(l0), 0);
    assert_true(h->kicks[1] > kicks);
    /* xAPIC MMIO is not decoded in x2APIC mode (11.12.1.2). */
    uint64_t v;
    assert_int_equal(intc_lapic_mmio_read(l1, INTC_LAPIC_IRR0, 4, &v),
                     INTC_ERR_NOT_DECODED);

    assert_int_equal(intc_lapic_ack(l1), 0x70);
    assert_int_equal(isr(l1, 0x70), 1);
    assert_int_equal(mr(l1, X2MSR(INTC_LAPIC_PPR)), 0x70);
    mw(l1, X2_EOI_MSR, 0);
    assert_int_equal(isr(l1, 0x70), 0);
    assert_int_equal(intc_lapic_pending(l1), 0);
    th_assert_event(h, INTC_EV_EOI, 1, 0x70);
    th_assert_no_event(h, INTC_EV_EOI_BROADCAST, TH_ANY_CPU, TH_ANY_VECTOR);

    /* Level-triggered: TMR set, the MSR EOI is broadcast. */
    assert_int_equal(intc_msi_send(m, addr,
                                   INTC_MSI_DATA_LEVEL |
                                       INTC_MSI_DATA_ASSERT | 0x71,
                                   SID, NULL),
                     INTC_OK);
    assert_int_equal(tmr(l1, 0x71), 1);
    assert_int_equal(intc_lapic_ack(l1), 0x71);
    mw(l1, X2_EOI_MSR, 0);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 1, 0x71);
    assert_int_equal(isr(l1, 0x71), 0);
    check(m);
    intc_machine_free(m);
}

/* The same chain with an IOAPIC-less MSI-X device aimed at the x2APIC
   CPU: MSI-X table entry with the extended destination, MSR EOI. */
static void test_x2apic_msix_ext_dest(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x7abc};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l1 = intc_machine_lapic(m, 1);
    intc_err err;
    intc_msix *x = intc_msix_new(m, 1, SID, &err);
    assert_non_null(x);

    x2_enable(l1);
    uint32_t addr = 0xfee00000u | 0xbcu << 12 | 0x7au << 5;
    assert_int_equal(intc_msix_table_write(x, 0, 8, addr), INTC_OK);
    assert_int_equal(intc_msix_table_write(x, 8, 8, 0xa3), INTC_OK);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_int_equal(irr(l1, 0xa3), 1);
    assert_int_equal(intc_lapic_ack(l1), 0xa3);
    mw(l1, X2_EOI_MSR, 0);
    assert_int_equal(isr(l1, 0xa3), 0);
    assert_int_equal(intc_lapic_pending(l1), 0);
    check(m);
    intc_machine_free(m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)
    const struct CMUnitTest tests[] = {
        T(test_msix_to_lapic_ack_eoi),
        T(test_level_pin_eoi_line_still_up_redelivers),
        T(test_driver_clear_then_eoi_delivers_once),
        T(test_driver_eoi_then_clear_redelivers),
        T(test_driver_eoi_before_clear_storm),
        T(test_x2apic_ext_dest_msi_msr_eoi),
        T(test_x2apic_msix_ext_dest),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
