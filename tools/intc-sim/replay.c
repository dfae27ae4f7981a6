/*
 * intc-sim --replay: run a recording (docs/recording.md) through the
 * library's replayer, show its events, and optionally write the event
 * stream and the final machine image for comparison with the recorded
 * run (--events=FILE, --final-image=FILE: intc-sim writes the same two
 * files when it runs a scenario).
 */
#include "sim.h"

#include "kit.h"
#include "rec_conv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Largest recording --replay reads (host input: refused beyond, exit 2). */
#define SIM_MAX_RECORDING (1ull << 30)

/* The whole file, or NULL with the exit code in *rc. */
static uint8_t *read_all(const char *path, size_t *len, int *rc)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL, *nb;
    size_t cap = 0, n = 0, got = 0;
    const char *why = NULL;

    *rc = SIM_EXIT_HOST;
    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    do {
        if (n == cap && cap > SIM_MAX_RECORDING) {
            why = "larger than the limit (1 GiB)";
            *rc = SIM_EXIT_MALFORMED;
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            cap = cap > SIM_MAX_RECORDING + 1 ? SIM_MAX_RECORDING + 1 : cap;
            if (!(nb = realloc(buf, cap))) {
                why = "out of memory";
                break;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    if (!why && ferror(f))
        why = "read error";
    fclose(f);
    if (why) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, why);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

typedef struct rp_ctx {
    const sim_options *o;
    FILE *events;
    uint64_t index; /* the call being replayed */
    /* --perfetto, --svg: the timeline, stamped with the recording's
       clock as far as read (rp_clock) */
    tl_trace *tl;
    const uint8_t *buf;
    size_t len, pos; /* the records read for the clock so far */
    uint64_t now;
} rp_ctx;

static void rp_event(void *ctx, const intc_event *ev)
{
    rp_ctx *c = ctx;
    char buf[256];

    if (c->tl)
        tl_event(c->tl, c->now, ev);
    if (c->events)
        sim_events_line(c->events, ev);
    if (c->o->trace != TRACE_TEXT)
        return;
    sim_event_text(ev, buf, sizeof buf);
    printf("    %-14s %s\n", intc_event_name(ev->type), buf);
}

/* Step to the end; the exit code. */
/*
 * The recording's clock up to offset end: the latest now_ns result
 * (CLOCK records) or time argument (the timer expiries) read so far.  A
 * replay has no clock of its own: a call's events are stamped with the
 * time its call record carries, or the latest time before it; the
 * timeline keeps their order (docs/traces.md).
 */
static void rp_clock(rp_ctx *c, size_t end)
{
    intc_record_item it;

    while (c->pos < end && c->pos < c->len &&
           intc_record_next(c->buf, c->len, &c->pos, &it) == INTC_OK) {
        uint64_t t = c->now;
        if (it.type == INTC_RECORD_CLOCK)
            t = it.value;
        else if (it.type == INTC_RECORD_CALL &&
                 (it.op == INTC_RECORD_OP_LAPIC_TIMER_EXPIRED ||
                  it.op == INTC_RECORD_OP_IOAPIC_TIMER_EXPIRED))
            t = it.a0;
        if (t > c->now && t != UINT64_MAX)
            c->now = t;
    }
}

/* Before a step: its call record's time; after it: the clock it read.
   The registers are not sampled: reading them would be calls the
   recording does not have (the replay would diverge), so a replay's
   timeline has the events (slices, arrows, faults) without the IRR,
   ISR and PPR counters. */
static void rp_timeline(intc_replay *r, rp_ctx *c, bool after)
{
    size_t off = 0;

    if (!c->tl)
        return;
    intc_replay_position(r, &off);
    /* Before: only the record at off (the call); after: up to off. */
    rp_clock(c, after ? off : off + 1);
}

static int rp_steps(intc_replay *r, rp_ctx *c, const char *path)
{
    for (;;) {
        size_t off = 0;
        uint64_t idx = intc_replay_position(r, &off);
        int st;

        if (c->o->trace == TRACE_TEXT)
            printf("[record %" PRIu64 " @%zu]\n", idx, off);
        rp_timeline(r, c, false);
        st = intc_replay_step(r);
        if (st == 0)
            return SIM_EXIT_OK;
        rp_timeline(r, c, true);
        if (st == 1)
            continue;
        fprintf(stderr, "intc-sim: %s: %s: %s\n", path,
                intc_err_name((intc_err)st), intc_replay_errmsg(r));
        return st == INTC_ERR_DIVERGED ? SIM_EXIT_FAIL
               : st == INTC_ERR_NOMEM  ? SIM_EXIT_HOST
                                       : SIM_EXIT_MALFORMED;
    }
}

/* --to-yaml: the recording as a scenario (testkit/rec_conv.h). */
static int to_yaml(const char *path, const uint8_t *buf, size_t len,
                   const char *out)
{
    const char *base = strrchr(path, '/');
    char title[64];
    kit_conv c;
    FILE *f = fopen(out, "w");
    intc_err e;
    size_t j = 0;

    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", out, strerror(errno));
        return SIM_EXIT_HOST;
    }
    base = base ? base + 1 : path;
    for (size_t i = 0; base[i] && j + 1 < sizeof title; i++)
        if (base[i] != '"' && base[i] != '\\' && (unsigned char)base[i] >= 32)
            title[j++] = base[i];
    title[j] = 0;
    e = kit_conv_yaml(f, buf, len, title, &c);
    if (fclose(f) != 0 && e == INTC_OK) {
        fprintf(stderr, "intc-sim: %s: write error\n", out);
        kit_conv_fini(&c);
        return SIM_EXIT_HOST;
    }
    if (e != INTC_OK)
        fprintf(stderr, "intc-sim: %s: %s\n", path, c.msg);
    else if (c.n_inexact)
        fprintf(stderr, "intc-sim: %s: %u call(s) or input(s) could not be "
                        "expressed exactly (see the comments in %s)\n",
                path, c.n_inexact, out);
    kit_conv_fini(&c);
    if (e == INTC_ERR_NOMEM)
        return SIM_EXIT_HOST;
    return e == INTC_OK ? SIM_EXIT_OK : SIM_EXIT_MALFORMED;
}

int sim_replay(const char *path, const sim_options *o)
{
    size_t len = 0;
    int rc;
    uint8_t *buf = read_all(path, &len, &rc);
    kit_host *h = buf ? kit_host_new(true) : NULL;
    rp_ctx c = {.o = o};
    intc_replay *r = NULL;
    intc_err e = INTC_OK;

    if (!h)
        goto out;
    h->hooks = (kit_hooks){.ctx = &c, .event = rp_event};
    rc = SIM_EXIT_HOST;
    if (o->events_path && !(c.events = fopen(o->events_path, "w"))) {
        fprintf(stderr, "intc-sim: %s: %s\n", o->events_path,
                strerror(errno));
        goto out;
    }
    r = intc_replay_new(buf, len, &h->ops, h, &e);
    if (!r || e != INTC_OK) {
        fprintf(stderr, "intc-sim: %s: %s: %s\n", path, intc_err_name(e),
                r ? intc_replay_errmsg(r) : intc_strerror(e));
        rc = e == INTC_ERR_NOMEM ? SIM_EXIT_HOST : SIM_EXIT_MALFORMED;
        goto out;
    }
    if (o->perfetto_path || o->svg_path) {
        c.tl = tl_new(intc_machine_cpu_count(intc_replay_machine(r)), 0);
        c.buf = buf;
        c.len = len;
        if (!c.tl || !tl_set_title(c.tl, path)) {
            fprintf(stderr, "intc-sim: out of memory\n");
            rc = SIM_EXIT_HOST;
            goto out;
        }
    }
    rc = rp_steps(r, &c, path);
    if (!sim_save_timeline(c.tl, o) && rc == SIM_EXIT_OK)
        rc = SIM_EXIT_HOST;
    c.tl = NULL;
    if (rc == SIM_EXIT_OK && o->to_yaml)
        rc = to_yaml(path, buf, len, o->to_yaml);
    if (rc == SIM_EXIT_OK && o->final_image &&
        !sim_write_image(intc_replay_machine(r), o->final_image))
        rc = SIM_EXIT_HOST;
    if (rc == SIM_EXIT_OK && o->trace == TRACE_TEXT)
        printf("replayed %" PRIu64 " records of %s\n",
               intc_replay_position(r, NULL), path);
out:
    tl_free(c.tl);
    if (c.events && fclose(c.events) != 0 && rc == SIM_EXIT_OK)
        rc = SIM_EXIT_HOST;
    intc_replay_free(r);
    kit_host_free(h);
    free(buf);
    return rc;
}
