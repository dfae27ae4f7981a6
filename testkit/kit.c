/*
 * testkit — the fake host.  See kit.h.
 */
#include "kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_PRIME 0x100000001b3ull
#define FNV_INIT 0xcbf29ce484222325ull
#define NO_POS UINT32_MAX

/* The timer heap lives beside the host (kit.h keeps it out of sight):
   an indexed min-heap of armed slots by deadline; slot c < cap_cpus is
   CPU c's LAPIC timer, slot cap_cpus + i IOAPIC i's throttle timer. */
typedef struct kit_priv {
    kit_host pub;
    uint32_t *heap, *pos;
    uint32_t heap_n;
} kit_priv;

static kit_priv *priv(kit_host *h)
{
    return (kit_priv *)h;
}

static void fail(kit_host *h, const char *msg)
{
    if (h->fail)
        h->fail(msg);
    fprintf(stderr, "testkit: %s\n", msg);
    abort();
}

static void mix(kit_host *h, uint64_t v)
{
    for (unsigned i = 0; i < 8; i++) {
        h->cb_hash ^= (uint8_t)(v >> (8 * i));
        h->cb_hash *= FNV_PRIME;
    }
}

/* One callback into the hash: its tag and arguments. */
static void hash_cb(kit_host *h, uint64_t a, uint64_t b, uint64_t c)
{
    if (!h->hash_callbacks)
        return;
    mix(h, a);
    mix(h, b);
    mix(h, c);
    h->n_callbacks++;
}

/* check_args: index i of what must be below n. */
static void check_index(kit_host *h, uint64_t i, uint32_t n,
                        const char *what)
{
    char msg[96];

    if (!h->check_args || i < n)
        return;
    snprintf(msg, sizeof msg, "%s(%llu): only %u exist", what,
             (unsigned long long)i, (unsigned)n);
    fail(h, msg);
}

/* ---- timers: the heap ---- */

static uint32_t n_slots(const kit_host *h)
{
    return h->cap_cpus + h->cap_ioapics;
}

static uint64_t *slot_deadline(kit_host *h, uint32_t slot)
{
    return slot < h->cap_cpus ? &h->deadline[slot]
                              : &h->io_deadline[slot - h->cap_cpus];
}

static bool slot_less(kit_host *h, uint32_t a, uint32_t b)
{
    uint64_t da = *slot_deadline(h, a), db = *slot_deadline(h, b);

    return da != db ? da < db : a < b;
}

static void heap_swap(kit_priv *p, uint32_t i, uint32_t j)
{
    uint32_t t = p->heap[i];

    p->heap[i] = p->heap[j];
    p->heap[j] = t;
    p->pos[p->heap[i]] = i;
    p->pos[p->heap[j]] = j;
}

