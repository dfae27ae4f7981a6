/*
 * libintc inside QEMU 7.2: the machine property x-libintc and the checks
 * of a machine created with it (patch 0001); the one libintc machine, its
 * host callbacks on QEMU's virtual clock, reset and its VMState section;
 * the MSR, TSC and CPUID hooks (patch 0003); the VT-d hooks (patch 0005).
 * The Local APICs are in libintc-qemu-apic.c, the IOAPIC in
 * libintc-qemu-ioapic.c.  The rules the glue keeps are in libintc-qemu.h.
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
#include "qemu/config-file.h"
#include "qemu/option.h"
#include "hw/i386/intel_iommu.h"
#include "hw/i386/ioapic.h"
#include "hw/pci/pci.h"
#include "hw/pci-host/q35.h"
#include "qemu/accel.h"
#include "sysemu/sysemu.h"
#include "sysemu/tcg.h"
#include "sysemu/qtest.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "exec/address-spaces.h"
#include "sysemu/dma.h"
#include "migration/vmstate.h"
#include "hw/core/cpu.h"
#include "sysemu/reset.h"
#include "sysemu/cpu-timers.h"
#include "hw/rtc/mc146818rtc.h"
#include "qemu/host-utils.h"
#include "hw/i386/libintc-qemu-int.h"

bool libintc_qemu_on;
LibintcQemu libintc_qemu;

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

/*
 * x-libintc-record=FILE: libintc's recorder (include/intc/record.h) on
 * from the machine's creation to QEMU's exit.  FILE gets the recording
 * (intc-sim --replay FILE runs it again), FILE.events the events the
 * machine emitted (intc-sim --events's format) and FILE.image its final
 * snapshot (intc-sim --final-image's), so a replay can be compared with
 * the run.
 */
static struct {
    char *path;
    FILE *rec, *events;
    Notifier exit;
} lq_record;

static char *lq_get_record(Object *obj, Error **errp)
{
    return g_strdup(lq_record.path ? lq_record.path : "");
}

static void lq_set_record(Object *obj, const char *value, Error **errp)
{
    if (phase_check(PHASE_MACHINE_INITIALIZED)) {
        error_setg(errp, "x-libintc-record cannot change once the machine "
                   "is initialised");
        return;
    }
    g_free(lq_record.path);
    lq_record.path = *value ? g_strdup(value) : NULL;
}

void libintc_qemu_machine_class_init(ObjectClass *oc)
{
    object_class_property_add_bool(oc, "x-libintc", lq_get_on, lq_set_on);
    object_class_property_set_description(oc, "x-libintc",
        "Use libintc for every Local APIC, the IOAPIC and MSI delivery "
        "(experimental; TCG only)");
    object_class_property_add_str(oc, "x-libintc-record", lq_get_record,
                                  lq_set_record);
    object_class_property_set_description(oc, "x-libintc-record",
        "With x-libintc=on: record libintc's inputs into this file "
        "(intc-sim --replay), its events into FILE.events and its final "
        "snapshot into FILE.image");
}

LibintcApicState *libintc_qemu_cpu(uint32_t index)
{
    return index < libintc_qemu.n_cpus ? libintc_qemu.cpus[index] : NULL;
}

static void lq_sync_all(void)
{
    uint32_t i;

    for (i = 0; i < libintc_qemu.n_cpus; i++) {
        if (libintc_qemu.cpus[i]) {
            libintc_qemu_sync(libintc_qemu.cpus[i]);
        }
    }
}

/* --- the VMState section "libintc": intc_machine_save's image --- */

/*
 * The image lives only between pre_save and post_save (or pre_load and
 * post_load); VMSTATE_VBUFFER_ALLOC_UINT32 allocates it on load.
 */
typedef struct LibintcImage {
    uint32_t len;
    uint8_t *buf;
} LibintcImage;

static LibintcImage lq_image;

static void lq_image_free(LibintcImage *im)
{
    g_free(im->buf);
    im->buf = NULL;
    im->len = 0;
}

static int lq_pre_save(void *opaque)
{
    LibintcImage *im = opaque;
    size_t need = 0;
    intc_err e;

    lq_image_free(im);
    intc_machine_save(libintc_qemu.m, NULL, 0, &need);
    im->buf = g_malloc(need);
    e = intc_machine_save(libintc_qemu.m, im->buf, need, &need);
    if (e != INTC_OK || need > UINT32_MAX) {
        error_report("libintc: saving the interrupt controllers: %s",
                     intc_strerror(e));
        lq_image_free(im);
        return -EINVAL;
    }
    im->len = need;
    return 0;
}

static int lq_post_save(void *opaque)
{
    lq_image_free(opaque);
    return 0;
}

static int lq_pre_load(void *opaque)
{
    lq_image_free(opaque);
    return 0;
}

/*
 * Loaded after every CPU section (registered last): libintc re-arms the
 * LAPIC timers against the restored virtual clock, reports each CPU's
 * IA32_APIC_BASE and kicks; the sync then makes every CPU's
 * CPU_INTERRUPT_HARD exact again.
 */
