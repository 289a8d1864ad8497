# Long mode: a polling 16550A driver. Reads bytes (LSR.DR, RBR) until '\n',
# echoes each one upper-cased (LSR.THRE, THR), then exits with 0x2a (code 0x55).
        .code64
        mov     $0x3fb, %dx             # 8N1, DLAB=0
        mov     $0x03, %al
        out     %al, %dx
next:
        mov     $0x3fd, %dx
wait_dr:
        in      %dx, %al
        test    $0x01, %al
        jz      wait_dr
        mov     $0x3f8, %dx
        in      %dx, %al
        mov     %al, %bl
        cmp     $'a', %al
        jb      send
        cmp     $'z', %al
        ja      send
        sub     $0x20, %bl
send:
        mov     $0x3fd, %dx
wait_thre:
        in      %dx, %al
        test    $0x20, %al
        jz      wait_thre
        mov     %bl, %al
        mov     $0x3f8, %dx
        out     %al, %dx
        cmp     $'\n', %bl
        jne     next
        mov     $0x501, %dx
        mov     $0x2a, %al
        out     %al, %dx
        hlt
