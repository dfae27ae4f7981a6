/*
 * Whole-machine fuzzing: the decoder of bytes into the testkit's
 * operations, its encoder, the host (the kit's) and the scenario printer
 * (machine_ops.h).  The operations run through kit_exec, intc-sim's
 * executor too.
 */
#include "machine_ops.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

#define REG_ICR64 KIT_REG_ICR64

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

/* One decoding: the reader, the program, the opcode's CPU. */
typedef struct mo_dec {
    mo_rd *r;
    mo_program *p;
    const mo_config *c;
    uint8_t cpu;
    bool snapped[MO_SNAP_SLOTS];
} mo_dec;

static mo_step *add(mo_dec *d, unsigned kind)
{
    mo_step *s;

    if (d->p->n >= MO_MAX_STEPS)
        return NULL;
    s = &d->p->steps[d->p->n++];
    memset(s, 0, sizeof *s);
    s->kind = (uint16_t)kind;
    return s;
}

/* A step of the opcode's CPU. */
static mo_step *add_cpu(mo_dec *d, unsigned kind)
{
    mo_step *s = add(d, kind);

    if (s)
        s->cpu = d->cpu;
    return s;
}

static void dec_write(mo_dec *d)
{
    uint8_t sel = rd8(d->r);
    const mo_config *c = d->c;
    uint32_t reg;
    mo_step *s;

    if (c->diff)
        reg = diff_wregs[sel % (sizeof diff_wregs / sizeof diff_wregs[0])];
    else if (sel >= 0xf8)
        reg = (uint32_t)(rd8(d->r) & 0x3f) << 4; /* any slot */
    else
        reg = wregs[sel % N_WREGS];
    if (!(s = add_cpu(d, KIT_OP_WRITE)))
        return;
    s->index = reg;
    s->value = write_value(d->r, c, reg, c->diff);
    if (reg != KIT_REG_ICR64)
        s->value &= 0xffffffffu;
    if (c->diff && reg == 0x320) /* TSC-deadline is in both modes */
        s->value &= 0x700ffu;
}

static void dec_ipi(mo_dec *d, bool self)
{
    static const uint8_t modes[8] = {0, 0, 1, 2, 4, 5, 6, 7};
    uint8_t a = rd8(d->r), v = rd8(d->r), b = rd8(d->r);
    mo_step *s = add_cpu(d, KIT_OP_IPI);

    if (!s)
        return;
    if (self) {
        /* x2APIC SELF IPI register vs ICR self shorthand */
        s->value2 = (uint32_t)(0x10 + v % 0xf0);
        s->size = 1;
        s->flags = KIT_IPI_SELF_REG;
        return;
    }
    s->value = d->c->diff ? a % (d->c->n_cpus + 1) : dest_of(d->c, a);
    s->value2 = vec_of(v);
    s->index = modes[b & 7];
    s->size = (b >> 3) & 3;
    if (!d->c->diff && (b & 0x20))
        s->flags |= KIT_IPI_LOGICAL;
    if (b & 0x40)
        s->flags |= KIT_IPI_LEVEL;
    if (b & 0x80)
        s->flags |= KIT_IPI_DEASSERT;
}

static void dec_ipi_dest(mo_dec *d)
{
    dec_ipi(d, false);
}

static void dec_self_ipi(mo_dec *d)
{
    dec_ipi(d, true);
}

/* The CPU ops with one byte operand: tpr, lint, take, run, raise_lvt. */
static void dec_cpu_byte(mo_dec *d, unsigned kind)
{
    uint8_t b = rd8(d->r);
    mo_step *s = add_cpu(d, kind);

    if (!s)
        return;
    switch (kind) {
    case KIT_OP_TPR:
        s->value = b;
        break;
    case KIT_OP_LINT:
        s->index = b & 1;
        s->value = (b >> 1) & 1;
        break;
    case KIT_OP_TAKE:
        s->index = kit_take_codes[b % 5];
        break;
    case KIT_OP_RUN:
        s->flags = b & 1 ? KIT_RUN_ALL : 0;
        break;
    default:
        s->index = kit_lvt_codes[b % 3];
        break;
    }
}

static void dec_tpr(mo_dec *d) { dec_cpu_byte(d, KIT_OP_TPR); }
static void dec_lint(mo_dec *d) { dec_cpu_byte(d, KIT_OP_LINT); }
static void dec_take(mo_dec *d) { dec_cpu_byte(d, KIT_OP_TAKE); }
static void dec_run(mo_dec *d) { dec_cpu_byte(d, KIT_OP_RUN); }
static void dec_raise(mo_dec *d) { dec_cpu_byte(d, KIT_OP_RAISE_LVT); }
static void dec_ack(mo_dec *d) { add_cpu(d, KIT_OP_ACK); }
static void dec_eoi(mo_dec *d) { add_cpu(d, KIT_OP_EOI); }

