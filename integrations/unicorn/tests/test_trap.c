/*
 * test_trap.c - libintc-uc trap module on Unicorn 2.0.1: facts about
 * Unicorn the module relies on, and every trapped instruction end to end.
 *
 * Guest snippets are hand-assembled 64-bit code (Intel SDM vol 2 encodings,
 * one instruction per line with its assembly in the comment). Each check
 * prints its line on failure; the exit code is the number of failures
 * (capped at 1). With an argument "bench" it also measures the cost of the
 * trap (printed, never asserted).
 */
#include "trap.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RAM_SIZE 0x200000u
#define CODE_BASE 0x10000u
#define STACK_TOP 0x1F0000u
#define APIC_ID_OF(cpu) ((cpu) + 3u)

struct host {
    uint64_t apicbase, deadline, x2[256], tsc;
    uint8_t tpr;
    unsigned rdmsr_calls, wrmsr_calls, tsc_calls, cr8_writes, faults;
    unsigned fault_vector;
    uint64_t fault_rip;
    int fault_result; /* what fault() returns */
};

struct env {
    uc_engine *uc;
    ucx_trap *trap;
    struct host h;
    uint64_t next_code; /* bump allocator for fresh code addresses */
};

struct tally {
    unsigned checks, failures;
};

#define CHECK(tl, cond)                                                        \
  do {                                                                         \
    (tl)->checks++;                                                            \
    if (!(cond)) {                                                             \
      (tl)->failures++;                                                        \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* ------------------------------------------------------------------ */
/* The host: a toy x2APIC register file behind the MSRs                */

static int h_rdmsr(void *ctx, unsigned cpu, uint32_t msr, uint64_t *val)
{
    struct host *h = ctx;

    (void)cpu;
    h->rdmsr_calls++;
    if (msr == 0x1B)
        *val = h->apicbase;
    else if (msr == 0x6E0)
        *val = h->deadline;
    else if (msr == 0x8FF)
        return UCX_TRAP_GP; /* not an x2APIC register: #GP(0) */
    else if (msr >= 0x800 && msr <= 0x8FF)
        *val = h->x2[msr - 0x800];
    else if (msr == 0xC0000103)
        *val = 0x42; /* IA32_TSC_AUX */
    else
        return UCX_TRAP_NATIVE;
    return UCX_TRAP_DONE;
}

static int h_wrmsr(void *ctx, unsigned cpu, uint32_t msr, uint64_t val)
{
    struct host *h = ctx;

    (void)cpu;
    h->wrmsr_calls++;
    if (msr == 0x1B)
        h->apicbase = val;
    else if (msr == 0x6E0)
        h->deadline = val;
    else if (msr == 0x8FF)
        return UCX_TRAP_GP;
    else if (msr == 0x830) { /* ICR: an IPI, end the slice */
        h->x2[0x30] = val;
        return UCX_TRAP_DONE_STOP;
    } else if (msr >= 0x800 && msr <= 0x8FF)
        h->x2[msr - 0x800] = val;
    else
        return UCX_TRAP_NATIVE;
    return UCX_TRAP_DONE;
}

static uint64_t h_rdtsc(void *ctx, unsigned cpu)
{
    struct host *h = ctx;

    (void)cpu;
    h->tsc_calls++;
    h->tsc += 1000; /* virtual time: 1000 ticks per read */
    return h->tsc;
}

static uint8_t h_cr8_read(void *ctx, unsigned cpu)
{
    (void)cpu;
    return (uint8_t)(((struct host *)ctx)->tpr >> 4);
}

static int h_cr8_write(void *ctx, unsigned cpu, uint64_t v)
{
    struct host *h = ctx;

    (void)cpu;
    h->cr8_writes++;
    h->tpr = (uint8_t)(v << 4); /* SDM vol 3A 10.8.6.1: TPR[7:4] = CR8[3:0] */
    return UCX_TRAP_DONE;
}

/* What the core will do: APIC present, x2APIC, TSC-deadline, APIC IDs. */
static void h_cpuid(void *ctx, unsigned cpu, uint32_t leaf, uint32_t subleaf,
                    uint32_t regs[4])
{
    (void)ctx;
    (void)subleaf;
    if (leaf == 1) {
        regs[3] |= 1u << 9;                 /* EDX APIC */
        regs[2] |= (1u << 21) | (1u << 24); /* ECX x2APIC, TSC-deadline */
        regs[1] = (regs[1] & 0x00FFFFFFu) | (APIC_ID_OF(cpu) << 24);
    } else if (leaf == 0xB) {
        regs[3] = APIC_ID_OF(cpu); /* EDX x2APIC ID */
    }
}

static int h_fault(void *ctx, unsigned cpu, unsigned vector, uint32_t error,
                   uint64_t rip)
{
    struct host *h = ctx;

    (void)cpu;
    (void)error;
    h->faults++;
    h->fault_vector = vector;
    h->fault_rip = rip;
    return h->fault_result;
}

static const ucx_trap_ops host_ops = {h_rdmsr,     h_wrmsr, h_rdtsc, h_cr8_read,
                                      h_cr8_write, h_cpuid, h_fault, NULL, NULL};

/* ------------------------------------------------------------------ */
/* Engine helpers                                                      */

static uint64_t reg(uc_engine *uc, int r)
{
    uint64_t v = 0;
    uc_reg_read(uc, r, &v);
    return v;
}

static void set_reg(uc_engine *uc, int r, uint64_t v)
{
    uc_reg_write(uc, r, &v);
}

static int env_open(struct env *e, int attach, const ucx_trap_config *cfg)
{
    int err = 0;

    memset(e, 0, sizeof *e);
    e->next_code = CODE_BASE;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &e->uc) != UC_ERR_OK ||
        uc_mem_map(e->uc, 0, RAM_SIZE, UC_PROT_ALL) != UC_ERR_OK)
        return -1;
    set_reg(e->uc, UC_X86_REG_RSP, STACK_TOP);
    if (!attach)
        return 0;
    e->trap = ucx_trap_attach(e->uc, 0, &host_ops, &e->h, cfg, &err);
    return e->trap != NULL ? 0 : -1;
}

