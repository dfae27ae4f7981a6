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
