/*
 * Whole-machine fuzzing: decoder, host, executor and scenario printer
 * (machine_ops.h).  The executor mirrors tools/intc-sim/run.c step for
 * step; keep them in sync.
 */
#include "machine_ops.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../libintc/internal.h" /* ack(): the ISR, read-only */

/* ---- byte reader ---- */

typedef struct mo_rd {
    const uint8_t *p;
    size_t n, pos;
} mo_rd;

static uint8_t rd8(mo_rd *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0;
}

static uint16_t rd16(mo_rd *r)
{
    uint16_t v = rd8(r);
    return (uint16_t)(v | (uint16_t)rd8(r) << 8);
}

static uint32_t rd32(mo_rd *r)
{
    uint32_t v = rd16(r);
    return v | (uint32_t)rd16(r) << 16;
}

/* ---- registers ---- */

#define REG_ICR64 0x1000u /* the scenario's `icr` (sim.h SIM_REG_ICR64) */

static const struct {
    const char *name;
    uint32_t off;
} reg_names[] = {
    {"id", 0x20},          {"version", 0x30},     {"tpr", 0x80},
    {"apr", 0x90},         {"ppr", 0xa0},         {"eoi", 0xb0},
    {"rrd", 0xc0},         {"ldr", 0xd0},         {"dfr", 0xe0},
    {"svr", 0xf0},         {"esr", 0x280},        {"lvt_cmci", 0x2f0},
    {"icr_lo", 0x300},     {"icr_hi", 0x310},     {"lvt_timer", 0x320},
    {"lvt_thermal", 0x330}, {"lvt_perf", 0x340},  {"lvt_lint0", 0x350},
    {"lvt_lint1", 0x360},  {"lvt_error", 0x370},  {"timer_icr", 0x380},
    {"timer_ccr", 0x390},  {"timer_dcr", 0x3e0},  {"self_ipi", 0x3f0},
    {"icr", REG_ICR64},
};

const char *mo_reg_name(uint32_t off)
{
    for (size_t i = 0; i < sizeof reg_names / sizeof reg_names[0]; i++)
        if (reg_names[i].off == off)
            return reg_names[i].name;
    return NULL;
}

/* Registers the decoder writes, most meaningful first. */
static const uint32_t wregs[] = {
    0x0f0, 0x080, 0x0b0, 0x300, 0x320, 0x380, 0x350, 0x360, 0x370,
    0x3e0, 0x280, 0x2f0, 0x330, 0x340, 0x310, 0x0d0, 0x0e0, 0x020,
    0x3f0, REG_ICR64,
};
#define N_WREGS (sizeof wregs / sizeof wregs[0])

static const uint32_t rregs[] = {
    0x390, 0x0a0, 0x280, 0x100, 0x170, 0x180, 0x200, 0x090, 0x030,
    0x0b0, 0x3f0, 0x400, 0x0c0, 0x300,
};

/* ---- value shaping ---- */

static uint8_t vec_of(uint8_t b)
{
    /* Mostly legal vectors in a few priority classes, sometimes 0-15. */
    if (b >= 0xf8)
        return b & 0x0f;
    return (uint8_t)(0x20 + (b % 0x60));
}

static uint32_t dest_of(const mo_config *c, uint8_t b)
{
    if (b >= 0xf0)
        return b == 0xff ? 0xff : b; /* broadcast or nobody */
    return b % (c->n_cpus + 1);      /* a CPU, or one that does not exist */
}

static uint32_t lvt_value(mo_rd *r, uint32_t reg, bool diff)
{
    uint8_t s = rd8(r);
    uint8_t v = vec_of(rd8(r));
    uint32_t val = v;

    if (s >= 0xf0 && !diff)
        return rd32(r); /* raw */
    if (s & 0x01)
        val |= 1u << 16; /* masked */
    if (reg == 0x320) {
        val |= (uint32_t)((s >> 1) % 3) << 17; /* one-shot/periodic/TSC */
        return val;
    }
    if (reg != 0x370 && (s & 0x08))
        val |= (uint32_t)((s >> 4) & 7) << 8; /* delivery mode */
    if (reg == 0x350 || reg == 0x360) {
        if (s & 0x02)
            val |= 1u << 15; /* level */
        if (s & 0x04)
            val |= 1u << 13; /* active low */
    }
    return val;
}

static uint64_t icr_lo_value(mo_rd *r, bool diff)
{
    uint8_t a = rd8(r), b = rd8(r);
    static const uint8_t modes[8] = {0, 0, 1, 2, 4, 5, 6, 7};
    uint32_t lo = vec_of(a) | (uint32_t)modes[b & 7] << 8;

    if (!diff && (b & 0x08))
        lo |= 1u << 11; /* logical */
    if (!(b & 0x10))
        lo |= 1u << 14; /* assert */
    if (b & 0x20)
        lo |= 1u << 15; /* level */
    lo |= (uint32_t)((b >> 6) & 3) << 18;
    return lo;
}

static uint64_t write_value(mo_rd *r, const mo_config *c, uint32_t reg,
                            bool diff)
{
    uint8_t s;
    switch (reg) {
    case 0x0f0: /* SVR */
        s = rd8(r);
        if (diff)
            return (uint32_t)(s & 0x80 ? 0 : 0x100) | vec_of(rd8(r)) |
                   (s & 0x02 ? 0x200u : 0) |
                   (c->directed_eoi && (s & 0x04) ? 0x1000u : 0);
        if (s >= 0xf0)
            return rd32(r);
        return (uint32_t)(s & 0x80 ? 0 : 0x100) | (0xf0u | (s & 0xf)) |
               (s & 0x20 ? 0x200u : 0) | (s & 0x40 ? 0x1000u : 0);
    case 0x080: /* TPR */
        return rd8(r);
    case 0x0b0: /* EOI */
    case 0x280: /* ESR */
        s = rd8(r);
        return diff || s < 0xf0 ? 0 : s;
    case 0x300:
        return icr_lo_value(r, diff);
    case 0x310:
        return (uint64_t)dest_of(c, rd8(r)) << 24;
    case REG_ICR64: {
        uint64_t lo = icr_lo_value(r, diff);
        s = rd8(r);
        /* xAPIC layout (dest in 63:56) or x2APIC (31:0 of the high half). */
        return (rd8(r) & 1) ? (uint64_t)dest_of(c, s) << 32 | lo
                            : (uint64_t)dest_of(c, s) << 56 | lo;
    }
    case 0x380: { /* initial count: short, so timers fire */
        uint16_t v = rd16(r);
        return diff ? v : (v & 0x8000) ? rd32(r) : (uint32_t)(v & 0xfff);
    }
    case 0x3e0:
        return rd8(r) & 0xb;
    case 0x0d0:
        return (uint32_t)rd8(r) << 24;
    case 0x0e0:
        return rd8(r) & 1 ? 0xffffffffu : 0x0fffffffu;
    case 0x020:
        return (uint32_t)(rd8(r) % (c->n_cpus + 2)) << 24;
    case 0x3f0:
        return vec_of(rd8(r));
    default:
        return lvt_value(r, reg, diff);
    }
}

static uint64_t msi_addr(mo_rd *r, const mo_config *c, bool diff)
{
    uint8_t s = rd8(r), d = rd8(r);
    uint64_t a = INTC_MSI_ADDR_BASE;

    if (!diff && s >= 0xf8)
        return s == 0xff ? 0xfed00000u : (0xfee00000u | (uint32_t)rd16(r) << 4);
    if (!diff && c->iommu && (s & 0x40)) {
        /* remappable: handle in 19:5 and bit 2, SHV bit 3 */
        uint32_t handle = d & 0x0f;
        return a | handle << 5 | INTC_MSI_ADDR_REMAPPABLE |
               (s & 0x01 ? INTC_MSI_ADDR_RH : 0);
    }
    a |= (uint64_t)(diff ? d % (c->n_cpus + 1) : dest_of(c, d)) << 12;
    if (!diff && (s & 0x02))
        a |= INTC_MSI_ADDR_LOGICAL;
    if (s & 0x04)
        a |= INTC_MSI_ADDR_RH;
    return a;
}

