# Two CPUs for the timeline test (uc_timeline, docs/traces.md): the BSP
# starts the AP (INIT-SIPI-SIPI), takes five ticks of its periodic APIC
# timer, then pings the AP PINGS times with a fixed IPI (0x52); the AP
# answers each with an IPI (0x51) to the BSP.  Every interrupt EOIed.
        .include "common.inc"
        .set PINGS, 4
        .set TICKS, 5

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the AP (common.inc)
        call idt_defaults
        GATE 0x40, tick_isr
        GATE 0x51, pong_isr
        GATE 0x52, ping_isr
        PUTS hello

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        START_APS ap_entry, ap_count, 1

        # The periodic timer: vector 0x40, every 10000 counts (10 us).
        mov dword ptr [rbx + LAPIC_TDCR], 0xb
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [rbx + LAPIC_TMICT], 10000
        sti
1:      hlt
        cmp dword ptr [rip + ticks], TICKS
        jb 1b
        cli
        mov dword ptr [rbx + LAPIC_TMICT], 0

        # Ping-pong with APIC ID 1, waiting for each answer the race-free
        # way: check with interrupts off, then STI; HLT.  STI from IF = 0
        # holds interrupts off until after the HLT (the STI shadow, SDM
        # 6.8.3), so an answer that arrives after the check wakes the HLT
        # instead of being taken before it.  (STI with IF already 1 has
        # no shadow: a loop "sti; hlt; cmp; je" with interrupts left on
        # can take the answer before the HLT and then sleep for ever.)
        mov r12d, PINGS
2:      mov r14d, dword ptr [rip + pongs]
        mov dword ptr [rbx + LAPIC_ICR_HI], 1 << 24
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x52
3:      cli
        cmp dword ptr [rip + pongs], r14d
        jne 4f
        sti
        hlt
        jmp 3b
4:      dec r12d
        jnz 2b
        cmp dword ptr [rip + pings], PINGS
        jne fail1
        REPORT_PASS

        FAIL_EXITS 1

tick_isr:                               # BSP
        inc dword ptr [rip + ticks]
        EOI
        iretq

ping_isr:                               # AP: answer the BSP
        push rbx
        lock inc dword ptr [rip + pings]
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x51
        EOI
        pop rbx
        iretq

pong_isr:                               # BSP
        inc dword ptr [rip + pongs]
        EOI
        iretq

hello:  .asciz "timeline: timer ticks and ping-pong IPIs\n"
pass:   .asciz "timeline: pass\n"

        .include "lib.inc"

        .balign 4096
ap_entry:
        AP_REAL_MODE_START ap_entry
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        lock inc dword ptr [rip + ap_count]
        sti
1:      hlt
        jmp 1b

        .balign 4096
DATA:
ap_count: .long 0
ticks:  .long 0
pings:  .long 0
pongs:  .long 0
        .balign 4096
