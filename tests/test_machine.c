/*
 * Machine object: configuration defaults and validation, creation and
 * teardown under allocation failure, lookups, names and versions.
 * Each expectation cites the header sentence it checks.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* intc_machine_new with cfg must fail with want and leak nothing
   (machine.h: "Returns NULL on failure with *err ... set ... nothing is
   leaked"). */
static void expect_new_fails(th_host *h, const intc_machine_config *cfg,
                             intc_err want)
{
    intc_err err = INTC_OK;
    intc_machine *m = intc_machine_new(cfg, &h->ops, h, &err);

    if (m) {
        intc_machine_free(m);
        fail_msg("intc_machine_new succeeded, expected %s",
                 intc_err_name(want));
    }
    if (err != want)
        fail_msg("intc_machine_new: got %s, expected %s", intc_err_name(err),
                 intc_err_name(want));
    assert_int_equal(h->live_bytes, 0);
    assert_int_equal(h->live_blocks, 0);
}

/* Creation with cfg must succeed; the machine is freed again. */
static void expect_new_ok(th_host *h, const intc_machine_config *cfg)
{
    intc_machine_free(th_machine(h, cfg));
    assert_int_equal(h->live_bytes, 0);
}

static void test_config_defaults(void **state)
{
    intc_machine_config cfg;

    (void)state;
    /* Garbage first: init must set every documented field. */
    memset(&cfg, 0xa5, sizeof(cfg));
    intc_machine_config_init(&cfg);
    assert_int_equal(cfg.version, INTC_MACHINE_CONFIG_VERSION);
    assert_int_equal(cfg.n_cpus, 1);
    assert_null(cfg.apic_ids);
    assert_int_equal(cfg.bsp, 0);
    assert_true(cfg.x2apic);
    assert_true(cfg.tsc_deadline);
    assert_false(cfg.directed_eoi);
    assert_true(cfg.lvt_cmci);
    assert_true(cfg.lowest_priority_ipi);
    assert_false(cfg.focus_processor);
    assert_false(cfg.apic_bus_errors);
    assert_int_equal(cfg.lapic_version, 0x14);
    assert_int_equal(cfg.phys_addr_bits, 46);
    assert_int_equal(cfg.apic_timer_hz, 1000000000ull);
    assert_int_equal(cfg.tsc_hz, 1000000000ull);
}

static void test_new_default(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine(h, NULL);

    assert_int_equal(intc_machine_cpu_count(m), 1);
    assert_non_null(intc_machine_lapic(m, 0));
    assert_null(intc_machine_lapic(m, 1));
    /* Every other model is absent until configured. */
    assert_null(intc_machine_ioapic(m, 0));
    assert_null(intc_machine_iommu(m));
    assert_int_equal(intc_machine_check(m, NULL, 0), INTC_OK);
    intc_machine_free(m);
}

static void test_new_null_ops(void **state)
{
    intc_machine_config cfg;
    intc_err err = INTC_ERR_INVAL;

    (void)state;
    /* common.h: ops may be NULL, meaning every default. */
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    intc_machine *m = intc_machine_new(&cfg, NULL, NULL, &err);
    assert_non_null(m);
    assert_int_equal(intc_machine_cpu_count(m), 2);
    intc_machine_free(m);
}

static void test_new_null_cfg(void **state)
{
    th_host *h = *state;

    expect_new_fails(h, NULL, INTC_ERR_INVAL);
    /* err may be NULL. */
    assert_null(intc_machine_new(NULL, &h->ops, h, NULL));
}

static void test_new_bad_versions(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_host_ops ops = h->ops;
    intc_err err = INTC_OK;

    intc_machine_config_init(&cfg);
    cfg.version = 0;
    expect_new_fails(h, &cfg, INTC_ERR_VERSION);
    cfg.version = INTC_MACHINE_CONFIG_VERSION + 1;
    expect_new_fails(h, &cfg, INTC_ERR_VERSION);

    /* common.h: any other ops version is refused with INTC_ERR_VERSION. */
    intc_machine_config_init(&cfg);
    ops.version = 0;
    assert_null(intc_machine_new(&cfg, &ops, h, &err));
    assert_int_equal(err, INTC_ERR_VERSION);
    ops.version = INTC_HOST_OPS_VERSION + 1;
    err = INTC_OK;
    assert_null(intc_machine_new(&cfg, &ops, h, &err));
    assert_int_equal(err, INTC_ERR_VERSION);
    ops.version = 1000;
    err = INTC_OK;
    assert_null(intc_machine_new(&cfg, &ops, h, &err));
    assert_int_equal(err, INTC_ERR_VERSION);
    assert_int_equal(h->live_bytes, 0);
}

