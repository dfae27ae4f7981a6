/*
 * libintc-uc — the machine: Unicorn engines, shared RAM, libintc inside,
 * the hooks, the deterministic scheduler.  See include/intc/uc.h.
 *
 * Unicorn 2.0.1 facts this file designs around (each was reproduced):
 *  1. RIP read inside UC_HOOK_BLOCK is stale for chained blocks: the
 *     hook's address argument is the truth.
 *  2. Writing RIP and calling uc_emu_stop() in the same hook loses the
 *     stop: this file never writes RIP while an engine runs.
 *  3. After uc_emu_stop() from a block hook, RIP is the block start only
 *     if no UC_HOOK_CODE exists: the stop address is recorded and written
 *     back after uc_emu_start() returns.
 *  HLT makes uc_emu_start() return UC_ERR_OK with RIP after the HLT and
 *  no reason: the stop reasons are ours (cpu.hook_stopped).
 */
#include <stdlib.h>
#include <string.h>

#include "uc_priv.h"

#define RFLAGS_IF (1ull << 9)
#define NO_TIME UINT64_MAX

/* ------------------------------------------------------------------ */
/* Events and stops                                                    */

void intc_uc__emit(intc_uc *m, uc_cpu *c, intc_uc_event_type type,
                   int32_t vector, uint64_t rip, uint64_t data,
                   uint64_t data2)
{
    if (!m->cfg.event)
        return;
    intc_uc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.cpu = c ? c->index : INTC_NO_CPU;
    uc_cpu *clock = c ? c : m->serviced;
    ev.time_ns = clock ? clock->clock : 0;
    ev.insns = c ? c->insns : m->insns_total;
    ev.vector = vector;
    ev.rip = rip;
    ev.data = data;
    ev.data2 = data2;
    m->in_callback++;
    m->cfg.event(m->cfg.user, &ev);
    m->in_callback--;
}

static bool stop_is_resumable(intc_uc_stop r)
{
    /* ALL_HALTED too: a device model may raise a line or send an MSI
       and run again (the woken CPU resumes after its HLT). */
    return r == INTC_UC_STOP_INSN_LIMIT || r == INTC_UC_STOP_TIME_LIMIT ||
           r == INTC_UC_STOP_REQUESTED || r == INTC_UC_STOP_ALL_HALTED;
}

static uint64_t cpu_rip(uc_cpu *c)
{
    uint64_t rip = 0;
    uc_reg_read(c->uc, UC_X86_REG_RIP, &rip);
    return rip;
}

void intc_uc__stop(intc_uc *m, intc_uc_stop reason, uc_cpu *c, uint64_t code)
{
    if (m->stop.reason != INTC_UC_STOP_NONE)
        return; /* the first stop wins */
    m->stop.reason = reason;
    m->stop.cpu = c ? c->index : INTC_NO_CPU;
    m->stop.code = code;
    /* A running engine's RIP is only known once it has stopped; the run
       loop fills it in then (run_slice). */
    m->stop.rip = (c && m->running != c) ? cpu_rip(c) : 0;
    m->stop.time_ns = c ? c->clock : (m->serviced ? m->serviced->clock : 0);
    m->terminal = !stop_is_resumable(reason);
    if (m->running)
        m->running->stop_req |= UC_STOP_MACHINE;
}

/* ------------------------------------------------------------------ */
/* libintc host ops                                                    */

static uc_cpu *current_cpu(intc_uc *m)
{
    return m->running ? m->running : m->serviced;
}

static void h_kick(void *host, uint32_t cpu)
{
    intc_uc *m = host;
    if (cpu >= m->n_cpus)
        return;
    uc_cpu *t = &m->cpus[cpu];
    uc_cpu *cur = current_cpu(m);
    if (t == cur)
        return; /* the block hook polls its own CPU's pending() */
    /* A halted or waiting CPU is woken at the sender's time. */
    if (cur && t->state != INTC_UC_CPU_RUNNING && t->clock < cur->clock)
        t->clock = cur->clock;
    t->kicked = true;
    /* End the sender's slice so the target runs next (without this, IPI
       latency would be the quantum). */
    if (m->running)
        m->running->stop_req |= UC_STOP_SLICE;
}

static uint64_t h_now(void *host, uint32_t cpu)
{
    intc_uc *m = host;
    uc_cpu *c = cpu < m->n_cpus ? &m->cpus[cpu] : current_cpu(m);
    if (!c)
        return 0;
    if (c->clock > c->now_read)
        c->now_read = c->clock;
    return c->now_read;
}

static void h_timer_arm(void *host, uint32_t cpu, uint64_t deadline)
{
    intc_uc *m = host;
    if (cpu >= m->n_cpus)
        return;
    m->cpus[cpu].deadline = deadline;
    /* A slice ends at the earliest deadline of any CPU. */
    if (m->running && deadline < m->running->slice_end)
        m->running->slice_end = deadline;
}

static int h_dma_read(void *host, uint64_t addr, void *buf, size_t len)
{
    intc_uc *m = host;
    if (addr > m->ram_size || len > m->ram_size - addr)
        return -1;
    memcpy(buf, m->ram + addr, len);
    return 0;
}

static int h_dma_write(void *host, uint64_t addr, const void *buf, size_t len)
{
    intc_uc *m = host;
    if (addr > m->ram_size || len > m->ram_size - addr)
        return -1;
    memcpy(m->ram + addr, buf, len);
    return 0;
}

static void h_event(void *host, const intc_event *iev)
{
    intc_uc *m = host;
    if (!m->cfg.event)
        return;
    uc_cpu *c = iev->cpu < m->n_cpus ? &m->cpus[iev->cpu] : NULL;
    intc_uc_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = INTC_UC_EV_INTC;
    ev.cpu = iev->cpu;
    /* The time of a libintc event is its cause's: the CPU being run or
       serviced (an IPI reaches a halted target at the sender's time). */
    uc_cpu *clock = current_cpu(m) ? current_cpu(m) : c;
    ev.time_ns = clock ? clock->clock : 0;
    ev.insns = c ? c->insns : m->insns_total;
    ev.vector = iev->vector;
    ev.intc = *iev;
    m->in_callback++;
    m->cfg.event(m->cfg.user, &ev);
    m->in_callback--;
}

static void h_apic_base(void *host, uint32_t cpu, uint64_t base)
{
    intc_uc *m = host;
    if (cpu >= m->n_cpus)
        return;
    uc_cpu *c = &m->cpus[cpu];
    c->apic_base = base;
    c->remap_pending = true;
    /* Moved before the guest's next access: the CPU leaves its slice at
       the next block boundary (the WRMSR that moved it ends its block
       when the trap module writes RIP) and prepare() moves the page. */
    if (m->running == c)
        c->stop_req |= UC_STOP_REMAP;
}

/* ------------------------------------------------------------------ */
/* MMIO: Local APIC page, IOAPICs, device windows                      */

static uint64_t lapic_read(uc_engine *uc, uint64_t off, unsigned size,
                           void *ud)
{
    (void)uc;
    uc_cpu *c = ud;
    uint64_t v = 0;
    intc_err e = intc_lapic_mmio_read(c->lapic, (uint32_t)off, size, &v);
    if (e == INTC_ERR_NOT_DECODED)
        return size >= 8 ? UINT64_MAX : ((1ull << (8 * size)) - 1);
    return e == INTC_OK ? v : 0;
}

static void lapic_write(uc_engine *uc, uint64_t off, unsigned size,
                        uint64_t val, void *ud)
{
    (void)uc;
    uc_cpu *c = ud;
    /* An 8-byte store arrives as two 4-byte calls, low half first;
       libintc defines both halves (lapic.h).  Not decoded: dropped. */
    (void)intc_lapic_mmio_write(c->lapic, (uint32_t)off, size, val);
}

static uint64_t ioapic_read(uc_engine *uc, uint64_t off, unsigned size,
                            void *ud)
{
    (void)uc;
    uc_ioapic_ctx *x = ud;
    uint64_t v = 0;
    /* libintc decodes 0x00-0xFF; the rest of the page reads 0. */
    if (off + size > 0x100)
        return 0;
    intc_ioapic *io = intc_machine_ioapic(x->m->intc, x->index);
    if (intc_ioapic_mmio_read(io, (uint32_t)off, size, &v) != INTC_OK)
        return 0;
    return v;
}

