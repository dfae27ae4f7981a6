/*
 * Small helpers for the IOAPIC tests: indirect register access through
 * IOREGSEL/IOWIN (82093AA 3.0) that asserts the host-level result, and
 * redirection-entry composition (82093AA 3.2.4).
 */
#ifndef INTC_TESTS_IOAPIC_UTIL_H
#define INTC_TESTS_IOAPIC_UTIL_H

#include "harness.h"

/* Redirection entry fields (82093AA 3.2.4, Table "IOREDTBL"). */
#define RTE_VEC(v) ((uint64_t)(v) & 0xffu)
#define RTE_DM(d) ((uint64_t)(d) << 8) /* 0 fixed 1 lowest 2 SMI 4 NMI 5 INIT 7 ExtINT */
#define RTE_LOGICAL INTC_RTE_LOGICAL
#define RTE_ACTIVE_LOW INTC_RTE_ACTIVE_LOW
#define RTE_LEVEL INTC_RTE_LEVEL
#define RTE_MASKED INTC_RTE_MASKED
#define RTE_DEST(d) ((uint64_t)(d) << 56)

/* 32-bit MMIO access at an architectural offset; must succeed. */
static inline void iomw(intc_ioapic *io, uint32_t off, uint32_t val)
{
    assert_int_equal(intc_ioapic_mmio_write(io, off, 4, val), INTC_OK);
}

static inline uint32_t iomr(intc_ioapic *io, uint32_t off)
{
    uint64_t v = 0xdeadbeefdeadbeefull;
    assert_int_equal(intc_ioapic_mmio_read(io, off, 4, &v), INTC_OK);
    return (uint32_t)v;
}

/* Indirect register write/read: IOREGSEL then IOWIN. */
static inline void iow(intc_ioapic *io, uint8_t reg, uint32_t val)
{
    iomw(io, INTC_IOAPIC_IOREGSEL, reg);
    iomw(io, INTC_IOAPIC_IOWIN, val);
}

static inline uint32_t ior(intc_ioapic *io, uint8_t reg)
{
    iomw(io, INTC_IOAPIC_IOREGSEL, reg);
    return iomr(io, INTC_IOAPIC_IOWIN);
}

/* A whole entry as a guest programs it: high dword (destination) first,
   then low dword (vector, mode, mask). */
static inline void rte_set(intc_ioapic *io, uint32_t pin, uint64_t rte)
{
    iow(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin + 1), (uint32_t)(rte >> 32));
    iow(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin), (uint32_t)rte);
}

static inline void rte_set_lo(intc_ioapic *io, uint32_t pin, uint32_t lo)
{
    iow(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin), lo);
}

static inline void rte_set_hi(intc_ioapic *io, uint32_t pin, uint32_t hi)
{
    iow(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin + 1), hi);
}

/* The entry as the guest reads it through IOWIN. */
static inline uint64_t rte_get(intc_ioapic *io, uint32_t pin)
{
    uint64_t lo = ior(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin));
    uint64_t hi = ior(io, (uint8_t)(INTC_IOAPIC_REG_RTE0 + 2 * pin + 1));
    return hi << 32 | lo;
}

static inline int remote_irr(intc_ioapic *io, uint32_t pin)
{
    return (rte_get(io, pin) & INTC_RTE_REMOTE_IRR) != 0;
}

static inline int delivs(intc_ioapic *io, uint32_t pin)
{
    return (rte_get(io, pin) & INTC_RTE_DELIVS) != 0;
}

#endif /* INTC_TESTS_IOAPIC_UTIL_H */