/* common.h "at least" versions: a version-1 host ops table is accepted;
   the members added by version 2 (apic_base_changed) are treated as NULL
   even when the caller's memory after the version-1 members holds
   garbage, and nothing past the version-1 members is read: the table is
   allocated at exactly the version-1 size (offsetof the first version-2
   member), so ASan reports any read beyond it. */
static void test_host_ops_version1_prefix(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    intc_host_ops full = h->ops;
    intc_host_ops *v1;
    const size_t v1_size = offsetof(intc_host_ops, apic_base_changed);
    intc_machine *m;
    intc_err err = INTC_ERR_CORRUPT;

    intc_machine_config_init(&cfg);
    assert_true(v1_size < sizeof(intc_host_ops));
    h->ops.apic_base_changed = th_apic_base_changed;

    /* Garbage where version 2's member would be: never called. */
    full.version = 1;
    memset(&full.apic_base_changed, 0xa5, sizeof(full.apic_base_changed));
    m = intc_machine_new(&cfg, &full, h, &err);
    assert_non_null(m);
    assert_int_equal(err, INTC_OK);
    assert_int_equal(intc_lapic_msr_write(intc_machine_lapic(m, 0),
                                          INTC_MSR_APIC_BASE,
                                          0xfed00000ull | INTC_APIC_BASE_EN),
                     INTC_OK);
    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(h->n_base_changes, 0);
    intc_machine_free(m);

    /* Exactly the version-1 bytes (apic_base_changed set in h->ops, not
       copied). */
    v1 = malloc(v1_size);
    assert_non_null(v1);
    full = h->ops;
    full.version = 1;
    memcpy(v1, &full, v1_size);
    err = INTC_ERR_CORRUPT;
    m = intc_machine_new(&cfg, v1, h, &err);
    free(v1); /* the machine keeps its own copy */
    assert_non_null(m);
    assert_int_equal(err, INTC_OK);
    /* The version-1 callbacks work: kick, now_ns, timer_arm, alloc. */
    intc_lapic *l = intc_machine_lapic(m, 0);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    h->now = 100;
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x40),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 10),
                     INTC_OK);
    assert_int_equal(h->deadline[0], 120); /* read now_ns, armed */
    assert_int_equal(intc_lapic_msr_write(l, INTC_MSR_APIC_BASE,
                                          0xfed00000ull | INTC_APIC_BASE_EN),
                     INTC_OK);
    assert_int_equal(h->n_base_changes, 0);
    assert_true(h->live_bytes > 0); /* allocated through alloc() */
    intc_machine_free(m);

    /* The current version gets the version-2 member. */
    m = intc_machine_new(&cfg, &h->ops, h, &err);
    assert_non_null(m);
    assert_int_equal(intc_lapic_msr_write(intc_machine_lapic(m, 0),
                                          INTC_MSR_APIC_BASE,
                                          0xfed00000ull | INTC_APIC_BASE_EN),
                     INTC_OK);
    assert_int_equal(h->n_base_changes, 1);
    intc_machine_free(m);
}

static void test_new_cpu_count(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 0;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.n_cpus = INTC_MAX_CPUS + 1;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.n_cpus = UINT32_MAX;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
}

static void test_new_duplicate_ids(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    const uint32_t adjacent[] = {0, 1, 1, 3};
    const uint32_t apart[] = {5, 7, 9, 5};
    const uint32_t x2[] = {0x10000, 2, 0x10000};

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.apic_ids = adjacent;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.apic_ids = apart;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.n_cpus = 3;
    cfg.apic_ids = x2;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
}

static void test_new_id_limits(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    uint32_t ids[2] = {0, 0xffffffffu};

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    cfg.apic_ids = ids;
    /* 0xFFFFFFFF is the x2APIC broadcast destination: no CPU can own it. */
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    ids[1] = 0xfffffffeu;
    expect_new_ok(h, &cfg);

    /* machine.h: without x2APIC, IDs are < 255 (0xFF is the xAPIC
       broadcast). */
    cfg.x2apic = false;
    ids[1] = 255;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    ids[1] = 0x100;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    ids[1] = 254;
    expect_new_ok(h, &cfg);

    /* Default IDs are the indices: 255 CPUs fit without x2APIC, 256 do
       not. */
    cfg.apic_ids = NULL;
    cfg.n_cpus = 255;
    expect_new_ok(h, &cfg);
    cfg.n_cpus = 256;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.x2apic = true;
    expect_new_ok(h, &cfg);
}

