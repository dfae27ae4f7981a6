/*
 * libintc timeline — building the model from events (tl_priv.h).
 */
#include "tl_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

tl_trace *tl_new(uint32_t n_cpus, uint32_t max_items)
{
    tl_trace *t;

    if (n_cpus == 0)
        return NULL;
    t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n_cpus = n_cpus;
    t->max_items = max_items ? max_items : TL_DEFAULT_MAX_ITEMS;
    t->pin_send = TL_NONE;
    t->cap_lanes = n_cpus + 16;
    t->lanes = calloc(t->cap_lanes, sizeof *t->lanes);
    t->regs = calloc(n_cpus, sizeof *t->regs);
    t->cpus = calloc(n_cpus, sizeof *t->cpus);
    if (!t->lanes || !t->regs || !t->cpus) {
        tl_free(t);
        return NULL;
    }
    for (uint32_t i = 0; i < n_cpus; i++)
        t->lanes[i] = (tl_lane){TL_LANE_CPU, i, 0, TL_NONE, -1, false};
    t->n_lanes = n_cpus;
    return t;
}

void tl_free(tl_trace *t)
{
    if (!t)
        return;
    if (t->cpus)
        for (uint32_t i = 0; i < t->n_cpus; i++)
            free(t->cpus[i]);
    free(t->cpus);
    free(t->regs);
    free(t->lanes);
    free(t->items);
    free(t->title);
    free(t);
}

bool tl_set_title(tl_trace *t, const char *title)
{
    char *c = NULL;

    if (title) {
        c = malloc(strlen(title) + 1);
        if (!c)
            return false;
        strcpy(c, title);
    }
    free(t->title);
    t->title = c;
    return true;
}

uint64_t tl_dropped(const tl_trace *t)
{
    return t->dropped;
}

/* ---- items and lanes ---- */

/* Room for n more items; false (and the event counted as dropped) when
   the trace is full or memory ran out. */
static bool reserve(tl_trace *t, uint32_t n)
{
    uint32_t cap = t->cap ? t->cap : 1024;
    tl_item *p;

    if (t->n + n <= t->cap)
        return true;
    if (t->n + n > t->max_items) {
        t->dropped++;
        return false;
    }
    while (cap < t->n + n)
        cap = cap > t->max_items / 2 ? t->max_items : cap * 2;
    p = realloc(t->items, (size_t)cap * sizeof *p);
    if (!p) {
        t->dropped++;
        return false;
    }
    t->items = p;
    t->cap = cap;
    return true;
}

static uint32_t add(tl_trace *t, uint64_t time, uint64_t vt, uint32_t lane,
                    uint8_t kind, const intc_event *ev)
{
    tl_item *it = &t->items[t->n];

    memset(it, 0, sizeof *it);
    it->t = time;
    it->vt = vt;
    it->lane = lane;
    it->kind = kind;
    it->link = TL_NONE;
    if (ev)
        it->ev = *ev;
    t->lanes[lane].used = true;
    return t->n++;
}

/* The lane of kind k (a, b), created on first use; the machine lane when
   there are too many. */
static uint32_t lane_of(tl_trace *t, uint8_t k, uint32_t a, uint32_t b)
{
    tl_lane *p;

    if (k == TL_LANE_CPU)
        return a < t->n_cpus ? a : lane_of(t, TL_LANE_MACHINE, 0, 0);
    for (uint32_t i = t->n_cpus; i < t->n_lanes; i++)
        if (t->lanes[i].kind == k && t->lanes[i].a == a &&
            t->lanes[i].b == b)
            return i;
    if (t->n_lanes - t->n_cpus >= TL_MAX_LANES && k != TL_LANE_MACHINE)
        return lane_of(t, TL_LANE_MACHINE, 0, 0);
    if (t->n_lanes == t->cap_lanes) {
        p = realloc(t->lanes, (size_t)(t->cap_lanes * 2) * sizeof *p);
        if (!p)
            return 0; /* CPU 0's lane: wrong but safe */
        t->lanes = p;
        t->cap_lanes *= 2;
    }
    t->lanes[t->n_lanes] = (tl_lane){k, a, b, TL_NONE, -1, false};
    return t->n_lanes++;
}

static tl_cpu *cpu_state(tl_trace *t, uint32_t cpu)
{
    if (cpu >= t->n_cpus)
        return NULL;
    if (!t->cpus[cpu])
        t->cpus[cpu] = calloc(1, sizeof(tl_cpu));
    return t->cpus[cpu];
}

/* ---- events ---- */

