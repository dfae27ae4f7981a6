/*
 * intc-sim — the host and the runner.
 *
 * The host is what an emulator would be, with nothing but a virtual
 * clock: per-CPU LAPIC timer and per-IOAPIC throttle deadlines kept in one
 * indexed min-heap (advance fires them in deadline order, each at its own
 * deadline), guest memory regions behind dma_read/dma_write, kicks and
 * events recorded for the trace and for the expectations.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define NO_POS UINT32_MAX

typedef struct snapbuf {
    uint8_t *img;
    size_t len;
    bool valid;
} snapbuf;

/* A growable string with a hard cap (failure messages). */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    bool truncated;
} strbuf;

typedef struct sim_host {
    const sim_scenario *s;
    const sim_options *o;
    intc_machine *m;
    void **dev;     /* per scenario device: intc_msix * or intc_msi * */
    uint32_t n_cpus;

    uint64_t now;
    /* Timers: slots [0, n_cpus) are LAPIC timers, then one per IOAPIC. */
    uint32_t n_slots, heap_n;
    uint64_t *deadline;
    uint32_t *heap, *pos;
    unsigned long fires_total;
    bool coalesced_note;

    sim_region *regions;

    /* Events: totals, the window since the last event check, and the
       current step's trace items. */
    uint64_t totals[INTC_EV_COUNT_], wcount[INTC_EV_COUNT_];
    intc_event *window;
    size_t n_window, cap_window, window_lost;
    sim_item *items;
    size_t n_items, cap_items, items_lost;

    snapbuf *snaps;
    sim_vcd *vcd;
    FILE *out;
} sim_host;

/* ---- strings ---- */

#define STRBUF_MAX (256u << 10)

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->truncated)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->s && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        {
            size_t ncap = b->cap ? b->cap * 2 : 256;
            char *ns;
            while (ncap < b->len + (size_t)n + 1)
                ncap *= 2;
            if (ncap > STRBUF_MAX) {
                b->truncated = true;
                return;
            }
            ns = realloc(b->s, ncap);
            if (!ns) {
                b->truncated = true;
                return;
            }
            b->s = ns;
            b->cap = ncap;
        }
    }
}

static void vec_text(strbuf *b, const sim_vecset *v)
{
    bool first = true;

    sb_printf(b, "[");
    for (unsigned i = 0; i < 256; i++)
        if (v->w[i / 64] >> (i % 64) & 1) {
            sb_printf(b, "%s0x%02x", first ? "" : ", ", i);
            first = false;
        }
    sb_printf(b, "]");
}

static void pending_text(strbuf *b, unsigned p)
{
    static const char *const names[] = {"intr", "nmi",  "smi",
                                        "init", "sipi", "extint"};
    bool first = true;

    sb_printf(b, "[");
    for (unsigned i = 0; i < 6; i++)
        if (p & (1u << i)) {
            sb_printf(b, "%s%s", first ? "" : ", ", names[i]);
            first = false;
        }
    sb_printf(b, "]");
}

/* ---- timers: an indexed min-heap of slots by deadline ---- */

static bool slot_less(const sim_host *h, uint32_t a, uint32_t b)
{
    if (h->deadline[a] != h->deadline[b])
        return h->deadline[a] < h->deadline[b];
    return a < b; /* same deadline: LAPICs by CPU, then IOAPICs */
}

static void heap_swap(sim_host *h, uint32_t i, uint32_t j)
{
    uint32_t t = h->heap[i];

    h->heap[i] = h->heap[j];
    h->heap[j] = t;
    h->pos[h->heap[i]] = i;
    h->pos[h->heap[j]] = j;
}

static void heap_fix(sim_host *h, uint32_t i)
{
    while (i > 0 && slot_less(h, h->heap[i], h->heap[(i - 1) / 2])) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->heap_n && slot_less(h, h->heap[l], h->heap[m]))
            m = l;
        if (r < h->heap_n && slot_less(h, h->heap[r], h->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(h, i, m);
        i = m;
    }
}

static void timer_set(sim_host *h, uint32_t slot, uint64_t d)
{
    uint32_t i;

    if (slot >= h->n_slots)
        return;
    h->deadline[slot] = d;
    i = h->pos[slot];
    if (d == UINT64_MAX) {
        if (i == NO_POS)
            return;
        h->heap_n--;
        if (i != h->heap_n) {
            heap_swap(h, i, h->heap_n);
            h->pos[slot] = NO_POS;
            heap_fix(h, i);
        } else {
            h->pos[slot] = NO_POS;
        }
        return;
    }
    if (i == NO_POS) {
        i = h->heap_n++;
        h->heap[i] = slot;
        h->pos[slot] = i;
    }
    heap_fix(h, i);
}

/* ---- host callbacks ---- */

static uint64_t cb_now(void *host, uint32_t cpu)
{
    (void)cpu;
    return ((sim_host *)host)->now;
}

static void cb_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    sim_host *h = host;

    if (cpu < h->n_cpus)
        timer_set(h, cpu, deadline);
}

static void cb_ioapic_timer_arm(void *host, uint32_t ioapic,
                                uint64_t deadline)
{
    sim_host *h = host;

    if (ioapic < h->s->cfg.n_ioapics)
        timer_set(h, h->n_cpus + ioapic, deadline);
}

static void add_item(sim_host *h, bool kick, const intc_event *ev)
{
    if (h->o->trace == TRACE_NONE)
        return;
    if (h->n_items == h->cap_items) {
        size_t ncap = h->cap_items ? h->cap_items * 2 : 64;
        sim_item *ni;
        if (h->n_items >= SIM_MAX_STEP_TRACE ||
            !(ni = realloc(h->items, ncap * sizeof *ni))) {
            h->items_lost++;
            return;
        }
        h->items = ni;
        h->cap_items = ncap;
    }
    h->items[h->n_items].is_kick = kick;
    h->items[h->n_items].time = h->now;
    h->items[h->n_items].ev = *ev;
    h->n_items++;
}

static void cb_kick(void *host, uint32_t cpu)
{
    intc_event ev = {.type = INTC_EV_COUNT_, .cpu = cpu, .vector = -1};

    add_item(host, true, &ev);
}

static void cb_event(void *host, const intc_event *ev)
{
    sim_host *h = host;

    if ((unsigned)ev->type < INTC_EV_COUNT_) {
        h->totals[ev->type]++;
        h->wcount[ev->type]++;
    }
    if (h->n_window == h->cap_window) {
        size_t ncap = h->cap_window ? h->cap_window * 2 : 256;
        intc_event *nw;
        if (h->n_window >= SIM_MAX_WINDOW_EVENTS ||
            !(nw = realloc(h->window, ncap * sizeof *nw))) {
            h->window_lost++;
            goto trace;
        }
        h->window = nw;
        h->cap_window = ncap;
    }
    h->window[h->n_window++] = *ev;
trace:
    add_item(h, false, ev);
}

static sim_region *region_of(sim_host *h, uint64_t addr, size_t len)
{
    for (size_t i = 0; i < h->s->n_regions; i++) {
        sim_region *r = &h->regions[i];
        if (addr >= r->addr && addr - r->addr < r->size &&
            len <= r->size - (addr - r->addr))
            return r;
    }
    return NULL;
}

static int cb_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    sim_region *r = region_of(host, addr, len);

    if (!r)
        return -1;
    if (len)
        memcpy(buf, r->mem + (addr - r->addr), len);
    return 0;
}

static int cb_dma_write(void *host, uint64_t addr, const void *buf,
                        size_t len)
{
    sim_region *r = region_of(host, addr, len);

    if (!r)
        return -1;
    if (len)
        memcpy(r->mem + (addr - r->addr), buf, len);
    return 0;
}

/* ---- registers in the CPU's current mode ---- */

static bool lapic_x2(intc_lapic *l)
{
    uint64_t base = 0;

    if (intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base) != INTC_OK)
        return false;
    return (base & INTC_APIC_BASE_EN) && (base & INTC_APIC_BASE_EXTD);
}

intc_err sim_lapic_read(intc_lapic *l, uint32_t reg, uint64_t *val)
{
    intc_err e;
    uint64_t lo = 0, hi = 0;

    *val = 0;
    if (lapic_x2(l))
        return intc_lapic_msr_read(
            l, reg == SIM_REG_ICR64 ? 0x830u : 0x800u + (reg >> 4), val);
    if (reg != SIM_REG_ICR64)
        return intc_lapic_mmio_read(l, reg, 4, val);
    e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_LO, 4, &lo);
    if (e == INTC_OK)
        e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_HI, 4, &hi);
    *val = hi << 32 | (lo & 0xffffffffu);
    return e;
}

