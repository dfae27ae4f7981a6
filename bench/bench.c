/*
 * intc-bench: instruction counts of libintc's operations, through the
 * public API only.  Never a timed test and never a pass/fail of CI.
 *
 * Each row of the table below is one case: a machine set up for it, then
 *
 *   CALLGRIND_ZERO_STATS; n x { op; [undo, collection off] }; DUMP
 *
 * run under callgrind, so the count of a case is its op: the library
 * calls, the host callbacks they make (the test kit's, testkit/kit.h:
 * kick and event each increment counters) and the few instructions of the op function that load the
 * calls' arguments.  The undo (acknowledging a delivered vector so the
 * next delivery is a fresh one, re-arming a timer) runs with collection
 * toggled off; the cost of the loop and of the toggles is measured by the
 * two calib cases, which run the same frame with an empty op, and
 * subtracted.  The result is divided by n and by the case's divisor (the
 * targets of a broadcast, the bytes of a snapshot image).  After the loop
 * each case checks what it did (every op succeeded, the kicks expected,
 * events only when traced); a failed check makes the exit status 1.
 *
 * Every case runs twice: with no event callback, and with a trivial one
 * (it counts the events), each column against its own target.  The
 * headline cases also run on machines whose APIC IDs differ from the CPU
 * indices and on a machine with a VT-d IOMMU whose remapping is off
 * (pass-through), against the same targets.
 *
 * Usage:
 *   intc-bench [CASE]        run itself under callgrind (valgrind must be
 *                            on PATH) and print the table: every row with
 *                            its targets and met / not met, then
 *                            "targets met: X of Y".  Exit status 0 whether
 *                            targets are met or not; non-zero only if the
 *                            measurement itself failed.
 *   intc-bench --measure [CASE]  only the measured loops (what the above
 *                            runs under callgrind)
 *   intc-bench --table PREFIX    the table from callgrind dumps PREFIX.1,
 *                            PREFIX.2, ... of a --measure run
 *   intc-bench --smoke       2 iterations per case, natively: the sanity
 *                            checks only (ctest)
 *   intc-bench --sizes       bytes of the library's objects
 */
#define _POSIX_C_SOURCE 200809L

#include "intc/intc.h"
#include "kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
#endif

/* sizes.c: sizeof of the library's private objects. */
void bench_print_sizes(FILE *out);

/* ---- the host ---- */

#define GM_BASE 0x10000000ull
#define GM_SIZE (1u << 20)
#define IRT_A (GM_BASE + 0x0000ull)  /* remapping table, 256 entries */
#define PID_A (GM_BASE + 0x10000ull) /* posted-interrupt descriptor */

/* The host is the test kit's (testkit/kit.h) with its lean callbacks
   (kit_host_ops_lean), untraced or with an event callback, so they stay
   a few instructions: kick and event count, timer_arm stores the
   deadline, dma_* copy from or to the guest memory region. */
static uint64_t n_events(const kit_host *h)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < INTC_EV_COUNT_; t++)
        n += h->totals[t];
    return n;
}

/* ---- machines ---- */

/* Variants of the machine a case runs on. */
enum { VAR_DENSE, VAR_SPARSE, VAR_PT, N_VARIANTS };
static const char *const variant_name[N_VARIANTS] = {
    "id=index",   /* CPU i has APIC ID i (0xFF skipped) */
    "sparse-ids", /* IDs 0x10, 0x23, 0x34, 0x47, ...: never the index */
    "vtd-pt",     /* IDs = index, VT-d present, remapping off */
};

static uint32_t apic_id(unsigned variant, uint32_t i)
{
    uint32_t id = variant == VAR_SPARSE ? 0x10 + 0x12 * i + (i & 1) : i;
    return id < 0xff ? id : id + 1; /* 0xFF is the broadcast ID */
}

/* What one case's machine has and does. */
typedef struct ctx {
    intc_machine *m;
    intc_lapic *src; /* CPU 0 */
    intc_lapic *dst; /* the target CPU */
    intc_ioapic *io;
    intc_iommu *u;
    uint32_t ncpu;
    uint32_t dst_id; /* its APIC ID */
    uint64_t addr;   /* MSI to it: fixed, physical, edge, vector 0x41 */
    uint64_t icr;    /* x2APIC ICR: fixed IPI to it, vector 0x41 */
    unsigned pin;    /* IOAPIC pin of the case */
    unsigned arg;    /* the case's parameter */
    uint64_t i;      /* iteration */
    uint32_t div;    /* targets or bytes per operation; 1 */
    void *img;       /* snapshot image */
    size_t len;
    kit_host *host;
    uint8_t *gmem;   /* the host's guest memory, GM_SIZE bytes */
    uint32_t dst_cpu; /* index of dst */
} ctx;

