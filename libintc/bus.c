/*
 * libintc — the system bus: which Local APICs an interrupt message reaches.
 *
 * Destinations are found without scanning every APIC (STYLE: KVM's APIC
 * map, bhyve's fixed tables):
 *  - physical, xAPIC mode: a chain per 8-bit xAPIC ID, re-filed when the
 *    guest writes the ID or changes mode (the ID is guest-writable, so two
 *    APICs may share one; both receive, as on a real bus);
 *  - physical, x2APIC mode: the x2APIC ID is read-only (11.12.1), so a
 *    hash map built at creation answers in O(1);
 *  - logical, xAPIC mode: a chain per LDR bit (flat model) or per cluster
 *    and bit (cluster model), re-filed when LDR, DFR or mode change; a
 *    message visits one chain per set MDA bit;
 *  - logical, x2APIC mode: the LDR is derived from the x2APIC ID
 *    (11.12.10.2), so a hash map from LDR value to APIC, built at
 *    creation, answers each MDA bit in O(1): O(popcount(MDA)).
 * Broadcasts visit every enabled APIC: O(targets).
 *
 * A message's destination is read in the sender's format: 8-bit (xAPIC:
 * 0xFF is broadcast) or 32-bit (x2APIC: 0xFFFFFFFF is broadcast).  Any
 * other value is compared, zero-extended, against each APIC in its own
 * mode.  The SDM does not define mixed xAPIC/x2APIC systems; this rule
 * gives them a defined, symmetric outcome.
 */
#include "internal.h"

#include <stdio.h>

/* ---- ID maps ---- */

static intc_err idmap_init(intc_machine *m, intc_idmap *map, uint32_t n)
{
    uint32_t size = 4;
    while (size < 2 * n)
        size <<= 1;
    map->mask = size - 1; /* first: idmap_fini needs it on failure */
    map->keys = intc__alloc(m, sizeof(uint32_t) * size);
    map->vals = intc__alloc(m, sizeof(int32_t) * size);
    if (!map->keys || !map->vals)
        return INTC_ERR_NOMEM;
    for (uint32_t i = 0; i < size; i++)
        map->vals[i] = -1;
    return INTC_OK;
}

static void idmap_fini(intc_machine *m, intc_idmap *map)
{
    size_t size = (size_t)map->mask + 1;
    intc__free(m, map->keys, sizeof(uint32_t) * size);
    intc__free(m, map->vals, sizeof(int32_t) * size);
    map->keys = NULL;
    map->vals = NULL;
}

static inline uint32_t x2apic_ldr(uint32_t id)
{
    /* 11.12.10.2: LDR = ID[19:4] << 16 | 1 << ID[3:0]. */
    return ((id >> 4) & 0xffffu) << 16 | 1u << (id & 0xf);
}

/* Empty every xAPIC routing chain. */
static void clear_heads(intc_machine *m)
{
    for (unsigned i = 0; i < 256; i++)
        m->phys8_head[i] = -1;
    for (unsigned i = 0; i < 8; i++)
        m->flat_head[i] = -1;
    for (unsigned c = 0; c < 16; c++)
        for (unsigned b = 0; b < 4; b++)
            m->cluster_head[c][b] = -1;
}

