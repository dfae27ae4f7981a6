/*
 * The body of the two IOMMU targets (fuzz_vtd.c, fuzz_amdvi.c): the same
 * operations against a VT-d or an AMD-Vi unit.  The input fills a 64 KiB
 * guest-memory window (FZ_GM_BASE) that holds whatever the unit reads and
 * writes: VT-d IRTEs, posted-interrupt descriptors, invalidation queue and
 * wait status; AMD-Vi device table, interrupt tables, command buffer and
 * event log.  Operations: register writes/reads of any shape, guest-memory
 * writes (raw and as whole table entries at the conventional places
 * below), the engine API (set_table, invalidate, remap, deliver of any
 * intc_irq), interrupt messages through the unit (MSI and IOAPIC), the
 * CPUs' side, failing DMA.  After every operation: intc_machine_check().
 *
 * Conventional layout of the window (seeds use it; the fuzzer may not):
 *   +0x0000  VT-d IRT / AMD-Vi device table
 *   +0x4000  AMD-Vi interrupt remapping tables
 *   +0x8000  VT-d invalidation queue / AMD-Vi command buffer
 *   +0xa000  posted-interrupt descriptors / AMD-Vi event log
 *   +0xc000  wait-descriptor status / completion-wait store
 */
#ifndef INTC_FUZZ_IOMMU_H
#define INTC_FUZZ_IOMMU_H

#include "fuzz_common.h"

enum {
    IO_MMIO_READ,
    IO_MMIO_WRITE,
    IO_REG_WRITE,
    IO_MEM_FILL,
    IO_MEM_W64,
    IO_ENTRY,
    IO_SET_TABLE,
    IO_INVALIDATE,
    IO_REMAP,
    IO_DELIVER,
    IO_SEND,
    IO_IOAPIC,
    IO_SERVICE,
    IO_ENABLE_ALL,
    IO_ADVANCE,
    IO_FAIL_DMA,
    IO_LAPIC_WRITE,
    IO_SYNC_PIR,
    IO_COUNT
};

static inline uint64_t fz_iommu_addr(fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b & 0x80)
        return fz_u64(in);
    return INTC_MSI_ADDR_BASE | (fz_u32(in) & 0xfffffu);
}

