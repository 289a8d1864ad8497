# Real mode (CS:IP = 0:0x7c00, DS = 0): reads fw_cfg the two ways SeaBIOS
# does and a few RTC ports, then exits through debug-exit with 0x10 (0x21).
#   0x3000: the signature, selected with outw 0x510 and read from 0x511
#   0x5000: FILE_DIR, 708 bytes by DMA (FWCfgDmaAccess at 0x4000, big-endian)
#   0x3004: CMOS register B; 0x3005: a read of port 0x70; 0x3006: register A
        .code16
        mov     $0x510, %dx
        xor     %ax, %ax
        out     %ax, %dx
        mov     $0x511, %dx
        mov     $0x3000, %di
        mov     $4, %cx
1:      in      %dx, %al
        mov     %al, (%di)
        inc     %di
        loop    1b
        # control = 0x0019000a (SELECT FILE_DIR | READ), length = 708, address = 0x5000, all big-endian
        movl    $0x0a001900, 0x4000
        movl    $0xc4020000, 0x4004
        movl    $0, 0x4008
        movl    $0x00500000, 0x400c
        mov     $0x518, %dx
        mov     $0x00400000, %eax      # outl(cpu_to_be32(0x4000))
        out     %eax, %dx
        mov     $0x0b, %al
        out     %al, $0x70
        in      $0x71, %al
        mov     %al, 0x3004
        in      $0x70, %al
        mov     %al, 0x3005
        mov     $0x0a, %al
        out     %al, $0x70
        in      $0x71, %al
        mov     %al, 0x3006
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt
