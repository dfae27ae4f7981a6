/*
 * libintc — the replayer: rebuild a machine from a recording and issue
 * its calls again (record.h documents the contract, docs/recording.md
 * the format).
 *
 * The replayed machine runs with m->rec pointing here, so the hooks the
 * recorder uses serve the replay instead: each host input the machine
 * reads (clock, guest memory, posted vectors) is taken from the
 * recording, in order, and must be of the kind and at the address
 * recorded; each call's hook (INTC_REC, before its deferred callbacks)
 * compares what the call did with the call record and moves on.  Posted
 * vectors are posted again just before the call that folded them, so
 * the fold finds exactly what was taken.
 *
 * A call the recorded host made from one of its deferred callbacks
 * (kick, eoi, apic_base_changed) carries that callback's ordinal since
 * its outermost call; the replayer's own deferred callbacks count the
 * same way and issue such a call from inside the callback of the same
 * ordinal, so the flush loop interleaves everything as it did.
 *
 * The recording is host input: every length, index and value is checked
 * before use, a damaged record is INTC_ERR_CORRUPT and a machine that
 * does something else than recorded INTC_ERR_DIVERGED, both with the
 * record named; nothing in a recording can make the replayer misbehave.
 */
#include "internal.h"
#include "msi_priv.h"
#include "snap_priv.h"

#include <stdarg.h>
#include <stdlib.h>

typedef intc__rec_frame rp_frame;

/* A call record with the span of its inputs, and the input cursor while
   it is being issued. */
typedef struct rp_call {
    size_t in_pos, call_pos, next_pos;
    uint64_t in_index, call_index;
    unsigned op;
    bool nested;
    uint32_t cb_seq, obj;
    int32_t ret;
    uint64_t a[3], out;
    const uint8_t *blob;
    size_t blen;
    bool hooked;      /* its hook ran */
    size_t cur;       /* next input to serve */
    uint64_t cur_index;
    size_t last;      /* the input served last */
} rp_call;

struct intc_replay {
    struct intc__rec hdr; /* mode INTC__REC_REPLAY; first */
    intc_host_ops uops;   /* the caller's callbacks */
    void *uhost;
    intc_host_ops mops;   /* the replayed machine's: ours */
    const uint8_t *buf;
    size_t len;
    intc_machine *m;
    size_t pos;           /* the next record */
    uint64_t index;
    rp_call *expect;      /* the call being issued */
    uint32_t rec_mask;    /* the recorded host's callbacks */
    uint32_t cb_count;    /* deferred callbacks since the top-level call */
    uint64_t n_calls;
    bool setup;
    bool done;
    intc_err err;
    uint64_t err_index;
    size_t err_pos;
    char msg[256];
};

/* ---- errors ---- */

#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static void rp_fail(intc_replay *r, intc_err err, uint64_t index, size_t pos,
                    const char *fmt, ...)
{
    va_list ap;
    int n;
    if (r->err)
        return; /* the first error is the one reported */
    r->err = err;
    r->err_index = index;
    r->err_pos = pos;
    n = snprintf(r->msg, sizeof r->msg, "record %llu (offset %zu): ",
                 (unsigned long long)index, pos);
    if (n < 0 || (size_t)n >= sizeof r->msg)
        return;
    va_start(ap, fmt);
    vsnprintf(r->msg + n, sizeof r->msg - (size_t)n, fmt, ap);
    va_end(ap);
}

static uint64_t get(const uint8_t *p, unsigned n)
{
    return intc__snap_get(p, n);
}

/* ---- allocation: the caller's allocator, else the C library's ---- */

static void *rp_realloc(const intc_replay *r, const intc_host_ops *o,
                        void *host, void *p, size_t old, size_t n)
{
    (void)r;
    if (o->alloc)
        return o->alloc(host, p, old, n);
    if (!n) {
        free(p);
        return NULL;
    }
    return realloc(p, n);
}

static void *rp_alloc(intc_replay *r, size_t n)
{
    void *p = rp_realloc(r, &r->uops, r->uhost, NULL, 0, n);
    if (p)
        memset(p, 0, n);
    return p;
}

static void rp_free(intc_replay *r, void *p, size_t n)
{
    if (p)
        (void)rp_realloc(r, &r->uops, r->uhost, p, n, 0);
}

/* ---- frames ---- */

/* The record at pos, checked: it fits, its length is sane, its CRC
   matches.  false with r->err set otherwise. */
static bool rp_frame_at(intc_replay *r, size_t pos, uint64_t index,
                        rp_frame *f)
{
    const char *why;

    if (intc__rec_frame_at(r->buf, r->len, pos, f, &why))
        return true;
    rp_fail(r, INTC_ERR_CORRUPT, index, pos, "%s",
            why ? why : "the recording ends without its end record");
    return false;
}

/* An input record's payload is the size its type says. */
static bool rp_input_ok(intc_replay *r, const rp_frame *f, uint64_t index,
                        size_t pos)
{
    if (f->type != INTC__RT_CLOCK && f->type != INTC__RT_DMA_READ &&
        f->type != INTC__RT_DMA_WRITE && f->type != INTC__RT_FOLD) {
        rp_fail(r, INTC_ERR_CORRUPT, index, pos,
                "record type %u where a call or host input belongs",
                f->type);
        return false;
    }
    if (intc__rec_input_ok(f))
        return true;
    rp_fail(r, INTC_ERR_CORRUPT, index, pos,
            "record type %u with a payload of %zu bytes", f->type, f->len);
    return false;
}

