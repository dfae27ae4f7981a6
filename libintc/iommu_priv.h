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

/*
 * The remap stage: what VT-d and AMD-Vi each provide, instead of branches
 * on the kind.  remap() decides one request and never delivers anything:
 * it fills *out (blocked with the fault recorded, posted, remapped, or
 * neither: pass the original message through), and puts the interrupt
 * messages the unit itself raises (fault and completion events, posted-
 * interrupt notifications) in the outbox, which iommu.c sends when the
 * stage has returned.
 */
struct intc_iommu_ops {
    uint32_t mmio_span;  /* bytes of the register page */
    void (*reset)(intc_iommu *u);
    bool (*enabled)(const intc_iommu *u);  /* remapping on */
    /* The 64-bit register (or 32-bit pair) at 8-aligned off; false if
       none. */
    bool (*reg_get)(intc_iommu *u, uint32_t off, uint64_t *val);
    intc_err (*mmio_write)(intc_iommu *u, uint32_t off, unsigned size,
                           uint64_t val);
    void (*remap)(intc_iommu *u, uint16_t sid, uint64_t addr, uint32_t data,
                  intc_irq *out);
    void (*set_table)(intc_iommu *u, uint64_t irta, bool en, bool cfi);
    /* Drop cached entries: index/index_mask as intc_iommu_invalidate. */
    void (*invalidate)(intc_iommu *u, uint32_t index, unsigned index_mask);
};

extern const struct intc_iommu_ops intc__vtd_ops;
extern const struct intc_iommu_ops intc__amdvi_ops;

/* A message the unit raised while deciding (see struct intc_iommu_ops):
   an event message in its wire form (VT-d 5.1.6: with EIM the upper
   address register carries destination bits 31:8), or an already built
   message (a posted-interrupt notification). */
struct intc_iommu_out {
    bool built;
    uint32_t addr_lo, addr_hi, data;
    intc_msg msg;
};
#define INTC_IOMMU_OUTBOX 4

struct intc_iommu {
    intc_machine *m;
    const struct intc_iommu_ops *ops;
    unsigned kind;
    intc_iommu_config cfg;
    struct intc_iec_line *iec;
    uint32_t iec_mask;
    struct intc_vtd vtd;
    struct intc_amdvi amd;
    /* Messages owed (at most a fault event, a completion event and a
       notification per operation), sent by intc__iommu_flush(). */
    struct intc_iommu_out outbox[INTC_IOMMU_OUTBOX];
    unsigned n_out;
};

/* iommu.c (common) */
intc_err intc__iommu_init(intc_iommu *u, intc_machine *m,
                         const intc_iommu_config *cfg);
void intc__iommu_fini(intc_iommu *u);
void intc__iommu_do_reset(intc_iommu *u);
bool intc__iommu_check(const intc_iommu *u, char *msg, size_t len);
/* The remap stage of the pipeline (intc__route, while remapping is
   enabled): remap, then deliver, and send what the unit raised. */
void intc__iommu_route(intc_iommu *u, uint64_t addr, uint32_t data,
                       uint16_t sid, intc_delivery *res);
/* Owe an event message (wire form) / a built message (outbox). */
void intc__iommu_raise(intc_iommu *u, uint32_t addr_lo, uint32_t addr_hi,
                       uint32_t data);
void intc__iommu_raise_msg(intc_iommu *u, const intc_msg *msg);
/* Send what the outbox holds, and refresh the machine's remap stage
   pointer (after anything that may enable or disable remapping). */
void intc__iommu_flush(intc_iommu *u);
/* Install or remove the remap stage as the registers now say. */
void intc__iommu_sync(intc_iommu *u);
/* Interrupt entry cache. */
bool intc__iec_lookup(intc_iommu *u, uint64_t key, uint64_t *lo,
                     uint64_t *hi);
void intc__iec_fill(intc_iommu *u, uint64_t key, uint64_t lo, uint64_t hi);
/* Drop keys in [first, first + count). */
void intc__iec_drop(intc_iommu *u, uint64_t first, uint64_t count);
/* Guest memory through the host. */
bool intc__dma_read(intc_machine *m, uint64_t addr, void *buf, size_t len);
bool intc__dma_write(intc_machine *m, uint64_t addr, const void *buf,
                    size_t len);

/* vtd.c, amdvi.c: the rest is theirs, through the ops tables above. */
bool intc__amdvi_available(void);

#endif /* INTC_IOMMU_PRIV_H */
