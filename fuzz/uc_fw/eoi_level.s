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
        MAIN_LOOP

handler:
        HANDLER_ENTRY
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
2:      HANDLER_EXIT

        .include "driver_lib.inc"
