/*
 * libintc timeline — the Chrome trace-event JSON writer ("JSON Object
 * Format": {"traceEvents": [...], "displayTimeUnit": "ns"}), which
 * ui.perfetto.dev and chrome://tracing open.  docs/traces.md has the
 * mapping; in short:
 *
 *   pid 1 "CPUs"         a thread per CPU ("CPU n"): interrupts as B/E
 *                        slices from INTA to EOI, IPIs sent as 1 ns X
 *                        slices, other events as instants; counters
 *                        "CPU n IRR" / "ISR" (highest vector, 0 none)
 *                        and "CPU n PPR"
 *   pid 2 "IOAPIC pins"  a thread per pin that appears: messages sent,
 *                        Remote IRR as B/E slices; counter
 *                        "IOAPIC u pin p level" (1 asserted)
 *   pid 3 "devices"      a thread per MSI source-id, "IOMMU",
 *                        "machine": MSIs sent, IR faults (instants)...
 *
 * Flows (v1: "s" in the sender's slice, "f" bound to the receiver's
 * interrupt slice) join a message to each INTA that took it.
 */
#include "tl_priv.h"

#include <inttypes.h>
#include <stdlib.h>

static unsigned lane_pid(const tl_trace *t, uint32_t lane)
{
    switch (t->lanes[lane].kind) {
    case TL_LANE_CPU: return 1;
    case TL_LANE_PIN: return 2;
    default: return 3;
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* "ph", "ts", "pid", "tid" of an event on lane (tid: position + 1). */
static void head(FILE *f, const tl_trace *t, const uint32_t *tid,
                 char ph, uint64_t ns, uint32_t lane)
{
    fprintf(f, ",\n{\"ph\":\"%c\",\"ts\":%" PRIu64 ".%03u,\"pid\":%u,"
               "\"tid\":%" PRIu32, ph, ns / 1000, (unsigned)(ns % 1000),
            lane_pid(t, lane), tid[lane]);
}

static void meta(FILE *f, const tl_trace *t, const uint32_t *order,
                 const uint32_t *tid)
{
    static const char *const procs[3] = {"CPUs", "IOAPIC pins", "devices"};
    char name[64];

    fputs("{\"traceEvents\":[\n", f);
    fputs("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\","
          "\"args\":{\"name\":\"CPUs\"}}", f);
    for (unsigned p = 1; p <= 3; p++) {
        if (p > 1)
            fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":0,\"name\":"
                       "\"process_name\",\"args\":{\"name\":\"%s\"}}",
                    p, procs[p - 1]);
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":0,\"name\":"
                   "\"process_sort_index\",\"args\":{\"sort_index\":%u}}",
                p, p);
    }
    for (uint32_t i = 0; i < t->n_lanes; i++) {
        uint32_t l = order[i];
        tl_lane_name(t, l, name, sizeof name);
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%" PRIu32
                   ",\"name\":\"thread_name\",\"args\":{\"name\":\"%s\"}}",
                lane_pid(t, l), tid[l], name);
        fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%u,\"tid\":%" PRIu32
                   ",\"name\":\"thread_sort_index\",\"args\":"
                   "{\"sort_index\":%" PRIu32 "}}",
                lane_pid(t, l), tid[l], i);
    }
}

/* An event's fields as args. */
static void ev_args(FILE *f, const tl_item *it)
{
    const intc_event *ev = &it->ev;

    fprintf(f, ",\"args\":{\"event\":\"%s\",\"virtual_ns\":%" PRIu64,
            intc_event_name(ev->type), it->vt);
    if (ev->cpu != INTC_NO_CPU)
        fprintf(f, ",\"cpu\":%" PRIu32, ev->cpu);
    if (ev->vector >= 0)
        fprintf(f, ",\"vector\":\"0x%02" PRIx32 "\"", (uint32_t)ev->vector);
    fprintf(f, ",\"unit\":%" PRIu32 ",\"pin\":%" PRIu32 ",\"data\":\"0x%"
               PRIx64 "\",\"data2\":\"0x%" PRIx64 "\"}}",
            ev->unit, ev->pin, ev->data, ev->data2);
}

static void span_name(FILE *f, const tl_item *it)
{
    uint32_t v = (uint32_t)it->ev.vector & 0xff;

    if (it->what == TL_SPAN_RIRR)
        fprintf(f, ",\"cat\":\"ioapic\",\"name\":\"Remote IRR 0x%02" PRIx32
                   "\"", v);
    else
        fprintf(f, ",\"cat\":\"interrupt\",\"name\":\"vector 0x%02" PRIx32
                   "\"", v);
}

static void counter(FILE *f, const tl_trace *t, const tl_item *it)
{
    static const char *const what[4] = {"IRR", "ISR", "PPR", "level"};
    char name[64];

    tl_lane_name(t, it->lane, name, sizeof name);
    fprintf(f, ",\"name\":\"%s %s\",\"args\":{\"value\":%" PRId64 "}}",
            name, what[it->what & 3], it->value);
}

static void mark(FILE *f, const tl_item *it)
{
    fputs(",\"s\":\"t\",\"cat\":\"event\",\"name\":", f);
    if (it->ev.type == INTC_EV_IR_FAULT)
        fprintf(f, "\"IR fault 0x%02" PRIx64 "\"", it->ev.data & 0xff);
    else
        json_str(f, intc_event_name(it->ev.type));
    ev_args(f, it);
}

/* The flow from the SEND to this RECV: "s" in the sender's slice, "f"
   in the receiver's (bound to the enclosing slice, "bp":"e"). */
static void flow(FILE *f, const tl_trace *t, const uint32_t *tid,
                 uint32_t i)
{
    const tl_item *r = &t->items[i], *s = &t->items[r->link];

    head(f, t, tid, 's', s->t, s->lane);
    fprintf(f, ",\"cat\":\"flow\",\"name\":\"interrupt\",\"id\":%" PRIu32
               "}", i);
    head(f, t, tid, 'f', r->t, r->lane);
    fprintf(f, ",\"bp\":\"e\",\"cat\":\"flow\",\"name\":\"interrupt\","
               "\"id\":%" PRIu32 "}", i);
}

static void item(FILE *f, const tl_trace *t, const uint32_t *tid,
                 uint32_t i)
{
    const tl_item *it = &t->items[i];
    char label[32];

    if (it->kind == TL_RECV) {
        flow(f, t, tid, i);
        return;
    }
    head(f, t, tid, "BEXXiC"[it->kind], it->t, it->lane);
    switch (it->kind) {
    case TL_BEGIN:
        span_name(f, it);
        ev_args(f, it);
        break;
    case TL_END: span_name(f, it); fputc('}', f); break;
    case TL_SEND:
        tl_send_label(it, label, sizeof label);
        fprintf(f, ",\"dur\":0.001,\"cat\":\"message\",\"name\":\"%s\"",
                label);
        ev_args(f, it);
        break;
    case TL_MARK: mark(f, it); break;
    default: counter(f, t, it); break;
    }
}

/* Spans still open at the end close there, innermost first. */
static void close_open(FILE *f, const tl_trace *t, const uint32_t *tid)
{
    uint64_t end = tl_end_time(t);

    for (uint32_t i = t->n; i-- > 0;) {
        const tl_item *it = &t->items[i];
        if (it->kind != TL_BEGIN || it->link != TL_NONE)
            continue;
        head(f, t, tid, 'E', end, it->lane);
        span_name(f, it);
        fputs(",\"args\":{\"open\":true}}", f);
    }
}

bool tl_write_perfetto(const tl_trace *t, FILE *f)
{
    uint32_t *order = malloc((size_t)t->n_lanes * sizeof *order);
    uint32_t *tid = malloc((size_t)t->n_lanes * sizeof *tid);

    if (!order || !tid) {
        free(order);
        free(tid);
        return false;
    }
    tl_lane_order(t, order);
    for (uint32_t i = 0; i < t->n_lanes; i++)
        tid[order[i]] = i + 1;
    meta(f, t, order, tid);
    for (uint32_t i = 0; i < t->n; i++)
        item(f, t, tid, i);
    close_open(f, t, tid);
    fputs("\n],\"displayTimeUnit\":\"ns\",\"otherData\":{\"title\":", f);
    json_str(f, t->title ? t->title : "");
    fprintf(f, ",\"dropped_events\":%" PRIu64 ",\"producer\":\"libintc "
               "%s\"}}\n", t->dropped, intc_version_string());
    free(order);
    free(tid);
    return !ferror(f);
}
