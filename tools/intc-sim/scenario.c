/*
 * intc-sim — scenario files: YAML (libyaml document API) to a validated
 * sim_scenario (docs/scenario.md).
 *
 * Every check happens here, before anything runs: unknown keys, wrong
 * types, out-of-range values, unknown names, times in the past, duplicate
 * names.  The first problem is reported as "FILE:LINE:COL: error: ..." from
 * the node's mark.  The walk is driven by the schema, so its depth is
 * bounded by the schema's; aliases may make the YAML graph a DAG or even a
 * cycle, so every node visit is counted against SIM_MAX_NODE_VISITS.
 *
 * Before the document is loaded, a first pass over libyaml's events
 * (prescan) refuses nesting deeper than SIM_MAX_DEPTH, a second document
 * and any tag but !!str, !!int, !!bool, !!seq and !!map, and records each
 * node's explicit tag: the loaded document gives untagged scalars the
 * !!str tag too, so the tags the file wrote are kept aside (docs/
 * scenario.md "Tags").
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "op.h"

typedef struct pctx {
    const char *file;
    yaml_document_t *doc;
    sim_scenario *s;
    unsigned long visits;
    bool failed;
    bool host_err;   /* out of memory: exit 3 */
    uint8_t *tags;   /* TAG_* per node, in document order */
    size_t n_tags, cap_tags;
    uint64_t now; /* static virtual time while walking the steps */
} pctx;

#if defined(__GNUC__)
#  define SIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define SIM_PRINTF(a, b)
#endif

/* Report the first error at mark m; always returns false. */
SIM_PRINTF(3, 4)
static bool perr_at(pctx *p, const yaml_mark_t *m, const char *fmt, ...)
{
    va_list ap;

    if (p->failed)
        return false;
    p->failed = true;
    fprintf(stderr, "%s:%lu:%lu: error: ", p->file,
            (unsigned long)m->line + 1, (unsigned long)m->column + 1);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}

/* Node n's position; 1:1 without a node. */
static const yaml_mark_t *node_mark(const yaml_node_t *n)
{
    static const yaml_mark_t origin = {0, 0, 0};

    return n ? &n->start_mark : &origin;
}

/* Report the first error at node n (format and arguments follow). */
#define perr(p, n, ...) perr_at((p), node_mark(n), __VA_ARGS__)

/* Fetch node idx, counting the visit. */
static yaml_node_t *get(pctx *p, int idx, const yaml_node_t *from)
{
    yaml_node_t *n = yaml_document_get_node(p->doc, idx);

    if (!n) {
        perr(p, from, "internal: dangling YAML node");
        return NULL;
    }
    if (++p->visits > SIM_MAX_NODE_VISITS) {
        perr(p, n, "document too large (more than %u nodes, counting "
                   "each use of an alias)", SIM_MAX_NODE_VISITS);
        return NULL;
    }
    return n;
}

/* ---- scalars ---- */

static bool is_scalar(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE;
}

/* Explicit tags (docs/scenario.md "Tags"). */
enum { TAG_NONE, TAG_STR, TAG_INT, TAG_BOOL, TAG_SEQ, TAG_MAP };

static unsigned ntag(const pctx *p, const yaml_node_t *n)
{
    size_t i = (size_t)(n - p->doc->nodes.start);

    return i < p->n_tags ? p->tags[i] : TAG_NONE;
}

/* A plain scalar without a tag: typed by what its key expects. */
static bool untyped(const pctx *p, const yaml_node_t *n)
{
    return is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           ntag(p, n) == TAG_NONE;
}

/* A scalar that may stand for an integer: untyped or !!int. */
static bool intlike(const pctx *p, const yaml_node_t *n)
{
    return untyped(p, n) || (is_scalar(n) && ntag(p, n) == TAG_INT);
}

/* A scalar that may be a word or a name: anything but !!int, !!bool. */
static bool wordlike(const pctx *p, const yaml_node_t *n)
{
    unsigned t;

    if (!is_scalar(n))
        return false;
    t = ntag(p, n);
    return t == TAG_NONE || t == TAG_STR;
}

/* Scalar text and length (may hold NUL bytes: "\0" escapes). */
static const char *stext(const yaml_node_t *n, size_t *len)
{
    *len = n->data.scalar.length;
    return (const char *)n->data.scalar.value;
}

static bool seq(const yaml_node_t *n, const char *what, pctx *p)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return perr(p, n, "%s: expected a list", what);
    return true;
}

static size_t seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top -
                    n->data.sequence.items.start);
}

static bool seq_item(pctx *p, yaml_node_t *n, size_t i, yaml_node_t **out)
{
    *out = get(p, n->data.sequence.items.start[i], n);
    return *out != NULL;
}

/* Does scalar n's text spell exactly word? */
static bool sis_text(const yaml_node_t *n, const char *word)
{
    size_t len;
    const char *t;

    if (!is_scalar(n))
        return false;
    t = stext(n, &len);
    return len == strlen(word) && memcmp(t, word, len) == 0;
}

/* ... and is it a word (no !!int or !!bool)? */
static bool sis(const pctx *p, const yaml_node_t *n, const char *word)
{
    return wordlike(p, n) && sis_text(n, word);
}

