/*
 * libFuzzer target: the Local APIC surface.  Input: byte 0 picks the
 * machine configuration (fuzz_common.h; bit 7, FZ_UNTRACED: no event
 * callback: the same path, untraced), then a list of operations, each
 * an opcode byte and its operands: xAPIC MMIO of any offset, size and
 * value; x2APIC MSRs, IA32_APIC_BASE transitions and IA32_TSC_DEADLINE;
 * CR8; LINT pins; ack/EOI/take; IPIs; posted interrupts; resets; time
 * advancing with timer expiry through a virtual clock.
 * After every operation: intc_machine_check() and the return-code oracle.
 */
#include "fuzz_common.h"

enum {
    OP_MMIO_READ,
    OP_MMIO_WRITE,
    OP_REG_WRITE,
    OP_MSR_READ,
    OP_MSR_WRITE,
    OP_APIC_BASE,
    OP_TPR,
    OP_LINT,
    OP_SERVICE,
    OP_ADVANCE,
    OP_RAISE_LVT,
    OP_RESET,
    OP_TSC_OFFSET,
    OP_POST,
    OP_SYNC_PIR,
    OP_IPI,
    OP_STALE_EXPIRE,
    OP_MACHINE_RESET,
    OP_QUERY,
    OP_X2_REG_WRITE,
    OP_COUNT
};

static uint32_t pick_msr(fz_in *in)
{
    uint8_t b = fz_u8(in);
    switch (b >> 6) {
    case 0:
    case 1:
        return 0x800u + fz_u8(in);
    case 2:
        return (b & 1) ? INTC_MSR_TSC_DEADLINE : INTC_MSR_APIC_BASE;
    default:
        return fz_u32(in);
    }
}

static bool x2_mode(intc_lapic *l)
{
    uint64_t base = 0;
    intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
    return (base & INTC_APIC_BASE_EXTD) != 0;
}

/* If the APIC has a deadline, the host must have been told it. */
static void timer_oracle(fz_host *h)
{
    for (uint32_t c = 0; c < h->n_cpus; c++) {
        uint64_t d = intc_lapic_timer_deadline(intc_machine_lapic(h->m, c));
        if (d != UINT64_MAX && d != h->deadline[c])
            FZ_ABORT("cpu %u: APIC deadline %llu, host armed %llu",
                     (unsigned)c, (unsigned long long)d,
                     (unsigned long long)h->deadline[c]);
    }
}

static void op_mmio_read(fz_host *h, intc_lapic *l, uint32_t off,
                         unsigned size)
{
    uint64_t v = 0;
    intc_err e = fz_ok(intc_lapic_mmio_read(l, off, size, &v),
                       "intc_lapic_mmio_read");
    bool legal = (size == 1 || size == 2 || size == 4 || size == 8) &&
                 off < 4096 && off + size <= 4096;
    if (legal && e != INTC_OK && e != INTC_ERR_NOT_DECODED)
        FZ_ABORT("mmio read %#x/%u: %s", off, size, intc_err_name(e));
    if (!legal && e != INTC_ERR_INVAL)
        FZ_ABORT("mmio read %#x/%u not refused: %s", off, size,
                 intc_err_name(e));
    if (e == INTC_OK && size < 8 && (v >> (8 * size)))
        FZ_ABORT("mmio read %#x/%u returned %#llx", off, size,
                 (unsigned long long)v);
    if (e == INTC_OK && size == 8 && (off & 15) == 0 && (v >> 32))
        FZ_ABORT("mmio read %#x/8: bytes 4-7 of a slot not zero", off);
    fz_check(h->m, "intc_lapic_mmio_read");
}

