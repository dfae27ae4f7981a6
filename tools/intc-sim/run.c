/*
 * intc-sim — the runner: the host is the testkit's (testkit/kit.h), the
 * machine, its devices and named snapshots a kit_rig (testkit/op.h);
 * every operation step runs through kit_exec (step.c), `expect` steps
 * are checked here, save files are save.c's.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- strings ---- */

#define STRBUF_MAX (256u << 10)

void sb_printf(strbuf *b, const char *fmt, ...)
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

void sim_vec_text(strbuf *b, const sim_vecset *v)
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

void sim_pending_text(strbuf *b, unsigned p)
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

/* ---- expectations ---- */

#define vec_text sim_vec_text
#define pending_text sim_pending_text

/* The events since the last event check, and their counts per type. */
static uint64_t wcount(const sim_host *h, int type)
{
    return h->k->totals[type] - h->wbase[type];
}

static void check_vecs(const sim_expect *e, intc_lapic *l, strbuf *f)
{
    static const char *const vr[VR_COUNT] = {"irr", "isr", "tmr"};
    static const uint32_t base[VR_COUNT] = {INTC_LAPIC_IRR0, INTC_LAPIC_ISR0,
                                            INTC_LAPIC_TMR0};

    for (int r = 0; r < VR_COUNT; r++) {
        sim_vecset got, bad;
        bool any = false;
        if (!e->has_exact[r] && !e->has_has[r] && !e->has_lacks[r])
            continue;
        sim_lapic_vec(l, base[r], &got);
        if (e->has_exact[r] && memcmp(&got, &e->exact[r], sizeof got) != 0) {
            sb_printf(f, "  cpu %" PRIu32 " %s: expected ", e->cpu, vr[r]);
            vec_text(f, &e->exact[r]);
            sb_printf(f, " got ");
            vec_text(f, &got);
            sb_printf(f, "\n");
        }
        for (int k = 0; k < 2; k++) {
            const sim_vecset *want = k ? &e->lacks[r] : &e->has[r];
            if (!(k ? e->has_lacks[r] : e->has_has[r]))
                continue;
            any = false;
            for (int w = 0; w < 4; w++)
                any |= (bad.w[w] = want->w[w] & (k ? got.w[w] : ~got.w[w])) != 0;
            if (!any)
                continue;
            sb_printf(f, "  cpu %" PRIu32 " %s_%s: %s ", e->cpu, vr[r],
                      k ? "lacks" : "has", k ? "present" : "missing");
            vec_text(f, &bad);
            sb_printf(f, " (got ");
            vec_text(f, &got);
            sb_printf(f, ")\n");
        }
    }
}

static void check_regs(const sim_expect *e, intc_lapic *l, strbuf *f)
{
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

static const char *tf(bool b)
{
    return b ? "true" : "false";
}

static void check_cpu(sim_host *h, const sim_expect *e, strbuf *f)
{
    intc_lapic *l = intc_machine_lapic(h->rig.m, e->cpu);

    check_vecs(e, l, f);
    if (e->has_ppr) {
        uint64_t v = 0;
        sim_lapic_read(l, INTC_LAPIC_PPR, &v);
        if (v != e->ppr)
            sb_printf(f, "  cpu %" PRIu32 " ppr: expected 0x%02x got "
                         "0x%02" PRIx64 "\n", e->cpu, e->ppr, v);
    }
    if (e->has_tpr && intc_lapic_get_tpr(l) != e->tpr)
        sb_printf(f, "  cpu %" PRIu32 " tpr: expected 0x%02x got 0x%02x\n",
                  e->cpu, e->tpr, intc_lapic_get_tpr(l));
    if (e->has_pending && intc_lapic_pending(l) != e->pending) {
        sb_printf(f, "  cpu %" PRIu32 " pending: expected ", e->cpu);
        pending_text(f, e->pending);
        sb_printf(f, " got ");
        pending_text(f, intc_lapic_pending(l));
        sb_printf(f, "\n");
    }
    if (e->has_wfs && intc_lapic_waiting_for_sipi(l) != e->wfs)
        sb_printf(f, "  cpu %" PRIu32 " waiting_for_sipi: expected %s got "
                     "%s\n", e->cpu, tf(e->wfs), tf(!e->wfs));
    check_regs(e, l, f);
}

static void check_pin(sim_host *h, const sim_expect *e, strbuf *f)
{
    intc_ioapic *io = intc_machine_ioapic(h->rig.m, e->ioapic);
    uint64_t rte = 0;

    intc_ioapic_rte(io, e->pin, &rte);
    if (e->has_remote_irr &&
        !!(rte & INTC_RTE_REMOTE_IRR) != e->remote_irr)
        sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32 " remote_irr: "
                     "expected %s got %s\n", e->ioapic, e->pin,
                  tf(e->remote_irr), tf(!e->remote_irr));
    if (e->has_delivs && !!(rte & INTC_RTE_DELIVS) != e->delivs)
        sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32
                     " delivery_status: expected %s got %s\n",
                  e->ioapic, e->pin, tf(e->delivs), tf(!e->delivs));
    if (e->has_line && intc_ioapic_line(io, e->pin) != e->line)
        sb_printf(f, "  ioapic %" PRIu32 " pin %" PRIu32 " line: expected "
                     "%s got %s\n", e->ioapic, e->pin, tf(e->line),
                  tf(!e->line));
}

