# Long-mode guest for the SMP stress test, run on every vCPU of a 'tiny'
# machine (all start here). Each vCPU, told apart by its initial APIC ID
# (CPUID.1 EBX[31:24]), does the number of iterations in the qword at
# 0x90000, each: `out` of its index to port 0x600 (the port device), a byte
# write of its index to 0xd0000000 (the MMIO counter) and a check of the
# dword at 0xe0000, RAM under the alias the host toggles (0x7ee755aa both
# ways), then a spin of the qword at 0x90008 rounds (so that the vCPU is
# inside KVM_RUN, executing from the slot being re-mapped, when another
# vCPU's exit toggles the alias). A wrong value is reported with `out` to
# port 0x604 (eax = the whole dword read) after an `out` of the vCPU's index
# to 0x601; then, or when done, the vCPU halts. A vCPU resumed after that
# final hlt writes its index to 0x602. No stack is used.
        .include "vcpu-index.inc"
        .code64
        .globl _start
_start:
        vcpu_index
        mov     0x90000, %rcx
        mov     $0xd0000000, %esi
        mov     $0x600, %dx
1:
        mov     %bl, %al
        out     %al, %dx
        movb    %bl, (%rsi)
        mov     0xe0000, %eax
        cmp     $0x7ee755aa, %eax
        jne     bad
        mov     0x90008, %r8
2:
        dec     %r8
        jns     2b
        dec     %rcx
        jnz     1b
        hlt
        mov     $0x602, %dx             # (resumed after its final hlt: never)
        mov     %bl, %al
        out     %al, %dx
        hlt
bad:
        mov     %eax, %edi
        mov     $0x601, %dx
        mov     %bl, %al
        out     %al, %dx
        mov     $0x604, %dx
        mov     %edi, %eax
        out     %eax, %dx
        hlt
