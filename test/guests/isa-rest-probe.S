# A boot disk that reads and writes the pc's ISA and ACPI registers (the
# i8257s, the drive-less floppy controller, ioportF0, vmport, the PCI and
# CPU hotplug blocks) and prints every value read on the debugcon (0x402),
# in hex: run under QEMU 7.2 it gave test/fixtures/qemu-pc/isa-rest/probe.txt.
# Sector 1 loads the rest (INT 13h) and runs the probe table, then the
# vmport calls, with interrupts off; the output ends with "DONE".
        .code16
        .set    BASE, 0x7c00
        .set    CON, 0x402
        # table ops: 4 bytes each (op, port, value)
        .set    OP_END, 0
        .set    OP_INB, 1       # value: AND mask (0 = 0xff)
        .set    OP_INW, 2
        .set    OP_INL, 3
        .set    OP_OUTB, 4
        .set    OP_OUTW, 5
        .set    OP_OUTL, 6      # writes value zero-extended
        .set    OP_NL, 7
        .macro  INB port, mask=0
        .byte   OP_INB
        .word   \port, \mask
        .endm
        .macro  INW port
        .byte   OP_INW
        .word   \port, 0
        .endm
        .macro  INL port
        .byte   OP_INL
        .word   \port, 0
        .endm
        .macro  OUTB port, val
        .byte   OP_OUTB
        .word   \port, \val
        .endm
        .macro  OUTW port, val
        .byte   OP_OUTW
        .word   \port, \val
        .endm
        .macro  OUTL port, val
        .byte   OP_OUTL
        .word   \port, \val
        .endm
        .macro  NL
        .byte   OP_NL
        .word   0, 0
        .endm

start:  cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $BASE, %sp
        mov     $0x0208, %ax            # read 8 sectors
        mov     $0x0002, %cx            # cylinder 0, sector 2
        xor     %dh, %dh                # head 0, dl: the boot drive
        mov     $BASE + 512, %bx
        int     $0x13
        cli
        mov     $msg_probe + BASE, %si
        call    puts
        mov     $table + BASE, %si
        jmp     run

# prints the NUL-terminated string at %si
puts:   mov     $CON, %dx
1:      lodsb
        test    %al, %al
        jz      2f
        out     %al, %dx
        jmp     1b
2:      ret

# prints the low %cx nibbles of %ebx in hex, then a space
hex:    push    %dx
        mov     $CON, %dx
        mov     %cx, %ax
        shl     $2, %cx
        ror     %cl, %ebx               # the first nibble to print on top
        mov     %ax, %cx
1:      rol     $4, %ebx
        mov     %bl, %al
        and     $0x0f, %al
        add     $'0', %al
        cmp     $'9', %al
        jbe     2f
        add     $'a' - '9' - 1, %al
2:      out     %al, %dx
        loop    1b
        mov     $' ', %al
        out     %al, %dx
        pop     %dx
        ret

        .org    510
        .word   0xaa55

run:    lodsb                           # op
        mov     %al, %bl
        lodsw
        mov     %ax, %dx                # port
        lodsw
        mov     %ax, %di                # value
        cmp     $OP_END, %bl
        je      vmport
        cmp     $OP_INB, %bl
        jne     1f
        in      %dx, %al
        test    %di, %di
        jz      0f
        and     %di, %ax
0:      movzbl  %al, %ebx
        mov     $2, %cx
        call    hex
        jmp     run
1:      cmp     $OP_INW, %bl
        jne     1f
        in      %dx, %ax
        movzwl  %ax, %ebx
        mov     $4, %cx
        call    hex
        jmp     run
1:      cmp     $OP_INL, %bl
        jne     1f
        in      %dx, %eax
        mov     %eax, %ebx
        mov     $8, %cx
        call    hex
        jmp     run
1:      mov     %di, %ax
        cmp     $OP_OUTB, %bl
        jne     1f
        out     %al, %dx
        jmp     run
1:      cmp     $OP_OUTW, %bl
        jne     1f
        out     %ax, %dx
        jmp     run
1:      cmp     $OP_OUTL, %bl
        jne     1f
        movzwl  %ax, %eax
        out     %eax, %dx
        jmp     run
1:      mov     $CON, %dx               # OP_NL
        mov     $'\n', %al
        out     %al, %dx
        jmp     run

        # one backdoor call: EAX, ECX as given, EBX 0x12345678; prints EAX EBX ECX after it
        .macro  VMCALL magic, cmd, insn
        mov     $\magic, %eax
        mov     $\cmd, %ecx
        mov     $0x12345678, %ebx
        mov     $0x5658, %dx
        \insn
        call    regs
        .endm
