/*
 * Machine snapshots: intc_machine_save() / intc_machine_load() (machine.h).
 *
 * The contract under test: an image restores the whole architectural state
 * (a restored machine and the machine that wrote it continue identically,
 * event for event); a truncated, damaged or hostile image is refused with
 * the documented error and leaves the machine exactly as it was; save and
 * load never allocate and are refused from inside a callback.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a host with guest memory and a hashed callback trace ---- */

#define GM_SIZE 0x10000u       /* guest memory window at GM_BASE */
#define GM_BASE 0x100000ull
#define N_CPUS 4u

/* One machine and its own kit host: every callback but
   apic_base_changed, guest memory, the callback hash on (h->cb_hash,
   h->n_callbacks), timers in h->deadline[] and h->io_deadline[]. */
typedef struct sh {
    th_host *h;
    uint8_t *mem;              /* guest memory (IOMMU tables, logs) */
    intc_machine *m;
    intc_msix *msix;
    intc_msi *msi;
    unsigned kind;             /* IOMMU kind */
    /* test 6: call save/load from inside event() */
    bool reenter;
    intc_err reenter_save, reenter_load;
    const uint8_t *reenter_img;
    size_t reenter_len;
} sh;

/* The kit's event hook. */
static void sh_event(void *ctx, const intc_event *ev)
{
    sh *s = ctx;
    (void)ev;
    if (s->reenter) {
        uint8_t small[8];
        size_t used = 0;
        s->reenter = false;
        s->reenter_save = intc_machine_save(s->m, small, sizeof(small), &used);
        s->reenter_load =
            intc_machine_load(s->m, s->reenter_img, s->reenter_len);
    }
}

static const uint8_t wiring0[24] = {
    [9] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW,
    [16] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW,
    [17] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW,
    [18] = INTC_PIN_LEVEL,
    [19] = INTC_PIN_LEVEL,
};

static void make_cfg(intc_machine_config *cfg, intc_ioapic_config io[2],
                     unsigned iommu)
{
    static const uint32_t ids[N_CPUS] = {0, 1, 4, 7};
    intc_machine_config_init(cfg);
    cfg->n_cpus = N_CPUS;
    cfg->apic_ids = ids;
    cfg->bsp = 0;
    memset(io, 0, 2 * sizeof(*io));
    io[0].id = 2;
    io[0].version = 0x20;
    io[0].n_pins = 24;
    io[0].gsi_base = 0;
    io[0].source_id = 0x30;
    io[0].pin_wiring = wiring0;
    io[1].id = 3;
    io[1].version = 0x20;
    io[1].n_pins = 8;
    io[1].gsi_base = 24;
    io[1].source_id = 0x31;
    cfg->ioapics = io;
    cfg->n_ioapics = 2;
    cfg->storm_threshold = 3;
    cfg->storm_throttle_ns = 5000;
    cfg->apic_timer_hz = 100000000ull; /* 10 ns per tick */
    cfg->tsc_hz = 2500000000ull;
    cfg->iommu.kind = iommu;
    cfg->iommu.n_fault_regs = 4;
    cfg->iommu.cache_entries = 16;
}

/* A machine on s, with a host of its own whose clock starts at h's and
   whose trace mode is h's, with the test configuration and its devices. */
static void sh_open(sh *s, th_host *h, unsigned iommu)
{
    intc_machine_config cfg;
    intc_ioapic_config io[2];
    intc_err err;

    memset(s, 0, sizeof(*s));
    s->h = th_host_new();
    assert_non_null(s->h);
    s->h->now = h->now;
    s->h->ops = kit_host_ops(th_traced(h));
    s->h->ops.apic_base_changed = NULL;
    s->h->hash_callbacks = true;
    s->h->hooks = (kit_hooks){.ctx = s, .event = sh_event};
    s->mem = th_guest_memory(s->h, GM_BASE, GM_SIZE);
    s->kind = iommu;
    make_cfg(&cfg, io, iommu);
    s->m = th_machine(s->h, &cfg);
    /* Creation order and sizes are part of the configuration. */
    s->msix = intc_msix_new(s->m, 70, 0x10, &err); /* two PBA qwords */
    assert_int_equal(err, INTC_OK);
    s->msi = intc_msi_new(s->m, 3, true, true, 0x20, &err);
    assert_int_equal(err, INTC_OK);
}

/* Free the machine; nothing it allocated is left; free the host. */
static void sh_close(sh *s)
{
    intc_msix_free(s->msix);
    intc_msi_free(s->msi);
    intc_machine_free(s->m);
    assert_int_equal(s->h->live_bytes, 0);
    assert_int_equal(s->h->live_blocks, 0);
    th_host_free(s->h);
}

/* ---- a deterministic random operation sequence ---- */