static void ioapic_write(uc_engine *uc, uint64_t off, unsigned size,
                         uint64_t val, void *ud)
{
    (void)uc;
    uc_ioapic_ctx *x = ud;
    if (off + size > 0x100)
        return;
    intc_ioapic *io = intc_machine_ioapic(x->m->intc, x->index);
    (void)intc_ioapic_mmio_write(io, (uint32_t)off, size, val);
}

static uint64_t dev_read(uc_engine *uc, uint64_t off, unsigned size,
                         void *ud)
{
    (void)uc;
    uc_mmio_ctx *x = ud;
    uc_mmio *w = &x->m->mmio[x->window];
    if (!w->ops.read)
        return 0;
    x->m->in_callback++;
    uint64_t v = w->ops.read(w->opaque, x->cpu, off, size);
    x->m->in_callback--;
    return v;
}

static void dev_write(uc_engine *uc, uint64_t off, unsigned size,
                      uint64_t val, void *ud)
{
    (void)uc;
    uc_mmio_ctx *x = ud;
    uc_mmio *w = &x->m->mmio[x->window];
    if (!w->ops.write)
        return;
    x->m->in_callback++;
    w->ops.write(w->opaque, x->cpu, off, size, val);
    x->m->in_callback--;
}

/* Whether [gpa, gpa + size) overlaps RAM, an IOAPIC or a device window. */
static bool range_taken(const intc_uc *m, uint64_t gpa, uint64_t size)
{
    if (gpa < m->ram_size)
        return true;
    if (gpa + size > UC_RESET_PAGE && gpa < UC_RESET_PAGE + UC_RESET_SIZE)
        return true; /* each engine's reset page (realmode.c) */
    uint64_t io_end = INTC_UC_IOAPIC_BASE +
                      INTC_UC_IOAPIC_STRIDE * (uint64_t)m->n_ioapics;
    if (gpa < io_end && gpa + size > INTC_UC_IOAPIC_BASE)
        return true;
    for (uint32_t i = 0; i < m->n_mmio; i++)
        if (gpa < m->mmio[i].gpa + m->mmio[i].size &&
            gpa + size > m->mmio[i].gpa)
            return true;
    return false;
}

/* Put the CPU's APIC page where IA32_APIC_BASE says (SDM 11.4.5).  The
   page stays mapped while not decoded (reads all ones); it is absent
   only when its address collides with something else. */
static bool apply_remap(uc_cpu *c)
{
    intc_uc *m = c->m;
    c->remap_pending = false;
    uint64_t want = c->apic_base & 0x000ffffffffff000ull;
    bool decoded = (c->apic_base & INTC_APIC_BASE_EN) &&
                   !(c->apic_base & INTC_APIC_BASE_EXTD);
    if (want == c->apic_page)
        return true;
    if (c->apic_page != NO_TIME)
        uc_mem_unmap(c->uc, c->apic_page, 0x1000);
    c->apic_page = NO_TIME;
    if (range_taken(m, want, 0x1000)) {
        if (decoded) {
            intc_uc__stop(m, INTC_UC_STOP_UNSUPPORTED, c,
                          INTC_UC_UNSUP_APIC_BASE);
            return false;
        }
        return true;
    }
    if (uc_mmio_map(c->uc, want, 0x1000, lapic_read, c, lapic_write, c) !=
        UC_ERR_OK) {
        intc_uc__stop(m, INTC_UC_STOP_UNSUPPORTED, c,
                      INTC_UC_UNSUP_APIC_BASE);
        return false;
    }
    c->apic_page = want;
    return true;
}

/* ------------------------------------------------------------------ */
/* Port I/O                                                            */

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
                   void *ud)
{
    (void)uc;
    uc_cpu *c = ud;
    intc_uc *m = c->m;
    if (port == INTC_UC_PORT_CONSOLE) {
        if (m->cfg.console) {
            m->in_callback++;
            m->cfg.console(m->cfg.user, c->index, (uint8_t)value);
            m->in_callback--;
        }
    } else if (port == INTC_UC_PORT_EXIT) {
        uint32_t mask = size >= 4 ? UINT32_MAX : ((1u << (8 * size)) - 1);
        intc_uc__stop(m, INTC_UC_STOP_EXIT, c, value & mask);
    }
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
    (void)uc;
    (void)port;
    (void)ud;
    return size >= 4 ? UINT32_MAX : ((1u << (8 * size)) - 1);
}

/* ------------------------------------------------------------------ */
/* Instruction counting and the block hook                             */

/* uc_ctl() control words, computed in unsigned arithmetic: Unicorn's
   UC_CTL() macro shifts a signed 3 into bit 31 (undefined behaviour in
   C, caught by UBSan).  Same values: type | nr << 26 | rw << 30. */
static uc_control_type ctl_word(uint32_t type, uint32_t nr, uint32_t rw)
{
    return (uc_control_type)(type | (nr << 26) | (rw << 30));
}

static uc_err tb_request(uc_engine *uc, uint64_t pc, uc_tb *tb)
{
    return uc_ctl(uc, ctl_word(UC_CTL_TB_REQUEST_CACHE, 2, 3u), pc, tb);
}

uc_err intc_uc__tb_remove(uc_engine *uc, uint64_t begin, uint64_t end)
{
    return uc_ctl(uc, ctl_word(UC_CTL_TB_REMOVE_CACHE, 2, 1u), begin, end);
}

static void forget_blocks(uc_cpu *c)
{
    memset(c->blocks, 0, sizeof(uc_block) * UC_BLOCK_CACHE);
    ucx_trap_flush(c->trap); /* its scans go with the code */
    /* Drop the code translated from RAM.  Not UC_CTL_TB_FLUSH: in
       2.0.1 it touches the engine's whole 1 GiB code buffer (1 GiB of
       RSS per engine, seconds of page faults); removing by range costs
       ~0.1 ms per 16 MiB and leaves RSS alone (measured). */
    intc_uc__tb_remove(c->uc, 0, c->m->ram_size);
}

static const uc_block *block_info(uc_cpu *c, uint64_t pc, uint32_t size)
{
    uint32_t h = (uint32_t)((pc * 0x9e3779b97f4a7c15ull) >> 52) &
                 (UC_BLOCK_CACHE - 1);
    uc_block *b = &c->blocks[h];
    if (b->size == size && b->pc == pc && size != 0)
        return b;
    uc_tb tb;
    uint16_t icount = 1;
    /* The block being run is in Unicorn's cache: this is a lookup. */
    if (tb_request(c->uc, pc, &tb) == UC_ERR_OK && tb.icount)
        icount = tb.icount;
    b->pc = pc;
    b->size = size;
    b->icount = icount;
    b->last = b->prev = 0;
    uint64_t gpa;
    if (size && intc_uc__translate(c, pc + size - 1, false, &gpa))
        b->last = c->m->ram[gpa];
    if (size > 1 && intc_uc__translate(c, pc + size - 2, false, &gpa))
        b->prev = c->m->ram[gpa];
    return b;
}

/* Take the instructions of the current block from rip on off the count:
   they did not run as part of it (a fault at rip, or the trap module
   redirecting there). */
static void uncount_tail(uc_cpu *c, uint64_t rip)
{
    if (rip < c->cur_pc || rip >= c->cur_end || !c->cur_icount)
        return;
    uint64_t n = 0;
    uc_tb tb;
    if (rip == c->cur_pc)
        n = c->cur_icount;
    else if (tb_request(c->uc, rip, &tb) == UC_ERR_OK)
        n = tb.icount;
    if (n > c->cur_icount)
        n = c->cur_icount;
    c->cur_icount = (uint16_t)(c->cur_icount - n);
    c->cur_end = rip;
    c->insns -= n;
    c->m->insns_total -= n;
    /* The clock never goes back past a value libintc has read. */
    uint64_t back = n * c->m->cfg.insn_ns;
    c->clock = c->clock - back < c->now_read ? c->now_read
                                               : c->clock - back;
}

