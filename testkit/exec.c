/*
 * testkit — the executor (op.h): one kit_op on a kit_rig.  It performs
 * the operation the way a guest and a host would (the register path of
 * the CPU's current APIC mode, the kit's clock and timer order) and
 * reports what came back; it judges nothing.
 */
#include "op.h"

#include <stdlib.h>
#include <string.h>

/* ---- the rig ---- */

intc_err kit_rig_init(kit_rig *r, kit_host *h, const intc_machine_config *cfg,
                      const kit_device *devs, size_t n_dev, size_t n_snaps,
                      size_t *bad_dev)
{
    intc_err e = INTC_OK;

    memset(r, 0, sizeof *r);
    r->h = h;
    r->devs = devs;
    r->max_runlog = 1024;
    if (bad_dev)
        *bad_dev = n_dev;
    r->dev = calloc(n_dev ? n_dev : 1, sizeof *r->dev);
    r->snaps = calloc(n_snaps ? n_snaps : 1, sizeof *r->snaps);
    if (!r->dev || !r->snaps)
        return INTC_ERR_NOMEM;
    r->n_snaps = n_snaps;
    r->m = kit_machine(h, cfg, &e);
    if (!r->m)
        return e;
    r->n_cpus = intc_machine_cpu_count(r->m);
    while (intc_machine_ioapic(r->m, r->n_ioapics))
        r->n_ioapics++;
    for (size_t i = 0; i < n_dev; i++, r->n_dev++) {
        const kit_device *d = &devs[i];
        r->dev[i] = d->msix
                        ? (void *)intc_msix_new(r->m, d->vectors,
                                                d->source_id, &e)
                        : (void *)intc_msi_new(r->m, d->log2, d->addr64,
                                               d->mask, d->source_id, &e);
        if (!r->dev[i]) {
            if (bad_dev)
                *bad_dev = i;
            return e;
        }
    }
    return INTC_OK;
}

void kit_rig_fini(kit_rig *r)
{
    intc_machine_free(r->m); /* frees the MSI-X and MSI devices too */
    if (r->h && r->h->m == r->m)
        r->h->m = NULL;
    r->m = NULL;
    for (size_t i = 0; r->snaps && i < r->n_snaps; i++)
        free(r->snaps[i].img);
    free(r->snaps);
    free(r->dev);
    r->snaps = NULL;
    r->dev = NULL;
}

void kit_result_free(kit_result *res)
{
    free(res->runlog);
    res->runlog = NULL;
    res->cap_runlog = res->n_runlog = 0;
}

/* ---- registers in the CPU's current mode ---- */

bool kit_lapic_x2(intc_lapic *l)
{
    uint64_t base = 0;

    if (intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base) != INTC_OK)
        return false;
    return (base & INTC_APIC_BASE_EN) && (base & INTC_APIC_BASE_EXTD);
}

static uint32_t x2_msr(uint32_t reg)
{
    return reg == KIT_REG_ICR64 ? 0x830u : 0x800u + (reg >> 4);
}

intc_err kit_lapic_read(intc_lapic *l, uint32_t reg, uint64_t *val)
{
    intc_err e;
    uint64_t lo = 0, hi = 0;

    *val = 0;
    if (kit_lapic_x2(l))
        return intc_lapic_msr_read(l, x2_msr(reg), val);
    if (reg != KIT_REG_ICR64)
        return intc_lapic_mmio_read(l, reg, 4, val);
    e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_LO, 4, &lo);
    if (e == INTC_OK)
        e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_HI, 4, &hi);
    *val = hi << 32 | (lo & 0xffffffffu);
    return e;
}

intc_err kit_lapic_write(intc_lapic *l, uint32_t reg, uint64_t val)
{
    intc_err e;

    if (kit_lapic_x2(l))
        return intc_lapic_msr_write(l, x2_msr(reg), val);
    if (reg != KIT_REG_ICR64)
        return intc_lapic_mmio_write(l, reg, 4, val & 0xffffffffu);
    e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4, val >> 32);
    if (e == INTC_OK)
        e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4,
                                  val & 0xffffffffu);
    return e;
}

