/*
 * libintc benchmarks (issue 7): each case runs a fixed number of
 * iterations of one operation, on libintc and on the reference model
 * (ref_model.c, the per-operation work of QEMU 7.2's models), between
 * callgrind markers:
 *
 *   setup; CALLGRIND_ZERO_STATS; N x op; CALLGRIND_DUMP_STATS_AT(label)
 *
 * bench/run.sh runs this under callgrind, reads each dump's instruction
 * total and divides by N (and by the targets of a broadcast), so the
 * numbers repeat on a noisy shared machine.  Work an iteration needs but
 * that is not the operation (acknowledging a delivered vector so the next
 * delivery is a fresh one, re-arming a timer) runs with collection toggled
 * off; run.sh subtracts the cost of the toggles (the "calib" cases).
 *
 * Run natively (not under valgrind), each loop is also timed with the
 * monotonic clock and "wall" lines are printed: only the ratio libintc /
 * reference of the same run means anything.
 *
 * The machine's event callback is NULL (tracing hosts pay for it) and
 * kick() increments a counter.
 *
 * Usage: intc-bench [--smoke] [--sizes]
 *   --smoke  2 iterations per case (ctest: it runs, numbers ignored)
 *   --sizes  print the bytes of each object and exit
 */
#define _POSIX_C_SOURCE 200809L

#include "intc/intc.h"
#include "ref_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#  if __has_include(<valgrind/callgrind.h>)
#    include <valgrind/callgrind.h>
#    define BENCH_HAVE_VALGRIND 1
#  endif
#endif
#ifndef BENCH_HAVE_VALGRIND
#  define CALLGRIND_ZERO_STATS
#  define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#  define CALLGRIND_TOGGLE_COLLECT
#  define RUNNING_ON_VALGRIND 0
#endif

/* sizes.c: sizeof of the library's private objects. */
void bench_print_sizes(FILE *out);

/* ---- the host ---- */

#define GM_BASE 0x10000000ull
#define GM_SIZE (1u << 20)
#define IRT_A (GM_BASE + 0x0000ull)  /* remapping table, 256 entries */
#define PID_A (GM_BASE + 0x10000ull) /* posted-interrupt descriptor */

typedef struct bhost {
    uint64_t now;
    uint64_t kicks;
    uint64_t deadline;
    uint8_t *gmem;
} bhost;

static void h_kick(void *host, uint32_t cpu)
{
    (void)cpu;
    ((bhost *)host)->kicks++;
}

static uint64_t h_now(void *host, uint32_t cpu)
{
    (void)cpu;
    return ((bhost *)host)->now;
}

static void h_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    (void)cpu;
    ((bhost *)host)->deadline = deadline;
}

static int h_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    bhost *h = host;
    if (addr < GM_BASE || len > GM_SIZE || addr - GM_BASE > GM_SIZE - len)
        return -1;
    memcpy(buf, h->gmem + (addr - GM_BASE), len);
    return 0;
}

static int h_dma_write(void *host, uint64_t addr, const void *buf,
                       size_t len)
{
    bhost *h = host;
    if (addr < GM_BASE || len > GM_SIZE || addr - GM_BASE > GM_SIZE - len)
        return -1;
    memcpy(h->gmem + (addr - GM_BASE), buf, len);
    return 0;
}

/* ---- measurement ---- */

typedef struct bench {
    bool smoke;
    bool valgrind;
    const char *side; /* "lib" or "ref" */
    const char *name;
    uint64_t n;
    unsigned div;     /* targets per operation (broadcasts) */
    bool toggled;     /* the loop toggles collection */
    unsigned target;  /* instructions per op (per target), 0: none */
    struct timespec t0;
    bhost host;
    uint8_t *gmem;
    int failures;
} bench;

/* Work inside an iteration that is not part of the operation. */
#define UNTIMED(...)                                                        \
    do {                                                                    \
        CALLGRIND_TOGGLE_COLLECT;                                           \
        __VA_ARGS__;                                                        \
        CALLGRIND_TOGGLE_COLLECT;                                           \
    } while (0)

static uint64_t iters(const bench *b, uint64_t n)
{
    return b->smoke ? 2 : n;
}

static void begin(bench *b)
{
    clock_gettime(CLOCK_MONOTONIC, &b->t0);
    CALLGRIND_ZERO_STATS;
}

