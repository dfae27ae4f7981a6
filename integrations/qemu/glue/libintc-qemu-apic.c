/*
 * libintc inside QEMU 7.2: every CPU's Local APIC (the libintc-apic
 * class), the 0xFEE00000 region (xAPIC registers and MSI writes), INTA and
 * the hooks in hw/intc/apic.c (patch 0002).  The rules the glue keeps are
 * in libintc-qemu.h.
 *
 * Copied into QEMU's tree as hw/i386/libintc-qemu-apic.c by
 * integrations/qemu/build.sh.
 */
#include "qemu/osdep.h"
#include "qemu/qemu-print.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "hw/core/cpu.h"
#include "hw/intc/i8259.h"
#include "hw/pci/msi.h"
#include "hw/i386/libintc-qemu-int.h"

static void lq_raise(CPUState *cs, int mask)
{
    if ((cs->interrupt_request & mask) != mask) {
        cpu_interrupt(cs, mask);
    }
}

/*
 * Make the CPU's interrupt_request agree with libintc's pending set.  NMI
 * and SMI are taken here (QEMU's request bit is then the latch); INIT and
 * SIPI stay latched in libintc until the CPU consumes them (do_cpu_init
 * -> lq_apic_init_reset, apic_sipi), so a snapshot holds them.
 * CPU_INTERRUPT_HARD follows "a vector or ExtINT is deliverable" exactly,
 * both ways, so the CPU loop never asks for a vector that is not there.
 */
void libintc_qemu_sync(LibintcApicState *a)
{
    CPUState *cs = CPU(a->parent_obj.cpu);
    intc_lapic *l = libintc_qemu_lapic(a);
    unsigned p = intc_lapic_pending(l);

    if (p & (INTC_PEND_NMI | INTC_PEND_SMI)) {
        if ((p & INTC_PEND_NMI) &&
            intc_lapic_take(l, INTC_PEND_NMI, NULL) == 1) {
            cpu_interrupt(cs, CPU_INTERRUPT_NMI);
        }
        if ((p & INTC_PEND_SMI) &&
            intc_lapic_take(l, INTC_PEND_SMI, NULL) == 1) {
            cpu_interrupt(cs, CPU_INTERRUPT_SMI);
        }
        /* A take may change the rest (lapic.h): read it again. */
        p = intc_lapic_pending(l);
    }
    if (p & INTC_PEND_INIT) {
        lq_raise(cs, CPU_INTERRUPT_INIT);
    }
    if (p & INTC_PEND_SIPI) {
        lq_raise(cs, CPU_INTERRUPT_SIPI);
    }
    if (p & (INTC_PEND_INTR | INTC_PEND_EXTINT)) {
        lq_raise(cs, CPU_INTERRUPT_HARD);
    } else if (cs->interrupt_request & CPU_INTERRUPT_HARD) {
        cpu_reset_interrupt(cs, CPU_INTERRUPT_HARD);
    }
}

/* --- the 0xFEE00000 region: xAPIC registers and MSI writes --- */

