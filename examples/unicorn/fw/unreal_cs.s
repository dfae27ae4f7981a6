# Trapped instructions in real-address mode under a CS whose hidden base
# is not CS << 4 (uc.h "The hidden CPU state").  Leaving protected mode
# does not reload the segment registers (SDM 9.9.2): the AP, started in
# real mode at its SIPI page, enters 16-bit protected mode through a
# code descriptor whose base is that page, clears CR0.PE and, still
# with CS = 0x08 (hidden base = the page, not 0x80), runs RDTSC twice
# and RDMSR of IA32_APIC_BASE, which the trap module emulates and
# resumes after: the resume address is CS.base + IP, so a library that
# took CS << 4 as the base would send the AP to 0x80 + IP.  A far return
# then reloads CS the real-mode way and the AP checks what it read.
        .include "common.inc"

        .globl _start
_start:
        CPU_SETUP
        PUTS hello
        mov rbx, LAPIC
        INIT_SIPI_SIPI ap_entry
1:      hlt                             # IF = 0: for good
        jmp 1b

hello:  .asciz "unreal_cs: trapped RDTSC/RDMSR with CS.base != CS << 4\n"

        .include "lib.inc"

        .balign 4096
        .code16
ap_entry:                               # CS = V << 8, base V << 12, IP = 0
        mov bx, cs                      # kept for the way back
        mov ax, (DATA - _start + 0x10000) >> 4   # linked at 0x10000
        mov ds, ax
        movzx eax, bx
        shl eax, 4                      # the page's linear address
        mov word ptr [gdt16 + 8 + 2 - DATA], ax      # descriptor 0x08 base
        shr eax, 16
        mov byte ptr [gdt16 + 8 + 4 - DATA], al
        lgdt [gdt16_ptr - DATA]
        mov eax, cr0
        or al, 1
        mov cr0, eax
        ljmp 0x08, offset pm16 - ap_entry            # 16-bit protected mode
pm16:   mov eax, cr0
        and al, 0xfe
        mov cr0, eax                    # real mode; CS = 0x08, base kept
        rdtsc
        mov esi, eax
        mov edi, edx
        mov ecx, 0x1b
        rdmsr                           # IA32_APIC_BASE
        mov dword ptr [apic_base - DATA], eax
        mov dword ptr [apic_base + 4 - DATA], edx
        rdtsc
        mov dword ptr [tsc1 - DATA], esi
        mov dword ptr [tsc1 + 4 - DATA], edi
        mov dword ptr [tsc2 - DATA], eax
        mov dword ptr [tsc2 + 4 - DATA], edx
        mov ax, cs
        mov word ptr [cs_seen - DATA], ax
        push bx                         # back to CS = V << 8 the real-mode
        push offset back - ap_entry     # way (base = CS << 4 again)
        retf
back:   cmp word ptr [cs_seen - DATA], 0x08
        jne fail1
        # An AP's IA32_APIC_BASE: 0xFEE00000, EN, not BSP (SDM 11.4.4).
        cmp dword ptr [apic_base - DATA], 0xfee00800
        jne fail2
        cmp dword ptr [apic_base + 4 - DATA], 0
        jne fail2
        # The virtual TSC moves forward between the two reads.
        mov eax, dword ptr [tsc2 - DATA]
        mov edx, dword ptr [tsc2 + 4 - DATA]
        sub eax, dword ptr [tsc1 - DATA]
        sbb edx, dword ptr [tsc1 + 4 - DATA]
        jb fail3
        or eax, edx
        jz fail3
        mov eax, EXIT_PASS
        out PORT_EXIT, eax
1:      hlt
        jmp 1b
fail1:  mov eax, 0xbad1
        out PORT_EXIT, eax
        jmp 1b
fail2:  mov eax, 0xbad2
        out PORT_EXIT, eax
        jmp 1b
fail3:  mov eax, 0xbad3
        out PORT_EXIT, eax
        jmp 1b

        .balign 4096
DATA:
        .balign 8
gdt16:  .quad 0
        .quad 0x00009a000000ffff        # 0x08: 16-bit code, base filled in
gdt16_ptr:
        .word 15
        .long gdt16
apic_base: .quad 0
tsc1:   .quad 0
tsc2:   .quad 0
cs_seen: .word 0
        .balign 4096