/* Copy a scalar for messages: printable, truncated. */
static const char *show(const yaml_node_t *n, char *buf, size_t blen)
{
    size_t len, j = 0;
    const char *t;

    if (!is_scalar(n))
        return n->type == YAML_MAPPING_NODE ? "(a mapping)" : "(a list)";
    t = stext(n, &len);
    for (size_t i = 0; i < len && j + 4 < blen; i++) {
        unsigned char c = (unsigned char)t[i];
        buf[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > 0 && j + 4 >= blen)
        memcpy(buf + j, "...", 4), j += 3;
    buf[j] = 0;
    return buf;
}

/* 0 ok, 1 not a number, 2 too large. */
static int parse_uint(const char *t, size_t len, uint64_t *out)
{
    unsigned base = 10;
    size_t i = 0;
    uint64_t v = 0;

    if (len > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
        base = 16, i = 2;
    else if (len > 2 && t[0] == '0' && (t[1] == 'b' || t[1] == 'B'))
        base = 2, i = 2;
    if (i >= len)
        return 1;
    for (; i < len; i++) {
        unsigned d;
        char c = t[i];

        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 1;
        if (d >= base)
            return 1;
        if (v > (UINT64_MAX - d) / base)
            return 2;
        v = v * base + d;
    }
    *out = v;
    return 0;
}

static bool get_uint(pctx *p, const yaml_node_t *n, const char *what,
                     uint64_t min, uint64_t max, uint64_t *out)
{
    size_t len;
    const char *t;
    char b[64];
    int r;

    if (!is_scalar(n))
        return perr(p, n, "%s: expected an integer, got %s", what,
                    show(n, b, sizeof b));
    if (!intlike(p, n))
        return perr(p, n, "%s: expected an integer, got a %s", what,
                    ntag(p, n) == TAG_BOOL ? "!!bool" : "string");
    t = stext(n, &len);
    r = parse_uint(t, len, out);
    if (r == 1 && len > 0 && t[0] == '-')
        r = 2;
    if (r == 1)
        return perr(p, n, "%s: expected an integer, got '%s'", what,
                    show(n, b, sizeof b));
    if (r == 2 || *out < min || *out > max)
        return perr(p, n,
                    "%s: value '%s' out of range (%" PRIu64 "..%" PRIu64
                    ")", what, show(n, b, sizeof b), min, max);
    return true;
}

static bool get_u32(pctx *p, const yaml_node_t *n, const char *what,
                    uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v;

    if (!get_uint(p, n, what, min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool get_bool(pctx *p, const yaml_node_t *n, const char *what,
                     bool *out)
{
    char b[64];
    bool typed = is_scalar(n) && ntag(p, n) == TAG_BOOL;

    if ((typed || untyped(p, n)) && sis_text(n, "true"))
        return *out = true, true;
    if ((typed || untyped(p, n)) && sis_text(n, "false"))
        return *out = false, true;
    return perr(p, n, "%s: expected true or false, got %s", what,
                show(n, b, sizeof b));
}

/* Durations: an integer (ns) or "<decimal><unit>", unit ns/us/ms/s. */
static bool get_duration(pctx *p, const yaml_node_t *n, const char *what,
                         uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {{"ns", 1}, {"us", 1000}, {"ms", 1000000},
                 {"s", 1000000000}};
    size_t len, i = 0, ip_end, fr_start, fr_end;
    const char *t;
    char b[64];
    uint64_t ip = 0, fr = 0, pow10 = 1, mult = 0, v;

    if (!is_scalar(n))
        return perr(p, n, "%s: expected a duration, got %s", what,
                    show(n, b, sizeof b));
    t = stext(n, &len);
    if (intlike(p, n) && parse_uint(t, len, &v) == 0)
        return *out = v, true;
    while (i < len && t[i] >= '0' && t[i] <= '9')
        i++;
    ip_end = i;
    fr_start = fr_end = i;
    if (i < len && t[i] == '.') {
        fr_start = ++i;
        while (i < len && t[i] >= '0' && t[i] <= '9')
            i++;
        fr_end = i;
        if (fr_end == fr_start)
            goto bad;
    }
    if (ip_end == 0 || !wordlike(p, n)) /* !!int 80us, !!bool 1s */
        goto bad;
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++)
        if (len - i == strlen(units[u].unit) &&
            memcmp(t + i, units[u].unit, len - i) == 0)
            mult = units[u].mult;
    if (!mult)
        goto bad;
    if (fr_end - fr_start > 18)
        return perr(p, n, "%s: '%s' has too many decimals", what,
                    show(n, b, sizeof b));
    if (ip_end > 19)
        goto range;
    for (size_t k = 0; k < ip_end; k++)
        ip = ip * 10 + (uint64_t)(t[k] - '0');
    for (size_t k = fr_start; k < fr_end; k++) {
        fr = fr * 10 + (uint64_t)(t[k] - '0');
        pow10 *= 10;
    }
    /* ip * mult + fr * mult / pow10, exactly. */
    if (ip > UINT64_MAX / mult)
        goto range;
    v = ip * mult;
    {
        /* fr < pow10 <= 1e18 and mult <= 1e9: split to avoid overflow. */
        uint64_t g = pow10, m = mult, f = fr;
        while (g % 10 == 0 && m % 10 == 0)
            g /= 10, m /= 10;
        if (f % g != 0)
            return perr(p, n, "%s: '%s' is not a whole number of "
                              "nanoseconds", what, show(n, b, sizeof b));
        f = f / g;
        if (m && f > UINT64_MAX / m)
            goto range;
        f *= m;
        if (v > UINT64_MAX - f)
            goto range;
        v += f;
    }
    *out = v;
    return true;
bad:
    return perr(p, n, "%s: expected a duration (ns, or \"80us\", "
                      "\"1.5ms\", \"2s\"), got '%s'", what,
                show(n, b, sizeof b));
range:
    return perr(p, n, "%s: duration '%s' out of range", what,
                show(n, b, sizeof b));
}

/* A name: non-empty scalar without control characters, <= 200 bytes. */
static bool get_name(pctx *p, const yaml_node_t *n, const char *what,
                     char **out)
{
    size_t len;
    const char *t;

    if (!wordlike(p, n))
        return perr(p, n, "%s: expected a string", what);
    t = stext(n, &len);
    if (len == 0 || len > 200)
        return perr(p, n, "%s: names must be 1 to 200 bytes long", what);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            return perr(p, n, "%s: control character in name", what);
    *out = malloc(len + 1);
    if (!*out)
        return perr(p, n, "out of memory");
    memcpy(*out, t, len);
    (*out)[len] = 0;
    return true;
}

/* One of a fixed list of words; index in *out. */
static bool get_enum(pctx *p, const yaml_node_t *n, const char *what,
                     const char *const *words, unsigned *out)
{
    char b[64], list[256] = "";

    if (is_scalar(n))
        for (unsigned i = 0; words[i]; i++)
            if (sis(p, n, words[i]))
                return *out = i, true;
    for (unsigned i = 0; words[i]; i++) {
        if (i)
            strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, words[i], sizeof list - strlen(list) - 1);
    }
    return perr(p, n, "%s: expected one of %s, got %s", what, list,
                show(n, b, sizeof b));
}

/* ---- mappings ---- */

#define MV_MAX 72

typedef struct mapview {
    const char *const *keys;
    yaml_node_t *node;
    yaml_node_t *key[MV_MAX];
    yaml_node_t *val[MV_MAX];
} mapview;

static bool map_open(pctx *p, yaml_node_t *n, const char *what,
                     const char *const *keys, mapview *mv)
{
    char b[64];

    memset(mv, 0, sizeof *mv);
    mv->keys = keys;
    mv->node = n;
    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, "%s: expected a mapping, got %s", what,
                    show(n, b, sizeof b));
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = get(p, pr->key, n), *v;
        unsigned i;

        if (!k)
            return false;
        if (!wordlike(p, k))
            return perr(p, k, "%s: keys must be plain words", what);
        for (i = 0; keys[i]; i++)
            if (sis(p, k, keys[i]))
                break;
        if (!keys[i])
            return perr(p, k, "unknown key '%s' in %s", show(k, b, sizeof b),
                        what);
        if (mv->val[i])
            return perr(p, k, "duplicate key '%s' in %s",
                        show(k, b, sizeof b), what);
        v = get(p, pr->value, n);
        if (!v)
            return false;
        mv->key[i] = k;
        mv->val[i] = v;
    }
    return true;
}

static unsigned mv_index(const mapview *mv, const char *key)
{
    for (unsigned i = 0; mv->keys[i]; i++)
        if (strcmp(mv->keys[i], key) == 0)
            return i;
    abort(); /* a key not in the list: a bug in this file */
}

/* Index of key in the mapping's key list, -1 if not one of them. */
static int mv_index_of(const mapview *mv, const char *key)
{
    for (unsigned i = 0; mv->keys[i]; i++)
        if (strcmp(mv->keys[i], key) == 0)
            return (int)i;
    return -1;
}

/* The value of key if the list has it and it was given. */
static yaml_node_t *mv_opt(const mapview *mv, const char *key)
{
    int i = mv_index_of(mv, key);

    return i < 0 ? NULL : mv->val[i];
}

static yaml_node_t *mv_get(const mapview *mv, const char *key)
{
    return mv->val[mv_index(mv, key)];
}

static yaml_node_t *mv_key(const mapview *mv, const char *key)
{
    return mv->key[mv_index(mv, key)];
}

/* Required key: error at the mapping if missing. */
static yaml_node_t *mv_need(pctx *p, const mapview *mv, const char *key,
                            const char *what)
{
    yaml_node_t *v = mv_get(mv, key);

    if (!v)
        perr(p, mv->node, "%s: missing key '%s'", what, key);
    return v;
}

/* Optional helpers: leave *out alone when the key is absent. */
static bool opt_uint(pctx *p, const mapview *mv, const char *key,
                     const char *what, uint64_t min, uint64_t max,
                     uint64_t *out)
{
    yaml_node_t *v = mv_get(mv, key);
    char w[96];

    if (!v)
        return true;
    snprintf(w, sizeof w, "%s %s", what, key);
    return get_uint(p, v, w, min, max, out);
}

static bool opt_u32(pctx *p, const mapview *mv, const char *key,
                    const char *what, uint32_t min, uint32_t max,
                    uint32_t *out)
{
    uint64_t v = *out;

    if (!opt_uint(p, mv, key, what, min, max, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool opt_bool(pctx *p, const mapview *mv, const char *key,
                     const char *what, bool *out)
{
    yaml_node_t *v = mv_get(mv, key);
    char w[96];

    if (!v)
        return true;
    snprintf(w, sizeof w, "%s %s", what, key);
    return get_bool(p, v, w, out);
}

static bool need_uint(pctx *p, const mapview *mv, const char *key,
                      const char *what, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    return mv_need(p, mv, key, what) &&
           opt_uint(p, mv, key, what, min, max, out);
}

static bool need_u32(pctx *p, const mapview *mv, const char *key,
                     const char *what, uint32_t min, uint32_t max,
                     uint32_t *out)
{
    return mv_need(p, mv, key, what) &&
           opt_u32(p, mv, key, what, min, max, out);
}

/* ---- tables ---- */

const char *sim_reg_name(uint32_t reg, char *buf, size_t len)
{
    const char *n = kit_reg_name(reg);

    if (n)
        return n;
    snprintf(buf, len, "0x%03" PRIx32, reg);
    return buf;
}

static bool get_reg(pctx *p, const yaml_node_t *n, const char *what,
                    uint32_t *out)
{
    char b[64];
    uint64_t v;

    for (uint32_t r = 0; r <= KIT_REG_ICR64; r += 0x10) {
        const char *name = kit_reg_name(r);
        if (name && sis(p, n, name))
            return *out = r, true;
    }
    if (intlike(p, n)) {
        size_t len;
        const char *t = stext(n, &len);
        if (parse_uint(t, len, &v) == 0) {
            if (v > 0xff0 || (v & 0xf))
                return perr(p, n, "%s: register offset 0x%" PRIx64
                                  " is not a 16-byte aligned offset in "
                                  "0..0xff0", what, v);
            return *out = (uint32_t)v, true;
        }
    }
    return perr(p, n, "%s: unknown register '%s'", what,
                show(n, b, sizeof b));
}

const char *sim_action_name(unsigned a)
{
    return a == SIM_ACT_EXPECT ? "expect" : kit_op_name(a);
}

static bool get_event_type(pctx *p, const yaml_node_t *n, const char *what,
                           int *out)
{
    char b[64];

    for (int t = 0; t < (int)INTC_EV_COUNT_; t++)
        if (sis(p, n, intc_event_name((intc_event_type)t)))
            return *out = t, true;
    return perr(p, n, "%s: unknown event type '%s'", what,
                show(n, b, sizeof b));
}


static bool opt_expect_error(pctx *p, const mapview *mv, const char *what,
                             int *out)
{
    yaml_node_t *v = mv_get(mv, "expect_error");
    unsigned i;

    if (!v)
        return true;
    if (!get_enum(p, v, what, kit_err_words, &i))
        return false;
    *out = kit_err_codes[i];
    return true;
}

/* ---- machine ---- */

static const char *const wiring_words[] = {"edge-high", "edge-low",
                                           "level-high", "level-low", NULL};
static const uint8_t wiring_flags[] = {
    0, INTC_PIN_ACTIVE_LOW, INTC_PIN_LEVEL,
    INTC_PIN_LEVEL | INTC_PIN_ACTIVE_LOW};

static bool parse_wiring(pctx *p, yaml_node_t *n, uint32_t pins,
                         uint8_t *w)
{
    bool seen[INTC_IOAPIC_MAX_PINS] = {false};
    char b[64];

    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, "wiring: expected a mapping of pins to "
                          "edge-high/edge-low/level-high/level-low");
    for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
         pr < n->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = get(p, pr->key, n), *v;
        uint64_t lo, hi;
        unsigned kind;
        size_t len;
        const char *t;

        if (!k)
            return false;
        if (!is_scalar(k) || ntag(p, k) == TAG_BOOL)
            return perr(p, k, "wiring: keys are pins or ranges \"16-23\"");
        t = stext(k, &len);
        {
            const char *dash = wordlike(p, k) ? memchr(t, '-', len) : NULL;
            if (dash) {
                if (parse_uint(t, (size_t)(dash - t), &lo) ||
                    parse_uint(dash + 1, len - (size_t)(dash - t) - 1, &hi))
                    return perr(p, k, "wiring: bad pin range '%s'",
                                show(k, b, sizeof b));
            } else if (parse_uint(t, len, &lo)) {
                return perr(p, k, "wiring: bad pin '%s'",
                            show(k, b, sizeof b));
            } else {
                hi = lo;
            }
        }
        if (lo > hi || hi >= pins)
            return perr(p, k, "wiring: pins '%s' out of range (0..%" PRIu32
                              ")", show(k, b, sizeof b), pins - 1);
        v = get(p, pr->value, n);
        if (!v || !get_enum(p, v, "wiring", wiring_words, &kind))
            return false;
        for (uint64_t i = lo; i <= hi; i++) {
            if (seen[i])
                return perr(p, k, "wiring: pin %" PRIu64 " wired twice", i);
            seen[i] = true;
            w[i] = wiring_flags[kind];
        }
    }
    return true;
}

static bool parse_ioapics(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"id",        "version",   "pins",
                                       "gsi_base",  "source_id", "wiring",
                                       NULL};
    sim_scenario *s = p->s;
    size_t cnt;

    if (!seq(n, "ioapics", p))
        return false;
    cnt = seq_len(n);
    if (cnt > INTC_IOAPIC_MAX)
        return perr(p, n, "ioapics: at most %u", INTC_IOAPIC_MAX);
    if (cnt == 0)
        return true;
    s->ioapics = calloc(cnt, sizeof *s->ioapics);
    s->wiring = calloc(cnt, sizeof *s->wiring);
    if (!s->ioapics || !s->wiring)
        return perr(p, n, "out of memory");
    s->cfg.ioapics = s->ioapics;
    s->cfg.n_ioapics = (uint32_t)cnt;
    for (size_t i = 0; i < cnt; i++) {
        intc_ioapic_config *io = &s->ioapics[i];
        yaml_node_t *it, *v;
        mapview mv;
        uint32_t id = 0, ver = 0x20, pins = 24, base = 0, sid = 0;

        if (!seq_item(p, n, i, &it) ||
            !map_open(p, it, "ioapic", keys, &mv) ||
            !need_u32(p, &mv, "id", "ioapic", 0, 15, &id) ||
            !opt_u32(p, &mv, "version", "ioapic", 0, 0xff, &ver) ||
            !opt_u32(p, &mv, "pins", "ioapic", 1, INTC_IOAPIC_MAX_PINS,
                     &pins) ||
            !opt_u32(p, &mv, "gsi_base", "ioapic", 0, UINT32_MAX - 120,
                     &base) ||
            !opt_u32(p, &mv, "source_id", "ioapic", 0, 0xffff, &sid))
            return false;
        if (ver != 0x11 && ver != 0x20)
            return perr(p, mv_get(&mv, "version"),
                        "ioapic version: 0x11 or 0x20");
        for (size_t j = 0; j < i; j++) {
            const intc_ioapic_config *o = &s->ioapics[j];
            if (o->id == id)
                return perr(p, mv_get(&mv, "id"),
                            "duplicate IOAPIC id %" PRIu32, id);
            if (base < o->gsi_base + o->n_pins &&
                o->gsi_base < base + pins)
                return perr(p, it, "ioapic %zu: GSIs %" PRIu32 "-%" PRIu32
                                   " overlap ioapic %zu's", i, base,
                            base + pins - 1, j);
        }
        io->id = (uint8_t)id;
        io->version = (uint8_t)ver;
        io->n_pins = (uint16_t)pins;
        io->gsi_base = base;
        io->source_id = (uint16_t)sid;
        s->wiring[i] = calloc(pins, 1);
        if (!s->wiring[i])
            return perr(p, it, "out of memory");
        io->pin_wiring = s->wiring[i];
        v = mv_get(&mv, "wiring");
        if (v && !parse_wiring(p, v, pins, s->wiring[i]))
            return false;
    }
    return true;
}

static const sim_device *find_device(const sim_scenario *s, const char *name,
                                     size_t *idx)
{
    for (size_t i = 0; i < s->n_devices; i++)
        if (strcmp(s->devices[i].name, name) == 0)
            return *idx = i, &s->devices[i];
    return NULL;
}

static bool parse_devices(pctx *p, yaml_node_t *n, bool msix)
{
    static const char *const xkeys[] = {"name", "vectors", "source_id",
                                        NULL};
    static const char *const mkeys[] = {"name", "vectors_log2", "addr64",
                                        "mask", "source_id",    NULL};
    const char *what = msix ? "msix" : "msi";
    sim_scenario *s = p->s;
    size_t cnt;
    sim_device *d;

    if (!seq(n, what, p))
        return false;
    cnt = seq_len(n);
    if (cnt > 4096)
        return perr(p, n, "%s: at most 4096 devices", what);
    if (cnt == 0)
        return true;
    d = realloc(s->devices, (s->n_devices + cnt) * sizeof *d);
    if (!d)
        return perr(p, n, "out of memory");
    s->devices = d;
    for (size_t i = 0; i < cnt; i++) {
        sim_device *dv = &s->devices[s->n_devices];
        yaml_node_t *it;
        mapview mv;
        uint32_t vec = 1, sid = 0, log2 = 0;
        size_t dummy;
        char *name = NULL;

        memset(dv, 0, sizeof *dv);
        if (!seq_item(p, n, i, &it) ||
            !map_open(p, it, what, msix ? xkeys : mkeys, &mv) ||
            !mv_need(p, &mv, "name", what) ||
            !get_name(p, mv_get(&mv, "name"), "device name", &name))
            return false;
        if (find_device(s, name, &dummy)) {
            free(name);
            return perr(p, mv_get(&mv, "name"), "duplicate device name");
        }
        dv->name = name;
        s->n_devices++;
        dv->is_msix = msix;
        if (!opt_u32(p, &mv, "source_id", what, 0, 0xffff, &sid))
            return false;
        dv->source_id = (uint16_t)sid;
        if (msix) {
            if (!need_u32(p, &mv, "vectors", what, 1, INTC_MSIX_MAX_VECTORS,
                          &vec))
                return false;
            dv->vectors = (uint16_t)vec;
        } else {
            if (!opt_u32(p, &mv, "vectors_log2", what, 0, 5, &log2) ||
                !opt_bool(p, &mv, "addr64", what, &dv->addr64) ||
                !opt_bool(p, &mv, "mask", what, &dv->mask))
                return false;
            dv->log2 = log2;
        }
    }
    return true;
}

static bool parse_iommu(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"kind",       "x2apic", "posted",
                                       "fault_regs", "cache",  NULL};
    static const char *const kinds[] = {"vtd", "amdvi", NULL};
    intc_iommu_config *c = &p->s->cfg.iommu;
    mapview mv;
    unsigned k;
    uint32_t fr = c->n_fault_regs, cache = c->cache_entries;

    if (!map_open(p, n, "iommu", keys, &mv) ||
        !mv_need(p, &mv, "kind", "iommu") ||
        !get_enum(p, mv_get(&mv, "kind"), "iommu kind", kinds, &k) ||
        !opt_bool(p, &mv, "x2apic", "iommu", &c->x2apic) ||
        !opt_bool(p, &mv, "posted", "iommu", &c->posted) ||
        !opt_u32(p, &mv, "fault_regs", "iommu", 1, 256, &fr) ||
        !opt_u32(p, &mv, "cache", "iommu", 1, 65536, &cache))
        return false;
    if (cache & (cache - 1))
        return perr(p, mv_get(&mv, "cache"),
                    "iommu cache: must be a power of two");
    c->kind = k == 0 ? INTC_IOMMU_VTD : INTC_IOMMU_AMDVI;
    c->n_fault_regs = (uint16_t)fr;
    c->cache_entries = cache;
    return true;
}

