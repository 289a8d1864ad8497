# Long-mode guest for the gdb tests (test/gdb): linked into an ELF with
# symbols (text at 0x200000, data at 0x300000). main calls bump three
# times, then writes counter to the debug-exit port (exit code
# (counter << 1) | 1 = 7); `spin` loops forever for the Ctrl-C test when
# the test sets %r15 to 1 first.
        .code64
        .text
        .globl _start
_start:
        mov     $0x80000, %rsp
        call    main
        hlt

        .globl main
        .type main, @function
main:
        cmp     $1, %r15
        je      spin
        call    bump
        call    bump
        call    bump
        mov     counter, %eax
        mov     $0x501, %dx
        out     %al, %dx
        ret

        .globl bump
        .type bump, @function
bump:
        mov     counter, %eax
        inc     %eax
        mov     %eax, counter
        ret

        .globl spin
        .type spin, @function
spin:
        incq    spins
        jmp     spin

        .data
        .globl counter
counter: .long 0
        .globl spins
spins:  .quad 0