static uint32_t msi_data(mo_rd *r, bool diff)
{
    uint8_t s = rd8(r), v = rd8(r);
    static const uint8_t modes[8] = {0, 0, 0, 1, 4, 2, 7, 3};
    uint32_t data = vec_of(v);

    data |= (uint32_t)modes[s & 7] << 8;
    if (s & 0x08)
        data |= INTC_MSI_DATA_LEVEL;
    if (!(s & 0x10))
        data |= INTC_MSI_DATA_ASSERT;
    if (!diff && s == 0xff)
        data |= 0x10000u;
    if (diff && (data & INTC_MSI_DATA_LEVEL))
        data |= INTC_MSI_DATA_ASSERT;
    return data;
}

static uint64_t rte_value(mo_rd *r, const mo_config *c, unsigned io,
                          unsigned pin, bool diff)
{
    uint8_t s = rd8(r), t = rd8(r), v = rd8(r), d = rd8(r);
    static const uint8_t modes[8] = {0, 0, 0, 1, 1, 4, 2, 7};
    bool wired_level = io == 1 || pin >= 16;
    uint64_t rte = vec_of(v) | (uint64_t)modes[s & 7] << 8;

    if (wired_level) /* as wired: PCI INTx is level, active low */
        rte |= INTC_RTE_LEVEL | INTC_RTE_ACTIVE_LOW;
    if ((t & 0x07) == 0x07)
        rte ^= INTC_RTE_LEVEL; /* mis-programmed trigger mode */
    if ((t & 0x38) == 0x38)
        rte ^= INTC_RTE_ACTIVE_LOW; /* mis-programmed polarity */
    if (s & 0x08)
        rte |= INTC_RTE_MASKED;
    if (!diff && (s & 0x10))
        rte |= INTC_RTE_LOGICAL;
    if (!diff && c->iommu == INTC_IOMMU_VTD && (t & 0x80)) {
        /* remappable format: handle 14:0 in 63:49, bit 15 in 11 */
        rte &= ~INTC_RTE_LOGICAL;
        rte |= INTC_RTE_REMAPPABLE | (uint64_t)(d & 0x0f) << 49;
        return rte;
    }
    rte |= (uint64_t)(diff ? d % (c->n_cpus + 1) : dest_of(c, d))
           << INTC_RTE_DEST_SHIFT;
    return rte;
}

/* ---- decoder ---- */

enum {
    OP_WRITE, OP_IPI, OP_TPR, OP_LINT, OP_ACK, OP_EOI, OP_TAKE, OP_RUN,
    OP_RAISE, OP_ADVANCE, OP_RTE, OP_IOREG, OP_IOEOI, OP_IRQ, OP_MSI,
    OP_MSIX_TABLE, OP_MSIX_CTRL, OP_MSIX_NOTIFY, OP_WRMSR, OP_READ,
    OP_MMIO, OP_IR_SETUP, OP_IOMMU_WRITE, OP_IRTE, OP_SNAPSHOT, OP_RESTORE,
    OP_BOOT, OP_SELF_IPI, OP_TSC_DEADLINE
};

/* Opcode byte -> operation; repeated entries are the bias.  The seed
   generator (machine_seeds.h MOB_* / MOD_*) names positions in these two
   tables: keep them in sync. */
static const uint8_t op_table[] = {
    OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE,
    OP_IPI, OP_IPI, OP_IPI, OP_TPR, OP_LINT, OP_ACK, OP_ACK, OP_ACK,
    OP_EOI, OP_EOI, OP_EOI, OP_TAKE, OP_RUN, OP_RAISE, OP_ADVANCE,
    OP_ADVANCE, OP_ADVANCE, OP_RTE, OP_RTE, OP_RTE, OP_IOREG, OP_IOEOI,
    OP_IRQ, OP_IRQ, OP_IRQ, OP_IRQ, OP_MSI, OP_MSI, OP_MSIX_TABLE,
    OP_MSIX_TABLE, OP_MSIX_CTRL, OP_MSIX_NOTIFY, OP_MSIX_NOTIFY, OP_WRMSR,
    OP_WRMSR, OP_READ, OP_MMIO, OP_IR_SETUP, OP_IOMMU_WRITE, OP_IRTE,
    OP_IRTE, OP_SNAPSHOT, OP_RESTORE, OP_BOOT,
};

/* The differential subset: physical destinations, no ID/LDR/DFR, no
   mode changes, no raw accesses, values without reserved bits. */
static const uint8_t diff_table[] = {
    OP_WRITE, OP_WRITE, OP_WRITE, OP_WRITE, OP_IPI, OP_IPI, OP_IPI,
    OP_TPR, OP_LINT, OP_ACK, OP_ACK, OP_ACK, OP_EOI, OP_EOI, OP_EOI,
    OP_TAKE, OP_RUN, OP_RAISE, OP_ADVANCE, OP_ADVANCE, OP_RTE, OP_RTE,
    OP_IOEOI, OP_IRQ, OP_IRQ, OP_IRQ, OP_MSI, OP_MSI, OP_MSIX_TABLE,
    OP_MSIX_CTRL, OP_MSIX_NOTIFY, OP_READ, OP_SNAPSHOT, OP_RESTORE,
    OP_BOOT, OP_SELF_IPI, OP_TSC_DEADLINE,
};

/* Registers written in differential inputs (no ID, LDR, DFR, ICR, self
   IPI: those are different or absent in one of the modes). */
static const uint32_t diff_wregs[] = {
    0x0f0, 0x080, 0x0b0, 0x320, 0x380, 0x350, 0x360, 0x370, 0x3e0, 0x280,
    0x2f0, 0x330, 0x340,
};

/* Readable in both modes without side effects that differ. */
static const uint32_t diff_rregs[] = {0x390, 0x0a0, 0x080, 0x100, 0x200};

static mo_step *add(mo_program *p, unsigned kind)
{
    mo_step *s;
    if (p->n >= MO_MAX_STEPS)
        return NULL;
    s = &p->steps[p->n++];
    memset(s, 0, sizeof *s);
    s->kind = (uint8_t)kind;
    return s;
}

static unsigned pins_of(unsigned io)
{
    return io ? MO_IOAPIC1_PINS : MO_IOAPIC0_PINS;
}

static void decode_config(mo_rd *r, mo_config *c)
{
    uint8_t a = rd8(r), b = rd8(r), k = rd8(r);

    memset(c, 0, sizeof *c);
    c->n_cpus = (a & 3u) + 1;
    c->n_ioapics = (a & 4) ? 2 : 1;
    c->iommu = (a >> 3) & 3;
    if (c->iommu == 3)
        c->iommu = INTC_IOMMU_NONE;
    c->directed_eoi = a & 0x20;
    c->diff = a & 0x40;
    c->storm = a & 0x80;
    c->n_msix = b & 3;
    if (c->n_msix > MO_MAX_MSIX)
        c->n_msix = MO_MAX_MSIX;
    c->ioapic0_v11 = (b & 4) && !c->directed_eoi;
    c->focus = b & 8;
    c->no_ext_dest = b & 0x10;
    c->snap_at = k;
    if (c->diff)
        c->iommu = INTC_IOMMU_NONE;
}