static bool parse_memory(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {"addr", "size", NULL};
    sim_scenario *s = p->s;
    uint64_t total = 0;
    size_t cnt;

    if (!seq(n, "memory", p))
        return false;
    cnt = seq_len(n);
    if (cnt > 1024)
        return perr(p, n, "memory: at most 1024 regions");
    if (cnt == 0)
        return true;
    s->regions = calloc(cnt, sizeof *s->regions);
    if (!s->regions)
        return perr(p, n, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it;
        mapview mv;
        uint64_t a = 0, sz = 0;

        if (!seq_item(p, n, i, &it) ||
            !map_open(p, it, "memory region", keys, &mv) ||
            !need_uint(p, &mv, "addr", "memory region", 0, UINT64_MAX, &a) ||
            !need_uint(p, &mv, "size", "memory region", 1,
                       SIM_MAX_MEMORY_BYTES, &sz))
            return false;
        if (a + sz - 1 < a)
            return perr(p, it, "memory region: wraps around the address "
                               "space");
        total += sz;
        if (total > SIM_MAX_MEMORY_BYTES)
            return perr(p, it, "memory: more than %u bytes in all",
                        SIM_MAX_MEMORY_BYTES);
        for (size_t j = 0; j < i; j++) {
            const sim_region *r = &s->regions[j];
            if (a <= r->addr + r->size - 1 && r->addr <= a + sz - 1)
                return perr(p, it, "memory region overlaps region %zu", j);
        }
        s->regions[i].addr = a;
        s->regions[i].size = sz;
        s->n_regions++;
    }
    return true;
}

/* machine: the scalar options, every one optional. */
static bool parse_machine_options(pctx *p, const mapview *mv,
                                  intc_machine_config *c)
{
    uint32_t ver = c->lapic_version, pab = c->phys_addr_bits;
    yaml_node_t *v;

    if (!opt_u32(p, mv, "cpus", "machine", 1, INTC_MAX_CPUS, &c->n_cpus) ||
        !opt_bool(p, mv, "x2apic", "machine", &c->x2apic) ||
        !opt_bool(p, mv, "tsc_deadline", "machine", &c->tsc_deadline) ||
        !opt_bool(p, mv, "directed_eoi", "machine", &c->directed_eoi) ||
        !opt_bool(p, mv, "focus_processor", "machine",
                  &c->focus_processor) ||
        !opt_u32(p, mv, "lapic_version", "machine", 0, 0xff, &ver) ||
        !opt_uint(p, mv, "timer_hz", "machine", 1, UINT64_MAX,
                  &c->apic_timer_hz) ||
        !opt_uint(p, mv, "tsc_hz", "machine", 1, UINT64_MAX, &c->tsc_hz) ||
        !opt_bool(p, mv, "msi_ext_dest", "machine", &c->msi_ext_dest) ||
        !opt_u32(p, mv, "storm_threshold", "machine", 0, UINT32_MAX,
                 &c->storm_threshold) ||
        !opt_bool(p, mv, "lvt_cmci", "machine", &c->lvt_cmci) ||
        !opt_bool(p, mv, "lowest_priority_ipi", "machine",
                  &c->lowest_priority_ipi) ||
        !opt_bool(p, mv, "apic_bus_errors", "machine",
                  &c->apic_bus_errors) ||
        !opt_u32(p, mv, "phys_addr_bits", "machine", 0, 0xff, &pab))
        return false;
    c->lapic_version = (uint8_t)ver;
    c->phys_addr_bits = (uint8_t)pab;
    if ((v = mv_get(mv, "storm_throttle")) &&
        !get_duration(p, v, "storm_throttle", &c->storm_throttle_ns))
        return false;
    return true;
}

/* apic_ids: no ID twice.  Sorts a copy; names the largest duplicate. */
static bool apic_ids_unique(pctx *p, yaml_node_t *v, const uint32_t *ids,
                            size_t cnt)
{
    uint32_t *tmp = malloc(cnt * sizeof *tmp);
    int dup = -1;

    if (!tmp)
        return perr(p, v, "out of memory");
    memcpy(tmp, ids, cnt * sizeof *tmp);
    for (size_t gap = cnt / 2; gap > 0; gap /= 2) /* shell sort */
        for (size_t i = gap; i < cnt; i++)
            for (size_t j = i; j >= gap && tmp[j - gap] > tmp[j]; j -= gap) {
                uint32_t t = tmp[j];
                tmp[j] = tmp[j - gap];
                tmp[j - gap] = t;
            }
    for (size_t i = 1; i < cnt; i++)
        if (tmp[i] == tmp[i - 1])
            dup = (int)i;
    if (dup >= 0) {
        uint32_t d = tmp[dup];
        free(tmp);
        return perr(p, v, "apic_ids: duplicate ID %" PRIu32, d);
    }
    free(tmp);
    return true;
}

/* machine: apic_ids, after the scalar options (x2apic bounds the IDs; the
   list sets cpus when cpus is not given). */
