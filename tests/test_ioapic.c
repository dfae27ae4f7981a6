/*
 * I/O APIC: register interface, configuration, edge and level pins,
 * shared lines, delivery modes, the EOI register and directed EOI, the
 * resample callback, storm detection and throttling, remappable entries
 * and GSI routing.
 *
 * Authorities: Intel 82093AA I/O APIC datasheet (3.0 registers, 3.2.x
 * register descriptions, 3.2.4 redirection table), Intel ICH9 datasheet
 * 13.5.5 (EOI register), Intel SDM vol. 3A ch. 11 (Local APIC side: IRR,
 * TMR, EOI broadcast 11.8.5, lowest priority 11.6.2.4) and the documented
 * libintc choices in include/intc/ioapic.h, machine.h and common.h.
 */
#include "harness.h"
#include "ioapic_util.h"
#include "lapic_util.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* The host is the kit's with its eoi() and ioapic_timer_arm() (a       */
/* th_host leaves them out); what the tests read beyond the kit's       */
/* records (totals[], n_eois, n_io_arms, io_deadline[]) is kept here,   */
/* through its hooks.                                                   */
/* ------------------------------------------------------------------ */

#define IO_MAX_EOI 64u

typedef struct io_rec {
    th_host *h;
    intc_machine *m;
    unsigned n_redeliv; /* IOAPIC_SEND with data2 = 1 */
    /* eoi(gsi) resample callbacks: the GSIs in order, the nesting */
    uint32_t eoi_gsi[IO_MAX_EOI];
    unsigned eoi_depth, eoi_max_depth;
    void (*on_eoi)(struct io_rec *x, uint32_t gsi);
    void *ctx;
} io_rec;

static void x_event(void *ctx, const intc_event *ev)
{
    io_rec *x = ctx;
    if (ev->type == INTC_EV_IOAPIC_SEND && ev->data2 == 1)
        x->n_redeliv++;
}

static void x_eoi(void *ctx, uint32_t gsi)
{
    io_rec *x = ctx;
    x->eoi_depth++;
    if (x->eoi_depth > x->eoi_max_depth)
        x->eoi_max_depth = x->eoi_depth;
    if (x->h->n_eois <= IO_MAX_EOI)
        x->eoi_gsi[x->h->n_eois - 1] = gsi;
    if (x->on_eoi)
        x->on_eoi(x, gsi);
    x->eoi_depth--;
}

static void io_init(io_rec *x, th_host *h)
{
    memset(x, 0, sizeof(*x));
    x->h = h;
    /* Counts start here (a test may start a second machine). */
    memset(h->totals, 0, sizeof(h->totals));
    h->n_eois = 0;
    h->n_io_arms = 0;
    th_ioapic_ops(h);
    h->hooks = (kit_hooks){.ctx = x, .event = x_event, .eoi = x_eoi};
}

static intc_machine *io_machine(io_rec *x, const intc_machine_config *cfg)
{
    x->m = th_machine(x->h, cfg);
    return x->m;
}

/* One IOAPIC (id 8, GSI base 0) on n_cpus CPUs. */
static void cfg_one(intc_machine_config *cfg, intc_ioapic_config *ioc,
                    uint8_t version, uint16_t n_pins, const uint8_t *wiring,
                    uint32_t n_cpus)
{
    intc_machine_config_init(cfg);
    memset(ioc, 0, sizeof(*ioc));
    ioc->id = 8;
    ioc->version = version;
    ioc->n_pins = n_pins;
    ioc->pin_wiring = wiring;
    cfg->n_cpus = n_cpus;
    cfg->ioapics = ioc;
    cfg->n_ioapics = 1;
}

static void check_ok(const intc_machine *m)
{
    char msg[256];
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

/* End of every test: invariants hold, then free. */
static void finish(intc_machine *m)
{
    check_ok(m);
    intc_machine_free(m);
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

/* INTA (must return want), then the handler's EOI write (SDM 11.8.5). */
static void ack_eoi(intc_lapic *l, int want)
{
    assert_int_equal(intc_lapic_ack(l), want);
    lw(l, INTC_LAPIC_EOI, 0);
}

/* x counted n events of type t (n re-deliveries); traced hosts only. */
#define assert_ev(x, t, n)                                                   \
    do {                                                                     \
        TH_IF_TRACED((x).h) assert_int_equal((x).h->totals[t], (n));                \
    } while (0)
#define assert_redeliv(x, n)                                                 \
    do {                                                                     \
        TH_IF_TRACED((x).h) assert_int_equal((x).n_redeliv, (n));            \
    } while (0)

/* Events of a type with a given data2 value. */
static size_t count_ev2(const th_host *h, intc_event_type t, uint64_t data2)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == t && h->events[i].data2 == data2;
    return n;
}

/* PCI INTx wiring: level, active low. */
#define PW (INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW)
static const uint8_t pci_wiring[24] = {
    PW, PW, PW, PW, PW, PW, PW, PW, PW, PW, PW, PW,
    PW, PW, PW, PW, PW, PW, PW, PW, PW, PW, PW, PW,
};

/* A level entry programmed to match pci_wiring. */
#define LVL(v, dest) (RTE_VEC(v) | RTE_LEVEL | RTE_ACTIVE_LOW | RTE_DEST(dest))

/* ================================================================== */
/* 1. Register interface                                              */
/* ================================================================== */

/* 82093AA 3.0: IOREGSEL (0x00) selects the indirect register, bits 7:0
   (31:8 reserved); IOWIN (0x10) is the data window. */
static void test_reg_ioregsel_iowin(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0);
    iomw(io, INTC_IOAPIC_IOREGSEL, 0xabcdef12u);
    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0x12);
    /* IOWIN reads the selected register: 0x12 = entry 1 low, reset
       value masked (3.2.4). */
    assert_int_equal(iomr(io, INTC_IOAPIC_IOWIN), 0x10000);
    iomw(io, INTC_IOAPIC_IOWIN, 0x1a055);
    assert_int_equal(iomr(io, INTC_IOAPIC_IOWIN), 0x1a055);
    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0x12);
    uint64_t rte = 0;
    assert_int_equal(intc_ioapic_rte(io, 1, &rte), INTC_OK);
    assert_int_equal(rte, 0x1a055);
    finish(m);
}

/* 82093AA 3.2.1: IOAPICID bits 27:24 are the ID, the rest reserved. */
static void test_reg_id_writable_bits(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    assert_int_equal(ior(io, INTC_IOAPIC_REG_ID), 8u << 24);
    iow(io, INTC_IOAPIC_REG_ID, 0xffffffffu);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ID), 0x0f000000u);
    iow(io, INTC_IOAPIC_REG_ID, 0x05000000u);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ID), 0x05000000u);
    iow(io, INTC_IOAPIC_REG_ID, 0x00ffffffu);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ID), 0);
    finish(m);
}

/* 82093AA 3.2.2: IOAPICVER = version [7:0] | max redirection entry
   (n_pins - 1) [23:16], read-only. */
static void test_reg_version(void **state)
{
    static const uint8_t vers[] = {0x11, 0x20};
    static const uint16_t pins[] = {1, 24, 120};
    for (unsigned a = 0; a < 2; a++) {
        for (unsigned b = 0; b < 3; b++) {
            io_rec x;
            intc_machine_config cfg;
            intc_ioapic_config ioc;
            io_init(&x, *state);
            cfg_one(&cfg, &ioc, vers[a], pins[b], NULL, 1);
            intc_machine *m = io_machine(&x, &cfg);
            intc_ioapic *io = intc_machine_ioapic(m, 0);
            uint32_t want = vers[a] | (uint32_t)(pins[b] - 1) << 16;

            assert_int_equal(ior(io, INTC_IOAPIC_REG_VER), want);
            assert_int_equal(intc_ioapic_pin_count(io), pins[b]);
            iow(io, INTC_IOAPIC_REG_VER, 0);
            iow(io, INTC_IOAPIC_REG_VER, 0xffffffffu);
            assert_int_equal(ior(io, INTC_IOAPIC_REG_VER), want);
            finish(m);
        }
    }
}

/* 82093AA 3.2.3: IOAPICARB bits 27:24, read-only, loaded from the ID
   whenever the ID register is written.  Version 0x20 parts have no
   arbitration register (documented: reads 0). */
static void test_reg_arb(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x11, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    assert_int_equal(ior(io, INTC_IOAPIC_REG_ARB), 8u << 24);
    iow(io, INTC_IOAPIC_REG_ARB, 0x03000000u); /* read-only */
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ARB), 8u << 24);
    iow(io, INTC_IOAPIC_REG_ID, 0x03000000u);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ARB), 3u << 24);
    finish(m);

    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    m = io_machine(&x, &cfg);
    io = intc_machine_ioapic(m, 0);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ARB), 0);
    iow(io, INTC_IOAPIC_REG_ARB, 0xffffffffu);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ARB), 0);
    finish(m);
}

/* 82093AA 3.2.4: stored entry bits are vector, delivery mode, destination
   mode, polarity, trigger, mask (low 0x0001afff) and bits 63:48 (the
   destination, plus the remappable-format bits); delivery status (12)
   and Remote IRR (14) are read-only, bits 31:17 and 47:32 reserved. */
static void test_reg_rte_writable_masks(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    rte_set_lo(io, 5, 0xffffffffu); /* masked: bit 16 is set */
    rte_set_hi(io, 5, 0xffffffffu);
    assert_int_equal(ior(io, 0x10 + 10), 0x0001afffu);
    assert_int_equal(ior(io, 0x10 + 11), 0xffff0000u);
    /* DS and Remote IRR written as 1 on their own: still 0. */
    rte_set_lo(io, 6, (uint32_t)(INTC_RTE_DELIVS | INTC_RTE_REMOTE_IRR |
                                 RTE_MASKED | RTE_LEVEL | 0x30));
    assert_int_equal(ior(io, 0x10 + 12),
                     (uint32_t)(RTE_MASKED | RTE_LEVEL | 0x30));
    rte_set_lo(io, 5, 0);
    rte_set_hi(io, 5, 0);
    assert_int_equal(rte_get(io, 5), 0);
    /* Other entries untouched. */
    assert_int_equal(rte_get(io, 4), RTE_MASKED);
    assert_int_equal(rte_get(io, 7), RTE_MASKED);
    finish(m);
}

/* 82093AA 3.1: indirect addresses other than ID, VER, ARB and the
   redirection table do not exist on the chip: they read 0 and writes do nothing.
   Entries beyond n_pins likewise. */