vmport: VMCALL  0x564d5868, 0x0a, "in %dx, %eax"    # GETVERSION
        VMCALL  0x564d5868, 0x14, "in %dx, %eax"    # GETRAMSIZE
        VMCALL  0x564d5868, 0x13, "in %dx, %eax"    # GETBIOSUUID: 0 without -uuid
        VMCALL  0x11111111, 0x0a, "in %dx, %eax"    # wrong magic
        VMCALL  0x564d5868, 0x05, "in %dx, %eax"    # a command vmport.c does not have
        VMCALL  0x564d5868, 0x10a, "in %dx, %eax"   # only CL is the command
        VMCALL  0x564d5868, 0x0a, "in %dx, %al"     # byte read: EAX is set whole
        VMCALL  0x564d5868, 0x0a, "in %dx, %ax"
        VMCALL  0x564d5868, 0x14, "out %eax, %dx"   # a write runs the command too
        VMCALL  0x564d5868, 0x0a, "out %al, %dx"
        mov     $msg_done + BASE, %si
        call    puts
halt:   hlt
        jmp     halt

regs:   push    %ecx
        push    %ebx
        mov     %eax, %ebx
        mov     $8, %cx
        call    hex
        pop     %ebx
        mov     $8, %cx
        call    hex
        pop     %ebx
        mov     $8, %cx
        call    hex
        mov     $CON, %dx
        mov     $'\n', %al
        out     %al, %dx
        ret

msg_probe: .asciz "PROBE\n"
msg_done:  .asciz "DONE\n"

