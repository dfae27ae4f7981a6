/*
 * libintc-uc — legacy protected mode: task switches through task gates
 * (Intel SDM vol. 3A 6.12.2 "Interrupt Tasks", 7.3 "Task Switching",
 * 7.4 "Task Linking", 7.2.1 the 32-bit TSS) and delivery from
 * virtual-8086 mode through a 32-bit interrupt or trap gate (20.3.1.1,
 * figure 20-5).
 *
 * Both load context that a UC_MODE_64 engine does not take by register
 * writes: a segment register written through the API gets its selector
 * only, the descriptor cache and the CPL stay (uc.h "Modes", F11).  What
 * Unicorn does implement is the task switch of an IRET executed with
 * EFLAGS.NT = 1 (F12): it reads the whole TSS that the current TSS's
 * previous-task link names, saves the current state into the current
 * TSS, clears the busy bit of the current TSS's descriptor, loads TR,
 * LDTR, CR3 (with paging on only), EFLAGS, EIP, the general registers
 * and the segment registers with their descriptors (CS's RPL becomes the
 * CPL), clears DR7's local enables and sets CR0.TS.  So this file checks
 * everything itself with the SDM's faults and then has the guest execute
 * one IRET in the byte of RAM at its CS:EIP, borrowed and put back at
 * once (realmode.c borrows RAM the same way for a far jump):
 *   - task gate: the old TSS's link names the new task for the IRET;
 *     then the state that IRET saved is replaced by the interrupted
 *     task's (EIP = the event's return address), the old link and the
 *     old descriptor are put back (the old task stays busy: nesting),
 *     the new task's link names the old one (7.4), EFLAGS.NT is set and
 *     the error code is pushed on the new task's stack;
 *   - virtual-8086 mode: the current TSS gets the handler's context
 *     (CS:EIP from the gate, SS0 and ESP0 below the frame, null data
 *     segments, cleared flags) and a link to itself; the TSS's bytes,
 *     its descriptor, TR, LDTR, CR0.TS and DR7 are put back afterwards
 *     and the frame is written on the ring-0 stack.
 * The IRET needs protected mode, so from virtual-8086 mode EFLAGS.VM is
 * cleared through the API first (F13: the CPU is then in protected mode
 * at CPL 3 with the virtual-8086 segment caches).  (SYSENTER, the other
 * instruction that leaves virtual-8086 mode without an IDT, is a no-op
 * in Unicorn 2.0.1.)
 *
 * Faults the SDM raises after the commit point of a task switch (an
 * invalid LDT, CS, SS or data segment in the new TSS, its EIP beyond the
 * CS limit: table 7-1 from "registers are loaded") are found by checks
 * made before the switch and raised there, in the old task, with the
 * SDM's vector and error code; the switch then does not happen.  The
 * error code push after the switch is architectural: #SS(EXT) in the new
 * task when it does not fit.
 */
#include <string.h>

#include "uc_priv.h"

#define TSS_SIZE 104u /* a 32-bit TSS (7.2.1, figure 7-2) */
#define TSS_LINK 0x00u
#define TSS_ESP0 0x04u
#define TSS_CR3 0x1cu
#define TSS_EIP 0x20u
#define TSS_EFLAGS 0x24u
#define TSS_GPR 0x28u /* EAX ECX EDX EBX ESP EBP ESI EDI */
#define TSS_SEG 0x48u /* ES CS SS DS FS GS, 4 bytes apart */
#define TSS_LDT 0x60u

#define FL_TF (1u << 8)
#define FL_IF (1u << 9)
#define FL_NT (1u << 14)
#define FL_RF (1u << 16)
#define FL_VM (1u << 17)

#define VEC_TS 10
#define VEC_NP 11
#define VEC_SS 12
#define VEC_GP 13
#define VEC_PF 14

/* Descriptor types, S bit included (3.4.5.1, 3.5). */
#define DT_LDT 0x02u
#define DT_TSS16 0x01u
#define DT_TSS32 0x09u
#define DT_BUSY 0x02u /* the B bit of a TSS type */

/* The TSS's segment register slots, in TSS order. */
enum { S_ES, S_CS, S_SS, S_DS, S_FS, S_GS, S_COUNT };

static uint64_t reg(uc_cpu *c, int id)
{
    uint64_t v = 0;
    uc_reg_read(c->uc, id, &v);
    return v;
}

