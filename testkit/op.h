/*
 * testkit — the operation set: every input a host gives libintc, as one
 * kit_op each, and the one executor of them (kit_exec).
 *
 * The scenario step vocabulary of intc-sim (docs/scenario.md) is this
 * set: intc-sim parses a step into a kit_op, the whole-machine fuzzer
 * (fuzz/machine_ops.c) decodes bytes into kit_ops, machine2yaml prints
 * them with kit_op_yaml(), and all of them run through kit_exec() on a
 * kit_rig (a kit_host, its machine, its devices and named snapshots).
 * kit_exec performs the operation and reports what came back in a
 * kit_result; it judges nothing (intc-sim checks a step's expectations
 * against the result, the fuzz oracles read it).
 *
 * kit_op_info[] has one row per kind: its scenario name, form, whether it
 * acts on a CPU, what it returns, and its operands (YAML key, type, the
 * kit_op member that holds it).  intc-sim's parser and the YAML printer
 * walk the same row.  Adding an operation: a kind, a row (op.c), its
 * execution (exec.c) and, only when the generic walk does not fit, a
 * parse rule (tools/intc-sim/scenario.c) and a print rule (op_yaml.c).
 */
#ifndef INTC_TESTKIT_OP_H
#define INTC_TESTKIT_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kit.h"

/* Register operand of write/read: an xAPIC offset, or the 64-bit ICR
   (x2APIC MSR 0x830; hi:lo in xAPIC mode). */
#define KIT_REG_ICR64 0x1000u

enum kit_op_kind {
    KIT_OP_ADVANCE,           /* value: ns */
    KIT_OP_BLOCK,             /* cpu, value: ns */
    KIT_OP_WRITE,             /* cpu, index: register, value */
    KIT_OP_READ,              /* cpu, index: register */
    KIT_OP_MMIO_WRITE,        /* cpu, addr: offset, size, value */
    KIT_OP_MMIO_READ,         /* cpu, addr: offset, size */
    KIT_OP_WRMSR,             /* cpu, index: MSR, value */
    KIT_OP_RDMSR,             /* cpu, index: MSR */
    KIT_OP_IPI,               /* cpu, value: dest, value2: vector, index:
                                 mode, size: shorthand, flags KIT_IPI_* */
    KIT_OP_TPR,               /* cpu, value */
    KIT_OP_LINT,              /* cpu, index: pin, value: level */
    KIT_OP_ACK,               /* cpu */
    KIT_OP_EOI,               /* cpu */
    KIT_OP_TAKE,              /* cpu, index: INTC_PEND_* */
    KIT_OP_RUN,               /* cpu, or every CPU with KIT_RUN_ALL */
    KIT_OP_RAISE_LVT,         /* cpu, index: INTC_LVT_* */
    KIT_OP_IOAPIC_RTE,        /* unit, index: pin, value: entry */
    KIT_OP_IOAPIC_REG,        /* unit, index: register, value */
    KIT_OP_IOAPIC_EOI,        /* unit, value: vector */
    KIT_OP_IRQ,               /* unit, index: pin, source, value: level */
    KIT_OP_GSI,               /* index: GSI, value: level */
    KIT_OP_MSI,               /* addr, value: data, source */
    KIT_OP_MSIX_TABLE,        /* unit, index: entry, addr, value: data,
                                 value2: masked; flags KIT_TF_* */
    KIT_OP_MSIX_CONTROL,      /* unit, value: enable, value2: mask */
    KIT_OP_MSIX_NOTIFY,       /* unit, index: vector */
    KIT_OP_MSI_CONFIG,        /* unit, addr: offset, size, value */
    KIT_OP_MSI_NOTIFY,        /* unit, index: vector */
    KIT_OP_IOMMU_WRITE,       /* addr: offset, size, value */
    KIT_OP_IOMMU_READ,        /* addr: offset, size */
    KIT_OP_MEMORY_WRITE,      /* addr, bytes, size: element width */
    KIT_OP_MEMORY_READ,       /* addr, n_bytes, size: element width */
    KIT_OP_SNAPSHOT,          /* unit: slot */
    KIT_OP_RESTORE,           /* unit: slot */
    /* Raw entry points (what a recorder of library calls sees). */
    KIT_OP_IOAPIC_MMIO_WRITE, /* unit, addr: offset, size, value */
    KIT_OP_IOAPIC_MMIO_READ,  /* unit, addr: offset, size */
    KIT_OP_MSIX_TABLE_WRITE,  /* unit, addr: offset, size, value */
    KIT_OP_MSIX_TABLE_READ,   /* unit, addr: offset, size */
    KIT_OP_MSIX_PBA_READ,     /* unit, addr: offset, size */
    KIT_OP_MSI_CONFIG_READ,   /* unit, addr: offset, size */
    KIT_OP_DEVICE_RESET,      /* unit: MSI-X or MSI device */
    KIT_OP_TIMER_EXPIRED,     /* unit: CPU or IOAPIC (KIT_TIMER_IOAPIC),
                                 value: time */
    KIT_OP_TSC_OFFSET,        /* cpu, value */
    KIT_OP_RESET,             /* the machine */
    KIT_OP_LAPIC_RESET,       /* cpu, index: 1 INIT, 0 RESET */
    KIT_OP_LOAD,              /* bytes: a machine image */
    KIT_OP_POST,              /* cpu, value2: vector, value: level */
    KIT_OP_SYNC_PIR,          /* cpu, bytes: 32-byte PIR or none */
    KIT_OP_IOMMU_TABLE,       /* addr: IRTA, value: enabled, value2: cfi */
    KIT_OP_IOMMU_INVALIDATE,  /* index, size: index mask */
    KIT_OP_REMAP,             /* addr, value: data, source */
    KIT_OP_IRQ_DELIVER,       /* value: dest, value2: vector, index:
                                 mode, flags KIT_IRQ_* */
    KIT_OP_COUNT_
};