static void test_new_bsp(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.bsp = 4;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.bsp = UINT32_MAX;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    cfg.bsp = 3;
    expect_new_ok(h, &cfg);
}

static void test_new_frequencies(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;

    /* A zero clock would make every timer computation divide by zero
       (DESIGN.md: "no mode or register sequence may divide by zero"). */
    intc_machine_config_init(&cfg);
    cfg.apic_timer_hz = 0;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    intc_machine_config_init(&cfg);
    cfg.tsc_hz = 0;
    expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    intc_machine_config_init(&cfg);
    cfg.apic_timer_hz = 1;
    cfg.tsc_hz = 1;
    expect_new_ok(h, &cfg);
}

static void test_new_lapic_version(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    const uint8_t bad[] = {0x00, 0x0f, 0x16, 0x20, 0xff};

    intc_machine_config_init(&cfg);
    for (size_t i = 0; i < sizeof(bad); i++) {
        cfg.lapic_version = bad[i];
        expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    }
    for (unsigned v = 0x10; v <= 0x15; v++) {
        cfg.lapic_version = (uint8_t)v;
        expect_new_ok(h, &cfg);
    }
}

static void test_new_phys_addr_bits(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    const uint8_t bad[] = {0, 31, 53, 64, 255};

    intc_machine_config_init(&cfg);
    for (size_t i = 0; i < sizeof(bad); i++) {
        cfg.phys_addr_bits = bad[i];
        expect_new_fails(h, &cfg, INTC_ERR_INVAL);
    }
    cfg.phys_addr_bits = 32;
    expect_new_ok(h, &cfg);
    cfg.phys_addr_bits = 52;
    expect_new_ok(h, &cfg);
}

static void test_lapic_lookup(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    uint32_t ids[4] = {0x10, 0x2, 0x7f, 0x40};

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.apic_ids = ids;
    intc_machine *m = th_machine(h, &cfg);
    /* machine.h: the machine copies what it needs. */
    memset(ids, 0, sizeof(ids));

    assert_int_equal(intc_machine_cpu_count(m), 4);
    const uint32_t want[4] = {0x10, 0x2, 0x7f, 0x40};
    for (uint32_t i = 0; i < 4; i++) {
        intc_lapic *l = intc_machine_lapic(m, i);
        assert_non_null(l);
        assert_int_equal(intc_lapic_cpu(l), i);
        assert_int_equal(intc_lapic_initial_id(l), want[i]);
        for (uint32_t j = 0; j < i; j++)
            assert_ptr_not_equal(l, intc_machine_lapic(m, j));
    }
    assert_null(intc_machine_lapic(m, 4));
    assert_null(intc_machine_lapic(m, INTC_NO_CPU));
    intc_machine_free(m);

    /* Default IDs are the CPU indices. */
    cfg.apic_ids = NULL;
    m = th_machine(h, &cfg);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(intc_lapic_initial_id(intc_machine_lapic(m, i)), i);
    intc_machine_free(m);
}

static void test_free_null(void **state)
{
    (void)state;
    intc_machine_free(NULL);
}

static void test_check_message(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 8);
    char msg[128];

    memset(msg, 'x', sizeof(msg));
    assert_int_equal(intc_machine_check(m, msg, sizeof(msg)), INTC_OK);
    assert_int_equal(intc_machine_check(m, msg, 0), INTC_OK);
    intc_machine_free(m);
}

static void test_strerror_all(void **state)
{
    static const struct {
        intc_err err;
        const char *name, *str;
    } codes[] = {
#define TH_ERR_ROW(name, val, str) {INTC_ERR_##name, #name, str},
        INTC_ERRNO_MAP(TH_ERR_ROW)
#undef TH_ERR_ROW
    };
    const int unknown[] = {1, 2, -14, -100, 12345, -2147483647};

    (void)state;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_string_equal(intc_err_name(codes[i].err), codes[i].name);
        assert_string_equal(intc_strerror(codes[i].err), codes[i].str);
    }
    assert_string_equal(intc_err_name(INTC_OK), "OK");
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_string_equal(intc_err_name((intc_err)unknown[i]), "UNKNOWN");
        assert_string_equal(intc_strerror((intc_err)unknown[i]),
                            "unknown error");
    }
}

