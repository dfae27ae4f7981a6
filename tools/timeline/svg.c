/*
 * libintc timeline — the SVG writer: a self-contained picture (no
 * scripts, fonts or links) with one lane per CPU and per IOAPIC pin,
 * MSI source and IOMMU that appears.
 *
 * The x axis is ordered, not to scale: every instant at which something
 * drawn happened gets a column, in order, and the axis labels give the
 * virtual time where it changes, so a 1 ns burst and an 80 us wait take
 * the same room.  Interrupts are rectangles from INTA to EOI labelled
 * with the vector (nested ones inset), Remote IRR a band on its pin,
 * the asserted input a green bar above it, senders dots with arrows to
 * each receiver's INTA, faults and other notable events marks.  The
 * output depends on the events only: the same run gives the same bytes.
 */
#include "tl_priv.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define LEFT 140   /* lane labels */
#define TOP 52     /* title, legend */
#define LH 34      /* lane height */
#define CW 18      /* column width */
#define AXIS 46    /* time axis below the lanes */
#define RIGHT 60
#define MIN_WIDTH 760 /* room for the legend */
#define HIDDEN UINT32_MAX

typedef struct svg_ctx {
    const tl_trace *t;
    FILE *f;
    uint32_t *col;   /* per item: its column (drawn items) */
    uint32_t *row;   /* per lane: its row, or HIDDEN */
    uint32_t *order; /* lanes in display order */
    uint64_t *cvt;   /* per column: the virtual time */
    long *rise;      /* per lane: x where the input rose, or -1 */
    uint32_t n_rows, n_cols;
} svg_ctx;

static long col_x(uint32_t c)
{
    return LEFT + (long)c * CW + CW / 2;
}

static long row_y(const svg_ctx *s, uint32_t lane)
{
    return TOP + (long)s->row[lane] * LH;
}

static long width(const svg_ctx *s)
{
    long w = LEFT + (long)s->n_cols * CW + RIGHT;

    return w < MIN_WIDTH ? MIN_WIDTH : w;
}

/* Marks drawn: faults and failures (red), signals and timers (blue). */
static int mark_style(intc_event_type ty)
{
    switch (ty) {
    case INTC_EV_IR_FAULT:
    case INTC_EV_SPURIOUS:
    case INTC_EV_REJECTED:
    case INTC_EV_NO_TARGET:
    case INTC_EV_MSI_DROPPED:
    case INTC_EV_STORM:
    case INTC_EV_IOAPIC_MASKED:
    case INTC_EV_POLARITY_MISMATCH:
    case INTC_EV_TRIGGER_MISMATCH:
    case INTC_EV_ESR_ERROR:
    case INTC_EV_IR_QUEUE_ERROR: return 1;
    case INTC_EV_TIMER:
    case INTC_EV_NMI:
    case INTC_EV_SMI:
    case INTC_EV_INIT:
    case INTC_EV_SIPI:
    case INTC_EV_EXTINT:
    case INTC_EV_COALESCED:
    case INTC_EV_IR_POSTED: return 2;
    default: return 0;
    }
}

static bool drawn(const svg_ctx *s, const tl_item *it)
{
    if (s->row[it->lane] == HIDDEN)
        return false;
    switch (it->kind) {
    case TL_BEGIN:
    case TL_END:
    case TL_SEND: return true;
    case TL_MARK: return mark_style(it->ev.type) != 0;
    case TL_CTR: return it->what == TL_CTR_LEVEL;
    default: return false;
    }
}

/* Rows (CPUs: all up to 64, else those used) and columns. */
static void layout(svg_ctx *s)
{
    const tl_trace *t = s->t;
    uint64_t last = 0;

    tl_lane_order(t, s->order);
    for (uint32_t i = 0; i < t->n_lanes; i++) {
        uint32_t l = s->order[i];
        bool show = t->lanes[l].used ||
                    (t->lanes[l].kind == TL_LANE_CPU && t->n_cpus <= 64);
        s->row[l] = show ? s->n_rows++ : HIDDEN;
        s->rise[l] = -1;
    }
    for (uint32_t i = 0; i < t->n; i++) {
        const tl_item *it = &t->items[i];
        if (it->kind == TL_RECV || !drawn(s, it)) {
            s->col[i] = s->n_cols ? s->n_cols - 1 : 0;
            continue;
        }
        if (s->n_cols == 0 || it->t != last) {
            s->cvt[s->n_cols++] = it->vt;
            last = it->t;
        }
        s->col[i] = s->n_cols - 1;
    }
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20)
                fputc(*s, f);
        }
}