void mo_decode(const uint8_t *data, size_t size, mo_program *p)
{
    mo_rd r = {data, size, 0};
    mo_config *c = &p->cfg;
    bool snapped[MO_SNAP_SLOTS] = {false, false};

    p->n = 0;
    decode_config(&r, c);
    while (r.pos < r.n && p->n < MO_MAX_STEPS) {
        uint8_t ob = rd8(&r);
        unsigned op = c->diff ? diff_table[ob % sizeof diff_table]
                              : op_table[ob % sizeof op_table];
        uint8_t cpu = (uint8_t)(rd8(&r) % c->n_cpus);
        mo_step *s;

        switch (op) {
        case OP_WRITE: {
            uint8_t sel = rd8(&r);
            uint32_t reg;
            if (c->diff)
                reg = diff_wregs[sel % (sizeof diff_wregs /
                                        sizeof diff_wregs[0])];
            else if (sel >= 0xf8)
                reg = (uint32_t)(rd8(&r) & 0x3f) << 4; /* any slot */
            else
                reg = wregs[sel % N_WREGS];
            if (!(s = add(p, MO_WRITE)))
                break;
            s->cpu = cpu;
            s->reg = reg;
            s->value = write_value(&r, c, reg, c->diff);
            if (reg != REG_ICR64)
                s->value &= 0xffffffffu;
            if (c->diff && reg == 0x320) /* TSC-deadline is in both modes */
                s->value &= 0x700ffu;
            break;
        }
        case OP_IPI:
        case OP_SELF_IPI: {
            uint8_t d = rd8(&r), v = rd8(&r), b = rd8(&r);
            static const uint8_t modes[8] = {0, 0, 1, 2, 4, 5, 6, 7};
            if (!(s = add(p, MO_IPI)))
                break;
            s->cpu = cpu;
            if (op == OP_SELF_IPI) {
                /* x2APIC SELF IPI register vs ICR self shorthand */
                s->aux = (uint32_t)(0x10 + v % 0xf0) | 1u << 12;
                s->flags = 1;
                break;
            }
            s->value = c->diff ? d % (c->n_cpus + 1) : dest_of(c, d);
            s->aux = vec_of(v) | (uint32_t)modes[b & 7] << 8 |
                     (uint32_t)((b >> 3) & 3) << 12;
            if (!c->diff && (b & 0x20))
                s->aux |= MO_IPI_LOGICAL;
            if (b & 0x40)
                s->aux |= MO_IPI_LEVEL;
            if (b & 0x80)
                s->aux |= MO_IPI_DEASSERT;
            break;
        }
        case OP_TPR:
            if ((s = add(p, MO_TPR))) {
                s->cpu = cpu;
                s->value = rd8(&r);
            }
            break;
        case OP_LINT: {
            uint8_t b = rd8(&r);
            if ((s = add(p, MO_LINT))) {
                s->cpu = cpu;
                s->reg = b & 1;
                s->value = (b >> 1) & 1;
            }
            break;
        }
        case OP_ACK:
        case OP_EOI:
            if ((s = add(p, op == OP_ACK ? MO_ACK : MO_EOI)))
                s->cpu = cpu;
            break;
        case OP_TAKE: {
            static const unsigned what[5] = {INTC_PEND_NMI, INTC_PEND_SMI,
                                             INTC_PEND_INIT, INTC_PEND_SIPI,
                                             INTC_PEND_EXTINT};
            uint8_t b = rd8(&r);
            if ((s = add(p, MO_TAKE))) {
                s->cpu = cpu;
                s->aux = what[b % 5];
            }
            break;
        }
        case OP_RUN: {
            uint8_t b = rd8(&r);
            if ((s = add(p, MO_RUN))) {
                s->cpu = cpu;
                s->flags = b & 1 ? MO_RUN_ALL : 0;
            }
            break;
        }
        case OP_RAISE: {
            static const unsigned lvts[3] = {INTC_LVT_CMCI, INTC_LVT_THERMAL,
                                             INTC_LVT_PERF};
            uint8_t b = rd8(&r);
            if ((s = add(p, MO_RAISE_LVT))) {
                s->cpu = cpu;
                s->aux = lvts[b % 3];
            }
            break;
        }
        case OP_ADVANCE: {
            uint8_t b = rd8(&r), a = rd8(&r);
            static const unsigned shift[4] = {0, 4, 8, 12};
            if ((s = add(p, MO_ADVANCE)))
                s->value = (uint64_t)a << shift[b & 3];
            break;
        }
        case OP_RTE: {
            uint8_t i = (uint8_t)(rd8(&r) % c->n_ioapics);
            uint8_t pin = (uint8_t)(rd8(&r) % pins_of(i));
            if ((s = add(p, MO_IOAPIC_RTE))) {
                s->unit = i;
                s->reg = pin;
                s->value = rte_value(&r, c, i, pin, c->diff);
            }
            break;
        }
        case OP_IOREG: {
            uint8_t i = (uint8_t)(rd8(&r) % c->n_ioapics);
            uint8_t b = rd8(&r);
            uint32_t val = rd32(&r);
            if ((s = add(p, MO_IOAPIC_REG))) {
                s->unit = i;
                /* mostly the low or high half of an entry */
                s->reg = b < 0xf0 ? 0x10u + (b % (2 * pins_of(i))) : b & 3;
                s->value = val;
            }
            break;
        }
        case OP_IOEOI: {
            uint8_t i = (uint8_t)(rd8(&r) % c->n_ioapics);
            uint8_t v = rd8(&r);
            if ((s = add(p, MO_IOAPIC_EOI))) {
                s->unit = i;
                s->value = vec_of(v);
            }
            break;
        }
        case OP_IRQ: {
            uint8_t i = (uint8_t)(rd8(&r) % c->n_ioapics);
            uint8_t pin = (uint8_t)(rd8(&r) % pins_of(i));
            uint8_t b = rd8(&r);
            if (!(s = add(p, MO_IRQ)))
                break;
            s->unit = i;
            s->reg = pin;
            s->aux = (b >> 2) & 1; /* source 0 or 1 (shared line) */
            s->value = b & 1;
            if (b & 2) { /* a pulse: assert then de-assert */
                mo_step *t;
                s->value = 1;
                if ((t = add(p, MO_IRQ))) {
                    *t = *s;
                    t->value = 0;
                }
            }
            break;
        }
        case OP_MSI:
            if ((s = add(p, MO_MSI))) {
                s->value = msi_addr(&r, c, c->diff);
                s->v[0] = msi_data(&r, c->diff);
                s->aux = rd8(&r) & 3; /* source-id */
            }
            break;
        case OP_MSIX_TABLE: {
            uint8_t dv = rd8(&r), e = rd8(&r), f = rd8(&r);
            if (!c->n_msix)
                break;
            if (!(s = add(p, MO_MSIX_TABLE)))
                break;
            s->unit = (uint8_t)(dv % c->n_msix);
            s->reg = e % MO_MSIX_VECTORS;
            s->flags = (uint8_t)(f & 7);
            if (!s->flags)
                s->flags = MO_TF_ADDR | MO_TF_DATA | MO_TF_MASKED;
            s->value = msi_addr(&r, c, c->diff);
            s->v[0] = msi_data(&r, c->diff);
            s->v[1] = (f >> 3) & 1; /* masked */
            break;
        }
        case OP_MSIX_CTRL: {
            uint8_t dv = rd8(&r), b = rd8(&r);
            if (!c->n_msix || !(s = add(p, MO_MSIX_CONTROL)))
                break;
            s->unit = (uint8_t)(dv % c->n_msix);
            s->value = !(b & 1);
            s->v[0] = (b >> 1) & 1;
            break;
        }
        case OP_MSIX_NOTIFY: {
            uint8_t dv = rd8(&r), e = rd8(&r);
            if (!c->n_msix || !(s = add(p, MO_MSIX_NOTIFY)))
                break;
            s->unit = (uint8_t)(dv % c->n_msix);
            s->value = e % MO_MSIX_VECTORS;
            break;
        }
        case OP_WRMSR: {
            uint8_t sel = rd8(&r), b = rd8(&r);
            if (!(s = add(p, MO_WRMSR)))
                break;
            s->cpu = cpu;
            if (sel % 8 < 2) {
                static const uint64_t base[4] = {
                    INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN |
                        INTC_APIC_BASE_EXTD,
                    INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN, 0,
                    INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EXTD};
                s->reg = INTC_MSR_APIC_BASE;
                s->value = base[b & 3] |
                           (cpu == 0 && !(b & 4) ? INTC_APIC_BASE_BSP : 0);
                if (b >= 0xf8)
                    s->value = rd32(&r) | (uint64_t)rd32(&r) << 32;
            } else if (sel % 8 == 2) {
                s->reg = INTC_MSR_TSC_DEADLINE;
                s->value = (uint64_t)rd16(&r) * 4;
            } else {
                uint32_t reg = wregs[b % N_WREGS];
                if (reg == REG_ICR64)
                    reg = 0x300;
                s->reg = 0x800u + (reg >> 4);
                s->value = write_value(&r, c, reg == 0x300 ? REG_ICR64 : reg,
                                       false);
                if (reg == 0x300)
                    s->reg = 0x830;
                if (sel >= 0xf0)
                    s->value |= (uint64_t)rd8(&r) << (32 + (sel & 7) * 4);
            }
            break;
        }
        case OP_TSC_DEADLINE:
            if ((s = add(p, MO_WRMSR))) {
                s->cpu = cpu;
                s->reg = INTC_MSR_TSC_DEADLINE;
                s->value = (uint64_t)rd16(&r) * 4;
            }
            break;
        case OP_READ: {
            uint8_t sel = rd8(&r);
            if (!(s = add(p, MO_READ)))
                break;
            s->cpu = cpu;
            s->reg = c->diff ? diff_rregs[sel % (sizeof diff_rregs /
                                                 sizeof diff_rregs[0])]
                             : rregs[sel % (sizeof rregs / sizeof rregs[0])];
            break;
        }
        case OP_MMIO: {
            static const unsigned sizes[8] = {4, 4, 1, 2, 8, 4, 3, 4};
            uint8_t b = rd8(&r);
            uint16_t off = rd16(&r);
            uint32_t val = rd32(&r);
            if (!(s = add(p, MO_MMIO_WRITE)))
                break;
            s->cpu = cpu;
            s->aux = sizes[b & 7];
            s->reg = (b & 8) ? off & 0xfffu : (off & 0x3f0u) | (b >> 4 & 3);
            s->value = val;
            break;
        }
        case OP_IR_SETUP: {
            uint8_t b = rd8(&r);
            if (c->iommu == INTC_IOMMU_VTD) {
                /* IRTA (256 entries), SIRTP, then IRE (+CFI) */
                if ((s = add(p, MO_IOMMU_WRITE))) {
                    s->reg = INTC_VTD_IRTA;
                    s->aux = 8;
                    s->value = MO_IRT | (b & 1 ? INTC_VTD_IRTA_EIME : 0) | 7;
                }
                if ((s = add(p, MO_IOMMU_WRITE))) {
                    s->reg = INTC_VTD_GCMD;
                    s->aux = 4;
                    s->value = INTC_VTD_GCMD_SIRTP;
                }
                if ((s = add(p, MO_IOMMU_WRITE))) {
                    s->reg = INTC_VTD_GCMD;
                    s->aux = 4;
                    s->value = (b & 2 ? 0 : INTC_VTD_GCMD_IRE) |
                               (b & 4 ? INTC_VTD_GCMD_CFI : 0);
                }
            } else if (c->iommu == INTC_IOMMU_AMDVI) {
                if ((s = add(p, MO_IOMMU_WRITE))) {
                    s->reg = INTC_AMDVI_DEVTAB;
                    s->aux = 8;
                    s->value = MO_DEVTAB; /* 4 KiB: 128 devices */
                }
                if ((s = add(p, MO_IOMMU_WRITE))) {
                    s->reg = INTC_AMDVI_CONTROL;
                    s->aux = 8;
                    s->value = 1u | (b & 1 ? 1ull << 22 : 0); /* En, GAEn? */
                }
            }
            break;
        }
        case OP_IOMMU_WRITE: {
            static const uint32_t vtd_regs[8] = {
                INTC_VTD_GCMD, INTC_VTD_IRTA, INTC_VTD_FSTS, INTC_VTD_FECTL,
                INTC_VTD_FEDATA, INTC_VTD_FEADDR, INTC_VTD_IQT, INTC_VTD_FRR + 12};
            static const uint32_t amd_regs[8] = {
                INTC_AMDVI_DEVTAB, INTC_AMDVI_CONTROL, INTC_AMDVI_CMDBUF,
                INTC_AMDVI_EVTLOG, INTC_AMDVI_CMD_TAIL, INTC_AMDVI_EVT_HEAD,
                INTC_AMDVI_STATUS, INTC_AMDVI_CMD_HEAD};
            uint8_t b = rd8(&r);
            uint32_t lo = rd32(&r), hi = rd32(&r);
            if (!c->iommu || !(s = add(p, MO_IOMMU_WRITE)))
                break;
            s->reg = c->iommu == INTC_IOMMU_VTD ? vtd_regs[b & 7]
                                                : amd_regs[b & 7];
            s->aux = (b & 8) ? 8 : 4;
            if (s->reg & 4)
                s->aux = 4;
            s->value = s->aux == 8 ? (uint64_t)hi << 32 | lo : lo;
            break;
        }
        case OP_IRTE: {
            uint8_t idx = rd8(&r), f = rd8(&r), v = rd8(&r), d = rd8(&r);
            static const uint8_t dlm[8] = {0, 0, 0, 1, 1, 4, 2, 7};
            if (c->iommu != INTC_IOMMU_VTD)
                break;
            if (!(s = add(p, MO_MEMORY_WRITE)))
                break;
            idx &= 0x0f;
            s->value = MO_IRT + 16ull * idx;
            s->aux = 2;
            if (f & 0x80) {
                /* posted: descriptor idx % 4, notification vector v */
                uint64_t pda = MO_PID + 64ull * (idx & 3);
                mo_step *t;
                s->v[0] = 1 | 1ull << 15 | (uint64_t)vec_of(v) << 16 |
                          ((pda >> 6) & 0x3ffffffull) << 38;
                s->v[1] = pda & 0xffffffff00000000ull;
                if ((t = add(p, MO_MEMORY_WRITE))) {
                    t->value = pda + 32;
                    t->aux = 1;
                    /* NDST: x2APIC ID, or xAPIC ID in bits 15:8 */
                    t->v[0] = (uint64_t)vec_of(rd8(&r)) << 16 |
                              (uint64_t)(d % c->n_cpus)
                                  << (f & 0x40 ? 32 : 40) |
                              (f & 0x20 ? 2 : 0); /* SN */
                }
                break;
            }
            s->v[0] = (f & 0x20 ? 0 : 1) | (f & 0x01 ? 2 : 0) |
                      (f & 0x02 ? 4 : 0) | (f & 0x04 ? 8 : 0) |
                      (f & 0x08 ? 16 : 0) | (uint64_t)dlm[(f >> 4) & 7] << 5 |
                      (uint64_t)vec_of(v) << 16;
            /* destination: xAPIC (15:8) or x2APIC form */
            s->v[0] |= (f & 0x40) ? (uint64_t)dest_of(c, d) << 32
                                  : (uint64_t)dest_of(c, d) << 40;
            s->v[1] = 0;
            break;
        }
        case OP_SNAPSHOT: {
            uint8_t b = rd8(&r);
            if ((s = add(p, MO_SNAPSHOT))) {
                s->unit = b & 1;
                snapped[b & 1] = true;
            }
            break;
        }
        case OP_RESTORE: {
            uint8_t b = rd8(&r);
            if (snapped[b & 1] && (s = add(p, MO_RESTORE)))
                s->unit = b & 1;
            break;
        }
        case OP_BOOT:
            /* software-enable every APIC (SVR = 0x1ff) */
            for (unsigned i = 0; i < c->n_cpus; i++)
                if ((s = add(p, MO_WRITE))) {
                    s->cpu = (uint8_t)i;
                    s->reg = 0x0f0;
                    s->value = 0x1ff;
                }
            break;
        }
    }
    if (c->snap_at == 0xff || p->n == 0)
        c->snap_at = UINT32_MAX;
    else
        c->snap_at %= p->n;
}

