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
bool intc__iec_lookup(intc_iommu *u, uint64_t key, uint64_t *lo, uint64_t *hi)
{
    struct intc_iec_line *c = &u->iec[key & u->iec_mask];
    if (c->key != key)
        return false;
    *lo = c->lo;
    *hi = c->hi;
    return true;
}

void intc__iec_fill(intc_iommu *u, uint64_t key, uint64_t lo, uint64_t hi)
{
    struct intc_iec_line *c = &u->iec[key & u->iec_mask];
    c->key = key;
    c->lo = lo;
    c->hi = hi;
}

void intc__iec_drop(intc_iommu *u, uint64_t first, uint64_t count)
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

bool intc__dma_read(intc_machine *m, uint64_t addr, void *buf, size_t len)
{
    if (INTC_UNLIKELY(m->rec != NULL))
        return intc__rec_dma_read(m, addr, buf, len);
    return intc__host_dma_read(m, addr, buf, len);
}

bool intc__dma_write(intc_machine *m, uint64_t addr, const void *buf,
                    size_t len)
{
    if (INTC_UNLIKELY(m->rec != NULL))
        return intc__rec_dma_write(m, addr, buf, len);
    return intc__host_dma_write(m, addr, buf, len);
}

bool intc__host_dma_read(intc_machine *m, uint64_t addr, void *buf,
                         size_t len)
{
    int r;
    if (!m->ops.dma_read)
        return false;
    m->in_cb++;
    r = m->ops.dma_read(m->host, addr, buf, len);
    m->in_cb--;
    return r == 0;
}