static void set_reg(uc_cpu *c, int id, uint64_t v)
{
    uc_reg_write(c->uc, id, &v);
}

static int gpr_id(unsigned i)
{
    static const int id[8] = {UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX,
                              UC_X86_REG_RBX, UC_X86_REG_RSP, UC_X86_REG_RBP,
                              UC_X86_REG_RSI, UC_X86_REG_RDI};
    return id[i & 7];
}

static int seg_id(unsigned i)
{
    static const int id[S_COUNT] = {UC_X86_REG_ES, UC_X86_REG_CS,
                                    UC_X86_REG_SS, UC_X86_REG_DS,
                                    UC_X86_REG_FS, UC_X86_REG_GS};
    return id[i % S_COUNT];
}

static uint32_t get16(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t get32(const uint8_t *b)
{
    return get16(b) | get16(b + 2) << 16;
}

static void put16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *b, uint32_t v)
{
    put16(b, v);
    put16(b + 2, v >> 16);
}


static bool unsupported(intc_uc_fault *f, unsigned why)
{
    f->unsupported = why;
    return false;
}

/* A linear range of at most 4 KiB translated once (two pieces when it
   crosses a page), so that it can be written after a task switch
   changed CR3.  Each piece lies in RAM: intc_uc__translate answers for
   a page's first byte and RAM ends on a page boundary. */
typedef struct span {
    uint64_t gpa[2];
    size_t n0, n;
} span;

static bool span_at(uc_cpu *c, uint64_t la, size_t n, span *s);

/* The fault of a span that did not translate: a #PF with CR2, or the
   stop for memory that is not RAM (deliver.c, uc.h "Delivery"). */
static bool span_fault(uc_cpu *c, uint64_t la, size_t n, bool write,
                       intc_uc_fault *f)
{
    return intc_uc__lin_fault(c, la, n, write, f);
}

static bool span_at(uc_cpu *c, uint64_t la, size_t n, span *s)
{
    size_t k = 0x1000 - (size_t)(la & 0xfff);
    s->n = n;
    s->n0 = k < n ? k : n;
    s->gpa[1] = 0;
    return intc_uc__translate(c, la, true, &s->gpa[0]) &&
           (s->n0 == n || intc_uc__translate(c, la + s->n0, true, &s->gpa[1]));
}

/* The RAM byte at offset i of the range. */
static uint8_t *span_byte(uc_cpu *c, const span *s, size_t i)
{
    return c->m->ram + (i < s->n0 ? s->gpa[0] + i : s->gpa[1] + (i - s->n0));
}

static void span_read(uc_cpu *c, const span *s, uint8_t *buf)
{
    for (size_t i = 0; i < s->n; i++)
        buf[i] = *span_byte(c, s, i);
}

/* Write len bytes at offset off of the range. */
static void span_put(uc_cpu *c, const span *s, size_t off, const uint8_t *buf,
                     size_t len)
{
    for (size_t i = off; i < off + len && i < s->n; i++)
        *span_byte(c, s, i) = buf[i - off];
}

static void span_write(uc_cpu *c, const span *s, const uint8_t *buf)
{
    span_put(c, s, 0, buf, s->n);
}

/* ------------------------------------------------------------------ */
/* Descriptors (3.4.5)                                                 */

typedef struct dtable {
    uint64_t base;
    uint32_t limit;
} dtable;

/* The GDT (GDTR) or the current LDT (LDTR's cached base and limit; a
   null LDTR has limit 0, so no TI = 1 selector fits). */
static dtable table_of(uc_cpu *c, int id)
{
    uc_x86_mmr r;
    memset(&r, 0, sizeof r);
    uc_reg_read(c->uc, id, &r);
    dtable t = {r.base, r.limit};
    return t;
}

/* The descriptor sel names, in ldt when its TI bit is set; false with
   vec(err) if it lies beyond the table's limit, or with the #PF (CR2)
   or stop of an entry whose address does not translate. */