static void dec_advance(mo_dec *d)
{
    static const unsigned shift[4] = {0, 4, 8, 12};
    uint8_t b = rd8(d->r), a = rd8(d->r);
    mo_step *s = add(d, KIT_OP_ADVANCE);

    if (s)
        s->value = (uint64_t)a << shift[b & 3];
}

static uint8_t ioapic_of(mo_dec *d)
{
    return (uint8_t)(rd8(d->r) % d->c->n_ioapics);
}

static void dec_rte(mo_dec *d)
{
    uint8_t i = ioapic_of(d);
    uint8_t pin = (uint8_t)(rd8(d->r) % pins_of(i));
    mo_step *s = add(d, KIT_OP_IOAPIC_RTE);

    if (!s)
        return;
    s->unit = i;
    s->index = pin;
    s->value = rte_value(d->r, d->c, i, pin, d->c->diff);
}

static void dec_ioreg(mo_dec *d)
{
    uint8_t i = ioapic_of(d), b = rd8(d->r);
    uint32_t val = rd32(d->r);
    mo_step *s = add(d, KIT_OP_IOAPIC_REG);

    if (!s)
        return;
    s->unit = i;
    /* mostly the low or high half of an entry */
    s->index = b < 0xf0 ? 0x10u + (b % (2 * pins_of(i))) : b & 3;
    s->value = val;
}

static void dec_ioeoi(mo_dec *d)
{
    uint8_t i = ioapic_of(d), v = rd8(d->r);
    mo_step *s = add(d, KIT_OP_IOAPIC_EOI);

    if (s) {
        s->unit = i;
        s->value = vec_of(v);
    }
}

static void dec_irq(mo_dec *d)
{
    uint8_t i = ioapic_of(d);
    uint8_t pin = (uint8_t)(rd8(d->r) % pins_of(i)), b = rd8(d->r);
    mo_step *s = add(d, KIT_OP_IRQ), *t;

    if (!s)
        return;
    s->unit = i;
    s->index = pin;
    s->source = (b >> 2) & 1; /* source 0 or 1 (shared line) */
    s->value = b & 1;
    if (b & 2) { /* a pulse: assert then de-assert */
        s->value = 1;
        if ((t = add(d, KIT_OP_IRQ))) {
            *t = *s;
            t->value = 0;
        }
    }
}

static void dec_msi(mo_dec *d)
{
    mo_step *s = add(d, KIT_OP_MSI);

    if (!s)
        return;
    s->addr = msi_addr(d->r, d->c, d->c->diff);
    s->value = msi_data(d->r, d->c->diff);
    s->source = rd8(d->r) & 3; /* source-id */
}

static void dec_msix_table(mo_dec *d)
{
    uint8_t dv = rd8(d->r), e = rd8(d->r), f = rd8(d->r);
    mo_step *s;

    if (!d->c->n_msix || !(s = add(d, KIT_OP_MSIX_TABLE)))
        return;
    s->unit = (uint8_t)(dv % d->c->n_msix);
    s->index = e % MO_MSIX_VECTORS;
    s->flags = (uint16_t)(f & 7);
    if (!s->flags)
        s->flags = KIT_TF_ADDR | KIT_TF_DATA | KIT_TF_MASKED;
    s->addr = msi_addr(d->r, d->c, d->c->diff);
    s->value = msi_data(d->r, d->c->diff);
    s->value2 = (f >> 3) & 1; /* masked */
}

static void dec_msix_ctrl(mo_dec *d)
{
    uint8_t dv = rd8(d->r), b = rd8(d->r);
    mo_step *s;

    if (!d->c->n_msix || !(s = add(d, KIT_OP_MSIX_CONTROL)))
        return;
    s->unit = (uint8_t)(dv % d->c->n_msix);
    s->value = !(b & 1);
    s->value2 = (b >> 1) & 1;
}

static void dec_msix_notify(mo_dec *d)
{
    uint8_t dv = rd8(d->r), e = rd8(d->r);
    mo_step *s;

    if (!d->c->n_msix || !(s = add(d, KIT_OP_MSIX_NOTIFY)))
        return;
    s->unit = (uint8_t)(dv % d->c->n_msix);
    s->index = e % MO_MSIX_VECTORS;
}

