/*
 * libintc — the Local APIC (Intel SDM vol. 3A ch. 11), xAPIC and x2APIC.
 *
 * The CPU side of the fabric.  The host's CPU model calls these from its own
 * instruction loop: MMIO accesses to the APIC page, RDMSR/WRMSR of the APIC
 * MSRs, CR8 moves, and the interrupt-acknowledge cycle.  Nothing here ever
 * blocks, allocates or fails on guest input.
 */
#ifndef INTC_LAPIC_H
#define INTC_LAPIC_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Architectural MSR numbers handled by intc_lapic_msr_read/write. */
#define INTC_MSR_APIC_BASE 0x1bu
#define INTC_MSR_TSC_DEADLINE 0x6e0u
#define INTC_MSR_X2APIC_FIRST 0x800u
#define INTC_MSR_X2APIC_LAST 0x8ffu

/* IA32_APIC_BASE bits. */
#define INTC_APIC_BASE_BSP (1ull << 8)
#define INTC_APIC_BASE_EXTD (1ull << 10)
#define INTC_APIC_BASE_EN (1ull << 11)
#define INTC_APIC_BASE_DEFAULT 0xfee00000ull

/* xAPIC register offsets (Table 11-1). x2APIC MSR = 0x800 + (offset >> 4). */
enum intc_lapic_reg {
    INTC_LAPIC_ID = 0x020,
    INTC_LAPIC_VERSION = 0x030,
    INTC_LAPIC_TPR = 0x080,
    INTC_LAPIC_APR = 0x090,
    INTC_LAPIC_PPR = 0x0a0,
    INTC_LAPIC_EOI = 0x0b0,
    INTC_LAPIC_RRD = 0x0c0,
    INTC_LAPIC_LDR = 0x0d0,
    INTC_LAPIC_DFR = 0x0e0,
    INTC_LAPIC_SVR = 0x0f0,
    INTC_LAPIC_ISR0 = 0x100, /* 8 registers, 0x10 apart */
    INTC_LAPIC_TMR0 = 0x180,
    INTC_LAPIC_IRR0 = 0x200,
    INTC_LAPIC_ESR = 0x280,
    INTC_LAPIC_LVT_CMCI = 0x2f0,
    INTC_LAPIC_ICR_LO = 0x300,
    INTC_LAPIC_ICR_HI = 0x310,
    INTC_LAPIC_LVT_TIMER = 0x320,
    INTC_LAPIC_LVT_THERMAL = 0x330,
    INTC_LAPIC_LVT_PERF = 0x340,
    INTC_LAPIC_LVT_LINT0 = 0x350,
    INTC_LAPIC_LVT_LINT1 = 0x360,
    INTC_LAPIC_LVT_ERROR = 0x370,
    INTC_LAPIC_TIMER_ICR = 0x380,
    INTC_LAPIC_TIMER_CCR = 0x390,
    INTC_LAPIC_TIMER_DCR = 0x3e0,
    INTC_LAPIC_SELF_IPI = 0x3f0 /* x2APIC only (MSR 0x83F) */
};

/* ESR bits (11.5.3). */
#define INTC_ESR_SEND_CHECKSUM (1u << 0)
#define INTC_ESR_RECV_CHECKSUM (1u << 1)
#define INTC_ESR_SEND_ACCEPT (1u << 2)
#define INTC_ESR_RECV_ACCEPT (1u << 3)
#define INTC_ESR_REDIRECTABLE_IPI (1u << 4)
#define INTC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define INTC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define INTC_ESR_ILLEGAL_REGISTER (1u << 7)

/* LVT indices (the order of the LVT CMCI..Error registers). */
enum intc_lvt {
    INTC_LVT_CMCI,
    INTC_LVT_TIMER,
    INTC_LVT_THERMAL,
    INTC_LVT_PERF,
    INTC_LVT_LINT0,
    INTC_LVT_LINT1,
    INTC_LVT_ERROR,
    INTC_LVT_COUNT
};

/* Pending signals (intc_lapic_pending, intc_lapic_take). */
#define INTC_PEND_INTR 0x01u   /* a vector is deliverable: call ack */
#define INTC_PEND_NMI 0x02u
#define INTC_PEND_SMI 0x04u
#define INTC_PEND_INIT 0x08u
#define INTC_PEND_SIPI 0x10u
#define INTC_PEND_EXTINT 0x20u /* ask the host's 8259 PIC for the vector */

