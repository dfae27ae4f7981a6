/*
 * intc-sim — operation steps: the testkit executes the operation
 * (kit_exec, testkit/op.h); this file describes it for the trace and
 * checks what the step expects of the result.
 */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Check an access's result: an error the step did not expect, or the
   expected error that did not come. */
static bool check_err(strbuf *f, intc_err got, int want, const char *what)
{
    if (got == (intc_err)want)
        return true;
    if (want)
        sb_printf(f, "  %s: expected error %s got %s\n", what,
                  intc_err_name((intc_err)want), intc_err_name(got));
    else
        sb_printf(f, "  %s: error %s (%s)\n", what, intc_err_name(got),
                  intc_strerror(got));
    return false;
}

static void check_value(strbuf *f, const sim_step *st, uint64_t got,
                        const char *what)
{
    uint64_t m = (st->opt & OPT_MASK) ? st->mask : UINT64_MAX;

    if ((st->opt & OPT_EXPECT) && (got & m) != (st->expect & m)) {
        sb_printf(f, "  %s: expected 0x%" PRIx64 " got 0x%" PRIx64, what,
                  st->expect & m, got & m);
        if (st->opt & OPT_MASK)
            sb_printf(f, " (mask 0x%" PRIx64 ")", m);
        sb_printf(f, "\n");
    }
}

/* An access: the error it may expect, then the value read. */
static void check_access(strbuf *f, const sim_step *st, const kit_result *r,
                         const char *what)
{
    if (check_err(f, r->err, st->expect_error, what) &&
        (kit_op_table[st->op.kind].results & KIT_RES_VALUE) && !r->err)
        check_value(f, st, r->value, what);
}

static void result_text(strbuf *d, const kit_result *r, bool rd,
                        uint64_t written)
{
    if (r->err)
        sb_printf(d, " -> %s", intc_err_name(r->err));
    else
        sb_printf(d, " = 0x%" PRIx64, rd ? r->value : written);
}

static const char *signal_name(unsigned bit)
{
    switch (bit) {
    case INTC_PEND_NMI: return "nmi";
    case INTC_PEND_SMI: return "smi";
    case INTC_PEND_INIT: return "init";
    case INTC_PEND_SIPI: return "sipi";
    case INTC_PEND_EXTINT: return "extint";
    default: return "intr";
    }
}

static const char *dev_name(const sim_host *h, const kit_op *op)
{
    return h->s->devices[op->unit].name;
}

/* ---- registers ---- */

static void do_regs(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    const kit_op *op = &st->op;
    const kit_result *r = &h->res;
    bool rd = op->kind == KIT_OP_READ;
    char nb[16], what[64];
    const char *rn = sim_reg_name(op->index, nb, sizeof nb);

    if (rd) {
        snprintf(what, sizeof what, "cpu %" PRIu32 " reg %s", op->cpu, rn);
        sb_printf(d, "cpu %" PRIu32 " read %s", op->cpu, rn);
        result_text(d, r, true, 0);
    } else {
        snprintf(what, sizeof what, "cpu %" PRIu32 " write %s", op->cpu,
                 rn);
        sb_printf(d, "cpu %" PRIu32 " write %s = 0x%" PRIx64, op->cpu, rn,
                  op->value);
        if (r->err)
            sb_printf(d, " -> %s", intc_err_name(r->err));
    }
    check_access(f, st, r, what);
}

/* mmio_*, iommu_*, wrmsr/rdmsr and the raw accesses. */
static void do_access(sim_host *h, const sim_step *st, strbuf *d,
                      strbuf *f)
{
    const kit_op *op = &st->op;
    bool rd = kit_op_table[op->kind].results & KIT_RES_VALUE;
    const char *dir = rd ? "read" : "write";
    char what[128];

    switch (op->kind) {
    case KIT_OP_WRMSR:
    case KIT_OP_RDMSR:
        snprintf(what, sizeof what, "cpu %" PRIu32 " %s 0x%" PRIx32,
                 op->cpu, rd ? "rdmsr" : "wrmsr", op->index);
        break;
    case KIT_OP_MMIO_WRITE:
    case KIT_OP_MMIO_READ:
        snprintf(what, sizeof what,
                 "cpu %" PRIu32 " mmio %s 0x%" PRIx64 "/%" PRIu32, op->cpu,
                 dir, op->addr, op->size);
        break;
    case KIT_OP_IOMMU_WRITE:
    case KIT_OP_IOMMU_READ:
        snprintf(what, sizeof what, "iommu %s 0x%" PRIx64 "/%" PRIu32, dir,
                 op->addr, op->size);
        break;
    case KIT_OP_IOAPIC_MMIO_WRITE:
    case KIT_OP_IOAPIC_MMIO_READ:
        snprintf(what, sizeof what, "ioapic %" PRIu32 " mmio %s 0x%" PRIx64
                 "/%" PRIu32, op->unit, dir, op->addr, op->size);
        break;
    default: /* msix_table_*, msix_pba_read, msi_config_read */
        snprintf(what, sizeof what, "%s %s 0x%" PRIx64 "/%" PRIu32,
                 kit_op_name(op->kind), dev_name(h, op), op->addr,
                 op->size);
        break;
    }
    sb_printf(d, "%s", what);
    result_text(d, &h->res, rd, op->value);
    check_access(f, st, &h->res, what);
}

