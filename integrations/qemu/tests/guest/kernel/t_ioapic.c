/*
 * The I/O APIC with an ISA line the guest drives itself through QEMU's
 * pc-testdev (hw/misc/pc-testdev.c: test_irq_line_write, a byte to port
 * 0x2000 + n calls qemu_set_irq(isa_get_irq(isa, n), value != 0)).  ISA
 * IRQ 14 is I/O APIC input 14 on q35 (identity, no interrupt source
 * override for it in QEMU's MADT; nothing else uses it there).
 *
 * Level: Remote IRR set on acceptance, held until the EOI whatever the
 * line does, the interrupt sent again after an EOI while the line is
 * still asserted (82093AA 3.2.4; SDM 11.8.4 TMR, 11.8.5 EOI broadcast).
 * Edge: one interrupt per rising edge, none for an edge while masked.
 * Lowest priority through the redirection table (11.6.2.4).
 */
#include "tests.h"

#define PIN 14
#define V_LEVEL 0x7a
#define V_EDGE 0x7b

static volatile uint32_t lvl_mode;
static volatile uint32_t in_rirr[4], in_tmr[4], in_isr[4], in_irr[4], rirr_lowered[4], rirr_eoi[4];

static void h_level(struct frame *f, struct cpu *c)
{
    unsigned n = c->cnt[f->vector];
    unsigned k = n < 4 ? n : 3;
    in_rirr[k] = !!(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR);
    in_tmr[k] = apic_tmr(V_LEVEL);
    in_isr[k] = apic_isr(V_LEVEL);
    in_irr[k] = apic_irr(V_LEVEL);
    if (lvl_mode == 0 || n >= 2) {
        isa_line(PIN, 0);
        rirr_lowered[k] = !!(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR);
    }
    apic_eoi();
    rirr_eoi[k] = !!(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR);
}

static int t_ioapic_level(void)
{
    struct cpu *me = this_cpu();
    handlers[V_LEVEL] = h_level;
    isa_line(PIN, 0);
    /* Fixed, physical destination the BSP, active high, level. */
    ioapic_set_rte(PIN, RTE_LEVEL | V_LEVEL, (uint8_t)me->apic_id);
    CHECK(!(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR), "Remote IRR set before any interrupt");

    /* 1: assert; the handler lowers the line, then EOIs. */
    lvl_mode = 0;
    reset_counts();
    isa_line(PIN, 1);
    CHECK(wait_ge(&me->cnt[V_LEVEL], 1, WAIT_MS), "level interrupt never delivered (RTE %x)",
          ioapic_rte_lo(PIN));
    delay_ms(SETTLE_MS);
    /* 82093AA 3.2.4: "this bit is set to 1 when local APIC(s) accept the
       level interrupt sent by the IOAPIC.  The Remote IRR bit is set to 0
       when an EOI message with a matching interrupt vector is received
       from a local APIC." */
    EXPECT(in_rirr[1], "Remote IRR clear in the handler");
    EXPECT(rirr_lowered[1], "Remote IRR cleared by lowering the line (before the EOI)");
    EXPECT(!rirr_eoi[1], "Remote IRR still set after the EOI");
    /* 11.8.4: TMR set for a level-triggered interrupt when accepted. */
    EXPECT(in_tmr[1], "TMR bit %x clear for the level-triggered interrupt", V_LEVEL);
    EXPECT(in_isr[1], "ISR bit %x clear in the handler", V_LEVEL);
    EXPECT(me->cnt[V_LEVEL] == 1, "taken %u times with the line lowered before the EOI", me->cnt[V_LEVEL]);

    /* 2: assert; the first handler EOIs with the line still high: the
       level is still asserted, so the interrupt comes again (no second
       message while Remote IRR was set: not in IRR in the handler). */
    lvl_mode = 1;
    reset_counts();
    isa_line(PIN, 1);
    CHECK(wait_ge(&me->cnt[V_LEVEL], 2, WAIT_MS), "after an EOI with the line still asserted: taken %u times",
          me->cnt[V_LEVEL]);
    delay_ms(SETTLE_MS);
    EXPECT(in_rirr[1] && in_rirr[2], "Remote IRR clear in a handler (%u, %u)", in_rirr[1], in_rirr[2]);
    EXPECT(!in_irr[1], "a second message reached IRR while Remote IRR was set");
    EXPECT(me->cnt[V_LEVEL] == 2, "taken %u times, expected 2", me->cnt[V_LEVEL]);
    EXPECT(!(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR), "Remote IRR set at the end");
    EXPECT(!(ioapic_rte_lo(PIN) & RTE_PENDING), "delivery status send-pending at the end");

    /* 3: Remote IRR holds off a new assertion until the EOI. */
    lvl_mode = 2;
    reset_counts();
    ioapic_set_rte(PIN, RTE_LEVEL | V_LEVEL, (uint8_t)me->apic_id);
    cli();
    isa_line(PIN, 1);
    delay_ms(5);
    isa_line(PIN, 0);
    isa_line(PIN, 1); /* a new assertion, Remote IRR still set */
    delay_ms(5);
    EXPECT(ioapic_rte_lo(PIN) & RTE_REMOTE_IRR, "Remote IRR clear while the interrupt waits in IRR");
    sti();
    CHECK(wait_ge(&me->cnt[V_LEVEL], 1, WAIT_MS), "held level interrupt never taken");
    /* The handler (mode 2, first call) EOIs with the line high: sent
       again; the second call lowers it. */
    wait_ge(&me->cnt[V_LEVEL], 2, WAIT_MS);
    delay_ms(SETTLE_MS);
    EXPECT(me->cnt[V_LEVEL] == 2, "re-assertion during Remote IRR: taken %u times, expected 2",
           me->cnt[V_LEVEL]);
    isa_line(PIN, 0);
    ioapic_set_rte(PIN, RTE_MASKED, 0);
    return soft_result();
}

