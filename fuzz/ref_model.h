/*
 * A second opinion: an independent reference model of the interrupt
 * fabric for the whole-machine fuzz target (oracle O11, oracles.c).
 * See ref_model.c for what it models, the sources it follows and its
 * documented gaps.  Its state lives in the oracle's shadow, so the
 * host's named snapshots save and restore it with the machine.
 */
#ifndef INTC_FUZZ_REF_MODEL_H
#define INTC_FUZZ_REF_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define RM_MAX_CPUS 4u
#define RM_MAX_IOAPICS 2u
#define RM_MAX_PINS 24u
#define RM_MAX_MSIX 2u
#define RM_MSIX_VECTORS 8u

enum rm_mode { RM_DISABLED = 0, RM_XAPIC = 1, RM_X2APIC = 2 };

typedef struct rm_cpu {
    /* one byte per vector: plain arrays, scanned in full */
    uint8_t irr[256], isr[256], tmr[256];
    uint8_t tpr;
    uint32_t svr;
    uint8_t mode;          /* enum rm_mode */
    uint64_t apic_base;    /* as the guest last wrote it successfully */
    uint32_t initial_id;   /* fixed: the configuration's */
    uint8_t xapic_id;      /* guest-writable in xAPIC mode */
    uint32_t ldr, dfr;
    uint8_t icr_dest;      /* xAPIC ICR high [31:24] */
    bool wait_sipi;        /* an AP after taking INIT, until SIPI taken */
    bool lint_used;        /* LINT pins or their LVTs touched (see .c) */
} rm_cpu;

typedef struct rm_pin {
    uint64_t rte;          /* stored bits, without Remote IRR and DS */
    uint32_t sources;      /* asserted sources (wired-OR) */
    uint8_t wiring;        /* INTC_PIN_* */
    bool remote_irr;
    bool send_pending;     /* level message nobody accepted */
    uint32_t redeliveries; /* EOI re-deliveries since the line fell */
    uint64_t throttle_until; /* 0: not throttled */
    bool storm_unknown;    /* resynchronised while asserted: the re-delivery
                              count and throttle are not public */
} rm_pin;

typedef struct rm_msix {
    bool enabled, fmask;
    uint32_t addr_lo[RM_MSIX_VECTORS], addr_hi[RM_MSIX_VECTORS],
        data[RM_MSIX_VECTORS];
    bool masked[RM_MSIX_VECTORS], pending[RM_MSIX_VECTORS];
} rm_msix;

typedef struct rm_config {
    unsigned n_cpus, n_ioapics, n_pins[RM_MAX_IOAPICS], n_msix;
    uint8_t version[RM_MAX_IOAPICS];
    bool directed_eoi, focus, ext_dest;
    uint32_t storm_threshold;
    uint64_t throttle_ns;
} rm_config;

typedef struct rm_model {
    bool ready;
    rm_config cfg;
    rm_cpu cpu[RM_MAX_CPUS];
    rm_pin pin[RM_MAX_IOAPICS][RM_MAX_PINS];
    rm_msix msix[RM_MAX_MSIX];
    int32_t lp_last;       /* round-robin position; -1 unknown */
    bool remap_possible;   /* the guest touched the IOMMU (see .c) */
} rm_model;

/* What the model could not follow in the current step (not saved). */
typedef struct rm_step {
    uint32_t unsure_cpus;  /* CPUs to resynchronise instead of compare */
    bool unsure_all;       /* every CPU and pin */
    uint64_t now;          /* the host clock */
    bool failed;
    char msg[384];
} rm_step;

#endif /* INTC_FUZZ_REF_MODEL_H */
