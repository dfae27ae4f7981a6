/*
 * libFuzzer target: message-signalled interrupts.  Input: byte 0 picks the
 * machine configuration (bits 2:0) and, with bit 7 (FZ_UNTRACED), a
 * machine without an event callback (the same path, untraced), then
 * operations: intc_msi_send of arbitrary
 * address/data/source-id; MSI-X functions (up to 4, created and freed by
 * the input) with table, PBA, control, notify and reset of any shape; MSI
 * capabilities (up to 4, any layout) with configuration reads/writes,
 * notify and reset; the CPUs' side (APIC enable, ack, EOI).  After every
 * operation: intc_machine_check().
 */
#include "fuzz_common.h"

#define N_DEV 4

enum {
    OP_SEND,
    OP_MSIX_NEW,
    OP_MSIX_FREE,
    OP_MSIX_TABLE_READ,
    OP_MSIX_TABLE_WRITE,
    OP_MSIX_ENTRY,
    OP_MSIX_PBA,
    OP_MSIX_CONTROL,
    OP_MSIX_NOTIFY,
    OP_MSIX_RESET,
    OP_MSI_NEW,
    OP_MSI_FREE,
    OP_MSI_READ,
    OP_MSI_WRITE,
    OP_MSI_NOTIFY,
    OP_MSI_RESET,
    OP_SERVICE,
    OP_LAPIC_WRITE,
    OP_ENABLE_ALL,
    OP_ADVANCE,
    OP_COUNT
};

typedef struct devs {
    intc_msix *x[N_DEV];
    uint16_t nvec[N_DEV];
    intc_msi *c[N_DEV];
} devs;

/* An interrupt address: mostly in the 0xFEExxxxx window. */
static uint64_t pick_addr(fz_in *in)
{
    uint8_t b = fz_u8(in);
    if (b & 0x80)
        return fz_u64(in);
    return INTC_MSI_ADDR_BASE | (fz_u32(in) & 0xfffffu);
}

static uint32_t pick_data(fz_in *in)
{
    uint8_t b = fz_u8(in);
    uint32_t d = fz_u32(in);
    return (b & 0x80) ? d : (d & 0xffffu);
}

