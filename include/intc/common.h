/*
 * libintc — common definitions: export macro, version, error codes, events,
 * host callbacks.
 *
 * Thread safety: libintc is not thread-safe except where a function says so.
 * The host serialises all calls on one machine (as QEMU's big lock does);
 * different machines are fully independent and may be driven from different
 * threads at once.  The one call that is safe from any thread at any time is
 * intc_lapic_post().
 */
#ifndef INTC_COMMON_H
#define INTC_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Symbols are hidden by default; only what carries INTC_API is exported. */
#if defined(_WIN32)
#  if defined(INTC_BUILDING) && defined(INTC_SHARED)
#    define INTC_API __declspec(dllexport)
#  elif defined(INTC_SHARED)
#    define INTC_API __declspec(dllimport)
#  else
#    define INTC_API
#  endif
#elif defined(__GNUC__)
#  define INTC_API __attribute__((visibility("default")))
#else
#  define INTC_API
#endif

/*
 * Versions.  The ABI may change at every 0.x minor version and at every
 * major version from 1.0 on; the shared library's SONAME changes with it
 * (libintc.so.0.MINOR for 0.x, libintc.so.MAJOR from 1.0), so a binary
 * built against one ABI never loads another through the dynamic linker.
 */
#define INTC_VERSION_MAJOR 0
#define INTC_VERSION_MINOR 2
#define INTC_VERSION_PATCH 0
#define INTC_VERSION_HEX                                                    \
    ((INTC_VERSION_MAJOR << 16) | (INTC_VERSION_MINOR << 8) |               \
     INTC_VERSION_PATCH)

/* The version of the library actually linked, as INTC_VERSION_HEX. */
INTC_API unsigned intc_version(void);

/*
 * Whether a library of version lib (as INTC_VERSION_HEX) can serve a host
 * compiled against headers of version hdr: the same major version and,
 * for 0.x, the same minor version (0.x minors may break the ABI); from
 * 1.0 on, a library minor version at least the header's (minors only
 * add).  The patch level never matters.
 */
#define INTC_VERSION_COMPATIBLE(hdr, lib)                                   \
    ((((hdr) >> 16) & 0xffu) == (((lib) >> 16) & 0xffu) &&                  \
     ((((hdr) >> 16) & 0xffu) == 0u                                         \
          ? (((hdr) >> 8) & 0xffu) == (((lib) >> 8) & 0xffu)                \
          : (((lib) >> 8) & 0xffu) >= (((hdr) >> 8) & 0xffu)))

/*
 * The runtime guard a host compiles in, e.g. at start-up:
 *
 *     if (!INTC_VERSION_CHECK())
 *         die("libintc %s does not match its headers",
 *             intc_version_string());
 *
 * True when the linked library (intc_version()) is compatible with the
 * headers this file belongs to (INTC_VERSION_HEX), by
 * INTC_VERSION_COMPATIBLE.  The SONAME already keeps an incompatible
 * shared library from loading; the check also covers dlopen() by path,
 * static linking against a stale archive, and bindings.
 */
#define INTC_VERSION_CHECK()                                                \
    INTC_VERSION_COMPATIBLE((unsigned)INTC_VERSION_HEX, intc_version())
/* The same as "MAJOR.MINOR.PATCH"; a static string. */
INTC_API const char *intc_version_string(void);

/*
 * Error codes.  Every fallible call returns intc_err: INTC_OK (0) or one of
 * the negative codes below.  Host misuse (bad arguments, wrong state) is an
 * error code; guest misbehaviour is never an error code except INTC_ERR_GP,
 * which tells the host to raise #GP(0) in the guest, and
 * INTC_ERR_NOT_DECODED, which tells it the access is not the APIC's.
 */
