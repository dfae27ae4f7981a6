/*
 * libintc benchmarks — the reference model (see ref_model.h): the work a
 * QEMU 7.2-style interrupt fabric does per operation.  Written from the
 * description in the issue, not from QEMU's sources; the structure (rescan
 * on every operation, an O(N) destination loop, the IRTE re-read per
 * message, servicing every IOAPIC pin) is the point, not the details.
 */
#include "ref_model.h"

#include <stdlib.h>
#include <string.h>

#define SVR_ENABLE 0x100u
#define LVT_MASKED 0x10000u
#define LVT_TIMER 1
#define LVT_LINT0 4

/* ---- bitmaps: 8 x 32-bit, full rescan ---- */

static int fls32(uint32_t x)
{
    return 31 - __builtin_clz(x);
}

static int get_highest(const uint32_t tab[8])
{
    for (int i = 7; i >= 0; i--)
        if (tab[i])
            return i * 32 + fls32(tab[i]);
    return -1;
}

static void set_bit(uint32_t tab[8], unsigned v)
{
    tab[v >> 5] |= 1u << (v & 31);
}

static void clear_bit(uint32_t tab[8], unsigned v)
{
    tab[v >> 5] &= ~(1u << (v & 31));
}

static bool get_bit(const uint32_t tab[8], unsigned v)
{
    return (tab[v >> 5] >> (v & 31)) & 1;
}

/* PPR recomputed from a rescan of ISR. */
static uint32_t get_ppr(const ref_apic *s)
{
    int isrv = get_highest(s->isr);
    uint32_t tpr = s->tpr >> 4;
    uint32_t isrc = isrv < 0 ? 0 : (uint32_t)isrv >> 4;
    return tpr >= isrc ? s->tpr : isrc << 4;
}

/* Highest deliverable IRR vector: > 0, 0 none, -1 masked by PPR. */
static int irq_pending(const ref_apic *s)
{
    int irrv = get_highest(s->irr);
    uint32_t ppr;
    if (irrv < 0)
        return 0;
    ppr = get_ppr(s);
    if (ppr && ((uint32_t)irrv & 0xf0) <= (ppr & 0xf0))
        return -1;
    return irrv;
}

static void update_irq(ref_machine *r, ref_apic *s)
{
    if (!(s->svr & SVR_ENABLE))
        return;
    if (irq_pending(s) > 0)
        r->kicks++; /* cpu_interrupt(): the host's kick */
}

static void set_irq(ref_machine *r, ref_apic *s, unsigned vec, bool level)
{
    set_bit(s->irr, vec);
    if (level)
        set_bit(s->tmr, vec);
    else
        clear_bit(s->tmr, vec);
    update_irq(r, s);
}

/* ---- destinations: a loop over every APIC ---- */

static bool match_logical(const ref_apic *s, uint32_t dest)
{
    if (s->x2apic) {
        return (dest >> 16) == (s->ldr >> 16) && (dest & s->ldr & 0xffff);
    }
    uint32_t ldr = s->ldr >> 24;
    if ((s->dfr >> 28) == 0xf)
        return (dest & ldr) != 0;                      /* flat */
    return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xf); /* cluster */
}

static void get_delivery_bitmask(ref_machine *r, uint32_t dest, bool logical,
                                 bool x2)
{
    uint32_t bcast = x2 ? UINT32_MAX : 0xff;
    memset(r->bitmask, 0, ((r->n + 31) / 32) * sizeof(uint32_t));
    for (uint32_t i = 0; i < r->n; i++) {
        const ref_apic *s = &r->apic[i];
        bool hit;
        if (dest == bcast)
            hit = true;
        else if (!logical)
            hit = s->x2apic ? s->id == dest : (s->id & 0xff) == dest;
        else
            hit = match_logical(s, dest);
        if (hit)
            r->bitmask[i >> 5] |= 1u << (i & 31);
    }
}

static void deliver(ref_machine *r, uint32_t dest, bool logical, bool x2,
                    unsigned dm, unsigned vec, bool level, uint32_t except)
{
    get_delivery_bitmask(r, dest, logical, x2);
    if (except != REF_NO_CPU)
        r->bitmask[except >> 5] &= ~(1u << (except & 31));
    if (dm == 1) {
        /* lowest priority: the lowest PPR among the set */
        uint32_t best = REF_NO_CPU, best_ppr = 0x100;
        for (uint32_t i = 0; i < r->n; i++) {
            if (!(r->bitmask[i >> 5] >> (i & 31) & 1))
                continue;
            uint32_t p = get_ppr(&r->apic[i]);
            if (p < best_ppr) {
                best_ppr = p;
                best = i;
            }
        }
        if (best != REF_NO_CPU)
            set_irq(r, &r->apic[best], vec, level);
        return;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        if (!(r->bitmask[i >> 5] >> (i & 31) & 1))
            continue;
        ref_apic *s = &r->apic[i];
        if (dm == 0) {
            if (s->svr & SVR_ENABLE)
                set_irq(r, s, vec, level);
        } else {
            r->kicks++; /* NMI/SMI/INIT...: a signal */
        }
    }
}

