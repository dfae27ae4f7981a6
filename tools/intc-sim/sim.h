/*
 * intc-sim — internal interfaces between the CLI (main.c), the scenario
 * model (scenario.c), the host and runner (run.c) and the traces (trace.c).
 *
 * The scenario file is parsed and validated completely into a sim_scenario
 * before anything runs (docs/scenario.md); the runner then only executes
 * values that are known to be in range.
 */
#ifndef INTC_SIM_H
#define INTC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <intc/intc.h>

/* Exit codes (docs/scenario.md). */
#define SIM_EXIT_OK 0
#define SIM_EXIT_FAIL 1
#define SIM_EXIT_MALFORMED 2
#define SIM_EXIT_HOST 3

/* Bounds that keep any input's cost finite (the tool is fuzzed; the fuzz
   target compiles scenario.c and run.c with tighter values, hence the
   #ifndef). */
#ifndef SIM_MAX_FILE_BYTES
#define SIM_MAX_FILE_BYTES (16u << 20)     /* scenario file size */
#endif
#ifndef SIM_MAX_DEPTH
#define SIM_MAX_DEPTH 64u                  /* nested lists and mappings,
                                              counted while parsing */
#endif
#ifndef SIM_MAX_NODE_VISITS
#define SIM_MAX_NODE_VISITS 4000000u       /* YAML nodes examined, aliases
                                              counted once per use */
#endif
#ifndef SIM_MAX_MEMORY_BYTES
#define SIM_MAX_MEMORY_BYTES (64u << 20)   /* guest memory, all regions */
#endif
#ifndef SIM_MAX_FIRES_PER_ADVANCE
#define SIM_MAX_FIRES_PER_ADVANCE 100000u  /* then due timers coalesce */
#endif
#ifndef SIM_MAX_FIRES_TOTAL
#define SIM_MAX_FIRES_TOTAL 2000000u
#endif
#ifndef SIM_MAX_WINDOW_EVENTS
#define SIM_MAX_WINDOW_EVENTS 1000000u     /* stored for `events:` checks */
#endif
#ifndef SIM_MAX_STEP_TRACE
#define SIM_MAX_STEP_TRACE 100000u         /* trace lines kept per step */
#endif

/* Register operand of write/read/expect reg: an xAPIC offset, or the
   64-bit ICR (x2APIC MSR 0x830; hi:lo in xAPIC mode). */
#define SIM_REG_ICR64 0x1000u

/* A 256-bit vector set. */
typedef struct sim_vecset {
    uint64_t w[4];
} sim_vecset;

/* Event pattern field flags. */
enum {
    PAT_CPU = 1u << 0,
    PAT_VECTOR = 1u << 1,
    PAT_UNIT = 1u << 2,
    PAT_PIN = 1u << 3,
    PAT_DATA = 1u << 4,
    PAT_DATA2 = 1u << 5,
    PAT_TYPE = 1u << 6
};

typedef struct sim_pattern {
    unsigned fields; /* PAT_* given */
    int type;        /* intc_event_type */
    uint32_t cpu;
    int32_t vector;
    uint32_t unit, pin;
    uint64_t data, data2;
    int line, col;
} sim_pattern;

typedef struct sim_regcheck {
    uint32_t reg; /* offset or SIM_REG_ICR64 */
    uint64_t value;
} sim_regcheck;

typedef struct sim_count {
    int type;
    uint64_t n;
} sim_count;

/* The three vector registers an expectation can check. */
enum { VR_IRR, VR_ISR, VR_TMR, VR_COUNT };

