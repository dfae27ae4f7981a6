/*
 * libintc-uc — the hidden CPU state Unicorn 2.0.1 keeps but does not
 * report through its register API: the error code of an exception it
 * raises, QEMU's double-fault tracking, and the hidden base of CS and
 * SS (uc.h "Exceptions Unicorn raises" and "Modes").
 *
 * uc_context_save() copies the engine's CPU state structure (QEMU's
 * CPUX86State up to its TLB) into the context, and uc_context_restore()
 * copies it back.  Its layout is Unicorn's build, not an API, so this
 * file never assumes it: at machine creation a scratch engine runs a
 * calibration that finds every offset used from values it planted
 * itself, and checks each finding by its effect (the second #GP must
 * arrive as #GP with its own error code once the tracking is reset).
 * If anything does not match, the map stays off and the library falls
 * back to what the register API gives (error code 0, CS << 4 in real
 * mode, flat segments in protected mode): documented in uc.h and
 * reported by intc_uc_trap_info_get (hidden_state).
 */
#include <stdlib.h>
#include <string.h>

#include "uc_priv.h"

/* Calibration values: distinct, not found by chance in a fresh state. */
#define CAL_SEL1 0x5a58u /* GDT index 0xb4b, far beyond the limit */
#define CAL_SEL2 0x3a30u
#define CAL_FS 0x5c3a91e7d2460000ull
#define CAL_GS 0x5c3a91e7d2470000ull
#define CAL_CODE 0x1000u

/* The parts of QEMU's segment cache array located from FS and GS: the
   six caches are equal-sized and in ES, CS, SS, DS, FS, GS order (the
   segment register numbering of the SDM, table 3-x / R_ES..R_GS). */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

typedef struct cal_run {
    uc_context *ctx;
    size_t size;
    unsigned hits;
    uint32_t vector[2];
    size_t err_off; /* candidate of the first #GP */
    size_t old_off;
    bool bad;
} cal_run;

static bool u32_at(const uc_context *ctx, size_t size, size_t off,
                   uint32_t *v)
{
    if (off > size || size - off < 4)
        return false;
    memcpy(v, (const uint8_t *)ctx + off, 4);
    return true;
}

static bool u64_at(const uc_context *ctx, size_t size, size_t off,
                   uint64_t *v)
{
    if (off > size || size - off < 8)
        return false;
    memcpy(v, (const uint8_t *)ctx + off, 8);
    return true;
}

/* QEMU's exception tracking (old_exception, the vector whose delivery
   is in flight) follows the error code after exception_is_int,
   exception_next_eip, dr[8] and four breakpoint pointers: 112 bytes on
   an x86-64 host.  The calibration checks it holds 13 after a #GP. */
#define OLD_EXC_AFTER_ERR 112u

static void cal_first(cal_run *r)
{
    const uint8_t *b = (const uint8_t *)r->ctx;
    size_t found = 0;
    unsigned n = 0;
    for (size_t o = 0; o + 4 <= r->size; o += 4) {
        uint32_t v, old;
        memcpy(&v, b + o, 4);
        if (v == CAL_SEL1 &&
            u32_at(r->ctx, r->size, o + OLD_EXC_AFTER_ERR, &old) &&
            old == 13) {
            found = o;
            n++;
        }
    }
    if (n != 1) {
        r->bad = true;
        return;
    }
    r->err_off = found;
    r->old_off = found + OLD_EXC_AFTER_ERR;
}

static void cal_intr(uc_engine *uc, uint32_t intno, void *ud)
{
    cal_run *r = ud;
    unsigned k = r->hits++;
    if (k >= 2 || uc_context_save(uc, r->ctx) != UC_ERR_OK) {
        r->bad = true;
        uc_emu_stop(uc);
        return;
    }
    r->vector[k] = intno;
    uint32_t err = 0;
    if (k == 0) {
        cal_first(r);
    } else if (!u32_at(r->ctx, r->size, r->err_off, &err) ||
               err != CAL_SEL2) {
        r->bad = true;
    }
    if (!r->bad) {
        /* Reset the tracking as QEMU's own delivery would: the second
           #GP must then arrive as #GP, not #DF. */
        int32_t none = -1;
        memcpy((uint8_t *)r->ctx + r->old_off, &none, 4);
        uc_context_restore(uc, r->ctx);
    }
    /* Past the faulting 2-byte `mov ds, ax`. */
    uint64_t rip = 0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    rip += 2;
    uc_reg_write(uc, UC_X86_REG_RIP, &rip);
}

