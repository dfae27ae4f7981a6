/*
 * Local APIC interrupt handling: acceptance (IRR/ISR/TMR), priorities
 * (TPR/PPR/APR), INTA and spurious interrupts, EOI and directed EOI,
 * software disable, the local vector table, ESR, LINT0/LINT1, taking
 * signals, posted interrupts and the callback re-entrancy rules.
 *
 * Each test cites the Intel SDM vol. 3A chapter 11 section (or the
 * libintc header sentence) whose outcome it checks.
 */
#include "lapic_util.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

/* LVT fields (11.5.1, Figure 11-8). */
#define DM(x) ((uint32_t)(x) << 8)
#define DM_FIXED DM(0)
#define DM_LOWEST DM(1)
#define DM_SMI DM(2)
#define DM_RSV3 DM(3)
#define DM_NMI DM(4)
#define DM_INIT DM(5)
#define DM_SIPI DM(6)
#define DM_EXTINT DM(7)
#define LVT_ACTIVE_LOW (1u << 13)
#define LVT_RIRR (1u << 14)
#define LVT_LEVEL_TRIG (1u << 15)
#define LVT_MASK (1u << 16)

/* The xAPIC offset of each LVT, by enum intc_lvt. */
static const uint32_t lvt_off[INTC_LVT_COUNT] = {
    [INTC_LVT_CMCI] = INTC_LAPIC_LVT_CMCI,
    [INTC_LVT_TIMER] = INTC_LAPIC_LVT_TIMER,
    [INTC_LVT_THERMAL] = INTC_LAPIC_LVT_THERMAL,
    [INTC_LVT_PERF] = INTC_LAPIC_LVT_PERF,
    [INTC_LVT_LINT0] = INTC_LAPIC_LVT_LINT0,
    [INTC_LVT_LINT1] = INTC_LAPIC_LVT_LINT1,
    [INTC_LVT_ERROR] = INTC_LAPIC_LVT_ERROR,
};

/* The LVTs intc_lapic_raise_lvt() drives. */
static const unsigned raisable[] = {INTC_LVT_CMCI, INTC_LVT_THERMAL,
                                    INTC_LVT_PERF};

static void check(intc_machine *m)
{
    char msg[256] = "";
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

static int irr(intc_lapic *l, unsigned v)
{
    return lbit(l, INTC_LAPIC_IRR0, v);
}
static int isr(intc_lapic *l, unsigned v)
{
    return lbit(l, INTC_LAPIC_ISR0, v);
}
static int tmr(intc_lapic *l, unsigned v)
{
    return lbit(l, INTC_LAPIC_TMR0, v);
}

/* True when every bit of the 256-bit register at base is clear. */
static bool reg256_empty(intc_lapic *l, uint32_t base)
{
    for (unsigned i = 0; i < 8; i++)
        if (lr(l, base + 0x10 * i))
            return false;
    return true;
}

/* Fixed, edge self IPI through the xAPIC ICR (self shorthand). */
static void self_ipi(intc_lapic *l, uint8_t v)
{
    ipi(l, 0, ICR_SELF | ICR_FIXED | v);
}

/* Latch and read the ESR (11.5.3: write, then read). */
static uint32_t esr_latch(intc_lapic *l)
{
    lw(l, INTC_LAPIC_ESR, 0);
    return lr(l, INTC_LAPIC_ESR);
}

static void eoi(intc_lapic *l)
{
    lw(l, INTC_LAPIC_EOI, 0);
}

/* Number of recorded events of type for vector v. */
static size_t count_vec(const th_host *h, intc_event_type type, int32_t v)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == type && h->events[i].vector == v;
    return n;
}

/* count_vec() is n; traced hosts only. */
#define assert_count_vec(h, type, v, n)                                      \
    do {                                                                     \
        TH_IF_TRACED(h) assert_int_equal(count_vec((h), (type), (v)), (n));  \
    } while (0)

/* Put v in service: deliver it (TPR 0) and acknowledge it. */
static void in_service(intc_lapic *l, uint8_t v)
{
    self_ipi(l, v);
    assert_int_equal(intc_lapic_ack(l), v);
}

/* A level-triggered fixed interrupt v, through the posted-interrupt path
   (intc_lapic_post(level=true) then a fold). */
static void level_irq(intc_lapic *l, uint8_t v)
{
    intc_lapic_post(l, v, true);
    assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
}

/* ================================================================
 * Acceptance: IRR, ISR, TMR (11.8.4)
 * ================================================================ */

/* SDM 11.8.4: an accepted fixed interrupt sets its IRR bit; the APIC then
   signals the processor (pending INTR, host kicked). */
static void test_fixed_ipi_sets_irr_and_kicks(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    sw_enable(l1);
    unsigned k = h->kicks[1];
    ipi(l0, 1, ICR_FIXED | 0x51);
    assert_int_equal(irr(l1, 0x51), 1);
    assert_int_equal(irr(l0, 0x51), 0);
    assert_true(intc_lapic_pending(l1) & INTC_PEND_INTR);
    assert_false(intc_lapic_pending(l0) & INTC_PEND_INTR);
    assert_true(h->kicks[1] > k);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_IRR_SET, 1, 0x51);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0); /* edge */
    }
    check(m);
    intc_machine_free(m);
}

/* The kick contract (common.h): pending() is a level and kick() its
   rising edge.  A vector accepted while another one is already
   deliverable changes nothing pending() reports, so it kicks nobody; a
   vector that becomes deliverable later (here: after the EOI that lowers
   PPR, SDM 11.8.3.1) kicks again. */
static void test_kick_only_on_rising_edge(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    sw_enable(l1);
    unsigned k = h->kicks[1];
    ipi(l0, 1, ICR_FIXED | 0x51);
    assert_int_equal(h->kicks[1], k + 1);
    ipi(l0, 1, ICR_FIXED | 0x61); /* higher, but INTR already pending */
    ipi(l0, 1, ICR_FIXED | 0x41);
    assert_int_equal(h->kicks[1], k + 1);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_INTR);
    /* 0x61 in service: PPR class 6 masks 0x51 and 0x41. */
    assert_int_equal(intc_lapic_ack(l1), 0x61);
    assert_false(intc_lapic_pending(l1) & INTC_PEND_INTR);
    ipi(l0, 1, ICR_FIXED | 0x52); /* below PPR: not deliverable, no kick */
    assert_int_equal(h->kicks[1], k + 1);
    lw(l1, INTC_LAPIC_EOI, 0);    /* PPR drops: 0x52 deliverable again */
    assert_int_equal(h->kicks[1], k + 2);
    assert_int_equal(intc_lapic_ack(l1), 0x52);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.1 / 11.8.4: a self IPI is accepted by the sender itself. */
static void test_self_ipi_sets_irr_and_kicks(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    unsigned k = h->kicks[0];
    self_ipi(l, 0x40);
    assert_int_equal(irr(l, 0x40), 1);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    assert_true(h->kicks[0] > k);
    th_assert_event(h, INTC_EV_IRR_SET, 0, 0x40);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4: INTA clears the highest IRR bit, sets the matching ISR bit
   and hands the vector to the processor. */
static void test_ack_moves_irr_to_isr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    self_ipi(l, 0x40);
    self_ipi(l, 0x9a);
    assert_int_equal(intc_lapic_ack(l), 0x9a);
    assert_int_equal(irr(l, 0x9a), 0);
    assert_int_equal(isr(l, 0x9a), 1);
    assert_int_equal(irr(l, 0x40), 1);
    assert_int_equal(isr(l, 0x40), 0);
    th_assert_event(h, INTC_EV_ACK, 0, 0x9a);
    /* 0x40 is of a lower class than the one in service. */
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4: TMR is set when a level-triggered interrupt is accepted
   (LINT0 programmed level-triggered fixed). */
static void test_tmr_set_for_level_lint0(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | LVT_LEVEL_TRIG | 0x60);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x60), 1);
    assert_int_equal(tmr(l, 0x60), 1);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_IRR_SET, 0, 0x60);
        assert_non_null(ev);
        assert_int_equal(ev->data, 1);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4: TMR is set for a level interrupt from the system bus (here
   posted with level=true and folded). */
