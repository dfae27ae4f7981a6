/*
 * Local APIC: inter-processor interrupts and message routing.
 *
 * Intel SDM vol. 3A: 11.6 (issuing IPIs: ICR, destination modes, delivery
 * modes, shorthands, lowest-priority arbitration), 11.12.9-11.12.11
 * (x2APIC destinations, logical x2APIC, SELF IPI), 11.4.7.3 and 8.4
 * (INIT/SIPI, MP initialisation), 11.5.3 (ESR).
 *
 * Mixed xAPIC/x2APIC systems are not defined by the SDM; libintc's rule
 * (libintc/bus.c header): a destination is read in the SENDER's format,
 * 8-bit with 0xFF broadcast or 32-bit with 0xFFFFFFFF broadcast, and any
 * other value is compared, zero-extended, against each APIC in its own
 * mode.  The reference router in this file (ref_match) states that rule
 * from register reads alone and is checked against the library.
 */
#include "lapic_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC 0x40

/* ---------------------------------------------------------------------- */
/* helpers                                                                 */
/* ---------------------------------------------------------------------- */

static void check_ok(const intc_machine *m)
{
    char msg[256];
    intc_err err = intc_machine_check(m, msg, sizeof(msg));

    if (err != INTC_OK)
        fail_msg("intc_machine_check: %s (%s)", intc_err_name(err), msg);
}

static uint64_t apic_base(intc_lapic *l)
{
    return mr(l, INTC_MSR_APIC_BASE);
}

static bool is_x2(intc_lapic *l)
{
    uint64_t b = apic_base(l);
    return (b & INTC_APIC_BASE_EN) && (b & INTC_APIC_BASE_EXTD);
}

static bool is_disabled(intc_lapic *l)
{
    return !(apic_base(l) & INTC_APIC_BASE_EN);
}

/* Mode-aware 32-bit register access (MMIO in xAPIC, MSR in x2APIC). */
static uint32_t rd(intc_lapic *l, uint32_t off)
{
    return is_x2(l) ? (uint32_t)mr(l, X2MSR(off)) : lr(l, off);
}

static void wr(intc_lapic *l, uint32_t off, uint32_t val)
{
    if (is_x2(l))
        mw(l, X2MSR(off), val);
    else
        lw(l, off, val);
}

static int bit256(intc_lapic *l, uint32_t base, unsigned v)
{
    return (int)((rd(l, base + 0x10 * (v / 32)) >> (v % 32)) & 1);
}

static int irr(intc_lapic *l, unsigned v)
{
    return bit256(l, INTC_LAPIC_IRR0, v);
}

static int isr(intc_lapic *l, unsigned v)
{
    return bit256(l, INTC_LAPIC_ISR0, v);
}

static int tmr(intc_lapic *l, unsigned v)
{
    return bit256(l, INTC_LAPIC_TMR0, v);
}

/* 11.5.3: write ESR to latch the errors, then read them. */
static uint32_t esr(intc_lapic *l)
{
    wr(l, INTC_LAPIC_ESR, 0);
    return rd(l, INTC_LAPIC_ESR);
}

static void eoi(intc_lapic *l)
{
    wr(l, INTC_LAPIC_EOI, 0);
}

/* Send an IPI in the sender's own format: xAPIC ICR high/low (8-bit
   destination) or the x2APIC 64-bit ICR MSR (32-bit destination). */
static void send(intc_lapic *l, uint32_t dest, uint32_t lo)
{
    if (is_x2(l)) {
        mw(l, X2MSR(INTC_LAPIC_ICR_LO), (uint64_t)dest << 32 | lo);
    } else {
        assert_true(dest <= 0xff);
        ipi(l, (uint8_t)dest, lo);
    }
}

static void disable_global(intc_lapic *l)
{
    uint64_t b = apic_base(l);
    mw(l, INTC_MSR_APIC_BASE,
       b & ~(INTC_APIC_BASE_EN | INTC_APIC_BASE_EXTD));
}

static void enable_global(intc_lapic *l)
{
    mw(l, INTC_MSR_APIC_BASE, apic_base(l) | INTC_APIC_BASE_EN);
}

/* Events of type for cpu and vector (TH_ANY_* wildcards). */
static size_t nev(const th_host *h, intc_event_type type, uint32_t cpu,
                  int32_t vector)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++) {
        const intc_event *ev = &h->events[i];
        n += ev->type == type && (cpu == TH_ANY_CPU || ev->cpu == cpu) &&
             (vector == TH_ANY_VECTOR || ev->vector == vector);
    }
    return n;
}

/* nev() is n; traced hosts only. */
#define assert_nev(h, type, cpu, vector, n)                                  \
    do {                                                                     \
        TH_IF_TRACED(h)                                                      \
            assert_int_equal(nev((h), (type), (cpu), (vector)), (n));        \
    } while (0)

/* Bitmask (CPUs < 32) of CPUs whose IRR holds v. */
static uint32_t irr_mask(intc_machine *m, unsigned v)
{
    uint32_t mask = 0;
    uint32_t n = intc_machine_cpu_count(m);
    assert_true(n <= 32);
    for (uint32_t i = 0; i < n; i++) {
        intc_lapic *l = intc_machine_lapic(m, i);
        if (!is_disabled(l) && irr(l, v))
            mask |= 1u << i;
    }
    return mask;
}

/* The only CPU that accepted v since the last clear (-1 if none, fails if
   several): from the IRR_SET events when traced, else from the IRRs (the
   callers leave no earlier v pending). */
static int irr_set_cpu(const th_host *h, intc_machine *m, int32_t v)
{
    int who = -1;
    if (!th_traced(h)) {
        uint32_t mask = irr_mask(m, (unsigned)v);
        if (mask & (mask - 1))
            fail_msg("vector %#x in the IRR of cpus %#x", v, mask);
        return mask ? __builtin_ctz(mask) : -1;
    }
    for (size_t i = 0; i < h->n_events; i++) {
        const intc_event *ev = &h->events[i];
        if (ev->type != INTC_EV_IRR_SET || ev->vector != v)
            continue;
        if (who >= 0)
            fail_msg("vector %#x accepted by cpu %d and cpu %u", v, who,
                     ev->cpu);
        who = (int)ev->cpu;
    }
    return who;
}

static intc_lapic *L(intc_machine *m, uint32_t i)
{
    intc_lapic *l = intc_machine_lapic(m, i);
    assert_non_null(l);
    return l;
}

static void sw_enable_all(intc_machine *m)
{
    for (uint32_t i = 0; i < intc_machine_cpu_count(m); i++)
        sw_enable(L(m, i));
}

static void x2_enable_all(intc_machine *m)
{
    for (uint32_t i = 0; i < intc_machine_cpu_count(m); i++)
        x2_enable(L(m, i));
}

static intc_machine *machine_ids(th_host *h, uint32_t n, const uint32_t *ids)
{
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = n;
    cfg.apic_ids = ids;
    return th_machine(h, &cfg);
}

/* Host side of INIT on an AP: take the INIT so it waits for SIPI. */
static void take_init(intc_lapic *l)
{
    assert_int_equal(intc_lapic_take(l, INTC_PEND_INIT, NULL), 1);
}

/* ---------------------------------------------------------------------- */
/* physical destinations (11.6.2.1, 11.12.9)                               */
/* ---------------------------------------------------------------------- */

/* SDM 11.6.2.1: a physical destination names one APIC by its 8-bit
   xAPIC ID. */
static void test_phys_xapic_unicast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    for (uint32_t t = 0; t < 4; t++) {
        unsigned v = VEC + t;
        th_clear_events(h);
        send(L(m, 0), t, ICR_FIXED | ICR_ASSERT | v);
        assert_int_equal(irr_mask(m, v), 1u << t);
        assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, (int32_t)v, 1);
        th_assert_last_event(h, INTC_EV_IPI, data2, 1);
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.1: physical destination 0xFF is a broadcast (sender
   included, no shorthand needed). */
static void test_phys_xapic_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 2), 0xff, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0xf);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, VEC, 4);
    th_assert_last_event(h, INTC_EV_IPI, data2, 4);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.9: in x2APIC mode the physical destination is the full
   32-bit x2APIC ID; sparse IDs are reached exactly. */
static void test_phys_x2apic_sparse_ids(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 7, 0x100, 0x12345, 0xfffffffeu};
    intc_machine *m = machine_ids(h, 5, ids);

    x2_enable_all(m);
    for (uint32_t s = 0; s < 5; s += 4) { /* senders: IDs 0 and ~0-1 */
        for (uint32_t t = 0; t < 5; t++) {
            unsigned v = VEC + 8 * s + t;
            th_clear_events(h);
            send(L(m, s), ids[t], ICR_FIXED | ICR_ASSERT | v);
            assert_int_equal(irr_mask(m, v), 1u << t);
            assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, (int32_t)v, 1);
        }
    }
    /* Near misses reach nobody: a neighbouring ID, the low byte of an
       x2APIC ID, the same ID with a high bit flipped. */
    static const uint32_t miss[] = {0x12344, 0x45, 0x7fffffffu,
                                    0x80000100u};
    for (unsigned k = 0; k < 4; k++) {
        th_clear_events(h);
        send(L(m, 0), miss[k], ICR_FIXED | ICR_ASSERT | 0x90);
        assert_int_equal(irr_mask(m, 0x90), 0);
        th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x90);
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.9: 0xFFFFFFFF is the x2APIC broadcast. */
static void test_phys_x2apic_broadcast(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 7, 0x100, 0x12345, 0xfffffffeu};
    intc_machine *m = machine_ids(h, 5, ids);

    x2_enable_all(m);
    th_clear_events(h);
    send(L(m, 3), 0xffffffffu, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0x1f);
    th_assert_last_event(h, INTC_EV_IPI, data2, 5);
    /* 0xFF is not a broadcast in x2APIC format. */
    th_clear_events(h);
    send(L(m, 3), 0xff, ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 3, 0x50);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.6: software may rewrite the xAPIC ID; messages follow the
   register at once. */
