# The config's sipi_64 option (intc-uc-run --sipi-64): APs start at the
# SIPI page in libintc-uc's 64-bit entry state (uc.h "Entry state"), not
# in real mode; the page holds 64-bit code.  INIT-SIPI-SIPI to the three
# APs, which check in.
        .include "common.inc"
        .set NCPU, 4

        .globl _start
_start:
        CPU_SETUP
        mov rbx, LAPIC
        mov dword ptr [rbx + LAPIC_SVR], 0x1ff
        START_APS ap_entry, ap_count, "NCPU - 1"
        jne fail1
        EXIT EXIT_PASS
fail1:  EXIT 0xbad1

        .include "lib.inc"

        .balign 4096
ap_entry:                               # 64-bit mode, paging off
        CPU_SETUP
        lock inc dword ptr [rip + ap_count]
1:      hlt
        jmp 1b

        .balign 4096
DATA:
ap_count: .long 0
        .balign 4096