static void rp_decode_call(rp_call *c, const rp_frame *f)
{
    c->op = f->p[0];
    c->nested = f->p[1] & INTC__REC_NESTED;
    c->cb_seq = (uint32_t)get(f->p + 4, 4);
    c->obj = (uint32_t)get(f->p + 8, 4);
    c->ret = (int32_t)(uint32_t)get(f->p + 12, 4);
    for (unsigned i = 0; i < 3; i++)
        c->a[i] = get(f->p + 16 + 8 * i, 8);
    c->out = get(f->p + 40, 8);
    c->blob = f->p + INTC__REC_CALL_FIXED;
    c->blen = f->len - INTC__REC_CALL_FIXED;
}

/* The end record: the last one, with the number of calls replayed. */
static int rp_end(intc_replay *r, const rp_frame *f, size_t in_pos,
                  size_t pos, uint64_t index)
{
    if (in_pos != pos) {
        rp_fail(r, INTC_ERR_CORRUPT, index, pos,
                "host inputs with no call before the end record");
        return -1;
    }
    if (f->len != INTC__REC_END_SIZE || f->next != r->len) {
        rp_fail(r, INTC_ERR_CORRUPT, index, pos,
                "end record of %zu bytes with %zu bytes after it", f->len,
                r->len - f->next);
        return -1;
    }
    if (get(f->p, 8) != r->n_calls) {
        rp_fail(r, INTC_ERR_DIVERGED, index, pos,
                "the end record counts %llu calls, %llu were replayed",
                (unsigned long long)get(f->p, 8),
                (unsigned long long)r->n_calls);
        return -1;
    }
    return 0;
}

/* The next call from the cursor, its inputs checked: 1, or 0 at the end
   record, or -1 with r->err set. */
static int rp_peek(intc_replay *r, rp_call *c)
{
    size_t pos = r->pos;
    uint64_t index = r->index;
    rp_frame f;

    for (;;) {
        if (!rp_frame_at(r, pos, index, &f))
            return -1;
        if (f.type == INTC__RT_END)
            return rp_end(r, &f, r->pos, pos, index);
        if (f.type == INTC__RT_CALL)
            break;
        if (!rp_input_ok(r, &f, index, pos))
            return -1;
        pos = f.next;
        index++;
    }
    if (f.len < INTC__REC_CALL_FIXED || (f.p[1] & ~INTC__REC_NESTED)) {
        rp_fail(r, INTC_ERR_CORRUPT, index, pos,
                "call record of %zu bytes, flags %#x", f.len, f.p[1]);
        return -1;
    }
    memset(c, 0, sizeof(*c));
    c->in_pos = r->pos;
    c->in_index = r->index;
    c->call_pos = pos;
    c->call_index = index;
    c->next_pos = f.next;
    rp_decode_call(c, &f);
    return 1;
}

/* ---- the hooks: what the replayed machine reads and does ---- */

static const char *input_name(unsigned type)
{
    switch (type) {
    case INTC__RT_CLOCK:
        return "the clock";
    case INTC__RT_DMA_READ:
        return "guest memory (dma_read)";
    case INTC__RT_DMA_WRITE:
        return "guest memory (dma_write)";
    default:
        return "posted vectors";
    }
}

/* The next input of the call being issued, which must be of this type. */
static bool rp_input(intc_replay *r, unsigned type, rp_frame *f)
{
    rp_call *c = r->expect;
    if (!c || c->hooked) {
        rp_fail(r, INTC_ERR_DIVERGED, r->index, r->pos,
                "the machine read %s outside a recorded call",
                input_name(type));
        return false;
    }
    if (c->cur == c->call_pos) {
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: the machine read %s, the recording has no more "
                "host inputs for this call",
                intc__rec_op_name(c->op), c->obj, input_name(type));
        return false;
    }
    if (!rp_frame_at(r, c->cur, c->cur_index, f))
        return false;
    if (f->type != type) {
        rp_fail(r, INTC_ERR_DIVERGED, c->cur_index, c->cur,
                "%s %u: the machine read %s, the recording has %s",
                intc__rec_op_name(c->op), c->obj, input_name(type),
                input_name(f->type));
        return false;
    }
    c->last = c->cur;
    c->cur = f->next;
    c->cur_index++;
    return true;
}

static void rp_input_differs(intc_replay *r, const char *what,
                             unsigned long long got, unsigned long long want)
{
    rp_call *c = r->expect;
    rp_fail(r, INTC_ERR_DIVERGED, c->cur_index - 1, c->last,
            "%s %u: %s %#llx, the recording has %#llx",
            intc__rec_op_name(c->op), c->obj, what, got, want);
}