static void test_event_names(void **state)
{
    static const char *const names[] = {
#define TH_EV_ROW(name, str) str,
        INTC_EVENT_MAP(TH_EV_ROW)
#undef TH_EV_ROW
    };

    (void)state;
    assert_int_equal(sizeof(names) / sizeof(names[0]), INTC_EV_COUNT_);
    for (int t = 0; t < INTC_EV_COUNT_; t++) {
        assert_string_equal(intc_event_name((intc_event_type)t), names[t]);
        for (int u = 0; u < t; u++)
            assert_string_not_equal(names[t], names[u]);
    }
    assert_string_equal(intc_event_name(INTC_EV_IRR_SET), "irr_set");
    assert_string_equal(intc_event_name(INTC_EV_BAD_ACCESS), "bad_access");
    assert_string_equal(intc_event_name(INTC_EV_COUNT_), "unknown");
    assert_string_equal(intc_event_name((intc_event_type)-1), "unknown");
    assert_string_equal(intc_event_name((intc_event_type)1000), "unknown");
}

static void test_version(void **state)
{
    char want[32];

    (void)state;
    assert_int_equal(intc_version(), INTC_VERSION_HEX);
    snprintf(want, sizeof(want), "%d.%d.%d", INTC_VERSION_MAJOR,
             INTC_VERSION_MINOR, INTC_VERSION_PATCH);
    assert_string_equal(intc_version_string(), want);
    /* A static string: the same pointer every time. */
    assert_ptr_equal(intc_version_string(), intc_version_string());
}

/* common.h INTC_VERSION_COMPATIBLE / INTC_VERSION_CHECK: same major; for
   0.x the same minor; from 1.0 a library minor >= the header's; the
   patch level never matters. */
static void test_version_check(void **state)
{
#define V(a, b, c) ((unsigned)((a) << 16 | (b) << 8 | (c)))
    (void)state;
    assert_true(INTC_VERSION_CHECK());
    assert_true(INTC_VERSION_COMPATIBLE(INTC_VERSION_HEX, intc_version()));
    assert_true(INTC_VERSION_COMPATIBLE(V(0, 2, 0), V(0, 2, 0)));
    assert_true(INTC_VERSION_COMPATIBLE(V(0, 2, 0), V(0, 2, 7)));
    assert_true(INTC_VERSION_COMPATIBLE(V(0, 2, 9), V(0, 2, 1)));
    assert_false(INTC_VERSION_COMPATIBLE(V(0, 1, 0), V(0, 2, 0)));
    assert_false(INTC_VERSION_COMPATIBLE(V(0, 2, 0), V(0, 1, 0)));
    assert_false(INTC_VERSION_COMPATIBLE(V(0, 3, 0), V(0, 2, 0)));
    assert_false(INTC_VERSION_COMPATIBLE(V(0, 2, 0), V(1, 2, 0)));
    assert_true(INTC_VERSION_COMPATIBLE(V(1, 0, 0), V(1, 0, 0)));
    assert_true(INTC_VERSION_COMPATIBLE(V(1, 0, 0), V(1, 4, 0)));
    assert_true(INTC_VERSION_COMPATIBLE(V(1, 3, 5), V(1, 3, 0)));
    assert_false(INTC_VERSION_COMPATIBLE(V(1, 4, 0), V(1, 3, 9)));
    assert_false(INTC_VERSION_COMPATIBLE(V(1, 0, 0), V(2, 0, 0)));
    assert_false(INTC_VERSION_COMPATIBLE(V(2, 0, 0), V(1, 9, 0)));
#undef V
}

/* Fail the 1st, 2nd, ... allocation of a creation until one succeeds:
   every failure must be a clean INTC_ERR_NOMEM with nothing leaked. */
static void test_alloc_failures(void **state)
{
    th_host *h = *state;
    intc_machine_config cfg;
    const uint32_t ids[4] = {3, 0x20000, 7, 0x1000};
    intc_machine *m = NULL;
    unsigned long n;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = 4;
    cfg.apic_ids = ids;
    cfg.bsp = 2;
    for (n = 1; n < 10000 && !m; n++) {
        intc_err err = INTC_OK;

        h->n_allocs = 0;
        h->fail_at = n;
        m = intc_machine_new(&cfg, &h->ops, h, &err);
        if (m) {
            /* Success only once the failing allocation is never reached. */
            assert_true(h->n_allocs < n);
            break;
        }
        if (err != INTC_ERR_NOMEM)
            fail_msg("failing allocation %lu: got %s, expected NOMEM", n,
                     intc_err_name(err));
        /* It may or may not try the allocations after the failed one. */
        assert_true(h->n_allocs >= n);
        assert_int_equal(h->live_bytes, 0);
        assert_int_equal(h->live_blocks, 0);
    }
    assert_non_null(m);
    /* The loop must have exercised at least one failing allocation. */
    assert_true(n > 1);
    assert_true(h->peak_bytes > 0);
    assert_true(h->live_bytes > 0);
    h->fail_at = 0;

    /* machine.h: "No callback runs during or after [free]". */
    size_t events = h->n_events;
    unsigned arms = h->n_arms, kicks = h->n_kicks;
    intc_machine_free(m);
    assert_int_equal(h->n_events, events);
    assert_int_equal(h->n_arms, arms);
    assert_int_equal(h->n_kicks, kicks);
    assert_int_equal(h->live_bytes, 0);
    assert_int_equal(h->live_blocks, 0);
}

