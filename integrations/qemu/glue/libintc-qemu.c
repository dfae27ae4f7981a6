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
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "exec/address-spaces.h"
#include "migration/blocker.h"
#include "hw/core/cpu.h"
#include "hw/i386/apic_internal.h"
#include "hw/i386/ioapic.h"
#include "hw/intc/i8259.h"
#include "hw/pci/msi.h"
#include "sysemu/reset.h"
#include "hw/i386/libintc-qemu.h"

#include <intc/intc.h>

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
 * The partial state of the series, for development and the guest tests:
 * the Local APICs and MSI delivery are libintc's, the IOAPIC stays QEMU's
 * (its messages reach libintc as MSI writes, and the glue forwards the
 * EOI of a level-triggered vector to it, as QEMU's APIC does).  Only with
 * LIBINTC_QEMU_PARTIAL=lapic in the environment; otherwise x-libintc=on
 * refuses until the IOAPIC is libintc's too.
 */
static bool lq_partial_lapic(void)
{
    const char *v = getenv("LIBINTC_QEMU_PARTIAL");

    return v && !strcmp(v, "lapic");
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
    if (lq_partial_lapic()) {
        warn_report("x-libintc=on with LIBINTC_QEMU_PARTIAL=lapic: the "
                    "Local APICs and MSI delivery are libintc %s (xAPIC "
                    "mode only), the IOAPIC is still QEMU's own",
                    intc_version_string());
        return;
    }
    error_setg(&error_fatal, "x-libintc=on is not implemented yet: libintc "
               "%s is linked in and replaces the Local APICs, but not yet "
               "the IOAPIC nor the x2APIC and TSC-deadline MSRs "
               "(integrations/qemu, issue 14); refusing to run QEMU's own "
               "IOAPIC under x-libintc=on.  LIBINTC_QEMU_PARTIAL=lapic in "
               "the environment runs this partial state",
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

/* --- Patch 0002: the Local APICs (xAPIC mode) and the MSI region ---------- */

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
} LibintcApicState;

#define LIBINTC_APIC(obj) \
    OBJECT_CHECK(LibintcApicState, (obj), TYPE_LIBINTC_APIC)

static Error *lq_migration_blocker;

/* The one libintc machine of the process, created at the first realize. */
static struct {
    intc_machine *m;
    uint32_t n_cpus;
    uint32_t *apic_ids;         /* libintc CPU index -> initial APIC ID */
    LibintcApicState **cpus;    /* libintc CPU index -> its APIC, once realized */
} lq;

static LibintcApicState *lq_cpu(uint32_t index)
{
    return index < lq.n_cpus ? lq.cpus[index] : NULL;
}

static intc_lapic *lq_lapic(LibintcApicState *a)
{
    return intc_machine_lapic(lq.m, a->index);
}

static void lq_raise(CPUState *cs, int mask)
{
    if ((cs->interrupt_request & mask) != mask) {
        cpu_interrupt(cs, mask);
    }
}

/*
 * Make the CPU's interrupt_request agree with libintc's pending set (plan
 * 2.3).  NMI and SMI are taken here (QEMU's request bit is then the latch);
 * INIT and SIPI stay latched in libintc until the CPU consumes them
 * (do_cpu_init -> lq_apic_init_reset, apic_sipi).  CPU_INTERRUPT_HARD
 * follows "a vector or ExtINT is deliverable" exactly, both ways, so the
 * CPU loop never asks for a vector that is not there.  BQL held.
 */
static void lq_sync(LibintcApicState *a)
{
    CPUState *cs = CPU(a->parent_obj.cpu);
    intc_lapic *l = lq_lapic(a);
    unsigned p = intc_lapic_pending(l);

    if ((p & INTC_PEND_NMI) && intc_lapic_take(l, INTC_PEND_NMI, NULL) == 1) {
        cpu_interrupt(cs, CPU_INTERRUPT_NMI);
    }
    if ((p & INTC_PEND_SMI) && intc_lapic_take(l, INTC_PEND_SMI, NULL) == 1) {
        cpu_interrupt(cs, CPU_INTERRUPT_SMI);
    }
    if (p & INTC_PEND_INIT) {
        lq_raise(cs, CPU_INTERRUPT_INIT);
    }
    if (p & INTC_PEND_SIPI) {
        lq_raise(cs, CPU_INTERRUPT_SIPI);
    }
    /* The takes above may have changed the rest: read it again. */
    p = intc_lapic_pending(l);
    if (p & (INTC_PEND_INTR | INTC_PEND_EXTINT)) {
        lq_raise(cs, CPU_INTERRUPT_HARD);
    } else if (cs->interrupt_request & CPU_INTERRUPT_HARD) {
        cpu_reset_interrupt(cs, CPU_INTERRUPT_HARD);
    }
}

/* --- host ops (libintc calls them with the BQL held by its caller) --- */

static void lq_kick(void *host, uint32_t cpu)
{
    LibintcApicState *a = lq_cpu(cpu);

    if (a) {
        lq_sync(a);
    }
}

static uint64_t lq_now_ns(void *host, uint32_t cpu)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

static void lq_timer_arm(void *host, uint32_t cpu, uint64_t deadline_ns)
{
    LibintcApicState *a = lq_cpu(cpu);

    if (!a) {
        return;
    }
    if (deadline_ns == UINT64_MAX) {
        timer_del(a->timer);
    } else {
        timer_mod(a->timer, MIN(deadline_ns, (uint64_t)INT64_MAX));
    }
}

static void lq_timer_cb(void *opaque)
{
    LibintcApicState *a = opaque;

    intc_lapic_timer_expired(lq_lapic(a),
                             qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
}

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
 * Deferred: keeps the shadow apicbase (read by RDMSR 0x1B through
 * cpu_get_apic_base, and by cpu_is_bsp for its BSP flag, which stays
 * QEMU's) and CPUID.1:EDX.APIC (clear while globally disabled) in step.
 */
static void lq_apic_base_changed(void *host, uint32_t cpu, uint64_t base)
{
    LibintcApicState *a = lq_cpu(cpu);
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

static const intc_host_ops lq_ops = {
    .version = INTC_HOST_OPS_VERSION,
    .kick = lq_kick,
    .now_ns = lq_now_ns,
    .timer_arm = lq_timer_arm,
    .dma_read = lq_dma_read,
    .dma_write = lq_dma_write,
    .apic_base_changed = lq_apic_base_changed,
};

/* Machine reset (handler registered at creation): every APIC to RESET. */
static void lq_reset(void *opaque)
{
    uint32_t i;

    intc_machine_reset(lq.m);
    for (i = 0; i < lq.n_cpus; i++) {
        if (lq.cpus[i]) {
            lq_sync(lq.cpus[i]);
        }
    }
}

/*
 * The first APIC's realize: the CPU features are final, every CPU of the
 * machine is known (-smp maxcpus == cpus is checked at machine init).
 */
static bool lq_machine_create(X86CPU *cpu, Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    const CPUArchIdList *ids = MACHINE_GET_CLASS(ms)->possible_cpu_arch_ids(ms);
    intc_machine_config cfg;
    intc_err err = INTC_OK;
    uint32_t i;

    lq.n_cpus = ids->len;
    lq.apic_ids = g_new(uint32_t, ids->len);
    lq.cpus = g_new0(LibintcApicState *, ids->len);
    for (i = 0; i < ids->len; i++) {
        lq.apic_ids[i] = ids->cpus[i].arch_id;
    }
    intc_machine_config_init(&cfg);
    cfg.n_cpus = lq.n_cpus;
    cfg.apic_ids = lq.apic_ids;
    cfg.bsp = 0;                /* QEMU's BSP is cpu_index 0 */
    /* No x2APIC nor TSC-deadline MSRs yet: xAPIC mode only. */
    cfg.x2apic = false;
    cfg.tsc_deadline = false;
    cfg.lvt_cmci = false;       /* QEMU's MCG_CAP has no CMCI_P */
    cfg.lapic_version = 0x14;
    cfg.phys_addr_bits = MAX(32, MIN(52, cpu->phys_bits));
    cfg.tsc_hz = cpu->env.tsc_khz ? cpu->env.tsc_khz * 1000ULL
                                  : NANOSECONDS_PER_SECOND;
    cfg.n_ioapics = 0;          /* the IOAPIC is still QEMU's */
    lq.m = intc_machine_new(&cfg, &lq_ops, NULL, &err);
    if (!lq.m) {
        error_setg(errp, "x-libintc=on: libintc refused the machine "
                   "(%u CPUs): %s", lq.n_cpus, intc_strerror(err));
        return false;
    }
    qemu_register_reset(lq_reset, NULL);
    /*
     * The apic-common VMState holds the unused shadows, not libintc's
     * registers: refuse savevm and migration rather than restore a
     * machine whose APICs lost their state (until the libintc section).
     */
    error_setg(&lq_migration_blocker, "x-libintc=on: libintc's interrupt "
               "controller state is not saved yet (integrations/qemu, "
               "issue 14)");
    return migrate_add_blocker(lq_migration_blocker, errp) == 0;
}

/* --- the 0xFEE00000 region: xAPIC registers and MSI writes --- */

/*
 * The APIC whose registers an access reaches: a CPU's own (TCG CPU
 * accesses carry specified attributes with requester ID 0, and
 * current_cpu) in the first 4 KiB; everything else is an MSI write (a
 * device's, with its requester ID, or QEMU's IOAPIC, unspecified).
 */
static LibintcApicState *lq_cpu_access(hwaddr off, unsigned size,
                                       MemTxAttrs attrs)
{
    X86CPU *cpu;

    if (attrs.unspecified || attrs.requester_id || !current_cpu ||
        off + size > 0x1000) {
        return NULL;
    }
    cpu = X86_CPU(current_cpu);
    return cpu->apic_state ? LIBINTC_APIC(cpu->apic_state) : NULL;
}

/*
 * A message QEMU's own models made: its IOAPIC (ioapic_entry_parse, or
 * VT-d's remapping of it, vtd_generate_msi_message) writes a
 * level-triggered message with the level bit (14) clear, which libintc
 * drops as a de-assert; QEMU's APIC ignores the bit.  Mark it asserted.
 * Only these writes are unspecified (or remapped) and level: PCI MSIs
 * are edge.
 */
static void lq_qemu_msi(uint64_t addr, uint32_t data)
{
    if (data & (1u << 15)) {
        data |= 1u << 14;
    }
    intc_msi_send(lq.m, addr, data, 0xffff, NULL);
}

static MemTxResult lq_mem_read(void *opaque, hwaddr off, uint64_t *data,
                               unsigned size, MemTxAttrs attrs)
{
    LibintcApicState *a = lq_cpu_access(off, size, attrs);
    uint64_t v = 0;

    assert(qemu_mutex_iothread_locked());
    *data = 0;
    if (a && intc_lapic_mmio_read(lq_lapic(a), off, size, &v) == INTC_OK) {
        *data = v;
    }
    return MEMTX_OK;
}

/*
 * The in-service vector an EOI write to l would retire if it is
 * level-triggered (TMR set), else -1: QEMU's IOAPIC clears its Remote IRR
 * on ioapic_eoi_broadcast(vector), as QEMU's APIC tells it.
 */
static int lq_level_isr(intc_lapic *l)
{
    uint64_t isr, tmr;
    int r, v;

    for (r = 7; r >= 0; r--) {
        if (intc_lapic_mmio_read(l, 0x100 + r * 0x10, 4, &isr) != INTC_OK) {
            return -1;
        }
        if ((uint32_t)isr) {
            v = r * 32 + 31 - clz32((uint32_t)isr);
            intc_lapic_mmio_read(l, 0x180 + r * 0x10, 4, &tmr);
            return (tmr >> (v % 32)) & 1 ? v : -1;
        }
    }
    return -1;
}

static MemTxResult lq_mem_write(void *opaque, hwaddr off, uint64_t data,
                                unsigned size, MemTxAttrs attrs)
{
    LibintcApicState *a = lq_cpu_access(off, size, attrs);
    int level_vector = -1;

    assert(qemu_mutex_iothread_locked());
    if (!a) {
        if (attrs.unspecified) {
            lq_qemu_msi(APIC_DEFAULT_ADDRESS + off, data);
        } else {
            intc_msi_send(lq.m, APIC_DEFAULT_ADDRESS + off, data,
                          attrs.requester_id, NULL);
        }
        return MEMTX_OK;
    }
    if (off == 0xb0 && size == 4) {
        level_vector = lq_level_isr(lq_lapic(a));
    }
    intc_lapic_mmio_write(lq_lapic(a), off, size, data);
    lq_sync(a);
    if (level_vector >= 0) {
        ioapic_eoi_broadcast(level_vector);
    }
    return MEMTX_OK;
}

static const MemoryRegionOps lq_mem_ops = {
    .read_with_attrs = lq_mem_read,
    .write_with_attrs = lq_mem_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 1,
    .valid.max_access_size = 8,
    .impl.min_access_size = 1,
    .impl.max_access_size = 8,
};

/* --- the libintc-apic class --- */

static void lq_apic_realize(DeviceState *dev, Error **errp)
{
    LibintcApicState *a = LIBINTC_APIC(dev);
    APICCommonState *s = &a->parent_obj;
    uint32_t i;

    if (!lq.m && !lq_machine_create(s->cpu, errp)) {
        return;
    }
    for (i = 0; i < lq.n_cpus && lq.apic_ids[i] != s->initial_apic_id; i++) {
    }
    if (i == lq.n_cpus || lq.cpus[i]) {
        error_setg(errp, "x-libintc=on: APIC ID %u is not a free CPU of the "
                   "libintc machine", s->initial_apic_id);
        return;
    }
    a->index = i;
    a->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, lq_timer_cb, a);
    lq.cpus[i] = a;
    /* Mapped by x86_cpu_apic_realize for the first APIC only, as stock. */
    memory_region_init_io(&s->io_memory, OBJECT(s), &lq_mem_ops, NULL,
                          "libintc-apic-msi", APIC_SPACE_SIZE);
    /* An EOI's ioapic_eoi_broadcast writes back into this region. */
    s->io_memory.disable_reentrancy_guard = true;
    s->vapic_control = 0;       /* no kvmvapic: it patches TPR accesses */
    msi_nonbroken = true;
}

static void lq_apic_unrealize(DeviceState *dev)
{
    LibintcApicState *a = LIBINTC_APIC(dev);

    timer_free(a->timer);
    lq.cpus[a->index] = NULL;
}

/* Runs an APIC call from a thread that may not hold the BQL. */
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

/* WRMSR IA32_APIC_BASE (helper_wrmsr, no BQL); #GP is not raised yet. */
static void lq_apic_set_base(APICCommonState *s, uint64_t val)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    LQ_WITH_BQL({
        intc_lapic_msr_write(lq_lapic(a), 0x1b, val);
        lq_sync(a);
    });
}

/* CR8 write (BQL held), CR8 = TPR[7:4]. */
static void lq_apic_set_tpr(APICCommonState *s, uint8_t val)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    intc_lapic_set_tpr(lq_lapic(a), val << 4);
    lq_sync(a);
}

/* CR8 read (helper_read_crN holds no BQL). */
static uint8_t lq_apic_get_tpr(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);
    uint8_t tpr;

    LQ_WITH_BQL(tpr = intc_lapic_get_tpr(lq_lapic(a)));
    return tpr >> 4;
}

static void lq_apic_vapic_base_update(APICCommonState *s)
{
}

/* The monitor's nmi: a pulse on LINT1, as the board wires it. */
static void lq_apic_external_nmi(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    intc_lapic_set_lint(lq_lapic(a), 1, true);
    intc_lapic_set_lint(lq_lapic(a), 1, false);
    lq_sync(a);
}

/*
 * do_cpu_init (CPU_INTERRUPT_INIT) through apic_init_reset: the CPU takes
 * its latched INIT (an AP then waits for SIPI).  An INIT QEMU raised
 * itself, with none latched, resets the APIC as INIT does.
 */
static void lq_apic_init_reset(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);
    intc_lapic *l = lq_lapic(a);

    if (intc_lapic_take(l, INTC_PEND_INIT, NULL) != 1) {
        intc_lapic_reset(l, true);
    }
    lq_sync(a);
}

