/*
 * test_modes: facts about x86 operating modes in Unicorn 2.0.1 that
 * libintc-uc's delivery and CPU start design around (uc.h, "Modes").
 * Each check is one fact; the guest code is modes.s.
 *
 *  F1  A UC_MODE_64 engine runs compatibility-mode code (CS.L = 0,
 *      EFER.LMA = 1) as 32-bit code (0x40 is INC EAX, not REX).
 *  F2  Guest instructions leave long mode in the SDM 9.8.5.4 way
 *      (paging on, compatibility mode, CR0.PG 1->0 clears EFER.LMA,
 *      WRMSR clears LME): legacy 32-bit protected mode then runs
 *      correctly, IRETD included.  (Unicorn's flat long-mode entry has
 *      PG = 0: paging must be turned on first or LMA never clears.)
 *  F3  Guest instructions reach real mode from there (16-bit segment,
 *      CR0.PE = 0, far jump): real-mode addressing (segment << 4) and
 *      IRET work; RIP reads as IP (the offset), the block hook's
 *      address is linear (CS base + IP); INT n reaches UC_HOOK_INTR
 *      with RIP after the instruction.
 *  F4  Writing CR0 = PE-less and EFER = 0 through the API on a fresh
 *      UC_MODE_64 engine does not leave long mode (EFER.LMA stays set).
 *  F5  In real mode, writing CS through the API changes the selector
 *      but not the hidden base: the engine keeps fetching from the old
 *      base.  So the library cannot start a CPU at CS = V << 8 by API
 *      writes; a guest far jump sets both (see uc.h, the reset page).
 *  F6  A UC_MODE_16 engine does load the base on a CS write (CS << 4)
 *      and runs real-mode code; a UC_MODE_32 engine runs 32-bit code.
 *      Unused: one UC_MODE_64 engine reaches every mode by guest code.
 *  F10 With paging on, guest loads and stores walk the page tables (the
 *      accessed and dirty bits get set) but then go to physical =
 *      linear: a store through a PTE that maps another page lands at
 *      its linear address; and a linear address outside Unicorn's memory
 *      map is UC_ERR_WRITE_UNMAPPED even when the tables map it to RAM.
 *      (Unicorn 2.0.x identity-maps in its x86 TLB fill; 2.1.0 made
 *      real translation the default.)  So delivery, which walks the
 *      tables as the SDM says (deliver.c), agrees with the guest's own
 *      accesses only where the guest maps linear = physical.
 * Legacy protected mode (legacy_facts; task.c rests on these):
 *  F11 Writing DS, CS or SS through the API in protected mode changes
 *      the selector only: a DS store still goes to the old base, and CS
 *      and SS selectors of DPL 3 leave the CPL at 0.
 *  F12 An IRET executed with EFLAGS.NT = 1 (written through the API) is
 *      the task switch to the TSS the current TSS's link names (SDM
 *      7.3): TR, EIP, general registers loaded, CR0.TS set, DR7's
 *      local enables cleared, the old TSS's busy bit cleared and its
 *      EIP saved after the IRET.  With a
 *      link to the current TSS itself the new state is the one the TSS
 *      held (read before the old state is saved).  TR reads back the
 *      descriptor's type at bits 8-12 of its flags.
 *  F13 IRETD at CPL 0 with VM = 1 in the popped EFLAGS enters
 *      virtual-8086 mode (segment bases selector << 4); there INT n at
 *      IOPL 0 reaches UC_HOOK_INTR as #GP (13) with RIP at the INT, at
 *      IOPL 3 as vector n with RIP after it.  After an API write of
 *      EFLAGS with VM = 0 an IRET with NT = 1 works (F12) and leaves
 *      the CPL of the new CS.
 *  F14 SYSENTER in virtual-8086 mode does not leave it (Unicorn 2.0.1
 *      runs only its instruction hooks there): even with
 *      IA32_SYSENTER_CS = 0, where the SDM wants #GP(0), the next
 *      instruction runs.  (And with uc_emu_start's instruction count on,
 *      it jumps elsewhere.)  So it is no way out of virtual-8086 mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicorn/unicorn.h>

#define RAM (2u << 20)

typedef struct probe {
    uint64_t last_block;
    int intno;
} probe;

static int failures;

static void check(int ok, const char *fact, const char *what)
{
    printf("%s %s: %s\n", ok ? "ok  " : "FAIL", fact, what);
    if (!ok)
        failures++;
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    (void)uc;
    (void)size;
    ((probe *)ud)->last_block = addr;
}

static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
    ((probe *)ud)->intno = (int)intno;
    uc_emu_stop(uc);
}

typedef void (*any_fn)(void);
static void *fn(any_fn f)
{
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

static uint64_t rd(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

static uint64_t efer(uc_engine *uc)
{
    uc_x86_msr m = {.rid = 0xc0000080u, .value = 0};
    uc_reg_read(uc, UC_X86_REG_MSR, &m);
    return m.value;
}

static uc_engine *engine(uc_mode mode, uint8_t *ram, probe *p)
{
    uc_engine *uc = NULL;
    uc_hook h;
    if (uc_open(UC_ARCH_X86, mode, &uc) != UC_ERR_OK)
        return NULL;
    uc_mem_map_ptr(uc, 0, RAM, UC_PROT_ALL, ram);
    uc_hook_add(uc, &h, UC_HOOK_BLOCK, fn((any_fn)on_block), p, 1, 0);
    uc_hook_add(uc, &h, UC_HOOK_INTR, fn((any_fn)on_intr), p, 1, 0);
    return uc;
}

static uc_err step(uc_engine *uc)
{
    return uc_emu_start(uc, rd(uc, UC_X86_REG_RIP), UINT64_MAX, 0, 0);
}

static uint16_t ram16(const uint8_t *ram, uint32_t a)
{
    return (uint16_t)(ram[a] | ram[a + 1] << 8);
}

static void long_to_real(uint8_t *ram)
{
    probe p = {0, -1};
    uc_engine *uc = engine(UC_MODE_64, ram, &p);
    uint64_t v = 0x8000;
    uc_reg_write(uc, UC_X86_REG_RSP, &v);
    v = 0x10000;
    uc_reg_write(uc, UC_X86_REG_RIP, &v);

    uc_err e = step(uc);
    check(e == UC_ERR_OK && (uint32_t)rd(uc, UC_X86_REG_RAX) == 2 &&
              (efer(uc) & 0x400),
          "F1", "compatibility mode runs 32-bit code under EFER.LMA");
    e = step(uc);
    check(e == UC_ERR_OK && efer(uc) == 0 &&
              !(rd(uc, UC_X86_REG_CR0) & 0x80000000u) &&
              (uint32_t)rd(uc, UC_X86_REG_RAX) == 1 &&
              (uint32_t)rd(uc, UC_X86_REG_RCX) == 0x8000,
          "F2", "legacy protected mode after leaving long mode, IRETD");
    e = step(uc);
    uint64_t ip = rd(uc, UC_X86_REG_RIP);
    check(e == UC_ERR_OK && !(rd(uc, UC_X86_REG_CR0) & 1) &&
              rd(uc, UC_X86_REG_CS) == 0x1000 && ram16(ram, 0x20010) == 0x1234 &&
              (uint16_t)rd(uc, UC_X86_REG_RCX) == 0x7000 && ip < 0x10000 &&
              p.last_block > 0x10000 && p.last_block < 0x10000 + ip,
          "F3", "real mode: seg << 4 addressing, IRET, RIP = IP, linear hook");
    e = step(uc);
    check(e == UC_ERR_OK && p.intno == 0x21 &&
              rd(uc, UC_X86_REG_RIP) == ip + 2,
          "F3", "real-mode INT n reaches UC_HOOK_INTR, RIP after it");

    /* F5: CS = 0x1100 through the API, start at IP 0: the sipi page
       (linear 0x11000) is not what runs. */
    v = 0x1100;
    uc_reg_write(uc, UC_X86_REG_CS, &v);
    v = 0;
    uc_reg_write(uc, UC_X86_REG_RIP, &v);
    p.last_block = 0;
    uc_emu_start(uc, 0, UINT64_MAX, 0, 200);
    check(ram16(ram, 0x20020) == 0 && p.last_block != 0x11000,
          "F5", "API write of CS in real mode keeps the old base");
    uc_close(uc);
}

