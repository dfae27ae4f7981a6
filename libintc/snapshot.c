/*
 * libintc — machine snapshots: intc_machine_save(), intc_machine_load()
 * and intc_machine_errmsg() (machine.h documents the contract).
 *
 * Image, format version 2 (all integers little-endian, fixed width):
 *
 *   off  size  field
 *     0     8  magic "INTCSNAP"
 *     8     4  format version (SN_VERSION)
 *    12     4  header size (SN_HDR_SIZE)
 *    16     8  checksum: XXH64, seed 0, of every byte from offset 24 on
 *    24     8  payload length
 *    32     8  configuration fingerprint (sn_fingerprint)
 *    40     -  payload: the models' sections, in sn_walk() order
 *
 * Version 1 (36-byte header, CRC-32 of everything but its own field,
 * byte-wise FNV-1a fingerprint) is refused with INTC_ERR_VERSION.  The
 * payload layout is unchanged; what changed is the cost: the table CRC-32
 * alone took about 6 instructions per byte, XXH64 (the content checksum of
 * zstd frames, RFC 8878 3.1.1) under one, for a 64-bit check instead of 32.
 * The checksum covers everything from the payload length on, so a damaged
 * length or fingerprint reads as CORRUPT, not as a foreign machine; the
 * fields before it are checked for their exact values (magic, version,
 * header size) instead.
 *
 * The container is this file's: header, checksum, fingerprint, the order
 * of the sections, and the rule that the whole image is checked before
 * anything changes (STYLE rule 9).  Each model walks its own section in
 * its own file (snap_priv.h: MEASURE, SAVE, CHECK, DIAG, LOAD), validating
 * every field in CHECK and rebuilding its derived caches after LOAD.  The
 * image's size is fixed by the configuration (MEASURE), so the payload
 * length is compared with it once and no field checks bounds.  Posted
 * interrupt requests are folded into IRR before SAVE.
 */
#include "internal.h"
#include "msi_priv.h"
#include "snap_priv.h"

#include <stdarg.h>

#define SN_VERSION 2u
#define SN_HDR_SIZE 40u
#define SN_SUM_OFF 16u  /* the checksum field */
#define SN_SUM_FROM 24u /* the checksum covers [24, end) */

static const char sn_magic[8] = {'I', 'N', 'T', 'C', 'S', 'N', 'A', 'P'};

/* ---- XXH64 (xxHash specification, seed 0) ---- */

#define XXH_P1 0x9e3779b185ebca87ull
#define XXH_P2 0xc2b2ae3d27d4eb4full
#define XXH_P3 0x165667b19e3779f9ull
#define XXH_P4 0x85ebca77c2b2ae63ull
#define XXH_P5 0x27d4eb2f165667c5ull

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return x << r | x >> (64 - r);
}

static inline uint64_t xxh64_round(uint64_t acc, uint64_t in)
{
    return rotl64(acc + in * XXH_P2, 31) * XXH_P1;
}

static inline uint64_t xxh64_merge(uint64_t h, uint64_t v)
{
    return (h ^ xxh64_round(0, v)) * XXH_P1 + XXH_P4;
}

static inline uint64_t xxh64_avalanche(uint64_t h)
{
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    return h ^ (h >> 32);
}

static uint64_t xxh64(const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    uint64_t h;

    if (n >= 32) {
        /* Four independent lanes over 32-byte stripes. */
        uint64_t v1 = XXH_P1 + XXH_P2, v2 = XXH_P2, v3 = 0, v4 = -XXH_P1;
        const uint8_t *last = end - 32;
        do {
            v1 = xxh64_round(v1, intc__snap_get(p, 8));
            v2 = xxh64_round(v2, intc__snap_get(p + 8, 8));
            v3 = xxh64_round(v3, intc__snap_get(p + 16, 8));
            v4 = xxh64_round(v4, intc__snap_get(p + 24, 8));
            p += 32;
        } while (p <= last);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh64_merge(h, v1);
        h = xxh64_merge(h, v2);
        h = xxh64_merge(h, v3);
        h = xxh64_merge(h, v4);
    } else {
        h = XXH_P5;
    }
    h += (uint64_t)n;
    for (; end - p >= 8; p += 8)
        h = rotl64(h ^ xxh64_round(0, intc__snap_get(p, 8)), 27) * XXH_P1 +
            XXH_P4;
    if (end - p >= 4) {
        h = rotl64(h ^ intc__snap_get(p, 4) * XXH_P1, 23) * XXH_P2 + XXH_P3;
        p += 4;
    }
    for (; p < end; p++)
        h = rotl64(h ^ *p * XXH_P5, 11) * XXH_P1;
    return xxh64_avalanche(h);
}

