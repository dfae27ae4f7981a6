/*
 * libintc-uc — application processors start in real-address mode at the
 * SIPI page, as on hardware (Intel SDM vol. 3A 9.4.4 MP initialization,
 * 9.1.4 the INIT state: CS selector V << 8, base V << 12, IP 0, real
 * mode, IF = 0).
 *
 * A UC_MODE_64 engine starts in flat 64-bit mode and the API cannot load
 * a real-mode CS base (uc.h "Modes", F4, F5).  So, once per engine, before
 * any hook is attached, the engine runs a short library trampoline from
 * its private reset page (UC_RESET_PAGE .. 4 GiB, not guest RAM) that
 * leaves long mode the SDM 9.8.5.4 way and drops to real mode (9.9.2)
 * with a 16-bit code segment of base 0xFFFF0000: the CS base of the
 * reset state (9.1.4).  That state, CS = F000 and IP = FFF0 (the reset
 * vector), is kept as a Unicorn context.  A SIPI restores it and writes
 * `jmp far V<<8:0000` at 0xFFFFFFF0: the AP's first instruction, a guest
 * far jump, loads CS base V << 12 (F5: only a far transfer executed by
 * the guest does).
 */
#include <string.h>

#include "uc_priv.h"

/* The reset page: page tables, a GDT and the trampoline (16 KiB). */
#define PML4 (UC_RESET_PAGE + 0x0000u)
#define PDPT (UC_RESET_PAGE + 0x1000u)
#define PD (UC_RESET_PAGE + 0x2000u)
#define TOP (UC_RESET_PAGE + 0x3000u) /* 0xFFFFF000: GDT, code */
#define RESET_VECTOR 0xfffffff0ull

/* 0xFFFFF000: GDT; 0x20: GDTR (limit, base); 0x30: IDTR for real mode
   (limit 0x3FF, base 0: the IVT, 20.1.4). */
static const uint64_t tramp_gdt[4] = {
    0,
    0x00cf9a000000ffffull, /* 0x08 32-bit code, flat */
    0xff009aff0000ffffull, /* 0x10 16-bit code, base 0xFFFF0000 */
    0x000092000000ffffull, /* 0x18 16-bit data, base 0, limit 64 KiB */
};

/* 0xFFFFF040, 64-bit mode, paging off (the entry state). */
static const uint8_t tramp64[] = {
    0xb8, 0x20, 0xf0, 0xff, 0xff,       /* mov eax, 0xfffff020 */
    0x0f, 0x01, 0x10,                   /* lgdt [rax] */
    0xb8, 0x00, 0xc0, 0xff, 0xff,       /* mov eax, PML4 */
    0x0f, 0x22, 0xd8,                   /* mov cr3, rax */
    0x0f, 0x20, 0xe0,                   /* mov rax, cr4 */
    0x83, 0xc8, 0x20,                   /* or eax, CR4.PAE */
    0x0f, 0x22, 0xe0,                   /* mov cr4, rax */
    0x0f, 0x20, 0xc0,                   /* mov rax, cr0 */
    0x0d, 0x00, 0x00, 0x00, 0x80,       /* or eax, CR0.PG */
    0x0f, 0x22, 0xc0,                   /* mov cr0, rax (F2) */
    0x6a, 0x08,                         /* push 0x08 */
    0xb8, 0x80, 0xf0, 0xff, 0xff,       /* mov eax, 0xfffff080 */
    0x50,                               /* push rax */
    0x48, 0xcb,                         /* retfq: compatibility mode */
};

