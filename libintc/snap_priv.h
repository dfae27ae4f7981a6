/*
 * libintc — the snapshot cursor and its field primitives.
 *
 * snapshot.c owns the container (header, checksum, configuration
 * fingerprint, the order of the sections, check-before-load); each model
 * owns its section: intc__lapic_snap() in lapic.c, intc__ioapic_snap() in
 * ioapic.c, and so on (bhyve vlapic_snapshot, KVM kvm_apic_set_state).  A
 * section lists its fields once and runs in five modes:
 *
 *   MEASURE  counts the bytes (the image size is fixed by the
 *            configuration, so this folds to a few additions);
 *   SAVE     writes the model's values;
 *   CHECK    reads the image and validates every field (stored-bit masks,
 *            enums, cross-field invariants) without storing anything; it
 *            only notes that something failed;
 *   DIAG     the same walk again, run only after CHECK refused the image:
 *            it names the first refused field (intc_machine_errmsg);
 *   LOAD     stores the image's values, then rebuilds the model's derived
 *            caches.  snapshot.c runs LOAD only after CHECK accepted the
 *            whole image, so it cannot fail midway (STYLE rule 9).
 *
 * Speed: a section is written as an always-inline body taking the mode as
 * a constant, instantiated once per mode by INTC__SNAP_DISPATCH on a local
 * cursor, so every mode test folds away, the cursor lives in registers,
 * and a field costs a load and a store (SAVE, LOAD) or a load
 * and a mask test (CHECK).  snapshot.c compares the payload length with
 * the measured size before CHECK, so no field checks bounds.  Field names
 * are used only in DIAG.
 */
#ifndef INTC_SNAP_PRIV_H
#define INTC_SNAP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "intc/intc.h"

enum intc__snap_mode {
    INTC__SNAP_MEASURE,
    INTC__SNAP_SAVE,
    INTC__SNAP_CHECK,
    INTC__SNAP_DIAG,
    INTC__SNAP_LOAD
};

typedef struct intc__snap {
    enum intc__snap_mode mode;
    uint8_t *out;        /* SAVE: the next byte to write */
    const uint8_t *in;   /* CHECK, DIAG, LOAD: the next byte to read */
    size_t size;         /* MEASURE: bytes counted */
    bool bad;            /* CHECK, DIAG: a field was refused */
    /* DIAG: the first refusal (what intc_machine_errmsg() reports). */
    const char *sect;    /* the section being walked: "lapic", ... */
    int32_t inst;        /* its instance (CPU index, IOAPIC index, MSI-X
                            or MSI event unit), -1 for a single one */
    const char *field;   /* the refused field */
    int32_t idx;         /* its index within the instance, -1 for none */
    const char *why;
} intc__snap;

_Static_assert(sizeof(bool) == 1, "bool fields are stored as one byte");

#if defined(__GNUC__)
#define INTC__SNAP_INLINE static inline __attribute__((always_inline))
#define INTC__SNAP_COLD __attribute__((cold, noinline))
#else
#define INTC__SNAP_INLINE static inline
#define INTC__SNAP_COLD
#endif

/* DIAG: record the first refusal (snapshot.c; builds no string: the
   message is formatted when intc_machine_load() returns the error). */
INTC__SNAP_COLD void intc__snap_refuse(intc__snap *c, const char *field,
                                       int32_t idx, const char *why);

/* Name the section and instance that the next fields belong to (kept
   once a field was refused: the walk goes on to the end). */
INTC__SNAP_INLINE void intc__snap_begin(intc__snap *c, const int mode,
                                        const char *sect, int32_t inst)
{
    if (mode == INTC__SNAP_DIAG && !c->bad) {
        c->sect = sect;
        c->inst = inst;
    }
}

/* ---- fixed-width little-endian encoding ---- */

/* The image is little-endian.  On a little-endian host a field is one
   memcpy (one load or store); elsewhere the portable byte loop. */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) &&        \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define INTC__SNAP_LE_HOST 1
#else
#define INTC__SNAP_LE_HOST 0
#endif

INTC__SNAP_INLINE void intc__snap_put(uint8_t *p, uint64_t v, unsigned n)
{
    if (INTC__SNAP_LE_HOST) {
        switch (n) {
        case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); return; }
        case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); return; }
        case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); return; }
        case 8: memcpy(p, &v, 8); return;
        default: break;
        }
    }
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

INTC__SNAP_INLINE uint64_t intc__snap_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    if (INTC__SNAP_LE_HOST) {
        switch (n) {
        case 1: return p[0];
        case 2: { uint16_t x; memcpy(&x, p, 2); return x; }
        case 4: { uint32_t x; memcpy(&x, p, 4); return x; }
        case 8: memcpy(&v, p, 8); return v;
        default: break;
        }
    }
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- the field primitive ---- */

/*
 * One field of n bytes whose stored bits are mask.  SAVE writes v and
 * returns it; CHECK and DIAG read the image's value, refuse it when a bit
 * outside mask is set, and return it; LOAD returns the image's value (the
 * caller stores it).  MEASURE only counts.
 */
INTC__SNAP_INLINE uint64_t intc__snap_field(intc__snap *c, const int mode,
                                            unsigned n, uint64_t v,
                                            uint64_t mask, const char *field,
                                            int32_t idx)
{
    switch (mode) {
    case INTC__SNAP_MEASURE:
        c->size += n;
        return v;
    case INTC__SNAP_SAVE:
        intc__snap_put(c->out, v, n);
        c->out += n;
        return v;
    case INTC__SNAP_CHECK:
        v = intc__snap_get(c->in, n);
        c->in += n;
        c->bad |= (v & ~mask) != 0;
        return v;
    case INTC__SNAP_DIAG:
        v = intc__snap_get(c->in, n);
        c->in += n;
        if (v & ~mask)
            intc__snap_refuse(c, field, idx, "reserved bits set");
        return v;
    default: /* LOAD */
        v = intc__snap_get(c->in, n);
        c->in += n;
        return v;
    }
}

