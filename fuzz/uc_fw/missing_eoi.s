# Driver 4 of fuzz_uc_firmware: a handler that never EOIs its vector
# after a rare path.  When the device's data register reads an error
# code (low byte 0xE5) the handler counts the error, queues and
# acknowledges the events as usual, and returns early without the EOI:
# the vector stays in service and the IOAPIC pin's Remote IRR stays set,
# so the device's next events are never delivered.  Found by the
# target's watchdog (CPU halted, interrupts on, nothing pending, the
# device holding unacknowledged events).  FIXED: the early return EOIs.
        .include "common.inc"
        .include "driver.inc"
        .set DATA_ERROR, 0xe5
        .globl _start
_start:
        DRIVER_SETUP handler
        MAIN_LOOP

handler:
        HANDLER_ENTRY rcx
        QUEUE_AND_ACK 2f
        mov ecx, dword ptr [rbx + DEV_DATA]
        cmp cl, DATA_ERROR
        jne 2f
        inc dword ptr [rip + errors]            # the rare path
.ifdef FIXED
        EOI
.endif
        jmp 3f                                  # BUG unless FIXED: no EOI
2:      EOI
3:      HANDLER_EXIT rcx

        .include "driver_lib.inc"