static bool parse_apic_ids(pctx *p, yaml_node_t *v, bool cpus_given)
{
    sim_scenario *s = p->s;
    intc_machine_config *c = &s->cfg;
    uint32_t max = c->x2apic ? UINT32_MAX - 1 : 254;
    size_t cnt;

    if (!seq(v, "apic_ids", p))
        return false;
    cnt = seq_len(v);
    if (!cpus_given) {
        if (cnt < 1 || cnt > INTC_MAX_CPUS)
            return perr(p, v, "apic_ids: 1 to %u entries", INTC_MAX_CPUS);
        c->n_cpus = (uint32_t)cnt;
    } else if (cnt != c->n_cpus) {
        return perr(p, v, "apic_ids: %zu entries for %" PRIu32 " cpus", cnt,
                    c->n_cpus);
    }
    s->apic_ids = calloc(cnt, sizeof *s->apic_ids);
    if (!s->apic_ids)
        return perr(p, v, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it;
        if (!seq_item(p, v, i, &it) ||
            !get_u32(p, it, "apic_ids entry", 0, max, &s->apic_ids[i]))
            return false;
    }
    if (!apic_ids_unique(p, v, s->apic_ids, cnt))
        return false;
    c->apic_ids = s->apic_ids;
    return true;
}

static bool parse_machine(pctx *p, yaml_node_t *n)
{
    static const char *const keys[] = {
        "cpus",         "apic_ids",        "bsp",
        "x2apic",       "tsc_deadline",    "directed_eoi",
        "focus_processor", "lapic_version", "timer_hz",
        "tsc_hz",       "msi_ext_dest",    "storm_threshold",
        "storm_throttle", "ioapics",       "msix",
        "msi",          "iommu",           "memory",
        "lvt_cmci",     "lowest_priority_ipi", "apic_bus_errors",
        "phys_addr_bits", NULL};
    sim_scenario *s = p->s;
    intc_machine_config *c = &s->cfg;
    mapview mv;
    yaml_node_t *v;

    s->machine_line = (int)n->start_mark.line + 1;
    s->machine_col = (int)n->start_mark.column + 1;
    if (!map_open(p, n, "machine", keys, &mv) ||
        !parse_machine_options(p, &mv, c))
        return false;
    if ((v = mv_get(&mv, "apic_ids")) &&
        !parse_apic_ids(p, v, mv_get(&mv, "cpus") != NULL))
        return false;
    if (!opt_u32(p, &mv, "bsp", "machine", 0, c->n_cpus - 1, &c->bsp))
        return false;
    if ((v = mv_get(&mv, "ioapics")) && !parse_ioapics(p, v))
        return false;
    if ((v = mv_get(&mv, "msix")) && !parse_devices(p, v, true))
        return false;
    if ((v = mv_get(&mv, "msi")) && !parse_devices(p, v, false))
        return false;
    if ((v = mv_get(&mv, "iommu")) && !parse_iommu(p, v))
        return false;
    if ((v = mv_get(&mv, "memory")) && !parse_memory(p, v))
        return false;
    if (c->directed_eoi)
        for (uint32_t i = 0; i < c->n_ioapics; i++)
            if (s->ioapics[i].version != 0x20)
                return perr(p, mv_get(&mv, "directed_eoi"),
                            "directed_eoi needs every IOAPIC at version "
                            "0x20");
    return true;
}

/* ---- steps ---- */

static bool get_vecset(pctx *p, yaml_node_t *n, const char *what,
                       sim_vecset *out)
{
    memset(out, 0, sizeof *out);
    if (!seq(n, what, p))
        return false;
    for (size_t i = 0; i < seq_len(n); i++) {
        yaml_node_t *it;
        uint32_t v;
        if (!seq_item(p, n, i, &it) || !get_u32(p, it, what, 0, 255, &v))
            return false;
        out->w[v / 64] |= 1ull << (v % 64);
    }
    return true;
}

static bool get_counts(pctx *p, yaml_node_t *n, const char *what,
                       sim_count **out, size_t *nout)
{
    bool seen[INTC_EV_COUNT_] = {false};
    size_t cnt;

    if (n->type != YAML_MAPPING_NODE)
        return perr(p, n, "%s: expected a mapping of event types to "
                          "counts", what);
    cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > INTC_EV_COUNT_)
        return perr(p, n, "%s: more keys than event types", what);
    *out = calloc(cnt ? cnt : 1, sizeof **out);
    if (!*out)
        return perr(p, n, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = get(p, pr->key, n), *v;
        int t;
        if (!k || !get_event_type(p, k, what, &t))
            return false;
        if (seen[t])
            return perr(p, k, "%s: duplicate key", what);
        seen[t] = true;
        v = get(p, pr->value, n);
        if (!v || !get_uint(p, v, what, 0, UINT64_MAX, &(*out)[i].n))
            return false;
        (*out)[i].type = t;
        (*nout)++;
    }
    return true;
}

static bool get_patterns(pctx *p, yaml_node_t *n, const char *what,
                         sim_pattern **out, size_t *nout)
{
    static const char *const keys[] = {"type", "cpu",  "vector", "unit",
                                       "pin",  "data", "data2",  NULL};
    size_t cnt;

    if (!seq(n, what, p))
        return false;
    cnt = seq_len(n);
    *out = calloc(cnt ? cnt : 1, sizeof **out);
    if (!*out)
        return perr(p, n, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        sim_pattern *pt = &(*out)[i];
        yaml_node_t *it, *v;
        mapview mv;

        if (!seq_item(p, n, i, &it) ||
            !map_open(p, it, "event pattern", keys, &mv))
            return false;
        pt->line = (int)it->start_mark.line + 1;
        pt->col = (int)it->start_mark.column + 1;
        if ((v = mv_get(&mv, "type"))) {
            if (!get_event_type(p, v, "event type", &pt->type))
                return false;
            pt->fields |= PAT_TYPE;
        }
        if ((v = mv_get(&mv, "cpu"))) {
            if (!get_u32(p, v, "event cpu", 0, p->s->cfg.n_cpus - 1,
                         &pt->cpu))
                return false;
            pt->fields |= PAT_CPU;
        }
        if ((v = mv_get(&mv, "vector"))) {
            uint32_t x;
            if (sis(p, v, "none")) {
                pt->vector = -1;
            } else {
                if (!get_u32(p, v, "event vector", 0, 255, &x))
                    return false;
                pt->vector = (int32_t)x;
            }
            pt->fields |= PAT_VECTOR;
        }
        if (mv_get(&mv, "unit")) {
            if (!opt_u32(p, &mv, "unit", "event", 0, UINT32_MAX, &pt->unit))
                return false;
            pt->fields |= PAT_UNIT;
        }
        if (mv_get(&mv, "pin")) {
            if (!opt_u32(p, &mv, "pin", "event", 0, UINT32_MAX, &pt->pin))
                return false;
            pt->fields |= PAT_PIN;
        }
        if (mv_get(&mv, "data")) {
            if (!opt_uint(p, &mv, "data", "event", 0, UINT64_MAX,
                          &pt->data))
                return false;
            pt->fields |= PAT_DATA;
        }
        if (mv_get(&mv, "data2")) {
            if (!opt_uint(p, &mv, "data2", "event", 0, UINT64_MAX,
                          &pt->data2))
                return false;
            pt->fields |= PAT_DATA2;
        }
        (*nout)++;
    }
    return true;
}

static const char *const pend_words[] = {"intr", "nmi",  "smi",   "init",
                                         "sipi", "extint", NULL};
static const unsigned pend_bits[] = {INTC_PEND_INTR, INTC_PEND_NMI,
                                     INTC_PEND_SMI,  INTC_PEND_INIT,
                                     INTC_PEND_SIPI, INTC_PEND_EXTINT};

/* expect: irr, isr, tmr (exact sets) and their _has / _lacks. */
static bool expect_vecsets(pctx *p, const mapview *mv, sim_expect *e)
{
    static const char *const vr[VR_COUNT] = {"irr", "isr", "tmr"};
    yaml_node_t *v;

    for (int r = 0; r < VR_COUNT; r++) {
        char k[16];
        if ((v = mv_get(mv, vr[r]))) {
            if (!get_vecset(p, v, vr[r], &e->exact[r]))
                return false;
            e->has_exact[r] = e->has_cpu_keys = true;
        }
        snprintf(k, sizeof k, "%s_has", vr[r]);
        if ((v = mv_get(mv, k))) {
            if (!get_vecset(p, v, k, &e->has[r]))
                return false;
            e->has_has[r] = e->has_cpu_keys = true;
        }
        snprintf(k, sizeof k, "%s_lacks", vr[r]);
        if ((v = mv_get(mv, k))) {
            if (!get_vecset(p, v, k, &e->lacks[r]))
                return false;
            e->has_lacks[r] = e->has_cpu_keys = true;
        }
    }
    return true;
}

/* expect: ppr, tpr, pending, waiting_for_sipi. */
static bool expect_cpu_state(pctx *p, const mapview *mv, sim_expect *e)
{
    yaml_node_t *v;
    uint32_t u;

    if ((v = mv_get(mv, "ppr"))) {
        if (!get_u32(p, v, "ppr", 0, 255, &u))
            return false;
        e->ppr = (uint8_t)u;
        e->has_ppr = e->has_cpu_keys = true;
    }
    if ((v = mv_get(mv, "tpr"))) {
        if (!get_u32(p, v, "tpr", 0, 255, &u))
            return false;
        e->tpr = (uint8_t)u;
        e->has_tpr = e->has_cpu_keys = true;
    }
    if ((v = mv_get(mv, "pending"))) {
        if (!seq(v, "pending", p))
            return false;
        for (size_t i = 0; i < seq_len(v); i++) {
            yaml_node_t *it;
            unsigned w;
            if (!seq_item(p, v, i, &it) ||
                !get_enum(p, it, "pending", pend_words, &w))
                return false;
            e->pending |= pend_bits[w];
        }
        e->has_pending = e->has_cpu_keys = true;
    }
    if ((v = mv_get(mv, "waiting_for_sipi"))) {
        if (!get_bool(p, v, "waiting_for_sipi", &e->wfs))
            return false;
        e->has_wfs = e->has_cpu_keys = true;
    }
    return true;
}

/* expect: reg, a mapping of registers to values. */
static bool expect_regs(pctx *p, yaml_node_t *v, sim_expect *e)
{
    size_t cnt;

    if (v->type != YAML_MAPPING_NODE)
        return perr(p, v, "reg: expected a mapping of registers to values");
    cnt = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    if (cnt > 512)
        return perr(p, v, "reg: too many registers");
    e->regs = calloc(cnt ? cnt : 1, sizeof *e->regs);
    if (!e->regs)
        return perr(p, v, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *pr = &v->data.mapping.pairs.start[i];
        yaml_node_t *k = get(p, pr->key, v), *x;
        sim_regcheck *rc = &e->regs[i];
        if (!k || !get_reg(p, k, "reg", &rc->reg))
            return false;
        for (size_t j = 0; j < i; j++)
            if (e->regs[j].reg == rc->reg)
                return perr(p, k, "reg: duplicate register");
        x = get(p, pr->value, v);
        if (!x || !get_uint(p, x, "reg value", 0,
                            rc->reg == SIM_REG_ICR64 ? UINT64_MAX
                                                     : UINT32_MAX,
                            &rc->value))
            return false;
        e->n_regs++;
    }
    e->has_cpu_keys = true;
    return true;
}