static void api_modes(uint8_t *ram)
{
    probe p = {0, -1};
    uc_engine *uc = engine(UC_MODE_64, ram, &p);
    uint64_t cr0 = 0x10;
    uc_x86_msr m = {.rid = 0xc0000080u, .value = 0};
    uc_reg_write(uc, UC_X86_REG_CR0, &cr0);
    uc_reg_write(uc, UC_X86_REG_MSR, &m);
    check((efer(uc) & 0x400) != 0, "F4",
          "API writes of CR0/EFER do not leave long mode");
    uc_close(uc);

    memset(ram + 0x20020, 0, 2);
    uc = engine(UC_MODE_16, ram, &p);
    uint64_t cs = 0x1100;
    uc_reg_write(uc, UC_X86_REG_CS, &cs);
    uc_err e = uc_emu_start(uc, 0x11000, UINT64_MAX, 0, 0);
    check(e == UC_ERR_OK && ram16(ram, 0x20020) == 0x5678 &&
              (uint16_t)rd(uc, UC_X86_REG_BX) == 0x1100,
          "F6", "UC_MODE_16 engine: CS write loads the base, real mode runs");
    uc_close(uc);

    /* 32-bit: B8 imm32 (mov eax), 40 (inc eax), F4 (hlt) at 0x30000. */
    static const uint8_t code32[] = {0xb8, 1, 0, 0, 0x80, 0x40, 0xf4};
    memcpy(ram + 0x30000, code32, sizeof code32);
    uc = engine(UC_MODE_32, ram, &p);
    e = uc_emu_start(uc, 0x30000, UINT64_MAX, 0, 0);
    check(e == UC_ERR_OK && (uint32_t)rd(uc, UC_X86_REG_EAX) == 0x80000002u,
          "F6", "UC_MODE_32 engine runs 32-bit code");
    uc_close(uc);
}

