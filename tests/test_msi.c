/*
 * Message-signalled interrupts: the decode of an interrupt message
 * (intc_msi_send; Intel SDM vol. 3A 11.11), the MSI-X table and PBA
 * (PCIe base spec 7.7.2) and the MSI capability (PCI Local Bus 3.0
 * 6.8.1).  Where a spec leaves a choice open, the test cites the
 * sentence of include/intc/msi.h (or the design brief) it checks.
 */
#include "lapic_util.h"

#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

/* Message address for a destination (SDM 11.11.1, Figure 11-24): bits
   19:12 destination 7:0, bits 11:5 destination 14:8 (extended). */
#define ADDR_DEST(d)                                                        \
    ((uint64_t)INTC_MSI_ADDR_BASE |                                         \
     ((uint64_t)((d) & 0xffu) << INTC_MSI_ADDR_DEST_SHIFT) |                \
     ((uint64_t)(((d) >> 8) & 0x7fu) << INTC_MSI_ADDR_EXT_DEST_SHIFT))
#define ADDR_LOG INTC_MSI_ADDR_LOGICAL
#define ADDR_RH INTC_MSI_ADDR_RH

/* Message data (SDM 11.11.2, Figure 11-25). */
#define D_DM(x) ((uint32_t)(x) << INTC_MSI_DATA_DM_SHIFT)
#define D_FIXED D_DM(0)
#define D_LOWEST D_DM(1)
#define D_SMI D_DM(2)
#define D_RSV3 D_DM(3)
#define D_NMI D_DM(4)
#define D_INIT D_DM(5)
#define D_RSV6 D_DM(6)
#define D_EXTINT D_DM(7)
#define D_ASSERT INTC_MSI_DATA_ASSERT
#define D_LEVEL INTC_MSI_DATA_LEVEL

#define SID 0x0108u /* requester ID 01:01.0 */

