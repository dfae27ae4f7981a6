/*
 * testkit — a recording (include/intc/record.h, docs/recording.md) as
 * operations of the test kit's set (op.h): the converter behind
 * `intc-sim --replay FILE --to-yaml=OUT` (a scenario) and fuzz/rec2seed
 * (a fuzz_machine input).
 *
 * Each recorded call becomes the kit_op that makes the same library call
 * (raw accesses: mmio_read/write, ioapic_mmio_*, msix_table_*, ...),
 * preceded by the ops that recreate the host inputs it read: `advance`
 * to the clock value it read (the converted scenario runs with
 * `host: {timers: manual}`, so advancing fires nothing and each timer
 * expires at its recorded `timer_expired`), `memory_write` of the guest
 * memory bytes it read where they differ from what the memory holds by
 * then, `post` of the vectors it folded.  Results are kept as
 * expectations (`expect:`, `expect_error:`, `ack: V`, take's `expect`),
 * so the scenario checks itself.  Calls the host made from deferred
 * callbacks come out in stream order, after their parent call (the state
 * they see is the same).
 *
 * Not expressible (counted in n_inexact, and said in a note): a clock
 * that goes back (per-CPU clocks), intc_msix_free / intc_msi_free, a
 * failed guest-memory access on a page that also had a successful one,
 * an error result the step cannot expect, devices created while
 * recording or numbered otherwise than the scenario numbers them, a
 * recorded host with eoi() or apic_base_changed() (intc-sim's host has
 * neither, so resample events differ).
 */
#ifndef INTC_TESTKIT_REC_CONV_H
#define INTC_TESTKIT_REC_CONV_H

#include "op.h"

/* Where the converted operations go. */
typedef struct kit_conv_out {
    void *ctx;
    /* One operation; extra: the expectation to print with it (the
       `extra` of kit_op_yaml), or NULL. */
    void (*op)(void *ctx, const kit_op *op, const char *extra);
    /* Something the operations cannot say (a comment). */
    void (*note)(void *ctx, const char *text);
} kit_conv_out;

typedef struct kit_conv {
    /* The recorded machine: configuration (arrays owned here), devices
       in unit order (names "dev<unit>"), guest memory regions covering
       the pages the recording read or wrote successfully. */
    intc_machine_config cfg;
    uint32_t *apic_ids;
    intc_ioapic_config *ioapics;
    kit_device *devs;
    uint32_t *units;
    char (*names)[16];
    size_t n_devs;
    kit_region *mem;
    size_t n_mem;
    /* The image the recording starts from, when it differs from a
       fresh machine's (else NULL): the first operation loads it. */
    const uint8_t *image;
    size_t image_len;
    uint64_t n_calls;
    /* What the converted run cannot reproduce exactly, said once as a
       note at the start: devices created while recording (declared up
       front), device units other than the scenario's (MSI-X first, then
       MSI, numbered from 0), recorded host callbacks intc-sim's host does
       not have (eoi, apic_base_changed: their events differ). */
    bool late_devices, units_differ;
    uint32_t host_ops;
    unsigned n_inexact;
    char msg[160]; /* why kit_conv_open / kit_conv_run failed */
} kit_conv;

/* Read the recording's header and scan it (devices, memory): INTC_OK,
   or an error with c->msg.  buf must outlive c. */
intc_err kit_conv_open(kit_conv *c, const uint8_t *buf, size_t len);
/* Convert every call, in order, to out.  INTC_OK or an error with
   c->msg. */
intc_err kit_conv_run(kit_conv *c, const uint8_t *buf, size_t len,
                      const kit_conv_out *out);
void kit_conv_fini(kit_conv *c);

/* The whole recording as an intc-sim scenario on f (title: its name);
   INTC_OK, or an error with c->msg.  c is opened here; the caller
   finishes it (kit_conv_fini) either way, after reading n_inexact. */
intc_err kit_conv_yaml(FILE *f, const uint8_t *buf, size_t len,
                       const char *title, kit_conv *c);

#endif /* INTC_TESTKIT_REC_CONV_H */