/* Where the general registers start: RAX..R15 then RIP, 8 bytes each,
   planted with distinct values (the state structure's first fields). */
static bool cal_regs(uc_engine *uc, uc_context *ctx, size_t size,
                     size_t *data)
{
    static const int ids[17] = {
        UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
        UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
        UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
        UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
        UC_X86_REG_RIP};
    uint64_t v[17];
    for (unsigned i = 0; i < 17; i++) {
        v[i] = 0x7e51d00c00000000ull + 0x1011u * (i + 1);
        if (uc_reg_write(uc, ids[i], &v[i]) != UC_ERR_OK)
            return false;
    }
    if (uc_context_save(uc, ctx) != UC_ERR_OK)
        return false;
    for (size_t d = 0; d + 17 * 8 <= size && d < 256; d += 8) {
        unsigned i = 0;
        uint64_t x;
        while (i < 17 && u64_at(ctx, size, d + 8 * i, &x) && x == v[i])
            i++;
        if (i == 17) {
            *data = d;
            return true;
        }
    }
    return false;
}

/* The segment caches: FS and GS bases planted, the array found from
   them (equal strides), CS and SS derived. */
static bool cal_segs(uc_engine *uc, uc_context *ctx, size_t size,
                     size_t data, uc_state_map *map)
{
    uint64_t fs = CAL_FS, gs = CAL_GS;
    if (uc_reg_write(uc, UC_X86_REG_FS_BASE, &fs) != UC_ERR_OK ||
        uc_reg_write(uc, UC_X86_REG_GS_BASE, &gs) != UC_ERR_OK ||
        uc_context_save(uc, ctx) != UC_ERR_OK)
        return false;
    size_t fs_off = 0, gs_off = 0;
    unsigned nf = 0, ng = 0;
    for (size_t o = data; o + 8 <= size && o < data + 1024; o += 8) {
        uint64_t x;
        memcpy(&x, (const uint8_t *)ctx + o, 8);
        if (x == fs) {
            fs_off = o;
            nf++;
        } else if (x == gs) {
            gs_off = o;
            ng++;
        }
    }
    if (nf != 1 || ng != 1 || gs_off <= fs_off)
        return false;
    size_t stride = gs_off - fs_off;
    if (fs_off < (SEG_FS - SEG_ES) * stride + data)
        return false;
    size_t es = fs_off - SEG_FS * stride;
    map->seg_base[0] = es + SEG_CS * stride;
    map->seg_base[1] = es + SEG_SS * stride;
    map->seg_base[2] = es + SEG_DS * stride;
    map->seg_base[3] = es + SEG_ES * stride;
    return true;
}

/* ------------------------------------------------------------------ */
/* Loading CS and SS with their descriptors                            */

/* A segment cache (QEMU's): the selector 8 bytes before the base, the
   limit 8 after it, the flags (the descriptor's high dword) 12 after;
   the hidden flags word (hflags: CPL and the code/stack size bits the
   translator keys on) 8 bytes before ES's cache, after cc_op and df.
   Bits of hflags (QEMU's layout, checked by cal_far below): */
#define HF_CPL 3u
#define HF_CS32 (1u << 4)
#define HF_SS32 (1u << 5)
#define HF_ADDSEG (1u << 6)
#define HF_PE (1u << 7)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)
#define SEL_BEFORE_BASE 8u
#define LIMIT_AFTER_BASE 8u
#define FLAGS_AFTER_BASE 12u
#define HFLAGS_BEFORE_ES 8u
#define D_B (1u << 22) /* descriptor high dword: D/B, L, DPL */
#define D_L (1u << 21)

static size_t hflags_off(const uc_state_map *map)
{
    return map->seg_base[3] - SEL_BEFORE_BASE - HFLAGS_BEFORE_ES;
}

