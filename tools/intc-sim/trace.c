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

static const char *delivery_mode(uint64_t dm)
{
    static const char *const n[8] = {"fixed", "lowest", "smi",  "reserved3",
                                     "nmi",   "init",   "sipi", "extint"};
    return n[dm & 7];
}

void sim_event_text(const intc_event *ev, char *buf, size_t len)
{
    char cpu[24] = "", vec[24] = "";
    size_t n;

    if (ev->cpu != INTC_NO_CPU)
        snprintf(cpu, sizeof cpu, "cpu=%" PRIu32 " ", ev->cpu);
    if (ev->vector >= 0)
        snprintf(vec, sizeof vec, "vector=0x%02" PRIx32 " ",
                 (uint32_t)ev->vector);
    else
        snprintf(vec, sizeof vec, "vector=none ");

    switch (ev->type) {
    case INTC_EV_IRR_SET:
        snprintf(buf, len, "%s%s%s", cpu, vec, ev->data ? "level" : "edge");
        break;
    case INTC_EV_COALESCED:
    case INTC_EV_ACK:
    case INTC_EV_SPURIOUS:
    case INTC_EV_EOI_BROADCAST:
    case INTC_EV_SIPI:
        snprintf(buf, len, "%s%s", cpu, vec);
        break;
    case INTC_EV_EOI:
        snprintf(buf, len, "%s%s%s", cpu, vec, ev->data ? "level" : "edge");
        break;
    case INTC_EV_IPI:
        snprintf(buf, len, "%s%sicr=0x%" PRIx64 " targets=%" PRIu64, cpu, vec,
                 ev->data, ev->data2);
        break;
    case INTC_EV_NMI:
    case INTC_EV_SMI:
    case INTC_EV_INIT:
    case INTC_EV_EXTINT:
        snprintf(buf, len, "%s", cpu);
        break;
    case INTC_EV_INIT_RESET:
        snprintf(buf, len, "%s%s", cpu,
                 ev->data ? "waits-for-sipi" : "runs");
        break;
    case INTC_EV_TIMER: {
        static const char *const modes[4] = {"one-shot", "periodic",
                                             "tsc-deadline", "mode3"};
        snprintf(buf, len, "%s%s%s missed=%" PRIu64, cpu,
                 ev->vector < 0 ? "masked " : vec, modes[ev->data & 3],
                 ev->data2);
        break;
    }
    case INTC_EV_ESR_ERROR:
        snprintf(buf, len, "%snew=0x%02" PRIx64 " esr=0x%02" PRIx64, cpu,
                 ev->data, ev->data2);
        break;
    case INTC_EV_APIC_BASE:
        snprintf(buf, len, "%snew=0x%" PRIx64 " old=0x%" PRIx64, cpu,
                 ev->data, ev->data2);
        break;
    case INTC_EV_LINT:
        snprintf(buf, len, "%slint%" PRIu32 " level=%" PRIu64, cpu, ev->pin,
                 ev->data);
        break;
    case INTC_EV_LVT_REMOTE_IRR:
        snprintf(buf, len, "%slvt=%" PRIu32 " %s%s", cpu, ev->pin, vec,
                 ev->data ? "set" : "cleared");
        break;
    case INTC_EV_REJECTED:
        snprintf(buf, len, "%s%smode=%s", cpu, vec, delivery_mode(ev->data));
        break;
    case INTC_EV_NO_TARGET:
        snprintf(buf, len, "%s%sdest=0x%" PRIx64 " mode=%s", cpu, vec,
                 ev->data, delivery_mode(ev->data2));
        break;
    case INTC_EV_BAD_ACCESS:
        snprintf(buf, len, "%soffset=0x%" PRIx32 " size=%" PRIu64, cpu,
                 ev->pin, ev->data);
        break;
    case INTC_EV_MSI:
        snprintf(buf, len, "%ssid=0x%04" PRIx32 " addr=0x%" PRIx64
                 " data=0x%08" PRIx64 " reached=%" PRIu64, vec, ev->pin,
                 ev->data, ev->data2 & 0xffffffffu, ev->data2 >> 32);
        break;
    case INTC_EV_MSI_DROPPED: {
        static const char *const why[] = {
            "?", "not-interrupt", "reserved-data", "reserved-mode",
            "deassert", "reserved-addr", "no-remapping"};
        uint64_t r = ev->data2 >> 32;
        snprintf(buf, len, "%ssid=0x%04" PRIx32 " addr=0x%" PRIx64
                 " data=0x%08" PRIx64 " reason=%s", vec, ev->pin, ev->data,
                 ev->data2 & 0xffffffffu, r < 7 ? why[r] : "?");
        break;
    }
    case INTC_EV_IOAPIC_SEND:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %srte=0x%016"
                 PRIx64 "%s", ev->unit, ev->pin, vec, ev->data,
                 ev->data2 ? " redelivery" : "");
        break;
    case INTC_EV_IOAPIC_LINE:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %s "
                 "electrical=%" PRIu64, ev->unit, ev->pin,
                 ev->data ? "asserted" : "deasserted", ev->data2);
        break;
    case INTC_EV_IOAPIC_MASKED:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %srte=0x%016"
                 PRIx64, ev->unit, ev->pin, vec, ev->data);
        break;
    case INTC_EV_IOAPIC_EOI:
        snprintf(buf, len, "ioapic=%" PRIu32 " %s", ev->unit, vec);
        break;
    case INTC_EV_REMOTE_IRR:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %s%s",
                 ev->unit, ev->pin, vec, ev->data ? "set" : "cleared");
        break;
    case INTC_EV_POLARITY_MISMATCH:
    case INTC_EV_TRIGGER_MISMATCH:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %s"
                 "programmed=%" PRIu64 " wired=%" PRIu64, ev->unit, ev->pin,
                 vec, ev->data, ev->data2);
        break;
    case INTC_EV_STORM:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " %s"
                 "redeliveries=%" PRIu64, ev->unit, ev->pin, vec, ev->data);
        break;
    case INTC_EV_MSIX_PENDING:
        snprintf(buf, len, "device=%" PRIu32 " vector=%" PRIu32, ev->unit,
                 ev->pin);
        break;
    case INTC_EV_RESAMPLE:
        snprintf(buf, len, "ioapic=%" PRIu32 " pin=%" PRIu32 " gsi=%" PRIu64,
                 ev->unit, ev->pin, ev->data);
        break;
    case INTC_EV_IR_REMAPPED:
        snprintf(buf, len, "sid=0x%04" PRIx32 " %sirte=%" PRIu64 " dest=0x%"
                 PRIx64 " reached=%" PRIu64, ev->pin, vec, ev->data,
                 ev->data2 & 0xffffffffu, ev->data2 >> 32);
        break;
    case INTC_EV_IR_FAULT:
        snprintf(buf, len, "sid=0x%04" PRIx32 " reason=0x%02" PRIx64
                 " recorded=%" PRIu64 " index=%" PRIu64, ev->pin,
                 ev->data & 0xff, (ev->data >> 8) & 1, ev->data2);
        break;
    case INTC_EV_IR_POSTED:
        snprintf(buf, len, "sid=0x%04" PRIx32 " %sdesc=0x%" PRIx64
                 " notified=%" PRIu64, ev->pin, vec, ev->data, ev->data2);
        break;
    case INTC_EV_IR_INVALIDATE:
        if (ev->data2 == INTC_IOMMU_INV_ALL)
            snprintf(buf, len, "all");
        else
            snprintf(buf, len, "index=%" PRIu64 " mask=%" PRIu64, ev->data,
                     ev->data2);
        break;
    case INTC_EV_IR_QUEUE_ERROR:
        snprintf(buf, len, "head=0x%" PRIx64 " tail=0x%" PRIx64, ev->data,
                 ev->data2);
        break;
    case INTC_EV_IR_STATUS:
        snprintf(buf, len, "reg=0x%" PRIx32 " value=0x%" PRIx64
                 " written=0x%" PRIx64, ev->pin, ev->data, ev->data2);
        break;
    default:
        snprintf(buf, len, "%s%sunit=%" PRIu32 " pin=%" PRIu32
                 " data=0x%" PRIx64 " data2=0x%" PRIx64, cpu, vec, ev->unit,
                 ev->pin, ev->data, ev->data2);
        break;
    }
    /* Drop a trailing blank left by an empty last field. */
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
