/*
 * Helpers for the VT-d interrupt-remapping tests: guest memory (the kit's
 * region and DMA callbacks, which a th_host leaves out until asked),
 * register access that asserts the host-level result, IRTE and posted-
 * interrupt-descriptor builders (VT-d spec 9.10, 9.11, 9.12), invalidation
 * descriptors (6.5.2.7, 6.5.2.8) and LAPIC bit readers.
 */
#ifndef INTC_TESTS_VTD_UTIL_H
#define INTC_TESTS_VTD_UTIL_H

#include "harness.h"
#include "lapic_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Guest memory.                                                       */
/* ------------------------------------------------------------------ */

/* Guest-physical window [GM_BASE, GM_BASE + GM_SIZE); anything outside
   fails, like an access that hits no memory. */
#define GM_BASE 0x10000000ull
#define GM_SIZE (2u << 20)

/* Addresses inside the window used by the tests. */
#define IRT_A (GM_BASE + 0x000000ull)  /* interrupt remapping table */
#define IRT_B (GM_BASE + 0x100000ull)  /* a second table (64 KiB) */
#define IQ_BASE (GM_BASE + 0x180000ull) /* invalidation queue (8 KiB) */
#define PID_A (GM_BASE + 0x190000ull)  /* posted descriptors, 64 B each */
#define STATUS_A (GM_BASE + 0x1a0000ull) /* wait-descriptor status */
#define BAD_GPA 0x4000000000ull         /* outside the window */

/* The window in the kit's guest memory, zeroed, and the kit's DMA
   callbacks in h->ops (dma_write fails while h->fail_dma_write is set;
   h->n_dma_read and h->n_dma_write count the accesses). */
static inline uint8_t *vt_memory(th_host *h)
{
    return th_guest_memory(h, GM_BASE, GM_SIZE);
}

/* Guest memory access for the test itself. */
static inline uint8_t *gm_at(th_host *h, uint64_t gpa, unsigned len)
{
    uint8_t *p = kit_mem(h, gpa, len);
    assert_true(gpa >= GM_BASE && gpa + len <= GM_BASE + GM_SIZE);
    assert_non_null(p);
    return p;
}

static inline void gm_w64(th_host *h, uint64_t gpa, uint64_t v)
{
    memcpy(gm_at(h, gpa, 8), &v, 8);
}

static inline uint64_t gm_r64(th_host *h, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, gm_at(h, gpa, 8), 8);
    return v;
}

static inline uint32_t gm_r32(th_host *h, uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, gm_at(h, gpa, 4), 4);
    return v;
}

/* Default machine config: n_cpus CPUs (IDs 0..n-1) and a VT-d unit. */
static inline void vt_cfg(intc_machine_config *cfg, uint32_t n_cpus)
{
    intc_machine_config_init(cfg);
    cfg->n_cpus = n_cpus;
    cfg->iommu.kind = INTC_IOMMU_VTD;
}

static inline intc_machine *vt_machine(th_host *h, const intc_machine_config *cfg)
{
    intc_machine *m = th_machine(h, cfg);
    assert_non_null(intc_machine_iommu(m));
    return m;
}

static inline void vt_check(intc_machine *m)
{
    char msg[256] = "";
    if (intc_machine_check(m, msg, sizeof(msg)) != INTC_OK)
        fail_msg("intc_machine_check: %s", msg);
}

/* Check, free the machine. */
static inline void vt_done(intc_machine *m)
{
    vt_check(m);
    intc_machine_free(m);
}

/* ------------------------------------------------------------------ */
/* Registers (VT-d 11.4).                                              */
/* ------------------------------------------------------------------ */

static inline uint32_t r32(intc_iommu *u, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_iommu_mmio_read(u, off, 4, &v), INTC_OK);
    return (uint32_t)v;
}

static inline uint64_t r64(intc_iommu *u, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_iommu_mmio_read(u, off, 8, &v), INTC_OK);
    return v;
}

static inline void w32(intc_iommu *u, uint32_t off, uint32_t val)
{
    assert_int_equal(intc_iommu_mmio_write(u, off, 4, val), INTC_OK);
}

static inline void w64(intc_iommu *u, uint32_t off, uint64_t val)
{
    assert_int_equal(intc_iommu_mmio_write(u, off, 8, val), INTC_OK);
}

