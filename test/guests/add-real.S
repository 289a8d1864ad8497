# Real-mode guest for the foundation test: computes 2+2, prints the digit on
# the serial port (0x3f8), writes 0x42 to an unmapped address (an MMIO exit),
# and halts. Loaded at 0x1000 with CS=0.
        .code16
        .globl _start
_start:
        mov     $2, %bl
        add     $2, %bl             # bl = 4
        mov     %bl, %al
        add     $'0', %al           # al = '4'
        mov     $0x3f8, %dx
        out     %al, (%dx)
        mov     $0xf000, %cx
        mov     %cx, %es
        movb    $0x42, %es:0        # 0xf0000: nothing is mapped there
        hlt
