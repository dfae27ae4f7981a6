/*
 * libintc timeline — the model the writers share (timeline.c builds it,
 * perfetto.c and svg.c render it).
 *
 * The trace is one array of items in the order the events came, each
 * with a display time t (nanoseconds, non-decreasing): the event's
 * virtual time, except that an event in the same nanosecond as the one
 * before it, or earlier, is placed 1 ns after it, so that an interrupt
 * acknowledged and EOIed in one instant still has a width and every
 * viewer keeps the order.  vt keeps the virtual time.
 */
#ifndef INTC_TL_PRIV_H
#define INTC_TL_PRIV_H

#include "timeline.h"

#define TL_NONE UINT32_MAX
/* Receivers remembered per sender call: a broadcast to more CPUs than
   this draws arrows to the first ones only. */
#define TL_MAX_UNCLAIMED 256u
/* Lanes other than CPUs (pins, sources, IOMMU, machine). */
#define TL_MAX_LANES 4096u

enum tl_kind {
    TL_BEGIN, /* a span opens: what = TL_SPAN_* */
    TL_END,   /* it closes; link = its BEGIN */
    TL_SEND,  /* an interrupt message leaves its sender */
    TL_RECV,  /* a receiver takes it (after its BEGIN); link = the SEND */
    TL_MARK,  /* any other event, as an instant */
    TL_CTR    /* a counter's new value: what = TL_CTR_* */
};

enum { TL_SPAN_IRQ, TL_SPAN_RIRR };
enum { TL_CTR_IRR, TL_CTR_ISR, TL_CTR_PPR, TL_CTR_LEVEL };

/* Lane kinds, in display order. */
enum { TL_LANE_CPU, TL_LANE_PIN, TL_LANE_SRC, TL_LANE_IOMMU,
       TL_LANE_MACHINE };

typedef struct tl_item {
    uint64_t t, vt;
    intc_event ev;  /* the event (for CTR: type 0, unused) */
    int64_t value;  /* CTR: the value; BEGIN: nesting depth */
    uint32_t lane;
    uint32_t link;  /* BEGIN: its END or TL_NONE; END: its BEGIN;
                       RECV: its SEND */
    uint8_t kind, what;
} tl_item;

typedef struct tl_lane {
    uint8_t kind;
    uint32_t a, b;   /* PIN: IOAPIC, pin; SRC: source-id */
    uint32_t open;   /* PIN: the open Remote IRR BEGIN, or TL_NONE */
    int level;       /* PIN: last level counter, -1 none yet */
    bool used;       /* any item on it */
} tl_lane;

/* Per CPU that has received an interrupt. */
typedef struct tl_cpu {
    uint32_t pending[256]; /* per vector: the SEND item + 1, or 0 */
    uint32_t open[256];    /* the open interrupt spans, innermost last */
    uint32_t depth;
} tl_cpu;

typedef struct tl_recv {
    uint32_t cpu;
    int32_t vector;
} tl_recv;

struct tl_trace {
    uint32_t n_cpus, max_items;
    char *title;
    tl_item *items;
    uint32_t n, cap;
    /* Lanes: 0..n_cpus-1 are the CPUs; the others follow. */
    tl_lane *lanes;
    uint32_t n_lanes, cap_lanes;
    uint64_t last_t, dropped;
    bool have_t;
    uint8_t (*regs)[4]; /* per CPU: irr, isr, ppr, sampled */
    tl_cpu **cpus;
    /* Receivers of the message being sent (IRR set before the sender's
       own event), the IOAPIC pin send it belongs to, their time. */
    tl_recv unclaimed[TL_MAX_UNCLAIMED];
    uint32_t n_unclaimed, pin_send;
    uint64_t unclaimed_vt;
};

/* Lane order for display (CPUs, pins by IOAPIC and pin, sources by id,
   IOMMU, machine): fills order (n_lanes entries). */
void tl_lane_order(const tl_trace *t, uint32_t *order);
/* A lane's name ("CPU 1", "IOAPIC 0 pin 16", "source 0x0300"). */
void tl_lane_name(const tl_trace *t, uint32_t lane, char *buf, size_t len);
/* The end of the trace: 1 ns after the last item (0 if none). */
uint64_t tl_end_time(const tl_trace *t);
/* A SEND's label ("IPI 0xfc", "MSI 0x62", "send 0x50"). */
void tl_send_label(const tl_item *it, char *buf, size_t len);

#endif /* INTC_TL_PRIV_H */