/* ---- refusals ---- */

void intc__snap_refuse(intc__snap *c, const char *field, int32_t idx,
                       const char *why)
{
    if (c->bad)
        return; /* the first refused field is the one reported */
    c->bad = true;
    c->field = field;
    c->idx = idx;
    c->why = why;
}

/* The message of a refused load, built only then (machine.h:
   intc_machine_errmsg). */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sn_error(intc_machine *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->snap_errmsg, sizeof m->snap_errmsg, fmt, ap);
    va_end(ap);
}

static void sn_field_error(intc_machine *m, const intc__snap *c)
{
    if (!c->bad) { /* CHECK and DIAG disagree: cannot happen */
        sn_error(m, "refused");
        return;
    }
    char inst[16] = "", idx[16] = "";
    if (c->inst >= 0)
        snprintf(inst, sizeof inst, "[%d]", (int)c->inst);
    if (c->idx >= 0)
        snprintf(idx, sizeof idx, "[%d]", (int)c->idx);
    sn_error(m, "%s%s.%s%s: %s", c->sect ? c->sect : "?", inst, c->field,
             idx, c->why);
}

/* ---- the whole machine, in a fixed order ---- */

/* The machine's own field: the lowest-priority round-robin position
   (bus.c). */
INTC__SNAP_INLINE void machine_snap(intc__snap *c, const int mode,
                                    intc_machine *m)
{
    intc__snap_begin(c, mode, "machine", -1);
    INTC__SNAP_VAR(c, mode, lp, m->lp_last, 0xffffffffu, "lp_last", -1);
    INTC__SNAP_REQ(c, mode, lp < m->n_cpus, "lp_last", -1,
                   "lowest-priority position beyond the CPUs");
}

static void sn_machine(intc__snap *c, intc_machine *m)
{
    INTC__SNAP_DISPATCH(c, machine_snap, m);
}

static void sn_walk(intc__snap *c, intc_machine *m)
{
    for (uint32_t i = 0; i < m->n_cpus; i++)
        intc__lapic_snap(c, &m->cpus[i]);
    sn_machine(c, m);
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        intc__ioapic_snap(c, &m->ioapics[i]);
    for (intc_msix *x = m->msix; x; x = x->next)
        intc__msix_snap(c, x);
    for (intc_msi *d = m->msi; d; d = d->next)
        intc__msi_snap(c, d);
    if (m->iommu) {
        intc__iec_snap(c, m->iommu);
        if (m->iommu->kind == INTC_IOMMU_VTD)
            intc__vtd_snap(c, m->iommu);
        else
            intc__amdvi_snap(c, m->iommu);
    }
}

/* ---- configuration fingerprint ---- */

/* Each value mixed in whole (an XXH64 round, a bijection of h for a given
   value, so values that differ in one place always differ in h). */
static inline void fp_add(uint64_t *h, uint64_t v)
{
    *h = xxh64_round(*h, v);
}

static uint64_t sn_fingerprint(const intc_machine *m)
{
    const intc_machine_config *cfg = &m->cfg;
    uint64_t h = XXH_P5;

    fp_add(&h, m->n_cpus);
    for (uint32_t i = 0; i < m->n_cpus; i++)
        fp_add(&h, m->cpus[i].initial_id);
    fp_add(&h, cfg->bsp);
    fp_add(&h, (uint64_t)cfg->x2apic | (uint64_t)cfg->tsc_deadline << 1 |
                   (uint64_t)cfg->directed_eoi << 2 |
                   (uint64_t)cfg->lvt_cmci << 3 |
                   (uint64_t)cfg->lowest_priority_ipi << 4 |
                   (uint64_t)cfg->focus_processor << 5 |
                   (uint64_t)cfg->apic_bus_errors << 6 |
                   (uint64_t)cfg->msi_ext_dest << 7);
    fp_add(&h, cfg->lapic_version);
    fp_add(&h, cfg->phys_addr_bits);
    fp_add(&h, cfg->apic_timer_hz);
    fp_add(&h, cfg->tsc_hz);
    fp_add(&h, cfg->storm_threshold);
    fp_add(&h, cfg->storm_throttle_ns);
    fp_add(&h, m->n_ioapics);
    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        const intc_ioapic *io = &m->ioapics[i];
        fp_add(&h, io->reset_id);
        fp_add(&h, io->version);
        fp_add(&h, io->n_pins);
        fp_add(&h, io->gsi_base);
        fp_add(&h, io->source_id);
        for (uint32_t p = 0; p < io->n_pins; p++)
            fp_add(&h, io->pins[p].wiring);
    }
    /* Devices in list order (newest first), with their event units. */
    for (const intc_msix *x = m->msix; x; x = x->next) {
        fp_add(&h, 0x5849534dull); /* "MSIX" */
        fp_add(&h, (uint64_t)x->nvec << 32 | (uint64_t)x->sid << 16);
        fp_add(&h, x->unit);
    }
    for (const intc_msi *d = m->msi; d; d = d->next) {
        /* Layout: size, offsets, and the read-only control bits (MMC,
           64-bit, per-vector masking). */
        fp_add(&h, 0x49534dull); /* "MSI" */
        fp_add(&h, (uint64_t)d->size | (uint64_t)d->off_data << 8 |
                       (uint64_t)d->off_mask << 16 |
                       (uint64_t)d->off_pend << 24 |
                       (uint64_t)(d->regs[2] & 0x8e) << 32 |
                       (uint64_t)(d->regs[3] & 0x01) << 40 |
                       (uint64_t)d->sid << 48);
        fp_add(&h, d->unit);
    }
    fp_add(&h, m->iommu ? m->iommu->kind : INTC_IOMMU_NONE);
    if (m->iommu) {
        const intc_iommu_config *ic = &m->iommu->cfg;
        fp_add(&h, (uint64_t)ic->x2apic | (uint64_t)ic->posted << 1);
        fp_add(&h, ic->n_fault_regs);
        fp_add(&h, ic->cache_entries);
    }
    return xxh64_avalanche(h);
}

