/*
 * The test device of intc-uc-run (see testdev.h for its registers): a
 * device model written against libintc-uc's device API.  Its work is
 * synchronous: a RAISE, DOORBELL or DMA_GO write takes effect inside the
 * guest's MMIO access (libintc-uc has no device timers; the interrupt it
 * causes is taken at the writing CPU's next block boundary, or by
 * another CPU after the current slice).
 */
#include <string.h>

#include "testdev.h"

#define MSIX_CTRL_ENABLE (1u << 15)
#define MSIX_CTRL_FMASK (1u << 14)

/* INTx follows STATUS: a level request, held while any event is
   unacknowledged (PCI 3.0 2.2.6: INTx# is level-sensitive). */
static void update_line(testdev *d)
{
    (void)intc_uc_set_gsi(d->m, TESTDEV_GSI, d->status != 0);
}

static uint64_t dev_read(void *opaque, uint32_t cpu, uint64_t off,
                         unsigned size)
{
    (void)cpu;
    testdev *d = opaque;
    if (size != 4 || (off & 3))
        return 0;
    if (off >= 0x40 && off < 0x40 + 4 * TESTDEV_NVEC)
        return d->done[(off - 0x40) / 4];
    switch (off) {
    case 0x00:
        if (!d->status)
            d->zero_reads++;
        return d->status;
    case 0x0c:
        return d->events;
    case 0x10:
        return d->zero_reads;
    case 0x14:
        return d->msix_ctrl;
    case 0x1c:
        return d->dma_sid;
    case 0x20:
        return d->dma_addr_lo;
    case 0x24:
        return d->dma_addr_hi;
    case 0x28:
        return d->dma_data;
    case 0x30:
        return d->dma_result;
    default:
        return 0;
    }
}

static void doorbell(testdev *d, uint32_t queues)
{
    for (uint16_t i = 0; i < TESTDEV_NVEC; i++) {
        if (!(queues >> i & 1))
            continue;
        d->done[i]++;
        /* Disabled: nothing; masked: the PBA bit (PCIe base 7.7.2). */
        (void)intc_msix_notify(d->msix, i, NULL);
    }
}

static void dma_go(testdev *d)
{
    uint64_t addr = (uint64_t)d->dma_addr_hi << 32 | d->dma_addr_lo;
    intc_err e = intc_uc_dma_write(d->m, (uint16_t)d->dma_sid, addr,
                                   &d->dma_data, 4);
    /* The guest sees 0 or the negated error code (intc_err < 0). */
    d->dma_result = e == INTC_OK ? 0 : (uint32_t)-(int32_t)e;
}

static void dev_write(void *opaque, uint32_t cpu, uint64_t off,
                      unsigned size, uint64_t val)
{
    (void)cpu;
    testdev *d = opaque;
    uint32_t v = (uint32_t)val;
    if (size != 4 || (off & 3))
        return;
    switch (off) {
    case 0x04:
        d->status &= ~v;
        update_line(d);
        break;
    case 0x08:
        if (v & ~d->status)
            d->events++;
        d->status |= v;
        update_line(d);
        break;
    case 0x14:
        d->msix_ctrl = v & (MSIX_CTRL_ENABLE | MSIX_CTRL_FMASK);
        (void)intc_msix_set_control(d->msix, v & MSIX_CTRL_ENABLE,
                                    v & MSIX_CTRL_FMASK);
        break;
    case 0x18:
        doorbell(d, v);
        break;
    case 0x1c:
        d->dma_sid = v & 0xffff;
        break;
    case 0x20:
        d->dma_addr_lo = v;
        break;
    case 0x24:
        d->dma_addr_hi = v;
        break;
    case 0x28:
        d->dma_data = v;
        break;
    case 0x2c:
        dma_go(d);
        break;
    default:
        break;
    }
}

intc_err testdev_attach(testdev *d, intc_uc *m)
{
    static const intc_uc_mmio_ops ops = {.read = dev_read,
                                         .write = dev_write};
    memset(d, 0, sizeof *d);
    d->m = m;
    d->dma_sid = TESTDEV_SID;
    intc_err err;
    d->msix = intc_msix_new(intc_uc_intc(m), TESTDEV_NVEC, TESTDEV_SID,
                            &err);
    if (!d->msix)
        return err;
    err = intc_uc_map_mmio(m, TESTDEV_BASE, 0x1000, &ops, d);
    if (err == INTC_OK)
        err = intc_uc_map_msix(m, TESTDEV_MSIX, 0x1000, d->msix,
                               TESTDEV_PBA_OFF);
    return err;
}
