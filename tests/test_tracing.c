/*
 * Differential test: tracing never changes what the machine does
 * (DESIGN principle 5; docs/architecture.md).  The same random operation
 * sequence runs on a machine with an event callback and on one without;
 * after every step the return values, the kick sequences (order
 * included) and the full snapshot images must be identical.  The kick
 * callback sometimes calls back into the machine (a nested MSI), which
 * exercises the deferred-callback loop and kicks queued from inside it.
 *
 * Not an SDM test: the architectural outcome is checked by the other test
 * files (which themselves run traced and untraced); this one checks that
 * both machines agree step by step, kicks and images included.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h" /* th_events_enabled(), the kit */
#include "intc/intc.h"

#define NCPU 6
#define MAX_KICKS 4096

/* Each machine's host is a kit_host with only the kit's kick() and,
   traced, event(); the kick sequence is recorded here by the kick hook,
   which also nests an MSI now and then. */
typedef struct fp_host {
    kit_host *k;
    intc_machine *m;
    uint32_t kicks[MAX_KICKS];
    unsigned n_kicks;
    uint32_t nest; /* kick hook: every nest-th kick sends an MSI */
} fp_host;

static void fp_kick(void *ctx, uint32_t cpu)
{
    fp_host *h = ctx;
    if (h->n_kicks < MAX_KICKS)
        h->kicks[h->n_kicks] = cpu;
    h->n_kicks++;
    if (h->nest && h->n_kicks % h->nest == 0) {
        (void)intc_msi_send(h->m, 0xfee00000u | ((cpu + 1) % NCPU) << 12,
                            0x30 + cpu, 0, NULL);
        /* Also log the return, so a kick nested inside this one (rather
           than after it) shows up as a different sequence. */
        if (h->n_kicks < MAX_KICKS)
            h->kicks[h->n_kicks] = cpu | 0x80000000u;
        h->n_kicks++;
    }
}

/* Events the kit counted. */
static uint64_t fp_events(const fp_host *h)
{
    uint64_t n = 0;
    for (unsigned t = 0; t < INTC_EV_COUNT_; t++)
        n += h->k->totals[t];
    return n;
}

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

static intc_machine *fp_machine(fp_host *h, bool traced, bool ext_dest,
                                const uint32_t *ids)
{
    intc_machine_config cfg;
    intc_host_ops kit;
    intc_err e = INTC_OK;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = NCPU;
    cfg.apic_ids = ids;
    cfg.x2apic = true;
    cfg.msi_ext_dest = ext_dest;
    memset(h, 0, sizeof *h);
    h->k = kit_host_new(traced);
    assert_non_null(h->k);
    h->k->max_events = 0; /* counted, not kept */
    kit = h->k->ops;
    memset(&h->k->ops, 0, sizeof h->k->ops);
    h->k->ops.version = kit.version;
    h->k->ops.kick = kit.kick;
    h->k->ops.event = kit.event;
    h->k->hooks = (kit_hooks){.ctx = h, .kick = fp_kick};
    h->m = kit_machine(h->k, &cfg, &e);
    assert_non_null(h->m);
    return h->m;
}

static uint32_t msi_addr(void)
{
    static const uint32_t dests[] = {0, 1, 2, 3, 4, 5, 0xff, 7, 0x20};
    uint32_t a = 0xfee00000u | dests[rnd() % 9] << 12;
    unsigned r = rnd() % 16;
    if (r == 0)
        a |= 1u << 3; /* RH */
    else if (r == 1)
        a |= 1u << 2; /* logical */
    else if (r == 2)
        a |= (rnd() & 0x7f) << 5; /* extended destination */
    else if (r == 3)
        a |= rnd() & 3;
    return a;
}

static uint32_t msi_data(void)
{
    uint32_t d = 0x10 + rnd() % 0xf0;
    unsigned r = rnd() % 16;
    if (r == 0)
        d = rnd() % 16; /* illegal vector */
    else if (r == 1)
        d |= 0xc000; /* level, assert */
    else if (r == 2)
        d |= (rnd() % 8) << 8;
    else if (r == 3)
        d |= 1u << 16;
    else if (r == 4)
        d |= rnd() & 0x3800;
    return d;
}

