/*
 * testkit — the scenario printer (op.h kit_op_yaml): one kit_op as an
 * intc-sim step (docs/scenario.md), by the same table the parser walks,
 * so what it prints parses back to the same op.
 */
#include "op.h"

#include <inttypes.h>

static void num(FILE *f, uint64_t v)
{
    if (v < 10)
        fprintf(f, "%" PRIu64, v);
    else
        fprintf(f, "0x%" PRIx64, v);
}

static void hex_bytes(FILE *f, const uint8_t *b, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
    fputc('"', f);
}

static void name_of(FILE *f, const char *const *names, const char *pfx,
                    uint32_t i)
{
    if (names)
        fprintf(f, "%s", names[i]);
    else
        fprintf(f, "%s%" PRIu32, pfx, i);
}

/* Whether the field is printed: required ones, optional ones without a
   flag, and flagged ones when their flag is set. */
static bool shown(const kit_op *op, const kit_field *fd)
{
    if (fd->type == KIT_F_FLAG)
        return op->flags & fd->flag;
    if (fd->type == KIT_F_NFLAG)
        return op->flags & fd->flag;
    if (fd->flag == 0 || fd->flag == KIT_OPT)
        return true;
    return op->flags & fd->flag;
}

static void value(FILE *f, const kit_op *op, const kit_field *fd,
                  const kit_names *nm)
{
    uint64_t v = kit_op_get(op, fd->slot);
    const char *w;

    switch (fd->type) {
    case KIT_F_BOOL:
        fprintf(f, "%s", v ? "true" : "false");
        break;
    case KIT_F_FLAG:
    case KIT_F_NFLAG:
        fprintf(f, "%s", fd->type == KIT_F_FLAG ? "true" : "false");
        break;
    case KIT_F_WORD:
        w = kit_word(fd, (uint32_t)v);
        if (w)
            fprintf(f, "%s", w);
        else
            num(f, v);
        break;
    case KIT_F_REG:
        w = kit_reg_name((uint32_t)v);
        if (w)
            fprintf(f, "%s", w);
        else
            fprintf(f, "0x%" PRIx64, v);
        break;
    case KIT_F_MSIX:
    case KIT_F_MSI:
    case KIT_F_DEVICE:
        name_of(f, nm ? nm->devices : NULL, "dev", (uint32_t)v);
        break;
    case KIT_F_SNAP:
    case KIT_F_SNAP_USE:
        name_of(f, nm ? nm->snaps : NULL, "s", (uint32_t)v);
        break;
    case KIT_F_HEX:
        hex_bytes(f, op->bytes, op->n_bytes);
        break;
    case KIT_F_DURATION: /* and indices: decimal */
    case KIT_F_IOAPIC:
    case KIT_F_PIN:
    case KIT_F_ENTRY:
    case KIT_F_DEVVEC:
    case KIT_F_CPU_IDX:
        fprintf(f, "%" PRIu64, v);
        break;
    default:
        num(f, v);
        break;
    }
}

static void fields(FILE *f, const kit_op *op, const kit_op_info *in,
                   const kit_names *nm)
{
    const char *sep = "";

    for (unsigned i = 0; i < in->n_fields; i++) {
        const kit_field *fd = &in->fields[i];
        if (!shown(op, fd))
            continue;
        if (op->kind == KIT_OP_TIMER_EXPIRED &&
            fd->type == (op->flags & KIT_TIMER_IOAPIC ? KIT_F_CPU_IDX
                                                      : KIT_F_IOAPIC))
            continue; /* cpu or ioapic, one of them */
        if (fd->type == KIT_F_HEX && !op->n_bytes)
            continue;
        fprintf(f, "%s%s: ", sep, fd->key);
        value(f, op, fd, nm);
        sep = ", ";
    }
}

static void memory(FILE *f, const kit_op *op)
{
    unsigned w = op->size == 8 || op->size == 4 ? op->size : 1;

    fprintf(f, "{addr: 0x%" PRIx64 ", %s: [", op->addr,
            w == 8 ? "qwords" : w == 4 ? "dwords" : "bytes");
    for (size_t i = 0; op->bytes && i + w <= op->n_bytes; i += w) {
        uint64_t v = 0;
        for (unsigned b = 0; b < w; b++)
            v |= (uint64_t)op->bytes[i + b] << (8 * b);
        fprintf(f, "%s0x%" PRIx64, i ? ", " : "", v);
    }
    fprintf(f, "]}");
}

void kit_op_yaml(FILE *f, const kit_op *op, const kit_names *nm,
                 const char *extra)
{
    const kit_op_info *in = &kit_op_table[op->kind];

    fprintf(f, "{");
    if (in->on_cpu && !(op->kind == KIT_OP_RUN && (op->flags & KIT_RUN_ALL)))
        fprintf(f, "cpu: %" PRIu32 ", ", op->cpu);
    fprintf(f, "%s: ", in->name);
    switch (in->form) {
    case KIT_FORM_MAP:
        fprintf(f, "{");
        fields(f, op, in, nm);
        fprintf(f, "%s}", extra ? extra : "");
        break;
    case KIT_FORM_SCALAR:
        value(f, op, &in->fields[0], nm);
        fprintf(f, "%s", extra ? extra : "");
        break;
    case KIT_FORM_TRUE:
        fprintf(f, "true%s", extra ? extra : "");
        break;
    default:
        if (op->kind == KIT_OP_ACK)
            fprintf(f, "%s", extra ? extra : "{}");
        else
            memory(f, op);
        break;
    }
    fprintf(f, "}");
}

