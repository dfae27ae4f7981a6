# VT-d interrupt remapping of a device's MSI, and blocking forged ones
# with the fault record read back by the firmware (VT-d spec ch. 5, 7,
# 9.10, 11.4).  One CPU, xAPIC mode; intc-uc-run --iommu vtd maps
# libintc's VT-d register page at 0xFED90000 (INTC_UC_IOMMU_BASE).
#  1. The IRT lives in guest RAM (the unit reads it by DMA): IRTE 0 sends
#     vector 0x60 to APIC ID 0 and verifies the requester id (SVT 01b,
#     SQ 00b: all 16 bits must be the device's, 01:00.0).  IRTA, then
#     GCMD.SIRTP and GCMD.IRE, each polled in GSTS (10.4.4, 11.4.4).
#  2. Fault events (7.3) go to vector 0x62: FEDATA/FEADDR, FECTL.IM clear.
#  3. The device's MSI-X entry 0 holds a remappable-format message
#     (5.1.2.2: address bit 4 set, handle 0 in bits 19:5 and 2, SHV 0):
#     the doorbell makes the device send it with its own requester id ->
#     delivered as IRTE 0 says (vector 0x60).
#  4. The same message from requester 02:00.0 (a forged write through
#     the device's DMA engine): blocked, fault 26h (source-id check), in
#     fault recording register 0; the firmware reads FSTS (PPF, FRI) and
#     FRCD (F, FR, SID, FI; 11.4.14) and clears F.
#  5. Handle 5, an IRTE that is not present: fault 22h in FRCD 1.
#  6. A compatibility-format MSI while remapping is on and CFI is off:
#     blocked, fault 25h (5.1.4.1) in FRCD 2.
#  7. A DMA write elsewhere lands in RAM.
        .include "common.inc"
        .set IOMMU, 0xfed90000
        .set VTD_GCMD, 0x18
        .set VTD_GSTS, 0x1c
        .set VTD_FSTS, 0x34
        .set VTD_FECTL, 0x38
        .set VTD_FEDATA, 0x3c
        .set VTD_FEADDR, 0x40
        .set VTD_FEUADDR, 0x44
        .set VTD_IRTA, 0xb8
        .set VTD_FRCD, 0x400            # 16 bytes each (11.4.14)
        .set GCMD_IRE, 1 << 25
        .set GCMD_SIRTP, 1 << 24
        .set FSTS_PPF, 1 << 1
        .set FRCD_F, 1 << 31            # in the dword at +12
        .set IRT_S, 3                   # 2^(S+1) = 16 entries
        .set VEC_DEV, 0x60
        .set VEC_FAULT, 0x62
        .set VEC_COMPAT, 0x63
        .set FORGED_SID, 0x0200
        .set SPIN_MAX, 100000

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE VEC_DEV, dev_isr
        GATE VEC_FAULT, fault_isr
        PUTS hello
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov r13, IOMMU
        mov r14, TESTDEV
        mov r15, DEV_MSIX

        # 1. IRTE 0 (9.10): P, fixed, physical, edge, vector, DST[15:8] =
        #    APIC ID 0 (xAPIC); SID = 01:00.0, SQ 00b, SVT 01b.
        lea rdi, [rip + irt]
        mov rax, 1 | VEC_DEV << 16
        mov qword ptr [rdi], rax
        mov qword ptr [rdi + 8], DEV_SID | 1 << 18
        mov eax, edi
        or eax, IRT_S
        mov dword ptr [r13 + VTD_IRTA], eax
        mov dword ptr [r13 + VTD_IRTA + 4], 0
        mov dword ptr [r13 + VTD_GCMD], GCMD_SIRTP
        mov esi, GCMD_SIRTP
        call wait_gsts
        mov dword ptr [r13 + VTD_GCMD], GCMD_IRE
        mov esi, GCMD_IRE
        call wait_gsts

        # 2. Fault events to vector VEC_FAULT on APIC ID 0.
        mov dword ptr [r13 + VTD_FEDATA], VEC_FAULT
        mov dword ptr [r13 + VTD_FEADDR], 0xfee00000
        mov dword ptr [r13 + VTD_FEUADDR], 0
        mov dword ptr [r13 + VTD_FECTL], 0

        # 3. MSI-X entry 0: remappable format, handle 0; enable; ring.
        mov dword ptr [r15], 0xfee00000 | 1 << 4
        mov dword ptr [r15 + 4], 0
        mov dword ptr [r15 + 8], 0
        mov dword ptr [r15 + 12], 0
        mov dword ptr [r14 + DEV_MSIX_CTRL], MSIX_ENABLE
        sti
        mov dword ptr [r14 + DEV_DOORBELL], 1
        lea rdi, [rip + dev_count]
        mov esi, 1
        call wait_count
        cmp dword ptr [rip + fault_count], 0
        jne fail2

        # 4. Forged: the same message from another requester id.
        mov ecx, 0xfee00000 | 1 << 4
        mov edx, FORGED_SID
        call dma
        mov esi, 1
        mov edi, FORGED_SID
        mov r8d, 0x26
        mov r9d, 0                      # FRCD 0, index 0
        call check_fault
        # 5. Handle 5: IRTE not present.
        mov ecx, 0xfee00000 | 1 << 4 | 5 << 5
        mov edx, DEV_SID
        call dma
        mov esi, 2
        mov edi, DEV_SID
        mov r8d, 0x22
        mov r9d, 1 << 16 | 5            # FRCD 1, index 5
        call check_fault
        # 6. Compatibility format (vector VEC_COMPAT has no gate: were it
        #    delivered, `unexpected` would exit 0xbadf).
        mov ecx, 0xfee00000
        mov edx, DEV_SID
        mov dword ptr [r14 + DEV_DMA_DATA], VEC_COMPAT
        call dma
        mov esi, 3
        mov edi, DEV_SID
        mov r8d, 0x25
        mov r9d, 2 << 16                # FRCD 2, index 0
        call check_fault
        cmp dword ptr [rip + dev_count], 1      # none got through
        jne fail2

        # 7. DMA into RAM.
        lea rcx, [rip + dma_target]
        mov edx, DEV_SID
        mov dword ptr [r14 + DEV_DMA_DATA], 0x1234abcd
        call dma
        cmp dword ptr [rip + dma_target], 0x1234abcd
        jne fail5
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5

