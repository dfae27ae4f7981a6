/*
 * libintc — umbrella header.  Include this one.
 *
 * libintc emulates the x86 interrupt fabric (Local APIC, IOAPIC, MSI/MSI-X,
 * IOMMU interrupt remapping) behind a callback API.  See common.h for error
 * codes, events, host callbacks and threading rules; machine.h for the root
 * object; lapic.h for the CPU side.
 */
#ifndef INTC_INTC_H
#define INTC_INTC_H

#include "common.h"
#include "machine.h"
#include "lapic.h"
#include "ioapic.h"
#include "msi.h"
#include "iommu.h"
#include "record.h"

#endif /* INTC_INTC_H */