/* ---- the CPU ---- */

static void do_ipi(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    static const char *const modes[8] = {"fixed", "lowest", "smi", "3",
                                         "nmi",   "init",   "sipi",
                                         "extint"};
    static const char *const sh[4] = {"", " self", " all", " others"};
    const kit_op *op = &st->op;
    char what[64];

    sb_printf(d, "cpu %" PRIu32 " ipi %s vector 0x%02" PRIx64 " ->%s",
              op->cpu, modes[op->index & 7], op->value2, sh[op->size & 3]);
    if (!op->size)
        sb_printf(d, " %s 0x%" PRIx64,
                  (op->flags & KIT_IPI_LOGICAL) ? "logical" : "dest",
                  op->value);
    if (h->res.skipped) {
        sb_printf(f, "  cpu %" PRIu32 " ipi: destination 0x%" PRIx64
                     " does not fit the 8-bit xAPIC field\n", op->cpu,
                  op->value);
        return;
    }
    sb_printf(d, " (icr 0x%" PRIx64 ")", h->res.icr);
    snprintf(what, sizeof what, "cpu %" PRIu32 " ipi", op->cpu);
    check_err(f, h->res.err, 0, what);
}

static void do_ack(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    intc_lapic *l = intc_machine_lapic(h->rig.m, st->op.cpu);
    int r = h->res.ack;
    uint64_t svr = 0;
    char what[32];

    sim_lapic_read(l, INTC_LAPIC_SVR, &svr);
    /* lapic.h: 0..255 in service, INTC_ACK_SPURIOUS(v), or < 0. */
    if (r < 0)
        snprintf(what, sizeof what, "none");
    else if (r > 255)
        snprintf(what, sizeof what, "spurious 0x%02x", r & 0xff);
    else
        snprintf(what, sizeof what, "0x%02x", r);
    sb_printf(d, "cpu %" PRIu32 " ack -> %s", st->op.cpu, what);
    if (st->ack == ACK_VECTOR && r != (int)st->expect)
        sb_printf(f, "  cpu %" PRIu32 " ack: expected 0x%02" PRIx64
                     " got %s\n", st->op.cpu, st->expect, what);
    if (st->ack == ACK_SPURIOUS && r != INTC_ACK_SPURIOUS(svr & 0xff))
        sb_printf(f, "  cpu %" PRIu32 " ack: expected spurious (0x%02x) "
                     "got %s\n", st->op.cpu, (unsigned)(svr & 0xff), what);
    if (st->ack == ACK_NONE && r >= 0)
        sb_printf(f, "  cpu %" PRIu32 " ack: expected none got %s\n",
                  st->op.cpu, what);
}

static void do_take(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    const kit_op *op = &st->op;
    int r = h->res.take;
    uint8_t sv = h->res.sipi;

    sb_printf(d, "cpu %" PRIu32 " take %s -> %s", op->cpu,
              signal_name(op->index), r == 1 ? "taken" : "not pending");
    if (r == 1 && op->index == INTC_PEND_SIPI)
        sb_printf(d, " (vector 0x%02x)", sv);
    if (r < 0)
        sb_printf(f, "  cpu %" PRIu32 " take: %s\n", op->cpu,
                  intc_err_name((intc_err)r));
    else if ((st->opt & OPT_EXPECT) && r != 1)
        sb_printf(f, "  cpu %" PRIu32 " take %s: expected pending, it "
                     "was not\n", op->cpu, signal_name(op->index));
    else if (!(st->opt & OPT_EXPECT) && r == 1)
        sb_printf(f, "  cpu %" PRIu32 " take %s: expected not pending, "
                     "it was\n", op->cpu, signal_name(op->index));
    else if ((st->opt & OPT_VECTOR) && sv != st->expect)
        sb_printf(f, "  cpu %" PRIu32 " take sipi: expected vector "
                     "0x%02" PRIx64 " got 0x%02x\n", op->cpu, st->expect,
                  sv);
}