/* flags */
#define KIT_IPI_LOGICAL 0x01u
#define KIT_IPI_LEVEL 0x02u
#define KIT_IPI_DEASSERT 0x04u
#define KIT_IPI_SELF_REG 0x08u /* in x2APIC mode, the SELF IPI register */
#define KIT_TF_ADDR 0x01u
#define KIT_TF_DATA 0x02u
#define KIT_TF_MASKED 0x04u
#define KIT_RUN_ALL 0x01u
#define KIT_TIMER_IOAPIC 0x01u
#define KIT_IRQ_LOGICAL 0x01u
#define KIT_IRQ_LEVEL 0x02u
#define KIT_IRQ_RH 0x04u
#define KIT_IRQ_X2APIC 0x08u

typedef struct kit_op {
    uint16_t kind;  /* enum kit_op_kind */
    uint16_t flags; /* KIT_*_ flags of the kind */
    uint32_t cpu;
    uint32_t unit;  /* IOAPIC, device, snapshot slot, timer */
    uint32_t index; /* register, MSR, pin, entry, vector, what */
    uint32_t size;  /* access size, shorthand, width, mask */
    uint32_t source;
    uint64_t addr;
    uint64_t value;
    uint64_t value2;
    const uint8_t *bytes; /* not owned */
    size_t n_bytes;
} kit_op;

/* ---- the table ---- */

/* Operand types. */
enum kit_ftype {
    KIT_F_UINT,     /* integer 0..max */
    KIT_F_BOOL,
    KIT_F_FLAG,     /* bool: sets flag when true */
    KIT_F_NFLAG,    /* bool: sets flag when false (default true) */
    KIT_F_WORD,     /* one of words[], stored as codes[i] */
    KIT_F_REG,      /* LAPIC register name or 16-byte aligned offset */
    KIT_F_DURATION, /* integer ns or "80us" */
    KIT_F_IOAPIC,   /* IOAPIC index of the machine */
    KIT_F_PIN,      /* pin of the op's IOAPIC (unit) */
    KIT_F_MSIX,     /* MSI-X device by name */
    KIT_F_MSI,      /* MSI device by name */
    KIT_F_DEVICE,   /* either */
    KIT_F_ENTRY,    /* entry of the op's MSI-X device */
    KIT_F_DEVVEC,   /* vector of the op's device (MSI-X entry, MSI 0..31) */
    KIT_F_SNAP,     /* snapshot name (defines one) */
    KIT_F_SNAP_USE, /* snapshot name taken earlier */
    KIT_F_HEX,      /* bytes as a hex string (max: length limit) */
    KIT_F_CPU_IDX   /* CPU index of the machine */
};

