# Driver 2 of fuzz_uc_firmware: a lost wake-up.  The main loop checks its
# queue with interrupts masked, then enables them and counts an idle
# entry before it halts: an interrupt taken between STI and HLT (after
# the one-instruction STI shadow, SDM 6.8.3) queues an event that nobody
# looks at until the next interrupt, which may never come.  Found by the
# target's watchdog (CPU halted, interrupts on, nothing pending, the
# device's events acknowledged but not processed).  FIXED: count first;
# `sti; hlt` adjacent, so the interrupt can only end the HLT.
        .include "common.inc"
        .include "driver.inc"
        .globl _start
_start:
        DRIVER_SETUP handler
        BUSY_LOOP
idle:
        IDLE_CHECK
.ifdef FIXED
        inc qword ptr [rip + idle_count]
        sti
.else
        sti
        inc qword ptr [rip + idle_count]        # BUG: STI and HLT apart
.endif
        hlt
        jmp main_loop

        HANDLER

        .include "driver_lib.inc"
