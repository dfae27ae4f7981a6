/*
 * Test harness: the test kit's host (testkit/kit.h) for libintc's cmocka
 * unit tests; no test file has a host of its own.
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

#include "kit.h"

/* The host is the test kit's (testkit/kit.h): th_host is a kit_host, its
   fields (now, deadline[], kicks[], events[], the allocator's counts...)
   are read directly.  Per-CPU arrays cover the machine kit_machine()
   (th_machine) made. */
typedef kit_host th_host;

#define TH_MAX_CPUS KIT_DEFAULT_CPUS
#define TH_MAX_EVENTS KIT_DEFAULT_MAX_EVENTS

/* Wildcards for th_find_event(). */
#define TH_ANY_CPU KIT_ANY_CPU
#define TH_ANY_VECTOR KIT_ANY_VECTOR

/* A fresh host, traced per INTC_TEST_EVENTS, whose contract checks fail
   the test; ops has kick, now_ns, timer_arm, event (traced) and alloc;
   dma_read, dma_write, eoi, ioapic_timer_arm and apic_base_changed stay
   NULL (the library's defaults) until a test installs the kit's
   (th_full_ops, th_ioapic_ops, th_guest_memory, or single members of
   kit_host_ops()); behaviour on a callback goes in h->hooks.
   th_host_free(NULL) is a no-op. */
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

/* The kit's apic_base_changed() recorder (host = the th_host).  Not in
   h->ops by default (the library's default is tested too); a test that
   wants it sets h->ops.apic_base_changed to it. */
void th_apic_base_changed(void *host, uint32_t cpu, uint64_t base);

/* Install every callback of the kit in h->ops: guest memory (see
   kit_region_add), eoi() and ioapic_timer_arm() recorded,
   apic_base_changed() recorded. */
void th_full_ops(th_host *h);

/* Install the kit's eoi() and ioapic_timer_arm() in h->ops (recorded in
   n_eois/last_eoi_gsi and io_deadline[]/n_io_arms). */
void th_ioapic_ops(th_host *h);

/* Guest memory: install the kit's dma_read/dma_write in h->ops and return
   the region [base, base + size), zeroed (a region that is already there
   is reused, so a test may start several machines on one host); fails
   the test on out-of-memory or an overlap. */
uint8_t *th_guest_memory(th_host *h, uint64_t base, uint64_t size);

/* The allocator behind h->ops.alloc, exposed for direct tests. */
void *th_alloc(void *host, void *ptr, size_t old_size, size_t new_size);

#endif /* INTC_TESTS_HARNESS_H */
