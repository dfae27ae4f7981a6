/*
 * libintc — IOMMU interrupt remapping: Intel VT-d (spec ch. 5, registers
 * ch. 11) with posted interrupts, and AMD-Vi (AMD IOMMU spec 2.2.5).
 *
 * Two ways to use it:
 *  - the register front-end (intc_iommu_mmio_read/write): the unit's
 *    interrupt-remapping registers, fault recording and the invalidation
 *    queue (VT-d) or command buffer and event log (AMD-Vi), for hosts that
 *    want the whole unit;
 *  - the engine (intc_iommu_set_table, intc_iommu_invalidate,
 *    intc_iommu_remap), for hosts that keep their own IOMMU registers.
 * Either way every interrupt message of the machine (intc_msi_send, MSI,
 * MSI-X, IOAPIC) passes through it while remapping is enabled.  DMA
 * address translation is not modelled: its registers hold their values
 * and its commands complete without effect.
 */
#ifndef INTC_IOMMU_H
#define INTC_IOMMU_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

enum intc_iommu_kind {
    INTC_IOMMU_NONE = 0,
    INTC_IOMMU_VTD = 1,
    INTC_IOMMU_AMDVI = 2
};

typedef struct intc_iommu_config {
    unsigned kind;          /* enum intc_iommu_kind; default NONE */
    bool x2apic;            /* VT-d ECAP.EIM / AMD-Vi XT; default true */
    bool posted;            /* VT-d CAP.PI / AMD-Vi GA; default true */
    uint16_t n_fault_regs;  /* VT-d fault recording registers, 1..256;
                               default 8 */
    uint32_t cache_entries; /* interrupt entry cache lines, a power of two
                               1..65536; default 64 */
} intc_iommu_config;

/* VT-d register offsets (VT-d 11.4). */
#define INTC_VTD_VER 0x000u
#define INTC_VTD_CAP 0x008u
#define INTC_VTD_ECAP 0x010u
#define INTC_VTD_GCMD 0x018u
#define INTC_VTD_GSTS 0x01cu
#define INTC_VTD_RTADDR 0x020u
#define INTC_VTD_CCMD 0x028u
#define INTC_VTD_FSTS 0x034u
#define INTC_VTD_FECTL 0x038u
#define INTC_VTD_FEDATA 0x03cu
#define INTC_VTD_FEADDR 0x040u
#define INTC_VTD_FEUADDR 0x044u
#define INTC_VTD_IQH 0x080u
#define INTC_VTD_IQT 0x088u
#define INTC_VTD_IQA 0x090u
#define INTC_VTD_ICS 0x09cu
#define INTC_VTD_IECTL 0x0a0u
#define INTC_VTD_IEDATA 0x0a4u
#define INTC_VTD_IEADDR 0x0a8u
#define INTC_VTD_IEUADDR 0x0acu
#define INTC_VTD_IRTA 0x0b8u
#define INTC_VTD_FRR 0x400u /* fault recording registers, 16 bytes each */

/* GCMD/GSTS bits. */
#define INTC_VTD_GCMD_TE (1u << 31)
#define INTC_VTD_GCMD_SRTP (1u << 30)
#define INTC_VTD_GCMD_QIE (1u << 26)
#define INTC_VTD_GCMD_IRE (1u << 25)
#define INTC_VTD_GCMD_SIRTP (1u << 24)
#define INTC_VTD_GCMD_CFI (1u << 23)
/* IRTA_REG. */
#define INTC_VTD_IRTA_EIME (1ull << 11)

/* Interrupt-remapping fault reasons (VT-d 7.1.3, Table 7-?). */
enum intc_vtd_fault {
    INTC_VTD_FR_RESERVED_REQ = 0x20,   /* reserved field set in request */
    INTC_VTD_FR_INDEX_RANGE = 0x21,    /* index beyond IRTA.S */
    INTC_VTD_FR_NOT_PRESENT = 0x22,    /* IRTE P clear */
    INTC_VTD_FR_TABLE_ACCESS = 0x23,   /* reading the IRTE failed */
    INTC_VTD_FR_RESERVED_IRTE = 0x24,  /* reserved field set in IRTE */
    INTC_VTD_FR_COMPAT_BLOCKED = 0x25, /* compatibility format blocked */
    INTC_VTD_FR_SOURCE_ID = 0x26,      /* source-id verification failed */
    INTC_VTD_FR_PID_ACCESS = 0x27,     /* posted descriptor access error */
    INTC_VTD_FR_RESERVED_PID = 0x28    /* reserved field set in the PID */
};