static bool read_if(uc_cpu *c)
{
    uint64_t fl = 0;
    uc_reg_read(c->uc, UC_X86_REG_RFLAGS, &fl);
    return (fl & RFLAGS_IF) != 0;
}

/* The STI shadow (SDM 6.8.3): the one instruction after an STI that set
   IF.  Unicorn ends a block after STI, so STI is a block's last byte,
   FB; but so is the displacement of a short jump back by 5 (75 FB,
   `dec rcx; jnz 1b`).  A block ending in FB that started with IF = 0
   (sti_cand) was an STI if IF is 1 after it. */
static bool sti_shadow(uc_cpu *c)
{
    if (c->sti_cand) {
        c->sti_cand = false;
        c->after_sti = read_if(c);
    }
    return c->after_sti;
}

/* A short jump's opcode (Jcc rel8, JMP rel8, LOOPcc/JCXZ): a block's last
   byte after it is the jump's displacement, not an instruction. */
static bool short_jump_opcode(uint8_t b)
{
    return (b >= 0x70 && b <= 0x7f) || b == 0xeb || (b >= 0xe0 && b <= 0xe3);
}

/* Whether the running CPU should leave its slice to take something. */
static bool wants_delivery(uc_cpu *c)
{
    unsigned p = intc_lapic_pending(c->lapic);
    if (!p)
        return false;
    if (p & (INTC_PEND_INIT | INTC_PEND_SIPI | INTC_PEND_SMI))
        return true;
    if ((p & INTC_PEND_NMI) && !c->nmi_blocked)
        return true;
    if (p & INTC_PEND_INTR)
        return read_if(c);
    return false;
}

static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
    uc_cpu *c = ud;
    intc_uc *m = c->m;

    /* intc_uc__real_far_jump, task.c's IRET: one block, uncounted. */
    if (c->far_jump) {
        if (addr != c->far_jump_at || c->far_jump_ran) {
            ucx_trap_note_stop(c->trap); /* the trap must not undo it */
            uc_emu_stop(uc);
        }
        c->far_jump_ran = true;
        return;
    }
    if (c->hook_stopped)
        return;
    /* The trap module emulated an instruction and wrote RIP past it:
       this block starts there, and the rest of the last block did not
       run as part of it. */
    if (c->trap_cut) {
        c->trap_cut = false;
        uncount_tail(c, addr);
    }
    /* The previous block has run.  IRET ends NMI blocking (SDM 6.7.1). */
    if (c->after_iret) {
        c->after_iret = false;
        c->nmi_blocked = false;
    }
    bool first = c->first_block;
    c->first_block = false;
    if (c->stop_req || c->clock >= c->slice_end ||
        m->insns_total >= m->insn_limit || m->stop_requested)
        goto stop;
    /* The block after one ending in STI (FB) is the one instruction of
       the STI shadow (6.8.3): no interrupt before it.  The first block
       of a slice always runs, so a slice always makes progress. */
    if (!first && !sti_shadow(c) && wants_delivery(c))
        goto stop;
    /* First visit since the last flush: the trap module scans the block
       and, when it hooked a trapped instruction in it, dropped it from
       Unicorn's cache; restart it (a RIP write, no stop: trap.h). */
    if (ucx_trap_block(c->trap, addr, size)) {
        c->first_block = first;
        uint64_t ip = addr - intc_uc__cs_base(c, addr);
        uc_reg_write(uc, UC_X86_REG_RIP, &ip);
        return;
    }

    const uc_block *b = block_info(c, addr, size);
    c->sti_cand = b->last == 0xfb && !read_if(c);
    c->after_sti = false;
    /* IRET (CF, 48 CF) ends its block; CF after a short jump's opcode is
       a displacement (a jump back by 49).  An IRET right after a byte
       that happens to equal such an opcode (e.g. `push 0x75; iretd`) is
       missed: NMI then stays blocked until the next IRET. */
    c->after_iret = b->last == 0xcf && !short_jump_opcode(b->prev);
    c->cur_pc = addr;
    c->cur_end = addr + size;
    c->cur_icount = b->icount;
    c->insns += b->icount;
    m->insns_total += b->icount;
    c->clock += (uint64_t)b->icount * m->cfg.insn_ns;
    return;

stop:
    /* Corruption 1: addr, not RIP, is where this block starts. */
    c->hook_stopped = true;
    c->stop_pc = addr;
    ucx_trap_note_stop(c->trap); /* keep the stop: no RIP write now */
    uc_emu_stop(uc);
}

/* Exceptions and INT n: Unicorn never vectors through the IDT. */
static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
    uc_cpu *c = ud;
    uint64_t rip = 0;
    if (c->far_jump) { /* inside library-borrowed code: not the guest's */
        c->far_jump_fault = true;
        return;
    }
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    /* RIP is IP in real mode (F3); code addresses are linear. */
    uint64_t lin = rip + intc_uc__cs_base(c, c->cur_pc);
    uint8_t v = (uint8_t)intno;
    unsigned kind = INTC_UC_KIND_EXCEPTION;
    uint8_t ib[2] = {0, 0};
    uint64_t gpa;
    /* Trap-like software interrupts leave RIP after the instruction:
       CD ib (INT n), CC (INT3), CE (INTO), F1 (INT1). */
    if (lin >= 2 && intc_uc__translate(c, lin - 2, false, &gpa) &&
        gpa + 1 < c->m->ram_size) {
        ib[0] = c->m->ram[gpa];
        ib[1] = c->m->ram[gpa + 1];
    }
    c->exc_ilen = 0;
    if (ib[0] == 0xcd && ib[1] == v)
        c->exc_ilen = 2;
    else if ((ib[1] == 0xcc && v == 3) || (ib[1] == 0xce && v == 4))
        c->exc_ilen = 1;
    if (c->exc_ilen)
        kind = INTC_UC_KIND_SOFTWARE;
    else if (!(ib[1] == 0xf1 && v == 1))
        uncount_tail(c, lin); /* a fault: the rest did not run */
    /* INT1 (F1) is a #DB trap after it, not a software interrupt: no
       gate DPL check (SDM 6.12.1.1), benign for table 6-5. */
    c->exc_pending = true;
    c->exc_vector = v;
    c->exc_kind = kind;
    c->exc_has_err =
        kind == INTC_UC_KIND_EXCEPTION && intc_uc__has_error_code(v);
    /* The error code Unicorn computed (a #GP's selector, #PF's P/W/U/I
       bits, SDM 6.13, 4.7) and the end of QEMU's delivery tracking
       (cpustate.c); 0 when the hidden state is not readable. */
    uint32_t err = 0;
    (void)intc_uc__state_exception(c, &err);
    c->exc_err = c->exc_has_err ? err : 0;
    c->exc_rip = rip;
    c->stop_req |= UC_STOP_EXC;
}

/* ------------------------------------------------------------------ */
/* The trap module's host ops (trap.h); ctx is the uc_cpu              */

/* The hook points answer 0 (handled), 1 (not ours), -1 (#GP(0)).  When
   handled, the trap module writes RIP past the instruction: the next
   block starts inside the one counted (trap_cut). */
static int trap_answer(uc_cpu *c, int r)
{
    if (r == 0) {
        c->trap_cut = true;
        return UCX_TRAP_DONE;
    }
    return r < 0 ? UCX_TRAP_GP : UCX_TRAP_NATIVE;
}

static int t_rdmsr(void *ctx, unsigned cpu, uint32_t msr, uint64_t *val)
{
    uc_cpu *c = ctx;
    return trap_answer(c, intc_uc_trap_msr_read(c->m, cpu, msr, val));
}

static int t_wrmsr(void *ctx, unsigned cpu, uint32_t msr, uint64_t val)
{
    uc_cpu *c = ctx;
    return trap_answer(c, intc_uc_trap_msr_write(c->m, cpu, msr, val));
}

static uint64_t t_rdtsc(void *ctx, unsigned cpu)
{
    uc_cpu *c = ctx;
    c->trap_cut = true; /* always emulated once asked */
    return intc_uc_trap_tsc(c->m, cpu, NULL);
}