static void heap_fix(kit_priv *p, uint32_t i)
{
    kit_host *h = &p->pub;

    while (i > 0 && slot_less(h, p->heap[i], p->heap[(i - 1) / 2])) {
        heap_swap(p, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < p->heap_n && slot_less(h, p->heap[l], p->heap[m]))
            m = l;
        if (r < p->heap_n && slot_less(h, p->heap[r], p->heap[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(p, i, m);
        i = m;
    }
}

static void timer_set(kit_host *h, uint32_t slot, uint64_t d)
{
    kit_priv *p = priv(h);
    uint32_t i = p->pos[slot];

    *slot_deadline(h, slot) = d;
    if (d == UINT64_MAX) {
        if (i == NO_POS)
            return;
        p->pos[slot] = NO_POS;
        if (i != --p->heap_n) {
            p->heap[i] = p->heap[p->heap_n];
            p->pos[p->heap[i]] = i;
            heap_fix(p, i);
        }
        return;
    }
    if (i == NO_POS) {
        i = p->heap_n++;
        p->heap[i] = slot;
        p->pos[slot] = i;
    }
    heap_fix(p, i);
}

/* ---- growth ---- */

static bool grow(void **a, size_t elem, size_t old_n, size_t new_n,
                 int fill)
{
    unsigned char *n = realloc(*a, elem * new_n);

    if (!n)
        return false;
    memset(n + elem * old_n, fill, elem * (new_n - old_n));
    *a = n;
    return true;
}

/* Grow the per-CPU and per-IOAPIC arrays; the heap is rebuilt. */
static bool reserve(kit_host *h, uint32_t cpus, uint32_t ioapics)
{
    kit_priv *p = priv(h);
    uint32_t oc = h->cap_cpus, oi = h->cap_ioapics;
    uint64_t *dl, *io;

    if (cpus <= oc && ioapics <= oi)
        return true;
    cpus = cpus > oc ? cpus : oc;
    ioapics = ioapics > oi ? ioapics : oi;
    if (!grow((void **)&h->deadline, sizeof *dl, oc, cpus, 0xff) ||
        !grow((void **)&h->arms, sizeof *h->arms, oc, cpus, 0) ||
        !grow((void **)&h->base_changes, sizeof *h->base_changes, oc, cpus,
              0) ||
        !grow((void **)&h->base_value, sizeof *h->base_value, oc, cpus, 0) ||
        !grow((void **)&h->kicks, sizeof *h->kicks, oc, cpus, 0) ||
        !grow((void **)&h->io_deadline, sizeof *io, oi, ioapics, 0xff) ||
        (h->cpu_now &&
         !grow((void **)&h->cpu_now, sizeof *h->cpu_now, oc, cpus, 0)))
        return false;
    for (uint32_t c = oc; h->cpu_now && c < cpus; c++)
        h->cpu_now[c] = h->now;
    h->cap_cpus = cpus;
    h->cap_ioapics = ioapics;
    free(p->heap);
    free(p->pos);
    p->heap = malloc(sizeof *p->heap * n_slots(h));
    p->pos = malloc(sizeof *p->pos * n_slots(h));
    if (!p->heap || !p->pos)
        return false;
    p->heap_n = 0;
    for (uint32_t s = 0; s < n_slots(h); s++) {
        uint64_t d = *slot_deadline(h, s);
        p->pos[s] = NO_POS;
        if (d != UINT64_MAX)
            timer_set(h, s, d);
    }
    return true;
}

/* ---- callbacks ---- */

static void log_item(kit_host *h, uint8_t kind, const intc_event *ev)
{
    if (!h->max_log)
        return;
    if (h->n_log == h->cap_log) {
        size_t ncap = h->cap_log ? 2 * h->cap_log : 64;
        if (ncap > h->max_log)
            ncap = h->max_log;
        if (h->n_log >= ncap ||
            !grow((void **)&h->log, sizeof *h->log, h->cap_log, ncap, 0)) {
            h->n_log_lost++;
            return;
        }
        h->cap_log = ncap;
    }
    h->log[h->n_log++] = (kit_item){.kind = kind, .time = h->now, .ev = *ev};
}

/* The callbacks record first and do the rest (hash, checks, log, hook)
   only when one is on: the benchmarks count these instructions too. */
static void kick_more(kit_host *h, uint32_t cpu)
{
    intc_event ev = {.type = INTC_EV_COUNT_, .cpu = cpu, .vector = -1};

    hash_cb(h, 1, cpu, 0);
    check_index(h, cpu, h->n_cpus, "kick");
    log_item(h, KIT_ITEM_KICK, &ev);
    if (h->hooks.kick)
        h->hooks.kick(h->hooks.ctx, cpu);
}

static void cb_kick(void *host, uint32_t cpu)
{
    kit_host *h = host;

    h->n_kicks++;
    if (cpu < h->cap_cpus)
        h->kicks[cpu]++;
    if (h->hash_callbacks | h->check_args | (h->max_log != 0) |
        (h->hooks.kick != NULL))
        kick_more(h, cpu);
}

static uint64_t cb_now(void *host, uint32_t cpu)
{
    kit_host *h = host;

    h->n_now++;
    h->now_cpu = cpu;
    if (h->check_args && cpu != INTC_NO_CPU)
        check_index(h, cpu, h->n_cpus, "now_ns");
    if (h->cpu_now && cpu < h->cap_cpus)
        return h->cpu_now[cpu];
    return h->now;
}

static void cb_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    kit_host *h = host;

    hash_cb(h, 2, cpu, deadline);
    check_index(h, cpu, h->n_cpus, "timer_arm");
    h->n_arms++;
    if (cpu < h->cap_cpus) {
        h->arms[cpu]++;
        timer_set(h, cpu, deadline);
    }
}

static void cb_ioapic_timer_arm(void *host, uint32_t io, uint64_t deadline)
{
    kit_host *h = host;

    hash_cb(h, 3, io, deadline);
    check_index(h, io, h->n_ioapics, "ioapic_timer_arm");
    h->n_io_arms++;
    if (io < h->cap_ioapics)
        timer_set(h, h->cap_cpus + io, deadline);
}

/* Store ev past the events array's capacity: grow it up to max_events,
   else count the event lost. */
static void store_event(kit_host *h, const intc_event *ev)
{
    size_t ncap = h->cap_events ? 2 * h->cap_events : 256;

    if (ncap > h->max_events)
        ncap = h->max_events;
    if (h->n_events < ncap &&
        grow((void **)&h->events, sizeof *h->events, h->cap_events, ncap,
             0)) {
        h->cap_events = ncap;
        h->events[h->n_events++] = *ev;
    } else {
        h->n_events_lost++;
    }
}

static void event_more(kit_host *h, const intc_event *ev)
{
    hash_cb(h, 4ull << 56 | (uint64_t)ev->type << 32 | ev->cpu,
            (uint64_t)(uint32_t)ev->vector << 32 | ev->pin,
            ev->data ^ ev->data2 * FNV_PRIME);
    if (h->check_args) {
        if (ev->cpu != INTC_NO_CPU)
            check_index(h, ev->cpu, h->n_cpus, "event cpu");
        check_index(h, (uint64_t)((int64_t)ev->vector + 1), 257,
                    "event vector + 1");
    }
    log_item(h, KIT_ITEM_EVENT, ev);
    if (h->hooks.event)
        h->hooks.event(h->hooks.ctx, ev);
}

static void cb_event(void *host, const intc_event *ev)
{
    kit_host *h = host;

    if ((unsigned)ev->type >= (unsigned)INTC_EV_COUNT_)
        fail(h, "event(): type out of range");
    h->totals[ev->type]++;
    if (h->n_events < h->cap_events)
        h->events[h->n_events++] = *ev;
    else
        store_event(h, ev);
    if (h->hash_callbacks | h->check_args | (h->max_log != 0) |
        (h->hooks.event != NULL))
        event_more(h, ev);
}

static void cb_eoi(void *host, uint32_t gsi)
{
    kit_host *h = host;

    hash_cb(h, 5, gsi, 0);
    h->n_eois++;
    h->last_eoi_gsi = gsi;
    if (h->hooks.eoi)
        h->hooks.eoi(h->hooks.ctx, gsi);
}

static void cb_apic_base(void *host, uint32_t cpu, uint64_t base)
{
    kit_host *h = host;

    hash_cb(h, 6, cpu, base);
    check_index(h, cpu, h->n_cpus, "apic_base_changed");
    h->n_base_changes++;
    if (cpu < h->cap_cpus) {
        h->base_changes[cpu]++;
        h->base_value[cpu] = base;
    }
    if (h->hooks.apic_base_changed)
        h->hooks.apic_base_changed(h->hooks.ctx, cpu, base);
}

uint8_t *kit_mem(kit_host *h, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < h->n_regions; i++) {
        kit_region *r = &h->regions[i];
        if (addr >= r->addr && addr - r->addr < r->size &&
            len <= r->size - (addr - r->addr))
            return r->mem + (addr - r->addr);
    }
    return NULL;
}

/* The access touches [fail_lo, fail_hi) (kit_mem() checked it fits). */
static bool in_hole(const kit_host *h, uint64_t addr, size_t len)
{
    return addr < h->fail_hi && addr + len > h->fail_lo;
}

static int cb_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    kit_host *h = host;
    uint8_t *p = kit_mem(h, addr, len);

    h->n_dma_read++;
    if (!p || h->fail_dma_read || in_hole(h, addr, len))
        return -1;
    if (len)
        memcpy(buf, p, len);
    return 0;
}

