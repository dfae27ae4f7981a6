/*
 * intc-sim — save files (--save-at) and resuming from them (--resume).
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- save / resume files ---- */

/*
 * A save file is a 32-byte header and a body (little-endian).
 *
 * Header: "INTCSIM\0", u32 format version (SAVE_VERSION), u32 flags (0),
 * u64 length of the whole file, u64 checksum: FNV-1a (64-bit) of the
 * header's first 24 bytes followed by the whole body.  FNV-1a changes its
 * state bijectively at every byte, so any change of one byte (any
 * single-bit flip) changes the checksum; a flip in the checksum itself
 * no longer matches the rest.
 *
 * Body: u32 step index (1-based, the last completed step), u32 step
 * count, u32 reserved, u64 virtual time, u64 scenario hash; u32
 * INTC_EV_COUNT_ then that many u64 totals and u64 window counts; u32
 * window events, each 40 bytes (type, cpu, vector, unit, pin: u32; data,
 * data2: u64; + u32 pad); u32 regions, each u64 addr, u64 size, bytes;
 * u32 snapshots (the scenario's names), each u8 valid, u64 len, bytes;
 * u64 image length and the intc_machine_save() image (which has its own
 * checksum).
 */
#define SAVE_MAGIC "INTCSIM"
#define SAVE_VERSION 2u
#define SAVE_HEADER 32u
#define SAVE_MAX_BYTES (1ull << 30)

/* A growing buffer the body is written to. */
typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool err;
} wbuf;

static void put(wbuf *w, const void *p, size_t n)
{
    if (w->err || n == 0)
        return;
    if (n > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 4096;
        uint8_t *np;
        while (cap - w->len < n && cap <= SIZE_MAX / 2)
            cap *= 2;
        np = cap - w->len >= n ? realloc(w->p, cap) : NULL;
        if (!np) {
            w->err = true;
            return;
        }
        w->p = np;
        w->cap = cap;
    }
    memcpy(w->p + w->len, p, n);
    w->len += n;
}

static void put32(wbuf *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 4);
}

static void put64(wbuf *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, 8);
}

static void put_events(wbuf *w, const sim_host *h)
{
    put32(w, INTC_EV_COUNT_);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        put64(w, h->k->totals[i]);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        put64(w, h->k->totals[i] - h->wbase[i]);
    put32(w, (uint32_t)h->k->n_events);
    for (size_t i = 0; i < h->k->n_events; i++) {
        const intc_event *ev = &h->k->events[i];
        put32(w, (uint32_t)ev->type);
        put32(w, ev->cpu);
        put32(w, (uint32_t)ev->vector);
        put32(w, ev->unit);
        put32(w, ev->pin);
        put64(w, ev->data);
        put64(w, ev->data2);
        put32(w, 0);
    }
}

/* The body after step index, with the machine image img. */
static void put_body(wbuf *w, const sim_host *h, size_t index,
                     const uint8_t *img, size_t used)
{
    const sim_scenario *s = h->s;

    put32(w, (uint32_t)index + 1);
    put32(w, (uint32_t)s->n_steps);
    put32(w, 0);
    put64(w, h->k->now);
    put64(w, s->hash);
    put_events(w, h);
    put32(w, (uint32_t)s->n_regions);
    for (size_t i = 0; i < s->n_regions; i++) {
        put64(w, h->k->regions[i].addr);
        put64(w, h->k->regions[i].size);
        put(w, h->k->regions[i].mem, h->k->regions[i].size);
    }
    put32(w, (uint32_t)s->n_snap_names);
    for (size_t i = 0; i < s->n_snap_names; i++) {
        uint8_t valid = h->rig.snaps[i].valid;
        put(w, &valid, 1);
        put64(w, valid ? h->rig.snaps[i].len : 0);
        if (valid)
            put(w, h->rig.snaps[i].img, h->rig.snaps[i].len);
    }
    put64(w, used);
    put(w, img, used);
}

