/*
 * libFuzzer target: the I/O APIC surface.  Input: byte 0 picks the machine
 * configuration (fuzz_common.h: one or two IOAPICs, versions 0x11 and 0x20,
 * level/edge and active-low wiring, storm throttle), then operations: MMIO
 * of any offset, size and value (and the architectural IOREGSEL/IOWIN
 * pair), device lines through set_irq / set_irq_source / set_gsi, the
 * CPUs' side (APIC enable, ack, EOI broadcasts, directed EOI), time and
 * the throttle timer.  After every operation: intc_machine_check().
 */
#include "fuzz_common.h"

enum {
    OP_MMIO_READ,
    OP_MMIO_WRITE,
    OP_INDIRECT_WRITE,
    OP_RTE,
    OP_SET_IRQ,
    OP_SET_IRQ_SOURCE,
    OP_SET_GSI,
    OP_SERVICE,
    OP_LAPIC_WRITE,
    OP_ADVANCE,
    OP_STALE_EXPIRE,
    OP_DIRECTED_EOI,
    OP_QUERY,
    OP_ENABLE_ALL,
    OP_COUNT
};

static intc_ioapic *pick_ioapic(fz_host *h, uint8_t b)
{
    if (h->n_ioapics == 0)
        return NULL;
    return intc_machine_ioapic(h->m, b % h->n_ioapics);
}

/* IOREGSEL then IOWIN, the architectural 32-bit accesses. */
static void indirect_write(fz_host *h, intc_ioapic *io, uint8_t reg,
                           uint32_t val)
{
    fz_ok(intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, reg),
          "ioregsel");
    fz_check(h->m, "ioregsel");
    fz_ok(intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, val), "iowin");
    fz_check(h->m, "iowin");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_host *h;
    fz_in in;
    unsigned ops = 0;
    uint8_t sel;

    if (size < 1)
        return 0;
    fz_init(&in, data, size);
    h = fz_host_new(0);
    sel = fz_u8(&in);
    /* Configuration 7 has no IOAPIC: use the one with two instead. */
    if (sel % FZ_N_CONFIGS == 7)
        sel = 2;
    fz_new_machine(h, sel);

    while (!in.done && fz_left(&in) > 0 && ops++ < FZ_MAX_OPS) {
        uint8_t op = fz_u8(&in) % OP_COUNT;
        uint8_t unit = fz_u8(&in);
        intc_ioapic *io = pick_ioapic(h, unit);
        intc_lapic *l = fz_lapic(h, unit);
        uint32_t npins = intc_ioapic_pin_count(io);

        switch (op) {
        case OP_MMIO_READ: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            uint64_t v = 0;
            intc_err e;
            if (!(off & 0x8000))
                off &= 0xff;
            e = fz_ok(intc_ioapic_mmio_read(io, off, sz, &v),
                      "intc_ioapic_mmio_read");
            if (e == INTC_OK && sz < 8 && (v >> (8 * sz)))
                FZ_ABORT("ioapic read %#x/%u returned %#llx", off, sz,
                         (unsigned long long)v);
            if ((sz == 1 || sz == 2 || sz == 4 || sz == 8) &&
                off + sz <= 256 && e != INTC_OK)
                FZ_ABORT("ioapic read %#x/%u: %s", off, sz,
                         intc_err_name(e));
            fz_check(h->m, "intc_ioapic_mmio_read");
            break;
        }
        case OP_MMIO_WRITE: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            uint64_t v = fz_u64(&in);
            if (!(off & 0x8000))
                off &= 0xff;
            fz_ok(intc_ioapic_mmio_write(io, off, sz, v),
                  "intc_ioapic_mmio_write");
            fz_check(h->m, "intc_ioapic_mmio_write");
            break;
        }
        case OP_INDIRECT_WRITE: {
            uint8_t reg = fz_u8(&in);
            indirect_write(h, io, reg, fz_u32(&in));
            break;
        }
        case OP_RTE: { /* program a whole entry: high half, then low */
            uint32_t pin = fz_u8(&in) % (npins ? npins : 1);
            uint32_t lo = fz_u32(&in), hi = fz_u32(&in);
            uint64_t rte = 0;
            indirect_write(h, io, (uint8_t)(0x11 + 2 * pin), hi);
            indirect_write(h, io, (uint8_t)(0x10 + 2 * pin), lo);
            fz_ok(intc_ioapic_rte(io, pin, &rte), "intc_ioapic_rte");
            break;
        }
        case OP_SET_IRQ: {
            uint8_t b = fz_u8(&in);
            intc_err e = fz_ok(intc_ioapic_set_irq(io, b & 0x7f, b >> 7),
                               "intc_ioapic_set_irq");
            if ((b & 0x7fu) < npins && e != INTC_OK)
                FZ_ABORT("set_irq(%u): %s", b & 0x7f, intc_err_name(e));
            fz_check(h->m, "intc_ioapic_set_irq");
            break;
        }
        case OP_SET_IRQ_SOURCE: {
            uint8_t b = fz_u8(&in), s = fz_u8(&in);
            fz_ok(intc_ioapic_set_irq_source(io, b & 0x7f, s & 0x3f, b >> 7),
                  "intc_ioapic_set_irq_source");
            fz_check(h->m, "intc_ioapic_set_irq_source");
            break;
        }
        case OP_SET_GSI: {
            uint8_t b = fz_u8(&in);
            fz_ok(intc_machine_set_gsi(h->m, b & 0x3f, b >> 7),
                  "intc_machine_set_gsi");
            fz_check(h->m, "intc_machine_set_gsi");
            break;
        }
        case OP_SERVICE:
            fz_cpu_service(h, l, fz_u8(&in));
            break;
        case OP_LAPIC_WRITE: { /* SVR, TPR, LVTs, LDR/DFR for logical */
            uint32_t off = (uint32_t)fz_u8(&in) << 4;
            fz_ok(intc_lapic_mmio_write(l, off, 4, fz_u32(&in)),
                  "intc_lapic_mmio_write");
            fz_check(h->m, "intc_lapic_mmio_write");
            break;
        }
        case OP_ADVANCE:
            fz_advance(h, fz_u16(&in));
            break;
        case OP_STALE_EXPIRE:
            fz_ok(intc_ioapic_timer_expired(io, h->now),
                  "intc_ioapic_timer_expired");
            fz_check(h->m, "intc_ioapic_timer_expired (stale)");
            break;
        case OP_DIRECTED_EOI:
            fz_ok(intc_ioapic_mmio_write(io, INTC_IOAPIC_EOI, 4, fz_u8(&in)),
                  "ioapic eoi");
            fz_check(h->m, "ioapic eoi");
            break;
        case OP_QUERY: {
            uint32_t pin = fz_u8(&in);
            uint64_t rte = 0;
            intc_err e = fz_ok(intc_ioapic_rte(io, pin, &rte),
                               "intc_ioapic_rte");
            if (pin < npins && e != INTC_OK)
                FZ_ABORT("intc_ioapic_rte(%u): %s", pin, intc_err_name(e));
            (void)intc_ioapic_line(io, pin);
            (void)intc_ioapic_gsi_base(io);
            break;
        }
        case OP_ENABLE_ALL: /* software-enable every APIC */
            for (uint32_t c = 0; c < h->n_cpus; c++) {
                fz_ok(intc_lapic_mmio_write(intc_machine_lapic(h->m, c),
                                            INTC_LAPIC_SVR, 4,
                                            0x100u | fz_u8(&in)),
                      "svr");
                fz_check(h->m, "svr");
            }
            break;
        }
    }
    fz_host_free(h);
    return 0;
}
