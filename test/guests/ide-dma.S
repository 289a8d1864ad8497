# Real mode (CS:IP = 0:0x7c00): READ DMA of LBA 1-2 on the primary master
# through the PIIX BMDMA at 0xc000, as a guest driver does it: a PRD table at
# 0x1000 with two entries (512 bytes to 0x8000, 512 bytes to 0x9000, end of
# table), the ATA command, then START; IRQ 14 (vector 0x76, the handler
# counts at 0x3000 and keeps the drive status at 0x3002 and the BMDMA status
# at 0x3003) ends the transfer. Exits through debug-exit with 0x10 (code 0x21).
        .include "pc-pic.inc"
        irq_guest_start 0x76, 0xbf     # slave: only IRQ 14
        movl    $0x8000, 0x1000         # PRD 0: 512 bytes at 0x8000
        movl    $512, 0x1004
        movl    $0x9000, 0x1008         # PRD 1: 512 bytes at 0x9000, end of table
        movl    $0x80000200, 0x100c
        mov     $0xc004, %dx            # the table's address
        mov     $0x1000, %eax
        out     %eax, %dx
        mov     $0xc002, %dx            # clear INT and error
        mov     $0x06, %al
        out     %al, %dx
        sti
        mov     $0x1f6, %dx             # READ DMA, LBA 1, 2 sectors
        mov     $0xe0, %al
        out     %al, %dx
        mov     $0x1f2, %dx
        mov     $2, %al
        out     %al, %dx
        mov     $0x1f3, %dx
        mov     $1, %al
        out     %al, %dx
        xor     %al, %al
        mov     $0x1f4, %dx
        out     %al, %dx
        mov     $0x1f5, %dx
        out     %al, %dx
        mov     $0x1f7, %dx
        mov     $0xc8, %al
        out     %al, %dx
        mov     $0xc000, %dx            # START, to memory
        mov     $0x09, %al
        out     %al, %dx
wait:
        cli
        cmpw    $1, 0x3000
        jae     done
        sti
        hlt
        jmp     wait
done:
        mov     $0xc000, %dx            # stop the engine
        xor     %al, %al
        out     %al, %dx
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt

handler:
        push    %ax
        push    %dx
        incw    0x3000
        mov     $0xc002, %dx
        in      %dx, %al
        mov     %al, 0x3003
        mov     $0x1f7, %dx
        in      %dx, %al
        mov     %al, 0x3002
        mov     $0x20, %al
        out     %al, $0xa0
        out     %al, $0x20
        pop     %dx
        pop     %ax
        iret