/* The header for a body of len bytes. */
static void save_header(uint8_t hd[SAVE_HEADER], const uint8_t *body,
                        size_t len)
{
    uint64_t total = SAVE_HEADER + (uint64_t)len, sum;

    memset(hd, 0, SAVE_HEADER);
    memcpy(hd, SAVE_MAGIC, 8);
    for (int i = 0; i < 4; i++)
        hd[8 + i] = (uint8_t)(SAVE_VERSION >> (8 * i));
    for (int i = 0; i < 8; i++)
        hd[16 + i] = (uint8_t)(total >> (8 * i));
    sum = sim_fnv1a(sim_fnv1a(SIM_FNV1A_INIT, hd, 24), body, len);
    for (int i = 0; i < 8; i++)
        hd[24 + i] = (uint8_t)(sum >> (8 * i));
}

int sim_save_file(sim_host *h, size_t index)
{
    const char *path = h->o->save_path;
    wbuf w = {0};
    size_t used = 0;
    uint8_t *img, hd[SAVE_HEADER];
    intc_err e = intc_machine_save(h->rig.m, NULL, 0, &used);
    FILE *f;
    bool err;

    if (e != INTC_OK && e != INTC_ERR_NOSPC) {
        fprintf(stderr, "intc-sim: --save-at: intc_machine_save: %s\n",
                intc_err_name(e));
        return SIM_EXIT_HOST;
    }
    img = malloc(used ? used : 1);
    if (!img || intc_machine_save(h->rig.m, img, used, &used) != INTC_OK) {
        free(img);
        fprintf(stderr, "intc-sim: --save-at: intc_machine_save failed\n");
        return SIM_EXIT_HOST;
    }
    put_body(&w, h, index, img, used);
    free(img);
    if (w.err) {
        free(w.p);
        fprintf(stderr, "intc-sim: --save-at: out of memory\n");
        return SIM_EXIT_HOST;
    }
    save_header(hd, w.p, w.len);
    f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        free(w.p);
        return SIM_EXIT_HOST;
    }
    err = fwrite(hd, 1, SAVE_HEADER, f) != SAVE_HEADER ||
          (w.len && fwrite(w.p, 1, w.len, f) != w.len);
    free(w.p);
    if (fclose(f) != 0 || err) {
        fprintf(stderr, "intc-sim: %s: write error\n", path);
        return SIM_EXIT_HOST;
    }
    return SIM_EXIT_OK;
}

typedef struct rbuf {
    const uint8_t *p;
    size_t len, off;
    bool err;
    bool oom; /* out of memory while loading it (exit 3) */
} rbuf;