static int t_ioapic_edge(void)
{
    struct cpu *me = this_cpu();
    handlers[V_EDGE] = h_observe_handler;
    isa_line(PIN, 0);
    ioapic_set_rte(PIN, V_EDGE, (uint8_t)me->apic_id);
    reset_counts();
    isa_line(PIN, 1);
    CHECK(wait_ge(&me->cnt[V_EDGE], 1, WAIT_MS), "edge interrupt never delivered");
    delay_ms(SETTLE_MS);
    EXPECT(me->cnt[V_EDGE] == 1, "one rising edge, %u interrupts", me->cnt[V_EDGE]);
    isa_line(PIN, 0);
    isa_line(PIN, 1);
    EXPECT(wait_ge(&me->cnt[V_EDGE], 2, WAIT_MS), "second rising edge not delivered");
    isa_line(PIN, 0);
    delay_ms(SETTLE_MS);
    EXPECT(me->cnt[V_EDGE] == 2, "two rising edges, %u interrupts", me->cnt[V_EDGE]);

    /* 82093AA 3.2.4: "Edge-sensitive interrupts signaled on a masked
       interrupt pin are ignored (i.e., not delivered or held pending)." */
    ioapic_write(0x10 + 2 * PIN, RTE_MASKED | V_EDGE);
    isa_line(PIN, 1);
    isa_line(PIN, 0);
    ioapic_write(0x10 + 2 * PIN, V_EDGE);
    delay_ms(SETTLE_MS);
    EXPECT(me->cnt[V_EDGE] == 2, "an edge while masked was delivered after unmasking");
    ioapic_set_rte(PIN, RTE_MASKED, 0);
    return soft_result();
}

static int send_lowest_rte(uint32_t mask, unsigned v)
{
    /* Lowest priority (delivery mode 001b), logical destination = the
       flat-model MDA (82093AA 3.2.4), edge; one rising edge. */
    isa_line(PIN, 0);
    ioapic_set_rte(PIN, RTE_LOGICAL | (1u << 8) | v, (uint8_t)mask);
    isa_line(PIN, 1);
    isa_line(PIN, 0);
    return RES_PASS;
}

static int t_ioapic_lowest_priority(void)
{
    TRY(set_logical_flat());
    int r = lowest_priority_rounds(send_lowest_rte, "I/O APIC lowest priority, logical flat");
    ioapic_set_rte(PIN, RTE_MASKED, 0);
    return r;
}

const struct test ioapic_tests[] = {
    {"ioapic_level", t_ioapic_level},
    {"ioapic_edge", t_ioapic_edge},
    {"ioapic_lowest_priority", t_ioapic_lowest_priority},
    {0, 0},
};