static void test_tmr_set_for_level_post(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    level_irq(l, 0x61);
    assert_int_equal(irr(l, 0x61), 1);
    assert_int_equal(tmr(l, 0x61), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4: TMR is cleared when an edge-triggered interrupt of the same
   vector is accepted. */
static void test_tmr_cleared_by_edge_acceptance(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    level_irq(l, 0x61);
    assert_int_equal(intc_lapic_ack(l), 0x61);
    eoi(l);
    assert_int_equal(tmr(l, 0x61), 1);
    self_ipi(l, 0x61);
    assert_int_equal(irr(l, 0x61), 1);
    assert_int_equal(tmr(l, 0x61), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4 / 11.8.5: EOI clears the ISR bit but leaves TMR alone. */
static void test_tmr_not_cleared_by_eoi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    level_irq(l, 0x71);
    assert_int_equal(intc_lapic_ack(l), 0x71);
    assert_int_equal(tmr(l, 0x71), 1);
    eoi(l);
    assert_int_equal(isr(l, 0x71), 0);
    assert_int_equal(tmr(l, 0x71), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.4: an interrupt for a vector whose IRR bit is already set is
   merged into it (only one is delivered). */
static void test_coalesced_when_irr_already_set(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    self_ipi(l, 0x44);
    self_ipi(l, 0x44);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x44, 1);
    assert_count_vec(h, INTC_EV_COALESCED, 0x44, 1);
    assert_int_equal(intc_lapic_ack(l), 0x44);
    assert_int_equal(irr(l, 0x44), 0);
    /* Only one was held: the next INTA finds nothing (IRR empty:
       INTC_ACK_NONE, lapic.h). */
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.2 / 11.5.3: vectors 0-15 are illegal; receiving one sets
   ESR[6] and never sets IRR (local source, posted and PIR paths). */
static void test_illegal_vectors_never_set_irr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint8_t vecs[] = {0, 1, 2, 7, 14, 15};

    sw_enable(l);
    for (size_t i = 0; i < sizeof(vecs); i++) {
        lw(l, INTC_LAPIC_LVT_THERMAL, DM_FIXED | vecs[i]);
        assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_THERMAL), INTC_OK);
        assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
        assert_int_equal(esr_latch(l), INTC_ESR_RECV_ILLEGAL_VECTOR);

        intc_lapic_post(l, vecs[i], false);
        assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
        assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
        assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
        assert_int_equal(esr_latch(l), INTC_ESR_RECV_ILLEGAL_VECTOR);

        uint64_t pir[4] = {1ull << vecs[i], 0, 0, 0};
        assert_int_equal(intc_lapic_sync_pir(l, pir), INTC_OK);
        assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
        assert_int_equal(esr_latch(l), INTC_ESR_RECV_ILLEGAL_VECTOR);
    }
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Priorities: TPR, PPR, APR (11.8.3, 11.6.2.4), spurious (11.9)
 * ================================================================ */

/* SDM 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4] << 4
   (PPR[3:0] = 0); ISRV is 0 when ISR is empty. */
static void test_ppr_grid(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint8_t tprs[] = {0x00, 0x0f, 0x10, 0x35, 0x50,
                                   0x5f, 0x60, 0xa7, 0xef, 0xff};
    static const int isrs[] = {-1, 0x10, 0x20, 0x55, 0x5f, 0x60, 0xa0, 0xfe};

    sw_enable(l);
    for (size_t i = 0; i < sizeof(tprs); i++) {
        for (size_t j = 0; j < sizeof(isrs) / sizeof(isrs[0]); j++) {
            unsigned isrv = isrs[j] < 0 ? 0 : (unsigned)isrs[j];
            unsigned want =
                (tprs[i] & 0xf0u) >= (isrv & 0xf0u) ? tprs[i] : (isrv & 0xf0u);
            lw(l, INTC_LAPIC_TPR, 0);
            if (isrs[j] >= 0)
                in_service(l, (uint8_t)isrs[j]);
            lw(l, INTC_LAPIC_TPR, tprs[i]);
            if (lr(l, INTC_LAPIC_PPR) != want)
                fail_msg("TPR %#x ISRV %#x: PPR %#x, want %#x", tprs[i], isrv,
                         lr(l, INTC_LAPIC_PPR), want);
            check(m);
            if (isrs[j] >= 0)
                eoi(l);
            assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
        }
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.3.1: the highest IRR vector is dispatched only when its
   priority class is above PPR[7:4]; an equal class waits. */
static void test_intr_only_above_ppr_class(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_TPR, 0x50);
    unsigned k = h->kicks[0];
    self_ipi(l, 0x5f);
    self_ipi(l, 0x31);
    assert_int_equal(irr(l, 0x5f), 1);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_int_equal(h->kicks[0], k);
    self_ipi(l, 0x60);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_true(h->kicks[0] > k);
    assert_int_equal(intc_lapic_ack(l), 0x60);

    /* With 0x60 in service (PPR 0x60) the class-6 0x6f waits, 0x70 goes. */
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0x60);
    self_ipi(l, 0x6f);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    self_ipi(l, 0x70);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.3: raising TPR above a pending vector's class blocks it;
   lowering it again makes it deliverable (and the host is kicked). */
static void test_tpr_raise_blocks_lower_reenables(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    self_ipi(l, 0x45);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    lw(l, INTC_LAPIC_TPR, 0x40);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    lw(l, INTC_LAPIC_TPR, 0x4f);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    unsigned k = h->kicks[0];
    lw(l, INTC_LAPIC_TPR, 0x30);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_true(h->kicks[0] > k);
    /* The same through CR8. */
    assert_int_equal(intc_lapic_set_tpr(l, 0x40), INTC_OK);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    k = h->kicks[0];
    assert_int_equal(intc_lapic_set_tpr(l, 0x00), INTC_OK);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_true(h->kicks[0] > k);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.6: CR8 reads and writes TPR[7:4]; intc_lapic_set_tpr and
   intc_lapic_get_tpr are the TPR register itself. */
static void test_cr8_path_is_tpr_register(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (unsigned cr8 = 0; cr8 < 16; cr8++) {
        assert_int_equal(intc_lapic_set_tpr(l, (uint8_t)(cr8 << 4)), INTC_OK);
        assert_int_equal(lr(l, INTC_LAPIC_TPR), cr8 << 4);
        assert_int_equal(intc_lapic_get_tpr(l), cr8 << 4);
        assert_int_equal(lr(l, INTC_LAPIC_PPR), cr8 << 4);
    }
    lw(l, INTC_LAPIC_TPR, 0x37);
    assert_int_equal(intc_lapic_get_tpr(l), 0x37);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.9: if TPR masks the interrupt between INTR and INTA, the APIC
   returns the spurious vector (SVR[7:0]) and does not touch ISR. */
static void test_ack_spurious_when_tpr_masks(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    self_ipi(l, 0x45);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    lw(l, INTC_LAPIC_TPR, 0xf0);
    assert_int_equal(intc_lapic_ack_peek(l), INTC_ACK_SPURIOUS(0xff));
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_SPURIOUS(0xff));
    assert_int_equal(intc_lapic_ack(l), 0x1ff);
    assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
    assert_int_equal(irr(l, 0x45), 1);
    th_assert_event(h, INTC_EV_SPURIOUS, 0, 0xff);

    /* The vector follows SVR[7:0]. */
    lw(l, INTC_LAPIC_SVR, 0x100 | 0xa7);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_SPURIOUS(0xa7));
    lw(l, INTC_LAPIC_SVR, 0x100 | 0x30);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_SPURIOUS(0x30));
    assert_int_equal(intc_lapic_ack(l) & 0xff, 0x30);
    assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
    assert_int_equal(irr(l, 0x45), 1);
    th_assert_event_count(h, INTC_EV_ACK, 0);

    /* TPR lowered: the vector; then IRR is empty: nothing to deliver,
       no spurious event (lapic.h INTC_ACK_NONE). */
    lw(l, INTC_LAPIC_TPR, 0);
    assert_int_equal(intc_lapic_ack(l), 0x45);
    th_clear_events(h);
    assert_int_equal(intc_lapic_ack_peek(l), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE);
    assert_int_equal(h->n_events, 0);
    assert_int_equal(isr(l, 0x45), 1);
    check(m);
    intc_machine_free(m);
}

/* lapic.h intc_lapic_ack / intc_lapic_ack_peek, SDM 11.8.4 and 11.9: the
   four outcomes, with peek returning what ack then returns and changing
   nothing: a vector (put in service), INTC_ACK_SPURIOUS(SVR[7:0]) when
   IRR's highest class is not above PPR (a higher class in service),
   INTC_ACK_NONE when globally disabled (11.4.3: INTR is then the 8259's)
   or IRR is empty, and posted vectors seen before they are folded. */
static void test_ack_peek_matches_ack(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    int p;

    sw_enable(l);
    assert_int_equal(intc_lapic_ack_peek(NULL), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(NULL), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack_peek(l), INTC_ACK_NONE);

    self_ipi(l, 0x52);
    self_ipi(l, 0x61);
    th_clear_events(h);
    p = intc_lapic_ack_peek(l);
    assert_int_equal(p, 0x61);
    assert_int_equal(intc_lapic_ack_peek(l), p); /* no state change */
    assert_int_equal(irr(l, 0x61), 1);
    assert_int_equal(h->n_events, 0);
    assert_int_equal(intc_lapic_ack(l), p);
    assert_int_equal(isr(l, 0x61), 1);

    /* 0x52 is below the class in service: spurious. */
    p = intc_lapic_ack_peek(l);
    assert_int_equal(p, INTC_ACK_SPURIOUS(0xff));
    assert_int_equal(intc_lapic_ack(l), p);
    assert_int_equal(irr(l, 0x52), 1);
    eoi(l);
    assert_int_equal(intc_lapic_ack_peek(l), 0x52);
    assert_int_equal(intc_lapic_ack(l), 0x52);
    eoi(l);

    /* Posted, not yet folded: peek sees it, ack folds and takes it. */
    assert_int_equal(intc_lapic_post(l, 0x74, false), 1);
    assert_int_equal(intc_lapic_ack_peek(l), 0x74);
    assert_int_equal(intc_lapic_ack(l), 0x74);
    assert_int_equal(isr(l, 0x74), 1);
    eoi(l);

    /* A posted illegal vector (0-15) is never delivered; folding it logs
       "received illegal vector" (SDM 11.5.3), and with LVT Error
       unmasked and armed that raises the error interrupt: peek counts
       its vector as ack then delivers it (found by fuzz_lapic). */
    lw(l, INTC_LAPIC_LVT_ERROR, 0x33);
    lw(l, INTC_LAPIC_ESR, 0); /* latch, re-arm */
    assert_int_equal(intc_lapic_post(l, 0x05, false), 1);
    assert_int_equal(intc_lapic_ack_peek(l), 0x33);
    assert_int_equal(intc_lapic_ack(l), 0x33);
    lw(l, INTC_LAPIC_ESR, 0);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), INTC_ESR_RECV_ILLEGAL_VECTOR);
    eoi(l);
    /* Masked, nothing comes of it: peek and ack agree on nothing. */
    lw(l, INTC_LAPIC_LVT_ERROR, 0x10033);
    assert_int_equal(intc_lapic_post(l, 0x05, false), 1);
    assert_int_equal(intc_lapic_ack_peek(l), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE);

    /* Globally disabled: nothing, whatever the 8259 line does. */
    self_ipi(l, 0x80);
    mw(l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_BSP);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_EXTINT);
    assert_int_equal(intc_lapic_ack_peek(l), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.3 and vol. 3A ch. 9 (MP initialization, wait-for-SIPI): an
   AP that took INIT holds its
   interrupts until SIPI; INTA has nothing to deliver (INTC_ACK_NONE, not
   the spurious vector), even with a fixed vector accepted into IRR, and
   peek agrees.  After SIPI the held vector is delivered. */
static void test_ack_none_while_waiting_for_sipi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *ap = intc_machine_lapic(m, 1);
    uint8_t vec = 0;

    sw_enable(intc_machine_lapic(m, 0));
    lw(intc_machine_lapic(m, 0), INTC_LAPIC_ICR_HI, 1u << 24);
    lw(intc_machine_lapic(m, 0), INTC_LAPIC_ICR_LO, 0x4500); /* INIT */
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_INIT, NULL), 1);
    assert_true(intc_lapic_waiting_for_sipi(ap));
    assert_int_equal(intc_lapic_ack_peek(ap), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(ap), INTC_ACK_NONE);
    /* The APIC itself is still accessible; software-enabled, it accepts
       a fixed IPI into IRR but INTR stays held. */
    sw_enable(ap);
    lw(intc_machine_lapic(m, 0), INTC_LAPIC_ICR_LO, 0x4066);
    assert_int_equal(irr(ap, 0x66), 1);
    assert_int_equal(intc_lapic_pending(ap), 0);
    th_clear_events(h);
    assert_int_equal(intc_lapic_ack_peek(ap), INTC_ACK_NONE);
    assert_int_equal(intc_lapic_ack(ap), INTC_ACK_NONE);
    assert_int_equal(irr(ap, 0x66), 1);
    assert_null(th_find_event(h, INTC_EV_SPURIOUS, 1, TH_ANY_VECTOR));
    /* SIPI: the vector comes out. */
    lw(intc_machine_lapic(m, 0), INTC_LAPIC_ICR_LO, 0x4612);
    assert_int_equal(intc_lapic_take(ap, INTC_PEND_SIPI, &vec), 1);
    assert_int_equal(vec, 0x12);
    assert_int_equal(intc_lapic_ack_peek(ap), 0x66);
    assert_int_equal(intc_lapic_ack(ap), 0x66);
    check(m);
    intc_machine_free(m);
}

