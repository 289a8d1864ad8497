# A minimal kernel in the Linux bzImage format (Documentation/arch/x86/
# boot.rst): a boot sector, one setup sector with a real setup header
# (protocol 2.15) and real-mode setup code, and a protected-mode part that
# the boot loader puts at code32_start (0x100000). Like Linux's setup, the
# real-mode code saves how it was entered, copies the setup header into a
# boot_params of its own (the setup segment + 0x1000), fills its E820 table
# from INT 15h, enters 32-bit protected mode with Linux's boot GDT (CS 0x10,
# DS 0x18) and jumps to code32_start with ESI = boot_params. The 32-bit part
# prints on COM1 the entry state, the setup header's words as the loader left
# them, the command line, the initrd (address, size, the 32-bit sum of its
# bytes) and the E820 table, then ends the run through isa-debug-exit at
# 0xf4 (code 0x10 -> exit status 0x21). The same image under
# qemu-system-x86_64 -kernel gives test/fixtures/kernel-boot/linux-*.txt.
#
# Build: as --32, objcopy -O binary -j .text.
	.set	COM1, 0x3f8
	.set	SMAP, 0x534d4150
	.set	BOOT_PARAMS, 0x1000		# in the setup segment
	.set	E820_ENTRIES, 0x1e8
	.set	E820_TABLE, 0x2d0
	.set	CODE32_START, 0x100000
	.set	ADDR, CODE32_START - 0x400	# labels of the 32-bit part (from pm_start at 0x400): add this
	.text
	.code16

	.org	0x1f1
	.byte	1				# setup_sects
	.word	0				# root_flags
	.long	(image_end - pm_start) / 16	# syssize
	.word	0				# ram_size
	.word	0xffff				# vid_mode: normal
	.word	0				# root_dev
	.word	0xaa55				# boot_flag
	.byte	0xeb, start16 - 0x202		# jump: over the header
	.ascii	"HdrS"
	.word	0x020f				# version
	.long	0				# realmode_swtch
	.word	0				# start_sys_seg
	.word	0				# kernel_version
	.byte	0				# type_of_loader
	.byte	0x01				# loadflags: LOADED_HIGH
	.word	0				# setup_move_size
	.long	CODE32_START			# code32_start
	.long	0				# ramdisk_image
	.long	0				# ramdisk_size
	.long	0				# bootsect_kludge
	.word	0				# heap_end_ptr
	.byte	0				# ext_loader_ver
	.byte	0				# ext_loader_type
	.long	0				# cmd_line_ptr
	.long	0x7fffffff			# initrd_addr_max
	.long	0x200000			# kernel_alignment
	.byte	0				# relocatable_kernel
	.byte	0				# min_alignment
	.word	0				# xloadflags
	.long	2047				# cmdline_size
	.long	0				# hardware_subarch
	.quad	0				# hardware_subarch_data
	.long	0				# payload_offset
	.long	0				# payload_length
	.quad	0				# setup_data
	.quad	CODE32_START			# pref_address
	.long	0x10000				# init_size
	.long	0				# handover_offset
	.long	0				# kernel_info_offset
hdr_end:

# Entered at CS = the setup segment + 0x20, IP = 0; DS is the setup segment,
# so data labels (offsets in the file) address it directly.
start16:
	mov	%eax, saved_eax
	mov	%ebx, saved_ebx
	mov	%ecx, saved_ecx
	mov	%edx, saved_edx
	mov	%edi, saved_edi
	mov	%ebp, saved_ebp
	mov	%esp, saved_esp
	mov	%cs, saved_cs
	mov	%ds, saved_ds
	mov	%es, saved_es
	mov	%fs, saved_fs
	mov	%gs, saved_gs
	mov	%ss, saved_ss
	pushfl
	popl	saved_eflags
	cld
	mov	%ds, %ax
	mov	%ax, %es
	# boot_params.hdr = the setup header
	mov	$0x1f1, %si
	mov	$BOOT_PARAMS + 0x1f1, %di
	mov	$hdr_end - 0x1f1, %cx
	rep movsb
	# boot_params.e820_table from INT 15h E820
	mov	$BOOT_PARAMS + E820_TABLE, %di
	xor	%ebx, %ebx
	xor	%si, %si
