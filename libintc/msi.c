/*
 * libintc — message-signalled interrupts: the decode of an interrupt
 * message (SDM vol. 3A 11.11), the MSI-X table and PBA (PCIe base spec
 * 7.7.2) and the MSI capability (PCI Local Bus 3.0 6.8.1).
 */
#include "internal.h"
#include "msi_priv.h"
#include "snap_priv.h"

/* ---- messages (the decode is the pipeline's: bus.c) ---- */

/* intc_msi_send() is the pipeline's entry point: bus.c. */

/* Nothing sent: status DISABLED or PENDING. */
static void not_sent(intc_delivery *out, intc_delivery_status status)
{
    if (out) {
        out->status = status;
        out->reason = 0;
        out->n_cpus = 0;
        out->irte = UINT32_MAX;
    }
}

/* ---- MSI-X ---- */

/* struct intc_msix, MSIX_CTRL_MASK: msi_priv.h */

static size_t pba_words(uint16_t nvec)
{
    return ((size_t)nvec + 63) / 64;
}

static void msix_send(intc_msix *x, uint16_t v, intc_delivery *out)
{
    const struct intc_msix_entry *e = &x->table[v];
    intc_delivery res;
    /* A table address outside the interrupt window is an ordinary
       memory write the device makes; nothing for the APICs. */
    (void)intc__route(x->m, (uint64_t)e->addr_hi << 32 | e->addr_lo,
                      e->data, x->sid, out ? out : &res);
}

static inline bool msix_masked(const intc_msix *x, uint16_t v)
{
    return x->fmask || (x->table[v].ctrl & MSIX_CTRL_MASK);
}

static void msix_flush_pending(intc_msix *x, uint16_t from, uint16_t to)
{
    if (!x->enabled || x->fmask)
        return;
    for (uint32_t v = from; v < to; v++) {
        uint64_t b = 1ull << (v & 63);
        if ((x->pba[v >> 6] & b) && !msix_masked(x, (uint16_t)v)) {
            /* PCIe 7.7.2: a pending message is sent on unmask, with the
               entry's contents at that time, and its bit cleared. */
            x->pba[v >> 6] &= ~b;
            msix_send(x, (uint16_t)v, NULL);
        }
    }
}

static void msix_reset(intc_msix *x)
{
    x->enabled = false;
    x->fmask = false;
    for (uint32_t v = 0; v < x->nvec; v++) {
        x->table[v].addr_lo = 0;
        x->table[v].addr_hi = 0;
        x->table[v].data = 0;
        x->table[v].ctrl = MSIX_CTRL_MASK; /* every vector masked */
    }
    memset(x->pba, 0, sizeof(uint64_t) * pba_words(x->nvec));
}

