/*
 * libintc — reading a recording record by record (record.h
 * intc_record_next; docs/recording.md has the format).  The replayer
 * (replay.c) reads its frames, inputs and configuration with the same
 * functions.
 */
#include "internal.h"
#include "snap_priv.h"

static uint64_t get(const uint8_t *p, unsigned n)
{
    return intc__snap_get(p, n);
}

bool intc__rec_frame_at(const uint8_t *buf, size_t len, size_t pos,
                        intc__rec_frame *f, const char **why)
{
    size_t left = len - pos;
    uint32_t plen;

    *why = NULL;
    if (pos > len || left < INTC__REC_FRAME) {
        if (pos < len)
            *why = "truncated: fewer bytes left than a record's frame";
        return false;
    }
    plen = (uint32_t)get(buf + pos, 4);
    if (plen > INTC__REC_MAX_PAYLOAD)
        *why = "oversized record";
    else if (plen > left - INTC__REC_FRAME)
        *why = "truncated: the record is longer than what is left";
    else if (get(buf + pos + 5 + plen, 4) !=
             intc__crc32(0, buf + pos + 4, (size_t)plen + 1))
        *why = "checksum mismatch";
    if (*why)
        return false;
    f->type = buf[pos + 4];
    f->p = buf + pos + 5;
    f->len = plen;
    f->next = pos + INTC__REC_FRAME + plen;
    return true;
}

bool intc__rec_input_ok(const intc__rec_frame *f)
{
    switch (f->type) {
    case INTC__RT_CLOCK:
        return f->len == INTC__REC_CLOCK_SIZE;
    case INTC__RT_DMA_READ:
    case INTC__RT_DMA_WRITE:
        if (f->len >= INTC__REC_DMA_FIXED) {
            uint64_t n = get(f->p + 8, 4), rc = get(f->p + 12, 4);
            bool data = f->type == INTC__RT_DMA_WRITE || rc == 0;
            return rc <= 1 && f->len == INTC__REC_DMA_FIXED + (data ? n : 0);
        }
        return false;
    case INTC__RT_FOLD:
        return f->len == INTC__REC_FOLD_SIZE;
    default:
        return false;
    }
}

void intc__rec_cfg_fixed(intc_machine_config *cfg, const uint8_t *p)
{
    uint32_t fl = (uint32_t)get(p + 8, 4);

    intc_machine_config_init(cfg);
    cfg->n_cpus = (uint32_t)get(p, 4);
    cfg->bsp = (uint32_t)get(p + 4, 4);
    cfg->x2apic = fl & 1;
    cfg->tsc_deadline = fl >> 1 & 1;
    cfg->directed_eoi = fl >> 2 & 1;
    cfg->lvt_cmci = fl >> 3 & 1;
    cfg->lowest_priority_ipi = fl >> 4 & 1;
    cfg->focus_processor = fl >> 5 & 1;
    cfg->apic_bus_errors = fl >> 6 & 1;
    cfg->msi_ext_dest = fl >> 7 & 1;
    cfg->lapic_version = p[12];
    cfg->phys_addr_bits = p[13];
    cfg->apic_timer_hz = get(p + 16, 8);
    cfg->tsc_hz = get(p + 24, 8);
    cfg->storm_threshold = (uint32_t)get(p + 32, 4);
    cfg->n_ioapics = (uint32_t)get(p + 36, 4);
    cfg->storm_throttle_ns = get(p + 40, 8);
    cfg->iommu.kind = (unsigned)get(p + 48, 4);
    cfg->iommu.x2apic = p[52] != 0;
    cfg->iommu.posted = p[53] != 0;
    cfg->iommu.n_fault_regs = (uint16_t)get(p + 54, 2);
    cfg->iommu.cache_entries = (uint32_t)get(p + 56, 4);
}

bool intc__rec_ioapics(const uint8_t *p, size_t len, uint32_t n,
                       intc_ioapic_config *io)
{
    for (uint32_t i = 0; i < n; i++) {
        size_t pins;
        if (len < INTC__REC_IOAPIC_FIXED)
            return false;
        pins = (size_t)get(p + 2, 2);
        if (len - INTC__REC_IOAPIC_FIXED < pins)
            return false;
        if (io) {
            io[i].id = p[0];
            io[i].version = p[1];
            io[i].n_pins = (uint16_t)pins;
            io[i].gsi_base = (uint32_t)get(p + 4, 4);
            io[i].source_id = (uint16_t)get(p + 8, 2);
            io[i].pin_wiring = p + INTC__REC_IOAPIC_FIXED;
        }
        p += INTC__REC_IOAPIC_FIXED + pins;
        len -= INTC__REC_IOAPIC_FIXED + pins;
    }
    return len == 0;
}

/* ---- the public reader ---- */

static bool read_call(intc_record_item *it, const intc__rec_frame *f)
{
    if (f->len < INTC__REC_CALL_FIXED || (f->p[1] & ~INTC__REC_NESTED))
        return false;
    it->op = f->p[0];
    it->nested = f->p[1] & INTC__REC_NESTED;
    it->obj = (uint32_t)get(f->p + 8, 4);
    it->ret = (int32_t)(uint32_t)get(f->p + 12, 4);
    it->a0 = get(f->p + 16, 8);
    it->a1 = get(f->p + 24, 8);
    it->a2 = get(f->p + 32, 8);
    it->out = get(f->p + 40, 8);
    it->data = f->p + INTC__REC_CALL_FIXED;
    it->data_len = f->len - INTC__REC_CALL_FIXED;
    return true;
}

