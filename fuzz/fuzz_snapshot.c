/*
 * libFuzzer target: machine snapshots (intc_machine_save/load).
 *
 * Input: byte 0 = configuration (bits 2:0) | mode (bits 4:3); byte 1 =
 * the MSI-X/MSI devices created on every machine of this input (the image
 * fingerprint covers them); then, per mode:
 *   0  the rest is an image: intc_machine_load() of it; if it loads, the
 *      machine must save it back byte for byte;
 *   1  the same after fixing the checksum field, so mutations reach the
 *      field checks behind the checksum;
 *   2, 3  operations drive a machine into some state (count in the next
 *      byte); its image must load into a fresh machine and re-save
 *      identically; then the rest of the input is a list of (offset,
 *      xor) mutations of that image (mode 3: checksum fixed after
 *      them), and the mutated image, if it loads, must re-save
 *      identically too.
 * A load that fails must leave the machine unchanged (its image before
 * and after are compared) and say why (intc_machine_errmsg).  After
 * every operation: intc_machine_check().
 * The seed corpus (gen_corpus) holds real images of several machines.
 */
#include "fuzz_common.h"
#include "../tests/xxh64_oracle.h"

#define SNAP_MAX (1u << 16)

/* The image checksum (snapshot.c, format 2): bytes 16..23 hold the XXH64
   of every byte from offset 24 on. */
static void fix_sum(uint8_t *img, size_t len)
{
    uint64_t c;
    if (len < 24)
        return;
    c = xxh64_oracle(img + 24, len - 24);
    for (int i = 0; i < 8; i++)
        img[16 + i] = (uint8_t)(c >> (8 * i));
}

/* Save m into a new buffer; *len its size.  Aborts on failure. */
static uint8_t *save(intc_machine *m, size_t *len)
{
    size_t need = 0;
    uint8_t *buf;
    intc_err e = intc_machine_save(m, NULL, 0, &need);
    if (e != INTC_ERR_NOSPC || need == 0 || need > SNAP_MAX)
        FZ_ABORT("intc_machine_save(NULL): %s, %zu bytes", intc_err_name(e),
                 need);
    buf = malloc(need);
    if (!buf)
        abort();
    e = intc_machine_save(m, buf, need, len);
    if (e != INTC_OK || *len != need)
        FZ_ABORT("intc_machine_save: %s, %zu of %zu bytes",
                 intc_err_name(e), *len, need);
    fz_check(m, "intc_machine_save");
    return buf;
}

static void devices(intc_machine *m, uint8_t set)
{
    intc_err e = INTC_OK;
    if ((set & 1) && !intc_msix_new(m, 8, 0x10, &e))
        FZ_ABORT("intc_msix_new: %s", intc_err_name(e));
    if ((set & 2) && !intc_msi_new(m, 2, true, true, 0x18, &e))
        FZ_ABORT("intc_msi_new: %s", intc_err_name(e));
    if ((set & 4) && !intc_msix_new(m, 64, 0x20, &e))
        FZ_ABORT("intc_msix_new: %s", intc_err_name(e));
    if ((set & 8) && !intc_msi_new(m, 0, false, false, 0x28, &e))
        FZ_ABORT("intc_msi_new: %s", intc_err_name(e));
}

/* Load img into h's machine.  OK: it must re-save to the same bytes.
   Error: the machine must be unchanged. */
static intc_err load_check(fz_host *h, const uint8_t *img, size_t len)
{
    size_t before_len, after_len;
    uint8_t *before = save(h->m, &before_len);
    intc_err e = intc_machine_load(h->m, img, len);
    uint8_t *after;

    if (e != INTC_OK && e != INTC_ERR_CORRUPT && e != INTC_ERR_INVAL &&
        e != INTC_ERR_VERSION)
        FZ_ABORT("intc_machine_load: %s", intc_err_name(e));
    /* machine.h intc_machine_errmsg: "" after a success; otherwise what
       was refused ("refused" alone: the naming walk disagreed with the
       checking one). */
    {
        const char *msg = intc_machine_errmsg(h->m);
        if ((e == INTC_OK) != (msg[0] == '\0') || !strcmp(msg, "refused"))
            FZ_ABORT("intc_machine_load: %s, message \"%s\"",
                     intc_err_name(e), msg);
    }
    fz_check(h->m, "intc_machine_load");
    after = save(h->m, &after_len);
    if (e == INTC_OK) {
        if (after_len != len || memcmp(after, img, len) != 0) {
            size_t i = 0;
            while (i < len && i < after_len && after[i] == img[i])
                i++;
            FZ_ABORT("image of %zu bytes loaded but re-saved as %zu bytes, "
                     "first difference at offset %zu", len, after_len, i);
        }
        for (uint32_t c = 0; c < h->n_cpus; c++) {
            uint64_t d =
                intc_lapic_timer_deadline(intc_machine_lapic(h->m, c));
            if (d != h->deadline[c])
                FZ_ABORT("cpu %u: deadline %llu after load, host armed "
                         "%llu", (unsigned)c, (unsigned long long)d,
                         (unsigned long long)h->deadline[c]);
        }
    } else if (after_len != before_len ||
               memcmp(after, before, before_len) != 0) {
        FZ_ABORT("intc_machine_load failed (%s) but changed the machine",
                 intc_err_name(e));
    }
    free(before);
    free(after);
    return e;
}