static uint32_t pick_off(fz_in *in, uint32_t limit)
{
    uint16_t o = fz_u16(in);
    return (o & 0x8000) ? (uint32_t)(o & 0x7fff) * 3u : o % (limit + 32u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_host *h;
    fz_in in;
    uint8_t b0;
    devs d;
    unsigned ops = 0;

    if (size < 1)
        return 0;
    memset(&d, 0, sizeof d);
    fz_init(&in, data, size);
    h = fz_host_new(0);
    b0 = fz_u8(&in);
    fz_new_machine_opt(h, b0, b0 & FZ_UNTRACED);

    while (!in.done && fz_left(&in) > 0 && ops++ < FZ_MAX_OPS) {
        uint8_t op = fz_u8(&in) % OP_COUNT;
        uint8_t unit = fz_u8(&in);
        unsigned k = unit % N_DEV;
        intc_msix *x = d.x[k];
        intc_msi *c = d.c[k];

        switch (op) {
        case OP_SEND: {
            uint64_t addr = pick_addr(&in);
            uint32_t dt = pick_data(&in);
            fz_ok(intc_msi_send(h->m, addr, dt, fz_u16(&in), NULL),
                  "intc_msi_send");
            fz_check(h->m, "intc_msi_send");
            break;
        }
        case OP_MSIX_NEW: {
            uint16_t n = fz_u16(&in);
            intc_err e = INTC_OK;
            if (x)
                break;
            n = (n & 0x8000) ? n & 0xfff : n % 65;
            d.x[k] = intc_msix_new(h->m, n, fz_u16(&in), &e);
            if (!d.x[k] && (n >= 1 && n <= INTC_MSIX_MAX_VECTORS))
                FZ_ABORT("intc_msix_new(%u): %s", n, intc_err_name(e));
            if (d.x[k] && (n == 0 || n > INTC_MSIX_MAX_VECTORS))
                FZ_ABORT("intc_msix_new(%u) accepted", n);
            d.nvec[k] = n;
            fz_check(h->m, "intc_msix_new");
            break;
        }
        case OP_MSIX_FREE:
            if (x) {
                intc_msix_free(x);
                d.x[k] = NULL;
                fz_check(h->m, "intc_msix_free");
            }
            break;
        case OP_MSIX_TABLE_READ: {
            uint32_t off = pick_off(&in, 16u * d.nvec[k]);
            unsigned sz = fz_size(&in);
            uint64_t v = 0;
            if (!x)
                break;
            fz_ok(intc_msix_table_read(x, off, sz, &v),
                  "intc_msix_table_read");
            fz_check(h->m, "intc_msix_table_read");
            break;
        }
        case OP_MSIX_TABLE_WRITE: {
            uint32_t off = pick_off(&in, 16u * d.nvec[k]);
            unsigned sz = fz_size(&in);
            uint64_t v = fz_u64(&in);
            if (!x)
                break;
            fz_ok(intc_msix_table_write(x, off, sz, v),
                  "intc_msix_table_write");
            fz_check(h->m, "intc_msix_table_write");
            break;
        }
        case OP_MSIX_ENTRY: { /* a whole entry as a driver writes it */
            uint32_t e = fz_u16(&in) % (d.nvec[k] ? d.nvec[k] : 1u);
            uint64_t addr = pick_addr(&in);
            uint32_t dt = pick_data(&in);
            uint32_t ctl = fz_u8(&in) & 1;
            if (!x)
                break;
            fz_ok(intc_msix_table_write(x, 16 * e, 8, addr), "msix addr");
            fz_check(h->m, "msix addr");
            fz_ok(intc_msix_table_write(x, 16 * e + 8, 4, dt), "msix data");
            fz_check(h->m, "msix data");
            fz_ok(intc_msix_table_write(x, 16 * e + 12, 4, ctl), "msix ctl");
            fz_check(h->m, "msix ctl");
            break;
        }
        case OP_MSIX_PBA: {
            uint32_t off = pick_off(&in, (d.nvec[k] + 63u) / 64u * 8u);
            unsigned sz = fz_size(&in);
            uint64_t v = 0;
            if (!x)
                break;
            fz_ok(intc_msix_pba_read(x, off, sz, &v), "intc_msix_pba_read");
            fz_check(h->m, "intc_msix_pba_read");
            break;
        }
        case OP_MSIX_CONTROL: {
            uint8_t b = fz_u8(&in);
            if (!x)
                break;
            fz_ok(intc_msix_set_control(x, b & 1, b & 2),
                  "intc_msix_set_control");
            fz_check(h->m, "intc_msix_set_control");
            break;
        }
        case OP_MSIX_NOTIFY: {
            uint16_t v = fz_u16(&in);
            intc_err e;
            if (!x)
                break;
            v = (v & 0x8000) ? v & 0x7fff : v % (d.nvec[k] + 1u);
            e = fz_ok(intc_msix_notify(x, v, NULL), "intc_msix_notify");
            if ((v < d.nvec[k]) != (e == INTC_OK))
                FZ_ABORT("intc_msix_notify(%u of %u): %s", v, d.nvec[k],
                         intc_err_name(e));
            (void)intc_msix_pending(x, v);
            fz_check(h->m, "intc_msix_notify");
            break;
        }
        case OP_MSIX_RESET:
            if (x) {
                fz_ok(intc_msix_reset(x), "intc_msix_reset");
                fz_check(h->m, "intc_msix_reset");
            }
            break;
        case OP_MSI_NEW: {
            uint8_t b = fz_u8(&in);
            intc_err e = INTC_OK;
            unsigned log2 = b & 7;
            if (c)
                break;
            d.c[k] = intc_msi_new(h->m, log2, b & 8, b & 16, fz_u16(&in),
                                  &e);
            if (!d.c[k] && log2 <= 5)
                FZ_ABORT("intc_msi_new(%u): %s", log2, intc_err_name(e));
            fz_check(h->m, "intc_msi_new");
            break;
        }
        case OP_MSI_FREE:
            if (c) {
                intc_msi_free(c);
                d.c[k] = NULL;
                fz_check(h->m, "intc_msi_free");
            }
            break;
        case OP_MSI_READ: {
            uint32_t off = fz_u8(&in), v = 0;
            unsigned sz = fz_size(&in);
            if (!c)
                break;
            if (!(off & 0x80))
                off %= 28;
            fz_ok(intc_msi_config_read(c, off, sz, &v),
                  "intc_msi_config_read");
            fz_check(h->m, "intc_msi_config_read");
            break;
        }
        case OP_MSI_WRITE: {
            uint32_t off = fz_u8(&in);
            unsigned sz = fz_size(&in);
            uint32_t v = fz_u32(&in);
            if (!c)
                break;
            if (!(off & 0x80))
                off %= 28;
            fz_ok(intc_msi_config_write(c, off, sz, v),
                  "intc_msi_config_write");
            fz_check(h->m, "intc_msi_config_write");
            break;
        }
        case OP_MSI_NOTIFY:
            if (c) {
                fz_ok(intc_msi_notify(c, fz_u8(&in) % 40, NULL), "intc_msi_notify");
                fz_check(h->m, "intc_msi_notify");
                (void)intc_msi_config_size(c);
            }
            break;
        case OP_MSI_RESET:
            if (c) {
                fz_ok(intc_msi_reset(c), "intc_msi_reset");
                fz_check(h->m, "intc_msi_reset");
            }
            break;
        case OP_SERVICE:
            fz_cpu_service(h, fz_lapic(h, unit), fz_u8(&in));
            break;
        case OP_LAPIC_WRITE: {
            uint32_t off = (uint32_t)fz_u8(&in) << 4;
            fz_ok(intc_lapic_mmio_write(fz_lapic(h, unit), off, 4,
                                        fz_u32(&in)),
                  "intc_lapic_mmio_write");
            fz_check(h->m, "intc_lapic_mmio_write");
            break;
        }
        case OP_ENABLE_ALL:
            for (uint32_t i = 0; i < h->n_cpus; i++) {
                fz_ok(intc_lapic_mmio_write(intc_machine_lapic(h->m, i),
                                            INTC_LAPIC_SVR, 4,
                                            0x100u | fz_u8(&in)),
                      "svr");
                fz_check(h->m, "svr");
            }
            break;
        case OP_ADVANCE:
            fz_advance(h, fz_u16(&in));
            break;
        }
    }
    /* Some devices freed explicitly, the rest with the machine. */
    for (unsigned i = 0; i < N_DEV; i += 2) {
        intc_msix_free(d.x[i]);
        intc_msi_free(d.c[i]);
    }
    fz_host_free(h);
    return 0;
}