static void test_phys_xapic_id_rewrite_reroutes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    lw(L(m, 1), INTC_LAPIC_ID, 0x30u << 24);
    assert_int_equal(lr(L(m, 1), INTC_LAPIC_ID), 0x30u << 24);
    check_ok(m);

    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, VEC);

    send(L(m, 0), 0x30, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 1u << 1);

    /* And back again. */
    lw(L(m, 1), INTC_LAPIC_ID, 1u << 24);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 1u << 1);
    send(L(m, 0), 0x30, ICR_FIXED | ICR_ASSERT | 0x60);
    assert_int_equal(irr_mask(m, 0x60), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.1 (bus semantics): two APICs carrying the same ID both
   accept a message addressed to it; each exactly once. */
static void test_phys_xapic_duplicate_id_both_receive(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    lw(L(m, 2), INTC_LAPIC_ID, 1u << 24);
    lw(L(m, 3), INTC_LAPIC_ID, 1u << 24);
    check_ok(m);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0xe);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, VEC, 3);
    th_assert_last_event(h, INTC_EV_IPI, data2, 3);
    /* ID 2 and 3 are now unused. */
    send(L(m, 0), 2, ICR_FIXED | ICR_ASSERT | 0x50);
    send(L(m, 0), 3, ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.5.1 / 11.12.9: after the switch to x2APIC mode an APIC
   answers to its 32-bit x2APIC ID, no longer to its old 8-bit one. */
static void test_phys_switched_cpu_reached_by_x2apic_id(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x105, 2};
    intc_machine *m = machine_ids(h, 3, ids);

    sw_enable_all(m);
    /* xAPIC mode: the 8-bit ID is the low byte of the initial ID. */
    assert_int_equal(lr(L(m, 1), INTC_LAPIC_ID), 0x05u << 24);
    send(L(m, 2), 0x05, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 1u << 1);

    x2_enable(L(m, 1));
    x2_enable(L(m, 0));
    check_ok(m);
    assert_int_equal(mr(L(m, 1), X2MSR(INTC_LAPIC_ID)), 0x105);
    /* Its old 8-bit ID no longer reaches it (from an xAPIC sender)... */
    th_clear_events(h);
    send(L(m, 2), 0x05, ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr(L(m, 1), 0x50), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 2, 0x50);
    /* ...its x2APIC ID does (from an x2APIC sender). */
    send(L(m, 0), 0x105, ICR_FIXED | ICR_ASSERT | 0x60);
    assert_int_equal(irr(L(m, 1), 0x60), 1);
    assert_int_equal(irr(L(m, 0), 0x60), 0);
    assert_int_equal(irr(L(m, 2), 0x60), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* lapic.h 8-byte accesses (SDM 11.4.1: APIC registers are 32 bits wide
   at 16-byte aligned offsets; ICR high is at 0x310): an 8-byte store at
   ICR low is ignored whole; split by the host into two 4-byte stores, the
   low half sends the IPI to the destination already in ICR high and the
   high half (0x304) is ignored; an 8-byte load returns ICR low and 0. */
static void test_icr_8byte_store_whole_and_split(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);
    intc_lapic *l0 = L(m, 0);
    uint64_t v = 0;

    sw_enable_all(m);
    wr(l0, INTC_LAPIC_ICR_HI, 1u << 24); /* destination: APIC 1 */
    th_clear_events(h);

    /* Whole: destination 2 in the high half, fixed vector 0x45. */
    assert_int_equal(intc_lapic_mmio_write(l0, INTC_LAPIC_ICR_LO, 8,
                                           (2ull << 56) | ICR_ASSERT | 0x45),
                     INTC_OK);
    assert_int_equal(irr_mask(m, 0x45), 0);
    assert_nev(h, INTC_EV_IPI, 0, TH_ANY_VECTOR, 0);
    assert_nev(h, INTC_EV_BAD_ACCESS, 0, TH_ANY_VECTOR, 1);
    assert_int_equal(rd(l0, INTC_LAPIC_ICR_HI), 1u << 24);
    assert_int_equal(esr(l0), 0);

    /* Split: low half at 0x300, high half at 0x304. */
    assert_int_equal(intc_lapic_mmio_write(l0, INTC_LAPIC_ICR_LO, 4,
                                           ICR_ASSERT | 0x45),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l0, INTC_LAPIC_ICR_LO + 4, 4,
                                           2u << 24),
                     INTC_OK);
    assert_int_equal(irr_mask(m, 0x45), 1u << 1); /* the old ICR high */
    assert_int_equal(rd(l0, INTC_LAPIC_ICR_HI), 1u << 24);
    assert_nev(h, INTC_EV_BAD_ACCESS, 0, TH_ANY_VECTOR, 2);
    assert_int_equal(esr(l0), 0);

    /* 8-byte load: ICR low, then zeros (bytes 4-7 of the slot). */
    assert_int_equal(intc_lapic_mmio_read(l0, INTC_LAPIC_ICR_LO, 8, &v),
                     INTC_OK);
    assert_int_equal(v, (uint64_t)rd(l0, INTC_LAPIC_ICR_LO));
    assert_int_equal(v >> 32, 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.3: a globally disabled APIC takes no part in the bus: no
   unicast, broadcast or NMI reaches it. */
static void test_phys_globally_disabled_receives_nothing(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    disable_global(L(m, 1));
    check_ok(m);

    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    send(L(m, 0), 1, ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 0xff, ICR_FIXED | ICR_ASSERT | VEC);
    th_assert_last_event(h, INTC_EV_IPI, data2, 3);
    send(L(m, 0), 0xff, ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 0, ICR_OTHERS | ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 0, ICR_OTHERS | ICR_INIT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(L(m, 1)), 0);
    assert_nev(h, INTC_EV_IRR_SET, 1, TH_ANY_VECTOR, 0);
    assert_nev(h, INTC_EV_NMI, 1, TH_ANY_VECTOR, 0);
    assert_nev(h, INTC_EV_INIT, 1, TH_ANY_VECTOR, 0);
    assert_nev(h, INTC_EV_NO_TARGET, 0, TH_ANY_VECTOR, 2);
    assert_int_equal(irr_mask(m, VEC), 0xd);

    /* Re-enabled, it is reachable again by its ID (the initial one:
       re-enabling gives the power-up state, SDM 11.4.3, 11.4.7.1). */
    enable_global(L(m, 1));
    sw_enable(L(m, 1));
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 1u << 1);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.3: a globally disabled x2APIC CPU is not reached by its
   x2APIC ID either. */
static void test_phys_x2apic_globally_disabled_receives_nothing(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x12345};
    intc_machine *m = machine_ids(h, 2, ids);

    x2_enable_all(m);
    disable_global(L(m, 1));
    check_ok(m);
    th_clear_events(h);
    send(L(m, 0), 0x12345, ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 0xffffffffu, ICR_NMI | ICR_ASSERT);
    assert_nev(h, INTC_EV_NMI, 1, TH_ANY_VECTOR, 0);
    assert_int_equal(intc_lapic_pending(L(m, 1)), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, TH_ANY_VECTOR);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* logical xAPIC destinations (11.6.2.2)                                   */
/* ---------------------------------------------------------------------- */

static void set_ldr(intc_lapic *l, uint8_t ldr8)
{
    lw(l, INTC_LAPIC_LDR, (uint32_t)ldr8 << 24);
}

/* SDM 11.6.2.2 flat model: an APIC accepts when (MDA AND LDR[31:24]) is
   non-zero; an APIC with several LDR bits is still one receiver. */
static void test_logical_flat_mda_match(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);
    static const struct {
        uint8_t mda;
        uint32_t want;
    } cases[] = {
        {0x01, 0x1}, {0x02, 0x2}, {0x04, 0x4}, {0x08, 0x4}, {0x0c, 0x4},
        {0x0f, 0x7}, {0x80, 0x8}, {0x81, 0x9}, {0xfe, 0xe}, {0x10, 0x0},
        {0x70, 0x0},
    };

    sw_enable_all(m);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(lr(L(m, i), INTC_LAPIC_DFR), 0xffffffffu);
    set_ldr(L(m, 0), 0x01);
    set_ldr(L(m, 1), 0x02);
    set_ldr(L(m, 2), 0x0c); /* two bits */
    set_ldr(L(m, 3), 0x80);
    check_ok(m);
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        unsigned v = 0x20 + k;
        th_clear_events(h);
        send(L(m, 0), cases[k].mda, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | v);
        if (irr_mask(m, v) != cases[k].want)
            fail_msg("MDA %#x: receivers %#x, want %#x", cases[k].mda,
                     irr_mask(m, v), cases[k].want);
        /* No duplicate delivery: one IRR_SET per receiver, nothing
           coalesced. */
        assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, (int32_t)v,
                   __builtin_popcount(cases[k].want));
        assert_nev(h, INTC_EV_COALESCED, TH_ANY_CPU, TH_ANY_VECTOR, 0);
        th_assert_last_event(h, INTC_EV_IPI, data2,
                             __builtin_popcount(cases[k].want));
        if (!cases[k].want)
            th_assert_event(h, INTC_EV_NO_TARGET, 0, (int)v);
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2 / 11.6.2.4 (LDR is software-written): rewriting LDR
   re-routes logical messages at once; LDR 0 is reached by nothing. */
static void test_logical_flat_ldr_rewrite_reroutes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    sw_enable_all(m);
    set_ldr(L(m, 1), 0x02);
    send(L(m, 0), 0x02, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask(m, 0x30), 0x2);

    set_ldr(L(m, 1), 0x40);
    assert_int_equal(lr(L(m, 1), INTC_LAPIC_LDR), 0x40u << 24);
    check_ok(m);
    send(L(m, 0), 0x02, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask(m, 0x31), 0);
    send(L(m, 0), 0x40, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x32);
    assert_int_equal(irr_mask(m, 0x32), 0x2);

    set_ldr(L(m, 1), 0x00);
    check_ok(m);
    th_clear_events(h);
    send(L(m, 0), 0x7f, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x33);
    assert_int_equal(irr_mask(m, 0x33), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x33);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2 cluster model (DFR[31:28] = 0): MDA[7:4] must equal
   LDR[31:28] and MDA[3:0] AND LDR[27:24] must be non-zero. */
static void test_logical_cluster_mda_match(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);
    static const struct {
        uint8_t mda;
        uint32_t want;
    } cases[] = {
        {0x11, 0x9}, {0x12, 0xa}, {0x13, 0xb}, {0x1f, 0xb}, {0x21, 0x4},
        {0x22, 0x0}, {0x31, 0x0}, {0x01, 0x0}, {0x10, 0x0}, {0xf1, 0x0},
    };

    sw_enable_all(m);
    for (uint32_t i = 0; i < 4; i++) {
        lw(L(m, i), INTC_LAPIC_DFR, 0x0fffffffu);
        assert_int_equal(lr(L(m, i), INTC_LAPIC_DFR), 0x0fffffffu);
    }
    set_ldr(L(m, 0), 0x11);
    set_ldr(L(m, 1), 0x12);
    set_ldr(L(m, 2), 0x21);
    set_ldr(L(m, 3), 0x13); /* two bits in cluster 1 */
    check_ok(m);
    for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        unsigned v = 0x20 + k;
        th_clear_events(h);
        send(L(m, 0), cases[k].mda, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | v);
        if (irr_mask(m, v) != cases[k].want)
            fail_msg("MDA %#x: receivers %#x, want %#x", cases[k].mda,
                     irr_mask(m, v), cases[k].want);
        assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, (int32_t)v,
                   __builtin_popcount(cases[k].want));
        th_assert_last_event(h, INTC_EV_IPI, data2,
                             __builtin_popcount(cases[k].want));
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2: the DFR model decides how LDR is read; a DFR rewrite
   re-routes immediately. */
static void test_logical_dfr_rewrite_reroutes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    sw_enable_all(m);
    set_ldr(L(m, 1), 0x12);
    /* Flat: bits 1 and 4. */
    send(L(m, 0), 0x10, ICR_LOGICAL | ICR_NMI | ICR_ASSERT);
    assert_true(intc_lapic_pending(L(m, 1)) & INTC_PEND_NMI);
    assert_int_equal(intc_lapic_take(L(m, 1), INTC_PEND_NMI, NULL), 1);

    lw(L(m, 1), INTC_LAPIC_DFR, 0x0fffffffu);
    check_ok(m);
    /* Cluster 1, bit 1: MDA 0x10 (cluster 1, no bits) and 0x02 (cluster
       0) miss, 0x12 hits. */
    th_clear_events(h);
    send(L(m, 0), 0x10, ICR_LOGICAL | ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 0x02, ICR_LOGICAL | ICR_NMI | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(L(m, 1)), 0);
    assert_nev(h, INTC_EV_NO_TARGET, 0, TH_ANY_VECTOR, 2);
    send(L(m, 0), 0x12, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0x2);

    lw(L(m, 1), INTC_LAPIC_DFR, 0xffffffffu);
    check_ok(m);
    send(L(m, 0), 0x10, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 0x2);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.2: all-ones MDA is a broadcast to every APIC, in both
   models. */
