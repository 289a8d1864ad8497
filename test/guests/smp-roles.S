# Long-mode guest for the SMP machine tests, run on every vCPU of a 'tiny'
# machine. vCPU 0 (CPUID.1 EBX[31:24] = 0) counts in the qword at 0x91000
# forever. Every other vCPU does what the qword at 0x90000 says:
#   0  count in the qword at 0x91040 forever
#   1  write 0x21 to isa-debug-exit (0x501): the run ends, exit code 0x43
#   2  triple fault (an empty IDT, then ud2)
#   3  write to port 0x602 (a device that throws), then start over
#   4  INIT to itself through its local APIC (ICR shorthand "self"), then count
#   5  a start-up IPI (vector 0x10) to vCPU 0, which is running, then 1
# No stack is used.
        .include "vcpu-index.inc"
        .code64
        .globl _start
_start:
        vcpu_index
        test    %ebx, %ebx
        jnz     ap
bsp:
        incq    0x91000
        jmp     bsp
ap:
        mov     0x90000, %rax
        cmp     $1, %rax
        je      debug_exit
        cmp     $2, %rax
        je      triple
        cmp     $3, %rax
        je      throw
        cmp     $4, %rax
        je      init_self
        cmp     $5, %rax
        je      sipi_bsp
count:
        incq    0x91040
        jmp     count
debug_exit:
        mov     $0x501, %dx
        mov     $0x21, %al
        out     %al, %dx
1:
        jmp     1b
triple:
        lidt    empty_idt(%rip)
        ud2
throw:
        mov     $0x602, %dx
        out     %al, %dx
        jmp     ap
init_self:
        mov     $0xfee00300, %esi
        movl    $0, 0x10(%rsi)          # ICR high: no destination (shorthand)
        movl    $0x44500, (%rsi)        # ICR low: self, level assert, INIT
        jmp     count
sipi_bsp:
        mov     $0xfee00300, %esi
        movl    $0, 0x10(%rsi)          # ICR high: APIC ID 0
        movl    $0x4610, (%rsi)         # ICR low: level assert, start-up, vector 0x10
        jmp     debug_exit

        .balign 8
empty_idt:
        .word   0
        .quad   0