intc_err intc__bus_init(intc_machine *m)
{
    intc_err err;
    uint32_t max_id = 0;

    clear_heads(m);

    err = idmap_init(m, &m->x2id, m->n_cpus);
    if (!err)
        err = idmap_init(m, &m->x2ldr, m->n_cpus);
    if (err)
        return err;

    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc_lapic *l = &m->cpus[i];
        uint32_t id = l->initial_id;
        uint32_t slot = intc__idmap_slot(&m->x2id, id);
        if (m->x2id.vals[slot] >= 0)
            return INTC_ERR_INVAL; /* duplicate APIC ID in the config */
        m->x2id.keys[slot] = id;
        m->x2id.vals[slot] = (int32_t)i;

        /* IDs differing only above bit 19 share an LDR: chain them. */
        slot = intc__idmap_slot(&m->x2ldr, x2apic_ldr(id));
        l->rt.x2l_next = m->x2ldr.vals[slot];
        m->x2ldr.keys[slot] = x2apic_ldr(id);
        m->x2ldr.vals[slot] = (int32_t)i;
        if (id >= max_id)
            max_id = id;
    }
    /* IDs that are dense enough (any topology with modest gaps: sparse
       cores, socket bits) get a direct table, so that an ID above 255,
       or one that differs from its CPU index, costs one load like any
       other; 32-bit IDs scattered further keep the hash map. */
    if (max_id < 16 * (uint64_t)m->n_cpus + 4096) {
        m->x2dense_n = max_id + 1;
        m->x2dense = intc__alloc(m, sizeof(int32_t) * m->x2dense_n);
        if (!m->x2dense) {
            m->x2dense_n = 0;
            return INTC_ERR_NOMEM;
        }
        for (uint32_t k = 0; k < m->x2dense_n; k++)
            m->x2dense[k] = -1;
        for (uint32_t i = 0; i < m->n_cpus; i++)
            m->x2dense[m->cpus[i].initial_id] = (int32_t)i;
    }
    return INTC_OK;
}

void intc__bus_fini(intc_machine *m)
{
    idmap_fini(m, &m->x2id);
    idmap_fini(m, &m->x2ldr);
    intc__free(m, m->x2dense, sizeof(int32_t) * m->x2dense_n);
    m->x2dense = NULL;
    m->x2dense_n = 0;
}

/* ---- incremental filing ---- */

static int32_t *lhead(intc_machine *m, unsigned kind, unsigned cluster,
                      unsigned bit)
{
    return kind == 1 ? &m->flat_head[bit] : &m->cluster_head[cluster][bit];
}

static void unfile(intc_machine *m, intc_lapic *l)
{
    intc_lapic *c = m->cpus;
    struct intc_lapic_rt *rt = &l->rt;

    if (rt->p8_key >= 0) {
        if (rt->p8_prev >= 0)
            c[rt->p8_prev].rt.p8_next = rt->p8_next;
        else
            m->phys8_head[rt->p8_key] = rt->p8_next;
        if (rt->p8_next >= 0)
            c[rt->p8_next].rt.p8_prev = rt->p8_prev;
        rt->p8_key = -1;
    }
    for (unsigned b = 0; rt->lkind && b < 8; b++) {
        if (!(rt->lbits & (1u << b)))
            continue;
        if (rt->lprev[b] >= 0)
            c[rt->lprev[b]].rt.lnext[b] = rt->lnext[b];
        else
            *lhead(m, rt->lkind, rt->lcluster, b) = rt->lnext[b];
        if (rt->lnext[b] >= 0)
            c[rt->lnext[b]].rt.lprev[b] = rt->lprev[b];
    }
    rt->lkind = 0;
    rt->lbits = 0;
    rt->lcluster = 0;
}

/* Where an xAPIC-mode APIC's LDR files it (11.6.2.2): DFR[31:28] 1111b
   flat (kind 1, the 8 LDR bits), 0000b cluster (kind 2, cluster LDR[31:28]
   and bits LDR[27:24]).  Other models are reserved and match no logical
   destination (kind 0), as does an LDR with no bit set. */
static void ldr_filing(const intc_lapic *l, unsigned *kind, unsigned *bits,
                       unsigned *cluster)
{
    unsigned model = l->dfr >> 28, ldr8 = l->ldr >> 24;
    *kind = *bits = *cluster = 0;
    if (l->mode != INTC_MODE_XAPIC)
        return;
    if (model == 0xf) {
        *kind = 1;
        *bits = ldr8;
    } else if (model == 0) {
        *kind = 2;
        *cluster = ldr8 >> 4;
        *bits = ldr8 & 0xf;
    }
    if (!*bits)
        *kind = 0;
}