static void put_u32(uc_context *ctx, size_t off, uint32_t v)
{
    memcpy((uint8_t *)ctx + off, &v, 4);
}

static void put_seg(uc_context *ctx, size_t base_off, const intc_uc_seg *sg)
{
    put_u32(ctx, base_off - SEL_BEFORE_BASE, sg->sel);
    memcpy((uint8_t *)ctx + base_off, &sg->base, 8);
    put_u32(ctx, base_off + LIMIT_AFTER_BASE, sg->limit);
    put_u32(ctx, base_off + FLAGS_AFTER_BASE, sg->flags);
}

/* The hidden flags after loading cs and ss at CPL cpl: the code and
   stack sizes (a 64-bit CS under EFER.LMA, else CS.D and SS.B; SDM
   3.4.5, 5.2.1), and whether the translator must add segment bases
   (not in 64-bit mode; always outside flat 32-bit protected mode; else
   when DS, ES or SS has a base). */
static uint32_t new_hflags(uint32_t hf, const intc_uc_seg *cs,
                           const intc_uc_seg *ss, unsigned cpl,
                           uint64_t ds_es_base, bool vm)
{
    hf = (hf & ~(HF_CPL | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_CS64)) | cpl;
    if ((hf & HF_LMA) && (cs->flags & D_L))
        return hf | HF_CS64 | HF_CS32 | HF_SS32;
    if (cs->flags & D_B)
        hf |= HF_CS32;
    if (ss->flags & D_B)
        hf |= HF_SS32;
    if (!(hf & HF_PE) || vm || !(hf & HF_CS32) || (ds_es_base | ss->base))
        hf |= HF_ADDSEG;
    return hf;
}

bool intc_uc__state_load_cs_ss(uc_cpu *c, const intc_uc_seg *cs,
                               const intc_uc_seg *ss, unsigned cpl)
{
    const uc_state_map *map = &c->m->state;
    if (!c->state_ctx || !map->seg_load ||
        uc_context_save(c->uc, c->state_ctx) != UC_ERR_OK)
        return false;
    uc_context *x = c->state_ctx;
    uint64_t ds = 0, es = 0, fl = 0;
    uint32_t hf = 0;
    intc_uc_seg keep;
    memcpy(&ds, (uint8_t *)x + map->seg_base[2], 8);
    memcpy(&es, (uint8_t *)x + map->seg_base[3], 8);
    memcpy(&hf, (uint8_t *)x + hflags_off(map), 4);
    uc_reg_read(c->uc, UC_X86_REG_RFLAGS, &fl);
    if (!ss) { /* SS stays: its cache decides the stack size */
        memset(&keep, 0, sizeof keep);
        memcpy(&keep.base, (uint8_t *)x + map->seg_base[1], 8);
        memcpy(&keep.flags,
               (uint8_t *)x + map->seg_base[1] + FLAGS_AFTER_BASE, 4);
        ss = &keep;
    } else {
        put_seg(x, map->seg_base[1], ss);
    }
    put_seg(x, map->seg_base[0], cs);
    put_u32(x, hflags_off(map),
            new_hflags(hf, cs, ss, cpl & 3u, ds | es, (fl >> 17) & 1));
    return uc_context_restore(c->uc, x) == UC_ERR_OK;
}

/* Check the cache layout and the hidden flags by their effect: a far
   return (48 CB) to a 64-bit code segment of limit 0x5ABC, then one to
   a 32-bit code segment (compatibility mode); Unicorn's own loads must
   leave what put_seg and new_hflags would write. */
#define CAL_GDT 0x1800u
#define CAL_FAR 0x1c00u
static bool cal_far_state(uc_engine *uc, uc_context *ctx, size_t size,
                          const uc_state_map *map, uint16_t sel,
                          uint32_t limit, uint32_t hi, uint32_t want_hf)
{
    uint32_t v[3], hf;
    if (uc_context_save(uc, ctx) != UC_ERR_OK ||
        !u32_at(ctx, size, map->seg_base[0] - SEL_BEFORE_BASE, &v[0]) ||
        !u32_at(ctx, size, map->seg_base[0] + LIMIT_AFTER_BASE, &v[1]) ||
        !u32_at(ctx, size, map->seg_base[0] + FLAGS_AFTER_BASE, &v[2]) ||
        !u32_at(ctx, size, hflags_off(map), &hf))
        return false;
    return v[0] == sel && v[1] == limit && v[2] == hi &&
           (hf & (HF_CPL | HF_CS32 | HF_CS64 | HF_LMA | HF_PE)) == want_hf;
}

