# LAPIC timer, periodic then one-shot, on one CPU (SDM 11.5.4).
# Time is virtual: one instruction is one nanosecond (the runner's
# default) and the APIC timer counts at 1 GHz with divide-by-1, so a
# period of 10000 counts is 10000 instructions of the CPU.
        .include "common.inc"
# 100000 iterations of `dec reg; jnz` with the periodic timer on: 19 to
# 21 ticks arrive (fail2 otherwise).  Clobbers rax, r12, reg.
        .macro BUSY_TICKS reg
        mov r12, qword ptr [rip + ticks]
        mov \reg, 100000
2:      dec \reg
        jnz 2b
        mov rax, qword ptr [rip + ticks]
        sub rax, r12
        cmp rax, 19
        jb fail2
        cmp rax, 21
        ja fail2
        .endm

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0x40, periodic_isr
        GATE 0x41, oneshot_isr
        PUTS hello

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff     # enable, spurious 0xFF
        mov dword ptr [rbx + LAPIC_TDCR], 0xb      # divide by 1
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x20040  # periodic, 0x40
        mov dword ptr [rbx + LAPIC_TMICT], 10000

        # 1. Ten ticks while halted: time skips from one deadline to the
        #    next (sti; hlt: the wake-up is not lost in the STI shadow).
        sti
1:      hlt
        cmp qword ptr [rip + ticks], 10
        jb 1b
        cmp qword ptr [rip + ticks], 10
        jne fail1

        # 2. Ticks while busy: 100000 iterations of two instructions are
        #    ~200000 ns, 20 periods (19..21 with the phase and the ISRs).
        BUSY_TICKS ecx

        # 2b. The same with `dec rcx; jnz` (48 FF C9 75 FB): the block ends
        #     in byte FB, the jump's displacement, not STI; no shadow, so
        #     the ticks still arrive inside the loop.
        BUSY_TICKS rcx

        # 3. One-shot: stop the periodic timer (TMICT = 0), program a
        #    single 5000-count shot on vector 0x41.
        cli
        mov dword ptr [rbx + LAPIC_TMICT], 0
        mov r12, qword ptr [rip + ticks]
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x41
        mov dword ptr [rbx + LAPIC_TMICT], 5000
        sti
3:      hlt
        cmp qword ptr [rip + shots], 1
        jb 3b
        mov eax, dword ptr [rbx + LAPIC_TMCCT]   # expired: reads 0
        test eax, eax
        jnz fail3
        mov ecx, 50000                           # no second shot, no tick
4:      dec ecx
        jnz 4b
        cmp qword ptr [rip + shots], 1
        jne fail4
        cmp qword ptr [rip + ticks], r12
        jne fail4
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4

periodic_isr:
        inc qword ptr [rip + ticks]
        EOI
        iretq

oneshot_isr:
        inc qword ptr [rip + shots]
        EOI
        iretq

hello:  .asciz "timer: periodic and one-shot\n"
pass:   .asciz "timer: pass\n"

        .include "lib.inc"

        .balign 4096
DATA:
ticks:  .quad 0
shots:  .quad 0
        .balign 4096