static void test_reg_unimplemented_indirect(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    uint32_t before[256];

    for (unsigned r = 0; r < 256; r++)
        before[r] = ior(io, (uint8_t)r);
    for (unsigned r = 0x03; r < 0x10; r++) {
        assert_int_equal(before[r], 0);
        iow(io, (uint8_t)r, 0xffffffffu);
    }
    for (unsigned r = 0x10 + 2 * 24; r < 256; r++) {
        assert_int_equal(before[r], 0);
        iow(io, (uint8_t)r, 0xffffffffu);
    }
    for (unsigned r = 0; r < 256; r++)
        assert_int_equal(ior(io, (uint8_t)r), before[r]);
    finish(m);

    /* One pin: everything from 0x12 up is unimplemented. */
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x11, 1, NULL, 1);
    m = io_machine(&x, &cfg);
    io = intc_machine_ioapic(m, 0);
    for (unsigned r = 0x12; r < 256; r++) {
        iow(io, (uint8_t)r, 0xffffffffu);
        assert_int_equal(ior(io, (uint8_t)r), 0);
    }
    assert_int_equal(rte_get(io, 0), RTE_MASKED);
    uint64_t v;
    assert_int_equal(intc_ioapic_rte(io, 1, &v), INTC_ERR_INVAL);
    finish(m);
}

/* Expected byte view of a read (ioapic.h): each implemented register in
   the first 4 bytes of its 16-byte slot, zero elsewhere; the EOI
   register is write-only (reads 0). */
static uint64_t byte_view(uint32_t off, unsigned size, uint32_t regsel,
                          uint32_t win)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        uint32_t a = off + i, b = a & 15, base = a & ~15u;
        uint32_t r = base == 0 ? regsel : base == 0x10 ? win : 0;
        if (b < 4)
            v |= (uint64_t)((r >> (8 * b)) & 0xff) << (8 * i);
    }
    return v;
}

/* 82093AA 3.0 + ioapic.h: every offset 0..255 and size 1/2/4/8 has a
   defined outcome: in range -> the byte view, beyond 256 -> INVAL. */
static void test_mmio_every_offset_read(void **state)
{
    static const uint8_t vers[] = {0x11, 0x20};
    static const unsigned sizes[] = {1, 2, 4, 8};
    for (unsigned a = 0; a < 2; a++) {
        io_rec x;
        intc_machine_config cfg;
        intc_ioapic_config ioc;
        io_init(&x, *state);
        cfg_one(&cfg, &ioc, vers[a], 24, NULL, 1);
        intc_machine *m = io_machine(&x, &cfg);
        intc_ioapic *io = intc_machine_ioapic(m, 0);

        rte_set_lo(io, 0, 0x0001aac3u);
        iomw(io, INTC_IOAPIC_IOREGSEL, 0x10);
        for (uint32_t off = 0; off < 256; off++) {
            for (unsigned s = 0; s < 4; s++) {
                uint64_t v = 0x5555;
                intc_err e = intc_ioapic_mmio_read(io, off, sizes[s], &v);
                if (off + sizes[s] > 256) {
                    assert_int_equal(e, INTC_ERR_INVAL);
                    continue;
                }
                assert_int_equal(e, INTC_OK);
                if (v != byte_view(off, sizes[s], 0x10, 0x0001aac3u))
                    fail_msg("v%#x read off %#x size %u: %#llx, want %#llx",
                             vers[a], off, sizes[s], (unsigned long long)v,
                             (unsigned long long)byte_view(off, sizes[s], 0x10,
                                                           0x0001aac3u));
            }
        }
        /* Reads have no side effect. */
        assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0x10);
        assert_ev(x, INTC_EV_BAD_ACCESS, 0);
        finish(m);
    }
}

/* Snapshot of everything the guest can see: IOREGSEL and all 256
   indirect registers (IOREGSEL restored). */
static void snapshot(intc_ioapic *io, uint32_t out[257])
{
    out[256] = iomr(io, INTC_IOAPIC_IOREGSEL);
    for (unsigned r = 0; r < 256; r++)
        out[r] = ior(io, (uint8_t)r);
    iomw(io, INTC_IOAPIC_IOREGSEL, out[256]);
}

/* ioapic.h: writes other than 32 bits at IOREGSEL, IOWIN or (0x20) EOI
   are ignored with INTC_EV_BAD_ACCESS: they change nothing, not even a
   pending Remote IRR (a stray write at 0x40 on an 82093AA is no EOI). */
static void test_mmio_every_offset_write_ignored(void **state)
{
    static const uint8_t vers[] = {0x11, 0x20};
    static const unsigned sizes[] = {1, 2, 4, 8};
    for (unsigned a = 0; a < 2; a++) {
        io_rec x;
        intc_machine_config cfg;
        intc_ioapic_config ioc;
        io_init(&x, *state);
        cfg_one(&cfg, &ioc, vers[a], 24, pci_wiring, 1);
        intc_machine *m = io_machine(&x, &cfg);
        intc_ioapic *io = intc_machine_ioapic(m, 0);
        intc_lapic *l = intc_machine_lapic(m, 0);
        uint32_t s0[257], s1[257];
        unsigned n_bad = 0;

        sw_enable(l);
        /* Pin 0: level, vector 0xFF, delivered, Remote IRR set. */
        rte_set(io, 0, LVL(0xff, 0));
        assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
        assert_true(remote_irr(io, 0));
        rte_set(io, 1, RTE_VEC(0x31) | RTE_DEST(0));
        iomw(io, INTC_IOAPIC_IOREGSEL, 0x10);
        snapshot(io, s0);
        for (uint32_t off = 0; off < 256; off++) {
            for (unsigned s = 0; s < 4; s++) {
                unsigned size = sizes[s];
                if (off + size > 256)
                    continue;
                if (size == 4 &&
                    (off == 0 || off == 0x10 || (off == 0x40 && vers[a] == 0x20)))
                    continue; /* architectural */
                th_clear_events(x.h);
                assert_int_equal(
                    intc_ioapic_mmio_write(io, off, size, UINT64_MAX), INTC_OK);
                n_bad++;
                th_assert_event_count(x.h, INTC_EV_BAD_ACCESS, 1);
                snapshot(io, s1);
                if (memcmp(s0, s1, sizeof(s0)) != 0)
                    fail_msg("v%#x write off %#x size %u changed state",
                             vers[a], off, size);
            }
        }
        assert_ev(x, INTC_EV_BAD_ACCESS, n_bad);
        assert_true(remote_irr(io, 0));
        assert_ev(x, INTC_EV_IOAPIC_EOI, 0);
        finish(m);
    }
}

/* ioapic.h / STYLE 6: host misuse is INTC_ERR_INVAL and changes
   nothing: NULL objects, sizes other than 1/2/4/8, off + size > 256
   (including offsets so large that off + size wraps). */
static void test_mmio_rec_misuse(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    uint64_t v = 0;
    static const unsigned bad_sizes[] = {0, 3, 5, 6, 7, 16, 32, UINT32_MAX};
    static const uint32_t bad_off[][2] = {
        {256, 1}, {255, 2}, {253, 4}, {249, 8}, {0x1000, 4},
        {UINT32_MAX, 1}, {UINT32_MAX, 4}, {UINT32_MAX - 3, 4},
        {UINT32_MAX - 7, 8}, {UINT32_MAX - 15, 4}};

    iomw(io, INTC_IOAPIC_IOREGSEL, 0x10);
    assert_int_equal(intc_ioapic_mmio_read(NULL, 0, 4, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_mmio_read(io, 0, 4, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_mmio_write(NULL, 0, 4, 0), INTC_ERR_INVAL);
    for (unsigned i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        assert_int_equal(intc_ioapic_mmio_read(io, 0, bad_sizes[i], &v),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_ioapic_mmio_write(io, 0, bad_sizes[i], 0x20),
                         INTC_ERR_INVAL);
    }
    for (unsigned i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++) {
        uint32_t off = bad_off[i][0];
        unsigned size = bad_off[i][1];
        intc_err e = intc_ioapic_mmio_read(io, off, size, &v);
        if (e != INTC_ERR_INVAL)
            fail_msg("read off %#x size %u: %s", off, size, intc_err_name(e));
        e = intc_ioapic_mmio_write(io, off, size, 0x20);
        if (e != INTC_ERR_INVAL)
            fail_msg("write off %#x size %u: %s", off, size, intc_err_name(e));
    }
    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0x10);
    assert_ev(x, INTC_EV_BAD_ACCESS, 0);

    /* Line and query calls. */
    assert_int_equal(intc_ioapic_set_irq(io, 24, true), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_set_irq(NULL, 0, true), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_set_irq_source(io, 0, INTC_IOAPIC_MAX_SOURCES,
                                                true),
                     INTC_ERR_INVAL);
    assert_false(intc_ioapic_line(io, 0));
    assert_int_equal(intc_ioapic_rte(io, 24, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_rte(io, 0, NULL), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_rte(NULL, 0, &v), INTC_ERR_INVAL);
    assert_int_equal(intc_ioapic_timer_expired(NULL, 0), INTC_ERR_INVAL);
    assert_null(intc_machine_ioapic(m, 1));
    assert_int_equal(intc_machine_set_gsi(NULL, 0, true), INTC_ERR_INVAL);
    assert_ev(x, INTC_EV_IOAPIC_LINE, 0);
    finish(m);
}

/* 82093AA 3.2.4: after reset every entry is masked (other bits 0 here);
   IOREGSEL 0 (3.1). */
static void test_reset_state_all_masked(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x11, 120, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0);
    for (uint32_t p = 0; p < 120; p++) {
        uint64_t r = 0;
        assert_int_equal(rte_get(io, p), RTE_MASKED);
        assert_int_equal(intc_ioapic_rte(io, p, &r), INTC_OK);
        assert_int_equal(r, RTE_MASKED);
        assert_false(intc_ioapic_line(io, p));
    }
    /* A masked pin delivers nothing. */
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    finish(m);
}

/* machine.h: intc_machine_reset returns each model to power-up state:
   entries masked, Remote IRR clear, IOREGSEL 0, the configured ID; the
   lines are outside the chip and keep their state, so an asserted level
   line is delivered as soon as the guest unmasks it again. */
static void test_machine_reset_keeps_lines(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);

    sw_enable(l);
    rte_set(io, 2, LVL(0x52, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    assert_true(remote_irr(io, 2));
    iow(io, INTC_IOAPIC_REG_ID, 0x03000000u);
    iomw(io, INTC_IOAPIC_IOREGSEL, 0x21);

    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(iomr(io, INTC_IOAPIC_IOREGSEL), 0);
    assert_int_equal(ior(io, INTC_IOAPIC_REG_ID), 8u << 24);
    for (uint32_t p = 0; p < 24; p++)
        assert_int_equal(rte_get(io, p), RTE_MASKED);
    assert_true(intc_ioapic_line(io, 2));
    assert_false(intc_ioapic_line(io, 1));

    th_clear_events(x.h);
    sw_enable(l);
    rte_set(io, 2, LVL(0x53, 0));
    th_assert_event_count(x.h, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x53));
    assert_true(remote_irr(io, 2));
    finish(m);
}

/* ================================================================== */
/* 2. Configuration                                                    */
/* ================================================================== */

static void expect_cfg(io_rec *x, const intc_machine_config *cfg,
                       intc_err want, const char *what)
{
    intc_err err = INTC_OK;
    intc_machine *m = intc_machine_new(cfg, &x->h->ops, x->h, &err);
    if (want != INTC_OK) {
        if (m) {
            intc_machine_free(m);
            fail_msg("%s: accepted, expected %s", what, intc_err_name(want));
        }
        if (err != want)
            fail_msg("%s: %s, expected %s", what, intc_err_name(err),
                     intc_err_name(want));
    } else {
        if (!m)
            fail_msg("%s: refused with %s", what, intc_err_name(err));
        finish(m);
    }
    assert_int_equal(x->h->live_bytes, 0);
}

/* ioapic.h / machine.h: version 0x11 or 0x20, n_pins 1..120, id <= 15,
   distinct IDs, non-overlapping GSI ranges, wiring flags only bits 0-1,
   directed_eoi only with version 0x20 IOAPICs (11.8.5: the directed EOI
   is written to the IOAPIC's EOI register). */
static void test_config_validation(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config io2[2];
    uint8_t wiring[24] = {0};
    io_init(&x, *state);

    cfg_one(&cfg, &io2[0], 0x20, 24, NULL, 1);
    expect_cfg(&x, &cfg, INTC_OK, "baseline");
    static const uint8_t bad_vers[] = {0, 0x10, 0x12, 0x1f, 0x21, 0xff};
    for (unsigned i = 0; i < sizeof(bad_vers); i++) {
        io2[0].version = bad_vers[i];
        expect_cfg(&x, &cfg, INTC_ERR_INVAL, "version");
    }
    io2[0].version = 0x11;
    io2[0].n_pins = 0;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "0 pins");
    io2[0].n_pins = 121;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "121 pins");
    io2[0].n_pins = 120;
    expect_cfg(&x, &cfg, INTC_OK, "120 pins");
    io2[0].n_pins = 1;
    expect_cfg(&x, &cfg, INTC_OK, "1 pin");
    io2[0].n_pins = 24;
    io2[0].id = 16;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "id 16");
    io2[0].id = 255;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "id 255");
    io2[0].id = 15;
    expect_cfg(&x, &cfg, INTC_OK, "id 15");
    io2[0].gsi_base = UINT32_MAX - 10;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "GSI range wraps");
    io2[0].gsi_base = 0;

    /* Wiring flags. */
    io2[0].pin_wiring = wiring;
    wiring[23] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW;
    expect_cfg(&x, &cfg, INTC_OK, "wiring 3");
    wiring[23] = 0x4;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "wiring bit 2");
    wiring[23] = 0x80;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "wiring bit 7");
    wiring[23] = 0;
    io2[0].pin_wiring = NULL;

    /* directed_eoi with an 82093AA. */
    cfg.directed_eoi = true;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "directed EOI with 0x11");
    io2[0].version = 0x20;
    expect_cfg(&x, &cfg, INTC_OK, "directed EOI with 0x20");
    cfg.directed_eoi = false;

    /* Two IOAPICs. */
    cfg.n_ioapics = 2;
    io2[1] = io2[0];
    io2[0].id = 1;
    io2[1].id = 1;
    io2[1].gsi_base = 24;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "duplicate IDs");
    io2[1].id = 2;
    expect_cfg(&x, &cfg, INTC_OK, "adjacent GSI ranges");
    io2[1].gsi_base = 23;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "overlap by one GSI");
    io2[1].gsi_base = 0;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "identical GSI ranges");
    io2[1].gsi_base = 100;
    io2[0].gsi_base = 90; /* second contains the first's end */
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "overlap, reverse order");
    io2[0].gsi_base = 124;
    expect_cfg(&x, &cfg, INTC_OK, "reverse order, disjoint");
    io2[1].version = 0x11;
    cfg.directed_eoi = true;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "directed EOI, one 0x11");
    cfg.directed_eoi = false;
    cfg.ioapics = NULL;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "n_ioapics without array");
    cfg.ioapics = io2;
    cfg.n_ioapics = INTC_IOAPIC_MAX + 1;
    expect_cfg(&x, &cfg, INTC_ERR_INVAL, "too many IOAPICs");
}

