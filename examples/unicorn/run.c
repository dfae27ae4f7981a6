/*
 * intc-uc-run: run a flat firmware image on a libintc-uc machine and
 * check its result (the example firmware's tests, ctest).
 *
 * usage: intc-uc-run [options] IMAGE
 *   --cpus N          CPUs (default 1)
 *   --load ADDR       where the image goes and the BSP starts (0x10000)
 *   --max-insns N     instruction budget (default 50000000)
 *   --max-ns N        virtual-time horizon in ns (default 10000000000)
 *   --quantum N       slice in ns (default 10000)
 *   --insn-ns N       ns per instruction (default 1)
 *   --expect-exit C   pass when the firmware exits with code C (0x600d)
 *   --trace           print every event
 *   --events          print how many events of each kind the run had
 *   --expect-event E  fail unless at least one event named E happened
 *                     (a libintc event name, intc_event_name(), e.g.
 *                     "storm", "ir_fault", or a machine event name,
 *                     intc_uc_event_name(), e.g. "deliver"); repeatable
 *   --expect-no-event E   fail if an event named E happened; repeatable
 *   --storm-threshold N   libintc's storm_threshold (default 1000)
 *   --iommu KIND      none (default), vtd or amdvi: the machine's IOMMU,
 *                     its registers mapped at INTC_UC_IOMMU_BASE
 *   --sipi-64         APs start in 64-bit mode at the SIPI page (the
 *                     config's sipi_64), not in real mode as on hardware
 *   --twice           run twice on fresh machines and require the same
 *                     event stream, bit for bit (determinism)
 *   --perfetto FILE   write the (first) run's Chrome/Perfetto trace-event
 *                     JSON (docs/traces.md) through libintc-timeline
 *   --svg FILE        write its SVG timeline
 *   --events-file FILE  write its libintc events, one a line, as
 *                     intc-sim --events does (for tests/sim/
 *                     check_timeline.py)
 * Every machine has the test device (testdev.h) and one 24-pin IOAPIC
 * whose pins 16-23 are wired as PCI INTx (level, active low).
 * Exit status 0 on pass, 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intc/timeline.h>
#include <intc/uc.h>

#include "kit_file.h"
#include "testdev.h"

#define MAX_EXPECT 8

typedef struct opts {
    uint32_t cpus;
    uint64_t load, max_insns, max_ns, quantum, insn_ns, expect;
    uint64_t storm_threshold;
    unsigned iommu; /* enum intc_iommu_kind */
    int trace, twice, events, sipi_64;
    const char *want[MAX_EXPECT], *refuse[MAX_EXPECT];
    unsigned n_want, n_refuse;
    const char *image;
    const char *perfetto, *svg, *events_path;
} opts;

/* The event stream of one run, as fixed-layout records, and how many
   events of each type it had. */
typedef struct stream {
    uint64_t *w;
    size_t n, cap;
    int trace;
    int oom;
    uint64_t n_intc[INTC_EV_COUNT_];
    uint64_t n_uc[INTC_UC_EV_COUNT_];
    /* --perfetto, --svg: the timeline, fed with libintc's events and
       sampled (IRR, ISR, PPR) at deliveries, HLTs and the run's end;
       --events-file: the events, one a line. */
    intc_timeline *tl;
    intc_uc *m;
    FILE *evf;
    int ev_err;
} stream;

static void put(stream *s, uint64_t v)
{
    if (s->oom)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 4096;
        uint64_t *w = realloc(s->w, cap * sizeof *w);
        if (!w) {
            s->oom = 1;
            return;
        }
        s->w = w;
        s->cap = cap;
    }
    s->w[s->n++] = v;
}

/* The timeline and the events file of one event.  Sampling reads the
   APIC registers through libintc, so only at the machine's own events
   that are not raised inside a libintc call (a delivery, a HLT). */