static intc_err lapic_write(intc_lapic *l, uint32_t reg, uint64_t val)
{
    intc_err e;

    if (lapic_x2(l))
        return intc_lapic_msr_write(
            l, reg == SIM_REG_ICR64 ? 0x830u : 0x800u + (reg >> 4), val);
    if (reg != SIM_REG_ICR64)
        return intc_lapic_mmio_write(l, reg, 4, val & 0xffffffffu);
    e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4, val >> 32);
    if (e == INTC_OK)
        e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4,
                                  val & 0xffffffffu);
    return e;
}

void sim_lapic_vec(intc_lapic *l, uint32_t base, sim_vecset *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t v = 0;
        if (sim_lapic_read(l, base + 0x10 * i, &v) != INTC_OK)
            v = 0;
        out->w[i / 2] |= (v & 0xffffffffu) << (32 * (i % 2));
    }
}

/* ---- time ---- */

static void fire(sim_host *h, uint32_t slot)
{
    /* Forget the deadline first: the model re-arms what stays armed. */
    timer_set(h, slot, UINT64_MAX);
    if (slot < h->n_cpus)
        intc_lapic_timer_expired(intc_machine_lapic(h->m, slot), h->now);
    else
        intc_ioapic_timer_expired(
            intc_machine_ioapic(h->m, slot - h->n_cpus), h->now);
    h->fires_total++;
    if (h->vcd)
        sim_vcd_sample(h->vcd, h->now);
}

/* Move the clock to t, firing every due timer at its own deadline.  Past
   the fire budget, the rest coalesce at t (missed periods are counted by
   the model, as for a late host). */
static void advance_to(sim_host *h, uint64_t t)
{
    unsigned long fires = 0;

    while (h->heap_n > 0 && h->deadline[h->heap[0]] <= t) {
        uint32_t slot = h->heap[0];

        if (fires >= SIM_MAX_FIRES_PER_ADVANCE ||
            h->fires_total >= SIM_MAX_FIRES_TOTAL) {
            if (!h->coalesced_note && h->o->trace == TRACE_TEXT)
                fprintf(h->out, "  (host: too many timer expiries; the rest "
                                "coalesce at %" PRIu64 " ns)\n", t);
            h->coalesced_note = true;
            h->now = t;
            /* Each due timer fires once, late; a model that re-arms at or
               before t is not fired again. */
            for (uint32_t i = 0; i < h->n_slots; i++)
                if (h->deadline[i] <= t)
                    fire(h, i);
            break;
        }
        if (h->deadline[slot] > h->now)
            h->now = h->deadline[slot];
        fire(h, slot);
        fires++;
    }
    if (t > h->now)
        h->now = t;
}

/* ---- expectations ---- */

static bool pat_match(const sim_pattern *p, const intc_event *ev)
{
    if ((p->fields & PAT_TYPE) && (int)ev->type != p->type)
        return false;
    if ((p->fields & PAT_CPU) && ev->cpu != p->cpu)
        return false;
    if ((p->fields & PAT_VECTOR) && ev->vector != p->vector)
        return false;
    if ((p->fields & PAT_UNIT) && ev->unit != p->unit)
        return false;
    if ((p->fields & PAT_PIN) && ev->pin != p->pin)
        return false;
    if ((p->fields & PAT_DATA) && ev->data != p->data)
        return false;
    if ((p->fields & PAT_DATA2) && ev->data2 != p->data2)
        return false;
    return true;
}

static void pat_text(strbuf *b, const sim_pattern *p)
{
    const char *sep = "";

    sb_printf(b, "{");
    if (p->fields & PAT_TYPE)
        sb_printf(b, "%stype: %s", sep, intc_event_name(p->type)), sep = ", ";
    if (p->fields & PAT_CPU)
        sb_printf(b, "%scpu: %" PRIu32, sep, p->cpu), sep = ", ";
    if (p->fields & PAT_VECTOR) {
        if (p->vector < 0)
            sb_printf(b, "%svector: none", sep);
        else
            sb_printf(b, "%svector: 0x%02" PRIx32, sep, (uint32_t)p->vector);
        sep = ", ";
    }
    if (p->fields & PAT_UNIT)
        sb_printf(b, "%sunit: %" PRIu32, sep, p->unit), sep = ", ";
    if (p->fields & PAT_PIN)
        sb_printf(b, "%spin: %" PRIu32, sep, p->pin), sep = ", ";
    if (p->fields & PAT_DATA)
        sb_printf(b, "%sdata: 0x%" PRIx64, sep, p->data), sep = ", ";
    if (p->fields & PAT_DATA2)
        sb_printf(b, "%sdata2: 0x%" PRIx64, sep, p->data2);
    sb_printf(b, "}");
}

static void ev_line(strbuf *b, const intc_event *ev)
{
    char t[256];

    sim_event_text(ev, t, sizeof t);
    sb_printf(b, "%s %s", intc_event_name(ev->type), t);
}