static void env_close(struct env *e)
{
    ucx_trap_detach(e->trap);
    uc_close(e->uc);
}

/* Copy code to a fresh address (so no stale translation exists). */
static uint64_t load(struct env *e, const uint8_t *code, size_t len)
{
    uint64_t at = e->next_code;

    uc_mem_write(e->uc, at, code, len);
    e->next_code = (at + len + 0xFF) & ~(uint64_t)0xFF;
    return at;
}

/* Run from 'at' until 'until'. Returns the uc_err. */
static int run(struct env *e, uint64_t at, uint64_t until)
{
    return (int)uc_emu_start(e->uc, at, until, 0, 0);
}

static int run_code(struct env *e, const uint8_t *code, size_t len)
{
    uint64_t at = load(e, code, len);
    int r = run(e, at, at + len);

    ucx_trap_take_stop(e->trap, NULL, NULL);
    return r;
}

/* ------------------------------------------------------------------ */
/* Facts about Unicorn 2.0.1                                           */

/* [initial_state] A fresh UC_MODE_64 engine is in 64-bit mode with paging
 * off: CR0 = PE|ET, EFER = LME|LMA, flat zero selectors, empty GDT/IDT. */
static void test_initial_state(struct tally *tl)
{
    struct env e;
    uc_x86_msr efer = {0xC0000080u, 0};
    uc_x86_mmr gdtr, idtr;

    CHECK(tl, env_open(&e, 0, NULL) == 0);
    uc_reg_read(e.uc, UC_X86_REG_MSR, &efer);
    uc_reg_read(e.uc, UC_X86_REG_GDTR, &gdtr);
    uc_reg_read(e.uc, UC_X86_REG_IDTR, &idtr);
    CHECK(tl, reg(e.uc, UC_X86_REG_CR0) == 0x11);
    CHECK(tl, reg(e.uc, UC_X86_REG_CR3) == 0);
    CHECK(tl, reg(e.uc, UC_X86_REG_CR4) == 0);
    CHECK(tl, efer.value == 0x500);
    CHECK(tl, reg(e.uc, UC_X86_REG_CS) == 0 && reg(e.uc, UC_X86_REG_SS) == 0);
    CHECK(tl, reg(e.uc, UC_X86_REG_RFLAGS) == 0x2);
    CHECK(tl, reg(e.uc, UC_X86_REG_RIP) == 0);
    CHECK(tl, gdtr.base == 0 && gdtr.limit == 0);
    CHECK(tl, idtr.base == 0 && idtr.limit == 0);
    env_close(&e);
}

static int count_cb(uc_engine *uc, void *user)
{
    (void)uc;
    ++*(unsigned *)user;
    return 0;
}

/* [probe_native_hooks] RDMSR/WRMSR/RDTSC/RDTSCP insn hooks are refused. */
static void test_probe_native_hooks(struct tally *tl)
{
    static const int insns[4] = {UC_X86_INS_RDMSR, UC_X86_INS_WRMSR,
                                 UC_X86_INS_RDTSC, UC_X86_INS_RDTSCP};
    union {
        int (*f)(uc_engine *, void *);
        void *p;
    } cb;
    struct env e;
    ucx_trap_stats st;
    unsigned i, n = 0;
    uc_hook h;

    cb.f = count_cb;
    CHECK(tl, env_open(&e, 1, NULL) == 0);
    for (i = 0; i < 4; i++)
        CHECK(tl, uc_hook_add(e.uc, &h, UC_HOOK_INSN, cb.p, &n, 1, 0,
                              insns[i]) == UC_ERR_HOOK);
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, st.native_msr_hooks == 0 && st.native_tsc_hooks == 0);
    env_close(&e);
}

/* [native_msr_and_cr8] Without the trap: APIC MSRs read 0 whatever was
 * written, MOV CR8 is dropped, LOCK RDMSR runs. */
