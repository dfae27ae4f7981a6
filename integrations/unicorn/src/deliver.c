/*
 * libintc-uc — delivery of interrupts and exceptions through the guest's
 * IDT, which Unicorn never does itself.  Intel SDM vol. 3A ch. 6: 6.12
 * (exception and interrupt handling), 6.13 (error code), 6.14 (64-bit
 * mode: 16-byte gates, IST, stack alignment, the frame always pushes
 * SS:RSP; compatibility mode included), 6.11-6.12.1 (legacy protected
 * mode: 8-byte gates, 32-bit frame, TSS stack switch), 20.1.4 (real-
 * address mode: the IVT, a 16-bit frame; the CS base through a
 * guest-executed far jump, realmode.c).  Runs between slices only, so it
 * may write RIP (corruption 2 of the Unicorn notes concerns hooks).
 */
#include <string.h>

#include "uc_priv.h"

#define CR0_PE 1ull
#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define EFER_LMA (1ull << 10)
#define PTE_P 1ull
#define PTE_PS (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define RFLAGS_VM (1ull << 17)

#define VEC_DF 8
#define VEC_TS 10
#define VEC_NP 11
#define VEC_SS 12
#define VEC_GP 13
#define VEC_PF 14

bool intc_uc__has_error_code(uint8_t v)
{
    /* SDM table 6-1: #DF, #TS, #NP, #SS, #GP, #PF, #AC, #CP. */
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

static uint64_t reg(uc_cpu *c, int id)
{
    uint64_t v = 0;
    uc_reg_read(c->uc, id, &v);
    return v;
}

static uint64_t efer(uc_cpu *c)
{
    uc_x86_msr msr = {.rid = 0xc0000080u, .value = 0};
    uc_reg_read(c->uc, UC_X86_REG_MSR, &msr);
    return msr.value;
}

/* An entry of n bytes (4 or 8) of a paging structure at guest physical
   address gpa, little-endian; false unless it lies wholly in RAM (page
   tables are guest input: a wild CR3 or entry only fails the walk). */
static bool ram_entry(const uint8_t *ram, uint64_t ram_size, uint64_t gpa,
                      unsigned n, uint64_t *out)
{
    if (gpa > ram_size || ram_size - gpa < n)
        return false;
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | ram[gpa + i];
    *out = v;
    return true;
}

/* 32-bit paging (SDM vol. 3A 4.3): CR3[31:12] locates the page
   directory.  The PDE of linear bits 31:22 maps a 4 MiB page when
   CR4.PSE = 1 and PDE.PS = 1 (table 4-4: physical bits 31:22 from PDE
   bits 31:22 and, PSE-36, bits 39:32 from PDE bits 20:13), else it
   locates the page table whose PTE of bits 21:12 maps a 4 KiB page
   (table 4-6).  4-byte entries; the linear address has 32 bits (higher
   ones are ignored: an access that wraps past 4 GiB walks from 0). */
static bool walk_32(const uint8_t *ram, uint64_t ram_size, uint64_t cr3,
                    bool pse, uint64_t la, uint64_t *pa)
{
    uint64_t pde, pte;
    uint64_t at = (cr3 & 0xfffff000u) + ((la >> 22) & 0x3ff) * 4;
    if (!ram_entry(ram, ram_size, at, 4, &pde) || !(pde & PTE_P))
        return false;
    if (pse && (pde & PTE_PS)) {
        *pa =
            (pde & 0xffc00000u) | ((pde & 0x1fe000u) << 19) | (la & 0x3fffffu);
        return true;
    }
    at = (pde & 0xfffff000u) + ((la >> 12) & 0x3ff) * 4;
    if (!ram_entry(ram, ram_size, at, 4, &pte) || !(pte & PTE_P))
        return false;
    *pa = (pte & 0xfffff000u) | (la & 0xfff);
    return true;
}

/* PAE paging (SDM 4.4) and 4-level paging (4.5): 8-byte entries, 9
   linear-address bits a level.  4-level: CR3[51:12] locates the PML4
   (linear bits 47:39), then the PDPT (38:30; PS: a 1 GiB page), the
   page directory (29:21; PS: a 2 MiB page) and the page table (20:12;
   a 4 KiB page).  PAE: CR3[31:5] locates the four PDPTEs of linear bits
   31:30 (4.4.1; no page size bit there), then the page directory and
   the page table as above; the linear address has 32 bits.  The PDPTEs
   are read from memory at each walk, as QEMU does, not kept from the
   last CR3 load as 4.4.1 says the processor does. */
static bool walk_64(const uint8_t *ram, uint64_t ram_size, uint64_t cr3,
                    bool pae, uint64_t la, uint64_t *pa)
{
    static const unsigned shift[4] = {39, 30, 21, 12};
    uint64_t table = pae ? cr3 & 0xffffffe0u : cr3 & PTE_ADDR;
    if (pae)
        la &= 0xffffffffu;
    for (unsigned lvl = pae ? 1 : 0; lvl < 4; lvl++) {
        uint64_t e;
        uint64_t at = table + ((la >> shift[lvl]) & 511) * 8;
        if (!ram_entry(ram, ram_size, at, 8, &e) || !(e & PTE_P))
            return false;
        bool big = (e & PTE_PS) && (lvl == 2 || (lvl == 1 && !pae));
        if (lvl == 3 || big) {
            uint64_t off = (1ull << shift[lvl]) - 1;
            *pa = (e & PTE_ADDR & ~off) | (la & off);
            return true;
        }
        table = e & PTE_ADDR;
    }
    return false; /* not reached: level 3 ends every walk */
}

bool intc_uc__walk(const uint8_t *ram, uint64_t ram_size,
                   const intc_uc_paging *pg, uint64_t la, uint64_t *pa)
{
    switch (pg->mode) {
    case INTC_UC_PAGING_NONE:
        *pa = la;
        return true;
    case INTC_UC_PAGING_32:
        return walk_32(ram, ram_size, pg->cr3, pg->pse, la, pa);
    case INTC_UC_PAGING_PAE:
        return walk_64(ram, ram_size, pg->cr3, true, la, pa);
    case INTC_UC_PAGING_4LEVEL:
        return walk_64(ram, ram_size, pg->cr3, false, la, pa);
    default:
        return false;
    }
}

/* Why a translation failed: the walk (a not-present entry, or a paging
   structure outside RAM), or the page it reaches is not RAM. */
enum { XL_OK, XL_NOT_PRESENT, XL_NOT_RAM };

static int xlate(uc_cpu *c, uint64_t la, uint64_t *gpa)
{
    intc_uc *m = c->m;
    /* The paging mode (SDM 4.1.1, table 4-1) from CR0.PG, CR4.PAE and
       EFER.LMA, each register read only if the mode needs it. */
    intc_uc_paging pg = {INTC_UC_PAGING_NONE, false, 0};
    if (reg(c, UC_X86_REG_CR0) & CR0_PG) {
        uint64_t cr4 = reg(c, UC_X86_REG_CR4);
        if (!(cr4 & CR4_PAE))
            pg.mode = INTC_UC_PAGING_32;
        else if (efer(c) & EFER_LMA)
            pg.mode = INTC_UC_PAGING_4LEVEL;
        else
            pg.mode = INTC_UC_PAGING_PAE;
        pg.pse = (cr4 & CR4_PSE) != 0;
        pg.cr3 = reg(c, UC_X86_REG_CR3);
    }
    uint64_t pa;
    if (!intc_uc__walk(m->ram, m->ram_size, &pg, la, &pa))
        return XL_NOT_PRESENT;
    if (pa >= m->ram_size)
        return XL_NOT_RAM;
    *gpa = pa;
    return XL_OK;
}

bool intc_uc__translate(uc_cpu *c, uint64_t la, bool write, uint64_t *gpa)
{
    (void)write; /* protection bits are not checked (CPL 0 firmware) */
    return xlate(c, la, gpa) == XL_OK;
}

/* A fault of the delivery itself: vector and error code (uc_priv.h). */
typedef intc_uc_fault dfault;


/* An access of the delivery (to the IDT, GDT, TSS or the new stack)
   that failed at la: a #PF with CR2 = la (SDM 4.7: P = 0, W/R as the
   access, U/S = 0, since the processor's accesses to these structures
   are supervisor-mode accesses whatever the CPL, 4.6), or, when the page
   is not RAM, the stop a guest access to it would be (uc.h memory map). */
static bool lin_fail(dfault *f, int why, uint64_t la, bool write)
{
    if (!f)
        return false;
    intc_uc__fault(f, VEC_PF, write ? 2u : 0u);
    if (why == XL_NOT_RAM) {
        f->unmapped = write ? UC_ERR_WRITE_UNMAPPED : UC_ERR_READ_UNMAPPED;
        return false;
    }
    f->has_cr2 = true;
    f->cr2 = la;
    return false;
}

bool intc_uc__lin_fault(uc_cpu *c, uint64_t la, size_t n, bool write,
                        intc_uc_fault *f)
{
    uint64_t gpa;
    for (uint64_t a = la; a < la + n; a = (a | 0xfff) + 1) {
        int why = xlate(c, a, &gpa);
        if (why != XL_OK)
            return lin_fail(f, why, a, write);
    }
    return lin_fail(f, XL_NOT_PRESENT, la, write); /* not reached */
}

/* Linear ranges are translated a 4 KiB page at a time: every byte of a
   page translates the same way whatever the page size, and RAM ends on
   a page boundary, so a page's first byte decides for the rest (a walk
   per byte cost a register read or five per byte: a third of a halted
   CPU's interrupt, measured by bench/uc_bench.c). */
static size_t page_left(uint64_t la, size_t n)
{
    size_t k = 0x1000 - (size_t)(la & 0xfff);
    return k < n ? k : n;
}

static bool read_lin(uc_cpu *c, uint64_t la, void *buf, size_t n,
                     dfault *f)
{
    uint8_t *p = buf;
    while (n) {
        uint64_t gpa;
        size_t k = page_left(la, n);
        int why = xlate(c, la, &gpa);
        if (why != XL_OK)
            return lin_fail(f, why, la, false);
        memcpy(p, c->m->ram + gpa, k);
        p += k;
        la += k;
        n -= k;
    }
    return true;
}

/* The first push of a frame to fault: the processor pushes from the top
   down, slot bytes at a time, so CR2 is the highest slot's address that
   does not translate (SDM 6.14.2 order SS, RSP, RFLAGS, CS, RIP, error
   code; 4.7). */
static bool push_fail(uc_cpu *c, uint64_t la, size_t n, unsigned slot,
                      dfault *f)
{
    uint64_t gpa;
    for (uint64_t a = la + n - slot;; a -= slot) {
        int why = xlate(c, a, &gpa);
        if (why == XL_OK)
            why = xlate(c, a + slot - 1, &gpa);
        if (why != XL_OK || a <= la)
            return lin_fail(f, why == XL_OK ? XL_NOT_PRESENT : why, a, true);
    }
}

/* Write a frame of n bytes (pushes of slot bytes) at la, whole or not at
   all; false with the fault of its first push that fails. */
static bool write_lin(uc_cpu *c, uint64_t la, const void *buf, size_t n,
                      unsigned slot, dfault *f)
{
    const uint8_t *p = buf;
    uint64_t gpa[2];
    /* 64 bytes (the largest frame) span at most two pages. */
    size_t k = page_left(la, n);
    if (xlate(c, la, &gpa[0]) != XL_OK ||
        (k < n && xlate(c, la + k, &gpa[1]) != XL_OK))
        return push_fail(c, la, n, slot, f);
    memcpy(c->m->ram + gpa[0], p, k);
    if (k < n)
        memcpy(c->m->ram + gpa[1], p + k, n - k);
    return true;
}

static uint64_t le(const uint8_t *b, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;)
        v = (v << 8) | b[i];
    return v;
}