static void check_expect(sim_host *h, const sim_expect *e, strbuf *f)
{
    static const char *const vr[VR_COUNT] = {"irr", "isr", "tmr"};
    static const uint32_t base[VR_COUNT] = {INTC_LAPIC_IRR0, INTC_LAPIC_ISR0,
                                            INTC_LAPIC_TMR0};

    if (e->has_cpu_keys) {
        intc_lapic *l = intc_machine_lapic(h->m, e->cpu);
        for (int r = 0; r < VR_COUNT; r++) {
            sim_vecset got, bad;
            bool any = false;
            if (!e->has_exact[r] && !e->has_has[r] && !e->has_lacks[r])
                continue;
            sim_lapic_vec(l, base[r], &got);
            if (e->has_exact[r] &&
                memcmp(&got, &e->exact[r], sizeof got) != 0) {
                sb_printf(f, "  cpu %" PRIu32 " %s: expected ", e->cpu,
                          vr[r]);
                vec_text(f, &e->exact[r]);
                sb_printf(f, " got ");
                vec_text(f, &got);
                sb_printf(f, "\n");
            }
            if (e->has_has[r]) {
                for (int w = 0; w < 4; w++)
                    any |= (bad.w[w] = e->has[r].w[w] & ~got.w[w]) != 0;
                if (any) {
                    sb_printf(f, "  cpu %" PRIu32 " %s_has: missing ",
                              e->cpu, vr[r]);
                    vec_text(f, &bad);
                    sb_printf(f, " (got ");
                    vec_text(f, &got);
                    sb_printf(f, ")\n");
                }
            }
            any = false;
            if (e->has_lacks[r]) {
                for (int w = 0; w < 4; w++)
                    any |= (bad.w[w] = e->lacks[r].w[w] & got.w[w]) != 0;
                if (any) {
                    sb_printf(f, "  cpu %" PRIu32 " %s_lacks: present ",
                              e->cpu, vr[r]);
                    vec_text(f, &bad);
                    sb_printf(f, " (got ");
                    vec_text(f, &got);
                    sb_printf(f, ")\n");
                }
            }
        }
        if (e->has_ppr) {
            uint64_t v = 0;
            sim_lapic_read(l, INTC_LAPIC_PPR, &v);
            if (v != e->ppr)
                sb_printf(f, "  cpu %" PRIu32 " ppr: expected 0x%02x got "
                             "0x%02" PRIx64 "\n", e->cpu, e->ppr, v);
        }
        if (e->has_tpr) {
            uint8_t v = intc_lapic_get_tpr(l);
            if (v != e->tpr)
                sb_printf(f, "  cpu %" PRIu32 " tpr: expected 0x%02x got "
                             "0x%02x\n", e->cpu, e->tpr, v);
        }
        if (e->has_pending) {
            unsigned v = intc_lapic_pending(l);
            if (v != e->pending) {
                sb_printf(f, "  cpu %" PRIu32 " pending: expected ", e->cpu);
                pending_text(f, e->pending);
                sb_printf(f, " got ");
                pending_text(f, v);
                sb_printf(f, "\n");
            }
        }
        if (e->has_wfs) {
            bool v = intc_lapic_waiting_for_sipi(l);
            if (v != e->wfs)
                sb_printf(f, "  cpu %" PRIu32 " waiting_for_sipi: expected "
                             "%s got %s\n", e->cpu, e->wfs ? "true" : "false",
                          v ? "true" : "false");
        }
        for (size_t i = 0; i < e->n_regs; i++) {
            char nb[16];
            uint64_t v = 0;
            intc_err err = sim_lapic_read(l, e->regs[i].reg, &v);
            const char *rn = sim_reg_name(e->regs[i].reg, nb, sizeof nb);
            if (err != INTC_OK)
                sb_printf(f, "  cpu %" PRIu32 " reg %s: read failed: %s\n",
                          e->cpu, rn, intc_err_name(err));
            else if (v != e->regs[i].value)
                sb_printf(f, "  cpu %" PRIu32 " reg %s: expected 0x%" PRIx64
                             " got 0x%" PRIx64 "\n", e->cpu, rn,
                          e->regs[i].value, v);
        }
    }
    if (e->has_pin) {
        intc_ioapic *io = intc_machine_ioapic(h->m, e->ioapic);
        uint64_t rte = 0;
        intc_ioapic_rte(io, e->pin, &rte);
        if (e->has_remote_irr && !!(rte & INTC_RTE_REMOTE_IRR) !=
                                     e->remote_irr)
            sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32 " remote_irr: "
                         "expected %s got %s\n", e->ioapic, e->pin,
                      e->remote_irr ? "true" : "false",
                      e->remote_irr ? "false" : "true");
        if (e->has_delivs && !!(rte & INTC_RTE_DELIVS) != e->delivs)
            sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32
                         " delivery_status: expected %s got %s\n",
                      e->ioapic, e->pin, e->delivs ? "true" : "false",
                      e->delivs ? "false" : "true");
        if (e->has_line && intc_ioapic_line(io, e->pin) != e->line)
            sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32 " line: expected "
                         "%s got %s\n", e->ioapic, e->pin,
                      e->line ? "true" : "false", e->line ? "false" : "true");
    }
    if (e->has_msix) {
        intc_msix *x = h->dev[e->msix_dev];
        const sim_device *d = &h->s->devices[e->msix_dev];
        bool bad = false;
        for (uint16_t v = 0; v < d->vectors; v++)
            if (intc_msix_pending(x, v) !=
                (bool)(e->msix_bits[v / 64] >> (v % 64) & 1))
                bad = true;
        if (bad) {
            const char *sep = "";
            sb_printf(f, "  msix %s pending: expected [", d->name);
            for (uint16_t v = 0; v < d->vectors; v++)
                if (e->msix_bits[v / 64] >> (v % 64) & 1)
                    sb_printf(f, "%s%u", sep, v), sep = ", ";
            sb_printf(f, "] got [");
            sep = "";
            for (uint16_t v = 0; v < d->vectors; v++)
                if (intc_msix_pending(x, v))
                    sb_printf(f, "%s%u", sep, v), sep = ", ";
            sb_printf(f, "]\n");
        }
    }
    for (size_t i = 0; i < e->n_events; i++) {
        const sim_pattern *p = &e->events[i];
        bool found = false;
        unsigned shown = 0;
        for (size_t j = 0; j < h->n_window && !found; j++)
            found = pat_match(p, &h->window[j]);
        if (found)
            continue;
        sb_printf(f, "  events: expected ");
        pat_text(f, p);
        sb_printf(f, " (line %d), not seen among %zu events", p->line,
                  h->n_window);
        if (h->window_lost)
            sb_printf(f, " (%zu more not recorded)", h->window_lost);
        sb_printf(f, "\n");
        for (size_t j = 0; j < h->n_window && shown < 8; j++)
            if (!(p->fields & PAT_TYPE) ||
                (int)h->window[j].type == p->type) {
                sb_printf(f, "    got ");
                ev_line(f, &h->window[j]);
                sb_printf(f, "\n");
                shown++;
            }
    }
    /* events_in_order: the patterns match window events in this order
     * (other events may come between them); the first pattern that finds
     * no match after the previous one's is reported. */
    for (size_t i = 0, j = 0; i < e->n_in_order; i++, j++) {
        const sim_pattern *p = &e->in_order[i];
        while (j < h->n_window && !pat_match(p, &h->window[j]))
            j++;
        if (j < h->n_window)
            continue;
        sb_printf(f, "  events_in_order: expected ");
        pat_text(f, p);
        sb_printf(f, " (line %d) ", p->line);
        if (i) {
            sb_printf(f, "after ");
            pat_text(f, &e->in_order[i - 1]);
        } else {
            sb_printf(f, "in the window");
        }
        sb_printf(f, ", not seen among %zu events", h->n_window);
        if (h->window_lost)
            sb_printf(f, " (%zu more not recorded)", h->window_lost);
        sb_printf(f, "\n");
        break;
    }
    for (size_t i = 0; i < e->n_no_events; i++) {
        const sim_pattern *p = &e->no_events[i];
        for (size_t j = 0; j < h->n_window; j++)
            if (pat_match(p, &h->window[j])) {
                sb_printf(f, "  no_events: ");
                pat_text(f, p);
                sb_printf(f, " (line %d) happened: ", p->line);
                ev_line(f, &h->window[j]);
                sb_printf(f, "\n");
                break;
            }
    }
    for (size_t i = 0; i < e->n_count; i++)
        if (h->wcount[e->count[i].type] != e->count[i].n)
            sb_printf(f, "  count %s: expected %" PRIu64 " got %" PRIu64 "\n",
                      intc_event_name(e->count[i].type), e->count[i].n,
                      h->wcount[e->count[i].type]);
    for (size_t i = 0; i < e->n_total; i++)
        if (h->totals[e->total[i].type] != e->total[i].n)
            sb_printf(f, "  total %s: expected %" PRIu64 " got %" PRIu64 "\n",
                      intc_event_name(e->total[i].type), e->total[i].n,
                      h->totals[e->total[i].type]);
    if (e->has_time && h->now != e->time)
        sb_printf(f, "  time: expected %" PRIu64 " ns got %" PRIu64 " ns\n",
                  e->time, h->now);
    if (e->has_events_key) {
        h->n_window = 0;
        h->window_lost = 0;
        memset(h->wcount, 0, sizeof h->wcount);
    }
}

/* ---- actions ---- */

/* Check an access's result: an error the step did not expect, or the
   expected error that did not come. */
static bool check_err(strbuf *f, intc_err got, int want, const char *what)
{
    if (got == (intc_err)want)
        return true;
    if (want)
        sb_printf(f, "  %s: expected error %s got %s\n", what,
                  intc_err_name((intc_err)want), intc_err_name(got));
    else
        sb_printf(f, "  %s: error %s (%s)\n", what, intc_err_name(got),
                  intc_strerror(got));
    return false;
}

static void check_value(strbuf *f, const sim_step *st, uint64_t got,
                        const char *what)
{
    uint64_t m = (st->opt & OPT_MASK) ? st->mask : UINT64_MAX;

    if ((st->opt & OPT_EXPECT) && (got & m) != (st->expect & m)) {
        sb_printf(f, "  %s: expected 0x%" PRIx64 " got 0x%" PRIx64, what,
                  st->expect & m, got & m);
        if (st->opt & OPT_MASK)
            sb_printf(f, " (mask 0x%" PRIx64 ")", m);
        sb_printf(f, "\n");
    }
}

static const char *signal_name(unsigned bit)
{
    switch (bit) {
    case INTC_PEND_NMI: return "nmi";
    case INTC_PEND_SMI: return "smi";
    case INTC_PEND_INIT: return "init";
    case INTC_PEND_SIPI: return "sipi";
    case INTC_PEND_EXTINT: return "extint";
    default: return "intr";
    }
}

/* One CPU behaving as a minimal OS until nothing is pending. */
static void run_cpu(sim_host *h, uint32_t cpu, strbuf *d, strbuf *f)
{
    static const unsigned order[] = {INTC_PEND_INIT, INTC_PEND_SIPI,
                                     INTC_PEND_SMI, INTC_PEND_NMI,
                                     INTC_PEND_EXTINT};
    intc_lapic *l = intc_machine_lapic(h->m, cpu);
    unsigned acks = 0, takes = 0;
    bool extint_taken = false;

    while (acks < 256 && takes < 16) {
        unsigned p = intc_lapic_pending(l);
        bool took = false;

        for (unsigned i = 0; i < 5 && !took; i++) {
            uint8_t sv = 0;
            if (!(p & order[i]))
                continue;
            if (order[i] == INTC_PEND_EXTINT && extint_taken)
                continue;
            if (intc_lapic_take(l, order[i], &sv) == 1) {
                if (order[i] == INTC_PEND_SIPI)
                    sb_printf(d, " sipi(0x%02x)", sv);
                else
                    sb_printf(d, " %s", signal_name(order[i]));
                extint_taken |= order[i] == INTC_PEND_EXTINT;
                took = true;
                takes++;
            }
        }
        if (took)
            continue;
        if (p & INTC_PEND_INTR) {
            uint64_t spur = h->totals[INTC_EV_SPURIOUS];
            int v = intc_lapic_ack(l);
            intc_err e;
            acks++;
            if (v < 0 || v > 255 || h->totals[INTC_EV_SPURIOUS] != spur) {
                sb_printf(d, " spurious");
                break;
            }
            sb_printf(d, " 0x%02x", v);
            e = lapic_write(l, INTC_LAPIC_EOI, 0);
            if (e != INTC_OK) {
                sb_printf(f, "  cpu %" PRIu32 " run: EOI write failed: %s\n",
                          cpu, intc_err_name(e));
                break;
            }
            continue;
        }
        break;
    }
}

