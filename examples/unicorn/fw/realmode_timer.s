# Delivery through the IVT in real-address mode (SDM 20.1.4).  The BSP
# starts the AP (INIT-SIPI-SIPI); the AP stays in real mode at its SIPI
# page: it fills IVT entries 0x40 (its APIC timer, periodic, through the
# x2APIC MSRs: the xAPIC page at 0xFEE00000 is out of real mode's reach)
# and 0x41 (INT n), enables interrupts and halts.  Each handler checks
# the 16-bit frame (IP, CS, FLAGS with IF = 1) and that IF is 0 inside;
# after TICKS ticks and one INT 0x41 the AP exits.  Its stack starts at
# SP = 0 (the top of the segment), as real-mode code often has it.
        .include "common.inc"
        .set TICKS, 20
        .set X2_EOI, 0x80b
        .set X2_SVR, 0x80f
        .set X2_LVT_TIMER, 0x832
        .set X2_TMICT, 0x838
        .set X2_TDCR, 0x83e

        .globl _start
_start:
        CPU_SETUP
        lea rsi, [rip + hello]
        call puts
        mov rbx, LAPIC
        INIT_SIPI_SIPI rm_entry
1:      hlt                             # IF = 0: for good
        jmp 1b

hello:  .asciz "realmode_timer: IVT delivery in real mode\n"

        .include "lib.inc"

        .balign 4096
        .code16
rm_entry:                               # CS = V << 8, IP = 0, IF = 0
        mov ax, cs
        mov ds, ax
        xor ax, ax
        mov es, ax
        mov ax, 0x7000                  # SS:SP = 7000:0000, the top of
        mov ss, ax                      # the segment: each push wraps to
        xor sp, sp                      # FFFE first (SDM 20.1.1)
        mov word ptr es:[0x40 * 4], offset tick - rm_entry
        mov word ptr es:[0x40 * 4 + 2], cs
        mov word ptr es:[0x41 * 4], offset soft - rm_entry
        mov word ptr es:[0x41 * 4 + 2], cs
        mov ecx, 0x1b                   # IA32_APIC_BASE: EN | EXTD
        rdmsr
        or eax, 0xc00
        wrmsr
        xor edx, edx
        mov ecx, X2_SVR
        mov eax, 0x1ff
        wrmsr
        mov ecx, X2_TDCR
        mov eax, 0xb                    # divide by 1
        wrmsr
        mov ecx, X2_LVT_TIMER
        mov eax, 0x20040                # periodic, vector 0x40
        wrmsr
        mov ecx, X2_TMICT
        mov eax, 5000
        wrmsr
        int 0x41                        # software: IF stays as it was
after_int:
        sti
1:      hlt
        cmp dword ptr [ticks - rm_entry], TICKS
        jb 1b
        cli
        mov ecx, X2_LVT_TIMER
        mov eax, 0x10000                # masked
        wrmsr
        cmp dword ptr [softs - rm_entry], 1
        jne fail1
        cmp dword ptr [bad - rm_entry], 0
        jne fail2
        mov eax, EXIT_PASS
        out PORT_EXIT, eax
2:      hlt
        jmp 2b
fail1:  mov eax, 0xbad1
        out PORT_EXIT, eax
        jmp 2b
fail2:  mov eax, 0xbad2
        out PORT_EXIT, eax
        jmp 2b

# The frame at SS:SP is IP, CS, FLAGS (20.1.4); IF, TF, AC are clear.
tick:   push bp
        mov bp, sp
        pushad
        pushf
        pop ax
        test ax, 0x200                  # IF clear in the handler
        jz 1f
        inc dword ptr cs:[bad - rm_entry]
1:      test word ptr [bp + 6], 0x200   # interrupted with IF = 1
        jnz 2f
        inc dword ptr cs:[bad - rm_entry]
2:      mov ax, cs
        cmp word ptr [bp + 4], ax       # from this segment
        je 3f
        inc dword ptr cs:[bad - rm_entry]
3:      inc dword ptr cs:[ticks - rm_entry]
        mov ecx, X2_EOI
        xor eax, eax
        xor edx, edx
        wrmsr
        popad
        pop bp
        iret

soft:   push bp                         # INT 0x41 with IF = 0
        mov bp, sp
        push ax
        mov ax, word ptr [bp + 2]       # the return IP: after the INT
        cmp ax, offset after_int - rm_entry
        je 1f
        inc dword ptr cs:[bad - rm_entry]
1:      inc dword ptr cs:[softs - rm_entry]
        pop ax
        pop bp
        iret

        .balign 4096
DATA:
ticks:  .long 0
softs:  .long 0
bad:    .long 0
        .balign 4096