static uint64_t rnd(uint64_t *st)
{
    /* splitmix64 */
    uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t rn(uint64_t *st, uint32_t n)
{
    return (uint32_t)(rnd(st) % n);
}

static uint8_t vec(uint64_t *st)
{
    /* Mostly legal vectors in a few priority classes, sometimes 0-15. */
    return rn(st, 16) == 0 ? (uint8_t)rn(st, 16)
                           : (uint8_t)(0x30 + rn(st, 6) * 0x10 + rn(st, 4));
}

static void lapic_write(intc_lapic *l, uint32_t off, uint64_t val)
{
    uint64_t base = 0;
    (void)intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
    if (base & INTC_APIC_BASE_EXTD) {
        if (off == INTC_LAPIC_ICR_HI)
            return;
        (void)intc_lapic_msr_write(l, 0x800u + (off >> 4), val);
    } else {
        (void)intc_lapic_mmio_write(l, off, 4, (uint32_t)val);
    }
}

static const uint32_t lvt_offs[] = {
    INTC_LAPIC_LVT_CMCI,  INTC_LAPIC_LVT_TIMER, INTC_LAPIC_LVT_THERMAL,
    INTC_LAPIC_LVT_PERF,  INTC_LAPIC_LVT_LINT0, INTC_LAPIC_LVT_LINT1,
    INTC_LAPIC_LVT_ERROR,
};

static void iommu_op(sh *s, uint64_t *st)
{
    intc_iommu *u = intc_machine_iommu(s->m);
    unsigned kind = s->kind;
    uint32_t r = rn(st, 8);

    if (!u)
        return;
    if (r == 0) {
        /* An IRTE (VT-d 128-bit / AMD-Vi 32-bit) or DTE in memory. */
        uint32_t i = rn(st, 64);
        uint64_t lo = (rn(st, 8) ? 1 : 0) | (uint64_t)vec(st) << 16 |
                      (uint64_t)rn(st, 8) << 40 | (rnd(st) & 0x1c);
        memcpy(s->mem + 16u * i, &lo, 8);
    } else if (r == 1) {
        /* A device table entry pointing at the table (AMD-Vi, DTE of
           device sid at 32 * sid). */
        static const uint32_t sids[] = {0x10, 0x20, 0x30, 0x31};
        uint32_t sid = sids[rn(st, 4)];
        uint64_t q2 = 1 | 8ull << 1 | (GM_BASE & 0x000fffffffffffc0ull) |
                      (rn(st, 2) ? 1ull << 56 : 0);
        memcpy(s->mem + 0x4000 + 32u * sid + 16, &q2, 8);
    } else if (r == 2) {
        (void)intc_iommu_set_table(u, kind == INTC_IOMMU_VTD
                                          ? GM_BASE | 5
                                          : (GM_BASE + 0x4000) | 0,
                                   rn(st, 4) != 0, rn(st, 2));
    } else if (r == 3) {
        (void)intc_iommu_invalidate(u, rn(st, 3) ? rn(st, 64)
                                                 : INTC_IOMMU_INV_ALL,
                                    rn(st, 3));
    } else if (kind == INTC_IOMMU_VTD) {
        static const uint32_t regs[] = {INTC_VTD_FSTS, INTC_VTD_FECTL,
                                        INTC_VTD_FEDATA, INTC_VTD_FEADDR,
                                        INTC_VTD_ICS, INTC_VTD_IECTL,
                                        INTC_VTD_FRR + 12, INTC_VTD_FRR + 28};
        uint32_t off = regs[rn(st, 8)];
        uint32_t val = (uint32_t)rnd(st);
        if (off == INTC_VTD_FEADDR)
            val = 0xfee00000u | rn(st, 4) << 12;
        if (off == INTC_VTD_FEDATA)
            val = vec(st);
        (void)intc_iommu_mmio_write(u, off, 4, val);
    } else {
        static const uint32_t regs[] = {INTC_AMDVI_CONTROL,
                                        INTC_AMDVI_STATUS,
                                        INTC_AMDVI_EVTLOG,
                                        INTC_AMDVI_EVT_HEAD};
        uint32_t off = regs[rn(st, 4)];
        uint64_t val = rnd(st);
        if (off == INTC_AMDVI_EVTLOG)
            val = (GM_BASE + 0x8000) | 8ull << 56;
        if (off == INTC_AMDVI_CONTROL)
            val &= 0x1f01dull;
        (void)intc_iommu_mmio_write(u, off, 8, val);
    }
}

static void one_op(sh *s, uint64_t *st)
{
    intc_machine *m = s->m;
    intc_lapic *l = intc_machine_lapic(m, rn(st, N_CPUS));
    uint32_t r = rn(st, 31);

    switch (r) {
    case 0: /* software enable / disable */
        lapic_write(l, INTC_LAPIC_SVR, rn(st, 5) ? 0x1ff : 0xff);
        break;
    case 1:
        lapic_write(l, INTC_LAPIC_TPR, rn(st, 3) ? 0 : rn(st, 256));
        break;
    case 2: { /* an LVT */
        uint32_t off = lvt_offs[rn(st, 7)];
        uint32_t v = vec(st) | (rn(st, 4) ? 0 : (1u << 16)) |
                     (off == INTC_LAPIC_LVT_TIMER ? rn(st, 3) << 17 : 0);
        if (off == INTC_LAPIC_LVT_LINT0 || off == INTC_LAPIC_LVT_LINT1)
            v |= (rn(st, 3) ? 0 : rn(st, 8) << 8) | rn(st, 2) << 15 |
                 rn(st, 2) << 13;
        lapic_write(l, off, v);
        break;
    }
    case 3:
        lapic_write(l, INTC_LAPIC_TIMER_ICR, rn(st, 4) ? 1 + rn(st, 500) : 0);
        break;
    case 4:
        lapic_write(l, INTC_LAPIC_TIMER_DCR, rn(st, 16) & 0xb);
        break;
    case 5:
        (void)intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE,
                                   rn(st, 5) ? s->h->now * 5 / 2 +
                                                   rn(st, 20000)
                                             : 0);
        break;
    case 6:
    case 7: { /* an IPI */
        uint32_t lo = vec(st) | (rn(st, 4) ? 0 : rn(st, 8) << 8) |
                      rn(st, 2) << 11 | (rn(st, 3) ? 0 : rn(st, 4) << 18) |
                      1u << 14;
        uint32_t dest = rn(st, 2) ? rn(st, 8) : 1u << rn(st, 8);
        uint64_t base = 0;
        (void)intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
        if (base & INTC_APIC_BASE_EXTD) {
            (void)intc_lapic_msr_write(l, 0x830,
                                       (uint64_t)dest << 32 | lo);
        } else {
            lapic_write(l, INTC_LAPIC_ICR_HI, dest << 24);
            lapic_write(l, INTC_LAPIC_ICR_LO, lo);
        }
        break;
    }
    case 8:
    case 9: { /* the CPU takes what is pending */
        unsigned p = intc_lapic_pending(l);
        uint8_t sv;
        if (p & INTC_PEND_INTR)
            (void)intc_lapic_ack(l);
        else if (p & INTC_PEND_INIT)
            (void)intc_lapic_take(l, INTC_PEND_INIT, &sv);
        else if (p & INTC_PEND_SIPI)
            (void)intc_lapic_take(l, INTC_PEND_SIPI, &sv);
        else if (p & INTC_PEND_NMI)
            (void)intc_lapic_take(l, INTC_PEND_NMI, &sv);
        else if (p)
            (void)intc_lapic_take(l, p & (0u - p), &sv);
        break;
    }
    case 10:
    case 11:
        lapic_write(l, INTC_LAPIC_EOI, 0);
        break;
    case 12: /* IA32_APIC_BASE: xAPIC <-> x2APIC <-> disabled */
        if (rn(st, 3) == 0) {
            uint64_t base = 0;
            unsigned k = rn(st, 3);
            (void)intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
            base &= ~(INTC_APIC_BASE_EN | INTC_APIC_BASE_EXTD);
            base |= k == 0   ? 0
                    : k == 1 ? INTC_APIC_BASE_EN
                             : INTC_APIC_BASE_EN | INTC_APIC_BASE_EXTD;
            (void)intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, base);
        }
        break;
    case 13: /* logical destinations */
        lapic_write(l, rn(st, 2) ? INTC_LAPIC_LDR : INTC_LAPIC_DFR,
                    rn(st, 2) ? 1u << (24 + rn(st, 8)) : rn(st, 2) << 28 | 0x0fffffff);
        if (rn(st, 4) == 0)
            lapic_write(l, INTC_LAPIC_ID, rn(st, 8) << 24);
        break;
    case 14:
        lapic_write(l, INTC_LAPIC_ESR, 0);
        break;
    case 15:
        (void)intc_lapic_set_lint(l, rn(st, 2), rn(st, 2));
        break;
    case 16:
        (void)intc_lapic_post(l, vec(st), rn(st, 4) == 0);
        break;
    case 17:
        (void)intc_lapic_raise_lvt(l, rn(st, 2) ? INTC_LVT_PERF
                                                : INTC_LVT_THERMAL);
        break;
    case 18: { /* program a redirection entry */
        intc_ioapic *io = intc_machine_ioapic(m, rn(st, 2));
        uint32_t pin = rn(st, intc_ioapic_pin_count(io));
        uint32_t lo = vec(st) | (rn(st, 6) ? 0 : rn(st, 8) << 8) |
                      rn(st, 2) << 11 | rn(st, 2) << 13 | rn(st, 2) << 15 |
                      (rn(st, 4) ? 0 : 1u << 16);
        (void)intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4,
                                     INTC_IOAPIC_REG_RTE0 + 2 * pin + 1);
        (void)intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                     (rn(st, 2) ? rn(st, 8) : 0xffu) << 24);
        (void)intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4,
                                     INTC_IOAPIC_REG_RTE0 + 2 * pin);
        (void)intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, lo);
        break;
    }
    case 19:
    case 20: { /* lines */
        intc_ioapic *io = intc_machine_ioapic(m, rn(st, 2));
        uint32_t pin = rn(st, 3) ? 16 + rn(st, 4) : rn(st, 8);
        if (pin >= intc_ioapic_pin_count(io))
            pin = 0;
        (void)intc_ioapic_set_irq_source(io, pin, rn(st, 2), rn(st, 2));
        break;
    }
    case 21: /* directed EOI (version 0x20) */
        (void)intc_ioapic_mmio_write(intc_machine_ioapic(m, rn(st, 2)),
                                     INTC_IOAPIC_EOI, 4, vec(st));
        break;
    case 22: /* a raw MSI, compatibility or remappable (handle, SHV) */
        if (rn(st, 3))
            (void)intc_msi_send(m,
                                0xfee00000ull | rn(st, 8) << 12 |
                                    rn(st, 2) << 2 | rn(st, 2) << 3,
                                vec(st) | (rn(st, 6) ? 0 : rn(st, 8) << 8),
                                rn(st, 2) ? 0x10 : 0x20, NULL);
        else
            (void)intc_msi_send(m,
                                0xfee00010ull | rn(st, 48) << 5 |
                                    rn(st, 2) << 3,
                                rn(st, 16), rn(st, 2) ? 0x10 : 0x20, NULL);
        break;
    case 23: { /* MSI-X */
        uint32_t v = rn(st, 70), k = rn(st, 4);
        if (k == 0)
            (void)intc_msix_set_control(s->msix, rn(st, 5) != 0,
                                        rn(st, 4) == 0);
        else if (k == 1)
            (void)intc_msix_table_write(s->msix, 16 * v + 12, 4, rn(st, 2));
        else if (k == 2)
            (void)intc_msix_table_write(
                s->msix, 16 * v, 8,
                (uint64_t)0 << 32 | 0xfee00000u | rn(st, 8) << 12);
        else
            (void)intc_msix_table_write(s->msix, 16 * v + 8, 4, vec(st));
        (void)intc_msix_notify(s->msix, (uint16_t)rn(st, 70), NULL);
        break;
    }
    case 24: { /* MSI */
        static const uint32_t offs[] = {2, 4, 12, 16};
        uint32_t off = offs[rn(st, 4)];
        uint32_t val = off == 2    ? 1u | rn(st, 4) << 4
                       : off == 4  ? 0xfee00000u | rn(st, 8) << 12
                       : off == 12 ? vec(st)
                                   : rn(st, 256);
        (void)intc_msi_config_write(s->msi, off, off == 2 ? 2 : 4, val);
        (void)intc_msi_notify(s->msi, rn(st, 8), NULL);
        break;
    }
    case 25:
    case 26: { /* time passes; due host timers fire */
        s->h->now += rnd(st) % 3000;
        for (uint32_t i = 0; i < N_CPUS; i++)
            if (s->h->deadline[i] <= s->h->now)
                (void)intc_lapic_timer_expired(intc_machine_lapic(m, i),
                                               s->h->now);
        for (uint32_t i = 0; i < 2; i++)
            if (s->h->io_deadline[i] <= s->h->now)
                (void)intc_ioapic_timer_expired(intc_machine_ioapic(m, i),
                                                s->h->now);
        break;
    }
    case 27:
    case 28:
    case 29:
        iommu_op(s, st);
        break;
    default:
        (void)intc_lapic_set_tsc_offset(l, rnd(st) & 0xffff);
        break;
    }
}

/* Bring-up so that interrupts flow: every APIC software-enabled, some
   IOAPIC entries level and unmasked. */
static void bring_up(sh *s)
{
    for (uint32_t i = 0; i < N_CPUS; i++) {
        intc_lapic *l = intc_machine_lapic(s->m, i);
        assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                         INTC_OK);
    }
    if (s->kind != INTC_IOMMU_NONE)
        (void)intc_iommu_set_table(intc_machine_iommu(s->m),
                                   s->kind == INTC_IOMMU_AMDVI
                                       ? (GM_BASE + 0x4000)
                                       : GM_BASE | 5,
                                   false, true);
}

static void run(sh *s, uint64_t *st, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        one_op(s, st);
}

/* ---- image helpers ---- */

static uint8_t *save_alloc(intc_machine *m, size_t *size)
{
    size_t need = 0;
    uint8_t *buf;
    assert_int_equal(intc_machine_save(m, NULL, 0, &need), INTC_ERR_NOSPC);
    assert_true(need > 36);
    buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(intc_machine_save(m, buf, need, size), INTC_OK);
    assert_int_equal(*size, need);
    return buf;
}

/* The image's state equals img (a fresh save compares equal). */
static void assert_state(intc_machine *m, const uint8_t *img, size_t size)
{
    size_t n;
    uint8_t *now = save_alloc(m, &n);
    assert_int_equal(n, size);
    assert_memory_equal(now, img, size);
    free(now);
}

#include "xxh64_oracle.h" /* xxh64_oracle(): the test's own XXH64 */

/* Image header (snapshot.c, format version 2). */
#define HDR 40u        /* header size */
#define H_VERSION 8u
#define H_HDR_SIZE 12u
#define H_SUM 16u      /* XXH64 of bytes 24.. */
#define H_PLEN 24u
#define H_FP 32u

