# Real-mode guest for the listener stress test, loaded at 0x1000 with CS=DS=0.
# Loops reading two RAM words: 0x2000 (low RAM, deep inside the slot that the
# host keeps splitting and merging) and 0xdfff0 (the last bytes before the
# PAM-like window the host toggles).  Both must always read 0x55aa / 0x7ee7.
# Counts iterations in the dword at 0x2008; stops when the word at 0x2002
# becomes non-zero (hlt).  A wrong value is reported with `out` to port 0x10
# (ax = what was read) before halting.
        .code16
        .globl _start
_start:
        mov     $0xd000, %cx
        mov     %cx, %es
loop:
        mov     0x2000, %ax
        cmp     $0x55aa, %ax
        jne     bad
        mov     %es:0xfff0, %ax
        cmp     $0x7ee7, %ax
        jne     bad
        addl    $1, 0x2008
        cmpw    $0, 0x2002
        je      loop
        hlt
bad:
        out     %ax, $0x10
        hlt
