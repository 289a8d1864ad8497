# Long mode: spins forever without exits (at 0x100000), or, entered at
# 0x100010, forever writing to port 0x80.
        .code64
1:      jmp     1b
        .org    0x10
        mov     $0x80, %dx
2:      out     %al, %dx
        jmp     2b
