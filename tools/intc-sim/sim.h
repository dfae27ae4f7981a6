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

#include "op.h"
#include "timeline.h"

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

/* A step's action: an operation (enum kit_op_kind) or an expectation. */
#define SIM_ACT_EXPECT KIT_OP_COUNT_

/* ack: what the INTA must return. */
enum { ACK_ANY, ACK_VECTOR, ACK_SPURIOUS, ACK_NONE };

/* What a step expects of its operation's result (sim_step.opt). */
enum {
    OPT_EXPECT = 1u << 0, /* expect value given (read-like steps); take:
                             the signal must be pending */
    OPT_MASK = 1u << 1,
    OPT_VECTOR = 1u << 2  /* take sipi vector check */
};

typedef struct sim_step {
    int line, col;
    char *name;
    unsigned action;        /* enum kit_op_kind or SIM_ACT_EXPECT */
    uint32_t cpu;
    /* Static virtual time: the action happens at t_action (after any
       at/after); t_end is the time after the step. */
    uint64_t t_start, t_action, t_end;
    kit_op op;              /* the operation (testkit/op.h) */
    /* Expectations of its result. */
    unsigned opt;
    int expect_error;       /* 0 or an intc_err the access must return */
    unsigned ack;           /* ACK_* */
    uint64_t mask, expect;
    uint8_t *bytes;         /* op.bytes: memory contents, hex images */
    size_t n_bytes;
    sim_expect *exp;
} sim_step;

typedef struct sim_region {
    uint64_t addr, size;
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
    uint32_t max_fires; /* host: max_fires (0: SIM_MAX_FIRES_PER_ADVANCE) */
    bool manual_timers; /* host: timers: manual */
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
const char *sim_action_name(unsigned a);
/* Step index (0-based) by "N" (1-based) or name; -1 if none. */
long sim_step_lookup(const sim_scenario *s, const char *spec);

/* ---- traces (trace.c) ---- */

enum sim_trace_mode { TRACE_NONE, TRACE_TEXT, TRACE_JSON };

typedef struct sim_vcd sim_vcd;

void sim_trace_step(FILE *f, enum sim_trace_mode mode, size_t index,
                    const sim_step *st, uint64_t time, const char *text,
                    const kit_item *items, size_t n_items, size_t n_lost);
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
#define sim_lapic_read kit_lapic_read
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
    const char *record_path; /* --record: intc_machine_record to FILE */
    const char *events_path; /* --events: every event, one per line */
    const char *final_image; /* --final-image: the machine's image */
    const char *to_yaml;     /* --replay: the recording as a scenario */
    const char *perfetto_path; /* --perfetto, --trace=perfetto FILE */
    const char *svg_path;      /* --svg: the SVG timeline */
} sim_options;

/* Build the machine, run the steps, check expectations.  Returns an exit
   code. */
int sim_run(const sim_scenario *s, const sim_options *o);

/* Write --perfetto/--svg of options o from t, free t; false (said) on
   error (run.c). */
bool sim_save_timeline(tl_trace *t, const sim_options *o);

/* replay.c: --replay FILE (docs/recording.md); an exit code. */
int sim_replay(const char *path, const sim_options *o);
/* One line per event with every field (--events files). */
void sim_events_line(FILE *f, const intc_event *ev);
/* Write m's intc_machine_save() image to path; false (said) on error. */
bool sim_write_image(intc_machine *m, const char *path);

/* ---- the runner's state (run.c, step.c, save.c) ---- */

/* Run records kept per `run` step (the trace names the first CPUs). */
#ifndef SIM_MAX_RUNLOG
#define SIM_MAX_RUNLOG (1u << 20)
#endif

/* A growable string with a hard cap (traces, failure messages). */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    bool truncated;
} strbuf;

/* The host is the testkit's (testkit/kit.h): clock, timers, guest
   memory, events and the timed log; the rig adds the machine, the
   devices and the named snapshots (testkit/op.h). */
typedef struct sim_host {
    const sim_scenario *s;
    const sim_options *o;
    kit_host *k;
    kit_rig rig;
    kit_device *devs;
    kit_result res;
    /* Event totals at the last event check: the window's counts are
       k->totals - wbase; k->events holds the window's events. */
    uint64_t wbase[INTC_EV_COUNT_];
    bool coalesced_note;
    sim_vcd *vcd;
    FILE *out;
    FILE *events; /* --events */
    FILE *rec;    /* --record */
    tl_trace *tl; /* --perfetto, --svg (tools/timeline) */
} sim_host;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sb_printf(strbuf *b, const char *fmt, ...);
void sim_vec_text(strbuf *b, const sim_vecset *v);
void sim_pending_text(strbuf *b, unsigned p);
/* step.c: execute an operation step, describe it (d) and check what the
   step expects of its result (f: failure lines). */
void sim_do_op(sim_host *h, const sim_step *st, strbuf *d, strbuf *f);
/* Past the fire budget the timers coalesce: said once per run (before:
   k->n_coalesced before the advance). */
void sim_coalesce_note(sim_host *h, unsigned long before);
/* run.c: an `expect` step. */
void sim_check_expect(sim_host *h, const sim_expect *e, strbuf *f);
/* save.c */
int sim_save_file(sim_host *h, size_t index);
int sim_resume_file(sim_host *h, size_t *next);

#endif /* INTC_SIM_H */
