# Topology fuzz guest (long mode, at 0x100000): performs the accesses listed
# at 0x180000 and stores what each read returned at 0x1c0000.
#   0x180000: u64 count, then entries of 24 bytes:
#             u64 address, u32 size (1/2/4/8), u32 op (0 read, 1 write), u64 value
#   0x1c0000: u64 per entry: the value read (for writes: read back right after)
        .code64
        .globl _start
_start:
        mov     $0x180000, %esi
        mov     (%rsi), %rcx
        add     $8, %rsi
        mov     $0x1c0000, %edi
next:   test    %rcx, %rcx
        jz      done
        mov     (%rsi), %rax            # address
        mov     8(%rsi), %edx           # size
        mov     12(%rsi), %r8d          # op
        mov     16(%rsi), %r9           # value
        test    %r8d, %r8d
        jz      read
        cmp     $1, %edx
        jne     w2
        mov     %r9b, (%rax)
        jmp     read
w2:     cmp     $2, %edx
        jne     w4
        mov     %r9w, (%rax)
        jmp     read
w4:     cmp     $4, %edx
        jne     w8
        mov     %r9d, (%rax)
        jmp     read
w8:     mov     %r9, (%rax)
read:   xor     %ebx, %ebx
        cmp     $1, %edx
        jne     r2
        movzbl  (%rax), %ebx
        jmp     store
r2:     cmp     $2, %edx
        jne     r4
        movzwl  (%rax), %ebx
        jmp     store
r4:     cmp     $4, %edx
        jne     r8
        mov     (%rax), %ebx
        jmp     store
r8:     mov     (%rax), %rbx
store:  mov     %rbx, (%rdi)
        add     $24, %rsi
        add     $8, %rdi
        dec     %rcx
        jmp     next
done:   hlt
