# A boot sector that flips the i440FX's PAM registers through PCI
# configuration mechanism #1 (0xcf8/0xcfc) and records what reads and writes
# of the shadow-RAM segment 0xc0000-0xc3fff (PAM1 low nibble, config byte
# 0x5a) and of 0xe0000-0xe3fff (PAM5 low nibble, 0x5e) see. Results, dwords
# from 0x610:
#   0x610 mode 1 (read-only RAM, as SeaBIOS left it): the value there
#   0x614 mode 1 after writing its complement (the write is dropped)
#   0x618 mode 3 (RAM) after writing 0x12345678
#   0x61c mode 2 (write-enable only) after writing 0x9abcdef0
#   0x620 mode 0 (PCI: pc.rom answers) before, 0x624 after writing 0x11111111
#   0x628 mode 3 again: what the RAM holds
#   0x630 16 bytes of 0xe0000 in mode 0 (the isa-bios alias of pc.bios)
# then puts both bytes back and exits through isa-debug-exit (0x10: code 0x21).
        .code16
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp
        mov     $0xc000, %ax
        mov     %ax, %fs                        # fs:0 = 0xc0000
        mov     $0xe000, %ax
        mov     %ax, %gs                        # gs:0 = 0xe0000

        mov     $0x5a, %bl
        call    pam_read
        mov     %al, 0x600                      # the 0x5a SeaBIOS left
        mov     $0x5e, %bl
        call    pam_read
        mov     %al, 0x601                      # and 0x5e

        mov     0x600, %al                      # mode 1 (read-only), as left
        and     $0xf0, %al
        or      $0x01, %al
        mov     $0x5a, %bl
        call    pam_write
        mov     %fs:0, %eax
        mov     %eax, 0x610
        not     %eax
        mov     %eax, %fs:0
        mov     %fs:0, %eax
        mov     %eax, 0x614

        mov     0x600, %al                      # mode 3
        or      $0x03, %al
        call    pam_write_5a
        movl    $0x12345678, %fs:0
        mov     %fs:0, %eax
        mov     %eax, 0x618

        mov     0x600, %al                      # mode 2
        and     $0xf0, %al
        or      $0x02, %al
        call    pam_write_5a
        movl    $0x9abcdef0, %fs:0
        mov     %fs:0, %eax
        mov     %eax, 0x61c

        mov     0x600, %al                      # mode 0: PCI
        and     $0xf0, %al
        call    pam_write_5a
        mov     %fs:0, %eax
        mov     %eax, 0x620
        movl    $0x11111111, %fs:0
        mov     %fs:0, %eax
        mov     %eax, 0x624

        mov     0x600, %al                      # mode 3 again
        or      $0x03, %al
        call    pam_write_5a
        mov     %fs:0, %eax
        mov     %eax, 0x628

        mov     0x601, %al                      # 0xe0000 in mode 0
        and     $0xf0, %al
        mov     $0x5e, %bl
        call    pam_write
        mov     $0x630, %di
        xor     %si, %si
        mov     $16, %cx
1:      mov     %gs:(%si), %al
        mov     %al, (%di)
        inc     %si
        inc     %di
        loop    1b

        mov     0x600, %al                      # both back as SeaBIOS left them
        call    pam_write_5a
        mov     0x601, %al
        mov     $0x5e, %bl
        call    pam_write
        mov     $0x10, %al
        mov     $0x501, %dx
        out     %al, %dx
        hlt

pam_write_5a:
        mov     $0x5a, %bl
# config byte %bl of 00:00.0 <- %al
pam_write:
        push    %ax
        call    pam_select
        pop     %ax
        out     %al, %dx
        ret
# %al <- config byte %bl of 00:00.0
pam_read:
        call    pam_select
        in      %dx, %al
        ret
# CONFIG_ADDRESS <- 0x80000000 | (%bl & 0xfc); %dx <- 0xcfc + (%bl & 3)
pam_select:
        movzbl  %bl, %eax
        and     $0xfc, %al
        or      $0x80000000, %eax
        mov     $0xcf8, %dx
        out     %eax, %dx
        movzbw  %bl, %dx
        and     $3, %dx
        add     $0xcfc, %dx
        ret

        .org    510
        .word   0xaa55
