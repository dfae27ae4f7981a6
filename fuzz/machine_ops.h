/*
 * Whole-machine fuzzing: the byte decoder and encoder of the operation set
 * (testkit/op.h), shared by the libFuzzer target (fuzz_machine.c) and the
 * converter (machine2yaml.c), which prints the same steps as an intc-sim
 * scenario (docs/scenario.md).
 *
 * An input is a header (machine configuration, oracle choices) followed by
 * operations.  Each operation decodes into one or more kit_ops, and every
 * kit_op runs through the testkit's one executor (kit_exec) on the kit's
 * host, as intc-sim runs it: the same register path per APIC mode, the
 * same host clock, timer order and fire budget (MO_MAX_FIRES, printed as
 * the scenario's host: {max_fires}), the same snapshot semantics.  So the
 * scenario machine2yaml prints replays the fuzzer's run event for event.
 *
 * Input layout (all multi-byte fields little-endian; reads past the end
 * give 0, so every input decodes):
 *   byte 0  bits 1:0 CPUs - 1 (1..4); bit 2 second IOAPIC (8 pins, GSI 24);
 *           bits 4:3 IOMMU (0, 3 none, 1 VT-d, 2 AMD-Vi); bit 5 directed
 *           EOI; bit 6 differential xAPIC-vs-x2APIC input (then no IOMMU,
 *           see mo_decode); bit 7 storm threshold 4 with a 500 ns throttle
 *   byte 1  bits 1:0 MSI-X functions (0..2, 3 = 2); bit 2 IOAPIC 0 is a
 *           version 0x11 82093AA; bit 3 focus-processor checking; bit 4
 *           no extended MSI destination; bits 7:5 all set (MO_FMT_RAW):
 *           opcode byte 0xff is the raw escape (below), else reserved
 *   byte 2  the step after which the snapshot round-trip oracle saves
 *           (0xff: never; otherwise byte % (steps + 1))
 *   then    operations: an opcode byte and its operands (mo_decode)
 *
 * The raw escape (format MO_FMT_RAW only, and not in a differential
 * input, whose steps must do alike in both APIC modes): 0xff, then one
 * kit_op with
 * full-width operands, little-endian: u8 kind, u16 flags, u32 cpu, unit,
 * index, size, source, u64 addr, value, value2, u16 n_bytes and the bytes
 * (at most MO_RAW_BYTES).  Operands are brought into the machine's range
 * by the op table (mo_fit), so every raw op is executable and printable;
 * mo_encode writes it, for a converter from recordings to seeds.
 */
#ifndef INTC_FUZZ_MACHINE_OPS_H
#define INTC_FUZZ_MACHINE_OPS_H

#include <intc/intc.h>

#include "op.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MO_MAX_CPUS 4u
#define MO_MAX_IOAPICS 2u
#define MO_MAX_MSIX 2u
#define MO_MSIX_VECTORS 8u
#define MO_IOAPIC0_PINS 24u
#define MO_IOAPIC1_PINS 8u
#define MO_MAX_STEPS 192u      /* primitive steps per input */
#define MO_MAX_FIRES 48u       /* timer expiries per advance step */
#define MO_SNAP_SLOTS 2u       /* named snapshots "s0", "s1" */
/* Guest memory for IOMMU tables: [MO_MEM_BASE, +MO_MEM_SIZE). */
#define MO_MEM_BASE 0x100000ull
#define MO_MEM_SIZE 0x4000u
#define MO_IRT (MO_MEM_BASE)            /* VT-d IRT, 256 entries, 4 KiB */
#define MO_PID (MO_MEM_BASE + 0x1000u)  /* posted descriptors, 64 B each */
#define MO_DEVTAB (MO_MEM_BASE + 0x2000u) /* AMD-Vi device table */
#define MO_AMD_IRT (MO_MEM_BASE + 0x3000u) /* AMD-Vi interrupt table */

typedef struct mo_config {
    unsigned n_cpus, n_ioapics, n_msix;
    unsigned iommu;       /* enum intc_iommu_kind */
    bool directed_eoi, storm, ioapic0_v11, focus, no_ext_dest;
    bool diff;            /* differential xAPIC vs x2APIC input */
    unsigned snap_at;     /* step index after which the oracle saves, or
                             UINT32_MAX */
} mo_config;

/* The steps are the testkit's operations (testkit/op.h). */
typedef kit_op mo_step;
typedef kit_result mo_result;