/* One random operation on both machines; returns both results. */
static void step(intc_machine *m[2], long res[2])
{
    unsigned op = rnd() % 100;
    uint32_t cpu = rnd() % NCPU;
    uint32_t a = msi_addr(), d = msi_data(), x = rnd();

    for (int k = 0; k < 2; k++) {
        intc_lapic *l = intc_machine_lapic(m[k], cpu);
        uint64_t base = 0;
        if (op < 35) {
            res[k] = intc_msi_send(m[k], a, d, 0, NULL);
        } else if (op < 50) {
            res[k] = intc_lapic_ack(l);
        } else if (op < 62) {
            res[k] = intc_lapic_mmio_write(l, 0xb0, x % 8 ? 4 : 2, x);
        } else if (op < 72) {
            res[k] = intc_lapic_msr_write(l, 0x80b, x % 8 ? 0 : 1);
        } else if (op < 76) {
            uint32_t svr = (x % 4 ? 0x100u : 0) | 0xf0 | (x & 0xf);
            res[k] = intc_lapic_mmio_write(l, 0xf0, 4, svr) * 16 +
                     intc_lapic_msr_write(l, 0x80f, svr);
        } else if (op < 79) {
            res[k] = intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base);
            res[k] = res[k] * 16 +
                     intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                                          base | INTC_APIC_BASE_EXTD);
        } else if (op < 84) {
            res[k] = intc_lapic_set_tpr(l, (uint8_t)(x % 3 ? 0 : x));
        } else if (op < 87) {
            res[k] = intc_lapic_mmio_write(l, 0x20, 4, (x % 8) << 24);
        } else if (op < 92) {
            /* fixed IPI to all including self / all excluding self */
            uint32_t icr = (x & 1 ? 0x80000u : 0xc0000u) | (0x10 + x % 0xf0);
            res[k] = intc_lapic_mmio_write(l, 0x300, 4, icr) * 16 +
                     intc_lapic_msr_write(l, 0x830, icr);
        } else if (op < 96) {
            res[k] = intc_lapic_post(l, (uint8_t)(0x10 + x % 0xf0), x & 1);
        } else {
            res[k] = intc_lapic_reset(l, x & 1);
        }
    }
}

static void compare(intc_machine *m[2], fp_host *h[2], unsigned i)
{
    size_t n[2] = {0, 0};
    uint8_t *img[2];
    char msg[200];

    assert_int_equal(h[0]->n_kicks, h[1]->n_kicks);
    assert_memory_equal(h[0]->kicks, h[1]->kicks,
                        sizeof(uint32_t) * (h[0]->n_kicks < MAX_KICKS
                                                ? h[0]->n_kicks
                                                : MAX_KICKS));
    for (int k = 0; k < 2; k++) {
        assert_int_equal(intc_machine_check(m[k], msg, sizeof msg), INTC_OK);
        assert_int_equal(intc_machine_save(m[k], NULL, 0, &n[k]),
                         INTC_ERR_NOSPC);
        img[k] = malloc(n[k]);
        assert_non_null(img[k]);
        assert_int_equal(intc_machine_save(m[k], img[k], n[k], NULL),
                         INTC_OK);
    }
    assert_int_equal(n[0], n[1]);
    if (memcmp(img[0], img[1], n[0]) != 0)
        fail_msg("step %u: traced and untraced machines differ", i);
    free(img[0]);
    free(img[1]);
}

static void run(uint64_t seed, bool ext_dest, const uint32_t *ids,
                uint32_t nest, unsigned steps)
{
    fp_host *h[2];
    intc_machine *m[2];

    /* Both machines, traced and untraced, are built here whatever the
       harness mode: the .untraced registration would only repeat this. */
    if (!th_events_enabled())
        skip();
    rng_state = seed;
    for (int k = 0; k < 2; k++) {
        h[k] = malloc(sizeof *h[k]);
        assert_non_null(h[k]);
        m[k] = fp_machine(h[k], k == 0, ext_dest, ids);
        h[k]->nest = nest;
        /* Software-enable every CPU; make a few x2APIC. */
        for (uint32_t c = 0; c < NCPU; c++) {
            intc_lapic *l = intc_machine_lapic(m[k], c);
            assert_int_equal(intc_lapic_mmio_write(l, 0xf0, 4, 0x1ff),
                             INTC_OK);
        }
    }
    for (unsigned i = 0; i < steps; i++) {
        long res[2] = {0, 0};
        step(m, res);
        assert_int_equal(res[0], res[1]);
        compare(m, h, i);
        if (h[0]->n_kicks >= MAX_KICKS) {
            h[0]->n_kicks = h[1]->n_kicks = 0;
        }
    }
    assert_true(fp_events(h[0]) > 0);
    assert_int_equal(fp_events(h[1]), 0);
    for (int k = 0; k < 2; k++) {
        intc_machine_free(m[k]);
        kit_host_free(h[k]->k);
        free(h[k]);
    }
}

static void test_fastpath_dense_ids(void **state)
{
    (void)state;
    for (uint64_t s = 1; s <= 8; s++)
        run(s, false, NULL, 0, 600);
}

static void test_fastpath_ext_dest(void **state)
{
    (void)state;
    for (uint64_t s = 11; s <= 14; s++)
        run(s, true, NULL, 0, 600);
}

static void test_fastpath_sparse_ids(void **state)
{
    static const uint32_t ids[NCPU] = {0, 1, 7, 3, 0x20, 5};
    (void)state;
    for (uint64_t s = 21; s <= 24; s++)
        run(s, false, ids, 0, 600);
}

static void test_fastpath_nested_kicks(void **state)
{
    (void)state;
    for (uint64_t s = 31; s <= 36; s++)
        run(s, false, NULL, 3, 600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fastpath_dense_ids),
        cmocka_unit_test(test_fastpath_ext_dest),
        cmocka_unit_test(test_fastpath_sparse_ids),
        cmocka_unit_test(test_fastpath_nested_kicks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