static void test_native_msr_and_cr8(struct tally *tl)
{
    static const uint8_t code[] = {
        0xB9, 0x1B, 0x00, 0x00, 0x00,             /* mov ecx, 0x1b */
        0xB8, 0x00, 0x09, 0xE0, 0xFE,             /* mov eax, 0xfee00900 */
        0x31, 0xD2,                               /* xor edx, edx */
        0x0F, 0x30,                               /* wrmsr */
        0xB8, 0x55, 0x55, 0x55, 0x55,             /* mov eax, 0x55555555 */
        0x0F, 0x32,                               /* rdmsr */
        0x48, 0xC7, 0xC3, 0x03, 0x00, 0x00, 0x00, /* mov rbx, 3 */
        0x44, 0x0F, 0x22, 0xC3,                   /* mov cr8, rbx */
        0x48, 0xC7, 0xC6, 0x77, 0x00, 0x00, 0x00, /* mov rsi, 0x77 */
        0x44, 0x0F, 0x20, 0xC6,                   /* mov rsi, cr8 */
        0xB9, 0x80, 0x00, 0x00, 0xC0,             /* mov ecx, EFER */
        0xF0, 0x0F, 0x32,                         /* lock rdmsr */
        0xF4};                                    /* hlt */
    struct env e;

    CHECK(tl, env_open(&e, 0, NULL) == 0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, reg(e.uc, UC_X86_REG_RSI) == 0);
    /* [lock_ignored] no #UD: LOCK RDMSR ran as RDMSR (EFER) */
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x500);
    env_close(&e);
    /* the APIC base read after the write, in its own run */
    CHECK(tl, env_open(&e, 0, NULL) == 0);
    CHECK(tl, run_code(&e, code, 21) == UC_ERR_OK); /* up to the rdmsr */
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0);
    env_close(&e);
}

/* [cpuid_protocol] The CPUID hook runs before the native CPUID with RIP =
 * the instruction; 0 lets the native one overwrite EAX..EDX, nonzero skips
 * it (RIP still advances). */
struct cpuid_probe {
    int ret;
    uint64_t rip;
};

static int cpuid_probe_cb(uc_engine *uc, void *user)
{
    struct cpuid_probe *p = user;

    p->rip = reg(uc, UC_X86_REG_RIP);
    set_reg(uc, UC_X86_REG_RBX, 0x1234);
    return p->ret;
}

static void cpuid_native(uint32_t leaf, uint32_t regs[4])
{
    static const uint8_t code[] = {0x0F, 0xA2, 0xF4}; /* cpuid; hlt */
    struct env e;

    memset(regs, 0, 4 * sizeof *regs);
    if (env_open(&e, 0, NULL) != 0)
        return;
    set_reg(e.uc, UC_X86_REG_RAX, leaf);
    set_reg(e.uc, UC_X86_REG_RCX, 0);
    run_code(&e, code, sizeof code);
    regs[0] = (uint32_t)reg(e.uc, UC_X86_REG_RAX);
    regs[1] = (uint32_t)reg(e.uc, UC_X86_REG_RBX);
    regs[2] = (uint32_t)reg(e.uc, UC_X86_REG_RCX);
    regs[3] = (uint32_t)reg(e.uc, UC_X86_REG_RDX);
    env_close(&e);
}

static void test_cpuid_protocol(struct tally *tl)
{
    static const uint8_t code[] = {0xB8, 0x01, 0x00,
                                   0x00, 0x00, /* mov eax, 1 */
                                   0x0F, 0xA2, /* cpuid */
                                   0xF4};      /* hlt */
    union {
        int (*f)(uc_engine *, void *);
        void *p;
    } cb;
    uint32_t native[4];
    int ret;

    cb.f = cpuid_probe_cb;
    cpuid_native(1, native);
    CHECK(tl, (native[3] & (1u << 9)) == 0);  /* no APIC */
    CHECK(tl, (native[2] & (1u << 21)) == 0); /* no x2APIC */
    CHECK(tl, (native[1] >> 24) == 0);        /* APIC ID 0 */
    for (ret = 0; ret < 2; ret++) {
        struct env e;
        struct cpuid_probe p = {ret, 0};
        uc_hook h;
        uint64_t at;

        CHECK(tl, env_open(&e, 0, NULL) == 0);
        CHECK(tl, uc_hook_add(e.uc, &h, UC_HOOK_INSN, cb.p, &p, 1, 0,
                              UC_X86_INS_CPUID) == UC_ERR_OK);
        at = load(&e, code, sizeof code);
        CHECK(tl, run(&e, at, at + sizeof code) == UC_ERR_OK);
        CHECK(tl, p.rip == at + 5);
        CHECK(tl, reg(e.uc, UC_X86_REG_RIP) == at + sizeof code);
        if (ret == 0)
            CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == native[1]);
        else
            CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 0x1234 &&
                          reg(e.uc, UC_X86_REG_RAX) == 1);
        env_close(&e);
    }
}

/* ------------------------------------------------------------------ */
/* The trap                                                            */

/* [rdmsr_emulated] A value round trip through the host's MSR file; the
 * upper halves of RAX/RDX are cleared as RDMSR does. */
static void test_msr_round_trip(struct tally *tl)
{
    static const uint8_t code[] = {
        0xB9, 0x08, 0x08, 0x00, 0x00, /* mov ecx, 0x808 */
        0xB8, 0xF0, 0xDE, 0xBC, 0x9A, /* mov eax, 0x9abcdef0 */
        0xBA, 0x78, 0x56, 0x34, 0x12, /* mov edx, 0x12345678 */
        0x0F, 0x30,                   /* wrmsr */
        0x48, 0xB8, 1,    2,    3,
        4,    5,    6,    7,    8, /* mov rax, 0x0807060504030201 */
        0x48, 0xBA, 1,    2,    3,
        4,    5,    6,    7,    8, /* mov rdx, 0x0807060504030201 */
        0x0F, 0x32,                /* rdmsr */
        0xF4};                     /* hlt */
    struct env e;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.x2[8] == 0x123456789ABCDEF0ULL);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x9ABCDEF0u);
    CHECK(tl, reg(e.uc, UC_X86_REG_RDX) == 0x12345678u);
    CHECK(tl, e.h.wrmsr_calls == 1 && e.h.rdmsr_calls == 1);
    env_close(&e);
}