/* SS's cache after the IRETQ of cal_far: the data descriptor 0x18. */
static bool cal_ss_state(uc_context *ctx, size_t size, const uc_state_map *map)
{
    uint32_t v[3];
    size_t at = map->seg_base[1];
    return u32_at(ctx, size, at - SEL_BEFORE_BASE, &v[0]) &&
           u32_at(ctx, size, at + LIMIT_AFTER_BASE, &v[1]) &&
           u32_at(ctx, size, at + FLAGS_AFTER_BASE, &v[2]) && v[0] == 0x18 &&
           v[1] == 0xffffffffu && v[2] == 0x00cf9300;
}

static bool cal_far(uc_engine *uc, uc_context *ctx, size_t size,
                    const uc_state_map *map)
{
    static const uint8_t gdt[32] = {
        0, 0, 0, 0, 0, 0, 0, 0,
        0xbc, 0x5a, 0, 0, 0, 0x9b, 0x20, 0,  /* 0x08: 64-bit code */
        0xff, 0xff, 0, 0, 0, 0x9b, 0xcf, 0,  /* 0x10: 32-bit code */
        0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0}; /* 0x18: data */
    /* push 0x18 (SS); push 0x800 (RSP); push 2 (RFLAGS); push 0x08
       (CS); push CAL_FAR+18 (RIP); iretq; (at +18) hlt */
    static const uint8_t far64[] = {
        0x6a, 0x18, 0x68, 0x00, 0x08, 0, 0, 0x6a, 0x02, 0x6a, 0x08,
        0x68, (CAL_FAR + 18) & 0xff, CAL_FAR >> 8, 0, 0, 0x48, 0xcf, 0xf4};
    /* push 0x10; push CAL_FAR+0x29; retfq; (at +0x29) hlt */
    static const uint8_t far32[] = {
        0x6a, 0x10, 0x68, (CAL_FAR + 0x29) & 0xff, CAL_FAR >> 8, 0, 0,
        0x48, 0xcb, 0xf4};
    uc_x86_mmr gdtr = {0, CAL_GDT, sizeof gdt - 1, 0};
    uint64_t sp = 0x800;
    if (uc_mem_write(uc, CAL_GDT, gdt, sizeof gdt) != UC_ERR_OK ||
        uc_mem_write(uc, CAL_FAR, far64, sizeof far64) != UC_ERR_OK ||
        uc_mem_write(uc, CAL_FAR + 0x20, far32, sizeof far32) != UC_ERR_OK ||
        uc_mem_write(uc, CAL_FAR + 0x29, far64 + 18, 1) != UC_ERR_OK ||
        uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr) != UC_ERR_OK ||
        uc_reg_write(uc, UC_X86_REG_RSP, &sp) != UC_ERR_OK ||
        uc_emu_start(uc, CAL_FAR, CAL_FAR + 19, 0, 7) != UC_ERR_OK ||
        !cal_far_state(uc, ctx, size, map, 0x08, 0x5abc, 0x00209b00,
                       HF_CS32 | HF_CS64 | HF_LMA | HF_PE) ||
        !cal_ss_state(ctx, size, map) ||
        uc_emu_start(uc, CAL_FAR + 0x20, CAL_FAR + 0x2a, 0, 4) !=
            UC_ERR_OK)
        return false;
    return cal_far_state(uc, ctx, size, map, 0x10, 0xffffffffu,
                         0x00cf9b00, HF_CS32 | HF_LMA | HF_PE);
}

/* #GP(CAL_SEL1) then #GP(CAL_SEL2): `mov ds, ax` with selectors beyond
   the (empty) GDT's limit (SDM vol 2 MOV: #GP(selector)), then HLT. */
