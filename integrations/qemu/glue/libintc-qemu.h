/*
 * libintc inside QEMU 7.2: the functions QEMU's own files call (the hooks
 * of integrations/qemu/patches/) and the rules the glue keeps.
 *
 * Copied into QEMU's tree as include/hw/i386/libintc-qemu.h by
 * integrations/qemu/build.sh.  Included only by per-target x86 files.
 *
 * With -M q35,x-libintc=on every CPU's Local APIC, the IOAPIC and the
 * delivery of MSI/MSI-X writes are libintc's (one intc_machine per QEMU
 * process); with x-libintc=off (the default) QEMU runs its own models and
 * every hook below is a no-op or is not reached.
 *
 * The series: 0001 adds the property and the checks made at machine
 * creation; 0002 makes every CPU's Local APIC a libintc-apic
 * (apic_get_class) with the 0xFEE00000 region (register accesses and
 * MSI writes), the INTA hook and the prologues of hw/intc/apic.c's free
 * functions; 0003 hooks the APIC MSRs (IA32_APIC_BASE, TSC_DEADLINE,
 * x2APIC), lets TCG keep CPUID's x2APIC and TSC-deadline bits and gives
 * RDTSC the guest TSC libintc's timer compares with; 0004 makes the
 * IOAPIC a libintc-ioapic; 0005 hands VT-d's interrupt remapping to
 * libintc's engine.  The glue's files: libintc-qemu.c (property, machine,
 * host callbacks, reset, VMState, MSR/TSC/VT-d hooks),
 * libintc-qemu-apic.c, libintc-qemu-ioapic.c, libintc-qemu-int.h (what
 * they share).
 *
 * Snapshots: one VMState section, "libintc", holds intc_machine_save's
 * image, registered after every CPU's section so that it loads last; the
 * apic-common sections of the libintc-apic objects carry unused shadows.
 * A stock QEMU refuses the section: no migration between the two.
 *
 * Locking: the big QEMU lock (BQL) serialises libintc.
 *   libintc is not thread-safe (include/intc/common.h): every call into it,
 *   and every read or write of glue state, happens with the BQL held.
 *   - QEMU already holds the BQL on these paths: MMIO dispatch, from a vCPU
 *     (TCG io_readx/io_writex take it) or from a device doing DMA or an MSI
 *     write; main-loop timer callbacks (the QEMUTimers of the LAPIC timers
 *     and of the IOAPIC storm throttle); interrupt handling in the vCPU loop
 *     (cpu_handle_interrupt, hence x86_cpu_exec_interrupt and the INTA in
 *     cpu_get_pic_interrupt; cpu_handle_halt); CR8 writes; machine reset,
 *     savevm/loadvm, the monitor and qtest.
 *   - QEMU does not hold it in RDMSR/WRMSR (helper_rdmsr/helper_wrmsr) nor
 *     in a CR8 read (helper_read_crN): the glue takes it there and drops it
 *     before returning (libintc_qemu_msr; a CR8 read reaches the class's
 *     get_tpr, which takes it if not held).
 *   - The glue's 0xFEE00000 region ops assert that it is held.
 *   - RDTSC (libintc_qemu_tsc) takes no lock and touches no libintc state:
 *     the guest TSC is computed from QEMU_CLOCK_VIRTUAL with libintc's
 *     formula, so RDTSC-heavy guests do not serialise on the BQL under
 *     MTTCG.
 *   - The same holds under MTTCG and under round-robin TCG: both run guest
 *     code without the BQL.  Devices running in an -object iothread would
 *     send MSIs without it: not supported with x-libintc=on (the glue
 *     asserts that the BQL is held).
 *
 * vCPU threads:
 *   - A CPU's own APIC registers (xAPIC MMIO with current_cpu set, x2APIC
 *     MSRs, TPR/CR8, INTA, INIT and SIPI consumption) are accessed on that
 *     CPU's vCPU thread.
 *   - Another CPU is only ever told to look at its APIC, through
 *     cpu_interrupt()/cpu_reset_interrupt() (which need the BQL, held by
 *     every caller of libintc); its vCPU thread then acts on its own APIC.
 *     CPU_INTERRUPT_HARD mirrors libintc's "an interrupt is deliverable"
 *     exactly, so the CPU loop never asks for a vector that is not there.
 *   - A CPU's CPUX86State is written by the glue only from that CPU's
 *     thread, or while every vCPU is stopped (reset, loadvm).
 *   - libintc's kick, eoi and apic_base_changed callbacks run deferred, at
 *     the end of the outermost libintc call, and may call libintc again;
 *     timer_arm, now_ns and the DMA callbacks must not (INTC_ERR_BUSY).
 *
 * Guest errors are architecture (#GP from libintc is raised as #GP in the
 * guest); a configuration libintc cannot serve is refused when the machine
 * is created, with error_setg(&error_fatal, ...) like QEMU's other option
 * checks.
 */
#ifndef HW_I386_LIBINTC_QEMU_H
#define HW_I386_LIBINTC_QEMU_H

#include "exec/memattrs.h"
#include "cpu.h"

typedef struct IntelIOMMUState IntelIOMMUState;
typedef struct AMDVIState AMDVIState;

/* -M q35,x-libintc=on; read-only once the machine is initialised. */
extern bool libintc_qemu_on;

#define TYPE_LIBINTC_APIC   "libintc-apic"
#define TYPE_LIBINTC_IOAPIC "libintc-ioapic"

/* --- Patch 0001: machine property and creation checks -------------------- */

/*
 * pc_q35.c, once per q35 machine class: adds the bool property
 * "x-libintc".  It can be set until the machine is initialised.
 */