/*
 * The APIC whose registers an access reaches: a CPU's own (TCG CPU
 * accesses carry specified attributes with requester ID 0, and
 * current_cpu) in the first 4 KiB; everything else is an MSI write (a
 * device's, with its requester ID, or unspecified: an HPET FSB message,
 * qtest).
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

static MemTxResult lq_mem_read(void *opaque, hwaddr off, uint64_t *data,
                               unsigned size, MemTxAttrs attrs)
{
    LibintcApicState *a = lq_cpu_access(off, size, attrs);
    uint64_t v = 0;

    assert(qemu_mutex_iothread_locked());
    *data = 0;
    if (a && intc_lapic_mmio_read(libintc_qemu_lapic(a), off, size, &v) ==
             INTC_OK) {
        *data = v;
    }
    return MEMTX_OK;
}

static MemTxResult lq_mem_write(void *opaque, hwaddr off, uint64_t data,
                                unsigned size, MemTxAttrs attrs)
{
    LibintcApicState *a = lq_cpu_access(off, size, attrs);

    assert(qemu_mutex_iothread_locked());
    if (!a) {
        intc_msi_send(libintc_qemu.m, APIC_DEFAULT_ADDRESS + off, data,
                      attrs.unspecified ? 0xffff : attrs.requester_id, NULL);
        return MEMTX_OK;
    }
    intc_lapic_mmio_write(libintc_qemu_lapic(a), off, size, data);
    libintc_qemu_sync(a);
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

static void lq_timer_cb(void *opaque)
{
    LibintcApicState *a = opaque;

    intc_lapic_timer_expired(libintc_qemu_lapic(a),
                             qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL));
}

static void lq_apic_realize(DeviceState *dev, Error **errp)
{
    LibintcApicState *a = LIBINTC_APIC(dev);
    APICCommonState *s = &a->parent_obj;
    LibintcQemu *q = &libintc_qemu;
    uint32_t i;

    /*
     * libintc's CPUs are fixed at creation: a CPU plugged later (after
     * another was unplugged) would find an APIC in whatever state the
     * old one left.
     */
    if (DEVICE(s->cpu)->hotplugged) {
        error_setg(errp, "x-libintc=on does not support CPU hotplug");
        return;
    }
    if (!q->m && !libintc_qemu_machine_create(s->cpu, errp)) {
        return;
    }
    for (i = 0; i < q->n_cpus && q->apic_ids[i] != s->initial_apic_id; i++) {
    }
    if (i == q->n_cpus || q->cpus[i]) {
        error_setg(errp, "x-libintc=on: APIC ID %u is not a free CPU of the "
                   "libintc machine", s->initial_apic_id);
        return;
    }
    a->index = i;
    a->lint0 = -1;
    a->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, lq_timer_cb, a);
    q->cpus[i] = a;
    /* Mapped by x86_cpu_apic_realize for the first APIC only, as stock. */
    memory_region_init_io(&s->io_memory, OBJECT(s), &lq_mem_ops, NULL,
                          "libintc-apic-msi", APIC_SPACE_SIZE);
    /*
     * As QEMU's APIC: the region every CPU and every MSI goes through
     * must never refuse a write as re-entrant (MEMTX_ACCESS_ERROR would
     * lose an interrupt).  The glue itself never writes back into it.
     */
    s->io_memory.disable_reentrancy_guard = true;
    s->vapic_control = 0;       /* no kvmvapic: it patches TPR accesses */
    msi_nonbroken = true;
}

/*
 * A CPU unplugged (the guest ejected it): its libintc APIC stays in the
 * machine, so it is reset and globally disabled, which makes it accept
 * no interrupt (11.4.3) instead of collecting them for a CPU that is
 * gone.
 */
static void lq_apic_unrealize(DeviceState *dev)
{
    LibintcApicState *a = LIBINTC_APIC(dev);
    intc_lapic *l = libintc_qemu_lapic(a);

    timer_free(a->timer);
    a->timer = NULL;
    libintc_qemu.cpus[a->index] = NULL;
    intc_lapic_reset(l, false);
    intc_lapic_msr_write(l, 0x1b, APIC_DEFAULT_ADDRESS);
}

/*
 * cpu_set_apic_base: reached only from accelerators other than TCG (whose
 * WRMSR goes through libintc_qemu_msr first), and x-libintc=on refuses
 * them; kept right anyway.  #GP cannot be raised from here.
 */
static void lq_apic_set_base(APICCommonState *s, uint64_t val)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    LQ_WITH_BQL({
        intc_lapic_msr_write(libintc_qemu_lapic(a), 0x1b, val);
        libintc_qemu_sync(a);
    });
}

/* CR8 write (BQL held), CR8 = TPR[7:4]. */
static void lq_apic_set_tpr(APICCommonState *s, uint8_t val)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    intc_lapic_set_tpr(libintc_qemu_lapic(a), val << 4);
    libintc_qemu_sync(a);
}

/* CR8 read (helper_read_crN holds no BQL). */
static uint8_t lq_apic_get_tpr(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);
    uint8_t tpr;

    LQ_WITH_BQL(tpr = intc_lapic_get_tpr(libintc_qemu_lapic(a)));
    return tpr >> 4;
}

static void lq_apic_vapic_base_update(APICCommonState *s)
{
}

/* The monitor's nmi: a pulse on LINT1, as the board wires it. */
static void lq_apic_external_nmi(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);

    intc_lapic_set_lint(libintc_qemu_lapic(a), 1, true);
    intc_lapic_set_lint(libintc_qemu_lapic(a), 1, false);
    libintc_qemu_sync(a);
}

/*
 * do_cpu_init (CPU_INTERRUPT_INIT) through apic_init_reset: the CPU takes
 * its latched INIT (an AP then waits for SIPI).  An INIT QEMU raised
 * itself, with none latched, resets the APIC as INIT does.
 */
