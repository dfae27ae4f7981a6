# Guest side of test_modes (test_modes.c): what Unicorn 2.0.1 does with
# x86 mode switches made by guest instructions in a UC_MODE_64 engine.
# Linked at 0x10000; each `hlt` ends one step the test checks.
        .intel_syntax noprefix
        .set PML4, 0x70000
        .set PDPT, 0x71000
        .set PD,   0x72000
        .code64
        .globl _start
_start:                         # x1: compat mode, still LMA
        lgdt [gdt_ptr]
        push 0x18
        lea rax, [rip + compat]
        push rax
        retfq
        .code32
compat:
        xor eax, eax
        .byte 0x40              # inc eax in 32-bit code; REX in 64-bit
        .byte 0x40
        mov ebx, 0x11
        hlt                     # stop 1: eax = 2
        # x2: leave long mode: (flat LM has PG = 0) 64-bit with paging first
        push 0x08
        push offset lm64
        retf
        .code64
lm64:   mov dword ptr [PML4], PDPT + 3
        mov dword ptr [PDPT], PD + 3
        mov dword ptr [PD], 0x83
        mov rax, PML4
        mov cr3, rax
        mov rax, cr4
        or eax, 0x20
        mov cr4, rax
        mov rax, cr0
        or eax, 0x80000000
        mov cr0, rax
        push 0x18
        lea rax, [rip + leave]
        push rax
        retfq
        .code32
leave:  mov eax, cr0
        and eax, 0x7fffffff
        mov cr0, eax            # PG 1 -> 0 with LMA: LMA clears
        mov ecx, 0xc0000080
        rdmsr
        and eax, ~0x100
        wrmsr                   # LME off
        ljmp 0x20, offset pm32  # legacy 32-bit protected mode
pm32:   mov ax, 0x10
        mov ds, ax
        mov ss, ax
        mov esp, 0x8000
        xor eax, eax
        .byte 0x40
        pushfd
        push 0x20
        push offset after_iret
        iretd
after_iret:
        mov ecx, esp            # 0x8000 again
        mov ebx, 0x22
        hlt                     # stop 2: eax = 1, ecx = 0x8000, legacy PM
        # x3: to real mode
        ljmp 0x28, offset pm16 - 0x10000
        .code16
pm16:   mov ax, 0x30
        mov ds, ax
        mov ss, ax
        mov eax, cr0
        and eax, ~1
        mov cr0, eax
        ljmp 0x1000, offset rm - 0x10000
rm:     mov ax, 0x2000
        mov ds, ax
        mov word ptr [0x10], 0x1234
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        pushf
        push cs
        push offset rm2 - 0x10000
        iret
rm2:    mov bx, 0x33
        mov cx, sp
        hlt                     # stop 3: real mode, [0x20010] = 0x1234
        int 0x21                # stop 4 via UC_HOOK_INTR
        hlt

        .balign 16
gdt:    .quad 0
        .quad 0x00af9a000000ffff        # 0x08 64-bit code
        .quad 0x00cf92000000ffff        # 0x10 data
        .quad 0x00cf9a000000ffff        # 0x18 32-bit code (compat in LM)
        .quad 0x00cf9a000000ffff        # 0x20 32-bit code
        .quad 0x00009a010000ffff        # 0x28 16-bit code, base 0x10000
        .quad 0x000092000000ffff        # 0x30 16-bit data
        .quad 0x0000890500000067        # 0x38 TSS A at 0x50000 (F12)
        .quad 0x0000890510000067        # 0x40 TSS B at 0x51000
        .quad 0x00c0920400000fff        # 0x48 data, base 0x40000 (F11)
        .quad 0x00cff2000000ffff        # 0x50 data, DPL 3
        .quad 0x00cffa000000ffff        # 0x58 32-bit code, DPL 3
gdt_end:
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt

        .balign 4096                    # 0x11000: the "SIPI page" test
        .code16
sipi:   mov ax, 0x2000
        mov ds, ax
        mov word ptr [0x20], 0x5678
        mov bx, cs
        hlt

# Legacy protected mode facts F11-F14 (test_modes.c legacy_facts): the
# test reaches stop 2 above on a fresh engine, then runs these pieces by
# setting RIP; each ends in `hlt` or an interrupt the test hooks.
        .balign 4096                    # 0x12000
        .code32
f_store:                                # F11: where does a DS store go?
        mov dword ptr [0x100], 0x1234
        hlt
        .balign 16
f_cr0:  mov eax, cr0                    # 0x12010 F11: privileged (CPL 0?)
        hlt
        .balign 16
f_ltr:  mov ax, 0x38                    # 0x12020 TR = TSS A
        ltr ax
        hlt
        .balign 16
f_iret: iretd                           # 0x12030 F12 (NT set by the test)
        .balign 16
f_task: mov edx, 0xaaaa                 # 0x12040 the new task's code
        hlt
        .balign 16
f_v86:  push 0x3000                     # 0x12050 F13: GS, FS, DS, ES,
        push 0x3000                     # SS, ESP, EFLAGS = ebx, CS, EIP
        push 0x3000
        push 0x3000
        push 0x2000
        push 0x0f00
        push ebx
        push 0x1300
        push 0
        iretd

        .balign 4096                    # 0x13000: v86 code, CS = 0x1300
        .code16
v86:    mov word ptr [0x10], 0x4242     # DS = 0x3000: linear 0x30010
        sysenter                        # F14: does nothing
        int 0x21                        # 0x13008: IOPL 0: #GP; 3: 0x21
        hlt
        iret                            # 0x1300b (F13: IRET with NT)
