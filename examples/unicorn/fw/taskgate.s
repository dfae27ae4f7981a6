# Task gates in legacy 32-bit protected mode (SDM vol. 3A 6.12.2
# "Interrupt Tasks", 7.3 "Task Switching", 7.4 "Task Linking").  The
# main task (TSS at 0x3000, selector 0x20, loaded by LTR) takes, each
# through a task gate of the IDT into a task of its own:
#   1. INT 0x50 -> task A: NT set, TR = A, A's previous-task link = the
#      main TSS, both descriptors busy (nesting), the main task's EIP
#      (after the INT), general and segment registers saved in its TSS,
#      CR0.TS set; A clobbers every register and IRETs (NT: back to the
#      main task, 7.3) - the main task's registers survive, NT clear, A's
#      descriptor available again, A's EIP saved after its IRET;
#   2. inside task A, INT 0x50 again: A is busy, #GP(0x28) (6.12.2, the
#      TSS selector as error code) to an interrupt gate;
#   3. INT 0x31 through a not-present gate: #NP(0x31 * 8 + 2) through a
#      task gate to task C, its error code pushed on C's stack;
#   4. #DE (DIV by 0) -> task D, which moves the main task's saved EIP
#      past the DIV before its IRET;
#   5. LAPIC timer ticks (vector 0x40) -> task B, from `sti; hlt`: the
#      main task's saved EIP is after its HLT, B runs with IF clear (its
#      TSS's EFLAGS), the main task gets IF back from its TSS.
        .include "common.inc"
        .include "legacy.inc"
        .set IDT32, 0x1000              # 256 gates of 8 bytes
        .set TSS_MAIN, 0x3000           # 104-byte 32-bit TSSs (7.2.1)
        .set TSS_A, 0x3100
        .set TSS_B, 0x3200
        .set TSS_C, 0x3300
        .set TSS_D, 0x3400
        .set SEL_C32, 0x18
        .set SEL_MAIN, 0x20
        .set SEL_A, 0x28
        .set SEL_B, 0x30
        .set SEL_C, 0x38
        .set SEL_D, 0x40
        .set T_LINK, 0x00               # TSS fields (figure 7-2)
        .set T_EIP, 0x20
        .set T_EFLAGS, 0x24
        .set T_EAX, 0x28
        .set T_ECX, 0x2c
        .set T_EDX, 0x30
        .set T_EBX, 0x34
        .set T_ESP, 0x38
        .set T_EBP, 0x3c
        .set T_ESI, 0x40
        .set T_EDI, 0x44
        .set T_CS, 0x4c
        .set T_SS, 0x50
        .set T_DS, 0x54
        .set NT, 14                     # EFLAGS bits
        .set IF, 9

        .code64
        .globl _start
_start:
        LEAVE_LONG_MODE gdt32_ptr, SEL_C32, legacy

        .code32
legacy: call setup_idt
        mov edi, TSS_A
        mov edx, offset task_a
        mov ecx, STACKS + 0x2000
        call init_tss
        mov edi, TSS_B
        mov edx, offset task_b
        mov ecx, STACKS + 0x3000
        call init_tss
        mov edi, TSS_C
        mov edx, offset task_c
        mov ecx, STACKS + 0x4000
        call init_tss
        mov edi, TSS_D
        mov edx, offset task_d
        mov ecx, STACKS + 0x5000
        call init_tss
        mov ax, SEL_MAIN
        ltr ax                          # the main task's TSS, busy
        lidt [idt32_ptr]
        mov esi, offset hello
        call puts32

        # 1. INT 0x50 through a task gate; every register must survive.
        mov eax, 0x11111111
        mov ebx, 0x22222222
        mov ecx, 0x33333333
        mov edx, 0x44444444
        mov esi, 0x55555555
        mov edi, 0x66666666
        mov ebp, 0x77777777
        mov dword ptr [main_esp], esp
        int 0x50
after50:
        cmp eax, 0x11111111
        jne fail1
        cmp ebx, 0x22222222
        jne fail1
        cmp ecx, 0x33333333
        jne fail1
        cmp edx, 0x44444444
        jne fail1
        cmp esi, 0x55555555
        jne fail1
        cmp edi, 0x66666666
        jne fail1
        cmp ebp, 0x77777777
        jne fail1
        cmp esp, dword ptr [main_esp]
        jne fail1
        pushfd                          # NT from the main TSS: clear
        pop eax
        bt eax, NT
        jc fail2
        cmp dword ptr [a_runs], 1
        jne fail2
        str ax                          # TR back to the main task
        cmp ax, SEL_MAIN
        jne fail2
        # 7.3 steps 6, 10: IRET cleared A's busy bit, the main task's
        # stays set; A's EIP was saved after its IRET.
        cmp byte ptr [gdt32 + SEL_A + 5], 0x89
        jne fail3
        cmp byte ptr [gdt32 + SEL_MAIN + 5], 0x8b
        jne fail3
        cmp dword ptr [TSS_A + T_EIP], offset a_resume
        jne fail3
        mov eax, cr0                    # every task switch sets CR0.TS
        test al, 8
        jz fail3
        clts

        # 3. #NP(0x18A) through a task gate, error code on C's stack.
