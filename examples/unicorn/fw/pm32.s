# Legacy 32-bit protected mode (SDM 6.11-6.12): the firmware leaves
# Unicorn's flat long-mode entry state itself (SDM 9.8.5.4: paging on,
# compatibility mode, CR0.PG 1 -> 0 clears EFER.LMA, EFER.LME off) and
# then takes, through an IDT of 8-byte gates:
#   1. INT 0x30 through a trap gate (IF kept, frame EIP/CS/EFLAGS);
#   2. INT 0x31 through a not-present gate: #NP with the error code
#      0x31 * 8 + 2 (IDT bit set, SDM 6.13) to the #NP handler;
#   3. LAPIC timer ticks through an interrupt gate (IF clear inside),
#      woken from `sti; hlt`.
        .include "common.inc"
        .include "legacy.inc"
        .set IDT32, 0x1000              # 256 gates of 8 bytes
        .set SEL_C32, 0x18

        .code64
        .globl _start
_start:
        LEAVE_LONG_MODE gdt32_ptr, SEL_C32, legacy
        .code32
legacy:
        call idt32_defaults
        mov eax, 0x30
        mov edx, offset int30_isr
        mov cl, 0x8f                    # 32-bit trap gate
        call set_gate32
        mov eax, 11
        mov edx, offset np_isr
        mov cl, 0x8e
        call set_gate32
        mov eax, 0x40
        mov edx, offset timer_isr
        mov cl, 0x8e                    # 32-bit interrupt gate
        call set_gate32
        mov byte ptr [IDT32 + 0x31 * 8 + 5], 0x0e   # 0x31: not present
        lidt [idt32_ptr]
        mov esi, offset hello
        call puts32

        # 1. INT 0x30 with IF = 1 through a trap gate.
        sti
        mov ebx, esp
int30:  int 0x30
        cli
        cmp esp, ebx
        jne fail1
        cmp dword ptr [int30_seen], 1
        jne fail1

        # 2. INT 0x31: gate not present, #NP(0x18A).
int31:  int 0x31
        cmp dword ptr [np_err], 0x31 * 8 + 2
        jne fail2

        # 3. Timer ticks, periodic, vector 0x40.
        mov ebx, LAPIC
        mov dword ptr [ebx + LAPIC_SVR], 0x1ff
        mov dword ptr [ebx + LAPIC_TDCR], 0xb
        mov dword ptr [ebx + LAPIC_LVT_TIMER], 0x20040
        mov dword ptr [ebx + LAPIC_TMICT], 5000
        sti
3:      hlt
        cmp dword ptr [ticks], 5
        jb 3b
        cli
        mov dword ptr [ebx + LAPIC_TMICT], 0
        cmp dword ptr [tick_if], 0
        jne fail3
        mov esi, offset pass
        call puts32
        EXIT EXIT_PASS

        FAIL_EXITS 1, 2, 3
unexpected32:
        EXIT 0xbadf

# Frame of a trap gate without privilege change: EIP, CS, EFLAGS.
int30_isr:
        cmp dword ptr [esp], offset int30 + 2
        jne fail1
        cmp dword ptr [esp + 4], SEL_C32
        jne fail1
        pushfd
        bt dword ptr [esp], 9           # trap gate: IF still set
        jnc fail1
        add esp, 4
        inc dword ptr [int30_seen]
        iretd

# #NP: error code, then EIP (the INT or after it), CS, EFLAGS.
np_isr: pop eax
        mov dword ptr [np_err], eax
        cmp dword ptr [esp], offset int31
        jne 1f
        add dword ptr [esp], 2          # a fault: skip the INT 0x31
1:      cmp dword ptr [esp], offset int31 + 2
        jne fail2
        iretd

timer_isr:
        push eax
        pushfd
        pop eax
        and eax, 0x200                  # interrupt gate: IF clear
        or dword ptr [tick_if], eax
        inc dword ptr [ticks]
        mov dword ptr [LAPIC + LAPIC_EOI], 0
        pop eax
        iretd

# set_gate32: vector eax -> handler edx, type/present byte cl,
# selector SEL_C32 (SDM figure 6-2).
set_gate32:
        lea eax, [IDT32 + eax * 8]
        mov word ptr [eax], dx
        mov word ptr [eax + 2], SEL_C32
        mov byte ptr [eax + 4], 0
        mov byte ptr [eax + 5], cl
        shr edx, 16
        mov word ptr [eax + 6], dx
        ret

idt32_defaults:
        xor ebx, ebx
1:      mov eax, ebx
        mov edx, offset unexpected32
        mov cl, 0x8e
        call set_gate32
        inc ebx
        cmp ebx, 256
        jb 1b
        ret

        LEGACY_SUBROUTINES               # puts32

hello:  .asciz "pm32: legacy protected mode\n"
pass:   .asciz "pm32: pass\n"

        .balign 16
gdt32:  .quad 0
        .quad 0x00af9a000000ffff        # 0x08: 64-bit code
        .quad 0x00cf92000000ffff        # 0x10: data
        .quad 0x00cf9a000000ffff        # 0x18: 32-bit code
gdt32_end:
gdt32_ptr:
        .word gdt32_end - gdt32 - 1
        .quad gdt32
idt32_ptr:
        .word 256 * 8 - 1
        .long IDT32

        .balign 4096
DATA:
int30_seen: .long 0
np_err:     .long 0
ticks:      .long 0
tick_if:    .long 0
        .balign 4096
