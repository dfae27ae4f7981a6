/*
 * testkit — a recording as operations (rec_conv.h).
 */
#include "rec_conv.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static intc_err conv_fail(kit_conv *c, intc_err e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return e;
}

/* ---- pass 1: the header, the devices, the memory ---- */

static bool add_device(kit_conv *c, bool msix, uint32_t unit,
                       uint16_t vectors, bool addr64, bool mask,
                       uint16_t sid)
{
    size_t n = c->n_devs + 1;
    kit_device *d = realloc(c->devs, n * sizeof *d);
    uint32_t *u;
    char(*nm)[16];

    if (d)
        c->devs = d;
    u = d ? realloc(c->units, n * sizeof *u) : NULL;
    if (u)
        c->units = u;
    nm = u ? realloc(c->names, n * sizeof *nm) : NULL;
    if (!nm)
        return false;
    c->names = nm;
    snprintf(nm[n - 1], sizeof nm[n - 1], "dev%" PRIu32, unit);
    c->units[n - 1] = unit;
    c->devs[n - 1] = (kit_device){NULL, msix, msix ? vectors : 0,
                                  msix ? 0 : vectors, addr64, mask, sid};
    c->n_devs = n;
    for (size_t i = 0; i < n; i++) /* names may have moved */
        c->devs[i].name = c->names[i];
    return true;
}

/* Pages touched by successful guest-memory accesses (page numbers, with
   duplicates until sorted). */
typedef struct pageset {
    uint64_t *p;
    size_t n, cap;
} pageset;

