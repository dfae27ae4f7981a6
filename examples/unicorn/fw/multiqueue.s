# A multi-queue device with one MSI-X vector per queue, each steered to
# its own CPU (4 CPUs, xAPIC mode), as a NIC's RSS queues or an NVMe
# controller's completion queues are.  The test device's MSI-X table
# (PCIe base 7.7.2; message format SDM 11.11) is programmed with entry i:
# destination APIC ID i (physical), vector 0x40 + i, unmasked; MSI-X is
# enabled; the doorbell completes one request on each queue, and queue i
# signals vector i (the device completes synchronously at the doorbell
# write: libintc-uc has no device timers).  Each CPU's handlers check
# that the vector is its own (a vector reaching another CPU: 0xbad4).
# Then entry 2 is masked: a completion on queue 2 sets its PBA bit and
# sends nothing; unmasking sends the message and clears the bit (PCIe
# 7.7.2, "Pending Bits").
        .include "common.inc"
        .set NCPU, 4
        .set ROUNDS, 10
        .set SPIN_MAX, 1000000
        .set VEC0, 0x40

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the APs (common.inc)
        call idt_defaults
        GATE VEC0, qisr0
        GATE VEC0 + 1, qisr1
        GATE VEC0 + 2, qisr2
        GATE VEC0 + 3, qisr3
        lea rsi, [rip + hello]
        call puts
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff

        START_APS ap_entry, ap_count, "NCPU - 1"

        # MSI-X entry i: address 0xFEE00000 | ID i << 12, data vector
        # 0x40 + i (fixed, edge), vector control 0 (unmasked).
        mov r14, TESTDEV
        mov r15, DEV_MSIX
        xor ecx, ecx
2:      mov eax, ecx
        shl eax, 12
        or eax, 0xfee00000
        mov edx, ecx
        shl edx, 4
        mov dword ptr [r15 + rdx], eax
        mov dword ptr [r15 + rdx + 4], 0
        lea eax, [rcx + VEC0]
        mov dword ptr [r15 + rdx + 8], eax
        mov dword ptr [r15 + rdx + 12], 0
        inc ecx
        cmp ecx, NCPU
        jb 2b
        mov dword ptr [r14 + DEV_MSIX_CTRL], MSIX_ENABLE

        # ROUNDS doorbells on every queue; every CPU counts its own.
        sti
        xor r12d, r12d
3:      inc r12d
        mov dword ptr [r14 + DEV_DOORBELL], (1 << NCPU) - 1
        mov edx, (1 << NCPU) - 1
        call wait_counts
        cmp r12d, ROUNDS
        jb 3b
        xor ecx, ecx
4:      cmp dword ptr [r14 + DEV_DONE + rcx * 4], ROUNDS
        jne fail2
        inc ecx
        cmp ecx, NCPU
        jb 4b

        # Mask entry 2; a completion on queue 2 is held in the PBA.
        mov dword ptr [r15 + 2 * 16 + 12], 1
        test dword ptr [r15 + 0x800], 1 << 2
        jnz fail3
        mov dword ptr [r14 + DEV_DOORBELL], 1 << 2
        test dword ptr [r15 + 0x800], 1 << 2
        jz fail3
        mov ecx, 20000                  # nothing arrives while masked
5:      dec ecx
        jnz 5b
        cmp dword ptr [rip + counts + 2 * 64], ROUNDS
        jne fail3
        mov dword ptr [r15 + 2 * 16 + 12], 0    # unmask: sent now
        inc r12d
        mov edx, 1 << 2
        call wait_counts
        test dword ptr [r15 + 0x800], 1 << 2
        jnz fail3
        cmp dword ptr [rip + wrong], 0
        jne fail4
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4

# Wait (bounded, interrupts on) until counts[i] == r12d for every bit i
# of edx; 0xbad1 on timeout.
wait_counts:
        mov ecx, SPIN_MAX
1:      lea rsi, [rip + counts]
        xor edi, edi
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
        jmp fail1

# Queue q's handler: it must run on APIC ID q.
        .macro QISR q
qisr\q:
        push rax
        push rdx
        mov rdx, LAPIC
        mov eax, dword ptr [rdx + LAPIC_ID]
        shr eax, 24
        cmp eax, \q
        je 1f
        mov dword ptr [rip + wrong], 1
1:      lock inc dword ptr [rip + counts + \q * 64]
        EOI
        pop rdx
        pop rax
        iretq
        .endm
        QISR 0
        QISR 1
        QISR 2
        QISR 3

hello:  .asciz "multiqueue: MSI-X vector per queue, per CPU\n"
pass:   .asciz "multiqueue: pass\n"

        .include "lib.inc"

        .balign 4096
ap_entry:
        AP_REAL_MODE_START ap_entry
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        lock inc dword ptr [rip + ap_count]
1:      sti
        hlt
        jmp 1b

        .balign 4096
DATA:
ap_count: .long 0
wrong:    .long 0
        .balign 64
counts: .fill NCPU * 64, 1, 0           # one cache line per queue
        .balign 4096
