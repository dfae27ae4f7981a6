# x2APIC mode throughout, on NCPU CPUs (SDM 11.12): every CPU switches
# to x2APIC mode by WRMSR IA32_APIC_BASE, checks its x2APIC ID (MSR
# 0x802) against CPUID leaf 0BH EDX and leaf 01H EBX[31:24] and its
# logical ID (LDR, 11.12.10.2); the BSP starts the APs, pings each by
# physical destination and a cluster of them by logical destination
# through the 64-bit ICR (MSR 0x830, 11.12.9), and sends itself a
# self-IPI (MSR 0x83F, 11.12.11); every EOI is WRMSR 0x80B.
        .include "common.inc"
        .include "msr.inc"
        .set NCPU, 4

        .globl _start
_start:
        CPU_SETUP
        call build_page_tables          # for the APs (common.inc)
        call idt_defaults
        GATE 0x51, pong_isr
        GATE 0x52, ping_isr
        GATE 0x53, cluster_isr
        GATE 0x54, one_isr
        GATE 0x55, self_isr
        lea rsi, [rip + hello]
        call puts

        # CPUID.01H: EDX[9] APIC, ECX[21] x2APIC (SDM 11.12.1).
        mov eax, 1
        cpuid
        bt edx, 9
        jnc fail1
        bt ecx, 21
        jnc fail1
        TO_X2APIC
        call check_ids
        # The xAPIC page is not decoded in x2APIC mode (11.12.1.2).
        mov rbx, LAPIC
        cmp dword ptr [rbx + LAPIC_ID], 0xffffffff
        jne fail2
        WRMSRI X2_SVR, 0x1ff

        # INIT, then two STARTUPs to all excluding self, through the ICR
        # MSR (8.4.4.1; ICR[19:18] = 11b shorthand).
        WRMSRI X2_ICR, 0x000c4500
        lea r12d, [rip + ap_entry]
        shr r12d, 12
        or r12d, 0x000c4600
        mov ecx, X2_ICR
        mov eax, r12d
        xor edx, edx
        wrmsr
        wrmsr
1:      pause
        cmp dword ptr [rip + ap_count], NCPU - 1
        jb 1b
        jne fail3

        # Physical destination: EDX = the 32-bit x2APIC ID.  Each AP
        # answers 0x51 to ID 0; the BSP sleeps for the answer.
        mov r13d, 1
2:      mov r14d, dword ptr [rip + pongs]
        mov ecx, X2_ICR
        mov eax, 0x52
        mov edx, r13d
        wrmsr
        sti
3:      hlt
        cmp dword ptr [rip + pongs], r14d
        je 3b
        cli
        inc r13d
        cmp r13d, NCPU
        jb 2b
        cmp dword ptr [rip + pongs], NCPU - 1
        jne fail4
        cmp dword ptr [rip + pings], NCPU - 1
        jne fail4

        # Logical destination, cluster 0, members 1..3 (EDX[31:16]
        # cluster, EDX[15:0] bitmap; ICR[11] logical).
        WRMSRI X2_ICR, 0x853, 0x0000000e
4:      pause
        cmp dword ptr [rip + cluster_hits], NCPU - 1
        jb 4b
        jne fail5
        # One member: cluster 0 bit 2 is x2APIC ID 2 only.
        WRMSRI X2_ICR, 0x854, 0x00000004
5:      pause
        cmp dword ptr [rip + one_hits], 1
        jb 5b
        jne fail5
        cmp dword ptr [rip + one_who], 2
        jne fail5

        # Self IPI: taken as soon as IF = 1 (after the STI shadow).
        sti
        WRMSRI X2_SELF_IPI, 0x55
        mov ecx, 100
6:      dec ecx
        jnz 6b
        cli
        cmp dword ptr [rip + self_hits], 1
        jne fail6
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5, 6, 7, 8, 9

# check_ids: x2APIC ID (MSR 0x802) = CPUID.0BH:EDX = CPUID.01H:EBX[31:24]
# (the initial APIC ID, 11.12.5.1 and 11.12.8), and the LDR derived from
# it: cluster ID[19:4] in LDR[31:16], bit ID[3:0] in LDR[15:0]
# (11.12.10.2).  Exits on a mismatch.  Clobbers rax, rcx, rdx, r8, r9.
check_ids:
        push rbx
        RDMSRI X2_ID
        mov r8d, eax
        mov eax, 0xb
        xor ecx, ecx
        cpuid
        cmp edx, r8d
        jne fail7
        mov eax, 1
        cpuid
        shr ebx, 24
        cmp ebx, r8d
        jne fail8
        RDMSRI X2_LDR
        mov edx, r8d
        shr edx, 4
        shl edx, 16
        mov ecx, r8d
        and ecx, 15
        mov r9d, 1
        shl r9d, cl
        or edx, r9d
        cmp eax, edx
        jne fail9
        pop rbx
        ret

        .macro ISR_SAVE
        push rax
        push rcx
        push rdx
        .endm
        .macro ISR_RETURN
        X2EOI
        pop rdx
        pop rcx
        pop rax
        iretq
        .endm

ping_isr:                               # AP: answer ID 0, physical
        ISR_SAVE
        lock inc dword ptr [rip + pings]
        WRMSRI X2_ICR, 0x51, 0
        ISR_RETURN

cluster_isr:                            # AP
        ISR_SAVE
        lock inc dword ptr [rip + cluster_hits]
        ISR_RETURN

one_isr:                                # AP: who took it
        ISR_SAVE
        RDMSRI X2_ID
        mov dword ptr [rip + one_who], eax
        lock inc dword ptr [rip + one_hits]
        ISR_RETURN

pong_isr:                               # BSP
        ISR_SAVE
        inc dword ptr [rip + pongs]
        ISR_RETURN

self_isr:                               # BSP
        ISR_SAVE
        inc dword ptr [rip + self_hits]
        ISR_RETURN

hello:  .asciz "x2apic: x2APIC mode on every CPU, IPIs through MSRs\n"
pass:   .asciz "x2apic: pass\n"

        .include "lib.inc"

# The AP trampoline: the SIPI vector is this page's number; the AP
# starts in real mode (AP_REAL_MODE_START).  The AP
# starts in xAPIC mode (its page decodes: CPU_SETUP reads its ID there).
        .balign 4096
ap_entry:
        AP_REAL_MODE_START ap_entry
        CPU_SETUP
        TO_X2APIC
        call check_ids
        WRMSRI X2_SVR, 0x1ff
        lock inc dword ptr [rip + ap_count]
        sti
1:      hlt
        jmp 1b

        .balign 4096
DATA:
ap_count:     .long 0
pings:        .long 0
pongs:        .long 0
cluster_hits: .long 0
one_hits:     .long 0
one_who:      .long 0xffffffff
self_hits:    .long 0
        .balign 4096