static void draw_event(stream *s, const intc_uc_event *ev)
{
    if (ev->type == INTC_UC_EV_INTC) {
        intc_timeline_event(s->tl, ev->time_ns, &ev->intc);
        if (s->evf &&
            fprintf(s->evf,
                    "%s cpu=%" PRIu32 " vector=%" PRId32 " unit=%" PRIu32
                    " pin=%" PRIu32 " data=0x%" PRIx64 " data2=0x%" PRIx64
                    "\n",
                    intc_event_name(ev->intc.type), ev->intc.cpu,
                    ev->intc.vector, ev->intc.unit, ev->intc.pin,
                    ev->intc.data, ev->intc.data2) < 0)
            s->ev_err = 1;
    } else if (s->m && (ev->type == INTC_UC_EV_DELIVER ||
                        ev->type == INTC_UC_EV_HALT)) {
        intc_timeline_sample(s->tl, ev->time_ns, intc_uc_intc(s->m));
    }
}

static void on_event(void *user, const intc_uc_event *ev)
{
    stream *s = user;
    draw_event(s, ev);
    if (ev->type == INTC_UC_EV_INTC && ev->intc.type < INTC_EV_COUNT_)
        s->n_intc[ev->intc.type]++;
    else if (ev->type < INTC_UC_EV_COUNT_)
        s->n_uc[ev->type]++;
    put(s, ev->type);
    put(s, ev->cpu);
    put(s, ev->time_ns);
    put(s, ev->insns);
    put(s, (uint64_t)(int64_t)ev->vector);
    put(s, ev->rip);
    put(s, ev->data);
    put(s, ev->data2);
    if (ev->type == INTC_UC_EV_INTC) {
        put(s, ev->intc.type);
        put(s, ev->intc.unit);
        put(s, ev->intc.pin);
        put(s, ev->intc.data);
        put(s, ev->intc.data2);
    }
    if (!s->trace)
        return;
    const char *name = ev->type == INTC_UC_EV_INTC
                           ? intc_event_name(ev->intc.type)
                           : intc_uc_event_name(ev->type);
    printf("%12" PRIu64 " ns cpu %-3d %-14s vec %4d rip %#" PRIx64
           " data %#" PRIx64 " %#" PRIx64 "\n",
           ev->time_ns, ev->cpu == INTC_NO_CPU ? -1 : (int)ev->cpu, name,
           (int)ev->vector, ev->rip,
           ev->type == INTC_UC_EV_INTC ? ev->intc.data : ev->data,
           ev->type == INTC_UC_EV_INTC ? ev->intc.data2 : ev->data2);
}

static void on_console(void *user, uint32_t cpu, uint8_t byte)
{
    (void)user;
    (void)cpu;
    putchar(byte);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

/* A machine as the options say, with the test device (*dev) mapped. */
static intc_uc *new_machine(const opts *o, stream *s, testdev *dev)
{
    /* One IOAPIC as libintc-uc's default (ID n_cpus, version 0x20, 24
       pins, source id f0:1f.0), pins 16-23 wired as PCI INTx. */
    uint8_t wiring[24] = {0};
    for (unsigned i = 16; i < 24; i++)
        wiring[i] = INTC_PIN_ACTIVE_LOW | INTC_PIN_LEVEL;
    intc_ioapic_config ioc = {.id = (uint8_t)(o->cpus < 16 ? o->cpus : 0),
                              .version = 0x20,
                              .n_pins = 24,
                              .source_id = 0xf0f8,
                              .pin_wiring = wiring};
    intc_machine_config mc;
    intc_machine_config_init(&mc);
    mc.n_cpus = o->cpus;
    mc.ioapics = &ioc;
    mc.n_ioapics = 1;
    mc.storm_threshold = (uint32_t)o->storm_threshold;
    mc.iommu.kind = o->iommu;

    intc_uc_config cfg;
    intc_uc_config_init(&cfg);
    cfg.intc = &mc;
    cfg.entry = o->load;
    cfg.quantum_ns = o->quantum;
    cfg.sipi_64 = o->sipi_64 != 0;
    cfg.insn_ns = (uint32_t)o->insn_ns;
    cfg.event = on_event;
    cfg.console = on_console;
    cfg.user = s;
    intc_err err;
    intc_uc *m = intc_uc_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "intc_uc_new: %s\n", intc_strerror(err));
        return NULL;
    }
    err = testdev_attach(dev, m);
    if (err == INTC_OK && o->iommu != INTC_IOMMU_NONE)
        err = intc_uc_map_iommu(m, INTC_UC_IOMMU_BASE);
    if (err != INTC_OK) {
        fprintf(stderr, "device setup: %s\n", intc_strerror(err));
        intc_uc_free(m);
        return NULL;
    }
    return m;
}

/* How many events named name the run had; -1 if no event has that
   name. */
static int64_t count_named(const stream *s, const char *name)
{
    for (int t = 0; t < INTC_EV_COUNT_; t++)
        if (!strcmp(name, intc_event_name((intc_event_type)t)))
            return (int64_t)s->n_intc[t];
    for (int t = 0; t < INTC_UC_EV_COUNT_; t++)
        if (t != INTC_UC_EV_INTC &&
            !strcmp(name, intc_uc_event_name((intc_uc_event_type)t)))
            return (int64_t)s->n_uc[t];
    return -1;
}

/* --events, --expect-event, --expect-no-event; returns 0 on pass. */
static int check_events(const opts *o, const stream *s)
{
    if (o->events) {
        for (int t = 0; t < INTC_EV_COUNT_; t++)
            if (s->n_intc[t])
                printf("event %-18s %" PRIu64 "\n",
                       intc_event_name((intc_event_type)t), s->n_intc[t]);
        for (int t = 0; t < INTC_UC_EV_COUNT_; t++)
            if (s->n_uc[t] && t != INTC_UC_EV_INTC)
                printf("event %-18s %" PRIu64 "\n",
                       intc_uc_event_name((intc_uc_event_type)t),
                       s->n_uc[t]);
    }
    int rc = 0;
    for (unsigned i = 0; i < o->n_want; i++)
        if (count_named(s, o->want[i]) <= 0) {
            fprintf(stderr, "FAIL: no %s event\n", o->want[i]);
            rc = 1;
        }
    for (unsigned i = 0; i < o->n_refuse; i++)
        if (count_named(s, o->refuse[i]) != 0) {
            fprintf(stderr, "FAIL: %s event(s) happened\n", o->refuse[i]);
            rc = 1;
        }
    return rc;
}

static void print_stop(intc_uc *m, const intc_uc_stop_info *st)
{
    printf("stop: %s code %#" PRIx64 " cpu %d rip %#" PRIx64
           " time %" PRIu64 " ns insns %" PRIu64 "\n",
           intc_uc_stop_name(st->reason), st->code,
           st->cpu == INTC_NO_CPU ? -1 : (int)st->cpu, st->rip, st->time_ns,
           st->insns);
    for (uint32_t i = 0; i < intc_uc_cpu_count(m); i++) {
        intc_uc_cpu_info ci;
        if (intc_uc_cpu_info_get(m, i, &ci) == INTC_OK)
            printf("cpu %u: state %d rip %#" PRIx64 " clock %" PRIu64
                   " ns insns %" PRIu64 " delivered %" PRIu64 "\n",
                   i, (int)ci.state, ci.rip, ci.time_ns, ci.insns,
                   ci.delivered);
        intc_uc_trap_info ti;
        if (intc_uc_trap_info_get(m, i, &ti) == INTC_OK)
            printf("cpu %u: trap scanned %" PRIu64 " restarts %" PRIu64
                   " emulated %" PRIu64 " native %" PRIu64 " faults %" PRIu64
                   " cpuid %" PRIu64 " native-hooks msr %d tsc %d"
                   " hidden-state %d\n",
                   i, ti.blocks_scanned, ti.restarts, ti.emulated,
                   ti.native, ti.faults, ti.cpuid, (int)ti.native_msr_hooks,
                   (int)ti.native_tsc_hooks, (int)ti.hidden_state);
    }
}