/* machine.h: "INTC_ERR_NOMEM when the allocator fails (nothing is
   leaked)" — every allocation of a machine with IOAPICs in turn. */
static void test_config_alloc_failure(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config io3[3];
    io_init(&x, *state);
    th_host *h = x.h;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 3;
    memset(io3, 0, sizeof(io3));
    io3[0] = (intc_ioapic_config){.id = 1, .version = 0x11, .n_pins = 24,
                                  .gsi_base = 0, .pin_wiring = pci_wiring};
    io3[1] = (intc_ioapic_config){.id = 2, .version = 0x20, .n_pins = 8,
                                  .gsi_base = 24};
    io3[2] = (intc_ioapic_config){.id = 3, .version = 0x20, .n_pins = 120,
                                  .gsi_base = 32};
    cfg.ioapics = io3;
    cfg.n_ioapics = 3;

    unsigned long fails = 0;
    for (unsigned long k = 1; k < 1000; k++) {
        intc_err err = INTC_OK;
        h->n_allocs = 0;
        h->fail_at = k;
        intc_machine *m = intc_machine_new(&cfg, &x.h->ops, x.h, &err);
        if (m) {
            h->fail_at = 0;
            /* It works after all those failures. */
            intc_ioapic *io = intc_machine_ioapic(m, 2);
            assert_non_null(io);
            assert_int_equal(intc_ioapic_pin_count(io), 120);
            assert_int_equal(ior(io, INTC_IOAPIC_REG_VER), 0x770020u);
            finish(m);
            break;
        }
        fails++;
        if (err != INTC_ERR_NOMEM)
            fail_msg("allocation %lu failed: got %s", k, intc_err_name(err));
        if (h->live_bytes || h->live_blocks)
            fail_msg("allocation %lu failed: %zu bytes leaked", k,
                     h->live_bytes);
    }
    h->fail_at = 0;
    /* The machine itself, CPUs and at least one block per IOAPIC. */
    assert_true(fails >= 5);
    assert_int_equal(h->live_bytes, 0);
}

/* ================================================================== */
/* 3. Edge-triggered pins                                              */
/* ================================================================== */

/* 82093AA 3.2.4 (Trigger Mode = edge): a rising edge sends one message;
   SDM 11.8.4: it lands in IRR with TMR clear. */
static void test_edge_rising_delivers_once(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 3, RTE_VEC(0x33) | RTE_DEST(0));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0); /* writes make no edge */
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_true(intc_ioapic_line(io, 3));
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_IOAPIC_SEND, TH_ANY_CPU, 0x33);
        assert_non_null(e);
        assert_int_equal(e->unit, 0);
        assert_int_equal(e->pin, 3);
        assert_int_equal(e->data2, 0);
        assert_int_equal(e->data, RTE_VEC(0x33));
    }
    assert_true(irr(l, 0x33));
    assert_false(tmr(l, 0x33));
    assert_true(intc_lapic_pending(l) & INTC_PEND_INTR);
    assert_false(remote_irr(io, 3)); /* edge: no Remote IRR */
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    finish(m);
}

/* 82093AA 3.2.4: only the inactive-to-active transition counts; a held
   line does not re-deliver, even after the vector was serviced. */
static void test_edge_held_line_no_redelivery(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 3, RTE_VEC(0x33) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    ack_eoi(l, 0x33);
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    rte_set(io, 3, RTE_VEC(0x34) | RTE_DEST(0)); /* an RTE write: no edge */
    assert_false(irr(l, 0x33));
    assert_false(irr(l, 0x34));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_ev(x, INTC_EV_EOI_BROADCAST, 0); /* edge: no broadcast */
    /* Falling edge: nothing; next rising edge: one more. */
    assert_int_equal(intc_ioapic_set_irq(io, 3, false), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    assert_true(irr(l, 0x34));
    finish(m);
}

/* 82093AA 3.2.4 (Interrupt Mask): "edge-sensitive interrupts signaled on
   a masked interrupt pin are ignored (i.e., not delivered or held
   pending)": lost (IOAPIC_MASKED), and unmasking does not bring it. */
static void test_edge_masked_lost(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 4, RTE_VEC(0x44) | RTE_MASKED | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 4, true), INTC_OK);
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_IOAPIC_MASKED, TH_ANY_CPU, 0x44);
        assert_non_null(e);
        assert_int_equal(e->pin, 4);
    }
    assert_ev(x, INTC_EV_IOAPIC_MASKED, 1);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    /* Unmask with the line still high: the lost edge stays lost. */
    rte_set_lo(io, 4, 0x44);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    assert_false(irr(l, 0x44));
    assert_false(delivs(io, 4));
    /* A new edge is delivered. */
    assert_int_equal(intc_ioapic_set_irq(io, 4, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 4, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x44));
    finish(m);
}

/* 82093AA 3.2.4 (Interrupt Input Pin Polarity) + ioapic.h: an edge pin
   wired active high but programmed active low sees the device's pulse
   inverted: the interrupt comes on the falling edge of the pulse; the
   mismatch is reported when the entry is unmasked. */
static void test_edge_wrong_polarity_falling_edge(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1); /* ISA: active high edge */
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 1, RTE_VEC(0x41) | RTE_ACTIVE_LOW | RTE_DEST(0));
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_POLARITY_MISMATCH, TH_ANY_CPU, 0x41);
        assert_non_null(e);
        assert_int_equal(e->pin, 1);
        assert_int_equal(e->data, 1);
        assert_int_equal(e->data2, 0);
    }
    /* Idle device looks active, but an RTE write makes no edge. */
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    assert_false(irr(l, 0x41));
    assert_int_equal(intc_ioapic_set_irq(io, 1, false), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x41));
    finish(m);
}

/* The wiring declares a PCI INTx source (level); an entry programmed
   edge for it (or level for an ISA edge source) is reported when it is
   unmasked with the wrong trigger mode, and not when it matches. */
static void test_trigger_mismatch_event(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);

    rte_set(io, 3, LVL(0x43, 0)); /* as wired: silent */
    assert_ev(x, INTC_EV_TRIGGER_MISMATCH, 0);
    rte_set(io, 4, RTE_VEC(0x44) | RTE_ACTIVE_LOW | RTE_DEST(0)); /* edge */
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_TRIGGER_MISMATCH, TH_ANY_CPU, 0x44);
        assert_non_null(e);
        assert_int_equal(e->pin, 4);
        assert_int_equal(e->data, 0);  /* programmed edge */
        assert_int_equal(e->data2, 1); /* wired level */
    }
    /* Masked entries are not reported. */
    rte_set(io, 5, RTE_VEC(0x45) | RTE_ACTIVE_LOW | RTE_MASKED);
    th_assert_no_event(x.h, INTC_EV_TRIGGER_MISMATCH, TH_ANY_CPU, 0x45);
    finish(m);
}

/* The same with correct polarity on an active-low wired edge pin: the
   assertion is the active edge, no mismatch; IOAPIC_LINE reports the
   electrical level (low) in data2. */
static void test_edge_active_low_wiring(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[4] = {0, INTC_PIN_ACTIVE_LOW, 0, 0};
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 4, wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 1, RTE_VEC(0x41) | RTE_ACTIVE_LOW | RTE_DEST(0));
    assert_ev(x, INTC_EV_POLARITY_MISMATCH, 0);
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_IOAPIC_LINE, TH_ANY_CPU, TH_ANY_VECTOR);
        assert_non_null(e);
        assert_int_equal(e->pin, 1);
        assert_int_equal(e->data, 1);
        assert_int_equal(e->data2, 0);
    }
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x41));
    assert_int_equal(intc_ioapic_set_irq(io, 1, false), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    finish(m);
}

