# Legacy 32-bit protected mode with paging on (SDM vol. 3A 4.3, 4.4;
# delivery 6.11-6.12).  The firmware leaves long mode as fw/pm32.s does,
# then runs the same deliveries under two paging modes:
#   A. 32-bit paging (4.3), CR4.PSE: 4 MiB identity pages for low memory
#      and for an alias window 0x800000-0xBFFFFF; a 4 KiB page table for
#      linear 0x400000-0x7FFFFF holding the IDT and a stack (linear
#      0x400000, 0x401000, 0x402000 -> physical 0xA00000, 0xA05000,
#      0xA03000: neither identity nor contiguous); a 4 MiB page at
#      linear 0xC00000 -> physical 0x800000 for the timer's stack; a
#      4 KiB page table for the LAPIC page 0xFEE00000;
#   B. PAE paging (4.4), CR3 = a PDPT at 0x73020 (32-byte aligned only):
#      2 MiB identity pages, the IDT and the stack at the same linear
#      addresses in other physical pages (0xA08000, 0xA07000, 0xA06000)
#      through a 4 KiB page table, a 2 MiB page at linear 0xC00000 ->
#      physical 0x800000, a 4 KiB page table for the LAPIC page.
# In each mode, with IDTR.base = 0x400000:
#   1. INT 0x30 through a trap gate with ESP = 0x402008: the frame EIP,
#      CS, EFLAGS straddles the two stack pages;
#   2. INT 0x31 through a not-present gate: #NP with the error code
#      0x31 * 8 + 2 (6.13), its frame straddling the same way;
#   3. LAPIC timer ticks (one-shot, re-armed) taken from `sti; hlt` with
#      ESP in the large page.
# The guest's own instructions touch identity-mapped pages only: Unicorn
# 2.0.1 walks the page tables but then accesses physical = linear (uc.h,
# "Modes", F10).  So the firmware writes the IDT through the identity
# alias of its physical page, and each handler notes ESP, moves to an
# identity stack, reads its frame through the aliases of the physical
# pages the SDM's walk gives, and returns with IRETD from a copy of it.
# A delivery that ignored paging, or walked it wrongly, reads its gate
# from the wrong physical page (the mode A IDT is zeroed before mode B)
# or writes its frame to the wrong one: the checks see it.  Exit
# 0xbad1-3: checks 1-3.
        .include "common.inc"
        .include "legacy.inc"
        .set PD32, 0x70000              # 32-bit paging structures
        .set PT32_HI, 0x71000
        .set PT32_APIC, 0x72000
        .set PDPT, 0x73020              # PAE paging structures
        .set PAE_PD0, 0x74000
        .set PAE_PD3, 0x75000
        .set PAE_PT_HI, 0x76000
        .set PAE_PT_APIC, 0x77000
        .set IDT_LIN, 0x400000          # linear: IDT, two stack pages
        .set STK_LO, 0x401000
        .set STK_HI, 0x402000
        .set A_IDT, 0xa00000            # their physical pages, mode A
        .set A_LO, 0xa05000
        .set A_HI, 0xa03000
        .set A_TSTACK, 0xd00000         # -> physical 0x900000
        .set B_IDT, 0xa08000            # mode B
        .set B_LO, 0xa07000
        .set B_HI, 0xa06000
        .set B_TSTACK, 0xc80000         # -> physical 0x880000
        .set SEL_C32, 0x18

        .code64
        .globl _start
_start:
        LEAVE_LONG_MODE gdt32_ptr, SEL_C32, legacy
        .code32
legacy:                                 # ESP in STACKS: identity in A, B
        mov esi, offset hello
        call puts32
        mov edi, PD32                   # clear the paging structures
        mov ecx, 0x2000
        xor eax, eax
        rep stosd

# A. 32-bit paging (SDM 4.3): 4-byte entries, PS = 4 MiB with CR4.PSE.
        mov dword ptr [PD32 + 0 * 4], 0x00000083
        mov dword ptr [PD32 + 1 * 4], PT32_HI + 3
        mov dword ptr [PD32 + 2 * 4], 0x00800083
        mov dword ptr [PD32 + 3 * 4], 0x00800083  # not identity
        mov dword ptr [PD32 + 0x3fb * 4], PT32_APIC + 3
        mov dword ptr [PT32_HI + 0 * 4], A_IDT + 3
        mov dword ptr [PT32_HI + 1 * 4], A_LO + 3
        mov dword ptr [PT32_HI + 2 * 4], A_HI + 3
        mov dword ptr [PT32_APIC + 0x200 * 4], LAPIC + 0x13  # PCD
        mov eax, PD32
        mov cr3, eax
        mov eax, cr4
        or eax, 0x10                    # PSE
        mov cr4, eax
        mov eax, cr0
        bts eax, 31                     # PG
        mov cr0, eax
        mov dword ptr [phys_idt], A_IDT
        mov dword ptr [alias_lo], A_LO
        mov dword ptr [alias_hi], A_HI
        mov dword ptr [tstack], A_TSTACK
        mov dword ptr [talias], 0x900000 - 12
        call mode_checks
        mov esi, offset pass_a
        call puts32

