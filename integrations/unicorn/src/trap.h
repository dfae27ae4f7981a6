/*
 * trap.h - libintc-uc: the instructions Unicorn 2.0.1 cannot hook.
 *
 * A trap object sits on one Unicorn x86 engine (one guest CPU) and turns
 * RDMSR, WRMSR, RDTSC, RDTSCP, MOV to/from CR8 and CPUID into calls of a
 * host ops table, so that libintc can own the local APIC state behind
 * them (x2APIC MSRs, IA32_APIC_BASE, IA32_TSC_DEADLINE, TPR through CR8)
 * and time stays virtual.
 *
 * Not thread-safe: the caller serialises every call on a trap with the
 * engine it is attached to (the engine's hooks call back into it).
 *
 * Facts about Debian's Unicorn 2.0.1 this module rests on. Each is
 * re-checked by tests/test_trap.c (name of the check in brackets).
 *
 *  - UC_HOOK_INSN accepts only IN, OUT, SYSCALL, SYSENTER and CPUID on x86;
 *    UC_X86_INS_RDMSR, _WRMSR, _RDTSC, _RDTSCP give UC_ERR_HOOK
 *    [probe_native_hooks]. Natively MSR 0x1B, 0x6E0 and 0x800-0x8FF read 0
 *    and writes to them vanish; MOV CR8 writes vanish and reads give 0
 *    [native_msr_and_cr8]. uc_reg_read(UC_X86_REG_CR8) returns garbage
 *    (the value of an unrelated register), never use it.
 *  - So the trap intercepts these instructions lazily: on the first visit
 *    of a translation block (UC_HOOK_BLOCK, which runs before any
 *    instruction of the block and before the block's exit-request check)
 *    it reads the block's bytes, and for every byte pattern that could be
 *    one of them it adds a UC_HOOK_CODE bounded to exactly the addresses
 *    where that instruction could start (the opcode and the prefix bytes
 *    before it), drops the block from the translation cache
 *    (uc_ctl_remove_cache) and restarts it by writing RIP = block start.
 *    The code hook re-decodes the instruction at the address Unicorn gives
 *    it, with the length Unicorn gives it, and emulates only an exact match.
 *  - In a UC_HOOK_CODE callback RIP reads exactly the instruction's address.
 *    Writing RIP there makes Unicorn leave the block before the instruction
 *    and go on at the new RIP: the trapped instruction never runs natively
 *    [rdmsr_emulated]. Returning without writing RIP runs the instruction
 *    natively [efer_native]. uc_emu_stop() there ends uc_emu_start before
 *    the instruction, with RIP = the instruction's address [gp_fault].
 *  - The CPUID insn hook runs before the native CPUID, with RIP = the CPUID
 *    instruction. Returning 0 lets the native CPUID run and overwrite
 *    EAX..EDX (anything the hook wrote to them is lost); returning nonzero
 *    skips the native CPUID and RIP still advances past it [cpuid_protocol].
 *    To patch the native values the trap takes them from a private second
 *    engine of the same CPU model (the "oracle"; created at attach, run
 *    only on a cache miss) and returns nonzero.
 *  - Initial state of a UC_MODE_64 engine: CR0 = 0x11 (PE|ET, no paging),
 *    CR3 = CR4 = 0, EFER = 0x500 (LME|LMA), CS = SS = DS = 0 with 64-bit
 *    hidden descriptors, GDTR = IDTR = {0, 0}, RFLAGS = 0x2, RIP = 0.
 *    That is 64-bit mode with paging off (a state real hardware cannot be
 *    in): linear = physical, so uc_mem_read at RIP reads the code
 *    [initial_state]. Guests that turn paging on need ops.read_code.
 *  - Guest stores into a translated block on the same engine are caught by
 *    QEMU (the block is retranslated) but nothing tells the trap: see
 *    "Keeping the scan right" below [smc_same_engine].
 *  - Unicorn's own header macros UC_CTL_READ/_READ_WRITE shift into the
 *    sign bit of an int (undefined behaviour; UBSan stops on it): trap.c
 *    builds uc_ctl words itself. A refused uc_hook_add leaks ~260 bytes
 *    (tests/lsan.supp): the attach probes for native hooks only on
 *    Unicorn versions after 2.1.4 (uc_version() at run time), so on
 *    2.0.1 it leaks nothing.
 *
 * Decoding (Intel SDM vol 2, chapter 2.1-2.2 instruction format):
 *    RDMSR 0F 32, WRMSR 0F 30, RDTSC 0F 31, RDTSCP 0F 01 F9 (vol 2B/2C);
 *    MOV CR8, r64 = REX.R 0F 22 /r with ModRM.reg = 0, MOV r64, CR8 =
 *    REX.R 0F 20 /r (vol 2B "MOV - Move to/from Control Registers": mod is
 *    ignored, r/m + REX.B names the GPR, the operand is 64-bit in 64-bit
 *    mode whatever 66H/REX.W say). Legacy prefixes 66 67 F2 F3 2E 36 3E 26
 *    64 65 change none of these; a REX counts only right before 0F (SDM
 *    2.2.1), and only in 64-bit mode. LOCK (F0) makes RDMSR/WRMSR/RDTSC(P)
 *    #UD, but Unicorn 2.0.1 runs them as if unprefixed [lock_ignored]: the
 *    trap raises #UD (vector 6) through fault() for the instructions the
 *    host owns. LOCK MOV CR0 is AMD's CR8 alias (CPUID 8000_0001 ECX[4]
 *    CR8_LEGACY, which Unicorn reports): treated as CR8, as QEMU does.
 *
 * Privilege: at CPL > 0 RDMSR, WRMSR and MOV CR8 (and RDTSC/RDTSCP with
 * CR4.TSD = 1) are left native: Unicorn's own check raises #GP, which
 * arrives at the host like any other exception (UC_HOOK_INTR).
 */