static void test_logical_xapic_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    sw_enable_all(m);
    set_ldr(L(m, 0), 0x01);
    set_ldr(L(m, 1), 0x02);
    set_ldr(L(m, 2), 0x04);
    set_ldr(L(m, 3), 0x08);
    th_clear_events(h);
    send(L(m, 1), 0xff, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0xf);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, VEC, 4);

    for (uint32_t i = 0; i < 4; i++)
        lw(L(m, i), INTC_LAPIC_DFR, 0x0fffffffu);
    set_ldr(L(m, 0), 0x11);
    set_ldr(L(m, 1), 0x22);
    set_ldr(L(m, 2), 0x34);
    set_ldr(L(m, 3), 0xe8);
    check_ok(m);
    th_clear_events(h);
    send(L(m, 1), 0xff, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x50);
    assert_int_equal(irr_mask(m, 0x50), 0xf);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, 0x50, 4);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* logical x2APIC destinations (11.12.10.2)                                */
/* ---------------------------------------------------------------------- */

static uint32_t x2ldr(uint32_t id)
{
    return ((id >> 4) & 0xffffu) << 16 | 1u << (id & 0xf);
}

/* SDM 11.12.10.2: the x2APIC LDR is read-only and derived from the ID:
   cluster ID[19:4] in [31:16], bit 1 << ID[3:0] in [15:0]. */
static void test_x2apic_ldr_derived(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0xf, 0x10, 0x12345, 0xfffffffeu,
                                   0x100003};
    intc_machine *m = machine_ids(h, 6, ids);

    x2_enable_all(m);
    for (uint32_t i = 0; i < 6; i++) {
        assert_int_equal(mr(L(m, i), X2MSR(INTC_LAPIC_LDR)), x2ldr(ids[i]));
        assert_int_equal(intc_lapic_msr_write(L(m, i), X2MSR(INTC_LAPIC_LDR),
                                              0),
                         INTC_ERR_GP);
    }
    assert_int_equal(x2ldr(0x12345), 0x12340020u);
    check_ok(m);
    intc_machine_free(m);
}

/* Bitmask of CPUs (up to 64) that hold v in IRR; x2APIC mode CPUs. */
static uint64_t irr_mask64(intc_machine *m, unsigned v)
{
    uint64_t mask = 0;
    uint32_t n = intc_machine_cpu_count(m);
    assert_true(n <= 64);
    for (uint32_t i = 0; i < n; i++)
        if (irr(L(m, i), v))
            mask |= 1ull << i;
    return mask;
}

/* SDM 11.12.10.2: MDA[31:16] selects the cluster, MDA[15:0] up to 16
   APICs in it. */
static void test_x2apic_logical_cluster_16_cpus(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 40);

    x2_enable_all(m);
    check_ok(m);
    th_clear_events(h);
    send(L(m, 39), 0x0000ffffu, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask64(m, 0x30), 0xffffull);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, 0x30, 16);
    th_assert_last_event(h, INTC_EV_IPI, data2, 16);

    send(L(m, 0), 0x00010005u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask64(m, 0x31), (1ull << 16) | (1ull << 18));

    /* Cluster 2 holds IDs 32..39 only: bit 8 (ID 40) matches nobody. */
    send(L(m, 0), 0x00020101u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x32);
    assert_int_equal(irr_mask64(m, 0x32), 1ull << 32);
    th_clear_events(h);
    send(L(m, 0), 0x00020100u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x33);
    assert_int_equal(irr_mask64(m, 0x33), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x33);

    /* Cluster with all 16 bits: every CPU of cluster 1. */
    send(L(m, 0), 0x0001ffffu, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x34);
    assert_int_equal(irr_mask64(m, 0x34), 0xffffull << 16);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.10.2: the same bit in a different cluster is a different
   APIC; one message addresses one cluster only. */
static void test_x2apic_logical_different_clusters(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x5, 0x15, 0x105, 0x12345};
    intc_machine *m = machine_ids(h, 4, ids);

    x2_enable_all(m);
    send(L(m, 0), 0x00000020u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask(m, 0x30), 0x1);
    send(L(m, 0), 0x00010020u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask(m, 0x31), 0x2);
    send(L(m, 0), 0x00100020u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x32);
    assert_int_equal(irr_mask(m, 0x32), 0x4);
    send(L(m, 0), x2ldr(0x12345), ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x33);
    assert_int_equal(irr_mask(m, 0x33), 0x8);
    /* Logical 0xFFFFFFFF: broadcast. */
    send(L(m, 0), 0xffffffffu, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x34);
    assert_int_equal(irr_mask(m, 0x34), 0xf);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.10.2: the LDR uses only ID[19:0], so IDs that differ only
   above bit 19 share an LDR and all accept a message naming it. */
static void test_x2apic_logical_ids_above_2_20_share_ldr(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x3, 0x100003, 0x200003, 0x13, 0x4};
    intc_machine *m = machine_ids(h, 5, ids);

    x2_enable_all(m);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(mr(L(m, i), X2MSR(INTC_LAPIC_LDR)), 0x00000008u);
    th_clear_events(h);
    send(L(m, 4), 0x00000008u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask(m, 0x30), 0x7);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, 0x30, 3);
    /* Physically they are distinct. */
    send(L(m, 4), 0x100003u, ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask(m, 0x31), 0x2);
    /* One of them globally disabled: the others still receive. */
    disable_global(L(m, 1));
    send(L(m, 4), 0x00000018u, ICR_LOGICAL | ICR_NMI | ICR_ASSERT);
    assert_true(intc_lapic_pending(L(m, 0)) & INTC_PEND_NMI);
    assert_true(intc_lapic_pending(L(m, 2)) & INTC_PEND_NMI);
    assert_int_equal(intc_lapic_pending(L(m, 1)), 0);
    assert_false(intc_lapic_pending(L(m, 3)) & INTC_PEND_NMI);
    assert_true(intc_lapic_pending(L(m, 4)) & INTC_PEND_NMI); /* ID 4 */
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* delivery modes x shorthands (11.6.1, Table 11-3)                        */
/* ---------------------------------------------------------------------- */

enum { SH_NONE, SH_SELF, SH_ALL, SH_OTHERS };
static const char *const dm_names[8] = {"fixed", "lowest", "smi", "rsvd011",
                                        "nmi",   "init",   "sipi", "extint"};

/* Did l accept delivery mode dm (vector VEC) since the snapshot? */
static bool got(intc_lapic *l, unsigned dm, unsigned pend_before,
                int irr_before)
{
    unsigned p = intc_lapic_pending(l);
    switch (dm) {
    case 0:
    case 1:
        return !irr_before && !is_disabled(l) && irr(l, VEC);
    case 2:
        return (p & INTC_PEND_SMI) && !(pend_before & INTC_PEND_SMI);
    case 4:
        return (p & INTC_PEND_NMI) && !(pend_before & INTC_PEND_NMI);
    case 5:
        return (p & INTC_PEND_INIT) && !(pend_before & INTC_PEND_INIT);
    case 6:
        return (p & INTC_PEND_SIPI) && !(pend_before & INTC_PEND_SIPI);
    case 7:
        return (p & INTC_PEND_EXTINT) && !(pend_before & INTC_PEND_EXTINT);
    default:
        return false;
    }
}

/* Receivers (bitmask of CPUs 0..3, sender 0, destination CPU 2) the
   library documents for dm with shorthand sh; lowest priority with
   all-excluding-self returns the candidate set (exactly one wins). */
static unsigned expected_receivers(unsigned dm, unsigned sh)
{
    if (dm == 3)
        return 0; /* 011 reserved: not sent */
    switch (sh) {
    case SH_NONE:
        return 1u << 2;
    case SH_SELF:
        return dm == 0 ? 0x1 : 0;
    case SH_ALL:
        return dm == 0 ? 0xf : 0;
    default:
        return 0xe;
    }
}