/* Re-seal an image after a test patched it: the checksum over every byte
   from the payload length on. */
static void reseal(uint8_t *img, size_t size)
{
    uint64_t sum = xxh64_oracle(img + H_PLEN, size - H_PLEN);
    for (int i = 0; i < 8; i++)
        img[H_SUM + i] = (uint8_t)(sum >> (8 * i));
}

/* ---- (1) round trip ---- */

static void round_trip(th_host *h, unsigned iommu, uint64_t seed)
{
    sh a;
    uint64_t st = seed;

    sh_open(&a, h, iommu);
    bring_up(&a);
    run(&a, &st, 200 + rn(&st, 200));
    for (unsigned point = 0; point < 4; point++) {
        size_t size, size1, size2, size3;
        uint8_t *img = save_alloc(a.m, &size);
        uint8_t *mem0 = malloc(GM_SIZE);
        unsigned n = 100 + rn(&st, 400);
        uint64_t now0 = a.h->now, st0 = st, hash1, hash2, hash3;
        char msg[256];

        memcpy(mem0, a.mem, GM_SIZE);
        assert_int_equal(intc_machine_check(a.m, msg, sizeof(msg)), INTC_OK);

        /* The machine that saved goes on. */
        a.h->cb_hash = 0;
        run(&a, &st, n);
        hash1 = a.h->cb_hash;
        uint8_t *after1 = save_alloc(a.m, &size1);

        /* (a) the same machine, back to the image. */
        memcpy(a.mem, mem0, GM_SIZE);
        a.h->now = now0;
        assert_int_equal(intc_machine_load(a.m, img, size), INTC_OK);
        assert_int_equal(intc_machine_check(a.m, msg, sizeof(msg)), INTC_OK);
        assert_state(a.m, img, size);
        a.h->cb_hash = 0;
        st = st0;
        run(&a, &st, n);
        hash2 = a.h->cb_hash;
        uint8_t *after2 = save_alloc(a.m, &size2);
        assert_int_equal(hash1, hash2);
        assert_int_equal(size1, size2);
        assert_memory_equal(after1, after2, size1);

        /* (b) a fresh machine of the same configuration. */
        sh b;
        sh_open(&b, h, iommu);
        memcpy(b.mem, mem0, GM_SIZE);
        b.h->now = now0;
        assert_int_equal(intc_machine_load(b.m, img, size), INTC_OK);
        assert_int_equal(intc_machine_check(b.m, msg, sizeof(msg)), INTC_OK);
        assert_state(b.m, img, size);
        b.h->cb_hash = 0;
        uint64_t stb = st0;
        run(&b, &stb, n);
        hash3 = b.h->cb_hash;
        uint8_t *after3 = save_alloc(b.m, &size3);
        assert_int_equal(hash1, hash3);
        assert_int_equal(size1, size3);
        assert_memory_equal(after1, after3, size1);
        assert_memory_equal(a.mem, b.mem, GM_SIZE);
        sh_close(&b);

        free(after1);
        free(after2);
        free(after3);
        free(mem0);
        free(img);
        run(&a, &st, rn(&st, 300));
    }
    sh_close(&a);
}

static void test_round_trip_vtd(void **state)
{
    for (uint64_t seed = 1; seed <= 6; seed++)
        round_trip(*state, INTC_IOMMU_VTD, seed);
}

static void test_round_trip_amdvi(void **state)
{
    for (uint64_t seed = 100; seed <= 105; seed++)
        round_trip(*state, INTC_IOMMU_AMDVI, seed);
}

static void test_round_trip_no_iommu(void **state)
{
    round_trip(*state, INTC_IOMMU_NONE, 77);
}

/* A machine in a busy state and its image. */
static uint8_t *busy(sh *s, th_host *h, unsigned iommu, size_t *size)
{
    uint64_t st = 4242;
    sh_open(s, h, iommu);
    bring_up(s);
    run(s, &st, 600);
    return save_alloc(s->m, size);
}

/* The load is refused with want and changes nothing, callbacks included. */
static void assert_refused(sh *s, const uint8_t *img, size_t size,
                           const uint8_t *bad, size_t bad_len, intc_err want)
{
    unsigned long n_cb = s->h->n_callbacks;
    intc_err err = intc_machine_load(s->m, bad, bad_len);
    assert_int_equal(err, want);
    assert_int_equal(s->h->n_callbacks, n_cb);
    assert_state(s->m, img, size);
}

/* ---- (2) truncation ---- */

static void test_truncated_refused(void **state)
{
    sh s;
    size_t size;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_VTD, &size);

    for (size_t len = 0; len < size; len++) {
        unsigned long n_cb = s.h->n_callbacks;
        assert_int_equal(intc_machine_load(s.m, img, len), INTC_ERR_CORRUPT);
        assert_int_equal(s.h->n_callbacks, n_cb);
        if (len % 97 == 0)
            assert_state(s.m, img, size);
    }
    assert_state(s.m, img, size);
    /* One trailing byte too many is not this image either. */
    uint8_t *longer = calloc(1, size + 1);
    memcpy(longer, img, size);
    assert_refused(&s, img, size, longer, size + 1, INTC_ERR_CORRUPT);
    assert_int_equal(intc_machine_load(s.m, NULL, 0), INTC_ERR_CORRUPT);
    free(longer);
    free(img);
    sh_close(&s);
}

/* ---- (3) damage ---- */

static void test_bit_flips_refused(void **state)
{
    sh s;
    size_t size;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_AMDVI, &size);
    uint8_t *bad = malloc(size);

    for (size_t i = 0; i < size; i++) {
        unsigned long n_cb = s.h->n_callbacks;
        intc_err err;
        memcpy(bad, img, size);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        err = intc_machine_load(s.m, bad, size);
        /* The version field names an unknown version; the magic and the
           header size are checked for their exact values, every byte from
           the checksum on is covered by the checksum. */
        assert_int_equal(err, i >= 8 && i < 12 ? INTC_ERR_VERSION
                                               : INTC_ERR_CORRUPT);
        assert_int_equal(s.h->n_callbacks, n_cb);
        if (i % 61 == 0)
            assert_state(s.m, img, size);
    }
    assert_state(s.m, img, size);
    free(bad);
    free(img);
    sh_close(&s);
}

/* ---- (4) hostile images with a valid CRC ---- */

/* Payload layout of CPU 0 (lapic.c, the snapshot section), after the
   header. */
#define P_APIC_BASE 0u
#define P_LVT(i) (22u + 4u * (i))
#define P_IRR0 69u
#define CPU_BYTES 221u
/* IOAPIC 0 follows the CPUs and lp_last: id, ioregsel, then per pin
   rte(8) sources(4) storming(1) send_pending(1) redeliveries(4)
   throttle_until(8). */