/* lapic.h intc_lapic_pending / common.h kick: pending() is a level, kick()
   an edge-like notification.  No kick when pending shrinks (TPR raised,
   ack); a TPR change or EOI the host makes itself kicks at the end of
   that call when it leaves a vector deliverable; a kick may repeat for
   what is still pending; pending() tells the truth throughout (SDM
   11.8.3: INTR iff IRR's highest class is above PPR[7:4]). */
static void test_pending_level_kick_edge(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    unsigned k;

    sw_enable(l);
    k = h->kicks[0];
    self_ipi(l, 0x40);
    assert_int_equal(h->kicks[0], k + 1);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    /* The host declines (guest IF = 0): nothing more comes by itself,
       the level stays. */
    assert_int_equal(h->kicks[0], k + 1);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    /* TPR raised: pending drops, no kick. */
    assert_int_equal(intc_lapic_set_tpr(l, 0x50), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(h->kicks[0], k + 1);
    /* Lowered by the host itself: deliverable again, kicked. */
    assert_int_equal(intc_lapic_set_tpr(l, 0), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    assert_int_equal(h->kicks[0], k + 2);
    /* A second deliverable vector while INTR is pending: the level does
       not change, no kick (the rising edge only). */
    self_ipi(l, 0x41);
    assert_int_equal(h->kicks[0], k + 2);
    /* ack: pending may drop (0x41 is the same class as 0x40 in service);
       no kick. */
    assert_int_equal(intc_lapic_ack(l), 0x41);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(h->kicks[0], k + 2);
    /* EOI by the host: 0x40 deliverable again, kicked. */
    eoi(l);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    assert_int_equal(h->kicks[0], k + 3);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    eoi(l);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(h->kicks[0], k + 3);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.3 / 11.8.5: a higher-class interrupt preempts one in service;
   EOI retires the highest ISR bit first. */
static void test_nested_preemption_and_eoi_order(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    in_service(l, 0x41);
    self_ipi(l, 0x35); /* lower class: waits */
    self_ipi(l, 0x48); /* same class: waits */
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    self_ipi(l, 0x81); /* higher class: preempts */
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_int_equal(intc_lapic_ack(l), 0x81);
    assert_int_equal(isr(l, 0x41), 1);
    assert_int_equal(isr(l, 0x81), 1);
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0x80);

    th_clear_events(h);
    eoi(l);
    assert_int_equal(isr(l, 0x81), 0);
    assert_int_equal(isr(l, 0x41), 1);
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0x40);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    eoi(l);
    assert_int_equal(isr(l, 0x41), 0);
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0x00);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);

    /* EOI events name the vectors in that order. */
    TH_IF_TRACED(h) {
        const intc_event *e1 = th_find_event(h, INTC_EV_EOI, 0, 0x81);
        const intc_event *e2 = th_find_event(h, INTC_EV_EOI, 0, 0x41);
        assert_non_null(e1);
        assert_non_null(e2);
        assert_true(e1 < e2);
    }

    assert_int_equal(intc_lapic_ack(l), 0x48);
    assert_int_equal(intc_lapic_ack(l),
                     INTC_ACK_SPURIOUS(0xff)); /* 0x35: class 3 < PPR 0x40 */
    eoi(l);
    assert_int_equal(intc_lapic_ack(l), 0x35);
    eoi(l);
    assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.4 (Figure 11-15): the arbitration priority, literally:
     IF TPR[7:4] >= IRRV[7:4] AND TPR[7:4] > ISRV[7:4] THEN APR = TPR
     ELSE APR[7:4] = max(TPR[7:4] AND ISRV[7:4], IRRV[7:4]), APR[3:0] = 0
   with IRRV/ISRV 0 when IRR/ISR are empty. */
static unsigned sdm_apr(unsigned tpr, int irrv, int isrv)
{
    unsigned t = tpr >> 4;
    unsigned ir = irrv < 0 ? 0 : (unsigned)irrv >> 4;
    unsigned is = isrv < 0 ? 0 : (unsigned)isrv >> 4;
    unsigned hi;
    if (t >= ir && t > is)
        return tpr;
    hi = t & is;
    if (ir > hi)
        hi = ir;
    return hi << 4;
}

static void test_apr_formula(void **state)
{
    th_host *h = *state;
    static const struct {
        uint8_t tpr;
        int irrv, isrv;
        unsigned want; /* the value the SDM text gives, spelled out */
    } c[] = {
        {0x00, -1, -1, 0x00},
        {0x35, -1, -1, 0x35},
        {0x35, 0x51, -1, 0x50},
        {0x75, 0x51, -1, 0x75},
        {0x75, -1, 0x91, 0x10}, /* 7 AND 9 = 1 */
        {0x35, -1, 0x71, 0x30}, /* 3 AND 7 = 3 */
        {0x65, -1, 0x61, 0x60}, /* 6 AND 6 = 6 */
        {0xc3, 0xb2, 0xa1, 0xc3},
        {0x50, 0x41, 0x31, 0x50},
        {0x20, 0x21, 0x31, 0x20}, /* max(2 AND 3 = 2, 2) */
        {0x2f, 0x41, 0x51, 0x40}, /* max(2 AND 5 = 0, 4) */
        {0xa0, -1, 0x51, 0xa0},
        {0x45, 0x3f, 0xe1, 0x40}, /* max(4 AND 14 = 4, 3) */
        {0x10, 0xf0, 0x20, 0xf0},
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        intc_machine *m = th_machine(h, NULL);
        intc_lapic *l = intc_machine_lapic(m, 0);

        assert_int_equal(sdm_apr(c[i].tpr, c[i].irrv, c[i].isrv), c[i].want);
        sw_enable(l);
        if (c[i].isrv >= 0)
            in_service(l, (uint8_t)c[i].isrv);
        if (c[i].irrv >= 0)
            self_ipi(l, (uint8_t)c[i].irrv);
        lw(l, INTC_LAPIC_TPR, c[i].tpr);
        if (lr(l, INTC_LAPIC_APR) != c[i].want)
            fail_msg("case %zu: TPR %#x IRRV %#x ISRV %#x: APR %#x, want %#x",
                     i, c[i].tpr, c[i].irrv, c[i].isrv, lr(l, INTC_LAPIC_APR),
                     c[i].want);
        check(m);
        intc_machine_free(m);
    }
}

