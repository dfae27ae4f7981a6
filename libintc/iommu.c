/*
 * libintc — IOMMU interrupt remapping: what VT-d and AMD-Vi share (the
 * interrupt entry cache, guest-memory access, delivery of a remapped
 * interrupt) and the public entry points, which dispatch by kind.
 */
#include "internal.h"
#include "snap_priv.h"

/* ---- interrupt entry cache ---- */

/*
 * Direct-mapped, cache_entries lines.  Hardware may cache an entry from
 * its first use until software invalidates it; so does libintc, so a
 * guest that rewrites an IRTE without invalidating keeps getting the old
 * one, as it would on hardware (VT-d 6.5.2.7, AMD-Vi INVALIDATE_
 * INTERRUPT_TABLE).  An entry is always read whole.
 */
bool intc_iec_lookup(intc_iommu *u, uint64_t key, uint64_t *lo, uint64_t *hi)
{
    struct intc_iec_line *c = &u->iec[key & u->iec_mask];
    if (c->key != key)
        return false;
    *lo = c->lo;
    *hi = c->hi;
    return true;
}

void intc_iec_fill(intc_iommu *u, uint64_t key, uint64_t lo, uint64_t hi)
{
    struct intc_iec_line *c = &u->iec[key & u->iec_mask];
    c->key = key;
    c->lo = lo;
    c->hi = hi;
}

void intc_iec_drop(intc_iommu *u, uint64_t first, uint64_t count)
{
    for (uint32_t i = 0; i <= u->iec_mask; i++) {
        struct intc_iec_line *c = &u->iec[i];
        if (c->key != UINT64_MAX && c->key - first < count)
            c->key = UINT64_MAX;
    }
}

static void iec_clear(intc_iommu *u)
{
    for (uint32_t i = 0; i <= u->iec_mask; i++)
        u->iec[i].key = UINT64_MAX;
}

/* ---- guest memory ---- */

bool intc_dma_read(intc_machine *m, uint64_t addr, void *buf, size_t len)
{
    int r;
    if (!m->ops.dma_read)
        return false;
    m->in_cb++;
    r = m->ops.dma_read(m->host, addr, buf, len);
    m->in_cb--;
    return r == 0;
}

bool intc_dma_write(intc_machine *m, uint64_t addr, const void *buf,
                    size_t len)
{
    int r;
    if (!m->ops.dma_write)
        return false;
    m->in_cb++;
    r = m->ops.dma_write(m->host, addr, buf, len);
    m->in_cb--;
    return r == 0;
}

/* ---- delivery ---- */

/* The fields of a compatibility-format message, for engine users of a
   message the IOMMU lets through unremapped (8-bit destination). */
void intc_irq_decode_compat(uint64_t addr, uint32_t data, intc_irq *out)
{
    out->vector = (uint8_t)data;
    out->dm = (uint8_t)((data >> 8) & 7);
    out->level = data & INTC_MSI_DATA_LEVEL;
    out->logical = addr & INTC_MSI_ADDR_LOGICAL;
    out->rh = addr & INTC_MSI_ADDR_RH;
    out->dest = (uint32_t)(addr >> 12) & 0xff;
}

void intc_irq_send(intc_machine *m, const intc_irq *irq, uint32_t *n)
{
    intc_msg msg;
    *n = 0;
    if (irq->blocked || irq->posted)
        return;
    msg.dest = irq->dest;
    msg.x2apic_format = irq->x2apic;
    msg.src_cpu = INTC_NO_CPU;
    msg.vector = irq->vector;
    msg.logical = irq->logical;
    /* RH as in a compatibility message (SDM 11.11.1; VT-d 9.10 IRTE.RH):
       lowest priority among the destinations. */
    msg.dm = irq->rh && irq->dm == INTC_DM_FIXED ? INTC_DM_LOWEST : irq->dm;
    msg.level = irq->level &&
                (irq->dm == INTC_DM_FIXED || irq->dm == INTC_DM_LOWEST);
    msg.assert = true;
    if (irq->dm == INTC_DM_RESERVED3 || irq->dm == INTC_DM_SIPI)
        return; /* never produced by a checked IRTE */
    *n = intc_bus_deliver(m, &msg, INTC_NO_CPU);
    if (!*n && intc_tracing(m))
        intc_emit_unit(m, INTC_EV_NO_TARGET, INTC_NO_CPU, irq->vector, 0, 0,
                       irq->dest, msg.dm);
}