#define P_IOAPIC0 (N_CPUS * CPU_BYTES + 4u)
#define P_PIN0_RTE (P_IOAPIC0 + 2u)
#define P_PIN0_THROTTLE (P_PIN0_RTE + 18u)

static void patch(uint8_t *img, size_t off, uint64_t set, uint64_t clear,
                  unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)img[off + i] << (8 * i);
    v = (v | set) & ~clear;
    for (unsigned i = 0; i < n; i++)
        img[off + i] = (uint8_t)(v >> (8 * i));
}

static void hostile(sh *s, const uint8_t *img, size_t size, size_t off,
                    uint64_t set, uint64_t clear, unsigned n, intc_err want)
{
    uint8_t *bad = malloc(size);
    memcpy(bad, img, size);
    patch(bad, off, set, clear, n);
    reseal(bad, size);
    assert_refused(s, img, size, bad, size, want);
    free(bad);
}

static void test_hostile_images_refused(void **state)
{
    sh s;
    size_t size;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_VTD, &size);

    /* Sanity of the layout used below: the unpatched, resealed image
       loads. */
    {
        uint8_t *same = malloc(size);
        memcpy(same, img, size);
        reseal(same, size);
        assert_memory_equal(same, img, size);
        free(same);
    }
    /* SDM 11.5.2: vectors 0-15 are never in IRR. */
    hostile(&s, img, size, HDR + P_IRR0, 1u << 5, 0, 8, INTC_ERR_CORRUPT);
    /* SDM 11.12.5: EXTD without EN is an invalid IA32_APIC_BASE. */
    hostile(&s, img, size, HDR + P_APIC_BASE, INTC_APIC_BASE_EXTD,
            INTC_APIC_BASE_EN, 8, INTC_ERR_CORRUPT);
    /* SDM 11.5.1: LVT Timer bit 20 is reserved. */
    hostile(&s, img, size, HDR + P_LVT(INTC_LVT_TIMER), 1u << 20, 0, 4,
            INTC_ERR_CORRUPT);
    /* 82093AA 3.2.4: RTE bit 17 is reserved. */
    hostile(&s, img, size, HDR + P_PIN0_RTE, 1u << 17, 0, 8,
            INTC_ERR_CORRUPT);
    /* A storm throttle on a pin that is not storming. */
    hostile(&s, img, size, HDR + P_PIN0_THROTTLE, 12345, 0, 8,
            INTC_ERR_CORRUPT);
    /* A format version this library does not know (1: the CRC-32 format
       before this one). */
    hostile(&s, img, size, H_VERSION, 1, ~1u, 4, INTC_ERR_VERSION);
    /* An image of a differently configured machine. */
    {
        uint8_t *bad = malloc(size);
        memcpy(bad, img, size);
        bad[H_FP] ^= 0x10;
        reseal(bad, size);
        assert_refused(&s, img, size, bad, size, INTC_ERR_INVAL);
        free(bad);
    }
    /* Header size and payload length that do not describe the image. */
    hostile(&s, img, size, H_HDR_SIZE, 36, ~36u, 4, INTC_ERR_CORRUPT);
    hostile(&s, img, size, H_PLEN, 1, 0, 8, INTC_ERR_CORRUPT);
    free(img);
    sh_close(&s);
}

/* ---- (4b) the refusal says what was refused ---- */

/* machine.h intc_machine_errmsg: "what the last failed
   intc_machine_load() on m refused ... the field and why for an image
   that failed validation ... or the header's fault ... "" after a
   successful load, and before any load". */
static void refused_with(sh *s, const uint8_t *img, size_t size,
                         const uint8_t *bad, size_t bad_len, intc_err want,
                         const char *msg)
{
    assert_refused(s, img, size, bad, bad_len, want);
    assert_string_equal(intc_machine_errmsg(s->m), msg);
}

/* A patched, resealed copy of img refused with want and msg. */
static void field_refused(sh *s, const uint8_t *img, size_t size,
                          size_t off, uint64_t set, uint64_t clear,
                          unsigned n, const char *msg)
{
    uint8_t *bad = malloc(size);
    memcpy(bad, img, size);
    patch(bad, off, set, clear, n);
    reseal(bad, size);
    refused_with(s, img, size, bad, size, INTC_ERR_CORRUPT, msg);
    free(bad);
}

static void test_refusal_names_field(void **state)
{
    sh s;
    size_t size;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_VTD, &size);
    uint8_t *bad = malloc(size);
    char want[96];

    assert_string_equal(intc_machine_errmsg(s.m), "");
    assert_string_equal(intc_machine_errmsg(NULL), "");

    /* Damage behind the checksum. */
    memcpy(bad, img, size);
    bad[HDR + P_IRR0] ^= 0x40;
    refused_with(&s, img, size, bad, size, INTC_ERR_CORRUPT,
                 "checksum mismatch");
    /* Truncation, in the payload and in the header. */
    snprintf(want, sizeof want, "truncated at byte %zu of %zu", size - 5,
             size);
    refused_with(&s, img, size, img, size - 5, INTC_ERR_CORRUPT, want);
    refused_with(&s, img, size, img, 20, INTC_ERR_CORRUPT,
                 "truncated at byte 20 (header of 40 bytes)");
    /* Not an image at all. */
    memset(bad, 0, size);
    refused_with(&s, img, size, bad, size, INTC_ERR_CORRUPT,
                 "not a libintc snapshot (magic)");

    /* A field refused, checksum recomputed: the model, its instance and
       the field.  SDM 11.5.1: LVT Timer bit 20 is reserved; CPU 0 and
       CPU 3 (each CPU's section is CPU_BYTES long). */
    snprintf(want, sizeof want, "lapic[0].lvt[%d]: reserved bits set",
             (int)INTC_LVT_TIMER);
    field_refused(&s, img, size, HDR + P_LVT(INTC_LVT_TIMER), 1u << 20, 0,
                  4, want);
    snprintf(want, sizeof want, "lapic[3].lvt[%d]: reserved bits set",
             (int)INTC_LVT_TIMER);
    field_refused(&s, img, size, HDR + 3 * CPU_BYTES + P_LVT(INTC_LVT_TIMER),
                  1u << 20, 0, 4, want);
    /* SDM 11.5.2: vectors 0-15 never enter IRR. */
    field_refused(&s, img, size, HDR + P_IRR0, 1u << 5, 0, 8,
                  "lapic[0].irr[0]: reserved bits set");
    /* SDM 11.12.5: EXTD without EN (a cross-field rule). */
    field_refused(&s, img, size, HDR + P_APIC_BASE, INTC_APIC_BASE_EXTD,
                  INTC_APIC_BASE_EN, 8,
                  "lapic[0].apic_base: EXTD without EN");
    /* 82093AA 3.2.4: RTE bit 17 is reserved. */
    field_refused(&s, img, size, HDR + P_PIN0_RTE, 1u << 17, 0, 8,
                  "ioapic[0].rte[0]: reserved bits set");
    field_refused(&s, img, size, HDR + P_PIN0_THROTTLE, 12345, 0, 8,
                  "ioapic[0].throttle_until[0]: throttled without a storm");
    /* Two refused fields: the first in image order is named. */
    memcpy(bad, img, size);
    patch(bad, HDR + P_PIN0_RTE, 1u << 17, 0, 8);
    patch(bad, HDR + 2 * CPU_BYTES + P_IRR0, 1u << 3, 0, 8);
    reseal(bad, size);
    refused_with(&s, img, size, bad, size, INTC_ERR_CORRUPT,
                 "lapic[2].irr[0]: reserved bits set");

    /* Header faults with their own codes. */
    memcpy(bad, img, size);
    patch(bad, H_VERSION, 1, ~1u, 4);
    refused_with(&s, img, size, bad, size, INTC_ERR_VERSION,
                 "format version 1, this library reads version 2");
    memcpy(bad, img, size);
    bad[H_FP] ^= 1;
    reseal(bad, size);
    refused_with(&s, img, size, bad, size, INTC_ERR_INVAL,
                 "configuration fingerprint differs: an image of another "
                 "machine configuration");

    /* A success clears it. */
    assert_int_equal(intc_machine_load(s.m, img, size), INTC_OK);
    assert_string_equal(intc_machine_errmsg(s.m), "");
    free(bad);
    free(img);
    sh_close(&s);
}

