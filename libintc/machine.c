/*
 * libintc — the machine: configuration, creation and teardown, the callback
 * plumbing every model uses, error and event names.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- version, errors, events ---- */

unsigned intc_version(void)
{
    return INTC_VERSION_HEX;
}

#define INTC_STR2_(x) #x
#define INTC_STR_(x) INTC_STR2_(x)

const char *intc_version_string(void)
{
    return INTC_STR_(INTC_VERSION_MAJOR) "." INTC_STR_(
        INTC_VERSION_MINOR) "." INTC_STR_(INTC_VERSION_PATCH);
}

const char *intc_strerror(intc_err err)
{
    switch (err) {
#define INTC_ERR_STR_(name, val, str)                                       \
    case INTC_ERR_##name:                                                   \
        return str;
        INTC_ERRNO_MAP(INTC_ERR_STR_)
#undef INTC_ERR_STR_
    }
    return "unknown error";
}

const char *intc_err_name(intc_err err)
{
    switch (err) {
#define INTC_ERR_NAME_(name, val, str)                                      \
    case INTC_ERR_##name:                                                   \
        return #name;
        INTC_ERRNO_MAP(INTC_ERR_NAME_)
#undef INTC_ERR_NAME_
    }
    return "UNKNOWN";
}

static const char *const event_names[INTC_EV_COUNT_] = {
#define INTC_EV_NAME_(name, str) str,
    INTC_EVENT_MAP(INTC_EV_NAME_)
#undef INTC_EV_NAME_
};

const char *intc_event_name(intc_event_type type)
{
    if ((unsigned)type >= (unsigned)INTC_EV_COUNT_)
        return "unknown";
    return event_names[type];
}

/* ---- allocation ---- */