/* "0 ns", "80 us" (as µs), "1.5 ms", "2 s": exact, trailing zeros cut. */
static void fmt_time(uint64_t ns, char *buf, size_t len)
{
    static const char *const unit[4] = {"ns", "\xc2\xb5s", "ms", "s"};
    uint64_t div = 1;
    int u = 0;
    char frac[16];
    size_t n;

    while (u < 3 && ns >= div * 1000) {
        div *= 1000;
        u++;
    }
    snprintf(frac, sizeof frac, "%0*" PRIu64, u * 3, ns % div);
    n = strlen(frac);
    while (n > 0 && frac[n - 1] == '0')
        frac[--n] = 0;
    snprintf(buf, len, "%" PRIu64 "%s%s %s", ns / div, n ? "." : "", frac,
             unit[u]);
}

static void header(const svg_ctx *s)
{
    long w = width(s), h = TOP + (long)s->n_rows * LH + AXIS;
    const tl_trace *t = s->t;

    fprintf(s->f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%ld\" "
            "height=\"%ld\" viewBox=\"0 0 %ld %ld\" "
            "font-family=\"DejaVu Sans, Verdana, sans-serif\" "
            "font-size=\"11\">\n"
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" "
            "refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
            "orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" "
            "fill=\"#555\"/></marker></defs>\n"
            "<rect width=\"%ld\" height=\"%ld\" fill=\"#ffffff\"/>\n"
            "<text x=\"8\" y=\"18\" font-size=\"14\" font-weight=\"bold\">",
            w, h, w, h, w, h);
    xml_text(s->f, t->title ? t->title : "libintc timeline");
    fprintf(s->f, "</text>\n<text x=\"8\" y=\"36\" fill=\"#555\">"
                  "interrupts from INTA to EOI; arrows from sender to "
                  "receiver; red marks: faults and rejects; columns are "
                  "in event order, not to scale");
    if (t->dropped)
        fprintf(s->f, "; %" PRIu64 " events left out", t->dropped);
    fputs("</text>\n", s->f);
}

static void lanes(const svg_ctx *s)
{
    char name[64];
    long w = width(s);

    for (uint32_t i = 0; i < s->t->n_lanes; i++) {
        uint32_t l = s->order[i];
        long y;
        if (s->row[l] == HIDDEN)
            continue;
        y = row_y(s, l);
        fprintf(s->f, "<rect x=\"0\" y=\"%ld\" width=\"%ld\" height=\"%d\" "
                      "fill=\"%s\"/>\n", y, w, LH,
                s->row[l] % 2 ? "#f4f6f8" : "#fbfcfd");
        tl_lane_name(s->t, l, name, sizeof name);
        fprintf(s->f, "<text x=\"8\" y=\"%ld\" font-weight=\"bold\">%s"
                      "</text>\n", y + LH / 2 + 4, name);
    }
    fprintf(s->f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%ld\" "
                  "stroke=\"#bbb\"/>\n", LEFT - 4, TOP, LEFT - 4,
            TOP + (long)s->n_rows * LH);
}

static const char *vec_color(int32_t v)
{
    static const char *const pal[8] = {"#8ecae6", "#ffb703", "#90be6d",
                                       "#f4a3c0", "#b8a1e3", "#f9c74f",
                                       "#7fd1b9", "#f8961e"};
    return pal[((uint32_t)v >> 4) & 7];
}