/* A counting one-shot timer is armed where its count ends (SDM 11.5.4:
   the count decrements at the divided bus clock and interrupts at 0), so
   an image whose deadline lies elsewhere is inconsistent: refused, and
   named.  A deadline moved earlier would otherwise fire the interrupt
   before the count could have run out. */
static void test_oneshot_deadline_checked(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);
    intc_lapic *l = intc_machine_lapic(m, 0);
    uint64_t v = 0, dl;
    size_t size = 0, at = SIZE_MAX;
    uint8_t *img;

    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x40),
                     INTC_OK);
    h->now = 1000;
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4,
                                           123457),
                     INTC_OK);
    dl = intc_lapic_timer_deadline(l);
    assert_true(dl > h->now && dl != UINT64_MAX);
    assert_int_equal(intc_machine_save(m, NULL, 0, &size), INTC_ERR_NOSPC);
    img = malloc(size);
    assert_non_null(img);
    assert_int_equal(intc_machine_save(m, img, size, &size), INTC_OK);
    /* The deadline's 8 bytes, little-endian, found in the payload. */
    for (size_t i = HDR; i + 8 <= size; i++) {
        uint64_t x = 0;
        for (unsigned b = 0; b < 8; b++)
            x |= (uint64_t)img[i + b] << (8 * b);
        if (x == dl) {
            assert_int_equal(at, SIZE_MAX); /* unique */
            at = i;
        }
    }
    assert_int_not_equal(at, SIZE_MAX);
    img[at] ^= 1; /* 1 ns off */
    reseal(img, size);
    assert_int_equal(intc_machine_load(m, img, size), INTC_ERR_CORRUPT);
    assert_string_equal(intc_machine_errmsg(m),
                        "lapic[0].timer_deadline: not where the one-shot "
                        "count ends");
    assert_int_equal(intc_lapic_timer_deadline(l), dl); /* unchanged */
    img[at] ^= 1;
    reseal(img, size);
    assert_int_equal(intc_machine_load(m, img, size), INTC_OK);
    assert_int_equal(intc_lapic_mmio_read(l, INTC_LAPIC_TIMER_CCR, 4, &v),
                     INTC_OK);
    assert_true(v > 0 && v <= 123457);
    free(img);
    intc_machine_free(m);
}

/* Devices are named by their event unit (machine.h intc_machine_errmsg:
   "MSI-X/MSI event unit"), in creation order from 0.  A 1-CPU machine
   with MSI-X (8 vectors, unit 0) then MSI (unit 1): after the CPU and
   lp_last, the MSI-X section is enabled, function mask, the PBA qword,
   then per vector address low/high, data, vector control; then the MSI
   capability's configuration bytes. */
static void test_refusal_names_device(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *m;
    intc_err e;
    size_t size;
    uint8_t *img, *bad;
    const size_t msix = HDR + CPU_BYTES + 4u, msi = msix + 2u + 8u + 8u * 16u;

    intc_machine_config_init(&cfg);
    m = th_machine(h, &cfg);
    assert_non_null(intc_msix_new(m, 8, 0x10, &e));
    assert_non_null(intc_msi_new(m, 2, true, true, 0x18, &e));
    img = save_alloc(m, &size);
    bad = malloc(size);
    /* PCIe 7.7.2: Vector Control bits 31:1 are reserved. */
    memcpy(bad, img, size);
    patch(bad, msix + 10u + 3u * 16u + 12u, 1u << 4, 0, 4);
    reseal(bad, size);
    assert_int_equal(intc_machine_load(m, bad, size), INTC_ERR_CORRUPT);
    assert_string_equal(intc_machine_errmsg(m),
                        "msix[0].vector_control[3]: reserved bits set");
    /* The capability ID (byte 0) is read-only. */
    memcpy(bad, img, size);
    bad[msi] ^= 0x01;
    reseal(bad, size);
    assert_int_equal(intc_machine_load(m, bad, size), INTC_ERR_CORRUPT);
    assert_string_equal(intc_machine_errmsg(m),
                        "msi[1].config[0]: read-only bits changed");
    /* PCI 3.0 6.8.1.7-8: enabled, vector 0 unmasked and pending (a rule
       over several bytes: control at 2, pending bits at 20). */
    memcpy(bad, img, size);
    bad[msi + 2] |= 0x01;
    bad[msi + 20] |= 0x01;
    reseal(bad, size);
    assert_int_equal(intc_machine_load(m, bad, size), INTC_ERR_CORRUPT);
    assert_string_equal(intc_machine_errmsg(m),
                        "msi[1].config[20]: pending bit of an unmasked "
                        "vector");
    assert_state(m, img, size);
    free(bad);
    free(img);
    intc_machine_free(m);
}

/* Every refusal is named: one bit flipped in each payload byte, the
   checksum recomputed; an image that is refused names a model and field
   (the DIAG walk finds what CHECK refused), one that loads is a valid
   state (the original is loaded back). */