static void run_mode_shorthand(th_host *h, unsigned dm, unsigned sh)
{
    intc_machine *m = th_machine_n(h, 4);
    unsigned pend[4];
    int irr0[4];
    unsigned want = expected_receivers(dm, sh), got_mask = 0;

    sw_enable_all(m);
    if (dm == 6) {
        /* SIPI is recognised only in wait-for-SIPI: bring the APs there
           (11.4.7.3). */
        send(L(m, 0), 0, ICR_OTHERS | ICR_INIT | ICR_ASSERT);
        for (uint32_t i = 1; i < 4; i++)
            take_init(L(m, i));
    }
    for (uint32_t i = 0; i < 4; i++) {
        pend[i] = intc_lapic_pending(L(m, i));
        irr0[i] = irr(L(m, i), VEC);
    }
    th_clear_events(h);
    send(L(m, 0), 2, (uint32_t)sh << 18 | dm << 8 | ICR_ASSERT | VEC);
    for (uint32_t i = 0; i < 4; i++) {
        if (got(L(m, i), dm, pend[i], irr0[i]))
            got_mask |= 1u << i;
        else if (intc_lapic_pending(L(m, i)) != pend[i] ||
                 irr(L(m, i), VEC) != irr0[i])
            fail_msg("%s sh=%u: cpu %u changed without receiving",
                     dm_names[dm], sh, i);
    }
    if (dm == 1 && sh == SH_OTHERS) {
        if (__builtin_popcount(got_mask) != 1 || (got_mask & ~want))
            fail_msg("lowest/others: receivers %#x, want one of %#x",
                     got_mask, want);
        want = got_mask;
    } else if (got_mask != want) {
        th_dump_events(h);
        fail_msg("%s sh=%u: receivers %#x, want %#x", dm_names[dm], sh,
                 got_mask, want);
    }
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_IPI);
        assert_non_null(ev);
        assert_int_equal(ev->cpu, 0);
        assert_int_equal(ev->data2, __builtin_popcount(want));
    }
    /* An invalid shorthand combination or the reserved mode is reported,
       not sent. */
    if ((sh != SH_NONE || dm == 3) && !want)
        th_assert_event(h, INTC_EV_REJECTED, 0, VEC);
    else if (th_find_event(h, INTC_EV_REJECTED, TH_ANY_CPU, TH_ANY_VECTOR)) {
        th_dump_events(h);
        fail_msg("%s sh=%u: unexpected REJECTED", dm_names[dm], sh);
    }
    /* Invalid combinations are not errors in the ESR. */
    assert_int_equal(esr(L(m, 0)), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM Table 11-3, no shorthand: every delivery mode goes to the named
   destination; 011 is reserved (libintc: not sent). */
static void test_modes_no_shorthand(void **state)
{
    for (unsigned dm = 0; dm < 8; dm++)
        run_mode_shorthand(*state, dm, SH_NONE);
}

/* SDM Table 11-3, self: only Fixed is valid. */
static void test_modes_self(void **state)
{
    for (unsigned dm = 0; dm < 8; dm++)
        run_mode_shorthand(*state, dm, SH_SELF);
}

/* SDM Table 11-3, all including self: only Fixed is valid. */
static void test_modes_all_including_self(void **state)
{
    for (unsigned dm = 0; dm < 8; dm++)
        run_mode_shorthand(*state, dm, SH_ALL);
}

/* SDM Table 11-3, all excluding self: every mode is valid (lowest
   priority picks one of the others: libintc never redirects it back to
   the sender, which note 4 permits but does not require). */
static void test_modes_all_excluding_self(void **state)
{
    for (unsigned dm = 0; dm < 8; dm++)
        run_mode_shorthand(*state, dm, SH_OTHERS);
}

/* SDM Table 11-3 note 2 / 11.6.1: IPIs are issued edge-triggered even
   with the trigger bit set; an edge interrupt clears the vector's TMR
   bit at the receiver (11.8.4). */
static void test_ipi_always_edge_clears_tmr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *r = L(m, 1);

    sw_enable_all(m);
    /* A level interrupt on vector 0x70 through LINT0 sets TMR. */
    lw(r, INTC_LAPIC_LVT_LINT0, 0x70 | (1u << 15));
    assert_int_equal(intc_lapic_set_lint(r, 0, true), INTC_OK);
    assert_int_equal(tmr(r, 0x70), 1);
    assert_int_equal(intc_lapic_ack(r), 0x70);
    assert_int_equal(intc_lapic_set_lint(r, 0, false), INTC_OK);
    eoi(r);
    assert_int_equal(isr(r, 0x70), 0);
    assert_int_equal(tmr(r, 0x70), 1); /* EOI leaves TMR alone */

    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_LEVEL | ICR_ASSERT | 0x70);
    assert_int_equal(irr(r, 0x70), 1);
    assert_int_equal(tmr(r, 0x70), 0);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_IRR_SET, 1, 0x70);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0); /* edge */
    }
    /* Broadcast and lowest priority with the level bit: edge too. */
    send(L(m, 0), 0xff, ICR_FIXED | ICR_LEVEL | ICR_ASSERT | 0x71);
    send(L(m, 0), 0, ICR_OTHERS | ICR_LOWEST | ICR_LEVEL | ICR_ASSERT | 0x72);
    assert_int_equal(tmr(r, 0x71), 0);
    assert_int_equal(tmr(L(m, 0), 0x71), 0);
    assert_int_equal(irr(r, 0x72), 1);
    assert_int_equal(tmr(r, 0x72), 0);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, TH_ANY_VECTOR, 4);
    TH_IF_TRACED(h) {
        for (size_t i = 0; i < h->n_events; i++)
            if (h->events[i].type == INTC_EV_IRR_SET)
                assert_int_equal(h->events[i].data, 0);
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.1 / Table 11-3 note 3: INIT level de-assert (trigger 1,
   level 0) only resynchronises arbitration IDs: no INIT, no reset, with
   any shorthand.  INIT with trigger 1, level 1 is an ordinary INIT. */
static void test_ipi_init_level_deassert_no_effect(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    sw_enable_all(m);
    lw(L(m, 1), INTC_LAPIC_TPR, 0x20);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_INIT | ICR_LEVEL);
    send(L(m, 0), 0xff, ICR_INIT | ICR_LEVEL);
    send(L(m, 0), 0, ICR_OTHERS | ICR_INIT | ICR_LEVEL);
    send(L(m, 0), 0, ICR_ALL | ICR_INIT | ICR_LEVEL);
    send(L(m, 0), 0, ICR_SELF | ICR_INIT | ICR_LEVEL);
    send(L(m, 0), 0x02, ICR_LOGICAL | ICR_INIT | ICR_LEVEL);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(intc_lapic_pending(L(m, i)), 0);
        assert_false(intc_lapic_waiting_for_sipi(L(m, i)));
        assert_int_equal(lr(L(m, i), INTC_LAPIC_SVR), 0x1ff);
    }
    assert_int_equal(lr(L(m, 1), INTC_LAPIC_TPR), 0x20);
    assert_nev(h, INTC_EV_INIT, TH_ANY_CPU, TH_ANY_VECTOR, 0);
    assert_nev(h, INTC_EV_INIT_RESET, TH_ANY_CPU, TH_ANY_VECTOR, 0);
    assert_int_equal(esr(L(m, 0)), 0);

    /* Level assert: an INIT. */
    send(L(m, 0), 1, ICR_INIT | ICR_LEVEL | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(L(m, 1)), INTC_PEND_INIT);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 5 (Send Illegal Vector): a Fixed or Lowest Priority
   IPI with vector 0-15 sets the sender's ESR[5]; libintc does not send
   it (documented).  Other modes ignore the vector field. */
static void test_ipi_illegal_vector_send_esr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    sw_enable_all(m);
    for (unsigned v = 0; v < 16; v++) {
        static const uint32_t forms[][2] = {
            {1, ICR_FIXED},
            {1, ICR_LOWEST},
            {0xff, ICR_FIXED},
            {0, ICR_SELF | ICR_FIXED},
            {0, ICR_ALL | ICR_FIXED},
            {0, ICR_OTHERS | ICR_FIXED},
            {0, ICR_OTHERS | ICR_LOWEST},
        };
        for (unsigned f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
            th_clear_events(h);
            send(L(m, 0), forms[f][0], forms[f][1] | ICR_ASSERT | v);
            assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, TH_ANY_VECTOR, 0);
            assert_int_equal(esr(L(m, 0)), INTC_ESR_SEND_ILLEGAL_VECTOR);
            assert_int_equal(esr(L(m, 1)), 0);
        }
    }
    /* 16 is legal. */
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | 16);
    assert_int_equal(irr(L(m, 1), 16), 1);
    assert_int_equal(esr(L(m, 0)), 0);
    /* NMI with vector 0: the vector is ignored, no error. */
    send(L(m, 0), 1, ICR_NMI | ICR_ASSERT | 0);
    assert_true(intc_lapic_pending(L(m, 1)) & INTC_PEND_NMI);
    assert_int_equal(esr(L(m, 0)), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 4 (Redirectable IPI): with lowest-priority IPIs not
   supported the sender logs ESR[4] (only) and sends nothing. */
static void test_ipi_lowest_priority_unsupported_esr4(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *m;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 3;
    cfg.lowest_priority_ipi = false;
    m = th_machine(h, &cfg);
    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_LOWEST | ICR_ASSERT | VEC);
    send(L(m, 0), 0, ICR_OTHERS | ICR_LOWEST | ICR_ASSERT | VEC);
    send(L(m, 0), 0xff, ICR_LOWEST | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0);
    assert_int_equal(esr(L(m, 0)), INTC_ESR_REDIRECTABLE_IPI);
    /* Even with an illegal vector, only ESR[4]. */
    send(L(m, 0), 1, ICR_LOWEST | ICR_ASSERT | 3);
    assert_int_equal(esr(L(m, 0)), INTC_ESR_REDIRECTABLE_IPI);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, TH_ANY_VECTOR, 0);
    /* Fixed still works. */
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(irr_mask(m, VEC), 0x2);
    assert_int_equal(esr(L(m, 0)), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* libintc: a message that matches no APIC is reported (NO_TARGET, cpu =
   sender, data = destination, data2 = delivery mode); xAPIC and x2APIC
   have no send-accept error (11.5.3 bit 2 is P6/Pentium only). */
static void test_ipi_no_target_event(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 0x20, ICR_NMI | ICR_ASSERT | 0x33);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_NO_TARGET);
        assert_non_null(ev);
        assert_int_equal(ev->cpu, 0);
        assert_int_equal(ev->vector, 0x33);
        assert_int_equal(ev->data, 0x20);
        assert_int_equal(ev->data2, 4);
    }
    th_assert_last_event(h, INTC_EV_IPI, data2, 0);
    assert_int_equal(esr(L(m, 0)), 0);
    /* A matched message is not reported. */
    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    th_assert_no_event(h, INTC_EV_NO_TARGET, TH_ANY_CPU, TH_ANY_VECTOR);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 2 (Send Accept Error, P6/Pentium): with
   cfg.apic_bus_errors an IPI nobody accepts sets the sender's ESR[2]. */
static void test_ipi_no_target_apic_bus_errors_esr2(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *m;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_bus_errors = true;
    m = th_machine(h, &cfg);
    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 0x20, ICR_FIXED | ICR_ASSERT | VEC);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, VEC);
    assert_int_equal(esr(L(m, 0)), INTC_ESR_SEND_ACCEPT);
    send(L(m, 0), 0x04, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(esr(L(m, 0)), INTC_ESR_SEND_ACCEPT);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | VEC);
    assert_int_equal(esr(L(m, 0)), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* libintc event contract: INTC_EV_IPI carries the sender, the vector,
   the ICR value (xAPIC: ICR high << 32 | ICR low) and the number of APICs
   reached. */
static void test_ipi_event_carries_icr(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 1, 0x12345};
    intc_machine *m = machine_ids(h, 3, ids);

    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_FIXED | ICR_LEVEL | ICR_ASSERT | 0x41);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_IPI);
        assert_non_null(ev);
        assert_int_equal(ev->cpu, 0);
        assert_int_equal(ev->vector, 0x41);
        assert_int_equal(ev->data, 0x010000000000c041ull);
        assert_int_equal(ev->data2, 1);
    }
    /* The ICR reads back what was sent (delivery status 0: idle). */
    assert_int_equal(lr(L(m, 0), INTC_LAPIC_ICR_LO), 0xc041);
    assert_int_equal(lr(L(m, 0), INTC_LAPIC_ICR_HI), 0x01000000);

    x2_enable(L(m, 0));
    x2_enable(L(m, 2));
    th_clear_events(h);
    mw(L(m, 0), X2MSR(INTC_LAPIC_ICR_LO), 0x0001234500004042ull);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_IPI);
        assert_non_null(ev);
        assert_int_equal(ev->vector, 0x42);
        assert_int_equal(ev->data, 0x0001234500004042ull);
        assert_int_equal(ev->data2, 1);
    }
    assert_int_equal(irr(L(m, 2), 0x42), 1);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.9: the x2APIC ICR is one 64-bit MSR (0x830); a WRMSR sends,
   RDMSR returns it; reserved bits (13, 16-17, 20-31) #GP and nothing is
   sent. */