/* ================================================================== */
/* 4. Level-triggered pins                                             */
/* ================================================================== */

/* 82093AA 3.2.4 (Remote IRR): set when the level interrupt is accepted
   by the local APIC; while set no further message is sent.  SDM 11.8.4:
   TMR set for a level interrupt. */
static void test_level_remote_irr_blocks(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 9, LVL(0x40, 0));
    assert_false(remote_irr(io, 9));
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    assert_true(remote_irr(io, 9));
    assert_true(irr(l, 0x40));
    assert_true(tmr(l, 0x40));
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_REMOTE_IRR, TH_ANY_CPU, 0x40);
        assert_non_null(e);
        assert_int_equal(e->pin, 9);
        assert_int_equal(e->data, 1);
    }
    /* Still asserted, serviced but not EOIed: nothing more. */
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    assert_false(irr(l, 0x40));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(remote_irr(io, 9));
    finish(m);
}

/* SDM 11.8.5 + 82093AA 3.2.4: the EOI for a level vector is broadcast;
   Remote IRR clears; a line still asserted is sent again (IOAPIC_SEND
   data2 = 1). */
static void test_level_eoi_asserted_redelivers(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 9, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    ack_eoi(l, 0x40);
    assert_ev(x, INTC_EV_EOI_BROADCAST, 1);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    assert_redeliv(x, 1);
    TH_IF_TRACED(x.h) {
        assert_int_equal(count_ev2(x.h, INTC_EV_IOAPIC_SEND, 1), 1);
    }
    assert_true(irr(l, 0x40));
    assert_true(remote_irr(io, 9));
    /* The REMOTE_IRR trace: set, cleared, set. */
    assert_ev(x, INTC_EV_REMOTE_IRR, 3);
    finish(m);
}

/* The correct driver order: the handler clears the device (line falls),
   then EOIs: exactly one delivery, Remote IRR clear at the end. */
static void test_level_deassert_then_eoi_once(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 9, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    assert_int_equal(intc_ioapic_set_irq(io, 9, false), INTC_OK);
    assert_true(remote_irr(io, 9)); /* line fell; Remote IRR waits for EOI */
    lw(l, INTC_LAPIC_EOI, 0);
    assert_false(remote_irr(io, 9));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_redeliv(x, 0);
    assert_false(irr(l, 0x40));
    assert_false(isr(l, 0x40));
    assert_false(intc_lapic_pending(l) & INTC_PEND_INTR);
    finish(m);
}

/* 82093AA 3.2.4: Remote IRR "is reset when an EOI message is received
   from a local APIC" with a matching vector: only the vector counts —
   not which CPU sends the EOI nor where the entry points now — and
   every entry with that vector is cleared. */
static void test_level_eoi_matches_vector_only(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 2);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l0 = intc_machine_lapic(m, 0);
    intc_lapic *l1 = intc_machine_lapic(m, 1);
    sw_enable(l0);
    sw_enable(l1);

    /* (a) Entry repointed to CPU 1 after delivery to CPU 0; CPU 0 EOIs. */
    rte_set(io, 0, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_true(irr(l0, 0x40));
    assert_int_equal(intc_ioapic_set_irq(io, 0, false), INTC_OK);
    rte_set_hi(io, 0, 1u << 24);
    assert_true(remote_irr(io, 0));
    ack_eoi(l0, 0x40);
    assert_false(remote_irr(io, 0));

    /* (b) Entry points to CPU 0 (vector 0x41 in service there); the EOI
       of a level vector 0x41 comes from CPU 1 (a level MSI there). */
    rte_set(io, 1, LVL(0x41, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 1, false), INTC_OK);
    assert_int_equal(intc_lapic_ack(l0), 0x41);
    assert_int_equal(intc_msi_send(m, INTC_MSI_ADDR_BASE | 1u << 12,
                                   0x41 | INTC_MSI_DATA_LEVEL |
                                       INTC_MSI_DATA_ASSERT,
                                   0, NULL),
                     INTC_OK);
    assert_true(tmr(l1, 0x41));
    assert_true(remote_irr(io, 1));
    ack_eoi(l1, 0x41);
    assert_false(remote_irr(io, 1));
    assert_true(isr(l0, 0x41)); /* CPU 0's own service is untouched */
    lw(l0, INTC_LAPIC_EOI, 0);

    /* (c) Two entries with vector 0x42 and one with 0x43: one EOI of
       0x42 clears both 0x42 entries only. */
    rte_set(io, 2, LVL(0x42, 0));
    rte_set(io, 3, LVL(0x42, 0));
    rte_set(io, 4, LVL(0x43, 0));
    for (uint32_t p = 2; p <= 4; p++) {
        assert_int_equal(intc_ioapic_set_irq(io, p, true), INTC_OK);
        assert_int_equal(intc_ioapic_set_irq(io, p, false), INTC_OK);
        assert_true(remote_irr(io, p));
    }
    /* SDM 11.8.3/11.8.5: 0x43 is serviced and EOIed first. */
    ack_eoi(l0, 0x43);
    assert_true(remote_irr(io, 2));
    assert_true(remote_irr(io, 3));
    assert_false(remote_irr(io, 4));
    ack_eoi(l0, 0x42);
    assert_false(remote_irr(io, 2));
    assert_false(remote_irr(io, 3));
    finish(m);
}

/* 82093AA 3.2.4 (Remote IRR "reset when an EOI message is received"
   with a matching vector) and the re-delivery of a line still asserted
   (KVM __kvm_ioapic_update_eoi walks every pin): two level pins share
   vector 0x44, routed to CPUs 0 and 1, both lines held.  One EOI, by
   CPU 0, clears Remote IRR on both pins and re-delivers both, each to
   its own CPU; a model that cleared or re-sent only the first pin with
   the vector leaves pin 6 behind. */
static void test_level_shared_vector_eoi_redelivers_all(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 2);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l0 = intc_machine_lapic(m, 0);
    intc_lapic *l1 = intc_machine_lapic(m, 1);
    sw_enable(l0);
    sw_enable(l1);

    rte_set(io, 5, LVL(0x44, 0));
    rte_set(io, 6, LVL(0x44, 1));
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 6, true), INTC_OK);
    assert_true(remote_irr(io, 5));
    assert_true(remote_irr(io, 6));
    assert_int_equal(intc_lapic_ack(l0), 0x44);
    assert_int_equal(intc_lapic_ack(l1), 0x44);
    assert_false(irr(l0, 0x44));
    assert_false(irr(l1, 0x44));

    lw(l0, INTC_LAPIC_EOI, 0); /* one EOI, CPU 0's */
    /* Both re-delivered (their lines are still up) and accepted: each
       CPU has 0x44 pending again, each pin's Remote IRR set again. */
    assert_true(irr(l0, 0x44));
    assert_true(irr(l1, 0x44));
    assert_true(isr(l1, 0x44)); /* CPU 1's own service is untouched */
    assert_true(remote_irr(io, 5));
    assert_true(remote_irr(io, 6));
    assert_redeliv(x, 2);
    finish(m);
}

/* ioapic.h: unmasking an active level line sends with the entry as it is
   now (the vector changed while masked); a masked level line is not
   "lost" like an edge. */
static void test_level_unmask_delivers_current_entry(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 5, LVL(0x40, 0) | RTE_MASKED);
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    assert_ev(x, INTC_EV_IOAPIC_MASKED, 0); /* level: not lost */
    assert_false(remote_irr(io, 5));
    assert_false(delivs(io, 5)); /* masked: idle */
    rte_set_lo(io, 5, (uint32_t)(LVL(0x50, 0) | RTE_MASKED));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    rte_set_lo(io, 5, (uint32_t)LVL(0x50, 0));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x50));
    assert_false(irr(l, 0x40));
    assert_true(remote_irr(io, 5));
    finish(m);
}

/* 82093AA 3.2.4: the EOI clears Remote IRR of a masked entry too (only
   the vector is compared); nothing is sent while masked, and the unmask
   then delivers the still-active line (the Linux mask-ack-unmask path). */
static void test_level_masked_at_eoi_then_unmask(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 5, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    rte_set_lo(io, 5, (uint32_t)(LVL(0x40, 0) | RTE_MASKED));
    lw(l, INTC_LAPIC_EOI, 0);
    assert_false(remote_irr(io, 5));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_int_equal(x.h->n_eois, 1); /* resample: the entry was cleared */
    rte_set_lo(io, 5, (uint32_t)LVL(0x40, 0));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    assert_true(irr(l, 0x40));
    assert_true(remote_irr(io, 5));
    finish(m);
}

/* ioapic.h: switching an entry from level to edge clears Remote IRR
   (Linux relies on it to unstick a line); an RTE write makes no edge.
   Back to level with the line active: sent again (level semantics look
   at the line as it is). */
static void test_level_to_edge_clears_remote_irr(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 5, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    assert_true(remote_irr(io, 5));
    th_clear_events(x.h);
    rte_set_lo(io, 5, (uint32_t)(LVL(0x40, 0) & ~RTE_LEVEL));
    assert_false(remote_irr(io, 5));
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_REMOTE_IRR, TH_ANY_CPU, 0x40);
        assert_non_null(e);
        assert_int_equal(e->data, 0);
    }
    th_assert_event_count(x.h, INTC_EV_IOAPIC_SEND, 0);
    assert_int_equal(intc_lapic_ack(l), 0x40);
    rte_set_lo(io, 5, (uint32_t)LVL(0x40, 0));
    th_assert_event_count(x.h, INTC_EV_IOAPIC_SEND, 1);
    assert_true(remote_irr(io, 5));
    finish(m);
}

/* 82093AA 3.2.4, Delivery Status: "Send Pending: the interrupt has been
   injected but its delivery is temporarily held up ... [by] the
   inability of the receiving APIC unit to accept that interrupt".  An
   accepted level interrupt is idle (DS 0) with Remote IRR set; one its
   APIC refused (software-disabled, 11.4.7.2) is pending (DS 1), leaves
   Remote IRR clear, and goes out again at the pin's next event. */
static void test_level_delivery_status(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);

    /* The APIC is still software-disabled: it refuses the message. */
    rte_set(io, 6, LVL(0x40, 0));
    assert_false(delivs(io, 6));
    assert_int_equal(intc_ioapic_set_irq(io, 6, true), INTC_OK);
    assert_true(delivs(io, 6));
    assert_false(remote_irr(io, 6));
    uint64_t r = 0;
    assert_int_equal(intc_ioapic_rte(io, 6, &r), INTC_OK);
    assert_true(r & INTC_RTE_DELIVS);
    /* Masked: idle. */
    rte_set_lo(io, 6, (uint32_t)(LVL(0x40, 0) | RTE_MASKED));
    assert_false(delivs(io, 6));
    /* Enabled and unmasked: the held interrupt goes out and is
       accepted: idle, Remote IRR set. */
    sw_enable(l);
    rte_set_lo(io, 6, (uint32_t)LVL(0x40, 0));
    assert_true(irr(l, 0x40));
    assert_true(remote_irr(io, 6));
    assert_false(delivs(io, 6));
    /* EOI with the line held: re-sent and accepted again: idle. */
    ack_eoi(l, 0x40);
    assert_true(remote_irr(io, 6));
    assert_false(delivs(io, 6));
    /* Line falls: idle, Remote IRR waits for the EOI. */
    assert_int_equal(intc_ioapic_set_irq(io, 6, false), INTC_OK);
    assert_false(delivs(io, 6));
    assert_true(remote_irr(io, 6));
    /* Edge entry on an active line: always idle. */
    rte_set(io, 7, RTE_VEC(0x47) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    assert_false(delivs(io, 7));
    finish(m);
}