static void end(bench *b)
{
    struct timespec t1;
    char label[160];

    snprintf(label, sizeof(label), "bench|%s|%s|%llu|%u|%d|%u", b->side,
             b->name, (unsigned long long)b->n, b->div, b->toggled,
             b->target);
    CALLGRIND_DUMP_STATS_AT(label);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!b->valgrind) {
        double ns = (double)(t1.tv_sec - b->t0.tv_sec) * 1e9 +
                    (double)(t1.tv_nsec - b->t0.tv_nsec);
        printf("wall|%s|%s|%.2f\n", b->side, b->name,
               ns / (double)(b->n ? b->n : 1));
    }
}

static void check(bench *b, bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "%s/%s: %s\n", b->side, b->name, what);
        b->failures++;
    }
}

/* ---- libintc setup helpers ---- */

/* IDs 0.. skipping 0xFF (the xAPIC broadcast ID, refused as an ID). */
static uint32_t *make_ids(uint32_t n)
{
    uint32_t *ids = malloc(sizeof(*ids) * n);
    if (!ids)
        abort();
    for (uint32_t i = 0; i < n; i++)
        ids[i] = i < 255 ? i : i + 1;
    return ids;
}

static uint32_t ref_id(uint32_t i)
{
    return i < 255 ? i : i + 1;
}

enum { WITH_IOAPIC = 1, WITH_VTD = 2 };

static intc_machine *lib_new(bench *b, uint32_t n, unsigned with)
{
    static const uint8_t wiring[24] = {[5] = INTC_PIN_LEVEL};
    intc_machine_config cfg;
    intc_ioapic_config io = {0};
    intc_host_ops ops = {0};
    intc_err err;
    uint32_t *ids = make_ids(n);
    intc_machine *m;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = n;
    cfg.apic_ids = ids;
    cfg.storm_threshold = 0;
    if (with & WITH_IOAPIC) {
        io.id = 2;
        io.version = 0x20;
        io.n_pins = 24;
        io.pin_wiring = wiring;
        cfg.ioapics = &io;
        cfg.n_ioapics = 1;
    }
    if (with & WITH_VTD)
        cfg.iommu.kind = INTC_IOMMU_VTD;
    ops.version = INTC_HOST_OPS_VERSION;
    ops.kick = h_kick;
    ops.now_ns = h_now;
    ops.timer_arm = h_timer_arm;
    ops.dma_read = h_dma_read;
    ops.dma_write = h_dma_write;
    memset(&b->host, 0, sizeof(b->host));
    b->host.gmem = b->gmem;
    m = intc_machine_new(&cfg, &ops, &b->host, &err);
    free(ids);
    if (!m) {
        fprintf(stderr, "intc_machine_new: %s\n", intc_strerror(err));
        exit(1);
    }
    return m;
}

static intc_lapic *cpu(intc_machine *m, uint32_t i)
{
    return intc_machine_lapic(m, i);
}

static void mw(intc_lapic *l, uint32_t off, uint32_t v)
{
    intc_lapic_mmio_write(l, off, 4, v);
}

/* xAPIC: software-enable (SVR[8], spurious vector 0xFF). */
static void lib_enable(intc_machine *m, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        mw(cpu(m, i), 0xf0, 0x1ff);
}

/* x2APIC mode, software-enabled. */
static void lib_x2(intc_machine *m, uint32_t i)
{
    intc_lapic *l = cpu(m, i);
    uint64_t base = 0;
    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
    intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, base | INTC_APIC_BASE_EXTD);
    intc_lapic_msr_write(l, 0x80f, 0x1ff);
}

static void lib_ack_eoi(intc_lapic *l)
{
    intc_lapic_ack(l);
    mw(l, 0xb0, 0);
}

static ref_machine *ref_make(bench *b, uint32_t n)
{
    ref_machine *r = ref_new(n, b->gmem, GM_BASE, GM_SIZE);
    if (!r)
        abort();
    for (uint32_t i = 0; i < n; i++) {
        r->apic[i].id = ref_id(i);
        ref_mmio_write(r, i, 0xf0, 0x1ff);
    }
    return r;
}

static void ref_x2(ref_machine *r, uint32_t i)
{
    ref_msr_write(r, i, 0x1b, 0xfee00c00ull);
    ref_msr_write(r, i, 0x80f, 0x1ff);
}

