/*
 * Test harness: the fake host.  See harness.h.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each block carries its size in front, so the allocator can check the
   old_size libintc claims and keep exact live counts.  The union keeps the
   payload aligned for any type. */
typedef union th_block {
    max_align_t align;
    size_t size;
} th_block;

/* Fresh and freed memory are filled with patterns, so code that relies on
   zeroed allocations or reads freed memory misbehaves visibly even without
   sanitizers. */
#define TH_FRESH_BYTE 0xa5
#define TH_FREED_BYTE 0x5a

void *th_alloc(void *host, void *ptr, size_t old_size, size_t new_size)
{
    th_host *h = host;
    th_block *b = ptr ? (th_block *)ptr - 1 : NULL;

    if (b) {
        /* A wrong old_size is a libintc bug: a Lua-style host allocator
           may rely on it. */
        if (b->size != old_size)
            fail_msg("alloc(%p): old_size %zu, but the block has %zu bytes",
                     ptr, old_size, b->size);
        assert_true(h->live_blocks > 0);
    }
    if (new_size == 0) {
        if (b) {
            h->live_bytes -= b->size;
            h->live_blocks--;
            memset(b, TH_FREED_BYTE, sizeof(*b) + b->size);
            free(b);
        }
        return NULL;
    }

    h->n_allocs++;
    if (h->fail_at != 0 && h->n_allocs == h->fail_at) {
        h->n_failed++;
        return NULL; /* a failed realloc leaves the old block alone */
    }
    if (new_size > SIZE_MAX - sizeof(th_block))
        return NULL;

    size_t old = b ? b->size : 0;
    th_block *nb = realloc(b, sizeof(th_block) + new_size);
    if (!nb)
        return NULL;
    if (new_size > old)
        memset((unsigned char *)(nb + 1) + old, TH_FRESH_BYTE, new_size - old);
    nb->size = new_size;
    if (!b)
        h->live_blocks++;
    h->live_bytes = h->live_bytes - old + new_size;
    if (h->live_bytes > h->peak_bytes)
        h->peak_bytes = h->live_bytes;
    return nb + 1;
}

static void th_kick(void *host, uint32_t cpu)
{
    th_host *h = host;

    h->n_kicks++;
    if (cpu < TH_MAX_CPUS)
        h->kicks[cpu]++;
}

void th_apic_base_changed(void *host, uint32_t cpu, uint64_t base)
{
    th_host *h = host;

    h->n_base_changes++;
    if (cpu < TH_MAX_CPUS) {
        h->base_changes[cpu]++;
        h->base_value[cpu] = base;
    }
}

static uint64_t th_now_ns(void *host, uint32_t cpu)
{
    th_host *h = host;

    h->n_now++;
    h->now_cpu = cpu;
    return h->now;
}

static void th_timer_arm(void *host, uint32_t cpu, uint64_t deadline_ns)
{
    th_host *h = host;

    h->n_arms++;
    if (cpu < TH_MAX_CPUS) {
        h->arms[cpu]++;
        h->deadline[cpu] = deadline_ns;
    }
}

static void th_event(void *host, const intc_event *ev)
{
    th_host *h = host;

    /* Out-of-range types would break th_count_events' callers' tables. */
    assert_true((unsigned)ev->type < (unsigned)INTC_EV_COUNT_);
    if (h->n_events < TH_MAX_EVENTS)
        h->events[h->n_events++] = *ev;
    else
        h->n_events_lost++;
}

bool th_events_enabled(void)
{
    /* Test binaries are single-threaded: a plain cache is enough. */
    static int enabled = -1;

    if (enabled < 0) {
        const char *v = getenv("INTC_TEST_EVENTS");
        enabled = !(v && strcmp(v, "0") == 0);
    }
    return enabled != 0;
}

bool th_traced(const th_host *h)
{
    return h->ops.event != NULL;
}

th_host *th_host_new(void)
{
    th_host *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    for (unsigned i = 0; i < TH_MAX_CPUS; i++)
        h->deadline[i] = UINT64_MAX;
    h->ops.version = INTC_HOST_OPS_VERSION;
    h->ops.kick = th_kick;
    h->ops.now_ns = th_now_ns;
    h->ops.timer_arm = th_timer_arm;
    h->ops.event = th_events_enabled() ? th_event : NULL;
    h->ops.alloc = th_alloc;
    /* dma_read/dma_write stay NULL: every access fails, the default. */
    return h;
}

void th_host_free(th_host *h)
{
    free(h);
}

int th_setup(void **state)
{
    th_host *h = th_host_new();

    if (!h)
        return -1;
    *state = h;
    return 0;
}

int th_teardown(void **state)
{
    th_host *h = *state;
    size_t live = h->live_bytes, blocks = h->live_blocks;

    th_host_free(h);
    *state = NULL;
    if (live != 0 || blocks != 0) {
        /* cmocka runs teardown after a failed assertion too, when the
           test never reached its intc_machine_free(): say so. */
        fprintf(stderr,
                "leak check: %zu bytes in %zu blocks still live (a leak, "
                "unless the test failed before freeing its machine)\n",
                live, blocks);
        return -1;
    }
    return 0;
}

intc_machine *th_machine(th_host *h, const intc_machine_config *cfg)
{
    intc_machine_config def;
    intc_err err = INTC_OK;

    if (!cfg) {
        intc_machine_config_init(&def);
        cfg = &def;
    }
    intc_machine *m = intc_machine_new(cfg, &h->ops, h, &err);
    if (!m)
        fail_msg("intc_machine_new failed: %s (%s)", intc_err_name(err),
                 intc_strerror(err));
    return m;
}

intc_machine *th_machine_n(th_host *h, uint32_t n_cpus)
{
    intc_machine_config cfg;

    intc_machine_config_init(&cfg);
    cfg.n_cpus = n_cpus;
    return th_machine(h, &cfg);
}

static int th_match(const intc_event *ev, intc_event_type type, uint32_t cpu,
                    int32_t vector)
{
    return ev->type == type && (cpu == TH_ANY_CPU || ev->cpu == cpu) &&
           (vector == TH_ANY_VECTOR || ev->vector == vector);
}

size_t th_count_events(const th_host *h, intc_event_type type)
{
    size_t n = 0;

    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == type;
    return n;
}

const intc_event *th_find_event(const th_host *h, intc_event_type type,
                                uint32_t cpu, int32_t vector)
{
    for (size_t i = 0; i < h->n_events; i++)
        if (th_match(&h->events[i], type, cpu, vector))
            return &h->events[i];
    return NULL;
}

const intc_event *th_last_event(const th_host *h, intc_event_type type)
{
    for (size_t i = h->n_events; i-- > 0;)
        if (h->events[i].type == type)
            return &h->events[i];
    return NULL;
}

void th_clear_events(th_host *h)
{
    h->n_events = 0;
    h->n_events_lost = 0;
}

void th_dump_events(const th_host *h)
{
    for (size_t i = 0; i < h->n_events; i++) {
        const intc_event *ev = &h->events[i];

        fprintf(stderr,
                "  #%zu %-14s cpu=%ld vector=%ld unit=%lu pin=%#lx "
                "data=%#llx data2=%#llx\n",
                i, intc_event_name(ev->type),
                ev->cpu == INTC_NO_CPU ? -1L : (long)ev->cpu, (long)ev->vector,
                (unsigned long)ev->unit, (unsigned long)ev->pin,
                (unsigned long long)ev->data, (unsigned long long)ev->data2);
    }
    if (h->n_events_lost)
        fprintf(stderr, "  (%zu more events not recorded)\n", h->n_events_lost);
}
