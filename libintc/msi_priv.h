/*
 * libintc — MSI-X function and MSI capability private state (msi.c;
 * snapshot.c walks the device lists and reads their configuration for
 * the image fingerprint).
 */
#ifndef INTC_MSI_PRIV_H
#define INTC_MSI_PRIV_H

#include "intc/intc.h"

struct intc_msix_entry {
    uint32_t addr_lo, addr_hi, data, ctrl;
};

struct intc_msix {
    intc_machine *m;
    intc_msix *next;
    uint32_t unit;
    uint16_t nvec;
    uint16_t sid;
    bool enabled;
    bool fmask;
    struct intc_msix_entry *table;
    uint64_t *pba;
};

/* Vector Control: bit 0 Mask; bits 31:1 reserved. */
#define MSIX_CTRL_MASK 1u

/*
 * The capability kept as its configuration-space bytes (see msi.c for
 * the layouts); wmask holds the bits a configuration write can change.
 */
struct intc_msi {
    intc_machine *m;
    intc_msi *next;
    uint32_t unit;
    uint16_t sid;
    uint8_t size;
    uint8_t off_data, off_mask, off_pend; /* 0 when absent */
    uint8_t regs[24];
    uint8_t wmask[24];
};

#endif /* INTC_MSI_PRIV_H */
