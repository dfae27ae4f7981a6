/*
 * intc-uc-bench: what libintc-uc costs in host time (issue 13, point 5).
 *
 * usage: intc-uc-bench [--smoke] [--reps R] [--scale S] [--period P]
 *                      [--case NAME] [--fw IMAGE]
 *
 * --scale multiplies every case's count (default 1: about 3 s a
 * round); --case runs one case only (for profiles: bench/uc_profile.sh).
 *
 * Runs the cases of its own firmware (bench/uc/ucbench.s) in one process,
 * each on a fresh machine, the whole list R times round robin (default
 * 5), and prints per case the median host rate (clock_gettime
 * CLOCK_MONOTONIC around intc_uc_run() or uc_emu_start() only: machine
 * creation and loading are not timed) and ratios against the bare-Unicorn
 * throughput of the same busy loop measured in the same run:
 *
 *   bare-tight / bare-mixed   the busy loops (2 and 8 instructions a
 *                             block) on a bare Unicorn engine, no hooks
 *   uc-tight / uc-mixed       the same loops inside libintc-uc, no
 *                             interrupt arriving
 *   timer-busy                uc-tight's loop with the LAPIC timer
 *                             periodic (--period, default 1000 counts =
 *                             1000 instructions) interrupting it
 *   timer-halt                the same timer, the CPU halted between ticks
 *   ipi-xapic / ipi-x2apic    ping-pong between 2 CPUs: ICR and EOI
 *                             through the LAPIC page / through the MSRs
 *
 * Host rates move with the machine and its load; the ratios, taken in
 * the same run, are the figures to compare.  --smoke runs every case
 * once with tiny counts and exits 0 when each did what it should (the
 * ctest bench_uc_smoke); the exit status never depends on speed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <intc/uc.h>
#include <unicorn/unicorn.h>

#ifndef INTC_UC_BENCH_FW
#define INTC_UC_BENCH_FW "ucbench.bin"
#endif

/* The firmware's interface (ucbench.s). */
#define FW_LOAD 0x10000ull
#define P_N 0x8000ull
#define P_PERIOD 0x8008ull
#define P_TICKS 0x8010ull
#define P_PONGS 0x8018ull
#define P_PINGS 0x801cull
#define RAM_SIZE (16ull << 20)

enum entry { E_TIGHT, E_MIXED, E_TIMER_HALT, E_TIMER_BUSY, E_IPI_X, E_IPI_X2 };

typedef struct bcase {
    const char *name;
    int bare;      /* on a bare Unicorn engine */
    enum entry entry;
    uint32_t cpus;
    uint64_t n;    /* P_N at scale 1 */
    const char *unit; /* what n counts: the event rate reported */
} bcase;