/* wrmsr: IA32_APIC_BASE, TSC deadline, or an x2APIC register. */
static void dec_wrmsr(mo_dec *d)
{
    static const uint64_t base[4] = {
        INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN | INTC_APIC_BASE_EXTD,
        INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN, 0,
        INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EXTD};
    uint8_t sel = rd8(d->r), b = rd8(d->r);
    mo_step *s = add_cpu(d, KIT_OP_WRMSR);
    uint32_t reg;

    if (!s)
        return;
    if (sel % 8 < 2) {
        s->index = INTC_MSR_APIC_BASE;
        s->value = base[b & 3] |
                   (d->cpu == 0 && !(b & 4) ? INTC_APIC_BASE_BSP : 0);
        if (b >= 0xf8)
            s->value = rd32(d->r) | (uint64_t)rd32(d->r) << 32;
        return;
    }
    if (sel % 8 == 2) {
        s->index = INTC_MSR_TSC_DEADLINE;
        s->value = (uint64_t)rd16(d->r) * 4;
        return;
    }
    reg = wregs[b % N_WREGS];
    if (reg == KIT_REG_ICR64)
        reg = 0x300;
    s->index = reg == 0x300 ? 0x830 : 0x800u + (reg >> 4);
    s->value = write_value(d->r, d->c, reg == 0x300 ? KIT_REG_ICR64 : reg,
                           false);
    if (sel >= 0xf0)
        s->value |= (uint64_t)rd8(d->r) << (32 + (sel & 7) * 4);
}

static void dec_tsc_deadline(mo_dec *d)
{
    mo_step *s = add_cpu(d, KIT_OP_WRMSR);

    if (s) {
        s->index = INTC_MSR_TSC_DEADLINE;
        s->value = (uint64_t)rd16(d->r) * 4;
    }
}

static void dec_read(mo_dec *d)
{
    uint8_t sel = rd8(d->r);
    mo_step *s = add_cpu(d, KIT_OP_READ);

    if (s)
        s->index = d->c->diff
                       ? diff_rregs[sel % (sizeof diff_rregs /
                                           sizeof diff_rregs[0])]
                       : rregs[sel % (sizeof rregs / sizeof rregs[0])];
}

static void dec_mmio(mo_dec *d)
{
    static const unsigned sizes[8] = {4, 4, 1, 2, 8, 4, 3, 4};
    uint8_t b = rd8(d->r);
    uint16_t off = rd16(d->r);
    uint32_t val = rd32(d->r);
    mo_step *s = add_cpu(d, KIT_OP_MMIO_WRITE);

    if (!s)
        return;
    s->size = sizes[b & 7];
    s->addr = (b & 8) ? off & 0xfffu : (off & 0x3f0u) | (b >> 4 & 3);
    s->value = val;
}

static void iommu_write(mo_dec *d, uint32_t reg, unsigned size, uint64_t v)
{
    mo_step *s = add(d, KIT_OP_IOMMU_WRITE);

    if (s) {
        s->addr = reg;
        s->size = size;
        s->value = v;
    }
}

static void dec_ir_setup(mo_dec *d)
{
    uint8_t b = rd8(d->r);

    if (d->c->iommu == INTC_IOMMU_VTD) {
        /* IRTA (256 entries), SIRTP, then IRE (+CFI) */
        iommu_write(d, INTC_VTD_IRTA, 8,
                    MO_IRT | (b & 1 ? INTC_VTD_IRTA_EIME : 0) | 7);
        iommu_write(d, INTC_VTD_GCMD, 4, INTC_VTD_GCMD_SIRTP);
        iommu_write(d, INTC_VTD_GCMD, 4,
                    (b & 2 ? 0 : INTC_VTD_GCMD_IRE) |
                        (b & 4 ? INTC_VTD_GCMD_CFI : 0));
    } else if (d->c->iommu == INTC_IOMMU_AMDVI) {
        iommu_write(d, INTC_AMDVI_DEVTAB, 8, MO_DEVTAB); /* 128 devices */
        iommu_write(d, INTC_AMDVI_CONTROL, 8,
                    1u | (b & 1 ? 1ull << 22 : 0)); /* En, GAEn? */
    }
}

static void dec_iommu_write(mo_dec *d)
{
    static const uint32_t vtd_regs[8] = {
        INTC_VTD_GCMD, INTC_VTD_IRTA, INTC_VTD_FSTS, INTC_VTD_FECTL,
        INTC_VTD_FEDATA, INTC_VTD_FEADDR, INTC_VTD_IQT, INTC_VTD_FRR + 12};
    static const uint32_t amd_regs[8] = {
        INTC_AMDVI_DEVTAB, INTC_AMDVI_CONTROL, INTC_AMDVI_CMDBUF,
        INTC_AMDVI_EVTLOG, INTC_AMDVI_CMD_TAIL, INTC_AMDVI_EVT_HEAD,
        INTC_AMDVI_STATUS, INTC_AMDVI_CMD_HEAD};
    uint8_t b = rd8(d->r);
    uint32_t lo = rd32(d->r), hi = rd32(d->r), reg;
    unsigned size;

    if (!d->c->iommu)
        return;
    reg = d->c->iommu == INTC_IOMMU_VTD ? vtd_regs[b & 7] : amd_regs[b & 7];
    size = (b & 8) && !(reg & 4) ? 8 : 4;
    iommu_write(d, reg, size, size == 8 ? (uint64_t)hi << 32 | lo : lo);
}