/* After VT-d remapping (intel_iommu.c): the remapped message. */
static void lq_apic_send_msi(MSIMessage *msi)
{
    lq_qemu_msi(msi->address, msi->data);
}

/* Cold reset (x86_cpu_after_reset, machine reset): RESET. */
static void lq_apic_cold_reset(DeviceState *dev)
{
    LibintcApicState *a = LIBINTC_APIC(dev);
    APICCommonState *s = &a->parent_obj;

    s->apicbase = APIC_DEFAULT_ADDRESS | MSR_IA32_APICBASE_ENABLE |
                  (s->apicbase & MSR_IA32_APICBASE_BSP);
    s->id = s->initial_apic_id;
    intc_lapic_reset(lq_lapic(a), false);
    lq_sync(a);
}

static void lq_apic_class_init(ObjectClass *oc, void *data)
{
    APICCommonClass *k = APIC_COMMON_CLASS(oc);

    k->realize = lq_apic_realize;
    k->unrealize = lq_apic_unrealize;
    k->set_base = lq_apic_set_base;
    k->set_tpr = lq_apic_set_tpr;
    k->get_tpr = lq_apic_get_tpr;
    k->vapic_base_update = lq_apic_vapic_base_update;
    k->external_nmi = lq_apic_external_nmi;
    k->reset = lq_apic_init_reset;
    k->send_msi = lq_apic_send_msi;
    DEVICE_CLASS(oc)->reset = lq_apic_cold_reset;
}