typedef struct sim_expect {
    bool has_cpu_keys;
    uint32_t cpu;
    /* Per register: exact set, must-have, must-lack. */
    bool has_exact[VR_COUNT], has_has[VR_COUNT], has_lacks[VR_COUNT];
    sim_vecset exact[VR_COUNT], has[VR_COUNT], lacks[VR_COUNT];
    bool has_ppr, has_tpr, has_pending, has_wfs;
    uint8_t ppr, tpr;
    unsigned pending;
    bool wfs;
    sim_regcheck *regs;
    size_t n_regs;
    /* IOAPIC pin state. */
    bool has_pin;
    uint32_t ioapic, pin;
    bool has_remote_irr, has_delivs, has_line;
    bool remote_irr, delivs, line;
    /* MSI-X pending bits. */
    bool has_msix;
    uint32_t msix_dev;
    uint64_t msix_bits[INTC_MSIX_MAX_VECTORS / 64];
    /* Events. */
    sim_pattern *events, *no_events, *in_order;
    size_t n_events, n_no_events, n_in_order;
    bool has_events_key; /* any event key given: resets window */
    sim_count *count, *total;
    size_t n_count, n_total;
    bool has_time;
    uint64_t time;
} sim_expect;

enum sim_action {
    ACT_ADVANCE,
    ACT_WRITE,
    ACT_READ,
    ACT_MMIO_WRITE,
    ACT_MMIO_READ,
    ACT_WRMSR,
    ACT_RDMSR,
    ACT_IPI,
    ACT_TPR,
    ACT_LINT,
    ACT_ACK,
    ACT_EOI,
    ACT_TAKE,
    ACT_RUN,
    ACT_RAISE_LVT,
    ACT_BLOCK,
    ACT_IOAPIC_RTE,
    ACT_IOAPIC_REG,
    ACT_IOAPIC_EOI,
    ACT_IRQ,
    ACT_IRQ_GSI,
    ACT_MSI,
    ACT_MSIX_TABLE,
    ACT_MSIX_CONTROL,
    ACT_MSIX_NOTIFY,
    ACT_MSI_CONFIG,
    ACT_MSI_NOTIFY,
    ACT_IOMMU_WRITE,
    ACT_IOMMU_READ,
    ACT_MEMORY_WRITE,
    ACT_MEMORY_READ,
    ACT_SNAPSHOT,
    ACT_RESTORE,
    ACT_EXPECT,
    ACT_COUNT_
};

/* ack: what the INTA must return. */
enum { ACK_ANY, ACK_VECTOR, ACK_SPURIOUS, ACK_NONE };

/* Optional operand flags (sim_step.opt). */
enum {
    OPT_EXPECT = 1u << 0,    /* expect value given (read-like steps) */
    OPT_MASK = 1u << 1,
    OPT_ADDR = 1u << 2,      /* msix_table fields */
    OPT_DATA = 1u << 3,
    OPT_MASKED = 1u << 4,
    OPT_VECTOR = 1u << 5,    /* take sipi vector check */
    OPT_LOGICAL = 1u << 6,   /* ipi flags */
    OPT_LEVEL = 1u << 7,
    OPT_DEASSERT = 1u << 8,
    OPT_ALL_CPUS = 1u << 9   /* run without cpu */
};

typedef struct sim_step {
    int line, col;
    char *name;
    enum sim_action action;
    uint32_t cpu;
    /* Static virtual time: the action happens at t_action (after any
       at/after); t_end is the time after the step. */
    uint64_t t_start, t_action, t_end;
    unsigned opt;
    int expect_error;       /* 0 or an intc_err the access must return */
    uint32_t unit, pin, source;
    uint64_t off, size, value, value2, mask, expect;
    unsigned what;          /* take: INTC_PEND_*; raise_lvt: INTC_LVT_*;
                               ack: ACK_*; ipi: mode */
    unsigned shorthand;
    uint8_t *bytes;         /* memory_write/read contents */
    size_t n_bytes;
    int snap;               /* snapshot/restore: index in snap_names */
    sim_expect *exp;
} sim_step;

typedef struct sim_region {
    uint64_t addr, size;
    uint8_t *mem; /* owned by the host (run.c), not the scenario */
} sim_region;

typedef struct sim_device {
    char *name;
    bool is_msix;
    /* msix */
    uint16_t vectors;
    /* msi */
    unsigned log2;
    bool addr64, mask;
    uint16_t source_id;
} sim_device;