static bool is_pin_event(intc_event_type ty)
{
    return ty == INTC_EV_IOAPIC_SEND || ty == INTC_EV_IOAPIC_LINE ||
           ty == INTC_EV_IOAPIC_MASKED || ty == INTC_EV_REMOTE_IRR ||
           ty == INTC_EV_POLARITY_MISMATCH || ty == INTC_EV_STORM ||
           ty == INTC_EV_RESAMPLE || ty == INTC_EV_TRIGGER_MISMATCH;
}

static bool is_source_event(intc_event_type ty)
{
    return ty == INTC_EV_MSI || ty == INTC_EV_MSI_DROPPED ||
           ty == INTC_EV_IR_REMAPPED || ty == INTC_EV_IR_FAULT ||
           ty == INTC_EV_IR_POSTED;
}

/* Where an event's mark (or send) goes. */
static uint32_t event_lane(tl_trace *t, const intc_event *ev)
{
    intc_event_type ty = ev->type;

    if (is_pin_event(ty))
        return lane_of(t, TL_LANE_PIN, ev->unit, ev->pin);
    if (is_source_event(ty))
        return lane_of(t, TL_LANE_SRC, ev->pin, 0);
    if (ty == INTC_EV_IR_INVALIDATE || ty == INTC_EV_IR_QUEUE_ERROR ||
        ty == INTC_EV_IR_STATUS)
        return lane_of(t, TL_LANE_IOMMU, 0, 0);
    if (ty == INTC_EV_MSIX_PENDING || ty == INTC_EV_IOAPIC_EOI ||
        ev->cpu == INTC_NO_CPU || ev->cpu >= t->n_cpus)
        return lane_of(t, TL_LANE_MACHINE, 0, 0);
    return ev->cpu;
}

/* Close CPU c's open spans down to (and including) position k. */
static void close_spans(tl_trace *t, tl_cpu *c, uint32_t k, uint64_t time,
                        uint64_t vt, const intc_event *ev)
{
    while (c->depth > k) {
        uint32_t b = c->open[--c->depth];
        uint32_t e = add(t, time, vt, t->items[b].lane, TL_END, ev);
        t->items[e].what = TL_SPAN_IRQ;
        t->items[e].link = b;
        t->items[b].link = e;
    }
}

static void on_ack(tl_trace *t, uint64_t time, uint64_t vt,
                   const intc_event *ev)
{
    tl_cpu *c = cpu_state(t, ev->cpu);
    uint32_t b, v = (uint32_t)ev->vector & 0xff;

    if (!c || c->depth == 256) {
        add(t, time, vt, event_lane(t, ev), TL_MARK, ev);
        return;
    }
    b = add(t, time, vt, ev->cpu, TL_BEGIN, ev);
    t->items[b].what = TL_SPAN_IRQ;
    t->items[b].value = c->depth;
    c->open[c->depth++] = b;
    if (c->pending[v]) {
        uint32_t r = add(t, time, vt, ev->cpu, TL_RECV, ev);
        t->items[r].link = c->pending[v] - 1;
        c->pending[v] = 0;
    }
}

/* EOI: closes the span of its vector (and any opened after it, which
   an out-of-order state, e.g. after a snapshot restore, can leave). */
static void on_eoi(tl_trace *t, uint64_t time, uint64_t vt,
                   const intc_event *ev)
{
    tl_cpu *c = ev->cpu < t->n_cpus ? t->cpus[ev->cpu] : NULL;

    if (c && ev->vector >= 0)
        for (uint32_t k = c->depth; k-- > 0;)
            if (t->items[c->open[k]].ev.vector == ev->vector) {
                close_spans(t, c, k, time, vt, ev);
                return;
            }
    add(t, time, vt, event_lane(t, ev), TL_MARK, ev);
}

static void on_remote_irr(tl_trace *t, uint64_t time, uint64_t vt,
                          const intc_event *ev)
{
    uint32_t l = event_lane(t, ev), i;
    tl_lane *p = &t->lanes[l];

    if (ev->data && p->open == TL_NONE) {
        i = add(t, time, vt, l, TL_BEGIN, ev);
        t->items[i].what = TL_SPAN_RIRR;
        t->lanes[l].open = i;
    } else if (!ev->data && p->open != TL_NONE) {
        i = add(t, time, vt, l, TL_END, ev);
        t->items[i].what = TL_SPAN_RIRR;
        t->items[i].link = p->open;
        t->items[p->open].link = i;
        p->open = TL_NONE;
    } else {
        add(t, time, vt, l, TL_MARK, ev);
    }
}

static void on_line(tl_trace *t, uint64_t time, uint64_t vt,
                    const intc_event *ev)
{
    uint32_t l = event_lane(t, ev), i;
    int level = ev->data != 0;

    if (t->lanes[l].level == level)
        return;
    i = add(t, time, vt, l, TL_CTR, ev);
    t->items[i].what = TL_CTR_LEVEL;
    t->items[i].value = level;
    t->lanes[l].level = level;
}