/* ================================================================
 * EOI (11.8.5)
 * ================================================================ */

/* SDM 11.8.5: an EOI with nothing in service changes nothing. */
static void test_eoi_with_empty_isr_harmless(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_TPR, 0x20);
    self_ipi(l, 0x25);
    eoi(l);
    eoi(l);
    assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
    assert_int_equal(irr(l, 0x25), 1);
    assert_int_equal(lr(l, INTC_LAPIC_PPR), 0x20);
    th_assert_event_count(h, INTC_EV_EOI_BROADCAST, 0);
    th_assert_event(h, INTC_EV_EOI, 0, -1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.5: EOI of a level-triggered vector (TMR=1) is broadcast to the
   IOAPICs with the vector. */
static void test_eoi_level_broadcasts_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    level_irq(l, 0x61);
    assert_int_equal(intc_lapic_ack(l), 0x61);
    eoi(l);
    th_assert_event_count(h, INTC_EV_EOI_BROADCAST, 1);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_EOI_BROADCAST, 0, 0x61);
        assert_non_null(ev);
        ev = th_find_event(h, INTC_EV_EOI, 0, 0x61);
        assert_non_null(ev);
        assert_int_equal(ev->data, 1);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.5: EOI of an edge-triggered vector is not broadcast. */
static void test_eoi_edge_no_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    in_service(l, 0x62);
    eoi(l);
    assert_int_equal(isr(l, 0x62), 0);
    th_assert_event_count(h, INTC_EV_EOI_BROADCAST, 0);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_EOI, 0, 0x62);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.8.5: with EOI-broadcast suppression (LVR[24]) and SVR[12] = 1, a
   level EOI is not broadcast; software sends a directed EOI instead. */
static void test_directed_eoi_suppresses_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.directed_eoi = true;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_SVR, 0x11ff);
    assert_int_equal(lr(l, INTC_LAPIC_SVR), 0x11ff);
    level_irq(l, 0x63);
    assert_int_equal(intc_lapic_ack(l), 0x63);
    eoi(l);
    assert_int_equal(isr(l, 0x63), 0);
    th_assert_event(h, INTC_EV_EOI, 0, 0x63);
    th_assert_event_count(h, INTC_EV_EOI_BROADCAST, 0);

    /* SVR[12] = 0 again: broadcast as usual. */
    lw(l, INTC_LAPIC_SVR, 0x1ff);
    level_irq(l, 0x63);
    assert_int_equal(intc_lapic_ack(l), 0x63);
    eoi(l);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 0, 0x63);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.9 (Figure 11-23): SVR[12] is reserved where the processor lacks
   EOI-broadcast suppression: it reads 0 and level EOIs keep broadcasting. */
static void test_svr12_reserved_without_directed_eoi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    lw(l, INTC_LAPIC_SVR, 0x11ff);
    assert_int_equal(lr(l, INTC_LAPIC_SVR) & (1u << 12), 0);
    assert_int_equal(lr(l, INTC_LAPIC_SVR), 0x1ff);
    level_irq(l, 0x64);
    assert_int_equal(intc_lapic_ack(l), 0x64);
    eoi(l);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 0, 0x64);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.8 (Figure 11-7): LVR[24] advertises EOI-broadcast suppression. */
static void test_version_advertises_directed_eoi(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    intc_machine *m = th_machine(h, &cfg);
    assert_int_equal(lr(intc_machine_lapic(m, 0), INTC_LAPIC_VERSION) >> 24 & 1,
                     0);
    check(m);
    intc_machine_free(m);

    cfg.directed_eoi = true;
    m = th_machine(h, &cfg);
    assert_int_equal(lr(intc_machine_lapic(m, 0), INTC_LAPIC_VERSION) >> 24 & 1,
                     1);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Software disable (11.4.7.2)
 * ================================================================ */

/* SDM 11.4.7.2: a software-disabled APIC does not accept fixed
   interrupts (at reset, and after SVR[8] is cleared). */
static void test_sw_disabled_rejects_fixed(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    ipi(l0, 1, ICR_FIXED | 0x50); /* l1 is still at its reset SVR 0xFF */
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x50);
    assert_int_equal(irr(l1, 0x50), 0);
    assert_false(intc_lapic_pending(l1) & INTC_PEND_INTR);

    sw_enable(l1);
    lw(l1, INTC_LAPIC_SVR, 0x0ff);
    ipi(l0, 1, ICR_FIXED | 0x52);
    th_assert_event(h, INTC_EV_REJECTED, 1, 0x52);
    assert_true(reg256_empty(l1, INTC_LAPIC_IRR0));
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.2: a software-disabled APIC still responds to NMI, SMI and
   INIT messages. */
static void test_sw_disabled_latches_nmi_smi_init(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    ipi(l0, 1, ICR_NMI);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_NMI);
    ipi(l0, 1, ICR_SMI);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_NMI | INTC_PEND_SMI);
    ipi(l0, 1, ICR_INIT | ICR_ASSERT);
    assert_int_equal(intc_lapic_pending(l1),
                     INTC_PEND_NMI | INTC_PEND_SMI | INTC_PEND_INIT);
    th_assert_event_count(h, INTC_EV_REJECTED, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.2: IRR and ISR contents are held across a software disable. */
static void test_sw_disable_holds_irr_isr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint32_t irr_before[8], isr_before[8];

    sw_enable(l);
    in_service(l, 0x50);
    self_ipi(l, 0x38);
    self_ipi(l, 0x77);
    for (unsigned i = 0; i < 8; i++) {
        irr_before[i] = lr(l, INTC_LAPIC_IRR0 + 0x10 * i);
        isr_before[i] = lr(l, INTC_LAPIC_ISR0 + 0x10 * i);
    }
    lw(l, INTC_LAPIC_SVR, 0x0ff);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(lr(l, INTC_LAPIC_IRR0 + 0x10 * i), irr_before[i]);
        assert_int_equal(lr(l, INTC_LAPIC_ISR0 + 0x10 * i), isr_before[i]);
    }
    assert_int_equal(isr(l, 0x50), 1);
    assert_int_equal(irr(l, 0x38), 1);
    assert_int_equal(irr(l, 0x77), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.2: software disable sets every LVT mask bit; attempts to
   clear them are ignored while disabled; re-enabling leaves them set. */
static void test_sw_disable_forces_lvt_masks(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++) {
        lw(l, lvt_off[i], 0x40 + i);
        assert_int_equal(lr(l, lvt_off[i]) & LVT_MASK, 0);
    }
    lw(l, INTC_LAPIC_SVR, 0x0ff);
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++) {
        assert_int_equal(lr(l, lvt_off[i]) & LVT_MASK, LVT_MASK);
        lw(l, lvt_off[i], 0x50 + i);
        assert_int_equal(lr(l, lvt_off[i]) & LVT_MASK, LVT_MASK);
    }
    check(m);
    sw_enable(l);
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++)
        assert_int_equal(lr(l, lvt_off[i]) & LVT_MASK, LVT_MASK);
    /* Once enabled, software can unmask again. */
    for (unsigned i = 0; i < INTC_LVT_COUNT; i++) {
        lw(l, lvt_off[i], 0x60 + i);
        assert_int_equal(lr(l, lvt_off[i]) & LVT_MASK, 0);
    }
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Local vector table (11.5.1)
 * ================================================================ */