#define INTC_ERRNO_MAP(X)                                                   \
    X(OK, 0, "success")                                                     \
    X(INVAL, -1, "invalid argument")                                        \
    X(NOMEM, -2, "out of memory")                                           \
    X(GP, -3, "guest general-protection fault (#GP(0))")                    \
    X(NOT_DECODED, -4, "access not decoded by the device (treat as memory)") \
    X(RANGE, -5, "index out of range")                                      \
    X(BUSY, -6, "call not allowed from inside this host callback")          \
    X(VERSION, -7, "structure or image version not supported")             \
    X(CORRUPT, -8, "image is truncated, corrupt or inconsistent")           \
    X(NOSPC, -9, "buffer too small")                                        \
    X(UNSUPPORTED, -10, "not supported by this machine's configuration")    \
    X(DMA, -11, "host memory access failed")                                \
    X(IO, -12, "host write callback failed (recording stopped)")            \
    X(DIVERGED, -13, "replay diverged from the recording")

typedef enum intc_err {
#define INTC_ERR_ENUM_(name, val, str) INTC_ERR_##name = (val),
    INTC_ERRNO_MAP(INTC_ERR_ENUM_)
#undef INTC_ERR_ENUM_
} intc_err;

#define INTC_OK INTC_ERR_OK

/* A static string describing err; "unknown error" for codes not listed. */
INTC_API const char *intc_strerror(intc_err err);
/* The code's name without prefix ("INVAL"); "UNKNOWN" for others. */
INTC_API const char *intc_err_name(intc_err err);

/* Opaque objects. */
typedef struct intc_machine intc_machine;
typedef struct intc_lapic intc_lapic;
typedef struct intc_ioapic intc_ioapic;
typedef struct intc_iommu intc_iommu;
typedef struct intc_msix intc_msix;

#define INTC_NO_CPU UINT32_MAX

/*
 * Events: every architectural event can be reported to the host's optional
 * event callback.  Fields that do not apply hold INTC_NO_CPU / -1 / 0.
 * The table gives, per type, what cpu, vector, unit, pin, data and data2
 * carry.
 */
