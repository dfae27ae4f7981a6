/*
 * libintc inside QEMU 7.2: the IOAPIC (the libintc-ioapic class, patch
 * 0004).  ioapic_init_gsi creates it instead of QEMU's "ioapic" under
 * x-libintc=on: the same child name ("ioapic" of the board), MMIO page
 * (0xFEC00000, 4 KiB) and 24 GPIO inputs (GSIs 0-23).  The registers,
 * the Remote IRR and EOI logic and the message it sends are libintc's
 * IOAPIC 0 of the machine; its messages pass through libintc's VT-d
 * engine with the source ID the DMAR table gives the IOAPIC.  The rules
 * the glue keeps are in libintc-qemu.h.
 *
 * Copied into QEMU's tree as hw/i386/libintc-qemu-ioapic.c by
 * integrations/qemu/build.sh.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "hw/sysbus.h"
#include "hw/i386/ioapic.h"
#include "hw/i386/libintc-qemu-int.h"

typedef struct LibintcIoapicState {
    SysBusDevice parent_obj;
    MemoryRegion io_memory;
    intc_ioapic *io;
} LibintcIoapicState;

#define LIBINTC_IOAPIC(obj) \
    OBJECT_CHECK(LibintcIoapicState, (obj), TYPE_LIBINTC_IOAPIC)

/*
 * A GSI's line (gsi_handler, every ISA and PCI INTx source): QEMU's
 * inputs are logical levels, as libintc's pins.  ISA IRQ 0 (the PIT, or
 * the HPET in legacy mode) is wired to pin 2, as the MADT's interrupt
 * source override says (and QEMU's IOAPIC does); it is a second source of
 * pin 2, which the 8259 cascade input 2 never drives.
 */
static void lq_ioapic_set_irq(void *opaque, int n, int level)
{
    LibintcIoapicState *s = opaque;

    assert(qemu_mutex_iothread_locked());
    if (n == 0) {
        intc_ioapic_set_irq_source(s->io, 2, 1, level);
    } else {
        intc_ioapic_set_irq_source(s->io, n, 0, level);
    }
}

/*
 * The 4 KiB page: libintc decodes the 256-byte window (IOREGSEL, IOWIN,
 * EOI); the rest of the page reads 0 and ignores writes (ioapic.h).
 * QEMU's IOAPIC aliases the window across the page instead; guests
 * address the registers at the offsets the MADT and the datasheet give.
 */
static uint64_t lq_ioapic_read(void *opaque, hwaddr off, unsigned size)
{
    LibintcIoapicState *s = opaque;
    uint64_t v = 0;

    assert(qemu_mutex_iothread_locked());
    if (intc_ioapic_mmio_read(s->io, off, size, &v) != INTC_OK) {
        v = 0;
    }
    return v;
}

static void lq_ioapic_write(void *opaque, hwaddr off, uint64_t val,
                            unsigned size)
{
    LibintcIoapicState *s = opaque;

    assert(qemu_mutex_iothread_locked());
    intc_ioapic_mmio_write(s->io, off, size, val);
}

static const MemoryRegionOps lq_ioapic_ops = {
    .read = lq_ioapic_read,
    .write = lq_ioapic_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid.min_access_size = 1,
    .valid.max_access_size = 8,
    .impl.min_access_size = 1,
    .impl.max_access_size = 8,
};

/*
 * The libintc machine exists: the CPUs (and their APICs) are realized
 * before the board creates its IOAPIC, and libintc_qemu_machine_create
 * gave the machine its IOAPIC 0.
 */
static void lq_ioapic_realize(DeviceState *dev, Error **errp)
{
    LibintcIoapicState *s = LIBINTC_IOAPIC(dev);

    if (!libintc_qemu.m || !intc_machine_ioapic(libintc_qemu.m, 0)) {
        error_setg(errp, "%s: the libintc machine has no IOAPIC (it is "
                   "created with the CPUs' libintc-apic)",
                   TYPE_LIBINTC_IOAPIC);
        return;
    }
    s->io = intc_machine_ioapic(libintc_qemu.m, 0);
    memory_region_init_io(&s->io_memory, OBJECT(s), &lq_ioapic_ops, s,
                          "ioapic", 0x1000);
    sysbus_init_mmio(SYS_BUS_DEVICE(s), &s->io_memory);
    qdev_init_gpio_in(dev, lq_ioapic_set_irq, IOAPIC_NUM_PINS);
}

static void lq_ioapic_class_init(ObjectClass *oc, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(oc);

    dc->realize = lq_ioapic_realize;
    /*
     * Reset and migration are the machine's (intc_machine_reset in the
     * glue's reset handler, the "libintc" VMState section); the board
     * creates the device, the user cannot.
     */
    dc->user_creatable = false;
    dc->desc = "I/O APIC (libintc)";
}

static const TypeInfo lq_ioapic_info = {
    .name = TYPE_LIBINTC_IOAPIC,
    .parent = TYPE_SYS_BUS_DEVICE,
    .instance_size = sizeof(LibintcIoapicState),
    .class_init = lq_ioapic_class_init,
};

static void lq_ioapic_register_types(void)
{
    type_register_static(&lq_ioapic_info);
}

type_init(lq_ioapic_register_types)