/* ------------------------------------------------------------------ */
/* F11-F14: legacy protected mode (modes.s from 0x12000)                */

#define TSS_A 0x50000u
#define TSS_B 0x51000u
#define CR0_TS 8u

static uint32_t ram32(const uint8_t *ram, uint32_t a)
{
    return (uint32_t)ram16(ram, a) | (uint32_t)ram16(ram, a + 2) << 16;
}

static void put32(uint8_t *ram, uint32_t a, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        ram[a + (uint32_t)i] = (uint8_t)(v >> (8 * i));
}

/* F10: 32-bit paging (no PSE) in a UC_MODE_32 engine.  Page directory
   at 0x40000, one page table at 0x41000 for linear 0-4 MiB and again
   for 0xC0000000-0xC03FFFFF: identity except linear 0x1FF000 ->
   physical 0x1FE000. */
static void paging(uint8_t *ram)
{
    static const uint8_t code[] = {
        0xb8, 0x00, 0x00, 0x04, 0x00, /* mov eax, 0x40000 */
        0x0f, 0x22, 0xd8,             /* mov cr3, eax */
        0x0f, 0x20, 0xc0,             /* mov eax, cr0 */
        0x0d, 0x01, 0x00, 0x00, 0x80, /* or eax, 0x80000001 (PG, PE) */
        0x0f, 0x22, 0xc0,             /* mov cr0, eax */
        0xc7, 0x05, 0x00, 0xf0, 0x1f, 0x00, 0x11, 0x11, 0x11, 0x11,
        /* mov dword [0x1ff000], 0x11111111 */
        0xf4, /* hlt (offset 29) */
        0xc7, 0x05, 0x00, 0x00, 0x00, 0xc0, 0x22, 0x22, 0x22, 0x22,
        /* mov dword [0xc0000000], 0x22222222 */
        0xf4};
    memset(ram + 0x40000, 0, 0x2000);
    memset(ram + 0x1fe000, 0, 0x2000);
    put32(ram, 0x40000, 0x41003);
    put32(ram, 0x40000 + 0x300 * 4, 0x41003);
    for (uint32_t i = 0; i < 0x200; i++)
        put32(ram, 0x41000 + i * 4, (i == 0x1ff ? 0x1fe : i) << 12 | 3);
    uint32_t zero = ram32(ram, 0);
    memcpy(ram + 0x32000, code, sizeof code);
    probe p = {0, -1};
    uc_engine *uc = engine(UC_MODE_32, ram, &p);
    uc_err e = uc_emu_start(uc, 0x32000, UINT64_MAX, 0, 0);
    uint32_t pte = ram32(ram, 0x41000 + 0x1ff * 4);
    check(e == UC_ERR_OK && ram32(ram, 0x1ff000) == 0x11111111u &&
              ram32(ram, 0x1fe000) == 0 && (pte & 0x60) == 0x60,
          "F10", "a store walks the tables (A, D set) but lands at linear");
    e = uc_emu_start(uc, 0x32000 + 30, UINT64_MAX, 0, 0);
    check(e == UC_ERR_WRITE_UNMAPPED && ram32(ram, 0) == zero, "F10",
          "a linear address outside Unicorn's map is unmapped");
    uc_close(uc);
}