/* The base of the segment selector sel names in the GDT, as loaded
   (0 for a null selector, an LDT selector or one the GDT does not hold:
   flat, which is what the entry states have before firmware loads its
   own GDT). */
static uint32_t gdt_base(uc_cpu *c, uint64_t sel)
{
    uc_x86_mmr gdtr;
    memset(&gdtr, 0, sizeof gdtr);
    uc_reg_read(c->uc, UC_X86_REG_GDTR, &gdtr);
    uint8_t d[8];
    if ((sel & 0xfffc) == 0 || (sel & 4) || (sel | 7) > gdtr.limit ||
        !read_lin(c, gdtr.base + (sel & 0xfff8u), d, sizeof d, NULL))
        return 0;
    return (uint32_t)(le(d + 2, 3) | (le(d + 7, 1) << 24));
}

/* The target code segment of a gate: present code of the GDT with
   DPL <= CPL (6.12.1.1).  Sets *ncpl; false with the fault in f. */
static bool gate_target(uc_cpu *c, uint16_t sel, unsigned cpl, uint32_t ext,
                        bool want_long, unsigned *ncpl, uint64_t *cdesc,
                        dfault *f)
{
    uc_x86_mmr gdtr;
    memset(&gdtr, 0, sizeof gdtr);
    uc_reg_read(c->uc, UC_X86_REG_GDTR, &gdtr);
    uint32_t sel_err = (sel & 0xfffcu) + ext;
    if ((sel & 0xfffc) == 0)
        return intc_uc__fault(f, VEC_GP, ext);
    if ((sel & 4) || (uint64_t)(sel | 7) > gdtr.limit) /* no LDT */
        return intc_uc__fault(f, VEC_GP, sel_err);
    uint8_t d[8];
    if (!read_lin(c, gdtr.base + (sel & 0xfff8u), d, sizeof d, f))
        return false;
    uint64_t desc = le(d, 8);
    bool s_code = ((desc >> 44) & 1) && ((desc >> 43) & 1);
    unsigned cdpl = (unsigned)((desc >> 45) & 3);
    if (!s_code || cdpl > cpl)
        return intc_uc__fault(f, VEC_GP, sel_err);
    if (!((desc >> 47) & 1))
        return intc_uc__fault(f, VEC_NP, sel_err);
    /* 64-bit mode wants L = 1, D = 0 (6.14.1); legacy mode L = 0. */
    bool l = (desc >> 53) & 1, db = (desc >> 54) & 1;
    if (want_long ? (!l || db) : l)
        return intc_uc__fault(f, VEC_GP, sel_err);
    *ncpl = ((desc >> 42) & 1) ? cpl : cdpl; /* conforming keeps CPL */
    *cdesc = desc;
    return true;
}