/* Prefixed RDMSR: legacy prefixes and REX.W change nothing (SDM vol 2,
 * 2.1.1, 2.2.1), a REX before a legacy prefix is ignored, LOCK is #UD.
 * [lock_ignored] Unicorn 2.0.1 itself runs LOCK RDMSR as RDMSR. */
static void test_msr_prefixes(struct tally *tl)
{
    static const uint8_t variants[][4] = {{2, 0x0F, 0x32},
                                          {3, 0x66, 0x0F, 0x32},
                                          {3, 0x48, 0x0F, 0x32},
                                          {3, 0x67, 0x0F, 0x32},
                                          {3, 0x2E, 0x0F, 0x32}};
    static const uint8_t longer[][6] = {{4, 0xF3, 0x48, 0x0F, 0x32},
                                        {4, 0x48, 0x66, 0x0F, 0x32},
                                        {5, 0x2E, 0x3E, 0x66, 0x0F, 0x32}};
    struct env e;
    uint8_t code[16];
    uint64_t at;
    unsigned i, n, calls = 0;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    e.h.apicbase = 0xFEE00D00u;
    for (i = 0; i < 8; i++) {
        const uint8_t *v = i < 5 ? variants[i] : longer[i - 5];
        n = v[0];
        memcpy(code, (const uint8_t[]){0xB9, 0x1B, 0, 0, 0}, 5); /* ecx */
        memcpy(code + 5, v + 1, n);
        code[5 + n] = 0xF4;
        set_reg(e.uc, UC_X86_REG_RAX, ~(uint64_t)0);
        CHECK(tl, run_code(&e, code, 6 + n) == UC_ERR_OK);
        CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0xFEE00D00u);
        CHECK(tl, e.h.rdmsr_calls == ++calls);
    }
    /* lock rdmsr is #UD; Unicorn 2.0.1 would run it, the trap raises #UD
     * and the host's rdmsr is not asked */
    memcpy(code, (const uint8_t[]){0xB9, 0x1B, 0, 0, 0, 0xF0, 0x0F, 0x32, 0xF4},
           9);
    at = load(&e, code, 9);
    CHECK(tl, run(&e, at, at + 9) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == calls);
    CHECK(tl, e.h.faults == 1 && e.h.fault_vector == 6);
    CHECK(tl, e.h.fault_rip == at + 5 && reg(e.uc, UC_X86_REG_RIP) == at + 5);
    CHECK(tl, ucx_trap_take_stop(e.trap, NULL, NULL) == 1);
    env_close(&e);
}

/* [efer_native] A MSR the host does not own runs natively. */
static void test_efer_native(struct tally *tl)
{
    static const uint8_t code[] = {0xB9, 0x80, 0x00,
                                   0x00, 0xC0, /* mov ecx, 0xc0000080 */
                                   0x0F, 0x32, /* rdmsr */
                                   0xF4};
    struct env e;
    ucx_trap_stats st;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x500); /* LME | LMA */
    CHECK(tl, reg(e.uc, UC_X86_REG_RDX) == 0);
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, e.h.rdmsr_calls == 1 && st.native == 1 && st.emulated == 0);
    env_close(&e);
}

/* [gp_fault] #GP(0) from the host: fault(13, rip), RIP not advanced, the
 * instruction and the ones after it not run. And DONE_STOP. */
static void test_gp_and_stop(struct tally *tl)
{
    static const uint8_t gp[] = {
        0xB9, 0xFF, 0x08, 0x00, 0x00,             /* mov ecx, 0x8ff */
        0x48, 0xC7, 0xC0, 0x11, 0x11, 0x00, 0x00, /* mov rax, 0x1111 */
        0x0F, 0x32,                               /* rdmsr (+12) */
        0x48, 0xC7, 0xC3, 0x01, 0x00, 0x00, 0x00, /* mov rbx, 1 */
        0xF4};
    static const uint8_t icr[] = {
        0xB9, 0x30, 0x08, 0x00, 0x00,             /* mov ecx, 0x830 */
        0xB8, 0xFE, 0x00, 0x00, 0x00,             /* mov eax, 0xfe */
        0x31, 0xD2,                               /* xor edx, edx */
        0x0F, 0x30,                               /* wrmsr (+12) */
        0x48, 0xC7, 0xC3, 0x01, 0x00, 0x00, 0x00, /* mov rbx, 1 */
        0xF4};
    struct env e;
    uint64_t at, rip = 0;
    int vec = 0;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    at = load(&e, gp, sizeof gp);
    CHECK(tl, run(&e, at, at + sizeof gp) == UC_ERR_OK);
    CHECK(tl, e.h.faults == 1 && e.h.fault_vector == 13);
    CHECK(tl, e.h.fault_rip == at + 12);
    CHECK(tl, reg(e.uc, UC_X86_REG_RIP) == at + 12);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x1111);
    CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 0);
    CHECK(tl, ucx_trap_take_stop(e.trap, &rip, &vec) == 1);
    CHECK(tl, rip == at + 12 && vec == 13);
    CHECK(tl, ucx_trap_take_stop(e.trap, &rip, &vec) == 0);

    at = load(&e, icr, sizeof icr);
    CHECK(tl, run(&e, at, at + sizeof icr) == UC_ERR_OK);
    CHECK(tl, e.h.x2[0x30] == 0xFE);
    CHECK(tl, reg(e.uc, UC_X86_REG_RIP) == at + 12);
    CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 0);
    CHECK(tl, ucx_trap_take_stop(e.trap, &rip, &vec) == 1);
    CHECK(tl, rip == at + 14 && vec == -1);
    CHECK(tl, run(&e, rip, at + sizeof icr) == UC_ERR_OK); /* resume */
    ucx_trap_take_stop(e.trap, NULL, NULL);
    CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 1 && e.h.wrmsr_calls == 1);
    env_close(&e);
}

