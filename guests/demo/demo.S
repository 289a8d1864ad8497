# The node-kvm demo guest: 64-bit long mode, loaded at 0x100000 by
# `node-kvm demo` (the host has set up paging, GDT and a stack).
# It drives the 16550A like a real driver would (program the divisor and
# line format, poll LSR.THRE before each byte), prints a greeting, then
# ends the run through QEMU's isa-debug-exit port: writing 0x15 to port
# 0x501 makes the exit code (0x15 << 1) | 1 = 43.
# Rebuild demo.bin with ./build.sh after editing.

        .set COM1, 0x3f8
        .set EXIT_PORT, 0x501
        .set EXIT_VALUE, 0x15

        .code64
        .text
        .globl _start
_start:
        mov     $COM1+3, %dx            # LCR: DLAB=1 to reach the divisor latch
        mov     $0x80, %al
        out     %al, %dx
        mov     $COM1+0, %dx            # DLL = 1: 115200 baud
        mov     $0x01, %al
        out     %al, %dx
        mov     $COM1+1, %dx            # DLM = 0
        xor     %al, %al
        out     %al, %dx
        mov     $COM1+3, %dx            # LCR: 8 data bits, no parity, 1 stop bit, DLAB=0
        mov     $0x03, %al
        out     %al, %dx
        mov     $COM1+2, %dx            # FCR: enable and clear the FIFOs
        mov     $0x07, %al
        out     %al, %dx

        lea     greeting(%rip), %rsi    # position independent: works at any load address
next_char:
        lodsb
        test    %al, %al
        jz      done
        mov     %al, %bl
        mov     $COM1+5, %dx            # LSR
wait_thre:
        in      %dx, %al
        test    $0x20, %al              # THRE: the transmitter can take a byte
        jz      wait_thre
        mov     %bl, %al
        mov     $COM1, %dx              # THR
        out     %al, %dx
        jmp     next_char

done:
        mov     $EXIT_PORT, %dx
        mov     $EXIT_VALUE, %al
        out     %al, %dx
        hlt                             # not reached: the debug-exit port ends the run
        jmp     done

greeting:
        .ascii  "Hello from a 64-bit guest on real KVM, driven by node-kvm!\n"
        .asciz  "This text went through a 16550A UART written in TypeScript.\n"