# B. PAE paging (SDM 4.4): 8-byte entries, PDPTEs at CR3[31:5], PS =
# 2 MiB.  Built while mode A runs (low memory is identity), switched
# with paging off for the moment (identity code).
        mov dword ptr [PDPT + 0 * 8], PAE_PD0 + 1
        mov dword ptr [PDPT + 3 * 8], PAE_PD3 + 1
        mov dword ptr [PAE_PD0 + 0 * 8], 0x00000083
        mov dword ptr [PAE_PD0 + 1 * 8], 0x00200083
        mov dword ptr [PAE_PD0 + 2 * 8], PAE_PT_HI + 3
        mov dword ptr [PAE_PD0 + 4 * 8], 0x00800083
        mov dword ptr [PAE_PD0 + 5 * 8], 0x00a00083
        mov dword ptr [PAE_PD0 + 6 * 8], 0x00800083  # not identity
        mov dword ptr [PAE_PD3 + 0x1f7 * 8], PAE_PT_APIC + 3
        mov dword ptr [PAE_PT_HI + 0 * 8], B_IDT + 3
        mov dword ptr [PAE_PT_HI + 1 * 8], B_LO + 3
        mov dword ptr [PAE_PT_HI + 2 * 8], B_HI + 3
        mov dword ptr [PAE_PT_APIC + 0 * 8], LAPIC + 0x13
        mov eax, cr0
        btr eax, 31
        mov cr0, eax
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr4
        or eax, 0x20                    # PAE
        mov cr4, eax
        mov eax, cr0
        bts eax, 31
        mov cr0, eax
        mov edi, A_IDT                  # the mode A IDT, zeroed
        mov ecx, 256 * 2
        xor eax, eax
        rep stosd
        mov dword ptr [phys_idt], B_IDT
        mov dword ptr [alias_lo], B_LO
        mov dword ptr [alias_hi], B_HI
        mov dword ptr [tstack], B_TSTACK
        mov dword ptr [talias], 0x880000 - 12
        call mode_checks
        mov esi, offset pass
        call puts32
        EXIT EXIT_PASS

        FAIL_EXITS 1, 2, 3
unexpected32:
        EXIT 0xbadf

# mode_checks: the IDT and checks 1-3 under the paging mode on.
# phys_idt, alias_lo, alias_hi (the identity aliases of the physical
# pages behind IDT_LIN, STK_LO, STK_HI), tstack (the timer's stack top,
# linear) and talias (the alias of the 12 bytes below it) describe it.
# The handlers run on the stack saved_esp points to.
mode_checks:
        mov [saved_esp], esp
        call idt32_build
        lidt [idt32_ptr]
        mov esi, [alias_lo]
        mov edi, [alias_hi]

        # 1. INT 0x30, trap gate: EIP at STK_LO + 0xFFC, CS and EFLAGS
        # at STK_HI + 0 and + 4.
        xor eax, eax
        mov [esi + 0xffc], eax
        mov [edi], eax
        mov [edi + 4], eax
        mov [int30_seen], eax
        mov esp, STK_HI + 8
        sti
int30:  int 0x30
        cli
        cmp dword ptr [int30_seen], 1
        jne fail1
        cmp dword ptr [isr_esp], STK_HI + 8 - 12
        jne fail1

        # 2. INT 0x31, not present: #NP, error code at STK_LO + 0xFF8.
        xor eax, eax
        mov [esi + 0xff8], eax
        mov [esi + 0xffc], eax
        mov [edi], eax
        mov [np_err], eax
        mov esp, STK_HI + 8
int31:  int 0x31
        cmp dword ptr [np_err], 0x31 * 8 + 2
        jne fail2
        cmp dword ptr [isr_esp], STK_HI + 8 - 16
        jne fail2

        # 3. Timer ticks, one-shot re-armed by the handler, vector 0x40,
        # on the large page.  The loop keeps nothing in registers.
        mov ebx, [talias]
        xor eax, eax
        mov [ebx], eax
        mov [ebx + 4], eax
        mov [ebx + 8], eax
        mov [ticks], eax
        mov [tick_if], eax
        mov ebx, LAPIC
        mov dword ptr [ebx + LAPIC_SVR], 0x1ff
        mov dword ptr [ebx + LAPIC_TDCR], 0xb
        mov dword ptr [ebx + LAPIC_LVT_TIMER], 0x40
        mov dword ptr [ebx + LAPIC_TMICT], 5000
3:      mov esp, [tstack]
        sti
        hlt
after_hlt:
        cmp dword ptr [ticks], 5
        jb 3b
        mov esp, [saved_esp]
        cmp dword ptr [ticks], 5
        jne fail3
        cmp dword ptr [tick_if], 0
        jne fail3
        mov eax, [tstack]
        sub eax, 12
        cmp [isr_esp], eax
        jne fail3
        ret