static void ref_ack_eoi(ref_machine *r, uint32_t i)
{
    ref_ack(r, i);
    ref_eoi(r, i);
}

/* ---- VT-d tables in guest memory (VT-d 9.10, 9.11, 9.12) ---- */

#define MSI_TO(dest) (0xfee00000ull | (uint64_t)(dest) << 12)
#define RMSI(handle) (0xfee00000ull | (uint64_t)(handle) << 5 | 0x10u)
#define NV 0xf2

static void gm_w64(bench *b, uint64_t gpa, uint64_t v)
{
    memcpy(b->gmem + (gpa - GM_BASE), &v, 8);
}

static void vtd_tables(bench *b)
{
    memset(b->gmem, 0, GM_SIZE);
    /* IRTE 9: present, fixed, physical, edge, vector 0x41, xAPIC DST 1. */
    gm_w64(b, IRT_A + 16 * 9, 1ull | 0x41ull << 16 | (1ull << 8) << 32);
    gm_w64(b, IRT_A + 16 * 9 + 8, 0);
    /* IRTE 7: posted, vector 0x51, descriptor at PID_A. */
    gm_w64(b, IRT_A + 16 * 7,
           1ull | 1ull << 15 | 0x51ull << 16 |
               ((PID_A >> 6) & 0x3ffffffull) << 38);
    gm_w64(b, IRT_A + 16 * 7 + 8, PID_A & 0xffffffff00000000ull);
    /* PID: NV, NDST = CPU 1 (xAPIC: NDST[15:8]). */
    for (unsigned i = 0; i < 8; i++)
        gm_w64(b, PID_A + 8 * i, 0);
    gm_w64(b, PID_A + 32, (uint64_t)NV << 16 | (uint64_t)(1u << 8) << 32);
}

/* Undo a posting: PIR bit and ON cleared. */
static void pid_clear(bench *b)
{
    uint64_t ctl;
    gm_w64(b, PID_A + 8, 0);
    memcpy(&ctl, b->gmem + (PID_A + 32 - GM_BASE), 8);
    gm_w64(b, PID_A + 32, ctl & ~1ull);
}

/* ================================================================== */
/* Cases.  Each has a libintc and a reference body.                    */
/* ================================================================== */

typedef struct bcase {
    const char *name;
    uint64_t n;
    unsigned cpus;   /* broadcast / cluster size (0: case default) */
    unsigned target; /* instructions per op (per target for bcast) */
    void (*lib)(bench *b, const struct bcase *c);
    void (*ref)(bench *b, const struct bcase *c);
} bcase;

/* -- calibration: the loop and the toggles alone -- */

static void calib_loop(bench *b, const bcase *c)
{
    (void)c;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++)
        __asm__ volatile("" ::: "memory");
    end(b);
}

static void calib_toggle(bench *b, const bcase *c)
{
    (void)c;
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        __asm__ volatile("" ::: "memory");
        UNTIMED(__asm__ volatile("" ::: "memory"));
    }
    end(b);
}

/* -- MSI delivery: fixed, physical, edge, to CPU 1 -- */

static void lib_msi(bench *b, const bcase *c)
{
    (void)c;
    intc_machine *m = lib_new(b, 2, 0);
    intc_lapic *l1 = cpu(m, 1);
    lib_enable(m, 2);
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_msi_send(m, MSI_TO(1), 0x41, 0);
        UNTIMED(lib_ack_eoi(l1));
    }
    end(b);
    check(b, b->host.kicks == b->n, "one kick per delivery");
    intc_machine_free(m);
}

static void ref_msi(bench *b, const bcase *c)
{
    (void)c;
    ref_machine *r = ref_make(b, 2);
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_msi_send(r, MSI_TO(1), 0x41, 0);
        UNTIMED(ref_ack_eoi(r, 1));
    }
    end(b);
    ref_free(r);
}

/* -- MSI + INTA + EOI: x2APIC (EOI by WRMSR) and xAPIC (EOI by MMIO) -- */

