# A TLB shootdown across 4 CPUs in xAPIC mode (the pattern of Linux's
# flush_tlb_others / native_flush_tlb_multi): the initiator publishes a
# flush request (the page and a generation number), sends a fixed IPI to
# all excluding self (SDM 11.6.1, shorthand 11b), flushes its own entry,
# and waits until every other CPU has acknowledged this generation in its
# own slot (one cache line each).  Each AP's handler does INVLPG of the
# page (harmless here: paging is off; it is the instruction that counts),
# writes its slot, EOIs.  The wait is bounded: no ack in SPIN_MAX polls is
# a failure (0xbad2).  ROUNDS rounds, then one where CPU SLOW_CPU runs
# with interrupts masked (CLI) for a while: the IPI stays pending in its
# IRR (SDM 6.8.1: IF = 0 masks INTR), the initiator sees the other acks
# arrive and keeps waiting, and completes once the slow CPU unmasks.
        .include "common.inc"
        .set NCPU, 4
        .set ROUNDS, 20
        .set SPIN_MAX, 1000000
        .set SLOW_CPU, 2
        .set SLOW_SPIN, 100000
        .set VEC_SHOOT, 0x50
        .set VEC_WAKE, 0x51

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the APs (common.inc)
        call idt_defaults
        GATE VEC_SHOOT, shoot_isr
        GATE VEC_WAKE, wake_isr
        lea rsi, [rip + hello]
        call puts
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff

        # INIT, then two STARTUPs to all excluding self (8.4.4.1).
        START_APS ap_entry, ap_count, "NCPU - 1"
        jne fail1

        # ROUNDS ordinary shootdowns.
        xor r12d, r12d
2:      inc r12d
        call shootdown
        mov edx, 0xe                    # APIC IDs 1, 2, 3
        call wait_acks
        cmp r12d, ROUNDS
        jb 2b

        # The masked round: ask SLOW_CPU to run with IF = 0 for a while
        # (wake it with a directed IPI), wait until it has masked.
        mov dword ptr [rip + slow_req], 1
        mov dword ptr [rbx + LAPIC_ICR_HI], SLOW_CPU << 24
        mov dword ptr [rbx + LAPIC_ICR_LO], VEC_WAKE
        mov ecx, SPIN_MAX
3:      cmp dword ptr [rip + slow_masked], 1
        je 4f
        dec ecx
        jnz 3b
        jmp fail3
4:      inc r12d
        call shootdown
        mov edx, 0xe & ~(1 << SLOW_CPU) # the others ack...
        call wait_acks
        cmp dword ptr [rip + slow_masked], 1    # ...while it is masked
        jne fail4
        lea rax, [rip + acks]
        cmp dword ptr [rax + SLOW_CPU * 64], r12d
        je fail4                        # (it must not have acked)
        mov edx, 0xe                    # and the initiator waits for it
        call wait_acks
        cmp dword ptr [rip + slow_masked], 0
        jne fail5
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5

# Publish flush request r12d (generation) for the page, IPI all
# excluding self, flush the local entry.
shootdown:
        lea rax, [rip + victim]
        mov qword ptr [rip + flush_va], rax
        mov dword ptr [rip + flush_gen], r12d
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x000c0000 | VEC_SHOOT
        invlpg [rax]
        ret

# Wait (bounded) until the slot of every APIC ID in mask edx holds
# generation r12d.  Fails with 0xbad2 on timeout.
wait_acks:
        mov ecx, SPIN_MAX
1:      lea rsi, [rip + acks]
        xor edi, edi                    # APIC ID
2:      bt edx, edi
        jnc 3f
        cmp dword ptr [rsi], r12d
        jne 4f
3:      add rsi, 64
        inc edi
        cmp edi, NCPU
        jb 2b
        ret
4:      pause
        dec ecx
        jnz 1b
        jmp fail2

# AP: flush the requested page, acknowledge in its own slot, EOI.
shoot_isr:
        push rax
        push rdx
        mov rax, qword ptr [rip + flush_va]
        invlpg [rax]
        mov rdx, LAPIC
        mov edx, dword ptr [rdx + LAPIC_ID]
        shr edx, 24
        shl edx, 6
        lea rax, [rip + acks]
        add rdx, rax
        mov eax, dword ptr [rip + flush_gen]
        mov dword ptr [rdx], eax
        EOI
        pop rdx
        pop rax
        iretq

wake_isr:
        EOI
        iretq

hello:  .asciz "tlb: shootdown IPIs to 3 CPUs, per-CPU acks\n"
pass:   .asciz "tlb: pass\n"

        .include "lib.inc"

# The AP trampoline: the SIPI vector is this page's number; the AP
# starts in real mode (AP_REAL_MODE_START).
        .balign 4096
ap_entry:
        AP_REAL_MODE_START ap_entry
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov r12d, dword ptr [rbx + LAPIC_ID]
        shr r12d, 24
        lock inc dword ptr [rip + ap_count]
1:      sti
        hlt
        cli
        cmp r12d, SLOW_CPU
        jne 1b
        cmp dword ptr [rip + slow_req], 0
        je 1b
        mov dword ptr [rip + slow_req], 0
        mov dword ptr [rip + slow_masked], 1    # IF = 0 from here...
        mov ecx, SLOW_SPIN
2:      dec ecx
        jnz 2b
        mov dword ptr [rip + slow_masked], 0    # ...to the STI above
        jmp 1b

        .balign 4096
DATA:
ap_count:    .long 0
slow_req:    .long 0
slow_masked: .long 0
flush_gen:   .long 0
flush_va:    .quad 0
        .balign 64
acks:   .fill NCPU * 64, 1, 0           # one cache line per APIC ID
        .balign 4096
victim: .fill 4096, 1, 0                # the page being "unmapped"
