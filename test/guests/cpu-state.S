# Long mode: cpuid leaf 0 (registers left for the host), fnstcw to
# 0x200000, rdmsr 0x174 (SYSENTER_CS) into r12, then hlt.
        .code64
        mov     $0x174, %ecx
        rdmsr
        mov     %eax, %r12d
        mov     $0x200000, %edi
        fnstcw  (%rdi)
        xor     %eax, %eax
        xor     %ecx, %ecx
        cpuid
        hlt
