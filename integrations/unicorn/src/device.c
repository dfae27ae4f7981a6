/*
 * libintc-uc — the device API: MSI-X tables and the IOMMU's registers in
 * guest MMIO windows, and a device's memory writes (DMA, MSI).  See the
 * "Devices" part of include/intc/uc.h.
 *
 * Everything here is a thin layer over intc_uc_map_mmio(): a window's
 * accesses go to libintc's own models (intc_msix_table_read/write,
 * intc_msix_pba_read, intc_iommu_mmio_read/write).  Unicorn hands the
 * window 1-, 2- and 4-byte pieces (an 8-byte access arrives as two 4-byte
 * calls, low half first), which is what both models decode: the MSI-X
 * table's architectural accesses are aligned dwords and qwords (PCIe base
 * 7.7.2), and the VT-d registers accept 32-bit accesses to their 64-bit
 * registers (VT-d 10.2: software may access a 64-bit register as two
 * dwords).
 */
#include <string.h>

#include "uc_priv.h"

/* ------------------------------------------------------------------ */
/* MSI-X table and PBA                                                 */

static uint64_t msix_read(void *opaque, uint32_t cpu, uint64_t off,
                          unsigned size)
{
    (void)cpu;
    const uc_msix_window *w = opaque;
    uint64_t v = 0;
    if (off + size <= w->pba_off)
        (void)intc_msix_table_read(w->msix, (uint32_t)off, size, &v);
    else if (off >= w->pba_off)
        (void)intc_msix_pba_read(w->msix, (uint32_t)(off - w->pba_off),
                                 size, &v);
    /* An access straddling the table's end and the PBA reads 0. */
    return v;
}

static void msix_write(void *opaque, uint32_t cpu, uint64_t off,
                       unsigned size, uint64_t val)
{
    (void)cpu;
    const uc_msix_window *w = opaque;
    /* The PBA is read-only to software: hardware ignores writes
       (PCIe base 7.7.2, "Pending Bit Array"). */
    if (off + size <= w->pba_off)
        (void)intc_msix_table_write(w->msix, (uint32_t)off, size, val);
}

intc_err intc_uc_map_msix(intc_uc *m, uint64_t gpa, uint64_t size,
                          intc_msix *x, uint64_t pba_off)
{
    static const intc_uc_mmio_ops ops = {.read = msix_read,
                                         .write = msix_write};
    if (!m || !x || (pba_off & 7) || pba_off >= size)
        return INTC_ERR_INVAL;
    if (m->in_callback || m->in_run)
        return INTC_ERR_BUSY;
    if (m->n_msixw >= UC_MAX_MMIO)
        return INTC_ERR_NOSPC;
    uc_msix_window *w = &m->msixw[m->n_msixw];
    w->msix = x;
    w->pba_off = pba_off;
    intc_err e = intc_uc_map_mmio(m, gpa, size, &ops, w);
    if (e == INTC_OK)
        m->n_msixw++;
    return e;
}

/* ------------------------------------------------------------------ */
/* IOMMU registers                                                     */

static uint64_t iommu_read(void *opaque, uint32_t cpu, uint64_t off,
                           unsigned size)
{
    (void)cpu;
    uint64_t v = 0;
    /* Accesses the model does not decode read 0 (it reports them as
       INTC_EV_BAD_ACCESS itself). */
    if (intc_iommu_mmio_read(opaque, (uint32_t)off, size, &v) != INTC_OK)
        return 0;
    return v;
}

static void iommu_write(void *opaque, uint32_t cpu, uint64_t off,
                        unsigned size, uint64_t val)
{
    (void)cpu;
    (void)intc_iommu_mmio_write(opaque, (uint32_t)off, size, val);
}

intc_err intc_uc_map_iommu(intc_uc *m, uint64_t gpa)
{
    static const intc_uc_mmio_ops ops = {.read = iommu_read,
                                         .write = iommu_write};
    if (!m)
        return INTC_ERR_INVAL;
    intc_iommu *u = intc_machine_iommu(m->intc);
    if (!u)
        return INTC_ERR_UNSUPPORTED;
    /* VT-d: one 4 KiB register page (VT-d 10.4); AMD-Vi: 16 KiB (the
       command/event pointers live at 0x2000). */
    uint64_t size = m->iommu_kind == INTC_IOMMU_AMDVI ? 0x4000 : 0x1000;
    return intc_uc_map_mmio(m, gpa, size, &ops, u);
}

/* ------------------------------------------------------------------ */
/* Device memory writes                                                */

intc_err intc_uc_dma_write(intc_uc *m, uint16_t source_id, uint64_t gpa,
                           const void *buf, size_t len)
{
    if (!m || (!buf && len))
        return INTC_ERR_INVAL;
    if ((gpa & INTC_MSI_ADDR_MASK) == INTC_MSI_ADDR_BASE) {
        /* The interrupt address range: an MSI is a dword write
           (PCI 3.0 6.8.3.3, SDM 11.11); anything else is refused rather
           than guessed at. */
        if (len != 4 || (gpa & 3))
            return INTC_ERR_INVAL;
        uint32_t data;
        memcpy(&data, buf, 4);
        return intc_msi_send(m->intc, gpa, data, source_id, NULL);
    }
    if (gpa > m->ram_size || len > m->ram_size - gpa)
        return INTC_ERR_RANGE;
    if (len)
        memcpy(m->ram + gpa, buf, len);
    return INTC_OK;
}
