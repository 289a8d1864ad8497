# Snapshot test guest (long mode, loaded at 0x100000): increments the 64-bit
# counter at 0x200000, copies it to 0x300000, reports it on port 0x600,
# changes serial state (LCR with DLAB, the divisor, the scratch register) and
# general registers, then halts; resumed after the hlt, it starts over. Run
# from a snapshot, it must always report the snapshot's counter + 1.
        .code64
        .globl _start
_start:
        mov     $0x200000, %edi
        mov     (%rdi), %rax
        inc     %rax
        mov     %rax, (%rdi)            # guest write: page 0x200000
        mov     %rax, 0x100000(%rdi)    # guest write: page 0x300000
        mov     $0x600, %dx
        out     %eax, (%dx)             # report the counter
        mov     $0x3fb, %dx             # LCR: DLAB on
        mov     $0x83, %al
        out     %al, (%dx)
        mov     $0x3f8, %dx             # DLL = counter's low byte
        mov     %cl, %al
        add     $1, %al
        out     %al, (%dx)
        mov     $0x3ff, %dx             # scratch register
        mov     $0x5a, %al
        out     %al, (%dx)
        mov     $0x1234, %ebx
        mov     $0xfeedface, %r12d
        hlt
        jmp     _start