/* MOV CR8 both ways, r8-r15 encodings, AMD's LOCK MOV CR0 alias, and a
 * reserved-bit write (#GP(0), SDM vol 3A 10.8.6.1). */
static void test_cr8(struct tally *tl)
{
    static const uint8_t code[] = {
        0x48, 0xC7, 0xC0, 0x05, 0x00, 0x00, 0x00, /* mov rax, 5 */
        0x44, 0x0F, 0x22, 0xC0,                   /* mov cr8, rax */
        0x45, 0x0F, 0x20, 0xC1,                   /* mov r9, cr8 */
        0x49, 0xC7, 0xC4, 0x07, 0x00, 0x00, 0x00, /* mov r12, 7 */
        0x45, 0x0F, 0x22, 0xC4,                   /* mov cr8, r12 */
        0x45, 0x0F, 0x20, 0xC7,                   /* mov r15, cr8 */
        0x44, 0x0F, 0x20, 0xC3,                   /* mov rbx, cr8 */
        0xF4};
    static const uint8_t alias[] = {
        0x48, 0xC7, 0xC0, 0x09, 0x00, 0x00, 0x00, /* mov rax, 9 */
        0xF0, 0x0F, 0x22, 0xC0,                   /* lock mov cr0, rax */
        0xF0, 0x0F, 0x20, 0xC2,                   /* lock mov rdx, cr0 */
        0xF4};
    static const uint8_t bad[] = {
        0x48, 0xC7, 0xC0, 0x10, 0x00, 0x00, 0x00, /* mov rax, 0x10 */
        0x44, 0x0F, 0x22, 0xC0,                   /* mov cr8, rax: #GP */
        0xF4};
    struct env e;
    uint64_t at;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    set_reg(e.uc, UC_X86_REG_R9, ~(uint64_t)0);
    set_reg(e.uc, UC_X86_REG_R15, ~(uint64_t)0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.tpr == 0x70 && e.h.cr8_writes == 2);
    CHECK(tl, reg(e.uc, UC_X86_REG_R9) == 5);
    CHECK(tl, reg(e.uc, UC_X86_REG_R15) == 7);
    CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 7);

    CHECK(tl, run_code(&e, alias, sizeof alias) == UC_ERR_OK);
    CHECK(tl, e.h.tpr == 0x90 && reg(e.uc, UC_X86_REG_RDX) == 9);

    at = load(&e, bad, sizeof bad);
    CHECK(tl, run(&e, at, at + sizeof bad) == UC_ERR_OK);
    CHECK(tl, e.h.faults == 1 && e.h.fault_vector == 13);
    CHECK(tl, e.h.fault_rip == at + 7 && reg(e.uc, UC_X86_REG_RIP) == at + 7);
    CHECK(tl, e.h.tpr == 0x90 && e.h.cr8_writes == 3);
    CHECK(tl, ucx_trap_take_stop(e.trap, NULL, NULL) == 1);
    env_close(&e);
}

/* RDTSC / RDTSCP from the virtual clock: the same run gives the same
 * values; RDTSCP's ECX is the host's IA32_TSC_AUX. */
static void test_tsc(struct tally *tl)
{
    static const uint8_t code[] = {0x0F, 0x31,       /* rdtsc */
                                   0x48, 0x89, 0xC6, /* mov rsi, rax */
                                   0x48, 0x89, 0xD7, /* mov rdi, rdx */
                                   0x0F, 0x01, 0xF9, /* rdtscp */
                                   0xF4};
    int round;

    for (round = 0; round < 2; round++) {
        struct env e;

        CHECK(tl, env_open(&e, 1, NULL) == 0);
        e.h.tsc = 0x123400000000ULL - 1000;
        set_reg(e.uc, UC_X86_REG_RCX, ~(uint64_t)0);
        CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
        CHECK(tl, reg(e.uc, UC_X86_REG_RSI) == 0);
        CHECK(tl, reg(e.uc, UC_X86_REG_RDI) == 0x1234);
        CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 1000);
        CHECK(tl, reg(e.uc, UC_X86_REG_RDX) == 0x1234);
        CHECK(tl, reg(e.uc, UC_X86_REG_RCX) == 0x42);
        CHECK(tl, e.h.tsc_calls == 2);
        env_close(&e);
    }
}

