/*
 * libintc — IOMMU interrupt remapping, private state (VT-d and AMD-Vi).
 */
#ifndef INTC_IOMMU_PRIV_H
#define INTC_IOMMU_PRIV_H

#include "intc/intc.h"

/* One line of the interrupt entry cache: a 128-bit IRTE (VT-d) or a 32-
   or 128-bit IRTE (AMD-Vi), keyed by index (AMD-Vi: device << 16 | index). */
struct intc_iec_line {
    uint64_t key;   /* UINT64_MAX: empty */
    uint64_t lo, hi;
};

struct intc_vtd {
    uint32_t gsts;
    uint64_t rtaddr, ccmd;
    uint32_t fsts;
    uint32_t fectl, fedata, feaddr, feuaddr;
    uint64_t iqh, iqt, iqa;
    uint32_t ics;
    uint32_t iectl, iedata, ieaddr, ieuaddr;
    uint64_t irta;        /* the register as written */
    uint64_t irta_active; /* latched by SIRTP (what remapping uses) */
    uint64_t *frr;        /* n_fault_regs x 2 qwords */
    uint16_t nfr;
    uint16_t fri;         /* next fault recording register */
};

struct intc_amdvi {
    uint64_t devtab;      /* Device Table Base Address register */
    uint64_t cmdbuf, evtlog, control;
    uint64_t cmd_head, cmd_tail, evt_head, evt_tail;
    uint64_t status;
    uint64_t excl_base, excl_limit;
};

struct intc_iommu {
    intc_machine *m;
    unsigned kind;
    intc_iommu_config cfg;
    struct intc_iec_line *iec;
    uint32_t iec_mask;
    struct intc_vtd vtd;
    struct intc_amdvi amd;
};

/* iommu.c (common) */
intc_err intc_iommu_init(intc_iommu *u, intc_machine *m,
                         const intc_iommu_config *cfg);
void intc_iommu_fini(intc_iommu *u);
void intc_iommu_do_reset(intc_iommu *u);
bool intc_iommu_check(const intc_iommu *u, char *msg, size_t len);
/* Route hook installed in the machine: remap and deliver. */
intc_err intc_iommu_route(intc_machine *m, uint64_t addr, uint32_t data,
                          uint16_t sid, uint32_t *n);
/* Interrupt entry cache. */
bool intc_iec_lookup(intc_iommu *u, uint64_t key, uint64_t *lo,
                     uint64_t *hi);
void intc_iec_fill(intc_iommu *u, uint64_t key, uint64_t lo, uint64_t hi);
/* Drop keys in [first, first + count). */
void intc_iec_drop(intc_iommu *u, uint64_t first, uint64_t count);
/* Guest memory through the host. */
bool intc_dma_read(intc_machine *m, uint64_t addr, void *buf, size_t len);
bool intc_dma_write(intc_machine *m, uint64_t addr, const void *buf,
                    size_t len);
/* Fill the message fields of a compatibility-format request. */
void intc_irq_decode_compat(uint64_t addr, uint32_t data, intc_irq *out);
/* Deliver a remapped interrupt; *n = APICs reached. */
void intc_irq_send(intc_machine *m, const intc_irq *irq, uint32_t *n);

/* vtd.c */
void intc_vtd_reset(intc_iommu *u);
/* The 64-bit register (or 32-bit pair) at 8-aligned off; false if none. */
bool intc_vtd_reg_get(intc_iommu *u, uint32_t off, uint64_t *val);
intc_err intc_vtd_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                             uint64_t val);
void intc_vtd_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                    uint32_t data, intc_irq *out);
bool intc_vtd_enabled(const intc_iommu *u);
void intc_vtd_set_table(intc_iommu *u, uint64_t irta, bool en, bool cfi);

/* amdvi.c */
bool intc_amdvi_available(void);
void intc_amdvi_reset(intc_iommu *u);
bool intc_amdvi_reg_get(intc_iommu *u, uint32_t off, uint64_t *val);
intc_err intc_amdvi_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val);
void intc_amdvi_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                      uint32_t data, intc_irq *out);
bool intc_amdvi_enabled(const intc_iommu *u);
void intc_amdvi_set_table(intc_iommu *u, uint64_t devtab, bool en);

#endif /* INTC_IOMMU_PRIV_H */