static bool add_pages(pageset *s, uint64_t addr, uint64_t len)
{
    uint64_t first = addr / PAGE, last = (addr + (len ? len - 1 : 0)) / PAGE;

    /* (scan_item refused accesses that wrap around the address space) */

    for (uint64_t pg = first; pg <= last; pg++) {
        if (s->n && s->p[s->n - 1] == pg)
            continue;
        if (s->n == s->cap) {
            size_t nc = s->cap ? 2 * s->cap : 64;
            uint64_t *np = realloc(s->p, nc * sizeof *np);
            if (!np)
                return false;
            s->p = np;
            s->cap = nc;
        }
        s->p[s->n++] = pg;
    }
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Consecutive pages become one region. */
static bool pages_to_regions(kit_conv *c, pageset *s)
{
    if (s->n == 0)
        return true;
    qsort(s->p, s->n, sizeof *s->p, cmp_u64);
    for (size_t i = 0; i < s->n; i++) {
        kit_region *r = c->n_mem ? &c->mem[c->n_mem - 1] : NULL;
        uint64_t at = s->p[i] * PAGE;
        if (r && at - r->addr < r->size)
            continue; /* a duplicate */
        if (r && at - r->addr == r->size) {
            r->size += PAGE;
        } else {
            kit_region *nm = realloc(c->mem, (c->n_mem + 1) * sizeof *nm);
            if (!nm)
                return false;
            c->mem = nm;
            nm[c->n_mem++] = (kit_region){s->p[i] * PAGE, PAGE, NULL};
        }
    }
    return true;
}

static intc_err read_config(kit_conv *c, const intc_record_item *it)
{
    c->cfg = it->config;
    c->apic_ids = malloc(sizeof *c->apic_ids * it->config.n_cpus);
    c->ioapics = calloc(it->config.n_ioapics ? it->config.n_ioapics : 1,
                        sizeof *c->ioapics);
    if (!c->apic_ids || !c->ioapics)
        return conv_fail(c, INTC_ERR_NOMEM, "out of memory");
    if (intc_record_config_arrays(it, c->apic_ids, c->ioapics) != INTC_OK)
        return conv_fail(c, INTC_ERR_CORRUPT, "record 0: the configuration "
                                              "does not add up");
    c->cfg.apic_ids = c->apic_ids;
    c->cfg.ioapics = c->ioapics;
    c->host_ops = it->host_ops;
    return INTC_OK;
}

/* The scenario creates its MSI-X functions, then its MSI capabilities,
   each in list order, numbered from 0: list the devices so, and say
   whether the recorded units agree. */
static bool order_devices(kit_conv *c)
{
    size_t n = c->n_devs, k = 0;
    kit_device *d = malloc((n ? n : 1) * sizeof *d);
    uint32_t *u = malloc((n ? n : 1) * sizeof *u);
    char(*nm)[16] = malloc((n ? n : 1) * sizeof *nm);

    if (!d || !u || !nm) {
        free(d);
        free(u);
        free(nm);
        return false;
    }
    for (int msix = 1; msix >= 0; msix--)
        for (size_t i = 0; i < n; i++)
            if (c->devs[i].msix == (msix == 1)) {
                d[k] = c->devs[i];
                u[k] = c->units[i];
                memcpy(nm[k], c->names[i], sizeof nm[k]);
                c->units_differ |= u[k] != k;
                k++;
            }
    free(c->devs);
    free(c->units);
    free(c->names);
    c->devs = d;
    c->units = u;
    c->names = nm;
    for (size_t i = 0; i < n; i++)
        c->devs[i].name = c->names[i];
    return true;
}

/* One record of the scan. */
static intc_err scan_item(kit_conv *c, const intc_record_item *it,
                          pageset *pages)
{
    bool ok = true;

    if (it->type == INTC_RECORD_CONFIG)
        return read_config(c, it);
    if (it->type == INTC_RECORD_DEVICE)
        ok = add_device(c, it->msix, it->unit, it->vectors, it->addr64,
                        it->mask, it->source_id);
    else if (it->type == INTC_RECORD_IMAGE) {
        c->image = it->data;
        c->image_len = it->data_len;
    } else if ((it->type == INTC_RECORD_DMA_READ ||
                it->type == INTC_RECORD_DMA_WRITE) && it->ok)
        ok = add_pages(pages, it->addr, it->len);
    else if (it->type == INTC_RECORD_CALL) {
        c->n_calls++;
        if ((it->op == INTC_RECORD_OP_MSIX_NEW ||
             it->op == INTC_RECORD_OP_MSI_NEW) && it->ret == 0)
            c->late_devices = true;
        if (it->op == INTC_RECORD_OP_MSIX_NEW && it->ret == 0)
            ok = add_device(c, true, (uint32_t)it->out, (uint16_t)it->a0,
                            false, false, (uint16_t)it->a1);
        else if (it->op == INTC_RECORD_OP_MSI_NEW && it->ret == 0)
            ok = add_device(c, false, (uint32_t)it->out, (uint16_t)it->a0,
                            it->a1 & 1, it->a1 >> 1 & 1, (uint16_t)it->a2);
    }
    return ok ? INTC_OK : conv_fail(c, INTC_ERR_NOMEM, "out of memory");
}

/* Whether the recorded image is a fresh machine's (then no load). */
static bool image_is_fresh(const kit_conv *c)
{
    intc_err e = INTC_OK;
    intc_machine *m = intc_machine_new(&c->cfg, NULL, NULL, &e);
    uint8_t *img = NULL;
    size_t len = 0;
    bool same = false;

    for (size_t i = 0; m && i < c->n_devs; i++) {
        const kit_device *d = &c->devs[i];
        void *dev = d->msix ? (void *)intc_msix_new(m, d->vectors,
                                                    d->source_id, &e)
                            : (void *)intc_msi_new(m, d->log2, d->addr64,
                                                   d->mask, d->source_id,
                                                   &e);
        if (!dev)
            break;
    }
    if (m)
        img = kit_save(m, &len, &e);
    same = img && len == c->image_len && memcmp(img, c->image, len) == 0;
    free(img);
    intc_machine_free(m);
    return same;
}

intc_err kit_conv_open(kit_conv *c, const uint8_t *buf, size_t len)
{
    pageset pages = {0};
    intc_record_item it;
    size_t pos = 0;
    intc_err e = INTC_OK;

    memset(c, 0, sizeof *c);
    do {
        size_t at = pos;
        e = intc_record_next(buf, len, &pos, &it);
        if (e != INTC_OK) {
            free(pages.p);
            return conv_fail(c, e, "offset %zu: %s", at,
                             e == INTC_ERR_VERSION
                                 ? "another recording format version"
                                 : "truncated or damaged record");
        }
        if ((at == 0) != (it.type == INTC_RECORD_CONFIG))
            e = conv_fail(c, INTC_ERR_CORRUPT, "offset %zu: the "
                          "configuration record must come first, once", at);
        else
            e = scan_item(c, &it, &pages);
    } while (e == INTC_OK && it.type != INTC_RECORD_END);
    if (e == INTC_OK && (!pages_to_regions(c, &pages) || !order_devices(c)))
        e = conv_fail(c, INTC_ERR_NOMEM, "out of memory");
    free(pages.p);
    if (e == INTC_OK && image_is_fresh(c))
        c->image = NULL;
    return e;
}

void kit_conv_fini(kit_conv *c)
{
    free(c->apic_ids);
    free(c->ioapics);
    free(c->devs);
    free(c->units);
    free(c->names);
    for (size_t i = 0; i < c->n_mem; i++)
        free(c->mem[i].mem);
    free(c->mem);
    memset(c, 0, sizeof *c);
}

/* ---- pass 2: the operations ---- */

typedef struct conv_run {
    kit_conv *c;
    const kit_conv_out *out;
    uint64_t now;
    bool clock_read; /* the current call read the clock already */
} conv_run;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void note(conv_run *r, const char *fmt, ...)
{
    char buf[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->c->n_inexact++;
    if (r->out->note)
        r->out->note(r->out->ctx, buf);
}

static void emit(conv_run *r, const kit_op *op, const char *extra)
{
    r->out->op(r->out->ctx, op, extra && *extra ? extra : NULL);
}

static kit_region *region_of(kit_conv *c, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < c->n_mem; i++) {
        kit_region *g = &c->mem[i];
        if (addr >= g->addr && addr - g->addr < g->size &&
            len <= g->size - (addr - g->addr))
            return g;
    }
    return NULL;
}

static void on_clock(conv_run *r, const intc_record_item *it)
{
    if (it->value > r->now) {
        kit_op op = {.kind = KIT_OP_ADVANCE, .value = it->value - r->now};
        emit(r, &op, NULL);
        r->now = it->value;
    } else if (it->value < r->now) {
        note(r, "cpu %" PRIu32 " read the clock at %" PRIu64 " ns, after "
                "%" PRIu64 " ns was read (per-CPU clocks): not expressible",
             it->cpu, it->value, r->now);
    }
}

/* Guest memory read: a memory_write first where it differs from what
   the converted run's memory holds; written: remember it. */
static intc_err on_dma(conv_run *r, const intc_record_item *it)
{
    kit_region *g;
    uint8_t *p;

    if (!it->ok) {
        if (region_of(r->c, it->addr, it->len ? it->len : 1))
            note(r, "a failed guest-memory access at 0x%" PRIx64 " where "
                    "other accesses succeeded: the scenario's succeeds",
                 it->addr);
        return INTC_OK;
    }
    if (!it->data)
        return INTC_OK;
    g = region_of(r->c, it->addr, it->len);
    if (!g) /* the scan covered every successful access */
        return INTC_ERR_CORRUPT;
    if (!g->mem && !(g->mem = calloc(1, (size_t)g->size)))
        return INTC_ERR_NOMEM;
    p = g->mem + (it->addr - g->addr);
    if (it->type == INTC_RECORD_DMA_READ && memcmp(p, it->data, it->len)) {
        kit_op op = {.kind = KIT_OP_MEMORY_WRITE, .addr = it->addr,
                     .bytes = it->data, .n_bytes = it->len};
        op.size = it->len % 8 == 0 ? 8 : it->len % 4 == 0 ? 4 : 1;
        emit(r, &op, NULL);
    }
    memcpy(p, it->data, it->len);
    return INTC_OK;
}

/* Posted vectors the call folded: posted again just before it. */
static void on_fold(conv_run *r, const intc_record_item *it)
{
    for (unsigned v = 0; v < 256; v++) {
        kit_op op = {.kind = KIT_OP_POST, .cpu = it->cpu, .value2 = v};
        if (!(it->pir[v / 64] >> (v % 64) & 1))
            continue;
        op.value = it->level[v / 64] >> (v % 64) & 1;
        emit(r, &op, NULL);
    }
}

/* ---- calls ---- */

#define NO 0xffu  /* operand not used */
#define DEV 0xfeu /* a device unit: the device's index, in unit */
#define SKIP 0xffu

/* Each recorded op: the kit op and where obj, a0, a1, a2 go (kit_slot,
   DEV or NO).  kind SKIP: nothing to emit (device creation, declared in
   the machine) or handled by hand. */
static const struct call_map {
    uint8_t kind, obj, a[3];
} call_maps[] = {
#define M(op, kind, obj, a0, a1, a2)                                        \
    [INTC_RECORD_OP_##op] = {KIT_OP_##kind, obj, {a0, a1, a2}}
    M(LAPIC_MMIO_READ, MMIO_READ, KIT_S_CPU, KIT_S_ADDR, KIT_S_SIZE, NO),
    M(LAPIC_MMIO_WRITE, MMIO_WRITE, KIT_S_CPU, KIT_S_ADDR, KIT_S_SIZE, KIT_S_VALUE),
    M(LAPIC_MSR_READ, RDMSR, KIT_S_CPU, KIT_S_INDEX, NO, NO),
    M(LAPIC_MSR_WRITE, WRMSR, KIT_S_CPU, KIT_S_INDEX, KIT_S_VALUE, NO),
    M(LAPIC_ACK, ACK, KIT_S_CPU, NO, NO, NO),
    M(LAPIC_TAKE, TAKE, KIT_S_CPU, KIT_S_INDEX, NO, NO),
    M(LAPIC_SET_TPR, TPR, KIT_S_CPU, KIT_S_VALUE, NO, NO),
    M(LAPIC_SET_LINT, LINT, KIT_S_CPU, KIT_S_INDEX, KIT_S_VALUE, NO),
    M(LAPIC_RAISE_LVT, RAISE_LVT, KIT_S_CPU, KIT_S_INDEX, NO, NO),
    M(LAPIC_TIMER_EXPIRED, TIMER_EXPIRED, KIT_S_UNIT, KIT_S_VALUE, NO, NO),
    M(LAPIC_SET_TSC_OFFSET, TSC_OFFSET, KIT_S_CPU, KIT_S_VALUE, NO, NO),
    M(LAPIC_RESET, LAPIC_RESET, KIT_S_CPU, KIT_S_INDEX, NO, NO),
    M(LAPIC_SYNC_PIR, SYNC_PIR, KIT_S_CPU, NO, NO, NO),
    M(IOAPIC_MMIO_READ, IOAPIC_MMIO_READ, KIT_S_UNIT, KIT_S_ADDR, KIT_S_SIZE, NO),
    M(IOAPIC_MMIO_WRITE, IOAPIC_MMIO_WRITE, KIT_S_UNIT, KIT_S_ADDR, KIT_S_SIZE, KIT_S_VALUE),
    M(IOAPIC_SET_IRQ, IRQ, KIT_S_UNIT, KIT_S_INDEX, KIT_S_SOURCE, KIT_S_VALUE),
    M(IOAPIC_TIMER_EXPIRED, TIMER_EXPIRED, KIT_S_UNIT, KIT_S_VALUE, NO, NO),
    M(MSI_SEND, MSI, NO, KIT_S_ADDR, KIT_S_VALUE, KIT_S_SOURCE),
    M(MSIX_TABLE_READ, MSIX_TABLE_READ, DEV, KIT_S_ADDR, KIT_S_SIZE, NO),
    M(MSIX_TABLE_WRITE, MSIX_TABLE_WRITE, DEV, KIT_S_ADDR, KIT_S_SIZE, KIT_S_VALUE),
    M(MSIX_SET_CONTROL, MSIX_CONTROL, DEV, KIT_S_VALUE, KIT_S_VALUE2, NO),
    M(MSIX_NOTIFY, MSIX_NOTIFY, DEV, KIT_S_INDEX, NO, NO),
    M(MSIX_RESET, DEVICE_RESET, DEV, NO, NO, NO),
    M(MSI_CONFIG_WRITE, MSI_CONFIG, DEV, KIT_S_ADDR, KIT_S_SIZE, KIT_S_VALUE),
    M(MSI_NOTIFY, MSI_NOTIFY, DEV, KIT_S_INDEX, NO, NO),
    M(MSI_RESET, DEVICE_RESET, DEV, NO, NO, NO),
    M(IOMMU_MMIO_READ, IOMMU_READ, NO, KIT_S_ADDR, KIT_S_SIZE, NO),
    M(IOMMU_MMIO_WRITE, IOMMU_WRITE, NO, KIT_S_ADDR, KIT_S_SIZE, KIT_S_VALUE),
    M(IOMMU_REMAP, REMAP, NO, KIT_S_SOURCE, KIT_S_ADDR, KIT_S_VALUE),
    M(IRQ_DELIVER, IRQ_DELIVER, NO, NO, NO, NO),
    M(IOMMU_SET_TABLE, IOMMU_TABLE, NO, KIT_S_ADDR, KIT_S_VALUE, KIT_S_VALUE2),
    M(IOMMU_INVALIDATE, IOMMU_INVALIDATE, NO, KIT_S_INDEX, KIT_S_SIZE, NO),
    M(MACHINE_RESET, RESET, NO, NO, NO, NO),
    M(MACHINE_SAVE, SNAPSHOT, NO, NO, NO, NO),
    M(MACHINE_LOAD, LOAD, NO, NO, NO, NO),
#undef M
    [INTC_RECORD_OP_MSIX_NEW] = {SKIP, NO, {NO, NO, NO}},
    [INTC_RECORD_OP_MSIX_FREE] = {SKIP, NO, {NO, NO, NO}},
    [INTC_RECORD_OP_MSI_NEW] = {SKIP, NO, {NO, NO, NO}},
    [INTC_RECORD_OP_MSI_FREE] = {SKIP, NO, {NO, NO, NO}},
};

static bool dev_index(const kit_conv *c, uint32_t unit, uint32_t *idx)
{
    for (size_t i = 0; i < c->n_devs; i++)
        if (c->units[i] == unit) {
            *idx = (uint32_t)i;
            return true;
        }
    return false;
}

/* The variable parts: the PIR of sync_pir, the image of load, the
   intc_irq of irq_deliver (docs/recording.md). */
static bool call_data(kit_op *op, const intc_record_item *it)
{
    if (it->op == INTC_RECORD_OP_LAPIC_SYNC_PIR && it->a0) {
        if (it->data_len != 32)
            return false;
        op->bytes = it->data;
        op->n_bytes = 32;
    } else if (it->op == INTC_RECORD_OP_IRQ_DELIVER &&
               (it->data_len != 16 || (it->data[14] & 3))) {
        /* a blocked or posted intc_irq: the call delivered nothing */
        return false;
    } else if (it->op == INTC_RECORD_OP_MACHINE_LOAD) {
        op->bytes = it->data;
        op->n_bytes = it->data_len;
    } else if (it->op == INTC_RECORD_OP_IRQ_DELIVER && it->data_len >= 16) {
        const uint8_t *b = it->data;
        uint8_t fl = b[14];
        op->value = (uint64_t)b[8] | (uint64_t)b[9] << 8 |
                    (uint64_t)b[10] << 16 | (uint64_t)b[11] << 24;
        op->value2 = b[12];
        op->index = b[13];
        op->flags = (uint16_t)((fl >> 3 & 1 ? KIT_IRQ_LOGICAL : 0) |
                               (fl >> 4 & 1 ? KIT_IRQ_LEVEL : 0) |
                               (fl >> 5 & 1 ? KIT_IRQ_RH : 0) |
                               (fl >> 6 & 1 ? KIT_IRQ_X2APIC : 0));
    }
    return true;
}

/* The recorded call as an op; false when it has none. */
static bool call_op(conv_run *r, const intc_record_item *it, kit_op *op)
{
    const struct call_map *cm;
    uint64_t a[3] = {it->a0, it->a1, it->a2};
    uint32_t dev = 0;

    if (it->op >= sizeof call_maps / sizeof call_maps[0])
        return false;
    cm = &call_maps[it->op];
    if (cm->kind == SKIP || (cm->kind == 0 && cm->obj == 0))
        return false;
    memset(op, 0, sizeof *op);
    op->kind = cm->kind;
    if (cm->obj == DEV) {
        if (!dev_index(r->c, it->obj, &dev))
            return false;
        op->unit = dev;
    } else if (cm->obj != NO) {
        kit_op_set(op, cm->obj, it->obj);
    }
    for (unsigned i = 0; i < 3; i++)
        if (cm->a[i] != NO)
            kit_op_set(op, cm->a[i], a[i]);
    if (it->op == INTC_RECORD_OP_IOAPIC_TIMER_EXPIRED)
        op->flags |= KIT_TIMER_IOAPIC;
    return call_data(op, it);
}

/* What the step must see, from the recorded result (docs/scenario.md's
   expect, expect_error, ack: V, take's expect and vector). */
static void call_extra(conv_run *r, const intc_record_item *it,
                       const kit_op *op, char *x, size_t n)
{
    uint8_t res = kit_op_table[op->kind].results;

    x[0] = 0;
    if (op->kind == KIT_OP_ACK) {
        if (it->ret < 0)
            snprintf(x, n, "none");
        else if (it->ret > 255)
            snprintf(x, n, "spurious");
        else
            snprintf(x, n, "0x%02x", (unsigned)it->ret);
    } else if (op->kind == KIT_OP_TAKE) {
        if (it->ret == 0)
            snprintf(x, n, ", expect: false");
        else if (it->ret == 1 && op->index == INTC_PEND_SIPI)
            snprintf(x, n, ", vector: 0x%02x", (unsigned)(it->out & 0xff));
    } else if (it->ret == INTC_OK && (res & KIT_RES_VALUE) &&
               op->kind != KIT_OP_POST) {
        snprintf(x, n, ", expect: 0x%" PRIx64, it->out);
    } else if (it->ret != INTC_OK && (res & KIT_RES_ERR)) {
        const char *w = kit_err_word(it->ret);
        if (w)
            snprintf(x, n, ", expect_error: %s", w);
        else
            note(r, "%s returned %s: a scenario cannot expect it",
                 intc_record_op_name(it->op), intc_err_name(it->ret));
    } else if (it->ret < 0 && it->op != INTC_RECORD_OP_MACHINE_SAVE &&
               !(op->kind == KIT_OP_MSI && it->ret == INTC_ERR_NOT_DECODED)) {
        /* (a save's NOSPC is a size query: it folded all the same) */
        note(r, "%s returned %s: the step fails on it",
             intc_record_op_name(it->op), intc_err_name(it->ret));
    }
}

static void on_call(conv_run *r, const intc_record_item *it)
{
    kit_op op;
    char extra[64];

    if (it->op == INTC_RECORD_OP_MSIX_FREE ||
        it->op == INTC_RECORD_OP_MSI_FREE) {
        note(r, "%s of dev%" PRIu32 ": not expressible (the device stays)",
             intc_record_op_name(it->op), it->obj);
        return;
    }
    if (it->op == INTC_RECORD_OP_IRQ_DELIVER && it->data_len == 16 &&
        (it->data[14] & 3))
        return; /* blocked or posted: the call delivered nothing */
    if (!call_op(r, it, &op)) {
        if (it->op != INTC_RECORD_OP_MSIX_NEW &&
            it->op != INTC_RECORD_OP_MSI_NEW)
            note(r, "%s: not expressible", intc_record_op_name(it->op));
        return;
    }
    call_extra(r, it, &op, extra, sizeof extra);
    emit(r, &op, extra);
}

/* What holds for the whole conversion, said first. */
static void start_notes(conv_run *r)
{
    const kit_conv *c = r->c;

    if (c->late_devices)
        note(r, "devices created while recording are declared up front");
    if (c->units_differ)
        note(r, "the recorded device units are not the scenario's (MSI-X "
                "first, then MSI, from 0): images and events name others");
    if (c->host_ops & (1u << 7 | 1u << 9))
        note(r, "the recorded host had eoi() or apic_base_changed(); "
                "intc-sim's host has neither (resample events differ)");
}

intc_err kit_conv_run(kit_conv *c, const uint8_t *buf, size_t len,
                      const kit_conv_out *out)
{
    conv_run r = {.c = c, .out = out};
    intc_record_item it;
    size_t pos = 0;
    intc_err e = INTC_OK;

    start_notes(&r);
    if (c->image) {
        kit_op op = {.kind = KIT_OP_LOAD, .bytes = c->image,
                     .n_bytes = c->image_len};
        emit(&r, &op, NULL);
    }
    for (;;) {
        size_t at = pos;
        if (intc_record_next(buf, len, &pos, &it) != INTC_OK)
            return conv_fail(c, INTC_ERR_CORRUPT, "offset %zu: truncated "
                             "or damaged record", at);
        if (it.type == INTC_RECORD_END)
            return INTC_OK;
        if (it.type == INTC_RECORD_CLOCK)
            on_clock(&r, &it);
        else if (it.type == INTC_RECORD_FOLD)
            on_fold(&r, &it);
        else if (it.type == INTC_RECORD_CALL)
            on_call(&r, &it);
        else if (it.type == INTC_RECORD_DMA_READ ||
                 it.type == INTC_RECORD_DMA_WRITE)
            e = on_dma(&r, &it);
        if (e != INTC_OK)
            return conv_fail(c, e, "offset %zu: %s", at,
                             e == INTC_ERR_NOMEM ? "out of memory"
                                                 : "inconsistent record");
    }
}

/* ---- as a scenario ---- */

typedef struct yaml_out {
    FILE *f;
    const kit_conv *c;
    kit_names names;
} yaml_out;

static void yaml_op(void *ctx, const kit_op *op, const char *extra)
{
    yaml_out *y = ctx;

    fputs("  - ", y->f);
    kit_op_yaml(y->f, op, &y->names, extra);
    fputc('\n', y->f);
}

static void yaml_note(void *ctx, const char *text)
{
    fprintf(((yaml_out *)ctx)->f, "  # inexact: %s\n", text);
}

intc_err kit_conv_yaml(FILE *f, const uint8_t *buf, size_t len,
                       const char *title, kit_conv *c)
{
    static const char *const snaps[] = {"saved"};
    const char **devn = NULL;
    yaml_out y = {.f = f};
    kit_conv_out out = {.ctx = &y, .op = yaml_op, .note = yaml_note};
    intc_err e = kit_conv_open(c, buf, len);

    if (e == INTC_OK && c->n_devs &&
        !(devn = malloc(c->n_devs * sizeof *devn)))
        e = conv_fail(c, INTC_ERR_NOMEM, "out of memory");
    if (e != INTC_OK)
        return e;
    for (size_t i = 0; i < c->n_devs; i++)
        devn[i] = c->names[i];
    y.c = c;
    y.names = (kit_names){devn, snaps};
    fprintf(f, "# Converted from a libintc recording (docs/recording.md): "
               "%" PRIu64 " calls.\nname: \"%s\"\nhost: {timers: manual}\n",
            c->n_calls, title);
    kit_machine_yaml(f, &c->cfg, c->devs, c->n_devs, c->mem, c->n_mem);
    fputs("steps:\n  - advance: 0\n", f);
    e = kit_conv_run(c, buf, len, &out);
    free(devn);
    return e;
}