/*
 * xAPIC MMIO access to the 4 KiB APIC page.  off is the offset in the page;
 * size is 1, 2, 4 or 8 and off + size <= 4096 (else INTC_ERR_INVAL).
 *
 * The architectural access is a 32-bit load or store at a 16-byte aligned
 * offset (11.4.1).  Any other shape has this defined outcome:
 *  - reads return the bytes of the "register view" of the page, in which
 *    each 16-byte slot holds its register's 32-bit value in bytes 0-3 and
 *    zero in bytes 4-15 (so 1- and 2-byte loads of a register work, as on
 *    processors that support them, and an 8-byte load returns the register
 *    in the low half);
 *  - writes take effect only as an aligned 32-bit store at a slot start;
 *    any other write is ignored and reported as INTC_EV_BAD_ACCESS.
 * Touching a reserved slot sets ESR[7] (illegal register address) and
 * signals the LVT Error interrupt; reads of it return 0.
 *
 * 8-byte accesses (a guest MOVQ/MOVNTI, or a host that forwards them):
 *  - an 8-byte store received whole is ignored (INTC_EV_BAD_ACCESS):
 *    nothing is written, no IPI is sent (ESR[7] too if it touches a
 *    reserved slot);
 *  - a host that splits it into two 4-byte stores at off and off + 4
 *    gets two outcomes: at a slot start (off 16-byte aligned) the low
 *    half is a normal register write with all its side effects (at
 *    ICR low, 0x300, it sends the IPI to the destination already in ICR
 *    high); the high half at off + 4 is not a slot start and is ignored
 *    (INTC_EV_BAD_ACCESS).  The high half never reaches the next
 *    register: ICR high is at 0x310, 16 bytes on, not 4;
 *  - an 8-byte load returns the register in bits 31:0 and 0 in bits
 *    63:32 (bytes 4-7 of the slot), never the next register.
 * The 64-bit ICR write exists only in x2APIC mode, as WRMSR 0x830.
 * Returns INTC_ERR_NOT_DECODED, doing nothing, when the APIC does not
 * decode its page: globally disabled, or in x2APIC mode (11.12.1.2).
 */
INTC_API intc_err intc_lapic_mmio_read(intc_lapic *l, uint32_t off,
                                       unsigned size, uint64_t *val);
INTC_API intc_err intc_lapic_mmio_write(intc_lapic *l, uint32_t off,
                                        unsigned size, uint64_t val);

/*
 * RDMSR/WRMSR of IA32_APIC_BASE (0x1B), IA32_TSC_DEADLINE (0x6E0) and the
 * x2APIC range 0x800-0x8FF.  INTC_ERR_GP means "raise #GP(0)": every access
 * the SDM makes fault (x2APIC range outside x2APIC mode, absent, reserved,
 * read-only or write-only registers, reserved bits set (11.12.1.3), illegal
 * IA32_APIC_BASE transitions (11.12.5)).  Any other MSR number:
 * INTC_ERR_NOT_DECODED (not the APIC's; the host handles it).
 * Clearing IA32_APIC_BASE.EN (global disable) returns the APIC to its
 * power-up state (11.4.3 allows it; KVM does the same), so re-enabling it
 * gives the state after RESET (11.4.7.1) with the base address and BSP
 * flag as written: xAPIC ID = the initial APIC ID (its low 8 bits), every
 * other register at its power-up value.
 */
INTC_API intc_err intc_lapic_msr_read(intc_lapic *l, uint32_t msr,
                                      uint64_t *val);
INTC_API intc_err intc_lapic_msr_write(intc_lapic *l, uint32_t msr,
                                       uint64_t val);

/*
 * What the CPU should take next: INTC_PEND_* bits.  INTR is set when the
 * highest IRR vector's priority class is above PPR[7:4] (11.8.3) and the
 * APIC is not waiting for SIPI; signals are latched until taken.  In the
 * wait-for-SIPI state only INIT and SIPI are reported (others stay latched).
 * Whether the CPU can take INTR now (RFLAGS.IF, STI shadow) is the host's
 * business.  Safe from any callback.
 *
 * pending() is a level, kick() (common.h) an edge-like notification:
 * pending() is the truth at every moment; kick() says only that an
 * operation ended with something pending that may not have been before:
 * a latched signal, a vector accepted while no vector was deliverable,
 * an EOI or TPR change that leaves a vector deliverable, an asserted
 * ExtINT line.  A vector accepted while INTR is already pending kicks
 * nobody: the host, kicked for the first, acknowledges the highest
 * anyway.  kick() is never called because the guest became
 * able to take an interrupt (IF is the host's), nor when something stops
 * being pending (TPR raised, a signal taken); it may repeat for what is
 * still pending, and may find nothing pending by the time it runs (an
 * earlier deferred callback acted).  So the host re-checks pending():
 *  - when the guest can take INTR again: after it sets RFLAGS.IF (STI,
 *    POPF, IRET...) once the interrupt shadow has ended, and on leaving
 *    any state in which the host declined INTR (a kick that came while
 *    IF was 0 does not come again);
 *  - after every intc_lapic_ack(), EOI write and TPR change it makes
 *    itself: these change pending() either way.  (An EOI or TPR change
 *    that leaves a vector deliverable also kicks, at the end of that
 *    call, like any other change.)
 */