/* ---- IOAPIC: every pin serviced on each change ---- */

static void ioapic_service(ref_machine *r)
{
    for (unsigned pin = 0; pin < REF_IOAPIC_PINS; pin++) {
        uint32_t mask = 1u << pin;
        uint64_t e = r->rte[pin];
        if (!(r->ioapic_irr & mask) || (e & LVT_MASKED))
            continue;
        bool level = e & 0x8000;
        if (level && (e & 0x4000))
            continue; /* Remote IRR */
        if (!level)
            r->ioapic_irr &= ~mask;
        else
            r->rte[pin] |= 0x4000;
        uint32_t dest = (uint32_t)(e >> 56);
        uint32_t addr = 0xfee00000u | dest << 12 | ((e & 0x800) ? 4u : 0);
        uint32_t data = (uint32_t)(e & 0x7ff) | 0x4000u |
                        (level ? 0x8000u : 0);
        ref_msi_send(r, addr, data, 0xf0f8);
    }
}

void ref_ioapic_set_irq(ref_machine *r, unsigned pin, bool level)
{
    uint32_t mask = 1u << pin;
    if (r->rte[pin] & 0x8000) {
        if (level)
            r->ioapic_irr |= mask;
        else
            r->ioapic_irr &= ~mask;
        if (level)
            ioapic_service(r);
    } else if (level && !(r->ioapic_lines & mask)) {
        r->ioapic_irr |= mask;
        ioapic_service(r);
    }
    if (level)
        r->ioapic_lines |= mask;
    else
        r->ioapic_lines &= ~mask;
}

void ref_ioapic_write_rte(ref_machine *r, unsigned pin, uint64_t rte)
{
    r->rte[pin] = rte & ~0x4000ull;
    ioapic_service(r);
}

static void ioapic_eoi_broadcast(ref_machine *r, unsigned vec)
{
    for (unsigned pin = 0; pin < REF_IOAPIC_PINS; pin++) {
        uint64_t e = r->rte[pin];
        if ((e & 0xff) != vec || !(e & 0x4000))
            continue;
        r->rte[pin] &= ~0x4000ull;
        if (!(e & LVT_MASKED) && (r->ioapic_irr & (1u << pin)))
            ioapic_service(r);
    }
}

/* ---- CPU interface ---- */

int ref_ack(ref_machine *r, uint32_t cpu)
{
    ref_apic *s = &r->apic[cpu];
    int v;
    if (!(s->svr & SVR_ENABLE))
        return -1;
    v = irq_pending(s);
    if (v <= 0)
        return (int)(s->svr & 0xff);
    clear_bit(s->irr, (unsigned)v);
    set_bit(s->isr, (unsigned)v);
    update_irq(r, s);
    return v;
}

void ref_eoi(ref_machine *r, uint32_t cpu)
{
    ref_apic *s = &r->apic[cpu];
    int isrv = get_highest(s->isr);
    if (isrv < 0)
        return;
    clear_bit(s->isr, (unsigned)isrv);
    if (get_bit(s->tmr, (unsigned)isrv))
        ioapic_eoi_broadcast(r, (unsigned)isrv);
    update_irq(r, s);
}

/* ---- timer ---- */

static void timer_start(ref_machine *r, ref_apic *s)
{
    s->load_time = (int64_t)r->now;
    if (!s->initial_count) {
        s->next_time = -1;
        return;
    }
    s->next_time = s->load_time +
                   (int64_t)(((uint64_t)s->initial_count + 1) << s->count_shift);
}

void ref_timer_expired(ref_machine *r, uint32_t cpu, uint64_t now)
{
    ref_apic *s = &r->apic[cpu];
    uint32_t lvt = s->lvt[LVT_TIMER];
    unsigned mode = (lvt >> 17) & 3;
    r->now = now;
    if (s->next_time < 0 || (int64_t)now < s->next_time)
        return;
    if (mode == 1) {
        int64_t period = (int64_t)(((uint64_t)s->initial_count + 1)
                                   << s->count_shift);
        int64_t d = ((int64_t)now - s->load_time) / period;
        s->next_time = s->load_time + (d + 1) * period;
    } else {
        s->next_time = -1;
        if (mode == 2)
            s->tsc_deadline = 0;
    }
    if (!(lvt & LVT_MASKED))
        set_irq(r, s, lvt & 0xff, false);
}

