/*
 * libintc — the machine: the root object that owns every interrupt model
 * of one emulated system.
 */
#ifndef INTC_MACHINE_H
#define INTC_MACHINE_H

#include "common.h"
#include "ioapic.h"
#include "iommu.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Configuration versions follow the host ops' "at least" contract
 * (common.h): .version (set by intc_machine_config_init()) says which
 * members the structure has; intc_machine_new() accepts 1 up to this
 * library's INTC_MACHINE_CONFIG_VERSION, reads only that version's
 * members (later ones take the defaults of intc_machine_config_init())
 * and refuses 0 or a newer version with INTC_ERR_VERSION.  New members
 * are only ever appended:
 *
 *   version  members                                        since
 *   1        version .. iommu (all of the members below)    0.1
 */
#define INTC_MACHINE_CONFIG_VERSION 1u

/* Hard limits of a configuration (host input beyond them: INTC_ERR_INVAL). */
#define INTC_MAX_CPUS 65536u

/*
 * Machine configuration.  Fill it with intc_machine_config_init(), then
 * change what differs.  The machine copies what it needs; the config (and
 * the arrays it points to) may be freed after intc_machine_new() returns.
 */
typedef struct intc_machine_config {
    unsigned version; /* 1..INTC_MACHINE_CONFIG_VERSION, see above */

    uint32_t n_cpus;           /* 1..INTC_MAX_CPUS; default 1 */
    /* Initial APIC ID of each CPU (n_cpus entries): arbitrary, sparse,
       unique, 32-bit when x2APIC is supported, otherwise < 255 (0xFF and
       0xFFFFFFFF are the broadcast IDs and are refused).
       NULL: CPU i has ID i. */
    const uint32_t *apic_ids;
    uint32_t bsp;              /* index of the bootstrap processor; 0 */

    bool x2apic;               /* x2APIC mode available (CPUID.1:ECX[21]);
                                  default true */
    bool tsc_deadline;         /* TSC-deadline timer mode (CPUID.1:ECX[24]);
                                  default true */
    bool directed_eoi;         /* EOI-broadcast suppression: LVR[24] and
                                  SVR[12]; default false */
    bool lvt_cmci;             /* LVT CMCI present (max LVT 6, else 5);
                                  default true */
    bool lowest_priority_ipi;  /* ICR lowest-priority IPIs supported; when
                                  false they set ESR[4] (redirectable IPI)
                                  and are not sent.  Default true */
    bool focus_processor;      /* P6/Pentium focus-processor checking for
                                  lowest-priority delivery (11.6.2.4),
                                  honoured where SVR[9] is 0; default false
                                  (Xeon and later have no focus processor) */
    bool apic_bus_errors;      /* P6/Pentium-style ESR[2] (send accept
                                  error) when an IPI reaches no APIC;
                                  default false (xAPIC/x2APIC have none) */
    uint8_t lapic_version;     /* LVR[7:0]; 0x10..0x15 integrated APIC;
                                  default 0x14 */
    uint8_t phys_addr_bits;    /* MAXPHYADDR for IA32_APIC_BASE reserved
                                  bits, 32..52; default 46 */
    uint64_t apic_timer_hz;    /* APIC timer input clock before the divide
                                  configuration; default 1 GHz; 0 is
                                  refused */
    uint64_t tsc_hz;           /* TSC frequency, non-zero; default 1 GHz. The guest
                                  TSC is now_ns * tsc_hz / 1e9 plus the
                                  CPU's offset (intc_lapic_set_tsc_offset);
                                  intc_machine_tsc() computes it */

    /* IOAPICs (0..INTC_IOAPIC_MAX): distinct IDs, GSI ranges that do not
       overlap.  directed_eoi needs every IOAPIC at version 0x20 (only
       they have the EOI register that directed EOI writes). */
    const intc_ioapic_config *ioapics;
    uint32_t n_ioapics;
    bool msi_ext_dest;         /* MSI address bits 11:5 are destination
                                  bits 14:8 (IDs up to 32767); default
                                  true.  When false they must be 0 */
    uint32_t storm_threshold;  /* level re-deliveries after EOI, with the
                                  line never dropping, that make a storm
                                  (INTC_EV_STORM); 0 disables; default
                                  1000 */
    uint64_t storm_throttle_ns; /* once storming, hold each re-delivery
                                  this long in virtual time; 0 (default):
                                  no throttle */

    /* The IOMMU, if any (kind INTC_IOMMU_NONE: none).  Interrupt
       messages, IOAPIC ones included, pass through its remapping when
       enabled; give each IOAPIC its source_id. */
    intc_iommu_config iommu;
} intc_machine_config;

/* Fill cfg with the defaults above. */
INTC_API void intc_machine_config_init(intc_machine_config *cfg);

/*
 * Create a machine.  ops may be NULL (all defaults); host is passed back to
 * every callback.  Returns NULL on failure with *err (if err is non-NULL)
 * set: INTC_ERR_INVAL for an inconsistent config (each field is checked),
 * INTC_ERR_VERSION for a config or ops version this library does not know,
 * INTC_ERR_NOMEM when the allocator fails (nothing is leaked).
 * Every CPU starts in the RESET state (xAPIC mode, enabled, SVR=0xFF).
 */
