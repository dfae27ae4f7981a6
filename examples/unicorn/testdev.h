/*
 * The test device of intc-uc-run: one PCI function (requester id
 * TESTDEV_SID) built on libintc-uc's device API, mapped on every machine
 * the runner makes.  The firmware's view of it (fw/common.inc mirrors
 * these numbers):
 *
 *   TESTDEV_BASE (4 KiB of registers, 32-bit accesses)
 *     0x00 STATUS      RO  event bits; INTx (GSI TESTDEV_GSI, a PCI
 *                          INTA#: level, active low) is asserted while
 *                          any bit is set
 *     0x04 CLEAR       W1C clear STATUS bits (the driver's "ack")
 *     0x08 RAISE       WO  set STATUS bits (a device event, at once)
 *     0x0C EVENTS      RO  RAISE writes that set a new bit
 *     0x10 ZERO_READS  RO  STATUS reads that found nothing pending
 *     0x14 MSIX_CTRL   RW  MSI-X Message Control bits 15 (enable) and
 *                          14 (function mask), as in configuration space
 *     0x18 DOORBELL    WO  bit i: queue i completes one request at once
 *                          and signals MSI-X vector i
 *     0x1C DMA_SID     RW  requester id of the next DMA (default
 *                          TESTDEV_SID; another value forges a request
 *                          as if from another function)
 *     0x20 DMA_ADDR    RW  low dword, 0x24 high dword
 *     0x28 DMA_DATA    RW  the dword to write
 *     0x2C DMA_GO      WO  write DMA_DATA at DMA_ADDR from DMA_SID
 *                          (intc_uc_dma_write: RAM, or an MSI)
 *     0x30 DMA_RESULT  RO  0, or the negated intc_err of the last DMA
 *     0x40 + 4i DONE   RO  requests completed by queue i
 *   TESTDEV_MSIX (4 KiB): the MSI-X table (TESTDEV_NVEC entries) at 0,
 *                          the PBA at TESTDEV_PBA_OFF
 */
#ifndef INTC_TESTDEV_H
#define INTC_TESTDEV_H

#include <intc/uc.h>

#define TESTDEV_BASE 0xfeb00000ull
#define TESTDEV_MSIX 0xfeb01000ull
#define TESTDEV_PBA_OFF 0x800u
#define TESTDEV_NVEC 8u
#define TESTDEV_SID 0x0100u /* 01:00.0 */
#define TESTDEV_GSI 16u     /* PCI INTA# of slot 0 on a PC */

typedef struct testdev {
    intc_uc *m;
    intc_msix *msix;
    uint32_t status, events, zero_reads, msix_ctrl;
    uint32_t dma_sid, dma_addr_lo, dma_addr_hi, dma_data, dma_result;
    uint32_t done[TESTDEV_NVEC];
} testdev;

/* Create the device's MSI-X table and map both windows on m.  The
   device lives in *d (the caller's; it must outlive the machine's runs). */
intc_err testdev_attach(testdev *d, intc_uc *m);

#endif /* INTC_TESTDEV_H */
