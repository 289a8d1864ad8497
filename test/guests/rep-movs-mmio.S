# Copies a million dwords of zeros from unassigned MMIO (each one an MMIO
# exit) to RAM at 0x200000: stopped halfway, the instruction is left
# unfinished in KVM's emulator.
        .code64
        .globl _start
_start:
        mov     $0x100000, %ecx
        mov     $0xd0000000, %esi
        mov     $0x200000, %edi
        rep movsl
        hlt
