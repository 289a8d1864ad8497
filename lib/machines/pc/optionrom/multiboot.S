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

	.include "optionrom.inc"

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

	rom_header multiboot

bev:
	cli
	cld
	pm_frame protected_mode

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
	pm_enter

	.code32
protected_mode:
	pm_data_segments

	# The kernel, its modules and their strings in one fw_cfg DMA transfer.
	fw_cfg_read32 KERNEL_SIZE
	mov	%eax, %ecx
	fw_cfg_read32 KERNEL_ADDR
	fw_cfg_dma KERNEL_DATA, %eax, %ecx

	fw_cfg_read32 KERNEL_ENTRY
	mov	%eax, %ecx
	fw_cfg_read32 INITRD_ADDR
	mov	%eax, %ebx
	mov	$MULTIBOOT_BOOTLOADER_MAGIC, %eax
	jmp	*%ecx

	rom_end
