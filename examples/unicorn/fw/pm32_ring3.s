# Delivery with a privilege change in legacy 32-bit protected mode (SDM
# vol 3A 6.12.1, figure 6-4, 7.2.1): user code at CPL 3 takes LAPIC
# timer ticks and an INT 0x80 (gate DPL 3) into CPL 0 handlers on the
# TSS's SS0:ESP0.  Each handler checks it runs at CPL 0 (CS.RPL, and MOV
# from CR0, which is #GP at CPL 3), that SS is SS0 and that the frame
# holds EIP, CS, EFLAGS, ESP and SS of the user code, then IRETD returns
# to CPL 3.  SS0 is a data segment with base 0x1000 (not flat): the
# frame must land at SS0.base + ESP0 and the handler reads it through
# SS.  A final INT 0x81 ends the test at CPL 0.
        .include "common.inc"
        .include "legacy.inc"
        .set IDT32, 0x1000
        .set TSS32, 0x3000
        .set SEL_C32, 0x18
        .set SEL_UCODE, 0x23            # GDT 0x20, RPL 3: 32-bit code
        .set SEL_UDATA, 0x2b            # GDT 0x28, RPL 3: data
        .set SEL_TSS, 0x30
        .set SEL_SS0, 0x38              # data, base 0x1000, DPL 0
        .set SS0_BASE, 0x1000
        .set ESP0, 0x8000               # linear 0x9000
        .set USER_STACK, 0xa000

        .globl _start
_start:
        LEAVE_LONG_MODE gdt_ptr32, SEL_C32, legacy
        .code32
legacy: mov ebx, SEL_C32
        mov edi, IDT32
        xor esi, esi
1:      mov eax, esi
        mov edx, offset unexpected
        mov cl, 0x8e
        call gate32
        inc esi
        cmp esi, 256
        jb 1b
        mov eax, 0x40
        mov edx, offset timer_isr
        mov cl, 0x8e
        call gate32
        mov eax, 0x80
        mov edx, offset int80_isr
        mov cl, 0xee                    # DPL 3 interrupt gate
        call gate32
        mov eax, 0x81
        mov edx, offset done_isr
        mov cl, 0xee
        call gate32
        mov eax, 13
        mov edx, offset gp_isr
        mov cl, 0x8e
        call gate32
        lidt [idt_ptr32]
        mov esi, offset hello
        call puts32

        # 32-bit TSS (figure 7-2): ESP0 at 4, SS0 at 8; descriptor 0x30.
        mov dword ptr [TSS32 + 4], ESP0
        mov dword ptr [TSS32 + 8], SEL_SS0
        mov ax, SEL_TSS
        ltr ax

        mov ebx, LAPIC
        mov dword ptr [ebx + LAPIC_SVR], 0x1ff
        mov dword ptr [ebx + LAPIC_TDCR], 0xb
        mov dword ptr [ebx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [ebx + LAPIC_TMICT], 3000
        push SEL_UDATA                  # SS
        push USER_STACK                 # ESP
        push 0x202                      # EFLAGS: IF
        push SEL_UCODE                  # CS
        push offset user                # EIP
        mov ax, SEL_UDATA
        mov ds, ax
        mov es, ax
        iretd

user:   cmp dword ptr [ticks], 5
        jb user
        mov edi, esp
        int 0x80
after80:
        int 0x81

# Common checks of a handler entered from CPL 3 with the frame at
# [esp + skip]: CPL 0, SS = SS0, ESP inside SS0's stack, the frame's
# CS, SS and ESP the user's.  Sets bad on a mismatch.
        .macro FROM_USER skip
        mov eax, cr0                    # #GP at CPL 3
        mov ax, cs
        test ax, 3
        jnz 8f
        mov ax, ss
        cmp ax, SEL_SS0
        jne 8f
        cmp dword ptr ss:[esp + \skip + 4], SEL_UCODE
        jne 8f
        cmp dword ptr ss:[esp + \skip + 16], SEL_UDATA
        jne 8f
        cmp dword ptr ss:[esp + \skip + 12], USER_STACK
        ja 8f
        lea eax, [esp + \skip + 20]
        cmp eax, ESP0
        jne 8f
        jmp 9f
8:      mov dword ptr [bad], 1
9:
        .endm

timer_isr:
        push eax
        mov eax, ss:[esp + 8]           # the frame's CS
        cmp eax, SEL_C32                # an early tick at CPL 0: count
        je 1f                           # nothing
        FROM_USER 4
        inc dword ptr [ticks]
1:      mov dword ptr [LAPIC + LAPIC_EOI], 0
        pop eax
        iretd

int80_isr:
        FROM_USER 0
        cmp dword ptr ss:[esp], offset after80
        jne 1f
        cmp ss:[esp + 12], edi          # the user's ESP
        jne 1f
        mov dword ptr [int80_ok], 1
1:      iretd

done_isr:
        FROM_USER 0
        cmp dword ptr [int80_ok], 1
        jne 2f
        cmp dword ptr [bad], 0
        jne 3f
        mov esi, offset pass
        call puts32
        mov eax, EXIT_PASS
        out PORT_EXIT, eax
1:      hlt
        jmp 1b
2:      mov eax, 0xbad1
        out PORT_EXIT, eax
        jmp 1b
3:      mov eax, 0xbad3
        out PORT_EXIT, eax
        jmp 1b

gp_isr: mov eax, 0xbad5                 # a privileged instruction at CPL 3
        out PORT_EXIT, eax
        jmp 1b
unexpected:
        mov eax, 0xbadf
        out PORT_EXIT, eax
        jmp 1b

        LEGACY_SUBROUTINES

hello:  .asciz "pm32_ring3: CPL 3 to CPL 0 through the TSS's SS0:ESP0\n"
pass:   .asciz "pm32_ring3: pass\n"

        .balign 16
gdt32:  .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
        .quad 0x00cffa000000ffff        # 0x20: 32-bit code, DPL 3
        .quad 0x00cff2000000ffff        # 0x28: data, DPL 3
        .quad 0x0000890030000067        # 0x30: 32-bit TSS at 0x3000
        .quad 0x00cf92001000ffff        # 0x38: data, base 0x1000 (SS0)
gdt32_end:
gdt_ptr32:
        .word gdt32_end - gdt32 - 1
        .quad gdt32
idt_ptr32:
        .word 256 * 8 - 1
        .long IDT32

        .balign 4096
DATA:
ticks:    .long 0
int80_ok: .long 0
bad:      .long 0
        .balign 4096