static bool desc(uc_cpu *c, dtable gdt, dtable ldt, uint32_t sel, uint64_t *d,
                 intc_uc_fault *f, uint8_t vec, uint32_t err)
{
    dtable t = (sel & 4) ? ldt : gdt;
    span s;
    uint8_t b[8];
    if ((uint64_t)(sel | 7u) > t.limit)
        return intc_uc__fault(f, vec, err);
    uint64_t la = (t.base + (sel & 0xfff8u)) & 0xffffffffu;
    if (!span_at(c, la, 8, &s))
        return span_fault(c, la, 8, false, f);
    span_read(c, &s, b);
    *d = get32(b) | (uint64_t)get32(b + 4) << 32;
    return true;
}

static unsigned d_type(uint64_t d) /* S and type */
{
    return (unsigned)(d >> 40) & 0x1f;
}

static unsigned d_dpl(uint64_t d)
{
    return (unsigned)(d >> 45) & 3;
}

static bool d_present(uint64_t d)
{
    return (d >> 47) & 1;
}

static uint32_t d_base(uint64_t d)
{
    return (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 56) << 24));
}

static uint32_t d_limit(uint64_t d)
{
    uint32_t l = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    return ((d >> 55) & 1) ? (l << 12) | 0xfff : l; /* G: 4 KiB units */
}

static bool is_code(uint64_t d)
{
    return (d_type(d) & 0x18) == 0x18;
}

static bool is_data(uint64_t d)
{
    return (d_type(d) & 0x18) == 0x10;
}

/* Whether the n bytes at offsets top .. top + n - 1 fit the stack
   segment d without wrapping: up to the limit when it expands up, above
   it (up to 4 GiB, or 64 KiB when B = 0) when it expands down
   (3.4.5.1). */
static bool stack_fits(uint64_t d, uint32_t top, uint32_t n)
{
    uint64_t end = (uint64_t)top + n - 1;
    if (d_type(d) & 4)
        return top > d_limit(d) &&
               end <= (((d >> 54) & 1) ? 0xffffffffull : 0xffffull);
    return end <= d_limit(d);
}

/* ------------------------------------------------------------------ */
/* The borrowed IRET                                                   */

/* Where the guest executes the IRET: its CS:EIP (virtual-8086 mode:
   CS << 4, else flat code, uc.h), in RAM. */
typedef struct site {
    uint64_t ip, lin, gpa;
} site;

static bool site_here(uc_cpu *c, site *s)
{
    s->ip = reg(c, UC_X86_REG_RIP) & 0xffffffffu;
    s->lin = intc_uc__cs_base(c, 0) + s->ip;
    return intc_uc__translate(c, s->lin, true, &s->gpa);
}

/* Execute one IRET (CF) at s with EFLAGS.NT = 1 (F12), VM, TF and RF
   clear (F13; no debug trap after it): the block hook lets that one
   block run, uncounted, and stops at the next (uc.c); the byte is put
   back and its translation dropped as the old task sees it
   (intc_uc__run_borrowed).  false if Unicorn raised an exception
   inside. */
static bool run_iret(uc_cpu *c, const site *s)
{
    static const uint8_t iret = 0xcf;
    uint64_t fl = reg(c, UC_X86_REG_RFLAGS);
    set_reg(c, UC_X86_REG_RFLAGS,
            (fl & ~(uint64_t)(FL_VM | FL_TF | FL_RF)) | FL_NT);
    return intc_uc__run_borrowed(c, s->lin, s->gpa, s->ip, &iret, 1);
}

/* ------------------------------------------------------------------ */
/* Task gates (6.12.2, 7.3)                                            */

typedef struct task {
    dtable gdt;
    uint16_t sel; /* the new task's TSS selector (from the gate) */
    uint32_t ext;
    uc_x86_mmr tr; /* the old task's TR */
    span old_tss, new_tss, old_slot, new_slot;
    uint8_t old_img[TSS_SIZE]; /* the old TSS as the switch leaves it */
    uint8_t new_img[TSS_SIZE]; /* the new TSS as read */
    uint8_t old_desc[8], new_desc[8];
} task;

/* The new task's TSS descriptor and TSS (7.3 steps 1-4, table 7-1; INT
   n's TASK-GATE): an available 32-bit TSS in the GDT, present, limit
   at least 67H; false with #GP, #NP or #TS(selector). */