/* 0xFFFFF080, compatibility mode: leave IA-32e mode (9.8.5.4). */
static const uint8_t tramp32[] = {
    0x0f, 0x20, 0xc0,                   /* mov eax, cr0 */
    0x25, 0xff, 0xff, 0xff, 0x7f,       /* and eax, ~CR0.PG */
    0x0f, 0x22, 0xc0,                   /* mov cr0, eax: LMA clears */
    0x31, 0xc0,                         /* xor eax, eax */
    0x0f, 0x22, 0xe0,                   /* mov cr4, eax */
    0x0f, 0x22, 0xd8,                   /* mov cr3, eax */
    0xb9, 0x80, 0x00, 0x00, 0xc0,       /* mov ecx, IA32_EFER */
    0x0f, 0x32,                         /* rdmsr */
    0x25, 0xff, 0xfe, 0xff, 0xff,       /* and eax, ~EFER.LME */
    0x0f, 0x30,                         /* wrmsr */
    0xea, 0xc0, 0xf0, 0x00, 0x00, 0x10, 0x00, /* jmp far 0x10:0xF0C0 */
};

/* 0xFFFFF0C0, 16-bit protected mode: to real mode (9.9.2). */
static const uint8_t tramp16[] = {
    0xb8, 0x18, 0x00,                   /* mov ax, 0x18 */
    0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, /* mov ds/es/ss, ax */
    0x8e, 0xe0, 0x8e, 0xe8,             /* mov fs/gs, ax */
    0x0f, 0x20, 0xc0,                   /* mov eax, cr0 */
    0x66, 0x83, 0xe0, 0xfe,             /* and eax, ~CR0.PE */
    0x0f, 0x22, 0xc0,                   /* mov cr0, eax: real mode */
    0x2e, 0x0f, 0x01, 0x1e, 0x30, 0xf0, /* lidt cs:[0xF030] */
    0xf4,                               /* hlt: back to the library */
};

static bool put(uc_engine *uc, uint64_t at, const void *p, size_t n)
{
    return uc_mem_write(uc, at, p, n) == UC_ERR_OK;
}

static bool write_reset_page(uc_engine *uc)
{
    uint64_t pml4e = PDPT | 3, pdpte = PD | 3;
    uint64_t pde = 0xffe00000ull | 0x83; /* 2 MiB page, 0xFFE00000 */
    uint8_t gdtr[10], idtr[6] = {0xff, 0x03, 0, 0, 0, 0};
    uint64_t gdt = TOP;
    gdtr[0] = sizeof tramp_gdt - 1;
    gdtr[1] = 0;
    for (int i = 0; i < 8; i++)
        gdtr[2 + i] = (uint8_t)(gdt >> (8 * i));
    uint8_t gdt_bytes[sizeof tramp_gdt];
    for (size_t i = 0; i < sizeof gdt_bytes; i++)
        gdt_bytes[i] = (uint8_t)(tramp_gdt[i / 8] >> (8 * (i % 8)));
    /* Little-endian host assumed for the entries below, as Unicorn's. */
    return put(uc, PML4, &pml4e, 8) && put(uc, PDPT + 3 * 8, &pdpte, 8) &&
           put(uc, PD + 511 * 8, &pde, 8) &&
           put(uc, TOP, gdt_bytes, sizeof gdt_bytes) &&
           put(uc, TOP + 0x20, gdtr, sizeof gdtr) &&
           put(uc, TOP + 0x30, idtr, sizeof idtr) &&
           put(uc, TOP + 0x40, tramp64, sizeof tramp64) &&
           put(uc, TOP + 0x80, tramp32, sizeof tramp32) &&
           put(uc, TOP + 0xc0, tramp16, sizeof tramp16);
}

/* The rest of the INIT state (9.1.1, table 9-1) by register writes that
   work in real mode: selectors (CS keeps its base, F5), IP, FLAGS,
   GDTR, the general registers. */
static void finish_init_state(uc_engine *uc)
{
    static const int zero[] = {
        UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
        UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP,
        UC_X86_REG_DS,  UC_X86_REG_ES,  UC_X86_REG_SS,  UC_X86_REG_FS,
        UC_X86_REG_GS,
    };
    uint64_t z = 0, cs = 0xf000, ip = 0xfff0, fl = 2;
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        uc_reg_write(uc, zero[i], &z);
    uc_reg_write(uc, UC_X86_REG_CS, &cs);
    uc_reg_write(uc, UC_X86_REG_RFLAGS, &fl);
    uc_x86_mmr gdtr;
    memset(&gdtr, 0, sizeof gdtr);
    gdtr.limit = 0xffff;
    uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
    uc_reg_write(uc, UC_X86_REG_RIP, &ip);
}