#ifndef UCX_TRAP_H
#define UCX_TRAP_H

#include <stddef.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Results of rdmsr, wrmsr and cr8_write. */
enum {
    UCX_TRAP_GP = -1,      /* raise #GP(0) at the instruction */
    UCX_TRAP_DONE = 0,     /* emulated; the trap sets RIP past it */
    UCX_TRAP_NATIVE = 1,   /* not ours: Unicorn runs the instruction */
    UCX_TRAP_DONE_STOP = 2 /* emulated; end uc_emu_start right after it */
};

typedef struct ucx_trap ucx_trap;

/*
 * Host callbacks; ctx is the pointer given to ucx_trap_attach, cpu its
 * cpu number. Every member may be NULL (the default is said for each).
 * Callbacks run inside Unicorn hooks: they may read and write guest
 * registers and memory but must not call uc_emu_stop (return
 * UCX_TRAP_DONE_STOP instead: Unicorn drops a stop made in the same hook
 * as a RIP write) and must not write RIP except as fault() allows.
 */
typedef struct ucx_trap_ops {
    /* RDMSR (SDM vol 2B): ECX = msr; on UCX_TRAP_DONE(_STOP) *val goes
     * to EDX:EAX (upper halves of RDX/RAX cleared). NULL: all native. */
    int (*rdmsr)(void *ctx, unsigned cpu, uint32_t msr, uint64_t *val);
    /* WRMSR (SDM vol 2C): val = EDX:EAX. NULL: all native. */
    int (*wrmsr)(void *ctx, unsigned cpu, uint32_t msr, uint64_t val);
    /* RDTSC/RDTSCP value. RDTSCP's ECX is IA32_TSC_AUX: rdmsr(0xC0000103)
     * if that returns UCX_TRAP_DONE, else Unicorn's own TSC_AUX.
     * NULL: both native (host TSC). */
    uint64_t (*rdtsc)(void *ctx, unsigned cpu);
    /* MOV from CR8: return TPR[7:4] (SDM vol 3A 10.8.6.1 / 11.8.6.1:
     * CR8[3:0] = TPR[7:4]); only the low 4 bits are used. NULL (with
     * cr8_write NULL): MOV CR8 native. */
    uint8_t (*cr8_read)(void *ctx, unsigned cpu);
    /* MOV to CR8 with v in 0..15: the trap itself raises #GP(0) when bits
     * 63:4 of the source are set (SDM vol 3A 10.8.6.1) before calling. */
    int (*cr8_write)(void *ctx, unsigned cpu, uint64_t v);
    /* CPUID: regs = {EAX, EBX, ECX, EDX} as Unicorn's CPUID computes them
     * for (leaf, subleaf); patch in place. NULL: no CPUID hook at all. */
    void (*cpuid)(void *ctx, unsigned cpu, uint32_t leaf, uint32_t subleaf,
                  uint32_t regs[4]);
    /* An exception at the trapped instruction at rip (RIP not advanced,
     * the instruction has had no effect): vector 13 (#GP, error 0) or 6
     * (#UD, no error code; error is then 0). Return 0 to have the trap stop
     * the engine (uc_emu_start returns with RIP = rip; the host delivers
     * the exception through the guest IDT and resumes), or 1 if the
     * callback has already redirected the CPU itself (written RIP to the
     * handler after pushing the frame). NULL: as if it returned 0. */
    int (*fault)(void *ctx, unsigned cpu, unsigned vector, uint32_t error,
                 uint64_t rip);
    /* Read len bytes of code at linear address va. Return 0 on success.
     * NULL: uc_mem_read(va), right while linear = physical (paging off or
     * identity-mapped code). */
    int (*read_code)(void *ctx, unsigned cpu, uint64_t va, void *buf,
                     size_t len);
    /* The base of CS now (the hidden one: a real-mode CS left over from
     * protected mode keeps its descriptor's base), to turn the linear
     * address lin of a hook into RIP. NULL: CS << 4 in real and
     * virtual-8086 mode, 0 in protected and long mode (flat code
     * segments). */
    uint64_t (*cs_base)(void *ctx, unsigned cpu, uint64_t lin);
} ucx_trap_ops;