int64_t ref_timer_deadline(const ref_machine *r, uint32_t cpu)
{
    return r->apic[cpu].next_time;
}

/* ---- registers: one dispatcher by index, like apic_mem_read/write ---- */

static uint32_t reg_read(ref_machine *r, ref_apic *s, unsigned index)
{
    switch (index) {
    case 0x02:
        return s->x2apic ? s->id : s->id << 24;
    case 0x03:
        return 0x14 | 6u << 16;
    case 0x08:
        return s->tpr;
    case 0x0a:
        return get_ppr(s);
    case 0x0d:
        return s->ldr;
    case 0x0e:
        return s->dfr;
    case 0x0f:
        return s->svr;
    case 0x28:
        return s->esr;
    case 0x30:
    case 0x31:
        return s->icr[index & 1];
    case 0x2f:
        return s->lvt[0];
    case 0x38:
        return s->initial_count;
    case 0x3e:
        return s->dcr;
    default:
        break;
    }
    (void)r;
    if (index >= 0x10 && index <= 0x17)
        return s->isr[index & 7];
    if (index >= 0x18 && index <= 0x1f)
        return s->tmr[index & 7];
    if (index >= 0x20 && index <= 0x27)
        return s->irr[index & 7];
    if (index >= 0x32 && index <= 0x37)
        return s->lvt[index - 0x31];
    return 0;
}

static void send_ipi(ref_machine *r, uint32_t cpu, uint64_t icr, bool x2)
{
    unsigned vec = icr & 0xff, dm = (icr >> 8) & 7, sh = (icr >> 18) & 3;
    bool logical = icr & 0x800, level = false;
    uint32_t dest = x2 ? (uint32_t)(icr >> 32) : (uint32_t)(icr >> 56);
    switch (sh) {
    case 1:
        set_irq(r, &r->apic[cpu], vec, level);
        return;
    case 2:
        deliver(r, x2 ? UINT32_MAX : 0xff, false, x2, dm, vec, level,
                REF_NO_CPU);
        return;
    case 3:
        deliver(r, x2 ? UINT32_MAX : 0xff, false, x2, dm, vec, level, cpu);
        return;
    default:
        deliver(r, dest, logical, x2, dm, vec, level, REF_NO_CPU);
    }
}

static void reg_write(ref_machine *r, uint32_t cpu, unsigned index,
                      uint64_t val)
{
    ref_apic *s = &r->apic[cpu];
    uint32_t v = (uint32_t)val;
    switch (index) {
    case 0x02:
        if (!s->x2apic)
            s->id = v >> 24;
        break;
    case 0x08:
        s->tpr = v & 0xff;
        update_irq(r, s);
        break;
    case 0x0b:
        ref_eoi(r, cpu);
        break;
    case 0x0d:
        s->ldr = v & 0xff000000u;
        break;
    case 0x0e:
        s->dfr = v | 0x0fffffffu;
        break;
    case 0x0f:
        s->svr = v & 0x11ff;
        if (!(s->svr & SVR_ENABLE))
            for (int i = 0; i < 7; i++)
                s->lvt[i] |= LVT_MASKED;
        update_irq(r, s);
        break;
    case 0x28:
        s->esr = 0;
        break;
    case 0x30:
        if (s->x2apic) {
            send_ipi(r, cpu, val, true);
        } else {
            s->icr[0] = v & ~0x1000u;
            send_ipi(r, cpu, (uint64_t)s->icr[1] << 32 | s->icr[0], false);
        }
        break;
    case 0x31:
        s->icr[1] = v;
        break;
    case 0x2f:
    case 0x32:
    case 0x33:
    case 0x34:
    case 0x35:
    case 0x36:
    case 0x37: {
        int n = index == 0x2f ? 0 : (int)index - 0x31;
        uint32_t old = s->lvt[n];
        s->lvt[n] = v;
        if (!(s->svr & SVR_ENABLE))
            s->lvt[n] |= LVT_MASKED;
        if (n == LVT_TIMER && ((old ^ v) >> 17) & 3) {
            s->initial_count = 0;
            s->tsc_deadline = 0;
            s->next_time = -1;
        }
        break;
    }
    case 0x38:
        s->initial_count = v;
        timer_start(r, s);
        break;
    case 0x3e:
        s->dcr = v & 0xb;
        s->count_shift = (((v & 3) | ((v >> 1) & 4)) + 1) & 7;
        break;
    case 0x3f:
        set_irq(r, s, v & 0xff, false);
        break;
    default:
        break;
    }
}

