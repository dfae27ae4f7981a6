/*
 * libFuzzer target: Intel VT-d interrupt remapping (IRTEs, posted-interrupt
 * descriptors, invalidation queue, fault recording).  The operations and the
 * guest-memory layout are in fuzz_iommu.h; byte 0 picks one of the two
 * configurations with this unit.
 */
#include "fuzz_iommu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fz_iommu_one(INTC_IOMMU_VTD, data, size);
}
