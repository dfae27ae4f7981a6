# Driver 3 of fuzz_uc_firmware: a counter shared by the handler and the
# main loop without masking.  The main loop reads the queue count, lets
# interrupts in, processes the event and only then writes the count back
# decremented: an interrupt in between adds to the count in memory and
# the write-back loses it.  Found by IDLE_CHECK (exit 0xbad3: events
# processed != events acknowledged).  FIXED: the read-modify-write runs
# with interrupts masked and is done before they are enabled.
        .include "common.inc"
        .include "driver.inc"
        .globl _start
_start:
        DRIVER_SETUP handler
        DEQUEUE
.ifdef FIXED
        mov dword ptr [rip + pending], eax
        sti
        call process
.else
        sti                                     # BUG: unmasked window
        push rax
        call process
        pop rax
        mov dword ptr [rip + pending], eax      # stale write-back
.endif
        jmp main_loop
        IDLE_LOOP

        HANDLER

        .include "driver_lib.inc"
