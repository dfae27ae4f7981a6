# LAPIC timer in TSC-deadline mode (SDM 11.5.4.1) and the virtual TSC.
# CPUID.01H:ECX[24] says the mode exists; LVT timer mode 10b; the
# deadline is IA32_TSC_DEADLINE (MSR 0x6E0), armed from RDTSC + delta.
# It fires once and disarms (the MSR reads 0 again), re-arms, a deadline
# in the past fires at once, and writing 0 disarms.  RDTSC and RDTSCP
# never go back and always advance (the TSC is derived from the virtual
# clock: the runner's --twice test checks it is deterministic).
        .include "common.inc"
        .include "msr.inc"

# rax = the 64-bit TSC from insn (rdtsc, or rdtscp: clobbers rcx too);
# clobbers rdx.
        .macro READ_TSC insn=rdtsc
        \insn
        shl rdx, 32
        or rax, rdx
        .endm

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0x60, deadline_isr
        PUTS hello

        mov eax, 1
        cpuid
        bt ecx, 24
        jnc fail1

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x40060  # TSC-deadline, 0x60
        # The initial-count register is ignored in this mode and the
        # current count reads 0 (11.5.4.1).
        mov dword ptr [rbx + LAPIC_TMICT], 1000
        cmp dword ptr [rbx + LAPIC_TMCCT], 0
        jne fail2

        # 1. Arm 5000 ticks ahead and sleep: it fires once, after the
        #    deadline, and the MSR is cleared.
        READ_TSC
        lea r12, [rax + 5000]
        call arm
        sti
1:      hlt
        cmp qword ptr [rip + fired], 1
        jb 1b
        cli
        jne fail3
        cmp qword ptr [rip + fired_tsc], r12
        jb fail3
        RDMSRI MSR_TSC_DEADLINE
        test rax, rax
        jnz fail3

        # 2. Re-arm 3000 ahead, busy: fires once more.
        READ_TSC
        lea r12, [rax + 3000]
        call arm
        RDMSRI MSR_TSC_DEADLINE
        cmp rax, r12
        jne fail4
        sti
        mov ecx, 10000
2:      dec ecx
        jnz 2b
        cli
        cmp qword ptr [rip + fired], 2
        jne fail4
        cmp qword ptr [rip + fired_tsc], r12
        jb fail4

        # 3. A deadline already passed fires at once.
        mov r12, 1
        call arm
        sti
        nop
        nop
        cli
        cmp qword ptr [rip + fired], 3
        jne fail5

        # 4. Arm, then write 0: disarmed, nothing fires.
        READ_TSC
        lea r12, [rax + 2000]
        call arm
        xor r12d, r12d
        call arm
        sti
        mov ecx, 20000
3:      dec ecx
        jnz 3b
        cli
        cmp qword ptr [rip + fired], 3
        jne fail6

        # 5. RDTSC and RDTSCP strictly increase (SDM 17.17).
        READ_TSC
        mov r12, rax
        mov r13d, 1000
4:      READ_TSC rdtscp
        cmp rax, r12
        jbe fail7
        mov r12, rax
        READ_TSC
        cmp rax, r12
        jbe fail7
        mov r12, rax
        dec r13d
        jnz 4b
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5, 6, 7

# arm: IA32_TSC_DEADLINE <- r12 (0 disarms).
arm:
        mov ecx, MSR_TSC_DEADLINE
        mov rax, r12
        mov rdx, r12
        shr rdx, 32
        wrmsr
        ret

deadline_isr:
        push rax
        push rdx
        READ_TSC
        mov qword ptr [rip + fired_tsc], rax
        inc qword ptr [rip + fired]
        pop rdx
        pop rax
        EOI
        iretq

hello:  .asciz "tsc_deadline: TSC-deadline timer, RDTSC/RDTSCP\n"
pass:   .asciz "tsc_deadline: pass\n"

        .include "lib.inc"

        .balign 4096
DATA:
fired:     .quad 0
fired_tsc: .quad 0
        .balign 4096