static bool cal_errors(uc_engine *uc, uc_context *ctx, size_t size,
                       uc_state_map *map)
{
    static const uint8_t code[] = {
        0x66, 0xb8, CAL_SEL1 & 0xff, CAL_SEL1 >> 8, 0x8e, 0xd8,
        0x66, 0xb8, CAL_SEL2 & 0xff, CAL_SEL2 >> 8, 0x8e, 0xd8,
        0xf4};
    cal_run r = {.ctx = ctx, .size = size};
    uc_hook h;
    uint64_t sp = 0x800;
    if (uc_mem_write(uc, CAL_CODE, code, sizeof code) != UC_ERR_OK ||
        uc_reg_write(uc, UC_X86_REG_RSP, &sp) != UC_ERR_OK ||
        uc_hook_add(uc, &h, UC_HOOK_INTR, intc_uc__hook_fn(
                        (intc_uc__any_fn)cal_intr), &r, 1, 0) != UC_ERR_OK)
        return false;
    uc_err e = uc_emu_start(uc, CAL_CODE, CAL_CODE + sizeof code, 0, 1000);
    uc_hook_del(uc, h);
    if (e != UC_ERR_OK || r.bad || r.hits != 2 || r.vector[0] != 13 ||
        r.vector[1] != 13)
        return false;
    map->error_code = r.err_off;
    map->old_exception = r.old_off;
    return true;
}

void intc_uc__state_calibrate(uc_state_map *map)
{
    memset(map, 0, sizeof *map);
    uc_engine *uc = NULL;
    uc_context *ctx = NULL;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        return;
    size_t size = uc_context_size(uc);
    size_t data = 0;
    bool ok = uc_mem_map(uc, 0, 0x2000, UC_PROT_ALL) == UC_ERR_OK &&
              uc_context_alloc(uc, &ctx) == UC_ERR_OK &&
              cal_regs(uc, ctx, size, &data) &&
              cal_segs(uc, ctx, size, data, map) &&
              cal_errors(uc, ctx, size, map);
    /* Last: it leaves the engine in compatibility mode.  All or
       nothing: a map with one unchecked part is not used at all. */
    ok = ok && cal_far(uc, ctx, size, map);
    map->seg_load = ok;
    if (ctx)
        uc_context_free(ctx);
    uc_close(uc);
    map->size = size;
    map->ok = ok;
}

/* ------------------------------------------------------------------ */

intc_err intc_uc__state_attach(uc_cpu *c)
{
    c->state_ctx = NULL;
    if (!c->m->state.ok)
        return INTC_OK;
    if (uc_context_size(c->uc) != c->m->state.size)
        return INTC_OK; /* not the layout calibrated: the fallback */
    if (uc_context_alloc(c->uc, &c->state_ctx) != UC_ERR_OK) {
        c->state_ctx = NULL;
        return INTC_ERR_NOMEM;
    }
    return INTC_OK;
}

bool intc_uc__state_exception(uc_cpu *c, uint32_t *err)
{
    const uc_state_map *map = &c->m->state;
    if (!c->state_ctx || uc_context_save(c->uc, c->state_ctx) != UC_ERR_OK)
        return false;
    (void)u32_at(c->state_ctx, map->size, map->error_code, err);
    /* This library delivers the exception, so the delivery QEMU tracks
       is over: reset the tracking as QEMU's delivery would (else the
       next contributory fault or #PF would arrive as #DF). */
    int32_t none = -1, now = 0;
    memcpy(&now, (uint8_t *)c->state_ctx + map->old_exception, 4);
    if (now != none) {
        memcpy((uint8_t *)c->state_ctx + map->old_exception, &none, 4);
        uc_context_restore(c->uc, c->state_ctx);
    }
    return true;
}

bool intc_uc__state_seg_base(uc_cpu *c, unsigned which, uint64_t *base)
{
    const uc_state_map *map = &c->m->state;
    if (!c->state_ctx || uc_context_save(c->uc, c->state_ctx) != UC_ERR_OK)
        return false;
    return u64_at(c->state_ctx, map->size, map->seg_base[which], base);
}