static uint8_t t_cr8_read(void *ctx, unsigned cpu)
{
    uc_cpu *c = ctx;
    uint64_t v = 0;
    c->trap_cut = true;
    (void)intc_uc_trap_cr8_read(c->m, cpu, &v);
    return (uint8_t)(v & 0xf);
}

static int t_cr8_write(void *ctx, unsigned cpu, uint64_t v)
{
    uc_cpu *c = ctx;
    return trap_answer(c, intc_uc_trap_cr8_write(c->m, cpu, v));
}

/* CPUID is serializing (SDM vol 3A 9.1.3, cross-modifying code: the
   CPU that runs code another CPU wrote must execute CPUID, or another
   serializing instruction, after the write and before the code).  So
   CPUID forgets this CPU's translations, its scans and its cached block
   counts; with one CPU only the scans and counts (Unicorn itself sees
   this engine's own stores into translated code). */
static void t_cpuid(void *ctx, unsigned cpu, uint32_t leaf, uint32_t subleaf,
                    uint32_t regs[4])
{
    uc_cpu *c = ctx;
    intc_uc_trap_cpuid(c->m, cpu, leaf, subleaf, regs);
    if (c->m->n_cpus > 1) {
        forget_blocks(c);
    } else {
        memset(c->blocks, 0, sizeof(uc_block) * UC_BLOCK_CACHE);
        ucx_trap_flush(c->trap);
    }
}

/* #GP(0) from libintc (a reserved MSR, a reserved bit, a bad
   IA32_APIC_BASE transition) or #UD (LOCK RDMSR...): recorded here,
   delivered before the CPU runs again; the trap module stops the engine
   at the instruction (run_slice writes RIP back there). */
static int t_fault(void *ctx, unsigned cpu, unsigned vector, uint32_t error,
                   uint64_t rip)
{
    uc_cpu *c = ctx;
    rip -= intc_uc__cs_base(c, rip); /* linear to (R)IP */
    (void)intc_uc_trap_exception(c->m, cpu, (uint8_t)vector,
                                 intc_uc__has_error_code((uint8_t)vector),
                                 error, rip);
    return 0;
}

/* Code bytes at a linear address, through the guest's paging. */
static int t_read_code(void *ctx, unsigned cpu, uint64_t va, void *buf,
                       size_t len)
{
    uc_cpu *c = ctx;
    uint8_t *out = buf;
    (void)cpu;
    while (len) {
        uint64_t gpa;
        size_t n = 0x1000 - (size_t)(va & 0xfff);
        if (n > len)
            n = len;
        if (!intc_uc__translate(c, va, false, &gpa) ||
            gpa > c->m->ram_size || n > c->m->ram_size - gpa)
            return -1;
        memcpy(out, c->m->ram + gpa, n);
        out += n;
        va += n;
        len -= n;
    }
    return 0;
}

static uint64_t t_cs_base(void *ctx, unsigned cpu, uint64_t lin)
{
    (void)cpu;
    return intc_uc__cs_base(ctx, lin);
}

static intc_err trap_attach(uc_cpu *c)
{
    static const ucx_trap_ops ops = {
        .rdmsr = t_rdmsr,
        .wrmsr = t_wrmsr,
        .rdtsc = t_rdtsc,
        .cr8_read = t_cr8_read,
        .cr8_write = t_cr8_write,
        .cpuid = t_cpuid,
        .fault = t_fault,
        .read_code = t_read_code,
        .cs_base = t_cs_base,
    };
    /* The block hook is ours (it stops the engine): it calls
       ucx_trap_block itself. */
    const ucx_trap_config cfg = {.flags = UCX_TRAP_EXTERNAL_BLOCK};
    int uerr = UC_ERR_OK;
    c->trap = ucx_trap_attach(c->uc, c->index, &ops, c, &cfg, &uerr);
    if (c->trap)
        return INTC_OK;
    return uerr == UC_ERR_NOMEM ? INTC_ERR_NOMEM : INTC_ERR_UNSUPPORTED;
}

/* ------------------------------------------------------------------ */
/* CPU life cycle                                                      */

static void cpu_clear_events(uc_cpu *c)
{
    c->after_sti = c->sti_cand = false;
    c->after_iret = false;
    c->nmi_blocked = false;
    c->exc_pending = false;
    c->cur_pc = c->cur_end = 0;
    c->cur_icount = 0;
}

/* INIT (SDM 9.1.4): the AP waits for SIPI in the INIT state. */
static void cpu_enter_wait_sipi(uc_cpu *c)
{
    intc_uc__enter_wait_sipi(c);
    cpu_clear_events(c);
    c->state = INTC_UC_CPU_WAIT_SIPI;
}

/* SIPI vector v (9.4.4): the AP starts at v << 12; returns that. */
static uint64_t cpu_sipi(uc_cpu *c, uint8_t v)
{
    cpu_clear_events(c);
    forget_blocks(c);
    uint64_t at = intc_uc__sipi_start(c, v);
    c->state = INTC_UC_CPU_RUNNING;
    return at;
}

static void wake(uc_cpu *c)
{
    c->state = INTC_UC_CPU_RUNNING;
}

/* Service CPU c before it runs: timer, signals, delivery.  Returns
   whether it can run now. */
static bool prepare(uc_cpu *c)
{
    intc_uc *m = c->m;
    intc_lapic *l = c->lapic;

    if (c->remap_pending && !apply_remap(c))
        return false;
    if (c->deadline <= c->clock)
        intc_lapic_timer_expired(l, c->clock);

    for (int guard = 0; guard < 64; guard++) {
        if (m->stop.reason != INTC_UC_STOP_NONE)
            return false;
        unsigned p = intc_lapic_pending(l);
        if (p & INTC_PEND_INIT) {
            intc_lapic_take(l, INTC_PEND_INIT, NULL);
            if (c->index == m->bsp) {
                intc_uc__stop(m, INTC_UC_STOP_UNSUPPORTED, c,
                              INTC_UC_UNSUP_BSP_INIT);
                return false;
            }
            cpu_enter_wait_sipi(c);
            intc_uc__emit(m, c, INTC_UC_EV_INIT, -1, 0, 0, 0);
            continue;
        }
        if (p & INTC_PEND_SIPI) {
            uint8_t v = 0;
            intc_lapic_take(l, INTC_PEND_SIPI, &v);
            /* A SIPI reaching a CPU not waiting for one is ignored. */
            if (c->state == INTC_UC_CPU_WAIT_SIPI) {
                uint64_t rip = cpu_sipi(c, v);
                intc_uc__emit(m, c, INTC_UC_EV_START, v, rip, 0, 0);
            }
            continue;
        }
        if (p & INTC_PEND_SMI) { /* no SMM: taken and dropped */
            intc_lapic_take(l, INTC_PEND_SMI, NULL);
            continue;
        }
        if (p & INTC_PEND_EXTINT) /* no 8259: taken and dropped */
            intc_lapic_take(l, INTC_PEND_EXTINT, NULL);
        if (c->state == INTC_UC_CPU_WAIT_SIPI)
            return false;
        if (c->exc_pending) {
            c->exc_pending = false;
            if (!intc_uc__deliver(c, c->exc_vector, c->exc_kind,
                                  c->exc_has_err, c->exc_err, c->exc_rip))
                return false;
            continue;
        }
        if (sti_shadow(c))
            break; /* the shadowed instruction runs first */
        if ((p & INTC_PEND_NMI) && !c->nmi_blocked) {
            intc_lapic_take(l, INTC_PEND_NMI, NULL);
            c->nmi_blocked = true;
            wake(c);
            if (!intc_uc__deliver(c, 2, INTC_UC_KIND_NMI, false, 0,
                                  cpu_rip(c)))
                return false;
            continue;
        }
        if ((p & INTC_PEND_INTR) && read_if(c)) {
            int v = intc_lapic_ack(l);
            if (v >= 0) {
                wake(c);
                if (!intc_uc__deliver(c, (uint8_t)(v & 0xff),
                                      INTC_UC_KIND_EXTERNAL, false, 0,
                                      cpu_rip(c)))
                    return false;
                continue;
            }
        }
        break;
    }
    return c->state == INTC_UC_CPU_RUNNING;
}

