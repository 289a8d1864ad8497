# Long mode: writes 1 to port 0x700 (a device that throws), then 2 to
# port 0x700 again, then exits with 0x7 (code 0xf).
        .code64
        mov     $0x700, %dx
        mov     $1, %al
        out     %al, %dx
        mov     $2, %al
        out     %al, %dx
        mov     $0x501, %dx
        mov     $7, %al
        out     %al, %dx
        hlt