static const bcase cases[] = {
    {"bare-tight", 1, E_TIGHT, 1, 50000000, NULL},
    {"uc-tight", 0, E_TIGHT, 1, 25000000, NULL},
    {"bare-mixed", 1, E_MIXED, 1, 60000000, NULL},
    {"uc-mixed", 0, E_MIXED, 1, 20000000, NULL},
    {"timer-busy", 0, E_TIMER_BUSY, 1, 25000000, "interrupts"},
    {"timer-halt", 0, E_TIMER_HALT, 1, 200000, "interrupts"},
    {"ipi-xapic", 0, E_IPI_X, 2, 100000, "round trips"},
    {"ipi-x2apic", 0, E_IPI_X2, 2, 80000, "round trips"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct result {
    double sec;      /* host seconds */
    uint64_t insns;  /* guest instructions retired */
    uint64_t events; /* interrupts or round trips */
} result;

static unsigned char *image;
static size_t image_len;
static uint32_t period = 1000;

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int load_image(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t cap = 1 << 16;
    image = malloc(cap);
    while (image) {
        image_len += fread(image + image_len, 1, cap - image_len, f);
        if (image_len < cap)
            break;
        cap *= 2;
        unsigned char *b = realloc(image, cap);
        if (!b) {
            free(image);
            image = NULL;
        }
        image = b;
    }
    fclose(f);
    if (!image || image_len == 0) {
        fprintf(stderr, "%s: cannot read\n", path);
        return -1;
    }
    return 0;
}

/* Instructions of the busy loops (ucbench.s): the loop plus the setup
   and the exit (mov, out, hlt). */
static uint64_t busy_insns(enum entry e, uint64_t n)
{
    return e == E_TIGHT ? 2 * n + 4 : 8 * n + 6;
}

static int run_bare(const bcase *bc, uint64_t n, result *r)
{
    uc_engine *uc;
    uc_err e = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    if (e != UC_ERR_OK) {
        fprintf(stderr, "uc_open: %s\n", uc_strerror(e));
        return -1;
    }
    int rc = -1;
    uint32_t per = period;
    uint64_t rip = 0;
    if ((e = uc_mem_map(uc, 0, RAM_SIZE, UC_PROT_ALL)) != UC_ERR_OK ||
        (e = uc_mem_write(uc, FW_LOAD, image, image_len)) != UC_ERR_OK ||
        (e = uc_mem_write(uc, P_N, &n, sizeof n)) != UC_ERR_OK ||
        (e = uc_mem_write(uc, P_PERIOD, &per, sizeof per)) != UC_ERR_OK) {
        fprintf(stderr, "bare setup: %s\n", uc_strerror(e));
        goto out;
    }
    double t0 = now_sec();
    e = uc_emu_start(uc, FW_LOAD + 16 * bc->entry, UINT64_MAX, 0, 0);
    r->sec = now_sec() - t0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    /* It ends at the HLT of EXIT: RIP after it, EAX the exit code. */
    uint64_t rax = 0;
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    if (e != UC_ERR_OK || (rax & 0xffffffffu) != INTC_UC_EXIT_PASS) {
        fprintf(stderr, "%s: uc_emu_start %s, rip %#" PRIx64 "\n", bc->name,
                uc_strerror(e), rip);
        goto out;
    }
    r->insns = busy_insns(bc->entry, n);
    r->events = 0;
    rc = 0;
out:
    uc_close(uc);
    return rc;
}

static int run_uc(const bcase *bc, uint64_t n, result *r)
{
    intc_uc_config cfg;
    intc_uc_config_init(&cfg);
    cfg.n_cpus = bc->cpus;
    /* ucbench.s's SIPI page is 64-bit code (uc.h: sipi_64): the bench
       measures interrupts and IPIs, not the real-mode climb. */
    cfg.sipi_64 = true;
    cfg.ram_size = RAM_SIZE;
    cfg.entry = FW_LOAD + 16 * bc->entry;
    intc_err err;
    intc_uc *m = intc_uc_new(&cfg, &err);
    if (!m) {
        fprintf(stderr, "intc_uc_new: %s\n", intc_strerror(err));
        return -1;
    }
    int rc = -1;
    uint32_t per = period;
    if ((err = intc_uc_load(m, FW_LOAD, image, image_len)) != INTC_OK ||
        (err = intc_uc_load(m, P_N, &n, sizeof n)) != INTC_OK ||
        (err = intc_uc_load(m, P_PERIOD, &per, sizeof per)) != INTC_OK) {
        fprintf(stderr, "intc_uc_load: %s\n", intc_strerror(err));
        goto out;
    }
    intc_uc_stop_info st;
    double t0 = now_sec();
    err = intc_uc_run(m, 0, 0, &st);
    r->sec = now_sec() - t0;
    if (err != INTC_OK || st.reason != INTC_UC_STOP_EXIT ||
        st.code != INTC_UC_EXIT_PASS) {
        fprintf(stderr,
                "%s: stop %s code %#" PRIx64 " cpu %u rip %#" PRIx64 "\n",
                bc->name, intc_uc_stop_name(st.reason), st.code, st.cpu,
                st.rip);
        goto out;
    }
    r->insns = st.insns;
    uint64_t ticks = 0;
    uint32_t pongs = 0, pings = 0;
    intc_uc_read(m, P_TICKS, &ticks, sizeof ticks);
    intc_uc_read(m, P_PONGS, &pongs, sizeof pongs);
    intc_uc_read(m, P_PINGS, &pings, sizeof pings);
    switch (bc->entry) {
    case E_TIGHT:
    case E_MIXED:
        r->events = 0;
        if (st.insns < busy_insns(bc->entry, n)) {
            fprintf(stderr, "%s: %" PRIu64 " instructions\n", bc->name,
                    st.insns);
            goto out;
        }
        break;
    case E_TIMER_HALT:
    case E_TIMER_BUSY:
        r->events = ticks;
        /* halted: exactly n; busy: one per period of the loop's 2 n
           instructions, give or take the ISRs and the phase */
        if (bc->entry == E_TIMER_HALT ? ticks != n
                                      : ticks + 2 < 2 * n / per) {
            fprintf(stderr, "%s: %" PRIu64 " ticks\n", bc->name, ticks);
            goto out;
        }
        break;
    case E_IPI_X:
    case E_IPI_X2:
        r->events = pongs;
        if (pongs != n || pings != n) {
            fprintf(stderr, "%s: %u pings %u pongs\n", bc->name, pings,
                    pongs);
            goto out;
        }
        break;
    }
    rc = 0;
out:
    intc_uc_free(m);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void usage(void)
{
    fprintf(stderr, "usage: intc-uc-bench [--smoke] [--reps R] [--scale S] "
                    "[--period P] [--case NAME] [--fw IMAGE]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *fw = INTC_UC_BENCH_FW, *only = NULL;
    unsigned reps = 5;
    double scale = 1.0;
    int smoke = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke"))
            smoke = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = strtod(argv[++i], NULL);
        else if (!strcmp(argv[i], "--period") && i + 1 < argc)
            period = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--case") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--fw") && i + 1 < argc)
            fw = argv[++i];
        else
            usage();
    }
    if (smoke) {
        reps = 1;
        scale = 1e-4;
    }
    if (reps == 0 || reps > 100 || !(scale > 0) || period < 100)
        usage();
    if (load_image(fw))
        return 1;

    enum { MAX_REPS = 100 };
    static double rate[N_CASES][MAX_REPS], ev_rate[N_CASES][MAX_REPS];
    static result last[N_CASES];
    int ran[N_CASES] = {0};
    for (unsigned rep = 0; rep < reps; rep++) {
        for (unsigned k = 0; k < N_CASES; k++) {
            const bcase *bc = &cases[k];
            if (only && strcmp(only, bc->name))
                continue;
            uint64_t n = (uint64_t)((double)bc->n * scale);
            if (n < 2)
                n = 2;
            result r;
            if ((bc->bare ? run_bare : run_uc)(bc, n, &r))
                return 1;
            if (r.sec <= 0)
                r.sec = 1e-9;
            rate[k][rep] = (double)r.insns / r.sec;
            ev_rate[k][rep] = (double)r.events / r.sec;
            last[k] = r;
            ran[k] = 1;
        }
    }
    if (smoke) {
        printf("intc-uc-bench --smoke: every case ran and passed\n");
        free(image);
        return 0;
    }

    double insn[N_CASES] = {0}, ev[N_CASES] = {0};
    for (unsigned k = 0; k < N_CASES; k++) {
        if (!ran[k])
            continue;
        insn[k] = median(rate[k], reps);
        ev[k] = median(ev_rate[k], reps);
    }
    double bare = insn[0]; /* bare-tight: the reference */
    unsigned maj = 0, min = 0;
    uc_version(&maj, &min);
    printf("intc-uc-bench: each case %u times, medians; timer period %u "
           "instructions; Unicorn %u.%u\n",
           reps, period, maj, min);
    printf("%-11s %11s %9s %7s %11s %-12s %8s %9s\n", "case",
           "guest insns", "M insn/s", "x bare", "events/s", "", "ns/event",
           "bare-insn");
    for (unsigned k = 0; k < N_CASES; k++) {
        if (!ran[k])
            continue;
        const bcase *bc = &cases[k];
        /* A busy loop's reference is the bare run of the same loop; the
           others', bare-tight. */
        double ref = bc->entry == E_MIXED ? insn[2] : bare;
        printf("%-11s %11" PRIu64 " %9.1f", bc->name, last[k].insns,
               insn[k] / 1e6);
        if (ref > 0)
            printf(" %7.4f", insn[k] / ref);
        else
            printf(" %7s", "-");
        /* Host time of one event, and the same in bare-tight
           instructions (what the event costs in units of this host's
           bare speed: the figure that travels between machines). */
        if (bc->unit && ev[k] > 0 && bare > 0)
            printf(" %11.0f %-12s %8.0f %9.0f\n", ev[k], bc->unit,
                   1e9 / ev[k], bare / ev[k]);
        else if (bc->unit && ev[k] > 0)
            printf(" %11.0f %-12s %8.0f %9s\n", ev[k], bc->unit,
                   1e9 / ev[k], "-");
        else
            printf("\n");
    }
    /* timer-busy: the loop's own time at uc-tight's speed taken off,
       what remains is the interrupts'. */
    if (ran[0] && ran[1] && ran[4] && ev[4] > 0 && insn[4] > 0 &&
        insn[1] > 0) {
        double per_tick = (1.0 / ev[4]) *
                          (1.0 - insn[4] / insn[1]); /* s per interrupt */
        printf("timer-busy: %.0f ns (%.0f bare-tight instructions) per "
               "interrupt over uc-tight's loop\n",
               per_tick * 1e9, per_tick * bare);
    }
    free(image);
    return 0;
}