/* When the CPU could next do something (NO_TIME: nothing will wake it
   without another CPU or a device). */
static uint64_t ready_time(uc_cpu *c)
{
    if (c->state == INTC_UC_CPU_RUNNING || c->remap_pending)
        return c->clock;
    unsigned p = intc_lapic_pending(c->lapic);
    if (p & (INTC_PEND_INIT | INTC_PEND_SIPI | INTC_PEND_SMI))
        return c->clock;
    if (c->state == INTC_UC_CPU_WAIT_SIPI)
        return NO_TIME;
    bool iflag = read_if(c);
    if ((p & INTC_PEND_NMI) && !c->nmi_blocked)
        return c->clock;
    if ((p & INTC_PEND_INTR) && iflag)
        return c->clock;
    /* Halted with IF = 0: its timer cannot wake it (it fires, late and
       coalesced, when something else does). */
    if (iflag && c->deadline != NO_TIME)
        return c->deadline > c->clock ? c->deadline : c->clock;
    return NO_TIME;
}

/* After a stop of the block hook (corruption 3; linear to (R)IP): RIP
   may be stale.  When it already is the stop address under the CS base
   last read, it is right (a stale RIP would have to differ from the
   block's by exactly a change of base); else read the base (a context
   save) and write RIP. */
static void stop_rip(uc_cpu *c)
{
    uint64_t now = cpu_rip(c);
    if (!c->cs_base_valid || c->stop_pc - now != c->cs_base_last) {
        c->cs_base_last = intc_uc__cs_base(c, c->stop_pc);
        c->cs_base_valid = true;
        uint64_t ip = c->stop_pc - c->cs_base_last;
        uc_reg_write(c->uc, UC_X86_REG_RIP, &ip);
    }
}

/* No stop of ours: Unicorn returns like this only at HLT, which ends
   the last block run ([cur_pc, cur_end), linear); else look before RIP
   through CS's base (a context save). */
static void halted(uc_cpu *c)
{
    intc_uc *m = c->m;
    uint64_t now = cpu_rip(c), gpa;
    bool hlt = c->cur_end >= 1 &&
               intc_uc__translate(c, c->cur_end - 1, false, &gpa) &&
               m->ram[gpa] == 0xf4;
    if (!hlt) {
        uint64_t lin = now + intc_uc__cs_base(c, c->cur_pc);
        hlt = lin >= 1 && intc_uc__translate(c, lin - 1, false, &gpa) &&
              m->ram[gpa] == 0xf4;
    }
    if (hlt) {
        c->state = INTC_UC_CPU_HALTED;
        c->after_sti = c->sti_cand = false;
        intc_uc__emit(m, c, INTC_UC_EV_HALT, -1, now, 0, 0);
    } else {
        intc_uc__stop(m, INTC_UC_STOP_UNSUPPORTED, c, INTC_UC_UNSUP_NOT_HLT);
    }
}

static void run_slice(uc_cpu *c)
{
    intc_uc *m = c->m;
    uint64_t q = m->cfg.quantum_ns;
    uint64_t end = c->clock > NO_TIME - q ? NO_TIME - 1 : c->clock + q;
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        uint64_t d = m->cpus[i].deadline;
        if (d > c->clock && d < end)
            end = d;
    }
    if (m->time_limit != NO_TIME && end > m->time_limit)
        end = m->time_limit;
    c->slice_end = end;
    c->stop_req = 0;
    c->hook_stopped = false;
    c->first_block = true;
    c->trap_cut = false;

    uint64_t rip = cpu_rip(c);
    m->running = c;
    uc_err e = uc_emu_start(c->uc, rip, UINT64_MAX, 0, 0);
    m->running = NULL;

    /* The trap module stopped the engine at a trapped instruction it
       faulted (trap_fault recorded the exception): Unicorn leaves RIP
       there, but it is ours to write (trap.h), and the instruction and
       the rest of its block did not run. */
    uint64_t trap_rip = 0;
    int trap_vector = -1;
    bool trapped = ucx_trap_take_stop(c->trap, &trap_rip, &trap_vector);
    if (c->hook_stopped) {
        stop_rip(c);
    } else if (trapped) {
        uint64_t ip = trap_rip - intc_uc__cs_base(c, trap_rip);
        uc_reg_write(c->uc, UC_X86_REG_RIP, &ip);
        uncount_tail(c, trap_rip);
    }
    if (e == UC_ERR_OK && !c->hook_stopped && !trapped) {
        halted(c);
    } else if (e == UC_ERR_INSN_INVALID) {
        /* #UD: Unicorn stops at the faulting instruction.  Unicorn 2.0.1
           also stops so at INT1 (F1), which is a #DB trap after it (SDM
           vol 2 INT1; 6.12.1.1: no gate DPL check). */
        uint64_t at = cpu_rip(c), gpa;
        uint64_t lin = at + intc_uc__cs_base(c, c->cur_pc);
        bool int1 = intc_uc__translate(c, lin, false, &gpa) &&
                    m->ram[gpa] == 0xf1;
        uncount_tail(c, int1 ? lin + 1 : lin);
        c->exc_pending = true;
        c->exc_vector = int1 ? 1 : 6;
        c->exc_kind = INTC_UC_KIND_EXCEPTION;
        c->exc_has_err = false;
        c->exc_err = 0;
        c->exc_rip = int1 ? at + 1 : at;
    } else if (e == UC_ERR_READ_UNMAPPED || e == UC_ERR_WRITE_UNMAPPED ||
               e == UC_ERR_FETCH_UNMAPPED || e == UC_ERR_READ_PROT ||
               e == UC_ERR_WRITE_PROT || e == UC_ERR_FETCH_PROT) {
        intc_uc__stop(m, INTC_UC_STOP_UNMAPPED, c, (uint64_t)e);
    } else if (e != UC_ERR_OK) {
        intc_uc__stop(m, INTC_UC_STOP_EMU_ERROR, c, (uint64_t)e);
    }
    if (m->stop.reason != INTC_UC_STOP_NONE && m->stop.cpu == c->index &&
        m->stop.rip == 0)
        m->stop.rip = cpu_rip(c);
}

/* The CPU to run next: earliest ready time; among equals the CPUs
   kicked since they last ran first, then round robin after the last one
   run. */
static uc_cpu *pick(intc_uc *m, uint64_t *when)
{
    uc_cpu *best = NULL;
    uint64_t best_t = NO_TIME;
    for (uint32_t k = 1; k <= m->n_cpus; k++) {
        uint32_t i = (m->last_run + k) % m->n_cpus;
        uint64_t t = ready_time(&m->cpus[i]);
        if (t < best_t || (t == best_t && t != NO_TIME &&
                           m->cpus[i].kicked && !best->kicked)) {
            best = &m->cpus[i];
            best_t = t;
        }
    }
    *when = best_t;
    return best;
}