/* A descriptor as the segment cache a load leaves (SDM 3.4.5): base,
   limit scaled by G, and (as QEMU keeps it) the high dword as flags. */
static intc_uc_seg seg_cache(uint16_t sel, uint64_t d)
{
    intc_uc_seg sg;
    sg.sel = sel;
    sg.base = ((d >> 16) & 0xffffffu) | (((d >> 56) & 0xff) << 24);
    sg.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
    if ((d >> 55) & 1) /* G: 4 KiB units */
        sg.limit = (sg.limit << 12) | 0xfff;
    sg.flags = (uint32_t)(d >> 32);
    return sg;
}

/* Load CS (descriptor cdesc) and, when ss is given, SS at CPL ncpl
   (6.12.1: the gate's code segment, the new stack).  Unicorn's register
   writes change selectors only (uc.h F11): with the hidden-state map the
   caches and CPL are written whole (cpustate.c); without it, only the
   selectors (uc.h "The hidden CPU state"). */
static bool load_cs_ss(uc_cpu *c, uint16_t ncs, uint64_t cdesc,
                       const intc_uc_seg *ss, unsigned ncpl)
{
    intc_uc_seg cs = seg_cache(ncs, cdesc);
    if (intc_uc__state_load_cs_ss(c, &cs, ss, ncpl))
        return true;
    uint64_t v = ncs;
    if (uc_reg_write(c->uc, UC_X86_REG_CS, &v) != UC_ERR_OK)
        return false;
    v = ss ? ss->sel : 0;
    return !ss || uc_reg_write(c->uc, UC_X86_REG_SS, &v) == UC_ERR_OK;
}

