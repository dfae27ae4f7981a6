# The TPR through CR8 (SDM 11.8.6) and #GP(0) from the Local APIC's MSRs
# (11.12.1.2, 11.12.1.3).
#  1. MOV CR8 writes the TPR's priority class: CR8 = n is TPR = n << 4
#     (read back through CR8 and the xAPIC TPR register).  An interrupt
#     of a class <= CR8 stays pending in the IRR until CR8 is lowered
#     below its class; a higher class is taken at once (11.8.3.1).
#  2. Faults the firmware's #GP handler sees with error code 0 at the
#     faulting instruction, which it skips: an x2APIC MSR in xAPIC mode,
#     a reserved x2APIC MSR, a write to a read-only one, a non-zero EOI,
#     a reserved CR8 bit; LOCK RDMSR is #UD.
        .include "common.inc"
        .include "msr.inc"

# A fixed self-IPI (ICR shorthand 01b, SDM 11.6.1) of vector vec, then
# 1000 loops with interrupts as they are.  rbx = LAPIC; clobbers ecx.
        .macro SELF_IPI_SPIN vec
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x00040000 | \vec
        mov ecx, 1000
1:      dec ecx
        jnz 1b
        .endm

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0x55, isr55
        GATE 0x66, isr66
        GATE 13, gp_isr
        GATE 6, ud_isr
        PUTS hello

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff

        # 1. CR8 = 5: read back, TPR = 0x50.
        mov eax, 5
        mov cr8, rax
        mov rcx, cr8
        cmp rcx, 5
        jne fail1
        cmp dword ptr [rbx + 0x80], 0x50
        jne fail1
        # A TPR write shows in CR8 (TPR[3:0] is not visible there).
        mov dword ptr [rbx + 0x80], 0x3c
        mov rcx, cr8
        cmp rcx, 3
        jne fail1
        mov eax, 5
        mov cr8, rax

        # Self IPI 0x55 (class 5 <= CR8): pending, not taken.
        sti
        SELF_IPI_SPIN 0x55
        cmp qword ptr [rip + hits55], 0
        jne fail2
        bt dword ptr [rbx + 0x220], 0x55 - 0x40   # IRR[0x55]
        jnc fail2
        # Class 6 is above CR8: taken at once, while 0x55 still waits.
        SELF_IPI_SPIN 0x66
        cmp qword ptr [rip + hits66], 1
        jne fail2
        cmp qword ptr [rip + hits55], 0
        jne fail2
        # CR8 = 4: 0x55 is taken before the next instruction ends.
        mov eax, 4
        mov cr8, rax
        nop
        nop
        cmp qword ptr [rip + hits55], 1
        jne fail3
        xor eax, eax
        mov cr8, rax
        cli

        # 2. #GP(0) and #UD, each handled and skipped.
        mov qword ptr [rip + gp_len], 2
        lea rax, [rip + gp1]
        mov qword ptr [rip + gp_at], rax
        mov ecx, X2_ID
gp1:    rdmsr                                # x2APIC MSR in xAPIC mode
        cmp qword ptr [rip + gp_count], 1
        jne fail4

        TO_X2APIC
        lea rax, [rip + gp2]
        mov qword ptr [rip + gp_at], rax
        mov ecx, 0x805                       # reserved
        xor eax, eax
        xor edx, edx
gp2:    wrmsr
        lea rax, [rip + gp3]
        mov qword ptr [rip + gp_at], rax
        mov ecx, X2_ID                       # read-only
        xor eax, eax
gp3:    wrmsr
        lea rax, [rip + gp4]
        mov qword ptr [rip + gp_at], rax
        mov ecx, X2_EOI                      # EOI must be written 0
        mov eax, 1
gp4:    wrmsr
        lea rax, [rip + gp5]
        mov qword ptr [rip + gp_at], rax
        mov ecx, X2_SVR                      # SVR[63:32] reserved
        mov eax, 0x1ff
        mov edx, 1
gp5:    wrmsr
        cmp qword ptr [rip + gp_count], 5
        jne fail4
        # The SVR write that faulted changed nothing; a legal one works.
        RDMSRI X2_SVR
        cmp rax, 0x1ff
        jne fail4

        mov qword ptr [rip + gp_len], 4
        lea rax, [rip + gp6]
        mov qword ptr [rip + gp_at], rax
        mov eax, 0x10                        # CR8[63:4] reserved
gp6:    mov cr8, rax
        cmp qword ptr [rip + gp_count], 6
        jne fail4
        mov rcx, cr8
        test rcx, rcx
        jne fail4

        lea rax, [rip + ud1]
        mov qword ptr [rip + gp_at], rax
        mov ecx, X2_ID
ud1:    .byte 0xf0, 0x0f, 0x32               # lock rdmsr: #UD
        cmp qword ptr [rip + ud_count], 1
        jne fail5

        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5, 6

isr55:
        inc qword ptr [rip + hits55]
        EOI
        iretq

isr66:
        inc qword ptr [rip + hits66]
        EOI
        iretq

# #GP: [rsp] = error code, [rsp + 8] = RIP of the faulting instruction.
gp_isr:
        push rax
        cmp qword ptr [rsp + 8], 0
        jne fail6
        mov rax, qword ptr [rsp + 16]
        cmp rax, qword ptr [rip + gp_at]
        jne fail6
        add rax, qword ptr [rip + gp_len]
        mov qword ptr [rsp + 16], rax
        inc qword ptr [rip + gp_count]
        pop rax
        add rsp, 8
        iretq

# #UD: no error code; skip the 3-byte LOCK RDMSR.
ud_isr:
        push rax
        mov rax, qword ptr [rsp + 8]
        cmp rax, qword ptr [rip + gp_at]
        jne fail6
        add rax, 3
        mov qword ptr [rsp + 8], rax
        inc qword ptr [rip + ud_count]
        pop rax
        iretq

hello:  .asciz "cr8: TPR through CR8, #GP from the APIC MSRs\n"
pass:   .asciz "cr8: pass\n"

        .include "lib.inc"

        .balign 4096
DATA:
hits55:   .quad 0
hits66:   .quad 0
gp_count: .quad 0
ud_count: .quad 0
gp_len:   .quad 0
gp_at:    .quad 0
        .balign 4096