void *intc__alloc(intc_machine *m, size_t size)
{
    void *p;
    if (m->ops.alloc)
        p = m->ops.alloc(m->host, NULL, 0, size);
    else
        p = malloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void intc__free(intc_machine *m, void *p, size_t size)
{
    if (!p)
        return;
    if (m->ops.alloc)
        m->ops.alloc(m->host, p, size, 0);
    else
        free(p);
}

/* ---- callbacks ---- */

/*
 * Kicks run after the outermost call has finished, so the host may call
 * back into the machine from kick().  Kicks queued by such nested calls
 * are picked up by this same loop rather than by recursion.
 */
void intc__flush_kicks(intc_machine *m)
{
    m->depth = 1; /* see intc__leave() */
    do {
        if (INTC_UNLIKELY(m->n_resample)) {
            uint32_t e = m->resampleq[m->resample_head];
            intc_ioapic *io = &m->ioapics[e >> 16];
            uint32_t pin = e & 0xffff;
            m->resample_head = (m->resample_head + 1) % m->total_pins;
            m->n_resample--;
            m->n_owed--;
            io->pins[pin].resample_queued = false;
            m->n_deferred++;
            if (intc__tracing(m))
                intc__emit_unit(m, INTC_EV_RESAMPLE, INTC_NO_CPU, -1,
                               io->index, pin, io->gsi_base + pin, 0);
            m->ops.eoi(m->host, io->gsi_base + pin);
            continue;
        }
        if (INTC_UNLIKELY(m->base_tail != m->base_head)) {
            intc_lapic *l = m->baseq[m->base_head++ & m->kick_mask];
            m->n_owed--;
            l->base_queued = false;
            if (intc__base_differs(l)) {
                l->base_reported = l->apic_base;
                m->n_deferred++;
                m->ops.apic_base_changed(m->host, l->index, l->apic_base);
            }
            continue;
        }
        intc_lapic *l = m->kickq[m->kick_head++ & m->kick_mask];
        m->n_owed--;
        l->kick_queued = false;
        m->ops.kick(m->host, l->index); /* counted by kick_head */
    } while (intc__owed(m));
    m->depth = 0;
}

void intc__emit_unit(intc_machine *m, intc_event_type type, uint32_t cpu,
                    int32_t vector, uint32_t unit, uint32_t pin,
                    uint64_t data, uint64_t data2)
{
    intc_event ev = {type, cpu, vector, unit, pin, data, data2};
    m->in_cb++;
    m->ops.event(m->host, &ev);
    m->in_cb--;
}

void intc__queue_resample(intc_machine *m, uint32_t ioapic, uint32_t pin)
{
    /* Each pin is queued at most once (its resample_queued flag), so
       total_pins slots suffice. */
    m->resampleq[(m->resample_head + m->n_resample) % m->total_pins] =
        ioapic << 16 | pin;
    m->n_resample++;
    m->n_owed++;
}

void intc__ioapic_timer_arm(intc_machine *m, uint32_t ioapic,
                           uint64_t deadline)
{
    if (!m->ops.ioapic_timer_arm)
        return;
    m->in_cb++;
    m->ops.ioapic_timer_arm(m->host, ioapic, deadline);
    m->in_cb--;
}

void intc__emit(intc_machine *m, intc_event_type type, uint32_t cpu,
               int32_t vector, uint32_t pin, uint64_t data, uint64_t data2)
{
    intc_event ev = {type, cpu, vector, 0, pin, data, data2};
    m->in_cb++;
    m->ops.event(m->host, &ev);
    m->in_cb--;
}

uint64_t intc__now(intc_machine *m, uint32_t cpu)
{
    if (INTC_UNLIKELY(m->rec != NULL))
        return intc__rec_now(m, cpu);
    return intc__host_now(m, cpu);
}

uint64_t intc__host_now(intc_machine *m, uint32_t cpu)
{
    uint64_t t;
    if (!m->ops.now_ns)
        return 0;
    m->in_cb++;
    t = m->ops.now_ns(m->host, cpu);
    m->in_cb--;
    return t;
}

void intc__timer_arm(intc_machine *m, uint32_t cpu, uint64_t deadline)
{
    if (!m->ops.timer_arm)
        return;
    m->in_cb++;
    m->ops.timer_arm(m->host, cpu, deadline);
    m->in_cb--;
}

/* ---- arithmetic ---- */

uint64_t intc__muldiv(uint64_t a, uint64_t b, uint64_t c, bool round_up)
{
#if defined(__SIZEOF_INT128__)
    __extension__ typedef unsigned __int128 u128;
    u128 p = (u128)a * b;
    u128 q = p / c;
    if (round_up && p % c)
        q++;
    return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#else
    /* Portable: 128-bit product in two halves, then bitwise long
       division (a fixed 128 steps). */
    uint64_t al = a & 0xffffffffu, ah = a >> 32;
    uint64_t bl = b & 0xffffffffu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
    uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
    uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
    uint64_t qh = 0, ql = 0, r = 0;
    for (int i = 127; i >= 0; i--) {
        uint64_t bit = i >= 64 ? (hi >> (i - 64)) & 1 : (lo >> i) & 1;
        bool carry = r >> 63;
        r = (r << 1) | bit;
        if (carry || r >= c) {
            r -= c;
            if (i >= 64)
                qh |= 1ull << (i - 64);
            else
                ql |= 1ull << i;
        }
    }
    if (round_up && r) {
        if (++ql == 0)
            qh++;
    }
    return qh ? UINT64_MAX : ql;
#endif
}

/* ---- configuration ---- */

void intc_machine_config_init(intc_machine_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->version = INTC_MACHINE_CONFIG_VERSION;
    cfg->n_cpus = 1;
    cfg->x2apic = true;
    cfg->tsc_deadline = true;
    cfg->lvt_cmci = true;
    cfg->lowest_priority_ipi = true;
    cfg->lapic_version = 0x14;
    cfg->phys_addr_bits = 46;
    cfg->apic_timer_hz = 1000000000ull;
    cfg->tsc_hz = 1000000000ull;
    cfg->msi_ext_dest = true;
    cfg->storm_threshold = 1000;
    cfg->iommu.kind = INTC_IOMMU_NONE;
    cfg->iommu.x2apic = true;
    cfg->iommu.posted = true;
    cfg->iommu.n_fault_regs = 8;
    cfg->iommu.cache_entries = 64;
}

static intc_err check_config(const intc_machine_config *cfg)
{
    if (cfg->n_cpus == 0 || cfg->n_cpus > INTC_MAX_CPUS)
        return INTC_ERR_INVAL;
    if (cfg->bsp >= cfg->n_cpus)
        return INTC_ERR_INVAL;
    /* 11.4.8: integrated APICs report 10H-15H. */
    if (cfg->lapic_version < 0x10 || cfg->lapic_version > 0x15)
        return INTC_ERR_INVAL;
    if (cfg->phys_addr_bits < 32 || cfg->phys_addr_bits > 52)
        return INTC_ERR_INVAL;
    if (cfg->apic_timer_hz == 0 || cfg->tsc_hz == 0)
        return INTC_ERR_INVAL;
    if (cfg->iommu.kind > INTC_IOMMU_AMDVI)
        return INTC_ERR_INVAL;
    if (cfg->iommu.kind == INTC_IOMMU_AMDVI && !intc__amdvi_available())
        return INTC_ERR_UNSUPPORTED;
    if (cfg->iommu.kind != INTC_IOMMU_NONE) {
        uint32_t c = cfg->iommu.cache_entries;
        if (c == 0 || c > 65536 || (c & (c - 1)) ||
            cfg->iommu.n_fault_regs == 0 || cfg->iommu.n_fault_regs > 256)
            return INTC_ERR_INVAL;
    }
    if (cfg->n_ioapics > INTC_IOAPIC_MAX ||
        (cfg->n_ioapics && !cfg->ioapics))
        return INTC_ERR_INVAL;
    for (uint32_t i = 0; i < cfg->n_ioapics; i++) {
        const intc_ioapic_config *io = &cfg->ioapics[i];
        if ((io->version != 0x11 && io->version != 0x20) ||
            io->n_pins == 0 || io->n_pins > INTC_IOAPIC_MAX_PINS ||
            io->id > 15 || io->gsi_base > UINT32_MAX - io->n_pins)
            return INTC_ERR_INVAL;
        /* 11.8.5: directed EOI is written to an IOAPIC EOI register. */
        if (cfg->directed_eoi && io->version < 0x20)
            return INTC_ERR_INVAL;
        for (uint32_t p = 0; io->pin_wiring && p < io->n_pins; p++)
            if (io->pin_wiring[p] & ~(INTC_PIN_ACTIVE_LOW | INTC_PIN_LEVEL))
                return INTC_ERR_INVAL;
        for (uint32_t j = 0; j < i; j++) {
            const intc_ioapic_config *o = &cfg->ioapics[j];
            if (o->id == io->id ||
                (io->gsi_base < o->gsi_base + o->n_pins &&
                 o->gsi_base < io->gsi_base + io->n_pins))
                return INTC_ERR_INVAL;
        }
    }
    for (uint32_t i = 0; i < cfg->n_cpus; i++) {
        uint32_t id = cfg->apic_ids ? cfg->apic_ids[i] : i;
        /* 0xFF (xAPIC) and 0xFFFFFFFF (x2APIC) are broadcast. */
        if (id == UINT32_MAX || (!cfg->x2apic && id >= 0xff))
            return INTC_ERR_INVAL;
    }
    return INTC_OK;
}

static void machine_release(intc_machine *m)
{
    if (m->iommu) {
        intc__iommu_fini(m->iommu);
        intc__free(m, m->iommu, sizeof(*m->iommu));
    }
    intc__msix_free_all(m);
    intc__msi_free_all(m);
    for (uint32_t i = 0; m->ioapics && i < m->n_ioapics; i++)
        intc__ioapic_fini(&m->ioapics[i]);
    intc__free(m, m->ioapics, sizeof(intc_ioapic) * m->n_ioapics);
    intc__free(m, m->resampleq, sizeof(uint32_t) * m->total_pins);
    intc__bus_fini(m);
    intc__free(m, m->kickq, sizeof(*m->kickq) * (m->kick_mask + 1ull));
    intc__free(m, m->baseq, sizeof(*m->baseq) * (m->kick_mask + 1ull));
    intc__free(m, m->targets, sizeof(uint32_t) * m->n_cpus);
    intc__free(m, m->cpus, sizeof(intc_lapic) * m->n_cpus);
    intc__free(m, m, sizeof(*m));
}

/*
 * "At least" versions (SQLite's iVersion contract, common.h and
 * machine.h): a structure of version v has the members of versions 1..v,
 * and those only, in the caller's memory.  Each is copied into a full
 * internal structure whose later members are NULL (host ops) or the
 * documented defaults (config), reading nothing past the caller's
 * version.  The size of version v is the offset of the first member of
 * version v + 1.
 */
static const size_t host_ops_size[INTC_HOST_OPS_VERSION + 1] = {
    0,
    offsetof(intc_host_ops, apic_base_changed), /* 1 */
    sizeof(intc_host_ops),                      /* 2 */
};

static const size_t config_size[INTC_MACHINE_CONFIG_VERSION + 1] = {
    0,
    sizeof(intc_machine_config), /* 1 */
};

intc_machine *intc_machine_new(const intc_machine_config *cfgp,
                               const intc_host_ops *ops, void *host,
                               intc_err *errp)
{
    intc_machine *m;
    intc_machine boot;
    intc_machine_config cfg_copy;
    const intc_machine_config *cfg = &cfg_copy;
    intc_err err;
    intc_err dummy;

    if (!errp)
        errp = &dummy;
    if (!cfgp) {
        *errp = INTC_ERR_INVAL;
        return NULL;
    }
    if ((ops && (ops->version == 0 || ops->version > INTC_HOST_OPS_VERSION)) ||
        cfgp->version == 0 || cfgp->version > INTC_MACHINE_CONFIG_VERSION) {
        *errp = INTC_ERR_VERSION;
        return NULL;
    }
    intc_machine_config_init(&cfg_copy);
    memcpy(&cfg_copy, cfgp, config_size[cfgp->version]);
    err = check_config(cfg);
    if (err) {
        *errp = err;
        return NULL;
    }

    /* Allocate through the host's allocator from the start. */
    memset(&boot, 0, sizeof(boot));
    if (ops)
        memcpy(&boot.ops, ops, host_ops_size[ops->version]);
    boot.host = host;
    m = intc__alloc(&boot, sizeof(*m));
    if (!m) {
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    m->ops = boot.ops;
    m->host = host;
    m->cfg = *cfg;
    m->cfg.apic_ids = NULL;
    m->n_cpus = cfg->n_cpus;

    m->cpus = intc__alloc(m, sizeof(intc_lapic) * m->n_cpus);
    m->targets = intc__alloc(m, sizeof(uint32_t) * m->n_cpus);
    m->msi_addr_mask = ~0xfffffull | INTC_MSI_ADDR_REMAPPABLE |
                       (m->cfg.msi_ext_dest ? 0 : 0xfe0u);
    m->kick_mask = 1;
    while (m->kick_mask < m->n_cpus - 1)
        m->kick_mask = m->kick_mask << 1 | 1;
    m->kickq = intc__alloc(m, sizeof(*m->kickq) * (m->kick_mask + 1ull));
    m->baseq = intc__alloc(m, sizeof(*m->baseq) * (m->kick_mask + 1ull));
    m->n_ioapics = cfg->n_ioapics;
    m->total_pins = 1;
    for (uint32_t i = 0; i < cfg->n_ioapics; i++)
        m->total_pins += cfg->ioapics[i].n_pins;
    m->resampleq = intc__alloc(m, sizeof(uint32_t) * m->total_pins);
    if (m->n_ioapics)
        m->ioapics = intc__alloc(m, sizeof(intc_ioapic) * m->n_ioapics);
    if (!m->cpus || !m->targets || !m->kickq || !m->baseq || !m->resampleq ||
        (m->n_ioapics && !m->ioapics)) {
        machine_release(m);
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    for (uint32_t i = 0; i < m->n_cpus; i++)
        intc__lapic_init_one(&m->cpus[i], m, i,
                            cfg->apic_ids ? cfg->apic_ids[i] : i);

    for (uint32_t i = 0; i < m->n_ioapics; i++) {
        err = intc__ioapic_init(&m->ioapics[i], m, i, &cfg->ioapics[i]);
        if (err) {
            /* Only the IOAPICs initialised so far own memory; the rest
               are zeroed (pins NULL), so fini skips them.  n_ioapics
               stays: it sizes the ioapics block being freed. */
            machine_release(m);
            *errp = err;
            return NULL;
        }
    }

    if (cfg->iommu.kind != INTC_IOMMU_NONE) {
        m->iommu = intc__alloc(m, sizeof(*m->iommu));
        err = m->iommu ? intc__iommu_init(m->iommu, m, &cfg->iommu)
                       : INTC_ERR_NOMEM;
        if (err) {
            machine_release(m);
            *errp = err;
            return NULL;
        }
    }

    err = intc__bus_init(m); /* also refuses duplicate IDs */
    if (err) {
        machine_release(m);
        *errp = err;
        return NULL;
    }
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc__lapic_do_reset(&m->cpus[i], false);
        intc__bus_update(m, &m->cpus[i]);
    }
    /* Nothing is owed to the host at creation: it knows the power-up
       IA32_APIC_BASE (common.h apic_base_changed). */
    m->kick_head = m->kick_tail = 0;
    m->base_head = m->base_tail = 0;
    m->n_owed = 0;
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        m->cpus[i].kick_queued = false;
        m->cpus[i].base_queued = false;
        m->cpus[i].base_reported = m->cpus[i].apic_base;
    }
    *errp = INTC_OK;
    return m;
}

void intc_machine_free(intc_machine *m)
{
    if (!m || m->in_cb || m->depth)
        return;
    intc__rec_release(m);
    machine_release(m);
}

intc_err intc_machine_reset(intc_machine *m)
{
    if (!m)
        return INTC_ERR_INVAL;
    if (!intc__enter(m))
        return INTC_ERR_BUSY;
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        intc__lapic_do_reset(&m->cpus[i], false);
        intc__bus_update(m, &m->cpus[i]);
    }
    m->lp_last = 0;
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        intc__ioapic_do_reset(&m->ioapics[i]);
    intc__msix_reset_all(m);
    intc__msi_reset_all(m);
    if (m->iommu)
        intc__iommu_do_reset(m->iommu);
    INTC_REC(m, INTC__OP_MACHINE_RESET, 0, 0, 0, 0, INTC_OK, 0);
    intc__leave(m);
    return INTC_OK;
}

