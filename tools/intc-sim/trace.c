/*
 * intc-sim — traces: text (one line per step, one indented line per event),
 * JSON Lines (one object per step, event, kick, failure and the end; the
 * keys of each kind are always the same) and VCD (IEEE 1364 value change
 * dump, for GTKWave).
 */
#include "sim.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- event decoding ---- */

/*
 * An event's text is a row of fields joined by single blanks, each a name
 * and a value ("cpu=1", "rte=0x...") or a bare word ("level").  The table
 * below gives, per event type, where each field's value comes from and
 * how it is printed; INTC_EVENT_MAP (intc/common.h) says what the event's
 * members carry.
 */
enum ev_src {
    S_END,        /* end of the row */
    S_CPU,        /* "cpu=N"; left out when the event has no CPU */
    S_VECTOR,     /* "vector=0xNN", or "vector=none" when it has none */
    S_VEC_MASKED, /* the vector, or "masked" when it has none (timer) */
    S_UNIT,
    S_PIN,
    S_DATA,
    S_DATA2,
    S_DATA_LO8,  /* data & 0xff */
    S_DATA_BIT8, /* (data >> 8) & 1 */
    S_DATA2_LO,  /* data2 & 0xffffffff */
    S_DATA2_HI,  /* data2 >> 32 */
};

enum ev_fmt {
    F_DEC,
    F_HEX,    /* 0x%x */
    F_HEX2,   /* 0x%02x, and so on */
    F_HEX4,
    F_HEX8,
    F_HEX16,
    F_BOOL,   /* words[value != 0]; an empty word leaves the field out */
    F_MODE,   /* delivery mode: value & 7 */
    F_TIMER,  /* LVT timer mode: value & 3 */
    F_REASON, /* enum intc_msi_drop */
};

typedef struct ev_field {
    const char *name; /* printed before the value: "cpu=", "lint" or "" */
    unsigned char src, fmt;
    const char *const *words; /* F_BOOL: {if zero, if not} */
} ev_field;

#define EV_FIELDS 6
typedef struct ev_row {
    ev_field f[EV_FIELDS];
} ev_row;

static const char *const w_level[] = {"edge", "level"};
static const char *const w_wfs[] = {"runs", "waits-for-sipi"};
static const char *const w_set[] = {"cleared", "set"};
static const char *const w_asserted[] = {"deasserted", "asserted"};
static const char *const w_redelivery[] = {"", "redelivery"};

#define CPU {"", S_CPU, F_DEC, NULL}
#define VEC {"", S_VECTOR, F_DEC, NULL}
#define IOAPIC_PIN                                                          \
    {"ioapic=", S_UNIT, F_DEC, NULL}, {"pin=", S_PIN, F_DEC, NULL}
#define SID {"sid=", S_PIN, F_HEX4, NULL}
#define FIELD(name, src, fmt) {name, src, fmt, NULL}
#define WORD(src, words) {"", src, F_BOOL, words}

