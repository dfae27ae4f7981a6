/*
 * Test harness: a fake host for libintc unit tests.
 *
 * A th_host plays the embedding program: its clock stands still until a test
 * moves h->now, it records every timer_arm(), kick() and event, and its
 * allocator counts allocations, can be told to fail the Nth one, and keeps
 * the live byte count so a test can prove that nothing leaked.
 *
 * Typical use with cmocka:
 *
 *     static void test_x(void **state)
 *     {
 *         th_host *h = *state;
 *         intc_machine *m = th_machine(h, NULL);
 *         ...
 *         intc_machine_free(m);
 *     }
 *     ...
 *     cmocka_unit_test_setup_teardown(test_x, th_setup, th_teardown),
 *
 * th_teardown fails the test if any allocated byte is still live.
 *
 * Traced and untraced runs: the environment variable INTC_TEST_EVENTS
 * (read once) selects whether a th_host installs its event callback.
 * Unset or "1": it does and records every event.  "0": ops.event stays
 * NULL, so the library runs the code of a host without tracing, and
 * nothing is recorded.  ctest runs every test binary both ways
 * (tests/CMakeLists.txt).  Assertions about recorded events go through
 * th_assert_event() and friends or sit under TH_IF_TRACED(h) { ... }; all
 * other assertions hold in both modes.
 */
#ifndef INTC_TESTS_HARNESS_H
#define INTC_TESTS_HARNESS_H

/* cmocka.h needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <intc/intc.h>

/* Per-CPU records exist for this many CPUs; callbacks for higher CPU
   indices only count in the totals. */
#define TH_MAX_CPUS 64u
/* Events beyond this many are counted in n_events_lost, not stored. */
#define TH_MAX_EVENTS 4096u

/* Wildcards for th_find_event(). */
#define TH_ANY_CPU (UINT32_MAX - 1u)
#define TH_ANY_VECTOR (-2)

typedef struct th_host {
    /* Clock returned by now_ns(); tests move it by hand.  n_now counts
       the reads, now_cpu is the cpu argument of the last one. */
    uint64_t now;
    unsigned n_now;
    uint32_t now_cpu;

    /* timer_arm(): the last deadline per CPU (UINT64_MAX when disarmed or
       never armed) and how many times it was called. */
    uint64_t deadline[TH_MAX_CPUS];
    unsigned arms[TH_MAX_CPUS];
    unsigned n_arms;

    /* th_apic_base_changed() calls per CPU and in total, and the last
       value per CPU (0 before any call). */
    unsigned base_changes[TH_MAX_CPUS];
    uint64_t base_value[TH_MAX_CPUS];
    unsigned n_base_changes;

    /* kick() calls per CPU and in total. */
    unsigned kicks[TH_MAX_CPUS];
    unsigned n_kicks;

    /* Every event(), in order. */
    intc_event events[TH_MAX_EVENTS];
    size_t n_events;
    size_t n_events_lost;

    /* Allocator.  n_allocs counts calls that (re)allocate (new_size > 0);
       when fail_at is non-zero the fail_at-th of them returns NULL.  Live
       counts cover blocks handed out and not yet freed. */
    unsigned long n_allocs;
    unsigned long fail_at;
    unsigned long n_failed;
    size_t live_bytes;
    size_t live_blocks;
    size_t peak_bytes;

    /* Every callback above, version set; pass &h->ops, h.  ops.event is
       NULL when the host is untraced (th_traced). */
    intc_host_ops ops;
} th_host;

/* A fresh host (heap-allocated: it is large). th_host_free(NULL) is a
   no-op. */
th_host *th_host_new(void);
void th_host_free(th_host *h);

/* cmocka fixtures: *state becomes a new th_host; teardown asserts that no
   allocation is still live, then frees it. */
int th_setup(void **state);
int th_teardown(void **state);

/* A machine with cfg (NULL: intc_machine_config_init defaults) on h's
   callbacks; fails the test if creation fails. */
intc_machine *th_machine(th_host *h, const intc_machine_config *cfg);
/* Shorthand: defaults with n_cpus CPUs. */
intc_machine *th_machine_n(th_host *h, uint32_t n_cpus);

/* INTC_TEST_EVENTS from the environment: false when it is "0", true
   otherwise.  Read on the first call. */
bool th_events_enabled(void);
/* Whether h records events (its ops.event is installed).  Untraced hosts
   record nothing: th_count_events() is 0, th_find_event() NULL. */
bool th_traced(const th_host *h);

/* Run the following statement (a block) only when h records events: for
   assertions that read h->events or a value computed from them. */
#define TH_IF_TRACED(h) if (th_traced(h))

/* Event assertions, no-ops on an untraced host.  Macros, so cmocka reports
   the caller's line. */
#define th_assert_event(h, type, cpu, vector)                                \
    do {                                                                     \
        if (th_traced(h))                                                    \
            assert_non_null(th_find_event((h), (type), (cpu), (vector)));    \
    } while (0)
#define th_assert_no_event(h, type, cpu, vector)                             \
    do {                                                                     \
        if (th_traced(h))                                                    \
            assert_null(th_find_event((h), (type), (cpu), (vector)));        \
    } while (0)
#define th_assert_event_count(h, type, n)                                    \
    do {                                                                     \
        if (th_traced(h))                                                    \
            assert_int_equal(th_count_events((h), (type)), (n));             \
    } while (0)
/* No event at all was recorded. */
#define th_assert_no_events(h)                                               \
    do {                                                                     \
        if (th_traced(h))                                                    \
            assert_int_equal((h)->n_events, 0);                              \
    } while (0)

/* An intc_delivery (common.h) is exactly status, reason, n_cpus, irte. */
#define assert_delivery(d, st, rsn, n, ix)                                  \
    do {                                                                    \
        assert_int_equal((d).status, (st));                                 \
        assert_int_equal((d).reason, (rsn));                                \
        assert_int_equal((d).n_cpus, (n));                                  \
        assert_int_equal((d).irte, (ix));                                   \
    } while (0)

/* Number of recorded events of that type. */
size_t th_count_events(const th_host *h, intc_event_type type);
/* The first recorded event of that type for cpu and vector (TH_ANY_CPU,
   TH_ANY_VECTOR match anything), or NULL. */
const intc_event *th_find_event(const th_host *h, intc_event_type type,
                                uint32_t cpu, int32_t vector);
/* The last recorded event of that type, or NULL. */
const intc_event *th_last_event(const th_host *h, intc_event_type type);
/* The last recorded event of that type exists and its field (a member of
   intc_event) equals want; a no-op on an untraced host. */
#define th_assert_last_event(h, type, field, want)                           \
    do {                                                                     \
        TH_IF_TRACED(h) {                                                    \
            const intc_event *th_le_ = th_last_event((h), (type));           \
            assert_non_null(th_le_);                                         \
            assert_int_equal(th_le_->field, (want));                         \
        }                                                                    \
    } while (0)
/* Forget recorded events (not timers, kicks or allocator counts). */
void th_clear_events(th_host *h);
/* Print the recorded events to stderr, to explain a failing assertion. */
void th_dump_events(const th_host *h);

/* An apic_base_changed() recorder (host = the th_host).  Not in h->ops by
   default, since test hosts that wrap h->ops pass their own host pointer;
   a test that wants it sets h->ops.apic_base_changed to it. */
void th_apic_base_changed(void *host, uint32_t cpu, uint64_t base);

/* The allocator behind h->ops.alloc, exposed for direct tests. */
void *th_alloc(void *host, void *ptr, size_t old_size, size_t new_size);

#endif /* INTC_TESTS_HARNESS_H */