/* ---- machine ---- */

void mo_machine_config(const mo_config *c, intc_machine_config *mc,
                       intc_ioapic_config io[MO_MAX_IOAPICS],
                       uint8_t wiring0[MO_IOAPIC0_PINS],
                       uint8_t wiring1[MO_IOAPIC1_PINS])
{
    intc_machine_config_init(mc);
    mc->n_cpus = c->n_cpus;
    mc->directed_eoi = c->directed_eoi;
    mc->focus_processor = c->focus;
    mc->msi_ext_dest = !c->no_ext_dest;
    if (c->storm) {
        mc->storm_threshold = 4;
        mc->storm_throttle_ns = 500;
    }
    for (unsigned i = 0; i < MO_IOAPIC0_PINS; i++)
        wiring0[i] = i < 16 ? 0 : INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW;
    for (unsigned i = 0; i < MO_IOAPIC1_PINS; i++)
        wiring1[i] = INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW;
    memset(io, 0, sizeof(intc_ioapic_config) * MO_MAX_IOAPICS);
    io[0].id = 8;
    io[0].version = c->ioapic0_v11 ? 0x11 : 0x20;
    io[0].n_pins = MO_IOAPIC0_PINS;
    io[0].gsi_base = 0;
    io[0].source_id = 0xf0f8;
    io[0].pin_wiring = wiring0;
    io[1].id = 9;
    io[1].version = 0x20;
    io[1].n_pins = MO_IOAPIC1_PINS;
    io[1].gsi_base = 24;
    io[1].source_id = 0xf0f9;
    io[1].pin_wiring = wiring1;
    mc->ioapics = io;
    mc->n_ioapics = c->n_ioapics;
    mc->iommu.kind = c->iommu;
}

