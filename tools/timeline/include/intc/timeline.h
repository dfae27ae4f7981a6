/*
 * libintc-timeline — pictures of interrupt traffic for any host: a
 * Chrome/Perfetto trace-event JSON file and a self-contained SVG
 * timeline of the events a libintc machine reports (docs/traces.md says
 * what they show).
 *
 * A separate shared library (libintc-timeline.so, linked with libintc):
 * libintc itself does no file I/O.  intc-sim, the Python package
 * (intc.timeline) and intc-uc-run (--perfetto, --svg) use it.
 *
 * Use:
 *     intc_timeline *t = intc_timeline_new(n_cpus, 0);
 *     // in the host's event callback (libintc's, or libintc-uc's for
 *     // INTC_UC_EV_INTC events), with the host's clock:
 *     intc_timeline_event(t, now_ns, ev);
 *     // after calls into libintc (not from inside its callbacks):
 *     intc_timeline_sample(t, now_ns, machine);
 *     intc_timeline_save_perfetto(t, "run.json");
 *     intc_timeline_save_svg(t, "run.svg");
 *     intc_timeline_free(t);
 *
 * The trace keeps at most max_items records (about 96 bytes each), then
 * drops whole events and counts them (intc_timeline_dropped(), and
 * otherData.dropped_events in the JSON).  Not thread-safe; one timeline
 * per machine.  The functions take no lock and call nothing in libintc
 * except intc_timeline_sample() (register reads).
 */
#ifndef INTC_TIMELINE_PUBLIC_H
#define INTC_TIMELINE_PUBLIC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <intc/intc.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct intc_timeline intc_timeline;

/* The default bound on stored records (max_items 0). */
#define INTC_TIMELINE_DEFAULT_MAX_ITEMS (1u << 19)

/* A timeline of a machine of n_cpus CPUs (each gets its track, used or
   not).  NULL when n_cpus is 0 or out of memory. */
INTC_API intc_timeline *intc_timeline_new(uint32_t n_cpus,
                                          uint32_t max_items);
/* NULL is a no-op. */
INTC_API void intc_timeline_free(intc_timeline *t);

/* The title in the SVG and the JSON's otherData (copied; NULL: none).
   false when out of memory or t is NULL. */
INTC_API bool intc_timeline_set_title(intc_timeline *t, const char *title);

/* One libintc event at the host's virtual time now_ns (a time earlier
   than the latest one given counts as the latest).  Safe from inside
   libintc's event callback. */
INTC_API void intc_timeline_event(intc_timeline *t, uint64_t now_ns,
                                  const intc_event *ev);

/* Read IRR, ISR and PPR of every CPU of m (through the public register
   API) and record the ones that changed, at now_ns.  Not from inside a
   libintc callback. */
INTC_API void intc_timeline_sample(intc_timeline *t, uint64_t now_ns,
                                   intc_machine *m);
/* The same for one CPU whose registers the host knows: irr and isr the
   highest set vector (0 when empty), ppr the PPR. */
INTC_API void intc_timeline_cpu_regs(intc_timeline *t, uint64_t now_ns,
                                     uint32_t cpu, uint8_t irr, uint8_t isr,
                                     uint8_t ppr);

/* Events left out because the trace was full. */
INTC_API uint64_t intc_timeline_dropped(const intc_timeline *t);

/* Write the trace (JSON / SVG) to a file by name: true on success;
   false with errno set on failure (EINVAL for t or path NULL). */
INTC_API bool intc_timeline_save_perfetto(const intc_timeline *t,
                                          const char *path);
INTC_API bool intc_timeline_save_svg(const intc_timeline *t,
                                     const char *path);
/* The same to an open stream; false if a write failed (ferror). */
INTC_API bool intc_timeline_write_perfetto(const intc_timeline *t,
                                           FILE *f);
INTC_API bool intc_timeline_write_svg(const intc_timeline *t, FILE *f);

#ifdef __cplusplus
}
#endif

#endif /* INTC_TIMELINE_PUBLIC_H */