static int cb_dma_write(void *host, uint64_t addr, const void *buf,
                        size_t len)
{
    kit_host *h = host;
    uint8_t *p = kit_mem(h, addr, len);

    h->n_dma_write++;
    if (!p || h->fail_dma_write || in_hole(h, addr, len))
        return -1;
    if (len)
        memcpy(p, buf, len);
    hash_cb(h, 7, addr, len);
    return 0;
}

/* Each block carries its size in front, so the allocator can check the
   old_size libintc claims and keep exact live counts; fresh and freed
   memory get patterns, so code that relies on zeroed allocations or
   reads freed memory misbehaves visibly even without sanitizers. */
typedef union kit_block {
    max_align_t align;
    size_t size;
} kit_block;

#define FRESH_BYTE 0xa5
#define FREED_BYTE 0x5a

static void *alloc_free(kit_host *h, kit_block *b)
{
    if (b) {
        h->live_bytes -= b->size;
        h->live_blocks--;
        memset(b, FREED_BYTE, sizeof *b + b->size);
        free(b);
    }
    return NULL;
}

void *kit_alloc(void *host, void *ptr, size_t old_size, size_t new_size)
{
    kit_host *h = host;
    kit_block *b = ptr ? (kit_block *)ptr - 1 : NULL, *nb;
    size_t old;

    if (b && (b->size != old_size || h->live_blocks == 0))
        fail(h, "alloc(): old_size differs from the block's size");
    if (new_size == 0)
        return alloc_free(h, b);
    h->n_allocs++;
    if (h->fail_at != 0 && h->n_allocs == h->fail_at) {
        h->n_failed++;
        return NULL; /* a failed realloc leaves the old block alone */
    }
    if (new_size > SIZE_MAX - sizeof *b)
        return NULL;
    old = b ? b->size : 0;
    nb = realloc(b, sizeof *nb + new_size);
    if (!nb)
        return NULL;
    if (new_size > old)
        memset((unsigned char *)(nb + 1) + old, FRESH_BYTE, new_size - old);
    nb->size = new_size;
    if (!b)
        h->live_blocks++;
    h->live_bytes = h->live_bytes - old + new_size;
    if (h->live_bytes > h->peak_bytes)
        h->peak_bytes = h->live_bytes;
    return nb + 1;
}