static const ev_row ev_rows[INTC_EV_COUNT_] = {
    [INTC_EV_IRR_SET] = {{CPU, VEC, WORD(S_DATA, w_level)}},
    [INTC_EV_COALESCED] = {{CPU, VEC}},
    [INTC_EV_ACK] = {{CPU, VEC}},
    [INTC_EV_SPURIOUS] = {{CPU, VEC}},
    [INTC_EV_EOI] = {{CPU, VEC, WORD(S_DATA, w_level)}},
    [INTC_EV_EOI_BROADCAST] = {{CPU, VEC}},
    [INTC_EV_IPI] = {{CPU, VEC, FIELD("icr=", S_DATA, F_HEX),
                      FIELD("targets=", S_DATA2, F_DEC)}},
    [INTC_EV_NMI] = {{CPU}},
    [INTC_EV_SMI] = {{CPU}},
    [INTC_EV_INIT] = {{CPU}},
    [INTC_EV_SIPI] = {{CPU, VEC}},
    [INTC_EV_EXTINT] = {{CPU}},
    [INTC_EV_INIT_RESET] = {{CPU, WORD(S_DATA, w_wfs)}},
    [INTC_EV_TIMER] = {{CPU, FIELD("", S_VEC_MASKED, F_DEC),
                        FIELD("", S_DATA, F_TIMER),
                        FIELD("missed=", S_DATA2, F_DEC)}},
    [INTC_EV_ESR_ERROR] = {{CPU, FIELD("new=", S_DATA, F_HEX2),
                            FIELD("esr=", S_DATA2, F_HEX2)}},
    [INTC_EV_APIC_BASE] = {{CPU, FIELD("new=", S_DATA, F_HEX),
                            FIELD("old=", S_DATA2, F_HEX)}},
    [INTC_EV_LINT] = {{CPU, FIELD("lint", S_PIN, F_DEC),
                       FIELD("level=", S_DATA, F_DEC)}},
    [INTC_EV_LVT_REMOTE_IRR] = {{CPU, FIELD("lvt=", S_PIN, F_DEC), VEC,
                                 WORD(S_DATA, w_set)}},
    [INTC_EV_REJECTED] = {{CPU, VEC, FIELD("mode=", S_DATA, F_MODE)}},
    [INTC_EV_NO_TARGET] = {{CPU, VEC, FIELD("dest=", S_DATA, F_HEX),
                            FIELD("mode=", S_DATA2, F_MODE)}},
    [INTC_EV_BAD_ACCESS] = {{CPU, FIELD("offset=", S_PIN, F_HEX),
                             FIELD("size=", S_DATA, F_DEC)}},
    [INTC_EV_MSI] = {{VEC, SID, FIELD("addr=", S_DATA, F_HEX),
                      FIELD("data=", S_DATA2_LO, F_HEX8),
                      FIELD("reached=", S_DATA2_HI, F_DEC)}},
    [INTC_EV_MSI_DROPPED] = {{VEC, SID, FIELD("addr=", S_DATA, F_HEX),
                              FIELD("data=", S_DATA2_LO, F_HEX8),
                              FIELD("reason=", S_DATA2_HI, F_REASON)}},
    [INTC_EV_IOAPIC_SEND] = {{IOAPIC_PIN, VEC,
                              FIELD("rte=", S_DATA, F_HEX16),
                              WORD(S_DATA2, w_redelivery)}},
    [INTC_EV_IOAPIC_LINE] = {{IOAPIC_PIN, WORD(S_DATA, w_asserted),
                              FIELD("electrical=", S_DATA2, F_DEC)}},
    [INTC_EV_IOAPIC_MASKED] = {{IOAPIC_PIN, VEC,
                                FIELD("rte=", S_DATA, F_HEX16)}},
    [INTC_EV_IOAPIC_EOI] = {{FIELD("ioapic=", S_UNIT, F_DEC), VEC}},
    [INTC_EV_REMOTE_IRR] = {{IOAPIC_PIN, VEC, WORD(S_DATA, w_set)}},
    [INTC_EV_POLARITY_MISMATCH] = {{IOAPIC_PIN, VEC,
                                    FIELD("programmed=", S_DATA, F_DEC),
                                    FIELD("wired=", S_DATA2, F_DEC)}},
    [INTC_EV_STORM] = {{IOAPIC_PIN, VEC,
                        FIELD("redeliveries=", S_DATA, F_DEC)}},
    [INTC_EV_MSIX_PENDING] = {{FIELD("device=", S_UNIT, F_DEC),
                               FIELD("vector=", S_PIN, F_DEC)}},
    [INTC_EV_RESAMPLE] = {{IOAPIC_PIN, FIELD("gsi=", S_DATA, F_DEC)}},
    [INTC_EV_IR_REMAPPED] = {{SID, VEC, FIELD("irte=", S_DATA, F_DEC),
                              FIELD("dest=", S_DATA2_LO, F_HEX),
                              FIELD("reached=", S_DATA2_HI, F_DEC)}},
    [INTC_EV_IR_FAULT] = {{SID, FIELD("reason=", S_DATA_LO8, F_HEX2),
                           FIELD("recorded=", S_DATA_BIT8, F_DEC),
                           FIELD("index=", S_DATA2, F_DEC)}},
    [INTC_EV_IR_POSTED] = {{SID, VEC, FIELD("desc=", S_DATA, F_HEX),
                            FIELD("notified=", S_DATA2, F_DEC)}},
    /* data2 == INTC_IOMMU_INV_ALL prints "all": see sim_event_text. */
    [INTC_EV_IR_INVALIDATE] = {{FIELD("index=", S_DATA, F_DEC),
                                FIELD("mask=", S_DATA2, F_DEC)}},
    [INTC_EV_IR_QUEUE_ERROR] = {{FIELD("head=", S_DATA, F_HEX),
                                 FIELD("tail=", S_DATA2, F_HEX)}},
    [INTC_EV_IR_STATUS] = {{FIELD("reg=", S_PIN, F_HEX),
                            FIELD("value=", S_DATA, F_HEX),
                            FIELD("written=", S_DATA2, F_HEX)}},
    [INTC_EV_TRIGGER_MISMATCH] = {{IOAPIC_PIN, VEC,
                                   FIELD("programmed=", S_DATA, F_DEC),
                                   FIELD("wired=", S_DATA2, F_DEC)}},
};

/* A type out of range (a raw fuzzer event) or without a row (one added to
   INTC_EVENT_MAP but not here): every member. */
static const ev_row ev_row_unknown = {{CPU, VEC, FIELD("unit=", S_UNIT, F_DEC),
                                       FIELD("pin=", S_PIN, F_DEC),
                                       FIELD("data=", S_DATA, F_HEX),
                                       FIELD("data2=", S_DATA2, F_HEX)}};

#undef CPU
#undef VEC
#undef IOAPIC_PIN
#undef SID
#undef FIELD
#undef WORD

static const char *delivery_mode(uint64_t dm)
{
    static const char *const n[8] = {"fixed", "lowest", "smi",  "reserved3",
                                     "nmi",   "init",   "sipi", "extint"};
    return n[dm & 7];
}

static uint64_t ev_value(const intc_event *ev, unsigned src)
{
    switch (src) {
    case S_UNIT:      return ev->unit;
    case S_PIN:       return ev->pin;
    case S_DATA:      return ev->data;
    case S_DATA2:     return ev->data2;
    case S_DATA_LO8:  return ev->data & 0xff;
    case S_DATA_BIT8: return (ev->data >> 8) & 1;
    case S_DATA2_LO:  return ev->data2 & 0xffffffffu;
    case S_DATA2_HI:  return ev->data2 >> 32;
    default:          return 0;
    }
}

/* A value in the field's format, after its name. */
static void ev_value_text(const ev_field *f, uint64_t v, char *out,
                          size_t len)
{
    static const char *const timer_modes[4] = {"one-shot", "periodic",
                                               "tsc-deadline", "mode3"};
    static const char *const why[] = {
        "?", "not-interrupt", "reserved-data", "reserved-mode",
        "deassert", "reserved-addr", "no-remapping"};

    switch (f->fmt) {
    case F_DEC: snprintf(out, len, "%s%" PRIu64, f->name, v); break;
    case F_HEX: snprintf(out, len, "%s0x%" PRIx64, f->name, v); break;
    case F_HEX2: snprintf(out, len, "%s0x%02" PRIx64, f->name, v); break;
    case F_HEX4: snprintf(out, len, "%s0x%04" PRIx64, f->name, v); break;
    case F_HEX8: snprintf(out, len, "%s0x%08" PRIx64, f->name, v); break;
    case F_HEX16: snprintf(out, len, "%s0x%016" PRIx64, f->name, v); break;
    case F_BOOL: snprintf(out, len, "%s", f->words[v != 0]); break;
    case F_MODE: snprintf(out, len, "%s%s", f->name, delivery_mode(v)); break;
    case F_TIMER: snprintf(out, len, "%s", timer_modes[v & 3]); break;
    case F_REASON:
        snprintf(out, len, "%s%s", f->name, v < 7 ? why[v] : "?");
        break;
    default: out[0] = 0; break;
    }
}

/* One field's text into out; false if the field is left out. */
static bool ev_field_text(const intc_event *ev, const ev_field *f, char *out,
                          size_t len)
{
    if (f->src == S_CPU) {
        if (ev->cpu == INTC_NO_CPU)
            return false;
        snprintf(out, len, "cpu=%" PRIu32, ev->cpu);
    } else if (f->src == S_VEC_MASKED && ev->vector < 0) {
        snprintf(out, len, "masked");
    } else if (f->src == S_VECTOR || f->src == S_VEC_MASKED) {
        if (ev->vector >= 0)
            snprintf(out, len, "vector=0x%02" PRIx32, (uint32_t)ev->vector);
        else
            snprintf(out, len, "vector=none");
    } else {
        ev_value_text(f, ev_value(ev, f->src), out, len);
    }
    return out[0] != 0;
}

void sim_event_text(const intc_event *ev, char *buf, size_t len)
{
    const ev_row *row = &ev_row_unknown;
    size_t n = 0;

    if (len == 0)
        return;
    buf[0] = 0;
    if (ev->type == INTC_EV_IR_INVALIDATE &&
        ev->data2 == INTC_IOMMU_INV_ALL) {
        snprintf(buf, len, "all");
        return;
    }
    if ((unsigned)ev->type < INTC_EV_COUNT_ &&
        ev_rows[ev->type].f[0].src != S_END)
        row = &ev_rows[ev->type];
    for (int i = 0; i < EV_FIELDS && row->f[i].src != S_END; i++) {
        char field[64];
        int w;

        if (!ev_field_text(ev, &row->f[i], field, sizeof field))
            continue;
        w = snprintf(buf + n, len - n, "%s%s", n ? " " : "", field);
        if (w < 0 || (size_t)w >= len - n)
            break; /* truncated */
        n += (size_t)w;
    }
    /* Cut short by len: no trailing blank. */
    n = strlen(buf);
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = 0;
}

/* ---- JSON helpers ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_name(FILE *f, const sim_step *st)
{
    if (st->name)
        json_str(f, st->name);
    else
        fputs("null", f);
}

/* ---- steps ---- */