/* expect: an IOAPIC pin's state (ioapic, pin, and remote_irr,
   delivery_status or line). */
static bool expect_pin(pctx *p, yaml_node_t *n, const mapview *mv,
                       sim_expect *e)
{
    const sim_scenario *s = p->s;
    const intc_ioapic_config *io;
    yaml_node_t *v;

    if (!mv_get(mv, "remote_irr") && !mv_get(mv, "delivery_status") &&
        !mv_get(mv, "line") && !mv_get(mv, "pin")) {
        if (mv_get(mv, "ioapic"))
            return perr(p, mv_key(mv, "ioapic"),
                        "expect: 'ioapic' needs 'pin' and a pin state "
                        "(remote_irr, delivery_status, line)");
        return true;
    }
    if (s->cfg.n_ioapics == 0)
        return perr(p, n, "expect: the machine has no IOAPIC");
    if (!opt_u32(p, mv, "ioapic", "expect", 0, s->cfg.n_ioapics - 1,
                 &e->ioapic))
        return false;
    io = &s->ioapics[e->ioapic];
    if (!need_u32(p, mv, "pin", "expect", 0, io->n_pins - 1, &e->pin))
        return false;
    e->has_pin = true;
    if ((v = mv_get(mv, "remote_irr"))) {
        if (!get_bool(p, v, "remote_irr", &e->remote_irr))
            return false;
        e->has_remote_irr = true;
    }
    if ((v = mv_get(mv, "delivery_status"))) {
        if (!get_bool(p, v, "delivery_status", &e->delivs))
            return false;
        e->has_delivs = true;
    }
    if ((v = mv_get(mv, "line"))) {
        if (!get_bool(p, v, "line", &e->line))
            return false;
        e->has_line = true;
    }
    return true;
}

/* expect: msix_pending {device, vectors}. */
static bool expect_msix(pctx *p, yaml_node_t *v, sim_expect *e)
{
    static const char *const mk[] = {"device", "vectors", NULL};
    mapview m2;
    char *name = NULL;
    const sim_device *d;
    size_t di;
    yaml_node_t *vl;

    if (!map_open(p, v, "msix_pending", mk, &m2) ||
        !mv_need(p, &m2, "device", "msix_pending") ||
        !(vl = mv_need(p, &m2, "vectors", "msix_pending")) ||
        !get_name(p, mv_get(&m2, "device"), "device", &name))
        return false;
    d = find_device(p->s, name, &di);
    free(name);
    if (!d || !d->is_msix)
        return perr(p, mv_get(&m2, "device"), "no MSI-X device of that "
                                              "name");
    if (!seq(vl, "vectors", p))
        return false;
    for (size_t i = 0; i < seq_len(vl); i++) {
        yaml_node_t *it;
        uint32_t u;
        if (!seq_item(p, vl, i, &it) ||
            !get_u32(p, it, "msix_pending vector", 0, d->vectors - 1, &u))
            return false;
        e->msix_bits[u / 64] |= 1ull << (u % 64);
    }
    e->msix_dev = (uint32_t)di;
    e->has_msix = true;
    return true;
}

/* expect: events, events_in_order, no_events, count (each resets the
   step's event window) and total. */
static bool expect_events(pctx *p, const mapview *mv, sim_expect *e)
{
    yaml_node_t *v;

    if ((v = mv_get(mv, "events"))) {
        if (!get_patterns(p, v, "events", &e->events, &e->n_events))
            return false;
        e->has_events_key = true;
    }
    if ((v = mv_get(mv, "events_in_order"))) {
        if (!get_patterns(p, v, "events_in_order", &e->in_order,
                          &e->n_in_order))
            return false;
        e->has_events_key = true;
    }
    if ((v = mv_get(mv, "no_events"))) {
        if (!get_patterns(p, v, "no_events", &e->no_events,
                          &e->n_no_events))
            return false;
        e->has_events_key = true;
    }
    if ((v = mv_get(mv, "count"))) {
        if (!get_counts(p, v, "count", &e->count, &e->n_count))
            return false;
        e->has_events_key = true;
    }
    if ((v = mv_get(mv, "total")) &&
        !get_counts(p, v, "total", &e->total, &e->n_total))
        return false;
    return true;
}

static bool parse_expect(pctx *p, yaml_node_t *n, sim_step *st)
{
    static const char *const keys[] = {
        "cpu",        "irr",       "isr",          "tmr",
        "irr_has",    "irr_lacks", "isr_has",      "isr_lacks",
        "tmr_has",    "tmr_lacks", "ppr",          "tpr",
        "pending",    "reg",       "waiting_for_sipi", "ioapic",
        "pin",        "remote_irr", "delivery_status", "line",
        "msix_pending", "events",  "no_events",    "count",
        "total",      "time",      "events_in_order", NULL};
    sim_expect *e;
    mapview mv;
    yaml_node_t *v;

    e = calloc(1, sizeof *e);
    if (!e)
        return perr(p, n, "out of memory");
    st->exp = e;
    if (!map_open(p, n, "expect", keys, &mv) ||
        !opt_u32(p, &mv, "cpu", "expect", 0, p->s->cfg.n_cpus - 1,
                 &e->cpu) ||
        !expect_vecsets(p, &mv, e) || !expect_cpu_state(p, &mv, e))
        return false;
    if ((v = mv_get(&mv, "reg")) && !expect_regs(p, v, e))
        return false;
    if (!expect_pin(p, n, &mv, e))
        return false;
    if ((v = mv_get(&mv, "msix_pending")) && !expect_msix(p, v, e))
        return false;
    if (!expect_events(p, &mv, e))
        return false;
    if ((v = mv_get(&mv, "time"))) {
        if (!get_duration(p, v, "time", &e->time))
            return false;
        e->has_time = true;
    }
    if (!e->has_cpu_keys && mv_get(&mv, "cpu"))
        return perr(p, mv_key(&mv, "cpu"),
                    "expect: 'cpu' without anything to check on it");
    return true;
}

/* ---- step operations: the rows of testkit/op.c, walked ---- */

/* memory_write / memory_read: {addr, qwords|dwords|bytes}. */
static bool memory_list(pctx *p, yaml_node_t *n, sim_step *st,
                        const char *what, yaml_node_t *list, unsigned w)
{
    size_t cnt = seq_len(list);

    if (cnt == 0)
        return perr(p, list, "%s: empty list", what);
    if (cnt > SIM_MAX_MEMORY_BYTES / w)
        return perr(p, list, "%s: too long", what);
    st->n_bytes = cnt * w;
    st->bytes = malloc(st->n_bytes);
    if (!st->bytes)
        return perr(p, n, "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_t *it;
        uint64_t v;
        if (!seq_item(p, list, i, &it) ||
            !get_uint(p, it, what, 0,
                      w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1, &v))
            return false;
        for (unsigned b = 0; b < w; b++)
            st->bytes[i * w + b] = (uint8_t)(v >> (8 * b));
    }
    st->op.bytes = st->bytes;
    st->op.n_bytes = st->n_bytes;
    st->op.size = w; /* element width, for messages */
    return true;
}

static bool parse_memory_op(pctx *p, yaml_node_t *n, sim_step *st,
                            const char *what)
{
    static const char *const keys[] = {"addr", "qwords", "dwords", "bytes",
                                       NULL};
    static const char *const widths[] = {"qwords", "dwords", "bytes"};
    static const unsigned wbytes[] = {8, 4, 1};
    const sim_scenario *s = p->s;
    mapview mv;
    yaml_node_t *list = NULL;
    unsigned w = 0;
    uint64_t a = 0, end;
    bool inside = false;

    if (!map_open(p, n, what, keys, &mv) ||
        !need_uint(p, &mv, "addr", what, 0, UINT64_MAX, &a))
        return false;
    st->op.addr = a;
    for (unsigned i = 0; i < 3; i++) {
        yaml_node_t *v = mv_get(&mv, widths[i]);
        if (!v)
            continue;
        if (list)
            return perr(p, v, "%s: give only one of qwords, dwords, bytes",
                        what);
        list = v;
        w = wbytes[i];
    }
    if (!list)
        return perr(p, n, "%s: missing qwords, dwords or bytes", what);
    if (!seq(list, what, p) || !memory_list(p, n, st, what, list, w))
        return false;
    end = a + st->n_bytes - 1;
    if (end < a)
        return perr(p, n, "%s: wraps around the address space", what);
    for (size_t i = 0; i < s->n_regions; i++)
        if (a >= s->regions[i].addr &&
            end <= s->regions[i].addr + s->regions[i].size - 1)
            inside = true;
    if (!inside)
        return perr(p, n, "%s: 0x%" PRIx64 "-0x%" PRIx64
                          " is not inside one memory region", what, a, end);
    return true;
}

/* Snapshot names: index in s->snap_names, added if define. */
static bool snap_name(pctx *p, yaml_node_t *v, bool define, uint32_t *out)
{
    sim_scenario *s = p->s;
    char *name = NULL;
    char **nn;

    if (!get_name(p, v, "snapshot name", &name))
        return false;
    for (size_t i = 0; i < s->n_snap_names; i++)
        if (strcmp(s->snap_names[i], name) == 0) {
            free(name);
            return *out = (uint32_t)i, true;
        }
    if (!define) {
        free(name);
        return perr(p, v, "restore: no earlier snapshot of that name");
    }
    nn = realloc(s->snap_names, (s->n_snap_names + 1) * sizeof *nn);
    if (!nn) {
        free(name);
        return perr(p, v, "out of memory");
    }
    s->snap_names = nn;
    nn[s->n_snap_names] = name;
    *out = (uint32_t)s->n_snap_names++;
    return true;
}

