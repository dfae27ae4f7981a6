/*
 * trap.c - libintc-uc: lazy interception of RDMSR, WRMSR, RDTSC, RDTSCP and
 * MOV CR8 on Unicorn 2.0.1, and CPUID patching. See trap.h for the facts
 * about Unicorn this rests on and for the contract with the host.
 */
#include "trap.h"

#include <stdlib.h>
#include <string.h>

#define TRAP_MAX_INSN 15u   /* SDM vol 2, 2.3.11: 15 bytes at most */
#define TRAP_MAX_PREFIX 14u /* so at most 14 prefix bytes before 0F */
#define TRAP_CHUNK 4096u    /* block bytes scanned per read */
#define TRAP_BUF (TRAP_MAX_PREFIX + TRAP_CHUNK + 2u)
#define TRAP_CPUID_CACHE 64u /* power of two */
#define TRAP_ORACLE_CODE 0x1000u

#define TRAP_MSR_EFER 0xC0000080u
#define TRAP_MSR_TSC_AUX 0xC0000103u
#define TRAP_EFER_LMA (1u << 10)
#define TRAP_CR0_PE (1u << 0)
#define TRAP_CR4_TSD (1u << 2)
#define TRAP_CR4_OSXSAVE (1u << 18)
#define TRAP_CR4_PKE (1u << 22)
#define TRAP_RFLAGS_VM (1u << 17)
#define TRAP_CR8_RESERVED (~(uint64_t)0xF) /* SDM vol 3A 10.8.6.1 */
#define TRAP_VEC_UD 6u
#define TRAP_VEC_GP 13u

enum trap_kind {
    TRAP_K_NONE,
    TRAP_K_RDMSR,
    TRAP_K_WRMSR,
    TRAP_K_RDTSC,
    TRAP_K_RDTSCP,
    TRAP_K_CR8_READ,
    TRAP_K_CR8_WRITE
};

struct trap_insn {
    enum trap_kind kind;
    unsigned gpr; /* MOV CR8: r/m + REX.B */
    int rex;      /* a REX prefix was present (so 64-bit mode) */
    int lock;     /* LOCK on RDMSR/WRMSR/RDTSC(P): #UD */
};

struct trap_range { /* one UC_HOOK_CODE: [begin, end], end = the 0F */
    uint64_t begin;
    uint64_t end;
    uc_hook hook;
    int used;
};

struct trap_block { /* a scanned translation block */
    uint64_t pc;
    uint32_t size;
    int used;
};

struct trap_cpuid { /* a native CPUID result from the oracle */
    uint32_t leaf, subleaf, cr4bits;
    uint32_t regs[4];
    int used;
};

struct ucx_trap {
    uc_engine *uc;
    unsigned cpu;
    ucx_trap_ops ops;
    void *ctx;
    unsigned flags;
    uc_hook block_hook;
    uc_hook cpuid_hook;
    int have_block_hook;
    int have_cpuid_hook;
    struct trap_range *ranges;
    unsigned range_mask;  /* table size - 1 */
    unsigned range_limit; /* entries before a reset */
    unsigned range_count;
    struct trap_block *blocks;
    unsigned block_mask;
    uint8_t *buf; /* TRAP_BUF bytes of scan window */
    uc_engine *oracle;
    struct trap_cpuid cpuid_cache[TRAP_CPUID_CACHE];
    int overflow;     /* the range table filled up during a scan */
    int stop_noted;   /* a uc_emu_stop is in flight: touch nothing */
    int stop_pending; /* the trap stopped the engine */
    uint64_t stop_rip;
    int stop_vector;
    ucx_trap_stats st;
};

/* GPR numbers 0-15 of the ModRM/REX encoding (SDM vol 2, table 2-2). */
static const int trap_gpr[16] = {
    UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
    UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
    UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
    UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15};

/* uc_hook_add takes callbacks as void *; ISO C has no such conversion. */
static void *trap_fn(void (*f)(void))
{
    void *p;
    _Static_assert(sizeof p == sizeof f, "function pointers fit void *");
    memcpy(&p, &f, sizeof p);
    return p;
}

/* Unicorn's UC_CTL_READ(...) shifts 2 into the sign bit of an int
 * (undefined behaviour, UBSan reports it): build control words unsigned. */
static uc_control_type trap_ctl(uc_control_type type, unsigned nr, unsigned rw)
{
    return (uc_control_type)((uint32_t)type | (nr << 26) | (rw << 30));
}