void sim_trace_step(FILE *f, enum sim_trace_mode mode, size_t index,
                    const sim_step *st, uint64_t time, const char *text,
                    const kit_item *items, size_t n_items, size_t n_lost)
{
    char buf[512];

    if (mode == TRACE_NONE)
        return;
    if (mode == TRACE_TEXT) {
        fprintf(f, "step %zu @%" PRIu64 "ns", index + 1, time);
        if (st->name)
            fprintf(f, " \"%s\"", st->name);
        fprintf(f, ": %s\n", text);
        for (size_t i = 0; i < n_items; i++) {
            const kit_item *it = &items[i];
            if (it->kind == KIT_ITEM_KICK) {
                fprintf(f, "    @%" PRIu64 "ns %-14s cpu=%" PRIu32 "\n",
                        it->time, "kick", it->ev.cpu);
                continue;
            }
            sim_event_text(&it->ev, buf, sizeof buf);
            fprintf(f, "    @%" PRIu64 "ns %-14s %s\n", it->time,
                    intc_event_name(it->ev.type), buf);
        }
        if (n_lost)
            fprintf(f, "    (%zu more events not shown)\n", n_lost);
        return;
    }
    fprintf(f, "{\"type\":\"step\",\"step\":%zu,\"line\":%d,\"name\":",
            index + 1, st->line);
    json_name(f, st);
    fprintf(f, ",\"time\":%" PRIu64 ",\"action\":", time);
    json_str(f, sim_action_name(st->action));
    fputs(",\"text\":", f);
    json_str(f, text);
    fprintf(f, ",\"events\":%zu}\n", n_items + n_lost);
    for (size_t i = 0; i < n_items; i++) {
        const kit_item *it = &items[i];
        if (it->kind == KIT_ITEM_KICK) {
            fprintf(f, "{\"type\":\"kick\",\"step\":%zu,\"time\":%" PRIu64
                    ",\"cpu\":%" PRIu32 "}\n", index + 1, it->time,
                    it->ev.cpu);
            continue;
        }
        sim_event_text(&it->ev, buf, sizeof buf);
        fprintf(f, "{\"type\":\"event\",\"step\":%zu,\"time\":%" PRIu64
                ",\"event\":\"%s\",\"cpu\":", index + 1, it->time,
                intc_event_name(it->ev.type));
        if (it->ev.cpu == INTC_NO_CPU)
            fputs("null", f);
        else
            fprintf(f, "%" PRIu32, it->ev.cpu);
        fputs(",\"vector\":", f);
        if (it->ev.vector < 0)
            fputs("null", f);
        else
            fprintf(f, "%" PRId32, it->ev.vector);
        fprintf(f, ",\"unit\":%" PRIu32 ",\"pin\":%" PRIu32
                ",\"data\":\"0x%" PRIx64 "\",\"data2\":\"0x%" PRIx64
                "\",\"text\":", it->ev.unit, it->ev.pin, it->ev.data,
                it->ev.data2);
        json_str(f, buf);
        fputs("}\n", f);
    }
}

void sim_trace_failure(FILE *f, enum sim_trace_mode mode, size_t index,
                       const sim_step *st, const char *what,
                       const char *lines)
{
    if (mode != TRACE_JSON)
        return;
    fprintf(f, "{\"type\":\"failure\",\"step\":%zu,\"line\":%d,\"name\":",
            index + 1, st->line);
    json_name(f, st);
    fputs(",\"action\":", f);
    json_str(f, what);
    fputs(",\"message\":", f);
    json_str(f, lines);
    fputs("}\n", f);
}

void sim_trace_end(FILE *f, enum sim_trace_mode mode, int status,
                   size_t steps_run, uint64_t time)
{
    const char *r = status == SIM_EXIT_OK     ? "pass"
                    : status == SIM_EXIT_FAIL ? "fail"
                                              : "error";

    if (mode == TRACE_TEXT)
        fprintf(f, "# %s: %zu steps run, virtual time %" PRIu64 " ns\n", r,
                steps_run, time);
    else if (mode == TRACE_JSON)
        fprintf(f, "{\"type\":\"end\",\"result\":\"%s\",\"status\":%d,"
                   "\"steps\":%zu,\"time\":%" PRIu64 "}\n", r, status,
                steps_run, time);
    fflush(f);
}

/* ---- VCD ---- */

struct sim_vcd {
    FILE *f;
    intc_machine *m;
    uint32_t n_cpus, n_io, n_pins;
    uint32_t *pins;   /* per IOAPIC */
    uint8_t *line, *rirr;
    sim_vecset *irr, *isr;
    uint8_t *ppr, *tpr;
    uint64_t last_t;  /* the last #time written */
    bool time_written;
};

/* Identifier code of signal k: printable ASCII 33..126, base 94. */
static void vcd_id(char *buf, uint64_t k)
{
    size_t n = 0;

    do {
        buf[n++] = (char)(33 + k % 94);
        k /= 94;
    } while (k && n < 10);
    buf[n] = 0;
}

/* Signal numbering: IOAPIC pins (line, remote_irr) in order, then per CPU
   irr, isr, ppr, tpr. */