static bool get_device(pctx *p, const yaml_node_t *n, const char *what,
                       unsigned type, uint32_t *idx)
{
    const sim_device *d;
    char *name = NULL;
    size_t i;

    if (!get_name(p, n, "device", &name))
        return false;
    d = find_device(p->s, name, &i);
    free(name);
    if (!d || (type == KIT_F_MSIX && !d->is_msix) ||
        (type == KIT_F_MSI && d->is_msix))
        return perr(p, n, "%s: no %s device of that name", what,
                    type == KIT_F_MSIX ? "MSI-X"
                    : type == KIT_F_MSI ? "MSI"
                                        : "MSI-X or MSI");
    *idx = (uint32_t)i;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bytes as a string of hex digits (load, sync_pir). */
static bool get_hex(pctx *p, const yaml_node_t *n, const char *what,
                    uint64_t max, sim_step *st)
{
    size_t len;
    const char *t;

    if (!wordlike(p, n))
        return perr(p, n, "%s: expected a string of hex digits", what);
    t = stext(n, &len);
    if (len % 2 || len / 2 > max)
        return perr(p, n, "%s: expected an even number of hex digits, at "
                          "most %" PRIu64 " bytes", what, max);
    st->bytes = malloc(len / 2 ? len / 2 : 1);
    if (!st->bytes)
        return perr(p, n, "out of memory");
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval(t[i]), lo = hexval(t[i + 1]);
        if (hi < 0 || lo < 0)
            return perr(p, n, "%s: not a hex digit at %zu", what, i);
        st->bytes[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    st->n_bytes = len / 2;
    st->op.bytes = st->bytes;
    st->op.n_bytes = st->n_bytes;
    return true;
}

/* The largest value a write/read of the op's register holds. */
static uint64_t reg_max(const sim_step *st)
{
    if (st->op.kind != KIT_OP_WRITE && st->op.kind != KIT_OP_READ)
        return UINT64_MAX;
    return st->op.index == KIT_REG_ICR64 ? UINT64_MAX : UINT32_MAX;
}

/* The upper bound of an integer operand that depends on the machine. */
static bool field_max(pctx *p, const yaml_node_t *n, const kit_field *fd,
                      const sim_step *st, uint64_t *max)
{
    const sim_scenario *s = p->s;
    const sim_device *d = st->op.unit < s->n_devices
                              ? &s->devices[st->op.unit] : NULL;

    *max = fd->slot == KIT_S_VALUE ? reg_max(st) : UINT64_MAX;
    if (fd->max < *max)
        *max = fd->max;
    switch (fd->type) {
    case KIT_F_IOAPIC:
        if (s->cfg.n_ioapics == 0)
            return perr(p, n, "%s: the machine has no IOAPIC",
                        kit_op_name(st->op.kind));
        *max = s->cfg.n_ioapics - 1u;
        break;
    case KIT_F_PIN:
        *max = s->ioapics[st->op.unit].n_pins - 1u;
        break;
    case KIT_F_ENTRY:
    case KIT_F_DEVVEC:
        *max = !d ? 0 : d->is_msix ? d->vectors - 1u : 31u;
        break;
    case KIT_F_CPU_IDX:
        *max = s->cfg.n_cpus - 1u;
        break;
    default:
        break;
    }
    return true;
}

/* One operand from node n; what names it in messages. */
static bool get_field(pctx *p, const yaml_node_t *n, const char *what,
                      const kit_field *fd, sim_step *st)
{
    const char *op = kit_op_name(st->op.kind);
    uint64_t v = 0, max;
    uint32_t u = 0;
    unsigned w;
    bool b = false;

    switch (fd->type) {
    case KIT_F_BOOL:
        if (!get_bool(p, n, what, &b))
            return false;
        v = b;
        break;
    case KIT_F_FLAG:
    case KIT_F_NFLAG:
        if (!get_bool(p, n, what, &b))
            return false;
        if (b == (fd->type == KIT_F_FLAG))
            st->op.flags |= fd->flag;
        return true;
    case KIT_F_WORD:
        if (!get_enum(p, n, what, fd->words, &w))
            return false;
        v = fd->codes[w];
        break;
    case KIT_F_REG:
        if (!get_reg(p, n, op, &u))
            return false;
        v = u;
        break;
    case KIT_F_DURATION:
        if (!get_duration(p, n, what, &v))
            return false;
        break;
    case KIT_F_MSIX:
    case KIT_F_MSI:
    case KIT_F_DEVICE:
        if (!get_device(p, n, op, fd->type, &u))
            return false;
        v = u;
        break;
    case KIT_F_SNAP:
    case KIT_F_SNAP_USE:
        if (!snap_name(p, (yaml_node_t *)n, fd->type == KIT_F_SNAP, &u))
            return false;
        v = u;
        break;
    case KIT_F_HEX:
        return get_hex(p, n, what, fd->max, st);
    default:
        if (!field_max(p, n, fd, st, &max) || !get_uint(p, n, what, 0, max, &v))
            return false;
        break;
    }
    if (fd->flag && fd->flag != KIT_OPT)
        st->op.flags |= fd->flag;
    kit_op_set(&st->op, fd->slot, v);
    return true;
}

/* What a step may expect of its op's result: expect_error, expect, mask. */
static bool parse_results(pctx *p, const mapview *mv, sim_step *st)
{
    const char *op = kit_op_name(st->op.kind);
    unsigned res = kit_op_table[st->op.kind].results;
    uint64_t max = reg_max(st);

    if (!(res & KIT_RES_VALUE))
        return !(res & KIT_RES_ERR) ||
               opt_expect_error(p, mv, "expect_error", &st->expect_error);
    if (mv_index_of(mv, "expect_error") >= 0 &&
        !opt_expect_error(p, mv, "expect_error", &st->expect_error))
        return false;
    if (mv_index_of(mv, "expect") >= 0 && mv_get(mv, "expect")) {
        if (!opt_uint(p, mv, "expect", op, 0, max, &st->expect))
            return false;
        st->opt |= OPT_EXPECT;
    }
    if (mv_index_of(mv, "mask") >= 0 && mv_get(mv, "mask")) {
        if (!opt_uint(p, mv, "mask", op, 0, max, &st->mask))
            return false;
        st->opt |= OPT_MASK;
    }
    return true;
}

/* The keys of a row's mapping: its operands, then what it reports. */
static void row_keys(const kit_op_info *in, const char **keys)
{
    unsigned n = 0;

    for (unsigned i = 0; i < in->n_fields; i++)
        keys[n++] = in->fields[i].key;
    if (in->results & KIT_RES_VALUE) {
        keys[n++] = "expect";
        keys[n++] = "mask";
    }
    if (in->results & KIT_RES_ERR)
        keys[n++] = "expect_error";
    keys[n] = NULL;
}

/* Two rows share a scenario name (ioapic_write, irq): the keys given
   choose one. */
static const struct {
    unsigned a, b;          /* the rows */
    const char *b_keys[3];  /* keys that only b has */
    const char *a_keys[4];  /* keys that only a has */
    bool b_default;         /* neither given: b */
} variants[] = {
    {KIT_OP_IRQ, KIT_OP_GSI, {"gsi", NULL}, {"ioapic", "pin", "source",
                                             NULL}, false},
    {KIT_OP_IOAPIC_RTE, KIT_OP_IOAPIC_REG, {"reg", "value", NULL},
     {"pin", "rte", NULL}, true},
};

static bool any_key(const mapview *mv, const char *const *keys)
{
    for (unsigned i = 0; keys[i]; i++)
        if (mv_get(mv, keys[i]))
            return true;
    return false;
}

static bool pick_variant(pctx *p, yaml_node_t *v, const mapview *mv,
                         unsigned vi, sim_step *st)
{
    bool a = any_key(mv, variants[vi].a_keys);
    bool b = any_key(mv, variants[vi].b_keys);

    if (a && b)
        return perr(p, v, "%s: give either %s or %s",
                    kit_op_name(st->op.kind),
                    vi == 0 ? "gsi" : "pin/rte",
                    vi == 0 ? "ioapic/pin/source" : "reg/value");
    st->op.kind = (uint16_t)(b || (!a && variants[vi].b_default)
                                 ? variants[vi].b
                                 : variants[vi].a);
    st->action = st->op.kind;
    return true;
}

/* A mapping of operands (and result keys). */
static bool parse_map(pctx *p, yaml_node_t *v, sim_step *st,
                      const char **keys, mapview *mv)
{
    const char *op = kit_op_name(st->op.kind);
    const kit_op_info *in;
    unsigned vi = 0;

    for (vi = 0; vi < 2 && variants[vi].a != st->op.kind; vi++)
        ;
    if (vi < 2) {
        /* the union of both rows' keys */
        const kit_op_info *a = &kit_op_table[variants[vi].a];
        const kit_op_info *b = &kit_op_table[variants[vi].b];
        unsigned n = 0;
        for (unsigned i = 0; i < a->n_fields; i++)
            keys[n++] = a->fields[i].key;
        for (unsigned i = 0; i < b->n_fields; i++)
            if (!(i == 0 && vi == 1)) /* ioapic, already there */
                keys[n++] = b->fields[i].key;
        keys[n] = NULL;
        if (vi == 0)
            keys[n - 1] = NULL; /* level, already there */
        if (!map_open(p, v, op, keys, mv) ||
            !pick_variant(p, v, mv, vi, st))
            return false;
    } else {
        row_keys(&kit_op_table[st->op.kind], keys);
        if (!map_open(p, v, op, keys, mv))
            return false;
    }
    in = &kit_op_table[st->op.kind];
    for (unsigned i = 0; i < in->n_fields; i++) {
        const kit_field *fd = &in->fields[i];
        yaml_node_t *x = mv_get(mv, fd->key);
        char w[96];
        if (!x && fd->flag == 0)
            return mv_need(p, mv, fd->key, op) != NULL;
        snprintf(w, sizeof w, "%s %s", op, fd->key);
        if (x && !get_field(p, x, w, fd, st))
            return false;
    }
    return parse_results(p, mv, st);
}

/* ack: V, spurious, none, or {expect: V}: what the INTA must return. */
static bool parse_ack(pctx *p, yaml_node_t *v, sim_step *st)
{
    static const char *const k[] = {"expect", NULL};
    yaml_node_t *x = v;
    mapview mv;

    st->ack = ACK_ANY;
    if (v->type == YAML_MAPPING_NODE) {
        if (!map_open(p, v, "ack", k, &mv))
            return false;
        x = mv_get(&mv, "expect");
        if (!x)
            return true;
    }
    if (sis(p, x, "spurious"))
        st->ack = ACK_SPURIOUS;
    else if (sis(p, x, "none"))
        st->ack = ACK_NONE;
    else if (!get_uint(p, x, "ack (a vector, spurious or none)", 0, 255,
                       &st->expect))
        return false;
    else
        st->ack = ACK_VECTOR;
    return true;
}

/* take: the step's own `expect: false` and `vector: V` (sipi). */
static bool take_checks(pctx *p, sim_step *st, const mapview *smv)
{
    yaml_node_t *x;
    bool ex = true;

    if ((x = mv_get(smv, "expect")) && !get_bool(p, x, "take expect", &ex))
        return false;
    if (ex)
        st->opt |= OPT_EXPECT;
    if ((x = mv_get(smv, "vector"))) {
        if (st->op.index != INTC_PEND_SIPI)
            return perr(p, mv_key(smv, "vector"),
                        "take: 'vector' applies only to sipi");
        if (!ex)
            return perr(p, mv_key(smv, "vector"),
                        "take: 'vector' with 'expect: false'");
        if (!get_uint(p, x, "take vector", 0, 255, &st->expect))
            return false;
        st->opt |= OPT_VECTOR;
    }
    return true;
}

static bool gsi_exists(pctx *p, const mapview *mv, uint32_t gsi)
{
    const sim_scenario *s = p->s;

    for (uint32_t i = 0; i < s->cfg.n_ioapics; i++)
        if (gsi >= s->ioapics[i].gsi_base &&
            gsi - s->ioapics[i].gsi_base < s->ioapics[i].n_pins)
            return true;
    return perr(p, mv_get(mv, "gsi"), "irq: no IOAPIC has GSI %" PRIu32,
                gsi);
}

/* What a row cannot say: checks across operands, time, the step. */
static bool post_check(pctx *p, yaml_node_t *v, sim_step *st,
                       const mapview *mv, const mapview *smv)
{
    const char *op = kit_op_name(st->op.kind);

    switch (st->op.kind) {
    case KIT_OP_ADVANCE:
    case KIT_OP_BLOCK:
        if (st->op.value > UINT64_MAX - 1 - st->t_action)
            return perr(p, v, "%s: virtual time overflows", op);
        st->t_end = st->t_action + st->op.value;
        return true;
    case KIT_OP_WRMSR:
    case KIT_OP_RDMSR:
        if (st->expect_error == INTC_ERR_INVAL)
            return perr(p, mv_opt(mv, "expect_error"),
                        "%s expect_error: gp or not_decoded", op);
        return true;
    case KIT_OP_IPI:
        if (!mv_opt(mv, "dest") && st->op.size == 0)
            return perr(p, v, "ipi: missing key 'dest' (or a shorthand)");
        return true;
    case KIT_OP_RUN:
        if (!mv_get(smv, "cpu"))
            st->op.flags |= KIT_RUN_ALL;
        return true;
    case KIT_OP_TAKE:
        return take_checks(p, st, smv);
    case KIT_OP_GSI:
        return gsi_exists(p, mv, st->op.index);
    case KIT_OP_TIMER_EXPIRED:
        if (!mv_opt(mv, "cpu") == !mv_opt(mv, "ioapic"))
            return perr(p, v, "timer_expired: give cpu or ioapic");
        return true;
    case KIT_OP_SYNC_PIR:
        if (st->op.n_bytes && st->op.n_bytes != 32)
            return perr(p, v, "sync_pir: pir is 32 bytes");
        return true;
    default:
        return true;
    }
}

/* The kinds that need the machine's IOMMU. */
static bool needs_iommu(unsigned kind)
{
    return kind == KIT_OP_IOMMU_WRITE || kind == KIT_OP_IOMMU_READ ||
           kind == KIT_OP_IOMMU_TABLE || kind == KIT_OP_IOMMU_INVALIDATE ||
           kind == KIT_OP_REMAP;
}

/* A row with an IOAPIC operand that defaults to IOAPIC 0. */
static bool needs_ioapic(unsigned kind)
{
    const kit_op_info *in = &kit_op_table[kind];

    for (unsigned i = 0; i < in->n_fields; i++)
        if (in->fields[i].type == KIT_F_IOAPIC &&
            in->fields[i].flag == KIT_OPT)
            return true;
    return false;
}

static bool parse_true(pctx *p, yaml_node_t *v, const char *op)
{
    bool b;

    if (!get_bool(p, v, op, &b))
        return false;
    if (!b)
        return perr(p, v, "%s: only 'true' is meaningful", op);
    return true;
}

/* One operation step: st->op.kind is the first row of its name. */
static bool parse_op(pctx *p, yaml_node_t *v, sim_step *st,
                     const mapview *smv)
{
    const kit_op_info *in = &kit_op_table[st->op.kind];
    static const char *const none[] = {NULL};
    const char *keys[MV_MAX];
    mapview mv;
    bool ok;

    if (needs_ioapic(st->op.kind) && p->s->cfg.n_ioapics == 0)
        return perr(p, v, "%s: the machine has no IOAPIC", in->name);
    if (needs_iommu(st->op.kind) &&
        p->s->cfg.iommu.kind == INTC_IOMMU_NONE)
        return perr(p, v, "%s: the machine has no IOMMU", in->name);
    memset(&mv, 0, sizeof mv);
    mv.keys = none;
    switch (in->form) {
    case KIT_FORM_SCALAR:
        ok = get_field(p, v, in->name, &in->fields[0], st);
        break;
    case KIT_FORM_TRUE:
        ok = parse_true(p, v, in->name);
        break;
    case KIT_FORM_MAP:
        ok = parse_map(p, v, st, keys, &mv);
        break;
    default:
        ok = st->op.kind == KIT_OP_ACK ? parse_ack(p, v, st)
                                       : parse_memory_op(p, v, st, in->name);
        break;
    }
    return ok && post_check(p, v, st, &mv, smv);
}

static bool parse_action(pctx *p, const char *key, yaml_node_t *v,
                         sim_step *st, const mapview *smv)
{
    if (strcmp(key, "expect") == 0) {
        st->action = SIM_ACT_EXPECT;
        return parse_expect(p, v, st);
    }
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++)
        if (strcmp(kit_op_table[k].name, key) == 0) {
            st->action = k;
            st->op.kind = (uint16_t)k;
            st->op.cpu = st->cpu;
            return parse_op(p, v, st, smv);
        }
    return perr(p, v, "internal: unhandled action '%s'", key);
}

/* Step keys: the common ones, then every operation's name once. */
#define FIRST_ACTION_KEY 7u

static void step_keys(const char **keys)
{
    static const char *const common[FIRST_ACTION_KEY] = {
        "name", "at", "after", "cpu",
        "expect_error", /* of an operation written as a scalar */
        "expect", "vector" /* take's options; expect also an action */};
    unsigned n = 0;

    for (unsigned i = 0; i < FIRST_ACTION_KEY; i++)
        keys[n++] = common[i];
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++)
        if (k == 0 ||
            strcmp(kit_op_table[k].name, kit_op_table[k - 1].name) != 0)
            keys[n++] = kit_op_table[k].name;
    keys[n] = NULL;
}