uint32_t ref_mmio_read(ref_machine *r, uint32_t cpu, uint32_t off)
{
    return reg_read(r, &r->apic[cpu], (off >> 4) & 0xff);
}

void ref_mmio_write(ref_machine *r, uint32_t cpu, uint32_t off, uint32_t v)
{
    reg_write(r, cpu, (off >> 4) & 0xff, v);
}

uint64_t ref_msr_read(ref_machine *r, uint32_t cpu, uint32_t msr)
{
    ref_apic *s = &r->apic[cpu];
    if (msr == 0x6e0)
        return s->tsc_deadline;
    if (msr == 0x830)
        return (uint64_t)s->icr[1] << 32 | s->icr[0];
    return reg_read(r, s, msr - 0x800);
}

void ref_msr_write(ref_machine *r, uint32_t cpu, uint32_t msr, uint64_t v)
{
    ref_apic *s = &r->apic[cpu];
    if (msr == 0x1b) {
        bool x2 = (v & 0xc00) == 0xc00;
        if (x2 && !s->x2apic) {
            s->x2apic = true;
            s->ldr = (s->id >> 4) << 16 | 1u << (s->id & 0xf);
        }
        return;
    }
    if (msr == 0x6e0) {
        /* TSC == ns here */
        s->tsc_deadline = v;
        s->next_time = v ? (int64_t)v : -1;
        return;
    }
    reg_write(r, cpu, msr - 0x800, v);
}

/* ---- MSI and remapping ---- */

static bool dma_read(ref_machine *r, uint64_t addr, void *buf, size_t len)
{
    if (addr < r->gmem_base || addr - r->gmem_base > r->gmem_size - len)
        return false;
    memcpy(buf, r->gmem + (addr - r->gmem_base), len);
    return true;
}

static bool dma_write(ref_machine *r, uint64_t addr, const void *buf,
                      size_t len)
{
    if (addr < r->gmem_base || addr - r->gmem_base > r->gmem_size - len)
        return false;
    memcpy(r->gmem + (addr - r->gmem_base), buf, len);
    return true;
}

void ref_ir_set_table(ref_machine *r, uint64_t irta, bool eime,
                      uint32_t entries, bool enabled)
{
    r->irta = irta;
    r->eime = eime;
    r->irt_entries = entries;
    r->ir_enabled = enabled;
}

/* VT-d posted: read the whole descriptor, set PIR, notify. */
static void post(ref_machine *r, uint64_t lo, uint64_t hi)
{
    uint64_t pid[8];
    uint64_t pda = (lo >> 38 & 0x3ffffffull) << 6 | (hi & ~0xffffffffull);
    unsigned vv = (lo >> 16) & 0xff;
    bool urg = lo & (1ull << 14);
    if (!dma_read(r, pda, pid, sizeof(pid)))
        return;
    pid[vv >> 6] |= 1ull << (vv & 63);
    bool notify = !(pid[4] & 1) && (!(pid[4] & 2) || urg);
    if (notify)
        pid[4] |= 1;
    dma_write(r, pda, pid, sizeof(pid));
    if (notify) {
        uint32_t ndst = (uint32_t)(pid[4] >> 32);
        unsigned nv = (pid[4] >> 16) & 0xff;
        deliver(r, r->eime ? ndst : (ndst >> 8) & 0xff, false, r->eime, 0,
                nv, false, REF_NO_CPU);
    }
}

static void remap(ref_machine *r, uint64_t addr, uint32_t data, uint16_t sid)
{
    uint64_t irte[2];
    uint32_t index;
    if (!(addr & 0x10)) {
        /* compatibility format passes through (CFI) */
        deliver(r, (addr >> 12) & 0xff, addr & 4, false, (data >> 8) & 7,
                data & 0xff, data & 0x8000, REF_NO_CPU);
        return;
    }
    index = (uint32_t)((addr >> 5) & 0x7fff) | (uint32_t)((addr >> 2) & 1)
                                                   << 15;
    if (addr & 0x8) /* SHV */
        index += data & 0xffff;
    if (index >= r->irt_entries)
        return;
    if (!dma_read(r, r->irta + 16ull * index, irte, sizeof(irte)))
        return;
    uint64_t lo = irte[0], hi = irte[1];
    if (!(lo & 1))
        return; /* not present: fault */
    unsigned svt = (hi >> 18) & 3, sq = (hi >> 16) & 3;
    uint16_t esid = (uint16_t)hi;
    if (svt == 1) {
        static const uint16_t sqmask[4] = {0xffff, 0xfffb, 0xfff9, 0xfff8};
        if ((sid & sqmask[sq]) != (esid & sqmask[sq]))
            return;
    }
    if (lo & (1ull << 15)) {
        post(r, lo, hi);
        return;
    }
    {
        unsigned vec = (lo >> 16) & 0xff, dm = (lo >> 5) & 7;
        bool logical = lo & 4, level = lo & 0x10;
        uint32_t dst = (uint32_t)(lo >> 32);
        if (!r->eime)
            dst = (dst >> 8) & 0xff;
        deliver(r, dst, logical, r->eime, dm, vec, level, REF_NO_CPU);
    }
}