/* SDM 11.5.1: a Fixed-mode LVT delivers its vector (edge: TMR clear). */
static void test_lvt_fixed_delivers_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (size_t i = 0; i < 3; i++) {
        uint8_t v = (uint8_t)(0x90 + i);
        unsigned k = h->kicks[0];
        lw(l, lvt_off[raisable[i]], DM_FIXED | v);
        assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
        assert_int_equal(irr(l, v), 1);
        assert_int_equal(tmr(l, v), 0);
        assert_true(h->kicks[0] > k);
        assert_int_equal(intc_lapic_ack(l), v);
        eoi(l);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: the mask bit inhibits reception of the interrupt. */
static void test_lvt_masked_delivers_nothing(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint32_t modes[] = {DM_FIXED, DM_NMI, DM_SMI};

    sw_enable(l);
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++) {
            lw(l, lvt_off[raisable[i]], LVT_MASK | modes[j] | 0x90);
            assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
            assert_int_equal(intc_lapic_pending(l), 0);
        }
    }
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    assert_int_equal(h->n_events_lost, 0);
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    th_assert_event_count(h, INTC_EV_NMI, 0);
    th_assert_event_count(h, INTC_EV_SMI, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: CMCI, thermal and performance LVTs support NMI and SMI
   delivery. */
static void test_lvt_nmi_and_smi_modes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (size_t i = 0; i < 3; i++) {
        lw(l, lvt_off[raisable[i]], DM_NMI);
        assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
        assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
        assert_int_equal(intc_lapic_take(l, INTC_PEND_NMI, NULL), 1);

        lw(l, lvt_off[raisable[i]], DM_SMI);
        assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
        assert_int_equal(intc_lapic_pending(l), INTC_PEND_SMI);
        assert_int_equal(intc_lapic_take(l, INTC_PEND_SMI, NULL), 1);
    }
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: INIT is not supported for CMCI/thermal/perf, and ExtINT
   only on LINT0/LINT1: such entries deliver nothing. */
static void test_lvt_init_extint_rejected_for_cmci_thermal_perf(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    for (size_t i = 0; i < 3; i++) {
        th_clear_events(h);
        lw(l, lvt_off[raisable[i]], DM_INIT | 0x90);
        assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
        assert_int_equal(intc_lapic_pending(l), 0);
        th_assert_event_count(h, INTC_EV_REJECTED, 1);

        th_clear_events(h);
        lw(l, lvt_off[raisable[i]], DM_EXTINT | 0x90);
        assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
        assert_int_equal(intc_lapic_pending(l), 0);
        th_assert_event_count(h, INTC_EV_REJECTED, 1);
    }
    assert_false(intc_lapic_waiting_for_sipi(l));
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: delivery modes 001 (LVT has no lowest priority), 011 and
   110 are reserved: nothing is delivered, from any LVT with a mode. */
static void test_lvt_reserved_modes_deliver_nothing(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint32_t rsv[] = {DM_LOWEST, DM_RSV3, DM_SIPI};

    sw_enable(l);
    for (size_t j = 0; j < 3; j++) {
        for (size_t i = 0; i < 3; i++) {
            lw(l, lvt_off[raisable[i]], rsv[j] | 0x90);
            assert_int_equal(intc_lapic_raise_lvt(l, raisable[i]), INTC_OK);
            assert_int_equal(intc_lapic_pending(l), 0);
        }
        for (unsigned pin = 0; pin < 2; pin++) {
            lw(l, lvt_off[INTC_LVT_LINT0 + pin], rsv[j] | 0x90);
            assert_int_equal(intc_lapic_set_lint(l, pin, true), INTC_OK);
            assert_int_equal(intc_lapic_set_lint(l, pin, false), INTC_OK);
            assert_int_equal(intc_lapic_pending(l), 0);
        }
    }
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    th_assert_event_count(h, INTC_EV_SIPI, 0);
    check(m);
    intc_machine_free(m);
}

/* lapic.h (Intel behaviour): delivering a performance-monitoring
   interrupt sets the perf LVT's mask bit. */
static void test_perf_lvt_masked_after_delivery(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_PERF, DM_FIXED | 0x94);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_PERF), INTC_OK);
    assert_int_equal(irr(l, 0x94), 1);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_PERF), LVT_MASK | 0x94);
    /* A second PMI is not delivered until software unmasks. */
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_PERF), INTC_OK);
    assert_count_vec(h, INTC_EV_COALESCED, 0x94, 0);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x94, 1);

    lw(l, INTC_LAPIC_LVT_PERF, DM_NMI);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_PERF), INTC_OK);
    assert_true(intc_lapic_pending(l) & INTC_PEND_NMI);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_PERF), LVT_MASK | DM_NMI);
    /* Other LVTs are not masked by their delivery. */
    lw(l, INTC_LAPIC_LVT_THERMAL, DM_FIXED | 0x95);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_THERMAL), INTC_OK);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_THERMAL), DM_FIXED | 0x95);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1 / 11.5.3: the Error LVT delivers its vector when the APIC
   detects an error. */
static void test_error_lvt_delivers_on_esr_error(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_ERROR, 0x4e);
    /* An access to a reserved register (Table 11-1) is an error. */
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 4, &v), INTC_OK);
    assert_int_equal(v, 0);
    assert_int_equal(irr(l, 0x4e), 1);
    assert_int_equal(tmr(l, 0x4e), 0);
    assert_int_equal(intc_lapic_ack(l), 0x4e);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.4: at expiry the timer delivers the LVT Timer vector. */
static void test_timer_lvt_delivers_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_TIMER_DCR, 0xb);  /* divide by 1 */
    lw(l, INTC_LAPIC_LVT_TIMER, 0x4d); /* one-shot */
    lw(l, INTC_LAPIC_TIMER_ICR, 1000);
    assert_int_equal(h->deadline[0], 1000);
    h->now = 1000;
    assert_int_equal(intc_lapic_timer_expired(l, 1000), INTC_OK);
    assert_int_equal(irr(l, 0x4d), 1);
    assert_int_equal(tmr(l, 0x4d), 0);
    assert_int_equal(intc_lapic_ack(l), 0x4d);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: intc_lapic_raise_lvt takes only CMCI (when configured),
   thermal and perf. */
static void test_raise_lvt_rejects_other_sources(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.lvt_cmci = false;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_CMCI), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_TIMER), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_LINT0), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_LINT1), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_ERROR), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(l, INTC_LVT_COUNT), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_raise_lvt(NULL, INTC_LVT_THERMAL),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_pending(l), 0);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Error status register (11.5.3)
 * ================================================================ */

/* SDM 11.5.3 bit 4: a lowest-priority IPI on a processor that does not
   support it sets "Redirectable IPI" and is not sent. */
static void test_esr_redirectable_ipi(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.lowest_priority_ipi = false;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    sw_enable(l1);
    ipi(l0, 1, ICR_LOWEST | 0x50);
    assert_true(reg256_empty(l1, INTC_LAPIC_IRR0));
    assert_int_equal(esr_latch(l0), INTC_ESR_REDIRECTABLE_IPI);
    assert_int_equal(esr_latch(l1), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 5: sending a fixed/lowest-priority IPI with a vector
   0-15 sets "Send Illegal Vector" in the sender. */
static void test_esr_send_illegal_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    sw_enable(l1);
    ipi(l0, 1, ICR_FIXED | 0x05);
    assert_int_equal(esr_latch(l0), INTC_ESR_SEND_ILLEGAL_VECTOR);
    ipi(l0, 1, ICR_LOWEST | 0x0f);
    assert_int_equal(esr_latch(l0), INTC_ESR_SEND_ILLEGAL_VECTOR);
    assert_true(reg256_empty(l1, INTC_LAPIC_IRR0));
    assert_int_equal(esr_latch(l1), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 6: receiving an interrupt with vector 0-15 (here from
   LINT0) sets "Receive Illegal Vector". */
static void test_esr_receive_illegal_vector(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | 0x03);
    assert_int_equal(esr_latch(l), 0);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(esr_latch(l), INTC_ESR_RECV_ILLEGAL_VECTOR);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 7 (Table 11-1): access to a reserved register location
   sets "Illegal Register Address". */
static void test_esr_illegal_register_address(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    static const uint32_t rsv[] = {0x000, 0x010, 0x040, 0x070, 0x290, 0x2e0,
                                   0x3a0, 0x3d0, 0x3f0, 0x400, 0xff0};
    uint64_t v;

    sw_enable(l);
    for (size_t i = 0; i < sizeof(rsv) / sizeof(rsv[0]); i++) {
        assert_int_equal(intc_lapic_mmio_read(l, rsv[i], 4, &v), INTC_OK);
        assert_int_equal(v, 0);
        assert_int_equal(esr_latch(l), INTC_ESR_ILLEGAL_REGISTER);
        assert_int_equal(intc_lapic_mmio_write(l, rsv[i], 4, 0x41), INTC_OK);
        assert_int_equal(esr_latch(l), INTC_ESR_ILLEGAL_REGISTER);
    }
    /* xAPIC has no SELF IPI register: the write sent nothing. */
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 bit 2 (P6/Pentium APIC bus): an IPI nobody accepts sets
   "Send Accept Error" when configured; never otherwise. */
static void test_esr_send_accept_error(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_bus_errors = true;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l0 = intc_machine_lapic(m, 0);

    sw_enable(l0);
    ipi(l0, 7, ICR_FIXED | 0x50);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x50);
    assert_int_equal(esr_latch(l0), INTC_ESR_SEND_ACCEPT);
    check(m);
    intc_machine_free(m);

    cfg.apic_bus_errors = false;
    th_clear_events(h);
    m = th_machine(h, &cfg);
    l0 = intc_machine_lapic(m, 0);
    sw_enable(l0);
    ipi(l0, 7, ICR_FIXED | 0x50);
    th_assert_event(h, INTC_EV_NO_TARGET, 0, 0x50);
    assert_int_equal(esr_latch(l0), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3: errors are invisible until software writes ESR; the write
   makes the errors since the previous write readable and clears them. */
static void test_esr_write_to_latch(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    sw_enable(l);
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 4, &v), INTC_OK);
    ipi(l, 1, ICR_FIXED | 0x02);
    assert_int_equal(lr(l, INTC_LAPIC_ESR), 0); /* not latched yet */
    lw(l, INTC_LAPIC_ESR, 0xffffffffu);         /* the value is irrelevant */
    assert_int_equal(lr(l, INTC_LAPIC_ESR),
                     INTC_ESR_ILLEGAL_REGISTER | INTC_ESR_SEND_ILLEGAL_VECTOR);
    /* Reading again does not clear. */
    assert_int_equal(lr(l, INTC_LAPIC_ESR),
                     INTC_ESR_ILLEGAL_REGISTER | INTC_ESR_SEND_ILLEGAL_VECTOR);
    /* A new error stays hidden until the next write... */
    ipi(l, 1, ICR_FIXED | 0x03);
    assert_int_equal(lr(l, INTC_LAPIC_ESR),
                     INTC_ESR_ILLEGAL_REGISTER | INTC_ESR_SEND_ILLEGAL_VECTOR);
    /* ...which shows only what happened since the previous write. */
    assert_int_equal(esr_latch(l), INTC_ESR_SEND_ILLEGAL_VECTOR);
    assert_int_equal(esr_latch(l), 0);
    check(m);
    intc_machine_free(m);
}

/* brief/lapic design: the error interrupt fires for the first error after
   a (re)arm, i.e. once until software writes ESR. */
static void test_esr_error_interrupt_once_until_rearmed(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_ERROR, 0x4e);
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 4, &v), INTC_OK);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x4e, 1);
    assert_int_equal(intc_lapic_ack(l), 0x4e);
    eoi(l);
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 4, &v), INTC_OK);
    assert_int_equal(intc_lapic_mmio_read(l, 0x040, 4, &v), INTC_OK);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x4e, 1);
    assert_count_vec(h, INTC_EV_COALESCED, 0x4e, 0);
    assert_int_equal(irr(l, 0x4e), 0);
    /* Writing ESR re-arms it. */
    assert_int_equal(esr_latch(l), INTC_ESR_ILLEGAL_REGISTER);
    assert_int_equal(intc_lapic_mmio_read(l, 0x040, 4, &v), INTC_OK);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x4e, 2);
    assert_int_equal(irr(l, 0x4e), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3: a masked LVT Error only suppresses the interrupt; the
   error is still logged in ESR. */
static void test_esr_masked_error_lvt_still_logs(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v;

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_ERROR, LVT_MASK | 0x4e);
    assert_int_equal(intc_lapic_mmio_read(l, 0x010, 4, &v), INTC_OK);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    assert_int_equal(esr_latch(l), INTC_ESR_ILLEGAL_REGISTER);
    th_assert_event(h, INTC_EV_ESR_ERROR, 0, TH_ANY_VECTOR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.12.1.2 / 11.5.3: in x2APIC mode the ESR is latched by a WRMSR of
   0 (any other value faults). */
static void test_x2apic_esr_write_zero_latches(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    x2_enable(l);
    /* x2APIC SELF IPI with an illegal vector. */
    mw(l, X2MSR(INTC_LAPIC_SELF_IPI), 0x05);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_IRR0)), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0);
    assert_int_equal(intc_lapic_msr_write(l, X2MSR(INTC_LAPIC_ESR), 1),
                     INTC_ERR_GP);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0);
    mw(l, X2MSR(INTC_LAPIC_ESR), 0);
    uint64_t esr = mr(l, X2MSR(INTC_LAPIC_ESR));
    assert_true(esr & INTC_ESR_SEND_ILLEGAL_VECTOR);
    assert_int_equal(esr & ~(uint64_t)(INTC_ESR_SEND_ILLEGAL_VECTOR |
                                       INTC_ESR_RECV_ILLEGAL_VECTOR),
                     0);
    mw(l, X2MSR(INTC_LAPIC_ESR), 0);
    assert_int_equal(mr(l, X2MSR(INTC_LAPIC_ESR)), 0);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * LINT0 / LINT1 (11.5.1)
 * ================================================================ */

