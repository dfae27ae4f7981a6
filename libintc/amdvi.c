/*
 * libintc — AMD-Vi interrupt remapping: being written (issue 4).  Until
 * it lands, intc_machine_new() refuses INTC_IOMMU_AMDVI with
 * INTC_ERR_UNSUPPORTED, so none of these is reachable.
 */
#include "internal.h"

void intc_amdvi_reset(intc_iommu *u)
{
    memset(&u->amd, 0, sizeof(u->amd));
}

intc_err intc_amdvi_mmio_read(intc_iommu *u, uint32_t off, unsigned size,
                              uint64_t *val)
{
    (void)u, (void)off, (void)size;
    *val = 0;
    return INTC_ERR_UNSUPPORTED;
}

intc_err intc_amdvi_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val)
{
    (void)u, (void)off, (void)size, (void)val;
    return INTC_ERR_UNSUPPORTED;
}

void intc_amdvi_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                      uint32_t data, intc_irq *out)
{
    (void)u, (void)sid, (void)addr, (void)data;
    out->blocked = true;
}

bool intc_amdvi_enabled(const intc_iommu *u)
{
    (void)u;
    return false;
}

void intc_amdvi_set_table(intc_iommu *u, uint64_t devtab, bool en)
{
    (void)u, (void)devtab, (void)en;
}

bool intc_amdvi_available(void)
{
    return false;
}
