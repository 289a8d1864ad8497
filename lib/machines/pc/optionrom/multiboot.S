# multiboot.bin: the option ROM that boots a multiboot v1 kernel on the pc
# machine, node-kvm's own, doing what QEMU's pc-bios/optionrom/multiboot.S
# does for the guest. The board adds it as the fw_cfg file
# genroms/multiboot.bin (first in `bootorder`); SeaBIOS copies it to the
# option ROM area, calls its init vector and boots its PnP BEV, in real mode.
#
# What the loader (lib/machines/pc/multiboot.ts) prepared in fw_cfg:
#   INITRD_ADDR/SIZE/DATA  the multiboot information (MBI), below 64 KiB
#   KERNEL_ADDR/SIZE/DATA  the kernel image, its modules and their strings
#   KERNEL_ENTRY           the entry point
# What this ROM adds from the BIOS, as QEMU's does: mem_lower (INT 12h),
# mem_upper and the memory map (INT 15h E820) at the MBI's mmap_addr.
# Then it enters 32-bit flat protected mode (CR0 = PE only) and jumps to
# the kernel with EAX = 0x2BADB002 and EBX = the MBI, interrupts off.
#
# Build: node scripts/build-optionrom.js (as --32, objcopy, checksum) writes
# multiboot-rom.ts, the bytes the library uses (a test checks they match).

	.code16
	.text

FW_CFG_CTL	= 0x510
FW_CFG_DMA_LO	= 0x518
FW_CFG_DMA_HI	= 0x514
KERNEL_ADDR	= 0x07
KERNEL_SIZE	= 0x08
INITRD_ADDR	= 0x0a
INITRD_SIZE	= 0x0b
KERNEL_ENTRY	= 0x10
KERNEL_DATA	= 0x11
INITRD_DATA	= 0x12
# FWCfgDmaAccess.control for "select KERNEL_DATA, read", as the big-endian
# word the device reads: (KERNEL_DATA << 16) | SELECT (0x08) | READ (0x02)
DMA_CONTROL_BE	= 0x0a001100
# FW_CFG_DMA_CTL_ERROR in that byte order
DMA_ERROR_BE	= 0x01000000
CODE32		= 0x08
DATA32		= 0x10
MBI_MEM_LOWER	= 4
MBI_MEM_UPPER	= 8
MBI_MMAP_LENGTH	= 44
MBI_MMAP_ADDR	= 48
# A multiboot mmap entry: its size (4 bytes) and the 20 bytes of E820.
MMAP_ENTRY	= 24
E820_ENTRY	= 20
E820_BASE	= 0
E820_LENGTH	= 8
E820_TYPE	= 16
E820_RAM	= 1
SMAP		= 0x534d4150
MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002

# EAX = the first 4 bytes of fw_cfg item \key (little-endian), through the
# selector and data ports; clobbers DX. Assembles in 16- and 32-bit code.
	.macro fw_cfg_read32 key
	mov	$\key, %ax
	mov	$FW_CFG_CTL, %dx
	out	%ax, %dx
	inc	%dx
	.rept	4
	in	%dx, %al
	ror	$8, %eax
	.endr
	.endm

rom_start:
	.byte	0x55, 0xaa
	.byte	(rom_end - rom_start) / 512	# size in 512-byte blocks
	# Init vector (offset 3): nothing to set up before boot.
	lret
	.org	0x18
	.word	0				# no PCI data structure
	.word	pnp_header			# the PnP expansion header

# The PnP expansion header: SeaBIOS adds a boot entry for its BEV.
pnp_header:
	.ascii	"$PnP"
	.byte	1				# structure revision
	.byte	(pnp_end - pnp_header) / 16	# length in 16-byte units
	.word	0				# no next header
	.byte	0				# reserved
	.byte	0				# checksum (SeaBIOS does not check it)
	.long	0				# device identifier
	.word	manufacturer
	.word	product
	.byte	0, 0, 0				# device type code
	.byte	0				# device indicators
	.word	0				# boot connection vector
	.word	0				# disconnect vector
	.word	bev				# bootstrap entry vector
	.word	0				# reserved
	.word	0				# static resource information vector
pnp_end:

manufacturer:
	.asciz	"node-kvm"
product:
	.asciz	"multiboot"