/* A fresh engine in legacy protected mode (stop 2 of modes.s: CPL 0,
   CS = 0x20, DS = SS = 0x10). */
static uc_engine *legacy_engine(uint8_t *ram, probe *p)
{
    uc_engine *uc = engine(UC_MODE_64, ram, p);
    uint64_t v = 0x8000;
    uc_reg_write(uc, UC_X86_REG_RSP, &v);
    v = 0x10000;
    uc_reg_write(uc, UC_X86_REG_RIP, &v);
    step(uc);
    step(uc);
    return uc;
}

/* Run from ip to the piece's HLT or hooked interrupt.  No instruction
   count: with Unicorn's count hook on, SYSENTER (F14) jumps elsewhere. */
static uc_err run_at(uc_engine *uc, probe *p, uint64_t ip)
{
    p->intno = -1;
    uc_reg_write(uc, UC_X86_REG_RIP, &ip);
    return uc_emu_start(uc, ip, UINT64_MAX, 0, 0);
}

static void wr(uc_engine *uc, int id, uint64_t v)
{
    uc_reg_write(uc, id, &v);
}

/* A 32-bit TSS image (SDM figure 7-2) at a: EIP eip, EAX eax, EFLAGS 2,
   ESP 0x7000, CS 0x20, SS = DS = ES = 0x10, link link. */
static void tss_image(uint8_t *ram, uint32_t a, uint32_t link, uint32_t eip,
                      uint32_t eax)
{
    memset(ram + a, 0, 104);
    put32(ram, a + 0x00, link);
    put32(ram, a + 0x20, eip);
    put32(ram, a + 0x24, 2);
    put32(ram, a + 0x28, eax);
    put32(ram, a + 0x38, 0x7000);
    put32(ram, a + 0x48, 0x10);
    put32(ram, a + 0x4c, 0x20);
    put32(ram, a + 0x50, 0x10);
    put32(ram, a + 0x54, 0x10);
}

static uint32_t gdt_at(uc_engine *uc)
{
    uc_x86_mmr g;
    memset(&g, 0, sizeof g);
    uc_reg_read(uc, UC_X86_REG_GDTR, &g);
    return (uint32_t)g.base;
}

static void facts_segments(uint8_t *ram)
{
    probe p = {0, -1};
    memset(ram + 0x100, 0, 4);
    memset(ram + 0x40100, 0, 4);
    uc_engine *uc = legacy_engine(ram, &p);
    wr(uc, UC_X86_REG_DS, 0x48);
    run_at(uc, &p, 0x12000);
    check(ram32(ram, 0x100) == 0x1234 && ram32(ram, 0x40100) == 0 &&
              rd(uc, UC_X86_REG_DS) == 0x48,
          "F11", "API write of DS: the selector changes, the base stays");
    wr(uc, UC_X86_REG_CS, 0x5b);
    wr(uc, UC_X86_REG_SS, 0x53);
    run_at(uc, &p, 0x12010);
    check(p.intno == -1 && rd(uc, UC_X86_REG_CS) == 0x5b &&
              (uint32_t)rd(uc, UC_X86_REG_RAX) ==
                  (uint32_t)rd(uc, UC_X86_REG_CR0),
          "F11", "API writes of DPL 3 CS and SS keep CPL 0");
    uc_close(uc);
}

