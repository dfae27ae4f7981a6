/*
 * Small helpers shared by the Local APIC tests: register access that
 * asserts the host-level result, and the usual bring-up steps.
 */
#ifndef INTC_TESTS_LAPIC_UTIL_H
#define INTC_TESTS_LAPIC_UTIL_H

#include "harness.h"

/* xAPIC 32-bit register write/read at offset off; must succeed. */
static inline void lw(intc_lapic *l, uint32_t off, uint32_t val)
{
    assert_int_equal(intc_lapic_mmio_write(l, off, 4, val), INTC_OK);
}

static inline uint32_t lr(intc_lapic *l, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_lapic_mmio_read(l, off, 4, &v), INTC_OK);
    return (uint32_t)v;
}

/* x2APIC MSR write/read; must succeed. */
static inline void mw(intc_lapic *l, uint32_t msr, uint64_t val)
{
    assert_int_equal(intc_lapic_msr_write(l, msr, val), INTC_OK);
}

static inline uint64_t mr(intc_lapic *l, uint32_t msr)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_lapic_msr_read(l, msr, &v), INTC_OK);
    return v;
}

/* The x2APIC MSR of an xAPIC register offset. */
#define X2MSR(off) (0x800u + ((off) >> 4))

/* Software-enable (SVR[8]) with spurious vector 0xFF, xAPIC mode. */
static inline void sw_enable(intc_lapic *l)
{
    lw(l, INTC_LAPIC_SVR, 0x1ff);
}

/* Switch to x2APIC mode (from xAPIC) and software-enable. */
static inline void x2_enable(intc_lapic *l)
{
    uint64_t base = mr(l, INTC_MSR_APIC_BASE);
    mw(l, INTC_MSR_APIC_BASE, base | INTC_APIC_BASE_EXTD);
    mw(l, X2MSR(INTC_LAPIC_SVR), 0x1ff);
}

/* Bit v of a 256-bit register (ISR/TMR/IRR at base offset) via MMIO. */
static inline int lbit(intc_lapic *l, uint32_t base, unsigned v)
{
    return (int)((lr(l, base + 0x10 * (v / 32)) >> (v % 32)) & 1);
}

/* xAPIC IPI: ICR high (destination) then ICR low (sends). */
static inline void ipi(intc_lapic *l, uint8_t dest, uint32_t icr_lo)
{
    lw(l, INTC_LAPIC_ICR_HI, (uint32_t)dest << 24);
    lw(l, INTC_LAPIC_ICR_LO, icr_lo);
}

/* ICR low composition. */
#define ICR_FIXED 0u
#define ICR_LOWEST (1u << 8)
#define ICR_SMI (2u << 8)
#define ICR_NMI (4u << 8)
#define ICR_INIT (5u << 8)
#define ICR_SIPI (6u << 8)
#define ICR_EXTINT (7u << 8)
#define ICR_LOGICAL (1u << 11)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_SELF (1u << 18)
#define ICR_ALL (2u << 18)
#define ICR_OTHERS (3u << 18)

#endif /* INTC_TESTS_LAPIC_UTIL_H */