/* ---- public entry points ---- */

/* Payload size of this machine's image (fixed by its configuration). */
static size_t sn_measure(intc_machine *m)
{
    intc__snap c = {.mode = INTC__SNAP_MEASURE};
    sn_walk(&c, m);
    return c.size;
}

intc_err intc_machine_save(intc_machine *m, void *buf, size_t len,
                           size_t *used)
{
    size_t size;
    intc_err err;

    if (!m)
        return INTC_ERR_INVAL;
    if (!intc__enter(m))
        return INTC_ERR_BUSY;
    /* Posted vectors become IRR bits (the image holds no PIR), as the
       APIC's next operation on its own thread would do anyway.  Nothing
       else changes: routing chains are always in canonical order (bus.c),
       so the machine that saved and every machine that loads the image
       continue alike. */
    for (uint32_t i = 0; i < m->n_cpus; i++)
        intc__lapic_fold_pir(&m->cpus[i]);
    err = intc__snap_save(m, buf, len, &size);
    if (used)
        *used = size;
    /* Recorded for its folds; a replay saves to no buffer (NOSPC after
       the same folds) and compares the size. */
    INTC_REC(m, INTC__OP_MACHINE_SAVE, 0, len, 0, 0, err, size);
    intc__leave(m);
    return err;
}

intc_err intc__snap_save(intc_machine *m, void *buf, size_t len,
                         size_t *used)
{
    size_t plen, size;
    uint8_t *img = buf;

    plen = sn_measure(m);
    size = SN_HDR_SIZE + plen;
    *used = size;
    if (!buf || len < size)
        return INTC_ERR_NOSPC;
    intc__snap c = {.mode = INTC__SNAP_SAVE, .out = img + SN_HDR_SIZE};
    sn_walk(&c, m);
    memcpy(img, sn_magic, 8);
    intc__snap_put(img + 8, SN_VERSION, 4);
    intc__snap_put(img + 12, SN_HDR_SIZE, 4);
    intc__snap_put(img + 24, plen, 8);
    intc__snap_put(img + 32, sn_fingerprint(m), 8);
    intc__snap_put(img + SN_SUM_OFF,
                   xxh64(img + SN_SUM_FROM, size - SN_SUM_FROM), 8);
    return INTC_OK;
}