static bool new_tss(uc_cpu *c, task *t, intc_uc_fault *f)
{
    uint32_t e = (t->sel & 0xfffcu) | t->ext;
    if ((t->sel & 4) || (uint64_t)(t->sel | 7u) > t->gdt.limit)
        return intc_uc__fault(f, VEC_GP, e);
    uint64_t slot = (t->gdt.base + (t->sel & 0xfff8u)) & 0xffffffffu;
    if (!span_at(c, slot, 8, &t->new_slot))
        return span_fault(c, slot, 8, false, f);
    span_read(c, &t->new_slot, t->new_desc);
    uint64_t d = get32(t->new_desc) | (uint64_t)get32(t->new_desc + 4) << 32;
    if (d_type(d) == DT_TSS16) /* a 16-bit task: not emulated */
        return unsupported(f, INTC_UC_UNSUP_GATE);
    if (d_type(d) != DT_TSS32) /* busy, or not a TSS */
        return intc_uc__fault(f, VEC_GP, e);
    if (!d_present(d))
        return intc_uc__fault(f, VEC_NP, e);
    if (d_limit(d) < TSS_SIZE - 1)
        return intc_uc__fault(f, VEC_TS, e);
    if (!span_at(c, d_base(d), TSS_SIZE, &t->new_tss))
        return span_fault(c, d_base(d), TSS_SIZE, false, f);
    span_read(c, &t->new_tss, t->new_img);
    return true;
}

/* The old task's TSS (TR), where its state goes: a 32-bit TSS of at
   least 68H bytes (#TS(TR selector) otherwise, as a task switch checks
   the old TSS's limit before saving into it). */
static bool old_tss(uc_cpu *c, task *t, intc_uc_fault *f)
{
    memset(&t->tr, 0, sizeof t->tr);
    uc_reg_read(c->uc, UC_X86_REG_TR, &t->tr);
    uint32_t s = t->tr.selector;
    if (t->tr.limit < TSS_SIZE - 1) /* a null TR too */
        return intc_uc__fault(f, VEC_TS, (s & 0xfffcu) | t->ext);
    if (!((t->tr.flags >> 8) & 8)) /* TR's type (F12): a 16-bit TSS */
        return unsupported(f, INTC_UC_UNSUP_GATE);
    if ((s & 4) || (uint64_t)(s | 7u) > t->gdt.limit ||
        !span_at(c, (t->gdt.base + (s & 0xfff8u)) & 0xffffffffu, 8,
                 &t->old_slot))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    if (!span_at(c, t->tr.base, TSS_SIZE, &t->old_tss))
        return span_fault(c, t->tr.base, TSS_SIZE, true, f);
    span_read(c, &t->old_slot, t->old_desc);
    span_read(c, &t->old_tss, t->old_img);
    return true;
}

/* Segment register r of the new task loading sel at CPL cpl (table
   7-1): CS code with DPL = RPL (conforming: DPL <= RPL), SS writable
   data with DPL = RPL = CPL, the others null, data or readable code
   with DPL >= CPL and RPL (conforming code: any DPL); present.  false
   with #TS, #NP or #SS(selector). */
static bool task_seg(uc_cpu *c, dtable gdt, dtable ldt, unsigned r,
                     uint32_t sel, unsigned cpl, uint32_t ext, uint64_t *d,
                     intc_uc_fault *f)
{
    uint32_t e = (sel & 0xfffcu) | ext;
    unsigned rpl = sel & 3;
    *d = 0;
    if ((sel & 0xfffc) == 0)
        return (r != S_CS && r != S_SS) || intc_uc__fault(f, VEC_TS, e);
    if (!desc(c, gdt, ldt, sel, d, f, VEC_TS, e))
        return false;
    unsigned t = d_type(*d), dpl = d_dpl(*d);
    bool conforming = is_code(*d) && (t & 4), ok;
    if (r == S_CS)
        ok = is_code(*d) && (conforming ? dpl <= rpl : dpl == rpl);
    else if (r == S_SS)
        ok = is_data(*d) && (t & 2) && dpl == cpl && rpl == cpl;
    else
        ok = (is_data(*d) || (is_code(*d) && (t & 2))) &&
             (conforming || (dpl >= cpl && dpl >= rpl));
    if (!ok)
        return intc_uc__fault(f, VEC_TS, e);
    if (!d_present(*d))
        return intc_uc__fault(f, r == S_SS ? VEC_SS : VEC_NP, e);
    return true;
}