static void do_run(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    unsigned shown = 0;
    unsigned long more = 0;

    if (!(st->opt & OPT_ALL_CPUS)) {
        sb_printf(d, "cpu %" PRIu32 " run: handled", st->cpu);
        run_cpu(h, st->cpu, d, f);
        return;
    }
    sb_printf(d, "run all cpus:");
    for (unsigned pass = 0; pass < 4; pass++) {
        bool any = false;
        for (uint32_t c = 0; c < h->n_cpus; c++) {
            intc_lapic *l = intc_machine_lapic(h->m, c);
            if (!intc_lapic_pending(l))
                continue;
            any = true;
            /* The trace line names the first CPUs, then only counts. */
            if (shown < 16) {
                sb_printf(d, " [cpu %" PRIu32 ":", c);
                run_cpu(h, c, d, f);
                sb_printf(d, "]");
                shown++;
            } else {
                strbuf quiet = {0};
                run_cpu(h, c, &quiet, f);
                free(quiet.s);
                more++;
            }
        }
        if (!any)
            break;
    }
    if (more)
        sb_printf(d, " and %lu more", more);
}

static void do_snapshot(sim_host *h, const sim_step *st, strbuf *f)
{
    snapbuf *sb = &h->snaps[st->snap];
    size_t used = 0;
    intc_err e = intc_machine_save(h->m, NULL, 0, &used);
    uint8_t *img;

    if (e != INTC_OK && e != INTC_ERR_NOSPC) {
        sb_printf(f, "  intc_machine_save: %s\n", intc_err_name(e));
        return;
    }
    img = malloc(used ? used : 1);
    if (!img) {
        sb_printf(f, "  snapshot: out of memory\n");
        return;
    }
    e = intc_machine_save(h->m, img, used, &used);
    if (e != INTC_OK) {
        free(img);
        sb_printf(f, "  intc_machine_save: %s\n", intc_err_name(e));
        return;
    }
    free(sb->img);
    sb->img = img;
    sb->len = used;
    sb->valid = true;
}

/* Load an image; host timers follow the restored deadlines. */
static intc_err load_image(sim_host *h, const void *img, size_t len)
{
    uint64_t *old = malloc((size_t)h->n_slots * sizeof *old);
    intc_err e;

    if (!old)
        return INTC_ERR_NOMEM;
    memcpy(old, h->deadline, (size_t)h->n_slots * sizeof *old);
    for (uint32_t i = h->n_cpus; i < h->n_slots; i++)
        timer_set(h, i, UINT64_MAX);
    e = intc_machine_load(h->m, img, len);
    if (e != INTC_OK) {
        for (uint32_t i = h->n_cpus; i < h->n_slots; i++)
            timer_set(h, i, old[i]);
    } else {
        for (uint32_t c = 0; c < h->n_cpus; c++)
            timer_set(h, c,
                      intc_lapic_timer_deadline(intc_machine_lapic(h->m, c)));
    }
    free(old);
    return e;
}

static void do_memory(sim_host *h, const sim_step *st, strbuf *d,
                      strbuf *f)
{
    sim_region *r = region_of(h, st->off, st->n_bytes);
    uint8_t *p = r->mem + (st->off - r->addr);
    unsigned w = (unsigned)st->value;
    const char *unit = w == 8 ? "qwords" : w == 4 ? "dwords" : "bytes";

    if (st->action == ACT_MEMORY_WRITE) {
        memcpy(p, st->bytes, st->n_bytes);
        sb_printf(d, "memory_write 0x%" PRIx64 ": %zu %s", st->off,
                  st->n_bytes / w, unit);
        return;
    }
    sb_printf(d, "memory_read 0x%" PRIx64 ": %zu %s", st->off,
              st->n_bytes / w, unit);
    for (size_t i = 0; i < st->n_bytes; i += w) {
        uint64_t got = 0, want = 0;
        for (unsigned b = 0; b < w; b++) {
            got |= (uint64_t)p[i + b] << (8 * b);
            want |= (uint64_t)st->bytes[i + b] << (8 * b);
        }
        if (got != want)
            sb_printf(f, "  memory 0x%" PRIx64 ": expected 0x%" PRIx64
                         " got 0x%" PRIx64 "\n", st->off + i, want, got);
    }
}