/* ---- run: a CPU behaving as a minimal OS ---- */

static void runlog(kit_rig *r, kit_result *res, kit_runrec rec)
{
    if (res->n_runlog < res->cap_runlog) {
        res->runlog[res->n_runlog++] = rec;
        return;
    }
    if (res->n_runlog < r->max_runlog) {
        size_t ncap = res->cap_runlog ? 2 * res->cap_runlog : 64;
        kit_runrec *n;
        if (ncap > r->max_runlog)
            ncap = r->max_runlog;
        n = realloc(res->runlog, ncap * sizeof *n);
        if (n) {
            res->runlog = n;
            res->cap_runlog = ncap;
            res->runlog[res->n_runlog++] = rec;
            return;
        }
    }
    res->n_runlog++;
}

/* One signal taken, if any is pending (INIT, SIPI, SMI, NMI, ExtINT;
   ExtINT once per turn). */
static bool run_take(kit_rig *r, kit_result *res, uint32_t cpu, unsigned p,
                     bool *extint_taken)
{
    static const unsigned order[] = {INTC_PEND_INIT, INTC_PEND_SIPI,
                                     INTC_PEND_SMI, INTC_PEND_NMI,
                                     INTC_PEND_EXTINT};
    intc_lapic *l = intc_machine_lapic(r->m, cpu);

    for (unsigned i = 0; i < 5; i++) {
        uint8_t sv = 0;
        if (!(p & order[i]) ||
            (order[i] == INTC_PEND_EXTINT && *extint_taken))
            continue;
        if (intc_lapic_take(l, order[i], &sv) == 1) {
            runlog(r, res, (kit_runrec){cpu, KIT_RR_TAKE, sv,
                                        (int16_t)order[i]});
            *extint_taken |= order[i] == INTC_PEND_EXTINT;
            return true;
        }
    }
    return false;
}

static void run_cpu(kit_rig *r, kit_result *res, uint32_t cpu)
{
    intc_lapic *l = intc_machine_lapic(r->m, cpu);
    unsigned acks = 0, takes = 0;
    bool extint_taken = false;

    runlog(r, res, (kit_runrec){cpu, KIT_RR_CPU, 0, 0});
    while (acks < 256 && takes < 16) {
        unsigned p = intc_lapic_pending(l);
        int v;
        intc_err e;

        if (run_take(r, res, cpu, p, &extint_taken)) {
            takes++;
            continue;
        }
        if (!(p & INTC_PEND_INTR))
            break;
        v = intc_lapic_ack(l);
        acks++;
        runlog(r, res, (kit_runrec){cpu, KIT_RR_ACK, 0, (int16_t)v});
        if (v < 0 || v > 255)
            break;
        e = kit_lapic_write(l, INTC_LAPIC_EOI, 0);
        runlog(r, res, (kit_runrec){cpu, KIT_RR_EOI, 0, (int16_t)e});
        if (e != INTC_OK) {
            if (res->err == INTC_OK)
                res->err = e;
            break;
        }
    }
}

static void exec_run(kit_rig *r, const kit_op *op, kit_result *res)
{
    if (!(op->flags & KIT_RUN_ALL)) {
        run_cpu(r, res, op->cpu);
        return;
    }
    for (unsigned pass = 0; pass < 4; pass++) {
        bool any = false;
        for (uint32_t c = 0; c < r->n_cpus; c++) {
            if (!intc_lapic_pending(intc_machine_lapic(r->m, c)))
                continue;
            any = true;
            run_cpu(r, res, c);
        }
        if (!any)
            break;
    }
}

/* ---- the groups of operations ---- */

/*
 * now + d, stopping short of UINT64_MAX - 1: libintc arms a timer whose
 * expiry lies beyond the clock at UINT64_MAX - 1 ("saturated", never due,
 * lapic_timer.c), so a clock that reached it would fire that timer for
 * ever.  intc-sim refuses such an advance outright ("virtual time
 * overflows"); the fuzzers' raw operations may ask for one.
 */