static const TypeInfo lq_apic_info = {
    .name = TYPE_LIBINTC_APIC,
    .parent = TYPE_APIC_COMMON,
    .instance_size = sizeof(LibintcApicState),
    .class_init = lq_apic_class_init,
};

static void lq_register_types(void)
{
    type_register_static(&lq_apic_info);
}

type_init(lq_register_types)

/* --- hooks in hw/i386/x86.c and hw/intc/apic.c --- */

/*
 * INTA (cpu_get_pic_interrupt, from x86_cpu_exec_interrupt with the BQL):
 * ExtINT first, as QEMU's APIC, from the 8259; else the APIC's vector
 * (a spurious acknowledge delivers SVR[7:0]).  -1: nothing, the CPU loop
 * delivers nothing (seg_helper.c).
 */
int libintc_qemu_get_pic_interrupt(X86CPU *cpu)
{
    LibintcApicState *a = LIBINTC_APIC(cpu->apic_state);
    intc_lapic *l = lq_lapic(a);
    int v;

    if (intc_lapic_pending(l) & INTC_PEND_EXTINT) {
        intc_lapic_take(l, INTC_PEND_EXTINT, NULL);
        v = isa_pic ? pic_read_irq(isa_pic) : -1;
    } else {
        v = intc_lapic_ack(l);
        v = v < 0 ? -1 : v & 0xff;
    }
    lq_sync(a);
    return v;
}