table:
        # i8257 #1: what SeaBIOS left, then address/count through the flip-flop
        INB 0x08; INB 0x09; INB 0x0a; INB 0x0f; NL
        OUTB 0x0c, 0; OUTB 0x04, 0x34; OUTB 0x04, 0x12; OUTB 0x05, 0x78; OUTB 0x05, 0x56
        INB 0x04; INB 0x04; INB 0x05; INB 0x05; NL
        OUTB 0x06, 0xcd; INB 0x06; INB 0x06; INB 0x07; INB 0x07; NL        # low byte only: the channel did not restart
        OUTB 0x06, 0xab; INB 0x06; INB 0x06; INB 0x07; INB 0x07; NL
        OUTB 0x0b, 0x66; INB 0x06; INB 0x06; NL                             # decrement mode, count 0
        OUTB 0x0a, 0x06; INB 0x09; OUTB 0x0a, 0x02; INB 0x09; OUTB 0x0f, 0x0a; INB 0x09; NL
        OUTB 0x09, 0x06; INB 0x08; INB 0x08; OUTB 0x09, 0x02; INB 0x08; NL  # software request bits
        OUTB 0x08, 0x04; OUTB 0x08, 0x01; INB 0x08; INB 0x0b; NL
        OUTB 0x0d, 0; INB 0x09; INB 0x08; INB 0x04; INB 0x04; NL            # master clear: registers stay
        OUTB 0x0e, 0; INB 0x09; INW 0x04; INL 0x04; NL
        OUTB 0x0c, 0; OUTW 0x02, 0x2211; INW 0x02; NL
        # page registers
        OUTB 0x81, 0x11; OUTB 0x82, 0x22; OUTB 0x83, 0x33; OUTB 0x87, 0x44
        OUTB 0x89, 0x55; OUTB 0x8a, 0x66; OUTB 0x8b, 0x77; OUTB 0x8f, 0x88
        INB 0x81; INB 0x82; INB 0x83; INB 0x84; INB 0x87; INB 0x89; INB 0x8a; INB 0x8b; INB 0x8f; NL
        INW 0x81; INW 0x83; INL 0x81; INW 0x8f; OUTW 0x82, 0x9988; INB 0x82; INB 0x83; OUTL 0x81, 0xeeee; INB 0x81; NL
        # i8257 #2 (ports two apart)
        INB 0xd0; INB 0xd2; INB 0xd3; NL
        OUTB 0xd8, 0; OUTB 0xc4, 0x34; OUTB 0xc4, 0x12; INB 0xc4; INB 0xc5; OUTB 0xc6, 0xff; OUTB 0xc7, 0x0f; INB 0xc6; INB 0xc6; NL
        OUTB 0xd4, 0x05; INB 0xd2; OUTB 0xdc, 0; INB 0xd2; OUTB 0xde, 0x0e; INB 0xd2; OUTB 0xda, 0; INB 0xd2; NL
        OUTB 0xd2, 0x07; INB 0xd0; INB 0xd0; NL
        # isa-fdc: power-on registers
        INB 0x3f1; INB 0x3f2; INB 0x3f3; INB 0x3f4; INB 0x3f5; INB 0x3f7; INB 0x3f0; INB 0x3f6; INW 0x3f1; INL 0x3f1; NL
        # reset through the DOR: IRQ 6 (the PIC's IRR bit 6), then four SENSE INTERRUPT STATUS
        OUTB 0x20, 0x0a; INB 0x20, 0x40
        OUTB 0x3f2, 0x08; INB 0x3f2; OUTB 0x3f2, 0x3d; INB 0x3f1; INB 0x3f2; INB 0x3f4; INB 0x20, 0x40; NL
        OUTB 0x3f5, 0x08; INB 0x3f4; INB 0x3f5; INB 0x3f5; INB 0x3f4
        OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5; OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5
        OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5; OUTB 0x3f5, 0x08; INB 0x3f4; INB 0x3f5; INB 0x3f4; INB 0x3f5; NL
        # a read of the MSR leaves reset
        OUTB 0x3f2, 0x08; INB 0x3f4; INB 0x3f2; OUTB 0x3f5, 0x10; INB 0x3f4; INB 0x3f5; INB 0x3f4; NL
        # VERSION, PART ID, LOCK, unknown, SENSE DRIVE STATUS, POWERDOWN MODE (2 parameters)
        OUTB 0x3f5, 0x10; INB 0x3f5; OUTB 0x3f5, 0x18; INB 0x3f5; OUTB 0x3f5, 0x94; INB 0x3f5; OUTB 0x3f5, 0x14; INB 0x3f5
        OUTB 0x3f5, 0x00; INB 0x3f5; OUTB 0x3f5, 0x04; INB 0x3f4; OUTB 0x3f5, 0x05; INB 0x3f4; INB 0x3f5
        OUTB 0x3f5, 0x17; OUTB 0x3f5, 0x05; INB 0x3f4; OUTB 0x3f5, 0x33; INB 0x3f4; INB 0x3f5; NL
        # RECALIBRATE / SEEK / RELATIVE SEEK and their interrupt
        OUTB 0x3f5, 0x07; OUTB 0x3f5, 0x01; INB 0x3f4; INB 0x3f2; OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5
        OUTB 0x3f5, 0x0f; OUTB 0x3f5, 0x04; OUTB 0x3f5, 0x05; OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5
        OUTB 0x3f5, 0x8f; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x03; OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5
        OUTB 0x3f5, 0x08; INB 0x3f5; NL
        # SPECIFY, CONFIGURE, PERPENDICULAR MODE, then DUMPREG
        OUTB 0x3f5, 0x03; OUTB 0x3f5, 0xdf; OUTB 0x3f5, 0x03; INB 0x3f2
        OUTB 0x3f5, 0x13; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x57; OUTB 0x3f5, 0x10
        OUTB 0x3f5, 0x12; OUTB 0x3f5, 0x83
        OUTB 0x3f5, 0x0e; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f4; NL
        # READ and VERIFY without a medium: abnormal termination, 7 result bytes, IRQ
        OUTB 0x3f5, 0x46; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x01
        OUTB 0x3f5, 0x02; OUTB 0x3f5, 0x12; OUTB 0x3f5, 0x1b; OUTB 0x3f5, 0xff; INB 0x3f4
        INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f4; NL
        OUTB 0x3f5, 0x16; OUTB 0x3f5, 0x05; OUTB 0x3f5, 0x02; OUTB 0x3f5, 0x01; OUTB 0x3f5, 0x00
        OUTB 0x3f5, 0x02; OUTB 0x3f5, 0x12; OUTB 0x3f5, 0x1b; OUTB 0x3f5, 0xff
        INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; NL
        OUTB 0x3f5, 0xe6; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x00; OUTB 0x3f5, 0x00
        OUTB 0x3f5, 0x02; OUTB 0x3f5, 0x12; OUTB 0x3f5, 0x1b; OUTB 0x3f5, 0xff
        INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; INB 0x3f5; NL
        # DSR, CCR, TDR, DIR; a soft reset through the DSR; word accesses
        OUTB 0x3f3, 0xff; INB 0x3f3; OUTB 0x3f7, 0x03; INB 0x3f7; OUTB 0x3f4, 0x80; INB 0x3f2; INB 0x3f4
        OUTB 0x3f5, 0x08; INB 0x3f5; INB 0x3f5; OUTW 0x3f4, 0x1000; INW 0x3f4; INB 0x3f4; NL
        # ioportF0
        INB 0xf0; INW 0xf0; OUTB 0xf0, 0; INB 0xf0; NL
        # acpi-pci-hotplug: dword registers; others read 0; a select beyond 255
        INL 0xae00; INL 0xae04; INL 0xae08; INL 0xae0c; INL 0xae10; INL 0xae14; INB 0xae0c; INW 0xae0c; NL
        OUTL 0xae10, 5; INL 0xae10; INL 0xae0c; OUTL 0xae10, 0x1000; INL 0xae10; INL 0xae0c; OUTB 0xae10, 0; INL 0xae10; NL
        OUTL 0xae10, 0; OUTL 0xae08, 0xffff; OUTL 0xae14, 0x0004; INL 0xae14; INL 0xae0c; NL
        # acpi-cpu-hotplug: bytes; wider reads are byte reads put together
        INB 0xaf00; INB 0xaf01; INB 0xaf1f; INW 0xaf00; INL 0xaf00; OUTB 0xaf00, 0x55; INB 0xaf00; INB 0xaf20; NL
        .byte OP_END
        .word 0, 0
        .org    8 * 512 + 512, 0
