# Real-mode guest for the read-only slot test, loaded at 0x1000 with CS=DS=0.
# Phase 1 writes to three read-only places and reads each back:
#   0xf0010 plain ROM        -> al (before), bl (after)
#   0xe0020 ROM device, romd  -> dh (after; the write goes to the device)
#   0xd0010 read-only alias of RAM (PAM "RE") -> dl (after)
# then halts.  Phase 2 (after the host turned romd mode off) reads the ROM
# device again, which now traps to its read callback -> ah, and halts.
        .code16
        .globl _start
_start:
        mov     $0xf000, %si
        mov     %si, %es
        mov     %es:0x10, %al
        movb    $0x99, %es:0x10
        mov     %es:0x10, %bl
        mov     $0xe000, %si
        mov     %si, %es
        movb    $0x77, %es:0x20
        mov     %es:0x20, %dh
        mov     $0xd000, %si
        mov     %si, %es
        movb    $0x66, %es:0x10
        mov     %es:0x10, %dl
        hlt
        mov     $0xe000, %si
        mov     %si, %es
        mov     %es:0x20, %ah
        hlt