static void mw(intc_lapic *l, uint32_t off, uint32_t v)
{
    intc_lapic_mmio_write(l, off, 4, v);
}

static void x2_enable(intc_lapic *l)
{
    uint64_t base = 0;
    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
    intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, base | INTC_APIC_BASE_EXTD);
    intc_lapic_msr_write(l, 0x80f, 0x1ff);
}

/* INTA + EOI, by MSR in x2APIC mode and MMIO in xAPIC mode. */
static int ack_eoi(intc_lapic *l, int vector)
{
    uint64_t base = 0;
    int got = intc_lapic_ack(l);
    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
    if (base & INTC_APIC_BASE_EXTD)
        intc_lapic_msr_write(l, 0x80b, 0);
    else
        mw(l, 0xb0, 0);
    return vector >= 0 && got != vector;
}

/* An MSI address to physical APIC ID id: bits 19:12 ID[7:0], with the
   extended destination ID bits 11:5 = ID[14:8]. */
static uint64_t msi_addr(uint32_t id)
{
    return 0xfee00000ull | (uint64_t)(id & 0xff) << 12 |
           (uint64_t)((id >> 8) & 0x7f) << 5;
}

#define RMSI(handle) (0xfee00000ull | (uint64_t)(handle) << 5 | 0x10u)
#define NV 0xf2

static void gm_w64(ctx *x, uint64_t gpa, uint64_t v)
{
    memcpy(x->gmem + (gpa - GM_BASE), &v, 8);
}

/* VT-d tables in guest memory (VT-d 9.10, 9.11, 9.12): IRTE 9 remapped
   (fixed, physical, edge, vector 0x41, xAPIC DST[15:8] = the target),
   IRTE 7 posted (vector 0x51, descriptor at PID_A, NV to the target). */
static void vtd_tables(ctx *x)
{
    memset(x->gmem, 0, GM_SIZE);
    gm_w64(x, IRT_A + 16 * 9,
           1ull | 0x41ull << 16 | (uint64_t)(x->dst_id << 8) << 32);
    gm_w64(x, IRT_A + 16 * 7,
           1ull | 1ull << 15 | 0x51ull << 16 |
               ((PID_A >> 6) & 0x3ffffffull) << 38);
    gm_w64(x, IRT_A + 16 * 7 + 8, PID_A & 0xffffffff00000000ull);
    gm_w64(x, PID_A + 32,
           (uint64_t)NV << 16 | (uint64_t)(x->dst_id << 8) << 32);
}

static void ioapic_rte(intc_ioapic *io, unsigned pin, uint64_t rte)
{
    intc_ioapic_mmio_write(io, 0x00, 4, INTC_IOAPIC_REG_RTE0 + 2 * pin + 1);
    intc_ioapic_mmio_write(io, 0x10, 4, (uint32_t)(rte >> 32));
    intc_ioapic_mmio_write(io, 0x00, 4, INTC_IOAPIC_REG_RTE0 + 2 * pin);
    intc_ioapic_mmio_write(io, 0x10, 4, (uint32_t)rte);
}

/* ---- cases ---- */

enum {
    F_X2_DST = 1,  /* the target CPU in x2APIC mode */
    F_X2_ALL = 2,  /* every CPU in x2APIC mode */
    F_IOAPIC = 4,  /* a 24-pin IOAPIC, pin 5 wired level */
    F_REMAP = 8,   /* VT-d with remapping on, IRTE 9 cached */
    F_ALLVAR = 16, /* runs on every variant */
    F_NOPT = 32,   /* ... but the pass-through one */
    F_CALIB = 64   /* overhead measurement, not a row */
};

#define K_ALL (-2) /* kicks per op: one per CPU */
#define K_ANY (-1) /* not checked */

typedef struct bcase {
    const char *name;
    uint32_t n; /* iterations */
    uint32_t ncpu;
    uint32_t dst; /* index of the target CPU */
    unsigned flags;
    unsigned target[2]; /* Ir per op without / with an event callback;
                           0: none */
    int kicks;          /* per op, K_ALL or K_ANY */
    unsigned arg;
    void (*setup)(ctx *x); /* after the common setup; NULL: none */
    int (*op)(ctx *x);     /* the measured operation; non-zero: wrong */
    void (*undo)(ctx *x);  /* untimed, after each op; NULL: none */
} bcase;