/* ---- the machine section ---- */

static const char *const pin_words[] = {"edge-high", "edge-low",
                                        "level-high", "level-low"};

static void yaml_bool(FILE *f, const char *key, bool v)
{
    fprintf(f, "  %s: %s\n", key, v ? "true" : "false");
}

static void yaml_num(FILE *f, const char *key, uint64_t v)
{
    fprintf(f, "  %s: ", key);
    num(f, v);
    fputc('\n', f);
}

static void ioapic_yaml(FILE *f, const intc_ioapic_config *io)
{
    bool open = false;

    fprintf(f, "    - {id: %u, version: 0x%02x, pins: %u, gsi_base: %" PRIu32
               ", source_id: 0x%04x",
            io->id, io->version, io->n_pins, io->gsi_base, io->source_id);

    for (unsigned p = 0; io->pin_wiring && p < io->n_pins; p++) {
        unsigned w = io->pin_wiring[p] & 3u;
        if (!w)
            continue;
        fprintf(f, "%s%u: %s", open ? ", " : ", wiring: {", p, pin_words[w]);
        open = true;
    }
    fputs(open ? "}}\n" : "}\n", f);
}

static void cpu_keys(FILE *f, const intc_machine_config *c)
{
    yaml_num(f, "cpus", c->n_cpus);
    if (c->apic_ids) {
        fputs("  apic_ids: [", f);
        for (uint32_t i = 0; i < c->n_cpus; i++)
            fprintf(f, "%s%" PRIu32, i ? ", " : "", c->apic_ids[i]);
        fputs("]\n", f);
    }
    yaml_num(f, "bsp", c->bsp);
    yaml_bool(f, "x2apic", c->x2apic);
    yaml_bool(f, "tsc_deadline", c->tsc_deadline);
    yaml_bool(f, "directed_eoi", c->directed_eoi);
    yaml_bool(f, "lvt_cmci", c->lvt_cmci);
    yaml_bool(f, "lowest_priority_ipi", c->lowest_priority_ipi);
    yaml_bool(f, "focus_processor", c->focus_processor);
    yaml_bool(f, "apic_bus_errors", c->apic_bus_errors);
    yaml_num(f, "lapic_version", c->lapic_version);
    yaml_num(f, "phys_addr_bits", c->phys_addr_bits);
    yaml_num(f, "timer_hz", c->apic_timer_hz);
    yaml_num(f, "tsc_hz", c->tsc_hz);
    yaml_bool(f, "msi_ext_dest", c->msi_ext_dest);
    yaml_num(f, "storm_threshold", c->storm_threshold);
    yaml_num(f, "storm_throttle", c->storm_throttle_ns);
}

static void device_yaml(FILE *f, const kit_device *d)
{
    if (d->msix)
        fprintf(f, "    - {name: %s, vectors: %u, source_id: 0x%04x}\n",
                d->name, d->vectors, d->source_id);
    else
        fprintf(f, "    - {name: %s, vectors_log2: %u, addr64: %s, mask: "
                   "%s, source_id: 0x%04x}\n",
                d->name, d->log2, d->addr64 ? "true" : "false",
                d->mask ? "true" : "false", d->source_id);
}

void kit_machine_yaml(FILE *f, const intc_machine_config *c,
                      const kit_device *devs, size_t n_devs,
                      const kit_region *mem, size_t n_mem)
{
    static const char *const kinds[] = {"none", "vtd", "amdvi"};

    fputs("machine:\n", f);
    cpu_keys(f, c);
    if (c->n_ioapics)
        fputs("  ioapics:\n", f);
    for (uint32_t i = 0; i < c->n_ioapics; i++)
        ioapic_yaml(f, &c->ioapics[i]);
    for (int msix = 1; msix >= 0; msix--) {
        bool any = false;
        for (size_t i = 0; i < n_devs; i++) {
            if (devs[i].msix != (msix == 1))
                continue;
            if (!any)
                fprintf(f, "  %s:\n", msix ? "msix" : "msi");
            any = true;
            device_yaml(f, &devs[i]);
        }
    }
    if (c->iommu.kind != INTC_IOMMU_NONE && c->iommu.kind < 3)
        fprintf(f, "  iommu: {kind: %s, x2apic: %s, posted: %s, "
                   "fault_regs: %u, cache: %" PRIu32 "}\n",
                kinds[c->iommu.kind], c->iommu.x2apic ? "true" : "false",
                c->iommu.posted ? "true" : "false", c->iommu.n_fault_regs,
                c->iommu.cache_entries);
    if (n_mem)
        fputs("  memory:\n", f);
    for (size_t i = 0; i < n_mem; i++)
        fprintf(f, "    - {addr: 0x%" PRIx64 ", size: 0x%" PRIx64 "}\n",
                mem[i].addr, mem[i].size);
}