/* One run record in the trace text. */
static void run_item(strbuf *d, strbuf *f, const kit_runrec *e)
{
    if (e->kind == KIT_RR_TAKE && e->val == INTC_PEND_SIPI)
        sb_printf(d, " sipi(0x%02x)", e->vec);
    else if (e->kind == KIT_RR_TAKE)
        sb_printf(d, " %s", signal_name((unsigned)e->val));
    else if (e->kind == KIT_RR_ACK && (e->val < 0 || e->val > 255))
        sb_printf(d, " spurious");
    else if (e->kind == KIT_RR_ACK)
        sb_printf(d, " 0x%02x", e->val);
    else if (e->kind == KIT_RR_EOI && e->val)
        sb_printf(f, "  cpu %" PRIu32 " run: EOI write failed: %s\n",
                  e->cpu, intc_err_name((intc_err)e->val));
}

/* run: what each CPU did; with every CPU, the first 16 turns by name. */
static void do_run(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    const kit_result *r = &h->res;
    size_t kept = r->n_runlog < r->cap_runlog ? r->n_runlog : r->cap_runlog;
    unsigned shown = 0;
    unsigned long more = 0;
    bool all = st->op.flags & KIT_RUN_ALL, open = false;
    strbuf quiet = {0};

    if (all)
        sb_printf(d, "run all cpus:");
    else
        sb_printf(d, "cpu %" PRIu32 " run: handled", st->op.cpu);
    for (size_t i = 0; i < kept; i++) {
        const kit_runrec *e = &r->runlog[i];
        if (e->kind == KIT_RR_CPU && all) {
            if (open)
                sb_printf(d, "]");
            open = shown < 16;
            if (open) {
                sb_printf(d, " [cpu %" PRIu32 ":", e->cpu);
                shown++;
            } else {
                more++;
            }
            continue;
        }
        run_item(open || !all ? d : &quiet, f, e);
    }
    if (open)
        sb_printf(d, "]");
    if (more)
        sb_printf(d, " and %lu more", more);
    if (r->n_runlog > kept)
        sb_printf(d, " (%zu more records not kept)", r->n_runlog - kept);
    free(quiet.s);
}

static void do_cpu(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    static const char *const lvts[] = {"cmci", "thermal", "perf"};
    const kit_op *op = &st->op;
    char what[64];

    snprintf(what, sizeof what, "%s", kit_op_name(op->kind));
    switch (op->kind) {
    case KIT_OP_TPR:
        sb_printf(d, "cpu %" PRIu32 " tpr (via cr8) = 0x%02" PRIx64,
                  op->cpu, op->value);
        break;
    case KIT_OP_LINT:
        sb_printf(d, "cpu %" PRIu32 " lint%" PRIu32 " level %s", op->cpu,
                  op->index, op->value ? "high" : "low");
        break;
    case KIT_OP_EOI:
        sb_printf(d, "cpu %" PRIu32 " eoi", op->cpu);
        snprintf(what, sizeof what, "cpu %" PRIu32 " eoi", op->cpu);
        break;
    default: /* raise_lvt */
        sb_printf(d, "cpu %" PRIu32 " raise_lvt %s", op->cpu,
                  op->index == INTC_LVT_CMCI      ? lvts[0]
                  : op->index == INTC_LVT_THERMAL ? lvts[1]
                                                  : lvts[2]);
        break;
    }
    check_err(f, h->res.err, 0, what);
}

static void do_time(sim_host *h, const sim_step *st, strbuf *d)
{
    if (st->op.kind == KIT_OP_BLOCK)
        sb_printf(d, "cpu %" PRIu32 " block (IF=0) ", st->op.cpu);
    else
        sb_printf(d, "advance ");
    sb_printf(d, "%" PRIu64 " ns to %" PRIu64 " ns", st->t_end - st->t_action,
              st->t_end);
    if (st->op.kind == KIT_OP_BLOCK) {
        sb_printf(d, ", pending ");
        sim_pending_text(d, h->res.pending);
    }
}

/* ---- devices ---- */