static void do_step(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    intc_lapic *l = intc_machine_lapic(h->m, st->cpu);
    intc_err e = INTC_OK;
    uint64_t v = 0;
    char nb[16], what[64];
    const char *rn;

    switch (st->action) {
    case ACT_ADVANCE:
    case ACT_BLOCK:
        if (st->action == ACT_BLOCK)
            sb_printf(d, "cpu %" PRIu32 " block (IF=0) ", st->cpu);
        else
            sb_printf(d, "advance ");
        sb_printf(d, "%" PRIu64 " ns to %" PRIu64 " ns",
                  st->t_end - st->t_action, st->t_end);
        advance_to(h, st->t_end);
        if (st->action == ACT_BLOCK) {
            sb_printf(d, ", pending ");
            pending_text(d, intc_lapic_pending(l));
        }
        break;
    case ACT_WRITE:
        rn = sim_reg_name((uint32_t)st->off, nb, sizeof nb);
        sb_printf(d, "cpu %" PRIu32 " write %s = 0x%" PRIx64, st->cpu, rn,
                  st->value);
        e = lapic_write(l, (uint32_t)st->off, st->value);
        if (e)
            sb_printf(d, " -> %s", intc_err_name(e));
        snprintf(what, sizeof what, "cpu %" PRIu32 " write %s", st->cpu, rn);
        check_err(f, e, st->expect_error, what);
        break;
    case ACT_READ:
        rn = sim_reg_name((uint32_t)st->off, nb, sizeof nb);
        e = sim_lapic_read(l, (uint32_t)st->off, &v);
        snprintf(what, sizeof what, "cpu %" PRIu32 " reg %s", st->cpu, rn);
        if (e)
            sb_printf(d, "cpu %" PRIu32 " read %s -> %s", st->cpu, rn,
                      intc_err_name(e));
        else
            sb_printf(d, "cpu %" PRIu32 " read %s = 0x%" PRIx64, st->cpu, rn,
                      v);
        if (check_err(f, e, st->expect_error, what) && !e)
            check_value(f, st, v, what);
        break;
    case ACT_MMIO_WRITE:
    case ACT_MMIO_READ:
    case ACT_IOMMU_WRITE:
    case ACT_IOMMU_READ: {
        bool io = st->action == ACT_IOMMU_WRITE ||
                  st->action == ACT_IOMMU_READ;
        bool rd = st->action == ACT_MMIO_READ ||
                  st->action == ACT_IOMMU_READ;
        intc_iommu *u = intc_machine_iommu(h->m);
        if (io)
            snprintf(what, sizeof what, "iommu %s 0x%" PRIx64 "/%" PRIu64,
                     rd ? "read" : "write", st->off, st->size);
        else
            snprintf(what, sizeof what,
                     "cpu %" PRIu32 " mmio %s 0x%" PRIx64 "/%" PRIu64, st->cpu,
                     rd ? "read" : "write", st->off, st->size);
        if (rd)
            e = io ? intc_iommu_mmio_read(u, (uint32_t)st->off,
                                          (unsigned)st->size, &v)
                   : intc_lapic_mmio_read(l, (uint32_t)st->off,
                                          (unsigned)st->size, &v);
        else
            e = io ? intc_iommu_mmio_write(u, (uint32_t)st->off,
                                           (unsigned)st->size, st->value)
                   : intc_lapic_mmio_write(l, (uint32_t)st->off,
                                           (unsigned)st->size, st->value);
        sb_printf(d, "%s", what);
        if (e)
            sb_printf(d, " -> %s", intc_err_name(e));
        else if (rd)
            sb_printf(d, " = 0x%" PRIx64, v);
        else
            sb_printf(d, " = 0x%" PRIx64, st->value);
        if (check_err(f, e, st->expect_error, what) && rd && !e)
            check_value(f, st, v, what);
        break;
    }
    case ACT_WRMSR:
    case ACT_RDMSR: {
        bool rd = st->action == ACT_RDMSR;
        snprintf(what, sizeof what, "cpu %" PRIu32 " %s 0x%" PRIx64, st->cpu,
                 rd ? "rdmsr" : "wrmsr", st->off);
        e = rd ? intc_lapic_msr_read(l, (uint32_t)st->off, &v)
               : intc_lapic_msr_write(l, (uint32_t)st->off, st->value);
        sb_printf(d, "%s", what);
        if (e)
            sb_printf(d, " -> %s", intc_err_name(e));
        else
            sb_printf(d, " = 0x%" PRIx64, rd ? v : st->value);
        if (check_err(f, e, st->expect_error, what) && rd && !e)
            check_value(f, st, v, what);
        break;
    }
    case ACT_IPI: {
        static const char *const modes[8] = {"fixed", "lowest", "smi", "3",
                                             "nmi",   "init",   "sipi",
                                             "extint"};
        static const char *const sh[4] = {"", " self", " all", " others"};
        uint64_t lo = (st->value2 & 0xff) | (uint64_t)st->what << 8 |
                      ((st->opt & OPT_LOGICAL) ? 1u << 11 : 0) |
                      ((st->opt & OPT_DEASSERT) ? 0 : 1u << 14) |
                      ((st->opt & OPT_LEVEL) ? 1u << 15 : 0) |
                      (uint64_t)st->shorthand << 18;
        bool x2 = lapic_x2(l);
        sb_printf(d, "cpu %" PRIu32 " ipi %s vector 0x%02" PRIx64 " ->%s",
                  st->cpu, modes[st->what & 7], st->value2, sh[st->shorthand]);
        if (!st->shorthand)
            sb_printf(d, " %s 0x%" PRIx64,
                      (st->opt & OPT_LOGICAL) ? "logical" : "dest", st->value);
        if (x2) {
            e = intc_lapic_msr_write(l, 0x830, st->value << 32 | lo);
        } else if (st->value > 0xff && !st->shorthand) {
            sb_printf(f, "  cpu %" PRIu32 " ipi: destination 0x%" PRIx64
                         " does not fit the 8-bit xAPIC field\n", st->cpu,
                      st->value);
            break;
        } else {
            e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4,
                                      st->shorthand ? 0 : st->value << 24);
            if (e == INTC_OK)
                e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4, lo);
        }
        sb_printf(d, " (icr 0x%" PRIx64 ")", x2 ? st->value << 32 | lo
                                                 : (st->value & 0xff) << 56 |
                                                       lo);
        snprintf(what, sizeof what, "cpu %" PRIu32 " ipi", st->cpu);
        check_err(f, e, 0, what);
        break;
    }
    case ACT_TPR:
        sb_printf(d, "cpu %" PRIu32 " tpr (via cr8) = 0x%02" PRIx64, st->cpu,
                  st->value);
        e = intc_lapic_set_tpr(l, (uint8_t)st->value);
        check_err(f, e, 0, "tpr");
        break;
    case ACT_LINT:
        sb_printf(d, "cpu %" PRIu32 " lint%" PRIu32 " level %s", st->cpu,
                  st->pin, st->value ? "high" : "low");
        e = intc_lapic_set_lint(l, st->pin, st->value != 0);
        check_err(f, e, 0, "lint");
        break;
    case ACT_ACK: {
        uint64_t svr = 0;
        int r;
        sim_lapic_read(l, INTC_LAPIC_SVR, &svr);
        r = intc_lapic_ack(l);
        /* lapic.h: 0..255 in service, INTC_ACK_SPURIOUS(v), or < 0. */
        if (r < 0)
            snprintf(what, sizeof what, "none");
        else if (r > 255)
            snprintf(what, sizeof what, "spurious 0x%02x", r & 0xff);
        else
            snprintf(what, sizeof what, "0x%02x", r);
        sb_printf(d, "cpu %" PRIu32 " ack -> %s", st->cpu, what);
        if (st->what == ACK_VECTOR && r != (int)st->expect)
            sb_printf(f, "  cpu %" PRIu32 " ack: expected 0x%02" PRIx64
                         " got %s\n", st->cpu, st->expect, what);
        if (st->what == ACK_SPURIOUS &&
            r != INTC_ACK_SPURIOUS(svr & 0xff))
            sb_printf(f, "  cpu %" PRIu32 " ack: expected spurious (0x%02x) "
                         "got %s\n", st->cpu, (unsigned)(svr & 0xff), what);
        if (st->what == ACK_NONE && r >= 0)
            sb_printf(f, "  cpu %" PRIu32 " ack: expected none got %s\n",
                      st->cpu, what);
        break;
    }
    case ACT_EOI:
        sb_printf(d, "cpu %" PRIu32 " eoi", st->cpu);
        e = lapic_write(l, INTC_LAPIC_EOI, 0);
        snprintf(what, sizeof what, "cpu %" PRIu32 " eoi", st->cpu);
        check_err(f, e, 0, what);
        break;
    case ACT_TAKE: {
        uint8_t sv = 0;
        int r = intc_lapic_take(l, st->what, &sv);
        sb_printf(d, "cpu %" PRIu32 " take %s -> %s", st->cpu,
                  signal_name(st->what), r == 1 ? "taken" : "not pending");
        if (r == 1 && st->what == INTC_PEND_SIPI)
            sb_printf(d, " (vector 0x%02x)", sv);
        if (r < 0)
            sb_printf(f, "  cpu %" PRIu32 " take: %s\n", st->cpu,
                      intc_err_name((intc_err)r));
        else if ((st->opt & OPT_EXPECT) && r != 1)
            sb_printf(f, "  cpu %" PRIu32 " take %s: expected pending, it "
                         "was not\n", st->cpu, signal_name(st->what));
        else if (!(st->opt & OPT_EXPECT) && r == 1)
            sb_printf(f, "  cpu %" PRIu32 " take %s: expected not pending, "
                         "it was\n", st->cpu, signal_name(st->what));
        else if ((st->opt & OPT_VECTOR) && sv != st->expect)
            sb_printf(f, "  cpu %" PRIu32 " take sipi: expected vector "
                         "0x%02" PRIx64 " got 0x%02x\n", st->cpu, st->expect,
                      sv);
        break;
    }
    case ACT_RUN:
        do_run(h, st, d, f);
        break;
    case ACT_RAISE_LVT:
        sb_printf(d, "cpu %" PRIu32 " raise_lvt %s", st->cpu,
                  st->what == INTC_LVT_CMCI      ? "cmci"
                  : st->what == INTC_LVT_THERMAL ? "thermal"
                                                 : "perf");
        e = intc_lapic_raise_lvt(l, st->what);
        check_err(f, e, 0, "raise_lvt");
        break;
    case ACT_IOAPIC_RTE:
    case ACT_IOAPIC_REG:
    case ACT_IOAPIC_EOI: {
        intc_ioapic *io = intc_machine_ioapic(h->m, st->unit);
        if (st->action == ACT_IOAPIC_RTE) {
            uint32_t sel = 0x10 + 2 * st->pin;
            sb_printf(d, "ioapic %" PRIu32 " pin %" PRIu32 " rte = 0x%016" PRIx64,
                      st->unit, st->pin, st->value);
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, sel + 1);
            if (!e)
                e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                           st->value >> 32);
            if (!e)
                e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, sel);
            if (!e)
                e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                           st->value & 0xffffffffu);
        } else if (st->action == ACT_IOAPIC_REG) {
            sb_printf(d, "ioapic %" PRIu32 " reg 0x%02" PRIx64 " = 0x%" PRIx64,
                      st->unit, st->off, st->value);
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, st->off);
            if (!e)
                e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                           st->value);
        } else {
            sb_printf(d, "ioapic %" PRIu32 " eoi vector 0x%02" PRIx64,
                      st->unit, st->value);
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_EOI, 4, st->value);
        }
        check_err(f, e, 0, sim_action_name(st->action));
        break;
    }
    case ACT_IRQ:
        sb_printf(d, "ioapic %" PRIu32 " pin %" PRIu32 " source %" PRIu32
                     " %s", st->unit, st->pin, st->source,
                  st->value ? "asserted" : "deasserted");
        e = intc_ioapic_set_irq_source(intc_machine_ioapic(h->m, st->unit),
                                       st->pin, st->source, st->value != 0);
        check_err(f, e, 0, "irq");
        break;
    case ACT_IRQ_GSI:
        sb_printf(d, "gsi %" PRIu32 " %s", st->pin,
                  st->value ? "asserted" : "deasserted");
        e = intc_machine_set_gsi(h->m, st->pin, st->value != 0);
        check_err(f, e, 0, "irq");
        break;
    case ACT_MSI:
        sb_printf(d, "msi addr 0x%" PRIx64 " data 0x%" PRIx64 " sid 0x%04" PRIx32,
                  st->off, st->value, st->source);
        e = intc_msi_send(h->m, st->off, (uint32_t)st->value,
                          (uint16_t)st->source, NULL);
        if (e == INTC_ERR_NOT_DECODED) {
            sb_printf(d, " (not an interrupt: an ordinary memory write)");
            e = INTC_OK;
        }
        check_err(f, e, 0, "msi");
        break;
    case ACT_MSIX_TABLE: {
        intc_msix *x = h->dev[st->unit];
        uint32_t o = 16 * st->pin;
        sb_printf(d, "msix %s entry %" PRIu32 ":", h->s->devices[st->unit].name,
                  st->pin);
        if (st->opt & OPT_ADDR) {
            sb_printf(d, " addr 0x%" PRIx64, st->off);
            e = intc_msix_table_write(x, o, 4, st->off & 0xffffffffu);
            if (!e)
                e = intc_msix_table_write(x, o + 4, 4, st->off >> 32);
        }
        if (!e && (st->opt & OPT_DATA)) {
            sb_printf(d, " data 0x%" PRIx64, st->value);
            e = intc_msix_table_write(x, o + 8, 4, st->value);
        }
        if (!e && (st->opt & OPT_MASKED)) {
            sb_printf(d, " %s", st->value2 ? "masked" : "unmasked");
            e = intc_msix_table_write(x, o + 12, 4, st->value2 ? 1 : 0);
        }
        check_err(f, e, 0, "msix_table");
        break;
    }
    case ACT_MSIX_CONTROL:
        sb_printf(d, "msix %s control: enable %s, function mask %s",
                  h->s->devices[st->unit].name, st->value ? "on" : "off",
                  st->value2 ? "on" : "off");
        e = intc_msix_set_control(h->dev[st->unit], st->value != 0,
                                  st->value2 != 0);
        check_err(f, e, 0, "msix_control");
        break;
    case ACT_MSIX_NOTIFY:
        sb_printf(d, "msix %s notify vector %" PRIu64,
                  h->s->devices[st->unit].name, st->value);
        e = intc_msix_notify(h->dev[st->unit], (uint16_t)st->value, NULL);
        check_err(f, e, 0, "msix_notify");
        break;
    case ACT_MSI_CONFIG:
        sb_printf(d, "msi %s config 0x%02" PRIx64 "/%" PRIu64 " = 0x%" PRIx64,
                  h->s->devices[st->unit].name, st->off, st->size, st->value);
        e = intc_msi_config_write(h->dev[st->unit], (uint32_t)st->off,
                                  (unsigned)st->size, (uint32_t)st->value);
        check_err(f, e, 0, "msi_config");
        break;
    case ACT_MSI_NOTIFY:
        sb_printf(d, "msi %s notify vector %" PRIu64,
                  h->s->devices[st->unit].name, st->value);
        e = intc_msi_notify(h->dev[st->unit], (unsigned)st->value, NULL);
        check_err(f, e, 0, "msi_notify");
        break;
    case ACT_MEMORY_WRITE:
    case ACT_MEMORY_READ:
        do_memory(h, st, d, f);
        break;
    case ACT_SNAPSHOT:
        sb_printf(d, "snapshot \"%s\"", h->s->snap_names[st->snap]);
        do_snapshot(h, st, f);
        break;
    case ACT_RESTORE: {
        snapbuf *sb = &h->snaps[st->snap];
        sb_printf(d, "restore \"%s\"", h->s->snap_names[st->snap]);
        if (!sb->valid) {
            sb_printf(f, "  restore: snapshot \"%s\" was never taken in "
                         "this run\n", h->s->snap_names[st->snap]);
            break;
        }
        e = load_image(h, sb->img, sb->len);
        if (e)
            sb_printf(f, "  intc_machine_load: %s (%s): %s\n",
                      intc_err_name(e), intc_strerror(e),
                      intc_machine_errmsg(h->m));
        break;
    }
    case ACT_EXPECT:
        sb_printf(d, "expect");
        check_expect(h, st->exp, f);
        break;
    case ACT_COUNT_:
        break;
    }
}