/* STYLE rule 1: several machines coexist in one process, independent. */
static void test_machines_coexist(void **state)
{
    th_host *h = *state;
    th_host *h2 = th_host_new();
    intc_machine_config cfg;
    uint64_t svr = 0;

    assert_non_null(h2);
    intc_machine_config_init(&cfg);
    cfg.n_cpus = 2;
    intc_machine *a = th_machine(h, &cfg);
    cfg.n_cpus = 3;
    intc_machine *b = th_machine(h2, &cfg);
    intc_machine *c = th_machine(h, NULL);

    assert_int_equal(intc_machine_cpu_count(a), 2);
    assert_int_equal(intc_machine_cpu_count(b), 3);
    assert_int_equal(intc_machine_cpu_count(c), 1);
    assert_ptr_not_equal(intc_machine_lapic(a, 0), intc_machine_lapic(b, 0));
    assert_ptr_not_equal(intc_machine_lapic(a, 0), intc_machine_lapic(c, 0));

    /* machine.h: every CPU starts with SVR=0xFF.  Changing one machine's
       SVR leaves the others alone. */
    assert_int_equal(intc_lapic_mmio_write(intc_machine_lapic(b, 0),
                                           INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    assert_int_equal(
        intc_lapic_mmio_read(intc_machine_lapic(a, 0), INTC_LAPIC_SVR, 4, &svr),
        INTC_OK);
    assert_int_equal(svr & 0x1ff, 0xff);
    assert_int_equal(
        intc_lapic_mmio_read(intc_machine_lapic(b, 0), INTC_LAPIC_SVR, 4, &svr),
        INTC_OK);
    assert_int_equal(svr & 0x1ff, 0x1ff);

    /* Free in a different order than created. */
    intc_machine_free(b);
    assert_int_equal(h2->live_bytes, 0);
    assert_int_equal(intc_machine_check(a, NULL, 0), INTC_OK);
    intc_machine_free(a);
    assert_int_equal(intc_machine_check(c, NULL, 0), INTC_OK);
    intc_machine_free(c);
    th_host_free(h2);
}

/* machine.h: reset disarms host timers through timer_arm(UINT64_MAX). */
static void test_reset_disarms_timer(void **state)
{
    th_host *h = *state;
    intc_machine *m = th_machine_n(h, 2);
    intc_lapic *l = intc_machine_lapic(m, 1);

    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_SVR, 4, 0x1ff),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_DCR, 4, 0xb),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_LVT_TIMER, 4, 0x40),
                     INTC_OK);
    assert_int_equal(intc_lapic_mmio_write(l, INTC_LAPIC_TIMER_ICR, 4, 1000),
                     INTC_OK);
    assert_int_not_equal(h->deadline[1], UINT64_MAX);
    assert_int_equal(intc_lapic_timer_deadline(l), h->deadline[1]);

    assert_int_equal(intc_machine_reset(m), INTC_OK);
    assert_int_equal(h->deadline[1], UINT64_MAX);
    assert_int_equal(intc_lapic_timer_deadline(l), UINT64_MAX);
    assert_int_equal(intc_machine_check(m, NULL, 0), INTC_OK);
    intc_machine_free(m);
}

#define T(f) cmocka_unit_test_setup_teardown(f, th_setup, th_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_defaults),
        T(test_new_default),
        T(test_new_null_ops),
        T(test_new_null_cfg),
        T(test_new_bad_versions),
        T(test_host_ops_version1_prefix),
        T(test_new_cpu_count),
        T(test_new_duplicate_ids),
        T(test_new_id_limits),
        T(test_new_bsp),
        T(test_new_frequencies),
        T(test_new_lapic_version),
        T(test_new_phys_addr_bits),
        T(test_lapic_lookup),
        T(test_free_null),
        T(test_check_message),
        T(test_strerror_all),
        T(test_event_names),
        T(test_version),
        T(test_version_check),
        T(test_alloc_failures),
        T(test_machines_coexist),
        T(test_reset_disarms_timer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