#define INTC_EVENT_MAP(X)                                                   \
    /* cpu=receiver vector data=1 if level-triggered */                     \
    X(IRR_SET, "irr_set")                                                   \
    /* cpu vector: IRR bit already set, interrupt merged into it */         \
    X(COALESCED, "coalesced")                                               \
    /* cpu vector: INTA moved vector from IRR to ISR */                     \
    X(ACK, "ack")                                                           \
    /* cpu vector=spurious vector: INTA found IRR's highest vector not      \
       above PPR (intc_lapic_ack returned INTC_ACK_SPURIOUS) */             \
    X(SPURIOUS, "spurious")                                                 \
    /* cpu vector (-1 if ISR was empty) data=1 if level (TMR) */            \
    X(EOI, "eoi")                                                           \
    /* cpu=sender vector: level EOI broadcast to the IOAPICs */             \
    X(EOI_BROADCAST, "eoi_broadcast")                                       \
    /* cpu=sender vector data=ICR value (64-bit) data2=targets reached */   \
    X(IPI, "ipi")                                                           \
    /* cpu=receiver: a signal became pending */                             \
    X(NMI, "nmi")                                                           \
    X(SMI, "smi")                                                           \
    X(INIT, "init")                                                         \
    /* cpu vector=SIPI vector */                                            \
    X(SIPI, "sipi")                                                         \
    X(EXTINT, "extint")                                                     \
    /* cpu: INIT taken; data=1 if the CPU now waits for SIPI */             \
    X(INIT_RESET, "init_reset")                                             \
    /* cpu vector (-1 if masked) data=timer mode data2=missed periods */    \
    X(TIMER, "timer")                                                       \
    /* cpu data=ESR bits newly logged data2=pending ESR after */            \
    X(ESR_ERROR, "esr_error")                                               \
    /* cpu data=new IA32_APIC_BASE data2=old */                             \
    X(APIC_BASE, "apic_base")                                               \
    /* cpu pin=0/1 data=electrical level */                                 \
    X(LINT, "lint")                                                         \
    /* cpu pin=LVT index vector data=1 set / 0 cleared: LVT Remote IRR */   \
    X(LVT_REMOTE_IRR, "lvt_remote_irr")                                     \
    /* cpu=receiver vector data=delivery mode: message not accepted        \
       (software-disabled APIC, illegal vector, reserved mode...) */        \
    X(REJECTED, "rejected")                                                 \
    /* cpu=sender vector data=message dest data2=delivery mode:             \
       message matched no APIC */                                           \
    X(NO_TARGET, "no_target")                                               \
    /* cpu pin=register offset or MSR data=size: access ignored as not     \
       architecturally defined (odd size, misaligned write...) */           \
    X(BAD_ACCESS, "bad_access")                                             \
    /* vector pin=source-id data=address data2=reached << 32 | data:       \
       an interrupt message was decoded and delivered; emitted after the   \
       delivery (so after its irr_set), reporting how many APICs took it */ \
    X(MSI, "msi")                                                           \
    /* vector pin=source-id data=address data2=reason << 32 | data          \
       (enum intc_msi_drop): message not delivered */                       \
    X(MSI_DROPPED, "msi_dropped")                                           \
    /* unit=IOAPIC pin vector data=RTE data2=1 if a re-delivery after EOI */ \
    X(IOAPIC_SEND, "ioapic_send")                                           \
    /* unit pin data=asserted data2=electrical level: input changed */      \
    X(IOAPIC_LINE, "ioapic_line")                                           \
    /* unit pin vector data=RTE: an edge on a masked pin was lost */        \
    X(IOAPIC_MASKED, "ioapic_masked")                                       \
    /* unit vector: write to the IOAPIC's EOI register (directed EOI) */    \
    X(IOAPIC_EOI, "ioapic_eoi")                                             \
    /* unit pin vector data=1 set / 0 cleared: IOAPIC Remote IRR */         \
    X(REMOTE_IRR, "remote_irr")                                             \
    /* unit pin vector data=programmed active-low data2=wired active-low:  \
       an unmasked entry's polarity disagrees with the wiring */            \
    X(POLARITY_MISMATCH, "polarity_mismatch")                               \
    /* unit pin vector data=re-deliveries: a level line keeps coming back  \
       after EOI with the cause never cleared */                            \
    X(STORM, "storm")                                                       \
    /* unit=MSI-X device pin=vector: masked, pending bit set */             \
    X(MSIX_PENDING, "msix_pending")                                         \
    /* unit pin data=GSI: resample notification sent to the host */         \
    X(RESAMPLE, "resample")                                                 \
    /* pin=source-id vector data=IRTE index data2=reached << 32 | dest:    \
       an interrupt was remapped through an IRTE and delivered */           \
    X(IR_REMAPPED, "ir_remapped")                                           \
    /* pin=source-id data=reason | recorded << 8 data2=index: blocked by   \
       interrupt remapping (recorded=0 when FPD or overflow suppressed it); \
       AMD-Vi also sets data bit 9 when DTE.IG or IRTE.SupIOPF suppressed  \
       the event, and bits 63:48 to the event log entry's (code, flags) */ \
    X(IR_FAULT, "ir_fault")                                                 \
    /* pin=source-id vector=posted vector data=descriptor address          \
       data2=1 if a notification event was sent */                          \
    X(IR_POSTED, "ir_posted")                                               \
    /* data=index data2=index mask, or INTC_IOMMU_INV_ALL: entry cache     \
       invalidation */                                                      \
    X(IR_INVALIDATE, "ir_invalidate")                                       \
    /* data=head data2=tail: invalidation queue / command buffer error */   \
    X(IR_QUEUE_ERROR, "ir_queue_error")                                     \
    /* pin=register offset data=new value data2=value written or, for     \
       AMD-Vi status (pin 0x2020), the bit that raised the IOMMU's own     \
       interrupt (the host owns its PCI MSI and delivers it) */             \
    X(IR_STATUS, "ir_status")                                               \
    /* unit pin vector data=programmed level data2=wired level: an         \
       unmasked entry's trigger mode disagrees with the wiring */           \
    X(TRIGGER_MISMATCH, "trigger_mismatch")