/* The new stack segment of a privilege change in legacy mode: SSn from
   the TSS, checked as SDM 6.12.1.1 (interrupt procedures, "stack switch")
   and table 7-1 say: a null selector is #TS(EXT); one the GDT or LDT
   does not hold, RPL or DPL not the new CPL, or not a writable data
   segment is #TS(selector + EXT); not present, #SS(selector + EXT).
   *out: its cache. */
static bool new_stack_seg(uc_cpu *c, uint16_t sel, unsigned ncpl,
                          uint32_t ext, intc_uc_seg *out, dfault *f)
{
    uint32_t e = (sel & 0xfffcu) + ext;
    if ((sel & 0xfffc) == 0)
        return intc_uc__fault(f, VEC_TS, ext);
    uc_x86_mmr t;
    memset(&t, 0, sizeof t);
    uc_reg_read(c->uc, (sel & 4) ? UC_X86_REG_LDTR : UC_X86_REG_GDTR, &t);
    uint8_t d[8];
    if ((uint64_t)(sel | 7) > t.limit)
        return intc_uc__fault(f, VEC_TS, e);
    if (!read_lin(c, t.base + (sel & 0xfff8u), d, sizeof d, f))
        return false;
    uint64_t desc = le(d, 8);
    unsigned dpl = (unsigned)((desc >> 45) & 3);
    unsigned type = (unsigned)((desc >> 40) & 0x1f); /* S and type */
    /* S = 1, data (bit 3 clear), writable (bit 1). */
    if ((sel & 3) != ncpl || dpl != ncpl || (type & 0x1a) != 0x12)
        return intc_uc__fault(f, VEC_TS, e);
    if (!((desc >> 47) & 1))
        return intc_uc__fault(f, VEC_SS, e);
    *out = seg_cache(sel, desc);
    return true;
}

/* The stack of a legacy-mode delivery (6.12.1): on a privilege change
   SSn:ESPn of the 32-bit TSS (7.2.1; a 16-bit TSS is not emulated) with
   its checks; else the current stack, at SS's hidden base (the GDT
   descriptor's when the hidden state is not readable).  *ssc is set on
   a privilege change only. */
static bool legacy_stack(uc_cpu *c, unsigned cpl, unsigned ncpl,
                         uint32_t ext, uint32_t *esp, uint64_t *ss,
                         uint64_t *base, intc_uc_seg *ssc, dfault *f)
{
    if (ncpl >= cpl) {
        *base = gdt_base(c, *ss);
        (void)intc_uc__state_seg_base(c, UC_SEG_SS, base);
        return true;
    }
    uc_x86_mmr tr;
    memset(&tr, 0, sizeof tr);
    uc_reg_read(c->uc, UC_X86_REG_TR, &tr);
    if (!((tr.flags >> 8) & 8)) { /* TR's type (F12): a 16-bit TSS */
        f->unsupported = INTC_UC_UNSUP_GATE;
        return false;
    }
    uint8_t t[8];
    uint64_t off = 4 + 8 * (uint64_t)ncpl;
    if (off + 5 > tr.limit)
        return intc_uc__fault(f, VEC_TS,
                              ((uint32_t)tr.selector & 0xfffcu) + ext);
    if (!read_lin(c, tr.base + off, t, 6, f))
        return false;
    *esp = (uint32_t)le(t, 4);
    *ss = le(t + 4, 2);
    if (!new_stack_seg(c, (uint16_t)*ss, ncpl, ext, ssc, f))
        return false;
    *base = ssc->base;
    return true;
}

/* The gate of vector v, size bytes (8 in legacy mode, figure 6-2; 16 in
   IA-32e mode, 6.14.1) into g, with the checks both modes make
   (6.12.1.1): within the IDT's limit (else #GP(IDT)), a 32-bit or 64-bit
   interrupt (0xE) or trap (0xF) gate or, in legacy mode, a task gate (5)
   (else #GP(IDT); a 16-bit gate in legacy mode stops the machine), DPL
   >= CPL for INT n, INT3 and INTO (else #GP(IDT) without EXT), present
   (else #NP(IDT)).  false with the fault. */