static inline int fz_iommu_one(unsigned kind, const uint8_t *data,
                               size_t size)
{
    fz_host *h;
    fz_in in;
    intc_iommu *u;
    unsigned ops = 0;
    uint32_t mmio_size = kind == INTC_IOMMU_VTD ? 0x1000u : 0x4000u;

    if (size < 1)
        return 0;
    fz_init(&in, data, size);
    h = fz_host_new(1);
    fz_new_machine(h, fz_iommu_config(kind, fz_u8(&in)));
    u = intc_machine_iommu(h->m);
    if (!u)
        FZ_ABORT("configuration without its IOMMU");

    while (!in.done && fz_left(&in) > 0 && ops++ < FZ_MAX_OPS) {
        uint8_t op = fz_u8(&in) % IO_COUNT;

        switch (op) {
        case IO_MMIO_READ: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            uint64_t v = 0;
            intc_err e;
            if (!(off & 0x8000) || kind == INTC_IOMMU_AMDVI)
                off %= mmio_size + 8;
            e = fz_ok(intc_iommu_mmio_read(u, off, sz, &v),
                      "intc_iommu_mmio_read");
            if (e == INTC_OK && sz < 8 && (v >> (8 * sz)))
                FZ_ABORT("iommu read %#x/%u returned %#llx", off, sz,
                         (unsigned long long)v);
            fz_check(h->m, "intc_iommu_mmio_read");
            break;
        }
        case IO_MMIO_WRITE: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            uint64_t v = fz_u64(&in);
            if (!(off & 0x8000) || kind == INTC_IOMMU_AMDVI)
                off %= mmio_size + 8;
            fz_ok(intc_iommu_mmio_write(u, off, sz, v),
                  "intc_iommu_mmio_write");
            fz_check(h->m, "intc_iommu_mmio_write");
            break;
        }
        case IO_REG_WRITE: { /* aligned 4- or 8-byte, the legal shapes */
            uint16_t b = fz_u16(&in);
            unsigned sz = (b & 1) ? 8 : 4;
            uint32_t off = ((uint32_t)(b >> 1) * sz) % mmio_size;
            uint64_t v = sz == 8 ? fz_u64(&in) : fz_u32(&in);
            fz_ok(intc_iommu_mmio_write(u, off, sz, v),
                  "intc_iommu_mmio_write");
            fz_check(h->m, "intc_iommu_mmio_write");
            break;
        }
        case IO_MEM_FILL: {
            uint32_t off = fz_u16(&in);
            fz_mem_fill(h, &in, off, fz_u8(&in) % 64);
            break;
        }
        case IO_MEM_W64: {
            uint32_t off = fz_u16(&in) & ~7u;
            fz_mem_w64(h, off, fz_u64(&in));
            break;
        }
        case IO_ENTRY: { /* 16 or 32 bytes at a conventional table slot */
            static const uint32_t base[4] = {0x0000, 0x4000, 0x8000, 0xa000};
            uint8_t b = fz_u8(&in);
            uint32_t idx = fz_u8(&in);
            uint32_t esz = (b & 4) ? 32 : 16;
            uint32_t off = base[b & 3] + idx * esz;
            for (uint32_t i = 0; i < esz; i += 8)
                fz_mem_w64(h, off + i, fz_u64(&in));
            break;
        }
        case IO_SET_TABLE: {
            uint8_t b = fz_u8(&in);
            uint64_t t = (b & 8) ? fz_u64(&in)
                                 : FZ_GM_BASE | (fz_u16(&in) & 0xfffu);
            fz_ok(intc_iommu_set_table(u, t, b & 1, b & 2),
                  "intc_iommu_set_table");
            fz_check(h->m, "intc_iommu_set_table");
            break;
        }
        case IO_INVALIDATE: {
            uint8_t b = fz_u8(&in);
            uint32_t idx = (b & 0x80) ? INTC_IOMMU_INV_ALL : fz_u16(&in);
            fz_ok(intc_iommu_invalidate(u, idx, b & 0x1f),
                  "intc_iommu_invalidate");
            fz_check(h->m, "intc_iommu_invalidate");
            break;
        }
        case IO_REMAP: {
            intc_irq irq;
            uint16_t sid = fz_u16(&in);
            uint64_t addr = fz_iommu_addr(&in);
            uint32_t dt = fz_u32(&in);
            uint8_t b = fz_u8(&in);
            intc_err e;
            memset(&irq, 0xa5, sizeof irq);
            e = fz_ok(intc_iommu_remap(u, sid, addr, dt, &irq),
                      "intc_iommu_remap");
            fz_check(h->m, "intc_iommu_remap");
            if (e == INTC_OK && (b & 1)) {
                fz_ok(intc_irq_deliver(h->m, &irq, NULL), "intc_irq_deliver");
                fz_check(h->m, "intc_irq_deliver");
            }
            break;
        }
        case IO_DELIVER: { /* any result a host could pass */
            intc_irq irq;
            uint8_t f = fz_u8(&in);
            memset(&irq, 0, sizeof irq);
            irq.fault = fz_u8(&in);
            irq.blocked = f & 1;
            irq.posted = f & 2;
            irq.remapped = f & 4;
            irq.logical = f & 8;
            irq.level = f & 16;
            irq.rh = f & 32;
            irq.x2apic = f & 64;
            irq.index = fz_u16(&in);
            irq.dest = fz_u32(&in);
            irq.vector = fz_u8(&in);
            irq.dm = fz_u8(&in);
            if (!(f & 128))
                irq.dm &= 7;
            fz_ok(intc_irq_deliver(h->m, &irq, NULL), "intc_irq_deliver");
            fz_check(h->m, "intc_irq_deliver");
            break;
        }
        case IO_SEND: {
            uint16_t sid = fz_u16(&in);
            uint64_t addr = fz_iommu_addr(&in);
            fz_ok(intc_msi_send(h->m, addr, fz_u32(&in), sid, NULL),
                  "intc_msi_send");
            fz_check(h->m, "intc_msi_send");
            break;
        }
        case IO_IOAPIC: { /* program an entry (maybe remappable) and pulse */
            intc_ioapic *io = intc_machine_ioapic(h->m, 0);
            uint8_t pin = fz_u8(&in) % 24;
            uint32_t lo = fz_u32(&in), hi = fz_u32(&in);
            uint8_t b = fz_u8(&in);
            fz_ok(intc_ioapic_mmio_write(io, 0, 4, 0x11u + 2u * pin), "sel");
            fz_ok(intc_ioapic_mmio_write(io, 0x10, 4, hi), "win");
            fz_ok(intc_ioapic_mmio_write(io, 0, 4, 0x10u + 2u * pin), "sel");
            fz_ok(intc_ioapic_mmio_write(io, 0x10, 4, lo), "win");
            fz_check(h->m, "ioapic rte");
            fz_ok(intc_ioapic_set_irq(io, pin, b & 1), "set_irq");
            fz_check(h->m, "intc_ioapic_set_irq");
            break;
        }
        case IO_SERVICE: {
            intc_lapic *l = fz_lapic(h, fz_u8(&in));
            fz_cpu_service(h, l, fz_u8(&in));
            break;
        }
        case IO_ENABLE_ALL: { /* software-enable; maybe x2APIC mode */
            uint8_t b = fz_u8(&in);
            for (uint32_t c = 0; c < h->n_cpus; c++) {
                intc_lapic *l = intc_machine_lapic(h->m, c);
                fz_ok(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4,
                                            0x1ffu),
                      "svr");
                fz_check(h->m, "svr");
                if (b & 1) {
                    uint64_t base = 0;
                    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
                    fz_ok(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                                               base | INTC_APIC_BASE_EXTD),
                          "x2apic");
                    fz_check(h->m, "x2apic enable");
                }
            }
            break;
        }
        case IO_ADVANCE:
            fz_advance(h, fz_u16(&in));
            break;
        case IO_FAIL_DMA:
            fz_fail_dma(h, fz_u8(&in) & 1);
            break;
        case IO_LAPIC_WRITE: {
            intc_lapic *l = fz_lapic(h, fz_u8(&in));
            uint32_t off = (uint32_t)fz_u8(&in) << 4;
            fz_ok(intc_lapic_mmio_write(l, off, 4, fz_u32(&in)),
                  "intc_lapic_mmio_write");
            fz_check(h->m, "intc_lapic_mmio_write");
            break;
        }
        case IO_SYNC_PIR: {
            intc_lapic *l = fz_lapic(h, fz_u8(&in));
            fz_ok(intc_lapic_sync_pir(l, NULL), "intc_lapic_sync_pir");
            fz_check(h->m, "intc_lapic_sync_pir");
            break;
        }
        }
    }
    fz_host_free(h);
    return 0;
}

#endif /* INTC_FUZZ_IOMMU_H */
