# A boot sector that triple-faults: it enters 32-bit protected mode with an
# empty IDT (limit 0), then executes ud2. The #UD cannot be delivered, nor
# the #GP, nor the #DF: the CPU shuts down, which on the pc machine is a
# system reset (QEMU's, unless -no-reboot).
        .code16
        .set    BASE, 0x7c00
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        lgdt    gdt_ptr + BASE
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmp    $0x08, $pm + BASE
        .code32
pm:     mov     $0x10, %ax
        mov     %ax, %ds
        lidt    idt_empty + BASE
        ud2
        hlt
        .p2align 3
gdt:    .quad   0
        .quad   0x00cf9a000000ffff              # 0x08: code, flat, 32-bit
        .quad   0x00cf92000000ffff              # 0x10: data, flat
gdt_ptr:
        .word   3 * 8 - 1
        .long   gdt + BASE
idt_empty:
        .word   0
        .long   0
        .org    510
        .word   0xaa55
