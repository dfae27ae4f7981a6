# Exceptions Unicorn raises itself, delivered with their architectural
# error codes (SDM vol 3A 6.13, table 6-1; uc.h "Exceptions the guest
# raises"), one CPU in 64-bit mode with 4-level paging:
#   1. #GP(selector) from loading DS with a selector beyond the GDT
#      limit (SDM vol 2A MOV: #GP(selector)), twice in a row: the second
#      is a #GP too, not a #DF (SDM 6.15 table 6-5 only makes a #DF of a
#      fault raised while *delivering* the first);
#   2. #NP(selector) from loading DS with a not-present descriptor;
#   3. #PF with CR2 and the error code (SDM 4.7: P, W/R, U/S bits): a
#      read and a write of a not-present page (0, 2), a write to a
#      read-only page with CR0.WP = 1 (3);
#   4. #GP after #PF, and #GP after #DE (no error code): #GP each time;
#   5. faults of the delivery itself (SDM 6.15, table 6-5), the new stack
#      (IST1) on a not-present page: INT n then #PF (benign, then #PF:
#      the #PF is delivered, CR2 = the first push, SS at top - 8, error
#      code 2: a supervisor write, 4.7, 6.14.2), #GP then #PF (delivered
#      serially: #PF), #PF then #PF (#DF, error code 0); an IST pointer
#      that is not canonical: #SS(0) (6.14.4).
# Every handler checks the return RIP is the faulting instruction (for
# a fault delivering INT n: the INT n, which did not complete).
        .include "common.inc"
        .set PT4K, 0x90000              # 4 KiB page table for 2..4 MiB
        .set NOTP, 0x200000             # not present
        .set ROPG, 0x201000             # present, read-only
        .set SEL_NP, 0x18               # gdt_tss slot: not-present data
        .set TSS, 0x3000                # part 5: IST1 in NOTP

# Run `insn` expecting exception vec with error code err (-1: none) and
# the return RIP at insn; failure exit n otherwise.
        .macro EXPECT n, vec, err, insn:vararg
        lea rax, [rip + 81f]
        mov [rip + resume], rax
        mov qword ptr [rip + vec_seen], -1
        mov qword ptr [rip + err_seen], -1
80:     \insn
81:     cmp qword ptr [rip + vec_seen], \vec
        jne fail\n
        cmp qword ptr [rip + err_seen], \err
        jne fail\n
        lea rax, [rip + 80b]
        cmp [rip + rip_seen], rax
        jne fail\n
        .endm

        .macro EXPECT_CR2 n, addr
        mov rax, \addr
        cmp [rip + cr2_seen], rax
        jne fail\n
        .endm

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0, de_isr
        GATE 8, df_isr
        GATE 11, np_isr
        GATE 12, ss_isr
        GATE 13, gp_isr
        GATE 14, pf_isr
        PUTS hello

        # Paging: the identity map of lib.inc, with 2..4 MiB split into
        # 4 KiB pages: NOTP not present, ROPG read-only, the rest RW.
        call build_page_tables
        xor ecx, ecx
1:      mov eax, ecx
        shl eax, 12
        add eax, NOTP + 3
        mov dword ptr [rcx * 8 + PT4K], eax
        mov dword ptr [rcx * 8 + PT4K + 4], 0
        inc ecx
        cmp ecx, 512
        jb 1b
        mov dword ptr [PT4K], 0                      # NOTP: P = 0
        and dword ptr [PT4K + 8], ~2                 # ROPG: R/W = 0
        mov dword ptr [PT + 0x2000 + 8], PT4K + 3    # PDE 1 -> PT4K
        mov eax, PT
        mov cr3, rax
        mov rax, cr4
        or eax, 0x20                                 # PAE
        mov cr4, rax
        mov rax, cr0
        bts eax, 31                                  # PG
        bts eax, 16                                  # WP (4.1.3)
        mov cr0, rax

        # A not-present data descriptor in the spare GDT slot.
        lea rax, [rip + gdt_tss]
        mov rdx, 0x00cf12000000ffff                  # 0x92 with P = 0
        mov [rax], rdx

        # 1. #GP(0x80), then #GP(0x88) at once.
        mov ecx, 0x80
        EXPECT 1, 13, 0x80, mov ds, cx
        mov ecx, 0x88
        EXPECT 2, 13, 0x88, mov ds, cx
        # 2. #NP(0x18).
        mov ecx, SEL_NP
        EXPECT 3, 11, SEL_NP, mov ds, cx
        # 3. #PF: read, write not present; write read-only.
        mov rbx, NOTP
        EXPECT 4, 14, 0, mov eax, [rbx]
        EXPECT_CR2 4, NOTP
        EXPECT 5, 14, 2, mov dword ptr [rbx + 8], eax
        EXPECT_CR2 5, NOTP + 8
        mov rbx, ROPG
        mov eax, [rbx + 0x10]                        # readable
        EXPECT 6, 14, 3, mov dword ptr [rbx + 0x10], eax
        EXPECT_CR2 6, ROPG + 0x10
        # 4. #GP after #PF; #DE then #GP.
        mov ecx, 0x90
        EXPECT 7, 13, 0x90, mov ds, cx
        xor edx, edx
        xor eax, eax
        xor ecx, ecx
        EXPECT 8, 0, -1, div ecx
        mov ecx, 0x98
        EXPECT 9, 13, 0x98, mov ds, cx
        mov ax, SEL_DATA
        mov ds, ax

        # 5. A TSS whose IST1 is the top of the not-present page NOTP
        #    (its 16-byte descriptor replaces the not-present one).
        mov qword ptr [TSS + 0x24], NOTP + 0x1000
        lea rax, [rip + gdt_tss]
        mov qword ptr [rax], 0
        mov qword ptr [rax + 8], 0
        mov word ptr [rax], 0x67
        mov word ptr [rax + 2], TSS & 0xffff
        mov byte ptr [rax + 4], (TSS >> 16) & 0xff
        mov byte ptr [rax + 5], 0x89
        mov ax, 0x18
        ltr ax
        GATE 0x32, unexpected
        mov byte ptr [IDT_BASE + 0x32 * 16 + 4], 1   # IST1
        EXPECT 10, 14, 2, int 0x32
        EXPECT_CR2 10, (NOTP+0x1000-8)
        mov byte ptr [IDT_BASE + 13 * 16 + 4], 1     # #GP on IST1
        mov ecx, 0xa0
        EXPECT 11, 14, 2, mov ds, cx
        EXPECT_CR2 11, (NOTP+0x1000-8)
        mov byte ptr [IDT_BASE + 13 * 16 + 4], 0
        mov byte ptr [IDT_BASE + 14 * 16 + 4], 1     # #PF on IST1
        mov rbx, NOTP
        EXPECT 12, 8, 0, mov eax, [rbx]
        mov byte ptr [IDT_BASE + 14 * 16 + 4], 0
        mov rax, 0x0000800000000000                  # not canonical
        mov [TSS + 0x24], rax
        EXPECT 13, 12, 0, int 0x32
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13

# Handlers: record the vector, the error code (-1 if none), CR2 and the
# return RIP, then resume at [resume].
de_isr: mov qword ptr [rip + vec_seen], 0
        jmp no_err
np_isr: mov qword ptr [rip + vec_seen], 11
        jmp with_err
ss_isr: mov qword ptr [rip + vec_seen], 12
        jmp with_err
gp_isr: mov qword ptr [rip + vec_seen], 13
        jmp with_err
pf_isr: mov qword ptr [rip + vec_seen], 14
with_err:
        pop qword ptr [rip + err_seen]
no_err: push rax
        mov rax, cr2
        mov [rip + cr2_seen], rax
        mov rax, [rsp + 8]
        mov [rip + rip_seen], rax
        mov rax, [rip + resume]
        mov [rsp + 8], rax
        pop rax
        iretq
df_isr: mov qword ptr [rip + vec_seen], 8          # part 5 only
        jmp with_err

        .include "lib.inc"
hello:  .asciz "exc_codes: #GP/#NP/#PF error codes, CR2, no false #DF\n"
pass:   .asciz "exc_codes: pass\n"

        .balign 4096
DATA:
resume:   .quad 0
vec_seen: .quad 0
err_seen: .quad 0
cr2_seen: .quad 0
rip_seen: .quad 0
        .balign 4096