/* SDM 11.5.1: an edge-triggered fixed LINT interrupt is delivered on the
   rising (asserting) edge only. */
static void test_lint0_edge_fixed_rising_only(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | 0x52);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x52), 1);
    assert_int_equal(tmr(l, 0x52), 0);
    assert_int_equal(intc_lapic_ack(l), 0x52);
    eoi(l);
    /* Staying high, falling: nothing. */
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    assert_int_equal(irr(l, 0x52), 0);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x52, 1);
    /* Next rising edge: again. */
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x52), 1);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x52, 2);
    /* Edge entries have no Remote IRR. */
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: level-triggered fixed LINT0: Remote IRR is set when the
   interrupt is accepted and cleared by its EOI; while it is set the line
   does not deliver again; after EOI a still-asserted line re-delivers. */
static void test_lint0_level_remote_irr_and_redelivery(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | LVT_LEVEL_TRIG | 0x62);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x62), 1);
    assert_int_equal(tmr(l, 0x62), 1);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, LVT_RIRR);
    TH_IF_TRACED(h) {
        const intc_event *ev =
            th_find_event(h, INTC_EV_LVT_REMOTE_IRR, 0, 0x62);
        assert_non_null(ev);
        assert_int_equal(ev->pin, INTC_LVT_LINT0);
        assert_int_equal(ev->data, 1);
    }

    assert_int_equal(intc_lapic_ack(l), 0x62);
    /* Line toggles while Remote IRR is set: no new interrupt. */
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x62), 0);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x62, 1);

    th_clear_events(h);
    eoi(l);
    /* Remote IRR cleared, then set again by the re-delivery. */
    TH_IF_TRACED(h) {
        const intc_event *ev =
            th_find_event(h, INTC_EV_LVT_REMOTE_IRR, 0, 0x62);
        assert_non_null(ev);
        assert_int_equal(ev->data, 0);
    }
    assert_count_vec(h, INTC_EV_IRR_SET, 0x62, 1);
    assert_int_equal(irr(l, 0x62), 1);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, LVT_RIRR);
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: a level line de-asserted before the EOI is not delivered
   again; EOI still clears Remote IRR. */
static void test_lint0_level_deassert_before_eoi(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | LVT_LEVEL_TRIG | 0x62);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x62);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    eoi(l);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, 0);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    assert_count_vec(h, INTC_EV_IRR_SET, 0x62, 1);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    /* The next assertion is delivered normally. */
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(irr(l, 0x62), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: polarity 1 = active low: a falling electrical edge asserts
   an edge input; a low level asserts a level input. */
static void test_lint_polarity_active_low(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK); /* idle */
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | LVT_ACTIVE_LOW | 0x54);
    assert_int_equal(irr(l, 0x54), 0);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK); /* assert */
    assert_int_equal(irr(l, 0x54), 1);
    assert_int_equal(intc_lapic_ack(l), 0x54);
    eoi(l);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK); /* release */
    assert_int_equal(irr(l, 0x54), 0);

    /* Level, active low, on LINT0. */
    lw(l, INTC_LAPIC_LVT_LINT0,
       DM_FIXED | LVT_ACTIVE_LOW | LVT_LEVEL_TRIG | 0x55);
    assert_int_equal(irr(l, 0x55), 0); /* high = not asserted */
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    assert_int_equal(irr(l, 0x55), 1);
    assert_int_equal(tmr(l, 0x55), 1);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, LVT_RIRR);

    /* NMI on LINT1, active low: the falling edge. */
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    lw(l, INTC_LAPIC_LVT_LINT1, DM_NMI | LVT_ACTIVE_LOW);
    assert_false(intc_lapic_pending(l) & INTC_PEND_NMI);
    assert_int_equal(intc_lapic_set_lint(l, 1, false), INTC_OK);
    assert_true(intc_lapic_pending(l) & INTC_PEND_NMI);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: LINT1 has no level-sensitive mode; a fixed LINT1 entry
   behaves as edge-triggered whatever its trigger bit. */
static void test_lint1_level_treated_as_edge(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT1, DM_FIXED | LVT_LEVEL_TRIG | 0x53);
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(irr(l, 0x53), 1);
    assert_int_equal(tmr(l, 0x53), 0);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT1) & LVT_RIRR, 0);
    assert_int_equal(intc_lapic_ack(l), 0x53);
    eoi(l);
    /* Still high after EOI: no re-delivery, no EOI broadcast. */
    assert_int_equal(irr(l, 0x53), 0);
    assert_count_vec(h, INTC_EV_IRR_SET, 0x53, 1);
    th_assert_event_count(h, INTC_EV_EOI_BROADCAST, 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: NMI delivery is edge-sensitive: LINT1 NMI on the rising
   edge only. */
static void test_lint1_nmi_rising_edge(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT1, DM_NMI);
    assert_int_equal(intc_lapic_pending(l), 0);
    unsigned k = h->kicks[0];
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
    assert_true(h->kicks[0] > k);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_NMI, NULL), 1);
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_set_lint(l, 1, false), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
    th_assert_event_count(h, INTC_EV_NMI, 2);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: ExtINT on LINT0 is level-sensitive: the external
   controller's vector is wanted while the line is asserted and the entry
   unmasked. */
static void test_lint0_extint_pending_while_asserted(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_EXTINT);
    assert_int_equal(intc_lapic_pending(l), 0);
    unsigned k = h->kicks[0];
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_EXTINT);
    assert_true(h->kicks[0] > k);
    /* Taking it does not lower the PIC's line. */
    assert_int_equal(intc_lapic_take(l, INTC_PEND_EXTINT, NULL), 1);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_EXTINT);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_EXTINT, NULL), 0);
    /* Masked: nothing, even while high. */
    lw(l, INTC_LAPIC_LVT_LINT0, LVT_MASK | DM_EXTINT);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    lw(l, INTC_LAPIC_LVT_LINT0, DM_EXTINT);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_EXTINT);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.1: a level input is looked at as it is: unmasking an entry
   whose line is asserted delivers. */
