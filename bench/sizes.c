/*
 * libintc benchmarks — bytes per object, for docs/performance.md.  The
 * one file of the benchmark that reads the library's private headers
 * (the objects are opaque to everyone else).
 */
#include "internal.h"
#include "msi_priv.h"

#include <stddef.h>
#include <stdio.h>

void bench_print_sizes(FILE *out);

void bench_print_sizes(FILE *out)
{
    /* The hot part of a Local APIC: from the start of the object up to
       the first register-only field (lapic_priv.h keeps it first). */
    size_t hot = offsetof(struct intc_lapic, apic_base);

    fprintf(out, "size|intc_lapic (total)|%zu\n", sizeof(struct intc_lapic));
    fprintf(out, "size|intc_lapic hot part (irr..pir_on)|%zu\n", hot);
    fprintf(out, "size|intc_lapic routing links (rt)|%zu\n",
            sizeof(struct intc_lapic_rt));
    fprintf(out, "size|intc_lapic posted area (pir, pir_level)|%zu\n",
            sizeof(((struct intc_lapic *)0)->pir) +
                sizeof(((struct intc_lapic *)0)->pir_level));
    fprintf(out, "size|intc_ioapic (without pins)|%zu\n",
            sizeof(struct intc_ioapic));
    fprintf(out, "size|intc_ioapic per pin|%zu\n",
            sizeof(struct intc_ioapic_pin));
    fprintf(out, "size|intc_msix (without table)|%zu\n",
            sizeof(struct intc_msix));
    fprintf(out, "size|intc_msix per vector (entry + PBA bit)|%zu.125\n",
            sizeof(struct intc_msix_entry));
    fprintf(out, "size|intc_msi (capability)|%zu\n", sizeof(struct intc_msi));
    fprintf(out, "size|intc_iommu (without cache, fault regs)|%zu\n",
            sizeof(struct intc_iommu));
    fprintf(out, "size|intc_iommu per cache line|%zu\n",
            sizeof(struct intc_iec_line));
    fprintf(out, "size|intc_machine (without per-CPU arrays)|%zu\n",
            sizeof(struct intc_machine));
}