bool intc__host_dma_write(intc_machine *m, uint64_t addr, const void *buf,
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

/* ---- the remap stage ---- */

void intc__iommu_raise(intc_iommu *u, uint32_t addr_lo, uint32_t addr_hi,
                       uint32_t data)
{
    /* At most a fault event, a completion event and a notification are
       raised per operation, and every public call that can raise one
       flushes before it returns, so the outbox never fills. */
    if (u->n_out < INTC_IOMMU_OUTBOX) {
        struct intc_iommu_out *o = &u->outbox[u->n_out++];
        o->built = false;
        o->addr_lo = addr_lo;
        o->addr_hi = addr_hi;
        o->data = data;
    }
}

void intc__iommu_raise_msg(intc_iommu *u, const intc_msg *msg)
{
    if (u->n_out < INTC_IOMMU_OUTBOX) {
        struct intc_iommu_out *o = &u->outbox[u->n_out++];
        o->built = true;
        o->msg = *msg;
    }
}

/* The message a remapped (or posted-notification) intc_irq stands for. */
static void irq_to_msg(const intc_irq *irq, intc_msg *msg)
{
    msg->dest = irq->dest;
    msg->x2apic_format = irq->x2apic;
    msg->src_cpu = INTC_NO_CPU;
    msg->vector = irq->vector;
    msg->logical = irq->logical;
    /* RH as in a compatibility message (SDM 11.11.1; VT-d 9.10 IRTE.RH):
       lowest priority among the destinations. */
    msg->dm = irq->rh && irq->dm == INTC_DM_FIXED ? INTC_DM_LOWEST : irq->dm;
    msg->level = irq->level &&
                 (irq->dm == INTC_DM_FIXED || irq->dm == INTC_DM_LOWEST);
    msg->assert = true;
}

/* Interrupts the remapping hardware itself generates are not remapped
   (VT-d 5.1.6); they are decoded like any message, so an address
   register still outside 0xFEExxxxx is a memory write, not an interrupt
   (SDM 11.11.1).  With EIM the upper address register holds destination
   bits 31:8. */
static void send_out(intc_iommu *u, const struct intc_iommu_out *o)
{
    intc_machine *m = u->m;
    intc_delivery res;
    intc_msg msg;
    uint64_t addr = (uint64_t)o->addr_hi << 32 | o->addr_lo;
    unsigned why;

    if (o->built) {
        /* A notification: INTC_EV_IR_POSTED already told the story. */
        if (!intc__bus_deliver(m, &o->msg, INTC_NO_CPU) && intc__tracing(m))
            intc__emit_unit(m, INTC_EV_NO_TARGET, INTC_NO_CPU, o->msg.vector,
                           0, 0, o->msg.dest, o->msg.dm);
        return;
    }
    if (u->cfg.x2apic && (o->addr_hi & 0xffffff00u)) {
        why = intc__msg_decode(m, o->addr_lo, o->data, &msg);
        msg.dest = (msg.dest & 0xff) | (o->addr_hi & 0xffffff00u);
        msg.x2apic_format = true;
    } else {
        why = intc__msg_decode(m, addr, o->data, &msg);
    }
    if (why)
        intc__dropped(m, addr, o->data, 0, why, &res);
    else
        intc__send(m, &msg, addr, o->data, 0, &res);
}

void intc__iommu_flush(intc_iommu *u)
{
    /* Sending raises nothing new (the unit's own messages are not
       remapped). */
    for (unsigned i = 0; i < u->n_out; i++)
        send_out(u, &u->outbox[i]);
    u->n_out = 0;
    intc__iommu_sync(u);
}

void intc__iommu_sync(intc_iommu *u)
{
    u->m->remap = u->ops->enabled(u) ? u : NULL;
}

static void remap(intc_iommu *u, uint16_t sid, uint64_t addr, uint32_t data,
                  intc_irq *out)
{
    memset(out, 0, sizeof(*out));
    u->ops->remap(u, sid, addr, data, out);
}

void intc__iommu_route(intc_iommu *u, uint64_t addr, uint32_t data,
                       uint16_t sid, intc_delivery *res)
{
    intc_machine *m = u->m;
    intc_irq irq;
    intc_msg msg;

    remap(u, sid, addr, data, &irq);
    if (irq.blocked) {
        res->status = INTC_DELIVERY_BLOCKED;
        res->reason = irq.fault;
        res->n_cpus = 0;
        res->irte = irq.index;
    } else if (irq.posted) {
        res->status = INTC_DELIVERY_POSTED;
        res->reason = 0;
        res->n_cpus = 0;
        res->irte = irq.index;
    } else if (!irq.remapped) {
        /* Passed through: the original message, decoded as any other. */
        unsigned why = intc__msg_decode(m, addr, data, &msg);
        if (why)
            intc__dropped(m, addr, data, sid, why, res);
        else
            intc__send(m, &msg, addr, data, sid, res);
    } else {
        uint32_t n;
        irq_to_msg(&irq, &msg);
        n = intc__deliver(m, &msg, INTC_NO_CPU);
        res->status = n ? INTC_DELIVERY_ACCEPTED : INTC_DELIVERY_NO_TARGET;
        res->reason = 0;
        res->n_cpus = n;
        res->irte = irq.index;
        if (intc__tracing(m)) {
            if (!n)
                intc__emit_unit(m, INTC_EV_NO_TARGET, INTC_NO_CPU, irq.vector,
                               0, 0, irq.dest, msg.dm);
            intc__emit_unit(m, INTC_EV_IR_REMAPPED, INTC_NO_CPU, irq.vector, 0,
                           sid, irq.index, (uint64_t)n << 32 | irq.dest);
        }
    }
    if (INTC_UNLIKELY(u->n_out))
        intc__iommu_flush(u);
}

/* ---- life cycle ---- */

intc_err intc__iommu_init(intc_iommu *u, intc_machine *m,
                         const intc_iommu_config *cfg)
{
    memset(u, 0, sizeof(*u));
    u->m = m;
    u->kind = cfg->kind;
    u->ops = cfg->kind == INTC_IOMMU_VTD ? &intc__vtd_ops : &intc__amdvi_ops;
    u->cfg = *cfg;
    u->iec_mask = cfg->cache_entries - 1;
    u->iec = intc__alloc(m, sizeof(*u->iec) * cfg->cache_entries);
    if (!u->iec)
        return INTC_ERR_NOMEM;
    if (u->kind == INTC_IOMMU_VTD) {
        u->vtd.nfr = cfg->n_fault_regs;
        u->vtd.frr = intc__alloc(m, sizeof(uint64_t) * 2 * u->vtd.nfr);
        if (!u->vtd.frr)
            return INTC_ERR_NOMEM;
    }
    intc__iommu_do_reset(u);
    return INTC_OK;
}

void intc__iommu_fini(intc_iommu *u)
{
    intc__free(u->m, u->iec, sizeof(*u->iec) * ((size_t)u->iec_mask + 1));
    intc__free(u->m, u->vtd.frr, sizeof(uint64_t) * 2 * u->vtd.nfr);
    u->iec = NULL;
    u->vtd.frr = NULL;
}

void intc__iommu_do_reset(intc_iommu *u)
{
    iec_clear(u);
    u->ops->reset(u);
    u->n_out = 0;
    u->m->remap = NULL; /* remapping comes up disabled */
}

bool intc__iommu_check(const intc_iommu *u, char *msg, size_t len)
{
    if (u->n_out)
        INTC_FAIL("IOMMU outbox holds %u unsent messages", u->n_out);
    if ((u->m->remap == u) != u->ops->enabled(u))
        INTC_FAIL("remap stage %s but remapping is %s",
                  u->m->remap ? "installed" : "absent",
                  u->ops->enabled(u) ? "enabled" : "disabled");
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
    if (!u || !val || !size_ok(size) || off >= u->ops->mmio_span ||
        size > u->ops->mmio_span - off)
        return INTC_ERR_INVAL;
    if (!intc__enter(u->m))
        return INTC_ERR_BUSY;
    *val = 0;
    if (size >= 4 && !(off & (size - 1))) {
        /* Registers are 64-bit (or 32-bit pairs) at 8-aligned offsets;
           a 32-bit read takes its half.  Absent registers read 0. */
        uint64_t q = 0;
        (void)u->ops->reg_get(u, off & ~7u, &q);
        *val = size == 8 ? q : (uint32_t)(q >> (8 * (off & 4)));
    } /* else not an architectural access: reads 0 */
    INTC_REC(u->m, INTC__OP_IOMMU_MMIO_READ, 0, off, size, 0, INTC_OK, *val);
    intc__leave(u->m);
    return INTC_OK;
}

intc_err intc_iommu_mmio_write(intc_iommu *u, uint32_t off, unsigned size,
                               uint64_t val)
{
    intc_err err = INTC_OK;
    if (!u || !size_ok(size) || off >= u->ops->mmio_span ||
        size > u->ops->mmio_span - off)
        return INTC_ERR_INVAL;
    if (!intc__enter(u->m))
        return INTC_ERR_BUSY;
    if (size < 4 || (off & (size - 1))) {
        if (intc__tracing(u->m))
            intc__emit_unit(u->m, INTC_EV_BAD_ACCESS, INTC_NO_CPU, -1, 0, off,
                           size, val);
    } else {
        err = u->ops->mmio_write(u, off, size, val);
    }
    intc__iommu_flush(u);
    INTC_REC(u->m, INTC__OP_IOMMU_MMIO_WRITE, 0, off, size, val, err, 0);
    intc__leave(u->m);
    return err;
}

/* The engine's view of a request the unit let through unremapped: the
   original message's fields, from the one decoder.  One the decoder
   drops is reported blocked without a fault. */
static void passthrough_fields(intc_iommu *u, uint64_t addr, uint32_t data,
                               intc_irq *out)
{
    intc_msg msg;
    if (intc__msg_decode(u->m, addr, data, &msg)) {
        out->blocked = true;
        return;
    }
    out->dest = msg.dest;
    out->vector = msg.vector;
    /* RH is reported as such, not folded into the delivery mode. */
    out->dm = (uint8_t)((data >> INTC_MSI_DATA_DM_SHIFT) & 7);
    out->logical = msg.logical;
    out->rh = addr & INTC_MSI_ADDR_RH;
    out->level = data & INTC_MSI_DATA_LEVEL;
    out->x2apic = msg.x2apic_format;
}

intc_err intc_iommu_remap(intc_iommu *u, uint16_t sid, uint64_t addr,
                          uint32_t data, intc_irq *out)
{
    if (!u || !out)
        return INTC_ERR_INVAL;
    if (!intc__enter(u->m))
        return INTC_ERR_BUSY;
    remap(u, sid, addr, data, out);
    if (!out->blocked && !out->posted && !out->remapped)
        passthrough_fields(u, addr, data, out);
    intc__iommu_flush(u);
    if (INTC_UNLIKELY(u->m->rec != NULL)) {
        uint8_t b[INTC__IRQ_BYTES];
        intc__rec_irq_bytes(b, out);
        intc__rec_call_blob(u->m, INTC__OP_IOMMU_REMAP, 0, sid, addr, data,
                            INTC_OK, 0, b, sizeof b);
    }
    intc__leave(u->m);
    return INTC_OK;
}

intc_err intc_irq_deliver(intc_machine *m, const intc_irq *irq,
                          intc_delivery *out)
{
    intc_delivery res;
    intc_msg msg;
    if (!m || !irq)
        return INTC_ERR_INVAL;
    if (!out)
        out = &res;
    if (!intc__enter(m))
        return INTC_ERR_BUSY;
    out->reason = 0;
    out->n_cpus = 0;
    out->irte = irq->remapped || irq->posted || irq->blocked ? irq->index
                                                             : UINT32_MAX;
    if (irq->blocked) {
        out->status = INTC_DELIVERY_BLOCKED;
        out->reason = irq->fault;
    } else if (irq->posted) {
        out->status = INTC_DELIVERY_POSTED;
    } else if (irq->dm == INTC_DM_RESERVED3 || irq->dm == INTC_DM_SIPI) {
        /* Never produced by a checked IRTE or a decoded message. */
        out->status = INTC_DELIVERY_DROPPED;
        out->reason = INTC_MSI_DROP_RESERVED_MODE;
    } else {
        /* A compatibility-format pass-through carries its decoded
           fields too, so it is sent the same way. */
        irq_to_msg(irq, &msg);
        out->n_cpus = intc__bus_deliver(m, &msg, INTC_NO_CPU);
        out->status = out->n_cpus ? INTC_DELIVERY_ACCEPTED
                                  : INTC_DELIVERY_NO_TARGET;
        if (!out->n_cpus && intc__tracing(m))
            intc__emit_unit(m, INTC_EV_NO_TARGET, INTC_NO_CPU, irq->vector, 0,
                           0, irq->dest, msg.dm);
    }
    if (INTC_UNLIKELY(m->rec != NULL)) {
        uint8_t b[INTC__IRQ_BYTES];
        intc__rec_irq_bytes(b, irq);
        intc__rec_call_blob(m, INTC__OP_IRQ_DELIVER, 0, 0, 0, 0, INTC_OK,
                            intc__rec_delivery(out), b, sizeof b);
    }
    intc__leave(m);
    return INTC_OK;
}

intc_err intc_iommu_set_table(intc_iommu *u, uint64_t irta, bool enabled,
                              bool cfi)
{
    if (!u)
        return INTC_ERR_INVAL;
    if (!intc__enter(u->m))
        return INTC_ERR_BUSY;
    u->ops->set_table(u, irta, enabled, cfi);
    intc__iommu_flush(u);
    INTC_REC(u->m, INTC__OP_IOMMU_SET_TABLE, 0, irta, enabled, cfi, INTC_OK,
             0);
    intc__leave(u->m);
    return INTC_OK;
}

intc_err intc_iommu_invalidate(intc_iommu *u, uint32_t index,
                               unsigned index_mask)
{
    if (!u)
        return INTC_ERR_INVAL;
    if (!intc__enter(u->m))
        return INTC_ERR_BUSY;
    if (index == INTC_IOMMU_INV_ALL)
        iec_clear(u);
    else
        u->ops->invalidate(u, index, index_mask);
    INTC_REC(u->m, INTC__OP_IOMMU_INVALIDATE, 0, index, index_mask, 0,
             INTC_OK, 0);
    intc__leave(u->m);
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