intc_err intc_uc__reset_page_init(uc_cpu *c)
{
    uc_engine *uc = c->uc;
    if (uc_mem_map(uc, UC_RESET_PAGE, UC_RESET_SIZE, UC_PROT_ALL) !=
        UC_ERR_OK)
        return INTC_ERR_UNSUPPORTED;
    if (!write_reset_page(uc))
        return INTC_ERR_UNSUPPORTED;
    /* A stack for the far return; no hook is attached yet: Unicorn
       returns at the HLT. */
    uint64_t sp = TOP + 0x800;
    uc_reg_write(uc, UC_X86_REG_RSP, &sp);
    if (uc_emu_start(uc, TOP + 0x40, UINT64_MAX, 0, 0) != UC_ERR_OK)
        return INTC_ERR_UNSUPPORTED;
    uint64_t cr0 = 0;
    uc_reg_read(uc, UC_X86_REG_CR0, &cr0);
    if (cr0 & 1)
        return INTC_ERR_UNSUPPORTED; /* not in real mode */
    finish_init_state(uc);
    if (uc_context_alloc(uc, &c->sipi_ctx) != UC_ERR_OK) {
        c->sipi_ctx = NULL;
        return INTC_ERR_NOMEM;
    }
    /* The context holds the hidden segment state (uc_sipi_realmode). */
    uc_context_save(uc, c->sipi_ctx);
    return INTC_OK;
}

void intc_uc__enter_wait_sipi(uc_cpu *c)
{
    uc_context_restore(c->uc, c->m->cfg.sipi_64 ? c->reset_ctx : c->sipi_ctx);
}

/* Start the AP (in the INIT state) at SIPI vector v.  Returns the
   address it starts at. */
uint64_t intc_uc__sipi_start(uc_cpu *c, uint8_t v)
{
    uint64_t start = (uint64_t)v << 12;
    if (c->m->cfg.sipi_64) {
        uc_context_restore(c->uc, c->reset_ctx);
        uc_reg_write(c->uc, UC_X86_REG_RIP, &start);
        return start;
    }
    uc_context_restore(c->uc, c->sipi_ctx);
    uint16_t sel = (uint16_t)(v << 8);
    const uint8_t jmp[5] = {0xea, 0, 0, (uint8_t)sel, (uint8_t)(sel >> 8)};
    put(c->uc, RESET_VECTOR, jmp, sizeof jmp);
    /* Unicorn does not see uc_mem_write: drop the old jump's block. */
    intc_uc__tb_remove(c->uc, TOP, UC_RESET_PAGE + UC_RESET_SIZE);
    return start;
}

uint64_t intc_uc__cs_base(uc_cpu *c, uint64_t lin)
{
    uint64_t cr0 = 0, cs = 0, fl = 0;
    if (intc_uc__state_seg_base(c, UC_SEG_CS, &cs))
        return cs; /* the hidden base itself (cpustate.c) */
    uc_reg_read(c->uc, UC_X86_REG_CR0, &cr0);
    if (cr0 & 1) {
        /* Virtual-8086 mode (EFLAGS.VM, SDM 20.2.1): CS << 4. */
        uc_reg_read(c->uc, UC_X86_REG_RFLAGS, &fl);
        if (!(fl & (1u << 17)))
            return 0; /* protected and long mode: flat code (uc.h) */
    }
    if (lin >= UC_RESET_PAGE && lin < UC_RESET_PAGE + UC_RESET_SIZE)
        return 0xffff0000u; /* the reset state's CS */
    uc_reg_read(c->uc, UC_X86_REG_CS, &cs);
    return (cs & 0xffff) << 4;
}