/* CHECK or DIAG: the modes that read the image to validate it.  Work that
   only feeds a rule (not a store) runs in both, so that DIAG finds the
   same refusal as CHECK. */
#define INTC__SNAP_CHECKING(mode)                                           \
    ((mode) == INTC__SNAP_CHECK || (mode) == INTC__SNAP_DIAG)

/* A cross-field rule about field[idx]: CHECK refuses the image where it
   does not hold, DIAG names it.  (In the other modes it documents the
   invariants the live machine keeps; ok is not evaluated.) */
#define INTC__SNAP_REQ(c, mode, ok, field, idx, why)                        \
    do {                                                                    \
        if ((mode) == INTC__SNAP_CHECK)                                     \
            (c)->bad |= !(ok);                                              \
        else if ((mode) == INTC__SNAP_DIAG && !(ok))                        \
            intc__snap_refuse((c), (field), (idx), (why));                  \
    } while (0)

/* Field lval, stored bits mask, named field[idx]: in LOAD, store the
   image's value. */
#define INTC__SNAP(c, mode, lval, mask, field, idx)                         \
    do {                                                                    \
        uint64_t snap_v_ = intc__snap_field((c), (mode),                    \
                                            (unsigned)sizeof(lval),         \
                                            (uint64_t)(lval), (mask),       \
                                            (field), (idx));                \
        if ((mode) == INTC__SNAP_LOAD)                                      \
            (lval) = snap_v_;                                               \
    } while (0)

/* The same, also declaring uint64_t name = the field's value (the
   model's in SAVE, the image's in CHECK, DIAG and LOAD) for cross-field
   rules. */
#define INTC__SNAP_VAR(c, mode, name, lval, mask, field, idx)               \
    uint64_t name = intc__snap_field((c), (mode), (unsigned)sizeof(lval),   \
                                     (uint64_t)(lval), (mask), (field),     \
                                     (idx));                                \
    if ((mode) == INTC__SNAP_LOAD)                                          \
        (lval) = name

#define INTC__SNAP_BOOL(c, mode, lval, field, idx)                          \
    INTC__SNAP(c, mode, lval, 1, field, idx)

/*
 * The exported section function's body: one instance of body (an
 * INTC__SNAP_INLINE function (intc__snap *, const int mode, ...)) per
 * mode, so the mode tests fold away.  Outside DIAG each instance works on
 * a local cursor holding only what its mode moves, whose address goes
 * nowhere else, so it lives in registers (the model's own stores, bytes
 * among them, cannot alias it).  DIAG, the cold one, passes c itself to
 * intc__snap_refuse().
 */
#define INTC__SNAP_DISPATCH(c, body, ...)                                   \
    do {                                                                    \
        switch ((c)->mode) {                                                \
        case INTC__SNAP_MEASURE: {                                          \
            intc__snap snap_c_ = {.size = (c)->size};                       \
            body(&snap_c_, INTC__SNAP_MEASURE, __VA_ARGS__);                \
            (c)->size = snap_c_.size;                                       \
            break;                                                          \
        }                                                                   \
        case INTC__SNAP_SAVE: {                                             \
            intc__snap snap_c_ = {.out = (c)->out};                         \
            body(&snap_c_, INTC__SNAP_SAVE, __VA_ARGS__);                   \
            (c)->out = snap_c_.out;                                         \
            break;                                                          \
        }                                                                   \
        case INTC__SNAP_CHECK: {                                            \
            intc__snap snap_c_ = {.in = (c)->in};                           \
            body(&snap_c_, INTC__SNAP_CHECK, __VA_ARGS__);                  \
            (c)->in = snap_c_.in;                                           \
            (c)->bad |= snap_c_.bad;                                        \
            break;                                                          \
        }                                                                   \
        case INTC__SNAP_DIAG:                                               \
            body((c), INTC__SNAP_DIAG, __VA_ARGS__);                        \
            break;                                                          \
        case INTC__SNAP_LOAD: {                                             \
            intc__snap snap_c_ = {.in = (c)->in};                           \
            body(&snap_c_, INTC__SNAP_LOAD, __VA_ARGS__);                   \
            (c)->in = snap_c_.in;                                           \
            break;                                                          \
        }                                                                   \
        }                                                                   \
    } while (0)

/* ---- the sections, in image order (snapshot.c walks them) ---- */

/* lapic.c: one CPU's registers, then its timer (lapic_timer.c,
   intc__timer_snap, given the timer mode of the LVT being walked). */
void intc__lapic_snap(intc__snap *c, intc_lapic *l);
void intc__timer_snap(intc__snap *c, intc_lapic *l, unsigned tmode);
/* ioapic.c */
void intc__ioapic_snap(intc__snap *c, intc_ioapic *io);
/* msi.c */
void intc__msix_snap(intc__snap *c, intc_msix *x);
void intc__msi_snap(intc__snap *c, intc_msi *d);
/* iommu.c: the interrupt entry cache; vtd.c, amdvi.c: the registers. */
void intc__iec_snap(intc__snap *c, intc_iommu *u);
void intc__vtd_snap(intc__snap *c, intc_iommu *u);
void intc__amdvi_snap(intc__snap *c, intc_iommu *u);

#endif /* INTC_SNAP_PRIV_H */