int31:  int 0x31
        cmp dword ptr [c_runs], 1
        jne fail4
        cmp dword ptr [c_err], 0x31 * 8 + 2
        jne fail4

        # 4. #DE through a task gate; task D skips the DIV.
        mov eax, 0x1234
        xor edx, edx
        xor ecx, ecx
div0:   div ecx
        cmp eax, 0x1234
        jne fail5
        cmp dword ptr [d_runs], 1
        jne fail5

        # 5. Timer ticks through a task gate, from sti; hlt.
        mov ebx, LAPIC
        mov dword ptr [ebx + LAPIC_SVR], 0x1ff
        mov dword ptr [ebx + LAPIC_TDCR], 0xb
        mov dword ptr [ebx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [ebx + LAPIC_TMICT], 5000
        sti
6:      hlt
after_hlt:
        cmp dword ptr [ticks], 3
        jb 6b
        cli
        mov dword ptr [ebx + LAPIC_TMICT], 0
        cmp dword ptr [b_first_eip], offset after_hlt
        jne fail6
        mov esi, offset pass
        call puts32
        EXIT EXIT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5, 6
        FAIL_EXITS 21, 22, 23, 24, 25, 26, 27
        FAIL_EXITS 31, 32, 41, 42, 51, 52
unexpected32:
        EXIT 0xbadf

# Task A (INT 0x50).  7.3 step 9: NT set; 7.4: link = the main TSS;
# step 10: both busy; step 8: the main task's state in its TSS.
task_a: pushfd
        pop eax
        bt eax, NT
        jnc fail21
        str ax
        cmp ax, SEL_A
        jne fail21
        cmp word ptr [TSS_A + T_LINK], SEL_MAIN
        jne fail22
        cmp byte ptr [gdt32 + SEL_MAIN + 5], 0x8b
        jne fail23
        cmp byte ptr [gdt32 + SEL_A + 5], 0x8b
        jne fail23
        cmp dword ptr [TSS_MAIN + T_EIP], offset after50
        jne fail24
        cmp dword ptr [TSS_MAIN + T_EAX], 0x11111111
        jne fail24
        cmp dword ptr [TSS_MAIN + T_EBX], 0x22222222
        jne fail24
        cmp dword ptr [TSS_MAIN + T_ECX], 0x33333333
        jne fail24
        cmp dword ptr [TSS_MAIN + T_EDX], 0x44444444
        jne fail24
        cmp dword ptr [TSS_MAIN + T_ESI], 0x55555555
        jne fail24
        cmp dword ptr [TSS_MAIN + T_EDI], 0x66666666
        jne fail24
        cmp dword ptr [TSS_MAIN + T_EBP], 0x77777777
        jne fail24
        mov eax, dword ptr [main_esp]
        cmp dword ptr [TSS_MAIN + T_ESP], eax
        jne fail24
        cmp word ptr [TSS_MAIN + T_CS], SEL_C32
        jne fail25
        cmp word ptr [TSS_MAIN + T_SS], SEL_DATA
        jne fail25
        cmp word ptr [TSS_MAIN + T_DS], SEL_DATA
        jne fail25
        bt dword ptr [TSS_MAIN + T_EFLAGS], NT
        jc fail25
        cmp esp, STACKS + 0x2000        # A's own stack, from its TSS
        jne fail26
        mov eax, cr0
        test al, 8                      # CR0.TS
        jz fail26
        # 2. A is busy: a second INT 0x50 is #GP(0x28).
        mov dword ptr [gp_err], -1
a_int:  int 0x50
        cmp dword ptr [gp_err], SEL_A
        jne fail27
        mov eax, 0xdead0001             # clobber everything
        mov ebx, eax
        mov ecx, eax
        mov edx, eax
        mov esi, eax
        mov edi, eax
        mov ebp, eax
        inc dword ptr [a_runs]
        iretd                           # NT = 1: back to the main task
a_resume:
        jmp task_a

# #GP through an interrupt gate (in task A): error code, EIP, CS, EFLAGS.
gp_isr: pop dword ptr [gp_err]
        cmp dword ptr [esp], offset a_int
        jne 1f
        add dword ptr [esp], 2          # the INT itself: skip it
1:      cmp dword ptr [esp], offset a_int + 2
        jne fail27
        iretd

# Task B (timer, vector 0x40): EFLAGS from B's TSS (IF clear).
task_b: pushfd
        pop eax
        bt eax, NT
        jnc fail31
        bt eax, IF
        jc fail31
        cmp word ptr [TSS_B + T_LINK], SEL_MAIN
        jne fail32
        cmp dword ptr [ticks], 0
        jne 1f
        mov eax, dword ptr [TSS_MAIN + T_EIP]
        mov dword ptr [b_first_eip], eax
1:      mov dword ptr [LAPIC + LAPIC_EOI], 0
        inc dword ptr [ticks]
        iretd
        jmp task_b

# Task C (#NP): the error code is on C's stack (INT n, TASK-GATE).
task_c: pop eax
        mov dword ptr [c_err], eax
        cmp esp, STACKS + 0x4000
        jne fail41
        cmp word ptr [TSS_C + T_LINK], SEL_MAIN
        jne fail41
        mov eax, dword ptr [TSS_MAIN + T_EIP]
        cmp eax, offset int31           # a fault: the INT itself
        jne 1f
        add dword ptr [TSS_MAIN + T_EIP], 2
        jmp 2f
1:      cmp eax, offset int31 + 2
        jne fail42
2:      inc dword ptr [c_runs]
        iretd
        jmp task_c

# Task D (#DE, a fault): the main task's saved EIP is the DIV.
task_d: cmp word ptr [TSS_D + T_LINK], SEL_MAIN
        jne fail51
        cmp dword ptr [TSS_MAIN + T_EIP], offset div0
        jne fail52
        add dword ptr [TSS_MAIN + T_EIP], 2     # DIV ECX is F7 F1
        inc dword ptr [d_runs]
        iretd
        jmp task_d

# init_tss: the 32-bit TSS at edi starts at edx with stack ecx, flat
# selectors, EFLAGS 2 (IF clear), no LDT, the I/O map base past the
# end (7.2.1).
init_tss:
        push edi
        push ecx
        mov ecx, 104 / 4
        xor eax, eax
        rep stosd
        pop ecx
        pop edi
        mov dword ptr [edi + T_EIP], edx
        mov dword ptr [edi + T_EFLAGS], 2
        mov dword ptr [edi + T_ESP], ecx
        mov word ptr [edi + 0x48], SEL_DATA     # ES
        mov word ptr [edi + T_CS], SEL_C32
        mov word ptr [edi + T_SS], SEL_DATA
        mov word ptr [edi + T_DS], SEL_DATA
        mov word ptr [edi + 0x66], 104
        ret

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
        mov cl, 0x85                    # task gates (6.11, figure 6-2)
        xor edx, edx
        mov eax, 0x50
        mov bx, SEL_A
        call gate32
        mov eax, 0x40
        mov bx, SEL_B
        call gate32
        mov eax, 11
        mov bx, SEL_C
        call gate32
        mov eax, 0
        mov bx, SEL_D
        call gate32
        mov eax, 13
        mov edx, offset gp_isr
        mov bx, SEL_C32
        mov cl, 0x8e
        call gate32
        mov byte ptr [IDT32 + 0x31 * 8 + 5], 0x0e   # 0x31: not present
        ret

        LEGACY_SUBROUTINES

hello:  .asciz "taskgate: task gates in legacy protected mode\n"
pass:   .asciz "taskgate: pass\n"

idt32_ptr:
        .word 256 * 8 - 1
        .long IDT32

        .balign 4096
DATA:                                   # the GDT too: task switches
                                        # write its busy bits
gdt32:  .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
        .quad 0x0000890030000067        # 0x20: TSS main, available
        .quad 0x0000890031000067        # 0x28: TSS A
        .quad 0x0000890032000067        # 0x30: TSS B
        .quad 0x0000890033000067        # 0x38: TSS C
        .quad 0x0000890034000067        # 0x40: TSS D
gdt32_end:
gdt32_ptr:
        .word gdt32_end - gdt32 - 1
        .quad gdt32

main_esp:    .long 0
a_runs:      .long 0
gp_err:      .long 0
c_runs:      .long 0
c_err:       .long 0
d_runs:      .long 0
ticks:       .long 0
b_first_eip: .long 0
        .balign 4096
