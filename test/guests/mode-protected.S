# 32-bit protected mode (loaded at 0x100000): prints "prot32" on COM1
# after checking CR0.PE=1 and that 32-bit operand size is the default
# (a push moves ESP by 4), then exits with 0x20 (code 0x41).
        .code32
        mov     %cr0, %eax
        test    $1, %al
        jz      fail
        mov     %esp, %ebx
        push    %eax
        sub     %esp, %ebx
        cmp     $4, %ebx
        jne     fail
        call    1f
1:      pop     %esi                    # esi = address of label 1
        lea     (msg - 1b)(%esi), %esi
        mov     $0x3f8, %dx
        mov     $6, %ecx
        rep outsb
        mov     $0x501, %dx
        mov     $0x20, %al
        out     %al, %dx
fail:
        hlt
msg:    .ascii  "prot32"
