# Health-check guest for the bad-input table (long mode): reads the MMIO
# device at 0xd0000000, reports value + 1 on port 0x600, and exits through
# isa-debug-exit with 0x10 (exit code 0x21).
        .code64
        .globl _start
_start:
        mov     $0xd0000000, %eax
        mov     (%rax), %ebx            # MMIO read, 4 bytes
        inc     %ebx
        mov     %ebx, %eax
        mov     $0x600, %dx
        out     %eax, (%dx)
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, (%dx)
        hlt
