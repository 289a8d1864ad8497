# Long-mode guest for the foundation test: the same as add-real.S in 64-bit
# code. The test maps RAM at 0..2 MiB, sets up paging and jumps to _start.
        .code64
        .globl _start
_start:
        mov     $2, %ebx
        add     $2, %ebx            # rbx = 4
        mov     %ebx, %eax
        add     $'0', %eax          # al = '4'
        mov     $0x3f8, %dx
        out     %al, (%dx)
        movabs  $0x400000, %rcx     # identity-mapped, but no RAM there
        movb    $0x42, (%rcx)
        hlt