static void lq_apic_init_reset(APICCommonState *s)
{
    LibintcApicState *a = LIBINTC_APIC(s);
    intc_lapic *l = libintc_qemu_lapic(a);

    if (intc_lapic_take(l, INTC_PEND_INIT, NULL) != 1) {
        intc_lapic_reset(l, true);
    }
    libintc_qemu_sync(a);
}

/*
 * apic_get_class()->send_msi: under x-libintc=on only QEMU's VT-d calls
 * it (AMD-Vi is refused, and VT-d remapping is libintc's,
 * libintc_qemu_vtd_ir_write), for the interrupts the remapping hardware
 * itself generates: fault events and invalidation completion events
 * (vtd_generate_interrupt).  Those are never remapped (VT-d 5.1.6), so
 * they bypass libintc's engine: decoded as a compatibility-format
 * message (SDM 11.11.1; with EIM the upper address register, bits 63:40
 * here, holds destination bits 31:8) and delivered as they are.  An
 * address outside 0xFEExxxxx is no interrupt (an ordinary write, which
 * the fault event registers cannot make): dropped.
 */
static void lq_apic_send_msi(MSIMessage *msi)
{
    uint64_t a = msi->address;
    uint32_t d = msi->data;
    intc_irq irq = {
        .dest = (uint32_t)(a >> 12 & 0xff) |
                (uint32_t)(a >> 32 & 0xffffff00),
        .vector = d & 0xff,
        .dm = d >> 8 & 7,
        .logical = a & (1u << 2),
        .level = d & (1u << 15),
        .rh = a & (1u << 3),
    };

    if ((a & 0xfff00000u) != APIC_DEFAULT_ADDRESS || (d >> 16)) {
        return;
    }
    irq.x2apic = irq.dest > 0xff;
    intc_irq_deliver(libintc_qemu.m, &irq, NULL);
}

/* Cold reset (x86_cpu_after_reset, machine reset): RESET. */
static void lq_apic_cold_reset(DeviceState *dev)
{
    LibintcApicState *a = LIBINTC_APIC(dev);
    APICCommonState *s = &a->parent_obj;

    s->apicbase = APIC_DEFAULT_ADDRESS | MSR_IA32_APICBASE_ENABLE |
                  (s->apicbase & MSR_IA32_APICBASE_BSP);
    s->id = s->initial_apic_id;
    intc_lapic_reset(libintc_qemu_lapic(a), false);
    libintc_qemu_sync(a);
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

static void lq_apic_register_types(void)
{
    type_register_static(&lq_apic_info);
}

type_init(lq_apic_register_types)

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
    intc_lapic *l = libintc_qemu_lapic(a);
    int v;

    if (intc_lapic_pending(l) & INTC_PEND_EXTINT) {
        intc_lapic_take(l, INTC_PEND_EXTINT, NULL);
        v = isa_pic ? pic_read_irq(isa_pic) : -1;
    } else {
        v = intc_lapic_ack(l);
        v = v < 0 ? -1 : v & 0xff;
    }
    libintc_qemu_sync(a);
    return v;
}

/*
 * The 8259's INTR, wired to every CPU's LINT0 (pic_irq_request).  QEMU
 * passes the 8259's output on to every CPU whenever the 8259 re-evaluates
 * it, changed or not (each edge of a serial line, say); only a change is
 * an input of the APIC, so repeats stop here.
 */
void libintc_qemu_apic_deliver_pic_intr(DeviceState *dev, int level)
{
    LibintcApicState *a;

    if (!dev) {
        return;
    }
    a = LIBINTC_APIC(dev);
    level = !!level;
    if (a->lint0 == level) {
        return;
    }
    a->lint0 = level;
    intc_lapic_set_lint(libintc_qemu_lapic(a), 0, level);
    libintc_qemu_sync(a);
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
    v = intc_lapic_ack_peek(libintc_qemu_lapic(LIBINTC_APIC(dev)));
    return v >= 0 && v <= 255 ? v : -1;
}