static uint64_t cb_now(void *host, uint32_t cpu)
{
    (void)cpu;
    return ((mo_host *)host)->now;
}

static void timer_slot(mo_host *h, uint32_t slot, uint64_t d)
{
    if (slot < MO_MAX_CPUS + MO_MAX_IOAPICS)
        h->deadline[slot] = d;
}

static void cb_timer_arm(void *host, uint32_t cpu, uint64_t d)
{
    mo_host *h = host;
    if (cpu < h->cfg->n_cpus)
        timer_slot(h, cpu, d);
}

static void cb_ioapic_timer_arm(void *host, uint32_t io, uint64_t d)
{
    mo_host *h = host;
    if (io < h->cfg->n_ioapics)
        timer_slot(h, h->cfg->n_cpus + io, d);
}

static void cb_event(void *host, const intc_event *ev)
{
    mo_host *h = host;
    if ((unsigned)ev->type < INTC_EV_COUNT_)
        h->totals[ev->type]++;
    if (!h->quiet && h->obs.event)
        h->obs.event(h->obs.ctx, ev);
}

static void cb_kick(void *host, uint32_t cpu)
{
    mo_host *h = host;
    if (!h->quiet && h->obs.kick)
        h->obs.kick(h->obs.ctx, cpu);
}

static int cb_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    mo_host *h = host;
    if (addr < MO_MEM_BASE || len > MO_MEM_SIZE ||
        addr - MO_MEM_BASE > MO_MEM_SIZE - len)
        return -1;
    if (len)
        memcpy(buf, h->mem + (addr - MO_MEM_BASE), len);
    return 0;
}

static int cb_dma_write(void *host, uint64_t addr, const void *buf,
                        size_t len)
{
    mo_host *h = host;
    if (addr < MO_MEM_BASE || len > MO_MEM_SIZE ||
        addr - MO_MEM_BASE > MO_MEM_SIZE - len)
        return -1;
    if (len)
        memcpy(h->mem + (addr - MO_MEM_BASE), buf, len);
    return 0;
}

bool mo_host_init(mo_host *h, const mo_config *cfg, const mo_observer *obs)
{
    intc_machine_config mc;
    intc_ioapic_config io[MO_MAX_IOAPICS];
    uint8_t w0[MO_IOAPIC0_PINS], w1[MO_IOAPIC1_PINS];
    intc_host_ops ops = {
        .version = INTC_HOST_OPS_VERSION,
        .kick = cb_kick,
        .now_ns = cb_now,
        .timer_arm = cb_timer_arm,
        .dma_read = cb_dma_read,
        .dma_write = cb_dma_write,
        .event = cb_event,
        .ioapic_timer_arm = cb_ioapic_timer_arm,
    };
    intc_err e = INTC_OK;

    memset(h, 0, sizeof *h);
    h->cfg = cfg;
    if (obs)
        h->obs = *obs;
    if (obs && obs->untraced) {
        ops.event = NULL;
        h->untraced = true;
    }
    for (unsigned i = 0; i < MO_MAX_CPUS + MO_MAX_IOAPICS; i++)
        h->deadline[i] = UINT64_MAX;
    mo_machine_config(cfg, &mc, io, w0, w1);
    h->m = intc_machine_new(&mc, &ops, h, &e);
    if (!h->m)
        return false;
    for (unsigned i = 0; i < cfg->n_msix; i++) {
        h->msix[i] = intc_msix_new(h->m, MO_MSIX_VECTORS,
                                   (uint16_t)(0x100 + 8 * i), &e);
        if (!h->msix[i]) {
            intc_machine_free(h->m);
            h->m = NULL;
            return false;
        }
    }
    return true;
}

void mo_host_fini(mo_host *h)
{
    intc_machine_free(h->m);
    h->m = NULL;
    for (unsigned i = 0; i < MO_SNAP_SLOTS; i++) {
        free(h->snaps[i].img);
        free(h->snaps[i].shadow);
        h->snaps[i].img = NULL;
        h->snaps[i].shadow = NULL;
        h->snaps[i].valid = false;
    }
}

bool mo_host_copy_state(mo_host *dst, const mo_host *src)
{
    dst->now = src->now;
    memcpy(dst->deadline, src->deadline, sizeof dst->deadline);
    memcpy(dst->mem, src->mem, sizeof dst->mem);
    memcpy(dst->totals, src->totals, sizeof dst->totals);
    for (unsigned i = 0; i < MO_SNAP_SLOTS; i++) {
        const mo_snap *a = &src->snaps[i];
        mo_snap *b = &dst->snaps[i];
        free(b->img);
        free(b->shadow);
        *b = (mo_snap){0};
        if (!a->valid)
            continue;
        b->img = malloc(a->len ? a->len : 1);
        b->shadow = a->shadow && src->shadow_size
                        ? malloc(src->shadow_size) : NULL;
        if (!b->img || (a->shadow && src->shadow_size && !b->shadow))
            return false;
        memcpy(b->img, a->img, a->len);
        if (b->shadow)
            memcpy(b->shadow, a->shadow, src->shadow_size);
        b->len = a->len;
        b->valid = true;
    }
    return true;
}

bool mo_lapic_x2(intc_lapic *l)
{
    uint64_t base = 0;
    if (intc_lapic_msr_read(l, INTC_MSR_APIC_BASE, &base) != INTC_OK)
        return false;
    return (base & INTC_APIC_BASE_EN) && (base & INTC_APIC_BASE_EXTD);
}

void mo_host_enter_x2apic(mo_host *h)
{
    for (unsigned i = 0; i < h->cfg->n_cpus; i++)
        intc_lapic_msr_write(intc_machine_lapic(h->m, i), INTC_MSR_APIC_BASE,
                             INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN |
                                 INTC_APIC_BASE_EXTD |
                                 (i == 0 ? INTC_APIC_BASE_BSP : 0));
    h->x2 = true;
}

/* ---- executor (tools/intc-sim/run.c do_step) ---- */

static intc_err lapic_read(intc_lapic *l, uint32_t reg, uint64_t *val)
{
    intc_err e;
    uint64_t lo = 0, hi = 0;

    *val = 0;
    if (mo_lapic_x2(l))
        return intc_lapic_msr_read(
            l, reg == REG_ICR64 ? 0x830u : 0x800u + (reg >> 4), val);
    if (reg != REG_ICR64)
        return intc_lapic_mmio_read(l, reg, 4, val);
    e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_LO, 4, &lo);
    if (e == INTC_OK)
        e = intc_lapic_mmio_read(l, INTC_LAPIC_ICR_HI, 4, &hi);
    *val = hi << 32 | (lo & 0xffffffffu);
    return e;
}

static intc_err lapic_write(intc_lapic *l, uint32_t reg, uint64_t val)
{
    intc_err e;

    if (mo_lapic_x2(l))
        return intc_lapic_msr_write(
            l, reg == REG_ICR64 ? 0x830u : 0x800u + (reg >> 4), val);
    if (reg != REG_ICR64)
        return intc_lapic_mmio_write(l, reg, 4, val & 0xffffffffu);
    e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4, val >> 32);
    if (e == INTC_OK)
        e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4,
                                  val & 0xffffffffu);
    return e;
}