static bool needs_cpu(const char *key)
{
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++)
        if (strcmp(kit_op_table[k].name, key) == 0)
            return kit_op_table[k].on_cpu;
    return false;
}

/* at / after: the step's static time. */
static bool step_time(pctx *p, const mapview *mv, sim_step *st)
{
    yaml_node_t *v;
    uint64_t t;

    st->t_start = p->now;
    if (mv_get(mv, "at") && mv_get(mv, "after"))
        return perr(p, mv_key(mv, "after"), "give 'at' or 'after', not "
                                            "both");
    if ((v = mv_get(mv, "at"))) {
        if (!get_duration(p, v, "at", &t))
            return false;
        if (t < p->now)
            return perr(p, v, "at: time %" PRIu64 " ns is in the past (the "
                              "scenario is at %" PRIu64 " ns)", t, p->now);
        if (t == UINT64_MAX)
            return perr(p, v, "at: virtual time overflows");
        p->now = t;
    }
    if ((v = mv_get(mv, "after"))) {
        if (!get_duration(p, v, "after", &t))
            return false;
        if (t > UINT64_MAX - 1 - p->now)
            return perr(p, v, "after: virtual time overflows");
        p->now += t;
    }
    st->t_action = st->t_end = p->now;
    return true;
}

/* The step's one action key (expect and vector may be take's). */
static bool step_action(pctx *p, yaml_node_t *n, const mapview *mv,
                        size_t index, yaml_node_t **act, const char **key)
{
    bool has_take = mv_get(mv, "take") != NULL;

    *act = NULL;
    for (unsigned i = FIRST_ACTION_KEY - 2; mv->keys[i]; i++) {
        if (!mv->val[i])
            continue;
        if (i == FIRST_ACTION_KEY - 1) /* vector: take's */
            continue;
        if (i == FIRST_ACTION_KEY - 2 && has_take) /* expect: take's */
            continue;
        if (*act)
            return perr(p, mv->key[i], "step has two actions ('%s' and "
                                       "'%s')", *key, mv->keys[i]);
        *act = mv->val[i];
        *key = mv->keys[i];
    }
    if (!*act)
        return perr(p, n, "step %zu has no action", index + 1);
    if (mv_get(mv, "vector") && !has_take)
        return perr(p, mv_key(mv, "vector"),
                    "unknown key 'vector' in step (only with take)");
    return true;
}

/* `expect_error:` beside an operation written as a scalar that may
   fail (`{load: "..", expect_error: corrupt}`, docs/scenario.md). */
static bool scalar_expect_error(pctx *p, const mapview *mv, const char *key,
                                sim_step *st)
{
    if (!mv_get(mv, "expect_error"))
        return true;
    for (unsigned k = 0; k < KIT_OP_COUNT_; k++) {
        const kit_op_info *in = &kit_op_table[k];
        if (strcmp(in->name, key) == 0 && in->form != KIT_FORM_MAP &&
            (in->results & KIT_RES_ERR))
            return opt_expect_error(p, mv, "expect_error",
                                    &st->expect_error);
    }
    return perr(p, mv_key(mv, "expect_error"),
                "key 'expect_error' does not apply to '%s'", key);
}

static bool parse_step(pctx *p, yaml_node_t *n, sim_step *st, size_t index)
{
    sim_scenario *s = p->s;
    const char *keys[MV_MAX];
    mapview mv;
    yaml_node_t *v, *act = NULL;
    const char *key = NULL;

    st->line = (int)n->start_mark.line + 1;
    st->col = (int)n->start_mark.column + 1;
    step_keys(keys);
    if (!map_open(p, n, "step", keys, &mv) ||
        !step_action(p, n, &mv, index, &act, &key))
        return false;
    if ((v = mv_get(&mv, "name"))) {
        if (!get_name(p, v, "step name", &st->name))
            return false;
        for (size_t i = 0; i < index; i++)
            if (s->steps[i].name && strcmp(s->steps[i].name, st->name) == 0)
                return perr(p, v, "duplicate step name (step %zu)", i + 1);
    }
    if ((v = mv_get(&mv, "cpu"))) {
        if (!needs_cpu(key))
            return perr(p, mv_key(&mv, "cpu"),
                        "key 'cpu' does not apply to '%s'", key);
        if (!get_u32(p, v, "cpu", 0, s->cfg.n_cpus - 1, &st->cpu))
            return false;
    }
    if (!step_time(p, &mv, st) || !parse_action(p, key, act, st, &mv) ||
        !scalar_expect_error(p, &mv, key, st))
        return false;
    p->now = st->t_end;
    return true;
}