/* GSTS bits (11.4.5) at their GCMD positions. */
#define GS_TES INTC_VTD_GCMD_TE
#define GS_RTPS INTC_VTD_GCMD_SRTP
#define GS_QIES INTC_VTD_GCMD_QIE
#define GS_IRES INTC_VTD_GCMD_IRE
#define GS_IRTPS INTC_VTD_GCMD_SIRTP
#define GS_CFIS INTC_VTD_GCMD_CFI

/* FSTS (11.4.9). */
#define FS_PFO (1u << 0)
#define FS_PPF (1u << 1)
#define FS_IQE (1u << 4)
#define FS_FRI(x) (((x) >> 8) & 0xffu)
/* FECTL/IECTL (11.4.10, 11.4.24). */
#define CTL_IM (1u << 31)
#define CTL_IP (1u << 30)
/* ICS (11.4.23). */
#define ICS_IWC 1u

/* Fault recording register i (11.4.14): low and high qwords. */
static inline uint64_t frr_lo(intc_iommu *u, unsigned i)
{
    return r64(u, INTC_VTD_FRR + 16 * i);
}
static inline uint64_t frr_hi(intc_iommu *u, unsigned i)
{
    return r64(u, INTC_VTD_FRR + 16 * i + 8);
}
#define FRR_F (1ull << 63)
#define FRR_FR(hi) ((unsigned)(((hi) >> 32) & 0xff))
#define FRR_SID(hi) ((unsigned)((hi) & 0xffff))
#define FRR_FI(lo) ((unsigned)((lo) >> 48))

/* Clear record i's F bit (RW1C, bit 127). */
static inline void frr_clear(intc_iommu *u, unsigned i)
{
    w32(u, INTC_VTD_FRR + 16 * i + 12, 0x80000000u);
}

/*
 * Point the unit at an interrupt remapping table and enable remapping the
 * way a driver does (5.1.1, 11.4.4): IRTA, then GCMD.SIRTP (one-shot),
 * then GCMD.IRE (and CFI).  s: the table has 2^(s+1) entries.
 */
static inline void ir_enable(intc_iommu *u, uint64_t irt, unsigned s, bool eime,
                      bool cfi)
{
    uint32_t keep = cfi ? INTC_VTD_GCMD_CFI : 0;
    w64(u, INTC_VTD_IRTA, irt | (eime ? INTC_VTD_IRTA_EIME : 0) | s);
    w32(u, INTC_VTD_GCMD, INTC_VTD_GCMD_SIRTP);
    assert_true(r32(u, INTC_VTD_GSTS) & GS_IRTPS);
    w32(u, INTC_VTD_GCMD, INTC_VTD_GCMD_IRE | keep);
    assert_true(r32(u, INTC_VTD_GSTS) & GS_IRES);
}

/* ------------------------------------------------------------------ */
/* IRTE (9.10 remapped, 9.11 posted) and PID (9.12).                   */
/* ------------------------------------------------------------------ */

#define IRTE_P (1ull << 0)
#define IRTE_FPD (1ull << 1)
#define IRTE_DM_LOGICAL (1ull << 2)
#define IRTE_RH (1ull << 3)
#define IRTE_TM_LEVEL (1ull << 4)
#define IRTE_DLM(d) ((uint64_t)(d) << 5)
#define IRTE_URG (1ull << 14)
#define IRTE_IM (1ull << 15)
#define IRTE_V(v) ((uint64_t)(v) << 16)
#define IRTE_DST(d) ((uint64_t)(d) << 32)
/* xAPIC mode: the APIC ID sits in DST[15:8] (bits 47:40). */
#define IRTE_XDST(id) IRTE_DST((uint32_t)(id) << 8)
/* High qword: SID 79:64, SQ 81:80, SVT 83:82. */
#define IRTE_SID(s) ((uint64_t)(s))
#define IRTE_SQ(q) ((uint64_t)(q) << 16)
#define IRTE_SVT(t) ((uint64_t)(t) << 18)

/* A present remapped-format entry, fixed, physical, edge. */
static inline uint64_t irte_lo(uint8_t vector, uint64_t dst_field)
{
    return IRTE_P | IRTE_V(vector) | dst_field;
}

static inline void irte_put(th_host *h, uint64_t table, uint32_t index, uint64_t lo,
                     uint64_t hi)
{
    gm_w64(h, table + 16ull * index, lo);
    gm_w64(h, table + 16ull * index + 8, hi);
}