uint64_t intc__rp_now(intc_replay *r, uint32_t cpu)
{
    rp_frame f;
    if (!rp_input(r, INTC__RT_CLOCK, &f))
        return 0;
    if (get(f.p, 4) != cpu) {
        rp_input_differs(r, "clock read for cpu", cpu, get(f.p, 4));
        return 0;
    }
    return get(f.p + 4, 8);
}

/* The guest-memory record f is for this access. */
static bool rp_dma_match(intc_replay *r, const rp_frame *f, uint64_t addr,
                         size_t len)
{
    if (get(f->p, 8) != addr) {
        rp_input_differs(r, "guest memory at", addr, get(f->p, 8));
        return false;
    }
    if (get(f->p + 8, 4) != len) {
        rp_input_differs(r, "guest memory access of length", len,
                         get(f->p + 8, 4));
        return false;
    }
    return true;
}

bool intc__rp_dma_read(intc_replay *r, uint64_t addr, void *buf, size_t len)
{
    rp_frame f;
    if (!rp_input(r, INTC__RT_DMA_READ, &f) ||
        !rp_dma_match(r, &f, addr, len))
        return false;
    if (get(f.p + 12, 4) != 0)
        return false;
    memcpy(buf, f.p + INTC__REC_DMA_FIXED, len);
    return true;
}

bool intc__rp_dma_write(intc_replay *r, uint64_t addr, const void *buf,
                        size_t len)
{
    rp_frame f;
    if (!rp_input(r, INTC__RT_DMA_WRITE, &f) ||
        !rp_dma_match(r, &f, addr, len))
        return false;
    if (memcmp(buf, f.p + INTC__REC_DMA_FIXED, len) != 0) {
        rp_input_differs(r, "guest memory written at", addr, addr);
        return false;
    }
    return get(f.p + 12, 4) == 0;
}

void intc__rp_fold(intc_replay *r, uint32_t cpu, const uint64_t bits[4],
                   const uint64_t level[4])
{
    rp_frame f;
    if (!rp_input(r, INTC__RT_FOLD, &f))
        return;
    if (get(f.p, 4) != cpu) {
        rp_input_differs(r, "posted vectors folded on cpu", cpu,
                         get(f.p, 4));
        return;
    }
    for (unsigned w = 0; w < 4; w++)
        if (get(f.p + 8 + 8 * w, 8) != bits[w] ||
            get(f.p + 40 + 8 * w, 8) != level[w]) {
            rp_input_differs(r, "posted vectors (a word)", bits[w],
                             get(f.p + 8 + 8 * w, 8));
            return;
        }
}

/* What the call did against what the recording says it did. */
static bool rp_results_match(intc_replay *r, rp_call *c, int32_t ret,
                             uint64_t out, const void *blob, size_t len)
{
    const char *name = intc__rec_op_name(c->op);
    /* A save is replayed into no buffer: NOSPC, with the size it needs,
       stands for a recorded success. */
    if (c->op == INTC__OP_MACHINE_SAVE && c->ret == INTC_OK &&
        ret == INTC_ERR_NOSPC)
        ret = INTC_OK;
    if (ret != c->ret) {
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: returned %d, recorded %d", name, c->obj, (int)ret,
                (int)c->ret);
        return false;
    }
    if (out != c->out) {
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: result %#llx, recorded %#llx", name, c->obj,
                (unsigned long long)out, (unsigned long long)c->out);
        return false;
    }
    if (len != c->blen || (len && memcmp(blob, c->blob, len) != 0)) {
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: its data (%zu bytes) differs from the recorded "
                "(%zu bytes)", name, c->obj, len, c->blen);
        return false;
    }
    return true;
}

void intc__rp_call(intc_replay *r, unsigned op, uint32_t obj, uint64_t a0,
                   uint64_t a1, uint64_t a2, int32_t ret, uint64_t out,
                   const void *blob, size_t len)
{
    rp_call *c = r->expect;
    bool nested = r->m->depth > (intc__rec_op_unentered(op) ? 0u : 1u);

    if (!c || c->hooked) {
        rp_fail(r, INTC_ERR_DIVERGED, r->index, r->pos,
                "a call (%s) the recording does not have: made by a callback "
                "of the replaying host?", intc__rec_op_name(op));
        return;
    }
    c->hooked = true;
    if (op != c->op || obj != c->obj || nested != c->nested ||
        (op != INTC__OP_MACHINE_SAVE && a0 != c->a[0]) || a1 != c->a[1] ||
        a2 != c->a[2]) {
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: arguments or nesting differ from the recorded %s "
                "%u (a record the library does not write)",
                intc__rec_op_name(op), obj, intc__rec_op_name(c->op), c->obj);
        return;
    }
    if (!rp_results_match(r, c, ret, out, blob, len))
        return;
    if (c->cur != c->call_pos) {
        rp_fail(r, INTC_ERR_DIVERGED, c->cur_index, c->cur,
                "%s %u: the recording has host inputs the machine did not "
                "read", intc__rec_op_name(op), obj);
        return;
    }
    /* Done with this call before its deferred callbacks run: calls made
       from them come next. */
    r->pos = c->next_pos;
    r->index = c->call_index + 1;
    r->n_calls++;
}

/* ---- issuing a recorded call ---- */

