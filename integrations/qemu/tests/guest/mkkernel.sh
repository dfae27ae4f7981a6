#!/bin/bash
# Build the guest test kernel with the local toolchain:
#   mkkernel.sh OUTDIR  ->  OUTDIR/guest-kernel.elf (symbols, for gdb)
#                           OUTDIR/guest-kernel.bin (the multiboot image)
# The image is flat, linked at 1 MiB; its multiboot header carries the
# load addresses (flag 16), so QEMU's -kernel loads it as is.  GUEST_CC
# (default gcc) must target x86-64.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: mkkernel.sh OUTDIR}
mkdir -p "$out/obj"
cc=${GUEST_CC:-gcc}
cflags=(-std=gnu11 -O2 -g -Wall -Wextra -Wshadow -Wstrict-prototypes
        -Wmissing-prototypes -ffreestanding -fno-pic -fno-pie -fno-builtin
        -fno-stack-protector -fno-asynchronous-unwind-tables -fno-common
        -mno-red-zone -mgeneral-regs-only -mcmodel=small -masm=intel -m64)
objs=()
for src in "$here"/kernel/*.c "$here"/kernel/*.s; do
    o="$out/obj/$(basename "$src").o"
    "$cc" "${cflags[@]}" -c "$src" -o "$o"
    objs+=("$o")
done
ld -m elf_x86_64 -nostdlib -static -no-pie --build-id=none \
   --no-warn-rwx-segments -T "$here/kernel/link.ld" \
   -o "$out/guest-kernel.elf" "${objs[@]}"
objcopy -O binary "$out/guest-kernel.elf" "$out/guest-kernel.bin"