/* One run on a fresh machine; returns 0 on pass. */
static int run_once(const opts *o, const unsigned char *img, size_t len,
                    stream *s)
{
    testdev dev;
    intc_uc *m = new_machine(o, s, &dev);
    if (!m)
        return 1;
    intc_err err = intc_uc_load(m, o->load, img, len);
    if (err != INTC_OK) {
        fprintf(stderr, "intc_uc_load: %s\n", intc_strerror(err));
        intc_uc_free(m);
        return 1;
    }
    intc_uc_stop_info st;
    s->m = m;
    err = intc_uc_run(m, o->max_insns, o->max_ns, &st);
    s->m = NULL;
    if (err != INTC_OK) {
        fprintf(stderr, "intc_uc_run: %s\n", intc_strerror(err));
        intc_uc_free(m);
        return 1;
    }
    print_stop(m, &st);
    intc_timeline_sample(s->tl, st.time_ns, intc_uc_intc(m));
    printf("device: events %u zero-status reads %u\n", dev.events,
           dev.zero_reads);
    intc_uc_free(m);
    int rc = check_events(o, s);
    if (st.reason != INTC_UC_STOP_EXIT || st.code != o->expect) {
        fprintf(stderr, "FAIL: wanted exit code %#" PRIx64 "\n", o->expect);
        rc = 1;
    }
    return rc;
}

static uint64_t fnv(const stream *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < s->n; i++)
        for (int b = 0; b < 64; b += 8) {
            h ^= (s->w[i] >> b) & 0xff;
            h *= 0x100000001b3ull;
        }
    return h;
}

/* --perfetto, --svg, --events-file: set up s; false (said) on error. */
static bool open_outputs(const opts *o, stream *s)
{
    if (o->perfetto || o->svg) {
        s->tl = intc_timeline_new(o->cpus, 0);
        if (!s->tl || !intc_timeline_set_title(s->tl, o->image)) {
            fprintf(stderr, "intc_timeline_new: out of memory\n");
            return false;
        }
    }
    if (o->events_path && !(s->evf = fopen(o->events_path, "w"))) {
        fprintf(stderr, "%s: %s\n", o->events_path, strerror(errno));
        return false;
    }
    return true;
}

/* Write the timeline's files, close the events file, free s's outputs
   (also after a failed run: a picture for the bug report); 0, or 1 when
   a file could not be written (said). */
static int close_outputs(const opts *o, stream *s)
{
    int rc = 0;
    if (o->perfetto && !intc_timeline_save_perfetto(s->tl, o->perfetto)) {
        fprintf(stderr, "%s: %s\n", o->perfetto, strerror(errno));
        rc = 1;
    }
    if (o->svg && !intc_timeline_save_svg(s->tl, o->svg)) {
        fprintf(stderr, "%s: %s\n", o->svg, strerror(errno));
        rc = 1;
    }
    if (s->tl && intc_timeline_dropped(s->tl))
        fprintf(stderr, "timeline: %" PRIu64 " events left out (full)\n",
                intc_timeline_dropped(s->tl));
    if (s->evf && (fclose(s->evf) != 0 || s->ev_err)) {
        fprintf(stderr, "%s: write error\n", o->events_path);
        rc = 1;
    }
    intc_timeline_free(s->tl);
    s->tl = NULL;
    s->evf = NULL;
    return rc;
}

/* Options taking a word rather than a number. */
static int parse_word(opts *o, const char *a, const char *v)
{
    if (!strcmp(a, "--expect-event") && o->n_want < MAX_EXPECT)
        o->want[o->n_want++] = v;
    else if (!strcmp(a, "--expect-no-event") && o->n_refuse < MAX_EXPECT)
        o->refuse[o->n_refuse++] = v;
    else if (!strcmp(a, "--perfetto"))
        o->perfetto = v;
    else if (!strcmp(a, "--svg"))
        o->svg = v;
    else if (!strcmp(a, "--events-file"))
        o->events_path = v;
    else if (!strcmp(a, "--iommu") && !strcmp(v, "none"))
        o->iommu = INTC_IOMMU_NONE;
    else if (!strcmp(a, "--iommu") && !strcmp(v, "vtd"))
        o->iommu = INTC_IOMMU_VTD;
    else if (!strcmp(a, "--iommu") && !strcmp(v, "amdvi"))
        o->iommu = INTC_IOMMU_AMDVI;
    else
        return -1;
    return 0;
}