static void schedule(intc_uc *m)
{
    uint32_t stuck_cpu = INTC_NO_CPU;
    uint64_t stuck_clock = 0, stuck_deadline = 0;

    while (m->stop.reason == INTC_UC_STOP_NONE) {
        if (m->stop_requested) {
            intc_uc__stop(m, INTC_UC_STOP_REQUESTED, NULL, 0);
            break;
        }
        if (m->insns_total >= m->insn_limit) {
            intc_uc__stop(m, INTC_UC_STOP_INSN_LIMIT, NULL, 0);
            break;
        }
        uint64_t when;
        uc_cpu *c = pick(m, &when);
        if (!c) {
            intc_uc__stop(m, INTC_UC_STOP_ALL_HALTED, NULL, 0);
            break;
        }
        if (m->time_limit != NO_TIME && when >= m->time_limit) {
            intc_uc__stop(m, INTC_UC_STOP_TIME_LIMIT, NULL, 0);
            m->stop.time_ns = when;
            break;
        }
        if (c->clock < when)
            c->clock = when; /* halted: time skips to its deadline */
        c->kicked = false;
        m->serviced = c;
        if (!prepare(c)) {
            /* Every pass that runs nothing must move time or state on;
               the same CPU at the same clock and deadline twice would be
               a loop (a bug of ours): stop instead of spinning. */
            if (c->index == stuck_cpu && c->clock == stuck_clock &&
                c->deadline == stuck_deadline &&
                m->stop.reason == INTC_UC_STOP_NONE)
                intc_uc__stop(m, INTC_UC_STOP_EMU_ERROR, c, 0);
            stuck_cpu = c->index;
            stuck_clock = c->clock;
            stuck_deadline = c->deadline;
            continue;
        }
        stuck_cpu = INTC_NO_CPU;
        run_slice(c);
        m->last_run = c->index;
    }
    if (m->stop.time_ns == 0 && m->serviced)
        m->stop.time_ns = m->serviced->clock;
    m->stop.insns = m->insns_total;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

unsigned intc_uc_version(void)
{
    return intc_version();
}

void intc_uc_config_init(intc_uc_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->version = INTC_UC_CONFIG_VERSION;
    cfg->n_cpus = 1;
    cfg->ram_size = 16u << 20;
    cfg->entry = INTC_UC_DEFAULT_ENTRY;
    cfg->insn_ns = 1;
    cfg->quantum_ns = 10000;
}

_Static_assert(sizeof(void *) == sizeof(intc_uc__any_fn),
               "function pointer size");
void *intc_uc__hook_fn(intc_uc__any_fn f)
{
    void *p;
    memcpy(&p, &f, sizeof p);
    return p;
}

/* The CPU's hooks: blocks (the scheduler), exceptions, OUT and IN. */
static bool add_hooks(uc_cpu *c)
{
    void *blk = intc_uc__hook_fn((intc_uc__any_fn)on_block);
    void *intr = intc_uc__hook_fn((intc_uc__any_fn)on_intr);
    void *out = intc_uc__hook_fn((intc_uc__any_fn)on_out);
    void *in = intc_uc__hook_fn((intc_uc__any_fn)on_in);
    return uc_hook_add(c->uc, &c->h_block, UC_HOOK_BLOCK, blk, c, 1, 0) ==
               UC_ERR_OK &&
           uc_hook_add(c->uc, &c->h_intr, UC_HOOK_INTR, intr, c, 1, 0) ==
               UC_ERR_OK &&
           uc_hook_add(c->uc, &c->h_out, UC_HOOK_INSN, out, c, 1, 0,
                       UC_X86_INS_OUT) == UC_ERR_OK &&
           uc_hook_add(c->uc, &c->h_in, UC_HOOK_INSN, in, c, 1, 0,
                       UC_X86_INS_IN) == UC_ERR_OK;
}

static intc_err cpu_init(intc_uc *m, uc_cpu *c, uint32_t i,
                         uc_ioapic_ctx *ioctx)
{
    c->m = m;
    c->index = i;
    c->deadline = NO_TIME;
    c->apic_page = NO_TIME;
    c->apic_base = INTC_APIC_BASE_DEFAULT | INTC_APIC_BASE_EN |
                   (i == m->bsp ? INTC_APIC_BASE_BSP : 0);
    c->lapic = intc_machine_lapic(m->intc, i);
    c->blocks = calloc(UC_BLOCK_CACHE, sizeof(uc_block));
    if (!c->blocks)
        return INTC_ERR_NOMEM;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &c->uc) != UC_ERR_OK) {
        c->uc = NULL;
        return INTC_ERR_UNSUPPORTED;
    }
    /* Corruption 4 (uc.h): with the exits mechanism on and no exit set,
       uc_emu_start's `until` is ignored, and the end of every run no
       longer translates the linear address until - 1 through the
       guest's paging, which raised a hidden #PF whenever that address
       was unmapped: CR2 became UINT64_MAX - 1 and QEMU's fault tracking
       made the guest's next fault a #DF. */
    if (uc_ctl_exits_enable(c->uc) != UC_ERR_OK ||
        uc_mem_map_ptr(c->uc, 0, m->ram_size, UC_PROT_ALL, m->ram) !=
        UC_ERR_OK)
        return INTC_ERR_UNSUPPORTED;
    /* The 64-bit entry state, then (hooks not yet attached) the real-mode
       INIT state reached through the reset page (realmode.c). */
    if (uc_context_alloc(c->uc, &c->reset_ctx) != UC_ERR_OK) {
        c->reset_ctx = NULL;
        return INTC_ERR_NOMEM;
    }
    if (uc_context_alloc(c->uc, &c->guard_pre) != UC_ERR_OK) {
        c->guard_pre = NULL;
        return INTC_ERR_NOMEM;
    }
    if (uc_context_alloc(c->uc, &c->guard_post) != UC_ERR_OK) {
        c->guard_post = NULL;
        return INTC_ERR_NOMEM;
    }
    uc_context_save(c->uc, c->reset_ctx);
    intc_err se = intc_uc__state_attach(c);
    if (se != INTC_OK)
        return se;
    intc_err re = intc_uc__reset_page_init(c);
    if (re != INTC_OK)
        return re;
    if (!apply_remap(c))
        return INTC_ERR_UNSUPPORTED;
    for (uint32_t k = 0; k < m->n_ioapics; k++)
        if (uc_mmio_map(c->uc,
                        INTC_UC_IOAPIC_BASE + INTC_UC_IOAPIC_STRIDE * k,
                        0x1000, ioapic_read, &ioctx[k], ioapic_write,
                        &ioctx[k]) != UC_ERR_OK)
            return INTC_ERR_UNSUPPORTED;
    if (!add_hooks(c))
        return INTC_ERR_UNSUPPORTED;
    /* RDMSR/WRMSR, RDTSC/RDTSCP, MOV CR8 and CPUID (trap.h). */
    intc_err te = trap_attach(c);
    if (te != INTC_OK)
        return te;
    if (i == m->bsp) {
        uc_context_restore(c->uc, c->reset_ctx);
        uint64_t rip = m->cfg.entry;
        uc_reg_write(c->uc, UC_X86_REG_RIP, &rip);
        c->state = INTC_UC_CPU_RUNNING;
    } else {
        cpu_enter_wait_sipi(c);
    }
    return INTC_OK;
}

/* The checks of *cfg that come before its libintc configuration (uc.h
   intc_uc_new): the version, RAM size and timing. */
static intc_err config_check(const intc_uc_config *cfg)
{
    if (!cfg)
        return INTC_ERR_INVAL;
    if (cfg->version != INTC_UC_CONFIG_VERSION)
        return INTC_ERR_VERSION;
    if (cfg->ram_size < 0x10000 || cfg->ram_size > INTC_UC_IOAPIC_BASE ||
        (cfg->ram_size & 0xfff) || cfg->insn_ns == 0 ||
        cfg->insn_ns > 1000000 || cfg->quantum_ns == 0)
        return INTC_ERR_INVAL;
    return INTC_OK;
}

/* The libintc configuration: the caller's cfg->intc, or by default
   cfg->n_cpus CPUs and one 24-pin IOAPIC described in *ioc, which must
   outlive *mc. */
static void machine_config(const intc_uc_config *cfg,
                           intc_machine_config *mc, intc_ioapic_config *ioc)
{
    if (cfg->intc) {
        *mc = *cfg->intc;
        return;
    }
    intc_machine_config_init(mc);
    mc->n_cpus = cfg->n_cpus;
    memset(ioc, 0, sizeof *ioc);
    ioc->id = (uint8_t)(cfg->n_cpus < 16 ? cfg->n_cpus : 0);
    ioc->version = 0x20;
    ioc->n_pins = 24;
    ioc->gsi_base = 0;
    ioc->source_id = 0xf0f8; /* f0:1f.0, as on Intel chipsets */
    mc->ioapics = ioc;
    mc->n_ioapics = 1;
}

/* The machine with its RAM (zeroed) and tables, no libintc machine and
   no CPU opened yet; NULL when out of memory. */