static void fire(mo_host *h, uint32_t slot)
{
    h->deadline[slot] = UINT64_MAX;
    h->fired |= 1u << slot;
    if (slot < h->cfg->n_cpus)
        intc_lapic_timer_expired(intc_machine_lapic(h->m, slot), h->now);
    else
        intc_ioapic_timer_expired(
            intc_machine_ioapic(h->m, slot - h->cfg->n_cpus), h->now);
}

/* Move the clock forward by up to d, firing due timers in deadline order
   (ties: CPUs by index, then IOAPICs), as intc-sim's advance does; after
   MO_MAX_FIRES expiries stop at the current time (the step then records
   the shorter advance it really made, which intc-sim reproduces). */
static void advance(mo_host *h, uint64_t d, mo_result *r)
{
    uint64_t start = h->now;
    uint64_t t = d > UINT64_MAX - 2 - h->now ? UINT64_MAX - 2 : h->now + d;
    unsigned nslots = h->cfg->n_cpus + h->cfg->n_ioapics, fires = 0;

    for (;;) {
        int best = -1;
        for (unsigned i = 0; i < nslots; i++)
            if (h->deadline[i] <= t &&
                (best < 0 || h->deadline[i] < h->deadline[best]))
                best = (int)i;
        if (best < 0)
            break;
        if (fires >= MO_MAX_FIRES) {
            t = h->now;
            if (h->deadline[best] > t)
                break;
            if (fires >= 4 * MO_MAX_FIRES) { /* re-armed at or before now */
                r->err = INTC_ERR_BUSY;
                break;
            }
        }
        if (h->deadline[best] > h->now)
            h->now = h->deadline[best];
        fire(h, (uint32_t)best);
        fires++;
    }
    if (t > h->now)
        h->now = t;
    r->advanced = h->now - start;
}

/* INTA; *spurious: it returned INTC_ACK_SPURIOUS(v) (11.9, lapic.h). */
static int ack(mo_host *h, intc_lapic *l, bool *spurious)
{
    int v = intc_lapic_ack(l);
    (void)h;
    *spurious = v > 255;
    return v;
}

static void runlog(mo_result *r, uint32_t cpu, unsigned kind, int val)
{
    if (r->n_runlog < MO_RUNLOG)
        r->runlog[r->n_runlog] = (mo_runrec){(uint8_t)cpu, (uint8_t)kind,
                                             (int16_t)val};
    r->n_runlog++;
}

static void run_cpu(mo_host *h, uint32_t cpu, mo_result *r)
{
    static const unsigned order[] = {INTC_PEND_INIT, INTC_PEND_SIPI,
                                     INTC_PEND_SMI, INTC_PEND_NMI,
                                     INTC_PEND_EXTINT};
    intc_lapic *l = intc_machine_lapic(h->m, cpu);
    unsigned acks = 0, takes = 0;
    bool extint_taken = false;

    while (acks < 256 && takes < 16) {
        unsigned p = intc_lapic_pending(l);
        bool took = false;

        for (unsigned i = 0; i < 5 && !took; i++) {
            uint8_t sv = 0;
            if (!(p & order[i]))
                continue;
            if (order[i] == INTC_PEND_EXTINT && extint_taken)
                continue;
            if (intc_lapic_take(l, order[i], &sv) == 1) {
                runlog(r, cpu, MO_RR_TAKE, (int)order[i]);
                extint_taken |= order[i] == INTC_PEND_EXTINT;
                took = true;
                takes++;
            }
        }
        if (took)
            continue;
        if (p & INTC_PEND_INTR) {
            bool spurious;
            int v = ack(h, l, &spurious);
            acks++;
            runlog(r, cpu, MO_RR_ACK, v);
            if (v < 0 || spurious)
                break;
            if (lapic_write(l, INTC_LAPIC_EOI, 0) != INTC_OK)
                break;
            runlog(r, cpu, MO_RR_EOI, 0);
            continue;
        }
        break;
    }
}

uint8_t *mo_save(intc_machine *m, size_t *len)
{
    /* One save into a buffer that is usually large enough (a sizing call
       first would walk the whole machine twice). */
    size_t cap = 16384, used = 0;
    uint8_t *img = malloc(cap);
    intc_err e;

    if (!img)
        return NULL;
    e = intc_machine_save(m, img, cap, &used);
    if (e == INTC_ERR_NOSPC) {
        uint8_t *n = realloc(img, used ? used : 1);
        if (!n) {
            free(img);
            return NULL;
        }
        img = n;
        e = intc_machine_save(m, img, used, &used);
    }
    if (e != INTC_OK) {
        free(img);
        return NULL;
    }
    *len = used;
    return img;
}

static intc_err load_image(mo_host *h, const void *img, size_t len)
{
    uint64_t old[MO_MAX_CPUS + MO_MAX_IOAPICS];
    unsigned nc = h->cfg->n_cpus, ns = nc + h->cfg->n_ioapics;
    intc_err e;

    memcpy(old, h->deadline, sizeof old);
    for (unsigned i = nc; i < ns; i++)
        h->deadline[i] = UINT64_MAX;
    e = intc_machine_load(h->m, img, len);
    if (e != INTC_OK) {
        for (unsigned i = nc; i < ns; i++)
            h->deadline[i] = old[i];
    } else {
        for (unsigned c = 0; c < nc; c++)
            h->deadline[c] =
                intc_lapic_timer_deadline(intc_machine_lapic(h->m, c));
    }
    return e;
}