/* ucx_trap_config.flags */
enum {
    /* Do not install the trap's own UC_HOOK_BLOCK: the host calls
     * ucx_trap_block() from its block hook. Use this whenever the host has
     * a block hook that may call uc_emu_stop (see ucx_trap_block). */
    UCX_TRAP_EXTERNAL_BLOCK = 1u << 0
};

typedef struct ucx_trap_config {
    unsigned flags;
    unsigned hook_capacity; /* distinct hooked ranges before a reset;
                               0: 1024 */
    unsigned block_cache;   /* scanned-block cache entries (rounded up to
                               a power of two); 0: 4096 */
} ucx_trap_config;

typedef struct ucx_trap_stats {
    uint64_t blocks_scanned; /* scan-cache misses */
    uint64_t restarts;       /* blocks dropped and restarted */
    uint64_t hooks_added;    /* UC_HOOK_CODE hooks ever added */
    uint64_t hooks_live;     /* hooks now installed */
    uint64_t resets;         /* hook table overflows (all hooks dropped) */
    uint64_t emulated;       /* instructions emulated */
    uint64_t native;         /* exact matches left to Unicorn */
    uint64_t not_trap;       /* code hook fired on a non-match */
    uint64_t faults;         /* #GP reported through ops.fault */
    uint64_t cpuid;          /* CPUID hook calls */
    uint64_t cpuid_oracle;   /* oracle runs (cache misses) */
    int native_msr_hooks;    /* 1: this Unicorn accepts RDMSR insn hooks */
    int native_tsc_hooks;    /* 1: this Unicorn accepts RDTSC insn hooks */
} ucx_trap_stats;