/* AMD-Vi register offsets (AMD IOMMU spec, MMIO registers). */
#define INTC_AMDVI_DEVTAB 0x0000u     /* device table base, Size 8:0 */
#define INTC_AMDVI_CMDBUF 0x0008u     /* command buffer base, ComLen */
#define INTC_AMDVI_EVTLOG 0x0010u     /* event log base, EventLen */
#define INTC_AMDVI_CONTROL 0x0018u
#define INTC_AMDVI_EXCL_BASE 0x0020u
#define INTC_AMDVI_EXCL_LIMIT 0x0028u
#define INTC_AMDVI_EFR 0x0030u        /* extended features (RO) */
#define INTC_AMDVI_CMD_HEAD 0x2000u
#define INTC_AMDVI_CMD_TAIL 0x2008u
#define INTC_AMDVI_EVT_HEAD 0x2010u
#define INTC_AMDVI_EVT_TAIL 0x2018u
#define INTC_AMDVI_STATUS 0x2020u

/* AMD-Vi event codes (event log entry bits 63:60; intc_irq.fault). */
enum intc_amdvi_event {
    INTC_AMDVI_ILLEGAL_DEV_TABLE_ENTRY = 1,
    INTC_AMDVI_IO_PAGE_FAULT = 2,
    INTC_AMDVI_DEV_TAB_HW_ERROR = 3,
    INTC_AMDVI_PAGE_TAB_HW_ERROR = 4,
    INTC_AMDVI_ILLEGAL_COMMAND = 5,
    INTC_AMDVI_CMD_HW_ERROR = 6,
    INTC_AMDVI_INVALID_DEVICE_REQUEST = 8
};

/* VT-d MMIO page (4 KiB) or AMD-Vi MMIO (16 KiB).  32- and 64-bit
   naturally aligned accesses; anything else reads 0 and writes are
   ignored (INTC_EV_BAD_ACCESS); off + size beyond the page or a size
   other than 1, 2, 4, 8: INTC_ERR_INVAL. */
INTC_API intc_err intc_iommu_mmio_read(intc_iommu *u, uint32_t off,
                                       unsigned size, uint64_t *val);
INTC_API intc_err intc_iommu_mmio_write(intc_iommu *u, uint32_t off,
                                        unsigned size, uint64_t val);

/* The result of remapping one interrupt request. */
typedef struct intc_irq {
    unsigned fault;   /* 0, or the fault reason (VT-d enum intc_vtd_fault;
                         AMD-Vi: INTC_AMDVI_* event code) */
    bool blocked;     /* not delivered: a fault (fault != 0), or without
                         one (fault 0): a remappable-format request while
                         remapping is disabled, or a passed-through
                         message that is no valid interrupt message (what
                         intc_msi_send() reports as DROPPED) */
    bool posted;      /* VT-d posted / AMD-Vi guest mode: went to a
                         descriptor, not to an APIC */
    bool remapped;    /* an IRTE was used (else passed through) */
    uint32_t index;   /* IRTE index used or faulting */
    uint32_t dest;    /* destination (x2apic: 32-bit) */
    uint8_t vector;
    uint8_t dm;       /* delivery mode */
    bool logical;
    bool level;
    bool rh;
    bool x2apic;      /* dest is a 32-bit x2APIC ID */
} intc_irq;

/*
 * Engine: remap (addr, data) from requester sid as the hardware would,
 * recording any fault as the register front-end shows it, and fill *out.
 * Does not deliver: pass the result to intc_irq_deliver() (or deliver it
 * through the host's own APIC model).  A posted interrupt is fully
 * handled here (descriptor updated, notification sent).
 */
INTC_API intc_err intc_iommu_remap(intc_iommu *u, uint16_t sid,
                                   uint64_t addr, uint32_t data,
                                   intc_irq *out);
/* Deliver a remapped interrupt to the Local APICs (nothing if blocked or
   posted).  *out (if non-NULL) receives the outcome. */
INTC_API intc_err intc_irq_deliver(intc_machine *m, const intc_irq *irq,
                                   intc_delivery *out);

/*
 * Engine state, for hosts with their own register model.  VT-d: irta is
 * the IRTA_REG value (address, EIME, S) latched as by SIRTP; enabled and
 * cfi are GSTS.IRES and GSTS.CFIS (EIME reads back as written but has no
 * effect unless the unit supports x2APIC).  AMD-Vi: irta is the device table base
 * register value (address, size), enabled is IOMMUEn, cfi is unused.
 */
INTC_API intc_err intc_iommu_set_table(intc_iommu *u, uint64_t irta,
                                       bool enabled, bool cfi);
/* Invalidate cached interrupt entries: VT-d, 2^index_mask entries from
   index (aligned down); AMD-Vi, device index's whole table.
   INTC_IOMMU_INV_ALL: everything. */
#define INTC_IOMMU_INV_ALL 0xffffffffu
INTC_API intc_err intc_iommu_invalidate(intc_iommu *u, uint32_t index,
                                        unsigned index_mask);

#ifdef __cplusplus
}
#endif

#endif /* INTC_IOMMU_H */