INTC_API unsigned intc_lapic_pending(const intc_lapic *l);

/*
 * INTA cycle (11.8.4, 11.9): what the CPU gets when it acknowledges the
 * APIC's INTR.  The return value is one of:
 *
 *  - 0..255: a vector was put in service.  The highest vector of IRR
 *    (posted vectors included) whose priority class is above PPR[7:4]
 *    moved from IRR to ISR; deliver it through the IDT.  The guest will
 *    EOI it.
 *  - INTC_ACK_SPURIOUS(v) = 0x100 | v: a spurious acknowledge (11.9).
 *    IRR is not empty but its highest vector's class is not above
 *    PPR[7:4] (TPR was raised, or a higher class put in service, after
 *    the host saw INTC_PEND_INTR).  v is SVR[7:0]; deliver vector v
 *    (= result & 0xff) through the IDT; nothing was put in service, so
 *    the guest's handler must not EOI it.  Reported as INTC_EV_SPURIOUS.
 *  - INTC_ACK_NONE (-1): nothing to deliver, nothing changed, deliver
 *    nothing.  Exactly when the APIC is globally disabled (its INTR is
 *    then the 8259's: INTC_PEND_EXTINT), or waits for SIPI (11.4.7.3:
 *    interrupts are held until then), or IRR (with the posted vectors)
 *    is empty.  Also for l == NULL.
 *  - a negative intc_err below -1: INTC_ERR_BUSY, called from inside a
 *    restricted callback (nothing changed).  The codes never collide:
 *    INTC_ERR_* other than INTC_ERR_INVAL are all < -1, and ack does not
 *    return INTC_ERR_INVAL.
 *
 * So "v >= 0 && v <= 255" means in service, "v > 255" means spurious,
 * "v < 0" means deliver nothing.  A software-disabled APIC (SVR[8] = 0)
 * still delivers what its IRR holds (11.4.7.2: pending interrupts are
 * held and handled).
 */
#define INTC_ACK_NONE (-1)
#define INTC_ACK_SPURIOUS(v) ((int)(0x100 | ((v) & 0xff)))
INTC_API int intc_lapic_ack(intc_lapic *l);

/*
 * The value intc_lapic_ack() would return if called now, outside any
 * callback, without changing anything: never INTC_ERR_BUSY, and it sees
 * posted vectors not yet folded into IRR (intc_lapic_post) as ack, which
 * folds them first, would.  For hosts that look before they take (QEMU's
 * apic_get_highest_priority_irr, a TCG loop deciding whether to leave its
 * translation block).  Safe from any callback.
 */
INTC_API int intc_lapic_ack_peek(const intc_lapic *l);

/*
 * Consume one pending signal: what is exactly one of NMI, SMI, INIT, SIPI,
 * EXTINT.  Returns 1 if it was pending (and is now taken), 0 if not, or a
 * negative intc_err (INTC_ERR_INVAL for any other what).  Taking SIPI
 * stores its vector in *sipi_vector (may be NULL) and leaves the
 * wait-for-SIPI state.  Taking INIT performs the APIC's INIT reset
 * (11.4.7.3: everything to power-up values except the APIC ID and
 * IA32_APIC_BASE) and, on an AP (BSP flag clear), enters wait-for-SIPI.
 * EXTINT stays pending while LINT0 is an asserted, unmasked ExtINT input
 * (the PIC's INTR is a level); taking it clears only a latched ExtINT
 * message.
 */
INTC_API int intc_lapic_take(intc_lapic *l, unsigned what,
                             uint8_t *sipi_vector);

/* CR8 path: the host passes CR8 << 4 (TPR[3:0] zero).  Same effect as a
   TPR register write. */