/* Header, checksum, fingerprint and size; the error and its message. */
static intc_err sn_check_header(intc_machine *m, const uint8_t *img,
                                size_t len)
{
    uint64_t plen, want;

    /* The version comes right after the magic so that an image of
       another format version is named as such whatever its layout. */
    if (memcmp(img, sn_magic, len < 8 ? len : 8) != 0) {
        sn_error(m, "not a libintc snapshot (magic)");
        return INTC_ERR_CORRUPT;
    }
    if (len < 12) {
        sn_error(m, "truncated at byte %zu (header of %u bytes)", len,
                 SN_HDR_SIZE);
        return INTC_ERR_CORRUPT;
    }
    if (intc__snap_get(img + 8, 4) != SN_VERSION) {
        sn_error(m, "format version %u, this library reads version %u",
                 (unsigned)intc__snap_get(img + 8, 4), SN_VERSION);
        return INTC_ERR_VERSION;
    }
    if (len < SN_HDR_SIZE) {
        sn_error(m, "truncated at byte %zu (header of %u bytes)", len,
                 SN_HDR_SIZE);
        return INTC_ERR_CORRUPT;
    }
    if (intc__snap_get(img + 12, 4) != SN_HDR_SIZE) {
        sn_error(m, "header size %u, version %u has %u",
                 (unsigned)intc__snap_get(img + 12, 4), SN_VERSION,
                 SN_HDR_SIZE);
        return INTC_ERR_CORRUPT;
    }
    plen = intc__snap_get(img + 24, 8);
    if (plen > len - SN_HDR_SIZE) {
        sn_error(m, "truncated at byte %zu of %llu", len,
                 (unsigned long long)plen + SN_HDR_SIZE);
        return INTC_ERR_CORRUPT;
    }
    if (plen < len - SN_HDR_SIZE) {
        sn_error(m, "%llu bytes after the end of the image",
                 (unsigned long long)(len - SN_HDR_SIZE - plen));
        return INTC_ERR_CORRUPT;
    }
    if (intc__snap_get(img + SN_SUM_OFF, 8) !=
        xxh64(img + SN_SUM_FROM, len - SN_SUM_FROM)) {
        sn_error(m, "checksum mismatch");
        return INTC_ERR_CORRUPT;
    }
    if (intc__snap_get(img + 32, 8) != sn_fingerprint(m)) {
        sn_error(m, "configuration fingerprint differs: an image of "
                    "another machine configuration");
        return INTC_ERR_INVAL;
    }
    /* With the fingerprint equal, only a hand-made image gets here. */
    want = sn_measure(m);
    if (plen != want) {
        sn_error(m, "payload of %llu bytes, this machine's has %llu",
                 (unsigned long long)plen, (unsigned long long)want);
        return INTC_ERR_CORRUPT;
    }
    return INTC_OK;
}

intc_err intc_machine_load(intc_machine *m, const void *buf, size_t len)
{
    const uint8_t *img = buf;
    intc_err err;

    if (!m)
        return INTC_ERR_INVAL;
    if (!buf && len) {
        sn_error(m, "no image (NULL with a length)");
        return INTC_ERR_INVAL;
    }
    if (!intc__enter(m))
        return INTC_ERR_BUSY;
    if (!buf) {
        sn_error(m, "no image");
        err = INTC_ERR_CORRUPT;
    } else {
        err = sn_check_header(m, img, len);
    }
    if (!err) {
        intc__snap c = {.mode = INTC__SNAP_CHECK, .in = img + SN_HDR_SIZE};
        sn_walk(&c, m);
        if (c.bad) {
            /* Refused: walk again to name the first refused field. */
            intc__snap d = {.mode = INTC__SNAP_DIAG,
                            .in = img + SN_HDR_SIZE};
            sn_walk(&d, m);
            sn_field_error(m, &d);
            err = INTC_ERR_CORRUPT;
        }
    }
    if (err) {
        if (INTC_UNLIKELY(m->rec != NULL))
            intc__rec_call_blob(m, INTC__OP_MACHINE_LOAD, 0, 0, 0, 0, err, 0,
                                buf, len);
        intc__leave(m);
        return err;
    }

    /* Validated: from here nothing can fail.  Each section stores its
       fields and rebuilds its own caches; then the machine's. */
    intc__snap c = {.mode = INTC__SNAP_LOAD, .in = img + SN_HDR_SIZE};
    sn_walk(&c, m);
    m->snap_errmsg[0] = '\0';
    intc__bus_rebuild(m);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc_lapic *l = &m->cpus[i];
        intc__timer_arm(m, i, l->deadline);
        if (intc_lapic_pending(l))
            intc__kick(m, l);
        intc__base_changed(m, l); /* the page may move (common.h) */
    }
    /* Every IOAPIC's throttle timer, disarmed (UINT64_MAX) where the
       image has none, so a timer of the replaced state cannot fire. */
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        intc__ioapic_timer_arm(m, i, m->ioapics[i].timer_deadline);
    if (INTC_UNLIKELY(m->rec != NULL))
        intc__rec_call_blob(m, INTC__OP_MACHINE_LOAD, 0, 0, 0, 0, INTC_OK, 0,
                            buf, len);
    intc__leave(m);
    return INTC_OK;
}

const char *intc_machine_errmsg(const intc_machine *m)
{
    return m ? m->snap_errmsg : "";
}
