# Real mode (CS:IP = 0:0x7c00), the PIIX functions as a guest drives them:
# routes PIRQC# to ISA IRQ 11 (PIIX3 config 0x62), places the PIIX4 PM block
# at 0x600 and reads its ACPI PM timer twice (dwords at 0x3004 and 0x3008),
# writes the ELCR (0x4d0/0x4d1, which KVM's in-kernel PIC handles), then
# writes 0xcf9 = 0x06 (hard reset request).  The test's reset callback
# asserts the INTA# line of a device in slot 3 (PIRQC#): the guest counts the
# IRQ 11 interrupt (vector 0x73) in the word at 0x3000 and exits through
# debug-exit with 0x10 (code 0x21).
        .include "pc-pic.inc"
        irq_guest_start 0x73, 0xf7     # slave: only IRQ 11
        mov     $0x4d0, %dx             # ELCR (all edge): KVM's in-kernel PIC decodes it
        xor     %al, %al
        out     %al, %dx
        inc     %dx
        out     %al, %dx
        mov     $0xcf8, %dx             # PIIX3 (devfn 8) 0x62 = 11
        mov     $0x80000860, %eax
        out     %eax, %dx
        mov     $0xcfe, %dx
        mov     $11, %al
        out     %al, %dx
        mov     $0xcf8, %dx             # PIIX4 PM (devfn 0x0b) 0x40 = 0x601
        mov     $0x80000b40, %eax
        out     %eax, %dx
        mov     $0xcfc, %dx
        mov     $0x601, %eax
        out     %eax, %dx
        mov     $0xcf8, %dx             # 0x80 = 1: PM block on
        mov     $0x80000b80, %eax
        out     %eax, %dx
        mov     $0xcfc, %dx
        mov     $1, %al
        out     %al, %dx
        mov     $0x608, %dx             # PM timer, twice, 1000 reads apart
        in      %dx, %eax
        mov     %eax, 0x3004
        mov     $1000, %cx
spin:
        in      %dx, %eax
        loop    spin
        mov     %eax, 0x3008
        sti
        mov     $0xcf9, %dx             # reset request: the test raises PIRQC#
        mov     $0x06, %al
        out     %al, %dx
wait:
        cmpw    $1, 0x3000
        jae     done
        hlt
        jmp     wait
done:
        cli
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt
handler:
        push    %ax
        incw    0x3000
        mov     $0x20, %al
        out     %al, $0xa0
        out     %al, $0x20
        pop     %ax
        iret