static void test_x2apic_icr_msr(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0x10, 0x12345};
    intc_machine *m = machine_ids(h, 2, ids);
    static const uint64_t bad[] = {1ull << 13, 1ull << 16, 1ull << 17,
                                   1ull << 20, 1ull << 31};

    x2_enable_all(m);
    mw(L(m, 0), 0x830, 0x0001234500000050ull);
    assert_int_equal(irr(L(m, 1), 0x50), 1);
    assert_int_equal(mr(L(m, 0), 0x830), 0x0001234500000050ull);
    for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        th_clear_events(h);
        assert_int_equal(intc_lapic_msr_write(L(m, 0), 0x830,
                                              0x0001234500000060ull | bad[k]),
                         INTC_ERR_GP);
        assert_int_equal(irr(L(m, 1), 0x60), 0);
        th_assert_no_event(h, INTC_EV_IPI, TH_ANY_CPU, TH_ANY_VECTOR);
    }
    /* ICR2 (0x831) does not exist in x2APIC mode. */
    assert_int_equal(intc_lapic_msr_write(L(m, 0), 0x831, 0), INTC_ERR_GP);
    /* Bit 12 (delivery status) is accepted and ignored (documented). */
    mw(L(m, 0), 0x830, 0x0001234500001061ull);
    assert_int_equal(irr(L(m, 1), 0x61), 1);
    /* Illegal vector through the ICR: ESR[5] at the sender only. */
    mw(L(m, 0), 0x830, 0x0001234500000005ull);
    assert_int_equal(esr(L(m, 0)), INTC_ESR_SEND_ILLEGAL_VECTOR);
    assert_int_equal(esr(L(m, 1)), 0);
    /* Logical x2APIC and NMI. */
    mw(L(m, 0), 0x830, (uint64_t)x2ldr(0x12345) << 32 | ICR_LOGICAL |
                           ICR_NMI | ICR_ASSERT);
    assert_true(intc_lapic_pending(L(m, 1)) & INTC_PEND_NMI);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.11: SELF IPI MSR 0x83F sends a fixed edge IPI to self;
   write-only; vector 0-15 sets ESR[5] and ESR[6] (sent and received
   illegal, documented) and nothing is accepted. */
static void test_x2apic_self_ipi_msr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    uint64_t val;

    x2_enable_all(m);
    th_clear_events(h);
    mw(L(m, 0), 0x83f, 0x55);
    assert_int_equal(irr_mask(m, 0x55), 0x1);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_last_event(h, INTC_EV_IPI);
        assert_non_null(ev);
        assert_int_equal(ev->cpu, 0);
        assert_int_equal(ev->vector, 0x55);
        assert_int_equal(ev->data2, 1);
    }
    assert_int_equal(tmr(L(m, 0), 0x55), 0);
    assert_int_equal(intc_lapic_msr_read(L(m, 0), 0x83f, &val), INTC_ERR_GP);
    assert_int_equal(intc_lapic_msr_write(L(m, 0), 0x83f, 0x155),
                     INTC_ERR_GP);

    th_clear_events(h);
    mw(L(m, 0), 0x83f, 0x05);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, TH_ANY_VECTOR, 0);
    assert_int_equal(esr(L(m, 0)),
                     INTC_ESR_SEND_ILLEGAL_VECTOR |
                         INTC_ESR_RECV_ILLEGAL_VECTOR);
    assert_int_equal(esr(L(m, 1)), 0);
    /* Not in xAPIC mode: #GP. */
    assert_int_equal(intc_lapic_msr_write(L(m, 1), 0x83f, 0x55), INTC_OK);
    disable_global(L(m, 1));
    enable_global(L(m, 1));
    assert_int_equal(intc_lapic_msr_write(L(m, 1), 0x83f, 0x55),
                     INTC_ERR_GP);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* lowest priority (11.6.2.4)                                              */
/* ---------------------------------------------------------------------- */

/* Figure 11-15 / 11.6.2.4 as the SDM prints it (and libintc documents):
   IF TPR[7:4] >= IRRV[7:4] AND TPR[7:4] > ISRV[7:4] THEN APR = TPR
   ELSE APR[7:4] = max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]), APR[3:0] = 0.
   irrv/isrv are -1 when empty (taken as 0). */
static uint8_t apr_ref(uint8_t tpr, int irrv, int isrv)
{
    unsigned t = tpr >> 4, r = irrv > 0 ? (unsigned)irrv >> 4 : 0,
             s = isrv > 0 ? (unsigned)isrv >> 4 : 0;
    if (t >= r && t > s)
        return tpr;
    unsigned hi = t & s;
    return (uint8_t)((r > hi ? r : hi) << 4);
}

/* Four CPUs with flat LDRs 1,2,4,8: MDA 0x0F names them all. */
static intc_machine *lp_machine(th_host *h, bool focus)
{
    intc_machine_config cfg;
    intc_machine *m;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.focus_processor = focus;
    m = th_machine(h, &cfg);
    for (uint32_t i = 0; i < 4; i++) {
        sw_enable(L(m, i));
        set_ldr(L(m, i), (uint8_t)(1u << i));
    }
    return m;
}

static int lp_send(th_host *h, intc_machine *m, unsigned v)
{
    th_clear_events(h);
    send(L(m, 0), 0x0f, ICR_LOGICAL | ICR_LOWEST | ICR_ASSERT | v);
    th_assert_last_event(h, INTC_EV_IPI, data2, 1);
    return irr_set_cpu(h, m, (int32_t)v);
}

/* The winner runs its handler (INTA + EOI): idle again. */
static void lp_handle(intc_machine *m, int w, unsigned v)
{
    assert_true(w >= 0 && w < 4);
    assert_int_equal(intc_lapic_ack(L(m, (uint32_t)w)), (int)v);
    eoi(L(m, (uint32_t)w));
}

/* SDM 11.6.2.4: the APIC with the lowest arbitration priority accepts a
   lowest-priority message; exactly one does. */
static void test_lp_lowest_tpr_wins(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);
    static const uint8_t tprs[4] = {0x30, 0x20, 0x50, 0x40};

    for (uint32_t i = 0; i < 4; i++) {
        lw(L(m, i), INTC_LAPIC_TPR, tprs[i]);
        assert_int_equal(lr(L(m, i), INTC_LAPIC_APR), tprs[i]);
    }
    assert_int_equal(lp_send(h, m, 0x90), 1);
    assert_int_equal(irr_mask(m, 0x90), 0x2);
    lp_handle(m, 1, 0x90);
    lw(L(m, 1), INTC_LAPIC_TPR, 0x60);
    assert_int_equal(lp_send(h, m, 0x91), 0);
    lp_handle(m, 0, 0x91);
    lw(L(m, 0), INTC_LAPIC_TPR, 0x70);
    assert_int_equal(lp_send(h, m, 0x92), 3);
    lp_handle(m, 3, 0x92);
    /* TPR[3:0] counts too (APR = TPR). */
    lw(L(m, 2), INTC_LAPIC_TPR, 0x3f);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x3e);
    assert_int_equal(lp_send(h, m, 0x93), 3);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.4: APR also depends on IRRV and ISRV; the APR register reads
   the formula's value and arbitration follows it. */
static void test_lp_apr_formula_irr_isr(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);

    /* cpu0: TPR 0x10, idle -> APR 0x10.
       cpu1: TPR 0, vector 0x95 pending in IRR -> APR 0x90.
       cpu2: TPR 0x30, vector 0x75 in service -> max(3 AND 7, 0) = 0x30.
       cpu3: TPR 0x40, vector 0x85 in service -> max(4 AND 8, 0) = 0x00
             (the SDM's literal AND, documented by libintc). */
    lw(L(m, 0), INTC_LAPIC_TPR, 0x10);
    send(L(m, 0), 1, ICR_FIXED | ICR_ASSERT | 0x95);
    send(L(m, 0), 2, ICR_FIXED | ICR_ASSERT | 0x75);
    assert_int_equal(intc_lapic_ack(L(m, 2)), 0x75);
    lw(L(m, 2), INTC_LAPIC_TPR, 0x30);
    send(L(m, 0), 3, ICR_FIXED | ICR_ASSERT | 0x85);
    assert_int_equal(intc_lapic_ack(L(m, 3)), 0x85);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x40);

    static const struct {
        uint8_t tpr;
        int irrv, isrv;
    } st[4] = {{0x10, -1, -1}, {0x00, 0x95, -1}, {0x30, -1, 0x75},
               {0x40, -1, 0x85}};
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(lr(L(m, i), INTC_LAPIC_APR),
                         apr_ref(st[i].tpr, st[i].irrv, st[i].isrv));
    assert_int_equal(apr_ref(0x00, 0x95, -1), 0x90);
    assert_int_equal(apr_ref(0x40, -1, 0x85), 0x00);
    assert_int_equal(lp_send(h, m, 0xa0), 3);

    /* cpu3 finishes its handler: APR back to its TPR 0x40; cpu0 (0x10)
       is now lowest. */
    eoi(L(m, 3));
    assert_int_equal(intc_lapic_ack(L(m, 3)), 0xa0);
    eoi(L(m, 3));
    assert_int_equal(lr(L(m, 3), INTC_LAPIC_APR), 0x40);
    assert_int_equal(lp_send(h, m, 0xa1), 0);

    /* IRRV above TPR raises APR: cpu0 with 0xa1 pending is 0xa0 now; cpu2
       (0x30) wins. */
    assert_int_equal(lr(L(m, 0), INTC_LAPIC_APR), 0xa0);
    assert_int_equal(lp_send(h, m, 0xa2), 2);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.4 (ties: chipset's choice; libintc documents round-robin by
   CPU index after the previous winner): 8 messages to 4 idle equal
   APICs go to each twice, in index order. */
static void test_lp_ties_round_robin(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);
    int seq[8];
    unsigned count[4] = {0};

    for (unsigned k = 0; k < 8; k++) {
        int w = lp_send(h, m, 0x50);
        lp_handle(m, w, 0x50);
        seq[k] = w;
        count[w]++;
        if (k > 0 && seq[k] != (seq[k - 1] + 1) % 4)
            fail_msg("winner %u was cpu %d after cpu %d", k, seq[k],
                     seq[k - 1]);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(count[i], 2);
    check_ok(m);
    intc_machine_free(m);
}

/* Round-robin skips APICs that are not tied at the lowest APR. */
static void test_lp_round_robin_only_among_lowest(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);
    int seq[6];

    lw(L(m, 1), INTC_LAPIC_TPR, 0x20);
    lw(L(m, 2), INTC_LAPIC_TPR, 0x20);
    for (unsigned k = 0; k < 6; k++) {
        seq[k] = lp_send(h, m, 0x50);
        assert_true(seq[k] == 0 || seq[k] == 3);
        lp_handle(m, seq[k], 0x50);
        if (k > 0)
            assert_int_not_equal(seq[k], seq[k - 1]);
    }
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.2 / 11.6.2.4: a software-disabled APIC accepts no
   lowest-priority interrupt, so it never wins arbitration. */
static void test_lp_excludes_software_disabled(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);

    lw(L(m, 0), INTC_LAPIC_TPR, 0x40);
    lw(L(m, 2), INTC_LAPIC_TPR, 0x20);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x30);
    lw(L(m, 1), INTC_LAPIC_SVR, 0xff); /* TPR 0 but disabled */
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(lp_send(h, m, 0x60 + k), 2);
        th_assert_no_event(h, INTC_EV_REJECTED, TH_ANY_CPU, TH_ANY_VECTOR);
        lp_handle(m, 2, 0x60 + k);
    }
    /* Through the all-excluding-self shorthand as well. */
    th_clear_events(h);
    send(L(m, 3), 0, ICR_OTHERS | ICR_LOWEST | ICR_ASSERT | 0x70);
    assert_int_equal(irr_set_cpu(h, m, 0x70), 2);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.4 (P6/Pentium focus processor): an APIC that already has
   the vector pending or in service accepts the message whatever its
   priority, if focus checking is on (SVR[9] = 0). */