static uint64_t sig_pin(uint32_t pin_index, int which)
{
    return 2ull * pin_index + (uint64_t)which;
}

static uint64_t sig_cpu(const sim_vcd *v, uint32_t cpu, int which)
{
    return 2ull * v->n_pins + 4ull * cpu + (uint64_t)which;
}

static void vcd_time(sim_vcd *v, uint64_t t)
{
    if (!v->time_written || t > v->last_t) {
        fprintf(v->f, "#%" PRIu64 "\n", t);
        v->last_t = t;
        v->time_written = true;
    }
}

static void vcd_bit(sim_vcd *v, uint64_t sig, bool b)
{
    char id[12];

    vcd_id(id, sig);
    fprintf(v->f, "%c%s\n", b ? '1' : '0', id);
}

static void vcd_vec(sim_vcd *v, uint64_t sig, const uint64_t *w,
                    unsigned bits)
{
    char id[12], s[260];
    size_t n = 0;
    int top = -1;

    for (int i = (int)bits - 1; i >= 0; i--)
        if (w[i / 64] >> (i % 64) & 1) {
            top = i;
            break;
        }
    if (top < 0)
        s[n++] = '0';
    for (int i = top; i >= 0; i--)
        s[n++] = (w[i / 64] >> (i % 64) & 1) ? '1' : '0';
    s[n] = 0;
    vcd_id(id, sig);
    fprintf(v->f, "b%s %s\n", s, id);
}

static void vcd_scan(sim_vcd *v, uint64_t t, bool all)
{
    uint32_t k = 0;

    for (uint32_t i = 0; i < v->n_io; i++) {
        intc_ioapic *io = intc_machine_ioapic(v->m, i);
        for (uint32_t p = 0; p < v->pins[i]; p++, k++) {
            uint64_t rte = 0;
            uint8_t line = intc_ioapic_line(io, p);
            uint8_t rirr;
            intc_ioapic_rte(io, p, &rte);
            rirr = (rte & INTC_RTE_REMOTE_IRR) != 0;
            if (all || line != v->line[k]) {
                vcd_time(v, t);
                vcd_bit(v, sig_pin(k, 0), line);
                v->line[k] = line;
            }
            if (all || rirr != v->rirr[k]) {
                vcd_time(v, t);
                vcd_bit(v, sig_pin(k, 1), rirr);
                v->rirr[k] = rirr;
            }
        }
    }
    for (uint32_t c = 0; c < v->n_cpus; c++) {
        intc_lapic *l = intc_machine_lapic(v->m, c);
        sim_vecset irr, isr;
        uint64_t ppr = 0, tpr;

        sim_lapic_vec(l, INTC_LAPIC_IRR0, &irr);
        sim_lapic_vec(l, INTC_LAPIC_ISR0, &isr);
        if (sim_lapic_read(l, INTC_LAPIC_PPR, &ppr) != INTC_OK)
            ppr = 0;
        tpr = intc_lapic_get_tpr(l);
        if (all || memcmp(&irr, &v->irr[c], sizeof irr)) {
            vcd_time(v, t);
            vcd_vec(v, sig_cpu(v, c, 0), irr.w, 256);
            v->irr[c] = irr;
        }
        if (all || memcmp(&isr, &v->isr[c], sizeof isr)) {
            vcd_time(v, t);
            vcd_vec(v, sig_cpu(v, c, 1), isr.w, 256);
            v->isr[c] = isr;
        }
        if (all || (uint8_t)ppr != v->ppr[c]) {
            vcd_time(v, t);
            vcd_vec(v, sig_cpu(v, c, 2), &ppr, 8);
            v->ppr[c] = (uint8_t)ppr;
        }
        if (all || (uint8_t)tpr != v->tpr[c]) {
            vcd_time(v, t);
            vcd_vec(v, sig_cpu(v, c, 3), &tpr, 8);
            v->tpr[c] = (uint8_t)tpr;
        }
    }
}

