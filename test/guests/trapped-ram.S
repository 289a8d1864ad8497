# 32-bit protected-mode guest for the trapped-RAM test, loaded at 0x1000.
# 0x200000.. is an alias into RAM at an odd offset (no KVM slot: its accesses
# exit as MMIO and the model serves them); 0x300000.. is an ordinary RAM slot
# that the host disables at the first hlt.
        .code32
        .globl _start
_start:
        mov     0x200010, %eax          # read through the trapped alias
        movl    $0x11223344, 0x200020   # write through it
        mov     0x300000, %ebx          # read the slotted RAM
        movl    $0xcafef00d, 0x300004   # write it (no exit)
        hlt
        mov     0x300000, %ecx          # the region is disabled now: unassigned
        movl    $0x0badf00d, 0x300008
        hlt