static void lib_msi_ack_eoi(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "x2apic") != NULL;
    intc_machine *m = lib_new(b, 2, 0);
    intc_lapic *l1 = cpu(m, 1);
    int bad = 0;
    lib_enable(m, 2);
    if (x2)
        lib_x2(m, 1);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_msi_send(m, MSI_TO(1), 0x41, 0);
        bad |= intc_lapic_ack(l1) != 0x41;
        if (x2)
            intc_lapic_msr_write(l1, 0x80b, 0);
        else
            intc_lapic_mmio_write(l1, 0xb0, 4, 0);
    }
    end(b);
    check(b, !bad, "ack returns the vector");
    intc_machine_free(m);
}

static void ref_msi_ack_eoi(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "x2apic") != NULL;
    ref_machine *r = ref_make(b, 2);
    int bad = 0;
    if (x2)
        ref_x2(r, 1);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_msi_send(r, MSI_TO(1), 0x41, 0);
        bad |= ref_ack(r, 1) != 0x41;
        if (x2)
            ref_msr_write(r, 1, 0x80b, 0);
        else
            ref_mmio_write(r, 1, 0xb0, 0);
    }
    end(b);
    check(b, !bad, "ack returns the vector");
    ref_free(r);
}

/* -- remapped MSI (VT-d): hot cache, cold cache, posted -- */

static void lib_remap(bench *b, const bcase *c)
{
    bool cold = strstr(c->name, "cold") != NULL;
    bool posted = strstr(c->name, "posted") != NULL;
    intc_machine *m = lib_new(b, 2, WITH_VTD);
    intc_iommu *u = intc_machine_iommu(m);
    intc_lapic *l1 = cpu(m, 1);
    uint64_t addr = RMSI(posted ? 7 : 9);
    lib_enable(m, 2);
    vtd_tables(b);
    intc_iommu_set_table(u, IRT_A | 7 /* 256 entries */, true, false);
    intc_msi_send(m, addr, 0, 0); /* warm the cache */
    if (posted)
        pid_clear(b);
    lib_ack_eoi(l1);
    b->toggled = true;
    b->host.kicks = 0;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_msi_send(m, addr, 0, 0);
        if (posted)
            UNTIMED(pid_clear(b); lib_ack_eoi(l1));
        else if (cold)
            UNTIMED(intc_iommu_invalidate(u, 9, 0); lib_ack_eoi(l1));
        else
            UNTIMED(lib_ack_eoi(l1));
    }
    end(b);
    check(b, b->host.kicks == b->n, "one kick per delivery");
    intc_machine_free(m);
}

static void ref_remap(bench *b, const bcase *c)
{
    bool posted = strstr(c->name, "posted") != NULL;
    ref_machine *r = ref_make(b, 2);
    uint64_t addr = RMSI(posted ? 7 : 9);
    uint64_t k0;
    vtd_tables(b);
    ref_ir_set_table(r, IRT_A, false, 256, true);
    b->toggled = true;
    k0 = r->kicks;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_msi_send(r, addr, 0, 0);
        if (posted)
            UNTIMED(pid_clear(b); ref_ack_eoi(r, 1));
        else
            UNTIMED(ref_ack_eoi(r, 1)); /* no cache: cold == hot */
    }
    end(b);
    check(b, r->kicks - k0 >= b->n, "delivered");
    ref_free(r);
}

/* -- level interrupt: INTA + EOI, the EOI re-delivers (line held) -- */

static void ioapic_rte(intc_ioapic *io, unsigned pin, uint64_t rte)
{
    intc_ioapic_mmio_write(io, 0x00, 4, INTC_IOAPIC_REG_RTE0 + 2 * pin + 1);
    intc_ioapic_mmio_write(io, 0x10, 4, (uint32_t)(rte >> 32));
    intc_ioapic_mmio_write(io, 0x00, 4, INTC_IOAPIC_REG_RTE0 + 2 * pin);
    intc_ioapic_mmio_write(io, 0x10, 4, (uint32_t)rte);
}

#define RTE_TO1(v) ((uint64_t)(v) | 1ull << INTC_RTE_DEST_SHIFT)

static void lib_level_eoi(bench *b, const bcase *c)
{
    (void)c;
    intc_machine *m = lib_new(b, 2, WITH_IOAPIC);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l1 = cpu(m, 1);
    int bad = 0;
    lib_enable(m, 2);
    ioapic_rte(io, 5, RTE_TO1(0x61) | INTC_RTE_LEVEL);
    intc_ioapic_set_irq(io, 5, true);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        bad |= intc_lapic_ack(l1) != 0x61;
        intc_lapic_mmio_write(l1, 0xb0, 4, 0);
    }
    end(b);
    check(b, !bad, "re-delivered after each EOI");
    intc_machine_free(m);
}