static intc_lapic *rp_lapic(intc_replay *r, const rp_call *c)
{
    intc_lapic *l = intc_machine_lapic(r->m, c->obj);
    if (!l)
        rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
                "%s: no cpu %u", intc__rec_op_name(c->op), c->obj);
    return l;
}

static int rp_lapic_call(intc_replay *r, const rp_call *c)
{
    intc_lapic *l = rp_lapic(r, c);
    uint64_t v = 0, pir[4];
    uint8_t sipi = 0;
    const uint64_t *a = c->a;

    if (!l)
        return INTC_ERR_CORRUPT;
    switch (c->op) {
    case INTC__OP_LAPIC_MMIO_READ:
        return intc_lapic_mmio_read(l, (uint32_t)a[0], (unsigned)a[1], &v);
    case INTC__OP_LAPIC_MMIO_WRITE:
        return intc_lapic_mmio_write(l, (uint32_t)a[0], (unsigned)a[1], a[2]);
    case INTC__OP_LAPIC_MSR_READ:
        return intc_lapic_msr_read(l, (uint32_t)a[0], &v);
    case INTC__OP_LAPIC_MSR_WRITE:
        return intc_lapic_msr_write(l, (uint32_t)a[0], a[1]);
    case INTC__OP_LAPIC_ACK:
        return intc_lapic_ack(l);
    case INTC__OP_LAPIC_TAKE:
        return intc_lapic_take(l, (unsigned)a[0], &sipi);
    case INTC__OP_LAPIC_SET_TPR:
        return intc_lapic_set_tpr(l, (uint8_t)a[0]);
    case INTC__OP_LAPIC_SET_LINT:
        return intc_lapic_set_lint(l, (unsigned)a[0], a[1] != 0);
    case INTC__OP_LAPIC_RAISE_LVT:
        return intc_lapic_raise_lvt(l, (unsigned)a[0]);
    case INTC__OP_LAPIC_TIMER_EXPIRED:
        return intc_lapic_timer_expired(l, a[0]);
    case INTC__OP_LAPIC_SET_TSC_OFFSET:
        return intc_lapic_set_tsc_offset(l, a[0]);
    case INTC__OP_LAPIC_RESET:
        return intc_lapic_reset(l, a[0] != 0);
    default: /* INTC__OP_LAPIC_SYNC_PIR */
        if (c->blen != (a[0] ? sizeof pir : 0)) {
            rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
                    "lapic_sync_pir with %zu bytes of PIR", c->blen);
            return INTC_ERR_CORRUPT;
        }
        for (unsigned w = 0; a[0] && w < 4; w++)
            pir[w] = get(c->blob + 8 * w, 8);
        return intc_lapic_sync_pir(l, a[0] ? pir : NULL);
    }
}

static intc_msix *rp_msix(intc_replay *r, const rp_call *c)
{
    for (intc_msix *x = r->m->msix; x; x = x->next)
        if (x->unit == c->obj)
            return x;
    rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
            "%s: no MSI-X function with unit %u", intc__rec_op_name(c->op),
            c->obj);
    return NULL;
}

static intc_msi *rp_msi(intc_replay *r, const rp_call *c)
{
    for (intc_msi *d = r->m->msi; d; d = d->next)
        if (d->unit == c->obj)
            return d;
    rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
            "%s: no MSI capability with unit %u", intc__rec_op_name(c->op),
            c->obj);
    return NULL;
}

static int rp_msix_call(intc_replay *r, const rp_call *c)
{
    intc_msix *x;
    intc_err err;
    uint64_t v;

    if (c->op == INTC__OP_MSIX_NEW)
        return intc_msix_new(r->m, (uint16_t)c->a[0], (uint16_t)c->a[1], &err)
                   ? INTC_OK
                   : err;
    if (!(x = rp_msix(r, c)))
        return INTC_ERR_CORRUPT;
    switch (c->op) {
    case INTC__OP_MSIX_FREE:
        intc_msix_free(x);
        return INTC_OK;
    case INTC__OP_MSIX_TABLE_READ:
        return intc_msix_table_read(x, (uint32_t)c->a[0], (unsigned)c->a[1],
                                    &v);
    case INTC__OP_MSIX_TABLE_WRITE:
        return intc_msix_table_write(x, (uint32_t)c->a[0], (unsigned)c->a[1],
                                     c->a[2]);
    case INTC__OP_MSIX_SET_CONTROL:
        return intc_msix_set_control(x, c->a[0] != 0, c->a[1] != 0);
    case INTC__OP_MSIX_NOTIFY:
        return intc_msix_notify(x, (uint16_t)c->a[0], NULL);
    default: /* INTC__OP_MSIX_RESET */
        return intc_msix_reset(x);
    }
}

static int rp_msi_call(intc_replay *r, const rp_call *c)
{
    intc_msi *d;
    intc_err err;

    if (c->op == INTC__OP_MSI_NEW)
        return intc_msi_new(r->m, (unsigned)c->a[0], c->a[1] & 1,
                            (c->a[1] >> 1) & 1, (uint16_t)c->a[2], &err)
                   ? INTC_OK
                   : err;
    if (!(d = rp_msi(r, c)))
        return INTC_ERR_CORRUPT;
    switch (c->op) {
    case INTC__OP_MSI_FREE:
        intc_msi_free(d);
        return INTC_OK;
    case INTC__OP_MSI_CONFIG_WRITE:
        return intc_msi_config_write(d, (uint32_t)c->a[0], (unsigned)c->a[1],
                                     (uint32_t)c->a[2]);
    case INTC__OP_MSI_NOTIFY:
        return intc_msi_notify(d, (unsigned)c->a[0], NULL);
    default: /* INTC__OP_MSI_RESET */
        return intc_msi_reset(d);
    }
}

