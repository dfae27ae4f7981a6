/*
 * libintc — Local APIC private state.
 *
 * The hot part (what delivery, INTA, EOI and TPR writes touch) comes first
 * and stays small; registers read only by the guest's register accesses,
 * the timer and the routing links follow.
 */
#ifndef INTC_LAPIC_PRIV_H
#define INTC_LAPIC_PRIV_H

#include <stdatomic.h>

#include "intc/intc.h"

enum intc_apic_mode {
    INTC_MODE_DISABLED = 0, /* IA32_APIC_BASE.EN = 0 */
    INTC_MODE_XAPIC = 1,
    INTC_MODE_X2APIC = 2
};

/* LVT entry fields (11.5.1, Figure 11-8). */
#define LVT_VECTOR 0x000000ffu
#define LVT_DM_SHIFT 8
#define LVT_DM_MASK 0x00000700u
#define LVT_DS (1u << 12)        /* delivery status, RO */
#define LVT_POLARITY (1u << 13)  /* LINT: 1 = active low */
#define LVT_REMOTE_IRR (1u << 14) /* LINT: RO */
#define LVT_LEVEL (1u << 15)     /* LINT: trigger mode */
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_MODE_SHIFT 17
#define LVT_TIMER_MODE_MASK (3u << 17)

enum intc_timer_mode {
    INTC_TIMER_ONESHOT = 0,
    INTC_TIMER_PERIODIC = 1,
    INTC_TIMER_TSC_DEADLINE = 2,
    INTC_TIMER_RESERVED = 3
};

/* SVR fields (11.9, Figure 11-23). */
#define SVR_VECTOR 0x000000ffu
#define SVR_ENABLE (1u << 8)
#define SVR_FOCUS_DISABLE (1u << 9)
#define SVR_EOI_SUPPRESS (1u << 12)

/* Routing links, owned by bus.c. */
struct intc_lapic_rt {
    int32_t p8_next, p8_prev; /* chain in phys8_head[p8_key] */
    int16_t p8_key;           /* filed xAPIC ID, -1 if not filed */
    uint8_t lkind;            /* 0 none, 1 flat, 2 cluster */
    uint8_t lbits;            /* LDR bits filed (flat: 8, cluster: 4) */
    uint8_t lcluster;
    int32_t lnext[8], lprev[8];
    int32_t x2l_next;         /* next CPU with the same x2APIC LDR */
    bool x2;                  /* counted in the machine's n_x2 */
    uint32_t stamp;           /* de-duplication of logical matches */
};

struct intc_lapic {
    /* ---- hot ---- */
    uint64_t irr[4];
    uint64_t isr[4];
    uint64_t tmr[4];
    intc_machine *m;
    int16_t irrv;        /* highest IRR vector, -1 if none */
    int16_t isrv;        /* highest ISR vector, -1 if none */
    uint8_t tpr;
    uint8_t ppr;
    uint8_t mode;        /* enum intc_apic_mode */
    uint8_t sig;         /* latched INTC_PEND_NMI/SMI/INIT/SIPI/EXTINT */
    bool sw_enabled;     /* SVR[8] */
    bool wait_sipi;
    bool kick_queued;
    bool base_queued;    /* in the machine's apic_base_changed queue */
    uint8_t sipi_vector;
    uint32_t index;
    uint32_t svr;
    atomic_uint pir_on;

    /* ---- registers ---- */
    uint64_t apic_base;
    uint64_t base_reported; /* IA32_APIC_BASE as last told to the host */
    uint32_t initial_id; /* x2APIC ID, fixed */
    uint8_t xapic_id;    /* xAPIC ID register [31:24] */
    uint32_t ldr;
    uint32_t dfr;
    uint32_t lvt[INTC_LVT_COUNT];
    uint64_t icr;        /* xAPIC: hi << 32 | lo */
    uint32_t esr;        /* latched, what the guest reads */
    uint32_t esr_pending;
    bool esr_armed;
    bool lint_level[2];  /* electrical level of LINT0/LINT1 */

    /* ---- timer ---- */
    uint32_t timer_icr;  /* initial count register */
    uint32_t timer_dcr;
    uint8_t timer_shift; /* divide by 1 << shift */
    bool timer_running;
    uint32_t timer_count0;   /* counter value at timer_start */
    uint64_t timer_start;    /* ns */
    uint64_t timer_periods;  /* periodic expiries already delivered */
    uint64_t deadline;       /* armed host deadline (ns), UINT64_MAX none */
    uint64_t tsc_deadline;
    uint64_t tsc_offset;

    /* ---- posted interrupts (any thread) ---- */
    _Atomic uint64_t pir[4];
    _Atomic uint64_t pir_level[4];

    struct intc_lapic_rt rt;
};

/* lapic.c: used by the machine and the bus. */
void intc__lapic_init_one(intc_lapic *l, intc_machine *m, uint32_t index,
                         uint32_t id);
void intc__lapic_do_reset(intc_lapic *l, bool init_only);
/* Arbitration priority (for lowest-priority delivery). */
uint8_t intc__lapic_apr(const intc_lapic *l);
/* Focus processor for vector (IRR or ISR bit set, focus checking on). */
bool intc__lapic_is_focus(const intc_lapic *l, uint8_t vector);
bool intc__lapic_check(const intc_lapic *l, char *msg, size_t len);

/* lapic_timer.c */
void intc__timer_reset(intc_lapic *l);
void intc__timer_write_lvt(intc_lapic *l, uint32_t old, uint32_t val);
void intc__timer_write_icr(intc_lapic *l, uint32_t val);
void intc__timer_write_dcr(intc_lapic *l, uint32_t val);
uint32_t intc__timer_read_ccr(intc_lapic *l);
intc_err intc__timer_write_tsc_deadline(intc_lapic *l, uint64_t val);
uint64_t intc__timer_read_tsc_deadline(intc_lapic *l);
void intc__timer_expire(intc_lapic *l, uint64_t now);
/* Deliver what is already due before a timer register changes. */
void intc__timer_catch_up(intc_lapic *l);

/* lapic.c helpers used by lapic_timer.c */
void intc__lapic_lvt_fire_other(intc_lapic *l, unsigned lvt);
void intc__lapic_error(intc_lapic *l, uint32_t esr_bits);

static inline unsigned intc__lvt_timer_mode(uint32_t lvt)
{
    return (lvt & LVT_TIMER_MODE_MASK) >> LVT_TIMER_MODE_SHIFT;
}

#endif /* INTC_LAPIC_PRIV_H */