static void check(intc_machine *m)
{
    char msg[256] = "";
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

/* Bit v of ISR/TMR/IRR at base: through MMIO in xAPIC mode, through the
   MSRs in x2APIC mode (11.12.1.2). */
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

static uint32_t esr_latch(intc_lapic *l)
{
    lw(l, INTC_LAPIC_ESR, 0);
    return lr(l, INTC_LAPIC_ESR);
}

static intc_lapic *cpu(intc_machine *m, uint32_t i)
{
    intc_lapic *l = intc_machine_lapic(m, i);
    assert_non_null(l);
    return l;
}

/* Software-enable every CPU (xAPIC mode). */
static void enable_all(intc_machine *m)
{
    for (uint32_t i = 0; i < intc_machine_cpu_count(m); i++)
        sw_enable(cpu(m, i));
}

/* Flat logical model (11.6.2.2): DFR all ones, LDR[31:24] = bits. */
static void set_flat(intc_lapic *l, uint8_t bits)
{
    lw(l, INTC_LAPIC_DFR, 0xffffffffu);
    lw(l, INTC_LAPIC_LDR, (uint32_t)bits << 24);
}

static void send_ok(intc_machine *m, uint64_t addr, uint32_t data)
{
    assert_int_equal(intc_msi_send(m, addr, data, SID, NULL), INTC_OK);
}

/* No CPU of m has anything in IRR for v nor any pending signal. */
static void assert_nothing_delivered(intc_machine *m, unsigned v)
{
    for (uint32_t i = 0; i < intc_machine_cpu_count(m); i++) {
        intc_lapic *l = cpu(m, i);
        if (intc_lapic_pending(l) != 0)
            fail_msg("cpu %u: pending %#x", i, intc_lapic_pending(l));
        if (v >= 16 && irr(l, v))
            fail_msg("cpu %u: IRR[%#x] set", i, v);
    }
}

/* The message was dropped exactly once, for reason why (traced hosts),
   and nothing reached any APIC. */
static void assert_dropped(intc_machine *m, th_host *h, uint64_t addr,
                           uint32_t data, enum intc_msi_drop why)
{
    TH_IF_TRACED(h) {
        const intc_event *e =
            th_find_event(h, INTC_EV_MSI_DROPPED, TH_ANY_CPU, TH_ANY_VECTOR);
        if (!e) {
            th_dump_events(h);
            fail_msg("no MSI_DROPPED event for addr %#llx data %#x",
                     (unsigned long long)addr, data);
        }
        th_assert_event_count(h, INTC_EV_MSI_DROPPED, 1);
        assert_int_equal(e->data2 >> 32, why);
        assert_int_equal((uint32_t)e->data2, data);
        assert_int_equal(e->data, addr);
        assert_int_equal(e->pin, SID);
        th_assert_event_count(h, INTC_EV_MSI, 0);
        th_assert_event_count(h, INTC_EV_IRR_SET, 0);
    }
    assert_nothing_delivered(m, data & 0xff);
}

/* The last MSI event: reached count (data2 >> 32). */
static uint32_t msi_reached(const th_host *h)
{
    for (size_t i = h->n_events; i-- > 0;)
        if (h->events[i].type == INTC_EV_MSI)
            return (uint32_t)(h->events[i].data2 >> 32);
    fail_msg("no MSI event");
    return 0;
}

/* msi_reached() is n; traced hosts only. */
#define assert_msi_reached(h, n)                                             \
    do {                                                                     \
        TH_IF_TRACED(h) assert_int_equal(msi_reached(h), (n));               \
    } while (0)

/* What the re-entrancy test does from inside event() (common.h
   re-entrancy rules): the kit's event hook, context mctx. */
typedef struct mctx {
    th_host *h;
    intc_machine *m;
    intc_msix *x;
    intc_msi *c;
    bool tried;
    intc_err err[10];
    intc_msix *x_new;
    intc_msi *c_new;
} mctx;

static void mx_event(void *ctx, const intc_event *ev)
{
    mctx *c = ctx;
    uint64_t v;

    if (ev->type != INTC_EV_IRR_SET || c->tried || !c->m)
        return;
    c->tried = true;
    c->err[0] = intc_msi_send(c->m, ADDR_DEST(0), D_FIXED | 0x77, SID, NULL);
    c->err[1] = intc_msix_notify(c->x, 0, NULL);
    c->err[2] = intc_msix_table_write(c->x, 0, 4, 0xfee00000u);
    c->err[3] = intc_msix_table_read(c->x, 0, 4, &v);
    c->err[4] = intc_msix_set_control(c->x, false, false);
    c->err[5] = intc_msix_reset(c->x);
    c->err[6] = intc_msi_notify(c->c, 0, NULL);
    c->err[7] = intc_msi_config_write(c->c, 4, 4, 0xfee01000u);
    c->err[8] = intc_msi_reset(c->c);
    c->x_new = intc_msix_new(c->m, 4, SID, &c->err[9]);
    c->c_new = intc_msi_new(c->m, 0, false, false, SID, NULL);
}

/* A machine on h whose event() (installed even on an untraced host: the
   test is about calls from inside it) runs mx_event. */
static intc_machine *mx_machine(mctx *c, th_host *h,
                                const intc_machine_config *cfg)
{
    memset(c, 0, sizeof(*c));
    c->h = h;
    h->ops.event = kit_host_ops(true).event;
    h->hooks = (kit_hooks){.ctx = c, .event = mx_event};
    return th_machine(h, cfg);
}

/* ================================================================
 * intc_msi_send: destination decode (SDM 11.11.1)
 * ================================================================ */

/* msi.h: a NULL machine is host misuse. */
static void test_send_null_machine_inval(void **state)
{
    (void)state;
    assert_int_equal(intc_msi_send(NULL, ADDR_DEST(0), 0x40, SID, NULL),
                     INTC_ERR_INVAL);
}

/* SDM 11.11.1: DM=0 physical: bits 19:12 name one APIC ID; only that
   APIC accepts.  The MSI event reports address, data and reached count. */
static void test_send_physical_8bit_dest(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    enable_all(m);
    send_ok(m, ADDR_DEST(2), D_FIXED | 0x41);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(irr(cpu(m, i), 0x41), i == 2);
    assert_int_equal(tmr(cpu(m, 2), 0x41), 0); /* edge */
    assert_true(intc_lapic_pending(cpu(m, 2)) & INTC_PEND_INTR);
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_MSI, TH_ANY_CPU, 0x41);
        assert_non_null(e);
        assert_int_equal(e->pin, SID);
        assert_int_equal(e->data, ADDR_DEST(2));
        assert_int_equal(e->data2, (1ull << 32) | (D_FIXED | 0x41));
    }
    th_assert_no_event(h, INTC_EV_MSI_DROPPED, TH_ANY_CPU, TH_ANY_VECTOR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 with 11.6.2.1: physical destination 0xFF is the broadcast
   ID; every APIC accepts. */
static void test_send_physical_broadcast_ff(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    enable_all(m);
    send_ok(m, ADDR_DEST(0xff), D_FIXED | 0x42);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(irr(cpu(m, i), 0x42), 1);
    assert_msi_reached(h, 4);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1: a physical destination matching no APIC reaches nobody
   (INTC_EV_NO_TARGET), and the call still succeeds. */
static void test_send_physical_no_target(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    enable_all(m);
    send_ok(m, ADDR_DEST(7), D_FIXED | 0x43);
    assert_nothing_delivered(m, 0x43);
    assert_msi_reached(h, 0);
    th_assert_event(h, INTC_EV_NO_TARGET, TH_ANY_CPU, TH_ANY_VECTOR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 + 11.6.2.2: DM=1 logical, flat model: every APIC whose
   LDR shares a bit with the destination accepts (RH=0: no redirection,
   all of them). */
static void test_send_logical_flat_rh0_all(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    enable_all(m);
    for (uint32_t i = 0; i < 4; i++)
        set_flat(cpu(m, i), (uint8_t)(1u << i));
    /* Different TPRs do not matter without redirection. */
    lw(cpu(m, 0), INTC_LAPIC_TPR, 0x30);
    lw(cpu(m, 2), INTC_LAPIC_TPR, 0x10);
    send_ok(m, ADDR_DEST(0x05) | ADDR_LOG, D_FIXED | 0x50);
    assert_int_equal(irr(cpu(m, 0), 0x50), 1);
    assert_int_equal(irr(cpu(m, 1), 0x50), 0);
    assert_int_equal(irr(cpu(m, 2), 0x50), 1);
    assert_int_equal(irr(cpu(m, 3), 0x50), 0);
    assert_msi_reached(h, 2);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 + 11.6.2.2: logical, cluster model: MDA[7:4] cluster,
   MDA[3:0] members. */
static void test_send_logical_cluster(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    enable_all(m);
    for (uint32_t i = 0; i < 3; i++)
        lw(cpu(m, i), INTC_LAPIC_DFR, 0x0fffffffu);
    lw(cpu(m, 0), INTC_LAPIC_LDR, 0x11u << 24);
    lw(cpu(m, 1), INTC_LAPIC_LDR, 0x12u << 24);
    lw(cpu(m, 2), INTC_LAPIC_LDR, 0x21u << 24);
    send_ok(m, ADDR_DEST(0x13) | ADDR_LOG, D_FIXED | 0x51);
    assert_int_equal(irr(cpu(m, 0), 0x51), 1);
    assert_int_equal(irr(cpu(m, 1), 0x51), 1);
    assert_int_equal(irr(cpu(m, 2), 0x51), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 (destination ID) with the extended destination of msi.h:
   bits 11:5 are destination bits 14:8, so an x2APIC-mode CPU with an ID
   up to 32767 is addressable. */
static void test_send_ext_dest_reaches_x2apic_ids(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x1a5, 0x7fff, 0x2a5};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    sw_enable(cpu(m, 0));
    for (uint32_t i = 1; i < 4; i++)
        x2_enable(cpu(m, i));
    send_ok(m, ADDR_DEST(0x1a5), D_FIXED | 0x60);
    send_ok(m, ADDR_DEST(0x7fff), D_FIXED | 0x61);
    send_ok(m, ADDR_DEST(0x2a5), D_FIXED | 0x62);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(irr(cpu(m, i), 0x60), i == 1);
        assert_int_equal(irr(cpu(m, i), 0x61), i == 2);
        assert_int_equal(irr(cpu(m, i), 0x62), i == 3);
    }
    check(m);
    intc_machine_free(m);
}

/* msi.h: a destination above 0xFF is compared as an x2APIC ID; an APIC
   still in xAPIC mode (8-bit ID = low byte of its initial ID) is not
   reached by it.  After the switch to x2APIC mode it is. */
static void test_send_ext_dest_needs_x2apic_mode(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x1a5};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    intc_lapic *l1 = cpu(m, 1);

    enable_all(m);
    send_ok(m, ADDR_DEST(0x1a5), D_FIXED | 0x63);
    assert_nothing_delivered(m, 0x63);
    assert_msi_reached(h, 0);
    x2_enable(l1);
    send_ok(m, ADDR_DEST(0x1a5), D_FIXED | 0x63);
    assert_int_equal(irr(l1, 0x63), 1);
    assert_int_equal(irr(cpu(m, 0), 0x63), 0);
    check(m);
    intc_machine_free(m);
}

/* msi.h: "a dest > 0xFF is compared as an x2APIC ID (no 0xFF
   broadcast)": 0x1FF and 0x2FF name single CPUs; only the 8-bit 0xFF is
   the broadcast. */
static void test_send_ext_dest_1ff_not_broadcast(void **state)
{
    th_host *h = *state;
    static const uint32_t ids[] = {0, 0x1ff, 0x2ff};
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 3;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);

    for (uint32_t i = 0; i < 3; i++)
        x2_enable(cpu(m, i));
    send_ok(m, ADDR_DEST(0x1ff), D_FIXED | 0x64);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(irr(cpu(m, i), 0x64), i == 1);
    assert_msi_reached(h, 1);
    send_ok(m, ADDR_DEST(0x2ff), D_FIXED | 0x65);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(irr(cpu(m, i), 0x65), i == 2);
    send_ok(m, ADDR_DEST(0xff), D_FIXED | 0x66);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(irr(cpu(m, i), 0x66), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 (bits 11:4 reserved) with msi_ext_dest=false: a message
   with any of bits 11:5 set is dropped (RESERVED_ADDR); with them clear
   it is delivered. */
static void test_send_ext_dest_off_drops_bits_11_5(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.msi_ext_dest = false;
    intc_machine *m = th_machine(h, &cfg);

    enable_all(m);
    for (unsigned b = 5; b <= 11; b++) {
        uint64_t addr = ADDR_DEST(1) | 1u << b;
        th_clear_events(h);
        send_ok(m, addr, D_FIXED | 0x67);
        assert_dropped(m, h, addr, D_FIXED | 0x67,
                       INTC_MSI_DROP_RESERVED_ADDR);
    }
    send_ok(m, ADDR_DEST(1), D_FIXED | 0x67);
    assert_int_equal(irr(cpu(m, 1), 0x67), 1);
    check(m);
    intc_machine_free(m);
}

/* ---- redirection hint (SDM 11.11.1) ---- */

/* SDM 11.11.1: RH=1, DM=1: the message goes to the lowest-priority
   processor of the logical destination set (TPR decides). */
static void test_send_rh_logical_lowest_priority(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 4);

    enable_all(m);
    for (uint32_t i = 0; i < 4; i++)
        set_flat(cpu(m, i), (uint8_t)(1u << i));
    lw(cpu(m, 0), INTC_LAPIC_TPR, 0x30);
    lw(cpu(m, 1), INTC_LAPIC_TPR, 0x10);
    lw(cpu(m, 2), INTC_LAPIC_TPR, 0x20);
    lw(cpu(m, 3), INTC_LAPIC_TPR, 0x00); /* not in the destination */
    send_ok(m, ADDR_DEST(0x07) | ADDR_LOG | ADDR_RH, D_FIXED | 0x70);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(irr(cpu(m, i), 0x70), i == 1);
    assert_msi_reached(h, 1);

    /* Now CPU 2 has the lowest priority among CPUs 0-2 (CPU 1's TPR
       raised; its pending 0x70 would raise its APR anyway). */
    lw(cpu(m, 1), INTC_LAPIC_TPR, 0x40);
    send_ok(m, ADDR_DEST(0x07) | ADDR_LOG | ADDR_RH, D_FIXED | 0x71);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(irr(cpu(m, i), 0x71), i == 2);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1: delivery mode 001 (lowest priority) with RH=0 is also
   delivered to the lowest-priority member of the set only. */
static void test_send_lowest_mode_logical_rh0(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    enable_all(m);
    for (uint32_t i = 0; i < 3; i++)
        set_flat(cpu(m, i), (uint8_t)(1u << i));
    lw(cpu(m, 0), INTC_LAPIC_TPR, 0x50);
    lw(cpu(m, 1), INTC_LAPIC_TPR, 0x40);
    lw(cpu(m, 2), INTC_LAPIC_TPR, 0x60);
    send_ok(m, ADDR_DEST(0x07) | ADDR_LOG, D_LOWEST | 0x72);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(irr(cpu(m, i), 0x72), i == 1);
    assert_msi_reached(h, 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1: "If RH = 1 and DM = 0, ... only the processor in the
   system that has the matching APIC ID is considered for delivery (this
   means no re-direction)": the named CPU gets it although others have a
   lower priority. */
static void test_send_rh_physical_unicast_no_redirection(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    enable_all(m);
    lw(cpu(m, 0), INTC_LAPIC_TPR, 0xe0);
    send_ok(m, ADDR_DEST(0) | ADDR_RH, D_FIXED | 0x73);
    assert_int_equal(irr(cpu(m, 0), 0x73), 1);
    assert_int_equal(irr(cpu(m, 1), 0x73), 0);
    assert_int_equal(irr(cpu(m, 2), 0x73), 0);
    check(m);
    intc_machine_free(m);
}

/* msi.h: "RH=1 makes a fixed message lowest-priority among the
   destinations": the physical broadcast with RH=1 reaches only the
   lowest-priority CPU of the system. */
static void test_send_rh_physical_broadcast_lowest(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 3);

    enable_all(m);
    lw(cpu(m, 0), INTC_LAPIC_TPR, 0x30);
    lw(cpu(m, 1), INTC_LAPIC_TPR, 0x20);
    lw(cpu(m, 2), INTC_LAPIC_TPR, 0x10);
    send_ok(m, ADDR_DEST(0xff) | ADDR_RH, D_FIXED | 0x74);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(irr(cpu(m, i), 0x74), i == 2);
    assert_msi_reached(h, 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.6.2.4 / 11.11.1: a software-disabled APIC is no candidate for
   a redirected message; the enabled one wins even at a higher TPR. */
static void test_send_rh_skips_sw_disabled(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = cpu(m, 0), *l1 = cpu(m, 1);

    sw_enable(l0);
    lw(l0, INTC_LAPIC_TPR, 0x80);
    set_flat(l0, 0x01);
    set_flat(l1, 0x02); /* l1 stays software-disabled (SVR=0xFF) */
    send_ok(m, ADDR_DEST(0x03) | ADDR_LOG | ADDR_RH, D_FIXED | 0x90);
    assert_int_equal(irr(l0, 0x90), 1);
    assert_int_equal(irr(l1, 0x90), 0);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * intc_msi_send: data decode (SDM 11.11.2)
 * ================================================================ */

/* SDM 11.11.2 (Delivery Mode): Fixed, Lowest Priority, SMI, NMI, INIT
   and ExtINT are each delivered as that kind of interrupt. */
static void test_send_each_delivery_mode(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l0 = cpu(m, 0), *l1 = cpu(m, 1);

    enable_all(m);
    send_ok(m, ADDR_DEST(1), D_FIXED | 0x80);
    assert_int_equal(irr(l1, 0x80), 1);
    assert_int_equal(intc_lapic_ack(l1), 0x80);
    lw(l1, INTC_LAPIC_EOI, 0);

    send_ok(m, ADDR_DEST(1), D_LOWEST | 0x81);
    assert_int_equal(irr(l1, 0x81), 1);
    assert_int_equal(intc_lapic_ack(l1), 0x81);
    lw(l1, INTC_LAPIC_EOI, 0);
    assert_int_equal(intc_lapic_pending(l1), 0);

    static const struct {
        uint32_t dm;
        unsigned pend;
        intc_event_type ev;
    } sig[] = {
        {D_SMI, INTC_PEND_SMI, INTC_EV_SMI},
        {D_NMI, INTC_PEND_NMI, INTC_EV_NMI},
        {D_INIT, INTC_PEND_INIT, INTC_EV_INIT},
        {D_EXTINT, INTC_PEND_EXTINT, INTC_EV_EXTINT},
    };
    for (size_t i = 0; i < sizeof(sig) / sizeof(sig[0]); i++) {
        th_clear_events(h);
        send_ok(m, ADDR_DEST(1), sig[i].dm);
        assert_int_equal(intc_lapic_pending(l1), sig[i].pend);
        assert_int_equal(intc_lapic_pending(l0), 0);
        th_assert_event(h, sig[i].ev, 1, TH_ANY_VECTOR);
        assert_msi_reached(h, 1);
        assert_int_equal(intc_lapic_take(l1, sig[i].pend, NULL), 1);
        if (sig[i].pend == INTC_PEND_INIT) {
            /* Taking INIT on an AP waits for SIPI (11.4.7.3); bring the
               APIC back for the next message. */
            assert_int_equal(intc_lapic_reset(l1, false), INTC_OK);
            sw_enable(l1);
        }
        assert_int_equal(intc_lapic_pending(l1), 0);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2: delivery modes 011b and 110b are reserved for messages;
   msi.h: dropped with RESERVED_MODE, nothing reaches an APIC. */
static void test_send_reserved_modes_dropped(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);

    enable_all(m);
    const uint32_t dms[] = {D_RSV3, D_RSV6};
    for (size_t i = 0; i < 2; i++) {
        th_clear_events(h);
        send_ok(m, ADDR_DEST(1), dms[i] | 0x82);
        assert_dropped(m, h, ADDR_DEST(1), dms[i] | 0x82,
                       INTC_MSI_DROP_RESERVED_MODE);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2 (Trigger Mode) with 11.8.4: a level-triggered assert
   message sets TMR with IRR; its EOI is broadcast (11.8.5). */
static void test_send_level_sets_tmr_eoi_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l1 = cpu(m, 1);

    enable_all(m);
    send_ok(m, ADDR_DEST(1), D_FIXED | D_LEVEL | D_ASSERT | 0x84);
    assert_int_equal(irr(l1, 0x84), 1);
    assert_int_equal(tmr(l1, 0x84), 1);
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_IRR_SET, 1, 0x84);
        assert_non_null(e);
        assert_int_equal(e->data, 1);
    }
    assert_int_equal(intc_lapic_ack(l1), 0x84);
    lw(l1, INTC_LAPIC_EOI, 0);
    assert_int_equal(isr(l1, 0x84), 0);
    th_assert_event(h, INTC_EV_EOI_BROADCAST, 1, 0x84);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2: an edge message clears TMR and its EOI is not
   broadcast. */
static void test_send_edge_no_eoi_broadcast(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    send_ok(m, ADDR_DEST(0), D_FIXED | 0x85);
    assert_int_equal(tmr(l, 0x85), 0);
    assert_int_equal(intc_lapic_ack(l), 0x85);
    lw(l, INTC_LAPIC_EOI, 0);
    th_assert_no_event(h, INTC_EV_EOI_BROADCAST, TH_ANY_CPU, TH_ANY_VECTOR);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2 (Level): a level-triggered de-assert message (bit 15=1,
   bit 14=0) is dropped (DEASSERT); for an edge message bit 14 is not
   used, so an edge "de-assert" is delivered. */
static void test_send_level_deassert_dropped(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    send_ok(m, ADDR_DEST(0), D_FIXED | D_LEVEL | 0x86);
    assert_dropped(m, h, ADDR_DEST(0), D_FIXED | D_LEVEL | 0x86,
                   INTC_MSI_DROP_DEASSERT);
    assert_int_equal(tmr(l, 0x86), 0);
    th_clear_events(h);
    send_ok(m, ADDR_DEST(0), D_FIXED | 0x86);
    assert_int_equal(irr(l, 0x86), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2 (Figure 11-25: bits 31:16 reserved); msi.h: dropped with
   RESERVED_DATA. */
static void test_send_reserved_data_bits_dropped(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);

    enable_all(m);
    const uint32_t hi[] = {1u << 16, 1u << 24, 0x80000000u, 0xffff0000u};
    for (size_t i = 0; i < 4; i++) {
        th_clear_events(h);
        send_ok(m, ADDR_DEST(0), hi[i] | D_FIXED | 0x87);
        assert_dropped(m, h, ADDR_DEST(0), hi[i] | D_FIXED | 0x87,
                       INTC_MSI_DROP_RESERVED_DATA);
    }
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1: interrupt messages are writes to 0xFEExxxxx; msi.h: any
   other address (including one with bits above 31 set) is not decoded
   (an ordinary memory write for the host).  No interrupt results, and a
   trace, if any, says NOT_INTERRUPT. */
static void test_send_non_fee_address_not_decoded(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);

    enable_all(m);
    const uint64_t addrs[] = {0,
                              0xfed00000ull,
                              0xfef00000ull,
                              0xfeeffffcull + 4,
                              0xffe00000ull,
                              0x1fee00000ull,
                              0x100000000ull | INTC_MSI_ADDR_BASE,
                              0xfffffffffee00000ull,
                              0x8000000000000000ull | INTC_MSI_ADDR_BASE};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        th_clear_events(h);
        assert_int_equal(intc_msi_send(m, addrs[i], D_FIXED | 0x88, SID, NULL),
                         INTC_ERR_NOT_DECODED);
        th_assert_event_count(h, INTC_EV_MSI, 0);
        th_assert_event_count(h, INTC_EV_IRR_SET, 0);
        assert_nothing_delivered(m, 0x88);
        TH_IF_TRACED(h) {
            const intc_event *e = th_find_event(h, INTC_EV_MSI_DROPPED,
                                                TH_ANY_CPU, TH_ANY_VECTOR);
            if (e)
                assert_int_equal(e->data2 >> 32, INTC_MSI_DROP_NOT_INTERRUPT);
        }
    }
    send_ok(m, ADDR_DEST(0), D_FIXED | 0x88);
    assert_int_equal(irr(cpu(m, 0), 0x88), 1);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.1 (bit 4 reserved in the compatibility format; VT-d 5.1.5.2
   remappable format): with no IOMMU the remappable message is dropped
   (NO_REMAPPING). */
static void test_send_remappable_without_iommu_dropped(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);

    enable_all(m);
    assert_null(intc_machine_iommu(m));
    uint64_t addr = ADDR_DEST(0) | INTC_MSI_ADDR_REMAPPABLE;
    send_ok(m, addr, D_FIXED | 0x89);
    assert_dropped(m, h, addr, D_FIXED | 0x89, INTC_MSI_DROP_NO_REMAPPING);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.5.3 / 11.11.2: vectors 0-15 are illegal; the message reaches
   the APIC, which rejects it and logs ESR[6] (receive illegal vector)
   without setting IRR. */
static void test_send_low_vectors_rejected_by_lapic(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    esr_latch(l);
    for (unsigned v = 0; v < 16; v++) {
        th_clear_events(h);
        send_ok(m, ADDR_DEST(0), D_FIXED | v);
        th_assert_event_count(h, INTC_EV_MSI_DROPPED, 0);
        th_assert_event_count(h, INTC_EV_IRR_SET, 0);
        th_assert_event(h, INTC_EV_ESR_ERROR, 0, TH_ANY_VECTOR);
        assert_int_equal(esr_latch(l), INTC_ESR_RECV_ILLEGAL_VECTOR);
        assert_int_equal(lr(l, INTC_LAPIC_IRR0), 0);
        assert_int_equal(intc_lapic_pending(l), 0);
    }
    check(m);
    intc_machine_free(m);
}

/* common.h: from inside event() every mutating call on the machine
   returns INTC_ERR_BUSY and changes nothing (creation calls return
   NULL with BUSY). */
static void test_calls_from_event_callback_busy(void **state)
{
    th_host *h = *state;
    mctx c;
    intc_machine *m = mx_machine(&c, h, NULL);
    intc_lapic *l = cpu(m, 0);
    intc_err err;

    c.x = intc_msix_new(m, 2, SID, &err);
    assert_non_null(c.x);
    c.c = intc_msi_new(m, 0, false, false, SID, &err);
    assert_non_null(c.c);
    assert_int_equal(intc_msix_table_write(c.x, 0, 4, 0xfee00000u), INTC_OK);
    assert_int_equal(intc_msix_table_write(c.x, 8, 4, 0x55), INTC_OK);
    assert_int_equal(intc_msix_table_write(c.x, 12, 4, 0), INTC_OK);
    assert_int_equal(intc_msix_set_control(c.x, true, false), INTC_OK);
    sw_enable(l);
    c.m = m; /* arm the callback */
    send_ok(m, ADDR_DEST(0), D_FIXED | 0x40);
    assert_true(c.tried);
    for (size_t i = 0; i < sizeof(c.err) / sizeof(c.err[0]); i++)
        if (c.err[i] != INTC_ERR_BUSY)
            fail_msg("call %zu from event(): %s, want BUSY", i,
                     intc_err_name(c.err[i]));
    assert_null(c.x_new);
    assert_null(c.c_new);
    /* Nothing changed: only the outer message arrived. */
    assert_int_equal(irr(l, 0x40), 1);
    assert_int_equal(irr(l, 0x77), 0);
    assert_int_equal(irr(l, 0x55), 0);
    uint64_t v;
    assert_int_equal(intc_msix_table_read(c.x, 8, 4, &v), INTC_OK);
    assert_int_equal(v, 0x55);
    uint32_t a;
    assert_int_equal(intc_msi_config_read(c.c, 4, 4, &a), INTC_OK);
    assert_int_equal(a, 0);
    check(m);
    intc_machine_free(m);
}

/* Robustness (STYLE rule 6: guest input never breaks the model): 100k
   pseudo-random (address, data) pairs — mostly in the interrupt window,
   a mix of xAPIC and x2APIC receivers, interleaved with the CPUs taking
   what arrives — never crash, every result is OK or NOT_DECODED as the
   address says, and the machine stays consistent. */
static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s;
}

static const uint32_t sweep_ids[] = {0, 1, 0x1a5, 0x7fff, 0x20, 0x3};

/* CPUs 2 and 3 in x2APIC mode, the others xAPIC flat logical. */
static void sweep_setup_cpu(intc_machine *m, uint32_t i)
{
    if (i == 2 || i == 3) {
        x2_enable(cpu(m, i));
    } else {
        sw_enable(cpu(m, i));
        set_flat(cpu(m, i), (uint8_t)(1u << i));
    }
}

/* The CPU takes whatever is pending; an AP that took INIT is RESET and
   set up again so that it keeps receiving. */
static void sweep_drain(intc_machine *m, uint32_t i)
{
    static const unsigned sigs[] = {INTC_PEND_NMI, INTC_PEND_SMI,
                                    INTC_PEND_SIPI, INTC_PEND_EXTINT,
                                    INTC_PEND_INIT};
    intc_lapic *l = cpu(m, i);
    for (int k = 0; k < 300 && (intc_lapic_pending(l) & INTC_PEND_INTR); k++) {
        int v = intc_lapic_ack(l);
        assert_true(v >= 16 && v <= 255);
        /* xAPIC: MMIO EOI; x2APIC: MSR EOI. */
        if (intc_lapic_mmio_write(l, INTC_LAPIC_EOI, 4, 0) ==
            INTC_ERR_NOT_DECODED)
            assert_int_equal(intc_lapic_msr_write(l, 0x80b, 0), INTC_OK);
    }
    for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
        assert_true(intc_lapic_take(l, sigs[k], NULL) >= 0);
    if (intc_lapic_waiting_for_sipi(l) ||
        !(mr(l, INTC_MSR_APIC_BASE) & INTC_APIC_BASE_EN) ||
        ((i == 2 || i == 3) &&
         !(mr(l, INTC_MSR_APIC_BASE) & INTC_APIC_BASE_EXTD))) {
        assert_int_equal(intc_lapic_reset(l, false), INTC_OK);
        sweep_setup_cpu(m, i);
    } else if (i == 2 || i == 3) {
        mw(l, X2MSR(INTC_LAPIC_SVR), 0x1ff); /* INIT: SVR back to 0xFF */
    } else {
        sweep_setup_cpu(m, i);
    }
}

/* Count (and forget) the recorded MSI events that reached an APIC. */
static unsigned sweep_count_reached(th_host *h)
{
    unsigned n = 0;
    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == INTC_EV_MSI &&
             (h->events[i].data2 >> 32) != 0;
    th_clear_events(h);
    return n;
}

static void test_send_random_sweep(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 6;
    cfg.apic_ids = sweep_ids;
    intc_machine *m = th_machine(h, &cfg);
    uint64_t s = 0x1234567887654321ull;
    unsigned in_window = 0, not_decoded = 0, reached = 0;

    for (uint32_t i = 0; i < 6; i++)
        sweep_setup_cpu(m, i);
    th_clear_events(h);
    for (unsigned i = 0; i < 100000; i++) {
        uint64_t r1 = lcg_next(&s), r2 = lcg_next(&s);
        uint64_t addr;
        uint32_t data = (uint32_t)(r1 >> 13);
        switch (r1 >> 61) {
        case 0: /* anything */
            addr = r2;
            break;
        case 1: /* near the window, some high bits */
            addr = (r2 & 0xffffffffull) | (r1 & 0xfull) << 32;
            break;
        case 2:
        case 3: /* any address in the window */
            addr = INTC_MSI_ADDR_BASE | (r2 & 0xfffff);
            break;
        default: { /* a well-formed message to a likely destination */
            static const uint32_t dests[] = {0, 1, 0x1a5, 0x7fff,
                                             0x20, 0x3, 0xff, 0x3f};
            addr = ADDR_DEST(dests[r2 & 7]) | (r2 & 0xc) |
                   ((r2 >> 8 & 31) ? 0 : INTC_MSI_ADDR_REMAPPABLE);
            data &= 0xc7ff;
            if (!(r2 >> 16 & 63))
                data |= 1u << (16 + (r2 >> 24 & 15));
            break;
        }
        }
        if ((r1 >> 61) < 4 && (r1 & 0x100))
            data &= 0xffff;
        intc_err err = intc_msi_send(m, addr, data, (uint16_t)r1, NULL);
        bool window = (addr & ~0xfffffull) == INTC_MSI_ADDR_BASE;
        if (err != (window ? INTC_OK : INTC_ERR_NOT_DECODED))
            fail_msg("iteration %u: addr %#llx data %#x -> %s", i,
                     (unsigned long long)addr, data, intc_err_name(err));
        if (window)
            in_window++;
        else
            not_decoded++;
        if ((i & 63) == 63) {
            reached += sweep_count_reached(h);
            for (uint32_t c = 0; c < 6; c++)
                sweep_drain(m, c);
            th_clear_events(h);
        }
        if ((i & 4095) == 0)
            check(m);
    }
    assert_true(in_window > 50000);
    assert_true(not_decoded > 1000);
    TH_IF_TRACED(h) /* counted from the MSI events */
        assert_true(reached > 20000);
    for (uint32_t c = 0; c < 6; c++)
        sweep_drain(m, c);
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * MSI-X (PCIe 7.7.2)
 * ================================================================ */

/* Table entry field offsets (PCIe 7.7.2, Figure 7-... MSI-X Table). */
#define E_ADDR_LO 0u
#define E_ADDR_HI 4u
#define E_DATA 8u
#define E_CTRL 12u
#define ENTRY(v) (16u * (uint32_t)(v))

static uint64_t xr(intc_msix *x, uint32_t off, unsigned size)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_msix_table_read(x, off, size, &v), INTC_OK);
    return v;
}

static void xw(intc_msix *x, uint32_t off, unsigned size, uint64_t val)
{
    assert_int_equal(intc_msix_table_write(x, off, size, val), INTC_OK);
}

static uint64_t pba(intc_msix *x, uint32_t off, unsigned size)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_msix_pba_read(x, off, size, &v), INTC_OK);
    return v;
}

/* Program entry v (address, data, mask) with aligned dword writes. */
static void xprog(intc_msix *x, uint16_t v, uint64_t addr, uint32_t data,
                  bool masked)
{
    xw(x, ENTRY(v) + E_ADDR_LO, 4, (uint32_t)addr);
    xw(x, ENTRY(v) + E_ADDR_HI, 4, (uint32_t)(addr >> 32));
    xw(x, ENTRY(v) + E_DATA, 4, data);
    xw(x, ENTRY(v) + E_CTRL, 4, masked ? 1u : 0u);
}

static intc_msix *xnew(intc_machine *m, uint16_t nvec)
{
    intc_err err = INTC_ERR_INVAL;
    intc_msix *x = intc_msix_new(m, nvec, SID, &err);
    assert_int_equal(err, INTC_OK);
    assert_non_null(x);
    return x;
}

/* msi.h: nvec 0 and nvec > 2048 (PCIe 7.7.2: Table Size is 11 bits,
   at most 2048 entries) are INVAL; 1 and 2048 work; NULL machine. */
static void test_msix_new_limits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_err err = INTC_OK;

    assert_null(intc_msix_new(m, 0, SID, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    err = INTC_OK;
    assert_null(intc_msix_new(m, 2049, SID, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    err = INTC_OK;
    assert_null(intc_msix_new(NULL, 4, SID, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    assert_null(intc_msix_new(m, 0, SID, NULL)); /* err may be NULL */

    intc_msix *big = xnew(m, INTC_MSIX_MAX_VECTORS);
    intc_msix *one = xnew(m, 1);
    /* The last entry of the biggest table is there. */
    xw(big, ENTRY(2047) + E_DATA, 4, 0x1234);
    assert_int_equal(xr(big, ENTRY(2047) + E_DATA, 4), 0x1234);
    assert_int_equal(pba(big, 255 * 8, 8), 0);
    assert_int_equal(intc_msix_notify(big, 2047, NULL), INTC_OK);
    assert_int_equal(intc_msix_notify(big, 2048, NULL), INTC_ERR_RANGE);
    assert_int_equal(intc_msix_notify(one, 1, NULL), INTC_ERR_RANGE);
    intc_msix_free(one);
    intc_msix_free(big);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2 (Vector Control: Mask Bit default 1); msi.h: reset state
   is disabled, function unmasked, every vector masked, zero messages,
   nothing pending. */
static void test_msix_reset_state(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 70);

    for (uint16_t v = 0; v < 70; v++) {
        assert_int_equal(xr(x, ENTRY(v) + E_ADDR_LO, 4), 0);
        assert_int_equal(xr(x, ENTRY(v) + E_ADDR_HI, 4), 0);
        assert_int_equal(xr(x, ENTRY(v) + E_DATA, 4), 0);
        assert_int_equal(xr(x, ENTRY(v) + E_CTRL, 4), 1);
        assert_false(intc_msix_pending(x, v));
    }
    assert_int_equal(pba(x, 0, 8), 0);
    assert_int_equal(pba(x, 8, 8), 0);
    /* Disabled: a notify does nothing, not even a pending bit. */
    assert_int_equal(intc_msix_notify(x, 3, NULL), INTC_OK);
    assert_false(intc_msix_pending(x, 3));
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2: aligned DWORD and QWORD accesses to the table; each field
   reads back what was written (vector control: only bit 0). */
static void test_msix_aligned_access_roundtrip(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 4);

    /* DWORD per field. */
    xw(x, ENTRY(1) + E_ADDR_LO, 4, 0xfee12340u);
    xw(x, ENTRY(1) + E_ADDR_HI, 4, 0x89abcdefu);
    xw(x, ENTRY(1) + E_DATA, 4, 0xcafe4041u);
    xw(x, ENTRY(1) + E_CTRL, 4, 0);
    assert_int_equal(xr(x, ENTRY(1) + E_ADDR_LO, 4), 0xfee12340u);
    assert_int_equal(xr(x, ENTRY(1) + E_ADDR_HI, 4), 0x89abcdefu);
    assert_int_equal(xr(x, ENTRY(1) + E_DATA, 4), 0xcafe4041u);
    assert_int_equal(xr(x, ENTRY(1) + E_CTRL, 4), 0);
    /* QWORD reads: low field in bits 31:0. */
    assert_int_equal(xr(x, ENTRY(1) + E_ADDR_LO, 8),
                     0x89abcdeffee12340ull);
    assert_int_equal(xr(x, ENTRY(1) + E_DATA, 8), 0x00000000cafe4041ull);
    /* QWORD writes. */
    xw(x, ENTRY(2) + E_ADDR_LO, 8, 0x00000001fee0a000ull);
    xw(x, ENTRY(2) + E_DATA, 8, 0x0000000100004099ull);
    assert_int_equal(xr(x, ENTRY(2) + E_ADDR_LO, 4), 0xfee0a000u);
    assert_int_equal(xr(x, ENTRY(2) + E_ADDR_HI, 4), 1);
    assert_int_equal(xr(x, ENTRY(2) + E_DATA, 4), 0x4099);
    assert_int_equal(xr(x, ENTRY(2) + E_CTRL, 4), 1);
    /* The neighbours are untouched. */
    assert_int_equal(xr(x, ENTRY(0) + E_DATA, 4), 0);
    assert_int_equal(xr(x, ENTRY(3) + E_ADDR_LO, 4), 0);
    assert_int_equal(xr(x, ENTRY(3) + E_CTRL, 4), 1);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2 (Vector Control bits 31:1 reserved) / msi.h: they read 0
   whatever is written. */
static void test_msix_vector_control_reserved_read_zero(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 2);

    xw(x, ENTRY(0) + E_CTRL, 4, 0xfffffffeu);
    assert_int_equal(xr(x, ENTRY(0) + E_CTRL, 4), 0);
    xw(x, ENTRY(0) + E_CTRL, 4, 0xffffffffu);
    assert_int_equal(xr(x, ENTRY(0) + E_CTRL, 4), 1);
    xw(x, ENTRY(0) + E_DATA, 8, 0xffffffff00000000ull);
    assert_int_equal(xr(x, ENTRY(0) + E_CTRL, 4), 1);
    assert_int_equal(xr(x, ENTRY(0) + E_DATA, 8), 0x100000000ull);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2: only aligned DWORD/QWORD accesses are defined; msi.h:
   others read 0 and are ignored as writes (INTC_EV_BAD_ACCESS), and do
   no harm.  Bad sizes are host misuse (INVAL). */
static void test_msix_odd_accesses_harmless(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 4);
    static const struct {
        uint32_t off;
        unsigned size;
    } bad[] = {
        {ENTRY(1) + 0, 1}, {ENTRY(1) + 1, 1}, {ENTRY(1) + 8, 2},
        {ENTRY(1) + 2, 2}, {ENTRY(1) + 2, 4}, {ENTRY(1) + 13, 4},
        {ENTRY(1) + 4, 8}, {ENTRY(1) + 12, 8}, {ENTRY(1) + 3, 8},
        {ENTRY(1) + 12, 1},
    };

    xprog(x, 1, 0xfee01000u, 0x4055, true);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        th_clear_events(h);
        xw(x, bad[i].off, bad[i].size, 0ull);
        th_assert_event(h, INTC_EV_BAD_ACCESS, TH_ANY_CPU, TH_ANY_VECTOR);
        xw(x, bad[i].off, bad[i].size, ~0ull);
        assert_int_equal(xr(x, bad[i].off, bad[i].size), 0);
    }
    assert_int_equal(xr(x, ENTRY(1) + E_ADDR_LO, 4), 0xfee01000u);
    assert_int_equal(xr(x, ENTRY(1) + E_ADDR_HI, 4), 0);
    assert_int_equal(xr(x, ENTRY(1) + E_DATA, 4), 0x4055);
    assert_int_equal(xr(x, ENTRY(1) + E_CTRL, 4), 1);
    assert_int_equal(xr(x, ENTRY(0) + E_CTRL, 4), 1);
    assert_int_equal(xr(x, ENTRY(2) + E_CTRL, 4), 1);

    uint64_t v;
    assert_int_equal(intc_msix_table_read(x, 0, 3, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_read(x, 0, 16, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_read(x, 0, 0, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_read(x, 0, 4, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_read(NULL, 0, 4, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_write(x, 0, 3, 0), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_table_write(NULL, 0, 4, 0), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_pba_read(x, 0, 5, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_pba_read(NULL, 0, 8, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_pba_read(x, 0, 8, NULL), INTC_ERR_INVAL);
    check(m);
    intc_machine_free(m);
}

/* msi.h: beyond the table (off >= 16 * nvec) reads 0 and writes are
   ignored. */
static void test_msix_beyond_table(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 3);

    for (uint32_t off = ENTRY(3); off < ENTRY(3) + 64; off += 4) {
        xw(x, off, 4, 0xffffffffu);
        assert_int_equal(xr(x, off, 4), 0);
        assert_int_equal(xr(x, off & ~7u, 8), 0);
    }
    xw(x, 0xfffffff8u, 8, ~0ull);
    assert_int_equal(xr(x, 0xfffffff8u, 8), 0);
    assert_int_equal(xr(x, 0xfffffffcu, 4), 0);
    /* The real entries are untouched. */
    for (uint16_t v = 0; v < 3; v++) {
        assert_int_equal(xr(x, ENTRY(v) + E_ADDR_LO, 8), 0);
        assert_int_equal(xr(x, ENTRY(v) + E_DATA, 8), 1ull << 32);
    }
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2 (Pending Bit Array): bit v of QWORD v/64; aligned DWORD
   and QWORD reads; beyond the array and misaligned reads 0. */
static void test_msix_pba_reads(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 100);

    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    /* Every vector masked (reset): notifies set pending bits. */
    const uint16_t vs[] = {0, 31, 32, 63, 64, 99};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(intc_msix_notify(x, vs[i], NULL), INTC_OK);
    uint64_t w0 = 1ull | 1ull << 31 | 1ull << 32 | 1ull << 63;
    uint64_t w1 = 1ull | 1ull << 35;
    assert_int_equal(pba(x, 0, 8), w0);
    assert_int_equal(pba(x, 8, 8), w1);
    assert_int_equal(pba(x, 0, 4), (uint32_t)w0);
    assert_int_equal(pba(x, 4, 4), (uint32_t)(w0 >> 32));
    assert_int_equal(pba(x, 8, 4), (uint32_t)w1);
    assert_int_equal(pba(x, 12, 4), (uint32_t)(w1 >> 32));
    assert_int_equal(pba(x, 16, 8), 0);
    assert_int_equal(pba(x, 16, 4), 0);
    assert_int_equal(pba(x, 1, 4), 0);
    assert_int_equal(pba(x, 4, 8), 0);
    assert_int_equal(pba(x, 0, 1), 0);
    assert_int_equal(pba(x, 2, 2), 0);
    for (size_t i = 0; i < 6; i++)
        assert_true(intc_msix_pending(x, vs[i]));
    assert_false(intc_msix_pending(x, 1));
    assert_false(intc_msix_pending(x, 100)); /* out of range */
    assert_false(intc_msix_pending(NULL, 0));
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2.2 (MSI-X Enable): with MSI-X disabled the function does not
   signal: nothing is sent and no pending bit is set, masked or not. */
static void test_msix_notify_disabled_nothing(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 2);

    sw_enable(cpu(m, 0));
    xprog(x, 0, ADDR_DEST(0), 0x41, false);
    xprog(x, 1, ADDR_DEST(0), 0x42, true);
    th_clear_events(h);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    assert_false(intc_msix_pending(x, 0));
    assert_false(intc_msix_pending(x, 1));
    assert_int_equal(pba(x, 0, 8), 0);
    assert_nothing_delivered(m, 0x41);
    assert_int_equal(irr(cpu(m, 0), 0x42), 0);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    th_assert_event_count(h, INTC_EV_MSIX_PENDING, 0);
    /* Function mask while disabled: still nothing. */
    assert_int_equal(intc_msix_set_control(x, false, true), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_int_equal(pba(x, 0, 8), 0);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2: enabled, vector unmasked: the entry's message is sent. */
static void test_msix_notify_unmasked_sends(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_msix *x = xnew(m, 4);

    enable_all(m);
    xprog(x, 2, ADDR_DEST(1), 0x4a, false);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 2, NULL), INTC_OK);
    assert_int_equal(irr(cpu(m, 1), 0x4a), 1);
    assert_int_equal(irr(cpu(m, 0), 0x4a), 0);
    assert_false(intc_msix_pending(x, 2));
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_MSI, TH_ANY_CPU, 0x4a);
        assert_non_null(e);
        assert_int_equal(e->pin, SID);
        assert_int_equal(e->data, ADDR_DEST(1));
    }
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2 (Mask Bit / Pending Bits): a masked vector's message is
   not sent; its pending bit is set (MSIX_PENDING event). */
static void test_msix_masked_sets_pba(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 8);

    sw_enable(cpu(m, 0));
    xprog(x, 5, ADDR_DEST(0), 0x4b, true);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    th_clear_events(h);
    assert_int_equal(intc_msix_notify(x, 5, NULL), INTC_OK);
    assert_true(intc_msix_pending(x, 5));
    assert_int_equal(pba(x, 0, 8), 1u << 5);
    assert_int_equal(irr(cpu(m, 0), 0x4b), 0);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_MSIX_PENDING,
                                            TH_ANY_CPU, TH_ANY_VECTOR);
        assert_non_null(e);
        assert_int_equal(e->pin, 5);
    }
    /* A second notify while pending: still one bit, still nothing sent. */
    assert_int_equal(intc_msix_notify(x, 5, NULL), INTC_OK);
    assert_int_equal(pba(x, 0, 8), 1u << 5);
    assert_int_equal(irr(cpu(m, 0), 0x4b), 0);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2 / msi.h: clearing the mask bit of a pending vector sends
   the message as the entry holds it NOW (address and data changed while
   masked) and clears the pending bit; only once. */
static void test_msix_unmask_sends_current_message(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_msix *x = xnew(m, 4);

    enable_all(m);
    xprog(x, 1, ADDR_DEST(0), 0x50, true);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    assert_true(intc_msix_pending(x, 1));
    /* The driver retargets the vector while it is masked. */
    xw(x, ENTRY(1) + E_ADDR_LO, 4, (uint32_t)ADDR_DEST(1));
    xw(x, ENTRY(1) + E_DATA, 4, 0x51);
    assert_int_equal(irr(cpu(m, 1), 0x51), 0);
    th_clear_events(h);
    xw(x, ENTRY(1) + E_CTRL, 4, 0);
    assert_false(intc_msix_pending(x, 1));
    assert_int_equal(pba(x, 0, 8), 0);
    assert_int_equal(irr(cpu(m, 1), 0x51), 1);
    assert_int_equal(irr(cpu(m, 0), 0x50), 0);
    assert_int_equal(irr(cpu(m, 1), 0x50), 0);
    assert_int_equal(irr(cpu(m, 0), 0x51), 0);
    th_assert_event_count(h, INTC_EV_MSI, 1);
    /* Masking and unmasking again sends nothing more. */
    xw(x, ENTRY(1) + E_CTRL, 4, 1);
    xw(x, ENTRY(1) + E_CTRL, 4, 0);
    th_assert_event_count(h, INTC_EV_MSI, 1);
    /* A QWORD write that clears the mask works the same way. */
    xw(x, ENTRY(1) + E_CTRL, 4, 1);
    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    xw(x, ENTRY(1) + E_DATA, 8, 0x52);
    assert_false(intc_msix_pending(x, 1));
    assert_int_equal(irr(cpu(m, 1), 0x52), 1);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2.2 (Function Mask): while set, every vector behaves as
   masked (pending bits set); clearing it sends every pending vector
   whose own mask is clear, and leaves the others pending. */
static void test_msix_function_mask_several_pending(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 70);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    xprog(x, 0, ADDR_DEST(0), 0x60, false);
    xprog(x, 1, ADDR_DEST(0), 0x61, false);
    xprog(x, 2, ADDR_DEST(0), 0x62, true); /* own mask set */
    xprog(x, 65, ADDR_DEST(0), 0x63, false);
    assert_int_equal(intc_msix_set_control(x, true, true), INTC_OK);
    const uint16_t vs[] = {0, 1, 2, 65};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(intc_msix_notify(x, vs[i], NULL), INTC_OK);
    assert_int_equal(pba(x, 0, 8), 0x7);
    assert_int_equal(pba(x, 8, 8), 0x2);
    th_assert_event_count(h, INTC_EV_MSIX_PENDING, 4);
    assert_int_equal(lr(l, INTC_LAPIC_IRR0 + 0x30), 0); /* 0x60-0x7f */

    /* Function unmask: 0, 1 and 65 sent, 2 stays pending. */
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(irr(l, 0x60), 1);
    assert_int_equal(irr(l, 0x61), 1);
    assert_int_equal(irr(l, 0x63), 1);
    assert_int_equal(irr(l, 0x62), 0);
    assert_int_equal(pba(x, 0, 8), 0x4);
    assert_int_equal(pba(x, 8, 8), 0);
    /* Its own unmask then sends it. */
    xw(x, ENTRY(2) + E_CTRL, 4, 0);
    assert_int_equal(irr(l, 0x62), 1);
    assert_int_equal(pba(x, 0, 8), 0);
    check(m);
    intc_machine_free(m);
}

/* PCIe 7.7.2.2: clearing the vector mask while the function mask is
   set sends nothing (still masked); the function unmask does. */
static void test_msix_vector_unmask_under_function_mask(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 2);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    xprog(x, 0, ADDR_DEST(0), 0x64, true);
    assert_int_equal(intc_msix_set_control(x, true, true), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    xw(x, ENTRY(0) + E_CTRL, 4, 0);
    assert_int_equal(irr(l, 0x64), 0);
    assert_true(intc_msix_pending(x, 0));
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(irr(l, 0x64), 1);
    assert_false(intc_msix_pending(x, 0));
    check(m);
    intc_machine_free(m);
}

/* msi.h: intc_msix_reset returns to the reset state (function-level
   reset): table cleared and masked, PBA clear, disabled, fmask 0. */
static void test_msix_reset(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 4);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    for (uint16_t v = 0; v < 4; v++)
        xprog(x, v, ADDR_DEST(0), 0x40u + v, v & 1);
    assert_int_equal(intc_msix_set_control(x, true, true), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 1, NULL), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 2, NULL), INTC_OK);
    assert_int_equal(intc_msix_reset(x), INTC_OK);
    assert_int_equal(intc_msix_reset(NULL), INTC_ERR_INVAL);
    for (uint16_t v = 0; v < 4; v++) {
        assert_int_equal(xr(x, ENTRY(v) + E_ADDR_LO, 8), 0);
        assert_int_equal(xr(x, ENTRY(v) + E_DATA, 8), 1ull << 32);
    }
    assert_int_equal(pba(x, 0, 8), 0);
    /* Disabled again: notify does nothing. */
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_int_equal(pba(x, 0, 8), 0);
    assert_int_equal(lr(l, INTC_LAPIC_IRR0 + 0x20), 0);
    /* Machine reset resets MSI-X too. */
    xprog(x, 0, ADDR_DEST(0), 0x40, true);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(pba(x, 0, 8), 0);
    assert_int_equal(xr(x, ENTRY(0) + E_DATA, 8), 1ull << 32);
    check(m);
    intc_machine_free(m);
}

/* msi.h: an MSI-X entry whose address is not an interrupt address is an
   ordinary memory write: nothing reaches an APIC. */
static void test_msix_non_interrupt_address(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 1);

    sw_enable(cpu(m, 0));
    xprog(x, 0, 0x12345000u, 0x44, false);
    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 0, NULL), INTC_OK);
    assert_nothing_delivered(m, 0x44);
    assert_false(intc_msix_pending(x, 0));
    check(m);
    intc_machine_free(m);
}

/* msi.h: notify of a vector >= nvec is INTC_ERR_RANGE; NULL is INVAL. */
static void test_msix_notify_range(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msix *x = xnew(m, 16);

    assert_int_equal(intc_msix_set_control(x, true, false), INTC_OK);
    assert_int_equal(intc_msix_notify(x, 16, NULL), INTC_ERR_RANGE);
    assert_int_equal(intc_msix_notify(x, 0xffff, NULL), INTC_ERR_RANGE);
    assert_int_equal(intc_msix_notify(NULL, 0, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_msix_set_control(NULL, true, false),
                     INTC_ERR_INVAL);
    assert_int_equal(pba(x, 0, 8), 0);
    check(m);
    intc_machine_free(m);
}

/* common.h (allocator): intc_msix_free releases its memory at once;
   objects still live when the machine is freed are released with it
   (th_teardown proves nothing leaked).  intc_msix_free(NULL) is a
   no-op. */
static void test_msix_free_and_machine_free(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    size_t base = h->live_bytes;

    intc_msix *a = xnew(m, 2048);
    intc_msix *b = xnew(m, 3);
    intc_msix *c = xnew(m, 64);
    intc_msi *d = intc_msi_new(m, 5, true, true, SID, NULL);
    assert_non_null(d);
    assert_true(h->live_bytes > base);
    intc_msix_free(b);
    intc_msix_free(NULL);
    intc_msi_free(NULL);
    /* The others still work. */
    xw(a, ENTRY(7) + E_DATA, 4, 7);
    xw(c, ENTRY(63) + E_DATA, 4, 63);
    assert_int_equal(xr(a, ENTRY(7) + E_DATA, 4), 7);
    assert_int_equal(xr(c, ENTRY(63) + E_DATA, 4), 63);
    intc_msix_free(a);
    intc_msix_free(c);
    intc_msi_free(d);
    assert_int_equal(h->live_bytes, base);
    /* Live objects at machine free. */
    (void)xnew(m, 100);
    (void)xnew(m, 1);
    (void)intc_msi_new(m, 0, false, false, SID, NULL);
    check(m);
    intc_machine_free(m);
}

/* STYLE rule 5 / msi.h: intc_msix_new with a failing allocator returns
   NULL with INTC_ERR_NOMEM at every allocation, leaking nothing; the
   machine stays usable. */
static void test_msix_new_alloc_failure(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    size_t base = h->live_bytes;
    unsigned long fails = 0;

    for (unsigned k = 1; k < 16; k++) {
        intc_err err = INTC_OK;
        h->fail_at = h->n_allocs + k;
        intc_msix *x = intc_msix_new(m, 300, SID, &err);
        h->fail_at = 0;
        if (x) {
            assert_int_equal(err, INTC_OK);
            intc_msix_free(x);
            break;
        }
        fails++;
        assert_int_equal(err, INTC_ERR_NOMEM);
        assert_int_equal(h->live_bytes, base);
    }
    assert_true(fails >= 1);
    for (unsigned k = 1; k < 16; k++) {
        intc_err err = INTC_OK;
        h->fail_at = h->n_allocs + k;
        intc_msi *c = intc_msi_new(m, 3, true, true, SID, &err);
        h->fail_at = 0;
        if (c) {
            intc_msi_free(c);
            break;
        }
        assert_int_equal(err, INTC_ERR_NOMEM);
        assert_int_equal(h->live_bytes, base);
    }
    intc_msix *x = xnew(m, 4);
    (void)x;
    check(m);
    intc_machine_free(m);
}

/* ================================================================
 * MSI capability (PCI Local Bus 3.0 6.8.1)
 * ================================================================ */

#define CTL_ENABLE 0x0001u
#define CTL_MMC(n) ((uint32_t)(n) << 1)
#define CTL_MME(n) ((uint32_t)(n) << 4)
#define CTL_64 0x0080u
#define CTL_PVM 0x0100u

static uint32_t cr(intc_msi *c, uint32_t off, unsigned size)
{
    uint32_t v = 0xdeadbeefu;
    assert_int_equal(intc_msi_config_read(c, off, size, &v), INTC_OK);
    return v;
}

static void cw(intc_msi *c, uint32_t off, unsigned size, uint32_t val)
{
    assert_int_equal(intc_msi_config_write(c, off, size, val), INTC_OK);
}

static intc_msi *cnew(intc_machine *m, unsigned log2, bool a64, bool pvm)
{
    intc_err err = INTC_ERR_INVAL;
    intc_msi *c = intc_msi_new(m, log2, a64, pvm, SID, &err);
    assert_int_equal(err, INTC_OK);
    assert_non_null(c);
    return c;
}

/* Layout offsets (PCI 3.0 Figure 6-9). */
static uint32_t off_data(bool a64)
{
    return a64 ? 12 : 8;
}
static uint32_t off_mask(bool a64)
{
    return a64 ? 16 : 12;
}

/* Program address, data and enable with MME mme. */
static void cprog(intc_msi *c, bool a64, uint64_t addr, uint16_t data,
                  unsigned mme)
{
    cw(c, 4, 4, (uint32_t)addr);
    if (a64)
        cw(c, 8, 4, (uint32_t)(addr >> 32));
    cw(c, off_data(a64), 2, data);
    cw(c, 2, 2, CTL_ENABLE | CTL_MME(mme));
}

/* PCI 3.0 6.8.1 (Figure 6-9): the four layouts are 10, 14, 20 and 24
   bytes; bytes 0-1 read 05h (MSI) and the host's next pointer (00h);
   Message Control reports MMC, 64-bit and per-vector-masking capable;
   log2_vectors above 5 is INVAL. */
static void test_msicap_layouts(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    static const struct {
        bool a64, pvm;
        unsigned size;
    } lay[] = {{false, false, 10}, {true, false, 14}, {false, true, 20},
               {true, true, 24}};
    intc_err err = INTC_OK;

    for (size_t i = 0; i < 4; i++) {
        for (unsigned lg = 0; lg <= 5; lg++) {
            intc_msi *c = cnew(m, lg, lay[i].a64, lay[i].pvm);
            assert_int_equal(intc_msi_config_size(c), lay[i].size);
            assert_int_equal(cr(c, 0, 1), 0x05);
            assert_int_equal(cr(c, 1, 1), 0x00);
            assert_int_equal(cr(c, 2, 2),
                             CTL_MMC(lg) | (lay[i].a64 ? CTL_64 : 0) |
                                 (lay[i].pvm ? CTL_PVM : 0));
            for (uint32_t off = 4; off < lay[i].size; off++)
                assert_int_equal(cr(c, off, 1), 0);
            /* Beyond the capability reads 0 and ignores writes. */
            cw(c, lay[i].size, 4, 0xffffffffu);
            assert_int_equal(cr(c, lay[i].size, 4), 0);
            assert_int_equal(cr(c, 64, 4), 0);
            intc_msi_free(c);
        }
    }
    assert_null(intc_msi_new(m, 6, false, false, SID, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    err = INTC_OK;
    assert_null(intc_msi_new(NULL, 0, false, false, SID, &err));
    assert_int_equal(err, INTC_ERR_INVAL);
    assert_int_equal(intc_msi_config_size(NULL), 0);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.3 (Message Control): bit 0 enable RW, 3:1 MMC RO,
   6:4 MME RW, 7 64-bit RO, 8 per-vector masking RO, 15:9 reserved (0);
   bytes 0-1 (ID, next pointer) are read-only. */
static void test_msicap_control_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 3, false, true);
    uint32_t ro = CTL_MMC(3) | CTL_PVM;

    cw(c, 2, 2, 0xffff);
    assert_int_equal(cr(c, 2, 2) & ~CTL_MME(7), ro | CTL_ENABLE);
    assert_int_equal(cr(c, 2, 2) & 0xfe00u, 0);
    cw(c, 2, 2, 0);
    assert_int_equal(cr(c, 2, 2), ro);
    cw(c, 2, 2, CTL_MME(2) | CTL_ENABLE);
    assert_int_equal(cr(c, 2, 2), ro | CTL_MME(2) | CTL_ENABLE);
    /* A write trying to clear the read-only bits changes nothing there. */
    cw(c, 2, 2, CTL_MME(1));
    assert_int_equal(cr(c, 2, 2), ro | CTL_MME(1));
    /* A 64-bit-capable capability keeps bit 7 set. */
    intc_msi *c64 = cnew(m, 0, true, false);
    cw(c64, 2, 2, 0);
    assert_int_equal(cr(c64, 2, 2), CTL_64);
    /* ID and next pointer. */
    cw(c, 0, 2, 0xabcd);
    assert_int_equal(cr(c, 0, 2), 0x0005);
    cw(c, 0, 4, 0);
    assert_int_equal(cr(c, 0, 2), 0x0005);
    assert_int_equal(cr(c, 2, 2), ro); /* dword write at 0 reached 2-3 */
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.4: Message Address bits 1:0 are reserved and read 0
   (DWORD aligned); bits 31:2 RW; the upper address (64-bit layout) is
   RW. */
static void test_msicap_address_bits(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 0, true, false);
    intc_msi *c32 = cnew(m, 0, false, false);

    cw(c, 4, 4, 0xfee12347u);
    assert_int_equal(cr(c, 4, 4), 0xfee12344u);
    cw(c, 4, 4, 0xffffffffu);
    assert_int_equal(cr(c, 4, 4), 0xfffffffcu);
    cw(c, 8, 4, 0x12345678u);
    assert_int_equal(cr(c, 8, 4), 0x12345678u);
    cw(c, 4, 1, 0x03);
    assert_int_equal(cr(c, 4, 1), 0x00);
    /* 32-bit layout: offset 8 is Message Data, 16 bits. */
    cw(c32, 4, 4, 0xfee00003u);
    assert_int_equal(cr(c32, 4, 4), 0xfee00000u);
    cw(c32, 8, 4, 0xffff4041u);
    assert_int_equal(cr(c32, 8, 2), 0x4041);
    assert_int_equal(cr(c32, 8, 4), 0x4041); /* 10-11 beyond, read 0 */
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1: configuration writes of any size (byte, word, dword)
   within the capability update exactly the bytes they cover. */
static void test_msicap_byte_word_dword_writes(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 2, true, true);

    cw(c, 4, 1, 0x00);
    cw(c, 5, 1, 0x30);
    cw(c, 6, 1, 0xe0);
    cw(c, 7, 1, 0xfe);
    assert_int_equal(cr(c, 4, 4), 0xfee03000u);
    cw(c, 6, 2, 0xabcd);
    assert_int_equal(cr(c, 4, 4), 0xabcd3000u);
    assert_int_equal(cr(c, 6, 2), 0xabcd);
    assert_int_equal(cr(c, 5, 1), 0x30);
    cw(c, 8, 2, 0x1111);
    cw(c, 10, 2, 0x2222);
    assert_int_equal(cr(c, 8, 4), 0x22221111u);
    cw(c, 12, 4, 0xffff5566u); /* data is 16 bits; 14-15 reserved */
    assert_int_equal(cr(c, 12, 2), 0x5566);
    assert_int_equal(cr(c, 14, 2), 0);
    cw(c, 13, 1, 0x77);
    assert_int_equal(cr(c, 12, 2), 0x7766);
    /* A byte write to the low byte of Message Control. */
    cw(c, 2, 1, CTL_ENABLE | CTL_MME(1));
    assert_int_equal(cr(c, 2, 2), CTL_MMC(2) | CTL_64 | CTL_PVM |
                                      CTL_MME(1) | CTL_ENABLE);
    /* A dword write at 0 reaches Message Control through bytes 2-3. */
    cw(c, 0, 4, 0x00000000u);
    assert_int_equal(cr(c, 2, 2), CTL_MMC(2) | CTL_64 | CTL_PVM);
    uint32_t v;
    assert_int_equal(intc_msi_config_read(c, 0, 3, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msi_config_read(c, 0, 8, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_msi_config_read(c, 0, 4, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_msi_config_write(c, 0, 3, 0), INTC_ERR_INVAL);
    assert_int_equal(intc_msi_config_write(NULL, 0, 4, 0), INTC_ERR_INVAL);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.3/6.8.1.6: a single-message function sends Message Data
   unchanged to Message Address; disabled (enable 0): nothing. */
static void test_msicap_single_message(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_msi *c = cnew(m, 0, false, false);

    enable_all(m);
    cw(c, 4, 4, (uint32_t)ADDR_DEST(1));
    cw(c, 8, 2, 0x4045);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK); /* disabled */
    assert_nothing_delivered(m, 0x45);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    cw(c, 2, 2, CTL_ENABLE);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK);
    assert_int_equal(irr(cpu(m, 1), 0x45), 1);
    assert_int_equal(tmr(cpu(m, 1), 0x45), 0);
    TH_IF_TRACED(h) {
        const intc_event *e = th_find_event(h, INTC_EV_MSI, TH_ANY_CPU, 0x45);
        assert_non_null(e);
        assert_int_equal(e->pin, SID);
        assert_int_equal(e->data, ADDR_DEST(1));
    }
    /* Only vector 0 exists. */
    assert_int_equal(intc_msi_notify(c, 1, NULL), INTC_OK);
    th_assert_event_count(h, INTC_EV_MSI, 1);
    assert_int_equal(intc_msi_notify(NULL, 0, NULL), INTC_ERR_INVAL);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.6: with MME = 3 (8 messages) the function replaces the
   low 3 bits of Message Data by the vector number: data 0x47, vector 5
   -> 0x45.  Vectors >= 2^MME are not sent. */
static void test_msicap_multiple_message(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 3, true, false);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    cprog(c, true, ADDR_DEST(0), 0x47, 3);
    assert_int_equal(intc_msi_notify(c, 5, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x45), 1);
    assert_int_equal(irr(l, 0x47), 0);
    assert_int_equal(irr(l, 0x4d), 0);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x40), 1);
    assert_int_equal(intc_msi_notify(c, 7, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x47), 1);
    th_clear_events(h);
    assert_int_equal(intc_msi_notify(c, 8, NULL), INTC_OK);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    /* MME = 1: only bit 0 replaced; vector 2 not sent. */
    cw(c, 12, 2, 0x56);
    cw(c, 2, 2, CTL_ENABLE | CTL_MME(1));
    assert_int_equal(intc_msi_notify(c, 1, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x57), 1);
    assert_int_equal(intc_msi_notify(c, 2, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x54), 0);
    assert_int_equal(irr(l, 0x56), 0);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.3 (MME must not exceed MMC) / msi.h: MME > MMC acts as
   MMC: with 4 messages (MMC 2) and MME 5, two low data bits are replaced
   and vector 4 is not sent. */
static void test_msicap_mme_above_mmc(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 2, false, false);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    cprog(c, false, ADDR_DEST(0), 0x5c, 5);
    assert_int_equal(intc_msi_notify(c, 1, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x5d), 1); /* not 0x41 (5 bits replaced) */
    assert_int_equal(intc_msi_notify(c, 3, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x5f), 1);
    th_clear_events(h);
    assert_int_equal(intc_msi_notify(c, 4, NULL), INTC_OK);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    assert_int_equal(intc_msi_notify(c, 31, NULL), INTC_OK);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.7-6.8.1.8: a masked vector sets its pending bit instead
   of sending; clearing the mask sends it (current address/data) and
   clears the bit.  Pending bits are read-only; mask bits exist only for
   the function's vectors (MMC). */
static void test_msicap_per_vector_mask(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_msi *c = cnew(m, 2, false, true); /* 4 vectors */
    intc_lapic *l0 = cpu(m, 0), *l1 = cpu(m, 1);
    uint32_t om = off_mask(false), op = om + 4;

    enable_all(m);
    cw(c, om, 4, 0xffffffffu);
    assert_int_equal(cr(c, om, 4), 0xf); /* bits 31:4 reserved */
    cw(c, om, 4, 0x2);                   /* mask vector 1 only */
    cprog(c, false, ADDR_DEST(0), 0x60, 2);
    th_clear_events(h);
    assert_int_equal(intc_msi_notify(c, 1, NULL), INTC_OK);
    assert_int_equal(irr(l0, 0x61), 0);
    assert_int_equal(cr(c, op, 4), 0x2);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK); /* unmasked */
    assert_int_equal(irr(l0, 0x60), 1);
    assert_int_equal(cr(c, op, 4), 0x2);
    /* Pending bits are read-only. */
    cw(c, op, 4, 0);
    assert_int_equal(cr(c, op, 4), 0x2);
    cw(c, op, 4, 0xffffffffu);
    assert_int_equal(cr(c, op, 4), 0x2);
    /* Retarget while masked, then unmask: sent as it stands now. */
    cw(c, 4, 4, (uint32_t)ADDR_DEST(1));
    cw(c, 8, 2, 0x70);
    cw(c, om, 1, 0);
    assert_int_equal(irr(l1, 0x71), 1);
    assert_int_equal(irr(l0, 0x61), 0);
    assert_int_equal(cr(c, op, 4), 0);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1.3: with MSI disabled the function sends nothing and
   sets no pending bit. */
static void test_msicap_disabled_nothing(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 1, true, true);

    sw_enable(cpu(m, 0));
    cprog(c, true, ADDR_DEST(0), 0x62, 1);
    cw(c, 2, 2, CTL_MME(1)); /* disable */
    cw(c, off_mask(true), 4, 0x1);
    th_clear_events(h);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK);
    assert_int_equal(intc_msi_notify(c, 1, NULL), INTC_OK);
    assert_int_equal(cr(c, off_mask(true) + 4, 4), 0);
    th_assert_event_count(h, INTC_EV_MSI, 0);
    assert_nothing_delivered(m, 0x62);
    assert_int_equal(irr(cpu(m, 0), 0x63), 0);
    check(m);
    intc_machine_free(m);
}

/* PCI 3.0 6.8.1 (reset values: enable 0, MME 0, mask bits 0) / msi.h:
   intc_msi_reset returns the capability to its reset state keeping the
   read-only capability bits; machine reset does the same. */
static void test_msicap_reset(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 3, true, true);
    uint32_t ro = CTL_MMC(3) | CTL_64 | CTL_PVM;

    sw_enable(cpu(m, 0));
    cprog(c, true, 0x1fee01000ull, 0x4040, 3);
    cw(c, off_mask(true), 4, 0xff);
    assert_int_equal(intc_msi_notify(c, 2, NULL), INTC_OK);
    assert_int_equal(cr(c, 20, 4), 0x4);
    assert_int_equal(intc_msi_reset(c), INTC_OK);
    assert_int_equal(intc_msi_reset(NULL), INTC_ERR_INVAL);
    assert_int_equal(cr(c, 0, 2), 0x0005);
    assert_int_equal(cr(c, 2, 2), ro);
    for (uint32_t off = 4; off < 24; off += 4)
        assert_int_equal(cr(c, off, 4), 0);
    cprog(c, true, ADDR_DEST(0), 0x4040, 3);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(cr(c, 2, 2), ro);
    assert_int_equal(cr(c, 4, 4), 0);
    check(m);
    intc_machine_free(m);
}

/* SDM 11.11.2 via PCI 3.0 6.8.1: a level-trigger bit in Message Data is
   passed on (TMR set); the 16-bit data never carries bits 31:16. */
static void test_msicap_level_data(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 1);
    intc_msi *c = cnew(m, 0, false, false);
    intc_lapic *l = cpu(m, 0);

    sw_enable(l);
    cprog(c, false, ADDR_DEST(0), D_FIXED | D_LEVEL | D_ASSERT | 0x91, 0);
    assert_int_equal(intc_msi_notify(c, 0, NULL), INTC_OK);
    assert_int_equal(irr(l, 0x91), 1);
    assert_int_equal(tmr(l, 0x91), 1);
    th_assert_event_count(h, INTC_EV_MSI_DROPPED, 0);
    check(m);
    intc_machine_free(m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)
    const struct CMUnitTest tests[] = {
        /* intc_msi_send: destination */
        T(test_send_null_machine_inval),
        T(test_send_physical_8bit_dest),
        T(test_send_physical_broadcast_ff),
        T(test_send_physical_no_target),
        T(test_send_logical_flat_rh0_all),
        T(test_send_logical_cluster),
        T(test_send_ext_dest_reaches_x2apic_ids),
        T(test_send_ext_dest_needs_x2apic_mode),
        T(test_send_ext_dest_1ff_not_broadcast),
        T(test_send_ext_dest_off_drops_bits_11_5),
        T(test_send_rh_logical_lowest_priority),
        T(test_send_lowest_mode_logical_rh0),
        T(test_send_rh_physical_unicast_no_redirection),
        T(test_send_rh_physical_broadcast_lowest),
        T(test_send_rh_skips_sw_disabled),
        /* intc_msi_send: data */
        T(test_send_each_delivery_mode),
        T(test_send_reserved_modes_dropped),
        T(test_send_level_sets_tmr_eoi_broadcast),
        T(test_send_edge_no_eoi_broadcast),
        T(test_send_level_deassert_dropped),
        T(test_send_reserved_data_bits_dropped),
        T(test_send_non_fee_address_not_decoded),
        T(test_send_remappable_without_iommu_dropped),
        T(test_send_low_vectors_rejected_by_lapic),
        T(test_calls_from_event_callback_busy),
        T(test_send_random_sweep),
        /* MSI-X */
        T(test_msix_new_limits),
        T(test_msix_reset_state),
        T(test_msix_aligned_access_roundtrip),
        T(test_msix_vector_control_reserved_read_zero),
        T(test_msix_odd_accesses_harmless),
        T(test_msix_beyond_table),
        T(test_msix_pba_reads),
        T(test_msix_notify_disabled_nothing),
        T(test_msix_notify_unmasked_sends),
        T(test_msix_masked_sets_pba),
        T(test_msix_unmask_sends_current_message),
        T(test_msix_function_mask_several_pending),
        T(test_msix_vector_unmask_under_function_mask),
        T(test_msix_reset),
        T(test_msix_non_interrupt_address),
        T(test_msix_notify_range),
        T(test_msix_free_and_machine_free),
        T(test_msix_new_alloc_failure),
        /* MSI capability */
        T(test_msicap_layouts),
        T(test_msicap_control_bits),
        T(test_msicap_address_bits),
        T(test_msicap_byte_word_dword_writes),
        T(test_msicap_single_message),
        T(test_msicap_multiple_message),
        T(test_msicap_mme_above_mmc),
        T(test_msicap_per_vector_mask),
        T(test_msicap_disabled_nothing),
        T(test_msicap_reset),
        T(test_msicap_level_data),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