/* A span's rectangle, from its BEGIN i to its END (or the end). */
static void span(const svg_ctx *s, uint32_t i)
{
    const tl_item *b = &s->t->items[i];
    uint32_t c1 = b->link != TL_NONE ? s->col[b->link] : s->n_cols - 1;
    long x0 = col_x(s->col[i]) - CW / 2 + 2, x1 = col_x(c1) + CW / 2 - 2;
    long y = row_y(s, b->lane), d = b->value > 6 ? 6 : (long)b->value;
    uint32_t v = (uint32_t)b->ev.vector & 0xff;

    if (b->what == TL_SPAN_RIRR) {
        fprintf(s->f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"12\""
                      " fill=\"#ffd6a5\" stroke=\"#c77d2e\"/>\n<text x=\"%ld\" "
                      "y=\"%ld\" font-size=\"9\">Remote IRR</text>\n",
                x0, y + LH - 16, x1 - x0, x0 + 3, y + LH - 7);
        return;
    }
    fprintf(s->f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"%ld\" "
                  "rx=\"2\" fill=\"%s\" stroke=\"#333\"%s/>\n"
                  "<text x=\"%ld\" y=\"%ld\" font-size=\"10\">0x%02" PRIx32
                  "</text>\n",
            x0, y + 4 + 3 * d, x1 - x0, (long)LH - 8 - 6 * d,
            vec_color(b->ev.vector),
            b->link == TL_NONE ? " stroke-dasharray=\"3,2\"" : "", x0 + 3,
            y + LH / 2 + 4, v);
}

static void level(svg_ctx *s, uint32_t i)
{
    const tl_item *it = &s->t->items[i];
    long x = col_x(s->col[i]), y = row_y(s, it->lane);

    if (it->value && s->rise[it->lane] < 0) {
        s->rise[it->lane] = x;
    } else if (!it->value && s->rise[it->lane] >= 0) {
        fprintf(s->f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"5\""
                      " fill=\"#2a9d8f\"/>\n", s->rise[it->lane], y + 1,
                x - s->rise[it->lane]);
        s->rise[it->lane] = -1;
    }
}

/* Inputs still asserted at the end. */
static void levels_end(svg_ctx *s)
{
    long x = col_x(s->n_cols ? s->n_cols - 1 : 0) + CW / 2;

    for (uint32_t l = 0; l < s->t->n_lanes; l++)
        if (s->row[l] != HIDDEN && s->rise[l] >= 0)
            fprintf(s->f, "<rect x=\"%ld\" y=\"%ld\" width=\"%ld\" "
                          "height=\"5\" fill=\"#2a9d8f\"/>\n", s->rise[l],
                    row_y(s, l) + 1, x - s->rise[l]);
}

static void send(const svg_ctx *s, uint32_t i)
{
    const tl_item *it = &s->t->items[i];
    long x = col_x(s->col[i]), y = row_y(s, it->lane);
    char label[32];

    tl_send_label(it, label, sizeof label);
    fprintf(s->f, "<circle cx=\"%ld\" cy=\"%ld\" r=\"4\" fill=\"#264653\">"
                  "<title>%s</title></circle>\n<text x=\"%ld\" y=\"%ld\" "
                  "font-size=\"8\" fill=\"#264653\">%s</text>\n",
            x, y + LH / 2, label, x - CW / 2 + 1, y + 12, label);
}

static void arrow(const svg_ctx *s, uint32_t i)
{
    const tl_item *r = &s->t->items[i], *snd = &s->t->items[r->link];
    long x0, y0, x1, y1;

    if (s->row[snd->lane] == HIDDEN || s->row[r->lane] == HIDDEN)
        return;
    x0 = col_x(s->col[r->link]);
    y0 = row_y(s, snd->lane) + LH / 2;
    x1 = col_x(s->col[i]) - CW / 2 + 2;
    y1 = row_y(s, r->lane) + LH / 2;
    if (y1 != y0)
        y1 += y1 > y0 ? -(LH / 2 - 4) : LH / 2 - 4;
    fprintf(s->f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" "
                  "stroke=\"#555\" stroke-width=\"1.2\" "
                  "marker-end=\"url(#arrow)\"/>\n", x0, y0, x1, y1);
}

