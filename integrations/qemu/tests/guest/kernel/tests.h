/* Shared by the test files: timeouts, the count checks and the IPI
   helpers (t_ipi.c), and each file's table of tests. */
#ifndef GUEST_TESTS_H
#define GUEST_TESTS_H

#include "kernel.h"

/* How long a delivery may take (TCG on a loaded host is slow), and how
   long to watch for deliveries that must not come. */
#define WAIT_MS 1000
#define SETTLE_MS 30

/* Wait until every CPU i took vector v want[i] times, then SETTLE_MS for
   extra ones; fail "what: vector v taken [...] expected [...]". */
int expect_counts(unsigned v, const uint32_t *want, const char *what);
void expect_counts_soft(unsigned v, const uint32_t *want, const char *what); /* EXPECT */
void want_mask(uint32_t *want, uint32_t mask);
/* reset_counts, send_ipi(dest, icr), expect the CPUs in cpu_mask to take
   vector icr & 0xff once each and nobody else. */
int ipi_expect(uint32_t dest, uint32_t icr, uint32_t cpu_mask, const char *what);
/* After a self IPI of vector v sent with IF = 0: IRR, then STI, taken
   once, ISR set and TMR clear in the handler (handlers[v] must be
   h_observe), PPR = its class, cleared by EOI. */
int check_self_delivery(unsigned v, const char *how);
extern void h_observe_handler(struct frame *f, struct cpu *c);
int lowest_priority_rounds(int (*send)(uint32_t mask, unsigned v), const char *how);

/* The edu device (t_msi.c; hw/misc/edu.c): found on bus 0 with memory
   decoding and bus mastering on, BAR0 below 4 GiB, its MSI capability.
   A write to BAR0 + EDU_RAISE raises its interrupt (msi_notify() with
   MSI enabled), + EDU_ACK clears the status bits written. */
struct edu {
    unsigned bdf, cap;
    uint16_t ctl; /* MSI message control as found */
    uint64_t bar;
};
#define EDU_RAISE 0x60
#define EDU_ACK 0x64
int edu_open(struct edu *e);
/* MSI to APIC ID dest (physical, RH = 0), data = vector v (fixed, edge),
   enabled with 1 vector; edu_msi_off disables it again. */
void edu_msi_route(const struct edu *e, uint32_t dest, unsigned v);
void edu_msi_off(const struct edu *e);
/* Any message: address bits 31:0 (bits 63:32 zero), data; enabled with 1
   vector (t_ir.c sends remappable and compatibility formats). */
void edu_msi_set(const struct edu *e, uint32_t addr, uint16_t data);
/* t_ir.c: VT-d remapping set up, IRTE 0 sending edu's MSIs to CPU 0's
   vector v (bench.c's bench_msi_ir). */
int ir_bench_prepare(struct edu *e, unsigned v);
/* The same through AMD-Vi: edu's DTE, 32-bit IRTE 0 (bench_msi_ir_amd). */
int amd_bench_prepare(struct edu *e, unsigned v);

extern const struct test ipi_tests[];
extern const struct test apic_tests[];
extern const struct test timer_tests[];
extern const struct test x2apic_tests[];
extern const struct test ioapic_tests[];
extern const struct test msi_tests[];
extern const struct test ir_tests[];
extern const struct test amdvi_tests[];

#endif
