# A PVH kernel (the x86/HVM direct boot ABI) that prints, on COM1, the state
# it is entered with and everything hvm_start_info gives it: its 14 words,
# the command line, each module (address, size, string address, the 32-bit
# sum of its bytes), each memory map entry and the signature at rsdp_paddr.
# Then it ends the run through isa-debug-exit at 0xf4 (code 0x10 -> exit
# status 0x21). The same image under qemu-system-x86_64 -kernel gives the
# lines the tests compare with (test/fixtures/kernel-boot/pvh-*.txt).
#
# Built as an ELF32 (`as --32`, `ld -m elf_i386`) or, like Linux's vmlinux,
# as an ELF64 holding 32-bit code (`as --64 --defsym ELF64=1`,
# `ld -m elf_x86_64`); both linked at 0x200000. The note's descriptor is a
# .long in the ELF32 and a .quad in the ELF64, as Linux writes it.
	.set	COM1, 0x3f8
	.set	ADDR, 0
	.set	XEN_ELFNOTE_PHYS32_ENTRY, 18

	.section .note.Xen, "a", @note
	.p2align 2
	.long	2f - 1f				# namesz
	.long	4f - 3f				# descsz
	.long	XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz	"Xen"
2:	.p2align 2
3:
.ifdef ELF64
	.quad	start
.else
	.long	start
.endif
4:	.p2align 2

	.text
	.code32
	.globl	start
start:
	mov	%ebx, saved_ebx
	pushfl
	popl	saved_eflags
	mov	$stack_top, %esp
	mov	%ebx, %esi			# ESI = hvm_start_info

	mov	$s_ebx, %edx
	mov	saved_ebx, %eax
	call	field
	mov	$s_eflags, %edx
	mov	saved_eflags, %eax
	call	field
	mov	$s_cr0, %edx
	mov	%cr0, %eax
	call	field
	mov	$s_cr4, %edx
	mov	%cr4, %eax
	call	field
	mov	$s_cs, %edx
	xor	%eax, %eax
	mov	%cs, %ax
	call	field
	mov	$s_ds, %edx
	mov	%ds, %ax
	call	field
	mov	$s_es, %edx
	mov	%es, %ax
	call	field
	mov	$s_ss, %edx
	mov	%ss, %ax
	call	field

	# hvm_start_info's 14 words as they are
	xor	%edi, %edi
1:	mov	$s_info, %edx
	call	puts
	mov	%edi, %eax
	call	hex32
	mov	$':', %al
	call	putc
	mov	(%esi,%edi,4), %eax
	call	hex32
	call	newline
	inc	%edi
	cmp	$14, %edi
	jb	1b

	mov	$s_cmdline, %edx
	call	puts
	mov	24(%esi), %edx			# cmdline_paddr (low half)
	test	%edx, %edx
	jz	2f
	call	puts
2:	call	quote_nl

	# modules: paddr, size, cmdline_paddr (low halves), the sum of their bytes
	mov	16(%esi), %ebx			# modlist_paddr
	mov	12(%esi), %ecx			# nr_modules
3:	test	%ecx, %ecx
	jz	6f
	mov	$s_mod, %edx
	call	puts
	mov	(%ebx), %eax
	call	hex32
	call	space
	mov	8(%ebx), %eax
	call	hex32
	call	space
	mov	16(%ebx), %eax
	call	hex32
	call	space
	mov	(%ebx), %edi
	mov	%edi, %edx
	add	8(%ebx), %edx			# EDX = the module's end
	call	byte_sum
	call	hex32
	call	newline
	add	$32, %ebx
	dec	%ecx
	jmp	3b
6:
	# the memory map: each entry's six words
	mov	40(%esi), %ebx			# memmap_paddr
	mov	48(%esi), %ecx			# memmap_entries
7:	test	%ecx, %ecx
	jz	9f
	mov	$s_mmap, %edx
	call	puts
	mov	$6, %eax
	call	dwords
	add	$24, %ebx
	dec	%ecx
	jmp	7b
9:
	# the RSDP's signature ("RSD PTR ") and the RSDT address after its checksum and OEM id
	mov	32(%esi), %ebx			# rsdp_paddr
	test	%ebx, %ebx
	jz	10f
	mov	$s_rsdp, %edx
	call	puts
	mov	(%ebx), %eax
	call	hex32
	call	space
	mov	4(%ebx), %eax
	call	hex32
	call	newline
10:
	mov	$s_done, %edx
	call	puts
	mov	$0x10, %eax
	out	%eax, $0xf4
	hlt

	.include "serial-print32.inc"

s_ebx:	.asciz	"ebx="
s_eflags: .asciz "eflags="
s_cr0:	.asciz	"cr0="
s_cr4:	.asciz	"cr4="
s_cs:	.asciz	"cs="
s_ds:	.asciz	"ds="
s_es:	.asciz	"es="
s_ss:	.asciz	"ss="
s_info:	.asciz	"start_info["
s_cmdline: .asciz "cmdline=\""
s_mod:	.asciz	"module "
s_mmap:	.asciz	"memmap "
s_rsdp:	.asciz	"rsdp "
s_done:	.asciz	"done\n"

	.p2align 2
saved_ebx:	.long 0
saved_eflags:	.long 0
	.org	0x1ff0
stack_top:
	.org	0x2000
