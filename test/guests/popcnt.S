# Long mode, ring 0: popcnt, which this host's KVM emulator cannot execute.
        .code64
        mov     $0xff, %eax
        popcnt  %eax, %ebx
        hlt