/* Where an operand lives in kit_op. */
enum kit_slot {
    KIT_S_CPU, KIT_S_UNIT, KIT_S_INDEX, KIT_S_SIZE, KIT_S_SOURCE,
    KIT_S_ADDR, KIT_S_VALUE, KIT_S_VALUE2, KIT_S_BYTES
};

typedef struct kit_field {
    const char *key;     /* YAML key (the scalar form: the op's name) */
    uint8_t type;        /* enum kit_ftype */
    uint8_t slot;        /* enum kit_slot */
    uint16_t flag;       /* optional operand: flag set when given (or
                            the KIT_F_FLAG bit); KIT_OPT: optional without
                            a flag; 0: required */
    uint64_t max;
    const char *const *words; /* KIT_F_WORD */
    const uint32_t *codes;
} kit_field;
#define KIT_OPT 0x8000u

/* Forms of a step's value. */
enum kit_form {
    KIT_FORM_MAP,    /* {key: value, ...}: the fields */
    KIT_FORM_SCALAR, /* the one field's value */
    KIT_FORM_TRUE,   /* `true` (no operand) */
    KIT_FORM_CUSTOM  /* the tool's own rule (ack, memory_*) */
};

/* What an op reports, for expectations: an error a step may expect,
   a value it may compare. */
#define KIT_RES_ERR 0x01u
#define KIT_RES_VALUE 0x02u

typedef struct kit_op_info {
    const char *name; /* scenario key */
    uint8_t form;     /* enum kit_form */
    bool on_cpu;      /* takes `cpu:` */
    uint8_t results;  /* KIT_RES_* */
    const kit_field *fields;
    unsigned n_fields;
} kit_op_info;

extern const kit_op_info kit_op_table[KIT_OP_COUNT_];
const char *kit_op_name(unsigned kind);

/* Word lists shared by the parser and the printer. */
extern const char *const kit_ipi_mode_words[];
extern const uint32_t kit_ipi_mode_codes[];
extern const char *const kit_take_words[];
extern const uint32_t kit_take_codes[];
extern const char *const kit_lvt_words[];
extern const uint32_t kit_lvt_codes[];
/* The errors a step may expect (`expect_error:` words and their
   intc_err codes, NULL-terminated) and the word of an error (NULL: none
   can name it). */
extern const char *const kit_err_words[];
extern const int kit_err_codes[];
const char *kit_err_word(int err);
/* LAPIC register names (KIT_F_REG); NULL if unnamed. */
const char *kit_reg_name(uint32_t reg);
bool kit_reg_lookup(const char *name, uint32_t *reg);
/* The word of codes[] equal to code, or NULL. */
const char *kit_word(const kit_field *f, uint32_t code);
/* Read / write an operand slot. */
uint64_t kit_op_get(const kit_op *op, unsigned slot);
void kit_op_set(kit_op *op, unsigned slot, uint64_t v);

/* ---- the rig and the executor ---- */

typedef struct kit_snap {
    uint8_t *img;
    size_t len;
    bool valid;
} kit_snap;

typedef struct kit_device {
    const char *name;
    bool msix;
    uint16_t vectors;  /* MSI-X */
    unsigned log2;     /* MSI */
    bool addr64, mask; /* MSI */
    uint16_t source_id;
} kit_device;

/* One INTA, EOI or signal taken inside a `run`, in order; KIT_RR_CPU
   starts one CPU's turn. */