# Poll GSTS (bounded) until bit(s) esi are set; 0xbad1 on timeout.
wait_gsts:
        mov ecx, SPIN_MAX
1:      mov eax, dword ptr [r13 + VTD_GSTS]
        and eax, esi
        cmp eax, esi
        je 2f
        dec ecx
        jnz 1b
        jmp fail1
2:      ret

# Wait (bounded, interrupts on) until dword [rdi] == esi; 0xbad3.
wait_count:
        mov ecx, SPIN_MAX
1:      cmp dword ptr [rdi], esi
        je 2f
        pause
        dec ecx
        jnz 1b
        jmp fail3
2:      ret

# The device's DMA engine: write DMA_DATA at address ecx as requester
# edx; DMA_RESULT must be 0.
dma:
        mov dword ptr [r14 + DEV_DMA_SID], edx
        mov dword ptr [r14 + DEV_DMA_ADDR], ecx
        mov dword ptr [r14 + DEV_DMA_ADDR_HI], 0
        mov dword ptr [r14 + DEV_DMA_GO], 1
        cmp dword ptr [r14 + DEV_DMA_RESULT], 0
        jne fail5
        ret

# The esi-th fault event arrives; FSTS.PPF and FSTS.FRI (15:8) name
# record r9d >> 16; that record has F, reason r8d, source id edi,
# fault info (index, FI 63:48 of the low qword) r9d & 0xffff.  Then
# clear F (RW1C) and check PPF went clear.
check_fault:
        push rdi
        lea rdi, [rip + fault_count]
        call wait_count
        pop rdi
        mov eax, dword ptr [r13 + VTD_FSTS]
        test eax, FSTS_PPF
        jz fail4
        shr eax, 8
        and eax, 0xff
        mov edx, r9d
        shr edx, 16
        cmp eax, edx
        jne fail4
        shl edx, 4
        lea rdx, [r13 + rdx + VTD_FRCD]
        mov eax, dword ptr [rdx + 12]   # F (bit 127), FR (103:96)
        test eax, FRCD_F
        jz fail4
        and eax, 0xff
        cmp eax, r8d
        jne fail4
        mov eax, dword ptr [rdx + 8]    # SID (79:64)
        and eax, 0xffff
        cmp eax, edi
        jne fail4
        mov eax, dword ptr [rdx + 4]    # FI (63:48): the index
        shr eax, 16
        movzx ecx, r9w
        cmp eax, ecx
        jne fail4
        mov dword ptr [rdx + 12], FRCD_F
        test dword ptr [r13 + VTD_FSTS], FSTS_PPF
        jnz fail4
        ret

dev_isr:
        inc dword ptr [rip + dev_count]
        EOI
        iretq

fault_isr:
        inc dword ptr [rip + fault_count]
        EOI
        iretq

hello:  .asciz "vtd: interrupt remapping, forged MSIs blocked\n"
pass:   .asciz "vtd: pass\n"

        .include "lib.inc"

        .balign 4096
DATA:
dev_count:   .long 0
fault_count: .long 0
dma_target:  .long 0
        .balign 4096
irt:    .fill 16 * 16, 1, 0             # the interrupt remapping table
        .balign 4096