/* memory_write of n qwords (the step's own byte buffer). */
static mo_step *mem_write(mo_dec *d, uint64_t addr, const uint64_t *q,
                          unsigned n)
{
    mo_step *s = add(d, KIT_OP_MEMORY_WRITE);
    uint8_t *b;

    if (!s)
        return NULL;
    b = d->p->bytes[d->p->n - 1];
    for (unsigned i = 0; i < n; i++)
        for (unsigned k = 0; k < 8; k++)
            b[8 * i + k] = (uint8_t)(q[i] >> (8 * k));
    s->addr = addr;
    s->size = 8;
    s->bytes = b;
    s->n_bytes = 8u * n;
    return s;
}

/* A VT-d IRTE at index idx (posted: and its descriptor's NV/NDST). */
static void dec_irte(mo_dec *d)
{
    static const uint8_t dlm[8] = {0, 0, 0, 1, 1, 4, 2, 7};
    uint8_t idx = rd8(d->r), f = rd8(d->r), v = rd8(d->r), dst = rd8(d->r);
    uint64_t q[2] = {0, 0};

    if (d->c->iommu != INTC_IOMMU_VTD || d->p->n >= MO_MAX_STEPS)
        return;
    idx &= 0x0f;
    if (f & 0x80) {
        /* posted: descriptor idx % 4, notification vector v */
        uint64_t pda = MO_PID + 64ull * (idx & 3);
        q[0] = 1 | 1ull << 15 | (uint64_t)vec_of(v) << 16 |
               ((pda >> 6) & 0x3ffffffull) << 38;
        q[1] = pda & 0xffffffff00000000ull;
        mem_write(d, MO_IRT + 16ull * idx, q, 2);
        if (d->p->n < MO_MAX_STEPS) {
            /* NDST: x2APIC ID, or xAPIC ID in bits 15:8 */
            q[0] = (uint64_t)vec_of(rd8(d->r)) << 16 |
                   (uint64_t)(dst % d->c->n_cpus) << (f & 0x40 ? 32 : 40) |
                   (f & 0x20 ? 2 : 0); /* SN */
            mem_write(d, pda + 32, q, 1);
        }
        return;
    }
    q[0] = (f & 0x20 ? 0 : 1) | (f & 0x01 ? 2 : 0) | (f & 0x02 ? 4 : 0) |
           (f & 0x04 ? 8 : 0) | (f & 0x08 ? 16 : 0) |
           (uint64_t)dlm[(f >> 4) & 7] << 5 | (uint64_t)vec_of(v) << 16;
    /* destination: xAPIC (15:8) or x2APIC form */
    q[0] |= (f & 0x40) ? (uint64_t)dest_of(d->c, dst) << 32
                       : (uint64_t)dest_of(d->c, dst) << 40;
    mem_write(d, MO_IRT + 16ull * idx, q, 2);
}

static void dec_snapshot(mo_dec *d)
{
    uint8_t b = rd8(d->r);
    mo_step *s = add(d, KIT_OP_SNAPSHOT);

    if (s) {
        s->unit = b & 1;
        d->snapped[b & 1] = true;
    }
}

static void dec_restore(mo_dec *d)
{
    uint8_t b = rd8(d->r);
    mo_step *s;

    if (d->snapped[b & 1] && (s = add(d, KIT_OP_RESTORE)))
        s->unit = b & 1;
}

/* Software-enable every APIC (SVR = 0x1ff). */
static void dec_boot(mo_dec *d)
{
    mo_step *s;

    for (unsigned i = 0; i < d->c->n_cpus; i++)
        if ((s = add(d, KIT_OP_WRITE))) {
            s->cpu = (uint8_t)i;
            s->index = 0x0f0;
            s->value = 0x1ff;
        }
}

/* OP_* -> its decoder. */
static void (*const decoders[])(mo_dec *) = {
    [OP_WRITE] = dec_write,         [OP_IPI] = dec_ipi_dest,
    [OP_TPR] = dec_tpr,             [OP_LINT] = dec_lint,
    [OP_ACK] = dec_ack,             [OP_EOI] = dec_eoi,
    [OP_TAKE] = dec_take,           [OP_RUN] = dec_run,
    [OP_RAISE] = dec_raise,         [OP_ADVANCE] = dec_advance,
    [OP_RTE] = dec_rte,             [OP_IOREG] = dec_ioreg,
    [OP_IOEOI] = dec_ioeoi,         [OP_IRQ] = dec_irq,
    [OP_MSI] = dec_msi,             [OP_MSIX_TABLE] = dec_msix_table,
    [OP_MSIX_CTRL] = dec_msix_ctrl, [OP_MSIX_NOTIFY] = dec_msix_notify,
    [OP_WRMSR] = dec_wrmsr,         [OP_READ] = dec_read,
    [OP_MMIO] = dec_mmio,           [OP_IR_SETUP] = dec_ir_setup,
    [OP_IOMMU_WRITE] = dec_iommu_write, [OP_IRTE] = dec_irte,
    [OP_SNAPSHOT] = dec_snapshot,   [OP_RESTORE] = dec_restore,
    [OP_BOOT] = dec_boot,           [OP_SELF_IPI] = dec_self_ipi,
    [OP_TSC_DEADLINE] = dec_tsc_deadline,
};