/* What the SDM checks after the commit point (table 7-1 from "registers
   are loaded"; INT n's TASK-GATE: EIP within CS), checked here before
   the switch: the LDT (#TS), CS, SS, ES, DS, FS, GS in that order
   (task_seg), EIP.  A virtual-8086 task (EFLAGS.VM in its TSS) loads
   real-mode style segments: only its EIP within 64 KiB is checked. */
static bool new_state(uc_cpu *c, const task *t, intc_uc_fault *f)
{
    const uint8_t *n = t->new_img;
    uint32_t ldt_sel = get16(n + TSS_LDT);
    dtable none = {0, 0}, ldt = none;
    uint64_t d = 0, cs = 0;
    if (ldt_sel & 0xfffc) {
        uint32_t le_ = (ldt_sel & 0xfffcu) | t->ext;
        if (ldt_sel & 4)
            return intc_uc__fault(f, VEC_TS, le_);
        if (!desc(c, t->gdt, none, ldt_sel, &d, f, VEC_TS, le_))
            return false;
        if (d_type(d) != DT_LDT || !d_present(d))
            return intc_uc__fault(f, VEC_TS, le_);
        ldt.base = d_base(d);
        ldt.limit = d_limit(d);
    } else if (ldt_sel & 4) {
        return intc_uc__fault(f, VEC_TS, t->ext);
    }
    uint32_t eip = get32(n + TSS_EIP);
    if (get32(n + TSS_EFLAGS) & FL_VM)
        return eip <= 0xffff || intc_uc__fault(f, VEC_GP, t->ext);
    static const unsigned order[S_COUNT] = {S_CS, S_SS, S_ES, S_DS, S_FS, S_GS};
    unsigned cpl = get16(n + TSS_SEG + 4 * S_CS) & 3;
    for (unsigned i = 0; i < S_COUNT; i++) {
        unsigned r = order[i];
        if (!task_seg(c, t->gdt, ldt, r, get16(n + TSS_SEG + 4 * r), cpl,
                      t->ext, r == S_CS ? &cs : &d, f))
            return false;
    }
    return eip <= d_limit(cs) || intc_uc__fault(f, VEC_GP, t->ext);
}

/* The old task's state as the switch leaves it in its TSS (7.3 step 8;
   7.2.1): EIP = the event's return address, EFLAGS as they are (NT
   unchanged for an interrupt, step 7), the general registers and the
   segment selectors (16-bit stores: the upper halves are reserved). */
static void save_old(uc_cpu *c, task *t, uint64_t rip)
{
    uint8_t *o = t->old_img;
    put32(o + TSS_EIP, (uint32_t)rip);
    put32(o + TSS_EFLAGS, (uint32_t)reg(c, UC_X86_REG_RFLAGS));
    for (unsigned i = 0; i < 8; i++)
        put32(o + TSS_GPR + 4 * i, (uint32_t)reg(c, gpr_id(i)));
    for (unsigned i = 0; i < S_COUNT; i++)
        put16(o + TSS_SEG + 4 * i, (uint32_t)reg(c, seg_id(i)));
}

/* The switch (7.3 steps 5-14, 7.4): the new descriptor busy, the IRET
   (F12) with the old TSS's link naming the new task; then the old TSS
   as save_old made it (its link put back), the old descriptor as it
   was (still busy: the old task is nested), the new task's link to the
   old one.  false when the IRET did not reach the new task. */
static bool commit(uc_cpu *c, task *t, const site *s)
{
    uint8_t busy[8], link[TSS_SIZE], back[2];
    memcpy(busy, t->new_desc, sizeof busy);
    busy[5] |= DT_BUSY;
    memcpy(link, t->old_img, sizeof link);
    put16(link + TSS_LINK, t->sel);
    span_write(c, &t->old_tss, link);
    span_write(c, &t->new_slot, busy);
    bool ok = run_iret(c, s);
    span_write(c, &t->old_tss, t->old_img);
    span_write(c, &t->old_slot, t->old_desc);
    span_write(c, &t->new_slot, busy); /* the same slot when both are */
    put16(back, t->tr.selector);
    span_put(c, &t->new_tss, TSS_LINK, back, sizeof back);
    uc_x86_mmr tr;
    memset(&tr, 0, sizeof tr);
    uc_reg_read(c->uc, UC_X86_REG_TR, &tr);
    return ok && ((tr.selector ^ t->sel) & 0xfff8) == 0 &&
           (reg(c, UC_X86_REG_RIP) & 0xffffffffu) ==
               get32(t->new_img + TSS_EIP);
}