static void vcd_free(sim_vcd *v)
{
    free(v->pins);
    free(v->line);
    free(v->rirr);
    free(v->irr);
    free(v->isr);
    free(v->ppr);
    free(v->tpr);
    free(v);
}

sim_vcd *sim_vcd_open(const char *path, intc_machine *m, uint64_t t)
{
    sim_vcd *v = calloc(1, sizeof *v);
    char id[12];
    uint32_t k = 0;

    if (!v)
        return NULL;
    v->m = m;
    v->n_cpus = intc_machine_cpu_count(m);
    while (intc_machine_ioapic(m, v->n_io))
        v->n_io++;
    v->pins = calloc(v->n_io ? v->n_io : 1, sizeof *v->pins);
    if (!v->pins) {
        vcd_free(v);
        return NULL;
    }
    for (uint32_t i = 0; i < v->n_io; i++) {
        v->pins[i] = intc_ioapic_pin_count(intc_machine_ioapic(m, i));
        v->n_pins += v->pins[i];
    }
    v->line = calloc(v->n_pins ? v->n_pins : 1, 1);
    v->rirr = calloc(v->n_pins ? v->n_pins : 1, 1);
    v->irr = calloc(v->n_cpus, sizeof *v->irr);
    v->isr = calloc(v->n_cpus, sizeof *v->isr);
    v->ppr = calloc(v->n_cpus, 1);
    v->tpr = calloc(v->n_cpus, 1);
    if (!v->line || !v->rirr || !v->irr || !v->isr || !v->ppr || !v->tpr) {
        vcd_free(v);
        return NULL;
    }
    v->f = fopen(path, "w");
    if (!v->f) {
        vcd_free(v);
        return NULL;
    }
    fprintf(v->f, "$version intc-sim (libintc %s) $end\n"
                  "$timescale 1ns $end\n"
                  "$scope module machine $end\n",
            intc_version_string());
    for (uint32_t i = 0; i < v->n_io; i++) {
        fprintf(v->f, "$scope module ioapic%" PRIu32 " $end\n", i);
        for (uint32_t p = 0; p < v->pins[i]; p++, k++) {
            vcd_id(id, sig_pin(k, 0));
            fprintf(v->f, "$var wire 1 %s pin%" PRIu32 "_line $end\n", id, p);
            vcd_id(id, sig_pin(k, 1));
            fprintf(v->f, "$var wire 1 %s pin%" PRIu32 "_remote_irr $end\n",
                    id, p);
        }
        fprintf(v->f, "$upscope $end\n");
    }
    for (uint32_t c = 0; c < v->n_cpus; c++) {
        static const char *const names[4] = {"irr", "isr", "ppr", "tpr"};
        static const unsigned widths[4] = {256, 256, 8, 8};
        fprintf(v->f, "$scope module cpu%" PRIu32 " $end\n", c);
        for (int s = 0; s < 4; s++) {
            vcd_id(id, sig_cpu(v, c, s));
            fprintf(v->f, "$var wire %u %s %s [%u:0] $end\n", widths[s], id,
                    names[s], widths[s] - 1);
        }
        fprintf(v->f, "$upscope $end\n");
    }
    fprintf(v->f, "$upscope $end\n$enddefinitions $end\n");
    fprintf(v->f, "#%" PRIu64 "\n$dumpvars\n", t);
    v->last_t = t;
    v->time_written = true;
    vcd_scan(v, t, true);
    fprintf(v->f, "$end\n");
    return v;
}

void sim_vcd_sample(sim_vcd *v, uint64_t t)
{
    if (t < v->last_t)
        t = v->last_t; /* never backwards */
    vcd_scan(v, t, false);
}

bool sim_vcd_close(sim_vcd *v)
{
    bool ok;

    if (!v)
        return true;
    ok = !ferror(v->f);
    if (fclose(v->f) != 0)
        ok = false;
    vcd_free(v);
    return ok;
}