/* Posted-format entry (9.11): PDA[31:6] in 63:38, PDA[63:32] in 127:96. */
static inline uint64_t pirte_lo(uint8_t vv, uint64_t pda)
{
    return IRTE_P | IRTE_IM | IRTE_V(vv) | ((pda >> 6) & 0x3ffffffull) << 38;
}
static inline uint64_t pirte_hi(uint64_t pda)
{
    return pda & 0xffffffff00000000ull;
}

/* PID (9.12): PIR 255:0, ON 256, SN 257, NV 279:272, NDST 319:288. */
#define PID_ON 1ull
#define PID_SN 2ull
static inline uint64_t pid_ctl(uint8_t nv, uint32_t ndst)
{
    return (uint64_t)nv << 16 | (uint64_t)ndst << 32;
}
static inline void pid_put(th_host *h, uint64_t pda, uint64_t ctl)
{
    for (unsigned i = 0; i < 8; i++)
        gm_w64(h, pda + 8 * i, i == 4 ? ctl : 0);
}
static inline int pir_bit(th_host *h, uint64_t pda, unsigned v)
{
    return (int)((gm_r64(h, pda + 8 * (v / 64)) >> (v % 64)) & 1);
}

/* ------------------------------------------------------------------ */
/* Interrupt requests (5.1.2).                                         */
/* ------------------------------------------------------------------ */

/* Remappable format: handle[14:0] in 19:5, bit 4 = 1, SHV bit 3,
   handle[15] in bit 2. */
static inline uint64_t rmsi(uint32_t handle, bool shv)
{
    return INTC_MSI_ADDR_BASE | (uint64_t)(handle & 0x7fff) << 5 |
           INTC_MSI_ADDR_REMAPPABLE | (shv ? INTC_MSI_ADDR_RH : 0) |
           (uint64_t)((handle >> 15) & 1) << 2;
}

/* Compatibility format (SDM 11.11.1): 8-bit physical destination. */
static inline uint64_t cmsi(uint8_t dest)
{
    return INTC_MSI_ADDR_BASE | (uint64_t)dest << INTC_MSI_ADDR_DEST_SHIFT;
}

/* ------------------------------------------------------------------ */
/* Invalidation descriptors (6.5.2).                                   */
/* ------------------------------------------------------------------ */

/* IEC invalidate (6.5.2.7): type 4, G bit 4, IM 31:27, IIDX 47:32. */
static inline uint64_t iec_global(void)
{
    return 4;
}
static inline uint64_t iec_index(uint32_t iidx, unsigned im)
{
    return 4 | 1u << 4 | (uint64_t)(im & 0x1f) << 27 |
           (uint64_t)(iidx & 0xffff) << 32;
}
/* Invalidation wait (6.5.2.8): type 5, IF bit 4, SW bit 5, status data
   63:32; address in the high qword (bits 63:2). */
static inline uint64_t wait_lo(bool intr, bool sw, uint32_t status)
{
    return 5 | (intr ? 1u << 4 : 0) | (sw ? 1u << 5 : 0) |
           (uint64_t)status << 32;
}

/* Put a 128-bit descriptor in slot i of a 128-bit-descriptor queue. */
static inline void desc_put(th_host *h, unsigned i, uint64_t lo, uint64_t hi)
{
    gm_w64(h, IQ_BASE + 16ull * i, lo);
    gm_w64(h, IQ_BASE + 16ull * i + 8, hi);
}

/* Enable the queue at IQ_BASE (QS=0: 4 KiB, 256 descriptors). */
static inline void iq_enable(intc_iommu *u, uint32_t keep_gcmd)
{
    w64(u, INTC_VTD_IQA, IQ_BASE);
    w32(u, INTC_VTD_GCMD, keep_gcmd | INTC_VTD_GCMD_QIE);
    assert_true(r32(u, INTC_VTD_GSTS) & GS_QIES);
    assert_int_equal(r64(u, INTC_VTD_IQH), 0);
}

/* ------------------------------------------------------------------ */
/* Local APIC side.                                                    */
/* ------------------------------------------------------------------ */

static inline intc_lapic *cpu(intc_machine *m, uint32_t i)
{
    intc_lapic *l = intc_machine_lapic(m, i);
    assert_non_null(l);
    return l;
}