/* Push the error code on the new task's stack, after the switch (INT
   n's TASK-GATE); #SS(EXT) in the new task when it does not fit. */
static bool push_err(uc_cpu *c, uint32_t err, uint32_t ext, intc_uc_fault *f)
{
    uint32_t sel = (uint32_t)reg(c, UC_X86_REG_SS) & 0xffff;
    uint32_t esp = (uint32_t)reg(c, UC_X86_REG_RSP) - 4;
    uint64_t d = 0, base;
    span s;
    uint8_t b[4];
    if (reg(c, UC_X86_REG_RFLAGS) & FL_VM) { /* 64 KiB at SS << 4 */
        base = (uint64_t)sel << 4;
        if (esp > 0xfffc)
            return intc_uc__fault(f, VEC_SS, ext);
    } else {
        if (!desc(c, table_of(c, UC_X86_REG_GDTR),
                  table_of(c, UC_X86_REG_LDTR), sel, &d, f, VEC_SS, ext))
            return false;
        if (!stack_fits(d, esp, 4))
            return intc_uc__fault(f, VEC_SS, ext);
        base = d_base(d);
    }
    if (!span_at(c, (base + esp) & 0xffffffffu, 4, &s))
        return span_fault(c, (base + esp) & 0xffffffffu, 4, true, f);
    put32(b, err);
    span_write(c, &s, b);
    set_reg(c, UC_X86_REG_RSP, esp);
    return true;
}

bool intc_uc__task_gate(uc_cpu *c, uint16_t tss_sel, uint32_t ext, bool has_err,
                        uint32_t err, uint64_t rip, intc_uc_fault *f)
{
    task t;
    site s;
    memset(&t, 0, sizeof t);
    t.gdt = table_of(c, UC_X86_REG_GDTR);
    t.sel = tss_sel;
    t.ext = ext;
    if (!new_tss(c, &t, f) || !old_tss(c, &t, f) || !new_state(c, &t, f))
        return false;
    if (!site_here(c, &s))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    save_old(c, &t, rip);
    if (!commit(c, &t, &s))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    /* 7.3 step 9: NT set in the new task's EFLAGS (an interrupt). */
    set_reg(c, UC_X86_REG_RFLAGS, reg(c, UC_X86_REG_RFLAGS) | FL_NT);
    return !has_err || push_err(c, err, ext, f);
}

/* ------------------------------------------------------------------ */
/* Virtual-8086 mode (20.3.1.1)                                        */

/* The gate's code segment: present, nonconforming, DPL 0 (INT n,
   "IF VM = 1 ... code-segment DPL != 0: #GP(selector)"; a conforming or
   DPL 3 segment is #GP(selector) too). */
static bool v86_code(uc_cpu *c, dtable gdt, dtable ldt, uint32_t sel,
                     uint32_t ext, uint64_t *d, intc_uc_fault *f)
{
    uint32_t e = (sel & 0xfffcu) | ext;
    if ((sel & 0xfffc) == 0)
        return intc_uc__fault(f, VEC_GP, ext);
    if (!desc(c, gdt, ldt, sel, d, f, VEC_GP, e))
        return false;
    if (!is_code(*d))
        return intc_uc__fault(f, VEC_GP, e);
    if (!d_present(*d))
        return intc_uc__fault(f, VEC_NP, e);
    if ((d_type(*d) & 4) || d_dpl(*d) != 0)
        return intc_uc__fault(f, VEC_GP, e);
    return true;
}

/* SS0:ESP0 of the current 32-bit TSS and room for n bytes below ESP0
   (INT n, INTERRUPT-FROM-VIRTUAL-8086-MODE): *ss0, *top (the new ESP)
   and the frame's range; false with #TS or #SS. */
