/*
 * Whole-machine fuzzing: the byte decoder, the host and the step executor
 * shared by the libFuzzer target (fuzz_machine.c) and the converter
 * (machine2yaml.c), which prints the same steps as an intc-sim scenario
 * (docs/scenario.md).
 *
 * An input is a header (machine configuration, oracle choices) followed by
 * operations.  Each operation decodes into one or more primitive steps, and
 * every primitive step is exactly one intc-sim scenario action executed the
 * way intc-sim executes it (tools/intc-sim/run.c): the same register path
 * per APIC mode, the same host clock and timer order, the same snapshot
 * semantics.  So the scenario machine2yaml prints replays the fuzzer's run
 * event for event.
 *
 * Input layout (all multi-byte fields little-endian; reads past the end
 * give 0, so every input decodes):
 *   byte 0  bits 1:0 CPUs - 1 (1..4); bit 2 second IOAPIC (8 pins, GSI 24);
 *           bits 4:3 IOMMU (0, 3 none, 1 VT-d, 2 AMD-Vi); bit 5 directed
 *           EOI; bit 6 differential xAPIC-vs-x2APIC input (then no IOMMU,
 *           see mo_decode); bit 7 storm threshold 4 with a 500 ns throttle
 *   byte 1  bits 1:0 MSI-X functions (0..2, 3 = 2); bit 2 IOAPIC 0 is a
 *           version 0x11 82093AA; bit 3 focus-processor checking; bit 4
 *           no extended MSI destination; bits 7:5 reserved
 *   byte 2  the step after which the snapshot round-trip oracle saves
 *           (0xff: never; otherwise byte % (steps + 1))
 *   then    operations: an opcode byte and its operands (mo_decode)
 */
#ifndef INTC_FUZZ_MACHINE_OPS_H
#define INTC_FUZZ_MACHINE_OPS_H

#include <intc/intc.h>

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

enum mo_kind {
    MO_WRITE,        /* write: {reg, value} (mode-dependent path) */
    MO_READ,         /* read: {reg} */
    MO_MMIO_WRITE,   /* mmio_write: {offset, size, value} */
    MO_WRMSR,        /* wrmsr: {msr, value} */
    MO_IPI,          /* ipi: {...} */
    MO_TPR,          /* tpr: V */
    MO_LINT,         /* lint: {pin, level} */
    MO_ACK,          /* ack */
    MO_EOI,          /* eoi: true */
    MO_TAKE,         /* take: what */
    MO_RUN,          /* run: true (cpu or all) */
    MO_RAISE_LVT,    /* raise_lvt */
    MO_ADVANCE,      /* advance: ns */
    MO_IOAPIC_RTE,   /* ioapic_write: {ioapic, pin, rte} */
    MO_IOAPIC_REG,   /* ioapic_write: {ioapic, reg, value} */
    MO_IOAPIC_EOI,   /* ioapic_eoi */
    MO_IRQ,          /* irq: {ioapic, pin, source, level} */
    MO_MSI,          /* msi: {addr, data, source_id} */
    MO_MSIX_TABLE,   /* msix_table: {device, entry, addr, data, masked} */
    MO_MSIX_CONTROL, /* msix_control */
    MO_MSIX_NOTIFY,  /* msix_notify */
    MO_IOMMU_WRITE,  /* iommu_write: {offset, size, value} */
    MO_MEMORY_WRITE, /* memory_write: {addr, qwords} */
    MO_SNAPSHOT,     /* snapshot: sN */
    MO_RESTORE,      /* restore: sN */
    MO_KIND_COUNT
};

/* MO_IPI: value = dest, aux = vector | mode << 8 | shorthand << 12 |
   logical << 14 | level << 15 | deassert << 16. */
#define MO_IPI_LOGICAL (1u << 14)
#define MO_IPI_LEVEL (1u << 15)
#define MO_IPI_DEASSERT (1u << 16)
/* MO_MSIX_TABLE flags */
#define MO_TF_ADDR 1u
#define MO_TF_DATA 2u
#define MO_TF_MASKED 4u
/* MO_RUN on every CPU */
#define MO_RUN_ALL 1u

