# A multiboot v1 kernel that prints, on COM1, the machine state it is entered
# with and every field of the multiboot information (MBI) it is given, then
# ends the run through isa-debug-exit at 0xf4 (code 0x10 -> exit status 0x21).
# The same image under qemu-system-x86_64 -kernel gives the lines the tests
# compare with (test/fixtures/kernel-boot/).
#
# Built two ways: `as --32 --defsym AOUT=1` and objcopy to a flat image with
# the header's a.out-kludge addresses (loaded at 0x100000), or `as --32` and
# `ld -m elf_i386 -Ttext=0x200000` to an ELF (loaded by its program header).
# Either way the image is 8 KiB (.org below), so where the loader puts the
# modules and strings does not depend on the assembler's code size.
	.code32
	.text
	.globl	start

	.set	MAGIC, 0x1badb002
.ifdef AOUT
	.set	BASE, 0x100000
	.set	FLAGS, 0x00010003		# page align, memory info, a.out kludge
.else
	.set	FLAGS, 0x00000003
.endif
	.set	COM1, 0x3f8

header:
	.long	MAGIC
	.long	FLAGS
	.long	-(MAGIC + FLAGS)
.ifdef AOUT
	.long	BASE + header - header		# header_addr
	.long	BASE				# load_addr
	.long	0				# load_end_addr: the whole file
	.long	BASE + 0x3000			# bss_end_addr: 4 KiB of bss after the file
	.long	BASE + start - header		# entry_addr
	.set	ADDR, BASE			# labels are offsets in the image: add where it loads
.else
	.set	ADDR, 0
.endif

start:
	# the entry state, before anything changes it
	mov	%eax, ADDR + saved_eax
	mov	%ebx, ADDR + saved_ebx
	pushfl
	popl	ADDR + saved_eflags
	mov	$ADDR + stack_top, %esp
	mov	%ebx, %esi			# ESI = the MBI

	mov	$ADDR + s_eax, %edx
	mov	ADDR + saved_eax, %eax
	call	field
	mov	$ADDR + s_ebx, %edx
	mov	ADDR + saved_ebx, %eax
	call	field
	mov	$ADDR + s_eflags, %edx
	mov	ADDR + saved_eflags, %eax
	call	field
	mov	$ADDR + s_cr0, %edx
	mov	%cr0, %eax
	call	field
	mov	$ADDR + s_cs, %edx
	xor	%eax, %eax
	mov	%cs, %ax
	call	field
	mov	$ADDR + s_ds, %edx
	mov	%ds, %ax
	call	field
	mov	$ADDR + s_es, %edx
	mov	%es, %ax
	call	field
	mov	$ADDR + s_ss, %edx
	mov	%ss, %ax
	call	field
	mov	$ADDR + s_fs, %edx
	mov	%fs, %ax
	call	field
	mov	$ADDR + s_gs, %edx
	mov	%gs, %ax
	call	field

	# the MBI's 22 words as they are
	xor	%edi, %edi
1:	mov	$ADDR + s_mbi, %edx
	call	puts
	mov	%edi, %eax
	call	hex32
	mov	$':', %al
	call	putc
	mov	(%esi,%edi,4), %eax
	call	hex32
	call	newline
	inc	%edi
	cmp	$22, %edi
	jb	1b

	mov	$ADDR + s_cmdline, %edx
	call	puts
	mov	16(%esi), %edx
	call	puts
	call	quote_nl
	mov	$ADDR + s_loader, %edx
	call	puts
	mov	64(%esi), %edx
	call	puts
	call	quote_nl

	# modules: start, end, string, the 32-bit sum of their bytes
	mov	24(%esi), %ebx
	mov	20(%esi), %ecx
2:	test	%ecx, %ecx
	jz	4f
	mov	$ADDR + s_mod, %edx
	call	puts
	mov	(%ebx), %eax
	call	hex32
	call	space
	mov	4(%ebx), %eax
	call	hex32
	call	space
	mov	12(%ebx), %eax
	call	hex32
	call	space
	mov	(%ebx), %edi
	mov	4(%ebx), %edx
	call	byte_sum
	call	hex32
	mov	$ADDR + s_quote, %edx
	call	puts
	mov	8(%ebx), %edx
	call	puts
	call	quote_nl
	add	$16, %ebx
	dec	%ecx
	jmp	2b
4:
	# the memory map: the entries mmap_length counts, and one more
	mov	48(%esi), %ebx
	mov	44(%esi), %ecx
	add	$24, %ecx
	add	%ebx, %ecx
6:	cmp	%ecx, %ebx
	jae	7f
	mov	$ADDR + s_mmap, %edx
	call	puts
	mov	$6, %eax
	call	dwords
	add	$24, %ebx
	jmp	6b
7:
	mov	$ADDR + s_done, %edx
	call	puts
	mov	$0x10, %eax
	out	%eax, $0xf4
	hlt

	.include "serial-print32.inc"

s_eax:	.asciz	"eax="
s_ebx:	.asciz	"ebx="
s_eflags: .asciz "eflags="
s_cr0:	.asciz	"cr0="
s_cs:	.asciz	"cs="
s_ds:	.asciz	"ds="
s_es:	.asciz	"es="
s_ss:	.asciz	"ss="
s_fs:	.asciz	"fs="
s_gs:	.asciz	"gs="
s_mbi:	.asciz	"mbi["
s_cmdline: .asciz "cmdline=\""
s_loader: .asciz "loader=\""
s_mod:	.asciz	"module "
s_quote: .asciz	" \""
s_mmap:	.asciz	"mmap "
s_done:	.asciz	"done\n"

	.p2align 2
saved_eax:	.long 0
saved_ebx:	.long 0
saved_eflags:	.long 0
	.org	0x1ff0
stack_top:
	.org	0x2000
