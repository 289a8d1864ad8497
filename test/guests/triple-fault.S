# Long mode: load an empty IDT, then execute ud2. #UD cannot be delivered
# (#GP), neither can #DF: the CPU shuts down (triple fault).
        .code64
        lidt    idt_empty(%rip)
        ud2
        hlt
idt_empty:
        .word   0
        .quad   0
