# hello: the smallest multiboot test kernel of the QEMU integration.
#
# QEMU's -kernel loads it (multiboot, 32-bit ELF; QEMU refuses a 64-bit
# one) and enters _start in flat 32-bit protected mode, paging off, EAX =
# the multiboot loader magic.  It writes two lines to the serial port
# (COM1, 0x3f8):
#     hello from the libintc-qemu test kernel
#     lapic version XXXXXXXX
# the second being the Local APIC's version register (0xFEE00030), so the
# APIC MMIO page is seen to answer, then ends QEMU through
#     -device isa-debug-exit,iobase=0xf4,iosize=4
# whose exit status is (value << 1) | 1: 33 when all went well, 3 when the
# multiboot magic was wrong.  Built by tests/CMakeLists.txt:
#     as --32 hello.s; ld -m elf_i386 -N -Ttext=0x100000 -e _start

        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0            # ELF kernel: no address fields
        .set MB_LOADER_MAGIC, 0x2BADB002
        .set COM1, 0x3f8
        .set LSR_THRE, 0x20         # line status: transmit holding empty
        .set EXIT_PORT, 0xf4
        .set EXIT_OK, 0x10          # QEMU exit status 33
        .set EXIT_BAD_MAGIC, 0x01   # QEMU exit status 3
        .set LAPIC_VERSION, 0xFEE00030

        .code32
        .text
        .align 4
        # Within the first 8 KiB of the file, 4-byte aligned (QEMU scans).
multiboot_header:
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .globl _start
_start:
        cli
        mov $stack_top, %esp
        cmp $MB_LOADER_MAGIC, %eax
        jne bad_magic

        mov $hello, %esi
        call puts
        mov $version, %esi
        call puts
        mov LAPIC_VERSION, %eax
        call puthex
        mov $'\n', %bl
        call putc

        mov $EXIT_OK, %eax
        jmp exit_qemu

bad_magic:
        mov $EXIT_BAD_MAGIC, %eax
exit_qemu:
        mov $EXIT_PORT, %dx
        outl %eax, %dx
1:      hlt                         # only without isa-debug-exit
        jmp 1b

# puts: the NUL-terminated string at %esi.
puts:
        lodsb
        test %al, %al
        jz 2f
        mov %al, %bl
        call putc
        jmp puts
2:      ret

# puthex: %eax as 8 hex digits.
puthex:
        mov %eax, %edi
        mov $8, %ecx
3:      rol $4, %edi
        mov %edi, %ebx
        and $0xf, %ebx
        mov hexdigits(%ebx), %bl
        call putc
        loop 3b
        ret

# putc: the byte in %bl, once the transmitter is free.  Clobbers %al, %dx.
putc:
        mov $COM1 + 5, %dx
4:      inb %dx, %al
        test $LSR_THRE, %al
        jz 4b
        mov $COM1, %dx
        mov %bl, %al
        outb %al, %dx
        ret

        .section .rodata
hello:
        .asciz "hello from the libintc-qemu test kernel\n"
version:
        .asciz "lapic version "
hexdigits:
        .ascii "0123456789abcdef"

        .bss
        .align 16
        .space 4096
stack_top:
