# Real mode (CS:IP = 0:0x7c00): programs both 8259s as a PC BIOS does
# (IRQ 8 = vector 0x70), enables the RTC's periodic interrupt (register B
# PIE, 1024 Hz from register A = 0x26) and halts until its handler has run
# 20 times. The handler counts in the word at 0x3000, acknowledges the RTC by
# reading register C (its last value at 0x3002) and sends EOI to both PICs.
# Exits through debug-exit with 0x10 (code 0x21).
        .include "pc-pic.inc"
        irq_guest_start 0x70, 0xfe     # slave: only IRQ 8
        mov     $0x0c, %al              # clear pending RTC flags
        out     %al, $0x70
        in      $0x71, %al
        mov     $0x0b, %al              # register B = PIE | 24 h
        out     %al, $0x70
        mov     $0x42, %al
        out     %al, $0x71
        sti
wait:
        hlt
        cmpw    $20, 0x3000
        jb      wait
        cli
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt
handler:
        push    %ax
        incw    0x3000
        mov     $0x0c, %al
        out     %al, $0x70
        in      $0x71, %al
        mov     %al, 0x3002
        mov     $0x20, %al
        out     %al, $0xa0
        out     %al, $0x20
        pop     %ax
        iret
