/*
 * libintc — machine snapshots: intc_machine_save(), intc_machine_load()
 * and intc_machine_errmsg() (machine.h documents the contract).
 *
 * Image (all integers little-endian, fixed width):
 *
 *   off  size  field
 *     0     8  magic "INTCSNAP"
 *     8     4  format version (SN_VERSION)
 *    12     4  header size (SN_HDR_SIZE)
 *    16     8  payload length
 *    24     4  CRC-32 (IEEE 802.3) of the whole image except this field
 *    28     8  configuration fingerprint (sn_fingerprint)
 *    36     -  payload: the models' sections, in sn_walk() order
 *
 * The CRC covers the header too (not only the payload), so a damaged
 * fingerprint or length reads as CORRUPT, not as a foreign machine.
 *
 * The container is this file's: header, CRC, fingerprint, the order of
 * the sections, and the rule that the whole image is checked before
 * anything changes (STYLE rule 9).  Each model walks its own section in
 * its own file (snap_priv.h: MEASURE, SAVE, CHECK, LOAD), validating
 * every field in CHECK and rebuilding its derived caches after LOAD.  The
 * image's size is fixed by the configuration (MEASURE), so the payload
 * length is compared with it once and no field checks bounds.  Posted
 * interrupt requests are folded into IRR before SAVE.
 */
#include "internal.h"
#include "msi_priv.h"
#include "snap_priv.h"

#include <stdarg.h>

#define SN_VERSION 1u
#define SN_HDR_SIZE 36u
#define SN_CRC_OFF 24u

/* ---- CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) ---- */

static const uint32_t crc_table[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du

};

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--)
        crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

/* The image's CRC: every byte except the CRC field itself. */
static uint32_t image_crc(const uint8_t *img, size_t size)
{
    uint32_t crc = crc32_update(0, img, SN_CRC_OFF);
    return crc32_update(crc, img + SN_CRC_OFF + 4,
                        size - SN_CRC_OFF - 4);
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

/* FNV-1a, 64-bit, over each value as 8 little-endian bytes. */
static void fp_add(uint64_t *h, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        *h ^= (uint8_t)(v >> (8 * i));
        *h *= 0x100000001b3ull;
    }
}

static uint64_t sn_fingerprint(const intc_machine *m)
{
    const intc_machine_config *cfg = &m->cfg;
    uint64_t h = 0xcbf29ce484222325ull;

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
    return h;
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
    size_t plen, size;
    uint8_t *img = buf;

    if (!m)
        return INTC_ERR_INVAL;
    if (!intc_enter(m))
        return INTC_ERR_BUSY;
    /* Posted vectors become IRR bits (the image holds no PIR), as the
       APIC's next operation on its own thread would do anyway.  Nothing
       else changes: routing chains are always in canonical order (bus.c),
       so the machine that saved and every machine that loads the image
       continue alike. */
    for (uint32_t i = 0; i < m->n_cpus; i++)
        intc_lapic_sync_pir(&m->cpus[i], NULL);
    plen = sn_measure(m);
    size = SN_HDR_SIZE + plen;
    if (used)
        *used = size;
    if (!buf || len < size) {
        intc_leave(m);
        return INTC_ERR_NOSPC;
    }
    intc__snap c = {.mode = INTC__SNAP_SAVE, .out = img + SN_HDR_SIZE};
    sn_walk(&c, m);
    memcpy(img, "INTCSNAP", 8);
    intc__snap_put(img + 8, SN_VERSION, 4);
    intc__snap_put(img + 12, SN_HDR_SIZE, 4);
    intc__snap_put(img + 16, plen, 8);
    intc__snap_put(img + 28, sn_fingerprint(m), 8);
    intc__snap_put(img + SN_CRC_OFF, image_crc(img, size), 4);
    intc_leave(m);
    return INTC_OK;
}

/* Header, checksum, fingerprint and size; the error and its message. */
static intc_err sn_check_header(intc_machine *m, const uint8_t *img,
                                size_t len)
{
    uint64_t plen, want;

    /* The version comes right after the magic so that an image of
       another format version is named as such whatever its layout. */
    if (memcmp(img, "INTCSNAP", len < 8 ? len : 8) != 0) {
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
    plen = intc__snap_get(img + 16, 8);
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
    if (intc__snap_get(img + SN_CRC_OFF, 4) != image_crc(img, len)) {
        sn_error(m, "checksum mismatch");
        return INTC_ERR_CORRUPT;
    }
    if (intc__snap_get(img + 28, 8) != sn_fingerprint(m)) {
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
    if (!intc_enter(m))
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
        intc_leave(m);
        return err;
    }

    /* Validated: from here nothing can fail.  Each section stores its
       fields and rebuilds its own caches; then the machine's. */
    intc__snap c = {.mode = INTC__SNAP_LOAD, .in = img + SN_HDR_SIZE};
    sn_walk(&c, m);
    m->snap_errmsg[0] = '\0';
    intc_bus_rebuild(m);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc_lapic *l = &m->cpus[i];
        intc_timer_arm(m, i, l->deadline);
        if (intc_lapic_pending(l))
            intc_kick(m, i);
    }
    /* Every IOAPIC's throttle timer, disarmed (UINT64_MAX) where the
       image has none, so a timer of the replaced state cannot fire. */
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        intc_ioapic_timer_arm(m, i, m->ioapics[i].timer_deadline);
    intc_leave(m);
    return INTC_OK;
}

const char *intc_machine_errmsg(const intc_machine *m)
{
    return m ? m->snap_errmsg : "";
}