typedef enum intc_event_type {
#define INTC_EV_ENUM_(name, str) INTC_EV_##name,
    INTC_EVENT_MAP(INTC_EV_ENUM_)
#undef INTC_EV_ENUM_
    INTC_EV_COUNT_
} intc_event_type;

/* Why an interrupt message was dropped (INTC_EV_MSI_DROPPED data2 >> 32). */
enum intc_msi_drop {
    INTC_MSI_DROP_NOT_INTERRUPT = 1, /* address outside 0xFEExxxxx */
    INTC_MSI_DROP_RESERVED_DATA,     /* data bits 31:16 set */
    INTC_MSI_DROP_RESERVED_MODE,     /* delivery mode 011b or 110b */
    INTC_MSI_DROP_DEASSERT,          /* level-triggered de-assert message */
    INTC_MSI_DROP_RESERVED_ADDR,     /* address bits 11:5 without ext. dest */
    INTC_MSI_DROP_NO_REMAPPING       /* remappable format, no remapping */
};

/*
 * What became of one interrupt message: the outcome intc_msi_send(),
 * intc_msix_notify(), intc_msi_notify() and intc_irq_deliver() report
 * through their optional intc_delivery argument, with or without an
 * event callback.
 */
typedef enum intc_delivery_status {
    /* accepted by n_cpus >= 1 Local APICs (the lowest-priority winner,
       or every APIC a fixed/NMI/INIT... message named) */
    INTC_DELIVERY_ACCEPTED = 1,
    /* a valid message that no APIC accepted: none matched the
       destination, or every one that did refused it (software-disabled
       APIC, illegal vector) */
    INTC_DELIVERY_NO_TARGET,
    /* not a valid interrupt message: reason is an enum intc_msi_drop */
    INTC_DELIVERY_DROPPED,
    /* blocked by interrupt remapping: reason is the fault reason (VT-d
       enum intc_vtd_fault, AMD-Vi INTC_AMDVI_* event code) */
    INTC_DELIVERY_BLOCKED,
    /* remapped to a posted-interrupt descriptor (VT-d) or a guest
       vAPIC page (AMD-Vi): the remapping hardware accepted it */
    INTC_DELIVERY_POSTED,
    /* MSI-X / MSI: the vector is masked; its pending bit is now set */
    INTC_DELIVERY_PENDING,
    /* MSI-X / MSI: not enabled, so the function may not signal;
       nothing was sent or recorded */
    INTC_DELIVERY_DISABLED
} intc_delivery_status;

typedef struct intc_delivery {
    intc_delivery_status status;
    unsigned reason;  /* DROPPED, BLOCKED: why (see above); else 0 */
    uint32_t n_cpus;  /* ACCEPTED: how many Local APICs accepted it */
    uint32_t irte;    /* the interrupt index that remapped or posted it,
                         or that a BLOCKED fault names (0 when the fault
                         concerns no entry); UINT32_MAX otherwise */
} intc_delivery;

typedef struct intc_event {
    intc_event_type type;
    uint32_t cpu;   /* CPU index, or INTC_NO_CPU */
    int32_t vector; /* 0..255, or -1 */
    uint32_t unit;  /* IOAPIC index, MSI-X device... (0 if none) */
    uint32_t pin;   /* pin, LVT index, register offset (0 if none) */
    uint64_t data;  /* per type, see INTC_EVENT_MAP */
    uint64_t data2;
} intc_event;