static uint64_t later(uint64_t now, uint64_t d)
{
    if (now >= UINT64_MAX - 2)
        return now;
    return d > UINT64_MAX - 2 - now ? UINT64_MAX - 2 : now + d;
}

static uint64_t icr_low(const kit_op *op)
{
    return (op->value2 & 0xff) | (uint64_t)(op->index & 7) << 8 |
           ((op->flags & KIT_IPI_LOGICAL) ? 1u << 11 : 0) |
           ((op->flags & KIT_IPI_DEASSERT) ? 0 : 1u << 14) |
           ((op->flags & KIT_IPI_LEVEL) ? 1u << 15 : 0) |
           (uint64_t)(op->size & 3) << 18;
}

/* Compose the ICR and write it: high then low in xAPIC, the 64-bit MSR
   in x2APIC (or the SELF IPI register, KIT_IPI_SELF_REG). */
static intc_err exec_ipi(intc_lapic *l, const kit_op *op, kit_result *res)
{
    uint64_t lo = icr_low(op);
    intc_err e;

    res->x2 = kit_lapic_x2(l);
    if (res->x2 && (op->flags & KIT_IPI_SELF_REG))
        return intc_lapic_msr_write(l, 0x83f, op->value2 & 0xff);
    if (res->x2) {
        res->icr = op->value << 32 | lo;
        return intc_lapic_msr_write(l, 0x830, res->icr);
    }
    res->icr = (op->value & 0xff) << 56 | lo;
    if (op->value > 0xff && op->size == 0) {
        res->skipped = true; /* does not fit the 8-bit xAPIC field */
        return INTC_OK;
    }
    e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4,
                              op->size ? 0 : op->value << 24);
    if (e == INTC_OK)
        e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4, lo);
    return e;
}

static intc_err exec_lapic(kit_rig *r, const kit_op *op, kit_result *res)
{
    intc_lapic *l = intc_machine_lapic(r->m, op->cpu);

    switch (op->kind) {
    case KIT_OP_WRITE:
        res->x2 = kit_lapic_x2(l);
        return kit_lapic_write(l, op->index, op->value);
    case KIT_OP_READ:
        return kit_lapic_read(l, op->index, &res->value);
    case KIT_OP_MMIO_WRITE:
        return intc_lapic_mmio_write(l, (uint32_t)op->addr, op->size,
                                     op->value);
    case KIT_OP_MMIO_READ:
        return intc_lapic_mmio_read(l, (uint32_t)op->addr, op->size,
                                    &res->value);
    case KIT_OP_WRMSR:
        return intc_lapic_msr_write(l, op->index, op->value);
    case KIT_OP_RDMSR:
        return intc_lapic_msr_read(l, op->index, &res->value);
    case KIT_OP_IPI:
        return exec_ipi(l, op, res);
    case KIT_OP_TPR:
        return intc_lapic_set_tpr(l, (uint8_t)op->value);
    case KIT_OP_LINT:
        return intc_lapic_set_lint(l, op->index, op->value != 0);
    case KIT_OP_ACK:
        res->ack = intc_lapic_ack(l);
        return INTC_OK;
    case KIT_OP_EOI:
        res->x2 = kit_lapic_x2(l);
        return kit_lapic_write(l, INTC_LAPIC_EOI, 0);
    case KIT_OP_TAKE:
        res->take = intc_lapic_take(l, op->index, &res->sipi);
        return res->take < 0 ? (intc_err)res->take : INTC_OK;
    case KIT_OP_RAISE_LVT:
        return intc_lapic_raise_lvt(l, op->index);
    default:
        return INTC_ERR_INVAL;
    }
}

static intc_err ioapic_sel_write(intc_ioapic *io, uint32_t sel, uint64_t v)
{
    intc_err e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, sel);

    return e ? e : intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, v);
}