static void ref_level_eoi(bench *b, const bcase *c)
{
    (void)c;
    ref_machine *r = ref_make(b, 2);
    int bad = 0;
    ref_ioapic_write_rte(r, 5, RTE_TO1(0x61) | 0x8000);
    ref_ioapic_set_irq(r, 5, true);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        bad |= ref_ack(r, 1) != 0x61;
        ref_mmio_write(r, 1, 0xb0, 0);
    }
    end(b);
    check(b, !bad, "re-delivered after each EOI");
    ref_free(r);
}

/* -- IOAPIC pin: assert + de-assert, edge / level / masked -- */

static void lib_ioapic_pin(bench *b, const bcase *c)
{
    bool masked = strstr(c->name, "masked") != NULL;
    bool level = strstr(c->name, "level") != NULL;
    unsigned pin = level ? 5 : masked ? 4 : 3;
    intc_machine *m = lib_new(b, 2, WITH_IOAPIC);
    intc_ioapic *io = intc_machine_ioapic(m, 0);
    intc_lapic *l1 = cpu(m, 1);
    lib_enable(m, 2);
    ioapic_rte(io, pin, RTE_TO1(0x62) | (level ? INTC_RTE_LEVEL : 0) |
                            (masked ? INTC_RTE_MASKED : 0));
    b->toggled = !masked;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_ioapic_set_irq(io, pin, true);
        intc_ioapic_set_irq(io, pin, false);
        if (!masked)
            UNTIMED(lib_ack_eoi(l1));
    }
    end(b);
    check(b, b->host.kicks == (masked ? 0 : b->n), "kicks");
    intc_machine_free(m);
}

static void ref_ioapic_pin(bench *b, const bcase *c)
{
    bool masked = strstr(c->name, "masked") != NULL;
    bool level = strstr(c->name, "level") != NULL;
    unsigned pin = level ? 5 : masked ? 4 : 3;
    ref_machine *r = ref_make(b, 2);
    ref_ioapic_write_rte(r, pin, RTE_TO1(0x62) | (level ? 0x8000u : 0) |
                                     (masked ? 0x10000u : 0));
    b->toggled = !masked;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_ioapic_set_irq(r, pin, true);
        ref_ioapic_set_irq(r, pin, false);
        if (!masked)
            UNTIMED(ref_ack_eoi(r, 1));
    }
    end(b);
    ref_free(r);
}

/* -- unicast IPI, CPU 0 -> CPU 1, fixed -- */

static void lib_ipi(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "x2apic") != NULL;
    intc_machine *m = lib_new(b, 2, 0);
    intc_lapic *l0 = cpu(m, 0), *l1 = cpu(m, 1);
    lib_enable(m, 2);
    if (x2) {
        lib_x2(m, 0);
        lib_x2(m, 1);
    }
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        if (x2) {
            intc_lapic_msr_write(l0, 0x830, 1ull << 32 | 0x41);
            UNTIMED(intc_lapic_ack(l1); intc_lapic_msr_write(l1, 0x80b, 0));
        } else {
            mw(l0, 0x310, 1u << 24);
            mw(l0, 0x300, 0x41);
            UNTIMED(lib_ack_eoi(l1));
        }
    }
    end(b);
    check(b, b->host.kicks == b->n, "one kick per IPI");
    intc_machine_free(m);
}

static void ref_ipi(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "x2apic") != NULL;
    ref_machine *r = ref_make(b, 2);
    if (x2) {
        ref_x2(r, 0);
        ref_x2(r, 1);
    }
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        if (x2) {
            ref_msr_write(r, 0, 0x830, 1ull << 32 | 0x41);
        } else {
            ref_mmio_write(r, 0, 0x310, 1u << 24);
            ref_mmio_write(r, 0, 0x300, 0x41);
        }
        UNTIMED(ref_ack_eoi(r, 1));
    }
    end(b);
    ref_free(r);
}

/* -- broadcast MSI (physical 0xFF) to every CPU -- */