/* ---- the host ---- */

intc_host_ops kit_host_ops(bool traced)
{
    return (intc_host_ops){
        .version = INTC_HOST_OPS_VERSION,
        .kick = cb_kick,
        .now_ns = cb_now,
        .timer_arm = cb_timer_arm,
        .dma_read = cb_dma_read,
        .dma_write = cb_dma_write,
        .event = traced ? cb_event : NULL,
        .alloc = kit_alloc,
        .eoi = cb_eoi,
        .ioapic_timer_arm = cb_ioapic_timer_arm,
        .apic_base_changed = cb_apic_base,
    };
}

/* The lean callbacks (kit_host_ops_lean): counts and deadlines only. */
static void lean_kick(void *host, uint32_t cpu)
{
    kit_host *h = host;

    (void)cpu;
    h->n_kicks++;
}

static uint64_t lean_now(void *host, uint32_t cpu)
{
    (void)cpu;
    return ((kit_host *)host)->now;
}

/* These two trust the library's contract (a CPU of the machine, whose
   size kit_machine() gave the arrays; a defined event type): unchecked,
   as a host's hot path would be. */
static void lean_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    ((kit_host *)host)->deadline[cpu] = deadline;
}

static void lean_event(void *host, const intc_event *ev)
{
    ((kit_host *)host)->totals[ev->type]++;
}

/* The bytes of [addr, addr + len) in the first region, or NULL. */
static uint8_t *lean_mem(kit_host *h, uint64_t addr, size_t len)
{
    const kit_region *r = h->regions;

    if (!h->n_regions || addr < r->addr || len > r->size ||
        addr - r->addr > r->size - len)
        return NULL;
    return r->mem + (addr - r->addr);
}

static int lean_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    uint8_t *p = lean_mem(host, addr, len);

    if (!p)
        return -1;
    memcpy(buf, p, len);
    return 0;
}

static int lean_dma_write(void *host, uint64_t addr, const void *buf,
                          size_t len)
{
    uint8_t *p = lean_mem(host, addr, len);

    if (!p)
        return -1;
    memcpy(p, buf, len);
    return 0;
}

intc_host_ops kit_host_ops_lean(bool traced)
{
    return (intc_host_ops){
        .version = INTC_HOST_OPS_VERSION,
        .kick = lean_kick,
        .now_ns = lean_now,
        .timer_arm = lean_timer_arm,
        .dma_read = lean_dma_read,
        .dma_write = lean_dma_write,
        .event = traced ? lean_event : NULL,
        .alloc = kit_alloc,
    };
}

