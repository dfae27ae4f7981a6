# Delivery paths through the IDT in 64-bit mode (SDM 6.12-6.14), one
# CPU: INT n (frame layout, return after the instruction), #UD (return
# address = the faulting instruction), #GP from a bad segment
# load (an error code is pushed), a gate with IST1 (stack switch through
# the TSS), and NMI blocked from its delivery until IRET (6.7.1).
        .include "common.inc"
        .set TSS, 0x3000
        .set IST1_TOP, 0x8000

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0x30, int30_isr
        GATE 6, ud_isr
        GATE 13, gp_isr
        GATE 2, nmi_isr
        GATE 0x31, ist_isr
        mov byte ptr [IDT_BASE + 0x31 * 16 + 4], 1       # IST1

        # TSS: IST1 at offset 0x24; its 16-byte descriptor at GDT 0x18.
        mov qword ptr [TSS + 0x24], IST1_TOP
        lea rax, [rip + gdt_tss]
        mov word ptr [rax], 0x67
        mov word ptr [rax + 2], TSS & 0xffff
        mov byte ptr [rax + 4], (TSS >> 16) & 0xff
        mov byte ptr [rax + 5], 0x89                     # present, 64-bit TSS
        mov ax, 0x18
        ltr ax

        # INT 0x30: frame RIP, CS, RFLAGS, RSP, SS; RIP after the INT.
        mov r15, rsp
        int 0x30
after_int:
        cmp qword ptr [rip + int_ok], 1
        jne fail1

        # (#DE followed by #GP, error codes and #PF: exc_codes.s.)

        # #UD from UD2.
ud_at:  ud2
        cmp qword ptr [rip + ud_ok], 1
        jne fail3

        # #GP: load a selector beyond the GDT limit (error code pushed).
        mov ax, 0x80
gp_at:  mov ds, ax
        cmp qword ptr [rip + gp_ok], 1
        jne fail4

        # IST: the handler runs on the IST1 stack.
        int 0x31
        cmp qword ptr [rip + ist_ok], 1
        jne fail5

        # NMI to self (physical destination, delivery mode NMI).
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x400
        # An IPI arrives some time after the ICR write (here: at the end
        # of the translation block): wait for both NMIs, boundedly.
        mov ecx, 1000
2:      cmp qword ptr [rip + nmis], 2
        je 3f
        dec ecx
        jnz 2b
        jmp fail6
3:
        cmp qword ptr [rip + nmi_nested], 0
        jne fail6
        EXIT EXIT_PASS

        FAIL_EXITS 1, 3, 4, 5, 6

int30_isr:
        lea rax, [rip + after_int]
        cmp qword ptr [rsp], rax
        jne 1f
        cmp qword ptr [rsp + 8], SEL_CODE
        jne 1f
        cmp qword ptr [rsp + 24], r15                    # old RSP
        jne 1f
        cmp qword ptr [rsp + 32], SEL_DATA               # old SS
        jne 1f
        mov qword ptr [rip + int_ok], 1
1:      iretq

ud_isr:
        lea rax, [rip + ud_at]
        cmp qword ptr [rsp], rax
        jne 1f
        mov qword ptr [rip + ud_ok], 1
1:      add qword ptr [rsp], 2
        iretq

gp_isr:                                                  # [rsp] = error code
        lea rax, [rip + gp_at]
        cmp qword ptr [rsp + 8], rax
        jne 1f
        mov qword ptr [rip + gp_ok], 1
1:      add qword ptr [rsp + 8], 2
        add rsp, 8
        iretq

ist_isr:
        lea rax, [rsp + 40]                              # RSP before the frame
        cmp rax, IST1_TOP
        jne 1f
        mov qword ptr [rip + ist_ok], 1
1:      iretq

nmi_isr:
        inc qword ptr [rip + nmis]
        cmp qword ptr [rip + nmis], 1
        jne 1f
        # Send a second NMI from inside the handler: it must wait for
        # the IRET below.
        push rbx
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x400
        pop rbx
        mov ecx, 100            # time for it to arrive, if it could
2:      dec ecx
        jnz 2b
        cmp qword ptr [rip + nmis], 1
        je 1f
        mov qword ptr [rip + nmi_nested], 1
1:      iretq

        .include "lib.inc"

        .balign 4096
DATA:
int_ok: .quad 0
ud_ok:  .quad 0
gp_ok:  .quad 0
ist_ok: .quad 0
nmis:   .quad 0
nmi_nested: .quad 0
        .balign 4096