1:	mov	$0xe820, %eax
	mov	$20, %ecx
	mov	$SMAP, %edx
	int	$0x15
	jc	2f
	inc	%si
	add	$20, %di
	cmp	$128, %si
	jae	2f
	test	%ebx, %ebx
	jnz	1b
2:	mov	%si, %ax
	mov	%al, BOOT_PARAMS + E820_ENTRIES
	# protected mode, as Linux's setup goes there (go_to_protected_mode)
	cli
	xor	%eax, %eax
	mov	%ds, %ax
	shl	$4, %eax
	lea	gdt(%eax), %edx
	mov	%edx, gdt_ptr + 2
	lea	BOOT_PARAMS(%eax), %esi
	mov	0x214, %edx			# code32_start
	mov	%edx, code32_ptr
	lgdtl	gdt_ptr
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	*code32_ptr

	.p2align 3
gdt:	.quad	0, 0
	.quad	0x00cf9b000000ffff		# 0x10: __BOOT_CS
	.quad	0x00cf93000000ffff		# 0x18: __BOOT_DS
gdt_ptr: .word	4 * 8 - 1
	.long	0
code32_ptr: .long 0
	.word	0x10
	.p2align 2
saved_eax: .long 0
saved_ebx: .long 0
saved_ecx: .long 0
saved_edx: .long 0
saved_edi: .long 0
saved_ebp: .long 0
saved_esp: .long 0
saved_cs: .long 0
saved_ds: .long 0
saved_es: .long 0
saved_fs: .long 0
saved_gs: .long 0
saved_ss: .long 0
saved_eflags: .long 0
saved_end:

	.org	0x400
	.code32
pm_start:
	mov	$0x18, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %fs
	mov	%eax, %gs
	mov	%eax, %ss
	mov	$ADDR + stack_top, %esp
	mov	%esi, %ebp			# EBP = boot_params

	mov	$ADDR + s_esi, %edx
	mov	%esi, %eax
	call	field
	# the real-mode entry state: "entry[<offset>]:<value>" from eax to eflags
	mov	$saved_eax, %edi
1:	mov	$ADDR + s_entry, %edx
	call	puts
	mov	%edi, %eax
	sub	$saved_eax, %eax
	call	hex32
	mov	$':', %al
	call	putc
	mov	-BOOT_PARAMS(%ebp,%edi), %eax	# in the setup segment, below boot_params
	call	hex32
	call	newline
	add	$4, %edi
	cmp	$saved_end, %edi
	jb	1b

	# the setup header as the loader left it, word by word from 0x1f0
	mov	$0x1f0, %edi
2:	mov	$ADDR + s_hdr, %edx
	call	puts
	mov	%edi, %eax
	call	hex32
	mov	$':', %al
	call	putc
	mov	(%ebp,%edi), %eax
	call	hex32
	call	newline
	add	$4, %edi
	cmp	$hdr_end, %edi
	jb	2b

	mov	$ADDR + s_cmdline, %edx
	call	puts
	mov	0x228(%ebp), %edx		# cmd_line_ptr
	call	puts
	call	quote_nl

	mov	$ADDR + s_initrd, %edx
	call	puts
	mov	0x218(%ebp), %edi		# ramdisk_image
	mov	%edi, %eax
	call	hex32
	call	space
	mov	0x21c(%ebp), %ecx		# ramdisk_size
	mov	%ecx, %eax
	call	hex32
	call	space
	lea	(%edi,%ecx), %edx
	call	byte_sum
	call	hex32
	call	newline

	# the E820 table the setup code read
	movzbl	E820_ENTRIES(%ebp), %ecx
	lea	E820_TABLE(%ebp), %ebx
5:	jecxz	7f
	mov	$ADDR + s_e820, %edx
	call	puts
	mov	$5, %eax
	call	dwords
	add	$20, %ebx
	dec	%ecx
	jmp	5b
7:
	mov	$ADDR + s_done, %edx
	call	puts
	mov	$0x10, %eax
	out	%eax, $0xf4
	hlt

	.include "serial-print32.inc"

s_esi:	.asciz	"esi="
s_entry: .asciz	"entry["
s_hdr:	.asciz	"hdr["
s_cmdline: .asciz "cmdline=\""
s_initrd: .asciz "initrd "
s_e820:	.asciz	"e820 "
s_done:	.asciz	"done\n"

	.org	0xff0
stack_top:
	.org	0x1000
image_end:
