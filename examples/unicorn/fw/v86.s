# Virtual-8086 mode under legacy 32-bit protected mode (SDM vol. 3A ch.
# 20).  Ring 0 arms a periodic LAPIC timer and enters virtual-8086 mode
# with IRETD (VM = 1 in the popped EFLAGS, IOPL 3: 20.2.1), where 16-bit
# code at CS = 0x1200 runs with distinct DS, ES, FS, GS, SS and:
#   1. INT 0x22 (IOPL 3: through the IDT, 20.3.1.1) -> a DPL 3 interrupt
#      gate to ring-0 code: SS0:ESP0 from the TSS, the 9-dword frame GS,
#      FS, DS, ES, SS, ESP, EFLAGS (VM = 1), CS, EIP (figure 20-5), data
#      segments null, VM, NT and IF clear, CPL 0, and no trace of a task
#      switch (TR, LDTR, the TSS and its busy bit, CR0.TS); IRETD back;
#   2. INT 0x24 -> a gate whose code segment has DPL 3: #GP(0x30) (20.3.1.1:
#      a handler must be in a nonconforming DPL 0 segment), delivered
#      from virtual-8086 mode with its error code;
#   3. INT 0x23 -> a task gate: the main task's TSS saves EFLAGS with
#      VM = 1 and the v86 selectors; the task clears IOPL in that image
#      and IRETs (NT) back to virtual-8086 mode;
#   4. spins until three timer ticks (an interrupt gate to ring 0: the
#      frame checked as in 1, EIP in the spin loop) came and went;
#   5. INT 0x21 with IOPL 0: #GP(0) (20.3.3, no VME), 10 dwords with the
#      error code, EIP at the INT; the #GP handler checks everything and
#      exits.  Registers of the v86 code survive every interrupt.
        .include "common.inc"
        .include "legacy.inc"
        .set IDT32, 0x1000
        .set TSS_MAIN, 0x3000           # the TSS of the main (v86) task
        .set TSS_T, 0x3100              # the task of INT 0x23
        .set SEL_C32, 0x18
        .set SEL_MAIN, 0x20
        .set SEL_T, 0x28
        .set SEL_C3, 0x30               # a DPL 3 code segment
        .set ESP0, STACKS + 0x2000      # ring-0 stack of the v86 task
        .set V86_BASE, 0x12000          # the v86 code: CS = 0x1200
        .set V86_CS, V86_BASE >> 4
        .set V86_DS, 0x0500             # linear 0x5000: shared variables
        .set V86_SS, 0x0600
        .set V86_ES, 0x0700
        .set V86_FS, 0x0800
        .set V86_GS, 0x0900
        .set V86_SP, 0x1000
        .set V_TICKS, 0x5000            # variables at V86_DS:0
        .set V_COUNT, 0x5004
        .set V_SOFT, 0x5008
        .set V_TASK, 0x500c
        .set V_BAD, 0x5010
        .set V_GPSEL, 0x5014
        .set EFL_VM, 1 << 17
        .set EFL_NT, 1 << 14
        .set EFL_IOPL, 3 << 12
        .set EFL_IF, 1 << 9

        .code64
        .globl _start
_start:
        LEAVE_LONG_MODE gdt32_ptr, SEL_C32, legacy

        .code32
legacy: call setup_idt
        mov edi, TSS_MAIN               # SS0:ESP0 for the v86 task
        mov ecx, 104 / 4
        xor eax, eax
        rep stosd
        mov dword ptr [TSS_MAIN + 4], ESP0
        mov word ptr [TSS_MAIN + 8], SEL_DATA
        mov word ptr [TSS_MAIN + 0x66], 104
        mov edi, TSS_T
        mov ecx, 104 / 4
        rep stosd
        mov dword ptr [TSS_T + 0x20], offset task_t
        mov dword ptr [TSS_T + 0x24], 2
        mov dword ptr [TSS_T + 0x38], STACKS + 0x3000
        mov word ptr [TSS_T + 0x48], SEL_DATA
        mov word ptr [TSS_T + 0x4c], SEL_C32
        mov word ptr [TSS_T + 0x50], SEL_DATA
        mov word ptr [TSS_T + 0x54], SEL_DATA
        mov word ptr [TSS_T + 0x66], 104
        mov edi, V_TICKS
        mov ecx, 8
        rep stosd
        mov ax, SEL_MAIN
        ltr ax
        lidt [idt32_ptr]
        mov esi, offset hello
        call puts32
        mov ebx, LAPIC
        mov dword ptr [ebx + LAPIC_SVR], 0x1ff
        mov dword ptr [ebx + LAPIC_TDCR], 0xb
        mov dword ptr [ebx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [ebx + LAPIC_TMICT], 5000
        # To virtual-8086 mode: IRETD at CPL 0 with VM = 1 pops EIP, CS,
        # EFLAGS, ESP, SS, ES, DS, FS, GS (20.2.1, IRET's pseudo-code).
        push V86_GS
        push V86_FS
        push V86_DS
        push V86_ES
        push V86_SS
        push V86_SP
        push EFL_VM | EFL_IOPL | EFL_IF | 2
        push V86_CS
        push 0
        iretd

        FAIL_EXITS 11, 12, 13, 14, 15, 16, 17, 18
        FAIL_EXITS 21, 22, 23, 24, 25, 26, 27
        FAIL_EXITS 31, 32, 33, 34, 35
unexpected32:
        EXIT 0xbadf

# ENTRY_CHECKS n: what every ring-0 handler entered from v86 mode finds
# (20.3.1.1, figure 20-5): DS, ES, FS, GS null, CS = the gate's with
# CPL 0, SS = SS0, VM, NT clear and IF clear (interrupt gates), frame of
# `n` bytes ending at ESP0 (after a PUSHAD); then DS = SEL_DATA.
        .macro ENTRY_CHECKS n, fail
        pushad
        mov ax, ds
        mov bx, es
        or ax, bx
        mov bx, fs
        or ax, bx
        mov bx, gs
        or ax, bx
        jnz \fail
        mov ax, cs
        cmp ax, SEL_C32
        jne \fail
        mov ax, ss
        cmp ax, SEL_DATA
        jne \fail
        lea eax, [esp + 32 + \n]
        cmp eax, ESP0
        jne \fail
        pushfd
        pop eax
        test eax, EFL_VM | EFL_NT | EFL_IF
        jnz \fail
        mov eax, cr0                    # privileged: CPL 0
        mov ax, SEL_DATA
        mov ds, ax
        str ax                          # no task switch: TR, LDTR, the
        cmp ax, SEL_MAIN                # busy TSS and its SS0:ESP0 as
        jne \fail                       # they were
        sldt ax
        test ax, ax
        jnz \fail
        cmp byte ptr [gdt32 + SEL_MAIN + 5], 0x8b
        jne \fail
        cmp dword ptr [TSS_MAIN + 4], ESP0
        jne \fail
        .endm

# v86_frame: the frame at esi (EIP first): EIP inside the v86 code,
# CS, EFLAGS with VM and IF set, SP, SS, ES, DS, FS, GS as entered.
# Returns ZF = 1 when it all holds.
v86_frame:
        cmp dword ptr [esi], v86_end - v86_code
        jae 1f
        cmp dword ptr [esi + 4], V86_CS
        jne 1f
        mov eax, dword ptr [esi + 8]
        and eax, EFL_VM | EFL_IF
        cmp eax, EFL_VM | EFL_IF
        jne 1f
        cmp dword ptr [esi + 12], V86_SP
        ja 1f
        cmp dword ptr [esi + 12], V86_SP - 8
        jb 1f
        cmp dword ptr [esi + 16], V86_SS
        jne 1f
        cmp dword ptr [esi + 20], V86_ES
        jne 1f
        cmp dword ptr [esi + 24], V86_DS
        jne 1f
        cmp dword ptr [esi + 28], V86_FS
        jne 1f
        cmp dword ptr [esi + 32], V86_GS
1:      ret

# 1. INT 0x22, software, IOPL 3: 9 dwords, EIP after the INT.
soft_isr:
        ENTRY_CHECKS 36, fail11
        mov eax, cr0                    # before any task switch: TS
        test al, 8                      # clear, the TSS's state area
        jnz fail15                      # untouched
        cmp dword ptr [TSS_MAIN + 0x20], 0
        jne fail15
        cmp dword ptr [TSS_MAIN + 0x24], 0
        jne fail15
        lea esi, [esp + 32]
        call v86_frame
        jne fail12
        cmp dword ptr [esi], v_after22 - v86_code
        jne fail12
        mov dword ptr [V_SOFT], 1
        popad
        iretd                           # VM = 1 in EFLAGS: back to v86

# 4. Timer ticks (vector 0x40): 9 dwords, EIP in the v86 code.
timer_isr:
        ENTRY_CHECKS 36, fail13
        lea esi, [esp + 32]
        call v86_frame
        jne fail14
        mov dword ptr [LAPIC + LAPIC_EOI], 0
        inc dword ptr [V_TICKS]
        popad
        iretd

# 2. and 5. #GP: an error code, then the 9 dwords.
gp_isr: ENTRY_CHECKS 40, fail21
        lea esi, [esp + 32 + 4]
        call v86_frame
        jne fail22
        mov eax, dword ptr [esp + 32]
        cmp eax, SEL_C3                 # 2. the gate's DPL 3 segment
        je gp_sel
        test eax, eax                   # 5. INT n at IOPL 0: #GP(0)
        jnz fail23
        cmp dword ptr [esi], v_int21 - v86_code     # a fault: the INT
        jne fail24
        test dword ptr [esi + 8], EFL_IOPL
        jnz fail24
        cmp dword ptr [V_SOFT], 1
        jne fail25
        cmp dword ptr [V_GPSEL], 1
        jne fail25
        cmp dword ptr [V_TASK], 1
        jne fail25
        cmp dword ptr [V_TICKS], 3
        jb fail26
        cmp dword ptr [V_COUNT], 0
        je fail26
        cmp dword ptr [V_BAD], 0
        jne fail27
        mov esi, offset pass
        call puts32
        EXIT EXIT_PASS
gp_sel: mov eax, dword ptr [esi]
        cmp eax, v_after24 - v86_code - 2       # the INT itself
        jne 1f
        add dword ptr [esi], 2
        jmp 2f
1:      cmp eax, v_after24 - v86_code
        jne fail22
2:      mov dword ptr [V_GPSEL], 1
        popad
        add esp, 4                      # the error code
        iretd

# 3. The task of INT 0x23 (task gate, DPL 3): the interrupted v86 task's
# state in its TSS (7.3 step 8), VM = 1 in its EFLAGS image.
task_t: pushfd
        pop eax
        test eax, EFL_NT
        jz fail31
        cmp word ptr [TSS_T], SEL_MAIN
        jne fail31
        mov eax, dword ptr [TSS_MAIN + 0x24]
        and eax, EFL_VM | EFL_IOPL | EFL_IF
        cmp eax, EFL_VM | EFL_IOPL | EFL_IF
        jne fail32
        cmp dword ptr [TSS_MAIN + 0x20], v_after23 - v86_code
        jne fail33
        cmp word ptr [TSS_MAIN + 0x4c], V86_CS
        jne fail34
        cmp word ptr [TSS_MAIN + 0x50], V86_SS
        jne fail34
        cmp word ptr [TSS_MAIN + 0x48], V86_ES
        jne fail34
        cmp word ptr [TSS_MAIN + 0x54], V86_DS
        jne fail34
        cmp word ptr [TSS_MAIN + 0x58], V86_FS
        jne fail34
        cmp word ptr [TSS_MAIN + 0x5c], V86_GS
        jne fail34
        cmp word ptr [TSS_MAIN + 0x28], 0x1234  # AX
        jne fail35
        cmp word ptr [TSS_MAIN + 0x3c], 0x1111  # BP
        jne fail35
        and dword ptr [TSS_MAIN + 0x24], ~EFL_IOPL  # IRET loads IOPL 0
        mov dword ptr [V_TASK], 1
        iretd
        jmp task_t

setup_idt:
        mov edi, IDT32
        xor esi, esi
1:      mov eax, esi
        mov edx, offset unexpected32
        mov bx, SEL_C32
        mov cl, 0x8e
        call gate32
        inc esi
        cmp esi, 256
        jb 1b
        mov bx, SEL_C32
        mov eax, 13
        mov edx, offset gp_isr
        call gate32
        mov eax, 0x40
        mov edx, offset timer_isr
        call gate32
        mov cl, 0xee                    # interrupt gate, DPL 3
        mov eax, 0x22
        mov edx, offset soft_isr
        call gate32
        mov eax, 0x24
        mov bx, SEL_C3                  # its code segment has DPL 3
        call gate32
        mov cl, 0xe5                    # task gate, DPL 3
        mov eax, 0x23
        mov bx, SEL_T
        call gate32
        ret

        LEGACY_SUBROUTINES

hello:  .asciz "v86: virtual-8086 mode\n"
pass:   .asciz "v86: pass\n"
idt32_ptr:
        .word 256 * 8 - 1
        .long IDT32

# The v86 code, CS = 0x1200, IP = offset from v86_code; DS = V86_DS.
        .org V86_BASE - 0x10000
        .code16
v86_code:
        mov ax, 0x1234
        mov bx, 0x5678
        mov cx, 0x9abc
        mov dx, 0xdef0
        mov si, 0x1357
        mov di, 0x2468
        mov bp, 0x1111
        int 0x22
v_after22:
        call check_regs
        int 0x24
v_after24:
        call check_regs
        int 0x23
v_after23:
        call check_regs
1:      inc word ptr [V_COUNT - 0x5000]
        cmp word ptr [V_TICKS - 0x5000], 3
        jb 1b
        call check_regs
v_int21:
        int 0x21                        # IOPL 0 now: #GP(0)
2:      jmp 2b

check_regs:
        cmp ax, 0x1234
        jne 1f
        cmp bx, 0x5678
        jne 1f
        cmp cx, 0x9abc
        jne 1f
        cmp dx, 0xdef0
        jne 1f
        cmp si, 0x1357
        jne 1f
        cmp di, 0x2468
        jne 1f
        cmp bp, 0x1111
        je 2f
1:      mov word ptr [V_BAD - 0x5000], 1
2:      ret
v86_end:

        .code32
        .balign 4096
DATA:                                   # the GDT: LTR and task switches
                                        # write its busy bits
gdt32:  .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
        .quad 0x0000890030000067        # 0x20: TSS of the v86 task
        .quad 0x0000890031000067        # 0x28: TSS of task T
        .quad 0x00cffa000000ffff        # 0x30: 32-bit code, DPL 3
gdt32_end:
gdt32_ptr:
        .word gdt32_end - gdt32 - 1
        .quad gdt32
        .balign 4096
