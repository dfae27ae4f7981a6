/*
 * testkit — the one fake host of libintc's tests, intc-sim, the fuzzers,
 * the benchmarks and the demo.
 *
 * A kit_host plays the embedding program.  Everything it does is plain
 * data a caller can read back:
 *
 *   clock      now (ns), moved by the caller or by kit_advance_to(); by
 *              default every CPU reads it, kit_cpu_clocks() gives each CPU
 *              its own (cpu_now[]), as a host whose vCPUs keep their own
 *              virtual clocks does;
 *   timers     the last timer_arm()/ioapic_timer_arm() per CPU and
 *              IOAPIC (deadline[], io_deadline[]; UINT64_MAX = disarmed),
 *              fired in deadline order by kit_advance_to();
 *   guest RAM  regions for dma_read()/dma_write() (kit_region_add);
 *              accesses outside every region fail, as on a bus with no
 *              memory there;
 *   events     every event(): totals per type (never limited), the
 *              events themselves up to max_events, and, when enabled, a
 *              timed log of events and kicks in the order they happened;
 *   kicks      per CPU and in total; eoi() resamples and
 *              apic_base_changed() reports likewise;
 *   allocator  Lua-style, counting, checking the old_size libintc claims,
 *              able to fail the Nth allocation, keeping live and peak
 *              bytes so a caller can prove nothing leaked.
 *
 * Hooks (kit_hooks) let a caller act on a callback after the kit has
 * recorded it — call back into the machine from kick() or eoi(), check
 * an event against an oracle, sample a waveform after a timer fired —
 * without writing a host of its own.
 *
 * The kit never calls exit() on guest input; a libintc contract breach
 * it detects (a wrong old_size, an event type out of range) goes to
 * h->fail (default: message on stderr and abort()), so a test framework
 * can turn it into a failed test.
 */
#ifndef INTC_TESTKIT_KIT_H
#define INTC_TESTKIT_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <intc/intc.h>

/* Per-CPU arrays start this large and grow in kit_machine(). */
#define KIT_DEFAULT_CPUS 64u
#define KIT_DEFAULT_IOAPICS 8u
/* Stored events by default (totals are never limited). */
#define KIT_DEFAULT_MAX_EVENTS 4096u

/* What a log item is. */
enum kit_item_kind { KIT_ITEM_EVENT, KIT_ITEM_KICK };

/* One entry of the timed log: an event, or a kick (ev.cpu is the kicked
   CPU, ev.type INTC_EV_COUNT_, ev.vector -1). */
typedef struct kit_item {
    uint8_t kind; /* enum kit_item_kind */
    uint64_t time;
    intc_event ev;
} kit_item;

typedef struct kit_region {
    uint64_t addr, size;
    uint8_t *mem;
} kit_region;

/* Called after the kit has recorded the callback; ctx is hooks.ctx.
   kick, eoi and apic_base_changed are deferred callbacks: they may call
   into the machine (common.h).  fired runs after each timer expiry that
   kit_advance_to() delivered (slot: CPU index, or max CPUs + IOAPIC). */
typedef struct kit_hooks {
    void *ctx;
    void (*event)(void *ctx, const intc_event *ev);
    void (*kick)(void *ctx, uint32_t cpu);
    void (*eoi)(void *ctx, uint32_t gsi);
    void (*apic_base_changed)(void *ctx, uint32_t cpu, uint64_t base);
    void (*fired)(void *ctx, bool ioapic, uint32_t index);
} kit_hooks;