/* 82093AA 3.2.4: Remote IRR is set when a local APIC accepts the level
   interrupt; one that reached no APIC cannot be EOIed, so Remote IRR
   stays clear (no wedged pin) and the interrupt is send-pending (DS). */
static void test_level_no_target_remote_irr_clear(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 7, LVL(0x40, 5)); /* APIC ID 5: nobody */
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_ev(x, INTC_EV_NO_TARGET, 1);
    assert_false(remote_irr(io, 7));
    assert_true(delivs(io, 7));
    assert_false(irr(l, 0x40));
    /* Repointed at CPU 0 (any RTE write re-examines the level line). */
    rte_set_hi(io, 7, 0);
    rte_set_lo(io, 7, (uint32_t)LVL(0x40, 0));
    assert_true(irr(l, 0x40));
    assert_true(remote_irr(io, 7));
    finish(m);
}

/* ioapic.h: a level pin wired active high (an idle device drives it
   low) but programmed active low looks asserted to the IOAPIC: on
   unmask it is delivered at once, and every EOI brings it back — a
   storm (reported once the threshold is reached). */
static void test_level_wrong_polarity_storms(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    uint8_t wiring[4] = {INTC_PIN_LEVEL, INTC_PIN_LEVEL, 0, 0};
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 4, wiring, 1);
    cfg.storm_threshold = 3;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 1, LVL(0x61, 0) | RTE_MASKED);
    assert_ev(x, INTC_EV_POLARITY_MISMATCH, 0); /* masked */
    assert_ev(x, INTC_EV_IOAPIC_SEND, 0);
    rte_set_lo(io, 1, (uint32_t)LVL(0x61, 0));
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_POLARITY_MISMATCH, TH_ANY_CPU, 0x61);
        assert_non_null(e);
        assert_int_equal(e->data, 1);  /* programmed active low */
        assert_int_equal(e->data2, 0); /* wired active high */
    }
    assert_false(intc_ioapic_line(io, 1)); /* the device is idle */
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_true(irr(l, 0x61));
    for (unsigned i = 1; i <= 3; i++) {
        ack_eoi(l, 0x61);
        assert_redeliv(x, i);
        assert_true(irr(l, 0x61));
    }
    assert_ev(x, INTC_EV_STORM, 1);
    finish(m);
}

/* ================================================================== */
/* 5. Shared pins                                                      */
/* ================================================================== */

/* ioapic.h: the pin is the wired-OR of its sources (PCI INTx sharing):
   a level line stays asserted until every source lets go. */
static void test_shared_level_wired_or(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 11, LVL(0x4b, 0));
    assert_int_equal(intc_ioapic_set_irq_source(io, 11, 0, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq_source(io, 11, 31, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_ev(x, INTC_EV_IOAPIC_LINE, 1); /* one input change */
    /* The handler services device 0 only. */
    assert_int_equal(intc_lapic_ack(l), 0x4b);
    assert_int_equal(intc_ioapic_set_irq_source(io, 11, 0, false), INTC_OK);
    assert_true(intc_ioapic_line(io, 11));
    lw(l, INTC_LAPIC_EOI, 0);
    assert_redeliv(x, 1); /* device 31 still asserts */
    /* Next round services device 31: now the line falls. */
    assert_int_equal(intc_lapic_ack(l), 0x4b);
    assert_int_equal(intc_ioapic_set_irq_source(io, 11, 31, false), INTC_OK);
    assert_false(intc_ioapic_line(io, 11));
    lw(l, INTC_LAPIC_EOI, 0);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    assert_false(remote_irr(io, 11));
    assert_ev(x, INTC_EV_IOAPIC_LINE, 2);
    finish(m);
}

/* Shared edge pin: only the 0 -> 1 transition of the OR sends. */
static void test_shared_edge_or_transition(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 12, RTE_VEC(0x4c) | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 1, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 2, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 1, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 1, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 1, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 2, false), INTC_OK);
    assert_false(intc_ioapic_line(io, 12));
    assert_int_equal(intc_ioapic_set_irq_source(io, 12, 2, true), INTC_OK);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    finish(m);
}

/* ================================================================== */
/* 6. Delivery modes and destinations                                  */
/* ================================================================== */

/* 82093AA 3.2.4 (Destination Mode = physical): bits 63:56 name one
   APIC ID (version 0x20). */
static void test_dm_fixed_physical(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 3);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    for (uint32_t c = 0; c < 3; c++)
        sw_enable(intc_machine_lapic(m, c));

    rte_set(io, 0, RTE_VEC(0x50) | RTE_DEST(2));
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_false(irr(intc_machine_lapic(m, 0), 0x50));
    assert_false(irr(intc_machine_lapic(m, 1), 0x50));
    assert_true(irr(intc_machine_lapic(m, 2), 0x50));
    /* Physical 0xFF: broadcast (SDM 11.6.2.1). */
    rte_set(io, 1, RTE_VEC(0x51) | RTE_DEST(0xff));
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    for (uint32_t c = 0; c < 3; c++)
        assert_true(irr(intc_machine_lapic(m, c), 0x51));
    finish(m);
}

/* 82093AA 3.2.4 (Destination Mode = logical) + SDM 11.6.2.2: the
   destination is matched against each LDR (flat model). */
static void test_dm_fixed_logical(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 3);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    for (uint32_t c = 0; c < 3; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        sw_enable(l);
        lw(l, INTC_LAPIC_LDR, 1u << (24 + c));
    }

    rte_set(io, 0, RTE_VEC(0x52) | RTE_LOGICAL | RTE_DEST(0x06));
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_false(irr(intc_machine_lapic(m, 0), 0x52));
    assert_true(irr(intc_machine_lapic(m, 1), 0x52));
    assert_true(irr(intc_machine_lapic(m, 2), 0x52));
    finish(m);
}

/* 82093AA 3.2.4 (Lowest Priority) + SDM 11.6.2.4: delivered to the one
   destination APIC with the lowest priority (here: lowest TPR). */
static void test_dm_lowest_priority(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 3);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    static const uint8_t tpr1[3] = {0x40, 0x10, 0x30};
    static const uint8_t tpr2[3] = {0x40, 0x50, 0x20};
    for (uint32_t c = 0; c < 3; c++) {
        intc_lapic *l = intc_machine_lapic(m, c);
        sw_enable(l);
        lw(l, INTC_LAPIC_LDR, 1u << (24 + c));
        lw(l, INTC_LAPIC_TPR, tpr1[c]);
    }

    rte_set(io, 0, RTE_VEC(0x90) | RTE_DM(1) | RTE_LOGICAL | RTE_DEST(0x07));
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_false(irr(intc_machine_lapic(m, 0), 0x90));
    assert_true(irr(intc_machine_lapic(m, 1), 0x90));
    assert_false(irr(intc_machine_lapic(m, 2), 0x90));

    for (uint32_t c = 0; c < 3; c++)
        lw(intc_machine_lapic(m, c), INTC_LAPIC_TPR, tpr2[c]);
    rte_set_lo(io, 0, (uint32_t)(RTE_VEC(0x91) | RTE_DM(1) | RTE_LOGICAL));
    assert_int_equal(intc_ioapic_set_irq(io, 0, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_false(irr(intc_machine_lapic(m, 0), 0x91));
    assert_false(irr(intc_machine_lapic(m, 1), 0x91));
    assert_true(irr(intc_machine_lapic(m, 2), 0x91));

    /* Level lowest-priority: Remote IRR set by the one acceptance.
       11.6.2.4: a pending IRR vector raises APR (CPU 1: 0x90 pending,
       CPU 2: 0x91 pending), so CPU 0 (APR = TPR 0x40) wins now. */
    rte_set(io, 1, RTE_VEC(0x92) | RTE_DM(1) | RTE_LEVEL | RTE_LOGICAL |
                       RTE_DEST(0x07));
    assert_int_equal(intc_ioapic_set_irq(io, 1, true), INTC_OK);
    assert_true(irr(intc_machine_lapic(m, 0), 0x92));
    assert_false(irr(intc_machine_lapic(m, 1), 0x92));
    assert_false(irr(intc_machine_lapic(m, 2), 0x92));
    assert_true(remote_irr(io, 1));
    finish(m);
}

/* 82093AA 3.2.4 (Delivery Mode): SMI, NMI, INIT and ExtINT reach the
   destination as the matching signal (SDM 11.6.1), not as a vector; the
   LAPIC reports them in intc_lapic_pending(). */
static void test_dm_signals(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);
    static const struct {
        unsigned dm, pend;
        intc_event_type ev;
    } modes[] = {
        {2, INTC_PEND_SMI, INTC_EV_SMI},
        {4, INTC_PEND_NMI, INTC_EV_NMI},
        {7, INTC_PEND_EXTINT, INTC_EV_EXTINT},
        {5, INTC_PEND_INIT, INTC_EV_INIT}, /* last: taking it resets */
    };

    for (unsigned i = 0; i < 4; i++) {
        rte_set(io, i, RTE_VEC(0x70 + i) | RTE_DM(modes[i].dm) | RTE_DEST(0));
        assert_int_equal(intc_lapic_pending(l), 0);
        assert_int_equal(intc_ioapic_set_irq(io, i, true), INTC_OK);
        if (intc_lapic_pending(l) != modes[i].pend)
            fail_msg("mode %u: pending %#x, want %#x", modes[i].dm,
                     intc_lapic_pending(l), modes[i].pend);
        assert_ev(x, modes[i].ev, 1);
        assert_false(irr(l, 0x70 + i)); /* no vector */
        assert_int_equal(intc_lapic_take(l, modes[i].pend, NULL), 1);
        assert_int_equal(intc_ioapic_set_irq(io, i, false), INTC_OK);
    }
    finish(m);
}

/* ioapic.h (82093AA 3.2.4: SMI/NMI/INIT/ExtINT "must be programmed as
   edge triggered"): NMI with the level bit acts as edge — no Remote
   IRR, no DS, one NMI per rising edge. */