/* ---- the raw escape: one kit_op, full width ---- */

static uint64_t rd64(mo_rd *r)
{
    uint64_t v = rd32(r);
    return v | (uint64_t)rd32(r) << 32;
}

/* Flags a kind may carry: its table's, plus the executor's own. */
static uint16_t kind_flags(unsigned kind)
{
    const kit_op_info *in = &kit_op_table[kind];
    uint16_t f = 0;

    for (unsigned i = 0; i < in->n_fields; i++)
        if (in->fields[i].flag != KIT_OPT)
            f |= in->fields[i].flag;
    if (kind == KIT_OP_RUN)
        f |= KIT_RUN_ALL;
    if (kind == KIT_OP_IPI)
        f |= KIT_IPI_SELF_REG;
    return f;
}

/* The number of units (IOAPICs, devices...) a field's type indexes. */
static uint64_t units(const mo_config *c, const kit_op *op,
                      const kit_field *fd)
{
    switch (fd->type) {
    case KIT_F_IOAPIC: return c->n_ioapics;
    case KIT_F_PIN: return pins_of(op->unit);
    case KIT_F_MSIX: case KIT_F_DEVICE: return c->n_msix;
    case KIT_F_MSI: return 0;
    case KIT_F_ENTRY: case KIT_F_DEVVEC: return MO_MSIX_VECTORS;
    case KIT_F_SNAP: case KIT_F_SNAP_USE: return MO_SNAP_SLOTS;
    case KIT_F_CPU_IDX: return c->n_cpus;
    default: return 0;
    }
}

static bool fit_field(const mo_config *c, kit_op *op, const kit_field *fd)
{
    uint64_t v = kit_op_get(op, fd->slot), n = units(c, op, fd);

    if (op->kind == KIT_OP_TIMER_EXPIRED && fd->slot == KIT_S_UNIT)
        return true; /* cpu or ioapic: mo_fit */
    switch (fd->type) {
    case KIT_F_UINT:
        if (fd->max != UINT64_MAX && v > fd->max)
            v %= fd->max + 1;
        break;
    case KIT_F_BOOL:
        v &= 1;
        break;
    case KIT_F_WORD:
        if (!kit_word(fd, (uint32_t)v))
            v = fd->codes[0];
        break;
    case KIT_F_REG:
        if (v != KIT_REG_ICR64)
            v &= 0xff0;
        break;
    case KIT_F_HEX:
        if (op->n_bytes > fd->max)
            op->n_bytes = (size_t)fd->max;
        return true;
    case KIT_F_FLAG: case KIT_F_NFLAG: case KIT_F_DURATION:
        return true;
    default:
        if (n == 0)
            return false; /* no such unit in this machine */
        v %= n;
        break;
    }
    kit_op_set(op, fd->slot, v);
    return true;
}

bool mo_fit(const mo_config *c, kit_op *op)
{
    const kit_op_info *in;

    if (op->kind >= KIT_OP_COUNT_)
        return false;
    in = &kit_op_table[op->kind];
    if (!c->iommu && (op->kind == KIT_OP_IOMMU_WRITE ||
                      op->kind == KIT_OP_IOMMU_READ ||
                      op->kind == KIT_OP_IOMMU_TABLE ||
                      op->kind == KIT_OP_IOMMU_INVALIDATE ||
                      op->kind == KIT_OP_REMAP))
        return false;
    op->cpu = in->on_cpu ? op->cpu % c->n_cpus : 0;
    op->flags &= kind_flags(op->kind);
    if (op->kind == KIT_OP_TIMER_EXPIRED)
        op->unit %= op->flags & KIT_TIMER_IOAPIC ? c->n_ioapics : c->n_cpus;
    for (unsigned i = 0; i < in->n_fields; i++)
        if (!fit_field(c, op, &in->fields[i]))
            return false;
    if (op->kind == KIT_OP_WRITE && op->index != KIT_REG_ICR64)
        op->value &= 0xffffffffu;
    if (op->kind == KIT_OP_SYNC_PIR && op->n_bytes != 32)
        op->n_bytes = 0;
    if (op->kind == KIT_OP_MEMORY_WRITE || op->kind == KIT_OP_MEMORY_READ) {
        op->size = op->size == 4 || op->size == 8 ? op->size : 1;
        op->n_bytes -= op->n_bytes % op->size;
        if (!op->n_bytes || op->addr < MO_MEM_BASE ||
            op->addr - MO_MEM_BASE > MO_MEM_SIZE - op->n_bytes)
            return false;
    }
    return true;
}