static intc_err exec_ioapic(kit_rig *r, const kit_op *op, kit_result *res)
{
    intc_ioapic *io = intc_machine_ioapic(r->m, op->unit);
    uint32_t sel = 0x10 + 2 * op->index;
    intc_err e;

    switch (op->kind) {
    case KIT_OP_IOAPIC_RTE: /* high dword then low */
        e = ioapic_sel_write(io, sel + 1, op->value >> 32);
        return e ? e : ioapic_sel_write(io, sel, op->value & 0xffffffffu);
    case KIT_OP_IOAPIC_REG:
        return ioapic_sel_write(io, op->index, op->value);
    case KIT_OP_IOAPIC_EOI:
        return intc_ioapic_mmio_write(io, INTC_IOAPIC_EOI, 4, op->value);
    case KIT_OP_IRQ:
        return intc_ioapic_set_irq_source(io, op->index, op->source,
                                          op->value != 0);
    case KIT_OP_GSI:
        return intc_machine_set_gsi(r->m, op->index, op->value != 0);
    case KIT_OP_IOAPIC_MMIO_WRITE:
        return intc_ioapic_mmio_write(io, (uint32_t)op->addr, op->size,
                                      op->value);
    case KIT_OP_IOAPIC_MMIO_READ:
        return intc_ioapic_mmio_read(io, (uint32_t)op->addr, op->size,
                                     &res->value);
    default:
        return INTC_ERR_INVAL;
    }
}

static intc_err msix_table_entry(intc_msix *x, const kit_op *op)
{
    uint32_t o = 16 * op->index;
    intc_err e = INTC_OK;

    if (op->flags & KIT_TF_ADDR) {
        e = intc_msix_table_write(x, o, 4, op->addr & 0xffffffffu);
        if (!e)
            e = intc_msix_table_write(x, o + 4, 4, op->addr >> 32);
    }
    if (!e && (op->flags & KIT_TF_DATA))
        e = intc_msix_table_write(x, o + 8, 4, op->value);
    if (!e && (op->flags & KIT_TF_MASKED))
        e = intc_msix_table_write(x, o + 12, 4, op->value2 ? 1 : 0);
    return e;
}

static intc_err exec_device(kit_rig *r, const kit_op *op, kit_result *res)
{
    void *d = op->unit < r->n_dev ? r->dev[op->unit] : NULL;
    uint32_t v32 = 0;
    intc_err e;

    switch (op->kind) {
    case KIT_OP_MSIX_TABLE:
        return msix_table_entry(d, op);
    case KIT_OP_MSIX_CONTROL:
        return intc_msix_set_control(d, op->value != 0, op->value2 != 0);
    case KIT_OP_MSIX_NOTIFY:
        return intc_msix_notify(d, (uint16_t)op->index, &res->dlv);
    case KIT_OP_MSI_CONFIG:
        return intc_msi_config_write(d, (uint32_t)op->addr, op->size,
                                     (uint32_t)op->value);
    case KIT_OP_MSI_NOTIFY:
        return intc_msi_notify(d, op->index, &res->dlv);
    case KIT_OP_MSIX_TABLE_WRITE:
        return intc_msix_table_write(d, (uint32_t)op->addr, op->size,
                                     op->value);
    case KIT_OP_MSIX_TABLE_READ:
        return intc_msix_table_read(d, (uint32_t)op->addr, op->size,
                                    &res->value);
    case KIT_OP_MSIX_PBA_READ:
        return intc_msix_pba_read(d, (uint32_t)op->addr, op->size,
                                  &res->value);
    case KIT_OP_MSI_CONFIG_READ:
        e = intc_msi_config_read(d, (uint32_t)op->addr, op->size, &v32);
        res->value = v32;
        return e;
    case KIT_OP_DEVICE_RESET:
        return r->devs[op->unit].msix ? intc_msix_reset(d)
                                      : intc_msi_reset(d);
    default:
        return INTC_ERR_INVAL;
    }
}