/* The event type's lower-case name ("irr_set"); "unknown" if out of range. */
INTC_API const char *intc_event_name(intc_event_type type);

/*
 * Host callbacks.  Every member may be NULL, meaning the stated default.
 *
 * Versions ("at least", as SQLite's iVersion): set .version to the
 * version whose members the table has, normally INTC_HOST_OPS_VERSION.
 * intc_machine_new() accepts any version from 1 to the library's
 * INTC_HOST_OPS_VERSION and reads only the members that version has,
 * nothing past them in the caller's memory; members added later are
 * treated as NULL.  It refuses 0 and any version newer than it knows with
 * INTC_ERR_VERSION, so a host built against a future header is told, not
 * misread.  New members are only ever appended:
 *
 *   version  members                                        since
 *   1        version, kick, now_ns, timer_arm, dma_read,    0.1
 *            dma_write, event, alloc, eoi, ioapic_timer_arm
 *   2        + apic_base_changed                            0.2
 *
 * The size of version v is the offset of the first member of version
 * v + 1 (version 1: offsetof(intc_host_ops, apic_base_changed)).
 * In 0.2 now_ns gained its cpu argument.  A version-1 table is read with
 * the member types of this header: its now_ns is called as
 * now_ns(host, cpu).  A host compiled against 0.1 cannot hand an old
 * one-argument now_ns to this library: its binary needs libintc.so.0 and
 * this library is libintc.so.0.2 (see the versions above), and its
 * source no longer compiles unchanged against this header.
 *
 * Re-entrancy:
 *  - kick(), eoi() and apic_base_changed() are deferred: called after the
 *    call that caused them has completed (at the return of the outermost
 *    libintc call, before it returns to the host), so the machine is
 *    consistent: they may call any function on the same machine except
 *    intc_machine_free().  Calls they make queue further deferred
 *    callbacks, which run in the same loop, not recursively.
 *  - event(), timer_arm(), ioapic_timer_arm(), now_ns(), dma_read(),
 *    dma_write() and alloc() are restricted: they may be called in the
 *    middle of an operation.  From inside them the host may only use the
 *    query functions documented as "safe from any callback"; every other
 *    call on the same machine returns INTC_ERR_BUSY and changes nothing.
 */
#define INTC_HOST_OPS_VERSION 2u