static int op_nop(ctx *x)
{
    __asm__ volatile("" ::"r"(x) : "memory");
    return 0;
}

static void undo_nop(ctx *x)
{
    __asm__ volatile("" ::"r"(x) : "memory");
}

static void undo_ack_eoi(ctx *x)
{
    ack_eoi(x->dst, -1);
}

static void undo_ack_eoi_all(ctx *x)
{
    for (uint32_t k = 0; k < x->ncpu; k++)
        ack_eoi(intc_machine_lapic(x->m, k), -1);
}

static void undo_ack_eoi_123(ctx *x)
{
    for (uint32_t k = 1; k <= 3; k++)
        ack_eoi(intc_machine_lapic(x->m, k), -1);
}

/* -- messages -- */

static int op_msi(ctx *x)
{
    return intc_msi_send(x->m, x->addr, 0x41, 0, NULL) != INTC_OK;
}

static int op_msi_ack_eoi_x2(ctx *x)
{
    int bad = intc_msi_send(x->m, x->addr, 0x41, 0, NULL) != INTC_OK;
    bad |= intc_lapic_ack(x->dst) != 0x41;
    intc_lapic_msr_write(x->dst, 0x80b, 0);
    return bad;
}

static int op_msi_ack_eoi_xapic(ctx *x)
{
    int bad = intc_msi_send(x->m, x->addr, 0x41, 0, NULL) != INTC_OK;
    bad |= intc_lapic_ack(x->dst) != 0x41;
    intc_lapic_mmio_write(x->dst, 0xb0, 4, 0);
    return bad;
}

static void setup_bcast(ctx *x)
{
    x->addr = msi_addr(0xff);
    x->div = x->ncpu;
}

static int op_ipi_x2(ctx *x)
{
    return intc_lapic_msr_write(x->src, 0x830, x->icr) != INTC_OK;
}

static int op_ipi_xapic(ctx *x)
{
    mw(x->src, 0x310, x->dst_id << 24);
    mw(x->src, 0x300, 0x41);
    return 0;
}

/* x2APIC cluster logical IPI: cluster 0, MDA bits 1-3. */
static int op_cluster(ctx *x)
{
    return intc_lapic_msr_write(x->src, 0x830,
                                0xeull << 32 | 1u << 11 | 0x41) != INTC_OK;
}

/* -- remapped MSIs (VT-d) -- */

/* Undo a posting: PIR bit and ON cleared, the notification vector
   acknowledged. */
static void undo_posted(ctx *x)
{
    uint64_t ctl;
    gm_w64(x, PID_A + 8, 0);
    memcpy(&ctl, x->gmem + (PID_A + 32 - GM_BASE), 8);
    gm_w64(x, PID_A + 32, ctl & ~1ull);
    ack_eoi(x->dst, -1);
}

static void setup_posted(ctx *x)
{
    x->addr = RMSI(7);
    intc_msi_send(x->m, x->addr, 0, 0, NULL); /* the IRTE cached */
    undo_posted(x);
}

static void undo_cold(ctx *x)
{
    intc_iommu_invalidate(x->u, 9, 0);
    ack_eoi(x->dst, -1);
}

/* -- IOAPIC (pin 5 is wired level; arg: RTE flags) -- */

static void setup_pin(ctx *x)
{
    x->pin = x->arg & INTC_RTE_LEVEL ? 5 : 3;
    ioapic_rte(x->io, x->pin,
               0x61 | (uint64_t)x->arg | (uint64_t)x->dst_id << 56);
}

static void setup_level_held(ctx *x)
{
    setup_pin(x);
    intc_ioapic_set_irq(x->io, x->pin, true);
}

static int op_pin_pulse(ctx *x)
{
    int bad = intc_ioapic_set_irq(x->io, x->pin, true) != INTC_OK;
    bad |= intc_ioapic_set_irq(x->io, x->pin, false) != INTC_OK;
    return bad;
}

/* Assert, INTA, de-assert, EOI by the LAPIC's EOI register (its
   broadcast clears Remote IRR).  The line drops before the EOI, as when
   the handler clears the device's cause: dropped after it, the EOI would
   find the line high and re-deliver (level-eoi-redeliver), every later
   assert would meet Remote IRR set and send nothing, and the loop would
   never come back to where it started. */