static void lib_bcast(bench *b, const bcase *c)
{
    uint32_t n = c->cpus;
    intc_machine *m = lib_new(b, n, 0);
    lib_enable(m, n);
    b->toggled = true;
    b->div = n;
    b->host.kicks = 0;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_msi_send(m, MSI_TO(0xff), 0x41, 0);
        UNTIMED(for (uint32_t k = 0; k < n; k++) lib_ack_eoi(cpu(m, k)));
    }
    end(b);
    check(b, b->host.kicks == b->n * n, "every CPU kicked");
    intc_machine_free(m);
}

static void ref_bcast(bench *b, const bcase *c)
{
    uint32_t n = c->cpus;
    ref_machine *r = ref_make(b, n);
    b->toggled = true;
    b->div = n;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_msi_send(r, MSI_TO(0xff), 0x41, 0);
        UNTIMED(for (uint32_t k = 0; k < n; k++) ref_ack_eoi(r, k));
    }
    end(b);
    ref_free(r);
}

/* -- x2APIC cluster logical IPI: cluster 0, MDA bits 1-3 -- */

#define CLUSTER_ICR (0xeull << 32 | 1u << 11 | 0x41)

static void lib_cluster(bench *b, const bcase *c)
{
    uint32_t n = c->cpus;
    intc_machine *m = lib_new(b, n, 0);
    intc_lapic *l0 = cpu(m, 0);
    lib_enable(m, n);
    for (uint32_t i = 0; i < n; i++)
        lib_x2(m, i);
    b->toggled = true;
    b->host.kicks = 0;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        intc_lapic_msr_write(l0, 0x830, CLUSTER_ICR);
        UNTIMED(for (uint32_t k = 1; k <= 3; k++) {
            intc_lapic_ack(cpu(m, k));
            intc_lapic_msr_write(cpu(m, k), 0x80b, 0);
        });
    }
    end(b);
    check(b, b->host.kicks == 3 * b->n, "three CPUs kicked");
    intc_machine_free(m);
}

static void ref_cluster(bench *b, const bcase *c)
{
    uint32_t n = c->cpus;
    ref_machine *r = ref_make(b, n);
    for (uint32_t i = 0; i < n; i++)
        ref_x2(r, i);
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_msr_write(r, 0, 0x830, CLUSTER_ICR);
        UNTIMED(for (uint32_t k = 1; k <= 3; k++) ref_ack_eoi(r, k));
    }
    end(b);
    ref_free(r);
}

/* -- LAPIC timer expiry (the host timer fired): one-shot, periodic,
      TSC-deadline.  Re-arming and INTA/EOI are untimed. -- */

enum { T_ONESHOT, T_PERIODIC, T_TSCDL };

static unsigned timer_mode(const bcase *c)
{
    return strstr(c->name, "periodic") ? T_PERIODIC
           : strstr(c->name, "tsc")    ? T_TSCDL
                                       : T_ONESHOT;
}

static void lib_timer_arm(intc_lapic *l, bhost *h, unsigned mode)
{
    if (mode == T_ONESHOT)
        mw(l, 0x380, 1000);
    else if (mode == T_TSCDL)
        intc_lapic_msr_write(l, INTC_MSR_TSC_DEADLINE, h->now + 1000);
}

static void lib_timer(bench *b, const bcase *c)
{
    unsigned mode = timer_mode(c);
    intc_machine *m = lib_new(b, 1, 0);
    intc_lapic *l = cpu(m, 0);
    lib_enable(m, 1);
    mw(l, 0x3e0, 0xb); /* divide by 1 */
    mw(l, 0x320, 0x40u | mode << 17);
    if (mode == T_PERIODIC)
        mw(l, 0x380, 1000);
    lib_timer_arm(l, &b->host, mode);
    b->toggled = true;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        uint64_t d = b->host.deadline;
        b->host.now = d;
        intc_lapic_timer_expired(l, d);
        UNTIMED(lib_ack_eoi(l); lib_timer_arm(l, &b->host, mode));
    }
    end(b);
    check(b, b->host.kicks == b->n, "one interrupt per expiry");
    intc_machine_free(m);
}

static void ref_timer_arm(ref_machine *r, unsigned mode)
{
    if (mode == T_ONESHOT)
        ref_mmio_write(r, 0, 0x380, 1000);
    else if (mode == T_TSCDL)
        ref_msr_write(r, 0, 0x6e0, r->now + 1000);
}