static void facts_iret_nt(uint8_t *ram)
{
    probe p = {0, -1};
    uc_engine *uc = legacy_engine(ram, &p);
    uint32_t gdt = gdt_at(uc);
    run_at(uc, &p, 0x12020); /* LTR 0x38 */
    uc_x86_mmr tr;
    memset(&tr, 0, sizeof tr);
    uc_reg_read(uc, UC_X86_REG_TR, &tr);
    check(tr.selector == 0x38 && ((tr.flags >> 8) & 0x1f) == 0x09,
          "F12", "TR's flags hold the TSS descriptor's type at bits 8-12");
    tss_image(ram, TSS_B, 0, 0x12040, 0xbbbb);
    put32(ram, TSS_A, 0x40);
    ram[gdt + 0x40 + 5] |= 2; /* B busy, as IRET wants it */
    wr(uc, UC_X86_REG_RFLAGS, rd(uc, UC_X86_REG_RFLAGS) | 0x4000);
    wr(uc, UC_X86_REG_DR7, 0x455); /* L0-L3 and a G bit... */
    run_at(uc, &p, 0x12030);
    uc_reg_read(uc, UC_X86_REG_TR, &tr);
    check(rd(uc, UC_X86_REG_DR7) == 0x400, /* ...the L bits go */
          "F12", "the task switch clears DR7's local enables");
    check(p.intno == -1 && tr.selector == 0x40 && tr.base == TSS_B &&
              (uint32_t)rd(uc, UC_X86_REG_RAX) == 0xbbbb &&
              (uint32_t)rd(uc, UC_X86_REG_RDX) == 0xaaaa &&
              (rd(uc, UC_X86_REG_CR0) & CR0_TS) &&
              ram[gdt + 0x38 + 5] == 0x89 &&
              ram32(ram, TSS_A + 0x20) == 0x12031,
          "F12", "IRET with NT = 1 switches to the linked task");
    uc_close(uc);

    ram[gdt + 0x40 + 5] = 0x89;
    uc = legacy_engine(ram, &p);
    run_at(uc, &p, 0x12020);
    tss_image(ram, TSS_A, 0x38, 0x12040, 0xcccc);
    wr(uc, UC_X86_REG_RFLAGS, rd(uc, UC_X86_REG_RFLAGS) | 0x4000);
    run_at(uc, &p, 0x12030);
    uc_reg_read(uc, UC_X86_REG_TR, &tr);
    check(p.intno == -1 && tr.selector == 0x38 &&
              (uint32_t)rd(uc, UC_X86_REG_RAX) == 0xcccc &&
              (uint32_t)rd(uc, UC_X86_REG_RDX) == 0xaaaa,
          "F12", "a TSS linked to itself: IRET loads what it held");
    uc_close(uc);
    ram[gdt + 0x38 + 5] = 0x89;
}

static void facts_v86(uint8_t *ram)
{
    probe p = {0, -1};
    memset(ram + 0x30010, 0, 2);
    uc_engine *uc = legacy_engine(ram, &p);
    wr(uc, UC_X86_REG_RBX, 0x20002); /* VM, IOPL 0 */
    run_at(uc, &p, 0x12050);
    check(p.intno == 13 && rd(uc, UC_X86_REG_RIP) == 0x8 &&
              rd(uc, UC_X86_REG_CS) == 0x1300 &&
              (rd(uc, UC_X86_REG_RFLAGS) & 0x20000) &&
              ram16(ram, 0x30010) == 0x4242,
          "F13", "IRETD to v86; INT n at IOPL 0 is #GP at the INT");
    check(p.intno == 13 && rd(uc, UC_X86_REG_RIP) == 0x8,
          "F14", "SYSENTER (IA32_SYSENTER_CS = 0) in v86 mode: no #GP");
    uc_close(uc);

    uc = legacy_engine(ram, &p);
    run_at(uc, &p, 0x12020); /* TR = A */
    wr(uc, UC_X86_REG_RBX, 0x23002); /* VM, IOPL 3 */
    run_at(uc, &p, 0x12050);
    check(p.intno == 0x21 && rd(uc, UC_X86_REG_RIP) == 0xa,
          "F13", "INT n in v86 mode at IOPL 3: vector n, RIP after it");
    tss_image(ram, TSS_A, 0x38, 0x12010, 0);
    wr(uc, UC_X86_REG_RFLAGS,
       (rd(uc, UC_X86_REG_RFLAGS) & ~0x20000ull) | 0x4000);
    run_at(uc, &p, 0xb); /* the IRET in the v86 code segment */
    check(p.intno == -1 && rd(uc, UC_X86_REG_CS) == 0x20 &&
              !(rd(uc, UC_X86_REG_RFLAGS) & 0x20000) &&
              (uint32_t)rd(uc, UC_X86_REG_RAX) ==
                  (uint32_t)rd(uc, UC_X86_REG_CR0),
          "F13", "API VM = 0, then IRET with NT = 1: out of v86 at CPL 0");
    uc_close(uc);
}

static void legacy_facts(uint8_t *ram)
{
    facts_segments(ram);
    facts_iret_nt(ram);
    facts_v86(ram);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s modes.bin\n", argv[0]);
        return 2;
    }
    uint8_t *ram = aligned_alloc(4096, RAM);
    FILE *f = fopen(argv[1], "rb");
    if (!ram || !f) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        free(ram);
        if (f)
            fclose(f);
        return 2;
    }
    memset(ram, 0, RAM);
    size_t n = fread(ram + 0x10000, 1, 0x10000, f);
    fclose(f);
    if (n == 0) {
        free(ram);
        return 2;
    }
    long_to_real(ram);
    api_modes(ram);
    paging(ram);
    legacy_facts(ram);
    free(ram);
    printf("%s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