typedef struct kit_host {
    /* Clock returned by now_ns() (cpu_now[cpu] once kit_cpu_clocks() was
       called); n_now counts the reads, now_cpu is the cpu argument of the
       last one. */
    uint64_t now;
    uint64_t *cpu_now;
    unsigned n_now;
    uint32_t now_cpu;

    /* Capacity of the per-CPU and per-IOAPIC arrays below (grown by
       kit_machine() to the machine's size). */
    uint32_t cap_cpus, cap_ioapics;
    /* The CPUs and IOAPICs of the machine kit_machine() made last. */
    uint32_t n_cpus, n_ioapics;
    /* With check_args set, every callback's CPU or IOAPIC index (and
       each event's CPU and vector) is checked against that machine, a
       value out of range being a broken libintc contract (-> fail).  Off
       by default: a caller may run several machines on one kit_host. */
    bool check_args;

    /* timer_arm(): the last deadline per CPU (UINT64_MAX when disarmed or
       never armed) and how many times it was called. */
    uint64_t *deadline;
    unsigned *arms;
    unsigned n_arms;
    /* ioapic_timer_arm(), likewise. */
    uint64_t *io_deadline;
    unsigned n_io_arms;
    /* kit_advance_to(): expiries delivered in all, and how often the fire
       budget ran out (the rest then fired once, late). */
    unsigned long n_fires;
    unsigned long n_coalesced;
    /* Fire budget per kit_advance_to() (0: none). */
    unsigned long max_fires;
    /* Fire budget over the host's life (0: none): once n_fires reaches
       it, every kit_advance_to() fires each due timer once, late. */
    unsigned long max_fires_total;
    /* Timers by hand: kit_advance_to() moves the clock and fires
       nothing; timers expire only through kit_timer_expired() (a
       converted recording says when, docs/recording.md). */
    bool manual_timers;

    /* apic_base_changed() per CPU and in total, the last value per CPU. */
    unsigned *base_changes;
    uint64_t *base_value;
    unsigned n_base_changes;

    /* kick() per CPU and in total. */
    unsigned *kicks;
    unsigned n_kicks;

    /* eoi() resamples: how many, and the last GSI. */
    unsigned n_eois;
    uint32_t last_eoi_gsi;

    /* event(): totals per type, then the events in order up to
       max_events (the rest counted in n_events_lost).  The array grows
       as needed. */
    uint64_t totals[INTC_EV_COUNT_];
    intc_event *events;
    size_t n_events, cap_events, max_events, n_events_lost;

    /* The timed log (kit_log_enable): events and kicks in order. */
    kit_item *log;
    size_t n_log, cap_log, max_log, n_log_lost;

    /* Guest memory and the DMA callbacks' counts; fail_dma_* make every
       access of that direction fail, and any access touching
       [fail_lo, fail_hi) fails (a hole in the memory; empty by default). */
    kit_region *regions;
    size_t n_regions;
    unsigned n_dma_read, n_dma_write;
    bool fail_dma_read, fail_dma_write;
    uint64_t fail_lo, fail_hi;

    /* Allocator.  n_allocs counts calls that (re)allocate (new_size > 0);
       when fail_at is non-zero the fail_at-th of them returns NULL.  Live
       counts cover blocks handed out and not yet freed. */
    unsigned long n_allocs;
    unsigned long fail_at;
    unsigned long n_failed;
    size_t live_bytes;
    size_t live_blocks;
    size_t peak_bytes;

    /* With hash_callbacks set: FNV-1a over every callback that tells the
       host something (kick, timer_arm, ioapic_timer_arm, event, eoi,
       apic_base_changed, a dma_write that succeeded: not now_ns,
       dma_read or alloc) and its arguments, in order, and their number
       (n_callbacks): two runs that should be identical compare these.
       Off by default (benchmarks count the host's instructions too). */
    bool hash_callbacks;
    uint64_t cb_hash;
    unsigned long n_callbacks;

    kit_hooks hooks;
    /* A broken libintc contract (see the top): message, then this. */
    void (*fail)(const char *msg);

    /* The machine kit_machine() made last (kit_advance_to() drives it). */
    intc_machine *m;

    /* Every callback, version set; pass &h->ops, h.  ops.event is NULL
       for an untraced host. */
    intc_host_ops ops;
} kit_host;

/* A fresh host; traced: install the event callback (untraced hosts
   record no events and the library runs its code for hosts that do not
   trace).  NULL on out-of-memory.  kit_host_free(NULL) is a no-op; it
   frees the regions and logs, not a machine. */
kit_host *kit_host_new(bool traced);
void kit_host_free(kit_host *h);
static inline bool kit_traced(const kit_host *h)
{
    return h->ops.event != NULL;
}