static void test_dm_nmi_level_acts_as_edge(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, NULL, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 2, RTE_DM(4) | RTE_LEVEL | RTE_DEST(0));
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
    assert_false(remote_irr(io, 2));
    assert_false(delivs(io, 2));
    assert_int_equal(intc_lapic_take(l, INTC_PEND_NMI, NULL), 1);
    /* Held: no more; RTE write with the line held: no more. */
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    rte_set_lo(io, 2, (uint32_t)(RTE_DM(4) | RTE_LEVEL));
    assert_int_equal(intc_lapic_pending(l), 0);
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);
    /* Next rising edge: another. */
    assert_int_equal(intc_ioapic_set_irq(io, 2, false), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 2, true), INTC_OK);
    assert_int_equal(intc_lapic_pending(l), INTC_PEND_NMI);
    assert_ev(x, INTC_EV_NMI, 2);
    assert_false(remote_irr(io, 2));
    finish(m);
}

/* 82093AA 3.2.4 (Destination Field): physical mode uses bits 59:56 (a
   4-bit APIC ID, 0xF = all); logical mode all of 63:56.  Version 0x20
   parts decode all 8 bits. */
static void test_v11_physical_dest_4bit(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config io2[2];
    static const uint32_t ids[3] = {0, 2, 0x12};
    io_init(&x, *state);
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 3;
    cfg.apic_ids = ids;
    memset(io2, 0, sizeof(io2));
    io2[0] = (intc_ioapic_config){.id = 1, .version = 0x11, .n_pins = 24};
    io2[1] = (intc_ioapic_config){.id = 2, .version = 0x20, .n_pins = 24,
                                  .gsi_base = 24};
    cfg.ioapics = io2;
    cfg.n_ioapics = 2;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *v11 = intc_machine_ioapic(m, 0);
    intc_ioapic *v20 = intc_machine_ioapic(m, 1);
    intc_lapic *l[3];
    for (uint32_t c = 0; c < 3; c++) {
        l[c] = intc_machine_lapic(m, c);
        sw_enable(l[c]);
    }

    /* Destination 0x12: the 82093AA sees APIC ID 2 (CPU 1). */
    rte_set(v11, 0, RTE_VEC(0x60) | RTE_DEST(0x12));
    assert_int_equal(intc_ioapic_set_irq(v11, 0, true), INTC_OK);
    assert_false(irr(l[0], 0x60));
    assert_true(irr(l[1], 0x60));
    assert_false(irr(l[2], 0x60));
    /* The 0x20 part: APIC ID 0x12 (CPU 2). */
    rte_set(v20, 0, RTE_VEC(0x61) | RTE_DEST(0x12));
    assert_int_equal(intc_ioapic_set_irq(v20, 0, true), INTC_OK);
    assert_false(irr(l[0], 0x61));
    assert_false(irr(l[1], 0x61));
    assert_true(irr(l[2], 0x61));
    /* 0x1F on the 82093AA: low nibble 0xF = broadcast. */
    rte_set(v11, 1, RTE_VEC(0x62) | RTE_DEST(0x1f));
    assert_int_equal(intc_ioapic_set_irq(v11, 1, true), INTC_OK);
    for (uint32_t c = 0; c < 3; c++)
        assert_true(irr(l[c], 0x62));
    /* 0xF0: APIC ID 0 (bits 63:60 ignored). */
    rte_set(v11, 2, RTE_VEC(0x63) | RTE_DEST(0xf0));
    assert_int_equal(intc_ioapic_set_irq(v11, 2, true), INTC_OK);
    assert_true(irr(l[0], 0x63));
    assert_false(irr(l[1], 0x63));
    assert_false(irr(l[2], 0x63));
    /* 0x0F on the 0x20 part is APIC ID 15: nobody. */
    rte_set(v20, 1, RTE_VEC(0x64) | RTE_DEST(0x0f));
    assert_int_equal(intc_ioapic_set_irq(v20, 1, true), INTC_OK);
    for (uint32_t c = 0; c < 3; c++)
        assert_false(irr(l[c], 0x64));
    assert_ev(x, INTC_EV_NO_TARGET, 1);
    /* Logical on the 82093AA: all 8 bits (CPU 2's LDR bit 4). */
    lw(l[2], INTC_LAPIC_LDR, 0x10u << 24);
    rte_set(v11, 3, RTE_VEC(0x65) | RTE_LOGICAL | RTE_DEST(0x10));
    assert_int_equal(intc_ioapic_set_irq(v11, 3, true), INTC_OK);
    assert_false(irr(l[0], 0x65));
    assert_true(irr(l[2], 0x65));
    finish(m);
}

/* ================================================================== */
/* 7. EOI register (version 0x20) and directed EOI                     */
/* ================================================================== */

static void cfg_two_v20(intc_machine_config *cfg, intc_ioapic_config io2[2])
{
    intc_machine_config_init(cfg);
    memset(io2, 0, 2 * sizeof(*io2));
    io2[0] = (intc_ioapic_config){.id = 1, .version = 0x20, .n_pins = 24,
                                  .gsi_base = 0, .pin_wiring = pci_wiring};
    io2[1] = (intc_ioapic_config){.id = 2, .version = 0x20, .n_pins = 24,
                                  .gsi_base = 24, .pin_wiring = pci_wiring};
    cfg->ioapics = io2;
    cfg->n_ioapics = 2;
}

/* ICH9 13.5.5: writing a vector to the EOI register (0x40) clears Remote
   IRR of this IOAPIC's entries with that vector; other IOAPICs are not
   affected.  The register is write-only (reads 0). */
static void test_eoi_register_this_ioapic_only(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config io2[2];
    io_init(&x, *state);
    cfg_two_v20(&cfg, io2);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *a = intc_machine_ioapic(m, 0);
    intc_ioapic *b = intc_machine_ioapic(m, 1);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(a, 0, LVL(0x40, 0));
    rte_set(b, 0, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(a, 0, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(b, 0, true), INTC_OK);
    assert_true(remote_irr(a, 0));
    assert_true(remote_irr(b, 0));
    assert_int_equal(intc_ioapic_set_irq(a, 0, false), INTC_OK);

    iomw(a, INTC_IOAPIC_EOI, 0x41); /* other vector: nothing */
    assert_true(remote_irr(a, 0));
    iomw(a, INTC_IOAPIC_EOI, 0xffffff40u); /* only bits 7:0 count */
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_IOAPIC_EOI, TH_ANY_CPU, 0x40);
        assert_non_null(e);
        assert_int_equal(e->unit, 0);
    }
    assert_false(remote_irr(a, 0));
    assert_true(remote_irr(b, 0));
    assert_int_equal(iomr(a, INTC_IOAPIC_EOI), 0);
    /* On b the line is still asserted: its EOI register re-sends. */
    iomw(b, INTC_IOAPIC_EOI, 0x40);
    assert_redeliv(x, 1);
    assert_true(remote_irr(b, 0));
    assert_ev(x, INTC_EV_EOI_BROADCAST, 0);
    finish(m);
}

/* 82093AA (version 0x11) has no EOI register: a write at 0x40 is not
   decoded (ignored, BAD_ACCESS) and clears nothing. */
static void test_eoi_register_absent_on_v11(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x11, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 0, LVL(0x40, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 0, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 0, false), INTC_OK);
    iomw(io, INTC_IOAPIC_EOI, 0x40);
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_BAD_ACCESS, TH_ANY_CPU, TH_ANY_VECTOR);
        assert_non_null(e);
        assert_int_equal(e->pin, 0x40);
        assert_int_equal(e->data, 4);
    }
    assert_ev(x, INTC_EV_IOAPIC_EOI, 0);
    assert_true(remote_irr(io, 0));
    assert_int_equal(iomr(io, INTC_IOAPIC_EOI), 0);
    finish(m);
}

/* SDM 11.8.5 (directed EOI): with SVR[12] = 1 the LAPIC does not
   broadcast the EOI; Remote IRR stays until the OS writes the IOAPIC's
   EOI register. */
static void test_directed_eoi(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.directed_eoi = true;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    lw(l, INTC_LAPIC_SVR, 0x11ff);
    assert_int_equal(lr(l, INTC_LAPIC_SVR), 0x11ff);

    rte_set(io, 3, LVL(0x43, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x43);
    assert_int_equal(intc_ioapic_set_irq(io, 3, false), INTC_OK);
    lw(l, INTC_LAPIC_EOI, 0);
    assert_false(isr(l, 0x43));
    assert_ev(x, INTC_EV_EOI_BROADCAST, 0);
    assert_true(remote_irr(io, 3));
    iomw(io, INTC_IOAPIC_EOI, 0x43);
    assert_false(remote_irr(io, 3));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 1);

    /* SVR[12] = 0 again: broadcast EOI as usual. */
    lw(l, INTC_LAPIC_SVR, 0x1ff);
    assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
    assert_int_equal(intc_ioapic_set_irq(io, 3, false), INTC_OK);
    ack_eoi(l, 0x43);
    assert_false(remote_irr(io, 3));
    assert_ev(x, INTC_EV_EOI_BROADCAST, 1);
    finish(m);
}

/* ================================================================== */
/* 8. Resample callback eoi(gsi)                                       */
/* ================================================================== */

/* common.h: eoi(gsi) is called for each level entry whose Remote IRR an
   EOI cleared, once per entry, after the operation; the GSI is
   gsi_base + pin.  Edge entries and entries without Remote IRR get
   none. */
static void test_resample_once_per_cleared_entry(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    ioc.gsi_base = 16;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 0, LVL(0x40, 0));
    rte_set(io, 1, LVL(0x40, 0));
    rte_set(io, 2, LVL(0x41, 0));
    rte_set(io, 3, LVL(0x40, 0) | RTE_MASKED); /* never delivered */
    for (uint32_t p = 0; p < 3; p++) {
        assert_int_equal(intc_ioapic_set_irq(io, p, true), INTC_OK);
        assert_int_equal(intc_ioapic_set_irq(io, p, false), INTC_OK);
    }
    assert_int_equal(x.h->n_eois, 0);
    ack_eoi(l, 0x41);
    assert_int_equal(x.h->n_eois, 1);
    assert_int_equal(x.eoi_gsi[0], 18);
    ack_eoi(l, 0x40);
    assert_int_equal(x.h->n_eois, 3);
    assert_true((x.eoi_gsi[1] == 16 && x.eoi_gsi[2] == 17) ||
                (x.eoi_gsi[1] == 17 && x.eoi_gsi[2] == 16));
    assert_ev(x, INTC_EV_RESAMPLE, 3);
    assert_int_equal(x.eoi_max_depth, 1);
    /* An EOI that clears nothing calls nothing. */
    iomw(io, INTC_IOAPIC_EOI, 0x40);
    assert_int_equal(x.h->n_eois, 3);
    finish(m);
}

struct resample_ctx {
    intc_ioapic *io;
    intc_lapic *l;
    uint32_t pin;
    intc_err set_err;
    intc_err check_err;
};

static void deassert_on_eoi(io_rec *x, uint32_t gsi)
{
    struct resample_ctx *c = x->ctx;
    assert_int_equal(gsi, c->pin);
    /* Called after the operation: the machine is consistent and may be
       called into. */
    c->check_err = intc_machine_check(x->m, NULL, 0);
    c->set_err = intc_ioapic_set_irq(c->io, c->pin, false);
}

/* common.h: the host may call intc_ioapic_set_irq() from inside eoi();
   a de-assert there works (the VFIO INTx resample pattern). */