static bool idt_gate(uc_cpu *c, uint8_t v, unsigned kind, unsigned cpl,
                     uc_x86_mmr idtr, unsigned size, uint8_t *g, dfault *f)
{
    uint32_t ext = kind == INTC_UC_KIND_EXTERNAL || kind == INTC_UC_KIND_NMI;
    uint32_t idt_err = (uint32_t)v * 8 + 2 + ext;
    if ((uint64_t)v * size + size - 1 > idtr.limit)
        return intc_uc__fault(f, VEC_GP, idt_err);
    if (!read_lin(c, idtr.base + (uint64_t)v * size, g, size, f))
        return false;
    unsigned dpl = (g[5] >> 5) & 3, type = g[5] & 0x1f;
    if (size == 8 && (type == 0x06 || type == 0x07)) {
        f->unsupported = INTC_UC_UNSUP_GATE; /* 16-bit gates */
        return false;
    }
    if (type != 0x0e && type != 0x0f && (size != 8 || type != 0x05))
        return intc_uc__fault(f, VEC_GP, idt_err);
    if (kind == INTC_UC_KIND_SOFTWARE && dpl < cpl)
        return intc_uc__fault(f, VEC_GP, (uint32_t)v * 8 + 2);
    if (!(g[5] & 0x80))
        return intc_uc__fault(f, VEC_NP, idt_err);
    return true;
}

/* The 8-byte gate of vector v in legacy mode: *type, *sel and *target
   (for a task gate, type 5, *sel is the TSS selector, 6.12.2). */
static bool legacy_gate(uc_cpu *c, uint8_t v, unsigned kind, unsigned cpl,
                        uc_x86_mmr idtr, unsigned *type, uint16_t *sel,
                        uint32_t *target, dfault *f)
{
    uint8_t g[8];
    if (!idt_gate(c, v, kind, cpl, idtr, sizeof g, g, f))
        return false;
    *type = g[5] & 0x1f;
    *sel = (uint16_t)le(g + 2, 2);
    *target = (uint32_t)(le(g, 2) | (le(g + 6, 2) << 16));
    return true;
}

/* Delivery in legacy protected mode (SDM 6.11, 6.12.1, figure 6-4):
   8-byte gates, a 32-bit frame EFLAGS, CS, EIP [, error code], preceded
   by SS, ESP on a privilege change (from the 32-bit TSS, 7.2.1).  The
   stack is taken as 32-bit (ESP, SS.B = 1); with paging on, 32-bit or
   PAE paging is walked (intc_uc__translate); 16-bit gates are not
   emulated.  Task gates (6.12.2) and delivery from virtual-8086 mode
   (20.3.1.1) are task.c's. */
static bool deliver_legacy(uc_cpu *c, uint8_t v, unsigned kind,
                           bool has_err, uint32_t err, uint64_t rip,
                           dfault *f)
{
    uint32_t ext = kind == INTC_UC_KIND_EXTERNAL || kind == INTC_UC_KIND_NMI;
    uc_x86_mmr idtr;
    memset(&idtr, 0, sizeof idtr);
    uc_reg_read(c->uc, UC_X86_REG_IDTR, &idtr);
    uint64_t cs = reg(c, UC_X86_REG_CS) & 0xffff;
    uint64_t ss = reg(c, UC_X86_REG_SS) & 0xffff;
    uint32_t esp = (uint32_t)reg(c, UC_X86_REG_RSP);
    uint32_t eflags = (uint32_t)reg(c, UC_X86_REG_RFLAGS);
    /* CPL is 3 in virtual-8086 mode (SDM 20.2.1). */
    unsigned cpl = (eflags & RFLAGS_VM) ? 3 : (unsigned)(cs & 3);
    unsigned type = 0;
    uint16_t sel = 0;
    uint32_t target = 0;
    if (!legacy_gate(c, v, kind, cpl, idtr, &type, &sel, &target, f))
        return false;
    /* Task gates and delivery from virtual-8086 mode: task.c. */
    if (type == 0x05)
        return intc_uc__task_gate(c, sel, ext, has_err, err, rip, f);
    if (eflags & RFLAGS_VM)
        return intc_uc__deliver_v86(c, type, sel, target, ext, has_err, err,
                                    rip, f);
    unsigned ncpl = 0;
    uint64_t cdesc = 0;
    if (!gate_target(c, sel, cpl, ext, false, &ncpl, &cdesc, f))
        return false;

    /* The stack, checked before anything is written (6.12.1). */
    uint32_t nesp = esp;
    uint64_t nss = ss, sbase = 0;
    intc_uc_seg nssc;
    if (!legacy_stack(c, cpl, ncpl, ext, &nesp, &nss, &sbase, &nssc, f))
        return false;
    uint32_t frame[7];
    unsigned n = 0;
    if (has_err)
        frame[n++] = err;
    frame[n++] = (uint32_t)rip;
    frame[n++] = (uint32_t)cs;
    frame[n++] = eflags;
    if (ncpl < cpl) {
        frame[n++] = esp;
        frame[n++] = (uint32_t)ss;
    }
    uint8_t bytes[28];
    for (unsigned i = 0; i < n; i++)
        for (unsigned b = 0; b < 4; b++)
            bytes[i * 4 + b] = (uint8_t)(frame[i] >> (8 * b));
    uint32_t top = nesp - 4 * n;
    if (!write_lin(c, sbase + top, bytes, 4 * (size_t)n, 4, f))
        return false;

    /* New state, EIP last: CS and SS with their descriptors. */
    uint64_t ncs = (sel & 0xfffcu) | ncpl;
    if (ncs != cs && !load_cs_ss(c, (uint16_t)ncs, cdesc,
                                 ncpl < cpl ? &nssc : NULL, ncpl))
        return intc_uc__fault(f, VEC_GP, (sel & 0xfffcu) + ext);
    uint64_t nfl = eflags & ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
    if (type == 0x0e) /* interrupt gate (6.12.1.3) */
        nfl &= ~RFLAGS_IF;
    uint64_t nsp = top, nip = target;
    uc_reg_write(c->uc, UC_X86_REG_RSP, &nsp);
    uc_reg_write(c->uc, UC_X86_REG_RFLAGS, &nfl);
    uc_reg_write(c->uc, UC_X86_REG_RIP, &nip);
    return true;
}