static void test_lp_focus_processor_wins(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, true);

    /* cpu2: 0x61 pending, TPR 0x50 (APR 0x60, the highest). */
    lw(L(m, 2), INTC_LAPIC_TPR, 0x50);
    send(L(m, 0), 2, ICR_FIXED | ICR_ASSERT | 0x61);
    th_clear_events(h);
    send(L(m, 0), 0x0f, ICR_LOGICAL | ICR_LOWEST | ICR_ASSERT | 0x61);
    th_assert_event(h, INTC_EV_COALESCED, 2, 0x61);
    assert_nev(h, INTC_EV_IRR_SET, TH_ANY_CPU, 0x61, 0);

    /* cpu3: 0x72 in service, TPR 0x80. */
    send(L(m, 0), 3, ICR_FIXED | ICR_ASSERT | 0x72);
    assert_int_equal(intc_lapic_ack(L(m, 3)), 0x72);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x80);
    assert_int_equal(lp_send(h, m, 0x72), 3);
    assert_int_equal(isr(L(m, 3), 0x72), 1);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.9 (SVR[9] Focus Processor Checking): 1 disables focus checking;
   lowest APR decides again. */
static void test_lp_focus_disabled_by_svr9(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, true);

    lw(L(m, 0), INTC_LAPIC_TPR, 0x40);
    lw(L(m, 1), INTC_LAPIC_TPR, 0x20);
    lw(L(m, 2), INTC_LAPIC_TPR, 0x30);
    send(L(m, 0), 3, ICR_FIXED | ICR_ASSERT | 0x72);
    assert_int_equal(intc_lapic_ack(L(m, 3)), 0x72);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x80);
    lw(L(m, 3), INTC_LAPIC_SVR, 0x3ff);
    assert_int_equal(lr(L(m, 3), INTC_LAPIC_SVR), 0x3ff);
    assert_int_equal(lp_send(h, m, 0x72), 1);
    check_ok(m);
    intc_machine_free(m);
}

/* cfg.focus_processor=false (default, Xeon and later): no focus
   processor; the lowest APR wins even where the vector is in service. */
static void test_lp_focus_off_by_default(void **state)
{
    th_host *h = *state;
    intc_machine *m = lp_machine(h, false);

    lw(L(m, 0), INTC_LAPIC_TPR, 0x40);
    lw(L(m, 1), INTC_LAPIC_TPR, 0x20);
    lw(L(m, 2), INTC_LAPIC_TPR, 0x30);
    send(L(m, 0), 3, ICR_FIXED | ICR_ASSERT | 0x72);
    assert_int_equal(intc_lapic_ack(L(m, 3)), 0x72);
    lw(L(m, 3), INTC_LAPIC_TPR, 0x80);
    assert_int_equal(lp_send(h, m, 0x72), 1);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* INIT / SIPI (11.4.7.3, 8.4)                                             */
/* ---------------------------------------------------------------------- */

/* SDM 11.6.1 (INIT delivery mode): INIT makes INIT pending at the
   target, nothing else yet. */
static void test_init_pends_init(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_INIT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(L(m, 1)), INTC_PEND_INIT);
    assert_int_equal(intc_lapic_pending(L(m, 0)), 0);
    th_assert_event(h, INTC_EV_INIT, 1, TH_ANY_VECTOR);
    assert_false(intc_lapic_waiting_for_sipi(L(m, 1)));
    assert_int_equal(lr(L(m, 1), INTC_LAPIC_SVR), 0x1ff);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.3: INIT resets the APIC to its power-up state except the
   APIC ID (and IA32_APIC_BASE); an AP then waits for SIPI (8.4). */
static void test_take_init_resets_and_waits_for_sipi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = L(m, 1);
    uint64_t base;

    sw_enable_all(m);
    lw(ap, INTC_LAPIC_ID, 0x42u << 24);
    lw(ap, INTC_LAPIC_DFR, 0x0fffffffu);
    set_ldr(ap, 0x21);
    lw(ap, INTC_LAPIC_LVT_TIMER, 0x30);
    lw(ap, INTC_LAPIC_LVT_LINT1, 0x400);
    lw(ap, INTC_LAPIC_TIMER_DCR, 0xb);
    send(L(m, 0), 0x42, ICR_FIXED | ICR_ASSERT | 0x55);
    send(L(m, 0), 0x42, ICR_FIXED | ICR_ASSERT | 0x66);
    assert_int_equal(intc_lapic_ack(ap), 0x66);
    lw(ap, INTC_LAPIC_TPR, 0x30);
    lw(ap, 0x400, 0); /* illegal register: ESR[7] pending */
    base = apic_base(ap);

    send(L(m, 0), 0x42, ICR_INIT | ICR_ASSERT);
    th_clear_events(h);
    take_init(ap);
    assert_true(intc_lapic_waiting_for_sipi(ap));
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_INIT_RESET, 1,
                                             TH_ANY_VECTOR);
        assert_non_null(ev);
        assert_int_equal(ev->data, 1);
    }

    assert_int_equal(apic_base(ap), base);
    assert_int_equal(lr(ap, INTC_LAPIC_ID), 0x42u << 24);
    assert_int_equal(lr(ap, INTC_LAPIC_TPR), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_PPR), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_LDR), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_DFR), 0xffffffffu);
    assert_int_equal(lr(ap, INTC_LAPIC_SVR), 0xff);
    for (uint32_t off = INTC_LAPIC_LVT_TIMER; off <= INTC_LAPIC_LVT_ERROR;
         off += 0x10)
        assert_int_equal(lr(ap, off), 0x10000);
    assert_int_equal(lr(ap, INTC_LAPIC_LVT_CMCI), 0x10000);
    for (unsigned k = 0; k < 8; k++) {
        assert_int_equal(lr(ap, INTC_LAPIC_IRR0 + 0x10 * k), 0);
        assert_int_equal(lr(ap, INTC_LAPIC_ISR0 + 0x10 * k), 0);
        assert_int_equal(lr(ap, INTC_LAPIC_TMR0 + 0x10 * k), 0);
    }
    assert_int_equal(lr(ap, INTC_LAPIC_TIMER_DCR), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_TIMER_ICR), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_ICR_LO), 0);
    assert_int_equal(lr(ap, INTC_LAPIC_ICR_HI), 0);
    assert_int_equal(esr(ap), 0);
    /* Waiting for SIPI: no INTA. */
    assert_int_equal(intc_lapic_ack(ap), INTC_ACK_NONE);
    /* Still reached by its kept ID. */
    send(L(m, 0), 0x42, ICR_SIPI | ICR_ASSERT | 0x9a);
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_SIPI);
    check_ok(m);
    intc_machine_free(m);
}

/* lapic.h: in wait-for-SIPI only INIT and SIPI are reported; NMI/SMI
   stay latched and show once SIPI is taken. */
static void test_wait_for_sipi_masks_other_signals(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = L(m, 1);
    uint8_t vec = 0;

    sw_enable_all(m);
    send(L(m, 0), 1, ICR_INIT | ICR_ASSERT);
    take_init(ap);
    assert_int_equal(intc_lapic_pending(ap), 0);
    send(L(m, 0), 1, ICR_NMI | ICR_ASSERT);
    send(L(m, 0), 1, ICR_SMI | ICR_ASSERT);
    send(L(m, 0), 1, ICR_EXTINT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(ap), 0);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_NMI, NULL), 0);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x10);
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_SIPI);
    send(L(m, 0), 1, ICR_INIT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(ap),
                     INTC_PEND_SIPI | INTC_PEND_INIT);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x10);
    assert_false(intc_lapic_waiting_for_sipi(ap));
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_INIT | INTC_PEND_NMI |
                                                 INTC_PEND_SMI |
                                                 INTC_PEND_EXTINT);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 8.4.4 / 11.6.1 (Start-Up): SIPI in wait-for-SIPI becomes pending;
   taking it gives the vector and starts the CPU. */
static void test_sipi_take_gives_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = L(m, 1);
    uint8_t vec = 0;

    sw_enable_all(m);
    send(L(m, 0), 1, ICR_INIT | ICR_ASSERT);
    take_init(ap);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x9a);
    th_assert_event(h, INTC_EV_SIPI, 1, 0x9a);
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_SIPI);
    assert_true(intc_lapic_waiting_for_sipi(ap));
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x9a);
    assert_false(intc_lapic_waiting_for_sipi(ap));
    assert_int_equal(intc_lapic_pending(ap), 0);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 0);
    /* The started AP is an ordinary (software-disabled) APIC. */
    assert_int_equal(intc_lapic_ack(ap), INTC_ACK_NONE); /* IRR empty */
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 8.4.4.1 note: a second SIPI while the first is still pending is
   ignored (the vector of the first stays). */
static void test_second_sipi_while_pending_ignored(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = L(m, 1);
    uint8_t vec = 0;

    sw_enable_all(m);
    send(L(m, 0), 1, ICR_INIT | ICR_ASSERT);
    take_init(ap);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x10);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x20);
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x20);
    th_assert_no_event(h, INTC_EV_SIPI, TH_ANY_CPU, TH_ANY_VECTOR);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x10);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.3: a SIPI reaching a CPU that is not waiting for one (a
   running AP, the BSP) is ignored. */
static void test_sipi_not_waiting_ignored(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    sw_enable_all(m);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x10);
    assert_int_equal(intc_lapic_pending(L(m, 1)), 0);
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x10);
    /* The BSP even with an INIT latched: INIT does not make it wait. */
    send(L(m, 1), 0, ICR_INIT | ICR_ASSERT);
    th_clear_events(h);
    send(L(m, 1), 0, ICR_SIPI | ICR_ASSERT | 0x11);
    th_assert_event(h, INTC_EV_REJECTED, 0, 0x11);
    assert_int_equal(intc_lapic_pending(L(m, 0)), INTC_PEND_INIT);
    /* Broadcast SIPI to others: only the waiting AP takes it. */
    send(L(m, 0), 2, ICR_INIT | ICR_ASSERT);
    take_init(L(m, 2));
    send(L(m, 1), 0, ICR_OTHERS | ICR_SIPI | ICR_ASSERT | 0x12);
    assert_int_equal(intc_lapic_pending(L(m, 2)), INTC_PEND_SIPI);
    assert_false(intc_lapic_pending(L(m, 0)) & INTC_PEND_SIPI);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 8.4.4.1 (the MP init sequence INIT, SIPI, SIPI, as Linux sends it
   with INIT assert + de-assert): a SIPI that arrives before the host took
   the INIT still starts the AP; the second SIPI is ignored. */