kit_host *kit_host_new(bool traced)
{
    kit_priv *p = calloc(1, sizeof *p);
    kit_host *h;

    if (!p)
        return NULL;
    h = &p->pub;
    h->max_events = KIT_DEFAULT_MAX_EVENTS;
    h->cb_hash = FNV_INIT;
    h->ops = kit_host_ops(traced);
    if (!reserve(h, KIT_DEFAULT_CPUS, KIT_DEFAULT_IOAPICS)) {
        kit_host_free(h);
        return NULL;
    }
    return h;
}

void kit_host_free(kit_host *h)
{
    kit_priv *p = (kit_priv *)h;

    if (!h)
        return;
    for (size_t i = 0; i < h->n_regions; i++)
        free(h->regions[i].mem);
    free(h->regions);
    free(h->events);
    free(h->log);
    free(h->cpu_now);
    free(h->deadline);
    free(h->arms);
    free(h->base_changes);
    free(h->base_value);
    free(h->kicks);
    free(h->io_deadline);
    free(p->heap);
    free(p->pos);
    free(p);
}

intc_machine *kit_machine(kit_host *h, const intc_machine_config *cfg,
                          intc_err *err)
{
    intc_machine_config def;
    intc_err e = INTC_OK;

    if (!cfg) {
        intc_machine_config_init(&def);
        cfg = &def;
    }
    if (!reserve(h, cfg->n_cpus, cfg->n_ioapics)) {
        if (err)
            *err = INTC_ERR_NOMEM;
        return NULL;
    }
    h->n_cpus = cfg->n_cpus;
    h->n_ioapics = cfg->n_ioapics;
    h->m = intc_machine_new(cfg, &h->ops, h, &e);
    if (err)
        *err = e;
    return h->m;
}

bool kit_cpu_clocks(kit_host *h)
{
    if (h->cpu_now)
        return true;
    h->cpu_now = malloc(sizeof *h->cpu_now * h->cap_cpus);
    if (!h->cpu_now)
        return false;
    for (uint32_t c = 0; c < h->cap_cpus; c++)
        h->cpu_now[c] = h->now;
    return true;
}

uint8_t *kit_region_add(kit_host *h, uint64_t addr, uint64_t size)
{
    kit_region *r;
    uint8_t *mem;

    if (size == 0 || size > SIZE_MAX || addr > UINT64_MAX - size)
        return NULL;
    for (size_t i = 0; i < h->n_regions; i++) {
        const kit_region *o = &h->regions[i];
        if (addr < o->addr + o->size && o->addr < addr + size)
            return NULL;
    }
    mem = calloc(1, (size_t)size);
    if (!mem || !grow((void **)&h->regions, sizeof *r, h->n_regions,
                      h->n_regions + 1, 0)) {
        free(mem);
        return NULL;
    }
    h->regions[h->n_regions++] = (kit_region){addr, size, mem};
    return mem;
}

void kit_log_enable(kit_host *h, size_t max)
{
    h->max_log = max;
}

void kit_clear_events(kit_host *h)
{
    h->n_events = 0;
    h->n_events_lost = 0;
}

void kit_clear_log(kit_host *h)
{
    h->n_log = 0;
    h->n_log_lost = 0;
}

/* ---- time ---- */

static void set_now(kit_host *h, uint64_t t)
{
    h->now = t;
    for (uint32_t c = 0; h->cpu_now && c < h->cap_cpus; c++)
        if (h->cpu_now[c] < t)
            h->cpu_now[c] = t;
}

static void fire(kit_host *h, uint32_t slot)
{
    bool io = slot >= h->cap_cpus;
    uint32_t idx = io ? slot - h->cap_cpus : slot;

    timer_set(h, slot, UINT64_MAX);
    if (io)
        intc_ioapic_timer_expired(intc_machine_ioapic(h->m, idx), h->now);
    else
        intc_lapic_timer_expired(intc_machine_lapic(h->m, idx), h->now);
    h->n_fires++;
    if (h->hooks.fired)
        h->hooks.fired(h->hooks.ctx, io, idx);
}

uint64_t kit_next_deadline(const kit_host *h)
{
    const kit_priv *p = (const kit_priv *)h;

    if (p->heap_n == 0)
        return UINT64_MAX;
    return *slot_deadline((kit_host *)h, p->heap[0]);
}

