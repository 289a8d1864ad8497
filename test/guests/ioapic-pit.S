# Flat 32-bit protected mode, loaded at 0x1000 (setupProtectedMode): the pc
# interrupt path through the IOAPIC as an OS takes it. Programs both 8259s as
# a BIOS does (masked but the cascade) and the slave's ELCR (IRQ 10 and 11
# level), which a reset must undo; software-enables the local APIC (SVR,
# spurious vector 0x3f) and masks its LINT0 so that nothing comes through the
# 8259s; programs IOAPIC redirection entry 2 (where the pc routing puts GSI
# 0, the PIT) with vector 0x30, fixed, edge, destination APIC 0, and PIT
# channel 0 as a 1 ms rate generator; counts 3 timer interrupts in the dword
# at 0x3000. Then stores an MSI to 0xfeeff000 (broadcast destination, vector
# 0x31: above the local APIC page, so it reaches kvm-apic-msi) and counts it
# at 0x3004. Exits through debug-exit with 0x10 (code 0x21). Each handler
# sends the local APIC an EOI and goes back to its wait loop with a fresh
# stack instead of iret, which KVM's emulator cannot do in protected mode (on
# hosts where ring-0 code is emulated); the loops re-enable interrupts.
        .include "pc-pic.inc"
        .code32
        .set    BASE, 0x1000
        .set    IDT, 0x2000
        cli
        movl    $0, 0x3000
        movl    $0, 0x3004
        mov     $timer + BASE, %eax
        mov     $IDT + 0x30 * 8, %edi
        call    gate
        mov     $msi + BASE, %eax
        mov     $IDT + 0x31 * 8, %edi
        call    gate
        lidt    idtr + BASE
        pic_init 0xff
        mov     $0x0c, %al              # ELCR 0x4d1: IRQ 10 and 11 level triggered
        mov     $0x4d1, %dx
        out     %al, %dx
        movl    $0x13f, 0xfee000f0      # SVR: APIC on, spurious vector 0x3f
        movl    $0x10000, 0xfee00350    # LVT LINT0 masked: no ExtINT from the PICs
        movl    $0x14, 0xfec00000       # IOREGSEL: redirection entry 2, low dword
        movl    $0x30, 0xfec00010       # vector 0x30, fixed, physical, edge, unmasked
        movl    $0x15, 0xfec00000       # high dword: destination APIC 0
        movl    $0, 0xfec00010
        mov     $0x34, %al              # PIT channel 0: lobyte/hibyte, mode 2
        out     %al, $0x43
        mov     $(1193 & 0xff), %al     # 1193 ticks of 1.193182 MHz: 1 ms
        out     %al, $0x40
        mov     $(1193 >> 8), %al
        out     %al, $0x40
wait_timer:                             # interrupts off here (cli, or the interrupt gate)
        cmpl    $3, 0x3000
        jae     send_msi
        sti                             # sti; hlt: no interrupt slips between check and halt
        hlt
        cli
        jmp     wait_timer
send_msi:
        movl    $0x31, 0xfeeff000       # MSI data: vector 0x31, fixed, edge
wait_msi:
        cmpl    $1, 0x3004
        jae     done
        sti
        hlt
        cli
        jmp     wait_msi
done:
        mov     $0x501, %dx
        mov     $0x10, %al
        out     %al, %dx
        hlt
gate:                                   # 32-bit interrupt gate to %eax at (%edi)
        mov     %ax, (%edi)
        movw    $0x08, 2(%edi)
        movw    $0x8e00, 4(%edi)
        shr     $16, %eax
        mov     %ax, 6(%edi)
        ret
timer:
        incl    0x3000
        movl    $0, 0xfee000b0          # local APIC EOI
        mov     $0x8000, %esp
        jmp     wait_timer
msi:
        incl    0x3004
        movl    $0, 0xfee000b0
        mov     $0x8000, %esp
        jmp     wait_msi
idtr:
        .word   0x40 * 8 - 1
        .long   IDT