static void test_init_sipi_sipi_before_take(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = L(m, 1);
    uint8_t vec = 0;

    sw_enable_all(m);
    send(L(m, 0), 1, ICR_INIT | ICR_LEVEL | ICR_ASSERT);
    send(L(m, 0), 1, ICR_INIT | ICR_LEVEL); /* de-assert */
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x9a);
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_INIT | INTC_PEND_SIPI);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x9b); /* pending: ignored */

    take_init(ap);
    assert_true(intc_lapic_waiting_for_sipi(ap));
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_SIPI);
    th_clear_events(h);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x9c); /* pending: ignored */
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x9c);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x9a);
    assert_false(intc_lapic_waiting_for_sipi(ap));
    /* Running now: a late SIPI is ignored. */
    th_clear_events(h);
    send(L(m, 0), 1, ICR_SIPI | ICR_ASSERT | 0x9d);
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x9d);
    assert_int_equal(intc_lapic_pending(ap), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 8.4.1 / 11.4.7.3: INIT on the BSP resets its APIC but the BSP does
   not wait for SIPI. */
static void test_init_to_bsp_no_wait_for_sipi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *bsp = L(m, 0);

    sw_enable_all(m);
    assert_true(apic_base(bsp) & INTC_APIC_BASE_BSP);
    lw(bsp, INTC_LAPIC_TPR, 0x20);
    send(L(m, 1), 0, ICR_INIT | ICR_ASSERT);
    th_clear_events(h);
    take_init(bsp);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_INIT_RESET, 0,
                                             TH_ANY_VECTOR);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0);
    }
    assert_false(intc_lapic_waiting_for_sipi(bsp));
    assert_int_equal(lr(bsp, INTC_LAPIC_TPR), 0);
    assert_int_equal(lr(bsp, INTC_LAPIC_SVR), 0xff);
    assert_true(apic_base(bsp) & INTC_APIC_BASE_BSP);
    /* Not waiting: SIPI ignored; NMI visible. */
    send(L(m, 1), 0, ICR_SIPI | ICR_ASSERT | 0x10);
    send(L(m, 1), 0, ICR_NMI | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(bsp), INTC_PEND_NMI);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.5.1: INIT keeps x2APIC mode (IA32_APIC_BASE survives); the
   ID and derived LDR stay, other registers reset. */
static void test_init_in_x2apic_keeps_x2apic(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x12345};
    intc_machine *m = machine_ids(h, 2, ids);
    intc_lapic *ap = L(m, 1);
    uint64_t val;
    uint8_t vec = 0;

    x2_enable_all(m);
    mw(ap, X2MSR(INTC_LAPIC_TPR), 0x40);
    mw(L(m, 0), 0x830, 0x0001234500000000ull | ICR_INIT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(ap), INTC_PEND_INIT);
    take_init(ap);
    assert_true(intc_lapic_waiting_for_sipi(ap));
    assert_true(is_x2(ap));
    assert_int_equal(mr(ap, X2MSR(INTC_LAPIC_ID)), 0x12345);
    assert_int_equal(mr(ap, X2MSR(INTC_LAPIC_LDR)), x2ldr(0x12345));
    assert_int_equal(mr(ap, X2MSR(INTC_LAPIC_TPR)), 0);
    assert_int_equal(mr(ap, X2MSR(INTC_LAPIC_SVR)), 0xff);
    assert_int_equal(intc_lapic_mmio_read(ap, INTC_LAPIC_ID, 4, &val),
                     INTC_ERR_NOT_DECODED);
    check_ok(m);
    /* Reached through x2APIC logical destination too. */
    mw(L(m, 0), 0x830, (uint64_t)x2ldr(0x12345) << 32 | ICR_LOGICAL |
                           ICR_SIPI | ICR_ASSERT | 0x77);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x77);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* scale (11.12)                                                           */
/* ---------------------------------------------------------------------- */

/* Exactly the CPUs with in_set(i) hold v in IRR. */
static void expect_irr_set(intc_machine *m, unsigned v,
                           bool (*in_set)(uint32_t id, const void *arg),
                           const void *arg)
{
    uint32_t n = intc_machine_cpu_count(m);
    for (uint32_t i = 0; i < n; i++) {
        intc_lapic *l = L(m, i);
        int want = in_set(intc_lapic_initial_id(l), arg);
        if (irr(l, v) != want)
            fail_msg("vector %#x: cpu %u (ID %#x) irr %d, want %d", v, i,
                     intc_lapic_initial_id(l), !want, want);
    }
}

static bool all_ids(uint32_t id, const void *arg)
{
    (void)id;
    (void)arg;
    return true;
}

static bool one_id(uint32_t id, const void *arg)
{
    return id == *(const uint32_t *)arg;
}

static bool in_mda(uint32_t id, const void *arg)
{
    uint32_t mda = *(const uint32_t *)arg;
    uint32_t ldr = x2ldr(id);
    return (ldr >> 16) == (mda >> 16) && (ldr & mda & 0xffff);
}

static void scale_run(th_host *h, uint32_t n)
{
    intc_machine *m = th_machine_n(h, n);
    uint32_t s = n / 3;
    uint32_t target = n - 7;
    uint32_t mda;

    x2_enable_all(m);
    check_ok(m);

    th_clear_events(h);
    send(L(m, s), 0xffffffffu, ICR_FIXED | ICR_ASSERT | 0x30);
    if (!h->n_events_lost) /* 4096 IRR_SETs fill the event log */
        th_assert_last_event(h, INTC_EV_IPI, data2, n);
    expect_irr_set(m, 0x30, all_ids, NULL);

    th_clear_events(h);
    send(L(m, s), target, ICR_FIXED | ICR_ASSERT | 0x31);
    th_assert_last_event(h, INTC_EV_IPI, data2, 1);
    expect_irr_set(m, 0x31, one_id, &target);

    /* Three CPUs of the target's cluster, then a partial bitmap of the
       cluster holding the highest IDs. */
    mda = ((target >> 4) << 16) | 0x0081u | 1u << (target & 0xf);
    send(L(m, s), mda, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x32);
    expect_irr_set(m, 0x32, in_mda, &mda);
    mda = (((n - 1) >> 4) << 16) | 0x0fffu;
    th_clear_events(h);
    send(L(m, s), mda, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x33);
    expect_irr_set(m, 0x33, in_mda, &mda);
    {
        uint32_t want = 0;
        for (uint32_t id = 0; id < n; id++)
            want += in_mda(id, &mda);
        th_assert_last_event(h, INTC_EV_IPI, data2, want);
    }
    /* Logical broadcast and NMI to all others. */
    send(L(m, s), 0xffffffffu, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x34);
    expect_irr_set(m, 0x34, all_ids, NULL);
    th_clear_events(h);
    send(L(m, s), 0, ICR_OTHERS | ICR_NMI | ICR_ASSERT);
    if (!h->n_events_lost)
        th_assert_last_event(h, INTC_EV_IPI, data2, n - 1);
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(!!(intc_lapic_pending(L(m, i)) & INTC_PEND_NMI),
                         i != s);
    check_ok(m);
    intc_machine_free(m);
}

/* SDM 11.12.9-10: 300 CPUs (more than xAPIC's 255) with x2APIC IDs. */
static void test_scale_300_cpus(void **state)
{
    scale_run(*state, 300);
}

/* The same on a 4096-CPU machine. */
static void test_scale_4096_cpus(void **state)
{
    scale_run(*state, 4096);
}

/* ---------------------------------------------------------------------- */
/* randomized routing against a reference                                  */
/* ---------------------------------------------------------------------- */

typedef struct ref_apic {
    int mode; /* 0 disabled, 1 xAPIC, 2 x2APIC */
    uint32_t id;  /* xAPIC: 8-bit ID register; x2APIC: x2APIC ID */
    uint32_t ldr; /* xAPIC: LDR[31:24]; x2APIC: LDR */
    uint32_t model; /* xAPIC DFR[31:28] */
} ref_apic;

/* Everything the reference needs, from architectural register reads. */
static ref_apic ref_read(intc_lapic *l)
{
    ref_apic r = {0, 0, 0, 0};
    uint64_t b = apic_base(l);
    if (!(b & INTC_APIC_BASE_EN))
        return r;
    if (b & INTC_APIC_BASE_EXTD) {
        r.mode = 2;
        r.id = (uint32_t)mr(l, X2MSR(INTC_LAPIC_ID));
        r.ldr = (uint32_t)mr(l, X2MSR(INTC_LAPIC_LDR));
    } else {
        r.mode = 1;
        r.id = lr(l, INTC_LAPIC_ID) >> 24;
        r.ldr = lr(l, INTC_LAPIC_LDR) >> 24;
        r.model = lr(l, INTC_LAPIC_DFR) >> 28;
    }
    return r;
}

/* 11.6.2 / 11.12.9-10 plus libintc's documented mixed-mode rule: the
   destination is read in the sender's format; broadcast is that format's
   all-ones; otherwise compared zero-extended against each APIC in its own
   mode.  Reserved DFR models match no logical destination. */
static bool ref_match(const ref_apic *r, bool x2_sender, bool logical,
                      uint32_t dest)
{
    if (r->mode == 0)
        return false;
    if (x2_sender ? dest == 0xffffffffu : dest == 0xff)
        return true;
    if (!logical)
        return dest == r->id;
    if (r->mode == 2)
        return (dest >> 16) == (r->ldr >> 16) && (dest & r->ldr & 0xffff);
    if (dest > 0xff)
        return false;
    if (r->model == 0xf)
        return (dest & r->ldr) != 0;
    if (r->model == 0x0)
        return (dest >> 4) == (r->ldr >> 4) && (dest & r->ldr & 0xf);
    return false;
}

static uint64_t lcg_state;

static uint32_t rnd(uint32_t n)
{
    lcg_state = lcg_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(lcg_state >> 33) % n;
}

#define RN 24u

/* SDM 11.6.2, 11.12.9-10: after any sequence of ID, LDR, DFR rewrites,
   mode switches, global disables and resets, the routing maps agree with
   the registers (intc_machine_check) and every message reaches exactly
   the APICs a brute-force match over the registers names, once each. */