/* The 8259's INTR, wired to every CPU's LINT0 (pic_irq_request). */
void libintc_qemu_apic_deliver_pic_intr(DeviceState *dev, int level)
{
    LibintcApicState *a;

    if (!dev) {
        return;
    }
    a = LIBINTC_APIC(dev);
    intc_lapic_set_lint(lq_lapic(a), 0, level);
    lq_sync(a);
}

/* Every CPU sees LINT0; libintc applies its LVT (or the disabled APIC's
   through-local mode). */
int libintc_qemu_apic_accept_pic_intr(DeviceState *dev)
{
    return dev ? 1 : -1;
}

int libintc_qemu_apic_get_highest_priority_irr(DeviceState *dev)
{
    int v;

    if (!dev) {
        return -1;
    }
    v = intc_lapic_ack_peek(lq_lapic(LIBINTC_APIC(dev)));
    return v >= 0 && v <= 255 ? v : -1;
}

/* CPU_INTERRUPT_POLL is never raised by the glue; sync if it comes. */
void libintc_qemu_apic_poll_irq(DeviceState *dev)
{
    if (dev) {
        lq_sync(LIBINTC_APIC(dev));
    }
}

/* do_cpu_sipi: take the latched SIPI, start at its vector. */
void libintc_qemu_apic_sipi(DeviceState *dev)
{
    LibintcApicState *a;
    uint8_t vector;

    if (!dev) {
        return;
    }
    a = LIBINTC_APIC(dev);
    cpu_reset_interrupt(CPU(a->parent_obj.cpu), CPU_INTERRUPT_SIPI);
    if (intc_lapic_take(lq_lapic(a), INTC_PEND_SIPI, &vector) == 1) {
        cpu_x86_load_seg_cache_sipi(a->parent_obj.cpu, vector);
    }
    lq_sync(a);
}

int libintc_qemu_apic_get_interrupt(DeviceState *dev)
{
    return dev ? libintc_qemu_get_pic_interrupt(LIBINTC_APIC(dev)->parent_obj.cpu)
               : -1;
}