/* CPUID patched by the host, other bits as Unicorn computes them. */
static void test_cpuid_patched(struct tally *tl)
{
    static const uint8_t code[] = {
        0xB8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
        0x0F, 0xA2,                   /* cpuid */
        0x48, 0x89, 0xC6,             /* mov rsi, rax */
        0x48, 0x89, 0xDF,             /* mov rdi, rbx */
        0x49, 0x89, 0xC8,             /* mov r8, rcx */
        0x49, 0x89, 0xD1,             /* mov r9, rdx */
        0xB8, 0x0B, 0x00, 0x00, 0x00, /* mov eax, 0xb */
        0x31, 0xC9,                   /* xor ecx, ecx */
        0x0F, 0xA2,                   /* cpuid */
        0x49, 0x89, 0xD2,             /* mov r10, rdx */
        0xB8, 0x01, 0x00, 0x00, 0x00, /* mov eax, 1 */
        0x0F, 0xA2,                   /* cpuid (cached) */
        0xF4};
    uint32_t n1[4];
    struct env e;
    ucx_trap_stats st;

    cpuid_native(1, n1);
    CHECK(tl, env_open(&e, 1, NULL) == 0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, reg(e.uc, UC_X86_REG_RSI) == n1[0]);
    CHECK(tl, reg(e.uc, UC_X86_REG_RDI) ==
                  ((n1[1] & 0x00FFFFFFu) | (APIC_ID_OF(0u) << 24)));
    CHECK(tl, reg(e.uc, UC_X86_REG_R8) == (n1[2] | (1u << 21) | (1u << 24)));
    CHECK(tl, reg(e.uc, UC_X86_REG_R9) == (n1[3] | (1u << 9)));
    CHECK(tl, reg(e.uc, UC_X86_REG_R10) == APIC_ID_OF(0u));
    CHECK(tl, reg(e.uc, UC_X86_REG_RDX) == (n1[3] | (1u << 9)));
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, st.cpuid == 3 && st.cpuid_oracle == 2);
    env_close(&e);
}

/* A 0F 30 / 0F 32 inside immediates is hooked (the scan cannot tell) but
 * never emulated: no instruction starts there. MOV RBX, CR0 matches the
 * scan pattern, starts at the hook and is decoded away. */
static void test_immediates(struct tally *tl)
{
    static const uint8_t code[] = {
        0xB9, 0x1B, 0x00, 0x00, 0x00, /* mov ecx, 0x1b */
        0xB8, 0x00, 0x0F, 0x30, 0x00, /* mov eax, 0x00300f00 */
        0xBA, 0x00, 0x66, 0x0F, 0x32, /* mov edx, 0x320f6600 */
        0x0F, 0x20, 0xC3,             /* mov rbx, cr0 */
        0xF4};
    struct env e;
    ucx_trap_stats st;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x00300F00u);
    CHECK(tl, reg(e.uc, UC_X86_REG_RDX) == 0x320F6600u);
    CHECK(tl, reg(e.uc, UC_X86_REG_RBX) == 0x11);
    CHECK(tl, e.h.rdmsr_calls == 0 && e.h.wrmsr_calls == 0);
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, st.hooks_added == 3 && st.emulated == 0 && st.not_trap == 1);
    env_close(&e);
}

/* One block run 2 x 1000 times: one hook, one restart, a few scans. */
static void test_same_block(struct tally *tl)
{
    static const uint8_t code[] = {
        0xB9, 0x08, 0x08, 0x00, 0x00, /* mov ecx, 0x808 */
        0xBB, 0xE8, 0x03, 0x00, 0x00, /* mov ebx, 1000 */
        0x0F, 0x32,                   /* l: rdmsr */
        0xFF, 0xCB,                   /* dec ebx */
        0x75, 0xFA,                   /* jnz l */
        0xF4};
    struct env e;
    ucx_trap_stats st1, st2;
    uint64_t at;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    e.h.x2[8] = 0x60;
    at = load(&e, code, sizeof code);
    CHECK(tl, run(&e, at, at + sizeof code) == UC_ERR_OK);
    ucx_trap_get_stats(e.trap, &st1);
    CHECK(tl, run(&e, at, at + sizeof code) == UC_ERR_OK);
    ucx_trap_get_stats(e.trap, &st2);
    CHECK(tl, e.h.rdmsr_calls == 2000);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0x60);
    CHECK(tl, st1.hooks_added == 1 && st1.restarts == 1);
    CHECK(tl, st1.blocks_scanned <= 4);
    CHECK(tl, st2.hooks_added == 1 && st2.restarts == 1);
    CHECK(tl, st2.blocks_scanned == st1.blocks_scanned);
    CHECK(tl, st2.emulated == 2000);
    env_close(&e);
}

/* A block that starts between a prefix and its 0F: the hook covers the
 * prefix found before the block, so entering at the prefix later needs no
 * new hook and is emulated too. */
