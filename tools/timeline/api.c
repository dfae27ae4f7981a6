/*
 * libintc timeline — the public C API (include/intc/timeline.h) over the
 * writer's own (timeline.h): what libintc-timeline.so exports.
 */
#include <errno.h>
#include <stdlib.h>

#include <intc/timeline.h>

#include "timeline.h"

struct intc_timeline {
    tl_trace *t;
};

intc_timeline *intc_timeline_new(uint32_t n_cpus, uint32_t max_items)
{
    intc_timeline *h = calloc(1, sizeof *h);

    if (!h)
        return NULL;
    h->t = tl_new(n_cpus, max_items);
    if (!h->t) {
        free(h);
        return NULL;
    }
    return h;
}

void intc_timeline_free(intc_timeline *t)
{
    if (!t)
        return;
    tl_free(t->t);
    free(t);
}

bool intc_timeline_set_title(intc_timeline *t, const char *title)
{
    return t && tl_set_title(t->t, title);
}

void intc_timeline_event(intc_timeline *t, uint64_t now_ns,
                         const intc_event *ev)
{
    if (t && ev)
        tl_event(t->t, now_ns, ev);
}

void intc_timeline_sample(intc_timeline *t, uint64_t now_ns, intc_machine *m)
{
    if (t && m)
        tl_sample_machine(t->t, now_ns, m);
}

void intc_timeline_cpu_regs(intc_timeline *t, uint64_t now_ns, uint32_t cpu,
                            uint8_t irr, uint8_t isr, uint8_t ppr)
{
    if (t)
        tl_cpu_regs(t->t, now_ns, cpu, irr, isr, ppr);
}

uint64_t intc_timeline_dropped(const intc_timeline *t)
{
    return t ? tl_dropped(t->t) : 0;
}

bool intc_timeline_save_perfetto(const intc_timeline *t, const char *path)
{
    if (!t || !path) {
        errno = EINVAL;
        return false;
    }
    errno = 0;
    return tl_save_perfetto(t->t, path);
}

bool intc_timeline_save_svg(const intc_timeline *t, const char *path)
{
    if (!t || !path) {
        errno = EINVAL;
        return false;
    }
    errno = 0;
    return tl_save_svg(t->t, path);
}

bool intc_timeline_write_perfetto(const intc_timeline *t, FILE *f)
{
    return t && f && tl_write_perfetto(t->t, f);
}

bool intc_timeline_write_svg(const intc_timeline *t, FILE *f)
{
    return t && f && tl_write_svg(t->t, f);
}