static intc_err exec_iommu(kit_rig *r, const kit_op *op, kit_result *res)
{
    intc_iommu *u = intc_machine_iommu(r->m);
    intc_irq irq;

    switch (op->kind) {
    case KIT_OP_IOMMU_WRITE:
        return intc_iommu_mmio_write(u, (uint32_t)op->addr, op->size,
                                     op->value);
    case KIT_OP_IOMMU_READ:
        return intc_iommu_mmio_read(u, (uint32_t)op->addr, op->size,
                                    &res->value);
    case KIT_OP_IOMMU_TABLE:
        return intc_iommu_set_table(u, op->addr, op->value != 0,
                                    op->value2 != 0);
    case KIT_OP_IOMMU_INVALIDATE:
        return intc_iommu_invalidate(u, op->index, op->size);
    case KIT_OP_REMAP:
        return intc_iommu_remap(u, (uint16_t)op->source, op->addr,
                                (uint32_t)op->value, &res->irq);
    case KIT_OP_IRQ_DELIVER:
        memset(&irq, 0, sizeof irq);
        irq.dest = (uint32_t)op->value;
        irq.vector = (uint8_t)op->value2;
        irq.dm = (uint8_t)(op->index & 7);
        irq.logical = op->flags & KIT_IRQ_LOGICAL;
        irq.level = op->flags & KIT_IRQ_LEVEL;
        irq.rh = op->flags & KIT_IRQ_RH;
        irq.x2apic = op->flags & KIT_IRQ_X2APIC;
        return intc_irq_deliver(r->m, &irq, &res->dlv);
    default:
        return INTC_ERR_INVAL;
    }
}

static intc_err exec_snapshot(kit_rig *r, const kit_op *op, kit_result *res)
{
    kit_snap *sn = op->unit < r->n_snaps ? &r->snaps[op->unit] : NULL;
    size_t len = 0;
    uint8_t *img;
    intc_err e;

    if (!sn)
        return INTC_ERR_INVAL;
    if (op->kind == KIT_OP_RESTORE) {
        if (!sn->valid) {
            res->skipped = true;
            return INTC_OK;
        }
        return kit_load(r->h, sn->img, sn->len);
    }
    img = kit_save(r->m, &len, &e);
    if (!img)
        return e;
    free(sn->img);
    sn->img = img;
    sn->len = len;
    sn->valid = true;
    return INTC_OK;
}

static intc_err exec_memory(kit_rig *r, const kit_op *op, kit_result *res)
{
    uint8_t *p = kit_mem(r->h, op->addr, op->n_bytes);

    if (!p)
        return INTC_ERR_INVAL;
    if (op->kind == KIT_OP_MEMORY_WRITE)
        memcpy(p, op->bytes, op->n_bytes);
    else
        res->mem = p;
    return INTC_OK;
}

static intc_err exec_time(kit_rig *r, const kit_op *op, kit_result *res)
{
    kit_host *h = r->h;
    intc_lapic *l = intc_machine_lapic(r->m, op->cpu);

    switch (op->kind) {
    case KIT_OP_ADVANCE:
    case KIT_OP_BLOCK:
        res->fires = kit_advance_to(h, later(h->now, op->value));
        if (op->kind == KIT_OP_BLOCK)
            res->pending = intc_lapic_pending(l);
        return INTC_OK;
    case KIT_OP_TIMER_EXPIRED:
        kit_timer_expired(h, op->flags & KIT_TIMER_IOAPIC, op->unit,
                          op->value);
        return INTC_OK;
    case KIT_OP_TSC_OFFSET:
        return intc_lapic_set_tsc_offset(l, op->value);
    default:
        return INTC_ERR_INVAL;
    }
}