static void do_ioapic(sim_host *h, const sim_step *st, strbuf *d,
                      strbuf *f)
{
    const kit_op *op = &st->op;
    const char *lv = op->value ? "asserted" : "deasserted";

    switch (op->kind) {
    case KIT_OP_IOAPIC_RTE:
        sb_printf(d, "ioapic %" PRIu32 " pin %" PRIu32 " rte = 0x%016" PRIx64,
                  op->unit, op->index, op->value);
        break;
    case KIT_OP_IOAPIC_REG:
        sb_printf(d, "ioapic %" PRIu32 " reg 0x%02" PRIx32 " = 0x%" PRIx64,
                  op->unit, op->index, op->value);
        break;
    case KIT_OP_IOAPIC_EOI:
        sb_printf(d, "ioapic %" PRIu32 " eoi vector 0x%02" PRIx64, op->unit,
                  op->value);
        break;
    case KIT_OP_IRQ:
        sb_printf(d, "ioapic %" PRIu32 " pin %" PRIu32 " source %" PRIu32
                     " %s", op->unit, op->index, op->source, lv);
        break;
    default: /* gsi */
        sb_printf(d, "gsi %" PRIu32 " %s", op->index, lv);
        break;
    }
    check_err(f, h->res.err, 0, kit_op_name(op->kind));
}

static void do_msi(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    const kit_op *op = &st->op;
    intc_err e = h->res.err;

    sb_printf(d, "msi addr 0x%" PRIx64 " data 0x%" PRIx64 " sid 0x%04" PRIx32,
              op->addr, op->value, op->source);
    if (e == INTC_ERR_NOT_DECODED) {
        sb_printf(d, " (not an interrupt: an ordinary memory write)");
        e = INTC_OK;
    }
    check_err(f, e, 0, "msi");
}

static void do_device(sim_host *h, const sim_step *st, strbuf *d,
                      strbuf *f)
{
    const kit_op *op = &st->op;
    const char *n = dev_name(h, op);

    switch (op->kind) {
    case KIT_OP_MSIX_TABLE:
        sb_printf(d, "msix %s entry %" PRIu32 ":", n, op->index);
        if (op->flags & KIT_TF_ADDR)
            sb_printf(d, " addr 0x%" PRIx64, op->addr);
        if (op->flags & KIT_TF_DATA)
            sb_printf(d, " data 0x%" PRIx64, op->value);
        if (op->flags & KIT_TF_MASKED)
            sb_printf(d, " %s", op->value2 ? "masked" : "unmasked");
        break;
    case KIT_OP_MSIX_CONTROL:
        sb_printf(d, "msix %s control: enable %s, function mask %s", n,
                  op->value ? "on" : "off", op->value2 ? "on" : "off");
        break;
    case KIT_OP_MSIX_NOTIFY:
    case KIT_OP_MSI_NOTIFY:
        sb_printf(d, "%s %s notify vector %" PRIu32,
                  op->kind == KIT_OP_MSI_NOTIFY ? "msi" : "msix", n,
                  op->index);
        break;
    default: /* msi_config */
        sb_printf(d, "msi %s config 0x%02" PRIx64 "/%" PRIu32 " = 0x%" PRIx64,
                  n, op->addr, op->size, op->value);
        break;
    }
    check_err(f, h->res.err, 0, kit_op_name(op->kind));
}

static void do_memory(sim_host *h, const sim_step *st, strbuf *d,
                      strbuf *f)
{
    const kit_op *op = &st->op;
    unsigned w = op->size;
    const char *unit = w == 8 ? "qwords" : w == 4 ? "dwords" : "bytes";
    const uint8_t *p = h->res.mem;

    sb_printf(d, "%s 0x%" PRIx64 ": %zu %s", kit_op_name(op->kind), op->addr,
              op->n_bytes / w, unit);
    if (op->kind == KIT_OP_MEMORY_WRITE || !p)
        return;
    for (size_t i = 0; i < op->n_bytes; i += w) {
        uint64_t got = 0, want = 0;
        for (unsigned b = 0; b < w; b++) {
            got |= (uint64_t)p[i + b] << (8 * b);
            want |= (uint64_t)op->bytes[i + b] << (8 * b);
        }
        if (got != want)
            sb_printf(f, "  memory 0x%" PRIx64 ": expected 0x%" PRIx64
                         " got 0x%" PRIx64 "\n", op->addr + i, want, got);
    }
}

static void do_snapshot(sim_host *h, const sim_step *st, strbuf *d,
                        strbuf *f)
{
    const char *name = h->s->snap_names[st->op.unit];
    intc_err e = h->res.err;

    sb_printf(d, "%s \"%s\"", kit_op_name(st->op.kind), name);
    if (st->op.kind == KIT_OP_SNAPSHOT) {
        if (e)
            sb_printf(f, "  intc_machine_save: %s\n", intc_err_name(e));
        return;
    }
    if (h->res.skipped)
        sb_printf(f, "  restore: snapshot \"%s\" was never taken in this "
                     "run\n", name);
    else if (e)
        sb_printf(f, "  intc_machine_load: %s (%s): %s\n", intc_err_name(e),
                  intc_strerror(e), intc_machine_errmsg(h->rig.m));
}