static void remap(intc_iommu *u, uint16_t sid, uint64_t addr, uint32_t data,
                  intc_irq *out)
{
    memset(out, 0, sizeof(*out));
    if (u->kind == INTC_IOMMU_VTD)
        intc_vtd_remap(u, sid, addr, data, out);
    else
        intc_amdvi_remap(u, sid, addr, data, out);
}

static bool remapping_on(const intc_iommu *u)
{
    return u->kind == INTC_IOMMU_VTD ? intc_vtd_enabled(u)
                                     : intc_amdvi_enabled(u);
}

/* The machine's route hook: every interrupt message passes here. */
intc_err intc_iommu_route(intc_machine *m, uint64_t addr, uint32_t data,
                          uint16_t sid, uint32_t *n)
{
    intc_iommu *u = m->iommu;
    intc_irq irq;

    *n = 0;
    if (!remapping_on(u)) {
        if (addr & INTC_MSI_ADDR_REMAPPABLE) {
            if (intc_tracing(m))
                intc_emit_unit(m, INTC_EV_MSI_DROPPED, INTC_NO_CPU,
                               (int32_t)(data & 0xff), 0, sid, addr,
                               (uint64_t)INTC_MSI_DROP_NO_REMAPPING << 32 |
                                   data);
            return INTC_OK;
        }
        return intc_msi_deliver_compat(m, addr, data, sid, n);
    }
    remap(u, sid, addr, data, &irq);
    if (irq.blocked || irq.posted)
        return INTC_OK;
    if (!irq.remapped) /* a compatibility message allowed through */
        return intc_msi_deliver_compat(m, addr, data, sid, n);
    intc_irq_send(m, &irq, n);
    if (intc_tracing(m))
        intc_emit_unit(m, INTC_EV_IR_REMAPPED, INTC_NO_CPU, irq.vector, 0,
                       sid, irq.index, (uint64_t)*n << 32 | irq.dest);
    return INTC_OK;
}

/* ---- life cycle ---- */

intc_err intc_iommu_init(intc_iommu *u, intc_machine *m,
                         const intc_iommu_config *cfg)
{
    memset(u, 0, sizeof(*u));
    u->m = m;
    u->kind = cfg->kind;
    u->cfg = *cfg;
    u->iec_mask = cfg->cache_entries - 1;
    u->iec = intc_alloc(m, sizeof(*u->iec) * cfg->cache_entries);
    if (!u->iec)
        return INTC_ERR_NOMEM;
    if (u->kind == INTC_IOMMU_VTD) {
        u->vtd.nfr = cfg->n_fault_regs;
        u->vtd.frr = intc_alloc(m, sizeof(uint64_t) * 2 * u->vtd.nfr);
        if (!u->vtd.frr)
            return INTC_ERR_NOMEM;
    }
    intc_iommu_do_reset(u);
    return INTC_OK;
}

void intc_iommu_fini(intc_iommu *u)
{
    intc_free(u->m, u->iec, sizeof(*u->iec) * ((size_t)u->iec_mask + 1));
    intc_free(u->m, u->vtd.frr, sizeof(uint64_t) * 2 * u->vtd.nfr);
    u->iec = NULL;
    u->vtd.frr = NULL;
}

void intc_iommu_do_reset(intc_iommu *u)
{
    iec_clear(u);
    if (u->kind == INTC_IOMMU_VTD)
        intc_vtd_reset(u);
    else
        intc_amdvi_reset(u);
}

bool intc_iommu_check(const intc_iommu *u, char *msg, size_t len)
{
    for (uint32_t i = 0; i <= u->iec_mask; i++) {
        uint64_t k = u->iec[i].key;
        if (k != UINT64_MAX && (k & u->iec_mask) != i)
            INTC_FAIL("IOMMU cache line %u holds key %#llx", i,
                      (unsigned long long)k);
    }
    return true;
}

/* ---- public entry points ---- */

static inline bool size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

intc_err intc_iommu_mmio_read(intc_iommu *u, uint32_t off, unsigned size,
                              uint64_t *val)
{
    intc_err err;
    uint32_t span = u && u->kind == INTC_IOMMU_AMDVI ? 0x4000u : 0x1000u;
    if (!u || !val || !size_ok(size) || off >= span || size > span - off)
        return INTC_ERR_INVAL;
    if (!intc_enter(u->m))
        return INTC_ERR_BUSY;
    *val = 0;
    err = INTC_OK;
    if (size >= 4 && !(off & (size - 1))) {
        /* Registers are 64-bit (or 32-bit pairs) at 8-aligned offsets;
           a 32-bit read takes its half.  Absent registers read 0. */
        uint64_t q = 0;
        if (u->kind == INTC_IOMMU_VTD)
            (void)intc_vtd_reg_get(u, off & ~7u, &q);
        else
            (void)intc_amdvi_reg_get(u, off & ~7u, &q);
        *val = size == 8 ? q : (uint32_t)(q >> (8 * (off & 4)));
    } /* else not an architectural access: reads 0 */
    intc_leave(u->m);
    return err;
}

