/*
 * libintc benchmarks — the reference model: a plain interrupt fabric that
 * does what QEMU 7.2's APIC, IOAPIC and VT-d interrupt-remapping models do
 * per operation, written from that description only:
 *  - per APIC, IRR/ISR/TMR as 8 x 32-bit words; the highest IRR and ISR
 *    vector are found by a full rescan and PPR is recomputed on every
 *    operation (delivery, INTA, EOI, TPR write);
 *  - each message's destination is resolved by a loop over all APICs
 *    (physical and logical), filling a bitmask of every APIC;
 *  - each remapped message re-reads its IRTE from guest memory (a memcpy)
 *    and decodes it; no entry cache;
 *  - the IOAPIC services all its pins on every line change and EOI.
 * It implements enough to run the benchmark cases, not the architecture.
 */
#ifndef INTC_BENCH_REF_MODEL_H
#define INTC_BENCH_REF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REF_IOAPIC_PINS 24u
#define REF_NO_CPU UINT32_MAX

typedef struct ref_apic {
    uint32_t id;          /* APIC ID (xAPIC: 8 bits used) */
    uint32_t irr[8], isr[8], tmr[8];
    uint32_t tpr;
    uint32_t ldr, dfr, svr;
    uint32_t lvt[7];      /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
    uint32_t esr;
    uint32_t icr[2];
    bool x2apic;
    /* timer */
    uint32_t initial_count, dcr;
    unsigned count_shift;
    int64_t load_time;    /* ns of the initial-count write */
    int64_t next_time;    /* armed expiry, -1 none */
    uint64_t tsc_deadline;
} ref_apic;

typedef struct ref_machine {
    uint32_t n;
    ref_apic *apic;
    uint32_t *bitmask;    /* destination set, one bit per APIC */
    uint64_t now;         /* ns */
    uint64_t kicks;
    /* one IOAPIC */
    uint64_t rte[REF_IOAPIC_PINS];
    uint32_t ioapic_irr;
    uint32_t ioapic_lines;
    /* VT-d interrupt remapping */
    bool ir_enabled;
    bool eime;
    uint64_t irta;        /* table address */
    uint32_t irt_entries;
    uint8_t *gmem;        /* guest memory */
    uint64_t gmem_base;
    size_t gmem_size;
} ref_machine;

ref_machine *ref_new(uint32_t n_cpus, uint8_t *gmem, uint64_t gmem_base,
                     size_t gmem_size);
void ref_free(ref_machine *r);
void ref_reset(ref_machine *r);

/* CPU side */
int ref_ack(ref_machine *r, uint32_t cpu);
void ref_eoi(ref_machine *r, uint32_t cpu);
uint32_t ref_mmio_read(ref_machine *r, uint32_t cpu, uint32_t off);
void ref_mmio_write(ref_machine *r, uint32_t cpu, uint32_t off, uint32_t v);
uint64_t ref_msr_read(ref_machine *r, uint32_t cpu, uint32_t msr);
void ref_msr_write(ref_machine *r, uint32_t cpu, uint32_t msr, uint64_t v);
void ref_timer_expired(ref_machine *r, uint32_t cpu, uint64_t now);
int64_t ref_timer_deadline(const ref_machine *r, uint32_t cpu);

/* device side */
void ref_msi_send(ref_machine *r, uint64_t addr, uint32_t data,
                  uint16_t sid);
void ref_ioapic_write_rte(ref_machine *r, unsigned pin, uint64_t rte);
void ref_ioapic_set_irq(ref_machine *r, unsigned pin, bool level);
void ref_ir_set_table(ref_machine *r, uint64_t irta, bool eime,
                      uint32_t entries, bool enabled);

/* snapshots: a flat image of every APIC and the IOAPIC */
size_t ref_save(const ref_machine *r, void *buf, size_t len);
bool ref_load(ref_machine *r, const void *buf, size_t len);

#endif /* INTC_BENCH_REF_MODEL_H */
