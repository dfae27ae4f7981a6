/*
 * libintc timeline — turn a stream of intc_event records into pictures:
 * a Chrome/Perfetto trace-event JSON file and a self-contained SVG
 * timeline (docs/traces.md).
 *
 * The module knows nothing of the host that feeds it: any host that gets
 * libintc's events (intc-sim, the Unicorn glue, a Python host through the
 * C ABI) calls tl_event() from its event callback with its clock, and,
 * outside the library's callbacks (after each call into libintc, say),
 * tl_sample_lapic() or tl_cpu_regs() for the IRR/ISR/PPR counters.  It
 * derives from the events:
 *
 *  - per CPU, each interrupt as a span from INTA (ack) to its EOI, nested
 *    as the in-service vectors nest;
 *  - per IOAPIC pin that appears, the input's asserted level and the
 *    Remote IRR span (set to cleared);
 *  - the senders of IPIs, MSIs (by source-id or, for an IOAPIC message,
 *    by pin) and remapped interrupts, and a flow from each sender to the
 *    INTA of every receiver that took the interrupt;
 *  - every other event as a mark (an instant): IR faults, spurious and
 *    rejected interrupts, timers, signals...
 *
 * Memory: the trace grows (amortised doubling) up to max_items records,
 * then drops whole events and says so in its output; nothing else is
 * allocated per event except, once per CPU that receives an interrupt,
 * a 1 KiB table of its pending senders.  Not thread-safe; one trace per
 * machine.
 */
#ifndef INTC_TIMELINE_H
#define INTC_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <intc/intc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tl_trace tl_trace;

/* Default bound on stored records (about 96 bytes each). */
#define TL_DEFAULT_MAX_ITEMS (1u << 19)

/* A trace for a machine of n_cpus CPUs (every one gets its track);
   max_items 0 means TL_DEFAULT_MAX_ITEMS.  NULL when out of memory or
   n_cpus is 0. */
tl_trace *tl_new(uint32_t n_cpus, uint32_t max_items);
void tl_free(tl_trace *t);

/* The title shown in the SVG and the trace's metadata (copied; NULL
   for none).  false when out of memory. */
bool tl_set_title(tl_trace *t, const char *title);

/* One event at virtual time now_ns (the host's clock; never backwards:
   an earlier time counts as the latest one).  Safe to call from the
   host's event callback: it calls nothing in libintc. */
void tl_event(tl_trace *t, uint64_t now_ns, const intc_event *ev);

/* CPU cpu's registers at now_ns: irr and isr the highest set vector (0
   when empty), ppr the PPR.  Stored only when one of them changed. */
void tl_cpu_regs(tl_trace *t, uint64_t now_ns, uint32_t cpu, uint8_t irr,
                 uint8_t isr, uint8_t ppr);
/* The same read from the Local APIC l (MMIO or x2APIC MSR reads of
   IRR, ISR, PPR, by its mode).  Not from inside a libintc callback. */
void tl_sample_lapic(tl_trace *t, uint64_t now_ns, intc_lapic *l);
/* tl_sample_lapic() for every CPU of m. */
void tl_sample_machine(tl_trace *t, uint64_t now_ns, intc_machine *m);

/* Events dropped because the trace was full. */
uint64_t tl_dropped(const tl_trace *t);

/* Write the trace as Chrome trace-event JSON / as SVG to f.  false if a
   write failed (ferror). */
bool tl_write_perfetto(const tl_trace *t, FILE *f);
bool tl_write_svg(const tl_trace *t, FILE *f);
/* The same to a file by name; false (errno set) on failure. */
bool tl_save_perfetto(const tl_trace *t, const char *path);
bool tl_save_svg(const tl_trace *t, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* INTC_TIMELINE_H */