#define MO_FMT_RAW 0xe0u   /* byte 1 bits 7:5: the raw escape is on */
#define MO_RAW_OP 0xffu    /* its opcode byte */
#define MO_RAW_BYTES 512u  /* bytes one raw op carries at most */
#define MO_RUNLOG 1024u    /* run records kept per step */

typedef struct mo_program {
    mo_config cfg;
    mo_step steps[MO_MAX_STEPS];
    unsigned n;
    /* memory_write / load / sync_pir bytes of the steps */
    uint8_t bytes[MO_MAX_STEPS][32];
    uint8_t *raw_bytes[MO_MAX_STEPS]; /* larger ones (raw ops), owned */
} mo_program;

/* Decode an input.  Never fails: short inputs decode to fewer steps.
   mo_program_free() frees what raw ops allocated (not p). */
void mo_decode(const uint8_t *data, size_t size, mo_program *p);
void mo_program_free(mo_program *p);
/* Bring op's operands into the range of machine c (the op table's types
   and c's sizes); false if c cannot run it at all (no such device). */
bool mo_fit(const mo_config *c, kit_op *op);
/* Encoders: the 3-byte header of c (with MO_FMT_RAW set), and one op as
   a raw escape; each returns the bytes written (0: out does not have
   room, cap bytes). */
size_t mo_encode_header(const mo_config *c, uint8_t *out, size_t cap);
size_t mo_encode_op(const kit_op *op, uint8_t *out, size_t cap);

/* ---- host ---- */

/* Callbacks observed by the oracles and the trace hash. */
typedef struct mo_observer {
    void (*event)(void *ctx, const intc_event *ev);
    void (*kick)(void *ctx, uint32_t cpu);
    /* called by mo_exec once the timers due at the step's start fired */
    void (*mark)(void *ctx);
    void *ctx;
    /* The machine gets no event callback (ops.event == NULL), so it runs
       the untraced fast paths; event is never called (O10, oracles.c). */
    bool untraced;
} mo_observer;

/* The host is the testkit's (kit_host), the machine and its MSI-X
   functions a kit_rig; m and msix[] are the rig's, for the oracles. */
typedef struct mo_host {
    const mo_config *cfg;
    bool x2;                  /* differential run in x2APIC mode */
    kit_host *k;
    kit_rig rig;
    kit_device devs[MO_MAX_MSIX];
    intc_machine *m;
    intc_msix *msix[MO_MAX_MSIX];
    uint32_t fired;           /* timer slots fired during the last step */
    mo_observer obs;
    bool quiet;               /* callbacks not forwarded (during load) */
    bool untraced;            /* built without an event callback */
    /* Oracle state saved with named snapshots (restored by restore). */
    void *shadow;
    size_t shadow_size;
    void *snap_shadow[MO_SNAP_SLOTS];
} mo_host;

void mo_machine_config(const mo_config *c, intc_machine_config *mc,
                       intc_ioapic_config io[MO_MAX_IOAPICS],
                       uint8_t wiring0[MO_IOAPIC0_PINS],
                       uint8_t wiring1[MO_IOAPIC1_PINS]);
/* Build the machine and its devices.  Returns false on failure (the
   configuration is always valid, so only on out-of-memory). */
bool mo_host_init(mo_host *h, const mo_config *cfg, const mo_observer *obs);
void mo_host_fini(mo_host *h);
/* In differential x2APIC runs: switch every CPU to x2APIC mode. */
void mo_host_enter_x2apic(mo_host *h);
/* Execute one step the way intc-sim does. */
void mo_exec(mo_host *h, const mo_step *s, mo_result *r);
/* Host state for the snapshot round trip: copy everything but the
   machine from src into dst (clock, memory, event totals, named
   snapshots; not the timers: the machine's load re-arms them). */
bool mo_host_copy_state(mo_host *dst, const mo_host *src);
/* The host timer deadline of slot i (CPUs, then IOAPICs). */
uint64_t mo_deadline(const mo_host *h, unsigned i);
/* intc_machine_save() into a new buffer (*len bytes); NULL on failure. */
uint8_t *mo_save(intc_machine *m, size_t *len);
/* Whether the CPU is in x2APIC mode. */
bool mo_lapic_x2(intc_lapic *l);

/* ---- scenario output ---- */

/* The machine section (and the host's fire budget). */
void mo_yaml_machine(FILE *f, const mo_config *c, bool x2);
/* One step, annotated with what it returned (r may be NULL); x2: the
   x2APIC variant of a differential input. */
void mo_yaml_step(FILE *f, const mo_config *c, const mo_step *s,
                  const mo_result *r, bool x2);

#endif /* INTC_FUZZ_MACHINE_OPS_H */