typedef struct mo_step {
    uint8_t kind;   /* enum mo_kind */
    uint8_t cpu;
    uint8_t unit;   /* IOAPIC, MSI-X function, snapshot slot */
    uint8_t flags;
    uint32_t reg;   /* register offset / MSR / pin / entry / IOMMU offset */
    uint32_t aux;   /* size / source / what / vector / qword count */
    uint64_t value; /* value / addr / duration / dest */
    uint64_t v[4];  /* data, memory qwords */
} mo_step;

typedef struct mo_program {
    mo_config cfg;
    mo_step steps[MO_MAX_STEPS];
    unsigned n;
} mo_program;

/* Decode an input.  Never fails: short inputs decode to fewer steps. */
void mo_decode(const uint8_t *data, size_t size, mo_program *p);

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

typedef struct mo_snap {
    uint8_t *img;
    size_t len;
    bool valid;
    void *shadow; /* oracle state at the snapshot (mo_host.shadow_size) */
} mo_snap;

typedef struct mo_host {
    const mo_config *cfg;
    bool x2;                  /* differential run in x2APIC mode */
    intc_machine *m;
    intc_msix *msix[MO_MAX_MSIX];
    uint64_t now;
    uint64_t deadline[MO_MAX_CPUS + MO_MAX_IOAPICS];
    uint8_t mem[MO_MEM_SIZE];
    mo_snap snaps[MO_SNAP_SLOTS];
    uint64_t totals[INTC_EV_COUNT_];
    uint32_t fired;           /* timer slots fired during the last step */
    mo_observer obs;
    bool quiet;               /* callbacks not forwarded (during load) */
    bool untraced;            /* built without an event callback */
    /* Oracle state saved with named snapshots (restored by restore). */
    void *shadow;
    size_t shadow_size;
} mo_host;

/* One INTA, EOI or signal taken inside a `run` step, in order (for the
   reference model, O11). */
enum { MO_RR_ACK, MO_RR_EOI, MO_RR_TAKE };
typedef struct mo_runrec {
    uint8_t cpu;
    uint8_t kind;  /* MO_RR_* */
    int16_t val;   /* ACK: the result; TAKE: what (INTC_PEND_*) */
} mo_runrec;
#define MO_RUNLOG 1024u

/* What one executed step returned (for the converter's annotations). */
typedef struct mo_result {
    intc_err err;       /* access result (write/read/mmio/wrmsr) */
    int ack;            /* MO_ACK: vector, or -1 */
    bool spurious;      /* MO_ACK returned the spurious vector */
    int take;           /* MO_TAKE: 1/0 */
    uint8_t sipi;       /* MO_TAKE sipi vector */
    uint64_t read;      /* MO_READ value */
    uint64_t advanced;  /* MO_ADVANCE: ns actually advanced */
    bool skipped;       /* not executable here (nothing happened) */
    bool x2mode;        /* MO_IPI: sent through the x2APIC ICR MSR */
    uint64_t icr;       /* MO_IPI: the ICR low half composed */
    /* MO_RUN: what the CPUs did, in order; n_runlog > MO_RUNLOG means
       the log overflowed */
    unsigned n_runlog;
    mo_runrec runlog[MO_RUNLOG];
} mo_result;

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
   machine from src into dst (clock, deadlines, memory, named snapshots). */
bool mo_host_copy_state(mo_host *dst, const mo_host *src);
/* intc_machine_save() into a new buffer (*len bytes); NULL on failure. */
uint8_t *mo_save(intc_machine *m, size_t *len);
/* Whether the CPU is in x2APIC mode. */
bool mo_lapic_x2(intc_lapic *l);

/* ---- scenario output ---- */

const char *mo_reg_name(uint32_t off);
/* The machine section. */
void mo_yaml_machine(FILE *f, const mo_config *c, bool x2);
/* One step, annotated with what it returned (r may be NULL); x2: the
   x2APIC variant of a differential input. */
void mo_yaml_step(FILE *f, const mo_config *c, const mo_step *s,
                  const mo_result *r, bool x2);

#endif /* INTC_FUZZ_MACHINE_OPS_H */