static void test_unmask_asserted_level_line_delivers(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_LVT_LINT0, LVT_MASK | DM_FIXED | LVT_LEVEL_TRIG | 0x66);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    unsigned k = h->kicks[0];
    lw(l, INTC_LAPIC_LVT_LINT0, DM_FIXED | LVT_LEVEL_TRIG | 0x66);
    assert_int_equal(irr(l, 0x66), 1);
    assert_int_equal(tmr(l, 0x66), 1);
    assert_int_equal(lr(l, INTC_LAPIC_LVT_LINT0) & LVT_RIRR, LVT_RIRR);
    assert_true(h->kicks[0] > k);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.3 (through-local / virtual wire): with the APIC globally
   disabled LINT0 is the processor's INTR and LINT1 its NMI. */
static void test_globally_disabled_lint_through_local(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    uint64_t base = mr(l, INTC_MSR_APIC_BASE);
    mw(l, INTC_MSR_APIC_BASE, base & ~INTC_APIC_BASE_EN);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_set_lint(l, 0, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_EXTINT);
    assert_int_equal(intc_lapic_set_lint(l, 0, false), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    unsigned k = h->kicks[0];
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
    assert_true(h->kicks[0] > k);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_NMI, NULL), 1);
    assert_int_equal(intc_lapic_set_lint(l, 1, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_int_equal(intc_lapic_ack(l), INTC_ACK_NONE);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Taking signals (lapic.h intc_lapic_take)
 * ================================================================ */

/* lapic.h: take consumes a pending NMI, SMI or latched ExtINT message and
   returns 1; the next take returns 0. */
static void test_take_nmi_smi_extint(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);

    sw_enable(l0);
    sw_enable(l1);
    ipi(l0, 1, ICR_NMI);
    ipi(l0, 1, ICR_SMI);
    ipi(l0, 1, ICR_EXTINT);
    assert_int_equal(intc_lapic_pending(l1),
                     INTC_PEND_NMI | INTC_PEND_SMI | INTC_PEND_EXTINT);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_NMI, NULL), 1);
    assert_int_equal(intc_lapic_pending(l1), INTC_PEND_SMI | INTC_PEND_EXTINT);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_NMI, NULL), 0);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_SMI, NULL), 1);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_SMI, NULL), 0);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_EXTINT, NULL), 1);
    assert_int_equal(intc_lapic_take(l1, INTC_PEND_EXTINT, NULL), 0);
    assert_int_equal(intc_lapic_pending(l1), 0);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: take returns 0 for a signal that is not pending. */
static void test_take_not_pending_returns_zero(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint8_t sv = 0x5a;

    sw_enable(l);
    self_ipi(l, 0x40); /* INTR pending is not a takeable signal */
    assert_int_equal(intc_lapic_take(l, INTC_PEND_NMI, NULL), 0);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_SMI, NULL), 0);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_EXTINT, NULL), 0);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_INIT, NULL), 0);
    assert_int_equal(intc_lapic_take(l, INTC_PEND_SIPI, &sv), 0);
    assert_int_equal(sv, 0x5a);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    assert_int_equal(irr(l, 0x40), 1);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: what must be exactly one of NMI, SMI, INIT, SIPI, EXTINT;
   anything else is INTC_ERR_INVAL and takes nothing. */