void mo_exec(mo_host *h, const mo_step *s, mo_result *r)
{
    intc_lapic *l = intc_machine_lapic(h->m, s->cpu);
    intc_err e = INTC_OK;

    memset(r, 0, offsetof(mo_result, runlog));
    r->ack = -1;
    h->fired = 0;
    /* intc-sim moves the clock to each step's time first: timers already
       due (a restore can bring back a past deadline) fire now. */
    advance(h, 0, r);
    if (r->err)
        return;
    if (h->obs.mark)
        h->obs.mark(h->obs.ctx);
    switch ((enum mo_kind)s->kind) {
    case MO_WRITE:
        e = lapic_write(l, s->reg, s->value);
        break;
    case MO_READ:
        e = lapic_read(l, s->reg, &r->read);
        break;
    case MO_MMIO_WRITE:
        e = intc_lapic_mmio_write(l, s->reg, s->aux, s->value);
        break;
    case MO_WRMSR:
        e = intc_lapic_msr_write(l, s->reg, s->value);
        break;
    case MO_IPI: {
        unsigned mode = (s->aux >> 8) & 7, sh = (s->aux >> 12) & 3;
        uint64_t lo = (s->aux & 0xff) | (uint64_t)mode << 8 |
                      ((s->aux & MO_IPI_LOGICAL) ? 1u << 11 : 0) |
                      ((s->aux & MO_IPI_DEASSERT) ? 0 : 1u << 14) |
                      ((s->aux & MO_IPI_LEVEL) ? 1u << 15 : 0) |
                      (uint64_t)sh << 18;
        if (s->flags && h->x2) { /* differential self IPI, x2APIC form */
            e = intc_lapic_msr_write(l, 0x83f, s->aux & 0xff);
            break;
        }
        r->icr = lo;
        if (mo_lapic_x2(l)) {
            r->x2mode = true;
            e = intc_lapic_msr_write(l, 0x830, s->value << 32 | lo);
        } else if (s->value > 0xff && !sh) {
            r->skipped = true;
        } else {
            e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_HI, 4,
                                      sh ? 0 : s->value << 24);
            if (e == INTC_OK)
                e = intc_lapic_mmio_write(l, INTC_LAPIC_ICR_LO, 4, lo);
        }
        break;
    }
    case MO_TPR:
        e = intc_lapic_set_tpr(l, (uint8_t)s->value);
        break;
    case MO_LINT:
        e = intc_lapic_set_lint(l, s->reg, s->value != 0);
        break;
    case MO_ACK:
        r->ack = ack(h, l, &r->spurious);
        break;
    case MO_EOI:
        e = lapic_write(l, INTC_LAPIC_EOI, 0);
        break;
    case MO_TAKE:
        r->take = intc_lapic_take(l, s->aux, &r->sipi);
        break;
    case MO_RUN:
        if (!(s->flags & MO_RUN_ALL)) {
            run_cpu(h, s->cpu, r);
            break;
        }
        for (unsigned pass = 0; pass < 4; pass++) {
            bool any = false;
            for (uint32_t c = 0; c < h->cfg->n_cpus; c++) {
                if (!intc_lapic_pending(intc_machine_lapic(h->m, c)))
                    continue;
                any = true;
                run_cpu(h, c, r);
            }
            if (!any)
                break;
        }
        break;
    case MO_RAISE_LVT:
        e = intc_lapic_raise_lvt(l, s->aux);
        break;
    case MO_ADVANCE:
        advance(h, s->value, r);
        e = r->err;
        break;
    case MO_IOAPIC_RTE: {
        intc_ioapic *io = intc_machine_ioapic(h->m, s->unit);
        uint32_t sel = 0x10 + 2 * s->reg;
        e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, sel + 1);
        if (!e)
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                       s->value >> 32);
        if (!e)
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, sel);
        if (!e)
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4,
                                       s->value & 0xffffffffu);
        break;
    }
    case MO_IOAPIC_REG: {
        intc_ioapic *io = intc_machine_ioapic(h->m, s->unit);
        e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOREGSEL, 4, s->reg);
        if (!e)
            e = intc_ioapic_mmio_write(io, INTC_IOAPIC_IOWIN, 4, s->value);
        break;
    }
    case MO_IOAPIC_EOI:
        e = intc_ioapic_mmio_write(intc_machine_ioapic(h->m, s->unit),
                                   INTC_IOAPIC_EOI, 4, s->value);
        break;
    case MO_IRQ:
        e = intc_ioapic_set_irq_source(intc_machine_ioapic(h->m, s->unit),
                                       s->reg, s->aux, s->value != 0);
        break;
    case MO_MSI:
        e = intc_msi_send(h->m, s->value, (uint32_t)s->v[0],
                          (uint16_t)s->aux, NULL);
        break;
    case MO_MSIX_TABLE: {
        intc_msix *x = h->msix[s->unit];
        uint32_t o = 16 * s->reg;
        if (s->flags & MO_TF_ADDR) {
            e = intc_msix_table_write(x, o, 4, s->value & 0xffffffffu);
            if (!e)
                e = intc_msix_table_write(x, o + 4, 4, s->value >> 32);
        }
        if (!e && (s->flags & MO_TF_DATA))
            e = intc_msix_table_write(x, o + 8, 4, s->v[0]);
        if (!e && (s->flags & MO_TF_MASKED))
            e = intc_msix_table_write(x, o + 12, 4, s->v[1] ? 1 : 0);
        break;
    }
    case MO_MSIX_CONTROL:
        e = intc_msix_set_control(h->msix[s->unit], s->value != 0,
                                  s->v[0] != 0);
        break;
    case MO_MSIX_NOTIFY:
        e = intc_msix_notify(h->msix[s->unit], (uint16_t)s->value, NULL);
        break;
    case MO_IOMMU_WRITE:
        e = intc_iommu_mmio_write(intc_machine_iommu(h->m), s->reg, s->aux,
                                  s->value);
        break;
    case MO_MEMORY_WRITE:
        for (unsigned i = 0; i < s->aux && i < 4; i++)
            memcpy(h->mem + (s->value - MO_MEM_BASE) + 8 * i, &s->v[i], 8);
        break;
    case MO_SNAPSHOT: {
        mo_snap *sn = &h->snaps[s->unit];
        size_t used = 0;
        uint8_t *img = mo_save(h->m, &used);
        if (!img) {
            e = INTC_ERR_NOMEM;
            break;
        }
        free(sn->img);
        sn->img = img;
        sn->len = used;
        sn->valid = true;
        if (h->shadow_size) {
            if (!sn->shadow)
                sn->shadow = malloc(h->shadow_size);
            if (sn->shadow)
                memcpy(sn->shadow, h->shadow, h->shadow_size);
        }
        break;
    }
    case MO_RESTORE: {
        mo_snap *sn = &h->snaps[s->unit];
        if (!sn->valid) {
            r->skipped = true;
            break;
        }
        e = load_image(h, sn->img, sn->len);
        if (e == INTC_OK && h->shadow_size && sn->shadow)
            memcpy(h->shadow, sn->shadow, h->shadow_size);
        break;
    }
    case MO_KIND_COUNT:
        break;
    }
    r->err = e;
}

/* ---- scenario output ---- */

static void hex(FILE *f, uint64_t v)
{
    if (v < 10)
        fprintf(f, "%" PRIu64, v);
    else
        fprintf(f, "0x%" PRIx64, v);
}

void mo_yaml_machine(FILE *f, const mo_config *c, bool x2)
{
    fprintf(f, "machine:\n  cpus: %u\n", c->n_cpus);
    if (c->directed_eoi)
        fprintf(f, "  directed_eoi: true\n");
    if (c->focus)
        fprintf(f, "  focus_processor: true\n");
    if (c->no_ext_dest)
        fprintf(f, "  msi_ext_dest: false\n");
    if (c->storm)
        fprintf(f, "  storm_threshold: 4\n  storm_throttle: 500\n");
    fprintf(f, "  ioapics:\n");
    fprintf(f, "    - {id: 8, version: 0x%x, pins: %u, gsi_base: 0, "
               "source_id: 0xf0f8,\n       wiring: {\"0-15\": edge-high, "
               "\"16-23\": level-low}}\n",
            c->ioapic0_v11 ? 0x11 : 0x20, MO_IOAPIC0_PINS);
    if (c->n_ioapics > 1)
        fprintf(f, "    - {id: 9, version: 0x20, pins: %u, gsi_base: 24, "
                   "source_id: 0xf0f9,\n       wiring: {\"0-7\": "
                   "level-low}}\n", MO_IOAPIC1_PINS);
    if (c->n_msix) {
        fprintf(f, "  msix:\n");
        for (unsigned i = 0; i < c->n_msix; i++)
            fprintf(f, "    - {name: dev%u, vectors: %u, source_id: 0x%x}\n",
                    i, MO_MSIX_VECTORS, 0x100 + 8 * i);
    }
    if (c->iommu) {
        fprintf(f, "  iommu: {kind: %s}\n",
                c->iommu == INTC_IOMMU_VTD ? "vtd" : "amdvi");
        fprintf(f, "  memory:\n    - {addr: 0x%llx, size: 0x%x}\n",
                (unsigned long long)MO_MEM_BASE, MO_MEM_SIZE);
    }
    fprintf(f, "steps:\n");
    if (x2)
        for (unsigned i = 0; i < c->n_cpus; i++)
            fprintf(f, "  - {cpu: %u, wrmsr: {msr: 0x1b, value: 0x%llx}}"
                       "  # x2APIC mode\n", i,
                    (unsigned long long)(INTC_APIC_BASE_DEFAULT |
                                         INTC_APIC_BASE_EN |
                                         INTC_APIC_BASE_EXTD |
                                         (i == 0 ? INTC_APIC_BASE_BSP : 0)));
}

static void expect_err(FILE *f, const mo_result *r)
{
    if (!r)
        return;
    if (r->err == INTC_ERR_GP)
        fprintf(f, ", expect_error: gp");
    else if (r->err == INTC_ERR_NOT_DECODED)
        fprintf(f, ", expect_error: not_decoded");
    else if (r->err == INTC_ERR_INVAL)
        fprintf(f, ", expect_error: inval");
}

static void reg_out(FILE *f, uint32_t reg)
{
    const char *n = mo_reg_name(reg);
    if (n)
        fprintf(f, "%s", n);
    else
        fprintf(f, "0x%x", reg);
}

void mo_yaml_step(FILE *f, const mo_config *c, const mo_step *s,
                  const mo_result *r, bool x2)
{
    static const char *const modes[8] = {"fixed", "lowest", "smi", "?",
                                         "nmi", "init", "sipi", "extint"};
    static const char *const sh[4] = {"none", "self", "all", "others"};
    (void)c;

    if (r && r->skipped) {
        fprintf(f, "  # (step not executable here: skipped)\n");
        return;
    }
    fprintf(f, "  - {");
    switch ((enum mo_kind)s->kind) {
    case MO_WRITE:
        fprintf(f, "cpu: %u, write: {reg: ", s->cpu);
        reg_out(f, s->reg);
        fprintf(f, ", value: ");
        hex(f, s->value);
        expect_err(f, r);
        fprintf(f, "}");
        break;
    case MO_READ:
        fprintf(f, "cpu: %u, read: {reg: ", s->cpu);
        reg_out(f, s->reg);
        if (r && r->err == INTC_OK) {
            fprintf(f, ", expect: ");
            hex(f, r->read);
        }
        expect_err(f, r);
        fprintf(f, "}");
        break;
    case MO_MMIO_WRITE:
        fprintf(f, "cpu: %u, mmio_write: {offset: 0x%x, size: %u, value: ",
                s->cpu, s->reg, s->aux);
        hex(f, s->value);
        expect_err(f, r);
        fprintf(f, "}");
        break;
    case MO_WRMSR:
        fprintf(f, "cpu: %u, wrmsr: {msr: 0x%x, value: ", s->cpu, s->reg);
        hex(f, s->value);
        expect_err(f, r);
        fprintf(f, "}");
        break;
    case MO_IPI:
        if (s->flags && x2) {
            fprintf(f, "cpu: %u, write: {reg: self_ipi, value: 0x%x}",
                    s->cpu, s->aux & 0xff);
            break;
        }
        if (r && r->err) { /* the register write that failed */
            if (r->x2mode)
                fprintf(f, "cpu: %u, write: {reg: icr, value: 0x%" PRIx64,
                        s->cpu, s->value << 32 | r->icr);
            else
                fprintf(f, "cpu: %u, write: {reg: icr_hi, value: 0x%" PRIx64,
                        s->cpu, ((s->aux >> 12) & 3) ? 0 : s->value << 24);
            expect_err(f, r);
            fprintf(f, "}");
            break;
        }
        fprintf(f, "cpu: %u, ipi: {", s->cpu);
        if (((s->aux >> 12) & 3) == 0)
            fprintf(f, "dest: 0x%" PRIx64 ", ", s->value);
        else
            fprintf(f, "shorthand: %s, ", sh[(s->aux >> 12) & 3]);
        fprintf(f, "vector: 0x%x, mode: %s", s->aux & 0xff,
                modes[(s->aux >> 8) & 7]);
        if (s->aux & MO_IPI_LOGICAL)
            fprintf(f, ", logical: true");
        if (s->aux & MO_IPI_LEVEL)
            fprintf(f, ", level: true");
        if (s->aux & MO_IPI_DEASSERT)
            fprintf(f, ", assert: false");
        fprintf(f, "}");
        break;
    case MO_TPR:
        fprintf(f, "cpu: %u, tpr: 0x%" PRIx64, s->cpu, s->value);
        break;
    case MO_LINT:
        fprintf(f, "cpu: %u, lint: {pin: %u, level: %s}", s->cpu, s->reg,
                s->value ? "true" : "false");
        break;
    case MO_ACK:
        fprintf(f, "cpu: %u, ack: ", s->cpu);
        if (!r)
            fprintf(f, "{}");
        else if (r->ack < 0)
            fprintf(f, "none");
        else if (r->spurious)
            fprintf(f, "spurious");
        else
            fprintf(f, "0x%02x", r->ack);
        break;
    case MO_EOI:
        if (r && r->err) { /* only `write` can say expect_error */
            fprintf(f, "cpu: %u, write: {reg: eoi, value: 0", s->cpu);
            expect_err(f, r);
            fprintf(f, "}");
            break;
        }
        fprintf(f, "cpu: %u, eoi: true", s->cpu);
        break;
    case MO_TAKE: {
        const char *w = s->aux == INTC_PEND_NMI    ? "nmi"
                        : s->aux == INTC_PEND_SMI  ? "smi"
                        : s->aux == INTC_PEND_INIT ? "init"
                        : s->aux == INTC_PEND_SIPI ? "sipi"
                                                   : "extint";
        fprintf(f, "cpu: %u, take: %s", s->cpu, w);
        if (r && r->take != 1)
            fprintf(f, ", expect: false");
        else if (r && s->aux == INTC_PEND_SIPI)
            fprintf(f, ", vector: 0x%02x", r->sipi);
        break;
    }
    case MO_RUN:
        if (s->flags & MO_RUN_ALL)
            fprintf(f, "run: true");
        else
            fprintf(f, "cpu: %u, run: true", s->cpu);
        break;
    case MO_RAISE_LVT:
        fprintf(f, "cpu: %u, raise_lvt: %s", s->cpu,
                s->aux == INTC_LVT_CMCI      ? "cmci"
                : s->aux == INTC_LVT_THERMAL ? "thermal"
                                             : "perf");
        break;
    case MO_ADVANCE:
        fprintf(f, "advance: %" PRIu64, r ? r->advanced : s->value);
        break;
    case MO_IOAPIC_RTE:
        fprintf(f, "ioapic_write: {ioapic: %u, pin: %u, rte: 0x%" PRIx64 "}",
                s->unit, s->reg, s->value);
        break;
    case MO_IOAPIC_REG:
        fprintf(f, "ioapic_write: {ioapic: %u, reg: 0x%x, value: 0x%" PRIx64
                   "}", s->unit, s->reg, s->value);
        break;
    case MO_IOAPIC_EOI:
        fprintf(f, "ioapic_eoi: {ioapic: %u, vector: 0x%" PRIx64 "}", s->unit,
                s->value);
        break;
    case MO_IRQ:
        fprintf(f, "irq: {ioapic: %u, pin: %u, level: %s", s->unit, s->reg,
                s->value ? "true" : "false");
        if (s->aux)
            fprintf(f, ", source: %u", s->aux);
        fprintf(f, "}");
        break;
    case MO_MSI:
        fprintf(f, "msi: {addr: 0x%" PRIx64 ", data: 0x%" PRIx64
                   ", source_id: %u}", s->value, s->v[0], s->aux);
        break;
    case MO_MSIX_TABLE:
        fprintf(f, "msix_table: {device: dev%u, entry: %u", s->unit, s->reg);
        if (s->flags & MO_TF_ADDR)
            fprintf(f, ", addr: 0x%" PRIx64, s->value);
        if (s->flags & MO_TF_DATA)
            fprintf(f, ", data: 0x%" PRIx64, s->v[0]);
        if (s->flags & MO_TF_MASKED)
            fprintf(f, ", masked: %s", s->v[1] ? "true" : "false");
        fprintf(f, "}");
        break;
    case MO_MSIX_CONTROL:
        fprintf(f, "msix_control: {device: dev%u, enable: %s, mask: %s}",
                s->unit, s->value ? "true" : "false",
                s->v[0] ? "true" : "false");
        break;
    case MO_MSIX_NOTIFY:
        fprintf(f, "msix_notify: {device: dev%u, vector: %" PRIu64 "}",
                s->unit, s->value);
        break;
    case MO_IOMMU_WRITE:
        fprintf(f, "iommu_write: {offset: 0x%x, size: %u, value: 0x%" PRIx64,
                s->reg, s->aux, s->value);
        expect_err(f, r);
        fprintf(f, "}");
        break;
    case MO_MEMORY_WRITE:
        fprintf(f, "memory_write: {addr: 0x%" PRIx64 ", qwords: [", s->value);
        for (unsigned i = 0; i < s->aux && i < 4; i++)
            fprintf(f, "%s0x%" PRIx64, i ? ", " : "", s->v[i]);
        fprintf(f, "]}");
        break;
    case MO_SNAPSHOT:
        fprintf(f, "snapshot: s%u", s->unit);
        break;
    case MO_RESTORE:
        fprintf(f, "restore: s%u", s->unit);
        break;
    case MO_KIND_COUNT:
        break;
    }
    fprintf(f, "}\n");
}

/* The generic fuzz recipe (fuzz/CMakeLists.txt, fuzz/build.sh) links one
   extra file per target, <name>_ops.c: the oracles are compiled as part
   of this one. */
#include "oracles.c"
