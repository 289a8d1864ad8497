# Real mode, position-independent (runs at 0:0x1000 under test/helpers/raw-guest
# and as a -bios image at 0xf000:0 under QEMU): executes CPUID for each
# (EAX, ECX) pair of the list the caller appends after the code (u32 pairs,
# ended by EAX = 0xffffffff) and writes leaf, subleaf, EAX, EBX, ECX, EDX as
# 24 little-endian bytes to isa-debugcon (0x402); then writes 0 to
# isa-debug-exit (0x501) and halts.
        .code16
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ss
        mov     $0x7000, %sp
        push    %cs
        pop     %ds
        call    1f
1:      pop     %si
        add     $(leaves - 1b), %si     # DS:SI = the list, wherever the code was loaded
next:
        mov     (%si), %eax
        cmp     $0xffffffff, %eax
        je      done
        mov     4(%si), %ecx
        add     $8, %si
        mov     %eax, %ebp              # leaf, subleaf and the four results, in order
        mov     %ecx, %edi
        cpuid
        push    %edx
        push    %ecx
        push    %ebx
        push    %eax
        push    %edi
        push    %ebp
        mov     $0x402, %dx
        mov     $6, %cx
word:
        pop     %eax
        mov     $4, %bl
byte:
        out     %al, %dx
        shr     $8, %eax
        dec     %bl
        jnz     byte
        loop    word
        jmp     next
done:
        mov     $0x501, %dx
        xor     %al, %al
        out     %al, %dx
        hlt
        .balign 4
leaves:
