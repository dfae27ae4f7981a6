# NCPU CPUs in xAPIC mode: INIT-SIPI-SIPI bring-up of the APs (which
# start in real mode at the SIPI page and climb to 64-bit mode), then
# a TLB-shootdown-like broadcast (all-excluding-self, every AP acks with
# a locked increment) and directed ping-pong IPIs (SDM 11.6, 8.4.4).
        .include "common.inc"
        .set NCPU, 4
        .set ROUNDS, 50
        .set PINGS, 20

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the APs (common.inc)
        call idt_defaults
        GATE 0x50, shoot_isr
        GATE 0x51, pong_isr
        GATE 0x52, ping_isr
        lea rsi, [rip + hello]
        call puts

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff

        # INIT, then two STARTUPs to all excluding self (8.4.4.1).
        START_APS ap_entry, ap_count, "NCPU - 1"
        jne fail1

        # Broadcast rounds: vector 0x50 to all excluding self; wait for
        # every AP's ack.
        xor r12d, r12d
2:      inc r12d
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x000c0050
        mov ecx, r12d
        imul ecx, ecx, NCPU - 1
3:      cmp dword ptr [rip + acks], ecx
        jb 3b
        jne fail2
        cmp r12d, ROUNDS
        jb 2b

        # Ping-pong: 0x52 to each AP by physical APIC ID; the AP answers
        # 0x51 to APIC ID 0; the BSP sleeps (sti; hlt) for the answer.
        mov r13d, 1
4:      mov r12d, PINGS
5:      mov eax, r13d
        shl eax, 24
        mov dword ptr [rbx + LAPIC_ICR_HI], eax
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x52
        mov r14d, dword ptr [rip + pongs]
        sti
6:      hlt
        cmp dword ptr [rip + pongs], r14d
        je 6b
        cli
        dec r12d
        jnz 5b
        inc r13d
        cmp r13d, NCPU
        jb 4b
        cmp dword ptr [rip + pongs], PINGS * (NCPU - 1)
        jne fail3
        cmp dword ptr [rip + pings], PINGS * (NCPU - 1)
        jne fail3
        REPORT_PASS

        FAIL_EXITS 1, 2, 3

shoot_isr:                              # AP: "flush", then ack
        lock inc dword ptr [rip + acks]
        EOI
        iretq

ping_isr:                               # AP: answer the BSP
        push rax
        push rbx
        lock inc dword ptr [rip + pings]
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x51
        EOI
        pop rbx
        pop rax
        iretq

pong_isr:                               # BSP
        inc dword ptr [rip + pongs]
        EOI
        iretq

hello:  .asciz "ipi: INIT-SIPI-SIPI, broadcast and ping-pong\n"
pass:   .asciz "ipi: pass\n"

        .include "lib.inc"

# The AP trampoline: the SIPI vector is this page's number; the AP
# starts in real mode (AP_REAL_MODE_START).
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
acks:   .long 0
pings:  .long 0
pongs:  .long 0
        .balign 4096