static void ref_timer(bench *b, const bcase *c)
{
    unsigned mode = timer_mode(c);
    ref_machine *r = ref_make(b, 1);
    uint64_t k0;
    ref_mmio_write(r, 0, 0x3e0, 0xb);
    ref_mmio_write(r, 0, 0x320, 0x40u | mode << 17);
    if (mode == T_PERIODIC)
        ref_mmio_write(r, 0, 0x380, 1000);
    ref_timer_arm(r, mode);
    b->toggled = true;
    k0 = r->kicks;
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        ref_timer_expired(r, 0, (uint64_t)ref_timer_deadline(r, 0));
        UNTIMED(ref_ack_eoi(r, 0); ref_timer_arm(r, mode));
    }
    end(b);
    check(b, r->kicks - k0 == b->n, "one interrupt per expiry");
    ref_free(r);
}

/* -- register access: TPR read and write, xAPIC MMIO and x2APIC MSR -- */

static void lib_reg(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "msr") != NULL;
    bool wr = strstr(c->name, "write") != NULL;
    intc_machine *m = lib_new(b, 1, 0);
    intc_lapic *l = cpu(m, 0);
    uint64_t v, sum = 0;
    lib_enable(m, 1);
    if (x2)
        lib_x2(m, 0);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        if (wr && x2)
            intc_lapic_msr_write(l, 0x808, (i & 1) << 5);
        else if (wr)
            intc_lapic_mmio_write(l, 0x80, 4, (uint32_t)(i & 1) << 5);
        else if (x2)
            intc_lapic_msr_read(l, 0x808, &v), sum += v;
        else
            intc_lapic_mmio_read(l, 0x80, 4, &v), sum += v;
    }
    end(b);
    (void)sum;
    intc_machine_free(m);
}

static void ref_reg(bench *b, const bcase *c)
{
    bool x2 = strstr(c->name, "msr") != NULL;
    bool wr = strstr(c->name, "write") != NULL;
    ref_machine *r = ref_make(b, 1);
    uint64_t sum = 0;
    if (x2)
        ref_x2(r, 0);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++) {
        if (wr && x2)
            ref_msr_write(r, 0, 0x808, (i & 1) << 5);
        else if (wr)
            ref_mmio_write(r, 0, 0x80, (uint32_t)(i & 1) << 5);
        else if (x2)
            sum += ref_msr_read(r, 0, 0x808);
        else
            sum += ref_mmio_read(r, 0, 0x80);
    }
    end(b);
    (void)sum;
    ref_free(r);
}

/* -- machine reset and snapshot restore: 4 CPUs and a 24-pin IOAPIC -- */

static void lib_reset(bench *b, const bcase *c)
{
    (void)c;
    intc_machine *m = lib_new(b, 4, WITH_IOAPIC);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++)
        intc_machine_reset(m);
    end(b);
    intc_machine_free(m);
}

static void ref_reset_case(bench *b, const bcase *c)
{
    (void)c;
    ref_machine *r = ref_make(b, 4);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++)
        ref_reset(r);
    end(b);
    ref_free(r);
}

static void lib_restore(bench *b, const bcase *c)
{
    (void)c;
    intc_machine *m = lib_new(b, 4, WITH_IOAPIC);
    size_t len = 0;
    void *img;
    int bad = 0;
    lib_enable(m, 4);
    intc_msi_send(m, MSI_TO(1), 0x41, 0);
    intc_machine_save(m, NULL, 0, &len);
    img = malloc(len);
    if (!img || intc_machine_save(m, img, len, &len) != INTC_OK)
        abort();
    begin(b);
    for (uint64_t i = 0; i < b->n; i++)
        bad |= intc_machine_load(m, img, len) != INTC_OK;
    end(b);
    check(b, !bad, "load succeeds");
    free(img);
    intc_machine_free(m);
}

static void ref_restore(bench *b, const bcase *c)
{
    (void)c;
    ref_machine *r = ref_make(b, 4);
    size_t len;
    void *img;
    int bad = 0;
    ref_msi_send(r, MSI_TO(1), 0x41, 0);
    len = ref_save(r, NULL, 0);
    img = malloc(len);
    if (!img)
        abort();
    ref_save(r, img, len);
    begin(b);
    for (uint64_t i = 0; i < b->n; i++)
        bad |= !ref_load(r, img, len);
    end(b);
    check(b, !bad, "load succeeds");
    free(img);
    ref_free(r);
}

/* ---- the table ---- */

