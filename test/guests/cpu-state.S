# Long mode: rdmsr 0x174 (SYSENTER_CS) into r12, cpuid leaf 0 (registers
# left for the host), then hlt. (No x87 instructions: KVM's emulator, which
# runs ring-0 code on this host, lacks fldcw.)
        .code64
        mov     $0x174, %ecx
        rdmsr
        mov     %eax, %r12d
        xor     %eax, %eax
        xor     %ecx, %ecx
        cpuid
        hlt