static void check_msix(sim_host *h, const sim_expect *e, strbuf *f)
{
    intc_msix *x = h->rig.dev[e->msix_dev];
    const sim_device *d = &h->s->devices[e->msix_dev];
    const char *sep = "";
    bool bad = false;

    for (uint16_t v = 0; v < d->vectors; v++)
        if (intc_msix_pending(x, v) !=
            (bool)(e->msix_bits[v / 64] >> (v % 64) & 1))
            bad = true;
    if (!bad)
        return;
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

static void window_note(const sim_host *h, strbuf *f)
{
    sb_printf(f, ", not seen among %zu events", h->k->n_events);
    if (h->k->n_events_lost)
        sb_printf(f, " (%zu more not recorded)", h->k->n_events_lost);
    sb_printf(f, "\n");
}

static void check_events(sim_host *h, const sim_expect *e, strbuf *f)
{
    const intc_event *win = h->k->events;
    size_t n = h->k->n_events;

    for (size_t i = 0; i < e->n_events; i++) {
        const sim_pattern *p = &e->events[i];
        bool found = false;
        unsigned shown = 0;
        for (size_t j = 0; j < n && !found; j++)
            found = pat_match(p, &win[j]);
        if (found)
            continue;
        sb_printf(f, "  events: expected ");
        pat_text(f, p);
        sb_printf(f, " (line %d)", p->line);
        window_note(h, f);
        for (size_t j = 0; j < n && shown < 8; j++)
            if (!(p->fields & PAT_TYPE) || (int)win[j].type == p->type) {
                sb_printf(f, "    got ");
                ev_line(f, &win[j]);
                sb_printf(f, "\n");
                shown++;
            }
    }
}

/* events_in_order: the patterns match window events in this order
   (other events may come between them); the first pattern that finds no
   match after the previous one's is reported. */
static void check_in_order(sim_host *h, const sim_expect *e, strbuf *f)
{
    const intc_event *win = h->k->events;
    size_t n = h->k->n_events;

    for (size_t i = 0, j = 0; i < e->n_in_order; i++, j++) {
        const sim_pattern *p = &e->in_order[i];
        while (j < n && !pat_match(p, &win[j]))
            j++;
        if (j < n)
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
        window_note(h, f);
        break;
    }
}

static void check_counts(sim_host *h, const sim_expect *e, strbuf *f)
{
    for (size_t i = 0; i < e->n_no_events; i++) {
        const sim_pattern *p = &e->no_events[i];
        for (size_t j = 0; j < h->k->n_events; j++)
            if (pat_match(p, &h->k->events[j])) {
                sb_printf(f, "  no_events: ");
                pat_text(f, p);
                sb_printf(f, " (line %d) happened: ", p->line);
                ev_line(f, &h->k->events[j]);
                sb_printf(f, "\n");
                break;
            }
    }
    for (size_t i = 0; i < e->n_count; i++)
        if (wcount(h, e->count[i].type) != e->count[i].n)
            sb_printf(f, "  count %s: expected %" PRIu64 " got %" PRIu64 "\n",
                      intc_event_name(e->count[i].type), e->count[i].n,
                      wcount(h, e->count[i].type));
    for (size_t i = 0; i < e->n_total; i++)
        if (h->k->totals[e->total[i].type] != e->total[i].n)
            sb_printf(f, "  total %s: expected %" PRIu64 " got %" PRIu64 "\n",
                      intc_event_name(e->total[i].type), e->total[i].n,
                      h->k->totals[e->total[i].type]);
}

void sim_check_expect(sim_host *h, const sim_expect *e, strbuf *f)
{
    if (e->has_cpu_keys)
        check_cpu(h, e, f);
    if (e->has_pin)
        check_pin(h, e, f);
    if (e->has_msix)
        check_msix(h, e, f);
    check_events(h, e, f);
    check_in_order(h, e, f);
    check_counts(h, e, f);
    if (e->has_time && h->k->now != e->time)
        sb_printf(f, "  time: expected %" PRIu64 " ns got %" PRIu64 " ns\n",
                  e->time, h->k->now);
    if (e->has_events_key) {
        kit_clear_events(h->k);
        memcpy(h->wbase, h->k->totals, sizeof h->wbase);
    }
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

/* ---- the run ---- */

static void on_fired(void *ctx, bool ioapic, uint32_t index)
{
    sim_host *h = ctx;

    (void)ioapic;
    (void)index;
    if (h->vcd)
        sim_vcd_sample(h->vcd, h->k->now);
    if (h->tl)
        tl_sample_machine(h->tl, h->k->now, h->rig.m);
}

void sim_events_line(FILE *f, const intc_event *ev)
{
    fprintf(f, "%s cpu=%" PRIu32 " vector=%" PRId32 " unit=%" PRIu32
               " pin=%" PRIu32 " data=0x%" PRIx64 " data2=0x%" PRIx64 "\n",
            intc_event_name(ev->type), ev->cpu, ev->vector, ev->unit, ev->pin,
            ev->data, ev->data2);
}

bool sim_write_image(intc_machine *m, const char *path)
{
    intc_err e = INTC_OK;
    size_t len = 0;
    uint8_t *img = kit_save(m, &len, &e);
    FILE *f;
    bool ok;

    if (!img) {
        fprintf(stderr, "intc-sim: %s: intc_machine_save: %s\n", path,
                intc_err_name(e));
        return false;
    }
    f = fopen(path, "wb");
    ok = f && fwrite(img, 1, len, f) == len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
    free(img);
    return ok;
}

static void on_event(void *ctx, const intc_event *ev)
{
    sim_host *h = ctx;

    if (h->events)
        sim_events_line(h->events, ev);
    if (h->tl)
        tl_event(h->tl, h->k->now, ev);
}

static int nomem(void)
{
    fprintf(stderr, "intc-sim: out of memory\n");
    return SIM_EXIT_HOST;
}

/* The host: events, the step log, the fire budget, guest memory. */
static bool build_host(sim_host *h)
{
    const sim_scenario *s = h->s;

    h->k = kit_host_new(true);
    if (!h->k)
        return false;
    /* The callbacks an emulator without level resampling or APIC-base
       tracking gives: no eoi(), no apic_base_changed(). */
    h->k->ops.eoi = NULL;
    h->k->ops.apic_base_changed = NULL;
    h->k->max_events = SIM_MAX_WINDOW_EVENTS;
    h->k->max_fires = SIM_MAX_FIRES_PER_ADVANCE;
    if (s->max_fires && s->max_fires < h->k->max_fires)
        h->k->max_fires = s->max_fires;
    h->k->max_fires_total = SIM_MAX_FIRES_TOTAL;
    h->k->manual_timers = s->manual_timers;
    h->k->hooks.ctx = h;
    h->k->hooks.fired = on_fired;
    h->k->hooks.event = on_event;
    if (h->o->trace != TRACE_NONE)
        kit_log_enable(h->k, SIM_MAX_STEP_TRACE);
    for (size_t i = 0; i < s->n_regions; i++)
        if (!kit_region_add(h->k, s->regions[i].addr, s->regions[i].size))
            return false;
    h->devs = calloc(s->n_devices ? s->n_devices : 1, sizeof *h->devs);
    if (!h->devs)
        return false;
    for (size_t i = 0; i < s->n_devices; i++) {
        const sim_device *d = &s->devices[i];
        h->devs[i] = (kit_device){d->name, d->is_msix, d->vectors, d->log2,
                                  d->addr64, d->mask, d->source_id};
    }
    return true;
}

static int build(sim_host *h)
{
    const sim_scenario *s = h->s;
    size_t bad = 0;
    intc_err e;

    if (!build_host(h))
        return nomem();
    e = kit_rig_init(&h->rig, h->k, &s->cfg, h->devs, s->n_devices,
                     s->n_snap_names, &bad);
    h->rig.max_runlog = SIM_MAX_RUNLOG;
    if (e == INTC_OK)
        return SIM_EXIT_OK;
    if (e == INTC_ERR_NOMEM)
        return nomem();
    if (!h->rig.m)
        fprintf(stderr, "%s:%d:%d: error: machine: libintc refused the "
                        "configuration: %s (%s)\n", s->file, s->machine_line,
                s->machine_col, intc_err_name(e), intc_strerror(e));
    else
        fprintf(stderr, "%s:%d:%d: error: device '%s': libintc refused "
                        "it: %s\n", s->file, s->machine_line,
                s->machine_col, s->devices[bad].name, intc_err_name(e));
    return SIM_EXIT_MALFORMED;
}

static int rec_write(void *ctx, const void *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

static FILE *open_out(const char *path, const char *mode)
{
    FILE *f = fopen(path, mode);

    if (!f)
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
    return f;
}

/* --perfetto and --svg: the timeline, from the first step run on. */
static int start_timeline(sim_host *h)
{
    const sim_scenario *s = h->s;

    if (!h->o->perfetto_path && !h->o->svg_path)
        return SIM_EXIT_OK;
    h->tl = tl_new(s->cfg.n_cpus, 0);
    if (!h->tl || !tl_set_title(h->tl, s->title ? s->title : s->file))
        return nomem();
    tl_sample_machine(h->tl, h->k->now, h->rig.m);
    return SIM_EXIT_OK;
}

/* Write the timeline files of options o and free t; false (said) on
   error.  NULL t: nothing to write. */
bool sim_save_timeline(tl_trace *t, const sim_options *o)
{
    bool ok = true;

    if (!t)
        return true;
    if (o->perfetto_path && !tl_save_perfetto(t, o->perfetto_path)) {
        fprintf(stderr, "intc-sim: %s: %s\n", o->perfetto_path,
                strerror(errno));
        ok = false;
    }
    if (o->svg_path && !tl_save_svg(t, o->svg_path)) {
        fprintf(stderr, "intc-sim: %s: %s\n", o->svg_path, strerror(errno));
        ok = false;
    }
    if (tl_dropped(t))
        fprintf(stderr, "intc-sim: timeline full: %" PRIu64 " events left "
                        "out\n", tl_dropped(t));
    tl_free(t);
    return ok;
}

static bool end_timeline(sim_host *h)
{
    tl_trace *t = h->tl;

    h->tl = NULL;
    return sim_save_timeline(t, h->o);
}

/* --events and --record: from the first step run on (after --resume). */
static int start_outputs(sim_host *h)
{
    const sim_options *o = h->o;
    intc_err e;

    if (start_timeline(h) != SIM_EXIT_OK)
        return SIM_EXIT_HOST;
    if (o->events_path && !(h->events = open_out(o->events_path, "w")))
        return SIM_EXIT_HOST;
    if (!o->record_path)
        return SIM_EXIT_OK;
    if (!(h->rec = open_out(o->record_path, "wb")))
        return SIM_EXIT_HOST;
    e = intc_machine_record(h->rig.m, rec_write, h->rec);
    if (e == INTC_OK)
        return SIM_EXIT_OK;
    fprintf(stderr, "intc-sim: %s: intc_machine_record: %s\n",
            o->record_path, intc_err_name(e));
    return e == INTC_ERR_NOMEM || e == INTC_ERR_IO ? SIM_EXIT_HOST
                                                   : SIM_EXIT_MALFORMED;
}

/* Write --final-image, close --record (its end record) and --events;
   rc is the run's exit code, returned unless an output failed.  The
   image is taken while still recording: a save folds posted vectors,
   and the replay must fold them too. */
static int end_outputs(sim_host *h, int rc)
{
    const sim_options *o = h->o;
    bool ok = true;

    if (o->final_image && h->rig.m && rc != SIM_EXIT_MALFORMED &&
        !sim_write_image(h->rig.m, o->final_image))
        ok = false;
    if (h->rec) {
        ok = intc_machine_record(h->rig.m, NULL, NULL) == INTC_OK &&
             intc_machine_recording(h->rig.m) == 0;
        ok = fclose(h->rec) == 0 && ok;
        h->rec = NULL;
        if (!ok)
            fprintf(stderr, "intc-sim: %s: write error\n", o->record_path);
    }
    if (!end_timeline(h))
        ok = false;
    if (h->events) {
        if (fclose(h->events) != 0) {
            fprintf(stderr, "intc-sim: %s: write error\n", o->events_path);
            ok = false;
        }
        h->events = NULL;
    }
    return ok || rc != SIM_EXIT_OK ? rc : SIM_EXIT_HOST;
}

static void teardown(sim_host *h)
{
    kit_rig_fini(&h->rig);
    kit_result_free(&h->res);
    kit_host_free(h->k);
    free(h->devs);
}

/* Resume, header line, VCD: an exit code; *first is the first step. */
static int start(sim_host *h, size_t *first)
{
    const sim_scenario *s = h->s;
    const sim_options *o = h->o;
    int rc;

    if (o->resume_path) {
        rc = sim_resume_file(h, first);
        if (rc != SIM_EXIT_OK)
            return rc;
        if (o->save_path && o->save_at < (long)*first) {
            fprintf(stderr, "intc-sim: --save-at: step %ld is before the "
                            "resume point (step %zu)\n", o->save_at + 1,
                    *first);
            return SIM_EXIT_MALFORMED;
        }
    }
    if (o->trace == TRACE_TEXT) {
        printf("# %s%s%s%s: %" PRIu32 " cpu%s, %zu steps\n", s->file,
               s->title ? " \"" : "", s->title ? s->title : "",
               s->title ? "\"" : "", s->cfg.n_cpus,
               s->cfg.n_cpus == 1 ? "" : "s", s->n_steps);
        if (o->resume_path)
            printf("# resumed after step %zu at %" PRIu64 " ns\n", *first,
                   h->k->now);
    }
    if (o->vcd_path) {
        h->vcd = sim_vcd_open(o->vcd_path, h->rig.m, h->k->now);
        if (!h->vcd) {
            fprintf(stderr, "intc-sim: %s: %s\n", o->vcd_path,
                    strerror(errno));
            return SIM_EXIT_HOST;
        }
    }
    return SIM_EXIT_OK;
}

/* One step: time, action, trace; an exit code (FAIL: an expectation). */
static int run_step(sim_host *h, size_t i)
{
    const sim_scenario *s = h->s;
    const sim_step *st = &s->steps[i];
    strbuf d = {0}, f = {0};
    unsigned long c = h->k->n_coalesced;
    int rc = SIM_EXIT_OK;

    kit_clear_log(h->k);
    kit_advance_to(h->k, st->t_action);
    sim_coalesce_note(h, c);
    if (st->action == SIM_ACT_EXPECT) {
        sb_printf(&d, "expect");
        sim_check_expect(h, st->exp, &f);
    } else {
        sim_do_op(h, st, &d, &f);
    }
    if (h->vcd)
        sim_vcd_sample(h->vcd, h->k->now);
    if (h->tl)
        tl_sample_machine(h->tl, h->k->now, h->rig.m);
    sim_trace_step(stdout, h->o->trace, i, st, st->t_action, d.s ? d.s : "",
                   h->k->log, h->k->n_log, h->k->n_log_lost);
    if (f.len || f.truncated) {
        const char *lines = f.s ? f.s : "";
        fprintf(stderr, "%s:%d: step %zu", s->file, st->line, i + 1);
        if (st->name)
            fprintf(stderr, " \"%s\"", st->name);
        fprintf(stderr, ": %s failed:\n%s%s", sim_action_name(st->action),
                lines, f.truncated ? "  ...\n" : "");
        sim_trace_failure(stdout, h->o->trace, i, st,
                          sim_action_name(st->action), lines);
        rc = SIM_EXIT_FAIL;
    }
    free(d.s);
    free(f.s);
    return rc;
}

int sim_run(const sim_scenario *s, const sim_options *o)
{
    sim_host h = {.s = s, .o = o, .out = stdout};
    size_t first = 0, i, ran = 0;
    int rc = build(&h);

    if (rc == SIM_EXIT_OK)
        rc = start(&h, &first);
    if (rc == SIM_EXIT_OK)
        rc = start_outputs(&h);
    if (rc != SIM_EXIT_OK)
        goto out;
    for (i = first; i < s->n_steps && rc == SIM_EXIT_OK; i++) {
        rc = run_step(&h, i);
        ran++;
        if (rc != SIM_EXIT_OK || !o->save_path || (long)i != o->save_at)
            continue;
        rc = sim_save_file(&h, i);
        if (rc == SIM_EXIT_OK && o->trace == TRACE_TEXT)
            printf("# saved after step %zu to %s\n", i + 1, o->save_path);
    }
    fflush(stdout);
    if (h.vcd && !sim_vcd_close(h.vcd)) {
        fprintf(stderr, "intc-sim: %s: write error\n", o->vcd_path);
        if (rc == SIM_EXIT_OK)
            rc = SIM_EXIT_HOST;
    }
    h.vcd = NULL;
    sim_trace_end(stdout, o->trace, rc, ran, h.k->now);
out:
    rc = end_outputs(&h, rc);
    if (h.vcd)
        sim_vcd_close(h.vcd);
    teardown(&h);
    return rc;
}