typedef struct sim_scenario {
    char *file;  /* path as given, for messages */
    char *title; /* `name:` */
    uint64_t hash; /* FNV-1a of the file bytes (--save-at/--resume) */

    intc_machine_config cfg;
    uint32_t *apic_ids;
    intc_ioapic_config *ioapics;
    uint8_t **wiring; /* per IOAPIC, n_pins entries */
    int machine_line, machine_col;

    sim_device *devices;
    size_t n_devices;
    sim_region *regions;
    size_t n_regions;

    sim_step *steps;
    size_t n_steps;
    char **snap_names;
    size_t n_snap_names;
} sim_scenario;

/* scenario.c: parse and validate FILE.  On a malformed file print
   "FILE:LINE:COL: error: ..." to stderr and return SIM_EXIT_MALFORMED;
   SIM_EXIT_HOST if it cannot be read.  *out is NULL on failure. */
int sim_scenario_load(const char *path, sim_scenario **out);
/* The same on the len bytes at buf (need not be NUL-terminated); path
   names the input in messages.  For the fuzz target and embedders. */
int sim_scenario_parse(const char *path, const unsigned char *buf,
                       size_t len, sim_scenario **out);
void sim_scenario_free(sim_scenario *s);
/* FNV-1a (64-bit) of n bytes at p, continuing from h (SIM_FNV1A_INIT to
   start): the scenario hash and the save file's checksum. */
#define SIM_FNV1A_INIT 0xcbf29ce484222325ull
uint64_t sim_fnv1a(uint64_t h, const void *p, size_t n);
/* Register name for messages ("tpr", "0x2c0"); buf for unnamed ones. */
const char *sim_reg_name(uint32_t reg, char *buf, size_t len);
const char *sim_action_name(enum sim_action a);
/* Step index (0-based) by "N" (1-based) or name; -1 if none. */
long sim_step_lookup(const sim_scenario *s, const char *spec);

/* ---- traces (trace.c) ---- */

enum sim_trace_mode { TRACE_NONE, TRACE_TEXT, TRACE_JSON };

typedef struct sim_vcd sim_vcd;

/* One recorded trace item of the current step. */
typedef struct sim_item {
    bool is_kick;
    uint64_t time;
    intc_event ev; /* ev.cpu is the kicked CPU for kicks */
} sim_item;

void sim_trace_step(FILE *f, enum sim_trace_mode mode, size_t index,
                    const sim_step *st, uint64_t time, const char *text,
                    const sim_item *items, size_t n_items, size_t n_lost);
void sim_trace_failure(FILE *f, enum sim_trace_mode mode, size_t index,
                       const sim_step *st, const char *what,
                       const char *lines);
void sim_trace_end(FILE *f, enum sim_trace_mode mode, int status,
                   size_t steps_run, uint64_t time);
/* Decode an event's fields readably into buf ("cpu=1 vector=0x40 ..."). */
void sim_event_text(const intc_event *ev, char *buf, size_t len);

/* VCD writer.  sim_vcd_open writes the header and the initial values at
   time t; sample() emits the signals that changed, at time t (>= the
   previous t).  Returns NULL (errno set) if the file cannot be created. */
sim_vcd *sim_vcd_open(const char *path, intc_machine *m, uint64_t t);
void sim_vcd_sample(sim_vcd *v, uint64_t t);
/* Closes the file; false if any write failed. */
bool sim_vcd_close(sim_vcd *v);

/* Read an APIC register the way the guest would in the CPU's current
   mode (MMIO in xAPIC, RDMSR in x2APIC).  reg may be SIM_REG_ICR64. */
intc_err sim_lapic_read(intc_lapic *l, uint32_t reg, uint64_t *val);
/* The 256-bit register at base (ISR0/TMR0/IRR0); zero where unreadable. */
void sim_lapic_vec(intc_lapic *l, uint32_t base, sim_vecset *out);

/* ---- runner (run.c) ---- */

typedef struct sim_options {
    enum sim_trace_mode trace;
    bool quiet;
    const char *vcd_path;
    long save_at; /* step index (0-based) or -1 */
    const char *save_path;
    const char *resume_path;
} sim_options;

/* Build the machine, run the steps, check expectations.  Returns an exit
   code. */
int sim_run(const sim_scenario *s, const sim_options *o);

#endif /* INTC_SIM_H */
