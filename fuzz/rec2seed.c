/*
 * rec2seed: a libintc recording (docs/recording.md) as a fuzz_machine
 * input, so the fuzzers start from traffic a real host generated:
 *
 *   rec2seed [--skip=N] RECORDING SEED
 *
 * --skip=N leaves out the recording's first N operations and starts the
 * seed at the next one: a cut from the middle of a long run (a Linux
 * boot's IPI storm rather than its firmware's start-up), applied to a
 * machine fresh from RESET.
 *
 * The recording is converted to the test kit's operations
 * (testkit/rec_conv.h, the converter behind intc-sim --to-yaml) and each
 * is written as one raw escape of the fuzz_machine format
 * (machine_ops.h: mo_encode_header, mo_encode_op).  fuzz_machine's
 * machines are few (1-4 CPUs with APIC IDs 0..3, one or two IOAPICs,
 * up to two 8-vector MSI-X functions, its own guest memory window), so
 * the seed runs on the nearest of them: operands are fitted to it
 * (mo_fit), operations it cannot run (MSI capabilities, guest memory
 * outside its window, anything beyond MO_MAX_STEPS) are left out, and
 * the counts are printed.  A seed is a starting point for fuzzing, not a
 * replay: `intc-sim --replay` is the exact one.
 *
 * Exit: 0 written, 2 usage, unreadable or damaged recording, I/O error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine_ops.h"
#include "rec_conv.h"

#define SEED_MAX (MO_MAX_STEPS * (51u + MO_RAW_BYTES) + 3u)

typedef struct seed {
    const kit_conv *c;
    mo_config cfg;
    uint8_t *out;
    size_t len;
    unsigned kept, dropped;
    uint64_t skip, seen;
} seed;

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static bool write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    bool ok;

    if (!f)
        return false;
    ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* The nearest fuzz_machine configuration. */
static void nearest(const kit_conv *c, mo_config *m)
{
    unsigned msix = 0;

    for (size_t i = 0; i < c->n_devs; i++)
        msix += c->devs[i].msix;
    memset(m, 0, sizeof *m);
    m->n_cpus = c->cfg.n_cpus < MO_MAX_CPUS ? c->cfg.n_cpus : MO_MAX_CPUS;
    if (m->n_cpus == 0) /* (the reader refuses it) */
        m->n_cpus = 1;
    m->n_ioapics = c->cfg.n_ioapics > 1 ? 2 : 1;
    m->n_msix = msix < MO_MAX_MSIX ? msix : MO_MAX_MSIX;
    m->iommu = c->cfg.iommu.kind <= INTC_IOMMU_AMDVI ? c->cfg.iommu.kind
                                                    : INTC_IOMMU_NONE;
    m->directed_eoi = c->cfg.directed_eoi;
    m->storm = c->cfg.storm_threshold == 4;
    m->ioapic0_v11 = c->cfg.n_ioapics && c->cfg.ioapics[0].version == 0x11;
    m->focus = c->cfg.focus_processor;
    m->no_ext_dest = !c->cfg.msi_ext_dest;
    m->snap_at = UINT32_MAX;
}

/* An MSI-X device's index among the MSI-X functions; false for MSI. */
static bool msix_index(const kit_conv *c, uint32_t dev, uint32_t *idx)
{
    uint32_t n = 0;

    if (dev >= c->n_devs || !c->devs[dev].msix)
        return false;
    for (uint32_t i = 0; i < dev; i++)
        n += c->devs[i].msix;
    *idx = n;
    return true;
}

static bool uses_device(const kit_op *op)
{
    const kit_op_info *in = &kit_op_table[op->kind];

    for (unsigned i = 0; i < in->n_fields; i++)
        if (in->fields[i].type == KIT_F_MSIX ||
            in->fields[i].type == KIT_F_MSI ||
            in->fields[i].type == KIT_F_DEVICE)
            return true;
    return false;
}

static void on_op(void *ctx, const kit_op *in, const char *extra)
{
    seed *s = ctx;
    kit_op op = *in;
    size_t n;

    (void)extra;
    if (s->seen++ < s->skip)
        return;
    if (uses_device(&op) && !msix_index(s->c, op.unit, &op.unit)) {
        s->dropped++;
        return;
    }
    if (s->kept >= MO_MAX_STEPS || !mo_fit(&s->cfg, &op) ||
        !(n = mo_encode_op(&op, s->out + s->len, SEED_MAX - s->len))) {
        s->dropped++;
        return;
    }
    s->len += n;
    s->kept++;
}

static int convert(const char *in, const uint8_t *buf, size_t len,
                   const char *out_path, uint64_t skip)
{
    kit_conv c;
    seed s = {.c = &c, .skip = skip};
    kit_conv_out out = {.ctx = &s, .op = on_op};
    intc_err e = kit_conv_open(&c, buf, len);
    int rc = 2;

    s.out = malloc(SEED_MAX);
    if (e == INTC_OK && s.out) {
        nearest(&c, &s.cfg);
        s.len = mo_encode_header(&s.cfg, s.out, SEED_MAX);
        e = kit_conv_run(&c, buf, len, &out);
    }
    if (e != INTC_OK || !s.out)
        fprintf(stderr, "rec2seed: %s: %s\n", in,
                s.out ? c.msg : "out of memory");
    else if (!write_file(out_path, s.out, s.len))
        fprintf(stderr, "rec2seed: %s: write error\n", out_path);
    else {
        printf("%s: %u operations kept, %u left out (of %" PRIu64
               " calls), %zu bytes", out_path, s.kept, s.dropped,
               c.n_calls, s.len);
        if (s.skip)
            printf("; the first %" PRIu64 " skipped",
                   s.seen < s.skip ? s.seen : s.skip);
        printf("\n");
        rc = 0;
    }
    free(s.out);
    kit_conv_fini(&c);
    return rc;
}

int main(int argc, char **argv)
{
    size_t len = 0;
    uint64_t skip = 0;
    uint8_t *buf;
    char *end;
    int rc;

    if (argc == 4 && strncmp(argv[1], "--skip=", 7) == 0) {
        skip = strtoull(argv[1] + 7, &end, 10);
        if (argv[1][7] == '\0' || *end != '\0') {
            fprintf(stderr, "rec2seed: %s: not a count\n", argv[1]);
            return 2;
        }
        argv++;
        argc--;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: rec2seed [--skip=N] RECORDING SEED\n");
        return 2;
    }
    buf = read_file(argv[1], &len);
    if (!buf) {
        fprintf(stderr, "rec2seed: %s: cannot read it\n", argv[1]);
        return 2;
    }
    rc = convert(argv[1], buf, len, argv[2], skip);
    free(buf);
    return rc;
}
