# 64-bit long mode (loaded at 0x100000): checks EFER.LMA via rdmsr and that
# a 64-bit register holds a 64-bit value, prints "long64", exits with 0x30
# (code 0x61).
        .code64
        mov     $0xc0000080, %ecx
        rdmsr
        test    $0x400, %eax            # EFER.LMA
        jz      fail
        movabs  $0x123456789, %rax
        shr     $32, %rax
        cmp     $1, %rax
        jne     fail
        lea     msg(%rip), %rsi
        mov     $0x3f8, %dx
        mov     $6, %ecx
        rep outsb
        mov     $0x501, %dx
        mov     $0x30, %al
        out     %al, %dx
fail:
        hlt
msg:    .ascii  "long64"