typedef struct intc_host_ops {
    unsigned version; /* 1..INTC_HOST_OPS_VERSION, see above */

    /* --- version 1 --- */

    /* cpu's pending set (intc_lapic_pending) may have changed: gained a
       signal or a deliverable vector (not for a vector arriving while
       INTR is already pending).  A notification, not a state:
       intc_lapic_pending() is the level to look at, and the host must
       also re-check it when the guest sets IF (lapic.h says when).  At
       most once per CPU per outermost call.  Default: nothing (host
       polls). */
    void (*kick)(void *host, uint32_t cpu);

    /* The host's clock in nanoseconds, as seen by CPU cpu (a host whose
       vCPUs keep their own virtual clocks answers with that CPU's), or
       cpu = INTC_NO_CPU when the read is for no CPU.  Per cpu it must
       never go backwards.  A restricted callback.
       libintc reads it only in these calls, and only when the result
       depends on the time:
        - for the CPU whose APIC is accessed: a write of LVT Timer, the
          initial-count (TMICT) or divide-configuration (TDCR) register
          and a read of the current-count register (TMCCT), by MMIO or
          x2APIC MSR; RDMSR/WRMSR of IA32_TSC_DEADLINE in TSC-deadline
          mode; intc_lapic_set_tsc_offset() with a TSC deadline armed;
          each of these first delivers a timer expiry that is due;
          and intc_machine_tsc() for its cpu argument;
        - with INTC_NO_CPU: when an EOI re-delivers a storming level
          IOAPIC line and storm_throttle_ns is set (the throttle's
          start), whichever call made the EOI (a LAPIC EOI broadcast,
          a write of a version-0x20 IOAPIC's EOI register).
       Never elsewhere: not in intc_lapic_timer_expired() and
       intc_ioapic_timer_expired() (they take the time as an argument),
       nor at creation, reset, save or load.
       Default: time stands at 0 (timers count only through the now_ns
       argument of intc_lapic_timer_expired()). */
    uint64_t (*now_ns)(void *host, uint32_t cpu);

    /* Arm the host's one-shot timer for cpu at deadline_ns (replacing any
       earlier one); UINT64_MAX disarms.  When it fires, call
       intc_lapic_timer_expired().  Default: the host never learns the
       deadline (it may poll intc_lapic_timer_deadline()). */
    void (*timer_arm)(void *host, uint32_t cpu, uint64_t deadline_ns);

    /* Guest-physical memory, for IOMMU tables and posted-interrupt
       descriptors.  Return 0 on success, non-zero on failure.
       Default: every access fails. */
    int (*dma_read)(void *host, uint64_t addr, void *buf, size_t len);
    int (*dma_write)(void *host, uint64_t addr, const void *buf, size_t len);

    /* Optional trace of architectural events. */
    void (*event)(void *host, const intc_event *ev);

    /* Allocator, Lua-style: new_size 0 frees ptr (returning NULL); otherwise
       (re)allocates.  old_size is the size ptr was allocated with (0 for
       a new block).  libintc allocates only inside intc_machine_new(),
       intc_msix_new(), intc_msi_new(), intc_machine_record() (start) and
       intc_replay_new(), and frees only in the matching free calls,
       when a recording stops (intc_machine_record() with write NULL, or
       a failed write) and in intc_machine_record() itself (its scratch
       block).
       Default: the C library's realloc/free. */
    void *(*alloc)(void *host, void *ptr, size_t old_size, size_t new_size);

    /* A level-triggered IOAPIC entry's Remote IRR was cleared by an EOI
       (resample): a pass-through device whose line is still pending
       should assert it again.  Called like kick(), after the operation,
       so the host may call back in.  Default: nothing. */
    void (*eoi)(void *host, uint32_t gsi);

    /* Arm (UINT64_MAX: disarm) the host timer of IOAPIC ioapic's storm
       throttle; when it fires call intc_ioapic_timer_expired().  Like
       timer_arm(), a restricted callback.  Default: none (a throttled
       line is then re-examined only on the next EOI or line change). */
    void (*ioapic_timer_arm)(void *host, uint32_t ioapic,
                             uint64_t deadline_ns);

    /* --- version 2 --- */

    /* CPU cpu's IA32_APIC_BASE changed: apic_base is its value now.  The
       host derives from it the xAPIC MMIO page (bits 12 and up, only
       decoded when EN is set and EXTD clear) and the mode (EN clear:
       disabled; EN and EXTD: x2APIC, no MMIO page; EN alone: xAPIC), and
       must move, map or unmap the page before the guest's next access.
       Called when the value differs from the one the host was last told
       (the power-up value 0xFEE00000 | EN, | BSP on the bootstrap
       processor, counts as told at intc_machine_new()) in the base
       address, EN or EXTD (a change of the BSP flag alone is not
       reported): after a guest WRMSR of IA32_APIC_BASE,
       intc_machine_reset(), intc_lapic_reset() (RESET; INIT keeps the
       base) and intc_machine_load().  Never for a write that changes
       none of them nor for a refused one (#GP); once per CPU per
       outermost call, with the final value; deferred like kick(), ahead
       of the kicks of the same call.  Default: nothing (the host reads IA32_APIC_BASE
       itself, e.g. on every access through intc_lapic_msr_read). */
    void (*apic_base_changed)(void *host, uint32_t cpu, uint64_t apic_base);
} intc_host_ops;

#ifdef __cplusplus
}
#endif

#endif /* INTC_COMMON_H */