static int lq_post_load(void *opaque, int version_id)
{
    LibintcImage *im = opaque;
    intc_err e = intc_machine_load(libintc_qemu.m, im->buf, im->len);

    if (e != INTC_OK) {
        error_report("libintc: the interrupt controllers' state does not "
                     "load: %s: %s", intc_strerror(e),
                     intc_machine_errmsg(libintc_qemu.m));
    }
    lq_image_free(im);
    for (uint32_t i = 0; i < libintc_qemu.n_cpus; i++) {
        if (libintc_qemu.cpus[i]) {
            libintc_qemu.cpus[i]->lint0 = -1;   /* the image's, now */
        }
    }
    lq_sync_all();
    return e == INTC_OK ? 0 : -EINVAL;
}

static const VMStateDescription lq_vmstate = {
    .name = "libintc",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = lq_pre_save,
    .post_save = lq_post_save,
    .pre_load = lq_pre_load,
    .post_load = lq_post_load,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(len, LibintcImage),
        VMSTATE_VBUFFER_ALLOC_UINT32(buf, LibintcImage, 1, NULL, len),
        VMSTATE_END_OF_LIST()
    }
};

/* --- machine creation: checks, devices, section --- */

static bool lq_rtc_slews(void)
{
    Object *rtc = object_resolve_path_type("", TYPE_MC146818_RTC, NULL);
    g_autofree char *policy = NULL;

    /* A qdev enum property: its value reads as the enum's name. */
    if (rtc) {
        policy = object_property_get_str(rtc, "lost_tick_policy", NULL);
    }
    return policy && !strcmp(policy, "slew");
}

/* VT-d interrupt entry cache invalidation (QI IEC, SIRTP). */
static void lq_iec_notify(void *opaque, bool global, uint32_t index,
                          uint32_t mask)
{
    intc_iommu_invalidate(intc_machine_iommu(libintc_qemu.m),
                          global ? INTC_IOMMU_INV_ALL : index, mask);
}

/*
 * Runs once the devices given on the command line exist (machine init
 * done), before any guest code and before -loadvm: checks what only the
 * devices tell, registers the VMState section (after every CPU's, so it
 * loads last) and follows VT-d's invalidations.
 */
static void lq_machine_done(Notifier *n, void *opaque)
{
    X86IOMMUState *iommu = x86_iommu_get_default();
    bool amd = iommu &&
               object_dynamic_cast(OBJECT(iommu), TYPE_AMD_IOMMU_DEVICE);

    /*
     * libintc's engine kind, and whether the glue takes its events, were
     * chosen at machine init from the key=value -device options
     * (lq_iommu_scan); a JSON -device is not visible there.
     */
    if (!!iommu != libintc_qemu.iommu_seen ||
        amd != (libintc_qemu.iommu_kind == INTC_IOMMU_AMDVI)) {
        error_setg(&error_fatal, "x-libintc=on: the %s was not found among "
                   "the -device options when the machine was created "
                   "(give it as -device %s,... rather than as JSON)",
                   amd ? "amd-iommu" : "intel-iommu",
                   amd ? "amd-iommu" : "intel-iommu");
    }
    if (!libintc_qemu.m) {
        error_setg(&error_fatal, "x-libintc=on: no CPU has a Local APIC, "
                   "so there is no libintc machine");
    }
    /*
     * The RTC's slew policy counts the deliveries of its interrupt
     * through QEMU's APIC (apic_get_irq_delivered), which libintc does not
     * report: every tick would count as lost and be re-injected.
     */
    if (lq_rtc_slews()) {
        error_setg(&error_fatal, "x-libintc=on does not support -rtc "
                   "driftfix=slew (lost_tick_policy=slew)");
    }
    if (iommu && !amd) {
        x86_iommu_iec_register_notifier(iommu, lq_iec_notify, NULL);
        libintc_qemu.vtd = INTEL_IOMMU_DEVICE(iommu);
    }
    if (amd) {
        libintc_qemu.amdvi = AMD_IOMMU_DEVICE(iommu);
    }
    vmstate_register(NULL, 0, &lq_vmstate, &lq_image);
}

static Notifier lq_machine_done_notifier = { .notify = lq_machine_done };

enum { LQ_IOMMU_VTD = 1, LQ_IOMMU_AMDVI };

/* qemu_opts_foreach over -device: the IOMMU among them (0: none). */
static int lq_find_iommu(void *opaque, QemuOpts *opts, Error **errp)
{
    const char *driver = qemu_opt_get(opts, "driver");
    ObjectClass *oc = driver ? object_class_by_name(driver) : NULL;

    if (oc && object_class_dynamic_cast(oc, TYPE_AMD_IOMMU_DEVICE)) {
        return LQ_IOMMU_AMDVI;
    }
    return oc && object_class_dynamic_cast(oc, TYPE_INTEL_IOMMU_DEVICE)
           ? LQ_IOMMU_VTD : 0;
}

/*
 * libintc's IOMMU kind is part of its machine's configuration, which is
 * made at the first CPU, before any -device exists: VT-d unless an
 * amd-iommu is on the command line.  With neither, the VT-d engine is a
 * pass-through (and the snapshot's fingerprint does not depend on it).
 * Whether an IOMMU is there also decides whether the glue takes
 * libintc's events (lq_machine_ops).
 */
static void lq_iommu_scan(void)
{
    QemuOptsList *devices = qemu_find_opts("device");
    int found = devices ? qemu_opts_foreach(devices, lq_find_iommu, NULL,
                                            NULL)
                        : 0;

    libintc_qemu.iommu_seen = found != 0;
    libintc_qemu.iommu_kind = found == LQ_IOMMU_AMDVI ? INTC_IOMMU_AMDVI
                                                      : INTC_IOMMU_VTD;
}