unsigned long kit_advance_to(kit_host *h, uint64_t t)
{
    kit_priv *p = priv(h);
    unsigned long fires = 0;

    while (h->m && !h->manual_timers && p->heap_n > 0 &&
           kit_next_deadline(h) <= t) {
        uint64_t d = kit_next_deadline(h);

        if ((h->max_fires && fires >= h->max_fires) ||
            (h->max_fires_total && h->n_fires >= h->max_fires_total)) {
            /* Budget spent: each timer still due fires once, at t. */
            h->n_coalesced++;
            set_now(h, t);
            for (uint32_t s = 0; s < n_slots(h); s++)
                if (*slot_deadline(h, s) <= t) {
                    fire(h, s);
                    fires++;
                }
            break;
        }
        if (d > h->now)
            set_now(h, d);
        fire(h, p->heap[0]);
        fires++;
    }
    if (t > h->now)
        set_now(h, t);
    return fires;
}

void kit_timer_expired(kit_host *h, bool ioapic, uint32_t index,
                       uint64_t now)
{
    if (ioapic ? index < h->cap_ioapics : index < h->cap_cpus)
        timer_set(h, ioapic ? h->cap_cpus + index : index, UINT64_MAX);
    if (ioapic)
        intc_ioapic_timer_expired(intc_machine_ioapic(h->m, index), now);
    else
        intc_lapic_timer_expired(intc_machine_lapic(h->m, index), now);
}

/* ---- snapshots ---- */

uint8_t *kit_save(intc_machine *m, size_t *len, intc_err *err)
{
    size_t need = 0;
    uint8_t *img;
    intc_err e = intc_machine_save(m, NULL, 0, &need);

    if (e == INTC_ERR_NOSPC) {
        img = malloc(need ? need : 1);
        e = img ? intc_machine_save(m, img, need, len) : INTC_ERR_NOMEM;
        if (e == INTC_OK) {
            if (err)
                *err = e;
            return img;
        }
        free(img);
    }
    if (err)
        *err = e == INTC_OK ? INTC_ERR_INVAL : e;
    return NULL;
}

intc_err kit_load(kit_host *h, const void *img, size_t len)
{
    uint32_t nc = intc_machine_cpu_count(h->m);
    uint32_t ni = 0;
    uint64_t *old;
    intc_err e;

    while (ni < h->cap_ioapics && intc_machine_ioapic(h->m, ni))
        ni++;
    old = malloc(sizeof *old * (ni ? ni : 1));

    if (!old)
        return INTC_ERR_NOMEM;
    /* The load re-arms through timer_arm() and ioapic_timer_arm() what
       the image holds armed; a timer it leaves disarmed is not reported,
       so the IOAPICs' are forgotten first (and put back if the load is
       refused) and the LAPICs' read back. */
    for (uint32_t i = 0; i < ni; i++) {
        old[i] = h->io_deadline[i];
        timer_set(h, h->cap_cpus + i, UINT64_MAX);
    }
    e = intc_machine_load(h->m, img, len);
    for (uint32_t i = 0; e != INTC_OK && i < ni; i++)
        timer_set(h, h->cap_cpus + i, old[i]);
    for (uint32_t c = 0; e == INTC_OK && c < nc && c < h->cap_cpus; c++)
        timer_set(h, c,
                  intc_lapic_timer_deadline(intc_machine_lapic(h->m, c)));
    free(old);
    return e;
}

/* ---- event queries ---- */

size_t kit_count_events(const kit_host *h, intc_event_type type)
{
    size_t n = 0;

    for (size_t i = 0; i < h->n_events; i++)
        n += h->events[i].type == type;
    return n;
}

static bool match(const intc_event *ev, intc_event_type type, uint32_t cpu,
                  int32_t vector)
{
    return ev->type == type && (cpu == KIT_ANY_CPU || ev->cpu == cpu) &&
           (vector == KIT_ANY_VECTOR || ev->vector == vector);
}

const intc_event *kit_find_event(const kit_host *h, intc_event_type type,
                                 uint32_t cpu, int32_t vector)
{
    for (size_t i = 0; i < h->n_events; i++)
        if (match(&h->events[i], type, cpu, vector))
            return &h->events[i];
    return NULL;
}

const intc_event *kit_last_event(const kit_host *h, intc_event_type type)
{
    for (size_t i = h->n_events; i-- > 0;)
        if (h->events[i].type == type)
            return &h->events[i];
    return NULL;
}

void kit_dump_events(const kit_host *h)
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
        fprintf(stderr, "  (%zu more events not recorded)\n",
                h->n_events_lost);
}
