# Long-mode guest for bench/smp.js, run on every vCPU of a 'tiny' machine:
# each vCPU (told apart by CPUID.1 EBX[31:24], at most 4) builds its own
# identity map of the first 16 MiB with user-accessible 2 MiB pages, loads a
# GDT with ring-3 segments and drops to ring 3 (which this project's hosts
# run natively; ring 0 is emulated there), where it counts forever in the
# qword at 0x91000 + 64 * index. Ring 3 code makes no exits.
        .include "vcpu-index.inc"
        .code64
        .globl _start
_start:
        vcpu_index
        mov     %ebx, %edi              # edi = index
        # page tables at 0xa0000 + index * 0x3000: PML4, PDPT, PD
        imul    $0x3000, %edi, %esi
        add     $0xa0000, %esi
        lea     0x1007(%rsi), %eax
        mov     %rax, (%rsi)            # PML4[0] -> PDPT, present|write|user
        lea     0x2007(%rsi), %eax
        mov     %rax, 0x1000(%rsi)      # PDPT[0] -> PD
        xor     %ecx, %ecx
1:
        mov     %rcx, %rax
        shl     $21, %rax
        or      $0x87, %rax             # 2 MiB page, present|write|user
        mov     %rax, 0x2000(%rsi,%rcx,8)
        inc     %ecx
        cmp     $8, %ecx
        jne     1b
        mov     %rsi, %cr3
        lea     gdt(%rip), %rax
        mov     %rax, gdtr+2(%rip)
        lgdt    gdtr(%rip)
        # iretq to ring 3: SS, RSP (its own stack page), RFLAGS (IF off), CS, RIP
        push    $0x1b
        mov     %edi, %eax
        shl     $12, %eax
        add     $0x99000, %eax
        push    %rax
        push    $2
        push    $0x23
        lea     user(%rip), %rax
        push    %rax
        iretq
user:
        mov     %edi, %esi
        shl     $6, %esi
        add     $0x91000, %esi
2:
        incq    (%rsi)
        jmp     2b

        .balign 8
gdt:
        .quad   0
        .quad   0x00af9a000000ffff      # 0x08 kernel code, 64-bit
        .quad   0x00cf92000000ffff      # 0x10 kernel data
        .quad   0x00cff2000000ffff      # 0x18 user data (0x1b)
        .quad   0x00affa000000ffff      # 0x20 user code, 64-bit (0x23)
gdtr:
        .word   gdtr - gdt - 1
        .quad   0
