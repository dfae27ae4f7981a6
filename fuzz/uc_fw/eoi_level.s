# Driver 1 of fuzz_uc_firmware: EOI before the device is cleared on a
# level line.  The handler sends the Local APIC EOI and only then
# acknowledges the device: the EOI reaches the IOAPIC while the line is
# still asserted, so the IOAPIC delivers the vector again (82093AA 3.2.4,
# SDM 11.8.5) and the handler runs a second time with nothing to do.
# Found by SPURIOUS_CHECK (exit 0xbad1).  FIXED: acknowledge, then EOI.
        .include "common.inc"
        .include "driver.inc"
        .globl _start
_start:
        DRIVER_SETUP handler
main_loop:
        cli
        mov eax, dword ptr [rip + pending]
        test eax, eax
        jz idle
        dec eax
        mov dword ptr [rip + pending], eax
        sti
        call process
        jmp main_loop
idle:
        IDLE_CHECK
        inc qword ptr [rip + idle_count]
        sti
        hlt
        jmp main_loop

handler:
        push rax
        push rbx
        mov rbx, DEV
        mov eax, dword ptr [rbx + DEV_STATUS]
        test eax, eax
        jnz 1f
        SPURIOUS_CHECK
        EOI
        jmp 2f
1:      add dword ptr [rip + pending], eax
.ifdef FIXED
        mov dword ptr [rbx + DEV_ACK], eax
        EOI
.else
        EOI                                     # BUG: the line is still up
        mov dword ptr [rbx + DEV_ACK], eax
.endif
2:      pop rbx
        pop rax
        iretq

        .include "driver_lib.inc"