static void test_mid_prefix(struct tally *tl)
{
    static const uint8_t code[] = {0xEB, 0x01,       /* jmp +1 (to the 0F) */
                                   0x66, 0x0F, 0x32, /* o16 rdmsr */
                                   0xF4};
    struct env e;
    ucx_trap_stats st;
    uint64_t at;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    e.h.apicbase = 0xFEE00900u;
    at = load(&e, code, sizeof code);
    set_reg(e.uc, UC_X86_REG_RCX, 0x1B);
    CHECK(tl, run(&e, at, at + sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == 1 && reg(e.uc, UC_X86_REG_RAX) == 0xFEE00900u);
    set_reg(e.uc, UC_X86_REG_RAX, 0);
    CHECK(tl, run(&e, at + 2, at + sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == 2 && reg(e.uc, UC_X86_REG_RAX) == 0xFEE00900u);
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, st.hooks_added == 1 && st.emulated == 2);
    env_close(&e);
}

/* Self-modifying code. By the host (uc_mem_write + uc_ctl_remove_cache +
 * ucx_trap_flush), then by the guest: [smc_same_engine] QEMU retranslates
 * the block (the new WRMSR runs) but the trap misses it until a flush. */
static void test_smc(struct tally *tl)
{
    static const uint8_t nops[] = {
        0xB9, 0x02, 0x01, 0x00, 0xC0, /* mov ecx, 0xc0000102 (KERNEL_GS) */
        0xB8, 0x78, 0x56, 0x00, 0x00, /* mov eax, 0x5678 */
        0x31, 0xD2,                   /* xor edx, edx */
        0x66, 0x90,                   /* xchg ax, ax (+12) */
        0xF4};
    static const uint8_t wrmsr[2] = {0x0F, 0x30};
    uint8_t poke[] = {0x66, 0xC7, 0x04, 0x25, 0,
                      0,    0,    0,    0x0F, 0x30, /* mov word [x], */
                      0xF4};                        /* 0x300f; hlt */
    struct env e;
    uint64_t x, y;
    uint32_t target;

    CHECK(tl, env_open(&e, 1, NULL) == 0);
    x = load(&e, nops, sizeof nops);
    CHECK(tl, run(&e, x, x + sizeof nops) == UC_ERR_OK);
    uc_mem_write(e.uc, x + 12, wrmsr, sizeof wrmsr);
    uc_ctl_remove_cache(e.uc, (uint64_t)x, (uint64_t)(x + sizeof nops));
    ucx_trap_flush(e.trap);
    CHECK(tl, run(&e, x, x + sizeof nops) == UC_ERR_OK);
    CHECK(tl, e.h.wrmsr_calls == 1); /* seen by the host, then native */

    x = load(&e, nops, sizeof nops);
    target = (uint32_t)(x + 12);
    memcpy(poke + 4, &target, 4); /* little-endian host, as the guest */
    y = load(&e, poke, sizeof poke);
    CHECK(tl, run(&e, x, x + sizeof nops) == UC_ERR_OK);
    set_reg(e.uc, UC_X86_REG_RAX, 0);
    CHECK(tl, run(&e, y, y + sizeof poke) == UC_ERR_OK);
    {
        uc_x86_msr kgs = {0xC0000102u, 0};
        uc_reg_write(e.uc, UC_X86_REG_MSR, &kgs); /* reset to 0 */
        CHECK(tl, run(&e, x, x + sizeof nops) == UC_ERR_OK);
        uc_reg_read(e.uc, UC_X86_REG_MSR, &kgs);
        CHECK(tl, kgs.value == 0x5678);  /* retranslated: WRMSR ran */
        CHECK(tl, e.h.wrmsr_calls == 1); /* ... but the trap missed it */
    }
    ucx_trap_flush(e.trap);
    CHECK(tl, run(&e, x, x + sizeof nops) == UC_ERR_OK);
    CHECK(tl, e.h.wrmsr_calls == 2);
    env_close(&e);
}

/* A range table of 2: three hooked blocks force resets; a block with more
 * candidates than the table is hooked whole. Everything stays exact. */
static void test_overflow(struct tally *tl)
{
    static const uint8_t code[] = {0xB9, 0x1B, 0x00,
                                   0x00, 0x00,       /* mov ecx, 0x1b */
                                   0x0F, 0x32, 0x90, /* rdmsr; nop */
                                   0x0F, 0x32, 0x90, /* rdmsr; nop */
                                   0x0F, 0x32,       /* rdmsr */
                                   0xF4};
    static const uint8_t one[] = {0xB9, 0x1B, 0x00,
                                  0x00, 0x00, /* mov ecx, 0x1b */
                                  0x0F, 0x32, /* rdmsr */
                                  0xF4};
    const ucx_trap_config cfg = {0, 2, 0};
    struct env e;
    ucx_trap_stats st;
    int i;

    CHECK(tl, env_open(&e, 1, &cfg) == 0);
    e.h.apicbase = 0xFEE00800u;
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == 3);
    for (i = 0; i < 3; i++)
        CHECK(tl, run_code(&e, one, sizeof one) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == 6);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0xFEE00800u);
    ucx_trap_get_stats(e.trap, &st);
    CHECK(tl, st.resets >= 2 && st.hooks_live <= 2 && st.emulated == 6);
    env_close(&e);
}

/* UCX_TRAP_EXTERNAL_BLOCK: the host's block hook drives the scan. */
static void host_block_cb(uc_engine *uc, uint64_t address, uint32_t size,
                          void *user)
{
    if (ucx_trap_block(*(ucx_trap **)user, address, size))
        set_reg(uc, UC_X86_REG_RIP, address);
}

