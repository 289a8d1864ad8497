# Long-mode guest for the SMP test of exits that race with the stop of every
# vCPU (test/smp/raced-exits.test.ts), run on both vCPUs of a 'tiny'
# machine, told apart by the initial APIC ID (CPUID.1 EBX[31:24]). vCPU 0
# writes its index to port 0x700, whose callback sets the byte at 0x90000 and
# keeps the JavaScript thread until the slice or the run should have ended;
# vCPU 1 waits for that byte and at once executes hlt (byte 1) or triple
# faults (byte 2: an empty IDT, then ud2), so its exit is queued while every
# vCPU is being stopped. vCPU 0 then halts. A vCPU resumed after its hlt
# (the exit lost) writes its index to port 0x701 and halts again.
        .include "vcpu-index.inc"
        .code64
        .globl _start
_start:
        vcpu_index
        mov     %bl, %al
        mov     $0x700, %dx
        test    %ebx, %ebx
        jnz     1f
        out     %al, %dx
        jmp     2f
1:
        movzbl  0x90000, %ecx
        test    %ecx, %ecx
        jz      1b
        cmp     $2, %ecx
        jne     2f
        lidt    empty_idt(%rip)
        ud2
2:
        hlt
        mov     $0x701, %dx
        mov     %bl, %al
        out     %al, %dx
        hlt
empty_idt:
        .word   0
        .quad   0