static inline bool x2mode(intc_lapic *l)
{
    return (mr(l, INTC_MSR_APIC_BASE) & INTC_APIC_BASE_EXTD) != 0;
}

/* Bit v of ISR/TMR/IRR: MMIO in xAPIC mode, MSRs in x2APIC mode. */
static inline int rbit(intc_lapic *l, uint32_t base, unsigned v)
{
    if (x2mode(l))
        return (int)((mr(l, X2MSR(base) + v / 32) >> (v % 32)) & 1);
    return lbit(l, base, v);
}
static inline int irr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_IRR0, v);
}
static inline int isr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_ISR0, v);
}
static inline int tmr(intc_lapic *l, unsigned v)
{
    return rbit(l, INTC_LAPIC_TMR0, v);
}

/* Whole IRR empty on every CPU. */
static inline void assert_no_irr(intc_machine *m)
{
    for (uint32_t c = 0; c < intc_machine_cpu_count(m); c++) {
        intc_lapic *l = cpu(m, c);
        for (unsigned w = 0; w < 8; w++) {
            uint64_t v = x2mode(l) ? mr(l, X2MSR(INTC_LAPIC_IRR0) + w)
                                   : lr(l, INTC_LAPIC_IRR0 + 0x10 * w);
            if (v)
                fail_msg("CPU %u IRR word %u = %#llx", c, w,
                         (unsigned long long)v);
        }
    }
}

static inline void eoi(intc_lapic *l)
{
    if (x2mode(l))
        mw(l, X2MSR(INTC_LAPIC_EOI), 0);
    else
        lw(l, INTC_LAPIC_EOI, 0);
}

static inline void sw_enable_all(intc_machine *m)
{
    for (uint32_t c = 0; c < intc_machine_cpu_count(m); c++)
        sw_enable(cpu(m, c));
}

static inline void x2_enable_all(intc_machine *m)
{
    for (uint32_t c = 0; c < intc_machine_cpu_count(m); c++)
        x2_enable(cpu(m, c));
}

/* ------------------------------------------------------------------ */
/* A test environment: host, machine, unit.                            */
/* ------------------------------------------------------------------ */

typedef struct vt_env {
    th_host *h;
    intc_machine *m;
    intc_iommu *u;
} vt_env;

/* cfg NULL: 2 CPUs and a default VT-d unit.  Every CPU is software-
   enabled (xAPIC mode). */
static inline void env_start(vt_env *e, void **state,
                             const intc_machine_config *cfg)
{
    intc_machine_config def;
    if (!cfg) {
        vt_cfg(&def, 2);
        cfg = &def;
    }
    e->h = *state;
    vt_memory(e->h);
    e->m = vt_machine(e->h, cfg);
    e->u = intc_machine_iommu(e->m);
    sw_enable_all(e->m);
}

static inline void env_end(vt_env *e)
{
    vt_done(e->m);
}

static inline void send(vt_env *e, uint64_t addr, uint32_t data,
                        uint16_t sid)
{
    assert_int_equal(intc_msi_send(e->m, addr, data, sid, NULL), INTC_OK);
}

/* Send and return the vector of the IR_REMAPPED event it produced (-1 if
   none).  Untraced there is no event to read: the message goes through
   the remapping engine and on to the APICs by hand (iommu.h
   intc_iommu_remap, intc_irq_deliver), and the result's vector is
   returned when an IRTE remapped it to an APIC. */
static inline int remapped_vec(vt_env *e, uint64_t addr, uint32_t data,
                               uint16_t sid)
{
    if (!th_traced(e->h)) {
        intc_irq irq;
        assert_int_equal(intc_iommu_remap(e->u, sid, addr, data, &irq),
                         INTC_OK);
        assert_int_equal(intc_irq_deliver(e->m, &irq, NULL), INTC_OK);
        return irq.remapped && !irq.blocked && !irq.posted ? irq.vector : -1;
    }
    size_t before = th_count_events(e->h, INTC_EV_IR_REMAPPED);
    send(e, addr, data, sid);
    if (th_count_events(e->h, INTC_EV_IR_REMAPPED) != before + 1)
        return -1;
    return th_last_event(e->h, INTC_EV_IR_REMAPPED)->vector;
}

#endif /* INTC_TESTS_VTD_UTIL_H */
