# pvh.bin: the option ROM that boots a PVH kernel on the pc machine,
# node-kvm's own, giving the kernel what QEMU 7.2's pc-bios/optionrom/pvh.S
# and pvh_main.c give it, at the same addresses. The board adds it as the
# fw_cfg file genroms/pvh.bin (first in `bootorder`); SeaBIOS runs its PnP
# BEV in real mode.
#
# What the loader (lib/machines/pc/pvh-boot.ts) prepared in fw_cfg:
#   KERNEL_ADDR/SIZE/DATA  the ELF's segments, lowest to highest (QEMU
#                          loads them itself; node-kvm's ROM copies them)
#   KERNEL_ENTRY           XEN_ELFNOTE_PHYS32_ENTRY
#   CMDLINE_SIZE/DATA      -append, NUL-terminated
#   INITRD_ADDR/SIZE/DATA  -initrd, when given
# What this ROM builds, where QEMU's does:
#   0x5a0   the E820 map from INT 15h (a count, then hvm_memmap_table_entry)
#   0x11c0  the command line (4 KiB at most)
#   0x21c0  the initrd's hvm_modlist_entry
#   0x21e0  hvm_start_info version 1, rsdp_paddr the "RSD PTR " SeaBIOS put
#           in 0xe0000-0xfffff (else in the EBDA's first KiB)
# Then, in 32-bit flat protected mode (CR0 = PE only, interrupts off), it
# jumps to the entry with EBX = hvm_start_info.
#
# Build: node scripts/build-optionrom.js (as --32, objcopy, checksum) writes
# pvh-rom.ts, the bytes the library uses (a test checks they match).

	.code16
	.text

	.include "optionrom.inc"

PVH_E820	= 0x5a0
PVH_MEMMAP	= PVH_E820 + 8
CMDLINE_BUF	= 0x11c0
RAMDISK_MOD	= 0x21c0
START_INFO	= 0x21e0
START_INFO_END	= START_INFO + 56
E820_MAXENTRIES	= 128
MEMMAP_ENTRY	= 24
E820_ENTRY	= 20
SMAP		= 0x534d4150
XEN_HVM_START_MAGIC_VALUE = 0x336ec578
# hvm_start_info's fields
SI_MAGIC	= 0
SI_VERSION	= 4
SI_NR_MODULES	= 12
SI_MODLIST	= 16
SI_CMDLINE	= 24
SI_RSDP		= 32
SI_MEMMAP	= 40
SI_MEMMAP_ENTRIES = 48
# the BDA word with the EBDA's segment
BDA_EBDA_SEG	= 0x40e

	rom_header pvh

bev:
	cli
	cld
	pm_frame protected_mode

	# The E820 map, 24 bytes an entry (the reserved word 0), ES = 0.
	xor	%ax, %ax
	mov	%ax, %es
	mov	$PVH_MEMMAP, %edi
	xor	%esi, %esi			# ESI = entries so far
	xor	%ebx, %ebx			# continuation: from the first entry
e820_next:
	movl	$0, %es:E820_ENTRY(%di)
	mov	$E820_ENTRY, %ecx
	mov	$SMAP, %edx
	mov	$0xe820, %eax
	int	$0x15
	jc	e820_done
	inc	%esi
	add	$MEMMAP_ENTRY, %di
	cmp	$E820_MAXENTRIES, %esi
	jae	e820_done
	test	%ebx, %ebx			# 0: that was the last entry
	jnz	e820_next
e820_done:
	mov	%esi, %es:PVH_E820
	movl	$0, %es:PVH_E820 + 4

	pm_enter

	.code32
protected_mode:
	pm_data_segments

	# hvm_start_info and the module entry from zero
	mov	$RAMDISK_MOD, %edi
	mov	$(START_INFO_END - RAMDISK_MOD) / 4, %ecx
	xor	%eax, %eax
	rep stosl
	movl	$XEN_HVM_START_MAGIC_VALUE, START_INFO + SI_MAGIC
	movl	$1, START_INFO + SI_VERSION
	mov	PVH_E820, %eax
	mov	%eax, START_INFO + SI_MEMMAP_ENTRIES
	movl	$PVH_MEMMAP, START_INFO + SI_MEMMAP

	# The RSDP: on a 16-byte boundary in the BIOS area, else in the EBDA's first KiB.
	mov	$0xe0000, %ecx
	mov	$0x100000, %edx
	call	search_rsdp
	jnc	rsdp_found
	movzwl	BDA_EBDA_SEG, %ecx
	shl	$4, %ecx
	jz	rsdp_none
	lea	1024(%ecx), %edx
	call	search_rsdp
	jc	rsdp_none
rsdp_found:
	mov	%ecx, START_INFO + SI_RSDP
rsdp_none:

	# The command line through the data port (QEMU's buffer is 4 KiB; the loader refuses more).
	fw_cfg_read32 CMDLINE_SIZE
	mov	%eax, %ecx
	mov	$CMDLINE_DATA, %ax
	dec	%dx
	out	%ax, %dx
	inc	%dx
	mov	$CMDLINE_BUF, %edi
	rep insb
	movl	$CMDLINE_BUF, START_INFO + SI_CMDLINE

	# The initrd, when there is one: one module.
	fw_cfg_read32 INITRD_SIZE
	test	%eax, %eax
	jz	no_initrd
	mov	%eax, RAMDISK_MOD + 8
	mov	%eax, %ecx
	fw_cfg_read32 INITRD_ADDR
	mov	%eax, RAMDISK_MOD
	fw_cfg_dma INITRD_DATA, %eax, %ecx
	movl	$1, START_INFO + SI_NR_MODULES
	movl	$RAMDISK_MOD, START_INFO + SI_MODLIST
no_initrd:

	# The kernel's segments.
	fw_cfg_read32 KERNEL_SIZE
	mov	%eax, %ecx
	fw_cfg_read32 KERNEL_ADDR
	fw_cfg_dma KERNEL_DATA, %eax, %ecx

	fw_cfg_read32 KERNEL_ENTRY
	mov	%eax, %ecx
	mov	$START_INFO, %ebx
	jmp	*%ecx

# ECX = the first 16-byte-aligned "RSD PTR " in [ECX, EDX), CF clear; CF set if none.
search_rsdp:
	cmpl	$0x20445352, (%ecx)		# "RSD "
	jne	1f
	cmpl	$0x20525450, 4(%ecx)		# "PTR "
	je	2f
1:	add	$16, %ecx
	cmp	%edx, %ecx
	jb	search_rsdp
	stc
	ret
2:	clc
	ret

	rom_end