static intc_err exec_machine(kit_rig *r, const kit_op *op, kit_result *res)
{
    intc_lapic *l = intc_machine_lapic(r->m, op->cpu);
    int v;

    switch (op->kind) {
    case KIT_OP_MSI:
        return intc_msi_send(r->m, op->addr, (uint32_t)op->value,
                             (uint16_t)op->source, &res->dlv);
    case KIT_OP_RESET:
        return intc_machine_reset(r->m);
    case KIT_OP_LAPIC_RESET:
        return intc_lapic_reset(l, op->index != 0);
    case KIT_OP_LOAD:
        return kit_load(r->h, op->bytes, op->n_bytes);
    case KIT_OP_POST:
        /* The host's side of posting (lapic.h): a post that asks for a
           notification gets it at once, and the notified CPU folds
           (intc_lapic_sync_pir).  So the fold happens here, not at
           whatever query comes next: a run's events do not depend on
           who looks at the machine (the fuzz oracles do, a restored
           twin does not). */
        v = intc_lapic_post(l, (uint8_t)op->value2, op->value != 0);
        res->value = (uint64_t)(int64_t)v;
        if (v == 1)
            return intc_lapic_sync_pir(l, NULL);
        return v < 0 ? (intc_err)v : INTC_OK;
    case KIT_OP_SYNC_PIR: {
        uint64_t pir[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < op->n_bytes && i < 32; i++)
            pir[i / 8] |= (uint64_t)op->bytes[i] << (8 * (i % 8));
        return intc_lapic_sync_pir(l, op->n_bytes ? pir : NULL);
    }
    default:
        return INTC_ERR_INVAL;
    }
}

/* Which group executes a kind. */
typedef intc_err (*kit_exec_fn)(kit_rig *, const kit_op *, kit_result *);

static kit_exec_fn group(unsigned kind)
{
    switch (kind) {
    case KIT_OP_ADVANCE: case KIT_OP_BLOCK: case KIT_OP_TIMER_EXPIRED:
    case KIT_OP_TSC_OFFSET:
        return exec_time;
    case KIT_OP_IOAPIC_RTE: case KIT_OP_IOAPIC_REG: case KIT_OP_IOAPIC_EOI:
    case KIT_OP_IRQ: case KIT_OP_GSI: case KIT_OP_IOAPIC_MMIO_WRITE:
    case KIT_OP_IOAPIC_MMIO_READ:
        return exec_ioapic;
    case KIT_OP_MSIX_TABLE: case KIT_OP_MSIX_CONTROL:
    case KIT_OP_MSIX_NOTIFY: case KIT_OP_MSI_CONFIG: case KIT_OP_MSI_NOTIFY:
    case KIT_OP_MSIX_TABLE_WRITE: case KIT_OP_MSIX_TABLE_READ:
    case KIT_OP_MSIX_PBA_READ: case KIT_OP_MSI_CONFIG_READ:
    case KIT_OP_DEVICE_RESET:
        return exec_device;
    case KIT_OP_IOMMU_WRITE: case KIT_OP_IOMMU_READ: case KIT_OP_IOMMU_TABLE:
    case KIT_OP_IOMMU_INVALIDATE: case KIT_OP_REMAP: case KIT_OP_IRQ_DELIVER:
        return exec_iommu;
    case KIT_OP_MEMORY_WRITE: case KIT_OP_MEMORY_READ:
        return exec_memory;
    case KIT_OP_SNAPSHOT: case KIT_OP_RESTORE:
        return exec_snapshot;
    case KIT_OP_MSI: case KIT_OP_RESET: case KIT_OP_LAPIC_RESET:
    case KIT_OP_LOAD: case KIT_OP_POST: case KIT_OP_SYNC_PIR:
        return exec_machine;
    default:
        return exec_lapic;
    }
}

void kit_result_reset(kit_result *res)
{
    kit_runrec *keep = res->runlog;
    size_t cap = res->cap_runlog;

    memset(res, 0, sizeof *res);
    res->runlog = keep;
    res->cap_runlog = cap;
    res->ack = -1;
}

void kit_exec(kit_rig *r, const kit_op *op, kit_result *res)
{
    kit_result_reset(res);
    if (op->kind == KIT_OP_RUN) {
        exec_run(r, op, res);
        return;
    }
    if (op->kind < KIT_OP_COUNT_)
        res->err = group(op->kind)(r, op, res);
    else
        res->err = INTC_ERR_INVAL;
}