static void test_external_block(struct tally *tl)
{
    static const uint8_t code[] = {0xB9, 0x1B, 0x00,
                                   0x00, 0x00, /* mov ecx, 0x1b */
                                   0x0F, 0x32, /* rdmsr */
                                   0xF4};
    const ucx_trap_config cfg = {UCX_TRAP_EXTERNAL_BLOCK, 0, 0};
    union {
        void (*f)(uc_engine *, uint64_t, uint32_t, void *);
        void *p;
    } cb;
    struct env e;
    uc_hook h;

    cb.f = host_block_cb;
    CHECK(tl, env_open(&e, 1, &cfg) == 0);
    CHECK(tl, uc_hook_add(e.uc, &h, UC_HOOK_BLOCK, cb.p, &e.trap, 1, 0) ==
                  UC_ERR_OK);
    e.h.apicbase = 0xFEE00C00u;
    CHECK(tl, run_code(&e, code, sizeof code) == UC_ERR_OK);
    CHECK(tl, e.h.rdmsr_calls == 1);
    CHECK(tl, reg(e.uc, UC_X86_REG_RAX) == 0xFEE00C00u);
    env_close(&e);
}

/* ------------------------------------------------------------------ */
/* Cost (printed, never asserted)                                      */

enum bench_mode { B_NONE, B_TRAP, B_CODE_HOOK, B_HOST_BLOCK, B_HOST_TRAP };

static void empty_code_cb(uc_engine *uc, uint64_t a, uint32_t s, void *u)
{
    (void)uc;
    (void)a;
    (void)s;
    (void)u;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for one run of code (best of 3) under the given mode. */
static double bench_once(enum bench_mode m, const uint8_t *code, size_t len)
{
    const ucx_trap_config ext = {UCX_TRAP_EXTERNAL_BLOCK, 0, 0};
    union {
        void (*f)(uc_engine *, uint64_t, uint32_t, void *);
        void *p;
    } cb;
    struct env e;
    double best = 1e9, t0;
    uc_hook h;
    uint64_t at;
    int i;

    if (env_open(&e, m == B_TRAP || m == B_HOST_TRAP,
                 m == B_HOST_TRAP ? &ext : NULL) != 0)
        return -1;
    cb.f = m == B_HOST_TRAP ? host_block_cb : empty_code_cb;
    if (m == B_CODE_HOOK)
        uc_hook_add(e.uc, &h, UC_HOOK_CODE, cb.p, NULL, 1, 0);
    if (m == B_HOST_BLOCK || m == B_HOST_TRAP)
        uc_hook_add(e.uc, &h, UC_HOOK_BLOCK, cb.p, &e.trap, 1, 0);
    at = load(&e, code, len);
    for (i = 0; i < 3; i++) {
        t0 = now_s();
        run(&e, at, at + len);
        ucx_trap_take_stop(e.trap, NULL, NULL);
        if (now_s() - t0 < best)
            best = now_s() - t0;
    }
    env_close(&e);
    return best;
}

static void bench(uint32_t iters)
{
    uint8_t plain[] = {0xB9, 0,    0,    0, 0, /* mov ecx, iters */
                       0x48, 0xFF, 0xC0,       /* l: inc rax */
                       0x48, 0x01, 0xC3,       /* add rbx, rax */
                       0x48, 0x31, 0xDA,       /* xor rdx, rbx */
                       0xFF, 0xC9,             /* dec ecx */
                       0x75, 0xF3,             /* jnz l */
                       0xF4};
    uint8_t msr[] = {0xBB, 0,    0,    0,    0,    /* mov ebx, iters */
                     0xB9, 0x08, 0x08, 0x00, 0x00, /* mov ecx, 0x808 */
                     0x0F, 0x32,                   /* l: rdmsr */
                     0xFF, 0xCB,                   /* dec ebx */
                     0x75, 0xFA,                   /* jnz l */
                     0xF4};
    static const char *const names[] = {
        "no trap", "trap (own block hook)", "empty global UC_HOOK_CODE",
        "host block hook, no trap", "host block hook + ucx_trap_block"};
    double insns = 5.0 * iters + 2, s;
    int m;

    memcpy(plain + 1, &iters, 4);
    memcpy(msr + 1, &iters, 4);
    printf("cost: loop of 5 plain instructions x %" PRIu32 "\n", iters);
    for (m = B_NONE; m <= B_HOST_TRAP; m++) {
        s = bench_once((enum bench_mode)m, plain, sizeof plain);
        printf("  %-34s %8.1f M instructions/s\n", names[m], insns / s / 1e6);
    }
    iters /= 10;
    memcpy(msr + 1, &iters, 4);
    s = bench_once(B_TRAP, msr, sizeof msr);
    printf("  emulated RDMSR (loop of 3)         %8.2f M RDMSR/s "
           "(%.0f ns per loop)\n",
           iters / s / 1e6, s / iters * 1e9);
}

int main(int argc, char **argv)
{
    struct tally tl = {0, 0};

    test_initial_state(&tl);
    test_probe_native_hooks(&tl);
    test_native_msr_and_cr8(&tl);
    test_cpuid_protocol(&tl);
    test_msr_round_trip(&tl);
    test_msr_prefixes(&tl);
    test_efer_native(&tl);
    test_gp_and_stop(&tl);
    test_cr8(&tl);
    test_tsc(&tl);
    test_cpuid_patched(&tl);
    test_immediates(&tl);
    test_same_block(&tl);
    test_mid_prefix(&tl);
    test_smc(&tl);
    test_overflow(&tl);
    test_external_block(&tl);
    printf("test_trap: %u checks, %u failed\n", tl.checks, tl.failures);
    bench(argc > 1 && strcmp(argv[1], "bench") == 0 ? 20000000u : 2000000u);
    return tl.failures != 0;
}