# The handlers.  They never touch the stack they were delivered on (see
# the top): each notes ESP in isr_esp, moves to the stack at saved_esp,
# checks the frame through the aliases and returns by IRETD from a copy.

# Trap gate, no privilege change: EIP, CS, EFLAGS (figure 6-4).
int30_isr:
        mov [isr_esp], esp
        mov esp, [saved_esp]
        pushfd
        bt dword ptr [esp], 9           # trap gate: IF still set
        jnc fail1
        add esp, 4
        mov esi, [alias_lo]
        mov edi, [alias_hi]
        cmp dword ptr [esi + 0xffc], offset int30 + 2
        jne fail1
        cmp dword ptr [edi], SEL_C32
        jne fail1
        bt dword ptr [edi + 4], 9       # the EFLAGS of the INT: IF = 1
        jnc fail1
        inc dword ptr [int30_seen]
        push dword ptr [edi + 4]
        push dword ptr [edi]
        push dword ptr [esi + 0xffc]
        iretd

# #NP: error code, then EIP (the INT or after it, as in fw/pm32.s), CS,
# EFLAGS.
np_isr: mov [isr_esp], esp
        mov esp, [saved_esp]
        mov esi, [alias_lo]
        mov edi, [alias_hi]
        mov eax, [esi + 0xff8]
        mov [np_err], eax
        cmp dword ptr [edi], SEL_C32
        jne fail2
        mov eax, [esi + 0xffc]
        cmp eax, offset int31
        jne 1f
        add eax, 2                      # a fault: skip the INT 0x31
1:      cmp eax, offset int31 + 2
        jne fail2
        push dword ptr [edi + 4]
        push SEL_C32
        push eax
        iretd

# Interrupt gate: EIP (after the HLT), CS, EFLAGS (IF = 1); IF clear
# here.  Returns with IF = 0 (the loop sets it again).  Clobbers eax,
# ebx.
timer_isr:
        mov [isr_esp], esp
        mov esp, [saved_esp]
        pushfd
        pop eax
        and eax, 0x200
        or [tick_if], eax
        mov ebx, [talias]
        cmp dword ptr [ebx], offset after_hlt
        jne fail3
        cmp dword ptr [ebx + 4], SEL_C32
        jne fail3
        mov eax, [ebx + 8]
        btr eax, 9                      # IF was 1; return with 0
        jnc fail3
        inc dword ptr [ticks]
        cmp dword ptr [ticks], 5
        jae 1f
        mov dword ptr [LAPIC + LAPIC_TMICT], 5000
1:      mov dword ptr [LAPIC + LAPIC_EOI], 0
        push eax
        push dword ptr [ebx + 4]
        push dword ptr [ebx]
        iretd

# set_gate32: vector eax -> handler edx, type/present byte cl,
# selector SEL_C32 (SDM figure 6-2), written through phys_idt.
set_gate32:
        shl eax, 3
        add eax, [phys_idt]
        mov word ptr [eax], dx
        mov word ptr [eax + 2], SEL_C32
        mov byte ptr [eax + 4], 0
        mov byte ptr [eax + 5], cl
        shr edx, 16
        mov word ptr [eax + 6], dx
        ret

# idt32_build: every vector to unexpected32, then the handlers; 0x31
# not present.
idt32_build:
        xor ebx, ebx
1:      mov eax, ebx
        mov edx, offset unexpected32
        mov cl, 0x8e
        call set_gate32
        inc ebx
        cmp ebx, 256
        jb 1b
        mov eax, 0x30
        mov edx, offset int30_isr
        mov cl, 0x8f                    # 32-bit trap gate
        call set_gate32
        mov eax, 11
        mov edx, offset np_isr
        mov cl, 0x8e
        call set_gate32
        mov eax, 0x40
        mov edx, offset timer_isr
        mov cl, 0x8e                    # 32-bit interrupt gate
        call set_gate32
        mov eax, 0x31                   # 0x31: not present
        mov edx, offset unexpected32
        mov cl, 0x0e
        call set_gate32
        ret

        LEGACY_SUBROUTINES               # puts32

hello:  .asciz "pm32_paging: legacy protected mode\n"
pass_a: .asciz "pm32_paging: 32-bit paging pass\n"
pass:   .asciz "pm32_paging: PAE paging pass\n"

        .balign 16
gdt32:  .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
gdt32_end:
gdt32_ptr:
        .word gdt32_end - gdt32 - 1
        .quad gdt32
idt32_ptr:
        .word 256 * 8 - 1
        .long IDT_LIN

        .balign 4096
DATA:
int30_seen: .long 0
np_err:     .long 0
ticks:      .long 0
tick_if:    .long 0
isr_esp:    .long 0
saved_esp:  .long 0
phys_idt:   .long 0
alias_lo:   .long 0
alias_hi:   .long 0
tstack:     .long 0
talias:     .long 0
        .balign 4096