void intc__bus_update(intc_machine *m, intc_lapic *l)
{
    struct intc_lapic_rt *rt = &l->rt;
    int32_t self = (int32_t)l->index;
    int16_t key = l->mode == INTC_MODE_XAPIC ? l->xapic_id : -1;
    unsigned kind, bits, cluster;

    if (rt->x2 != (l->mode == INTC_MODE_X2APIC)) {
        rt->x2 = !rt->x2;
        m->n_x2 += rt->x2 ? 1u : (uint32_t)-1;
    }
    ldr_filing(l, &kind, &bits, &cluster);
    if (rt->p8_key == key && rt->lkind == kind && rt->lbits == bits &&
        rt->lcluster == cluster)
        return;

    /* Chains are kept in ascending CPU index, so the order in which the
       APICs of one message accept it never depends on the history of ID
       and LDR writes (a restored machine, or one that was saved, behaves
       like the original).  The walk is as long as the chain; these
       writes are rare. */
    intc_lapic *c = m->cpus;
    unfile(m, l);
    if (key >= 0) {
        int32_t *link = &m->phys8_head[key], prev = -1;
        while (*link >= 0 && *link < self) {
            prev = *link;
            link = &c[*link].rt.p8_next;
        }
        rt->p8_key = key;
        rt->p8_prev = prev;
        rt->p8_next = *link;
        if (*link >= 0)
            c[*link].rt.p8_prev = self;
        *link = self;
    }
    if (kind) {
        rt->lkind = (uint8_t)kind;
        rt->lbits = (uint8_t)bits;
        rt->lcluster = (uint8_t)cluster;
        for (unsigned b = 0; b < 8; b++) {
            int32_t *link, prev = -1;
            if (!(bits & (1u << b)))
                continue;
            link = lhead(m, kind, cluster, b);
            while (*link >= 0 && *link < self) {
                prev = *link;
                link = &c[*link].rt.lnext[b];
            }
            rt->lprev[b] = prev;
            rt->lnext[b] = *link;
            if (*link >= 0)
                c[*link].rt.lprev[b] = self;
            *link = self;
        }
    }
}

/* ---- matching ---- */

static uint32_t next_stamp(intc_machine *m)
{
    if (++m->stamp == 0) {
        /* Wrapped after 2^32 logical deliveries: start afresh. */
        for (uint32_t i = 0; i < m->n_cpus; i++)
            m->cpus[i].rt.stamp = 0;
        m->stamp = 1;
    }
    return m->stamp;
}

/* Fill m->targets with the APICs msg's destination names (no
   shorthand).  Broadcast is handled by the caller. */
static uint32_t collect(intc_machine *m, const intc_msg *msg)
{
    intc_lapic *c = m->cpus;
    uint32_t n = 0;
    uint32_t dest = msg->dest;

    if (!msg->logical) {
        if (dest <= 0xff)
            for (int32_t i = m->phys8_head[dest]; i >= 0;
                 i = c[i].rt.p8_next)
                m->targets[n++] = (uint32_t)i;
        int32_t x = intc__x2apic_by_id(m, dest);
        if (x >= 0)
            m->targets[n++] = (uint32_t)x;
        return n;
    }

    uint32_t stamp = next_stamp(m);
    if (dest <= 0xff) {
        /* xAPIC-mode receivers: flat model, one chain per MDA bit... */
        for (uint32_t bits = dest; bits; bits &= bits - 1) {
            unsigned b = (unsigned)intc__ctz32(bits);
            for (int32_t i = m->flat_head[b]; i >= 0; i = c[i].rt.lnext[b]) {
                if (c[i].rt.stamp != stamp) {
                    c[i].rt.stamp = stamp;
                    m->targets[n++] = (uint32_t)i;
                }
            }
        }
        /* ...and cluster model: MDA[7:4] cluster, MDA[3:0] bits. */
        for (uint32_t bits = dest & 0xf; bits; bits &= bits - 1) {
            unsigned b = (unsigned)intc__ctz32(bits);
            for (int32_t i = m->cluster_head[dest >> 4][b]; i >= 0;
                 i = c[i].rt.lnext[b]) {
                if (c[i].rt.stamp != stamp) {
                    c[i].rt.stamp = stamp;
                    m->targets[n++] = (uint32_t)i;
                }
            }
        }
    }
    /* x2APIC-mode receivers: MDA[31:16] cluster, MDA[15:0] bits
       (11.12.10.2).  Each APIC's LDR has one bit, so no duplicates. */
    for (uint32_t bits = dest & 0xffffu; bits; bits &= bits - 1) {
        uint32_t key = (dest & 0xffff0000u) | 1u << intc__ctz32(bits);
        for (int32_t i = intc__idmap_get(&m->x2ldr, key); i >= 0;
             i = c[i].rt.x2l_next)
            if (c[i].mode == INTC_MODE_X2APIC)
                m->targets[n++] = (uint32_t)i;
    }
    return n;
}