/* A sender's event: link the receivers whose IRR it set (reported just
   before it) to its SEND item. */
static void on_send(tl_trace *t, uint64_t time, uint64_t vt,
                    const intc_event *ev)
{
    uint32_t s;

    if (ev->type == INTC_EV_IOAPIC_SEND) {
        t->pin_send = add(t, time, vt, event_lane(t, ev), TL_SEND, ev);
        t->n_unclaimed = 0;
        return;
    }
    if (t->pin_send != TL_NONE)
        s = t->pin_send; /* the IOAPIC's message: the pin sent it */
    else
        s = add(t, time, vt, event_lane(t, ev), TL_SEND, ev);
    for (uint32_t i = 0; i < t->n_unclaimed; i++) {
        tl_cpu *c = cpu_state(t, t->unclaimed[i].cpu);
        if (c && t->unclaimed[i].vector == ev->vector)
            c->pending[ev->vector & 0xff] = s + 1;
    }
    t->n_unclaimed = 0;
    t->pin_send = TL_NONE;
}

static void on_irr_set(tl_trace *t, uint64_t time, uint64_t vt,
                       const intc_event *ev)
{
    if (t->n_unclaimed && t->unclaimed_vt != vt)
        t->n_unclaimed = 0;
    if (t->n_unclaimed < TL_MAX_UNCLAIMED && ev->vector >= 0) {
        t->unclaimed[t->n_unclaimed++] =
            (tl_recv){ev->cpu, ev->vector & 0xff};
        t->unclaimed_vt = vt;
    }
    add(t, time, vt, event_lane(t, ev), TL_MARK, ev);
}

/* How many items an event may add: an EOI closes up to 256 spans. */
static uint32_t items_needed(const intc_event *ev)
{
    return ev->type == INTC_EV_EOI || ev->type == INTC_EV_INIT_RESET
               ? 257
               : 2;
}

static void dispatch(tl_trace *t, uint64_t time, uint64_t vt,
                     const intc_event *ev)
{
    switch (ev->type) {
    case INTC_EV_IRR_SET: on_irr_set(t, time, vt, ev); return;
    case INTC_EV_ACK: on_ack(t, time, vt, ev); return;
    case INTC_EV_EOI: on_eoi(t, time, vt, ev); return;
    case INTC_EV_REMOTE_IRR: on_remote_irr(t, time, vt, ev); return;
    case INTC_EV_IOAPIC_LINE: on_line(t, time, vt, ev); return;
    case INTC_EV_IPI:
    case INTC_EV_MSI:
    case INTC_EV_IR_REMAPPED:
    case INTC_EV_IOAPIC_SEND: on_send(t, time, vt, ev); return;
    case INTC_EV_INIT_RESET:
        if (ev->cpu < t->n_cpus && t->cpus[ev->cpu])
            close_spans(t, t->cpus[ev->cpu], 0, time, vt, ev);
        break;
    default: break;
    }
    add(t, time, vt, event_lane(t, ev), TL_MARK, ev);
}

void tl_event(tl_trace *t, uint64_t now_ns, const intc_event *ev)
{
    uint64_t time = now_ns;

    if ((unsigned)ev->type >= INTC_EV_COUNT_)
        return;
    if (!reserve(t, items_needed(ev)))
        return;
    if (t->have_t && time <= t->last_t)
        time = t->last_t + 1;
    t->last_t = time;
    t->have_t = true;
    if (ev->type != INTC_EV_IRR_SET && ev->type != INTC_EV_COALESCED &&
        ev->type != INTC_EV_IPI && ev->type != INTC_EV_MSI &&
        ev->type != INTC_EV_IR_REMAPPED &&
        ev->type != INTC_EV_IOAPIC_SEND) {
        t->n_unclaimed = 0;
        t->pin_send = TL_NONE;
    }
    dispatch(t, time, now_ns, ev);
}

/* ---- counters ---- */

void tl_cpu_regs(tl_trace *t, uint64_t now_ns, uint32_t cpu, uint8_t irr,
                 uint8_t isr, uint8_t ppr)
{
    uint8_t *r, v[3] = {irr, isr, ppr};
    uint64_t time = now_ns;

    if (cpu >= t->n_cpus)
        return;
    r = t->regs[cpu];
    if (r[3] && r[0] == irr && r[1] == isr && r[2] == ppr)
        return;
    if (!reserve(t, 3))
        return;
    if (t->have_t && time < t->last_t)
        time = t->last_t;
    t->last_t = time;
    t->have_t = true;
    for (uint8_t k = 0; k < 3; k++) {
        uint32_t i;
        if (r[3] && r[k] == v[k])
            continue;
        i = add(t, time, now_ns, cpu, TL_CTR, NULL);
        t->items[i].what = k;
        t->items[i].value = v[k];
        r[k] = v[k];
    }
    r[3] = 1;
}