/*
 * A real-mode far transfer to sel:ip executed by the guest (F5: only
 * that loads CS's base), for delivery through the IVT (SDM 20.1.4).
 * Between slices only one CPU exists for the guest (the scheduler is
 * one thread), so the library borrows 5 bytes of RAM where the CPU is:
 * it writes `jmp far sel:ip` at CS.base + IP, runs that one instruction
 * (the block hook stops at the next block, uncounted) and puts the
 * original bytes back before anything else runs.  Returns false when it
 * did not reach sel:ip.
 */
/* Drop Unicorn's translations of [lin, lin + n) in the state the CPU
   had when the code there was borrowed (pre): Unicorn 2.0.1 translates
   lin through the CPU's current paging and privilege to find the code,
   and a fault there (a page the borrowed instruction's new state may not
   execute) escapes to a stale jump buffer: a host crash.  Then the
   state after (post) is put back, with QEMU's TLB flushed (a CR3 write)
   so that no entry filled under pre survives. */
static void drop_code_in(uc_cpu *c, uint64_t lin, size_t n)
{
    uc_context_save(c->uc, c->guard_post);
    uc_context_restore(c->uc, c->guard_pre);
    intc_uc__tb_remove(c->uc, lin, lin + n);
    uc_context_restore(c->uc, c->guard_post);
    uint64_t cr3 = 0;
    uc_reg_read(c->uc, UC_X86_REG_CR3, &cr3);
    uc_reg_write(c->uc, UC_X86_REG_CR3, &cr3);
}

bool intc_uc__run_borrowed(uc_cpu *c, uint64_t lin, uint64_t gpa,
                           uint64_t ip, const uint8_t *code, size_t n)
{
    intc_uc *m = c->m;
    uint8_t saved[8];
    if (n > sizeof saved || gpa > m->ram_size || m->ram_size - gpa < n)
        return false;
    memcpy(saved, m->ram + gpa, n);
    memcpy(m->ram + gpa, code, n);
    intc_uc__tb_remove(c->uc, lin, lin + n); /* stale code there */
    uc_context_save(c->uc, c->guard_pre);
    c->far_jump_at = lin;
    c->far_jump = true;
    c->far_jump_ran = false;
    c->far_jump_fault = false;
    uc_err e = uc_emu_start(c->uc, ip, UINT64_MAX, 0, 0);
    c->far_jump = false;
    /* The block hook noted its stop to the trap module: clear it (and
       any instruction the trap stopped at, which did not run). */
    (void)ucx_trap_take_stop(c->trap, NULL, NULL);
    memcpy(m->ram + gpa, saved, n);
    drop_code_in(c, lin, n);
    return e == UC_ERR_OK && !c->far_jump_fault;
}

bool intc_uc__real_far_jump(uc_cpu *c, uint16_t sel, uint16_t ip)
{
    intc_uc *m = c->m;
    uint64_t at = 0;
    uc_reg_read(c->uc, UC_X86_REG_RIP, &at);
    uint64_t base = intc_uc__cs_base(c, 0);
    if (at > 0xfffb)
        at = 0; /* the 5 bytes inside the segment */
    uint64_t lin = base + at;
    if (lin + 5 > m->ram_size)
        return false;
    const uint8_t jmp[5] = {0xea, (uint8_t)ip, (uint8_t)(ip >> 8),
                            (uint8_t)sel, (uint8_t)(sel >> 8)};
    /* Real mode: no paging, linear = physical. */
    bool ok = intc_uc__run_borrowed(c, lin, lin, at, jmp, sizeof jmp);
    uint64_t now = 0, want = ip;
    uc_reg_read(c->uc, UC_X86_REG_CS, &now);
    uc_reg_write(c->uc, UC_X86_REG_RIP, &want);
    return ok && (now & 0xffff) == sel;
}