enum { KIT_RR_CPU, KIT_RR_ACK, KIT_RR_EOI, KIT_RR_TAKE };
typedef struct kit_runrec {
    uint32_t cpu;
    uint8_t kind;  /* KIT_RR_* */
    uint8_t vec;   /* TAKE sipi: the SIPI vector */
    int16_t val;   /* ACK: the result (a spurious one: 0x100 | vector);
                      TAKE: what (INTC_PEND_*); EOI: the error */
} kit_runrec;

typedef struct kit_rig {
    kit_host *h;
    intc_machine *m;
    const kit_device *devs;
    void **dev; /* intc_msix * or intc_msi * per devs[] */
    size_t n_dev;
    kit_snap *snaps;
    size_t n_snaps;
    uint32_t n_cpus, n_ioapics;
    size_t max_runlog; /* run records kept per op */
} kit_rig;

typedef struct kit_result {
    intc_err err;       /* the call's result (the first failing one) */
    uint64_t value;     /* read-like ops: the value read */
    int ack;            /* ACK: intc_lapic_ack()'s result */
    int take;           /* TAKE: intc_lapic_take()'s result */
    uint8_t sipi;       /* TAKE: the SIPI vector */
    bool x2;            /* the CPU was in x2APIC mode (IPI, write) */
    bool skipped;       /* nothing done (restore of an empty slot, an
                           xAPIC IPI to a destination over 0xff) */
    uint64_t icr;       /* IPI: the ICR written */
    unsigned pending;   /* BLOCK: intc_lapic_pending() at the end */
    unsigned long fires; /* ADVANCE/BLOCK: timer expiries */
    const uint8_t *mem; /* MEMORY_READ: the bytes (NULL: no region) */
    intc_delivery dlv;  /* MSI, notify, irq_deliver outcome */
    intc_irq irq;       /* REMAP */
    /* RUN: what the CPUs did; n_runlog counts records beyond the kept */
    kit_runrec *runlog;
    size_t n_runlog, cap_runlog;
} kit_result;

/* Build h's machine from cfg, then the devices (devs stays the caller's)
   and n_snaps empty snapshot slots.  On failure returns the error; a
   device libintc refused is *bad_dev (else n_dev). */
intc_err kit_rig_init(kit_rig *r, kit_host *h, const intc_machine_config *cfg,
                      const kit_device *devs, size_t n_dev, size_t n_snaps,
                      size_t *bad_dev);
/* Frees the machine (and its devices) and the snapshots, not the host. */
void kit_rig_fini(kit_rig *r);

/* Perform op on the rig; *res is reset first (its run log buffer is kept
   and reused).  The op's operands must be in range for the rig (the
   parsers and the decoder check). */
void kit_exec(kit_rig *r, const kit_op *op, kit_result *res);
/* What kit_exec does first: *res cleared (ack -1), its run log kept. */
void kit_result_reset(kit_result *res);
void kit_result_free(kit_result *res);

/* Registers in the CPU's current mode (MMIO in xAPIC, MSR in x2APIC);
   reg may be KIT_REG_ICR64. */
bool kit_lapic_x2(intc_lapic *l);
intc_err kit_lapic_read(intc_lapic *l, uint32_t reg, uint64_t *val);
intc_err kit_lapic_write(intc_lapic *l, uint32_t reg, uint64_t val);

/* ---- printing ---- */

/* Names the printer uses for devices and snapshot slots (NULL: "devN",
   "sN"). */
typedef struct kit_names {
    const char *const *devices;
    const char *const *snaps;
} kit_names;

/* One step "{cpu: N, name: {...}}" (no dash, no newline) for op; extra,
   when not NULL, is appended inside the op's mapping (", expect: 0x40")
   or, for scalar forms, after it. */
void kit_op_yaml(FILE *f, const kit_op *op, const kit_names *nm,
                 const char *extra);

/* The scenario's `machine:` section for cfg, its devices (in creation
   order) and its guest memory regions, every key written out, so it
   parses back to the same configuration. */
void kit_machine_yaml(FILE *f, const intc_machine_config *cfg,
                      const kit_device *devs, size_t n_devs,
                      const kit_region *mem, size_t n_mem);

#endif /* INTC_TESTKIT_OP_H */
