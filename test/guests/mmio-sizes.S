# 1/2/4/8-byte MMIO writes and reads in long mode against a device at
# 0xd0000000 (identity mapped). Reads land in r8 (byte), r9 (word),
# r10 (dword), r11 (qword); then hlt.
        .code64
        mov     $0xd0000000, %rbx
        movb    $0x11, 0x00(%rbx)
        movw    $0x2233, 0x02(%rbx)
        movl    $0x44556677, 0x04(%rbx)
        movabs  $0x8899aabbccddeeff, %rax
        mov     %rax, 0x08(%rbx)
        movzbq  0x10(%rbx), %r8
        movzwq  0x12(%rbx), %r9
        movl    0x14(%rbx), %r10d
        mov     0x18(%rbx), %r11
        hlt