void libintc_qemu_machine_init(MachineState *ms)
{
    if (!libintc_qemu_on) {
        if (lq_record.path) {
            error_setg(&error_fatal, "x-libintc-record needs x-libintc=on");
        }
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
     * Under -icount the virtual clock may only be read by an instruction
     * TCG marks as I/O; RDMSR/WRMSR are not, and the APIC MSRs read it
     * (TSC-deadline, the x2APIC timer registers): QEMU would exit with
     * "Bad icount read".
     */
    if (icount_enabled()) {
        error_setg(&error_fatal, "x-libintc=on does not support -icount");
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
    lq_iommu_scan();
    qemu_add_machine_init_done_notifier(&lq_machine_done_notifier);
}

/* --- host callbacks (libintc calls them with the BQL held) --- */

static void lq_kick(void *host, uint32_t cpu)
{
    LibintcApicState *a = libintc_qemu_cpu(cpu);

    if (a) {
        libintc_qemu_sync(a);
    }
}

static uint64_t lq_now_ns(void *host, uint32_t cpu)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static void lq_timer_mod(QEMUTimer *t, uint64_t deadline_ns)
{
    if (deadline_ns == UINT64_MAX) {
        timer_del(t);
    } else {
        timer_mod(t, MIN(deadline_ns, (uint64_t)INT64_MAX));
    }
}

static void lq_timer_arm(void *host, uint32_t cpu, uint64_t deadline_ns)
{
    LibintcApicState *a = libintc_qemu_cpu(cpu);

    if (a) {
        lq_timer_mod(a->timer, deadline_ns);
    }
}

static void lq_ioapic_timer_arm(void *host, uint32_t ioapic,
                                uint64_t deadline_ns)
{
    if (libintc_qemu.ioapic_timer) {
        lq_timer_mod(libintc_qemu.ioapic_timer, deadline_ns);
    }
}

static void lq_ioapic_timer_cb(void *opaque)
{
    intc_ioapic_timer_expired(intc_machine_ioapic(libintc_qemu.m, 0),
                              qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
}

/* IRTEs (and posted-interrupt descriptors) in guest memory. */
static int lq_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    return address_space_read(&address_space_memory, addr,
                              MEMTXATTRS_UNSPECIFIED, buf, len) == MEMTX_OK
           ? 0 : -1;
}

static int lq_dma_write(void *host, uint64_t addr, const void *buf, size_t len)
{
    return address_space_write(&address_space_memory, addr,
                               MEMTXATTRS_UNSPECIFIED, buf, len) == MEMTX_OK
           ? 0 : -1;
}

/*
 * Deferred: keeps the shadow apicbase (cpu_get_apic_base, and cpu_is_bsp
 * for its BSP flag, which stays QEMU's) and CPUID.1:EDX.APIC (clear while
 * globally disabled) in step.  Runs on the CPU's own thread (its WRMSR)
 * or with every vCPU stopped (reset, loadvm).
 */
static void lq_apic_base_changed(void *host, uint32_t cpu, uint64_t base)
{
    LibintcApicState *a = libintc_qemu_cpu(cpu);
    APICCommonState *s;
    CPUX86State *env;

    if (!a) {
        return;
    }
    s = &a->parent_obj;
    env = &s->cpu->env;
    s->apicbase = (base & ~(uint64_t)MSR_IA32_APICBASE_BSP) |
                  (s->apicbase & MSR_IA32_APICBASE_BSP);
    if (base & MSR_IA32_APICBASE_ENABLE) {
        env->features[FEAT_1_EDX] |= CPUID_APIC;
    } else {
        cpu_clear_apic_feature(env);
    }
    if ((base & MSR_IA32_APICBASE_ENABLE) &&
        !(base & MSR_IA32_APICBASE_EXTD) &&
        (base & MSR_IA32_APICBASE_BASE) != APIC_DEFAULT_ADDRESS) {
        qemu_log_mask(LOG_UNIMP, "libintc-apic: CPU %u moved its xAPIC page "
                      "to 0x%" PRIx64 "; only 0xfee00000 is decoded\n", cpu,
                      base & MSR_IA32_APICBASE_BASE);
    }
}

/*
 * libintc's remapping faults go to QEMU's VT-d fault recording registers
 * (the ones the guest reads), with their fault event interrupt.  The
 * event callback is restricted (it may run in the middle of an operation
 * and must not call libintc), and recording a fault may raise that
 * interrupt, which is delivered through libintc: so the fault is queued
 * here and recorded by a bottom half, in the main loop, soon after.  A
 * full queue drops the fault, as a unit whose fault recording registers
 * are all pending does (VT-d primary fault overflow).
 */
static void lq_fault_bh(void *opaque)
{
    LibintcQemu *q = &libintc_qemu;
    unsigned i;

    for (i = 0; i < q->n_faults; i++) {
        if (q->vtd) {
            libintc_qemu_vtd_record_fault(q->vtd, q->faults[i].sid,
                                          q->faults[i].index,
                                          q->faults[i].reason);
        } else if (q->amdvi) {
            /* 2.5: device ID 15:0, code and flags 63:48; the address */
            uint64_t evt[2] = {
                (uint64_t)q->faults[i].info << 48 | q->faults[i].sid,
                q->faults[i].addr,
            };
            libintc_qemu_amdvi_record_fault(q->amdvi, evt);
        }
    }
    q->n_faults = 0;
}

/*
 * AMD-Vi: the address of the event log entry libintc's engine would
 * write (amdvi.c): the interrupt message's, or for DEV_TAB_HW_ERROR the
 * unreadable device table entry's.  (PAGE_TAB_HW_ERROR names the IRTE
 * there; here the message's: the glue does not read the DTE.)
 */
static uint64_t lq_amdvi_fault_addr(const intc_event *ev)
{
    LibintcQemu *q = &libintc_qemu;
    uint64_t devtab;

    if ((ev->data & 0xff) == 3) {       /* DEV_TAB_HW_ERROR (2.5) */
        devtab = ldq_le_p(&q->amdvi->mmior[AMDVI_MMIO_DEVICE_TABLE]);
        return (devtab & 0x000ffffffffff000ull) + 32ull * ev->pin;
    }
    return q->in_msi ? q->msi_addr : q->ioapic_addr;
}

/*
 * INTC_EV_IR_FAULT (pin = source ID, data = reason | recorded << 8, for
 * AMD-Vi | suppressed << 9 | entry bits 63:48, data2 = index), queued;
 * AMD-Vi's DTE.IG and IRTE.SupIOPF suppress the entry (2.2.2, 2.2.5).
 */
static void lq_queue_fault(const intc_event *ev)
{
    LibintcQemu *q = &libintc_qemu;

    if ((!q->vtd && !q->amdvi) || (q->amdvi && (ev->data & (1u << 9)))) {
        return;
    }
    if (q->n_faults < ARRAY_SIZE(q->faults)) {
        q->faults[q->n_faults].sid = ev->pin;
        q->faults[q->n_faults].reason = ev->data & 0xff;
        q->faults[q->n_faults].index = ev->data2;
        q->faults[q->n_faults].info = ev->data >> 48;
        q->faults[q->n_faults].addr = q->amdvi ? lq_amdvi_fault_addr(ev) : 0;
        q->n_faults++;
    }
    qemu_bh_schedule(q->fault_bh);
}

/*
 * Every event: written to FILE.events while recording (intc-sim's
 * --events line); INTC_EV_IR_FAULT queued for QEMU's VT-d fault
 * recording or AMD-Vi event log; an IOAPIC message's address kept (an
 * IOAPIC of version 0x20: destination 63:56, logical bit 11), which an
 * AMD-Vi fault of that message logs.
 */
static void lq_event(void *host, const intc_event *ev)
{
    if (lq_record.events) {
        fprintf(lq_record.events, "%s cpu=%" PRIu32 " vector=%" PRId32
                " unit=%" PRIu32 " pin=%" PRIu32 " data=0x%" PRIx64
                " data2=0x%" PRIx64 "\n", intc_event_name(ev->type),
                ev->cpu, ev->vector, ev->unit, ev->pin, ev->data,
                ev->data2);
    }
    if (ev->type == INTC_EV_IOAPIC_SEND) {
        libintc_qemu.ioapic_addr = APIC_DEFAULT_ADDRESS |
                                   (ev->data >> 56) << 12 |
                                   (ev->data >> 11 & 1) << 2;
    } else if (ev->type == INTC_EV_IR_FAULT) {
        lq_queue_fault(ev);
    }
}

/*
 * The host callbacks.  The event callback only where something takes
 * events (an IOMMU's fault recording, the recorder's FILE.events): with
 * one installed libintc describes every delivery, acceptance and EOI,
 * which costs some 400 host instructions per IPI round trip
 * (docs/performance.md).
 */
static void lq_machine_ops(intc_host_ops *ops)
{
    *ops = (intc_host_ops) {
        .version = INTC_HOST_OPS_VERSION,
        .kick = lq_kick,
        .now_ns = lq_now_ns,
        .timer_arm = lq_timer_arm,
        .dma_read = lq_dma_read,
        .dma_write = lq_dma_write,
        .ioapic_timer_arm = lq_ioapic_timer_arm,
        .apic_base_changed = lq_apic_base_changed,
        .event = libintc_qemu.iommu_seen || lq_record.path ? lq_event : NULL,
    };
}

/* The recorder's sink: a restricted callback, it only writes. */
static int lq_record_write(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

/*
 * QEMU exits (main loop left, BQL held, no vCPU runs guest code any
 * more): the final image, then the recording's end record.
 */
static void lq_record_stop(Notifier *n, void *opaque)
{
    g_autofree char *image = g_strdup_printf("%s.image", lq_record.path);
    g_autofree uint8_t *buf = NULL;
    size_t need = 0;
    intc_err e;
    FILE *f;

    intc_machine_save(libintc_qemu.m, NULL, 0, &need);
    buf = g_malloc(need);
    e = intc_machine_save(libintc_qemu.m, buf, need, &need);
    f = fopen(image, "wb");
    if (e != INTC_OK || !f || fwrite(buf, 1, need, f) != need) {
        error_report("x-libintc-record: %s: not written", image);
    }
    if (f) {
        fclose(f);
    }
    e = intc_machine_record(libintc_qemu.m, NULL, NULL);
    if (e != INTC_OK || fclose(lq_record.rec) != 0 ||
        fclose(lq_record.events) != 0) {
        error_report("x-libintc-record: %s: the recording is incomplete "
                     "(%s)", lq_record.path, intc_strerror(e));
    }
    lq_record.rec = lq_record.events = NULL;
}

/* At the machine's creation: the recording starts before any guest code. */
static bool lq_record_start(Error **errp)
{
    g_autofree char *events = g_strdup_printf("%s.events", lq_record.path);
    intc_err e;

    lq_record.rec = fopen(lq_record.path, "wb");
    lq_record.events = fopen(events, "w");
    if (!lq_record.rec || !lq_record.events) {
        error_setg_errno(errp, errno, "x-libintc-record: cannot write %s",
                         lq_record.rec ? events : lq_record.path);
        return false;
    }
    e = intc_machine_record(libintc_qemu.m, lq_record_write, lq_record.rec);
    if (e != INTC_OK) {
        error_setg(errp, "x-libintc-record: %s: %s", lq_record.path,
                   intc_strerror(e));
        return false;
    }
    lq_record.exit.notify = lq_record_stop;
    qemu_add_exit_notifier(&lq_record.exit);
    return true;
}

/* Machine reset (handler registered at creation): every model to RESET. */
static void lq_reset(void *opaque)
{
    intc_machine_reset(libintc_qemu.m);
    lq_sync_all();
}

/*
 * The IOAPIC as q35 wires it (x86.c ioapic_init_gsi, the DSDT and MADT of
 * hw/i386/acpi-build.c): ID 0, version 0x20, 24 pins at GSI 0, every pin
 * active high; level sources are the SCI (9), the PCI links' ISA IRQs
 * (5, 10, 11) and the PIRQ pins 16-23.  Its messages carry the source ID
 * the DMAR table declares for it.
 */
static void lq_ioapic_config(intc_ioapic_config *io, uint8_t *wiring)
{
    static const uint8_t level[] = { 5, 9, 10, 11 };
    unsigned i;

    memset(wiring, 0, IOAPIC_NUM_PINS);
    for (i = 0; i < ARRAY_SIZE(level); i++) {
        wiring[level[i]] = INTC_PIN_LEVEL;
    }
    for (i = 16; i < IOAPIC_NUM_PINS; i++) {
        wiring[i] = INTC_PIN_LEVEL;
    }
    *io = (intc_ioapic_config) {
        .id = 0,
        .version = 0x20,
        .n_pins = IOAPIC_NUM_PINS,
        .gsi_base = 0,
        .source_id = libintc_qemu.iommu_kind == INTC_IOMMU_AMDVI
                     ? 0x00a0   /* 00:14.0, the IVRS's IOAPIC (AMD-Vi) */
                     : PCI_BUILD_BDF(Q35_PSEUDO_BUS_PLATFORM,
                                     Q35_PSEUDO_DEVFN_IOAPIC),
        .pin_wiring = wiring,
    };
}

/*
 * The CPUs' features: x2APIC and TSC-deadline as the -cpu model has them
 * (the CPUID bits, which patch 0003 lets TCG keep).  The VT-d engine is
 * always there and stays a pass-through until a guest enables remapping
 * through an intel-iommu device: the configuration, hence the snapshot's
 * fingerprint, does not depend on -device.  QEMU's VT-d has no posted
 * interrupts (no CAP.PI).
 */
static void lq_machine_config(intc_machine_config *cfg, X86CPU *cpu)
{
    uint32_t ecx = cpu->env.features[FEAT_1_ECX];

    intc_machine_config_init(cfg);
    cfg->n_cpus = libintc_qemu.n_cpus;
    cfg->apic_ids = libintc_qemu.apic_ids;
    cfg->bsp = 0;                /* QEMU's BSP is cpu_index 0 */
    cfg->x2apic = ecx & CPUID_EXT_X2APIC;
    cfg->tsc_deadline = ecx & CPUID_EXT_TSC_DEADLINE_TIMER;
    cfg->lvt_cmci = false;       /* QEMU's MCG_CAP has no CMCI_P */
    cfg->lapic_version = 0x14;
    cfg->phys_addr_bits = MAX(32, MIN(52, cpu->phys_bits));
    cfg->tsc_hz = libintc_qemu.tsc_hz;
    /* QEMU's IOAPIC gives up on a storm for 10 ms after 10000 in a row. */
    cfg->storm_threshold = 10000;
    cfg->storm_throttle_ns = 10 * SCALE_MS;
    cfg->iommu.kind = libintc_qemu.iommu_kind;
    cfg->iommu.x2apic = true;
    /* AMD-Vi: GAEn (128-bit IRTEs, which Linux uses) is writable only
       with posted support; QEMU's EFR offers GA but no guest mode. */
    cfg->iommu.posted = libintc_qemu.iommu_kind == INTC_IOMMU_AMDVI;
}

/*
 * The first APIC's realize: the CPU features are final, every CPU of the
 * machine is known (-smp maxcpus == cpus is checked at machine init), the
 * IOAPIC is created later by the board.
 */
bool libintc_qemu_machine_create(X86CPU *cpu, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    const CPUArchIdList *ids = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
    LibintcQemu *q = &libintc_qemu;
    intc_machine_config cfg;
    intc_ioapic_config io;
    uint8_t wiring[IOAPIC_NUM_PINS];
    intc_err err = INTC_OK;
    uint32_t i;

    q->n_cpus = ids->len;
    q->apic_ids = g_new(uint32_t, ids->len);
    q->cpus = g_new0(LibintcApicState *, ids->len);
    for (i = 0; i < ids->len; i++) {
        q->apic_ids[i] = ids->cpus[i].arch_id;
    }
    q->tsc_hz = cpu->env.tsc_khz ? cpu->env.tsc_khz * 1000ULL
                                 : NANOSECONDS_PER_SECOND;
    lq_machine_config(&cfg, cpu);
    lq_ioapic_config(&io, wiring);
    lq_machine_ops(&q->ops);
    cfg.ioapics = &io;
    cfg.n_ioapics = 1;
    q->m = intc_machine_new(&cfg, &q->ops, NULL, &err);
    if (!q->m) {
        error_setg(errp, "x-libintc=on: libintc refused the machine "
                   "(%u CPUs): %s", q->n_cpus, intc_strerror(err));
        return false;
    }
    q->ioapic_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, lq_ioapic_timer_cb,
                                   NULL);
    q->fault_bh = qemu_bh_new(lq_fault_bh, NULL);
    qemu_register_reset(lq_reset, NULL);
    return !lq_record.path || lq_record_start(errp);
}

/* --- patch 0003: TSC and MSRs --- */

/*
 * RDTSC (cpu_get_tsc), on a vCPU thread without the BQL: libintc's own
 * formula (machine.h, intc_machine_tsc) on QEMU's virtual clock, computed
 * here so that it touches no libintc state and takes no lock; a
 * TSC-deadline then fires exactly when the TSC the guest reads reaches
 * it, and the TSC continues across savevm/loadvm with the virtual clock.
 */
uint64_t libintc_qemu_tsc(CPUX86State *env)
{
    uint64_t lo, hi;

    mulu64(&lo, &hi, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL),
           libintc_qemu.tsc_hz);
    divu128(&lo, &hi, NANOSECONDS_PER_SECOND);
    return lo;
}

/*
 * RDMSR/WRMSR (helper_rdmsr/helper_wrmsr, on the CPU's thread, without
 * the BQL) of IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC range: the
 * CPU's own APIC.  libintc's #GP is the guest's #GP (the helper raises
 * it, so that GETPC() is the helper's).
 */
int libintc_qemu_msr(CPUX86State *env, uint32_t msr, bool write,
                     uint64_t *val)
{
    X86CPU *cpu = env_archcpu(env);
    LibintcApicState *a;
    intc_err e;

    /*
     * IA32_TIME_STAMP_COUNTER reads what RDTSC reads (stock TCG reads 0);
     * a write is ignored, as stock TCG ignores it, so the TSC and the
     * TSC-deadline timer stay on one clock.
     */
    if (msr == 0x10) {
        if (!write) {
            *val = libintc_qemu_tsc(env) + env->tsc_offset;
        }
        return LIBINTC_QEMU_MSR_DONE;
    }
    if (!cpu->apic_state ||
        (msr != 0x1b && msr != 0x6e0 && (msr < 0x800 || msr > 0x8ff))) {
        return LIBINTC_QEMU_MSR_NOT_MINE;
    }
    a = LIBINTC_APIC(cpu->apic_state);
    LQ_WITH_BQL({
        if (write) {
            e = intc_lapic_msr_write(libintc_qemu_lapic(a), msr, *val);
        } else {
            e = intc_lapic_msr_read(libintc_qemu_lapic(a), msr, val);
        }
        libintc_qemu_sync(a);
    });
    switch (e) {
    case INTC_OK:
        return LIBINTC_QEMU_MSR_DONE;
    case INTC_ERR_GP:
        return LIBINTC_QEMU_MSR_GP;
    default:
        return LIBINTC_QEMU_MSR_NOT_MINE;
    }
}

/* --- patch 0005: VT-d interrupt remapping by libintc's engine --- */

/*
 * SIRTP latched a table, or GCMD.IRE changed (intel_iommu.c, BQL held):
 * the engine takes the same IRTA (address, EIME, size S with 2^(S+1)
 * entries) and IRES.  QEMU does not implement GCMD.CFI (GSTS.CFIS stays
 * 0), so compatibility-format interrupts are blocked while remapping is
 * on, as its GSTS tells the guest.  Called for every VT-d unit, also
 * without x-libintc.
 */
void libintc_qemu_vtd_set_table(IntelIOMMUState *s)
{
    uint64_t irta;

    if (!libintc_qemu_on || !libintc_qemu.m) {
        return;
    }
    /* IRTA.EIME means nothing on a unit without ECAP.EIM (QEMU offers
       EIM only with eim=on, or x-buggy-eim=on under TCG). */
    irta = s->intr_root |
           (s->intr_eime && s->intr_eim == ON_OFF_AUTO_ON ?
            INTC_VTD_IRTA_EIME : 0) |
           (s->intr_size ? ctz32(s->intr_size) - 1 : 0);
    intc_iommu_set_table(intc_machine_iommu(libintc_qemu.m), irta,
                         s->intr_enabled, false);
}

/*
 * A device's write to 0xFEExxxxx behind VT-d (vtd_mem_ir_write), with its
 * requester ID (X86_IOMMU_SID_INVALID when it has none): libintc remaps
 * it (or passes it through while remapping is off) and delivers it.
 * A fault reaches QEMU's fault recording registers through lq_event.
 */
MemTxResult libintc_qemu_vtd_ir_write(uint64_t addr, uint32_t data,
                                      uint16_t sid)
{
    assert(qemu_mutex_iothread_locked());
    intc_msi_send(libintc_qemu.m, addr, data, sid, NULL);
    return MEMTX_OK;
}

/* --- patch 0008: AMD-Vi interrupt remapping by libintc's engine --- */

#define LQ_AMDVI_CTL_IR (1ull << 0 | 1ull << 17 | 1ull << 50 | 1ull << 51)

/*
 * The device table base and the control bits remapping depends on
 * (IOMMUEn, GAEn, XTEn, IntCapXTEn), written into libintc's AMD-Vi
 * registers; never CmdBufEn nor EventLogEn: QEMU keeps the command
 * buffer and the event log.  With intremap=off QEMU remaps nothing, so
 * the engine stays off.
 */
void libintc_qemu_amdvi_regs(AMDVIState *s)
{
    intc_iommu *u;
    uint64_t ctl;

    if (!libintc_qemu_on || !libintc_qemu.m) {
        return;
    }
    u = intc_machine_iommu(libintc_qemu.m);
    ctl = x86_iommu_ir_supported(X86_IOMMU_DEVICE(s))
          ? ldq_le_p(&s->mmior[AMDVI_MMIO_CONTROL]) & LQ_AMDVI_CTL_IR : 0;
    intc_iommu_mmio_write(u, INTC_AMDVI_CONTROL, 8,
                          ctl & ~(uint64_t)1);      /* off: the table moves */
    intc_iommu_mmio_write(u, INTC_AMDVI_DEVTAB, 8,
                          ldq_le_p(&s->mmior[AMDVI_MMIO_DEVICE_TABLE]));
    intc_iommu_mmio_write(u, INTC_AMDVI_CONTROL, 8, ctl);
}

/* INVALIDATE_INTERRUPT_TABLE / _DEVTAB_ENTRY (devid), INVALIDATE_ALL. */
void libintc_qemu_amdvi_invalidate(AMDVIState *s, uint32_t devid)
{
    if (libintc_qemu_on && libintc_qemu.m) {
        intc_iommu_invalidate(intc_machine_iommu(libintc_qemu.m), devid, 0);
    }
}

/*
 * A device's write to 0xFEExxxxx behind AMD-Vi, with its device ID (its
 * address is what an event log entry of its fault names).
 */
MemTxResult libintc_qemu_amdvi_ir_write(uint64_t addr, uint32_t data,
                                        uint16_t sid)
{
    assert(qemu_mutex_iothread_locked());
    libintc_qemu.in_msi = true;
    libintc_qemu.msi_addr = addr;
    intc_msi_send(libintc_qemu.m, addr, data, sid, NULL);
    libintc_qemu.in_msi = false;
    return MEMTX_OK;
}

/* --- patch 0009: AMD-Vi XT (32-bit destinations) --- */

#define LQ_AMDVI_EFR_XTSUP (1ull << 2)      /* 3.4.6 Extended Feature */
#define LQ_AMDVI_CTL_INTCAPXT (1ull << 51)  /* 3.4.4 Control IntCapXTEn */
#define LQ_AMDVI_XT_GEN_INT 0x170           /* XT general interrupt ctl */
#define LQ_IVHD_10H_LEN 24                  /* IVRS 5.2.2.2 headers */
#define LQ_IVHD_11H_LEN 40

/*
 * XTSup (3.4.6): libintc's engine takes 32-bit destinations from GA
 * (128-bit) IRTEs once XTEn is set, and the glue sends the IOMMU's own
 * interrupt from the XT register.  Only with remapping: XT means
 * nothing without it.
 */
uint64_t libintc_qemu_amdvi_efr(AMDVIState *s)
{
    return libintc_qemu_on && x86_iommu_ir_supported(X86_IOMMU_DEVICE(s))
           ? LQ_AMDVI_EFR_XTSUP : 0;
}

/*
 * IVRS (5.2.2.2): after the type 10h IVHD QEMU wrote at table->data[start]
 * (to the end of the table), the same IOMMU as a type 11h IVHD: the 24
 * header bytes with IOMMU Attributes (no performance counters, no
 * MSI numbers: 0) where 10h has its feature reporting, then the EFR
 * image (the MMIO EFR, XTSup and GASup included) and 8 reserved bytes,
 * then the same device entries.  Linux reads XT support only from the
 * EFR image of a type 11h/40h IVHD, and takes an IOMMU's last IVHD of
 * the highest type it knows; older software keeps using the 10h one.
 */
void libintc_qemu_amdvi_ivhd(GArray *table, guint start)
{
    AMDVIState *s;
    guint len = table->len - start;
    g_autofree uint8_t *ivhd = NULL;
    uint8_t head[LQ_IVHD_11H_LEN] = { 0 };

    if (!libintc_qemu_on || len < LQ_IVHD_10H_LEN) {
        return;
    }
    s = AMD_IOMMU_DEVICE(x86_iommu_get_default());
    ivhd = g_memdup2(table->data + start, len);
    memcpy(head, ivhd, 20);          /* type, flags ... IOMMU info */
    head[0] = 0x11;
    stw_le_p(head + 2, len + LQ_IVHD_11H_LEN - LQ_IVHD_10H_LEN);
    stq_le_p(head + 24, ldq_le_p(&s->mmior[AMDVI_MMIO_EXT_FEATURES]));
    g_array_append_vals(table, head, sizeof(head));
    g_array_append_vals(table, ivhd + LQ_IVHD_10H_LEN,
                        len - LQ_IVHD_10H_LEN);
}

/*
 * The IOMMU's own interrupt (event log, completion wait).  With
 * IntCapXTEn (3.4.4) it is no MSI: the XT IOMMU General Interrupt Control
 * register (MMIO 0x170: bit 2 logical, bits 31:8 destination 23:0, 39:32
 * vector, 63:56 destination 31:24) names an x2APIC destination, and the
 * interrupt is delivered as it is, never remapped.  Choice: a register
 * of 0 (what Linux writes to mask it) sends nothing.  False: QEMU sends
 * its MSI (which, as any device's, libintc's engine sees).
 */
bool libintc_qemu_amdvi_xt_interrupt(AMDVIState *s)
{
    uint64_t r;
    intc_irq irq = { .dm = 0 /* fixed */, .x2apic = true };

    if (!libintc_qemu_on ||
        !(ldq_le_p(&s->mmior[AMDVI_MMIO_CONTROL]) & LQ_AMDVI_CTL_INTCAPXT)) {
        return false;
    }
    r = ldq_le_p(&s->mmior[LQ_AMDVI_XT_GEN_INT]);
    irq.logical = r & (1u << 2);
    irq.dest = (uint32_t)(r >> 8 & 0xffffff) | (uint32_t)(r >> 56) << 24;
    irq.vector = r >> 32 & 0xff;
    if (r) {
        intc_irq_deliver(libintc_qemu.m, &irq, NULL);
    }
    return true;
}

/* --- patch 0010: AMD-Vi event log --- */

#define LQ_AMDVI_ST_EVT_OVF (1ull << 0)     /* 3.4.12 Status */
#define LQ_AMDVI_ST_EVT_INT (1ull << 1)
#define LQ_AMDVI_ST_EVT_RUN (1ull << 3)
#define LQ_AMDVI_CTL_EVT_INT_EN (1ull << 3) /* 3.4.4 Control EventIntEn */
#define LQ_AMDVI_EVENT_LEN 16

/*
 * Set status bits; the IOMMU's interrupt is due if EventIntEn is set and
 * one of them was clear (an edge, as libintc's own AMD-Vi does it).
 */
static bool lq_amdvi_status(AMDVIState *s, uint64_t set, uint64_t clear)
{
    uint64_t st = ldq_le_p(&s->mmior[AMDVI_MMIO_STATUS]);

    stq_le_p(&s->mmior[AMDVI_MMIO_STATUS], (st | set) & ~clear);
    return (ldq_le_p(&s->mmior[AMDVI_MMIO_CONTROL]) &
            LQ_AMDVI_CTL_EVT_INT_EN) && (~st & set);
}

/*
 * QEMU's event log, under x-libintc=on (2.5, 3.4.12): a ring of
 * 2^EventLen 16-byte entries (s->evtlog_len) at the base, written at the
 * tail, which wraps to 0 at the end and which the guest reads in the
 * tail register.  A full log (tail + 16 == head, modulo its size)
 * discards the entry, sets EventOverflow and stops logging (EventLogRun
 * clear) until software clears it and writes EventLogEn again.  An
 * entry written sets EventLogInt.  (Stock sets the completion-wait bit
 * instead, never wraps, compares a byte offset with the entry count, and
 * never updates the tail register.)
 */
bool libintc_qemu_amdvi_log_event(AMDVIState *s, const uint64_t *evt)
{
    uint64_t size = (uint64_t)s->evtlog_len * LQ_AMDVI_EVENT_LEN;
    uint64_t st = ldq_le_p(&s->mmior[AMDVI_MMIO_STATUS]);
    uint64_t tail = s->evtlog_tail % MAX(size, 1);
    uint64_t le[2] = { cpu_to_le64(evt[0]), cpu_to_le64(evt[1]) };

    if (!s->evtlog_enabled || !size || (st & LQ_AMDVI_ST_EVT_OVF) ||
        !(st & LQ_AMDVI_ST_EVT_RUN)) {
        return false;
    }
    if ((tail + LQ_AMDVI_EVENT_LEN) % size == s->evtlog_head % size) {
        return lq_amdvi_status(s, LQ_AMDVI_ST_EVT_OVF, LQ_AMDVI_ST_EVT_RUN);
    }
    if (dma_memory_write(&address_space_memory, s->evtlog + tail, le,
                         sizeof(le), MEMTXATTRS_UNSPECIFIED) != MEMTX_OK) {
        return false;
    }
    s->evtlog_tail = (tail + LQ_AMDVI_EVENT_LEN) % size;
    stq_le_p(&s->mmior[AMDVI_MMIO_EVENT_TAIL], s->evtlog_tail);
    return lq_amdvi_status(s, LQ_AMDVI_ST_EVT_INT, 0);
}
