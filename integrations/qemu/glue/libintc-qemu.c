/*
 * libintc inside QEMU 7.2: the machine property x-libintc and the checks
 * made when a q35 machine is created with it (patch 0001).  The rules the
 * glue keeps are in libintc-qemu.h.
 *
 * Copied into QEMU's tree as hw/i386/libintc-qemu.c by
 * integrations/qemu/build.sh; compiled when meson finds libintc.pc,
 * libintc-qemu-stub.c otherwise.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "hw/boards.h"
#include "hw/qdev-core.h"
#include "hw/i386/x86-iommu.h"
#include "hw/i386/amd_iommu.h"
#include "qemu/accel.h"
#include "sysemu/sysemu.h"
#include "sysemu/tcg.h"
#include "sysemu/qtest.h"
#include "hw/i386/libintc-qemu.h"

#include <intc/common.h>

bool libintc_qemu_on;

static bool lq_get_on(Object *obj, Error **errp)
{
    return libintc_qemu_on;
}

static void lq_set_on(Object *obj, bool value, Error **errp)
{
    /*
     * The board's init reads the flag to pick the APIC and IOAPIC types;
     * after it (e.g. qom-set from the monitor) a change would describe
     * models that are not the ones running.  Before it, including during
     * -preconfig, the flag may still change.
     */
    if (phase_check(PHASE_MACHINE_INITIALIZED)) {
        error_setg(errp, "x-libintc cannot change once the machine is "
                   "initialised");
        return;
    }
    libintc_qemu_on = value;
}

void libintc_qemu_machine_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "x-libintc", lq_get_on, lq_set_on);
    object_class_property_set_description(oc, "x-libintc",
        "Use libintc for every Local APIC, the IOAPIC and MSI delivery "
        "(experimental; TCG only)");
}

/*
 * Runs once the devices given on the command line exist (machine init
 * done), before any guest code: checks what only the devices tell, then
 * stops QEMU while the models are not hooked in yet.
 */
static void lq_machine_done(Notifier *n, void *opaque)
{
    X86IOMMUState *iommu = x86_iommu_get_default();

    /*
     * libintc remaps with its VT-d engine only, and QEMU's AMD-Vi would
     * remap IOAPIC and MSI writes before libintc saw them.
     */
    if (iommu && object_dynamic_cast(OBJECT(iommu), TYPE_AMD_IOMMU_DEVICE)) {
        error_setg(&error_fatal, "x-libintc=on does not support amd-iommu; "
                   "use -device intel-iommu,intremap=on for interrupt "
                   "remapping");
    }
    error_setg(&error_fatal, "x-libintc=on is not implemented yet: libintc "
               "%s is linked in, but QEMU's Local APIC and IOAPIC are not "
               "replaced by it yet (integrations/qemu, issue 14); refusing "
               "to run QEMU's own models under x-libintc=on",
               intc_version_string());
}

static Notifier lq_machine_done_notifier = { .notify = lq_machine_done };

void libintc_qemu_machine_init(MachineState *ms)
{
    if (!libintc_qemu_on) {
        return;
    }
    if (!INTC_VERSION_CHECK()) {
        error_setg(&error_fatal, "x-libintc=on: the linked libintc %s does "
                   "not match the headers QEMU was built with (%d.%d)",
                   intc_version_string(), INTC_VERSION_MAJOR,
                   INTC_VERSION_MINOR);
    }
    /*
     * Under KVM, HVF, WHPX or Xen the APIC is the hypervisor's: the CPUs
     * would never reach libintc.  qtest runs no guest code but drives the
     * same devices, which makes it a fast test bed for the glue.
     */
    if (!tcg_enabled() && !qtest_enabled()) {
        error_setg(&error_fatal, "x-libintc=on needs -accel tcg (or qtest), "
                   "not %s", current_accel_name());
    }
    /*
     * libintc's set of CPUs and APIC IDs is fixed when its machine is
     * created; QEMU would hot-add CPUs up to maxcpus.
     */
    if (ms->smp.max_cpus != ms->smp.cpus) {
        error_setg(&error_fatal, "x-libintc=on does not support CPU "
                   "hotplug: -smp maxcpus (%u) must equal cpus (%u)",
                   ms->smp.max_cpus, ms->smp.cpus);
    }
    qemu_add_machine_init_done_notifier(&lq_machine_done_notifier);
}