/*
 * Lowest-priority arbitration (11.6.2.4) among the APICs that can accept
 * a fixed interrupt.  With focus_processor configured (P6 and Pentium),
 * an APIC that already has the vector in IRR or ISR and has focus
 * checking on (SVR[9] = 0) takes it.  Otherwise the lowest arbitration
 * priority wins.  Ties go round-robin by CPU index, starting after the
 * previous winner: deterministic, and it spreads equal-priority load as
 * chipsets do (the SDM leaves the choice to the chipset on Pentium 4 and
 * later).
 */
static int32_t lowest_priority(intc_machine *m, const intc_msg *msg,
                               uint32_t n)
{
    intc_lapic *c = m->cpus;
    int32_t best = -1;
    uint32_t best_key = UINT32_MAX;

    for (uint32_t k = 0; k < n; k++) {
        const intc_lapic *l = &c[m->targets[k]];
        uint32_t dist, key;
        if (!l->sw_enabled)
            continue;
        if (m->cfg.focus_processor && intc__lapic_is_focus(l, msg->vector))
            return (int32_t)l->index;
        dist = (l->index + m->n_cpus - m->lp_last - 1) % m->n_cpus;
        key = (uint32_t)intc__lapic_apr(l) << 24 | dist;
        if (key < best_key) {
            best_key = key;
            best = (int32_t)l->index;
        }
    }
    if (best >= 0)
        m->lp_last = (uint32_t)best;
    return best;
}

static uint32_t dispatch(intc_machine *m, const intc_msg *msg, uint32_t n)
{
    uint32_t accepted = 0;
    if (msg->dm == INTC_DM_LOWEST) {
        int32_t w = lowest_priority(m, msg, n);
        return w >= 0 && intc__lapic_accept(&m->cpus[w], msg);
    }
    for (uint32_t k = 0; k < n; k++)
        accepted += intc__lapic_accept(&m->cpus[m->targets[k]], msg);
    return accepted;
}

uint32_t intc__bus_broadcast(intc_machine *m, const intc_msg *msg,
                            uint32_t except_cpu)
{
    intc_lapic *c = m->cpus;
    uint32_t n = 0;
    if (msg->dm == INTC_DM_LOWEST) {
        for (uint32_t i = 0; i < m->n_cpus; i++)
            if (i != except_cpu && c[i].mode != INTC_MODE_DISABLED)
                m->targets[n++] = i;
        return dispatch(m, msg, n);
    }
    /* Every hardware-enabled APIC, in CPU order. */
    for (uint32_t i = 0; i < m->n_cpus; i++)
        if (i != except_cpu && c[i].mode != INTC_MODE_DISABLED)
            n += intc__lapic_accept(&c[i], msg);
    return n;
}

/* Everything but a physical message to a single APIC: through the
   target list. */
INTC_COLD uint32_t intc__deliver_listed(intc_machine *m, const intc_msg *msg,
                                       uint32_t except_cpu)
{
    uint32_t n;
    if (intc__is_broadcast(msg))
        return intc__bus_broadcast(m, msg, except_cpu);
    n = collect(m, msg);
    if (except_cpu != INTC_NO_CPU) {
        uint32_t k = 0;
        for (uint32_t j = 0; j < n; j++)
            if (m->targets[j] != except_cpu)
                m->targets[k++] = m->targets[j];
        n = k;
    }
    return dispatch(m, msg, n);
}

uint32_t intc__bus_deliver(intc_machine *m, const intc_msg *msg,
                          uint32_t except_cpu)
{
    return intc__deliver(m, msg, except_cpu);
}

/* ---- the pipeline: decode, route, send ---- */