static void test_routing_random_rewrites_match_reference(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[RN] = {
        0,     1,     2,     3,        4,        5,        6,
        7,     0x10,  0x11,  0x1f,     0x20,     0x105,    0x1ff,
        0x100000, 0x100001, 0x200000, 0x12345, 0xfffffffeu, 0x80,
        0x81,  0xfe,  0x301, 0x40};
    intc_machine *m = machine_ids(h, RN, ids);
    ref_apic ref[RN];
    unsigned sent = 0, matched = 0;

    lcg_state = 0x1234abcd5678ef01ull;
    for (unsigned step = 0; step < 2000; step++) {
        uint32_t c = rnd(RN);
        intc_lapic *l = L(m, c);
        uint32_t op = rnd(100);
        uint64_t b = apic_base(l);
        bool x2 = (b & INTC_APIC_BASE_EN) && (b & INTC_APIC_BASE_EXTD);
        bool xa = (b & INTC_APIC_BASE_EN) && !(b & INTC_APIC_BASE_EXTD);

        if (op < 22) {
            if (xa) {
                uint32_t id = rnd(3) == 0 ? (uint8_t)ids[rnd(RN)]
                                          : rnd(2) ? rnd(16) : rnd(256);
                lw(l, INTC_LAPIC_ID, id << 24);
            }
        } else if (op < 44) {
            if (xa)
                lw(l, INTC_LAPIC_LDR, rnd(2) ? 1u << (24 + rnd(8))
                                             : rnd(256) << 24);
        } else if (op < 58) {
            if (xa) {
                uint32_t k = rnd(10);
                lw(l, INTC_LAPIC_DFR, k < 5   ? 0xffffffffu
                                      : k < 9 ? 0x0fffffffu
                                              : 0x5fffffffu);
            }
        } else if (op < 68) {
            if (xa)
                x2_enable(l);
        } else if (op < 75) {
            if (!(b & INTC_APIC_BASE_EN) || rnd(2) == 0)
                disable_global(l);
        } else if (op < 87) {
            if (!(b & INTC_APIC_BASE_EN))
                enable_global(l);
        } else if (op < 93) {
            assert_int_equal(intc_lapic_reset(l, true), INTC_OK);
        } else if (op < 97) {
            assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
        } else if (op < 99) {
            if (x2 || xa)
                wr(l, INTC_LAPIC_SVR, rnd(2) ? 0x1ff : 0xff);
        } else {
            assert_int_equal(intc_machine_reset(m), INTC_OK);
        }
        {
            char msg[256];
            if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
                fail_msg("step %u (op %u on cpu %u): %s", step, op, c, msg);
        }

        /* Send one NMI (accepted by software-disabled APICs too) from a
           random hardware-enabled CPU. */
        for (uint32_t i = 0; i < RN; i++)
            ref[i] = ref_read(L(m, i));
        uint32_t s = rnd(RN), tries = 0;
        while (ref[s].mode == 0 && tries++ < RN)
            s = (s + 1) % RN;
        if (ref[s].mode == 0)
            continue;
        bool sx2 = ref[s].mode == 2, logical = rnd(2);
        uint32_t dest, k = rnd(20), pick = rnd(RN);
        if (k == 0) {
            dest = sx2 ? 0xffffffffu : 0xff;
        } else if (k < 12 && ref[pick].mode) {
            dest = logical ? ref[pick].ldr : ref[pick].id;
            if (logical && rnd(2))
                dest |= sx2 ? 1u << rnd(16) : 1u << rnd(8);
            if (ref[pick].mode == 1 && logical && ref[pick].model == 0 &&
                rnd(2))
                dest = (dest & 0xf0) | (1u << rnd(4));
        } else if (k < 16) {
            dest = rnd(256);
        } else if (rnd(2)) {
            dest = ids[pick];
        } else {
            dest = (uint32_t)rnd(0x10000) << 16;
            dest |= rnd(0x10000);
        }
        if (!sx2)
            dest &= 0xff;

        /* Take the NMIs still latched: the pending state then shows this
           message's receivers (traced, so do the NMI events). */
        for (uint32_t i = 0; i < RN; i++)
            (void)intc_lapic_take(L(m, i), INTC_PEND_NMI, NULL);
        th_clear_events(h);
        send(L(m, s), dest, (logical ? ICR_LOGICAL : 0) | ICR_NMI |
                                ICR_ASSERT);
        uint32_t want_n = 0;
        for (uint32_t i = 0; i < RN; i++) {
            bool want = ref_match(&ref[i], sx2, logical, dest);
            bool got = intc_lapic_pending(L(m, i)) & INTC_PEND_NMI;
            size_t got_n = th_traced(h) ? nev(h, INTC_EV_NMI, i, TH_ANY_VECTOR)
                                        : got;
            want_n += want;
            if (got != want || got_n != (want ? 1u : 0u)) {
                th_dump_events(h);
                fail_msg("step %u: cpu %u (mode %d id %#x ldr %#x model %#x) "
                         "got %zu NMIs for %s %s dest %#x from cpu %u, "
                         "want %d",
                         step, i, ref[i].mode, ref[i].id, ref[i].ldr,
                         ref[i].model, got_n, sx2 ? "x2APIC" : "xAPIC",
                         logical ? "logical" : "physical", dest, s, want);
            }
        }
        th_assert_last_event(h, INTC_EV_IPI, data2, want_n);
        assert_nev(h, INTC_EV_NO_TARGET, s, TH_ANY_VECTOR, want_n == 0);
        sent++;
        matched += want_n != 0;
    }
    /* The generator must exercise both outcomes. */
    assert_true(sent > 1500);
    assert_true(matched > sent / 4);
    assert_true(matched < sent);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */
/* mixed xAPIC / x2APIC (libintc rule, bus.c)                              */
/* ---------------------------------------------------------------------- */

/* libintc (SDM silent): physical destinations are compared zero-extended
   against each APIC's own ID; broadcast is the sender format's all-ones. */
static void test_mixed_physical_zero_extended(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 1, 2, 0x103};
    intc_machine *m = machine_ids(h, 4, ids);
    intc_lapic *x2 = L(m, 0);

    sw_enable_all(m);
    x2_enable(x2);
    check_ok(m);
    assert_int_equal(lr(L(m, 3), INTC_LAPIC_ID), 0x03u << 24);

    /* x2APIC sender -> xAPIC receivers by their 8-bit ID. */
    send(x2, 1, ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask(m, 0x30), 0x2);
    send(x2, 3, ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask(m, 0x31), 0x8);
    /* 0x103 is not CPU 3's ID while it is in xAPIC mode. */
    th_clear_events(h);
    send(x2, 0x103, ICR_FIXED | ICR_ASSERT | 0x32);
    assert_int_equal(irr_mask(m, 0x32), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x32);
    /* 0xFF is no broadcast in x2APIC format... */
    th_clear_events(h);
    send(x2, 0xff, ICR_FIXED | ICR_ASSERT | 0x33);
    assert_int_equal(irr_mask(m, 0x33), 0);
    /* ...but reaches an xAPIC CPU that set its ID to 0xFF. */
    lw(L(m, 2), INTC_LAPIC_ID, 0xffu << 24);
    send(x2, 0xff, ICR_FIXED | ICR_ASSERT | 0x34);
    assert_int_equal(irr_mask(m, 0x34), 0x4);
    lw(L(m, 2), INTC_LAPIC_ID, 0x02u << 24);
    /* 0xFFFFFFFF reaches everyone. */
    send(x2, 0xffffffffu, ICR_FIXED | ICR_ASSERT | 0x35);
    assert_int_equal(irr_mask(m, 0x35), 0xf);

    /* xAPIC sender -> x2APIC receiver by (zero-extended) ID 0. */
    send(L(m, 1), 0, ICR_FIXED | ICR_ASSERT | 0x36);
    assert_int_equal(irr_mask(m, 0x36), 0x1);
    /* xAPIC 0xFF broadcast includes the x2APIC CPU. */
    send(L(m, 1), 0xff, ICR_FIXED | ICR_ASSERT | 0x37);
    assert_int_equal(irr_mask(m, 0x37), 0xf);

    /* CPU 3 switched: now 0x103 reaches it, 3 does not. */
    x2_enable(L(m, 3));
    send(x2, 0x103, ICR_FIXED | ICR_ASSERT | 0x38);
    assert_int_equal(irr_mask(m, 0x38), 0x8);
    send(L(m, 1), 3, ICR_FIXED | ICR_ASSERT | 0x39);
    assert_int_equal(irr_mask(m, 0x39), 0);
    check_ok(m);
    intc_machine_free(m);
}

/* libintc (SDM silent): logical destinations likewise: an 8-bit MDA
   matches xAPIC LDRs by their DFR model and x2APIC LDRs of cluster 0; a
   32-bit MDA above 0xFF matches x2APIC LDRs only. */
static void test_mixed_logical_zero_extended(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);
    intc_lapic *x2 = L(m, 0);

    sw_enable_all(m);
    x2_enable(x2); /* ID 0: LDR 0x00000001 */
    set_ldr(L(m, 1), 0x02);
    set_ldr(L(m, 2), 0x04);
    set_ldr(L(m, 3), 0x01);
    check_ok(m);

    send(L(m, 1), 0x01, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x30);
    assert_int_equal(irr_mask(m, 0x30), 0x9);
    send(x2, 0x06, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x31);
    assert_int_equal(irr_mask(m, 0x31), 0x6);
    send(x2, 0x01, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x32);
    assert_int_equal(irr_mask(m, 0x32), 0x9);
    th_clear_events(h);
    send(x2, 0x00010002u, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x33);
    assert_int_equal(irr_mask(m, 0x33), 0);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x33);
    send(x2, 0xffffffffu, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x34);
    assert_int_equal(irr_mask(m, 0x34), 0xf);
    send(L(m, 2), 0xff, ICR_LOGICAL | ICR_FIXED | ICR_ASSERT | 0x35);
    assert_int_equal(irr_mask(m, 0x35), 0xf);
    check_ok(m);
    intc_machine_free(m);
}

/* ---------------------------------------------------------------------- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* physical */
        T(test_phys_xapic_unicast),
        T(test_phys_xapic_broadcast),
        T(test_phys_x2apic_sparse_ids),
        T(test_phys_x2apic_broadcast),
        T(test_phys_xapic_id_rewrite_reroutes),
        T(test_phys_xapic_duplicate_id_both_receive),
        T(test_phys_switched_cpu_reached_by_x2apic_id),
        T(test_icr_8byte_store_whole_and_split),
        T(test_phys_globally_disabled_receives_nothing),
        T(test_phys_x2apic_globally_disabled_receives_nothing),
        /* logical xAPIC */
        T(test_logical_flat_mda_match),
        T(test_logical_flat_ldr_rewrite_reroutes),
        T(test_logical_cluster_mda_match),
        T(test_logical_dfr_rewrite_reroutes),
        T(test_logical_xapic_broadcast),
        /* logical x2APIC */
        T(test_x2apic_ldr_derived),
        T(test_x2apic_logical_cluster_16_cpus),
        T(test_x2apic_logical_different_clusters),
        T(test_x2apic_logical_ids_above_2_20_share_ldr),
        /* delivery modes, shorthands, ICR */
        T(test_modes_no_shorthand),
        T(test_modes_self),
        T(test_modes_all_including_self),
        T(test_modes_all_excluding_self),
        T(test_ipi_always_edge_clears_tmr),
        T(test_ipi_init_level_deassert_no_effect),
        T(test_ipi_illegal_vector_send_esr),
        T(test_ipi_lowest_priority_unsupported_esr4),
        T(test_ipi_no_target_event),
        T(test_ipi_no_target_apic_bus_errors_esr2),
        T(test_ipi_event_carries_icr),
        T(test_x2apic_icr_msr),
        T(test_x2apic_self_ipi_msr),
        /* lowest priority */
        T(test_lp_lowest_tpr_wins),
        T(test_lp_apr_formula_irr_isr),
        T(test_lp_ties_round_robin),
        T(test_lp_round_robin_only_among_lowest),
        T(test_lp_excludes_software_disabled),
        T(test_lp_focus_processor_wins),
        T(test_lp_focus_disabled_by_svr9),
        T(test_lp_focus_off_by_default),
        /* INIT / SIPI */
        T(test_init_pends_init),
        T(test_take_init_resets_and_waits_for_sipi),
        T(test_wait_for_sipi_masks_other_signals),
        T(test_sipi_take_gives_vector),
        T(test_second_sipi_while_pending_ignored),
        T(test_sipi_not_waiting_ignored),
        T(test_init_sipi_sipi_before_take),
        T(test_init_to_bsp_no_wait_for_sipi),
        T(test_init_in_x2apic_keeps_x2apic),
        /* scale and consistency */
        T(test_scale_300_cpus),
        T(test_scale_4096_cpus),
        T(test_routing_random_rewrites_match_reference),
        /* mixed modes */
        T(test_mixed_physical_zero_extended),
        T(test_mixed_logical_zero_extended),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