static const uint8_t *take(rbuf *r, size_t n)
{
    const uint8_t *p;

    if (r->err || n > r->len - r->off) {
        r->err = true;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

static uint32_t get32(rbuf *r)
{
    const uint8_t *b = take(r, 4);
    uint32_t v = 0;

    for (int i = 0; b && i < 4; i++)
        v |= (uint32_t)b[i] << (8 * i);
    return v;
}

static uint64_t get64(rbuf *r)
{
    const uint8_t *b = take(r, 8);
    uint64_t v = 0;

    for (int i = 0; b && i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* Read all of path (refused beyond SAVE_MAX_BYTES): an exit code. */
static int read_save(const char *path, uint8_t **out, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0, got;
    int rc = SIM_EXIT_OK;

    if (!f) {
        fprintf(stderr, "intc-sim: %s: %s\n", path, strerror(errno));
        return SIM_EXIT_HOST;
    }
    for (;;) {
        if (len == cap) {
            uint8_t *nb = NULL;
            if (cap > SAVE_MAX_BYTES) {
                fprintf(stderr, "intc-sim: %s: larger than %llu bytes: not "
                                "an intc-sim save file\n", path,
                        SAVE_MAX_BYTES);
                rc = SIM_EXIT_MALFORMED;
                break;
            }
            cap = cap ? cap * 2 : 65536;
            if (!(nb = realloc(buf, cap))) {
                fprintf(stderr, "intc-sim: %s: out of memory\n", path);
                rc = SIM_EXIT_HOST;
                break;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        if (got == 0)
            break;
        len += got;
    }
    if (rc == SIM_EXIT_OK && ferror(f)) {
        fprintf(stderr, "intc-sim: %s: read error\n", path);
        rc = SIM_EXIT_HOST;
    }
    fclose(f);
    if (rc != SIM_EXIT_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = len;
    return SIM_EXIT_OK;
}

/* Check the header against the file: false with the reason printed. */
static bool check_header(const char *path, const uint8_t *buf, size_t len)
{
    rbuf r = {.p = buf, .len = len, .off = 8};
    uint32_t version, flags;
    uint64_t total, sum;

    if (len < 8 ? len == 0 || memcmp(buf, SAVE_MAGIC, len) != 0
                : memcmp(buf, SAVE_MAGIC, 8) != 0) {
        fprintf(stderr, "intc-sim: %s: not an intc-sim save file\n", path);
        return false;
    }
    if (len < SAVE_HEADER) {
        fprintf(stderr, "intc-sim: %s: truncated save file: %zu bytes, "
                        "shorter than its %u-byte header\n", path, len,
                SAVE_HEADER);
        return false;
    }
    version = get32(&r);
    flags = get32(&r);
    total = get64(&r);
    sum = get64(&r);
    if (version != SAVE_VERSION) {
        fprintf(stderr, "intc-sim: %s: save file format version %" PRIu32
                        " (this intc-sim reads version %u only)\n", path,
                version, SAVE_VERSION);
        return false;
    }
    if (flags != 0) {
        fprintf(stderr, "intc-sim: %s: corrupt save file header (flags "
                        "0x%" PRIx32 ", expected 0)\n", path, flags);
        return false;
    }
    if (total != len) {
        fprintf(stderr, "intc-sim: %s: %s save file: %zu bytes, its header "
                        "says %" PRIu64 "\n", path,
                len < total ? "truncated" : "corrupt or overlong", len,
                total);
        return false;
    }
    if (sim_fnv1a(sim_fnv1a(SIM_FNV1A_INIT, buf, 24), buf + SAVE_HEADER,
                  len - SAVE_HEADER) != sum) {
        fprintf(stderr, "intc-sim: %s: save file checksum mismatch (the "
                        "file is corrupt)\n", path);
        return false;
    }
    return true;
}

/* The body's first fields: which scenario, which step, what time. */
static bool body_position(sim_host *h, rbuf *r, const char *path,
                          uint32_t *idx)
{
    const sim_scenario *s = h->s;
    uint32_t nsteps;
    uint64_t t, hash;

    *idx = get32(r);
    nsteps = get32(r);
    get32(r);
    t = get64(r);
    hash = get64(r);
    if (r->err)
        return false;
    if (hash != s->hash || nsteps != s->n_steps) {
        fprintf(stderr, "intc-sim: %s: saved from a different scenario "
                        "file than %s (refusing to resume)\n", path, s->file);
        return false;
    }
    if (*idx < 1 || *idx > s->n_steps || s->steps[*idx - 1].t_end != t) {
        fprintf(stderr, "intc-sim: %s: step %" PRIu32 " at %" PRIu64 " ns "
                        "does not match the scenario\n", path, *idx, t);
        return false;
    }
    h->k->now = t;
    return true;
}

/* Event totals and the event window. */
static bool body_events(sim_host *h, rbuf *r, const char *path)
{
    uint32_t ntypes = get32(r), nwin;

    if (ntypes != INTC_EV_COUNT_) {
        fprintf(stderr, "intc-sim: %s: written for a libintc with %" PRIu32
                        " event types (this one has %u)\n", path, ntypes,
                INTC_EV_COUNT_);
        return false;
    }
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        h->k->totals[i] = get64(r);
    for (unsigned i = 0; i < INTC_EV_COUNT_; i++)
        h->wbase[i] = h->k->totals[i] - get64(r);
    nwin = get32(r);
    if (r->err || nwin > SIM_MAX_WINDOW_EVENTS ||
        nwin > (r->len - r->off) / 40)
        return (r->err = true), false;
    free(h->k->events);
    h->k->events = NULL;
    h->k->n_events = h->k->n_events_lost = h->k->cap_events = 0;
    if (nwin && !(h->k->events = calloc(nwin, sizeof *h->k->events)))
        return (r->oom = true), false;
    h->k->cap_events = nwin;
    for (uint32_t i = 0; i < nwin; i++) {
        intc_event *ev = &h->k->events[i];
        uint32_t type = get32(r);
        if (type >= INTC_EV_COUNT_)
            return (r->err = true), false;
        ev->type = (intc_event_type)type;
        ev->cpu = get32(r);
        ev->vector = (int32_t)get32(r);
        ev->unit = get32(r);
        ev->pin = get32(r);
        ev->data = get64(r);
        ev->data2 = get64(r);
        get32(r);
        h->k->n_events++;
    }
    return !r->err;
}

static bool state_differs(const char *path)
{
    fprintf(stderr, "intc-sim: %s: memory regions or snapshot names "
                    "differ from the scenario's\n", path);
    return false;
}

/* Guest memory and named snapshots. */
static bool body_state(sim_host *h, rbuf *r, const char *path)
{
    const sim_scenario *s = h->s;
    uint32_t nreg = get32(r), nsnap;

    if (r->err)
        return false;
    if (nreg != s->n_regions)
        return state_differs(path);
    for (uint32_t i = 0; i < nreg; i++) {
        uint64_t a = get64(r), sz = get64(r);
        const uint8_t *p;
        if (r->err)
            return false;
        if (a != h->k->regions[i].addr || sz != h->k->regions[i].size)
            return state_differs(path);
        if (!(p = take(r, (size_t)sz)))
            return false;
        memcpy(h->k->regions[i].mem, p, (size_t)sz);
    }
    nsnap = get32(r);
    if (r->err)
        return false;
    if (nsnap != s->n_snap_names)
        return state_differs(path);
    for (uint32_t i = 0; i < nsnap; i++) {
        const uint8_t *v = take(r, 1), *p;
        uint64_t n = get64(r);
        if (!v || r->err || *v > 1 || n > r->len)
            return (r->err = true), false;
        if (!*v)
            continue;
        if (!(p = take(r, (size_t)n)))
            return false;
        if (!(h->rig.snaps[i].img = malloc(n ? (size_t)n : 1)))
            return (r->oom = true), false;
        memcpy(h->rig.snaps[i].img, p, (size_t)n);
        h->rig.snaps[i].len = (size_t)n;
        h->rig.snaps[i].valid = true;
    }
    return true;
}

/* Load a --resume file: returns an exit code; *next is the first step to
   run.  Every refusal of the file is exit 2 with its reason. */
int sim_resume_file(sim_host *h, size_t *next)
{
    const char *path = h->o->resume_path;
    uint8_t *buf = NULL;
    size_t len = 0;
    rbuf r;
    uint32_t idx;
    uint64_t ilen;
    int rc = read_save(path, &buf, &len);
    intc_err e;

    if (rc != SIM_EXIT_OK)
        return rc;
    rc = SIM_EXIT_MALFORMED;
    r = (rbuf){.p = buf, .len = len, .off = SAVE_HEADER};
    if (!check_header(path, buf, len))
        goto out;
    if (!body_position(h, &r, path, &idx) || !body_events(h, &r, path) ||
        !body_state(h, &r, path)) {
        if (r.oom) {
            fprintf(stderr, "intc-sim: %s: out of memory\n", path);
            rc = SIM_EXIT_HOST;
            goto out;
        }
        if (r.err)
            goto corrupt;
        goto out;
    }
    ilen = get64(&r);
    if (r.err || ilen != len - r.off)
        goto corrupt;
    e = kit_load(h->k, r.p + r.off, (size_t)ilen);
    if (e != INTC_OK) {
        fprintf(stderr, "intc-sim: %s: the machine image does not load: "
                        "%s (%s): %s\n", path, intc_err_name(e),
                intc_strerror(e), intc_machine_errmsg(h->rig.m));
        goto out;
    }
    *next = idx;
    rc = SIM_EXIT_OK;
    goto out;
corrupt:
    fprintf(stderr, "intc-sim: %s: truncated or corrupt save file body\n",
            path);
out:
    free(buf);
    return rc;
}