/* A few operations that give the machine state worth saving. */
static void drive(fz_host *h, fz_in *in, unsigned n)
{
    for (unsigned i = 0; i < n && !in->done; i++) {
        uint8_t op = fz_u8(in) % 12;
        uint8_t unit = fz_u8(in);
        intc_lapic *l = fz_lapic(h, unit);
        intc_ioapic *io = intc_machine_ioapic(h->m, 0);
        intc_iommu *u = intc_machine_iommu(h->m);

        switch (op) {
        case 0:
            fz_ok(intc_lapic_mmio_write(l, (uint32_t)fz_u8(in) << 4, 4,
                                        fz_u32(in)), "mmio write");
            break;
        case 1: {
            uint32_t msr = 0x800u + fz_u8(in);
            fz_ok(intc_lapic_msr_write(l, msr, fz_u64(in)), "wrmsr");
            break;
        }
        case 2: {
            uint8_t b = fz_u8(in);
            uint64_t v = INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN;
            if (b & 1)
                v |= INTC_APIC_BASE_EXTD;
            if (b & 2)
                v &= ~INTC_APIC_BASE_EN;
            fz_ok(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE, v),
                  "apic base");
            break;
        }
        case 3:
            fz_advance(h, fz_u16(in));
            break;
        case 4:
            fz_cpu_service(h, l, fz_u8(in));
            break;
        case 5:
            if (io) {
                fz_ok(intc_ioapic_mmio_write(io, 0, 4, fz_u8(in)), "sel");
                fz_ok(intc_ioapic_mmio_write(io, 0x10, 4, fz_u32(in)),
                      "win");
            }
            break;
        case 6: {
            uint8_t b = fz_u8(in);
            fz_ok(intc_machine_set_gsi(h->m, b & 0x1f, b >> 7), "gsi");
            break;
        }
        case 7: {
            uint32_t a = fz_u32(in) & 0xfffffu;
            fz_ok(intc_msi_send(h->m, INTC_MSI_ADDR_BASE | a,
                                fz_u16(in), fz_u16(in), NULL), "msi");
            break;
        }
        case 8:
            (void)intc_lapic_post(l, fz_u8(in), unit & 1);
            break;
        case 9:
            if (u) {
                uint16_t b = fz_u16(in);
                uint32_t off = ((uint32_t)(b >> 1) * 8u) % 0x1000u;
                fz_ok(intc_iommu_mmio_write(u, off, 8, fz_u64(in)),
                      "iommu write");
            }
            break;
        case 10:
            fz_ok(intc_lapic_set_lint(l, unit & 1, fz_u8(in) & 1), "lint");
            break;
        case 11:
            fz_ok(intc_lapic_set_tsc_offset(l, fz_u64(in)), "tsc offset");
            break;
        }
        fz_check(h->m, "snapshot drive op");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_host *h, *h2;
    fz_in in;
    uint8_t b0, set;
    unsigned mode;

    if (size < 2 || size > SNAP_MAX + 2)
        return 0;
    fz_init(&in, data, size);
    b0 = fz_u8(&in);
    set = fz_u8(&in);
    mode = (b0 >> 3) & 3;
    h = fz_host_new(1);
    fz_new_machine(h, b0);
    devices(h->m, set);

    if (mode < 2) {
        size_t len = size - 2;
        uint8_t *img = malloc(len ? len : 1);
        if (!img)
            abort();
        memcpy(img, data + 2, len);
        if (mode == 1)
            fix_sum(img, len);
        load_check(h, img, len);
        free(img);
    } else {
        size_t len, len2;
        uint8_t *img, *img2;
        unsigned n = fz_u8(&in) % 64;

        drive(h, &in, n);
        img = save(h->m, &len);
        /* Saving twice gives the same image (saving changes nothing). */
        img2 = save(h->m, &len2);
        if (len2 != len || memcmp(img, img2, len) != 0)
            FZ_ABORT("two saves of one state differ");
        free(img2);

        h2 = fz_host_new(0);
        h2->now = h->now;
        fz_new_machine(h2, b0);
        devices(h2->m, set);
        if (load_check(h2, img, len) != INTC_OK)
            FZ_ABORT("a saved image does not load into a fresh machine");
        /* Mutations. */
        while (!in.done && fz_left(&in) >= 3) {
            uint16_t pos = fz_u16(&in);
            uint8_t x = fz_u8(&in);
            img[pos % len] ^= x ? x : 1;
        }
        if (mode == 3)
            fix_sum(img, len);
        load_check(h2, img, len);
        load_check(h, img, len);
        free(img);
        fz_host_free(h2);
    }
    fz_host_free(h);
    return 0;
}