/* host: {timers: auto|manual} */
static bool host_timers(pctx *p, const mapview *hv, bool *manual)
{
    yaml_node_t *v = mv_get(hv, "timers");

    if (!v || sis(p, v, "auto"))
        return true;
    if (sis(p, v, "manual")) {
        *manual = true;
        return true;
    }
    return perr(p, v, "host: timers: auto or manual");
}

static bool parse_root(pctx *p, yaml_node_t *root)
{
    static const char *const keys[] = {"name", "machine", "host", "steps",
                                       NULL};
    static const char *const hkeys[] = {"max_fires", "timers", NULL};
    sim_scenario *s = p->s;
    mapview mv, hv;
    yaml_node_t *v;

    if (!map_open(p, root, "the scenario", keys, &mv))
        return false;
    if ((v = mv_get(&mv, "name")) &&
        !get_name(p, v, "scenario name", &s->title))
        return false;
    if ((v = mv_get(&mv, "host")) &&
        (!map_open(p, v, "host", hkeys, &hv) ||
         !opt_u32(p, &hv, "max_fires", "host", 1, UINT32_MAX,
                  &s->max_fires) ||
         !host_timers(p, &hv, &s->manual_timers)))
        return false;
    if ((v = mv_get(&mv, "machine"))) {
        if (!parse_machine(p, v))
            return false;
    } else {
        s->machine_line = (int)root->start_mark.line + 1;
        s->machine_col = (int)root->start_mark.column + 1;
    }
    v = mv_need(p, &mv, "steps", "the scenario");
    if (!v || !seq(v, "steps", p))
        return false;
    s->n_steps = seq_len(v);
    if (s->n_steps == 0)
        return perr(p, v, "steps: empty list");
    s->steps = calloc(s->n_steps, sizeof *s->steps);
    if (!s->steps) {
        s->n_steps = 0;
        return perr(p, v, "out of memory");
    }
    for (size_t i = 0; i < s->n_steps; i++) {
        yaml_node_t *it;
        if (!seq_item(p, v, i, &it) || !parse_step(p, it, &s->steps[i], i))
            return false;
    }
    return true;
}

uint64_t sim_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Read the whole file, or its first SIM_MAX_FILE_BYTES + 1 bytes (enough
   for sim_scenario_parse to refuse it).  NULL with a message on failure. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n = 0, cap = 65536;

    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0 || n > SIM_MAX_FILE_BYTES)
            break;
        if (n == cap) {
            unsigned char *nb;
            cap = cap > SIM_MAX_FILE_BYTES / 2 ? SIM_MAX_FILE_BYTES + 1u
                                               : cap * 2;
            nb = realloc(buf, cap);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "intc-sim: %s: %s\n", path,
                buf ? "read error" : "out of memory");
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

int sim_scenario_load(const char *path, sim_scenario **out)
{
    unsigned char *buf;
    size_t len = 0;
    int rc;

    *out = NULL;
    buf = slurp(path, &len);
    if (!buf)
        return SIM_EXIT_HOST;
    rc = sim_scenario_parse(path, buf, len, out);
    free(buf);
    return rc;
}

/* ---- first pass: events ---- */

static bool yaml_problem(pctx *p, const yaml_parser_t *ps)
{
    if (ps->error == YAML_MEMORY_ERROR)
        p->host_err = true;
    return perr_at(p, &ps->problem_mark, "YAML: %s%s%s",
                   ps->problem ? ps->problem : "parse error",
                   ps->context ? " " : "", ps->context ? ps->context : "");
}

static const struct {
    const char *tag, *shown;
    uint8_t cls;
    yaml_event_type_t on;
} known_tags[] = {
    {YAML_STR_TAG, "!!str", TAG_STR, YAML_SCALAR_EVENT},
    {YAML_INT_TAG, "!!int", TAG_INT, YAML_SCALAR_EVENT},
    {YAML_BOOL_TAG, "!!bool", TAG_BOOL, YAML_SCALAR_EVENT},
    {YAML_SEQ_TAG, "!!seq", TAG_SEQ, YAML_SEQUENCE_START_EVENT},
    {YAML_MAP_TAG, "!!map", TAG_MAP, YAML_MAPPING_START_EVENT},
};

/* The explicit tag of a node event, as TAG_*; refuses all others. */
static bool event_tag(pctx *p, const yaml_event_t *ev, uint8_t *cls)
{
    static const char std[] = "tag:yaml.org,2002:";
    const yaml_char_t *tag = ev->type == YAML_SCALAR_EVENT
                                 ? ev->data.scalar.tag
                             : ev->type == YAML_SEQUENCE_START_EVENT
                                 ? ev->data.sequence_start.tag
                                 : ev->data.mapping_start.tag;
    const char *t = (const char *)tag;
    char b[48];
    size_t j = 0;

    *cls = TAG_NONE;
    if (!tag)
        return true;
    for (size_t i = 0; i < sizeof known_tags / sizeof known_tags[0]; i++) {
        if (strcmp(t, known_tags[i].tag) != 0)
            continue;
        if (ev->type != known_tags[i].on)
            return perr_at(p, &ev->start_mark, "YAML tag %s on a %s",
                           known_tags[i].shown,
                           ev->type == YAML_SCALAR_EVENT ? "scalar"
                           : ev->type == YAML_SEQUENCE_START_EVENT
                               ? "list" : "mapping");
        *cls = known_tags[i].cls;
        return true;
    }
    if (strncmp(t, std, sizeof std - 1) == 0)
        t += sizeof std - 1, b[j++] = '!', b[j++] = '!';
    for (; *t && j + 4 < sizeof b; t++)
        b[j++] = (*t >= 0x20 && *t < 0x7f) ? *t : '?';
    memcpy(b + j, *t ? "..." : "", *t ? 4 : 1);
    return perr_at(p, &ev->start_mark, "unsupported YAML tag '%s' (only "
                   "!!str, !!int, !!bool, !!seq and !!map)", b);
}

static bool push_tag(pctx *p, uint8_t cls)
{
    if (p->n_tags == p->cap_tags) {
        size_t cap = p->cap_tags ? 2 * p->cap_tags : 256;
        uint8_t *nt = realloc(p->tags, cap);
        if (!nt) {
            p->host_err = true;
            return perr(p, NULL, "out of memory");
        }
        p->tags = nt;
        p->cap_tags = cap;
    }
    p->tags[p->n_tags++] = cls;
    return true;
}

typedef struct scan_state {
    unsigned depth, docs;
} scan_state;

static bool prescan_event(pctx *p, const yaml_event_t *ev, scan_state *ss)
{
    uint8_t cls;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        ss->docs++;
        return true;
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        ss->depth--;
        return true;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (++ss->depth > SIM_MAX_DEPTH)
            return perr_at(p, &ev->start_mark, "nesting deeper than %u "
                           "lists and mappings", SIM_MAX_DEPTH);
        /* fall through */
    case YAML_SCALAR_EVENT:
        /* The root of a second document: refused where it starts. */
        if (ss->docs > 1)
            return perr_at(p, &ev->start_mark,
                           "more than one YAML document");
        return event_tag(p, ev, &cls) && push_tag(p, cls);
    default:
        return true;
    }
}

/* The whole event stream, without building the document: linear in the
   file (up to the depth limit), so a hostile nesting is refused before
   libyaml's loader would spend quadratic time on it. */
static bool prescan(pctx *p, const unsigned char *buf, size_t len)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    scan_state ss = {0, 0};
    bool ok = true, done = false;

    if (!yaml_parser_initialize(&ps)) {
        p->host_err = true;
        return perr(p, NULL, "out of memory");
    }
    yaml_parser_set_input_string(&ps, buf, len);
    while (ok && !done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            ok = yaml_problem(p, &ps);
            break;
        }
        ok = prescan_event(p, &ev, &ss);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    return ok;
}

/* ---- second pass: the document ---- */

static bool load_walk(pctx *p, const unsigned char *buf, size_t len)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    bool ok = false;

    if (!yaml_parser_initialize(&parser)) {
        p->host_err = true;
        return perr(p, NULL, "out of memory");
    }
    yaml_parser_set_input_string(&parser, buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_problem(p, &parser);
        yaml_parser_delete(&parser);
        return false;
    }
    p->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (!root)
        perr(p, NULL, "empty file");
    else if ((size_t)(doc.nodes.top - doc.nodes.start) != p->n_tags)
        perr(p, root, "internal: the YAML events and document differ");
    else
        ok = parse_root(p, root);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return ok;
}

int sim_scenario_parse(const char *path, const unsigned char *buf,
                       size_t len, sim_scenario **out)
{
    sim_scenario *s;
    pctx p = {.file = path};
    bool ok;

    *out = NULL;
    if (len > SIM_MAX_FILE_BYTES) {
        fprintf(stderr, "%s:1:1: error: file larger than %u bytes\n", path,
                SIM_MAX_FILE_BYTES);
        return SIM_EXIT_MALFORMED;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->file = malloc(strlen(path) + 1))) {
        free(s);
        fprintf(stderr, "intc-sim: out of memory\n");
        return SIM_EXIT_HOST;
    }
    strcpy(s->file, path);
    s->hash = sim_fnv1a(SIM_FNV1A_INIT, buf, len);
    intc_machine_config_init(&s->cfg);
    p.s = s;
    ok = prescan(&p, buf, len) && load_walk(&p, buf, len);
    free(p.tags);
    if (!ok) {
        sim_scenario_free(s);
        return p.host_err ? SIM_EXIT_HOST : SIM_EXIT_MALFORMED;
    }
    *out = s;
    return SIM_EXIT_OK;
}

static void free_expect(sim_expect *e)
{
    if (!e)
        return;
    free(e->regs);
    free(e->events);
    free(e->no_events);
    free(e->in_order);
    free(e->count);
    free(e->total);
    free(e);
}

void sim_scenario_free(sim_scenario *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_steps; i++) {
        free(s->steps[i].name);
        free(s->steps[i].bytes);
        free_expect(s->steps[i].exp);
    }
    free(s->steps);
    for (size_t i = 0; i < s->n_snap_names; i++)
        free(s->snap_names[i]);
    free(s->snap_names);
    for (size_t i = 0; i < s->n_devices; i++)
        free(s->devices[i].name);
    free(s->devices);
    free(s->regions);
    if (s->wiring)
        for (uint32_t i = 0; i < s->cfg.n_ioapics; i++)
            free(s->wiring[i]);
    free(s->wiring);
    free(s->ioapics);
    free(s->apic_ids);
    free(s->title);
    free(s->file);
    free(s);
}

long sim_step_lookup(const sim_scenario *s, const char *spec)
{
    uint64_t v;

    if (parse_uint(spec, strlen(spec), &v) == 0)
        return (v >= 1 && v <= s->n_steps) ? (long)(v - 1) : -1;
    for (size_t i = 0; i < s->n_steps; i++)
        if (s->steps[i].name && strcmp(s->steps[i].name, spec) == 0)
            return (long)i;
    return -1;
}
