# A 64 KiB -bios image for `info registers` in 64-bit code: from the reset
# vector it builds identity page tables (2 MiB pages, first 1 GiB) in RAM at
# 0x10000, enters long mode, loads known values into RAX..R15, a segment base
# (FS; its WRMSR leaves RCX and RDX), DR0, XMM0/XMM8/XMM15 and the flags,
# writes port 0x80 and spins.
# QEMU 7.2 shows its state while it spins (test/fixtures/qemu-hmp/bios-long-info_registers.txt);
# node-kvm runs the same bytes at 0xf0000 and stops at the OUT, whose RIP is the spin's.
        .include "bios-entry.inc"
        .text
start:
        bios_enter_pm32
        # PML4 at 0x10000 -> PDPT at 0x11000 -> PD at 0x12000 (512 x 2 MiB)
        movl $0x10000, %edi
        xorl %eax, %eax
        movl $(3 * 4096 / 4), %ecx
        rep stosl
        movl $0x11003, 0x10000
        movl $0x12003, 0x11000
        movl $0x12000, %edi
        movl $0x00000083, %eax           # present, writable, 2 MiB
        movl $512, %ecx
1:      movl %eax, (%edi)
        addl $0x200000, %eax
        addl $8, %edi
        loop 1b
        movl $0x10000, %eax
        movl %eax, %cr3
        movl %cr4, %eax
        orl $0x00000620, %eax            # PAE, OSFXSR, OSXMMEXCPT
        movl %eax, %cr4
        movl $0xc0000080, %ecx           # EFER.LME
        rdmsr
        orl $0x00000100, %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80000000, %eax            # PG: long mode active
        movl %eax, %cr0
        ljmp $0x18, $(0xf0000 + lm64)
        .code64
lm64:
        movabsq $0x0123456789abcdef, %rax
        movabsq $0x1111111111111111, %rbx
        movabsq $0x2222222222222222, %rcx
        movabsq $0x3333333333333333, %rdx
        movabsq $0x4444444444444444, %rsi
        movabsq $0x5555555555555555, %rdi
        movabsq $0x6666666666666666, %rbp
        movq $0x80000, %rsp
        movabsq $0x8888888888888888, %r8
        movabsq $0x9999999999999999, %r9
        movabsq $0xaaaaaaaaaaaaaaaa, %r10
        movabsq $0xbbbbbbbbbbbbbbbb, %r11
        movabsq $0xcccccccccccccccc, %r12
        movabsq $0xdddddddddddddddd, %r13
        movabsq $0xeeeeeeeeeeeeeeee, %r14
        movabsq $0xfedcba9876543210, %r15
        movl $0xc0000100, %ecx           # FS.base
        movl $0x00001000, %eax
        movl $0x00007f00, %edx
        wrmsr
        movabsq $0x0123456789abcdef, %rax
        movq %rax, %dr0
        movdqu vec0(%rip), %xmm0
        movdqu vec1(%rip), %xmm8
        movdqu vec1(%rip), %xmm15
        xorl %ecx, %ecx                  # ZF, PF
        outb %al, $0x80
spin:   jmp spin

        .balign 16
vec0:   .quad 0x0123456789abcdef, 0xfedcba9876543210
vec1:   .quad 0x1111111122222222, 0x3333333344444444
        .balign 8
gdt:    .quad 0
        .quad 0x00cf9b000000ffff         # 0x08: flat 32-bit code
        .quad 0x00cf93000000ffff         # 0x10: flat data
        .quad 0x00af9b000000ffff         # 0x18: 64-bit code
gdtr:   .word 4 * 8 - 1
        .long 0xf0000 + gdt

        bios_reset_vector