INTC_API intc_err intc_lapic_set_tpr(intc_lapic *l, uint8_t tpr);
/* TPR (CR8 = TPR >> 4).  Safe from any callback. */
INTC_API uint8_t intc_lapic_get_tpr(const intc_lapic *l);

/*
 * Electrical level of the LINT0 (pin 0) or LINT1 (pin 1) input.  The LVT
 * polarity bit decides what is asserted (11.5.1).  With the APIC globally
 * disabled, LINT0 is the CPU's INTR (reported as EXTINT while high) and
 * LINT1 its NMI (rising edge) (11.4.3, through-local mode).
 */
INTC_API intc_err intc_lapic_set_lint(intc_lapic *l, unsigned pin,
                                      bool level);

/*
 * A local interrupt source other than the timer and the LINT pins fired:
 * lvt is INTC_LVT_CMCI (if configured), INTC_LVT_THERMAL or INTC_LVT_PERF
 * (the host's machine-check, thermal or PMU model).  Delivered as the LVT
 * entry says, if unmasked; a performance-monitoring interrupt also sets
 * the LVT's mask bit, as Intel processors do.  INTC_ERR_INVAL for other
 * lvt values.
 */
INTC_API intc_err intc_lapic_raise_lvt(intc_lapic *l, unsigned lvt);

/*
 * The host timer armed through timer_arm() fired.  now_ns is the current
 * time.  A call before the deadline (a stale timer) just re-arms it.
 * One-shot and TSC-deadline expiries raise one interrupt and disarm;
 * a periodic timer raises one interrupt however many periods were missed
 * (they coalesce, counted in the event's data2) and re-arms with its phase
 * kept; the next deadline is later than now_ns (deadlines saturate at
 * UINT64_MAX - 1, the end of the host's clock).
 */
INTC_API intc_err intc_lapic_timer_expired(intc_lapic *l, uint64_t now_ns);

/* The armed deadline in ns, UINT64_MAX if none.  Safe from any callback. */
INTC_API uint64_t intc_lapic_timer_deadline(const intc_lapic *l);

/* Offset added to now_ns * tsc_hz / 1e9 to give this CPU's TSC (the host
   owns the TSC; tell libintc when the guest writes it).  The resulting
   TSC is intc_machine_tsc(). */
INTC_API intc_err intc_lapic_set_tsc_offset(intc_lapic *l, uint64_t offset);

/*
 * Reset the APIC.  init_only=false: RESET (11.4.7.1): power-up state,
 * IA32_APIC_BASE = 0xFEE00000 | EN | BSP, xAPIC mode, ID = initial ID.
 * init_only=true: INIT (11.4.7.3): the same but the APIC ID and
 * IA32_APIC_BASE keep their values (x2APIC mode survives INIT).
 * Neither enters wait-for-SIPI (taking an INIT signal does).  A RESET
 * that changes IA32_APIC_BASE is reported through apic_base_changed().
 */
INTC_API intc_err intc_lapic_reset(intc_lapic *l, bool init_only);

/* True in the wait-for-SIPI state.  Safe from any callback. */
INTC_API bool intc_lapic_waiting_for_sipi(const intc_lapic *l);

/* This APIC's CPU index and initial (x2APIC) ID.  Safe from any callback. */
INTC_API uint32_t intc_lapic_cpu(const intc_lapic *l);
INTC_API uint32_t intc_lapic_initial_id(const intc_lapic *l);

/*
 * Posted interrupts: set vector in this APIC's posted-interrupt request
 * area (level: also in its trigger-mode area).  The ONLY call that is safe
 * from any thread at any time, concurrently with anything on the machine:
 * it touches nothing but atomics.  The APIC folds the posted vectors into
 * IRR at its next operation on its own thread (any call taking this lapic,
 * or intc_lapic_sync_pir()).  Returns 1 when this post is the first since
 * the last fold (the poster should wake the CPU's thread, which then calls
 * intc_lapic_sync_pir() or any other call), else 0.
 */
INTC_API int intc_lapic_post(intc_lapic *l, uint8_t vector, bool level);

/* Fold posted vectors into IRR now (kicks the CPU if that makes INTR
   pending).  Also accepts a PIR image from a host that models APIC
   virtualization itself: pir (may be NULL) is 256 bits, bit v = vector v,
   ORed in as edge-triggered interrupts. */
INTC_API intc_err intc_lapic_sync_pir(intc_lapic *l, const uint64_t pir[4]);

#ifdef __cplusplus
}
#endif

#endif /* INTC_LAPIC_H */