intc_msix *intc_msix_new(intc_machine *m, uint16_t nvec, uint16_t source_id,
                         intc_err *errp)
{
    intc_msix *x;
    intc_err dummy;
    if (!errp)
        errp = &dummy;
    if (!m || nvec == 0 || nvec > INTC_MSIX_MAX_VECTORS) {
        *errp = INTC_ERR_INVAL;
        return NULL;
    }
    if (m->in_cb) {
        *errp = INTC_ERR_BUSY;
        return NULL;
    }
    x = intc__alloc(m, sizeof(*x));
    if (!x) {
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    x->m = m;
    x->nvec = nvec;
    x->sid = source_id;
    x->table = intc__alloc(m, sizeof(*x->table) * nvec);
    x->pba = intc__alloc(m, sizeof(uint64_t) * pba_words(nvec));
    if (!x->table || !x->pba) {
        intc__free(m, x->table, sizeof(*x->table) * nvec);
        intc__free(m, x->pba, sizeof(uint64_t) * pba_words(nvec));
        intc__free(m, x, sizeof(*x));
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    msix_reset(x);
    x->unit = m->next_unit++;
    x->next = m->msix;
    m->msix = x;
    INTC_REC(m, INTC__OP_MSIX_NEW, 0, nvec, source_id, 0, INTC_OK, x->unit);
    *errp = INTC_OK;
    return x;
}

static void msix_release(intc_msix *x)
{
    intc_machine *m = x->m;
    intc__free(m, x->table, sizeof(*x->table) * x->nvec);
    intc__free(m, x->pba, sizeof(uint64_t) * pba_words(x->nvec));
    intc__free(m, x, sizeof(*x));
}

void intc_msix_free(intc_msix *x)
{
    intc_machine *m;
    if (!x)
        return;
    m = x->m;
    if (m->in_cb || m->depth)
        return; /* host bug: not from inside a callback */
    INTC_REC(m, INTC__OP_MSIX_FREE, x->unit, 0, 0, 0, INTC_OK, 0);
    for (intc_msix **pp = &m->msix; *pp; pp = &(*pp)->next) {
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    }
    msix_release(x);
}

void intc__msix_free_all(intc_machine *m)
{
    while (m->msix) {
        intc_msix *x = m->msix;
        m->msix = x->next;
        msix_release(x);
    }
}

void intc__msix_reset_all(intc_machine *m)
{
    for (intc_msix *x = m->msix; x; x = x->next)
        msix_reset(x);
}

static inline bool size_ok(unsigned size)
{
    return size == 1 || size == 2 || size == 4 || size == 8;
}

static uint32_t entry_dword(const intc_msix *x, uint32_t off)
{
    const struct intc_msix_entry *e = &x->table[off >> 4];
    switch ((off >> 2) & 3) {
    case 0:
        return e->addr_lo;
    case 1:
        return e->addr_hi;
    case 2:
        return e->data;
    default:
        return e->ctrl;
    }
}

intc_err intc_msix_table_read(intc_msix *x, uint32_t off, unsigned size,
                              uint64_t *val)
{
    if (!x || !val || !size_ok(size))
        return INTC_ERR_INVAL;
    if (!intc__enter(x->m))
        return INTC_ERR_BUSY;
    *val = 0;
    if ((size == 4 || size == 8) && !(off & (size - 1)) &&
        (uint64_t)off + size <= 16ull * x->nvec) {
        *val = entry_dword(x, off);
        if (size == 8)
            *val |= (uint64_t)entry_dword(x, off + 4) << 32;
    }
    INTC_REC(x->m, INTC__OP_MSIX_TABLE_READ, x->unit, off, size, 0, INTC_OK,
             *val);
    intc__leave(x->m);
    return INTC_OK;
}

static void write_dword(intc_msix *x, uint32_t off, uint32_t val)
{
    uint16_t v = (uint16_t)(off >> 4);
    struct intc_msix_entry *e = &x->table[v];
    switch ((off >> 2) & 3) {
    case 0:
        e->addr_lo = val;
        break;
    case 1:
        e->addr_hi = val;
        break;
    case 2:
        e->data = val;
        break;
    default: {
        /* Vector Control: bit 0 Mask; bits 31:1 reserved (read 0). */
        bool was = e->ctrl & MSIX_CTRL_MASK;
        e->ctrl = val & MSIX_CTRL_MASK;
        if (was && !(e->ctrl & MSIX_CTRL_MASK))
            msix_flush_pending(x, v, (uint16_t)(v + 1));
        break;
    }
    }
}

intc_err intc_msix_table_write(intc_msix *x, uint32_t off, unsigned size,
                               uint64_t val)
{
    if (!x || !size_ok(size))
        return INTC_ERR_INVAL;
    if (!intc__enter(x->m))
        return INTC_ERR_BUSY;
    if ((size == 4 || size == 8) && !(off & (size - 1)) &&
        (uint64_t)off + size <= 16ull * x->nvec) {
        write_dword(x, off, (uint32_t)val);
        if (size == 8)
            write_dword(x, off + 4, (uint32_t)(val >> 32));
    } else if (intc__tracing(x->m)) {
        intc__emit_unit(x->m, INTC_EV_BAD_ACCESS, INTC_NO_CPU, -1, x->unit, off,
                       size, val);
    }
    INTC_REC(x->m, INTC__OP_MSIX_TABLE_WRITE, x->unit, off, size, val,
             INTC_OK, 0);
    intc__leave(x->m);
    return INTC_OK;
}

intc_err intc_msix_pba_read(intc_msix *x, uint32_t off, unsigned size,
                            uint64_t *val)
{
    if (!x || !val || !size_ok(size))
        return INTC_ERR_INVAL;
    *val = 0;
    if ((size == 4 || size == 8) && !(off & (size - 1)) &&
        off / 8 < pba_words(x->nvec)) {
        uint64_t w = x->pba[off / 8];
        *val = size == 8 ? w : (uint32_t)(w >> (8 * (off & 4)));
    }
    return INTC_OK;
}

intc_err intc_msix_set_control(intc_msix *x, bool enable, bool function_mask)
{
    if (!x)
        return INTC_ERR_INVAL;
    if (!intc__enter(x->m))
        return INTC_ERR_BUSY;
    x->enabled = enable;
    x->fmask = function_mask;
    msix_flush_pending(x, 0, x->nvec);
    INTC_REC(x->m, INTC__OP_MSIX_SET_CONTROL, x->unit, enable, function_mask,
             0, INTC_OK, 0);
    intc__leave(x->m);
    return INTC_OK;
}

intc_err intc_msix_notify(intc_msix *x, uint16_t vector, intc_delivery *out)
{
    intc_delivery res;
    if (!out)
        out = &res;
    if (!x)
        return INTC_ERR_INVAL;
    if (vector >= x->nvec)
        return INTC_ERR_RANGE;
    if (!intc__enter(x->m))
        return INTC_ERR_BUSY;
    if (!x->enabled) {
        /* PCIe 7.7.2.2: with MSI-X disabled the function may not send
           MSI-X messages; nothing is recorded. */
        not_sent(out, INTC_DELIVERY_DISABLED);
    } else if (msix_masked(x, vector)) {
        x->pba[vector >> 6] |= 1ull << (vector & 63);
        not_sent(out, INTC_DELIVERY_PENDING);
        if (intc__tracing(x->m))
            intc__emit_unit(x->m, INTC_EV_MSIX_PENDING, INTC_NO_CPU, -1,
                           x->unit, vector, 1, 0);
    } else {
        msix_send(x, vector, out);
    }
    INTC_REC(x->m, INTC__OP_MSIX_NOTIFY, x->unit, vector, 0, 0, INTC_OK,
             intc__rec_delivery(out));
    intc__leave(x->m);
    return INTC_OK;
}

intc_err intc_msix_reset(intc_msix *x)
{
    if (!x)
        return INTC_ERR_INVAL;
    if (!intc__enter(x->m))
        return INTC_ERR_BUSY;
    msix_reset(x);
    INTC_REC(x->m, INTC__OP_MSIX_RESET, x->unit, 0, 0, 0, INTC_OK, 0);
    intc__leave(x->m);
    return INTC_OK;
}

bool intc_msix_pending(const intc_msix *x, uint16_t vector)
{
    return x && vector < x->nvec &&
           ((x->pba[vector >> 6] >> (vector & 63)) & 1);
}

/* ---- MSI capability ---- */

/*
 * The capability is kept as its configuration-space bytes; a write goes
 * through a per-byte writable mask, then its effects are applied.
 * Layouts (PCI 3.0 Figure 6-9):
 *   32-bit:          0 ID/next, 2 control, 4 address, 8 data
 *   64-bit:          ..., 8 upper address, 12 data
 *   with per-vector masking, mask bits and pending bits follow the data
 *   at the next dword: 12/16 (32-bit) or 16/20 (64-bit).
 */
/* struct intc_msi: msi_priv.h */

#define MSI_CTL_ENABLE 0x0001u
#define MSI_CTL_MMC_SHIFT 1
#define MSI_CTL_MME_SHIFT 4
#define MSI_CTL_64BIT 0x0080u
#define MSI_CTL_PVM 0x0100u

static uint32_t rd32(const intc_msi *c, unsigned off)
{
    return (uint32_t)c->regs[off] | (uint32_t)c->regs[off + 1] << 8 |
           (uint32_t)c->regs[off + 2] << 16 | (uint32_t)c->regs[off + 3] << 24;
}

static uint16_t rd16(const intc_msi *c, unsigned off)
{
    return (uint16_t)(c->regs[off] | c->regs[off + 1] << 8);
}

static void wr32(intc_msi *c, unsigned off, uint32_t v)
{
    for (unsigned i = 0; i < 4; i++)
        c->regs[off + i] = (uint8_t)(v >> (8 * i));
}

/* Number of messages the function may use: 2^MME, never above 2^MMC. */
static unsigned msi_nvec(const intc_msi *c)
{
    uint16_t ctl = rd16(c, 2);
    unsigned mmc = (ctl >> MSI_CTL_MMC_SHIFT) & 7;
    unsigned mme = (ctl >> MSI_CTL_MME_SHIFT) & 7;
    if (mme > mmc)
        mme = mmc; /* software must not; use what the function has */
    return 1u << mme;
}

static void msi_send(intc_msi *c, unsigned v, intc_delivery *out)
{
    uint16_t ctl = rd16(c, 2);
    uint64_t addr = rd32(c, 4);
    uint32_t data = rd16(c, c->off_data);
    intc_delivery res;
    if (ctl & MSI_CTL_64BIT)
        addr |= (uint64_t)rd32(c, 8) << 32;
    /* PCI 3.0 6.8.1.6: the function puts the vector number in the low
       bits of Message Data that multiple-message enable frees. */
    data = (data & ~(msi_nvec(c) - 1)) | v;
    (void)intc__route(c->m, addr, data, c->sid, out ? out : &res);
}

static void msi_flush_pending(intc_msi *c)
{
    uint32_t pend, mask;
    if (!c->off_mask || !(rd16(c, 2) & MSI_CTL_ENABLE))
        return;
    pend = rd32(c, c->off_pend);
    mask = rd32(c, c->off_mask);
    for (unsigned v = 0; v < msi_nvec(c); v++) {
        if ((pend >> v & 1) && !(mask >> v & 1)) {
            pend &= ~(1u << v);
            wr32(c, c->off_pend, pend);
            msi_send(c, v, NULL);
        }
    }
}

static void msi_reset(intc_msi *c)
{
    uint16_t keep = rd16(c, 2) & (0x7u << MSI_CTL_MMC_SHIFT | MSI_CTL_64BIT |
                                  MSI_CTL_PVM);
    memset(c->regs, 0, sizeof(c->regs));
    c->regs[0] = 0x05; /* capability ID: MSI */
    c->regs[2] = (uint8_t)keep;
    c->regs[3] = (uint8_t)(keep >> 8);
}

intc_msi *intc_msi_new(intc_machine *m, unsigned log2_vectors, bool addr64,
                       bool per_vector_mask, uint16_t source_id,
                       intc_err *errp)
{
    intc_msi *c;
    intc_err dummy;
    uint16_t ctl;
    if (!errp)
        errp = &dummy;
    if (!m || log2_vectors > 5) {
        *errp = INTC_ERR_INVAL;
        return NULL;
    }
    if (m->in_cb) {
        *errp = INTC_ERR_BUSY;
        return NULL;
    }
    c = intc__alloc(m, sizeof(*c));
    if (!c) {
        *errp = INTC_ERR_NOMEM;
        return NULL;
    }
    c->m = m;
    c->sid = source_id;
    c->off_data = addr64 ? 12 : 8;
    if (per_vector_mask) {
        c->off_mask = addr64 ? 16 : 12;
        c->off_pend = (uint8_t)(c->off_mask + 4);
        c->size = (uint8_t)(c->off_pend + 4);
    } else {
        c->size = (uint8_t)(c->off_data + 2);
    }
    ctl = (uint16_t)(log2_vectors << MSI_CTL_MMC_SHIFT |
                     (addr64 ? MSI_CTL_64BIT : 0) |
                     (per_vector_mask ? MSI_CTL_PVM : 0));
    c->regs[2] = (uint8_t)ctl;
    c->regs[3] = (uint8_t)(ctl >> 8);
    msi_reset(c);
    /* Writable bits: enable and MME; address bits 31:2; upper address;
       data; mask bits for the vectors the function has. */
    c->wmask[2] = 0x71;
    c->wmask[4] = 0xfc;
    c->wmask[5] = c->wmask[6] = c->wmask[7] = 0xff;
    if (addr64)
        for (unsigned i = 8; i < 12; i++)
            c->wmask[i] = 0xff;
    c->wmask[c->off_data] = c->wmask[c->off_data + 1] = 0xff;
    if (per_vector_mask) {
        uint32_t mbits = log2_vectors == 5
                             ? 0xffffffffu
                             : (1u << (1u << log2_vectors)) - 1;
        for (unsigned i = 0; i < 4; i++)
            c->wmask[c->off_mask + i] = (uint8_t)(mbits >> (8 * i));
    }
    c->unit = m->next_unit++;
    c->next = m->msi;
    m->msi = c;
    INTC_REC(m, INTC__OP_MSI_NEW, 0, log2_vectors,
             (uint64_t)addr64 | (uint64_t)per_vector_mask << 1, source_id,
             INTC_OK, c->unit);
    *errp = INTC_OK;
    return c;
}

static void msi_release(intc_msi *c)
{
    intc__free(c->m, c, sizeof(*c));
}

void intc_msi_free(intc_msi *c)
{
    intc_machine *m;
    if (!c)
        return;
    m = c->m;
    if (m->in_cb || m->depth)
        return;
    INTC_REC(m, INTC__OP_MSI_FREE, c->unit, 0, 0, 0, INTC_OK, 0);
    for (intc_msi **pp = &m->msi; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    msi_release(c);
}

void intc__msi_free_all(intc_machine *m)
{
    while (m->msi) {
        intc_msi *c = m->msi;
        m->msi = c->next;
        msi_release(c);
    }
}

void intc__msi_reset_all(intc_machine *m)
{
    for (intc_msi *c = m->msi; c; c = c->next)
        msi_reset(c);
}

unsigned intc_msi_config_size(const intc_msi *c)
{
    return c ? c->size : 0;
}

intc_err intc_msi_config_read(intc_msi *c, uint32_t off, unsigned size,
                              uint32_t *val)
{
    if (!c || !val || (size != 1 && size != 2 && size != 4))
        return INTC_ERR_INVAL;
    *val = 0;
    for (unsigned i = 0; i < size; i++)
        if (off + i < c->size)
            *val |= (uint32_t)c->regs[off + i] << (8 * i);
    return INTC_OK;
}

intc_err intc_msi_config_write(intc_msi *c, uint32_t off, unsigned size,
                               uint32_t val)
{
    if (!c || (size != 1 && size != 2 && size != 4))
        return INTC_ERR_INVAL;
    if (!intc__enter(c->m))
        return INTC_ERR_BUSY;
    for (unsigned i = 0; i < size; i++) {
        uint32_t a = off + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        if (a >= c->size)
            continue;
        c->regs[a] = (uint8_t)((c->regs[a] & ~c->wmask[a]) |
                               (b & c->wmask[a]));
    }
    /* Clearing a mask bit, or enabling, sends what is pending. */
    msi_flush_pending(c);
    INTC_REC(c->m, INTC__OP_MSI_CONFIG_WRITE, c->unit, off, size, val,
             INTC_OK, 0);
    intc__leave(c->m);
    return INTC_OK;
}

intc_err intc_msi_notify(intc_msi *c, unsigned vector, intc_delivery *out)
{
    intc_delivery res;
    if (!out)
        out = &res;
    if (!c)
        return INTC_ERR_INVAL;
    if (!intc__enter(c->m))
        return INTC_ERR_BUSY;
    if (!(rd16(c, 2) & MSI_CTL_ENABLE) || vector >= msi_nvec(c)) {
        /* Disabled, or a vector beyond those enabled: the function
           cannot signal it. */
        not_sent(out, INTC_DELIVERY_DISABLED);
    } else if (c->off_mask && (rd32(c, c->off_mask) >> vector & 1)) {
        /* PCI 3.0 6.8.1.7-8: masked: the pending bit is set. */
        wr32(c, c->off_pend, rd32(c, c->off_pend) | 1u << vector);
        not_sent(out, INTC_DELIVERY_PENDING);
    } else {
        msi_send(c, vector, out);
    }
    INTC_REC(c->m, INTC__OP_MSI_NOTIFY, c->unit, vector, 0, 0, INTC_OK,
             intc__rec_delivery(out));
    intc__leave(c->m);
    return INTC_OK;
}

intc_err intc_msi_reset(intc_msi *c)
{
    if (!c)
        return INTC_ERR_INVAL;
    if (!intc__enter(c->m))
        return INTC_ERR_BUSY;
    msi_reset(c);
    INTC_REC(c->m, INTC__OP_MSI_RESET, c->unit, 0, 0, 0, INTC_OK, 0);
    intc__leave(c->m);
    return INTC_OK;
}

/* ---- snapshot section ---- */

INTC__SNAP_INLINE void msix_snap(intc__snap *c, const int mode, intc_msix *x)
{
    size_t words = ((size_t)x->nvec + 63) / 64;

    intc__snap_begin(c, mode, "msix", (int32_t)x->unit);
    INTC__SNAP_VAR(c, mode, en, x->enabled, 1, "enabled", -1);
    INTC__SNAP_VAR(c, mode, fmask, x->fmask, 1, "function_mask", -1);
    /* Per group of 64 vectors: its PBA qword, then its table entries. */
    for (size_t w = 0; w < words; w++) {
        uint32_t first = (uint32_t)(w * 64);
        uint32_t n = x->nvec - first < 64 ? x->nvec - first : 64;
        INTC__SNAP_VAR(c, mode, pba, x->pba[w],
                       n == 64 ? UINT64_MAX : (1ull << n) - 1, "pba",
                       (int32_t)w);
        for (uint32_t k = 0; k < n; k++) {
            struct intc_msix_entry *e = &x->table[first + k];
            int32_t v = (int32_t)(first + k);
            INTC__SNAP(c, mode, e->addr_lo, 0xffffffffu, "addr_lo", v);
            INTC__SNAP(c, mode, e->addr_hi, 0xffffffffu, "addr_hi", v);
            INTC__SNAP(c, mode, e->data, 0xffffffffu, "data", v);
            /* Vector Control bits 31:1 are reserved. */
            INTC__SNAP_VAR(c, mode, ctrl, e->ctrl, MSIX_CTRL_MASK,
                           "vector_control", v);
            /* PCIe 7.7.2: a pending message goes out (and its bit
               clears) when the vector is unmasked, so an enabled,
               unmasked vector has no pending bit. */
            INTC__SNAP_REQ(c, mode,
                           !en || fmask || (ctrl & MSIX_CTRL_MASK) ||
                               !((pba >> k) & 1),
                           "pba", v, "pending bit of an unmasked vector");
        }
    }
}

/* One MSI-X function's section of the image, named by its event unit
   (snapshot.c orders the sections).  Nothing is derived. */
void intc__msix_snap(intc__snap *c, intc_msix *x)
{
    INTC__SNAP_DISPATCH(c, msix_snap, x);
}

static uint32_t snap_rd32(const uint8_t *r, unsigned off)
{
    return (uint32_t)r[off] | (uint32_t)r[off + 1] << 8 |
           (uint32_t)r[off + 2] << 16 | (uint32_t)r[off + 3] << 24;
}

INTC__SNAP_INLINE void msi_snap(intc__snap *c, const int mode, intc_msi *d)
{
    unsigned n = d->size;
    uint8_t img[24] = {0};
    uint32_t mbits = 0;

    intc__snap_begin(c, mode, "msi", (int32_t)d->unit);
    /* The configuration bytes as one block (a field per byte would cost
       tens of instructions per byte, most of the image of a machine with
       many MSI functions). */
    switch (mode) {
    case INTC__SNAP_MEASURE:
        c->size += n;
        return;
    case INTC__SNAP_SAVE:
        memcpy(c->out, d->regs, n);
        c->out += n;
        return;
    case INTC__SNAP_LOAD:
        memcpy(d->regs, c->in, n);
        c->in += n;
        return;
    default: /* CHECK, DIAG: validate the image's bytes */
        memcpy(img, c->in, n);
        c->in += n;
        break;
    }
    /* Bits no configuration write can change keep the function's value;
       the pending bits (written by the function) only for vectors it
       has. */
    if (d->off_mask) {
        unsigned mmc = (d->regs[2] >> 1) & 7;
        mbits = mmc == 5 ? 0xffffffffu : (1u << (1u << mmc)) - 1;
    }
    if (mode == INTC__SNAP_CHECK) {
        /* The rules of the DIAG loop below, eight bytes at a time:
           read-only bits differ, or a pending bit beyond the vectors. */
        uint8_t cur[24] = {0};
        uint64_t wi[3], wc[3], wf[3], diff = 0;
        memcpy(cur, d->regs, n);
        memcpy(wi, img, sizeof wi);
        memcpy(wc, cur, sizeof wc);
        memcpy(wf, d->wmask, sizeof wf);
        if (d->off_mask) /* the pending bits: 4 bytes, 4-aligned */
            wf[d->off_pend / 8] |= 0xffffffffull << (8 * (d->off_pend % 8));
        for (unsigned w = 0; w < 3; w++)
            diff |= (wi[w] ^ wc[w]) & ~wf[w];
        c->bad |= diff != 0;
        if (d->off_mask)
            c->bad |= (snap_rd32(img, d->off_pend) & ~mbits) != 0;
    } else {
        for (unsigned a = 0; a < n; a++) {
            uint8_t fixed = (uint8_t)~d->wmask[a];
            if (d->off_mask && a >= d->off_pend && a < d->off_pend + 4u)
                INTC__SNAP_REQ(c, mode,
                               !(img[a] & ~(mbits >> (8 * (a - d->off_pend)))),
                               "config", (int32_t)a,
                               "pending bit beyond the function's vectors");
            else
                INTC__SNAP_REQ(c, mode,
                               (img[a] & fixed) == (d->regs[a] & fixed),
                               "config", (int32_t)a, "read-only bits changed");
        }
    }
    /* Enabled: a pending vector that is not masked would have been sent
       (PCI 3.0 6.8.1.7-8). */
    if (d->off_mask && (img[2] & 1)) {
        unsigned mmc = (img[2] >> 1) & 7, mme = (img[2] >> 4) & 7;
        unsigned nv = 1u << (mme > mmc ? mmc : mme);
        uint32_t live = nv >= 32 ? 0xffffffffu : (1u << nv) - 1;
        INTC__SNAP_REQ(c, mode,
                       !(snap_rd32(img, d->off_pend) &
                         ~snap_rd32(img, d->off_mask) & live),
                       "config", (int32_t)d->off_pend,
                       "pending bit of an unmasked vector");
    }
}

/* One MSI capability's section: its configuration-space bytes, named by
   the function's event unit.  Nothing is derived. */
void intc__msi_snap(intc__snap *c, intc_msi *d)
{
    INTC__SNAP_DISPATCH(c, msi_snap, d);
}