static void test_every_refusal_is_named(void **state)
{
    sh s;
    size_t size, refused = 0;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_VTD, &size);
    uint8_t *bad = malloc(size);

    for (size_t i = HDR; i < size; i++) {
        intc_err err;
        const char *msg;
        memcpy(bad, img, size);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        reseal(bad, size);
        err = intc_machine_load(s.m, bad, size);
        msg = intc_machine_errmsg(s.m);
        if (err == INTC_OK) {
            assert_string_equal(msg, "");
            assert_int_equal(intc_machine_load(s.m, img, size), INTC_OK);
            continue;
        }
        assert_int_equal(err, INTC_ERR_CORRUPT);
        if (strchr(msg, '.') == NULL || strstr(msg, ": ") == NULL)
            fail_msg("byte %zu: refusal not named: \"%s\"", i, msg);
        refused++;
    }
    assert_true(refused > size / 4);
    assert_state(s.m, img, size);
    free(bad);
    free(img);
    sh_close(&s);
}

/* The refusal named is the first in image order even when an earlier
   section holds state that only a rule reads: an IOAPIC with a throttled
   pin (its timer deadline is checked against the earliest throttled pin),
   then a refused MSI-X field. */
static void test_refusal_after_throttled_pin(void **state)
{
    th_host *h = *state;
    static const uint8_t wiring[24] = {[7] = INTC_PIN_LEVEL};
    intc_machine_config cfg;
    intc_ioapic_config ioc = {0};
    intc_machine *m;
    intc_ioapic *io;
    intc_lapic *l;
    intc_err e;
    size_t size;
    uint8_t *img, *bad;
    const size_t msix = HDR + CPU_BYTES + 4u + 2u + 24u * 26u + 8u;

    intc_machine_config_init(&cfg);
    ioc.id = 2;
    ioc.version = 0x20;
    ioc.n_pins = 24;
    ioc.pin_wiring = wiring;
    cfg.ioapics = &ioc;
    cfg.n_ioapics = 1;
    cfg.storm_threshold = 1;
    cfg.storm_throttle_ns = 1000;
    m = th_machine(h, &cfg);
    assert_non_null(intc_msix_new(m, 8, 0x10, &e));
    io = intc_machine_ioapic(m, 0);
    l = intc_machine_lapic(m, 0);
    lapic_write(l, INTC_LAPIC_SVR, 0x1ff);
    /* Pin 7: level, vector 0x47, to APIC 0; the line stays asserted, so
       the first EOI re-delivers, which starts the storm and is held. */
    assert_int_equal(intc_ioapic_mmio_write(io, 0, 4, 0x10 + 2 * 7), INTC_OK);
    assert_int_equal(intc_ioapic_mmio_write(io, 0x10, 4, 0x8047), INTC_OK);
    h->now = 5000;
    assert_int_equal(intc_ioapic_set_irq(io, 7, true), INTC_OK);
    assert_int_equal(intc_lapic_ack(l), 0x47);
    lapic_write(l, INTC_LAPIC_EOI, 0);
    img = save_alloc(m, &size);
    /* The throttle is in the image (pin 7's throttle_until, then the
       IOAPIC's timer deadline). */
    assert_true(xxo_rd(img + HDR + CPU_BYTES + 4u + 2u + 7u * 26u + 18u, 8) ==
                6000);
    assert_true(xxo_rd(img + msix - 8u, 8) == 6000);
    assert_int_equal(intc_machine_load(m, img, size), INTC_OK);

    bad = malloc(size);
    memcpy(bad, img, size);
    patch(bad, msix + 2u + 8u + 12u, 1u << 1, 0, 4);
    reseal(bad, size);
    assert_int_equal(intc_machine_load(m, bad, size), INTC_ERR_CORRUPT);
    assert_string_equal(intc_machine_errmsg(m),
                        "msix[0].vector_control[0]: reserved bits set");
    assert_state(m, img, size);
    free(bad);
    free(img);
    intc_machine_free(m);
}

/* The checksum is XXH64 (seed 0) of every byte from offset 24 on: the
   oracle against published values (the xxHash empty-input value, and the
   "quick brown fox" one), then against the image. */
static void test_checksum_is_xxh64(void **state)
{
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    sh s;
    size_t size;
    uint8_t *img;

    assert_true(xxh64_oracle(NULL, 0) == 0xef46db3751d8e999ull);
    assert_true(xxh64_oracle((const uint8_t *)fox, sizeof fox - 1) ==
                0x0b242d361fda71bcull);
    img = busy(&s, *state, INTC_IOMMU_AMDVI, &size);
    assert_true(xxo_rd(img + H_SUM, 8) ==
                xxh64_oracle(img + H_PLEN, size - H_PLEN));
    assert_true(xxo_rd(img + H_PLEN, 8) == size - HDR);
    assert_true(xxo_rd(img + H_VERSION, 4) == 2);
    assert_true(xxo_rd(img + H_HDR_SIZE, 4) == HDR);
    free(img);
    sh_close(&s);
}

/* An x2APIC-mode image does not load into a machine without x2APIC. */
static void test_image_of_other_config_refused(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_machine *a, *b;
    size_t size;
    uint8_t *img;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    a = th_machine(h, &cfg);
    cfg.x2apic = false;
    b = th_machine(h, &cfg);
    img = save_alloc(a, &size);
    assert_int_equal(intc_machine_load(b, img, size), INTC_ERR_INVAL);
    free(img);
    intc_machine_free(a);
    intc_machine_free(b);
}

/* ---- (5) buffer size ---- */

static void test_nospc_reports_size(void **state)
{
    sh s;
    size_t size, used = 0;
    uint8_t *img = busy(&s, *state, INTC_IOMMU_VTD, &size);
    uint8_t *buf = malloc(size);

    assert_int_equal(intc_machine_save(s.m, NULL, 0, &used), INTC_ERR_NOSPC);
    assert_int_equal(used, size);
    used = 0;
    assert_int_equal(intc_machine_save(s.m, buf, size - 1, &used),
                     INTC_ERR_NOSPC);
    assert_int_equal(used, size);
    assert_int_equal(intc_machine_save(s.m, buf, size, NULL), INTC_OK);
    assert_memory_equal(buf, img, size);
    used = 0;
    assert_int_equal(intc_machine_save(s.m, buf, size, &used), INTC_OK);
    assert_int_equal(used, size);
    assert_int_equal(intc_machine_save(NULL, buf, size, &used),
                     INTC_ERR_INVAL);
    assert_int_equal(intc_machine_load(NULL, buf, size), INTC_ERR_INVAL);
    free(buf);
    free(img);
    sh_close(&s);
}

/* ---- (6) from inside a callback ---- */

