# Real mode (CS:IP = 0:0x7c00): prints "real" on COM1, checks that CR0.PE
# is clear, and exits through the debug-exit port with 0x10 (code 0x21).
        .code16
        mov     %cr0, %eax
        test    $1, %al
        jnz     fail
        mov     $0x3f8, %dx
        mov     $'r', %al
        out     %al, %dx
        mov     $'e', %al
        out     %al, %dx
        mov     $'a', %al
        out     %al, %dx
        mov     $'l', %al
        out     %al, %dx
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
fail:
        hlt