static uint64_t trap_hash(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static uint64_t trap_reg(uc_engine *uc, int reg)
{
    uint64_t v = 0; /* some registers are stored narrower than 8 bytes */
    uc_reg_read(uc, reg, &v);
    return v;
}

static void trap_set(uc_engine *uc, int reg, uint64_t v)
{
    uc_reg_write(uc, reg, &v);
}

/* Hook addresses are linear; RIP is the offset in CS (IP in real mode,
 * uc.h fact F3): the host's cs_base op, else in real and virtual-8086
 * mode CS << 4 (what a guest far transfer loads) and in protected and long
 * mode 0 (flat code segments). */
static uint64_t trap_lin_to_ip(ucx_trap *t, uint64_t lin)
{
    uc_engine *uc = t->uc;
    if (t->ops.cs_base != NULL)
        return lin - t->ops.cs_base(t->ctx, t->cpu, lin);
    if ((trap_reg(uc, UC_X86_REG_CR0) & TRAP_CR0_PE) &&
        !(trap_reg(uc, UC_X86_REG_EFLAGS) & TRAP_RFLAGS_VM))
        return lin;
    return lin - ((trap_reg(uc, UC_X86_REG_CS) & 0xFFFFu) << 4);
}

static uint64_t trap_msr_native(uc_engine *uc, uint32_t msr)
{
    uc_x86_msr m = {msr, 0};
    uc_reg_read(uc, UC_X86_REG_MSR, &m);
    return m.value;
}

static int trap_read(ucx_trap *t, uint64_t va, void *buf, size_t len)
{
    if (t->ops.read_code != NULL)
        return t->ops.read_code(t->ctx, t->cpu, va, buf, len);
    return uc_mem_read(t->uc, va, buf, len) == UC_ERR_OK ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

static int trap_is_legacy_prefix(uint8_t b)
{
    switch (b) {
    case 0x66:
    case 0x67:
    case 0xF2:
    case 0xF3:
    case 0xF0:
    case 0x2E:
    case 0x36:
    case 0x3E:
    case 0x26:
    case 0x64:
    case 0x65:
        return 1;
    default:
        return 0;
    }
}

static int trap_is_prefix(uint8_t b)
{
    return trap_is_legacy_prefix(b) || (b & 0xF0) == 0x40;
}

/*
 * Decode b[0..len) with len the length Unicorn decoded. rex_ok says whether
 * 40-4F are REX prefixes (64-bit mode) or instructions (INC/DEC). Returns 1
 * and fills *in only for an exact match of a trapped instruction.
 */
static int trap_decode_as(const uint8_t *b, unsigned len, int rex_ok,
                          struct trap_insn *in)
{
    unsigned i = 0, rex = 0, lock = 0, reg, end;

    for (; i < len && trap_is_prefix(b[i]); i++) {
        if ((b[i] & 0xF0) == 0x40) {
            if (!rex_ok)
                return 0;
            rex = b[i];
        } else {
            rex = 0; /* a REX not right before 0F is ignored (2.2.1) */
            lock |= b[i] == 0xF0;
        }
    }
    if (i + 2 > len || b[i] != 0x0F)
        return 0;
    in->rex = rex != 0;
    in->gpr = 0;
    switch (b[i + 1]) {
    case 0x30:
        in->kind = TRAP_K_WRMSR;
        end = i + 2;
        break;
    case 0x31:
        in->kind = TRAP_K_RDTSC;
        end = i + 2;
        break;
    case 0x32:
        in->kind = TRAP_K_RDMSR;
        end = i + 2;
        break;
    case 0x01:
        if (i + 3 > len || b[i + 2] != 0xF9)
            return 0;
        in->kind = TRAP_K_RDTSCP;
        end = i + 3;
        break;
    case 0x20:
    case 0x22:
        if (i + 3 > len)
            return 0;
        /* mod is ignored: always a register operand (vol 2B MOV CRn) */
        reg = ((b[i + 2] >> 3) & 7u) | ((rex & 4u) << 1);
        if (lock) /* AMD's CR8 alias LOCK MOV CR0; with REX.R QEMU also
                     reads CR8 */
            reg |= 8;
        if (reg != 8)
            return 0;
        in->kind = b[i + 1] == 0x22 ? TRAP_K_CR8_WRITE : TRAP_K_CR8_READ;
        in->gpr = (b[i + 2] & 7u) | ((rex & 1u) << 3);
        lock = 0;
        end = i + 3;
        break;
    default:
        return 0;
    }
    in->lock = lock != 0;
    return end == len;
}

/*
 * The mode is not read from the CPU: with a REX byte in the prefixes the
 * two readings give different lengths (INC/DEC is one byte), and Unicorn's
 * length picks the right one; without one they agree.
 */
static int trap_decode(const uint8_t *b, unsigned len, struct trap_insn *in)
{
    return trap_decode_as(b, len, 1, in) || trap_decode_as(b, len, 0, in);
}

/* Length of a trapped-instruction opcode at p (n bytes left), or 0. */
static unsigned trap_pattern(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] != 0x0F)
        return 0;
    switch (p[1]) {
    case 0x30:
    case 0x31:
    case 0x32:
        return 2;
    case 0x01:
        return n >= 3 && p[2] == 0xF9 ? 3 : 0;
    case 0x20:
    case 0x22:
        return n >= 3 && ((p[2] >> 3) & 7u) == 0 ? 3 : 0; /* CR0 or CR8 */
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Hooked ranges and scanned blocks                                    */

static void trap_code_cb(uc_engine *uc, uint64_t address, uint32_t size,
                         void *user);

static void trap_drop_cache(ucx_trap *t, uint64_t begin, uint64_t end)
{
    /* uc_ctl is variadic: the arguments must be uint64_t exactly. */
    uc_ctl(t->uc, trap_ctl(UC_CTL_TB_REMOVE_CACHE, 2, UC_CTL_IO_WRITE),
           (uint64_t)begin, (uint64_t)end);
}

/* Drop every hook (table full): all their code is retranslated, and the
 * blocks are scanned again on their next visit. */
static void trap_reset(ucx_trap *t)
{
    unsigned i;

    for (i = 0; i <= t->range_mask; i++) {
        struct trap_range *r = &t->ranges[i];
        if (!r->used)
            continue;
        uc_hook_del(t->uc, r->hook);
        trap_drop_cache(t, r->begin, r->end + 1);
    }
    memset(t->ranges, 0, (size_t)(t->range_mask + 1) * sizeof *t->ranges);
    memset(t->blocks, 0, (size_t)(t->block_mask + 1) * sizeof *t->blocks);
    t->range_count = 0;
    t->st.hooks_live = 0;
    t->st.resets++;
}

/* Hook [begin, end] unless that exact range is hooked. 1: added. */
static int trap_add_range(ucx_trap *t, uint64_t begin, uint64_t end)
{
    unsigned i = (unsigned)trap_hash(begin * 31u + end) & t->range_mask;
    struct trap_range *r;

    for (;; i = (i + 1) & t->range_mask) {
        r = &t->ranges[i];
        if (!r->used)
            break;
        if (r->begin == begin && r->end == end)
            return 0;
    }
    if (t->range_count >= t->range_limit) {
        t->overflow = 1; /* ucx_trap_block resets and scans again */
        return 0;
    }
    if (uc_hook_add(t->uc, &r->hook, UC_HOOK_CODE,
                    trap_fn((void (*)(void))trap_code_cb), t, begin,
                    end) != UC_ERR_OK)
        return 0; /* out of memory in Unicorn: the instruction stays native */
    r->begin = begin;
    r->end = end;
    r->used = 1;
    t->range_count++;
    t->st.hooks_added++;
    t->st.hooks_live++;
    trap_drop_cache(t, begin, end + 1);
    return 1;
}

/* Read up to TRAP_MAX_PREFIX bytes before va, backwards, stopping at the
 * first unreadable byte (an instruction cannot start in an unmapped page).
 * They land right before dst. Returns how many were read. */
static unsigned trap_read_back(ucx_trap *t, uint64_t va, uint8_t *dst)
{
    unsigned n;

    for (n = 0; n < TRAP_MAX_PREFIX && va - n > 0; n++)
        if (trap_read(t, va - n - 1, dst - n - 1, 1) != 0)
            break;
    return n;
}

/*
 * Scan bytes [va, va + len) of a block that ends at va + left (left >= len)
 * for trapped-instruction patterns; hook each with the prefix bytes before
 * it. Returns the number of hooks added, -1 if the code cannot be read.
 */
static int trap_scan_chunk(ucx_trap *t, uint64_t va, size_t len, size_t left)
{
    uint8_t *body = t->buf + TRAP_MAX_PREFIX;
    size_t have = left < len + 2 ? left : len + 2, i;
    unsigned back = trap_read_back(t, va, body), k;
    int added = 0;

    if (trap_read(t, va, body, have) != 0)
        return -1;
    for (i = 0; i < len; i++) {
        if (trap_pattern(body + i, have - i) == 0)
            continue;
        for (k = 0; k < TRAP_MAX_PREFIX && k < i + back; k++)
            if (!trap_is_prefix(body[(ptrdiff_t)i - (ptrdiff_t)k - 1]))
                break;
        added += trap_add_range(t, va + i - k, va + i);
    }
    return added;
}

static int trap_scan(ucx_trap *t, uint64_t address, uint32_t size)
{
    uint32_t off;
    int added = 0, n;

    for (off = 0; off < size; off += TRAP_CHUNK) {
        uint32_t len = size - off < TRAP_CHUNK ? size - off : TRAP_CHUNK;
        n = trap_scan_chunk(t, address + off, len, size - off);
        if (n < 0)
            return -1;
        added += n;
    }
    return added;
}

/* Scan a block; when the range table fills up, drop every hook and scan
 * again; when the block alone has more candidates than the table holds,
 * hook the whole block with one range (slower, as correct: the code hook
 * decodes every instruction). Returns hooks added or -1. */
static int trap_scan_bounded(ucx_trap *t, uint64_t address, uint32_t size)
{
    int n;

    t->overflow = 0;
    n = trap_scan(t, address, size);
    if (n >= 0 && t->overflow) {
        trap_reset(t);
        t->overflow = 0;
        n = trap_scan(t, address, size);
        if (n >= 0 && t->overflow) {
            trap_reset(t);
            n = trap_add_range(t, address, address + size - 1);
        }
    }
    t->overflow = 0;
    return n;
}

int ucx_trap_block(ucx_trap *t, uint64_t address, uint32_t size)
{
    struct trap_block *b;
    int added;

    if (t == NULL || size == 0)
        return 0;
    b = &t->blocks[trap_hash(address) & t->block_mask];
    if (b->used && b->pc == address && b->size == size)
        return 0;
    t->st.blocks_scanned++;
    added = trap_scan_bounded(t, address, size);
    if (added < 0)
        return 0; /* unreadable: not cached, tried again next visit */
    b->pc = address;
    b->size = size;
    b->used = 1;
    if (added == 0)
        return 0;
    trap_drop_cache(t, address, address + size);
    t->st.restarts++;
    return 1;
}

static void trap_block_cb(uc_engine *uc, uint64_t address, uint32_t size,
                          void *user)
{
    ucx_trap *t = user;

    /* With a stop in flight a RIP write here would cancel it (Unicorn
     * clears the stop request on a RIP write). The engine stops at this
     * block's exit check instead, and the block, already dropped from the
     * cache, is retranslated with its hooks when the host resumes it. */
    if (ucx_trap_block(t, address, size) && !t->stop_noted)
        trap_set(uc, UC_X86_REG_RIP, trap_lin_to_ip(t, address));
}

void ucx_trap_flush(ucx_trap *t)
{
    if (t != NULL)
        memset(t->blocks, 0, (size_t)(t->block_mask + 1) * sizeof *t->blocks);
}

void ucx_trap_note_stop(ucx_trap *t)
{
    if (t != NULL)
        t->stop_noted = 1;
}

/* ------------------------------------------------------------------ */
/* Emulation                                                           */

/* CPL as Unicorn checks it: 0 in real mode, 3 in virtual-8086 mode,
 * else CS.RPL (SDM vol 3A 5.5). */
static unsigned trap_cpl(uc_engine *uc)
{
    if (!(trap_reg(uc, UC_X86_REG_CR0) & TRAP_CR0_PE))
        return 0;
    if (trap_reg(uc, UC_X86_REG_EFLAGS) & TRAP_RFLAGS_VM)
        return 3;
    return (unsigned)(trap_reg(uc, UC_X86_REG_CS) & 3u);
}

static void trap_stop(ucx_trap *t, uint64_t rip, int vector)
{
    t->stop_pending = 1;
    t->stop_rip = rip;
    t->stop_vector = vector;
    t->stop_noted = 1;
    uc_emu_stop(t->uc);
}

/* An exception (#GP(0) or #UD) at the instruction at rip; RIP is not
 * advanced. */
static void trap_fault(ucx_trap *t, uint64_t rip, unsigned vector)
{
    int r = 0;

    t->st.faults++;
    if (t->ops.fault != NULL)
        r = t->ops.fault(t->ctx, t->cpu, vector, 0, rip);
    if (r == 0)
        trap_stop(t, rip, (int)vector);
}

/* Apply a callback's result for the instruction [rip, rip + len). */
static void trap_finish(ucx_trap *t, int r, uint64_t rip, uint32_t len)
{
    switch (r) {
    case UCX_TRAP_DONE:
        t->st.emulated++;
        /* Unicorn leaves the block before the instruction and goes on at
         * the new RIP: the native instruction never runs.  In protected
         * and long mode a code hook's RIP reads the instruction's own RIP
         * [rdmsr_emulated], so the next one is RIP + len whatever CS's
         * base (no conversion, which costs the host a context save); in
         * real mode it does not (tested by uc_realmode_timer), so there
         * and in virtual-8086 mode the linear address is converted. */
        if ((trap_reg(t->uc, UC_X86_REG_CR0) & TRAP_CR0_PE) &&
            !(trap_reg(t->uc, UC_X86_REG_EFLAGS) & TRAP_RFLAGS_VM))
            trap_set(t->uc, UC_X86_REG_RIP,
                     trap_reg(t->uc, UC_X86_REG_RIP) + len);
        else
            trap_set(t->uc, UC_X86_REG_RIP, trap_lin_to_ip(t, rip + len));
        break;
    case UCX_TRAP_DONE_STOP:
        t->st.emulated++;
        /* No RIP write (it would cancel the stop); the host resumes at
         * rip + len from ucx_trap_take_stop. */
        trap_stop(t, rip + len, -1);
        break;
    case UCX_TRAP_GP:
        trap_fault(t, rip, TRAP_VEC_GP);
        break;
    default:
        t->st.native++;
        break;
    }
}

static void trap_set_edx_eax(uc_engine *uc, uint64_t v)
{
    /* 64-bit mode: the upper halves of RAX and RDX are cleared. */
    trap_set(uc, UC_X86_REG_RAX, v & 0xFFFFFFFFu);
    trap_set(uc, UC_X86_REG_RDX, v >> 32);
}

static int trap_msr(ucx_trap *t, enum trap_kind kind)
{
    uc_engine *uc = t->uc;
    uint32_t msr = (uint32_t)trap_reg(uc, UC_X86_REG_RCX);
    uint64_t v = 0;
    int r;

    if (kind == TRAP_K_RDMSR) {
        if (t->ops.rdmsr == NULL)
            return UCX_TRAP_NATIVE;
        r = t->ops.rdmsr(t->ctx, t->cpu, msr, &v);
        if (r == UCX_TRAP_DONE || r == UCX_TRAP_DONE_STOP)
            trap_set_edx_eax(uc, v);
        return r;
    }
    if (t->ops.wrmsr == NULL)
        return UCX_TRAP_NATIVE;
    v = (trap_reg(uc, UC_X86_REG_RDX) << 32) |
        (trap_reg(uc, UC_X86_REG_RAX) & 0xFFFFFFFFu);
    return t->ops.wrmsr(t->ctx, t->cpu, msr, v);
}

/* RDTSC / RDTSCP (SDM vol 2B): EDX:EAX = TSC; RDTSCP also ECX = TSC_AUX. */
static int trap_tsc(ucx_trap *t, enum trap_kind kind)
{
    uc_engine *uc = t->uc;
    uint64_t aux = 0;

    if (t->ops.rdtsc == NULL)
        return UCX_TRAP_NATIVE;
    if ((trap_reg(uc, UC_X86_REG_CR4) & TRAP_CR4_TSD) && trap_cpl(uc) != 0)
        return UCX_TRAP_NATIVE; /* #GP(0) raised by Unicorn */
    if (kind == TRAP_K_RDTSCP) {
        int r = t->ops.rdmsr == NULL
                    ? UCX_TRAP_NATIVE
                    : t->ops.rdmsr(t->ctx, t->cpu, TRAP_MSR_TSC_AUX, &aux);
        if (r != UCX_TRAP_DONE && r != UCX_TRAP_DONE_STOP)
            aux = trap_msr_native(uc, TRAP_MSR_TSC_AUX);
    }
    trap_set_edx_eax(uc, t->ops.rdtsc(t->ctx, t->cpu));
    if (kind == TRAP_K_RDTSCP)
        trap_set(uc, UC_X86_REG_RCX, aux & 0xFFFFFFFFu);
    return UCX_TRAP_DONE;
}

/* MOV to/from CR8 (SDM vol 2B; vol 3A 10.8.6.1 / 11.8.6.1 for the TPR
 * mapping and the reserved bits). */
static int trap_cr8(ucx_trap *t, const struct trap_insn *in)
{
    uc_engine *uc = t->uc;
    int gpr = trap_gpr[in->gpr & 15u];
    uint64_t v;
    int wide;

    if (in->kind == TRAP_K_CR8_READ) {
        if (t->ops.cr8_read == NULL)
            return UCX_TRAP_NATIVE;
        trap_set(uc, gpr, (uint64_t)(t->ops.cr8_read(t->ctx, t->cpu) & 0xFu));
        return UCX_TRAP_DONE;
    }
    if (t->ops.cr8_write == NULL)
        return UCX_TRAP_NATIVE;
    /* The operand is 64-bit in 64-bit mode (always so with a REX), 32-bit
     * for the AMD alias outside long mode. */
    wide = in->rex || (trap_msr_native(uc, TRAP_MSR_EFER) & TRAP_EFER_LMA) != 0;
    v = trap_reg(uc, gpr);
    if (!wide)
        v &= 0xFFFFFFFFu;
    if (v & TRAP_CR8_RESERVED)
        return UCX_TRAP_GP;
    return t->ops.cr8_write(t->ctx, t->cpu, v);
}

static int trap_owned(const ucx_trap *t, enum trap_kind kind)
{
    switch (kind) {
    case TRAP_K_RDMSR:
        return t->ops.rdmsr != NULL;
    case TRAP_K_WRMSR:
        return t->ops.wrmsr != NULL;
    case TRAP_K_RDTSC:
    case TRAP_K_RDTSCP:
        return t->ops.rdtsc != NULL;
    default:
        return 0;
    }
}

static void trap_code_cb(uc_engine *uc, uint64_t address, uint32_t size,
                         void *user)
{
    ucx_trap *t = user;
    uint8_t b[TRAP_MAX_INSN];
    struct trap_insn in;
    int r;

    (void)uc;
    if (t->stop_noted || size == 0 || size > TRAP_MAX_INSN)
        return; /* a stop is in flight: it takes effect before this */
    if (trap_read(t, address, b, size) != 0 || !trap_decode(b, size, &in)) {
        t->st.not_trap++;
        return;
    }
    if (in.lock) {
        /* LOCK RDMSR/WRMSR/RDTSC/RDTSCP is #UD (SDM vol 2, each one's
         * exceptions), but Unicorn 2.0.1 runs them: raise it for the
         * instructions the host owns. */
        if (trap_owned(t, in.kind)) {
            trap_fault(t, address, TRAP_VEC_UD);
            return;
        }
        r = UCX_TRAP_NATIVE;
    } else if (in.kind == TRAP_K_RDTSC || in.kind == TRAP_K_RDTSCP)
        r = trap_tsc(t, in.kind);
    else if (trap_cpl(t->uc) != 0)
        r = UCX_TRAP_NATIVE; /* Unicorn raises #GP(0) itself */
    else if (in.kind == TRAP_K_RDMSR || in.kind == TRAP_K_WRMSR)
        r = trap_msr(t, in.kind);
    else
        r = trap_cr8(t, &in);
    trap_finish(t, r, address, size);
}

/* ------------------------------------------------------------------ */
/* CPUID                                                               */

/*
 * The native values come from the oracle, a second engine of the same CPU
 * model that runs one CPUID per cache miss. QEMU's CPUID also reflects
 * CR4.OSXSAVE (leaf 1 ECX[27]) and CR4.PKE (leaf 7 ECX[4] OSPKE), so CR4
 * is copied over and is part of the key. XCR0 (leaf 0xD EBX) is not
 * visible through Unicorn's API and is not mirrored.
 */
static int trap_cpuid_native(ucx_trap *t, uint32_t leaf, uint32_t subleaf,
                             uint32_t regs[4])
{
    static const int out[4] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,
                               UC_X86_REG_RDX};
    uint64_t cr4 = trap_reg(t->uc, UC_X86_REG_CR4);
    uint32_t bits = (uint32_t)(cr4 & (TRAP_CR4_OSXSAVE | TRAP_CR4_PKE));
    struct trap_cpuid *c =
        &t->cpuid_cache[trap_hash(((uint64_t)leaf << 32) | subleaf) &
                        (TRAP_CPUID_CACHE - 1)];
    unsigned i;

    if (c->used && c->leaf == leaf && c->subleaf == subleaf &&
        c->cr4bits == bits) {
        memcpy(regs, c->regs, sizeof c->regs);
        return 0;
    }
    trap_set(t->oracle, UC_X86_REG_CR4, bits);
    trap_set(t->oracle, UC_X86_REG_RAX, leaf);
    trap_set(t->oracle, UC_X86_REG_RCX, subleaf);
    if (uc_emu_start(t->oracle, TRAP_ORACLE_CODE, TRAP_ORACLE_CODE + 2, 0, 0) !=
        UC_ERR_OK)
        return -1;
    t->st.cpuid_oracle++;
    for (i = 0; i < 4; i++)
        regs[i] = (uint32_t)trap_reg(t->oracle, out[i]);
    c->leaf = leaf;
    c->subleaf = subleaf;
    c->cr4bits = bits;
    memcpy(c->regs, regs, sizeof c->regs);
    c->used = 1;
    return 0;
}

/* UC_HOOK_INSN CPUID: runs before the native CPUID; nonzero skips it. */
static int trap_cpuid_cb(uc_engine *uc, void *user)
{
    ucx_trap *t = user;
    uint32_t leaf = (uint32_t)trap_reg(uc, UC_X86_REG_RAX);
    uint32_t subleaf = (uint32_t)trap_reg(uc, UC_X86_REG_RCX);
    uint32_t regs[4];

    t->st.cpuid++;
    if (trap_cpuid_native(t, leaf, subleaf, regs) != 0)
        return 0; /* the native CPUID runs, unpatched */
    t->ops.cpuid(t->ctx, t->cpu, leaf, subleaf, regs);
    /* CPUID writes 32-bit results: the upper halves are cleared. */
    trap_set(uc, UC_X86_REG_RAX, regs[0]);
    trap_set(uc, UC_X86_REG_RBX, regs[1]);
    trap_set(uc, UC_X86_REG_RCX, regs[2]);
    trap_set(uc, UC_X86_REG_RDX, regs[3]);
    return 1;
}

static uc_err trap_oracle_open(ucx_trap *t)
{
    static const uint8_t code[2] = {0x0F, 0xA2}; /* cpuid */
    int model = -1;
    uc_err e = uc_open(UC_ARCH_X86, UC_MODE_64, &t->oracle);

    if (e != UC_ERR_OK) {
        t->oracle = NULL;
        return e;
    }
    /* The model must be set before the oracle's CPU exists. */
    if (uc_ctl(t->uc, trap_ctl(UC_CTL_CPU_MODEL, 1, UC_CTL_IO_READ), &model) ==
            UC_ERR_OK &&
        model >= 0)
        e = uc_ctl(t->oracle, trap_ctl(UC_CTL_CPU_MODEL, 1, UC_CTL_IO_WRITE),
                   model);
    if (e == UC_ERR_OK)
        e = uc_mem_map(t->oracle, TRAP_ORACLE_CODE, 0x1000, UC_PROT_ALL);
    if (e == UC_ERR_OK)
        e = uc_mem_write(t->oracle, TRAP_ORACLE_CODE, code, sizeof code);
    return e;
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                          */

static int trap_probe_cb(uc_engine *uc, void *user)
{
    (void)uc;
    (void)user;
    return 0;
}

/* Does this Unicorn accept an insn hook on insn? (Removed at once.)
 * Versions up to 2.1.4 are known to refuse them, and a refused
 * uc_hook_add leaks (~260 bytes in 2.0.1): those are not asked. The
 * version comes from the library at run time: uc_version() returns
 * major << 24 | minor << 16 | patch << 8 | extra. */
static int trap_probe(uc_engine *uc, int insn)
{
    uc_hook h;

    if ((uc_version(NULL, NULL) >> 8) <= 0x020104u)
        return 0;
    if (uc_hook_add(uc, &h, UC_HOOK_INSN,
                    trap_fn((void (*)(void))trap_probe_cb), NULL, 1, 0,
                    insn) != UC_ERR_OK)
        return 0;
    uc_hook_del(uc, h);
    return 1;
}

static unsigned trap_pow2(unsigned n)
{
    unsigned p = 1;

    while (p < n && p < (1u << 30))
        p <<= 1;
    return p;
}

static uc_err trap_alloc(ucx_trap *t, const ucx_trap_config *cfg)
{
    unsigned hooks =
        cfg != NULL && cfg->hook_capacity ? cfg->hook_capacity : 1024u;
    unsigned blocks =
        cfg != NULL && cfg->block_cache ? cfg->block_cache : 4096u;

    if (hooks > (1u << 24) || blocks > (1u << 24))
        return UC_ERR_ARG;
    t->range_limit = hooks;
    t->range_mask = trap_pow2(2 * hooks) - 1; /* load factor <= 1/2 */
    t->block_mask = trap_pow2(blocks) - 1;
    t->ranges = calloc((size_t)t->range_mask + 1, sizeof *t->ranges);
    t->blocks = calloc((size_t)t->block_mask + 1, sizeof *t->blocks);
    t->buf = malloc(TRAP_BUF);
    if (t->ranges == NULL || t->blocks == NULL || t->buf == NULL)
        return UC_ERR_NOMEM;
    return UC_ERR_OK;
}

static uc_err trap_install(ucx_trap *t)
{
    uc_err e;

    if (!(t->flags & UCX_TRAP_EXTERNAL_BLOCK)) {
        e = uc_hook_add(t->uc, &t->block_hook, UC_HOOK_BLOCK,
                        trap_fn((void (*)(void))trap_block_cb), t, 1, 0);
        if (e != UC_ERR_OK)
            return e;
        t->have_block_hook = 1;
    }
    if (t->ops.cpuid != NULL) {
        e = trap_oracle_open(t);
        if (e != UC_ERR_OK)
            return e;
        e = uc_hook_add(t->uc, &t->cpuid_hook, UC_HOOK_INSN,
                        trap_fn((void (*)(void))trap_cpuid_cb), t, 1, 0,
                        UC_X86_INS_CPUID);
        if (e != UC_ERR_OK)
            return e;
        t->have_cpuid_hook = 1;
    }
    return UC_ERR_OK;
}

ucx_trap *ucx_trap_attach(uc_engine *uc, unsigned cpu, const ucx_trap_ops *ops,
                          void *ctx, const ucx_trap_config *cfg, int *err)
{
    ucx_trap *t;
    uc_err e = UC_ERR_ARG;
    int mode = 0;

    if (uc == NULL || ops == NULL ||
        uc_ctl(uc, trap_ctl(UC_CTL_UC_MODE, 1, UC_CTL_IO_READ), &mode) !=
            UC_ERR_OK ||
        mode != UC_MODE_64)
        goto fail;
    e = UC_ERR_NOMEM;
    t = calloc(1, sizeof *t);
    if (t == NULL)
        goto fail;
    t->uc = uc;
    t->cpu = cpu;
    t->ops = *ops;
    t->ctx = ctx;
    t->flags = cfg != NULL ? cfg->flags : 0;
    t->st.native_msr_hooks = trap_probe(uc, UC_X86_INS_RDMSR);
    t->st.native_tsc_hooks = trap_probe(uc, UC_X86_INS_RDTSC);
    e = trap_alloc(t, cfg);
    if (e == UC_ERR_OK)
        e = trap_install(t);
    if (e == UC_ERR_OK) {
        if (err != NULL)
            *err = UC_ERR_OK;
        return t;
    }
    ucx_trap_detach(t);
fail:
    if (err != NULL)
        *err = (int)e;
    return NULL;
}

static void trap_free(ucx_trap *t)
{
    if (t->oracle != NULL)
        uc_close(t->oracle);
    free(t->ranges);
    free(t->blocks);
    free(t->buf);
    free(t);
}

void ucx_trap_detach(ucx_trap *t)
{
    unsigned i;

    if (t == NULL)
        return;
    if (t->have_block_hook)
        uc_hook_del(t->uc, t->block_hook);
    if (t->have_cpuid_hook)
        uc_hook_del(t->uc, t->cpuid_hook);
    for (i = 0; t->ranges != NULL && i <= t->range_mask; i++)
        if (t->ranges[i].used)
            uc_hook_del(t->uc, t->ranges[i].hook);
    trap_free(t);
}

void ucx_trap_discard(ucx_trap *t)
{
    if (t != NULL)
        trap_free(t);
}

int ucx_trap_take_stop(ucx_trap *t, uint64_t *rip, int *vector)
{
    int was;

    if (t == NULL)
        return 0;
    was = t->stop_pending;
    if (was) {
        if (rip != NULL)
            *rip = t->stop_rip;
        if (vector != NULL)
            *vector = t->stop_vector;
    }
    t->stop_pending = 0;
    t->stop_noted = 0; /* uc_emu_start has returned: no stop in flight */
    return was;
}

void ucx_trap_get_stats(const ucx_trap *t, ucx_trap_stats *out)
{
    if (t != NULL && out != NULL)
        *out = t->st;
}