static void read_input(intc_record_item *it, const intc__rec_frame *f)
{
    if (f->type == INTC__RT_CLOCK) {
        it->cpu = (uint32_t)get(f->p, 4);
        it->value = get(f->p + 4, 8);
    } else if (f->type == INTC__RT_FOLD) {
        it->cpu = (uint32_t)get(f->p, 4);
        for (unsigned i = 0; i < 4; i++) {
            it->pir[i] = get(f->p + 8 + 8 * i, 8);
            it->level[i] = get(f->p + 40 + 8 * i, 8);
        }
    } else {
        it->addr = get(f->p, 8);
        it->len = (uint32_t)get(f->p + 8, 4);
        it->ok = get(f->p + 12, 4) == 0;
        if (f->len > INTC__REC_DMA_FIXED) {
            it->data = f->p + INTC__REC_DMA_FIXED;
            it->data_len = f->len - INTC__REC_DMA_FIXED;
        }
    }
}

static bool read_device(intc_record_item *it, const intc__rec_frame *f)
{
    if (f->len != INTC__REC_DEVICE_SIZE || f->p[0] < 1 || f->p[0] > 2)
        return false;
    it->msix = f->p[0] == 1;
    it->addr64 = f->p[1] & 1;
    it->mask = f->p[1] >> 1 & 1;
    it->source_id = (uint16_t)get(f->p + 2, 2);
    it->unit = (uint32_t)get(f->p + 4, 4);
    it->vectors = (uint16_t)get(f->p + 8, 2);
    return true;
}

/* A CONFIG payload of len bytes whose counts fit it exactly: 1..
   INTC_MAX_CPUS CPUs, at most INTC_IOAPIC_MAX IOAPICs, each with its
   wiring, nothing left over. */
static bool config_fits(const intc_machine_config *c, const uint8_t *p,
                        size_t len)
{
    size_t ids = 4ull * c->n_cpus;

    return c->n_cpus >= 1 && c->n_cpus <= INTC_MAX_CPUS &&
           c->n_ioapics <= INTC_IOAPIC_MAX &&
           len >= INTC__REC_CONFIG_FIXED &&
           len - INTC__REC_CONFIG_FIXED >= ids &&
           intc__rec_ioapics(p + INTC__REC_CONFIG_FIXED + ids,
                             len - INTC__REC_CONFIG_FIXED - ids,
                             c->n_ioapics, NULL);
}

static bool read_config(intc_record_item *it, const intc__rec_frame *f)
{
    if (f->len < INTC__REC_CONFIG_FIXED)
        return false;
    intc__rec_cfg_fixed(&it->config, f->p);
    it->host_ops = (uint32_t)get(f->p + 60, 4);
    it->unit = (uint32_t)get(f->p + 64, 4);
    it->data = f->p;
    it->data_len = f->len;
    return config_fits(&it->config, f->p, f->len);
}

/* The payload of f into it, by type; false if it has the wrong size. */
static bool read_payload(intc_record_item *it, const intc__rec_frame *f)
{
    switch (f->type) {
    case INTC__RT_CONFIG:
        return read_config(it, f);
    case INTC__RT_DEVICE:
        return read_device(it, f);
    case INTC__RT_IMAGE:
        it->data = f->p;
        it->data_len = f->len;
        return true;
    case INTC__RT_CALL:
        return read_call(it, f);
    case INTC__RT_END:
        return f->len == INTC__REC_END_SIZE;
    default:
        if (!intc__rec_input_ok(f))
            return false;
        read_input(it, f);
        return true;
    }
}

intc_err intc_record_next(const void *buf, size_t len, size_t *pos,
                          intc_record_item *it)
{
    const uint8_t *b = buf;
    size_t at;
    intc__rec_frame f;
    const char *why;

    if (!buf || !pos || !it)
        return INTC_ERR_INVAL;
    at = *pos;
    if (at == 0) {
        if (len < INTC__REC_PREAMBLE || memcmp(b, INTC__REC_MAGIC, 8) != 0)
            return INTC_ERR_CORRUPT;
        if (get(b + 8, 4) != INTC_RECORD_FORMAT)
            return INTC_ERR_VERSION;
        at = INTC__REC_PREAMBLE;
    }
    memset(it, 0, sizeof(*it));
    if (!intc__rec_frame_at(b, len, at, &f, &why))
        return INTC_ERR_CORRUPT;
    it->type = f.type;
    it->offset = at;
    if (!read_payload(it, &f) ||
        (f.type == INTC__RT_END && f.next != len))
        return INTC_ERR_CORRUPT;
    *pos = f.next;
    return INTC_OK;
}

intc_err intc_record_config_arrays(const intc_record_item *it,
                                   uint32_t *apic_ids,
                                   intc_ioapic_config *ioapics)
{
    const intc_machine_config *c;
    size_t ids;

    if (!it || it->type != INTC_RECORD_CONFIG || !it->data)
        return INTC_ERR_INVAL;
    c = &it->config;
    /* The item is the caller's: its counts are checked again. */
    if (!config_fits(c, it->data, it->data_len))
        return INTC_ERR_CORRUPT;
    ids = 4ull * c->n_cpus;
    for (size_t i = 0; apic_ids && i < c->n_cpus; i++)
        apic_ids[i] =
            (uint32_t)get(it->data + INTC__REC_CONFIG_FIXED + 4 * i, 4);
    if (ioapics)
        intc__rec_ioapics(it->data + INTC__REC_CONFIG_FIXED + ids,
                          it->data_len - INTC__REC_CONFIG_FIXED - ids,
                          c->n_ioapics, ioapics);
    return INTC_OK;
}

const char *intc_record_op_name(unsigned op)
{
    return intc__rec_op_name(op);
}