static void irq_from_bytes(intc_irq *irq, const uint8_t *b)
{
    memset(irq, 0, sizeof(*irq));
    irq->fault = (unsigned)get(b, 4);
    irq->index = (uint32_t)get(b + 4, 4);
    irq->dest = (uint32_t)get(b + 8, 4);
    irq->vector = b[12];
    irq->dm = b[13];
    irq->blocked = b[14] & 1;
    irq->posted = b[14] >> 1 & 1;
    irq->remapped = b[14] >> 2 & 1;
    irq->logical = b[14] >> 3 & 1;
    irq->level = b[14] >> 4 & 1;
    irq->rh = b[14] >> 5 & 1;
    irq->x2apic = b[14] >> 6 & 1;
}

static int rp_iommu_call(intc_replay *r, const rp_call *c)
{
    intc_iommu *u = r->m->iommu;
    intc_irq irq;
    uint64_t v;

    if (c->op == INTC__OP_IRQ_DELIVER) {
        if (c->blen != INTC__IRQ_BYTES) {
            rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
                    "irq_deliver with %zu bytes of intc_irq", c->blen);
            return INTC_ERR_CORRUPT;
        }
        irq_from_bytes(&irq, c->blob);
        return intc_irq_deliver(r->m, &irq, NULL);
    }
    if (!u) {
        rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
                "%s on a machine without IOMMU", intc__rec_op_name(c->op));
        return INTC_ERR_CORRUPT;
    }
    switch (c->op) {
    case INTC__OP_IOMMU_MMIO_READ:
        return intc_iommu_mmio_read(u, (uint32_t)c->a[0], (unsigned)c->a[1],
                                    &v);
    case INTC__OP_IOMMU_MMIO_WRITE:
        return intc_iommu_mmio_write(u, (uint32_t)c->a[0], (unsigned)c->a[1],
                                     c->a[2]);
    case INTC__OP_IOMMU_REMAP:
        return intc_iommu_remap(u, (uint16_t)c->a[0], c->a[1],
                                (uint32_t)c->a[2], &irq);
    case INTC__OP_IOMMU_SET_TABLE:
        return intc_iommu_set_table(u, c->a[0], c->a[1] != 0, c->a[2] != 0);
    default: /* INTC__OP_IOMMU_INVALIDATE */
        return intc_iommu_invalidate(u, (uint32_t)c->a[0], (unsigned)c->a[1]);
    }
}

static int rp_machine_call(intc_replay *r, const rp_call *c)
{
    intc_ioapic *io = intc_machine_ioapic(r->m, c->obj);
    uint64_t v;
    size_t used;

    switch (c->op) {
    case INTC__OP_MSI_SEND:
        return intc_msi_send(r->m, c->a[0], (uint32_t)c->a[1],
                             (uint16_t)c->a[2], NULL);
    case INTC__OP_MACHINE_RESET:
        return intc_machine_reset(r->m);
    case INTC__OP_MACHINE_SAVE:
        return intc_machine_save(r->m, NULL, 0, &used);
    case INTC__OP_MACHINE_LOAD:
        return intc_machine_load(r->m, c->blen ? c->blob : NULL, c->blen);
    default:
        break;
    }
    if (!io) {
        rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
                "%s: no IOAPIC %u", intc__rec_op_name(c->op), c->obj);
        return INTC_ERR_CORRUPT;
    }
    switch (c->op) {
    case INTC__OP_IOAPIC_MMIO_READ:
        return intc_ioapic_mmio_read(io, (uint32_t)c->a[0], (unsigned)c->a[1],
                                     &v);
    case INTC__OP_IOAPIC_MMIO_WRITE:
        return intc_ioapic_mmio_write(io, (uint32_t)c->a[0],
                                      (unsigned)c->a[1], c->a[2]);
    case INTC__OP_IOAPIC_SET_IRQ:
        return intc_ioapic_set_irq_source(io, (uint32_t)c->a[0],
                                          (unsigned)c->a[1], c->a[2] != 0);
    default: /* INTC__OP_IOAPIC_TIMER_EXPIRED */
        return intc_ioapic_timer_expired(io, c->a[0]);
    }
}