/* Why a message decode() refused is dropped: the checks in the order
   the reasons are reported. */
static INTC_COLD unsigned drop_reason(uint64_t addr, uint32_t data)
{
    unsigned dm = (data >> INTC_MSI_DATA_DM_SHIFT) & 7;
    /* 11.11.1: only a write to 0xFEExxxxx is an interrupt message; any
       other is an ordinary memory write (this also holds for the
       IOMMU's own event messages, whose address registers the guest may
       not have programmed yet). */
    if ((addr & ~0xfffffull) != INTC_MSI_ADDR_BASE)
        return INTC_MSI_DROP_NOT_INTERRUPT;
    /* The remappable format (VT-d 5.1.2.2) is not for the APICs. */
    if (addr & INTC_MSI_ADDR_REMAPPABLE)
        return INTC_MSI_DROP_NO_REMAPPING;
    /* Data bits 31:16 are reserved (Figure 11-25). */
    if (data & 0xffff0000u)
        return INTC_MSI_DROP_RESERVED_DATA;
    /* 011b and 110b are reserved delivery modes for messages. */
    if (INTC_DM_RESERVED_SET >> dm & 1)
        return INTC_MSI_DROP_RESERVED_MODE;
    /* 11.11.2: for a level-triggered message, level 0 is a de-assert,
       which the APICs ignore. */
    if ((data & (INTC_MSI_DATA_LEVEL | INTC_MSI_DATA_ASSERT)) ==
        INTC_MSI_DATA_LEVEL)
        return INTC_MSI_DROP_DEASSERT;
    return INTC_MSI_DROP_RESERVED_ADDR; /* bits 11:5 without ext. dest */
}

/* Data bits 15:8 that make a message undeliverable, as a 32-bit table
   indexed by DM (bits 10:8) | assert (bit 14) << 3 | level (bit 15) << 4:
   the reserved delivery modes 011b and 110b, and a level-triggered
   de-assert (level 1, assert 0). */
#define DATA_IDX(data) (((data) >> 8 & 7) | ((data) >> 11 & 0x18))
#define DATA_BAD (INTC_DM_RESERVED_SET * 0x01010101u | 0xffu << 16)

INTC_INLINE unsigned decode(const intc_machine *m, uint64_t addr,
                            uint32_t data, intc_msg *msg)
{
    unsigned dm = (data >> INTC_MSI_DATA_DM_SHIFT) & 7;
    /* Everything that makes it no (deliverable) interrupt message, in
       one test: the address outside 0xFEExxxxx, the remappable format,
       bits 11:5 without msi_ext_dest (m->msi_addr_mask), data bits 31:16,
       and DATA_BAD; drop_reason() says which. */
    if (INTC_UNLIKELY(((addr & m->msi_addr_mask) ^ INTC_MSI_ADDR_BASE) |
                      (data >> 16) | (DATA_BAD >> DATA_IDX(data) & 1))) {
        /* (Never 0; said so for the compiler's flow analysis.) */
        unsigned why = drop_reason(addr, data);
        return why ? why : INTC_MSI_DROP_RESERVED_ADDR;
    }
    /* Destination: bits 19:12, and with msi_ext_dest bits 11:5 as
       destination bits 14:8 (the extended destination ID hypervisors
       offer for APIC IDs up to 32767; without it they are 0 here).  An
       8-bit destination keeps the xAPIC meaning of 0xFF (broadcast); a
       wider one is an x2APIC-style ID. */
    msg->dest = (uint32_t)(addr >> INTC_MSI_ADDR_DEST_SHIFT & 0xff) |
                (uint32_t)(addr << 3 & 0x7f00);
    msg->x2apic_format = msg->dest > 0xff;
    msg->src_cpu = INTC_NO_CPU;
    msg->vector = (uint8_t)data;
    msg->logical = addr & INTC_MSI_ADDR_LOGICAL;
    /* 11.11.1: RH=1 sends the interrupt to the lowest-priority processor
       of the destination set; DM alone says physical or logical. */
    msg->dm = (uint8_t)(dm | ((addr & INTC_MSI_ADDR_RH) && !dm));
    msg->level = (data & INTC_MSI_DATA_LEVEL) && dm <= INTC_DM_LOWEST;
    msg->assert = true;
    return 0;
}