void ref_msi_send(ref_machine *r, uint64_t addr, uint32_t data, uint16_t sid)
{
    if ((addr & 0xfff00000u) != 0xfee00000u)
        return;
    if (r->ir_enabled) {
        remap(r, addr, data, sid);
        return;
    }
    uint32_t dest = (addr >> 12) & 0xff;
    unsigned dm = (data >> 8) & 7;
    if ((addr & 8) && dm == 0)
        dm = 1;
    deliver(r, dest, addr & 4, false, dm, data & 0xff, data & 0x8000,
            REF_NO_CPU);
}

/* ---- life cycle, reset, snapshots ---- */

static void apic_reset(ref_apic *s, uint32_t id)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->dfr = 0xffffffffu;
    s->svr = 0xff;
    for (int i = 0; i < 7; i++)
        s->lvt[i] = LVT_MASKED;
    s->count_shift = 1;
    s->next_time = -1;
}

void ref_reset(ref_machine *r)
{
    for (uint32_t i = 0; i < r->n; i++)
        apic_reset(&r->apic[i], i);
    for (unsigned p = 0; p < REF_IOAPIC_PINS; p++)
        r->rte[p] = LVT_MASKED;
    r->ioapic_irr = 0;
}

ref_machine *ref_new(uint32_t n_cpus, uint8_t *gmem, uint64_t gmem_base,
                     size_t gmem_size)
{
    ref_machine *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->n = n_cpus;
    r->apic = calloc(n_cpus, sizeof(*r->apic));
    r->bitmask = calloc((n_cpus + 31) / 32, sizeof(uint32_t));
    if (!r->apic || !r->bitmask) {
        ref_free(r);
        return NULL;
    }
    r->gmem = gmem;
    r->gmem_base = gmem_base;
    r->gmem_size = gmem_size;
    ref_reset(r);
    return r;
}

void ref_free(ref_machine *r)
{
    if (!r)
        return;
    free(r->apic);
    free(r->bitmask);
    free(r);
}

size_t ref_save(const ref_machine *r, void *buf, size_t len)
{
    size_t need = sizeof(uint32_t) + r->n * sizeof(ref_apic) +
                  sizeof(r->rte) + 2 * sizeof(uint32_t);
    uint8_t *p = buf;
    if (!buf || len < need)
        return need;
    memcpy(p, &r->n, sizeof(uint32_t));
    p += sizeof(uint32_t);
    for (uint32_t i = 0; i < r->n; i++, p += sizeof(ref_apic))
        memcpy(p, &r->apic[i], sizeof(ref_apic));
    memcpy(p, r->rte, sizeof(r->rte));
    p += sizeof(r->rte);
    memcpy(p, &r->ioapic_irr, sizeof(uint32_t));
    memcpy(p + 4, &r->ioapic_lines, sizeof(uint32_t));
    return need;
}

/* Field-by-field load with a check of each value, then post-load work
   (priorities and timers recomputed, CPUs with work kicked). */
bool ref_load(ref_machine *r, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t n;
    if (len < sizeof(uint32_t))
        return false;
    memcpy(&n, p, sizeof(n));
    if (n != r->n || len < ref_save(r, NULL, 0))
        return false;
    p += sizeof(uint32_t);
    for (uint32_t i = 0; i < r->n; i++, p += sizeof(ref_apic)) {
        ref_apic tmp;
        memcpy(&tmp, p, sizeof(tmp));
        if (tmp.tpr > 0xff || tmp.count_shift > 7)
            return false;
        r->apic[i] = tmp;
    }
    memcpy(r->rte, p, sizeof(r->rte));
    p += sizeof(r->rte);
    memcpy(&r->ioapic_irr, p, sizeof(uint32_t));
    memcpy(&r->ioapic_lines, p + 4, sizeof(uint32_t));
    for (uint32_t i = 0; i < r->n; i++)
        update_irq(r, &r->apic[i]);
    return true;
}
