/*
 * libintc inside QEMU 7.2, when meson found no libintc.pc: the patched
 * tree still builds, x-libintc exists on q35 and refuses "on".  Every hook
 * a later patch adds gets a body here too (unreachable: libintc_qemu_on
 * stays false).
 *
 * Copied into QEMU's tree as hw/i386/libintc-qemu-stub.c by
 * integrations/qemu/build.sh.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "hw/i386/libintc-qemu.h"

bool libintc_qemu_on;

static bool lq_get_on(Object *obj, Error **errp)
{
    return false;
}

static void lq_set_on(Object *obj, bool value, Error **errp)
{
    if (value) {
        error_setg(errp, "x-libintc=on: this QEMU was built without libintc "
                   "(meson found no libintc.pc; see "
                   "integrations/qemu/build.sh)");
    }
}

void libintc_qemu_machine_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "x-libintc", lq_get_on, lq_set_on);
    object_class_property_set_description(oc, "x-libintc",
        "Use libintc for the interrupt controllers (not built in)");
}

void libintc_qemu_machine_init(MachineState *ms)
{
}

/* The hooks of patch 0002: never reached (libintc_qemu_on stays false). */
int libintc_qemu_get_pic_interrupt(X86CPU *cpu)
{
    g_assert_not_reached();
}

void libintc_qemu_apic_deliver_pic_intr(DeviceState *dev, int level)
{
    g_assert_not_reached();
}

int libintc_qemu_apic_accept_pic_intr(DeviceState *dev)
{
    g_assert_not_reached();
}

int libintc_qemu_apic_get_highest_priority_irr(DeviceState *dev)
{
    g_assert_not_reached();
}

void libintc_qemu_apic_poll_irq(DeviceState *dev)
{
    g_assert_not_reached();
}

void libintc_qemu_apic_sipi(DeviceState *dev)
{
    g_assert_not_reached();
}

int libintc_qemu_apic_get_interrupt(DeviceState *dev)
{
    g_assert_not_reached();
}

/* The hooks of patches 0003-0005: never reached either. */
uint64_t libintc_qemu_tsc(CPUX86State *env)
{
    g_assert_not_reached();
}

int libintc_qemu_msr(CPUX86State *env, uint32_t msr, bool write,
                     uint64_t *val)
{
    g_assert_not_reached();
}

/* Called by intel_iommu.c whether or not x-libintc is on: nothing to do. */
void libintc_qemu_vtd_set_table(IntelIOMMUState *s)
{
}

MemTxResult libintc_qemu_vtd_ir_write(uint64_t addr, uint32_t data,
                                      uint16_t sid)
{
    g_assert_not_reached();
}

void libintc_qemu_dump_lapic(X86CPU *cpu, int flags)
{
    g_assert_not_reached();
}

/* Called by amd_iommu.c whether or not x-libintc is on: nothing to do. */
void libintc_qemu_amdvi_regs(AMDVIState *s)
{
}

void libintc_qemu_amdvi_invalidate(AMDVIState *s, uint32_t devid)
{
}

MemTxResult libintc_qemu_amdvi_ir_write(uint64_t addr, uint32_t data,
                                        uint16_t sid)
{
    g_assert_not_reached();
}

uint64_t libintc_qemu_amdvi_efr(AMDVIState *s)
{
    return 0;
}

void libintc_qemu_amdvi_ivhd(GArray *table, guint start)
{
}

bool libintc_qemu_amdvi_xt_interrupt(AMDVIState *s)
{
    return false;
}

bool libintc_qemu_amdvi_log_event(AMDVIState *s, const uint64_t *evt)
{
    g_assert_not_reached();
}
