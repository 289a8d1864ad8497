# 64-bit guest for the memory-hook tests (loaded at 0x100000 on 'tiny', long
# mode).  It runs the same access sequence (body) twice on the page at
# 0x200000: first in ring 0, then (after a hlt) in ring 3, where it ends with
# ud2: no IDT, so #UD (vector 6) at `fault` cannot be delivered.  The test
# hooks part of that page.
# The last 13 quads of the image are the offsets of the accessing
# instructions, in body order, and of `fault`, so the test knows the RIPs.
        .code64
        .equ    W, 0x200000
_start:
        mov     $W, %rbx
        call    body
        hlt
        # ring 3: the user bit on the page-table entries of the first 6 MiB
        # (PML4[0], PDPT[0], PD[0..2] of the identity map at 0x1000), a GDT
        # with ring-3 segments, and iretq
        orq     $4, 0x1000
        orq     $4, 0x2000
        orq     $4, 0x3000
        orq     $4, 0x3008
        orq     $4, 0x3010
        mov     %cr3, %rax
        mov     %rax, %cr3
        lgdt    gdtr(%rip)
        mov     %rsp, %rax
        pushq   $0x23                   # ss: user data
        pushq   %rax                    # rsp
        pushq   $0x2                    # rflags
        pushq   $0x1b                   # cs: user code
        lea     user(%rip), %rax
        pushq   %rax
        iretq
user:
        call    body
fault:  ud2

# The accesses; %rbx = W.  The hooked bytes are W+0x100..W+0x10f.
body:
a0:     movl    $0x11223344, 0x100(%rbx)        # 4-byte write
a1:     mov     0x100(%rbx), %eax               # 4-byte read
        movabs  $0x8877665544332211, %rcx
a2:     mov     %rcx, 0x108(%rbx)               # 8-byte write
a3:     addl    $1, 0x100(%rbx)                 # read-modify-write
a4:     mov     0x200(%rbx), %r8d               # unhooked byte of the hooked page
a5:     movl    $0x55667788, 0x204(%rbx)        # unhooked write, same page
        lea     0x10c(%rbx), %rdi
        mov     $0xab, %al
        mov     $4, %ecx
        cld
a6:     rep stosb                               # 4 one-byte writes
        lea     0x300(%rbx), %rsi
        lea     0x104(%rbx), %rdi
        mov     $2, %ecx
a7:     rep movsw                               # 2 reads (unhooked) + 2 writes (hooked)
        mov     %rsp, %rbp
        lea     0x110(%rbx), %rsp
a8:     pushq   $0x5a                           # 8-byte write at W+0x108
a9:     popq    %rdx                            # 8-byte read
        mov     %rbp, %rsp
        mov     $0xcafe, %eax
a10:    xchg    %eax, 0x100(%rbx)               # locked read-modify-write
a11:    mov     0x40(%rbx), %edi                # an unhooked byte of the page
        ret

        .p2align 3
gdt:    .quad   0
        .quad   0x00af9a000000ffff              # 0x08 kernel code 64
        .quad   0x00cf92000000ffff              # 0x10 kernel data
        .quad   0x00affa000000ffff              # 0x18 user code 64 (DPL 3)
        .quad   0x00cff2000000ffff              # 0x20 user data (DPL 3)
gdtr:   .word   gdtr - gdt - 1
        .quad   0x100000 + (gdt - _start)
rips:   .quad   a0 - _start, a1 - _start, a2 - _start, a3 - _start, a4 - _start, a5 - _start
        .quad   a6 - _start, a7 - _start, a8 - _start, a9 - _start, a10 - _start, a11 - _start
        .quad   fault - _start
