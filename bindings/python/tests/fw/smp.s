# Two CPUs, for the Python test test_uc.py: the BSP starts the AP
# (INIT-SIPI-SIPI; the AP starts in real mode at its SIPI page and climbs
# to 64-bit mode, AP_REAL_MODE_START), the AP runs its LAPIC timer
# (periodic, vector 0x40) for TICKS ticks, masks it and sends a fixed IPI
# (vector 0x50) to APIC ID 0; the BSP, halted with interrupts on, takes
# the IPI and exits EXIT_PASS.  Built like examples/unicorn/fw (flat
# image at 0x10000, common.inc conventions).
        .include "common.inc"
        .set TICKS, 5

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the AP's climb
        call idt_defaults
        GATE 0x40, tick_isr
        GATE 0x50, ipi_isr
        PUTS hello
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        START_APS ap_entry, ap_count, 1
        jne fail1
1:      sti                             # sti; hlt: no lost wake-up
        hlt
        cli
        cmp dword ptr [rip + ipis], 0
        je 1b
        cmp dword ptr [rip + ipis], 1
        jne fail2
        cmp dword ptr [rip + ticks], TICKS
        jne fail3
        REPORT_PASS

        FAIL_EXITS 1, 2, 3

tick_isr:                               # on the AP
        lock inc dword ptr [rip + ticks]
        EOI
        iretq

ipi_isr:                                # on the BSP
        lock inc dword ptr [rip + ipis]
        EOI
        iretq

hello:  .asciz "smp: timer on cpu 1, IPI to cpu 0\n"
pass:   .asciz "smp: pass\n"

        .include "lib.inc"

        .balign 4096
ap_entry:
        AP_REAL_MODE_START ap_entry
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        lock inc dword ptr [rip + ap_count]
        mov dword ptr [rbx + LAPIC_TDCR], 0xb           # divide by 1
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x20040  # periodic, 0x40
        mov dword ptr [rbx + LAPIC_TMICT], 10000
1:      sti
        hlt
        cli
        cmp dword ptr [rip + ticks], TICKS
        jb 1b
        mov dword ptr [rbx + LAPIC_LVT_TIMER], 0x10040  # masked
        mov dword ptr [rbx + LAPIC_TMICT], 0
        mov dword ptr [rbx + LAPIC_ICR_HI], 0           # APIC ID 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x50        # fixed, 0x50
2:      hlt                                             # IF = 0: for good
        jmp 2b

        .balign 4096
DATA:
ap_count: .long 0
ticks:  .long 0
ipis:   .long 0
        .balign 4096