static int op_level_roundtrip(ctx *x)
{
    int bad = intc_ioapic_set_irq(x->io, x->pin, true) != INTC_OK;
    bad |= intc_lapic_ack(x->dst) != 0x61;
    bad |= intc_ioapic_set_irq(x->io, x->pin, false) != INTC_OK;
    intc_lapic_mmio_write(x->dst, 0xb0, 4, 0);
    return bad;
}

/* INTA + EOI with the line held: the EOI broadcast re-delivers. */
static int op_ack_eoi_redeliver(ctx *x)
{
    int bad = intc_lapic_ack(x->dst) != 0x61;
    intc_lapic_mmio_write(x->dst, 0xb0, 4, 0);
    return bad;
}

/* -- the LAPIC timer (arg: LVT timer mode, 0 one-shot, 1 periodic,
      2 TSC-deadline) -- */

static void timer_arm(ctx *x)
{
    if (x->arg == 0)
        mw(x->dst, 0x380, 1000);
    else if (x->arg == 2)
        intc_lapic_msr_write(x->dst, INTC_MSR_TSC_DEADLINE, x->host->now + 1000);
}

static void setup_timer(ctx *x)
{
    mw(x->dst, 0x3e0, 0xb); /* divide by 1 */
    mw(x->dst, 0x320, 0x40u | x->arg << 17);
    if (x->arg == 1)
        mw(x->dst, 0x380, 1000);
    timer_arm(x);
}

static int op_timer_expired(ctx *x)
{
    x->host->now = x->host->deadline[x->dst_cpu];
    return intc_lapic_timer_expired(x->dst, x->host->now) != INTC_OK;
}

static void undo_timer(ctx *x)
{
    ack_eoi(x->dst, 0x40);
    timer_arm(x);
}

/* -- registers: TPR -- */

static int op_tpr_read_mmio(ctx *x)
{
    uint64_t v;
    return intc_lapic_mmio_read(x->dst, 0x80, 4, &v) != INTC_OK;
}

static int op_tpr_write_mmio(ctx *x)
{
    return intc_lapic_mmio_write(x->dst, 0x80, 4,
                                 (uint32_t)(++x->i & 1) << 5) != INTC_OK;
}

static int op_tpr_read_msr(ctx *x)
{
    uint64_t v;
    return intc_lapic_msr_read(x->dst, 0x808, &v) != INTC_OK;
}

static int op_tpr_write_msr(ctx *x)
{
    return intc_lapic_msr_write(x->dst, 0x808, (++x->i & 1) << 5) != INTC_OK;
}

/* -- whole machine -- */

static int op_reset(ctx *x)
{
    return intc_machine_reset(x->m) != INTC_OK;
}

/* An image with one vector pending; the divisor is its size. */
static void setup_image(ctx *x)
{
    intc_msi_send(x->m, x->addr, 0x41, 0, NULL);
    intc_machine_save(x->m, NULL, 0, &x->len);
    x->img = malloc(x->len);
    if (!x->img || intc_machine_save(x->m, x->img, x->len, &x->len) != INTC_OK)
        abort();
    x->div = (uint32_t)x->len;
}

static int op_save(ctx *x)
{
    size_t used;
    return intc_machine_save(x->m, x->img, x->len, &used) != INTC_OK;
}

static int op_load(ctx *x)
{
    return intc_machine_load(x->m, x->img, x->len) != INTC_OK;
}

/* One case a line or two. */
/* clang-format off */
#define HEAD (F_ALLVAR)
#define BCAST(n, iters)                                                     \
    {"bcast-" #n "/tgt", iters, n, 1, HEAD, {25, 0}, K_ALL, 0,              \
     setup_bcast, op_msi, undo_ack_eoi_all}

static const bcase cases[] = {
    {"calib-loop", 20000, 1, 0, F_CALIB, {0, 0}, K_ANY, 0, NULL, op_nop,
     NULL},
    {"calib-toggle", 20000, 1, 0, F_CALIB, {0, 0}, K_ANY, 0, NULL, op_nop,
     undo_nop},
    /* The targets. */
    {"msi", 20000, 2, 1, HEAD, {60, 120}, 1, 0, NULL, op_msi, undo_ack_eoi},
    {"msi-x2apic", 20000, 300, 1, HEAD | F_X2_ALL, {60, 120}, 1, 0, NULL,
     op_msi, undo_ack_eoi},
    {"msi-x2apic-id>255", 20000, 300, 0x123, HEAD | F_X2_ALL, {60, 120}, 1,
     0, NULL, op_msi, undo_ack_eoi},
    {"msi+ack+eoi-x2apic", 20000, 2, 1, HEAD | F_X2_DST, {120, 240}, 1, 0,
     NULL, op_msi_ack_eoi_x2, NULL},
    {"msi+ack+eoi-xapic", 20000, 2, 1, HEAD, {120, 240}, 1, 0, NULL,
     op_msi_ack_eoi_xapic, NULL},
    BCAST(2, 10000),
    BCAST(8, 2500),
    BCAST(64, 300),
    BCAST(256, 80),
    BCAST(1024, 20),
    BCAST(4096, 5),
    {"ipi-x2apic", 20000, 2, 1, HEAD | F_X2_ALL, {100, 0}, 1, 0, NULL,
     op_ipi_x2, undo_ack_eoi},
    {"remap-hot", 20000, 2, 1, HEAD | F_NOPT | F_REMAP, {150, 0}, 1, 0,
     NULL, op_msi, undo_ack_eoi},
    {"ioapic-level-roundtrip", 20000, 2, 1, HEAD | F_IOAPIC, {400, 0}, 1,
     INTC_RTE_LEVEL, setup_pin, op_level_roundtrip, NULL},
    {"timer-oneshot", 20000, 1, 0, HEAD, {100, 0}, 1, 0, setup_timer,
     op_timer_expired, undo_timer},
    {"snapshot-save/byte", 200, 4, 1, HEAD | F_IOAPIC, {5, 0}, K_ANY, 0,
     setup_image, op_save, NULL},
    {"snapshot-load/byte", 200, 4, 1, HEAD | F_IOAPIC, {5, 0}, K_ANY, 0,
     setup_image, op_load, NULL},
    /* Informational. */
    {"ipi-xapic", 20000, 2, 1, 0, {0, 0}, 1, 0, NULL, op_ipi_xapic,
     undo_ack_eoi},
    {"remap-cold", 20000, 2, 1, F_REMAP, {0, 0}, 1, 0, NULL, op_msi,
     undo_cold},
    {"remap-posted", 20000, 2, 1, F_REMAP, {0, 0}, 1, 0, setup_posted,
     op_msi, undo_posted},
    {"level-eoi-redeliver", 20000, 2, 1, F_IOAPIC, {0, 0}, 1,
     INTC_RTE_LEVEL, setup_level_held, op_ack_eoi_redeliver, NULL},
    {"ioapic-edge", 20000, 2, 1, F_IOAPIC, {0, 0}, 1, 0, setup_pin,
     op_pin_pulse, undo_ack_eoi},
    {"ioapic-level", 20000, 2, 1, F_IOAPIC, {0, 0}, 1, INTC_RTE_LEVEL,
     setup_pin, op_pin_pulse, undo_ack_eoi},
    {"ioapic-masked", 20000, 2, 1, F_IOAPIC, {0, 0}, 0, INTC_RTE_MASKED,
     setup_pin, op_pin_pulse, NULL},
    {"cluster-x2apic-16", 20000, 16, 1, F_X2_ALL, {0, 0}, 3, 0, NULL,
     op_cluster, undo_ack_eoi_123},
    {"cluster-x2apic-4096", 20000, 4096, 1, F_X2_ALL, {0, 0}, 3, 0, NULL,
     op_cluster, undo_ack_eoi_123},
    {"timer-periodic", 20000, 1, 0, 0, {0, 0}, 1, 1, setup_timer,
     op_timer_expired, undo_timer},
    {"timer-tscdeadline", 20000, 1, 0, 0, {0, 0}, 1, 2, setup_timer,
     op_timer_expired, undo_timer},
    {"reg-read-tpr-mmio", 20000, 1, 0, 0, {0, 0}, 0, 0, NULL,
     op_tpr_read_mmio, NULL},
    {"reg-write-tpr-mmio", 20000, 1, 0, 0, {0, 0}, 0, 0, NULL,
     op_tpr_write_mmio, NULL},
    {"reg-read-tpr-msr", 20000, 1, 0, F_X2_DST, {0, 0}, 0, 0, NULL,
     op_tpr_read_msr, NULL},
    {"reg-write-tpr-msr", 20000, 1, 0, F_X2_DST, {0, 0}, 0, 0, NULL,
     op_tpr_write_msr, NULL},
    {"machine-reset", 1000, 4, 1, F_IOAPIC, {0, 0}, K_ANY, 0, NULL,
     op_reset, NULL},
};
/* clang-format on */
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

static bool runs_on(const bcase *c, unsigned variant)
{
    if (variant == VAR_DENSE)
        return true;
    if (!(c->flags & F_ALLVAR))
        return false;
    return !(variant == VAR_PT && (c->flags & F_NOPT));
}

/* ---- the frame ---- */

static void make(ctx *x, const bcase *c, unsigned variant, bool traced)
{
    static const uint8_t wiring[24] = {[5] = INTC_PIN_LEVEL};
    intc_machine_config cfg;
    intc_ioapic_config io = {0};
    intc_err err;
    uint32_t *ids = malloc(sizeof(*ids) * c->ncpu);

    if (!ids)
        abort();
    for (uint32_t i = 0; i < c->ncpu; i++)
        ids[i] = apic_id(variant, i);
    intc_machine_config_init(&cfg);
    cfg.n_cpus = c->ncpu;
    cfg.apic_ids = ids;
    cfg.storm_threshold = 0;
    if (c->flags & F_IOAPIC) {
        io.id = 2;
        io.version = 0x20;
        io.n_pins = 24;
        io.pin_wiring = wiring;
        cfg.ioapics = &io;
        cfg.n_ioapics = 1;
    }
    if ((c->flags & F_REMAP) || variant == VAR_PT)
        cfg.iommu.kind = INTC_IOMMU_VTD;
    memset(x, 0, sizeof(*x));
    x->host = kit_host_new(traced);
    if (!x->host || !(x->gmem = kit_region_add(x->host, GM_BASE, GM_SIZE)))
        abort();
    x->host->ops = kit_host_ops_lean(traced);
    x->m = kit_machine(x->host, &cfg, &err);
    if (!x->m) {
        fprintf(stderr, "%s/%s: intc_machine_new: %s\n", c->name,
                variant_name[variant], intc_strerror(err));
        exit(1);
    }
    x->ncpu = c->ncpu;
    x->src = intc_machine_lapic(x->m, 0);
    x->dst = intc_machine_lapic(x->m, c->dst);
    x->dst_cpu = c->dst;
    x->io = intc_machine_ioapic(x->m, 0);
    x->u = intc_machine_iommu(x->m);
    x->dst_id = ids[c->dst];
    x->addr = msi_addr(x->dst_id);
    x->icr = (uint64_t)x->dst_id << 32 | 0x41;
    x->arg = c->arg;
    x->div = 1;
    free(ids);

    for (uint32_t i = 0; i < c->ncpu; i++) {
        intc_lapic *l = intc_machine_lapic(x->m, i);
        mw(l, 0xf0, 0x1ff); /* software-enabled, spurious vector 0xFF */
        if ((c->flags & F_X2_ALL) || ((c->flags & F_X2_DST) && i == c->dst))
            x2_enable(l);
    }
    if (c->flags & F_REMAP) {
        vtd_tables(x);
        intc_iommu_set_table(x->u, IRT_A | 7 /* 256 entries */, true, false);
        x->addr = RMSI(9);
        intc_msi_send(x->m, x->addr, 0, 0, NULL); /* the IRTE cached */
        ack_eoi(x->dst, 0x41);
    }
    if (c->setup)
        c->setup(x);
    x->host->n_kicks = 0;
    memset(x->host->totals, 0, sizeof(x->host->totals));
}

static int failures;

static void check(const bcase *c, unsigned variant, bool traced, bool ok,
                  const char *what)
{
    if (!ok) {
        fprintf(stderr, "%s/%s%s: %s\n", c->name, variant_name[variant],
                traced ? "/traced" : "", what);
        failures++;
    }
}

static void run_case(const bcase *c, unsigned variant, bool traced, bool smoke)
{
    uint64_t n = smoke ? 2 : c->n;
    char label[160];
    int bad = 0;
    ctx x;

    make(&x, c, variant, traced);
    CALLGRIND_ZERO_STATS;
    if (c->undo) {
        for (uint64_t i = 0; i < n; i++) {
            bad |= c->op(&x);
            CALLGRIND_TOGGLE_COLLECT;
            c->undo(&x);
            CALLGRIND_TOGGLE_COLLECT;
        }
    } else {
        for (uint64_t i = 0; i < n; i++)
            bad |= c->op(&x);
    }
    snprintf(label, sizeof(label), "bench|%s|%u|%d|%llu|%u", c->name, variant,
             traced, (unsigned long long)n, x.div);
    CALLGRIND_DUMP_STATS_AT(label);

    check(c, variant, traced, !bad, "an operation failed");
    if (c->kicks != K_ANY) {
        uint64_t per = c->kicks == K_ALL ? c->ncpu : (uint64_t)c->kicks;
        if (x.host->n_kicks != n * per)
            fprintf(stderr, "%llu kicks in %llu iterations, expected %llu\n",
                    (unsigned long long)x.host->n_kicks, (unsigned long long)n,
                    (unsigned long long)(n * per));
        check(c, variant, traced, x.host->n_kicks == n * per,
              "unexpected number of kicks");
        if (traced && per)
            check(c, variant, traced, n_events(x.host) >= n, "no events");
    }
    if (!traced)
        check(c, variant, traced, n_events(x.host) == 0, "events untraced");
    free(x.img);
    intc_machine_free(x.m);
    kit_host_free(x.host);
}

static int measure(const char *only, bool smoke)
{
    for (size_t i = 0; i < N_CASES; i++) {
        const bcase *c = &cases[i];
        if (c->flags & F_CALIB) {
            run_case(c, VAR_DENSE, false, smoke);
            continue;
        }
        if (only && strcmp(only, c->name))
            continue;
        for (unsigned v = 0; v < N_VARIANTS; v++) {
            if (!runs_on(c, v))
                continue;
            run_case(c, v, false, smoke);
            run_case(c, v, true, smoke);
        }
    }
    if (failures)
        fprintf(stderr, "%d sanity checks failed\n", failures);
    return failures ? 1 : 0;
}

/* ---- the table, from the callgrind dumps ---- */

typedef struct result {
    bool have;
    double ir; /* per iteration, overhead included */
    uint32_t div;
} result;

static result results[N_CASES][N_VARIANTS][2];

static int case_index(const char *name)
{
    for (size_t i = 0; i < N_CASES; i++)
        if (!strcmp(cases[i].name, name))
            return (int)i;
    return -1;
}

/* One dump: "desc: Trigger: Client Request: bench|case|variant|traced|n|
   div", then "summary: <Ir>" (or "totals:"). */
static void read_dump(FILE *f)
{
    static const char desc[] = "desc: Trigger: Client Request: bench|";
    char line[512], name[128];
    unsigned variant, traced, div;
    unsigned long long n, ir;
    int ci = -1;

    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, desc, sizeof(desc) - 1)) {
            char *p = line + sizeof(desc) - 1, *bar = strchr(p, '|');
            if (!bar || (size_t)(bar - p) >= sizeof(name))
                return;
            memcpy(name, p, (size_t)(bar - p));
            name[bar - p] = 0;
            if (sscanf(bar + 1, "%u|%u|%llu|%u", &variant, &traced, &n, &div) !=
                    4 ||
                variant >= N_VARIANTS || traced > 1 || !n || !div)
                return;
            ci = case_index(name);
        } else if (ci >= 0 && (sscanf(line, "summary: %llu", &ir) == 1 ||
                               sscanf(line, "totals: %llu", &ir) == 1)) {
            result *r = &results[ci][variant][traced];
            r->have = true;
            r->ir = (double)ir / (double)n;
            r->div = div;
            return;
        }
    }
}

static const char *fmt(char *buf, double v)
{
    snprintf(buf, 16, v >= 100 ? "%.0f" : "%.1f", v);
    return buf;
}