static void op_ipi(fz_host *h, intc_lapic *l, fz_in *in)
{
    uint32_t lo = fz_u32(in) & 0x000cdfffu;
    uint32_t dest = fz_u32(in);
    if (x2_mode(l)) {
        fz_ok(intc_lapic_msr_write(l, 0x830, (uint64_t)dest << 32 | lo),
              "wrmsr icr");
    } else {
        fz_ok(intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4, dest << 24),
              "icr hi");
        fz_check(h->m, "icr hi");
        fz_ok(intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4, lo), "icr lo");
    }
    fz_check(h->m, "ipi");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_host *h;
    fz_in in;
    uint8_t b0;
    unsigned ops = 0;

    if (size < 1)
        return 0;
    fz_init(&in, data, size);
    h = fz_host_new(1);
    b0 = fz_u8(&in);
    fz_new_machine_opt(h, b0, b0 & FZ_UNTRACED);

    while (!in.done && fz_left(&in) > 0 && ops++ < FZ_MAX_OPS) {
        uint8_t op = fz_u8(&in) % OP_COUNT;
        intc_lapic *l = fz_lapic(h, fz_u8(&in));

        switch (op) {
        case OP_MMIO_READ: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            if (!(off & 0x8000))
                off &= 0xfff;
            op_mmio_read(h, l, off, sz);
            break;
        }
        case OP_MMIO_WRITE: {
            uint32_t off = fz_u16(&in);
            unsigned sz = fz_size(&in);
            uint64_t v = fz_u64(&in);
            if (!(off & 0x8000))
                off &= 0xfff;
            fz_ok(intc_lapic_mmio_write(l, off, sz, v),
                  "intc_lapic_mmio_write");
            fz_check(h->m, "intc_lapic_mmio_write");
            break;
        }
        case OP_REG_WRITE: { /* the architectural shape */
            uint32_t off = (uint32_t)fz_u8(&in) << 4;
            fz_ok(intc_lapic_mmio_write(l, off, 4, fz_u32(&in)),
                  "intc_lapic_mmio_write");
            fz_check(h->m, "intc_lapic_mmio_write");
            break;
        }
        case OP_MSR_READ: {
            uint64_t v = 0;
            fz_ok(intc_lapic_msr_read(l, pick_msr(&in), &v),
                  "intc_lapic_msr_read");
            fz_check(h->m, "intc_lapic_msr_read");
            break;
        }
        case OP_MSR_WRITE: {
            uint32_t msr = pick_msr(&in);
            uint64_t v = fz_u64(&in);
            fz_ok(intc_lapic_msr_write(l, msr, v), "intc_lapic_msr_write");
            fz_check(h->m, "intc_lapic_msr_write");
            break;
        }
        case OP_APIC_BASE: { /* mostly legal shapes, then any */
            uint8_t b = fz_u8(&in);
            uint64_t v = INTC_APIC_BASE_DEFAULT;
            if (b & 1)
                v |= INTC_APIC_BASE_EN;
            if (b & 2)
                v |= INTC_APIC_BASE_EXTD;
            if (b & 4)
                v |= INTC_APIC_BASE_BSP;
            if (b & 8)
                v ^= (uint64_t)fz_u32(&in) << 12;
            if (b & 16)
                v = fz_u64(&in);
            fz_ok(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, v),
                  "wrmsr apic_base");
            fz_check(h->m, "wrmsr apic_base");
            break;
        }
        case OP_TPR:
            fz_ok(intc_lapic_set_tpr(l, fz_u8(&in)), "intc_lapic_set_tpr");
            fz_check(h->m, "intc_lapic_set_tpr");
            break;
        case OP_LINT: {
            uint8_t b = fz_u8(&in);
            intc_err e = fz_ok(intc_lapic_set_lint(l, b & 3, b & 4),
                               "intc_lapic_set_lint");
            if ((b & 3) < 2 && e != INTC_OK)
                FZ_ABORT("set_lint(%u): %s", b & 3, intc_err_name(e));
            fz_check(h->m, "intc_lapic_set_lint");
            break;
        }
        case OP_SERVICE:
            fz_cpu_service(h, l, fz_u8(&in));
            break;
        case OP_ADVANCE: {
            uint8_t b = fz_u8(&in);
            uint64_t dt = (b & 1) ? fz_u32(&in) : fz_u16(&in);
            fz_advance(h, dt);
            timer_oracle(h);
            break;
        }
        case OP_RAISE_LVT:
            fz_ok(intc_lapic_raise_lvt(l, fz_u8(&in) % 9),
                  "intc_lapic_raise_lvt");
            fz_check(h->m, "intc_lapic_raise_lvt");
            break;
        case OP_RESET:
            fz_ok(intc_lapic_reset(l, fz_u8(&in) & 1), "intc_lapic_reset");
            fz_check(h->m, "intc_lapic_reset");
            break;
        case OP_TSC_OFFSET:
            fz_ok(intc_lapic_set_tsc_offset(l, fz_u64(&in)),
                  "intc_lapic_set_tsc_offset");
            fz_check(h->m, "intc_lapic_set_tsc_offset");
            break;
        case OP_POST: {
            uint8_t v = fz_u8(&in), b = fz_u8(&in);
            int r = intc_lapic_post(l, v, b & 1);
            if (r != 0 && r != 1)
                FZ_ABORT("intc_lapic_post returned %d", r);
            if (b & 2) {
                fz_ok(intc_lapic_sync_pir(l, NULL), "intc_lapic_sync_pir");
                fz_check(h->m, "intc_lapic_sync_pir");
            }
            break;
        }
        case OP_SYNC_PIR: {
            uint64_t pir[4];
            for (int i = 0; i < 4; i++)
                pir[i] = fz_u64(&in);
            fz_ok(intc_lapic_sync_pir(l, pir), "intc_lapic_sync_pir");
            fz_check(h->m, "intc_lapic_sync_pir");
            break;
        }
        case OP_IPI:
            op_ipi(h, l, &in);
            break;
        case OP_STALE_EXPIRE: /* the host's timer fired early or late */
            fz_ok(intc_lapic_timer_expired(l, h->now),
                  "intc_lapic_timer_expired");
            fz_check(h->m, "intc_lapic_timer_expired (stale)");
            break;
        case OP_MACHINE_RESET:
            if (fz_u8(&in) == 0x5a) {
                fz_ok(intc_machine_reset(h->m), "intc_machine_reset");
                fz_check(h->m, "intc_machine_reset");
            }
            break;
        case OP_QUERY: {
            unsigned p = intc_lapic_pending(l);
            if (p & ~0x3fu)
                FZ_ABORT("pending %#x", p);
            if (intc_lapic_waiting_for_sipi(l) &&
                (p & ~(INTC_PEND_INIT | INTC_PEND_SIPI)))
                FZ_ABORT("waiting for SIPI with pending %#x", p);
            (void)intc_lapic_get_tpr(l);
            timer_oracle(h);
            break;
        }
        case OP_X2_REG_WRITE: { /* the x2APIC architectural shape */
            uint32_t msr = 0x800u + (fz_u8(&in) & 0x3f);
            uint64_t v = fz_u32(&in);
            if (msr == 0x830)
                v |= (uint64_t)fz_u32(&in) << 32;
            fz_ok(intc_lapic_msr_write(l, msr, v), "intc_lapic_msr_write");
            fz_check(h->m, "intc_lapic_msr_write");
            break;
        }
        }
    }
    fz_host_free(h);
    return 0;
}