static void dec_raw(mo_dec *d)
{
    mo_step *s, op = {0};
    size_t n, i = d->p->n;
    uint8_t *b;

    op.kind = rd8(d->r);
    op.flags = rd16(d->r);
    op.cpu = rd32(d->r);
    op.unit = rd32(d->r);
    op.index = rd32(d->r);
    op.size = rd32(d->r);
    op.source = rd32(d->r);
    op.addr = rd64(d->r);
    op.value = rd64(d->r);
    op.value2 = rd64(d->r);
    n = rd16(d->r);
    n = n > MO_RAW_BYTES ? MO_RAW_BYTES : n;
    if (i >= MO_MAX_STEPS)
        return;
    b = n > sizeof d->p->bytes[i] ? malloc(n) : d->p->bytes[i];
    for (size_t k = 0; k < n; k++) {
        uint8_t v = rd8(d->r);
        if (b)
            b[k] = v;
    }
    op.bytes = b;
    op.n_bytes = b ? n : 0;
    if (!mo_fit(d->c, &op) || !(s = add(d, op.kind))) {
        if (b != d->p->bytes[i])
            free(b);
        return;
    }
    *s = op;
    if (b != d->p->bytes[i])
        d->p->raw_bytes[i] = b;
}

static size_t put_le(uint8_t *out, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * i));
    return n;
}

size_t mo_encode_header(const mo_config *c, uint8_t *out, size_t cap)
{
    unsigned iommu = c->iommu == INTC_IOMMU_NONE ? 0 : c->iommu;

    if (cap < 3)
        return 0;
    out[0] = (uint8_t)((c->n_cpus - 1) | (c->n_ioapics > 1 ? 4 : 0) |
                       iommu << 3 | (c->directed_eoi ? 0x20 : 0) |
                       (c->diff ? 0x40 : 0) | (c->storm ? 0x80 : 0));
    out[1] = (uint8_t)(c->n_msix | (c->ioapic0_v11 ? 4 : 0) |
                       (c->focus ? 8 : 0) | (c->no_ext_dest ? 0x10 : 0) |
                       MO_FMT_RAW);
    out[2] = c->snap_at == UINT32_MAX ? 0xff : (uint8_t)c->snap_at;
    return 3;
}

size_t mo_encode_op(const kit_op *op, uint8_t *out, size_t cap)
{
    size_t n = op->n_bytes > MO_RAW_BYTES ? MO_RAW_BYTES : op->n_bytes;
    size_t k = 0;

    if (cap < 51 + n)
        return 0;
    out[k++] = MO_RAW_OP;
    out[k++] = (uint8_t)op->kind;
    k += put_le(out + k, op->flags, 2);
    k += put_le(out + k, op->cpu, 4);
    k += put_le(out + k, op->unit, 4);
    k += put_le(out + k, op->index, 4);
    k += put_le(out + k, op->size, 4);
    k += put_le(out + k, op->source, 4);
    k += put_le(out + k, op->addr, 8);
    k += put_le(out + k, op->value, 8);
    k += put_le(out + k, op->value2, 8);
    k += put_le(out + k, n, 2);
    if (n)
        memcpy(out + k, op->bytes, n);
    return k + n;
}

void mo_program_free(mo_program *p)
{
    for (unsigned i = 0; i < MO_MAX_STEPS; i++) {
        free(p->raw_bytes[i]);
        p->raw_bytes[i] = NULL;
    }
}

