# A boot sector for the pc machine under SeaBIOS (loaded at 0:0x7c00 with
# DL = the boot drive), as a real one uses the BIOS:
#   INT 10h AH=0Eh   prints lines (with -nographic they reach COM1 through sercon)
#   INT 13h AH=02h   CHS read of sectors 2-3 (LBA 1-2): stage 2, loaded at 0x7e00
#   INT 13h AH=42h   extended (LBA) read of LBA 5-6 into 0x9000
#   INT 15h E820     the memory map, 20-byte entries from 0xa000
#   INT 13h AH=03h   CHS write of sector 8 (LBA 7) from 0xb000 (512 bytes of 0x5a)
#   INT 15h AH=86h   a 100 ms wait before the exit (SeaBIOS's sercon sends its
#                    buffered output from the timer interrupt)
# Results: 0x600 byte = DL at entry, 0x602 word = E820 entry count, 0x604 byte
# = the step that failed (0 = none). Exits through isa-debug-exit (port 0x501):
# 0x10 on success (exit code 0x21), 0x3f on failure (0x7f).
        .code16
        .set    BASE, 0x7c00
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $BASE, %sp
        sti
        mov     %dl, 0x600
        movb    $0, 0x604
        mov     $msg_boot + BASE, %si
        call    print
        movb    $1, 0x604                       # CHS read of stage 2
        mov     $0x0202, %ax                    # AH=02h, AL=2 sectors
        mov     $0x0002, %cx                    # cylinder 0, sector 2
        xor     %dh, %dh                        # head 0
        mov     0x600, %dl
        mov     $0x7e00, %bx
        int     $0x13
        jc      fail
        jmp     stage2

print:  lodsb
        test    %al, %al
        jz      1f
        mov     $0x0e, %ah
        mov     $0x0007, %bx
        int     $0x10
        jmp     print
1:      ret

fail:   mov     $0x3f, %al
        mov     $0x501, %dx
        out     %al, %dx
        hlt
        jmp     fail

msg_boot: .asciz "node-kvm boot sector: running at 0x7c00\r\n"
        .org    510
        .word   0xaa55

# ---- stage 2, sectors 2-3 at 0x7e00
stage2: mov     $msg_stage2 + BASE, %si
        call    print
        movb    $2, 0x604                       # AH=42h read of LBA 5-6
        movw    $0x0010, 0x700                  # DAP: size 16, reserved
        movw    $2, 0x702                       # 2 sectors
        movw    $0x9000, 0x704                  # buffer offset
        movw    $0, 0x706                       # buffer segment
        movl    $5, 0x708                       # LBA low
        movl    $0, 0x70c                       # LBA high
        mov     $0x700, %si
        mov     $0x42, %ah
        mov     0x600, %dl
        int     $0x13
        jc      fail

        movb    $3, 0x604                       # E820
        xor     %ebx, %ebx
        mov     $0xa000, %di
        movw    $0, 0x602
2:      mov     $0xe820, %eax
        mov     $0x534d4150, %edx               # 'SMAP'
        mov     $20, %ecx
        int     $0x15
        jc      3f
        cmp     $0x534d4150, %eax
        jne     fail
        add     $20, %di
        incw    0x602
        test    %ebx, %ebx
        jnz     2b
3:      cmpw    $0, 0x602
        je      fail

        movb    $4, 0x604                       # CHS write of LBA 7
        mov     $0xb000, %di
        mov     $0x5a, %al
        mov     $512, %cx
        rep stosb
        mov     $0x0301, %ax                    # AH=03h, AL=1 sector
        mov     $0x0008, %cx                    # cylinder 0, sector 8
        xor     %dh, %dh
        mov     0x600, %dl
        mov     $0xb000, %bx
        int     $0x13
        jc      fail

        movb    $0, 0x604
        mov     $msg_done + BASE, %si
        call    print
        mov     $0x86, %ah                      # INT 15h AH=86h: wait CX:DX = 100 ms, so that
        mov     $0x0001, %cx                    # sercon's timer sends what it buffered
        mov     $0x86a0, %dx
        int     $0x15
        mov     $0x10, %al
        mov     $0x501, %dx
        out     %al, %dx
        hlt

msg_stage2: .asciz "node-kvm boot sector: stage 2 loaded by INT 13h AH=02h\r\n"
msg_done:   .asciz "node-kvm boot sector: done\r\n"
        .org    1536