/* Every callback of the kit (event only when traced), host pointer the
   kit_host: what kit_host_new() puts in h->ops, for a caller that
   changed h->ops and wants the kit's back. */
intc_host_ops kit_host_ops(bool traced);

/* For benchmarks, which count the host's instructions too: kick() only
   counts (n_kicks), now_ns() returns now, timer_arm() only stores
   deadline[] (no heap: not for kit_advance_to), event() only counts
   (totals[]) -- these two unchecked, trusting the library's contract
   and a machine made by kit_machine() --, dma_read()/dma_write() use the first region alone and
   count nothing, alloc() is the kit's; eoi(), ioapic_timer_arm() and
   apic_base_changed() are NULL (the library's defaults).  No hash,
   checks, log, stored events or hooks.  Install with
   h->ops = kit_host_ops_lean(traced) before kit_machine(). */
intc_host_ops kit_host_ops_lean(bool traced);

/* A machine with cfg (NULL: intc_machine_config_init defaults) on h's
   callbacks; grows h's arrays to its size and remembers it in h->m.
   NULL with *err set on failure. */
intc_machine *kit_machine(kit_host *h, const intc_machine_config *cfg,
                          intc_err *err);

/* Give every CPU its own clock, starting at h->now.  false on
   out-of-memory. */
bool kit_cpu_clocks(kit_host *h);

/* Guest memory: a zeroed region [addr, addr + size).  Returns its bytes,
   NULL on out-of-memory or a region overlapping another. */
uint8_t *kit_region_add(kit_host *h, uint64_t addr, uint64_t size);
/* The bytes of [addr, addr + len) if one region holds all of them. */
uint8_t *kit_mem(kit_host *h, uint64_t addr, uint64_t len);

/* Keep the timed log, up to max items (then counted in n_log_lost). */
void kit_log_enable(kit_host *h, size_t max);
/* Forget stored events and log items (totals stay). */
void kit_clear_events(kit_host *h);
void kit_clear_log(kit_host *h);

/* Move the clock to t (never back), firing every due timer of h->m at
   its own deadline, in deadline order (ties: CPUs by index, then
   IOAPICs).  Each fired timer's deadline is forgotten first: the model
   re-arms what stays armed.  Past h->max_fires expiries in this call the
   clock moves to t and every timer still due fires once, late (the
   model counts the missed periods, as for a late host).  Returns the
   expiries delivered. */
unsigned long kit_advance_to(kit_host *h, uint64_t t);
/* The earliest armed deadline (UINT64_MAX: none). */
uint64_t kit_next_deadline(const kit_host *h);
/* A host that fires a timer itself: forget the pending deadline of CPU
   index's LAPIC timer (ioapic: IOAPIC index's throttle timer), then call
   the model's timer_expired() with now (the clock does not move). */
void kit_timer_expired(kit_host *h, bool ioapic, uint32_t index,
                       uint64_t now);

/* Snapshots: the machine's image in a malloc'd buffer (NULL on failure,
   *err says why); kit_load() loads one into h->m and brings the host's
   timers in line with the restored machine. */
uint8_t *kit_save(intc_machine *m, size_t *len, intc_err *err);
intc_err kit_load(kit_host *h, const void *img, size_t len);

/* The allocator, for callers that wrap h->ops (host is the kit_host). */
void *kit_alloc(void *host, void *ptr, size_t old_size, size_t new_size);

/* Events: count of a type among the stored ones, first/last match
   (KIT_ANY_CPU / KIT_ANY_VECTOR match all), and a dump to stderr. */
#define KIT_ANY_CPU (UINT32_MAX - 1u)
#define KIT_ANY_VECTOR (-2)
size_t kit_count_events(const kit_host *h, intc_event_type type);
const intc_event *kit_find_event(const kit_host *h, intc_event_type type,
                                 uint32_t cpu, int32_t vector);
const intc_event *kit_last_event(const kit_host *h, intc_event_type type);
void kit_dump_events(const kit_host *h);

#endif /* INTC_TESTKIT_KIT_H */