uint32_t intc_machine_cpu_count(const intc_machine *m)
{
    return m ? m->n_cpus : 0;
}

intc_lapic *intc_machine_lapic(intc_machine *m, uint32_t cpu_index)
{
    if (!m || cpu_index >= m->n_cpus)
        return NULL;
    return &m->cpus[cpu_index];
}

intc_ioapic *intc_machine_ioapic(intc_machine *m, uint32_t index)
{
    if (!m || index >= m->n_ioapics)
        return NULL;
    return &m->ioapics[index];
}

intc_iommu *intc_machine_iommu(intc_machine *m)
{
    return m ? m->iommu : NULL;
}

intc_err intc_machine_check(const intc_machine *m, char *msg, size_t len)
{
    if (!m)
        return INTC_ERR_INVAL;
    if (msg && len)
        msg[0] = '\0';
    for (uint32_t i = 0; i < m->n_cpus; i++)
        if (!intc__lapic_check(&m->cpus[i], msg, len))
            return INTC_ERR_CORRUPT;
    if (!intc__bus_check(m, msg, len))
        return INTC_ERR_CORRUPT;
    for (uint32_t i = 0; i < m->n_ioapics; i++)
        if (!intc__ioapic_check(&m->ioapics[i], msg, len))
            return INTC_ERR_CORRUPT;
    if (m->iommu && !intc__iommu_check(m->iommu, msg, len))
        return INTC_ERR_CORRUPT;
    return INTC_OK;
}