/* Delivery in real-address mode (SDM 20.1.4): the IVT entry at
   IDTR.base + 4 * vector (IP, then CS), push FLAGS, CS, IP (2 bytes each,
   at SS << 4 + SP), clear IF, TF and AC, and go to CS:IP.  No error code
   in real mode.  The CS base is loaded by a guest-executed far jump
   (uc.h "Modes", F5; realmode.c). */
#define RFLAGS_AC (1ull << 18)
static bool deliver_real(uc_cpu *c, uint8_t v, uint64_t rip, dfault *f)
{
    uc_x86_mmr idtr;
    memset(&idtr, 0, sizeof idtr);
    uc_reg_read(c->uc, UC_X86_REG_IDTR, &idtr);
    if ((uint64_t)v * 4 + 3 > idtr.limit)
        return intc_uc__fault(f, VEC_GP, 0);
    uint8_t e[4];
    if (!read_lin(c, idtr.base + (uint64_t)v * 4, e, sizeof e, f))
        return false; /* not RAM (no paging in real mode): a stop */
    uint64_t cs = reg(c, UC_X86_REG_CS) & 0xffff;
    uint64_t ss = reg(c, UC_X86_REG_SS) & 0xffff;
    uint16_t sp = (uint16_t)reg(c, UC_X86_REG_RSP);
    uint64_t fl = reg(c, UC_X86_REG_RFLAGS);
    /* FLAGS, CS, IP pushed at SP - 2, - 4, - 6, each offset modulo
       64 KiB (real-mode addressing wraps in the segment: SP = 0 is a
       stack at the top of it); only a push that straddles offset FFFF
       faults (#SS). */
    const uint16_t frame[3] = {(uint16_t)fl, (uint16_t)cs, (uint16_t)rip};
    uint16_t off[3];
    uint64_t gpa[3][2], ssb = ss << 4;
    /* SS's hidden base (an "unreal" SS keeps a protected-mode base);
       SS << 4 when it cannot be read (cpustate.c). */
    (void)intc_uc__state_seg_base(c, UC_SEG_SS, &ssb);
    for (unsigned i = 0; i < 3; i++) {
        off[i] = (uint16_t)(sp - 2 * (i + 1));
        if (off[i] == 0xffff)
            return intc_uc__fault(f, VEC_SS, 0);
        for (unsigned b = 0; b < 2; b++)
            if (xlate(c, ssb + off[i] + b, &gpa[i][b]) != XL_OK)
                return lin_fail(f, XL_NOT_RAM, ssb + off[i] + b, true);
    }
    uint16_t nip = (uint16_t)le(e, 2), ncs = (uint16_t)le(e + 2, 2);
    /* The jump first (it runs guest code), the frame after. */
    if (!intc_uc__real_far_jump(c, ncs, nip)) {
        f->unsupported = INTC_UC_UNSUP_MODE;
        return false;
    }
    for (unsigned i = 0; i < 3; i++)
        for (unsigned b = 0; b < 2; b++)
            c->m->ram[gpa[i][b]] = (uint8_t)(frame[i] >> (8 * b));
    uint16_t nsp = off[2];
    uint64_t nrsp = (reg(c, UC_X86_REG_RSP) & ~0xffffull) | nsp;
    uint64_t nfl = fl & ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC);
    uc_reg_write(c->uc, UC_X86_REG_RSP, &nrsp);
    uc_reg_write(c->uc, UC_X86_REG_RFLAGS, &nfl);
    return true;
}

/* The 16-byte gate of vector v in 64-bit mode (6.14.1, figure 6-8):
   *type, *sel, *target and *ist. */
static bool long_gate(uc_cpu *c, uint8_t v, unsigned kind, unsigned cpl,
                      uc_x86_mmr idtr, unsigned *type, uint16_t *sel,
                      uint64_t *target, unsigned *ist, dfault *f)
{
    uint8_t g[16];
    if (!idt_gate(c, v, kind, cpl, idtr, sizeof g, g, f))
        return false;
    *type = g[5] & 0x1f;
    *sel = (uint16_t)le(g + 2, 2);
    *target = le(g, 2) | (le(g + 6, 2) << 16) | (le(g + 8, 4) << 32);
    *ist = g[4] & 7;
    return true;
}

