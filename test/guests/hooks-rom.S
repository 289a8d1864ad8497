# 64-bit guest for the memory-hook ROM test (loaded at 0x100000): reads the
# ROM at 0x800000, writes it (dropped: ROM), reads it again, and halts.
        .code64
        mov     $0x800000, %rbx
        mov     (%rbx), %eax
        movl    $0x12345678, (%rbx)
        mov     (%rbx), %ecx
        hlt