static bool lapic_x2(intc_lapic *l)
{
    uint64_t base = 0;

    if (intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base) != INTC_OK)
        return false;
    return (base & INTC_APIC_BASE_EN) && (base & INTC_APIC_BASE_EXTD);
}

/* The highest vector set in the 256-bit register at base (0 if none). */
static uint8_t highest(intc_lapic *l, bool x2, uint32_t base)
{
    for (int i = 7; i >= 0; i--) {
        uint32_t off = base + 0x10u * (uint32_t)i;
        uint64_t v = 0;
        intc_err e = x2 ? intc_lapic_msr_read(l, 0x800u + (off >> 4), &v)
                        : intc_lapic_mmio_read(l, off, 4, &v);
        v &= 0xffffffffu;
        if (e == INTC_OK && v)
            for (int b = 31; b >= 0; b--)
                if (v >> b & 1)
                    return (uint8_t)(32 * i + b);
    }
    return 0;
}

void tl_sample_lapic(tl_trace *t, uint64_t now_ns, intc_lapic *l)
{
    bool x2 = lapic_x2(l);
    uint64_t ppr = 0;
    intc_err e;

    e = x2 ? intc_lapic_msr_read(l, 0x800u + (INTC_LAPIC_PPR >> 4), &ppr)
           : intc_lapic_mmio_read(l, INTC_LAPIC_PPR, 4, &ppr);
    if (e != INTC_OK)
        ppr = 0;
    tl_cpu_regs(t, now_ns, intc_lapic_cpu(l),
                highest(l, x2, INTC_LAPIC_IRR0),
                highest(l, x2, INTC_LAPIC_ISR0), (uint8_t)ppr);
}

void tl_sample_machine(tl_trace *t, uint64_t now_ns, intc_machine *m)
{
    uint32_t n = intc_machine_cpu_count(m);

    for (uint32_t c = 0; c < n; c++)
        tl_sample_lapic(t, now_ns, intc_machine_lapic(m, c));
}

/* ---- shared by the writers ---- */

static int lane_cmp(const tl_lane *x, const tl_lane *y)
{
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->a != y->a)
        return x->a < y->a ? -1 : 1;
    if (x->b != y->b)
        return x->b < y->b ? -1 : 1;
    return 0;
}

void tl_lane_order(const tl_trace *t, uint32_t *order)
{
    /* Insertion sort of the non-CPU lanes (at most TL_MAX_LANES + 1). */
    for (uint32_t i = 0; i < t->n_lanes; i++) {
        uint32_t j = i;
        while (j > t->n_cpus &&
               lane_cmp(&t->lanes[order[j - 1]], &t->lanes[i]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
}

void tl_lane_name(const tl_trace *t, uint32_t lane, char *buf, size_t len)
{
    const tl_lane *l = &t->lanes[lane];

    switch (l->kind) {
    case TL_LANE_CPU: snprintf(buf, len, "CPU %" PRIu32, l->a); break;
    case TL_LANE_PIN:
        snprintf(buf, len, "IOAPIC %" PRIu32 " pin %" PRIu32, l->a, l->b);
        break;
    case TL_LANE_SRC:
        snprintf(buf, len, "source 0x%04" PRIx32, l->a);
        break;
    case TL_LANE_IOMMU: snprintf(buf, len, "IOMMU"); break;
    default: snprintf(buf, len, "machine"); break;
    }
}

uint64_t tl_end_time(const tl_trace *t)
{
    return t->n ? t->items[t->n - 1].t + 1 : 0;
}

void tl_send_label(const tl_item *it, char *buf, size_t len)
{
    const char *what = "MSI";
    uint32_t v = (uint32_t)it->ev.vector & 0xff;

    if (it->ev.type == INTC_EV_IPI)
        what = "IPI";
    else if (it->ev.type == INTC_EV_IOAPIC_SEND)
        what = it->ev.data2 ? "resend" : "send";
    else if (it->ev.type == INTC_EV_IR_REMAPPED)
        what = "remapped";
    snprintf(buf, len, "%s 0x%02" PRIx32, what, v);
}

bool tl_save_perfetto(const tl_trace *t, const char *path)
{
    FILE *f = fopen(path, "w");
    bool ok;

    if (!f)
        return false;
    ok = tl_write_perfetto(t, f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok && !errno)
        errno = EIO;
    return ok;
}

bool tl_save_svg(const tl_trace *t, const char *path)
{
    FILE *f = fopen(path, "w");
    bool ok;

    if (!f)
        return false;
    ok = tl_write_svg(t, f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok && !errno)
        errno = EIO;
    return ok;
}
