# NCPU CPUs: INIT-SIPI-SIPI bring-up of the APs as firmware does it
# (SDM vol. 3A 9.4.4.1 / 8.4.4.1: INIT, 10 ms, STARTUP, 200 us, STARTUP,
# 200 us; the delays are APIC-timer waits).  Each AP starts in REAL MODE
# at its SIPI page (9.1.4: CS = V << 8, base V << 12, IP = 0, IF = 0),
# checks that, loads a GDT, sets CR0.PE, far-jumps to 32-bit protected
# mode, turns on PAE, EFER.LME and paging over the BSP's identity page
# tables (9.8.5), far-jumps to 64-bit mode and checks in.  The BSP then
# pings every AP once (a fixed IPI, answered) to show it is alive.
        .include "common.inc"
        .set NCPU, 4
        .set VEC_TIMER, 0x40
        .set VEC_PING, 0x52
        .set VEC_PONG, 0x51

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        mov edi, VEC_TIMER
        lea rsi, [rip + timer_isr]
        call set_gate
        mov edi, VEC_PING
        lea rsi, [rip + ping_isr]
        call set_gate
        mov edi, VEC_PONG
        lea rsi, [rip + pong_isr]
        call set_gate
        lea rsi, [rip + hello]
        call puts
        call build_page_tables

        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov dword ptr [rbx + LAPIC_TDCR], 0xb          # divide by 1
        # INIT-SIPI-SIPI to all excluding self (9.4.4.1).
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], 0x000c4500
        mov edi, 10000000               # 10 ms
        call delay
        lea eax, [rip + ap_entry]
        shr eax, 12
        or eax, 0x000c4600
        mov r12d, eax
        mov dword ptr [rbx + LAPIC_ICR_LO], r12d
        mov edi, 200000                 # 200 us
        call delay
        mov dword ptr [rbx + LAPIC_ICR_LO], r12d
        mov edi, 200000
        call delay
1:      pause
        cmp dword ptr [rip + ap_count], NCPU - 1
        jb 1b
        jne fail1
        # Every AP saw CS = V << 8 and IP = 0 in real mode.
        cmp dword ptr [rip + rm_count], NCPU - 1
        jne fail2
        cmp dword ptr [rip + rm_bad], 0
        jne fail3

        # Ping each AP by APIC ID; it answers with VEC_PONG.
        mov r13d, 1
2:      mov eax, r13d
        shl eax, 24
        mov dword ptr [rbx + LAPIC_ICR_HI], eax
        mov dword ptr [rbx + LAPIC_ICR_LO], VEC_PING
        mov r14d, dword ptr [rip + pongs]
        sti
3:      hlt
        cmp dword ptr [rip + pongs], r14d
        je 3b
        cli
        inc r13d
        cmp r13d, NCPU
        jb 2b
        lea rsi, [rip + pass]
        call puts
        EXIT EXIT_PASS

fail1:  EXIT 0xbad1
fail2:  EXIT 0xbad2
fail3:  EXIT 0xbad3

# Wait edi ns of virtual time: a one-shot APIC timer, halted until it
# fires (IF is 0 again on return).
delay:
        mov dword ptr [rip + ticked], 0
        mov dword ptr [rbx + LAPIC_LVT_TIMER], VEC_TIMER
        mov dword ptr [rbx + LAPIC_TMICT], edi
        sti
1:      hlt
        cmp dword ptr [rip + ticked], 0
        je 1b
        cli
        ret

timer_isr:
        mov dword ptr [rip + ticked], 1
        EOI
        iretq

ping_isr:                               # AP: answer the BSP
        push rax
        push rbx
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_ICR_HI], 0
        mov dword ptr [rbx + LAPIC_ICR_LO], VEC_PONG
        EOI
        pop rbx
        pop rax
        iretq

pong_isr:                               # BSP
        inc dword ptr [rip + pongs]
        EOI
        iretq

hello:  .asciz "sipi_realmode: INIT-SIPI-SIPI, APs start in real mode\n"
pass:   .asciz "sipi_realmode: pass\n"

        .include "lib.inc"

# The AP's SIPI page: real-mode code (the SIPI vector is this page's
# number).  Addresses in 16-bit code are offsets from CS's base.
        .balign 4096
ap_entry:
        .code16
        mov ax, cs
        mov ds, ax
        mov ebx, offset ap_entry
        shr ebx, 4
        cmp ax, bx                      # CS = V << 8 (9.1.4)
        je 1f
        lock inc dword ptr [rm_bad - ap_entry]
1:      call ap_ip                      # IP = 0 at ap_entry: the return
ap_ip:  pop bx                          # address is ap_ip's offset
        cmp bx, offset ap_ip - ap_entry
        je 3f
        lock inc dword ptr [rm_bad - ap_entry]
3:      lock inc dword ptr [rm_count - ap_entry]
        # To protected mode (9.9.1): GDT, CR0.PE, far jump.
        lgdt [ap_gdt_ptr - ap_entry]
        mov eax, cr0
        or eax, 1
        mov cr0, eax
        .byte 0x66, 0xea                # jmp far 0x18:ap_pm32 (32-bit
        .long ap_pm32                   # offset: operand-size prefix)
        .word 0x18
        .code32
ap_pm32:
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        mov ss, ax
        # To IA-32e mode (9.8.5): PAE, CR3, EFER.LME, CR0.PG, far jump.
        mov eax, cr4
        or eax, 0x20
        mov cr4, eax
        mov eax, PT
        mov cr3, eax
        mov ecx, 0xc0000080
        rdmsr
        or eax, 0x100
        wrmsr
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        ljmp 0x08, offset ap_lm64
        .code64
ap_lm64:
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        lock inc dword ptr [rip + ap_count]
        sti
1:      hlt
        jmp 1b

        .balign 8
ap_gdt: .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
ap_gdt_end:
ap_gdt_ptr:
        .word ap_gdt_end - ap_gdt - 1
        .long ap_gdt

# Written by the APs in real mode through DS = CS: in the SIPI page's
# own segment (DS:offset), so in reach of 16-bit offsets.
        .balign 4096
DATA:
rm_count: .long 0
rm_bad:  .long 0
ap_count: .long 0
pongs:   .long 0
ticked:  .long 0
        .balign 4096