static void mark(const svg_ctx *s, uint32_t i)
{
    const tl_item *it = &s->t->items[i];
    long x = col_x(s->col[i]), y = row_y(s, it->lane) + LH / 2;
    int style = mark_style(it->ev.type);
    const char *c = style == 1 ? "#d62828" : "#1d4e89";
    char label[40];

    if (it->ev.type == INTC_EV_IR_FAULT)
        snprintf(label, sizeof label, "fault 0x%02" PRIx64,
                 it->ev.data & 0xff);
    else
        snprintf(label, sizeof label, "%s", intc_event_name(it->ev.type));
    /* Labels of neighbouring marks alternate below and above. */
    fprintf(s->f, "<path d=\"M%ld,%ld l5,9 l-10,0 z\" fill=\"%s\">"
                  "<title>%s</title></path>\n<text x=\"%ld\" y=\"%ld\" "
                  "font-size=\"8\" fill=\"%s\">%s</text>\n",
            x, y - 4, c, label, x - CW / 2 + 1,
            s->col[i] % 2 ? y - 7 : y + 15, c, label);
}

static void axis(const svg_ctx *s)
{
    long y = TOP + (long)s->n_rows * LH + 6, last = -1000;
    char buf[32];

    fprintf(s->f, "<line x1=\"%d\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" "
                  "stroke=\"#333\"/>\n", LEFT, y, width(s) - RIGHT + CW, y);
    for (uint32_t c = 0; c < s->n_cols; c++) {
        long x = col_x(c);
        if (c > 0 && s->cvt[c] == s->cvt[c - 1])
            continue;
        fprintf(s->f, "<line x1=\"%ld\" y1=\"%ld\" x2=\"%ld\" y2=\"%ld\" "
                      "stroke=\"#333\"/>\n", x, y, x, y + 5);
        if (x - last < 70)
            continue;
        fmt_time(s->cvt[c], buf, sizeof buf);
        fprintf(s->f, "<text x=\"%ld\" y=\"%ld\" text-anchor=\"middle\" "
                      "font-size=\"10\">%s</text>\n", x, y + 17, buf);
        last = x;
    }
    fprintf(s->f, "<text x=\"%d\" y=\"%ld\" fill=\"#555\" font-size=\"10\">"
                  "virtual time</text>\n", 8, y + 17);
}

static void body(svg_ctx *s)
{
    const tl_trace *t = s->t;

    for (int pass = 0; pass < 3; pass++)
        for (uint32_t i = 0; i < t->n; i++) {
            const tl_item *it = &t->items[i];
            if (it->kind != TL_RECV && !drawn(s, it))
                continue;
            if (pass == 0 && it->kind == TL_BEGIN)
                span(s, i);
            else if (pass == 0 && it->kind == TL_CTR)
                level(s, i);
            else if (pass == 1 && it->kind == TL_RECV)
                arrow(s, i);
            else if (pass == 2 && it->kind == TL_SEND)
                send(s, i);
            else if (pass == 2 && it->kind == TL_MARK)
                mark(s, i);
        }
    levels_end(s);
}

bool tl_write_svg(const tl_trace *t, FILE *f)
{
    svg_ctx s = {.t = t, .f = f};
    size_t nl = t->n_lanes, ni = t->n ? t->n : 1;
    bool ok = false;

    s.col = malloc(ni * sizeof *s.col);
    s.cvt = malloc(ni * sizeof *s.cvt);
    s.row = malloc(nl * sizeof *s.row);
    s.order = malloc(nl * sizeof *s.order);
    s.rise = malloc(nl * sizeof *s.rise);
    if (s.col && s.cvt && s.row && s.order && s.rise) {
        layout(&s);
        header(&s);
        lanes(&s);
        body(&s);
        axis(&s);
        fputs("</svg>\n", f);
        ok = !ferror(f);
    }
    free(s.col);
    free(s.cvt);
    free(s.row);
    free(s.order);
    free(s.rise);
    return ok;
}