static void test_resample_callback_deasserts(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    struct resample_ctx c = {io, l, 5, INTC_ERR_CORRUPT, INTC_ERR_CORRUPT};
    sw_enable(l);
    x.ctx = &c;
    x.on_eoi = deassert_on_eoi;

    rte_set(io, 5, LVL(0x45, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 5, true), INTC_OK);
    /* The guest EOIs before the device was cleared: the IOAPIC re-sends
       (line still up), then the host learns of the EOI and drops it. */
    ack_eoi(l, 0x45);
    assert_int_equal(x.h->n_eois, 1);
    assert_int_equal(c.set_err, INTC_OK);
    assert_int_equal(c.check_err, INTC_OK);
    assert_false(intc_ioapic_line(io, 5));
    assert_redeliv(x, 1);
    assert_true(remote_irr(io, 5));
    /* That re-delivery is serviced; its EOI clears Remote IRR for good. */
    ack_eoi(l, 0x45);
    assert_int_equal(x.h->n_eois, 2);
    assert_false(remote_irr(io, 5));
    assert_ev(x, INTC_EV_IOAPIC_SEND, 2);
    assert_int_equal(x.eoi_max_depth, 1);
    finish(m);
}

static void eoi_again_then_deassert(io_rec *x, uint32_t gsi)
{
    struct resample_ctx *c = x->ctx;
    (void)gsi;
    if (x->h->n_eois == 1) {
        /* A host that services the interrupt again from inside the
           callback: ack + EOI clear Remote IRR once more, which queues
           another eoi() -- it must come after this one returns. */
        if (intc_lapic_ack(c->l) != 0x46)
            c->set_err = INTC_ERR_CORRUPT;
        else
            c->set_err = intc_lapic_mmio_write(c->l, INTC_LAPIC_EOI, 4, 0);
    } else {
        c->check_err = intc_ioapic_set_irq(c->io, c->pin, false);
    }
}

/* STYLE 8 / common.h: callbacks queued by calls made from inside eoi()
   run after it returns, from the same loop: no recursion. */
static void test_resample_no_recursion(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    struct resample_ctx c = {io, l, 6, INTC_ERR_CORRUPT, INTC_ERR_CORRUPT};
    sw_enable(l);
    x.ctx = &c;
    x.on_eoi = eoi_again_then_deassert;

    rte_set(io, 6, LVL(0x46, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 6, true), INTC_OK);
    ack_eoi(l, 0x46);
    assert_int_equal(c.set_err, INTC_OK);
    assert_int_equal(c.check_err, INTC_OK);
    assert_int_equal(x.h->n_eois, 2);
    assert_int_equal(x.eoi_max_depth, 1);
    assert_false(intc_ioapic_line(io, 6));
    /* Two EOIs with the line up: two re-deliveries; the last is still
       pending in IRR with Remote IRR set. */
    assert_redeliv(x, 2);
    assert_true(irr(l, 0x46));
    assert_true(remote_irr(io, 6));
    finish(m);
}

/* ================================================================== */
/* 9. Storm detection and throttling                                   */
/* ================================================================== */

/* machine.h storm_threshold: re-deliveries after EOI with the line
   never dropping; at the threshold exactly one STORM event. */
static void test_storm_event_once(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.storm_threshold = 5;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 7, LVL(0x47, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    for (unsigned i = 1; i <= 4; i++)
        ack_eoi(l, 0x47);
    assert_redeliv(x, 4);
    assert_ev(x, INTC_EV_STORM, 0);
    ack_eoi(l, 0x47);
    assert_ev(x, INTC_EV_STORM, 1);
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_STORM, TH_ANY_CPU, 0x47);
        assert_non_null(e);
        assert_int_equal(e->pin, 7);
        assert_int_equal(e->data, 5);
    }
    /* No throttle configured: it keeps coming, reported once. */
    for (unsigned i = 0; i < 20; i++)
        ack_eoi(l, 0x47);
    assert_redeliv(x, 25);
    assert_ev(x, INTC_EV_STORM, 1);
    finish(m);
}

/* machine.h: "0 disables". */
static void test_storm_threshold_zero_disables(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.storm_threshold = 0;
    cfg.storm_throttle_ns = 1000;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 7, LVL(0x47, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    for (unsigned i = 0; i < 50; i++)
        ack_eoi(l, 0x47);
    assert_redeliv(x, 50);
    assert_ev(x, INTC_EV_STORM, 0);
    assert_int_equal(x.h->n_io_arms, 0);
    finish(m);
}

/* ioapic.h: a de-assert of the line resets the count. */
static void test_storm_deassert_resets(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.storm_threshold = 5;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 7, LVL(0x47, 0));
    for (unsigned round = 0; round < 3; round++) {
        assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
        for (unsigned i = 0; i < 4; i++)
            ack_eoi(l, 0x47);
        /* The device finally drops: the count starts over. */
        assert_int_equal(intc_lapic_ack(l), 0x47);
        assert_int_equal(intc_ioapic_set_irq(io, 7, false), INTC_OK);
        lw(l, INTC_LAPIC_EOI, 0);
        assert_false(remote_irr(io, 7));
    }
    assert_redeliv(x, 12);
    assert_ev(x, INTC_EV_STORM, 0);
    /* A storm after a reset count: reported, and again after a drop. */
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    for (unsigned i = 0; i < 5; i++)
        ack_eoi(l, 0x47);
    assert_ev(x, INTC_EV_STORM, 1);
    assert_int_equal(intc_lapic_ack(l), 0x47);
    assert_int_equal(intc_ioapic_set_irq(io, 7, false), INTC_OK);
    lw(l, INTC_LAPIC_EOI, 0);
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    for (unsigned i = 0; i < 5; i++)
        ack_eoi(l, 0x47);
    assert_ev(x, INTC_EV_STORM, 2);
    finish(m);
}

/* ioapic.h window: only IOREGSEL (0x00), IOWIN (0x10) and, on version
   0x20, the EOI register (0x40, ICH9 13.5.5) are decoded; other offsets
   of the 256-byte window read 0 and ignore writes; 0x40 on the 82093AA
   (version 0x11, datasheet 3.0: two registers only) is such an offset;
   the EOI register is write-only, takes 32-bit writes of vector bits
   7:0; outside the window the library answers INTC_ERR_INVAL and
   changes nothing. */
static void test_window_offsets_and_eoi_register(void **state)
{
    static const uint8_t vers[2] = {0x11, 0x20};

    for (unsigned k = 0; k < 2; k++) {
        io_rec x;
        intc_machine_config cfg;
        intc_ioapic_config ioc;
        uint64_t v;
        io_init(&x, *state);
        cfg_one(&cfg, &ioc, vers[k], 24, pci_wiring, 1);
        intc_machine *m = io_machine(&x, &cfg);
        intc_ioapic *io = intc_machine_ioapic(m, 0);
        intc_lapic *l = intc_machine_lapic(m, 0);
        sw_enable(l);

        /* Unused offsets inside the window. */
        for (uint32_t off = 0x04; off < 0x100; off += 4) {
            if (off == 0x10 || (off == 0x40 && vers[k] >= 0x20))
                continue;
            v = 0x55;
            assert_int_equal(intc_ioapic_mmio_read(io, off, 4, &v), INTC_OK);
            assert_int_equal(v, 0);
        }
        x.h->totals[INTC_EV_BAD_ACCESS] = 0;
        assert_int_equal(intc_ioapic_mmio_write(io, 0x20, 4, 0x10),
                         INTC_OK);
        assert_ev(x, INTC_EV_BAD_ACCESS, 1);
        assert_int_equal(intc_ioapic_mmio_read(io, 0x00, 4, &v), INTC_OK);
        assert_int_equal(v, 0); /* IOREGSEL untouched by 0x20 */

        /* A level interrupt in service, its line dropped: Remote IRR
           stays set until an EOI reaches this IOAPIC. */
        rte_set(io, 3, LVL(0x53, 0));
        assert_int_equal(intc_ioapic_set_irq(io, 3, true), INTC_OK);
        assert_int_equal(intc_lapic_ack(l), 0x53);
        assert_int_equal(intc_ioapic_set_irq(io, 3, false), INTC_OK);
        assert_true(remote_irr(io, 3));
        x.h->totals[INTC_EV_BAD_ACCESS] = 0;
        /* 8-byte and 1-byte writes at 0x40 EOI nothing. */
        assert_int_equal(intc_ioapic_mmio_write(io, 0x40, 8, 0x53), INTC_OK);
        assert_int_equal(intc_ioapic_mmio_write(io, 0x40, 1, 0x53), INTC_OK);
        assert_true(remote_irr(io, 3));
        assert_ev(x, INTC_EV_BAD_ACCESS, 2);
        /* 32-bit write at 0x40: the EOI register on 0x20 (bits 31:8
           ignored), nothing on 0x11. */
        assert_int_equal(intc_ioapic_mmio_write(io, 0x40, 4, 0xabcdef53),
                         INTC_OK);
        assert_int_equal(remote_irr(io, 3), vers[k] >= 0x20 ? 0 : 1);
        assert_ev(x, INTC_EV_IOAPIC_EOI, vers[k] >= 0x20 ? 1 : 0);
        assert_ev(x, INTC_EV_BAD_ACCESS, vers[k] >= 0x20 ? 2 : 3);
        /* Write-only: reads 0. */
        v = 0x55;
        assert_int_equal(intc_ioapic_mmio_read(io, 0x40, 4, &v), INTC_OK);
        assert_int_equal(v, 0);

        /* Outside the window: refused, nothing read or changed. */
        uint64_t sel = 0;
        assert_int_equal(intc_ioapic_mmio_read(io, 0x00, 4, &sel), INTC_OK);
        v = 0x55;
        assert_int_equal(intc_ioapic_mmio_read(io, 0x100, 4, &v),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_ioapic_mmio_read(io, 0xfc, 8, &v),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_ioapic_mmio_read(io, 0xfff, 1, &v),
                         INTC_ERR_INVAL);
        assert_int_equal(v, 0x55);
        assert_int_equal(intc_ioapic_mmio_write(io, 0x100, 4, 0x01),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_ioapic_mmio_write(io, 0x140, 4, 0x53),
                         INTC_ERR_INVAL);
        assert_int_equal(intc_ioapic_mmio_read(io, 0xff, 1, &v), INTC_OK);
        assert_int_equal(v, 0);
        assert_int_equal(intc_ioapic_mmio_read(io, 0x00, 4, &v), INTC_OK);
        assert_int_equal(v, sel); /* IOREGSEL unchanged */
        finish(m);
    }
}

/* machine.h storm_throttle_ns / common.h ioapic_timer_arm: once storming,
   each re-delivery is held storm_throttle_ns of virtual time; the host
   timer is armed at that deadline, and the entry is sent when
   intc_ioapic_timer_expired() reports it (a stale call before the
   deadline sends nothing).  The throttle reads the clock for no CPU
   (common.h now_ns: INTC_NO_CPU). */