/* A 48-bit linear address sign-extended to 64 bits (SDM 3.3.7.1). */
static bool canonical(uint64_t la)
{
    uint64_t top = la >> 47;
    return top == 0 || top == 0x1ffff;
}

/* The stack of a 64-bit delivery (6.14.4, 6.14.5): RSPn of the 64-bit
   TSS on a privilege change, the IST entry when the gate names one,
   then aligned to 16 bytes.  *nrsp and *nss come in as the current RSP
   and SS; false with the fault. */
static bool long_stack(uc_cpu *c, unsigned ist, unsigned cpl, unsigned ncpl,
                       uint32_t ext, uint64_t *nrsp, uint64_t *nss, dfault *f)
{
    if (ncpl < cpl || ist) {
        uc_x86_mmr tr;
        memset(&tr, 0, sizeof tr);
        uc_reg_read(c->uc, UC_X86_REG_TR, &tr);
        uint64_t off =
            ist ? 0x24 + 8 * (uint64_t)(ist - 1) : 4 + 8 * (uint64_t)ncpl;
        uint8_t t[8];
        if (off + 7 > tr.limit)
            return intc_uc__fault(f, VEC_TS,
                              ((uint32_t)tr.selector & 0xfffcu) + ext);
        if (!read_lin(c, tr.base + off, t, sizeof t, f))
            return false;
        *nrsp = le(t, 8);
        if (ncpl < cpl)
            *nss = ncpl; /* a null selector with RPL = new CPL */
        if (!canonical(*nrsp)) /* 6.14.4: #SS(EXT) */
            return intc_uc__fault(f, VEC_SS, ext);
    }
    *nrsp &= ~0xfull;
    return true;
}

/* Push the 64-bit frame SS, RSP, RFLAGS, CS, RIP [, error code] (figure
   6-9) below nrsp, whole or not at all: *top is the new RSP; false with
   the fault. */
static bool long_push(uc_cpu *c, bool has_err, uint32_t err, uint64_t rip,
                      uint64_t cs, uint64_t rflags, uint64_t rsp, uint64_t ss,
                      uint64_t nrsp, uint64_t *top, dfault *f)
{
    uint64_t frame[6];
    unsigned n = 0;
    if (has_err)
        frame[n++] = err;
    frame[n++] = rip;
    frame[n++] = cs;
    frame[n++] = rflags;
    frame[n++] = rsp;
    frame[n++] = ss;
    uint8_t bytes[48];
    for (unsigned i = 0; i < n; i++)
        for (unsigned b = 0; b < 8; b++)
            bytes[i * 8 + b] = (uint8_t)(frame[i] >> (8 * b));
    *top = nrsp - 8 * (uint64_t)n;
    if (!write_lin(c, *top, bytes, 8 * (size_t)n, 8, f))
        return false;
    return true;
}

/* Delivery in IA-32e mode, 64-bit and compatibility (SDM 6.14). */
static bool deliver_long(uc_cpu *c, uint8_t v, unsigned kind, bool has_err,
                         uint32_t err, uint64_t rip, dfault *f)
{
    /* EXT (6.13): the event is external to the program. */
    uint32_t ext = kind == INTC_UC_KIND_EXTERNAL || kind == INTC_UC_KIND_NMI;
    uc_x86_mmr idtr;
    memset(&idtr, 0, sizeof idtr);
    uc_reg_read(c->uc, UC_X86_REG_IDTR, &idtr);
    uint64_t cs = reg(c, UC_X86_REG_CS) & 0xffff;
    uint64_t ss = reg(c, UC_X86_REG_SS) & 0xffff;
    uint64_t rsp = reg(c, UC_X86_REG_RSP);
    uint64_t rflags = reg(c, UC_X86_REG_RFLAGS);
    unsigned cpl = (unsigned)(cs & 3);

    unsigned type = 0, ist = 0;
    uint16_t sel = 0;
    uint64_t target = 0;
    if (!long_gate(c, v, kind, cpl, idtr, &type, &sel, &target, &ist, f))
        return false;
    /* The target code segment: a present 64-bit code segment of the GDT
       with DPL <= CPL (6.12.1.1, 6.14.1). */
    unsigned ncpl = 0;
    uint64_t cdesc = 0;
    if (!gate_target(c, sel, cpl, ext, true, &ncpl, &cdesc, f))
        return false;
    uint32_t sel_err = (sel & 0xfffcu) + ext;
    if (!canonical(target)) /* 6.14.1: #GP(EXT) */
        return intc_uc__fault(f, VEC_GP, ext);
    uint64_t nrsp = rsp, nss = ss, top = 0;
    if (!long_stack(c, ist, cpl, ncpl, ext, &nrsp, &nss, f) ||
        !long_push(c, has_err, err, rip, cs, rflags, rsp, ss, nrsp, &top, f))
        return false;

    /* Load the new state, RIP last: CS with its descriptor; on a
       privilege change SS = a null selector with RPL = the new CPL
       (6.14.4). */
    uint64_t ncs = (sel & 0xfffcu) | ncpl;
    const intc_uc_seg nullss = {(uint16_t)nss, 0, 0, (uint32_t)ncpl << 13};
    if (ncs != cs &&
        !load_cs_ss(c, (uint16_t)ncs, cdesc, nss != ss ? &nullss : NULL,
                    ncpl))
        return intc_uc__fault(f, VEC_GP, sel_err);
    uint64_t nfl = rflags & ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
    if (type == 0x0e) /* interrupt gate: IF cleared (6.12.1.3) */
        nfl &= ~RFLAGS_IF;
    uc_reg_write(c->uc, UC_X86_REG_RSP, &top);
    uc_reg_write(c->uc, UC_X86_REG_RFLAGS, &nfl);
    uc_reg_write(c->uc, UC_X86_REG_RIP, &target);
    return true;
}

