# A 64 KiB -bios image for `info registers` ground truth: from the reset
# vector it enters 32-bit protected mode, loads known values into the general,
# debug and SSE registers and the flags (x87 instructions here stop QEMU 7.2
# with a KVM emulation failure, so the x87 state stays at reset), writes port 0x80 and spins.
# QEMU 7.2 shows its state while it spins (test/fixtures/qemu-hmp/bios-pm32-info_registers.txt);
# node-kvm runs the same bytes at 0xf0000 and stops at the OUT, whose RIP is the spin's.
# Image offsets are offsets in segment 0xf000 (linear 0xf0000 + offset).
        .include "bios-entry.inc"
        .text
start:
        bios_enter_pm32
        movw %ax, %fs
        movw %ax, %gs
        movl %cr4, %eax
        orl $0x00000600, %eax            # OSFXSR, OSXMMEXCPT
        movl %eax, %cr4
        movl $0x00100000, %eax
        movl %eax, %dr0
        movl $0x00200000, %eax
        movl %eax, %dr1
        movdqu 0xf0000 + vec0, %xmm0
        movdqu 0xf0000 + vec1, %xmm1
        movdqu 0xf0000 + vec1, %xmm7
        movl $0x11111111, %eax
        movl $0x22222222, %ebx
        movl $0x33333333, %ecx
        movl $0x44444444, %edx
        movl $0x55555555, %esi
        movl $0x66666666, %edi
        movl $0x77777777, %ebp
        movl $0x00008000, %esp
        cmpl $0x11111112, %eax           # CF, SF, AF set; ZF, OF clear
        std
        outb %al, $0x80
spin:   jmp spin

        .balign 16
vec0:   .quad 0x0123456789abcdef, 0xfedcba9876543210
vec1:   .quad 0x1111111122222222, 0x3333333344444444
        .balign 8
gdt:    .quad 0
        .quad 0x00cf9b000000ffff         # 0x08: flat 32-bit code
        .quad 0x00cf93000000ffff         # 0x10: flat 32-bit data
gdtr:   .word 3 * 8 - 1
        .long 0xf0000 + gdt

        bios_reset_vector
