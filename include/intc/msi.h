/*
 * libintc — message-signalled interrupts: MSI messages, the MSI-X table
 * and PBA, and the MSI capability (PCI Local Bus 3.0 6.8, PCIe base 7.7;
 * message format: Intel SDM vol. 3A 11.11).
 */
#ifndef INTC_MSI_H
#define INTC_MSI_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message address (SDM 11.11.1, Figure 11-24). */
#define INTC_MSI_ADDR_BASE 0xfee00000u
#define INTC_MSI_ADDR_MASK 0xfff00000u
#define INTC_MSI_ADDR_DEST_SHIFT 12       /* bits 19:12 */
#define INTC_MSI_ADDR_EXT_DEST_SHIFT 5    /* bits 11:5: destination 14:8 */
#define INTC_MSI_ADDR_REMAPPABLE (1u << 4) /* VT-d interrupt format */
#define INTC_MSI_ADDR_RH (1u << 3)
#define INTC_MSI_ADDR_LOGICAL (1u << 2)
/* Message data (SDM 11.11.2, Figure 11-25). */
#define INTC_MSI_DATA_VECTOR 0xffu
#define INTC_MSI_DATA_DM_SHIFT 8
#define INTC_MSI_DATA_ASSERT (1u << 14)
#define INTC_MSI_DATA_LEVEL (1u << 15)

/*
 * A device's memory write of data to addr, from requester source_id.
 * Through the IOMMU's interrupt remapping when the machine has one and it
 * is enabled.  Decode is strict and every outcome is defined:
 *  - addr outside 0xFEE00000-0xFEEFFFFF: INTC_ERR_NOT_DECODED (an
 *    ordinary memory write; the host performs it);
 *  - reserved delivery modes (011b, 110b), data bits 31:16 set, a
 *    level-triggered de-assert message, a remappable-format message with
 *    no remapping: dropped, INTC_EV_MSI_DROPPED says why, INTC_OK;
 *  - otherwise delivered (INTC_EV_MSI) and INTC_OK.
 * *out (if non-NULL) receives the outcome in every case: accepted by how
 * many APICs, no target, dropped and why, blocked by remapping with the
 * fault reason, or posted.
 * Destination: address bits 19:12, and with the machine's msi_ext_dest
 * bits 11:5 as destination bits 14:8 (IDs up to 32767).  RH=1 makes a
 * fixed message lowest-priority among the destinations (SDM 11.11.1);
 * DM chooses physical or logical independently of RH.
 */
INTC_API intc_err intc_msi_send(intc_machine *m, uint64_t addr,
                                uint32_t data, uint16_t source_id,
                                intc_delivery *out);

/* ---- MSI-X (PCIe 7.7.2) ---- */

#define INTC_MSIX_MAX_VECTORS 2048u

/*
 * A function's MSI-X table and PBA.  Allocates (creation path); owned by
 * the machine, freed by intc_msix_free() or with the machine.  Returns
 * NULL with *err set: INTC_ERR_INVAL for nvec 0 or above 2048,
 * INTC_ERR_NOMEM, INTC_ERR_BUSY inside a callback.  Starts in the reset
 * state: disabled, function unmasked, every vector masked, zero messages,
 * nothing pending.
 */
INTC_API intc_msix *intc_msix_new(intc_machine *m, uint16_t nvec,
                                  uint16_t source_id, intc_err *err);
INTC_API void intc_msix_free(intc_msix *x);

/*
 * Table accesses at off from the table's start (16 bytes an entry: address
 * low, address high, data, vector control).  The architectural accesses
 * are aligned 4- and 8-byte (PCIe 7.7.2); for others reads return 0 and
 * writes are ignored (INTC_EV_BAD_ACCESS).  Beyond the table (off >=
 * 16 * nvec): reads 0, writes ignored.  Host misuse: size not 1/2/4/8 or
 * NULL: INTC_ERR_INVAL.  Clearing a vector's mask bit with its pending bit
 * set sends the message as the entry holds it now and clears the bit.
 */
INTC_API intc_err intc_msix_table_read(intc_msix *x, uint32_t off,
                                       unsigned size, uint64_t *val);
INTC_API intc_err intc_msix_table_write(intc_msix *x, uint32_t off,
                                        unsigned size, uint64_t val);
/* PBA reads (one bit per vector, 64-bit words); writes are the guest's
   business and ignored by hardware, so there is no write call. */
INTC_API intc_err intc_msix_pba_read(intc_msix *x, uint32_t off,
                                     unsigned size, uint64_t *val);
/* Message Control bits 15 (MSI-X Enable) and 14 (Function Mask).
   Unmasking delivers every pending vector whose own mask is clear. */
INTC_API intc_err intc_msix_set_control(intc_msix *x, bool enable,
                                        bool function_mask);
/*
 * The function raises vector.  Disabled: nothing (the function may not
 * signal).  Masked (function or vector): its PBA bit is set.  Otherwise
 * the entry's message is sent (intc_msi_send).  INTC_ERR_RANGE if vector
 * >= nvec.  *out (if non-NULL) receives the outcome: DISABLED, PENDING,
 * or what became of the message.
 */
INTC_API intc_err intc_msix_notify(intc_msix *x, uint16_t vector,
                                   intc_delivery *out);
/* Back to the reset state (function-level reset). */
INTC_API intc_err intc_msix_reset(intc_msix *x);
/* Whether vector's pending bit is set; safe from any callback. */
INTC_API bool intc_msix_pending(const intc_msix *x, uint16_t vector);

/* ---- MSI capability (PCI 3.0 6.8.1) ---- */

typedef struct intc_msi intc_msi;

/*
 * An MSI capability: log2_vectors (0..5) is Multiple Message Capable;
 * addr64 and per_vector_mask choose the layout.  Owned by the machine.
 */
INTC_API intc_msi *intc_msi_new(intc_machine *m, unsigned log2_vectors,
                                bool addr64, bool per_vector_mask,
                                uint16_t source_id, intc_err *err);
INTC_API void intc_msi_free(intc_msi *c);

/*
 * Configuration-space accesses at off from the capability's start
 * (0: ID 05h and next pointer, 2: Message Control, 4: address, then per
 * layout upper address, data, mask bits, pending bits).  Any size 1, 2 or
 * 4 within the capability; read-only bits keep their value.  Bytes 0-1
 * read 05h and 00h (the host owns the list).  Off beyond the capability:
 * reads 0, writes ignored.
 */
INTC_API intc_err intc_msi_config_read(intc_msi *c, uint32_t off,
                                       unsigned size, uint32_t *val);
INTC_API intc_err intc_msi_config_write(intc_msi *c, uint32_t off,
                                        unsigned size, uint32_t val);
/* Size in bytes of the capability (10, 14, 20 or 24). */
INTC_API unsigned intc_msi_config_size(const intc_msi *c);
/*
 * The function raises vector (0..2^MME-1; others are dropped, as the
 * function has only the enabled messages).  Masked: the pending bit is
 * set, and the message is sent when the mask bit is cleared.  The vector
 * number replaces the low MME bits of Message Data (PCI 3.0 6.8.1.6).
 * *out (if non-NULL) receives the outcome: DISABLED (MSI disabled, or a
 * vector beyond the enabled ones), PENDING, or what became of the message.
 */
INTC_API intc_err intc_msi_notify(intc_msi *c, unsigned vector,
                                  intc_delivery *out);
INTC_API intc_err intc_msi_reset(intc_msi *c);

#ifdef __cplusplus
}
#endif

#endif /* INTC_MSI_H */