static intc_uc *machine_alloc(const intc_uc_config *cfg,
                              const intc_machine_config *mc)
{
    intc_uc *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    m->cfg.intc = NULL; /* not kept: the caller may free it */
    m->n_cpus = mc->n_cpus;
    m->bsp = mc->bsp;
    m->n_ioapics = mc->n_ioapics;
    m->iommu_kind = mc->iommu.kind;
    m->x2apic = mc->x2apic;
    m->tsc_deadline = mc->tsc_deadline;
    m->ram_size = cfg->ram_size;
    m->last_run = m->n_cpus - 1; /* so the BSP's turn comes first */
    m->insn_limit = NO_TIME;
    m->time_limit = NO_TIME;
    m->ram = aligned_alloc(4096, (size_t)m->ram_size);
    m->cpus = calloc(m->n_cpus, sizeof(uc_cpu));
    m->ioctx = calloc(m->n_ioapics ? m->n_ioapics : 1,
                      sizeof(uc_ioapic_ctx));
    m->mmio_ctx = calloc((size_t)m->n_cpus * UC_MAX_MMIO,
                         sizeof(uc_mmio_ctx));
    if (!m->ram || !m->cpus || !m->ioctx || !m->mmio_ctx) {
        intc_uc_free(m);
        return NULL;
    }
    memset(m->ram, 0, (size_t)m->ram_size);
    for (uint32_t k = 0; k < m->n_ioapics; k++) {
        m->ioctx[k].m = m;
        m->ioctx[k].index = k;
    }
    return m;
}

intc_uc *intc_uc_new(const intc_uc_config *cfg, intc_err *err)
{
    intc_err dummy;
    if (!err)
        err = &dummy;
    *err = INTC_ERR_INVAL;
    intc_err ce = config_check(cfg);
    if (ce != INTC_OK) {
        *err = ce;
        return NULL;
    }

    intc_machine_config mc;
    intc_ioapic_config ioc;
    machine_config(cfg, &mc, &ioc);
    if (mc.n_cpus == 0 || mc.n_cpus > INTC_UC_MAX_CPUS ||
        mc.n_ioapics > 16 || mc.bsp >= mc.n_cpus)
        return NULL;

    intc_uc *m = machine_alloc(cfg, &mc);
    if (!m) {
        *err = INTC_ERR_NOMEM;
        return NULL;
    }
    static const intc_host_ops ops = {
        .version = 2,
        .kick = h_kick,
        .now_ns = h_now,
        .timer_arm = h_timer_arm,
        .dma_read = h_dma_read,
        .dma_write = h_dma_write,
        .event = h_event,
        .apic_base_changed = h_apic_base,
    };
    m->intc = intc_machine_new(&mc, &ops, m, err);
    if (!m->intc)
        goto fail;
    intc_uc__state_calibrate(&m->state);
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        *err = cpu_init(m, &m->cpus[i], i, m->ioctx);
        if (*err != INTC_OK)
            goto fail;
    }
    *err = INTC_OK;
    return m;
fail:
    intc_uc_free(m);
    return NULL;
}

void intc_uc_free(intc_uc *m)
{
    if (!m || m->in_callback || m->in_run)
        return;
    if (m->cpus) {
        for (uint32_t i = 0; i < m->n_cpus; i++) {
            uc_cpu *c = &m->cpus[i];
            if (c->reset_ctx)
                uc_context_free(c->reset_ctx);
            if (c->sipi_ctx)
                uc_context_free(c->sipi_ctx);
            if (c->state_ctx)
                uc_context_free(c->state_ctx);
            if (c->guard_pre)
                uc_context_free(c->guard_pre);
            if (c->guard_post)
                uc_context_free(c->guard_post);
            ucx_trap_discard(c->trap); /* its engine closes next */
            if (c->uc)
                uc_close(c->uc);
            free(c->blocks);
        }
    }
    intc_machine_free(m->intc);
    free(m->cpus);
    free(m->ioctx);
    free(m->mmio_ctx);
    free(m->ram);
    free(m);
}

intc_err intc_uc_load(intc_uc *m, uint64_t gpa, const void *data, size_t len)
{
    if (!m || (!data && len))
        return INTC_ERR_INVAL;
    if (m->in_callback || m->in_run)
        return INTC_ERR_BUSY;
    if (gpa > m->ram_size || len > m->ram_size - gpa)
        return INTC_ERR_RANGE;
    if (len)
        memcpy(m->ram + gpa, data, len);
    for (uint32_t i = 0; i < m->n_cpus; i++)
        forget_blocks(&m->cpus[i]);
    return INTC_OK;
}

intc_err intc_uc_read(intc_uc *m, uint64_t gpa, void *buf, size_t len)
{
    if (!m || (!buf && len))
        return INTC_ERR_INVAL;
    if (gpa > m->ram_size || len > m->ram_size - gpa)
        return INTC_ERR_RANGE;
    if (len)
        memcpy(buf, m->ram + gpa, len);
    return INTC_OK;
}

intc_err intc_uc_run(intc_uc *m, uint64_t max_insns, uint64_t max_ns,
                     intc_uc_stop_info *info)
{
    if (!m)
        return INTC_ERR_INVAL;
    if (m->in_callback || m->in_run)
        return INTC_ERR_BUSY;
    if (m->terminal) {
        if (info)
            *info = m->stop;
        return INTC_ERR_INVAL;
    }
    memset(&m->stop, 0, sizeof m->stop);
    m->stop.cpu = INTC_NO_CPU;
    m->stop_requested = false;
    m->insn_limit = max_insns && m->insns_total <= NO_TIME - max_insns
                        ? m->insns_total + max_insns
                        : NO_TIME;
    m->time_limit = max_ns ? max_ns : NO_TIME;
    m->in_run = true;
    schedule(m);
    m->in_run = false;
    m->running = NULL;
    intc_uc__emit(m, m->stop.cpu < m->n_cpus ? &m->cpus[m->stop.cpu] : NULL,
                  INTC_UC_EV_STOP, -1, m->stop.rip, m->stop.reason,
                  m->stop.code);
    if (info)
        *info = m->stop;
    return INTC_OK;
}

void intc_uc_request_stop(intc_uc *m)
{
    if (!m || !m->in_run)
        return;
    m->stop_requested = true;
}

intc_err intc_uc_cpu_info_get(intc_uc *m, uint32_t cpu, intc_uc_cpu_info *out)
{
    if (!m || !out)
        return INTC_ERR_INVAL;
    if (cpu >= m->n_cpus)
        return INTC_ERR_RANGE;
    uc_cpu *c = &m->cpus[cpu];
    out->state = c->state;
    out->rip = m->running == c ? c->cur_pc : cpu_rip(c);
    out->time_ns = c->clock;
    out->insns = c->insns;
    out->delivered = c->delivered;
    out->deadline_ns = c->deadline;
    return INTC_OK;
}

intc_err intc_uc_trap_info_get(intc_uc *m, uint32_t cpu,
                               intc_uc_trap_info *out)
{
    if (!m || !out)
        return INTC_ERR_INVAL;
    if (cpu >= m->n_cpus)
        return INTC_ERR_RANGE;
    ucx_trap_stats st;
    memset(&st, 0, sizeof st);
    ucx_trap_get_stats(m->cpus[cpu].trap, &st);
    memset(out, 0, sizeof *out);
    out->blocks_scanned = st.blocks_scanned;
    out->restarts = st.restarts;
    out->hooks_live = st.hooks_live;
    out->emulated = st.emulated;
    out->native = st.native;
    out->faults = st.faults;
    out->cpuid = st.cpuid;
    out->native_msr_hooks = st.native_msr_hooks != 0;
    out->native_tsc_hooks = st.native_tsc_hooks != 0;
    out->hidden_state = m->cpus[cpu].state_ctx != NULL && m->state.seg_load;
    return INTC_OK;
}

intc_machine *intc_uc_intc(intc_uc *m)
{
    return m ? m->intc : NULL;
}

uint32_t intc_uc_cpu_count(const intc_uc *m)
{
    return m ? m->n_cpus : 0;
}

struct uc_struct *intc_uc_engine(intc_uc *m, uint32_t cpu)
{
    return m && cpu < m->n_cpus ? m->cpus[cpu].uc : NULL;
}