static int parse_number(opts *o, const char *a, uint64_t v)
{
    if (!strcmp(a, "--cpus"))
        o->cpus = (uint32_t)v;
    else if (!strcmp(a, "--load"))
        o->load = v;
    else if (!strcmp(a, "--max-insns"))
        o->max_insns = v;
    else if (!strcmp(a, "--max-ns"))
        o->max_ns = v;
    else if (!strcmp(a, "--quantum"))
        o->quantum = v;
    else if (!strcmp(a, "--insn-ns"))
        o->insn_ns = v;
    else if (!strcmp(a, "--expect-exit"))
        o->expect = v;
    else if (!strcmp(a, "--storm-threshold") && v <= UINT32_MAX)
        o->storm_threshold = v;
    else
        return -1;
    return 0;
}

/* Returns 0, or 2 (bad usage, reported). */
static int parse_args(opts *o, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--trace")) {
            o->trace = 1;
        } else if (!strcmp(a, "--twice")) {
            o->twice = 1;
        } else if (!strcmp(a, "--events")) {
            o->events = 1;
        } else if (!strcmp(a, "--sipi-64")) {
            o->sipi_64 = 1;
        } else if (a[0] != '-') {
            o->image = a;
        } else {
            uint64_t v = 0;
            const char *val = i + 1 < argc ? argv[++i] : NULL;
            if (!val || (parse_word(o, a, val) &&
                         (parse_u64(val, &v) || parse_number(o, a, v)))) {
                fprintf(stderr, "%s: unknown option, bad or missing value\n",
                        a);
                return 2;
            }
        }
    }
    if (!o->image || o->insn_ns > 1000000) {
        fprintf(stderr, "usage: %s [options] IMAGE\n", argv[0]);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    opts o = {.cpus = 1,
              .load = INTC_UC_DEFAULT_ENTRY,
              .max_insns = 50000000,
              .max_ns = 10000000000ull,
              .quantum = 10000,
              .insn_ns = 1,
              .expect = INTC_UC_EXIT_PASS,
              .storm_threshold = 1000};
    if (parse_args(&o, argc, argv))
        return 2;
    size_t len = 0;
    unsigned char *img = kit_read_file(o.image, 0, &len);
    if (!img) {
        fprintf(stderr, "%s: cannot read\n", o.image);
        return 2;
    }
    stream s1 = {.trace = o.trace}, s2 = {0};
    if (!open_outputs(&o, &s1)) {
        close_outputs(&o, &s1);
        free(img);
        return 1;
    }
    int rc = run_once(&o, img, len, &s1);
    if (close_outputs(&o, &s1))
        rc = 1;
    printf("events: %zu records, hash %016" PRIx64 "\n", s1.n, fnv(&s1));
    if (!rc && o.twice) {
        rc = run_once(&o, img, len, &s2);
        printf("events: %zu records, hash %016" PRIx64 "\n", s2.n,
               fnv(&s2));
        if (!rc && (s1.oom || s2.oom || s1.n != s2.n ||
                    memcmp(s1.w, s2.w, s1.n * sizeof *s1.w))) {
            size_t i = 0;
            while (i < s1.n && i < s2.n && s1.w[i] == s2.w[i])
                i++;
            fprintf(stderr, "FAIL: the two runs differ (word %zu)\n", i);
            rc = 1;
        } else if (!rc) {
            printf("deterministic: the two event streams are identical\n");
        }
    }
    free(s1.w);
    free(s2.w);
    free(img);
    if (!rc)
        printf("PASS\n");
    return rc;
}
