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
        push rcx
        mov rbx, DEV
        mov eax, dword ptr [rbx + DEV_STATUS]
        test eax, eax
        jnz 1f
        SPURIOUS_CHECK
        jmp 2f
1:      add dword ptr [rip + pending], eax
        mov dword ptr [rbx + DEV_ACK], eax
        mov ecx, dword ptr [rbx + DEV_DATA]
        cmp cl, DATA_ERROR
        jne 2f
        inc dword ptr [rip + errors]            # the rare path
.ifdef FIXED
        EOI
.endif
        jmp 3f                                  # BUG unless FIXED: no EOI
2:      EOI
3:      pop rcx
        pop rbx
        pop rax
        iretq

        .include "driver_lib.inc"