unsigned intc__msg_decode(const intc_machine *m, uint64_t addr,
                          uint32_t data, intc_msg *msg)
{
    return decode(m, addr, data, msg);
}

void intc__dropped(intc_machine *m, uint64_t addr, uint32_t data,
                   uint16_t sid, unsigned why, intc_delivery *res)
{
    res->status = INTC_DELIVERY_DROPPED;
    res->reason = why;
    res->n_cpus = 0;
    res->irte = UINT32_MAX;
    if (intc__tracing(m))
        intc__emit_unit(m, INTC_EV_MSI_DROPPED, INTC_NO_CPU,
                       (int32_t)(data & 0xff), 0, sid, addr,
                       (uint64_t)why << 32 | data);
}

INTC_INLINE intc_err route(intc_machine *m, uint64_t addr, uint32_t data,
                           uint16_t sid, intc_delivery *res)
{
    intc_msg msg;
    unsigned why;

    if (INTC_UNLIKELY(m->remap != NULL)) {
        if ((addr & ~0xfffffull) != INTC_MSI_ADDR_BASE) {
            intc__dropped(m, addr, data, sid, INTC_MSI_DROP_NOT_INTERRUPT,
                          res);
            return INTC_ERR_NOT_DECODED;
        }
        intc__iommu_route(m->remap, addr, data, sid, res);
        return INTC_OK;
    }
    why = decode(m, addr, data, &msg);
    if (INTC_UNLIKELY(why)) {
        intc__dropped(m, addr, data, sid, why, res);
        return why == INTC_MSI_DROP_NOT_INTERRUPT ? INTC_ERR_NOT_DECODED
                                                  : INTC_OK;
    }
    intc__send(m, &msg, addr, data, sid, res);
    return INTC_OK;
}

intc_err intc__route(intc_machine *m, uint64_t addr, uint32_t data,
                     uint16_t sid, intc_delivery *res)
{
    return route(m, addr, data, sid, res);
}

/* msi.h: the pipeline's own entry point (here, so that it is one
   function from the call to IRR). */
/* The recorded twin (internal.h, "recording"). */
INTC_COLD static intc_err msi_send_rec(intc_machine *m, uint64_t addr,
                                       uint32_t data, uint16_t source_id,
                                       intc_delivery *out)
{
    intc_delivery res;
    intc_err ret;
    if (!out)
        out = &res;
    INTC_REC_TWIN(m, ret, intc_msi_send(m, addr, data, source_id, out),
                  INTC__OP_MSI_SEND, 0, addr, data, source_id, ret,
                  intc__rec_delivery(out));
    return ret;
}

intc_err intc_msi_send(intc_machine *m, uint64_t addr, uint32_t data,
                       uint16_t source_id, intc_delivery *out)
{
    intc_delivery res;
    intc_err err;
    if (INTC_UNLIKELY(!m))
        return INTC_ERR_INVAL;
    if (INTC_UNLIKELY(m->rec_calls))
        return msi_send_rec(m, addr, data, source_id, out);
    if (INTC_UNLIKELY(!intc__enter(m)))
        return INTC_ERR_BUSY;
    if (!out)
        out = &res;
    err = route(m, addr, data, source_id, out);
    intc__leave(m);
    return err;
}

void intc__bus_eoi(intc_machine *m, uint32_t cpu, uint8_t vector)
{
    INTC_EMIT(m, INTC_EV_EOI_BROADCAST, cpu, vector, 0, 0, 0);
    /* Every IOAPIC hears it; only the vector matters, not which CPU sent
       it or where an entry points now (DESIGN: lessons). */
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        intc__ioapic_eoi(&m->ioapics[i], vector);
}

/* ---- consistency ---- */