static int rp_dispatch(intc_replay *r, const rp_call *c)
{
    unsigned op = c->op;
    if (op >= INTC__OP_LAPIC_MMIO_READ && op <= INTC__OP_LAPIC_SYNC_PIR)
        return rp_lapic_call(r, c);
    if (op >= INTC__OP_MSIX_NEW && op <= INTC__OP_MSIX_RESET)
        return rp_msix_call(r, c);
    if (op >= INTC__OP_MSI_NEW && op <= INTC__OP_MSI_RESET)
        return rp_msi_call(r, c);
    if (op >= INTC__OP_IOMMU_MMIO_READ && op <= INTC__OP_IOMMU_INVALIDATE)
        return rp_iommu_call(r, c);
    if ((op >= INTC__OP_IOAPIC_MMIO_READ && op <= INTC__OP_MSI_SEND) ||
        (op >= INTC__OP_MACHINE_RESET && op <= INTC__OP_MACHINE_LOAD))
        return rp_machine_call(r, c);
    rp_fail(r, INTC_ERR_CORRUPT, c->call_index, c->call_pos,
            "unknown operation %u", op);
    return INTC_ERR_CORRUPT;
}

/* Post again the vectors the call folded, so its fold finds them. */
static void rp_post_folds(intc_replay *r, const rp_call *c)
{
    size_t pos = c->in_pos;
    uint64_t index = c->in_index;
    rp_frame f;

    while (pos != c->call_pos && rp_frame_at(r, pos, index, &f)) {
        intc_lapic *l;
        if (f.type == INTC__RT_FOLD &&
            (l = intc_machine_lapic(r->m, (uint32_t)get(f.p, 4)))) {
            for (unsigned v = 0; v < 256; v++) {
                unsigned w = v >> 6, b = v & 63;
                if (get(f.p + 8 + 8 * w, 8) >> b & 1)
                    (void)intc_lapic_post(l, (uint8_t)v,
                                          get(f.p + 40 + 8 * w, 8) >> b & 1);
            }
        }
        pos = f.next;
        index++;
    }
}

static void rp_issue(intc_replay *r, rp_call *c)
{
    rp_call *outer = r->expect;
    int rc;

    rp_post_folds(r, c);
    c->cur = c->in_pos;
    c->cur_index = c->in_index;
    c->last = c->in_pos;
    c->hooked = false;
    r->expect = c;
    rc = rp_dispatch(r, c);
    r->expect = outer;
    if (!c->hooked)
        rp_fail(r, INTC_ERR_DIVERGED, c->call_index, c->call_pos,
                "%s %u: the call returned %d without taking the machine",
                intc__rec_op_name(c->op), c->obj, rc);
}

/* One of the machine's deferred callbacks ran (after the caller's own):
   issue the calls the recorded host made from inside this one. */
static void rp_deferred(intc_replay *r)
{
    uint32_t j = r->cb_count++;
    rp_call c;

    if (r->setup)
        return;
    while (!r->err && rp_peek(r, &c) == 1 && c.nested) {
        if (c.cb_seq > j)
            return; /* a later callback's */
        if (c.cb_seq < j) {
            rp_fail(r, INTC_ERR_DIVERGED, c.call_index, c.call_pos,
                    "%s %u: made from deferred callback #%u, which ran "
                    "without it", intc__rec_op_name(c.op), c.obj, c.cb_seq);
            return;
        }
        rp_issue(r, &c);
    }
}

/* ---- the replayed machine's callbacks ---- */

static void rp_kick(void *host, uint32_t cpu)
{
    intc_replay *r = host;
    if (r->uops.kick)
        r->uops.kick(r->uhost, cpu);
    rp_deferred(r);
}

static void rp_eoi(void *host, uint32_t gsi)
{
    intc_replay *r = host;
    if (r->uops.eoi)
        r->uops.eoi(r->uhost, gsi);
    rp_deferred(r);
}

static void rp_base(void *host, uint32_t cpu, uint64_t base)
{
    intc_replay *r = host;
    if (r->uops.apic_base_changed)
        r->uops.apic_base_changed(r->uhost, cpu, base);
    rp_deferred(r);
}

static uint64_t rp_now_ns(void *host, uint32_t cpu)
{
    intc_replay *r = host;
    return r->uops.now_ns(r->uhost, cpu);
}

static void rp_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    intc_replay *r = host;
    r->uops.timer_arm(r->uhost, cpu, deadline);
}

static void rp_ioapic_timer_arm(void *host, uint32_t io, uint64_t deadline)
{
    intc_replay *r = host;
    r->uops.ioapic_timer_arm(r->uhost, io, deadline);
}

static int rp_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    intc_replay *r = host;
    return r->uops.dma_read(r->uhost, addr, buf, len);
}

static int rp_dma_write(void *host, uint64_t addr, const void *buf,
                        size_t len)
{
    intc_replay *r = host;
    return r->uops.dma_write(r->uhost, addr, buf, len);
}

static void rp_event(void *host, const intc_event *ev)
{
    intc_replay *r = host;
    r->uops.event(r->uhost, ev);
}

static void *rp_alloc_cb(void *host, void *p, size_t old, size_t n)
{
    intc_replay *r = host;
    return rp_realloc(r, &r->uops, r->uhost, p, old, n);
}

/* The machine's callbacks: the deferred ones exactly where the recorded
   host had them (their presence decides what is queued, e.g. resample
   notifications and their events), the others where the caller has. */
