# The firmware of intc-uc-bench (bench/uc_bench.c): one image, one entry
# per case, chosen by the host (config.entry = 0x10000 + 16 * case).  The
# host writes the parameters and reads the counters in the PARAMS page.
# Reuses examples/unicorn/fw/{common,msr,lib}.inc.
#
# The busy loops need no GDT, IDT or stack: they run unchanged on a bare
# Unicorn engine with no hooks (HLT ends its uc_emu_start; the OUT to
# the debug-exit port goes nowhere there).
        .include "common.inc"
        .include "msr.inc"

        .set PARAMS, 0x8000
        .set P_N, PARAMS + 0x00        # qword: iterations, ticks, rounds
        .set P_PERIOD, PARAMS + 0x08   # dword: LAPIC timer initial count
        .set P_TICKS, PARAMS + 0x10    # qword: timer interrupts taken
        .set P_PONGS, PARAMS + 0x18    # dword: BSP, answers received
        .set P_PINGS, PARAMS + 0x1c    # dword: AP, pings received
        .set P_APS, PARAMS + 0x20      # dword: APs started

        .globl _start
_start:
        jmp busy_tight                  # 0
        .balign 16
        jmp busy_mixed                  # 1
        .balign 16
        jmp timer_halt                  # 2
        .balign 16
        jmp timer_busy                  # 3
        .balign 16
        jmp ipi_xapic                   # 4
        .balign 16
        jmp ipi_x2apic                  # 5
        .balign 16

# 0: P_N (< 2^32) iterations of a two-instruction block (2 N + 4
# instructions).  DEC ECX, not DEC RCX: with the 3-byte DEC RCX the JNZ
# is 75 FB, and libintc-uc 0.x reads a block whose last byte is FB as
# ending in STI, so no interrupt is ever taken inside such a loop (the
# timer-busy case would count 0 ticks).  Reported; not ours to fix here.
busy_tight:
        mov ecx, dword ptr ds:P_N
1:      dec ecx
        jnz 1b
        EXIT EXIT_PASS

# 1: P_N iterations of an eight-instruction block with a load
# (8 N + 6 instructions).
busy_mixed:
        mov rcx, qword ptr ds:P_N
        xor eax, eax
1:      add rax, rcx
        mov rdx, qword ptr ds:P_PERIOD
        xor rax, rdx
        rol rax, 3
        imul rax, rax, 5
        inc rbx
        dec rcx
        jnz 1b
        EXIT EXIT_PASS

# The LAPIC timer periodic on vector 0x40, P_PERIOD counts at divide by
# 1 (the machine's default 1 GHz timer and 1 ns per instruction: one
# count per instruction).
        .macro TIMER_SETUP
        CPU_SETUP
        call idt_defaults
        GATE 0x40, tick_isr
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_TDCR], 0xb
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x20040
        mov eax, dword ptr ds:P_PERIOD
        mov dword ptr [rbx + LAPIC_TMICT], eax
        .endm

# 2: halted between ticks until P_N ticks (time skips to each deadline).
timer_halt:
        TIMER_SETUP
        mov rcx, qword ptr ds:P_N
        sti
1:      hlt
        cmp qword ptr ds:P_TICKS, rcx
        jb 1b
        cli
        EXIT EXIT_PASS

# 3: busy_tight's loop, P_N iterations, with the timer ticking.
timer_busy:
        TIMER_SETUP
        mov ecx, dword ptr ds:P_N
        sti
1:      dec ecx
        jnz 1b
        cli
        EXIT EXIT_PASS

tick_isr:
        inc qword ptr ds:P_TICKS
        EOI
        iretq

# r12 round trips: send a ping (send: the rest of the line, one
# instruction or macro), sleep until the pong's ISR counts the answer;
# then exit EXIT_PASS.  Clobbers r12, r14.
        .macro ROUND_TRIPS send:vararg
2:      mov r14d, dword ptr ds:P_PONGS
        \send
        sti
3:      hlt
        cmp dword ptr ds:P_PONGS, r14d
        je 3b
        cli
        dec r12
        jnz 2b
        EXIT EXIT_PASS
        .endm

# 4: P_N round trips between CPU 0 and CPU 1 in xAPIC mode (ICR and EOI
# through the LAPIC page): ping 0x52 to APIC ID 1, pong 0x51 back; the
# BSP sleeps for the answer.
ipi_xapic:
        CPU_SETUP
        call idt_defaults
        GATE 0x51, pong_isr
        GATE 0x52, ping_isr
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x000c4500  # INIT, all-but-self
        lea eax, [rip + ap_xapic]
        shr eax, 12
        or eax, 0x000c4600                              # STARTUP
        mov dword ptr [rbx + LAPIC_ICR_LO], eax
        mov dword ptr [rbx + LAPIC_ICR_LO], eax
1:      pause
        cmp dword ptr ds:P_APS, 1
        jb 1b
        mov r12, qword ptr ds:P_N
        mov dword ptr [rbx + LAPIC_ICR_HI], 1 << 24
        ROUND_TRIPS mov dword ptr [rbx + LAPIC_ICR_LO], 0x52

ping_isr:                               # AP: answer APIC ID 0
        push rbx
        inc dword ptr ds:P_PINGS
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x51
        mov dword ptr [rbx + LAPIC_EOI], 0
        pop rbx
        iretq

pong_isr:                               # BSP
        inc dword ptr ds:P_PONGS
        EOI
        iretq

# 5: the same in x2APIC mode (ICR MSR 0x830, EOI MSR 0x80B: the trap
# module).
ipi_x2apic:
        CPU_SETUP
        call idt_defaults
        GATE 0x51, pong_x2_isr
        GATE 0x52, ping_x2_isr
        TO_X2APIC
        WRMSRI X2_SVR, 0x1ff
        WRMSRI X2_ICR, 0x000c4500
        lea eax, [rip + ap_x2apic]
        shr eax, 12
        or eax, 0x000c4600
        mov ecx, X2_ICR
        xor edx, edx
        wrmsr
        wrmsr
1:      pause
        cmp dword ptr ds:P_APS, 1
        jb 1b
        mov r12, qword ptr ds:P_N
        ROUND_TRIPS WRMSRI X2_ICR, 0x52, 1

ping_x2_isr:                            # AP: answer x2APIC ID 0
        push rax
        push rcx
        push rdx
        inc dword ptr ds:P_PINGS
        WRMSRI X2_ICR, 0x51, 0
        WRMSRI X2_EOI, 0
        pop rdx
        pop rcx
        pop rax
        iretq

pong_x2_isr:                            # BSP
        push rax
        push rcx
        push rdx
        inc dword ptr ds:P_PONGS
        WRMSRI X2_EOI, 0
        pop rdx
        pop rcx
        pop rax
        iretq

        .include "lib.inc"

# AP trampolines: the SIPI vector is the page's number.
        .balign 4096
ap_xapic:
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        lock inc dword ptr ds:P_APS
        sti
1:      hlt
        jmp 1b

        .balign 4096
ap_x2apic:
        CPU_SETUP
        TO_X2APIC
        WRMSRI X2_SVR, 0x1ff
        lock inc dword ptr ds:P_APS
        sti
1:      hlt
        jmp 1b
        .balign 4096
