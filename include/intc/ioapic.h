/*
 * libintc — the I/O APIC: Intel 82093AA (version 0x11) and the ICH-style
 * variant (version 0x20, with the EOI register).
 *
 * Devices drive pins logically (asserted or not); the machine config says
 * how each pin is wired (electrical polarity, level or edge source), and
 * the redirection entry's programmed polarity is applied to the electrical
 * level, so firmware that programs the wrong polarity sees what real
 * hardware would.
 */
#ifndef INTC_IOAPIC_H
#define INTC_IOAPIC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IOREGSEL is 8 bits: entries 0x10 + 2n, 0x11 + 2n end at 0xFF. */
#define INTC_IOAPIC_MAX_PINS 120u
#define INTC_IOAPIC_MAX 128u
/* Sources sharing one pin (wired-OR), intc_ioapic_set_irq_source(). */
#define INTC_IOAPIC_MAX_SOURCES 32u

/* MMIO offsets (82093AA 3.0; EOI register: ICH9 13.5.5). */
#define INTC_IOAPIC_IOREGSEL 0x00u
#define INTC_IOAPIC_IOWIN 0x10u
#define INTC_IOAPIC_EOI 0x40u
/* Indirect registers. */
#define INTC_IOAPIC_REG_ID 0x00u
#define INTC_IOAPIC_REG_VER 0x01u
#define INTC_IOAPIC_REG_ARB 0x02u
#define INTC_IOAPIC_REG_RTE0 0x10u /* low dword of entry n: 0x10 + 2n */

/* Redirection entry fields. */
#define INTC_RTE_VECTOR 0xffull
#define INTC_RTE_DM_SHIFT 8
#define INTC_RTE_LOGICAL (1ull << 11)
#define INTC_RTE_DELIVS (1ull << 12)     /* read-only */
#define INTC_RTE_ACTIVE_LOW (1ull << 13)
#define INTC_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define INTC_RTE_LEVEL (1ull << 15)
#define INTC_RTE_MASKED (1ull << 16)
#define INTC_RTE_REMAPPABLE (1ull << 48) /* VT-d interrupt format */
#define INTC_RTE_DEST_SHIFT 56

/* Wiring of one input pin (intc_ioapic_config.pin_wiring). */
#define INTC_PIN_ACTIVE_LOW 0x1u /* electrically active low (PCI INTx) */
#define INTC_PIN_LEVEL 0x2u      /* a level source (PCI INTx); else edge */

typedef struct intc_ioapic_config {
    uint8_t id;          /* IOAPIC ID register [27:24], 0..15 */
    uint8_t version;     /* 0x11 (82093AA) or 0x20 (EOI register) */
    uint16_t n_pins;     /* 1..INTC_IOAPIC_MAX_PINS; 24 typical */
    uint32_t gsi_base;   /* first GSI; ranges must not overlap */
    uint16_t source_id;  /* requester ID of its interrupt messages (for
                            interrupt remapping), bus:dev.fn */
    /* n_pins INTC_PIN_* flags; NULL: every pin an active-high edge
       source (ISA). */
    const uint8_t *pin_wiring;
} intc_ioapic_config;

/*
 * IOREGSEL (0x00), IOWIN (0x10) and, on version 0x20, EOI (0x40).
 * off + size <= 256 and size 1, 2, 4 or 8, else INTC_ERR_INVAL.  The
 * architectural access is 32 bits at one of those offsets; reads of any
 * other shape return the bytes of that view (each register in its first 4
 * bytes, zero elsewhere), other writes are ignored (INTC_EV_BAD_ACCESS).
 * Indirect registers outside ID, VER, ARB and the entries read 0 and
 * ignore writes.
 *
 * Within the 256-byte window (0x00-0xFF):
 *  - every offset other than those registers reads 0 and ignores writes
 *    (INTC_EV_BAD_ACCESS), bytes 4-15 of a register's slot included;
 *  - 0x40 on version 0x11 is such an offset (the 82093AA has no EOI
 *    register): a write there does nothing;
 *  - 0x40 on version 0x20 is the write-only EOI register: reads return
 *    0; a 32-bit write is a directed EOI of vector bits 7:0 (bits 31:8
 *    ignored) on this IOAPIC only (INTC_EV_IOAPIC_EOI); a write of any
 *    other size is ignored (INTC_EV_BAD_ACCESS) and EOIs nothing.
 * Outside it (off >= 0x100, or an access crossing 0x100) the library
 * decodes nothing: INTC_ERR_INVAL, no state change, *val untouched.  The
 * window is the host's to place; a host that maps a whole 4 KiB page for
 * the IOAPIC answers the bytes from 0x100 on itself (reading 0 and
 * ignoring writes matches the unused offsets inside the window; libintc
 * does not alias them onto the registers).
 */
INTC_API intc_err intc_ioapic_mmio_read(intc_ioapic *io, uint32_t off,
                                        unsigned size, uint64_t *val);
INTC_API intc_err intc_ioapic_mmio_write(intc_ioapic *io, uint32_t off,
                                         unsigned size, uint64_t val);

/* A device asserts (true) or de-asserts its line: source 0 of pin. */
INTC_API intc_err intc_ioapic_set_irq(intc_ioapic *io, uint32_t pin,
                                      bool asserted);
/* The same for one of several sources sharing the pin; the pin is the
   wired-OR of its sources.  source < INTC_IOAPIC_MAX_SOURCES. */
INTC_API intc_err intc_ioapic_set_irq_source(intc_ioapic *io, uint32_t pin,
                                             unsigned source, bool asserted);
/* By global system interrupt number, across the machine's IOAPICs
   (source 0).  INTC_ERR_RANGE if no IOAPIC has that GSI. */
INTC_API intc_err intc_machine_set_gsi(intc_machine *m, uint32_t gsi,
                                       bool asserted);

/* The throttle timer armed through ioapic_timer_arm() fired. */
INTC_API intc_err intc_ioapic_timer_expired(intc_ioapic *io,
                                            uint64_t now_ns);

/* Queries; safe from any callback. */
INTC_API uint32_t intc_ioapic_pin_count(const intc_ioapic *io);
INTC_API uint32_t intc_ioapic_gsi_base(const intc_ioapic *io);
/* The 64-bit redirection entry (as the guest would read it). */
INTC_API intc_err intc_ioapic_rte(const intc_ioapic *io, uint32_t pin,
                                  uint64_t *rte);
/* Whether the pin's input is asserted (wired-OR of its sources). */
INTC_API bool intc_ioapic_line(const intc_ioapic *io, uint32_t pin);

#ifdef __cplusplus
}
#endif

#endif /* INTC_IOAPIC_H */