/*
 * Attach a trap to engine uc (UC_ARCH_X86, UC_MODE_64; it may run 16-,
 * 32- or 64-bit code) as CPU cpu. ops is copied; ctx is passed back
 * unchanged; cfg may be NULL for the defaults. Probes for native MSR and
 * TSC insn hooks on Unicorn versions after 2.1.4 (reported in the stats;
 * 2.0.1 has neither, and the scan path is used whatever the probe says,
 * because it is correct on every version). Call before the first uc_emu_start, or call ucx_trap_flush
 * and uc_ctl_flush_tlb after attaching to a running engine.
 * Returns NULL and sets *err (a uc_err; UC_ERR_NOMEM, UC_ERR_ARG, or
 * what Unicorn returned) on failure; err may be NULL.
 */
ucx_trap *ucx_trap_attach(uc_engine *uc, unsigned cpu, const ucx_trap_ops *ops,
                          void *ctx, const ucx_trap_config *cfg, int *err);

/* Remove all hooks and free t; before uc_close(uc). Not from inside a
 * hook. NULL is a no-op. */
void ucx_trap_detach(ucx_trap *t);
/* Free the trap of an engine the caller closes next, without deleting
 * its hooks (uc_close frees them): Unicorn 2.0.1's uc_hook_del drops the
 * code translated under each hook, translating its linear address
 * through the guest's paging as the CPU left it, which after wild guest
 * code can crash inside Unicorn (seen: page_collection_lock). */
void ucx_trap_discard(ucx_trap *t);

/*
 * The host's block hook calls this (UCX_TRAP_EXTERNAL_BLOCK) with the
 * hook's address and size arguments (never RIP: it is stale in a block
 * hook). Returns 1 when the block was dropped from the cache and must be
 * restarted: the host then either writes RIP = address, or, if it ends
 * the slice here anyway, calls uc_emu_stop (not both: Unicorn loses the
 * stop) and resumes at address. Returns 0 otherwise.
 */
int ucx_trap_block(ucx_trap *t, uint64_t address, uint32_t size);

/*
 * Keeping the scan right. The trap remembers which blocks it has scanned;
 * a block whose bytes change after its scan keeps its old hooks. Call
 * ucx_trap_flush whenever code may have changed: after writing guest code
 * with uc_mem_write, after another engine wrote RAM this engine runs code
 * from (together with uc_ctl_remove_cache on this engine), on INIT/SIPI,
 * and after the guest wrote code on this very engine (QEMU retranslates,
 * but the trap cannot see it). Hooks stay: a hook on an address that no
 * longer holds a trapped instruction is harmless (the code hook re-decodes
 * and finds no match), and a re-scan never adds a hook twice.
 */
void ucx_trap_flush(ucx_trap *t);

/*
 * Tell the trap that the host called uc_emu_stop from a callback (MMIO,
 * block hook...) during the current uc_emu_start. Until ucx_trap_take_stop
 * is called after uc_emu_start returns, the trap leaves trapped
 * instructions alone (Unicorn stops before them) and makes no restart RIP
 * write, so the stop is kept: Unicorn drops a stop when RIP is written
 * after it. CPUID is still patched (no RIP write is involved).
 */
void ucx_trap_note_stop(ucx_trap *t);

/*
 * Call after every uc_emu_start returns (it also ends a noted stop, see
 * ucx_trap_note_stop). Returns 1 if the trap stopped the engine (a fault
 * reported with fault() returning 0, or UCX_TRAP_DONE_STOP), with *rip
 * the address to resume at (the faulting instruction, or the one after
 * the emulated instruction) and *vector the exception (or -1 for a
 * DONE_STOP). Clears the record. 0 if the trap did not stop the engine.
 * The host must write RIP = *rip itself (Unicorn leaves RIP at the
 * trapped instruction).
 */
int ucx_trap_take_stop(ucx_trap *t, uint64_t *rip, int *vector);

void ucx_trap_get_stats(const ucx_trap *t, ucx_trap_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* UCX_TRAP_H */