static const bcase cases[] = {
    {"calib-loop", 100000, 0, 0, calib_loop, NULL},
    {"calib-toggle", 100000, 0, 0, calib_toggle, NULL},
    {"msi", 100000, 0, 60, lib_msi, ref_msi},
    {"msi+ack+eoi-x2apic", 100000, 0, 120, lib_msi_ack_eoi, ref_msi_ack_eoi},
    {"msi+ack+eoi-xapic", 100000, 0, 120, lib_msi_ack_eoi, ref_msi_ack_eoi},
    {"remap-hot", 50000, 0, 0, lib_remap, ref_remap},
    {"remap-cold", 50000, 0, 0, lib_remap, ref_remap},
    {"remap-posted", 50000, 0, 0, lib_remap, ref_remap},
    {"level-eoi-redeliver", 50000, 0, 0, lib_level_eoi, ref_level_eoi},
    {"ioapic-edge", 50000, 0, 0, lib_ioapic_pin, ref_ioapic_pin},
    {"ioapic-level", 50000, 0, 0, lib_ioapic_pin, ref_ioapic_pin},
    {"ioapic-masked", 50000, 0, 0, lib_ioapic_pin, ref_ioapic_pin},
    {"ipi-xapic", 50000, 0, 0, lib_ipi, ref_ipi},
    {"ipi-x2apic", 50000, 0, 0, lib_ipi, ref_ipi},
    {"bcast-2", 20000, 2, 25, lib_bcast, ref_bcast},
    {"bcast-8", 5000, 8, 25, lib_bcast, ref_bcast},
    {"bcast-64", 1000, 64, 25, lib_bcast, ref_bcast},
    {"bcast-256", 250, 256, 25, lib_bcast, ref_bcast},
    {"bcast-1024", 60, 1024, 25, lib_bcast, ref_bcast},
    {"bcast-4096", 20, 4096, 25, lib_bcast, ref_bcast},
    {"cluster-x2apic-16", 20000, 16, 0, lib_cluster, ref_cluster},
    {"cluster-x2apic-4096", 20000, 4096, 0, lib_cluster, ref_cluster},
    {"timer-oneshot", 50000, 0, 0, lib_timer, ref_timer},
    {"timer-periodic", 50000, 0, 0, lib_timer, ref_timer},
    {"timer-tscdeadline", 50000, 0, 0, lib_timer, ref_timer},
    {"reg-read-tpr-mmio", 100000, 0, 0, lib_reg, ref_reg},
    {"reg-write-tpr-mmio", 100000, 0, 0, lib_reg, ref_reg},
    {"reg-read-tpr-msr", 100000, 0, 0, lib_reg, ref_reg},
    {"reg-write-tpr-msr", 100000, 0, 0, lib_reg, ref_reg},
    {"machine-reset", 5000, 0, 0, lib_reset, ref_reset_case},
    {"snapshot-restore", 2000, 0, 0, lib_restore, ref_restore},
};

static void run_side(bench *b, const bcase *c, const char *side,
                     void (*fn)(bench *, const bcase *))
{
    if (!fn)
        return;
    b->side = side;
    b->name = c->name;
    b->n = iters(b, c->n);
    b->div = 1;
    b->toggled = false;
    b->target = c->target;
    fn(b, c);
}

int main(int argc, char **argv)
{
    bench b;
    const char *only = NULL;

    memset(&b, 0, sizeof(b));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            b.smoke = true;
        } else if (!strcmp(argv[i], "--sizes")) {
            bench_print_sizes(stdout);
            return 0;
        } else if (argv[i][0] != '-') {
            only = argv[i];
        } else {
            fprintf(stderr, "usage: %s [--smoke] [--sizes] [case]\n",
                    argv[0]);
            return 2;
        }
    }
    b.valgrind = RUNNING_ON_VALGRIND;
    b.gmem = calloc(1, GM_SIZE);
    if (!b.gmem)
        return 1;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const bcase *c = &cases[i];
        if (only && strcmp(only, c->name) && strncmp(c->name, "calib", 5))
            continue;
        run_side(&b, c, "lib", c->lib);
        run_side(&b, c, "ref", c->ref);
    }
    free(b.gmem);
    if (b.failures)
        fprintf(stderr, "%d sanity checks failed\n", b.failures);
    return b.failures ? 1 : 0;
}
