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
 *   --twice           run twice on fresh machines and require the same
 *                     event stream, bit for bit (determinism)
 * Exit status 0 on pass, 1 on failure, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <intc/uc.h>

typedef struct opts {
    uint32_t cpus;
    uint64_t load, max_insns, max_ns, quantum, insn_ns, expect;
    int trace, twice;
    const char *image;
} opts;

/* The event stream of one run, as fixed-layout records. */
typedef struct stream {
    uint64_t *w;
    size_t n, cap;
    int trace;
    int oom;
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

static void on_event(void *user, const intc_uc_event *ev)
{
    stream *s = user;
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

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* One run on a fresh machine; returns 0 on pass. */
static int run_once(const opts *o, const unsigned char *img, size_t len,
                    stream *s)
{
    intc_uc_config cfg;
    intc_uc_config_init(&cfg);
    cfg.n_cpus = o->cpus;
    cfg.entry = o->load;
    cfg.quantum_ns = o->quantum;
    cfg.insn_ns = (uint32_t)o->insn_ns;
    cfg.event = on_event;
    cfg.console = on_console;
    cfg.user = s;
    intc_err err;
    intc_uc *m = intc_uc_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "intc_uc_new: %s\n", intc_strerror(err));
        return 1;
    }
    err = intc_uc_load(m, o->load, img, len);
    if (err != INTC_OK) {
        fprintf(stderr, "intc_uc_load: %s\n", intc_strerror(err));
        intc_uc_free(m);
        return 1;
    }
    intc_uc_stop_info st;
    err = intc_uc_run(m, o->max_insns, o->max_ns, &st);
    if (err != INTC_OK) {
        fprintf(stderr, "intc_uc_run: %s\n", intc_strerror(err));
        intc_uc_free(m);
        return 1;
    }
    printf("stop: %s code %#" PRIx64 " cpu %d rip %#" PRIx64
           " time %" PRIu64 " ns insns %" PRIu64 "\n",
           intc_uc_stop_name(st.reason), st.code,
           st.cpu == INTC_NO_CPU ? -1 : (int)st.cpu, st.rip, st.time_ns,
           st.insns);
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
                   " cpuid %" PRIu64 " native-hooks msr %d tsc %d\n",
                   i, ti.blocks_scanned, ti.restarts, ti.emulated,
                   ti.native, ti.faults, ti.cpuid, (int)ti.native_msr_hooks,
                   (int)ti.native_tsc_hooks);
    }
    intc_uc_free(m);
    if (st.reason != INTC_UC_STOP_EXIT || st.code != o->expect) {
        fprintf(stderr, "FAIL: wanted exit code %#" PRIx64 "\n", o->expect);
        return 1;
    }
    return 0;
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

int main(int argc, char **argv)
{
    opts o = {.cpus = 1,
              .load = INTC_UC_DEFAULT_ENTRY,
              .max_insns = 50000000,
              .max_ns = 10000000000ull,
              .quantum = 10000,
              .insn_ns = 1,
              .expect = INTC_UC_EXIT_PASS};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        uint64_t v = 0;
        int needs = strcmp(a, "--trace") && strcmp(a, "--twice") &&
                    a[0] == '-';
        if (needs && (i + 1 >= argc || parse_u64(argv[i + 1], &v))) {
            fprintf(stderr, "%s: bad or missing value\n", a);
            return 2;
        }
        if (!strcmp(a, "--cpus"))
            o.cpus = (uint32_t)v;
        else if (!strcmp(a, "--load"))
            o.load = v;
        else if (!strcmp(a, "--max-insns"))
            o.max_insns = v;
        else if (!strcmp(a, "--max-ns"))
            o.max_ns = v;
        else if (!strcmp(a, "--quantum"))
            o.quantum = v;
        else if (!strcmp(a, "--insn-ns"))
            o.insn_ns = v;
        else if (!strcmp(a, "--expect-exit"))
            o.expect = v;
        else if (!strcmp(a, "--trace"))
            o.trace = 1;
        else if (!strcmp(a, "--twice"))
            o.twice = 1;
        else if (a[0] == '-') {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        } else {
            o.image = a;
        }
        if (needs)
            i++;
    }
    if (!o.image || o.insn_ns > 1000000) {
        fprintf(stderr, "usage: %s [options] IMAGE\n", argv[0]);
        return 2;
    }
    size_t len = 0;
    unsigned char *img = read_file(o.image, &len);
    if (!img) {
        fprintf(stderr, "%s: cannot read\n", o.image);
        return 2;
    }
    stream s1 = {.trace = o.trace}, s2 = {0};
    int rc = run_once(&o, img, len, &s1);
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