/* ---- save / resume files ---- */

/*
 * A save file is a 32-byte header and a body (little-endian).
 *
 * Header: "INTCSIM\0", u32 format version (SAVE_VERSION), u32 flags (0),
 * u64 length of the whole file, u64 checksum: FNV-1a (64-bit) of the
 * header's first 24 bytes followed by the whole body.  FNV-1a changes its
 * state bijectively at every byte, so any change of one byte (any
 * single-bit flip) changes the checksum; a flip in the checksum itself
 * no longer matches the rest.
 *
 * Body: u32 step index (1-based, the last completed step), u32 step
 * count, u32 reserved, u64 virtual time, u64 scenario hash; u32
 * INTC_EV_COUNT_ then that many u64 totals and u64 window counts; u32
 * window events, each 40 bytes (type, cpu, vector, unit, pin: u32; data,
 * data2: u64; + u32 pad); u32 regions, each u64 addr, u64 size, bytes;
 * u32 snapshots (the scenario's names), each u8 valid, u64 len, bytes;
 * u64 image length and the intc_machine_save() image (which has its own
 * checksum).
 */
#define SAVE_MAGIC "INTCSIM"
#define SAVE_VERSION 2u
#define SAVE_HEADER 32u
#define SAVE_MAX_BYTES (1ull << 30)

/* A growing buffer the body is written to. */
typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool err;
} wbuf;

