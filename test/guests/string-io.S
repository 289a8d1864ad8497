# String I/O in long mode (loaded at 0x100000): rep outsb / outsw to ports
# 0x600 / 0x602, rep insb / insw from ports 0x610 / 0x612 into RAM at
# 0x200000 / 0x200100, then hlt.
        .code64
        lea     out_bytes(%rip), %rsi
        mov     $0x600, %dx
        mov     $5, %ecx
        rep outsb
        lea     out_words(%rip), %rsi
        mov     $0x602, %dx
        mov     $3, %ecx
        rep outsw
        mov     $0x200000, %edi
        mov     $0x610, %dx
        mov     $6, %ecx
        rep insb
        mov     $0x200100, %edi
        mov     $0x612, %dx
        mov     $4, %ecx
        rep insw
        hlt
out_bytes:
        .ascii  "hello"
out_words:
        .word   0x1234, 0x5678, 0x9abc