void mo_decode(const uint8_t *data, size_t size, mo_program *p)
{
    mo_rd r = {data, size, 0};
    mo_dec d = {.r = &r, .p = p, .c = &p->cfg};
    mo_config *c = &p->cfg;
    bool raw;

    p->n = 0;
    memset(p->raw_bytes, 0, sizeof p->raw_bytes);
    decode_config(&r, c);
    /* A differential input compares an xAPIC and an x2APIC run of the
       same steps, so its vocabulary is only what both modes do alike
       (diff_table); the raw escape would bypass that. */
    raw = size > 1 && (data[1] & MO_FMT_RAW) == MO_FMT_RAW && !c->diff;
    while (r.pos < r.n && p->n < MO_MAX_STEPS) {
        uint8_t ob = rd8(&r);
        unsigned op = c->diff ? diff_table[ob % sizeof diff_table]
                              : op_table[ob % sizeof op_table];
        if (raw && ob == MO_RAW_OP) {
            dec_raw(&d);
            continue;
        }
        d.cpu = (uint8_t)(rd8(&r) % c->n_cpus);
        decoders[op](&d);
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

/* ---- the host: the testkit's ---- */

static void on_event(void *ctx, const intc_event *ev)
{
    mo_host *h = ctx;

    if (!h->quiet && h->obs.event)
        h->obs.event(h->obs.ctx, ev);
}

static void on_kick(void *ctx, uint32_t cpu)
{
    mo_host *h = ctx;

    if (!h->quiet && h->obs.kick)
        h->obs.kick(h->obs.ctx, cpu);
}

static void on_fired(void *ctx, bool ioapic, uint32_t index)
{
    mo_host *h = ctx;

    h->fired |= 1u << (ioapic ? h->cfg->n_cpus + index : index);
}

static bool host_new(mo_host *h, bool traced)
{
    kit_host *k = kit_host_new(traced);

    if (!k)
        return false;
    h->k = k;
    /* the callbacks of a host without level resampling or APIC-base
       tracking, as intc-sim's */
    k->ops.eoi = NULL;
    k->ops.apic_base_changed = NULL;
    k->max_events = 0; /* the oracles keep their own */
    k->max_fires = MO_MAX_FIRES;
    k->hooks = (kit_hooks){.ctx = h, .event = on_event, .kick = on_kick,
                           .fired = on_fired};
    return kit_region_add(k, MO_MEM_BASE, MO_MEM_SIZE) != NULL;
}

bool mo_host_init(mo_host *h, const mo_config *cfg, const mo_observer *obs)
{
    intc_machine_config mc;
    intc_ioapic_config io[MO_MAX_IOAPICS];
    uint8_t w0[MO_IOAPIC0_PINS], w1[MO_IOAPIC1_PINS];

    memset(h, 0, sizeof *h);
    h->cfg = cfg;
    if (obs)
        h->obs = *obs;
    h->untraced = obs && obs->untraced;
    if (!host_new(h, !h->untraced))
        return false;
    for (unsigned i = 0; i < cfg->n_msix; i++)
        h->devs[i] = (kit_device){.msix = true, .vectors = MO_MSIX_VECTORS,
                                  .source_id = (uint16_t)(0x100 + 8 * i)};
    mo_machine_config(cfg, &mc, io, w0, w1);
    if (kit_rig_init(&h->rig, h->k, &mc, h->devs, cfg->n_msix,
                     MO_SNAP_SLOTS, NULL) != INTC_OK) {
        mo_host_fini(h);
        return false;
    }
    h->rig.max_runlog = MO_RUNLOG;
    h->m = h->rig.m;
    for (unsigned i = 0; i < cfg->n_msix; i++)
        h->msix[i] = h->rig.dev[i];
    return true;
}

void mo_host_fini(mo_host *h)
{
    kit_rig_fini(&h->rig);
    kit_host_free(h->k);
    h->k = NULL;
    h->m = NULL;
    for (unsigned i = 0; i < MO_SNAP_SLOTS; i++) {
        free(h->snap_shadow[i]);
        h->snap_shadow[i] = NULL;
    }
}

uint64_t mo_deadline(const mo_host *h, unsigned i)
{
    unsigned nc = h->cfg->n_cpus;

    return i < nc ? h->k->deadline[i] : h->k->io_deadline[i - nc];
}

static bool copy_snap(mo_host *dst, const mo_host *src, unsigned i)
{
    const kit_snap *a = &src->rig.snaps[i];
    kit_snap *b = &dst->rig.snaps[i];

    free(b->img);
    free(dst->snap_shadow[i]);
    *b = (kit_snap){0};
    dst->snap_shadow[i] = NULL;
    if (!a->valid)
        return true;
    b->img = malloc(a->len ? a->len : 1);
    if (!b->img)
        return false;
    memcpy(b->img, a->img, a->len);
    b->len = a->len;
    b->valid = true;
    if (src->snap_shadow[i] && src->shadow_size) {
        dst->snap_shadow[i] = malloc(src->shadow_size);
        if (!dst->snap_shadow[i])
            return false;
        memcpy(dst->snap_shadow[i], src->snap_shadow[i], src->shadow_size);
    }
    return true;
}

bool mo_host_copy_state(mo_host *dst, const mo_host *src)
{
    dst->k->now = src->k->now;
    memcpy(kit_mem(dst->k, MO_MEM_BASE, MO_MEM_SIZE),
           kit_mem(src->k, MO_MEM_BASE, MO_MEM_SIZE), MO_MEM_SIZE);
    memcpy(dst->k->totals, src->k->totals, sizeof dst->k->totals);
    for (unsigned i = 0; i < MO_SNAP_SLOTS; i++)
        if (!copy_snap(dst, src, i))
            return false;
    return true;
}

bool mo_lapic_x2(intc_lapic *l)
{
    return kit_lapic_x2(l);
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

/* ---- one step ---- */

/* The oracles' shadow goes with a named snapshot. */
static void shadow_snap(mo_host *h, const mo_step *s, const mo_result *r)
{
    void **slot = &h->snap_shadow[s->unit % MO_SNAP_SLOTS];

    if (!h->shadow_size || r->err != INTC_OK || r->skipped)
        return;
    if (s->kind == KIT_OP_SNAPSHOT) {
        if (!*slot)
            *slot = malloc(h->shadow_size);
        if (*slot)
            memcpy(*slot, h->shadow, h->shadow_size);
    } else if (s->kind == KIT_OP_RESTORE && *slot) {
        memcpy(h->shadow, *slot, h->shadow_size);
    }
}

/* Whether a timer is due at or before now after an advance: the model
   re-armed it there (the advance would never end). */
static bool stuck(const mo_host *h)
{
    return kit_next_deadline(h->k) <= h->k->now;
}

void mo_exec(mo_host *h, const mo_step *s, mo_result *r)
{
    h->fired = 0;
    /* intc-sim moves the clock to each step's time first: timers already
       due (a restore can bring back a past deadline) fire now. */
    kit_advance_to(h->k, h->k->now);
    if (stuck(h)) {
        kit_result_reset(r);
        r->err = INTC_ERR_BUSY;
        return;
    }
    if (h->obs.mark)
        h->obs.mark(h->obs.ctx);
    kit_exec(&h->rig, s, r);
    if (s->kind == KIT_OP_ADVANCE && stuck(h))
        r->err = INTC_ERR_BUSY;
    shadow_snap(h, s, r);
}

uint8_t *mo_save(intc_machine *m, size_t *len)
{
    return kit_save(m, len, NULL);
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
    fprintf(f, "host: {max_fires: %u}\n", MO_MAX_FIRES);
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


/* ---- scenario output: the testkit's print rule per op ---- */

static const char *err_word(intc_err e)
{
    return kit_err_word(e);
}

/* The step intc-sim can express for what ran: a failed IPI or EOI is the
   register write that failed, a differential self IPI in x2APIC mode is
   the SELF IPI register, a memory read compares what was there. */
static void lower(kit_op *op, const mo_result *r, bool x2)
{
    if (op->kind == KIT_OP_IPI && (op->flags & KIT_IPI_SELF_REG) &&
        (r ? r->x2 : x2)) {
        *op = (kit_op){.kind = KIT_OP_WRITE, .cpu = op->cpu, .index = 0x3f0,
                       .value = op->value2 & 0xff};
    } else if (op->kind == KIT_OP_IPI && r && r->err) {
        uint64_t v = r->x2 ? r->icr : op->size ? 0 : op->value << 24;
        *op = (kit_op){.kind = KIT_OP_WRITE, .cpu = op->cpu,
                       .index = r->x2 ? KIT_REG_ICR64 : 0x310, .value = v};
    } else if (op->kind == KIT_OP_EOI && r && r->err) {
        *op = (kit_op){.kind = KIT_OP_WRITE, .cpu = op->cpu, .index = 0x0b0};
    } else if (op->kind == KIT_OP_MEMORY_READ && r && r->mem) {
        op->bytes = r->mem;
    }
}

/* What the step returned, as the scenario's expectations. */
static void annotate(char *x, size_t n, const kit_op *op, const mo_result *r)
{
    unsigned res = kit_op_table[op->kind].results;
    const char *w;
    size_t k = 0;

    x[0] = 0;
    if (!r)
        return;
    if (op->kind == KIT_OP_ACK && r->ack < 0)
        snprintf(x, n, "none");
    else if (op->kind == KIT_OP_ACK && r->ack > 255)
        snprintf(x, n, "spurious");
    else if (op->kind == KIT_OP_ACK)
        snprintf(x, n, "0x%02x", r->ack);
    else if (op->kind == KIT_OP_TAKE && r->take != 1)
        snprintf(x, n, ", expect: false");
    else if (op->kind == KIT_OP_TAKE && op->index == INTC_PEND_SIPI)
        snprintf(x, n, ", vector: 0x%02x", r->sipi);
    if ((res & KIT_RES_VALUE) && r->err == INTC_OK)
        k = (size_t)snprintf(x, n, ", expect: 0x%" PRIx64, r->value);
    if ((res & KIT_RES_ERR) && (w = err_word(r->err)) && k < n)
        snprintf(x + k, n - k, ", expect_error: %s", w);
}

void mo_yaml_step(FILE *f, const mo_config *c, const mo_step *s,
                  const mo_result *r, bool x2)
{
    kit_op op = *s;
    char extra[96];

    (void)c;
    if (r && r->skipped) {
        fprintf(f, "  # (step not executable here: skipped)\n");
        return;
    }
    lower(&op, r, x2);
    annotate(extra, sizeof extra, &op, r);
    fprintf(f, "  - ");
    kit_op_yaml(f, &op, NULL, extra[0] ? extra : NULL);
    fprintf(f, "\n");
}

/* The generic fuzz recipe (fuzz/CMakeLists.txt, fuzz/build.sh) links one
   extra file per target, <name>_ops.c: the oracles are compiled as part
   of this one. */
#include "oracles.c"
