/*
 * libintc inside QEMU 7.2: what the glue's own files share (the machine,
 * the per-CPU APIC object, the sync of a CPU's interrupt requests).  Not
 * included by QEMU's files; their hooks are in libintc-qemu.h, which also
 * states the locking and thread rules every function here keeps.
 *
 * Copied into QEMU's tree as include/hw/i386/libintc-qemu-int.h by
 * integrations/qemu/build.sh.
 */
#ifndef HW_I386_LIBINTC_QEMU_INT_H
#define HW_I386_LIBINTC_QEMU_INT_H

#include "hw/i386/apic_internal.h"
#include "hw/i386/libintc-qemu.h"

#include <intc/intc.h>

/*
 * One per CPU, the CPU's "lapic" child: apic-common's state (io_memory,
 * cpu, the shadow apicbase that cpu_get_apic_base and cpu_is_bsp read)
 * plus the CPU's index in the libintc machine and its LAPIC timer.  The
 * registers are libintc's; the other APICCommonState fields stay unused.
 */
typedef struct LibintcApicState {
    APICCommonState parent_obj;
    uint32_t index;
    QEMUTimer *timer;
    int lint0;                  /* the 8259's INTR as last passed on; -1:
                                   not known (creation, loadvm) */
} LibintcApicState;

#define LIBINTC_APIC(obj) \
    OBJECT_CHECK(LibintcApicState, (obj), TYPE_LIBINTC_APIC)

/*
 * The one libintc machine of the process, created at the first APIC's
 * realize (libintc_qemu_machine_create).  Written under the BQL only;
 * tsc_hz is constant once the machine exists and is read without it.
 */
typedef struct LibintcQemu {
    intc_machine *m;
    uint32_t n_cpus;
    uint32_t *apic_ids;         /* libintc CPU index -> initial APIC ID */
    LibintcApicState **cpus;    /* libintc CPU index -> its APIC, realized */
    uint64_t tsc_hz;
    QEMUTimer *ioapic_timer;    /* the IOAPIC's storm throttle */
    unsigned iommu_kind;        /* INTC_IOMMU_VTD or _AMDVI: chosen at
                                   machine init from -device */
    bool iommu_seen;            /* ... where an IOMMU was found */
    intc_host_ops ops;          /* the machine's host callbacks */
    IntelIOMMUState *vtd;       /* the intel-iommu, if any */
    AMDVIState *amdvi;          /* the amd-iommu, if any */
    /* AMD-Vi: the interrupt message being remapped (an event log entry's
       address): a device's write while in_msi, else the IOAPIC's. */
    bool in_msi;
    uint64_t msi_addr;
    uint64_t ioapic_addr;
    /* Remapping faults waiting for QEMU's fault recording registers
       (VT-d) or event log (AMD-Vi: info = the entry's bits 63:48). */
    struct {
        uint16_t sid;
        uint8_t reason;
        uint16_t info;
        uint32_t index;
        uint64_t addr;
    } faults[32];
    unsigned n_faults;
    QEMUBH *fault_bh;
} LibintcQemu;

extern LibintcQemu libintc_qemu;

/* Creates libintc_qemu.m for the machine cpu belongs to (first realize). */
bool libintc_qemu_machine_create(X86CPU *cpu, Error **errp);

/* The APIC of libintc CPU index, or NULL (out of range, not realized). */
LibintcApicState *libintc_qemu_cpu(uint32_t index);

static inline intc_lapic *libintc_qemu_lapic(LibintcApicState *a)
{
    return intc_machine_lapic(libintc_qemu.m, a->index);
}

/*
 * Make the CPU's interrupt_request agree with libintc's pending set
 * (libintc-qemu-apic.c).  BQL held.
 */
void libintc_qemu_sync(LibintcApicState *a);

/* Runs stmt with the BQL held, taking it if this thread does not. */
#define LQ_WITH_BQL(stmt) do {                                   \
        bool lq_locked_ = qemu_mutex_iothread_locked();          \
        if (!lq_locked_) {                                       \
            qemu_mutex_lock_iothread();                          \
        }                                                        \
        stmt;                                                    \
        if (!lq_locked_) {                                       \
            qemu_mutex_unlock_iothread();                        \
        }                                                        \
    } while (0)

#endif