static void test_take_bad_what_inval(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = intc_machine_lapic(m, 0), *l1 = intc_machine_lapic(m, 1);
    static const unsigned bad[] = {0,
                                   INTC_PEND_INTR,
                                   INTC_PEND_NMI | INTC_PEND_SMI,
                                   INTC_PEND_NMI | INTC_PEND_INTR,
                                   0x40,
                                   ~0u};

    sw_enable(l0);
    sw_enable(l1);
    ipi(l0, 1, ICR_NMI);
    ipi(l0, 1, ICR_SMI);
    self_ipi(l1, 0x40);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(intc_lapic_take(l1, bad[i], NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_take(NULL, INTC_PEND_NMI, NULL),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_lapic_pending(l1),
                     INTC_PEND_NMI | INTC_PEND_SMI | INTC_PEND_INTR);
    assert_int_equal(irr(l1, 0x40), 1);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Posted interrupts (lapic.h intc_lapic_post / intc_lapic_sync_pir)
 * ================================================================ */

/* lapic.h: post returns 1 for the first post since the last fold, else 0. */
static void test_post_returns_one_until_folded(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    assert_int_equal(intc_lapic_post(l, 0x50, false), 1);
    assert_int_equal(intc_lapic_post(l, 0x51, false), 0);
    assert_int_equal(intc_lapic_post(l, 0x50, false), 0);
    assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x50), 1);
    assert_int_equal(irr(l, 0x51), 1);
    assert_int_equal(intc_lapic_post(l, 0x52, false), 1);
    assert_int_equal(intc_lapic_post(l, 0x53, false), 0);
    /* Any call on the lapic folds (here an IRR read). */
    assert_int_equal(irr(l, 0x52), 1);
    assert_int_equal(intc_lapic_post(l, 0x54, false), 1);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: pending() already sees posted, unfolded vectors (and applies
   the PPR rule to them). */
static void test_pending_sees_posted_vectors(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    lw(l, INTC_LAPIC_TPR, 0x50);
    intc_lapic_post(l, 0x55, false);
    assert_int_equal(intc_lapic_pending(l), 0);
    intc_lapic_post(l, 0x61, false);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: ack folds posted vectors first, so INTA hands one back. */
static void test_ack_folds_posted(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    intc_lapic_post(l, 0x50, false);
    intc_lapic_post(l, 0x70, false);
    assert_int_equal(intc_lapic_ack(l), 0x70);
    assert_int_equal(isr(l, 0x70), 1);
    assert_int_equal(irr(l, 0x50), 1);
    assert_int_equal(irr(l, 0x70), 0);
    eoi(l);
    assert_int_equal(intc_lapic_ack(l), 0x50);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: sync_pir ORs an external 256-bit PIR image in as edge
   interrupts and kicks when that makes INTR pending. */
static void test_sync_pir_external_array(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t pir[4] = {0, 1ull << (0x48 - 64), 0, 1ull << (0xc3 - 192)};

    sw_enable(l);
    level_irq(l, 0x48); /* TMR set, then cleared by the edge from the PIR */
    assert_int_equal(intc_lapic_ack(l), 0x48);
    eoi(l);
    unsigned k = h->kicks[0];
    assert_int_equal(intc_lapic_sync_pir(l, pir), INTC_OK);
    assert_true(h->kicks[0] > k);
    assert_int_equal(irr(l, 0x48), 1);
    assert_int_equal(irr(l, 0xc3), 1);
    assert_int_equal(tmr(l, 0x48), 0);
    assert_int_equal(tmr(l, 0xc3), 0);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    /* The caller's array is not consumed. */
    assert_int_equal(pir[1], 1ull << (0x48 - 64));
    assert_int_equal(intc_lapic_ack(l), 0xc3);
    check(m);
    intc_machine_free(m);
}

/* lapic.h: a level post also sets the vector's TMR bit when folded. */
static void test_post_level_sets_tmr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    intc_lapic_post(l, 0x81, true);
    intc_lapic_post(l, 0x82, false);
    assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
    assert_int_equal(tmr(l, 0x81), 1);
    assert_int_equal(tmr(l, 0x82), 0);
    TH_IF_TRACED(h) {
        const intc_event *ev = th_find_event(h, INTC_EV_IRR_SET, 0, 0x81);
        assert_non_null(ev);
        assert_int_equal(ev->data, 1);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.4.7.2 + DESIGN ("never ask the host to take an interrupt for
   which no vector can be handed back"): a vector posted to a software-
   disabled APIC will be rejected when folded, so pending() must not
   announce it. */
static void test_post_to_sw_disabled_not_pending(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);

    intc_lapic_post(l, 0x50, false);
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_int_equal(intc_lapic_sync_pir(l, NULL), INTC_OK);
    assert_true(reg256_empty(l, INTC_LAPIC_IRR0));
    th_assert_event(h, INTC_EV_REJECTED, 0, 0x50);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * Re-entrancy (common.h)
 * ================================================================ */

typedef struct rctx {
    th_host *h;
    intc_machine *m;
    intc_lapic *l;
    /* event callback */
    bool tried;
    intc_err err[14];
    int ack;
    int peek;
    unsigned pending;
    intc_err check_err;
    uint8_t tpr;
    int post;
    /* kick callback */
    bool ack_in_kick;
    int kick_ack;
    intc_err kick_check;
    bool ipi_event_before_kick;
} rctx;

/* The kit's event hook: what the re-entrancy test calls from inside
   event(). */
static void rx_event(void *ctx, const intc_event *ev)
{
    rctx *c = ctx;
    uint64_t v;

    if (ev->type != INTC_EV_IRR_SET || c->tried || !c->l)
        return;
    c->tried = true;
    c->err[0] = intc_lapic_mmio_write(c->l, INTC_LAPIC_TPR, 4, 0xf0);
    c->err[1] = intc_lapic_mmio_read(c->l, INTC_LAPIC_TPR, 4, &v);
    c->err[2] =
        intc_lapic_msr_write(c->l, INTC_MSR_APIC_BASE, INTC_APIC_BASE_DEFAULT);
    c->err[3] = intc_lapic_msr_read(c->l, INTC_MSR_APIC_BASE, &v);
    c->err[4] = intc_lapic_set_tpr(c->l, 0xf0);
    c->err[5] = intc_lapic_set_lint(c->l, 0, true);
    c->err[6] = (intc_err)intc_lapic_take(c->l, INTC_PEND_NMI, NULL);
    c->err[7] = intc_lapic_sync_pir(c->l, NULL);
    c->err[8] = intc_lapic_raise_lvt(c->l, INTC_LVT_THERMAL);
    c->err[9] = intc_lapic_timer_expired(c->l, 0);
    c->err[10] = intc_lapic_reset(c->l, false);
    c->err[11] = intc_lapic_set_tsc_offset(c->l, 5);
    c->err[12] = intc_machine_reset(c->m);
    c->err[13] = intc_lapic_mmio_write(c->l, INTC_LAPIC_EOI, 4, 0);
    c->ack = intc_lapic_ack(c->l);
    /* Queries documented "safe from any callback". */
    c->peek = intc_lapic_ack_peek(c->l);
    c->pending = intc_lapic_pending(c->l);
    c->check_err = intc_machine_check(c->m, NULL, 0);
    c->tpr = intc_lapic_get_tpr(c->l);
    /* The one call safe from anywhere. */
    c->post = intc_lapic_post(c->l, 0x33, false);
}

/* The kit's kick hook (the kit has counted the kick). */
static void rx_kick(void *ctx, uint32_t cpu)
{
    rctx *c = ctx;

    if (!c->ack_in_kick || cpu != 0)
        return;
    c->ipi_event_before_kick =
        th_find_event(c->h, INTC_EV_IPI, 0, TH_ANY_VECTOR) != NULL;
    c->kick_ack = intc_lapic_ack(c->l);
    c->kick_check = intc_machine_check(c->m, NULL, 0);
}

/* probe_event: install the kit's event() even on an untraced host (the
   test is about calls from inside event()); no timer_arm, no DMA. */
static intc_machine *rx_machine(rctx *c, th_host *h, bool probe_event)
{
    memset(c, 0, sizeof(*c));
    c->h = h;
    if (probe_event)
        h->ops.event = kit_host_ops(true).event;
    h->ops.timer_arm = NULL;
    h->ops.dma_read = NULL;
    h->ops.dma_write = NULL;
    h->hooks = (kit_hooks){.ctx = c, .event = rx_event, .kick = rx_kick};
    c->m = th_machine(h, NULL);
    c->l = intc_machine_lapic(c->m, 0);
    return c->m;
}

/* common.h: from inside event() every state-changing call on the same
   machine returns INTC_ERR_BUSY and changes nothing (ack too, lapic.h);
   the query functions work, ack_peek among them. */
static void test_event_callback_mutating_calls_busy(void **state)
{
    th_host *h = *state;
    rctx c;
    intc_machine *m = rx_machine(&c, h, true);
    intc_lapic *l = c.l;

    sw_enable(l);
    self_ipi(l, 0x40);
    assert_true(c.tried);
    for (size_t i = 0; i < sizeof(c.err) / sizeof(c.err[0]); i++)
        if (c.err[i] != INTC_ERR_BUSY)
            fail_msg("call %zu from event(): %s, want BUSY", i,
                     intc_err_name(c.err[i]));
    assert_int_equal(c.ack, INTC_ERR_BUSY);
    assert_int_equal(c.peek, 0x40);
    assert_int_equal(c.pending, INTC_PEND_INTR);
    assert_int_equal(c.check_err, INTC_OK);
    assert_int_equal(c.tpr, 0);
    assert_int_equal(c.post, 1);
    /* Nothing changed. */
    assert_int_equal(lr(l, INTC_LAPIC_TPR), 0);
    assert_int_equal(lr(l, INTC_LAPIC_SVR), 0x1ff);
    assert_int_equal(mr(l, INTC_MSR_APIC_BASE), INTC_APIC_BASE_DEFAULT |
                                                    INTC_APIC_BASE_EN |
                                                    INTC_APIC_BASE_BSP);
    assert_int_equal(irr(l, 0x40), 1);
    assert_true(reg256_empty(l, INTC_LAPIC_ISR0));
    th_assert_no_event(h, INTC_EV_LINT, TH_ANY_CPU, TH_ANY_VECTOR);
    th_assert_no_event(h, INTC_EV_ACK, TH_ANY_CPU, TH_ANY_VECTOR);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_INTR);
    /* The post made from the callback was folded by the reads above. */
    assert_int_equal(irr(l, 0x33), 1);
    check(m);
    intc_machine_free(m);
}

/* common.h: kick() runs after the call that caused it has completed and
   may call back into the machine, e.g. to acknowledge the interrupt. */
static void test_kick_callback_may_ack(void **state)
{
    th_host *h = *state;
    rctx c;
    intc_machine *m = rx_machine(&c, h, false);
    intc_lapic *l = c.l;

    sw_enable(l);
    c.tried = true; /* no re-entrancy probing in event() here */
    c.ack_in_kick = true;
    c.kick_ack = -2;
    self_ipi(l, 0x40);
    assert_int_equal(h->n_kicks, 1);
    TH_IF_TRACED(h) /* the ICR write had finished */
        assert_true(c.ipi_event_before_kick);
    assert_int_equal(c.kick_ack, 0x40);
    assert_int_equal(c.kick_check, INTC_OK);
    assert_int_equal(isr(l, 0x40), 1);
    assert_int_equal(irr(l, 0x40), 0);
    th_assert_event(h, INTC_EV_ACK, 0, 0x40);
    check(m);
    intc_machine_free(m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* acceptance: IRR/ISR/TMR */
        T(test_fixed_ipi_sets_irr_and_kicks),
        T(test_kick_only_on_rising_edge),
        T(test_self_ipi_sets_irr_and_kicks),
        T(test_ack_moves_irr_to_isr),
        T(test_tmr_set_for_level_lint0),
        T(test_tmr_set_for_level_post),
        T(test_tmr_cleared_by_edge_acceptance),
        T(test_tmr_not_cleared_by_eoi),
        T(test_coalesced_when_irr_already_set),
        T(test_illegal_vectors_never_set_irr),
        /* priorities */
        T(test_ppr_grid),
        T(test_intr_only_above_ppr_class),
        T(test_tpr_raise_blocks_lower_reenables),
        T(test_cr8_path_is_tpr_register),
        T(test_ack_spurious_when_tpr_masks),
        T(test_ack_peek_matches_ack),
        T(test_ack_none_while_waiting_for_sipi),
        T(test_pending_level_kick_edge),
        T(test_nested_preemption_and_eoi_order),
        T(test_apr_formula),
        /* EOI */
        T(test_eoi_with_empty_isr_harmless),
        T(test_eoi_level_broadcasts_vector),
        T(test_eoi_edge_no_broadcast),
        T(test_directed_eoi_suppresses_broadcast),
        T(test_svr12_reserved_without_directed_eoi),
        T(test_version_advertises_directed_eoi),
        /* software disable */
        T(test_sw_disabled_rejects_fixed),
        T(test_sw_disabled_latches_nmi_smi_init),
        T(test_sw_disable_holds_irr_isr),
        T(test_sw_disable_forces_lvt_masks),
        /* LVT */
        T(test_lvt_fixed_delivers_vector),
        T(test_lvt_masked_delivers_nothing),
        T(test_lvt_nmi_and_smi_modes),
        T(test_lvt_init_extint_rejected_for_cmci_thermal_perf),
        T(test_lvt_reserved_modes_deliver_nothing),
        T(test_perf_lvt_masked_after_delivery),
        T(test_error_lvt_delivers_on_esr_error),
        T(test_timer_lvt_delivers_vector),
        T(test_raise_lvt_rejects_other_sources),
        /* ESR */
        T(test_esr_redirectable_ipi),
        T(test_esr_send_illegal_vector),
        T(test_esr_receive_illegal_vector),
        T(test_esr_illegal_register_address),
        T(test_esr_send_accept_error),
        T(test_esr_write_to_latch),
        T(test_esr_error_interrupt_once_until_rearmed),
        T(test_esr_masked_error_lvt_still_logs),
        T(test_x2apic_esr_write_zero_latches),
        /* LINT0/LINT1 */
        T(test_lint0_edge_fixed_rising_only),
        T(test_lint0_level_remote_irr_and_redelivery),
        T(test_lint0_level_deassert_before_eoi),
        T(test_lint_polarity_active_low),
        T(test_lint1_level_treated_as_edge),
        T(test_lint1_nmi_rising_edge),
        T(test_lint0_extint_pending_while_asserted),
        T(test_unmask_asserted_level_line_delivers),
        T(test_globally_disabled_lint_through_local),
        /* take */
        T(test_take_nmi_smi_extint),
        T(test_take_not_pending_returns_zero),
        T(test_take_bad_what_inval),
        /* posted interrupts */
        T(test_post_returns_one_until_folded),
        T(test_pending_sees_posted_vectors),
        T(test_ack_folds_posted),
        T(test_sync_pir_external_array),
        T(test_post_level_sets_tmr),
        T(test_post_to_sw_disabled_not_pending),
        /* re-entrancy */
        T(test_event_callback_mutating_calls_busy),
        T(test_kick_callback_may_ack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
