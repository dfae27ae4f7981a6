# Boot code of the guest test kernel (GNU as, Intel syntax).
#
# - A multiboot v1 header with the address fields (flag 16, the "a.out
#   kludge"): QEMU's -kernel loads the flat image at 1 MiB and enters
#   _start32 in 32-bit protected mode, paging off, EAX = 0x2BADB002,
#   EBX = the multiboot information (Multiboot 0.6.96, 3.2 and 3.3).
# - The BSP climbs to 64-bit mode (SDM vol. 3A 10.8.5: PAE, CR3, EFER.LME,
#   CR0.PG) over an identity map of the low 4 GiB in 2 MiB pages, the top
#   GiB (LAPIC, IOAPIC, PCI MMIO) uncached (PCD|PWT), and calls kmain.
# - 256 interrupt stubs, 16 bytes apart (the IDT is filled from them in
#   C), all entering isr_common, which saves the general registers and
#   calls isr_c(frame).
# - The AP trampoline: tramp_start..tramp_end is copied to TRAMP_BASE
#   (below 1 MiB, page aligned) and is the target of the STARTUP IPI
#   (SDM 9.4.4): real mode, CS = TRAMP_BASE >> 4.  It loads the kernel's
#   GDT, sets CR0.PE and jumps to ap_start32 in the image, which takes
#   the same path to 64-bit mode as the BSP and calls ap_main(index) on a
#   stack of its own.

        .intel_syntax noprefix

        .set MB_MAGIC, 0x1badb002
        .set MB_FLAGS, (1 << 0) | (1 << 1) | (1 << 16)
        .set STACK_SIZE, 16384
        .set MAX_CPUS, 8
        .set TRAMP_BASE, 0x8000

        .set SEL_CODE64, 0x08
        .set SEL_DATA, 0x10
        .set SEL_CODE32, 0x18

# ---------------------------------------------------------------------
        .section .multiboot, "a"
        .balign 4
mb_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)
        .long mb_header                 # header_addr
        .long __load_start              # load_addr
        .long __load_end                # load_end_addr
        .long __bss_end                 # bss_end_addr (QEMU zeroes it)
        .long _start32                  # entry_addr

# ---------------------------------------------------------------------
        .section .text32, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        mov dword ptr [mb_magic], eax
        mov dword ptr [mb_info], ebx
        lea esp, [stacks + STACK_SIZE]
        call build_page_tables
        jmp enter_long_mode

# Identity map of 0-4 GiB with 2 MiB pages (SDM 4.5): PML4[0] -> PDPT,
# PDPT[0..3] -> four page directories; the fourth GiB uncached.
build_page_tables:
        lea eax, [pdpt + 3]
        mov dword ptr [pml4], eax
        mov dword ptr [pml4 + 4], 0
        xor ecx, ecx
1:      mov eax, ecx
        shl eax, 12
        lea eax, [eax + pds + 3]
        mov dword ptr [pdpt + ecx * 8], eax
        mov dword ptr [pdpt + ecx * 8 + 4], 0
        inc ecx
        cmp ecx, 4
        jb 1b
        xor ecx, ecx
2:      mov eax, ecx
        shl eax, 21
        or eax, 0x83                    # P, RW, PS
        cmp ecx, 1536
        jb 3f
        or eax, 0x18                    # PWT, PCD: MMIO
3:      mov dword ptr [pds + ecx * 8], eax
        mov dword ptr [pds + ecx * 8 + 4], 0
        inc ecx
        cmp ecx, 2048
        jb 2b
        ret

# Shared by the BSP and the APs: from 32-bit protected mode, paging off,
# to 64-bit mode, then the BSP or AP 64-bit entry (by EBP: 0 = BSP).
enter_long_mode:
        xor ebp, ebp
