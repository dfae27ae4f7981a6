# One CPU and a device model written in Python (test_uc.py's PyDev, at
# DEV): the firmware reads its ID, writes and reads back a scratch
# register, has it raise its level-triggered, active-low INTx line (GSI
# 16, vector 0x60: the handler reads STATUS, clears it, EOIs), send an
# MSI (vector 0x61) and DMA a string into RAM; then it exits EXIT_PASS.
# Built like examples/unicorn/fw (flat image at 0x10000, common.inc).
        .include "common.inc"
        .set DEV, 0xfeb00000
        .set REG_ID, 0x00
        .set REG_SCRATCH, 0x04
        .set REG_RAISE, 0x08
        .set REG_STATUS, 0x0c
        .set REG_CLEAR, 0x10
        .set REG_MSI, 0x14
        .set REG_DMA, 0x18
        .set PYDEV_ID, 0x50594445       # "EDYP": PyDev.ID
        .set GSI, 16

        .globl _start
_start:
        CPU_SETUP
        call idt_defaults
        GATE 0x60, intx_isr
        GATE 0x61, msi_isr
        PUTS hello
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        mov rsi, DEV
        cmp dword ptr [rsi + REG_ID], PYDEV_ID
        jne fail1
        mov dword ptr [rsi + REG_SCRATCH], 0x12345678
        cmp dword ptr [rsi + REG_SCRATCH], 0x12345678
        jne fail2

        # IOAPIC RTE 16: vector 0x60, level, active low, APIC ID 0.
        mov rdi, IOAPIC
        mov dword ptr [rdi], RTE_LO + 2 * GSI + 1
        mov dword ptr [rdi + IOAPIC_IOWIN], 0
        mov dword ptr [rdi], RTE_LO + 2 * GSI
        mov dword ptr [rdi + IOAPIC_IOWIN], 0x60 | RTE_LEVEL | RTE_ACTIVE_LOW

        mov dword ptr [rsi + REG_RAISE], 1
1:      sti
        hlt
        cli
        cmp dword ptr [rip + intx], 0
        je 1b

        mov dword ptr [rsi + REG_MSI], 0x61
2:      sti
        hlt
        cli
        cmp dword ptr [rip + msis], 0
        je 2b

        lea eax, [rip + dma_buf]
        mov dword ptr [rsi + REG_DMA], eax
        mov rax, qword ptr [rip + dma_buf]
        mov rdx, 0x616d647665647970     # "pydevdma"
        cmp rax, rdx
        jne fail3
        cmp dword ptr [rip + intx], 1
        jne fail4
        cmp dword ptr [rip + msis], 1
        jne fail4
        cmp dword ptr [rip + bad], 0
        jne fail5
        REPORT_PASS

        FAIL_EXITS 1, 2, 3, 4, 5

intx_isr:
        push rax
        push rsi
        mov rsi, DEV
        cmp dword ptr [rsi + REG_STATUS], 1
        je 1f
        inc dword ptr [rip + bad]
1:      mov dword ptr [rsi + REG_CLEAR], 1       # the line goes down
        inc dword ptr [rip + intx]
        EOI                                      # Remote IRR cleared
        pop rsi
        pop rax
        iretq

msi_isr:
        inc dword ptr [rip + msis]
        EOI
        iretq

hello:  .asciz "pydev: a device model in Python\n"
pass:   .asciz "pydev: pass\n"

        .include "lib.inc"

        .balign 4096
DATA:
intx:   .long 0
msis:   .long 0
bad:    .long 0
        .balign 8
dma_buf: .quad 0
        .balign 4096
