# Delivery that changes CS's descriptor (SDM vol 3A 6.12.1, 6.14.4), one
# CPU in IA-32e mode:
#   1. from CPL 3 (64-bit user code): LAPIC timer ticks and INT 0x80
#      (gate DPL 3) to CPL 0 handlers on TSS.RSP0; each handler checks
#      it runs at CPL 0 (CS.RPL, and MOV from CR0, which is #GP at
#      CPL 3), the frame (SS, RSP, RFLAGS, CS, RIP of user code) and
#      the stack (TSS.RSP0 aligned to 16), then IRETQ back to CPL 3;
#   2. from compatibility mode (a 32-bit code segment at CPL 0): INT
#      0x81 to a 64-bit handler, which must run as 64-bit code (it
#      executes a REX-prefixed instruction whose meaning differs in
#      32-bit mode) and return by IRETQ to compatibility mode.
#   3. INT1 (F1, ICEBP) at CPL 3 through a DPL 0 gate: a #DB trap, with
#      no gate DPL check (SDM 6.12.1.1), the return RIP after it.
# The user code then makes a final INT 0x82 to end the test at CPL 0.
        .include "common.inc"
        .set TSS, 0x3000
        .set RSP0_TOP, 0x9000
        .set USER_STACK, 0xa000
        .set SEL_UCODE, 0x2b            # GDT 0x28, RPL 3: 64-bit code
        .set SEL_UDATA, 0x33            # GDT 0x30, RPL 3: data
        .set SEL_C32, 0x38              # GDT 0x38: 32-bit code, DPL 0

        .globl _start
_start:
        lgdt [gdt3_ptr]
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov rsp, STACKS + 0x1000
        push SEL_CODE
        lea rax, [rip + 1f]
        push rax
        retfq
1:      lidt [idt_ptr]
        call idt_defaults
        GATE 0x40, timer_isr
        GATE 0x80, int80_isr
        GATE 0x81, int81_isr
        GATE 0x82, done_isr
        GATE 13, gp_isr
        GATE 1, db_isr                  # DPL 0
        mov byte ptr [IDT_BASE + 0x80 * 16 + 5], 0xee  # DPL 3
        mov byte ptr [IDT_BASE + 0x82 * 16 + 5], 0xee
        PUTS hello

        # TSS: RSP0; its descriptor at GDT 0x18.
        mov qword ptr [TSS + 4], RSP0_TOP
        lea rax, [rip + gdt3_tss]
        mov word ptr [rax], 0x67
        mov word ptr [rax + 2], TSS & 0xffff
        mov byte ptr [rax + 4], (TSS >> 16) & 0xff
        mov byte ptr [rax + 5], 0x89
        mov ax, 0x18
        ltr ax

        # 2. Compatibility mode at CPL 0: INT 0x81 to a 64-bit handler.
        push SEL_C32
        lea rax, [rip + compat]
        push rax
        retfq
        .code32
compat: mov eax, 0x81
        int 0x81
        # Back in compatibility mode: this is 32-bit code again.
        cmp eax, 0x600d81
        jne 2f
        ljmp SEL_CODE, offset back64
2:      mov eax, 0xbad2
        out PORT_EXIT, eax
3:      hlt
        jmp 3b
        .code64
back64:
        # 1. User mode: timer ticks and INT 0x80 from CPL 3.
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_TDCR], 0xb
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [rbx + LAPIC_TMICT], 3000
        push SEL_UDATA                  # SS
        push USER_STACK                 # RSP
        push 0x202                      # RFLAGS: IF
        push SEL_UCODE                  # CS
        lea rax, [rip + user]
        push rax                        # RIP
        iretq

user:   mov r12, USER_STACK
1:      cmp qword ptr [rip + ticks], 5
        jb 1b
        .byte 0xf1                      # INT1
after_icebp:
        mov r13, rsp
        int 0x80
after80:
        cmp qword ptr [rip + int80_ok], 1
        jne 9f
        int 0x82                        # to CPL 0: check and exit
9:      int 0x82

# Timer: from CPL 3 (or CPL 0 at the first tick, if it comes early:
# then only count it).
timer_isr:
        mov rax, cr0                    # #GP at CPL 3
        mov ax, cs
        test ax, 3
        jnz 8f
        cmp qword ptr [rsp + 8], SEL_UCODE
        jne 1f
        cmp qword ptr [rsp + 32], SEL_UDATA
        jne 8f
        lea rax, [rsp + 40]
        cmp rax, RSP0_TOP               # on TSS.RSP0
        jne 8f
        mov rax, [rsp + 24]
        cmp rax, USER_STACK
        ja 8f
        inc qword ptr [rip + ticks]
1:      EOI
        iretq
8:      mov qword ptr [rip + bad], 1
        EOI
        iretq

int80_isr:
        mov rax, cr0
        mov ax, cs
        test ax, 3
        jnz 1f
        lea rax, [rip + after80]
        cmp [rsp], rax
        jne 1f
        cmp qword ptr [rsp + 8], SEL_UCODE
        jne 1f
        cmp [rsp + 24], r13             # user RSP
        jne 1f
        cmp qword ptr [rsp + 32], SEL_UDATA
        jne 1f
        mov qword ptr [rip + int80_ok], 1
1:      iretq

# In 64-bit mode 48 05 imm32 is `add rax, imm32`; in 32-bit mode 48 is
# `dec eax` and 05 imm32 `add eax, imm32`: eax = 0x81 ends as 0x600d81
# only as 64-bit code.
int81_isr:
        mov rdx, cr0
        .byte 0x48, 0x05
        .long 0x600d00
        cmp qword ptr [rsp + 8], SEL_C32
        je 1f
        xor eax, eax
1:      iretq

db_isr:
        lea rax, [rip + after_icebp]
        cmp [rsp], rax
        jne 1f
        cmp qword ptr [rsp + 8], SEL_UCODE
        jne 1f
        mov qword ptr [rip + icebp_ok], 1
1:      iretq

done_isr:
        mov rax, cr0
        mov ax, cs
        test ax, 3
        jnz 1f
        cmp qword ptr [rip + int80_ok], 1
        jne 2f
        cmp qword ptr [rip + icebp_ok], 1
        jne 2f
        cmp qword ptr [rip + bad], 0
        jne 3f
        PUTS pass
        EXIT EXIT_PASS
1:      EXIT 0xbad4
2:      EXIT 0xbad1
3:      EXIT 0xbad3

gp_isr: EXIT 0xbad5                     # a privileged instruction at CPL 3

        .include "lib.inc"
        .balign 16
gdt3:   .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code, DPL 0
        .quad 0x00cf92000000ffff        # 0x10: data, DPL 0
gdt3_tss:
        .quad 0, 0                      # 0x18: 64-bit TSS
        .quad 0x00affa000000ffff        # 0x28: 64-bit code, DPL 3
        .quad 0x00cff2000000ffff        # 0x30: data, DPL 3
        .quad 0x00cf9a000000ffff        # 0x38: 32-bit code, DPL 0
gdt3_end:
gdt3_ptr:
        .word gdt3_end - gdt3 - 1
        .quad gdt3
hello:  .asciz "ring3: delivery from CPL 3 and from compatibility mode\n"
pass:   .asciz "ring3: pass\n"

        .balign 4096
DATA:
ticks:  .quad 0
int80_ok: .quad 0
icebp_ok: .quad 0
bad:    .quad 0
        .balign 4096