ap_join:
        lgdt [gdt_ptr]
        mov eax, cr4
        or eax, 0x20                    # PAE
        mov cr4, eax
        lea eax, [pml4]
        mov cr3, eax
        mov ecx, 0xc0000080             # IA32_EFER
        rdmsr
        or eax, 0x100                   # LME
        wrmsr
        mov eax, cr0
        or eax, 0x80000001              # PG, PE
        mov cr0, eax
        ljmp SEL_CODE64, offset long_entry

# An AP arrives here from the trampoline (CS = SEL_CODE32).
        .globl ap_start32
ap_start32:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov ebp, 1
        jmp ap_join

        .code64
long_entry:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        xor eax, eax
        mov fs, ax
        mov gs, ax
        test ebp, ebp
        jnz ap_entry64
        lea rsp, [rip + stacks + STACK_SIZE]
        mov edi, dword ptr [rip + mb_magic]
        mov esi, dword ptr [rip + mb_info]
        call kmain
9:      cli
        hlt
        jmp 9b

# An AP's index is its xAPIC ID (1 .. MAX_CPUS - 1: QEMU numbers the
# CPUs of a default -smp topology 0 .. n - 1), so cpus[] is in APIC ID
# order in every boot; its stack is that index's.  Any other ID halts.
ap_entry64:
        lock inc dword ptr [rip + ap_ticket]
        mov edx, 0xfee00020             # xAPIC ID register
        mov eax, dword ptr [rdx]
        shr eax, 24
        jz 9f
        cmp eax, MAX_CPUS
        jae 9f
        mov edi, eax
        inc eax
        imul eax, eax, STACK_SIZE
        lea rsp, [rip + stacks]
        add rsp, rax
        call ap_main
9:      cli
        hlt
        jmp 9b

# ---------------------------------------------------------------------
# Interrupt stubs: vector n at isr_stubs + 16 * n.  The CPU pushes an
# error code for 8, 10-14, 17, 21, 29 and 30 (SDM 6.15); the others push
# a 0 in its place so every frame has the same layout (struct frame).
        .text
        .balign 16
        .globl isr_stubs
isr_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        push 0
        .endif
        push vec
        jmp isr_common
        .set vec, vec + 1
        .endr

isr_common:
        push rax
        push rcx
        push rdx
        push rbx
        push rbp
        push rsi
        push rdi
        push r8
        push r9
        push r10
        push r11
        push r12
        push r13
        push r14
        push r15
        mov rdi, rsp
        cld
        call isr_c
        pop r15
        pop r14
        pop r13
        pop r12
        pop r11
        pop r10
        pop r9
        pop r8
        pop rdi
        pop rsi
        pop rbp
        pop rbx
        pop rdx
        pop rcx
        pop rax
        add rsp, 16                     # vector, error code
        iretq

# ---------------------------------------------------------------------
# The real-mode AP trampoline (copied to TRAMP_BASE; offsets are from
# its start, CS = DS = TRAMP_BASE >> 4).  SDM 9.4.4.1 (AP start-up),
# 10.9.1 (switch to protected mode).
        .code16
        .balign 16
        .globl tramp_start, tramp_end
tramp_start:
        cli
        cld
        mov ax, cs
        mov ds, ax
        .byte 0x66                      # 32-bit operand: full GDT base
        lgdt [tramp_gdt_ptr - tramp_start]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        .byte 0x66, 0xea                # jmp far SEL_CODE32:ap_start32
        .long ap_start32
        .word SEL_CODE32
        .balign 4
tramp_gdt_ptr:
        .word gdt_end - gdt - 1
        .long gdt
tramp_end:

# ---------------------------------------------------------------------
        .data
        .balign 16
        .globl gdt
gdt:    .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
gdt_end:
        .balign 8
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt
        .globl mb_magic, mb_info
mb_magic: .long 0
mb_info:  .long 0
        .globl ap_ticket
ap_ticket: .long 0                # APs that reached 64-bit mode

        .bss
        .balign 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pds:    .skip 4 * 4096
        .balign 64
        .globl stacks
stacks: .skip MAX_CPUS * STACK_SIZE
        .section .note.GNU-stack, "", @progbits
