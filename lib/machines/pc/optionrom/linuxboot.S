# linuxboot.bin: the option ROM that boots a Linux kernel (bzImage) on the
# pc machine, node-kvm's own, doing for the guest what QEMU 7.2's
# pc-bios/optionrom/linuxboot_dma.c does. The board adds it as the fw_cfg
# file genroms/linuxboot_dma.bin (first in `bootorder`); SeaBIOS runs its
# PnP BEV in real mode. It stays in real mode throughout: fw_cfg DMA
# writes the parts wherever they go.
#
# What the loader (lib/x86/boot-linux.ts, lib/machines/pc/linux-boot.ts)
# prepared in fw_cfg, each part with its address and size:
#   SETUP_*    the real-mode setup, its header filled in (real_addr)
#   INITRD_*   the initrd, when there is one
#   KERNEL_*   the protected-mode kernel (prot_addr)
#   CMDLINE_*  the command line
# Then, as linuxboot_dma.c: DS = ES = FS = GS = SS = real_addr / 16,
# SP = cmdline_addr - real_addr - 16, EBX = ECX = EDX = EDI = EBP = 0,
# AX = CS, and a far return to (real_addr / 16 + 0x20):0, the setup code.
# As linuxboot_dma.c, it moves the initrd when its last page is not the
# page of the header's initrd_addr_max (which QEMU leaves as the kernel gave
# it, so that is the usual case): to the top of the RAM INT 15h E801 reports,
# page aligned, with ramdisk_image updated.
#
# Build: node scripts/build-optionrom.js (as --32, objcopy, checksum) writes
# linuxboot-rom.ts, the bytes the library uses (a test checks they match).

	.code16
	.text

	.include "optionrom.inc"

HDR_VERSION	= 0x206
HDR_RAMDISK_IMAGE = 0x218
HDR_INITRD_MAX	= 0x22c

	rom_header linuxboot

# ECX = fw_cfg item \size's value, EAX = item \addr's; then item \data's
# bytes to that address by DMA (nothing when the size is 0). Leaves EDI =
# the address.
	.macro	load_part addr, size, data
	fw_cfg_read32 \size
	mov	%eax, %ecx
	fw_cfg_read32 \addr
	mov	%eax, %edi
	jecxz	2f
	fw_cfg_dma \data, %eax, %ecx, 1
2:
	.endm

bev:
	cli
	cld
	movzwl	%sp, %esp

	load_part SETUP_ADDR, SETUP_SIZE, SETUP_DATA
	mov	%edi, %esi			# ESI = real_addr
	shr	$4, %edi
	mov	%di, %es
	# a kernel of protocol < 2.03 has no initrd_addr_max: the one boot.rst gives
	cmpw	$0x203, %es:HDR_VERSION
	jae	1f
	movl	$0x37ffffff, %es:HDR_INITRD_MAX
1:
	fw_cfg_read32 INITRD_SIZE
	mov	%eax, %ecx
	fw_cfg_read32 INITRD_ADDR
	mov	%eax, %edi			# EDI = initrd_addr, ECX = initrd_size
	add	%ecx, %eax
	and	$~0xfff, %eax			# the initrd's end page
	jz	initrd_load
	mov	%es:HDR_INITRD_MAX, %edx
	and	$~0xfff, %edx			# initrd_addr_max's page
	jz	initrd_load
	cmp	%edx, %eax
	je	initrd_load
	push	%ecx
	xor	%ecx, %ecx
	mov	$0xe801, %eax
	mov	%ecx, %ebx
	mov	%ecx, %edx
	int	$0x15
	# the sizes are in CX/DX, or if both are 0 in AX/BX
	test	%cx, %cx
	jnz	1f
	test	%dx, %dx
	jnz	1f
	mov	%ebx, %edx
	mov	%eax, %ecx
1:	test	%dx, %dx
	jz	2f
	shl	$16, %edx			# 64 KiB blocks above 16 MiB
	lea	0x1000000(%edx), %eax
	jmp	3f
2:	movzwl	%cx, %ecx			# KiB above 1 MiB
	lea	0x400(%ecx), %eax
	shl	$10, %eax
3:	pop	%ecx
	sub	%ecx, %eax
	and	$~0xfff, %eax
	mov	%eax, %edi
	mov	%eax, %es:HDR_RAMDISK_IMAGE
initrd_load:
	jecxz	1f
	mov	%edi, %eax
	fw_cfg_dma INITRD_DATA, %eax, %ecx, 1
1:
	load_part KERNEL_ADDR, KERNEL_SIZE, KERNEL_DATA
	load_part CMDLINE_ADDR, CMDLINE_SIZE, CMDLINE_DATA

	# EDI = cmdline_addr, ESI = real_addr: into the setup code.
	sub	%esi, %edi
	sub	$16, %edi
	shr	$4, %esi
	mov	%si, %ax
	mov	%ax, %ds
	mov	%ax, %es
	mov	%ax, %fs
	mov	%ax, %gs
	mov	%ax, %ss
	mov	%edi, %esp
	movzwl	%ax, %eax
	add	$0x20, %ax
	push	%ax				# CS
	pushw	$0				# IP
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%edi, %edi
	xor	%ebp, %ebp
	lret

	rom_end
