/*
 * libintc — the inline part of the bus (bus.c): finding the one APIC a
 * physical message names and handing it the message, so that every
 * source's common case is one straight path.  Included by internal.h.
 */
#ifndef INTC_BUS_PRIV_H
#define INTC_BUS_PRIV_H

/* ---- ID maps: open addressing, built once ---- */

static inline uint32_t intc__hash32(uint32_t k)
{
    k ^= k >> 16;
    k *= 0x7feb352du;
    k ^= k >> 15;
    k *= 0x846ca68bu;
    k ^= k >> 16;
    return k;
}

/* Slot holding key, or the empty slot where it would go. */
static inline uint32_t intc__idmap_slot(const intc_idmap *map,
                                        uint32_t key)
{
    uint32_t i = intc__hash32(key) & map->mask;
    while (map->vals[i] >= 0 && map->keys[i] != key)
        i = (i + 1) & map->mask;
    return i;
}

static inline int32_t intc__idmap_get(const intc_idmap *map, uint32_t key)
{
    uint32_t i = intc__idmap_slot(map, key);
    return map->vals[i];
}

/* ---- destinations ---- */

static inline bool intc__is_broadcast(const intc_msg *msg)
{
    return msg->x2apic_format ? msg->dest == UINT32_MAX : msg->dest == 0xff;
}

/* The x2APIC-mode APIC whose (fixed, unique) ID is id, or -1: from the
   direct table when the IDs are dense, else the hash map. */
INTC_INLINE int32_t intc__x2apic_by_id(const intc_machine *m, uint32_t id)
{
    int32_t x;
    if (INTC_LIKELY(m->x2dense != NULL))
        x = id < m->x2dense_n ? m->x2dense[id] : -1;
    else
        x = intc__idmap_get(&m->x2id, id);
    return x >= 0 && m->cpus[x].mode == INTC_MODE_X2APIC ? x : -1;
}

/* Everything but a physical message to a single APIC: through the
   target list (bus.c). */
uint32_t intc__deliver_listed(intc_machine *m, const intc_msg *msg,
                              uint32_t except_cpu);

/* Deliver msg to the APICs its destination names, except except_cpu
   (INTC_NO_CPU: none); the number that accepted it. */
INTC_INLINE uint32_t intc__deliver(intc_machine *m, const intc_msg *msg,
                                   uint32_t except_cpu)
{
    intc_lapic *c = m->cpus, *t = NULL;

    if (INTC_UNLIKELY(msg->logical || msg->dm == INTC_DM_LOWEST ||
                      intc__is_broadcast(msg)))
        return intc__deliver_listed(m, msg, except_cpu);
    /* Physical, the common case: the one xAPIC-mode APIC filed under an
       8-bit ID or the x2APIC-mode APIC with that ID, accepting inline.
       Several matches (a guest-written xAPIC ID shared, or an xAPIC and
       an x2APIC APIC answering the same number in a mixed system) go
       through the list, in the same order.  n_x2 skips the half that
       cannot match. */
    if (msg->dest <= 0xff && m->n_x2 != m->n_cpus) {
        int32_t i = m->phys8_head[msg->dest];
        if (i >= 0) {
            if (INTC_UNLIKELY(c[i].rt.p8_next >= 0))
                return intc__deliver_listed(m, msg, except_cpu);
            t = &c[i];
        }
    }
    if (m->n_x2) {
        int32_t x = intc__x2apic_by_id(m, msg->dest);
        if (x >= 0) {
            if (INTC_UNLIKELY(t != NULL))
                return intc__deliver_listed(m, msg, except_cpu);
            t = &c[x];
        }
    }
    if (!t || t->index == except_cpu)
        return 0;
    return intc__lapic_accept(t, msg);
}

/* Deliver a decoded message (whose wire form addr/data, from sid, only
   the trace shows) and report it: ACCEPTED or NO_TARGET. */
INTC_INLINE void intc__send(intc_machine *m, const intc_msg *msg,
                            uint64_t addr, uint32_t data, uint16_t sid,
                            intc_delivery *res)
{
    uint32_t n = intc__deliver(m, msg, INTC_NO_CPU);
    res->status = n ? INTC_DELIVERY_ACCEPTED : INTC_DELIVERY_NO_TARGET;
    res->reason = 0;
    res->n_cpus = n;
    res->irte = UINT32_MAX;
    if (intc__tracing(m)) {
        intc__emit_unit(m, INTC_EV_MSI, INTC_NO_CPU, msg->vector, 0, sid,
                       addr, (uint64_t)n << 32 | data);
        if (!n)
            intc__emit_unit(m, INTC_EV_NO_TARGET, INTC_NO_CPU, msg->vector,
                           0, sid, msg->dest, msg->dm);
    }
}

#endif /* INTC_BUS_PRIV_H */