/* The operations without a trace text of their own: the name and the
   operands, as the scenario writes them. */
static void do_generic(sim_host *h, const sim_step *st, strbuf *d,
                       strbuf *f)
{
    const kit_op_info *in = &kit_op_table[st->op.kind];
    char what[64];

    if (in->on_cpu)
        snprintf(what, sizeof what, "cpu %" PRIu32 " %s", st->op.cpu,
                 in->name);
    else
        snprintf(what, sizeof what, "%s", in->name);
    sb_printf(d, "%s", what);
    for (unsigned i = 0; i < in->n_fields; i++) {
        const kit_field *fd = &in->fields[i];
        if (fd->type == KIT_F_HEX)
            sb_printf(d, " %s=(%zu bytes)", fd->key, st->op.n_bytes);
        else if (fd->type != KIT_F_FLAG && fd->type != KIT_F_NFLAG)
            sb_printf(d, " %s=0x%" PRIx64, fd->key,
                      kit_op_get(&st->op, fd->slot));
    }
    if (in->results & KIT_RES_VALUE)
        result_text(d, &h->res, true, 0);
    else if (h->res.err)
        sb_printf(d, " -> %s", intc_err_name(h->res.err));
    check_access(f, st, &h->res, what);
}

typedef void (*step_fn)(sim_host *, const sim_step *, strbuf *, strbuf *);

static step_fn step_rule(unsigned kind)
{
    switch (kind) {
    case KIT_OP_WRITE: case KIT_OP_READ: return do_regs;
    case KIT_OP_MMIO_WRITE: case KIT_OP_MMIO_READ: case KIT_OP_WRMSR:
    case KIT_OP_RDMSR: case KIT_OP_IOMMU_WRITE: case KIT_OP_IOMMU_READ:
    case KIT_OP_IOAPIC_MMIO_WRITE: case KIT_OP_IOAPIC_MMIO_READ:
    case KIT_OP_MSIX_TABLE_WRITE: case KIT_OP_MSIX_TABLE_READ:
    case KIT_OP_MSIX_PBA_READ: case KIT_OP_MSI_CONFIG_READ:
        return do_access;
    case KIT_OP_IPI: return do_ipi;
    case KIT_OP_ACK: return do_ack;
    case KIT_OP_TAKE: return do_take;
    case KIT_OP_RUN: return do_run;
    case KIT_OP_TPR: case KIT_OP_LINT: case KIT_OP_EOI:
    case KIT_OP_RAISE_LVT:
        return do_cpu;
    case KIT_OP_IOAPIC_RTE: case KIT_OP_IOAPIC_REG: case KIT_OP_IOAPIC_EOI:
    case KIT_OP_IRQ: case KIT_OP_GSI:
        return do_ioapic;
    case KIT_OP_MSI: return do_msi;
    case KIT_OP_MSIX_TABLE: case KIT_OP_MSIX_CONTROL:
    case KIT_OP_MSIX_NOTIFY: case KIT_OP_MSI_CONFIG: case KIT_OP_MSI_NOTIFY:
        return do_device;
    case KIT_OP_MEMORY_WRITE: case KIT_OP_MEMORY_READ: return do_memory;
    case KIT_OP_SNAPSHOT: case KIT_OP_RESTORE: return do_snapshot;
    default: return do_generic;
    }
}

/* Past the fire budget the timers coalesce: said once per run. */
void sim_coalesce_note(sim_host *h, unsigned long before)
{
    if (h->k->n_coalesced == before || h->coalesced_note)
        return;
    h->coalesced_note = true;
    if (h->o->trace == TRACE_TEXT)
        fprintf(h->out, "  (host: too many timer expiries; the rest "
                        "coalesce at %" PRIu64 " ns)\n", h->k->now);
}

void sim_do_op(sim_host *h, const sim_step *st, strbuf *d, strbuf *f)
{
    unsigned long c = h->k->n_coalesced;

    kit_exec(&h->rig, &st->op, &h->res);
    sim_coalesce_note(h, c);
    if (st->op.kind == KIT_OP_ADVANCE || st->op.kind == KIT_OP_BLOCK)
        do_time(h, st, d);
    else
        step_rule(st->op.kind)(h, st, d, f);
}