bool intc__bus_check(const intc_machine *m, char *msg, size_t len)
{
    const intc_lapic *c = m->cpus;

    /* Every chain is well-formed and holds exactly the APICs whose
       registers say they belong there. */
    for (unsigned key = 0; key < 256; key++) {
        int32_t prev = -1;
        for (int32_t i = m->phys8_head[key]; i >= 0; i = c[i].rt.p8_next) {
            if ((uint32_t)i >= m->n_cpus)
                INTC_FAIL("phys8[%u]: bad index %d", key, i);
            if (c[i].rt.p8_prev != prev || c[i].rt.p8_key != (int)key)
                INTC_FAIL("phys8[%u]: cpu %d badly linked", key, i);
            if (prev >= i)
                INTC_FAIL("phys8[%u]: cpu %d after cpu %d", key, i, prev);
            prev = i;
        }
    }
    uint32_t n_x2 = 0;
    for (uint32_t i = 0; i < m->n_cpus; i++)
        n_x2 += c[i].mode == INTC_MODE_X2APIC;
    if (n_x2 != m->n_x2)
        INTC_FAIL("%u APICs in x2APIC mode, counted %u", n_x2, m->n_x2);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        const intc_lapic *l = &c[i];
        int want = l->mode == INTC_MODE_XAPIC ? l->xapic_id : -1;
        if (l->rt.x2 != (l->mode == INTC_MODE_X2APIC))
            INTC_FAIL("cpu %u: x2APIC filing out of step", i);
        if (l->rt.p8_key != want)
            INTC_FAIL("cpu %u: filed under xAPIC ID %d, register says %d", i,
                 l->rt.p8_key, want);
        if (want >= 0) {
            bool found = false;
            for (int32_t j = m->phys8_head[want]; j >= 0; j = c[j].rt.p8_next)
                found |= (uint32_t)j == i;
            if (!found)
                INTC_FAIL("cpu %u: missing from phys8[%d]", i, want);
        }
        unsigned kind, bits, cluster;
        ldr_filing(l, &kind, &bits, &cluster);
        if (l->rt.lkind != kind || l->rt.lbits != bits ||
            (kind && l->rt.lcluster != cluster))
            INTC_FAIL("cpu %u: logical filing (%u,%#x,%u) != registers (%u,%#x,%u)",
                 i, l->rt.lkind, l->rt.lbits, l->rt.lcluster, kind, bits,
                 cluster);
        for (unsigned b = 0; kind && b < 8; b++) {
            bool found = false;
            if (!(bits & (1u << b)))
                continue;
            int32_t prev = -1;
            for (int32_t j = kind == 1 ? m->flat_head[b]
                                       : m->cluster_head[cluster][b];
                 j >= 0; j = c[j].rt.lnext[b]) {
                if (c[j].rt.lprev[b] != prev || prev >= j)
                    INTC_FAIL("logical chain bit %u: cpu %d badly linked", b, j);
                found |= (uint32_t)j == i;
                prev = j;
            }
            if (!found)
                INTC_FAIL("cpu %u: missing from logical chain bit %u", i, b);
        }
        if (intc__idmap_get(&m->x2id, l->initial_id) != (int32_t)i)
            INTC_FAIL("cpu %u: x2APIC ID map does not find ID %#x", i,
                 l->initial_id);
        if (m->x2dense && (l->initial_id >= m->x2dense_n ||
                           m->x2dense[l->initial_id] != (int32_t)i))
            INTC_FAIL("cpu %u: x2APIC ID table does not find ID %#x", i,
                      l->initial_id);
    }
    return true;
}

/*
 * Re-file every CPU from its registers (after a snapshot load).  Chains
 * are always in ascending CPU index (intc__bus_update inserts in order),
 * so the result does not depend on the order CPUs are re-filed in, and a
 * restored machine delivers multi-destination messages in the same order
 * as the one that saved the image.
 */
void intc__bus_rebuild(intc_machine *m)
{
    clear_heads(m);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        struct intc_lapic_rt *rt = &m->cpus[i].rt;
        rt->p8_key = -1;
        rt->lkind = 0;
        rt->lbits = 0;
        rt->lcluster = 0;
        rt->x2 = false;
    }
    m->n_x2 = 0;
    for (uint32_t i = m->n_cpus; i-- > 0;)
        intc__bus_update(m, &m->cpus[i]);
}