static bool v86_stack(uc_cpu *c, dtable gdt, dtable ldt, uint32_t ext,
                      uint32_t n, uint32_t *ss0, uint32_t *top, span *frame,
                      intc_uc_fault *f)
{
    uc_x86_mmr tr;
    memset(&tr, 0, sizeof tr);
    uc_reg_read(c->uc, UC_X86_REG_TR, &tr);
    if (tr.limit < 9)
        return intc_uc__fault(f, VEC_TS, (tr.selector & 0xfffcu) | ext);
    if (!((tr.flags >> 8) & 8)) /* a 16-bit TSS (F12) */
        return unsupported(f, INTC_UC_UNSUP_MODE);
    span s;
    uint8_t b[6];
    if (!span_at(c, tr.base + TSS_ESP0, sizeof b, &s))
        return span_fault(c, tr.base + TSS_ESP0, sizeof b, false, f);
    span_read(c, &s, b);
    uint32_t esp0 = get32(b);
    uint64_t d = 0;
    *ss0 = get16(b + 4);
    uint32_t e = (*ss0 & 0xfffcu) | ext;
    if ((*ss0 & 0xfffc) == 0)
        return intc_uc__fault(f, VEC_TS, ext);
    if ((*ss0 & 3) != 0)
        return intc_uc__fault(f, VEC_TS, e);
    if (!desc(c, gdt, ldt, *ss0, &d, f, VEC_TS, e))
        return false;
    if (d_dpl(d) != 0 || !is_data(d) || !(d_type(d) & 2))
        return intc_uc__fault(f, VEC_TS, e);
    if (!d_present(d))
        return intc_uc__fault(f, VEC_SS, e);
    *top = esp0 - n;
    if (!stack_fits(d, *top, n))
        return intc_uc__fault(f, VEC_SS, e);
    uint64_t la = ((uint64_t)d_base(d) + *top) & 0xffffffffu;
    if (!span_at(c, la, n, frame))
        return span_fault(c, la, n, true, f);
    return true;
}

/* The frame of figure 20-5, lowest address first: [error code,] EIP,
   CS, EFLAGS (VM = 1), ESP, SS, ES, DS, FS, GS, 4 bytes each (the
   selectors zero-extended).  Returns its size. */
static uint32_t v86_frame(uc_cpu *c, uint8_t out[40], bool has_err,
                          uint32_t err, uint64_t rip)
{
    static const int after[8] = {
        UC_X86_REG_CS, UC_X86_REG_RFLAGS, UC_X86_REG_RSP, UC_X86_REG_SS,
        UC_X86_REG_ES, UC_X86_REG_DS,     UC_X86_REG_FS,  UC_X86_REG_GS};
    uint32_t n = 0;
    if (has_err)
        put32(out + 4 * n++, err);
    put32(out + 4 * n++, (uint32_t)rip);
    for (unsigned i = 0; i < 8; i++) {
        uint64_t v = reg(c, after[i]);
        bool selector = i != 1 && i != 2;
        put32(out + 4 * n++, selector ? (uint32_t)(v & 0xffff) : (uint32_t)v);
    }
    return 4 * n;
}

/* Load the context in img (the fields a task switch loads from a 32-bit
   TSS, 7.2.1; CS's RPL is the new CPL) by a task switch of the current
   task to itself (F12: the new TSS is read whole before the current
   state is saved into it).  Put back afterwards: the TSS's bytes, its
   GDT descriptor, TR, LDTR, CR0 (TS) and DR7 (local enables), none of
   which an interrupt changes. */