bev:
	cli
	cld
	# A 16-byte frame on the stack: the GDT pointer (limit, base) and the
	# far pointer (offset, selector) into 32-bit code. The ROM is read-only
	# by now and runs at a segment SeaBIOS chose, so both are built here
	# from CS.
	sub	$16, %sp
	mov	%sp, %bp
	xor	%ebx, %ebx
	mov	%cs, %bx
	shl	$4, %ebx			# EBX = the ROM's linear address
	movw	$(gdt_end - gdt - 1), (%bp)
	lea	gdt(%ebx), %eax
	mov	%eax, 2(%bp)
	lea	protected_mode(%ebx), %eax
	mov	%eax, 6(%bp)
	movw	$CODE32, 10(%bp)

	# The MBI into place (ES = 0: it is below 64 KiB), with port reads.
	xor	%ax, %ax
	mov	%ax, %es
	fw_cfg_read32 INITRD_SIZE
	mov	%eax, %ecx
	fw_cfg_read32 INITRD_ADDR
	mov	%eax, %esi			# ESI = the MBI
	mov	%eax, %edi
	mov	$INITRD_DATA, %ax
	dec	%dx
	out	%ax, %dx
	inc	%dx
	rep insb

	# mem_lower: the KiB of base memory the BIOS leaves (the EBDA is not).
	int	$0x12
	movzwl	%ax, %eax
	mov	%eax, %es:MBI_MEM_LOWER(%esi)

	# The E820 map as multiboot mmap entries at mmap_addr, mmap_length
	# their bytes; mem_upper the KiB of the RAM entry at 1 MiB (what QEMU's
	# ROM gives: RAM up to where SeaBIOS's high tables begin).
	mov	%es:MBI_MMAP_ADDR(%esi), %edi
	xor	%ebx, %ebx			# continuation: from the first entry
e820_next:
	movl	$E820_ENTRY, %es:(%edi)		# the entry's size field
	add	$4, %edi
	mov	$E820_ENTRY, %ecx
	mov	$SMAP, %edx
	mov	$0xe820, %eax
	int	$0x15
	jc	e820_done
	cmpl	$0x100000, %es:E820_BASE(%edi)
	jne	e820_count
	cmpl	$0, %es:E820_BASE + 4(%edi)
	jne	e820_count
	cmpl	$E820_RAM, %es:E820_TYPE(%edi)
	jne	e820_count
	mov	%es:E820_LENGTH(%edi), %eax
	mov	%es:E820_LENGTH + 4(%edi), %edx
	shrd	$10, %edx, %eax
	mov	%eax, %es:MBI_MEM_UPPER(%esi)
e820_count:
	add	$E820_ENTRY, %edi
	mov	%edi, %eax
	sub	%es:MBI_MMAP_ADDR(%esi), %eax
	mov	%eax, %es:MBI_MMAP_LENGTH(%esi)
	test	%ebx, %ebx			# 0: that was the last entry
	jnz	e820_next
e820_done:

	# 32-bit flat protected mode; the stack stays where it is (ESP = its
	# linear address, for the DMA descriptor below).
	xor	%eax, %eax
	mov	%ss, %ax
	shl	$4, %eax
	movzwl	%sp, %esp
	add	%eax, %esp
	lgdtl	(%bp)
	mov	$1, %eax			# PE and nothing else
	mov	%eax, %cr0
	ljmpl	*6(%bp)

	.code32
protected_mode:
	mov	$DATA32, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %fs
	mov	%eax, %gs
	mov	%eax, %ss

	# The kernel, its modules and their strings in one fw_cfg DMA transfer:
	# a FWCfgDmaAccess { be32 control, be32 length, be64 address } on the
	# stack, its address written to the DMA register (high half first).
	fw_cfg_read32 KERNEL_ADDR
	bswap	%eax
	push	%eax
	push	$0
	fw_cfg_read32 KERNEL_SIZE
	bswap	%eax
	push	%eax
	push	$DMA_CONTROL_BE
	xor	%eax, %eax
	mov	$FW_CFG_DMA_HI, %dx
	out	%eax, %dx
	mov	%esp, %eax
	bswap	%eax
	mov	$FW_CFG_DMA_LO, %dx
	out	%eax, %dx
dma_wait:
	# the device clears control when done (ERROR may stay set)
	testl	$~DMA_ERROR_BE, (%esp)
	jnz	dma_wait
	add	$16, %esp

	fw_cfg_read32 KERNEL_ENTRY
	mov	%eax, %ecx
	fw_cfg_read32 INITRD_ADDR
	mov	%eax, %ebx
	mov	$MULTIBOOT_BOOTLOADER_MAGIC, %eax
	jmp	*%ecx

	.p2align 3
gdt:
	.quad	0				# null
	.quad	0x00cf9b000000ffff		# 0x08: code, base 0, 4 GiB, 32-bit, accessed
	.quad	0x00cf93000000ffff		# 0x10: data, base 0, 4 GiB, accessed
gdt_end:

	# Pad to whole 512-byte blocks; the last byte makes the sum 0 (build-optionrom.js).
	.fill	(512 - (. - rom_start + 1) % 512) % 512, 1, 0
checksum:
	.byte	0
rom_end:
