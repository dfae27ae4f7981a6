/*
 * Seed inputs of fuzz_machine (header-only, so any generator can include
 * it: fuzz/gen_machine_corpus.c, or the shared gen_corpus.c):
 *
 *   int mo_write_seeds(const char *dir);   // 0 on success
 *
 * writes dir/<name> for each hand-written sequence below.  The bytes follow
 * the input format of machine_ops.h; the MOB_* opcode bytes are positions
 * in machine_ops.c's op_table / diff_table (checked there by static
 * asserts).  Each seed is a short, meaningful interrupt story for the
 * fuzzer to mutate: `machine2yaml SEED` shows it as a scenario.
 */
#ifndef INTC_FUZZ_MACHINE_SEEDS_H
#define INTC_FUZZ_MACHINE_SEEDS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Opcode bytes, normal inputs (op_table). */
enum {
    MOB_WRITE = 0, MOB_IPI = 6, MOB_TPR = 9, MOB_LINT = 10, MOB_ACK = 11,
    MOB_EOI = 14, MOB_TAKE = 17, MOB_RUN = 18, MOB_RAISE = 19,
    MOB_ADVANCE = 20, MOB_RTE = 23, MOB_IOREG = 26, MOB_IOEOI = 27,
    MOB_IRQ = 28, MOB_MSI = 32, MOB_MSIX_TABLE = 34, MOB_MSIX_CTRL = 36,
    MOB_MSIX_NOTIFY = 37, MOB_WRMSR = 39, MOB_READ = 41, MOB_MMIO = 42,
    MOB_IR_SETUP = 43, MOB_IOMMU_WRITE = 44, MOB_IRTE = 45,
    MOB_SNAPSHOT = 47, MOB_RESTORE = 48, MOB_BOOT = 49
};
/* Opcode bytes, differential inputs (diff_table). */
enum {
    MOD_WRITE = 0, MOD_IPI = 4, MOD_TPR = 7, MOD_LINT = 8, MOD_ACK = 9,
    MOD_EOI = 12, MOD_TAKE = 15, MOD_RUN = 16, MOD_RAISE = 17,
    MOD_ADVANCE = 18, MOD_RTE = 20, MOD_IOEOI = 22, MOD_IRQ = 23,
    MOD_MSI = 26, MOD_MSIX_TABLE = 28, MOD_MSIX_CTRL = 29,
    MOD_MSIX_NOTIFY = 30, MOD_READ = 31, MOD_SNAPSHOT = 32,
    MOD_RESTORE = 33, MOD_BOOT = 34, MOD_SELF_IPI = 35, MOD_TSC = 36
};
/* Register selector bytes of a write (wregs[] order). */
enum {
    MOR_SVR = 0, MOR_TPR = 1, MOR_EOI = 2, MOR_ICR_LO = 3, MOR_LVT_TIMER = 4,
    MOR_TIMER_ICR = 5, MOR_LINT0 = 6, MOR_LINT1 = 7, MOR_LVT_ERROR = 8,
    MOR_DCR = 9, MOR_ESR = 10
};

typedef struct mo_seed {
    uint8_t b[512];
    size_t n;
} mo_seed;

static inline void mos_put(mo_seed *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && s->n < sizeof s->b; i++)
        s->b[s->n++] = p[i];
}

#define MOS(s, ...)                                                        \
    do {                                                                   \
        const uint8_t mos_b_[] = {__VA_ARGS__};                            \
        mos_put((s), mos_b_, sizeof mos_b_);                               \
    } while (0)

/* vector byte for vec_of(): 0x20 + b for b < 0x60 */
#define V(x) (uint8_t)((x) - 0x20)

/* header: cpus (1..4), flags0 (0x04 2nd IOAPIC, 0x08 VT-d, 0x10 AMD-Vi,
   0x20 directed EOI, 0x40 differential, 0x80 storm), flags1 (MSI-X
   count 0..2, 0x04 82093AA, 0x08 focus, 0x10 no ext dest), snapshot
   point */
static inline void mos_hdr(mo_seed *s, unsigned cpus, uint8_t f0, uint8_t f1,
                    uint8_t snap)
{
    s->n = 0;
    MOS(s, (uint8_t)((cpus - 1) | f0), f1, snap);
}

/* RTE: s = dm index | 0x08 masked | 0x10 logical; t as in rte_value */
static inline void mos_rte(mo_seed *s, uint8_t io, uint8_t pin, uint8_t sflags,
                    uint8_t t, uint8_t vec, uint8_t dest)
{
    MOS(s, MOB_RTE, 0, io, pin, sflags, t, V(vec), dest);
}

static inline void mos_irq(mo_seed *s, uint8_t io, uint8_t pin, uint8_t b)
{
    MOS(s, MOB_IRQ, 0, io, pin, b); /* b: 1 level, 2 pulse, 4 source 1 */
}

static inline int mos_write(const char *dir, const char *name, const mo_seed *s)
{
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    if (!f)
        return -1;
    if (fwrite(s->b, 1, s->n, f) != s->n) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

static inline int mo_write_seeds(const char *dir)
{
    mo_seed s;
    int rc = 0;

    /* An edge IRQ through the IOAPIC to CPU 1, acknowledged and EOIed. */
    mos_hdr(&s, 2, 0, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 1, 0, 0, 0x31, 1);
    mos_irq(&s, 0, 1, 2);
    MOS(&s, MOB_ACK, 1, MOB_EOI, 1);
    mos_irq(&s, 0, 1, 2);
    MOS(&s, MOB_RUN, 1, 1);
    rc |= mos_write(dir, "edge_ioapic", &s);

    /* A level line: delivered, EOIed while still asserted (re-delivered),
       then released and EOIed. */
    mos_hdr(&s, 2, 0, 0, 5);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 16, 0, 0, 0x41, 0);
    mos_irq(&s, 0, 16, 1);
    MOS(&s, MOB_ACK, 0, MOB_EOI, 0, MOB_ACK, 0);
    mos_irq(&s, 0, 16, 0);
    MOS(&s, MOB_EOI, 0, MOB_ACK, 0);
    rc |= mos_write(dir, "level_ioapic", &s);

    /* Two level lines sharing a vector, in service on two CPUs: one EOI
       broadcast clears both Remote IRRs and, the lines still asserted,
       delivers both again (82093AA 3.2.4: every entry with the vector). */
    mos_hdr(&s, 2, 0, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 16, 0, 0, 0x44, 0);
    mos_rte(&s, 0, 17, 0, 0, 0x44, 1);
    mos_irq(&s, 0, 16, 1);
    mos_irq(&s, 0, 17, 1);
    MOS(&s, MOB_ACK, 0, MOB_ACK, 1, MOB_EOI, 0);
    mos_irq(&s, 0, 16, 0);
    mos_irq(&s, 0, 17, 0);
    MOS(&s, MOB_EOI, 1, MOB_RUN, 0, 1);
    rc |= mos_write(dir, "shared_vector_level", &s);

    /* EOI racing an RTE vector rewrite: the EOI carries the old vector. */
    mos_hdr(&s, 2, 0, 0, 3);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 17, 0, 0, 0x51, 0);
    mos_irq(&s, 0, 17, 1);
    MOS(&s, MOB_ACK, 0);
    mos_rte(&s, 0, 17, 0, 0, 0x52, 1);
    MOS(&s, MOB_EOI, 0);
    MOS(&s, MOB_IOEOI, 0, 0, V(0x52));
    mos_irq(&s, 0, 17, 0);
    MOS(&s, MOB_RUN, 0, 1);
    rc |= mos_write(dir, "eoi_vs_rte_rewrite", &s);

    /* Mask toggled while a level line is up. */
    mos_hdr(&s, 1, 0, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 18, 0x08, 0, 0x45, 0);
    mos_irq(&s, 0, 18, 1);
    mos_rte(&s, 0, 18, 0, 0, 0x45, 0);
    MOS(&s, MOB_ACK, 0);
    mos_rte(&s, 0, 18, 0x08, 0, 0x45, 0);
    MOS(&s, MOB_EOI, 0);
    mos_rte(&s, 0, 18, 0, 0, 0x45, 0);
    MOS(&s, MOB_ACK, 0, MOB_EOI, 0);
    rc |= mos_write(dir, "mask_toggle_level", &s);

    /* Directed EOI: SVR[12], no broadcast, the IOAPIC EOI register. */
    mos_hdr(&s, 2, 0x20, 0, 0xff);
    MOS(&s, MOB_WRITE, 0, MOR_SVR, 0x40);
    MOS(&s, MOB_WRITE, 1, MOR_SVR, 0x00);
    mos_rte(&s, 0, 19, 0, 0, 0x55, 0);
    mos_irq(&s, 0, 19, 1);
    MOS(&s, MOB_ACK, 0, MOB_EOI, 0);
    MOS(&s, MOB_IOEOI, 0, 0, V(0x55));
    MOS(&s, MOB_ACK, 0, MOB_EOI, 0);
    mos_irq(&s, 0, 19, 0);
    MOS(&s, MOB_IOEOI, 0, 0, V(0x55));
    rc |= mos_write(dir, "directed_eoi", &s);

    /* Periodic timer, then a switch to x2APIC with the timer armed, then
       a periodic -> one-shot change (the current period finishes). */
    mos_hdr(&s, 2, 0, 0, 6);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_WRITE, 0, MOR_DCR, 0x0b);
    MOS(&s, MOB_WRITE, 0, MOR_LVT_TIMER, 0x02, V(0x61));
    MOS(&s, MOB_WRITE, 0, MOR_TIMER_ICR, 0x64, 0x00);
    MOS(&s, MOB_ADVANCE, 0, 0, 0xfa, MOB_ACK, 0, MOB_EOI, 0);
    MOS(&s, MOB_WRMSR, 0, 0, 0x00);
    MOS(&s, MOB_ADVANCE, 0, 1, 0x40, MOB_RUN, 0, 0);
    MOS(&s, MOB_WRITE, 0, MOR_LVT_TIMER, 0x00, V(0x62));
    MOS(&s, MOB_ADVANCE, 0, 2, 0x10, MOB_READ, 0, 0);
    rc |= mos_write(dir, "timer_x2apic_switch", &s);

    /* MSI-X: send, mask, pending bit, unmask delivers. */
    mos_hdr(&s, 2, 0, 1, 4);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_MSIX_TABLE, 0, 0, 0, 0x10, 0x00, 1, 0x00, V(0x71));
    MOS(&s, MOB_MSIX_CTRL, 0, 0, 0x00);
    MOS(&s, MOB_MSIX_NOTIFY, 0, 0, 0);
    MOS(&s, MOB_MSIX_TABLE, 0, 0, 0, 0x0c, 0x00, 1, 0x00, V(0x71));
    MOS(&s, MOB_MSIX_NOTIFY, 0, 0, 0);
    MOS(&s, MOB_MSIX_TABLE, 0, 0, 0, 0x04, 0x00, 1, 0x00, V(0x71));
    MOS(&s, MOB_RUN, 1, 0);
    rc |= mos_write(dir, "msix_mask_pending", &s);

    /* IPIs: fixed, NMI, INIT + SIPI to an AP, broadcast. */
    mos_hdr(&s, 3, 0, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_IPI, 0, 1, V(0x40), 0x00);
    MOS(&s, MOB_IPI, 0, 2, V(0x40), 0x04);
    MOS(&s, MOB_IPI, 0, 2, V(0x40), 0x05);
    MOS(&s, MOB_TAKE, 2, 2);
    MOS(&s, MOB_IPI, 0, 2, 0x10, 0x06);
    MOS(&s, MOB_TAKE, 2, 3);
    MOS(&s, MOB_IPI, 1, 0xff, V(0x50), 0x00);
    MOS(&s, MOB_IPI, 1, 0, V(0x50), 0x18); /* others shorthand */
    MOS(&s, MOB_RUN, 0, 1);
    rc |= mos_write(dir, "ipi_modes", &s);

    /* VT-d: IRTEs, remapping on, remappable MSI and IOAPIC entry, a
       fault on a missing entry, a posted entry. */
    mos_hdr(&s, 2, 0x08, 1, 8);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_IRTE, 0, 0, 0x00, V(0x60), 1);
    MOS(&s, MOB_IRTE, 0, 1, 0x10, V(0x61), 0);
    MOS(&s, MOB_IRTE, 0, 2, 0x80, V(0x62), 1, V(0x70));
    MOS(&s, MOB_IR_SETUP, 0, 0x04);
    MOS(&s, MOB_MSI, 0, 0x40, 0, 0x00, 0x00, 0);
    MOS(&s, MOB_MSI, 0, 0x40, 1, 0x08, 0x00, 0);
    MOS(&s, MOB_MSI, 0, 0x40, 5, 0x00, 0x00, 0);
    MOS(&s, MOB_MSI, 0, 0x40, 2, 0x00, 0x00, 0);
    MOS(&s, MOB_MSI, 0, 0x00, 1, 0x00, V(0x33), 0);
    mos_rte(&s, 0, 20, 0, 0x80, 0x61, 1);
    mos_irq(&s, 0, 20, 1);
    MOS(&s, MOB_RUN, 0, 1);
    mos_irq(&s, 0, 20, 0);
    rc |= mos_write(dir, "vtd_remap", &s);

    /* A storming level line (threshold 4, throttled). */
    mos_hdr(&s, 1, 0x80, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 21, 0, 0, 0x48, 0);
    mos_irq(&s, 0, 21, 1);
    for (int i = 0; i < 6; i++)
        MOS(&s, MOB_ACK, 0, MOB_EOI, 0);
    MOS(&s, MOB_ADVANCE, 0, 1, 0x40, MOB_ACK, 0, MOB_EOI, 0);
    rc |= mos_write(dir, "level_storm", &s);

    /* Two IOAPICs, a shared level line (two sources), lowest priority. */
    mos_hdr(&s, 4, 0x04, 0, 9);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_TPR, 1, 0x30, MOB_TPR, 2, 0x20);
    mos_rte(&s, 1, 3, 0x03, 0, 0x58, 0xff);
    mos_irq(&s, 1, 3, 1);
    mos_irq(&s, 1, 3, 5);
    mos_irq(&s, 1, 3, 0);
    MOS(&s, MOB_RUN, 0, 1);
    mos_irq(&s, 1, 3, 4);
    MOS(&s, MOB_RUN, 0, 1);
    mos_rte(&s, 0, 2, 0x10, 0, 0x3a, 0x03);
    MOS(&s, MOB_WRITE, 0, 15, 0x01, MOB_WRITE, 1, 15, 0x02);
    mos_irq(&s, 0, 2, 2);
    MOS(&s, MOB_RUN, 0, 1);
    rc |= mos_write(dir, "shared_lowest", &s);

    /* Snapshots: save with a level interrupt in service and a timer
       armed, continue, restore, continue. */
    mos_hdr(&s, 2, 0, 0, 7);
    MOS(&s, MOB_BOOT, 0);
    mos_rte(&s, 0, 22, 0, 0, 0x66, 1);
    mos_irq(&s, 0, 22, 1);
    MOS(&s, MOB_ACK, 1);
    MOS(&s, MOB_WRITE, 0, MOR_LVT_TIMER, 0x00, V(0x67));
    MOS(&s, MOB_WRITE, 0, MOR_TIMER_ICR, 0x80, 0x00);
    MOS(&s, MOB_SNAPSHOT, 0, 0);
    MOS(&s, MOB_EOI, 1, MOB_ADVANCE, 0, 1, 0x20, MOB_RUN, 0, 1);
    MOS(&s, MOB_RESTORE, 0, 0);
    MOS(&s, MOB_ADVANCE, 0, 1, 0x20, MOB_EOI, 1, MOB_RUN, 0, 1);
    rc |= mos_write(dir, "snapshot_restore", &s);

    /* LINT0 ExtINT / LINT1 NMI, LVT error on an illegal vector. */
    mos_hdr(&s, 1, 0, 0, 0xff);
    MOS(&s, MOB_BOOT, 0);
    MOS(&s, MOB_WRITE, 0, MOR_LINT0, 0x08 | 0x70, V(0x20));
    MOS(&s, MOB_WRITE, 0, MOR_LINT1, 0x08 | 0x40, V(0x20));
    MOS(&s, MOB_WRITE, 0, MOR_LVT_ERROR, 0x00, V(0x7e));
    MOS(&s, MOB_LINT, 0, 2, MOB_LINT, 0, 3);
    MOS(&s, MOB_TAKE, 0, 4, MOB_TAKE, 0, 0);
    MOS(&s, MOB_IPI, 0, 0, 0xf9, 0x00);
    MOS(&s, MOB_RUN, 0, 0);
    rc |= mos_write(dir, "lint_error", &s);

    /* Differential xAPIC vs x2APIC: IOAPIC, MSI, timer, IPIs, self IPI. */
    mos_hdr(&s, 3, 0x40, 1, 0xff);
    MOS(&s, MOD_BOOT, 0);
    MOS(&s, MOD_RTE, 0, 0, 1, 0, 0, V(0x31), 2);
    MOS(&s, MOD_RTE, 0, 0, 16, 0, 0, V(0x41), 1);
    MOS(&s, MOD_IRQ, 0, 0, 1, 2, MOD_IRQ, 0, 0, 16, 1);
    MOS(&s, MOD_MSI, 0, 0x00, 1, 0x00, V(0x52), 0);
    MOS(&s, MOD_IPI, 0, 2, V(0x60), 0x00);
    MOS(&s, MOD_IPI, 1, 0, V(0x61), 0x04);
    MOS(&s, MOD_SELF_IPI, 2, 0, 0x50, 0);
    MOS(&s, MOD_WRITE, 0, 3, 0x02, V(0x70)); /* periodic timer */
    MOS(&s, MOD_WRITE, 0, 4, 0x40, 0x00);
    MOS(&s, MOD_ADVANCE, 0, 1, 0x20);
    MOS(&s, MOD_RUN, 0, 1);
    MOS(&s, MOD_IRQ, 0, 0, 16, 0, MOD_RUN, 0, 1);
    rc |= mos_write(dir, "diff_mix", &s);

    return rc ? -1 : 0;
}

#endif /* INTC_FUZZ_MACHINE_SEEDS_H */