/* CPU_INTERRUPT_POLL is never raised by the glue; sync if it comes. */
void libintc_qemu_apic_poll_irq(DeviceState *dev)
{
    if (dev) {
        libintc_qemu_sync(LIBINTC_APIC(dev));
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
    if (intc_lapic_take(libintc_qemu_lapic(a), INTC_PEND_SIPI, &vector) ==
        1) {
        cpu_x86_load_seg_cache_sipi(a->parent_obj.cpu, vector);
    }
    libintc_qemu_sync(a);
}

int libintc_qemu_apic_get_interrupt(DeviceState *dev)
{
    return dev ? libintc_qemu_get_pic_interrupt(
                     LIBINTC_APIC(dev)->parent_obj.cpu)
               : -1;
}

/* --- patch 0006: "info lapic" (target/i386/cpu-dump.c) --- */

/*
 * Register off (the xAPIC offset) as the CPU would read it now: through
 * the xAPIC page or the x2APIC MSR; 0 where it reads nothing (disabled,
 * write-only).  A read of the current count may deliver an expiry that
 * was due: the same catch-up the guest's own read would make.
 */
static uint64_t lq_dump_reg(intc_lapic *l, bool x2apic, uint32_t off)
{
    uint64_t v = 0;

    if (x2apic) {
        intc_lapic_msr_read(l, 0x800 + off / 16, &v);
    } else if (intc_lapic_mmio_read(l, off, 4, &v) != INTC_OK) {
        v = 0;
    }
    return v;
}

/* The vectors set in the 8 registers from base (ISR, TMR, IRR). */
static void lq_dump_vectors(intc_lapic *l, bool x2apic, const char *name,
                            uint32_t base)
{
    bool none = true;
    unsigned r, b;

    qemu_printf("%s\t", name);
    for (r = 0; r < 8; r++) {
        uint32_t w = lq_dump_reg(l, x2apic, base + r * 0x10);

        for (b = 0; b < 32; b++) {
            if (w & (1u << b)) {
                qemu_printf("%u ", r * 32 + b);
                none = false;
            }
        }
    }
    qemu_printf("%s\n", none ? "(none)" : "");
}

/*
 * The monitor's "info lapic" (BQL held): libintc's registers of the
 * CPU's APIC, read as the CPU would read them (QEMU's own dump would
 * show apic-common's unused fields).
 */
void libintc_qemu_dump_lapic(X86CPU *cpu, int flags)
{
    static const struct { const char *name; uint32_t off; } regs[] = {
        { "ID", 0x20 }, { "VER", 0x30 }, { "TPR", 0x80 }, { "PPR", 0xa0 },
        { "LDR", 0xd0 }, { "DFR", 0xe0 }, { "SVR", 0xf0 }, { "ESR", 0x280 },
        { "LVTT", 0x320 }, { "LVTTHMR", 0x330 }, { "LVTPC", 0x340 },
        { "LVT0", 0x350 }, { "LVT1", 0x360 }, { "LVTERR", 0x370 },
        { "TMICT", 0x380 }, { "TMCCT", 0x390 }, { "TDCR", 0x3e0 },
    };
    intc_lapic *l = libintc_qemu_lapic(LIBINTC_APIC(cpu->apic_state));
    uint64_t base = 0, icr = 0, deadline = 0;
    bool x2apic;
    unsigned i;

    intc_lapic_msr_read(l, 0x1b, &base);
    x2apic = (base & MSR_IA32_APICBASE_ENABLE) &&
             (base & MSR_IA32_APICBASE_EXTD);
    intc_lapic_msr_read(l, 0x6e0, &deadline);
    qemu_printf("libintc local APIC of CPU %u: IA32_APIC_BASE 0x%016" PRIx64
                " (%s)\n", CPU(cpu)->cpu_index, base,
                !(base & MSR_IA32_APICBASE_ENABLE) ? "disabled"
                : x2apic ? "x2APIC" : "xAPIC");
    for (i = 0; i < ARRAY_SIZE(regs); i++) {
        qemu_printf("%s 0x%08" PRIx64 "%s", regs[i].name,
                    lq_dump_reg(l, x2apic, regs[i].off),
                    i % 4 == 3 || i + 1 == ARRAY_SIZE(regs) ? "\n" : "  ");
    }
    if (x2apic) {
        intc_lapic_msr_read(l, 0x830, &icr);
    } else {
        icr = lq_dump_reg(l, false, 0x300) |
              lq_dump_reg(l, false, 0x310) << 32;
    }
    qemu_printf("ICR 0x%016" PRIx64 "  TSC_DEADLINE 0x%016" PRIx64 "\n",
                icr, deadline);
    lq_dump_vectors(l, x2apic, "ISR", 0x100);
    lq_dump_vectors(l, x2apic, "TMR", 0x180);
    lq_dump_vectors(l, x2apic, "IRR", 0x200);
}