static void test_busy_inside_callback(void **state)
{
    sh s;
    size_t size;
    uint8_t *img;
    intc_lapic *l;

    if (!th_traced(*state))
        skip(); /* the callback under test is event(): none untraced */
    img = busy(&s, *state, INTC_IOMMU_NONE, &size);
    l = intc_machine_lapic(s.m, 0);
    s.reenter = true;
    s.reenter_img = img;
    s.reenter_len = size;
    s.reenter_save = s.reenter_load = INTC_OK;
    /* Any event will do: the IA32_APIC_BASE write emits one. */
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, 0xfee00000u |
                                                                    INTC_APIC_BASE_EN |
                                                                    INTC_APIC_BASE_BSP),
                     INTC_OK);
    assert_false(s.reenter);
    assert_int_equal(s.reenter_save, INTC_ERR_BUSY);
    assert_int_equal(s.reenter_load, INTC_ERR_BUSY);
    free(img);
    sh_close(&s);
}

/* ---- (7) no allocation ---- */

static void test_save_load_never_allocate(void **state)
{
    th_host *h = *state;
    sh s;
    size_t size;
    uint8_t *img = busy(&s, h, INTC_IOMMU_VTD, &size);
    uint8_t *buf = malloc(size);
    unsigned long allocs = s.h->n_allocs;

    s.h->fail_at = s.h->n_allocs + 1; /* the next allocation would fail */
    assert_int_equal(intc_machine_save(s.m, buf, size, NULL), INTC_OK);
    assert_int_equal(intc_machine_load(s.m, buf, size), INTC_OK);
    assert_int_equal(s.h->n_allocs, allocs);
    assert_int_equal(s.h->n_failed, 0);
    s.h->fail_at = 0;
    assert_memory_equal(buf, img, size);
    free(buf);
    free(img);
    sh_close(&s);
}

/* ---- posted interrupts are folded, not stored ---- */

static void test_posted_vectors_folded_into_irr(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_machine *f = th_machine_n(h, 2);
    intc_lapic *l = intc_machine_lapic(m, 1);
    uint64_t irr = 0;
    size_t size;
    uint8_t *img;

    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    intc_lapic_post(l, 0x61, false);
    img = save_alloc(m, &size);
    assert_int_equal(intc_machine_load(f, img, size), INTC_OK);
    /* SDM 11.8.4 / VT-d 5.2: the posted vector is a requested interrupt. */
    assert_int_equal(intc_lapic_mmio_read(intc_machine_lapic(f, 1),
                                          INTC_LAPIC_IRR0 + 0x30, 4, &irr),
                     INTC_OK);
    assert_true(irr & (1u << 1));
    assert_true(intc_lapic_pending(intc_machine_lapic(f, 1)) & INTC_PEND_INTR);
    assert_true(h->kicks[1] > 0);
    free(img);
    intc_machine_free(m);
    intc_machine_free(f);
}

/* A restored timer is handed back to the host. */
static void test_load_rearms_timers(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_machine *f;
    intc_lapic *l = intc_machine_lapic(m, 0);
    size_t size;
    uint8_t *img;
    uint64_t d;

    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x40),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 1000),
                     INTC_OK);
    d = intc_lapic_timer_deadline(l);
    assert_true(d != UINT64_MAX);
    img = save_alloc(m, &size);
    intc_machine_free(m);
    for (unsigned i = 0; i < TH_MAX_CPUS; i++)
        h->deadline[i] = 12345;
    f = th_machine_n(h, 2);
    assert_int_equal(intc_machine_load(f, img, size), INTC_OK);
    assert_int_equal(h->deadline[0], d);
    assert_int_equal(h->deadline[1], UINT64_MAX);
    h->now = d;
    assert_int_equal(intc_lapic_timer_expired(intc_machine_lapic(f, 0), d),
                     INTC_OK);
    th_assert_event(h, INTC_EV_TIMER, 0, 0x40);
    free(img);
    intc_machine_free(f);
}

static void ipi_flat(intc_lapic *l)
{
    /* Fixed, logical, destination 0x01. */
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4, 1u << 24),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4,
                                           0x51u | 1u << 11 | 1u << 14),
                     INTC_OK);
}

/* Two APICs answering the same logical destination accept a message in
   the same order in the machine that saved and in the one that loaded
   (the order is not architectural, but the trace must be reproducible). */
static void logical_pair_order(th_host *h, intc_machine *m, uint32_t out[2])
{
    size_t first = h->n_events;
    uint32_t k = 0;
    ipi_flat(intc_machine_lapic(m, 2));
    for (size_t i = first; i < h->n_events && k < 2; i++)
        if (h->events[i].type == INTC_EV_IRR_SET)
            out[k++] = h->events[i].cpu;
    assert_int_equal(k, 2);
}

static void test_delivery_order_survives_round_trip(void **state)
{
    th_host *h = *state;
    uint32_t oa[2], ob[2];
    size_t size;
    uint8_t *img;

    if (!th_traced(h))
        skip(); /* the order compared is the IRR_SET trace's */
    intc_machine *a = th_machine_n(h, 3);
    intc_machine *b = th_machine_n(h, 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(a, i),
                                               INTC_LAPIC_SVR, 4, 0x1ff),
                         INTC_OK);
    /* Both take logical bit 0 (SDM 11.6.2.2, flat model), CPU 0 first,
       so the incrementally built routing chain holds CPU 1 first. */
    assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(a, 0),
                                           INTC_LAPIC_LDR, 4, 1u << 24),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(a, 1),
                                           INTC_LAPIC_LDR, 4, 1u << 24),
                     INTC_OK);
    img = save_alloc(a, &size);
    assert_int_equal(intc_machine_load(b, img, size), INTC_OK);
    logical_pair_order(h, a, oa);
    logical_pair_order(h, b, ob);
    assert_int_equal(oa[0], ob[0]);
    assert_int_equal(oa[1], ob[1]);
    free(img);
    intc_machine_free(a);
    intc_machine_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_vtd, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_amdvi, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_round_trip_no_iommu, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_refused, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_bit_flips_refused, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_images_refused,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_oneshot_deadline_checked,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_names_field, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_names_device, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_every_refusal_is_named, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_after_throttled_pin,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_checksum_is_xxh64, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_image_of_other_config_refused,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_nospc_reports_size, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_busy_inside_callback, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(test_save_load_never_allocate,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_posted_vectors_folded_into_irr,
                                        th_setup, th_teardown),
        cmocka_unit_test_setup_teardown(test_load_rearms_timers, th_setup,
                                        th_teardown),
        cmocka_unit_test_setup_teardown(
            test_delivery_order_survives_round_trip, th_setup, th_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