static void rp_ops(intc_replay *r)
{
    intc_host_ops *o = &r->mops;
    const intc_host_ops *u = &r->uops;
    memset(o, 0, sizeof(*o));
    o->version = INTC_HOST_OPS_VERSION;
    o->kick = r->rec_mask >> INTC__HOP_KICK & 1 ? rp_kick : NULL;
    o->eoi = r->rec_mask >> INTC__HOP_EOI & 1 ? rp_eoi : NULL;
    o->apic_base_changed =
        r->rec_mask >> INTC__HOP_APIC_BASE_CHANGED & 1 ? rp_base : NULL;
    o->now_ns = u->now_ns ? rp_now_ns : NULL;
    o->timer_arm = u->timer_arm ? rp_timer_arm : NULL;
    o->ioapic_timer_arm = u->ioapic_timer_arm ? rp_ioapic_timer_arm : NULL;
    o->dma_read = u->dma_read ? rp_dma_read : NULL;
    o->dma_write = u->dma_write ? rp_dma_write : NULL;
    o->event = u->event ? rp_event : NULL;
    o->alloc = rp_alloc_cb;
}

/* ---- the header: configuration, devices, image ---- */

/* Build the machine from the configuration record. */
static intc_err rp_config(intc_replay *r, const rp_frame *f, size_t pos)
{
    intc_machine_config cfg;
    uint32_t *ids = NULL;
    intc_ioapic_config *io = NULL;
    size_t n_ids = 0, n_io = 0;
    intc_err err = INTC_ERR_CORRUPT;

    if (f->type != INTC__RT_CONFIG || f->len < INTC__REC_CONFIG_FIXED ||
        (get(f->p + 8, 4) & ~0xffull)) {
        rp_fail(r, err, 0, pos, "no configuration record");
        return err;
    }
    intc__rec_cfg_fixed(&cfg, f->p);
    r->rec_mask = (uint32_t)get(f->p + 60, 4);
    n_ids = cfg.n_cpus;
    n_io = cfg.n_ioapics;
    if (n_ids == 0 || n_ids > INTC_MAX_CPUS || n_io > INTC_IOAPIC_MAX ||
        f->len - INTC__REC_CONFIG_FIXED < 4 * n_ids) {
        rp_fail(r, err, 0, pos, "configuration of %zu CPUs and %zu IOAPICs "
                "in %zu bytes", n_ids, n_io, f->len);
        return err;
    }
    ids = rp_alloc(r, 4 * n_ids);
    io = n_io ? rp_alloc(r, sizeof(*io) * n_io) : NULL;
    if (!ids || (n_io && !io)) {
        err = INTC_ERR_NOMEM;
        rp_fail(r, err, 0, pos, "out of memory");
    } else if (!intc__rec_ioapics(f->p + INTC__REC_CONFIG_FIXED + 4 * n_ids,
                           f->len - INTC__REC_CONFIG_FIXED - 4 * n_ids,
                           cfg.n_ioapics, io)) {
        rp_fail(r, err, 0, pos, "IOAPIC configuration of the wrong size");
    } else {
        for (size_t i = 0; i < n_ids; i++)
            ids[i] = (uint32_t)get(f->p + INTC__REC_CONFIG_FIXED + 4 * i, 4);
        cfg.apic_ids = ids;
        cfg.ioapics = io;
        rp_ops(r);
        r->m = intc_machine_new(&cfg, &r->mops, r, &err);
        if (!r->m)
            rp_fail(r, err, 0, pos, "intc_machine_new refuses the recorded "
                    "configuration (%s)", intc_err_name(err));
    }
    rp_free(r, ids, 4 * n_ids);
    rp_free(r, io, sizeof(*io) * n_io);
    return r->m ? INTC_OK : err;
}

/* One device record: create it with its recorded unit.  *last is the
   unit of the device before it. */
static intc_err rp_device(intc_replay *r, const rp_frame *f, uint64_t index,
                          size_t pos, int64_t *last)
{
    uint32_t unit;
    uint16_t sid, n;
    intc_err err = INTC_ERR_CORRUPT;
    intc_msix *x = NULL;
    intc_msi *c = NULL;

    if (f->len != INTC__REC_DEVICE_SIZE ||
        (int64_t)get(f->p + 4, 4) <= *last || f->p[0] < 1 || f->p[0] > 2) {
        rp_fail(r, err, index, pos, "bad device record");
        return err;
    }
    unit = (uint32_t)get(f->p + 4, 4);
    sid = (uint16_t)get(f->p + 2, 2);
    n = (uint16_t)get(f->p + 8, 2);
    if (f->p[0] == 1)
        x = intc_msix_new(r->m, n, sid, &err);
    else
        c = intc_msi_new(r->m, n, f->p[1] & 1, f->p[1] >> 1 & 1, sid, &err);
    if (!x && !c) {
        rp_fail(r, err, index, pos, "the recorded device is refused (%s)",
                intc_err_name(err));
        return err;
    }
    if (x)
        x->unit = unit;
    else
        c->unit = unit;
    *last = unit;
    return INTC_OK;
}