void libintc_qemu_machine_class_init(ObjectClass *oc);

/*
 * pc_q35.c, first thing in the board's init: with x-libintc=on, refuses
 * (error_fatal) an accelerator other than TCG or qtest, CPU hotplug
 * (-smp maxcpus != cpus) and, once the devices exist, amd-iommu.
 */
void libintc_qemu_machine_init(MachineState *ms);

/* --- Patch 0002: the Local APICs --------------------------------------- */

/*
 * x86.c cpu_get_pic_interrupt (INTA), for a CPU with an APIC: the vector
 * to deliver, or -1 (seg_helper.c then delivers nothing).
 */
int libintc_qemu_get_pic_interrupt(X86CPU *cpu);

/*
 * hw/intc/apic.c free functions, each called before the APIC() cast when
 * x-libintc=on (dev is a libintc-apic, or NULL: stock's results for NULL).
 */
void libintc_qemu_apic_deliver_pic_intr(DeviceState *dev, int level);
int libintc_qemu_apic_accept_pic_intr(DeviceState *dev);
int libintc_qemu_apic_get_highest_priority_irr(DeviceState *dev);
void libintc_qemu_apic_poll_irq(DeviceState *dev);
void libintc_qemu_apic_sipi(DeviceState *dev);
int libintc_qemu_apic_get_interrupt(DeviceState *dev);

/* --- Patch 0003: MSRs, TSC (and CPUID, which needs no glue) ------------ */

/* x86.c cpu_get_tsc: the guest TSC from QEMU_CLOCK_VIRTUAL; lock-free. */
uint64_t libintc_qemu_tsc(CPUX86State *env);

/* misc_helper.c helper_rdmsr/helper_wrmsr: 0x1B, 0x6E0, 0x800-0x8FF. */
enum {
    LIBINTC_QEMU_MSR_DONE,      /* handled; *val read or written */
    LIBINTC_QEMU_MSR_NOT_MINE,  /* not an APIC MSR now: QEMU's own path */
    LIBINTC_QEMU_MSR_GP,        /* the helper raises #GP(0) */
};
int libintc_qemu_msr(CPUX86State *env, uint32_t msr, bool write,
                     uint64_t *val);

/* --- Patch 0004: the IOAPIC needs no function (x86.c picks the type) --- */

/* --- Patch 0005: VT-d interrupt remapping ------------------------------- */

/*
 * intel_iommu.c: the IRTA/IRE state (called also without x-libintc: a
 * no-op then), and an interrupt write with its source ID.
 */
void libintc_qemu_vtd_set_table(IntelIOMMUState *s);
MemTxResult libintc_qemu_vtd_ir_write(uint64_t addr, uint32_t data,
                                      uint16_t sid);

/* --- Patch 0006: the monitor's "info lapic" ----------------------------- */

/* target/i386/cpu-dump.c: libintc's registers of the CPU's APIC. */
void libintc_qemu_dump_lapic(X86CPU *cpu, int flags);

/* --- Patch 0007: VT-d fault records for libintc's remapping faults ------- */

/*
 * Defined in intel_iommu.c (the patch): records a remapping fault of
 * requester sid, interrupt index and fault reason (0x20-0x26) in QEMU's
 * VT-d fault recording registers, with the fault event it implies.  The
 * glue calls it from a bottom half, outside libintc.
 */
void libintc_qemu_vtd_record_fault(IntelIOMMUState *s, uint16_t sid,
                                   uint32_t index, unsigned reason);

/* --- Patch 0008: AMD-Vi interrupt remapping by libintc's engine -------- */

/*
 * amd_iommu.c, with -device amd-iommu,intremap=on: the device table base
 * or the control register changed (a no-op without x-libintc); an
 * interrupt-table, device-table-entry (devid) or all (UINT32_MAX)
 * invalidation; an interrupt write with its source (device) ID.
 */
void libintc_qemu_amdvi_regs(AMDVIState *s);
void libintc_qemu_amdvi_invalidate(AMDVIState *s, uint32_t devid);
MemTxResult libintc_qemu_amdvi_ir_write(uint64_t addr, uint32_t data,
                                        uint16_t sid);

/* --- Patch 0009: AMD-Vi XT (32-bit destinations) under libintc -------- */

/*
 * amd_iommu.c amdvi_init: the EFR bits added to QEMU's (XTSup with
 * x-libintc=on and intremap=on, else 0; called also without x-libintc).
 * acpi-build.c build_amd_iommu: the type 10h IVHD written at
 * table->data[start] is followed by its type 11h twin (x-libintc=on;
 * else nothing).  amdvi_generate_msi_interrupt: true if the IOMMU's own
 * interrupt went out through the XT register (IntCapXTEn), false for
 * QEMU's MSI.
 */
uint64_t libintc_qemu_amdvi_efr(AMDVIState *s);
void libintc_qemu_amdvi_ivhd(GArray *table, guint start);
bool libintc_qemu_amdvi_xt_interrupt(AMDVIState *s);

/* --- Patch 0010: AMD-Vi event log, libintc's remapping faults in it --- */

/*
 * amd_iommu.c amdvi_log_event, x-libintc=on: writes the entry evt[2]
 * into the guest's event log; true if the IOMMU's interrupt is due
 * (the caller sends it).  Defined in amd_iommu.c (the patch): logs the
 * entry evt[2] through amdvi_log_event, the interrupt included; the
 * glue calls it from a bottom half, outside libintc.
 */
bool libintc_qemu_amdvi_log_event(AMDVIState *s, const uint64_t *evt);
void libintc_qemu_amdvi_record_fault(AMDVIState *s, uint64_t *evt);

#endif
