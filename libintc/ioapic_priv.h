/*
 * libintc — I/O APIC private state.
 */
#ifndef INTC_IOAPIC_PRIV_H
#define INTC_IOAPIC_PRIV_H

#include "intc/intc.h"

struct intc_ioapic_pin {
    uint64_t rte;           /* stored bits (DS computed on read) */
    uint32_t sources;       /* asserted sources (wired-OR) */
    uint8_t wiring;         /* INTC_PIN_* */
    bool storming;
    bool send_pending;      /* level message nobody accepted (DS) */
    bool resample_queued;
    uint32_t redeliveries;  /* EOI re-deliveries since the line last fell */
    uint64_t throttle_until; /* 0: not throttled */
};

struct intc_ioapic {
    intc_machine *m;
    uint32_t index;
    uint8_t id;             /* ID register [27:24] */
    uint8_t reset_id;       /* the configured ID, restored by reset */
    uint8_t version;
    uint8_t ioregsel;
    uint16_t n_pins;
    uint16_t source_id;
    uint32_t gsi_base;
    uint64_t timer_deadline; /* throttle timer, UINT64_MAX none */
    struct intc_ioapic_pin *pins;
    /* Pins an EOI broadcast must look at: Remote IRR set, or a level
       message nobody accepted yet (derived; INTC_IOAPIC_MAX_PINS bits). */
    uint64_t eoi_pins[2];
};

intc_err intc__ioapic_init(intc_ioapic *io, intc_machine *m, uint32_t index,
                          const intc_ioapic_config *cfg);
void intc__ioapic_fini(intc_ioapic *io);
void intc__ioapic_do_reset(intc_ioapic *io);
/* A LAPIC broadcast an EOI for a level-triggered vector (82093AA 3.2.4:
   Remote IRR is reset when an EOI with a matching vector is received). */
void intc__ioapic_eoi(intc_ioapic *io, uint8_t vector);
bool intc__ioapic_check(const intc_ioapic *io, char *msg, size_t len);

#endif /* INTC_IOAPIC_PRIV_H */