intc_err intc_iommu_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val)
{
    intc_err err = INTC_OK;
    uint32_t span = u && u->kind == INTC_IOMMU_AMDVI ? 0x4000u : 0x1000u;
    if (!u || !size_ok(size) || off >= span || size > span - off)
        return INTC_ERR_INVAL;
    if (!intc_enter(u->m))
        return INTC_ERR_BUSY;
    if (size < 4 || (off & (size - 1))) {
        if (intc_tracing(u->m))
            intc_emit_unit(u->m, INTC_EV_BAD_ACCESS, INTC_NO_CPU, -1, 0, off,
                           size, val);
    } else if (u->kind == INTC_IOMMU_VTD) {
        err = intc_vtd_mmio_write(u, off, size, val);
    } else {
        err = intc_amdvi_mmio_write(u, off, size, val);
    }
    intc_leave(u->m);
    return err;
}

intc_err intc_iommu_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                          uint32_t data, intc_irq *out)
{
    if (!u || !out)
        return INTC_ERR_INVAL;
    if (!intc_enter(u->m))
        return INTC_ERR_BUSY;
    remap(u, sid, addr, data, out);
    intc_leave(u->m);
    return INTC_OK;
}

intc_err intc_irq_deliver(intc_machine *m, const intc_irq *irq)
{
    uint32_t n;
    if (!m || !irq)
        return INTC_ERR_INVAL;
    if (!intc_enter(m))
        return INTC_ERR_BUSY;
    /* A compatibility-format pass-through carries its decoded fields
       too (8-bit destination), so it is sent the same way. */
    intc_irq_send(m, irq, &n);
    intc_leave(m);
    return INTC_OK;
}

intc_err intc_iommu_set_table(intc_iommu *u, uint64_t irta, bool enabled,
                              bool cfi)
{
    if (!u)
        return INTC_ERR_INVAL;
    if (!intc_enter(u->m))
        return INTC_ERR_BUSY;
    if (u->kind == INTC_IOMMU_VTD)
        intc_vtd_set_table(u, irta, enabled, cfi);
    else
        intc_amdvi_set_table(u, irta, enabled);
    intc_leave(u->m);
    return INTC_OK;
}

intc_err intc_iommu_invalidate(intc_iommu *u, uint32_t index,
                               unsigned index_mask)
{
    if (!u)
        return INTC_ERR_INVAL;
    if (!intc_enter(u->m))
        return INTC_ERR_BUSY;
    if (index == INTC_IOMMU_INV_ALL) {
        iec_clear(u);
    } else if (u->kind == INTC_IOMMU_VTD) {
        uint64_t count = index_mask >= 16 ? 0x10000ull : 1ull << index_mask;
        intc_iec_drop(u, index & ~(count - 1), count);
    } else {
        /* AMD-Vi: a device's whole table (keys device << 16 | index). */
        intc_iec_drop(u, (uint64_t)(index & 0xffff) << 16, 0x10000);
    }
    intc_leave(u->m);
    return INTC_OK;
}

/* ---- snapshot section ---- */

INTC__SNAP_INLINE void iec_snap(intc__snap *c, const int mode, intc_iommu *u)
{
    intc__snap_begin(c, mode, "iommu", -1);
    for (uint32_t i = 0; i <= u->iec_mask; i++) {
        struct intc_iec_line *e = &u->iec[i];
        INTC__SNAP_VAR(c, mode, key, e->key, UINT64_MAX, "iec_key",
                       (int32_t)i);
        /* Direct-mapped: a line holds only keys that index to it. */
        INTC__SNAP_REQ(c, mode, key == UINT64_MAX || (key & u->iec_mask) == i,
                       "iec_key", (int32_t)i, "key of another cache line");
        INTC__SNAP(c, mode, e->lo, UINT64_MAX, "iec_lo", (int32_t)i);
        INTC__SNAP(c, mode, e->hi, UINT64_MAX, "iec_hi", (int32_t)i);
    }
}

/* The interrupt entry cache's section of the image (then the kind's
   registers: intc__vtd_snap, intc__amdvi_snap).  A cached IRTE is state
   the guest can observe (until software invalidates it, remapping may
   use the cached copy), so it is saved, not dropped. */
void intc__iec_snap(intc__snap *c, intc_iommu *u)
{
    INTC__SNAP_DISPATCH(c, iec_snap, u);
}