intc_err intc_uc_map_mmio(intc_uc *m, uint64_t gpa, uint64_t size,
                          const intc_uc_mmio_ops *ops, void *opaque)
{
    if (!m || !ops || !size || (gpa & 0xfff) || (size & 0xfff) ||
        gpa + size < gpa || gpa + size > (1ull << 52))
        return INTC_ERR_INVAL;
    if (m->in_callback || m->in_run)
        return INTC_ERR_BUSY;
    if (m->n_mmio >= UC_MAX_MMIO)
        return INTC_ERR_NOSPC;
    if (range_taken(m, gpa, size) ||
        (gpa < INTC_APIC_BASE_DEFAULT + 0x1000 &&
         gpa + size > INTC_APIC_BASE_DEFAULT))
        return INTC_ERR_INVAL;
    for (uint32_t i = 0; i < m->n_cpus; i++)
        if (m->cpus[i].apic_page != NO_TIME &&
            gpa < m->cpus[i].apic_page + 0x1000 &&
            gpa + size > m->cpus[i].apic_page)
            return INTC_ERR_INVAL;
    uint32_t w = m->n_mmio;
    m->mmio[w].gpa = gpa;
    m->mmio[w].size = size;
    m->mmio[w].ops = *ops;
    m->mmio[w].opaque = opaque;
    for (uint32_t i = 0; i < m->n_cpus; i++) {
        uc_mmio_ctx *x = &m->mmio_ctx[(size_t)i * UC_MAX_MMIO + w];
        x->m = m;
        x->cpu = i;
        x->window = w;
        if (uc_mmio_map(m->cpus[i].uc, gpa, size, dev_read, x, dev_write,
                        x) != UC_ERR_OK) {
            for (uint32_t k = 0; k < i; k++)
                uc_mem_unmap(m->cpus[k].uc, gpa, size);
            return INTC_ERR_UNSUPPORTED;
        }
    }
    m->n_mmio++;
    return INTC_OK;
}

intc_err intc_uc_set_gsi(intc_uc *m, uint32_t gsi, bool asserted)
{
    if (!m)
        return INTC_ERR_INVAL;
    return intc_machine_set_gsi(m->intc, gsi, asserted);
}

intc_err intc_uc_msi_send(intc_uc *m, uint64_t addr, uint32_t data,
                          uint16_t source_id)
{
    if (!m)
        return INTC_ERR_INVAL;
    return intc_msi_send(m->intc, addr, data, source_id, NULL);
}

const char *intc_uc_stop_name(intc_uc_stop reason)
{
    static const char *const names[] = {
#define INTC_UC_STOP_NAME_(n, s) s,
        INTC_UC_STOP_MAP(INTC_UC_STOP_NAME_)
#undef INTC_UC_STOP_NAME_
    };
    if ((unsigned)reason >= sizeof names / sizeof names[0])
        return "unknown";
    return names[reason];
}

const char *intc_uc_event_name(intc_uc_event_type type)
{
    static const char *const names[] = {
#define INTC_UC_EV_NAME_(n, s) s,
        INTC_UC_EVENT_MAP(INTC_UC_EV_NAME_)
#undef INTC_UC_EV_NAME_
    };
    if ((unsigned)type >= sizeof names / sizeof names[0])
        return "unknown";
    return names[type];
}

/* ------------------------------------------------------------------ */
/* Trap module hook points (uc_priv.h)                                 */

int intc_uc_trap_msr_read(intc_uc *m, uint32_t cpu, uint32_t msr,
                          uint64_t *val)
{
    if (!m || cpu >= m->n_cpus || !val)
        return 1;
    uc_cpu *c = &m->cpus[cpu];
    if (msr == 0x10) { /* IA32_TIME_STAMP_COUNTER */
        *val = intc_machine_tsc(m->intc, cpu);
        return 0;
    }
    intc_err e = intc_lapic_msr_read(c->lapic, msr, val);
    return e == INTC_OK ? 0 : e == INTC_ERR_GP ? -1 : 1;
}

int intc_uc_trap_msr_write(intc_uc *m, uint32_t cpu, uint32_t msr,
                           uint64_t val)
{
    if (!m || cpu >= m->n_cpus)
        return 1;
    uc_cpu *c = &m->cpus[cpu];
    if (msr == 0x10) {
        /* TSC = clock-derived + offset: keep the offset that makes the
           TSC read val now (SDM 17.17). */
        uint64_t now = intc_machine_tsc(m->intc, cpu) - c->tsc_offset;
        c->tsc_offset = val - now;
        intc_lapic_set_tsc_offset(c->lapic, c->tsc_offset);
        return 0;
    }
    intc_err e = intc_lapic_msr_write(c->lapic, msr, val);
    return e == INTC_OK ? 0 : e == INTC_ERR_GP ? -1 : 1;
}

int intc_uc_trap_cr8_read(intc_uc *m, uint32_t cpu, uint64_t *val)
{
    if (!m || cpu >= m->n_cpus || !val)
        return -1;
    *val = intc_lapic_get_tpr(m->cpus[cpu].lapic) >> 4;
    return 0;
}

int intc_uc_trap_cr8_write(intc_uc *m, uint32_t cpu, uint64_t val)
{
    if (!m || cpu >= m->n_cpus)
        return -1;
    if (val & ~0xfull) /* reserved bits of CR8 (SDM 2.5) */
        return -1;
    intc_lapic_set_tpr(m->cpus[cpu].lapic, (uint8_t)(val << 4));
    return 0;
}

uint64_t intc_uc_trap_tsc(intc_uc *m, uint32_t cpu, uint32_t *aux)
{
    if (!m || cpu >= m->n_cpus)
        return 0;
    if (aux)
        *aux = intc_lapic_initial_id(m->cpus[cpu].lapic);
    return intc_machine_tsc(m->intc, cpu);
}

void intc_uc_trap_cpuid(intc_uc *m, uint32_t cpu, uint32_t leaf,
                        uint32_t subleaf, uint32_t regs[4])
{
    if (!m || cpu >= m->n_cpus || !regs)
        return;
    uc_cpu *c = &m->cpus[cpu];
    uint32_t id = intc_lapic_initial_id(c->lapic);
    if (leaf == 1) {
        /* EDX[9] reflects IA32_APIC_BASE.EN (SDM 11.4.3). */
        if (c->apic_base & INTC_APIC_BASE_EN)
            regs[3] |= 1u << 9;
        else
            regs[3] &= ~(1u << 9);
        regs[2] = m->x2apic ? regs[2] | (1u << 21) : regs[2] & ~(1u << 21);
        regs[2] = m->tsc_deadline ? regs[2] | (1u << 24)
                                  : regs[2] & ~(1u << 24);
        regs[1] = (regs[1] & 0x00ffffffu) | ((id & 0xffu) << 24);
    } else if (leaf == 0xb) {
        /* One thread per core, every core in one package. */
        uint32_t shift = 0;
        while ((1u << shift) < m->n_cpus)
            shift++;
        if (subleaf == 0) {
            regs[0] = 0;
            regs[1] = 1;
            regs[2] = 0 | (1u << 8);
        } else if (subleaf == 1) {
            regs[0] = shift;
            regs[1] = m->n_cpus;
            regs[2] = 1 | (2u << 8);
        } else {
            regs[0] = 0;
            regs[1] = 0;
            regs[2] = subleaf & 0xff;
        }
        regs[3] = id;
    }
}

int intc_uc_trap_exception(intc_uc *m, uint32_t cpu, uint8_t vector,
                           bool has_err, uint32_t err, uint64_t rip)
{
    if (!m || cpu >= m->n_cpus)
        return -1;
    uc_cpu *c = &m->cpus[cpu];
    c->exc_pending = true;
    c->exc_vector = vector;
    c->exc_kind = INTC_UC_KIND_EXCEPTION;
    c->exc_has_err = has_err;
    c->exc_err = err;
    c->exc_rip = rip;
    c->stop_req |= UC_STOP_EXC;
    return 0;
}

void intc_uc_trap_cut(intc_uc *m, uint32_t cpu, uint64_t next_rip)
{
    if (!m || cpu >= m->n_cpus)
        return;
    uncount_tail(&m->cpus[cpu], next_rip);
}