static bool self_switch(uc_cpu *c, uint8_t img[TSS_SIZE], const site *s,
                        intc_uc_fault *f)
{
    uc_x86_mmr tr, ldtr;
    memset(&tr, 0, sizeof tr);
    memset(&ldtr, 0, sizeof ldtr);
    uc_reg_read(c->uc, UC_X86_REG_TR, &tr);
    uc_reg_read(c->uc, UC_X86_REG_LDTR, &ldtr);
    dtable gdt = table_of(c, UC_X86_REG_GDTR);
    uint32_t sel = tr.selector;
    span tss, slot;
    if ((sel & 0xfffc) == 0 || (sel & 4) || (uint64_t)(sel | 7u) > gdt.limit ||
        !span_at(c, (gdt.base + (sel & 0xfff8u)) & 0xffffffffu, 8, &slot) ||
        !span_at(c, tr.base, TSS_SIZE, &tss))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    uint8_t old[TSS_SIZE], old_desc[8];
    span_read(c, &tss, old);
    span_read(c, &slot, old_desc);
    /* A busy 32-bit TSS at TR's base, 68H bytes, DPL 0, present. */
    uint32_t base = (uint32_t)tr.base;
    const uint8_t busy[8] = {TSS_SIZE - 1,
                             0,
                             (uint8_t)base,
                             (uint8_t)(base >> 8),
                             (uint8_t)(base >> 16),
                             0x80 | DT_TSS32 | DT_BUSY,
                             0,
                             (uint8_t)(base >> 24)};
    uc_x86_mmr t2 = tr;
    t2.limit = tr.limit < TSS_SIZE - 1 ? TSS_SIZE - 1 : tr.limit;
    t2.flags = get32(busy + 4);
    uint64_t cr0 = reg(c, UC_X86_REG_CR0), dr7 = reg(c, UC_X86_REG_DR7);
    put16(img + TSS_LINK, sel);
    span_write(c, &tss, img);
    span_write(c, &slot, busy);
    uc_reg_write(c->uc, UC_X86_REG_TR, &t2);
    bool ok = run_iret(c, s);
    span_write(c, &tss, old);
    span_write(c, &slot, old_desc);
    uc_reg_write(c->uc, UC_X86_REG_TR, &tr);
    uc_reg_write(c->uc, UC_X86_REG_LDTR, &ldtr);
    set_reg(c, UC_X86_REG_CR0, cr0);
    set_reg(c, UC_X86_REG_DR7, dr7);
    if (!ok || (reg(c, UC_X86_REG_RIP) & 0xffffffffu) != get32(img + TSS_EIP) ||
        (reg(c, UC_X86_REG_CS) & 0xffff) != get16(img + TSS_SEG + 4 * S_CS))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    return true;
}

/* The handler's context (20.3.1.1): CS:EIP from the gate with CPL 0,
   SS0:top, ES, DS, FS, GS null, EFLAGS with VM, TF, RF, NT clear (and
   IF for an interrupt gate, type 0xE), the general registers as they
   are (ESP = top), CR3 as it is, the LDT as it is when CS or SS0 is in
   it (else null: put back by self_switch). */
static void v86_image(uc_cpu *c, uint8_t img[TSS_SIZE], unsigned type,
                      uint32_t sel, uint32_t target, uint32_t ss0, uint32_t top)
{
    uc_x86_mmr ldtr;
    memset(&ldtr, 0, sizeof ldtr);
    uc_reg_read(c->uc, UC_X86_REG_LDTR, &ldtr);
    uint32_t fl =
        (uint32_t)reg(c, UC_X86_REG_RFLAGS) & ~(FL_VM | FL_TF | FL_RF | FL_NT);
    if (type == 0x0e)
        fl &= ~FL_IF;
    memset(img, 0, TSS_SIZE);
    put32(img + TSS_CR3, (uint32_t)reg(c, UC_X86_REG_CR3));
    put32(img + TSS_EIP, target);
    put32(img + TSS_EFLAGS, fl);
    for (unsigned i = 0; i < 8; i++)
        put32(img + TSS_GPR + 4 * i, (uint32_t)reg(c, gpr_id(i)));
    put32(img + TSS_GPR + 4 * 4, top); /* ESP */
    put16(img + TSS_SEG + 4 * S_CS, sel & 0xfffcu);
    put16(img + TSS_SEG + 4 * S_SS, ss0);
    if ((sel | ss0) & 4)
        put16(img + TSS_LDT, ldtr.selector);
}

bool intc_uc__deliver_v86(uc_cpu *c, unsigned type, uint16_t sel,
                          uint32_t target, uint32_t ext, bool has_err,
                          uint32_t err, uint64_t rip, intc_uc_fault *f)
{
    dtable gdt = table_of(c, UC_X86_REG_GDTR);
    dtable ldt = table_of(c, UC_X86_REG_LDTR);
    uint64_t cd = 0;
    uint32_t ss0 = 0, top = 0;
    uint8_t frame[40], img[TSS_SIZE];
    uint32_t n = v86_frame(c, frame, has_err, err, rip);
    span room;
    site s;
    if (!v86_code(c, gdt, ldt, sel, ext, &cd, f) ||
        !v86_stack(c, gdt, ldt, ext, n, &ss0, &top, &room, f))
        return false;
    if (target > d_limit(cd))
        return intc_uc__fault(f, VEC_GP, ext);
    if (!site_here(c, &s))
        return unsupported(f, INTC_UC_UNSUP_MODE);
    v86_image(c, img, type, sel, target, ss0, top);
    if (!self_switch(c, img, &s, f))
        return false;
    span_write(c, &room, frame);
    return true;
}