static void test_storm_throttle(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.storm_threshold = 3;
    cfg.storm_throttle_ns = 1000;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);
    x.h->now = 5000;

    rte_set(io, 7, LVL(0x47, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    ack_eoi(l, 0x47);
    ack_eoi(l, 0x47);
    assert_redeliv(x, 2);
    assert_int_equal(x.h->n_io_arms, 0);
    /* Third: the storm starts; the re-delivery is held. */
    x.h->n_now = 0;
    ack_eoi(l, 0x47);
    assert_int_equal(x.h->n_now, 1);
    assert_int_equal(x.h->now_cpu, INTC_NO_CPU);
    assert_ev(x, INTC_EV_STORM, 1);
    assert_redeliv(x, 2);
    assert_false(irr(l, 0x47));
    assert_false(remote_irr(io, 7));
    assert_true(delivs(io, 7)); /* held */
    assert_int_equal(x.h->io_deadline[0], 6000);
    check_ok(m);
    /* Early (stale) expiry: still held, timer still armed at 6000. */
    x.h->now = 5999;
    assert_int_equal(intc_ioapic_timer_expired(io, 5999), INTC_OK);
    assert_false(irr(l, 0x47));
    assert_int_equal(x.h->io_deadline[0], 6000);
    /* On time: sent as a re-delivery. */
    x.h->now = 6000;
    assert_int_equal(intc_ioapic_timer_expired(io, 6000), INTC_OK);
    assert_redeliv(x, 3);
    assert_true(irr(l, 0x47));
    assert_true(remote_irr(io, 7));
    assert_int_equal(x.h->io_deadline[0], UINT64_MAX); /* nothing else held */
    /* Still storming: the next EOI is held again. */
    x.h->now = 6500;
    ack_eoi(l, 0x47);
    assert_false(irr(l, 0x47));
    assert_int_equal(x.h->io_deadline[0], 7500);
    assert_ev(x, INTC_EV_STORM, 1);
    /* The device drops during the hold: throttle cancelled, no send. */
    assert_int_equal(intc_ioapic_set_irq(io, 7, false), INTC_OK);
    assert_int_equal(x.h->io_deadline[0], UINT64_MAX);
    assert_false(delivs(io, 7));
    x.h->now = 7500;
    assert_int_equal(intc_ioapic_timer_expired(io, 7500), INTC_OK);
    assert_redeliv(x, 3);
    assert_false(irr(l, 0x47));
    finish(m);
}

/* The point of throttling: a guest that EOIs without clearing the
   device gets a bounded number of deliveries over a window of virtual
   time (threshold + window / throttle, plus one). */
static void test_storm_bounded_window(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    cfg.storm_threshold = 4;
    cfg.storm_throttle_ns = 1000;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);
    const uint64_t window = 100000;

    rte_set(io, 7, LVL(0x47, 0));
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    for (uint64_t t = 0; t <= window; t += 50) {
        x.h->now = t;
        if (x.h->io_deadline[0] <= t)
            assert_int_equal(intc_ioapic_timer_expired(io, t), INTC_OK);
        /* An eager guest: services whatever is pending, many times per
           step (with no throttle this loop would never end). */
        for (unsigned k = 0; k < 10 && (intc_lapic_pending(l) & INTC_PEND_INTR);
             k++)
            ack_eoi(l, 0x47);
        th_clear_events(x.h); /* keep the harness log from filling */
    }
    TH_IF_TRACED(x.h) {
        unsigned sends = x.h->totals[INTC_EV_IOAPIC_SEND];
        assert_true(sends <= 1 + 4 + window / 1000 + 1);
        assert_true(sends >= window / 1000); /* throttled, not stopped */
    }
    assert_ev(x, INTC_EV_STORM, 1);
    finish(m);
}

/* ================================================================== */
/* 10. Remappable entries, GSI routing                                 */
/* ================================================================== */

/* ioapic.h + VT-d 5.1.5.1: an entry in remappable format (bit 48) with
   no IOMMU to translate it is dropped (MSI_DROPPED, NO_REMAPPING); a
   level entry's Remote IRR stays clear. */
static void test_remappable_without_iommu_dropped(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config ioc;
    io_init(&x, *state);
    cfg_one(&cfg, &ioc, 0x20, 24, pci_wiring, 1);
    ioc.source_id = 0x00f8;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);

    rte_set(io, 8, LVL(0x48, 0) | INTC_RTE_REMAPPABLE);
    assert_int_equal(rte_get(io, 8) & INTC_RTE_REMAPPABLE,
                     INTC_RTE_REMAPPABLE);
    assert_int_equal(intc_ioapic_set_irq(io, 8, true), INTC_OK);
    TH_IF_TRACED(x.h) {
        const intc_event *e =
            th_find_event(x.h, INTC_EV_MSI_DROPPED, TH_ANY_CPU, TH_ANY_VECTOR);
        assert_non_null(e);
        assert_int_equal(e->data2 >> 32, INTC_MSI_DROP_NO_REMAPPING);
        assert_int_equal(e->pin, 0x00f8);
    }
    assert_ev(x, INTC_EV_MSI, 0);
    assert_false(irr(l, 0x48));
    assert_false(remote_irr(io, 8));
    assert_int_equal(intc_lapic_pending(l), 0);
    /* Edge too. */
    rte_set(io, 9, RTE_VEC(0x49) | RTE_ACTIVE_LOW | INTC_RTE_REMAPPABLE);
    assert_int_equal(intc_ioapic_set_irq(io, 9, true), INTC_OK);
    assert_ev(x, INTC_EV_MSI_DROPPED, 2);
    assert_false(irr(l, 0x49));
    finish(m);
}

/* ioapic.h: intc_machine_set_gsi routes by GSI across the IOAPICs
   (source 0); INTC_ERR_RANGE beyond them. */
static void test_set_gsi_two_ioapics(void **state)
{
    io_rec x;
    intc_machine_config cfg;
    intc_ioapic_config io2[2];
    io_init(&x, *state);
    cfg_two_v20(&cfg, io2);
    io2[0].pin_wiring = NULL;
    io2[1].pin_wiring = NULL;
    intc_machine *m = io_machine(&x, &cfg);
    intc_ioapic *a = intc_machine_ioapic(m, 0);
    intc_ioapic *b = intc_machine_ioapic(m, 1);
    intc_lapic *l = intc_machine_lapic(m, 0);
    sw_enable(l);
    assert_int_equal(intc_ioapic_gsi_base(a), 0);
    assert_int_equal(intc_ioapic_gsi_base(b), 24);

    rte_set(a, 23, RTE_VEC(0x57) | RTE_DEST(0));
    rte_set(b, 0, RTE_VEC(0x58) | RTE_DEST(0));
    rte_set(b, 23, RTE_VEC(0x59) | RTE_DEST(0));
    assert_int_equal(intc_machine_set_gsi(m, 23, true), INTC_OK);
    assert_true(intc_ioapic_line(a, 23));
    assert_true(irr(l, 0x57));
    assert_int_equal(intc_machine_set_gsi(m, 24, true), INTC_OK);
    assert_true(intc_ioapic_line(b, 0));
    assert_false(intc_ioapic_line(a, 0));
    assert_true(irr(l, 0x58));
    assert_int_equal(intc_machine_set_gsi(m, 47, true), INTC_OK);
    assert_true(intc_ioapic_line(b, 23));
    assert_true(irr(l, 0x59));
    assert_int_equal(intc_machine_set_gsi(m, 47, false), INTC_OK);
    assert_false(intc_ioapic_line(b, 23));
    assert_int_equal(intc_machine_set_gsi(m, 48, true), INTC_ERR_RANGE);
    assert_int_equal(intc_machine_set_gsi(m, UINT32_MAX, true), INTC_ERR_RANGE);
    /* set_gsi drives source 0 only: another source keeps the pin up. */
    assert_int_equal(intc_ioapic_set_irq_source(b, 5, 3, true), INTC_OK);
    assert_int_equal(intc_machine_set_gsi(m, 29, false), INTC_OK);
    assert_true(intc_ioapic_line(b, 5));
    finish(m);

    /* A gap between ranges is not routed. */
    io_init(&x, *state);
    cfg_two_v20(&cfg, io2);
    io2[1].gsi_base = 100;
    m = io_machine(&x, &cfg);
    assert_int_equal(intc_machine_set_gsi(m, 24, true), INTC_ERR_RANGE);
    assert_int_equal(intc_machine_set_gsi(m, 99, true), INTC_ERR_RANGE);
    assert_int_equal(intc_machine_set_gsi(m, 100, true), INTC_OK);
    assert_true(intc_ioapic_line(intc_machine_ioapic(m, 1), 0));
    finish(m);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* 1. registers */
        T(test_reg_ioregsel_iowin),
        T(test_reg_id_writable_bits),
        T(test_reg_version),
        T(test_reg_arb),
        T(test_reg_rte_writable_masks),
        T(test_reg_unimplemented_indirect),
        T(test_mmio_every_offset_read),
        T(test_mmio_every_offset_write_ignored),
        T(test_mmio_rec_misuse),
        T(test_reset_state_all_masked),
        T(test_machine_reset_keeps_lines),
        /* 2. configuration */
        T(test_config_validation),
        T(test_config_alloc_failure),
        /* 3. edge */
        T(test_edge_rising_delivers_once),
        T(test_edge_held_line_no_redelivery),
        T(test_edge_masked_lost),
        T(test_edge_wrong_polarity_falling_edge),
        T(test_edge_active_low_wiring),
        /* 4. level */
        T(test_level_remote_irr_blocks),
        T(test_level_eoi_asserted_redelivers),
        T(test_level_deassert_then_eoi_once),
        T(test_level_eoi_matches_vector_only),
        T(test_level_shared_vector_eoi_redelivers_all),
        T(test_level_unmask_delivers_current_entry),
        T(test_level_masked_at_eoi_then_unmask),
        T(test_level_to_edge_clears_remote_irr),
        T(test_level_delivery_status),
        T(test_level_no_target_remote_irr_clear),
        T(test_level_wrong_polarity_storms),
        T(test_trigger_mismatch_event),
        /* 5. shared */
        T(test_shared_level_wired_or),
        T(test_shared_edge_or_transition),
        /* 6. delivery modes */
        T(test_dm_fixed_physical),
        T(test_dm_fixed_logical),
        T(test_dm_lowest_priority),
        T(test_dm_signals),
        T(test_dm_nmi_level_acts_as_edge),
        T(test_v11_physical_dest_4bit),
        /* 7. EOI register, directed EOI */
        T(test_eoi_register_this_ioapic_only),
        T(test_eoi_register_absent_on_v11),
        T(test_directed_eoi),
        /* 8. resample */
        T(test_resample_once_per_cleared_entry),
        T(test_resample_callback_deasserts),
        T(test_resample_no_recursion),
        /* 9. storm */
        T(test_storm_event_once),
        T(test_storm_threshold_zero_disables),
        T(test_storm_deassert_resets),
        T(test_window_offsets_and_eoi_register),
        T(test_storm_throttle),
        T(test_storm_bounded_window),
        /* 10. remapping, GSIs */
        T(test_remappable_without_iommu_dropped),
        T(test_set_gsi_two_ioapics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
