/*
 * Test harness: the test kit's host (testkit/kit.h) under cmocka.  See
 * harness.h.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void th_fail(const char *msg)
{
    fail_msg("%s", msg);
}

void *th_alloc(void *host, void *ptr, size_t old_size, size_t new_size)
{
    return kit_alloc(host, ptr, old_size, new_size);
}

void th_apic_base_changed(void *host, uint32_t cpu, uint64_t base)
{
    kit_host_ops(false).apic_base_changed(host, cpu, base);
}

void th_full_ops(th_host *h)
{
    h->ops = kit_host_ops(th_traced(h));
}

void th_ioapic_ops(th_host *h)
{
    intc_host_ops k = kit_host_ops(false);

    h->ops.eoi = k.eoi;
    h->ops.ioapic_timer_arm = k.ioapic_timer_arm;
}

uint8_t *th_guest_memory(th_host *h, uint64_t base, uint64_t size)
{
    intc_host_ops k = kit_host_ops(false);
    uint8_t *mem = kit_mem(h, base, size);

    h->ops.dma_read = k.dma_read;
    h->ops.dma_write = k.dma_write;
    if (mem)
        memset(mem, 0, (size_t)size);
    else
        mem = kit_region_add(h, base, size);
    if (!mem)
        fail_msg("guest memory [%#llx, +%#llx): out of memory or overlap",
                 (unsigned long long)base, (unsigned long long)size);
    return mem;
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
    return kit_traced(h);
}

th_host *th_host_new(void)
{
    th_host *h = kit_host_new(th_events_enabled());

    if (!h)
        return NULL;
    h->fail = th_fail;
    /* The library's defaults for these: test hosts that wrap h->ops
       replace only some members and pass their own host pointer. */
    h->ops.dma_read = NULL;
    h->ops.dma_write = NULL;
    h->ops.eoi = NULL;
    h->ops.ioapic_timer_arm = NULL;
    h->ops.apic_base_changed = NULL;
    return h;
}

void th_host_free(th_host *h)
{
    kit_host_free(h);
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
    intc_err err = INTC_OK;
    intc_machine *m = kit_machine(h, cfg, &err);

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

size_t th_count_events(const th_host *h, intc_event_type type)
{
    return kit_count_events(h, type);
}

const intc_event *th_find_event(const th_host *h, intc_event_type type,
                                uint32_t cpu, int32_t vector)
{
    return kit_find_event(h, type, cpu, vector);
}

const intc_event *th_last_event(const th_host *h, intc_event_type type)
{
    return kit_last_event(h, type);
}

void th_clear_events(th_host *h)
{
    kit_clear_events(h);
}

void th_dump_events(const th_host *h)
{
    kit_dump_events(h);
}
