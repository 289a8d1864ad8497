# Real mode (CS:IP = 0:0x7c00): the primary IDE channel's master as a guest
# driver uses it. Polled, with nIEN set: IDENTIFY DEVICE into 0x4000.
# Interrupt-driven (IRQ 14 = vector 0x76 through the slave 8259): WRITE
# SECTORS of the 256 words i = 0..255 at 0x5000 to LBA 3 (DRQ is polled, the
# completion is an interrupt), then READ SECTORS of LBA 2-3 into 0x6000, one
# interrupt per sector. The handler counts in the word at 0x3000 and
# acknowledges the drive by reading its status (the last one at 0x3002).
# Exits through debug-exit with 0x10 (code 0x21).
        .include "pc-pic.inc"
        irq_guest_start 0x76, 0xbf     # slave: only IRQ 14

        # --- polled IDENTIFY, interrupts masked in the drive (nIEN)
        mov     $0x3f6, %dx
        mov     $0x02, %al
        out     %al, %dx
        mov     $0x1f6, %dx
        mov     $0xa0, %al
        out     %al, %dx
        mov     $0x1f7, %dx
        mov     $0xec, %al
        out     %al, %dx
        call    wait_drq
        mov     $0x4000, %di
        mov     $256, %cx
        mov     $0x1f0, %dx
        rep insw

        # --- WRITE SECTORS: LBA 3, 1 sector, interrupts on
        mov     $0x5000, %di
        xor     %ax, %ax
fill:   stosw
        inc     %ax
        cmp     $256, %ax
        jb      fill
        mov     $0x3f6, %dx
        xor     %al, %al
        out     %al, %dx
        sti
        mov     $3, %bl
        mov     $1, %bh
        mov     $0x30, %ah
        call    command
        call    wait_drq
        mov     $0x5000, %si
        mov     $256, %cx
        mov     $0x1f0, %dx
        rep outsw
        mov     $1, %ax
        call    wait_irqs

        # --- READ SECTORS: LBA 2, 2 sectors, an interrupt before each
        mov     $2, %bl
        mov     $2, %bh
        mov     $0x20, %ah
        call    command
        mov     $2, %ax
        call    wait_irqs
        mov     $0x6000, %di
        mov     $256, %cx
        mov     $0x1f0, %dx
        rep insw
        mov     $3, %ax
        call    wait_irqs
        mov     $256, %cx
        rep insw

        cli
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt

# LBA28 command %ah on the master: LBA %bl (< 256), count %bh
command:
        mov     $0x1f6, %dx
        mov     $0xe0, %al
        out     %al, %dx
        mov     $0x1f2, %dx
        mov     %bh, %al
        out     %al, %dx
        mov     $0x1f3, %dx
        mov     %bl, %al
        out     %al, %dx
        xor     %al, %al
        mov     $0x1f4, %dx
        out     %al, %dx
        mov     $0x1f5, %dx
        out     %al, %dx
        mov     $0x1f7, %dx
        mov     %ah, %al
        out     %al, %dx
        ret

# polls the alternate status until BSY is clear and DRQ set
wait_drq:
        mov     $0x3f6, %dx
1:      in      %dx, %al
        test    $0x80, %al
        jnz     1b
        test    $0x08, %al
        jz      1b
        ret

# halts until the interrupt count reaches %ax
wait_irqs:
        cli
        cmp     %ax, 0x3000
        jae     1f
        sti
        hlt
        jmp     wait_irqs
1:      sti
        ret

handler:
        push    %ax
        push    %dx
        incw    0x3000
        mov     $0x1f7, %dx
        in      %dx, %al
        mov     %al, 0x3002
        mov     $0x20, %al
        out     %al, $0xa0
        out     %al, $0x20
        pop     %dx
        pop     %ax
        iret
