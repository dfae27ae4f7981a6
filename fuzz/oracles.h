/*
 * Oracles of the whole-machine fuzz target (fuzz_machine.c), also used by
 * machine2yaml --check.  What each one checks, and its exemptions, is
 * documented in oracles.c next to the code.
 *
 * One mo_oracle watches one machine run: it is the host's observer (every
 * event and kick goes through mo_oracle_event/kick), keeps a trace hash,
 * a delivery log for the differential oracle and a shadow of every IOAPIC
 * pin's last level delivery (saved and restored with the machine's named
 * snapshots), and checks invariants before/after each step.
 */
#ifndef INTC_FUZZ_ORACLES_H
#define INTC_FUZZ_ORACLES_H

#include "machine_ops.h"
#include "ref_model.h"

/* What the IOAPIC pin's last accepted level message went to. */
typedef struct mo_pin_shadow {
    bool valid;     /* Remote IRR set by a delivery we saw */
    bool decoupled; /* legitimately no longer tied to a held vector */
    int16_t vec;    /* vector the APICs accepted (after remapping) */
    uint8_t targets; /* CPUs that accepted it */
} mo_pin_shadow;

typedef struct mo_shadow {
    mo_pin_shadow pin[MO_MAX_IOAPICS][MO_IOAPIC0_PINS];
    rm_model rm; /* O11: the reference model (ref_model.c) */
} mo_shadow;

#define MO_EVBUF 1024u
#define MO_DLOG 4096u
#define MO_KLOG 256u

typedef struct mo_oracle {
    mo_host *h;
    mo_shadow sh;
    bool checks;            /* per-step invariant checks on */
    uint64_t hash;          /* FNV-1a of every event and kick */
    /* events of the current step */
    intc_event ev[MO_EVBUF];
    unsigned n_ev;
    unsigned mark; /* events before it: timers due at the step's start */
    bool overflow;
    /* the IOAPIC message being delivered, and the last one */
    struct mo_send {
        bool active;
        uint8_t unit, pin;
        int16_t vec;
        uint8_t targets;
        bool posted;
        bool accepted; /* some APIC accepted it (any delivery mode) */
    } cur, last;
    bool eoi_pending;
    uint32_t eoi_cpu;
    int32_t eoi_vec;
    /* pre-step state */
    uint64_t pre_rte;
    bool pre_active, pre_enabled, pre_masked;
    /* deliveries (differential oracle): step << 16 | kind << 9 |
       cpu << 8... see oracles.c */
    uint32_t dlog[MO_DLOG];
    unsigned n_dlog;
    bool dlog_overflow;
    /* kicks of the current step, in order (O10) */
    uint32_t kicks[MO_KLOG];
    unsigned n_kicks;
    rm_step rs;             /* O11: this step's unsure set */
    unsigned step;
    bool failed;
    char msg[768];
} mo_oracle;

void mo_oracle_init(mo_oracle *o, bool checks);
/* The observer to pass to mo_host_init(); then mo_oracle_attach(). */
mo_observer mo_oracle_observer(mo_oracle *o);
void mo_oracle_attach(mo_oracle *o, mo_host *h);
void mo_oracle_pre(mo_oracle *o, unsigned index, const mo_step *s);
/* Returns false (o->msg says why) when an invariant is broken. */
bool mo_oracle_post(mo_oracle *o, const mo_step *s, const mo_result *r);

/*
 * Every oracle on one input: the per-step checks, determinism, the
 * snapshot round trip, traced vs untraced (O10), and for differential
 * inputs xAPIC vs x2APIC.
 * Returns 0 if all hold, 1 with msg filled if one fails.
 */
int mo_check_input(const uint8_t *data, size_t size, char *msg, size_t len);

#endif /* INTC_FUZZ_ORACLES_H */