/* Preamble, configuration, devices, image. */
static intc_err rp_open(intc_replay *r)
{
    rp_frame f;
    int64_t last = -1;
    intc_err err;

    if (r->len < INTC__REC_PREAMBLE ||
        memcmp(r->buf, INTC__REC_MAGIC, 8) != 0) {
        rp_fail(r, INTC_ERR_CORRUPT, 0, 0, r->len < INTC__REC_PREAMBLE
                ? "truncated in the preamble" : "not a libintc recording");
        return r->err;
    }
    if (get(r->buf + 8, 4) != INTC_RECORD_FORMAT) {
        rp_fail(r, INTC_ERR_VERSION, 0, 8, "format version %u, this "
                "library reads version %u", (unsigned)get(r->buf + 8, 4),
                INTC_RECORD_FORMAT);
        return r->err;
    }
    r->pos = INTC__REC_PREAMBLE;
    if (!rp_frame_at(r, r->pos, 0, &f) || rp_config(r, &f, r->pos))
        return r->err;
    for (;;) {
        r->pos = f.next;
        r->index++;
        if (!rp_frame_at(r, r->pos, r->index, &f))
            return r->err;
        if (f.type != INTC__RT_DEVICE)
            break;
        if ((err = rp_device(r, &f, r->index, r->pos, &last)) != 0)
            return err;
    }
    if (f.type != INTC__RT_IMAGE ||
        (int64_t)get(r->buf + INTC__REC_PREAMBLE + 5 + 64, 4) <= last) {
        rp_fail(r, INTC_ERR_CORRUPT, r->index, r->pos,
                "no image record after the devices, or units beyond the "
                "next one");
        return r->err;
    }
    r->m->next_unit = (uint32_t)get(r->buf + INTC__REC_PREAMBLE + 5 + 64, 4);
    err = intc_machine_load(r->m, f.p, f.len);
    if (err) {
        rp_fail(r, err, r->index, r->pos, "the recorded image is refused: %s",
                intc_machine_errmsg(r->m));
        return err;
    }
    r->pos = f.next;
    r->index++;
    return INTC_OK;
}

/* ---- the API ---- */

intc_replay *intc_replay_new(const void *buf, size_t len,
                             const intc_host_ops *ops, void *host,
                             intc_err *errp)
{
    intc_replay boot, *r;
    intc_err dummy;

    if (!errp)
        errp = &dummy;
    if (!buf) {
        *errp = INTC_ERR_INVAL;
        return NULL;
    }
    if (ops && (ops->version == 0 || ops->version > INTC_HOST_OPS_VERSION)) {
        *errp = INTC_ERR_VERSION;
        return NULL;
    }
    memset(&boot, 0, sizeof(boot));
    if (ops)
        memcpy(&boot.uops, ops,
               ops->version == 1 ? offsetof(intc_host_ops, apic_base_changed)
                                 : sizeof(*ops));
    boot.uhost = host;
    r = rp_alloc(&boot, sizeof(*r));
    if (!r) {
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    *r = boot;
    r->hdr.mode = INTC__REC_REPLAY;
    r->buf = buf;
    r->len = len;
    r->setup = true;
    *errp = rp_open(r);
    if (*errp && r->m) {
        intc_machine_free(r->m);
        r->m = NULL;
    }
    if (r->m)
        intc__rec_set(r->m, &r->hdr);
    r->setup = false;
    return r;
}

int intc_replay_step(intc_replay *r)
{
    rp_call c;
    int k;

    if (!r)
        return INTC_ERR_INVAL;
    if (r->err)
        return r->err;
    if (r->done)
        return 0;
    if (r->m->in_cb || r->m->depth)
        return INTC_ERR_BUSY;
    k = rp_peek(r, &c);
    if (k <= 0) {
        r->done = k == 0;
        return k < 0 ? r->err : 0;
    }
    if (c.nested) {
        rp_fail(r, INTC_ERR_DIVERGED, c.call_index, c.call_pos,
                "%s %u: made from a deferred callback, but no call before it "
                "had one", intc__rec_op_name(c.op), c.obj);
        return r->err;
    }
    r->cb_count = 0;
    rp_issue(r, &c);
    if (!r->err && rp_peek(r, &c) == 1 && c.nested)
        rp_fail(r, INTC_ERR_DIVERGED, c.call_index, c.call_pos,
                "%s %u: made from deferred callback #%u, which the replayed "
                "machine did not run", intc__rec_op_name(c.op), c.obj,
                c.cb_seq);
    return r->err ? r->err : 1;
}

intc_err intc_replay_run(intc_replay *r)
{
    int k;
    while ((k = intc_replay_step(r)) > 0)
        ;
    return (intc_err)k;
}

intc_machine *intc_replay_machine(intc_replay *r)
{
    return r ? r->m : NULL;
}

uint64_t intc_replay_position(const intc_replay *r, size_t *offset)
{
    if (!r) {
        if (offset)
            *offset = 0;
        return 0;
    }
    if (offset)
        *offset = r->err ? r->err_pos : r->pos;
    return r->err ? r->err_index : r->index;
}

const char *intc_replay_errmsg(const intc_replay *r)
{
    return r ? r->msg : "";
}

void intc_replay_free(intc_replay *r)
{
    if (!r)
        return;
    if (r->m) {
        if (r->m->in_cb || r->m->depth)
            return; /* host bug: from inside a callback */
        intc__rec_set(r->m, NULL);
        intc_machine_free(r->m);
    }
    rp_free(r, r, sizeof(*r));
}