static void put(wbuf *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 4096;
        uint8_t *np;
        while (cap - w->len < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        np = cap - w->len >= n ? realloc(w->p, cap) : NULL;
        if (!np) {
            w->err = true;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void put32(wbuf *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_events(wbuf *w, const sim_host *h)
{
    put32(w, INTC_EV_COUNT_);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        put64(w, h->totals[i]);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        put64(w, h->wcount[i]);
    put32(w, (uint32_t)h->n_window);
    for (size_t i = 0; i < h->n_window; i++) {
        const intc_event *ev = &h->window[i];
        put32(w, (uint32_t)ev->type);
        put32(w, ev->cpu);
        put32(w, (uint32_t)ev->vector);
        put32(w, ev->unit);
        put32(w, ev->pin);
        put64(w, ev->data);
        put64(w, ev->data2);
        put32(w, 0);
    }
}

/* The body after step index, with the machine image img. */
static void put_body(wbuf *w, const sim_host *h, size_t index,
                     const uint8_t *img, size_t used)
{
    const sim_scenario *s = h->s;

    put32(w, (uint32_t)index + 1);
    put32(w, (uint32_t)s->n_steps);
    put32(w, 0);
    put64(w, h->now);
    put64(w, s->hash);
    put_events(w, h);
    put32(w, (uint32_t)s->n_regions);
    for (size_t i = 0; i < s->n_regions; i++) {
        put64(w, h->regions[i].addr);
        put64(w, h->regions[i].size);
        put(w, h->regions[i].mem, h->regions[i].size);
    }
    put32(w, (uint32_t)s->n_snap_names);
    for (size_t i = 0; i < s->n_snap_names; i++) {
        uint8_t valid = h->snaps[i].valid;
        put(w, &valid, 1);
        put64(w, valid ? h->snaps[i].len : 0);
        if (valid)
            put(w, h->snaps[i].img, h->snaps[i].len);
    }
    put64(w, used);
    put(w, img, used);
}

/* The header for a body of len bytes. */
static void save_header(uint8_t hd[SAVE_HEADER], const uint8_t *body,
                        size_t len)
{
    uint64_t total = SAVE_HEADER + (uint64_t)len, sum;

    memset(hd, 0, SAVE_HEADER);
    memcpy(hd, SAVE_MAGIC, 8);
    for (int i = 0; i < 4; i++)
        hd[8 + i] = (uint8_t)(SAVE_VERSION >> (8 * i));
    for (int i = 0; i < 8; i++)
        hd[16 + i] = (uint8_t)(total >> (8 * i));
    sum = sim_fnv1a(sim_fnv1a(SIM_FNV1A_INIT, hd, 24), body, len);
    for (int i = 0; i < 8; i++)
        hd[24 + i] = (uint8_t)(sum >> (8 * i));
}

static int save_file(sim_host *h, size_t index)
{
    const char *path = h->o->save_path;
    wbuf w = {0};
    size_t used = 0;
    uint8_t *img, hd[SAVE_HEADER];
    intc_err e = intc_machine_save(h->m, NULL, 0, &used);
    FILE *f;
    bool err;

    if (e != INTC_OK && e != INTC_ERR_NOSPC) {
        fprintf(stderr, "intc-sim: --save-at: intc_machine_save: %s\n",
                intc_err_name(e));
        return SIM_EXIT_HOST;
    }
    img = malloc(used ? used : 1);
    if (!img || intc_machine_save(h->m, img, used, &used) != INTC_OK) {
        free(img);
        fprintf(stderr, "intc-sim: --save-at: intc_machine_save failed\n");
        return SIM_EXIT_HOST;
    }
    put_body(&w, h, index, img, used);
    free(img);
    if (w.err) {
        free(w.p);
        fprintf(stderr, "intc-sim: --save-at: out of memory\n");
        return SIM_EXIT_HOST;
    }
    save_header(hd, w.p, w.len);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        free(w.p);
        return SIM_EXIT_HOST;
    }
    err = fwrite(hd, 1, SAVE_HEADER, f) != SAVE_HEADER ||
          (w.len && fwrite(w.p, 1, w.len, f) != w.len);
    free(w.p);
    if (fclose(f) != 0 || err) {
        fprintf(stderr, "intc-sim: %s: write error\n", path);
        return SIM_EXIT_HOST;
    }
    return SIM_EXIT_OK;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t len, off;
    bool err;
    bool oom; /* out of memory while loading it (exit 3) */
} rbuf;

static const uint8_t *take(rbuf *r, size_t n)
{
    const uint8_t *p;

    if (r->err || n > r->len - r->off) {
        r->err = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

static uint32_t get32(rbuf *r)
{
    const uint8_t *b = take(r, 4);
    uint32_t v = 0;

    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint64_t get64(rbuf *r)
{
    const uint8_t *b = take(r, 8);
    uint64_t v = 0;

    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Read all of path (refused beyond SAVE_MAX_BYTES): an exit code. */
static int read_save(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    int rc = SIM_EXIT_OK;

    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        return SIM_EXIT_HOST;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = NULL;
            if (cap > SAVE_MAX_BYTES) {
                fprintf(stderr, "intc-sim: %s: larger than %llu bytes: not "
                                "an intc-sim save file\n", path,
                        SAVE_MAX_BYTES);
                rc = SIM_EXIT_MALFORMED;
                break;
            }
            cap = cap ? cap * 2 : 65536;
            if (!(nb = realloc(buf, cap))) {
                fprintf(stderr, "intc-sim: %s: out of memory\n", path);
                rc = SIM_EXIT_HOST;
                break;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    if (rc == SIM_EXIT_OK && ferror(f)) {
        fprintf(stderr, "intc-sim: %s: read error\n", path);
        rc = SIM_EXIT_HOST;
    }
    fclose(f);
    if (rc != SIM_EXIT_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return SIM_EXIT_OK;
}

/* Check the header against the file: false with the reason printed. */
static bool check_header(const char *path, const uint8_t *buf, size_t len)
{
    rbuf r = {.p = buf, .len = len, .off = 8};
    uint32_t version, flags;
    uint64_t total, sum;

    if (len < 8 ? len == 0 || memcmp(buf, SAVE_MAGIC, len) != 0
                : memcmp(buf, SAVE_MAGIC, 8) != 0) {
        fprintf(stderr, "intc-sim: %s: not an intc-sim save file\n", path);
        return false;
    }
    if (len < SAVE_HEADER) {
        fprintf(stderr, "intc-sim: %s: truncated save file: %zu bytes, "
                        "shorter than its %u-byte header\n", path, len,
                SAVE_HEADER);
        return false;
    }
    version = get32(&r);
    flags = get32(&r);
    total = get64(&r);
    sum = get64(&r);
    if (version != SAVE_VERSION) {
        fprintf(stderr, "intc-sim: %s: save file format version %" PRIu32
                        " (this intc-sim reads version %u only)\n", path,
                version, SAVE_VERSION);
        return false;
    }
    if (flags != 0) {
        fprintf(stderr, "intc-sim: %s: corrupt save file header (flags "
                        "0x%" PRIx32 ", expected 0)\n", path, flags);
        return false;
    }
    if (total != len) {
        fprintf(stderr, "intc-sim: %s: %s save file: %zu bytes, its header "
                        "says %" PRIu64 "\n", path,
                len < total ? "truncated" : "corrupt or overlong", len,
                total);
        return false;
    }
    if (sim_fnv1a(sim_fnv1a(SIM_FNV1A_INIT, buf, 24), buf + SAVE_HEADER,
                  len - SAVE_HEADER) != sum) {
        fprintf(stderr, "intc-sim: %s: save file checksum mismatch (the "
                        "file is corrupt)\n", path);
        return false;
    }
    return true;
}

/* The body's first fields: which scenario, which step, what time. */
static bool body_position(sim_host *h, rbuf *r, const char *path,
                          uint32_t *idx)
{
    const sim_scenario *s = h->s;
    uint32_t nsteps;
    uint64_t t, hash;

    *idx = get32(r);
    nsteps = get32(r);
    get32(r);
    t = get64(r);
    hash = get64(r);
    if (r->err)
        return false;
    if (hash != s->hash || nsteps != s->n_steps) {
        fprintf(stderr, "intc-sim: %s: saved from a different scenario "
                        "file than %s (refusing to resume)\n", path, s->file);
        return false;
    }
    if (*idx < 1 || *idx > s->n_steps || s->steps[*idx - 1].t_end != t) {
        fprintf(stderr, "intc-sim: %s: step %" PRIu32 " at %" PRIu64 " ns "
                        "does not match the scenario\n", path, *idx, t);
        return false;
    }
    h->now = t;
    return true;
}

/* Event totals and the event window. */
static bool body_events(sim_host *h, rbuf *r, const char *path)
{
    uint32_t ntypes = get32(r), nwin;

    if (ntypes != INTC_EV_COUNT_) {
        fprintf(stderr, "intc-sim: %s: written for a libintc with %" PRIu32
                        " event types (this one has %u)\n", path, ntypes,
                INTC_EV_COUNT_);
        return false;
    }
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        h->totals[i] = get64(r);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        h->wcount[i] = get64(r);
    nwin = get32(r);
    if (r->err || nwin > SIM_MAX_WINDOW_EVENTS ||
        nwin > (r->len - r->off) / 40)
        return (r->err = true), false;
    if (nwin && !(h->window = calloc(nwin, sizeof *h->window)))
        return (r->oom = true), false;
    h->cap_window = nwin;
    for (uint32_t i = 0; i < nwin; i++) {
        intc_event *ev = &h->window[i];
        uint32_t type = get32(r);
        if (type >= INTC_EV_COUNT_)
            return (r->err = true), false;
        ev->type = (intc_event_type)type;
        ev->cpu = get32(r);
        ev->vector = (int32_t)get32(r);
        ev->unit = get32(r);
        ev->pin = get32(r);
        ev->data = get64(r);
        ev->data2 = get64(r);
        get32(r);
        h->n_window++;
    }
    return !r->err;
}

static bool state_differs(const char *path)
{
    fprintf(stderr, "intc-sim: %s: memory regions or snapshot names "
                    "differ from the scenario's\n", path);
    return false;
}

/* Guest memory and named snapshots. */
static bool body_state(sim_host *h, rbuf *r, const char *path)
{
    const sim_scenario *s = h->s;
    uint32_t nreg = get32(r), nsnap;

    if (r->err)
        return false;
    if (nreg != s->n_regions)
        return state_differs(path);
    for (uint32_t i = 0; i < nreg; i++) {
        uint64_t a = get64(r), sz = get64(r);
        const uint8_t *p;
        if (r->err)
            return false;
        if (a != h->regions[i].addr || sz != h->regions[i].size)
            return state_differs(path);
        if (!(p = take(r, (size_t)sz)))
            return false;
        memcpy(h->regions[i].mem, p, (size_t)sz);
    }
    nsnap = get32(r);
    if (r->err)
        return false;
    if (nsnap != s->n_snap_names)
        return state_differs(path);
    for (uint32_t i = 0; i < nsnap; i++) {
        const uint8_t *v = take(r, 1), *p;
        uint64_t n = get64(r);
        if (!v || r->err || *v > 1 || n > r->len)
            return (r->err = true), false;
        if (!*v)
            continue;
        if (!(p = take(r, (size_t)n)))
            return false;
        if (!(h->snaps[i].img = malloc(n ? (size_t)n : 1)))
            return (r->oom = true), false;
        memcpy(h->snaps[i].img, p, (size_t)n);
        h->snaps[i].len = (size_t)n;
        h->snaps[i].valid = true;
    }
    return true;
}

/* Load a --resume file: returns an exit code; *next is the first step to
   run.  Every refusal of the file is exit 2 with its reason. */
static int resume_file(sim_host *h, size_t *next)
{
    const char *path = h->o->resume_path;
    uint8_t *buf = NULL;
    size_t len = 0;
    rbuf r;
    uint32_t idx;
    uint64_t ilen;
    int rc = read_save(path, &buf, &len);
    intc_err e;

    if (rc != SIM_EXIT_OK)
        return rc;
    rc = SIM_EXIT_MALFORMED;
    r = (rbuf){.p = buf, .len = len, .off = SAVE_HEADER};
    if (!check_header(path, buf, len))
        goto out;
    if (!body_position(h, &r, path, &idx) || !body_events(h, &r, path) ||
        !body_state(h, &r, path)) {
        if (r.oom) {
            fprintf(stderr, "intc-sim: %s: out of memory\n", path);
            rc = SIM_EXIT_HOST;
            goto out;
        }
        if (r.err)
            goto corrupt;
        goto out;
    }
    ilen = get64(&r);
    if (r.err || ilen != len - r.off)
        goto corrupt;
    e = load_image(h, r.p + r.off, (size_t)ilen);
    if (e != INTC_OK) {
        fprintf(stderr, "intc-sim: %s: the machine image does not load: "
                        "%s (%s): %s\n", path, intc_err_name(e),
                intc_strerror(e), intc_machine_errmsg(h->m));
        goto out;
    }
    *next = idx;
    rc = SIM_EXIT_OK;
    goto out;
corrupt:
    fprintf(stderr, "intc-sim: %s: truncated or corrupt save file body\n",
            path);
out:
    free(buf);
    return rc;
}

/* ---- the run ---- */

static int build(sim_host *h)
{
    const sim_scenario *s = h->s;
    intc_host_ops ops = {
        .version = INTC_HOST_OPS_VERSION,
        .kick = cb_kick,
        .now_ns = cb_now,
        .timer_arm = cb_timer_arm,
        .dma_read = cb_dma_read,
        .dma_write = cb_dma_write,
        .event = cb_event,
        .ioapic_timer_arm = cb_ioapic_timer_arm,
    };
    intc_err e = INTC_OK;

    h->n_cpus = s->cfg.n_cpus;
    h->n_slots = s->cfg.n_cpus + s->cfg.n_ioapics;
    h->deadline = malloc((size_t)h->n_slots * sizeof *h->deadline);
    h->heap = malloc((size_t)h->n_slots * sizeof *h->heap);
    h->pos = malloc((size_t)h->n_slots * sizeof *h->pos);
    h->regions = calloc(s->n_regions ? s->n_regions : 1,
                        sizeof *h->regions);
    h->snaps = calloc(s->n_snap_names ? s->n_snap_names : 1,
                      sizeof *h->snaps);
    h->dev = calloc(s->n_devices ? s->n_devices : 1, sizeof *h->dev);
    if (!h->deadline || !h->heap || !h->pos || !h->regions || !h->snaps ||
        !h->dev)
        goto nomem;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        h->deadline[i] = UINT64_MAX;
        h->pos[i] = NO_POS;
    }
    for (size_t i = 0; i < s->n_regions; i++) {
        h->regions[i] = s->regions[i];
        h->regions[i].mem = calloc(1, (size_t)s->regions[i].size);
        if (!h->regions[i].mem)
            goto nomem;
    }
    h->m = intc_machine_new(&s->cfg, &ops, h, &e);
    if (!h->m) {
        if (e == INTC_ERR_NOMEM)
            goto nomem;
        fprintf(stderr, "%s:%d:%d: error: machine: libintc refused the "
                        "configuration: %s (%s)\n", s->file, s->machine_line,
                s->machine_col, intc_err_name(e), intc_strerror(e));
        return SIM_EXIT_MALFORMED;
    }
    for (size_t i = 0; i < s->n_devices; i++) {
        const sim_device *d = &s->devices[i];
        if (d->is_msix)
            h->dev[i] = intc_msix_new(h->m, d->vectors, d->source_id, &e);
        else
            h->dev[i] = intc_msi_new(h->m, d->log2, d->addr64, d->mask,
                                     d->source_id, &e);
        if (!h->dev[i]) {
            if (e == INTC_ERR_NOMEM)
                goto nomem;
            fprintf(stderr, "%s:%d:%d: error: device '%s': libintc refused "
                            "it: %s\n", s->file, s->machine_line,
                    s->machine_col, d->name, intc_err_name(e));
            return SIM_EXIT_MALFORMED;
        }
    }
    return SIM_EXIT_OK;
nomem:
    fprintf(stderr, "intc-sim: out of memory\n");
    return SIM_EXIT_HOST;
}

static void teardown(sim_host *h)
{
    intc_machine_free(h->m); /* frees the MSI-X and MSI devices too */
    if (h->regions)
        for (size_t i = 0; i < h->s->n_regions; i++)
            free(h->regions[i].mem);
    if (h->snaps)
        for (size_t i = 0; i < h->s->n_snap_names; i++)
            free(h->snaps[i].img);
    free(h->snaps);
    free(h->regions);
    free(h->dev);
    free(h->deadline);
    free(h->heap);
    free(h->pos);
    free(h->window);
    free(h->items);
}

int sim_run(const sim_scenario *s, const sim_options *o)
{
    sim_host h = {.s = s, .o = o, .out = stdout};
    size_t first = 0, i, ran = 0;
    int rc;

    rc = build(&h);
    if (rc != SIM_EXIT_OK)
        goto out;
    if (o->resume_path) {
        rc = resume_file(&h, &first);
        if (rc != SIM_EXIT_OK)
            goto out;
        if (o->save_path && o->save_at < (long)first) {
            fprintf(stderr, "intc-sim: --save-at: step %ld is before the "
                            "resume point (step %zu)\n", o->save_at + 1,
                    first);
            rc = SIM_EXIT_MALFORMED;
            goto out;
        }
    }
    if (o->trace == TRACE_TEXT) {
        printf("# %s%s%s%s: %" PRIu32 " cpu%s, %zu steps\n", s->file,
               s->title ? " \"" : "", s->title ? s->title : "",
               s->title ? "\"" : "", s->cfg.n_cpus,
               s->cfg.n_cpus == 1 ? "" : "s", s->n_steps);
        if (o->resume_path)
            printf("# resumed after step %zu at %" PRIu64 " ns\n", first,
                   h.now);
    }
    if (o->vcd_path) {
        h.vcd = sim_vcd_open(o->vcd_path, h.m, h.now);
        if (!h.vcd) {
            fprintf(stderr, "intc-sim: %s: %s\n", o->vcd_path,
                    strerror(errno));
            rc = SIM_EXIT_HOST;
            goto out;
        }
    }
    for (i = first; i < s->n_steps; i++) {
        const sim_step *st = &s->steps[i];
        strbuf d = {0}, f = {0};

        h.n_items = h.items_lost = 0;
        advance_to(&h, st->t_action);
        do_step(&h, st, &d, &f);
        ran++;
        if (h.vcd)
            sim_vcd_sample(h.vcd, h.now);
        sim_trace_step(stdout, o->trace, i, st, st->t_action,
                       d.s ? d.s : "", h.items, h.n_items, h.items_lost);
        if (f.len || f.truncated) {
            const char *lines = f.s ? f.s : "";
            fprintf(stderr, "%s:%d: step %zu", s->file, st->line, i + 1);
            if (st->name)
                fprintf(stderr, " \"%s\"", st->name);
            fprintf(stderr, ": %s failed:\n%s%s", sim_action_name(st->action),
                    lines, f.truncated ? "  ...\n" : "");
            sim_trace_failure(stdout, o->trace, i, st,
                              sim_action_name(st->action), lines);
            free(d.s);
            free(f.s);
            rc = SIM_EXIT_FAIL;
            break;
        }
        free(d.s);
        free(f.s);
        if (o->save_path && (long)i == o->save_at) {
            rc = save_file(&h, i);
            if (rc != SIM_EXIT_OK)
                break;
            if (o->trace == TRACE_TEXT)
                printf("# saved after step %zu to %s\n", i + 1,
                       o->save_path);
        }
    }
    fflush(stdout);
    if (h.vcd && !sim_vcd_close(h.vcd)) {
        fprintf(stderr, "intc-sim: %s: write error\n", o->vcd_path);
        if (rc == SIM_EXIT_OK)
            rc = SIM_EXIT_HOST;
    }
    h.vcd = NULL;
    sim_trace_end(stdout, o->trace, rc, ran, h.now);
out:
    if (h.vcd)
        sim_vcd_close(h.vcd);
    teardown(&h);
    return rc;
}