INTC_API intc_machine *intc_machine_new(const intc_machine_config *cfg,
                                        const intc_host_ops *ops, void *host,
                                        intc_err *err);

/* Free the machine and everything it owns.  No callback runs during or
   after it.  NULL is a no-op.  Not allowed from inside a callback of the
   same machine (returns without freeing; that is a host bug). */
INTC_API void intc_machine_free(intc_machine *m);

/* RESET every model of the machine to its power-up state (11.4.7.1).
   Host timers are disarmed through timer_arm(UINT64_MAX); CPUs whose
   IA32_APIC_BASE returns to its power-up value are reported through
   apic_base_changed(). */
INTC_API intc_err intc_machine_reset(intc_machine *m);

/*
 * The guest TSC of CPU cpu now, as libintc computes it for the
 * TSC-deadline timer: now_ns(host, cpu) * tsc_hz / 1e9 (rounded down)
 * plus the CPU's offset (intc_lapic_set_tsc_offset), modulo 2^64.  A host
 * emulating RDTSC/RDTSCP or reading IA32_TSC can return this and agree
 * with the timer by construction: a deadline D written to
 * IA32_TSC_DEADLINE fires once this value is >= D.  Reads the clock once
 * (now_ns with this cpu) and changes nothing; it may be called from kick()
 * and from restricted callbacks other than now_ns() itself.  0 when m is
 * NULL or cpu out of range.
 */
INTC_API uint64_t intc_machine_tsc(intc_machine *m, uint32_t cpu);

/* Number of CPUs.  Safe from any callback. */
INTC_API uint32_t intc_machine_cpu_count(const intc_machine *m);

/* The Local APIC of CPU cpu_index (0-based), or NULL if out of range.
   Safe from any callback. */
INTC_API intc_lapic *intc_machine_lapic(intc_machine *m, uint32_t cpu_index);

/* The IOAPIC of that index, or NULL (none configured yet). */
INTC_API intc_ioapic *intc_machine_ioapic(intc_machine *m, uint32_t index);

/* The IOMMU, or NULL if the machine has none. */
INTC_API intc_iommu *intc_machine_iommu(intc_machine *m);

/*
 * Snapshots.  intc_machine_save() writes the whole architectural state of
 * the machine (every APIC, IOAPIC, MSI-X and MSI device, the IOMMU and its
 * caches, armed deadlines) into buf: a versioned, checksummed image.  With
 * buf NULL or len too small it returns INTC_ERR_NOSPC; *used (if non-NULL)
 * always receives the size needed.  Posted vectors are folded into IRR
 * first.  The image is portable across hosts (little-endian, fixed
 * widths) but only loads into a machine of the same configuration (same
 * CPUs and IDs, IOAPICs, IOMMU, and MSI-X/MSI devices created in the same
 * order with the same sizes).
 *
 * intc_machine_load() validates the entire image before it changes
 * anything: INTC_ERR_VERSION for an unknown format version,
 * INTC_ERR_INVAL for an image of a differently configured machine,
 * INTC_ERR_CORRUPT for a truncated, damaged or inconsistent one (any
 * field out of range, a register value no guest could produce).  On any
 * error the machine is unchanged.  On success the host's timers are
 * re-armed through timer_arm()/ioapic_timer_arm() with the restored
 * deadlines, CPUs with something pending are kicked, and
 * apic_base_changed() reports each CPU whose IA32_APIC_BASE base address,
 * EN or EXTD differ from what the host was last told.
 * Neither may be called from inside a callback (INTC_ERR_BUSY).
 */
INTC_API intc_err intc_machine_save(intc_machine *m, void *buf, size_t len,
                                    size_t *used);
INTC_API intc_err intc_machine_load(intc_machine *m, const void *buf,
                                    size_t len);

/*
 * What the last failed intc_machine_load() on m refused, as a
 * NUL-terminated sentence: the field and why for an image that failed
 * validation ("lapic[3].lvt[2]: reserved bits set", "ioapic[0].rte[5]:
 * Remote IRR on an edge entry": the model, its instance - CPU index,
 * IOAPIC index, MSI-X/MSI event unit - and the field with its index), or
 * the header's fault ("checksum mismatch", "truncated at byte N of M",
 * "format version V, ...", "configuration fingerprint differs: ...").
 * "" after a successful load, and before any load; a load refused with
 * INTC_ERR_BUSY (from a callback) leaves it as it was.  The string lives in
 * the machine (no allocation) and stays valid until the next
 * intc_machine_load() on it or intc_machine_free(); m NULL gives "".
 * For diagnostics only: its wording is not part of the ABI, the error
 * code is.  Safe from any callback.
 */
INTC_API const char *intc_machine_errmsg(const intc_machine *m);

/*
 * Consistency check of every internal invariant (cached priorities against
 * the bitmaps, the routing maps against the ID/LDR/DFR registers, timer
 * state).  Returns INTC_OK or INTC_ERR_CORRUPT, and writes a description
 * of the first broken invariant to msg (if msg and len are non-zero).
 * O(number of CPUs); meant for tests and fuzzers.  Safe from any callback.
 */
INTC_API intc_err intc_machine_check(const intc_machine *m, char *msg,
                                     size_t len);

#ifdef __cplusplus
}
#endif

#endif /* INTC_MACHINE_H */