static bool deliver_once(uc_cpu *c, uint8_t v, unsigned kind, bool has_err,
                         uint32_t err, uint64_t rip, dfault *f)
{
    if (!(efer(c) & EFER_LMA)) {
        /* Legacy protected mode: the 8-byte gates of 6.11; real mode
           (CR0.PE = 0): the IVT (20.1.4). */
        if (!(reg(c, UC_X86_REG_CR0) & CR0_PE))
            return deliver_real(c, v, rip, f);
        return deliver_legacy(c, v, kind, has_err, err, rip, f);
    }
    return deliver_long(c, v, kind, has_err, err, rip, f);
}

/* The class of an event for double faults (SDM 6.15, table 6-4):
   contributory exceptions (#DE, #TS, #NP, #SS, #GP), page faults, and
   the rest, benign (interrupts, NMI, INT n and the other exceptions). */
enum { EV_BENIGN, EV_CONTRIBUTORY, EV_PAGE_FAULT };

static unsigned ev_class(uint8_t v, unsigned kind)
{
    if (kind != INTC_UC_KIND_EXCEPTION)
        return EV_BENIGN;
    if (v == 0 || (v >= VEC_TS && v <= VEC_GP))
        return EV_CONTRIBUTORY;
    return v == VEC_PF ? EV_PAGE_FAULT : EV_BENIGN;
}

/* A fault f while delivering vector v: f itself (handled serially), or
   #DF when table 6-5 says so (contributory then contributory; #PF then
   contributory or #PF). */
static bool makes_df(uint8_t v, unsigned kind, const dfault *f)
{
    unsigned first = ev_class(v, kind);
    unsigned second = ev_class(f->vector, INTC_UC_KIND_EXCEPTION);
    if (first == EV_CONTRIBUTORY)
        return second == EV_CONTRIBUTORY;
    return first == EV_PAGE_FAULT && second != EV_BENIGN;
}

bool intc_uc__deliver(uc_cpu *c, uint8_t vector, unsigned kind, bool has_err,
                      uint32_t err, uint64_t rip)
{
    intc_uc *m = c->m;
    uint8_t v = vector;
    /* Each fault of a delivery is delivered in its place, or #DF (table
       6-5); a fault delivering #DF is a triple fault (shutdown).  Every
       step delivers an exception, so this ends. */
    for (int depth = 0; depth < 8; depth++) {
        dfault f;
        memset(&f, 0, sizeof f);
        if (deliver_once(c, v, kind, has_err, err, rip, &f)) {
            c->delivered++;
            /* A delivery takes time: one instruction's on the CPU's
               clock and in the run's instruction budget (not in the
               CPU's retired count), so that a guest caught in a fault
               loop (each handler faulting at once) still sees time
               pass and the run's limits end it. */
            c->clock += m->cfg.insn_ns;
            m->insns_total++;
            c->after_sti = c->sti_cand = false;
            intc_uc__emit(m, c, INTC_UC_EV_DELIVER, v, rip, kind,
                          has_err ? err : 0);
            return true;
        }
        if (f.unsupported) {
            intc_uc__stop(m, INTC_UC_STOP_UNSUPPORTED, c, f.unsupported);
            return false;
        }
        if (f.unmapped) {
            intc_uc__stop(m, INTC_UC_STOP_UNMAPPED, c, (uint64_t)f.unmapped);
            return false;
        }
        if (v == VEC_DF && kind == INTC_UC_KIND_EXCEPTION)
            break;
        if (f.has_cr2) /* the #PF's address (SDM 4.7) */
            uc_reg_write(c->uc, UC_X86_REG_CR2, &f.cr2);
        /* A fault delivering INT n returns to the INT n (it did not
           complete; SDM 6.12.1.1, 6.5). */
        if (kind == INTC_UC_KIND_SOFTWARE)
            rip -= c->exc_ilen;
        if (makes_df(v, kind, &f)) {
            v = VEC_DF;
            err = 0;
        } else {
            v = f.vector;
            err = f.err;
        }
        has_err = intc_uc__has_error_code(v);
        kind = INTC_UC_KIND_EXCEPTION;
    }
    intc_uc__stop(m, INTC_UC_STOP_TRIPLE_FAULT, c, vector);
    return false;
}