static int table(const char *prefix)
{
    char path[4096], val[2][16], tgt[2][16];
    const char *met[2];
    unsigned n_met = 0, n_targets = 0;
    double loop, toggle;
    size_t i;

    for (unsigned k = 1;; k++) {
        FILE *f;
        snprintf(path, sizeof(path), "%s.%u", prefix, k);
        if (!(f = fopen(path, "r")))
            break;
        read_dump(f);
        fclose(f);
    }
    if (!results[0][VAR_DENSE][0].have || !results[1][VAR_DENSE][0].have) {
        fprintf(stderr, "no calibration dumps in %s.N\n", prefix);
        return 1;
    }
    loop = results[0][VAR_DENSE][0].ir;
    toggle = results[1][VAR_DENSE][0].ir;

    printf("%-24s %-10s %9s %7s %4s  %9s %7s %4s\n", "case", "variant",
           "untraced", "target", "met", "traced", "target", "met");
    for (i = 0; i < N_CASES; i++) {
        const bcase *c = &cases[i];
        if (c->flags & F_CALIB)
            continue;
        for (unsigned v = 0; v < N_VARIANTS; v++) {
            bool any = false;
            for (unsigned t = 0; t < 2; t++) {
                const result *r = &results[i][v][t];
                double ir;
                val[t][0] = 0;
                strcpy(tgt[t], "-");
                met[t] = "";
                if (!r->have) {
                    strcpy(val[t], "?");
                    continue;
                }
                any = true;
                ir = (r->ir - (c->undo ? toggle : loop)) / r->div;
                fmt(val[t], ir);
                if (c->target[t]) {
                    snprintf(tgt[t], sizeof(tgt[t]), "<=%u", c->target[t]);
                    met[t] = ir <= c->target[t] ? "yes" : "NO";
                    n_targets++;
                    n_met += ir <= c->target[t];
                }
            }
            if (any) {
                char line[160];
                size_t len = (size_t)snprintf(
                    line, sizeof(line), "%-24s %-10s %9s %7s %4s  %9s %7s %4s",
                    c->name, variant_name[v], val[0], tgt[0], met[0], val[1],
                    tgt[1], met[1]);
                if (len >= sizeof(line))
                    len = sizeof(line) - 1;
                while (len > 0 && line[len - 1] == ' ')
                    line[--len] = 0;
                puts(line);
            }
        }
    }
    printf("\ntargets met: %u of %u\n\n", n_met, n_targets);
    printf("callgrind instructions (Ir) per operation, less the loop and "
           "toggle overhead\n(calib: %.1f and %.1f per iteration); /tgt: "
           "per target CPU; /byte: per byte\nof the image; untraced: no "
           "event callback; traced: an event callback that\ncounts the "
           "events\n",
           loop, toggle);
    i = (size_t)case_index("snapshot-save/byte");
    for (unsigned v = 0; v < N_VARIANTS; v++)
        if (results[i][v][0].have)
            printf("snapshot image (%s): %u bytes\n", variant_name[v],
                   results[i][v][0].div);
    return 0;
}

/* ---- running itself under callgrind ---- */

static void remove_dumps(const char *dir, const char *prefix)
{
    char path[4096];
    for (unsigned k = 1;; k++) {
        snprintf(path, sizeof(path), "%s.%u", prefix, k);
        if (unlink(path))
            break;
    }
    unlink(prefix);
    snprintf(path, sizeof(path), "%s/valgrind.log", dir);
    unlink(path);
    rmdir(dir);
}

static int self_under_callgrind(const char *argv0, const char *only)
{
    char dir[] = "/tmp/intc-bench.XXXXXX";
    char prefix[64], outarg[96], logarg[96], self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int status, rc;
    pid_t pid;

    if (sl > 0)
        self[sl] = 0;
    else
        snprintf(self, sizeof(self), "%s", argv0);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(prefix, sizeof(prefix), "%s/cg.out", dir);
    snprintf(outarg, sizeof(outarg), "--callgrind-out-file=%s", prefix);
    snprintf(logarg, sizeof(logarg), "--log-file=%s/valgrind.log", dir);
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        execlp("valgrind", "valgrind", "--tool=callgrind",
               "--instr-atstart=yes", "--dump-instr=no", outarg, logarg, self,
               "--measure", only, (char *)NULL);
        fprintf(stderr, "intc-bench: cannot run valgrind (the instruction "
                        "counts need it): ");
        perror("");
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        perror("fork");
        remove_dumps(dir, prefix);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        remove_dumps(dir, prefix); /* valgrind did not start */
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr,
                "intc-bench: the measurement under callgrind "
                "failed (see above; valgrind's log: %s/valgrind.log,"
                " kept)\n",
                dir);
        return 1;
    }
    rc = table(prefix);
    remove_dumps(dir, prefix);
    return rc;
}

int main(int argc, char **argv)
{
    static const char usage[] =
        "usage: %s [CASE] | --measure [CASE] | --table PREFIX | --smoke | "
        "--sizes\n";
    const char *mode = argc > 1 && argv[1][0] == '-' ? argv[1] : NULL;
    const char *arg = argv[mode ? 2 : 1];

    if (argc > (mode ? 3 : 2) || (arg && !mode && case_index(arg) < 0) ||
        (mode && !strcmp(mode, "--table") && !arg)) {
        fprintf(stderr, usage, argv[0]);
        return 2;
    }
    if (!mode)
        return self_under_callgrind(argv[0], arg);
    if (!strcmp(mode, "--measure") && (!arg || case_index(arg) >= 0))
        return measure(arg, false);
    if (!strcmp(mode, "--smoke") && !arg)
        return measure(NULL, true);
    if (!strcmp(mode, "--table"))
        return table(arg);
    if (!strcmp(mode, "--sizes") && !arg) {
        bench_print_sizes(stdout);
        return 0;
    }
    fprintf(stderr, usage, argv[0]);
    return 2;
}
